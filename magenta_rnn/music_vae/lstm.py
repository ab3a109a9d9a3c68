"""LSTM building blocks of MusicVAE in TF2 (REFERENCE.md "MusicVAE architecture"): cells, the
bidirectional
encoder and the categorical decoder.

Cells keep the original LSTMBlockCell layout so published checkpoints map onto
them by name only: one kernel [input + units, 4 * units] with gates in the order
[i, c, f, o], a zero-initialized bias, and forget bias 1.0 added at run time.
Time loops are tf.scan (one while loop per RNN), with each layer's input
projection done for the whole sequence at once where the inputs are known.
"""
from __future__ import annotations

from collections.abc import Sequence

import tensorflow as tf

from magenta_rnn.music_vae import length_groups
from magenta_rnn.rnn import backends, fused


def normal_initializer(stddev: float):
    """Weights drawn from N(0, stddev^2), following tf.random.set_seed (the latent and
    initial-state projections use 0.001)."""
    return lambda shape: tf.random.normal(shape, stddev=stddev)


def glorot_uniform(shape) -> tf.Tensor:
    """TF1's default variable initializer; follows tf.random.set_seed."""
    limit = (6.0 / (shape[0] + shape[1])) ** 0.5
    return tf.random.uniform(shape, -limit, limit)


class Dense(tf.Module):
    """y = activation(x @ kernel + bias); glorot-uniform kernel by default, zero bias."""

    def __init__(self, input_size: int, units: int, kernel_initializer=None,
                 activation=None, name: str | None = None):
        super().__init__(name=name)
        initializer = kernel_initializer or glorot_uniform
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
                glorot_uniform([input_size + units, 4 * units]),
                name='kernel')
            self.bias = tf.Variable(tf.zeros([4 * units]), name='bias')

    def split_kernel(self, input_sizes: Sequence[int] | None = None) -> list[tf.Tensor]:
        """[input rows, recurrent rows] of the kernel, the input rows split further by
        `input_sizes` if given. Time loops take them once, outside the loop: a slice taken
        inside a loop body has a whole-kernel gradient every step. One split, whose
        gradient is one concat (each slice's would be a zero-padded whole kernel)."""
        return tf.split(self.kernel, [*(input_sizes or [self.input_size]), self.units])

    def project_inputs(self, x: tf.Tensor, input_kernel: tf.Tensor | None = None) -> tf.Tensor:
        """x @ W_x + b for inputs of any leading shape (done once for a whole sequence)."""
        if input_kernel is None:
            input_kernel = self.kernel[:self.input_size]
        return tf.tensordot(x, input_kernel, axes=1) + self.bias

    def step(self, projected_input: tf.Tensor, state: tuple[tf.Tensor, tf.Tensor],
             recurrent_kernel: tf.Tensor | None = None
             ) -> tuple[tf.Tensor, tuple[tf.Tensor, tf.Tensor]]:
        c, h = state
        if recurrent_kernel is None:
            recurrent_kernel = self.kernel[self.input_size:]
        new_c, new_h = backends.lstm_cell(projected_input + tf.matmul(h, recurrent_kernel), c)
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


def time_major(x: tf.Tensor) -> tf.Tensor:
    """[batch, time, ...] -> [time, batch, ...]; its own inverse (batch_major)."""
    return tf.transpose(x, [1, 0] + list(range(2, len(x.shape))))


batch_major = time_major


