"""Attributes and attribute vectors of MusicVAE latent codes (attributes.py, no TensorFlow)."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

import builders
from magenta_rnn.music_vae import attributes
from magenta_rnn.protobuf import music_pb2


def sequence(notes: list[tuple[int, float, float]], total_time: float | None = None,
             qpm: float = 120.0) -> music_pb2.NoteSequence:
    """A NoteSequence of (pitch, start, end) notes at velocity 80, with no time signature."""
    return builders.note_sequence([(pitch, 80, start, end) for pitch, start, end in notes],
                                  qpm=qpm, time_signature=None, total_time=total_time)


def test_attributes_of_a_small_melody():
    # C4 E4 G4 C5 over 4 s at 120 qpm, the last note a half note; a drum hit is ignored.
    ns = sequence([(60, 0.0, 0.5), (64, 0.5, 1.0), (67, 1.0, 1.5), (72, 1.5, 2.5)], 4.0)
    ns.notes.add(pitch=36, start_time=0.0, end_time=0.1, is_drum=True)
    assert attributes.note_density(ns) == 4 / 4.0
    assert attributes.mean_pitch(ns) == (60 + 64 + 67 + 72) / 4
    assert attributes.pitch_range(ns) == 12
    assert attributes.mean_interval(ns) == (4 + 3 + 5) / 3
    # Quarter notes of 0.5 s and one of 1 s at 120 qpm: (1 + 1 + 1 + 2) / 4 quarters.
    assert attributes.mean_duration(ns) == 1.25
    assert attributes.mean_duration(sequence([(60, 0.0, 1.0)], qpm=60)) == 1.0
    np.testing.assert_array_equal(attributes.measure([ns, ns], 'pitch_range'), [12, 12])


def test_attributes_of_an_empty_sequence():
    empty = music_pb2.NoteSequence(total_time=4.0)
    assert attributes.note_density(empty) == 0.0
    assert np.isnan(attributes.mean_pitch(empty)) and np.isnan(attributes.pitch_range(empty))
    assert np.isnan(attributes.mean_interval(sequence([(60, 0, 1)])))


def test_unknown_attribute_is_a_one_line_error():
    with pytest.raises(attributes.AttributeVectorError,
                       match=r"^unknown attribute 'loudness'; choose one of note_density, "
                             r"mean_pitch, pitch_range, mean_interval, mean_duration$"):
        attributes.measure([], 'loudness')


def test_vector_is_top_quartile_mean_minus_bottom_quartile_mean():
    values = np.arange(1.0, 9.0)                    # quartiles at 2.75 and 6.25
    latents = np.stack([values, -2 * values, np.ones(8)], axis=1)
    vector = attributes.compute_attribute_vector(latents, values, 'note_density', config='c')
    # High group: values 7 and 8; low group: 1 and 2.
    np.testing.assert_allclose(vector.vector, [7.5 - 1.5, -2 * (7.5 - 1.5), 0.0])
    assert vector.vector.dtype == np.float32
    assert (vector.num_examples, vector.num_high, vector.num_low) == (8, 2, 2)
    assert (vector.high_mean, vector.low_mean) == (7.5, 1.5)
    # Above and below the median instead; NaN values are left out.
    with_nan = np.append(values, np.nan)
    half = attributes.compute_attribute_vector(np.vstack([latents, [[100, 100, 100]]]), with_nan,
                                               'note_density', quantile=0.5)
    np.testing.assert_allclose(half.vector[0], 6.5 - 2.5)
    assert half.num_examples == 8


def test_too_few_or_uniform_examples_are_errors():
    with pytest.raises(attributes.AttributeVectorError,
                       match='too few examples for an attribute vector: 7 with a defined '
                             'mean_pitch, need at least 8'):
        attributes.compute_attribute_vector(np.zeros((7, 2)), np.arange(7.0), 'mean_pitch')
    with pytest.raises(attributes.AttributeVectorError, match='pitch_range hardly varies'):
        attributes.compute_attribute_vector(np.zeros((9, 2)), np.full(9, 3.0), 'pitch_range')


def test_save_and_load_keep_the_vector_and_its_attribute(tmp_path):
    vector = attributes.AttributeVector('mean_pitch', np.array([0.5, -1.0], np.float32),
                                        'cat-mel_2bar_small', 40, 10, 11, 70.5, 60.25)
    path = str(tmp_path / 'sub' / 'mean_pitch.vec')   # any name; no .npy appended
    attributes.save_attribute_vector(path, vector)
    loaded = attributes.load_attribute_vector(path)
    np.testing.assert_array_equal(loaded.vector, vector.vector)
    assert (loaded.attribute, loaded.config, loaded.num_examples, loaded.num_high,
            loaded.num_low, loaded.high_mean, loaded.low_mean) == (
        'mean_pitch', 'cat-mel_2bar_small', 40, 10, 11, 70.5, 60.25)
    # Plain np.load reads it too (no pickle).
    assert np.load(path)['attribute'] == 'mean_pitch'
    other = tmp_path / 'plain.npy'
    np.save(other, np.zeros(3))
    with pytest.raises(attributes.AttributeVectorError, match='not an attribute vector file'):
        attributes.load_attribute_vector(str(other))


def test_module_does_not_import_tensorflow():
    import subprocess
    code = ('import sys; import magenta_rnn.music_vae.attributes; '
            'print("tensorflow" in sys.modules)')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == 'False'


@pytest.mark.slow
def test_note_density_vector_moves_note_density_on_nottingham(shared_data, tmp_path):
    """A short Nottingham training run of a reduced cat-mel_2bar_small: adding the note
    density vector raises the measured density of decoded melodies on average, and
    subtracting it lowers it (bases from tunes not used for the vector)."""
    pytest.importorskip('tensorflow')
    import os
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / 'scripts'))
    import music_vae_attribute_vectors as script  # scripts/music_vae_attribute_vectors.py
    from magenta_rnn import records
    from magenta_rnn.music import midi_io
    from magenta_rnn.music_vae import configs, train, trained_model

    midi_dir = shared_data / 'nottingham' / 'MIDI' / 'melody'
    # 400 tunes across all the collections (the files are grouped by collection, and the
    # jigs in 6/8 give no 4/4 windows).
    paths = sorted(midi_dir.glob('*.mid'))
    paths = [paths[i] for i in np.random.default_rng(0).permutation(len(paths))[:400]]
    sequences = [midi_io.midi_file_to_note_sequence(str(path)) for path in paths]
    examples = str(tmp_path / 'nottingham.tfrecord')
    records.write_records(examples, [ns.SerializeToString() for ns in sequences])
    hparams = 'batch_size=64,enc_rnn_size=[256],dec_rnn_size=[128,128],z_size=64'
    config = configs.load_config('cat-mel_2bar_small', hparams)
    train.train(config, str(tmp_path / 'run'), [examples], num_steps=400, checkpoints_to_keep=1,
                keep_checkpoint_every_n_hours=1, seed=1)
    model = trained_model.TrainedModel(config, 64, os.path.join(tmp_path, 'run', 'train'), seed=1)
    report = script.evaluate(model, sequences, ['note_density'], [-2.0, 0.0, 2.0], 100, 0.7, 0.5)
    rows = report['attributes']['note_density']['by_scale']
    assert rows['2']['mean'] > rows['0']['mean'] > rows['-2']['mean']
    # Per base: more are moved the asked way than the other way (a short training run
    # leaves some bases' density unchanged, which counts as neither).
    assert rows['2']['raised'] > 2 * rows['2']['lowered']
    assert rows['-2']['lowered'] > 2 * rows['-2']['raised']
