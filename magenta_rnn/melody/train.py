"""melody_rnn_train: train a Melody RNN, or with --eval run its eval job."""
from magenta_rnn import console
from magenta_rnn.melody import MELODY_RNN
from magenta_rnn.rnn import cli

cli.define_train_flags('melody_rnn', default_config=None)
cli.define_encoder_flag(MELODY_RNN)


def main(argv: list[str]) -> None:
    if len(argv) > 1:
        cli.fail(f'unexpected arguments: {" ".join(argv[1:])}')
    cli.run_train(MELODY_RNN)


def console_entry_point() -> None:
    console.run(main)


if __name__ == '__main__':
    console_entry_point()
