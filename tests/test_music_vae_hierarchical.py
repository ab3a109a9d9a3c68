"""Hierarchical, split multi-output and multi-output decoders (REFERENCE.md "MusicVAE architecture")
with tiny sizes.

Level lengths [2, 4] make 8-step sequences of 2 segments; the conductor is the
decoder LSTM stack (dec_rnn_size) and its outputs condition one 4-step segment each.
"""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest

import builders

tf = pytest.importorskip('tensorflow')

from magenta_rnn import records  # noqa: E402
from magenta_rnn.hparams import HParams  # noqa: E402
from magenta_rnn.music_vae import configs, hierarchical, lstm, model as model_lib  # noqa: E402
from magenta_rnn.music_vae import train, trained_model  # noqa: E402
from magenta_rnn.protobuf import music_pb2  # noqa: E402

HIER_MEL = {'type': 'hierarchical', 'level_lengths': [2, 4], 'disable_autoregression': True,
            'core': {'type': 'categorical_lstm'}}
HIER_TRIO = {'type': 'hierarchical', 'level_lengths': [2, 4], 'disable_autoregression': True,
             'core': {'type': 'split_multi_out', 'output_depths': [3, 3, 4],
                      'core_decoders': [{'type': 'categorical_lstm'}] * 3}}


def hparams(**kwargs) -> HParams:
    values = dict(configs.DEFAULT_HPARAMS, max_seq_len=8, z_size=3, enc_rnn_size=[5],
                  dec_rnn_size=[6, 5], batch_size=2)
    values.update(kwargs)
    return HParams(**values)


def one_hot_rows(rng, batch: int, steps: int, depths) -> np.ndarray:
    parts = [np.eye(d, dtype=np.float32)[rng.integers(0, d, [batch, steps])] for d in depths]
    return np.concatenate(parts, axis=-1)


def shift(x: np.ndarray) -> np.ndarray:
    return np.pad(x[:, :-1], [(0, 0), (1, 0), (0, 0)])


def test_build_checks_level_lengths_and_autoregression():
    with pytest.raises(ValueError, match=r'product of level_lengths \[2, 4\] must equal '
                                         r'max_seq_len \(16\)'):
        hierarchical.build_decoder(HIER_MEL, hparams(max_seq_len=16), 5)
    with pytest.raises(NotImplementedError, match='disable_autoregression=True'):
        hierarchical.build_decoder(dict(HIER_MEL, disable_autoregression=False), hparams(), 5)
    with pytest.raises(ValueError, match=r'output_depths \[3, 3, 4\] do not add up'):
        hierarchical.build_decoder(HIER_TRIO, hparams(), 11)


def test_segments_are_the_core_decoder_on_conductor_embeddings():
    tf.random.set_seed(0)
    decoder = hierarchical.build_decoder(HIER_MEL, hparams(), 5)
    rng = np.random.default_rng(0)
    x = one_hot_rows(rng, 2, 8, [5])
    z = tf.constant(rng.standard_normal([2, 3]), tf.float32)
    logits = decoder.logits(shift(x), z, tf.constant([8, 8]))
    assert logits.shape == (2, 8, 5)
    # Conductor: 2 outputs per sequence, the width of the last decoder layer.
    embeddings = decoder.segment_embeddings(z)
    assert embeddings.shape == (4, 5)
    core = decoder.core_decoder
    assert (core.z_size, [c.kernel.shape[0] for c in core.cells]) == (5, [5 + 5 + 6, 6 + 5])
    for b in range(2):
        for s in range(2):
            # Segment s is teacher-forced on its slice of the shifted targets: its first
            # input is the last target of the previous segment.
            seg_input = shift(x)[b:b + 1, 4 * s:4 * s + 4]
            expected = core.logits(seg_input, embeddings[2 * b + s:2 * b + s + 1],
                                   tf.constant([4]))
            np.testing.assert_allclose(logits[b:b + 1, 4 * s:4 * s + 4], expected, atol=1e-6)


