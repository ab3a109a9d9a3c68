"""The bad-input matrix: wrong flags, values and files given to every console script.

Each case must end in one clear `error:` line that names the flag or file (non-zero
exit, no traceback, no "unexpected" error), within its time limit; a few controls must
succeed. The cases of one script run inside one process (tests/cli_harness.py), so the
matrix costs a TensorFlow start per script, not per case.
"""
from __future__ import annotations

import concurrent.futures
import json
import os
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import mido
import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
HARNESS = Path(__file__).resolve().parent / 'cli_harness.py'

MODULES = {
    'convert_dir_to_note_sequences': 'magenta_rnn.convert',
    'melody_rnn_create_dataset': 'magenta_rnn.melody.create_dataset',
    'drums_rnn_create_dataset': 'magenta_rnn.drums.create_dataset',
    'performance_rnn_create_dataset': 'magenta_rnn.performance.create_dataset',
    'melody_rnn_train': 'magenta_rnn.melody.train',
    'drums_rnn_train': 'magenta_rnn.drums.train',
    'performance_rnn_train': 'magenta_rnn.performance.train',
    'melody_rnn_generate': 'magenta_rnn.melody.generate',
    'drums_rnn_generate': 'magenta_rnn.drums.generate',
    'performance_rnn_generate': 'magenta_rnn.performance.generate',
    'music_vae_train': 'magenta_rnn.music_vae.train',
    'music_vae_generate': 'magenta_rnn.music_vae.generate',
}

# Small enough that writing any output file fails as on a full disk.
FULL_DISK = 2000
FULL_DISK_MIDI = 40  # less than any MIDI file with a note
TINY_MELODY = ['--config=basic_rnn', '--hparams=batch_size=2,rnn_layer_sizes=[8]']
TINY_VAE = '--hparams=batch_size=2,z_size=4,enc_rnn_size=[8],dec_rnn_size=[8]'


def _melody_midi(path: Path, time_signatures=((0, 4),)) -> Path:
    """16 bars of quarter notes at 120 qpm (a usable melody), with the time signatures
    given as (tick, numerator)."""
    midi = mido.MidiFile(ticks_per_beat=220)
    meta, notes = mido.MidiTrack(), mido.MidiTrack()
    meta.append(mido.MetaMessage('set_tempo', tempo=500000, time=0))
    last = 0
    for tick, numerator in time_signatures:
        meta.append(mido.MetaMessage('time_signature', numerator=numerator, denominator=4,
                                     time=tick - last))
        last = tick
    for i in range(64):
        notes.append(mido.Message('note_on', note=60 + (i * 5) % 12, velocity=80, time=0))
        notes.append(mido.Message('note_off', note=60 + (i * 5) % 12, velocity=0, time=220))
    midi.tracks = [meta, notes]
    midi.save(str(path))
    return path


def tick_bomb_bytes() -> bytes:
    """A legal MIDI file whose one delta time is 0x0FFFFFFF ticks."""
    track = (b'\x00\x90\x3c\x40' + b'\xff\xff\xff\x7f' + b'\x80\x3c\x40'
             + b'\x00\xff\x2f\x00')
    return (b'MThd\x00\x00\x00\x06\x00\x00\x00\x01\x00\xdc' + b'MTrk'
            + len(track).to_bytes(4, 'big') + track)


