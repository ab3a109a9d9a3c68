"""The training-time recurrence of the events RNN with a hand-written backward pass.

Same math as step_loop.run_stack (REFERENCE.md "Events RNN cells": BasicLSTMCell layers,
gate columns i, j, f, o, forget bias +1, output dropout on every layer, attention on layer 0 in the
'first_layer' layout), but TF's automatic gradient of a while loop is replaced by:

* a forward loop that keeps, per step, only what the backward needs (gate activations,
  cell states, outputs, attention queries);
* a backward loop that runs only the recurrent chain: per step and layer the
  [B, 4u] x [4u, in + u] products and one fused kernel for the gates; the attention
  window's gradient is carried as a [L, B, size] tensor and shifted inside the fused
  attention kernel (no per-step window pushes and their gradients);
* every weight gradient computed after the loop as one [T*B, n]^T @ [T*B, m] matmul,
  instead of a small outer product accumulated at every step.

Both loops still run all layers together, so layer k's step t and layer k-1's next step
can run side by side on two cores. Above layer 0, the products with the input from below
and with h are separate matmuls, so only h's (half of the work) is on a layer's
step-to-step chain. MusicVAE's LSTMs (LSTMBlockCell: the same gates and
forget bias) run their training loops here too; for its decoder, scheduled sampling feeds
each step's sampled output back inside the forward loop (Feedback).
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import tensorflow as tf

FORGET_BIAS = 1.0


@tf.function(jit_compile=True)
def _gates_forward(pre, c):
    """(new_c, new_h, saved [i, j, f, o, tanh(new_c)]) from gate pre-activations [B, 4u]."""
    i, j, f, o = tf.split(pre, 4, axis=-1)
    i, j, f, o = tf.sigmoid(i), tf.tanh(j), tf.sigmoid(f + FORGET_BIAS), tf.sigmoid(o)
    new_c = c * f + i * j
    tanh_c = tf.tanh(new_c)
    return new_c, tanh_c * o, tf.concat([i, j, f, o, tanh_c], axis=-1)


@tf.function(jit_compile=True)
def _gates_backward(dh, dc, saved, c_prev):
    """(d pre-activations [B, 4u], d c_prev) of one BasicLSTMCell step."""
    i, j, f, o, tanh_c = tf.split(saved, 5, axis=-1)
    dc = dc + dh * o * (1.0 - tanh_c * tanh_c)
    dpre = tf.concat([dc * j * i * (1.0 - i), dc * i * (1.0 - j * j),
                      dc * c_prev * f * (1.0 - f), dh * tanh_c * o * (1.0 - o)], axis=-1)
    return dpre, dc * f


@tf.function(jit_compile=True)
def attend(q, attn_v, window, features):
    """Σ_i softmax_i(v·tanh(features_i + q)) · window_i, one fused XLA kernel."""
    # Windows are time-major [L, B, size]; the softmax runs over L (axis 0).
    scores = tf.reduce_sum(attn_v * tf.tanh(features + q[None]), axis=-1)
    weights = tf.nn.softmax(scores, axis=0)
    return tf.reduce_sum(weights[:, :, None] * window, axis=0)


@tf.function(jit_compile=True)
def _attend_backward(da, q, attn_v, window, features, grad_window, grad_features, grad_v):
    """Backward of one attention step, folded into the carried window gradients.

    grad_window / grad_features hold the gradient of the entries of the next step's
    window (oldest first); the returned ones are for this step's window: shifted by one
    (the newest entry is complete and was read off by the caller) plus this step's part.
    grad_v [B, size] accumulates attn_v's gradient summed over steps and the window (the
    sum over the batch is left to the caller: XLA's kernel for a sum over two axes is
    much slower). Returns (d q, new grad_window, new grad_features, new grad_v).
    """
    u = tf.tanh(features + q[None])
    weights = tf.nn.softmax(tf.reduce_sum(attn_v * u, axis=-1), axis=0)  # [L, B]
    grad_weights = tf.reduce_sum(window * da[None], axis=-1)
    grad_scores = weights * (grad_weights - tf.reduce_sum(weights * grad_weights, 0, keepdims=True))
    grad_pre = grad_scores[:, :, None] * attn_v * (1.0 - u * u)
    grad_v = grad_v + tf.reduce_sum(grad_scores[:, :, None] * u, axis=0)
    shift = lambda g: tf.concat([tf.zeros_like(g[:1]), g[:-1]], axis=0)  # noqa: E731
    new_window = shift(grad_window) + weights[:, :, None] * da[None]
    new_features = shift(grad_features) + grad_pre
    return tf.reduce_sum(grad_pre, axis=0), new_window, new_features, grad_v


@dataclass(frozen=True)
class StackSpec:
    """The static shape of the stack: layer sizes, layer 0's input width, attention."""
    units: tuple[int, ...]
    input_size: int            # layer 0's cell input width (the attention projection's output)
    attn_length: int = 0
    dropout: bool = False
    # Layer 0 with attention: the input projection is folded into layer 0's kernel
    # (folds_input_projection); run_stack then takes the raw inputs and the projection's
    # x rows and bias as two more weights.
    fold_projection: bool = False
    # With fold_projection: the raw inputs' first columns are one one-hot block (all zero on
    # padded steps), so x @ W reads rows of W there instead of multiplying.
    one_hot_width: int = 0


