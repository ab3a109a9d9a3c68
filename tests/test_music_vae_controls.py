"""Chord controls, chord inference and the multi-instrument performance converter
(TF-free). Expected chords and classes are the original's (note_seq 0.0.5), run on
the same inputs."""
from __future__ import annotations

import numpy as np
import pytest

import builders
from magenta_rnn.music import chords as chords_lib
from magenta_rnn.music import sequences as sequences_lib
from magenta_rnn.music_vae import configs, controls
from magenta_rnn.music_vae.converters.multiperf import (MultiInstrumentPerformanceConverter,
                                                       split_performance)
from magenta_rnn.protobuf import music_pb2

CHORD_TONES = [(60, 64, 67), (57, 60, 64), (59, 62, 65), (55, 59, 62, 65), (60, 63, 67),
               (60, 64, 68), (53, 57, 60), (62, 65, 69)]


def block_chords(seconds_each: float = 1.0) -> music_pb2.NoteSequence:
    """Eight block chords, one per half bar at 120 qpm, over a drum note (ignored)."""
    ns = builders.note_sequence([(pitch, 80, i * seconds_each, (i + 1) * seconds_each)
                                 for i, tones in enumerate(CHORD_TONES) for pitch in tones],
                                ticks_per_quarter=220)
    builders.add_notes(ns, 0, [(36, 80, 0, 8)], is_drum=True)
    ns.total_time = 8 * seconds_each
    return ns


def test_inferred_chords_are_the_originals():
    quantized = sequences_lib.quantize_note_sequence(block_chords(), 4)
    chords_lib.infer_chords_for_sequence(quantized)
    assert [(ta.text, ta.quantized_step, ta.time) for ta in quantized.text_annotations] == [
        ('C', 0, 0.0), ('Am', 8, 1.0), ('Bdim', 16, 2.0), ('G7', 24, 3.0), ('Cm', 32, 4.0),
        ('C+', 40, 5.0), ('F', 48, 6.0), ('Dm', 56, 7.0)]
    with pytest.raises(chords_lib.ChordInferenceError, match='already has chords'):
        chords_lib.infer_chords_for_sequence(quantized)


@pytest.mark.parametrize('figure,index', [
    ('N.C.', 0), ('C', 1), ('Am', 22), ('Bdim', 48), ('G7', 8), ('Cm', 13), ('C+', 25),
    ('Caug', 25), ('Bbm7b5/E', 47), ('F#m(maj7)', 19), ('Dbm9', 14), ('Ebaug7', 28)])
def test_triad_encoding_matches_the_original(figure, index):
    assert chords_lib.TriadChordOneHotEncoding().encode_event(figure) == index


@pytest.mark.parametrize('figure', ['Csus4', 'C7(b5)', 'C5'])
def test_non_triads_do_not_encode(figure):
    with pytest.raises(chords_lib.ChordEncodingError, match='not a standard triad'):
        chords_lib.TriadChordOneHotEncoding().encode_event(figure)


def test_triad_decoding_and_progression_parsing():
    encoding = chords_lib.TriadChordOneHotEncoding()
    assert [encoding.decode_event(i) for i in (0, 1, 14, 26, 48)] == [
        'N.C.', 'C', 'C#m', 'C#aug', 'Bdim']
    assert chords_lib.parse_chord_progression('C G, Am  F') == ['C', 'G', 'Am', 'F']
    with pytest.raises(ValueError, match="--chords: 'Hm' is not"):
        chords_lib.parse_chord_progression('C Hm')
    with pytest.raises(ValueError, match='at least one chord'):
        chords_lib.parse_chord_progression(' , ')


def test_coincident_chords_are_an_error():
    quantized = sequences_lib.quantize_note_sequence(block_chords(), 4)
    for text in ('C', 'G'):
        quantized.text_annotations.add(text=text, quantized_step=4,
                                       annotation_type=chords_lib.CHORD_SYMBOL)
    with pytest.raises(chords_lib.CoincidentChordsError, match='C and G'):
        chords_lib.chords_per_step(quantized, 8)


def test_melody_windows_carry_the_chords_at_their_steps():
    ns = block_chords()
    for note in ns.notes:  # a melody on top: the highest tone, an octave up
        note.pitch += 12 if note.pitch in (67, 64, 65, 69, 68) else 0
    converter = configs.load_config('cat-mel_2bar_med_chords').make_data_converter()
    converter.set_mode('eval')
    tensors = converter.to_tensors(ns)
    assert converter.control_depth == 49
    assert len(tensors) == 3  # 4 bars, 2-bar windows every bar
    by_start = {}
    for output, control in zip(tensors.outputs, tensors.controls):
        assert output.shape == (32, 90) and control.shape == (32, 49)
        chords = [chords_lib.TriadChordOneHotEncoding().decode_event(i)
                  for i in np.argmax(control, axis=1)]
        by_start[chords[0]] = chords[::8]
    # Each window's chords, every 8 steps (one chord per half bar).
    assert by_start == {'C': ['C', 'Am', 'Bdim', 'G'], 'Bdim': ['Bdim', 'G', 'Cm', 'Caug'],
                        'Cm': ['Cm', 'Caug', 'F', 'Dm']}
    # The chords come back as annotations where they change, every half bar here.
    first = next(i for i, c in enumerate(tensors.controls) if np.argmax(c[0]) == 1)
    decoded = converter.from_tensors(tensors.outputs[first:first + 1],
                                     tensors.controls[first:first + 1])[0]
    assert [(ta.text, ta.time) for ta in decoded.text_annotations] == [
        ('C', 0.0), ('Am', 1.0), ('Bdim', 2.0), ('G', 3.0)]


