"""NoteSequence utilities: quantization, splitting, sustain, stretch, transposition.

Behaviour follows note_seq's sequences_lib to the number (REFERENCE.md "Quantization"): the dataset
pipelines depend on every rounding and boundary rule here. Pure protobuf and
Python; no TensorFlow. No function mutates its input unless it says so
(`in_place=True`); each makes at most one full copy of the sequence.
"""
from __future__ import annotations

import logging
import random
import re
from typing import Callable, Hashable, Iterable, Sequence

import numpy as np

from magenta_rnn.music import constants
from magenta_rnn.protobuf import music_pb2

NoteSequence = music_pb2.NoteSequence

_BEAT = NoteSequence.TextAnnotation.BEAT
_CHORD_SYMBOL = NoteSequence.TextAnnotation.CHORD_SYMBOL

# Pedal controls whose latest value is carried into every extracted subsequence.
DEFAULT_SUBSEQUENCE_PRESERVE_CONTROL_NUMBERS = (64, 66, 67)  # sustain, sostenuto, una corda

_log = logging.getLogger(__name__)


class SequencesError(Exception):
    """Base class of every error raised by this module."""


class QuantizationError(SequencesError):
    """A sequence cannot be quantized as asked."""


class BadTimeSignatureError(QuantizationError):
    pass


class MultipleTimeSignatureError(QuantizationError):
    pass


class MultipleTempoError(QuantizationError):
    pass


class NegativeTimeError(QuantizationError):
    pass


class QuantizationStatusError(SequencesError):
    """A sequence was quantized where an unquantized one was expected, or the reverse."""


class ChordSymbolError(SequencesError):
    pass


def _describe(ns: NoteSequence) -> str:
    return ns.filename or ns.id or '<unnamed>'


def _copy(ns: NoteSequence) -> NoteSequence:
    result = NoteSequence()
    result.CopyFrom(ns)
    return result


# ---------------------------------------------------------------------------
# Quantization status

def is_quantized_sequence(ns: NoteSequence) -> bool:
    info = ns.quantization_info
    return info.steps_per_quarter > 0 or info.steps_per_second > 0


def is_relative_quantized_sequence(ns: NoteSequence) -> bool:
    return ns.quantization_info.steps_per_quarter > 0


def is_absolute_quantized_sequence(ns: NoteSequence) -> bool:
    return ns.quantization_info.steps_per_second > 0


def assert_is_quantized_sequence(ns: NoteSequence) -> None:
    if not is_quantized_sequence(ns):
        raise QuantizationStatusError(f'NoteSequence {_describe(ns)} is not quantized.')


def assert_is_relative_quantized_sequence(ns: NoteSequence) -> None:
    if not is_relative_quantized_sequence(ns):
        raise QuantizationStatusError(
            f'NoteSequence {_describe(ns)} is not quantized relative to tempo '
            '(steps_per_quarter is unset).')


def assert_is_absolute_quantized_sequence(ns: NoteSequence) -> None:
    if not is_absolute_quantized_sequence(ns):
        raise QuantizationStatusError(
            f'NoteSequence {_describe(ns)} is not quantized in absolute time '
            '(steps_per_second is unset).')


def _assert_unquantized(ns: NoteSequence, what: str) -> None:
    if is_quantized_sequence(ns):
        raise QuantizationStatusError(
            f'Can only {what} an unquantized NoteSequence; {_describe(ns)} is quantized.')


def steps_per_bar_in_quantized_sequence(ns: NoteSequence) -> float:
    """Steps in one bar of the (single) time signature; may be fractional."""
    assert_is_relative_quantized_sequence(ns)
    time_signature = ns.time_signatures[0]
    quarters_per_bar = (4.0 / time_signature.denominator) * time_signature.numerator
    return ns.quantization_info.steps_per_quarter * quarters_per_bar


# ---------------------------------------------------------------------------
# Quantization

