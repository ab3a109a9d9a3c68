"""Performance RNN generation: its primers, its absolute timing and its control signals
(performance/controls.py) as the parts of the one generation flow (rnn/sequence_generator.py;
REFERENCE.md "Performance generation").

Timing is absolute (steps_per_second, 100 by default: 10 ms steps). Events carry their own
durations, so how many to sample is only known afterwards: generation goes in rounds, each
asking for ceil(4 * notes per second * seconds left) more events, until the section is
filled; the result is cut to the exact length and written with notes no longer than 5 s.
An empty primer becomes up to one second of silence.
"""
from __future__ import annotations

import copy
import dataclasses
import logging
import math
from typing import Any

import numpy as np

from magenta_rnn.music import constants
from magenta_rnn.music.performance_extraction import extract_performances
from magenta_rnn.music.performances import NotePerformance, Performance, PerformanceEvent
from magenta_rnn.performance.controls import (ConditionedInputs, ControlSchedule,
                                              PerformanceGenerateError, parse_literal,
                                              resolve_controls)
from magenta_rnn.protobuf import music_pb2
from magenta_rnn.rnn import sequence_generator
from magenta_rnn.rnn.sampler import EventsSampler
from magenta_rnn.rnn.sequence_generator import (GenerationParts, Sampling, Timing,
                                                TrackCodec)

MAX_NOTE_DURATION_SECONDS = 5.0
RNN_STEPS_PER_NOTE = 4.0  # the original's guess of events per note


# ----------------------------------------------------------------------------------
# Primers.

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
    melody = sequence_generator.parse_primer_melody(text)
    return melody.to_sequence(qpm=constants.DEFAULT_QUARTERS_PER_MINUTE)


def empty_primer() -> music_pb2.NoteSequence:
    sequence = music_pb2.NoteSequence()
    sequence.ticks_per_quarter = constants.STANDARD_PPQ
    return sequence


# ----------------------------------------------------------------------------------
# Timing: the section is filled in rounds.

def rnn_steps_to_generate(remaining_steps: int, mean_note_density: float,
                          steps_per_second: int) -> int:
    """Events to ask for to fill remaining_steps: 4 per note at the mean requested note
    density (at least 1 note per second)."""
    note_density = max(1.0, mean_note_density)
    return int(math.ceil(RNN_STEPS_PER_NOTE * note_density * remaining_steps / steps_per_second))


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


class FillTimeInRounds:
    """The end condition of absolute timing: the section is filled in rounds (see
    RoundEnds); plain sampling runs all rounds in one pass, beam search round by round."""

    def __init__(self, mean_note_density: float, steps_per_second: int,
                 section: tuple[float, float], fill_generate_section: bool = True):
        self.mean_note_density = mean_note_density
        self.steps_per_second = steps_per_second
        self.section = section
        self.fill_generate_section = fill_generate_section

    def total_steps(self, performance: Any, start_step: int, end_step: int) -> int:
        total_steps = performance.num_steps + (end_step - start_step)
        if total_steps <= 0:
            raise PerformanceGenerateError(
                f'nothing to generate: the section [{self.section[0]}, {self.section[1]}) s '
                'is empty')
        if not len(performance):
            performance.set_length(min(performance.max_shift_steps, total_steps))
        return total_steps

    def extend(self, sampler: EventsSampler, performance: Any, num_outputs: int,
               total_steps: int, sampling: Sampling, rng: np.random.Generator) -> list[Any]:
        outputs: list[Any] = [performance] * num_outputs  # the sampler copies its primers
        remaining = total_steps - performance.num_steps
        if remaining <= 0:
            return [copy.deepcopy(performance) for _ in range(num_outputs)]
        if sampling.beam_size == 1 and sampling.branch_factor == 1:
            # Plain sampling: all rounds in one pass, each output keeping its RNN state.
            round_ends = RoundEnds(performance, total_steps, self.mean_note_density,
                                   self.steps_per_second, self.fill_generate_section)
            logging.info('%d output(s) need %d more steps; asking for %d more events first',
                         num_outputs, remaining, round_ends.first_round_end - len(performance))
            return sampler.sample_until(outputs, round_ends, temperature=sampling.temperature,
                                        rng=rng)
        # Beam search scores whole rounds, so it goes round by round as the original,
        # re-feeding each performance so far.
        pending = list(range(num_outputs))
        while pending:
            # Outputs with equal event counts share a batch. Plain sampling (beam 1) is
            # causal, so one batch can run to the longest request and each row be cut to its
            # own.
            groups: dict[tuple[int, int], list[tuple[int, int]]] = {}
            asked: list[tuple[int, int]] = []
            for i in pending:
                remaining = total_steps - outputs[i].num_steps
                target = len(outputs[i]) + rnn_steps_to_generate(
                    remaining, self.mean_note_density, self.steps_per_second)
                asked.append((remaining, target - len(outputs[i])))
                key = (len(outputs[i]), 0 if sampling.beam_size == 1 else target)
                groups.setdefault(key, []).append((i, target))
            logging.info('%d output(s) need up to %d more steps; asking for up to %d more '
                         'events', len(pending), max(a for a, _ in asked),
                         max(b for _, b in asked))
            for members in groups.values():
                longest = max(target for _, target in members)
                generated = sampler.generate([outputs[i] for i, _ in members], longest,
                                             rng=rng, **dataclasses.asdict(sampling))
                for (i, target), events in zip(members, generated):
                    events.truncate(target)
                    outputs[i] = events
            if not self.fill_generate_section:
                break
            pending = [i for i in pending if outputs[i].num_steps < total_steps]
        return outputs

    def finish(self, performance: Any, total_steps: int) -> None:
        performance.set_length(total_steps)


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

    def sampling(self) -> Sampling:
        return Sampling(temperature=self.temperature, beam_size=self.beam_size,
                        branch_factor=self.branch_factor,
                        steps_per_iteration=self.steps_per_iteration)


