"""Shared pytest fixtures."""
from __future__ import annotations

import csv
import importlib.util
import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


def find_shared_data() -> Path | None:
    """The real-MIDI folder, if present: MAGENTA_RNN_SHARED_DATA, else `../shared/data` beside
    the checkout (as scripts/peer.py finds it for the scripts)."""
    path = Path(os.environ.get('MAGENTA_RNN_SHARED_DATA', REPO_ROOT.parent / 'shared' / 'data'))
    return path if path.is_dir() else None


@pytest.fixture
def shared_data() -> Path:
    """Path of ../shared/data; skips the test when it is absent."""
    path = find_shared_data()
    if path is None:
        pytest.skip('../shared/data is not present')
    return path


def _load_peer_helpers():
    """scripts/peer.py, which the comparison scripts use too (MAGENTA_PEER_VENV, else
    ../peer_venv beside the checkout)."""
    spec = importlib.util.spec_from_file_location('peer', REPO_ROOT / 'scripts' / 'peer.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def peer():
    """scripts/peer.py's helpers (run_peer, ...); skips the test when the original Magenta
    is not installed where they look."""
    helpers = _load_peer_helpers()
    if not (helpers.PEER_VENV / 'bin' / 'python').exists():
        pytest.skip(f'the original Magenta is not installed at {helpers.PEER_VENV} '
                    '(set MAGENTA_PEER_VENV)')
    return helpers


@pytest.fixture
def groove_train_examples(shared_data, tmp_path):
    """write(count): the first `count` files of Groove's official train split as a
    TFRecord of NoteSequences in tmp_path; returns its path."""
    from magenta_rnn import records
    from magenta_rnn.music import midi_io

    groove = shared_data / 'groove'

    def write(count: int) -> str:
        with open(groove / 'info.csv') as info:
            rows = [row for row in csv.DictReader(info) if row['split'] == 'train'][:count]
        path = str(tmp_path / 'groove.tfrecord')
        records.write_records(path, [midi_io.midi_file_to_note_sequence(
            str(groove / row['midi_filename'])).SerializeToString() for row in rows])
        return path

    return write