class BidirectionalLstmEncoder(tf.Module):
    """stack_bidirectional_dynamic_rnn; the encoding is [final h fw, final h bw] of the last layer.

    one_hot_width: the inputs' first columns are one one-hot block (zero on padded steps),
    so layer 0 reads kernel rows there instead of multiplying (not with input dropout).
    """

    def __init__(self, input_size: int, layer_sizes: Sequence[int], dropout_keep_prob: float = 1.0,
                 one_hot_width: int = 0, name: str = 'encoder'):
        super().__init__(name=name)
        self.dropout_keep_prob = dropout_keep_prob
        self.one_hot_width = one_hot_width
        self.fw_cells: list[LstmCell] = []
        self.bw_cells: list[LstmCell] = []
        size = input_size
        with self.name_scope:
            for layer, units in enumerate(layer_sizes):
                self.fw_cells.append(LstmCell(size, units, name=f'cell_{layer}_fw'))
                self.bw_cells.append(LstmCell(size, units, name=f'cell_{layer}_bw'))
                size = 2 * units
        self.output_depth = 2 * layer_sizes[-1]

    def __call__(self, sequence: tf.Tensor, lengths: tf.Tensor, training: bool = False,
                 skip_padding: bool = False) -> tf.Tensor:
        """[batch, time, depth] -> [batch, output_depth]. skip_padding: sequences of very
        different lengths; run them in length groups (length_groups), each only as long
        as its longest sequence. The same encoding either way."""
        lengths = tf.cast(lengths, tf.int32)
        if skip_padding and length_groups.applies(lengths):
            groups = length_groups.LengthGroups(lengths)
            return groups.restore([
                self._encode(groups.take(sequence, g)[:, :groups.steps[g]],
                             groups.take(lengths, g), training) for g in range(groups.count)])
        return self._encode(sequence, lengths, training)

    def _encode(self, sequence: tf.Tensor, lengths: tf.Tensor, training: bool) -> tf.Tensor:
        dropping = training and self.dropout_keep_prob < 1.0
        layer_input = time_major(sequence)
        final_h = None
        for layer, (fw_cell, bw_cell) in enumerate(zip(self.fw_cells, self.bw_cells)):
            width = self.one_hot_width if layer == 0 and not dropping else 0
            outputs, final_h = run_bidirectional_lstm(
                fw_cell, bw_cell, input_dropout(layer_input, self.dropout_keep_prob, training),
                lengths, width)
            layer_input = tf.concat([outputs[0], outputs[1]], axis=-1)
        return tf.concat([final_h[0], final_h[1]], axis=-1)


def run_bidirectional_lstm(fw_cell: LstmCell, bw_cell: LstmCell, inputs: tf.Tensor,
                           lengths: tf.Tensor, one_hot_width: int = 0
                           ) -> tuple[tf.Tensor, tf.Tensor]:
    """Both directions of an LSTM layer over time-major inputs [time, batch, n], each in the
    events RNN's loop with a hand-written backward (one weight-gradient matmul over all
    steps instead of one per step); the two loops are independent and run side by side.

    The backward direction reads each sequence reversed within its length. Returns
    outputs [2, time, batch, units] (both in input order) and final h [2, batch, units],
    with dynamic_rnn's semantics: zero outputs past each length and the final state that
    of step length - 1 (steps past a length are run but never used). one_hot_width: as
    fused.project_layer_input.
    """
    lengths = tf.cast(lengths, tf.int32)
    num_steps = tf.shape(inputs)[0]
    mask = tf.transpose(tf.sequence_mask(lengths, num_steps, dtype=tf.float32))[:, :, None]
    last = tf.stack([tf.maximum(lengths - 1, 0), tf.range(tf.shape(inputs)[1])], axis=1)

    def reverse(x):
        return tf.reverse_sequence(x, lengths, seq_axis=0, batch_axis=1)

    rows = fused.one_hot_rows(one_hot_width, inputs) if one_hot_width else None
    outputs, finals = [], []
    for cell, backward in ((fw_cell, False), (bw_cell, True)):
        x, x_rows = inputs, rows
        if backward:
            x, x_rows = reverse(x), None if rows is None else reverse(rows)
        projected, recurrent_kernel = fused.project_layer_input(
            x, tf.convert_to_tensor(cell.kernel), tf.convert_to_tensor(cell.bias),
            cell.input_size, one_hot_width, x_rows)
        zeros = tf.zeros([tf.shape(x)[1], cell.units])
        spec = fused.StackSpec(units=(cell.units,), input_size=0)
        hs, _ = backends.run_stack(spec, projected, [],
                                [recurrent_kernel, tf.zeros([4 * cell.units])], [zeros, zeros])
        finals.append(tf.where(lengths[:, None] > 0, tf.gather_nd(hs, last), 0.0))
        hs = hs * mask
        outputs.append(reverse(hs) if backward else hs)
    return tf.stack(outputs), tf.stack(finals)


def sampling_probability(hparams, step: tf.Tensor, training: bool) -> tf.Tensor | float:
    """Scheduled-sampling probability; a Python 0.0 means teacher forcing (REFERENCE.md
    "MusicVAE architecture")."""
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


