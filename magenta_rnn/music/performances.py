"""Performances: polyphonic music as a stream of note-on, note-off, time-shift and
velocity events (REFERENCE.md "Performance events"); extract_performances is in
performance_extraction.py.

A `Performance` is quantized in absolute time (steps per second), a
`MetricPerformance` relative to tempo (steps per quarter). A `NotePerformance`
holds one 4-tuple (TIME_SHIFT, NOTE_ON, VELOCITY, DURATION) per note instead.
"""
from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from magenta_rnn.music import constants, sequences

MAX_NUM_VELOCITY_BINS = constants.MAX_MIDI_VELOCITY - constants.MIN_MIDI_VELOCITY + 1
DEFAULT_PROGRAM = 0


class PerformanceEvent:
    """One immutable, hashable (event_type, event_value) performance event."""

    NOTE_ON = 1     # value: pitch 0..127
    NOTE_OFF = 2    # value: pitch 0..127
    TIME_SHIFT = 3  # value: steps >= 0
    VELOCITY = 4    # value: bin 1..127
    DURATION = 5    # value: steps >= 1 (NotePerformance only)

    __slots__ = ('event_type', 'event_value')
    event_type: int
    event_value: int

    def __init__(self, event_type: int, event_value: int):
        if event_type in (PerformanceEvent.NOTE_ON, PerformanceEvent.NOTE_OFF):
            if not constants.MIN_MIDI_PITCH <= event_value <= constants.MAX_MIDI_PITCH:
                raise ValueError(f'Invalid pitch value: {event_value}')
        elif event_type == PerformanceEvent.TIME_SHIFT:
            if not 0 <= event_value:
                raise ValueError(f'Invalid time shift value: {event_value}')
        elif event_type == PerformanceEvent.DURATION:
            if not 1 <= event_value:
                raise ValueError(f'Invalid duration value: {event_value}')
        elif event_type == PerformanceEvent.VELOCITY:
            if not 1 <= event_value <= MAX_NUM_VELOCITY_BINS:
                raise ValueError(f'Invalid velocity value: {event_value}')
        else:
            raise ValueError(f'Invalid event type: {event_type}')
        object.__setattr__(self, 'event_type', event_type)
        object.__setattr__(self, 'event_value', event_value)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError('PerformanceEvent is immutable')

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, PerformanceEvent) and self.event_type == other.event_type
                and self.event_value == other.event_value)

    def __hash__(self) -> int:
        return hash((self.event_type, self.event_value))

    def __repr__(self) -> str:
        return f'PerformanceEvent(event_type={self.event_type}, event_value={self.event_value})'

    def __reduce__(self):
        return (PerformanceEvent, (self.event_type, self.event_value))


def _velocity_bin_size(num_velocity_bins: int) -> int:
    return int(math.ceil(MAX_NUM_VELOCITY_BINS / num_velocity_bins))


def velocity_to_bin(velocity, num_velocity_bins: int):
    """Velocity 1..127 -> bin 1..num_velocity_bins (works on ints and int arrays)."""
    return (velocity - constants.MIN_MIDI_VELOCITY) // _velocity_bin_size(num_velocity_bins) + 1


def velocity_bin_to_velocity(velocity_bin, num_velocity_bins: int):
    """A bin's lowest velocity: for 32 bins, 1 -> 1, 2 -> 5, 32 -> 125."""
    return constants.MIN_MIDI_VELOCITY + (velocity_bin - 1) * _velocity_bin_size(num_velocity_bins)


def _program_and_is_drum(quantized_sequence: Any, instrument: int | None = None
                         ) -> tuple[int | None, bool | None]:
    """(program, is_drum) of the notes: drums have no program; mixed gives (None, None)."""
    notes = [note for note in quantized_sequence.notes
             if instrument is None or note.instrument == instrument]
    if all(note.is_drum for note in notes):
        return None, True
    if not any(note.is_drum for note in notes):
        programs = set(note.program for note in notes)
        return (programs.pop() if len(programs) == 1 else None), False
    return None, None


