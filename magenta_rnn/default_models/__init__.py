"""The default models shipped inside the package, and the resolver the generate commands use.

Each default lives in `default_models/<model>/<config>/`:
  weights.npz    the trained weights under the original's TF1 variable names, no optimizer
                 slots; float16 where the greedy outputs equal the float32 model's (checked
                 when exported), float32 otherwise
  model.json     {"format", "config" (events RNNs: the full config with its hparams),
                  "hparams" (MusicVAE: merged over the named config), "storage", "training"}
  MODEL_CARD.md  data, licence, hparams, training, held-out figures and output statistics

Loading an events-RNN default needs NumPy only (no TensorFlow): generation runs in
rnn.numpy_stepper. `scripts/train_default_models.py` trains and exports them.
"""
from __future__ import annotations

import json
import os
from typing import Any

import numpy as np

# MAGENTA_RNN_DEFAULT_MODELS points at another tree of the same layout (retrained defaults
# under test, or the tests' own small models).
ROOT = os.environ.get('MAGENTA_RNN_DEFAULT_MODELS') or os.path.dirname(os.path.abspath(__file__))
FORMAT = 'magenta_rnn.default_model/1'
WEIGHTS_FILE = 'weights.npz'
MODEL_FILE = 'model.json'
CARD_FILE = 'MODEL_CARD.md'

# The config a generate command uses when it is given neither --config nor a model.
DEFAULT_CONFIGS = {'melody_rnn': 'basic_rnn', 'drums_rnn': 'drum_kit',
                   'performance_rnn': 'performance_with_dynamics',
                   'music_vae': 'cat-mel_2bar_small'}


class NoDefaultModelError(ValueError):
    """A config without a shipped default; the message lists those that have one."""


def directory(model: str, config_name: str) -> str:
    return os.path.join(ROOT, model, config_name)


def shipped(model: str) -> list[str]:
    """Names of the configs of `model` (e.g. 'melody_rnn') that have a shipped default."""
    base = os.path.join(ROOT, model)
    if not os.path.isdir(base):
        return []
    return sorted(name for name in os.listdir(base)
                  if os.path.isfile(os.path.join(base, name, WEIGHTS_FILE)))


def default_config_name(model: str) -> str:
    """The config used without --config: the model's usual one if shipped, else the first."""
    names = shipped(model)
    preferred = DEFAULT_CONFIGS.get(model)
    if preferred in names or not names:
        return preferred or ''
    return names[0]


def check_shipped(model: str, config_name: str) -> str:
    """The default's directory; NoDefaultModelError (one line) when there is none."""
    names = shipped(model)
    if config_name not in names:
        have = ', '.join(names) if names else 'none'
        flags = ('--run_dir or --checkpoint_file' if model == 'music_vae'
                 else '--bundle_file, --run_dir or --checkpoint_file')
        raise NoDefaultModelError(
            f'no shipped default model for {model} config {config_name!r} (shipped defaults: '
            f'{have}); give a trained model with {flags}')
    return directory(model, config_name)


def read_model_json(model: str, config_name: str) -> dict[str, Any]:
    path = os.path.join(check_shipped(model, config_name), MODEL_FILE)
    with open(path) as f:
        data = json.load(f)
    if data.get('format') != FORMAT:
        raise NoDefaultModelError(f'{path}: not a {FORMAT} file')
    return data


def read_weights(model: str, config_name: str) -> dict[str, np.ndarray]:
    """The default's weights as float32 arrays, by TF1 variable name."""
    path = os.path.join(check_shipped(model, config_name), WEIGHTS_FILE)
    with np.load(path) as stored:
        return {name: stored[name].astype(np.float32) for name in stored.files}


def describe(model: str, config_name: str) -> str:
    """One line for the log: which default, trained on what, for how long."""
    data = read_model_json(model, config_name)
    training = data.get('training', {})
    parts = [f'shipped default model {model}/{config_name}']
    if training.get('data'):
        parts.append(f'trained on {training["data"]}')
    if training.get('steps'):
        parts.append(f'{training["steps"]} steps')
    return ', '.join(parts) + f' ({directory(model, config_name)})'


def load_events_rnn(events_model, config_name: str | None = None):
    """(config, encoder, FrozenEventsRnn) of an events model's shipped default (no TensorFlow).

    events_model: an rnn.events_model.EventsModel (MELODY_RNN, DRUMS_RNN, PERFORMANCE_RNN).
    """
    from magenta_rnn.rnn.config import config_from_json
    from magenta_rnn.rnn.numpy_stepper import FrozenEventsRnn

    name = config_name or default_config_name(events_model.name)
    data = read_model_json(events_model.name, name)
    config = config_from_json(data['config'], source=directory(events_model.name, name))
    events_model.validate_config(config)
    encoder = events_model.build_encoder(config)
    hparams = config.hparams
    network = FrozenEventsRnn(
        read_weights(events_model.name, name), input_size=encoder.input_size,
        num_classes=encoder.num_classes, input_depth=getattr(encoder, 'input_depth', None),
        attn_length=hparams.attn_length if 'attn_length' in hparams else 0,
        residual_connections=(hparams.residual_connections
                              if 'residual_connections' in hparams else False))
    return config, encoder, network


def music_vae_checkpoint(config_name: str) -> tuple[str, str]:
    """(weights path for TrainedModel, the hparams string it was trained with)."""
    data = read_model_json('music_vae', config_name)
    return (os.path.join(directory('music_vae', config_name), WEIGHTS_FILE),
            data.get('hparams', ''))