def test_conductor_runs_on_zero_inputs_from_tanh_dense_z():
    decoder = hierarchical.build_decoder(HIER_MEL, hparams(), 5)
    conductor = decoder.conductors[0]
    assert conductor.cells[0].kernel.shape == (1 + 6, 24)  # input width 1 (a zero)
    z = tf.constant([[0.5, -1.0, 2.0]])
    state = tf.tanh(z @ conductor.initial_state.kernel + conductor.initial_state.bias)
    c0, h0, c1, h1 = tf.split(state, [6, 6, 5, 5], axis=-1)
    outputs = []
    for _ in range(2):
        x, (c0, h0) = conductor.cells[0](tf.zeros([1, 1]), (c0, h0))
        x, (c1, h1) = conductor.cells[1](x, (c1, h1))
        outputs.append(x)
    np.testing.assert_allclose(decoder.segment_embeddings(z), tf.concat(outputs, 0), atol=1e-6)


def test_sequence_length_must_be_max_seq_len():
    decoder = hierarchical.build_decoder(HIER_MEL, hparams(), 5)
    with pytest.raises(ValueError, match=r'must be max_seq_len = 8 steps'):
        decoder.logits(tf.zeros([2, 6, 5]), tf.zeros([2, 3]), tf.constant([6, 6]))
    with pytest.raises(ValueError, match=r'must be max_seq_len = 8 steps'):
        decoder.sample(2, 16, tf.zeros([2, 3]))
    assert decoder.segment_lengths(tf.constant([8, 0])).numpy().tolist() == [[4, 4], [0, 0]]
    with pytest.raises(tf.errors.InvalidArgumentError):
        decoder.segment_lengths(tf.constant([8, 5]))


class CountingCore(tf.Module):
    """A stand-in core decoder: every step is the class after its start input's class."""
    output_depth = 3
    z_size = 5

    def sample(self, n, max_length, z, temperature=1.0, controls=None, start_inputs=None,
               end_token=None):
        following = (tf.argmax(start_inputs, -1) + 1) % self.output_depth
        return tf.one_hot(tf.tile(following[:, tf.newaxis], [1, max_length]), self.output_depth)


def test_sampling_continues_each_segment_from_the_previous_last_sample():
    decoder = hierarchical.HierarchicalLstmDecoder(CountingCore(), [3, 2], z_size=3,
                                                   layer_sizes=[6, 5])
    samples = decoder.sample(2, 6, tf.zeros([2, 3]))
    assert samples.shape == (2, 6, 3)
    # The first segment starts from zeros (class 0), each later one from the last sample.
    assert np.argmax(samples, -1).tolist() == [[1, 1, 2, 2, 0, 0]] * 2
    start = tf.one_hot([2, 0], 3)
    assert np.argmax(decoder.sample(2, 6, tf.zeros([2, 3]), start_inputs=start), -1).tolist() \
        == [[0, 0, 1, 1, 2, 2], [1, 1, 2, 2, 0, 0]]


def test_trio_sampling_is_one_hot_per_part():
    decoder = hierarchical.build_decoder(HIER_TRIO, hparams(), 10)
    samples = decoder.sample(2, 8, tf.random.normal([2, 3]), temperature=0.5).numpy()
    assert samples.shape == (2, 8, 10)
    for part in np.split(samples, [3, 6], axis=-1):
        assert (part.sum(axis=-1) == 1).all()


def test_split_and_multi_out_losses_add_the_parts():
    x = np.array([[[1, 0, 0, 0, 1, 0, 0, 0, 0, 1]]], np.float32)
    logits = tf.constant([[[2.0, 0, 0, 0, 0, 0, 0, 0, 0, 3]]])
    expected = -(math.log(math.exp(2) / (math.exp(2) + 2)) + math.log(1 / 3)
                 + math.log(math.exp(3) / (math.exp(3) + 3)))
    for decoder in (hierarchical.build_decoder(HIER_TRIO, hparams(), 10),
                    hierarchical.build_decoder(
                        {'type': 'multi_out_categorical_lstm', 'output_depths': [3, 3, 4]},
                        hparams(), 10)):
        loss, correct = hierarchical.step_losses(decoder, x, logits)
        np.testing.assert_allclose(loss, [[expected]], rtol=1e-6)
        # Parts 1 and 3 right, part 2 a tie resolved to class 0 (wrong): accuracy 2/3.
        np.testing.assert_allclose(correct, [[2 / 3]], rtol=1e-6)
    multi = hierarchical.build_decoder(
        {'type': 'multi_out_categorical_lstm', 'output_depths': [3, 3, 4]}, hparams(), 10)
    sample = multi.sample(4, 3, tf.zeros([4, 3])).numpy()
    for part in np.split(sample, [3, 6], axis=-1):
        assert (part.sum(axis=-1) == 1).all()


