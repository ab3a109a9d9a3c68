"""Pieces of a NoteSequence: trimming, extracting a time range, and splitting at fixed hops or
at tempo and time-signature changes (note_seq's sequences_lib, REFERENCE.md "Quantization").

State events (tempo, key, time signature, pedal) carry into every piece; notes crossing a
split are cut or dropped as the original does.
"""
from __future__ import annotations

from typing import Any, Callable, Hashable, Iterable, Sequence

import numpy as np

from magenta_rnn.music import constants
from magenta_rnn.music.sequences import (NoteSequence, assert_unquantized, copy_sequence,
                                         describe)

_BEAT = NoteSequence.TextAnnotation.BEAT
_CHORD_SYMBOL = NoteSequence.TextAnnotation.CHORD_SYMBOL

# Pedal controls whose latest value is carried into every extracted subsequence.
DEFAULT_SUBSEQUENCE_PRESERVE_CONTROL_NUMBERS = (64, 66, 67)  # sustain, sostenuto, una corda


def trim_note_sequence(ns: NoteSequence, start_time: float, end_time: float) -> NoteSequence:
    """Keeps notes starting in [start_time, end_time), clipping their ends at end_time.

    Times are not shifted; other events are kept unchanged.
    """
    assert_unquantized(ns, 'trim')
    trimmed = copy_sequence(ns)
    notes = trimmed.notes
    for i in range(len(notes) - 1, -1, -1):
        note = notes[i]
        if note.start_time < start_time or note.start_time >= end_time:
            del notes[i]
        elif note.end_time > end_time:
            note.end_time = end_time
    trimmed.total_time = min(ns.total_time, end_time)
    return trimmed


def _carry_stateful_events(events: Iterable, split_times: Sequence[float],
                           containers: list, state_key: Callable[[Any], Hashable]) -> None:
    """Distributes events that set a state (tempo, key, pedal, ...) over the pieces.

    Each piece gets the events strictly inside it, shifted to its start, plus the
    latest event per `state_key` from before it, placed at time 0. An event exactly
    on a boundary belongs to the next piece as its state.
    """
    num_pieces = len(split_times) - 1
    state: dict = {}
    piece = -1

    def seed(index: int) -> None:
        for carried in state.values():
            added = containers[index].add()
            added.CopyFrom(carried)
            added.time = 0.0

    for event in sorted(events, key=lambda e: e.time):
        time = event.time
        if time <= split_times[0]:
            state[state_key(event)] = event
            continue
        while piece < num_pieces and time > split_times[piece + 1]:
            piece += 1
            if piece == num_pieces:
                break
            seed(piece)
        if piece == num_pieces:
            break
        if time < split_times[piece + 1]:
            added = containers[piece].add()
            added.CopyFrom(event)
            added.time = time - split_times[piece]
        state[state_key(event)] = event
    while piece < num_pieces - 1:
        piece += 1
        seed(piece)


def _one_state(_event) -> int:
    return 0


def _items_by_piece(items: Iterable, time_of: Callable[[Any], float],
                    split_times: Sequence[float]) -> Iterable[tuple[int, Any]]:
    """(piece index, item) for each item in [split_times[0], split_times[-1]), in time order."""
    num_pieces = len(split_times) - 1
    piece = -1
    for item in sorted(items, key=time_of):
        time = time_of(item)
        if time < split_times[0]:
            continue
        while piece < num_pieces and time >= split_times[piece + 1]:
            piece += 1
        if piece == num_pieces:
            return
        yield piece, item


