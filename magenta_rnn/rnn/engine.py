"""The training engine every model trains through: devices and tf.distribute, the
compiled step, checkpoints, summaries, progress and the divergence guard.

A model contributes only `loss_fn(*batch) -> (loss, weight, stats)` (its mean loss over
this replica's part of the batch, the weight of that part, e.g. its example or step
count, and summable statistics), its clipping rule and its optimizer update. The engine:

* picks the strategy: MultiWorkerMirroredStrategy when the TF_CONFIG environment
  variable names more than one worker, MirroredStrategy over several local GPUs, else
  the default strategy (one device: no distribution cost at all);
* splits every global batch between the replicas (batch_size is the global batch): each
  worker reads the same shuffled stream and keeps only its replicas' rows, so a step
  sees the same examples whatever the number of workers;
* weights each replica's loss by its share of the global weight and sums the gradients
  over replicas, so the update is that of one replica on the whole batch;
* applies the update only when the loss is finite and below EXPLODING_LOSS;
* saves checkpoints (only the chief: one set of checkpoints and summaries), resumes,
  cleans what killed runs left, logs steps/s and an ETA.
"""
from __future__ import annotations

import glob
import json
import math
import os
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import tensorflow as tf
from absl import logging

CHECKPOINT_NAME = 'model.ckpt'
# Any model's loss starts far below this (MusicVAE's 16-bar trios, summed over 256 steps,
# start near 1e4); a loss past it has diverged even while it is still finite.
EXPLODING_LOSS = 1e6
# A collective that waits this long for another worker fails (a dead worker stops the
# others well within a minute).
COLLECTIVE_TIMEOUT_SECS = 45

# What a worker sees when another worker has died or cannot be reached.
_PEER_ERRORS = (tf.errors.UnavailableError, tf.errors.DeadlineExceededError,
                tf.errors.CancelledError, tf.errors.AbortedError)


class DivergenceError(RuntimeError):
    """The training loss became NaN, Inf or exploded past EXPLODING_LOSS."""


class WorkerLostError(RuntimeError):
    """Another worker of a multi-worker run died or stopped answering."""


# ---------------------------------------------------------------------------
# Devices and strategy.

def _tf_config() -> dict:
    text = os.environ.get('TF_CONFIG', '')
    if not text:
        return {}
    try:
        config = json.loads(text)
    except json.JSONDecodeError as e:
        raise ValueError(f'TF_CONFIG is not valid JSON: {e}') from None
    if not isinstance(config, dict):
        raise ValueError('TF_CONFIG must be a JSON object with "cluster" and "task"')
    return config


def cluster_size() -> int:
    """Workers (chief included) that TF_CONFIG names; 1 without TF_CONFIG."""
    cluster = _tf_config().get('cluster', {})
    return len(cluster.get('worker', [])) + len(cluster.get('chief', [])) or 1


def make_strategy() -> tf.distribute.Strategy:
    """The strategy for this process; call before any other TensorFlow work (a
    MultiWorkerMirroredStrategy must be created before the runtime starts)."""
    if cluster_size() > 1:
        task = _tf_config().get('task', {})
        if 'type' not in task or 'index' not in task:
            raise ValueError('TF_CONFIG names a cluster but no "task": {"type": "worker", '
                             '"index": N}')
        options = tf.distribute.experimental.CommunicationOptions(
            implementation=tf.distribute.experimental.CommunicationImplementation.AUTO,
            timeout_seconds=COLLECTIVE_TIMEOUT_SECS)
        return tf.distribute.MultiWorkerMirroredStrategy(communication_options=options)
    if len(tf.config.list_logical_devices('GPU')) > 1:
        return tf.distribute.MirroredStrategy()
    return tf.distribute.get_strategy()


def is_chief(strategy: tf.distribute.Strategy) -> bool:
    resolver = getattr(strategy, 'cluster_resolver', None)
    if resolver is None or not resolver.task_type:
        return True
    if resolver.task_type == 'chief':
        return True
    has_chief = 'chief' in resolver.cluster_spec().as_dict()
    return resolver.task_type == 'worker' and resolver.task_id == 0 and not has_chief


