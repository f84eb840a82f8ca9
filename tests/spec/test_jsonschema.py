"""The JSON Schema carries the field domains and the variable declarations."""

from __future__ import annotations

import pytest

from netcost.spec.jsonschema import spec_schema

jsonschema = pytest.importorskip("jsonschema")


def valid(doc) -> bool:
    return not list(jsonschema.Draft202012Validator(spec_schema()).iter_errors(doc))


def spec(layer, **extra):
    return {"input": [3, 8, 8], "layers": [layer], **extra}


@pytest.mark.parametrize(
    "layer",
    [
        {"conv": {"out": 8, "k": 0}},
        {"conv": {"out": 8, "k": [3, -1]}},
        {"conv": {"out": 0, "k": 3}},
        {"conv": {"out": 8, "k": 3, "pad": -1}},
        {"conv_transpose": {"out": 8, "k": 3, "output_pad": -1}},
        {"upsample": {"scale": 0}},
        {"dropout": {"p": 1.5}},
        {"repeat": {"n": -1, "layers": ["relu"]}},
        {"stage": {"block": "b", "n": 0}},
    ],
)
def test_out_of_domain_values_fail_the_schema(layer):
    assert not valid(spec(layer))


def test_in_domain_values_and_expressions_pass():
    assert valid(spec({"conv": {"out": "8 * width", "k": [1, 7], "pad": 0, "stride": 2}}))
    assert valid(spec({"repeat": {"n": 0, "layers": ["relu"]}}))


def test_variable_declarations():
    assert valid(
        spec("relu", vars={"width": {"default": 1.0, "min": 0.0625}, "mode": {"default": "a", "choices": ["a"]}})
    )
    assert not valid(spec("relu", vars={"width": {"min": 0}}))  # no default
    assert not valid(spec("relu", vars={"width": {"default": 1, "minimum": 0}}))
    assert not valid(spec("relu", vars={"width": {"default": 1, "type": "integer"}}))


def test_the_schema_is_valid_by_its_meta_schema():
    jsonschema.Draft202012Validator.check_schema(spec_schema())


def test_every_bundled_spec_passes_the_schema():
    """The bundled specs, as YAML gives them, are valid documents of the schema."""
    import yaml

    from netcost.zoo import bundled

    validator = jsonschema.Draft202012Validator(spec_schema())
    bad = {}
    for name, path in bundled().items():
        errors = list(validator.iter_errors(yaml.safe_load(path.read_text())))
        if errors:
            bad[name] = errors[0].message
    assert bad == {}
