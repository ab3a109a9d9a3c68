"""Monophonic melodies as step sequences, and their extraction from NoteSequences (REFERENCE.md
"Melodies", "Melody extraction").

Events are ints in [-2, 127]: MELODY_NO_EVENT (-2) continues whatever is going
on, MELODY_NOTE_OFF (-1) starts silence, 0..127 starts a note of that pitch.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from magenta_rnn.music import constants
from magenta_rnn.music.events import (EventSequenceError, SimpleEventSequence,
                                      apply_length_rules, assert_is_relative_quantized,
                                      integer_steps_per_bar, lengths_in_bars_buckets)
from magenta_rnn.music import statistics

NOTE_OFF = constants.MELODY_NOTE_OFF
NO_EVENT = constants.MELODY_NO_EVENT
MIN_MELODY_EVENT = -2
MAX_MELODY_EVENT = 127

# KEY_MATRIX[p, k] = 1 when major key k contains pitch class p.
_KEY_MATRIX = np.zeros((constants.NOTES_PER_OCTAVE, constants.NOTES_PER_OCTAVE))
for _pitch_class, _keys in enumerate(constants.NOTE_KEYS):
    _KEY_MATRIX[_pitch_class, list(_keys)] = 1.0


class PolyphonicMelodyError(EventSequenceError):
    """Two notes of the melody's instrument start on the same step."""


class BadNoteError(EventSequenceError):
    """A note does not end after it starts."""


def _check_event(event: int) -> None:
    if not MIN_MELODY_EVENT <= event <= MAX_MELODY_EVENT:
        raise ValueError(f'Melody event out of range [-2, 127]: {event}')


