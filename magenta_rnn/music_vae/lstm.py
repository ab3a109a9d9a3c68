"""LSTM building blocks of MusicVAE in TF2 (facts §11.5): cells, the bidirectional
encoder and the categorical decoder.

Cells keep the original LSTMBlockCell layout so published checkpoints map onto
them by name only: one kernel [input + units, 4 * units] with gates in the order
[i, c, f, o], a zero-initialized bias, and forget bias 1.0 added at run time.
Loops are unrolled over the static sequence length (batches are padded to
max_seq_len), which keeps every step a plain matmul that tf.function can fuse.
"""
from __future__ import annotations

from collections.abc import Sequence

import tensorflow as tf

FORGET_BIAS = 1.0


def _normal_initializer(stddev: float):
    return tf.random_normal_initializer(stddev=stddev)


class Dense(tf.Module):
    """y = activation(x @ kernel + bias); glorot-uniform kernel by default, zero bias."""

    def __init__(self, input_size: int, units: int, kernel_initializer=None,
                 activation=None, name: str | None = None):
        super().__init__(name=name)
        initializer = kernel_initializer or tf.keras.initializers.GlorotUniform()
        with self.name_scope:
            self.kernel = tf.Variable(initializer([input_size, units]), name='kernel')
            self.bias = tf.Variable(tf.zeros([units]), name='bias')
        self.activation = activation

    def __call__(self, x: tf.Tensor) -> tf.Tensor:
        y = tf.matmul(x, self.kernel) + self.bias
        return self.activation(y) if self.activation is not None else y


class LstmCell(tf.Module):
    """One LSTMBlockCell-compatible layer; state is (c, h)."""

    def __init__(self, input_size: int, units: int, name: str | None = None):
        super().__init__(name=name)
        self.input_size = input_size
        self.units = units
        with self.name_scope:
            self.kernel = tf.Variable(
                tf.keras.initializers.GlorotUniform()([input_size + units, 4 * units]),
                name='kernel')
            self.bias = tf.Variable(tf.zeros([4 * units]), name='bias')

    def project_inputs(self, x: tf.Tensor) -> tf.Tensor:
        """x @ W_x + b for inputs of any leading shape (done once for a whole sequence)."""
        return tf.tensordot(x, self.kernel[:self.input_size], axes=1) + self.bias

    def step(self, projected_input: tf.Tensor, state: tuple[tf.Tensor, tf.Tensor]
             ) -> tuple[tf.Tensor, tuple[tf.Tensor, tf.Tensor]]:
        c, h = state
        gates = projected_input + tf.matmul(h, self.kernel[self.input_size:])
        i, j, f, o = tf.split(gates, 4, axis=-1)
        new_c = c * tf.sigmoid(f + FORGET_BIAS) + tf.sigmoid(i) * tf.tanh(j)
        new_h = tf.tanh(new_c) * tf.sigmoid(o)
        return new_h, (new_c, new_h)

    def __call__(self, x: tf.Tensor, state: tuple[tf.Tensor, tf.Tensor]
                 ) -> tuple[tf.Tensor, tuple[tf.Tensor, tf.Tensor]]:
        return self.step(self.project_inputs(x), state)

    def zero_state(self, batch_size) -> tuple[tf.Tensor, tf.Tensor]:
        zeros = tf.zeros([batch_size, self.units])
        return zeros, zeros


def input_dropout(x: tf.Tensor, keep_prob: float, training: bool) -> tf.Tensor:
    """DropoutWrapper(input_keep_prob): a fresh mask per step and unit, training only."""
    if not training or keep_prob >= 1.0:
        return x
    return tf.nn.dropout(x, rate=1.0 - keep_prob)


def run_lstm(cell: LstmCell, inputs: tf.Tensor, lengths: tf.Tensor,
             initial_state: tuple[tf.Tensor, tf.Tensor] | None = None
             ) -> tuple[tf.Tensor, tuple[tf.Tensor, tf.Tensor]]:
    """dynamic_rnn semantics: outputs are zero and the state frozen past each length.

    inputs [batch, time, depth] with a static time dimension; returns
    (outputs [batch, time, units], final (c, h)).
    """
    num_steps = inputs.shape[1]
    batch_size = tf.shape(inputs)[0]
    state = initial_state if initial_state is not None else cell.zero_state(batch_size)
    projected = cell.project_inputs(inputs)
    mask = tf.sequence_mask(lengths, num_steps, dtype=tf.bool)[:, :, tf.newaxis]
    outputs = []
    for t in range(num_steps):
        output, new_state = cell.step(projected[:, t], state)
        valid = mask[:, t]
        state = (tf.where(valid, new_state[0], state[0]), tf.where(valid, new_state[1], state[1]))
        outputs.append(tf.where(valid, output, tf.zeros_like(output)))
    return tf.stack(outputs, axis=1), state


