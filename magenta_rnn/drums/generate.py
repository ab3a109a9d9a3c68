"""drums_rnn_generate: drum tracks from a trained model or a .mag bundle."""
from absl import flags

from magenta_rnn import console
from magenta_rnn.rnn import cli

FLAGS = flags.FLAGS
cli.define_generate_flags('drums_rnn', default_config='drum_kit')
flags.DEFINE_string('primer_drums', '', 'Primer as a Python list of tuples of MIDI drum '
                    'pitches, one tuple per step; e.g. "[(36, 42), (), (42,)]".')


def main(argv: list[str]) -> None:
    if len(argv) > 1:
        cli.fail(f'unexpected arguments: {" ".join(argv[1:])}')
    from magenta_rnn.drums import DRUMS_RNN, generator

    cli.run_metric_generate(
        DRUMS_RNN, primer_flag='primer_drums',
        primer_from_flag=lambda: (generator.parse_primer_drums(FLAGS.primer_drums)
                                  if FLAGS.primer_drums else None),
        default_primer=lambda: generator.DrumTrack(generator.DEFAULT_PRIMER),
        parts=generator.drums_parts)


def console_entry_point() -> None:
    console.run(main)


if __name__ == '__main__':
    console_entry_point()
