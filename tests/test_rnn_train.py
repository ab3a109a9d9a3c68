"""Tests for magenta_rnn.rnn.data and magenta_rnn.rnn.train (REFERENCE.md "Events RNN graph",
"Training input", "Training metrics", "Checkpoints and variable names")."""
from __future__ import annotations

import glob
import hashlib
import logging
import math
import os
import time

import numpy as np
import pytest

tf = pytest.importorskip('tensorflow')
import keras  # noqa: E402

from magenta_rnn.hparams import HParams  # noqa: E402
from magenta_rnn.records import RecordWriter, make_sequence_example  # noqa: E402
from magenta_rnn.rnn import data, train  # noqa: E402
from magenta_rnn.rnn.model import build_events_rnn  # noqa: E402

EXPECTED_TRAIN_TAGS = {'loss', 'metrics/perplexity', 'metrics/accuracy', 'metrics/event_accuracy',
                       'metrics/no_event_accuracy', 'metrics/loss_per_step',
                       'metrics/perplexity_per_step', 'global_step/sec'}
EXPECTED_EVAL_TAGS = (EXPECTED_TRAIN_TAGS - {'global_step/sec'}) | {'metrics/per_class_accuracy'}


def build_standin(hparams, input_size, num_classes, input_depth=None, one_hot_width=0):
    """A tiny per-step model with the events RNN's call signature (no recurrence: fast)."""
    total = num_classes if isinstance(num_classes, int) else sum(num_classes)
    inputs = keras.Input([None, input_size])
    hidden = keras.layers.Dense(hparams.rnn_layer_sizes[0], activation='tanh')(inputs)
    hidden = keras.layers.Dropout(1.0 - hparams.dropout_keep_prob)(hidden)
    return keras.Model(inputs, keras.layers.Dense(total)(hidden))


def make_hparams(**overrides) -> HParams:
    values = dict(batch_size=4, rnn_layer_sizes=[16], dropout_keep_prob=1.0, attn_length=0,
                  clip_norm=3.0, learning_rate=0.05, residual_connections=False)
    values.update(overrides)
    return HParams(**values)


def one_hot(index: int, depth: int) -> list[float]:
    return [1.0 if i == index else 0.0 for i in range(depth)]


def write_examples(path, examples) -> str:
    with RecordWriter(str(path)) as writer:
        for inputs, labels in examples:
            writer.write(make_sequence_example(inputs, labels))
    return str(path)


def toy_examples(count: int, length: int = 8, depth: int = 4, seed: int = 0):
    """Learnable toy task: the label is the next token, (token + 1) % depth."""
    rng = np.random.default_rng(seed)
    examples = []
    for _ in range(count):
        tokens = rng.integers(0, depth, size=length)
        examples.append(([one_hot(t, depth) for t in tokens], [int((t + 1) % depth) for t in tokens]))
    return examples


def read_scalars(directory: str) -> dict[str, dict[int, float]]:
    """{tag: {step: value}} from every event file in directory."""
    from tensorflow.core.util import event_pb2
    scalars: dict[str, dict[int, float]] = {}
    for path in sorted(glob.glob(os.path.join(directory, 'events.out.tfevents.*'))):
        for record in tf.data.TFRecordDataset(path).as_numpy_iterator():
            event = event_pb2.Event.FromString(record)
            for value in event.summary.value:
                scalars.setdefault(value.tag, {})[event.step] = float(tf.make_ndarray(value.tensor))
    return scalars


def checkpoint_steps(train_dir: str) -> list[int]:
    return sorted(int(p.split('-')[-1].split('.')[0])
                  for p in glob.glob(os.path.join(train_dir, 'model.ckpt-*.index')))


def hash_dir(directory: str) -> dict[str, str]:
    return {name: hashlib.sha256(open(os.path.join(directory, name), 'rb').read()).hexdigest()
            for name in sorted(os.listdir(directory)) if not name.startswith('events.')}


# ---------------------------------------------------------------------------
# data.py

