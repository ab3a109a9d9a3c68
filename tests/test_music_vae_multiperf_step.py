"""The hier-multiperf training step's math, pinned: loss, per-example losses and every
variable's gradient on a tiny model, against values computed before the step was made
faster (skipping the steps past each track's length, as the original's per-track
dynamic_rnn does, and reading one-hot rows instead of multiplying them). Any change to
how the step runs must leave these equal within float tolerance."""
from __future__ import annotations

import numpy as np
import pytest

import builders

tf = pytest.importorskip('tensorflow')

from magenta_rnn.music_vae import configs, length_groups  # noqa: E402
from magenta_rnn.music_vae import model as model_lib  # noqa: E402
from magenta_rnn.protobuf import music_pb2  # noqa: E402

HPARAMS = 'batch_size=4,enc_rnn_size=[16],dec_rnn_size=[12,12],z_size=8'


def tracks_of_different_lengths(bars: int = 4) -> music_pb2.NoteSequence:
    """A piano part denser every bar, drums in even bars, a bass in odd bars: per bar two
    tracks of different lengths, the other six lone end tokens."""
    ns = builders.note_sequence(ticks_per_quarter=220)
    for bar in range(bars):
        start = 2.0 * bar
        notes = 2 + 3 * bar  # at most 64 events per track and bar
        builders.add_notes(ns, 0, [(60 + (3 * k) % 12, 30 + 10 * k % 90, start + 2.0 * k / notes,
                                    start + 2.0 * k / notes + 1.0 / notes) for k in range(notes)])
        if bar % 2 == 0:
            builders.add_notes(ns, 9, [(36 + 2 * (k % 2), 100, start + 0.5 * k,
                                        start + 0.5 * k + 0.1) for k in range(4)], is_drum=True)
        else:
            builders.add_notes(ns, 1, [(40, 70, start, start + 1.5)], program=33)
    ns.total_time = 2.0 * bars
    return ns


def loss_and_gradients(config_name: str):
    config = configs.load_config(config_name, HPARAMS)
    converter = config.make_data_converter()
    converter.set_mode('eval')
    tensors = converter.to_tensors(tracks_of_different_lengths())
    batch = config.hparams.batch_size
    inputs = tf.constant(np.stack(tensors.inputs[:batch]), tf.float32)
    outputs = tf.constant(np.stack(tensors.outputs[:batch]), tf.float32)
    lengths = tf.constant(np.stack(tensors.lengths[:batch]), tf.int32)
    controls = (tf.constant(np.stack(tensors.controls[:batch]), tf.float32)
                if converter.control_depth else None)
    vae = model_lib.build_model(config, converter)
    rng = np.random.default_rng(3)
    for variable in vae.trainable_variables:
        variable.assign(rng.normal(0, 0.2, variable.shape).astype(np.float32))
    tf.random.set_seed(7)
    with tf.GradientTape() as tape:
        results = vae.compute_loss(inputs, outputs, lengths, tf.constant(0, tf.int64),
                                   controls, training=True)
    grads = tape.gradient(results['loss'], vae.trainable_variables)
    return lengths.numpy(), results, vae.trainable_variables, grads


def summary(variables, grads) -> dict[str, tuple[float, float]]:
    """Per variable: the gradient's norm and its dot product with a fixed random pattern."""
    rng = np.random.default_rng(11)
    values = {}
    for variable, grad in zip(variables, grads):
        g = tf.convert_to_tensor(grad).numpy().astype(np.float64)
        values[variable.name] = (float(np.linalg.norm(g)),
                                 float(np.sum(g * rng.standard_normal(g.shape))))
    return values