def folds_input_projection(input_size: int, attn_size: int, units: int) -> bool:
    """Whether to fold the attention input projection into layer 0's kernel: the same sum,
    associated differently. Per step [attns, h] @ [a + u, 4u] instead of attns @ [a, n] and
    then [cell_input, h] @ [n + u, 4u]; over all steps x @ (projection_x @ kernel_x), one
    [n, 4u] matmul instead of two [n, n] and [n, 4u] ones (and so in the gradients). Pays
    for wide inputs (drum_kit's 518), not for narrow ones (attention_rnn's 74)."""
    folded = (attn_size + units) * 4 * units
    plain = attn_size * input_size + (input_size + units) * 4 * units
    return folded < plain


@dataclass(frozen=True)
class Feedback:
    """Scheduled sampling: layer 0's input at step t is, where coins[t], a sample of the
    stack's previous output distribution softmax(top h @ out_kernel + out_bias) instead of
    truth[t]. Samples carry no gradient; the fed input's kernel rows are the last weight."""
    truth: tf.Tensor          # [T, B, d] time-major
    coins: tf.Tensor          # [T, B] bool, False at t = 0
    out_kernel: tf.Tensor
    out_bias: tf.Tensor
    sample: Callable[[tf.Tensor], tf.Tensor]   # logits [B, d] -> one-hot [B, d]


def _lstm_weights(spec: StackSpec, weights: Sequence[tf.Tensor]):
    """Splits the flat weight list: per layer (kernel, bias), then the attention weights."""
    count = len(spec.units)
    layers = [(weights[2 * k], weights[2 * k + 1]) for k in range(count)]
    return layers, list(weights[2 * count:])


def _flat(x):
    return tf.reshape(x, [-1, tf.shape(x)[-1]])


def _matmul_tn(a, b):
    """Σ over time and batch of a^T b for time-major [T, B, n] and [T, B, m]: [n, m]."""
    return tf.matmul(_flat(a), _flat(b), transpose_a=True)


def matmul_last(x: tf.Tensor, kernel: tf.Tensor) -> tf.Tensor:
    """x [..., n] @ kernel [n, m] as one 2-D matmul."""
    if x.shape.rank == 2:
        return tf.matmul(x, kernel)
    shape = tf.shape(x)
    flat = tf.matmul(tf.reshape(x, [-1, kernel.shape[0]]), kernel)
    return tf.reshape(flat, tf.concat([shape[:-1], [kernel.shape[1]]], 0))


def one_hot_rows(width: int, x: tf.Tensor) -> tf.Tensor:
    """The index of each step's hot column in x's first `width` columns (one one-hot
    block); `width` (an all-zero row of the kernels _project_raw reads) where the block is
    all zero, as on padded steps."""
    hot = x[..., :width]
    return tf.where(tf.reduce_max(hot, -1) > 0, tf.argmax(hot, -1, output_type=tf.int32), width)


