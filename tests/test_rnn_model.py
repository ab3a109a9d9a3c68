"""Events RNN: TF1 BasicLSTMCell / AttentionCellWrapper semantics, state, import of old bundles."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
tf = pytest.importorskip('tensorflow')

from magenta_rnn.hparams import HParams  # noqa: E402
from magenta_rnn.rnn import v1_import  # noqa: E402
from magenta_rnn.rnn.model import EventsRnn, NumpyStepper, build_events_rnn  # noqa: E402

BUNDLES = Path(__file__).resolve().parents[1].parent / 'shared' / 'bundles'


def hparams(**overrides) -> HParams:
    values = dict(batch_size=64, rnn_layer_sizes=[128, 128], dropout_keep_prob=1.0, attn_length=0,
                  clip_norm=3, learning_rate=0.001, residual_connections=False)
    values.update(overrides)
    return HParams(**values)


def randomize(model: EventsRnn, seed: int = 0) -> None:
    """Random weights everywhere (biases too, so a dropped bias would show)."""
    rng = np.random.default_rng(seed)
    for variable in model.trainable_variables:
        variable.assign(rng.normal(0, 0.5, variable.shape).astype(np.float32))


def random_inputs(batch: int, steps: int, width: int, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).normal(0, 1, (batch, steps, width)).astype(np.float32)


# ------------------------------------------------------------------ reference
def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def softmax(x, axis=-1):
    e = np.exp(x - x.max(axis, keepdims=True))
    return e / e.sum(axis, keepdims=True)


def lstm_ref(kernel, bias, x, c, h):
    """TF1 BasicLSTMCell: [x, h] @ kernel, columns i, j, f, o; forget bias 1.0 at run time."""
    i, j, f, o = np.split(np.concatenate([x, h], 1) @ kernel + bias, 4, axis=1)
    c = c * sigmoid(f + 1.0) + sigmoid(i) * np.tanh(j)
    return c, np.tanh(c) * sigmoid(o)


def reference_logits(model: EventsRnn, x: np.ndarray) -> np.ndarray:
    """Straightforward per-step numpy version of the original graph (window oldest first)."""
    batch, steps, _ = x.shape
    lstms = [(lstm.kernel.numpy(), lstm.bias.numpy()) for lstm in model.lstms]
    states = [(np.zeros((batch, lstm.units)), np.zeros((batch, lstm.units))) for lstm in model.lstms]
    a = model.attention
    if a is not None:
        attns = np.zeros((batch, a.attn_size))
        window = np.zeros((batch, model.attn_length, a.attn_size))
        attn_w, attn_v = a.attn_w.numpy(), a.attn_v.numpy()

    def attend(query, window):
        y = query @ a.query.kernel.numpy() + a.query.bias.numpy()
        features = window @ attn_w  # the 1x1 convolution over the window
        weights = softmax((attn_v * np.tanh(features + y[:, None, :])).sum(-1), axis=1)
        return (weights[:, :, None] * window).sum(1)

    out_w, out_b = model.output_layer.kernel.numpy(), model.output_layer.bias.numpy()
    logits = []
    for t in range(steps):
        layer_input = x[:, t]
        if a is not None:
            layer_input = (np.concatenate([layer_input, attns], 1) @ a.input_projection.kernel.numpy()
                           + a.input_projection.bias.numpy())
        whole = model.attention_layout == 'whole_stack' and a is not None
        for k, (kernel, bias) in enumerate(lstms):
            states[k] = lstm_ref(kernel, bias, layer_input, *states[k])
            output = states[k][1]
            if k == 0 and a is not None and not whole:
                attns = attend(np.concatenate(states[0], 1), window)
                output = (np.concatenate([output, attns], 1) @ a.output_projection.kernel.numpy()
                          + a.output_projection.bias.numpy())
                window = np.concatenate([window[:, 1:], output[:, None]], 1)
            layer_input = output
        if whole:
            attns = attend(np.concatenate([t for s in states for t in s], 1), window)
            layer_input = (np.concatenate([layer_input, attns], 1) @ a.output_projection.kernel.numpy()
                           + a.output_projection.bias.numpy())
            window = np.concatenate([window[:, 1:], layer_input[:, None]], 1)
        logits.append(layer_input @ out_w + out_b)
    return np.stack(logits, 1)


# ---------------------------------------------------------------------- tests
@pytest.mark.parametrize('layout', ['first_layer', 'whole_stack'])
@pytest.mark.parametrize('attn_length', [0, 3])
def test_matches_per_step_reference(layout, attn_length):
    model = build_events_rnn(hparams(rnn_layer_sizes=[5, 4], attn_length=attn_length), 6, 7,
                             attention_layout=layout)
    randomize(model)
    x = random_inputs(2, 6, 6)
    np.testing.assert_allclose(model(x).numpy(), reference_logits(model, x), atol=2e-5)


def test_shapes_multi_head_and_index_inputs():
    model = build_events_rnn(hparams(rnn_layer_sizes=[8]), 1, [3, 4], input_depth=5)
    indices = np.array([[[0], [4], [2]]], np.float32)
    assert model(indices).shape == (1, 3, 7)
    softmaxes, state = model.step(indices, model.zero_state(1), 1.0)
    assert [s.shape for s in softmaxes] == [(1, 3, 3), (1, 3, 4)]
    np.testing.assert_allclose([s.numpy().sum(-1) for s in softmaxes], np.ones((2, 1, 3)), atol=1e-6)
    assert [s.shape for s in state] == [(1, 8), (1, 8)]
    # One-hot inside: index 4 equals a one-hot row fed to the same weights.
    one_hot = build_events_rnn(hparams(rnn_layer_sizes=[8]), 5, [3, 4])
    for a, b in zip(one_hot.trainable_variables, model.trainable_variables):
        a.assign(b)
    np.testing.assert_allclose(one_hot(np.eye(5, dtype=np.float32)[[0, 4, 2]][None]).numpy(),
                               model(indices).numpy(), atol=1e-6)


@pytest.mark.parametrize('attn_length', [0, 2])
def test_causal(attn_length):
    model = build_events_rnn(hparams(rnn_layer_sizes=[6, 6], attn_length=attn_length), 4, 5)
    randomize(model)
    x = random_inputs(2, 7, 4)
    changed = x.copy()
    changed[:, 4] += 1.0
    before, after = model(x).numpy(), model(changed).numpy()
    np.testing.assert_array_equal(before[:, :4], after[:, :4])
    assert np.abs(before[:, 4:] - after[:, 4:]).max() > 1e-3


@pytest.mark.parametrize('layout,residual', [('first_layer', False), ('first_layer', True),
                                             ('whole_stack', False)])
def test_step_by_step_equals_full_call(layout, residual):
    model = build_events_rnn(hparams(rnn_layer_sizes=[5, 6], attn_length=3,
                                     residual_connections=residual), 4, 5, attention_layout=layout)
    randomize(model)
    x = random_inputs(3, 8, 4)
    full = tf.nn.softmax(model(x) / 0.5).numpy()
    state = model.zero_state(3)
    first, state = model.step(x[:, :3], state, 0.5)  # a primer, then single steps
    steps = [first.numpy()]
    for t in range(3, 8):
        probs, state = model.step(x[:, t:t + 1], state, 0.5)
        steps.append(probs.numpy())
    np.testing.assert_allclose(np.concatenate(steps, 1), full, atol=1e-5)


@pytest.mark.parametrize('layout,residual', [('first_layer', True), ('whole_stack', False)])
def test_numpy_stepper_equals_compiled_step(layout, residual):
    model = build_events_rnn(hparams(rnn_layer_sizes=[5, 6], attn_length=3,
                                     residual_connections=residual), 4, 5, attention_layout=layout)
    randomize(model)
    x = random_inputs(2, 5, 4)
    stepper = NumpyStepper(model)
    expected, expected_state = model.step(x[:, :3], model.zero_state(2), 0.8)
    probs, state = stepper.step(x[:, :3], stepper.zero_state(2), 0.8)
    np.testing.assert_allclose(probs, expected.numpy(), atol=1e-5)
    for ours, theirs in zip(state, expected_state):
        np.testing.assert_allclose(ours, theirs.numpy(), atol=1e-5)
    expected, _ = model.step(x[:, 3:4], expected_state, 0.8)
    probs, _ = stepper.step(x[:, 3:4], state, 0.8)
    np.testing.assert_allclose(probs, expected.numpy(), atol=1e-5)


def test_numpy_stepper_reads_only_the_kernel_rows_of_sparse_inputs():
    """One-hot inputs take the row-gather path; its result equals the compiled step's."""
    model = build_events_rnn(hparams(rnn_layer_sizes=[6, 5]), 40, 7)
    randomize(model)
    x = np.zeros((3, 4, 40), np.float32)
    x[:, :, 0] = 0.5                             # a scaled entry besides the one-hot one
    x[np.arange(3)[:, None], np.arange(4), [[3, 9, 9, 39], [0, 1, 2, 3], [39, 38, 1, 5]]] = 1.0
    stepper = NumpyStepper(model)
    expected, expected_state = model.step(x, model.zero_state(3), 1.0)
    probs, state = stepper.step(x, stepper.zero_state(3), 1.0)
    np.testing.assert_allclose(probs, expected.numpy(), atol=1e-5)
    for ours, theirs in zip(state, expected_state):
        np.testing.assert_allclose(ours, theirs.numpy(), atol=1e-5)


