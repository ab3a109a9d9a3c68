"""Tests for magenta_rnn.music.sequences, subsequences, transforms and chord-symbol transposition
(REFERENCE.md "Quantization"); cases follow note_seq's sequences_lib_test."""
from __future__ import annotations

import pytest

from builders import add_notes, note_sequence
from magenta_rnn.music import chords, subsequences, transforms
from magenta_rnn.music import sequences as seq
from magenta_rnn.protobuf import music_pb2

NoteSequence = music_pb2.NoteSequence
CHORD = NoteSequence.TextAnnotation.CHORD_SYMBOL
BEAT = NoteSequence.TextAnnotation.BEAT

# The five notes (pitch, velocity, start, end) most cases use.
FIVE_NOTES = [(12, 100, 0.01, 10.0), (11, 55, 0.22, 0.50), (40, 45, 2.50, 3.50),
              (55, 120, 4.0, 4.01), (52, 99, 4.75, 5.0)]


def base(qpm: float | None = 60.0, time_signature: tuple | None = (4, 4)) -> NoteSequence:
    """A sequence with one 4/4 time signature and a 60 qpm tempo at time 0."""
    return note_sequence(qpm=qpm, time_signature=time_signature)


def add_chords(ns: NoteSequence, chords) -> None:
    for text, time in chords:
        ns.text_annotations.add(time=time, text=text, annotation_type=CHORD)


def add_beats(ns: NoteSequence, times) -> None:
    for time in times:
        ns.text_annotations.add(time=time, annotation_type=BEAT)


def add_ccs(ns: NoteSequence, instrument: int, ccs) -> None:
    for time, number, value in ccs:
        ns.control_changes.add(time=time, control_number=number, control_value=value,
                               instrument=instrument)


def copy_of(ns: NoteSequence) -> NoteSequence:
    result = NoteSequence()
    result.CopyFrom(ns)
    return result


def _round_doubles(message) -> None:
    for field, value in message.ListFields():
        if field.message_type is not None:
            items = value if field.is_repeated else [value]
            for item in items:
                _round_doubles(item)
        elif field.type == field.TYPE_DOUBLE and not field.is_repeated:
            setattr(message, field.name, round(value, 9))


def assert_same(expected: NoteSequence, actual: NoteSequence) -> None:
    """Equal protos up to float rounding noise (e.g. 4.01 - 2.5 vs 1.51)."""
    expected, actual = copy_of(expected), copy_of(actual)
    _round_doubles(expected)
    _round_doubles(actual)
    assert actual == expected, f'\nexpected:\n{expected}\nactual:\n{actual}'


def set_steps(ns: NoteSequence, steps) -> None:
    for note, (start, end) in zip(ns.notes, steps, strict=True):
        note.quantized_start_step, note.quantized_end_step = start, end
        ns.total_quantized_steps = max(ns.total_quantized_steps, end)


# ---------------------------------------------------------------------------
# quantize_to_step and friends

@pytest.mark.parametrize('seconds, sps, cutoff, step', [
    (8.0001, 4, 0.5, 32),
    (8.4999, 4, 0.5, 34),
    (8.4999, 4, 1.0, 33),    # cutoff 1 truncates
    (0.0625, 8, 0.5, 1),     # an exact half step rounds up
    (0.0624, 8, 0.5, 0),
    (2.0, 1, 0.0, 3),        # cutoff 0: an exact integer goes one up
    (0.99, 1, 1.0, 0),
])
def test_quantize_to_step(seconds, sps, cutoff, step):
    assert seq.quantize_to_step(seconds, sps, quantize_cutoff=cutoff) == step


def test_steps_per_quarter_to_steps_per_second():
    assert seq.steps_per_quarter_to_steps_per_second(4, 60.0) == 4.0
    assert seq.steps_per_quarter_to_steps_per_second(4, 120.0) == 8.0


# ---------------------------------------------------------------------------
# quantize_note_sequence / quantize_note_sequence_absolute

def _five_notes_with_chords_and_ccs() -> NoteSequence:
    ns = add_notes(base(), 0, FIVE_NOTES)
    add_chords(ns, [('B7', 0.22), ('Em9', 4.0)])
    add_ccs(ns, 0, [(2.0, 64, 127), (4.0, 64, 0)])
    return ns


def _expected_quantized(ns: NoteSequence) -> NoteSequence:
    expected = copy_of(ns)
    set_steps(expected, [(0, 40), (1, 2), (10, 14), (16, 17), (19, 20)])
    expected.text_annotations[0].quantized_step = 1
    expected.text_annotations[1].quantized_step = 16
    expected.control_changes[0].quantized_step = 8
    expected.control_changes[1].quantized_step = 16
    return expected


def test_quantize_note_sequence_relative():
    ns = _five_notes_with_chords_and_ccs()
    untouched = copy_of(ns)
    expected = _expected_quantized(ns)
    expected.quantization_info.steps_per_quarter = 4  # 4 spq at 60 qpm = 4 steps/s
    assert seq.quantize_note_sequence(ns, 4) == expected
    assert ns == untouched


def test_quantize_note_sequence_absolute():
    ns = _five_notes_with_chords_and_ccs()
    expected = _expected_quantized(ns)
    expected.quantization_info.steps_per_second = 4
    assert seq.quantize_note_sequence_absolute(ns, 4) == expected


