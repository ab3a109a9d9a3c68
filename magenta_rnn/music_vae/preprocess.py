r"""music_vae_preprocess_tfrecord: a TFRecord of NoteSequences -> the unique MusicVAE examples.

The original's `music_vae/preprocess_tfrecord` with its flags: each NoteSequence is
split at time changes (more than 100 pieces: skipped), filtered (--enable_filtering:
--max_total_time, --max_num_notes, then quantized at 16 steps per quarter:
--min_velocities, --min_metric_positions, --is_drum, --drums_only), and cut into the
config's examples by its data converter; each example is written back as the
NoteSequence the converter decodes from it (examples it cannot re-extract are
dropped), once per distinct example, with `id` = the comma-separated ids of the
NoteSequences it came from (sorted here; the original's order is the runner's).

  music_vae_preprocess_tfrecord --input_tfrecord=notesequences-*.tfrecord \
      --output_tfrecord=/tmp/train-cat-mel_2bar_small --output_shards=10 \
      --config=cat-mel_2bar_small [--pipeline_options=--runner=DirectRunner,...]

Outputs are the shards <output_tfrecord>-SSSSS-of-NNNNN, which music_vae_train reads
with --examples_path='<output_tfrecord>-*'. With --pipeline_options (and
'magenta_rnn[beam]' installed) the job runs on Apache Beam; without, on this machine.
"""
from __future__ import annotations

import collections
import glob
import logging
import os
import sys

import numpy as np
from absl import flags

from magenta_rnn import console
from magenta_rnn.music import sequences as sequences_lib
from magenta_rnn.music import subsequences
from magenta_rnn.protobuf import music_pb2

MAX_TIME_SPLITS = 100
FILTER_STEPS_PER_QUARTER = 16

FLAGS = flags.FLAGS


class ExampleExtractor:
    """NoteSequence -> [(serialized example NoteSequence, source id)], with counters."""

    def __init__(self, config_name: str, filters: dict | None):
        from magenta_rnn.music_vae import configs
        self.config_name = config_name
        self.filters = filters
        self.converter = configs.load_config(config_name).make_data_converter()
        self.counts: collections.Counter = collections.Counter()

    def __getstate__(self) -> dict:  # Beam pickles the extractor; the converter is rebuilt
        return {'config_name': self.config_name, 'filters': self.filters}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state['config_name'], state['filters'])

    def _passes_filters(self, ns: music_pb2.NoteSequence) -> bool:
        filters = self.filters
        if ns.total_time > filters['max_total_time']:
            self.counts['filtered-too-long'] += 1
            return False
        if len(ns.notes) > filters['max_num_notes']:
            self.counts['filtered-too-many-notes'] += 1
            return False
        try:
            quantized = sequences_lib.quantize_note_sequence(ns, FILTER_STEPS_PER_QUARTER)
        except (sequences_lib.BadTimeSignatureError, sequences_lib.NegativeTimeError):
            self.counts['quantize-failed'] += 1
            return False
        velocities, positions, drums_only = set(), set(), True
        for note in quantized.notes:
            drums_only &= note.is_drum
            if ((filters['is_drum'] is None or note.is_drum == filters['is_drum'])
                    and note.velocity > 0):
                velocities.add(note.velocity)
                positions.add(note.quantized_start_step % FILTER_STEPS_PER_QUARTER)
        if len(velocities) < filters['min_velocities']:
            self.counts['filtered-min-velocities'] += 1
            return False
        if len(positions) < filters['min_metric_positions']:
            self.counts['filtered-min-metric-positions'] += 1
            return False
        if filters['drums_only'] and not drums_only:
            self.counts['filtered-drums-only'] += 1
            return False
        return True

    def _examples_of_piece(self, ns: music_pb2.NoteSequence) -> list[bytes]:
        if self.filters and not self._passes_filters(ns):
            return []
        self.counts['unfiltered-sequences'] += 1
        tensors = self.converter.to_tensors(ns)
        if not tensors.outputs:
            self.counts['empty-extractions'] += 1
            return []
        self.counts['extracted-examples'] += len(tensors.outputs)
        examples = []
        for _, outputs, controls, _ in tensors.examples():
            if controls.size:
                example_ns = self.converter.from_tensors([outputs], [controls])[0]
            else:
                example_ns = self.converter.from_tensors([outputs])[0]
            reextracted = self.converter.to_tensors(example_ns).inputs
            if not reextracted:
                self.counts['empty-reextraction'] += 1
                continue
            if isinstance(outputs, list):  # hierarchical: one tensor per segment
                if len(outputs) != len(reextracted[0]):
                    self.counts['different-reextraction-count'] += 1
                    continue
                for index, segment in enumerate(outputs):
                    if not np.array_equal(reextracted[0][index], segment):
                        self.counts['different-reextraction'] += 1
            examples.append(example_ns.SerializeToString())
        return examples

    def __call__(self, serialized: bytes) -> list[tuple[bytes, str]]:
        ns = music_pb2.NoteSequence.FromString(serialized)
        pieces = subsequences.split_note_sequence_on_time_changes(ns)
        if len(pieces) > MAX_TIME_SPLITS:
            self.counts['filtered-too-many-sequence-time-splits'] += 1
            return []
        self.counts['sequence-time-splits'] += len(pieces)
        results = [(example, ns.id) for piece in pieces
                   for example in self._examples_of_piece(piece)]
        self.counts['all-examples'] += len(results)
        return results


