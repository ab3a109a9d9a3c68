"""The statistics each *_create_dataset prints carry the original's names.

ORIGINAL_NAMES is what Magenta 2.1.4's pipelines (melody_rnn_pipeline basic_rnn,
drums_rnn_pipeline drum_kit, performance_pipeline performance_with_dynamics with 32/512
events) report for the same input (eight copies of one 16-second melody or drum line, half
of them to eval), each name without the original's `DAGPipeline_` prefix, which ours does
not print. The extractors count in the core (magenta_rnn.music.statistics); the stages
prefix and merge the counts.
"""
import functools

import pytest

import builders
from magenta_rnn.drums import DRUMS_RNN
from magenta_rnn.melody import MELODY_RNN
from magenta_rnn.performance import PERFORMANCE_RNN
from magenta_rnn.pipelines.dataset import run_dataset_pipeline
from magenta_rnn.protobuf import music_pb2
from magenta_rnn.records import RecordWriter


def _extractor_names(extractor, names):
    return {f'{extractor}_{mode}_{name}' for mode in ('eval', 'training') for name in names}


def _partition_and_transposition(dataset, transposition=True):
    names = {f'RandomPartition_{mode}_{dataset}_count' for mode in ('eval', 'training')}
    if transposition:
        names |= {f'TranspositionPipeline_{mode}_{name}' for mode in ('eval', 'training')
                  for name in ('skipped_due_to_range_exceeded', 'transpositions_generated')}
    return names


ORIGINAL_NAMES = {
    'melody_rnn': _extractor_names('MelodyExtractor', (
        'melodies_discarded_too_few_pitches', 'melodies_discarded_too_long',
        'melodies_discarded_too_short', 'melodies_truncated', 'melody_lengths_in_bars',
        'polyphonic_tracks_discarded')) | _partition_and_transposition('melodies'),
    'drums_rnn': _extractor_names('DrumsExtractor', (
        'drum_track_lengths_in_bars', 'drum_tracks_discarded_too_long',
        'drum_tracks_discarded_too_short', 'drum_tracks_truncated'))
    | _partition_and_transposition('drum_tracks', transposition=False),
    'performance_rnn': _extractor_names('PerformanceExtractor', (
        'performance_discarded_too_many_duration_steps',
        'performance_discarded_too_many_time_shift_steps', 'performance_lengths_in_seconds',
        'performances_discarded_more_than_1_program', 'performances_discarded_too_short',
        'performances_truncated', 'performances_truncated_timewise'))
    | _partition_and_transposition('performances'),
}


def _sixteen_seconds(drums: bool, name: str) -> music_pb2.NoteSequence:
    return builders.melody([36 if drums else 60 + i % 7 for i in range(64)], note_seconds=0.25,
                           velocity=80, is_drum=drums, ticks_per_quarter=220, filename=name,
                           sequence_id=name)


@pytest.mark.parametrize('model, config', [(MELODY_RNN, 'basic_rnn'), (DRUMS_RNN, 'drum_kit'),
                                           (PERFORMANCE_RNN, 'performance_with_dynamics')])
def test_statistic_names_are_the_originals(tmp_path, model, config):
    input_path = str(tmp_path / 'in.tfrecord')
    with RecordWriter(input_path) as writer:
        for i in range(8):
            writer.write(_sixteen_seconds(model is DRUMS_RNN, str(i)))
    summary = run_dataset_pipeline(
        input_path, str(tmp_path / 'out'), model.dataset_names,
        functools.partial(model.build_chain, model.load_config(config)), eval_ratio=0.5,
        seed=1, workers=1)
    assert set(summary.stats) == ORIGINAL_NAMES[model.name]
    assert sum(summary.outputs.values()) > 0
