"""performance_rnn_generate: piano performances from a trained model or a .mag bundle.

Times are absolute: --num_steps counts 10 ms steps (3000 = 30 s), primer included.
Conditioned configs take --notes_per_second and --pitch_class_histogram (a value, or a
list of values spread evenly over the performance); optional-conditioning configs also
take --disable_conditioning. A control flag the config cannot use is ignored with a
warning, as in the original.
"""
import dataclasses
import logging

from absl import flags

from magenta_rnn import console
from magenta_rnn.rnn import cli

FLAGS = flags.FLAGS
cli.define_generate_flags('performance_rnn', default_config='performance',
                          checkpoint_file_flag=False, metric_primer=False)
FLAGS.set_default('num_steps', 3000)
flags.DEFINE_string('primer_pitches', '', 'Primer chord as a Python list of MIDI pitches, held '
                    'for 0.5 s at velocity 100; e.g. "[60, 64, 67]".')
flags.DEFINE_string('primer_melody', '', 'Primer as a Python list of melody events (pitches, '
                    '-1 note off, -2 no event) at 120 qpm, 4 steps per quarter; e.g. '
                    '"[60, -2, 60, -2, 67, -2, 67, -2]".')
flags.DEFINE_string('primer_midi', '', 'Primer MIDI file (a polyphonic track).')
flags.DEFINE_string('notes_per_second', None, 'Desired number of notes per second: a number, '
                    'or a list of numbers spread evenly over time, e.g. "[2, 8]".')
flags.DEFINE_string('pitch_class_histogram', None, 'Desired weight of each of the 12 pitch '
                    'classes (C first), e.g. "[2, 0, 1, 0, 1, 1, 0, 2, 0, 1, 0, 1]", or a list '
                    'of such lists spread evenly over time.')
flags.DEFINE_string('disable_conditioning', None, 'With optional conditioning: True to ignore '
                    'the control signals, or a list of booleans spread evenly over time.')

CONTROL_FLAGS = ('notes_per_second', 'pitch_class_histogram')
CONTROL_EXAMPLES = {'notes_per_second': '"8" or "[2, 8]"',
                    'pitch_class_histogram': '"[2, 0, 1, 0, 1, 1, 0, 2, 0, 1, 0, 1]"',
                    'disable_conditioning': '"True" or "[False, True]"'}


def _primer():
    """The primer NoteSequence from the primer flags (at most one may be given)."""
    from magenta_rnn.performance import generator
    from magenta_rnn.rnn.sequence_generator import SequenceGeneratorError

    given = [name for name in ('primer_pitches', 'primer_melody', 'primer_midi')
             if getattr(FLAGS, name)]
    if len(given) > 1:
        cli.fail(f'give at most one of --primer_pitches, --primer_melody and --primer_midi '
                 f'(got {", ".join("--" + g for g in given)})')
    try:
        if FLAGS.primer_pitches:
            return generator.parse_primer_pitches(FLAGS.primer_pitches)
        if FLAGS.primer_melody:
            return generator.parse_primer_melody(FLAGS.primer_melody)
    except SequenceGeneratorError as e:
        cli.fail(str(e))
    if FLAGS.primer_midi:
        from magenta_rnn.music.midi_io import MIDIConversionError, midi_file_to_note_sequence
        try:
            return midi_file_to_note_sequence(FLAGS.primer_midi)
        except (MIDIConversionError, OSError) as e:
            cli.fail(f'--primer_midi {FLAGS.primer_midi}: cannot read MIDI: {e}')
    logging.warning('no primer given (--primer_pitches/--primer_melody/--primer_midi): '
                        'starting from silence')
    return generator.empty_primer()


def _control_flags() -> tuple[dict, list | None]:
    """({flag: values spread over time} for each control flag given, disable list or None).

    Checked before the model loads; whether the config uses them is checked after.
    """
    from magenta_rnn.performance import controls as control_flags

    controls, disable = {}, None
    try:
        for name in CONTROL_FLAGS:
            text = getattr(FLAGS, name)
            if text is not None:
                literal = control_flags.parse_literal(text, name, CONTROL_EXAMPLES[name])
                controls[name] = control_flags.control_values(name, literal)
        if FLAGS.disable_conditioning is not None:
            literal = control_flags.parse_literal(
                FLAGS.disable_conditioning, 'disable_conditioning',
                CONTROL_EXAMPLES['disable_conditioning'])
            disable = control_flags.disable_conditioning_values(literal)
    except control_flags.PerformanceGenerateError as e:
        cli.fail(str(e))
    return controls, disable


def main(argv: list[str]) -> None:
    if len(argv) > 1:
        cli.fail(f'unexpected arguments: {" ".join(argv[1:])}')
    from magenta_rnn.performance import PERFORMANCE_RNN

    cli.run_generate(PERFORMANCE_RNN, read_inputs=lambda: (_primer(), *_control_flags()),
                     generate=_generate)


def _generate(config, encoder, network, inputs, args: cli.SharedGenerateArgs) -> list:
    """Performance RNN's generator call: the control flags the config uses, and a length
    in seconds (--num_steps of steps_per_second) that starts at the primer's end."""
    from magenta_rnn.performance import generator
    from magenta_rnn.performance.model import setup
    from magenta_rnn.rnn.numpy_stepper import NumpyStepper

    primer, controls, disable = inputs
    performance_setup = setup(config)
    used = {signal.name for signal in performance_setup.control_signals}
    for name in controls:
        if name not in used:
            logging.warning('--%s is ignored: config %s is not conditioned on it',
                            name, config.id)
    if disable is not None and not performance_setup.optional_conditioning:
        logging.warning('--disable_conditioning is ignored: config %s has no optional '
                        'conditioning', config.id)
    request = generator.GenerateRequest(
        controls={name: values for name, values in controls.items() if name in used},
        disable_conditioning=disable if performance_setup.optional_conditioning else None,
        **dataclasses.asdict(args.sampling))

    seconds_per_step = 1.0 / performance_setup.steps_per_second
    start_time = primer.total_time
    end_time = args.num_steps * seconds_per_step
    if start_time >= end_time:
        cli.fail(f'the primer ({start_time:.2f} s) is as long as the {args.num_steps} steps '
                 f'requested ({end_time:.2f} s); raise --num_steps')
    try:
        return generator.generate_performances(
            NumpyStepper(network), performance_setup, primer, start_time, end_time,
            args.num_outputs, request, rng=args.rng, continuation_only=args.continuation_only)
    except ValueError as e:
        cli.fail(str(e))


def console_entry_point() -> None:
    console.run(main)


if __name__ == '__main__':
    console_entry_point()