class BasePerformance:
    """Events shared by Performance and MetricPerformance; time advances only by TIME_SHIFT."""

    def __init__(self, start_step: int, num_velocity_bins: int, max_shift_steps: int,
                 program: int | None = None, is_drum: bool | None = None):
        if num_velocity_bins > MAX_NUM_VELOCITY_BINS:
            raise ValueError(f'Number of velocity bins is too large: {num_velocity_bins}')
        self._start_step = start_step
        self._num_velocity_bins = num_velocity_bins
        self._max_shift_steps = max_shift_steps
        self._program = program
        self._is_drum = is_drum
        if not hasattr(self, '_events'):
            self._events: list[Any] = []

    def _init_from(self, quantized_sequence: Any, start_step: int, num_velocity_bins: int,
                   max_shift_steps: int, instrument: int | None, program: int | None,
                   is_drum: bool | None) -> None:
        """Performance's and MetricPerformance's shared start: the events of
        `quantized_sequence` (with its program and drum flag), or none when it is None."""
        if quantized_sequence is not None:
            self._events = self._events_from_quantized_sequence(
                quantized_sequence, start_step, num_velocity_bins, max_shift_steps, instrument)
            program, is_drum = _program_and_is_drum(quantized_sequence, instrument)
        else:
            self._events = []
        BasePerformance.__init__(self, start_step, num_velocity_bins, max_shift_steps, program,
                                 is_drum)

    # Container protocol.
    def __len__(self) -> int:
        return len(self._events)

    def __getitem__(self, key):
        return self._events[key]

    def __iter__(self) -> Iterator[Any]:
        return iter(self._events)

    def __eq__(self, other: object) -> bool:
        return (type(self) is type(other) and self._events == other._events
                and self._start_step == other._start_step
                and self._num_velocity_bins == other._num_velocity_bins
                and self._max_shift_steps == other._max_shift_steps)

    def __repr__(self) -> str:
        return (f'{type(self).__name__}({len(self._events)} events, start_step='
                f'{self._start_step}, num_steps={self.num_steps})')

    def __deepcopy__(self, memo=None):
        import copy
        new = copy.copy(self)
        new._events = list(self._events)  # Events themselves are immutable.
        return new

    # Attributes.
    @property
    def events(self) -> list[Any]:
        """The event list itself (not a copy)."""
        return self._events

    @property
    def start_step(self) -> int:
        return self._start_step

    @property
    def max_shift_steps(self) -> int:
        return self._max_shift_steps

    @property
    def num_velocity_bins(self) -> int:
        return self._num_velocity_bins

    @property
    def program(self) -> int | None:
        return self._program

    @property
    def is_drum(self) -> bool | None:
        return self._is_drum

    @property
    def num_steps(self) -> int:
        """Length in steps: the sum of the TIME_SHIFT values."""
        shift = PerformanceEvent.TIME_SHIFT
        return sum(e.event_value for e in self._events if e.event_type == shift)

    @property
    def end_step(self) -> int:
        return self._start_step + self.num_steps

    @property
    def steps(self) -> list[int]:
        """The step at which each event happens."""
        step = self._start_step
        result = []
        for event in self._events:
            result.append(step)
            if event.event_type == PerformanceEvent.TIME_SHIFT:
                step += event.event_value
        return result

    def event_arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """(event types, event values) as two int64 arrays, for vectorised encoders."""
        return performance_event_arrays(self._events)

    # Editing.
    def append(self, event: PerformanceEvent) -> None:
        if not isinstance(event, PerformanceEvent):
            raise ValueError(f'Invalid performance event: {event!r}')
        self._events.append(event)

    def truncate(self, num_events: int) -> None:
        """Keeps only the first `num_events` events."""
        del self._events[num_events:]

    def _append_steps(self, num_steps: int) -> None:
        shift = PerformanceEvent.TIME_SHIFT
        events = self._events
        # Grow a trailing short time shift first.
        if events and events[-1].event_type == shift and events[-1].event_value < \
                self._max_shift_steps:
            added = min(num_steps, self._max_shift_steps - events[-1].event_value)
            events[-1] = PerformanceEvent(shift, events[-1].event_value + added)
            num_steps -= added
        while num_steps >= self._max_shift_steps:
            events.append(PerformanceEvent(shift, self._max_shift_steps))
            num_steps -= self._max_shift_steps
        if num_steps > 0:
            events.append(PerformanceEvent(shift, num_steps))

    def _trim_steps(self, num_steps: int) -> None:
        shift = PerformanceEvent.TIME_SHIFT
        events = self._events
        trimmed = 0
        while events and trimmed < num_steps:
            last = events[-1]
            if last.event_type == shift:
                if trimmed + last.event_value > num_steps:
                    events[-1] = PerformanceEvent(shift, last.event_value - num_steps + trimmed)
                    trimmed = num_steps
                else:
                    trimmed += last.event_value
                    events.pop()
            else:
                events.pop()

    def set_length(self, steps: int, from_left: bool = False) -> None:
        """Pads with time shifts or cuts events from the end to last exactly `steps` steps."""
        if from_left:
            raise NotImplementedError('from_left is not supported')
        current = self.num_steps
        if current < steps:
            self._append_steps(steps - current)
        elif current > steps:
            self._trim_steps(current - steps)

    # Conversion.
    @staticmethod
    def _events_from_quantized_sequence(quantized_sequence: Any, start_step: int,
                                        num_velocity_bins: int, max_shift_steps: int,
                                        instrument: int | None = None) -> list[PerformanceEvent]:
        """The event list of the notes starting at or after `start_step` (REFERENCE.md
        "Performance events")."""
        notes = [note for note in quantized_sequence.notes
                 if note.quantized_start_step >= start_step
                 and (instrument is None or note.instrument == instrument)]
        notes.sort(key=lambda note: (note.start_time, note.pitch))
        # (step, note index, is_offset), sorted: at one step, ordered by note index.
        note_events = sorted(
            [(note.quantized_start_step, idx, False) for idx, note in enumerate(notes)] +
            [(note.quantized_end_step, idx, True) for idx, note in enumerate(notes)])

        TIME_SHIFT, VELOCITY = PerformanceEvent.TIME_SHIFT, PerformanceEvent.VELOCITY
        NOTE_ON, NOTE_OFF = PerformanceEvent.NOTE_ON, PerformanceEvent.NOTE_OFF
        max_shift_event = PerformanceEvent(TIME_SHIFT, max_shift_steps)
        current_step = start_step
        current_velocity_bin = 0
        events: list[PerformanceEvent] = []
        for step, idx, is_offset in note_events:
            if step > current_step:
                while step > current_step + max_shift_steps:
                    events.append(max_shift_event)
                    current_step += max_shift_steps
                events.append(PerformanceEvent(TIME_SHIFT, int(step - current_step)))
                current_step = step
            note = notes[idx]
            if num_velocity_bins and not is_offset:
                velocity_bin = velocity_to_bin(note.velocity, num_velocity_bins)
                if velocity_bin != current_velocity_bin:
                    current_velocity_bin = velocity_bin
                    events.append(PerformanceEvent(VELOCITY, velocity_bin))
            events.append(PerformanceEvent(NOTE_OFF if is_offset else NOTE_ON, note.pitch))
        return events

    def _to_sequence(self, seconds_per_step: float, velocity: int, instrument: int,
                     program: int | None, max_note_duration: float | None = None):
        from magenta_rnn.protobuf import music_pb2
        sequence_start_time = self._start_step * seconds_per_step
        sequence = music_pb2.NoteSequence()
        sequence.ticks_per_quarter = constants.STANDARD_PPQ
        if program is None:
            program = self._program if self._program is not None else DEFAULT_PROGRAM
        is_drum = self._is_drum if self._is_drum is not None else False

        def add_note(pitch: int, start: int, end: int, note_velocity: int) -> None:
            note = sequence.notes.add()
            note.start_time = start * seconds_per_step + sequence_start_time
            note.end_time = end * seconds_per_step + sequence_start_time
            if max_note_duration and note.end_time - note.start_time > max_note_duration:
                note.end_time = note.start_time + max_note_duration
            note.pitch = pitch
            note.velocity = note_velocity
            note.instrument = instrument
            note.program = program
            note.is_drum = is_drum
            if note.end_time > sequence.total_time:
                sequence.total_time = note.end_time

        # pitch -> FIFO of open (start step, velocity). A pitch enters the dict the
        # first time any NOTE_ON/NOTE_OFF names it, which fixes the order of the
        # notes closed at the end.
        open_notes: dict[int, list[tuple[int, int]]] = defaultdict(list)
        step = 0
        for event in self._events:
            event_type = event.event_type
            if event_type == PerformanceEvent.NOTE_ON:
                open_notes[event.event_value].append((step, velocity))
            elif event_type == PerformanceEvent.NOTE_OFF:
                pitch_open = open_notes[event.event_value]
                if not pitch_open:
                    continue  # A NOTE_OFF with no open note is ignored.
                start, note_velocity = pitch_open.pop(0)
                if step == start:
                    continue  # Zero-length notes are dropped.
                add_note(event.event_value, start, step, note_velocity)
            elif event_type == PerformanceEvent.TIME_SHIFT:
                step += event.event_value
            elif event_type == PerformanceEvent.VELOCITY:
                if not self._num_velocity_bins:
                    raise ValueError('VELOCITY event in a performance without velocity bins')
                velocity = velocity_bin_to_velocity(event.event_value, self._num_velocity_bins)
            else:
                raise ValueError(f'Unknown event type: {event_type}')
        # Notes still open close at the final step.
        for pitch, pitch_open in open_notes.items():
            for start, note_velocity in pitch_open:
                if step != start:
                    add_note(pitch, start, step, note_velocity)
        return sequence


