"""performance_rnn_train: train a Performance RNN, or with --eval run its eval job.

--warm_start_bundle_file (shared by every events trainer) starts a fresh run from the
weights in a `.mag` bundle instead of a random initialisation.
"""
from __future__ import annotations

from magenta_rnn import console
from magenta_rnn.rnn import cli

cli.define_train_flags('performance_rnn', default_config='performance')


def main(argv: list[str]) -> None:
    if len(argv) > 1:
        cli.fail(f'unexpected arguments: {" ".join(argv[1:])}')
    from magenta_rnn.performance import PERFORMANCE_RNN
    cli.run_train(PERFORMANCE_RNN)


def console_entry_point() -> None:
    console.run(main)


if __name__ == '__main__':
    console_entry_point()
