"""The hierarchical encoder and control inputs (chords, drum hits) of MusicVAE, on
tiny models; music_vae_generate with --chords and with hits from an input."""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

import builders

tf = pytest.importorskip('tensorflow')

from magenta_rnn import records  # noqa: E402
from magenta_rnn.music import midi_io  # noqa: E402
from magenta_rnn.music_vae import configs, controls, train, trained_model  # noqa: E402
from magenta_rnn.music_vae import model as model_lib  # noqa: E402
from magenta_rnn.music_vae.hierarchical_encoder import HierarchicalLstmEncoder  # noqa: E402
from magenta_rnn.protobuf import music_pb2  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = 'batch_size=2,enc_rnn_size=[6],dec_rnn_size=[5],z_size=3'


def test_hierarchical_encoder_encodes_segments_then_their_codes():
    tf.random.set_seed(0)
    encoder = HierarchicalLstmEncoder(input_size=4, layer_sizes=[5], level_lengths=[3, 2],
                                      total_length=6)
    rng = np.random.default_rng(0)
    x = rng.standard_normal([2, 6, 4]).astype(np.float32)
    # Per-segment lengths: the second sequence's first segment is 2 steps long.
    lengths = np.array([[3, 3], [2, 3]], np.int32)
    encoding = encoder(tf.constant(x), tf.constant(lengths)).numpy()
    level0, level1 = encoder.levels
    codes = np.stack([level0(tf.constant(x[:, 3 * s:3 * s + 3]), tf.constant(lengths[:, s]))
                      .numpy() for s in range(2)], axis=1)
    expected = level1(tf.constant(codes), tf.constant([2, 2])).numpy()
    np.testing.assert_allclose(encoding, expected, rtol=1e-5, atol=1e-6)
    assert encoding.shape == (2, 10)
    # Steps past a segment's length do not count.
    x[1, 2] = 100.0
    np.testing.assert_allclose(encoder(tf.constant(x), tf.constant(lengths)).numpy(), encoding,
                               rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match=r'product of level_lengths \[3, 3\] must equal'):
        HierarchicalLstmEncoder(4, [5], [3, 3], total_length=6)


def test_original_variable_names_of_hier_mel_and_chords():
    config = configs.load_config('hier-mel_16bar', 'enc_rnn_size=[6],dec_rnn_size=[5],z_size=3')
    vae = model_lib.build_model(config, config.make_data_converter())
    shapes = {name: v.shape.as_list()
              for name, v in trained_model.tf1_variable_map(vae).items()}
    cell = 'cell_0/bidirectional_rnn/{}/multi_rnn_cell/cell_0/lstm_cell/kernel'
    assert shapes['encoder/hierarchical_level_0/' + cell.format('fw')] == [90 + 6, 24]
    assert shapes['encoder/hierarchical_level_1/' + cell.format('bw')] == [12 + 6, 24]
    assert shapes['encoder/mu/kernel'] == [12, 3]
    assert 'decoder/hierarchical_level_0/initial_state/kernel' in shapes

    config = configs.load_config('cat-mel_2bar_med_chords', TINY)
    vae = model_lib.build_model(config, config.make_data_converter())
    shapes = {name: v.shape.as_list()
              for name, v in trained_model.tf1_variable_map(vae).items()}
    # Controls are read beside the melody by the encoder, beside z by the decoder.
    assert shapes['encoder/' + cell.format('fw')] == [90 + 49 + 6, 24]
    assert shapes['decoder/multi_rnn_cell/cell_0/lstm_cell/kernel'] == [90 + 3 + 49 + 5, 20]