def quantize_to_step(seconds: float, steps_per_second: float,
                     quantize_cutoff: float = constants.QUANTIZE_CUTOFF) -> int:
    """Step index of `seconds`: values at or past `quantize_cutoff` of a step round up."""
    return int(seconds * steps_per_second + (1 - quantize_cutoff))


def steps_per_quarter_to_steps_per_second(steps_per_quarter: float, qpm: float) -> float:
    return steps_per_quarter * qpm / 60.0


def _quantize_events(qns: NoteSequence, steps_per_second: float) -> None:
    """Fills the quantized step fields of notes, control changes and text annotations."""
    total_steps = qns.total_quantized_steps
    for note in qns.notes:
        start = quantize_to_step(note.start_time, steps_per_second)
        end = quantize_to_step(note.end_time, steps_per_second)
        if end == start:
            end += 1  # a note always lasts at least one step
        if start < 0 or end < 0:
            raise NegativeTimeError(
                f'{_describe(qns)}: note at negative time (start step {start}, end step {end}).')
        note.quantized_start_step = start
        note.quantized_end_step = end
        if end > total_steps:
            total_steps = end
    qns.total_quantized_steps = total_steps
    for events in (qns.control_changes, qns.text_annotations):
        for event in events:
            step = quantize_to_step(event.time, steps_per_second)
            if step < 0:
                raise NegativeTimeError(f'{_describe(qns)}: event at negative step {step}.')
            event.quantized_step = step


def _is_power_of_two(x: int) -> bool:
    return x > 0 and x & (x - 1) == 0


def quantize_note_sequence(ns: NoteSequence, steps_per_quarter: int) -> NoteSequence:
    """A copy of `ns` quantized relative to its single tempo and time signature."""
    qns = _copy(ns)
    qns.quantization_info.steps_per_quarter = steps_per_quarter

    if qns.time_signatures:
        by_time = sorted(qns.time_signatures, key=lambda ts: ts.time)
        first = by_time[0]
        # An implicit 4/4 holds from time 0, so a later first signature is a change.
        if first.time != 0 and not (first.numerator == 4 and first.denominator == 4):
            raise MultipleTimeSignatureError(
                f'{_describe(qns)}: implicit change from 4/4 to '
                f'{first.numerator}/{first.denominator} at {first.time:.2f} s.')
        # Later signatures are compared with the first one as stored (not by time).
        kept = qns.time_signatures[0]
        for ts in by_time[1:]:
            if ts.numerator != kept.numerator or ts.denominator != kept.denominator:
                raise MultipleTimeSignatureError(
                    f'{_describe(qns)}: time signature changes from '
                    f'{first.numerator}/{first.denominator} to '
                    f'{ts.numerator}/{ts.denominator} at {ts.time:.2f} s.')
        kept.time = 0
        del qns.time_signatures[1:]
    else:
        qns.time_signatures.add(time=0, numerator=4, denominator=4)

    time_signature = qns.time_signatures[0]
    if not _is_power_of_two(time_signature.denominator):
        raise BadTimeSignatureError(
            f'{_describe(qns)}: time signature denominator is not a power of 2: '
            f'{time_signature.numerator}/{time_signature.denominator}.')
    if time_signature.numerator == 0:
        raise BadTimeSignatureError(
            f'{_describe(qns)}: time signature numerator is 0: '
            f'{time_signature.numerator}/{time_signature.denominator}.')

    if qns.tempos:
        by_time = sorted(qns.tempos, key=lambda t: t.time)
        first = by_time[0]
        if first.time != 0 and first.qpm != constants.DEFAULT_QUARTERS_PER_MINUTE:
            raise MultipleTempoError(
                f'{_describe(qns)}: implicit tempo change from '
                f'{constants.DEFAULT_QUARTERS_PER_MINUTE:.1f} to {first.qpm:.1f} qpm '
                f'at {first.time:.2f} s.')
        kept = qns.tempos[0]
        for tempo in by_time[1:]:
            if tempo.qpm != kept.qpm:
                raise MultipleTempoError(
                    f'{_describe(qns)}: tempo changes from {first.qpm:.1f} to '
                    f'{tempo.qpm:.1f} qpm at {tempo.time:.2f} s.')
        kept.time = 0
        del qns.tempos[1:]
    else:
        qns.tempos.add(time=0, qpm=constants.DEFAULT_QUARTERS_PER_MINUTE)

    steps_per_second = steps_per_quarter_to_steps_per_second(
        steps_per_quarter, qns.tempos[0].qpm)
    qns.total_quantized_steps = quantize_to_step(qns.total_time, steps_per_second)
    _quantize_events(qns, steps_per_second)
    return qns


