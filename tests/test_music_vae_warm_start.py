"""music_vae_train --warm_start_checkpoint: a fresh run starts from our checkpoint or the
original's name-based one (.tar), and says what it did not carry over."""
from __future__ import annotations

import logging
import os
import tarfile

import numpy as np
import pytest

tf = pytest.importorskip('tensorflow')

from magenta_rnn import records  # noqa: E402
from magenta_rnn.music_vae import configs, train  # noqa: E402
from magenta_rnn.music_vae import model as model_lib  # noqa: E402
from magenta_rnn.music_vae.trained_model import tf1_variable_map  # noqa: E402
from magenta_rnn.music_vae.warm_start import WarmStartError, warm_start  # noqa: E402
from test_music_vae_train import TINY, melody_sequence  # noqa: E402


def fresh_model(hparams: str = TINY, seed: int = 0):
    tf.random.set_seed(seed)
    config = configs.load_config('cat-mel_2bar_small', hparams)
    return model_lib.build_model(config, config.make_data_converter())


def randomize(vae, seed: int) -> None:
    rng = np.random.default_rng(seed)
    for variable in vae.trainable_variables:
        variable.assign(rng.normal(0, 0.3, variable.shape).astype(np.float32))


def assert_same_weights(a, b) -> None:
    assert len(a.trainable_variables) == len(b.trainable_variables)
    for x, y in zip(a.trainable_variables, b.trainable_variables):
        np.testing.assert_array_equal(x.numpy(), y.numpy())


def original_tar(tmp_path, vae) -> str:
    """The original's published form: a .tar of a name-based checkpoint (TF1 names)."""
    values = {name: v.numpy() for name, v in tf1_variable_map(vae).items()}
    values['global_step'] = np.array(50000, np.int64)
    names = sorted(values)
    folder = tmp_path / 'original'
    folder.mkdir()
    tf.raw_ops.SaveV2(prefix=str(folder / 'cat-mel_2bar_small.ckpt'), tensor_names=names,
                      shape_and_slices=[''] * len(names),
                      tensors=[tf.constant(values[n]) for n in names])
    path = str(tmp_path / 'cat-mel_2bar_small.tar')
    with tarfile.open(path, 'w') as tar:
        for name in os.listdir(folder):
            tar.add(folder / name, arcname=name)
    return path


def test_warm_start_from_the_original_tar(tmp_path):
    source = fresh_model(seed=1)
    randomize(source, seed=2)
    path = original_tar(tmp_path, source)
    target = fresh_model(seed=3)
    report = warm_start(target, path)
    assert_same_weights(source, target)
    total = len(tf1_variable_map(target))
    assert report.summary() == (f'warm-started from {path}: {total} of {total} variables carried '
                                f'over; not carried over: optimizer state, global step (starts '
                                f'at 0)')
    with pytest.raises(WarmStartError) as error:
        warm_start(fresh_model(TINY.replace('z_size=4', 'z_size=6')), path)
    assert str(error.value) == (f'--warm_start_checkpoint {path}: encoder/mu/kernel: checkpoint '
                                f'shape [16, 4], model shape [16, 6]')


def test_a_fresh_run_starts_from_our_checkpoint(tmp_path, caplog):
    caplog.set_level(logging.INFO)
    examples = str(tmp_path / 'melodies.tfrecord')
    records.write_records(examples, [melody_sequence(60 + k).SerializeToString() for k in range(3)])
    source = fresh_model(seed=1)
    randomize(source, seed=2)
    source_dir = str(tmp_path / 'source' / 'train')
    tf.train.CheckpointManager(tf.train.Checkpoint(model=source), source_dir, 1,
                               checkpoint_name='model.ckpt').save(checkpoint_number=7)
    target = fresh_model(seed=4)
    report = warm_start(target, source_dir)
    assert_same_weights(source, target)
    assert report.loaded == report.total == len(target.trainable_variables)

    config = configs.load_config('cat-mel_2bar_small', TINY)
    train.train(config, str(tmp_path / 'tuned'), [examples], num_steps=1, checkpoints_to_keep=5,
                keep_checkpoint_every_n_hours=1, seed=1, warm_start_checkpoint=source_dir)
    assert f'warm-started from {source_dir}: {report.total} of {report.total}' in caplog.text
    assert tf.train.latest_checkpoint(str(tmp_path / 'tuned' / 'train')).endswith('model.ckpt-1')


