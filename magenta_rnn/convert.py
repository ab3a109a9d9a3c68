r"""Converts a folder of MIDI files to a TFRecord of NoteSequences (facts §13).

Same flags and same NoteSequence ids as Magenta's `convert_dir_to_note_sequences`:

  convert_dir_to_note_sequences --input_dir=/path/to/midi \
      --output_file=/tmp/notesequences.tfrecord --recursive

Each `.mid`/`.midi` file (any case) becomes one NoteSequence with
collection_name = basename(input_dir), filename = its path relative to input_dir and
id = /id/midi/<collection_name>/<sha1 hex of filename>. MusicXML and ABC files are
counted and skipped (not supported yet); files that cannot be parsed are skipped
with their reason. Files are parsed by a pool of worker processes and written in a
fixed order (per folder: files sorted by name, then sub-folders sorted by name), and
the output file only appears once everything has been written.
"""
from __future__ import annotations

import dataclasses
import hashlib
import multiprocessing
import os
import sys
import time
import warnings
from collections.abc import Iterator

from absl import flags, logging

from magenta_rnn import console
from magenta_rnn.music import midi_io

MIDI_EXTENSIONS = ('.mid', '.midi')
UNSUPPORTED_EXTENSIONS = ('.xml', '.mxl', '.abc')
DEFAULT_WORKERS = 2
_PROGRESS_INTERVAL_S = 5.0
_LOG_LEVELS = ('DEBUG', 'INFO', 'WARN', 'WARNING', 'ERROR', 'FATAL')


class ConversionError(Exception):
    """The conversion as a whole failed (bad input folder, nothing converted)."""


@dataclasses.dataclass
class ConversionSummary:
    """What a conversion run did."""
    output_file: str
    converted: int = 0
    # (filename relative to input_dir, reason) for each MIDI file that failed to parse.
    unreadable: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    # MusicXML/ABC files: recognised by the original, not supported yet here.
    unsupported: list[str] = dataclasses.field(default_factory=list)
    # Files no converter handles (and folders, when not recursive).
    other_files: int = 0
    bytes_read: int = 0
    seconds: float = 0.0

    @property
    def files_per_second(self) -> float:
        return (self.converted + len(self.unreadable)) / self.seconds if self.seconds else 0.0

    @property
    def megabytes_per_second(self) -> float:
        return self.bytes_read / 1e6 / self.seconds if self.seconds else 0.0

    def describe(self) -> str:
        lines = [f'Converted {self.converted} MIDI files to {self.output_file} in '
                 f'{self.seconds:.1f} s ({self.files_per_second:.1f} files/s, '
                 f'{self.megabytes_per_second:.2f} MB/s of MIDI).']
        if self.unreadable:
            lines.append(f'Skipped {len(self.unreadable)} unreadable MIDI files:')
            lines.extend(f'  {name}: {reason}' for name, reason in self.unreadable)
        if self.unsupported:
            lines.append(f'Skipped {len(self.unsupported)} MusicXML/ABC files '
                         '(MusicXML/ABC not supported yet).')
        if self.other_files:
            lines.append(f'Ignored {self.other_files} other files (no converter).')
        return '\n'.join(lines)


def generate_note_sequence_id(filename: str, collection_name: str, source_type: str) -> str:
    """'/id/<source_type>/<collection_name>/<sha1 hex of filename>', as in Magenta."""
    fingerprint = hashlib.sha1(filename.encode('utf-8')).hexdigest()
    return f'/id/{source_type.lower()}/{collection_name}/{fingerprint}'


@dataclasses.dataclass
class _Listing:
    midi: list[tuple[str, str]]  # (full path, filename relative to the root)
    unsupported: list[str]
    other_files: int


def _list_files(root_dir: str, recursive: bool) -> _Listing:
    """Files to convert: a folder's files by name, then its sub-folders by name."""
    listing = _Listing(midi=[], unsupported=[], other_files=0)
    pending_dirs = ['']
    while pending_dirs:
        sub_dir = pending_dirs.pop(0)
        directory = os.path.join(root_dir, sub_dir)
        sub_dirs = []
        for name in sorted(os.listdir(directory)):
            full_path = os.path.join(directory, name)
            relative = os.path.join(sub_dir, name)
            lower = name.lower()
            if lower.endswith(MIDI_EXTENSIONS) and not os.path.isdir(full_path):
                listing.midi.append((full_path, relative))
            elif lower.endswith(UNSUPPORTED_EXTENSIONS) and not os.path.isdir(full_path):
                listing.unsupported.append(relative)
            elif recursive and os.path.isdir(full_path):
                sub_dirs.append(relative)
            else:
                listing.other_files += 1
        # Depth-first like the original: a folder's sub-folders before its siblings'.
        pending_dirs[:0] = sub_dirs
    return listing


def _convert_file(task: tuple[str, str, str]) -> tuple[bytes | None, str | None, int]:
    """Worker: (serialized NoteSequence or None, failure reason or None, bytes read)."""
    full_path, filename, collection_name = task
    try:
        with open(full_path, 'rb') as f:
            midi_bytes = f.read()
    except OSError as error:
        return None, f'cannot read: {error.strerror or error}', 0
    try:
        with warnings.catch_warnings():
            # pretty_midi warns about odd but readable files; that is not a failure.
            warnings.simplefilter('ignore')
            sequence = midi_io.midi_to_note_sequence(midi_bytes)
    except midi_io.MIDIConversionError as error:
        return None, str(error), len(midi_bytes)
    except Exception as error:  # pylint: disable=broad-except  # one bad file must not stop the run
        return None, f'{type(error).__name__}: {error}', len(midi_bytes)
    sequence.collection_name = collection_name
    sequence.filename = filename
    sequence.id = generate_note_sequence_id(filename, collection_name, 'midi')
    return sequence.SerializeToString(), None, len(midi_bytes)


