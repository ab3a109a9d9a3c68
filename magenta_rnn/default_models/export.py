"""Writing a shipped default model: weights without optimizer slots, float16 when safe.

float16 storage halves the package's size; it is used only when the model's greedy
outputs (argmax at every step) from the given primers equal those of the float32
weights, otherwise the float32 weights are stored. Used by scripts/train_default_models.py
and the tests (TensorFlow-free: the values come in as NumPy arrays).
"""
from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from magenta_rnn import default_models

# Temperature at which sampling is argmax: the softmax underflows to one-hot.
GREEDY_TEMPERATURE = 1e-6


def float16_round_trip(values: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The float32 values the float16 storage of `values` loads back as."""
    return {name: v.astype(np.float16).astype(np.float32) for name, v in values.items()}


def greedy_events(network: Any, encoder: Any, primers: Sequence[Any], num_steps: int,
                  inputs_fn: Callable | None = None) -> list[list[Any]]:
    """Each primer extended to num_steps events by always taking the likeliest event."""
    from magenta_rnn.rnn.numpy_stepper import NumpyStepper
    from magenta_rnn.rnn.sampler import EventsSampler

    sampler = EventsSampler(NumpyStepper(network), encoder, inputs_fn)
    outputs = sampler.generate(list(primers), num_steps, temperature=GREEDY_TEMPERATURE,
                               rng=np.random.default_rng(0))
    return [list(events) for events in outputs]


def frozen_events_rnn(values: dict[str, np.ndarray], config: Any, encoder: Any):
    """A FrozenEventsRnn of `values` for `config` and its encoder."""
    from magenta_rnn.rnn.numpy_stepper import FrozenEventsRnn

    hparams = config.hparams
    return FrozenEventsRnn(
        values, encoder.input_size, encoder.num_classes, getattr(encoder, 'input_depth', None),
        attn_length=hparams.attn_length if 'attn_length' in hparams else 0,
        residual_connections=(hparams.residual_connections
                              if 'residual_connections' in hparams else False))


def choose_storage(values: dict[str, np.ndarray],
                   greedy_outputs: Callable[[dict[str, np.ndarray]], Any]) -> str:
    """'float16' when greedy_outputs(weights) is the same for the float16 round trip of
    the values as for the values themselves, else 'float32'."""
    full = greedy_outputs(values)
    return 'float16' if greedy_outputs(float16_round_trip(values)) == full else 'float32'


def events_greedy_outputs(config: Any, encoder: Any, primers: Sequence[Any], num_steps: int
                          ) -> Callable[[dict[str, np.ndarray]], list[list[Any]]]:
    """greedy_outputs for choose_storage: each primer's greedy continuation."""
    return lambda values: greedy_events(frozen_events_rnn(values, config, encoder), encoder,
                                        primers, num_steps)


def write_default(target_dir: str, values: dict[str, np.ndarray], storage: str,
                  model_json: dict[str, Any]) -> None:
    """Writes weights.npz and model.json into target_dir, each atomically."""
    if storage not in ('float16', 'float32'):
        raise ValueError(f'storage must be float16 or float32, not {storage!r}')
    os.makedirs(target_dir, exist_ok=True)
    dtype = np.float16 if storage == 'float16' else np.float32
    arrays = {name: np.asarray(v).astype(dtype) for name, v in values.items()}
    with tempfile.NamedTemporaryFile(dir=target_dir, suffix='.npz', delete=False) as f:
        np.savez(f, **arrays)
    os.chmod(f.name, 0o644)  # a temporary file is private; package data is not
    os.replace(f.name, os.path.join(target_dir, default_models.WEIGHTS_FILE))
    write_model_json(target_dir, {'format': default_models.FORMAT, 'storage': storage,
                                  **model_json})


def write_model_json(target_dir: str, data: dict[str, Any]) -> None:
    """Writes target_dir/model.json atomically."""
    with tempfile.NamedTemporaryFile('w', dir=target_dir, suffix='.json', delete=False) as f:
        json.dump(data, f, indent=1)
        f.write('\n')
    os.chmod(f.name, 0o644)
    os.replace(f.name, os.path.join(target_dir, default_models.MODEL_FILE))


def export_events_rnn(target_dir: str, values: dict[str, np.ndarray], config: Any,
                      greedy_outputs: Callable[[dict[str, np.ndarray]], Any],
                      training: dict[str, Any] | None = None) -> str:
    """Writes an events-RNN default (values: rnn.model_io.export_values of the trained
    model); returns the storage chosen ('float16' or 'float32')."""
    from magenta_rnn.rnn.config import config_to_json

    storage = choose_storage(values, greedy_outputs)
    write_default(target_dir, values, storage,
                  {'config': config_to_json(config), 'training': training or {}})
    return storage
