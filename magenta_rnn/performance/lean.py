"""Lean Performance RNN training data: each piece stored once, augmented while training.

`performance_rnn_create_dataset --lean_augmentation` writes, for the training
partition, one record per input piece (its NoteSequence with sustain applied) instead
of the examples of its 35 stretched (0.95..1.05) and transposed (-3..+3) copies: the
full file is ~35x the eval file per input hour (3.4 GB per hour of piano), the lean
one about the size of the input.

`performance_rnn_train` recognises such a file and expands it in its tf.data input
pipeline: every (piece, stretch, transposition) pair, shuffled, goes through the very
stages create_dataset runs (split at 30 s, quantize, transpose, extract, encode), so
one pass over the pairs yields exactly the full training file's examples, in another
order: the same distribution of examples. The stored record's format and the stage that
writes it (PieceWriter) are create_dataset's, in performance.pipeline.
"""
from __future__ import annotations

import itertools

from magenta_rnn.performance.model import setup
from magenta_rnn.performance.pipeline import (SOURCE_FEATURE, SPLIT_HOP_SECONDS, STRETCH_FACTORS,
                                              TRANSPOSITIONS, PerformanceEncoder,
                                              PerformanceExtractor, piece_of_record)
from magenta_rnn.pipelines.stages import Chain, Quantizer, Splitter, Stretcher, Transposer
from magenta_rnn.protobuf import example_pb2
from magenta_rnn.rnn.config import EventsRnnConfig

# (stretch factor, transposition) of each training variant of a piece, 35 in all.
AUGMENTATIONS = list(itertools.product(STRETCH_FACTORS['training'], TRANSPOSITIONS['training']))


class PieceAugmenter:
    """record, variant index -> the serialized examples of that augmented copy of the piece.

    Used by the input pipeline (rnn.data.use_record_expander); it runs in tf.data's
    threads, so it keeps no state between calls beyond its stages.
    """

    def __init__(self, config: EventsRnnConfig):
        performance_setup = setup(config)
        self._chains = [Chain([
                Stretcher('StretchPipeline_training', [stretch]),
                Splitter('Splitter_training', SPLIT_HOP_SECONDS),
                Quantizer('Quantizer_training', steps_per_second=performance_setup.steps_per_second),
                Transposer('TranspositionPipeline_training', [transposition]),
                PerformanceExtractor('PerformanceExtractor_training',
                                     num_velocity_bins=performance_setup.num_velocity_bins,
                                     note_performance=performance_setup.note_performance),
                PerformanceEncoder('EncoderPipeline_training', performance_setup)])
                for stretch, transposition in AUGMENTATIONS]

    @property
    def num_variants(self) -> int:
        return len(self._chains)

    def __call__(self, record: bytes, variant: int) -> list[bytes]:
        examples, _ = self._chains[variant].transform(piece_of_record(record))
        return examples

    @staticmethod
    def is_source(record: bytes) -> bool:
        """Whether a training record is a stored piece (lean file) rather than an example."""
        try:
            example = example_pb2.SequenceExample.FromString(record)
        except Exception:  # not a SequenceExample at all
            return False
        return SOURCE_FEATURE in example.context.feature

