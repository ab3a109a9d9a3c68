"""Getting a trained events RNN in and out: run dirs, checkpoints and `.mag` bundles.

Our bundles keep the original's container and id semantics (REFERENCE.md "Bundle files"):
checkpoint_file[0] is a single-file V1 checkpoint whose variables carry the
original's TF1 names, so one import path (v1_import) reads the original's
bundles and ours. Where the original stores a TF1 MetaGraphDef, ours store the
config as JSON (the model's shape, encoder and hparams), so a bundle made from
a user's own config file still loads without that file.

Training checkpoints load the same two ways: ours are object-based
(tf.train.Checkpoint); the original's run dirs and loose files are name-based with
TF1 names (and Adam slots), read through v1_import so that an original run can be
generated from, evaluated and resumed. warm_start starts a fresh model from a bundle.
"""
from __future__ import annotations

import dataclasses
import json
import logging
import os
import tempfile
from typing import Any

import numpy as np
import tensorflow as tf

from magenta_rnn.rnn import bundle as bundle_lib
from magenta_rnn.rnn import v1_import
from magenta_rnn.rnn.config import EventsRnnConfig, config_from_json, config_to_json
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


def load_bundle(path: str, config: EventsRnnConfig, num_classes: Any, *,
                input_depth: int | None) -> EventsRnn:
    """The bundle's model; `config` is the bundle's own (ours) or the shipped config of its id,
    `num_classes` and `input_depth` its encoder's (getattr(encoder, 'input_depth', None)):
    the weights alone cannot tell class-index inputs from one-hot rows of the same width."""
    bundle = bundle_lib.read_bundle(path)
    values = v1_import.read_bundle_values(bundle)
    metagraph = b'' if is_our_bundle(bundle) else bundle.metagraph_file
    attn_length = config.hparams.attn_length if is_our_bundle(bundle) else None
    try:
        model, _ = v1_import.model_from_values(values, metagraph, num_classes, attn_length,
                                               input_depth)
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


# ------------------------------------------------------------- checkpoints
OBJECT_GRAPH_KEY = '_CHECKPOINTABLE_OBJECT_GRAPH'


def _read_checkpoint(path: str):
    try:
        return tf.train.load_checkpoint(path)
    except (tf.errors.OpError, ValueError) as e:
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ModelLoadError(f'{path}: cannot read checkpoint: {reason}') from None


def is_original_checkpoint(path: str) -> bool:
    """Whether `path` is a name-based (TF1) checkpoint as the original writes, V1 or V2;
    this project's trainers write object-based ones."""
    return OBJECT_GRAPH_KEY not in _read_checkpoint(path).get_variable_to_shape_map()


def restore_checkpoint(path: str, checkpoint: tf.train.Checkpoint) -> None:
    """Restores `checkpoint` (model=EventsRnn, and optionally optimizer= and step=) from
    `path`: one of ours, or the original's (TF1 names, V1 or V2 file, Adam slots and
    global_step), so an original run resumes where it stopped.

    Raises ModelLoadError naming the first variable that differs and both shapes.
    """
    reader = _read_checkpoint(path)
    shapes = reader.get_variable_to_shape_map()
    if OBJECT_GRAPH_KEY in shapes:
        _restore_object_based(path, checkpoint, reader)
    else:
        _restore_original(path, reader, shapes, checkpoint)


def _mismatch_error(path: str, detail: str) -> ModelLoadError:
    return ModelLoadError(f'{path}: does not match the model built from --config/--hparams: '
                          f'{detail}')


def _restore_object_based(path: str, checkpoint: tf.train.Checkpoint, reader) -> None:
    model = checkpoint.model
    stored = _model_variable_shapes(reader)
    try:
        # read(), not restore(): a checkpoint written by write() has no save_counter.
        status = checkpoint.read(path)
        status.expect_partial()
        status.assert_existing_objects_matched()
        # A model with fewer variables (e.g. no attention) restores "fine" from a bigger one.
        if len({node for node, _ in stored.values()}) <= len(model.variables):
            return
    except (AssertionError, ValueError, tf.errors.InvalidArgumentError):
        pass
    raise _mismatch_error(path, _first_difference(stored, model))