class Melody(SimpleEventSequence):
    """A monophonic melody; see the module docstring for the event values.

    Any note still sounding at the end is implicitly turned off there.
    """

    def __init__(self, events: Iterable[int] | None = None, start_step: int = 0,
                 steps_per_bar: int = constants.DEFAULT_STEPS_PER_BAR,
                 steps_per_quarter: int = constants.DEFAULT_STEPS_PER_QUARTER):
        super().__init__(NO_EVENT, events, start_step, steps_per_bar, steps_per_quarter)

    def _clean_events(self, events: list[int]) -> list[int]:
        for event in events:
            _check_event(event)
        # Silence before the first note is plain filler: NOTE_OFF there becomes NO_EVENT.
        for i, event in enumerate(events):
            if event not in (NO_EVENT, NOTE_OFF):
                break
            events[i] = NO_EVENT
        return events

    def append(self, event: int) -> None:
        _check_event(event)
        super().append(event)

    def set_length(self, steps: int, from_left: bool = False) -> None:
        """Pads with NO_EVENT or truncates; growing on the right ends a sustained note."""
        old_length = len(self._events)
        super().set_length(steps, from_left=from_left)
        if steps > old_length and not from_left:
            for i in range(old_length - 1, -1, -1):
                if self._events[i] == NOTE_OFF:
                    break
                if self._events[i] != NO_EVENT:
                    self._events[old_length] = NOTE_OFF
                    break

    def increase_resolution(self, k: int, fill_event: Any = NO_EVENT) -> None:
        super().increase_resolution(k, fill_event=NO_EVENT)

    # Pitch statistics.
    def get_note_histogram(self) -> np.ndarray:
        """Counts of note-on pitch classes, C first (12 ints)."""
        pitches = np.asarray(self._events, dtype=np.int64)
        return np.bincount(pitches[pitches >= 0] % constants.NOTES_PER_OCTAVE,
                           minlength=constants.NOTES_PER_OCTAVE)

    def get_major_key_histogram(self) -> np.ndarray:
        """For each major key (C=0..B=11), how many note-ons fit that key's scale."""
        return self.get_note_histogram() @ _KEY_MATRIX

    def get_major_key(self) -> int:
        """The major key most note-ons fit; the lowest key wins ties."""
        return int(self.get_major_key_histogram().argmax())

    # Pitch changes.
    def transpose(self, transpose_amount: int, min_note: int = 0, max_note: int = 128) -> None:
        """Shifts every pitch, then octave-wraps it into [min_note, max_note)."""
        octave = constants.NOTES_PER_OCTAVE
        events = self._events
        for i, event in enumerate(events):
            if event < 0:
                continue
            pitch = event + transpose_amount
            if pitch < min_note:
                pitch = min_note + (pitch - min_note) % octave
            elif pitch >= max_note:
                pitch = max_note - octave + (pitch - max_note) % octave
            events[i] = pitch

    def squash(self, min_note: int, max_note: int, transpose_to_key: int | None = None) -> int:
        """Moves the melody into [min_note, max_note), into a key if asked; returns the shift.

        With a key, the shift moves the melody to that key and centres it in the range
        (nearest octave, Python round); every pitch is then octave-wrapped into range.
        """
        if transpose_to_key is None:
            amount = 0
        else:
            melody_key = self.get_major_key()
            key_diff = transpose_to_key - melody_key
            pitches = [e for e in self._events if 0 <= e <= constants.MAX_MIDI_PITCH]
            if not pitches:
                return 0
            melody_center = (min(pitches) + max(pitches)) / 2
            target_center = (min_note + max_note - 1) / 2
            center_diff = target_center - (melody_center + key_diff)
            amount = key_diff + constants.NOTES_PER_OCTAVE * int(
                round(center_diff / float(constants.NOTES_PER_OCTAVE)))
        self.transpose(amount, min_note, max_note)
        return amount

    # Conversion.
    def _add_note(self, pitch: int, start_index: int, end_index: int) -> None:
        """Writes a note at [start, end), dropping every event after `start` first."""
        if start_index >= end_index:
            raise BadNoteError(
                f'Start step does not precede end step: start={start_index}, end={end_index}')
        self.set_length(end_index + 1)
        events = self._events
        events[start_index] = pitch
        events[end_index] = NOTE_OFF
        events[start_index + 1:end_index] = [NO_EVENT] * (end_index - start_index - 1)

    def _last_on_off(self) -> tuple[int, int]:
        """Index of the last note-on, and of the NOTE_OFF after it (len if none)."""
        last_off = len(self._events)
        for i in range(len(self._events) - 1, -1, -1):
            event = self._events[i]
            if event == NOTE_OFF:
                last_off = i
            if event >= 0:
                return i, last_off
        raise ValueError('No events in the stream')

    def from_quantized_sequence(self, quantized_sequence: Any, search_start_step: int = 0,
                                instrument: int = 0, gap_bars: float = 1,
                                ignore_polyphonic_notes: bool = False, pad_end: bool = False,
                                filter_drums: bool = True) -> None:
        """Fills this melody from one instrument of a relative-quantized NoteSequence.

        The melody starts on the bar (counted from `search_start_step`) holding the
        first note at or after `search_start_step` and ends before the first silence
        of `gap_bars` bars or more. Notes starting together: the highest pitch is kept
        when `ignore_polyphonic_notes`, otherwise PolyphonicMelodyError (and the melody
        is left empty). A later overlapping note cuts the earlier one at its onset.

        Raises:
          NonIntegerStepsPerBarError: the bar is not a whole number of steps.
          PolyphonicMelodyError: see above.
        """
        assert_is_relative_quantized(quantized_sequence)
        self._reset()
        steps_per_bar = integer_steps_per_bar(quantized_sequence)
        self._steps_per_bar = steps_per_bar
        self._steps_per_quarter = quantized_sequence.quantization_info.steps_per_quarter

        notes = sorted((n for n in quantized_sequence.notes
                        if n.instrument == instrument and
                        n.quantized_start_step >= search_start_step),
                       key=lambda n: (n.quantized_start_step, -n.pitch))
        if not notes:
            return
        # As in the original, the bar is placed by the first note of the instrument
        # even when that note is a drum or has velocity 0 and is skipped below.
        first_start = notes[0].quantized_start_step
        melody_start = first_start - (first_start - search_start_step) % steps_per_bar
        gap_steps = gap_bars * steps_per_bar

        for note in notes:
            if filter_drums and note.is_drum:
                continue
            if not note.velocity:
                continue
            start_index = note.quantized_start_step - melody_start
            end_index = note.quantized_end_step - melody_start
            if not self._events:
                self._add_note(note.pitch, start_index, end_index)
                continue
            last_on, last_off = self._last_on_off()
            on_distance = start_index - last_on
            if on_distance == 0:
                if ignore_polyphonic_notes:
                    continue  # Sorted by descending pitch: the highest is already in.
                self._reset()
                raise PolyphonicMelodyError(
                    f'Two notes of instrument {instrument} start at step '
                    f'{note.quantized_start_step}')
            if on_distance < 0:
                raise PolyphonicMelodyError('Unexpected note. Not in ascending order.')
            if start_index - last_off >= gap_steps:
                break
            self._add_note(note.pitch, start_index, end_index)

        if not self._events:
            return
        self._start_step = melody_start
        if self._events[-1] == NOTE_OFF:
            del self._events[-1]
        length = len(self._events)
        if pad_end:
            length += -length % steps_per_bar
        self.set_length(length)

    def to_sequence(self, velocity: int = 100, instrument: int = 0, program: int = 0,
                    sequence_start_time: float = 0.0, qpm: float = 120.0):
        """A NoteSequence of this melody at `qpm`; a note held at the end closes there."""
        sequence, seconds_per_step, sequence_start_time = self._empty_note_sequence(
            qpm, sequence_start_time)
        current_note = None
        for step, event in enumerate(self._events):
            if 0 <= event <= constants.MAX_MIDI_PITCH:
                if current_note is not None:
                    current_note.end_time = step * seconds_per_step + sequence_start_time
                current_note = sequence.notes.add()
                current_note.start_time = step * seconds_per_step + sequence_start_time
                current_note.pitch = event
                current_note.velocity = velocity
                current_note.instrument = instrument
                current_note.program = program
            elif event == NOTE_OFF and current_note is not None:
                current_note.end_time = step * seconds_per_step + sequence_start_time
                current_note = None
        if current_note is not None:
            current_note.end_time = len(self._events) * seconds_per_step + sequence_start_time
        if sequence.notes:
            sequence.total_time = sequence.notes[-1].end_time
        return sequence


