"""Melody encodings: the one-hot melody classes and the key-aware attention_rnn encoder.

REFERENCE.md "Melody encoding", "Input and label sizes".
"""
from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np

from magenta_rnn.music import constants
from magenta_rnn.music.encoders import (DEFAULT_LOOKBACK_DISTANCES, EventSequenceEncoderDecoder,
                                        OneHotEncoding, binary_counters, position_range,
                                        repeat_mask)

NOTE_OFF = constants.MELODY_NOTE_OFF
NO_EVENT = constants.MELODY_NO_EVENT
NUM_SPECIAL = constants.NUM_SPECIAL_MELODY_EVENTS
OCTAVE = constants.NOTES_PER_OCTAVE


class MelodyOneHotEncoding(OneHotEncoding):
    """Classes: 0 NO_EVENT, 1 NOTE_OFF, 2 + (pitch - min_note) for pitches in [min, max)."""

    def __init__(self, min_note: int, max_note: int):
        if min_note < constants.MIN_MIDI_PITCH:
            raise ValueError(f'min_note must be >= 0. min_note is {min_note}.')
        if max_note > constants.MAX_MIDI_PITCH + 1:
            raise ValueError(f'max_note must be <= 128. max_note is {max_note}.')
        if max_note <= min_note:
            raise ValueError('max_note must be greater than min_note')
        self._min_note = min_note
        self._max_note = max_note

    @property
    def min_note(self) -> int:
        return self._min_note

    @property
    def max_note(self) -> int:
        return self._max_note

    @property
    def num_classes(self) -> int:
        return self._max_note - self._min_note + NUM_SPECIAL

    @property
    def default_event(self) -> int:
        return NO_EVENT

    def encode_event(self, event: int) -> int:
        if event < -NUM_SPECIAL:
            raise ValueError(f'invalid melody event value: {event}')
        if 0 <= event < self._min_note:
            raise ValueError(f'melody event less than min note: {event} < {self._min_note}')
        if event >= self._max_note:
            raise ValueError(f'melody event greater than max note: {event} >= {self._max_note}')
        if event < 0:
            return event + NUM_SPECIAL
        return event - self._min_note + NUM_SPECIAL

    def encode_events(self, events: Sequence[int]) -> np.ndarray:
        array = np.asarray(events, dtype=np.int64).reshape(-1)
        bad = (array < -NUM_SPECIAL) | ((array >= 0) & (array < self._min_note)) | (
            array >= self._max_note)
        if bad.any():
            self.encode_event(int(array[bad.argmax()]))  # Raises the one-event error.
        return np.where(array < 0, array + NUM_SPECIAL, array - self._min_note + NUM_SPECIAL)

    def decode_event(self, index: int) -> int:
        if index < NUM_SPECIAL:
            return index - NUM_SPECIAL
        return index - NUM_SPECIAL + self._min_note


# Pitch class -> major keys containing it, as 0/1 rows.
_KEY_MATRIX = np.zeros((OCTAVE, OCTAVE), dtype=np.int64)
for _pitch_class, _keys in enumerate(constants.NOTE_KEYS):
    _KEY_MATRIX[_pitch_class, list(_keys)] = 1
_KEY_ROWS = [tuple(int(v) for v in row) for row in _KEY_MATRIX]


def _max_key_flags(key_histogram: Sequence[int]) -> tuple[float, ...]:
    """1.0 for every key whose count equals the maximum (all keys when nothing counted)."""
    top = max(key_histogram)
    return tuple(1.0 if value == top else 0.0 for value in key_histogram)


# Up to this many positions per call, key flags come from the running pitch-class counts.
_FEW_POSITIONS = 4
_MAX_CACHED_STATES = 1024


@functools.lru_cache(maxsize=None)
def _recent_key_flags(pitch_classes: tuple[int, ...]) -> tuple[float, ...]:
    """Best-key flags of a melody made of these (sorted) pitch classes."""
    histogram = [0] * OCTAVE
    for pitch_class in pitch_classes:
        for key, inc in enumerate(_KEY_ROWS[pitch_class]):
            histogram[key] += inc
    return _max_key_flags(histogram)