class Performance(BasePerformance):
    """A performance with absolute timing (steps per second) and unknown meter."""

    def __init__(self, quantized_sequence: Any = None, steps_per_second: int | None = None,
                 start_step: int = 0, num_velocity_bins: int = 0,
                 max_shift_steps: int = constants.DEFAULT_MAX_SHIFT_STEPS,
                 instrument: int | None = None, program: int | None = None,
                 is_drum: bool | None = None):
        if (quantized_sequence, steps_per_second).count(None) != 1:
            raise ValueError('Must specify exactly one of quantized_sequence or steps_per_second')
        if quantized_sequence is not None:
            sequences.assert_is_absolute_quantized_sequence(quantized_sequence)
            steps_per_second = quantized_sequence.quantization_info.steps_per_second
        assert steps_per_second is not None  # given, or read from the sequence just above
        self._steps_per_second = steps_per_second
        self._init_from(quantized_sequence, start_step, num_velocity_bins, max_shift_steps,
                        instrument, program, is_drum)

    @property
    def steps_per_second(self) -> int:
        return self._steps_per_second

    def to_sequence(self, velocity: int = 100, instrument: int = 0, program: int | None = None,
                    max_note_duration: float | None = None):
        """A NoteSequence (no tempo); VELOCITY events override `velocity`."""
        return self._to_sequence(1.0 / self._steps_per_second, velocity, instrument, program,
                                 max_note_duration)


