"""Hypothesis strategies for the trust fuzz suite (issue #10): mutated bundled specs, inline
specs, CLI arguments, budgets, ``[tool.netcost]`` configs and baseline documents.

Values lean on the boundaries that broke netcost before: 0, -1, -3, huge (10**9, 10**30),
floats, NaN and infinity, strings, lists, dicts, None, and expressions such as '10**5000'.
"""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path
from typing import Any

import yaml
from hypothesis import strategies as st

from tests.fuzz.support import REPO

SPECS = REPO / "specs"
# small and quick ones first: the ci profile draws mostly from these
SMALL_SPECS = ["lenet5", "resnet18", "alexnet_slide", "mobilenet_v1", "mobilenet_v2", "vgg11", "googlenet"]
ALL_SPECS = sorted(p.stem for p in SPECS.glob("*.yaml"))


def load_bundled(name: str) -> Any:
    return yaml.safe_load((SPECS / f"{name}.yaml").read_text())


_CACHE: dict[str, Any] = {}


def bundled(name: str) -> Any:
    if name not in _CACHE:
        _CACHE[name] = load_bundled(name)
    return copy.deepcopy(_CACHE[name])


OPS = sorted(
    [
        "adaptive_avgpool",
        "add",
        "avgpool",
        "bn",
        "concat",
        "conv",
        "conv_transpose",
        "crop",
        "dropout",
        "flatten",
        "gap",
        "gelu",
        "groupnorm",
        "hardsigmoid",
        "hardswish",
        "identity",
        "layernorm",
        "leaky_relu",
        "linear",
        "lrn",
        "maxpool",
        "mean",
        "mul",
        "rbf",
        "relu",
        "relu6",
        "sigmoid",
        "silu",
        "softmax",
        "sparse_conv",
        "subsample",
        "swish",
        "tanh",
        "upsample",
    ]
)
STRUCTURES = ["parallel", "stage", "repeat", "seq"]
FIELDS = [
    "out",
    "k",
    "stride",
    "pad",
    "dilation",
    "groups",
    "bias",
    "scale",
    "mode",
    "p",
    "h",
    "w",
    "n",
    "block",
    "layers",
    "branches",
    "merge",
    "name",
    "when",
    "else",
    "naming",
    "var",
    "table",
    "affine",
    "size",
    "output_pad",
    "ceil_mode",
    "count_include_pad",
    "slope",
    "crop",
    "args",
    "extends",
    "vars",
    "input",
]

BOUNDARY_INTS = [0, -1, -3, 1, 2, 3, 7, 64, 10**9, 10**30, 2**63, -(10**9)]
BOUNDARY_FLOATS = [0.0, -0.5, 0.5, 1.5, 2.7, 1e-300, 1e308, math.nan, math.inf, -math.inf]
BOUNDARY_STRINGS = [
    "",
    "x",
    "required",
    "same",
    "valid",
    "nearest",
    "bilinear",
    "add",
    "concat",
    "index",
    "kind",
    "10**5000",
    "2**64",
    "-1",
    "1/0",
    "0/0",
    "in_channels",
    "in_channels * 0",
    "out",
    "stride",
    "a b",
    "{x}",
    "\x1b[31mred",
    "torchvision",
    "'pycls'",
    "true",
    "null",
    "9**9**9",
    "[1, 2]",
    "nan",
    "inf",
    "range(10**9)",
    "__import__('os')",
    "k" * 300,
]

scalars = st.one_of(
    st.sampled_from(BOUNDARY_INTS),
    st.integers(min_value=-(10**4), max_value=10**4),
    st.sampled_from(BOUNDARY_FLOATS),
    st.sampled_from(BOUNDARY_STRINGS),
    st.sampled_from(OPS + STRUCTURES),
    st.booleans(),
    st.none(),
)
values = st.one_of(
    scalars,
    st.lists(scalars, max_size=5),
    st.dictionaries(st.sampled_from(FIELDS + OPS), scalars, max_size=3),
)


# --- mutations of bundled specs ------------------------------------------------------------


def _paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    """Every path into a YAML tree (mapping keys and list indices)."""
    out = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            out += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            out += _paths(value, (*prefix, i))
    return out


def _get(node: Any, path: tuple) -> Any:
    for key in path:
        node = node[key]
    return node


def _set(root: Any, path: tuple, value: Any) -> Any:
    if not path:
        return value
    _get(root, path[:-1])[path[-1]] = value
    return root


