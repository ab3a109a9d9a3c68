"""performance_rnn_train: train a Performance RNN, or with --eval run its eval job.

--warm_start_bundle_file starts a fresh run from the weights in a `.mag` bundle
(the original's or ours) instead of a random initialisation; a run that resumes
from its own checkpoint ignores it.
"""
from __future__ import annotations

import importlib.util
import logging
import os
from collections.abc import Callable
from typing import Any

from absl import app, flags

from magenta_rnn.rnn import cli

cli.define_train_flags('performance_rnn', default_config='performance')
flags.DEFINE_string('warm_start_bundle_file', None,
                    'A .mag bundle whose weights initialise a fresh training run '
                    '(its model shape must match --config and --hparams).')
FLAGS = flags.FLAGS

_IMPORTER = 'magenta_rnn.rnn.v1_import'


def bundle_warm_start(path: str, generator_id: str) -> Callable[[Any], None]:
    """A warm_start_fn(model) that copies the bundle's weights into the model."""
    def warm_start(model: Any) -> None:
        from magenta_rnn.rnn import bundle as bundle_lib
        from magenta_rnn.rnn import v1_import
        bundle = bundle_lib.read_bundle(path)
        bundle_id = bundle.generator_details.id
        if bundle_id and bundle_id != generator_id:
            logging.warning('--warm_start_bundle_file %s was made for %r, not %r', path,
                            bundle_id, generator_id)
        try:
            v1_import.assign_weights(model, v1_import.read_bundle_values(bundle))
        except (KeyError, v1_import.CheckpointImportError) as e:
            raise ValueError(f'--warm_start_bundle_file {path}: its weights do not fit '
                             f'this model ({e})') from None
        logging.info('Warm-started from %s', path)
    return warm_start


def main(argv: list[str]) -> None:
    if len(argv) > 1:
        cli.fail(f'unexpected arguments: {" ".join(argv[1:])}')
    warm_start = None
    path = FLAGS.warm_start_bundle_file
    if path:
        if FLAGS.eval:
            cli.fail('--warm_start_bundle_file applies to training, not to --eval')
        if not os.path.isfile(path):
            cli.fail(f'--warm_start_bundle_file: no such file {path}')
        if importlib.util.find_spec(_IMPORTER) is None:
            cli.fail('--warm_start_bundle_file is not yet supported in this build '
                     f'(bundle weight import, {_IMPORTER}, is missing)')
        warm_start = bundle_warm_start(path, FLAGS.config)
    from magenta_rnn.performance import PERFORMANCE_RNN
    cli.run_train(PERFORMANCE_RNN, warm_start_fn=warm_start)


def console_entry_point() -> None:
    app.run(main)


if __name__ == '__main__':
    console_entry_point()
