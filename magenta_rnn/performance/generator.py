"""Performance RNN generation: primers, control schedules and the absolute-time flow (REFERENCE.md
"Performance generation").

Timing is absolute (steps_per_second, 100 by default: 10 ms steps), so this is not the
metric flow of melody and drums (rnn/sequence_generator.py). A primer NoteSequence is
quantized, one performance is extracted from it, padded to the start of the generate
section (or given up to one second of silence when empty) and extended until it fills
the section: each round asks for ceil(4 * notes per second * seconds left) more events,
since the number of events per second is only known afterwards. The result is cut to
the exact length and written with notes no longer than 5 seconds.

Control values (notes_per_second, pitch_class_histogram, disable_conditioning) are
Python literals: one value, or a list of values spread evenly over the whole
performance (primer included). The control of event i is the value at the time reached
after events 0..i-1, so it is a function of the event sequence itself.
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

from magenta_rnn.music import constants, sequences
from magenta_rnn.music.melodies import Melody
from magenta_rnn.music.performance_extraction import extract_performances
from magenta_rnn.music.performances import NotePerformance, Performance, PerformanceEvent
from magenta_rnn.protobuf import music_pb2

MAX_NOTE_DURATION_SECONDS = 5.0
RNN_STEPS_PER_NOTE = 4.0  # the original's guess of events per note
DISABLE_CONDITIONING = 'disable_conditioning'


class PerformanceGenerateError(ValueError):
    """Bad primer, control value or generate request; the message names the flag."""


# ----------------------------------------------------------------------------------
# Primers.

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


def parse_primer_pitches(text: str) -> music_pb2.NoteSequence:
    """`--primer_pitches="[60, 64, 67]"`: a chord from 0 to 0.5 s (a quarter at 120 qpm),
    velocity 100."""
    example = '"[60, 64, 67]"'
    pitches = parse_literal(text, 'primer_pitches', example)
    if not isinstance(pitches, (list, tuple)) or not pitches:
        raise PerformanceGenerateError(
            f'--primer_pitches: {text!r} is not a non-empty list of MIDI pitches, e.g. {example}')
    for pitch in pitches:
        if not isinstance(pitch, int) or isinstance(pitch, bool) or \
                not constants.MIN_MIDI_PITCH <= pitch <= constants.MAX_MIDI_PITCH:
            raise PerformanceGenerateError(
                f'--primer_pitches: {pitch!r} is not a MIDI pitch (an integer 0..127)')
    sequence = music_pb2.NoteSequence()
    sequence.ticks_per_quarter = constants.STANDARD_PPQ
    end_time = 60.0 / constants.DEFAULT_QUARTERS_PER_MINUTE
    for pitch in pitches:
        sequence.notes.add(pitch=pitch, velocity=100, start_time=0.0, end_time=end_time)
    sequence.total_time = end_time
    return sequence


def parse_primer_melody(text: str) -> music_pb2.NoteSequence:
    """`--primer_melody="[60, -2, 60, -2, 67, -2]"`: Melody events (pitch, -1 note off,
    -2 no event) at 120 qpm and 4 steps per quarter."""
    example = '"[60, -2, 60, -2, 67, -2, 67, -2]"'
    events = parse_literal(text, 'primer_melody', example)
    if not isinstance(events, (list, tuple)) or not events:
        raise PerformanceGenerateError(
            f'--primer_melody: {text!r} is not a non-empty list of melody events, e.g. {example}')
    for event in events:
        if not isinstance(event, int) or isinstance(event, bool) or \
                not -2 <= event <= constants.MAX_MIDI_PITCH:
            raise PerformanceGenerateError(
                f'--primer_melody: {event!r} is not a melody event (a pitch 0..127, -1 for '
                'note off or -2 for no event)')
    return Melody(list(events)).to_sequence(qpm=constants.DEFAULT_QUARTERS_PER_MINUTE)


def empty_primer() -> music_pb2.NoteSequence:
    sequence = music_pb2.NoteSequence()
    sequence.ticks_per_quarter = constants.STANDARD_PPQ
    return sequence


# ----------------------------------------------------------------------------------
# Control values.

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


def rnn_steps_to_generate(remaining_steps: int, mean_note_density: float,
                          steps_per_second: int) -> int:
    """Events to ask for to fill remaining_steps: 4 per note at the mean requested note
    density (at least 1 note per second)."""
    note_density = max(1.0, mean_note_density)
    return int(math.ceil(RNN_STEPS_PER_NOTE * note_density * remaining_steps / steps_per_second))


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


class RoundEnds:
    """done(row, events) for EventsSampler.sample_until: the fill-the-section rounds of
    plain sampling, decided event by event instead of round by round.

    The original asks for rnn_steps_to_generate(steps left) more events per round,
    re-feeding the whole performance, until a round ends with the section filled, then
    cuts the performance to its length. Without beam search the outcome is the same when
    each row keeps its RNN state and ends where its rounds would have ended: at the end
    of a round that filled the section (or of the first round without
    fill_generate_section). A Performance also ends as soon as its time passes the end,
    since every later event of the round would be cut (not so a NotePerformance, whose
    length is not monotonic in its events).
    """

    def __init__(self, primer: Any, total_steps: int, mean_note_density: float,
                 steps_per_second: int, fill_generate_section: bool = True):
        self.total_steps = total_steps
        self.mean_note_density = mean_note_density
        self.steps_per_second = steps_per_second
        self.fill_generate_section = fill_generate_section
        self.track_time = not isinstance(primer, NotePerformance)
        self.primer_steps = primer.num_steps
        self.first_round_end = len(primer) + self._events_to_ask(self.primer_steps)
        self.round_ends: dict[int, int] = {}
        self.steps: dict[int, int] = {}
        self.rounds = 1

    def _events_to_ask(self, steps_so_far: int) -> int:
        return rnn_steps_to_generate(self.total_steps - steps_so_far, self.mean_note_density,
                                     self.steps_per_second)

    def __call__(self, row: int, events: Any) -> bool:
        if self.track_time:
            steps = self.steps.get(row, self.primer_steps)
            last = events[len(events) - 1]
            if last.event_type == PerformanceEvent.TIME_SHIFT:
                steps += last.event_value
            self.steps[row] = steps
            if steps > self.total_steps:
                return True
        if len(events) < self.round_ends.get(row, self.first_round_end):
            return False
        steps = self.steps[row] if self.track_time else events.num_steps
        if steps >= self.total_steps or not self.fill_generate_section:
            return True
        self.round_ends[row] = len(events) + self._events_to_ask(steps)
        self.rounds += 1
        logging.debug('output %d needs %d more steps; asking for %d more events', row,
                      self.total_steps - steps, self.round_ends[row] - len(events))
        return False


# ----------------------------------------------------------------------------------
# The flow.

@dataclasses.dataclass
class GenerateRequest:
    """The generator arguments (the ArgValue keys of REFERENCE.md "Generator options"), already
    validated."""
    controls: dict[str, list[Any]] = dataclasses.field(default_factory=dict)
    disable_conditioning: list[bool] | None = None
    temperature: float = 1.0
    beam_size: int = 1
    branch_factor: int = 1
    steps_per_iteration: int = 1


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


def generate_performances(stepper: Any, performance_setup: Any, primer: music_pb2.NoteSequence,
                          start_time: float, end_time: float, num_outputs: int,
                          request: GenerateRequest | None = None,
                          rng: np.random.Generator | None = None,
                          fill_generate_section: bool = True) -> list[music_pb2.NoteSequence]:
    """Extends `primer` over [start_time, end_time) num_outputs times, sampled together.

    stepper: an EventsRnn or NumpyStepper; performance_setup: performance.model.setup(config).
    """
    from magenta_rnn.rnn.sampler import EventsSampler

    request = request or GenerateRequest()
    rng = rng if rng is not None else np.random.default_rng()
    s = performance_setup
    sps = s.steps_per_second
    last_end_time = max((n.end_time for n in primer.notes), default=0.0)
    if last_end_time > start_time:
        raise PerformanceGenerateError(
            f'the generate section starts at {start_time:.3f} s, before the primer ends '
            f'({last_end_time:.3f} s); this model can only extend sequences')
    quantized = sequences.quantize_note_sequence_absolute(primer, sps)
    extracted, _ = extract_performances(quantized, start_step=0,
                                        num_velocity_bins=s.num_velocity_bins,
                                        note_performance=s.note_performance)
    start_step = sequences.quantize_to_step(start_time, sps, quantize_cutoff=0.0)
    end_step = sequences.quantize_to_step(end_time, sps, quantize_cutoff=1.0)
    if extracted and len(extracted[0]):
        performance = extracted[0]
    elif s.note_performance:
        raise PerformanceGenerateError(
            'a note_performance config cannot start from silence: give a primer '
            '(--primer_pitches, --primer_melody or --primer_midi)')
    else:
        performance = Performance(steps_per_second=sps, start_step=start_step,
                                  num_velocity_bins=s.num_velocity_bins)
    performance.set_length(start_step - performance.start_step)

    values, disable, mean_density = resolve_controls(s, request.controls,
                                                     request.disable_conditioning)
    total_steps = performance.num_steps + (end_step - start_step)
    if total_steps <= 0:
        raise PerformanceGenerateError(
            f'nothing to generate: the section [{start_time}, {end_time}) s is empty')
    if not len(performance):
        performance.set_length(min(performance.max_shift_steps, total_steps))

    inputs_fn = None
    if s.control_signals:
        if isinstance(performance, NotePerformance):
            raise PerformanceGenerateError('control signals with note_performance configs '
                                           'are not supported')
        inputs_fn = ConditionedInputs(s.encoder, ControlSchedule(values, total_steps, disable))
    sampler = EventsSampler(stepper, s.encoder, inputs_fn)
    options = dict(temperature=request.temperature, beam_size=request.beam_size,
                   branch_factor=request.branch_factor,
                   steps_per_iteration=request.steps_per_iteration)

    outputs: list[Any] = [performance] * num_outputs  # the sampler copies its primers
    remaining = total_steps - performance.num_steps
    if request.beam_size == 1 and request.branch_factor == 1:
        # Plain sampling: all rounds in one pass, each output keeping its RNN state.
        pending = []
        if remaining > 0:
            round_ends = RoundEnds(performance, total_steps, mean_density, sps,
                                   fill_generate_section)
            logging.info('%d output(s) need %d more steps; asking for %d more events first',
                         num_outputs, remaining, round_ends.first_round_end - len(performance))
            outputs = sampler.sample_until(outputs, round_ends, temperature=request.temperature,
                                           rng=rng)
    else:
        # Beam search scores whole rounds, so it goes round by round as the original,
        # re-feeding each performance so far.
        pending = list(range(num_outputs)) if remaining > 0 else []
    while pending:
        # Outputs with equal event counts share a batch. Plain sampling (beam 1) is causal,
        # so one batch can run to the longest request and each row be cut to its own.
        groups: dict[tuple[int, int], list[tuple[int, int]]] = {}
        asked: list[tuple[int, int]] = []
        for i in pending:
            remaining = total_steps - outputs[i].num_steps
            target = len(outputs[i]) + rnn_steps_to_generate(remaining, mean_density, sps)
            asked.append((remaining, target - len(outputs[i])))
            key = (len(outputs[i]), 0 if request.beam_size == 1 else target)
            groups.setdefault(key, []).append((i, target))
        logging.info('%d output(s) need up to %d more steps; asking for up to %d more events',
                     len(pending), max(a for a, _ in asked), max(b for _, b in asked))
        for members in groups.values():
            longest = max(target for _, target in members)
            generated = sampler.generate([outputs[i] for i, _ in members], longest,
                                         rng=rng, **options)
            for (i, target), events in zip(members, generated):
                events.truncate(target)
                outputs[i] = events
        if not fill_generate_section:
            break
        pending = [i for i in pending if outputs[i].num_steps < total_steps]

    results = []
    for events in outputs:
        events.set_length(total_steps)
        results.append(events.to_sequence(max_note_duration=MAX_NOTE_DURATION_SECONDS))
    return results
