"""Multi-output and hierarchical MusicVAE decoders in TF2 (REFERENCE.md "MusicVAE architecture").

* MultiOutCategoricalLstmDecoder: one flat LSTM whose logits are split by
  `output_depths`; a softmax (loss and sampling) per split (flat-trio_16bar).
* SplitMultiOutLstmDecoder: one core decoder per split, all given the same z; the
  outputs are concatenated (the trio core of hierdec-trio_16bar).
* HierarchicalLstmDecoder: a "conductor" LSTM stack, initialised from z, runs
  level_lengths[0] steps on zero inputs (no autoregression); each output is the
  "z" of the core decoder for one level_lengths[-1]-step segment. Training
  decodes all segments at once (they are independent given the conductor);
  sampling runs them in order, each starting from the previous segment's last
  sample.

Every decoder offers the CategoricalLstmDecoder interface used by MusicVAE:
`logits(x_input, z, lengths, controls, sampling_probability, training)`,
`sample(n, max_length, z, temperature, controls, start_inputs, end_token)`, plus
`step_losses(x_target, logits)`. `tf1_decoder_variable_map` gives the original's
variable names, so published V2 checkpoints load by name.

    decoder = build_decoder({'type': 'hierarchical', 'level_lengths': [16, 16],
                             'core': {'type': 'categorical_lstm'}},
                            hparams, output_depth=90)
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import tensorflow as tf

from magenta_rnn.music_vae import length_groups, lstm

DECODER_TYPES = ('categorical_lstm', 'multi_out_categorical_lstm', 'split_multi_out',
                 'hierarchical')


def categorical_step_losses(x_target: tf.Tensor, logits: tf.Tensor
                            ) -> tuple[tf.Tensor, tf.Tensor]:
    """Softmax cross entropy [batch, time] and argmax correctness (0/1) [batch, time]."""
    cross_entropy = tf.nn.softmax_cross_entropy_with_logits(labels=x_target, logits=logits)
    correct = tf.cast(tf.equal(tf.argmax(logits, -1), tf.argmax(x_target, -1)), tf.float32)
    return cross_entropy, correct


def step_losses(decoder: tf.Module, x_target: tf.Tensor, logits: tf.Tensor
                ) -> tuple[tf.Tensor, tf.Tensor]:
    """The decoder's per-step losses and correctness; plain categorical by default."""
    own = getattr(decoder, 'step_losses', None)
    if own is not None:
        return own(x_target, logits)
    return categorical_step_losses(x_target, logits)


def _split_step_losses(depths: Sequence[int], x_target: tf.Tensor, logits: tf.Tensor
                       ) -> tuple[tf.Tensor, tf.Tensor]:
    """Losses summed over the splits; correctness averaged (the mean of per-split accuracies)."""
    losses, corrects = [], []
    for target, split_logits in zip(tf.split(x_target, depths, axis=-1),
                                    tf.split(logits, depths, axis=-1)):
        loss, correct = categorical_step_losses(target, split_logits)
        losses.append(loss)
        corrects.append(correct)
    return tf.add_n(losses), tf.add_n(corrects) / len(depths)


