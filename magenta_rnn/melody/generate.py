"""melody_rnn_generate: melodies from a trained model or a .mag bundle."""
from absl import flags

from magenta_rnn import console
from magenta_rnn.melody import MELODY_RNN
from magenta_rnn.rnn import cli

FLAGS = flags.FLAGS
cli.define_generate_flags('melody_rnn', default_config=None)
cli.define_encoder_flag(MELODY_RNN)
flags.DEFINE_string('primer_melody', '', 'Primer as a Python list of melody events: MIDI '
                    'pitches, -1 note off, -2 no event; e.g. "[60, -2, 60, -2, 67, -2, 67, -2]".')
flags.DEFINE_integer('program', None, 'General MIDI program (0-127) the melodies are written '
                     'for, e.g. 73 for a flute (default: 0, piano).', lower_bound=0,
                     upper_bound=127)


def main(argv: list[str]) -> None:
    if len(argv) > 1:
        cli.fail(f'unexpected arguments: {" ".join(argv[1:])}')
    from magenta_rnn.melody import generator

    cli.run_metric_generate(
        MELODY_RNN, primer_flag='primer_melody',
        primer_from_flag=lambda: (generator.parse_primer_melody(FLAGS.primer_melody)
                                  if FLAGS.primer_melody else None),
        default_primer=lambda: generator.Melody(generator.DEFAULT_PRIMER),
        parts=generator.melody_parts, check_primer_midi=generator.check_monophonic,
        postprocess=_with_program if FLAGS.program is not None else None)


def _with_program(outputs):
    from magenta_rnn.music.transforms import with_program
    return [with_program(sequence, FLAGS.program) for sequence in outputs]


def console_entry_point() -> None:
    console.run(main)


if __name__ == '__main__':
    console_entry_point()
