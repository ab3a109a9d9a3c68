"""SimpleEventSequence (REFERENCE.md "Event sequences"); cases ported from note_seq's
events_lib_test."""
import copy

import pytest

import builders
from magenta_rnn.music.events import (NonIntegerStepsPerBarError, QuantizationStatusError,
                                      SimpleEventSequence, integer_steps_per_bar)
from magenta_rnn.protobuf import music_pb2


def test_deepcopy_is_equal_and_independent():
    events = SimpleEventSequence(pad_event=0, events=[0, 1, 2], start_step=0,
                                 steps_per_quarter=4, steps_per_bar=8)
    events_copy = copy.deepcopy(events)
    assert events == events_copy
    events.set_length(2)
    assert events != events_copy
    assert list(events_copy) == [0, 1, 2]


def test_append_moves_end_step():
    events = SimpleEventSequence(pad_event=0)
    events.append(7)
    assert list(events) == [7]
    assert (events.start_step, events.end_step) == (0, 1)
    events.append('cheese')
    assert list(events) == [7, 'cheese']
    assert (events.start_step, events.end_step) == (0, 2)


def test_set_length_pads_and_truncates_on_either_side():
    events = SimpleEventSequence(pad_event=0, events=[60], start_step=9)
    events.set_length(5)
    assert list(events) == [60, 0, 0, 0, 0]
    assert (events.start_step, events.end_step) == (9, 14)
    assert events.steps == [9, 10, 11, 12, 13]

    events = SimpleEventSequence(pad_event=0, events=[60], start_step=9)
    events.set_length(5, from_left=True)
    assert list(events) == [0, 0, 0, 0, 60]
    assert (events.start_step, events.end_step) == (5, 10)
    assert events.steps == [5, 6, 7, 8, 9]

    events = SimpleEventSequence(pad_event=0, events=[60, 0, 0, 0])
    events.set_length(3)
    assert list(events) == [60, 0, 0]
    assert (events.start_step, events.end_step) == (0, 3)

    events = SimpleEventSequence(pad_event=0, events=[60, 0, 0, 0])
    events.set_length(3, from_left=True)
    assert list(events) == [0, 0, 0]
    assert (events.start_step, events.end_step) == (1, 4)
    assert events.steps == [1, 2, 3]


def test_increase_resolution_repeats_or_fills():
    events = SimpleEventSequence(pad_event=0, events=[1, 0, 1, 0], start_step=5,
                                 steps_per_bar=4, steps_per_quarter=1)
    events.increase_resolution(3, fill_event=None)
    assert list(events) == [1, 1, 1, 0, 0, 0, 1, 1, 1, 0, 0, 0]
    assert events.start_step == 15
    assert events.end_step == 27
    assert events.steps_per_bar == 12
    assert events.steps_per_quarter == 3

    events = SimpleEventSequence(pad_event=0, events=[1, 0, 1, 0])
    events.increase_resolution(2, fill_event=0)
    assert list(events) == [1, 0, 0, 0, 1, 0, 0, 0]


def test_slice_keeps_type_and_shifts_start_step():
    events = SimpleEventSequence(pad_event=0, events=[5, 6, 7, 8], start_step=16,
                                 steps_per_bar=8, steps_per_quarter=2)
    part = events[1:3]
    assert isinstance(part, SimpleEventSequence)
    assert list(part) == [6, 7]
    assert (part.start_step, part.end_step) == (17, 19)
    assert (part.steps_per_bar, part.steps_per_quarter) == (8, 2)
    assert events[2] == 7


def test_equality_covers_position_and_resolution():
    base = SimpleEventSequence(pad_event=0, events=[1, 2], start_step=0)
    assert base == SimpleEventSequence(pad_event=0, events=[1, 2], start_step=0)
    assert base != SimpleEventSequence(pad_event=0, events=[1, 2], start_step=1)
    assert base != SimpleEventSequence(pad_event=0, events=[1, 2], steps_per_bar=12)
    assert base != SimpleEventSequence(pad_event=0, events=[1, 2], steps_per_quarter=3)


def _sequence(steps_per_quarter, numerator=4, denominator=4):
    return builders.note_sequence(qpm=None, time_signature=(numerator, denominator),
                                  steps_per_quarter=steps_per_quarter)


def test_steps_per_bar_from_time_signature():
    assert integer_steps_per_bar(_sequence(4)) == 16
    assert integer_steps_per_bar(_sequence(4, 7, 8)) == 14
    assert integer_steps_per_bar(_sequence(12, 7, 8)) == 42
    assert integer_steps_per_bar(_sequence(2, 3, 4)) == 6


def test_fractional_steps_per_bar_is_an_error():
    with pytest.raises(NonIntegerStepsPerBarError):
        integer_steps_per_bar(_sequence(1, 7, 8))  # 3.5 steps


def test_unquantized_sequence_is_an_error():
    with pytest.raises(QuantizationStatusError):
        integer_steps_per_bar(music_pb2.NoteSequence())
