"""MusicVAE TF2 model (REFERENCE.md "MusicVAE architecture") with a tiny network: loss pieces,
schedules, clipping."""
from __future__ import annotations

import math

import numpy as np
import pytest

tf = pytest.importorskip('tensorflow')

from magenta_rnn.hparams import HParams  # noqa: E402
from magenta_rnn.music_vae import configs, lstm, model as model_lib  # noqa: E402

DEPTH = 6


def tiny_hparams(**overrides) -> HParams:
    hp = configs.load_config('cat-mel_2bar_small').hparams.copy()
    hp.update(dict(batch_size=4, max_seq_len=8, z_size=3, enc_rnn_size=[5],
                   dec_rnn_size=[4, 4]))
    hp.update(overrides)
    return hp


def one_hot_batch(seed: int = 0, batch: int = 4, steps: int = 8) -> np.ndarray:
    indices = np.random.default_rng(seed).integers(0, DEPTH, size=(batch, steps))
    return np.eye(DEPTH, dtype=np.float32)[indices]


def test_variables_keep_the_original_layout():
    model = model_lib.MusicVAE(tiny_hparams(), DEPTH, DEPTH)
    shapes = {v.name.split(':')[0]: tuple(v.shape) for v in model.trainable_variables}
    assert shapes == {
        # LSTMBlockCell: kernel [input + units, 4 units], gates [i, c, f, o].
        'music_vae/encoder/cell_0_fw/kernel': (DEPTH + 5, 20),
        'music_vae/encoder/cell_0_fw/bias': (20,),
        'music_vae/encoder/cell_0_bw/kernel': (DEPTH + 5, 20),
        'music_vae/encoder/cell_0_bw/bias': (20,),
        'music_vae/mu/kernel': (10, 3), 'music_vae/mu/bias': (3,),
        'music_vae/sigma/kernel': (10, 3), 'music_vae/sigma/bias': (3,),
        # Decoder input = previous output (6) + z (3).
        'music_vae/decoder/cell_0/kernel': (DEPTH + 3 + 4, 16),
        'music_vae/decoder/cell_0/bias': (16,),
        'music_vae/decoder/cell_1/kernel': (8, 16),
        'music_vae/decoder/cell_1/bias': (16,),
        # tanh(Dense(z)) split into (c0, h0, c1, h1).
        'music_vae/decoder/z_to_initial_state/kernel': (3, 16),
        'music_vae/decoder/z_to_initial_state/bias': (16,),
        'music_vae/decoder/output_projection/kernel': (4, DEPTH),
        'music_vae/decoder/output_projection/bias': (DEPTH,),
    }


def test_lstm_cell_matches_block_cell_equations():
    cell = lstm.LstmCell(2, 1)
    cell.kernel.assign(np.arange(12, dtype=np.float32).reshape(3, 4) / 10.0)
    cell.bias.assign([0.1, -0.2, 0.3, 0.0])
    x = np.array([[1.0, -1.0]], np.float32)
    c0, h0 = np.array([[0.5]], np.float32), np.array([[-0.5]], np.float32)
    h, (c, _) = cell(x, (c0, h0))
    gates = np.concatenate([x, h0], 1) @ cell.kernel.numpy() + cell.bias.numpy()
    i, j, f, o = gates[0]
    sig = lambda v: 1 / (1 + math.exp(-v))  # noqa: E731
    expected_c = 0.5 * sig(f + 1.0) + sig(i) * math.tanh(j)
    assert float(c[0, 0]) == pytest.approx(expected_c, rel=1e-5)
    assert float(h[0, 0]) == pytest.approx(math.tanh(expected_c) * sig(o), rel=1e-5)


def test_encoder_ignores_steps_past_each_length():
    model = model_lib.MusicVAE(tiny_hparams(), DEPTH, DEPTH)
    x = one_hot_batch()
    lengths = np.array([8, 5, 3, 1], np.int32)
    changed = x.copy()
    for b, length in enumerate(lengths):
        changed[b, length:] = np.eye(DEPTH)[(b + 1) % DEPTH]
    mu1, sigma1 = model.encode(x, lengths)
    mu2, sigma2 = model.encode(changed, lengths)
    np.testing.assert_allclose(mu1.numpy(), mu2.numpy(), atol=1e-6)
    np.testing.assert_allclose(sigma1.numpy(), sigma2.numpy(), atol=1e-6)
    assert (sigma1.numpy() > 0).all()


