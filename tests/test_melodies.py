"""Melody and extract_melodies (REFERENCE.md "Melodies", "Melody extraction").

Cases ported from note_seq's melodies_lib_test and magenta's melody_pipelines_test.
Quantized sequences are built here by hand: note times in seconds at 60 qpm are
quantized as int(seconds * steps_per_second + 0.5), with a zero-length note
lengthened to one step (REFERENCE.md "Quantization").
"""
import numpy as np
import pytest

import builders
from magenta_rnn.music.events import NonIntegerStepsPerBarError
from magenta_rnn.music.melodies import (Melody, PolyphonicMelodyError, extract_melodies)

NOTE_OFF = -1
NO_EVENT = -2


def quantized(tracks, steps_per_quarter=4, qpm=60.0, numerator=4, denominator=4):
    """A relative-quantized NoteSequence; tracks: {instrument: [(pitch, velocity, start_s, end_s)]}.

    An instrument key given as ('drum', n) makes drum notes on instrument n.
    """
    sequence = builders.note_sequence(qpm=qpm, time_signature=(numerator, denominator),
                                      steps_per_quarter=steps_per_quarter)
    for instrument, notes in tracks.items():
        is_drum = isinstance(instrument, tuple)
        builders.add_notes(sequence, instrument[1] if is_drum else instrument, notes,
                           is_drum=is_drum)
    steps_per_second = steps_per_quarter * qpm / 60.0
    for note in sequence.notes:
        note.quantized_start_step = int(note.start_time * steps_per_second + 0.5)
        note.quantized_end_step = int(note.end_time * steps_per_second + 0.5)
        if note.quantized_end_step == note.quantized_start_step:
            note.quantized_end_step += 1
    return sequence


# Construction and editing.

def test_leading_note_offs_become_no_events():
    melody = Melody([NOTE_OFF, NO_EVENT, NOTE_OFF, 60, NOTE_OFF])
    assert list(melody) == [NO_EVENT, NO_EVENT, NO_EVENT, 60, NOTE_OFF]


def test_events_out_of_range_are_rejected():
    with pytest.raises(ValueError):
        Melody([60, 128])
    with pytest.raises(ValueError):
        Melody([-3])
    melody = Melody([60])
    with pytest.raises(ValueError):
        melody.append(-3)


def test_set_length_grows_with_note_off_and_truncates():
    melody = Melody([60], start_step=9)
    melody.set_length(5)
    assert list(melody) == [60, NOTE_OFF, NO_EVENT, NO_EVENT, NO_EVENT]
    assert (melody.start_step, melody.end_step) == (9, 14)

    melody = Melody([60], start_step=9)
    melody.set_length(5, from_left=True)
    assert list(melody) == [NO_EVENT, NO_EVENT, NO_EVENT, NO_EVENT, 60]
    assert (melody.start_step, melody.end_step) == (5, 10)

    events = [60, NO_EVENT, NO_EVENT, NOTE_OFF]
    melody = Melody(events)
    melody.set_length(3)
    assert list(melody) == [60, NO_EVENT, NO_EVENT]
    assert (melody.start_step, melody.end_step) == (0, 3)

    melody = Melody(events)
    melody.set_length(3, from_left=True)
    assert list(melody) == [NO_EVENT, NO_EVENT, NOTE_OFF]
    assert (melody.start_step, melody.end_step) == (1, 4)


def test_set_length_after_silence_adds_no_note_off():
    melody = Melody([60, NOTE_OFF, NO_EVENT])
    melody.set_length(5)
    assert list(melody) == [60, NOTE_OFF, NO_EVENT, NO_EVENT, NO_EVENT]


def test_increase_resolution_fills_with_no_event():
    melody = Melody([60, NOTE_OFF], start_step=2, steps_per_bar=4, steps_per_quarter=1)
    melody.increase_resolution(2)
    assert list(melody) == [60, NO_EVENT, NOTE_OFF, NO_EVENT]
    assert (melody.start_step, melody.steps_per_bar, melody.steps_per_quarter) == (4, 8, 2)


# Histograms and keys.