class BidirectionalLstmEncoder(tf.Module):
    """stack_bidirectional_dynamic_rnn; the encoding is [final h fw, final h bw] of the last layer."""

    def __init__(self, input_size: int, layer_sizes: Sequence[int], dropout_keep_prob: float = 1.0,
                 name: str = 'encoder'):
        super().__init__(name=name)
        self.dropout_keep_prob = dropout_keep_prob
        self.fw_cells: list[LstmCell] = []
        self.bw_cells: list[LstmCell] = []
        size = input_size
        with self.name_scope:
            for layer, units in enumerate(layer_sizes):
                self.fw_cells.append(LstmCell(size, units, name=f'cell_{layer}_fw'))
                self.bw_cells.append(LstmCell(size, units, name=f'cell_{layer}_bw'))
                size = 2 * units
        self.output_depth = 2 * layer_sizes[-1]

    def __call__(self, sequence: tf.Tensor, lengths: tf.Tensor, training: bool = False) -> tf.Tensor:
        lengths = tf.cast(lengths, tf.int32)
        layer_input = sequence
        final_fw = final_bw = None
        for fw_cell, bw_cell in zip(self.fw_cells, self.bw_cells):
            dropped = input_dropout(layer_input, self.dropout_keep_prob, training)
            fw_outputs, (_, final_fw) = run_lstm(fw_cell, dropped, lengths)
            reversed_input = tf.reverse_sequence(dropped, lengths, seq_axis=1, batch_axis=0)
            bw_outputs, (_, final_bw) = run_lstm(bw_cell, reversed_input, lengths)
            bw_outputs = tf.reverse_sequence(bw_outputs, lengths, seq_axis=1, batch_axis=0)
            layer_input = tf.concat([fw_outputs, bw_outputs], axis=-1)
        return tf.concat([final_fw, final_bw], axis=-1)


def sampling_probability(hparams, step: tf.Tensor, training: bool) -> tf.Tensor | float:
    """Scheduled-sampling probability; a Python 0.0 means teacher forcing (facts §11.5)."""
    schedule = hparams.sampling_schedule
    rate = float(hparams.sampling_rate)
    if not schedule or (schedule == 'constant' and rate == 0):
        return 0.0
    if not training:
        return 1.0  # Eval jobs of scheduled-sampling models decode from their own samples.
    step = tf.cast(step, tf.float32)
    if schedule == 'constant':
        if not 0 <= rate <= 1:
            raise ValueError(f'`constant` sampling rate must be in [0, 1]; got {rate}')
        return tf.constant(rate)
    if schedule == 'inverse_sigmoid':
        if rate < 1:
            raise ValueError(f'`inverse_sigmoid` sampling rate must be at least 1; got {rate}')
        return 1.0 - rate / (rate + tf.exp(step / rate))
    if schedule == 'exponential':
        if not 0 < rate < 1:
            raise ValueError(f'`exponential` sampling rate must be in (0, 1); got {rate}')
        return 1.0 - tf.pow(rate, step)
    raise ValueError(f'Invalid `sampling_schedule`: {schedule}')


def sample_one_hot(logits: tf.Tensor, temperature: float | tf.Tensor = 1.0) -> tf.Tensor:
    """One-hot draws from softmax(logits / temperature)."""
    depth = logits.shape[-1]
    indices = tf.random.categorical(logits / temperature, 1)[:, 0]
    return tf.one_hot(indices, depth)