def plain_lstm(cell, inputs, lengths):
    """The reference encoder layer: dynamic_rnn semantics by autodiff of a tf.scan, outputs
    zero and the state frozen past each length. Returns (outputs [batch, time, units],
    final (c, h))."""
    num_steps = tf.shape(inputs)[1]
    state = cell.zero_state(tf.shape(inputs)[0])
    projected = lstm.time_major(cell.project_inputs(inputs))
    mask = lstm.time_major(tf.sequence_mask(lengths, num_steps, dtype=tf.bool)[:, :, tf.newaxis])

    def step(carry, elems):
        c, h, _ = carry
        projected_t, valid = elems
        output, (new_c, new_h) = cell.step(projected_t, (c, h))
        return (tf.where(valid, new_c, c), tf.where(valid, new_h, h),
                tf.where(valid, output, tf.zeros_like(output)))

    cs, hs, outputs = tf.scan(step, (projected, mask),
                              initializer=(state[0], state[1], tf.zeros_like(state[1])))
    return lstm.batch_major(outputs), (cs[-1], hs[-1])


def padded_one_hot_batch(seed: int = 0) -> tuple[tf.Tensor, tf.Tensor]:
    """One-hot steps, all zero past each length (as the converters pad)."""
    lengths = np.array([8, 5, 3, 1], np.int32)
    x = one_hot_batch(seed) * (np.arange(8)[None, :, None] < lengths[:, None, None])
    return tf.constant(x), tf.constant(lengths)


def test_fused_bidirectional_loop_equals_two_separate_loops():
    fw, bw = lstm.LstmCell(DEPTH, 5), lstm.LstmCell(DEPTH, 5)
    for cell in (fw, bw):
        cell.bias.assign(tf.random.normal([20]))
    x = tf.constant(one_hot_batch())
    lengths = tf.constant([8, 5, 3, 1])
    outputs, final_h = lstm.run_bidirectional_lstm(fw, bw, lstm.time_major(x), lengths)
    reversed_x = tf.reverse_sequence(x, lengths, seq_axis=1, batch_axis=0)
    fw_outputs, (_, fw_h) = plain_lstm(fw, x, lengths)
    bw_outputs, (_, bw_h) = plain_lstm(bw, reversed_x, lengths)
    bw_outputs = tf.reverse_sequence(bw_outputs, lengths, seq_axis=1, batch_axis=0)
    np.testing.assert_allclose(lstm.batch_major(outputs[0]).numpy(), fw_outputs.numpy(),
                               atol=1e-6)
    np.testing.assert_allclose(lstm.batch_major(outputs[1]).numpy(), bw_outputs.numpy(),
                               atol=1e-6)
    np.testing.assert_allclose(final_h[0].numpy(), fw_h.numpy(), atol=1e-6)
    np.testing.assert_allclose(final_h[1].numpy(), bw_h.numpy(), atol=1e-6)
    # Past its length an output is zero and the final state is the state at length - 1.
    assert np.all(fw_outputs.numpy()[2, 3:] == 0)
    np.testing.assert_allclose(fw_h.numpy()[2], fw_outputs.numpy()[2, 2], atol=1e-6)


def _reference_bidirectional(fw, bw, x_time, lengths, one_hot_width=0):
    """The plainest encoder loop: one plain_lstm per direction (any faster loop must match it)."""
    del one_hot_width  # the plain loop multiplies every input column
    x = lstm.batch_major(x_time)
    fw_outputs, (_, fw_h) = plain_lstm(fw, x, lengths)
    bw_outputs, (_, bw_h) = plain_lstm(
        bw, tf.reverse_sequence(x, lengths, seq_axis=1, batch_axis=0), lengths)
    bw_outputs = tf.reverse_sequence(bw_outputs, lengths, seq_axis=1, batch_axis=0)
    return (tf.stack([lstm.time_major(fw_outputs), lstm.time_major(bw_outputs)]),
            tf.stack([fw_h, bw_h]))


@pytest.mark.parametrize('one_hot_width', [0, DEPTH - 2, DEPTH],
                         ids=['dense', 'one_hot_block_then_dense', 'one_hot'])
