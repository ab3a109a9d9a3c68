"""The events RNN shared by Melody, Drums and Performance RNN (REFERENCE.md "Events RNN cells",
"Events RNN graph").

A stack of TF1-style BasicLSTMCell layers (one [x, h] kernel, gate columns i, j, f, o,
forget bias +1.0 added at run time), output dropout on every layer, optional residual
connections, optional attention (AttentionCellWrapper semantics) and a final dense layer.

Speed: all layers step through time in one while loop, so that layer k's step t and layer
k-1's step t+1 run side by side on two cores (a loop per layer is a single chain of small
ops). What does not depend on the recurrence is done for all steps outside the loop: layer
0's input half of the kernel (or of the attention input projection), the dropout masks,
the output layer. Gate arithmetic and attention are fused XLA kernels (fewer ops per
step: op dispatch, not arithmetic, dominates at these sizes). The attention window also
caches each entry's `entry @ attn_w` features (the original recomputes the 1x1
convolution over the whole window every step), so a step costs one small matmul instead
of `attn_length` of them. Training (training=True, 'first_layer' layout, no residual
connections) runs the same recurrence through magenta_rnn.rnn.fused, whose hand-written
backward pass replaces TF's gradient of the while loop.

Two attention layouts exist in the wild (REFERENCE.md "Checkpoints and variable names"):
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

import numpy as np
import tensorflow as tf

from magenta_rnn.rnn import backends, fused
from magenta_rnn.rnn.numpy_stepper import events_state_sizes

ATTENTION_LAYOUTS = ('first_layer', 'whole_stack')


def _glorot_values(shape: Sequence[int]) -> tf.Tensor:
    # TF1 get_variable's default initializer, glorot uniform (no Keras needed).
    fan_in = shape[-2] if len(shape) > 1 else shape[0]
    fan_out = shape[-1]
    limit = (6.0 / (fan_in + fan_out)) ** 0.5
    return tf.random.uniform(shape, -limit, limit)


def _glorot(shape: Sequence[int], name: str) -> tf.Variable:
    return tf.Variable(_glorot_values(shape), name=name)


def _zeros(shape: Sequence[int], name: str) -> tf.Variable:
    return tf.Variable(tf.zeros(shape), name=name)


@tf.function(jit_compile=True)
def _lstm_gates(gates: tf.Tensor, c: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """TF1 BasicLSTMCell update from pre-activations [B, 4u] ordered i, j, f, o.

    One fused XLA kernel each way: inside the time loop a dozen small ops per step cost
    more in dispatch than in arithmetic."""
    return backends.lstm_cell(gates, c)


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
    return fused.attend(y, attn_v, attn_states, features), backward


@tf.custom_gradient
def _push(window, entry):
    """Drops the oldest entry of a time-major [L, B, n] window and appends `entry`."""
    def backward(grad):
        return tf.concat([tf.zeros_like(grad[:1]), grad[:-1]], axis=0), grad[-1]
    return tf.concat([window[1:], entry[None]], axis=0), backward


def _recur(body, elems, initializer, num_outputs: int):
    """Runs `body(carry, x) -> (new_carry, outputs)` over time-major `elems` (a tensor or a
    tuple of tensors, x then being a tuple).

    Returns (final carry, outputs stacked over time). Unlike tf.scan only the per-step
    outputs are stacked: the carry (which holds the [L, B, n] attention windows) is not
    kept for every step. A statically single step (generation) runs the body once, no loop.
    """
    single = not isinstance(elems, tuple)
    elems = (elems,) if single else elems
    pick = (lambda xs: xs[0]) if single else tuple
    if elems[0].shape[0] == 1:
        carry, outputs = body(initializer, pick([e[0] for e in elems]))
        return carry, tuple(o[None] for o in outputs)
    length = tf.shape(elems[0])[0]
    arrays = tuple(tf.TensorArray(tf.float32, size=length, element_shape=None)
                   for _ in range(num_outputs))
    # Steps are read from TensorArrays: the gradient of slicing elems[t] would be a
    # full [T, ...] tensor per step.
    inputs = [tf.TensorArray(e.dtype, size=length, element_shape=e.shape[1:]).unstack(e)
              for e in elems]

    def loop_body(t, carry, arrays):
        carry, outputs = body(carry, pick([i.read(t) for i in inputs]))
        return t + 1, carry, tuple(a.write(t, o) for a, o in zip(arrays, outputs))

    _, carry, arrays = tf.while_loop(lambda t, *_: t < length, loop_body,
                                     (tf.constant(0), tuple(initializer), arrays))
    return carry, tuple(a.stack() for a in arrays)


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
        return fused.matmul_last(x, self.kernel) + self.bias


class _Attention(tf.Module):
    """AttentionCellWrapper around one or more LSTM layers (REFERENCE.md "Events RNN cells")."""

    def __init__(self, input_size: int, lstms: list[_Lstm], attn_length: int, name: str):
        super().__init__(name=name)
        self.attn_length = attn_length
        self.attn_size = lstms[-1].units
        query_size = sum(2 * lstm.units for lstm in lstms)
        # Linear([x, attns] -> input width), applied before the wrapped cell.
        self.input_projection = _Dense(input_size + self.attn_size, input_size, 'input_projection')
        self.attn_w = _glorot([self.attn_size, self.attn_size], 'attn_w')
        self.attn_v = _glorot([self.attn_size], 'attn_v')
        self.query = _Dense(query_size, self.attn_size, 'query')
        self.output_projection = _Dense(2 * self.attn_size, self.attn_size, 'output_projection')


class EventsRnn(tf.Module):
    """Stacked LSTM events model. Build it with `build_events_rnn`."""

    def __init__(self, rnn_layer_sizes: Sequence[int], input_size: int,
                 num_classes: int | Sequence[int], input_depth: int | None = None,
                 dropout_keep_prob: float = 1.0, attn_length: int = 0,
                 residual_connections: bool = False, attention_layout: str = 'first_layer',
                 one_hot_width: int = 0, name: str = 'events_rnn'):
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
        # The inputs' first one_hot_width columns are one-hot (training reads rows there).
        self.one_hot_width = int(one_hot_width)
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
        self._step_fns = None

    # ------------------------------------------------------------------ state
    def state_sizes(self) -> list[int]:
        return events_state_sizes(self.rnn_layer_sizes,
                                  self.attention and self.attention.attn_size, self.attn_length)

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
        elif training and not self.residual_connections and x.shape[1] != 1:
            x, final_layers, final_attn = self._run_fused(x, layer_states, attn_state, keep)
        else:
            x, final_layers, final_attn = self._run_stacked(
                x, layer_states, attn_state, keep, training)
        logits = self.output_layer(x)
        flat_state = tuple(t for pair in final_layers for t in pair) + tuple(final_attn)
        return logits, flat_state

    def step(self, inputs: tf.Tensor, state: Sequence[tf.Tensor], temperature: float = 1.0):
        """Softmax of the events after each input step, and the new state (compiled).

        Single steps ([B, 1, input_size]) use their own loop-free compiled function."""
        inputs = tf.convert_to_tensor(inputs, tf.float32)
        single = inputs.shape[1] == 1
        if self._step_fns is None:
            width = 1 if self.input_depth is not None else self.input_size
            states = tuple(tf.TensorSpec([None, n], tf.float32) for n in self.state_sizes())
            self._step_fns = {
                flag: tf.function(self._step, input_signature=[
                    tf.TensorSpec([None, 1 if flag else None, width], tf.float32), states,
                    tf.TensorSpec([], tf.float32)])
                for flag in (True, False)}
        return self._step_fns[single](inputs,
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
        if x.shape[0] == 1 or x.shape[1] == 1:
            return tf.reshape(x, [x.shape[1] or -1, x.shape[0] or -1, x.shape[2]])
        return tf.transpose(x, [1, 0, 2])

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

    def _run_fused(self, x, layer_states, attn_state, keep):
        """Training: the same recurrence as _run_stacked with a hand-written backward pass
        (magenta_rnn.rnn.fused); what does not depend on the recurrence runs outside it."""
        count = len(self.lstms)
        first = self.lstms[0]
        n_in = first.input_size
        attn = self.attention
        fold = attn is not None and fused.folds_input_projection(n_in, attn.attn_size,
                                                                  first.units)
        if fold:
            projected = x  # the projection happens inside, folded into layer 0's kernel
            weights = [first.kernel, first.bias]
        elif attn is not None:
            projected = (fused.matmul_last(x, attn.input_projection.kernel[:n_in])
                         + attn.input_projection.bias)
            weights = [first.kernel, first.bias]
        else:
            projected = fused.matmul_last(x, first.kernel[:n_in]) + first.bias
            weights = [first.kernel[n_in:], first.bias]
        inputs = self._time_major(projected)
        for lstm in self.lstms[1:]:
            weights += [lstm.kernel, lstm.bias]
        if attn is not None:
            weights += [attn.input_projection.kernel[n_in:], attn.attn_w, attn.attn_v,
                        attn.query.kernel, attn.query.bias, attn.output_projection.kernel,
                        attn.output_projection.bias]
        if fold:
            weights += [attn.input_projection.kernel[:n_in], attn.input_projection.bias]
        masks = []
        if keep < 1.0:
            steps, batch = tf.shape(inputs)[0], tf.shape(inputs)[1]
            masks = [tf.cast(tf.random.uniform(tf.stack([steps, batch, l.units])) < keep,
                             tf.float32) * (1.0 / keep) for l in self.lstms]
        state = [t for pair in layer_states for t in pair]
        if attn is not None:
            state += list(self._unpack_attn_state(attn_state))
        spec = fused.StackSpec(units=tuple(self.rnn_layer_sizes), input_size=n_in,
                               attn_length=self.attn_length, dropout=bool(masks),
                               fold_projection=fold,
                               one_hot_width=self.one_hot_width if fold else 0)
        outputs, final = backends.run_stack(spec, inputs, masks,
                                         [tf.convert_to_tensor(w) for w in weights], state)
        pairs = [(final[2 * k], final[2 * k + 1]) for k in range(count)]
        final_attn = self._pack_attn_state(*final[2 * count:]) if attn is not None else ()
        return self._time_major(outputs), pairs, final_attn

    def _run_stacked(self, x, layer_states, attn_state, keep, training):
        """Every layer in one time loop ('first_layer' layout).

        Layer k's step t and layer k-1's step t+1 do not depend on each other, so the while
        loop runs them side by side (as the original's MultiRNNCell in dynamic_rnn does);
        a loop per layer would leave all but one core idle. What does not depend on the
        recurrence is done for all steps before the loop: layer 0's residual projection and
        the input half of layer 0's kernel (or of the attention input projection).
        """
        count = len(self.lstms)
        first = self.lstms[0]
        if self.residual_projections[0] is not None:
            x = self.residual_projections[0](x)
        n_in = first.input_size
        attn = self.attention
        if attn is not None:
            projected = (fused.matmul_last(x, attn.input_projection.kernel[:n_in])
                         + attn.input_projection.bias)
        else:
            projected = fused.matmul_last(x, first.kernel[:n_in]) + first.bias
        elems = (self._time_major(projected),)
        if self.residual_connections:
            elems += (self._time_major(x),)
        dropout = training and keep < 1.0
        if dropout:
            # One random op for every step's mask (tf.nn.dropout's scaling by 1/keep), so a
            # step only multiplies.
            steps, batch = tf.shape(elems[0])[0], tf.shape(elems[0])[1]
            masks = [tf.cast(tf.random.uniform(tf.stack([steps, batch, l.units])) < keep,
                             tf.float32) * (1.0 / keep) for l in self.lstms]
            elems += tuple(masks)
        # Weights are read (and sliced) once, outside the loop: inside, each read would be
        # one more op per step forward and backward.
        kernels = [tf.convert_to_tensor(l.kernel) for l in self.lstms]
        biases = [tf.convert_to_tensor(l.bias) for l in self.lstms]
        h_kernel = kernels[0][n_in:]
        projections = [None if p is None else (tf.convert_to_tensor(p.kernel),
                                                tf.convert_to_tensor(p.bias))
                       for p in self.residual_projections]
        if attn is not None:
            proj_a = attn.input_projection.kernel[n_in:]
            query_kernel = tf.convert_to_tensor(attn.query.kernel)
            query_bias = tf.convert_to_tensor(attn.query.bias)
            out_kernel = tf.convert_to_tensor(attn.output_projection.kernel)
            out_bias = tf.convert_to_tensor(attn.output_projection.bias)
            attn_w, attn_v = tf.convert_to_tensor(attn.attn_w), tf.convert_to_tensor(attn.attn_v)

        def body(carry, step):
            c, h = carry[0], carry[1]
            new_carry = []
            if attn is not None:
                attns, states, features = carry[2 * count:]
                cell_input = step[0] + tf.matmul(attns, proj_a)
                c, h = _lstm_gates(tf.matmul(tf.concat([cell_input, h], 1), kernels[0])
                                   + biases[0], c)
                query = tf.matmul(tf.concat([c, h], 1), query_kernel) + query_bias
                attns = _attend(query, attn_v, states, features)
                y = tf.matmul(tf.concat([h, attns], 1), out_kernel) + out_bias
                attn_carry = (attns, _push(states, y), _push(features, tf.matmul(y, attn_w)))
            else:
                c, h = _lstm_gates(step[0] + tf.matmul(h, h_kernel), c)
                y, attn_carry = h, ()
            new_carry += [c, h]
            if self.residual_connections:
                y = y + step[1]
            masks = step[len(step) - count:] if dropout else None
            layer_input = y * masks[0] if dropout else y
            for k in range(1, count):
                if projections[k] is not None:
                    layer_input = tf.matmul(layer_input, projections[k][0]) + projections[k][1]
                c, h = _lstm_gates(tf.matmul(tf.concat([layer_input, carry[2 * k + 1]], 1),
                                             kernels[k]) + biases[k], carry[2 * k])
                new_carry += [c, h]
                y = h + layer_input if self.residual_connections else h
                layer_input = y * masks[k] if dropout else y
            return (*new_carry, *attn_carry), (layer_input,)

        init = tuple(t for pair in layer_states for t in pair)
        if attn is not None:
            init += self._unpack_attn_state(attn_state)
        final, (outputs,) = _recur(body, elems, init, 1)
        pairs = [(final[2 * k], final[2 * k + 1]) for k in range(count)]
        final_attn = self._pack_attn_state(*final[2 * count:]) if attn is not None else ()
        return self._time_major(outputs), pairs, final_attn

    def _run_stack_attention(self, x, layer_states, attn_state, keep, training):
        """Old layout: the attention wrapper goes around the whole stack, step by step."""
        attn = self.attention
        n_in = self.lstms[0].input_size
        proj_x = self._time_major(
            fused.matmul_last(x, attn.input_projection.kernel[:n_in]) + attn.input_projection.bias)
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
            return (*new_pairs, attns, states, features), (output,)

        attns, states, features = self._unpack_attn_state(attn_state)
        init = (*[t for pair in layer_states for t in pair], attns, states, features)
        final, (outputs,) = _recur(body, proj_x, init, 1)
        outputs = self._time_major(outputs)
        pairs = [(final[2 * k], final[2 * k + 1]) for k in range(count)]
        return outputs, pairs, self._pack_attn_state(*final[2 * count:2 * count + 3])


def build_events_rnn(hparams: Any, input_size: int, num_classes: int | Sequence[int],
                     input_depth: int | None = None,
                     attention_layout: str = 'first_layer', one_hot_width: int = 0) -> EventsRnn:
    """The events RNN for `hparams` (rnn_layer_sizes, dropout_keep_prob, attn_length,
    residual_connections); `input_depth` set means inputs are [B, T, 1] class indices;
    `one_hot_width` > 0 says the inputs' first columns are one one-hot block."""
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
        attention_layout=attention_layout, one_hot_width=one_hot_width)


# The numpy fast path lives in a TensorFlow-free module (generation from a shipped default
# must not import TensorFlow); re-exported here for existing callers.
from magenta_rnn.rnn.numpy_stepper import NumpyStepper  # noqa: E402,F401  pylint: disable=wrong-import-position