def performance_parts(performance_setup: Any, request: GenerateRequest,
                      section: tuple[float, float],
                      fill_generate_section: bool = True) -> GenerationParts:
    """Absolute timing, the control signals as the sampler's inputs, and the rounds."""
    s = performance_setup

    def extract(quantized: music_pb2.NoteSequence, search_start_step: int) -> Any:
        extracted, _ = extract_performances(quantized, start_step=search_start_step,
                                            num_velocity_bins=s.num_velocity_bins,
                                            note_performance=s.note_performance)
        return extracted[0] if extracted and len(extracted[0]) else None

    def empty(start_step: int, quantized: music_pb2.NoteSequence) -> Performance:
        if s.note_performance:
            raise PerformanceGenerateError(
                'a note_performance config cannot start from silence: give a primer '
                '(--primer_pitches, --primer_melody or --primer_midi)')
        return Performance(steps_per_second=s.steps_per_second, start_step=start_step,
                           num_velocity_bins=s.num_velocity_bins)

    values, disable, mean_density = resolve_controls(s, request.controls,
                                                     request.disable_conditioning)

    def inputs(total_steps: int) -> ConditionedInputs | None:
        if not s.control_signals:
            return None
        if s.note_performance:
            raise PerformanceGenerateError('control signals with note_performance configs '
                                           'are not supported')
        return ConditionedInputs(s.encoder, ControlSchedule(values, total_steps, disable))

    codec = TrackCodec(
        extract=extract, empty=empty,
        to_sequence=lambda performance, qpm: performance.to_sequence(
            max_note_duration=MAX_NOTE_DURATION_SECONDS))
    end = FillTimeInRounds(mean_density, s.steps_per_second, section, fill_generate_section)
    return GenerationParts(Timing(steps_per_second=s.steps_per_second), codec, end, inputs)


def generate_performances(stepper: Any, performance_setup: Any, primer: music_pb2.NoteSequence,
                          start_time: float, end_time: float, num_outputs: int,
                          request: GenerateRequest | None = None,
                          rng: np.random.Generator | None = None,
                          fill_generate_section: bool = True,
                          continuation_only: bool = False) -> list[music_pb2.NoteSequence]:
    """Extends `primer` over [start_time, end_time) num_outputs times, sampled together.

    stepper: an EventsRnn or NumpyStepper; performance_setup: performance.model.setup(config).
    continuation_only: only what was generated, from the end of the primer's last note on
    (sequence_generator.without_primer).
    """
    request = request or GenerateRequest()
    parts = performance_parts(performance_setup, request, (start_time, end_time),
                              fill_generate_section)
    return sequence_generator.generate_sequences(
        stepper, performance_setup.encoder, parts, primer, start_time, end_time, num_outputs,
        request.sampling(), rng=rng, continuation_only=continuation_only)
