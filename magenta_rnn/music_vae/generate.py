"""`music_vae_generate`: samples or interpolations from a trained MusicVAE (as the original's
music_vae_generate.py).

  music_vae_generate --config=cat-mel_2bar_small --run_dir=/tmp/run --mode=sample \
      --num_outputs=5 --output_dir=/tmp/music_vae/generated
  music_vae_generate --config=cat-mel_2bar_small --checkpoint_file=model.tar \
      --mode=interpolate --input_midi_1=a.mid --input_midi_2=b.mid --num_outputs=5
  music_vae_generate --config=cat-mel_2bar_small --run_dir=/tmp/run --mode=attribute \
      --attribute=note_density --attribute_examples=notesequences.tfrecord \
      --attribute_vector_file=note_density.npy --input_midi_1=a.mid --attribute_scales=-2,0,2

Models with controls: chord configs (cat-mel_2bar_med_chords, hier-multiperf_*_chords)
play --chords="C G Am F"; groovae_2bar_hits_control_tfds plays the drum hits of
--input_midi_1 (sample mode; in interpolate mode those of the first input).

In attribute mode (an addition; see attributes.py) the attribute vector is computed
from --attribute_examples (a TFRecord of NoteSequences, a MIDI file or a directory
of them) and saved to --attribute_vector_file, or loaded from that file when no
examples are given; then the code of --input_midi_1 (or one random code) plus
k * vector is decoded for each k in --attribute_scales, one output each.

Files are named `<config>_<mode>_<YYYY-mm-dd_HHMMSS>-<iii>-of-<NNN>.mid`. In
interpolate mode each input MIDI must give exactly one input for the config; a file
that gives several has them all written as
`<config>_input<k>-extractions_<date>-<iii>-of-<NNN>.mid` (pick one and run again).
"""
from __future__ import annotations

import logging
import os
import time

import numpy as np
from absl import flags

from magenta_rnn import console
from magenta_rnn.rnn import cli

FLAGS = flags.FLAGS
cli.define_preview_flag()

flags.DEFINE_string('run_dir', None, 'Run directory of music_vae_train; its latest checkpoint in '
                    '<run_dir>/train is loaded. Takes priority over --checkpoint_file. Without '
                    'either, the shipped default model of --config is used.')
flags.DEFINE_string('checkpoint_file', None, 'Checkpoint prefix, or a .tar holding one.')
flags.DEFINE_string('output_dir', '/tmp/music_vae/generated', 'Where MIDI files are written.')
flags.DEFINE_string('config', None, 'Name of a config in configs/music_vae or a .json path.')
flags.DEFINE_string('mode', 'sample', 'Generate mode: `sample`, `interpolate` or `attribute`.')
flags.DEFINE_string('input_midi_1', None, 'Start MIDI file of the interpolation.')
flags.DEFINE_string('input_midi_2', None, 'End MIDI file of the interpolation.')
flags.DEFINE_integer('num_outputs', 5, 'In `sample` mode, the number of samples; in '
                     '`interpolate` mode, the number of steps including the endpoints.')
flags.DEFINE_integer('max_batch_size', 8, 'The largest batch size to run at.')
flags.DEFINE_float('temperature', 0.5, 'Softmax temperature of the decoder\'s sampling.')
flags.DEFINE_string('hparams', '', 'Comma-separated name=value pairs merged over the config\'s '
                    'hparams; must match the sizes the model was trained with.')
flags.DEFINE_integer('seed', None, 'Seed for z draws and sampling (repeatable outputs).')
flags.DEFINE_string('attribute', None, 'In `attribute` mode, the attribute to change: one of '
                    'note_density, mean_pitch, pitch_range, mean_interval, mean_duration.')
flags.DEFINE_string('attribute_examples', None, 'In `attribute` mode, the sequences the attribute '
                    'vector is computed from: a TFRecord of NoteSequences, a MIDI file or a '
                    'directory of MIDI files (searched recursively).')
flags.DEFINE_string('attribute_vector_file', None, 'In `attribute` mode, a .npy attribute vector: '
                    'written when --attribute_examples is given, else read.')
flags.DEFINE_string('attribute_scales', '-2,-1,0,1,2', 'In `attribute` mode, comma-separated '
                    'multiples k of the vector added to the latent code, one output each.')
flags.DEFINE_float('attribute_quantile', 0.25, 'In `attribute` mode, the vector is the mean code '
                   'of the examples in the top quantile of the attribute minus that of the '
                   'bottom quantile.')
