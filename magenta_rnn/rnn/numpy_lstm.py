"""The LSTM cell in NumPy, for the generation paths that step without TensorFlow (the
events RNN's NumpyStepper, MusicVAE's NumPy sampler). Same math as backends.lstm_cell:
TF1 BasicLSTMCell / LSTMBlockCell, gate columns i, j, f, o, forget bias +1."""
from __future__ import annotations

import numpy as np

FORGET_BIAS = 1.0


def sigmoid(x: np.ndarray) -> np.ndarray:
    # The tanh form cannot overflow, unlike 1 / (1 + exp(-x)).
    return 0.5 * (np.tanh(0.5 * x) + 1.0)


def lstm_cell(gates: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(new c, new h) from pre-activations [B, 4u] (bias included) and c [B, u]."""
    i, j, f, o = np.split(gates, 4, axis=-1)
    new_c = c * sigmoid(f + FORGET_BIAS) + sigmoid(i) * np.tanh(j)
    return new_c, np.tanh(new_c) * sigmoid(o)
