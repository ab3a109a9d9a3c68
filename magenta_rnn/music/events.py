"""A quantized stream of events: the base of Melody, DrumTrack and friends (REFERENCE.md
"Event sequences").

An event sequence is a list of events, one per time step, placed in its source
NoteSequence by `start_step` (first step) and `end_step` (one past the last step).
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, TypeVar

from magenta_rnn.music import constants


class NonIntegerStepsPerBarError(Exception):
    """The time signature gives a bar that is not a whole number of steps."""


class QuantizationStatusError(Exception):
    """A NoteSequence is not quantized the way an operation needs."""


class EventSequenceError(Exception):
    """Base of errors raised while building an event sequence from notes."""


Self = TypeVar('Self', bound='SimpleEventSequence')


def assert_is_relative_quantized(quantized_sequence: Any) -> None:
    """Raises QuantizationStatusError unless the sequence is quantized relative to tempo."""
    if quantized_sequence.quantization_info.steps_per_quarter <= 0:
        raise QuantizationStatusError(
            f'NoteSequence {quantized_sequence.id!r} is not quantized relative to tempo '
            '(quantization_info.steps_per_quarter is not set)')


def steps_per_bar_float(quantized_sequence: Any) -> float:
    """Steps per bar of a relative-quantized NoteSequence, from its first time signature.

    A sequence without any time signature counts as 4/4.
    """
    assert_is_relative_quantized(quantized_sequence)
    if quantized_sequence.time_signatures:
        signature = quantized_sequence.time_signatures[0]
        numerator, denominator = signature.numerator, signature.denominator
    else:
        numerator, denominator = 4, 4
    steps_per_quarter = quantized_sequence.quantization_info.steps_per_quarter
    return steps_per_quarter * (4.0 / denominator) * numerator


def integer_steps_per_bar(quantized_sequence: Any) -> int:
    """Steps per bar as an int; raises NonIntegerStepsPerBarError when it is fractional."""
    steps_per_bar = steps_per_bar_float(quantized_sequence)
    if steps_per_bar % 1 != 0:
        signature = (quantized_sequence.time_signatures[0]
                     if quantized_sequence.time_signatures else None)
        described = (f'{signature.numerator}/{signature.denominator}' if signature else '4/4')
        raise NonIntegerStepsPerBarError(
            f'There are {steps_per_bar:f} timesteps per bar. Time signature: {described}')
    return int(steps_per_bar)


class SimpleEventSequence:
    """A list of events with a position in its source sequence.

    Subclasses fix the pad event (the filler used when growing) by passing it to
    this constructor; slicing and copying rebuild the subclass through `_rebuild`.
    """

    def __init__(self, pad_event: Any, events: Iterable[Any] | None = None, start_step: int = 0,
                 steps_per_bar: int = constants.DEFAULT_STEPS_PER_BAR,
                 steps_per_quarter: int = constants.DEFAULT_STEPS_PER_QUARTER):
        self._pad_event = pad_event
        self._steps_per_bar = steps_per_bar
        self._steps_per_quarter = steps_per_quarter
        self._start_step = start_step
        self._events: list[Any] = []
        if events is not None:
            self._events = self._clean_events(list(events))
        self._end_step = start_step + len(self._events)

    def _clean_events(self, events: list[Any]) -> list[Any]:
        """Hook for subclasses to validate/normalise a list of events given to the constructor."""
        return events

    def _rebuild(self: Self, events: list[Any], start_step: int) -> Self:
        """A new sequence of the same type and resolution holding `events`."""
        new = type(self).__new__(type(self))
        SimpleEventSequence.__init__(new, self._pad_event, None, start_step,
                                     self._steps_per_bar, self._steps_per_quarter)
        new.__dict__.update({k: v for k, v in self.__dict__.items()
                             if k not in ('_events', '_start_step', '_end_step')})
        new._events = new._clean_events(list(events))
        new._start_step = start_step
        new._end_step = start_step + len(new._events)
        return new

    def _reset(self) -> None:
        self._events = []
        self._steps_per_bar = constants.DEFAULT_STEPS_PER_BAR
        self._steps_per_quarter = constants.DEFAULT_STEPS_PER_QUARTER
        self._start_step = 0
        self._end_step = 0

    # Container protocol.
    def __iter__(self) -> Iterator[Any]:
        return iter(self._events)

    def __len__(self) -> int:
        return len(self._events)

    def __getitem__(self, key):
        if isinstance(key, slice):
            return self._rebuild(self._events[key], self._start_step + (key.start or 0))
        return self._events[key]

    def __deepcopy__(self: Self, memo: dict | None = None) -> Self:
        import copy
        return self._rebuild(copy.deepcopy(self._events, memo), self._start_step)

    def copy(self: Self) -> Self:
        return self.__deepcopy__()

    def __eq__(self, other: object) -> bool:
        if type(self) is not type(other):
            return False
        return (list(self) == list(other) and
                self.steps_per_bar == other.steps_per_bar and
                self.steps_per_quarter == other.steps_per_quarter and
                self.start_step == other.start_step and
                self.end_step == other.end_step)

    def __ne__(self, other: object) -> bool:
        return not self == other

    def __repr__(self) -> str:
        return (f'{type(self).__name__}({self._events!r}, start_step={self._start_step}, '
                f'steps_per_bar={self._steps_per_bar}, '
                f'steps_per_quarter={self._steps_per_quarter})')

    # Attributes.
    @property
    def events(self) -> list[Any]:
        """The event list itself (not a copy)."""
        return self._events

    @property
    def start_step(self) -> int:
        return self._start_step

    @property
    def end_step(self) -> int:
        return self._end_step

    @property
    def steps(self) -> list[int]:
        return list(range(self._start_step, self._end_step))

    @property
    def steps_per_bar(self) -> int:
        return self._steps_per_bar

    @property
    def steps_per_quarter(self) -> int:
        return self._steps_per_quarter

    # Editing.
    def _empty_note_sequence(self, qpm: float, sequence_start_time: float):
        """(NoteSequence with one tempo at `qpm`, seconds per step, time of this sequence's step 0)
        for the to_sequence of a metric event sequence."""
        from magenta_rnn.protobuf import music_pb2
        seconds_per_step = 60.0 / qpm / self.steps_per_quarter
        sequence = music_pb2.NoteSequence()
        sequence.tempos.add().qpm = qpm
        sequence.ticks_per_quarter = constants.STANDARD_PPQ
        return sequence, seconds_per_step, sequence_start_time + self.start_step * seconds_per_step

    def append(self, event: Any) -> None:
        """Appends `event` and moves end_step one step later."""
        self._events.append(event)
        self._end_step += 1

    def set_length(self, steps: int, from_left: bool = False) -> None:
        """Pads with the pad event or truncates to exactly `steps` events.

        Working on the right moves end_step; from the left moves start_step.
        """
        missing = steps - len(self._events)
        if missing > 0:
            padding = [self._pad_event] * missing
            if from_left:
                self._events[:0] = padding
            else:
                self._events.extend(padding)
        elif from_left:
            del self._events[:len(self._events) - steps]
        else:
            del self._events[steps:]
        if from_left:
            self._start_step = self._end_step - steps
        else:
            self._end_step = self._start_step + steps

    def increase_resolution(self, k: int, fill_event: Any = None) -> None:
        """Makes every event k steps long: the event, then k-1 fill events.

        With no fill event the event itself is repeated k times.
        """
        new_events: list[Any] = []
        for event in self._events:
            new_events.append(event)
            new_events.extend([event if fill_event is None else fill_event] * (k - 1))
        self._events = new_events
        self._start_step *= k
        self._end_step *= k
        self._steps_per_bar *= k
        self._steps_per_quarter *= k


def lengths_in_bars_buckets(min_bars: int) -> list[int]:
    """Bucket edges of the `*_lengths_in_bars` histograms of the extractors."""
    return [0, 1, 10, 20, 30, 40, 50, 100, 200, 500, min_bars // 2, min_bars, min_bars + 1,
            min_bars - 1]


def apply_length_rules(track: SimpleEventSequence, min_bars: int, max_steps_discard: int | None,
                       max_steps_truncate: int | None, pad_end: bool, stats: dict[str, Any],
                       noun: str) -> bool:
    """The extractors' length rules (REFERENCE.md "Melody extraction", "Drum track extraction");
    False when `track` is dropped.

    Counts `<noun>_discarded_too_short`, `<noun>_discarded_too_long` and `<noun>_truncated`
    in `stats`, and truncates `track` in place (to a whole bar with pad_end).
    """
    if len(track) < track.steps_per_bar * min_bars:
        stats[f'{noun}_discarded_too_short'].increment()
        return False
    if max_steps_discard is not None and len(track) > max_steps_discard:
        stats[f'{noun}_discarded_too_long'].increment()
        return False
    if max_steps_truncate is not None and len(track) > max_steps_truncate:
        truncated_length = max_steps_truncate
        if pad_end:
            truncated_length -= max_steps_truncate % track.steps_per_bar
        track.set_length(truncated_length)
        stats[f'{noun}_truncated'].increment()
    return True
