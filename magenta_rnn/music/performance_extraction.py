"""extract_performances: the performance(s) of a quantized NoteSequence, cut and counted as the
original's performance extractor does (REFERENCE.md "Performance extraction"), with the
statistics create_dataset prints.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from magenta_rnn.music import sequences, statistics
from magenta_rnn.music.performances import (BasePerformance, MetricPerformance, NotePerformance,
                                            Performance, TooManyDurationStepsError,
                                            TooManyTimeShiftStepsError)


PERFORMANCE_STAT_NAMES = ('performances_discarded_too_short', 'performances_truncated',
                          'performances_truncated_timewise',
                          'performances_discarded_more_than_1_program',
                          'performance_discarded_too_many_time_shift_steps',
                          'performance_discarded_too_many_duration_steps')


def extract_performances(quantized_sequence: Any, start_step: int = 0,
                         min_events_discard: int | None = None,
                         max_events_truncate: int | None = None,
                         max_steps_truncate: int | None = None, num_velocity_bins: int = 0,
                         split_instruments: bool = False, note_performance: bool = False
                         ) -> tuple[list[BasePerformance], list[statistics.Statistic]]:
    """The performance(s) of a quantized NoteSequence, with statistics (REFERENCE.md
    "Performance extraction").

    One performance of all notes (none when the notes use more than one program),
    or one per instrument with `split_instruments`. Each is cut to
    `max_steps_truncate` steps, then to `max_events_truncate` events, and dropped when
    shorter than `min_events_discard` events.
    """
    sequences.assert_is_quantized_sequence(quantized_sequence)
    stats = {name: statistics.Counter(name) for name in PERFORMANCE_STAT_NAMES}
    # Lengths are counted in seconds (absolute timing) or in bars (metric timing).
    steps_per_length_unit: float
    absolute = sequences.is_absolute_quantized_sequence(quantized_sequence)
    if absolute:
        steps_per_length_unit = quantized_sequence.quantization_info.steps_per_second
        lengths = statistics.Histogram(
            'performance_lengths_in_seconds', [5, 10, 20, 30, 40, 60, 120])
    else:
        steps_per_length_unit = sequences.steps_per_bar_in_quantized_sequence(quantized_sequence)
        lengths = statistics.Histogram(
            'performance_lengths_in_bars', [1, 10, 20, 30, 40, 50, 100, 200, 500])

    instruments: Iterable[int | None]
    if split_instruments:
        # The original walks a set of small ints, i.e. ascending order.
        instruments = sorted(set(note.instrument for note in quantized_sequence.notes))
    else:
        instruments = [None]
        if len(set(note.program for note in quantized_sequence.notes)) > 1:
            stats['performances_discarded_more_than_1_program'].increment()
            return [], [*stats.values(), lengths]

    performances: list[BasePerformance] = []
    for instrument in instruments:
        performance: BasePerformance
        if note_performance:
            try:
                performance = NotePerformance(quantized_sequence, start_step=start_step,
                                              num_velocity_bins=num_velocity_bins,
                                              instrument=instrument)
            except TooManyTimeShiftStepsError:
                stats['performance_discarded_too_many_time_shift_steps'].increment()
                continue
            except TooManyDurationStepsError:
                stats['performance_discarded_too_many_duration_steps'].increment()
                continue
        elif absolute:
            performance = Performance(quantized_sequence, start_step=start_step,
                                      num_velocity_bins=num_velocity_bins, instrument=instrument)
        else:
            performance = MetricPerformance(quantized_sequence, start_step=start_step,
                                            num_velocity_bins=num_velocity_bins,
                                            instrument=instrument)
        if max_steps_truncate is not None and performance.num_steps > max_steps_truncate:
            performance.set_length(max_steps_truncate)
            stats['performances_truncated_timewise'].increment()
        if max_events_truncate is not None and len(performance) > max_events_truncate:
            performance.truncate(max_events_truncate)
            stats['performances_truncated'].increment()
        if min_events_discard is not None and len(performance) < min_events_discard:
            stats['performances_discarded_too_short'].increment()
            continue
        performances.append(performance)
        lengths.increment(performance.num_steps // steps_per_length_unit)
    return performances, [*stats.values(), lengths]