def test_single_threaded_blas_sets_one_thread_and_restores_the_count():
    """numpy's wheels bundle OpenBLAS: the helper finds it, runs the block on one thread
    and puts the previous count back (also after an exception); disabled it does nothing."""
    from magenta_rnn.rnn import numpy_lstm

    set_threads = numpy_lstm._openblas_thread_setter()
    assert set_threads is not None
    original = set_threads(2)
    try:
        with numpy_lstm.single_threaded_blas():
            assert set_threads(1) == 1
        assert set_threads(2) == 2
        with pytest.raises(KeyError), numpy_lstm.single_threaded_blas():
            raise KeyError
        assert set_threads(2) == 2
        with numpy_lstm.single_threaded_blas(enabled=False):
            assert set_threads(2) == 2
    finally:
        set_threads(original)


def test_numpy_stepper_multi_head_index_inputs():
    model = build_events_rnn(hparams(rnn_layer_sizes=[4]), 1, [2, 3], input_depth=6)
    randomize(model)
    indices = np.array([[[5], [0]]], np.float32)
    expected, _ = model.step(indices, model.zero_state(1), 1.0)
    probs, _ = NumpyStepper(model).step(indices, NumpyStepper(model).zero_state(1), 1.0)
    for ours, theirs in zip(probs, expected):
        np.testing.assert_allclose(ours, theirs.numpy(), atol=1e-5)