def test_eval_batches_are_zero_padded_with_lengths(tmp_path):
    path = write_examples(tmp_path / 'a.tfrecord', [
            ([[1, 2], [3, 4]], [5, 6]),
            ([[1, 1], [2, 2], [3, 3], [4, 4]], [1, 2, 3, 4]),
            ([[7, 7], [8, 8], [9, 9]], [7, 8, 9]),
    ])
    batches = list(data.make_dataset(path, 2, input_size=2, training=False).as_numpy_iterator())
    assert len(batches) == 2  # one pass; the final short batch is kept for eval
    inputs, labels, lengths = batches[0]
    assert inputs.shape == (2, 4, 2) and inputs.dtype == np.float32
    np.testing.assert_array_equal(lengths, [2, 4])
    np.testing.assert_array_equal(inputs[0], [[1, 2], [3, 4], [0, 0], [0, 0]])
    np.testing.assert_array_equal(labels, [[5, 6, 0, 0], [1, 2, 3, 4]])
    assert labels.dtype == np.int64
    inputs, labels, lengths = batches[1]
    assert inputs.shape == (1, 3, 2)
    np.testing.assert_array_equal(lengths, [3])


def test_training_batches_repeat_shuffle_and_drop_the_remainder(tmp_path):
    examples = [([[float(i)]] * (i + 1), [i] * (i + 1)) for i in range(5)]
    path = write_examples(tmp_path / 'a.tfrecord', examples)
    dataset = data.make_dataset(path, 2, input_size=1, training=True, seed=3)
    batches = list(dataset.take(10).as_numpy_iterator())
    assert all(b[0].shape[0] == 2 for b in batches)
    order = [int(b[1][row, 0]) for b in batches for row in range(2)]
    assert sorted(order) == sorted(list(range(5)) * 4)  # 20 records = 4 whole epochs
    assert order != list(range(5)) * 4  # shuffled, not file order
    for _, labels, lengths in batches:
        for row in range(2):
            value = int(labels[row, 0])
            assert lengths[row] == value + 1  # each record keeps its own length
            assert (labels[row, lengths[row]:] == 0).all()
    # Same seed, same order.
    again = list(data.make_dataset(path, 2, input_size=1, training=True, seed=3).take(10)
                 .as_numpy_iterator())
    assert [b[1].tolist() for b in again] == [b[1].tolist() for b in batches]


def test_multi_head_labels_parse_to_three_dimensions(tmp_path):
    path = write_examples(tmp_path / 'a.tfrecord', [([[0.5], [0.25]], [[1, 2, 3], [4, 5, 6]])])
    inputs, labels, lengths = next(data.make_dataset(
            path, 1, input_size=1, label_size=3, training=False).as_numpy_iterator())
    np.testing.assert_array_equal(labels, [[[1, 2, 3], [4, 5, 6]]])
    np.testing.assert_array_equal(lengths, [2])


def test_unmatched_glob_names_the_pattern(tmp_path):
    with pytest.raises(FileNotFoundError, match='nothing_here'):
        data.make_dataset(str(tmp_path / 'nothing_here*.tfrecord'), 2, 1)


def test_glob_reads_several_files(tmp_path):
    write_examples(tmp_path / 'a-1.tfrecord', toy_examples(3))
    write_examples(tmp_path / 'a-2.tfrecord', toy_examples(4))
    assert data.count_records(str(tmp_path / 'a-*.tfrecord')) == 7


# ---------------------------------------------------------------------------
# Loss and metrics.

def test_loss_ignores_padded_steps_exactly():
    # One sequence of length 2 padded to 3. Step 0: logits [0, 0], label 0 -> CE ln 2.
    # Step 1: logits [0, ln 3], label 1 -> CE ln(4/3). The padded step would add ~200.
    logits = tf.constant([[[0.0, 0.0], [0.0, math.log(3.0)], [100.0, -100.0]]])
    labels = tf.constant([[0, 1, 1]], tf.int64)
    stats = train.batch_statistics(logits, labels, tf.constant([2]), 2, default_event_label=0)
    metrics = train.metrics_from_sums({k: v.numpy() for k, v in stats.items()})
    assert metrics['loss'] == pytest.approx((math.log(2.0) + math.log(4.0 / 3.0)) / 2, rel=1e-6)
    assert metrics['metrics/perplexity'] == pytest.approx(math.sqrt(8.0 / 3.0), rel=1e-6)
    assert metrics['metrics/accuracy'] == 1.0


