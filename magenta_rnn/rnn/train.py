"""The training loop and the eval job shared by every events RNN (REFERENCE.md "Events RNN graph",
"Training input", "Training metrics", "Checkpoints and variable names").

Training writes checkpoints and summaries to `<run_dir>/train`; eval watches that
directory for new checkpoints and writes its summaries to `<run_dir>/eval`.

`build_model(hparams, input_size, num_classes, input_depth=None, one_hot_width=0)` must
return a Keras model mapping float32 inputs [B, T, input_size] to logits
[B, T, sum(num_classes)]; `magenta_rnn.rnn.model.build_events_rnn` is one.
"""
from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np
import tensorflow as tf
from absl import logging

from magenta_rnn.hparams import HParams
from magenta_rnn.rnn import backends, data, engine, model_io

NumClasses = int | Sequence[int]
# A vector giving each class's number of time steps (for multi-head encoders,
# indexed by the first head's label), or fn(labels, lengths) -> float32 scalar.
ClassNumSteps = Sequence[float] | np.ndarray | Callable[[tf.Tensor, tf.Tensor], tf.Tensor] | None

SAVE_CHECKPOINT_SECS = 60
KEEP_CHECKPOINT_EVERY_N_HOURS = 1
EVAL_INTERVAL_SECS = 60
EVAL_TIMEOUT_SECS = 300
CHECKPOINT_NAME = engine.CHECKPOINT_NAME


# The training loss became NaN, Inf or exploded (the engine's divergence guard).
NonFiniteLossError = engine.DivergenceError


# ---------------------------------------------------------------------------
# Loss and metrics.

def _heads(num_classes: NumClasses) -> list[int]:
    return [num_classes] if isinstance(num_classes, int) else list(num_classes)


def batch_statistics(logits: tf.Tensor, labels: tf.Tensor, lengths: tf.Tensor,
                     num_classes: NumClasses, default_event_label: int,
                     class_num_steps: ClassNumSteps = None) -> dict[str, tf.Tensor]:
    """Sums over the unpadded steps of one batch, from which every metric follows.

    logits [B, T, sum(num_classes)]; labels [B, T] (single head) or [B, T, k].
    Returns float32 scalars: `cross_entropy` (sum over steps and heads), `entries`
    (steps x heads), `correct`, `event_correct`, `events`, `no_event_correct`,
    `no_events`, `num_steps` (time steps, REFERENCE.md "Training metrics"), plus int32 `predictions`
    and the
    float32 `mask` [B, T] for per-class counts.
    """
    heads = _heads(num_classes)
    labels = tf.cast(labels, tf.int32)
    head_labels = labels[..., tf.newaxis] if isinstance(num_classes, int) else labels  # [B,T,K]
    mask = tf.sequence_mask(lengths, maxlen=tf.shape(logits)[1], dtype=tf.float32)  # [B,T]

    cross_entropies, predictions = [], []
    offset = 0
    for head, size in enumerate(heads):
        head_logits = logits[..., offset:offset + size]
        offset += size
        cross_entropies.append(tf.nn.sparse_softmax_cross_entropy_with_logits(
                labels=head_labels[..., head], logits=head_logits))
        predictions.append(tf.argmax(head_logits, axis=-1, output_type=tf.int32))
    cross_entropy = tf.stack(cross_entropies, axis=-1)  # [B,T,K]
    prediction = tf.stack(predictions, axis=-1)  # [B,T,K]

    entry_mask = mask[..., tf.newaxis] * tf.ones_like(cross_entropy)
    correct = tf.cast(tf.equal(prediction, head_labels), tf.float32) * entry_mask
    is_event = tf.cast(tf.not_equal(head_labels, default_event_label), tf.float32) * entry_mask
    is_no_event = entry_mask - is_event

    if class_num_steps is None:
        num_steps = tf.reduce_sum(mask)
    elif callable(class_num_steps):
        num_steps = tf.cast(class_num_steps(labels, lengths), tf.float32)
    else:
        steps_per_class = tf.constant(np.asarray(class_num_steps, np.float32))
        num_steps = tf.reduce_sum(tf.gather(steps_per_class, head_labels[..., 0]) * mask)

    return {
            'cross_entropy': tf.reduce_sum(cross_entropy * entry_mask),
            'entries': tf.reduce_sum(entry_mask),
            'correct': tf.reduce_sum(correct),
            'event_correct': tf.reduce_sum(correct * is_event),
            'events': tf.reduce_sum(is_event),
            'no_event_correct': tf.reduce_sum(correct * is_no_event),
            'no_events': tf.reduce_sum(is_no_event),
            'num_steps': num_steps,
            'predictions': prediction,
            'mask': mask,
    }


