"""Performance control signals: note density and pitch-class histogram (REFERENCE.md
"Conditioning and control signals").

Each signal extracts one value per performance event and has an input encoder.
Values are recomputed only at the first event and right after each TIME_SHIFT
(every other event repeats the previous value), from a window of the performance
that starts at that event.

Extraction is vectorised: prefix sums find every window at once; the histogram
sums are then accumulated for all windows together in the original's order, so
the floats match it bit for bit.
"""
from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np

from magenta_rnn.music import constants
from magenta_rnn.music.encoders import (EventSequenceEncoder, OneHotEncoding,
                                        OneHotEventSequenceEncoderDecoder, events_slice,
                                        position_range)
from magenta_rnn.music.performances import PerformanceEvent

NOTES_PER_OCTAVE = constants.NOTES_PER_OCTAVE
DEFAULT_DENSITY_BIN_RANGES = (1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0)


def _recompute_points(types: np.ndarray) -> np.ndarray:
    """Event indices whose control value is computed afresh: 0 and each one after a TIME_SHIFT."""
    if not len(types):
        return np.zeros(0, dtype=np.int64)
    after_shift = np.flatnonzero(types[:-1] == PerformanceEvent.TIME_SHIFT) + 1
    return np.concatenate([[0], after_shift]).astype(np.int64)


def _window_ends(shift_prefix: np.ndarray, starts: np.ndarray, window_steps: int) -> np.ndarray:
    """Per start i, the last event index scanned: the first j >= i whose shifts from i on
    reach `window_steps`, or the final event. shift_prefix[k] = steps of events [0, k)."""
    num_events = len(shift_prefix) - 1
    ends = np.searchsorted(shift_prefix[1:], shift_prefix[starts] + window_steps, side='left')
    return np.minimum(ends, num_events - 1)


def _fill_forward(num_events: int, points: np.ndarray) -> np.ndarray:
    """For each event, the index in `points` of the last recompute point at or before it."""
    owner = np.zeros(num_events, dtype=np.int64)
    owner[points[1:]] = 1
    return np.cumsum(owner)


class PerformanceControlSignal:
    """A per-event control value extracted from a performance, and its input encoder."""

    name: str = ''
    description: str = ''

    def validate(self, value: Any) -> bool:
        raise NotImplementedError

    @property
    def default_value(self) -> Any:
        raise NotImplementedError

    @property
    def encoder(self) -> EventSequenceEncoder:
        raise NotImplementedError

    def extract(self, performance: Any) -> list[Any]:
        """One control value per event of `performance`."""
        raise NotImplementedError


class NoteDensityOneHotEncoding(OneHotEncoding):
    """Bins [0, r0), [r0, r1), ..., [r_last, inf); a bin decodes to its lower edge."""

    def __init__(self, density_bin_ranges: Sequence[float]):
        self._density_bin_ranges = list(density_bin_ranges)
        self._edges = np.asarray(self._density_bin_ranges, dtype=np.float64)

    @property
    def num_classes(self) -> int:
        return len(self._density_bin_ranges) + 1

    @property
    def default_event(self) -> float:
        return 0.0

    def encode_event(self, event: float) -> int:
        for index, density in enumerate(self._density_bin_ranges):
            if event < density:
                return index
        return len(self._density_bin_ranges)

    def encode_events(self, events: Sequence[float]) -> np.ndarray:
        # The first bin whose upper edge exceeds the value = the number of edges <= value.
        values = np.asarray(events, dtype=np.float64).reshape(-1)
        return np.searchsorted(self._edges, values, side='right').astype(np.int64)

    def decode_event(self, index: int) -> float:
        return 0.0 if index == 0 else self._density_bin_ranges[index - 1]


