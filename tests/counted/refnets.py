"""Small reference models for `verify --against` and the dotted-path route."""

from torch import nn

TINY_SPEC = """
input: [3, 16, 16]
layers:
  - conv: {out: 8, k: 3, pad: 1, bias: false}
  - bn
  - relu
  - maxpool: {k: 2}
  - gap
  - flatten
  - linear: {out: 5}
"""


def tiny() -> nn.Module:
    """The same network as TINY_SPEC, written by hand in torch."""
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1, bias=False),
        nn.BatchNorm2d(8),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(8, 5),
    )


def tiny_wider() -> nn.Module:
    """Like tiny() but 10 channels: a reference that must NOT match."""
    return nn.Sequential(
        nn.Conv2d(3, 10, 3, padding=1, bias=False),
        nn.BatchNorm2d(10),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(10, 5),
    )


# --- torch models for the counted route (tests/counted/test_torchcount.py) -------------------

import torch  # noqa: E402
from torch.nn import functional as F  # noqa: E402


class HandCounted(nn.Module):
    """Every kind of work, small enough to count by hand at 3x8x8 (the test does): a conv
    with bias, a depthwise conv, a transposed conv, a conv called functionally with the
    module's own parameter, and functional relu, add, sigmoid, mean and ``x += 1``."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.dw = nn.Conv2d(4, 4, 3, padding=1, groups=4, bias=False)
        self.up = nn.ConvTranspose2d(4, 2, 2, stride=2)
        self.mix = nn.Parameter(torch.ones(2, 2, 1, 1))
        self.fc = nn.Linear(2, 5)

    def forward(self, x):
        x = torch.relu(self.conv(x))
        x = x + self.dw(x)
        x = self.up(x)
        x = F.conv2d(x, self.mix)
        x = torch.sigmoid(x)
        x = x.mean((2, 3))
        x += 1
        return self.fc(x)


def hand_counted() -> nn.Module:
    return HandCounted()


class ReusedLinear(nn.Module):
    """One nn.Linear applied twice: its parameters exist once, its MACs happen twice."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 8)

    def forward(self, x):
        return self.fc(torch.relu(self.fc(x)))


class TiedLM(nn.Module):
    """A language-model head tied to the embedding (``head.weight = embed.weight``)."""

    def __init__(self, vocab: int = 100, dim: int = 16):
        super().__init__()
        self.embed = nn.Embedding(vocab, dim)
        self.proj = nn.Linear(dim, dim)
        self.head = nn.Linear(dim, vocab, bias=False)
        self.head.weight = self.embed.weight

    def forward(self, ids):
        return self.head(torch.tanh(self.proj(self.embed(ids)))).softmax(-1)


class Elementwise(nn.Module):
    """Only elementwise work: sigmoid, softmax, a product and a sum."""

    def forward(self, x):
        return torch.sigmoid(x) * torch.softmax(x, -1) + x


class Sorts(nn.Module):
    """An op outside the counting table (a sort) beside a counted one."""

    def forward(self, x):
        return torch.sort(x, dim=-1).values + 1


class DataDependent(nn.Module):
    """Branches on a value: cannot run on the meta device (no data there)."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)

    def forward(self, x):
        y = self.fc(x)
        return y * 2 if y.sum().item() > -1e30 else y


def data_dependent() -> nn.Module:
    return DataDependent()


def huge() -> nn.Module:
    """8.6 G parameters (34 GB at fp32): only countable on the meta device."""
    return nn.Sequential(nn.Linear(2**16, 2**16), nn.ReLU(), nn.Linear(2**16, 2**16))


class Attention(nn.Module):
    """Causal self-attention with F.scaled_dot_product_attention (a fused kernel on CPU)."""

    def __init__(self, dim: int = 16, heads: int = 4):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.out = nn.Linear(dim, dim)

    def forward(self, x):
        b, t, c = x.shape
        q, k, v = self.qkv(x).view(b, t, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.out(y.transpose(1, 2).reshape(b, t, c))


class SlowMHA(nn.Module):
    """nn.MultiheadAttention returning averaged attention weights (its decomposed path)."""

    def __init__(self, dim: int = 16, heads: int = 4):
        super().__init__()
        self.mha = nn.MultiheadAttention(dim, heads, batch_first=True)

    def forward(self, x):
        return self.mha(x, x, x, need_weights=True)[0]


class FusedMHA(SlowMHA):
    """The same attention through torch's fused kernel, called directly."""

    def forward(self, x):
        m = self.mha
        return torch._native_multi_head_attention(
            x, x, x, m.embed_dim, m.num_heads, m.in_proj_weight, m.in_proj_bias, m.out_proj.weight, m.out_proj.bias
        )[0]


class Matmuls(nn.Module):
    """Matmul decompositions: a 3-D linear, a batched product and an einsum."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(6, 6)

    def forward(self, x):
        y = self.fc(x)
        a = y @ y.transpose(-1, -2)
        return torch.einsum("bij,bjk->bik", a, y)


class _EncoderBlock(nn.Module):
    """torchvision's vision_transformer.EncoderBlock (dropout 0), its names."""

    def __init__(self, width: int, heads: int, mlp: int):
        super().__init__()
        self.ln_1 = nn.LayerNorm(width, eps=1e-6)
        self.self_attention = nn.MultiheadAttention(width, heads, batch_first=True)
        self.ln_2 = nn.LayerNorm(width, eps=1e-6)
        self.mlp = nn.Sequential(nn.Linear(width, mlp), nn.GELU(), nn.Dropout(0.0), nn.Linear(mlp, width))

    def forward(self, x):
        y = self.ln_1(x)
        y, _ = self.self_attention(y, y, y, need_weights=False)
        x = x + y
        return x + self.mlp(self.ln_2(x))


class TinyViT(nn.Module):
    """torchvision's VisionTransformer written out at toy size, its state_dict names:
    ``class_token`` and ``encoder.pos_embedding`` are parameters of their modules."""

    def __init__(self, image: int = 32, patch: int = 16, width: int = 16, heads: int = 2, mlp: int = 32):
        super().__init__()
        tokens = (image // patch) ** 2 + 1
        self.conv_proj = nn.Conv2d(3, width, patch, stride=patch)
        self.class_token = nn.Parameter(torch.zeros(1, 1, width))
        self.encoder = nn.Module()
        self.encoder.pos_embedding = nn.Parameter(torch.zeros(1, tokens, width))
        self.encoder.layers = nn.Sequential()
        self.encoder.layers.add_module("encoder_layer_0", _EncoderBlock(width, heads, mlp))
        self.encoder.ln = nn.LayerNorm(width, eps=1e-6)
        self.heads = nn.Sequential()
        self.heads.add_module("head", nn.Linear(width, 5))

    def forward(self, x):
        x = self.conv_proj(x).flatten(2).transpose(1, 2)
        x = torch.cat([self.class_token.expand(x.shape[0], -1, -1), x], dim=1)
        x = self.encoder.ln(self.encoder.layers(x + self.encoder.pos_embedding))
        return self.heads(x[:, 0])


def tiny_vit() -> nn.Module:
    """vit_b_16's spec with ``--set image_size=32 layers=1 heads=2 hidden=16 mlp=32 classes=5``."""
    return TinyViT()
