"""Performances, velocity bins and extract_performances (REFERENCE.md "Performance events",
"Performance extraction").

Cases ported from note_seq's performance_lib_test and magenta's
performance_pipeline_test, plus the worked example of REFERENCE.md "Performance events".
"""
import pickle

import pytest

import builders
from magenta_rnn.music.performance_extraction import extract_performances
from magenta_rnn.music.performances import (MetricPerformance, NotePerformance, Performance,
                                            PerformanceEvent, TooManyDurationStepsError,
                                            TooManyTimeShiftStepsError,
                                            velocity_bin_to_velocity, velocity_to_bin)
from magenta_rnn.music.sequences import (quantize_note_sequence,
                                         quantize_note_sequence_absolute)

pe = PerformanceEvent
ON, OFF, SHIFT, VEL, DUR = (pe.NOTE_ON, pe.NOTE_OFF, pe.TIME_SHIFT, pe.VELOCITY,
                            pe.DURATION)
CHORD = [(60, 100, 0.0, 4.0), (64, 100, 0.0, 3.0), (67, 100, 1.0, 2.0)]


def sequence(tracks, qpm=None):
    """tracks: {instrument: [(pitch, velocity, start_s, end_s)]} or a list for instrument 0."""
    return builders.note_sequence(tracks, qpm=qpm, time_signature=None, ticks_per_quarter=220)


def absolute(tracks, steps_per_second=100):
    return quantize_note_sequence_absolute(sequence(tracks), steps_per_second)


def pairs(performance):
    return [(e.event_type, e.event_value) for e in performance]


def notes_of(ns):
    return sorted((n.pitch, n.velocity, round(n.start_time, 6), round(n.end_time, 6))
                  for n in ns.notes)


# PerformanceEvent.

def test_event_equality_hash_and_validation():
    assert pe(ON, 60) == pe(ON, 60) and pe(ON, 60) != pe(OFF, 60)
    assert len({pe(ON, 60), pe(ON, 60)}) == 1
    assert pickle.loads(pickle.dumps(pe(SHIFT, 5))) == pe(SHIFT, 5)
    for bad in [(ON, 128), (OFF, -1), (SHIFT, -1), (VEL, 0), (VEL, 128), (DUR, 0), (9, 1)]:
        with pytest.raises(ValueError):
            pe(*bad)
    with pytest.raises(AttributeError):
        pe(ON, 60).event_value = 61


# Velocity bins.

def test_velocity_bins():
    assert [velocity_bin_to_velocity(b, 32) for b in (1, 2, 32)] == [1, 5, 125]
    assert [velocity_to_bin(v, 32) for v in (1, 4, 5, 100, 127)] == [1, 1, 2, 25, 32]
    assert [velocity_to_bin(v, 8) for v in (1, 16, 17, 127)] == [1, 1, 2, 8]  # bin size 16
    assert velocity_to_bin(100, 127) == 100


# From quantized sequences.

def test_worked_example_of_the_facts():
    performance = Performance(
        absolute([(60, 100, 0.0, 1.0), (64, 80, 0.5, 2.5), (67, 127, 1.0, 1.01)]),
        num_velocity_bins=32)
    assert pairs(performance) == [
        (VEL, 25), (ON, 60), (SHIFT, 50), (VEL, 20), (ON, 64), (SHIFT, 50), (OFF, 60),
        (VEL, 32), (ON, 67), (SHIFT, 1), (OFF, 67), (SHIFT, 100), (SHIFT, 49), (OFF, 64)]
    assert performance.num_steps == 250 and performance.end_step == 250


def test_from_quantized_sequence():
    performance = Performance(absolute(CHORD))
    assert performance.steps_per_second == 100
    assert pairs(performance) == [(ON, 60), (ON, 64), (SHIFT, 100), (ON, 67), (SHIFT, 100),
                                  (OFF, 67), (SHIFT, 100), (OFF, 64), (SHIFT, 100), (OFF, 60)]
    assert (performance.program, performance.is_drum) == (0, False)


def test_from_quantized_sequence_with_velocity():
    notes = [(60, 100, 0.0, 4.0), (64, 100, 0.0, 3.0), (67, 127, 1.0, 2.0)]
    tail = [(SHIFT, 100), (OFF, 67), (SHIFT, 100), (OFF, 64), (SHIFT, 100), (OFF, 60)]
    assert pairs(Performance(absolute(notes), num_velocity_bins=127)) == [
        (VEL, 100), (ON, 60), (ON, 64), (SHIFT, 100), (VEL, 127), (ON, 67)] + tail
    assert pairs(Performance(absolute(notes), num_velocity_bins=16)) == [
        (VEL, 13), (ON, 60), (ON, 64), (SHIFT, 100), (VEL, 16), (ON, 67)] + tail