def quantize_note_sequence_absolute(ns: NoteSequence, steps_per_second: int) -> NoteSequence:
    """A copy of `ns` quantized in absolute time; tempos and time signatures are ignored."""
    qns = _copy(ns)
    qns.quantization_info.steps_per_second = steps_per_second
    qns.total_quantized_steps = quantize_to_step(qns.total_time, steps_per_second)
    _quantize_events(qns, steps_per_second)
    return qns


# ---------------------------------------------------------------------------
# Subsequences and splitting

def trim_note_sequence(ns: NoteSequence, start_time: float, end_time: float) -> NoteSequence:
    """Keeps notes starting in [start_time, end_time), clipping their ends at end_time.

    Times are not shifted; other events are kept unchanged.
    """
    _assert_unquantized(ns, 'trim')
    trimmed = _copy(ns)
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
                           containers: list, state_key: Callable[[object], Hashable]) -> None:
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


def _extract_subsequences(ns: NoteSequence, split_times: Sequence[float],
                          preserve_control_numbers: Sequence[int] | None = None
                          ) -> list[NoteSequence]:
    """Pieces [split_times[i], split_times[i+1]) of `ns`, each shifted to start at 0."""
    _assert_unquantized(ns, 'extract subsequences from')
    if len(split_times) < 2:
        raise ValueError('Must provide at least a start and end time.')
    if any(a > b for a, b in zip(split_times[:-1], split_times[1:])):
        raise ValueError(f'Split times must be sorted: {list(split_times)}.')
    if any(t >= ns.total_time for t in split_times[:-1]):
        raise ValueError(
            f'{_describe(ns)}: cannot extract a subsequence starting at or past its end '
            f'({ns.total_time} s).')
    if preserve_control_numbers is None:
        preserve_control_numbers = DEFAULT_SUBSEQUENCE_PRESERVE_CONTROL_NUMBERS

    template = _copy(ns)
    template.total_time = 0.0
    for field in ('notes', 'time_signatures', 'key_signatures', 'tempos',
                  'text_annotations', 'control_changes', 'pitch_bends'):
        template.ClearField(field)
    num_pieces = len(split_times) - 1
    pieces = []
    for _ in range(num_pieces):
        pieces.append(_copy(template))

    # Notes go to the piece holding their start, clipped at its end.
    piece = -1
    totals = [0.0] * num_pieces
    for note in sorted(ns.notes, key=lambda n: n.start_time):
        start = note.start_time
        if start < split_times[0]:
            continue
        while piece < num_pieces and start >= split_times[piece + 1]:
            piece += 1
        if piece == num_pieces:
            break
        offset = split_times[piece]
        added = pieces[piece].notes.add()
        added.CopyFrom(note)
        added.start_time = start - offset
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
    piece = -1
    for beat in sorted(beats, key=lambda e: e.time):
        time = beat.time
        if time < split_times[0]:
            continue
        while piece < num_pieces and time >= split_times[piece + 1]:
            piece += 1
        if piece == num_pieces:
            break
        added = pieces[piece].text_annotations.add()
        added.CopyFrom(beat)
        added.time = time - split_times[piece]

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


# ---------------------------------------------------------------------------
# Sustain

_SUSTAIN_ON, _SUSTAIN_OFF, _NOTE_ON, _NOTE_OFF = 0, 1, 2, 3


