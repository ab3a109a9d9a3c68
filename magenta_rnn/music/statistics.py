"""Named statistics that the extractors (extract_melodies, ...) and the pipeline stages report
and merge (REFERENCE.md "Pipeline stages and statistics").

They live in the core because the core's extractors count what they drop; the pipelines merge
them. Two statistics merge when they share a name; stages prefix names with their own.
"""
from __future__ import annotations

import bisect
import copy
import logging
from collections.abc import Callable, Iterable


class MergeStatisticsError(Exception):
    """Two statistics cannot be merged (different names, types or buckets)."""


class Statistic:
    """A named measurement; subclasses define how two of them merge and print."""

    def __init__(self, name: str):
        self.name = name

    def merge_from(self, other: Statistic) -> None:
        """Adds `other` (same name and type) into this statistic."""
        if not isinstance(other, Statistic):
            raise MergeStatisticsError(f'Cannot merge with non-Statistic of type {type(other)}')
        if self.name != other.name:
            raise MergeStatisticsError(
                f'Name "{other.name}" does not match this name "{self.name}"')
        self._merge_from(other)

    def _merge_from(self, other: Statistic) -> None:
        raise NotImplementedError

    def pretty_print(self, name: str | None = None) -> str:
        raise NotImplementedError

    def copy(self) -> Statistic:
        return copy.deepcopy(self)

    def with_name(self, name: str) -> Statistic:
        """A copy under another name (how stages prefix their stats)."""
        renamed = self.copy()
        renamed.name = name
        return renamed

    def __str__(self) -> str:
        return self.pretty_print(self.name)


class Counter(Statistic):
    """A count of occurrences."""

    def __init__(self, name: str, start_value: int = 0):
        super().__init__(name)
        self.count = start_value

    def increment(self, inc: int = 1) -> None:
        self.count += inc

    def _merge_from(self, other: Statistic) -> None:
        if not isinstance(other, Counter):
            raise MergeStatisticsError(f'Cannot merge {type(other).__name__} into Counter')
        self.count += other.count

    def pretty_print(self, name: str | None = None) -> str:
        return '%s: %d' % (self.name if name is None else name, self.count)

    def __repr__(self) -> str:
        return f'Counter({self.name!r}, {self.count})'


class Histogram(Statistic):
    """Counts of values per bucket.

    `buckets` are inclusive lower bounds (deduplicated and sorted); an extra bucket
    from -inf catches everything below the lowest, and the highest bucket runs to
    +inf. Buckets [4, 6, 10] give [-inf,4), [4,6), [6,10), [10,inf).
    """

    def __init__(self, name: str, buckets: Iterable[float], verbose_pretty_print: bool = False):
        super().__init__(name)
        self.buckets = [float('-inf')] + sorted(set(buckets))
        self.counters = {lower: 0 for lower in self.buckets}
        self.verbose_pretty_print = verbose_pretty_print

    def increment(self, value: float, inc: int = 1) -> None:
        """Adds `inc` to the bucket holding `value`."""
        index = bisect.bisect_right(self.buckets, value)
        if not index:
            raise ValueError(f'{self.name}: value {value!r} is below every bucket')
        self.counters[self.buckets[index - 1]] += inc

    def _merge_from(self, other: Statistic) -> None:
        if not isinstance(other, Histogram):
            raise MergeStatisticsError(f'Cannot merge {type(other).__name__} into Histogram')
        if self.buckets != other.buckets:
            raise MergeStatisticsError(
                f'Histogram buckets do not match. Expected {self.buckets}, got {other.buckets}')
        for lower, count in other.counters.items():
            self.counters[lower] += count

    def pretty_print(self, name: str | None = None) -> str:
        """'name:' then one '  [lower,upper): count' line per bucket (non-empty unless verbose)."""
        uppers = self.buckets[1:] + [float('inf')]
        lines = ['  [%s,%s): %d' % (lower, upper, self.counters[lower])
                 for lower, upper in zip(self.buckets, uppers)
                 if self.verbose_pretty_print or self.counters[lower]]
        return ('%s:\n' % (self.name if name is None else name)) + '\n'.join(lines)

    def __repr__(self) -> str:
        return f'Histogram({self.name!r}, {self.counters!r})'


def merge_statistics(stats_list: Iterable[Statistic]) -> list[Statistic]:
    """Merges statistics of the same name; each name appears once, in first-seen order.

    The first statistic of each name is merged into in place, as in the original.
    """
    by_name: dict[str, Statistic] = {}
    for stat in stats_list:
        if stat.name in by_name:
            by_name[stat.name].merge_from(stat)
        else:
            by_name[stat.name] = stat
    return list(by_name.values())


def log_statistics_list(stats_list: Iterable[Statistic],
                        logger_fn: Callable[[str], None] = logging.info) -> None:
    """Calls `logger_fn` on each statistic's pretty print, sorted by name."""
    for stat in sorted(stats_list, key=lambda s: s.name):
        logger_fn(str(stat))