def describe(strategy: tf.distribute.Strategy) -> str:
    """One line naming the devices, the strategy and the replicas."""
    gpus = tf.config.list_logical_devices('GPU')
    devices = ('GPU (' + ', '.join(g.name for g in gpus) + ')' if gpus
               else 'CPU (no GPU visible to TensorFlow)')
    if isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        name = 'MultiWorkerMirroredStrategy'
    elif isinstance(strategy, tf.distribute.MirroredStrategy):
        name = 'MirroredStrategy'
    elif strategy.num_replicas_in_sync == 1:
        return f'{devices}, one replica (no distribution)'
    else:
        name = type(strategy).__name__
    text = f'{devices}, {name}, {strategy.num_replicas_in_sync} replicas in sync'
    resolver = getattr(strategy, 'cluster_resolver', None)
    if resolver is not None and resolver.task_type:
        text += (f', this is {resolver.task_type} {resolver.task_id} of {cluster_size()} '
                 f'workers' + (' (chief)' if is_chief(strategy) else ''))
    return text


def shared_seed(strategy: tf.distribute.Strategy, seed: int | None) -> int | None:
    """The seed every worker uses: --seed, or without it one drawn by the chief and sent to
    all, so that all workers shuffle the data the same way (one process: unchanged)."""
    if seed is not None or strategy.num_replicas_in_sync == 1 or cluster_size() == 1:
        return seed
    import random
    mine = random.SystemRandom().randrange(1, 2 ** 30) if is_chief(strategy) else 0
    value = strategy.reduce(tf.distribute.ReduceOp.SUM, strategy.run(
        lambda: tf.constant(mine, tf.int64) * tf.cast(
            tf.distribute.get_replica_context().replica_id_in_sync_group == 0, tf.int64)),
        axis=None)
    return int(value)


def sync_from_chief(strategy: tf.distribute.Strategy, variables: Sequence[tf.Variable]) -> None:
    """Gives every worker the chief's values (what it restored or warm-started), so that
    workers without the chief's run_dir on their disk start from the same weights."""
    if cluster_size() == 1 or strategy.num_replicas_in_sync == 1:
        return
    variables = list(variables)

    def chief_values():
        context = tf.distribute.get_replica_context()
        first = tf.equal(context.replica_id_in_sync_group, 0)
        mine = [tf.where(first, tf.cast(v, tf.float64), tf.zeros_like(v, tf.float64))
                for v in variables]
        return context.all_reduce('sum', mine)

    values = strategy.experimental_local_results(tf.function(
        lambda: strategy.run(chief_values))())[0]
    for variable, value in zip(variables, values):
        variable.assign(tf.cast(value, variable.dtype))


# ---------------------------------------------------------------------------
# The compiled step.

