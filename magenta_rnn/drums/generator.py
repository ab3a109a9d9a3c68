"""Drums RNN generation: the drum parts of the shared flow (REFERENCE.md
"Melody and drums generation")."""
from __future__ import annotations

import ast

from magenta_rnn.music.constants import MAX_MIDI_PITCH, MIN_MIDI_PITCH
from magenta_rnn.music.drums import DrumTrack, extract_drum_tracks
from magenta_rnn.protobuf import music_pb2
from magenta_rnn.rnn.config import EventsRnnConfig
from magenta_rnn.rnn.sequence_generator import (GenerationParts, PrimerError, Timing, TrackCodec,
                                                metric_empty_track)

DEFAULT_PRIMER = [frozenset([36])]  # one bass drum hit

__all__ = ['DEFAULT_PRIMER', 'DrumTrack', 'PrimerError', 'drums_parts', 'parse_primer_drums']


def parse_primer_drums(text: str) -> DrumTrack:
    """`--primer_drums="[(36, 42), (), (42,)]"` -> DrumTrack (built at 4 steps per quarter,
    as the original's CLI does for every config)."""
    example = 'e.g. "[(36, 42), (), (42,)]"'
    try:
        steps = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        raise PrimerError(f'--primer_drums: {text!r} is not a Python list of tuples of MIDI '
                          f'pitches, {example}') from None
    if not isinstance(steps, (list, tuple)) or not steps:
        raise PrimerError(f'--primer_drums: {text!r} is not a non-empty list of tuples, {example}')
    events = []
    for step in steps:
        pitches = (step,) if isinstance(step, int) else step
        if (not isinstance(pitches, (list, tuple, set, frozenset))
                or not all(isinstance(p, int) and not isinstance(p, bool) for p in pitches)):
            raise PrimerError(f'--primer_drums: {step!r} is not a tuple of MIDI pitches, {example}')
        bad = [p for p in pitches if not MIN_MIDI_PITCH <= p <= MAX_MIDI_PITCH]
        if bad:
            raise PrimerError(f'--primer_drums: {bad[0]} is not a MIDI pitch (0..127)')
        events.append(frozenset(pitches))
    return DrumTrack(events)


def _extract(quantized: music_pb2.NoteSequence, search_start_step: int) -> DrumTrack | None:
    tracks, _ = extract_drum_tracks(quantized, search_start_step=search_start_step, min_bars=0,
                                    gap_bars=float('inf'), ignore_is_drum=True)
    return tracks[0] if tracks and len(tracks[0]) else None


def drums_parts(config: EventsRnnConfig) -> GenerationParts:
    """Metric timing; drum tracks need no preparation."""
    codec = TrackCodec(extract=_extract, empty=metric_empty_track(DrumTrack),
                       to_sequence=lambda track, qpm: track.to_sequence(qpm=qpm))
    return GenerationParts(Timing(steps_per_quarter=config.steps_per_quarter), codec)