MUTATIONS = ["replace", "replace", "replace", "delete", "rename", "duplicate", "nest", "insert", "wrap"]


@st.composite
def mutated_spec(draw, names: list[str] | None = None, max_mutations: int = 3) -> tuple[str, str]:
    """(bundled name, YAML text) of a bundled spec with 1..max_mutations random mutations,
    sometimes followed by a textual one (a line deleted or duplicated, a tab, a stray char)."""
    name = draw(st.sampled_from(names or SMALL_SPECS))
    data = bundled(name)
    for _ in range(draw(st.integers(1, max_mutations))):
        paths = _paths(data)
        path = paths[draw(st.integers(0, len(paths) - 1))]
        kind = draw(st.sampled_from(MUTATIONS))
        target = _get(data, path)
        if kind == "replace":
            data = _set(data, path, draw(values))
        elif kind == "delete" and path:
            parent = _get(data, path[:-1])
            del parent[path[-1]]
        elif kind == "rename" and isinstance(target, dict) and target:
            key = draw(st.sampled_from(sorted(map(str, target))))
            new = draw(st.one_of(st.sampled_from(OPS + STRUCTURES + FIELDS), st.sampled_from(BOUNDARY_STRINGS)))
            if key in target and new not in target:
                target[new] = target.pop(key)
        elif kind == "duplicate" and isinstance(target, list) and target:
            i = draw(st.integers(0, len(target) - 1))
            target.insert(i, copy.deepcopy(target[i]))
        elif kind == "nest":
            depth = draw(st.sampled_from([1, 2, 10, 100]))
            wrapped = copy.deepcopy(target)
            for _ in range(depth):
                wrapped = [wrapped]
            data = _set(data, path, wrapped)
        elif kind == "insert" and isinstance(target, dict):
            target[draw(st.sampled_from(FIELDS + OPS))] = draw(values)
        elif kind == "insert" and isinstance(target, list):
            target.insert(draw(st.integers(0, len(target))), draw(layer_items))
        elif kind == "wrap":
            data = _set(data, path, {draw(st.sampled_from(OPS + STRUCTURES)): copy.deepcopy(target)})
    text = yaml.safe_dump(data, sort_keys=False, width=10**6) if isinstance(data, (dict, list)) else repr(data)
    if draw(st.integers(0, 9)) == 0:
        lines = text.splitlines()
        i = draw(st.integers(0, max(0, len(lines) - 1)))
        how = draw(st.sampled_from(["delete", "duplicate", "tab", "char", "truncate"]))
        if lines and how == "delete":
            del lines[i]
        elif lines and how == "duplicate":
            lines.insert(i, lines[i])
        elif lines and how == "tab":
            lines[i] = "\t" + lines[i].lstrip(" ")
        elif lines and how == "char":
            j = draw(st.integers(0, len(lines[i])))
            lines[i] = lines[i][:j] + draw(st.sampled_from(list(":-[]{}&*!|>'\"%@`#,?"))) + lines[i][j:]
        elif how == "truncate":
            lines = lines[:i]
        text = "\n".join(lines) + "\n"
    return name, text


# --- small specs from scratch --------------------------------------------------------------

int_or_pair = st.one_of(
    st.sampled_from([0, -1, 1, 2, 3, 5, 7, 10**6]), st.lists(st.sampled_from([-3, 0, 1, 2, 3]), min_size=1, max_size=4)
)
op_args = {
    "conv": {
        "out": int_or_pair,
        "k": int_or_pair,
        "stride": int_or_pair,
        "pad": st.one_of(int_or_pair, st.just("same")),
        "dilation": int_or_pair,
        "groups": int_or_pair,
        "bias": st.booleans(),
    },
    "conv_transpose": {
        "out": int_or_pair,
        "k": int_or_pair,
        "stride": int_or_pair,
        "pad": int_or_pair,
        "output_pad": int_or_pair,
        "dilation": int_or_pair,
    },
    "maxpool": {
        "k": int_or_pair,
        "stride": int_or_pair,
        "pad": int_or_pair,
        "dilation": int_or_pair,
        "ceil_mode": st.booleans(),
    },
    "avgpool": {"k": int_or_pair, "stride": int_or_pair, "pad": int_or_pair, "ceil_mode": st.booleans()},
    "subsample": {"k": int_or_pair, "stride": int_or_pair},
    "upsample": {
        "scale": st.one_of(int_or_pair, st.sampled_from([1000, 10**5, 0.5])),
        "mode": st.sampled_from(["nearest", "bilinear", "x"]),
    },
    "adaptive_avgpool": {"out": st.one_of(int_or_pair, st.sampled_from([10**4, 10**8]))},
    "gap": {"out": int_or_pair},
    "linear": {"out": int_or_pair},
    "crop": {"h": int_or_pair, "w": int_or_pair},
    "groupnorm": {"groups": int_or_pair},
    "lrn": {"size": int_or_pair},
    "dropout": {"p": st.sampled_from([0, 0.5, 1, 2, -1])},
}


