"""Torch models for the input tests: token ids, keyword inputs, the factory's own example
inputs, and a Hugging Face model built from a config (no weights)."""

import torch
from torch import nn

VOCAB, DIM, HEADS, FFN, CLASSES = 100, 32, 4, 64, 10


class Encoder(nn.Module):
    """Embedding + one nn.TransformerEncoder layer + a linear head, on token ids."""

    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(VOCAB, DIM)
        layer = nn.TransformerEncoderLayer(DIM, HEADS, FFN, dropout=0.0, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, num_layers=1, enable_nested_tensor=False)
        self.head = nn.Linear(DIM, CLASSES)

    def forward(self, ids):
        return self.head(self.encoder(self.embed(ids)))


def encoder():
    return Encoder()


class TwoInputs(nn.Module):
    """``forward(x, *, context=None)``: a keyword input of its own width."""

    def __init__(self):
        super().__init__()
        self.a = nn.Linear(8, 4, bias=False)
        self.b = nn.Linear(6, 4, bias=False)

    def forward(self, x, context=None):
        return self.a(x) + self.b(context)


def two_inputs():
    return TwoInputs()


def with_example():
    """The factory's own example inputs: a batch of 4 samples of 8 features, and a keyword one."""
    return TwoInputs(), (torch.zeros(4, 8),), {"context": torch.zeros(4, 6)}


def bad_tuple():
    return TwoInputs(), "not args"


def bert():
    """A small BERT from its config (the README's recipe): no weights, no download."""
    from transformers import BertConfig, BertModel

    config = BertConfig(
        vocab_size=1000, hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=128
    )
    return BertModel(config, add_pooling_layer=False)


class Lstm(nn.Module):
    """A two-layer LSTM over a sequence of 128-wide steps, a head on the last step."""

    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(128, 256, num_layers=2, batch_first=True)
        self.head = nn.Linear(256, CLASSES)

    def forward(self, x):
        return self.head(self.lstm(x)[0][:, -1])


def lstm():
    return Lstm()


def bn10():
    """fvcore's own train-mode BatchNorm test: BatchNorm2d(10, affine=False)."""
    return nn.BatchNorm2d(10, affine=False)


def gpt2():
    """A small GPT-2 from its config: causal self-attention through Conv1D (addmm) layers."""
    from transformers import GPT2Config, GPT2Model

    return GPT2Model(GPT2Config(vocab_size=1000, n_positions=64, n_embd=64, n_layer=2, n_head=4))