def test_accuracy_event_accuracy_and_steps_on_a_hand_made_batch():
    # 3 classes, default (no-event) label 0. Logits are 2 * one_hot(prediction).
    # A (length 3): labels [0, 2, 1], predictions [0, 1, 1] -> correct [1, 0, 1]
    # B (length 2): labels [0, 0, (pad)], predictions [2, 0, (pad)] -> correct [0, 1]
    predictions = [[0, 1, 1], [2, 0, 2]]
    logits = tf.constant(2.0 * np.eye(3)[predictions], tf.float32)
    labels = tf.constant([[0, 2, 1], [0, 0, 2]], tf.int64)
    stats = train.batch_statistics(logits, labels, tf.constant([3, 2]), 3, default_event_label=0,
                                   class_num_steps=[1, 0, 5])
    sums = {k: v.numpy() for k, v in stats.items()}
    metrics = train.metrics_from_sums(sums)
    right = -math.log(math.exp(2) / (math.exp(2) + 2))
    wrong = -math.log(1 / (math.exp(2) + 2))
    assert sums['entries'] == 5
    assert metrics['metrics/accuracy'] == pytest.approx(3 / 5)
    assert metrics['metrics/event_accuracy'] == pytest.approx(1 / 2)  # A's 2 wrong, A's 1 right
    assert metrics['metrics/no_event_accuracy'] == pytest.approx(2 / 3)
    assert metrics['loss'] == pytest.approx((3 * right + 2 * wrong) / 5, rel=1e-5)
    # num_steps = A: 1 + 5 + 0, B: 1 + 1 = 8
    assert sums['num_steps'] == 8
    assert metrics['metrics/loss_per_step'] == pytest.approx((3 * right + 2 * wrong) / 8, rel=1e-5)
    # Without class_num_steps, one step per event.
    stats = train.batch_statistics(logits, labels, tf.constant([3, 2]), 3, default_event_label=0)
    assert float(stats['num_steps']) == 5


def test_multi_head_loss_is_the_mean_over_heads_and_steps():
    # Heads of 2 and 3 classes; one step. Head 0 logits [0, 0] (CE ln 2), head 1 all zeros (ln 3).
    logits = tf.zeros([1, 1, 5])
    labels = tf.constant([[[1, 2]]], tf.int64)
    stats = train.batch_statistics(logits, labels, tf.constant([1]), [2, 3], default_event_label=0)
    metrics = train.metrics_from_sums({k: v.numpy() for k, v in stats.items()})
    assert metrics['loss'] == pytest.approx((math.log(2) + math.log(3)) / 2, rel=1e-6)
    # argmax of ties is class 0 on both heads; labels are 1 and 2.
    assert metrics['metrics/accuracy'] == 0.0


def test_gradients_are_clipped_per_tensor_not_by_global_norm():
    big, small = tf.constant([3.0, 4.0]), tf.constant([0.3, 0.4])
    clipped_big, clipped_small, none = train.clip_gradients([big, small, None], 1.0)
    np.testing.assert_allclose(clipped_big.numpy(), [0.6, 0.8], rtol=1e-6)
    np.testing.assert_allclose(clipped_small.numpy(), [0.3, 0.4], rtol=1e-6)  # global would shrink it
    assert none is None