def test_attention_window_state():
    model = build_events_rnn(hparams(rnn_layer_sizes=[3, 2], attn_length=4), 2, 3)
    randomize(model)
    assert model.state_sizes() == [3, 3, 2, 2, 3, 12, 12]
    x = random_inputs(1, 6, 2)
    _, state = model.step(x[:, :1], model.zero_state(1), 1.0)
    window = state[5].numpy().reshape(4, 3)
    # One step in: only the newest (last) slot holds an output.
    assert np.all(window[:3] == 0) and np.abs(window[3]).max() > 0
    _, state2 = model.step(x[:, 1:2], state, 1.0)
    np.testing.assert_allclose(state2[5].numpy().reshape(4, 3)[2], window[3], atol=1e-7)
    # The cached features are each window entry @ attn_w.
    np.testing.assert_allclose(state2[6].numpy().reshape(4, 3),
                               state2[5].numpy().reshape(4, 3) @ model.attention.attn_w.numpy(),
                               atol=1e-6)
    # After more than attn_length steps, the first outputs have left the window.
    _, state6 = model.step(x[:, 2:6], state2, 1.0)
    assert not np.any(np.isclose(state6[5].numpy().reshape(4, 3), window[3]).all(-1))


def test_attention_gradients_match_autodiff():
    """The hand-written backward of the fused attention equals TF's own gradient."""
    from magenta_rnn.rnn import step_loop

    rng = np.random.default_rng(3)
    y, v = [tf.constant(rng.normal(size=s), tf.float32) for s in ([2, 3], [3])]
    window, features = [tf.constant(rng.normal(size=[4, 2, 3]), tf.float32) for _ in range(2)]
    weights = tf.constant(rng.normal(size=[2, 3]), tf.float32)

    def plain(y, v, window, features):
        scores = tf.reduce_sum(v * tf.tanh(features + y[None]), -1)
        return tf.reduce_sum(tf.nn.softmax(scores, 0)[:, :, None] * window, 0)

    grads = []
    for fn in (plain, step_loop.attend):
        with tf.GradientTape() as tape:
            tape.watch([y, v, window, features])
            loss = tf.reduce_sum(fn(y, v, window, features) * weights)
        grads.append(tape.gradient(loss, [y, v, window, features]))
    for a, b in zip(*grads):
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-5)


