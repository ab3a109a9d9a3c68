"""Melody RNN generation: primers and the melody side of the shared flow (as the
original's melody_rnn_sequence_generator.py)."""
from __future__ import annotations

import ast
import functools

from magenta_rnn.melody.model import note_range
from magenta_rnn.music import sequences
from magenta_rnn.music.constants import MAX_MIDI_PITCH, MELODY_NO_EVENT
from magenta_rnn.music.melodies import Melody, extract_melodies
from magenta_rnn.protobuf import music_pb2
from magenta_rnn.rnn.config import EventsRnnConfig
from magenta_rnn.rnn.sequence_generator import TrackCodec

DEFAULT_PRIMER = [60]


class PrimerError(ValueError):
    pass


def parse_primer_melody(text: str) -> Melody:
    """`--primer_melody="[60, -2, 60, -2, 67, -2, 67, -2]"` -> Melody."""
    try:
        events = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        raise PrimerError(f'--primer_melody: {text!r} is not a Python list of integers, '
                          'e.g. "[60, -2, 60, -2, 67, -2, 67, -2]"') from None
    if isinstance(events, int):
        events = [events]
    if (not isinstance(events, (list, tuple)) or not events
            or not all(isinstance(e, int) and not isinstance(e, bool) for e in events)):
        raise PrimerError(f'--primer_melody: {text!r} is not a non-empty list of integers')
    bad = [e for e in events if not MELODY_NO_EVENT <= e <= MAX_MIDI_PITCH]
    if bad:
        raise PrimerError(f'--primer_melody: {bad[0]} is not a melody event; use a MIDI pitch '
                          '0..127, -1 (note off) or -2 (no event)')
    return Melody(events)


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


def _empty(start_step: int, steps_per_bar: int, steps_per_quarter: int) -> Melody:
    return Melody([], start_step=start_step, steps_per_bar=steps_per_bar,
                  steps_per_quarter=steps_per_quarter)


def _prepare(config: EventsRnnConfig, melody: Melody):
    min_note, max_note, key = note_range(config)
    amount = melody.squash(min_note, max_note, key)
    return lambda generated: generated.transpose(-amount)


def melody_codec(config: EventsRnnConfig) -> TrackCodec:
    return TrackCodec(extract=_extract, empty=_empty,
                      prepare=functools.partial(_prepare, config),
                      to_sequence=lambda melody, qpm: melody.to_sequence(qpm=qpm))