@pytest.mark.parametrize('attn_length', [0, 3])
def test_train_step_in_two_half_batches_equals_the_whole_batch(monkeypatch, attn_length):
    from magenta_rnn.rnn.model import build_events_rnn
    hparams = make_hparams(rnn_layer_sizes=[6, 5], attn_length=attn_length)
    rng = np.random.default_rng(3)
    inputs = tf.constant(rng.normal(0, 1, (5, 7, 4)).astype(np.float32))  # 5 = 2 + 3
    labels = tf.constant(rng.integers(0, 4, (5, 7)))
    lengths = tf.constant([7, 3, 5, 1, 6])

    def one_step(in_halves):
        monkeypatch.setattr(train, 'train_in_halves', lambda model: in_halves)
        tf.random.set_seed(0)
        model = build_events_rnn(hparams, 4, 4)
        model(inputs[:1])
        before = [v.numpy() for v in model.trainable_variables]
        # Plain SGD with rate 1 and no clipping: each weight moves by minus its gradient.
        step = train.make_train_step(model, keras.optimizers.SGD(1.0), tf.Variable(0, dtype=tf.int64),
                                     1e9, 4, 4, 0)
        finite, stats = step(inputs, labels, lengths)
        assert bool(finite)
        moves = [b - v.numpy() for b, v in zip(before, model.trainable_variables)]
        return {k: float(v) for k, v in stats.items()}, moves

    whole_stats, whole_moves = one_step(False)
    half_stats, half_moves = one_step(True)
    assert whole_stats['entries'] == half_stats['entries'] == 22
    for name, value in whole_stats.items():
        assert half_stats[name] == pytest.approx(value, rel=1e-5), name
    for whole, half in zip(whole_moves, half_moves):
        assert np.abs(whole).max() > 0
        np.testing.assert_allclose(half, whole, atol=1e-5 * np.abs(whole).max())


def test_adam_uses_tf1_defaults():
    optimizer = train.make_optimizer(make_hparams(learning_rate=0.001))
    assert optimizer.epsilon == 1e-8 and optimizer.beta_1 == 0.9 and optimizer.beta_2 == 0.999


# ---------------------------------------------------------------------------
# Training and eval loops.

def run_toy_training(tmp_path, steps, **kwargs):
    path = tmp_path / 'train.tfrecord'
    if not path.exists():
        write_examples(path, toy_examples(32))
    defaults = dict(build_model=build_standin, hparams=make_hparams(), sequence_example_file=str(path),
                    run_dir=str(tmp_path / 'run'), input_size=4, num_classes=4,
                    default_event_label=0, num_training_steps=steps, summary_frequency=10, seed=1)
    defaults.update(kwargs)
    return train.run_training(**defaults)


def test_training_learns_a_toy_task_and_logs(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger='absl')
    result = run_toy_training(tmp_path, 60)
    assert result['global_step'] == 60
    scalars = read_scalars(str(tmp_path / 'run' / 'train'))
    assert set(scalars) == EXPECTED_TRAIN_TAGS
    assert sorted(scalars['loss']) == [10, 20, 30, 40, 50, 60]
    assert scalars['loss'][60] < 0.5 * scalars['loss'][10]
    assert scalars['metrics/accuracy'][60] > 0.9
    assert scalars['metrics/perplexity'][60] == pytest.approx(math.exp(scalars['loss'][60]), rel=1e-5)
    text = caplog.text
    assert 'Training on CPU' in text or 'Training on GPU' in text
    assert 'Global Step: 60, Loss: ' in text and 'Perplexity: ' in text and 'ETA: ' in text
    assert checkpoint_steps(str(tmp_path / 'run' / 'train'))[-1] == 60


def test_training_resumes_from_the_latest_checkpoint(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger='absl')
    run_toy_training(tmp_path, 5)
    train_dir = str(tmp_path / 'run' / 'train')
    assert checkpoint_steps(train_dir) == [0, 5]
    saved = tf.train.load_checkpoint(train_dir)
    assert saved.get_tensor('step/.ATTRIBUTES/VARIABLE_VALUE') == 5
    # Already at the target: nothing to do, nothing written.
    assert run_toy_training(tmp_path, 5)['global_step'] == 5
    assert checkpoint_steps(train_dir) == [0, 5]
    result = run_toy_training(tmp_path, 12)
    assert result['global_step'] == 12
    assert 'Resuming from' in caplog.text and 'at step 5' in caplog.text
    assert checkpoint_steps(train_dir) == [0, 5, 12]
    assert tf.train.load_checkpoint(train_dir).get_tensor('step/.ATTRIBUTES/VARIABLE_VALUE') == 12
    # Adam's own step counter came back too, so bias correction continues.
    iterations = [name for name, _ in tf.train.list_variables(train_dir) if 'iterations' in name]
    assert iterations
    assert tf.train.load_checkpoint(train_dir).get_tensor(iterations[0]) == 12