# Computed by the step as it was (every track run for all 64 steps, one-hot inputs
# multiplied): lengths, loss, per-example losses and per variable (gradient norm, dot
# product with summary()'s pattern).
PINNED = {
    'hier-multiperf_vel_1bar_med': dict(
        lengths=[[12, 19, 1, 1, 1, 1, 1, 1], [26, 7, 1, 1, 1, 1, 1, 1],
                 [40, 19, 1, 1, 1, 1, 1, 1], [54, 7, 1, 1, 1, 1, 1, 1]],
        loss=326.406647,
        example_losses=[232.327957, 246.022049, 414.382874, 412.893707],
        gradients={
            'music_vae/hierarchical_decoder/hierarchical_level_0/cell_0/bias:0':
                (0.29140002, 0.309853147),
            'music_vae/hierarchical_decoder/hierarchical_level_0/cell_0/kernel:0':
                (0.17647378, -0.0169155058),
            'music_vae/hierarchical_decoder/hierarchical_level_0/cell_1/bias:0':
                (1.00710348, 0.882927326),
            'music_vae/hierarchical_decoder/hierarchical_level_0/cell_1/kernel:0':
                (0.743362619, -1.33875116),
            'music_vae/hierarchical_decoder/hierarchical_level_0/initial_state/bias:0':
                (0.697256563, -0.0466420521),
            'music_vae/hierarchical_decoder/hierarchical_level_0/initial_state/kernel:0':
                (1.0020492, -0.811649936),
            'music_vae/decoder/cell_0/bias:0':
                (3.15152696, 2.33395492),
            'music_vae/decoder/cell_0/kernel:0':
                (2.11094354, 0.237021613),
            'music_vae/decoder/cell_1/bias:0':
                (7.4007444, -3.50165446),
            'music_vae/decoder/cell_1/kernel:0':
                (5.65487034, -0.158507737),
            'music_vae/decoder/output_projection/bias:0':
                (12.1496312, 15.0301519),
            'music_vae/decoder/output_projection/kernel:0':
                (7.25170485, 3.73028862),
            'music_vae/decoder/z_to_initial_state/bias:0':
                (1.61296878, 2.21213066),
            'music_vae/decoder/z_to_initial_state/kernel:0':
                (0.968333127, 0.0645029075),
            'music_vae/encoder/hierarchical_level_0/cell_0_bw/bias:0':
                (0.081806768, -0.0061544097),
            'music_vae/encoder/hierarchical_level_0/cell_0_bw/kernel:0':
                (0.0606903994, -0.0243790958),
            'music_vae/encoder/hierarchical_level_0/cell_0_fw/bias:0':
                (0.0982003277, -0.213902767),
            'music_vae/encoder/hierarchical_level_0/cell_0_fw/kernel:0':
                (0.0739259229, 0.0361624607),
            'music_vae/encoder/hierarchical_level_1/cell_0_bw/bias:0':
                (0.139302829, -0.139666339),
            'music_vae/encoder/hierarchical_level_1/cell_0_bw/kernel:0':
                (0.123282117, 0.19884314),
            'music_vae/encoder/hierarchical_level_1/cell_0_fw/bias:0':
                (0.290716706, -0.317890863),
            'music_vae/encoder/hierarchical_level_1/cell_0_fw/kernel:0':
                (0.197872524, -0.138217191),
            'music_vae/mu/bias:0':
                (0.320257593, -0.127900326),
            'music_vae/mu/kernel:0':
                (0.289253627, 0.0552424546),
            'music_vae/sigma/bias:0':
                (0.0741319968, -0.0827590368),
            'music_vae/sigma/kernel:0':
                (0.066604957, -0.0354725503),
        }),
    'hier-multiperf_vel_1bar_med_chords': dict(
        lengths=[[12, 19, 1, 1, 1, 1, 1, 1], [26, 7, 1, 1, 1, 1, 1, 1],
                 [40, 19, 1, 1, 1, 1, 1, 1], [54, 7, 1, 1, 1, 1, 1, 1]],
        loss=322.847137,
        example_losses=[231.430771, 240.999374, 403.582886, 415.375519],
        gradients={
            'music_vae/hierarchical_decoder/hierarchical_level_0/cell_0/bias:0':
                (0.393702777, -0.621241123),
            'music_vae/hierarchical_decoder/hierarchical_level_0/cell_0/kernel:0':
                (0.215243101, 0.0177599519),
            'music_vae/hierarchical_decoder/hierarchical_level_0/cell_1/bias:0':
                (1.1177847, 0.737599218),
            'music_vae/hierarchical_decoder/hierarchical_level_0/cell_1/kernel:0':
                (0.85112922, -0.55794559),
            'music_vae/hierarchical_decoder/hierarchical_level_0/initial_state/bias:0':
                (0.823790561, -0.911411544),
            'music_vae/hierarchical_decoder/hierarchical_level_0/initial_state/kernel:0':
                (1.14818095, 0.778199174),
            'music_vae/decoder/cell_0/bias:0':
                (2.98755245, 3.15482788),
            'music_vae/decoder/cell_0/kernel:0':
                (2.57831821, -1.83700465),
            'music_vae/decoder/cell_1/bias:0':
                (8.35162983, -27.1065862),
            'music_vae/decoder/cell_1/kernel:0':
                (6.07450631, 2.5234965),
            'music_vae/decoder/output_projection/bias:0':
                (12.1252904, -18.2920188),
            'music_vae/decoder/output_projection/kernel:0':
                (6.3172946, -0.451527707),
            'music_vae/decoder/z_to_initial_state/bias:0':
                (1.89872691, 3.98837344),
            'music_vae/decoder/z_to_initial_state/kernel:0':
                (1.12837571, -0.184271771),
            'music_vae/encoder/hierarchical_level_0/cell_0_bw/bias:0':
                (0.155864437, -0.00526269797),
            'music_vae/encoder/hierarchical_level_0/cell_0_bw/kernel:0':
                (0.145026907, 0.292570966),
            'music_vae/encoder/hierarchical_level_0/cell_0_fw/bias:0':
                (0.214271862, 0.136765981),
            'music_vae/encoder/hierarchical_level_0/cell_0_fw/kernel:0':
                (0.198137656, 0.0391397585),
            'music_vae/encoder/hierarchical_level_1/cell_0_bw/bias:0':
                (0.424530728, 0.0542713632),
            'music_vae/encoder/hierarchical_level_1/cell_0_bw/kernel:0':
                (0.332580046, 0.00781345255),
            'music_vae/encoder/hierarchical_level_1/cell_0_fw/bias:0':
                (0.251259488, 0.361180588),
            'music_vae/encoder/hierarchical_level_1/cell_0_fw/kernel:0':
                (0.151975316, -0.0863924235),
            'music_vae/mu/bias:0':
                (0.305089061, 0.328924763),
            'music_vae/mu/kernel:0':
                (0.341687591, -0.266081305),
            'music_vae/sigma/bias:0':
                (0.0510099482, 0.0256278782),
            'music_vae/sigma/kernel:0':
                (0.0572931732, -0.00864404727),
        }),
}


@pytest.mark.parametrize('config_name', sorted(PINNED))
@pytest.mark.parametrize('rows_per_group', [None, 8])
def test_multiperf_loss_and_gradients_are_as_pinned(config_name, rows_per_group, monkeypatch):
    if rows_per_group:  # 32 tracks in 4 groups by length (as 512 tracks in 8 at batch 64)
        monkeypatch.setattr(length_groups, 'ROWS_PER_GROUP', rows_per_group)
    pinned = PINNED[config_name]
    lengths, results, variables, grads = loss_and_gradients(config_name)
    assert lengths.tolist() == pinned['lengths']
    np.testing.assert_allclose(float(results['loss']), pinned['loss'], rtol=1e-5)
    np.testing.assert_allclose(results['losses/r_loss'].numpy(), pinned['example_losses'],
                               rtol=1e-5)
    values = summary(variables, grads)
    assert sorted(values) == sorted(pinned['gradients'])
    for name, (norm, dot) in pinned['gradients'].items():
        np.testing.assert_allclose(values[name][0], norm, rtol=1e-5, err_msg=name)
        np.testing.assert_allclose(values[name][1], dot, atol=1e-5 * norm, err_msg=name)