def test_events_at_one_step_follow_note_index():
    # Notes are indexed by (start time, pitch); events at one step go in index order.
    # 64 starts first (index 0), 60 later (index 1): both end at step 100, 64 first.
    performance = Performance(absolute([(60, 100, 0.5, 1.0), (64, 100, 0.0, 1.0)]))
    assert pairs(performance) == [(ON, 64), (SHIFT, 50), (ON, 60), (SHIFT, 50), (OFF, 64),
                                  (OFF, 60)]
    # An offset of an earlier note precedes an onset of a later one at the same step.
    performance = Performance(absolute([(60, 100, 0.0, 1.0), (62, 100, 1.0, 2.0)]))
    assert pairs(performance) == [(ON, 60), (SHIFT, 100), (OFF, 60), (ON, 62), (SHIFT, 100),
                                  (OFF, 62)]


def test_long_gaps_split_into_max_shifts_and_start_step():
    performance = Performance(absolute([(60, 100, 0.0, 2.5)]), max_shift_steps=100)
    assert pairs(performance) == [(ON, 60), (SHIFT, 100), (SHIFT, 100), (SHIFT, 50), (OFF, 60)]
    later = Performance(absolute([(60, 100, 0.0, 1.0), (62, 100, 3.0, 3.5)]), start_step=200)
    assert pairs(later) == [(SHIFT, 100), (ON, 62), (SHIFT, 50), (OFF, 62)]
    assert later.start_step == 200 and later.steps == [200, 300, 300, 350]


def test_metric_performance_from_relative_quantized_sequence():
    quantized = quantize_note_sequence(sequence(CHORD, qpm=60.0), 100)
    performance = MetricPerformance(quantized)
    assert performance.steps_per_quarter == 100
    assert performance.max_shift_steps == 400  # 4 quarters
    assert pairs(performance) == [(ON, 60), (ON, 64), (SHIFT, 100), (ON, 67), (SHIFT, 100),
                                  (OFF, 67), (SHIFT, 100), (OFF, 64), (SHIFT, 100), (OFF, 60)]
    ns = performance.to_sequence(qpm=60.0)
    assert [t.qpm for t in ns.tempos] == [60.0]
    assert notes_of(ns) == notes_of(sequence(CHORD))
    with pytest.raises(Exception, match='absolute'):
        Performance(quantized)


def test_program_and_is_drum():
    ns = sequence({0: CHORD, 1: [(36, 100, 0.0, 4.0), (48, 100, 0.0, 4.0)],
                   2: [(57, 100, 0.0, 0.1)]})
    for note in ns.notes:
        note.program = {0: 1, 1: 2, 2: 0}[note.instrument]
        note.is_drum = note.instrument == 2
    quantized = quantize_note_sequence_absolute(ns, 100)
    assert (Performance(quantized, instrument=0).program,
            Performance(quantized, instrument=0).is_drum) == (1, False)
    assert Performance(quantized, instrument=1).program == 2
    drums = Performance(quantized, instrument=2)
    assert (drums.program, drums.is_drum) == (None, True)
    mixed = Performance(quantized)
    assert (mixed.program, mixed.is_drum) == (None, None)


def test_note_performance():
    notes = [(60, 97, 0.0, 4.0), (64, 97, 0.0, 3.0), (67, 121, 1.0, 2.0)]
    performance = NotePerformance(absolute(notes), num_velocity_bins=16)
    assert [tuple((e.event_type, e.event_value) for e in event) for event in performance] == [
        ((SHIFT, 0), (ON, 60), (VEL, 13), (DUR, 400)),
        ((SHIFT, 0), (ON, 64), (VEL, 13), (DUR, 300)),
        ((SHIFT, 100), (ON, 67), (VEL, 16), (DUR, 100))]
    assert performance.num_steps == 200  # shifts 100 + last duration 100
    assert performance.steps == [0, 0, 100]
    performance.set_length(5)  # Does nothing.
    assert len(performance) == 3
    assert notes_of(performance.to_sequence()) == notes_of(sequence(notes))


