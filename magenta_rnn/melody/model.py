"""Melody RNN's configs and encoders (REFERENCE.md "One-hot encoder", "Lookback encoder",
"Melody encoding", "Melody RNN configs")."""
from __future__ import annotations

from typing import Any

from magenta_rnn.music.encoders import (LookbackEventSequenceEncoderDecoder,
                                        OneHotEventSequenceEncoderDecoder)
from magenta_rnn.music.melody_encoders import KeyMelodyEncoderDecoder, MelodyOneHotEncoding
from magenta_rnn.hparams import HParams
from magenta_rnn.rnn.config import BASE_HPARAMS, ConfigError, EventsRnnConfig

CONFIG_KEYS = frozenset({'min_note', 'max_note', 'transpose_to_key'})
DEFAULT_MIN_NOTE = 48
DEFAULT_MAX_NOTE = 84
DEFAULT_TRANSPOSE_TO_KEY = 0


def note_range(config: EventsRnnConfig) -> tuple[int, int, int | None]:
    """(min_note, max_note exclusive, transpose_to_key) of a melody config."""
    extra = config.extra
    return (extra.get('min_note', DEFAULT_MIN_NOTE), extra.get('max_note', DEFAULT_MAX_NOTE),
            extra.get('transpose_to_key', DEFAULT_TRANSPOSE_TO_KEY))


# --melody_encoder_decoder: value -> (encoder spec, help text), REFERENCE.md "Melody RNN configs".
ENCODER_CHOICES = {
    'onehot': ({'type': 'melody_one_hot'}, 'one-hot pitches (as basic_rnn)'),
    'lookback': ({'type': 'melody_lookback', 'lookback_distances': [16, 32],
                  'binary_counter_bits': 5}, 'lookback features (as lookback_rnn)'),
    'key': ({'type': 'key_melody'}, 'key, contour and metric features (as attention_rnn, '
            'no attention unless --hparams sets attn_length)'),
}


def config_for_encoder(name: str, hparams: str = '') -> EventsRnnConfig:
    """The config --melody_encoder_decoder=name builds: that encoder, notes 48..83 in key 0,
    the base hparams and then `hparams`."""
    spec, text = ENCODER_CHOICES[name]
    merged = HParams(**BASE_HPARAMS)
    if hparams:
        merged.parse(hparams)
    return EventsRnnConfig(
        model='melody_rnn', id=name, description=f'Melody RNN with {text}.',
        encoder=dict(spec), hparams=merged,
        extra={'min_note': DEFAULT_MIN_NOTE, 'max_note': DEFAULT_MAX_NOTE,
               'transpose_to_key': DEFAULT_TRANSPOSE_TO_KEY},
        source=f'--melody_encoder_decoder={name}')


def validate_config(config: EventsRnnConfig) -> None:
    min_note, max_note, key = note_range(config)
    where = config.source or config.id
    if min_note < 0 or max_note > 128:
        raise ConfigError(f'{where}: min_note must be >= 0 and max_note <= 128, '
                          f'got {min_note} and {max_note}')
    if max_note - min_note < 12:
        raise ConfigError(f'{where}: max_note - min_note must be at least 12 (one octave)')
    if key is not None and not 0 <= key <= 11:
        raise ConfigError(f'{where}: transpose_to_key must be null or 0..11, got {key}')


def build_encoder(config: EventsRnnConfig) -> Any:
    min_note, max_note, _ = note_range(config)
    spec = dict(config.encoder)
    kind = spec.pop('type')
    if kind == 'melody_one_hot':
        return OneHotEventSequenceEncoderDecoder(MelodyOneHotEncoding(min_note, max_note), **spec)
    if kind == 'melody_lookback':
        return LookbackEventSequenceEncoderDecoder(MelodyOneHotEncoding(min_note, max_note), **spec)
    if kind == 'key_melody':
        return KeyMelodyEncoderDecoder(min_note, max_note, **spec)
    raise ConfigError(f'{config.source or config.id}: unknown melody encoder type {kind!r}; '
                      'expected melody_one_hot, melody_lookback or key_melody')