def test_controls_condition_the_loss_and_the_samples():
    config = configs.load_config('cat-mel_2bar_med_chords', TINY)
    converter = config.make_data_converter()
    tf.random.set_seed(1)
    vae = model_lib.build_model(config, converter)
    for variable in vae.trainable_variables:  # large weights, so controls matter visibly
        variable.assign(tf.random.normal(variable.shape, stddev=0.5))
    x = np.eye(90, dtype=np.float32)[np.arange(32) % 90][None].repeat(2, 0)
    c_major = controls.chord_c_input(converter, ['C'], 32)[None].repeat(2, 0)
    a_minor = controls.chord_c_input(converter, ['Am'], 32)[None].repeat(2, 0)
    mu_c, _ = vae.encode(x, tf.constant([32, 32]), c_major)
    mu_a, _ = vae.encode(x, tf.constant([32, 32]), a_minor)
    assert np.abs(mu_c.numpy() - mu_a.numpy()).max() > 1e-3
    z = tf.constant(mu_c)
    same = vae.decode(z, 32, 1e-6, controls=c_major)
    np.testing.assert_array_equal(same.numpy(), vae.decode(z, 32, 1e-6, controls=c_major).numpy())
    assert not np.array_equal(same.numpy(), vae.decode(z, 32, 1e-6, controls=a_minor).numpy())
    with pytest.raises(ValueError, match='conditioned on controls'):
        vae.decode(z, 32, 1.0)


def drum_pattern(bars: int = 2) -> music_pb2.NoteSequence:
    notes = []
    for step in range(16 * bars):
        t = step * 0.125
        if step % 4 == 0:
            notes.append((36, 100, t, t + 0.1))
        if step % 2 == 0:
            notes.append((42, 60, t + 0.01, t + 0.1))
        if step % 8 == 4:
            notes.append((38, 90, t, t + 0.1))
    return builders.note_sequence(notes, instrument=9, is_drum=True, ticks_per_quarter=220,
                                  total_time=2.0 * bars)


def _train(config_name: str, sequences, tmp_path) -> str:
    path = str(tmp_path / 'examples.tfrecord')
    records.write_records(path, [ns.SerializeToString() for ns in sequences])
    config = configs.load_config(config_name, TINY)
    run_dir = str(tmp_path / 'run')
    train.train(config, run_dir, [path], num_steps=1, checkpoints_to_keep=1,
                keep_checkpoint_every_n_hours=1, seed=0)
    return run_dir


def _generate(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, '-m', 'magenta_rnn.music_vae.generate', *args],
                          env=dict(os.environ, PYTHONPATH=REPO), capture_output=True, text=True,
                          timeout=600)


def test_hits_control_plays_the_hits_of_the_input(tmp_path):
    run_dir = _train('groovae_2bar_hits_control_tfds', [drum_pattern()] * 2, tmp_path)
    config = configs.load_config('groovae_2bar_hits_control_tfds', TINY)
    model = trained_model.TrainedModel(config, 2, os.path.join(run_dir, 'train'), seed=0)
    hits = controls.hits_c_input(model.data_converter, drum_pattern())
    assert hits.shape == (32, 9) and hits.sum() == 8 + 16 + 4
    with pytest.raises(ValueError, match='c_input'):
        model.sample(n=2, length=32)
    samples = model.sample_tensors(n=2, length=32, temperature=0.5, c_input=hits)
    assert samples.shape == (2, 32, 27)

    midi = tmp_path / 'drums.mid'
    midi_io.note_sequence_to_midi_file(drum_pattern(), str(midi))
    out = tmp_path / 'out'
    common = ['--config=groovae_2bar_hits_control_tfds', f'--hparams={TINY}',
              f'--run_dir={run_dir}', f'--output_dir={out}']
    result = _generate(*common, '--num_outputs=2')
    assert result.returncode == 1
    assert 'error: --input_midi_1 is required: config groovae_2bar_hits_control_tfds plays ' \
           'the drum hits of an input pattern' in result.stderr
    result = _generate(*common, '--num_outputs=2', f'--input_midi_1={midi}', '--seed=1')
    assert result.returncode == 0, result.stderr[-2000:]
    assert len(os.listdir(out)) == 2


