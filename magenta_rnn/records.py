"""TFRecord files of NoteSequences and SequenceExamples, shared by every model.

Records are read and written through TensorFlow's C++ TFRecord code (imported on
first use, so importing this module stays light). Writers are atomic: records go
to a temporary file beside the target, renamed into place only when the writer
closes without error, so a crash or Ctrl-C never leaves a half-written file.
"""
from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from types import TracebackType

from magenta_rnn.protobuf import example_pb2, music_pb2

_GZIP_MAGIC = b'\x1f\x8b'


def _tf():
    import tensorflow as tf  # pylint: disable=import-outside-toplevel
    return tf


def _compression_of(path: str) -> str:
    with open(path, 'rb') as f:
        return 'GZIP' if f.read(2) == _GZIP_MAGIC else ''


def read_records(path: str) -> Iterator[bytes]:
    """Yields the raw records of a TFRecord file, plain or gzip (detected)."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f'{path}: no such TFRecord file')
    dataset = _tf().data.TFRecordDataset(path, compression_type=_compression_of(path))
    for record in dataset.as_numpy_iterator():
        yield record


def read_note_sequences(path: str) -> Iterator[music_pb2.NoteSequence]:
    """Yields every NoteSequence stored in a TFRecord file."""
    for record in read_records(path):
        yield music_pb2.NoteSequence.FromString(record)


def count_records(path: str) -> int:
    return sum(1 for _ in read_records(path))


class RecordWriter:
    """Writes serialized records to `path` atomically; use as a context manager."""

    def __init__(self, path: str, gzip: bool = False):
        self.path = path
        self.count = 0
        directory = os.path.dirname(os.path.abspath(path))
        os.makedirs(directory, exist_ok=True)
        fd, self._tmp_path = tempfile.mkstemp(
                prefix=os.path.basename(path) + '.', suffix='.tmp', dir=directory)
        os.close(fd)
        # mkstemp makes the file private; give it the permissions a plain open() would.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(self._tmp_path, 0o666 & ~umask)
        options = _tf().io.TFRecordOptions(compression_type='GZIP' if gzip else '')
        self._writer = _tf().io.TFRecordWriter(self._tmp_path, options)

    def write(self, record: bytes | music_pb2.NoteSequence | example_pb2.SequenceExample) -> None:
        if not isinstance(record, bytes):
            record = record.SerializeToString()
        self._writer.write(record)
        self.count += 1

    def close(self) -> None:
        """Finishes the file and moves it into place."""
        self._writer.close()
        os.replace(self._tmp_path, self.path)

    def abort(self) -> None:
        """Drops everything written; the target path is left as it was."""
        self._writer.close()
        if os.path.exists(self._tmp_path):
            os.remove(self._tmp_path)

    def __enter__(self) -> RecordWriter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                              tb: TracebackType | None) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def write_records(path: str, records: Iterable[bytes], gzip: bool = False) -> int:
    """Writes all records to `path` atomically and returns how many were written."""
    with RecordWriter(path, gzip=gzip) as writer:
        for record in records:
            writer.write(record)
    return writer.count


def make_sequence_example(inputs: Sequence[Sequence[float]],
                                                    labels: Sequence[int | Sequence[int]]) -> example_pb2.SequenceExample:
    """A SequenceExample with `inputs` (FloatList per step) and `labels` (Int64List per step)."""
    example = example_pb2.SequenceExample()
    feature_lists = example.feature_lists.feature_list
    input_features = feature_lists['inputs'].feature
    for step_input in inputs:
        input_features.add().float_list.value.extend(step_input)
    label_features = feature_lists['labels'].feature
    for label in labels:
        values = label if isinstance(label, (list, tuple)) else [label]
        label_features.add().int64_list.value.extend(values)
    return example
