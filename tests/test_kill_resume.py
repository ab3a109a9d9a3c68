"""kill -9 and Ctrl-C (SIGINT) in the middle of a run: what is left on disk, and the next
run. A killed writer cannot clean up, so its temporary file stays until the next run
writing the same target removes it; Ctrl-C leaves nothing and exits with status 130."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import builders
REPO_ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, 'PYTHONPATH': str(REPO_ROOT), 'CUDA_VISIBLE_DEVICES': ''}


def _default_sigint() -> None:
    # A shell that starts the suite in the background (`cmd &`, nohup) makes children ignore
    # SIGINT, and Python then never installs its Ctrl-C handler: give the child the default,
    # as a terminal would.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start(module: str, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, '-m', module, *args], env=ENV,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=_default_sigint)


def wait_for(condition, process: subprocess.Popen, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert process.poll() is None, f'finished before the kill: {process.communicate()[1][-2000:]}'
        assert time.monotonic() < deadline, 'the run never got to the point of the kill'
        time.sleep(0.05)


def interrupt(process: subprocess.Popen, how: signal.Signals) -> tuple[int, str]:
    process.send_signal(how)
    _, stderr = process.communicate(timeout=120)
    return process.returncode, stderr


def files_in(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob('*') if p.is_file())


def melody_midi_folder(folder: Path, count: int) -> Path:
    """`count` different one-track melodies (so parsing takes a while)."""
    import mido
    folder.mkdir()
    for k in range(count):
        midi = mido.MidiFile(ticks_per_beat=220)
        track = mido.MidiTrack()
        for i in range(400):
            pitch = 48 + (i * 7 + k) % 30
            track.append(mido.Message('note_on', note=pitch, velocity=80, time=0))
            track.append(mido.Message('note_off', note=pitch, velocity=0, time=110))
        midi.tracks.append(track)
        midi.save(str(folder / f'{k:05d}.mid'))
    return folder


@pytest.mark.parametrize('how', [signal.SIGKILL, signal.SIGINT], ids=['kill-9', 'ctrl-c'])
def test_convert_killed_then_rerun(tmp_path, how):
    midi = melody_midi_folder(tmp_path / 'midi', 300)
    out = tmp_path / 'out'
    args = [f'--input_dir={midi}', f'--output_file={out}/notes.tfrecord']
    process = start('magenta_rnn.convert', *args)
    # Killed while records are being written (not while TensorFlow loads).
    wait_for(lambda: any(p.stat().st_size for p in out.glob('notes.tfrecord.*.tmp')), process)
    status, stderr = interrupt(process, how)
    left = files_in(out)
    print(f'\nconvert after {how.name}: status {status}, left on disk: {left}')
    assert 'notes.tfrecord' not in left  # never a half-written output
    if how == signal.SIGINT:
        assert status == 130 and left == []
        assert stderr.strip().splitlines()[-1].endswith(
            'error: interrupted (Ctrl-C); nothing half-written was kept')
        assert 'Traceback' not in stderr
        return
    assert status == -9 and len(left) == 1 and left[0].endswith('.tmp')
    rerun = subprocess.run([sys.executable, '-m', 'magenta_rnn.convert', *args], env=ENV,
                           capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert files_in(out) == ['notes.tfrecord']  # the killed run's temp file is gone
    assert 'left by an earlier run that was killed' in rerun.stderr


@pytest.fixture
def note_sequences(tmp_path) -> Path:
    """A TFRecord of 600 long melodies (a few seconds of create_dataset work)."""
    from magenta_rnn import records
    sequence = builders.melody([48 + (i * 7) % 30 for i in range(800)], note_seconds=0.2,
                               hop_seconds=0.25, velocity=80, ticks_per_quarter=220,
                               total_time=200.0)
    path = tmp_path / 'notes.tfrecord'
    records.write_records(str(path), [sequence.SerializeToString()] * 600)
    return path


@pytest.mark.parametrize('how', [signal.SIGKILL, signal.SIGINT], ids=['kill-9', 'ctrl-c'])
def test_create_dataset_killed_then_rerun(tmp_path, note_sequences, how):
    out = tmp_path / 'dataset'
    args = ['--config=basic_rnn', f'--input={note_sequences}', f'--output_dir={out}']
    process = start('magenta_rnn.melody.create_dataset', *args)
    wait_for(lambda: any(p.stat().st_size
                         for p in out.glob('training_melodies.tfrecord.*.tmp')), process)
    status, stderr = interrupt(process, how)
    time.sleep(0.5)
    left = files_in(out)
    print(f'\nmelody_rnn_create_dataset after {how.name}: status {status}, left: {left}')
    assert not {'training_melodies.tfrecord', 'eval_melodies.tfrecord'} & set(left)
    if how == signal.SIGINT:
        assert status == 130 and left == [], stderr[-2000:]
        assert 'Traceback' not in stderr, stderr[-3000:]
        return
    assert status == -9 and len(left) == 2 and all(name.endswith('.tmp') for name in left)
    rerun = subprocess.run([sys.executable, '-m', 'magenta_rnn.melody.create_dataset', *args,
                            '--eval_ratio=0.5'], env=ENV, capture_output=True, text=True,
                           timeout=900)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert files_in(out) == ['eval_melodies.tfrecord', 'training_melodies.tfrecord']


@pytest.mark.parametrize('how', [signal.SIGKILL, signal.SIGINT], ids=['kill-9', 'ctrl-c'])
def test_generate_killed(tmp_path, shared_data, how):
    bundle = shared_data.parent / 'bundles' / 'creative_karaoke' / 'attention_melody_rnn.mag'
    if not bundle.exists():
        pytest.skip(f'{bundle} is not present')
    out = tmp_path / 'generated'
    process = start('magenta_rnn.melody.generate', f'--bundle_file={bundle}', f'--output_dir={out}',
                    '--num_outputs=64', '--num_steps=4096', '--log=INFO')
    wait_for(lambda: out.is_dir(), process)
    time.sleep(8)
    status, stderr = interrupt(process, how)
    left = files_in(out)
    print(f'\nmelody_rnn_generate after {how.name}: status {status}, left: {left}')
    assert not [name for name in left if name.endswith('.tmp') or
                (name.endswith('.mid') and (out / name).stat().st_size == 0)]
    if how == signal.SIGINT:
        assert status == 130 and 'Traceback' not in stderr, stderr[-2000:]


@pytest.mark.slow
@pytest.mark.parametrize('how', [signal.SIGKILL, signal.SIGINT], ids=['kill-9', 'ctrl-c'])
def test_melody_training_killed_then_resumed(tmp_path, how):
    """What a trainer leaves: only whole checkpoints, and the next run resumes from one."""
    from test_bad_input_matrix import _melody_midi
    from magenta_rnn import records
    from magenta_rnn.music import midi_io
    sequence = midi_io.midi_file_to_note_sequence(_melody_midi(tmp_path / 'm.mid'))
    records.write_records(str(tmp_path / 'ns.tfrecord'), [sequence.SerializeToString()] * 20)
    subprocess.run([sys.executable, '-m', 'magenta_rnn.melody.create_dataset', '--config=basic_rnn',
                    f'--input={tmp_path}/ns.tfrecord', f'--output_dir={tmp_path}/data',
                    '--eval_ratio=0'], env=ENV, check=True, capture_output=True, timeout=600)
    run = tmp_path / 'run'
    args = ['--config=basic_rnn', '--hparams=batch_size=4,rnn_layer_sizes=[16]',
            f'--run_dir={run}', f'--sequence_example_file={tmp_path}/data/training_melodies.tfrecord',
            '--summary_frequency=1']
    _stop_then_resume('magenta_rnn.melody.train', args, '--num_training_steps', run, how)


@pytest.mark.slow
@pytest.mark.parametrize('how', [signal.SIGKILL, signal.SIGINT], ids=['kill-9', 'ctrl-c'])
def test_music_vae_training_killed_then_resumed(tmp_path, how):
    from test_bad_input_matrix import TINY_VAE, _melody_midi
    from magenta_rnn import records
    from magenta_rnn.music import midi_io
    sequence = midi_io.midi_file_to_note_sequence(_melody_midi(tmp_path / 'm.mid'))
    records.write_records(str(tmp_path / 'ns.tfrecord'), [sequence.SerializeToString()] * 20)
    run = tmp_path / 'run'
    args = ['--config=cat-mel_2bar_small', TINY_VAE, f'--run_dir={run}',
            f'--examples_path={tmp_path}/ns.tfrecord', '--save_checkpoint_secs=1']
    _stop_then_resume('magenta_rnn.music_vae.train', args, '--num_steps', run, how)


def _stop_then_resume(module: str, args: list[str], steps_flag: str, run, how) -> None:
    """Trains `module` until its first checkpoint, stops it with `how`, checks that no
    temporary file is left in run/train, then resumes it with the same flags."""
    process = start(module, *args, f'{steps_flag}=1000000')
    wait_for(lambda: any((run / 'train').glob('*.index')), process, timeout=400)
    time.sleep(3)
    status, _ = interrupt(process, how)
    left = files_in(run / 'train')
    print(f'\n{module} after {how.name}: status {status}, left: {left}')
    assert not [name for name in left if 'tmp' in name]
    resumed = subprocess.run([sys.executable, '-m', module, *args, f'{steps_flag}=1'], env=ENV,
                             capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