def test_note_histogram():
    melody = Melody([NO_EVENT, NOTE_OFF, 12 * 2 + 1, 12 * 3, 12 * 5 + 11, 12 * 6 + 3,
                     12 * 4 + 11])
    assert list(melody.get_note_histogram()) == [1, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2]
    melody = Melody([0, 1, NO_EVENT, NOTE_OFF, 12 * 2 + 1, 12 * 3, 12 * 6 + 3, 12 * 5 + 11,
                     NO_EVENT, 12 * 4 + 11, 12 * 7 + 1])
    assert list(melody.get_note_histogram()) == [2, 3, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2]
    assert list(Melody().get_note_histogram()) == [0] * 12


def test_major_key_histogram():
    melody = Melody([NO_EVENT, 12 * 5, NOTE_OFF])
    assert list(melody.get_major_key_histogram()) == [1, 1, 0, 1, 0, 1, 0, 1, 1, 0, 1, 0]
    melody = Melody([NO_EVENT, 12 * 5, NOTE_OFF, 12 * 7 + 1, NOTE_OFF])
    assert list(melody.get_major_key_histogram()) == [1, 2, 1, 1, 1, 1, 1, 1, 2, 1, 1, 1]
    melody = Melody([NO_EVENT, 12 * 5, NOTE_OFF, 12 * 7 + 1, NO_EVENT, 12 * 9 + 2])
    assert list(melody.get_major_key_histogram()) == [2, 2, 2, 2, 1, 2, 1, 2, 2, 2, 2, 1]


def test_major_key():
    melody = Melody([NO_EVENT, 12 * 2 + 2, 12 * 3 + 4, 12 * 5 + 1, 12 * 6 + 6, 12 * 4 + 11,
                     12 * 3 + 9, 12 * 5 + 7, NOTE_OFF])
    assert melody.get_major_key() == 2
    melody = Melody([NO_EVENT, 12 * 2 + 1, 12 * 4 + 8, 12 * 5 + 5, 12 * 6 + 6, 12 * 3 + 3,
                     12 * 2 + 11, 12 * 3 + 10, 12 * 5, 12 * 2 + 8, 12 * 4 + 1, 12 * 3 + 5,
                     12 * 5 + 9, 12 * 4 + 3, NOTE_OFF])
    assert melody.get_major_key() == 1
    # B fits C, D, E, G, A and B major: the lowest index wins the tie.
    assert Melody([NO_EVENT, 12 * 2 + 11, NOTE_OFF]).get_major_key() == 0


# Transpose and squash.

def test_transpose_wraps_octaves_into_range():
    events = [12 * 5 + 4, NO_EVENT, 12 * 5 + 5, NOTE_OFF, 12 * 6, NO_EVENT]
    melody = Melody(events)
    melody.transpose(transpose_amount=-5, min_note=12 * 5, max_note=12 * 7)
    assert list(melody) == [12 * 5 + 11, NO_EVENT, 12 * 5, NOTE_OFF, 12 * 5 + 7, NO_EVENT]

    melody = Melody(events)
    melody.transpose(transpose_amount=19, min_note=12 * 5, max_note=12 * 7)
    assert list(melody) == [12 * 6 + 11, NO_EVENT, 12 * 6, NOTE_OFF, 12 * 6 + 7, NO_EVENT]

    melody = Melody([12 * 4 + 11, 12 * 5, 12 * 5 + 11, NOTE_OFF, 12 * 6, NO_EVENT])
    melody.transpose(transpose_amount=0, min_note=12 * 5, max_note=12 * 6)
    assert list(melody) == [12 * 5 + 11, 12 * 5, 12 * 5 + 11, NOTE_OFF, 12 * 5, NO_EVENT]


def test_squash_to_key():
    melody = Melody([12 * 5, NO_EVENT, 12 * 5 + 2, NOTE_OFF, 12 * 6 + 4, NO_EVENT])
    melody.squash(min_note=12 * 5, max_note=12 * 6, transpose_to_key=0)
    assert list(melody) == [12 * 5, NO_EVENT, 12 * 5 + 2, NOTE_OFF, 12 * 5 + 4, NO_EVENT]

    melody = Melody([12 * 5 + 2, 12 * 5 + 4, 12 * 6 + 7, 12 * 6 + 6, 12 * 5 + 1])
    assert melody.squash(min_note=12 * 5, max_note=12 * 6, transpose_to_key=0) == -2
    assert list(melody) == [12 * 5, 12 * 5 + 2, 12 * 5 + 5, 12 * 5 + 4, 12 * 5 + 11]

    melody = Melody([12 * 5 + 2, 12 * 5 + 4, 12 * 6 + 7, 12 * 6 + 6, 12 * 4 + 11])
    melody.squash(min_note=12 * 5, max_note=12 * 6, transpose_to_key=4)
    assert list(melody) == [12 * 5 + 4, 12 * 5 + 6, 12 * 5 + 9, 12 * 5 + 8, 12 * 5 + 1]