def test_training_gradient_matches_finite_difference():
    """Backprop through the time loops (custom window/attention gradients included) is right."""
    model = build_events_rnn(hparams(rnn_layer_sizes=[4, 3], attn_length=2), 3, 4)
    randomize(model)
    x = random_inputs(2, 5, 3)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(model(x) ** 2)
    ours = tape.gradient(loss, model.trainable_variables)
    variable = model.lstms[0].kernel
    index = (1, 2)
    eps = 1e-2
    base = variable.numpy()
    values = []
    for sign in (1, -1):
        bumped = base.copy()
        bumped[index] += sign * eps
        variable.assign(bumped)
        values.append(float(tf.reduce_sum(model(x) ** 2)))
    variable.assign(base)
    numeric = (values[0] - values[1]) / (2 * eps)
    position = [v.ref() for v in model.trainable_variables].index(variable.ref())
    assert ours[position].numpy()[index] == pytest.approx(numeric, rel=2e-2, abs=1e-3)


def test_dropout_only_in_training():
    model = build_events_rnn(hparams(rnn_layer_sizes=[16], dropout_keep_prob=0.5), 4, 3)
    x = random_inputs(2, 5, 4)
    np.testing.assert_array_equal(model(x).numpy(), model(x, training=False).numpy())
    assert np.abs(model(x, training=True).numpy() - model(x).numpy()).max() > 1e-4


def test_checkpoint_round_trip(tmp_path):
    model = build_events_rnn(hparams(rnn_layer_sizes=[4, 4], attn_length=2), 3, 5)
    randomize(model, seed=5)
    path = tf.train.Checkpoint(model=model).write(str(tmp_path / 'ckpt'))
    other = build_events_rnn(hparams(rnn_layer_sizes=[4, 4], attn_length=2), 3, 5)
    tf.train.Checkpoint(model=other).read(path).assert_consumed()
    x = random_inputs(1, 4, 3)
    np.testing.assert_array_equal(model(x).numpy(), other(x).numpy())


# -------------------------------------------------------------- V1 import
def tf1_variables(model: EventsRnn, old_names: bool) -> dict[str, np.ndarray]:
    """A TF1-named variable dict for `model` (pre-2017 whole-stack or current layout)."""
    kernel, bias = ('weights', 'biases') if old_names else ('kernel', 'bias')
    a = model.attention
    whole = model.attention_layout == 'whole_stack'
    values = {}
    for k, lstm in enumerate(model.lstms):
        wrapper = 'attention_cell_wrapper/' if (k == 0 and a is not None and not whole) else ''
        prefix = ('rnn/attention_cell_wrapper/multi_rnn_cell' if whole else 'rnn/multi_rnn_cell')
        scope = f'{prefix}/cell_{k}/{wrapper}basic_lstm_cell/'
        values[scope + kernel] = lstm.kernel.numpy()
        values[scope + bias] = lstm.bias.numpy()
    if a is not None:
        scope = ('rnn/attention_cell_wrapper/' if whole
                 else 'rnn/multi_rnn_cell/cell_0/attention_cell_wrapper/')
        values.update({
            scope + kernel: a.input_projection.kernel.numpy(), scope + bias: a.input_projection.bias.numpy(),
            scope + 'attention/attn_w': a.attn_w.numpy()[None, None],
            scope + 'attention/attn_v': a.attn_v.numpy(),
            scope + f'attention/{kernel}': a.query.kernel.numpy(),
            scope + f'attention/{bias}': a.query.bias.numpy(),
            scope + f'attn_output_projection/{kernel}': a.output_projection.kernel.numpy(),
            scope + f'attn_output_projection/{bias}': a.output_projection.bias.numpy()})
    values['fully_connected/weights'] = model.output_layer.kernel.numpy()
    values['fully_connected/biases'] = model.output_layer.bias.numpy()
    values['global_step'] = np.array(7)
    values['fully_connected/weights/Adam'] = model.output_layer.kernel.numpy() * 0
    return values