def test_quantize_absolute_ignores_tempo_and_time_signature_changes():
    ns = add_notes(base(), 0, [(60, 100, 0.0, 1.0)])
    ns.tempos.add(time=0.5, qpm=90)
    ns.time_signatures.add(time=0.5, numerator=3, denominator=4)
    qns = seq.quantize_note_sequence_absolute(ns, 100)
    assert (qns.notes[0].quantized_start_step, qns.notes[0].quantized_end_step) == (0, 100)
    assert len(qns.tempos) == 2 and len(qns.time_signatures) == 2


def test_quantize_rounding():
    ns = add_notes(base(), 1, [(12, 100, 0.01, 0.24), (11, 100, 0.22, 0.55),
                               (40, 100, 0.50, 0.75), (41, 100, 0.689, 1.18),
                               (44, 100, 1.19, 1.69), (55, 100, 4.0, 4.01)])
    expected = copy_of(ns)
    expected.quantization_info.steps_per_quarter = 4
    set_steps(expected, [(0, 1), (1, 2), (2, 3), (3, 5), (5, 7), (16, 17)])
    assert seq.quantize_note_sequence(ns, 4) == expected


def test_quantize_multitrack():
    ns = base()
    add_notes(ns, 0, [(12, 100, 1.0, 4.0), (19, 100, 0.95, 3.0)])
    add_notes(ns, 3, [(12, 100, 1.0, 4.0), (19, 100, 2.0, 5.0)])
    add_notes(ns, 7, [(12, 100, 1.0, 5.0), (19, 100, 2.0, 4.0), (24, 100, 3.0, 3.5)])
    expected = copy_of(ns)
    expected.quantization_info.steps_per_quarter = 4
    set_steps(expected, [(4, 16), (4, 12), (4, 16), (8, 20), (4, 20), (8, 16), (12, 14)])
    assert seq.quantize_note_sequence(ns, 4) == expected


def test_quantize_zero_length_note_lasts_one_step():
    ns = add_notes(base(), 0, [(60, 100, 1.0, 1.05)])  # both ends at step 4
    note = seq.quantize_note_sequence(ns, 4).notes[0]
    assert (note.quantized_start_step, note.quantized_end_step) == (4, 5)


def test_quantize_total_steps_from_total_time():
    ns = add_notes(base(), 0, [(60, 100, 0.0, 1.0)])
    ns.total_time = 3.0
    assert seq.quantize_note_sequence(ns, 4).total_quantized_steps == 12


def test_quantize_adds_default_time_signature_and_tempo():
    ns = add_notes(base(qpm=None, time_signature=None), 0, [(60, 100, 0.0, 0.5)])
    qns = seq.quantize_note_sequence(ns, 4)
    assert [(t.numerator, t.denominator, t.time) for t in qns.time_signatures] == [(4, 4, 0.0)]
    assert [(t.qpm, t.time) for t in qns.tempos] == [(120.0, 0.0)]
    assert qns.notes[0].quantized_end_step == 4  # 120 qpm: 8 steps/s


def test_quantize_time_signature_changes():
    ns = add_notes(base(time_signature=None), 0, FIVE_NOTES)
    seq.quantize_note_sequence(ns, 4)                       # none
    ns.time_signatures.add(numerator=4, denominator=4, time=0)
    seq.quantize_note_sequence(ns, 4)                       # one
    ns.time_signatures.add(numerator=4, denominator=4, time=1)
    qns = seq.quantize_note_sequence(ns, 4)                 # repeated, no change
    assert len(qns.time_signatures) == 1
    ns.time_signatures.add(numerator=2, denominator=4, time=2)
    with pytest.raises(seq.MultipleTimeSignatureError):
        seq.quantize_note_sequence(ns, 4)


def test_quantize_implicit_time_signature_change():
    ns = add_notes(base(time_signature=None), 0, FIVE_NOTES)
    ns.time_signatures.add(numerator=2, denominator=4, time=2)  # 4/4 until 2 s
    with pytest.raises(seq.MultipleTimeSignatureError):
        seq.quantize_note_sequence(ns, 4)


def test_quantize_time_signatures_out_of_order_are_no_change():
    ns = add_notes(base(time_signature=None), 0, FIVE_NOTES)
    ns.time_signatures.add(numerator=2, denominator=4, time=2)
    ns.time_signatures.add(numerator=2, denominator=4, time=0)
    qns = seq.quantize_note_sequence(ns, 4)
    assert [(t.numerator, t.denominator, t.time) for t in qns.time_signatures] == [(2, 4, 0.0)]


def test_quantize_compares_later_signatures_with_the_first_stored_one():
    # As the original: 3/4 stored first (at 1 s), 4/4 at 0 s is only checked for
    # the implicit change, so no error and the stored first (3/4) is kept at 0.
    ns = add_notes(base(time_signature=None), 0, [(60, 100, 0.0, 1.0)])
    ns.time_signatures.add(numerator=3, denominator=4, time=1)
    ns.time_signatures.add(numerator=4, denominator=4, time=0)
    qns = seq.quantize_note_sequence(ns, 4)
    assert [(t.numerator, t.denominator, t.time) for t in qns.time_signatures] == [(3, 4, 0.0)]


def test_quantize_tempo_changes():
    ns = add_notes(base(qpm=None), 0, FIVE_NOTES)
    seq.quantize_note_sequence(ns, 4)
    ns.tempos.add(qpm=60, time=0)
    seq.quantize_note_sequence(ns, 4)
    ns.tempos.add(qpm=60, time=1)
    assert len(seq.quantize_note_sequence(ns, 4).tempos) == 1
    ns.tempos.add(qpm=120, time=2)
    with pytest.raises(seq.MultipleTempoError):
        seq.quantize_note_sequence(ns, 4)