def test_squash_centers_octaves():
    expected = [12 * 5, NO_EVENT, 12 * 5 + 2, NOTE_OFF, 12 * 5 + 4, NO_EVENT, 12 * 5 + 5,
                12 * 6 + 2, 12 * 5 - 1, NOTE_OFF]
    melody = Melody([12 * 4, NO_EVENT, 12 * 4 + 2, NOTE_OFF, 12 * 4 + 4, NO_EVENT, 12 * 4 + 5,
                     12 * 5 + 2, 12 * 4 - 1, NOTE_OFF])
    assert melody.squash(min_note=12 * 4, max_note=12 * 7, transpose_to_key=0) == 12
    assert list(melody) == expected
    melody = Melody([12 * 6, NO_EVENT, 12 * 6 + 2, NOTE_OFF, 12 * 6 + 4, NO_EVENT, 12 * 6 + 5,
                     12 * 7 + 2, 12 * 6 - 1, NOTE_OFF])
    assert melody.squash(min_note=12 * 4, max_note=12 * 7, transpose_to_key=0) == -12
    assert list(melody) == expected


def test_squash_wraps_max_note():
    melody = Melody([60, 62, 64, 65, 71, 72, 73])
    melody.squash(min_note=60, max_note=72, transpose_to_key=0)
    assert list(melody) == [60, 62, 64, 65, 71, 60, 61]


def test_squash_rounds_half_octave_to_even():
    # Range 48..84 centres at 65.5; a lone 59.5-centred C-major melody is 6 below:
    # center_diff/12 = 0.5 rounds to 0 (ties to even), so nothing moves.
    melody = Melody([59, 60])
    assert melody.squash(48, 84, 0) == 0
    assert list(melody) == [59, 60]


def test_squash_without_notes_or_key():
    melody = Melody([NO_EVENT] * 4)
    assert melody.squash(min_note=48, max_note=84, transpose_to_key=0) == 0
    assert list(melody) == [NO_EVENT] * 4
    melody = Melody([30, 100])
    assert melody.squash(min_note=48, max_note=84, transpose_to_key=None) == 0
    assert list(melody) == [54, 76]


# to_sequence.

def test_to_sequence_simple():
    melody = Melody([NO_EVENT, 1, NO_EVENT, NOTE_OFF, NO_EVENT, 2, 3, NOTE_OFF, NO_EVENT])
    sequence = melody.to_sequence(velocity=10, instrument=1, sequence_start_time=2, qpm=60.0)
    assert sequence.ticks_per_quarter == 220
    assert [t.qpm for t in sequence.tempos] == [60.0]
    assert sequence.total_time == 3.75
    assert [(n.pitch, n.velocity, n.instrument, n.start_time, n.end_time)
            for n in sequence.notes] == [(1, 10, 1, 2.25, 2.75), (2, 10, 1, 3.25, 3.5),
                                         (3, 10, 1, 3.5, 3.75)]


def test_to_sequence_ends_sustained_note_at_the_end():
    melody = Melody([NO_EVENT, 1, NO_EVENT, NOTE_OFF, NO_EVENT, 2, 3, NO_EVENT, NO_EVENT])
    sequence = melody.to_sequence(velocity=100, instrument=0, sequence_start_time=0, qpm=60.0)
    assert sequence.total_time == 2.25
    assert [(n.pitch, n.start_time, n.end_time) for n in sequence.notes] == [
        (1, 0.25, 0.75), (2, 1.25, 1.5), (3, 1.5, 2.25)]


def test_to_sequence_with_nonzero_start_step():
    melody = Melody([NO_EVENT, 1, NO_EVENT], start_step=4)
    sequence = melody.to_sequence(velocity=100, instrument=0, sequence_start_time=0.5,
                                  qpm=60.0)
    assert sequence.total_time == 2.25
    assert [(n.pitch, n.start_time, n.end_time) for n in sequence.notes] == [(1, 1.75, 2.25)]