def _ratio(numerator: float, denominator: float) -> float:
    # A batch without any event (or without any no-event) step reports 0, not NaN.
    return float(numerator) / float(denominator) if denominator else 0.0


def metrics_from_sums(sums: dict[str, Any]) -> dict[str, float]:
    """The summary values (original tag names) from batch_statistics sums."""
    loss = _ratio(sums['cross_entropy'], sums['entries'])
    loss_per_step = _ratio(sums['cross_entropy'], sums['num_steps'])
    return {
            'loss': loss,
            'metrics/perplexity': math.exp(min(loss, 700.0)),
            'metrics/accuracy': _ratio(sums['correct'], sums['entries']),
            'metrics/event_accuracy': _ratio(sums['event_correct'], sums['events']),
            'metrics/no_event_accuracy': _ratio(sums['no_event_correct'], sums['no_events']),
            'metrics/loss_per_step': loss_per_step,
            'metrics/perplexity_per_step': math.exp(min(loss_per_step, 700.0)),
    }


def clip_gradients(gradients: Sequence[tf.Tensor | None], clip_norm: float) -> list[tf.Tensor | None]:
    """Clips each gradient tensor to L2 norm clip_norm on its own (not a global norm, REFERENCE.md
    "Events RNN graph")."""
    if not clip_norm or clip_norm <= 0:
        return list(gradients)
    clipped = []
    for gradient in gradients:
        if gradient is None:
            clipped.append(None)
        elif isinstance(gradient, tf.IndexedSlices):
            clipped.append(tf.IndexedSlices(tf.clip_by_norm(gradient.values, clip_norm),
                                            gradient.indices, gradient.dense_shape))
        else:
            clipped.append(tf.clip_by_norm(gradient, clip_norm))
    return clipped


def make_optimizer(hparams: HParams):
    import keras
    # TF1 AdamOptimizer defaults; Keras' own default epsilon is 1e-7.
    return keras.optimizers.Adam(learning_rate=hparams.learning_rate, beta_1=0.9,
                                 beta_2=0.999, epsilon=1e-8)


# ---------------------------------------------------------------------------
# Shared set-up.

def _signature(input_size: int, num_classes: NumClasses) -> list[tf.TensorSpec]:
    label_size = data.label_size_of(num_classes)
    label_shape = [None, None] if label_size is None else [None, None, label_size]
    # Unknown batch and time dimensions, so padded batches of any length reuse one trace.
    return [tf.TensorSpec([None, None, input_size], tf.float32),
            tf.TensorSpec(label_shape, tf.int64),
            tf.TensorSpec([None], tf.int32)]


def _build(build_model: Callable[..., Any], hparams: HParams, input_size: int,
           num_classes: NumClasses, input_depth: int | None, one_hot_width: int = 0):
    model = build_model(hparams, input_size, num_classes, input_depth=input_depth,
                        one_hot_width=one_hot_width)
    # Create the weights now so that restoring a checkpoint fills them at once.
    model(tf.zeros([1, 1, input_size], tf.float32), training=False)
    return model