@st.composite
def small_layer(draw) -> Any:
    kind = draw(st.sampled_from([*op_args, "relu", "bn", "flatten", "softmax"]))
    if kind not in op_args:
        return kind
    fields = op_args[kind]
    chosen = draw(st.lists(st.sampled_from(sorted(fields)), unique=True, max_size=len(fields)))
    return {kind: {f: draw(fields[f]) for f in chosen}}


layer_items = st.one_of(
    small_layer(),
    st.builds(
        lambda n, ls: {"repeat": {"n": n, "layers": ls}},
        st.sampled_from([0, -1, 1, 2, 3]),
        st.lists(small_layer(), max_size=3),
    ),
    st.builds(
        lambda merge, bs: {"parallel": {"merge": merge, "branches": bs}},
        st.sampled_from(["add", "concat", "mul", "x"]),
        st.lists(st.lists(small_layer(), max_size=2), max_size=3),
    ),
)


@st.composite
def small_spec(draw) -> str:
    """A short spec of random layers with boundary arguments, as YAML text."""
    c = draw(st.sampled_from([1, 3, 4, 16]))
    hw = draw(st.sampled_from([1, 2, 7, 16, 32]))
    layers = draw(st.lists(layer_items, min_size=1, max_size=5))
    return yaml.safe_dump({"name": "fuzz", "input": [c, hw, hw], "layers": layers}, sort_keys=False, width=10**6)


# --- inline specs and CLI arguments --------------------------------------------------------

INLINE_KEYS = [
    "k",
    "p",
    "s",
    "d",
    "g",
    "out",
    "stride",
    "pad",
    "dilation",
    "groups",
    "bias",
    "scale",
    "mode",
    "bogus",
    "K",
    "x y",
]
inline_values = st.one_of(
    st.sampled_from(
        [
            "0",
            "-1",
            "1",
            "3",
            "64",
            "2.5",
            "1e9",
            "10**30",
            "same",
            "true",
            "[3,3]",
            "[3,3,3]",
            "[-3,3]",
            "{a: 1}",
            "''",
            "x",
            "null",
            "(3)",
            "nan",
        ]
    ),
    st.integers(-5, 300).map(str),
)


@st.composite
def inline_item(draw) -> str:
    op = draw(st.sampled_from([*OPS, "dwsep", "dwsep", "conv", "conv", "bogus"]))
    positional = draw(st.lists(inline_values, max_size=3))
    named = draw(st.lists(st.tuples(st.sampled_from(INLINE_KEYS), inline_values), max_size=3))
    args = [*positional, *(f"{k}={v}" for k, v in named)]
    if not args and draw(st.booleans()):
        return op
    return f"{op}({','.join(args)})"


inline_specs = st.one_of(
    st.lists(inline_item(), min_size=1, max_size=4).map(" > ".join),
    st.text(alphabet="conv(64,k=3)>relu[]{}:=-. 0123456789dwsepa'\"\n", min_size=1, max_size=40).filter(
        lambda s: "(" in s or ">" in s
    ),
)

input_args = st.one_of(
    st.sampled_from(
        [
            "3x16x16",
            "16",
            "3x8x8",
            "1x1x1",
            "16x16",
            "0x8x8",
            "3x0x8",
            "-3",
            "3x8",
            "x",
            "",
            "3x8x8x8",
            "3×8×8",
            "1e3",
            "3x100000x100000",
            "3x16.5x16",
            "abc",
        ]
    ),
)
batch_args = st.sampled_from(["1", "2", "0", "-1", "2.5", "10**9", "1000000000", "x", ""])
dtype_args = st.sampled_from(["fp32", "fp16", "bf16", "int8", "fp64", "bogus", "", "FP32"])
convention_args = st.sampled_from(["netcost", "fvcore", "pycls", "flopcounter", "bogus"])
set_args = st.builds(
    lambda name, value: f"{name}={value}",
    st.sampled_from(["classes", "width", "phi", "depth", "rounding", "dropout", "bogus", "in_channels", "x y"]),
    st.sampled_from(["0", "-5", "1", "10", "0.5", "1e9", "10**30", "abc", "true", "[1]", "", "nan", "inf", "'x'"]),
)


