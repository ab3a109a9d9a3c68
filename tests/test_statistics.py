"""Pipeline statistics (REFERENCE.md "Pipeline stages and statistics"); cases ported from magenta's
statistics_test."""
import pytest

from magenta_rnn.music.statistics import (Counter, Histogram, MergeStatisticsError,
                                              log_statistics_list, merge_statistics)


def test_counter():
    counter = Counter('name_123')
    assert counter.count == 0
    counter.increment()
    assert counter.count == 1
    counter.increment(10)
    assert counter.count == 11
    counter.merge_from(Counter('name_123', 5))
    assert counter.count == 16
    with pytest.raises(MergeStatisticsError):
        counter.merge_from(object())
    assert str(counter) == 'name_123: 16'
    counter_copy = counter.copy()
    counter.increment()
    assert (counter_copy.name, counter_copy.count) == ('name_123', 16)


def test_histogram_buckets_are_lower_bounds():
    histo = Histogram('name_123', [1, 2, 10])
    assert histo.counters == {float('-inf'): 0, 1: 0, 2: 0, 10: 0}
    histo.increment(1)
    assert histo.counters == {float('-inf'): 0, 1: 1, 2: 0, 10: 0}
    histo.increment(3, 3)
    assert histo.counters == {float('-inf'): 0, 1: 1, 2: 3, 10: 0}
    histo.increment(20)
    histo.increment(100)
    assert histo.counters == {float('-inf'): 0, 1: 1, 2: 3, 10: 2}
    histo.increment(0)
    histo.increment(-10)
    assert histo.counters == {float('-inf'): 2, 1: 1, 2: 3, 10: 2}


def test_histogram_merge_print_and_copy():
    histo = Histogram('name_123', [1, 2, 10])
    for value, inc in [(1, 1), (3, 3), (20, 1), (100, 1), (0, 1), (-10, 1)]:
        histo.increment(value, inc)
    other = Histogram('name_123', [10, 2, 1, 2])  # Deduplicated and sorted.
    other.increment(0, 4)
    other.increment(2, 10)
    other.increment(10, 1)
    histo.merge_from(other)
    assert histo.counters == {float('-inf'): 6, 1: 1, 2: 13, 10: 3}
    with pytest.raises(MergeStatisticsError,
                       match=r'Histogram buckets do not match. '
                             r'Expected \[-inf, 1, 2, 10\], got \[-inf, 1, 2, 7\]'):
        histo.merge_from(Histogram('name_123', [1, 2, 7]))
    with pytest.raises(MergeStatisticsError):
        histo.merge_from(Counter('name_123'))
    assert str(histo) == 'name_123:\n  [-inf,1): 6\n  [1,2): 1\n  [2,10): 13\n  [10,inf): 3'
    histo_copy = histo.copy()
    histo.increment(5)
    assert histo_copy.counters == {float('-inf'): 6, 1: 1, 2: 13, 10: 3}
    assert histo_copy.name == 'name_123'


def test_histogram_pretty_print_skips_empty_buckets_unless_verbose():
    histo = Histogram('lengths', [0, 5])
    histo.increment(7)
    assert str(histo) == 'lengths:\n  [5,inf): 1'
    histo.verbose_pretty_print = True
    assert str(histo) == 'lengths:\n  [-inf,0): 0\n  [0,5): 0\n  [5,inf): 1'


def test_merge_different_names_fails():
    with pytest.raises(MergeStatisticsError):
        Counter('counter_1').merge_from(Counter('counter_2'))


def test_merge_statistics_by_name():
    merged = merge_statistics([Counter('a', 1), Counter('b', 2), Counter('a', 3)])
    assert [(s.name, s.count) for s in merged] == [('a', 4), ('b', 2)]


def test_log_statistics_sorted_by_name():
    lines = []
    log_statistics_list([Counter('b', 2), Counter('a', 1)], lines.append)
    assert lines == ['a: 1', 'b: 2']


def test_with_name_renames_a_copy():
    counter = Counter('count', 3)
    renamed = counter.with_name('Stage_count')
    assert (renamed.name, renamed.count, counter.name) == ('Stage_count', 3, 'count')