@pytest.mark.parametrize('layout,old_names', [('whole_stack', True), ('first_layer', False)])
def test_import_tf1_variable_names(layout, old_names):
    source = build_events_rnn(hparams(rnn_layer_sizes=[5, 4], attn_length=3), 6, 7,
                              attention_layout=layout)
    randomize(source, seed=9)
    values = tf1_variables(source, old_names)
    model, config = v1_import.model_from_values(values, attn_length=3)
    assert (config.rnn_layer_sizes, config.input_size, config.num_classes,
            config.attn_length, config.attention_layout) == ([5, 4], 6, 7, 3, layout)
    x = random_inputs(2, 4, 6)
    np.testing.assert_array_equal(model(x).numpy(), source(x).numpy())


def test_import_needs_attn_length_without_metagraph():
    source = build_events_rnn(hparams(rnn_layer_sizes=[3], attn_length=2), 2, 3)
    with pytest.raises(v1_import.CheckpointImportError, match='attn_length'):
        v1_import.model_from_values(tf1_variables(source, False))


def test_normalize_name():
    assert (v1_import.normalize_name('RNN/MultiRNNCell/Cell0/BasicLSTMCell/Linear/Matrix')
            == 'rnn/multirnncell/cell0/basiclstmcell/kernel')
    assert v1_import.normalize_name('fully_connected/biases') == 'fullyconnected/bias'


# Golden numbers from the original Magenta 2.1.4 loading the bundle via its metagraph:
#   PYTHONPATH=$PWD python scripts/compare_bundle_probabilities_with_peer.py --golden
# (melody 0 = [60, -2, 62, -2, ...] encoded by KeyMelodyEncoderDecoder(48, 84); the softmax
# after the 4th step, temperature 1.0). Full parity, all steps: max |diff| 7.4e-6.
GOLDEN_INPUTS = [
    ([12, 36, 38, 42, 50, 51, 53, 55, 57, 58, 60, 62, 63, 65, 67, 69, 70, 72], [43, 44, 45, 46, 47, 48]),
    ([12, 36, 43, 50, 51, 53, 55, 57, 58, 60, 62, 63, 65, 67, 69, 70, 72], [42, 44, 45, 46, 47, 48]),
    ([14, 36, 38, 39, 42, 43, 50, 53, 55, 57, 60, 62, 65, 67, 69, 72], [44, 45, 46, 47, 48]),
    ([14, 36, 39, 44, 50, 53, 55, 57, 60, 62, 65, 67, 69, 72], [42, 43, 45, 46, 47, 48]),
]
GOLDEN = {
    'mugen_attention_rnn/checkpoints/attention_rrn.mag': (
        [0.000440163, 3.09382e-06, 0.000101223, 2.0138e-06, 0.000628111, 0.000847796], 16, 0.230807),
    'creative_karaoke/attention_melody_rnn.mag': (
        [0.000183599, 6.19874e-06, 0.000193976, 1.10166e-05, 0.000436025, 0.000796224], 39, 0.28689),
}


@pytest.mark.parametrize('name', sorted(GOLDEN))
def test_real_bundle_matches_original(name):
    path = BUNDLES / name
    if not path.exists():
        pytest.skip(f'{path} is not present')
    model, config, bundle = v1_import.load_bundle_model(path)
    assert bundle.generator_details.id == 'attention_rnn'
    assert (config.rnn_layer_sizes, config.input_size, config.num_classes, config.attn_length,
            config.attention_layout) == ([64, 64], 74, 40, 40, 'first_layer')
    x = np.zeros((1, 4, 74), np.float32)
    for t, (plus, minus) in enumerate(GOLDEN_INPUTS):
        x[0, t, plus], x[0, t, minus] = 1.0, -1.0
    probs, _ = model.step(x, model.zero_state(1), 1.0)
    after = probs.numpy()[0, 3]
    first_six, argmax, top = GOLDEN[name]
    np.testing.assert_allclose(after[:6], first_six, atol=1e-6, rtol=1e-4)
    assert int(after.argmax()) == argmax
    assert after.max() == pytest.approx(top, abs=1e-5)
