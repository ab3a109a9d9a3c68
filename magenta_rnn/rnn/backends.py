"""The LSTM stack's recurrence behind one interface, `run_stack`, with three backends.

* `fused` (the default on a CPU): magenta_rnn.rnn.fused, a forward loop that saves what
  its hand-written backward loop needs. Fastest on a small CPU.
* `reference`: the same math written plainly, step by step, differentiated by TensorFlow
  (no custom gradient). Slow; it is the truth every other backend is tested against.
* `cudnn` (the default when TensorFlow sees a GPU): every LSTM layer that is not wrapped
  by attention and has no scheduled-sampling feedback runs as one cuDNN call over the
  whole sequence (CudnnRNNV3); on a CPU the same layout (gate order i, f, c, o, input and
  recurrent kernels apart, forget bias folded into the bias) runs as a plain loop.
  Attention layers and decoders that feed their own samples back run on `reference`.

Every backend reads the same variables (TF1 BasicLSTMCell / LSTMBlockCell layout: one
[input + units, 4 units] kernel, gates i, j, f, o, forget bias +1 at run time); the
cuDNN layout is derived from them inside the step, so a checkpoint is the same whichever
backend trained it. The choice: `--rnn_backend` on every trainer, or the environment
variable MAGENTA_RNN_BACKEND; `auto` picks `cudnn` with a GPU, `fused` without.

Mixed precision (`configure(mixed_precision='bfloat16')`, the `mixed_precision` hparam):
the recurrence computes in bfloat16; its inputs and outputs, the variables and so the
checkpoints stay float32.
"""
from __future__ import annotations

import os
from collections.abc import Sequence

import tensorflow as tf

from magenta_rnn.rnn import fused

BACKENDS = ('auto', 'fused', 'reference', 'cudnn')
MIXED_PRECISION = ('', 'bfloat16')
ENVIRONMENT_VARIABLE = 'MAGENTA_RNN_BACKEND'

_settings = {'backend': None, 'mixed_precision': ''}


def configure(backend: str | None = None, mixed_precision: str | None = None) -> None:
    """Sets the backend (None: keep; 'auto' or unset: by device) and the compute dtype
    ('' float32, 'bfloat16') for stacks traced from now on."""
    if backend is not None:
        if backend not in BACKENDS:
            raise ValueError(f'--rnn_backend: unknown backend {backend!r}; choose one of '
                             f'{", ".join(BACKENDS)}')
        _settings['backend'] = None if backend == 'auto' else backend
    if mixed_precision is not None:
        if mixed_precision not in MIXED_PRECISION:
            raise ValueError(f'--hparams: mixed_precision={mixed_precision!r} is not supported; '
                             f'use "bfloat16" or "" (float32). float16 would need loss '
                             f'scaling; bfloat16 has float32\'s range and needs none.')
        _settings['mixed_precision'] = mixed_precision


def selected_backend() -> str:
    """The backend run_stack uses: the configured one, else MAGENTA_RNN_BACKEND, else by device."""
    backend = _settings['backend'] or os.environ.get(ENVIRONMENT_VARIABLE) or 'auto'
    if backend not in BACKENDS:
        raise ValueError(f'{ENVIRONMENT_VARIABLE}={backend!r}: choose one of {", ".join(BACKENDS)}')
    if backend == 'auto':
        return 'cudnn' if tf.config.list_logical_devices('GPU') else 'fused'
    return backend


def compute_dtype() -> tf.DType:
    return tf.bfloat16 if _settings['mixed_precision'] == 'bfloat16' else tf.float32


def run_stack(spec: fused.StackSpec, inputs: tf.Tensor, masks: Sequence[tf.Tensor],
              weights: Sequence[tf.Tensor], state: Sequence[tf.Tensor],
              feedback: fused.Feedback | None = None, backend: str | None = None):
    """(outputs [T, B, u_top], final state) of the stack; arguments as fused.run_stack.

    backend: None for selected_backend(). Outputs and state come back in float32.
    """
    backend = backend or selected_backend()
    dtype = compute_dtype()
    if dtype != tf.float32:
        def cast(values):
            return [tf.cast(v, dtype) for v in values]

        inputs, masks, weights, state = (tf.cast(inputs, dtype), cast(masks), cast(weights),
                                         cast(state))
        if feedback is not None:
            sample = feedback.sample
            feedback = fused.Feedback(
                tf.cast(feedback.truth, dtype), feedback.coins,
                tf.cast(feedback.out_kernel, dtype), tf.cast(feedback.out_bias, dtype),
                lambda logits: tf.cast(sample(tf.cast(logits, tf.float32)), dtype))
    if backend == 'fused':
        outputs, final = fused.run_stack(spec, inputs, masks, weights, state, feedback)
    elif backend == 'reference':
        outputs, final = reference_stack(spec, inputs, masks, weights, state, feedback)
    elif backend == 'cudnn':
        outputs, final = cudnn_stack(spec, inputs, masks, weights, state, feedback)
    else:
        raise ValueError(f'unknown recurrence backend {backend!r}')
    if dtype != tf.float32:
        outputs, final = tf.cast(outputs, tf.float32), tuple(tf.cast(t, tf.float32) for t in final)
    return outputs, tuple(final)


