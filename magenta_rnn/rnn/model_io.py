"""Getting a trained events RNN in and out: run dirs, checkpoints and `.mag` bundles.

Our bundles keep the original's container and id semantics (facts §1.3):
checkpoint_file[0] is a single-file V1 checkpoint whose variables carry the
original's TF1 names, so one import path (v1_import) reads the original's
bundles and ours. Where the original stores a TF1 MetaGraphDef, ours store the
config as JSON (the model's shape, encoder and hparams), so a bundle made from
a user's own config file still loads without that file.
"""
from __future__ import annotations

import json
import os
import tempfile
from typing import Any

import numpy as np
import tensorflow as tf

from magenta_rnn.rnn import bundle as bundle_lib
from magenta_rnn.rnn import v1_import
from magenta_rnn.rnn.config import EventsRnnConfig, config_from_json, config_to_json  # noqa: F401
from magenta_rnn.rnn.model import EventsRnn, build_events_rnn

BUNDLE_FORMAT = 'magenta_rnn.events_rnn/1'


class ModelLoadError(ValueError):
    pass


def export_values(model: EventsRnn) -> dict[str, np.ndarray]:
    """The model's weights under the original's TF1 variable names (inverse of assign_weights)."""
    values: dict[str, np.ndarray] = {}
    whole_stack = model.attention is not None and model.attention_layout == 'whole_stack'
    stack = 'rnn/attention_cell_wrapper/multi_rnn_cell' if whole_stack else 'rnn/multi_rnn_cell'
    for k, lstm in enumerate(model.lstms):
        cell = f'{stack}/cell_{k}/'
        if k == 0 and model.attention is not None and not whole_stack:
            cell += 'attention_cell_wrapper/'
        values[cell + 'basic_lstm_cell/kernel'] = lstm.kernel.numpy()
        values[cell + 'basic_lstm_cell/bias'] = lstm.bias.numpy()
        projection = model.residual_projections[k]
        if projection is not None:
            values[f'{stack}/cell_{k}/input_projection_wrapper/kernel'] = projection.kernel.numpy()
            values[f'{stack}/cell_{k}/input_projection_wrapper/bias'] = projection.bias.numpy()
    if model.attention is not None:
        a = model.attention
        wrapper = ('rnn/attention_cell_wrapper/' if whole_stack
                   else 'rnn/multi_rnn_cell/cell_0/attention_cell_wrapper/')
        values.update({
            wrapper + 'kernel': a.input_projection.kernel.numpy(),
            wrapper + 'bias': a.input_projection.bias.numpy(),
            wrapper + 'attention/attn_w': a.attn_w.numpy(),
            wrapper + 'attention/attn_v': a.attn_v.numpy(),
            wrapper + 'attention/kernel': a.query.kernel.numpy(),
            wrapper + 'attention/bias': a.query.bias.numpy(),
            wrapper + 'attn_output_projection/kernel': a.output_projection.kernel.numpy(),
            wrapper + 'attn_output_projection/bias': a.output_projection.bias.numpy(),
        })
    values['fully_connected/weights'] = model.output_layer.kernel.numpy()
    values['fully_connected/biases'] = model.output_layer.bias.numpy()
    return values


def _v1_checkpoint_bytes(values: dict[str, np.ndarray]) -> bytes:
    names = sorted(values)
    with tempfile.TemporaryDirectory(prefix='magenta_rnn_bundle_') as directory:
        path = os.path.join(directory, 'model.ckpt')
        tf.raw_ops.Save(filename=path, tensor_names=names,
                        data=[tf.constant(values[n]) for n in names])
        with open(path, 'rb') as f:
            return f.read()


def save_bundle(path: str, model: EventsRnn, config: EventsRnnConfig,
                bundle_description: str = '') -> None:
    """Writes a `.mag` bundle (atomically) holding the model's weights and its config."""
    metagraph = json.dumps({'format': BUNDLE_FORMAT, 'config': config_to_json(config)},
                           indent=1).encode()
    bundle = bundle_lib.make_bundle(config.id, _v1_checkpoint_bytes(export_values(model)),
                                    metagraph, generator_description=config.description,
                                    bundle_description=bundle_description)
    bundle_lib.write_bundle(path, bundle)


def is_our_bundle(bundle: bundle_lib.GeneratorBundle) -> bool:
    return bundle.metagraph_file.startswith(b'{') and BUNDLE_FORMAT.encode() in bundle.metagraph_file[:200]


def bundle_config(bundle: bundle_lib.GeneratorBundle, path: str) -> EventsRnnConfig | None:
    """The config stored in one of our bundles; None for the original's bundles."""
    if not is_our_bundle(bundle):
        return None
    return config_from_json(json.loads(bundle.metagraph_file)['config'], source=path)


def load_bundle(path: str, config: EventsRnnConfig, num_classes: Any) -> EventsRnn:
    """The bundle's model; `config` is the bundle's own (ours) or the shipped config of its id."""
    bundle = bundle_lib.read_bundle(path)
    values = v1_import.read_bundle_values(bundle)
    metagraph = b'' if is_our_bundle(bundle) else bundle.metagraph_file
    attn_length = config.hparams.attn_length if is_our_bundle(bundle) else None
    try:
        model, _ = v1_import.model_from_values(values, metagraph, num_classes, attn_length)
    except v1_import.CheckpointImportError as e:
        raise ModelLoadError(f'{path}: {e}') from None
    return model


def latest_checkpoint(run_dir: str | None, checkpoint_file: str | None) -> str:
    """The checkpoint prefix named by --checkpoint_file, or the latest in run_dir/train."""
    if checkpoint_file:
        if not (os.path.exists(checkpoint_file) or os.path.exists(checkpoint_file + '.index')):
            raise ModelLoadError(f'--checkpoint_file: no checkpoint at {checkpoint_file}')
        return checkpoint_file
    train_dir = os.path.join(run_dir, 'train')
    latest = tf.train.latest_checkpoint(train_dir)
    if latest is None:
        raise ModelLoadError(f'--run_dir: no checkpoint found in {train_dir}')
    return latest


def load_trained(config: EventsRnnConfig, checkpoint: str, input_size: int, num_classes: Any,
                 input_depth: int | None = None) -> EventsRnn:
    """Rebuilds the model from the config and restores the weights of a training checkpoint."""
    model = build_events_rnn(config.hparams, input_size, num_classes, input_depth=input_depth)
    status = tf.train.Checkpoint(model=model).restore(checkpoint)
    try:
        status.expect_partial().assert_existing_objects_matched()
    except AssertionError as e:
        raise ModelLoadError(
            f'{checkpoint}: does not match the model built from --config/--hparams '
            f'(layer sizes or attention differ?): {str(e).splitlines()[0]}') from None
    return model


def describe(config: EventsRnnConfig) -> str:
    h = config.hparams
    return (f'{config.id}: layers {h.rnn_layer_sizes}, attn_length {h.attn_length}, '
            f'batch {h.batch_size}')

