"""Every recurrence backend gives the reference backend's loss and gradients.

`reference` is the LSTM stack written plainly and differentiated by TensorFlow; `fused`
(the CPU default, hand-written backward) and `cudnn` (the GPU layout; on a CPU the same
math as a plain loop) must agree with it within 1e-5 relative for each model family, on
real encoder sizes with small layers, and a checkpoint must not depend on the backend.
"""
from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
import tensorflow as tf

from magenta_rnn.rnn import backends, fused

OTHER_BACKENDS = ('fused', 'cudnn')
TOLERANCE = 1e-5


def relative_difference(a, b) -> float:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-30))


@pytest.fixture
def backend_setting():
    yield
    backends.configure(backend='auto', mixed_precision='')


def spread_weights(module, scale=0.3):
    """Every weight, biases too, drawn from N(0, scale): gradients are then not dominated
    by cancellation (as near-zero ones of a fresh attention layer are) and a dropped
    bias would show."""
    rng = np.random.default_rng(11)
    for variable in module.trainable_variables:
        variable.assign(rng.normal(0, scale, variable.shape).astype(np.float32))


def events_loss_and_gradients(model_name, config_name, hparams, backend):
    from magenta_rnn.drums import DRUMS_RNN
    from magenta_rnn.melody import MELODY_RNN
    from magenta_rnn.performance import PERFORMANCE_RNN
    from magenta_rnn.rnn import train
    from magenta_rnn.rnn.cli import encoder_facts
    from magenta_rnn.rnn.model import build_events_rnn

    model = {'melody_rnn': MELODY_RNN, 'drums_rnn': DRUMS_RNN,
             'performance_rnn': PERFORMANCE_RNN}[model_name]
    config = model.load_config(config_name, hparams)
    facts = encoder_facts(model.build_encoder(config))
    tf.random.set_seed(3)
    network = build_events_rnn(config.hparams, facts['input_size'], facts['num_classes'],
                               facts['input_depth'], one_hot_width=facts['one_hot_width'])
    batch, steps = 3, 7
    rng = np.random.default_rng(0)
    heads = [facts['num_classes']] if isinstance(facts['num_classes'], int) else facts['num_classes']
    labels = np.stack([rng.integers(0, n, (batch, steps)) for n in heads], -1)
    if isinstance(facts['num_classes'], int):
        labels = labels[..., 0]
    # One-hot inputs of the first head's labels (the encoders' first block is one-hot).
    inputs = np.zeros((batch, steps, facts['input_size']), np.float32)
    inputs[..., :] = rng.normal(0, 0.1, inputs.shape)
    if facts['one_hot_width']:
        inputs[..., :facts['one_hot_width']] = np.eye(facts['one_hot_width'])[
            rng.integers(0, facts['one_hot_width'], (batch, steps))]
    lengths = np.array([7, 5, 6], np.int32)
    network(tf.zeros([1, 1, facts['input_size']]))
    spread_weights(network)
    backends.configure(backend=backend)
    with tf.GradientTape() as tape:
        logits = network(tf.constant(inputs), training=True)
        stats = train.batch_statistics(logits, tf.constant(labels), tf.constant(lengths),
                                       facts['num_classes'], facts['default_event_label'])
        loss = stats['cross_entropy'] / stats['entries']
    return loss.numpy(), tape.gradient(loss, network.trainable_variables)


def music_vae_loss_and_gradients(config_name, hparams, backend):
    from magenta_rnn.music_vae import configs
    from magenta_rnn.music_vae import model as model_lib

    config = configs.load_config(config_name, hparams)
    converter = config.make_data_converter()
    tf.random.set_seed(3)
    vae = model_lib.build_model(config, converter)
    batch, steps = 3, config.hparams.max_seq_len
    rng = np.random.default_rng(0)
    depth = converter.output_depth
    outputs = np.eye(depth, dtype=np.float32)[rng.integers(0, depth, (batch, steps))]
    inputs = outputs if converter.input_depth == depth else np.eye(
        converter.input_depth, dtype=np.float32)[rng.integers(0, converter.input_depth, (batch, steps))]
    # Hierarchical decoders take whole sequences only.
    lengths = np.array([steps] * 3 if 'hierdec' in config_name else [steps, steps - 3, steps - 1],
                       np.int32)
    spread_weights(vae)
    backends.configure(backend=backend)
    tf.random.set_seed(5)  # the same z noise for every backend
    with tf.GradientTape() as tape:
        results = vae.compute_loss(tf.constant(inputs), tf.constant(outputs),
                                   tf.constant(lengths), tf.constant(0, tf.int64), training=True)
        loss = results['loss']
    return loss.numpy(), tape.gradient(loss, vae.trainable_variables)


