"""Multi-head scaled-dot-product attention over tokens (``nn.MultiheadAttention``).

Queries ``LxC``; keys and values are the same tokens (self-attention) or a second input
``SxD`` (cross-attention, written as a merge: ``parallel: {merge: {attention: {heads: 8}},
branches: [queries, keys/values]}``). Per sample, with ``d = C / heads``:

- projections: Q ``L*C*C``, K and V ``S*D*C`` each, output ``L*C*C`` MACs (bias ``3C`` + ``C``);
- Q·Kᵀ ``heads*L*S*d = L*S*C`` MACs and A·V as many;
- elementwise: the projections' bias adds, scaling Q (``L*C``), softmax 3 per score
  (``heads*L*S`` scores), the causal mask's add (1 per score) — as counted/aten_rules.py's
  ``_native_mha`` counts the fused kernel.

``Cost.attention`` is the Q·Kᵀ and A·V part, ``Cost.mha_projections`` the projections when
torch would run the fused fast path (self-attention with biases): the parts some counters
miss (netcost.core.conventions). Attention over all tokens makes every output
unit global.
"""

from __future__ import annotations

from dataclasses import dataclass

from netcost.core.cost import BackwardCost, BackwardStage, Cost, Saved
from netcost.core.rf import RF
from netcost.core.shape import Shape
from netcost.errors import ShapeError
from netcost.ops import register
from netcost.ops.base import Count, Formula, Op, Shapes, need_layout
from netcost.units import grouped, si_unit

SOFTMAX_PER_SCORE = 3  # exp, sum, divide (act.py's softmax)
SOFTMAX_BACKWARD_PER_SCORE = 4  # y * (grad - sum(grad * y))


@dataclass(frozen=True)
class _Sizes:
    length: int  # query tokens L
    embed: int  # C
    source: int  # key/value tokens S
    kv_channels: int  # D
    heads: int

    @property
    def scores(self) -> int:
        return self.heads * self.length * self.source

    @property
    def projections(self) -> int:
        return 2 * self.length * self.embed * self.embed + 2 * self.source * self.kv_channels * self.embed

    @property
    def products(self) -> int:
        """Q·Kᵀ and A·V."""
        return 2 * self.length * self.source * self.embed