def test_to_sequence_empty():
    sequence = Melody().to_sequence(velocity=10, instrument=1, sequence_start_time=2, qpm=60.0)
    assert len(sequence.notes) == 0
    assert sequence.total_time == 0
    assert [t.qpm for t in sequence.tempos] == [60.0]
    assert sequence.ticks_per_quarter == 220


# from_quantized_sequence.

FIVE_NOTES = [(12, 100, 0.01, 10.0), (11, 55, 0.22, 0.50), (40, 45, 2.50, 3.50),
              (55, 120, 4.0, 4.01), (52, 99, 4.75, 5.0)]
FIVE_NOTES_MELODY = [12, 11, NOTE_OFF, NO_EVENT, NO_EVENT, NO_EVENT, NO_EVENT, NO_EVENT,
                     NO_EVENT, NO_EVENT, 40, NO_EVENT, NO_EVENT, NO_EVENT, NOTE_OFF, NO_EVENT,
                     55, NOTE_OFF, NO_EVENT, 52]


def test_from_quantized_sequence():
    melody = Melody()
    melody.from_quantized_sequence(quantized({0: FIVE_NOTES}), search_start_step=0,
                                   instrument=0)
    assert list(melody) == FIVE_NOTES_MELODY
    assert melody.steps_per_bar == 16
    assert (melody.start_step, melody.end_step) == (0, 20)


def test_from_quantized_sequence_seven_eight():
    melody = Melody()
    melody.from_quantized_sequence(quantized({0: FIVE_NOTES}, numerator=7, denominator=8))
    assert list(melody) == FIVE_NOTES_MELODY
    assert melody.steps_per_bar == 14


def test_from_quantized_sequence_steps_per_bar_42():
    melody = Melody()
    melody.from_quantized_sequence(quantized({}, steps_per_quarter=12, numerator=7,
                                             denominator=8))
    assert melody.steps_per_bar == 42
    assert list(melody) == []


def test_from_quantized_sequence_non_integer_bar():
    with pytest.raises(NonIntegerStepsPerBarError):
        Melody().from_quantized_sequence(
            quantized({0: FIVE_NOTES}, steps_per_quarter=1, numerator=7, denominator=8))


def test_polyphony_raises_and_empties_the_melody():
    melody = Melody()
    with pytest.raises(PolyphonicMelodyError):
        melody.from_quantized_sequence(quantized({0: [(12, 100, 0.0, 10.0),
                                                      (11, 55, 0.0, 0.50)]}),
                                       ignore_polyphonic_notes=False)
    assert list(melody) == []


def test_chord_raises():
    melody = Melody()
    chord = [(12, 100, 1, 1.25), (19, 100, 1, 1.25), (20, 100, 1, 1.25), (25, 100, 1, 1.25)]
    with pytest.raises(PolyphonicMelodyError):
        melody.from_quantized_sequence(quantized({0: chord}), ignore_polyphonic_notes=False)
    assert list(melody) == []


def test_ignore_polyphonic_notes_keeps_highest_pitch():
    melody = Melody()
    melody.from_quantized_sequence(
        quantized({0: [(12, 100, 0.0, 2.0), (19, 100, 0.0, 3.0), (12, 100, 1.0, 3.0),
                       (19, 100, 1.0, 4.0)]}),
        ignore_polyphonic_notes=True)
    assert list(melody) == [19] + [NO_EVENT] * 3 + [19] + [NO_EVENT] * 11


def test_melody_starts_on_the_bar_of_its_first_note():
    melody = Melody()
    melody.from_quantized_sequence(quantized({0: [(12, 100, 1.5, 1.75), (11, 100, 2, 2.25)]}))
    assert list(melody) == [NO_EVENT] * 6 + [12, NOTE_OFF, 11]
    assert (melody.start_step, melody.end_step) == (0, 9)


def test_later_overlapping_note_cuts_the_earlier():
    melody = Melody()
    melody.from_quantized_sequence(
        quantized({0: [(12, 100, 1, 2), (11, 100, 3.25, 3.75), (13, 100, 2, 4)]}))
    assert list(melody) == [NO_EVENT] * 4 + [12, NO_EVENT, NO_EVENT, NO_EVENT, 13] + [
        NO_EVENT] * 4 + [11, NO_EVENT]


