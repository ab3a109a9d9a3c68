"""`music_vae_train`: trains or evaluates a MusicVAE config on a TFRecord of NoteSequences
(REFERENCE.md "MusicVAE training").

  music_vae_train --config=cat-mel_2bar_small --run_dir=/tmp/cat-mel \
      --examples_path=notesequences.tfrecord --mode=train [--hparams=batch_size=64]

NoteSequences are converted on the fly by the config's data converter (after the
training augmenter), and the examples are cached in memory, so later epochs reuse
the first epoch's tensors (as the original's dataset cache does). Checkpoints go
to <run_dir>/train every --save_checkpoint_secs and at the end; training resumes
from the latest one. TensorBoard scalars: loss, losses/r_loss, losses/kl_loss,
losses/kl_bits, losses/kl_beta, learning_rate, global_norm, sampling_probability,
metrics/accuracy.
"""
from __future__ import annotations

import logging
import os
import random
import sys
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np
from absl import flags

from magenta_rnn import console
from magenta_rnn.rnn.cli import define_engine_flags

if TYPE_CHECKING:  # TensorFlow loads only once a command runs
    from magenta_rnn.music_vae import model as model_lib
    from magenta_rnn.music_vae.configs import MusicVaeConfig

FLAGS = flags.FLAGS

flags.DEFINE_string('master', '', 'Ignored (the original\'s TF1 master address); multi-worker '
                    'training reads the TF_CONFIG environment variable (see --rnn_backend).')
flags.DEFINE_string('examples_path', None, 'TFRecord file (or glob) of NoteSequences.')
flags.DEFINE_string('tfds_name', None, 'Not supported; use --examples_path.')
flags.DEFINE_string('run_dir', None, 'Directory for checkpoints (<run_dir>/train) and '
                    'eval summaries (<run_dir>/eval).')
flags.DEFINE_integer('num_steps', 200000, 'Train until global_step reaches this number.')
flags.DEFINE_integer('eval_num_batches', None, 'Batches to evaluate; default: all the '
                     'complete batches of the eval data.')
flags.DEFINE_integer('checkpoints_to_keep', 100, 'Maximum number of checkpoints kept.')
flags.DEFINE_integer('keep_checkpoint_every_n_hours', 1, 'Also keep one checkpoint per this '
                     'many hours.')
flags.DEFINE_enum('mode', 'train', ['train', 'eval'], 'Train, or evaluate the latest checkpoint.')
flags.DEFINE_string('config', '', 'Name of a config in configs/music_vae or a .json path.')
flags.DEFINE_string('hparams', '', 'Comma-separated name=value pairs merged over the config\'s '
                    'hparams, e.g. "batch_size=64,z_size=128".')
flags.DEFINE_bool('cache_dataset', True, 'Keep converted examples in memory across epochs.')
flags.DEFINE_integer('task', 0, 'Ignored: a worker\'s index is TF_CONFIG\'s "task" entry.')
flags.DEFINE_integer('num_ps_tasks', 0, 'Ignored: no parameter servers; every worker holds '
                     'the variables (MultiWorkerMirroredStrategy from TF_CONFIG).')
flags.DEFINE_integer('num_sync_workers', 0, 'Ignored: every TF_CONFIG worker is synchronous '
                     'and batch_size is the global batch, split between them.')
flags.DEFINE_string('eval_dir_suffix', '', 'Suffix of the eval directory name.')
flags.DEFINE_string('log', 'INFO', 'Logging level: DEBUG, INFO, WARNING, ERROR or FATAL.')
flags.DEFINE_integer('save_checkpoint_secs', 60, 'Seconds between checkpoints.')
flags.DEFINE_integer('summary_every_n_steps', 10, 'Steps between TensorBoard summaries.')
flags.DEFINE_integer('log_every_n_steps', 100, 'Steps between loss log lines.')
flags.DEFINE_integer('seed', None, 'Seed for shuffling, augmentation and the model.')
define_engine_flags()
flags.DEFINE_string('warm_start_checkpoint', None, 'Fine-tune: a fresh run starts from this '
                    'checkpoint\'s weights (a run dir\'s train folder, a checkpoint prefix or '
                    'the original\'s .tar). A run that resumes its own checkpoint ignores it.')


