"""continuation_only (--continuation_only of melody_rnn_generate and drums_rnn_generate,
the keyword of generate_melodies and generate_drum_tracks): only what the model generated
after the primer, with time 0 where the primer's last note ends. Performance RNN's cases
are in test_performance_generate.py.

Real outputs of the shipped basic_rnn and drum_kit defaults: for the same seed, the
continuation is the full output's notes after the primer, shifted.
"""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

import builders
import magenta_rnn
from magenta_rnn.rnn.sequence_generator import without_primer

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def notes(sequence, shift: float = 0.0):
    return [(n.pitch, n.velocity, round(n.start_time - shift, 9),
             round(n.end_time - shift, 9), n.is_drum) for n in sequence.notes]


def after(sequence, primer_end: float):
    """The full output's notes that start after the primer's end, shifted by it."""
    return [note for note in notes(sequence, primer_end) if note[2] >= 0]


# The cut itself, on a NoteSequence made here.

def test_without_primer_keeps_generated_notes_and_the_state_in_effect():
    full = builders.note_sequence([(60, 80, 0.0, 0.5),    # the primer's
                                   (62, 80, 0.5, 1.5),    # the primer's, still sounding at 1.0
                                   (64, 90, 1.0, 1.25),   # generated, exactly at the primer end
                                   (67, 90, 1.75, 2.5)], qpm=120.0, time_signature=(3, 4))
    full.tempos.add(time=0.5, qpm=90.0)    # in effect at the primer end: moves to 0
    full.tempos.add(time=2.0, qpm=60.0)    # later: moves with the notes
    full.key_signatures.add(time=0.0, key=2)
    continuation = without_primer(full, primer_end=1.0, generated_from=1.0)
    assert notes(continuation) == [(64, 90, 0.0, 0.25, False), (67, 90, 0.75, 1.5, False)]
    assert [(t.time, t.qpm) for t in continuation.tempos] == [(0.0, 90.0), (1.0, 60.0)]
    assert [(t.time, t.numerator, t.denominator)
            for t in continuation.time_signatures] == [(0.0, 3, 4)]
    assert [(k.time, k.key) for k in continuation.key_signatures] == [(0.0, 2)]
    assert continuation.total_time == 1.5
    assert continuation.subsequence_info.start_time_offset == 1.0
    assert len(full.notes) == 4  # the full output is left as it was


def test_without_primer_of_an_output_with_nothing_generated():
    full = builders.note_sequence([(60, 80, 0.0, 0.5)])
    continuation = without_primer(full, primer_end=0.5, generated_from=0.6875)
    assert list(continuation.notes) == [] and continuation.total_time == 0.0
    assert [(t.time, t.qpm) for t in continuation.tempos] == [(0.0, 120.0)]


def test_without_primer_without_a_primer_is_the_same_sequence():
    full = builders.note_sequence([(60, 80, 0.01, 0.5), (64, 80, 1.0, 2.0)])
    continuation = without_primer(full, primer_end=0.0, generated_from=0.005)
    assert continuation == full and not continuation.HasField('subsequence_info')


# Melody RNN (shipped basic_rnn) through the API.

PRIMER = [60, -2, 62, -2, 64]  # 60 0-0.25 s, 62 0.25-0.5 s, 64 0.5-0.625 s at 120 qpm


@pytest.mark.parametrize('beam_size', [1, 3])
def test_melody_continuation_is_the_full_output_after_the_primer(beam_size):
    kwargs = dict(primer=PRIMER, num_outputs=2, num_steps=48, seed=2, beam_size=beam_size)
    full = magenta_rnn.generate_melodies(**kwargs)
    continuation = magenta_rnn.generate_melodies(continuation_only=True, **kwargs)
    for whole, part in zip(full, continuation):
        assert notes(whole)[:3] == [(60, 100, 0.0, 0.25, False), (62, 100, 0.25, 0.5, False),
                                    (64, 100, 0.5, 0.625, False)]
        # Generation starts 2 steps after the primer ends (the original's section start).
        assert notes(whole)[3][2] >= 0.875
        assert notes(part) == after(whole, 0.625)
        assert len(part.notes) == len(whole.notes) - 3 > 3
        assert part.total_time == pytest.approx(whole.total_time - 0.625)
        assert [(t.time, t.qpm) for t in part.tempos] == [(0.0, 120.0)]


def test_melody_continuation_without_a_primer_leaves_out_the_middle_c():
    full, = magenta_rnn.generate_melodies(num_steps=32, seed=1)
    part, = magenta_rnn.generate_melodies(num_steps=32, seed=1, continuation_only=True)
    assert notes(full)[0] == (60, 100, 0.0, 0.125, False)
    assert notes(part) == after(full, 0.125) and len(part.notes) == len(full.notes) - 1


