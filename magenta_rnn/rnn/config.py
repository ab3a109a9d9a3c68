"""Events-RNN configs as data: one JSON file per config under configs/<model>/.

`--config` takes a name (a file shipped in the package) or a path to a user's own
JSON file of the same shape. The model package turns the `encoder` spec into an
encoder object; this module only reads, validates and merges hparams.
"""
from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

from magenta_rnn.hparams import HParams, HParamsError, check_json_types, check_values

CONFIGS_DIR = Path(__file__).resolve().parent.parent / 'configs'

# Defaults every events-RNN config starts from (REFERENCE.md "Events RNN configs"); a config's own
# hparams and then --hparams are merged over them.
BASE_HPARAMS: dict[str, Any] = {
    'batch_size': 64,
    'rnn_layer_sizes': [128, 128],
    'dropout_keep_prob': 1.0,
    'attn_length': 0,
    'clip_norm': 3.0,
    'learning_rate': 0.001,
    'residual_connections': False,
    # '' (float32) or 'bfloat16': the recurrent layers compute in bfloat16 when training
    # (variables and checkpoints stay float32); see magenta_rnn.rnn.backends.
    'mixed_precision': '',
}

_COMMON_KEYS = {'model', 'id', 'description', 'encoder', 'hparams',
                'steps_per_quarter', 'steps_per_second'}


class ConfigError(ValueError):
    pass


@dataclasses.dataclass
class EventsRnnConfig:
    """A named model configuration: encoder spec, hparams and model-specific settings."""
    model: str
    id: str
    description: str
    encoder: dict[str, Any]
    hparams: HParams
    steps_per_quarter: int = 4
    steps_per_second: int = 100
    # Model-specific settings (e.g. min_note, max_note, control_signals).
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)
    source: str = ''

    @property
    def attention_layout(self) -> str:
        """'first_layer' (the default) or 'whole_stack', which a drums config may ask for."""
        return self.extra.get('attention_layout', 'first_layer')


def available_configs(model: str) -> list[str]:
    """Names of the configs shipped for `model` (e.g. 'melody_rnn')."""
    return sorted(p.stem for p in (CONFIGS_DIR / model).glob('*.json'))


def config_path(model: str, name_or_path: str) -> Path:
    """The JSON file a `--config` value refers to."""
    if name_or_path.endswith('.json') or os.sep in name_or_path:
        path = Path(name_or_path)
        if not path.is_file():
            raise ConfigError(f'--config: no such config file {name_or_path}')
        return path
    path = CONFIGS_DIR / model / f'{name_or_path}.json'
    if not path.is_file():
        raise ConfigError(f'--config: unknown {model} config {name_or_path!r}; choose one of '
                          f'{", ".join(available_configs(model))} or give a path to a .json file')
    return path


def load_config(model: str, name_or_path: str, hparams: str = '',
                allowed_extra: frozenset[str] | set[str] = frozenset()) -> EventsRnnConfig:
    """Reads a config, checks its keys, and merges `hparams` (the --hparams string) over it."""
    path = config_path(model, name_or_path)
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise ConfigError(f'{path}: not valid JSON ({e})') from None
    if not isinstance(data, dict):
        raise ConfigError(f'{path}: expected a JSON object')
    for key in ('id', 'encoder'):
        if key not in data:
            raise ConfigError(f'{path}: missing required key {key!r}')
    try:
        check_json_types(str(path), data, {'model': str, 'id': str, 'description': str,
                                           'encoder': dict, 'hparams': dict,
                                           'steps_per_quarter': int, 'steps_per_second': int})
    except HParamsError as e:
        raise ConfigError(str(e)) from None
    for key in ('steps_per_quarter', 'steps_per_second'):
        if data.get(key, 1) < 1:
            raise ConfigError(f'{path}: {key} must be at least 1, got {data[key]}')
    if data.get('model', model) != model:
        raise ConfigError(f'{path}: is a {data["model"]} config, not {model}')
    unknown = set(data) - _COMMON_KEYS - set(allowed_extra)
    if unknown:
        raise ConfigError(f'{path}: unknown keys {", ".join(sorted(unknown))}')
    merged = HParams(**BASE_HPARAMS)
    try:
        merged.update(data.get('hparams', {}))
    except HParamsError as e:
        raise ConfigError(f'{path}: {e}') from None
    if hparams:
        merged.parse(hparams)
    check_values(merged)
    return EventsRnnConfig(
        model=model, id=data['id'], description=data.get('description', ''),
        encoder=dict(data['encoder']), hparams=merged,
        steps_per_quarter=int(data.get('steps_per_quarter', 4)),
        steps_per_second=int(data.get('steps_per_second', 100)),
        extra={k: v for k, v in data.items() if k not in _COMMON_KEYS}, source=str(path))


def config_to_json(config: EventsRnnConfig) -> dict[str, Any]:
    """The config as stored in our bundles and shipped defaults (hparams merged in)."""
    return {'model': config.model, 'id': config.id, 'description': config.description,
            'encoder': config.encoder, 'steps_per_quarter': config.steps_per_quarter,
            'steps_per_second': config.steps_per_second, **config.extra,
            'hparams': config.hparams.values()}


def config_from_json(data: dict[str, Any], source: str) -> EventsRnnConfig:
    return EventsRnnConfig(
        model=data['model'], id=data['id'], description=data.get('description', ''),
        encoder=data['encoder'], hparams=HParams(**data['hparams']),
        steps_per_quarter=data.get('steps_per_quarter', 4),
        steps_per_second=data.get('steps_per_second', 100),
        extra={k: v for k, v in data.items() if k not in _COMMON_KEYS}, source=source)
