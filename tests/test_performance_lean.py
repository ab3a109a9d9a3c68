"""Lean Performance RNN data: pieces stored once, stretched and transposed by the input
pipeline into exactly the examples the full create_dataset writes."""
from __future__ import annotations

import collections
import os
import subprocess
import sys
from pathlib import Path

import pytest

from magenta_rnn import records
from magenta_rnn.music import midi_io, subsequences, transforms
from magenta_rnn.performance import PERFORMANCE_RNN, lean
from magenta_rnn.performance.pipeline import build_chain, piece_of_record

REPO_ROOT = Path(__file__).resolve().parents[1]
CONFIG = 'performance_with_dynamics'


@pytest.fixture(scope='module')
def pop909_pieces():
    """The first 40 s of two POP909 songs (sustain pedal, several 30 s pieces)."""
    from conftest import find_shared_data
    data = find_shared_data()
    if data is None:
        pytest.skip('../shared/data is not present')
    pieces = []
    for number in ('001', '002'):
        sequence = midi_io.midi_file_to_note_sequence(
                data / 'pop909' / 'POP909' / number / f'{number}.mid')
        pieces.append(subsequences.extract_subsequence(sequence, 0.0, 40.0))
    return pieces


def test_one_pass_over_pieces_and_augmentations_is_the_full_training_set(pop909_pieces):
    config = PERFORMANCE_RNN.load_config(CONFIG)
    full, lean_chain = build_chain(config, 'training'), build_chain(config, 'training', lean=True)
    augmenter = lean.PieceAugmenter(config)
    assert augmenter.num_variants == 35
    expected, produced = collections.Counter(), collections.Counter()
    for piece in pop909_pieces:
        expected.update(full.transform(piece)[0])
        (stored,), _ = lean_chain.transform(piece)
        assert augmenter.is_source(stored)
        for variant in range(augmenter.num_variants):
            produced.update(augmenter(stored, variant))
    assert sum(expected.values()) > 2 * 35  # two 30 s pieces per song, not all kept
    assert produced == expected


def test_input_pipeline_expands_pieces_once_per_pass(pop909_pieces):
    import tensorflow as tf
    from magenta_rnn.rnn import data
    config = PERFORMANCE_RNN.load_config(CONFIG)
    lean_chain = build_chain(config, 'training', lean=True)
    stored = [lean_chain.transform(piece)[0][0] for piece in pop909_pieces]
    augmenter = lean.PieceAugmenter(config)
    full = build_chain(config, 'training')
    expected = collections.Counter(
            example for piece in pop909_pieces for example in full.transform(piece)[0])
    one_pass = data.expand_records(tf.data.Dataset.from_tensor_slices(stored), augmenter, seed=1)
    assert collections.Counter(one_pass.as_numpy_iterator()) == expected


def test_trainer_batches_from_a_lean_file(pop909_pieces, tmp_path):
    from magenta_rnn.rnn import data
    config = PERFORMANCE_RNN.load_config(CONFIG)
    lean_chain = build_chain(config, 'training', lean=True)
    path = str(tmp_path / 'training_performances.tfrecord')
    records.write_records(path, [lean_chain.transform(p)[0][0] for p in pop909_pieces])
    encoder = PERFORMANCE_RNN.build_encoder(config)
    data.use_record_expander(lean.PieceAugmenter(config))
    try:
        inputs, labels, lengths = next(iter(data.make_dataset(
                path, 8, encoder.input_size, training=True, seed=3)))
    finally:
        data.use_record_expander(None)
    assert inputs.shape[0] == 8 and inputs.shape[2] == encoder.input_size
    assert labels.shape[:2] == inputs.shape[:2]
    assert 32 <= int(min(lengths)) and int(max(lengths)) <= 511


def test_create_dataset_lean_writes_each_piece_once(pop909_pieces, tmp_path):
    records.write_records(str(tmp_path / 'in.tfrecord'),
                          [piece.SerializeToString() for piece in pop909_pieces])
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT), TF_CPP_MIN_LOG_LEVEL='2')
    result = subprocess.run(
            [sys.executable, '-m', 'magenta_rnn.performance.create_dataset',
             f'--input={tmp_path / "in.tfrecord"}', f'--output_dir={tmp_path / "out"}',
             f'--config={CONFIG}', '--eval_ratio=0', '--lean_augmentation'],
            env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert 'LeanPieces_training_pieces_stored: 2' in result.stderr
    stored = list(records.read_records(str(tmp_path / 'out' / 'training_performances.tfrecord')))
    assert [piece_of_record(record) for record in stored] == [
            transforms.apply_sustain_control_changes(piece) for piece in pop909_pieces]


def test_performance_rnn_train_trains_on_a_lean_file(pop909_pieces, tmp_path):
    config = PERFORMANCE_RNN.load_config(CONFIG)
    lean_chain = build_chain(config, 'training', lean=True)
    path = tmp_path / 'training_performances.tfrecord'
    records.write_records(str(path), [lean_chain.transform(p)[0][0] for p in pop909_pieces])
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT), TF_CPP_MIN_LOG_LEVEL='2')
    result = subprocess.run(
            [sys.executable, '-m', 'magenta_rnn.performance.train', f'--config={CONFIG}',
             '--hparams=batch_size=4,rnn_layer_sizes=[8]', f'--sequence_example_file={path}',
             f'--run_dir={tmp_path / "run"}', '--num_training_steps=2', '--seed=1'],
            env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert 'Training complete at step 2' in result.stderr
