"""The dataset steps on Apache Beam (optional extra: pip install 'magenta_rnn[beam]').

`convert_dir_to_note_sequences` (its job is in convert.py) and every `*_create_dataset` take
`--pipeline_options=--runner=...,...` (the original's flag: a comma-separated list
of Beam options). With it, the step runs here instead of on this machine's cores:
the DirectRunner spreads it over local processes
(`--runner=DirectRunner,--direct_num_workers=8,--direct_running_mode=multi_processing`),
Flink, Spark or Dataflow over a cluster. Each element runs through the very code
of the local path (convert.convert_file, the model's create_dataset Chain), so the
examples are the same; they are written as sharded TFRecords
(`<prefix>-00000-of-00004.tfrecord`) that the trainers read through a glob.

The train/eval split differs from the local path's in one way: a runner has no
input order to draw random numbers along, so each NoteSequence's side is drawn
from its own bytes and --seed (the same share, eval_ratio, goes to eval).
"""
from __future__ import annotations

import contextlib
import glob
import hashlib
import os
import random
import shutil
from collections.abc import Callable, Iterator, Sequence


TFRECORD_SUFFIX = '.tfrecord'


class BeamNotInstalledError(ImportError):
    """--pipeline_options needs the optional Apache Beam dependency."""


class BeamJobError(RuntimeError):
    """The Beam job failed; the message is the runner's first line."""


@contextlib.contextmanager
def failures_as_one_line(output_prefixes: Sequence[str]) -> Iterator[None]:
    """Turns a failed job into BeamJobError and removes its shards and temporary folders
    (nothing half-written is left behind)."""
    try:
        yield
    except (BeamNotInstalledError, ValueError, OSError):
        raise
    except Exception as error:  # runners raise anything
        for prefix in output_prefixes:
            folder, stem = os.path.split(os.path.abspath(prefix))
            for leftover in glob.glob(os.path.join(folder, f'beam-temp-{stem}*')):
                shutil.rmtree(leftover, ignore_errors=True)
            for shard in glob.glob(f'{glob.escape(prefix)}-*-of-*'):
                os.remove(shard)
        lines = str(error).strip().splitlines() or [type(error).__name__]
        raise BeamJobError(f'the Beam job failed: {lines[-1] if len(lines) > 1 else lines[0]}'
                           ) from error


def import_beam():
    try:
        import apache_beam
    except ImportError as error:
        raise BeamNotInstalledError(
                "--pipeline_options needs Apache Beam: pip install 'magenta_rnn[beam]'") from error
    return apache_beam


def pipeline_options(options: Sequence[str]):
    """PipelineOptions from the flag's list, e.g. ['--runner=DirectRunner']."""
    from apache_beam.options.pipeline_options import PipelineOptions
    import_beam()
    return PipelineOptions(list(options))


def sharded_prefix(path: str) -> str:
    """The shard name prefix for an output file name ('a/b.tfrecord' -> 'a/b')."""
    return path[:-len(TFRECORD_SUFFIX)] if path.endswith(TFRECORD_SUFFIX) else path


def write_tfrecord_shards(records, prefix: str, num_shards: int, label: str):
    """Writes a PCollection of bytes as <prefix>-SSSSS-of-NNNNN.tfrecord shards."""
    beam = import_beam()
    return records | f'Write{label}' >> beam.io.WriteToTFRecord(
            prefix, coder=beam.coders.BytesCoder(), file_name_suffix=TFRECORD_SUFFIX,
            num_shards=num_shards)


def counter(name: str):
    """A Beam metrics counter named `name` in the magenta_rnn namespace."""
    from apache_beam.metrics import Metrics
    return Metrics.counter('magenta_rnn', name)


def eval_side(record: bytes, eval_ratio: float, seed: int | None) -> bool:
    """Whether a NoteSequence goes to eval: drawn from its bytes (and the seed)."""
    digest = hashlib.sha256(record).hexdigest()
    return random.Random(f'{seed}:{digest}').random() < eval_ratio


class _ChainDoFn:
    """Runs each NoteSequence through its side's Chain (built once per worker)."""

    def __new__(cls, *args, **kwargs):  # a beam.DoFn subclass, made when Beam is imported
        beam = import_beam()

        class ChainDoFn(beam.DoFn):
            def __init__(self, build_chain, eval_ratio, seed):
                super().__init__()
                self._build_chain = build_chain
                self._eval_ratio = eval_ratio
                self._seed = seed
                self._chains = None

            def setup(self):
                self._chains = {mode: self._build_chain(mode) for mode in ('eval', 'training')}

            def process(self, record):
                from magenta_rnn.protobuf import music_pb2
                mode = 'eval' if eval_side(record, self._eval_ratio, self._seed) else 'training'
                outputs, stats = self._chains[mode].transform(
                        music_pb2.NoteSequence.FromString(record))
                for stat in stats:
                    if hasattr(stat, 'count'):
                        counter(stat.name).inc(stat.count)
                for output in outputs:
                    yield beam.pvalue.TaggedOutput(
                            mode, output if isinstance(output, bytes) else output.SerializeToString())

        return ChainDoFn(*args, **kwargs)


def run_create_dataset(input_pattern: str, output_dir: str, dataset_names: dict[str, str],
                       build_chain: Callable, eval_ratio: float, seed: int | None,
                       options: Sequence[str], num_shards: int = 0) -> dict[str, str]:
    """A *_create_dataset on Beam; returns {dataset name: glob of its shards}."""
    beam = import_beam()
    if not 0.0 <= eval_ratio <= 1.0:
        raise ValueError(f'--eval_ratio must be between 0 and 1, got {eval_ratio}')
    globs = {}
    prefixes = [os.path.join(output_dir, dataset_names[mode]) for mode in ('eval', 'training')]
    with failures_as_one_line(prefixes), beam.Pipeline(
            options=pipeline_options(options)) as pipeline:
        sides = (pipeline
                 | 'Read' >> beam.io.ReadFromTFRecord(input_pattern,
                                                      coder=beam.coders.BytesCoder())
                 | 'Reshuffle' >> beam.Reshuffle()
                 | 'Extract' >> beam.ParDo(_ChainDoFn(build_chain, eval_ratio, seed)
                                          ).with_outputs('eval', 'training'))
        for mode in ('eval', 'training'):
            prefix = os.path.join(output_dir, dataset_names[mode])
            write_tfrecord_shards(sides[mode], prefix, num_shards, mode.capitalize())
            globs[dataset_names[mode]] = f'{prefix}-*-of-*{TFRECORD_SUFFIX}'
    return globs
