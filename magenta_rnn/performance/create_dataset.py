"""performance_rnn_create_dataset: NoteSequences -> training/eval SequenceExamples.
Training examples are augmented (5 time stretches x 7 transpositions per 30-second
piece), so the training file is typically ~35x the eval file per input hour.
With --lean_augmentation the training file stores each piece once instead and
performance_rnn_train stretches and transposes it on the fly (performance.lean).
"""

from absl import flags

from magenta_rnn import console
from magenta_rnn.rnn import cli

cli.define_create_dataset_flags(default_config='performance')
flags.DEFINE_boolean('lean_augmentation', False,
                     'Write each training piece once (about the size of the input) and let '
                     'performance_rnn_train apply the stretches and transpositions while it '
                     'trains, instead of writing the examples of all 35 copies.')
FLAGS = flags.FLAGS


def main(argv: list[str]) -> None:
    if len(argv) > 1:
        cli.fail(f'unexpected arguments: {" ".join(argv[1:])}')
    from magenta_rnn.performance import PERFORMANCE_RNN
    cli.run_create_dataset(PERFORMANCE_RNN, chain_options={'lean': FLAGS.lean_augmentation})


def console_entry_point() -> None:
    console.run(main)


if __name__ == '__main__':
    console_entry_point()