def test_melody_continuation_keeps_the_primers_tempo():
    primer = builders.note_sequence([(62, 90, 0.0, 0.3), (65, 90, 0.5, 1.0)], qpm=90.0,
                                    time_signature=None, ticks_per_quarter=220)
    full, = magenta_rnn.generate_melodies(primer=primer, num_steps=32, seed=4)
    part, = magenta_rnn.generate_melodies(primer=primer, num_steps=32, seed=4,
                                          continuation_only=True)
    assert [(t.time, t.qpm) for t in part.tempos] == [(0.0, 90.0)]
    assert notes(part) == after(full, 1.0) and part.notes


# Drums RNN (shipped drum_kit) through the API.

@pytest.mark.parametrize('primer, primer_end, primer_hits', [
    ([(36, 42), (), (42,)], 0.375, 3),
    (None, 0.125, 1),  # the default primer: one bass drum hit
])
def test_drums_continuation_is_the_full_output_after_the_primer(primer, primer_end,
                                                                primer_hits):
    kwargs = dict(primer=primer, num_outputs=2, num_steps=32, seed=2)
    full = magenta_rnn.generate_drum_tracks(**kwargs)
    continuation = magenta_rnn.generate_drum_tracks(continuation_only=True, **kwargs)
    for whole, part in zip(full, continuation):
        assert notes(part) == after(whole, primer_end)
        assert len(part.notes) == len(whole.notes) - primer_hits > 0
        assert all(n.is_drum for n in part.notes)


# The console scripts: the flag gives the same notes as the keyword.

def _generate(module, out, *args):
    from magenta_rnn.music.midi_io import midi_file_to_note_sequence

    env = dict(os.environ, PYTHONPATH=REPO)
    result = subprocess.run([sys.executable, '-m', module, f'--output_dir={out}', *args],
                            env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    return [midi_file_to_note_sequence(str(out / name)) for name in sorted(os.listdir(out))]


def _rounded(sequence):
    """Notes read back from MIDI: times on the 16th-note grid of 120 qpm (0.125 s)."""
    return sorted((n.pitch, n.velocity, round(n.start_time * 8) / 8, round(n.end_time * 8) / 8)
                  for n in sequence.notes)


@pytest.mark.parametrize('module, primer_flag, api', [
    ('magenta_rnn.melody.generate', '--primer_melody=[60, -2, 62, -2, 64]',
     lambda: magenta_rnn.generate_melodies(primer=PRIMER, num_outputs=2, num_steps=40, seed=5,
                                           continuation_only=True)),
    ('magenta_rnn.drums.generate', '--primer_drums=[(36, 42), (), (42,)]',
     lambda: magenta_rnn.generate_drum_tracks(primer=[(36, 42), (), (42,)], num_outputs=2,
                                              num_steps=40, seed=5, continuation_only=True)),
])
def test_continuation_only_flag(tmp_path, module, primer_flag, api):
    written = _generate(module, tmp_path / 'out', primer_flag, '--num_outputs=2',
                        '--num_steps=40', '--seed=5', '--continuation_only')
    assert [_rounded(sequence) for sequence in written] == [_rounded(s) for s in api()]
    assert all(sequence.notes for sequence in written)


def test_a_short_last_primer_note_quantized_past_the_primer_end_stays_out():
    # 62 lasts 10 ms from 0.44 s: quantized, it sounds from 0.5 s (step 4), after the
    # primer's end (0.45 s) but before the first generated step (5: 0.625 s).
    primer = builders.note_sequence([(60, 90, 0.0, 0.25), (62, 90, 0.44, 0.45)],
                                    time_signature=None, ticks_per_quarter=220)
    full, = magenta_rnn.generate_melodies(primer=primer, num_steps=32, seed=6)
    part, = magenta_rnn.generate_melodies(primer=primer, num_steps=32, seed=6,
                                          continuation_only=True)
    assert notes(full)[:2] == [(60, 100, 0.0, 0.25, False), (62, 100, 0.5, 0.625, False)]
    assert min(n.start_time for n in full.notes[2:]) >= 0.625
    # Time 0 is the primer's end on the step grid (0.45 s -> step 4, 0.5 s): on the grid.
    assert notes(part) == notes(full, 0.5)[2:]
    assert part.subsequence_info.start_time_offset == 0.5
    assert len(part.notes) == len(full.notes) - 2 > 0
