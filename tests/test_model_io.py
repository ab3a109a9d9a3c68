"""Checkpoints in and out of an events RNN: the original's run dirs (V2, TF1 names, Adam
slots), loose V1 files, ours, mismatch errors, and warm starts from bundles."""
from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import pytest

tf = pytest.importorskip('tensorflow')

from magenta_rnn.hparams import HParams  # noqa: E402
from magenta_rnn.rnn import model_io, train  # noqa: E402
from magenta_rnn.rnn.config import EventsRnnConfig  # noqa: E402
from magenta_rnn.rnn.model import build_events_rnn  # noqa: E402
from magenta_rnn.records import RecordWriter, make_sequence_example  # noqa: E402

BUNDLES = Path(__file__).resolve().parents[1].parent / 'shared' / 'bundles'
MUGEN = BUNDLES / 'mugen_attention_rnn'


def hparams(**overrides) -> HParams:
    values = dict(batch_size=4, rnn_layer_sizes=[5, 4], dropout_keep_prob=1.0, attn_length=0,
                  clip_norm=3.0, learning_rate=0.05, residual_connections=False)
    values.update(overrides)
    return HParams(**values)


def config(**overrides) -> EventsRnnConfig:
    return EventsRnnConfig(model='melody_rnn', id='toy', description='', encoder={},
                           hparams=hparams(**overrides))


def randomized(h: HParams, input_size: int = 4, num_classes: int = 4, seed: int = 0):
    model = build_events_rnn(h, input_size, num_classes)
    rng = np.random.default_rng(seed)
    for variable in model.trainable_variables:
        variable.assign(rng.normal(0, 0.5, variable.shape).astype(np.float32))
    return model


def save_original_run(train_dir: Path, model, step: int, seed: int = 3) -> dict[str, np.ndarray]:
    """What the original's trainer leaves: a V2 checkpoint `model.ckpt-<step>` with TF1
    names, Adam slots (`/Adam`, `/Adam_1`), beta powers and global_step."""
    values = model_io.export_values(model)
    rng = np.random.default_rng(seed)
    for name, value in list(values.items()):
        if name.endswith('attention/attn_w'):
            values[name] = value.reshape((1, 1) + value.shape)  # the original's 1x1 conv
    for name, value in list(values.items()):
        values[name + '/Adam'] = rng.normal(0, 0.1, value.shape).astype(np.float32)
        values[name + '/Adam_1'] = rng.uniform(0, 0.1, value.shape).astype(np.float32)
    values.update(global_step=np.array(step, np.int64), beta1_power=np.float32(0.0),
                  beta2_power=np.float32(0.5))
    train_dir.mkdir(parents=True, exist_ok=True)
    names = sorted(values)
    tf.raw_ops.SaveV2(prefix=str(train_dir / f'model.ckpt-{step}'), tensor_names=names,
                      shape_and_slices=[''] * len(names),
                      tensors=[tf.constant(values[n]) for n in names])
    (train_dir / 'checkpoint').write_text(f'model_checkpoint_path: "model.ckpt-{step}"\n')
    return values


def assert_same_weights(a, b) -> None:
    for x, y in zip(a.trainable_variables, b.trainable_variables):
        np.testing.assert_array_equal(x.numpy(), y.numpy())


# --------------------------------------------------------------- loading
def test_original_v2_checkpoint_restores_weights_adam_moments_and_step(tmp_path):
    h = hparams(attn_length=3)
    original = randomized(h)
    values = save_original_run(tmp_path / 'train', original, step=20000)
    model = build_events_rnn(h, 4, 4)
    optimizer = train.make_optimizer(h)
    optimizer.build(model.trainable_variables)
    step = tf.Variable(0, dtype=tf.int64)
    model_io.restore_checkpoint(str(tmp_path / 'train' / 'model.ckpt-20000'),
                                tf.train.Checkpoint(model=model, optimizer=optimizer, step=step))
    assert_same_weights(original, model)
    assert int(step) == 20000 and int(optimizer.iterations) == 20000
    kernel = model.output_layer.kernel
    index = optimizer._get_variable_index(kernel)
    np.testing.assert_array_equal(optimizer._momentums[index].numpy(),
                                  values['fully_connected/weights/Adam'])
    np.testing.assert_array_equal(optimizer._velocities[index].numpy(),
                                  values['fully_connected/weights/Adam_1'])
    index = optimizer._get_variable_index(model.attention.attn_w)
    np.testing.assert_array_equal(
        optimizer._momentums[index].numpy(),
        values['rnn/multi_rnn_cell/cell_0/attention_cell_wrapper/attention/attn_w/Adam'][0, 0])
    assert model_io.is_original_checkpoint(str(tmp_path / 'train' / 'model.ckpt-20000'))