@pytest.fixture(scope='module')
def files(tmp_path_factory) -> dict[str, str]:
    from magenta_rnn import records
    from magenta_rnn.music import midi_io

    root = tmp_path_factory.mktemp('matrix')
    f = {'tmp': str(root)}
    good = _melody_midi(root / 'good.mid')
    f['midi'] = str(good)
    f['multi_ts_midi'] = str(_melody_midi(root / 'multi_ts.mid', ((0, 4), (1760, 3))))
    (root / 'not_midi.mid').write_text('this is not MIDI\n')
    f['not_midi'] = str(root / 'not_midi.mid')
    (root / 'text.txt').write_text('hello\n')
    f['file'] = str(root / 'text.txt')
    sequence = midi_io.midi_file_to_note_sequence(good)
    sequence.id = 'good'
    records.write_records(str(root / 'ns.tfrecord'), [sequence.SerializeToString()] * 3)
    f['ns'] = str(root / 'ns.tfrecord')
    records.write_records(str(root / 'se.tfrecord'), [records.make_sequence_example(
        [[0.0, 1.0]] * 4, [1] * 4).SerializeToString()] * 3)
    f['se'] = str(root / 'se.tfrecord')
    records.write_records(str(root / 'empty.tfrecord'), [])
    f['empty_rec'] = str(root / 'empty.tfrecord')
    (root / 'corrupt.tfrecord').write_bytes(bytes(range(256)) * 4)
    f['corrupt'] = str(root / 'corrupt.tfrecord')
    for name, body in {'bad_json': '{"id": "x", ',
                       'list_json': '[1, 2]',
                       'hparams_string': '{"id": "x", "encoder": {"type": "melody_one_hot"}, '
                                         '"hparams": "big"}',
                       'batch_size_string': '{"id": "x", "encoder": {"type": "melody_one_hot"},'
                                            ' "hparams": {"batch_size": "big"}}',
                       'encoder_list': '{"id": "x", "encoder": [1, 2]}',
                       'id_number': '{"id": 5, "encoder": {"type": "melody_one_hot"}}'}.items():
        (root / f'{name}.json').write_text(body)
        f[name] = str(root / f'{name}.json')
    vae = json.loads((REPO_ROOT / 'configs/music_vae/cat-mel_2bar_small.json').read_text())
    vae['id'] = '../../escaped'
    (root / 'vae_hostile_id.json').write_text(json.dumps(vae))
    f['vae_hostile_id'] = str(root / 'vae_hostile_id.json')
    vae['data_converter'] = 'melody'
    (root / 'vae_bad_type.json').write_text(json.dumps(vae))
    f['vae_bad_type'] = str(root / 'vae_bad_type.json')
    # Folders for convert.
    for name in ('no_midi', 'only_broken', 'only_bomb', 'only_pipe', 'mixed'):
        (root / name).mkdir()
    (root / 'no_midi' / 'a.txt').write_text('x')
    (root / 'only_broken' / 'a.mid').write_bytes(b'MThd\x00\x00\x00\x06garbage')
    (root / 'only_bomb' / 'a.mid').write_bytes(tick_bomb_bytes())
    os.mkfifo(root / 'only_pipe' / 'a.mid')
    mixed = root / 'mixed'
    (mixed / 'good.mid').write_bytes(good.read_bytes())
    (mixed / 'bomb.mid').write_bytes(tick_bomb_bytes())
    os.mkfifo(mixed / 'pipe.mid')
    os.symlink('/dev/zero', mixed / 'zero.mid')
    os.symlink('.', mixed / 'loop')
    (mixed / os.fsdecode(b'caf\xe9.mid')).write_bytes(good.read_bytes())
    f['mixed'] = str(mixed)
    # Bundles and checkpoints.
    from magenta_rnn.rnn import bundle as bundle_lib
    bundle_lib.write_bundle(root / 'hostile_id.mag', bundle_lib.make_bundle(
        '../../../etc/passwd', b'checkpoint bytes'))
    f['hostile_bundle'] = str(root / 'hostile_id.mag')
    (root / 'garbage.mag').write_bytes(os.urandom(300))
    f['garbage_bundle'] = str(root / 'garbage.mag')
    with tarfile.open(root / 'hostile.tar', 'w') as tar:
        member = tarfile.TarInfo('../../outside.index')
        member.size = 4
        import io
        tar.addfile(member, io.BytesIO(b'evil'))
    f['hostile_tar'] = str(root / 'hostile.tar')
    (root / 'not_tar.tar').write_bytes(b'not a tar at all' * 40)
    f['not_tar'] = str(root / 'not_tar.tar')
    return f


