"""`music_vae_generate`: samples or interpolations from a trained MusicVAE (facts §11.8).

  music_vae_generate --config=cat-mel_2bar_small --run_dir=/tmp/run --mode=sample \
      --num_outputs=5 --output_dir=/tmp/music_vae/generated
  music_vae_generate --config=cat-mel_2bar_small --checkpoint_file=model.tar \
      --mode=interpolate --input_midi_1=a.mid --input_midi_2=b.mid --num_outputs=5

Files are named `<config>_<mode>_<YYYY-mm-dd_HHMMSS>-<iii>-of-<NNN>.mid`. In
interpolate mode each input MIDI must give exactly one input for the config; a file
that gives several has them all written as
`<config>_input<k>-extractions_<date>-<iii>-of-<NNN>.mid` (pick one and run again).
"""
from __future__ import annotations

import logging
import os
import time

from absl import flags

from magenta_rnn import console

FLAGS = flags.FLAGS

flags.DEFINE_string('run_dir', None, 'Run directory of music_vae_train; its latest checkpoint in '
                    '<run_dir>/train is loaded. Takes priority over --checkpoint_file.')
flags.DEFINE_string('checkpoint_file', None, 'Checkpoint prefix, or a .tar holding one.')
flags.DEFINE_string('output_dir', '/tmp/music_vae/generated', 'Where MIDI files are written.')
flags.DEFINE_string('config', None, 'Name of a config in configs/music_vae or a .json path.')
flags.DEFINE_string('mode', 'sample', 'Generate mode: `sample` or `interpolate`.')
flags.DEFINE_string('input_midi_1', None, 'Start MIDI file of the interpolation.')
flags.DEFINE_string('input_midi_2', None, 'End MIDI file of the interpolation.')
flags.DEFINE_integer('num_outputs', 5, 'In `sample` mode, the number of samples; in '
                     '`interpolate` mode, the number of steps including the endpoints.')
flags.DEFINE_integer('max_batch_size', 8, 'The largest batch size to run at.')
flags.DEFINE_float('temperature', 0.5, 'Softmax temperature of the decoder\'s sampling.')
flags.DEFINE_string('hparams', '', 'Comma-separated name=value pairs merged over the config\'s '
                    'hparams; must match the sizes the model was trained with.')
flags.DEFINE_integer('seed', None, 'Seed for z draws and sampling (repeatable outputs).')
flags.DEFINE_string('log', 'INFO', 'Logging level: DEBUG, INFO, WARNING, ERROR or FATAL.')


def _output_name(config_id: str, what: str, date_and_time: str, index: int, total: int) -> str:
    return f'{config_id}_{what}_{date_and_time}-{index:03d}-of-{total:03d}.mid'


def _load_input(flag_name: str):
    from magenta_rnn.music import midi_io  # pylint: disable=import-outside-toplevel
    path = getattr(FLAGS, flag_name)
    if path is None:
        console.fail(f'--input_midi_1 and --input_midi_2 must be given in `interpolate` mode')
    path = os.path.expanduser(path)
    if not os.path.exists(path):
        console.fail(f'--{flag_name}: MIDI file not found: {getattr(FLAGS, flag_name)}')
    try:
        return midi_io.midi_file_to_note_sequence(path)
    except midi_io.MIDIConversionError as e:
        console.fail(f'--{flag_name}: {getattr(FLAGS, flag_name)} is not a readable MIDI file ({e})')


def _check_extract_examples(converter, config_id: str, note_sequence, flag_name: str,
                            input_number: int, date_and_time: str) -> bool:
    """True when the input gives exactly one example; otherwise reports and writes extractions."""
    from magenta_rnn.music import midi_io  # pylint: disable=import-outside-toplevel
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
        midi_io.note_sequence_to_midi_file(ns, os.path.join(
            FLAGS.output_dir, _output_name(config_id, what, date_and_time, i, len(outputs))))
    pattern = os.path.join(FLAGS.output_dir, _output_name(config_id, what, date_and_time, 0,
                                                          len(outputs)).replace('-000-', '-*-'))
    print(f'{len(outputs)} valid inputs extracted from `{path}`. Outputting these potential '
          f'inputs as `{pattern}`. Call script again with one of these instead.')
    return False


def run() -> list[str]:
    """Writes the requested MIDI files; returns their paths."""
    from magenta_rnn.hparams import HParamsError  # pylint: disable=import-outside-toplevel
    from magenta_rnn.music_vae import configs  # pylint: disable=import-outside-toplevel

    date_and_time = time.strftime('%Y-%m-%d_%H%M%S')
    if FLAGS.run_dir is None and FLAGS.checkpoint_file is None:
        console.fail('Exactly one of --run_dir or --checkpoint_file must be specified.')
    if not FLAGS.output_dir:
        console.fail('--output_dir is required.')
    if FLAGS.mode not in ('sample', 'interpolate'):
        console.fail(f'--mode: invalid value {FLAGS.mode!r} (use `sample` or `interpolate`)')
    if not FLAGS.config:
        console.fail(f'--config is required; choose one of {", ".join(configs.available_configs())}')
    if FLAGS.num_outputs < 1:
        console.fail(f'--num_outputs must be at least 1, got {FLAGS.num_outputs}')
    if FLAGS.max_batch_size < 1:
        console.fail(f'--max_batch_size must be at least 1, got {FLAGS.max_batch_size}')
    try:
        config = configs.load_config(FLAGS.config, FLAGS.hparams)
    except (configs.ConfigError, HParamsError) as e:
        console.fail(str(e))
    os.makedirs(FLAGS.output_dir, exist_ok=True)

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

    from magenta_rnn.music import midi_io  # pylint: disable=import-outside-toplevel
    from magenta_rnn.music_vae import trained_model  # pylint: disable=import-outside-toplevel
    logging.info('Loading model...')
    if FLAGS.run_dir:
        checkpoint = os.path.join(os.path.expanduser(FLAGS.run_dir), 'train')
        flag = '--run_dir'
    else:
        checkpoint = os.path.expanduser(FLAGS.checkpoint_file)
        flag = '--checkpoint_file'
    try:
        model = trained_model.TrainedModel(
            config, batch_size=min(FLAGS.max_batch_size, FLAGS.num_outputs),
            checkpoint_dir_or_path=checkpoint, seed=FLAGS.seed)
    except trained_model.CheckpointError as e:
        console.fail(f'{flag}: {e}')

    length = config.hparams.max_seq_len
    if FLAGS.mode == 'interpolate':
        logging.info('Interpolating...')
        results = model.interpolate(inputs[0], inputs[1], FLAGS.num_outputs, length=length,
                                    temperature=FLAGS.temperature, assert_same_length=False)
    else:
        logging.info('Sampling...')
        results = model.sample(n=FLAGS.num_outputs, length=length, temperature=FLAGS.temperature)

    paths = [os.path.join(FLAGS.output_dir, _output_name(config.id, FLAGS.mode, date_and_time, i,
                                                          FLAGS.num_outputs))
             for i in range(len(results))]
    logging.info('Outputting %d files as `%s`...', len(paths),
                 paths[0].replace('-000-of-', '-*-of-') if paths else '')
    for ns, path in zip(results, paths):
        midi_io.note_sequence_to_midi_file(ns, path)
    logging.info('Done.')
    return paths


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