class MetricPerformance(BasePerformance):
    """A performance with timing relative to tempo (steps per quarter)."""

    def __init__(self, quantized_sequence: Any = None, steps_per_quarter: int | None = None,
                 start_step: int = 0, num_velocity_bins: int = 0,
                 max_shift_quarters: int = constants.DEFAULT_MAX_SHIFT_QUARTERS,
                 instrument: int | None = None, program: int | None = None,
                 is_drum: bool | None = None):
        if (quantized_sequence, steps_per_quarter).count(None) != 1:
            raise ValueError(
                'Must specify exactly one of quantized_sequence or steps_per_quarter')
        if quantized_sequence is not None:
            sequences.assert_is_relative_quantized_sequence(quantized_sequence)
            steps_per_quarter = quantized_sequence.quantization_info.steps_per_quarter
        assert steps_per_quarter is not None  # given, or read from the sequence just above
        self._steps_per_quarter = steps_per_quarter
        self._init_from(quantized_sequence, start_step, num_velocity_bins,
                        self._steps_per_quarter * max_shift_quarters, instrument, program, is_drum)

    @property
    def steps_per_quarter(self) -> int:
        return self._steps_per_quarter

    def to_sequence(self, velocity: int = 100, instrument: int = 0, program: int | None = None,
                    max_note_duration: float | None = None, qpm: float = 120.0):
        """A NoteSequence at `qpm`, with that tempo added."""
        sequence = self._to_sequence(60.0 / (self._steps_per_quarter * qpm), velocity,
                                     instrument, program, max_note_duration)
        sequence.tempos.add(qpm=qpm)
        return sequence


class NotePerformanceError(Exception):
    """A note cannot be written as a NotePerformance 4-tuple."""


class TooManyTimeShiftStepsError(NotePerformanceError):
    pass


class TooManyDurationStepsError(NotePerformanceError):
    pass