def test_quantize_implicit_tempo_change():
    ns = add_notes(base(qpm=None), 0, FIVE_NOTES)
    ns.tempos.add(qpm=60, time=2)
    with pytest.raises(seq.MultipleTempoError):
        seq.quantize_note_sequence(ns, 4)
    # A first tempo of 120 qpm after time 0 is no change.
    ns.tempos[0].qpm = 120
    assert seq.quantize_note_sequence(ns, 4).tempos[0].time == 0


def test_quantize_tempos_out_of_order_are_no_change():
    ns = add_notes(base(qpm=None), 0, FIVE_NOTES)
    ns.tempos.add(qpm=60, time=2)
    ns.tempos.add(qpm=60, time=0)
    qns = seq.quantize_note_sequence(ns, 4)
    assert [(t.qpm, t.time) for t in qns.tempos] == [(60.0, 0.0)]


@pytest.mark.parametrize('numerator, denominator', [(4, 3), (3, 0), (0, 4), (4, -4)])
def test_quantize_bad_time_signature(numerator, denominator):
    ns = add_notes(base(time_signature=(numerator, denominator)), 0, [(60, 100, 0.0, 1.0)])
    with pytest.raises(seq.BadTimeSignatureError):
        seq.quantize_note_sequence(ns, 4)


def test_quantize_negative_time():
    ns = add_notes(base(), 0, [(60, 100, -1.0, 1.0)])
    with pytest.raises(seq.NegativeTimeError):
        seq.quantize_note_sequence(ns, 4)
    with pytest.raises(seq.NegativeTimeError):
        seq.quantize_note_sequence_absolute(ns, 100)
    ns = add_notes(base(), 0, [(60, 100, 0.0, 1.0)])
    add_ccs(ns, 0, [(-0.5, 64, 127)])
    with pytest.raises(seq.NegativeTimeError):
        seq.quantize_note_sequence(ns, 4)


def test_errors_share_a_base_class():
    for error in (seq.MultipleTimeSignatureError, seq.MultipleTempoError,
                  seq.BadTimeSignatureError, seq.NegativeTimeError):
        assert issubclass(error, seq.QuantizationError)
    assert issubclass(seq.QuantizationError, seq.SequencesError)
    assert issubclass(seq.QuantizationStatusError, seq.SequencesError)


# ---------------------------------------------------------------------------
# Quantization status

def test_quantization_status_checks():
    ns = add_notes(base(), 0, FIVE_NOTES)
    relative = seq.quantize_note_sequence(ns, 4)
    absolute = seq.quantize_note_sequence_absolute(ns, 4)
    assert [seq.is_quantized_sequence(x) for x in (ns, relative, absolute)] == [False, True, True]
    assert [seq.is_relative_quantized_sequence(x) for x in (ns, relative, absolute)] == [
        False, True, False]
    assert [seq.is_absolute_quantized_sequence(x) for x in (ns, relative, absolute)] == [
        False, False, True]
    seq.assert_is_quantized_sequence(relative)
    seq.assert_is_quantized_sequence(absolute)
    seq.assert_is_relative_quantized_sequence(relative)
    seq.assert_is_absolute_quantized_sequence(absolute)
    with pytest.raises(seq.QuantizationStatusError):
        seq.assert_is_quantized_sequence(ns)
    for bad in (ns, absolute):
        with pytest.raises(seq.QuantizationStatusError):
            seq.assert_is_relative_quantized_sequence(bad)
    for bad in (ns, relative):
        with pytest.raises(seq.QuantizationStatusError):
            seq.assert_is_absolute_quantized_sequence(bad)


@pytest.mark.parametrize('time_signature, steps', [((4, 4), 16.0), ((6, 8), 12.0),
                                                   ((3, 4), 12.0), ((7, 16), 7.0),
                                                   ((5, 2), 40.0)])
def test_steps_per_bar(time_signature, steps):
    qns = seq.quantize_note_sequence(base(time_signature=time_signature), 4)
    result = seq.steps_per_bar_in_quantized_sequence(qns)
    assert result == steps and isinstance(result, float)


def test_steps_per_bar_can_be_fractional():
    qns = seq.quantize_note_sequence(base(time_signature=(3, 8)), 1)
    assert seq.steps_per_bar_in_quantized_sequence(qns) == 1.5


# ---------------------------------------------------------------------------
# trim / extract_subsequence

def test_trim_note_sequence():
    ns = add_notes(base(), 0, FIVE_NOTES)
    expected = add_notes(base(), 0, [(40, 45, 2.50, 3.50), (55, 120, 4.0, 4.01)])
    expected.total_time = 4.75
    assert subsequences.trim_note_sequence(ns, 2.5, 4.75) == expected
    assert len(ns.notes) == 5


def test_trim_clips_note_ends():
    ns = add_notes(base(), 0, [(60, 100, 1.0, 3.0), (62, 100, 2.0, 2.5)])
    trimmed = subsequences.trim_note_sequence(ns, 1.0, 2.25)
    assert [(n.start_time, n.end_time) for n in trimmed.notes] == [(1.0, 2.25), (2.0, 2.25)]
    assert trimmed.total_time == 2.25


