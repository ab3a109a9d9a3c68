"""music_vae_preprocess_tfrecord without Beam: filtering, extraction, de-duplication, shards."""
from __future__ import annotations

import pytest

import builders
from magenta_rnn import records
from magenta_rnn.music_vae import preprocess
from magenta_rnn.protobuf import music_pb2

FILTERS = {'max_total_time': 1800, 'max_num_notes': 10000, 'min_velocities': 1,
           'min_metric_positions': 1, 'is_drum': None, 'drums_only': False}


def _melody(sequence_id: str, pitches: list[int], velocity: int = 80) -> music_pb2.NoteSequence:
    """Eighth notes at 120 qpm in 4/4 (16 eighths = 2 bars)."""
    return builders.melody(pitches, note_seconds=0.25, velocity=velocity,
                           sequence_id=sequence_id, ticks_per_quarter=220)


def test_identical_examples_are_written_once_with_both_ids(tmp_path):
    tune = [60, 62, 64, 65, 67, 69, 71, 72] * 2
    inputs = [_melody('b', tune), _melody('a', tune), _melody('c', [72, 71] * 8)]
    records.write_records(str(tmp_path / 'in.tfrecord'), [ns.SerializeToString() for ns in inputs])
    extractor = preprocess.ExampleExtractor('cat-mel_2bar_small', FILTERS)
    counts = preprocess.run_locally(str(tmp_path / 'in*.tfrecord'), str(tmp_path / 'out'), 2,
                                    extractor)
    shards = [tmp_path / f'out-0000{i}-of-00002' for i in range(2)]
    written = [music_pb2.NoteSequence.FromString(r) for s in shards
               for r in records.read_records(str(s))]
    assert sorted(ns.id for ns in written) == ['a,b', 'c']
    assert counts['unique-examples'] == 2 and counts['all-examples'] == 3
    first = next(ns for ns in written if ns.id == 'a,b')
    assert [n.pitch for n in first.notes] == tune


def test_filters_count_what_they_drop():
    extractor = preprocess.ExampleExtractor(
            'cat-mel_2bar_small', dict(FILTERS, max_num_notes=10, min_velocities=1))
    assert extractor(_melody('x', [60] * 16).SerializeToString()) == []
    assert extractor.counts['filtered-too-many-notes'] == 1
    unfiltered = preprocess.ExampleExtractor('cat-mel_2bar_small', None)
    assert len(unfiltered(_melody('x', [60, 62] * 8).SerializeToString())) == 1


def test_missing_input_names_the_pattern(tmp_path):
    extractor = preprocess.ExampleExtractor('cat-mel_2bar_small', FILTERS)
    with pytest.raises(FileNotFoundError, match='no file matches'):
        preprocess.run_locally(str(tmp_path / 'nope-*'), str(tmp_path / 'out'), 1, extractor)
