"""drums_rnn_train: train a Drums RNN, or with --eval run its eval job."""
from absl import app, flags

from magenta_rnn.rnn import cli

cli.define_train_flags('drums_rnn', default_config='drum_kit')
flags.adopt_module_key_flags(cli)  # --help lists the shared flags too.


def main(argv: list[str]) -> None:
    if len(argv) > 1:
        cli.fail(f'unexpected arguments: {" ".join(argv[1:])}')
    from magenta_rnn.drums import DRUMS_RNN
    cli.run_train(DRUMS_RNN)


def console_entry_point() -> None:
    app.run(main)


if __name__ == '__main__':
    console_entry_point()