def test_extract_subsequence():
    ns = add_notes(base(), 0, FIVE_NOTES)
    add_chords(ns, [('C', 1.5), ('G7', 3.0), ('F', 4.8)])
    add_ccs(ns, 0, [(0.0, 64, 127), (2.0, 64, 0), (4.0, 64, 127), (5.0, 64, 0)])
    add_ccs(ns, 1, [(2.0, 64, 127)])
    expected = add_notes(base(), 0, [(40, 45, 0.0, 1.0), (55, 120, 1.5, 1.51)])
    add_chords(expected, [('C', 0.0), ('G7', 0.5)])
    add_ccs(expected, 0, [(0.0, 64, 0), (1.5, 64, 127)])
    add_ccs(expected, 1, [(0.0, 64, 127)])
    expected.total_time = 1.51
    expected.subsequence_info.start_time_offset = 2.5
    expected.subsequence_info.end_time_offset = 5.99

    subsequence = subsequences.extract_subsequence(ns, 2.5, 4.75)
    subsequence.control_changes.sort(key=lambda cc: (cc.instrument, cc.time))
    assert_same(expected, subsequence)


def test_extract_subsequence_past_end():
    ns = add_notes(base(), 0, FIVE_NOTES)
    add_chords(ns, [('C', 1.5), ('G7', 3.0), ('F', 18.0)])
    with pytest.raises(ValueError):
        subsequences.extract_subsequence(ns, 15.0, 16.0)


def test_extract_subsequence_of_quantized_sequence_fails():
    qns = seq.quantize_note_sequence(add_notes(base(), 0, FIVE_NOTES), 4)
    with pytest.raises(seq.QuantizationStatusError):
        subsequences.extract_subsequence(qns, 0.0, 1.0)


def test_extract_subsequence_pedal_events():
    ns = add_notes(base(), 0, [(60, 80, 2.5, 5.0)])
    add_ccs(ns, 0, [(0.0, 64, 127), (2.0, 64, 0), (4.0, 64, 127), (5.0, 64, 0)])
    add_ccs(ns, 1, [(2.0, 64, 127)])
    add_ccs(ns, 0, [(0.0, 66, 0), (2.0, 66, 127), (4.0, 66, 0), (5.0, 66, 127)])
    add_ccs(ns, 0, [(0.0, 67, 10), (2.0, 67, 20), (4.0, 67, 30), (5.0, 67, 40)])
    add_ccs(ns, 0, [(1.0, 7, 100), (3.0, 7, 90)])  # volume is not a pedal: dropped
    ns.pitch_bends.add(time=3.0, bend=100)          # pitch bends are dropped
    expected = add_notes(base(), 0, [(60, 80, 0, 2.25)])
    add_ccs(expected, 0, [(0.0, 64, 0), (1.5, 64, 127)])
    add_ccs(expected, 1, [(0.0, 64, 127)])
    add_ccs(expected, 0, [(0.0, 66, 127), (1.5, 66, 0)])
    add_ccs(expected, 0, [(0.0, 67, 20), (1.5, 67, 30)])
    expected.total_time = 2.25
    expected.subsequence_info.start_time_offset = 2.5
    expected.subsequence_info.end_time_offset = 0.25

    subsequence = subsequences.extract_subsequence(ns, 2.5, 4.75)
    key = lambda cc: (cc.instrument, cc.control_number, cc.time)  # noqa: E731
    expected.control_changes.sort(key=key)
    subsequence.control_changes.sort(key=key)
    assert_same(expected, subsequence)


# ---------------------------------------------------------------------------
# split_note_sequence

def _split_input(notes=None, chords=(('C', 1.0), ('G7', 2.0), ('F', 4.0))) -> NoteSequence:
    ns = add_notes(base(), 0, notes or [(12, 100, 0.01, 8.0)] + FIVE_NOTES[1:])
    add_chords(ns, chords)
    return ns


def _piece(notes, chords, total, start_offset, end_offset, beats=()) -> NoteSequence:
    piece = add_notes(base(), 0, notes)
    add_chords(piece, chords)
    add_beats(piece, beats)
    piece.total_time = total
    piece.subsequence_info.start_time_offset = start_offset
    piece.subsequence_info.end_time_offset = end_offset
    return piece


def test_split_note_sequence_with_hop_size():
    pieces = subsequences.split_note_sequence(_split_input(), hop_size_seconds=3.0)
    expected = [
        _piece([(12, 100, 0.01, 3.0), (11, 55, 0.22, 0.50), (40, 45, 2.50, 3.0)],
               [('C', 1.0), ('G7', 2.0)], 3.0, 0.0, 5.0),
        _piece([(55, 120, 1.0, 1.01), (52, 99, 1.75, 2.0)], [('G7', 0.0), ('F', 1.0)],
               2.0, 3.0, 3.0),
        _piece([], [('F', 0.0)], 0.0, 6.0, 2.0),
    ]
    assert len(pieces) == 3
    for want, got in zip(expected, pieces):
        assert_same(want, got)


def test_split_note_sequence_at_times():
    pieces = subsequences.split_note_sequence(_split_input(), hop_size_seconds=[3.0, 4.0])
    expected = [
        _piece([(12, 100, 0.01, 3.0), (11, 55, 0.22, 0.50), (40, 45, 2.50, 3.0)],
               [('C', 1.0), ('G7', 2.0)], 3.0, 0.0, 5.0),
        _piece([], [('G7', 0.0)], 0.0, 3.0, 5.0),
        _piece([(55, 120, 0.0, 0.01), (52, 99, 0.75, 1.0)], [('F', 0.0)], 1.0, 4.0, 3.0),
    ]
    assert len(pieces) == 3
    for want, got in zip(expected, pieces):
        assert_same(want, got)


