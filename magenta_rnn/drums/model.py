"""Drums RNN's configs and encoders (REFERENCE.md "Lookback encoder", "Drum encoding",
"Drums RNN configs").

A config's `encoder` spec is one of
  {"type": "multi_drum_one_hot", "drum_type_pitches": [[...], ...]}  (one-hot over drum sets)
  {"type": "drum_lookback", "drum_type_pitches": ..., "lookback_distances": [...],
   "binary_counter_bits": n}                                          (lookback inputs)
`drum_type_pitches` is optional and defaults to the 9-piece kit.
"""
from __future__ import annotations

from typing import Any

from magenta_rnn.music.drum_encoders import MultiDrumOneHotEncoding
from magenta_rnn.music.encoders import (LookbackEventSequenceEncoderDecoder,
                                        OneHotEventSequenceEncoderDecoder)
from magenta_rnn.rnn.config import ConfigError, EventsRnnConfig

# attention_layout: "whole_stack" wraps the attention around all layers, the layout Magenta.js
# runs (for a browser export); default "first_layer", the original's layout since May 2017.
CONFIG_KEYS: frozenset[str] = frozenset({'attention_layout'})
DEFAULT_CONFIG = 'drum_kit'


def _drum_encoding(config: EventsRnnConfig, spec: dict[str, Any]) -> MultiDrumOneHotEncoding:
    pitches = spec.pop('drum_type_pitches', None)
    if pitches is not None:
        if not pitches or not all(isinstance(group, list) and group for group in pitches):
            raise ConfigError(f'{config.source or config.id}: drum_type_pitches must be a '
                              'non-empty list of non-empty pitch lists')
        for group in pitches:
            for pitch in group:
                if not isinstance(pitch, int) or not 0 <= pitch <= 127:
                    raise ConfigError(f'{config.source or config.id}: drum pitch {pitch!r} '
                                      'is not an integer in 0..127')
    return MultiDrumOneHotEncoding(pitches)


def build_encoder(config: EventsRnnConfig) -> Any:
    spec = dict(config.encoder)
    kind = spec.pop('type', None)
    where = config.source or config.id
    if kind not in ('multi_drum_one_hot', 'drum_lookback'):
        raise ConfigError(f'{where}: unknown drums encoder type {kind!r}; '
                          'expected multi_drum_one_hot or drum_lookback')
    encoding = _drum_encoding(config, spec)
    try:
        if kind == 'multi_drum_one_hot':
            return OneHotEventSequenceEncoderDecoder(encoding, **spec)
        return LookbackEventSequenceEncoderDecoder(encoding, **spec)
    except TypeError as e:
        raise ConfigError(f'{where}: bad {kind} encoder settings ({e})') from None


def validate_config(config: EventsRnnConfig) -> None:
    if config.steps_per_quarter <= 0:
        raise ConfigError(f'{config.source or config.id}: steps_per_quarter must be positive')
    layout = config.attention_layout
    if layout not in ('first_layer', 'whole_stack'):
        raise ConfigError(f'{config.source or config.id}: attention_layout must be '
                          f'"first_layer" or "whole_stack", not {layout!r}')
    build_encoder(config)