def _extract_subsequences(ns: NoteSequence, split_times: Sequence[float],
                          preserve_control_numbers: Sequence[int] | None = None
                          ) -> list[NoteSequence]:
    """Pieces [split_times[i], split_times[i+1]) of `ns`, each shifted to start at 0."""
    assert_unquantized(ns, 'extract subsequences from')
    if len(split_times) < 2:
        raise ValueError('Must provide at least a start and end time.')
    if any(a > b for a, b in zip(split_times[:-1], split_times[1:])):
        raise ValueError(f'Split times must be sorted: {list(split_times)}.')
    if any(t >= ns.total_time for t in split_times[:-1]):
        raise ValueError(
            f'{describe(ns)}: cannot extract a subsequence starting at or past its end '
            f'({ns.total_time} s).')
    if preserve_control_numbers is None:
        preserve_control_numbers = DEFAULT_SUBSEQUENCE_PRESERVE_CONTROL_NUMBERS

    template = copy_sequence(ns)
    template.total_time = 0.0
    for field in ('notes', 'time_signatures', 'key_signatures', 'tempos',
                  'text_annotations', 'control_changes', 'pitch_bends'):
        template.ClearField(field)
    num_pieces = len(split_times) - 1
    pieces = []
    for _ in range(num_pieces):
        pieces.append(copy_sequence(template))

    # Notes go to the piece holding their start, clipped at its end.
    totals = [0.0] * num_pieces
    for piece, note in _items_by_piece(ns.notes, lambda n: n.start_time, split_times):
        offset = split_times[piece]
        added = pieces[piece].notes.add()
        added.CopyFrom(note)
        added.start_time = note.start_time - offset
        added.end_time = min(note.end_time, split_times[piece + 1]) - offset
        if added.end_time > totals[piece]:
            totals[piece] = added.end_time
    for subsequence, total in zip(pieces, totals):
        subsequence.total_time = total

    chords = [ta for ta in ns.text_annotations if ta.annotation_type == _CHORD_SYMBOL]
    for events, field in ((ns.time_signatures, 'time_signatures'),
                          (ns.key_signatures, 'key_signatures'),
                          (ns.tempos, 'tempos'),
                          (chords, 'text_annotations')):
        _carry_stateful_events(events, split_times,
                               [getattr(p, field) for p in pieces], _one_state)

    # Beats are stateless: each goes only to the piece it falls in.
    beats = [ta for ta in ns.text_annotations if ta.annotation_type == _BEAT]
    for piece, beat in _items_by_piece(beats, lambda e: e.time, split_times):
        added = pieces[piece].text_annotations.add()
        added.CopyFrom(beat)
        added.time = beat.time - split_times[piece]

    # Pedals carry their state per (instrument, control); other CCs and pitch bends go.
    pedals = [cc for cc in ns.control_changes if cc.control_number in preserve_control_numbers]
    _carry_stateful_events(pedals, split_times, [p.control_changes for p in pieces],
                           lambda cc: (cc.instrument, cc.control_number))

    for subsequence, start_time in zip(pieces, split_times[:-1]):
        subsequence.subsequence_info.start_time_offset = start_time
        subsequence.subsequence_info.end_time_offset = (
            ns.total_time - start_time - subsequence.total_time)
    return pieces


def extract_subsequence(ns: NoteSequence, start_time: float, end_time: float,
                        preserve_control_numbers: Sequence[int] | None = None) -> NoteSequence:
    """The part of `ns` in [start_time, end_time), shifted to start at 0.

    Notes starting before start_time are dropped and notes are clipped at end_time.
    The latest time signature, key, tempo, chord and pedal state from before
    start_time is placed at time 0. Other control changes and pitch bends are dropped.
    """
    return _extract_subsequences(ns, [start_time, end_time], preserve_control_numbers)[0]


class _NotesCrossing:
    """Tracks, for increasing times t, whether some note starts before t and ends after it."""

    def __init__(self, ns: NoteSequence):
        self._by_start = sorted(ns.notes, key=lambda n: n.start_time)
        self._next = 0
        self._open: list = []

    def any_at(self, time: float) -> bool:
        by_start = self._by_start
        while self._next < len(by_start) and by_start[self._next].start_time < time:
            self._open.append(by_start[self._next])
            self._next += 1
        self._open = [note for note in self._open if note.end_time > time]
        return bool(self._open)


def split_note_sequence(ns: NoteSequence, hop_size_seconds: float | list[float],
                        skip_splits_inside_notes: bool = False) -> list[NoteSequence]:
    """Splits at every multiple of `hop_size_seconds` below total_time (or at listed times).

    With `skip_splits_inside_notes`, a split that would cut a sounding note is skipped.
    """
    if isinstance(hop_size_seconds, list):
        candidates = sorted(hop_size_seconds)
    else:
        # np.arange fixes the exact float split points (the original uses it too).
        candidates = np.arange(hop_size_seconds, ns.total_time, hop_size_seconds).tolist()
    crossing = _NotesCrossing(ns) if skip_splits_inside_notes else None
    split_times = [0.0]
    for time in candidates:
        if crossing is None or not crossing.any_at(time):
            split_times.append(time)
    if ns.total_time > split_times[-1]:
        split_times.append(ns.total_time)
    if len(split_times) < 2:
        return []
    return _extract_subsequences(ns, split_times)


def split_note_sequence_on_time_changes(ns: NoteSequence,
                                        skip_splits_inside_notes: bool = False
                                        ) -> list[NoteSequence]:
    """Splits wherever the time signature or tempo really changes (state starts 4/4, 120 qpm)."""
    numerator, denominator = 4, 4
    qpm = constants.DEFAULT_QUARTERS_PER_MINUTE
    # Time signatures sort before tempos at equal times (stable sort).
    changes = [(ts, True) for ts in ns.time_signatures] + [(t, False) for t in ns.tempos]
    changes.sort(key=lambda change: change[0].time)
    crossing = _NotesCrossing(ns) if skip_splits_inside_notes else None
    split_times = [0.0]
    for change, is_time_signature in changes:
        time = change.time
        if time >= ns.total_time:
            continue
        if is_time_signature:
            if change.numerator == numerator and change.denominator == denominator:
                continue
        elif change.qpm == qpm:
            continue
        inside_note = crossing is not None and crossing.any_at(time)
        if time > split_times[-1] and not inside_note:
            split_times.append(time)
        if is_time_signature:
            numerator, denominator = change.numerator, change.denominator
        else:
            qpm = change.qpm
    if ns.total_time > split_times[-1]:
        split_times.append(ns.total_time)
    if len(split_times) < 2:
        return []
    return _extract_subsequences(ns, split_times)