def with_joined_ids(example: bytes, ids: list[str]) -> bytes:
    """The example NoteSequence with id = its sources' ids, sorted and comma-separated."""
    ns = music_pb2.NoteSequence.FromString(example)
    ns.id = ','.join(sorted(ids))
    return ns.SerializeToString()


def input_files(pattern: str) -> list[str]:
    files = sorted(glob.glob(os.path.expanduser(pattern)))
    if not files:
        raise FileNotFoundError(f'--input_tfrecord: no file matches {pattern!r}')
    return files


def shard_name(prefix: str, index: int, count: int) -> str:
    return f'{prefix}-{index:05d}-of-{count:05d}'


def run_locally(pattern: str, output_prefix: str, shards: int, extractor: ExampleExtractor
                ) -> dict[str, int]:
    """The job in this process; returns the counters."""
    from magenta_rnn import records
    ids_by_example: dict[bytes, list[str]] = collections.defaultdict(list)
    for path in input_files(pattern):
        for serialized in records.read_records(path):
            for example, source_id in extractor(serialized):
                ids_by_example[example].append(source_id)
    extractor.counts['unique-examples'] = len(ids_by_example)
    writers: list[records.RecordWriter] = []
    try:  # opening shard i can fail too: the temporary files of 0..i-1 go with it
        for i in range(shards):
            writers.append(records.RecordWriter(shard_name(output_prefix, i, shards)))
        for index, (example, ids) in enumerate(ids_by_example.items()):
            writers[index % shards].write(with_joined_ids(example, ids))
        for writer in writers:
            writer.close()
    except BaseException:
        for writer in writers:
            writer.abort()
        raise
    return dict(extractor.counts)


def run_on_beam(pattern: str, output_prefix: str, shards: int, extractor: ExampleExtractor,
                options: list[str]) -> None:
    from magenta_rnn.pipelines import beam_jobs
    beam = beam_jobs.import_beam()
    from apache_beam.metrics import Metrics

    def extract(serialized: bytes):
        results = extractor(serialized)
        for name, count in extractor.counts.items():
            Metrics.counter('ExtractExamplesDoFn', name).inc(count)
        extractor.counts.clear()
        return results

    input_files(pattern)  # fails early, naming the pattern
    with beam_jobs.failures_as_one_line([output_prefix]), beam.Pipeline(
            options=beam_jobs.pipeline_options(options)) as pipeline:
        _ = (pipeline
             | 'read_input' >> beam.io.ReadFromTFRecord(pattern, coder=beam.coders.BytesCoder())
             | 'extract_sequences' >> beam.FlatMap(extract)
             | 'group' >> beam.GroupByKey()
             | 'uniquify' >> beam.MapTuple(lambda example, ids: with_joined_ids(example, list(ids)))
             | 'shuffle' >> beam.Reshuffle()
             | 'write' >> beam.io.WriteToTFRecord(output_prefix, coder=beam.coders.BytesCoder(),
                                                   num_shards=shards))


