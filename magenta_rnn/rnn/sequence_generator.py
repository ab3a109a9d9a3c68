"""From a primer NoteSequence to generated NoteSequences: the one generation flow of every
events model (Melody, Drums and Performance RNN), as the original's
melody_rnn_sequence_generator.py, drums_rnn_sequence_generator.py and
performance_sequence_generator.py do (REFERENCE.md "Melody and drums generation",
"Performance generation").

The flow: check that the primer ends before the generate section, quantize it, extract
one track, pad the track to the section's start, extend it with the sampler until the
model's end condition holds, and write it back as a NoteSequence. What differs per model
are its parts (GenerationParts):
- timing: metric (steps per quarter at the primer's tempo; melody, drums) or absolute
  (steps per second; performance);
- a TrackCodec: how a track is extracted from the primer, started when the primer gives
  none, prepared for the model (melody: squashed into its range) and written out;
- inputs: the sampler's inputs_fn for the total length (Performance RNN's control
  signals), or none (the encoder's inputs);
- an end condition: a number of events known in advance (metric models: one event per
  step), or, for events that carry their own durations, the model's own rule.
"""
from __future__ import annotations

import ast
import dataclasses
from collections.abc import Callable
from typing import Any, Protocol

import numpy as np

from magenta_rnn.music import sequences
from magenta_rnn.music.constants import (DEFAULT_QUARTERS_PER_MINUTE, MAX_MIDI_PITCH,
                                         MELODY_NO_EVENT)
from magenta_rnn.music.melodies import Melody
from magenta_rnn.protobuf import music_pb2
from magenta_rnn.rnn.sampler import EventsSampler

InputsFn = Callable[[list[Any], bool], list[np.ndarray]]


class SequenceGeneratorError(ValueError):
    """A generate request the model cannot serve; the message says why."""


class PrimerError(SequenceGeneratorError):
    """A malformed primer flag; the message names the flag."""


def parse_primer_melody(text: str) -> Melody:
    """`--primer_melody="[60, -2, 60, -2, 67, -2, 67, -2]"` -> Melody (every model that takes
    a melody primer parses it here)."""
    try:
        events = ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        raise PrimerError(f'--primer_melody: {text!r} is not a Python list of integers, '
                          'e.g. "[60, -2, 60, -2, 67, -2, 67, -2]"') from None
    if isinstance(events, int) and not isinstance(events, bool):
        events = [events]
    if (not isinstance(events, (list, tuple)) or not events
            or not all(isinstance(e, int) and not isinstance(e, bool) for e in events)):
        raise PrimerError(f'--primer_melody: {text!r} is not a non-empty list of integers')
    bad = [e for e in events if not MELODY_NO_EVENT <= e <= MAX_MIDI_PITCH]
    if bad:
        raise PrimerError(f'--primer_melody: {bad[0]} is not a melody event; use a MIDI pitch '
                          '0..127, -1 (note off) or -2 (no event)')
    return Melody(list(events))


@dataclasses.dataclass(frozen=True)
class Timing:
    """Metric (steps_per_quarter, at the primer's tempo) or absolute (steps_per_second)."""
    steps_per_quarter: int = 0
    steps_per_second: int = 0

    def rate(self, qpm: float) -> float:
        """Steps per second at `qpm`."""
        if self.steps_per_quarter:
            return sequences.steps_per_quarter_to_steps_per_second(self.steps_per_quarter, qpm)
        return self.steps_per_second

    def quantize(self, primer: music_pb2.NoteSequence) -> music_pb2.NoteSequence:
        if self.steps_per_quarter:
            return sequences.quantize_note_sequence(primer, self.steps_per_quarter)
        return sequences.quantize_note_sequence_absolute(primer, self.steps_per_second)


def _nothing_to_undo(track: Any) -> Callable[[Any], None]:
    return lambda generated: None


