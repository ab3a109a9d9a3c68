"""MusicVAE's hierarchical encoder in TF2 (HierarchicalLstmEncoder in REFERENCE.md
"MusicVAE architecture").

level_lengths [16, 16] over a 256-step sequence: level 0 runs a bidirectional
LSTM encoder over each of the 16 segments of 16 steps (all segments of the batch
at once), level 1 runs another over the 16 segment codes; the last level's code
is the encoding. Level 0 takes per-segment lengths ([batch, segments]) or total
lengths that are 0 or max_seq_len (split evenly); higher levels see every code.

    encoder = HierarchicalLstmEncoder(input_size=90, layer_sizes=[1024],
                                      level_lengths=[16, 16], total_length=256)
    encoding = encoder(sequence, lengths)          # [batch, 2 * 1024]
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import tensorflow as tf

from magenta_rnn.music_vae import lstm


def split_lengths(lengths: tf.Tensor, num_segments: int, total_length: int) -> tf.Tensor:
    """Per-segment lengths [batch, num_segments]: as given when rank 2, else each total
    length (which must be 0 or total_length) split evenly."""
    lengths = tf.cast(lengths, tf.int32)
    if lengths.shape.rank == 2:
        return lengths
    tf.debugging.Assert(tf.reduce_all((lengths == 0) | (lengths == total_length)), [lengths])
    return tf.tile(lengths[:, tf.newaxis], [1, num_segments]) // num_segments


class HierarchicalLstmEncoder(tf.Module):
    """A BidirectionalLstmEncoder per level, in scope encoder/hierarchical_level_<i>."""

    def __init__(self, input_size: int, layer_sizes: Sequence[int],
                 level_lengths: Sequence[int], total_length: int,
                 dropout_keep_prob: float = 1.0, one_hot_width: int = 0,
                 name: str = 'encoder'):
        super().__init__(name=name)
        level_lengths = [int(n) for n in level_lengths]
        if math.prod(level_lengths) != total_length:
            raise ValueError(f'encoder: the product of level_lengths {level_lengths} must '
                             f'equal max_seq_len ({total_length})')
        self.level_lengths = level_lengths
        self.total_length = total_length
        self.levels: list[lstm.BidirectionalLstmEncoder] = []
        size = input_size
        with self.name_scope:
            for level in range(len(self.level_lengths)):
                self.levels.append(lstm.BidirectionalLstmEncoder(
                    size, layer_sizes, dropout_keep_prob,
                    one_hot_width if level == 0 else 0, name=f'hierarchical_level_{level}'))
                size = self.levels[-1].output_depth
        self.output_depth = self.levels[-1].output_depth

    def __call__(self, sequence: tf.Tensor, lengths: tf.Tensor, training: bool = False
                 ) -> tf.Tensor:
        """[batch, max_seq_len, depth] -> [batch, output_depth]."""
        batch_size = tf.shape(sequence)[0]
        num_segments = self.total_length // self.level_lengths[0]
        segment_lengths = tf.reshape(split_lengths(lengths, num_segments, self.total_length),
                                     [-1])
        # Given per-segment lengths (multiperf tracks) differ widely: skip their padding.
        skip_padding = len(lengths.shape) == 2
        for level, encoder in enumerate(self.levels):
            segment_size = self.level_lengths[level]
            depth = sequence.shape[-1]
            segments = tf.reshape(sequence, [-1, segment_size, depth])
            if level:
                segment_lengths = tf.fill([tf.shape(segments)[0]], segment_size)
            codes = encoder(segments, segment_lengths, training=training,
                            skip_padding=skip_padding and not level)
            sequence = tf.reshape(codes, [batch_size, -1, encoder.output_depth])
        return sequence[:, 0]


def tf1_encoder_variable_map(encoder: tf.Module) -> dict[str, tf.Variable]:
    """The original's names of a (flat or hierarchical) encoder's LSTM variables."""
    if isinstance(encoder, HierarchicalLstmEncoder):
        scopes = [(f'encoder/hierarchical_level_{i}', level)
                  for i, level in enumerate(encoder.levels)]
    else:
        scopes = [('encoder', encoder)]
    names: dict[str, tf.Variable] = {}
    for scope, flat in scopes:
        for layer, (fw, bw) in enumerate(zip(flat.fw_cells, flat.bw_cells)):
            for direction, cell in (('fw', fw), ('bw', bw)):
                prefix = (f'{scope}/cell_{layer}/bidirectional_rnn/{direction}/multi_rnn_cell/'
                          f'cell_0/lstm_cell')
                names[f'{prefix}/kernel'] = cell.kernel
                names[f'{prefix}/bias'] = cell.bias
    return names
