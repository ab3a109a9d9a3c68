"""Sampling a flat categorical MusicVAE decoder in NumPy, for TrainedModel.

The decoder of a generate call is a 32-step loop over a batch of 8: tiny matrix
products, for which tracing and running a TensorFlow graph costs far more than
the arithmetic. This runs the same equations (LSTMBlockCell gates [i, c, f, o],
forget bias 1.0, state from tanh(Dense(z))) on weights copied once from the
model. The previous output is a one-hot row, so its share of layer 0's input
projection is a row lookup instead of a product. Draws use the Gumbel-max trick,
which picks class k with probability softmax(logits / temperature)[k].
"""
from __future__ import annotations

import numpy as np

from magenta_rnn.rnn import numpy_lstm


class NumpyDecoderSampler:
    """Samples of a `lstm.CategoricalLstmDecoder` without controls, from its current weights."""

    def __init__(self, decoder):
        if decoder.control_depth:
            raise ValueError('NumpyDecoderSampler does not support control inputs')
        depth, z_size = decoder.output_depth, decoder.z_size
        first = decoder.cells[0]
        kernel = first.kernel.numpy()
        self.output_depth = depth
        self.z_size = z_size
        self.layer_sizes = list(decoder.layer_sizes)
        self.previous_kernel = kernel[:depth]                      # one-hot rows
        self.z_kernel = kernel[depth:depth + z_size]
        self.first_recurrent = kernel[first.input_size:]
        self.first_bias = first.bias.numpy()
        # Later layers: [x, h] @ kernel in one product.
        self.stack = [(cell.kernel.numpy(), cell.bias.numpy()) for cell in decoder.cells[1:]]
        init = decoder.z_to_initial_state
        self.initial = None if init is None else (init.kernel.numpy(), init.bias.numpy())
        self.output_kernel = decoder.output_projection.kernel.numpy()
        self.output_bias = decoder.output_projection.bias.numpy()

    def _initial_state(self, z: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        n = len(z)
        if self.initial is None:
            return [(np.zeros((n, u), np.float32), np.zeros((n, u), np.float32))
                    for u in self.layer_sizes]
        values = np.tanh(z @ self.initial[0] + self.initial[1])
        states, offset = [], 0
        for units in self.layer_sizes:   # (c0, h0, c1, h1, ...), as MultiRNNCell flattens it
            states.append((values[:, offset:offset + units],
                           values[:, offset + units:offset + 2 * units]))
            offset += 2 * units
        return states

    @staticmethod
    def _cell(gates: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return numpy_lstm.lstm_cell(gates, c)

    def sample(self, z: np.ndarray | None, length: int, temperature: float,
               rng: np.random.Generator, end_token: int | None = None, n: int | None = None
               ) -> np.ndarray:
        """One-hot samples [n, length, depth]; rows after an end token are zero."""
        with numpy_lstm.single_threaded_blas():
            return self._sample(z, length, temperature, rng, end_token, n)

    def _sample(self, z, length, temperature, rng, end_token, n) -> np.ndarray:
        if z is not None:
            z = np.asarray(z, np.float32)
            n = len(z)
            aux = z @ self.z_kernel + self.first_bias
        else:
            z = np.zeros((n, 0), np.float32)
            aux = np.broadcast_to(self.first_bias, (n, len(self.first_bias)))
        states = self._initial_state(z)
        previous = None   # index of the previous output; zeros at step 0
        finished = np.zeros(n, bool)
        indices = np.zeros((n, length), np.int64)
        emitted = np.zeros((n, length), bool)
        for t in range(length):
            c, h = states[0]
            gates = aux + h @ self.first_recurrent
            if previous is not None:
                gates = gates + self.previous_kernel[previous]
            c, h = self._cell(gates, c)
            new_states = [(c, h)]
            x = h
            for (kernel, bias), (c, h) in zip(self.stack, states[1:]):
                c, h = self._cell(np.concatenate([x, h], axis=-1) @ kernel + bias, c)
                new_states.append((c, h))
                x = h
            states = new_states
            logits = x @ self.output_kernel + self.output_bias
            gumbel = -np.log(-np.log(rng.uniform(np.finfo(np.float32).tiny, 1.0, logits.shape)))
            previous = np.argmax(logits.astype(np.float64) / temperature + gumbel, axis=-1)
            indices[:, t] = previous
            emitted[:, t] = ~finished
            if end_token is not None:
                finished |= previous == end_token
        samples = np.zeros((n, length, self.output_depth), np.float32)
        rows, steps = np.nonzero(emitted)
        samples[rows, steps, indices[rows, steps]] = 1.0
        return samples
