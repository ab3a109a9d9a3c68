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
