"""Counting rules at the aten level: what one op does (MACs, elementwise work, and the work
kinds the conventions price apart: netcost.core.conventions), as the README's tables say.
:data:`RULES` maps an op name to its rule; an op with no rule is reported as unsupported by
:mod:`netcost.counted.torchcount`, never counted as 0. A rule is
``rule(arguments by schema name, output, run) -> Work``; ``run`` is the counting pass (it
knows, e.g., whether an adaptive pool is running)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from netcost.core import conventions as kinds
from netcost.core.conventions import Convention
from netcost.core.cost import Cost

# --- what one op does ------------------------------------------------------------------


@dataclass
class Work:
    """A module's work, summed op by op as the counting pass runs (batch included): the
    fields of :class:`~netcost.core.cost.Cost` that describe work, priced by a convention."""

    macs: int = 0
    elementwise: int = 0
    bias: int = 0  # output channels receiving a bias add, times the batch (pycls)
    attention: int = 0  # of macs: Q·Kᵀ and A·V of scaled_dot_product_attention
    mha_projections: int = 0  # of macs: nn.MultiheadAttention's projections (its fast path)
    kinds: dict[str, int] = field(default_factory=dict)  # elements by work kind

    def __iadd__(self, other: Work) -> Work:
        self.macs += other.macs
        self.elementwise += other.elementwise
        self.bias += other.bias
        self.attention += other.attention
        self.mha_projections += other.mha_projections
        for kind, n in other.kinds.items():
            self.kinds[kind] = self.kinds.get(kind, 0) + n
        return self

    def is_nothing(self) -> bool:
        """Whether no work was done (``== NOTHING``, without comparing field by field)."""
        return not (self.macs or self.elementwise or self.bias or any(self.kinds.values()))

    def as_cost(self) -> Cost:
        work = tuple((k, n) for k, n in self.kinds.items() if n)
        return Cost(0, 0, self.macs, self.elementwise, self.bias, self.attention, self.mha_projections, work)

    def flops(self, convention: Convention) -> int:
        return convention.flops(self.as_cost())


NOTHING = Work()
Rule = Callable[[dict[str, Any], Any, Any], Work]  # (arguments, output, the counting pass)


def _names(text: str) -> frozenset[str]:
    return frozenset(text.split())


# No arithmetic: views, copies, layout changes, lookups, factories, fills, RNG, dropout.
ZERO_COST = _names(
    """
    view _unsafe_view reshape _reshape_alias view_as permute transpose t expand expand_as squeeze
    unsqueeze flatten unflatten slice select narrow as_strided alias detach detach_ unfold split
    split_with_sizes unsafe_split unsafe_split_with_sizes unbind chunk unsafe_chunk tensor_split
    hsplit vsplit dsplit split_copy split_with_sizes_copy unbind_copy diagonal movedim view_as_real
    view_as_complex _conj _neg_view
    resolve_conj resolve_neg lift_fresh lift_fresh_copy clone contiguous copy copy_ _to_copy
    _copy_from _copy_from_and_resize cat stack constant_pad_nd reflection_pad1d reflection_pad2d
    reflection_pad3d replication_pad1d replication_pad2d replication_pad3d repeat roll flip
    pixel_shuffle pixel_unshuffle channel_shuffle native_channel_shuffle im2col index index_select
    gather embedding slice_scatter select_scatter index_put index_put_ tril triu dropout
    native_dropout feature_dropout alpha_dropout empty empty_like empty_strided new_empty
    new_empty_strided zeros zeros_like new_zeros ones ones_like new_ones full full_like new_full
    fill fill_ zero_ arange linspace scalar_tensor eye rand rand_like randn randn_like randint
    randperm normal normal_ uniform_ bernoulli bernoulli_ _local_scalar_dense set_ resize_
    _assert_tensor_metadata _assert_async is_same_size
    """
)
# outputs that alias an input without the schema saying so: they allocate nothing
ALIASING = frozenset({"_unsafe_view", "_reshape_alias", "lift_fresh"})

# One operation per output element (binary ops: one per output element per extra input).
PER_OUTPUT = _names(
    """
    add sub rsub mul div neg relu hardtanh leaky_relu gelu silu sigmoid tanh hardswish hardsigmoid
    clamp clamp_min clamp_max exp exp2 log log2 log10 log1p expm1 sqrt rsqrt pow where masked_fill
    abs reciprocal maximum minimum erf elu celu selu softplus mish threshold _prelu_kernel sin cos
    sign sgn floor ceil round trunc frac remainder fmod eq ne lt le gt ge logical_not logical_and
    logical_or logical_xor bitwise_and bitwise_or bitwise_xor bitwise_not hardshrink softshrink
    """
)
SOFTMAX = frozenset({"_softmax", "_log_softmax", "_safe_softmax", "softmax", "log_softmax"})
SOFTMAX_PER_ELEMENT = 3  # exp, sum, divide
REDUCTIONS = frozenset({"mean", "sum", "amax", "amin", "argmax", "argmin", "prod", "all", "any"})
BN_INFERENCE = 2  # running statistics: one folded scale and one shift per element
NORM_STATS = 4  # statistics at run time: mean, subtract, variance, divide (+1 with affine)
UPSAMPLE_TAPS = {"nearest": 0, "linear": 2, "bilinear": 4, "bicubic": 16, "trilinear": 8}
UPSAMPLE_KIND = {"upsample_nearest2d": kinds.UPSAMPLE_NEAREST, "upsample_bilinear2d": kinds.UPSAMPLE_BILINEAR}
ADAPTIVE_AVG = frozenset({"adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_avg_pool3d"})


def numel(t: Any) -> int:
    return t.numel() if isinstance(t, torch.Tensor) else 0


def _inp(a: dict[str, Any]) -> torch.Tensor:
    return a["self"] if "self" in a else a["input"]


def _conv(a, out, run) -> Work:
    """convolution: a regular conv on its output grid, a transposed one on its input grid."""
    weight, bias = a["weight"], a.get("bias")
    per_position = math.prod(weight.shape[1:])  # (Cin/g)·k… regular; (Cout/g)·k… transposed
    grid = _inp(a) if a.get("transposed") else out
    macs = grid.numel() * per_position
    if bias is None:
        return Work(macs=macs)
    return Work(macs=macs, elementwise=out.numel(), bias=bias.numel() * run.batch)


def _mm(a, out, run) -> Work:
    return Work(macs=out.numel() * a["mat1" if "mat1" in a else "self"].shape[-1])


def _bmm(a, out, run) -> Work:
    return Work(macs=out.numel() * a["batch1" if "batch1" in a else "self"].shape[-1])


def _with_bias_add(matmul: Callable) -> Callable:
    """addmm, baddbmm, addmv: the product, plus one add per output element."""

    def rule(a, out, run) -> Work:
        work = matmul(a, out, run)
        work.elementwise = out.numel()
        bias = a["self"]
        if bias.dim() == 1:  # a linear layer's bias (pycls counts its channels)
            work.bias = bias.numel() * run.batch
        return work

    return rule


def _addmm_activation(a, out, run) -> Work:
    work = _with_bias_add(_mm)(a, out, run)
    work.elementwise += out.numel()
    return work


def _mv(a, out, run) -> Work:
    return Work(macs=a["mat"].numel() if "mat" in a else a["self"].numel())


def _dot(a, out, run) -> Work:
    return Work(macs=a["self"].numel())


def _linear(a, out, run) -> Work:
    bias = a.get("bias")
    work = Work(macs=out.numel() * a["weight"].shape[-1])
    if bias is not None:
        work.elementwise, work.bias = out.numel(), bias.numel() * run.batch
    return work


def _sdpa(a, out, run) -> Work:
    """Fused attention, counted as torch's math path runs it: Q·Kᵀ and A·V as MACs; scaling
    Q and K, softmax (3 per score), the mask add and the causal mask's construction apart."""
    q, k, v = a["query"], a["key"], a["value"]
    heads = math.prod(q.shape[:-2])  # batch x heads, from the query (GQA keys are repeated)
    length, e = q.shape[-2:]
    s, ev = k.shape[-2], v.shape[-1]
    scores = heads * length * s
    masked = a.get("attn_mask", a.get("attn_bias")) is not None or bool(a.get("is_causal"))
    elementwise = q.numel() + heads * s * e + SOFTMAX_PER_ELEMENT * scores
    elementwise += scores if masked else 0
    elementwise += length * s if a.get("is_causal") else 0
    macs = scores * (e + ev)
    return Work(macs=macs, elementwise=elementwise, attention=macs)