def test_build_train_step_is_what_run_training_trains(tmp_path):
    """Benchmarks time build_train_step's step: from the same seed and batches it gives the
    very losses run_training logs, so a benchmark times what the train command runs."""
    # The events RNN itself: its initial weights follow tf.random.set_seed (Keras layers'
    # do not), which run_training sets from seed=1.
    run_toy_training(tmp_path, 3, summary_frequency=1, build_model=build_events_rnn)
    logged = read_scalars(str(tmp_path / 'run' / 'train'))['loss']
    tf.random.set_seed(1)
    parts = train.build_train_step(build_events_rnn, make_hparams(), 4, 4, 0)
    batches = data.make_dataset(str(tmp_path / 'train.tfrecord'), 4, 4, training=True, seed=1)
    losses = {}
    for step, batch in zip(range(1, 4), batches):
        applied, stats = parts.train_step(*batch)
        assert bool(applied)
        losses[step] = float(stats['cross_entropy'] / stats['entries'])
    assert int(parts.global_step.numpy()) == 3 and int(parts.optimizer.iterations.numpy()) == 3
    assert losses[3] < losses[1]
    assert losses == pytest.approx(logged, rel=1e-6)  # summaries hold float32


def test_checkpoints_kept_follow_num_checkpoints(tmp_path):
    run_toy_training(tmp_path, 3, num_checkpoints=2, save_checkpoint_secs=0)
    assert checkpoint_steps(str(tmp_path / 'run' / 'train')) == [2, 3]


def test_nan_loss_stops_with_a_clear_message_and_keeps_the_last_good_checkpoint(tmp_path):
    run_toy_training(tmp_path, 3)
    train_dir = str(tmp_path / 'run' / 'train')
    before = hash_dir(train_dir)
    bad = write_examples(tmp_path / 'bad.tfrecord',
                         [([[float('nan')] * 4] * 3, [0, 1, 2])] * 8)
    with pytest.raises(train.NonFiniteLossError, match=r'step 4;.*model.ckpt-3.*lower learning rate'):
        run_toy_training(tmp_path, 10, sequence_example_file=bad)
    assert hash_dir(train_dir) == before


def test_exploding_finite_loss_stops_training_too(tmp_path):
    huge = write_examples(tmp_path / 'huge.tfrecord', [([[1e20] * 4] * 3, [0, 1, 2])] * 8)

    def build_linear(hparams, input_size, num_classes, input_depth=None, one_hot_width=0):
        inputs = keras.Input([None, input_size])  # finite logits of ~1e20: a finite huge loss
        return keras.Model(inputs, keras.layers.Dense(num_classes)(inputs))

    run_toy_training(tmp_path, 3, build_model=build_linear, run_dir=str(tmp_path / 'linear'))
    with pytest.raises(train.NonFiniteLossError, match=r'Training loss exploded to .* at global '
                                                       r'step 4;.*model.ckpt-3'):
        run_toy_training(tmp_path, 10, sequence_example_file=huge, build_model=build_linear,
                         run_dir=str(tmp_path / 'linear'))


def test_empty_or_unreadable_training_file_is_an_error_not_complete(tmp_path):
    empty = tmp_path / 'empty.tfrecord'
    empty.write_bytes(b'')
    with pytest.raises(ValueError, match=rf'--sequence_example_file {empty}: no training '
                                         rf'examples \(the file is empty\)'):
        run_toy_training(tmp_path, 5, sequence_example_file=str(empty))
    garbage = tmp_path / 'garbage.tfrecord'
    garbage.write_bytes(b'this is not a TFRecord file at all' * 10)
    with pytest.raises(ValueError, match=rf'--sequence_example_file {garbage}: cannot read it as '
                                         rf'SequenceExample TFRecords'):
        run_toy_training(tmp_path, 5, sequence_example_file=str(garbage), run_dir=str(tmp_path / 'g'))


