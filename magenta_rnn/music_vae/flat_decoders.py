"""Flat LSTM decoders whose outputs are not one softmax (REFERENCE.md "MusicVAE architecture"): a
shared base
with a pluggable output distribution, and GrooVAE's GrooveLstmDecoder.

The base keeps BaseLstmDecoder's layout and behaviour: the LSTM stack is started
from tanh(Dense(z)), each step's input is [previous output, z, control], the
output projection `decoder/output_projection` may be wider than the output (the
NADE decoder's is nade_hidden + depth), and scheduled sampling replaces the
previous output by a sample of the previous step's distribution. Subclasses
give the distribution: `step_loss` (per-step loss of a target given the
projection) and `sample_outputs` (a sample given the projection).
"""
from __future__ import annotations

from collections.abc import Sequence

import tensorflow as tf

from magenta_rnn.music_vae import lstm

LOG_LOSS_EPSILON = 1e-7  # tf.losses.log_loss's default epsilon.


class OutputLstmDecoder(tf.Module):
    """LSTM decoder over real-valued outputs [batch, time, output_depth].

    Variables have the same names and shapes as CategoricalLstmDecoder's (cells,
    z_to_initial_state, output_projection), with the projection
    `projection_depth` wide.
    """

    # The temperature of the samples scheduled sampling feeds back in training
    # (the original calls `_sample(rnn_output)` with its default temperature).
    training_sample_temperature: float | None = 1.0

    def __init__(self, output_depth: int, projection_depth: int, z_size: int,
                 layer_sizes: Sequence[int], dropout_keep_prob: float = 1.0,
                 control_depth: int = 0, name: str = 'decoder'):
        super().__init__(name=name)
        self.output_depth = output_depth
        self.projection_depth = projection_depth
        self.z_size = z_size
        self.control_depth = control_depth
        self.layer_sizes = list(layer_sizes)
        self.dropout_keep_prob = dropout_keep_prob
        self.cells: list[lstm.LstmCell] = []
        with self.name_scope:
            size = output_depth + z_size + control_depth
            for layer, units in enumerate(self.layer_sizes):
                self.cells.append(lstm.LstmCell(size, units, name=f'cell_{layer}'))
                size = units
            self.z_to_initial_state = (
                lstm.Dense(z_size, 2 * sum(self.layer_sizes), lstm.normal_initializer(0.001),
                           tf.tanh, name='z_to_initial_state') if z_size else None)
            self.output_projection = lstm.Dense(self.layer_sizes[-1], projection_depth,
                                                name='output_projection')

    # -- the output distribution (subclasses) -----------------------------------------

    def step_loss(self, x_target: tf.Tensor, rnn_output: tf.Tensor
                  ) -> tuple[tf.Tensor, dict[str, tf.Tensor]]:
        """Loss [...] of targets [..., output_depth] given projections [..., projection_depth],
        and per-step metric values [...]: 'correct' (1.0 where the step is predicted
        exactly; metrics/accuracy) and others averaged over valid steps by the caller."""
        raise NotImplementedError

    def sample_outputs(self, rnn_output: tf.Tensor, temperature) -> tf.Tensor:
        """A sample [batch, output_depth] given projections [batch, projection_depth]."""
        raise NotImplementedError

    # -- the LSTM ---------------------------------------------------------------------

    def initial_state(self, z: tf.Tensor | None, batch_size) -> list[tuple[tf.Tensor, tf.Tensor]]:
        if self.z_to_initial_state is None:
            return [cell.zero_state(batch_size) for cell in self.cells]
        # Split order (c0, h0, c1, h1, ...), as MultiRNNCell's flattened state.
        parts = tf.split(self.z_to_initial_state(z),
                         [size for size in self.layer_sizes for _ in range(2)], axis=-1)
        return [(parts[2 * k], parts[2 * k + 1]) for k in range(len(self.cells))]

    def _step(self, cell_input: tf.Tensor, flat_states: list[tf.Tensor], training: bool,
              kernels) -> tuple[tf.Tensor, list[tf.Tensor]]:
        """One step of the stack from the full layer-0 input; returns (projection, states).
        kernels: each cell's split_kernel(), taken outside the time loop."""
        x = cell_input
        new_flat = []
        for k, cell in enumerate(self.cells):
            x = cell.project_inputs(lstm.input_dropout(x, self.dropout_keep_prob, training),
                                    kernels[k][0])
            x, (c, h) = cell.step(x, (flat_states[2 * k], flat_states[2 * k + 1]), kernels[k][1])
            new_flat += [c, h]
        return self.output_projection(x), new_flat

    def _aux(self, z: tf.Tensor | None, controls: tf.Tensor | None, batch_size,
             num_steps: int) -> tf.Tensor:
        """[time, batch, z_size + control_depth]: what follows the previous output."""
        parts = []
        if self.z_size:
            parts.append(tf.tile(z[tf.newaxis], [num_steps, 1, 1]))
        if self.control_depth:
            parts.append(lstm.time_major(tf.cast(controls, tf.float32)))
        if not parts:
            return tf.zeros([num_steps, batch_size, 0])
        return tf.concat(parts, axis=-1)

    def rnn_outputs(self, x_input: tf.Tensor, z: tf.Tensor | None,
                    controls: tf.Tensor | None = None,
                    sampling_probability: float | tf.Tensor = 0.0,
                    training: bool = False) -> tf.Tensor:
        """Projections [batch, time, projection_depth] for shifted targets `x_input`.

        Teacher forcing when sampling_probability is statically 0; otherwise, per
        step and sequence with that probability, the previous output fed in is a
        sample (at training_sample_temperature) of the previous projection.
        """
        x_input = tf.cast(x_input, tf.float32)
        num_steps = x_input.shape[1]
        batch_size = tf.shape(x_input)[0]
        flat_states = [t for state in self.initial_state(z, batch_size) for t in state]
        x_time = lstm.time_major(x_input)
        aux_time = self._aux(z, controls, batch_size, num_steps)
        zeros = tf.zeros([batch_size, self.projection_depth])
        kernels = [cell.split_kernel() for cell in self.cells]
        if isinstance(sampling_probability, float) and sampling_probability == 0.0:
            def step(carry, elems):
                flat, _ = carry
                x_t, aux_t = elems
                projection, new_flat = self._step(tf.concat([x_t, aux_t], -1), flat, training,
                                                   kernels)
                return new_flat, projection
            _, outputs = tf.scan(step, (x_time, aux_time), initializer=(flat_states, zeros))
            return lstm.time_major(outputs)

        coins = tf.random.uniform([num_steps, batch_size]) < sampling_probability
        first_step = tf.range(num_steps) == 0

        def sampled_step(carry, elems):
            flat, previous_projection = carry
            x_t, aux_t, coin, is_first = elems
            use_sample = tf.logical_and(coin, tf.logical_not(is_first))
            # Sampling (a NADE's is a loop over dimensions) only when some sequence uses it.
            sampled = tf.stop_gradient(tf.cond(
                tf.reduce_any(use_sample),
                lambda: self.sample_outputs(previous_projection, self.training_sample_temperature),
                lambda: tf.zeros([batch_size, self.output_depth])))
            previous = tf.where(use_sample[:, tf.newaxis], sampled, x_t)
            projection, new_flat = self._step(tf.concat([previous, aux_t], -1), flat, training,
                                              kernels)
            return new_flat, projection

        _, outputs = tf.scan(sampled_step, (x_time, aux_time, coins, first_step),
                             initializer=(flat_states, zeros))
        return lstm.time_major(outputs)

    def reconstruction_loss(self, x_input: tf.Tensor, x_target: tf.Tensor, x_length: tf.Tensor,
                            z: tf.Tensor | None, controls: tf.Tensor | None = None,
                            sampling_probability: float | tf.Tensor = 0.0,
                            training: bool = False) -> tuple[tf.Tensor, dict[str, tf.Tensor]]:
        """Per-sequence loss [batch] (step losses summed over valid steps) and metrics.

        Metrics: correct_steps and valid_steps (for metrics/accuracy) and, per
        entry of step_loss's dict, the mean over valid steps.
        """
        num_steps = x_target.shape[1]
        rnn_output = self.rnn_outputs(x_input, z, controls, sampling_probability, training)
        x_target = tf.cast(x_target, tf.float32)
        mask = tf.sequence_mask(x_length, num_steps, dtype=tf.float32)
        step_loss, step_metrics = self.step_loss(x_target, rnn_output)
        correct = step_metrics.pop('correct')
        valid_steps = tf.reduce_sum(mask)
        metrics = {name: tf.reduce_sum(value * mask) / tf.maximum(valid_steps, 1.0)
                   for name, value in step_metrics.items()}
        metrics['correct_steps'] = tf.reduce_sum(correct * mask)
        metrics['valid_steps'] = valid_steps
        return tf.reduce_sum(step_loss * mask, axis=1), metrics

    def sample(self, n: int, max_length: int, z: tf.Tensor | None,
               temperature: float | tf.Tensor | None = 1.0, controls: tf.Tensor | None = None,
               start_inputs: tf.Tensor | None = None, end_token: int | None = None
               ) -> tf.Tensor:
        """[n, max_length, output_depth] samples, each fed back as the next input."""
        del end_token  # These representations have no end token.
        flat_states = [t for state in self.initial_state(z, n) for t in state]
        aux_time = self._aux(z, controls, n, max_length)
        previous = (tf.zeros([n, self.output_depth]) if start_inputs is None
                    else tf.cast(start_inputs, tf.float32))
        kernels = [cell.split_kernel() for cell in self.cells]

        def step(carry, aux_t):
            flat, previous = carry
            projection, new_flat = self._step(tf.concat([previous, aux_t], -1), flat, False,
                                              kernels)
            return new_flat, self.sample_outputs(projection, temperature)

        _, samples = tf.scan(step, aux_time, initializer=(flat_states, previous))
        return lstm.time_major(samples)