def main(argv: list[str]) -> None:
    if len(argv) > 1:
        console.fail(f'unexpected arguments: {" ".join(argv[1:])}')
    logging.getLogger().setLevel(FLAGS.log.upper())
    for name in ('input_tfrecord', 'output_tfrecord', 'config'):
        if not getattr(FLAGS, name):
            console.fail(f'--{name} is required')
    if FLAGS.output_shards < 1:
        console.fail(f'--output_shards must be at least 1, got {FLAGS.output_shards}')
    filters = None if not FLAGS.enable_filtering else {
            'max_total_time': FLAGS.max_total_time, 'max_num_notes': FLAGS.max_num_notes,
            'min_velocities': FLAGS.min_velocities,
            'min_metric_positions': FLAGS.min_metric_positions,
            'is_drum': FLAGS.is_drum, 'drums_only': FLAGS.drums_only}
    from magenta_rnn.music_vae import configs
    try:
        extractor = ExampleExtractor(FLAGS.config, filters)
        if FLAGS.pipeline_options:
            from magenta_rnn.pipelines import beam_jobs
            try:
                run_on_beam(FLAGS.input_tfrecord, FLAGS.output_tfrecord, FLAGS.output_shards,
                            extractor, FLAGS.pipeline_options)
            except (beam_jobs.BeamNotInstalledError, beam_jobs.BeamJobError) as error:
                console.fail(str(error))
            print(f'Wrote {FLAGS.output_tfrecord}-*-of-{FLAGS.output_shards:05d}', file=sys.stderr)
            return
        counts = run_locally(FLAGS.input_tfrecord, FLAGS.output_tfrecord, FLAGS.output_shards,
                             extractor)
    except (configs.ConfigError, FileNotFoundError, ValueError) as error:
        console.fail(str(error))
    for name, count in sorted(counts.items()):
        print(f'{name}: {count}', file=sys.stderr)
    print(f'Wrote {counts["unique-examples"]} unique examples to '
          f'{FLAGS.output_tfrecord}-*-of-{FLAGS.output_shards:05d}', file=sys.stderr)


def _define_flags() -> None:
    """The original's flags; defined when the command runs, so that importing this module
    next to music_vae_train (which has its own --config) stays possible."""
    if 'input_tfrecord' in FLAGS:
        return
    flags.DEFINE_string('input_tfrecord', None, 'Filepattern matching input TFRecord file(s).')
    flags.DEFINE_string('output_tfrecord', None, 'The prefix for the output TFRecord file(s).')
    flags.DEFINE_integer('output_shards', 32, 'The number of output shards.')
    flags.DEFINE_string('config', None, 'The name of the model config to use (or a config file).')
    flags.DEFINE_bool('enable_filtering', True,
                      'If True, enables max_total_time, max_num_notes, min_velocities, '
                      'min_metric_positions, is_drum, and drums_only flags.')
    flags.DEFINE_integer('max_total_time', 1800,
                         'NoteSequences longer than this (in seconds) will be skipped.')
    flags.DEFINE_integer('max_num_notes', 10000,
                         'NoteSequences with more than this many notes will be skipped.')
    flags.DEFINE_integer('min_velocities', 1,
                         'NoteSequences with fewer unique velocities than this will be skipped.')
    flags.DEFINE_integer('min_metric_positions', 1,
                         'NoteSequences with fewer unique metric positions between quarter notes '
                         'than this will be skipped.')
    flags.DEFINE_bool('is_drum', None,
                      'If None, filtering will consider drums and non-drums. If True, only drums '
                      'will be considered. If False, only non-drums will be considered.')
    flags.DEFINE_bool('drums_only', False,
                      'If True, NoteSequences with non-drum instruments will be skipped.')
    flags.DEFINE_list('pipeline_options', None,
                      'Run on Apache Beam with these comma-separated options, e.g. '
                      '--runner=DirectRunner,--direct_num_workers=4 (needs '
                      "'magenta_rnn[beam]'); unset: run on this machine.")
    flags.DEFINE_string('log', 'INFO', 'Logging level: DEBUG, INFO, WARNING, ERROR or FATAL.')


def console_entry_point() -> None:
    _define_flags()
    console.run(main)


if __name__ == '__main__':
    console_entry_point()
