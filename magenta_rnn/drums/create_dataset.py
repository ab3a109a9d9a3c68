"""drums_rnn_create_dataset: NoteSequences -> training/eval SequenceExamples of drum tracks."""
from magenta_rnn import console
from magenta_rnn.rnn import cli

cli.define_create_dataset_flags(default_config='drum_kit')


def main(argv: list[str]) -> None:
    if len(argv) > 1:
        cli.fail(f'unexpected arguments: {" ".join(argv[1:])}')
    from magenta_rnn.drums import DRUMS_RNN
    cli.run_create_dataset(DRUMS_RNN)


def console_entry_point() -> None:
    console.run(main)


if __name__ == '__main__':
    console_entry_point()