def test_split_note_sequence_skip_splits_inside_notes():
    ns = _split_input([(12, 100, 0.01, 3.0)] + FIVE_NOTES[1:],
                      chords=[('C', 0.0), ('G7', 3.0), ('F', 4.5)])
    pieces = subsequences.split_note_sequence(ns, hop_size_seconds=2.0,
                                              skip_splits_inside_notes=True)
    expected = [
        _piece([(12, 100, 0.01, 3.0), (11, 55, 0.22, 0.50), (40, 45, 2.50, 3.50)],
               [('C', 0.0), ('G7', 3.0)], 3.5, 0.0, 1.5),
        _piece([(55, 120, 0.0, 0.01), (52, 99, 0.75, 1.0)], [('G7', 0.0), ('F', 0.5)],
               1.0, 4.0, 0.0),
    ]
    assert len(pieces) == 2
    for want, got in zip(expected, pieces):
        assert_same(want, got)


def test_split_note_sequence_with_stateless_beats():
    ns = add_notes(base(), 0, [(12, 100, 0.01, 8.0)] + FIVE_NOTES[1:])
    add_beats(ns, [1.0, 2.0, 4.0])
    pieces = subsequences.split_note_sequence(ns, hop_size_seconds=[3.0, 4.0])
    expected = [
        _piece([(12, 100, 0.01, 3.0), (11, 55, 0.22, 0.50), (40, 45, 2.50, 3.0)], [],
               3.0, 0.0, 5.0, beats=[1.0, 2.0]),
        _piece([], [], 0.0, 3.0, 5.0),
        _piece([(55, 120, 0.0, 0.01), (52, 99, 0.75, 1.0)], [], 1.0, 4.0, 3.0, beats=[0.0]),
    ]
    assert len(pieces) == 3
    for want, got in zip(expected, pieces):
        assert_same(want, got)


def test_split_note_sequence_orders_notes_by_start_and_keeps_input():
    ns = add_notes(base(), 0, [(60, 100, 2.0, 2.5), (62, 100, 0.5, 1.0)])
    untouched = copy_of(ns)
    (piece,) = subsequences.split_note_sequence(ns, 30)
    assert [n.pitch for n in piece.notes] == [62, 60]
    assert ns == untouched


def test_split_empty_sequence_gives_nothing():
    assert subsequences.split_note_sequence(base(), 30) == []
    assert subsequences.split_note_sequence_on_time_changes(base()) == []


# ---------------------------------------------------------------------------
# split_note_sequence_on_time_changes

def _five_notes_and_chords(time_signatures, tempos, notes=None) -> NoteSequence:
    ns = base(qpm=None, time_signature=None)
    for time, numerator, denominator in time_signatures:
        ns.time_signatures.add(time=time, numerator=numerator, denominator=denominator)
    for time, qpm in tempos:
        ns.tempos.add(time=time, qpm=qpm)
    add_notes(ns, 0, notes or FIVE_NOTES)
    add_chords(ns, [('C', 1.5), ('G7', 3.0), ('F', 4.8)])
    return ns


def _time_piece(time_signatures, tempos, notes, chords, total, start, end) -> NoteSequence:
    piece = base(qpm=None, time_signature=None)
    for time, numerator, denominator in time_signatures:
        piece.time_signatures.add(time=time, numerator=numerator, denominator=denominator)
    for time, qpm in tempos:
        piece.tempos.add(time=time, qpm=qpm)
    add_notes(piece, 0, notes)
    add_chords(piece, chords)
    piece.total_time = total
    piece.subsequence_info.start_time_offset = start
    piece.subsequence_info.end_time_offset = end
    return piece


@pytest.mark.parametrize('time_signatures', [[(0.0, 4, 4)], [(0.0, 4, 4), (2.0, 4, 4)]])
def test_split_on_time_changes_without_real_changes(time_signatures):
    ns = _five_notes_and_chords(time_signatures, [(0.0, 60)])
    expected = copy_of(ns)
    expected.subsequence_info.start_time_offset = 0.0
    expected.subsequence_info.end_time_offset = 0.0
    pieces = subsequences.split_note_sequence_on_time_changes(ns)
    assert len(pieces) == 1
    assert_same(expected, pieces[0])


def test_split_on_coincident_time_changes():
    ns = _five_notes_and_chords([(0.0, 4, 4), (2.0, 3, 4)], [(0.0, 60), (2.0, 80)])
    pieces = subsequences.split_note_sequence_on_time_changes(ns)
    expected = [
        _time_piece([(0.0, 4, 4)], [(0.0, 60)], [(12, 100, 0.01, 2.0), (11, 55, 0.22, 0.50)],
                    [('C', 1.5)], 2.0, 0.0, 8.0),
        _time_piece([(0.0, 3, 4)], [(0.0, 80)],
                    [(40, 45, 0.50, 1.50), (55, 120, 2.0, 2.01), (52, 99, 2.75, 3.0)],
                    [('C', 0.0), ('G7', 1.0), ('F', 2.8)], 3.0, 2.0, 5.0),
    ]
    assert len(pieces) == 2
    for want, got in zip(expected, pieces):
        assert_same(want, got)


def test_split_on_time_changes_skipping_splits_inside_notes():
    ns = _five_notes_and_chords([(0.0, 4, 4), (2.0, 3, 4)], [(0.0, 60), (4.25, 80)],
                                notes=[(12, 100, 0.01, 3.0)] + FIVE_NOTES[1:])
    pieces = subsequences.split_note_sequence_on_time_changes(ns, skip_splits_inside_notes=True)
    expected = [
        _time_piece([(0.0, 4, 4), (2.0, 3, 4)], [(0.0, 60)],
                    [(12, 100, 0.01, 3.0), (11, 55, 0.22, 0.50), (40, 45, 2.50, 3.50),
                     (55, 120, 4.0, 4.01)],
                    [('C', 1.5), ('G7', 3.0)], 4.01, 0.0, 0.99),
        _time_piece([(0.0, 3, 4)], [(0.0, 80)], [(52, 99, 0.5, 0.75)],
                    [('G7', 0.0), ('F', 0.55)], 0.75, 4.25, 0.0),
    ]
    assert len(pieces) == 2
    for want, got in zip(expected, pieces):
        assert_same(want, got)


