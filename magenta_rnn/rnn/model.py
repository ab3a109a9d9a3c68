"""The events RNN shared by Melody, Drums and Performance RNN (facts §9.1, §9.2).

A stack of TF1-style BasicLSTMCell layers (one [x, h] kernel, gate columns i, j, f, o,
forget bias +1.0 added at run time), output dropout on every layer, optional residual
connections, optional attention (AttentionCellWrapper semantics) and a final dense layer.

Speed: the RNN runs layer by layer. Everything that does not depend on the recurrence
(the input half of each kernel, dropout, residual sums, the output layer) is computed for
all time steps in one batched op outside the time loop; the loop only does the h-half
matmul and the gate arithmetic. The attention window also caches each entry's
`entry @ attn_w` features (the original recomputes the 1x1 convolution over the whole
window every step), so a step costs one small matmul instead of `attn_length` of them.

Two attention layouts exist in the wild (facts §9.5):
* 'first_layer' (May 2017 on): only layer 0 is wrapped; the query is layer 0's (c, h).
* 'whole_stack' (older bundles): the wrapper goes around the whole stack; its query is
  every layer's (c, h) and it projects the top layer's output.

State is a flat tuple of [batch, n] float32 tensors, per layer c then h; the attention
block then adds attns, attn_states [batch, attn_length * size] (oldest first) and its
cached features [batch, attn_length * size].
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import tensorflow as tf

FORGET_BIAS = 1.0
ATTENTION_LAYOUTS = ('first_layer', 'whole_stack')


def _glorot(shape: Sequence[int], name: str) -> tf.Variable:
    return tf.Variable(tf.keras.initializers.GlorotUniform()(shape), name=name)


def _zeros(shape: Sequence[int], name: str) -> tf.Variable:
    return tf.Variable(tf.zeros(shape), name=name)


def _lstm_gates(gates: tf.Tensor, c: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """TF1 BasicLSTMCell update from pre-activations [B, 4u] ordered i, j, f, o."""
    i, j, f, o = tf.split(gates, 4, axis=-1)
    new_c = c * tf.sigmoid(f + FORGET_BIAS) + tf.sigmoid(i) * tf.tanh(j)
    new_h = tf.tanh(new_c) * tf.sigmoid(o)
    return new_c, new_h


@tf.function(jit_compile=True)
def _attend_forward(y, attn_v, attn_states, features):
    # Windows are time-major [L, B, size]; the softmax runs over L (axis 0).
    scores = tf.reduce_sum(attn_v * tf.tanh(features + y[None]), axis=-1)
    weights = tf.nn.softmax(scores, axis=0)
    return tf.reduce_sum(weights[:, :, None] * attn_states, axis=0)


@tf.function(jit_compile=True)
def _attend_backward(grad, y, attn_v, attn_states, features):
    # Recomputes the forward pass (cheaper than keeping [B, L, size] activations per step).
    u = tf.tanh(features + y[None])
    weights = tf.nn.softmax(tf.reduce_sum(attn_v * u, axis=-1), axis=0)
    grad_states = weights[:, :, None] * grad[None]
    grad_weights = tf.reduce_sum(attn_states * grad[None], axis=-1)
    grad_scores = weights * (grad_weights - tf.reduce_sum(weights * grad_weights, 0, keepdims=True))
    grad_u = grad_scores[:, :, None] * attn_v
    grad_pre = grad_u * (1.0 - u * u)
    grad_v = tf.reduce_sum(grad_scores[:, :, None] * u, axis=[0, 1])
    return tf.reduce_sum(grad_pre, axis=0), grad_v, grad_states, grad_pre


@tf.custom_gradient
def _attend(y, attn_v, attn_states, features):
    """Σ_i softmax_i(v·tanh(features_i + y)) · attn_states_i, one fused XLA kernel each way."""
    def backward(grad):
        return _attend_backward(grad, y, attn_v, attn_states, features)
    return _attend_forward(y, attn_v, attn_states, features), backward


@tf.custom_gradient
def _push(window, entry):
    """Drops the oldest entry of a time-major [L, B, n] window and appends `entry`."""
    def backward(grad):
        return tf.concat([tf.zeros_like(grad[:1]), grad[:-1]], axis=0), grad[-1]
    return tf.concat([window[1:], entry[None]], axis=0), backward


class _Lstm(tf.Module):
    def __init__(self, input_size: int, units: int, name: str):
        super().__init__(name=name)
        self.input_size = input_size
        self.units = units
        self.kernel = _glorot([input_size + units, 4 * units], 'kernel')
        self.bias = _zeros([4 * units], 'bias')


class _Dense(tf.Module):
    def __init__(self, input_size: int, output_size: int, name: str):
        super().__init__(name=name)
        self.kernel = _glorot([input_size, output_size], 'kernel')
        self.bias = _zeros([output_size], 'bias')

    def __call__(self, x: tf.Tensor) -> tf.Tensor:
        return _matmul_last(x, self.kernel) + self.bias


def _matmul_last(x: tf.Tensor, kernel: tf.Tensor) -> tf.Tensor:
    """x [..., n] @ kernel [n, m] as one 2-D matmul."""
    if x.shape.rank == 2:
        return tf.matmul(x, kernel)
    shape = tf.shape(x)
    flat = tf.matmul(tf.reshape(x, [-1, kernel.shape[0]]), kernel)
    return tf.reshape(flat, tf.concat([shape[:-1], [kernel.shape[1]]], 0))


class _Attention(tf.Module):
    """AttentionCellWrapper around one or more LSTM layers (facts §9.1)."""

    def __init__(self, input_size: int, lstms: list[_Lstm], attn_length: int, name: str):
        super().__init__(name=name)
        self.attn_length = attn_length
        self.attn_size = lstms[-1].units
        query_size = sum(2 * lstm.units for lstm in lstms)
        # Linear([x, attns] -> input width), applied before the wrapped cell.
        self.input_projection = _Dense(input_size + self.attn_size, input_size, 'input_projection')
        self.attn_w = _glorot([self.attn_size, self.attn_size], 'attn_w')
        self.attn_v = tf.Variable(
            tf.keras.initializers.GlorotUniform()([1, self.attn_size])[0], name='attn_v')
        self.query = _Dense(query_size, self.attn_size, 'query')
        self.output_projection = _Dense(2 * self.attn_size, self.attn_size, 'output_projection')


class EventsRnn(tf.Module):
    """Stacked LSTM events model. Build it with `build_events_rnn`."""

    def __init__(self, rnn_layer_sizes: Sequence[int], input_size: int,
                 num_classes: int | Sequence[int], input_depth: int | None = None,
                 dropout_keep_prob: float = 1.0, attn_length: int = 0,
                 residual_connections: bool = False, attention_layout: str = 'first_layer',
                 name: str = 'events_rnn'):
        super().__init__(name=name)
        if not rnn_layer_sizes:
            raise ValueError('rnn_layer_sizes must name at least one layer')
        if attention_layout not in ATTENTION_LAYOUTS:
            raise ValueError(f'attention_layout must be one of {ATTENTION_LAYOUTS}, '
                             f'not {attention_layout!r}')
        if attention_layout == 'whole_stack' and attn_length and residual_connections:
            raise ValueError('residual_connections cannot be combined with the whole_stack '
                             'attention layout (old bundles never had it)')
        self.rnn_layer_sizes = [int(s) for s in rnn_layer_sizes]
        self.input_size = int(input_size)
        self.input_depth = None if input_depth is None else int(input_depth)
        self.multi_head = not isinstance(num_classes, int)
        self.class_sizes = [int(c) for c in num_classes] if self.multi_head else [int(num_classes)]
        self.num_classes = sum(self.class_sizes)
        self.dropout_keep_prob = float(dropout_keep_prob)
        self.attn_length = int(attn_length)
        self.residual_connections = bool(residual_connections)
        self.attention_layout = attention_layout if self.attn_length else 'first_layer'

        width = self.input_depth if self.input_depth is not None else self.input_size
        self.residual_projections: list[_Dense | None] = []
        self.lstms: list[_Lstm] = []
        for k, units in enumerate(self.rnn_layer_sizes):
            projection = None
            if self.residual_connections and (k == 0 or units != self.rnn_layer_sizes[k - 1]):
                projection = _Dense(width, units, f'residual_projection_{k}')
                width = units
            self.residual_projections.append(projection)
            self.lstms.append(_Lstm(width, units, f'lstm_{k}'))
            width = units
        self.attention: _Attention | None = None
        if self.attn_length:
            wrapped = self.lstms if self.attention_layout == 'whole_stack' else self.lstms[:1]
            self.attention = _Attention(self.lstms[0].input_size, wrapped, self.attn_length,
                                        'attention')
        self.output_layer = _Dense(self.rnn_layer_sizes[-1], self.num_classes, 'fully_connected')
        self._step_fn = None

    # ------------------------------------------------------------------ state
    def state_sizes(self) -> list[int]:
        sizes = []
        for units in self.rnn_layer_sizes:
            sizes += [units, units]
        if self.attention is not None:
            a = self.attention.attn_size
            sizes += [a, a * self.attn_length, a * self.attn_length]
        return sizes

    def zero_state(self, batch_size: int) -> tuple[tf.Tensor, ...]:
        return tuple(tf.zeros([batch_size, n]) for n in self.state_sizes())

    def _split_state(self, state: Sequence[tf.Tensor]):
        layers = [(state[2 * k], state[2 * k + 1]) for k in range(len(self.rnn_layer_sizes))]
        attn = tuple(state[2 * len(layers):]) if self.attention is not None else None
        return layers, attn

    # ------------------------------------------------------------- public API
    def __call__(self, inputs: tf.Tensor, training: bool = False) -> tf.Tensor:
        """Logits [B, T, sum(num_classes)] from inputs [B, T, input_size], zero initial state."""
        inputs = tf.convert_to_tensor(inputs, tf.float32)
        batch = tf.shape(inputs)[0]
        state = tuple(tf.zeros(tf.stack([batch, n])) for n in self.state_sizes())
        logits, _ = self.run(inputs, state, training=training)
        return logits

    def run(self, inputs: tf.Tensor, state: Sequence[tf.Tensor],
            training: bool = False) -> tuple[tf.Tensor, tuple[tf.Tensor, ...]]:
        """Logits and final state from inputs [B, T, input_size] and an initial state."""
        x = self._expand_inputs(tf.convert_to_tensor(inputs, tf.float32))
        layer_states, attn_state = self._split_state(list(state))
        keep = self.dropout_keep_prob if training else 1.0
        final_layers: list[Any] = [None] * len(self.lstms)
        final_attn: tuple = ()
        if self.attention_layout == 'whole_stack' and self.attention is not None:
            x, final_layers, final_attn = self._run_stack_attention(
                x, layer_states, attn_state, keep, training)
        else:
            for k, lstm in enumerate(self.lstms):
                projection = self.residual_projections[k]
                if projection is not None:
                    x = projection(x)
                if k == 0 and self.attention is not None:
                    y, final_layers[0], final_attn = self._run_first_layer_attention(
                        x, layer_states[0], attn_state)
                else:
                    y, final_layers[k] = self._run_lstm(lstm, x, layer_states[k])
                if self.residual_connections:
                    y = y + x
                x = self._dropout(y, keep, training)
        logits = self.output_layer(x)
        flat_state = tuple(t for pair in final_layers for t in pair) + tuple(final_attn)
        return logits, flat_state

    def step(self, inputs: tf.Tensor, state: Sequence[tf.Tensor], temperature: float = 1.0):
        """Softmax of the events after each input step, and the new state (compiled)."""
        if self._step_fn is None:
            width = 1 if self.input_depth is not None else self.input_size
            signature = [tf.TensorSpec([None, None, width], tf.float32),
                         tuple(tf.TensorSpec([None, n], tf.float32) for n in self.state_sizes()),
                         tf.TensorSpec([], tf.float32)]
            self._step_fn = tf.function(self._step, input_signature=signature)
        return self._step_fn(tf.convert_to_tensor(inputs, tf.float32),
                             tuple(tf.convert_to_tensor(s, tf.float32) for s in state),
                             tf.convert_to_tensor(temperature, tf.float32))

    def _step(self, inputs, state, temperature):
        logits, new_state = self.run(inputs, state, training=False)
        scaled = logits / temperature
        if not self.multi_head:
            return tf.nn.softmax(scaled), new_state
        heads = tf.split(scaled, self.class_sizes, axis=-1)
        return [tf.nn.softmax(h) for h in heads], new_state

    # ------------------------------------------------------------ internals
    def _expand_inputs(self, inputs: tf.Tensor) -> tf.Tensor:
        if self.input_depth is None:
            return inputs
        indices = tf.cast(tf.squeeze(inputs, axis=-1), tf.int64)
        return tf.one_hot(indices, self.input_depth)

    @staticmethod
    def _dropout(x: tf.Tensor, keep: float, training: bool) -> tf.Tensor:
        if not training or keep >= 1.0:
            return x
        return tf.nn.dropout(x, rate=1.0 - keep)

    @staticmethod
    def _time_major(x: tf.Tensor) -> tf.Tensor:
        return tf.transpose(x, [1, 0, 2])

    def _run_lstm(self, lstm: _Lstm, x: tf.Tensor, state):
        """One plain LSTM layer over all steps; the x-half of the kernel is batched."""
        n_in = lstm.input_size
        x_gates = self._time_major(_matmul_last(x, lstm.kernel[:n_in]) + lstm.bias)
        h_kernel = lstm.kernel[n_in:]

        def body(carry, gates_x):
            c, h = carry
            return _lstm_gates(gates_x + tf.matmul(h, h_kernel), c)

        init = (state[0], state[1])
        cs, hs = tf.scan(body, x_gates, initializer=init)
        return self._time_major(hs), self._final((cs, hs), init)

    def _attention_step(self, attn: _Attention, query, attn_states, features):
        """New attns from the query and the [L, B, size] window and its features."""
        return _attend(attn.query(query), attn.attn_v, attn_states, features)

    def _push_window(self, attn: _Attention, output, attn_states, features):
        # Time-major windows: dropping the oldest entry is a contiguous slice.
        return _push(attn_states, output), _push(features, tf.matmul(output, attn.attn_w))

    def _unpack_attn_state(self, attn_state):
        attns, states, features = attn_state
        shape = [-1, self.attn_length, self.attention.attn_size]
        return (attns, tf.transpose(tf.reshape(states, shape), [1, 0, 2]),
                tf.transpose(tf.reshape(features, shape), [1, 0, 2]))

    def _pack_attn_state(self, attns, states, features):
        flat = [-1, self.attn_length * self.attention.attn_size]
        return (attns, tf.reshape(tf.transpose(states, [1, 0, 2]), flat),
                tf.reshape(tf.transpose(features, [1, 0, 2]), flat))

    def _run_first_layer_attention(self, x, lstm_state, attn_state):
        attn = self.attention
        lstm = self.lstms[0]
        n_in = lstm.input_size
        proj_x = self._time_major(
            _matmul_last(x, attn.input_projection.kernel[:n_in]) + attn.input_projection.bias)
        proj_a = attn.input_projection.kernel[n_in:]
        out_kernel = attn.output_projection.kernel
        units = lstm.units

        def body(carry, px):
            c, h, attns, states, features, _ = carry
            cell_input = px + tf.matmul(attns, proj_a)
            gates = tf.matmul(tf.concat([cell_input, h], 1), lstm.kernel) + lstm.bias
            c, h = _lstm_gates(gates, c)
            attns = self._attention_step(attn, tf.concat([c, h], 1), states, features)
            output = (tf.matmul(h, out_kernel[:units]) + tf.matmul(attns, out_kernel[units:])
                      + attn.output_projection.bias)
            states, features = self._push_window(attn, output, states, features)
            return c, h, attns, states, features, output

        attns, states, features = self._unpack_attn_state(attn_state)
        batch = tf.shape(x)[0]
        init = (lstm_state[0], lstm_state[1], attns, states, features,
                tf.zeros(tf.stack([batch, attn.attn_size])))
        result = tf.scan(body, proj_x, initializer=init)
        final = self._final(result, init)
        outputs = self._time_major(result[5])
        return outputs, (final[0], final[1]), self._pack_attn_state(*final[2:5])

    @staticmethod
    def _final(result, init):
        # An empty sequence leaves the state as it was.
        length = tf.shape(result[0])[0]
        return tf.cond(length > 0, lambda: tuple(r[-1] for r in result), lambda: tuple(init))

    def _run_stack_attention(self, x, layer_states, attn_state, keep, training):
        """Old layout: the attention wrapper goes around the whole stack, step by step."""
        attn = self.attention
        n_in = self.lstms[0].input_size
        proj_x = self._time_major(
            _matmul_last(x, attn.input_projection.kernel[:n_in]) + attn.input_projection.bias)
        proj_a = attn.input_projection.kernel[n_in:]
        out_kernel = attn.output_projection.kernel
        top = self.lstms[-1].units
        count = len(self.lstms)

        def body(carry, px):
            pairs = carry[:2 * count]
            attns, states, features = carry[2 * count:2 * count + 3]
            layer_input = px + tf.matmul(attns, proj_a)
            new_pairs = []
            for k, lstm in enumerate(self.lstms):
                gates = tf.matmul(tf.concat([layer_input, pairs[2 * k + 1]], 1),
                                  lstm.kernel) + lstm.bias
                c, h = _lstm_gates(gates, pairs[2 * k])
                new_pairs += [c, h]
                layer_input = self._dropout(h, keep, training)
            attns = self._attention_step(attn, tf.concat(new_pairs, 1), states, features)
            output = (tf.matmul(layer_input, out_kernel[:top]) + tf.matmul(attns, out_kernel[top:])
                      + attn.output_projection.bias)
            states, features = self._push_window(attn, output, states, features)
            return (*new_pairs, attns, states, features, output)

        attns, states, features = self._unpack_attn_state(attn_state)
        batch = tf.shape(x)[0]
        init = (*[t for pair in layer_states for t in pair], attns, states, features,
                tf.zeros(tf.stack([batch, attn.attn_size])))
        result = tf.scan(body, proj_x, initializer=init)
        final = self._final(result, init)
        outputs = self._time_major(result[-1])
        pairs = [(final[2 * k], final[2 * k + 1]) for k in range(count)]
        return outputs, pairs, self._pack_attn_state(*final[2 * count:2 * count + 3])


def build_events_rnn(hparams: Any, input_size: int, num_classes: int | Sequence[int],
                     input_depth: int | None = None,
                     attention_layout: str = 'first_layer') -> EventsRnn:
    """The events RNN for `hparams` (rnn_layer_sizes, dropout_keep_prob, attn_length,
    residual_connections); `input_depth` set means inputs are [B, T, 1] class indices."""
    def get(name, default):
        return getattr(hparams, name) if name in hparams else default

    return EventsRnn(
        rnn_layer_sizes=list(hparams.rnn_layer_sizes),
        input_size=input_size,
        num_classes=num_classes if isinstance(num_classes, int) else list(num_classes),
        input_depth=input_depth,
        dropout_keep_prob=get('dropout_keep_prob', 1.0),
        attn_length=get('attn_length', 0),
        residual_connections=get('residual_connections', False),
        attention_layout=attention_layout)