class CategoricalLstmDecoder(tf.Module):
    """Flat LSTM decoder with one softmax per step; state initialised from z."""

    def __init__(self, output_depth: int, z_size: int, layer_sizes: Sequence[int],
                 dropout_keep_prob: float = 1.0, control_depth: int = 0, name: str = 'decoder'):
        super().__init__(name=name)
        self.output_depth = output_depth
        self.z_size = z_size
        self.control_depth = control_depth
        self.layer_sizes = list(layer_sizes)
        self.dropout_keep_prob = dropout_keep_prob
        input_size = output_depth + z_size + control_depth
        self.cells: list[LstmCell] = []
        with self.name_scope:
            size = input_size
            for layer, units in enumerate(self.layer_sizes):
                self.cells.append(LstmCell(size, units, name=f'cell_{layer}'))
                size = units
            self.z_to_initial_state = (
                Dense(z_size, 2 * sum(self.layer_sizes), _normal_initializer(0.001), tf.tanh,
                      name='z_to_initial_state') if z_size else None)
            self.output_projection = Dense(self.layer_sizes[-1], output_depth,
                                           name='output_projection')

    def initial_state(self, z: tf.Tensor, batch_size) -> list[tuple[tf.Tensor, tf.Tensor]]:
        if self.z_to_initial_state is None:
            return [cell.zero_state(batch_size) for cell in self.cells]
        # Split order (c0, h0, c1, h1, ...), as MultiRNNCell's flattened state.
        parts = tf.split(self.z_to_initial_state(z),
                         [size for size in self.layer_sizes for _ in range(2)], axis=-1)
        return [(parts[2 * k], parts[2 * k + 1]) for k in range(len(self.cells))]

    def _stack_step(self, first_projected: tf.Tensor, states, training: bool):
        """One step of the whole stack given layer 0's projected input."""
        new_states = []
        x = None
        for k, cell in enumerate(self.cells):
            if k == 0:
                projected = first_projected
            else:
                projected = cell.project_inputs(
                    input_dropout(x, self.dropout_keep_prob, training))
            x, state = cell.step(projected, states[k])
            new_states.append(state)
        return self.output_projection(x), new_states

    def _aux_projection(self, z: tf.Tensor | None, controls: tf.Tensor | None,
                        num_steps: int) -> tf.Tensor:
        """The z and control part of layer 0's input projection, [batch, time, 4 units]."""
        cell = self.cells[0]
        kernel = cell.kernel[:cell.input_size]
        d, zs = self.output_depth, self.z_size
        result = 0.0
        if zs:
            result += tf.matmul(z, kernel[d:d + zs])[:, tf.newaxis]
        if self.control_depth:
            result += tf.tensordot(tf.cast(controls, tf.float32), kernel[d + zs:], axes=1)
        return result + cell.bias + tf.zeros([1, num_steps, 1])

    def logits(self, x_input: tf.Tensor, z: tf.Tensor | None, lengths: tf.Tensor,
               controls: tf.Tensor | None = None, sampling_probability: float | tf.Tensor = 0.0,
               training: bool = False) -> tf.Tensor:
        """Decoder logits [batch, time, depth] for shifted targets `x_input`.

        With sampling_probability statically 0 this is teacher forcing; otherwise each
        step's previous-output input is, per sequence and with that probability, a
        one-hot sample of the previous step's distribution instead of the truth.
        """
        num_steps = x_input.shape[1]
        batch_size = tf.shape(x_input)[0]
        states = self.initial_state(z, batch_size)
        kernel_x = self.cells[0].kernel[:self.output_depth]
        aux = self._aux_projection(z, controls, num_steps)
        teacher_forcing = isinstance(sampling_probability, float) and sampling_probability == 0.0
        outputs = []
        if teacher_forcing:
            projected_truth = None
            if not (training and self.dropout_keep_prob < 1.0):
                projected_truth = tf.tensordot(x_input, kernel_x, axes=1) + aux
            for t in range(num_steps):
                if projected_truth is not None:
                    projected = projected_truth[:, t]
                else:
                    projected = self._project_first(x_input[:, t], z, controls, t, training)
                logits, states = self._stack_step(projected, states, training)
                outputs.append(logits)
        else:
            previous = x_input[:, 0]
            for t in range(num_steps):
                if t > 0:
                    use_sample = tf.random.uniform([batch_size]) < sampling_probability
                    sampled = tf.stop_gradient(sample_one_hot(outputs[-1]))
                    previous = tf.where(use_sample[:, tf.newaxis], sampled, x_input[:, t])
                projected = self._project_first(previous, z, controls, t, training,
                                                aux_t=aux[:, t])
                logits, states = self._stack_step(projected, states, training)
                outputs.append(logits)
        return tf.stack(outputs, axis=1)

    def _project_first(self, previous: tf.Tensor, z, controls, t: int, training: bool,
                       aux_t: tf.Tensor | None = None) -> tf.Tensor:
        """Layer 0's projected input for one step from the previous output row."""
        if training and self.dropout_keep_prob < 1.0:
            parts = [previous]
            if self.z_size:
                parts.append(z)
            if self.control_depth:
                parts.append(tf.cast(controls[:, t], tf.float32))
            return self.cells[0].project_inputs(
                input_dropout(tf.concat(parts, axis=-1), self.dropout_keep_prob, training))
        return tf.matmul(previous, self.cells[0].kernel[:self.output_depth]) + aux_t

    def sample(self, n: int, max_length: int, z: tf.Tensor | None,
               temperature: float | tf.Tensor = 1.0, controls: tf.Tensor | None = None,
               start_inputs: tf.Tensor | None = None, end_token: int | None = None
               ) -> tf.Tensor:
        """[n, max_length, depth] one-hot samples; steps after an end token are zero."""
        states = self.initial_state(z, n)
        aux = self._aux_projection(z, controls, max_length)
        previous = (tf.zeros([n, self.output_depth]) if start_inputs is None
                    else tf.cast(start_inputs, tf.float32))
        finished = tf.zeros([n], tf.bool)
        samples = []
        for t in range(max_length):
            projected = self._project_first(previous, z, controls, t, False, aux_t=aux[:, t])
            logits, states = self._stack_step(projected, states, False)
            previous = sample_one_hot(logits, temperature)
            samples.append(tf.where(finished[:, tf.newaxis], tf.zeros_like(previous), previous))
            if end_token is not None:
                finished = finished | tf.equal(tf.argmax(previous, axis=-1), end_token)
        return tf.stack(samples, axis=1)