@st.composite
def analyze_options(draw) -> list[str]:
    args: list[str] = []
    if draw(st.booleans()):
        args += ["--input", draw(input_args)]
    if draw(st.integers(0, 3)) == 0:
        args += ["--batch", draw(batch_args)]
    if draw(st.integers(0, 3)) == 0:
        args += ["--dtype", draw(dtype_args)]
    if draw(st.integers(0, 3)) == 0:
        args += ["--convention", draw(convention_args)]
    for item in draw(st.lists(set_args, max_size=2)):
        args += ["--set", item]
    return args


# --- budgets ---------------------------------------------------------------------------------

QUANTITY_NUMBERS = [
    "0",
    "1",
    "4.1",
    "4.099999999",
    "12e6",
    "1.5",
    "0.001",
    "1e400",
    "1e-400",
    "nan",
    "inf",
    "-1",
    "-0",
    ".5",
    "5.",
    "1_000",
    "60000",
    "60001",
    "59999",
    "",
    " ",
    "1e15",
    "9007199254740993",
    "0x10",
    "١",
]
QUANTITY_SUFFIXES = [
    "",
    "K",
    "M",
    "G",
    "T",
    "P",
    "KiB",
    "MiB",
    "GiB",
    "TiB",
    "KB",
    "MB",
    "GB",
    "B",
    "k",
    "m",
    "g",
    "gb",
    "gib",
    "Gib",
    "GIB",
    "kib",
    "x",
    "%",
    " G",
    "G ",
    "Gi",
    "E",
    "EiB",
]
quantities = st.one_of(
    st.builds(lambda n, s: n + s, st.sampled_from(QUANTITY_NUMBERS), st.sampled_from(QUANTITY_SUFFIXES)),
    st.text(alphabet="0123456789.eE+-KMGTiBbkmg %", max_size=8),
)
BUDGET_OPTIONS = [
    "params",
    "buffers",
    "param-bytes",
    "macs",
    "flops",
    "elementwise-flops",
    "activation-bytes",
    "peak-activation-bytes",
    "max-op-io-bytes",
]
percents = st.sampled_from(
    ["5%", "0%", "0", "0.5", "-5%", "100%", "inf", "nan", "-inf", "1e400%", "abc", "", "5%%", " 5 % ", "1e-9%"]
)

