"""MusicVAE configs as data: configs/music_vae/<name>.json (REFERENCE.md "MusicVAE hparams",
"MusicVAE configs"). TF-free.

A config names its encoder and decoder, overrides some of DEFAULT_HPARAMS, and
describes its data converter and (optional) training augmenter. `--config` takes
a shipped name or a path to a JSON file of the same shape. Files are read, checked
and merged by the loader every model shares (magenta_rnn.rnn.config); this module
holds MusicVAE's own schema.
"""
from __future__ import annotations

import dataclasses
from typing import Any

from magenta_rnn.hparams import HParams
from magenta_rnn.music_vae import converters
from magenta_rnn.rnn import config as config_files
from magenta_rnn.rnn.config import ConfigError  # noqa: F401  (callers catch configs.ConfigError)

MODEL = 'music_vae'
CONFIGS_DIR = config_files.CONFIGS_DIR / MODEL

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

SCHEMA = config_files.ConfigSchema(
    MODEL,
    types={'model': str, 'id': str, 'description': str, 'encoder': dict, 'decoder': dict,
           'hparams': dict, 'data_converter': dict, 'note_sequence_augmenter': (dict, type(None))},
    required=('id', 'encoder', 'decoder', 'data_converter'))


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

    def make_data_converter(self) -> converters.BaseNoteSequenceConverter:
        return converters.build_converter(self.data_converter_spec)

    def make_augmenter(self) -> converters.NoteSequenceAugmenter | None:
        if not self.augmenter_spec:
            return None
        spec = self.augmenter_spec
        return converters.NoteSequenceAugmenter(
            transpose_range=tuple(spec['transpose_range']) if spec.get('transpose_range') else None,
            stretch_range=tuple(spec['stretch_range']) if spec.get('stretch_range') else None)


def available_configs() -> list[str]:
    return config_files.available_configs(MODEL)


def config_path(name_or_path: str):
    """The JSON file a `--config` value refers to (a pathlib.Path)."""
    return config_files.config_path(MODEL, name_or_path)


def load_config(name_or_path: str, hparams: str = '') -> MusicVaeConfig:
    """Reads a config and merges `hparams` (the --hparams string) over its hparams."""
    path, raw = config_files.read_config_file(SCHEMA, name_or_path)
    defaults = {**DEFAULT_HPARAMS, **DECODER_HPARAMS.get(raw['decoder'].get('type'), {})}
    merged = config_files.merge_hparams(path, defaults, raw.get('hparams', {}), hparams)
    return MusicVaeConfig(
        id=raw['id'], description=raw.get('description', ''), encoder=dict(raw['encoder']),
        decoder=dict(raw['decoder']), hparams=merged,
        data_converter_spec=dict(raw['data_converter']),
        augmenter_spec=raw.get('note_sequence_augmenter'), source=str(path))