def common_cases(script: str) -> list[tuple]:
    """What every script must refuse: an unknown flag, a bad log level, stray arguments,
    a word where a number goes."""
    integer_flag = {'convert_dir_to_note_sequences': None, 'music_vae_train': 'num_steps',
                    'music_vae_generate': 'num_outputs'}.get(script, 'seed')
    cases = [(['--no_such_flag=1'], 'no_such_flag'),
             (['--log=LOUD'], '--log'),
             (['--log=INFO', 'stray_argument'], 'stray_argument')]
    if integer_flag:
        cases.append(([f'--{integer_flag}=many'], integer_flag))
    else:
        cases.append((['--recursive=maybe'], 'recursive'))
    return [('common', args, expect) for args, expect in cases]


def cases_for(script: str, f: dict[str, str]) -> list[dict]:
    """[{args, expect (a substring of the error line, or None for a control that must
    succeed), category, fsize}]"""
    t = f['tmp']
    rows: list[tuple] = common_cases(script)
    if script == 'convert_dir_to_note_sequences':
        out = f'--output_file={t}/convert_out.tfrecord'
        rows += [
            ('missing flag', [out], '--input_dir'),
            ('missing flag', [f'--input_dir={t}/mixed'], '--output_file'),
            ('missing file', [f'--input_dir={t}/nowhere', out], 'nowhere'),
            ('wrong kind', [f'--input_dir={f["file"]}', out], 'text.txt'),
            ('output', [f'--input_dir={t}/mixed', f'--output_file={t}'], '--output_file'),
            ('output', [f'--input_dir={t}/mixed', f'--output_file={f["file"]}/x.tfrecord'],
             'is a file'),
            ('output', [f'--input_dir={t}/mixed', '--output_file=/proc/no_dir/x.tfrecord'],
             '--output_file'),
            ('bad input', [f'--input_dir={t}/no_midi', out], 'could be converted'),
            ('bad input', [f'--input_dir={t}/only_broken', out], 'could be converted'),
            ('hostile file', [f'--input_dir={t}/only_bomb', out], 'could be converted'),
            ('hostile file', [f'--input_dir={t}/only_pipe', out], 'could be converted'),
            ('full disk', [f'--input_dir={t}/mixed', out, '--recursive'], 'no space', FULL_DISK),
            ('control', [f'--input_dir={t}/mixed', out, '--recursive'], None),
        ]
    elif script.endswith('_create_dataset'):
        config = {'melody': '--config=basic_rnn', 'drums': '--config=one_drum',
                  'performance': '--config=performance'}[script.split('_')[0]]
        good = [config, f'--input={f["ns"]}']
        out = f'--output_dir={t}/{script}'
        rows += [
            ('missing flag', [config, out], '--input'),
            ('missing flag', good, '--output_dir'),
            ('missing file', [config, f'--input={t}/none.tfrecord', out], 'none.tfrecord'),
            ('corrupt file', [config, f'--input={f["corrupt"]}', out], 'corrupt.tfrecord'),
            ('wrong kind', [config, f'--input={f["se"]}', out], 'se.tfrecord'),
            ('empty input', [config, f'--input={f["empty_rec"]}', out], 'no examples'),
            ('wrong kind', [config, f'--input={t}', out], '--input'),
            ('output', [*good, f'--output_dir={f["file"]}'], '--output_dir'),
            ('output', [*good, '--output_dir=/proc/no_dir'], '--output_dir'),
            ('value', [*good, out, '--eval_ratio=1.5'], '--eval_ratio'),
            ('value', [*good, out, '--eval_ratio=nan'], '--eval_ratio'),
            ('value', [*good, out, '--hparams=batch_size=0'], 'batch_size'),
            ('value', [*good, out, '--hparams=nonsense'], '--hparams'),
            ('config', [f'--input={f["ns"]}', out, '--config=no_such_config'], 'no_such_config'),
            ('config', [f'--input={f["ns"]}', out, f'--config={f["bad_json"]}'], 'bad_json.json'),
            ('config', [f'--input={f["ns"]}', out, f'--config={f["list_json"]}'], 'list_json'),
            ('config type', [f'--input={f["ns"]}', out, f'--config={f["hparams_string"]}'],
             'hparams_string.json'),
            ('config type', [f'--input={f["ns"]}', out, f'--config={f["batch_size_string"]}'],
             'batch_size'),
            ('config type', [f'--input={f["ns"]}', out, f'--config={f["encoder_list"]}'],
             'encoder_list.json'),
            ('config type', [f'--input={f["ns"]}', out, f'--config={f["id_number"]}'],
             'id_number.json'),
        ]
        if script.startswith('melody'):
            rows += [('full disk', [*good, out], 'no space', FULL_DISK),
                     ('control', [*good, out, '--eval_ratio=0'], None)]
    elif script.endswith('_rnn_train'):
        config = {'melody': TINY_MELODY, 'drums': ['--config=one_drum'],
                  'performance': ['--config=performance']}[script.split('_')[0]]
        run = f'--run_dir={t}/{script}_run'
        data = f'--sequence_example_file={t}/melody_rnn_create_dataset/training_melodies.tfrecord'
        rows += [
            ('missing flag', [*config, run], '--sequence_example_file'),
            ('missing file', [*config, run, f'--sequence_example_file={t}/none.tfrecord'],
             'none.tfrecord'),
            ('output', [*config, f'--run_dir={f["file"]}', f'--sequence_example_file={f["se"]}'],
             '--run_dir'),
            ('value', [*config, run, f'--sequence_example_file={f["se"]}',
                       '--num_training_steps=-1'], '--num_training_steps'),
            ('value', [*config, run, f'--sequence_example_file={f["se"]}',
                       '--summary_frequency=0'], '--summary_frequency'),
            ('value', [*config, run, f'--sequence_example_file={f["se"]}',
                       '--num_checkpoints=-2'], '--num_checkpoints'),
            ('value', [config[0], run, f'--sequence_example_file={f["se"]}',
                       '--hparams=rnn_layer_sizes=[0]'], 'rnn_layer_sizes'),
            ('value', [config[0], run, f'--sequence_example_file={f["se"]}',
                       '--hparams=learning_rate=nan'], 'learning_rate'),
            ('value', [config[0], run, f'--sequence_example_file={f["se"]}',
                       '--hparams=dropout_keep_prob=2'], 'dropout_keep_prob'),
            ('config type', [run, f'--sequence_example_file={f["se"]}',
                             f'--config={f["hparams_string"]}'], 'hparams_string.json'),
            ('config', [run, f'--sequence_example_file={f["se"]}', '--config=nope'], 'nope'),
        ]
        if script.startswith('melody'):
            rows += [
                ('corrupt file', [*config, run, f'--sequence_example_file={f["corrupt"]}',
                                  '--num_training_steps=1'], 'corrupt.tfrecord'),
                ('wrong kind', [*config, run, f'--sequence_example_file={f["ns"]}',
                                '--num_training_steps=1'], 'ns.tfrecord'),
                ('empty input', [*config, run, f'--sequence_example_file={f["empty_rec"]}',
                                 '--num_training_steps=1'], 'empty.tfrecord'),
                ('control', [*config, run, data, '--num_training_steps=2'], None),
                ('restore', ['--config=basic_rnn', '--hparams=batch_size=2,rnn_layer_sizes=[16]',
                             run, data, '--num_training_steps=4'], 'melody_rnn_train_run'),
            ]
    elif script.endswith('_rnn_generate'):
        model = script.split('_')[0]
        out = f'--output_dir={t}/{script}_out'
        run = [*TINY_MELODY, f'--run_dir={t}/melody_rnn_train_run']
        base = run if model == 'melody' else [f'--bundle_file={t}/none.mag']
        rows += [
            ('value', [*base, out, '--temperature=nan'], '--temperature'),
            ('value', [*base, out, '--temperature=inf'], '--temperature'),
            ('value', [*base, out, '--temperature=1e-300'], '--temperature'),
            ('value', [*base, out, '--temperature=0'], '--temperature'),
            ('value', [*base, out, '--temperature=-1'], '--temperature'),
            ('value', [*base, out, '--num_outputs=0'], '--num_outputs'),
            ('value', [*base, out, '--num_outputs=1000000000'], '--num_outputs'),
            ('value', [*base, out, '--num_steps=0'], '--num_steps'),
            ('value', [*base, out, '--num_steps=100000000000'], '--num_steps'),
            ('value', [*base, out, '--beam_size=0'], '--beam_size'),
            ('output', [*base, f'--output_dir={f["file"]}'], '--output_dir'),
            ('output', [*base, '--output_dir=/proc/no_dir'], '--output_dir'),
            ('missing file', [f'--bundle_file={t}/none.mag', out], 'none.mag'),
            ('wrong kind', [f'--bundle_file={f["garbage_bundle"]}', out], 'garbage.mag'),
            ('hostile file', [f'--bundle_file={f["hostile_bundle"]}', out], 'hostile_id.mag'),
            ('missing file', [f'--bundle_file={f["midi"]}', out], 'good.mid'),
        ]
        if model != 'performance':
            rows += [('value', [*base, out, '--qpm=nan'], '--qpm'),
                     ('value', [*base, out, '--qpm=0'], '--qpm'),
                     ('missing file', [*base, out, f'--primer_midi={t}/none.mid'], 'none.mid'),
                     ('wrong kind', [*base, out, f'--primer_midi={f["not_midi"]}'],
                      'not_midi.mid')]
        else:
            rows += [('value', [*base, out, '--notes_per_second=[1,'], 'notes_per_second'),
                     ('value', [*base, out, '--pitch_class_histogram=[1,2]'],
                      'pitch_class_histogram'),
                     ('missing file', [*base, out, f'--primer_midi={t}/none.mid'], 'none.mid')]
        if model == 'melody':
            rows += [
                ('missing file', [*TINY_MELODY, f'--run_dir={t}/no_run', out], 'no_run'),
                ('restore', ['--config=basic_rnn', '--hparams=rnn_layer_sizes=[32]',
                             f'--run_dir={t}/melody_rnn_train_run', out], 'melody_rnn_train_run'),
                ('primer', [*run, out, f'--primer_midi={f["multi_ts_midi"]}'], 'multi_ts.mid'),
                ('full disk', [*run, out, '--num_outputs=3'], 'no space', FULL_DISK_MIDI),
                ('control', [*run, out, '--num_outputs=2', '--num_steps=32'], None),
            ]
    elif script == 'music_vae_train':
        good = ['--config=cat-mel_2bar_small', f'--run_dir={t}/vae_run',
                f'--examples_path={f["ns"]}']
        rows += [
            ('missing flag', good[:2], '--examples_path'),
            ('missing flag', good[1:], '--config'),
            ('missing flag', [good[0], good[2]], '--run_dir'),
            ('missing file', [*good[:2], f'--examples_path={t}/none*.tfrecord'], 'none'),
            ('corrupt file', [*good[:2], f'--examples_path={f["corrupt"]}', '--num_steps=1'],
             'corrupt.tfrecord'),
            ('wrong kind', [*good[:2], f'--examples_path={f["se"]}', '--num_steps=1'],
             'se.tfrecord'),
            ('output', [good[0], f'--run_dir={f["file"]}', good[2]], '--run_dir'),
            ('value', [*good, '--num_steps=0'], '--num_steps'),
            ('value', [*good, '--save_checkpoint_secs=0'], '--save_checkpoint_secs'),
            ('value', [*good, '--hparams=z_size=0'], 'z_size'),
            ('value', [*good, '--hparams=learning_rate=-1'], 'learning_rate'),
            ('config type', [*good[1:], f'--config={f["vae_bad_type"]}'], 'vae_bad_type.json'),
            ('config', [*good[1:], '--config=no_such'], 'no_such'),
            ('mode', [*good, '--mode=sideways'], 'mode'),
            ('control', [*good, TINY_VAE, '--num_steps=1', '--log=WARNING'], None),
            ('restore', [*good, TINY_VAE.replace('z_size=4', 'z_size=6'), '--num_steps=2'],
             'vae_run'),
        ]
    elif script == 'music_vae_generate':
        good = ['--config=cat-mel_2bar_small', TINY_VAE, f'--run_dir={t}/vae_run']
        out = f'--output_dir={t}/vae_out'
        rows += [
            ('value', [*good, out, '--temperature=nan'], '--temperature'),
            ('value', [*good, out, '--temperature=inf'], '--temperature'),
            ('value', [*good, out, '--temperature=1e-300'], '--temperature'),
            ('value', [*good, out, '--temperature=0'], '--temperature'),
            ('value', [*good, out, '--num_outputs=0'], '--num_outputs'),
            ('value', [*good, out, '--num_outputs=99999999'], '--num_outputs'),
            ('value', [*good, out, '--max_batch_size=0'], '--max_batch_size'),
            ('value', [*good, out, '--mode=sideways'], '--mode'),
            ('value', [*good, out, '--mode=attribute', '--attribute_scales=a,b'],
             '--attribute_scales'),
            ('value', [*good, out, '--mode=attribute', '--attribute_quantile=0.9',
                       '--attribute=note_density', f'--attribute_examples={f["ns"]}'],
             '--attribute_quantile'),
            ('output', [*good, f'--output_dir={f["file"]}'], '--output_dir'),
            ('output', [*good, '--output_dir=/proc/no_dir'], '--output_dir'),
            ('missing file', [good[0], f'--checkpoint_file={t}/none', out], 'none'),
            ('hostile file', [good[0], f'--checkpoint_file={f["hostile_tar"]}', out],
             'hostile.tar'),
            ('wrong kind', [good[0], f'--checkpoint_file={f["not_tar"]}', out], 'not_tar.tar'),
            ('missing file', [*good, out, '--mode=interpolate', f'--input_midi_1={t}/none.mid',
                              f'--input_midi_2={f["midi"]}'], 'none.mid'),
            ('wrong kind', [*good, out, '--mode=interpolate', f'--input_midi_1={f["not_midi"]}',
                            f'--input_midi_2={f["midi"]}'], 'not_midi.mid'),
            ('restore', ['--config=cat-mel_2bar_small', f'--run_dir={t}/vae_run', out],
             '--run_dir'),
            ('config type', [f'--config={f["vae_bad_type"]}', TINY_VAE, good[2], out],
             'vae_bad_type.json'),
            ('full disk', [*good, out, '--num_outputs=3'], 'no space', FULL_DISK_MIDI),
            ('control', [f'--config={f["vae_hostile_id"]}', TINY_VAE, good[2], out,
                         '--num_outputs=2'], None),
        ]
    return [{'category': row[0], 'args': row[1], 'expect': row[2],
             'fsize': row[3] if len(row) > 3 else None} for row in rows]