def _model_variable_shapes(reader) -> dict[str, tuple[int, list[int]]]:
    """{'model/<object path>': (node id, shape)} for every variable under the checkpoint's
    `model`, read from its object graph (a variable's key in the file is its shortest path,
    often under the optimizer, so keys alone do not say where it sits in the model)."""
    from tensorflow.core.protobuf import trackable_object_graph_pb2

    graph = trackable_object_graph_pb2.TrackableObjectGraph()
    graph.ParseFromString(reader.get_tensor(OBJECT_GRAPH_KEY))
    shapes = reader.get_variable_to_shape_map()
    found: dict[str, tuple[int, list[int]]] = {}
    roots = [(f'{c.local_name}', c.node_id) for c in graph.nodes[0].children
             if c.local_name == 'model']
    seen: set[int] = set()
    while roots:
        name, node_id = roots.pop()
        if node_id in seen:
            continue
        seen.add(node_id)
        node = graph.nodes[node_id]
        for attribute in node.attributes:
            if attribute.name == 'VARIABLE_VALUE':
                found[name] = (node_id, list(shapes[attribute.checkpoint_key]))
        roots.extend((f'{name}/{c.local_name}', c.node_id) for c in node.children)
    return found


def _first_difference(stored: dict[str, tuple[int, list[int]]], model) -> str:
    """The first model variable (object path) whose shape differs between the file and the
    model, found by writing the model's own checkpoint and comparing the two."""
    with tempfile.TemporaryDirectory(prefix='magenta_rnn_compare_') as directory:
        prefix = tf.train.Checkpoint(model=model).write(os.path.join(directory, 'model'))
        wanted = _model_variable_shapes(tf.train.load_checkpoint(prefix))
    ours = {name: shape for name, (_, shape) in wanted.items()}
    theirs = {name: shape for name, (_, shape) in stored.items()}
    for name in sorted(ours.keys() | theirs.keys()):
        if name not in theirs:
            return f'{name} {ours[name]} is missing from the checkpoint'
        if name not in ours:
            return f'the checkpoint has {name} {theirs[name]}, the model has not'
        if ours[name] != theirs[name]:
            return f'{name}: checkpoint shape {theirs[name]}, model shape {ours[name]}'
    return 'the variables match but the checkpoint does not restore'


def _restore_original(path: str, reader, shapes: dict[str, list[int]],
                      checkpoint: tf.train.Checkpoint) -> None:
    values = {name: reader.get_tensor(name) for name in shapes}
    try:
        pairs = v1_import.assign_weights(checkpoint.model, values)
    except v1_import.CheckpointImportError as e:
        raise _mismatch_error(path, f'{e}{_original_shape_hint(values)}') from None
    _check_attn_length(path, checkpoint.model)
    step = getattr(checkpoint, 'step', None)
    stored_step = int(values['global_step']) if 'global_step' in values else 0
    if step is not None:
        step.assign(stored_step)
    optimizer = getattr(checkpoint, 'optimizer', None)
    logging.info('read the original\'s checkpoint %s (TF1 names, step %d)%s', path, stored_step,
                 ': weights, Adam moments and step' if optimizer is not None else '')
    if optimizer is None:
        return
    optimizer = getattr(optimizer, 'inner_optimizer', optimizer)  # under a loss-scale wrapper
    if not optimizer.built:
        optimizer.build(checkpoint.model.trainable_variables)
    slots = [(values.get(p.name + '/Adam'), values.get(p.name + '/Adam_1')) for p in pairs]
    if any(m is None or v is None for m, v in slots):
        logging.warning('%s has no Adam moments for every variable: the optimizer starts '
                        'fresh (weights and step %d are restored)', path, stored_step)
        return
    for p, (m, v) in zip(pairs, slots):
        index = optimizer._get_variable_index(p.variable)
        optimizer._momentums[index].assign(m.reshape(p.value.shape))
        optimizer._velocities[index].assign(v.reshape(p.value.shape))
    # TF1 Adam kept beta^t as variables; Keras derives them from iterations (one per step).
    optimizer.iterations.assign(stored_step)


