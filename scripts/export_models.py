"""Small randomly initialised models to export, for the export checks (scripts/check_*.py and
tests/test_export*.py): written as our own `.mag` bundles and MusicVAE checkpoints, the files
a user's training leaves.

Random weights are scaled up (`weight_scale`) so that greedy decoding wanders instead of
repeating one event and near-ties between the best two classes are rare.
"""
from __future__ import annotations

import numpy as np
import tensorflow as tf


def _scale_weights(module: tf.Module, rng: np.random.Generator, weight_scale: float) -> None:
    for variable in module.trainable_variables:
        shape = variable.shape.as_list()
        variable.assign(rng.normal(0.0, weight_scale / np.sqrt(max(1, shape[0])), shape)
                        .astype(np.float32))


def events_bundle(path: str, model_name: str, config_name: str, hparams: str = '',
                  attention_layout: str = 'first_layer', seed: int = 0,
                  weight_scale: float = 2.0) -> str:
    """Writes a random model of `config_name` (with `hparams` over it) as a `.mag` bundle."""
    from magenta_rnn.export.loading import events_model
    from magenta_rnn.rnn import model_io
    from magenta_rnn.rnn.model import build_events_rnn

    model = events_model(model_name)
    config = model.load_config(config_name, hparams)
    encoder = model.build_encoder(config)
    tf.random.set_seed(seed)
    network = build_events_rnn(config.hparams, encoder.input_size, encoder.num_classes,
                               input_depth=getattr(encoder, 'input_depth', None),
                               attention_layout=attention_layout)
    _scale_weights(network, np.random.default_rng(seed), weight_scale)
    model_io.save_bundle(path, network, config, 'random weights for export checks')
    return path


def music_vae_checkpoint(directory: str, config_name: str, hparams: str = '', seed: int = 0,
                         weight_scale: float = 2.0) -> str:
    """Writes a random MusicVAE of `config_name` as a checkpoint in `directory`; returns
    its prefix."""
    from magenta_rnn.music_vae import configs
    from magenta_rnn.music_vae import model as model_lib

    config = configs.load_config(config_name, hparams)
    converter = config.make_data_converter()
    tf.random.set_seed(seed)
    vae = model_lib.build_model(config, converter)
    _scale_weights(vae, np.random.default_rng(seed), weight_scale)
    manager = tf.train.CheckpointManager(tf.train.Checkpoint(model=vae), directory, 1)
    return manager.save()