def test_resume_or_eval_with_other_hparams_is_a_one_line_error(tmp_path):
    run_toy_training(tmp_path, 2)
    other = make_hparams(rnn_layer_sizes=[7])

    def build_lstm(hparams, input_size, num_classes, input_depth=None, one_hot_width=0):
        from magenta_rnn.rnn.model import build_events_rnn
        return build_events_rnn(hparams, input_size, num_classes, input_depth)

    with pytest.raises(ValueError, match=r'model.ckpt-2: does not match the model built from '
                                         r'--config/--hparams: '):
        run_toy_training(tmp_path, 4, build_model=build_lstm, hparams=other)
    path = str(tmp_path / 'train.tfrecord')
    with pytest.raises(ValueError, match=r'model.ckpt-2: does not match the model built from '
                                         r'--config/--hparams: '):
        train.run_eval(build_lstm, other, path, str(tmp_path / 'run'), 4, 4, 0, once=True)


def test_eval_writes_real_means_over_the_whole_set_and_leaves_weights_alone(tmp_path):
    run_toy_training(tmp_path, 20)
    run_dir = tmp_path / 'run'
    train_dir = str(run_dir / 'train')
    eval_examples = toy_examples(10, length=5, seed=7) + toy_examples(1, length=9, seed=8)
    eval_path = write_examples(tmp_path / 'eval.tfrecord', eval_examples)
    before = hash_dir(train_dir)
    results = train.run_eval(build_standin, make_hparams(), eval_path, str(run_dir), 4, 4, 0,
                             once=True)
    assert hash_dir(train_dir) == before
    (step, metrics), = results
    assert step == 20
    scalars = read_scalars(str(run_dir / 'eval'))
    assert set(scalars) == EXPECTED_EVAL_TAGS
    assert all(list(values) == [20] for values in scalars.values())

    # Independent check: restore the weights and score every record alone with numpy.
    model = build_standin(make_hparams(), 4, 4)
    model(tf.zeros([1, 1, 4]))
    tf.train.Checkpoint(model=model).restore(tf.train.latest_checkpoint(train_dir)).expect_partial()
    cross_entropies, correct = [], []
    for inputs, labels in eval_examples:
        logits = model(tf.constant([inputs], tf.float32), training=False).numpy()[0].astype(np.float64)
        log_probs = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
        cross_entropies.extend(-log_probs[np.arange(len(labels)), labels])
        correct.extend(logits.argmax(-1) == np.array(labels))
    assert len(cross_entropies) == 59  # 10 x 5 + 9: all 11 records, batch 4 -> 2 full + 3
    assert metrics['loss'] == pytest.approx(np.mean(cross_entropies), rel=1e-4)
    assert metrics['metrics/accuracy'] == pytest.approx(np.mean(correct), rel=1e-6)
    assert scalars['loss'][20] == pytest.approx(metrics['loss'], rel=1e-6)
    assert 0.0 < metrics['metrics/per_class_accuracy'] <= 1.0


def test_eval_polls_for_checkpoints_until_the_timeout(tmp_path):
    run_toy_training(tmp_path, 4)
    eval_path = write_examples(tmp_path / 'eval.tfrecord', toy_examples(4, seed=9))
    start = time.monotonic()
    results = train.run_eval(build_standin, make_hparams(), eval_path, str(tmp_path / 'run'),
                             4, 4, 0, eval_interval_secs=0, timeout_secs=1)
    assert [step for step, _ in results] == [4]
    assert time.monotonic() - start < 30


def test_eval_set_smaller_than_a_batch_raises(tmp_path):
    eval_path = write_examples(tmp_path / 'eval.tfrecord', toy_examples(3))
    with pytest.raises(ValueError, match=r'eval.tfrecord: 3 eval records make no full batch'):
        train.run_eval(build_standin, make_hparams(), eval_path, str(tmp_path / 'run'), 4, 4, 0,
                       once=True)


def test_eval_without_checkpoint_raises(tmp_path):
    eval_path = write_examples(tmp_path / 'eval.tfrecord', toy_examples(4))
    with pytest.raises(FileNotFoundError, match='no checkpoint'):
        train.run_eval(build_standin, make_hparams(), eval_path, str(tmp_path / 'run'), 4, 4, 0,
                       once=True)


