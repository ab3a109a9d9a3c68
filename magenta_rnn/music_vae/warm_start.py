"""Fine-tuning a MusicVAE: a fresh training run starts from another run's weights.

The source is one of our checkpoints (a run's train dir or a checkpoint prefix) or the
original's (name-based, e.g. the published `.tar` files). Every variable whose shape
matches is carried over exactly. The variables sized by the data (the output projection,
and the first LSTM layers of the encoder and of the decoder, which read it) may differ
in size, as between configs with other converter depths: they then keep their fresh
initialisation. Any other difference is an error naming the variable and both shapes.
The optimizer state and the global step are never carried over: the run starts at step
0 with the configured learning-rate schedule.
"""
from __future__ import annotations

import collections
import dataclasses
import os
import re

import tensorflow as tf

from magenta_rnn.music_vae import checkpoint_files
from magenta_rnn.music_vae.trained_model import resolve_checkpoint, tf1_variable_map

OBJECT_GRAPH_KEY = '_CHECKPOINTABLE_OBJECT_GRAPH'


class WarmStartError(ValueError):
    """The source checkpoint cannot start this model."""


@dataclasses.dataclass
class WarmStart:
    source: str
    loaded: int              # variables carried over
    total: int               # variables in the model
    left_fresh: list[str]    # '<name> (checkpoint [..], model [..])'

    def summary(self) -> str:
        fresh = [*self.left_fresh, 'optimizer state', 'global step (starts at 0)']
        return (f'warm-started from {self.source}: {self.loaded} of {self.total} variables '
                f'carried over; not carried over: {", ".join(fresh)}')


# The original's names of the variables sized by the data's depth (the output projection,
# the data-reading kernels of the encoder's and the decoder's first LSTM layers, NADE's).
_DATA_SIZED = re.compile(r'(^|/)output_projection/'
                         r'|^encoder/(hierarchical_level_0/)?cell_0/bidirectional_rnn/.*/kernel$'
                         r'|(^|/)decoder/multi_rnn_cell/cell_0/lstm_cell/kernel$'
                         r'|(^|/)decoder/nade/')
_VALUE_SUFFIX = '/.ATTRIBUTES/VARIABLE_VALUE'


def object_checkpoint_keys(vae) -> dict[str, tf.Variable]:
    """Each variable's key in our checkpoints (tf.train.Checkpoint(model=vae, ...)): the
    path TensorFlow saves it under, the first one found breadth-first from the root."""
    root = tf.train.Checkpoint(model=vae)  # kept here: the view holds it weakly
    view = tf.train.TrackableView(root)
    paths = {id(root): ''}
    queue = collections.deque([root])
    keys: dict[str, tf.Variable] = {}
    while queue:
        node = queue.popleft()
        for name, child in view.children(node).items():
            if id(child) in paths:
                continue
            escaped = name.replace('.', '..').replace('/', '.S')
            paths[id(child)] = f'{paths[id(node)]}/{escaped}'.lstrip('/')
            queue.append(child)
            if isinstance(child, tf.Variable):
                keys[paths[id(child)] + _VALUE_SUFFIX] = child
    return keys


def warm_start(vae, source: str) -> WarmStart:
    """Copies the weights of checkpoint `source` (dir, prefix or original .tar) into `vae`."""
    path = os.path.expanduser(source)
    if checkpoint_files.is_tar_checkpoint(path):
        with checkpoint_files.extracted_tar_checkpoint(path, WarmStartError) as prefix:
            return _warm_start_prefix(vae, prefix, source)
    try:
        prefix = resolve_checkpoint(path)
    except ValueError as e:
        raise WarmStartError(f'--warm_start_checkpoint {e}') from None
    return _warm_start_prefix(vae, prefix, source)


def _warm_start_prefix(vae, prefix: str, source: str) -> WarmStart:
    try:
        reader = tf.train.load_checkpoint(prefix)
    except (tf.errors.OpError, ValueError) as e:
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise WarmStartError(f'--warm_start_checkpoint {source}: cannot read checkpoint '
                             f'{prefix}: {reason}') from None
    shapes = reader.get_variable_to_shape_map()
    # (key in the checkpoint, the original's name, variable): ours by object path.
    if OBJECT_GRAPH_KEY in shapes:
        keys = {id(v): key for key, v in object_checkpoint_keys(vae).items()}
        entries = [(keys[id(v)], name, v) for name, v in tf1_variable_map(vae).items()]
    else:
        entries = [(name, name, v) for name, v in tf1_variable_map(vae).items()]
    for key, name, variable in entries:
        if key not in shapes:
            raise WarmStartError(f'--warm_start_checkpoint {source}: variable {name} is missing '
                                 f'(a checkpoint of another config?)')
        if list(shapes[key]) != variable.shape.as_list() and not _DATA_SIZED.search(name):
            raise WarmStartError(f'--warm_start_checkpoint {source}: {name}: checkpoint shape '
                                 f'{list(shapes[key])}, model shape {variable.shape.as_list()}')
    report = WarmStart(source, 0, len(entries), [])
    for key, name, variable in entries:
        if list(shapes[key]) == variable.shape.as_list():
            variable.assign(reader.get_tensor(key))
            report.loaded += 1
        else:
            report.left_fresh.append(f'{name} (checkpoint {list(shapes[key])}, model '
                                     f'{variable.shape.as_list()})')
    return report
