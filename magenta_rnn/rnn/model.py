"""The events RNN shared by Melody, Drums and Performance RNN (REFERENCE.md "Events RNN cells",
"Events RNN graph").

A stack of TF1-style BasicLSTMCell layers (one [x, h] kernel, gate columns i, j, f, o,
forget bias +1.0 added at run time), output dropout on every layer, optional residual
connections, optional attention (AttentionCellWrapper semantics) and a final dense layer.

The model holds the variables (magenta_rnn.rnn.layers), the state layout and the public
calls; the recurrence runs in one of two places: training ('first_layer' layout, no
residual connections) through magenta_rnn.rnn.backends (the fused loop with a hand-written
backward pass on a CPU, cuDNN on a GPU), everything else through the plain time loop of
magenta_rnn.rnn.step_loop.

Two attention layouts exist in the wild (REFERENCE.md "Checkpoints and variable names"):
* 'first_layer' (May 2017 on): only layer 0 is wrapped; the query is layer 0's (c, h).
* 'whole_stack' (older bundles): the wrapper goes around the whole stack; its query is
  every layer's (c, h) and it projects the top layer's output.

State is a flat tuple of [batch, n] float32 tensors, per layer c then h; the attention
block then adds attns, attn_states [batch, attn_length * size] (oldest first) and its
cached features [batch, attn_length * size].
"""
from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import tensorflow as tf

from magenta_rnn.rnn import backends, fused, step_loop
from magenta_rnn.rnn.layers import Attention, Dense, Lstm
from magenta_rnn.rnn.numpy_stepper import events_state_sizes

ATTENTION_LAYOUTS = ('first_layer', 'whole_stack')


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
        self.residual_projections: list[Dense | None] = []
        self.lstms: list[Lstm] = []
        for k, units in enumerate(self.rnn_layer_sizes):
            projection = None
            if self.residual_connections and (k == 0 or units != self.rnn_layer_sizes[k - 1]):
                projection = Dense(width, units, f'residual_projection_{k}')
                width = units
            self.residual_projections.append(projection)
            self.lstms.append(Lstm(width, units, f'lstm_{k}'))
            width = units
        self.attention: Attention | None = None
        if self.attn_length:
            wrapped = self.lstms if self.attention_layout == 'whole_stack' else self.lstms[:1]
            self.attention = Attention(self.lstms[0].input_size, wrapped, self.attn_length,
                                        'attention')
        self.output_layer = Dense(self.rnn_layer_sizes[-1], self.num_classes, 'fully_connected')
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
        window = self._unpack_attn_state(attn_state) if self.attention is not None else None
        keep = self.dropout_keep_prob if training else 1.0
        if self.attention_layout == 'whole_stack' and self.attention is not None:
            x, final_layers, window = step_loop.run_whole_stack_attention(
                self, x, layer_states, window, keep, training)
        elif training and not self.residual_connections and x.shape[1] != 1:
            x, final_layers, window = self.run_fused(x, layer_states, window, keep)
        else:
            x, final_layers, window = step_loop.run_stack(self, x, layer_states, window, keep,
                                                          training)
        logits = self.output_layer(x)
        final_attn = self._pack_attn_state(*window) if window is not None else ()
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

    def _unpack_attn_state(self, attn_state):
        attns, states, features = attn_state
        shape = [-1, self.attn_length, self.attention.attn_size]
        return (attns, tf.transpose(tf.reshape(states, shape), [1, 0, 2]),
                tf.transpose(tf.reshape(features, shape), [1, 0, 2]))

    def _pack_attn_state(self, attns, states, features):
        flat = [-1, self.attn_length * self.attention.attn_size]
        return (attns, tf.reshape(tf.transpose(states, [1, 0, 2]), flat),
                tf.reshape(tf.transpose(features, [1, 0, 2]), flat))

    def run_fused(self, x, layer_states, window, keep: float):
        """Training: the recurrence of step_loop.run_stack through the selected backend
        (arguments and results as there); what does not depend on the recurrence runs
        outside it."""
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
        inputs = step_loop.time_major(projected)
        for lstm in self.lstms[1:]:
            weights += [lstm.kernel, lstm.bias]
        if attn is not None:
            weights += [attn.input_projection.kernel[n_in:], attn.attn_w, attn.attn_v,
                        attn.query.kernel, attn.query.bias, attn.output_projection.kernel,
                        attn.output_projection.bias]
        if fold:
            weights += [attn.input_projection.kernel[:n_in], attn.input_projection.bias]
        masks = step_loop.dropout_masks(inputs, self.rnn_layer_sizes, keep) if keep < 1.0 else []
        state = [t for pair in layer_states for t in pair]
        if attn is not None:
            state += list(window)
        spec = fused.StackSpec(units=tuple(self.rnn_layer_sizes), input_size=n_in,
                               attn_length=self.attn_length, dropout=bool(masks),
                               fold_projection=fold,
                               one_hot_width=self.one_hot_width if fold else 0)
        outputs, final = backends.run_stack(spec, inputs, masks,
                                         [tf.convert_to_tensor(w) for w in weights], state)
        pairs = [(final[2 * k], final[2 * k + 1]) for k in range(count)]
        return (step_loop.time_major(outputs), pairs,
                tuple(final[2 * count:]) if attn is not None else None)


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


def events_rnn_builder(config: Any) -> Callable[..., EventsRnn]:
    """build_events_rnn with an EventsRnnConfig's attention layout: the build_model that the
    train command hands to run_training (and a benchmark to train.build_train_step)."""
    return functools.partial(build_events_rnn, attention_layout=config.attention_layout)


# The numpy fast path lives in a TensorFlow-free module (generation from a shipped default
# must not import TensorFlow); re-exported here for existing callers.
from magenta_rnn.rnn.numpy_stepper import NumpyStepper  # noqa: E402,F401