def build_identity(hparams, input_size, num_classes, input_depth=None, one_hot_width=0):
    """Logits = inputs, so a test chooses every prediction through the records."""
    inputs = keras.Input([None, input_size])
    return keras.Model(inputs, keras.layers.Dense(num_classes, use_bias=False,
                                                  kernel_initializer='identity')(inputs))


def test_eval_metrics_exact_on_a_hand_made_eval_set(tmp_path):
    # Same batch as the training-metrics test, now through the whole eval job.
    # A: labels [0, 2, 1], predictions [0, 1, 1]; B: labels [0, 0], predictions [2, 0].
    examples = [([[2.0 * v for v in one_hot(p, 3)] for p in preds], labels)
                for preds, labels in [([0, 1, 1], [0, 2, 1]), ([2, 0], [0, 0])]]
    eval_path = write_examples(tmp_path / 'eval.tfrecord', examples)
    train_dir = tmp_path / 'run' / 'train'
    model = build_identity(None, 3, 3)
    model(tf.zeros([1, 1, 3]))
    tf.train.Checkpoint(model=model, step=tf.Variable(7, dtype=tf.int64)).save(
            str(train_dir / 'model.ckpt'))
    (step, metrics), = train.run_eval(build_identity, make_hparams(batch_size=2), eval_path,
                                      str(tmp_path / 'run'), 3, 3, 0, class_num_steps=[1, 0, 5],
                                      once=True)
    right = -math.log(math.exp(2) / (math.exp(2) + 2))
    wrong = -math.log(1 / (math.exp(2) + 2))
    assert step == 7
    assert metrics['loss'] == pytest.approx((3 * right + 2 * wrong) / 5, rel=1e-5)
    assert metrics['metrics/accuracy'] == pytest.approx(3 / 5)
    assert metrics['metrics/event_accuracy'] == pytest.approx(1 / 2)
    assert metrics['metrics/no_event_accuracy'] == pytest.approx(2 / 3)
    assert metrics['metrics/loss_per_step'] == pytest.approx((3 * right + 2 * wrong) / 8, rel=1e-5)
    # Per class: class 0 right 2 of 3, class 1 right 1 of 1, class 2 right 0 of 1.
    assert metrics['metrics/per_class_accuracy'] == pytest.approx((2 / 3 + 1 + 0) / 3)


def test_ctrl_c_saves_a_checkpoint_at_the_current_step(tmp_path, monkeypatch):
    real = train.metrics_from_sums

    def interrupt_at_step_20(sums):
        metrics = real(sums)
        if interrupt_at_step_20.calls == 1:
            raise KeyboardInterrupt
        interrupt_at_step_20.calls += 1
        return metrics

    interrupt_at_step_20.calls = 0
    monkeypatch.setattr(train, 'metrics_from_sums', interrupt_at_step_20)
    result = run_toy_training(tmp_path, 100)
    assert result['global_step'] == 20
    assert checkpoint_steps(str(tmp_path / 'run' / 'train')) == [0, 20]



def test_multi_head_training_and_eval_run_end_to_end(tmp_path):
    # Two heads of 2 and 3 classes (like the NotePerformance encoder's [k] labels).
    rng = np.random.default_rng(4)
    examples = []
    for _ in range(8):
        tokens = rng.integers(0, 3, size=6)
        examples.append(([one_hot(t, 3) for t in tokens], [[int(t % 2), int(t)] for t in tokens]))
    path = write_examples(tmp_path / 'multi.tfrecord', examples)
    result = train.run_training(build_standin, make_hparams(), path, str(tmp_path / 'run'), 3,
                                [2, 3], 0, num_training_steps=40, summary_frequency=10, seed=2)
    assert result['global_step'] == 40 and result['metrics/accuracy'] > 0.9
    (step, metrics), = train.run_eval(build_standin, make_hparams(), path, str(tmp_path / 'run'),
                                      3, [2, 3], 0, once=True)
    assert step == 40
    assert metrics['metrics/accuracy'] > 0.9 and metrics['metrics/per_class_accuracy'] > 0.9


