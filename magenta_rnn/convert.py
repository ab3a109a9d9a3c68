r"""Converts a folder of MIDI files to a TFRecord of NoteSequences (REFERENCE.md "Console scripts").

Same flags and same NoteSequence ids as Magenta's `convert_dir_to_note_sequences`:

  convert_dir_to_note_sequences --input_dir=/path/to/midi \
      --output_file=/tmp/notesequences.tfrecord --recursive

Each `.mid`/`.midi` and `.xml`/`.mxl` (MusicXML) file (any case) becomes one
NoteSequence, and each tune of an `.abc` tune book one NoteSequence, with
collection_name = basename(input_dir), filename = its path relative to input_dir and
id = /id/<midi|musicxml|abc>/<collection_name>/<sha1 hex of filename> (for ABC, of
"<filename>_<reference number X:>"). Files, and ABC tunes, that cannot be read are
skipped, named with their reason and counted. Files are parsed by a pool of worker
processes and written in a fixed order (per folder: files sorted by name, then
sub-folders sorted by name), and the output file only appears once everything has
been written.
"""
from __future__ import annotations

import collections
import contextlib
import dataclasses
import hashlib
import multiprocessing
import os
import signal
import stat
import sys
import threading
import time
import warnings
from collections.abc import Iterator, Sequence

from absl import flags, logging

from magenta_rnn import console
from magenta_rnn.music import abc_io, midi_fast_reader, midi_guard, midi_io, musicxml_io
from magenta_rnn.protobuf import music_pb2

# File name ending (any case) -> source type, the word in the NoteSequence id.
SOURCE_TYPES = {'.mid': 'midi', '.midi': 'midi', '.xml': 'musicxml', '.mxl': 'musicxml',
                '.abc': 'abc'}
_WHAT_IS_COUNTED = {'midi': ('MIDI file', 'MIDI files'),
                    'musicxml': ('MusicXML file', 'MusicXML files'),
                    'abc': ('ABC tune', 'ABC tunes')}
DEFAULT_WORKERS = 2
_PROGRESS_INTERVAL_S = 5.0
_LOG_LEVELS = ('DEBUG', 'INFO', 'WARN', 'WARNING', 'ERROR', 'FATAL')
# A real MIDI file parses in well under a second; one that takes longer is hostile.
SECONDS_PER_FILE = 30


class ConversionError(Exception):
    """The conversion as a whole failed (bad input folder, nothing converted)."""


@dataclasses.dataclass
class ConversionSummary:
    """What a conversion run did."""
    output_file: str
    converted: int = 0  # NoteSequences written
    # Of those: source type -> MIDI files, MusicXML files or ABC tunes.
    converted_by_type: collections.Counter = dataclasses.field(
            default_factory=collections.Counter)
    # (filename relative to input_dir, reason) for each file that could not be read, and
    # ('<filename> tune <n>', reason) for each tune of a readable ABC book that could not.
    unreadable: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    # Files no converter handles (and folders, when not recursive).
    other_files: int = 0
    files: int = 0  # music files tried
    # (folder relative to input_dir, reason) for each folder not entered.
    skipped_folders: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    bytes_read: int = 0
    seconds: float = 0.0

    @property
    def files_per_second(self) -> float:
        return self.files / self.seconds if self.seconds else 0.0

    @property
    def megabytes_per_second(self) -> float:
        return self.bytes_read / 1e6 / self.seconds if self.seconds else 0.0

    def describe(self) -> str:
        parts = [f'{count} {names[count != 1]}' for kind, names in _WHAT_IS_COUNTED.items()
                 if (count := self.converted_by_type[kind])]
        what = ', '.join(parts) if parts else '0 files'
        if len(parts) > 1:
            what += f' ({self.converted} NoteSequences)'
        lines = [f'Converted {what} to {self.output_file} in {self.seconds:.1f} s '
                 f'({self.files_per_second:.1f} files/s, {self.megabytes_per_second:.2f} MB/s).']
        if self.unreadable:
            lines.append(f'Skipped {len(self.unreadable)} unreadable files or ABC tunes:')
            lines.extend(f'  {name}: {reason}' for name, reason in self.unreadable)
        if self.other_files:
            lines.append(f'Ignored {self.other_files} other files (no converter).')
        if self.skipped_folders:
            lines.append(f'Did not enter {len(self.skipped_folders)} folders:')
            lines.extend(f'  {name}: {reason}' for name, reason in self.skipped_folders)
        return '\n'.join(lines)


