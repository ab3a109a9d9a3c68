"""NADE (neural autoregressive distribution estimator) and MusicVAE's
MultiLabelRnnNadeDecoder (REFERENCE.md "MusicVAE architecture"), used by
nade-drums_2bar_reduced/full.

A NADE over D binary dimensions with H hidden units, weights w_enc [D, 1, H]
and w_dec_t [D, H, 1], and biases b_enc [batch, H], b_dec [batch, D] given from
outside (the decoder's output projection, split H | D):

    a_0 = b_enc,  a_i = a_{i-1} + x_{i-1} w_enc[i-1]
    p_i = sigmoid(b_dec_i + sigmoid(a_i) . w_dec_t[i])
    log p(x) = sum_i x_i log(p_i + 1e-6) + (1 - x_i) log(1 - p_i + 1e-6)

(the 1e-6 is the original's lower-bounded log). Sampling draws x_i in order,
from Bernoulli(logit_i / T), or x_i = [p_i >= 0.5] when the temperature is None.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import tensorflow as tf

from magenta_rnn.music_vae.flat_decoders import OutputLstmDecoder

SAFE_LOG_EPSILON = 1e-6


def _safe_log(x: tf.Tensor) -> tf.Tensor:
    return tf.math.log(SAFE_LOG_EPSILON + x)


def _truncated_normal(stddev: float):
    return lambda shape: tf.random.truncated_normal(shape, stddev=stddev)


class Nade(tf.Module):
    """A NADE with external biases; variables `w_enc` [D, 1, H] and `w_dec_t` [D, H, 1]."""

    def __init__(self, num_dims: int, num_hidden: int, name: str = 'nade'):
        super().__init__(name=name)
        self.num_dims = num_dims
        self.num_hidden = num_hidden
        initializer = _truncated_normal(1.0 / math.sqrt(num_dims))
        with self.name_scope:
            self.w_enc = tf.Variable(initializer([num_dims, 1, num_hidden]), name='w_enc')
            self.w_dec_t = tf.Variable(initializer([num_dims, num_hidden, 1]), name='w_dec_t')

    def conditional_logits(self, x: tf.Tensor, b_enc: tf.Tensor, b_dec: tf.Tensor) -> tf.Tensor:
        """logit_i of p(x_i = 1 | x_<i) for every i at once: [..., D]."""
        x = tf.cast(x, tf.float32)
        w_enc = self.w_enc[:, 0, :]                      # [D, H]
        # a_i = b_enc + sum_{j<i} x_j w_enc[j]: an exclusive cumulative sum over dims.
        contributions = x[..., tf.newaxis] * w_enc       # [..., D, H]
        a = b_enc[..., tf.newaxis, :] + tf.math.cumsum(contributions, axis=-2, exclusive=True)
        return b_dec + tf.reduce_sum(tf.sigmoid(a) * self.w_dec_t[:, :, 0], axis=-1)

    def log_prob(self, x: tf.Tensor, b_enc: tf.Tensor, b_dec: tf.Tensor
                 ) -> tuple[tf.Tensor, tf.Tensor]:
        """(log p(x) [...], conditional probabilities [..., D]) for x [..., D]."""
        x = tf.cast(x, tf.float32)
        cond_p = tf.sigmoid(self.conditional_logits(x, b_enc, b_dec))
        log_p = tf.reduce_sum(x * _safe_log(cond_p) + (1.0 - x) * _safe_log(1.0 - cond_p), -1)
        return log_p, cond_p

    def sample(self, b_enc: tf.Tensor, b_dec: tf.Tensor,
               temperature: float | tf.Tensor | None = None) -> tuple[tf.Tensor, tf.Tensor]:
        """(samples [batch, D] float 0/1, their log p [batch]) one dimension at a time."""
        b_dec_by_dim = tf.transpose(b_dec)[:, :, tf.newaxis]   # [D, batch, 1]
        if temperature is None:
            uniforms = tf.zeros_like(b_dec_by_dim)
        else:
            uniforms = tf.random.uniform(tf.shape(b_dec_by_dim))

        def step(carry, elems):
            a, _ = carry
            w_enc_i, w_dec_i, b_dec_i, uniform_i = elems
            logit = b_dec_i + tf.matmul(tf.sigmoid(a), w_dec_i)
            if temperature is None:
                v = tf.cast(tf.sigmoid(logit) >= 0.5, tf.float32)
            else:
                v = tf.cast(uniform_i < tf.sigmoid(logit / temperature), tf.float32)
            return a + tf.matmul(v, w_enc_i), tf.concat([v, logit], axis=-1)

        # One loop over the dimensions keeps the graph small inside the decoder's time loop.
        _, outputs = tf.scan(step, (self.w_enc, self.w_dec_t, b_dec_by_dim, uniforms),
                             initializer=(b_enc, tf.zeros([tf.shape(b_enc)[0], 2])))
        samples = tf.transpose(outputs[:, :, 0])                # [batch, D]
        cond_p = tf.sigmoid(tf.transpose(outputs[:, :, 1]))
        log_p = tf.reduce_sum(samples * _safe_log(cond_p) + (1.0 - samples) * _safe_log(
            1.0 - cond_p), axis=-1)
        return samples, log_p


class MultiLabelRnnNadeDecoder(OutputLstmDecoder):
    """Flat LSTM decoder whose step output is a NADE over the multi-hot drum roll.

    The output projection is nade_hidden + depth wide, split into (b_enc, b_dec);
    the step loss is -log p(x_t). Scheduled sampling in training feeds back the
    thresholded (temperature None) NADE sample, as the original does.
    """

    training_sample_temperature = None

    def __init__(self, output_depth: int, z_size: int, layer_sizes: Sequence[int],
                 nade_num_hidden: int, dropout_keep_prob: float = 1.0, control_depth: int = 0,
                 name: str = 'decoder'):
        super().__init__(output_depth, nade_num_hidden + output_depth, z_size, layer_sizes,
                         dropout_keep_prob, control_depth, name)
        with self.name_scope:
            self.nade = Nade(output_depth, nade_num_hidden, name='nade')

    def _biases(self, rnn_output: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        return tf.split(rnn_output, [self.nade.num_hidden, self.output_depth], axis=-1)

    def step_loss(self, x_target, rnn_output):
        b_enc, b_dec = self._biases(rnn_output)
        log_p, cond_p = self.nade.log_prob(x_target, b_enc, b_dec)
        truth = x_target > 0.5
        predicted = cond_p >= 0.5
        true_positives = tf.reduce_sum(tf.cast(truth & predicted, tf.float32), -1)
        correct = tf.reduce_all(tf.equal(truth, predicted), -1)
        return -log_p, {
            'correct': tf.cast(correct, tf.float32),
            # Per-step counts; their means over valid steps give micro recall/precision.
            'metrics/true_positives': true_positives,
            'metrics/positives': tf.reduce_sum(tf.cast(truth, tf.float32), -1),
            'metrics/predicted_positives': tf.reduce_sum(tf.cast(predicted, tf.float32), -1),
        }

    def step_log_likelihood(self, x_target: tf.Tensor, rnn_output: tf.Tensor) -> tf.Tensor:
        """log p(x_t) [...] of multi-hot targets under each step's NADE."""
        b_enc, b_dec = self._biases(rnn_output)
        log_p, _ = self.nade.log_prob(x_target, b_enc, b_dec)
        return log_p

    def reconstruction_loss(self, *args, **kwargs):
        r_loss, metrics = super().reconstruction_loss(*args, **kwargs)
        tp = metrics.pop('metrics/true_positives')
        positives = metrics.pop('metrics/positives')
        predicted = metrics.pop('metrics/predicted_positives')
        metrics['metrics/recall'] = tp / tf.maximum(positives, 1e-9)
        metrics['metrics/precision'] = tp / tf.maximum(predicted, 1e-9)
        return r_loss, metrics

    def sample_outputs(self, rnn_output, temperature):
        b_enc, b_dec = self._biases(rnn_output)
        samples, _ = self.nade.sample(b_enc, b_dec, temperature)
        return samples
