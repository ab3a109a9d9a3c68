"""The events RNN's generation step in plain NumPy (no TensorFlow import).

NumpyStepper runs EventsRnn's step with a snapshot of its weights: a TF function call
costs milliseconds on a busy CPU, and generation runs many tiny batches step by step.
It reads the weights of anything shaped like an EventsRnn: the TensorFlow model itself,
or a FrozenEventsRnn built from stored arrays (the shipped default models), so
generating from those never loads TensorFlow.
"""
from __future__ import annotations

import numpy as np

from magenta_rnn.rnn import numpy_lstm


def _np_softmax(x, axis=-1):
    e = np.exp(x - x.max(axis, keepdims=True))
    return e / e.sum(axis, keepdims=True)


def events_state_sizes(rnn_layer_sizes: list[int], attn_size: int | None,
                       attn_length: int) -> list[int]:
    """EventsRnn's flat state layout: per layer c then h, then with attention the last
    attention output, the window of outputs and their projections."""
    sizes = []
    for units in rnn_layer_sizes:
        sizes += [units, units]
    if attn_size:
        sizes += [attn_size, attn_size * attn_length, attn_size * attn_length]
    return sizes


# Above this many LSTM weights (performance_with_dynamics' 3x512 has 5.9M) a generation
# step is bound by reading them and gains from every core (1.5x on 2 cores); below it,
# OpenBLAS's thread pool makes the tiny matmuls ~10x slower on a shared CPU.
_MULTI_THREAD_WEIGHTS = 2_000_000