def make_train_step(loss_fn: Callable[..., tuple[tf.Tensor, tf.Tensor, dict[str, tf.Tensor]]],
                    variables: Sequence[tf.Variable],
                    clip_fn: Callable[[list], tuple[list, dict[str, tf.Tensor]]],
                    apply_fn: Callable[[list], None],
                    strategy: tf.distribute.Strategy | None = None,
                    input_signature: Sequence[tf.TensorSpec] | None = None,
                    stats_reduction: str = 'sum'):
    """train_step(*global_batch) -> (applied, loss, stats), one tf.function.

    loss_fn runs per replica on its rows of the batch. clip_fn(gradients) -> (clipped,
    extra stats) sees the gradients summed over replicas; apply_fn(clipped) updates the
    variables (and the step counter) in cross-replica context, only when the loss is
    finite and below EXPLODING_LOSS: otherwise nothing changes and applied is False.
    stats_reduction: how replicas' stats combine ('sum' for sums, 'mean' for means).
    """
    strategy = strategy or tf.distribute.get_strategy()
    replicas = strategy.num_replicas_in_sync
    variables = list(variables)
    reduction = tf.distribute.ReduceOp.SUM if stats_reduction == 'sum' else tf.distribute.ReduceOp.MEAN

    def replica_step(*batch):
        context = tf.distribute.get_replica_context()
        if replicas > 1:
            # Replica r of R takes rows [r B/R, (r+1) B/R) of the global batch.
            size = tf.shape(batch[0])[0] // replicas
            start = tf.cast(context.replica_id_in_sync_group, tf.int32) * size
            batch = tuple(t[start:start + size] for t in batch)
        with tf.GradientTape() as tape:
            loss, weight, stats = loss_fn(*batch)
            if replicas > 1:
                # This replica's share of the global mean (an exact 1.0 on one replica).
                weight = tf.cast(weight, loss.dtype)
                loss = loss * tf.stop_gradient(weight / context.all_reduce('sum', weight))
        gradients = tape.gradient(loss, variables)
        if replicas > 1:
            gradients = [None if g is None else tf.convert_to_tensor(g) for g in gradients]
            present = [g for g in gradients if g is not None]
            summed = iter(context.all_reduce('sum', present))
            gradients = [None if g is None else next(summed) for g in gradients]
            loss = context.all_reduce('sum', loss)
            stats = context.all_reduce(reduction, stats)
        clipped, extra = clip_fn(gradients)
        return loss, clipped, {**stats, **extra}

    def train_step(*batch):
        with strategy.scope():  # updates below are then in cross-replica context
            return cross_replica_step(*batch)

    def cross_replica_step(*batch):
        if replicas > 1:
            loss, gradients, stats = strategy.run(replica_step, args=batch)
        else:
            loss, gradients, stats = replica_step(*batch)

        def local(value):  # one replica's copy of a value all replicas hold alike
            return strategy.experimental_local_results(value)[0]

        loss = local(loss)
        applied = tf.logical_and(tf.math.is_finite(loss), tf.abs(loss) < EXPLODING_LOSS)

        def apply():
            apply_fn(gradients)
            return tf.constant(True)

        tf.cond(applied, apply, lambda: tf.constant(False))
        return applied, loss, {name: local(value) for name, value in stats.items()}

    return tf.function(train_step, input_signature=input_signature)


def check_global_batch(strategy: tf.distribute.Strategy, batch_size: int) -> None:
    replicas = strategy.num_replicas_in_sync
    if batch_size % replicas:
        raise ValueError(f'--hparams: batch_size={batch_size} is the global batch and must '
                         f'divide evenly between the {replicas} replicas')


# ---------------------------------------------------------------------------
# Checkpoints and the loop.

def remove_stale_checkpoint_files(train_dir: str) -> list[str]:
    """Deletes what a killed save leaves (`<prefix>_temp` shards, `checkpoint.tmp*`)."""
    stale = sorted(glob.glob(os.path.join(train_dir, f'{CHECKPOINT_NAME}-*_temp*'))
                   + glob.glob(os.path.join(train_dir, 'checkpoint.tmp*')))
    for path in stale:
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path, ignore_errors=True)
        else:
            try:
                os.remove(path)
            except OSError:
                pass
    if stale:
        logging.info('Removed %d temporary checkpoint file(s) a stopped run left: %s',
                     len(stale), ', '.join(os.path.basename(p) for p in stale))
    return stale


class CheckpointKeeper:
    """tf.train.CheckpointManager on the chief; on other workers saving does nothing."""

    def __init__(self, checkpoint: tf.train.Checkpoint, train_dir: str, chief: bool,
                 max_to_keep: int | None, keep_checkpoint_every_n_hours: float | None,
                 step: tf.Variable):
        self.chief = chief
        self.step = step
        self.manager = tf.train.CheckpointManager(
            checkpoint, train_dir, max_to_keep=max_to_keep,
            keep_checkpoint_every_n_hours=keep_checkpoint_every_n_hours,
            checkpoint_name=CHECKPOINT_NAME)

    @property
    def latest_checkpoint(self) -> str | None:
        return self.manager.latest_checkpoint

    def save(self) -> str | None:
        """Saves under the name of the step the variables hold (not a loop counter)."""
        if self.chief:
            return self.manager.save(checkpoint_number=int(self.step.numpy()))
        return None