@register("attention")
@dataclass(frozen=True, kw_only=True)
class Attention(Op):
    """Multi-head scaled-dot-product attention with its in/out projections
    (``nn.MultiheadAttention(C, heads, batch_first=True)``); ``causal`` masks later tokens."""

    heads: Count
    bias: bool = True
    causal: bool = False
    arity = (1, 2)
    layouts = ("LC",)

    def sizes(self, ins: Shapes) -> _Sizes:
        q, kv = ins[0], ins[-1]
        return _Sizes(q.dims[0], q.c, kv.dims[0], kv.c, self.heads)

    def shape(self, ins: Shapes) -> Shape:
        for x in ins:
            need_layout(self, x, self.layouts)
        q, kv = ins[0], ins[-1]
        if q.c % self.heads:
            raise ShapeError(f"attention heads={self.heads} must divide the {q.c} channels")
        if self.causal and len(ins) == 2 and q.dims[0] != kv.dims[0]:
            raise ShapeError(f"a causal mask needs as many queries as keys, got {q.dims[0]} and {kv.dims[0]}")
        return q

    def cost(self, ins: Shapes, out: Shape) -> Cost:
        s = self.sizes(ins)
        c, d = s.embed, s.kv_channels
        bias = 4 * c if self.bias else 0
        elementwise = (2 * s.length * c + 2 * s.source * c if self.bias else 0) + s.length * c
        elementwise += SOFTMAX_PER_SCORE * s.scores + (s.scores if self.causal else 0)
        return Cost(
            params=2 * c * c + 2 * d * c + bias,
            macs=s.projections + s.products,
            elementwise=elementwise,
            bias=bias,
            attention=s.products,
            mha_projections=s.projections if self.takes_fast_path(ins) else 0,
        )

    def takes_fast_path(self, ins: Shapes) -> bool:
        """Whether nn.MultiheadAttention runs its fused no_grad kernel here (self-attention
        with biases; a causal mask too), whose projections some counters miss."""
        return len(ins) == 1 and self.bias

    def rf(self, fields_in: tuple[RF, ...], ins: Shapes, out: Shape) -> RF:
        return RF.whole()

    def formula(self, ins: Shapes, out: Shape) -> Formula:
        s = self.sizes(ins)
        products = f"2 x {s.length} x {s.source} x {s.embed}"
        return Formula(
            params=f"4 x {s.embed}^2 (+{4 * s.embed}) = {grouped(self.cost(ins, out).params)}",
            flops=f"2 x ({grouped(s.projections)} projections + {products} QKᵀ/AV) = "
            f"{si_unit(2 * (s.projections + s.products), 'FLOPs')}",
        )

    def backward(self, ins: Shapes, out: Shape, needs_grad: tuple[bool, ...], trainable: bool) -> BackwardCost:
        """The projections as linear layers (input and weight gradients); Q·Kᵀ and A·V need
        both operands' gradients (twice their MACs) whenever anything below trains; softmax's
        backward 4 per score, the bias gradients one add per projected element. The Q·Kᵀ and
        A·V gradients run in SDPA's own backward kernel (``BackwardCost.attention``)."""
        s = self.sizes(ins)
        below = any(needs_grad) or trainable
        elementwise = SOFTMAX_BACKWARD_PER_SCORE * s.scores + s.length * s.embed if below else 0
        if trainable and self.bias:
            elementwise += 2 * s.length * s.embed + 2 * s.source * s.embed
        return BackwardCost(
            dgrad_macs=(s.projections if any(needs_grad) else 0) + (2 * s.products if below else 0),
            wgrad_macs=s.projections if trainable else 0,
            elementwise=elementwise,
            attention=2 * s.products if below else 0,
            stages=self.backward_stages(ins) if trainable and any(needs_grad) else (),
        )

    def backward_stages(self, ins: Shapes) -> tuple[BackwardStage, ...]:
        """Where torch's CPU backward of self-attention (nn.MultiheadAttention's slow path:
        the packed in-projection, then SDPA's flash kernel) may peak, measured op by op with
        train_verify's storage tracker (torch 2.13, fp32, batch 1), ``A = L*C`` elements:

        1. the output projection: its input gradient (A) and weight gradient;
        2. ``_scaled_dot_product_flash_attention_for_cpu_backward``: dO and dQ, dK, dV (4A);
           after it the output gradient is gone, and then what SDPA saved;
        3. dQ and dK put back into the packed ``[3, L, C]`` gradient (``select_backward``, 3A
           each) while dK and dV live (8A); out of place, their sum is 3A more beside dV (10A);
        4. the packed gradient and its contiguous copy (6A);
        5. the in-projection: the copy, its input gradient (4A) and weight gradient.

        Cross-attention runs other kernels (separate or split projections); no stages are
        given for it (the layer's one check)."""
        if len(ins) != 1:
            return ()
        s = self.sizes(ins)
        a, c = s.length * s.embed, s.embed
        out_proj = c * c + (c if self.bias else 0)
        both = out_proj + 3 * c * c + (3 * c if self.bias else 0)
        return (
            BackwardStage(transient=a, params=out_proj),
            BackwardStage(transient=4 * a, params=out_proj, frees_grad=True),
            BackwardStage(transient=8 * a, params=out_proj, frees_saved=True),
            BackwardStage(transient=7 * a, params=out_proj, out_of_place=3 * a),
            BackwardStage(transient=6 * a, params=out_proj),
            BackwardStage(transient=4 * a, params=both),
        )

    def saved(self, ins: Shapes, out: Shape, needs_grad: tuple[bool, ...], trainable: bool) -> Saved:
        """Its inputs, the projected Q, K and V, the attention output before the output
        projection and its per-row softmax statistics (fp32). Self-attention at a batch
        over 1 keeps a copy of its input instead (measured: the in-projection reshapes the
        sequence-first transpose, no longer contiguous, into a copy)."""
        s = self.sizes(ins)
        temps = 2 * s.length * s.embed + 2 * s.source * s.embed
        copies = (0,) if len(ins) == 1 else ()
        return Saved(inputs=tuple(range(len(ins))), temps=temps, stats=s.heads * s.length, batch_copies=copies)

    def param_tensors(self, ins: Shapes, out: Shape) -> tuple[int, ...]:
        """nn.MultiheadAttention's order: packed in-projection (or Q, K, V apart when the
        keys have other channels), its bias, the output projection's weight and bias."""
        s = self.sizes(ins)
        c, d = s.embed, s.kv_channels
        inputs = (3 * c * c,) if d == c else (c * c, d * c, d * c)
        bias = (3 * c,) if self.bias else ()
        return (*inputs, *bias, c * c, *((c,) if self.bias else ()))

    def build(self, ins: Shapes, out: Shape):
        from netcost.counted.modules import Attention as Module

        s = self.sizes(ins)
        return Module(s.embed, self.heads, s.kv_channels, self.bias, self.causal)

    EXAMPLES = [
        ((Shape.tokens(10, 16),), dict(heads=4)),
        ((Shape.tokens(7, 12),), dict(heads=3, causal=True, bias=False)),
        ((Shape.tokens(5, 16), Shape.tokens(9, 8)), dict(heads=2)),  # cross-attention
    ]