def trainer_checkpoint(vae, train_dir: str) -> None:
    """Saved as music_vae_train saves: the model beside its optimizer and global step."""
    trainer = model_lib.Trainer(vae)
    trainer.global_step.assign(1234)
    tf.train.CheckpointManager(
        tf.train.Checkpoint(model=vae, optimizer=trainer.optimizer,
                            global_step=trainer.global_step),
        train_dir, 1, checkpoint_name='model.ckpt').save(checkpoint_number=1234)


# A user's own config with another data depth: the 90-class melodies cut at pitch 84
# (66 classes), performances with 16 velocity bins instead of 8 (498 classes).
@pytest.mark.parametrize('config_name,hparams,converter_change,fresh', [
    ('cat-mel_2bar_small', TINY, {'max_pitch': 84}, [
        'encoder/cell_0/bidirectional_rnn/fw/multi_rnn_cell/cell_0/lstm_cell/kernel '
        '(checkpoint [74, 32], model [98, 32])',
        'encoder/cell_0/bidirectional_rnn/bw/multi_rnn_cell/cell_0/lstm_cell/kernel '
        '(checkpoint [74, 32], model [98, 32])',
        'decoder/multi_rnn_cell/cell_0/lstm_cell/kernel (checkpoint [78, 32], model [102, 32])',
        'decoder/output_projection/kernel (checkpoint [8, 66], model [8, 90])',
        'decoder/output_projection/bias (checkpoint [66], model [90])']),
    ('hier-multiperf_vel_1bar_med', 'batch_size=2,enc_rnn_size=[6],dec_rnn_size=[5],z_size=3',
     {'num_velocity_bins': 16}, [
        'encoder/hierarchical_level_0/cell_0/bidirectional_rnn/fw/multi_rnn_cell/cell_0/'
        'lstm_cell/kernel (checkpoint [504, 24], model [496, 24])',
        'encoder/hierarchical_level_0/cell_0/bidirectional_rnn/bw/multi_rnn_cell/cell_0/'
        'lstm_cell/kernel (checkpoint [504, 24], model [496, 24])',
        'core_decoder/decoder/multi_rnn_cell/cell_0/lstm_cell/kernel (checkpoint [508, 20], '
        'model [500, 20])',
        'core_decoder/decoder/output_projection/kernel (checkpoint [5, 498], model [5, 490])',
        'core_decoder/decoder/output_projection/bias (checkpoint [498], model [490])'])])
def test_our_checkpoint_of_another_data_depth_leaves_only_the_data_sized_layers_fresh(
        tmp_path, config_name, hparams, converter_change, fresh):
    config = configs.load_config(config_name, hparams)
    config.data_converter_spec.update(converter_change)
    tf.random.set_seed(1)
    source = model_lib.build_model(config, config.make_data_converter())
    randomize(source, seed=2)
    trainer_checkpoint(source, str(tmp_path / 'train'))

    tf.random.set_seed(3)
    config = configs.load_config(config_name, hparams)
    target = model_lib.build_model(config, config.make_data_converter())
    before = {name: v.numpy() for name, v in tf1_variable_map(target).items()}
    report = warm_start(target, str(tmp_path / 'train'))

    fresh_names = {entry.split(' (')[0] for entry in fresh}
    sources = tf1_variable_map(source)
    for name, variable in tf1_variable_map(target).items():
        expected = before[name] if name in fresh_names else sources[name].numpy()
        np.testing.assert_array_equal(variable.numpy(), expected, err_msg=name)
    total = len(target.trainable_variables)
    assert report.summary() == (
        f'warm-started from {tmp_path}/train: {total - len(fresh)} of {total} variables '
        f'carried over; not carried over: {", ".join(fresh)}, optimizer state, global step '
        f'(starts at 0)')


def test_our_checkpoint_of_other_layer_sizes_is_refused(tmp_path):
    trainer_checkpoint(fresh_model(seed=1), str(tmp_path / 'train'))
    with pytest.raises(WarmStartError) as error:
        warm_start(fresh_model(TINY.replace('dec_rnn_size=[8]', 'dec_rnn_size=[6]')),
                   str(tmp_path / 'train'))
    assert str(error.value) == (
        f'--warm_start_checkpoint {tmp_path}/train: decoder/multi_rnn_cell/cell_0/lstm_cell/'
        f'bias: checkpoint shape [32], model shape [24]')