flags.DEFINE_integer('attribute_max_examples', None, 'In `attribute` mode, use at most this many '
                     'extracted inputs of --attribute_examples.')
flags.DEFINE_string('chords', None, 'For chord-conditioned configs, the chord progression to play, '
                    'e.g. "C G Am F" (major, minor, augmented or diminished triads, or N.C.). '
                    'Melody configs spread it evenly over the sequence; multi-instrument '
                    'performance configs play one bar per chord. Required in `sample` mode; in '
                    '`interpolate` mode the default is the first input\'s own chords.')
flags.DEFINE_string('log', 'INFO', 'Logging level: DEBUG, INFO, WARNING, ERROR or FATAL.')

# More outputs than this in one run is a typo (each one is a MIDI file and a batch row).
MAX_OUTPUTS = 10000


def _output_name(config_id: str, what: str, date_and_time: str, index: int, total: int) -> str:
    # The config's id comes from a file the user may not have written: never a path.
    from magenta_rnn.atomic import safe_file_name
    return f'{safe_file_name(config_id)}_{what}_{date_and_time}-{index:03d}-of-{total:03d}.mid'


def _write_midi(note_sequence, path: str) -> None:
    from magenta_rnn import atomic
    atomic.write_midi_file(note_sequence, path)


def _load_input(flag_name: str):
    from magenta_rnn.music import midi_io
    path = getattr(FLAGS, flag_name)
    if path is None:
        console.fail('--input_midi_1 and --input_midi_2 must be given in `interpolate` mode')
    path = os.path.expanduser(path)
    if not os.path.isfile(path):
        console.fail(f'--{flag_name}: MIDI file not found: {getattr(FLAGS, flag_name)}')
    try:
        return midi_io.midi_file_to_note_sequence(path)
    except midi_io.MIDIConversionError as e:
        console.fail(f'--{flag_name}: {getattr(FLAGS, flag_name)} is not a readable MIDI file ({e})')


def _check_extract_examples(converter, config_id: str, note_sequence, flag_name: str,
                            input_number: int, date_and_time: str) -> bool:
    """True when the input gives exactly one example; otherwise reports and writes extractions."""
    path = getattr(FLAGS, flag_name)
    outputs = converter.to_tensors(note_sequence).outputs
    if not outputs:
        console.fail(f'--{flag_name}: MusicVAE configs have very specific input requirements. '
                     f'Could not extract any valid inputs from `{path}` for config {config_id}. '
                     f'Try another MIDI file.')
    if len(outputs) == 1:
        return True
    what = f'input{input_number}-extractions'
    for i, ns in enumerate(converter.from_tensors(outputs)):
        _write_midi(ns, os.path.join(
            FLAGS.output_dir, _output_name(config_id, what, date_and_time, i, len(outputs))))
    pattern = os.path.join(FLAGS.output_dir, _output_name(config_id, what, date_and_time, 0,
                                                          len(outputs)).replace('-000-', '-*-'))
    print(f'{len(outputs)} valid inputs extracted from `{path}`. Outputting these potential '
          f'inputs as `{pattern}`. Call script again with one of these instead.')
    return False


def _parse_scales() -> list[float]:
    try:
        scales = [float(k) for k in FLAGS.attribute_scales.split(',') if k.strip()]
    except ValueError:
        scales = []
    if not scales:
        console.fail(f'--attribute_scales: expected comma-separated numbers, got '
                     f'{FLAGS.attribute_scales!r}')
    return scales


def _load_attribute_examples(path: str) -> list:
    """NoteSequences of a MIDI directory (recursive), a MIDI file or a NoteSequence TFRecord."""
    import glob
    from magenta_rnn import records
    from magenta_rnn.music import midi_io
    expanded = os.path.expanduser(path)
    if os.path.isdir(expanded):
        midi_files = sorted(f for f in glob.glob(os.path.join(expanded, '**', '*'), recursive=True)
                            if f.lower().endswith(('.mid', '.midi')))
    elif expanded.lower().endswith(('.mid', '.midi')):
        midi_files = [expanded]
    else:
        files = sorted(glob.glob(expanded))
        if not files:
            console.fail(f'--attribute_examples: no such file, directory or TFRecord: {path}')
        from google.protobuf.message import DecodeError
        try:
            return [ns for f in files for ns in records.read_note_sequences(f)]
        except (OSError, ValueError, DecodeError) as e:
            console.fail(f'--attribute_examples: {path} is not a TFRecord of NoteSequences ({e})')
    sequences = []
    for f in midi_files:
        try:
            sequences.append(midi_io.midi_file_to_note_sequence(f))
        except (midi_io.MIDIConversionError, OSError) as e:
            logging.warning('--attribute_examples: skipping unreadable MIDI file %s (%s)', f, e)
    if not sequences:
        console.fail(f'--attribute_examples: no readable MIDI files in {path}')
    return sequences


