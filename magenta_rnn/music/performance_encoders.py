"""Performance encodings (REFERENCE.md "Performance encoding", "Input and label sizes").

* `PerformanceOneHotEncoding`: NOTE_ON, NOTE_OFF, TIME_SHIFT (and VELOCITY) ranges
  laid back to back: 356 classes, or 388 with 32 velocity bins.
* `ModuloPerformanceEventSequenceEncoderDecoder`: a 16-wide circular input embedding,
  one-hot labels.
* `NotePerformanceEventSequenceEncoderDecoder`: six heads per note tuple.

Sequence-level work is vectorised: events become (type, value) int arrays once,
and inputs are filled by fancy indexing.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from magenta_rnn.music import constants
from magenta_rnn.music.encoders import (EventSequenceEncoderDecoder, OneHotEncoding,
                                        OneHotEventSequenceEncoderDecoder,
                                        OneHotIndexEventSequenceEncoderDecoder, events_slice,
                                        position_range)
from magenta_rnn.music.performances import PerformanceEvent, performance_event_arrays

NOTE_ON = PerformanceEvent.NOTE_ON
NOTE_OFF = PerformanceEvent.NOTE_OFF
TIME_SHIFT = PerformanceEvent.TIME_SHIFT
VELOCITY = PerformanceEvent.VELOCITY
DURATION = PerformanceEvent.DURATION
_NUM_TYPES = 6  # Type ids are 1..5; index 0 unused.


class PerformanceOneHotEncoding(OneHotEncoding):
    """Back-to-back ranges: NOTE_ON(min..max), NOTE_OFF(min..max), TIME_SHIFT(1..max_shift),
    then VELOCITY(1..bins) when bins > 0. The default event is TIME_SHIFT(max_shift)."""

    def __init__(self, num_velocity_bins: int = 0,
                 max_shift_steps: int = constants.DEFAULT_MAX_SHIFT_STEPS,
                 min_pitch: int = constants.MIN_MIDI_PITCH,
                 max_pitch: int = constants.MAX_MIDI_PITCH):
        self._event_ranges = [(NOTE_ON, min_pitch, max_pitch), (NOTE_OFF, min_pitch, max_pitch),
                              (TIME_SHIFT, 1, max_shift_steps)]
        if num_velocity_bins > 0:
            self._event_ranges.append((VELOCITY, 1, num_velocity_bins))
        self._max_shift_steps = max_shift_steps
        # Per type id: first class index, lowest and highest value (-1 = not encoded).
        self._offsets = np.full(_NUM_TYPES, -1, dtype=np.int64)
        self._min_values = np.zeros(_NUM_TYPES, dtype=np.int64)
        self._max_values = np.full(_NUM_TYPES, -1, dtype=np.int64)
        offset = 0
        for event_type, min_value, max_value in self._event_ranges:
            self._offsets[event_type] = offset
            self._min_values[event_type] = min_value
            self._max_values[event_type] = max_value
            offset += max_value - min_value + 1
        self._num_classes = offset
        # class index -> (type, value), and the steps each class lasts.
        self._class_types = np.zeros(offset, dtype=np.int64)
        self._class_values = np.zeros(offset, dtype=np.int64)
        for event_type, min_value, max_value in self._event_ranges:
            start = self._offsets[event_type]
            self._class_types[start:start + max_value - min_value + 1] = event_type
            self._class_values[start:start + max_value - min_value + 1] = np.arange(
                min_value, max_value + 1)
        self._class_num_steps = np.where(self._class_types == TIME_SHIFT, self._class_values, 0)

    @property
    def num_classes(self) -> int:
        return self._num_classes

    @property
    def max_shift_steps(self) -> int:
        return self._max_shift_steps

    @property
    def default_event(self) -> PerformanceEvent:
        return PerformanceEvent(TIME_SHIFT, self._max_shift_steps)

    def encode_event(self, event: PerformanceEvent) -> int:
        return int(self.encode_arrays(np.array([event.event_type]),
                                      np.array([event.event_value]))[0])

    def encode_arrays(self, types: np.ndarray, values: np.ndarray) -> np.ndarray:
        """Class indices of events given as (type, value) arrays; ValueError if not encodable."""
        types = np.asarray(types, dtype=np.int64)
        values = np.asarray(values, dtype=np.int64)
        valid_type = (types >= 0) & (types < _NUM_TYPES)
        safe_types = np.where(valid_type, types, 0)
        offsets = self._offsets[safe_types]
        bad = ~valid_type | (offsets < 0)
        if bad.any():
            raise ValueError(f'Unknown event type: {int(types[bad.argmax()])}')
        bad = (values < self._min_values[safe_types]) | (values > self._max_values[safe_types])
        if bad.any():
            i = int(bad.argmax())
            raise ValueError(f'Event value out of range: type {int(types[i])} value '
                             f'{int(values[i])}')
        return offsets + values - self._min_values[safe_types]

    def encode_events(self, events: Sequence[PerformanceEvent]) -> np.ndarray:
        return self.encode_arrays(*performance_event_arrays(events))

    def decode_event(self, index: int) -> PerformanceEvent:
        if not 0 <= index < self._num_classes:
            raise ValueError(f'Unknown event index: {index}')
        return PerformanceEvent(int(self._class_types[index]), int(self._class_values[index]))

    def event_to_num_steps(self, event: PerformanceEvent) -> int:
        return event.event_value if event.event_type == TIME_SHIFT else 0

    @property
    def class_num_steps(self) -> np.ndarray:
        """Steps per class index: the shift for TIME_SHIFT classes, else 0."""
        return self._class_num_steps.copy()


MODULO_PITCH_ENCODER_WIDTH = 5
MODULO_VELOCITY_ENCODER_WIDTH = 3
MODULO_TIME_SHIFT_ENCODER_WIDTH = 3


class ModuloPerformanceEventSequenceEncoderDecoder(OneHotEventSequenceEncoderDecoder):
    """Circular ("modulo") inputs, one-hot labels (REFERENCE.md "Performance encoding").

    Input blocks, each starting with a 1.0 valid flag for its event type:
    NOTE_ON [0..4] and NOTE_OFF [5..9]: cos/sin of pitch*pi/72, cos/sin of (pitch%12)*pi/6;
    TIME_SHIFT [10..12]: cos/sin of (shift-1)*2pi/max_shift;
    VELOCITY [13..15]: cos/sin of (bin-1)*2pi/bins (only with velocity bins).
    Labels, classes and decoding are the one-hot encoder's.
    """

    _one_hot_encoding: PerformanceOneHotEncoding

    def __init__(self, num_velocity_bins: int = 0,
                 max_shift_steps: int = constants.DEFAULT_MAX_SHIFT_STEPS):
        super().__init__(PerformanceOneHotEncoding(num_velocity_bins=num_velocity_bins,
                                                   max_shift_steps=max_shift_steps))
        self._num_velocity_bins = num_velocity_bins
        self._max_shift_steps = max_shift_steps
        self._input_size = (2 * MODULO_PITCH_ENCODER_WIDTH + MODULO_TIME_SHIFT_ENCODER_WIDTH +
                            (MODULO_VELOCITY_ENCODER_WIDTH if num_velocity_bins > 0 else 0))
        # The original computes (float(i) * pi) / 72.0; keep that rounding order.
        self._note_table = np.array([[math.cos(float(i) * math.pi / 72.0),
                                      math.sin(float(i) * math.pi / 72.0)] for i in range(144)])
        self._pitch_class_table = np.array(
            [[math.cos(float(i) * math.pi / 6.0), math.sin(float(i) * math.pi / 6.0)]
             for i in range(constants.NOTES_PER_OCTAVE)])
        self._time_shift_table = np.array(
            [[math.cos(float(i) * 2.0 * math.pi / float(max_shift_steps)),
              math.sin(float(i) * 2.0 * math.pi / float(max_shift_steps))]
             for i in range(max_shift_steps)]).reshape(-1, 2)
        self._velocity_table = np.array(
            [[math.cos(float(i) * 2.0 * math.pi / float(num_velocity_bins)),
              math.sin(float(i) * 2.0 * math.pi / float(num_velocity_bins))]
             for i in range(num_velocity_bins)]).reshape(-1, 2)

    @property
    def input_size(self) -> int:
        return self._input_size

    @property
    def class_num_steps(self) -> np.ndarray:
        return self._one_hot_encoding.class_num_steps

    def events_to_input(self, events, position):
        return self.events_to_inputs(events, position, position + 1)[0].tolist()

    def events_to_inputs(self, events, start=0, stop=None):
        start, stop = position_range(len(events), start, stop)
        types, values = performance_event_arrays(events_slice(events, start, stop))
        count = len(types)
        inputs = np.zeros((count, self._input_size), dtype=np.float64)
        rows = np.arange(count)
        for event_type, offset in ((NOTE_ON, 0), (NOTE_OFF, MODULO_PITCH_ENCODER_WIDTH)):
            mask = types == event_type
            pitches = values[mask]
            if ((pitches < 0) | (pitches >= 128)).any():
                raise ValueError(f'Unexpected note value in {pitches.tolist()}')
            inputs[mask, offset] = 1.0
            inputs[mask, offset + 1:offset + 3] = self._note_table[pitches]
            inputs[mask, offset + 3:offset + 5] = self._pitch_class_table[pitches % 12]
        shift_offset = 2 * MODULO_PITCH_ENCODER_WIDTH
        mask = types == TIME_SHIFT
        shifts = values[mask] - 1
        if ((shifts < 0) | (shifts >= self._max_shift_steps)).any():
            raise ValueError(f'Unexpected time shift value in {(shifts + 1).tolist()}')
        inputs[mask, shift_offset] = 1.0
        inputs[mask, shift_offset + 1:shift_offset + 3] = self._time_shift_table[shifts]
        known = (types == NOTE_ON) | (types == NOTE_OFF) | mask
        if self._num_velocity_bins > 0:
            velocity_offset = shift_offset + MODULO_TIME_SHIFT_ENCODER_WIDTH
            mask = types == VELOCITY
            bins = values[mask] - 1
            if ((bins < 0) | (bins >= self._num_velocity_bins)).any():
                raise ValueError(f'Unexpected velocity value in {(bins + 1).tolist()}')
            inputs[mask, velocity_offset] = 1.0
            inputs[mask, velocity_offset + 1:velocity_offset + 3] = self._velocity_table[bins]
            known |= mask
        if not known.all():
            raise ValueError(f'Unknown event type: {int(types[rows[~known][0]])}')
        return inputs.astype(np.float32)

    def labels_to_num_steps(self, labels):
        return int(sum(self._one_hot_encoding.class_num_steps[int(label)] for label in labels))


def _optimal_num_segments(steps: int) -> int:
    """The divisor i of `steps` minimising i + steps/i (the first wins ties)."""
    candidates = [(i, i + steps / i) for i in range(1, steps) if steps % i == 0]
    return min(candidates, key=lambda candidate: candidate[1])[0]


class NotePerformanceEventSequenceEncoderDecoder(EventSequenceEncoderDecoder):
    """Six one-hot heads per note tuple (REFERENCE.md "Performance encoding").

    Label = (shift // per_segment, shift % per_segment, pitch - min_pitch, velocity_bin - 1,
             (duration-1) // per_segment, (duration-1) % per_segment);
    with defaults and 32 bins, num_classes = [13, 77, 128, 32, 25, 40], input size 315.
    """

    def __init__(self, num_velocity_bins: int, max_shift_steps: int = 1000,
                 max_duration_steps: int = 1000, min_pitch: int = constants.MIN_MIDI_PITCH,
                 max_pitch: int = constants.MAX_MIDI_PITCH):
        self._min_pitch = min_pitch
        self._shift_steps_segments = _optimal_num_segments(max_shift_steps + 1)
        if self._shift_steps_segments <= 1:
            raise ValueError(f'max_shift_steps + 1 = {max_shift_steps + 1} must not be prime')
        self._shift_steps_per_segment = (max_shift_steps + 1) // self._shift_steps_segments
        self._max_duration_steps = max_duration_steps
        self._duration_steps_segments = _optimal_num_segments(max_duration_steps)
        if self._duration_steps_segments <= 1:
            raise ValueError(f'max_duration_steps = {max_duration_steps} must not be prime')
        self._duration_steps_per_segment = max_duration_steps // self._duration_steps_segments
        self._num_classes = [self._shift_steps_segments, self._shift_steps_per_segment,
                             max_pitch - min_pitch + 1, num_velocity_bins,
                             self._duration_steps_segments, self._duration_steps_per_segment]
        self._head_offsets = np.cumsum([0] + self._num_classes[:-1])

    @property
    def input_size(self) -> int:
        return sum(self._num_classes)

    @property
    def num_classes(self) -> list[int]:  # type: ignore[override]  # one count per head
        return list(self._num_classes)

    @property
    def shift_steps_segments(self) -> int:
        return self._shift_steps_segments

    @property
    def shift_steps_per_segment(self) -> int:
        return self._shift_steps_per_segment

    @property
    def duration_steps_segments(self) -> int:
        return self._duration_steps_segments

    @property
    def duration_steps_per_segment(self) -> int:
        return self._duration_steps_per_segment

    @property
    def default_event_label(self) -> tuple[int, ...]:  # type: ignore[override]  # one per head
        return tuple(self._encode_notes(np.array([[0, 60, 1, 1]]))[0].tolist())

    def _encode_notes(self, notes: np.ndarray) -> np.ndarray:
        """[n, 4] (shift, pitch, velocity bin, duration) -> [n, 6] class indices per head."""
        shift, pitch, velocity, duration = notes.T
        duration = duration - 1
        labels = np.stack([shift // self._shift_steps_per_segment,
                           shift % self._shift_steps_per_segment,
                           pitch - self._min_pitch, velocity - 1,
                           duration // self._duration_steps_per_segment,
                           duration % self._duration_steps_per_segment], axis=1)
        bad = (labels < 0) | (labels >= np.array(self._num_classes))
        if bad.any():
            row = int(bad.any(axis=1).argmax())
            raise ValueError(f'note tuple {notes[row].tolist()} is outside the encoder ranges')
        return labels.astype(np.int64)

    @staticmethod
    def _note_array(events, start: int, stop: int) -> np.ndarray:
        chosen = events_slice(events, start, stop)
        if not len(chosen):
            return np.zeros((0, 4), dtype=np.int64)
        return np.array([[sub.event_value for sub in event] for event in chosen],
                        dtype=np.int64)

    def events_to_inputs(self, events, start=0, stop=None):
        start, stop = position_range(len(events), start, stop)
        labels = self._encode_notes(self._note_array(events, start, stop))
        inputs = np.zeros((len(labels), self.input_size), dtype=np.float32)
        inputs[np.arange(len(labels))[:, None], labels + self._head_offsets] = 1.0
        return inputs

    def events_to_labels(self, events, start=0, stop=None):
        start, stop = position_range(len(events), start, stop)
        return self._encode_notes(self._note_array(events, start, stop))

    def events_to_label(self, events, position):
        return tuple(self.events_to_labels(events, position, position + 1)[0].tolist())

    def class_index_to_event(self, class_index, events) -> tuple:
        shift = class_index[0] * self._shift_steps_per_segment + class_index[1]
        pitch = class_index[2] + self._min_pitch
        velocity = class_index[3] + 1
        duration = class_index[4] * self._duration_steps_per_segment + class_index[5] + 1
        return (PerformanceEvent(TIME_SHIFT, int(shift)), PerformanceEvent(NOTE_ON, int(pitch)),
                PerformanceEvent(VELOCITY, int(velocity)),
                PerformanceEvent(DURATION, int(duration)))

    def labels_to_num_steps(self, labels) -> int:
        steps = 0
        event = None
        for label in labels:
            event = self.class_index_to_event(label, None)
            steps += event[0].event_value
        if event:
            steps += event[3].event_value
        return steps


def performance_target_encoder(kind: str, num_velocity_bins: int,
                               max_shift_steps: int = constants.DEFAULT_MAX_SHIFT_STEPS
                               ) -> Any:
    """The (unconditioned) event encoder of one kind: one_hot, one_hot_index, modulo or note."""
    if kind == 'one_hot':
        return OneHotEventSequenceEncoderDecoder(
            PerformanceOneHotEncoding(num_velocity_bins, max_shift_steps))
    if kind == 'one_hot_index':
        return OneHotIndexEventSequenceEncoderDecoder(
            PerformanceOneHotEncoding(num_velocity_bins, max_shift_steps))
    if kind == 'modulo':
        return ModuloPerformanceEventSequenceEncoderDecoder(num_velocity_bins, max_shift_steps)
    if kind == 'note':
        return NotePerformanceEventSequenceEncoderDecoder(num_velocity_bins)
    raise ValueError(f'unknown performance encoding {kind!r}')


def encoder_arguments(control_signals: Sequence[Any], optional_conditioning: bool,
                      performance: Any) -> list[tuple[Any, ...]]:
    """What to pass the encoder (encode_arrays or encode_serialized) for one performance.

    Unconditioned: (performance,). Conditioned: the control values are extracted per event
    and zipped into tuples, (controls, performance); optional conditioning gives two
    examples, controls enabled then disabled.
    """
    if not control_signals:
        return [(performance,)]
    controls = list(zip(*[signal.extract(performance) for signal in control_signals]))
    if optional_conditioning:
        return [([(disable, c) for c in controls], performance) for disable in (False, True)]
    return [(controls, performance)]


def encode_performance(encoder_decoder: Any, control_signals: Sequence[Any],
                       optional_conditioning: bool, performance: Any
                       ) -> list[tuple[np.ndarray, np.ndarray]]:
    """(inputs, labels) arrays of one performance: the examples the dataset pipeline writes."""
    return [encoder_decoder.encode_arrays(*arguments) for arguments in
            encoder_arguments(control_signals, optional_conditioning, performance)]