@pytest.mark.parametrize('spec,depths', [(HIER_MEL, [5]), (HIER_TRIO, [3, 3, 4])])
def test_model_loss_with_zero_output_projections_is_uniform(spec, depths):
    vae = model_lib.MusicVAE(hparams(), sum(depths), sum(depths), decoder=spec['type'],
                             decoder_spec=spec)
    for name, variable in trained_model.tf1_variable_map(vae).items():
        if 'output_projection' in name:
            variable.assign(tf.zeros_like(variable))
    x = one_hot_rows(np.random.default_rng(1), 2, 8, depths)
    results = vae.compute_loss(x, x, tf.constant([8, 0]), tf.constant(0, tf.int64))
    per_step = sum(math.log(d) for d in depths)
    np.testing.assert_allclose(results['losses/r_loss'], [8 * per_step, 0.0], rtol=1e-5)
    assert float(results['valid_steps']) == 8


def test_original_variable_names_of_hierdec_trio():
    config = configs.load_config('hierdec-trio_16bar', 'enc_rnn_size=[8],dec_rnn_size=[6,5],'
                                 'z_size=4')
    vae = model_lib.build_model(config, config.make_data_converter())
    shapes = {name: v.shape.as_list() for name, v in trained_model.tf1_variable_map(vae).items()}
    assert len(shapes) == len(vae.trainable_variables) == 38
    level = 'decoder/hierarchical_level_0'
    assert {k: v for k, v in shapes.items() if k.startswith(level)} == {
        f'{level}/initial_state/kernel': [4, 22], f'{level}/initial_state/bias': [22],
        f'{level}/cell_0/lstm_cell/kernel': [7, 24], f'{level}/cell_0/lstm_cell/bias': [24],
        f'{level}/cell_1/lstm_cell/kernel': [11, 20], f'{level}/cell_1/lstm_cell/bias': [20]}
    core = 'core_decoder/core_decoder_2/decoder'
    assert {k: v for k, v in shapes.items() if k.startswith(core)} == {
        f'{core}/z_to_initial_state/kernel': [5, 22], f'{core}/z_to_initial_state/bias': [22],
        f'{core}/multi_rnn_cell/cell_0/lstm_cell/kernel': [512 + 5 + 6, 24],
        f'{core}/multi_rnn_cell/cell_0/lstm_cell/bias': [24],
        f'{core}/multi_rnn_cell/cell_1/lstm_cell/kernel': [11, 20],
        f'{core}/multi_rnn_cell/cell_1/lstm_cell/bias': [20],
        f'{core}/output_projection/kernel': [5, 512], f'{core}/output_projection/bias': [512]}
    assert shapes['core_decoder/core_decoder_0/decoder/output_projection/kernel'] == [5, 90]
    assert shapes['encoder/cell_0/bidirectional_rnn/fw/multi_rnn_cell/cell_0/lstm_cell/kernel'] \
        == [692 + 8, 32]


def test_name_based_hierdec_checkpoint_loads(tmp_path):
    tiny = 'enc_rnn_size=[8],dec_rnn_size=[6,5],z_size=4'
    config = configs.load_config('hierdec-mel_16bar', tiny)
    source = model_lib.build_model(config, config.make_data_converter())
    names = trained_model.tf1_variable_map(source)
    for variable in names.values():
        variable.assign(tf.random.normal(variable.shape, stddev=0.3))
    prefix = str(tmp_path / 'model.ckpt-1')
    tf.raw_ops.SaveV2(prefix=prefix, tensor_names=list(names),
                      shape_and_slices=[''] * len(names),
                      tensors=[v.read_value() for v in names.values()])
    loaded = trained_model.TrainedModel(config, 2, prefix)
    loaded_names = trained_model.tf1_variable_map(loaded.model)
    for name, variable in names.items():
        np.testing.assert_array_equal(loaded_names[name].numpy(), variable.numpy(), err_msg=name)
    assert isinstance(loaded.model.decoder.core_decoder, lstm.CategoricalLstmDecoder)


def melody_sequence(base_pitch: int, bars: int = 4) -> music_pb2.NoteSequence:
    """`bars` bars of 4/4 at 120 qpm, a new pitch every quarter."""
    return builders.scale_run(base_pitch, 4 * bars, velocity=90)