def classify(case: dict, result: dict) -> str:
    """clear error / traceback / wrong acceptance / hang / unclear, or ok / failed control."""
    if result['hung']:
        return 'hang'
    if result['escaped'] or 'Traceback (most recent call last)' in result['stderr']:
        return 'traceback'
    lines = [line for line in result['stderr'].splitlines() if line.strip()]
    last = lines[-1] if lines else ''
    if case['expect'] is None:
        return 'ok' if result['status'] == 0 else 'failed control'
    if result['status'] == 0:
        return 'wrong acceptance'
    # absl's own flag errors print a usage hint after the error line.
    error_line = next((line for line in reversed(lines)
                       if 'error' in line.lower()), last)
    if case['expect'] in error_line and 'run again with --log=DEBUG' not in error_line:
        return 'clear error'
    return 'unclear'


# Two lanes run side by side; within a lane, later scripts use what earlier ones made
# (the melody dataset, the melody and MusicVAE run dirs).
LANES = [['convert_dir_to_note_sequences', 'melody_rnn_create_dataset', 'melody_rnn_train',
          'melody_rnn_generate', 'drums_rnn_create_dataset', 'drums_rnn_train'],
         ['music_vae_train', 'music_vae_generate', 'performance_rnn_create_dataset',
          'performance_rnn_train', 'drums_rnn_generate', 'performance_rnn_generate']]


