"""performance_rnn_create_dataset's pipeline (REFERENCE.md "Performance RNN dataset").

SustainApplier -> Stretcher -> Splitter(30 s) -> Quantizer(steps_per_second) ->
Transposer -> PerformanceExtractor -> encoder, per mode. Training mode stretches by
5 factors and transposes by -3..+3, so one 30-second piece gives up to 35 examples
(70 with optional conditioning, which encodes each performance twice); eval mode
does neither. A lean training chain (create_dataset --lean_augmentation) stores each
sustained piece once and leaves stretching and transposing to the input pipeline
(performance.lean); the stored record's format and its writer are here.
"""
from __future__ import annotations

from magenta_rnn.music.performance_encoders import encoder_arguments
from magenta_rnn.music.performance_extraction import extract_performances
from magenta_rnn.performance.model import PerformanceSetup, setup
from magenta_rnn.pipelines.stages import (Chain, Quantizer, SustainApplier, Splitter, Stage,
                                          Stretcher, Transposer)
from magenta_rnn.protobuf import example_pb2, music_pb2
from magenta_rnn.rnn.config import EventsRnnConfig

MIN_EVENTS = 32
MAX_EVENTS = 512
SPLIT_HOP_SECONDS = 30.0
STRETCH_FACTORS = {'training': (0.95, 0.975, 1.0, 1.025, 1.05), 'eval': (1.0,)}
TRANSPOSITIONS = {'training': tuple(range(-3, 4)), 'eval': (0,)}
# The SequenceExample context feature that holds a stored piece (see rnn.data).
SOURCE_FEATURE = 'note_sequence'


class PerformanceExtractor(Stage):
    """extract_performances with create_dataset's settings (REFERENCE.md "Performance extraction",
    "Performance RNN dataset")."""

    def __init__(self, name: str, min_events: int = MIN_EVENTS, max_events: int = MAX_EVENTS,
                 num_velocity_bins: int = 0, note_performance: bool = False):
        super().__init__(name)
        self.settings = dict(min_events_discard=min_events, max_events_truncate=max_events,
                             num_velocity_bins=num_velocity_bins,
                             note_performance=note_performance)

    def transform(self, item):
        performances, stats = extract_performances(item, **self.settings)
        self.stats.extend(stats)
        return performances


class PerformanceEncoder(Stage):
    """Encodes a performance; with controls, encodes (controls, performance) per event.

    Optional conditioning gives two examples per performance: controls on, then off.
    """

    def __init__(self, name: str, performance_setup: PerformanceSetup):
        super().__init__(name)
        self.setup = performance_setup

    def transform(self, item):
        s = self.setup
        return [s.encoder.encode_serialized(*arguments) for arguments in
                encoder_arguments(s.control_signals, s.optional_conditioning, item)]


def piece_record(sequence: music_pb2.NoteSequence) -> bytes:
    """A SequenceExample holding only the piece, as the lean training file stores it."""
    example = example_pb2.SequenceExample()
    example.context.feature[SOURCE_FEATURE].bytes_list.value.append(sequence.SerializeToString())
    return example.SerializeToString()


def piece_of_record(record: bytes) -> music_pb2.NoteSequence:
    """The piece a lean training record stores (the inverse of piece_record)."""
    example = example_pb2.SequenceExample.FromString(record)
    return music_pb2.NoteSequence.FromString(
            example.context.feature[SOURCE_FEATURE].bytes_list.value[0])


class PieceWriter(Stage):
    """The last stage of a lean training chain: the sustained piece, stored once."""

    def transform(self, item):
        self.count('pieces_stored')
        return [piece_record(item)]


def build_chain(config: EventsRnnConfig, mode: str, lean: bool = False) -> Chain:
    if lean and mode == 'training':
        return Chain([SustainApplier(f'SustainPipeline_{mode}'),
                      PieceWriter(f'LeanPieces_{mode}')])
    performance_setup = setup(config)
    return Chain([
        SustainApplier(f'SustainPipeline_{mode}'),
        Stretcher(f'StretchPipeline_{mode}', STRETCH_FACTORS[mode]),
        Splitter(f'Splitter_{mode}', SPLIT_HOP_SECONDS),
        Quantizer(f'Quantizer_{mode}', steps_per_second=performance_setup.steps_per_second),
        Transposer(f'TranspositionPipeline_{mode}', TRANSPOSITIONS[mode]),
        PerformanceExtractor(f'PerformanceExtractor_{mode}',
                             num_velocity_bins=performance_setup.num_velocity_bins,
                             note_performance=performance_setup.note_performance),
        PerformanceEncoder(f'EncoderPipeline_{mode}', performance_setup),
    ])
