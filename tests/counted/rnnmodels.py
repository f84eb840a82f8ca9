"""Recurrent torch models for the counting tests: a sequence of 50 steps of 128 features
(batch first), a recurrent encoder and a ``Linear(256, 10)`` head on the last step."""

from __future__ import annotations

from torch import nn


class Recurrent(nn.Module):
    def __init__(self, rnn: nn.Module, features: int):
        super().__init__()
        self.rnn = rnn
        self.head = nn.Linear(features, 10)

    def forward(self, x):
        out, _ = self.rnn(x)
        return self.head(out[:, -1])


def lstm():
    return Recurrent(nn.LSTM(128, 256, num_layers=2, batch_first=True), 256)


def gru():
    return Recurrent(nn.GRU(128, 256, num_layers=2, batch_first=True), 256)


def bilstm():
    return Recurrent(nn.LSTM(128, 256, bidirectional=True, batch_first=True), 512)


def rnn_relu():
    return Recurrent(nn.RNN(128, 256, nonlinearity="relu", batch_first=True), 256)