def test_search_start_step_sets_start_and_end_step():
    melody = Melody()
    melody.from_quantized_sequence(
        quantized({0: [(12, 100, 1, 2), (11, 100, 2.25, 2.5), (13, 100, 3.25, 3.75),
                       (14, 100, 8.75, 9), (15, 100, 9.25, 10.75)]}),
        search_start_step=18)
    assert list(melody) == [NO_EVENT, 14, NOTE_OFF, 15] + [NO_EVENT] * 5
    assert (melody.start_step, melody.end_step) == (34, 43)


def test_gap_of_a_bar_ends_the_melody_and_pad_end():
    # Steps at 1 step per quarter (4 per bar): note ends at 2, next starts at 6 -> gap 4.
    sequence = quantized({0: [(60, 100, 0, 2), (62, 100, 6, 7)]}, steps_per_quarter=1)
    melody = Melody()
    melody.from_quantized_sequence(sequence, gap_bars=1)
    assert list(melody) == [60, NO_EVENT]
    melody.from_quantized_sequence(sequence, gap_bars=1, pad_end=True)
    assert list(melody) == [60, NO_EVENT, NOTE_OFF, NO_EVENT]
    assert melody.end_step == 4
    melody.from_quantized_sequence(sequence, gap_bars=2)
    assert list(melody) == [60, NO_EVENT, NOTE_OFF, NO_EVENT, NO_EVENT, NO_EVENT, 62]


def test_drums_and_silent_notes_are_skipped_but_place_the_bar():
    sequence = quantized({0: [(50, 0, 0, 1), (60, 100, 5, 6), (62, 100, 6, 7)]},
                         steps_per_quarter=1)
    melody = Melody()
    melody.from_quantized_sequence(sequence)
    assert list(melody) == [NO_EVENT] * 5 + [60, 62]
    assert melody.start_step == 0
    drums = quantized({('drum', 0): [(36, 100, 0, 1)], 0: [(60, 100, 3, 4)]},
                      steps_per_quarter=1)
    melody.from_quantized_sequence(drums)
    assert list(melody) == [NO_EVENT] * 3 + [60]
    melody.from_quantized_sequence(drums, filter_drums=False)
    assert list(melody) == [36, NOTE_OFF, NO_EVENT, 60]


def test_slice_of_melody():
    melody = Melody()
    melody.from_quantized_sequence(
        quantized({0: [(12, 100, 1, 3), (11, 100, 5, 7), (13, 100, 9, 10)]},
                  steps_per_quarter=1))
    assert list(melody) == [NO_EVENT, 12, NO_EVENT, NOTE_OFF, NO_EVENT, 11, NO_EVENT, NOTE_OFF,
                            NO_EVENT, 13]
    part = melody[2:-1]
    assert isinstance(part, Melody)
    assert list(part) == [NO_EVENT, NO_EVENT, NO_EVENT, 11, NO_EVENT, NOTE_OFF, NO_EVENT]
    assert part.start_step == 2


# extract_melodies.

def _extract(tracks, **kwargs):
    return extract_melodies(quantized(tracks, steps_per_quarter=1), **kwargs)


def test_extract_melodies_simple_skips_drums():
    melodies, _ = _extract({0: [(12, 100, 2, 4), (11, 1, 6, 7)],
                            1: [(12, 127, 2, 4), (14, 50, 6, 9)],
                            ('drum', 9): [(13, 100, 2, 4), (15, 25, 6, 8)]},
                           min_bars=1, gap_bars=1, min_unique_pitches=2,
                           ignore_polyphonic_notes=True)
    assert all(isinstance(m, Melody) for m in melodies)
    assert sorted(list(m) for m in melodies) == [
        [NO_EVENT, NO_EVENT, 12, NO_EVENT, NOTE_OFF, NO_EVENT, 11],
        [NO_EVENT, NO_EVENT, 12, NO_EVENT, NOTE_OFF, NO_EVENT, 14, NO_EVENT, NO_EVENT]]
    assert all((m.steps_per_bar, m.steps_per_quarter) == (4, 1) for m in melodies)


