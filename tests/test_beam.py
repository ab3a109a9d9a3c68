"""The dataset steps on Apache Beam's DirectRunner (2 worker processes) give the same
examples as the local path: multisets of records equal. Needs 'magenta_rnn[beam]'."""
from __future__ import annotations

import collections
import glob
import os
import subprocess
import sys
from pathlib import Path

import pytest

from magenta_rnn import convert, records

pytest.importorskip('apache_beam')
pytestmark = pytest.mark.slow

REPO_ROOT = Path(__file__).resolve().parents[1]
DIRECT_2_WORKERS = ('--pipeline_options=--runner=DirectRunner,--direct_num_workers=2,'
                    '--direct_running_mode=multi_processing')


def _run(module: str, *args: str) -> None:
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT), TF_CPP_MIN_LOG_LEVEL='2')
    result = subprocess.run([sys.executable, '-m', module, *args], env=env,
                            capture_output=True, text=True, timeout=3000)
    assert result.returncode == 0, result.stderr[-3000:]


def _records(pattern: str) -> collections.Counter:
    files = sorted(glob.glob(pattern))
    assert files, pattern
    return collections.Counter(r for path in files for r in records.read_records(path))


@pytest.fixture(scope='module')
def nottingham(tmp_path_factory):
    """Nottingham converted locally and on Beam: (local file, Beam shard glob)."""
    from conftest import find_shared_data
    data = find_shared_data()
    if data is None:
        pytest.skip('../shared/data is not present')
    tmp = tmp_path_factory.mktemp('nottingham')
    local = tmp / 'local.tfrecord'
    convert.convert_directory(str(data / 'nottingham' / 'MIDI'), str(local), recursive=True)
    _run('magenta_rnn.convert', f'--input_dir={data / "nottingham" / "MIDI"}',
         f'--output_file={tmp / "beam.tfrecord"}', '--recursive', DIRECT_2_WORKERS)
    return str(local), str(tmp / 'beam-*-of-*.tfrecord')


def test_conversion_of_nottingham(nottingham):
    local, beam_glob = nottingham
    assert len(glob.glob(beam_glob)) >= 1
    assert _records(beam_glob) == _records(local)


@pytest.fixture(scope='module')
def groove(tmp_path_factory):
    """The first 100 files of Groove's train split as a TFRecord of NoteSequences."""
    import csv
    from conftest import find_shared_data
    from magenta_rnn.music import midi_io
    folder = find_shared_data() / 'groove'
    with open(folder / 'info.csv') as info:
        rows = [row for row in csv.DictReader(info) if row['split'] == 'train'][:100]
    path = str(tmp_path_factory.mktemp('groove') / 'groove.tfrecord')
    records.write_records(path, [midi_io.midi_file_to_note_sequence(
            str(folder / row['midi_filename'])).SerializeToString() for row in rows])
    return path


@pytest.mark.parametrize('model, config, stem', [
        ('melody', 'attention_rnn', 'training_melodies'),
        ('drums', 'drum_kit', 'training_drum_tracks')])
def test_create_dataset(nottingham, groove, tmp_path, model, config, stem):
    # Melodies from the Beam conversion's shards (a glob); drums from Groove.
    local, beam_glob = nottingham if model == 'melody' else (groove, groove)
    _run(f'magenta_rnn.{model}.create_dataset', f'--config={config}', f'--input={local}',
         f'--output_dir={tmp_path / "local"}', '--eval_ratio=0')
    _run(f'magenta_rnn.{model}.create_dataset', f'--config={config}', f'--input={beam_glob}',
         f'--output_dir={tmp_path / "beam"}', '--eval_ratio=0', DIRECT_2_WORKERS)
    expected = _records(str(tmp_path / 'local' / f'{stem}.tfrecord'))
    assert sum(expected.values()) > 0
    assert _records(str(tmp_path / 'beam' / f'{stem}-*-of-*.tfrecord')) == expected


def test_music_vae_preprocessing(nottingham, tmp_path):
    local, _ = nottingham
    common = [f'--input_tfrecord={local}', '--config=cat-mel_2bar_small', '--output_shards=2']
    _run('magenta_rnn.music_vae.preprocess', *common, f'--output_tfrecord={tmp_path / "local"}')
    _run('magenta_rnn.music_vae.preprocess', *common, f'--output_tfrecord={tmp_path / "beam"}',
         DIRECT_2_WORKERS)
    expected = _records(str(tmp_path / 'local-*-of-00002'))
    assert sum(expected.values()) > 1000
    assert _records(str(tmp_path / 'beam-*-of-00002')) == expected