def sample_one_hot(logits: tf.Tensor, temperature: float | tf.Tensor | None = 1.0) -> tf.Tensor:
    """One-hot draws from softmax(logits / temperature); temperature None: the argmax
    (greedy decoding, as Magenta.js decodes without a temperature)."""
    depth = logits.shape[-1]
    if temperature is None:
        return tf.one_hot(tf.argmax(logits, axis=-1), depth)
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
                Dense(z_size, 2 * sum(self.layer_sizes), normal_initializer(0.001), tf.tanh,
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

    def _stack_step(self, first_projected: tf.Tensor, states, training: bool, kernels):
        """One step of the whole stack given layer 0's projected input; kernels: each
        cell's split_kernel(), taken outside the time loop."""
        new_states = []
        x = None
        for k, cell in enumerate(self.cells):
            if k == 0:
                projected = first_projected
            else:
                projected = cell.project_inputs(
                    input_dropout(x, self.dropout_keep_prob, training), kernels[k][0])
            x, state = cell.step(projected, states[k], kernels[k][1])
            new_states.append(state)
        return self.output_projection(x), new_states

    def _first_kernel_parts(self) -> list[tf.Tensor]:
        """Layer 0's kernel rows: [previous output, z, controls, h]."""
        return self.cells[0].split_kernel([self.output_depth, self.z_size, self.control_depth])

    def _aux_projection(self, z: tf.Tensor | None, controls: tf.Tensor | None,
                        num_steps: int | tf.Tensor, kernel_parts: Sequence[tf.Tensor]
                        ) -> tf.Tensor:
        """The z and control part of layer 0's input projection, [batch, time, 4 units]."""
        result = 0.0
        if self.z_size:
            result += tf.matmul(z, kernel_parts[1])[:, tf.newaxis]
        if self.control_depth:
            result += tf.tensordot(tf.cast(controls, tf.float32), kernel_parts[2], axes=1)
        return result + self.cells[0].bias + tf.zeros([1, num_steps, 1])

    def logits(self, x_input: tf.Tensor, z: tf.Tensor | None, lengths: tf.Tensor,
               controls: tf.Tensor | None = None, sampling_probability: float | tf.Tensor = 0.0,
               training: bool = False) -> tf.Tensor:
        """Decoder logits [batch, time, depth] for shifted targets `x_input`.

        With sampling_probability statically 0 this is teacher forcing; otherwise each
        step's previous-output input is, per sequence and with that probability, a
        one-hot sample of the previous step's distribution instead of the truth.
        """
        del lengths  # Steps past a length are computed and masked out of the loss.
        # Static, or a tensor when the caller cut the steps (length_groups).
        num_steps = x_input.shape[1] or tf.shape(x_input)[1]
        batch_size = tf.shape(x_input)[0]
        flat_states = [t for state in self.initial_state(z, batch_size) for t in state]
        x_time = time_major(x_input)
        coins = None
        if not (isinstance(sampling_probability, float) and sampling_probability == 0.0):
            coins = self._coins(sampling_probability, num_steps, batch_size)
        if not (training and self.dropout_keep_prob < 1.0):
            parts = self._first_kernel_parts()
            aux_time = time_major(self._aux_projection(z, controls, num_steps, parts))
            return self._fused_logits(x_time, aux_time, flat_states, parts, coins)

        # With dropout, layer 0's input [previous output, z, controls] is dropped before
        # its projection, at every step: a plain step loop.
        kernels = [cell.split_kernel() for cell in self.cells]
        z_time = tf.zeros([num_steps, batch_size, 0]) if z is None else tf.tile(
            z[tf.newaxis], [num_steps, 1, 1])
        c_time = (tf.zeros([num_steps, batch_size, 0]) if not self.control_depth
                  else time_major(tf.cast(controls, tf.float32)))
        aux_time = tf.concat([z_time, c_time], axis=-1)
        teacher_forcing = coins is None
        if teacher_forcing:
            coins = tf.zeros([num_steps, batch_size], tf.bool)

        def step(carry, elems):
            flat, previous_logits = carry
            x_t, aux_t, coin = elems
            previous = x_t
            if not teacher_forcing:  # no draws when no step can use them
                sampled = tf.stop_gradient(self.sample_outputs(previous_logits))
                previous = tf.where(coin[:, tf.newaxis], sampled, x_t)
            projected = self.cells[0].project_inputs(input_dropout(
                tf.concat([previous, aux_t], axis=-1), self.dropout_keep_prob, True),
                kernels[0][0])
            logits, new_states = self._stack_step(
                projected, [(flat[2 * k], flat[2 * k + 1]) for k in range(len(self.cells))],
                training, kernels)
            return [t for st in new_states for t in st], logits

        _, logits = tf.scan(step, (x_time, aux_time, coins),
                            initializer=(flat_states, tf.zeros([batch_size, self.output_depth])))
        return batch_major(logits)

    @staticmethod
    def _coins(sampling_probability: float | tf.Tensor, num_steps: int | tf.Tensor, batch_size
               ) -> tf.Tensor:
        """[time, batch]: where scheduled sampling feeds back a sample (never at step 0)."""
        return tf.logical_and(tf.random.uniform([num_steps, batch_size]) < sampling_probability,
                              (tf.range(num_steps) > 0)[:, tf.newaxis])

    def _fused_logits(self, x_time, aux_time, flat_states, first_kernel_parts, coins
                      ) -> tf.Tensor:
        """logits() without dropout, in the events RNN's fused loop (rnn.fused: one
        weight-gradient matmul per kernel after the loop instead of one per step); the
        output projection runs once over all steps. coins [T, B]: where each step's
        previous output is a sample instead of the truth (None: teacher forcing)."""
        previous_kernel = first_kernel_parts[0]
        # Layer 0's bias is inside aux_time.
        weights = [first_kernel_parts[-1], tf.zeros([4 * self.layer_sizes[0]])]
        for cell in self.cells[1:]:
            weights += [cell.kernel, cell.bias]
        spec = fused.StackSpec(units=tuple(self.layer_sizes), input_size=0)
        # Tensors, not variables: the fused op's gradient is given per input.
        out_kernel, out_bias = (tf.convert_to_tensor(v) for v in (
            self.output_projection.kernel, self.output_projection.bias))
        if coins is None:
            inputs, feedback = tf.tensordot(x_time, previous_kernel, axes=1) + aux_time, None
        else:
            inputs, feedback = aux_time, fused.Feedback(
                x_time, coins, tf.stop_gradient(out_kernel), tf.stop_gradient(out_bias),
                lambda logits: tf.stop_gradient(self.sample_outputs(logits)))
            weights.append(previous_kernel)
        outputs, _ = backends.run_stack(spec, inputs, [],
                                     [tf.convert_to_tensor(w) for w in weights], flat_states,
                                     feedback)
        return batch_major(tf.tensordot(outputs, out_kernel, axes=1) + out_bias)

    def sample_outputs(self, logits: tf.Tensor, temperature: float | tf.Tensor = 1.0
                       ) -> tf.Tensor:
        """One step's sampled outputs from its logits (subclasses split them)."""
        return sample_one_hot(logits, temperature)

    def sample(self, n: int, max_length: int, z: tf.Tensor | None,
               temperature: float | tf.Tensor = 1.0, controls: tf.Tensor | None = None,
               start_inputs: tf.Tensor | None = None, end_token: int | None = None
               ) -> tf.Tensor:
        """[n, max_length, depth] one-hot samples; steps after an end token are zero."""
        states = self.initial_state(z, n)
        parts = self._first_kernel_parts()
        aux_time = time_major(self._aux_projection(z, controls, max_length, parts))
        previous = (tf.zeros([n, self.output_depth]) if start_inputs is None
                    else tf.cast(start_inputs, tf.float32))
        flat_states = [t for state in states for t in state]
        kernels = [cell.split_kernel() for cell in self.cells]
        kernel_x = parts[0]

        def step(carry, aux_t):
            flat, previous, finished, _ = carry
            logits, new_states = self._stack_step(
                tf.matmul(previous, kernel_x) + aux_t,
                [(flat[2 * k], flat[2 * k + 1]) for k in range(len(self.cells))], False, kernels)
            sample = self.sample_outputs(logits, temperature)
            emitted = tf.where(finished[:, tf.newaxis], tf.zeros_like(sample), sample)
            if end_token is not None:
                finished = finished | tf.equal(tf.argmax(sample, axis=-1), end_token)
            return [t for st in new_states for t in st], sample, finished, emitted

        *_, samples = tf.scan(step, aux_time, initializer=(
            flat_states, previous, tf.zeros([n], tf.bool), tf.zeros([n, self.output_depth])))
        return batch_major(samples)