def generate_note_sequence_id(filename: str, collection_name: str, source_type: str) -> str:
    """'/id/<source_type>/<collection_name>/<sha1 hex of filename>', as in Magenta."""
    fingerprint = hashlib.sha1(filename.encode('utf-8')).hexdigest()
    return f'/id/{source_type.lower()}/{collection_name}/{fingerprint}'


def source_type(name: str) -> str | None:
    """'midi', 'musicxml' or 'abc' for a file name this converter reads, else None."""
    lower = name.lower()
    return next((kind for ending, kind in SOURCE_TYPES.items() if lower.endswith(ending)), None)


@dataclasses.dataclass
class _Listing:
    # (full path, filename relative to the root, source type)
    files: list[tuple[str, str, str]]
    other_files: int
    # (relative name, reason): music-named entries that are not regular files.
    not_files: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    # (relative name, reason): folders not entered (already visited through a link, unreadable).
    skipped_folders: list[tuple[str, str]] = dataclasses.field(default_factory=list)


def printable_name(name: str) -> str:
    """`name` as text that can be printed and stored in a NoteSequence: bytes of a file
    name that are not UTF-8 become backslash escapes (caf\\xe9.mid)."""
    return os.fsencode(name).decode('utf-8', errors='backslashreplace')


def _kind_of_file(mode: int) -> str:
    for test, kind in ((stat.S_ISFIFO, 'a named pipe'), (stat.S_ISCHR, 'a character device'),
                       (stat.S_ISBLK, 'a block device'), (stat.S_ISSOCK, 'a socket'),
                       (stat.S_ISDIR, 'a folder')):
        if test(mode):
            return kind
    return 'not a regular file'


def list_files(root_dir: str, recursive: bool) -> _Listing:
    """Files to convert: a folder's files by name, then its sub-folders by name.

    Only regular files are read (a named pipe would hang the run, a link to /dev/zero
    never end), and each folder is entered once (a link to a folder above is a cycle).
    """
    listing = _Listing(files=[], other_files=0)
    root_stat = os.stat(root_dir)
    visited = {(root_stat.st_dev, root_stat.st_ino)}
    pending_dirs = ['']
    while pending_dirs:
        sub_dir = pending_dirs.pop(0)
        directory = os.path.join(root_dir, sub_dir)
        sub_dirs = []
        try:
            names = sorted(os.listdir(directory))
        except OSError as error:
            listing.skipped_folders.append((printable_name(sub_dir),
                                            f'cannot list the folder: {error.strerror}'))
            continue
        for name in names:
            full_path = os.path.join(directory, name)
            relative = os.path.join(sub_dir, name)
            kind = source_type(name)
            try:
                mode = os.stat(full_path).st_mode
            except OSError as error:
                mode = None
                problem = ('a broken symbolic link' if os.path.islink(full_path)
                           else f'cannot read: {error.strerror}')
            is_dir = mode is not None and stat.S_ISDIR(mode)
            if kind and not is_dir:
                if mode is None or not stat.S_ISREG(mode):
                    reason = problem if mode is None else _kind_of_file(mode)
                    listing.not_files.append((printable_name(relative), reason + ', not a file'))
                else:
                    listing.files.append((full_path, relative, kind))
            elif recursive and is_dir:
                folder = os.stat(full_path)
                if (folder.st_dev, folder.st_ino) in visited:
                    listing.skipped_folders.append(
                            (printable_name(relative),
                             'a link to a folder already converted (not converted twice)'))
                else:
                    visited.add((folder.st_dev, folder.st_ino))
                    sub_dirs.append(relative)
            else:
                listing.other_files += 1
        # Depth-first like the original: a folder's sub-folders before its siblings'.
        pending_dirs[:0] = sub_dirs
    return listing