def _sparse_matmul(x: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """x @ kernel; for a mostly-zero x (one-hot event encodings) only the kernel rows x
    selects are read, since reading the whole kernel is what a small batch's step costs."""
    rows, cols = np.nonzero(x)
    if len(cols) * 8 > x.size:
        return x @ kernel
    out = np.zeros((x.shape[0], kernel.shape[1]), np.float32)
    np.add.at(out, rows, kernel[cols] * x[rows, cols][:, None])
    return out


class NumpyStepper:
    """Fast generation: the model's step in plain numpy with a snapshot of its weights.

    A TF function call costs milliseconds on a busy CPU; generation runs many tiny batches
    step by step, so this loop-free numpy version is the fast path. Same state layout as
    EventsRnn (so states can be passed between the two); returns numpy arrays.
    Take a new snapshot after the weights change.
    """

    def __init__(self, model):
        def get(v):
            return np.asarray(v.numpy() if hasattr(v, 'numpy') else v, np.float32)

        self.model = model
        self.lstms = [(get(lstm.kernel), get(lstm.bias)) for lstm in model.lstms]
        self.projections = [None if p is None else (get(p.kernel), get(p.bias))
                            for p in model.residual_projections]
        a = model.attention
        if a is not None:
            self.attn = dict(
                input_kernel=get(a.input_projection.kernel), input_bias=get(a.input_projection.bias),
                attn_w=get(a.attn_w), attn_v=get(a.attn_v), query_kernel=get(a.query.kernel),
                query_bias=get(a.query.bias), output_kernel=get(a.output_projection.kernel),
                output_bias=get(a.output_projection.bias))
        self.output = (get(model.output_layer.kernel), get(model.output_layer.bias))
        self.single_thread = sum(k.size for k, _ in self.lstms) < _MULTI_THREAD_WEIGHTS

    def zero_state(self, batch_size: int) -> tuple[np.ndarray, ...]:
        return tuple(np.zeros((batch_size, n), np.float32) for n in self.model.state_sizes())

    @staticmethod
    def _lstm(kernel, bias, x, c, h, sparse_input: bool = False):
        if sparse_input:
            gates = _sparse_matmul(x, kernel[:x.shape[1]]) + h @ kernel[x.shape[1]:]
        else:
            gates = np.concatenate([x, h], 1) @ kernel
        return numpy_lstm.lstm_cell(gates + bias, c)

    def _attend(self, query, window, features):
        a = self.attn
        y = query @ a['query_kernel'] + a['query_bias']
        scores = (np.tanh(features + y[:, None, :]) * a['attn_v']).sum(-1)
        weights = _np_softmax(scores, axis=1)
        return np.einsum('bl,bla->ba', weights, window)

    def step(self, inputs, state, temperature: float = 1.0):
        """(softmax [B, T, C] or a list per head, new state) for inputs [B, T, input_size]."""
        with numpy_lstm.single_threaded_blas(self.single_thread):
            return self._step(inputs, state, temperature)

    def _step(self, inputs, state, temperature):
        model = self.model
        x = np.asarray(inputs, np.float32)
        if model.input_depth is not None:
            x = np.eye(model.input_depth, dtype=np.float32)[x[..., 0].astype(np.int64)]
        batch, steps = x.shape[:2]
        count = len(self.lstms)
        cells = [[np.asarray(state[2 * k], np.float32), np.asarray(state[2 * k + 1], np.float32)]
                 for k in range(count)]
        attn = model.attention
        whole = attn is not None and model.attention_layout == 'whole_stack'
        if attn is not None:
            size, length = attn.attn_size, model.attn_length
            attns = np.asarray(state[2 * count], np.float32)
            window = np.asarray(state[2 * count + 1], np.float32).reshape(batch, length, size)
            features = np.asarray(state[2 * count + 2], np.float32).reshape(batch, length, size)
            a = self.attn
        outputs = []
        for t in range(steps):
            layer_input = x[:, t]
            if whole:
                layer_input = np.concatenate([layer_input, attns], 1) @ a['input_kernel'] + a['input_bias']
            for k, (kernel, bias) in enumerate(self.lstms):
                projection = self.projections[k]
                if projection is not None:
                    layer_input = layer_input @ projection[0] + projection[1]
                if k == 0 and attn is not None and not whole:
                    cell_input = (np.concatenate([layer_input, attns], 1) @ a['input_kernel']
                                  + a['input_bias'])
                    cells[0] = list(self._lstm(kernel, bias, cell_input, *cells[0]))
                    attns = self._attend(np.concatenate(cells[0], 1), window, features)
                    out = (np.concatenate([cells[0][1], attns], 1) @ a['output_kernel']
                           + a['output_bias'])
                    window = np.concatenate([window[:, 1:], out[:, None]], 1)
                    features = np.concatenate([features[:, 1:], (out @ a['attn_w'])[:, None]], 1)
                else:
                    cells[k] = list(self._lstm(kernel, bias, layer_input, *cells[k],
                                               sparse_input=k == 0 and not whole))
                    out = cells[k][1]
                if model.residual_connections:
                    out = out + layer_input
                layer_input = out
            if whole:
                attns = self._attend(np.concatenate([t for c in cells for t in c], 1), window, features)
                layer_input = (np.concatenate([layer_input, attns], 1) @ a['output_kernel']
                               + a['output_bias'])
                window = np.concatenate([window[:, 1:], layer_input[:, None]], 1)
                features = np.concatenate([features[:, 1:], (layer_input @ a['attn_w'])[:, None]], 1)
            outputs.append(layer_input)
        logits = (np.stack(outputs, 1) @ self.output[0] + self.output[1]) / temperature
        new_state = [t for c in cells for t in c]
        if attn is not None:
            new_state += [attns, window.reshape(batch, -1), features.reshape(batch, -1)]
        if not model.multi_head:
            return _np_softmax(logits), tuple(new_state)
        splits = np.cumsum(model.class_sizes)[:-1]
        return [_np_softmax(h) for h in np.split(logits, splits, axis=-1)], tuple(new_state)


class _Weights:
    """A kernel and bias pair (the shape of the TF model's dense and LSTM modules)."""

    def __init__(self, kernel: np.ndarray, bias: np.ndarray):
        self.kernel, self.bias = kernel, bias


class _FrozenAttention:
    def __init__(self, values: dict[str, np.ndarray], prefix: str, attn_length: int):
        self.attn_length = attn_length
        self.input_projection = _Weights(values[prefix + 'kernel'], values[prefix + 'bias'])
        self.attn_w = values[prefix + 'attention/attn_w']
        self.attn_v = values[prefix + 'attention/attn_v']
        self.attn_size = self.attn_w.shape[0]
        self.query = _Weights(values[prefix + 'attention/kernel'],
                              values[prefix + 'attention/bias'])
        self.output_projection = _Weights(values[prefix + 'attn_output_projection/kernel'],
                                          values[prefix + 'attn_output_projection/bias'])


class FrozenEventsRnn:
    """An EventsRnn's structure and weights as NumPy arrays, for NumpyStepper.

    `values` maps the original's TF1 variable names (as rnn.model_io.export_values writes
    them; 'first_layer' attention layout) to arrays; the layer sizes come from them.
    """

    def __init__(self, values: dict[str, np.ndarray], input_size: int,
                 num_classes: int | list[int], input_depth: int | None = None,
                 attn_length: int = 0, residual_connections: bool = False):
        self.input_size = int(input_size)
        self.input_depth = None if input_depth is None else int(input_depth)
        self.multi_head = not isinstance(num_classes, int)
        self.class_sizes = [int(c) for c in num_classes] if self.multi_head else [int(num_classes)]
        self.num_classes = sum(self.class_sizes)
        self.attn_length = int(attn_length)
        self.attention_layout = 'first_layer'
        self.residual_connections = bool(residual_connections)
        self.lstms, self.residual_projections = [], []
        k = 0
        while True:
            cell = f'rnn/multi_rnn_cell/cell_{k}/'
            if k == 0 and self.attn_length:
                cell += 'attention_cell_wrapper/'
            kernel_name = cell + 'basic_lstm_cell/kernel'
            if kernel_name not in values:
                if k == 0:
                    raise ValueError(f'no {kernel_name} among the stored weights')
                break
            self.lstms.append(_Weights(values[kernel_name], values[cell + 'basic_lstm_cell/bias']))
            projection = f'rnn/multi_rnn_cell/cell_{k}/input_projection_wrapper/'
            self.residual_projections.append(
                _Weights(values[projection + 'kernel'], values[projection + 'bias'])
                if projection + 'kernel' in values else None)
            k += 1
        self.rnn_layer_sizes = [lstm.kernel.shape[1] // 4 for lstm in self.lstms]
        self.attention = (_FrozenAttention(values, 'rnn/multi_rnn_cell/cell_0/'
                                           'attention_cell_wrapper/', self.attn_length)
                          if self.attn_length else None)
        self.output_layer = _Weights(values['fully_connected/weights'],
                                     values['fully_connected/biases'])
        if self.output_layer.kernel.shape[1] != self.num_classes:
            raise ValueError(f'the stored output layer has {self.output_layer.kernel.shape[1]} '
                             f'classes, the encoder {self.num_classes}')

    def state_sizes(self) -> list[int]:
        return events_state_sizes(self.rnn_layer_sizes,
                                  self.attention and self.attention.attn_size, self.attn_length)
