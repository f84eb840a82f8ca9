"""Every op field's domain, from outside: a random value outside it is refused with the
field's location; a random value inside it gives non-negative numbers (or a located shape
error when the geometry does not fit), never a traceback."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from netcost import ops
from netcost.analysis import analyze_graph
from netcost.errors import SpecError
from netcost.spec.expand import expand
from netcost.spec.fields import PADDING, PAIR, _marker, domain_of, op_fields
from netcost.spec.load import load_yaml
from netcost.spec.schema import parse_spec

# (kind, field, domain) for every numeric field with a declared domain
BOUNDED = [
    (kind, name, annotation)
    for kind, cls in sorted(ops.REGISTRY.items())
    if cls.EXAMPLES and cls.arity[0] == 1
    for name, (annotation, _) in op_fields(cls).items()
    if domain_of(annotation) is not None or _marker(annotation) == PADDING
]


def test_every_numeric_field_declares_a_domain():
    bare = [
        (kind, name)
        for kind, cls in ops.REGISTRY.items()
        for name, (annotation, _) in op_fields(cls).items()
        if annotation in (int, float) or (_marker(annotation) == PAIR and domain_of(annotation) is None)
    ]
    assert bare == []


def run(kind: str, shape, kwargs: dict):
    """Analyse a one-layer spec (the layer on line 3); the Report."""
    text = f"input: {json.dumps(list(shape.dims))}\nlayers:\n  - {kind}: {json.dumps(kwargs)}\n"
    if shape.layout not in ("CHW", "F"):  # tokens, channels-last maps, token ids: say the layout
        given = json.dumps({"shape": list(shape.dims), "layout": shape.layout})
        text = f"input: {given}\nlayers:\n  - {kind}: {json.dumps(kwargs)}\n"
    elif not shape.is_map:  # flat inputs: flatten a C x 1 x 1 map first
        text = f"input: [{shape.dims[0]}, 1, 1]\nlayers:\n  - {kind}: {json.dumps(kwargs)}\n"
        text = text.replace("layers:\n", "layers:\n  - flatten\n", 1).replace("  - flatten\n  - ", "  - flatten\n  - ")
    spec = parse_spec(load_yaml(text, "p.yaml"), "p.yaml", "p")
    return analyze_graph(expand(spec))


NOT_FINITE = st.sampled_from(["1e400", "-1e400", "float('nan')"])  # expressions: inf, -inf, nan


def bad_value(domain, marker):
    if domain is not None and domain.low is None and domain.high is None:
        return NOT_FINITE
    low = 0 if marker == PADDING else domain.low
    below = st.integers(min_value=-(2**40), max_value=int(low) - 1) if low is not None else st.nothing()
    if domain is not None and domain.open_low:
        below = st.floats(max_value=low, allow_nan=False, allow_infinity=False)
    above = st.integers(min_value=int(domain.high) + 1, max_value=2**70) if domain and domain.high else st.nothing()
    if domain is not None and domain.high is not None and domain.high < 10:
        above = st.floats(min_value=domain.high, exclude_min=True, max_value=1e9)
    scalar = below | above
    if marker in (PAIR, PADDING):
        return scalar | st.tuples(scalar, st.integers(1, 3)).map(list) | st.tuples(st.integers(1, 3), scalar).map(list)
    return scalar


@given(data=st.data())
@pytest.mark.parametrize(("kind", "name", "annotation"), BOUNDED, ids=[f"{k}.{n}" for k, n, _ in BOUNDED])
def test_out_of_domain_values_are_refused(kind, name, annotation, data):
    shape, kwargs = ops.REGISTRY[kind].EXAMPLES[0]
    value = data.draw(bad_value(domain_of(annotation), _marker(annotation)))
    with pytest.raises(SpecError) as info:
        run(kind, shape[0], {**kwargs, name: value})
    err = info.value
    assert err.location.line == (4 if shape[0].layout == "F" else 3) and err.location.path.endswith(f".{name}"), err
    assert any(w in err.message for w in ("must be", "too large", "finite", "must not be negative")), err


def good_value(domain, marker):
    if marker == PADDING:
        scalar = st.integers(0, 4)
    elif domain.high is not None and domain.high <= 1:
        scalar = st.floats(domain.low, domain.high)
    elif domain.open_low or domain.low is None:
        scalar = st.floats(min_value=1e-3, max_value=10)
    else:
        scalar = st.integers(int(domain.low), int(domain.low) + 6)
    if marker in (PAIR, PADDING):
        return scalar | st.tuples(scalar, scalar).map(list)
    return scalar


@given(data=st.data())
@pytest.mark.parametrize(("kind", "name", "annotation"), BOUNDED, ids=[f"{k}.{n}" for k, n, _ in BOUNDED])
def test_in_domain_values_give_non_negative_numbers(kind, name, annotation, data):
    shape, kwargs = ops.REGISTRY[kind].EXAMPLES[0]
    value = data.draw(good_value(domain_of(annotation), _marker(annotation)))
    try:
        report = run(kind, shape[0], {**kwargs, name: value})
    except SpecError as exc:  # the geometry may not fit (a kernel larger than the input): located
        assert exc.location is not None and exc.location.line == (4 if shape[0].layout == "F" else 3), exc
        return
    for row in report.rows:
        assert all(d >= 1 for d in row["output_shape"]), row
        for key in ("params", "macs", "flops", "elementwise_flops", "activation_bytes"):
            assert row[key] >= 0, (key, row)
        if row.get("rf_size") is not None:
            assert all(s >= 1 for s in row["rf_size"]), row