def apply_sustain_control_changes(ns: NoteSequence,
                                  sustain_control_number: int = 64) -> NoteSequence:
    """A copy of `ns` with note ends extended while the sustain pedal is down.

    Per instrument, CC values >= 64 press the pedal and < 64 release it. A sustained
    note lasts until the pedal is released or its pitch is struck again. Drums are
    untouched.
    """
    _assert_unquantized(ns, 'apply sustain to')
    sequence = _copy(ns)
    notes = sequence.notes

    pitched = [note for note in notes if not note.is_drum]
    events = [(note.start_time, _NOTE_ON, note) for note in pitched]
    events += [(note.end_time, _NOTE_OFF, note) for note in pitched]
    for cc in sequence.control_changes:
        if cc.control_number != sustain_control_number:
            continue
        value = cc.control_value
        if value < 0 or value > 127:
            _log.warning('%s: sustain control change has out of range value %d',
                         _describe(ns), value)
        events.append((cc.time, _SUSTAIN_ON if value >= 64 else _SUSTAIN_OFF, cc))
    # Stable sort: at equal times pedal on, pedal off, note on, note off.
    events.sort(key=lambda e: (e[0], e[1]))

    # Per-instrument lists of sounding notes. Membership and removal use message
    # equality (as Python lists do), which matters only for identical duplicate notes.
    active: dict[int, list] = {}
    pedal_down: dict[int, bool] = {}
    time = 0
    for time, kind, event in events:
        instrument = event.instrument
        if kind == _SUSTAIN_ON:
            pedal_down[instrument] = True
        elif kind == _SUSTAIN_OFF:
            pedal_down[instrument] = False
            still_sounding = []
            for note in active.get(instrument, ()):
                if note.end_time < time:
                    # Held only by the pedal: it ends with the pedal.
                    note.end_time = time
                    if time > sequence.total_time:
                        sequence.total_time = time
                else:
                    still_sounding.append(note)
            active[instrument] = still_sounding
        elif kind == _NOTE_ON:
            sounding = active.setdefault(instrument, [])
            if pedal_down.get(instrument, False):
                kept = []
                for note in sounding:
                    if note.pitch == event.pitch:
                        # Restriking a held pitch ends the held note.
                        note.end_time = time
                        if note.start_time == note.end_time:
                            # Same pitch struck at the same time: keep just one note.
                            _remove_equal(notes, note)
                    else:
                        kept.append(note)
                sounding = active[instrument] = kept
            sounding.append(event)
        else:  # _NOTE_OFF
            if not pedal_down.get(instrument, False):
                sounding = active.get(instrument)
                if sounding:
                    try:
                        sounding.remove(event)
                    except ValueError:
                        pass  # already ended by a restrike under the pedal

    # Notes still held at the end last until the last event.
    for sounding in active.values():
        for note in sounding:
            note.end_time = time
            sequence.total_time = time
    return sequence


def _remove_equal(repeated, message) -> None:
    """Deletes the first element equal to `message` (list.remove semantics)."""
    for i, element in enumerate(repeated):
        if element == message:
            del repeated[i]
            return
    raise ValueError('message not found')


# ---------------------------------------------------------------------------
# Stretch, transpose, augment

def stretch_note_sequence(ns: NoteSequence, stretch_factor: float,
                          in_place: bool = False) -> NoteSequence:
    """Multiplies every time by `stretch_factor` and divides every tempo by it."""
    _assert_unquantized(ns, 'stretch')
    stretched = ns if in_place else _copy(ns)
    if stretch_factor == 1.0:
        return stretched
    for note in stretched.notes:
        note.start_time *= stretch_factor
        note.end_time *= stretch_factor
    stretched.total_time *= stretch_factor
    for events in (stretched.time_signatures, stretched.key_signatures, stretched.tempos,
                   stretched.pitch_bends, stretched.control_changes,
                   stretched.text_annotations):
        for event in events:
            event.time *= stretch_factor
    for tempo in stretched.tempos:
        tempo.qpm /= stretch_factor
    return stretched


