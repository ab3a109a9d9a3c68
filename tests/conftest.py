"""Shared pytest fixtures."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


def find_shared_data() -> Path | None:
    """The real-MIDI folder `../shared/data` beside the checkout, if present."""
    candidates = [os.environ.get('MAGENTA_RNN_SHARED_DATA'),
                  REPO_ROOT.parent / 'shared' / 'data',
                  Path('/work/shared/data')]
    for candidate in candidates:
        if candidate and Path(candidate).is_dir():
            return Path(candidate)
    return None


@pytest.fixture
def shared_data() -> Path:
    """Path of ../shared/data; skips the test when it is absent."""
    path = find_shared_data()
    if path is None:
        pytest.skip('../shared/data is not present')
    return path
