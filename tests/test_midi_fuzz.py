"""Seeded MIDI fuzzing of convert's per-file work (tests/midi_fuzz.py does the work in a
TensorFlow-free child process so its memory can be measured)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from magenta_rnn.music import midi_guard

REPO_ROOT = Path(__file__).resolve().parents[1]


def seed_files() -> list[str]:
    """A few small real files of different kinds when the shared data is here."""
    from conftest import find_shared_data
    data = find_shared_data()
    if data is None:
        return []
    picks = []
    for folder in ('note_seq_testdata', 'nottingham', 'groove', 'miditok_fixtures', 'pop909'):
        files = sorted(p for p in (data / folder).rglob('*') if p.suffix.lower() in ('.mid', '.midi')
                       and p.stat().st_size < 40_000)
        picks += [str(p) for p in files[:: max(1, len(files) // 4)][:4]]
    return picks


def run_fuzz(tmp_path, seed: int, mutants: int) -> dict:
    results = tmp_path / 'fuzz.json'
    subprocess.run([sys.executable, str(REPO_ROOT / 'tests' / 'midi_fuzz.py'), str(seed),
                    str(mutants), str(results), *seed_files()],
                   env={**os.environ, 'PYTHONPATH': str(REPO_ROOT)}, check=True, timeout=3000)
    summary = json.loads(results.read_text())
    print(f'\nMIDI fuzz: {summary["mutants"]} mutants, {summary["converted"]} converted, '
          f'{summary["skipped"]} skipped, {len(summary["escaped"])} escaped exceptions, '
          f'{len(summary["vague"])} vague reasons; slowest file {summary["max_seconds"]} s, '
          f'largest memory growth {summary["max_memory_mb"]} MB')
    return summary


def check(summary: dict) -> None:
    assert summary['escaped'] == [], summary['escaped'][:3]
    assert summary['vague'] == [], summary['vague'][:10]
    assert summary['converted'] + summary['skipped'] == summary['mutants']
    assert summary['skipped'] > summary['mutants'] // 10  # the mutations do break files
    assert summary['max_seconds'] < 10
    assert summary['max_memory_mb'] < 600


def test_mutants_never_escape_and_stay_bounded(tmp_path):
    check(run_fuzz(tmp_path, seed=17, mutants=300))


@pytest.mark.slow
def test_thousands_of_mutants(tmp_path):
    check(run_fuzz(tmp_path, seed=1717, mutants=5000))


def test_the_736_byte_tick_bomb_is_refused_before_parsing():
    from test_bad_input_matrix import tick_bomb_bytes
    scan = midi_guard.scan(tick_bomb_bytes())
    assert scan.refusal.startswith('track 0 reaches tick 268435455 (a delta time of 268435455')
    assert scan.max_tick == 0x0FFFFFFF


def test_scan_gives_the_problem_of_broken_files():
    good = bytes.fromhex('4d546864000000060000000100604d54726b0000000c00903c40608'
                         '03c4000ff2f00')
    assert midi_guard.scan(good).problem is None and midi_guard.scan(good).max_tick == 0x60
    assert midi_guard.scan(b'').problem == 'the file is empty'
    assert midi_guard.scan(b'RIFF....').problem.startswith('not a MIDI file')
    assert 'truncated' in midi_guard.scan(good[:-5]).problem
    zero_division = good[:12] + b'\x00\x00' + good[14:]
    assert midi_guard.scan(zero_division).problem == 'the header gives 0 ticks per quarter note'
    slow_tempo = (b'MThd\x00\x00\x00\x06\x00\x00\x00\x01\x00\x01MTrk\x00\x00\x00\x11'
                  b'\x00\xff\x51\x03\xff\xff\xff\x83\x87\x68\x90\x3c\x40\x00\xff\x2f\x00')
    # 50,000 quarters of 16.7 s each: a duration bomb, refused though the ticks are few.
    assert midi_guard.scan(slow_tempo).refusal.startswith('its last event is 233.7 hours in')
