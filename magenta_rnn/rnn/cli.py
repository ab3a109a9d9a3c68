"""The console scripts shared by Melody, Drums and Performance RNN.

Each model's `*_create_dataset`, `*_train` and `*_generate` module defines the
original's flags through these helpers and calls the matching `run_*` function
with its EventsModel. Nothing here imports TensorFlow at module level, so
`--help` stays fast.
"""
from __future__ import annotations

import functools
import logging
import sys

from absl import flags

from magenta_rnn.rnn.events_model import EventsModel

FLAGS = flags.FLAGS


def define_common_flags(default_config: str | None) -> None:
    flags.DEFINE_string('config', default_config,
                        'Name of a shipped config or path to a config .json file.')
    flags.DEFINE_string('hparams', '', 'Comma-separated name=value pairs merged over the '
                        'config\'s hparams, e.g. "batch_size=64,rnn_layer_sizes=[64,64]".')
    flags.DEFINE_string('log', 'INFO', 'Logging level: DEBUG, INFO, WARNING, ERROR or FATAL.')


def define_create_dataset_flags(default_config: str | None) -> None:
    define_common_flags(default_config)
    flags.DEFINE_string('input', None, 'TFRecord file of NoteSequences.')
    flags.DEFINE_string('output_dir', None, 'Directory for the training and eval TFRecords.')
    flags.DEFINE_float('eval_ratio', 0.1, 'Fraction of input to set aside for evaluation.')
    flags.DEFINE_integer('seed', None, 'Seed for the train/eval split (random when unset).')


def setup_logging() -> None:
    level = FLAGS.log.upper()
    if level not in ('DEBUG', 'INFO', 'WARNING', 'ERROR', 'FATAL'):
        fail(f'--log: unknown level {FLAGS.log!r}')
    logging.getLogger().setLevel(level if level != 'FATAL' else 'CRITICAL')


def fail(message: str) -> None:
    """Prints one line to stderr and exits non-zero."""
    print(f'error: {message}', file=sys.stderr)
    sys.exit(1)


def run_create_dataset(model: EventsModel) -> None:
    from magenta_rnn.pipelines.dataset import NothingExtractedError, run_dataset_pipeline
    from magenta_rnn.rnn.config import ConfigError
    from magenta_rnn.hparams import HParamsError

    setup_logging()
    for name in ('input', 'output_dir', 'config'):
        if not getattr(FLAGS, name):
            fail(f'--{name} is required')
    try:
        config = model.load_config(FLAGS.config, FLAGS.hparams)
        summary = run_dataset_pipeline(
            FLAGS.input, FLAGS.output_dir, model.dataset_names,
            functools.partial(model.build_chain, config), eval_ratio=FLAGS.eval_ratio,
            seed=FLAGS.seed)
    except (ConfigError, HParamsError, FileNotFoundError, ValueError) as e:
        fail(str(e))
    except NothingExtractedError as e:
        fail(str(e))
    logging.info('statistics:\n%s', summary.stats_report())
    for name, count in summary.outputs.items():
        logging.info('wrote %d examples to %s', count, summary.paths[name])
    logging.info('processed %d NoteSequences in %.1f s', summary.inputs, summary.seconds)


def define_train_flags(model_name: str, default_config: str | None) -> None:
    define_common_flags(default_config)
    flags.DEFINE_string('run_dir', f'/tmp/{model_name}/logdir/run1',
                        'Directory for checkpoints (run_dir/train) and eval summaries (run_dir/eval).')
    flags.DEFINE_string('sequence_example_file', '',
                        'TFRecord file (or glob) of SequenceExamples from *_create_dataset.')
    flags.DEFINE_integer('num_training_steps', 0,
                         'Global step to train up to (a resumed run counts its earlier steps); '
                         '0 trains until stopped. With --eval, the step to stop evaluating at.')
    flags.DEFINE_integer('num_eval_examples', 0,
                         'Examples per evaluation; 0 uses the whole eval file.')
    flags.DEFINE_integer('summary_frequency', 10, 'Steps between log lines and summaries.')
    flags.DEFINE_integer('num_checkpoints', 10, 'Checkpoints to keep (0 keeps all).')
    flags.DEFINE_boolean('eval', False, 'Run an eval job: evaluate each new checkpoint of '
                         'run_dir/train on --sequence_example_file, writing to run_dir/eval.')
    flags.DEFINE_integer('seed', None, 'Random seed for initialisation and shuffling.')


def encoder_facts(encoder) -> dict:
    """The sizes the shared model and trainer need from an encoder."""
    return dict(input_size=encoder.input_size, num_classes=encoder.num_classes,
                default_event_label=encoder.default_event_label,
                class_num_steps=encoder.class_num_steps,
                input_depth=getattr(encoder, 'input_depth', None))


def run_train(model: EventsModel, warm_start_fn=None) -> None:
    """Trains (or with --eval evaluates); warm_start_fn(model) initialises a fresh run."""
    from magenta_rnn.hparams import HParamsError
    from magenta_rnn.rnn.config import ConfigError

    setup_logging()
    if not FLAGS.sequence_example_file:
        fail('--sequence_example_file is required')
    if not FLAGS.config:
        fail('--config is required')
    try:
        config = model.load_config(FLAGS.config, FLAGS.hparams)
    except (ConfigError, HParamsError) as e:
        fail(str(e))
    encoder = model.build_encoder(config)

    from magenta_rnn.rnn import train  # TensorFlow loads here, after flags are checked.
    from magenta_rnn.rnn.model import build_events_rnn

    common = dict(build_model=build_events_rnn, hparams=config.hparams,
                  sequence_example_file=FLAGS.sequence_example_file, run_dir=FLAGS.run_dir,
                  **encoder_facts(encoder))
    try:
        if FLAGS.eval:
            train.run_eval(num_eval_examples=FLAGS.num_eval_examples, **common)
        else:
            train.run_training(num_training_steps=FLAGS.num_training_steps,
                               summary_frequency=FLAGS.summary_frequency,
                               num_checkpoints=FLAGS.num_checkpoints, seed=FLAGS.seed,
                               warm_start_fn=warm_start_fn, **common)
    except (ValueError, FileNotFoundError, train.NonFiniteLossError) as e:
        fail(str(e))