def transpose_note_sequence(ns: NoteSequence, amount: int,
                            min_allowed_pitch: int = constants.MIN_MIDI_PITCH,
                            max_allowed_pitch: int = constants.MAX_MIDI_PITCH,
                            transpose_chords: bool = True,
                            in_place: bool = False) -> tuple[NoteSequence, int]:
    """Shifts non-drum pitches, chord symbols and keys by `amount` semitones.

    Notes that would leave [min_allowed_pitch, max_allowed_pitch] are deleted.
    total_time becomes the latest end of the remaining notes. With
    `transpose_chords=False` chord symbols are removed instead.
    Returns (sequence, number of deleted notes).
    """
    transposed = ns if in_place else _copy(ns)
    notes = transposed.notes
    dropped = []
    end_time = 0
    for i, note in enumerate(notes):
        if note.is_drum:
            end_time = max(end_time, note.end_time)
            continue
        pitch = note.pitch + amount
        if min_allowed_pitch <= pitch <= max_allowed_pitch:
            end_time = max(end_time, note.end_time)
            note.pitch = pitch
            note.pitch_name = NoteSequence.UNKNOWN_PITCH_NAME  # no longer spelled right
        else:
            dropped.append(i)
    for i in reversed(dropped):
        del notes[i]
    transposed.total_time = end_time

    annotations = transposed.text_annotations
    if transpose_chords:
        for ta in annotations:
            if ta.annotation_type == _CHORD_SYMBOL and ta.text != constants.NO_CHORD:
                ta.text = transpose_chord_symbol(ta.text, amount)
    else:
        for i in range(len(annotations) - 1, -1, -1):
            if annotations[i].annotation_type == _CHORD_SYMBOL:
                del annotations[i]

    for ks in transposed.key_signatures:
        ks.key = (ks.key + amount) % 12
    return transposed, len(dropped)


def _clamp_transpose(amount: int, ns_min_pitch: int, ns_max_pitch: int,
                     min_allowed_pitch: int, max_allowed_pitch: int) -> int:
    """Limits `amount` so the pitch range [ns_min_pitch, ns_max_pitch] stays allowed."""
    if amount < 0:
        return -min(ns_min_pitch - min_allowed_pitch, abs(amount))
    return min(max_allowed_pitch - ns_max_pitch, amount)


def augment_note_sequence(ns: NoteSequence, min_stretch_factor: float,
                          max_stretch_factor: float, min_transpose: int, max_transpose: int,
                          min_allowed_pitch: int = constants.MIN_MIDI_PITCH,
                          max_allowed_pitch: int = constants.MAX_MIDI_PITCH,
                          delete_out_of_range_notes: bool = False,
                          rng: random.Random | None = None) -> NoteSequence:
    """A randomly stretched and transposed copy of `ns`.

    Draws stretch ~ uniform(min, max), then transpose ~ randint(min, max) inclusive,
    from `rng` (default: the `random` module, as the original). Unless
    `delete_out_of_range_notes`, the transpose range is clamped so no note leaves
    the allowed pitch range.
    """
    if min_stretch_factor > max_stretch_factor:
        raise ValueError('min_stretch_factor should be <= max_stretch_factor')
    if min_allowed_pitch > max_allowed_pitch:
        raise ValueError('min_allowed_pitch should be <= max_allowed_pitch')
    if min_transpose > max_transpose:
        raise ValueError('min_transpose should be <= max_transpose')
    rng = rng if rng is not None else random  # the module-level generator, as the original
    augmented = _copy(ns)
    if not augmented.notes:
        return augmented
    stretch_note_sequence(augmented, rng.uniform(min_stretch_factor, max_stretch_factor),
                          in_place=True)
    if not delete_out_of_range_notes:
        pitches = [note.pitch for note in augmented.notes]
        ns_min_pitch, ns_max_pitch = min(pitches), max(pitches)
        if ns_min_pitch < min_allowed_pitch:
            _log.warning('%s: pitch %d is below min_allowed_pitch %d',
                         _describe(ns), ns_min_pitch, min_allowed_pitch)
        if ns_max_pitch > max_allowed_pitch:
            _log.warning('%s: pitch %d is above max_allowed_pitch %d',
                         _describe(ns), ns_max_pitch, max_allowed_pitch)
        min_transpose = _clamp_transpose(min_transpose, ns_min_pitch, ns_max_pitch,
                                         min_allowed_pitch, max_allowed_pitch)
        max_transpose = _clamp_transpose(max_transpose, ns_min_pitch, ns_max_pitch,
                                         min_allowed_pitch, max_allowed_pitch)
    amount = rng.randint(min_transpose, max_transpose)
    transpose_note_sequence(augmented, amount, min_allowed_pitch, max_allowed_pitch,
                            in_place=True)
    return augmented


