"""Blocks every spec can use without defining them (``dwsep``), written in the spec language
itself; a spec's own block of the same name takes precedence. Inline specs use them too
(``"dwsep(128,k=3)"``): their positional arguments follow the block's ``args`` in order."""

from __future__ import annotations

from functools import cache

SOURCE = "<netcost built-in blocks>"

TEXT = """
dwsep:   # depthwise-separable conv (MobileNet): a depthwise k x k conv, then a pointwise 1x1
  args: {out: required, k: 3, stride: 1, dilation: 1, pad: "dilation * (k // 2)", bias: true}
  layers:
    - conv: {out: in_channels, k: k, stride: stride, dilation: dilation, pad: pad, groups: in_channels, bias: bias}
    - conv: {out: out, k: 1, bias: bias}
"""

DESCRIPTIONS = {
    "dwsep": "Depthwise-separable convolution (MobileNet): a depthwise k x k conv (groups = input "
    "channels), then a pointwise 1x1 conv to `out` channels; the pad keeps the size for odd k.",
}


@cache
def blocks() -> dict:
    """name -> BlockDef, parsed once."""
    from netcost.spec.load import load_yaml
    from netcost.spec.schema import block_def

    raw = load_yaml(TEXT, SOURCE)
    return {name: block_def(name, body, raw, SOURCE) for name, body in raw.items()}