def test_fused_loop_gradients_equal_two_separate_loops(one_hot_width):
    tf.random.set_seed(1)
    fw, bw = lstm.LstmCell(DEPTH, 5), lstm.LstmCell(DEPTH, 5)
    for cell in (fw, bw):
        cell.bias.assign(tf.random.normal([20]))
    x, lengths = padded_one_hot_batch(3)
    if one_hot_width < DEPTH:  # dense columns after the one-hot block (if any)
        block = tf.one_hot(tf.argmax(x[..., :one_hot_width or 1], -1), one_hot_width)
        valid = tf.reduce_max(x, -1, keepdims=True)
        dense = tf.random.stateless_normal([4, 8, DEPTH - one_hot_width], [5, 6])
        x = tf.concat([block, dense], -1) * valid
    weights = tf.random.normal([2, 8, 4, 5])
    variables = [fw.kernel, fw.bias, bw.kernel, bw.bias]

    def loss_and_grads(run):
        x_time = lstm.time_major(x)
        with tf.GradientTape() as tape:
            tape.watch(x_time)
            outputs, final_h = run(fw, bw, x_time, lengths, one_hot_width)
            # Both the per-step outputs and the final states feed the loss.
            loss = tf.reduce_sum(outputs * weights) + tf.reduce_sum(tf.square(final_h))
        return loss, tape.gradient(loss, variables + [x_time])

    loss, grads = loss_and_grads(lstm.run_bidirectional_lstm)
    expected_loss, expected_grads = loss_and_grads(_reference_bidirectional)
    assert float(loss) == pytest.approx(float(expected_loss), abs=1e-5)  # a sum with cancellation
    for grad, expected in zip(grads, expected_grads):
        np.testing.assert_allclose(grad.numpy(), expected.numpy(), rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize('one_hot_input_width', [0, DEPTH], ids=['dense', 'one_hot'])
def test_model_loss_and_gradients_equal_those_with_the_plainest_encoder(monkeypatch,
                                                                         one_hot_input_width):
    hp = tiny_hparams(enc_rnn_size=[5, 4], sampling_schedule='constant', sampling_rate=0.0)
    model = model_lib.MusicVAE(hp, DEPTH, DEPTH, one_hot_input_width=one_hot_input_width)
    x, lengths = padded_one_hot_batch(4)
    step = tf.constant(100, tf.int64)

    def loss_and_grads():
        tf.random.set_seed(7)   # the same posterior draw of z on both runs
        with tf.GradientTape() as tape:
            loss = model.compute_loss(x, x, lengths, step, training=True)['loss']
        return loss, tape.gradient(loss, model.trainable_variables)

    loss, grads = loss_and_grads()
    monkeypatch.setattr(lstm, 'run_bidirectional_lstm', _reference_bidirectional)
    expected_loss, expected_grads = loss_and_grads()
    assert float(loss) == pytest.approx(float(expected_loss), rel=1e-5)
    for grad, expected in zip(grads, expected_grads):
        np.testing.assert_allclose(grad.numpy(), expected.numpy(), rtol=1e-4, atol=1e-6)


def test_melody_drum_and_trio_converters_declare_their_one_hot_inputs():
    from magenta_rnn.music_vae import converters
    assert converters.OneHotMelodyConverter().one_hot_input_width == 90
    assert converters.DrumsConverter().one_hot_input_width == 512
    assert converters.DrumsConverter(roll_input=True).one_hot_input_width == 0
    assert converters.TrioConverter().one_hot_input_width == 90
    for name in ('cat-mel_2bar_small', 'cat-drums_2bar_small'):
        config = configs.load_config(name)
        vae = model_lib.build_model(config, config.make_data_converter())
        assert vae.encoder.one_hot_width == config.make_data_converter().one_hot_input_width


def _plain_decoder_logits(decoder, x_input, z, coins):
    """The decoder as the plainest step loop of its cells (eager, autodiff): where coins[t, b],
    the previous step's sample_outputs replaces the true previous output."""
    states = decoder.initial_state(z, x_input.shape[0])
    logits_steps, previous_logits = [], None
    for t in range(x_input.shape[1]):
        previous = x_input[:, t]
        if previous_logits is not None:
            sampled = tf.stop_gradient(decoder.sample_outputs(previous_logits))
            previous = tf.where(coins[t][:, None], sampled, previous)
        x = tf.concat([previous, z], axis=-1)
        for k, cell in enumerate(decoder.cells):
            x, states[k] = cell(x, states[k])
        previous_logits = decoder.output_projection(x)
        logits_steps.append(previous_logits)
    return tf.stack(logits_steps, axis=1)


@pytest.mark.parametrize('sampled', [False, True, 'mixed'],
                         ids=['teacher_forcing', 'greedy_feedback', 'feedback_at_some_steps'])
def test_decoder_fused_loop_logits_and_gradients_equal_a_plain_step_loop(monkeypatch, sampled):
    decoder = model_lib.make_decoder('categorical_lstm', tiny_hparams(dec_rnn_size=[4, 5]),
                                     DEPTH)
    for variable in decoder.trainable_variables:
        variable.assign(tf.random.stateless_normal(variable.shape, [1, 2], stddev=0.7))
    # Greedy "samples" make the fed-back inputs deterministic on both paths.
    monkeypatch.setattr(decoder, 'sample_outputs',
                        lambda logits: tf.one_hot(tf.argmax(logits, -1), DEPTH))
    x = tf.constant(one_hot_batch(5, batch=3))
    x_input = model_lib.shifted_targets(x)
    z = tf.random.stateless_normal([3, 3], [3, 4])
    weights = tf.random.stateless_normal([3, 8, DEPTH], [5, 6])
    coins = tf.constant(np.random.default_rng(2).random((8, 3)) < 0.6) & (tf.range(8) > 0)[:, None]

    def loss_and_grads(run):
        with tf.GradientTape() as tape:
            tape.watch(z)
            logits = run()
            loss = tf.reduce_sum(logits * weights)
        return logits, tape.gradient(loss, list(decoder.trainable_variables) + [z])

    probability = 1.0 if sampled else 0.0
    if sampled is True:  # logits() draws its coins from uniform < probability: all True after t = 0
        coins = tf.broadcast_to((tf.range(8) > 0)[:, None], [8, 3])
    elif sampled == 'mixed':  # steps 2, 5 and 6 without any coin, the others with some
        coins = coins & (tf.constant([0, 1, 0, 1, 1, 0, 0, 1]) > 0)[:, None]
        assert 0 < int(tf.reduce_sum(tf.cast(coins, tf.int32))) < 15
        monkeypatch.setattr(decoder, '_coins', lambda *args: coins)
    logits, grads = loss_and_grads(lambda: decoder.logits(x_input, z, None, None, probability,
                                                          training=True))
    expected, expected_grads = loss_and_grads(
        lambda: _plain_decoder_logits(decoder, x_input, z, coins if sampled else coins & False))
    np.testing.assert_allclose(logits.numpy(), expected.numpy(), atol=1e-5)
    names = [v.name for v in decoder.trainable_variables] + ['z']
    for name, grad, want in zip(names, grads, expected_grads):
        assert np.abs(want.numpy()).max() > 0, name
        np.testing.assert_allclose(grad.numpy(), want.numpy(), atol=1e-4, err_msg=name)
    if sampled:  # the fed-back inputs differ from the truth, so the test sees them
        teacher = decoder.logits(x_input, z, None, None, 0.0, training=True)
        assert np.abs(teacher.numpy() - logits.numpy()).max() > 1e-3


@pytest.mark.parametrize('probability', [0.0, 1.0], ids=['teacher_forcing', 'greedy_feedback'])
def test_decoder_dropout_loop_equals_the_fused_loop_when_nothing_drops(monkeypatch, probability):
    """The step loop that dropout needs, at a keep probability that in practice keeps
    every unit, gives the fused loop's logits."""
    decoder = model_lib.make_decoder('categorical_lstm', tiny_hparams(dec_rnn_size=[4, 5]),
                                     DEPTH)
    monkeypatch.setattr(decoder, 'sample_outputs',
                        lambda logits: tf.one_hot(tf.argmax(logits, -1), DEPTH))
    x = tf.constant(one_hot_batch(6, batch=3))
    x_input = model_lib.shifted_targets(x)
    z = tf.random.stateless_normal([3, 3], [7, 8])
    fused_logits = decoder.logits(x_input, z, None, None, probability, training=True)
    decoder.dropout_keep_prob = 1.0 - 1e-7
    loop_logits = decoder.logits(x_input, z, None, None, probability, training=True)
    np.testing.assert_allclose(loop_logits.numpy(), fused_logits.numpy(), atol=1e-5)


def test_loss_pieces_and_beta_annealing():
    hp = tiny_hparams(free_bits=0.5)
    model = model_lib.MusicVAE(hp, DEPTH, DEPTH)
    x = one_hot_batch()
    lengths = np.array([8, 8, 4, 2], np.int32)
    step0 = model.compute_loss(x, x, lengths, tf.constant(0, tf.int64))
    # beta = (1 - 0.99999^step) * max_beta: zero at step 0, so loss = mean r_loss.
    assert float(step0['losses/kl_beta']) == 0.0
    assert float(step0['loss']) == pytest.approx(float(tf.reduce_mean(step0['losses/r_loss'])))
    assert float(step0['valid_steps']) == 22.0
    # kl_cost = max(KL - free_bits * ln 2, 0); kl_bits = KL / ln 2.
    kl_nats = step0['losses/kl_bits'].numpy() * math.log(2)
    np.testing.assert_allclose(step0['losses/kl_loss'].numpy(),
                               np.maximum(kl_nats - 0.5 * math.log(2), 0), rtol=1e-5, atol=1e-6)
    step = 100000
    later = model.compute_loss(x, x, lengths, tf.constant(step, tf.int64))
    beta = (1 - 0.99999 ** step) * 0.2
    # float32 pow, as in the original graph.
    assert float(later['losses/kl_beta']) == pytest.approx(beta, rel=2e-3)
    assert float(later['loss']) == pytest.approx(
        float(tf.reduce_mean(later['losses/r_loss']))
        + float(later['losses/kl_beta']) * float(tf.reduce_mean(later['losses/kl_loss'])),
        rel=1e-4)


def test_reconstruction_loss_is_summed_over_valid_steps_only():
    hp = tiny_hparams(sampling_schedule='constant', sampling_rate=0.0)
    model = model_lib.MusicVAE(hp, DEPTH, DEPTH)
    # With z cut off (zero z-to-state kernel, zero z rows of the first cell's kernel)
    # a length-1 example's loss is just -log softmax of the first step.
    model.decoder.z_to_initial_state.kernel.assign(tf.zeros_like(
        model.decoder.z_to_initial_state.kernel))
    kernel = model.decoder.cells[0].kernel.numpy()
    kernel[DEPTH:DEPTH + 3] = 0
    model.decoder.cells[0].kernel.assign(kernel)
    x = one_hot_batch()
    lengths = np.array([1, 1, 1, 1], np.int32)
    results = model.compute_loss(x, x, lengths, tf.constant(0, tf.int64))
    logits = model.decoder.logits(tf.zeros([4, 8, DEPTH]), tf.zeros([4, 3]),
                                  tf.constant([1, 1, 1, 1]))
    expected = -tf.reduce_sum(x[:, 0] * tf.nn.log_softmax(logits[:, 0]), axis=-1)
    np.testing.assert_allclose(results['losses/r_loss'].numpy(), expected.numpy(), rtol=1e-5)


def test_sampling_probability_schedules():
    hp = tiny_hparams()  # inverse_sigmoid, k = 1000
    k = 1000.0
    for step in (0, 6908, 20000):
        value = float(lstm.sampling_probability(hp, tf.constant(step), training=True))
        assert value == pytest.approx(1 - k / (k + math.exp(step / k)), abs=1e-6)  # float32
    assert float(lstm.sampling_probability(hp, tf.constant(6908), True)) == pytest.approx(
        0.5, abs=1e-3)
    assert lstm.sampling_probability(hp, tf.constant(5), training=False) == 1.0
    assert lstm.sampling_probability(tiny_hparams(sampling_schedule='constant',
                                                  sampling_rate=0.0), 5, True) == 0.0
    exponential = tiny_hparams(sampling_schedule='exponential', sampling_rate=0.99)
    assert float(lstm.sampling_probability(exponential, tf.constant(10), True)) == pytest.approx(
        1 - 0.99 ** 10, rel=1e-5)
    with pytest.raises(ValueError, match='at least 1'):
        lstm.sampling_probability(tiny_hparams(sampling_rate=0.5), tf.constant(0), True)


def test_learning_rate_decay():
    hp = tiny_hparams()
    assert float(model_lib.learning_rate(hp, tf.constant(0))) == pytest.approx(0.001)
    assert float(model_lib.learning_rate(hp, tf.constant(10000))) == pytest.approx(
        (0.001 - 1e-5) * 0.9999 ** 10000 + 1e-5, rel=1e-3)  # float32 pow


def test_gradients_clip_to_global_norm_one_and_zero_past_10000():
    hp = tiny_hparams()
    grads = [tf.constant([3.0, 4.0]), tf.constant([0.0])]
    clipped, norm = model_lib.clip_gradients(hp, grads)
    assert float(norm) == pytest.approx(5.0)
    np.testing.assert_allclose(clipped[0].numpy(), [0.6, 0.8], rtol=1e-6)
    huge = [tf.constant([6000.0, 8000.0])]
    clipped, norm = model_lib.clip_gradients(hp, huge)
    assert float(norm) == pytest.approx(10000.0)
    np.testing.assert_array_equal(clipped[0].numpy(), [0.0, 0.0])
    # A non-finite norm skips the step too: zeros, not NaN times something.
    clipped, _ = model_lib.clip_gradients(hp, [tf.constant([np.inf, 1.0]), tf.constant([np.nan])])
    np.testing.assert_array_equal(np.concatenate([g.numpy() for g in clipped]), [0.0, 0.0, 0.0])


def test_training_reduces_loss_on_a_fixed_batch():
    tf.random.set_seed(0)
    hp = tiny_hparams(learning_rate=0.02, sampling_schedule='constant', sampling_rate=0.0)
    trainer = model_lib.Trainer(model_lib.MusicVAE(hp, DEPTH, DEPTH))
    x = one_hot_batch()
    lengths = np.full([4], 8, np.int32)
    first = trainer.train_step(x, x, lengths)
    for _ in range(40):
        last = trainer.train_step(x, x, lengths)
    assert int(trainer.global_step.numpy()) == 41
    assert float(last['losses/r_loss']) < 0.8 * float(first['losses/r_loss'])
    assert float(last['metrics/accuracy']) > float(first['metrics/accuracy'])
    assert float(first['lr']) == pytest.approx(0.02)


def test_scheduled_sampling_training_step_runs():
    hp = tiny_hparams(sampling_schedule='constant', sampling_rate=1.0)
    trainer = model_lib.Trainer(model_lib.MusicVAE(hp, DEPTH, DEPTH))
    x = one_hot_batch()
    results = trainer.train_step(x, x, np.full([4], 8, np.int32))
    assert float(results['sampling_probability']) == 1.0
    assert np.isfinite(float(results['loss']))


def test_sampling_from_the_prior_gives_one_hot_rows():
    model = model_lib.MusicVAE(tiny_hparams(), DEPTH, DEPTH)
    samples = model.sample(n=3, length=8, temperature=0.5).numpy()
    assert samples.shape == (3, 8, DEPTH)
    np.testing.assert_array_equal(samples.sum(-1), np.ones((3, 8)))
    # Near-zero temperature is argmax: the same z always decodes the same way.
    z = tf.random.normal([2, 3])
    a = model.decode(z, 8, temperature=1e-6).numpy()
    b = model.decode(z, 8, temperature=1e-6).numpy()
    np.testing.assert_array_equal(a, b)


def test_sampling_stops_after_the_end_token():
    model = model_lib.MusicVAE(tiny_hparams(), DEPTH, DEPTH)
    # Force the output projection to always pick class 5, used as the end token.
    model.decoder.output_projection.kernel.assign(tf.zeros_like(
        model.decoder.output_projection.kernel))
    model.decoder.output_projection.bias.assign([0, 0, 0, 0, 0, 50.0])
    samples = model.sample(n=2, length=4, end_token=5).numpy()
    np.testing.assert_array_equal(samples[:, 0].argmax(-1), [5, 5])
    assert samples[:, 1:].sum() == 0