def _shipped_default() -> tuple[str, str]:
    """(weights, training hparams) of the shipped default for --config; fails in one line
    when there is none."""
    from magenta_rnn import default_models

    if not FLAGS.config:
        console.fail(f'--config is required; shipped default models: '
                     f'{", ".join(default_models.shipped("music_vae")) or "none"}')
    if FLAGS.hparams:
        console.fail('--hparams applies to a model from --run_dir/--checkpoint_file, not to a '
                     'shipped default model')
    try:
        return default_models.music_vae_checkpoint(FLAGS.config)
    except default_models.NoDefaultModelError as e:
        console.fail(str(e))


def run() -> list[str]:
    """Writes the requested MIDI files; returns their paths."""
    from magenta_rnn.hparams import HParamsError
    from magenta_rnn.music_vae import configs

    date_and_time = time.strftime('%Y-%m-%d_%H%M%S')
    if not FLAGS.output_dir:
        console.fail('--output_dir is required.')
    cli.check_preview_flag()
    if FLAGS.mode not in ('sample', 'interpolate', 'attribute'):
        console.fail(f'--mode: invalid value {FLAGS.mode!r} (use `sample`, `interpolate` or '
                     f'`attribute`)')
    if not FLAGS.config:
        console.fail(f'--config is required; choose one of {", ".join(configs.available_configs())}')
    console.check_flag_ranges({'num_outputs': (1, MAX_OUTPUTS),
                               'max_batch_size': (1, MAX_OUTPUTS),
                               'attribute_max_examples': (1, None)})
    console.check_temperature(FLAGS.temperature)
    shipped_weights = None
    hparams = FLAGS.hparams
    if FLAGS.run_dir is None and FLAGS.checkpoint_file is None:
        shipped_weights, hparams = _shipped_default()
    try:
        config = configs.load_config(FLAGS.config, hparams)
    except (configs.ConfigError, HParamsError) as e:
        console.fail(str(e))
    vector = None
    if FLAGS.mode == 'attribute':
        from magenta_rnn.music_vae import attributes
        scales = _parse_scales()
        if FLAGS.attribute is not None and FLAGS.attribute not in attributes.NOTE_ATTRIBUTES:
            console.fail(f'--attribute: unknown attribute {FLAGS.attribute!r}; choose one of '
                         f'{", ".join(attributes.NOTE_ATTRIBUTES)}')
        if not 0 < FLAGS.attribute_quantile <= 0.5:
            console.fail(f'--attribute_quantile must be in (0, 0.5], got '
                         f'{FLAGS.attribute_quantile}')
        if FLAGS.attribute_examples is None:
            if FLAGS.attribute_vector_file is None:
                console.fail('`attribute` mode needs --attribute_examples (to compute the vector) '
                             'or --attribute_vector_file (a saved one)')
            try:
                vector = attributes.load_attribute_vector(
                    os.path.expanduser(FLAGS.attribute_vector_file))
            except attributes.AttributeVectorError as e:
                console.fail(f'--attribute_vector_file: {e}')
            if FLAGS.attribute is not None and FLAGS.attribute != vector.attribute:
                console.fail(f'--attribute_vector_file: {FLAGS.attribute_vector_file} holds a '
                             f'{vector.attribute} vector, not {FLAGS.attribute}')
            if vector.vector.shape != (config.hparams.z_size,):
                console.fail(f'--attribute_vector_file: the vector has {vector.vector.shape[0]} '
                             f'dimensions, config {config.id} has z_size {config.hparams.z_size}')
        elif FLAGS.attribute is None:
            console.fail(f'--attribute is required with --attribute_examples; choose one of '
                         f'{", ".join(attributes.NOTE_ATTRIBUTES)}')
    converter = config.make_data_converter()
    figures = _check_controls(converter, config.id)
    console.check_output_dir(FLAGS.output_dir)
    from magenta_rnn import atomic
    atomic.remove_stale_midi_temp_files(os.path.expanduser(FLAGS.output_dir))

    inputs = []
    if FLAGS.mode == 'interpolate':
        converter = config.make_data_converter()
        converter.set_mode('infer')
        inputs = [_load_input('input_midi_1'), _load_input('input_midi_2')]
        logging.info('Attempting to extract examples from input MIDIs using config `%s`...',
                     config.id)
        usable = [_check_extract_examples(converter, config.id, ns, f'input_midi_{k + 1}', k + 1,
                                          date_and_time)
                  for k, ns in enumerate(inputs)]
        if not all(usable):
            return []
    if FLAGS.mode == 'attribute' and FLAGS.input_midi_1 is not None:
        converter = config.make_data_converter()
        converter.set_mode('infer')
        inputs = [_load_input('input_midi_1')]
        if not _check_extract_examples(converter, config.id, inputs[0], 'input_midi_1', 1,
                                       date_and_time):
            return []
    examples = []
    if FLAGS.mode == 'attribute' and vector is None:
        examples = _load_attribute_examples(FLAGS.attribute_examples)

    from magenta_rnn.music_vae import trained_model
    logging.info('Loading model...')
    if shipped_weights:
        from magenta_rnn import default_models
        logging.info('using the %s', default_models.describe('music_vae', FLAGS.config))
        checkpoint, flag = shipped_weights, '--config'
    elif FLAGS.run_dir:
        checkpoint = os.path.join(os.path.expanduser(FLAGS.run_dir), 'train')
        flag = '--run_dir'
    else:
        checkpoint = os.path.expanduser(FLAGS.checkpoint_file)
        flag = '--checkpoint_file'
    try:
        # Attribute mode encodes many examples: it runs at the full --max_batch_size.
        batch_size = (FLAGS.max_batch_size if FLAGS.mode == 'attribute'
                      else min(FLAGS.max_batch_size, FLAGS.num_outputs))
        model = trained_model.TrainedModel(
            config, batch_size=batch_size,
            checkpoint_dir_or_path=checkpoint, seed=FLAGS.seed)
    except trained_model.CheckpointError as e:
        console.fail(f'{flag}: {e}')
    except (ValueError, NotImplementedError) as e:  # a config this model cannot build
        console.fail(f'--config: {e}')

    length = config.hparams.max_seq_len
    if FLAGS.mode == 'interpolate':
        logging.info('Interpolating...')
        results = _interpolate(model, inputs, figures, length)
    elif FLAGS.mode == 'attribute':
        results = _apply_attribute(model, vector, examples, inputs, scales, length)
    else:
        logging.info('Sampling...')
        results = _sample(model, figures, length)

    paths = [os.path.join(FLAGS.output_dir, _output_name(config.id, FLAGS.mode, date_and_time, i,
                                                          len(results)))
             for i in range(len(results))]
    logging.info('Outputting %d files as `%s`...', len(paths),
                 paths[0].replace('-000-of-', '-*-of-') if paths else '')
    empty = []
    for ns, path in zip(results, paths):
        _write_midi(ns, path)
        if not ns.notes:
            empty.append(os.path.basename(path))
    if empty:
        logging.warning('%d of %d outputs have no notes: %s', len(empty), len(paths),
                        ', '.join(empty))
    cli.write_previews(paths)
    logging.info('Done.')
    return paths


