"""DrumTrack and extract_drum_tracks (REFERENCE.md "Drum tracks", "Drum track extraction").

Cases ported from note_seq's drums_lib_test and magenta's drum_pipelines_test.
Sequences are written at 60 qpm in 4/4, so at 4 steps per quarter a second is 4
steps (a bar is 16), and at 1 step per quarter a second is 1 step (a bar is 4).
"""
import pytest

import builders
from magenta_rnn.music.drums import DrumTrack, extract_drum_tracks
from magenta_rnn.music.events import NonIntegerStepsPerBarError
from magenta_rnn.music.sequences import quantize_note_sequence


def DRUMS(*pitches):
    return frozenset(pitches)


NO_DRUMS = frozenset()


def sequence(tracks, numerator=4, denominator=4, is_drum=True):
    """A 60 qpm NoteSequence; tracks: {instrument: [(pitch, velocity, start_s, end_s)]}."""
    ns = builders.note_sequence(qpm=60.0, time_signature=(numerator, denominator),
                                ticks_per_quarter=220)
    for instrument, notes in tracks.items():
        pitched = isinstance(instrument, str)  # a pitched track on instrument 2
        builders.add_notes(ns, 2 if pitched else int(instrument), notes,
                           is_drum=is_drum and not pitched)
    return ns


# DrumTrack.from_quantized_sequence.

def test_from_quantized_sequence_groups_onsets_into_sets():
    ns = sequence({0: [(12, 100, 0.0, 10.0), (11, 55, 0.25, 0.50), (40, 45, 2.50, 3.50),
                       (55, 120, 4.0, 4.25), (60, 100, 4.0, 5.5), (52, 99, 4.75, 5.0)]})
    drums = DrumTrack()
    drums.from_quantized_sequence(quantize_note_sequence(ns, 4))
    assert list(drums) == [DRUMS(12), DRUMS(11)] + [NO_DRUMS] * 8 + [DRUMS(40)] + \
        [NO_DRUMS] * 5 + [DRUMS(55, 60), NO_DRUMS, NO_DRUMS, DRUMS(52)]
    assert drums.steps_per_bar == 16
    assert (drums.start_step, drums.end_step) == (0, 20)


def test_from_quantized_sequence_merges_drum_instruments_and_skips_pitched_notes():
    ns = sequence({0: [(12, 100, 0, 10), (40, 45, 2.5, 3.5), (60, 100, 4, 5.5)],
                   1: [(11, 55, .25, .5), (55, 120, 4, 4.25), (52, 99, 4.75, 5)],
                   'pitched': [(13, 100, 0, 10), (14, 45, 2.5, 3.5), (15, 100, 4, 5.5)]})
    drums = DrumTrack()
    drums.from_quantized_sequence(quantize_note_sequence(ns, 4))
    assert list(drums) == [DRUMS(12), DRUMS(11)] + [NO_DRUMS] * 8 + [DRUMS(40)] + \
        [NO_DRUMS] * 5 + [DRUMS(55, 60), NO_DRUMS, NO_DRUMS, DRUMS(52)]
    # ignore_is_drum takes the pitched notes too.
    drums.from_quantized_sequence(quantize_note_sequence(ns, 4), ignore_is_drum=True)
    assert drums[0] == DRUMS(12, 13) and drums[10] == DRUMS(14, 40)


def test_from_quantized_sequence_7_8_time():
    ns = sequence({0: [(12, 100, 0, 10), (11, 55, .25, .5), (40, 45, 2.5, 3.5),
                       (30, 80, 2.5, 2.75), (55, 120, 4, 4.25), (52, 99, 4.75, 5)]},
                  numerator=7, denominator=8)
    drums = DrumTrack()
    drums.from_quantized_sequence(quantize_note_sequence(ns, 4))
    assert list(drums) == [DRUMS(12), DRUMS(11)] + [NO_DRUMS] * 8 + [DRUMS(30, 40)] + \
        [NO_DRUMS] * 5 + [DRUMS(55), NO_DRUMS, NO_DRUMS, DRUMS(52)]
    assert drums.steps_per_bar == 14