def _native_mha(a, out, run) -> Work:
    """nn.MultiheadAttention's fast path, counted as its slow path runs: projections, Q·Kᵀ
    and A·V as MACs; bias adds, scaling Q, softmax, mask add and the head average apart."""
    q, k = a["query"], a["key"]
    embed, heads = a["embed_dim"], a["num_head"]
    n, length, s = q.shape[0], q.shape[1], k.shape[1]
    scores = n * heads * length * s
    projections = (2 * n * length + 2 * n * s) * embed * embed
    attention = 2 * scores * (embed // heads)
    elementwise = 2 * n * length * embed + 2 * n * s * embed  # q, k, v and output bias adds
    elementwise += n * length * embed + SOFTMAX_PER_ELEMENT * scores  # scale q; softmax
    elementwise += scores if a.get("mask") is not None else 0
    elementwise += scores if a.get("need_weights") and a.get("average_attn_weights") else 0
    return Work(  # bias as the slow path's addmm counts it
        macs=projections + attention,
        elementwise=elementwise,
        bias=embed * run.batch,
        attention=attention,
        mha_projections=projections,
    )


def _batch_norm(a, out, run) -> Work:
    training = a.get("training", False) or a.get("running_mean", 0) is None
    affine = a.get("weight") is not None
    n = out.numel()
    if training:  # statistics of this batch (no running stats, instance norm)
        return Work(elementwise=(NORM_STATS + affine) * n, kinds=_norm_kinds(kinds.NORM_STATS, n, affine))
    return Work(elementwise=BN_INFERENCE * n, kinds=_norm_kinds(kinds.BN_FOLDED, n, affine))


def _norm_kinds(stats: str, n: int, affine: bool) -> dict[str, int]:
    return {stats: n, kinds.NORM_AFFINE: n} if affine else {stats: n}


def _stats_norm(a, out, run) -> Work:
    affine = a.get("weight") is not None
    n = out.numel()
    return Work(elementwise=(NORM_STATS + affine) * n, kinds=_norm_kinds(kinds.NORM_STATS, n, affine))


def _window(dims: int) -> Rule:
    """max/avg pooling: the window's size per output element."""

    def rule(a, out, run) -> Work:
        kernel = list(a["kernel_size"])
        if len(kernel) == 1:
            kernel *= dims
        return Work(elementwise=math.prod(kernel) * out.numel())

    return rule


def _adaptive_avg(a, out, run) -> Work:
    n = _inp(a).numel()
    return Work(elementwise=n, kinds={kinds.ADAPTIVE_POOL: n})


def _per_input(a, out, run) -> Work:
    return Work(elementwise=_inp(a).numel())


def _mean(a, out, run) -> Work:
    """A mean is one add per input element; fvcore counts it only when it is an adaptive
    average pool (``F.adaptive_avg_pool2d(x, 1)`` runs as ``mean``), not ``x.mean()``."""
    n = _inp(a).numel()
    return Work(elementwise=n, kinds={kinds.ADAPTIVE_POOL: n} if run.adaptive_pooling else {})


def _max_min(a, out, run) -> Work:
    if "other" in a:  # elementwise maximum of two tensors
        return Work(elementwise=out.numel())
    return Work(elementwise=_inp(a).numel())


def _vector_norm(a, out, run) -> Work:
    """linalg_vector_norm (``F.normalize``, ``x.norm()``): per input element a power (|x|,
    x², …) and an add; per output element the root."""
    return Work(elementwise=2 * _inp(a).numel() + out.numel())


def _per_output(per: int) -> Callable:
    return lambda a, out, run: Work(elementwise=per * out.numel())


def _upsample(name: str) -> Callable:
    mode = next(m for m in ("trilinear", "bilinear", "bicubic", "linear", "nearest") if m in name)
    taps, kind = UPSAMPLE_TAPS[mode], UPSAMPLE_KIND.get(name)  # fvcore has handles for the 2-D ones only
    return lambda a, out, run: Work(elementwise=taps * out.numel(), kinds={kind: out.numel()} if kind else {})


# --- recurrent layers ------------------------------------------------------------------
# Per step and batch row, for each layer and direction, with H the hidden size: MACs are
# the gates' two matmuls, gates·H·(I + H) (LSTM 4 gates, GRU 3, RNN 1). Elementwise work
# is counted as torch's composite path runs it (the path on meta), so that every device
# gives the same count:
#   LSTM 13H: 4H adding the two matmuls, 3H sigmoid and 1H tanh on the gates,
#             3H c' = f·c + i·g, 1H tanh(c'), 1H h' = o·tanh(c')
#   GRU  10H: 2H adding r's and z's two halves, 2H sigmoid, 3H n = tanh(i_n + r·h_n),
#             3H h' = n + z·(h - n)
#   RNN   2H: 1H adding the two matmuls, 1H tanh or relu
# and with biases one add per gate element of each matmul: 2·gates·H more.
RNN_GATES = {"lstm": 4, "gru": 3, "rnn_tanh": 1, "rnn_relu": 1}
RNN_ELEMENTWISE = {"lstm": 13, "gru": 10, "rnn_tanh": 2, "rnn_relu": 2}  # per H, biases apart
CUDNN_MODES = {0: "rnn_relu", 1: "rnn_tanh", 2: "lstm", 3: "gru"}  # the kernels' mode argument


def _rnn_work(kind: str, steps: int, rows: int, pairs, biased: bool, run) -> Work:
    """``steps`` time steps over ``rows`` batch rows of each (w_ih, w_hh) pair (one pair per
    layer and direction); the bias field as the composite path's addmm counts it."""
    work = Work()
    for w_ih, w_hh in pairs:
        gates_h = w_ih.shape[0]  # gates·H
        hidden = gates_h // RNN_GATES[kind]
        work.macs += steps * rows * gates_h * (w_ih.shape[1] + w_hh.shape[1])
        work.elementwise += steps * rows * hidden * RNN_ELEMENTWISE[kind]
        if biased:
            work.elementwise += steps * rows * 2 * gates_h
            work.bias += steps * 2 * gates_h * run.batch
    return work


def _steps_rows(x, hidden, batch_sizes=None) -> tuple[int, int]:
    """(steps, rows) of a sequence input, the rows (batch) read off the hidden state (the
    kernels get (T, N, I) whatever ``batch_first`` says); a packed input (sum of batch
    sizes, I) is counted as that many single-row steps."""
    if batch_sizes is not None and len(batch_sizes):
        return x.shape[0], 1
    rows = hidden.shape[-2] if hidden.dim() >= 2 else 1
    return x.numel() // x.shape[-1] // rows, rows


def _pairs(params, stride: int) -> list[tuple[Any, Any]]:
    return [(params[i], params[i + 1]) for i in range(0, len(params), stride)]


def _mkldnn_rnn_layer(a, out, run) -> Work:
    """One layer and direction of oneDNN's RNN (what nn.LSTM runs on CPU)."""
    kind = CUDNN_MODES[a["mode"]]
    steps, rows = _steps_rows(a["input"], a["hx_"], a["batch_sizes"])
    biased = a["has_biases"] and a["weight2"].numel() > 0
    return _rnn_work(kind, steps, rows, [(a["weight0"], a["weight1"])], biased, run)


def _cudnn_rnn(a, out, run) -> Work:
    kind = CUDNN_MODES[a["mode"]]
    steps, rows = _steps_rows(a["input"], a["hx"], a["batch_sizes"])
    stride = a["weight_stride0"]
    return _rnn_work(kind, steps, rows, _pairs(a["weight"], stride), stride >= 4, run)


def _rnn_full(kind: str) -> Rule:
    """aten.lstm / gru / rnn_tanh / rnn_relu, whole (batched or packed): every layer and direction."""

    def rule(a, out, run) -> Work:
        packed = "data" in a
        x = a["data"] if packed else a["input"]
        hx = a["hx"][0] if isinstance(a["hx"], (list, tuple)) else a["hx"]
        steps, rows = _steps_rows(x, hx, a.get("batch_sizes"))
        biased = a["has_biases"]
        return _rnn_work(kind, steps, rows, _pairs(a["params"], 4 if biased else 2), biased, run)

    return rule


def _rnn_cell(kind: str) -> Rule:
    """aten.lstm_cell / gru_cell / rnn_tanh_cell / rnn_relu_cell: one step."""

    def rule(a, out, run) -> Work:
        x = a["input"]
        rows = x.shape[0] if x.dim() == 2 else 1
        return _rnn_work(kind, 1, rows, [(a["w_ih"], a["w_hh"])], a.get("b_ih") is not None, run)

    return rule


def _fused_cell(kind: str) -> Rule:
    """_thnn_fused_lstm_cell / _thnn_fused_gru_cell (CUDA): the gates' matmuls ran before
    (as mm, counted there); the cell adds the biases and does the elementwise work."""

    def rule(a, out, run) -> Work:
        gates = a["input_gates"]
        rows, gates_h = (gates.shape[0], gates.shape[1]) if gates.dim() == 2 else (1, gates.shape[0])
        work = Work(elementwise=rows * gates_h // RNN_GATES[kind] * RNN_ELEMENTWISE[kind])
        if a.get("input_bias") is not None:
            work.elementwise += rows * 2 * gates_h
            work.bias = 2 * gates_h * run.batch
        return work

    return rule


RULES: dict[str, Rule] = {
    "convolution": _conv,
    "_convolution": _conv,
    "convolution_overrideable": _conv,
    "mm": _mm,
    "bmm": _bmm,
    "addmm": _with_bias_add(_mm),
    "baddbmm": _with_bias_add(_bmm),
    "addmv": _with_bias_add(_mv),
    "_addmm_activation": _addmm_activation,
    "mv": _mv,
    "dot": _dot,
    "vdot": _dot,
    "linear": _linear,
    "_native_multi_head_attention": _native_mha,
    "native_batch_norm": _batch_norm,
    "_native_batch_norm_legit": _batch_norm,
    "_native_batch_norm_legit_no_training": _batch_norm,
    "_native_batch_norm_legit_functional": _batch_norm,
    "_batch_norm_no_update": _batch_norm,
    "native_layer_norm": _stats_norm,
    "native_group_norm": _stats_norm,
    "_adaptive_avg_pool2d": _adaptive_avg,
    "_adaptive_avg_pool3d": _adaptive_avg,
    "adaptive_avg_pool1d": _adaptive_avg,
    "adaptive_max_pool2d": _per_input,
    "adaptive_max_pool3d": _per_input,
    "mean": _mean,
    "linalg_vector_norm": _vector_norm,
    "norm": _vector_norm,
    "max": _max_min,
    "min": _max_min,
    **{name: _per_input for name in REDUCTIONS - {"mean"}},
    **{name: _per_output(1) for name in PER_OUTPUT},
    **{name: _per_output(SOFTMAX_PER_ELEMENT) for name in SOFTMAX},
    **{
        f"{kind}_pool{d}d{suffix}": _window(d)
        for kind in ("max", "avg")
        for d in (1, 2, 3)
        for suffix in ("", "_with_indices")
    },
    **{
        name: _upsample(name)
        for name in _names(
            "upsample_nearest1d upsample_nearest2d upsample_nearest3d _upsample_nearest_exact1d "
            "_upsample_nearest_exact2d _upsample_nearest_exact3d upsample_linear1d upsample_bilinear2d "
            "_upsample_bilinear2d_aa upsample_trilinear3d upsample_bicubic2d _upsample_bicubic2d_aa"
        )
    },
    **{
        name: _sdpa
        for name in (
            "_scaled_dot_product_flash_attention_for_cpu",
            "_scaled_dot_product_flash_attention",
            "_scaled_dot_product_efficient_attention",
            "_scaled_dot_product_cudnn_attention",
            "_scaled_dot_product_fused_attention_overrideable",
        )
    },
}
RULES.update(
    {
        "mkldnn_rnn_layer": _mkldnn_rnn_layer,
        "_cudnn_rnn": _cudnn_rnn,
        "_thnn_fused_lstm_cell": _fused_cell("lstm"),
        "_thnn_fused_gru_cell": _fused_cell("gru"),
        **{kind: _rnn_full(kind) for kind in RNN_GATES},
        **{f"{kind}_cell": _rnn_cell(kind) for kind in RNN_GATES},
    }
)
RULES["_batch_norm_with_update"] = lambda a, out, run: _batch_norm({**a, "training": True}, out, run)


def no_arithmetic(func: Any) -> bool:
    """Whether an op, by its schema, can do no arithmetic on tensors: the profiler's markers
    (``record_function``), an op that returns nothing and writes to no argument (assertions,
    prints), one that returns only views of its inputs, or one outside aten that returns no
    tensor (a handle)."""
    schema = func._schema
    if func.namespace == "profiler":
        return True
    if any(a.alias_info is not None and a.alias_info.is_write for a in schema.arguments):
        return False  # in place: add_, _foreach_add_
    returns = schema.returns
    if not returns or all(r.alias_info is not None for r in returns):
        return True
    return func.namespace != "aten" and not any("Tensor" in str(r.type) for r in returns)


def rule_for(name: str) -> Rule | None:
    """The rule of an aten op; an in-place variant (``add_``) has its out-of-place op's rule."""
    rule = RULES.get(name)
    if rule is None and name.endswith("_") and not name.endswith("__"):
        rule = RULES.get(name[:-1])
    return rule