class NotePerformance(BasePerformance):
    """One (TIME_SHIFT since previous onset, NOTE_ON, VELOCITY bin, DURATION) tuple per note."""

    def __init__(self, quantized_sequence: Any, num_velocity_bins: int,
                 instrument: int | None = 0, start_step: int = 0, max_shift_steps: int = 1000,
                 max_duration_steps: int = 1000):
        program, is_drum = _program_and_is_drum(quantized_sequence, instrument)
        super().__init__(start_step, num_velocity_bins, max_shift_steps, program, is_drum)
        self._max_duration_steps = max_duration_steps
        sequences.assert_is_absolute_quantized_sequence(quantized_sequence)
        self._steps_per_second = quantized_sequence.quantization_info.steps_per_second
        self._events = self._note_events(quantized_sequence, instrument)

    @property
    def steps_per_second(self) -> int:
        return self._steps_per_second

    @property
    def max_duration_steps(self) -> int:
        return self._max_duration_steps

    def set_length(self, steps: int, from_left: bool = False) -> None:
        """Does nothing: a note performance cannot be padded or cut by steps."""
        return

    def append(self, event: tuple) -> None:  # type: ignore[override]  # events are note tuples
        if not isinstance(event, tuple):
            raise ValueError(f'Invalid performance event tuple: {event!r}')
        self._events.append(event)

    @property
    def num_steps(self) -> int:
        """Sum of the shifts plus the last note's duration."""
        steps = sum(event[0].event_value for event in self._events)
        if self._events:
            steps += self._events[-1][3].event_value
        return steps

    @property
    def steps(self) -> list[int]:
        """The onset step of each note."""
        step = self._start_step
        result = []
        for event in self._events:
            step += event[0].event_value
            result.append(step)
        return result

    def event_arrays(self) -> tuple[np.ndarray, np.ndarray]:
        raise TypeError('NotePerformance events are 4-tuples; use note_arrays()')

    def note_arrays(self) -> np.ndarray:
        """[n, 4] int64: (shift, pitch, velocity bin, duration) per note."""
        if not self._events:
            return np.zeros((0, 4), dtype=np.int64)
        return np.array([[sub.event_value for sub in event] for event in self._events],
                        dtype=np.int64)

    def _note_events(self, quantized_sequence: Any, instrument: int | None) -> list[tuple]:
        notes = [note for note in quantized_sequence.notes
                 if note.quantized_start_step >= self._start_step
                 and (instrument is None or note.instrument == instrument)]
        notes.sort(key=lambda note: (note.start_time, note.pitch))
        current_step = self._start_step
        events = []
        for note in notes:
            time_shift_steps = note.quantized_start_step - current_step
            if time_shift_steps > self._max_shift_steps:
                raise TooManyTimeShiftStepsError(
                    f'Too many steps for timeshift: {time_shift_steps}')
            current_step = note.quantized_start_step
            duration_steps = note.quantized_end_step - note.quantized_start_step
            if duration_steps > self._max_duration_steps:
                raise TooManyDurationStepsError(
                    f'Too many steps for duration: {duration_steps} (pitch {note.pitch} at '
                    f'step {note.quantized_start_step})')
            events.append((
                PerformanceEvent(PerformanceEvent.TIME_SHIFT, time_shift_steps),
                PerformanceEvent(PerformanceEvent.NOTE_ON, note.pitch),
                PerformanceEvent(PerformanceEvent.VELOCITY,
                                 velocity_to_bin(note.velocity, self._num_velocity_bins)),
                PerformanceEvent(PerformanceEvent.DURATION, duration_steps)))
        return events

    def to_sequence(self, instrument: int = 0, program: int | None = None,
                    max_note_duration: float | None = None):
        """A NoteSequence with one note per tuple (max_note_duration is not used)."""
        del max_note_duration
        from magenta_rnn.protobuf import music_pb2
        seconds_per_step = 1.0 / self._steps_per_second
        sequence_start_time = self._start_step * seconds_per_step
        sequence = music_pb2.NoteSequence()
        sequence.ticks_per_quarter = constants.STANDARD_PPQ
        if program is None:
            program = self._program if self._program is not None else DEFAULT_PROGRAM
        is_drum = self._is_drum if self._is_drum is not None else False
        step = 0
        for shift, note_on, velocity, duration in self._events:
            step += shift.event_value
            note = sequence.notes.add()
            note.start_time = step * seconds_per_step + sequence_start_time
            note.end_time = (step + duration.event_value) * seconds_per_step + \
                sequence_start_time
            note.pitch = note_on.event_value
            note.velocity = velocity_bin_to_velocity(velocity.event_value,
                                                     self._num_velocity_bins)
            note.instrument = instrument
            note.program = program
            note.is_drum = is_drum
            if note.end_time > sequence.total_time:
                sequence.total_time = note.end_time
        return sequence


def performance_event_arrays(events: Sequence[PerformanceEvent]
                             ) -> tuple[np.ndarray, np.ndarray]:
    """(types, values) int64 arrays of a list of PerformanceEvents."""
    count = len(events)
    types = np.fromiter((e.event_type for e in events), dtype=np.int64, count=count)
    values = np.fromiter((e.event_value for e in events), dtype=np.int64, count=count)
    return types, values