def _check_controls(converter, config_id: str) -> list[str]:
    """The --chords progression (empty for none), after checking the flags a model with
    controls needs."""
    from magenta_rnn.music import chords as chords_lib
    from magenta_rnn.music_vae import controls
    if FLAGS.chords is not None and not controls.takes_chords(converter):
        console.fail(f'--chords: config {config_id} is not conditioned on chords')
    if converter.control_depth and FLAGS.mode == 'attribute':
        console.fail(f'--mode: `attribute` mode does not support config {config_id}, which is '
                     f'conditioned on controls')
    if controls.takes_chords(converter):
        if FLAGS.chords is None:
            if FLAGS.mode == 'sample':
                console.fail(f'--chords is required: config {config_id} is conditioned on chords '
                             f'(e.g. --chords="C G Am F")')
            return []
        try:
            return chords_lib.parse_chord_progression(FLAGS.chords)
        except ValueError as e:
            console.fail(str(e))
    if converter.control_depth and FLAGS.mode == 'sample' and FLAGS.input_midi_1 is None:
        console.fail(f'--input_midi_1 is required: config {config_id} plays the drum hits of '
                     f'an input pattern')
    return []


def _sample(model, figures: list[str], length: int) -> list:
    from magenta_rnn.music_vae import controls
    converter = model.data_converter
    if controls.is_bar_per_chord(converter):
        z = np.random.default_rng(FLAGS.seed).standard_normal(
            (FLAGS.num_outputs, model.config.hparams.z_size)).astype(np.float32)
        return controls.decode_progression(model, z, figures, length, FLAGS.temperature)
    c_input = None
    if figures:
        c_input = controls.chord_c_input(converter, figures, length)
    elif converter.control_depth:
        try:
            c_input = controls.hits_c_input(converter, _load_input('input_midi_1'))
        except ValueError as e:
            console.fail(f'--input_midi_1: {FLAGS.input_midi_1}: {e}')
    return model.sample(n=FLAGS.num_outputs, length=length, temperature=FLAGS.temperature,
                        c_input=c_input)