def test_loose_v1_checkpoint_loads_for_generation(tmp_path):
    original = randomized(hparams(attn_length=2), seed=4)
    path = tmp_path / 'checkpoint.ckpt'
    path.write_bytes(model_io._v1_checkpoint_bytes(model_io.export_values(original)))
    model = model_io.load_trained(config(attn_length=2), str(path), 4, 4)
    x = np.random.default_rng(0).normal(size=(2, 5, 4)).astype(np.float32)
    np.testing.assert_array_equal(model(x).numpy(), original(x).numpy())


@pytest.mark.parametrize('overrides,message', [
    (dict(rnn_layer_sizes=[5, 6]),
     'rnn/multi_rnn_cell/cell_1/basic_lstm_cell/kernel: checkpoint shape [9, 16], '
     'model shape [11, 24]'),
    (dict(rnn_layer_sizes=[5, 4, 4]),
     'the checkpoint has 2 LSTM layers, the model 3: layer cell_2 is missing from the checkpoint'),
    (dict(attn_length=3),
     'attention differs: only the model has attention_cell_wrapper/attention (attn_length)'),
])
def test_original_checkpoint_that_does_not_fit_names_the_variable(tmp_path, overrides, message):
    path = tmp_path / 'model.ckpt'
    path.write_bytes(model_io._v1_checkpoint_bytes(model_io.export_values(randomized(hparams()))))
    with pytest.raises(model_io.ModelLoadError) as error:
        model_io.load_trained(config(**overrides), str(path), 4, 4)
    assert str(error.value) == (f'{path}: does not match the model built from --config/--hparams: '
                                f'{message}; the checkpoint holds rnn_layer_sizes=[5, 4], '
                                f'attn_length=0, 4 classes')


@pytest.mark.parametrize('overrides,message', [
    (dict(rnn_layer_sizes=[5, 6]), 'model/lstms/1/bias: checkpoint shape [16], model shape [24]'),
    (dict(rnn_layer_sizes=[5, 4, 4]), 'model/lstms/2/bias [16] is missing from the checkpoint'),
    (dict(attn_length=0), 'the checkpoint has model/attention/attn_v [5], the model has not'),
])
def test_our_checkpoint_that_does_not_fit_names_the_variable(tmp_path, overrides, message):
    saved = randomized(hparams(attn_length=2))
    prefix = tf.train.Checkpoint(model=saved).write(str(tmp_path / 'model.ckpt-1'))
    assert not model_io.is_original_checkpoint(prefix)
    assert_same_weights(saved, model_io.load_trained(config(attn_length=2), prefix, 4, 4))
    with pytest.raises(model_io.ModelLoadError) as error:
        model_io.load_trained(config(**{'attn_length': 2, **overrides}), prefix, 4, 4)
    assert str(error.value) == (f'{prefix}: does not match the model built from '
                                f'--config/--hparams: {message}')


@pytest.fixture
def toy_records(tmp_path) -> str:
    """A learnable toy task: the label is the next token, (token + 1) % 4."""
    path = str(tmp_path / 'train.tfrecord')
    rng = np.random.default_rng(0)
    with RecordWriter(path) as writer:
        for _ in range(16):
            tokens = rng.integers(0, 4, size=8)
            writer.write(make_sequence_example(np.eye(4)[tokens].tolist(),
                                               [int((t + 1) % 4) for t in tokens]))
    return path


