"""TrainedModel (REFERENCE.md "MusicVAE TrainedModel") and music_vae_generate (REFERENCE.md
"music_vae_generate") on tiny models."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import tarfile

import numpy as np
import pytest

import builders

tf = pytest.importorskip('tensorflow')

from magenta_rnn import records  # noqa: E402
from magenta_rnn.music import midi_io  # noqa: E402
from magenta_rnn.music_vae import configs, train, trained_model  # noqa: E402
from magenta_rnn.protobuf import music_pb2  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = 'batch_size=4,enc_rnn_size=[8],dec_rnn_size=[8],z_size=4'


def melody(pitches: list[int], bars: int) -> music_pb2.NoteSequence:
    """`bars` bars of 4/4 at 120 qpm, one note per quarter cycling through `pitches`."""
    return builders.melody([pitches[k % len(pitches)] for k in range(4 * bars)], velocity=90)


@pytest.fixture(scope='module')
def run_dir(tmp_path_factory):
    """A tiny cat-mel_2bar_small trained for 2 steps."""
    root = tmp_path_factory.mktemp('vae')
    examples = str(root / 'melodies.tfrecord')
    records.write_records(examples, [melody([60 + k, 62, 64, 65, 67, 69, 71], 4)
                                     .SerializeToString() for k in range(3)])
    config = configs.load_config('cat-mel_2bar_small', TINY)
    train.train(config, str(root / 'run'), [examples], num_steps=2, checkpoints_to_keep=2,
                keep_checkpoint_every_n_hours=1, seed=3)
    return str(root / 'run')


@pytest.fixture(scope='module')
def model(run_dir):
    config = configs.load_config('cat-mel_2bar_small', TINY)
    return trained_model.TrainedModel(config, batch_size=2,
                                      checkpoint_dir_or_path=os.path.join(run_dir, 'train'),
                                      seed=5)


def test_slerp_endpoints_and_norm():
    p0, p1 = np.array([1.0, 0.0]), np.array([0.0, 2.0])
    np.testing.assert_allclose(trained_model.slerp(p0, p1, 0.0), p0, atol=1e-12)
    np.testing.assert_allclose(trained_model.slerp(p0, p1, 1.0), p1, atol=1e-12)
    # Halfway along a right angle: 45 degrees, norm between the endpoints'.
    mid = trained_model.slerp(p0, p1, 0.5)
    np.testing.assert_allclose(mid, [np.sin(np.pi / 4), 2 * np.sin(np.pi / 4)])
    # Equal codes (the same input twice): every step is that code, not NaN.
    same = np.array([0.3, -1.2, 0.7], np.float32)
    np.testing.assert_allclose(trained_model.slerp(same, same, 0.25), same, rtol=1e-6)


def test_sample_gives_n_melodies_of_the_given_length(model):
    samples = model.sample(n=3, length=32, temperature=0.5)   # two batches of 2, 3 kept
    assert len(samples) == 3
    tensors = model.sample_tensors(n=3, length=32)
    assert tensors.shape == (3, 32, 90)
    assert (tensors.sum(axis=-1) == 1).all()
    for ns in samples:
        assert all(21 <= n.pitch <= 108 and n.velocity == 80 for n in ns.notes)
        assert ns.total_time <= 4.0 + 1e-9


def test_sample_without_length_is_an_error_without_end_token(model):
    with pytest.raises(ValueError, match='length must be specified'):
        model.sample(n=1)


def test_same_z_decodes_the_same_latent_for_every_sample(model):
    # At a vanishing temperature sampling is argmax: one z gives one melody. (The
    # barely trained model's logits lie close together: near-ties need a very low one.)
    tensors = model.sample_tensors(n=2, length=32, temperature=1e-9, same_z=True)
    np.testing.assert_array_equal(tensors[0], tensors[1])


def test_encode_returns_z_mu_sigma(model):
    z, mu, sigma = model.encode([melody([60, 64, 67], 2), melody([72, 71], 2),
                                 melody([50, 52], 2)])
    assert z.shape == mu.shape == sigma.shape == (3, 4)
    assert (sigma > 0).all()
    assert not np.allclose(mu[0], mu[1])
    # The same input gives the same mu, whatever its place in the batch.
    _, mu_again, _ = model.encode([melody([72, 71], 2)])
    np.testing.assert_allclose(mu_again[0], mu[1], rtol=1e-5, atol=1e-6)


def test_encode_errors_name_the_sequence(model):
    one_bar = melody([60, 62], 1)
    one_bar.filename = 'short.mid'
    with pytest.raises(trained_model.NoExtractedExamplesError,
                       match=r'NoteSequence 1 \(short.mid\) gives no valid input for config '
                             r'cat-mel_2bar_small'):
        model.encode([melody([60, 62], 2), one_bar])
    with pytest.raises(trained_model.MultipleExtractedExamplesError,
                       match='NoteSequence 0 gives 3 inputs'):
        model.encode([melody([60, 62, 64, 65, 67], 4)])


def test_interpolate_decodes_the_slerp_between_the_two_means(model):
    a, b = melody([60, 64, 67], 2), melody([72, 71, 69], 2)
    results = model.interpolate(a, b, num_steps=5, length=32, temperature=1e-6)
    assert len(results) == 5
    _, mu, _ = model.encode([a, b])
    # The endpoints are the argmax decodings of the two means.
    ends = model.decode_to_tensors(mu, length=32, temperature=1e-6)
    expected = model.data_converter.from_tensors(ends)
    assert [(n.pitch, n.start_time) for n in results[0].notes] == [
        (n.pitch, n.start_time) for n in expected[0].notes]
    assert [(n.pitch, n.start_time) for n in results[-1].notes] == [
        (n.pitch, n.start_time) for n in expected[1].notes]


def test_reconstruction_loglik_is_teacher_forced(model):
    a = melody([60, 64, 67], 2)
    (loglik,) = model.reconstruction_loglik([a])
    assert loglik.shape == (32,) and (loglik < 0).all()
    tensors = model.extract_examples([a])
    log_probs = model.reconstruction_log_probs(tensors.inputs, tensors.outputs, tensors.lengths)
    np.testing.assert_allclose(np.exp(log_probs).sum(-1), 1.0, rtol=1e-5)
    targets = np.argmax(tensors.outputs[0], -1)
    np.testing.assert_allclose(loglik, log_probs[0, np.arange(32), targets], rtol=1e-6)
    # Changing the target at step 10 (same inputs, so the same z) changes the
    # decoder's distributions only from step 11 on.
    changed = tensors.outputs[0].copy()
    changed[10] = np.eye(90)[(targets[10] + 5) % 90]
    other = model.reconstruction_log_probs(tensors.inputs, [changed], tensors.lengths)
    np.testing.assert_allclose(other[0, :11], log_probs[0, :11], rtol=1e-5, atol=1e-6)
    assert not np.allclose(other[0, 11], log_probs[0, 11])


def test_checkpoint_prefix_and_tar_load_the_same_weights(run_dir, tmp_path, model):
    config = configs.load_config('cat-mel_2bar_small', TINY)
    prefix = tf.train.latest_checkpoint(os.path.join(run_dir, 'train'))
    tar_path = tmp_path / 'cat-mel_2bar_small.tar'
    with tarfile.open(tar_path, 'w') as tar:
        for suffix in ('.index', '.data-00000-of-00001'):
            tar.add(prefix + suffix, arcname='ckpt/model' + suffix)
    a = [melody([60, 64, 67], 2)]
    expected = model.encode(a)[1]
    for path in (prefix, str(tar_path)):
        loaded = trained_model.TrainedModel(config, 2, path)
        np.testing.assert_allclose(loaded.encode(a)[1], expected, rtol=1e-6)
    other = configs.load_config('cat-mel_2bar_small', 'enc_rnn_size=[8],dec_rnn_size=[8],z_size=6')
    with pytest.raises(trained_model.CheckpointError,
                       match='checkpoint does not match config cat-mel_2bar_small'):
        trained_model.TrainedModel(other, 2, prefix)


def test_name_based_checkpoint_with_the_original_variable_names(model, tmp_path):
    # A checkpoint as the original writes it: plain TF1 names, no object graph.
    names = trained_model.tf1_variable_map(model.model)
    assert 'encoder/cell_0/bidirectional_rnn/fw/multi_rnn_cell/cell_0/lstm_cell/kernel' in names
    assert {'encoder/mu/kernel', 'encoder/sigma/bias', 'decoder/multi_rnn_cell/cell_0/lstm_cell/bias',
            'decoder/z_to_initial_state/kernel', 'decoder/output_projection/bias'} <= set(names)
    prefix = str(tmp_path / 'model.ckpt-7')
    tf.raw_ops.SaveV2(prefix=prefix, tensor_names=list(names),
                      shape_and_slices=[''] * len(names),
                      tensors=[v.read_value() for v in names.values()])
    config = configs.load_config('cat-mel_2bar_small', TINY)
    loaded = trained_model.TrainedModel(config, 2, prefix)
    a = [melody([60, 64, 67], 2)]
    np.testing.assert_allclose(loaded.encode(a)[1], model.encode(a)[1], rtol=1e-6)
    # A config of another size names the mismatch.
    other = configs.load_config('cat-mel_2bar_small', 'enc_rnn_size=[8],dec_rnn_size=[8],z_size=6')
    with pytest.raises(trained_model.CheckpointError, match='encoder/mu/kernel has shape'):
        trained_model.TrainedModel(other, 2, prefix)


def test_missing_checkpoint_is_a_clear_error(tmp_path):
    config = configs.load_config('cat-mel_2bar_small', TINY)
    with pytest.raises(trained_model.CheckpointError, match='no checkpoint in this directory'):
        trained_model.TrainedModel(config, 2, str(tmp_path))
    with pytest.raises(trained_model.CheckpointError, match='no such checkpoint'):
        trained_model.TrainedModel(config, 2, str(tmp_path / 'model.ckpt-1'))


def _generate(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=REPO, TF_CPP_MIN_LOG_LEVEL='2')
    return subprocess.run([sys.executable, '-m', 'magenta_rnn.music_vae.generate', *args],
                          env=env, capture_output=True, text=True, timeout=300, cwd=REPO)


def test_generate_sample_writes_the_original_file_names(run_dir, tmp_path):
    out = tmp_path / 'out'
    result = _generate('--config=cat-mel_2bar_small', f'--hparams={TINY}', f'--run_dir={run_dir}',
                       '--mode=sample', '--num_outputs=3', '--max_batch_size=2',
                       f'--output_dir={out}', '--seed=1')
    assert result.returncode == 0, result.stderr[-2000:]
    files = sorted(os.listdir(out))
    assert len(files) == 3
    for i, name in enumerate(files):
        assert re.fullmatch(rf'cat-mel_2bar_small_sample_\d{{4}}-\d\d-\d\d_\d{{6}}-00{i}-of-003\.mid',
                            name), name
    ns = midi_io.midi_file_to_note_sequence(str(out / files[0]))
    assert ns.total_time <= 4.0 + 1e-6


def test_generate_interpolate_and_extractions(run_dir, tmp_path):
    out = tmp_path / 'out'
    a, b, long = tmp_path / 'a.mid', tmp_path / 'b.mid', tmp_path / 'long.mid'
    midi_io.note_sequence_to_midi_file(melody([60, 64, 67], 2), str(a))
    midi_io.note_sequence_to_midi_file(melody([72, 71, 69], 2), str(b))
    midi_io.note_sequence_to_midi_file(melody([60, 62, 64, 65, 67], 4), str(long))
    common = ['--config=cat-mel_2bar_small', f'--hparams={TINY}', f'--output_dir={out}',
              f'--checkpoint_file={tf.train.latest_checkpoint(os.path.join(run_dir, "train"))}',
              '--mode=interpolate', '--num_outputs=4']
    result = _generate(*common, f'--input_midi_1={a}', f'--input_midi_2={b}')
    assert result.returncode == 0, result.stderr[-2000:]
    files = sorted(os.listdir(out))
    assert [f[-15:] for f in files] == [f'-00{i}-of-004.mid' for i in range(4)]
    assert all(f.startswith('cat-mel_2bar_small_interpolate_') for f in files)

    # A 4-bar input gives three 2-bar windows: they are written for the user to pick.
    result = _generate(*common, f'--input_midi_1={long}', f'--input_midi_2={b}')
    assert result.returncode == 0, result.stderr[-2000:]
    assert '3 valid inputs extracted from' in result.stdout
    extractions = sorted(f for f in os.listdir(out) if '_input1-extractions_' in f)
    assert [f[-15:] for f in extractions] == [f'-00{i}-of-003.mid' for i in range(3)]
    assert len(os.listdir(out)) == 7   # no interpolation this time

    # A 1-bar input gives nothing usable.
    short = tmp_path / 'short.mid'
    midi_io.note_sequence_to_midi_file(melody([60], 1), str(short))
    result = _generate(*common, f'--input_midi_1={a}', f'--input_midi_2={short}')
    assert result.returncode == 1
    assert 'error: --input_midi_2: MusicVAE configs have very specific input requirements' in (
        result.stderr)


def test_generate_flag_errors(tmp_path):
    result = _generate('--config=flat-mel_16bar', f'--output_dir={tmp_path}')
    assert result.returncode == 1
    assert "no shipped default model for music_vae config 'flat-mel_16bar'" in result.stderr
    result = _generate('--config=cat-mel_2bar_small', f'--run_dir={tmp_path}', '--mode=bogus')
    assert result.returncode == 1 and "--mode: invalid value 'bogus'" in result.stderr
    (tmp_path / 'train').mkdir()
    result = _generate('--config=cat-mel_2bar_small', f'--run_dir={tmp_path}',
                       f'--output_dir={tmp_path / "o"}')
    assert result.returncode == 1
    assert '--run_dir: ' in result.stderr and 'no checkpoint in this directory' in result.stderr


@pytest.mark.slow
def test_trained_model_matches_the_original_on_its_checkpoint(peer, tmp_path):
    """The original trains cat-mel_2bar_small one step; both TrainedModels load that
    checkpoint and must give the same mu, sigma and argmax decodings."""
    examples = str(tmp_path / 'melodies.tfrecord')
    records.write_records(examples, [melody([60 + k, 62, 64, 65, 67, 69, 71], 4)
                                     .SerializeToString() for k in range(6)])
    peer.run_peer(['-m', 'magenta.models.music_vae.music_vae_train',
                   '--config=cat-mel_2bar_small', f'--run_dir={tmp_path}/peer',
                   f'--examples_path={examples}', '--num_steps=1', '--hparams=batch_size=4',
                   '--cache_dataset=false'], capture_output=True, timeout=600)
    result = subprocess.run(
        [sys.executable, os.path.join(REPO, 'scripts', 'compare_music_vae_trained_model_with_peer.py'),
         '--config=cat-mel_2bar_small', f'--checkpoint={tmp_path}/peer/train',
         f'--examples_path={examples}', '--limit=16'],
        env=dict(os.environ, PYTHONPATH=REPO), capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr[-2000:]
    assert '16/16 sequences identical' in result.stdout


def test_numpy_sampler_follows_the_tensorflow_decoder(model):
    # TrainedModel samples a flat categorical decoder in NumPy; at a vanishing
    # temperature both paths are argmax decoding and must agree step by step.
    z = np.random.default_rng(0).standard_normal((2, 4)).astype(np.float32) * 3
    assert model._uses_numpy_sampler()
    fast = model.decode_to_tensors(z, length=32, temperature=1e-9)
    slow = model._decode_batch_tf(z, 32, 1e-9)
    np.testing.assert_array_equal(fast, slow)
    # At temperature 1, draws follow softmax(logits): the first step's frequencies
    # match the decoder's first-step distribution.
    sampler = model._numpy_sampler
    many = np.repeat(z[:1], 4000, axis=0)
    first = sampler.sample(many, 1, 1.0, np.random.default_rng(1))[:, 0].mean(axis=0)
    logits = model.model.decoder.logits(tf.zeros([1, 1, 90]), tf.constant(z[:1]),
                                        tf.constant([1]))[0, 0]
    expected = tf.nn.softmax(logits).numpy()
    assert np.abs(first - expected).max() < 0.03


def rhythm(first_pitch: int, note_seconds: float, bars: int = 2) -> music_pb2.NoteSequence:
    """A `bars`-bar scale run at 120 qpm with notes of note_seconds (0.25 s = an eighth)."""
    return builders.scale_run(first_pitch, int(round(2.0 * bars / note_seconds)), cycle=5,
                              note_seconds=note_seconds, velocity=90, total_time=2.0 * bars)


ATTRIBUTE_EXAMPLES = [rhythm(p, d) for p in (55, 60, 65, 70) for d in (0.25, 0.5, 1.0)]


def test_attribute_vector_from_every_window_of_the_examples(model):
    from magenta_rnn.music_vae import attributes
    vector = model.attribute_vector(ATTRIBUTE_EXAMPLES, 'note_density')
    assert vector.attribute == 'note_density' and vector.config == 'cat-mel_2bar_small'
    # 12 two-bar windows with 4, 2 and 1 notes per second: the top quartile is the
    # eighth-note runs, the bottom the half-note ones.
    assert (vector.num_examples, vector.num_high, vector.num_low) == (12, 4, 4)
    assert (vector.high_mean, vector.low_mean) == (4.0, 1.0)
    _, mu, _ = model.encode(ATTRIBUTE_EXAMPLES)
    np.testing.assert_allclose(vector.vector, mu[0::3].mean(0) - mu[2::3].mean(0), rtol=1e-4,
                               atol=1e-6)
    # A 4-bar sequence gives three windows, all used.
    inputs, lengths, windows = model.extract_windows([rhythm(60, 0.5, bars=4)])
    assert len(inputs) == len(windows) == 3 and lengths == [32, 32, 32]
    with pytest.raises(attributes.AttributeVectorError,
                       match='too few examples for an attribute vector: 3 inputs'):
        model.attribute_vector([rhythm(60, 0.5, bars=4)], 'note_density')
    with pytest.raises(attributes.AttributeVectorError, match="unknown attribute 'speed'"):
        model.attribute_vector(ATTRIBUTE_EXAMPLES, 'speed')


def test_apply_attribute_vector_decodes_the_code_plus_multiples(model):
    from magenta_rnn.music_vae import attributes
    vector = attributes.AttributeVector('note_density', np.array([1, -1, 0.5, 2], np.float32))
    base = melody([60, 64, 67], 2)
    outputs = model.apply_attribute_vector(vector, [-2, 0, 3], note_sequence=base, length=32,
                                           temperature=1e-9)
    assert len(outputs) == 3
    _, mu, _ = model.encode([base])
    expected = model.decode(np.stack([mu[0] + k * vector.vector for k in (-2, 0, 3)]),
                            length=32, temperature=1e-9)
    for got, want in zip(outputs, expected):
        assert [(n.pitch, n.start_time) for n in got.notes] == [
            (n.pitch, n.start_time) for n in want.notes]
    with pytest.raises(attributes.AttributeVectorError, match='config cat-mel_2bar_small has '
                                                              'z_size 4'):
        model.apply_attribute_vector(np.zeros(3), [1.0])


def test_generate_attribute_mode_computes_saves_and_reuses_the_vector(run_dir, tmp_path):
    from magenta_rnn.music_vae import attributes
    examples = str(tmp_path / 'examples.tfrecord')
    records.write_records(examples, [ns.SerializeToString() for ns in ATTRIBUTE_EXAMPLES])
    base = tmp_path / 'base.mid'
    midi_io.note_sequence_to_midi_file(melody([60, 64, 67], 2), str(base))
    out, vector_file = tmp_path / 'out', tmp_path / 'density.npy'
    common = ['--config=cat-mel_2bar_small', f'--hparams={TINY}', f'--run_dir={run_dir}',
              '--mode=attribute', f'--output_dir={out}', '--seed=2']
    result = _generate(*common, '--attribute=note_density', f'--attribute_examples={examples}',
                       f'--attribute_vector_file={vector_file}', f'--input_midi_1={base}',
                       '--attribute_scales=-1,0,1')
    assert result.returncode == 0, result.stderr[-2000:]
    files = sorted(os.listdir(out))
    assert len(files) == 3
    for i, name in enumerate(files):
        assert re.fullmatch(rf'cat-mel_2bar_small_attribute_\d{{4}}-\d\d-\d\d_\d{{6}}-00{i}-of-'
                            rf'003\.mid', name), name
    assert 'output 002: +1 * vector, note_density = ' in result.stderr
    saved = attributes.load_attribute_vector(str(vector_file))
    assert saved.attribute == 'note_density' and saved.num_examples == 12

    # The saved vector alone, with one random code as the base.
    result = _generate(*common, f'--attribute_vector_file={vector_file}',
                       f'--output_dir={tmp_path / "again"}', '--attribute_scales=2')
    assert result.returncode == 0, result.stderr[-2000:]
    assert len(os.listdir(tmp_path / 'again')) == 1

    # A MIDI directory works as examples; too few of them is a one-line error.
    midi_dir = tmp_path / 'midi'
    midi_dir.mkdir()
    for k, ns in enumerate(ATTRIBUTE_EXAMPLES[:5]):
        midi_io.note_sequence_to_midi_file(ns, str(midi_dir / f'{k}.mid'))
    result = _generate(*common, '--attribute=note_density', f'--attribute_examples={midi_dir}')
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].endswith(
        f'error: --attribute_examples: {midi_dir}: too few examples for an attribute vector: '
        f'5 inputs for config cat-mel_2bar_small, need at least 8')


def test_generate_attribute_mode_flag_errors(tmp_path):
    common = ['--config=cat-mel_2bar_small', f'--run_dir={tmp_path}', '--mode=attribute',
              f'--output_dir={tmp_path / "o"}']
    result = _generate(*common, '--attribute=loudness', '--attribute_examples=x.tfrecord')
    assert result.returncode == 1
    assert ("error: --attribute: unknown attribute 'loudness'; choose one of note_density, "
            "mean_pitch, pitch_range, mean_interval, mean_duration") in result.stderr
    result = _generate(*common, '--attribute=note_density')
    assert result.returncode == 1 and 'needs --attribute_examples' in result.stderr
    result = _generate(*common, '--attribute_vector_file=missing.npy')
    assert result.returncode == 1 and '--attribute_vector_file: missing.npy: cannot read' in (
        result.stderr)
    result = _generate(*common, '--attribute=note_density', '--attribute_examples=x.tfrecord',
                       '--attribute_scales=a,b')
    assert result.returncode == 1 and '--attribute_scales: expected comma-separated' in (
        result.stderr)