def test_leading_empty_steps_are_kept_within_the_first_bar():
    ns = sequence({0: [(12, 100, 1.5, 1.75), (11, 100, 2, 2.25)]})
    drums = DrumTrack()
    drums.from_quantized_sequence(quantize_note_sequence(ns, 4))
    assert list(drums) == [NO_DRUMS] * 6 + [DRUMS(12), NO_DRUMS, DRUMS(11)]


def test_steps_per_bar_from_time_signature_and_non_integer_bar():
    drums = DrumTrack()
    drums.from_quantized_sequence(
        quantize_note_sequence(sequence({}, numerator=7, denominator=8), 12))
    assert drums.steps_per_bar == 42
    with pytest.raises(NonIntegerStepsPerBarError):
        drums.from_quantized_sequence(
            quantize_note_sequence(sequence({}, numerator=7, denominator=8), 1))


def test_search_start_step_places_the_track_on_a_bar():
    ns = sequence({0: [(12, 100, 1, 2), (11, 100, 2.25, 2.5), (13, 100, 3.25, 3.75),
                       (14, 100, 8.75, 9), (15, 100, 9.25, 10.75)]})
    drums = DrumTrack()
    drums.from_quantized_sequence(quantize_note_sequence(ns, 4), search_start_step=18)
    assert list(drums) == [NO_DRUMS, DRUMS(14), NO_DRUMS, DRUMS(15)]
    assert (drums.start_step, drums.end_step) == (34, 38)


def test_zero_velocity_notes_are_skipped():
    ns = sequence({0: [(36, 0, 0, 0.25), (38, 90, 0.5, 0.75)]})
    drums = DrumTrack()
    drums.from_quantized_sequence(quantize_note_sequence(ns, 4))
    assert list(drums) == [NO_DRUMS, NO_DRUMS, DRUMS(38)]


# Editing and conversion.

def test_set_length_pads_and_truncates():
    drums = DrumTrack([DRUMS(60)], start_step=9)
    drums.set_length(5)
    assert list(drums) == [DRUMS(60)] + [NO_DRUMS] * 4
    assert (drums.start_step, drums.end_step) == (9, 14)
    drums = DrumTrack([DRUMS(60)], start_step=9)
    drums.set_length(5, from_left=True)
    assert list(drums) == [NO_DRUMS] * 4 + [DRUMS(60)]
    assert (drums.start_step, drums.end_step) == (5, 10)
    drums = DrumTrack([DRUMS(60), NO_DRUMS, NO_DRUMS, NO_DRUMS])
    drums.set_length(3, from_left=True)
    assert list(drums) == [NO_DRUMS] * 3
    assert (drums.start_step, drums.end_step) == (1, 4)


def test_invalid_events_are_refused():
    with pytest.raises(ValueError):
        DrumTrack([{36}])
    with pytest.raises(ValueError):
        DrumTrack().append(DRUMS(128))


def test_increase_resolution_fills_with_silence():
    drums = DrumTrack([DRUMS(36), DRUMS(38)], start_step=2, steps_per_bar=8,
                      steps_per_quarter=2)
    drums.increase_resolution(2)
    assert list(drums) == [DRUMS(36), NO_DRUMS, DRUMS(38), NO_DRUMS]
    assert (drums.start_step, drums.steps_per_bar, drums.steps_per_quarter) == (4, 16, 4)


def test_to_sequence():
    drums = DrumTrack([NO_DRUMS, DRUMS(1, 2), NO_DRUMS, NO_DRUMS, NO_DRUMS, DRUMS(2),
                       DRUMS(3), NO_DRUMS, NO_DRUMS])
    ns = drums.to_sequence(velocity=10, sequence_start_time=2, qpm=60.0)
    assert ns.ticks_per_quarter == 220 and ns.tempos[0].qpm == 60.0
    assert ns.total_time == 3.75
    assert [(n.pitch, n.velocity, n.instrument, n.start_time, n.end_time, n.is_drum)
            for n in ns.notes] == [(1, 10, 9, 2.25, 2.5, True), (2, 10, 9, 2.25, 2.5, True),
                                   (2, 10, 9, 3.25, 3.5, True), (3, 10, 9, 3.5, 3.75, True)]


# extract_drum_tracks (1 step per quarter: a bar is 4 steps).

def extract(tracks, **kwargs):
    return extract_drum_tracks(quantize_note_sequence(sequence(tracks), 1), **kwargs)