def test_extract_melodies_like_melody_extractor():
    melodies, _ = _extract({0: [(12, 100, 2, 4), (11, 1, 6, 7)],
                            1: [(12, 127, 2, 4), (14, 50, 6, 8)]},
                           min_bars=1, max_steps_truncate=512, min_unique_pitches=1,
                           gap_bars=1, ignore_polyphonic_notes=False)
    expected = [Melody([NO_EVENT, NO_EVENT, 12, NO_EVENT, NOTE_OFF, NO_EVENT, 11],
                       steps_per_quarter=1, steps_per_bar=4),
                Melody([NO_EVENT, NO_EVENT, 12, NO_EVENT, NOTE_OFF, NO_EVENT, 14, NO_EVENT],
                       steps_per_quarter=1, steps_per_bar=4)]
    assert melodies == expected


def test_extract_several_melodies_from_one_track():
    melodies, _ = _extract({0: [(12, 100, 2, 4), (11, 1, 6, 11)],
                            1: [(12, 127, 2, 4), (14, 50, 6, 8), (50, 100, 33, 37),
                                (52, 100, 34, 37)]},
                           min_bars=1, gap_bars=2, min_unique_pitches=2,
                           ignore_polyphonic_notes=True)
    assert sorted(list(m) for m in melodies) == [
        [NO_EVENT, NO_EVENT, 12, NO_EVENT, NOTE_OFF, NO_EVENT, 11, NO_EVENT, NO_EVENT, NO_EVENT,
         NO_EVENT],
        [NO_EVENT, NO_EVENT, 12, NO_EVENT, NOTE_OFF, NO_EVENT, 14, NO_EVENT],
        [NO_EVENT, 50, 52, NO_EVENT, NO_EVENT]]
    third = [m for m in melodies if 50 in list(m)][0]
    assert (third.start_step, third.end_step) == (32, 37)


THREE_TRACKS = {0: [(12, 127, 2, 4), (14, 50, 6, 7)],
                1: [(12, 127, 2, 4), (14, 50, 6, 8)],
                2: [(12, 127, 2, 4), (14, 50, 6, 9)]}


def test_extract_melodies_too_short():
    melodies, stats = _extract(THREE_TRACKS, min_bars=2, gap_bars=1, min_unique_pitches=2,
                               ignore_polyphonic_notes=True)
    assert [list(m) for m in melodies] == [
        [NO_EVENT, NO_EVENT, 12, NO_EVENT, NOTE_OFF, NO_EVENT, 14, NO_EVENT],
        [NO_EVENT, NO_EVENT, 12, NO_EVENT, NOTE_OFF, NO_EVENT, 14, NO_EVENT, NO_EVENT]]
    assert {s.name: s for s in stats}['melodies_discarded_too_short'].count == 1


def test_extract_melodies_pad_end():
    melodies, _ = _extract(THREE_TRACKS, min_bars=1, gap_bars=1, min_unique_pitches=2,
                           ignore_polyphonic_notes=True, pad_end=True)
    assert [list(m) for m in melodies] == [
        [NO_EVENT, NO_EVENT, 12, NO_EVENT, NOTE_OFF, NO_EVENT, 14, NOTE_OFF],
        [NO_EVENT, NO_EVENT, 12, NO_EVENT, NOTE_OFF, NO_EVENT, 14, NO_EVENT],
        [NO_EVENT, NO_EVENT, 12, NO_EVENT, NOTE_OFF, NO_EVENT, 14, NO_EVENT, NO_EVENT, NOTE_OFF,
         NO_EVENT, NO_EVENT]]


LONG_TRACKS = {0: [(12, 127, 2, 4), (14, 50, 6, 15)], 1: [(12, 127, 2, 4), (14, 50, 6, 18)]}


def test_extract_melodies_too_long_truncated_and_discarded():
    melodies, stats = _extract(LONG_TRACKS, min_bars=1, max_steps_truncate=14,
                               max_steps_discard=18, gap_bars=1, min_unique_pitches=2,
                               ignore_polyphonic_notes=True)
    expected = [NO_EVENT, NO_EVENT, 12, NO_EVENT, NOTE_OFF, NO_EVENT, 14] + [NO_EVENT] * 7
    assert [list(m) for m in melodies] == [expected, expected]
    stats = {s.name: s for s in stats}
    assert stats['melodies_truncated'].count == 2
    assert stats['melodies_discarded_too_long'].count == 0