def run_script_cases(script: str, f: dict[str, str]) -> list[tuple[str, dict, dict, str]]:
    cases = cases_for(script, f)
    cases_path = Path(f['tmp']) / f'{script}.cases.json'
    results_path = Path(f['tmp']) / f'{script}.results.json'
    cases_path.write_text(json.dumps([{**c, 'program': script} for c in cases]))
    start = time.monotonic()
    completed = subprocess.run(
        [sys.executable, str(HARNESS), MODULES[script], str(cases_path), str(results_path)],
        env={**os.environ, 'PYTHONPATH': str(REPO_ROOT), 'CUDA_VISIBLE_DEVICES': ''},
        capture_output=True, text=True, timeout=900, cwd=f['tmp'])
    results = json.loads(results_path.read_text()) if results_path.exists() else []
    slowest = max(zip(results, cases), key=lambda rc: rc[0].get('seconds', 0), default=None)
    print(f'{script}: {len(cases)} cases in {time.monotonic() - start:.0f} s'
          + (f'; slowest {slowest[0].get("seconds")} s: {slowest[1]["args"]}' if slowest else ''))
    assert len(results) == len(cases), (script, completed.stderr[-3000:])
    return [(script, c, r, classify(c, r)) for c, r in zip(cases, results)]


def run_matrix(f: dict[str, str]) -> list[tuple[str, dict, dict, str]]:
    with concurrent.futures.ThreadPoolExecutor(len(LANES)) as executor:
        lanes = executor.map(lambda lane: [row for script in lane
                                           for row in run_script_cases(script, f)], LANES)
        return [row for lane in lanes for row in lane]


def test_every_bad_input_gets_one_clear_error(files):
    rows = run_matrix(files)
    counts: dict[str, int] = {}
    for _, _, _, verdict in rows:
        counts[verdict] = counts.get(verdict, 0) + 1
    print(f'\nbad-input matrix: {len(rows)} cases over {len(MODULES)} console scripts: '
          + ', '.join(f'{k} {v}' for k, v in sorted(counts.items())))
    bad = [f'{script} {" ".join(case["args"])}: {verdict}: '
           f'{(result["escaped"] or result["stderr"])[-600:]}'
           for script, case, result, verdict in rows if verdict not in ('clear error', 'ok')]
    assert not bad, '\n\n'.join(bad)
    assert len(rows) >= 150
    # Control outputs: nothing written outside --output_dir, no leftovers, reasons given.
    tmp = Path(files['tmp'])
    assert not (tmp.parent / 'escaped_sample').exists()
    vae_outputs = sorted(p.name for p in (tmp / 'vae_out').iterdir())
    assert vae_outputs and all(name.startswith('_.._escaped_sample_') for name in vae_outputs), \
        vae_outputs
    leftovers = [str(p) for p in tmp.rglob('*.tmp')]
    assert not leftovers, leftovers