def test_an_original_run_resumes_at_its_step_and_its_eval_reads_it(tmp_path, toy_records, caplog):
    caplog.set_level(logging.INFO, logger='absl')
    h = hparams(rnn_layer_sizes=[6])
    original = randomized(h, seed=2)
    save_original_run(tmp_path / 'run' / 'train', original, step=20000)
    common = dict(build_model=build_events_rnn, hparams=h, sequence_example_file=toy_records,
                  run_dir=str(tmp_path / 'run'), input_size=4, num_classes=4,
                  default_event_label=0)
    (step, metrics), = train.run_eval(once=True, **common)
    # The same weights saved as one of our checkpoints evaluate to the same numbers.
    ours = tmp_path / 'ours' / 'train'
    tf.train.Checkpoint(model=original, step=tf.Variable(20000, dtype=tf.int64)).write(
        str(ours / 'model.ckpt-20000'))
    (ours / 'checkpoint').write_text('model_checkpoint_path: "model.ckpt-20000"\n')
    assert train.run_eval(once=True, **{**common, 'run_dir': str(tmp_path / 'ours')}) == [
        (20000, metrics)]
    assert step == 20000
    result = train.run_training(num_training_steps=20002, summary_frequency=1, seed=1, **common)
    assert result['global_step'] == 20002
    assert 'Resuming from' in caplog.text and 'at step 20000' in caplog.text
    train_dir = str(tmp_path / 'run' / 'train')
    latest = tf.train.latest_checkpoint(train_dir)
    assert latest.endswith('model.ckpt-20002') and not model_io.is_original_checkpoint(latest)
    assert os.path.exists(os.path.join(train_dir, 'model.ckpt-20000.index'))  # left as it was


# ------------------------------------------------------------- warm start
def test_warm_start_from_a_bundle_carries_every_weight(tmp_path):
    source = randomized(hparams(attn_length=2), seed=5)
    model_io.save_bundle(str(tmp_path / 'b.mag'), source, config(attn_length=2))
    fresh = build_events_rnn(hparams(attn_length=2), 4, 4)
    report = model_io.warm_start(fresh, str(tmp_path / 'b.mag'))
    assert_same_weights(source, fresh)
    assert report.summary() == (f'warm-started from {tmp_path}/b.mag: 14 of 14 variables carried '
                                f'over; not carried over: optimizer state, global step (starts '
                                f'at 0)')


def test_warm_start_with_another_output_size_leaves_the_output_layer_fresh(tmp_path):
    source = randomized(hparams(), num_classes=4, seed=5)
    model_io.save_bundle(str(tmp_path / 'b.mag'), source, config())
    fresh = build_events_rnn(hparams(), 4, 6)
    before = fresh.output_layer.kernel.numpy()
    report = model_io.warm_start(fresh, str(tmp_path / 'b.mag'))
    for a, b in zip(source.lstms, fresh.lstms):
        np.testing.assert_array_equal(a.kernel.numpy(), b.kernel.numpy())
    np.testing.assert_array_equal(fresh.output_layer.kernel.numpy(), before)
    assert report.summary() == (
        f'warm-started from {tmp_path}/b.mag: 4 of 6 variables carried over; not carried over: '
        f'fully_connected/weights (bundle [4, 4], model [4, 6]), fully_connected/biases (bundle '
        f'[4], model [6]), optimizer state, global step (starts at 0)')


def test_warm_start_refuses_other_layer_sizes(tmp_path):
    model_io.save_bundle(str(tmp_path / 'b.mag'), randomized(hparams()), config())
    with pytest.raises(model_io.ModelLoadError) as error:
        model_io.warm_start(build_events_rnn(hparams(rnn_layer_sizes=[5, 8]), 4, 4),
                            str(tmp_path / 'b.mag'))
    assert str(error.value) == (
        f'--warm_start_bundle_file {tmp_path}/b.mag: does not fit the model built from '
        f'--config/--hparams: rnn/multi_rnn_cell/cell_1/basic_lstm_cell/kernel: checkpoint '
        f'shape [9, 16], model shape [13, 32]')