SI_SCALE = {"": 1, "K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15}
IEC_SCALE = {"KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "TiB": 2**40}


def canonical_quantity(text: str):
    """What the contract says a budget spelling means: the exact integer of a canonical
    spelling (SI with an optional B, IEC in its canonical case, an integral value), "refuse"
    for what must be refused (NaN, infinity, empty, a negative), or None where the contract
    leaves it open (other cases, fractions of a unit, underscores, huge values...)."""
    import re
    from decimal import Decimal, InvalidOperation

    t = text.strip()
    if not t or re.search(r"nan|inf", t, re.IGNORECASE):
        return "refuse"
    if re.fullmatch(r"-\s*[0-9.]*[1-9][0-9.]*(?:[eE][+-]?[0-9]+)?\s*[A-Za-z]*", t):
        return "refuse"  # a negative budget
    m = re.fullmatch(r"([0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)\s*([A-Za-z]*)", t)
    if not m:
        return None
    number, suffix = m.groups()
    if suffix in SI_SCALE:
        scale = SI_SCALE[suffix]
    elif suffix.endswith("B") and suffix[:-1] in SI_SCALE:
        scale = SI_SCALE[suffix[:-1]]
    elif suffix in IEC_SCALE:
        scale = IEC_SCALE[suffix]
    else:
        return None
    try:
        value = Decimal(number) * scale
    except InvalidOperation:  # pragma: no cover - the pattern is a decimal
        return None
    if value != value.to_integral_value() or value > 10**30:
        return None
    return int(value)


# --- configs and baselines -------------------------------------------------------------------

toml_scalars = st.one_of(
    st.integers(-3, 10**6),
    st.sampled_from([0, 1, 2, 2.7, -1.0, math.nan, math.inf, True, False]),
    st.sampled_from(
        [
            "abc",
            "",
            "no",
            "false",
            "true",
            "fp16",
            "fp32",
            "bogus",
            "netcost",
            "fvcore",
            "adamw",
            "sgd",
            "cpu",
            "cuda",
            "tpu",
            "3x16x16",
            "16",
            "0x1",
            "1M",
            "2G",
            "4.1G",
            "nan",
            "5%",
            "inf",
            "lenet5",
            "resnet18",
            "nosuch",
            "conv(8,k=3)",
            "layer1",
        ]
    ),
)
toml_values = st.one_of(
    toml_scalars,
    st.lists(toml_scalars, max_size=3),
    st.dictionaries(st.sampled_from(["classes", "width", "bogus"]), toml_scalars, max_size=2),
)
MODEL_KEYS = [
    "model",
    "input",
    "set",
    "batch",
    "dtype",
    "convention",
    "allow-partial",
    "train",
    "optimizer",
    "momentum",
    "amp",
    "freeze",
    "train-device",
    "max-params",
    "max-macs",
    "max-param-bytes",
    "max-train-memory-bytes",
    "bogus",
]


def toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return "nan" if math.isnan(v) else ("inf" if v == math.inf else "-inf" if v == -math.inf else repr(v))
    if isinstance(v, int):
        return str(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{json.dumps(k)} = {toml_value(x)}" for k, x in v.items()) + "}"
    raise TypeError(v)


@st.composite
def configs(draw) -> tuple[str, list[dict]]:
    """(TOML text, the model entries) of a random ``[tool.netcost]`` section."""
    lines = ["[tool.netcost]"]
    for key in draw(
        st.lists(
            st.sampled_from(["max-params", "max-macs", "max-increase", "baseline", "bogus"]), unique=True, max_size=2
        )
    ):
        lines.append(f"{json.dumps(key)} = {toml_value(draw(toml_values))}")
    entries = []
    for _ in range(draw(st.integers(0, 2))):
        entry = {"model": draw(st.sampled_from(["lenet5", "resnet18", "conv(8,k=3)"]))}
        if draw(st.integers(0, 4)) == 0:
            entry["model"] = draw(toml_values)
        for key in draw(st.lists(st.sampled_from(MODEL_KEYS), unique=True, max_size=4)):
            entry[key] = draw(toml_values)
        if not any(k.startswith("max-") for k in entry) and draw(st.booleans()):
            entry["max-params"] = "100M"
        entries.append(entry)
        lines.append("[[tool.netcost.models]]")
        lines += [f"{json.dumps(k)} = {toml_value(v)}" for k, v in entry.items()]
    return "\n".join(lines) + "\n", entries


json_scalars = st.one_of(
    st.integers(-(10**6), 10**12),
    st.sampled_from([0, -1, 1.5, math.nan, math.inf, None, True, "60000", "lenet5", "", "params"]),
)
json_docs = st.recursive(
    json_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=3),
        st.dictionaries(
            st.sampled_from(["model", "models", "totals", "results", "metric", "actual", "params", "macs", "x"]),
            children,
            max_size=4,
        ),
    ),
    max_leaves=10,
)


@st.composite
def baselines(draw) -> str:
    """A baseline document as JSON text: structured (an analyze, compare or check document
    with random values) or any JSON."""
    kind = draw(st.sampled_from(["analyze", "compare", "check", "any"]))
    totals = draw(st.dictionaries(st.sampled_from(["params", "macs", "flops", "bogus"]), json_scalars, max_size=3))
    model = draw(st.one_of(st.just("lenet5"), json_scalars))
    if kind == "analyze":
        doc = {"model": model, "totals": totals}
        if draw(st.integers(0, 3)) == 0:
            del doc[draw(st.sampled_from(["model", "totals"]))]
    elif kind == "compare":
        doc = {"models": [{"model": model, "totals": totals}]}
    elif kind == "check":
        doc = {
            "results": [
                {"model": model, "metric": draw(st.sampled_from(["params", "macs", 5])), "actual": draw(json_scalars)}
            ]
        }
    else:
        doc = draw(json_docs)
    return json.dumps(doc, allow_nan=True)


def spec_path(tmp: Path, text: str, name: str = "net.yaml") -> Path:
    path = tmp / name
    path.write_text(text)
    return path