def test_split_on_multiple_time_changes():
    ns = _five_notes_and_chords([(0.0, 4, 4), (2.0, 3, 4)], [(0.0, 60), (4.25, 80)])
    pieces = subsequences.split_note_sequence_on_time_changes(ns)
    expected = [
        _time_piece([(0.0, 4, 4)], [(0.0, 60)], [(12, 100, 0.01, 2.0), (11, 55, 0.22, 0.50)],
                    [('C', 1.5)], 2.0, 0.0, 8.0),
        _time_piece([(0.0, 3, 4)], [(0.0, 60)], [(40, 45, 0.50, 1.50), (55, 120, 2.0, 2.01)],
                    [('C', 0.0), ('G7', 1.0)], 2.01, 2.0, 5.99),
        _time_piece([(0.0, 3, 4)], [(0.0, 80)], [(52, 99, 0.5, 0.75)],
                    [('G7', 0.0), ('F', 0.55)], 0.75, 4.25, 5.0),
    ]
    assert len(pieces) == 3
    for want, got in zip(expected, pieces):
        assert_same(want, got)


def test_split_on_time_changes_starts_from_4_4_and_120_qpm():
    # A 3/4 at time 0 is no split point; a change at or after total_time is ignored.
    ns = _five_notes_and_chords([(0.0, 3, 4)], [(0.0, 120), (10.0, 90)])
    pieces = subsequences.split_note_sequence_on_time_changes(ns)
    assert len(pieces) == 1
    assert [(t.time, t.qpm) for t in pieces[0].tempos] == [(0.0, 120.0)]


# ---------------------------------------------------------------------------
# apply_sustain_control_changes

def test_sustain_extends_notes_until_pedal_release():
    ns = base()
    add_ccs(ns, 0, [(0.0, 64, 127), (0.75, 64, 0), (2.0, 64, 127), (3.0, 64, 0),
                    (3.75, 64, 127), (4.5, 64, 127), (4.8, 64, 0), (4.9, 64, 127),
                    (6.0, 64, 0)])
    add_notes(ns, 1, [(12, 100, 0.01, 10.0), (52, 99, 4.75, 5.0)])  # other instrument
    expected = copy_of(ns)
    add_notes(ns, 0, [(11, 55, 0.22, 0.50), (40, 45, 2.50, 3.50), (55, 120, 4.0, 4.01)])
    add_notes(expected, 0, [(11, 55, 0.22, 0.75), (40, 45, 2.50, 3.50), (55, 120, 4.0, 4.8)])
    untouched = copy_of(ns)
    assert transforms.apply_sustain_control_changes(ns) == expected
    assert ns == untouched


def test_sustain_with_repeated_notes():
    ns = base()
    add_ccs(ns, 0, [(1.0, 64, 127), (4.0, 64, 0)])
    expected = copy_of(ns)
    add_notes(ns, 0, [(60, 100, 0.25, 1.50), (60, 100, 1.25, 1.50), (72, 100, 2.00, 3.50),
                      (60, 100, 2.0, 3.00), (60, 100, 3.50, 4.50)])
    add_notes(expected, 0, [(60, 100, 0.25, 1.25), (60, 100, 1.25, 2.00),
                            (72, 100, 2.00, 4.00), (60, 100, 2.0, 3.50),
                            (60, 100, 3.50, 4.50)])
    assert transforms.apply_sustain_control_changes(ns) == expected


def test_sustain_with_repeated_notes_before_sustain():
    ns = base()
    add_ccs(ns, 0, [(1.0, 64, 127), (4.0, 64, 0)])
    expected = copy_of(ns)
    add_notes(ns, 0, [(60, 100, 0.25, 1.50), (60, 100, 0.50, 1.50), (60, 100, 1.25, 2.0)])
    add_notes(expected, 0, [(60, 100, 0.25, 1.25), (60, 100, 0.50, 1.25),
                            (60, 100, 1.25, 4.00)])
    assert transforms.apply_sustain_control_changes(ns) == expected


def test_sustain_simultaneous_on_off_is_no_op():
    ns = base()
    add_ccs(ns, 0, [(1.0, 64, 127), (1.0, 64, 0)])
    add_notes(ns, 0, [(60, 100, 0.50, 1.50), (60, 100, 2.0, 3.0)])
    assert transforms.apply_sustain_control_changes(ns) == ns


def test_sustain_extends_final_notes_to_last_event():
    ns = base()
    add_ccs(ns, 0, [(1.0, 64, 127), (4.0, 64, 0)])
    expected = copy_of(ns)
    add_notes(ns, 0, [(60, 100, 0.50, 1.50), (72, 100, 2.0, 3.0)])
    add_notes(expected, 0, [(60, 100, 0.50, 4.00), (72, 100, 2.0, 4.0)])
    expected.total_time = 4.0
    assert transforms.apply_sustain_control_changes(ns) == expected


def test_sustain_never_released_holds_notes_to_last_event():
    ns = base()
    add_ccs(ns, 0, [(1.0, 64, 127)])
    add_notes(ns, 0, [(60, 100, 0.50, 1.50), (72, 100, 2.0, 3.0)])
    result = transforms.apply_sustain_control_changes(ns)
    assert [n.end_time for n in result.notes] == [3.0, 3.0]
    assert result.total_time == 3.0


