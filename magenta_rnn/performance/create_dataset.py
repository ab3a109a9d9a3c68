"""performance_rnn_create_dataset: NoteSequences -> training/eval SequenceExamples.
Training examples are augmented (5 time stretches x 7 transpositions per 30-second
piece), so the training file is typically ~35x the eval file per input hour.
"""

from magenta_rnn import console
from magenta_rnn.rnn import cli

cli.define_create_dataset_flags(default_config='performance')


def main(argv: list[str]) -> None:
    if len(argv) > 1:
        cli.fail(f'unexpected arguments: {" ".join(argv[1:])}')
    from magenta_rnn.performance import PERFORMANCE_RNN
    cli.run_create_dataset(PERFORMANCE_RNN)


def console_entry_point() -> None:
    console.run(main)


if __name__ == '__main__':
    console_entry_point()
