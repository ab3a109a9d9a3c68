"""From a primer NoteSequence to generated NoteSequences (the flow of the original's
melody_rnn_sequence_generator.py).

The flow shared by Melody and Drums RNN: quantize the primer, extract one
track from it, pad it to the start of the generate section, extend it with the
sampler, and turn it back into a NoteSequence. A TrackCodec carries what differs
per model (how a track is extracted, prepared, and written out).
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import numpy as np

from magenta_rnn.music import sequences
from magenta_rnn.music.constants import DEFAULT_QUARTERS_PER_MINUTE
from magenta_rnn.protobuf import music_pb2
from magenta_rnn.rnn.sampler import EventsSampler


class SequenceGeneratorError(ValueError):
    pass


@dataclasses.dataclass(frozen=True)
class TrackCodec:
    """What a model does around the shared generation flow."""
    # (quantized primer, search_start_step) -> the extracted track, or None.
    extract: Callable[[music_pb2.NoteSequence, int], Any]
    # (start_step, steps_per_bar, steps_per_quarter) -> an empty track.
    empty: Callable[[int, int, int], Any]
    # (track) -> an undo function applied to each generated track (melody: squash/transpose back).
    prepare: Callable[[Any], Callable[[Any], None]]
    # (track, qpm) -> NoteSequence.
    to_sequence: Callable[[Any, float], music_pb2.NoteSequence]


def generate_sequences(sampler: EventsSampler, codec: TrackCodec, steps_per_quarter: int,
                       primer: music_pb2.NoteSequence, start_time: float, end_time: float,
                       num_outputs: int, temperature: float = 1.0, beam_size: int = 1,
                       branch_factor: int = 1, steps_per_iteration: int = 1,
                       rng: np.random.Generator | None = None) -> list[music_pb2.NoteSequence]:
    """Extends `primer` over [start_time, end_time) num_outputs times, in one batch."""
    qpm = primer.tempos[0].qpm if primer.tempos and primer.tempos[0].qpm else DEFAULT_QUARTERS_PER_MINUTE
    steps_per_second = sequences.steps_per_quarter_to_steps_per_second(steps_per_quarter, qpm)
    last_end_time = max((n.end_time for n in primer.notes), default=0.0)
    if last_end_time > start_time:
        raise SequenceGeneratorError(
            f'the generate section starts at {start_time:.3f} s, before the primer ends '
            f'({last_end_time:.3f} s); this model can only extend sequences')
    quantized = sequences.quantize_note_sequence(primer, steps_per_quarter)
    track = codec.extract(quantized, 0)
    start_step = sequences.quantize_to_step(start_time, steps_per_second, quantize_cutoff=0.0)
    end_step = sequences.quantize_to_step(end_time, steps_per_second, quantize_cutoff=1.0)
    if not track:
        steps_per_bar = int(sequences.steps_per_bar_in_quantized_sequence(quantized))
        track = codec.empty(max(0, start_step - 1), steps_per_bar, steps_per_quarter)
    track.set_length(start_step - track.start_step)
    undo = codec.prepare(track)
    generated = sampler.generate(
        [track] * num_outputs, end_step - track.start_step, temperature=temperature,
        beam_size=beam_size, branch_factor=branch_factor,
        steps_per_iteration=steps_per_iteration, rng=rng)
    outputs = []
    for events in generated:
        undo(events)
        outputs.append(codec.to_sequence(events, qpm))
    return outputs