# Small layers; teacher forcing and no dropout, so every backend sees the same draws.
CASES = {
    'basic_rnn': lambda b: events_loss_and_gradients(
        'melody_rnn', 'basic_rnn', 'rnn_layer_sizes=[8,6]', b),
    'attention_rnn': lambda b: events_loss_and_gradients(
        'melody_rnn', 'attention_rnn', 'rnn_layer_sizes=[8,6],attn_length=3', b),
    'drum_kit': lambda b: events_loss_and_gradients(
        'drums_rnn', 'drum_kit', 'rnn_layer_sizes=[8,6,5],attn_length=3', b),
    'performance_with_dynamics': lambda b: events_loss_and_gradients(
        'performance_rnn', 'performance_with_dynamics', 'rnn_layer_sizes=[8,6]', b),
    'cat-mel_2bar_small': lambda b: music_vae_loss_and_gradients(
        'cat-mel_2bar_small', 'z_size=4,enc_rnn_size=[8],dec_rnn_size=[8,6],'
        'sampling_schedule=constant,sampling_rate=0.0', b),
    'hierdec-mel_16bar': lambda b: music_vae_loss_and_gradients(
        'hierdec-mel_16bar', 'z_size=4,enc_rnn_size=[8,6],dec_rnn_size=[8]', b),
}


_REFERENCE: dict = {}


@pytest.mark.parametrize('backend', OTHER_BACKENDS)
@pytest.mark.parametrize('case', list(CASES))
def test_backend_matches_reference(case, backend, backend_setting):
    if case not in _REFERENCE:  # computed once for both backends
        _REFERENCE[case] = CASES[case]('reference')
    reference_loss, reference_grads = _REFERENCE[case]
    loss, grads = CASES[case](backend)
    assert relative_difference(loss, reference_loss) <= TOLERANCE
    assert len(grads) == len(reference_grads)
    for grad, expected in zip(grads, reference_grads):
        expected = tf.convert_to_tensor(expected).numpy()
        assert relative_difference(tf.convert_to_tensor(grad).numpy(), expected) <= TOLERANCE


def stack_case(seed=0, units=(5, 4), attn_length=0, dropout=False, feedback=False):
    """A raw run_stack call: (spec, inputs, masks, weights, state, feedback)."""
    rng = np.random.default_rng(seed)
    steps, batch = 6, 3

    def normal(*shape):
        return tf.constant(rng.normal(0, 0.5, shape).astype(np.float32))

    count = len(units)
    spec = fused.StackSpec(units=tuple(units), input_size=4 if attn_length else 0,
                           attn_length=attn_length, dropout=dropout)
    if attn_length:
        inputs = normal(steps, batch, 4)
        weights = [normal(4 + units[0], 4 * units[0]), normal(4 * units[0])]
    else:
        inputs = normal(steps, batch, 4 * units[0])
        weights = [normal(units[0], 4 * units[0]), tf.zeros([4 * units[0]])]
    for k in range(1, count):
        weights += [normal(units[k - 1] + units[k], 4 * units[k]), normal(4 * units[k])]
    state = [normal(batch, u) for u in units for _ in range(2)]
    if attn_length:
        a = units[0]
        weights += [normal(a, 4), normal(a, a), normal(a), normal(2 * a, a), normal(a),
                    normal(2 * a, a), normal(a)]
        state += [normal(batch, a), normal(attn_length, batch, a), normal(attn_length, batch, a)]
    masks = [tf.constant((rng.random((steps, batch, u)) < 0.7).astype(np.float32) / 0.7)
             for u in units] if dropout else []
    loop = None
    if feedback:
        depth = 3
        out_kernel, out_bias = normal(units[-1], depth), normal(depth)
        coins = tf.constant(rng.random((steps, batch)) < 0.5) & (tf.range(steps) > 0)[:, None]
        loop = fused.Feedback(normal(steps, batch, depth), coins, out_kernel, out_bias,
                              lambda logits: tf.one_hot(tf.argmax(logits, -1), depth))
        weights.append(normal(depth, 4 * units[0]))
    return spec, inputs, masks, weights, state, loop


