"""Melody RNN generation: the melody parts of the shared flow (as the original's
melody_rnn_sequence_generator.py)."""
from __future__ import annotations

import functools

from magenta_rnn.melody.model import note_range
from magenta_rnn.music import sequences
from magenta_rnn.music.melodies import Melody, extract_melodies
from magenta_rnn.protobuf import music_pb2
from magenta_rnn.rnn.config import EventsRnnConfig
from magenta_rnn.rnn.sequence_generator import (GenerationParts, PrimerError, Timing, TrackCodec,
                                                metric_empty_track, parse_primer_melody)

DEFAULT_PRIMER = [60]

__all__ = ['DEFAULT_PRIMER', 'Melody', 'PrimerError', 'check_monophonic', 'melody_parts',
           'parse_primer_melody']


def check_monophonic(primer: music_pb2.NoteSequence, config: EventsRnnConfig, name: str) -> None:
    """Raises PrimerError when the primer's melody has notes starting together."""
    quantized = sequences.quantize_note_sequence(primer, config.steps_per_quarter)
    _, stats = extract_melodies(quantized, min_bars=0, min_unique_pitches=1,
                                gap_bars=float('inf'), ignore_polyphonic_notes=False)
    if any(s.name == 'polyphonic_tracks_discarded' and s.count for s in stats):
        raise PrimerError(f'{name} is polyphonic (several notes start together); melody models '
                          'need a primer with one note at a time')


def _extract(quantized: music_pb2.NoteSequence, search_start_step: int) -> Melody | None:
    melodies, _ = extract_melodies(quantized, search_start_step=search_start_step, min_bars=0,
                                   min_unique_pitches=1, gap_bars=float('inf'),
                                   ignore_polyphonic_notes=True)
    return melodies[0] if melodies and len(melodies[0]) else None


def _prepare(config: EventsRnnConfig, melody: Melody):
    min_note, max_note, key = note_range(config)
    amount = melody.squash(min_note, max_note, key)
    return lambda generated: generated.transpose(-amount)


def melody_parts(config: EventsRnnConfig) -> GenerationParts:
    """Metric timing; the primer squashed into the config's range, the outputs moved back."""
    codec = TrackCodec(extract=_extract, empty=metric_empty_track(Melody),
                       prepare=functools.partial(_prepare, config),
                       to_sequence=lambda melody, qpm: melody.to_sequence(qpm=qpm))
    return GenerationParts(Timing(steps_per_quarter=config.steps_per_quarter), codec)
