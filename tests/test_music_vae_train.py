"""music_vae_train on a tiny TFRecord: checkpoints, resume, TensorBoard tags, eval, errors."""
from __future__ import annotations

import glob
import os
import subprocess
import sys

import pytest

import builders

tf = pytest.importorskip('tensorflow')

from magenta_rnn import records  # noqa: E402
from magenta_rnn.music_vae import configs, train  # noqa: E402
from magenta_rnn.protobuf import music_pb2  # noqa: E402

TINY = 'batch_size=4,enc_rnn_size=[8],dec_rnn_size=[8],z_size=4'


def melody_sequence(base_pitch: int) -> music_pb2.NoteSequence:
    """4 bars of 4/4 at 120 qpm, a new pitch every quarter: 3 distinct 2-bar windows."""
    return builders.scale_run(base_pitch, 16, velocity=90)


@pytest.fixture
def examples_path(tmp_path):
    path = str(tmp_path / 'melodies.tfrecord')
    records.write_records(path, [melody_sequence(60 + k).SerializeToString() for k in range(3)])
    return path


def event_tags(directory: str) -> set[str]:
    from tensorflow.core.util import event_pb2
    tags = set()
    for path in glob.glob(os.path.join(directory, 'events.out.tfevents.*')):
        for record in tf.data.TFRecordDataset(path).as_numpy_iterator():
            event = event_pb2.Event.FromString(record)
            tags.update(value.tag for value in event.summary.value)
    return tags


def test_train_checkpoints_resumes_and_logs_the_original_tags(tmp_path, examples_path):
    config = configs.load_config('cat-mel_2bar_small', TINY)
    run_dir = str(tmp_path / 'run')
    train.train(config, run_dir, [examples_path], num_steps=2, checkpoints_to_keep=5,
                keep_checkpoint_every_n_hours=1, summary_every_n_steps=1, seed=1)
    train_dir = os.path.join(run_dir, 'train')
    assert tf.train.latest_checkpoint(train_dir).endswith('model.ckpt-2')
    assert {'loss', 'losses/r_loss', 'losses/kl_loss', 'losses/kl_bits', 'losses/kl_beta',
            'learning_rate', 'global_norm', 'sampling_probability', 'metrics/accuracy',
            'hparams'} <= event_tags(train_dir)
    # A second run continues from step 2.
    scalars = train.train(config, run_dir, [examples_path], num_steps=3, checkpoints_to_keep=5,
                          keep_checkpoint_every_n_hours=1, seed=1)
    assert tf.train.latest_checkpoint(train_dir).endswith('model.ckpt-3')
    assert scalars['losses/kl_beta'] > 0  # beta(2) = (1 - 0.99999^2) * 0.2

    metrics = train.evaluate(config, run_dir, [examples_path], num_batches=None)
    assert 0.0 <= metrics['metrics/accuracy'] <= 1.0
    assert metrics['sampling_probability'] == 1.0  # eval of a scheduled-sampling model
    assert 'losses/r_loss' in event_tags(os.path.join(run_dir, 'eval'))


def test_build_trainer_is_what_train_trains(tmp_path, examples_path):
    """Benchmarks time build_trainer's step: from the same seed and batches it gives the
    loss music_vae_train's train() reports, so a benchmark times what the command runs."""
    config = configs.load_config('cat-mel_2bar_small', TINY)
    reported = train.train(config, str(tmp_path / 'run'), [examples_path], num_steps=2,
                           checkpoints_to_keep=1, keep_checkpoint_every_n_hours=1, seed=1)
    tf.random.set_seed(1)
    converter = config.make_data_converter()
    trainer = train.build_trainer(config, converter)
    hp = config.hparams
    batches = train.ExampleSource([examples_path], converter, config.make_augmenter(),
                                  hp.batch_size, hp.max_seq_len, training=True, seed=1).batches()
    for _ in range(2):
        applied, loss, scalars = trainer.step(*next(batches))
        assert bool(applied)
    assert int(trainer.global_step.numpy()) == 2
    assert float(loss) == pytest.approx(reported['loss'], rel=1e-6)


def test_too_few_examples_for_a_batch_is_a_clear_error(tmp_path, examples_path):
    config = configs.load_config('cat-mel_2bar_small',
                                 TINY.replace('batch_size=4', 'batch_size=64'))
    with pytest.raises(train.DataError, match=r'gives only 9 examples from 3 NoteSequences.*'
                                              r'batch_size=64'):
        train.train(config, str(tmp_path / 'run'), [examples_path], num_steps=1,
                    checkpoints_to_keep=1, keep_checkpoint_every_n_hours=1)


def test_cli_rejects_missing_examples(tmp_path):
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    result = subprocess.run(
        [sys.executable, '-m', 'magenta_rnn.music_vae.train', '--config=cat-mel_2bar_small',
         f'--run_dir={tmp_path}', f'--examples_path={tmp_path}/nothing*.tfrecord'],
        capture_output=True, text=True, cwd=root, env={**os.environ, 'PYTHONPATH': root})
    assert result.returncode == 1
    assert 'error: --examples_path: no files match' in result.stderr


def test_guard_device_line_eta_and_unusable_checkpoints(tmp_path, examples_path, caplog):
    import logging
    from magenta_rnn.music_vae import model as model_lib
    from magenta_rnn.rnn import engine
    caplog.set_level(logging.INFO)
    config = configs.load_config('cat-mel_2bar_small', TINY)
    run_dir = str(tmp_path / 'run')
    train.train(config, run_dir, [examples_path], num_steps=2, checkpoints_to_keep=5,
                keep_checkpoint_every_n_hours=1, summary_every_n_steps=1, log_every_n_steps=1,
                seed=1)
    assert 'Training on CPU' in caplog.text or 'Training on GPU' in caplog.text
    assert 'global_step = 2, loss = ' in caplog.text and 'ETA: 0:00:00' in caplog.text
    # A NaN batch is not applied: weights, Adam and the step stay as they were.
    trainer = model_lib.Trainer(model_lib.build_model(config, config.make_data_converter()))
    depth = trainer.model.input_depth
    bad = tf.fill([4, config.hparams.max_seq_len, depth], float('nan'))
    before = [v.numpy().copy() for v in trainer.model.trainable_variables]
    applied, loss, _ = trainer.step(bad, bad, tf.fill([4], 32))
    assert not bool(applied) and not float(loss) == float(loss)
    assert int(trainer.global_step.numpy()) == 0
    assert all((b == v.numpy()).all() for b, v in zip(before, trainer.model.trainable_variables))
    message = engine.divergence_message(float(loss), 3, engine.CheckpointKeeper(
        tf.train.Checkpoint(), os.path.join(run_dir, 'train'), False, 1, None,
        trainer.global_step), 'hint')
    assert message.endswith(f'last good checkpoint is {run_dir}/train/model.ckpt-2. hint')
    # Resuming or evaluating with another model's hparams: one-line errors naming the file.
    other = configs.load_config('cat-mel_2bar_small', TINY.replace('z_size=4', 'z_size=6'))
    with pytest.raises(ValueError, match=r'model.ckpt-2: cannot resume from this checkpoint'):
        train.train(other, run_dir, [examples_path], num_steps=4, checkpoints_to_keep=5,
                    keep_checkpoint_every_n_hours=1)
    with pytest.raises(train.DataError, match=r'model.ckpt-2: cannot evaluate this checkpoint'):
        train.evaluate(other, run_dir, [examples_path], None)