def test_sustain_after_last_note_changes_nothing():
    ns = base()
    add_ccs(ns, 0, [(4.0, 64, 127), (5.0, 64, 0)])
    expected = copy_of(ns)
    add_notes(ns, 0, [(60, 100, 0.50, 1.50), (72, 100, 2.0, 3.0)])
    add_notes(expected, 0, [(60, 100, 0.50, 1.50), (72, 100, 2.0, 3.0)])
    expected.total_time = 3.0
    assert transforms.apply_sustain_control_changes(ns) == expected


def test_sustain_with_identical_notes_keeps_one():
    ns = base()
    add_ccs(ns, 0, [(1.0, 64, 127), (4.0, 64, 0)])
    expected = copy_of(ns)
    add_notes(ns, 0, [(60, 100, 2.00, 2.50), (60, 100, 2.00, 2.50)])
    add_notes(expected, 0, [(60, 100, 2.00, 4.00)])
    assert transforms.apply_sustain_control_changes(ns) == expected


def test_sustain_leaves_drums_alone():
    ns = base()
    add_ccs(ns, 0, [(1.0, 64, 127), (4.0, 64, 0)])
    expected = copy_of(ns)
    add_notes(ns, 0, [(60, 100, 2.00, 2.50)])
    add_notes(ns, 0, [(38, 100, 2.00, 2.50)], is_drum=True)
    add_notes(expected, 0, [(60, 100, 2.00, 4.00)])
    add_notes(expected, 0, [(38, 100, 2.0, 2.5)], is_drum=True)
    assert transforms.apply_sustain_control_changes(ns) == expected


def test_sustain_events_before_notes_at_equal_times():
    ns = base()
    add_ccs(ns, 0, [(0.0, 64, 127), (0.75, 64, 0), (2.0, 64, 127), (3.0, 64, 0)])
    add_notes(ns, 0, [(11, 55, 0.22, 0.75), (40, 45, 2.50, 3.50)])
    assert transforms.apply_sustain_control_changes(ns) == ns


def test_sustain_uses_the_given_control_number():
    ns = base()
    add_ccs(ns, 0, [(1.0, 66, 127), (4.0, 66, 0)])
    add_notes(ns, 0, [(60, 100, 2.0, 2.5)])
    assert transforms.apply_sustain_control_changes(ns).notes[0].end_time == 2.5
    assert transforms.apply_sustain_control_changes(ns, 66).notes[0].end_time == 4.0


def test_sustain_on_quantized_sequence_fails():
    qns = seq.quantize_note_sequence(add_notes(base(), 0, FIVE_NOTES), 4)
    with pytest.raises(seq.QuantizationStatusError):
        transforms.apply_sustain_control_changes(qns)


# ---------------------------------------------------------------------------
# stretch

def test_stretch_note_sequence():
    ns = add_notes(base(), 0, [(12, 100, 0.0, 10.0), (11, 55, 0.2, 0.5), (40, 45, 2.5, 3.5)])
    add_chords(ns, [('B7', 0.5), ('Em9', 2.0)])
    expected = add_notes(base(qpm=40), 0, [(12, 100, 0.0, 15.0), (11, 55, 0.3, 0.75),
                                           (40, 45, 3.75, 5.25)])
    add_chords(expected, [('B7', 0.75), ('Em9', 3.0)])
    untouched = copy_of(ns)
    stretched = transforms.stretch_note_sequence(ns, 1.5)
    assert_same(expected, stretched)
    assert ns == untouched
    transforms.stretch_note_sequence(ns, 1.5, in_place=True)
    assert ns == stretched


def test_stretch_moves_every_event_time():
    ns = add_notes(base(), 0, [(60, 100, 1.0, 2.0)])
    ns.key_signatures.add(time=1.0, key=2)
    ns.pitch_bends.add(time=1.0, bend=10)
    add_ccs(ns, 0, [(1.0, 64, 127)])
    ns.tempos.add(time=1.0, qpm=120)
    stretched = transforms.stretch_note_sequence(ns, 2.0)
    assert [e.time for e in (stretched.key_signatures[0], stretched.pitch_bends[0],
                             stretched.control_changes[0], stretched.tempos[1])] == [2.0] * 4
    assert [t.qpm for t in stretched.tempos] == [30.0, 60.0]
    assert stretched.total_time == 4.0


def test_stretch_quantized_fails():
    qns = seq.quantize_note_sequence(add_notes(base(), 0, FIVE_NOTES), 4)
    with pytest.raises(seq.QuantizationStatusError):
        transforms.stretch_note_sequence(qns, 1.05)


# ---------------------------------------------------------------------------
# transpose / augment

def test_transpose_note_sequence():
    ns = add_notes(base(), 0, FIVE_NOTES)
    add_chords(ns, [('N.C.', 1), ('E7', 2)])
    ns.key_signatures.add(time=0, key=NoteSequence.KeySignature.E,
                          mode=NoteSequence.KeySignature.MIXOLYDIAN)
    ns.notes[0].pitch_name = NoteSequence.C
    expected = add_notes(base(), 0, [(13, 100, 0.01, 10.0), (12, 55, 0.22, 0.50),
                                     (41, 45, 2.50, 3.50), (56, 120, 4.0, 4.01),
                                     (53, 99, 4.75, 5.0)])
    add_chords(expected, [('N.C.', 1), ('F7', 2)])
    expected.key_signatures.add(time=0, key=NoteSequence.KeySignature.F,
                                mode=NoteSequence.KeySignature.MIXOLYDIAN)
    untouched = copy_of(ns)
    transposed, deleted = transforms.transpose_note_sequence(ns, 1)
    assert transposed == expected  # pitch names are reset: they would be wrong
    assert deleted == 0
    assert ns == untouched


