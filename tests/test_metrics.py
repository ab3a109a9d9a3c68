"""magenta_rnn.music.metrics on hand-made sequences with known answers."""
import math

import pytest

import builders
from magenta_rnn.music import metrics


def sequence(notes, qpm=120.0, drums=False):
    """notes: (pitch, start, end, velocity) tuples; 120 qpm 4/4 bars are 2 s."""
    return builders.note_sequence([(pitch, velocity, start, end)
                                   for pitch, start, end, velocity in notes],
                                  qpm=qpm, time_signature=None, is_drum=drums)


# C D E F | (empty) | G then F# ; bars of 2 s at 120 qpm.
MELODY = sequence([(60, 0.0, 0.5, 80), (62, 0.5, 1.0, 90), (64, 1.0, 1.5, 100),
                   (65, 1.5, 2.0, 110), (67, 4.0, 5.0, 60), (66, 5.0, 6.0, 60)])


def test_bars_follow_tempo_and_time_signature():
    assert metrics.bar_seconds(MELODY) == 2.0
    waltz = sequence([(60, 0.0, 6.0, 80)], qpm=60.0)
    waltz.time_signatures.add(numerator=3, denominator=4)
    assert metrics.bar_seconds(waltz) == 3.0
    assert metrics.num_bars(waltz) == 2
    assert metrics.num_bars(MELODY) == 3


def test_pitch_range_and_notes_per_bar():
    assert metrics.pitch_range(MELODY) == 7
    assert metrics.notes_per_bar(MELODY) == 2.0
    assert metrics.pitch_range(sequence([])) == 0


def test_scale_consistency_is_the_best_major_or_minor_share():
    # F# is outside C major; G major holds F# but not F: 5 of 6 either way.
    assert metrics.scale_consistency(MELODY) == pytest.approx(5 / 6)
    c_minor = sequence([(60, 0, 1, 80), (63, 1, 2, 80), (67, 2, 3, 80), (68, 3, 4, 80)])
    assert metrics.scale_consistency(c_minor) == 1.0
    chromatic = sequence([(60 + k, k, k + 1, 80) for k in range(12)])
    assert metrics.scale_consistency(chromatic) == pytest.approx(7 / 12)
    assert math.isnan(metrics.scale_consistency(sequence([])))


def test_empty_bar_rate_counts_bars_where_nothing_sounds():
    assert metrics.empty_bar_rate(MELODY) == pytest.approx(1 / 3)
    held = sequence([(60, 0.0, 5.0, 80)])  # one note sounding through bars 1 to 3
    assert metrics.empty_bar_rate(held) == 0.0


def test_drum_and_performance_metrics():
    beat = sequence([(36, 0.0, 0.1, 100), (42, 0.5, 0.6, 60), (38, 1.0, 1.1, 120),
                     (42, 2.5, 2.6, 60)], drums=True)
    assert metrics.hits_per_bar(beat) == 2.0
    assert metrics.notes_per_bar(beat) == 0.0
    assert metrics.pitch_range(beat) == 0
    assert metrics.notes_per_second(MELODY) == 1.0
    assert metrics.velocity_spread(sequence([(60, 0, 1, 40), (62, 1, 2, 80)])) == 20.0
    assert metrics.velocity_spread(sequence([])) == 0.0
