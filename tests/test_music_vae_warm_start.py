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