class NoteDensityPerformanceControlSignal(PerformanceControlSignal):
    """Notes per second in a window of `window_size_seconds` from each recompute point."""

    name = 'notes_per_second'
    description = 'Desired number of notes per second.'

    def __init__(self, window_size_seconds: float = 3.0,
                 density_bin_ranges: Sequence[float] = DEFAULT_DENSITY_BIN_RANGES):
        self._window_size_seconds = window_size_seconds
        self._density_bin_ranges = list(density_bin_ranges)
        self._encoder = OneHotEventSequenceEncoderDecoder(
            NoteDensityOneHotEncoding(self._density_bin_ranges))

    def validate(self, value: Any) -> bool:
        # numbers.Number declares no ordering, so `value` keeps its Any type for the
        # comparison; the check is the original's, complex numbers raising as there.
        is_number = isinstance(value, numbers.Number)
        return is_number and value >= 0.0

    @property
    def default_value(self) -> float:
        return constants.DEFAULT_NOTE_DENSITY

    @property
    def encoder(self) -> OneHotEventSequenceEncoderDecoder:
        return self._encoder

    def extract(self, performance: Any) -> list[float]:
        """Per event: NOTE_ONs in the window * steps_per_second / min(steps scanned, window)."""
        steps_per_second = performance.steps_per_second
        window_steps = int(round(self._window_size_seconds * steps_per_second))
        types, values = performance.event_arrays()
        num_events = len(types)
        if not num_events:
            return []
        points = _recompute_points(types)
        if window_steps <= 0:
            return [0.0] * num_events
        shifts = np.where(types == PerformanceEvent.TIME_SHIFT, values, 0)
        shift_prefix = np.concatenate([[0], np.cumsum(shifts)])
        onset_prefix = np.concatenate(
            [[0], np.cumsum(types == PerformanceEvent.NOTE_ON)])
        ends = _window_ends(shift_prefix, points, window_steps)
        note_counts = onset_prefix[ends + 1] - onset_prefix[points]
        scanned = np.minimum(shift_prefix[ends + 1] - shift_prefix[points], window_steps)
        densities = [count * steps_per_second / steps if steps > 0 else 0.0
                     for count, steps in zip(note_counts.tolist(), scanned.tolist())]
        owner = _fill_forward(num_events, points)
        return [densities[k] for k in owner.tolist()]


class PitchHistogramEncoder(EventSequenceEncoder):
    """A 12-bin histogram normalised to sum 1 (all zeros gives 1/12 each)."""

    @property
    def input_size(self) -> int:
        return NOTES_PER_OCTAVE

    def events_to_inputs(self, events, start=0, stop=None):
        start, stop = position_range(len(events), start, stop)
        histograms = np.asarray(events_slice(events, start, stop), dtype=np.float64).reshape(
            -1, NOTES_PER_OCTAVE)
        # Summed left to right like Python's sum(), so the division matches exactly.
        totals = np.cumsum(histograms, axis=1)[:, -1:] if len(histograms) else \
            np.zeros((0, 1))
        safe = np.where(totals > 0, totals, 1.0)
        normalised = np.where(totals > 0, histograms / safe, 1.0 / NOTES_PER_OCTAVE)
        return normalised.astype(np.float32)