def test_extract_simple_track_with_stats():
    tracks, stats = extract({0: [(12, 100, 2, 4), (11, 1, 6, 7)],
                             1: [(12, 127, 2, 4), (14, 50, 6, 9)]}, min_bars=1, gap_bars=1)
    assert [list(t) for t in tracks] == [
        [NO_DRUMS, NO_DRUMS, DRUMS(12), NO_DRUMS, NO_DRUMS, NO_DRUMS, DRUMS(11, 14)]]
    assert isinstance(tracks[0], DrumTrack)
    by_name = {s.name: s for s in stats}
    assert sorted(by_name) == ['drum_track_lengths_in_bars', 'drum_tracks_discarded_too_long',
                               'drum_tracks_discarded_too_short', 'drum_tracks_truncated']
    assert by_name['drum_track_lengths_in_bars'].counters[1] == 1  # 7 steps = 1 bar


def test_extract_multiple_tracks_after_a_gap():
    tracks, _ = extract({0: [(12, 100, 2, 4), (11, 1, 6, 11)],
                         1: [(12, 127, 2, 4), (14, 50, 6, 8), (50, 100, 33, 37),
                             (52, 100, 37, 38)]}, min_bars=1, gap_bars=2)
    assert sorted(list(t) for t in tracks) == [
        [NO_DRUMS, NO_DRUMS, DRUMS(12), NO_DRUMS, NO_DRUMS, NO_DRUMS, DRUMS(11, 14)],
        [NO_DRUMS, DRUMS(50), NO_DRUMS, NO_DRUMS, NO_DRUMS, DRUMS(52)]]
    assert sorted(t.start_step for t in tracks) == [0, 32]


def test_extract_too_short():
    tracks, stats = extract({0: [(12, 127, 3, 4), (14, 50, 6, 7)]}, min_bars=2, gap_bars=1)
    assert tracks == []
    assert {s.name: s for s in stats}['drum_tracks_discarded_too_short'].count == 1
    tracks, _ = extract({0: [(12, 127, 3, 4), (14, 50, 7, 8)]}, min_bars=2, gap_bars=1)
    assert [list(t) for t in tracks] == [[NO_DRUMS] * 3 + [DRUMS(12)] + [NO_DRUMS] * 3 +
                                         [DRUMS(14)]]


def test_extract_pad_end():
    tracks, _ = extract({0: [(12, 127, 2, 4), (14, 50, 6, 7)],
                         1: [(12, 127, 2, 4), (15, 50, 6, 8)],
                         2: [(12, 127, 2, 4), (16, 50, 8, 9)]}, min_bars=1, gap_bars=1,
                        pad_end=True)
    assert [list(t) for t in tracks] == [
        [NO_DRUMS, NO_DRUMS, DRUMS(12), NO_DRUMS, NO_DRUMS, NO_DRUMS, DRUMS(14, 15), NO_DRUMS,
         DRUMS(16), NO_DRUMS, NO_DRUMS, NO_DRUMS]]


def test_extract_truncate_and_discard_long_tracks():
    notes = {0: [(12, 127, 2, 4), (14, 50, 6, 15), (14, 50, 10, 15), (16, 100, 14, 19)]}
    tracks, stats = extract(notes, min_bars=1, max_steps_truncate=14, gap_bars=1)
    assert [list(t) for t in tracks] == [
        [NO_DRUMS, NO_DRUMS, DRUMS(12), NO_DRUMS, NO_DRUMS, NO_DRUMS, DRUMS(14), NO_DRUMS,
         NO_DRUMS, NO_DRUMS, DRUMS(14), NO_DRUMS, NO_DRUMS, NO_DRUMS]]
    assert {s.name: s for s in stats}['drum_tracks_truncated'].count == 1
    notes[0].append((14, 100, 18, 19))
    tracks, stats = extract(notes, min_bars=1, max_steps_discard=18, gap_bars=1)
    assert tracks == []
    assert {s.name: s for s in stats}['drum_tracks_discarded_too_long'].count == 1


def test_extract_late_start():
    tracks, _ = extract({0: [(12, 100, 102, 103), (13, 100, 104, 106)]}, min_bars=1,
                        gap_bars=1)
    assert [list(t) for t in tracks] == [[NO_DRUMS, NO_DRUMS, DRUMS(12), NO_DRUMS, DRUMS(13)]]
    assert tracks[0].start_step == 100