@dataclasses.dataclass
class _FileResult:
    records: list[bytes]  # serialized NoteSequences
    error: str | None = None  # why the whole file was skipped
    skipped_tunes: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    size: int = 0


class _TimeLimitExceeded(Exception):
    pass


@contextlib.contextmanager
def _time_limit(seconds: float):
    """Raises _TimeLimitExceeded in this block after `seconds` (main thread only; elsewhere
    the block runs unlimited)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_alarm(signum, frame):
        raise _TimeLimitExceeded

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _read_sequences(data: bytes, full_path: str, filename: str, kind: str,
                    result: _FileResult) -> list[tuple[str, music_pb2.NoteSequence]]:
    """(id source name, NoteSequence) of each piece in one file's contents."""
    if kind == 'midi':
        with warnings.catch_warnings():
            # pretty_midi warns about odd but readable files; that is not a failure.
            warnings.simplefilter('ignore')
            return [(filename, midi_io.midi_to_note_sequence(data))]
    if kind == 'musicxml':
        compressed = musicxml_io.is_compressed_musicxml(full_path)
        return [(filename, musicxml_io.musicxml_to_note_sequence(data, compressed))]
    tunes, errors = abc_io.parse_tune_book(abc_io.decode_abc(data))
    result.skipped_tunes = [(f'{filename} tune {position}', str(error))
                            for position, error in errors]
    return [(f'{filename}_{number}', tune) for number, tune in tunes.items()]


def _fast_midi_record(data: bytes, filename: str, collection_name: str) -> bytes | None:
    """The serialized NoteSequence of a MIDI file read by midi_fast_reader, or None where the file
    needs the exact path (midi_guard's checks, then mido and pretty_midi)."""
    try:
        with _time_limit(SECONDS_PER_FILE), warnings.catch_warnings():
            warnings.simplefilter('ignore')
            body = midi_fast_reader.note_sequence_bytes(data)
    except Exception:  # pylint: disable=broad-except  # NotFastPath, or anything: the exact path decides
        return None
    # id, filename and collection_name are fields 1-3: they come first in the serialization.
    head = music_pb2.NoteSequence(id=generate_note_sequence_id(filename, collection_name, 'midi'),
                                  filename=filename, collection_name=collection_name)
    return head.SerializeToString() + body


def convert_file(task: tuple[str, str, str, str]) -> _FileResult:
    """Worker: one file's NoteSequences, or why it (or some of its ABC tunes) was skipped.

    Work per file is bounded: its size (midi_guard.MAX_FILE_BYTES), for MIDI the ticks
    and hours it spans (checked before parsing), and the time parsing takes
    (SECONDS_PER_FILE).
    """
    full_path, filename, kind, collection_name = task
    filename = printable_name(filename)
    result = _FileResult(records=[])
    try:
        with open(full_path, 'rb') as f:
            if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):  # swapped since the listing
                result.error = 'not a regular file'
                return result
            data = f.read(midi_guard.MAX_FILE_BYTES + 1)
    except OSError as error:
        result.error = f'cannot read: {error.strerror or error}'
        return result
    result.size = len(data)
    scan = None
    if len(data) > midi_guard.MAX_FILE_BYTES:
        result.error = (f'refused: more than {midi_guard.MAX_FILE_BYTES // 2 ** 20} MB, more '
                        'than any real score needs')
        return result
    if kind == 'midi':
        fast = _fast_midi_record(data, filename, collection_name)
        if fast is not None:
            result.records.append(fast)
            return result
        scan = midi_guard.scan(data)
        if scan.refusal:
            result.error = f'refused: {scan.refusal}'
            return result
    try:
        with _time_limit(SECONDS_PER_FILE):
            sequences = _read_sequences(data, full_path, filename, kind, result)
    except _TimeLimitExceeded:
        result.error = f'refused: parsing took more than {SECONDS_PER_FILE} s'
        return result
    except MemoryError:
        result.error = 'refused: parsing ran out of memory'
        return result
    except (midi_io.MIDIConversionError, musicxml_io.MusicXMLConversionError,
            abc_io.BookError) as error:
        result.error = (midi_guard.describe_parse_error(error, scan) if kind == 'midi'
                        else str(error) or type(error).__name__)
        return result
    except Exception as error:  # one bad file must not stop the run
        result.error = midi_guard.describe_parse_error(error, scan)
        return result
    for id_source, sequence in sequences:
        sequence.collection_name = collection_name
        sequence.filename = filename
        sequence.id = generate_note_sequence_id(id_source, collection_name, kind)
        result.records.append(sequence.SerializeToString())
    return result


