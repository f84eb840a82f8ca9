"""The FLOP conventions, each in one place: how a tool turns the work a layer does into
its one "FLOPs" figure, and which work that tool is known to miss.

Ops (netcost.ops) and the aten counting rules (netcost.counted.aten_rules) only *declare*
work, as a :class:`~netcost.core.cost.Cost`: MACs (all of them, with the parts some tools
miss named: ``attention``, ``mha_projections``), netcost's elementwise operations, the
bias adds pycls counts, and ``work`` — elements of the kinds below, the facts a tool
prices its own way. A :class:`Convention` prices them; nothing else does.

Every convention counts every MAC, attention included: a convention reproduces a tool's
*rules*, not its blind spots. What a tool misses is reported apart
(:meth:`Convention.missed`), so its own figure can be rebuilt, and the true one seen.
"""

from __future__ import annotations

from enum import Enum

from netcost.core.cost import BackwardCost, Cost

# Work kinds (elements, per sample) that a convention prices: the keys of ``Cost.work``.
BN_FOLDED = "bn_folded"  # normalised with running statistics (batchnorm at inference)
NORM_STATS = "norm_stats"  # normalised with statistics computed at run time (layer/group norm)
NORM_AFFINE = "norm_affine"  # given a norm's learned scale and shift
ADAPTIVE_POOL = "adaptive_pool"  # input elements averaged by an adaptive average pool
UPSAMPLE_NEAREST = "upsample_nearest"  # outputs of a 2-D nearest up-sampling
UPSAMPLE_BILINEAR = "upsample_bilinear"  # outputs of a 2-D bilinear up-sampling
WORK_KINDS = (BN_FOLDED, NORM_STATS, NORM_AFFINE, ADAPTIVE_POOL, UPSAMPLE_NEAREST, UPSAMPLE_BILINEAR)

# fvcore's handles, per element of each kind (fvcore.nn.jit_handles: batchnorm_flop_jit
# counts 1 per element at inference, +1 with affine; norm_flop_counter 4 per element for the
# statistics, +1 with affine; adaptive_avg_pool2d 1 per input element; upsample_nearest2d 1
# and upsample_bilinear2d 4 per output element). Everything else beyond MACs: 0.
FVCORE_PER_ELEMENT = {
    BN_FOLDED: 1,
    NORM_STATS: 4,
    NORM_AFFINE: 1,
    ADAPTIVE_POOL: 1,
    UPSAMPLE_NEAREST: 1,
    UPSAMPLE_BILINEAR: 4,
}

# What a tool is known to miss, by key (MACs): each key names a part of ``Cost``.
ATTENTION_MACS = "attention_macs"
MHA_FAST_PATH_MACS = "mha_fast_path_macs"
GAP_TEXT = {
    ("flopcounter", ATTENTION_MACS): "FlopCounterMode counts 0 for scaled_dot_product_attention's CPU flash "
    "kernel (_scaled_dot_product_flash_attention_for_cpu): Q·Kᵀ and A·V",
    ("flopcounter", MHA_FAST_PATH_MACS): "FlopCounterMode has no formula for nn.MultiheadAttention's fast "
    "path (_native_multi_head_attention, taken under no_grad in eval): its projections, Q·Kᵀ and A·V",
    ("fvcore", ATTENTION_MACS): "fvcore skips scaled_dot_product_attention: Q·Kᵀ and A·V",
    ("fvcore", MHA_FAST_PATH_MACS): "fvcore skips nn.MultiheadAttention's fast path "
    "(_native_multi_head_attention, taken under no_grad in eval): its projections, Q·Kᵀ and A·V",
}