def test_extract_melodies_too_long_with_pad():
    melodies, stats = _extract(LONG_TRACKS, min_bars=1, max_steps_truncate=14,
                               max_steps_discard=18, gap_bars=1, min_unique_pitches=2,
                               ignore_polyphonic_notes=True, pad_end=True)
    # Padded to 20 steps, track 1 is over 18 and dropped; track 0 (16) is cut to 12.
    assert [list(m) for m in melodies] == [
        [NO_EVENT, NO_EVENT, 12, NO_EVENT, NOTE_OFF, NO_EVENT, 14] + [NO_EVENT] * 5]
    stats = {s.name: s for s in stats}
    assert stats['melodies_discarded_too_long'].count == 1
    assert stats['melodies_truncated'].count == 1


def test_extract_melodies_too_few_pitches():
    melodies, _ = _extract({0: [(12, 100, 0, 1), (13, 100, 1, 2), (18, 100, 2, 3),
                                (24, 100, 3, 4), (25, 100, 4, 5)],
                            1: [(12, 100, 0, 1), (13, 100, 1, 2), (18, 100, 2, 3),
                                (25, 100, 3, 4), (26, 100, 4, 5)]},
                           min_bars=1, gap_bars=1, min_unique_pitches=4,
                           ignore_polyphonic_notes=True)
    assert [list(m) for m in melodies] == [[12, 13, 18, 25, 26]]


def test_extract_melodies_late_start():
    melodies, _ = _extract({0: [(12, 100, 102, 103), (13, 100, 104, 106)],
                            1: [(12, 100, 100, 101), (13, 100, 102, 105)]},
                           min_bars=1, gap_bars=1, min_unique_pitches=2,
                           ignore_polyphonic_notes=True)
    assert sorted(list(m) for m in melodies) == [[NO_EVENT, NO_EVENT, 12, NOTE_OFF, 13, NO_EVENT],
                                                 [12, NOTE_OFF, 13, NO_EVENT, NO_EVENT]]
    assert sorted((m.start_step, m.end_step) for m in melodies) == [(100, 105), (100, 106)]


def test_extract_melodies_statistics():
    _, stats = _extract({0: [(12, 100, 2, 4), (11, 1, 6, 7), (10, 100, 8, 10), (9, 100, 11, 14),
                             (8, 100, 16, 40), (7, 100, 41, 42)],
                         1: [(12, 127, 2, 4), (14, 50, 2, 8)],
                         2: [(12, 127, 0, 1)],
                         3: [(12, 127, 2, 4), (12, 50, 6, 8)]},
                        min_bars=1, gap_bars=1, min_unique_pitches=2,
                        ignore_polyphonic_notes=False)
    stats = {s.name: s for s in stats}
    assert sorted(stats) == sorted([
        'polyphonic_tracks_discarded', 'melodies_discarded_too_short',
        'melodies_discarded_too_few_pitches', 'melodies_discarded_too_long',
        'melodies_truncated', 'melody_lengths_in_bars'])
    assert stats['polyphonic_tracks_discarded'].count == 1
    assert stats['melodies_discarded_too_short'].count == 1
    assert stats['melodies_discarded_too_few_pitches'].count == 1
    assert stats['melodies_discarded_too_long'].count == 0
    assert stats['melodies_truncated'].count == 0
    # Buckets [0,1,10,...,500] plus min_bars//2=0, min_bars=1, min_bars+1=2, min_bars-1=0.
    assert stats['melody_lengths_in_bars'].counters == {
        float('-inf'): 0, 0: 0, 1: 0, 2: 0, 10: 1, 20: 0, 30: 0, 40: 0, 50: 0, 100: 0, 200: 0,
        500: 0}


def test_extract_melodies_default_histogram_buckets():
    _, stats = extract_melodies(quantized({}))
    histogram = {s.name: s for s in stats}['melody_lengths_in_bars']
    assert histogram.buckets == [float('-inf'), 0, 1, 3, 6, 7, 8, 10, 20, 30, 40, 50, 100, 200,
                                 500]


def test_extract_melodies_non_integer_bar_raises():
    with pytest.raises(NonIntegerStepsPerBarError):
        extract_melodies(quantized({0: [(60, 100, 0, 1)]}, steps_per_quarter=1, numerator=7,
                                   denominator=8))


def test_note_histogram_is_numpy():
    assert isinstance(Melody([60]).get_note_histogram(), np.ndarray)