# ---------------------------------------------------------------------------
# reference

def lstm_cell(pre: tf.Tensor, c: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """BasicLSTMCell / LSTMBlockCell: (new c, new h) from pre-activations ordered i, j, f, o."""
    i, j, f, o = tf.split(pre, 4, axis=-1)
    new_c = c * tf.sigmoid(f + fused.FORGET_BIAS) + tf.sigmoid(i) * tf.tanh(j)
    return new_c, tf.tanh(new_c) * tf.sigmoid(o)


def attention_read(query: tf.Tensor, attn_v: tf.Tensor, window: tf.Tensor,
                   features: tf.Tensor) -> tf.Tensor:
    """Σ_i softmax_i(v·tanh(features_i + query)) · window_i over a time-major [L, B, a] window."""
    scores = tf.reduce_sum(attn_v * tf.tanh(features + query[None]), axis=-1)
    return tf.reduce_sum(tf.nn.softmax(scores, axis=0)[:, :, None] * window, axis=0)


def reference_stack(spec: fused.StackSpec, inputs, masks, weights, state, feedback=None):
    """fused.run_stack's math, one plain step at a time, with TensorFlow's own gradient."""
    count = len(spec.units)
    attention = spec.attn_length > 0
    layers = [(weights[2 * k], weights[2 * k + 1]) for k in range(count)]
    if attention:
        proj_a, attn_w, attn_v, query_kernel, query_bias, out_kernel, out_bias = weights[2 * count:][:7]
        if spec.fold_projection:
            proj_x, proj_bias = weights[2 * count + 7:]
            # The projection of the raw inputs, unfolded: x @ P_x + b_P.
            inputs = fused.matmul_last(inputs, proj_x) + proj_bias
    length = tf.shape(inputs)[0]

    def body(t, carry, outputs):
        new_carry = []
        if attention:
            attns, window, features = carry[2 * count:]
            cell_input = inputs[t] + tf.matmul(attns, proj_a)
            pre = tf.matmul(tf.concat([cell_input, carry[1]], 1), layers[0][0]) + layers[0][1]
        else:
            pre = inputs[t] + tf.matmul(carry[1], layers[0][0])
            if feedback is not None:
                top_h, coins = carry[2 * count - 1], feedback.coins[t]
                sampled = feedback.sample(tf.matmul(top_h, feedback.out_kernel) + feedback.out_bias)
                fed = tf.where(coins[:, None], tf.stop_gradient(sampled), feedback.truth[t])
                pre += tf.matmul(fed, weights[-1])
        c, h = lstm_cell(pre, carry[0])
        new_carry += [c, h]
        y, attn_carry = h, []
        if attention:
            query = tf.matmul(tf.concat([c, h], 1), query_kernel) + query_bias
            attns = attention_read(query, attn_v, window, features)
            y = tf.matmul(tf.concat([h, attns], 1), out_kernel) + out_bias
            attn_carry = [attns, tf.concat([window[1:], y[None]], 0),
                          tf.concat([features[1:], tf.matmul(y, attn_w)[None]], 0)]
        layer_input = y * masks[0][t] if spec.dropout else y
        for k in range(1, count):
            c, h = lstm_cell(tf.matmul(tf.concat([layer_input, carry[2 * k + 1]], 1), layers[k][0])
                             + layers[k][1], carry[2 * k])
            new_carry += [c, h]
            layer_input = h * masks[k][t] if spec.dropout else h
        return t + 1, (*new_carry, *attn_carry), outputs.write(t, layer_input)

    outputs = tf.TensorArray(inputs.dtype, size=length)
    _, final, outputs = tf.while_loop(lambda t, *_: t < length, body,
                                      (tf.constant(0), tuple(state), outputs))
    return outputs.stack(), tuple(final)


# ---------------------------------------------------------------------------
# cuDNN layout

def cudnn_gate_order(x: tf.Tensor) -> tf.Tensor:
    """Columns i, j, f, o (TF1 cells) -> i, f, c, o (cuDNN) along the last axis."""
    i, j, f, o = tf.split(x, 4, axis=-1)
    return tf.concat([i, f, j, o], axis=-1)


def cudnn_layer(x: tf.Tensor, input_kernel: tf.Tensor | None, recurrent_kernel: tf.Tensor,
                bias: tf.Tensor, c0: tf.Tensor, h0: tf.Tensor):
    """One LSTM layer over time-major x [T, B, n] in the cuDNN layout: returns (hs, c, h).

    Kernels and bias are in the TF1 layout (i, j, f, o; forget bias not yet added) and
    converted here, so gradients reach the checkpoint's variables. input_kernel None: x
    is already the input's pre-activation [T, B, 4u] (bias included).
    """
    units = recurrent_kernel.shape[0]
    recurrent = cudnn_gate_order(recurrent_kernel)
    cudnn_bias = cudnn_gate_order(bias + tf.concat([tf.zeros([2 * units], bias.dtype),
                                                    tf.fill([units], tf.cast(fused.FORGET_BIAS, bias.dtype)),
                                                    tf.zeros([units], bias.dtype)], 0))
    if input_kernel is None:
        x = cudnn_gate_order(x)
    kernel = None if input_kernel is None else cudnn_gate_order(input_kernel)
    if tf.config.list_logical_devices('GPU'):
        if kernel is None:
            kernel = tf.eye(4 * units, dtype=x.dtype)  # cuDNN always multiplies its input
        return _cudnn_call(x, kernel, recurrent, cudnn_bias, c0, h0)
    # The same math on a CPU.
    projected = (x if kernel is None else fused.matmul_last(x, kernel)) + cudnn_bias

    def step(carry, pre):
        c, h = carry
        i, f, g, o = tf.split(pre + tf.matmul(h, recurrent), 4, axis=-1)
        c = tf.sigmoid(f) * c + tf.sigmoid(i) * tf.tanh(g)
        return c, tf.sigmoid(o) * tf.tanh(c)

    cs, hs = tf.scan(step, projected, initializer=(c0, h0))
    return hs, cs[-1], hs[-1]


def _cudnn_call(x, kernel, recurrent, bias, c0, h0):
    """CudnnRNNV3 with canonical weights: per gate W then R, transposed; input bias zero."""
    gate_weights = tf.split(kernel, 4, axis=1) + tf.split(recurrent, 4, axis=1)
    biases = tf.split(tf.zeros_like(bias), 4) + tf.split(bias, 4)
    params = tf.concat([tf.reshape(tf.transpose(w), [-1]) for w in gate_weights] + biases, 0)
    lengths = tf.fill([tf.shape(x)[1]], tf.shape(x)[0])
    hs, h, c, _, _ = tf.raw_ops.CudnnRNNV3(
        input=x, input_h=h0[None], input_c=c0[None], params=params, is_training=True,
        rnn_mode='lstm', sequence_lengths=lengths, time_major=True)
    return hs, c[0], h[0]


def cudnn_stack(spec: fused.StackSpec, inputs, masks, weights, state, feedback=None):
    """Layers without attention or feedback as cuDNN calls; the rest on `reference`."""
    if feedback is not None:
        return reference_stack(spec, inputs, masks, weights, state, feedback)
    count = len(spec.units)
    final: list[tf.Tensor] = []
    attn_final: tuple = ()
    if spec.attn_length:
        # Layer 0 with its attention wrapper steps on the reference path.
        first = fused.StackSpec(units=spec.units[:1], input_size=spec.input_size,
                                attn_length=spec.attn_length, dropout=spec.dropout,
                                fold_projection=spec.fold_projection,
                                one_hot_width=spec.one_hot_width)
        layer_input, first_final = reference_stack(
            first, inputs, masks[:1], [*weights[:2], *weights[2 * count:]],
            [*state[:2], *state[2 * count:]])
        final += first_final[:2]
        attn_final = tuple(first_final[2:])
    else:
        hs, c, h = cudnn_layer(inputs, None, weights[0], weights[1] * 0.0, state[0], state[1])
        final += [c, h]
        layer_input = hs * masks[0] if spec.dropout else hs
    below = spec.units[0]
    for k in range(1, count):
        kernel, bias = weights[2 * k], weights[2 * k + 1]
        hs, c, h = cudnn_layer(layer_input, kernel[:below], kernel[below:], bias,
                               state[2 * k], state[2 * k + 1])
        final += [c, h]
        layer_input = hs * masks[k] if spec.dropout else hs
        below = spec.units[k]
    return layer_input, (*final, *attn_final)
