"""The training recurrence with a hand-written backward (magenta_rnn.rnn.fused) against
TF's automatic gradient of the plain step loop (step_loop.run_stack)."""
from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
import tensorflow as tf

from magenta_rnn.hparams import HParams
from magenta_rnn.rnn import fused, step_loop
from magenta_rnn.rnn.model import build_events_rnn

INPUT_SIZE, NUM_CLASSES = 6, 7


def small_model(rnn_layer_sizes, attn_length, keep):
    hparams = HParams(batch_size=3, rnn_layer_sizes=rnn_layer_sizes, dropout_keep_prob=keep,
                      attn_length=attn_length, clip_norm=3, learning_rate=0.001,
                      residual_connections=False)
    model = build_events_rnn(hparams, INPUT_SIZE, NUM_CLASSES)
    model(tf.zeros([1, 1, INPUT_SIZE]))
    rng = np.random.default_rng(0)
    for variable in model.trainable_variables:  # biases too, so a dropped one would show
        variable.assign(rng.normal(0, 0.5, variable.shape).astype(np.float32))
    return model


def loss_and_gradients(model, x, weights, keep, use_fused):
    """A loss over the logits and every final state entry (window included), its gradients."""
    with tf.GradientTape() as tape:
        inputs = model._expand_inputs(tf.constant(x))
        layer_states, attn_state = model._split_state(list(model.zero_state(x.shape[0])))
        window = model._unpack_attn_state(attn_state) if model.attention is not None else None
        tf.random.set_seed(7)  # the same dropout masks on both paths (same ops, same order)
        if use_fused:
            outputs, pairs, window = model.run_fused(inputs, layer_states, window, keep)
        else:
            outputs, pairs, window = step_loop.run_stack(model, inputs, layer_states, window,
                                                         keep, True)
        final = [t for pair in pairs for t in pair] + list(window or ())
        loss = tf.reduce_sum(model.output_layer(outputs) * weights)
        loss += sum(0.1 * (i + 1) * tf.reduce_sum(s) for i, s in enumerate(final))
    return loss.numpy(), [s.numpy() for s in final], tape.gradient(loss, model.trainable_variables)


@pytest.mark.parametrize('rnn_layer_sizes,attn_length,keep', [
        ([5, 4], 0, 1.0),      # basic_rnn's shape
        ([6], 0, 0.5),         # one layer, dropout
        ([5, 4], 3, 1.0),      # attention_rnn's shape, window shorter than the sequence
        ([6], 3, 0.5),         # attention on the only layer, dropout on its output
        ([5, 4, 3], 2, 0.5),   # drum_kit's shape: attention, three layers, dropout
])
@pytest.mark.parametrize('fold', [False, True], ids=['plain', 'folded_projection'])
def test_fused_backward_equals_autodiff_of_the_step_loop(rnn_layer_sizes, attn_length, keep,
                                                         fold, monkeypatch):
    if fold and not attn_length:
        pytest.skip('only layer 0 with attention folds its input projection')
    # Both ways of running layer 0 with attention (the sizes decide which in real models).
    monkeypatch.setattr(fused, 'folds_input_projection', lambda *sizes: fold)
    model = small_model(rnn_layer_sizes, attn_length, keep)
    rng = np.random.default_rng(1)
    x = rng.normal(0, 1, (3, 9, INPUT_SIZE)).astype(np.float32)
    weights = tf.constant(rng.normal(0, 1, (3, 9, NUM_CLASSES)).astype(np.float32))
    plain_loss, plain_final, plain_grads = loss_and_gradients(model, x, weights, keep, False)
    fused_loss, fused_final, fused_grads = loss_and_gradients(model, x, weights, keep, True)
    assert fused_loss == pytest.approx(plain_loss, abs=1e-5)
    for plain, mine in zip(plain_final, fused_final):
        np.testing.assert_allclose(mine, plain, atol=1e-5)
    for variable, plain, mine in zip(model.trainable_variables, plain_grads, fused_grads):
        scale = np.abs(plain.numpy()).max()
        assert scale > 0, variable.name  # every weight takes part
        np.testing.assert_allclose(mine.numpy(), plain.numpy(), atol=1e-4 * scale,
                                   err_msg=variable.name)


@pytest.mark.parametrize('attn_length', [0, 3])
def test_training_forward_without_dropout_equals_inference(attn_length):
    model = small_model([5, 4], attn_length, 1.0)
    x = np.random.default_rng(2).normal(0, 1, (2, 7, INPUT_SIZE)).astype(np.float32)
    np.testing.assert_allclose(model(x, training=True).numpy(), model(x).numpy(), atol=1e-6)


def test_the_input_projection_is_folded_for_wide_inputs_only():
    assert fused.folds_input_projection(518, 128, 128)       # drum_kit
    assert not fused.folds_input_projection(74, 128, 128)    # attention_rnn


def test_one_hot_rows_give_the_dense_fold_exactly(monkeypatch):
    """drum_kit's inputs: a one-hot block, then dense columns; padded steps all zero."""
    monkeypatch.setattr(fused, 'folds_input_projection', lambda *sizes: True)
    model = small_model([5, 4, 3], 2, 0.5)
    rng = np.random.default_rng(4)
    x = np.zeros((3, 9, INPUT_SIZE), np.float32)
    x[np.arange(3)[:, None], np.arange(9), rng.integers(0, 4, (3, 9))] = 1.0
    x[..., 4:] = rng.choice([-1.0, 1.0], (3, 9, 2))
    x[1, 6:] = 0.0  # padding
    weights = tf.constant(rng.normal(0, 1, (3, 9, NUM_CLASSES)).astype(np.float32))
    model.one_hot_width = 0
    dense = loss_and_gradients(model, x, weights, 0.5, True)
    model.one_hot_width = 4
    rows = loss_and_gradients(model, x, weights, 0.5, True)
    assert rows[0] == pytest.approx(dense[0], abs=1e-5)
    for variable, want, got in zip(model.trainable_variables, dense[2], rows[2]):
        np.testing.assert_allclose(got.numpy(), want.numpy(), atol=1e-5, err_msg=variable.name)
