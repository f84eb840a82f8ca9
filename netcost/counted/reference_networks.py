"""The reference networks of the op-class calibration: small networks, none of them a zoo
model, whose layers are timed inside a forward pass to learn how much slower each op
class runs there than alone in its microbenchmark.

A microbenchmark calls one layer again and again: its weights and activations stay in
cache and its output buffer is reused. Inside a network a layer reads the previous
layer's output, its weights are cold and the framework runs between layers; on a 2-core
CPU this made the bandwidth-bound classes (normalisation, activations, merges) 1.5-2.2x
and the convolutions 1.0-1.3x slower than their microbenchmarks. The networks cover every
op class in the contexts the zoo has them: residual stages with 3x3, 1x1 and grouped
convolutions; inverted residuals with depthwise convolutions and squeeze-excitation; a
transformer with attention, window attention, layer norm and MLPs; heads with pooling and
linear layers. They are written here, not taken from the zoo, so that the zoo stays a
held-out validation set (benchmarks/predict_validation.py).
"""

from __future__ import annotations

from netcost.graph import Graph

RESIDUAL = """
name: reference_residual
description: residual stages, 3x3 / 1x1 / grouped convolutions, max and average pooling
input: [3, 160, 160]
blocks:
  basic:
    args: {out: required, stride: 1}
    layers:
      - parallel:
          merge: add
          branches:
            - - conv: {out: out, k: 3, stride: stride, pad: 1, bias: false}
              - bn
              - relu
              - conv: {out: out, k: 3, pad: 1, bias: false}
              - bn
            - when: stride != 1 or in_channels != out
              else: []
              layers:
                - conv: {out: out, k: 1, stride: stride, bias: false}
                - bn
      - relu
  grouped:
    args: {out: required, groups: required}
    layers:
      - parallel:
          merge: add
          branches:
            - - conv: {out: out, k: 1, bias: false}
              - bn
              - relu
              - conv: {out: out, k: 3, pad: 1, groups: groups, bias: false}
              - bn
              - relu
              - conv: {out: out, k: 1, bias: false}
              - bn
            - []
      - relu
layers:
  - conv: {out: 40, k: 5, stride: 2, pad: 2, bias: false}
  - bn
  - relu
  - maxpool: {k: 3, stride: 2, pad: 1}
  - stage: {block: basic, n: 2, out: 40}
  - stage: {block: basic, n: 2, out: 80, stride: 2}
  - stage: {block: grouped, n: 2, out: 80, groups: 10}
  - avgpool: {k: 2, stride: 2}
  - stage: {block: basic, n: 2, out: 320}
  - stage: {block: grouped, n: 2, out: 320, groups: 20}
  - gap
  - flatten
  - linear: {out: 600}
"""

INVERTED = """
name: reference_inverted
description: inverted residuals, depthwise 3x3 and 5x5, squeeze-excitation, hardswish
input: [3, 192, 192]
blocks:
  inverted:
    args: {out: required, expand: 4, k: 3, stride: 1, se: false, hidden: in_channels * expand}
    layers:
      - parallel:
          merge: add
          branches:
            - - conv: {out: hidden, k: 1, bias: false}
              - bn
              - hardswish
              - conv: {out: hidden, k: k, stride: stride, pad: (k - 1) // 2, groups: hidden, bias: false}
              - bn
              - hardswish
              - parallel:
                  merge: mul
                  branches:
                    - []
                    - when: se
                      layers:
                        - gap
                        - conv: {out: hidden // 4, k: 1}
                        - relu
                        - conv: {out: hidden, k: 1}
                        - sigmoid
              - conv: {out: out, k: 1, bias: false}
              - bn
            - when: stride == 1 and in_channels == out
              layers: []
layers:
  - conv: {out: 16, k: 3, stride: 2, pad: 1, bias: false}
  - bn
  - hardswish
  - inverted: {out: 24, expand: 3, stride: 2}
  - inverted: {out: 24, expand: 3}
  - inverted: {out: 48, k: 5, stride: 2, se: true}
  - inverted: {out: 48, k: 5, se: true}
  - inverted: {out: 96, stride: 2}
  - inverted: {out: 96}
  - inverted: {out: 136, expand: 6, se: true}
  - inverted: {out: 200, k: 5, stride: 2, expand: 6, se: true}
  - inverted: {out: 200, k: 5, expand: 6, se: true}
  - conv: {out: 800, k: 1, bias: false}
  - bn
  - hardswish
  - gap
  - flatten
  - linear: {out: 1200}
  - relu
  - linear: {out: 800}
"""

TOKENS = """
name: reference_tokens
description: a small vision transformer with windowed and global attention, layer norm, GELU MLPs
input: [3, 192, 192]
blocks:
  mlp:
    args: {width: in_channels}
    layers:
      - parallel:
          merge: add
          branches:
            - - layernorm
              - linear: {out: width * 4}
              - gelu
              - linear: {out: width}
            - []
  encoder:
    args: {heads: required, windowed: false}
    layers:
      - parallel:
          merge: add
          branches:
            - - layernorm
              - window_attention: {heads: heads, when: windowed}
              - attention: {heads: heads, when: not windowed}
            - []
      - mlp
layers:
  - conv: {out: 80, k: 4, stride: 4}
  - permute: {layout: HWC}
  - layernorm
  - stage: {block: encoder, n: 2, heads: 2, windowed: true}
  - permute: {layout: CHW}
  - conv: {out: 320, k: 4, stride: 4}
  - to_tokens
  - stage: {block: encoder, n: 3, heads: 5}
  - layernorm
  - select_token
  - linear: {out: 500}
"""

SPECS = {"residual": RESIDUAL, "inverted": INVERTED, "tokens": TOKENS}


def reference_graph(name: str) -> Graph:
    """The Graph of one reference network."""
    from netcost.api import load_graph
    from netcost.spec.load import load_yaml
    from netcost.spec.schema import parse_spec

    source = f"<reference network {name}>"
    return load_graph(parse_spec(load_yaml(SPECS[name], source), source, f"reference_{name}"))


def reference_graphs() -> dict[str, Graph]:
    return {name: reference_graph(name) for name in SPECS}
