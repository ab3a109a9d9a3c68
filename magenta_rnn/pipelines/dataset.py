"""Runs a create_dataset pipeline over a TFRecord of NoteSequences.

Each input NoteSequence is sent at random to the eval or training partition
(`eval_ratio`, like the original's RandomPartition), run through that mode's
Chain of stages, and every resulting example is written to
`<output_dir>/<dataset name>.tfrecord`. Inputs stream through a pool of worker
processes (one per core) and outputs stream to disk, so memory stays flat on
large collections; output files appear atomically when the run completes.
"""
from __future__ import annotations

import dataclasses
import logging
import multiprocessing
import os
import random
import signal
import threading
import time
from collections.abc import Callable, Iterator

from google.protobuf.message import DecodeError

from magenta_rnn import records
from magenta_rnn.pipelines.stages import Chain
from magenta_rnn.music.statistics import Counter, Statistic
from magenta_rnn.protobuf import music_pb2

log = logging.getLogger(__name__)

MODES = ('eval', 'training')


class NothingExtractedError(RuntimeError):
    """The pipeline produced no examples at all; `summary` says what was dropped and why."""

    def __init__(self, message: str, summary: DatasetSummary):
        super().__init__(message)
        self.summary = summary


@dataclasses.dataclass
class DatasetSummary:
    inputs: int
    outputs: dict[str, int]
    stats: dict[str, Statistic]
    paths: dict[str, str]
    seconds: float

    def stats_report(self) -> str:
        return '\n'.join(str(self.stats[name]) for name in sorted(self.stats))


def _merge(into: dict[str, Statistic], stats: list[Statistic]) -> None:
    for stat in stats:
        if stat.name in into:
            into[stat.name].merge_from(stat)
        else:
            into[stat.name] = stat.copy()


# Worker-process state: the two chains, built once per process.
_worker_chains: dict[str, Chain] = {}


def _init_worker(build_chain: Callable[[str], Chain]) -> None:
    _worker_chains.clear()
    for mode in MODES:
        _worker_chains[mode] = build_chain(mode)


def _init_pool_worker(build_chain: Callable[[str], Chain]) -> None:
    # Ctrl-C is the parent's to handle: it stops the pool (no traceback per worker).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _init_worker(build_chain)


def _process(job: tuple[str, bytes]) -> tuple[str, list[bytes], list[Statistic]]:
    mode, serialized = job
    try:
        sequence = music_pb2.NoteSequence.FromString(serialized)
    except DecodeError:
        raise ValueError('a record of --input is not a NoteSequence (give the TFRecord that '
                         'convert_dir_to_note_sequences wrote)') from None
    outputs, stats = _worker_chains[mode].transform(sequence)
    return mode, [o if isinstance(o, bytes) else o.SerializeToString() for o in outputs], stats


def _stop_pool(pool, timeout_s: float = 10.0) -> None:
    """pool.terminate(), bounded: a worker stuck in a full disk or a task thread stuck in
    its feed must not keep the failed run from ending."""
    stopper = threading.Thread(target=lambda: (pool.terminate(), pool.join()), daemon=True)
    stopper.start()
    stopper.join(timeout_s)
    if stopper.is_alive():
        log.warning('the worker pool did not stop within %.0f s; killing its processes',
                    timeout_s)
        for process in list(pool._pool):
            process.kill()


def run_dataset_pipeline(input_path: str, output_dir: str, dataset_names: dict[str, str],
                         build_chain: Callable[[str], Chain], eval_ratio: float = 0.1,
                         seed: int | None = None, workers: int | None = None,
                         log_every: int = 500) -> DatasetSummary:
    """Creates the datasets; `dataset_names` maps 'eval'/'training' to file stems.

    `build_chain(mode)` must be picklable (a module-level function or a
    functools.partial of one) since each worker process builds its own chains.
    Raises NothingExtractedError (after printing why) when no example came out.
    """
    if not 0.0 <= eval_ratio <= 1.0:
        raise ValueError(f'--eval_ratio must be between 0 and 1, got {eval_ratio}')
    input_files = records.matching_files(input_path, '--input')
    workers = workers or os.cpu_count() or 1
    partition = random.Random(seed)
    stats: dict[str, Statistic] = {}
    counts = {mode: 0 for mode in MODES}
    paths = {mode: os.path.join(output_dir, dataset_names[mode] + '.tfrecord') for mode in MODES}
    start = time.time()
    inputs = 0

    # At most this many inputs are in flight, so results cannot pile up in memory
    # when writing is slower than the workers (augmented performances are large).
    max_in_flight = max(4, 4 * workers)
    in_flight = threading.Semaphore(max_in_flight)
    stopping = threading.Event()

    def jobs() -> Iterator[tuple[str, bytes]]:
        for input_file in input_files:
            for index, serialized in enumerate(records.read_records(input_file)):
                if index == 0:  # so that a wrong kind of TFRecord fails here, naming the file
                    next(records.read_note_sequences(input_file))
                in_flight.acquire()
                if stopping.is_set():
                    return
                yield 'eval' if partition.random() < eval_ratio else 'training', serialized

    writers: dict[str, records.RecordWriter] = {}
    pool = None
    try:
        for mode in MODES:
            writers[mode] = records.RecordWriter(paths[mode])
        if workers == 1:
            _init_worker(build_chain)
            results = map(_process, jobs())
        else:
            pool = multiprocessing.get_context('spawn').Pool(
                workers, initializer=_init_pool_worker, initargs=(build_chain,))
            results = pool.imap(_process, jobs())
        for inputs, (mode, outputs, item_stats) in enumerate(results, 1):
            in_flight.release()
            for output in outputs:
                writers[mode].write(output)
            counts[mode] += len(outputs)
            _merge(stats, [Counter(f'RandomPartition_{dataset_names[mode]}_count', 1)])
            _merge(stats, item_stats)
            if inputs % log_every == 0:
                log.info('processed %d inputs (%.1f/s); %d training and %d eval examples so far',
                         inputs, inputs / (time.time() - start), counts['training'],
                         counts['eval'])
        if pool is not None:
            pool.close()
            pool.join()
    except BaseException:
        # A failed write (full disk) or Ctrl-C: unblock the job feeder so the pool's
        # task thread can finish, stop the workers, and drop the partial outputs.
        stopping.set()
        for _ in range(max_in_flight + 1):
            in_flight.release()
        if pool is not None:
            _stop_pool(pool)
        for writer in writers.values():
            writer.abort()
        raise
    summary = DatasetSummary(inputs=inputs, outputs={dataset_names[m]: counts[m] for m in MODES},
                             stats=stats, paths={dataset_names[m]: paths[m] for m in MODES},
                             seconds=time.time() - start)
    if not any(counts.values()):
        for writer in writers.values():
            writer.abort()
        raise NothingExtractedError(
            f'no examples were extracted from {inputs} NoteSequences in {input_path} '
            '(the statistics say what was dropped and why)', summary)
    for writer in writers.values():
        writer.close()
    return summary