def split_cpu_threads() -> None:
    """Lets two ops run at once (LSTM layers, half batches or encoder directions overlap
    in time), each on half the cores.

    TensorFlow's default gives every op all cores, and on a small machine the threads then
    fight: on 2 cores attention_rnn trains at 0.22 s/step instead of 0.26, basic_rnn at
    0.076 instead of 0.082 and MusicVAE cat-mel_2bar_small (batch 64) at 0.21 instead of
    0.23-0.27 (performance 3x512 is unchanged). TF_NUM_INTRAOP_THREADS /
    TF_NUM_INTEROP_THREADS, when set, win; once TensorFlow has started this does nothing.
    """
    if 'TF_NUM_INTRAOP_THREADS' in os.environ or 'TF_NUM_INTEROP_THREADS' in os.environ:
        return
    try:
        tf.config.threading.set_intra_op_parallelism_threads(max(1, (os.cpu_count() or 2) // 2))
        tf.config.threading.set_inter_op_parallelism_threads(2)
    except RuntimeError:  # the runtime is already initialised (e.g. in-process callers)
        pass


def train_in_halves(model) -> bool:
    """Whether a training step runs as two independent half-batch graphs (their sums and
    gradients added), for models with attention on a CPU.

    Layer 0's attention step is a long chain of small ops that the layers above wait on,
    so one whole-batch graph leaves a core idle much of the step; two halves give each
    core a graph of its own, from input projection to loss. Measured on 2 cores, batch
    64, [128,128], three alternating runs: attention_rnn 190-205 -> 150-177 ms per step,
    drum_kit 357-386 -> 239-251. Without attention the layers already keep the cores
    busy: basic_rnn is unchanged and performance 3x512 slower (1.05 -> 1.16 s). A GPU
    runs one kernel at a time, so there the batch stays whole.
    """
    return (getattr(model, 'attention', None) is not None
            and not tf.config.list_logical_devices('GPU'))


def describe_device() -> str:
    gpus = tf.config.list_logical_devices('GPU')
    if gpus:
        return 'GPU (' + ', '.join(gpu.name for gpu in gpus) + ')'
    return 'CPU (no GPU visible to TensorFlow)'


def _scalar_metadata() -> bytes:
    # What tf.summary.scalar writes (TensorBoard's 'scalars' plugin, empty content),
    # built here so that writing summaries does not need TensorBoard installed.
    from tensorflow.core.framework import summary_pb2
    metadata = summary_pb2.SummaryMetadata()
    metadata.plugin_data.plugin_name = 'scalars'
    return metadata.SerializeToString()


def _write_scalars(writer, values: dict[str, float], step: int) -> None:
    metadata = _scalar_metadata()
    with writer.as_default(step=step):
        for tag, value in values.items():
            tf.summary.write(tag, tf.constant(value, tf.float32), metadata=metadata)
    writer.flush()


# ---------------------------------------------------------------------------
# Training.

def make_train_step(model, optimizer, global_step: tf.Variable, clip_norm: float,
                    input_size: int, num_classes: NumClasses, default_event_label: int,
                    class_num_steps: ClassNumSteps = None,
                    strategy: tf.distribute.Strategy | None = None):
    """The compiled training step: train_step(inputs, labels, lengths) -> (applied, sums).

    One Adam update with per-tensor clipped gradients of the mean cross entropy over the
    global batch (engine.make_train_step: split between the strategy's replicas); a NaN,
    Inf or exploded loss leaves the weights and global_step alone (applied False).
    Unknown B and T: one trace for all.
    """
    variables = model.trainable_variables
    in_halves = train_in_halves(model)

    def statistics(inputs, labels, lengths):
        stats = batch_statistics(model(inputs, training=True), labels, lengths, num_classes,
                                 default_event_label, class_num_steps)
        del stats['predictions'], stats['mask']
        return stats

    def loss_fn(inputs, labels, lengths):
        if in_halves:
            batch = tf.shape(inputs)[0]
            sizes = tf.stack([batch // 2, batch - batch // 2])
            first, second = [statistics(*half) for half in zip(
                *(tf.split(t, sizes) for t in (inputs, labels, lengths)))]
            stats = {name: first[name] + second[name] for name in first}
        else:
            stats = statistics(inputs, labels, lengths)
        return stats['cross_entropy'] / stats['entries'], stats['entries'], stats

    def apply(gradients):
        apply_optimizer(optimizer, gradients, variables)
        global_step.assign_add(1)

    step = engine.make_train_step(loss_fn, variables,
                                  lambda gradients: (clip_gradients(gradients, clip_norm), {}),
                                  apply, strategy, _signature(input_size, num_classes))

    def train_step(inputs, labels, lengths):
        applied, _, stats = step(inputs, labels, lengths)
        return applied, stats

    return train_step


class TrainingParts(NamedTuple):
    """What a training run trains: the network, its optimizer, the global step and the
    compiled step train_step(inputs, labels, lengths) -> (applied, sums)."""
    model: Any
    optimizer: Any
    global_step: tf.Variable
    train_step: Callable[[tf.Tensor, tf.Tensor, tf.Tensor], tuple[tf.Tensor, dict[str, tf.Tensor]]]


def build_train_step(build_model: Callable[..., Any], hparams: HParams, input_size: int,
                     num_classes: NumClasses, default_event_label: int,
                     class_num_steps: ClassNumSteps = None, input_depth: int | None = None,
                     one_hot_width: int = 0,
                     strategy: tf.distribute.Strategy | None = None) -> TrainingParts:
    """The network (weights created), its Adam optimizer (slots built), a zero global step
    and the compiled train step, built exactly as run_training builds them (it calls this),
    so that a benchmark times what `*_rnn_train` runs. The arguments are run_training's;
    `**cli.encoder_facts(encoder)` fills in the encoder's sizes. strategy: None for the
    current one (one device unless inside a strategy's scope)."""
    strategy = strategy or tf.distribute.get_strategy()
    with strategy.scope():
        model = _build(build_model, hparams, input_size, num_classes, input_depth, one_hot_width)
        optimizer = make_optimizer(hparams)
        optimizer.build(model.trainable_variables)
        global_step = tf.Variable(0, dtype=tf.int64, trainable=False, name='global_step')
    train_step = make_train_step(model, optimizer, global_step, hparams.clip_norm, input_size,
                                 num_classes, default_event_label, class_num_steps, strategy)
    return TrainingParts(model, optimizer, global_step, train_step)


def apply_optimizer(optimizer, gradients: Sequence[tf.Tensor | None],
                    variables: Sequence[tf.Variable]) -> None:
    """optimizer.apply_gradients, also in a strategy's cross-replica context (where the
    engine applies updates): Keras' own expects replica context and would sum the already
    summed gradients over the replicas again."""
    strategy = tf.distribute.get_strategy()
    if strategy.num_replicas_in_sync == 1:
        optimizer.apply_gradients(zip(gradients, variables))
        return
    pairs = [(g, v) for g, v in zip(gradients, variables) if g is not None]
    # Keras 3's per-variable update under a strategy, what apply_gradients runs after its sum.
    optimizer._distributed_tf_update_step(
        strategy, pairs, optimizer._get_current_learning_rate())
    optimizer.iterations.assign_add(1)


def _training_batches(dataset: tf.data.Dataset, sequence_example_file: str):
    """The dataset's batches; an empty or unreadable file is a one-line error naming it."""
    iterator = iter(dataset)
    produced = False
    while True:
        try:
            batch = next(iterator)
        except StopIteration:
            if not produced:
                raise ValueError(f'--sequence_example_file {sequence_example_file}: no training '
                                 f'examples (the file is empty)') from None
            return
        except (tf.errors.DataLossError, tf.errors.InvalidArgumentError) as e:
            first = str(e).strip().splitlines()[0][:200] if str(e).strip() else type(e).__name__
            raise ValueError(f'--sequence_example_file {sequence_example_file}: cannot read it as '
                             f'SequenceExample TFRecords of this config ({first})') from None
        produced = True
        yield batch


def run_training(build_model: Callable[..., Any], hparams: HParams,
                 sequence_example_file: str, run_dir: str, input_size: int,
                 num_classes: NumClasses, default_event_label: int,
                 class_num_steps: ClassNumSteps = None, num_training_steps: int = 0,
                 summary_frequency: int = 10, num_checkpoints: int = 10,
                 seed: int | None = None, input_depth: int | None = None,
                 one_hot_width: int = 0,
                 save_checkpoint_secs: float = SAVE_CHECKPOINT_SECS,
                 warm_start_fn: Callable[[Any], None] | None = None) -> dict[str, float]:
    """Trains until the global step reaches num_training_steps (0: forever).

    Resumes from the latest checkpoint in `<run_dir>/train`; the step count goes
    on from there, so num_training_steps is the total target. Checkpoints are
    saved every save_checkpoint_secs, at the end and on Ctrl-C. warm_start_fn(model)
    is called before the first step of a fresh run (fine-tuning from a bundle).
    Runs on every local GPU, or on every worker TF_CONFIG names (engine.make_strategy);
    batch_size is the global batch. Only the chief writes checkpoints and summaries.
    Returns {'global_step': N} plus the metrics of the last logged step.
    Raises NonFiniteLossError when the loss becomes NaN, Inf or explodes; the step that
    produced it is not applied and no checkpoint is written for it.
    """
    strategy = engine.make_strategy()  # before any other TensorFlow work
    chief = engine.is_chief(strategy)
    train_dir = os.path.join(run_dir, 'train')
    if chief:
        os.makedirs(train_dir, exist_ok=True)
    logging.info('Training on %s', engine.describe(strategy))
    logging.info('Recurrence backend: %s%s', backends.selected_backend(),
                 ', bfloat16' if backends.compute_dtype() == tf.bfloat16 else '')
    engine.check_global_batch(strategy, hparams.batch_size)
    seed = engine.shared_seed(strategy, seed)
    if seed is not None:
        tf.random.set_seed(seed)
        np.random.seed(seed)

    model, optimizer, global_step, train_step = build_train_step(
        build_model, hparams, input_size, num_classes, default_event_label, class_num_steps,
        input_depth, one_hot_width, strategy)
    checkpoint = tf.train.Checkpoint(model=model, optimizer=optimizer, step=global_step)
    if chief:
        engine.remove_stale_checkpoint_files(train_dir)
    keeper = engine.CheckpointKeeper(checkpoint, train_dir, chief, num_checkpoints or None,
                                     KEEP_CHECKPOINT_EVERY_N_HOURS, global_step)
    resumed = bool(keeper.latest_checkpoint)
    if resumed:
        # Ours or an original run's (TF1 names, Adam slots): model_io reads both.
        model_io.restore_checkpoint(keeper.latest_checkpoint, checkpoint)
        logging.info('Resuming from %s at step %d', keeper.latest_checkpoint, int(global_step.numpy()))
    elif warm_start_fn is not None:
        warm_start_fn(model)
    engine.sync_from_chief(strategy, checkpoint_variables(model, optimizer, global_step))

    start_step = int(global_step.numpy())
    if num_training_steps and start_step >= num_training_steps:
        logging.info('Step %d already reaches num_training_steps=%d; nothing to train.',
                     start_step, num_training_steps)
        return {'global_step': start_step}

    # A resumed run with a seed must not replay the first run's shuffle order.
    dataset = data.make_dataset(sequence_example_file, hparams.batch_size, input_size,
                                data.label_size_of(num_classes), training=True,
                                seed=None if seed is None else seed + start_step)
    writer = tf.summary.create_file_writer(train_dir) if chief else tf.summary.create_noop_writer()
    if not resumed:
        keeper.save()

    def report(step: int, stats: dict[str, float], steps_per_sec: float, eta: str) -> None:
        metrics = metrics_from_sums(stats)
        last_metrics.clear()
        last_metrics.update(metrics)
        _write_scalars(writer, {**metrics, 'global_step/sec': steps_per_sec}, step)
        logging.info('Global Step: %d, Loss: %.4f, Perplexity: %.4f, Accuracy: %.4f, '
                     'Steps/s: %.2f%s', step, metrics['loss'], metrics['metrics/perplexity'],
                     metrics['metrics/accuracy'], steps_per_sec, eta)

    last_metrics: dict[str, float] = {}
    logging.info('Starting training loop at step %d...', start_step)
    try:
        step, _ = engine.run_loop(
            lambda *batch: _with_loss(train_step, *batch),
            _training_batches(dataset, sequence_example_file), keeper, global_step,
            num_training_steps, save_checkpoint_secs, report, summary_frequency,
            f'Try a lower learning rate (--hparams=learning_rate=...; now '
            f'{hparams.learning_rate}).', multi_worker=engine.cluster_size() > 1)
    finally:
        writer.close()
    if num_training_steps and step < num_training_steps:
        logging.info('Stopped at step %d; saved %s', step, keeper.latest_checkpoint)
    else:
        logging.info('Training complete at step %d; saved %s', step, keeper.latest_checkpoint)
    return {'global_step': step, **last_metrics}


def _with_loss(train_step, inputs, labels, lengths):
    """(applied, loss, sums) for engine.run_loop from make_train_step's (applied, sums)."""
    applied, stats = train_step(inputs, labels, lengths)
    return applied, stats['cross_entropy'] / stats['entries'], stats


def checkpoint_variables(*trackables) -> list[tf.Variable]:
    """Every variable of these objects (the model's, the optimizer's slots, the step)."""
    found: dict[int, tf.Variable] = {}
    for trackable in trackables:
        if isinstance(trackable, tf.Variable):
            found.setdefault(id(trackable), trackable)
            continue
        for variable in getattr(trackable, 'variables', []):
            variable = getattr(variable, 'value', variable) if not isinstance(
                variable, tf.Variable) else variable
            found.setdefault(id(variable), variable)
    return list(found.values())


# ---------------------------------------------------------------------------
# Evaluation.

def evaluate_checkpoint(model, checkpoint_path: str, dataset: tf.data.Dataset, eval_step,
                        num_classes: NumClasses) -> tuple[int, dict[str, float]]:
    """Restores the model weights from checkpoint_path (read only) and evaluates one full pass."""
    global_step = tf.Variable(0, dtype=tf.int64, trainable=False)
    # Only the model and the step: optimizer slots in the file are left unread. Every
    # weight of the model must come from the file (evaluating fresh weights would lie);
    # model_io reads ours and the original's and names the first variable that differs.
    model_io.restore_checkpoint(checkpoint_path, tf.train.Checkpoint(model=model, step=global_step))
    heads = _heads(num_classes)
    sums: dict[str, float] = {}
    class_correct = np.zeros(sum(heads), np.float64)
    class_total = np.zeros(sum(heads), np.float64)
    for inputs, labels, lengths in dataset:
        stats, per_class_correct, per_class_total = eval_step(inputs, labels, lengths)
        for name, value in stats.items():
            sums[name] = sums.get(name, 0.0) + float(value)
        class_correct += per_class_correct.numpy()
        class_total += per_class_total.numpy()
    metrics = metrics_from_sums(sums)
    present = class_total > 0
    # Mean over the classes that occur in the eval set (multi-head: over every head's classes).
    metrics['metrics/per_class_accuracy'] = (
            float(np.mean(class_correct[present] / class_total[present])) if present.any() else 0.0)
    return int(global_step.numpy()), metrics


def run_eval(build_model: Callable[..., Any], hparams: HParams, sequence_example_file: str,
             run_dir: str, input_size: int, num_classes: NumClasses, default_event_label: int,
             class_num_steps: ClassNumSteps = None, num_eval_examples: int = 0,
             input_depth: int | None = None, one_hot_width: int = 0, once: bool = False,
             eval_interval_secs: float = EVAL_INTERVAL_SECS,
             timeout_secs: float = EVAL_TIMEOUT_SECS,
             stop_at_step: int = 0) -> list[tuple[int, dict[str, float]]]:
    """Evaluates each new checkpoint in `<run_dir>/train` over the whole eval set.

    Summaries go to `<run_dir>/eval` at the checkpoint's step. Waits for new
    checkpoints (polling every eval_interval_secs) until none arrives for
    timeout_secs; once=True evaluates only the latest checkpoint, which must
    exist. With stop_at_step > 0 the job ends once it has evaluated a checkpoint of
    that step or later (the training run's num_training_steps). Checkpoints are only
    read. Returns [(step, metrics)] per evaluation.
    """
    train_dir = os.path.join(run_dir, 'train')
    eval_dir = os.path.join(run_dir, 'eval')
    record_count = data.count_records(sequence_example_file)
    if num_eval_examples:
        record_count = min(record_count, num_eval_examples)
    num_batches = record_count // hparams.batch_size
    if num_batches <= 0:
        raise ValueError(
                f'--sequence_example_file {sequence_example_file}: {record_count} eval records '
                f'make no full batch of batch_size={hparams.batch_size}; use more records or a '
                f'smaller batch_size.')
    logging.info('Evaluating on %s: %d records (%d full batches of %d%s) per checkpoint',
                 describe_device(), record_count, num_batches, hparams.batch_size,
                 f' + {record_count % hparams.batch_size}' if record_count % hparams.batch_size else '')

    model = _build(build_model, hparams, input_size, num_classes, input_depth, one_hot_width)
    dataset = data.make_dataset(sequence_example_file, hparams.batch_size, input_size,
                                data.label_size_of(num_classes), training=False,
                                num_records=num_eval_examples or None)
    heads = _heads(num_classes)
    offsets = tf.constant(np.cumsum([0] + heads[:-1]), tf.int32)
    total_classes = sum(heads)

    @tf.function(input_signature=_signature(input_size, num_classes))
    def eval_step(inputs, labels, lengths):
        logits = model(inputs, training=False)
        stats = batch_statistics(logits, labels, lengths, num_classes,
                                 default_event_label, class_num_steps)
        prediction, mask = stats.pop('predictions'), stats.pop('mask')
        head_labels = tf.cast(labels, tf.int32)
        if isinstance(num_classes, int):
            head_labels = head_labels[..., tf.newaxis]
        class_ids = tf.reshape(head_labels + offsets, [-1])
        weights = tf.reshape(mask[..., tf.newaxis] * tf.ones_like(head_labels, tf.float32), [-1])
        correct = tf.reshape(tf.cast(tf.equal(prediction, head_labels), tf.float32), [-1]) * weights
        per_class_total = tf.math.unsorted_segment_sum(weights, class_ids, total_classes)
        per_class_correct = tf.math.unsorted_segment_sum(correct, class_ids, total_classes)
        return stats, per_class_correct, per_class_total

    writer = tf.summary.create_file_writer(eval_dir)
    results = []

    def evaluate(path: str) -> None:
        step, metrics = evaluate_checkpoint(model, path, dataset, eval_step, num_classes)
        _write_scalars(writer, metrics, step)
        logging.info('Eval at Global Step: %d, Loss: %.4f, Perplexity: %.4f, Accuracy: %.4f, '
                     'Event accuracy: %.4f, Per-class accuracy: %.4f', step, metrics['loss'],
                     metrics['metrics/perplexity'], metrics['metrics/accuracy'],
                     metrics['metrics/event_accuracy'], metrics['metrics/per_class_accuracy'])
        results.append((step, metrics))

    if once:
        latest = tf.train.latest_checkpoint(train_dir)
        if latest is None:
            raise FileNotFoundError(f'--run_dir {run_dir}: no checkpoint in {train_dir} to evaluate')
        evaluate(latest)
    else:
        for path in tf.train.checkpoints_iterator(train_dir, min_interval_secs=eval_interval_secs,
                                                  timeout=timeout_secs):
            evaluate(path)
            if stop_at_step and results[-1][0] >= stop_at_step:
                logging.info('Evaluated step %d (--num_training_steps); eval done.', results[-1][0])
                break
        else:
            logging.info('No new checkpoint in %s for %d s; eval done.', train_dir, timeout_secs)
    writer.close()
    return results
