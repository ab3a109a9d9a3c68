"""Performance RNN's control signals at generation time: the control flags' values
(notes_per_second, pitch_class_histogram, disable_conditioning) spread evenly over the
performance, and the sampler inputs they make (REFERENCE.md
"Conditioning and control signals", "Performance generation").

A control value is a Python literal: one value, or a list of values spread evenly over
the whole performance (primer included). The control of event i is the value at the time
reached after events 0..i-1, so it is a function of the event sequence itself.
"""
from __future__ import annotations

import ast
import dataclasses
import logging
import math
import numbers
import weakref
from collections.abc import Sequence
from typing import Any

import numpy as np

from magenta_rnn.music import constants
from magenta_rnn.music.performances import PerformanceEvent
from magenta_rnn.rnn.sequence_generator import SequenceGeneratorError

DISABLE_CONDITIONING = 'disable_conditioning'


class PerformanceGenerateError(SequenceGeneratorError):
    """Bad primer, control value or generate request; the message names the flag."""


def parse_literal(text: str, flag: str, example: str) -> Any:
    """ast.literal_eval(text), or a one-line error naming --flag."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        raise PerformanceGenerateError(
            f'--{flag}: {text!r} is not a Python literal, e.g. {example}') from None


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and \
        math.isfinite(value)


def _histogram(value: Any) -> bool:
    return (isinstance(value, (list, tuple)) and len(value) == constants.NOTES_PER_OCTAVE
            and all(_is_number(x) and x >= 0 for x in value))


def _density(value: Any) -> bool:
    return _is_number(value) and value >= 0


def control_values(flag: str, value: Any) -> list[Any]:
    """A control flag's parsed literal -> the list of values spread over time.

    flag is a control signal's name (notes_per_second or pitch_class_histogram). One
    valid value becomes [value]; a non-empty list of valid values stays a list. Raises
    PerformanceGenerateError naming the flag otherwise.
    """
    if flag == 'pitch_class_histogram':
        if _histogram(value):
            return [[float(x) for x in value]]
        if isinstance(value, (list, tuple)) and value and all(_histogram(v) for v in value):
            return [[float(x) for x in v] for v in value]
        raise PerformanceGenerateError(
            f'--{flag}: {value!r} is not a list of 12 non-negative numbers (C, C#, ..., B) '
            'or a list of such lists')
    if flag == 'notes_per_second':
        if _density(value):
            return [float(value)]
        if isinstance(value, (list, tuple)) and value and all(_density(v) for v in value):
            return [float(v) for v in value]
        raise PerformanceGenerateError(
            f'--{flag}: {value!r} is not a number >= 0 or a list of such numbers')
    raise PerformanceGenerateError(f'--{flag}: not a control signal')


def disable_conditioning_values(value: Any) -> list[bool]:
    if isinstance(value, bool):
        return [value]
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, bool) for v in value):
        return list(value)
    raise PerformanceGenerateError(
        f'--{DISABLE_CONDITIONING}: {value!r} is not True/False or a list of them')


def segment_index(step: int, total_steps: int, num_segments: int) -> int:
    """Which of num_segments equal parts of total_steps a step falls in (the last one
    also takes every step beyond)."""
    return min(step * num_segments // total_steps, num_segments - 1)


@dataclasses.dataclass
class ControlSchedule:
    """Control values over time: per signal a list split evenly over total_steps."""
    values: list[list[Any]]                 # one list per control signal, in config order
    total_steps: int
    disable: list[bool] | None = None       # only with optional conditioning

    def key(self, step: int) -> tuple[int, ...]:
        """The segment index of every list at `step` (equal keys, equal control events)."""
        lists = self.values + ([self.disable] if self.disable is not None else [])
        return tuple(segment_index(step, self.total_steps, len(v)) for v in lists)

    def event(self, step: int) -> Any:
        """The control event at `step`: (value per signal), or (disable, (values)) if optional."""
        key = self.key(step)
        controls = tuple(v[k] for v, k in zip(self.values, key))
        if self.disable is not None:
            return (self.disable[key[-1]], controls)
        return controls


class ConditionedInputs:
    """inputs_fn for EventsSampler: the control of each position from the schedule.

    The input at position p is control(step after events 0..p) + target input of event
    p, as ConditionalEventSequenceEncoderDecoder encodes it. Each sequence's step count
    is remembered between calls (with a weak reference, so a reused object id is never
    mistaken for the same sequence), so a generation step costs O(1) per row.
    """

    def __init__(self, encoder: Any, schedule: ControlSchedule):
        self.control_encoder = encoder.control_encoder_decoder
        self.target_encoder = encoder.target_encoder_decoder
        self.schedule = schedule
        self._encoded: dict[tuple[int, ...], np.ndarray] = {}
        self._steps: dict[int, tuple[Any, int, int]] = {}

    def _control_input(self, step: int) -> np.ndarray:
        key = self.schedule.key(step)
        row = self._encoded.get(key)
        if row is None:
            row = np.asarray(self.control_encoder.events_to_inputs(
                [self.schedule.event(step)], 0, 1), dtype=np.float32)[0]
            self._encoded[key] = row
        return row

    def _steps_so_far(self, performance: Any) -> int:
        """Sum of TIME_SHIFTs of `performance`, updated incrementally when it grew by one."""
        cached = self._steps.get(id(performance))
        length = len(performance)
        if cached is not None and cached[0]() is performance:
            _, cached_length, steps = cached
            if cached_length == length:
                return steps
            if cached_length == length - 1:
                last = performance[length - 1]
                if last.event_type == PerformanceEvent.TIME_SHIFT:
                    steps += last.event_value
                self._steps[id(performance)] = (cached[0], length, steps)
                return steps
        steps = performance.num_steps
        self._steps[id(performance)] = (weakref.ref(performance), length, steps)
        return steps

    def __call__(self, performances: Sequence[Any], full_length: bool) -> list[np.ndarray]:
        batch = []
        for performance in performances:
            length = len(performance)
            if full_length:
                types, values = performance.event_arrays()
                after = np.cumsum(np.where(types == PerformanceEvent.TIME_SHIFT, values, 0))
                controls = np.stack([self._control_input(int(s)) for s in after.tolist()])
                targets = self.target_encoder.events_to_inputs(performance, 0, length)
                self._steps[id(performance)] = (weakref.ref(performance), length,
                                                int(after[-1]) if length else 0)
            else:
                controls = self._control_input(self._steps_so_far(performance))[None]
                targets = self.target_encoder.events_to_inputs(performance, length - 1, length)
            batch.append(np.concatenate([controls, np.asarray(targets, np.float32)], axis=1))
        if len(self._steps) > 4 * len(performances) + 64:  # forget rows dropped by pruning
            self._steps = {k: v for k, v in self._steps.items() if v[0]() is not None}
        return batch


def resolve_controls(performance_setup: Any, controls: dict[str, list[Any]],
                     disable_conditioning: list[bool] | None
                     ) -> tuple[list[list[Any]], list[bool] | None, float]:
    """(values per config signal, disable list, mean note density) with the defaults filled in."""
    values = []
    for signal in performance_setup.control_signals:
        if signal.name in controls:
            values.append(controls[signal.name])
        else:
            logging.warning('control value not specified, using the default: %s = %s',
                            signal.name, signal.default_value)
            values.append([signal.default_value])
    disable = None
    if performance_setup.optional_conditioning:
        disable = disable_conditioning if disable_conditioning is not None else [False]
    density = constants.DEFAULT_NOTE_DENSITY
    for signal, signal_values in zip(performance_setup.control_signals, values):
        if signal.name == 'notes_per_second':
            density = sum(signal_values) / len(signal_values)
    return values, disable, density
