"""Fine-tuning a MusicVAE: a fresh training run starts from another run's weights.

The source is one of our checkpoints (a run's train dir or a checkpoint prefix), which
must match the model entirely, or the original's (name-based, e.g. the published `.tar`
files), whose decoder output projection may differ in size (another data converter's
output depth) and then keeps its fresh initialisation. The optimizer state and the global step
are never carried over: the run starts at step 0 with the configured learning-rate
schedule.
"""
from __future__ import annotations

import dataclasses
import os

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


def _is_output_projection(name: str) -> bool:
    return '/output_projection/' in f'/{name}'


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
    total = len(vae.trainable_variables)
    if OBJECT_GRAPH_KEY in shapes:
        status = tf.train.Checkpoint(model=vae).read(prefix)
        try:
            status.expect_partial()
            status.assert_existing_objects_matched()
        except (AssertionError, ValueError, tf.errors.InvalidArgumentError) as e:
            raise WarmStartError(f'--warm_start_checkpoint {source}: does not match the model '
                                 f'of --config/--hparams: {str(e).strip().splitlines()[0]}') from None
        return WarmStart(source, total, total, [])

    names = tf1_variable_map(vae)
    for name, variable in names.items():
        if name not in shapes:
            raise WarmStartError(f'--warm_start_checkpoint {source}: variable {name} is missing '
                                 f'(a checkpoint of another config?)')
        if list(shapes[name]) != variable.shape.as_list() and not _is_output_projection(name):
            raise WarmStartError(f'--warm_start_checkpoint {source}: {name}: checkpoint shape '
                                 f'{list(shapes[name])}, model shape {variable.shape.as_list()}')
    report = WarmStart(source, 0, len(names), [])
    for name, variable in names.items():
        if list(shapes[name]) == variable.shape.as_list():
            variable.assign(reader.get_tensor(name))
            report.loaded += 1
        else:
            report.left_fresh.append(f'{name} (checkpoint {list(shapes[name])}, model '
                                     f'{variable.shape.as_list()})')
    return report
