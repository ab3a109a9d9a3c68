"""melody_rnn_create_dataset's pipeline (REFERENCE.md "Melody RNN dataset").

TimeChangeSplitter -> Quantizer(steps_per_quarter) -> Transposer((0,)) ->
MelodyExtractor -> encoder, per mode; stage names carry the mode suffix as the
original's do, so statistics read e.g. `MelodyExtractor_training_melodies_discarded_too_short`.
"""
from __future__ import annotations

from magenta_rnn.melody.model import build_encoder, note_range
from magenta_rnn.music.events import NonIntegerStepsPerBarError
from magenta_rnn.music.melodies import extract_melodies
from magenta_rnn.pipelines.stages import Chain, Quantizer, Stage, TimeChangeSplitter, Transposer
from magenta_rnn.rnn.config import EventsRnnConfig


class MelodyExtractor(Stage):
    """extract_melodies with create_dataset's settings (MelodyExtractor defaults of REFERENCE.md
    "Melody extraction")."""

    def __init__(self, name: str, min_bars: int = 7, max_steps: int = 512,
                 min_unique_pitches: int = 5, gap_bars: float = 1.0,
                 ignore_polyphonic_notes: bool = False, filter_drums: bool = True):
        super().__init__(name)
        self.settings = dict(min_bars=min_bars, max_steps_truncate=max_steps,
                             min_unique_pitches=min_unique_pitches, gap_bars=gap_bars,
                             ignore_polyphonic_notes=ignore_polyphonic_notes,
                             filter_drums=filter_drums)

    def transform(self, item):
        try:
            melodies, stats = extract_melodies(item, **self.settings)
        except NonIntegerStepsPerBarError:
            self.count('non_integer_steps_per_bar')
            return []
        self.stats.extend(stats)
        return melodies


class MelodyEncoder(Stage):
    """Squashes each melody into the config's range and key, then encodes it."""

    def __init__(self, name: str, config: EventsRnnConfig):
        super().__init__(name)
        self.encoder = build_encoder(config)
        self.min_note, self.max_note, self.transpose_to_key = note_range(config)

    def transform(self, item):
        item.squash(self.min_note, self.max_note, self.transpose_to_key)
        return [self.encoder.encode_serialized(item)]


def build_chain(config: EventsRnnConfig, mode: str) -> Chain:
    return Chain([
        TimeChangeSplitter(f'TimeChangeSplitter_{mode}'),
        Quantizer(f'Quantizer_{mode}', steps_per_quarter=config.steps_per_quarter),
        Transposer(f'TranspositionPipeline_{mode}', (0,)),
        MelodyExtractor(f'MelodyExtractor_{mode}'),
        MelodyEncoder(f'EncoderPipeline_{mode}', config),
    ])
