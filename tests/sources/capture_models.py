"""Small hand-written torch models for the capture tests, each with its hand count in the
test that uses it."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class FunctionalNet(nn.Module):
    """No submodules: every layer a functional call on the model's own parameters."""

    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.randn(8, 3, 3, 3))
        self.b = nn.Parameter(torch.zeros(8))
        self.fc = nn.Parameter(torch.randn(10, 8))

    def forward(self, x):
        y = F.relu(F.conv2d(x, self.w, self.b, padding=1))
        y = F.max_pool2d(y, 2)
        y = torch.flatten(F.adaptive_avg_pool2d(y, 1), 1)
        return F.linear(y, self.fc)


class SharedBlockNet(nn.Module):
    """The same block called twice: its weights counted once, its work twice."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, padding=1)
        self.block = nn.Sequential(nn.Conv2d(8, 8, 3, padding=1, bias=False), nn.ReLU())
        self.head = nn.Linear(8, 4)

    def forward(self, x):
        x = self.block(self.block(self.stem(x)))
        return self.head(x.mean((2, 3)))


class Encoder(nn.Module):
    """One nn.TransformerEncoderLayer (batch first) over [N, 10, 32] tokens, then the mean."""

    def __init__(self):
        super().__init__()
        self.layer = nn.TransformerEncoderLayer(32, 4, dim_feedforward=64, dropout=0.0, batch_first=True)
        self.head = nn.Linear(32, 3)

    def forward(self, x):
        return self.head(self.layer(x).mean(1))


class LSTMNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(8, 16, batch_first=True)
        self.head = nn.Linear(16, 2)

    def forward(self, x):
        out, _ = self.lstm(x)
        return self.head(out[:, -1])


class BranchOnData(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 1)

    def forward(self, x):
        y = self.conv(x)
        if y.sum() > 0:
            return y.relu()
        return y


class CumsumNet(nn.Module):
    """A cumulative sum: no counting rule, so its cost is unknown."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(6, 6)

    def forward(self, x):
        return torch.cumsum(self.fc(x), dim=-1)


class TwoInputs(nn.Module):
    def forward(self, x, y):
        return x + y


class ShapeBranch(nn.Module):
    """Control flow on shapes (not data) is followed: the rank decides the branch."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(12, 5)

    def forward(self, x):
        if x.dim() == 4:
            n, c, h, w = x.shape
            x = x.reshape(n, c * h * w)
        return self.fc(x)


class FunctionalAttention(nn.Module):
    """Self-attention written out as timm writes it: one qkv projection, heads by reshape and
    permute, q @ kᵀ, softmax over the keys, @ v, heads merged back, an output projection."""

    def __init__(self, dim: int = 16, heads: int = 4):
        super().__init__()
        self.heads = heads
        self.q = nn.Linear(dim, dim)
        self.k = nn.Linear(dim, dim)
        self.v = nn.Linear(dim, dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        b, n, c = x.shape
        d = c // self.heads

        def split(t):
            return t.reshape(b, n, self.heads, d).permute(0, 2, 1, 3)

        q, k, v = split(self.q(x)), split(self.k(x)), split(self.v(x))
        attn = (q @ k.transpose(-2, -1)).softmax(dim=-1)
        y = (attn @ v).transpose(1, 2).reshape(b, n, c)
        return self.proj(y)


class TopkBlock(nn.Module):
    """The two largest of each row (torch.topk: a named tuple, no counting rule), doubled."""

    def forward(self, x):
        return torch.topk(x, 2, dim=-1).values * 2


class TopkNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(6, 6)
        self.block = TopkBlock()

    def forward(self, x):
        return self.block(self.fc(x))


class MaxOverRows(nn.Module):
    """torch.max over a dimension: a named tuple (values, indices) whose op has a counting rule."""

    def forward(self, x):
        return torch.max(x, dim=-1).values + 1
