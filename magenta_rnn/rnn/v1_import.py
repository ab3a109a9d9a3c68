"""Loads the original's TF1 events-RNN weights (V1 or V2 checkpoints, `.mag` bundles).

Variable names differ between TF versions and Magenta versions (REFERENCE.md
"Checkpoints and variable names", "Pitfalls"), so
names are normalised (lowercase, no underscores, weights/Matrix -> kernel, biases -> bias,
`Linear` scopes dropped) and matched by what they end with inside each cell's scope.
The model shape (layer sizes, input width, classes, residual projections, attention layout)
is read from the variable shapes; attn_length and the input placeholder width come from
the metagraph, which is the only place they are recorded.
"""
from __future__ import annotations

import dataclasses
import os
import re
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from magenta_rnn.rnn import bundle as bundle_lib


class CheckpointImportError(ValueError):
    """The checkpoint does not hold an events RNN this module understands."""


@dataclasses.dataclass
class ImportedConfig:
    rnn_layer_sizes: list[int]
    input_size: int
    num_classes: int
    attn_length: int
    attention_layout: str
    residual_connections: bool
    input_depth: int | None = None


_ALIASES = {'weights': 'kernel', 'matrix': 'kernel', 'biases': 'bias',
            'attentionoutputprojection': 'attnoutputprojection'}


def normalize_name(name: str) -> str:
    """A variable name with the naming differences of TF versions taken out:
    'rnn/multi_rnn_cell/cell_0/basic_lstm_cell/weights' -> 'rnn/multirnncell/cell0/basiclstmcell/kernel'."""
    parts = []
    for part in name.split('/'):
        part = part.lower().replace('_', '')
        if part == 'linear':
            continue
        parts.append(_ALIASES.get(part, part))
    return '/'.join(parts)