def _project_raw(width: int, x: tf.Tensor, rows: tf.Tensor | None, kernel: tf.Tensor,
                 bias: tf.Tensor | None = None):
    """x @ kernel (+ bias) for raw inputs [T, B, n]; with a one-hot block, a row gather
    there (from rows with the bias already added)."""
    if not width:
        result = matmul_last(x, kernel)
        return result if bias is None else result + bias
    hot = kernel[:width]
    padding = tf.zeros_like(kernel[:1])
    if bias is not None:
        hot, padding = hot + bias, padding + bias
    result = tf.gather(tf.concat([hot, padding], 0), rows)
    if width < x.shape[-1]:
        result += matmul_last(x[..., width:], kernel[width:])
    return result


def _hot_sums(width: int, rows: tf.Tensor, d: tf.Tensor) -> tf.Tensor:
    """[width + 1, m]: the rows of d [T, B, m] summed per hot column (last: all-zero steps)."""
    return tf.math.unsorted_segment_sum(_flat(d), tf.reshape(rows, [-1]), width + 1)


def _raw_tn(width: int, x: tf.Tensor, rows: tf.Tensor | None, d: tf.Tensor,
            hot_sums: tf.Tensor | None = None):
    """Σ over steps of x^T d for raw inputs (the gradient of _project_raw's kernel)."""
    if not width:
        return _matmul_tn(x, d)
    if hot_sums is None:
        hot_sums = _hot_sums(width, rows, d)
    hot = hot_sums[:width]
    if width < x.shape[-1]:
        hot = tf.concat([hot, _matmul_tn(x[..., width:], d)], 0)
    return hot


def project_layer_input(x: tf.Tensor, kernel: tf.Tensor, bias: tf.Tensor, input_size: int,
                        one_hot_width: int = 0, rows: tf.Tensor | None = None
                        ) -> tuple[tf.Tensor, tf.Tensor]:
    """(x @ kernel[:input_size] + bias, kernel[input_size:]) for time-major x [T, B, n]:
    run_stack's layer-0 inputs and h rows without attention.

    The kernel's gradient is built as one tensor (no zero-padded gradient per slice).
    With one_hot_width, x's first columns are one one-hot block, all zero on padded steps,
    whose hot column per step is `rows` (one_hot_rows): the projection reads kernel rows
    there, and their gradient and the bias's are sums of d per hot column instead of
    [T*B]-long products.
    """
    width = one_hot_width

    @tf.custom_gradient
    def project(x, kernel, bias):
        kernel_x, kernel_h = kernel[:input_size], kernel[input_size:]
        pre = _project_raw(width, x, rows, kernel_x, bias)

        def grad(d_pre, d_kernel_h):
            if d_kernel_h is None:
                d_kernel_h = tf.zeros_like(kernel_h)
            if width:
                sums = _hot_sums(width, rows, d_pre)
                d_bias = tf.reduce_sum(sums, 0)
                d_kernel_x = _raw_tn(width, x, rows, d_pre, sums)
            else:
                d_bias = tf.reduce_sum(_flat(d_pre), 0)
                d_kernel_x = _matmul_tn(x, d_pre)
            d_x = matmul_last(d_pre, tf.transpose(kernel_x))  # pruned where x is data
            return d_x, tf.concat([d_kernel_x, d_kernel_h], 0), d_bias

        return (pre, kernel_h), grad

    return project(x, kernel, bias)


def _previous(init, sequence):
    """[init, seq[0], ..., seq[T-2]]: each step's incoming state."""
    return tf.concat([init[None], sequence[:-1]], axis=0)


