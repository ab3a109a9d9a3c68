"""The events RNN's variable holders: LSTM layer, dense layer, attention wrapper.

Plain tf.Modules whose variable names and shapes are the TF1 graph's (BasicLSTMCell's one
[input + units, 4 units] kernel, AttentionCellWrapper's projections), so checkpoints and
V1 bundles map onto them one to one. The arithmetic lives elsewhere: the step loop
(magenta_rnn.rnn.step_loop) and the training backends (magenta_rnn.rnn.backends).
"""
from __future__ import annotations

from collections.abc import Sequence

import tensorflow as tf

from magenta_rnn.rnn import fused


def glorot_uniform(shape: Sequence[int]) -> tf.Tensor:
    """TF1 get_variable's default initializer, glorot uniform (no Keras needed)."""
    fan_in = shape[-2] if len(shape) > 1 else shape[0]
    fan_out = shape[-1]
    limit = (6.0 / (fan_in + fan_out)) ** 0.5
    return tf.random.uniform(shape, -limit, limit)


def _glorot(shape: Sequence[int], name: str) -> tf.Variable:
    return tf.Variable(glorot_uniform(shape), name=name)


def _zeros(shape: Sequence[int], name: str) -> tf.Variable:
    return tf.Variable(tf.zeros(shape), name=name)


class Lstm(tf.Module):
    def __init__(self, input_size: int, units: int, name: str):
        super().__init__(name=name)
        self.input_size = input_size
        self.units = units
        self.kernel = _glorot([input_size + units, 4 * units], 'kernel')
        self.bias = _zeros([4 * units], 'bias')


class Dense(tf.Module):
    def __init__(self, input_size: int, output_size: int, name: str):
        super().__init__(name=name)
        self.kernel = _glorot([input_size, output_size], 'kernel')
        self.bias = _zeros([output_size], 'bias')

    def __call__(self, x: tf.Tensor) -> tf.Tensor:
        return fused.matmul_last(x, self.kernel) + self.bias


class Attention(tf.Module):
    """AttentionCellWrapper around one or more LSTM layers (REFERENCE.md "Events RNN cells")."""

    def __init__(self, input_size: int, lstms: list[Lstm], attn_length: int, name: str):
        super().__init__(name=name)
        self.attn_length = attn_length
        self.attn_size = lstms[-1].units
        query_size = sum(2 * lstm.units for lstm in lstms)
        # Linear([x, attns] -> input width), applied before the wrapped cell.
        self.input_projection = Dense(input_size + self.attn_size, input_size, 'input_projection')
        self.attn_w = _glorot([self.attn_size, self.attn_size], 'attn_w')
        self.attn_v = _glorot([self.attn_size], 'attn_v')
        self.query = Dense(query_size, self.attn_size, 'query')
        self.output_projection = Dense(2 * self.attn_size, self.attn_size, 'output_projection')
