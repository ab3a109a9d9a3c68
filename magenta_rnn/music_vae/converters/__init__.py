"""MusicVAE data converters: NoteSequence <-> tensors (REFERENCE.md "MusicVAE converter sizes",
"MusicVAE converters"). TF-free.

One module per kind of music, all on `base` (ConverterTensors, BaseNoteSequenceConverter,
quantizing, padding, the augmenter): `melody`, `drums` (and the named drum pitch
classes), `groove` (GrooVAE), `trio` (melody, bass, drums) and `multiperf`
(multi-instrument performances). A config's "data_converter" JSON names its type here:

    converter = build_converter({'type': 'melody', 'slice_bars': 2})
    tensors = converter.to_tensors(note_sequence)      # ConverterTensors
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from magenta_rnn.music_vae.converters import drums, groove, melody, multiperf, trio
from magenta_rnn.music_vae.converters.base import (
    BASS_PROGRAMS, MEL_PROGRAMS, MODES, OUTPUT_VELOCITY, PIANO_MAX_MIDI_PITCH,
    PIANO_MIN_MIDI_PITCH, UNQUANTIZABLE, BaseNoteSequenceConverter, ConverterTensors,
    MultipleExtractedExamplesError, NoExtractedExamplesError, NoteSequenceAugmenter,
    combine_converter_tensors, maybe_pad_sequences, maybe_sample_items, np_onehot,
    quantize_in_bars)
from magenta_rnn.music_vae.converters.drums import (
    DRUM_PITCH_CLASSES, FULL_DRUM_PITCH_CLASSES, REDUCED_DRUM_PITCH_CLASSES,
    ROLAND_DRUM_PITCH_CLASSES, DrumsConverter)
from magenta_rnn.music_vae.converters.groove import GrooveConverter
from magenta_rnn.music_vae.converters.melody import OneHotMelodyConverter
from magenta_rnn.music_vae.converters.multiperf import MultiInstrumentPerformanceConverter
from magenta_rnn.music_vae.converters.trio import TrioConverter

# The "type" of a config's data_converter -> the builder from the rest of its spec.
REGISTRY: dict[str, Callable[[dict[str, Any]], BaseNoteSequenceConverter]] = {
    'melody': melody.from_spec,
    'drums': drums.from_spec,
    'groove': groove.from_spec,
    'trio': lambda spec: trio.TrioConverter(**spec),
    'multi_instrument_performance':
        lambda spec: multiperf.MultiInstrumentPerformanceConverter(**spec),
}


def build_converter(spec: dict[str, Any]) -> BaseNoteSequenceConverter:
    """A converter from its JSON spec: {"type": "melody", ...constructor arguments}."""
    spec = dict(spec)
    kind = spec.pop('type', None)
    if kind not in REGISTRY:
        raise ValueError(f'data_converter: unsupported converter type {kind!r} '
                         f'(supported: {", ".join(REGISTRY)})')
    return REGISTRY[kind](spec)


__all__ = [
    'BASS_PROGRAMS', 'DRUM_PITCH_CLASSES', 'FULL_DRUM_PITCH_CLASSES', 'MEL_PROGRAMS', 'MODES',
    'OUTPUT_VELOCITY', 'PIANO_MAX_MIDI_PITCH', 'PIANO_MIN_MIDI_PITCH',
    'REDUCED_DRUM_PITCH_CLASSES', 'REGISTRY', 'ROLAND_DRUM_PITCH_CLASSES', 'UNQUANTIZABLE',
    'BaseNoteSequenceConverter', 'ConverterTensors', 'DrumsConverter', 'GrooveConverter',
    'MultiInstrumentPerformanceConverter', 'MultipleExtractedExamplesError',
    'NoExtractedExamplesError', 'NoteSequenceAugmenter', 'OneHotMelodyConverter',
    'TrioConverter', 'build_converter', 'combine_converter_tensors', 'maybe_pad_sequences',
    'maybe_sample_items', 'np_onehot', 'quantize_in_bars']
