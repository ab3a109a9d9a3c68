"""TFRecord files of NoteSequences and SequenceExamples, shared by every model.

Records are read through TensorFlow's C++ TFRecord code (imported on first use, so
importing this module stays light) and written without TensorFlow (the framing is a
length and CRC-32C checksums, see crc32c.py), so that a process that only writes
records never pays for TensorFlow's import. Writers are atomic: records go
to a temporary file beside the target, renamed into place only when the writer
closes without error, so a crash or Ctrl-C never leaves a half-written file.
"""
from __future__ import annotations

import contextlib
import errno
import glob
import gzip as gzip_module
import os
from collections.abc import Iterable, Iterator, Sequence
from types import TracebackType

from magenta_rnn import atomic, crc32c
from magenta_rnn.protobuf import example_pb2, music_pb2

_GZIP_MAGIC = b'\x1f\x8b'


def _tf():
    import tensorflow as tf
    return tf


def _compression_of(path: str) -> str:
    with open(path, 'rb') as f:
        return 'GZIP' if f.read(2) == _GZIP_MAGIC else ''


class RecordFileError(ValueError):
    """A file is not a readable TFRecord (of the expected kind); the message names it."""


def matching_files(pattern: str, flag: str) -> list[str]:
    """The files a path or glob names (sharded output such as notesequences-*.tfrecord),
    sorted; a path that is itself a file is taken as it is, even with glob characters.

    Raises FileNotFoundError naming `flag` when nothing matches.
    """
    pattern = os.path.expanduser(pattern)
    if os.path.isfile(pattern):
        return [pattern]
    files = sorted(path for path in glob.glob(pattern) if os.path.isfile(path))
    if not files:
        what = 'no file matches' if glob.has_magic(pattern) else 'no such file'
        raise FileNotFoundError(f'{flag}: {what} {pattern}')
    return files


def read_records(path: str) -> Iterator[bytes]:
    """Yields the raw records of a TFRecord file, plain or gzip (detected).

    Raises RecordFileError naming the file when it is corrupt or not a TFRecord.
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f'{path}: no such TFRecord file')
    tf = _tf()
    dataset = tf.data.TFRecordDataset(path, compression_type=_compression_of(path))
    iterator = dataset.as_numpy_iterator()
    count = 0
    while True:
        try:
            record = next(iterator)
        except StopIteration:
            return
        except tf.errors.OpError as error:
            reason = error.message.strip().splitlines()[0] if error.message else type(error).__name__
            raise RecordFileError(f'{path}: not a readable TFRecord file (after {count} good '
                                  f'records: {reason})') from None
        count += 1
        yield record


def read_note_sequences(path: str) -> Iterator[music_pb2.NoteSequence]:
    """Yields every NoteSequence stored in a TFRecord file (RecordFileError if it holds
    something else)."""
    from google.protobuf.message import DecodeError
    for index, record in enumerate(read_records(path)):
        try:
            yield music_pb2.NoteSequence.FromString(record)
        except DecodeError:
            raise RecordFileError(f'{path}: record {index} is not a NoteSequence (is this a '
                                  'TFRecord of SequenceExamples or something else?)') from None


def count_records(path: str) -> int:
    return sum(1 for _ in read_records(path))


class RecordWriter:
    """Writes serialized records to `path` atomically; use as a context manager."""

    def __init__(self, path: str, gzip: bool = False):
        self.path = path
        self.count = 0
        directory = os.path.dirname(os.path.abspath(path))
        self._directory = directory
        atomic.make_folders(directory)  # a failed write removes them again while empty
        self._tmp_path = ''
        self._raw = None
        try:
            self._tmp_path = atomic.temp_path_beside(path)
            with self._os_errors():
                self._raw = open(self._tmp_path, 'wb')  # pylint: disable=consider-using-with
                # mtime 0: the same records give the same bytes.
                self._file = (gzip_module.GzipFile(filename='', mode='wb', fileobj=self._raw,
                                                   mtime=0) if gzip else self._raw)
        except BaseException:
            if self._raw is not None:
                self._raw.close()
            self._remove_leftovers()
            raise
        self._closed = False

    def write(self, record: bytes | music_pb2.NoteSequence | example_pb2.SequenceExample) -> None:
        if not isinstance(record, bytes):
            record = record.SerializeToString()
        self.write_framed(crc32c.tfrecord_frame(record))

    def write_framed(self, framed: bytes) -> None:
        """Writes one record already framed by crc32c.tfrecord_frame (e.g. in a worker)."""
        with self._os_errors():
            self._file.write(framed)
        self.count += 1

    @contextlib.contextmanager
    def _os_errors(self):
        """A write error (a full disk) as an OSError naming the target file, not the
        temporary one."""
        try:
            yield
        except OSError as error:
            code = error.errno or errno.EIO
            raise OSError(code, os.strerror(code), self.path) from None

    def close(self) -> None:
        """Finishes the file and moves it into place (on failure, nothing is left)."""
        try:
            self._closed = True
            with self._os_errors():
                try:
                    self._file.close()
                finally:
                    self._raw.close()
            os.replace(self._tmp_path, self.path)
        except BaseException:
            self._remove_leftovers()
            raise

    def abort(self) -> None:
        """Drops everything written; the target path is left as it was. Never raises
        (it runs while another error is on its way out, e.g. a full disk)."""
        if not self._closed:
            self._closed = True
            for file in (self._file, self._raw):
                try:
                    file.close()
                except Exception:  # the first error is the one to report
                    pass
        self._remove_leftovers()

    def _remove_leftovers(self) -> None:
        """The temporary file, and the folders made for the target while still empty."""
        if self._tmp_path:
            atomic.remove_quietly(self._tmp_path)
        atomic.remove_empty_folders_made(within=self._directory)

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