def test_train_sample_and_interpolate_a_small_hierarchical_config(tmp_path):
    # hierdec-mel_16bar shrunk to 2 bars: a conductor of 2 steps over 16-step segments.
    raw = json.loads((configs.CONFIGS_DIR / 'hierdec-mel_16bar.json').read_text())
    raw['id'] = 'hierdec-mel_2bar_test'
    raw['decoder']['level_lengths'] = [2, 16]
    raw['hparams'].update(max_seq_len=32, batch_size=4, enc_rnn_size=[8], dec_rnn_size=[8, 6],
                          z_size=4)
    raw['data_converter'].update(slice_bars=2)
    config_path = tmp_path / 'hierdec-mel_2bar_test.json'
    config_path.write_text(json.dumps(raw))
    examples = str(tmp_path / 'melodies.tfrecord')
    records.write_records(examples, [melody_sequence(60 + k).SerializeToString()
                                     for k in range(3)])
    config = configs.load_config(str(config_path))
    scalars = train.train(config, str(tmp_path / 'run'), [examples], num_steps=2,
                          checkpoints_to_keep=1, keep_checkpoint_every_n_hours=1,
                          log_every_n_steps=1, seed=1)
    assert scalars['losses/r_loss'] > 0 and 0 <= scalars['metrics/accuracy'] <= 1

    model = trained_model.TrainedModel(config, 2, str(tmp_path / 'run' / 'train'), seed=3)
    samples = model.sample(n=3, length=32, temperature=0.5)
    assert len(samples) == 3
    assert all(ns.total_time <= 4.0 + 1e-6 and ns.notes for ns in samples)
    with pytest.raises(ValueError, match='must be max_seq_len = 32 steps'):
        model.sample(n=1, length=16)
    a, b = melody_sequence(60, 2), melody_sequence(67, 2)
    path = model.interpolate(a, b, num_steps=3, length=32, temperature=1e-6)
    assert len(path) == 3
    _, mu, _ = model.encode([a, b])
    np.testing.assert_allclose(model.decode_to_tensors(mu[:1], 32, 1e-6),
                               model.decode_to_tensors(mu[:1], 32, 1e-6))
    logliks = model.reconstruction_loglik([a])
    assert logliks[0].shape == (32,) and (logliks[0] <= 0).all()


def _run_module(module: str, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(configs.CONFIGS_DIR.parent.parent),
               TF_CPP_MIN_LOG_LEVEL='2')
    return subprocess.run([sys.executable, '-m', module, *args], env=env, capture_output=True,
                          text=True, timeout=1200)


@pytest.mark.slow
def test_hierdec_trio_trains_on_trio_web_and_samples_three_instruments(shared_data, tmp_path):
    """music_vae_train and music_vae_generate end to end on 20 real multi-instrument songs."""
    from magenta_rnn.music import midi_io
    midis = sorted((shared_data / 'trio_web').glob('*.mid'))[:20]
    examples = str(tmp_path / 'trio.tfrecord')
    records.write_records(examples, [midi_io.midi_file_to_note_sequence(str(p))
                                     .SerializeToString() for p in midis])
    tiny = 'batch_size=4,enc_rnn_size=[32],dec_rnn_size=[32],z_size=8'
    run_dir = str(tmp_path / 'run')
    result = _run_module('magenta_rnn.music_vae.train', '--config=hierdec-trio_16bar',
                         f'--hparams={tiny}', f'--examples_path={examples}',
                         f'--run_dir={run_dir}', '--num_steps=3', '--log_every_n_steps=1',
                         '--seed=1')
    assert result.returncode == 0, result.stderr[-2000:]
    assert 'global_step = 3, loss = ' in result.stderr
    out = tmp_path / 'out'
    result = _run_module('magenta_rnn.music_vae.generate', '--config=hierdec-trio_16bar',
                         f'--hparams={tiny}', f'--run_dir={run_dir}', '--mode=sample',
                         '--num_outputs=2', f'--output_dir={out}', '--seed=2')
    assert result.returncode == 0, result.stderr[-2000:]
    files = sorted(out.glob('hierdec-trio_16bar_sample_*.mid'))
    assert len(files) == 2
    for path in files:
        ns = midi_io.midi_file_to_note_sequence(str(path))
        parts = {(n.program, n.is_drum) for n in ns.notes}
        assert {(0, False), (33, False)} <= parts and any(d for _, d in parts), parts
        assert ns.total_time <= 32.0 + 1e-6   # 16 bars at 120 qpm
