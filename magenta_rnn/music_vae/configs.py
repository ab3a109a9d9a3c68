"""MusicVAE configs as data: configs/music_vae/<name>.json (REFERENCE.md "MusicVAE hparams",
"MusicVAE configs"). TF-free.

A config names its encoder and decoder, overrides some of DEFAULT_HPARAMS, and
describes its data converter and (optional) training augmenter. `--config` takes
a shipped name or a path to a JSON file of the same shape.
"""
from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

from magenta_rnn.hparams import HParams, HParamsError, check_json_types, check_values
from magenta_rnn.music_vae import data

CONFIGS_DIR = Path(__file__).resolve().parent.parent / 'configs' / 'music_vae'

# base_model.get_default_hparams merged with lstm_models.get_default_hparams.
DEFAULT_HPARAMS: dict[str, Any] = {
    'max_seq_len': 32,
    'z_size': 32,
    'free_bits': 0.0,
    'max_beta': 1.0,
    'beta_rate': 0.0,
    'batch_size': 512,
    'grad_clip': 1.0,
    'clip_mode': 'global_norm',
    'grad_norm_clip_to_zero': 10000,
    'learning_rate': 0.001,
    'decay_rate': 0.9999,
    'min_learning_rate': 0.00001,
    'conditional': True,
    'dec_rnn_size': [512],
    'enc_rnn_size': [256],
    'dropout_keep_prob': 1.0,
    'sampling_schedule': 'constant',
    'sampling_rate': 0.0,
    'use_cudnn': False,  # the original's; here the device picks (magenta_rnn.rnn.backends)
    'mixed_precision': '',  # or 'bfloat16': the LSTMs train in bfloat16, variables float32
    'residual_encoder': False,
    'residual_decoder': False,
    'control_preprocessing_rnn_size': [256],
}

# Hparams only some decoders have (merge_hparams adds them in the original's configs).
DECODER_HPARAMS: dict[str, dict[str, Any]] = {
    'multilabel_rnn_nade': {'nade_num_hidden': 128},
}

_KEYS = {'model', 'id', 'description', 'encoder', 'decoder', 'hparams',
         'note_sequence_augmenter', 'data_converter'}
_REQUIRED = ('id', 'encoder', 'decoder', 'data_converter')


class ConfigError(ValueError):
    pass


@dataclasses.dataclass
class MusicVaeConfig:
    """One MusicVAE configuration, parsed from JSON."""
    id: str
    description: str
    encoder: dict[str, Any]
    decoder: dict[str, Any]
    hparams: HParams
    data_converter_spec: dict[str, Any]
    augmenter_spec: dict[str, Any] | None
    source: str = ''
    train_examples_path: str | None = None
    eval_examples_path: str | None = None

    def make_data_converter(self) -> data.BaseNoteSequenceConverter:
        return data.build_converter(self.data_converter_spec)

    def make_augmenter(self) -> data.NoteSequenceAugmenter | None:
        if not self.augmenter_spec:
            return None
        spec = self.augmenter_spec
        return data.NoteSequenceAugmenter(
            transpose_range=tuple(spec['transpose_range']) if spec.get('transpose_range') else None,
            stretch_range=tuple(spec['stretch_range']) if spec.get('stretch_range') else None)


def available_configs() -> list[str]:
    return sorted(p.stem for p in CONFIGS_DIR.glob('*.json'))


def config_path(name_or_path: str) -> Path:
    if name_or_path.endswith('.json') or os.sep in name_or_path:
        path = Path(name_or_path)
        if not path.is_file():
            raise ConfigError(f'--config: no such config file {name_or_path}')
        return path
    path = CONFIGS_DIR / f'{name_or_path}.json'
    if not path.is_file():
        raise ConfigError(f'--config: unknown music_vae config {name_or_path!r}; choose one of '
                          f'{", ".join(available_configs())} or give a path to a .json file')
    return path


def load_config(name_or_path: str, hparams: str = '') -> MusicVaeConfig:
    """Reads a config and merges `hparams` (the --hparams string) over its hparams."""
    path = config_path(name_or_path)
    try:
        raw = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise ConfigError(f'{path}: not valid JSON ({e})') from None
    if not isinstance(raw, dict):
        raise ConfigError(f'{path}: expected a JSON object')
    for key in _REQUIRED:
        if key not in raw:
            raise ConfigError(f'{path}: missing required key {key!r}')
    try:
        check_json_types(str(path), raw, {'model': str, 'id': str, 'description': str,
                                          'encoder': dict, 'decoder': dict, 'hparams': dict,
                                          'data_converter': dict,
                                          'note_sequence_augmenter': (dict, type(None))})
    except HParamsError as e:
        raise ConfigError(str(e)) from None
    if raw.get('model', 'music_vae') != 'music_vae':
        raise ConfigError(f'{path}: is a {raw["model"]} config, not music_vae')
    unknown = set(raw) - _KEYS
    if unknown:
        raise ConfigError(f'{path}: unknown keys {", ".join(sorted(unknown))}')
    merged = HParams(**DEFAULT_HPARAMS,
                     **DECODER_HPARAMS.get(dict(raw['decoder']).get('type'), {}))
    try:
        merged.update(raw.get('hparams', {}))
    except HParamsError as e:
        raise ConfigError(f'{path}: {e}') from None
    if hparams:
        merged.parse(hparams)
    check_values(merged)
    config = MusicVaeConfig(
        id=raw['id'], description=raw.get('description', ''), encoder=dict(raw['encoder']),
        decoder=dict(raw['decoder']), hparams=merged,
        data_converter_spec=dict(raw['data_converter']),
        augmenter_spec=raw.get('note_sequence_augmenter'), source=str(path))
    return config