@pytest.mark.slow
def test_benchmark_training_loop_overhead_against_a_bare_loop(tmp_path, capsys):
    """run_training vs a bare tf.function loop, same 2x128 LSTM stand-in and data, per CPU-second."""
    batch, length, depth, steps = 64, 64, 38, 40

    def build_lstm(hparams, input_size, num_classes, input_depth=None, one_hot_width=0):
        inputs = keras.Input([None, input_size])
        hidden = inputs
        for size in hparams.rnn_layer_sizes:
            hidden = keras.layers.LSTM(size, return_sequences=True)(hidden)
        return keras.Model(inputs, keras.layers.Dense(num_classes)(hidden))

    hparams = make_hparams(batch_size=batch, rnn_layer_sizes=[128, 128], learning_rate=0.001)
    rng = np.random.default_rng(0)
    path = write_examples(tmp_path / 'train.tfrecord', [
            (np.eye(depth)[tokens].tolist(), tokens.tolist())
            for tokens in (rng.integers(0, depth, int(rng.integers(length // 2, length + 1)))
                           for _ in range(256))])

    model = build_lstm(hparams, depth, depth)
    optimizer = train.make_optimizer(hparams)

    @tf.function(input_signature=train._signature(depth, depth))
    def bare_step(inputs, labels, lengths):
        with tf.GradientTape() as tape:
            mask = tf.sequence_mask(lengths, tf.shape(inputs)[1], tf.float32)
            cross_entropy = tf.nn.sparse_softmax_cross_entropy_with_logits(
                    labels=tf.cast(labels, tf.int32), logits=model(inputs, training=True))
            loss = tf.reduce_sum(cross_entropy * mask) / tf.reduce_sum(mask)
        gradients = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(gradients, model.trainable_variables))
        return loss

    batches = iter(data.make_dataset(path, batch, depth, training=True, seed=0))
    for _ in range(5):
        float(bare_step(*next(batches)))
    start = time.process_time()
    for _ in range(steps):
        loss = bare_step(*next(batches))
    float(loss)
    bare_rate = steps / (time.process_time() - start)

    stamps = {}

    class StepStamps(logging.Handler):
        def emit(self, record):
            message = record.getMessage()
            if message.startswith('Global Step: '):
                stamps[int(message.split(',')[0].split(': ')[1])] = time.process_time()

    handler = StepStamps()
    logging.getLogger('absl').addHandler(handler)
    logging.getLogger('absl').setLevel(logging.INFO)
    try:
        train.run_training(build_lstm, hparams, path, str(tmp_path / 'run'), depth, depth, 0,
                           num_training_steps=steps + 10, summary_frequency=10, seed=0)
    finally:
        logging.getLogger('absl').removeHandler(handler)
    ours_rate = steps / (stamps[steps + 10] - stamps[10])
    with capsys.disabled():
        print(f'\nsteps per CPU-second on {train.describe_device()}: bare loop {bare_rate:.2f}, '
              f'run_training {ours_rate:.2f} ({ours_rate / bare_rate:.2f}x)')
    assert ours_rate > 0.7 * bare_rate


@pytest.mark.parametrize('env, expected', [({}, f'{max(1, (os.cpu_count() or 2) // 2)} 2'),
                                           ({'TF_NUM_INTRAOP_THREADS': '3'}, '0 0')])  # left to TF
def test_split_cpu_threads_unless_the_environment_says(env, expected):
    import subprocess
    import sys
    program = ('from magenta_rnn.rnn import train; train.split_cpu_threads(); import tensorflow as tf; '
               'print(tf.config.threading.get_intra_op_parallelism_threads(), '
               'tf.config.threading.get_inter_op_parallelism_threads())')
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    full_env = {k: v for k, v in os.environ.items() if not k.startswith('TF_NUM_')}
    full_env.update(env, PYTHONPATH=repo, TF_CPP_MIN_LOG_LEVEL='3')
    result = subprocess.run([sys.executable, '-c', program], env=full_env, capture_output=True,
                            text=True, timeout=120)
    assert result.stdout.split()[-2:] == expected.split(), result.stderr[-2000:]