# ---------------------------------------------------------------------------
# Chord symbols (only what transposition needs: root and bass change, the rest stays)

_CHORD_KIND_ABBREVIATIONS = (
    '', 'maj', 'M', 'm', 'min', '-', '+', 'aug', 'o', 'dim', '7', 'maj7', 'M7',
    'm7', 'min7', '-7', 'o7', 'dim7', '+7', 'aug7', 'm7b5', '-7b5', '/o', '/o7',
    'mmaj7', 'mM7', 'minmaj7', 'minM7', '-maj7', '-M7', 'm(maj7)', 'm(M7)',
    'min(maj7)', 'min(M7)', '-(maj7)', '-(M7)', '6', 'm6', 'min6', '-6', '9',
    'maj9', 'M9', 'm9', 'min9', '-9', '+9', 'aug9', '6/9', '11', 'maj11', 'M11',
    'm11', 'min11', '-11', '13', 'maj13', 'M13', 'm13', 'min13', '-13', 'sus2',
    'sus', 'sus4', 'sus7', '7sus', 'ped', '5')
_DEGREE_MODIFIERS = ('add', 'add#', 'addb', 'no', '#', 'b')
_PITCH_CLASS = r'[A-G](?:#*|b*)(?![#b])'
_CHORD_SYMBOL_RE = re.compile(
    '({root})({kind})({mods})(|/{root})$'.format(
        root=_PITCH_CLASS,
        kind='|'.join(re.escape(k) for k in _CHORD_KIND_ABBREVIATIONS),
        mods=r'(?:\(?(?:%s)[0-9]+\)?)*' % '|'.join(re.escape(m) for m in _DEGREE_MODIFIERS)))
_SEMITONES_TO_NEXT_LETTER = {'A': 2, 'B': 1, 'C': 2, 'D': 2, 'E': 1, 'F': 2, 'G': 2}


def _next_letter(letter: str) -> str:
    return 'ABCDEFG'[('ABCDEFG'.index(letter) + 1) % 7]


def _transpose_pitch_class(name: str, amount: int) -> str:
    """Transposes a spelled pitch class ('C', 'Bb', 'F##') keeping a sensible spelling."""
    letter, accidentals = name[0], name[1:]
    alter = len(accidentals) * (1 if accidentals.startswith('#') else -1)
    amount %= 12
    while amount >= _SEMITONES_TO_NEXT_LETTER[letter]:
        amount -= _SEMITONES_TO_NEXT_LETTER[letter]
        letter = _next_letter(letter)
    if amount > 0:
        if alter >= 0:
            alter -= _SEMITONES_TO_NEXT_LETTER[letter] - amount
            letter = _next_letter(letter)
        else:
            alter += amount
    return letter + abs(alter) * ('#' if alter >= 0 else 'b')


def transpose_chord_symbol(figure: str, amount: int) -> str:
    """Transposes the root and bass of a chord symbol such as 'Bbm7/F'."""
    match = _CHORD_SYMBOL_RE.match(figure)
    if not match:
        raise ChordSymbolError(f'Unable to parse chord symbol: {figure}')
    root, kind, modifications, bass = match.groups()
    if bass:
        bass = '/' + _transpose_pitch_class(bass[1:], amount)
    return _transpose_pitch_class(root, amount) + kind + modifications + bass
