"""Drum tracks: one frozenset of MIDI drum pitches per step (REFERENCE.md "Drum tracks",
"Drum track extraction").

The empty set is silence and also the pad event. Drum notes have no duration: a
drum track only records at which steps which drums are struck.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from magenta_rnn.music import constants
from magenta_rnn.music.events import (SimpleEventSequence, apply_length_rules,
                                      assert_is_relative_quantized, lengths_in_bars_buckets,
                                      integer_steps_per_bar)
from magenta_rnn.music import statistics

SILENCE: frozenset = frozenset()


def _check_event(event: Any) -> None:
    if not isinstance(event, frozenset):
        raise ValueError(f'Invalid drum event: {event!r} (a frozenset of pitches is needed)')
    if not all(constants.MIN_MIDI_PITCH <= pitch <= constants.MAX_MIDI_PITCH for pitch in event):
        raise ValueError(f'Drum event contains invalid note: {set(event)!r}')


class DrumTrack(SimpleEventSequence):
    """A quantized stream of drum hits, starting on a bar boundary of its source."""

    def __init__(self, events: Iterable[frozenset] | None = None, start_step: int = 0,
                 steps_per_bar: int = constants.DEFAULT_STEPS_PER_BAR,
                 steps_per_quarter: int = constants.DEFAULT_STEPS_PER_QUARTER):
        super().__init__(SILENCE, events, start_step, steps_per_bar, steps_per_quarter)

    def _clean_events(self, events: list[frozenset]) -> list[frozenset]:
        for event in events:
            _check_event(event)
        return events

    def append(self, event: frozenset) -> None:
        _check_event(event)
        super().append(event)

    def increase_resolution(self, k: int, fill_event: Any = SILENCE) -> None:
        super().increase_resolution(k, fill_event=SILENCE)

    def from_quantized_sequence(self, quantized_sequence: Any, search_start_step: int = 0,
                                gap_bars: float = 1, pad_end: bool = False,
                                ignore_is_drum: bool = False) -> None:
        """Fills this track from the drum notes of a relative-quantized NoteSequence.

        All instruments are merged. Notes with velocity 0, notes before
        `search_start_step`, and (unless `ignore_is_drum`) non-drum notes are skipped.
        The track starts on the bar (counted from `search_start_step`) holding the first
        kept note, and ends before the first silence of `gap_bars` bars or more.

        Raises:
          NonIntegerStepsPerBarError: the bar is not a whole number of steps.
        """
        assert_is_relative_quantized(quantized_sequence)
        self._reset()
        steps_per_bar = integer_steps_per_bar(quantized_sequence)
        self._steps_per_bar = steps_per_bar
        self._steps_per_quarter = quantized_sequence.quantization_info.steps_per_quarter

        pitches_by_step: dict[int, set[int]] = defaultdict(set)
        for note in quantized_sequence.notes:
            if ((note.is_drum or ignore_is_drum) and note.velocity
                    and note.quantized_start_step >= search_start_step):
                pitches_by_step[note.quantized_start_step].add(note.pitch)
        if not pitches_by_step:
            return
        steps = sorted(pitches_by_step)
        track_start = steps[0] - (steps[0] - search_start_step) % steps_per_bar
        gap_steps = gap_bars * steps_per_bar
        next_free_index = 0  # One past the last struck step.
        for step in steps:
            index = step - track_start
            if self._events and index - next_free_index >= gap_steps:
                break
            self.set_length(index + 1)
            self._events[index] = frozenset(pitches_by_step[step])
            next_free_index = index + 1

        self._start_step = track_start
        length = len(self._events)
        if pad_end:
            length += -length % steps_per_bar
        self.set_length(length)

    def to_sequence(self, velocity: int = 100, instrument: int = 9, program: int = 0,
                    sequence_start_time: float = 0.0, qpm: float = 120.0):
        """A NoteSequence at `qpm`: every hit is a one-step drum note."""
        sequence, seconds_per_step, sequence_start_time = self._empty_note_sequence(
            qpm, sequence_start_time)
        for step, event in enumerate(self._events):
            for pitch in event:
                note = sequence.notes.add()
                note.start_time = step * seconds_per_step + sequence_start_time
                note.end_time = (step + 1) * seconds_per_step + sequence_start_time
                note.pitch = pitch
                note.velocity = velocity
                note.instrument = instrument
                note.program = program
                note.is_drum = True
        if sequence.notes:
            sequence.total_time = sequence.notes[-1].end_time
        return sequence


DRUM_TRACK_STAT_NAMES = ('drum_tracks_discarded_too_short', 'drum_tracks_discarded_too_long',
                         'drum_tracks_truncated')


def extract_drum_tracks(quantized_sequence: Any, search_start_step: int = 0, min_bars: int = 7,
                        max_steps_truncate: int | None = None,
                        max_steps_discard: int | None = None, gap_bars: float = 1.0,
                        pad_end: bool = False, ignore_is_drum: bool = False
                        ) -> tuple[list[DrumTrack], list[statistics.Statistic]]:
    """Every drum track of a relative-quantized NoteSequence (REFERENCE.md "Drum track extraction").

    Tracks are taken one after another from the merged drum notes, each search
    starting on the bar after the previous track. Tracks shorter than `min_bars` bars
    or longer than `max_steps_discard` steps are dropped; longer than
    `max_steps_truncate` are cut (to a whole bar with pad_end). Returns (tracks, stats).

    Raises:
      NonIntegerStepsPerBarError: the bar is not a whole number of steps.
    """
    assert_is_relative_quantized(quantized_sequence)
    stats = {name: statistics.Counter(name) for name in DRUM_TRACK_STAT_NAMES}
    lengths_in_bars = statistics.Histogram(
        'drum_track_lengths_in_bars', lengths_in_bars_buckets(min_bars))
    steps_per_bar = integer_steps_per_bar(quantized_sequence)
    drum_tracks: list[DrumTrack] = []
    while True:
        drum_track = DrumTrack()
        drum_track.from_quantized_sequence(
            quantized_sequence, search_start_step=search_start_step, gap_bars=gap_bars,
            pad_end=pad_end, ignore_is_drum=ignore_is_drum)
        # The next search starts on the next bar boundary at or after the end.
        search_start_step = (
            drum_track.end_step + (search_start_step - drum_track.end_step) % steps_per_bar)
        if not drum_track:
            break
        if not apply_length_rules(drum_track, min_bars, max_steps_discard, max_steps_truncate,
                                  pad_end, stats, 'drum_tracks'):
            continue
        lengths_in_bars.increment(len(drum_track) // drum_track.steps_per_bar)
        drum_tracks.append(drum_track)
    return drum_tracks, [*stats.values(), lengths_in_bars]