def test_fine_tuning_starts_at_the_bundle_loss_not_a_fresh_model(tmp_path, toy_records):
    h = hparams(rnn_layer_sizes=[8])
    common = dict(build_model=build_events_rnn, hparams=h, sequence_example_file=toy_records,
                  input_size=4, num_classes=4, default_event_label=0, summary_frequency=1,
                  seed=1)
    trained = train.run_training(run_dir=str(tmp_path / 'source'), num_training_steps=40, **common)
    source = model_io.load_trained(config(rnn_layer_sizes=[8]),
                                   tf.train.latest_checkpoint(str(tmp_path / 'source' / 'train')),
                                   4, 4)
    model_io.save_bundle(str(tmp_path / 'b.mag'), source, config(rnn_layer_sizes=[8]))

    def warm_start(model):
        model_io.warm_start(model, str(tmp_path / 'b.mag'))

    tuned = train.run_training(run_dir=str(tmp_path / 'tuned'), num_training_steps=1,
                               warm_start_fn=warm_start, **common)
    fresh = train.run_training(run_dir=str(tmp_path / 'fresh'), num_training_steps=1, **common)
    assert tuned['loss'] < 0.5 * fresh['loss']
    assert tuned['loss'] == pytest.approx(trained['loss'], abs=0.3)
    # The run's first checkpoint (step 0) holds exactly the bundle's weights.
    start = model_io.load_trained(config(rnn_layer_sizes=[8]),
                                  str(tmp_path / 'tuned' / 'train' / 'model.ckpt-0'), 4, 4)
    assert_same_weights(source, start)


# ------------------------------------------------ the real original run
def test_the_mugen_training_run_loads_as_its_bundle():
    run = MUGEN / 'logdir' / 'run1'
    if not run.exists():
        pytest.skip(f'{run} is not present')
    from magenta_rnn.melody import MELODY_RNN
    from magenta_rnn.rnn import v1_import

    melody = MELODY_RNN.load_config('attention_rnn', 'rnn_layer_sizes=[64,64]')
    bundle_model, _, _ = v1_import.load_bundle_model(MUGEN / 'checkpoints' / 'attention_rrn.mag')
    for checkpoint in (model_io.latest_checkpoint(str(run), None), str(MUGEN / 'checkpoint.ckpt')):
        model = model_io.load_trained(melody, checkpoint, 74, 40)
        assert_same_weights(bundle_model, model)
    wrong = MELODY_RNN.load_config('attention_rnn', 'rnn_layer_sizes=[64,64],attn_length=20')
    with pytest.raises(model_io.ModelLoadError, match=r'attn_length: checkpoint 40, model 20'):
        model_io.load_trained(wrong, str(MUGEN / 'checkpoint.ckpt'), 74, 40)


@pytest.mark.parametrize('module,args', [('magenta_rnn.melody.train', ['--config=basic_rnn']),
                                         ('magenta_rnn.drums.train', [])])
def test_events_trainers_take_a_warm_start_bundle(tmp_path, module, args):
    import subprocess
    import sys
    song = tmp_path / 'song.mid'
    song.write_bytes(b'MThd\x00\x00\x00\x06')
    result = subprocess.run(
        [sys.executable, '-m', module, *args, f'--sequence_example_file={tmp_path}/x.tfrecord',
         f'--warm_start_bundle_file={song}'], capture_output=True, text=True, timeout=300,
        env=dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1])))
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].split(': ', 1)[1] == (
        f'error: --warm_start_bundle_file: {song}: not a generator bundle (.mag) file: it does '
        f'not parse as GeneratorBundle')


def test_a_bundle_of_class_index_inputs_loads_with_its_encoders_input_depth(tmp_path):
    # The weights read the same for one-hot rows and one-hot class indices of that width:
    # only the encoder's input_depth tells them apart, and a depth that differs is an error.
    model = build_events_rnn(hparams(), 1, 4, input_depth=6)
    path = str(tmp_path / 'indices.mag')
    model_io.save_bundle(path, model, config())
    loaded = model_io.load_bundle(path, config(), 4, input_depth=6)
    assert (loaded.input_size, loaded.input_depth) == (1, 6)
    indices = np.array([[[0], [5], [2]]], np.float32)
    ours, _ = loaded.step(indices, loaded.zero_state(1))
    theirs, _ = model.step(indices, model.zero_state(1))
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    with pytest.raises(model_io.ModelLoadError, match=r'indices\.mag: the encoder one-hots its '
                       r'class indices to depth 7, the checkpoint has input width 6'):
        model_io.load_bundle(path, config(), 4, input_depth=7)
