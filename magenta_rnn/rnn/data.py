"""tf.data input for events RNN SequenceExamples (REFERENCE.md "Record layout", "Training input").

Each record is a SequenceExample with the feature lists `inputs` (one float
vector of `input_size` per step) and `labels` (one int64 per step, or `k` of
them for multi-head encoders). Batches are zero-padded to their longest
sequence and come with the unpadded lengths.

Records are batched while still serialized and parsed a whole batch at a time
with `tf.io.parse_sequence_example`, which also does the zero padding; this is
much cheaper than parsing one record at a time and padding afterwards.

A model may register a RecordExpander (use_record_expander): training files whose
records it recognises hold sources (e.g. lean Performance RNN pieces) that the
pipeline turns into examples on the fly, one shuffled (record, variant) pair at a time.
"""
from __future__ import annotations

import glob
import os
from collections.abc import Sequence
from typing import Protocol

import numpy as np
import tensorflow as tf

# The original shuffles through a RandomShuffleQueue of capacity 500 (REFERENCE.md
# "Training input").
SHUFFLE_BUFFER_SIZE = 500


class RecordExpander(Protocol):
    """Makes training examples from a stored source record, one variant at a time."""
    num_variants: int

    def is_source(self, record: bytes) -> bool:
        """Whether `record` is a source this expander reads (not an example)."""

    def __call__(self, record: bytes, variant: int) -> list[bytes]:
        """The serialized SequenceExamples of variant `variant` of the source."""


_record_expander: RecordExpander | None = None


def use_record_expander(expander: RecordExpander | None) -> None:
    """Training datasets whose records `expander` recognises are expanded by it."""
    global _record_expander
    _record_expander = expander


def _first_record(files: list[str]) -> bytes | None:
    """The first record, or None for empty or unreadable files (the trainer reports those)."""
    try:
        for record in tf.data.TFRecordDataset(files).take(1):
            return record.numpy()
    except (tf.errors.DataLossError, tf.errors.InvalidArgumentError):
        pass
    return None


def expand_records(records: tf.data.Dataset, expander: RecordExpander, *,
                   seed: int | None = None, deterministic: bool = True,
                   shuffle_buffer_size: int = SHUFFLE_BUFFER_SIZE) -> tf.data.Dataset:
    """Every (record, variant) pair, shuffled, expanded into its serialized examples: one
    pass yields what writing every variant of every record would have written."""
    variants = tf.data.Dataset.range(expander.num_variants)
    pairs = records.flat_map(lambda record: variants.map(lambda variant: (record, variant)))
    pairs = pairs.shuffle(shuffle_buffer_size, seed=seed, reshuffle_each_iteration=True)

    def expand(record: bytes, variant: np.int64) -> np.ndarray:
        return np.array(expander(record, int(variant)), dtype=object).reshape([-1])

    examples = pairs.map(
            lambda record, variant: tf.reshape(
                    tf.numpy_function(expand, [record, variant], tf.string, stateful=False), [-1]),
            num_parallel_calls=tf.data.AUTOTUNE, deterministic=deterministic)
    return examples.unbatch()


def label_size_of(num_classes: int | Sequence[int]) -> int | None:
    """None for one label per step (single head), k for a k-head encoder."""
    if isinstance(num_classes, int):
        return None
    return len(num_classes)


def resolve_files(file_pattern: str | Sequence[str]) -> list[str]:
    """Expands a glob (or a list of globs) to a sorted file list; raises if it matches nothing."""
    patterns = [file_pattern] if isinstance(file_pattern, str) else list(file_pattern)
    files: list[str] = []
    for pattern in patterns:
        pattern = os.path.expanduser(pattern)
        files.extend(sorted(glob.glob(pattern)) or ([pattern] if os.path.isfile(pattern) else []))
    if not files:
        raise FileNotFoundError(
                f'--sequence_example_file: no TFRecord file matches {file_pattern!r}')
    return files


def count_records(file_pattern: str | Sequence[str]) -> int:
    """Number of records in every file matching the pattern."""
    dataset = tf.data.TFRecordDataset(resolve_files(file_pattern))
    return int(dataset.reduce(tf.constant(0, tf.int64), lambda count, _: count + 1))


def parse_batch(serialized: tf.Tensor, input_size: int,
                label_size: int | None = None) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """Parses a vector of serialized SequenceExamples into padded (inputs, labels, lengths).

    inputs float32 [B, T, input_size]; labels int64 [B, T] (or [B, T, k]); lengths
    int32 [B]. Steps past a sequence's length are zeros.
    """
    label_shape = [] if label_size is None else [label_size]
    features = {
            'inputs': tf.io.FixedLenSequenceFeature([input_size], tf.float32, allow_missing=True),
            'labels': tf.io.FixedLenSequenceFeature(label_shape, tf.int64, allow_missing=True),
    }
    _, sequences, lengths = tf.io.parse_sequence_example(serialized, sequence_features=features)
    return sequences['inputs'], sequences['labels'], tf.cast(lengths['inputs'], tf.int32)


def make_dataset(file_pattern: str | Sequence[str], batch_size: int, input_size: int,
                 label_size: int | None = None, *, training: bool = True,
                 seed: int | None = None, deterministic: bool | None = None,
                 num_records: int | None = None,
                 shuffle_buffer_size: int = SHUFFLE_BUFFER_SIZE) -> tf.data.Dataset:
    """Batches of (inputs, labels, lengths) from TFRecords of SequenceExamples.

    training=True: files and records are shuffled (buffer 500, like the original's
    queue), repeated forever, and a final short batch is dropped
    (allow_smaller_final_batch=False). training=False: one pass in file order,
    keeping the final short batch, in order. num_records limits the records read
    (eval's num_eval_examples). A seed makes the training order reproducible and,
    unless deterministic=False, forces deterministic element order.
    """
    files = resolve_files(file_pattern)
    if deterministic is None:
        # Eval keeps file order; training may let parallel parsing finish out of order.
        deterministic = seed is not None or not training
    if training:
        file_dataset = tf.data.Dataset.from_tensor_slices(files)
        if len(files) > 1:
            file_dataset = file_dataset.shuffle(len(files), seed=seed, reshuffle_each_iteration=True)
        if len(files) > 1:
            dataset = file_dataset.interleave(
                    tf.data.TFRecordDataset, cycle_length=min(len(files), 4),
                    num_parallel_calls=tf.data.AUTOTUNE, deterministic=deterministic)
        else:
            dataset = tf.data.TFRecordDataset(files)
        first = _first_record(files) if _record_expander is not None else None
        if first is not None and _record_expander.is_source(first):
            dataset = expand_records(dataset, _record_expander, seed=seed,
                                     deterministic=deterministic,
                                     shuffle_buffer_size=shuffle_buffer_size)
        if num_records:
            dataset = dataset.take(num_records)
        dataset = dataset.shuffle(shuffle_buffer_size, seed=seed, reshuffle_each_iteration=True)
        dataset = dataset.repeat()
        dataset = dataset.batch(batch_size, drop_remainder=True)
    else:
        dataset = tf.data.TFRecordDataset(files)
        if num_records:
            dataset = dataset.take(num_records)
        dataset = dataset.batch(batch_size, drop_remainder=False)
    dataset = dataset.map(lambda serialized: parse_batch(serialized, input_size, label_size),
                          num_parallel_calls=tf.data.AUTOTUNE, deterministic=deterministic)
    dataset = dataset.prefetch(tf.data.AUTOTUNE)
    options = tf.data.Options()
    options.deterministic = deterministic
    return dataset.with_options(options)