def _original_shape_hint(values: dict[str, np.ndarray]) -> str:
    """'; the checkpoint holds rnn_layer_sizes=[64, 64], ...': what --hparams should say."""
    try:  # attn_length=1 only stands in: it is in no variable's shape
        shape = v1_import.infer_config(values, attn_length=1)
    except v1_import.CheckpointImportError:
        return ''
    hint = f'; the checkpoint holds rnn_layer_sizes={shape.rnn_layer_sizes}'
    hint += ' with attention' if shape.attn_length else ', attn_length=0'
    if shape.residual_connections:
        hint += ', residual_connections=true'
    return hint + f', {shape.num_classes} classes'


def _check_attn_length(path: str, model: EventsRnn) -> None:
    """attn_length is in no variable's shape, only in the original's metagraph beside the
    checkpoint (when there is one): compare it with the model's."""
    meta = path + '.meta'
    if model.attention is None or not os.path.isfile(meta):
        return
    with open(meta, 'rb') as f:
        stored = v1_import.metagraph_facts(f.read()).get('attn_length')
    if stored and stored != model.attn_length:
        raise _mismatch_error(path, f'attn_length: checkpoint {stored}, model {model.attn_length} '
                                    f'(--hparams=attn_length={stored})')


def load_trained(config: EventsRnnConfig, checkpoint: str, input_size: int, num_classes: Any,
                 input_depth: int | None = None) -> EventsRnn:
    """Rebuilds the model from the config and restores the weights of a training checkpoint
    (ours or the original's)."""
    model = build_events_rnn(config.hparams, input_size, num_classes, input_depth=input_depth,
                             attention_layout=config.attention_layout)
    restore_checkpoint(checkpoint, tf.train.Checkpoint(model=model))
    return model


# --------------------------------------------------------------- warm start
@dataclasses.dataclass
class WarmStart:
    """What a warm start carried over into a fresh model, and what it left fresh."""
    source: str
    loaded: list[str]       # the source's variable names copied into the model
    left_fresh: list[str]   # '<name> (source [..], model [..])' for outputs of another size

    def summary(self) -> str:
        line = (f'warm-started from {self.source}: {len(self.loaded)} of '
                f'{len(self.loaded) + len(self.left_fresh)} variables carried over')
        fresh = [*self.left_fresh, 'optimizer state', 'global step (starts at 0)']
        return line + '; not carried over: ' + ', '.join(fresh)


def _is_output_layer(name: str) -> bool:
    return v1_import.normalize_name(name).startswith('fullyconnected/')


def warm_start(model: EventsRnn, bundle_file: str) -> WarmStart:
    """Copies a `.mag` bundle's weights (the original's or ours) into a freshly built model
    to fine-tune it. The output layer may differ in size (another encoder's classes); it
    then keeps its fresh initialisation. Anything else that differs is an error naming
    the first such variable and both shapes."""
    bundle = bundle_lib.read_bundle(bundle_file)
    try:
        pairs = v1_import.weight_pairs(model, v1_import.read_bundle_values(bundle))
    except v1_import.CheckpointImportError as e:
        raise ModelLoadError(f'--warm_start_bundle_file {bundle_file}: does not fit the model '
                             f'built from --config/--hparams: {e}') from None
    for p in pairs:
        if not p.fits and not _is_output_layer(p.name):
            raise ModelLoadError(f'--warm_start_bundle_file {bundle_file}: does not fit the '
                                 f'model built from --config/--hparams: {p.mismatch()}')
    report = WarmStart(bundle_file, [], [])
    for p in pairs:
        if p.fits:
            p.variable.assign(p.value.astype(np.float32))
            report.loaded.append(p.name)
        else:
            report.left_fresh.append(
                f'{p.name} (bundle {list(p.value.shape)}, model {list(p.variable.shape)})')
    return report


def describe(config: EventsRnnConfig) -> str:
    h = config.hparams
    return (f'{config.id}: layers {h.rnn_layer_sizes}, attn_length {h.attn_length}, '
            f'batch {h.batch_size}')
