"""The pieces behind 'never crash, never hang, never lie': the top-level error line,
atomic writes and their stale temp files, safe output names, slerp near zero angle."""
from __future__ import annotations

import errno
import os
import subprocess
import sys

import numpy as np
import pytest

from magenta_rnn import atomic, console


def test_describe_error_names_the_file_and_says_what_is_wrong():
    full = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), '/data/out.tfrecord')
    assert console.describe_error(full) == (
        '/data/out.tfrecord: no space left to write (No space left on device)')
    assert console.describe_error(PermissionError(13, 'Permission denied', '/x')) == (
        '/x: Permission denied')
    assert console.describe_error(KeyError('z')) == (
        "unexpected KeyError: 'z' (run again with --log=DEBUG for the traceback)")


GUARDED_PROGRAM = '''
import sys
from absl import flags
from magenta_rnn import console
flags.DEFINE_string('log', 'INFO', '')
def main(argv):
    {}.get('missing_key')
    raise ZeroDivisionError('deep inside')
sys.argv = ['some_script'] + sys.argv[1:]
console.run(main)
'''


@pytest.mark.parametrize('log', ['INFO', 'DEBUG'])
def test_an_unexpected_error_is_one_line_and_its_traceback_needs_debug(log):
    result = subprocess.run([sys.executable, '-c', GUARDED_PROGRAM, f'--log={log}'],
                            capture_output=True, text=True, timeout=60,
                            env={**os.environ, 'PYTHONPATH': os.getcwd()})
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == (
        'some_script: error: unexpected ZeroDivisionError: deep inside '
        '(run again with --log=DEBUG for the traceback)')
    assert ('Traceback (most recent call last)' in result.stderr) == (log == 'DEBUG')


@pytest.mark.parametrize('command', [
    ['magenta_rnn.melody.generate', '--bundle_file={tmp}/garbage.mag'],
    ['magenta_rnn.melody.create_dataset', '--config=basic_rnn', '--input={tmp}/empty.tfrecord'],
])
def test_a_failed_command_leaves_no_output_folder_it_made(tmp_path, command):
    (tmp_path / 'garbage.mag').write_bytes(b'not a bundle')
    (tmp_path / 'empty.tfrecord').write_bytes(b'')
    (tmp_path / 'yours').mkdir()
    args = [arg.format(tmp=tmp_path) for arg in command[1:]]
    for output_dir in (tmp_path / 'new' / 'sub', tmp_path / 'yours'):
        result = subprocess.run([sys.executable, '-m', command[0], *args,
                                 f'--output_dir={output_dir}'],
                                capture_output=True, text=True, timeout=120,
                                env={**os.environ, 'PYTHONPATH': os.getcwd()})
        assert result.returncode == 1 and ': error: ' in result.stderr.splitlines()[-1]
    assert sorted(os.listdir(tmp_path)) == ['empty.tfrecord', 'garbage.mag', 'yours']


def test_write_file_atomically_leaves_nothing_when_the_write_fails(tmp_path, monkeypatch):
    target = tmp_path / 'song.mid'

    class FullDisk:
        def __init__(self, *args):
            pass

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def write(self, data):
            raise OSError(errno.ENOSPC, 'No space left on device')

    monkeypatch.setattr('builtins.open', FullDisk)
    with pytest.raises(OSError):
        atomic.write_file_atomically(str(target), b'MThd')
    monkeypatch.undo()
    assert os.listdir(tmp_path) == []


def test_stale_temp_files_of_dead_writers_are_removed_and_live_ones_kept(tmp_path):
    target = tmp_path / 'notes.tfrecord'
    dead = subprocess.run([sys.executable, '-c', 'import os; print(os.getpid())'],
                          capture_output=True, text=True).stdout.strip()
    stale = tmp_path / f'notes.tfrecord.{dead}.abc123.tmp'
    live = tmp_path / f'notes.tfrecord.{os.getpid()}.def456.tmp'
    unrelated = tmp_path / 'notes.tfrecord.backup.tmp'
    for path in (stale, live, unrelated):
        path.write_bytes(b'x')
    assert atomic.remove_stale_temp_files(str(target)) == [str(stale)]
    assert sorted(os.listdir(tmp_path)) == sorted([live.name, unrelated.name])
    midi_stale = tmp_path / f'2026-01-01_000000_1.mid.{dead}.x1.tmp'
    midi_stale.write_bytes(b'')
    assert atomic.remove_stale_midi_temp_files(str(tmp_path)) == [str(midi_stale)]


def test_a_config_id_never_becomes_a_path():
    from magenta_rnn.atomic import safe_file_name
    assert safe_file_name('../../x') == '_.._x'
    assert safe_file_name('/etc/passwd') == '_etc_passwd'
    assert safe_file_name('..') == 'config'
    assert safe_file_name('cat-mel_2bar_small') == 'cat-mel_2bar_small'


def test_slerp_falls_back_to_lerp_at_zero_angle():
    from magenta_rnn.music_vae.trained_model import slerp
    a = np.array([0.3, -1.2, 2.0], dtype=np.float32)
    for b in (a.copy(), a * 2.0, a + 1e-7):
        for t in (0.0, 0.25, 1.0):
            value = slerp(a, b, t)
            assert np.all(np.isfinite(value))
            np.testing.assert_allclose(value, (1 - t) * a + t * b, rtol=1e-5)
    zero = np.zeros(3, dtype=np.float32)
    np.testing.assert_allclose(slerp(zero, a, 0.5), 0.5 * a)
    # Away from zero angle it is still the spherical path (unit vectors stay unit).
    x, y = np.array([1.0, 0.0]), np.array([0.0, 1.0])
    np.testing.assert_allclose(slerp(x, y, 0.5), [np.sqrt(0.5), np.sqrt(0.5)])


def test_temperature_and_hparam_values_are_checked():
    from magenta_rnn.hparams import HParams, HParamsError, check_values
    with pytest.raises(SystemExit):
        console.check_temperature(float('nan'))
    with pytest.raises(SystemExit):
        console.check_temperature(1e-300)
    console.check_temperature(1e-6)
    with pytest.raises(HParamsError, match="'rnn_layer_sizes' must be at least 1"):
        check_values(HParams(rnn_layer_sizes=[64, 0]))
    with pytest.raises(HParamsError, match="'learning_rate' must be a finite number"):
        check_values(HParams(learning_rate=float('inf')))
    check_values(HParams(batch_size=1, rnn_layer_sizes=[8], dropout_keep_prob=1.0,
                         attn_length=0))
