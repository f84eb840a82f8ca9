"use strict";
// netcost's report page: fold blocks of the layer table by depth, sort siblings by a column,
// show the formulas. It reads only the table's own attributes and loads nothing.
(function () {
  function layerTable(table) {
    const body = table.tBodies[0];
    const rows = Array.from(body.rows);
    const isBlock = (r) => r.classList.contains("block");
    const children = new Map();
    rows.forEach((r) => { if (isBlock(r)) children.set(r.dataset.name, []); });
    const top = [];
    rows.forEach((r) => {
      const parent = r.dataset.parent;
      (parent !== undefined && children.has(parent) ? children.get(parent) : top).push(r);
    });
    const initial = new Map([[null, top.slice()]]);
    children.forEach((list, name) => initial.set(name, list.slice()));
    const kids = (r) => (isBlock(r) ? children.get(r.dataset.name) : []);
    const collapsed = new Set();

    function each(list, visit, hidden) {
      for (const r of list) {
        visit(r, hidden);
        each(kids(r), visit, hidden || (isBlock(r) && collapsed.has(r.dataset.name)));
      }
    }
    function show() {
      const ordered = [];
      each(top, (r, hidden) => {
        r.hidden = hidden;
        ordered.push(r);
        if (isBlock(r)) {
          const button = r.querySelector("button.fold");
          const folded = collapsed.has(r.dataset.name);
          button.textContent = folded ? "\u25B8" : "\u25BE";
          button.setAttribute("aria-expanded", String(!folded));
        }
      }, false);
      body.append(...ordered);
    }
    function foldTo(depth) {
      collapsed.clear();
      rows.forEach((r) => { if (isBlock(r) && depth > 0 && Number(r.dataset.depth) >= depth) collapsed.add(r.dataset.name); });
      show();
    }
    function value(r, col, numeric) {
      const cell = r.cells[col];
      if (!numeric) return cell.textContent;
      const v = cell.dataset.v;
      return v === undefined || v === "" ? -Infinity : Number(v);
    }
    function sortBy(th) {
      const col = Number(th.dataset.col);
      const numeric = th.dataset.numeric === "1";
      const ascending = !th.classList.contains("sorted-asc");
      table.querySelectorAll("th").forEach((h) => h.classList.remove("sorted-asc", "sorted-desc"));
      th.classList.add(ascending ? "sorted-asc" : "sorted-desc");
      const sign = ascending ? 1 : -1;
      const sorted = (list) => list
        .map((r, i) => [r, i])
        .sort(([a, i], [b, j]) => {
          const x = value(a, col, numeric), y = value(b, col, numeric);
          return (x < y ? -sign : x > y ? sign : 0) || i - j;
        })
        .map(([r]) => r);
      top.splice(0, top.length, ...sorted(top));
      children.forEach((list, name) => list.splice(0, list.length, ...sorted(list)));
      show();
    }
    function reset() {
      table.querySelectorAll("th").forEach((h) => h.classList.remove("sorted-asc", "sorted-desc"));
      top.splice(0, top.length, ...initial.get(null));
      children.forEach((list, name) => list.splice(0, list.length, ...initial.get(name)));
      show();
    }
    table.querySelectorAll("thead th").forEach((th) => {
      th.addEventListener("click", () => sortBy(th));
      th.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); sortBy(th); } });
    });
    body.addEventListener("click", (e) => {
      const button = e.target.closest("button.fold");
      if (!button) return;
      const name = button.closest("tr").dataset.name;
      if (collapsed.has(name)) collapsed.delete(name); else collapsed.add(name);
      show();
    });
    const controls = document.querySelector('.controls[data-for="' + table.id + '"]');
    if (controls) {
      controls.querySelectorAll("button[data-depth]").forEach((b) => b.addEventListener("click", () => foldTo(Number(b.dataset.depth))));
      const order = controls.querySelector("button[data-reset]");
      if (order) order.addEventListener("click", reset);
      const formulas = controls.querySelector("input.formulas");
      if (formulas) formulas.addEventListener("change", () => table.classList.toggle("show-formulas", formulas.checked));
    }
    foldTo(Number(table.dataset.fold || 0));
  }
  document.querySelectorAll("table.layers").forEach(layerTable);
  document.documentElement.dataset.ready = "1";
})();