def _interpolate(model, inputs: list, figures: list[str], length: int) -> list:
    from magenta_rnn.music_vae import controls
    from magenta_rnn.music_vae.trained_model import slerp
    converter = model.data_converter
    if figures and controls.is_bar_per_chord(converter):
        _, mu, _ = model.encode(inputs)
        z = np.array([slerp(mu[0], mu[1], t) for t in np.linspace(0, 1, FLAGS.num_outputs)],
                     np.float32)
        return controls.decode_progression(model, z, figures, length, FLAGS.temperature)
    c_input = controls.chord_c_input(converter, figures, length) if figures else None
    return model.interpolate(inputs[0], inputs[1], FLAGS.num_outputs, length=length,
                             temperature=FLAGS.temperature, assert_same_length=False,
                             c_input=c_input)


def _apply_attribute(model, vector, examples: list, inputs: list, scales: list[float],
                     length: int) -> list:
    """Computes (and saves) or takes the attribute vector; decodes base + k * vector."""
    from magenta_rnn.music_vae import attributes
    if vector is None:
        logging.info('Computing the %s vector from %d NoteSequences of %s...', FLAGS.attribute,
                     len(examples), FLAGS.attribute_examples)
        try:
            vector = model.attribute_vector(examples, FLAGS.attribute, FLAGS.attribute_quantile,
                                            FLAGS.attribute_max_examples)
        except attributes.AttributeVectorError as e:
            console.fail(f'--attribute_examples: {FLAGS.attribute_examples}: {e}')
        logging.info('%s vector from %d inputs: top group mean %.3f (%d inputs), bottom group '
                     'mean %.3f (%d inputs), |vector| = %.3f', vector.attribute,
                     vector.num_examples, vector.high_mean, vector.num_high, vector.low_mean,
                     vector.num_low, float((vector.vector ** 2).sum() ** 0.5))
        if FLAGS.attribute_vector_file:
            try:
                attributes.save_attribute_vector(
                    os.path.expanduser(FLAGS.attribute_vector_file), vector)
            except OSError as e:
                console.fail(f'--attribute_vector_file: cannot write {FLAGS.attribute_vector_file}'
                             f' ({e.strerror or e})')
            logging.info('Saved the vector to %s', FLAGS.attribute_vector_file)
    logging.info('Decoding %s with %s * vector...',
                 'the code of --input_midi_1' if inputs else 'one random code',
                 ', '.join(f'{k:g}' for k in scales))
    results = model.apply_attribute_vector(vector, scales,
                                           note_sequence=inputs[0] if inputs else None,
                                           length=length, temperature=FLAGS.temperature)
    values = attributes.measure(results, vector.attribute)
    for i, (k, value) in enumerate(zip(scales, values)):
        logging.info('output %03d: %+g * vector, %s = %.3f', i, k, vector.attribute, value)
    return results


def main(argv: list[str]) -> None:
    if len(argv) > 1:
        console.fail(f'unexpected arguments: {" ".join(argv[1:])}')
    level = FLAGS.log.upper()
    if level not in ('DEBUG', 'INFO', 'WARNING', 'WARN', 'ERROR', 'FATAL'):
        console.fail(f'--log: unknown level {FLAGS.log!r}')
    logging.getLogger().setLevel({'FATAL': 'CRITICAL', 'WARN': 'WARNING'}.get(level, level))
    run()


def console_entry_point() -> None:
    console.run(main)


if __name__ == '__main__':
    console_entry_point()
