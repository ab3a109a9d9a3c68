"""Statistics of a NoteSequence for comparing generated music with real music.

One function per metric, each taking a NoteSequence. Where MusPy (Dong et al., "MusPy: A
Toolkit for Symbolic Music Generation", ISMIR 2020; muspy.metrics) defines the metric, the
definition here is MusPy's and its name is given; the others are plain counts stated in
their docstrings. Bars are 4/4 bars (or the sequence's first time signature) at its first
tempo (120 qpm when it has none), counted from time 0 to the end of the last note.
"""
from __future__ import annotations

import math

import numpy as np

# Scale degrees (semitones above the tonic) of the major and natural minor scales.
MAJOR_SCALE = (0, 2, 4, 5, 7, 9, 11)
MINOR_SCALE = (0, 2, 3, 5, 7, 8, 10)


def bar_seconds(sequence) -> float:
    """The length of one bar in seconds: first time signature and tempo (4/4, 120 qpm)."""
    qpm = sequence.tempos[0].qpm if sequence.tempos and sequence.tempos[0].qpm else 120.0
    numerator, denominator = 4, 4
    if sequence.time_signatures:
        numerator = sequence.time_signatures[0].numerator
        denominator = sequence.time_signatures[0].denominator
    return numerator * (4.0 / denominator) * 60.0 / qpm


def num_bars(sequence) -> int:
    """Bars from time 0 to the end of the last note (at least 1)."""
    end = max((n.end_time for n in sequence.notes), default=0.0)
    return max(1, math.ceil(end / bar_seconds(sequence) - 1e-9))


def _pitched(sequence) -> list:
    return [n for n in sequence.notes if not n.is_drum]


def pitch_range(sequence) -> int:
    """Highest minus lowest pitch in semitones, drums excluded (MusPy `pitch_range`);
    0 without pitched notes."""
    pitches = [n.pitch for n in _pitched(sequence)]
    return max(pitches) - min(pitches) if pitches else 0


def notes_per_bar(sequence) -> float:
    """Pitched notes per bar (notes started, over num_bars)."""
    return len(_pitched(sequence)) / num_bars(sequence)


def hits_per_bar(sequence) -> float:
    """Drum hits per bar (drum notes started, over num_bars)."""
    return sum(1 for n in sequence.notes if n.is_drum) / num_bars(sequence)


def scale_consistency(sequence) -> float:
    """Share of pitched notes in the best-fitting major or minor scale: the largest
    pitch-in-scale rate over the 24 major and natural minor scales (MusPy
    `scale_consistency`); NaN without pitched notes."""
    counts = np.bincount([n.pitch % 12 for n in _pitched(sequence)], minlength=12)
    total = counts.sum()
    if not total:
        return float('nan')
    best = 0
    for tonic in range(12):
        for scale in (MAJOR_SCALE, MINOR_SCALE):
            best = max(best, sum(counts[(tonic + degree) % 12] for degree in scale))
    return float(best / total)


def empty_bar_rate(sequence) -> float:
    """Share of bars in which no note sounds (MusPy `empty_measure_rate`), over num_bars."""
    seconds = bar_seconds(sequence)
    bars = num_bars(sequence)
    occupied = np.zeros(bars, bool)
    for note in sequence.notes:
        first = int(note.start_time // seconds)
        last = max(first, math.ceil(note.end_time / seconds - 1e-9) - 1)
        occupied[first:min(last, bars - 1) + 1] = True
    return float(1.0 - occupied.mean())


def notes_per_second(sequence) -> float:
    """Notes started per second, from time 0 to the end of the last note."""
    end = max((n.end_time for n in sequence.notes), default=0.0)
    return len(sequence.notes) / end if end > 0 else 0.0


def velocity_spread(sequence) -> float:
    """Standard deviation of the notes' MIDI velocities (0 when all are equal)."""
    velocities = [n.velocity for n in sequence.notes]
    return float(np.std(velocities)) if velocities else 0.0