class DataError(ValueError):
    pass




def _expand_examples_path(path: str) -> list[str]:
    import glob
    files = sorted(glob.glob(path))
    if not files:
        raise DataError(f'--examples_path: no files match {path}')
    return files


class ExampleSource:
    """Converted examples of a NoteSequence TFRecord, cached after the first pass.

    In training, each pass is shuffled through a buffer of 10 * batch_size and
    passes repeat forever; otherwise the examples come once, in file order.
    """

    def __init__(self, files: list[str], converter, augmenter, batch_size: int, max_seq_len: int,
                 training: bool, cache: bool = True, seed: int | None = None):
        self.files = files
        self.converter = converter
        self.augmenter = augmenter if training else None
        self.batch_size = batch_size
        self.max_seq_len = max_seq_len
        self.training = training
        self.cache_enabled = cache
        self.rng = random.Random(seed)
        self.np_rng = np.random.default_rng(seed)
        converter.rng = self.np_rng
        converter.set_mode('train' if training else 'eval')
        self.cache: list[tuple[np.ndarray, np.ndarray, int]] | None = None
        self.num_note_sequences = 0
        self.conversion_seconds = 0.0

    def _convert_all(self) -> Iterator[tuple[np.ndarray, np.ndarray, int]]:
        from magenta_rnn import records
        cache = [] if self.cache_enabled else None
        count = 0
        for path in self.files:
            for ns in records.read_note_sequences(path):
                count += 1
                start = time.perf_counter()
                if self.augmenter is not None:
                    ns = self.augmenter.augment(ns, rng=self.rng)
                tensors = self.converter.to_tensors(ns)
                self.conversion_seconds += time.perf_counter() - start
                for inputs, outputs, controls, length in tensors.examples():
                    # A length per example, or per segment (hierarchical converters).
                    example = (inputs, outputs, np.asarray(length, np.int32), controls)
                    if cache is not None:
                        cache.append(example)
                    yield example
        self.num_note_sequences = count
        if cache is not None:
            self.cache = cache
            logging.info('converted %d NoteSequences into %d examples in %.1f s (cached)',
                         count, len(cache), self.conversion_seconds)

    def _one_pass(self) -> Iterator[tuple[np.ndarray, np.ndarray, int]]:
        if self.cache is not None:
            return iter(self.cache)
        return self._convert_all()

    def examples(self) -> Iterator[tuple[np.ndarray, np.ndarray, int]]:
        if not self.training:
            yield from self._one_pass()
            return
        buffer_size = 10 * self.batch_size
        buffer: list = []
        passes = 0
        while True:
            yielded = 0
            for example in self._one_pass():
                yielded += 1
                if len(buffer) < buffer_size:
                    buffer.append(example)
                    continue
                index = self.rng.randrange(buffer_size)
                buffer[index], example = example, buffer[index]
                yield example
            passes += 1
            if passes == 1 and yielded < self.batch_size:
                raise DataError(self._too_few_message(yielded))
            if yielded == 0:
                raise DataError(self._too_few_message(0))

    def _too_few_message(self, count: int) -> str:
        return (f'--examples_path: {", ".join(self.files)} gives only {count} examples '
                f'from {self.num_note_sequences} NoteSequences with this config\'s converter, '
                f'fewer than one batch (batch_size={self.batch_size}); add data or lower it '
                f'with --hparams=batch_size=N')

    def batches(self) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Full batches: inputs and outputs [batch, max_seq_len, depth] float32, lengths
        [batch] (or [batch, segments]) int32, controls [batch, max_seq_len, control_depth]."""
        from magenta_rnn.music_vae.converters import maybe_pad_sequences
        pending: list = []
        produced = 0
        for example in self.examples():
            pending.append(example)
            if len(pending) == self.batch_size:
                if self.training:
                    # Shuffled examples leave the buffer in order; shuffle the batch too.
                    self.rng.shuffle(pending)
                yield self._stack(pending, maybe_pad_sequences)
                produced += 1
                pending = []
        if not self.training and produced == 0:
            raise DataError(self._too_few_message(len(pending)))

    def _stack(self, examples, pad):
        inputs = pad([e[0] for e in examples], self.converter.input_depth, np.float32,
                     self.max_seq_len)
        outputs = pad([e[1] for e in examples], self.converter.output_depth, np.float32,
                      self.max_seq_len)
        lengths = np.minimum(np.array([e[2] for e in examples], np.int32), self.max_seq_len)
        controls = pad([e[3] for e in examples], self.converter.control_depth, np.float32,
                       self.max_seq_len)
        return inputs, outputs, lengths, controls


def _plugin_metadata(plugin_name: str):
    # What tf.summary.scalar / tf.summary.text write, without needing TensorBoard installed.
    from tensorflow.core.framework import summary_pb2
    metadata = summary_pb2.SummaryMetadata()
    metadata.plugin_data.plugin_name = plugin_name
    return metadata


def write_scalars(tf, writer, scalars: dict[str, float], step: int) -> None:
    metadata = _plugin_metadata('scalars')
    with writer.as_default():
        for tag, value in scalars.items():
            tf.summary.write(tag, tf.constant(value, tf.float32), step=step, metadata=metadata)


def _write_hparams_summary(tf, writer, config, examples_path: str) -> None:
    table = '| hparam | value |\n|---|---|\n' + '\n'.join(
        f'| {k} | {v} |' for k, v in sorted(config.hparams.values().items()))
    metadata = _plugin_metadata('text')
    with writer.as_default():
        tf.summary.write('examples_path', tf.constant(examples_path), step=0, metadata=metadata)
        tf.summary.write('hparams', tf.constant(table), step=0, metadata=metadata)


def build_trainer(config: MusicVaeConfig, converter: Any = None,
                  strategy: Any = None) -> model_lib.Trainer:
    """The MusicVAE of `config` in its model_lib.Trainer (optimizer, global step, compiled
    step; the network is trainer.model), built as train() builds it (it calls this), so
    that a benchmark times what music_vae_train runs. converter: the config's data
    converter (made here when None); strategy: None for the current one."""
    import tensorflow as tf
    from magenta_rnn.music_vae import model as model_lib

    strategy = strategy or tf.distribute.get_strategy()
    if converter is None:
        converter = config.make_data_converter()
    with strategy.scope():
        return model_lib.Trainer(model_lib.build_model(config, converter), strategy=strategy)


def train(config, run_dir: str, files: list[str], num_steps: int, checkpoints_to_keep: int,
          keep_checkpoint_every_n_hours: float, save_checkpoint_secs: int = 60,
          summary_every_n_steps: int = 10, log_every_n_steps: int = 100,
          cache_dataset: bool = True, seed: int | None = None,
          warm_start_checkpoint: str | None = None) -> dict[str, float]:
    """Trains until global_step == num_steps; returns the last step's scalars and timing.

    Runs on every local GPU or every worker TF_CONFIG names (the shared engine,
    magenta_rnn.rnn.engine); batch_size is the global batch and only the chief writes
    checkpoints and summaries. A fresh run starts from warm_start_checkpoint's weights
    when given.
    """
    import tensorflow as tf
    from magenta_rnn.rnn import backends, engine

    strategy = engine.make_strategy()  # before any other TensorFlow work
    chief = engine.is_chief(strategy)
    logging.info('Training on %s', engine.describe(strategy))
    logging.info('Recurrence backend: %s%s', backends.selected_backend(),
                 ', bfloat16' if backends.compute_dtype() == tf.bfloat16 else '')
    hp = config.hparams
    engine.check_global_batch(strategy, hp.batch_size)
    seed = engine.shared_seed(strategy, seed)
    if seed is not None:
        tf.random.set_seed(seed)
    converter = config.make_data_converter()
    train_dir = os.path.join(run_dir, 'train')
    if chief:
        os.makedirs(train_dir, exist_ok=True)
        engine.remove_stale_checkpoint_files(train_dir)
    trainer = build_trainer(config, converter, strategy)
    vae = trainer.model
    checkpoint = tf.train.Checkpoint(model=vae, optimizer=trainer.optimizer,
                                     global_step=trainer.global_step)
    keeper = engine.CheckpointKeeper(checkpoint, train_dir, chief, checkpoints_to_keep,
                                     keep_checkpoint_every_n_hours, trainer.global_step)
    if engine.restore_or_start(checkpoint, keeper, train_dir):
        logging.info('resumed from %s at step %d', keeper.latest_checkpoint,
                     int(trainer.global_step.numpy()))
    elif warm_start_checkpoint:
        from magenta_rnn.music_vae import warm_start
        logging.info('%s', warm_start.warm_start(vae, warm_start_checkpoint).summary())
    engine.sync_from_chief(strategy, [*vae.variables, *trainer.optimizer.variables,
                                      trainer.global_step])
    writer = tf.summary.create_file_writer(train_dir) if chief else tf.summary.create_noop_writer()
    if int(trainer.global_step.numpy()) == 0:
        _write_hparams_summary(tf, writer, config, ','.join(files))

    source = ExampleSource(files, converter, config.make_augmenter(), hp.batch_size,
                           hp.max_seq_len, training=True, cache=cache_dataset, seed=seed)
    scalars: dict[str, float] = {}

    def report(step: int, results: dict[str, float], steps_per_sec: float, eta: str) -> None:
        write_scalars(tf, writer, {('learning_rate' if k == 'lr' else k): v
                                   for k, v in results.items()
                                   if k not in ('correct_steps', 'valid_steps')}, step)
        scalars.clear()
        scalars.update(results)
        scalars['steps_per_sec'] = steps_per_sec
        if step % log_every_n_steps == 0 or step == num_steps:
            logging.info('global_step = %d, loss = %.4f, r_loss = %.4f, kl_bits = %.3f, '
                         'accuracy = %.4f, %.3f steps/s%s', step, results['loss'],
                         results['losses/r_loss'], results['losses/kl_bits'],
                         results['metrics/accuracy'], steps_per_sec, eta)

    if int(trainer.global_step.numpy()) < num_steps:
        try:
            engine.run_loop(
                trainer.step, source.batches(), keeper, trainer.global_step, num_steps,
                save_checkpoint_secs, report, summary_every_n_steps,
                f'Try a lower learning rate (--hparams=learning_rate=...; now '
                f'{hp.learning_rate}) or grad_clip (now {hp.grad_clip}).',
                multi_worker=engine.cluster_size() > 1)
        finally:
            writer.flush()
    return scalars


def evaluate(config, run_dir: str, files: list[str], num_batches: int | None,
             eval_dir_suffix: str = '', seed: int | None = None) -> dict[str, float]:
    """Evaluates the latest checkpoint of <run_dir>/train over the eval data once."""
    import tensorflow as tf

    hp = config.hparams
    converter = config.make_data_converter()
    train_dir = os.path.join(run_dir, 'train')
    latest = tf.train.latest_checkpoint(train_dir)
    if latest is None:
        raise DataError(f'--run_dir: no checkpoint in {train_dir}')
    trainer = build_trainer(config, converter)
    vae = trainer.model
    try:
        status = tf.train.Checkpoint(model=vae, global_step=trainer.global_step).restore(latest)
        status.expect_partial()
        status.assert_existing_objects_matched()  # fresh weights must not be evaluated
    except (AssertionError, ValueError, tf.errors.OpError) as e:
        raise DataError(f'{latest}: cannot evaluate this checkpoint: it does not hold the '
                        f'weights of this --config/--hparams model '
                        f'({str(e).strip().splitlines()[0][:300]})') from None
    source = ExampleSource(files, converter, None, hp.batch_size, hp.max_seq_len,
                           training=False, seed=seed)
    sums: dict[str, float] = {}
    count = 0
    for batch in source.batches():
        results = trainer.eval_step(*batch)
        for name, value in results.items():
            sums[name] = sums.get(name, 0.0) + float(value)
        count += 1
        if num_batches and count >= num_batches:
            break
    metrics = {name: value / count for name, value in sums.items()
               if name not in ('correct_steps', 'valid_steps', 'metrics/accuracy')}
    metrics['metrics/accuracy'] = sums['correct_steps'] / max(sums['valid_steps'], 1.0)
    step = int(trainer.global_step.numpy())
    eval_dir = os.path.join(run_dir, 'eval' + eval_dir_suffix)
    writer = tf.summary.create_file_writer(eval_dir)
    write_scalars(tf, writer, metrics, step)
    writer.flush()
    logging.info('eval of %s over %d batches: %s', latest, count,
                 ', '.join(f'{k} = {v:.4f}' for k, v in sorted(metrics.items())))
    return metrics


def main(argv) -> None:
    if len(argv) > 1:
        console.fail(f'unexpected arguments: {" ".join(argv[1:])}')
    level = FLAGS.log.upper()
    if level not in ('DEBUG', 'INFO', 'WARNING', 'WARN', 'ERROR', 'FATAL'):
        console.fail(f'--log: unknown level {FLAGS.log!r}')
    logging.getLogger().setLevel({'FATAL': 'CRITICAL', 'WARN': 'WARNING'}.get(level, level))
    from magenta_rnn.hparams import HParamsError
    from magenta_rnn.music_vae import configs

    if not FLAGS.run_dir:
        console.fail('--run_dir is required')
    if not FLAGS.config:
        console.fail(f'--config is required; choose one of {", ".join(configs.available_configs())}')
    if FLAGS.tfds_name:
        console.fail('--tfds_name is not supported; give a TFRecord of NoteSequences with --examples_path')
    if not FLAGS.examples_path:
        console.fail('--examples_path is required')
    warm = FLAGS.warm_start_checkpoint
    if warm and FLAGS.mode != 'train':
        console.fail('--warm_start_checkpoint applies to --mode=train, not to eval')
    if warm and not (os.path.exists(os.path.expanduser(warm))
                     or os.path.exists(os.path.expanduser(warm) + '.index')):
        console.fail(f'--warm_start_checkpoint: no checkpoint at {warm}')
    console.check_flag_ranges({'num_steps': (1, None), 'eval_num_batches': (1, None),
                               'checkpoints_to_keep': (0, None),
                               'keep_checkpoint_every_n_hours': (1, None),
                               'save_checkpoint_secs': (1, None),
                               'summary_every_n_steps': (1, None), 'log_every_n_steps': (1, None)})
    if os.path.isfile(os.path.expanduser(FLAGS.run_dir)):
        console.fail(f'--run_dir {FLAGS.run_dir}: is a file, not a folder')
    for name in ('master', 'num_ps_tasks', 'num_sync_workers', 'task'):
        if getattr(FLAGS, name):
            logging.warning('--%s is ignored: multi-worker training reads the TF_CONFIG '
                            'environment variable (see the README)', name)
    try:
        config = configs.load_config(FLAGS.config, FLAGS.hparams)
        files = _expand_examples_path(FLAGS.examples_path)
        run_dir = os.path.expanduser(FLAGS.run_dir)
        from magenta_rnn.rnn.train import split_cpu_threads
        split_cpu_threads()
        from magenta_rnn.rnn import backends, engine
        backends.configure(backend=FLAGS.rnn_backend,
                           mixed_precision=config.hparams.mixed_precision)
        if FLAGS.mode == 'train':
            train(config, run_dir, files, FLAGS.num_steps, FLAGS.checkpoints_to_keep,
                  FLAGS.keep_checkpoint_every_n_hours, FLAGS.save_checkpoint_secs,
                  FLAGS.summary_every_n_steps, FLAGS.log_every_n_steps, FLAGS.cache_dataset,
                  FLAGS.seed, FLAGS.warm_start_checkpoint)
        else:
            evaluate(config, run_dir, files, FLAGS.eval_num_batches, FLAGS.eval_dir_suffix,
                     FLAGS.seed)
    except (configs.ConfigError, HParamsError, DataError, ValueError, NotImplementedError,
            RuntimeError) as e:
        engine = sys.modules.get('magenta_rnn.rnn.engine')
        if isinstance(e, RuntimeError) and not (
                engine and isinstance(e, (engine.DivergenceError, engine.WorkerLostError))):
            raise
        console.fail(console.restore_mismatch(e, FLAGS.run_dir) or str(e))


def console_entry_point() -> None:
    console.run(main)


if __name__ == '__main__':
    console_entry_point()