@dataclasses.dataclass(frozen=True)
class TrackCodec:
    """How a model's tracks come from and go back to NoteSequences."""
    # (quantized primer, search_start_step) -> the extracted track, or None.
    extract: Callable[[music_pb2.NoteSequence, int], Any]
    # (generate start step, quantized primer) -> the track to start from without one.
    empty: Callable[[int, music_pb2.NoteSequence], Any]
    # (track, qpm) -> NoteSequence.
    to_sequence: Callable[[Any, float], music_pb2.NoteSequence]
    # (track) -> an undo function applied to each generated track (melody: transpose back).
    prepare: Callable[[Any], Callable[[Any], None]] = _nothing_to_undo


def metric_empty_track(track_class: type) -> Callable[[int, music_pb2.NoteSequence], Any]:
    """codec.empty of a metric model: an empty track one step before the generate section
    (as the original's melody and drums generators), in the primer's bars."""
    def empty(start_step: int, quantized: music_pb2.NoteSequence) -> Any:
        return track_class([], start_step=max(0, start_step - 1),
                           steps_per_bar=int(sequences.steps_per_bar_in_quantized_sequence(
                               quantized)),
                           steps_per_quarter=quantized.quantization_info.steps_per_quarter)
    return empty


@dataclasses.dataclass(frozen=True)
class Sampling:
    """The generator arguments every events model takes."""
    temperature: float = 1.0
    beam_size: int = 1
    branch_factor: int = 1
    steps_per_iteration: int = 1


class EndCondition(Protocol):
    """When generation stops, in the model's own steps."""

    def total_steps(self, track: Any, start_step: int, end_step: int) -> int:
        """The length to reach, given the track padded to start_step; may pad it further."""

    def extend(self, sampler: EventsSampler, track: Any, num_outputs: int, total_steps: int,
               sampling: Sampling, rng: np.random.Generator) -> list[Any]:
        """num_outputs extensions of `track` (not modified)."""

    def finish(self, track: Any, total_steps: int) -> None:
        """Cuts or pads a generated track to its final length."""


class EventPerStep:
    """Metric models: one event per step, so the events to sample are known in advance."""

    def total_steps(self, track: Any, start_step: int, end_step: int) -> int:
        return end_step - track.start_step

    def extend(self, sampler: EventsSampler, track: Any, num_outputs: int, total_steps: int,
               sampling: Sampling, rng: np.random.Generator) -> list[Any]:
        return sampler.generate([track] * num_outputs, total_steps, rng=rng,
                                **dataclasses.asdict(sampling))

    def finish(self, track: Any, total_steps: int) -> None:
        pass


@dataclasses.dataclass(frozen=True)
class GenerationParts:
    """What one events model brings to the flow."""
    timing: Timing
    codec: TrackCodec
    end: EndCondition = dataclasses.field(default_factory=EventPerStep)
    # (total steps) -> the sampler's inputs_fn, or None for the encoder's own inputs.
    inputs: Callable[[int], InputsFn | None] = lambda total_steps: None


def generate_sequences(stepper: Any, encoder: Any, parts: GenerationParts,
                       primer: music_pb2.NoteSequence, start_time: float, end_time: float,
                       num_outputs: int, sampling: Sampling = Sampling(),
                       rng: np.random.Generator | None = None,
                       continuation_only: bool = False) -> list[music_pb2.NoteSequence]:
    """Extends `primer` over [start_time, end_time) num_outputs times, sampled together.

    stepper: an EventsRnn or NumpyStepper; encoder: the model's sequence encoder.
    continuation_only: each output holds only what the model generated (see
    without_primer), with time 0 at the end of the primer's last note, rounded to the
    nearest step so that the notes stay on the step grid.
    """
    rng = rng if rng is not None else np.random.default_rng()
    qpm = primer.tempos[0].qpm if primer.tempos and primer.tempos[0].qpm else DEFAULT_QUARTERS_PER_MINUTE
    steps_per_second = parts.timing.rate(qpm)
    last_end_time = max((n.end_time for n in primer.notes), default=0.0)
    if last_end_time > start_time:
        raise SequenceGeneratorError(
            f'the generate section starts at {start_time:.3f} s, before the primer ends '
            f'({last_end_time:.3f} s); this model can only extend sequences')
    quantized = parts.timing.quantize(primer)
    track = parts.codec.extract(quantized, 0)
    start_step = sequences.quantize_to_step(start_time, steps_per_second, quantize_cutoff=0.0)
    end_step = sequences.quantize_to_step(end_time, steps_per_second, quantize_cutoff=1.0)
    if track is None:
        track = parts.codec.empty(start_step, quantized)
    track.set_length(start_step - track.start_step)
    undo = parts.codec.prepare(track)
    total_steps = parts.end.total_steps(track, start_step, end_step)
    if len(track) >= total_steps:
        raise SequenceGeneratorError(
            f'the primer and the gap before generation starts take {len(track)} steps, as '
            f'many as the {total_steps} asked for: ask for more than {len(track)}')
    sampler = EventsSampler(stepper, encoder, parts.inputs(total_steps))
    outputs = []
    for events in parts.end.extend(sampler, track, num_outputs, total_steps, sampling, rng):
        parts.end.finish(events, total_steps)
        undo(events)
        sequence = parts.codec.to_sequence(events, qpm)
        if continuation_only:
            # Output notes lie on the step grid: half a step of margin absorbs rounding,
            # and the shift is the primer's end on that grid, so the notes stay on it.
            primer_end = sequences.quantize_to_step(last_end_time, steps_per_second)
            sequence = without_primer(sequence, primer_end / steps_per_second,
                                      (start_step - 0.5) / steps_per_second)
        outputs.append(sequence)
    return outputs