def test_generate_with_chords(tmp_path):
    from test_music_vae_controls import block_chords
    run_dir = _train('cat-mel_2bar_med_chords', [block_chords()] * 2, tmp_path)
    out = tmp_path / 'out'
    common = ['--config=cat-mel_2bar_med_chords', f'--hparams={TINY}', f'--run_dir={run_dir}',
              f'--output_dir={out}', '--num_outputs=2', '--seed=1']
    result = _generate(*common)
    assert result.returncode == 1
    assert 'error: --chords is required: config cat-mel_2bar_med_chords is conditioned on ' \
           'chords' in result.stderr
    result = _generate(*common, '--chords=C Hm')
    assert result.returncode == 1 and "--chords: 'Hm' is not" in result.stderr
    result = _generate(*common, '--chords=C G Am F')
    assert result.returncode == 0, result.stderr[-2000:]
    files = sorted(os.listdir(out))
    assert len(files) == 2
    ns = midi_io.midi_file_to_note_sequence(str(out / files[0]))
    assert ns.total_time <= 4.0 + 1e-6

    result = _generate('--config=cat-mel_2bar_small', f'--run_dir={run_dir}', '--chords=C')
    assert result.returncode == 1
    assert 'error: --chords: config cat-mel_2bar_small is not conditioned on chords' in \
        result.stderr


def test_multiperf_chords_play_one_bar_per_chord(tmp_path):
    from test_music_vae_controls import two_instruments
    run_dir = _train('hier-multiperf_vel_1bar_med_chords', [two_instruments(4)] * 2, tmp_path)
    config = configs.load_config('hier-multiperf_vel_1bar_med_chords', TINY)
    model = trained_model.TrainedModel(config, 2, os.path.join(run_dir, 'train'), seed=0)
    z = np.random.default_rng(0).standard_normal([2, 3]).astype(np.float32)
    sequences = controls.decode_progression(model, z, ['C', 'G', 'Am'], 512, 0.5)
    assert len(sequences) == 2
    assert [(ta.text, ta.time) for ta in sequences[0].text_annotations] == [
        ('C', 0.0), ('G', 2.0), ('Am', 4.0)]
    assert all(n.start_time < 6.0 for n in sequences[0].notes)


@pytest.mark.slow
@pytest.mark.parametrize('config_name,hparams,source', [
    ('hier-mel_16bar', 'batch_size=4,enc_rnn_size=[16],dec_rnn_size=[12,12],z_size=8', 'mel'),
    ('cat-mel_2bar_med_chords', 'batch_size=4,enc_rnn_size=[16],dec_rnn_size=[12],z_size=8',
     'chords'),
    ('hier-multiperf_vel_1bar_med', 'batch_size=4,enc_rnn_size=[16],dec_rnn_size=[12],z_size=8',
     'multiperf')])
def test_trained_model_matches_the_original_on_its_checkpoint(peer, tmp_path, config_name,
                                                              hparams, source):
    """The original's music_vae_train trains the config two steps; our TrainedModel loads
    that checkpoint and gives the original's mu, sigma and argmax decodings (with the
    windows' own chords as controls)."""
    from test_music_vae_controls import block_chords, two_instruments
    if source == 'mel':
        sequences = [builders.melody([60 + (k * 5) % 12 for k in range(4 * 18)],
                                     note_seconds=0.4, hop_seconds=0.5, velocity=90,
                                     ticks_per_quarter=220, total_time=36.0)]
    elif source == 'chords':
        sequences = [block_chords(), block_chords(0.5)]
    else:
        sequences = [two_instruments(6)]
    examples = str(tmp_path / 'examples.tfrecord')
    records.write_records(examples, [s.SerializeToString() for s in sequences] * 2)
    peer.run_peer(['-m', 'magenta.models.music_vae.music_vae_train', f'--config={config_name}',
                   f'--run_dir={tmp_path}/peer', f'--examples_path={examples}', '--num_steps=2',
                   f'--hparams={hparams}', '--cache_dataset=false'],
                  capture_output=True, timeout=900)
    result = subprocess.run(
        [sys.executable, os.path.join(REPO, 'scripts',
                                      'compare_music_vae_trained_model_with_peer.py'),
         f'--config={config_name}', f'--checkpoint={tmp_path}/peer/train',
         f'--examples_path={examples}', '--limit=4', f'--hparams={hparams}'],
        env=dict(os.environ, PYTHONPATH=REPO), capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout + result.stderr[-2000:]
    assert '4/4 sequences identical' in result.stdout, result.stdout
