"""Dataset-pipeline stages: small named transforms from one item to a list of items.

Each stage reports statistics under its own name (`<stage name>_<stat name>`),
as the original's pipelines do, so the create_dataset summaries read the same.
A Chain runs stages in order; the model packages assemble their chains from
these NoteSequence stages plus their own extractor and encoder stages.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from magenta_rnn.music import sequences, subsequences, transforms
from magenta_rnn.music.constants import MAX_MIDI_PITCH, MIN_MIDI_PITCH
from magenta_rnn.music.statistics import Counter, Statistic

log = logging.getLogger(__name__)


class Stage:
    """A named transform; `transform` returns outputs and leaves stats in `self.stats`."""

    def __init__(self, name: str):
        self.name = name
        self.stats: list[Statistic] = []

    def transform(self, item: Any) -> list[Any]:
        raise NotImplementedError

    def count(self, stat_name: str, amount: int = 1) -> None:
        self.stats.append(Counter(stat_name, amount))

    def take_stats(self) -> list[Statistic]:
        """The stats since the last call, renamed `<stage name>_<stat name>`."""
        taken = [s.with_name(f'{self.name}_{s.name}') for s in self.stats]
        self.stats = []
        return taken


class FunctionStage(Stage):
    """A stage from a function item -> list of items, or -> (items, stats)."""

    def __init__(self, name: str, function: Callable[[Any], Any]):
        super().__init__(name)
        self._function = function

    def transform(self, item: Any) -> list[Any]:
        result = self._function(item)
        if isinstance(result, tuple):
            result, stats = result
            self.stats.extend(stats)
        return list(result)


class Chain:
    """Runs items through stages in order; each output of one stage feeds the next."""

    def __init__(self, stages: Sequence[Stage]):
        self.stages = list(stages)

    def transform(self, item: Any) -> tuple[list[Any], list[Statistic]]:
        items = [item]
        stats: list[Statistic] = []
        for stage in self.stages:
            next_items = []
            for current in items:
                next_items.extend(stage.transform(current))
            stats.extend(stage.take_stats())
            items = next_items
            if not items:
                break
        return items, stats


class TimeChangeSplitter(Stage):
    def transform(self, item):
        return subsequences.split_note_sequence_on_time_changes(item)


class Splitter(Stage):
    """Cuts a sequence into pieces of `hop_seconds`."""

    def __init__(self, name: str, hop_seconds: float):
        super().__init__(name)
        self.hop_seconds = hop_seconds

    def transform(self, item):
        return subsequences.split_note_sequence(item, self.hop_seconds)


class Quantizer(Stage):
    """Quantizes by steps per quarter (relative) or per second (absolute), not both."""

    def __init__(self, name: str, steps_per_quarter: int | None = None,
                 steps_per_second: int | None = None):
        super().__init__(name)
        if (steps_per_quarter is None) == (steps_per_second is None):
            raise ValueError('Quantizer needs exactly one of steps_per_quarter and steps_per_second')
        self.steps_per_quarter = steps_per_quarter
        self.steps_per_second = steps_per_second

    def transform(self, item):
        try:
            if self.steps_per_quarter is not None:
                return [sequences.quantize_note_sequence(item, self.steps_per_quarter)]
            return [sequences.quantize_note_sequence_absolute(item, self.steps_per_second)]
        except sequences.MultipleTimeSignatureError as e:
            log.debug('multiple time signatures in %s: %s', item.filename, e)
            self.count('sequences_discarded_because_multiple_time_signatures')
        except sequences.MultipleTempoError as e:
            log.debug('multiple tempos in %s: %s', item.filename, e)
            self.count('sequences_discarded_because_multiple_tempos')
        except sequences.BadTimeSignatureError as e:
            log.debug('bad time signature in %s: %s', item.filename, e)
            self.count('sequences_discarded_because_bad_time_signature')
        return []


class SustainApplier(Stage):
    def transform(self, item):
        return [transforms.apply_sustain_control_changes(item)]


class Stretcher(Stage):
    """One time-stretched copy per factor."""

    def __init__(self, name: str, stretch_factors: Iterable[float]):
        super().__init__(name)
        self.stretch_factors = list(stretch_factors)

    def transform(self, item):
        return [transforms.stretch_note_sequence(item, factor) for factor in self.stretch_factors]


class Transposer(Stage):
    """One copy per amount (0 included); a copy with any pitch out of range is dropped whole."""

    def __init__(self, name: str, transposition_range: Iterable[int],
                 min_pitch: int = MIN_MIDI_PITCH, max_pitch: int = MAX_MIDI_PITCH):
        super().__init__(name)
        self.transposition_range = list(transposition_range)
        self.min_pitch = min_pitch
        self.max_pitch = max_pitch

    def transform(self, item):
        transposed = []
        skipped = 0
        pitches = [note.pitch for note in item.notes if not note.is_drum]
        lowest, highest = (min(pitches), max(pitches)) if pitches else (0, 0)
        for amount in self.transposition_range:
            if pitches and (lowest + amount < self.min_pitch or highest + amount > self.max_pitch):
                skipped += 1
                continue
            if amount == 0:
                transposed.append(item)
                continue
            copy = type(item)()
            copy.CopyFrom(item)
            for note in copy.notes:
                if not note.is_drum:
                    note.pitch += amount
            transposed.append(copy)
        # Both counts even when zero, as the original prints them.
        self.count('skipped_due_to_range_exceeded', skipped)
        self.count('transpositions_generated', len(transposed))
        return transposed