def test_transpose_deletes_out_of_range_notes():
    ns = add_notes(base(), 0, [(35, 100, 0.01, 10.0), (36, 55, 0.22, 0.50),
                               (37, 45, 2.50, 3.50), (38, 120, 4.0, 4.01),
                               (39, 99, 4.75, 5.0)])
    transposed, deleted = transforms.transpose_note_sequence(ns, 4, 30, 40)
    assert transposed == add_notes(base(), 0, [(39, 100, 0.01, 10.0), (40, 55, 0.22, 0.50)])
    assert deleted == 3
    transposed, deleted = transforms.transpose_note_sequence(ns, -8, 30, 40)
    # total_time shrinks to the last remaining note end.
    assert transposed == add_notes(base(), 0, [(30, 120, 4.0, 4.01), (31, 99, 4.75, 5.0)])
    assert deleted == 3


def test_transpose_keeps_drums_and_can_drop_chords():
    ns = add_notes(base(), 0, [(60, 100, 0.0, 1.0)])
    add_notes(ns, 9, [(127, 100, 0.0, 2.0)], is_drum=True)
    add_chords(ns, [('C', 0.0)])
    add_beats(ns, [0.5])
    transposed, deleted = transforms.transpose_note_sequence(ns, 2, transpose_chords=False)
    assert deleted == 0
    assert [(n.pitch, n.is_drum) for n in transposed.notes] == [(62, False), (127, True)]
    assert [ta.annotation_type for ta in transposed.text_annotations] == [BEAT]
    assert transposed.total_time == 2.0


def test_transpose_in_place():
    ns = add_notes(base(), 0, [(60, 100, 0.0, 1.0)])
    transposed, _ = transforms.transpose_note_sequence(ns, -12, in_place=True)
    assert transposed is ns and ns.notes[0].pitch == 48


@pytest.mark.parametrize('figure, amount, result', [
    ('E7', 1, 'F7'), ('C', 1, 'Db'), ('Bb', 2, 'C'), ('Bbm7/F', -1, 'Am7/E'),
    ('F#m7b5', 5, 'Bm7b5'), ('Ab/Eb', 3, 'Cb/Gb'), ('Cmaj7', -1, 'Bmaj7'), ('B', 1, 'C'),
    ('Db', -1, 'C'), ('G13(#11)', 4, 'B13(#11)'), ('C##', 1, 'D#'), ('Dbb', -3, 'Bbb'),
    ('E/o7', 6, 'Bb/o7'),
])
def test_transpose_chord_symbol(figure, amount, result):
    assert chords.transpose_chord_symbol(figure, amount) == result


def test_transpose_chord_symbol_rejects_nonsense():
    with pytest.raises(seq.ChordSymbolError):
        chords.transpose_chord_symbol('H7', 1)


@pytest.mark.parametrize('amount, ns_min, ns_max, allowed_min, allowed_max, clamped', [
    (5, 20, 60, 10, 70, 5), (15, 20, 60, 10, 65, 5), (-16, 20, 60, 10, 70, -10)])
def test_clamp_transpose(amount, ns_min, ns_max, allowed_min, allowed_max, clamped):
    assert transforms._clamp_transpose(amount, ns_min, ns_max, allowed_min, allowed_max) == clamped


def _augment_input() -> NoteSequence:
    return add_notes(base(), 0, [(12, 100, 0.01, 10.0), (13, 55, 0.22, 0.50),
                                 (40, 45, 2.50, 3.50), (55, 120, 4.0, 4.01),
                                 (52, 99, 4.75, 5.0)])


@pytest.mark.parametrize('stretch, transpose, delete, notes, qpm', [
    # -15..-10 clamps to -2 so pitch 12 stays >= 10.
    (2, (-15, -10), False, [(10, 100, 0.02, 20.0), (11, 55, 0.44, 1.0), (38, 45, 5., 7.),
                            (53, 120, 8.0, 8.02), (50, 99, 9.5, 10.0)], 30.0),
    (2, (-15, -15), True, [(25, 45, 5., 7.), (40, 120, 8.0, 8.02), (37, 99, 9.5, 10.0)], 30.0),
    (1, (-15, -15), True, [(25, 45, 2.5, 3.50), (40, 120, 4.0, 4.01), (37, 99, 4.75, 5.0)],
     60.0),
    (2, (0, 0), True, [(12, 100, 0.02, 20.0), (13, 55, 0.44, 1.0), (40, 45, 5., 7.),
                       (55, 120, 8.0, 8.02), (52, 99, 9.5, 10.0)], 30.0),
])
def test_augment_note_sequence(stretch, transpose, delete, notes, qpm):
    ns = _augment_input()
    untouched = copy_of(ns)
    augmented = transforms.augment_note_sequence(ns, stretch, stretch, transpose[0], transpose[1],
                                          10, 127, delete_out_of_range_notes=delete)
    assert_same(add_notes(base(qpm=qpm), 0, notes), augmented)
    assert ns == untouched


def test_augment_rejects_inverted_ranges():
    with pytest.raises(ValueError):
        transforms.augment_note_sequence(_augment_input(), 1.1, 1.0, 0, 0)
    with pytest.raises(ValueError):
        transforms.augment_note_sequence(_augment_input(), 1.0, 1.0, 2, 1)
    with pytest.raises(ValueError):
        transforms.augment_note_sequence(_augment_input(), 1.0, 1.0, 0, 0, 60, 50)
