"""What a model package (melody, drums, performance) tells the shared events-RNN code.

The shared create_dataset / train / generate commands are written once against
this description; each model package fills one in with its event type, encoder,
pipeline stages and primer handling.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from magenta_rnn.rnn.config import EventsRnnConfig, load_config


@dataclasses.dataclass(frozen=True)
class EventsModel:
    name: str                       # configs/<name>/, e.g. 'melody_rnn'
    config_keys: frozenset[str]     # model-specific keys a config file may hold
    dataset_names: dict[str, str]   # {'eval': 'eval_melodies', 'training': 'training_melodies'}
    default_config: str | None
    build_encoder: Callable[[EventsRnnConfig], Any]
    build_chain: Callable[[EventsRnnConfig, str], Any]  # (config, mode) -> pipelines.stages.Chain
    validate_config: Callable[[EventsRnnConfig], None] = lambda config: None
    # A flag that builds a config instead of --config (melody: --melody_encoder_decoder):
    # (flag name, {flag value: description}, (value, hparams) -> config).
    encoder_flag: tuple[str, dict[str, str], Callable[[str, str], EventsRnnConfig]] | None = None

    def load_config(self, name_or_path: str, hparams: str = '') -> EventsRnnConfig:
        config = load_config(self.name, name_or_path, hparams, allowed_extra=self.config_keys)
        self.validate_config(config)
        return config