def _make_pool(workers: int) -> multiprocessing.pool.Pool | None:
    if workers <= 1:
        return None
    # fork is cheapest, but not once TensorFlow's threads exist in this process.
    method = 'forkserver' if 'tensorflow' in sys.modules else 'fork'
    if method not in multiprocessing.get_all_start_methods():
        method = 'spawn'
    return multiprocessing.get_context(method).Pool(workers, initializer=ignore_interrupts)


def ignore_interrupts() -> None:
    """Pool workers leave Ctrl-C to the parent, which stops them (no traceback per worker)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _converted_records(tasks: list[tuple[str, str, str, str]],
                       pool: multiprocessing.pool.Pool | None) -> Iterator[_FileResult]:
    if pool is None:
        return map(convert_file, tasks)
    # Ordered imap keeps the output order fixed; small chunks keep both workers busy
    # to the end while amortising the inter-process round trips.
    chunksize = max(1, min(16, len(tasks) // (8 * pool._processes or 1)))
    return pool.imap(convert_file, tasks, chunksize=chunksize)


def _nothing_converted(input_dir: str, summary: ConversionSummary, recursive: bool) -> str:
    reasons = ''.join(f'; {name}: {reason}' for name, reason in summary.unreadable[:3])
    return (f'--input_dir {input_dir!r}: no MIDI, MusicXML or ABC file could be '
            f'converted ({len(summary.unreadable)} unreadable files or tunes, '
            f'{summary.other_files} other files'
            f'{"" if recursive else "; use --recursive for sub-folders"}){reasons}; '
            'nothing written')


def convert_directory(input_dir: str, output_file: str, recursive: bool = False,
                      workers: int = DEFAULT_WORKERS,
                      pool: multiprocessing.pool.Pool | None = None) -> ConversionSummary:
    """Converts the MIDI, MusicXML and ABC files under `input_dir` into the TFRecord
    `output_file`.

    `workers` processes parse files (1: in this process); `pool` reuses a caller's pool.
    Raises ConversionError when input_dir is not a folder or no file converts; the
    output file is then left untouched (written atomically, only on success).
    """
    if not os.path.isdir(input_dir):
        raise ConversionError(f'--input_dir {input_dir!r}: no such directory')
    start = time.perf_counter()
    collection_name = printable_name(os.path.basename(input_dir))
    listing = list_files(input_dir, recursive)
    summary = ConversionSummary(output_file=output_file, other_files=listing.other_files,
                                files=len(listing.files), unreadable=list(listing.not_files),
                                skipped_folders=listing.skipped_folders)
    for name, reason in listing.not_files:
        logging.warning('Skipping %s: %s.', name, reason)
    for name, reason in listing.skipped_folders:
        logging.warning('Not entering folder %s: %s.', name, reason)
    tasks = [(full_path, relative, kind, collection_name)
             for full_path, relative, kind in listing.files]
    logging.info('Converting %d files in %r.', len(tasks), input_dir)
    if not tasks:
        raise ConversionError(_nothing_converted(input_dir, summary, recursive))

    own_pool = pool is None
    if own_pool:
        pool = _make_pool(min(workers, len(tasks)))
    from magenta_rnn import records
    try:
        with records.RecordWriter(output_file) as writer:
            last_report = time.perf_counter()
            for done, (task, result) in enumerate(
                    zip(tasks, _converted_records(tasks, pool)), start=1):
                full_path, filename, kind = task[:3]
                summary.bytes_read += result.size
                if result.error is not None:
                    summary.unreadable.append((printable_name(filename), result.error))
                    logging.warning('Could not parse %s file %s. It will be skipped: %s',
                                    _WHAT_IS_COUNTED[kind][0].split()[0],
                                    printable_name(full_path), result.error)
                for name, reason in result.skipped_tunes:
                    summary.unreadable.append((name, reason))
                    logging.warning('Could not parse %s. It will be skipped: %s', name, reason)
                for record in result.records:
                    writer.write(record)
                summary.converted += len(result.records)
                summary.converted_by_type[kind] += len(result.records)
                if result.records:
                    logging.debug('Converted %s.', printable_name(full_path))
                now = time.perf_counter()
                if now - last_report >= _PROGRESS_INTERVAL_S:
                    last_report = now
                    logging.info('%d/%d files done, %.1f files/s.', done, len(tasks),
                                 done / (now - start))
            if summary.converted == 0:
                raise ConversionError(_nothing_converted(input_dir, summary, recursive))
    finally:
        if own_pool and pool is not None:
            pool.terminate()
            pool.join()
    summary.seconds = time.perf_counter() - start
    return summary


# ---------------------------------------------------------------------------
# The same conversion on Apache Beam (--pipeline_options): each file runs through
# convert_file, as on the local path.

def _convert_one_on_beam(task: tuple[str, str, str, str]) -> list[bytes]:
    from magenta_rnn.pipelines.beam_jobs import counter
    result = convert_file(task)
    if result.error is not None:
        logging.warning('Could not parse %s. It will be skipped: %s', task[0], result.error)
        counter('unreadable_files').inc()
    for name, reason in result.skipped_tunes:
        logging.warning('Could not parse %s. It will be skipped: %s', name, reason)
        counter('unreadable_abc_tunes').inc()
    counter(f'converted_{task[2]}').inc(len(result.records))
    return result.records


def convert_directory_on_beam(input_dir: str, output_file: str, recursive: bool,
                              options: Sequence[str], num_shards: int = 0) -> str:
    """convert_directory on Beam; returns the glob of the written shards."""
    from magenta_rnn.pipelines import beam_jobs
    beam = beam_jobs.import_beam()
    if not os.path.isdir(input_dir):
        raise ConversionError(f'--input_dir {input_dir!r}: no such directory')
    listing = list_files(input_dir, recursive)
    collection_name = os.path.basename(input_dir)
    tasks = [(full_path, relative, kind, collection_name)
             for full_path, relative, kind in listing.files]
    if not tasks:
        raise ConversionError(f'--input_dir {input_dir!r}: no MIDI, MusicXML or ABC file')
    prefix = beam_jobs.sharded_prefix(output_file)
    with beam_jobs.failures_as_one_line([prefix]), beam.Pipeline(
            options=beam_jobs.pipeline_options(options)) as pipeline:
        records = (pipeline | 'ListFiles' >> beam.Create(tasks)
                   | 'Reshuffle' >> beam.Reshuffle()
                   | 'Convert' >> beam.FlatMap(_convert_one_on_beam))
        beam_jobs.write_tfrecord_shards(records, prefix, num_shards, 'NoteSequences')
    return f'{prefix}-*-of-*{beam_jobs.TFRECORD_SUFFIX}'


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
    flags.DEFINE_list('pipeline_options', None,
                      'Run on Apache Beam (pip install \'magenta_rnn[beam]\') with these '
                      'comma-separated options, e.g. --runner=DirectRunner,'
                      '--direct_num_workers=4,--direct_running_mode=multi_processing; writes '
                      'sharded TFRecords <output_file minus .tfrecord>-SSSSS-of-NNNNN.tfrecord.')




def main(argv: list[str]) -> None:
    if len(argv) > 1:
        console.fail(f'unexpected arguments: {" ".join(argv[1:])}')
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
    console.check_output_file(FLAGS.output_file)
    if FLAGS.pipeline_options:
        from magenta_rnn.pipelines import beam_jobs
        try:
            pattern = convert_directory_on_beam(input_dir, output_file, FLAGS.recursive,
                                                FLAGS.pipeline_options)
        except (ConversionError, beam_jobs.BeamNotInstalledError, beam_jobs.BeamJobError,
                OSError) as error:
            console.fail(str(error))
        print(f'Wrote {pattern} (counts in the runner\'s metrics and the log above).',
              file=sys.stderr)
        return
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