def test_note_performance_limits():
    with pytest.raises(TooManyTimeShiftStepsError):
        NotePerformance(absolute([(60, 100, 0.0, 1.0), (62, 100, 10.02, 10.5)]), 32)
    with pytest.raises(TooManyDurationStepsError):
        NotePerformance(absolute([(60, 100, 0.0, 10.02)]), 32)


# to_sequence.

def test_to_sequence_round_trips_notes():
    assert notes_of(Performance(absolute(CHORD)).to_sequence()) == notes_of(sequence(CHORD))
    with_velocity = [(60, 100, 0.0, 4.0), (64, 115, 0.0, 3.0), (67, 127, 1.0, 2.0)]
    ns = Performance(absolute(with_velocity), num_velocity_bins=127).to_sequence()
    assert notes_of(ns) == notes_of(sequence(with_velocity))
    assert ns.ticks_per_quarter == 220 and not ns.tempos and ns.total_time == 4.0


def test_to_sequence_velocity_comes_from_bins():
    ns = Performance(absolute([(60, 100, 0.0, 1.0)]), num_velocity_bins=32).to_sequence()
    assert [n.velocity for n in ns.notes] == [97]  # bin 25 -> 1 + 24 * 4


def test_to_sequence_ignores_unmatched_note_offs():
    performance = builders.performance([(ON, 60), (ON, 64), (SHIFT, 50), (OFF, 60), (OFF, 64), (OFF, 67)])
    assert notes_of(performance.to_sequence()) == [(60, 100, 0.0, 0.5), (64, 100, 0.0, 0.5)]


def test_to_sequence_closes_unmatched_note_ons_at_the_end():
    performance = builders.performance([(ON, 60), (ON, 64), (SHIFT, 100)])
    assert notes_of(performance.to_sequence()) == [(60, 100, 0.0, 1.0), (64, 100, 0.0, 1.0)]


def test_to_sequence_repeated_notes_close_first_in_first_out():
    performance = builders.performance([(ON, 60), (ON, 64), (SHIFT, 100), (ON, 60), (SHIFT, 100)])
    assert notes_of(performance.to_sequence()) == [
        (60, 100, 0.0, 2.0), (60, 100, 1.0, 2.0), (64, 100, 0.0, 2.0)]
    performance = builders.performance([(ON, 60), (SHIFT, 10), (ON, 60), (SHIFT, 10),
                                        (OFF, 60), (SHIFT, 10), (OFF, 60)])
    assert notes_of(performance.to_sequence()) == [(60, 100, 0.0, 0.2), (60, 100, 0.1, 0.3)]


def test_to_sequence_drops_zero_length_notes_and_clips_durations():
    performance = builders.performance([(ON, 60), (OFF, 60), (ON, 62), (SHIFT, 100),
                                        (SHIFT, 100), (OFF, 62), (ON, 64)])
    ns = performance.to_sequence(max_note_duration=0.5, instrument=3, program=7)
    assert notes_of(ns) == [(62, 100, 0.0, 0.5)]  # 64 opens and closes at the end: dropped
    assert (ns.notes[0].instrument, ns.notes[0].program) == (3, 7)


# Length editing.

def test_set_length_adds_steps():
    performance = Performance(steps_per_second=100)
    performance.set_length(50)
    assert pairs(performance) == [(SHIFT, 50)] and performance.steps == [0]
    performance.set_length(150)
    assert pairs(performance) == [(SHIFT, 100), (SHIFT, 50)]
    assert performance.steps == [0, 100]
    performance.set_length(200)
    assert pairs(performance) == [(SHIFT, 100), (SHIFT, 100)]
    with pytest.raises(NotImplementedError):
        performance.set_length(10, from_left=True)


def test_set_length_removes_steps():
    performance = builders.performance([(ON, 60), (SHIFT, 100), (OFF, 60), (ON, 64),
                                        (SHIFT, 100), (OFF, 64), (ON, 67), (SHIFT, 100),
                                        (OFF, 67)])
    performance.set_length(200)
    assert pairs(performance) == [(ON, 60), (SHIFT, 100), (OFF, 60), (ON, 64), (SHIFT, 100),
                                  (OFF, 64), (ON, 67)]
    performance.set_length(50)
    assert pairs(performance) == [(ON, 60), (SHIFT, 50)]


