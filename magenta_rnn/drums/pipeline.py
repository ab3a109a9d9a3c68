"""drums_rnn_create_dataset's pipeline (REFERENCE.md "Drums RNN dataset").

TimeChangeSplitter -> Quantizer(config.steps_per_quarter; 2 for one_drum) ->
DrumsExtractor -> encoder, per mode. No transposition. Stage names carry the
mode suffix as the original's do, so statistics read e.g.
`DrumsExtractor_training_drum_tracks_discarded_too_short`.
"""
from __future__ import annotations

from magenta_rnn.drums.model import build_encoder
from magenta_rnn.music.drums import extract_drum_tracks
from magenta_rnn.music.events import NonIntegerStepsPerBarError
from magenta_rnn.pipelines.stages import Chain, Quantizer, Stage, TimeChangeSplitter
from magenta_rnn.rnn.config import EventsRnnConfig


class DrumsExtractor(Stage):
    """extract_drum_tracks with the DrumsExtractor defaults of REFERENCE.md
    "Drum track extraction"."""

    def __init__(self, name: str, min_bars: int = 7, max_steps: int = 512,
                 gap_bars: float = 1.0):
        super().__init__(name)
        self.settings = dict(min_bars=min_bars, max_steps_truncate=max_steps, gap_bars=gap_bars)

    def transform(self, item):
        try:
            drum_tracks, stats = extract_drum_tracks(item, **self.settings)
        except NonIntegerStepsPerBarError:
            self.count('non_integer_steps_per_bar')
            return []
        self.stats.extend(stats)
        return drum_tracks


class DrumsEncoder(Stage):
    """Encodes each drum track as one serialized SequenceExample."""

    def __init__(self, name: str, config: EventsRnnConfig):
        super().__init__(name)
        self.encoder = build_encoder(config)

    def transform(self, item):
        return [self.encoder.encode_serialized(item)]


def build_chain(config: EventsRnnConfig, mode: str) -> Chain:
    return Chain([
        TimeChangeSplitter(f'TimeChangeSplitter_{mode}'),
        Quantizer(f'Quantizer_{mode}', steps_per_quarter=config.steps_per_quarter),
        DrumsExtractor(f'DrumsExtractor_{mode}'),
        DrumsEncoder(f'EncoderPipeline_{mode}', config),
    ])