# ----------------------------------------------------------------- reading
def read_checkpoint_values(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """{variable name: value} of a V1 checkpoint file, a V2 prefix or a checkpoint folder."""
    import tensorflow as tf

    path = str(path)
    if os.path.isdir(path):
        latest = tf.train.latest_checkpoint(path)
        if latest is None:
            raise CheckpointImportError(f'{path}: no checkpoint found in this folder')
        path = latest
    try:
        reader = tf.train.load_checkpoint(path)
    except (tf.errors.OpError, ValueError) as e:
        raise CheckpointImportError(f'{path}: cannot read checkpoint: {e}') from None
    return {name: reader.get_tensor(name) for name in reader.get_variable_to_shape_map()}


def read_bundle_values(bundle: bundle_lib.GeneratorBundle) -> dict[str, np.ndarray]:
    """The variables of a bundle's checkpoint_file[0] (written to a temp file, then read)."""
    directory = tempfile.mkdtemp(prefix='magenta_rnn_bundle_')
    try:
        checkpoint = Path(directory) / 'model.ckpt'
        checkpoint.write_bytes(bundle.checkpoint_file[0])
        return read_checkpoint_values(checkpoint)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def _metagraph(metagraph_bytes: bytes):
    from tensorflow.core.protobuf import meta_graph_pb2

    metagraph = meta_graph_pb2.MetaGraphDef()
    metagraph.ParseFromString(metagraph_bytes)
    return metagraph


def _node_shape(node) -> list[int] | None:
    for key in ('_output_shapes', 'shape'):
        if key in node.attr:
            attr = node.attr[key]
            shape = attr.list.shape[0] if attr.HasField('list') and attr.list.shape else attr.shape
            return [d.size for d in shape.dim]
    return None


def metagraph_facts(metagraph_bytes: bytes) -> dict[str, object]:
    """{'input_width', 'state_sizes', 'attn_length' (when a Reshape const shows it)}."""
    facts: dict[str, object] = {}
    if not metagraph_bytes:
        return facts
    metagraph = _metagraph(metagraph_bytes)
    nodes = {node.name: node for node in metagraph.graph_def.node}

    def collection_nodes(key):
        if key not in metagraph.collection_def:
            return []
        names = metagraph.collection_def[key].node_list.value
        return [nodes.get(name.split(':')[0]) for name in names]

    inputs = collection_nodes('inputs')
    if inputs and inputs[0] is not None:
        shape = _node_shape(inputs[0])
        if shape:
            facts['input_width'] = shape[-1]
    sizes = []
    for node in collection_nodes('initial_state'):
        shape = _node_shape(node) if node is not None else None
        sizes.append(shape[-1] if shape else None)
    if sizes and None not in sizes:
        facts['state_sizes'] = sizes
    # AttentionCellWrapper reshapes its window to [-1, attn_length, attn_size].
    for node in metagraph.graph_def.node:
        if node.op == 'Const' and re.search(r'attention_?cell_?wrapper/Reshape/shape$',
                                            node.name, re.IGNORECASE):
            tensor = node.attr['value'].tensor
            values = list(tensor.int_val) or list(np.frombuffer(tensor.tensor_content, np.int32))
            if len(values) == 3:
                facts['attn_length'] = int(values[1])
                break
    return facts


# --------------------------------------------------------------- mapping
def _find(values: Mapping[str, np.ndarray], prefix: str, suffix: str,
          exclude: Sequence[str] = ()) -> str | None:
    hits = [n for n in values if n.startswith(prefix) and n.endswith(suffix)
            and not any(x in n[len(prefix):] for x in exclude)]
    if len(hits) > 1:
        raise CheckpointImportError(f'ambiguous variables for {prefix}...{suffix}: {hits}')
    return hits[0] if hits else None


def _layout(values: Mapping[str, np.ndarray]) -> dict[str, object]:
    """Finds every events-RNN variable; keys are roles, values normalised names."""
    names = list(values)
    if any(n.startswith('rnn/attentioncellwrapper/') for n in names):
        layout, stack = 'whole_stack', 'rnn/attentioncellwrapper/multirnncell/'
    else:
        layout, stack = 'first_layer', 'rnn/multirnncell/'
    cells = sorted({int(m.group(1)) for n in names
                    if (m := re.match(re.escape(stack) + r'cell(\d+)/', n))})
    if not cells or cells != list(range(len(cells))):
        raise CheckpointImportError(
            f'no events RNN cells found (expected variables under {stack!r}); '
            f'variables: {sorted(names)[:8]}...')
    roles: dict[str, object] = {'layout': layout}
    lstms, projections = [], []
    for k in cells:
        prefix = f'{stack}cell{k}/'
        kernel = _find(values, prefix, 'basiclstmcell/kernel')
        bias = _find(values, prefix, 'basiclstmcell/bias')
        if kernel is None or bias is None:
            raise CheckpointImportError(f'cell {k}: no basic_lstm_cell kernel/bias found')
        lstms.append((kernel, bias))
        projections.append((_find(values, prefix, 'inputprojectionwrapper/kernel'),
                            _find(values, prefix, 'inputprojectionwrapper/bias')))
    roles['lstms'] = lstms
    roles['projections'] = projections
    attention = ('rnn/attentioncellwrapper/' if layout == 'whole_stack'
                 else 'rnn/multirnncell/cell0/')
    attn_w = _find(values, attention, 'attention/attnw')
    if attn_w is not None:
        wrapper = attn_w[:attn_w.index('attentioncellwrapper/') + len('attentioncellwrapper/')]
        roles['attention'] = {
            'input_kernel': wrapper + 'kernel', 'input_bias': wrapper + 'bias',
            'attn_w': attn_w, 'attn_v': wrapper + 'attention/attnv',
            'query_kernel': wrapper + 'attention/kernel', 'query_bias': wrapper + 'attention/bias',
            'output_kernel': wrapper + 'attnoutputprojection/kernel',
            'output_bias': wrapper + 'attnoutputprojection/bias'}
        missing = [v for v in roles['attention'].values() if v not in values]
        if missing:
            raise CheckpointImportError(f'attention variables missing: {missing}')
    roles['output'] = ('fullyconnected/kernel', 'fullyconnected/bias')
    if any(n not in values for n in roles['output']):
        raise CheckpointImportError('no fully_connected/weights and biases found')
    return roles


def _normalized(values: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {key: value for key, (_, value) in _normalized_with_names(values).items()}


def _normalized_with_names(values: Mapping[str, np.ndarray]) -> dict[str, tuple[str, np.ndarray]]:
    """{normalised name: (the checkpoint's own name, value)}, optimizer state left out."""
    out = {}
    for name, value in values.items():
        key = normalize_name(name)
        if re.search(r'/adam(1)?$|power$|globalstep$', key):
            continue
        out[key] = (name, value)
    return out


def infer_config(values: Mapping[str, np.ndarray], metagraph_bytes: bytes = b'',
                 attn_length: int | None = None, input_depth: int | None = None
                 ) -> ImportedConfig:
    """The events RNN shape from checkpoint variables (and the metagraph for attn_length).

    Whether the inputs are class indices is in no variable's shape: `input_depth` (the
    encoder's, when it has one) says so, else the original's metagraph does."""
    values = _normalized(values)
    roles = _layout(values)
    sizes = [int(values[bias].shape[0]) // 4 for _, bias in roles['lstms']]
    projection_kernel = roles['projections'][0][0]
    if projection_kernel is not None:
        width = int(values[projection_kernel].shape[0])
    else:
        width = int(values[roles['lstms'][0][0]].shape[0]) - sizes[0]
    facts = metagraph_facts(metagraph_bytes)
    if input_depth is not None and input_depth != width:
        raise CheckpointImportError(
            f'the encoder one-hots its class indices to depth {input_depth}, the checkpoint '
            f'has input width {width}')
    if input_depth is None and facts.get('input_width') == 1 and width > 1:
        input_depth = width  # one-hot index encoder: the graph one-hots [B, T, 1] inputs
    length = 0
    if 'attention' in roles:
        length = attn_length or facts.get('attn_length') or 0
        if not length and 'state_sizes' in facts:
            attn_size = sizes[-1] if roles['layout'] == 'whole_stack' else sizes[0]
            extra = sum(facts['state_sizes']) - 2 * sum(sizes) - attn_size
            length = extra // attn_size
        if not length:
            raise CheckpointImportError(
                'the checkpoint has attention but attn_length is recorded nowhere '
                '(no metagraph); pass attn_length')
    return ImportedConfig(
        rnn_layer_sizes=sizes, input_size=1 if input_depth else width,
        num_classes=int(values[roles['output'][1]].shape[0]), attn_length=int(length),
        attention_layout=roles['layout'],
        residual_connections=any(k is not None for k, _ in roles['projections']),
        input_depth=input_depth)


@dataclasses.dataclass
class WeightPair:
    variable: object   # the model's tf.Variable
    name: str          # the variable's name in the checkpoint (as stored there)
    value: np.ndarray  # its value, reshaped to the variable's rank where only that differs

    @property
    def fits(self) -> bool:
        return tuple(self.variable.shape) == self.value.shape

    def mismatch(self) -> str:
        return (f'{self.name}: checkpoint shape {list(self.value.shape)}, '
                f'model shape {list(self.variable.shape)}')


def weight_pairs(model, values: Mapping[str, np.ndarray]) -> list[WeightPair]:
    """Every variable of an EventsRnn paired with its checkpoint variable (TF1 names), in the
    order the model builds them. Shapes are not checked here; structure (layer count,
    residual projections, attention) is, naming the first variable only one side has."""
    named = _normalized_with_names(values)
    values = {key: value for key, (_, value) in named.items()}
    roles = _layout(values)
    pairs: list[WeightPair] = []

    def pair(variable, key: str) -> None:
        name, value = named[key]
        if key.endswith('attention/attnw') and value.size == int(np.prod(variable.shape)):
            value = value.reshape(tuple(variable.shape))  # stored [1, 1, n, n] (a 1x1 conv)
        pairs.append(WeightPair(variable, name, value))

    if len(roles['lstms']) != len(model.lstms):
        extra = len(model.lstms) if len(model.lstms) < len(roles['lstms']) else len(roles['lstms'])
        side = 'the model' if len(model.lstms) < len(roles['lstms']) else 'the checkpoint'
        raise CheckpointImportError(
            f'the checkpoint has {len(roles["lstms"])} LSTM layers, the model '
            f'{len(model.lstms)}: layer cell_{extra} is missing from {side}')
    for lstm, (kernel, bias) in zip(model.lstms, roles['lstms']):
        pair(lstm.kernel, kernel)
        pair(lstm.bias, bias)
    for k, (projection, (kernel, bias)) in enumerate(zip(model.residual_projections,
                                                         roles['projections'])):
        if (projection is None) != (kernel is None):
            side = 'checkpoint' if kernel is not None else 'model'
            raise CheckpointImportError(
                f'residual connections differ: only the {side} has cell_{k}/'
                f'input_projection_wrapper (residual_connections)')
        if projection is not None:
            pair(projection.kernel, kernel)
            pair(projection.bias, bias)
    if ('attention' in roles) != (model.attention is not None):
        side = 'checkpoint' if 'attention' in roles else 'model'
        raise CheckpointImportError(
            f'attention differs: only the {side} has attention_cell_wrapper/attention '
            f'(attn_length)')
    if model.attention is not None:
        if roles['layout'] != model.attention_layout:
            raise CheckpointImportError(
                f'checkpoint attention layout {roles["layout"]} != model {model.attention_layout}')
        a, names = model.attention, roles['attention']
        for variable, role in ((a.input_projection.kernel, 'input_kernel'),
                               (a.input_projection.bias, 'input_bias'),
                               (a.attn_w, 'attn_w'), (a.attn_v, 'attn_v'),
                               (a.query.kernel, 'query_kernel'), (a.query.bias, 'query_bias'),
                               (a.output_projection.kernel, 'output_kernel'),
                               (a.output_projection.bias, 'output_bias')):
            pair(variable, names[role])
    pair(model.output_layer.kernel, roles['output'][0])
    pair(model.output_layer.bias, roles['output'][1])
    return pairs


def assign_weights(model, values: Mapping[str, np.ndarray]) -> list[WeightPair]:
    """Copies checkpoint variables into an EventsRnn of the matching shape; nothing is
    assigned unless every variable fits (the error names the first that does not)."""
    pairs = weight_pairs(model, values)
    for p in pairs:
        if not p.fits:
            raise CheckpointImportError(p.mismatch())
    for p in pairs:
        p.variable.assign(p.value.astype(np.float32))
    return pairs


def model_from_values(values: Mapping[str, np.ndarray], metagraph_bytes: bytes = b'',
                      num_classes: int | Sequence[int] | None = None,
                      attn_length: int | None = None, input_depth: int | None = None):
    """(EventsRnn with the checkpoint's weights, ImportedConfig). `num_classes` may split
    the output into heads (multi-head encoders); its sum must match the checkpoint.
    `input_depth` (the encoder's) makes the model take class indices (see infer_config)."""
    from magenta_rnn.rnn.model import EventsRnn

    config = infer_config(values, metagraph_bytes, attn_length, input_depth)
    classes: int | list[int] = config.num_classes
    if num_classes is not None:
        total = num_classes if isinstance(num_classes, int) else sum(num_classes)
        if total != config.num_classes:
            raise CheckpointImportError(
                f'num_classes {num_classes} does not match the checkpoint ({config.num_classes})')
        classes = num_classes if isinstance(num_classes, int) else list(num_classes)
    model = EventsRnn(config.rnn_layer_sizes, config.input_size, classes,
                      input_depth=config.input_depth, attn_length=config.attn_length,
                      residual_connections=config.residual_connections,
                      attention_layout=config.attention_layout)
    assign_weights(model, values)
    return model, config


def load_bundle_model(path: str | os.PathLike, num_classes: int | Sequence[int] | None = None):
    """(EventsRnn, ImportedConfig, GeneratorBundle) from an original `.mag` file."""
    bundle = bundle_lib.read_bundle(path)
    try:
        values = read_bundle_values(bundle)
    except CheckpointImportError as e:
        raise CheckpointImportError(f'{path}: {e}') from None
    model, config = model_from_values(values, bundle.metagraph_file, num_classes)
    return model, config, bundle


def load_checkpoint_model(path: str | os.PathLike, metagraph_path: str | os.PathLike | None = None,
                          num_classes: int | Sequence[int] | None = None,
                          attn_length: int | None = None):
    """(EventsRnn, ImportedConfig) from a V1 file / V2 prefix / folder (+ its .meta file)."""
    values = read_checkpoint_values(path)
    if metagraph_path is None:
        candidate = Path(str(path) + '.meta')
        metagraph_path = candidate if candidate.exists() else None
    meta = Path(metagraph_path).read_bytes() if metagraph_path else b''
    return model_from_values(values, meta, num_classes, attn_length)
