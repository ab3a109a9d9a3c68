"""The events RNN's plain time loop: generation, evaluation, the old 'whole_stack'
attention layout, residual connections, and the truth the fused training loop is
tested against.

All layers step through time in one tf.while_loop, so that layer k's step t and layer
k-1's step t+1 run side by side on two cores (a loop per layer is a single chain of small
ops). What does not depend on the recurrence is done for all steps outside the loop:
layer 0's input half of the kernel (or of the attention input projection), the dropout
masks, the output layer. Gate arithmetic and attention are fused XLA kernels (fewer ops
per step: op dispatch, not arithmetic, dominates at these sizes). The attention window
also caches each entry's `entry @ attn_w` features (the original recomputes the 1x1
convolution over the whole window every step), so a step costs one small matmul instead
of `attn_length` of them.

The run functions take the model (for its layers), inputs [B, T, n], the layers' (c, h)
pairs and the attention window (attns [B, a], entries and their features [L, B, a], time-
major, oldest first; None without attention). They return outputs [B, T, u_top], the
final pairs and the final window.
"""
from __future__ import annotations

import tensorflow as tf

from magenta_rnn.rnn import backends, fused


def time_major(x: tf.Tensor) -> tf.Tensor:
    """[B, T, n] <-> [T, B, n]; a reshape when either is statically 1."""
    if x.shape[0] == 1 or x.shape[1] == 1:
        return tf.reshape(x, [x.shape[1] or -1, x.shape[0] or -1, x.shape[2]])
    return tf.transpose(x, [1, 0, 2])


def dropout_masks(inputs: tf.Tensor, layer_sizes, keep: float) -> list[tf.Tensor]:
    """One [T, B, units] mask per layer for time-major `inputs` (tf.nn.dropout's scaling by
    1/keep), drawn in one random op each so that a step only multiplies."""
    steps, batch = tf.shape(inputs)[0], tf.shape(inputs)[1]
    return [tf.cast(tf.random.uniform(tf.stack([steps, batch, units])) < keep,
                    tf.float32) * (1.0 / keep) for units in layer_sizes]