@pytest.mark.parametrize('backend', OTHER_BACKENDS)
@pytest.mark.parametrize('kind', ['dropout', 'attention_dropout', 'feedback'])
def test_backend_matches_reference_on_raw_stacks(kind, backend):
    """Dropout masks, attention state and scheduled-sampling feedback, with the final
    state's gradients too (the model-level cases above keep them out)."""
    spec, inputs, masks, weights, state, loop = stack_case(
        units=(5, 4, 3) if kind != 'feedback' else (5, 4),
        attn_length=3 if kind == 'attention_dropout' else 0,
        dropout=kind != 'feedback', feedback=kind == 'feedback')

    outputs, _ = backends.run_stack(spec, inputs, masks, weights, state, loop, 'reference')
    pattern = tf.constant(np.random.default_rng(1).normal(size=outputs.shape).astype(np.float32))

    def run(name):
        with tf.GradientTape() as tape:
            tape.watch([inputs, *weights, *state])
            outputs, final = backends.run_stack(spec, inputs, masks, weights, state, loop, name)
            loss = tf.reduce_sum(outputs * pattern)
            loss += sum(0.1 * (i + 1) * tf.reduce_sum(s) for i, s in enumerate(final))
        grads = tape.gradient(loss, [inputs, *weights, *state])
        return loss.numpy(), [None if g is None else tf.convert_to_tensor(g).numpy() for g in grads]

    expected_loss, expected_grads = run('reference')
    loss, grads = run(backend)
    assert relative_difference(loss, expected_loss) <= TOLERANCE
    for i, (grad, expected) in enumerate(zip(grads, expected_grads)):
        if expected is None or not np.any(expected):
            assert grad is None or not np.any(grad), i
        else:
            assert relative_difference(grad, expected) <= TOLERANCE, i


def test_backend_choice_and_its_errors(backend_setting, monkeypatch):
    monkeypatch.delenv(backends.ENVIRONMENT_VARIABLE, raising=False)
    backends.configure(backend='auto')
    assert backends.selected_backend() == ('cudnn' if tf.config.list_logical_devices('GPU')
                                           else 'fused')
    monkeypatch.setenv(backends.ENVIRONMENT_VARIABLE, 'reference')
    assert backends.selected_backend() == 'reference'
    backends.configure(backend='cudnn')  # the option wins over the environment
    assert backends.selected_backend() == 'cudnn'
    with pytest.raises(ValueError, match=r'--rnn_backend: unknown backend .cuda.; choose one of '
                                         r'auto, fused, reference, cudnn'):
        backends.configure(backend='cuda')
    with pytest.raises(ValueError, match=r'mixed_precision=.float16. is not supported'):
        backends.configure(mixed_precision='float16')


def test_bfloat16_stack_keeps_float32_outside_and_stays_close(backend_setting):
    spec, inputs, masks, weights, state, _ = stack_case(units=(5, 4), dropout=True)
    expected, _ = backends.run_stack(spec, inputs, masks, weights, state, backend='reference')
    backends.configure(mixed_precision='bfloat16')
    for name in ('fused', 'reference', 'cudnn'):
        outputs, final = backends.run_stack(spec, inputs, masks, weights, state, backend=name)
        assert outputs.dtype == tf.float32 and all(t.dtype == tf.float32 for t in final)
        # bfloat16 keeps 8 bits of mantissa: agreement to a few 1e-2, not 1e-5.
        assert np.max(np.abs(outputs.numpy() - expected.numpy())) < 0.05
        assert np.max(np.abs(outputs.numpy() - expected.numpy())) > 0  # it did change dtype