def generate_after_primer(stepper: Any, encoder: Any, parts: GenerationParts,
                          primer: music_pb2.NoteSequence, qpm: float, steps_per_quarter: int,
                          num_steps: int, num_outputs: int, sampling: Sampling = Sampling(),
                          rng: np.random.Generator | None = None,
                          continuation_only: bool = False) -> list[music_pb2.NoteSequence]:
    """generate_sequences for a metric model (melody, drums) asked for num_steps steps of
    a 1/steps_per_quarter quarter note at qpm, primer included: as the original's generate
    commands, generation starts one step after the end of the primer's last note."""
    seconds_per_step = 60.0 / qpm / steps_per_quarter
    last_end_time = max((n.end_time for n in primer.notes), default=0.0)
    return generate_sequences(stepper, encoder, parts, primer, last_end_time + seconds_per_step,
                              num_steps * seconds_per_step, num_outputs, sampling, rng=rng,
                              continuation_only=continuation_only)


def without_primer(sequence: music_pb2.NoteSequence, primer_end: float,
                   generated_from: float) -> music_pb2.NoteSequence:
    """What the model generated after the primer, to be placed right after the primer.

    Keeps the notes that start at `generated_from` (the first generated step) or later; a
    note that started earlier is the primer's, even if it still sounds then. Everything
    moves earlier by `primer_end` (the end of the primer's last note), so the result placed
    at primer_end sounds as the full output did there. The tempo, time signature and key
    in effect at primer_end move to time 0, later ones move with the notes; other timed
    events before generated_from go. subsequence_info.start_time_offset says primer_end
    (left unset when it is 0: then the result equals `sequence`).
    """
    result = music_pb2.NoteSequence()
    result.CopyFrom(sequence)
    del result.notes[:]
    for note in sequence.notes:
        if note.start_time >= generated_from:
            added = result.notes.add()
            added.CopyFrom(note)
            added.start_time -= primer_end
            added.end_time -= primer_end
    states = ('tempos', 'time_signatures', 'key_signatures')
    for field in ('control_changes', 'pitch_bends', 'text_annotations') + states:
        ordered = sorted(getattr(sequence, field), key=lambda event: event.time)
        if field in states:  # the one in effect at primer_end, then the later ones
            kept = [e for e in ordered if e.time <= primer_end][-1:]
            kept += [e for e in ordered if e.time > primer_end]
        else:
            kept = [e for e in ordered if e.time >= generated_from]
        events = getattr(result, field)
        del events[:]
        for event in kept:
            added = events.add()
            added.CopyFrom(event)
            added.time = max(0.0, event.time - primer_end)
    result.total_time = max((note.end_time for note in result.notes), default=0.0)
    if primer_end > 0:
        result.subsequence_info.start_time_offset = primer_end
    return result
