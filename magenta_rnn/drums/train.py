"""drums_rnn_train: train a Drums RNN, or with --eval run its eval job."""
from magenta_rnn import console
from magenta_rnn.rnn import cli

cli.define_train_flags('drums_rnn', default_config='drum_kit')


def main(argv: list[str]) -> None:
    if len(argv) > 1:
        cli.fail(f'unexpected arguments: {" ".join(argv[1:])}')
    from magenta_rnn.drums import DRUMS_RNN
    cli.run_train(DRUMS_RNN)


def console_entry_point() -> None:
    console.run(main)


if __name__ == '__main__':
    console_entry_point()