class PitchHistogramPerformanceControlSignal(PerformanceControlSignal):
    """Seconds each pitch class sounds in a `window_size_seconds` window, plus a prior."""

    name = 'pitch_class_histogram'
    description = 'Desired weight for each for each of the 12 pitch classes.'

    def __init__(self, window_size_seconds: float = 5.0, prior_count: float = 0.01):
        self._window_size_seconds = window_size_seconds
        self._prior_count = prior_count
        self._encoder = PitchHistogramEncoder()

    def validate(self, value: Any) -> bool:
        return (isinstance(value, list) and len(value) == NOTES_PER_OCTAVE and
                all(isinstance(a, numbers.Number) for a in value))

    @property
    def default_value(self) -> list[float]:
        return list(constants.DEFAULT_PITCH_HISTOGRAM)

    @property
    def encoder(self) -> PitchHistogramEncoder:
        return self._encoder

    def extract(self, performance: Any) -> list[list[float]]:
        """Per event: for each pitch class, prior + seconds its pitches sound in the window.

        A pitch sounds from its NOTE_ON to its NOTE_OFF (a set: a second NOTE_ON of a
        sounding pitch changes nothing). The window starts at the recompute point and
        ends at the TIME_SHIFT that reaches the window size or at the last event.
        """
        steps_per_second = performance.steps_per_second
        window_steps = int(round(self._window_size_seconds * steps_per_second))
        types, values = performance.event_arrays()
        num_events = len(types)
        if not num_events:
            return []
        points = _recompute_points(types)
        histograms = np.full((len(points), NOTES_PER_OCTAVE), float(self._prior_count))
        is_shift = types == PerformanceEvent.TIME_SHIFT
        if window_steps > 0 and is_shift.any():
            sounding = _sounding_counts(types, values)  # [events, 12] before each event
            shift_indices = np.flatnonzero(is_shift)
            seconds = values[shift_indices] / steps_per_second
            shifts = np.where(is_shift, values, 0)
            shift_prefix = np.concatenate([[0], np.cumsum(shifts)])
            ends = _window_ends(shift_prefix, points, window_steps)
            # The TIME_SHIFTs inside each window, as a range of shift_indices.
            first = np.searchsorted(shift_indices, points, side='left')
            last = np.searchsorted(shift_indices, ends, side='right')
            # Add the windows' shifts one position at a time, all windows together, so
            # each bin sees the same sequence of float additions as a per-window loop.
            for offset in range(int((last - first).max(initial=0))):
                current = first + offset
                active = current < last
                if not active.any():
                    break
                shift_pos = np.minimum(current, len(shift_indices) - 1)
                counts = sounding[shift_indices[shift_pos]] * active[:, None]
                increment = seconds[shift_pos][:, None]
                for repeat in range(int(counts.max(initial=0))):
                    histograms += np.where(counts > repeat, increment, 0.0)
        rows = histograms.tolist()
        owner = _fill_forward(num_events, points)
        return [rows[k] for k in owner.tolist()]


def _sounding_counts(types: np.ndarray, values: np.ndarray) -> np.ndarray:
    """[events, 12]: per pitch class, how many pitches sound just before each event."""
    counts = np.zeros((len(types), NOTES_PER_OCTAVE), dtype=np.int64)
    sounding = [False] * (constants.MAX_MIDI_PITCH + 1)
    current = [0] * NOTES_PER_OCTAVE
    note_on, note_off = PerformanceEvent.NOTE_ON, PerformanceEvent.NOTE_OFF
    changed_rows: list[int] = []
    snapshots: list[list[int]] = []
    for i, (event_type, pitch) in enumerate(zip(types.tolist(), values.tolist())):
        if event_type == note_on:
            if not sounding[pitch]:
                sounding[pitch] = True
                current[pitch % NOTES_PER_OCTAVE] += 1
                changed_rows.append(i + 1)
                snapshots.append(list(current))
        elif event_type == note_off:
            if sounding[pitch]:
                sounding[pitch] = False
                current[pitch % NOTES_PER_OCTAVE] -= 1
                changed_rows.append(i + 1)
                snapshots.append(list(current))
    # Row r holds the state after the last change at or before event r-1.
    if changed_rows:
        change_at = np.zeros(len(types) + 1, dtype=np.int64)
        np.add.at(change_at, np.asarray(changed_rows), 1)
        which = np.cumsum(change_at)[:len(types)]  # Changes applied before each event.
        table = np.vstack([np.zeros((1, NOTES_PER_OCTAVE), dtype=np.int64),
                           np.asarray(snapshots, dtype=np.int64)])
        counts = table[which]
    return counts


# Flag name -> signal factory with the Performance RNN settings (REFERENCE.md
# "Performance RNN configs").
def note_density_signal() -> NoteDensityPerformanceControlSignal:
    return NoteDensityPerformanceControlSignal(window_size_seconds=3.0,
                                               density_bin_ranges=DEFAULT_DENSITY_BIN_RANGES)


def pitch_histogram_signal() -> PitchHistogramPerformanceControlSignal:
    return PitchHistogramPerformanceControlSignal(window_size_seconds=5.0)


ALL_PERFORMANCE_CONTROL_SIGNALS = (NoteDensityPerformanceControlSignal,
                                   PitchHistogramPerformanceControlSignal)


def extract_controls(signals: Sequence[PerformanceControlSignal], performance: Any
                     ) -> list[tuple[Any, ...]]:
    """Per event, a tuple with one value per signal (the conditioned encoders' events)."""
    return list(zip(*[signal.extract(performance) for signal in signals]))
