"""Performance RNN's configs, encoders and control signals (REFERENCE.md "Performance encoding",
"Conditioning and control signals", "Performance RNN configs").

A config's `encoder` spec is {"type": T, "num_velocity_bins": n, ...} with T one of
performance_one_hot, performance_one_hot_index, performance_modulo or
note_performance; the first three also take max_shift_steps (default 100). Config keys:
  control_signals        list of {"type": "note_density", "window_size_seconds",
                         "density_bin_ranges"} / {"type": "pitch_histogram",
                         "window_size_seconds"}; makes the encoder conditional;
  optional_conditioning  true: the controls can be switched off (one more input);
  note_performance       true: extract one event per note (NotePerformance).
"""
from __future__ import annotations

import dataclasses
from typing import Any

from magenta_rnn.music.conditional_encoders import (ConditionalEventSequenceEncoderDecoder,
                                                    MultipleEventSequenceEncoder,
                                                    OptionalEventSequenceEncoder)
from magenta_rnn.music.performance_controls import (NoteDensityPerformanceControlSignal,
                                                    PerformanceControlSignal,
                                                    PitchHistogramPerformanceControlSignal)
from magenta_rnn.music.performance_encoders import performance_target_encoder
from magenta_rnn.rnn.config import ConfigError, EventsRnnConfig

CONFIG_KEYS = frozenset({'control_signals', 'optional_conditioning', 'note_performance'})
DEFAULT_CONFIG = 'performance'

# Config encoder type -> performance_target_encoder kind.
ENCODER_KINDS = {'performance_one_hot': 'one_hot', 'performance_one_hot_index': 'one_hot_index',
                 'performance_modulo': 'modulo', 'note_performance': 'note'}
CONTROL_SIGNALS = {'note_density': NoteDensityPerformanceControlSignal,
                   'pitch_histogram': PitchHistogramPerformanceControlSignal}


@dataclasses.dataclass
class PerformanceSetup:
    """What the pipeline and trainer need from a Performance RNN config."""
    encoder: Any                                   # Conditional(...) when controls are given
    control_signals: list[PerformanceControlSignal]
    optional_conditioning: bool
    num_velocity_bins: int
    note_performance: bool
    steps_per_second: int


def _where(config: EventsRnnConfig) -> str:
    return config.source or config.id


def control_signals(config: EventsRnnConfig) -> list[PerformanceControlSignal]:
    """The config's control signals, in config order (density before pitch, as the original)."""
    signals = []
    for spec in config.extra.get('control_signals', []) or []:
        spec = dict(spec)
        kind = spec.pop('type', None)
        if kind not in CONTROL_SIGNALS:
            raise ConfigError(f'{_where(config)}: unknown control signal type {kind!r}; '
                              f'expected one of {", ".join(CONTROL_SIGNALS)}')
        try:
            signals.append(CONTROL_SIGNALS[kind](**spec))
        except TypeError as e:
            raise ConfigError(f'{_where(config)}: bad {kind} control signal ({e})') from None
    return signals


def setup(config: EventsRnnConfig) -> PerformanceSetup:
    spec = dict(config.encoder)
    kind = spec.pop('type', None)
    if kind not in ENCODER_KINDS:
        raise ConfigError(f'{_where(config)}: unknown performance encoder type {kind!r}; '
                          f'expected one of {", ".join(ENCODER_KINDS)}')
    num_velocity_bins = spec.pop('num_velocity_bins', 0)
    if not isinstance(num_velocity_bins, int) or not 0 <= num_velocity_bins <= 127:
        raise ConfigError(f'{_where(config)}: num_velocity_bins must be an integer in 0..127, '
                          f'got {num_velocity_bins!r}')
    note_performance = bool(config.extra.get('note_performance', False))
    if (kind == 'note_performance') != note_performance:
        raise ConfigError(f'{_where(config)}: the note_performance encoder and '
                          '"note_performance": true go together')
    if note_performance and num_velocity_bins == 0:
        raise ConfigError(f'{_where(config)}: note_performance needs num_velocity_bins > 0')
    unknown = set(spec) - ({'max_shift_steps'} if kind != 'note_performance' else set())
    if unknown:
        raise ConfigError(f'{_where(config)}: unknown {kind} encoder settings '
                          f'{", ".join(sorted(unknown))}')
    try:
        target = performance_target_encoder(ENCODER_KINDS[kind], num_velocity_bins, **spec)
    except (TypeError, ValueError) as e:
        raise ConfigError(f'{_where(config)}: bad {kind} encoder settings ({e})') from None
    signals = control_signals(config)
    optional = bool(config.extra.get('optional_conditioning', False))
    if optional and not signals:
        raise ConfigError(f'{_where(config)}: optional_conditioning needs control_signals')
    encoder = target
    if signals:
        control_encoder: Any = MultipleEventSequenceEncoder([s.encoder for s in signals])
        if optional:
            control_encoder = OptionalEventSequenceEncoder(control_encoder)
        encoder = ConditionalEventSequenceEncoderDecoder(control_encoder, target)
    return PerformanceSetup(encoder=encoder, control_signals=signals,
                            optional_conditioning=optional, num_velocity_bins=num_velocity_bins,
                            note_performance=note_performance,
                            steps_per_second=config.steps_per_second)


def build_encoder(config: EventsRnnConfig) -> Any:
    return setup(config).encoder


def validate_config(config: EventsRnnConfig) -> None:
    if config.steps_per_second <= 0:
        raise ConfigError(f'{_where(config)}: steps_per_second must be positive')
    setup(config)
