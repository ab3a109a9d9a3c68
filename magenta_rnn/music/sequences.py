"""NoteSequence quantization, its status checks, and the errors of the sequence utilities.

The sequence utilities are split by job: this module (quantization), subsequences.py
(trimming and splitting), transforms.py (sustain, stretch, transposition, augmentation).
Behaviour follows note_seq's sequences_lib to the number (REFERENCE.md "Quantization"): the dataset
pipelines depend on every rounding and boundary rule here. Pure protobuf and
Python; no TensorFlow. No function mutates its input unless it says so
(`in_place=True`); each makes at most one full copy of the sequence.
"""
from __future__ import annotations

from typing import TypeAlias

from magenta_rnn.music import constants
from magenta_rnn.protobuf import music_pb2

NoteSequence: TypeAlias = music_pb2.NoteSequence


class SequencesError(Exception):
    """Base class of the errors of sequences, subsequences and transforms."""


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


def describe(ns: NoteSequence) -> str:
    """The name error messages give a sequence: its filename, else its id."""
    return ns.filename or ns.id or '<unnamed>'


def copy_sequence(ns: NoteSequence) -> NoteSequence:
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
        raise QuantizationStatusError(f'NoteSequence {describe(ns)} is not quantized.')


def assert_is_relative_quantized_sequence(ns: NoteSequence) -> None:
    if not is_relative_quantized_sequence(ns):
        raise QuantizationStatusError(
            f'NoteSequence {describe(ns)} is not quantized relative to tempo '
            '(steps_per_quarter is unset).')


def assert_is_absolute_quantized_sequence(ns: NoteSequence) -> None:
    if not is_absolute_quantized_sequence(ns):
        raise QuantizationStatusError(
            f'NoteSequence {describe(ns)} is not quantized in absolute time '
            '(steps_per_second is unset).')


def assert_unquantized(ns: NoteSequence, what: str) -> None:
    """QuantizationStatusError naming `what` could not be done when `ns` is quantized."""
    if is_quantized_sequence(ns):
        raise QuantizationStatusError(
            f'Can only {what} an unquantized NoteSequence; {describe(ns)} is quantized.')


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
                f'{describe(qns)}: note at negative time (start step {start}, end step {end}).')
        note.quantized_start_step = start
        note.quantized_end_step = end
        if end > total_steps:
            total_steps = end
    qns.total_quantized_steps = total_steps
    for events in (qns.control_changes, qns.text_annotations):
        for event in events:
            step = quantize_to_step(event.time, steps_per_second)
            if step < 0:
                raise NegativeTimeError(f'{describe(qns)}: event at negative step {step}.')
            event.quantized_step = step


def _is_power_of_two(x: int) -> bool:
    return x > 0 and x & (x - 1) == 0


def quantize_note_sequence(ns: NoteSequence, steps_per_quarter: int) -> NoteSequence:
    """A copy of `ns` quantized relative to its single tempo and time signature."""
    qns = copy_sequence(ns)
    qns.quantization_info.steps_per_quarter = steps_per_quarter

    if qns.time_signatures:
        by_time = sorted(qns.time_signatures, key=lambda ts: ts.time)
        first = by_time[0]
        # An implicit 4/4 holds from time 0, so a later first signature is a change.
        if first.time != 0 and not (first.numerator == 4 and first.denominator == 4):
            raise MultipleTimeSignatureError(
                f'{describe(qns)}: implicit change from 4/4 to '
                f'{first.numerator}/{first.denominator} at {first.time:.2f} s.')
        # Later signatures are compared with the first one as stored (not by time).
        kept = qns.time_signatures[0]
        for ts in by_time[1:]:
            if ts.numerator != kept.numerator or ts.denominator != kept.denominator:
                raise MultipleTimeSignatureError(
                    f'{describe(qns)}: time signature changes from '
                    f'{first.numerator}/{first.denominator} to '
                    f'{ts.numerator}/{ts.denominator} at {ts.time:.2f} s.')
        kept.time = 0
        del qns.time_signatures[1:]
    else:
        qns.time_signatures.add(time=0, numerator=4, denominator=4)

    time_signature = qns.time_signatures[0]
    if not _is_power_of_two(time_signature.denominator):
        raise BadTimeSignatureError(
            f'{describe(qns)}: time signature denominator is not a power of 2: '
            f'{time_signature.numerator}/{time_signature.denominator}.')
    if time_signature.numerator == 0:
        raise BadTimeSignatureError(
            f'{describe(qns)}: time signature numerator is 0: '
            f'{time_signature.numerator}/{time_signature.denominator}.')

    if qns.tempos:
        by_time = sorted(qns.tempos, key=lambda t: t.time)
        first = by_time[0]
        if first.time != 0 and first.qpm != constants.DEFAULT_QUARTERS_PER_MINUTE:
            raise MultipleTempoError(
                f'{describe(qns)}: implicit tempo change from '
                f'{constants.DEFAULT_QUARTERS_PER_MINUTE:.1f} to {first.qpm:.1f} qpm '
                f'at {first.time:.2f} s.')
        kept = qns.tempos[0]
        for tempo in by_time[1:]:
            if tempo.qpm != kept.qpm:
                raise MultipleTempoError(
                    f'{describe(qns)}: tempo changes from {first.qpm:.1f} to '
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
    qns = copy_sequence(ns)
    qns.quantization_info.steps_per_second = steps_per_second
    qns.total_quantized_steps = quantize_to_step(qns.total_time, steps_per_second)
    _quantize_events(qns, steps_per_second)
    return qns