def run_stack(spec: StackSpec, inputs: tf.Tensor, masks: Sequence[tf.Tensor],
              weights: Sequence[tf.Tensor], state: Sequence[tf.Tensor],
              feedback: Feedback | None = None):
    """Runs the stack over time-major inputs and returns (outputs [T, B, u_top], final state).

    inputs: without attention, layer 0's input pre-activations `x @ kernel[:n] + bias`
    [T, B, 4 u0]; with attention, `x @ input_projection[:n] + its bias` [T, B, input_size],
    or with spec.fold_projection x itself (it gets no gradient: it is data).
    masks: per layer dropout masks [T, B, u] (already scaled by 1/keep), or empty.
    weights: per layer (kernel, bias) (layer 0 without attention: kernel = the h rows
    only, bias unused); then attention's (attns rows of input_projection, attn_w, attn_v,
    query kernel, query bias, output kernel, output bias; folded: also input_projection[:n]
    and its bias).
    state: per layer c, h [B, u]; with attention also attns [B, a] and the time-major
    window and its features [L, B, a].
    feedback (no attention, no dropout): layer 0 also reads the fed-back or true input
    through the last weight, its kernel rows.
    Gradients flow to inputs, weights and state (not to masks).
    """
    if feedback is not None and (spec.attn_length or spec.dropout):
        raise ValueError('feedback is implemented without attention and dropout only')
    n_masks, n_weights = len(masks), len(weights)

    @tf.custom_gradient
    def fused(*args):
        inputs = args[0]
        masks = args[1:1 + n_masks]
        weights = args[1 + n_masks:1 + n_masks + n_weights]
        state = args[1 + n_masks + n_weights:]
        outputs, final, saved = _forward(spec, inputs, masks, weights, state, feedback)

        def backward(*grads):
            grads = [tf.zeros_like(t) if g is None else g
                     for g, t in zip(grads, (outputs, *final))]
            d_inputs, d_weights, d_state = _backward(spec, inputs, masks, weights, state,
                                                     saved, grads[0], grads[1:], feedback)
            return (d_inputs, *([None] * n_masks), *d_weights, *d_state)

        return (outputs, *final), backward

    results = fused(inputs, *masks, *weights, *state)
    return results[0], tuple(results[1:])