def test_chord_c_input_spreads_a_progression_evenly():
    converter = configs.load_config('cat-mel_2bar_med_chords').make_data_converter()
    c_input = controls.chord_c_input(converter, ['C', 'G', 'Am', 'F'], 32)
    assert c_input.shape == (32, 49)
    assert np.argmax(c_input, axis=1).tolist() == [1] * 8 + [8] * 8 + [22] * 8 + [6] * 8


def two_instruments(bars: int = 2) -> music_pb2.NoteSequence:
    ns = builders.note_sequence(ticks_per_quarter=220)
    for quarter in range(4 * bars):
        t = 0.5 * quarter
        builders.add_notes(ns, 0, [(60 + quarter % 5, 100, t, t + 0.5)])
        builders.add_notes(ns, 9, [(36, 40, t, t + 0.1)], is_drum=True)
    builders.add_notes(ns, 1, [(40, 70, 0.0, 2.0 * bars)], program=33)
    return ns


def test_multi_instrument_performance_tracks():
    converter = MultiInstrumentPerformanceConverter(
        num_velocity_bins=8, hop_size_bars=1, max_num_instruments=8,
        max_events_per_instrument=64)
    converter.set_mode('eval')
    assert (converter.input_depth, converter.end_token) == (490, 489)
    tensors = converter.to_tensors(two_instruments())
    assert len(tensors) == 2  # one example a bar
    tokens = np.argmax(tensors.inputs[0], axis=1)
    lengths = np.asarray(tensors.lengths[0])
    # Sorted: piano (program 0), bass (33), then drums (token 128); 5 padding tracks.
    # Piano: program, velocity, 4 x (on, shift 24, off), end; drums: program, velocity,
    # 4 x (on, shift 2, off, shift 22), end.
    assert lengths.tolist() == [15, 6, 19, 1, 1, 1, 1, 1]
    starts = [64 * k for k in range(8)]
    assert [int(tokens[s]) - 360 for s in starts[:3]] == [0, 33, 128]
    assert all(tokens[s] == 489 for s in starts[3:])
    # Bass: program, velocity bin, note on, time shift 96 (max 96 per shift), end.
    assert tokens[64:70].tolist() == [393, 356, 40, 351, 168, 489]
    assert not tensors.inputs[0][64 + 6:128].any()  # zero rows after the end token
    decoded = converter.from_tensors(tensors.outputs[:1])[0]
    assert sorted((n.instrument, n.pitch, n.start_time, n.end_time, n.is_drum)
                  for n in decoded.notes if n.instrument == 1) == [(1, 40, 0.0, 2.0, False)]
    assert {n.program for n in decoded.notes if n.instrument == 1} == {33}
    assert sum(n.is_drum for n in decoded.notes) == 4


def test_multi_instrument_performance_chords():
    ns = two_instruments()
    for i, text in enumerate(['C', 'G']):
        ns.text_annotations.add(text=text, time=2.0 * i,
                                annotation_type=chords_lib.CHORD_SYMBOL)
    converter = configs.load_config('hier-multiperf_vel_1bar_med_chords').make_data_converter()
    converter.set_mode('eval')
    tensors = converter.to_tensors(ns)
    first, second = (np.argmax(c, axis=1) for c in tensors.controls)
    # Track 0: the program token has no chord, its events the bar's chord, the end token
    # repeats it; padding tracks: no chord then zero rows (argmax 0).
    assert first[0] == 0 and set(first[1:15]) == {1} and second[1] == 8
    assert not tensors.controls[0][15:64].any()
    assert controls.chord_c_input(converter, ['Am'], 512).argmax(axis=1)[:3].tolist() == \
        [0, 22, 22]


def test_split_performance_clips_tied_notes_at_bar_lines():
    converter = MultiInstrumentPerformanceConverter(num_velocity_bins=8)
    quantized = sequences_lib.quantize_note_sequence(two_instruments(), 24)
    from magenta_rnn.music.performance_extraction import extract_performances
    tracks, _ = extract_performances(quantized, num_velocity_bins=8, split_instruments=True)
    bass = tracks[1]
    segments = split_performance(bass, 96, converter._new_performance(bass),
                                 clip_tied_notes=True)
    assert [s.num_steps for s in segments] == [96, 96]
    # The held bass note ends at the bar line and does not carry into the next bar,
    # which is silence; an empty segment counts as drums, as in the original (its
    # program token is the drums').
    assert [e.event_type for e in segments[0]][-1] == 2  # NOTE_OFF at the bar line
    assert [(e.event_type, e.event_value) for e in segments[1]] == [(3, 96)]
    assert (segments[0].is_drum, segments[1].is_drum) == (False, True)