class MultiOutCategoricalLstmDecoder(lstm.CategoricalLstmDecoder):
    """A CategoricalLstmDecoder of depth sum(output_depths) with one softmax per split."""

    def __init__(self, output_depths: Sequence[int], z_size: int, layer_sizes: Sequence[int],
                 dropout_keep_prob: float = 1.0, control_depth: int = 0, name: str = 'decoder'):
        self.output_depths = [int(d) for d in output_depths]
        super().__init__(sum(self.output_depths), z_size, layer_sizes, dropout_keep_prob,
                         control_depth, name=name)

    def sample_outputs(self, logits: tf.Tensor, temperature: float | tf.Tensor = 1.0
                       ) -> tf.Tensor:
        return tf.concat([lstm.sample_one_hot(part, temperature)
                          for part in tf.split(logits, self.output_depths, axis=-1)], axis=-1)

    def step_losses(self, x_target: tf.Tensor, logits: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        return _split_step_losses(self.output_depths, x_target, logits)


class SplitMultiOutLstmDecoder(tf.Module):
    """One core decoder per split of the output, all conditioned on the same z."""

    def __init__(self, core_decoders: Sequence[tf.Module], output_depths: Sequence[int],
                 name: str = 'split_multi_out_decoder'):
        super().__init__(name=name)
        if len(core_decoders) != len(output_depths):
            raise ValueError(f'SplitMultiOutLstmDecoder: {len(core_decoders)} core decoders '
                             f'but {len(output_depths)} output depths')
        for core, depth in zip(core_decoders, output_depths):
            if core.output_depth != depth:
                raise ValueError(f'SplitMultiOutLstmDecoder: core decoder of depth '
                                 f'{core.output_depth} for an output split of depth {depth}')
        self.core_decoders = list(core_decoders)
        self.output_depths = [int(d) for d in output_depths]
        self.output_depth = sum(self.output_depths)
        self.z_size = core_decoders[0].z_size

    def logits(self, x_input: tf.Tensor, z: tf.Tensor | None, lengths: tf.Tensor,
               controls: tf.Tensor | None = None, sampling_probability: float | tf.Tensor = 0.0,
               training: bool = False) -> tf.Tensor:
        parts = tf.split(x_input, self.output_depths, axis=-1)
        return tf.concat([core.logits(part, z, lengths, controls, sampling_probability, training)
                          for core, part in zip(self.core_decoders, parts)], axis=-1)

    def step_losses(self, x_target: tf.Tensor, logits: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        losses, corrects = [], []
        for core, target, part in zip(self.core_decoders,
                                      tf.split(x_target, self.output_depths, axis=-1),
                                      tf.split(logits, self.output_depths, axis=-1)):
            loss, correct = step_losses(core, target, part)
            losses.append(loss)
            corrects.append(correct)
        return tf.add_n(losses), tf.add_n(corrects) / len(losses)

    def sample(self, n: int, max_length: int, z: tf.Tensor | None,
               temperature: float | tf.Tensor = 1.0, controls: tf.Tensor | None = None,
               start_inputs: tf.Tensor | None = None, end_token: int | None = None
               ) -> tf.Tensor:
        if not max_length:
            raise ValueError('SplitMultiOutLstmDecoder needs a max_length to sample')
        starts = ([None] * len(self.core_decoders) if start_inputs is None
                  else tf.split(start_inputs, self.output_depths, axis=-1))
        return tf.concat([core.sample(n, max_length, z, temperature, controls=controls,
                                      start_inputs=start, end_token=end_token)
                          for core, start in zip(self.core_decoders, starts)], axis=-1)


class _Conductor(tf.Module):
    """One level of the hierarchy: an LSTM stack run on zero inputs from tanh(Dense(embedding))."""

    def __init__(self, embedding_size: int, layer_sizes: Sequence[int], num_steps: int,
                 dropout_keep_prob: float, name: str):
        super().__init__(name=name)
        self.layer_sizes = list(layer_sizes)
        self.num_steps = num_steps
        self.dropout_keep_prob = dropout_keep_prob
        with self.name_scope:
            self.initial_state = lstm.Dense(embedding_size, 2 * sum(self.layer_sizes),
                                            lstm.normal_initializer(0.001), tf.tanh,
                                            name='initial_state')
            self.cells = []
            size = 1  # The input is a single zero per step (autoregression disabled).
            for k, units in enumerate(self.layer_sizes):
                self.cells.append(lstm.LstmCell(size, units, name=f'cell_{k}'))
                size = units

    def __call__(self, embedding: tf.Tensor, training: bool = False) -> tf.Tensor:
        """[m, embedding] -> outputs [m * num_steps, layer_sizes[-1]], row i*num_steps + s."""
        parts = tf.split(self.initial_state(embedding),
                         [size for size in self.layer_sizes for _ in range(2)], axis=-1)
        states = [(parts[2 * k], parts[2 * k + 1]) for k in range(len(self.cells))]
        # Zero inputs: the first layer's input projection is its bias.
        first_projected = self.cells[0].bias + tf.zeros_like(parts[1][:, :1])
        kernels = [cell.split_kernel() for cell in self.cells]
        outputs = []
        for _ in range(self.num_steps):
            x = None
            for k, cell in enumerate(self.cells):
                projected = first_projected if k == 0 else cell.project_inputs(
                    lstm.input_dropout(x, self.dropout_keep_prob, training), kernels[k][0])
                x, states[k] = cell.step(projected, states[k], kernels[k][1])
            outputs.append(x)
        return tf.reshape(tf.stack(outputs, axis=1), [-1, self.layer_sizes[-1]])


class HierarchicalLstmDecoder(tf.Module):
    """Conductor levels over a core decoder; sequences are max_seq_len = prod(level_lengths)."""

    def __init__(self, core_decoder: tf.Module, level_lengths: Sequence[int], z_size: int,
                 layer_sizes: Sequence[int], dropout_keep_prob: float = 1.0,
                 disable_autoregression: bool | Sequence[int] = True,
                 name: str = 'hierarchical_decoder'):
        super().__init__(name=name)
        self.level_lengths = [int(n) for n in level_lengths]
        if len(self.level_lengths) < 2:
            raise ValueError('HierarchicalLstmDecoder: level_lengths needs at least 2 levels')
        num_levels = len(self.level_lengths) - 1
        disabled = (list(range(len(self.level_lengths))) if disable_autoregression is True
                    else [] if disable_autoregression is False else list(disable_autoregression))
        if any(level not in disabled for level in range(num_levels)):
            raise NotImplementedError('HierarchicalLstmDecoder: only disable_autoregression=True '
                                      'is supported (as in every shipped config)')
        if core_decoder.z_size != layer_sizes[-1]:
            raise ValueError(f'HierarchicalLstmDecoder: the core decoder takes embeddings of '
                             f'size {core_decoder.z_size}, the conductor gives {layer_sizes[-1]}')
        self.core_decoder = core_decoder
        self.output_depth = core_decoder.output_depth
        self.z_size = z_size
        self.total_length = math.prod(self.level_lengths)
        self.num_segments = math.prod(self.level_lengths[:-1])
        self.segment_length = self.level_lengths[-1]
        with self.name_scope:
            self.conductors = [
                _Conductor(z_size if level == 0 else layer_sizes[-1], layer_sizes,
                           self.level_lengths[level], dropout_keep_prob,
                           name=f'hierarchical_level_{level}')
                for level in range(num_levels)]

    def segment_embeddings(self, z: tf.Tensor, training: bool = False) -> tf.Tensor:
        """[batch * num_segments, conductor units]: row b * num_segments + s conditions
        segment s of sequence b."""
        embedding = z
        for conductor in self.conductors:
            embedding = conductor(embedding, training)
        return embedding

    def _check_length(self, num_steps: int) -> None:
        if num_steps != self.total_length:
            raise ValueError(f'HierarchicalLstmDecoder: sequences must be max_seq_len = '
                             f'{self.total_length} steps (the product of level_lengths '
                             f'{self.level_lengths}), got {num_steps}')

    def segment_lengths(self, lengths: tf.Tensor) -> tf.Tensor:
        """Per-segment lengths [batch, num_segments] from total lengths (each 0 or
        max_seq_len, split evenly) or per-segment lengths given as such."""
        lengths = tf.cast(lengths, tf.int32)
        if lengths.shape.rank == 2:
            return lengths
        tf.debugging.Assert(tf.reduce_all((lengths == 0) | (lengths == self.total_length)),
                            [lengths])
        return tf.tile(lengths[:, tf.newaxis], [1, self.num_segments]) // self.num_segments

    def logits(self, x_input: tf.Tensor, z: tf.Tensor | None, lengths: tf.Tensor,
               controls: tf.Tensor | None = None, sampling_probability: float | tf.Tensor = 0.0,
               training: bool = False) -> tf.Tensor:
        """Logits [batch, max_seq_len, depth]; every segment is teacher-forced on x_input."""
        num_steps = x_input.shape[1]
        self._check_length(num_steps)
        depth = x_input.shape[-1]
        embeddings = self.segment_embeddings(z, training)
        seg_input = tf.reshape(x_input, [-1, self.segment_length, depth])
        seg_controls = None
        if controls is not None and controls.shape[-1]:
            seg_controls = tf.reshape(controls, [-1, self.segment_length, controls.shape[-1]])
        seg_lengths = tf.reshape(self.segment_lengths(lengths), [-1])
        if training and len(lengths.shape) == 2 and length_groups.applies(seg_lengths):
            logits = self._logits_by_length(seg_input, embeddings, seg_lengths, seg_controls,
                                            sampling_probability)
        else:
            logits = self.core_decoder.logits(seg_input, embeddings, seg_lengths, seg_controls,
                                              sampling_probability, training)
        return tf.reshape(logits, [-1, num_steps, logits.shape[-1]])

    def _logits_by_length(self, seg_input, embeddings, seg_lengths, seg_controls,
                          sampling_probability) -> tf.Tensor:
        """Training logits of segments of given, very different lengths (multiperf tracks),
        run in length groups (length_groups): the steps past a segment's length, which the
        loss masks out, are not run and their logits are zeros."""
        groups = length_groups.LengthGroups(seg_lengths)
        parts = []
        for g in range(groups.count):
            steps = groups.steps[g]
            controls = (None if seg_controls is None
                        else groups.take(seg_controls, g)[:, :steps])
            logits = self.core_decoder.logits(
                groups.take(seg_input, g)[:, :steps], groups.take(embeddings, g),
                groups.take(seg_lengths, g), controls, sampling_probability, True)
            parts.append(length_groups.pad_steps(logits, self.segment_length))
        return groups.restore(parts)

    def step_losses(self, x_target: tf.Tensor, logits: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        return step_losses(self.core_decoder, x_target, logits)

    def sample(self, n: int, max_length: int | None, z: tf.Tensor | None,
               temperature: float | tf.Tensor = 1.0, controls: tf.Tensor | None = None,
               start_inputs: tf.Tensor | None = None, end_token: int | None = None
               ) -> tf.Tensor:
        """[n, max_seq_len, depth] samples, segment by segment."""
        if max_length is not None:
            self._check_length(int(max_length))
        embeddings = tf.reshape(self.segment_embeddings(z), [n, self.num_segments, -1])
        has_controls = controls is not None and bool(controls.shape[-1])
        if has_controls:
            seg_controls = tf.reshape(tf.cast(controls, tf.float32), [
                n, self.num_segments, self.segment_length, controls.shape[-1]])
        else:
            seg_controls = tf.zeros([n, self.num_segments, self.segment_length, 0])
        # The core decoders start from zeros when given no start inputs.
        previous = (tf.zeros([n, self.output_depth]) if start_inputs is None
                    else tf.cast(start_inputs, tf.float32))

        def segment(carry, elems):
            last, _ = carry
            embedding, controls_s = elems
            # As the original's TrainedModel, segments never stop at an end token: a
            # track keeps sampling after it (from_tensors cuts there), and its last
            # row starts the next segment.
            samples = self.core_decoder.sample(
                n, self.segment_length, embedding, temperature,
                controls=controls_s if has_controls else None, start_inputs=last)
            return samples[:, -1], samples

        # One loop over the segments, not one unrolled core decoder per segment.
        _, samples = tf.scan(
            segment, (tf.transpose(embeddings, [1, 0, 2]),
                      tf.transpose(seg_controls, [1, 0, 2, 3])),
            initializer=(previous, tf.zeros([n, self.segment_length, self.output_depth])))
        return tf.reshape(tf.transpose(samples, [1, 0, 2, 3]),
                          [n, self.total_length, self.output_depth])


def _core_from_spec(spec: dict[str, Any], hparams, output_depth: int, z_size: int,
                    control_depth: int) -> tf.Module:
    kind = spec.get('type')
    layer_sizes = hparams.dec_rnn_size
    keep = hparams.dropout_keep_prob
    if kind == 'categorical_lstm':
        return lstm.CategoricalLstmDecoder(output_depth, z_size, layer_sizes, keep, control_depth)
    if kind == 'multi_out_categorical_lstm':
        depths = spec['output_depths']
        if sum(depths) != output_depth:
            raise ValueError(f'decoder: output_depths {depths} do not add up to the converter\'s '
                             f'output depth {output_depth}')
        return MultiOutCategoricalLstmDecoder(depths, z_size, layer_sizes, keep, control_depth)
    if kind == 'split_multi_out':
        depths = spec['output_depths']
        cores = spec['core_decoders']
        if sum(depths) != output_depth:
            raise ValueError(f'decoder: output_depths {depths} do not add up to the converter\'s '
                             f'output depth {output_depth}')
        if len(cores) != len(depths):
            raise ValueError(f'decoder: {len(cores)} core_decoders for {len(depths)} '
                             f'output_depths')
        modules = []
        for i, (core, depth) in enumerate(zip(cores, depths)):
            with tf.name_scope(f'core_decoder_{i}'):
                modules.append(_core_from_spec(core, hparams, depth, z_size, control_depth))
        return SplitMultiOutLstmDecoder(modules, depths)
    if kind == 'hierarchical':
        level_lengths = spec.get('level_lengths', [16, 16])
        if math.prod(level_lengths) != hparams.max_seq_len:
            raise ValueError(f'decoder: the product of level_lengths {level_lengths} must equal '
                             f'max_seq_len ({hparams.max_seq_len})')
        core = _core_from_spec(spec.get('core', {'type': 'categorical_lstm'}), hparams,
                               output_depth, layer_sizes[-1], control_depth)
        return HierarchicalLstmDecoder(core, level_lengths, z_size, layer_sizes, keep,
                                       spec.get('disable_autoregression', False))
    raise ValueError(f'decoder type {kind!r} is not supported yet '
                     f'(supported: {", ".join(DECODER_TYPES)})')


def output_splits(decoder: tf.Module) -> list[int]:
    """Depths of the decoder's separate softmaxes ([depth] for a single one)."""
    decoder = getattr(decoder, 'core_decoder', decoder)
    return list(getattr(decoder, 'output_depths', [decoder.output_depth]))


def log_softmax(decoder: tf.Module, logits: tf.Tensor) -> tf.Tensor:
    """log p per output class, normalised within each of the decoder's softmaxes."""
    splits = output_splits(decoder)
    if len(splits) == 1:
        return tf.nn.log_softmax(logits)
    return tf.concat([tf.nn.log_softmax(part) for part in tf.split(logits, splits, axis=-1)],
                     axis=-1)


def build_decoder(spec: dict[str, Any], hparams, output_depth: int,
                  control_depth: int = 0) -> tf.Module:
    """The decoder a config's "decoder" JSON describes, conditioned on z of hparams.z_size."""
    return _core_from_spec(spec, hparams, output_depth, hparams.z_size, control_depth)


def tf1_decoder_variable_map(decoder: tf.Module, prefix: str = ''
                             ) -> dict[str, tf.Variable]:
    """The original's names (REFERENCE.md "MusicVAE architecture") of a decoder's variables, e.g.
    `core_decoder/core_decoder_2/decoder/output_projection/kernel`."""
    names: dict[str, tf.Variable] = {}

    def add(name: str, module) -> None:
        names[f'{name}/kernel'] = module.kernel
        names[f'{name}/bias'] = module.bias

    if isinstance(decoder, HierarchicalLstmDecoder):
        for level, conductor in enumerate(decoder.conductors):
            scope = f'{prefix}decoder/hierarchical_level_{level}'
            add(f'{scope}/initial_state', conductor.initial_state)
            for k, cell in enumerate(conductor.cells):
                add(f'{scope}/cell_{k}/lstm_cell', cell)
        names.update(tf1_decoder_variable_map(decoder.core_decoder, f'{prefix}core_decoder/'))
    elif isinstance(decoder, SplitMultiOutLstmDecoder):
        for i, core in enumerate(decoder.core_decoders):
            names.update(tf1_decoder_variable_map(core, f'{prefix}core_decoder_{i}/'))
    elif isinstance(decoder, lstm.CategoricalLstmDecoder):
        for k, cell in enumerate(decoder.cells):
            add(f'{prefix}decoder/multi_rnn_cell/cell_{k}/lstm_cell', cell)
        if decoder.z_to_initial_state is not None:
            add(f'{prefix}decoder/z_to_initial_state', decoder.z_to_initial_state)
        add(f'{prefix}decoder/output_projection', decoder.output_projection)
    else:
        raise ValueError(f'no TF1 variable names known for {type(decoder).__name__}')
    return names