def _forward(spec, inputs, masks, weights, state, feedback=None):
    """The forward loop. Returns (outputs, final state, saved): every per-step value the
    backward needs, stacked [T, ...] (the backward's per-step slices of stacked tensors
    measured faster than TensorArray reads)."""
    count = len(spec.units)
    attention = spec.attn_length > 0
    layers, attn_weights = _lstm_weights(spec, weights)
    if attention:
        proj_a, attn_w, attn_v, query_kernel, query_bias, out_kernel, out_bias = attn_weights[:7]
    length = tf.shape(inputs)[0]
    if spec.fold_projection:
        proj_x, proj_bias = attn_weights[7:]
        kernel_x, kernel_h = layers[0][0][:spec.input_size], layers[0][0][spec.input_size:]
        rows = one_hot_rows(spec.one_hot_width, inputs) if spec.one_hot_width else None
        inputs_pre = (_project_raw(spec.one_hot_width, inputs, rows,
                                   tf.matmul(proj_x, kernel_x))
                      + tf.matmul(proj_bias[None], kernel_x)[0] + layers[0][1])
        attns_h_kernel = tf.concat([tf.matmul(proj_a, kernel_x), kernel_h], 0)

    # Layers above 0: kernel rows for the layer below's output and for h, apart, so that
    # only h's product is on each layer's step-to-step chain.
    upper_kernels = [None] + [(layers[k][0][:spec.units[k - 1]], layers[k][0][spec.units[k - 1]:])
                              for k in range(1, count)]

    def arrays(n):
        return [tf.TensorArray(inputs.dtype, size=length) for _ in range(n)]

    # Per layer: gate activations and tanh(c), incoming c, h (and layer 0's c with
    # attention); attention: query, attns, output, its features (and the cell input,
    # unless folded); feedback: layer 0's fed input.
    layer_arrays = [arrays(4 if k == 0 and attention else 3) for k in range(count)]
    attn_names = ('query', 'attns', 'y', 'feature')
    if not spec.fold_projection:
        attn_names += ('cell_input',)
    extra_arrays = (arrays(len(attn_names)) if attention
                    else arrays(1) if feedback is not None else [])

    def body(t, carry, layer_arrays, extra_arrays):
        new_carry, new_layer_arrays = [], []
        c_prev = carry[0]
        if spec.fold_projection:
            attns, window, features = carry[2 * count:]
            pre = inputs_pre[t] + tf.matmul(tf.concat([attns, carry[1]], 1), attns_h_kernel)
        elif attention:
            attns, window, features = carry[2 * count:]
            cell_input = inputs[t] + tf.matmul(attns, proj_a)
            pre = tf.matmul(tf.concat([cell_input, carry[1]], 1), layers[0][0]) + layers[0][1]
        else:
            pre = inputs[t] + tf.matmul(carry[1], layers[0][0])
            if feedback is not None:
                top_h, coins, truth = carry[2 * count - 1], feedback.coins[t], feedback.truth[t]

                def sampled_where_coins():
                    sampled = feedback.sample(tf.matmul(top_h, feedback.out_kernel)
                                              + feedback.out_bias)
                    return tf.where(coins[:, None], sampled, truth)

                # A step without coins does not wait for the previous step's top layer, so
                # layer 0 runs ahead of the layers above as without feedback.
                fed = tf.cond(tf.reduce_any(coins), sampled_where_coins, lambda: truth)
                pre += tf.matmul(fed, weights[-1])
                extra_arrays = [extra_arrays[0].write(t, fed)]
        c, h, acts = _gates_forward(pre, c_prev)
        new_carry += [c, h]
        values = (acts, c_prev, h, c) if attention else (acts, c_prev, h)
        new_layer_arrays.append([a.write(t, v) for a, v in zip(layer_arrays[0], values)])
        y = h
        attn_carry = []
        if attention:
            query = tf.matmul(tf.concat([c, h], 1), query_kernel) + query_bias
            attns = attend(query, attn_v, window, features)
            y = tf.matmul(tf.concat([h, attns], 1), out_kernel) + out_bias
            feature = tf.matmul(y, attn_w)
            attn_carry = [attns, tf.concat([window[1:], y[None]], 0),
                          tf.concat([features[1:], feature[None]], 0)]
            values = (query, attns, y, feature)
            if not spec.fold_projection:
                values += (cell_input,)
            extra_arrays = [a.write(t, v) for a, v in zip(extra_arrays, values)]
        layer_input = y * masks[0][t] if spec.dropout else y
        for k in range(1, count):
            c_prev = carry[2 * k]
            pre = ((tf.matmul(layer_input, upper_kernels[k][0]) + layers[k][1])
                   + tf.matmul(carry[2 * k + 1], upper_kernels[k][1]))
            c, h, acts = _gates_forward(pre, c_prev)
            new_carry += [c, h]
            new_layer_arrays.append([a.write(t, v) for a, v in
                                     zip(layer_arrays[k], (acts, c_prev, h))])
            layer_input = h * masks[k][t] if spec.dropout else h
        return t + 1, (*new_carry, *attn_carry), new_layer_arrays, extra_arrays

    _, final, layer_arrays, extra_arrays = tf.while_loop(
        lambda t, *_: t < length, body, (tf.constant(0), tuple(state), layer_arrays, extra_arrays))
    saved = {name: [a[i].stack() for a in layer_arrays]
             for i, name in enumerate(('acts', 'c_prev', 'h'))}
    if attention:
        saved['c0'] = layer_arrays[0][3].stack()
        saved.update((name, a.stack()) for name, a in zip(attn_names, extra_arrays))
        if spec.fold_projection:
            saved['rows'] = rows
    if feedback is not None:
        saved['fed'] = extra_arrays[0].stack()
    top = saved['y'] if attention and count == 1 else saved['h'][-1]
    outputs = top * masks[-1] if spec.dropout else top
    return outputs, tuple(final), saved


