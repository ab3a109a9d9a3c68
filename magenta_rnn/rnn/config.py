"""Configs as data, for every model: one JSON file per config under configs/<model>/.

`--config` takes a name (a file shipped in the package) or a path to a user's own JSON
file of the same shape; `--hparams` then overrides the config's hparams. The reading,
checking and merging live here once (`ConfigSchema`, `read_config_file`,
`merge_hparams`); each model keeps its own schema: the events RNNs' (`load_config`
below: an encoder spec and model-specific keys) and MusicVAE's
(magenta_rnn.music_vae.configs: encoder, decoder, data converter). TF-free.
"""
from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping
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


class ConfigError(ValueError):
    pass


# ---------------------------------------------------------------------------
# The loading mechanism every model shares.

@dataclasses.dataclass(frozen=True)
class ConfigSchema:
    """What one model's config files hold."""
    model: str                                # configs/<model>/ and the file's "model" value
    types: Mapping[str, type | tuple[type, ...]]  # keys with a fixed JSON type
    required: tuple[str, ...]
    other_keys: frozenset[str] = frozenset()  # further keys allowed (checked by the model)

    @property
    def keys(self) -> frozenset[str]:
        return frozenset(self.types) | self.other_keys


def available_configs(model: str) -> list[str]:
    """Names of the configs shipped for `model` (e.g. 'melody_rnn', 'music_vae')."""
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


def read_config_file(schema: ConfigSchema, name_or_path: str) -> tuple[Path, dict[str, Any]]:
    """(path, contents) of a config file, checked against `schema`: valid JSON, an object,
    not another model's config, the required keys present, typed keys of their type, no
    unknown keys."""
    path = config_path(schema.model, name_or_path)
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise ConfigError(f'{path}: not valid JSON ({e})') from None
    if not isinstance(data, dict):
        raise ConfigError(f'{path}: expected a JSON object')
    if isinstance(data.get('model'), str) and data['model'] != schema.model:
        raise ConfigError(f'{path}: is a {data["model"]} config, not {schema.model}')
    for key in schema.required:
        if key not in data:
            raise ConfigError(f'{path}: missing required key {key!r}')
    try:
        check_json_types(str(path), data, schema.types)
    except HParamsError as e:
        raise ConfigError(str(e)) from None
    unknown = set(data) - schema.keys
    if unknown:
        raise ConfigError(f'{path}: unknown keys {", ".join(sorted(unknown))}')
    return path, data


def merge_hparams(path: Path, defaults: Mapping[str, Any], from_file: Mapping[str, Any],
                  overrides: str = '') -> HParams:
    """`defaults`, then the file's hparams, then the --hparams string; values checked."""
    merged = HParams(**defaults)
    try:
        merged.update(from_file)
    except HParamsError as e:
        raise ConfigError(f'{path}: {e}') from None
    if overrides:
        merged.parse(overrides)
    check_values(merged)
    return merged


# ---------------------------------------------------------------------------
# The events RNNs' schema (Melody, Drums, Performance RNN).

_EVENTS_TYPES: dict[str, type] = {'model': str, 'id': str, 'description': str, 'encoder': dict,
                                  'hparams': dict, 'steps_per_quarter': int,
                                  'steps_per_second': int}
_COMMON_KEYS = frozenset(_EVENTS_TYPES)


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


def load_config(model: str, name_or_path: str, hparams: str = '',
                allowed_extra: frozenset[str] | set[str] = frozenset()) -> EventsRnnConfig:
    """Reads an events-RNN config, checks its keys, and merges `hparams` (the --hparams
    string) over BASE_HPARAMS and the config's own."""
    schema = ConfigSchema(model, _EVENTS_TYPES, ('id', 'encoder'), frozenset(allowed_extra))
    path, data = read_config_file(schema, name_or_path)
    for key in ('steps_per_quarter', 'steps_per_second'):
        if data.get(key, 1) < 1:
            raise ConfigError(f'{path}: {key} must be at least 1, got {data[key]}')
    merged = merge_hparams(path, BASE_HPARAMS, data.get('hparams', {}), hparams)
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