class KeyMelodyEncoderDecoder(EventSequenceEncoderDecoder):
    """attention_rnn's melody encoding with key, contour and metric features (REFERENCE.md
    "Melody encoding").

    With R = max_note - min_note and L lookbacks, input (74 wide by default):
      [0,R) sounding pitch | R note on | R+1 silence | R+2 attack | R+3 contour (+1/-1/0)
      | L repeat flags | bits counters of n=p+1 | next step starts a bar
      | 12 best keys of the prefix | 12 best keys of the last three distinct pitches.
    Labels: 0..R-1 pitch, R NO_EVENT, R+1 NOTE_OFF, R+2+i repeat of lookback i.
    """

    def __init__(self, min_note: int, max_note: int,
                 lookback_distances: Sequence[int] | None = None, binary_counter_bits: int = 7):
        self._lookback_distances = list(DEFAULT_LOOKBACK_DISTANCES if lookback_distances is None
                                        else lookback_distances)
        self._binary_counter_bits = binary_counter_bits
        self._min_note = min_note
        self._note_range = max_note - min_note
        # id(events list) -> (length, events tuple, running state): see _prefix_features.
        self._states: dict[int, tuple] = {}

    @property
    def input_size(self) -> int:
        return (self._note_range + 2 + 1 + 1 + len(self._lookback_distances) +
                self._binary_counter_bits + 1 + OCTAVE + OCTAVE)

    @property
    def num_classes(self) -> int:
        return self._note_range + NUM_SPECIAL + len(self._lookback_distances)

    @property
    def default_event_label(self) -> int:
        return self._note_range

    @property
    def class_num_steps(self) -> np.ndarray:
        return np.ones(self.num_classes, dtype=np.int64)  # Every melody event is one step.

    def _prefix_features(self, events: Sequence[int], start: int, stop: int):
        """Running state after each of events[start..stop-1].

        Returns per position: sounding pitch (or None), attack, contour (+1/-1/0), the
        last-three-notes' best-key flags and the pitch-class counts of all note-ons so far
        (a copy, only when stop - start is small). Generation asks for the last position of
        a growing sequence at every step: the state reached by the previous call on the same
        list is reused (after checking its prefix is unchanged), so a step costs O(1), not O(T).
        """
        cached = self._states.get(id(events))
        if (cached is not None and cached[0] <= start
                and tuple(events[:cached[0]]) == cached[1]):
            position, state = cached[0], cached[2]
            current_note, is_attack, is_ascending, last_3_notes, recent_flags, counts = state
            last_3_notes, counts = list(last_3_notes), list(counts)
        else:
            position = 0
            current_note, is_attack, is_ascending = None, False, None
            last_3_notes, counts = [], [0] * OCTAVE
            recent_flags = _max_key_flags([0] * OCTAVE)
        want_counts = stop - start <= _FEW_POSITIONS
        notes, attacks, contours, recent_keys, all_counts = [], [], [], [], []
        for p in range(position, stop):
            event = events[p]
            if event == NO_EVENT:
                is_attack = False
            elif event == NOTE_OFF:
                current_note = None
            else:
                is_attack = True
                current_note = event
                counts[event % OCTAVE] += 1
                if last_3_notes:
                    if event > last_3_notes[-1]:
                        is_ascending = True
                    elif event < last_3_notes[-1]:
                        is_ascending = False
                    if event in last_3_notes:
                        last_3_notes.remove(event)
                last_3_notes.append(event)
                del last_3_notes[:-3]
                recent_flags = _recent_key_flags(
                    tuple(sorted(n % OCTAVE for n in last_3_notes)))
            if p < start:
                continue
            # The original tests `if current_note:`, so pitch 0 reads as silence.
            notes.append(current_note if current_note else None)
            attacks.append(is_attack)
            contours.append(0.0 if is_ascending is None else (1.0 if is_ascending else -1.0))
            recent_keys.append(recent_flags)
            if want_counts:
                all_counts.append(list(counts))
        if len(self._states) >= _MAX_CACHED_STATES:
            self._states.clear()
        self._states[id(events)] = (stop, tuple(events[:stop]), (
            current_note, is_attack, is_ascending, tuple(last_3_notes), recent_flags,
            tuple(counts)))
        return notes, attacks, contours, recent_keys, all_counts

    @staticmethod
    def _prefix_key_flags(events: Sequence[int], stop: int) -> np.ndarray:
        """[stop, 12]: 1.0 for each major key with the most note-ons in events[0..p]."""
        array = np.asarray(events[:stop], dtype=np.int64).reshape(-1)
        pitch_classes = np.zeros((len(array), OCTAVE), dtype=np.int64)
        note_ons = np.nonzero(array >= 0)[0]
        pitch_classes[note_ons, array[note_ons] % OCTAVE] = 1
        key_histograms = np.cumsum(pitch_classes, axis=0) @ _KEY_MATRIX
        return (key_histograms == key_histograms.max(axis=1, keepdims=True)).astype(np.float32)

    def events_to_inputs(self, events, start=0, stop=None):
        start, stop = position_range(len(events), start, stop)
        events_list = getattr(events, 'events', events)
        count = stop - start
        inputs = np.zeros((count, self.input_size), dtype=np.float32)
        if count == 0:
            return inputs
        notes, attacks, contours, recent_keys, counts = self._prefix_features(
            events_list, start, stop)
        note_range = self._note_range
        sounding = [(row, note - self._min_note)
                    for row, note in enumerate(notes) if note is not None]
        silent = np.array([note is None for note in notes])
        if sounding:
            sounding_rows, sounding_cols = zip(*sounding)
            # A column below 0 wraps to the row's end, as list indexing did in the original.
            inputs[list(sounding_rows), list(sounding_cols)] = 1.0
            inputs[list(sounding_rows), note_range] = 1.0
        inputs[silent, note_range + 1] = 1.0
        offset = note_range + 2
        inputs[:, offset] = attacks
        inputs[:, offset + 1] = contours
        offset += 2
        for distance in self._lookback_distances:
            inputs[:, offset] = repeat_mask(events_list, distance, start, stop)
            offset += 1
        positions = np.arange(start, stop)
        bits = self._binary_counter_bits
        inputs[:, offset:offset + bits] = binary_counters(positions, bits)
        offset += bits
        # The bar flag always uses 16 steps per bar, whatever the melody's meter.
        inputs[:, offset] = (positions + 1) % constants.DEFAULT_STEPS_PER_BAR == 0
        offset += 1
        if counts:
            key_histograms = np.asarray(counts, dtype=np.int64) @ _KEY_MATRIX
            inputs[:, offset:offset + OCTAVE] = (
                key_histograms == key_histograms.max(axis=1, keepdims=True))
        else:
            inputs[:, offset:offset + OCTAVE] = self._prefix_key_flags(events_list, stop)[start:]
        offset += OCTAVE
        inputs[:, offset:offset + OCTAVE] = np.array(recent_keys, dtype=np.float32)
        return inputs

    def events_to_labels(self, events, start=0, stop=None):
        start, stop = position_range(len(events), start, stop)
        events_list = getattr(events, 'events', events)
        array = np.asarray(events_list[start:stop], dtype=np.int64).reshape(-1)
        note_range = self._note_range
        labels = np.where(array == NOTE_OFF, note_range + 1,
                          np.where(array == NO_EVENT, note_range, array - self._min_note))
        for i, distance in enumerate(self._lookback_distances):
            labels[repeat_mask(events_list, distance, start, stop)] = note_range + 2 + i
        if self._lookback_distances:
            early = np.arange(start, stop) < self._lookback_distances[-1]
            labels[early & (array == NO_EVENT)] = note_range + len(self._lookback_distances) + 1
        return labels

    def class_index_to_event(self, class_index: int, events: Sequence[int]) -> int:
        for i in reversed(range(len(self._lookback_distances))):
            if class_index == self._note_range + 2 + i:
                distance = self._lookback_distances[i]
                if len(events) < distance:
                    return NO_EVENT
                return events[-distance]
        if class_index == self._note_range + 1:
            return NOTE_OFF
        if class_index == self._note_range:
            return NO_EVENT
        return self._min_note + class_index