@tf.function(jit_compile=True)
def lstm_gates(gates: tf.Tensor, c: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
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
def attend(y, attn_v, attn_states, features):
    """Σ_i softmax_i(v·tanh(features_i + y)) · attn_states_i, one fused XLA kernel each way."""
    def backward(grad):
        return _attend_backward(grad, y, attn_v, attn_states, features)
    return fused.attend(y, attn_v, attn_states, features), backward


@tf.custom_gradient
def push(window, entry):
    """Drops the oldest entry of a time-major [L, B, n] window and appends `entry`."""
    def backward(grad):
        return tf.concat([tf.zeros_like(grad[:1]), grad[:-1]], axis=0), grad[-1]
    return tf.concat([window[1:], entry[None]], axis=0), backward


def recur(body, elems, initializer, num_outputs: int):
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


def run_stack(model, x, layer_states, window, keep: float, training: bool):
    """Every layer in one time loop ('first_layer' layout: attention wraps layer 0 only).

    Layer k's step t and layer k-1's step t+1 do not depend on each other, so the while
    loop runs them side by side (as the original's MultiRNNCell in dynamic_rnn does).
    """
    lstms = model.lstms
    count = len(lstms)
    first = lstms[0]
    residual = model.residual_connections
    if model.residual_projections[0] is not None:
        x = model.residual_projections[0](x)
    n_in = first.input_size
    attn = model.attention
    if attn is not None:
        projected = (fused.matmul_last(x, attn.input_projection.kernel[:n_in])
                     + attn.input_projection.bias)
    else:
        projected = fused.matmul_last(x, first.kernel[:n_in]) + first.bias
    elems = (time_major(projected),)
    if residual:
        elems += (time_major(x),)
    dropout = training and keep < 1.0
    if dropout:
        elems += tuple(dropout_masks(elems[0], model.rnn_layer_sizes, keep))
    # Weights are read (and sliced) once, outside the loop: inside, each read would be
    # one more op per step forward and backward.
    kernels = [tf.convert_to_tensor(lstm.kernel) for lstm in lstms]
    biases = [tf.convert_to_tensor(lstm.bias) for lstm in lstms]
    h_kernel = kernels[0][n_in:]
    projections = [None if p is None else (tf.convert_to_tensor(p.kernel),
                                            tf.convert_to_tensor(p.bias))
                   for p in model.residual_projections]
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
            c, h = lstm_gates(tf.matmul(tf.concat([cell_input, h], 1), kernels[0])
                              + biases[0], c)
            query = tf.matmul(tf.concat([c, h], 1), query_kernel) + query_bias
            attns = attend(query, attn_v, states, features)
            y = tf.matmul(tf.concat([h, attns], 1), out_kernel) + out_bias
            attn_carry = (attns, push(states, y), push(features, tf.matmul(y, attn_w)))
        else:
            c, h = lstm_gates(step[0] + tf.matmul(h, h_kernel), c)
            y, attn_carry = h, ()
        new_carry += [c, h]
        if residual:
            y = y + step[1]
        masks = step[len(step) - count:] if dropout else None
        layer_input = y * masks[0] if dropout else y
        for k in range(1, count):
            if projections[k] is not None:
                layer_input = tf.matmul(layer_input, projections[k][0]) + projections[k][1]
            c, h = lstm_gates(tf.matmul(tf.concat([layer_input, carry[2 * k + 1]], 1),
                                        kernels[k]) + biases[k], carry[2 * k])
            new_carry += [c, h]
            y = h + layer_input if residual else h
            layer_input = y * masks[k] if dropout else y
        return (*new_carry, *attn_carry), (layer_input,)

    init = tuple(t for pair in layer_states for t in pair)
    if attn is not None:
        init += tuple(window)
    final, (outputs,) = recur(body, elems, init, 1)
    pairs = [(final[2 * k], final[2 * k + 1]) for k in range(count)]
    return time_major(outputs), pairs, (tuple(final[2 * count:]) if attn is not None else None)


def run_whole_stack_attention(model, x, layer_states, window, keep: float, training: bool):
    """Old layout: the attention wrapper goes around the whole stack, step by step; its
    query is every layer's (c, h) and it projects the top layer's output."""
    attn = model.attention
    lstms = model.lstms
    n_in = lstms[0].input_size
    proj_x = time_major(
        fused.matmul_last(x, attn.input_projection.kernel[:n_in]) + attn.input_projection.bias)
    proj_a = attn.input_projection.kernel[n_in:]
    out_kernel = attn.output_projection.kernel
    top = lstms[-1].units
    count = len(lstms)

    def dropout(h):
        return tf.nn.dropout(h, rate=1.0 - keep) if training and keep < 1.0 else h

    def body(carry, px):
        pairs = carry[:2 * count]
        attns, states, features = carry[2 * count:2 * count + 3]
        layer_input = px + tf.matmul(attns, proj_a)
        new_pairs = []
        for k, lstm in enumerate(lstms):
            gates = tf.matmul(tf.concat([layer_input, pairs[2 * k + 1]], 1),
                              lstm.kernel) + lstm.bias
            c, h = lstm_gates(gates, pairs[2 * k])
            new_pairs += [c, h]
            layer_input = dropout(h)
        attns = attend(attn.query(tf.concat(new_pairs, 1)), attn.attn_v, states, features)
        output = (tf.matmul(layer_input, out_kernel[:top]) + tf.matmul(attns, out_kernel[top:])
                  + attn.output_projection.bias)
        # Time-major windows: dropping the oldest entry is a contiguous slice.
        states, features = push(states, output), push(features, tf.matmul(output, attn.attn_w))
        return (*new_pairs, attns, states, features), (output,)

    init = (*[t for pair in layer_states for t in pair], *window)
    final, (outputs,) = recur(body, proj_x, init, 1)
    pairs = [(final[2 * k], final[2 * k + 1]) for k in range(count)]
    return time_major(outputs), pairs, tuple(final[2 * count:2 * count + 3])