def test_num_steps_steps_and_truncate():
    events = [(ON, 60), (ON, 64), (SHIFT, 100), (OFF, 60), (OFF, 64)]
    performance = builders.performance(events)
    assert performance.num_steps == 100
    assert performance.steps == [0, 0, 0, 100, 100]
    assert builders.performance(events, start_step=100).steps == [100, 100, 100, 200, 200]
    performance.truncate(3)
    assert pairs(performance) == events[:3]
    with pytest.raises(ValueError):
        performance.append((ON, 60))


# extract_performances.

def test_extract_performances_truncation_and_discard():
    quantized = absolute([(60, 100, 0.0, 4.0)])
    assert len(extract_performances(quantized)[0]) == 1
    assert len(extract_performances(quantized, min_events_discard=1,
                                    max_events_truncate=10)[0]) == 1
    perfs, stats = extract_performances(quantized, min_events_discard=8,
                                        max_events_truncate=10)
    assert perfs == []
    assert {s.name: s for s in stats}['performances_discarded_too_short'].count == 1
    perfs, stats = extract_performances(quantized, min_events_discard=1, max_events_truncate=3)
    assert [len(p) for p in perfs] == [3]
    assert {s.name: s for s in stats}['performances_truncated'].count == 1
    perfs, stats = extract_performances(quantized, max_steps_truncate=100)
    assert perfs[0].num_steps == 100
    by_name = {s.name: s for s in stats}
    assert by_name['performances_truncated_timewise'].count == 1
    assert by_name['performance_lengths_in_seconds'].counters[float('-inf')] == 1  # 1 s


def test_extract_performances_stat_names():
    _, stats = extract_performances(absolute([(60, 100, 0.0, 4.0)]))
    assert sorted(s.name for s in stats) == [
        'performance_discarded_too_many_duration_steps',
        'performance_discarded_too_many_time_shift_steps', 'performance_lengths_in_seconds',
        'performances_discarded_more_than_1_program', 'performances_discarded_too_short',
        'performances_truncated', 'performances_truncated_timewise']


def test_extract_performances_multi_program_is_discarded():
    ns = sequence(CHORD)
    ns.notes[0].program = 2
    perfs, stats = extract_performances(quantize_note_sequence_absolute(ns, 100))
    assert perfs == []
    assert {s.name: s for s in stats}['performances_discarded_more_than_1_program'].count == 1


def test_extract_performances_start_step():
    quantized = absolute([(60, 100, 0.0, 4.0)])
    assert extract_performances(quantized, start_step=400, min_events_discard=1)[0] == []
    assert len(extract_performances(quantized, start_step=0, min_events_discard=1)[0]) == 1


def test_extract_performances_relative_quantized():
    quantized = quantize_note_sequence(sequence([(60, 100, 0.0, 4.0)], qpm=60.0), 100)
    perfs, stats = extract_performances(quantized)
    assert isinstance(perfs[0], MetricPerformance)
    assert 'performance_lengths_in_bars' in {s.name for s in stats}
    assert extract_performances(quantized, min_events_discard=8, max_events_truncate=10)[0] == []
    assert [len(p) for p in extract_performances(quantized, min_events_discard=1,
                                                 max_events_truncate=3)[0]] == [3]
    assert extract_performances(quantized, max_steps_truncate=100)[0][0].num_steps == 100


def test_extract_performances_split_instruments():
    quantized = absolute({0: [(60, 100, 0.0, 4.0)],
                          1: [(62, 100, 0.0, 2.0), (64, 100, 2.0, 4.0)]})
    assert len(extract_performances(quantized, split_instruments=True)[0]) == 2
    assert len(extract_performances(quantized, min_events_discard=8,
                                    split_instruments=True)[0]) == 1
    assert extract_performances(quantized, min_events_discard=16,
                                split_instruments=True)[0] == []


def test_extract_note_performances_and_their_errors():
    perfs, _ = extract_performances(absolute([(60, 100, 0.0, 1.0)]), num_velocity_bins=32,
                                    note_performance=True)
    assert isinstance(perfs[0], NotePerformance)
    perfs, stats = extract_performances(absolute([(60, 100, 0.0, 10.5)]),
                                        num_velocity_bins=32, note_performance=True)
    assert perfs == []
    assert {s.name: s for s in stats}['performance_discarded_too_many_duration_steps'].count == 1
    perfs, stats = extract_performances(
        absolute([(60, 100, 0.0, 1.0), (62, 100, 10.5, 11.0)]), num_velocity_bins=32,
        note_performance=True)
    assert {s.name: s for s in stats}[
        'performance_discarded_too_many_time_shift_steps'].count == 1