def restore_or_start(checkpoint: tf.train.Checkpoint, keeper: CheckpointKeeper,
                     train_dir: str) -> bool:
    """Restores the latest checkpoint (True) or leaves a fresh start (False); a checkpoint
    that does not fit the model is a one-line error naming it."""
    latest = keeper.latest_checkpoint
    if not latest:
        return False
    try:
        checkpoint.restore(latest).assert_existing_objects_matched()
    except (AssertionError, ValueError, tf.errors.OpError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ValueError(f'{latest}: cannot resume from this checkpoint: it does not match the '
                         f'model of these --config/--hparams ({first[:300]}); use another '
                         f'--run_dir or the hparams it was trained with') from None
    return True


def format_eta(seconds: float) -> str:
    seconds = int(round(seconds))
    return f'{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}'


def divergence_message(loss: float, step: int, keeper: CheckpointKeeper, hint: str) -> str:
    what = 'became NaN or Inf' if not math.isfinite(loss) else f'exploded to {loss:.3g}'
    return (f'Training loss {what} at global step {step}; the step was not applied and the '
            f'last good checkpoint is {keeper.latest_checkpoint}. {hint}')


def run_loop(train_step, batches: Iterator, keeper: CheckpointKeeper, step_variable: tf.Variable,
             num_steps: int, save_checkpoint_secs: float,
             on_step: Callable[[int, dict[str, Any], float, str], None],
             every_n_steps: int, divergence_hint: str, multi_worker: bool = False,
             ) -> tuple[int, dict[str, Any]]:
    """Runs train_step over batches until the step variable reaches num_steps (0: forever).

    Every every_n_steps, on_step(step, stats as floats, steps/s, ETA text) logs and writes
    summaries. Checkpoints every save_checkpoint_secs and at the end; Ctrl-C saves and
    returns. Raises DivergenceError (nothing saved for the bad step), WorkerLostError.
    Returns (step, stats of the last step reported).
    """
    step = int(step_variable.numpy())
    last_save = time.monotonic()
    window_start, window_step = time.monotonic(), step
    reported: dict[str, Any] = {}
    try:
        for batch in batches:
            applied, loss, stats = train_step(*batch)
            if not bool(applied):
                raise DivergenceError(divergence_message(float(loss), step + 1, keeper,
                                                         divergence_hint))
            step = int(step_variable.numpy())
            if step % every_n_steps == 0 or step == num_steps:
                now = time.monotonic()
                rate = (step - window_step) / max(now - window_start, 1e-9)
                window_start, window_step = now, step
                eta = (', ETA: ' + format_eta((num_steps - step) / max(rate, 1e-9))
                       if num_steps else '')
                reported = {name: float(value) for name, value in stats.items()}
                on_step(step, reported, rate, eta)
            if num_steps and step >= num_steps:
                break
            if time.monotonic() - last_save >= save_checkpoint_secs:
                keeper.save()
                last_save = time.monotonic()
    except KeyboardInterrupt:
        saved = keeper.save()
        logging.info('Interrupted at step %d; saved %s', int(step_variable.numpy()), saved)
        return int(step_variable.numpy()), reported
    except _PEER_ERRORS as e:
        if not multi_worker:
            raise
        raise WorkerLostError(
            f'another worker died or stopped answering at step {step} '
            f'({type(e).__name__}: {str(e).strip().splitlines()[0][:200] if str(e).strip() else ""}); '
            f'the last checkpoint is {keeper.latest_checkpoint}: rerun every worker with the '
            f'same --run_dir to resume from it') from None
    keeper.save()
    return int(step_variable.numpy()), reported