def _make_pool(workers: int) -> multiprocessing.pool.Pool | None:
    if workers <= 1:
        return None
    # fork is cheapest, but not once TensorFlow's threads exist in this process.
    method = 'forkserver' if 'tensorflow' in sys.modules else 'fork'
    if method not in multiprocessing.get_all_start_methods():
        method = 'spawn'
    return multiprocessing.get_context(method).Pool(workers)


def _converted_records(tasks: list[tuple[str, str, str]],
                       pool: multiprocessing.pool.Pool | None
                       ) -> Iterator[tuple[bytes | None, str | None, int]]:
    if pool is None:
        return map(_convert_file, tasks)
    # Ordered imap keeps the output order fixed; small chunks keep both workers busy
    # to the end while amortising the inter-process round trips.
    chunksize = max(1, min(16, len(tasks) // (8 * pool._processes or 1)))  # pylint: disable=protected-access
    return pool.imap(_convert_file, tasks, chunksize=chunksize)


def convert_directory(input_dir: str, output_file: str, recursive: bool = False,
                      workers: int = DEFAULT_WORKERS,
                      pool: multiprocessing.pool.Pool | None = None) -> ConversionSummary:
    """Converts the MIDI files under `input_dir` into the TFRecord `output_file`.

    `workers` processes parse files (1: in this process); `pool` reuses a caller's pool.
    Raises ConversionError when input_dir is not a folder or no file converts; the
    output file is then left untouched (written atomically, only on success).
    """
    if not os.path.isdir(input_dir):
        raise ConversionError(f'--input_dir {input_dir!r}: no such directory')
    start = time.perf_counter()
    collection_name = os.path.basename(input_dir)
    listing = _list_files(input_dir, recursive)
    summary = ConversionSummary(output_file=output_file, unsupported=listing.unsupported,
                                other_files=listing.other_files)
    for name in listing.unsupported:
        logging.warning('Skipping %s: MusicXML/ABC not supported yet.', name)
    tasks = [(full_path, relative, collection_name) for full_path, relative in listing.midi]
    logging.info('Converting %d MIDI files in %r.', len(tasks), input_dir)

    own_pool = pool is None
    if own_pool:
        pool = _make_pool(min(workers, len(tasks)))
    from magenta_rnn import records  # pylint: disable=import-outside-toplevel  # imports TF
    try:
        with records.RecordWriter(output_file) as writer:
            last_report = time.perf_counter()
            for done, (task, (record, reason, size)) in enumerate(
                    zip(tasks, _converted_records(tasks, pool)), start=1):
                summary.bytes_read += size
                if record is None:
                    summary.unreadable.append((task[1], reason))
                    logging.warning('Could not parse MIDI file %s. It will be skipped: %s',
                                    task[0], reason)
                else:
                    writer.write(record)
                    summary.converted += 1
                    logging.debug('Converted MIDI file %s.', task[0])
                now = time.perf_counter()
                if now - last_report >= _PROGRESS_INTERVAL_S:
                    last_report = now
                    logging.info('%d/%d files done, %.1f files/s.', done, len(tasks),
                                 done / (now - start))
            if summary.converted == 0:
                raise ConversionError(
                        f'--input_dir {input_dir!r}: no MIDI file could be converted '
                        f'({len(summary.unreadable)} unreadable, {len(summary.unsupported)} '
                        f'MusicXML/ABC, {summary.other_files} other files'
                        f'{"" if recursive else "; use --recursive for sub-folders"}); '
                        'nothing written')
    finally:
        if own_pool and pool is not None:
            pool.terminate()
            pool.join()
    summary.seconds = time.perf_counter() - start
    return summary


FLAGS = flags.FLAGS


def _define_flags() -> None:
    if 'input_dir' in FLAGS:
        return
    flags.DEFINE_string('input_dir', None, 'Directory containing files to convert.')
    flags.DEFINE_string('output_file', None,
                        'Path to output TFRecord file. Will be overwritten if it already exists.')
    flags.DEFINE_bool('recursive', False, 'Whether or not to recurse into subdirectories.')
    flags.DEFINE_string('log', 'INFO', 'The threshold for what messages will be logged '
                        'DEBUG, INFO, WARN, ERROR, or FATAL.')




def main(unused_argv: list[str]) -> None:
    if FLAGS.log.upper() not in _LOG_LEVELS:
        console.fail(f'--log {FLAGS.log!r}: expected one of DEBUG, INFO, WARN, ERROR, FATAL')
    logging.set_verbosity(FLAGS.log.upper())
    if not FLAGS.input_dir:
        console.fail('--input_dir is required')
    if not FLAGS.output_file:
        console.fail('--output_file is required')
    input_dir = os.path.expanduser(FLAGS.input_dir)
    output_file = os.path.expanduser(FLAGS.output_file)
    if not os.path.isdir(input_dir):
        console.fail(f'--input_dir {FLAGS.input_dir!r}: no such directory')
    if os.path.isdir(output_file):
        console.fail(f'--output_file {FLAGS.output_file!r} is a directory')
    try:
        summary = convert_directory(input_dir, output_file, FLAGS.recursive)
    except ConversionError as error:
        console.fail(str(error))
    print(summary.describe(), file=sys.stderr)


def console_entry_point() -> None:
    _define_flags()
    console.run(main)


if __name__ == '__main__':
    console_entry_point()