class GrooveLstmDecoder(OutputLstmDecoder):
    """GrooVAE's decoder: per class a hit (Bernoulli), a velocity (sigmoid) and an
    offset (tanh), from a projection laid out [hits, velocities, offsets].

    Step loss = sum over classes of log loss(hit) + (target velocity - sigmoid)^2
    + (target offset - tanh)^2, the log loss being
    -(y log(p + 1e-7) + (1 - y) log(1 - p + 1e-7)).
    """

    training_sample_temperature = 1.0

    def __init__(self, output_depth: int, z_size: int, layer_sizes: Sequence[int],
                 dropout_keep_prob: float = 1.0, control_depth: int = 0, name: str = 'decoder'):
        if output_depth % 3:
            raise ValueError(f'GrooveLstmDecoder: output depth {output_depth} is not 3 per class')
        super().__init__(output_depth, output_depth, z_size, layer_sizes, dropout_keep_prob,
                         control_depth, name)

    @staticmethod
    def activate(rnn_output: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        """(hit probabilities, velocities, offsets) of a projection."""
        hits, velocities, offsets = tf.split(rnn_output, 3, axis=-1)
        return tf.sigmoid(hits), tf.sigmoid(velocities), tf.tanh(offsets)

    def step_loss(self, x_target, rnn_output):
        target_hits, target_velocities, target_offsets = tf.split(x_target, 3, axis=-1)
        hits, velocities, offsets = self.activate(rnn_output)
        eps = LOG_LOSS_EPSILON
        hits_loss = tf.reduce_sum(-target_hits * tf.math.log(hits + eps)
                                  - (1.0 - target_hits) * tf.math.log(1.0 - hits + eps), -1)
        velocities_loss = tf.reduce_sum(tf.square(target_velocities - velocities), -1)
        offsets_loss = tf.reduce_sum(tf.square(target_offsets - offsets), -1)
        # "Correct" steps: every hit predicted right (probability >= 0.5).
        correct = tf.reduce_all(tf.equal(target_hits > 0.5, hits >= 0.5), -1)
        return hits_loss + velocities_loss + offsets_loss, {
            'correct': tf.cast(correct, tf.float32),
            'metrics/hits_loss': hits_loss,
            'metrics/velocities_loss': velocities_loss,
            'metrics/offsets_loss': offsets_loss,
        }

    def step_log_likelihood(self, x_target: tf.Tensor, rnn_output: tf.Tensor) -> tf.Tensor:
        """Bernoulli log-likelihood [...] of each step's target hits (velocities and
        offsets are regressed, not modelled as distributions)."""
        target_hits = tf.split(x_target, 3, axis=-1)[0]
        hit_logits = tf.split(rnn_output, 3, axis=-1)[0]
        return -tf.reduce_sum(tf.nn.sigmoid_cross_entropy_with_logits(
            labels=target_hits, logits=hit_logits), axis=-1)

    def sample_outputs(self, rnn_output, temperature):
        hit_logits, velocities, offsets = tf.split(rnn_output, 3, axis=-1)
        if temperature is None:  # greedy: a hit where its probability is above 0.5
            hits = tf.cast(tf.sigmoid(hit_logits) > 0.5, tf.float32)
        else:
            probabilities = tf.sigmoid(hit_logits / temperature)
            hits = tf.cast(tf.random.uniform(tf.shape(probabilities)) < probabilities, tf.float32)
        return tf.concat([hits, tf.sigmoid(velocities), tf.tanh(offsets)], axis=-1)
