"""The hier-multiperf training step's math, pinned: loss, per-example losses and every
variable's gradient on a tiny model, against values computed before the step was made
faster (skipping the steps past each track's length, as the original's per-track
dynamic_rnn does, and reading one-hot rows instead of multiplying them). Any change to
how the step runs must leave these equal within float tolerance."""
from __future__ import annotations

import numpy as np
import pytest

tf = pytest.importorskip('tensorflow')

from magenta_rnn.music_vae import configs  # noqa: E402
from magenta_rnn.music_vae import model as model_lib  # noqa: E402
from magenta_rnn.protobuf import music_pb2  # noqa: E402

HPARAMS = 'batch_size=4,enc_rnn_size=[16],dec_rnn_size=[12,12],z_size=8'


def tracks_of_different_lengths(bars: int = 4) -> music_pb2.NoteSequence:
    """A piano part denser every bar, drums in even bars, a bass in odd bars: per bar two
    tracks of different lengths, the other six lone end tokens."""
    ns = music_pb2.NoteSequence(ticks_per_quarter=220)
    ns.tempos.add(qpm=120)
    ns.time_signatures.add(numerator=4, denominator=4)
    for bar in range(bars):
        start = 2.0 * bar
        notes = 2 + 3 * bar  # at most 64 events per track and bar
        for k in range(notes):
            t = start + 2.0 * k / notes
            ns.notes.add(pitch=60 + (3 * k) % 12, start_time=t, end_time=t + 1.0 / notes,
                         velocity=30 + 10 * k % 90, program=0, instrument=0)
        if bar % 2 == 0:
            for k in range(4):
                ns.notes.add(pitch=36 + 2 * (k % 2), start_time=start + 0.5 * k,
                             end_time=start + 0.5 * k + 0.1, velocity=100, is_drum=True,
                             instrument=9)
        else:
            ns.notes.add(pitch=40, start_time=start, end_time=start + 1.5, velocity=70,
                         program=33, instrument=1)
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
    vae = model_lib.build_model(config, converter)
    rng = np.random.default_rng(3)
    for variable in vae.trainable_variables:
        variable.assign(rng.normal(0, 0.2, variable.shape).astype(np.float32))
    tf.random.set_seed(7)
    with tf.GradientTape() as tape:
        results = vae.compute_loss(inputs, outputs, lengths, tf.constant(0, tf.int64),
                                   training=True)
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


LENGTHS = [[12, 19, 1, 1, 1, 1, 1, 1], [26, 7, 1, 1, 1, 1, 1, 1], [40, 19, 1, 1, 1, 1, 1, 1], [54, 7, 1, 1, 1, 1, 1, 1]]
LOSS = 326.4066467285156
EXAMPLE_LOSSES = [232.3279571533203, 246.0220489501953, 414.38287353515625, 412.8937072753906]
# Per variable: (gradient norm, dot product with summary()'s pattern), computed before.
GRADIENTS = {
    'music_vae/hierarchical_decoder/hierarchical_level_0/cell_0/bias:0': (0.2914000197503502, 0.3098531474291133),
    'music_vae/hierarchical_decoder/hierarchical_level_0/cell_0/kernel:0': (0.17647377980448098, -0.016915505803725847),
    'music_vae/hierarchical_decoder/hierarchical_level_0/cell_1/bias:0': (1.0071034841888171, 0.8829273263778838),
    'music_vae/hierarchical_decoder/hierarchical_level_0/cell_1/kernel:0': (0.7433626186541608, -1.3387511572292747),
    'music_vae/hierarchical_decoder/hierarchical_level_0/initial_state/bias:0': (0.6972565634964635, -0.046642052097607245),
    'music_vae/hierarchical_decoder/hierarchical_level_0/initial_state/kernel:0': (1.0020492005139305, -0.8116499359670664),
    'music_vae/decoder/cell_0/bias:0': (3.1515269645713486, 2.3339549164787794),
    'music_vae/decoder/cell_0/kernel:0': (2.1109435440514948, 0.2370216130831181),
    'music_vae/decoder/cell_1/bias:0': (7.400744399339684, -3.5016544617569023),
    'music_vae/decoder/cell_1/kernel:0': (5.654870335675027, -0.15850773733217038),
    'music_vae/decoder/output_projection/bias:0': (12.149631154277845, 15.03015188038872),
    'music_vae/decoder/output_projection/kernel:0': (7.25170485320831, 3.730288623096582),
    'music_vae/decoder/z_to_initial_state/bias:0': (1.6129687831547823, 2.2121306594278174),
    'music_vae/decoder/z_to_initial_state/kernel:0': (0.9683331265760952, 0.06450290746463178),
    'music_vae/encoder/hierarchical_level_0/cell_0_bw/bias:0': (0.08180676799394988, -0.006154409699845272),
    'music_vae/encoder/hierarchical_level_0/cell_0_bw/kernel:0': (0.060690399423263625, -0.024379095798238735),
    'music_vae/encoder/hierarchical_level_0/cell_0_fw/bias:0': (0.0982003277328551, -0.2139027669924899),
    'music_vae/encoder/hierarchical_level_0/cell_0_fw/kernel:0': (0.07392592288333764, 0.036162460656857735),
    'music_vae/encoder/hierarchical_level_1/cell_0_bw/bias:0': (0.13930282902170604, -0.13966633878059456),
    'music_vae/encoder/hierarchical_level_1/cell_0_bw/kernel:0': (0.12328211735126467, 0.19884314010765144),
    'music_vae/encoder/hierarchical_level_1/cell_0_fw/bias:0': (0.290716706094234, -0.31789086317520254),
    'music_vae/encoder/hierarchical_level_1/cell_0_fw/kernel:0': (0.19787252427149296, -0.13821719058919862),
    'music_vae/mu/bias:0': (0.32025759275362736, -0.12790032556018072),
    'music_vae/mu/kernel:0': (0.28925362660141596, 0.0552424545547564),
    'music_vae/sigma/bias:0': (0.07413199683800789, -0.08275903683563998),
    'music_vae/sigma/kernel:0': (0.06660495698391546, -0.03547255026191163),
}


def test_multiperf_loss_and_gradients_are_as_pinned():
    lengths, results, variables, grads = loss_and_gradients('hier-multiperf_vel_1bar_med')
    assert lengths.tolist() == LENGTHS
    np.testing.assert_allclose(float(results['loss']), LOSS, rtol=1e-5)
    np.testing.assert_allclose(results['losses/r_loss'].numpy(), EXAMPLE_LOSSES, rtol=1e-5)
    values = summary(variables, grads)
    assert sorted(values) == sorted(GRADIENTS)
    for name, (norm, dot) in GRADIENTS.items():
        np.testing.assert_allclose(values[name][0], norm, rtol=1e-5, err_msg=name)
        np.testing.assert_allclose(values[name][1], dot, atol=1e-5 * norm, err_msg=name)