class Convention(str, Enum):
    """How a tool turns work into one "FLOPs" figure. Each reproduces that tool's rules."""

    NETCOST = "netcost"  # FLOPs = 2 x MACs; elementwise work shown apart
    FLOPCOUNTER = "flopcounter"  # torch.utils.flop_counter.FlopCounterMode: 2 per MAC, conv/linear/matmul only
    FVCORE = "fvcore"  # fvcore FlopCountAnalysis: 1 per MAC, plus its own norm/pool/upsample counts
    PYCLS = "pycls"  # pycls complexity(): MACs + one add per output channel of a layer with bias

    @property
    def description(self) -> str:
        return _DESCRIPTIONS[self]

    @property
    def per_mac(self) -> int:
        """FLOPs per multiply-accumulate: 1 where the tool's unit is the MAC."""
        return 1 if self in (Convention.FVCORE, Convention.PYCLS) else 2

    def flops(self, cost: Cost) -> int:
        """The layer's FLOPs under this convention (scale ``cost`` first for a batch)."""
        flops = self.per_mac * cost.macs
        if self is Convention.FVCORE:
            flops += sum(FVCORE_PER_ELEMENT[kind] * n for kind, n in cost.work)
        elif self is Convention.PYCLS:
            flops += cost.bias
        return flops

    def missed(self, cost: Cost) -> dict[str, int]:
        """MACs of ``cost`` that the tool itself is known not to count, by key (zeros left out)."""
        gaps = {}
        if self in (Convention.FLOPCOUNTER, Convention.FVCORE):
            if cost.attention:
                gaps[ATTENTION_MACS] = cost.attention
            if cost.mha_projections:
                gaps[MHA_FAST_PATH_MACS] = cost.mha_projections + cost.attention
        return gaps

    def tool_flops(self, cost: Cost, *, no_grad: bool = True, device: str = "cpu") -> int:
        """The figure the tool itself reports for ``cost``, its blind spots included, when
        run under ``no_grad`` (or with grad) on ``device`` (``cpu`` or ``cuda``)."""
        gaps = self.missed(cost)
        if no_grad and MHA_FAST_PATH_MACS in gaps:  # the fused fast path: nothing of the module
            missed = gaps[MHA_FAST_PATH_MACS]
        elif self is Convention.FLOPCOUNTER:  # its flash kernel without a formula is the CPU one
            missed = gaps.get(ATTENTION_MACS, 0) if _on_cpu(device) else 0
        else:
            missed = gaps.get(ATTENTION_MACS, 0)
        return self.flops(cost) - self.per_mac * missed

    def backward_missed(self, backward: BackwardCost, device: str = "cpu") -> int:
        """Backward MACs of a layer that the tool itself does not count (negative: counts on
        top of the real work), for a training step on ``device``. Only FlopCounterMode counts
        a backward. On CPU it has no formula for
        ``_scaled_dot_product_flash_attention_for_cpu_backward`` and counts 0 for it; on CUDA
        its formula for the flash/efficient/cuDNN backward (torch.utils.flop_counter's
        ``sdpa_backward_flop_count``) adds the recomputed scores Q·Kᵀ, one product of the
        four the gradients take (``backward.attention`` / 4), to the real work."""
        if self is not Convention.FLOPCOUNTER or not backward.attention:
            return 0
        if _on_cpu(device):
            return backward.attention
        return -(backward.attention // 4)


def _on_cpu(device: str) -> bool:
    return device.split(":")[0] == "cpu"


_DESCRIPTIONS = {
    Convention.NETCOST: "flops = 2 x MACs (conv/linear/matmul/attention, bias excluded); "
    "elementwise work counted apart",
    Convention.FLOPCOUNTER: "torch FlopCounterMode: 2 per MAC of conv/linear/matmul/attention; nothing else",
    Convention.FVCORE: "fvcore FlopCountAnalysis: 1 per MAC, plus fvcore's batchnorm/groupnorm/layernorm, "
    "adaptive-pool and upsample counts; max pool, activations and adds are not counted",
    Convention.PYCLS: "pycls complexity: MACs plus one add per output channel of each layer with a bias",
}


def tool_gaps(totals: Cost) -> dict[str, dict[str, int]]:
    """Per convention, the MACs its tool is known to miss in these totals (empty when none)."""
    return {c.value: gaps for c in Convention if (gaps := c.missed(totals))}


def gap_notes(totals: Cost) -> list[str]:
    """One line per known gap, with the tool's own figure and the true one."""
    notes = []
    for convention in Convention:
        for key, macs in convention.missed(totals).items():
            text = GAP_TEXT[(convention.value, key)]
            own = convention.flops(totals) - convention.per_mac * macs
            notes.append(
                f"{text}: {macs:,} MACs; its total would be {own:,} FLOPs "
                f"where the {convention.value} convention counts {convention.flops(totals):,}"
            )
    return notes