MELODY_STAT_NAMES = ('polyphonic_tracks_discarded', 'melodies_discarded_too_short',
                     'melodies_discarded_too_few_pitches', 'melodies_discarded_too_long',
                     'melodies_truncated')


def extract_melodies(quantized_sequence: Any, search_start_step: int = 0, min_bars: int = 7,
                     max_steps_truncate: int | None = None,
                     max_steps_discard: int | None = None, gap_bars: float = 1.0,
                     min_unique_pitches: int = 5, ignore_polyphonic_notes: bool = True,
                     pad_end: bool = False, filter_drums: bool = True
                     ) -> tuple[list[Melody], list[statistics.Statistic]]:
    """Every melody of every instrument of a relative-quantized NoteSequence (REFERENCE.md
    "Melody extraction").

    Each instrument is scanned melody after melody, each search starting on the bar
    after the previous melody. Melodies shorter than `min_bars` bars or longer than
    `max_steps_discard` are dropped, longer than `max_steps_truncate` cut (to a whole
    bar with pad_end), and those with fewer than `min_unique_pitches` pitch classes
    dropped. Returns (melodies, statistics).

    Raises:
      NonIntegerStepsPerBarError: the bar is not a whole number of steps.
    """
    assert_is_relative_quantized(quantized_sequence)
    stats = {name: statistics.Counter(name) for name in MELODY_STAT_NAMES}
    lengths_in_bars = statistics.Histogram(
        'melody_lengths_in_bars', lengths_in_bars_buckets(min_bars))
    steps_per_bar = integer_steps_per_bar(quantized_sequence)
    melodies: list[Melody] = []
    # The original walks a set of small ints, i.e. ascending order.
    for instrument in sorted(set(n.instrument for n in quantized_sequence.notes)):
        instrument_search_start = search_start_step
        while True:
            melody = Melody()
            try:
                melody.from_quantized_sequence(
                    quantized_sequence, instrument=instrument,
                    search_start_step=instrument_search_start, gap_bars=gap_bars,
                    ignore_polyphonic_notes=ignore_polyphonic_notes, pad_end=pad_end,
                    filter_drums=filter_drums)
            except PolyphonicMelodyError:
                stats['polyphonic_tracks_discarded'].increment()
                break
            # The next search starts on the next bar boundary at or after the end.
            instrument_search_start = (
                melody.end_step + (search_start_step - melody.end_step) % steps_per_bar)
            if not melody:
                break
            if not apply_length_rules(melody, min_bars, max_steps_discard, max_steps_truncate,
                                      pad_end, stats, 'melodies'):
                continue
            if np.count_nonzero(melody.get_note_histogram()) < min_unique_pitches:
                stats['melodies_discarded_too_few_pitches'].increment()
                continue
            lengths_in_bars.increment(len(melody) // melody.steps_per_bar)
            melodies.append(melody)
    return melodies, [*stats.values(), lengths_in_bars]