def _backward(spec, inputs, masks, weights, state, saved, d_outputs, d_final, feedback=None):
    count = len(spec.units)
    attention = spec.attn_length > 0
    layers, attn_weights = _lstm_weights(spec, weights)
    length = tf.shape(inputs)[0]
    hs = saved['h']
    h_prev = [_previous(state[2 * k + 1], hs[k]) for k in range(count)]
    # Transposed kernels, once: d [input, h] = d pre @ kernel^T.
    kernels_t = [tf.transpose(kernel) for kernel, _ in layers]
    in_sizes = [spec.input_size if attention else 0] + list(spec.units[:-1])
    # Layers above 0, apart as in the forward: d h's product is on the chain, d input's not.
    upper_kernels_t = [None] + [(tf.transpose(layers[k][0][:in_sizes[k]]),
                                 tf.transpose(layers[k][0][in_sizes[k]:]))
                                for k in range(1, count)]
    if attention:
        proj_a, attn_w, attn_v, query_kernel, query_bias, out_kernel, out_bias = attn_weights[:7]
        ys = saved['y']
        windows = tf.concat([state[2 * count + 1], ys], 0)         # [L + T, B, a]
        features_all = tf.concat([state[2 * count + 2], saved['feature']], 0)
        proj_a_t, attn_w_t = tf.transpose(proj_a), tf.transpose(attn_w)
        query_kernel_t, out_kernel_t = tf.transpose(query_kernel), tf.transpose(out_kernel)
        attn_length = spec.attn_length
        units0 = spec.units[0]
        if spec.fold_projection:
            kernel_x_t = kernels_t[0][:, :spec.input_size]
            attns_h_kernel_t = tf.concat([tf.matmul(kernel_x_t, proj_a_t),
                                          kernels_t[0][:, spec.input_size:]], 1)

    def arrays(n):
        return [tf.TensorArray(inputs.dtype, size=length) for _ in range(n)]

    # Per layer d pre-activations; attention: d query, d output, d feature (and d cell
    # input, unless folded).
    d_pre_arrays = arrays(count)
    d_attn_arrays = arrays(3 if spec.fold_projection else 4) if attention else []

    def body(t, carry, d_pre_arrays, d_attn_arrays):
        dcs, dhs = list(carry[0:2 * count:2]), list(carry[1:2 * count:2])
        d_input = d_outputs[t]
        new_pre = list(d_pre_arrays)
        for k in range(count - 1, -1, -1):
            d_out = d_input * masks[k][t] if spec.dropout else d_input
            acts, c_prev = saved['acts'][k][t], saved['c_prev'][k][t]
            if k == 0 and attention:
                d_attns, grad_window, grad_features, d_v = carry[2 * count:]
                # The newest window entry is this step's output, whose every use is done.
                d_feature = grad_features[-1]
                d_y = d_out + grad_window[-1] + tf.matmul(d_feature, attn_w_t)
                d_h_attns = tf.matmul(d_y, out_kernel_t)
                d_attns_total = d_attns + d_h_attns[:, units0:]
                d_query, grad_window, grad_features, d_v = _attend_backward(
                    d_attns_total, saved['query'][t], attn_v, windows[t:t + attn_length],
                    features_all[t:t + attn_length], grad_window, grad_features, d_v)
                d_ch = tf.matmul(d_query, query_kernel_t)
                d_h = dhs[0] + d_h_attns[:, :units0] + d_ch[:, units0:]
                d_c = dcs[0] + d_ch[:, :units0]
                d_pre, dcs[0] = _gates_backward(d_h, d_c, acts, c_prev)
                values = (d_query, d_y, d_feature)
                if spec.fold_projection:
                    d_attns_h = tf.matmul(d_pre, attns_h_kernel_t)
                    d_attns, dhs[0] = d_attns_h[:, :units0], d_attns_h[:, units0:]
                else:
                    d_xh = tf.matmul(d_pre, kernels_t[0])
                    d_cell_input, dhs[0] = d_xh[:, :in_sizes[0]], d_xh[:, in_sizes[0]:]
                    d_attns = tf.matmul(d_cell_input, proj_a_t)
                    values += (d_cell_input,)
                attn_carry = [d_attns, grad_window, grad_features, d_v]
                d_attn_arrays = [a.write(t, v) for a, v in zip(d_attn_arrays, values)]
            else:
                d_pre, dcs[k] = _gates_backward(dhs[k] + d_out, dcs[k], acts, c_prev)
                if k > 0:
                    dhs[k] = tf.matmul(d_pre, upper_kernels_t[k][1])
                    d_input = tf.matmul(d_pre, upper_kernels_t[k][0])
                else:
                    dhs[k] = tf.matmul(d_pre, kernels_t[k])
            new_pre[k] = new_pre[k].write(t, d_pre)
        new_carry = [v for pair in zip(dcs, dhs) for v in pair]
        if attention:
            new_carry += attn_carry
        return t - 1, tuple(new_carry), new_pre, d_attn_arrays

    init = tuple(d_final)
    if attention:
        init += (tf.zeros_like(d_outputs[0][:, :1]) * attn_v,)  # d attn_v, per batch entry
    _, d_carry, d_pre_arrays, d_attn_arrays = tf.while_loop(
        lambda t, *_: t >= 0, body, (length - 1, init, d_pre_arrays, d_attn_arrays))
    d_pre = [a.stack() for a in d_pre_arrays]
    d_state = d_carry[:len(d_final)]

    # Weight gradients, each one matmul over all steps.
    def layer_input(k):
        below = (ys if attention and k == 1 else hs[k - 1])
        return below * masks[k - 1] if spec.dropout else below

    if attention:
        attns_prev = _previous(state[2 * count], saved['attns'])
    if spec.fold_projection:
        # d pre-activations through x @ (P_x K_x) + b_P K_x + attns_prev @ (P_a K_x): the
        # [n, 4u] sums over all steps first, the small products with K_x^T and P^T after.
        proj_x, proj_bias = attn_weights[7:]
        d_pre_x = _raw_tn(spec.one_hot_width, inputs, saved['rows'], d_pre[0])
        d_pre_a = _matmul_tn(attns_prev, d_pre[0])
        d_bias0 = tf.reduce_sum(_flat(d_pre[0]), 0)
        d_kernel_x = (tf.matmul(proj_x, d_pre_x, transpose_a=True)
                      + proj_bias[:, None] * d_bias0[None]
                      + tf.matmul(proj_a, d_pre_a, transpose_a=True))
    d_weights = []
    for k in range(count):
        if k == 0 and not attention:
            d_weights += [_matmul_tn(h_prev[0], d_pre[0]), tf.zeros_like(layers[0][1])]
        elif k == 0 and spec.fold_projection:
            d_weights += [tf.concat([d_kernel_x, _matmul_tn(h_prev[0], d_pre[0])], 0), d_bias0]
        else:
            x = saved['cell_input'] if k == 0 else layer_input(k)
            d_weights += [_matmul_tn(tf.concat([x, h_prev[k]], -1), d_pre[k]),
                          tf.reduce_sum(_flat(d_pre[k]), 0)]
    if attention:
        d_queries, d_ys, d_features, *rest = [a.stack() for a in d_attn_arrays]
        attns_seq = saved['attns']
        d_weights += [
            tf.matmul(d_pre_a, kernel_x_t) if spec.fold_projection
            else _matmul_tn(attns_prev, rest[0]),
            _matmul_tn(ys, d_features),
            tf.reduce_sum(d_carry[-1], 0),
            _matmul_tn(tf.concat([saved['c0'], hs[0]], -1), d_queries),
            tf.reduce_sum(_flat(d_queries), 0),
            _matmul_tn(tf.concat([hs[0], attns_seq], -1), d_ys),
            tf.reduce_sum(_flat(d_ys), 0),
        ]
        if spec.fold_projection:
            d_weights += [tf.matmul(d_pre_x, kernel_x_t),
                          tf.linalg.matvec(kernel_x_t, d_bias0, transpose_a=True)]
            d_inputs = None
        else:
            d_inputs = rest[0]
    else:
        d_inputs = d_pre[0]
    if feedback is not None:
        d_weights.append(_matmul_tn(saved['fed'], d_pre[0]))
    return d_inputs, d_weights, list(d_state)
