"""performance_rnn_train: train a Performance RNN, or with --eval run its eval job.

A training file written by performance_rnn_create_dataset --lean_augmentation (one
record per piece) is stretched and transposed on the fly in the input pipeline.

--warm_start_bundle_file (shared by every events trainer) starts a fresh run from the
weights in a `.mag` bundle instead of a random initialisation.
"""
from __future__ import annotations

from absl import flags

from magenta_rnn import console
from magenta_rnn.rnn import cli

cli.define_train_flags('performance_rnn', default_config='performance')
FLAGS = flags.FLAGS


def main(argv: list[str]) -> None:
    if len(argv) > 1:
        cli.fail(f'unexpected arguments: {" ".join(argv[1:])}')
    from magenta_rnn.performance import PERFORMANCE_RNN
    if not FLAGS.eval:
        _augment_lean_files_on_the_fly(PERFORMANCE_RNN)
    cli.run_train(PERFORMANCE_RNN)


def _augment_lean_files_on_the_fly(model) -> None:
    from magenta_rnn.hparams import HParamsError
    from magenta_rnn.performance import lean
    from magenta_rnn.rnn import data
    from magenta_rnn.rnn.config import ConfigError
    try:
        config = cli.config_from_flags(model)
    except (ConfigError, HParamsError) as e:
        cli.fail(str(e))
    data.use_record_expander(lean.PieceAugmenter(config))


def console_entry_point() -> None:
    console.run(main)


if __name__ == '__main__':
    console_entry_point()
