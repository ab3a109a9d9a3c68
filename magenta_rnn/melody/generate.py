"""melody_rnn_generate: melodies from a trained model or a .mag bundle."""
from absl import app, flags, logging

from magenta_rnn.rnn import cli

FLAGS = flags.FLAGS
cli.define_generate_flags('melody_rnn', default_config=None)
flags.DEFINE_string('primer_melody', '', 'Primer as a Python list of melody events: MIDI '
                    'pitches, -1 note off, -2 no event; e.g. "[60, -2, 60, -2, 67, -2, 67, -2]".')
flags.DEFINE_string('primer_midi', '', 'Primer MIDI file (one note at a time).')
flags.DEFINE_float('qpm', None, 'Tempo in quarters per minute (a primer MIDI\'s tempo wins); '
                   'default 120.')


def main(argv: list[str]) -> None:
    if len(argv) > 1:
        cli.fail(f'unexpected arguments: {" ".join(argv[1:])}')
    cli.setup_logging()
    cli.check_generate_flags()
    if FLAGS.primer_melody and FLAGS.primer_midi:
        cli.fail('give either --primer_melody or --primer_midi, not both')
    if FLAGS.qpm is not None and FLAGS.qpm <= 0:
        cli.fail(f'--qpm must be positive, got {FLAGS.qpm}')

    from magenta_rnn.melody import MELODY_RNN
    from magenta_rnn.melody import generator

    # Parse the primer before loading the model, so a typo fails fast.
    qpm = FLAGS.qpm or 120.0
    try:
        if FLAGS.primer_midi:
            from magenta_rnn.music.midi_io import MIDIConversionError, midi_file_to_note_sequence
            try:
                primer = midi_file_to_note_sequence(FLAGS.primer_midi)
            except (MIDIConversionError, OSError) as e:
                cli.fail(f'--primer_midi {FLAGS.primer_midi}: cannot read MIDI: {e}')
            if primer.tempos and primer.tempos[0].qpm:
                qpm = primer.tempos[0].qpm
        else:
            if not FLAGS.primer_melody:
                logging.warning('no primer given (--primer_melody/--primer_midi): '
                                'starting from a single middle C')
            melody = (generator.parse_primer_melody(FLAGS.primer_melody) if FLAGS.primer_melody
                      else generator.Melody(generator.DEFAULT_PRIMER))
            primer = melody.to_sequence(qpm=qpm)
    except generator.PrimerError as e:
        cli.fail(str(e))

    loaded = cli.load_generation_model(MELODY_RNN)
    if loaded is None:
        return
    config, encoder, network = loaded
    if FLAGS.primer_midi:
        try:
            generator.check_monophonic(primer, config.steps_per_quarter,
                                       f'--primer_midi {FLAGS.primer_midi}')
        except generator.PrimerError as e:
            cli.fail(str(e))

    import numpy as np

    from magenta_rnn.rnn.sampler import EventsSampler
    from magenta_rnn.rnn.sequence_generator import SequenceGeneratorError, generate_sequences

    seconds_per_step = 60.0 / qpm / config.steps_per_quarter
    total_seconds = FLAGS.num_steps * seconds_per_step
    last_end_time = max((n.end_time for n in primer.notes), default=0.0)
    start_time = last_end_time + seconds_per_step
    if start_time >= total_seconds:
        cli.fail(f'the primer ({last_end_time:.2f} s) is as long as the {FLAGS.num_steps} steps '
                 f'requested ({total_seconds:.2f} s); raise --num_steps')
    try:
        outputs = generate_sequences(
            EventsSampler(network, encoder), generator.melody_codec(config),
            config.steps_per_quarter, primer, start_time, total_seconds, FLAGS.num_outputs,
            temperature=FLAGS.temperature, beam_size=FLAGS.beam_size,
            branch_factor=FLAGS.branch_factor, steps_per_iteration=FLAGS.steps_per_iteration,
            rng=np.random.default_rng(FLAGS.seed))
    except (SequenceGeneratorError, ValueError) as e:
        cli.fail(str(e))
    cli.write_outputs(outputs, FLAGS.output_dir)


def console_entry_point() -> None:
    app.run(main)


if __name__ == '__main__':
    console_entry_point()
