"""MusicVAE melody converter (REFERENCE.md "MusicVAE converter sizes", "MusicVAE converters") on
tiny literal NoteSequences.

At 120 qpm and 4 steps per quarter a step lasts 0.125 s and a 4/4 bar is 16 steps.
One-hot classes of the default melody converter (pitches 21..108, depth 90):
0 = NO_EVENT (hold / rest continues), 1 = NOTE_OFF, 2 + pitch - 21 = note onset.
"""
from __future__ import annotations

import numpy as np
import pytest

import builders
from magenta_rnn.music_vae import converters

STEP = 0.125
NO, OFF = 0, 1


def onset(pitch: int) -> int:
    return 2 + pitch - 21


def make_sequence(notes, numerator=4, denominator=4, total_steps=None, qpm=120.0):
    """notes: (pitch, start_step, end_step[, program])."""
    ns = builders.note_sequence(qpm=qpm, time_signature=(numerator, denominator),
                                ticks_per_quarter=220)
    for note in notes:
        builders.add_notes(ns, 0, [(note[0], 100, note[1] * STEP, note[2] * STEP)],
                           program=note[3] if len(note) > 3 else 0)
    ns.total_time = (total_steps if total_steps is not None
                     else max(n[2] for n in notes)) * STEP
    return ns


def classes(tensors) -> list[tuple[int, ...]]:
    return [tuple(np.argmax(x, axis=-1).tolist()) for x in tensors.outputs]


def mel_2bar(**kwargs) -> converters.OneHotMelodyConverter:
    args = dict(valid_programs=converters.MEL_PROGRAMS, max_bars=100, slice_bars=2,
                steps_per_quarter=4)
    args.update(kwargs)
    converter = converters.OneHotMelodyConverter(**args)
    converter.set_mode('eval')
    return converter


def test_depths_follow_the_pitch_range():
    assert converters.OneHotMelodyConverter().input_depth == 90
    assert converters.OneHotMelodyConverter().output_depth == 90
    assert converters.OneHotMelodyConverter().end_token is None
    with_end = converters.OneHotMelodyConverter(add_end_token=True)
    assert (with_end.output_depth, with_end.end_token) == (91, 90)
    assert converters.OneHotMelodyConverter(min_pitch=48, max_pitch=83).output_depth == 38


def test_two_bar_melody_gives_one_exact_window():
    # C4 for a quarter, D4 for a quarter, rest, E4 from the start of bar 2 to its end.
    ns = make_sequence([(60, 0, 4), (62, 4, 8), (64, 16, 32)])
    tensors = mel_2bar().to_tensors(ns)
    expected = ([onset(60), NO, NO, NO, onset(62), NO, NO, NO, OFF] + [NO] * 7
                + [onset(64)] + [NO] * 15)
    assert classes(tensors) == [tuple(expected)]
    assert tensors.inputs[0].shape == (32, 90) and tensors.inputs[0].dtype == bool
    assert np.array_equal(tensors.inputs[0], tensors.outputs[0])
    assert tensors.lengths == [32]
    assert tensors.controls[0].shape == (32, 0)


def test_windows_slide_one_bar_and_start_without_note_off():
    # The first note ends exactly on the bar line, so the full melody has NOTE_OFF at
    # step 16; the window starting there begins with NO_EVENT instead.
    ns = make_sequence([(60, 0, 16), (62, 20, 24), (64, 32, 48)])
    got = set(classes(mel_2bar().to_tensors(ns)))
    first = tuple([onset(60)] + [NO] * 15 + [OFF] + [NO] * 3 + [onset(62)] + [NO] * 3
                  + [OFF] + [NO] * 7)
    second = tuple([NO] * 4 + [onset(62)] + [NO] * 3 + [OFF] + [NO] * 7
                   + [onset(64)] + [NO] * 15)
    assert got == {first, second}


def test_repeated_windows_are_deduplicated():
    bar = [(60, 0, 4), (64, 4, 8), (67, 8, 16)]
    notes = [(p, s + 16 * k, e + 16 * k) for k in range(4) for p, s, e in bar]
    tensors = mel_2bar().to_tensors(make_sequence(notes))
    # 4 bars give 3 two-bar windows, all identical.
    assert len(tensors) == 1


def test_notes_outside_programs_or_pitch_range_are_dropped():
    notes = [(60, 0, 8), (62, 8, 16), (64, 16, 32),
             (72, 0, 4, 40),   # violin (program 40): not a melody program
             (110, 8, 12)]     # above pitch 108
    got = classes(mel_2bar().to_tensors(make_sequence(notes)))
    expected = [onset(60)] + [NO] * 7 + [onset(62)] + [NO] * 7 + [onset(64)] + [NO] * 15
    assert got == [tuple(expected)]


def test_highest_note_is_kept_in_polyphony():
    ns = make_sequence([(60, 0, 16), (67, 0, 16), (64, 16, 32)])
    expected = [onset(67)] + [NO] * 15 + [onset(64)] + [NO] * 15
    assert classes(mel_2bar().to_tensors(ns)) == [tuple(expected)]


def test_only_four_four_time_is_converted():
    notes = [(60, 0, 12), (62, 12, 24)]
    assert len(mel_2bar().to_tensors(make_sequence(notes, numerator=3))) == 0


def test_a_gap_of_a_bar_ends_the_melody():
    # Two one-bar phrases separated by two silent bars: neither melody spans 2 bars
    # of material, but each is padded to a whole bar only, so no 2-bar window exists.
    notes = [(60, 0, 16), (62, 48, 64)]
    assert len(mel_2bar().to_tensors(make_sequence(notes))) == 0
    # With gap_bars disabled the silence is part of one 4-bar melody.
    assert len(mel_2bar(gap_bars=None).to_tensors(make_sequence(notes))) == 3


def _many_windows_sequence():
    # 8 bars, each bar a different pitch: 7 distinct 2-bar windows.
    return make_sequence([(60 + k, 16 * k, 16 * k + 16) for k in range(8)])


def test_max_tensors_takes_the_first_in_eval_and_samples_in_train():
    converter = mel_2bar(max_tensors_per_notesequence=None)
    everything = classes(converter.to_tensors(_many_windows_sequence()))
    assert len(everything) == 7
    eval_converter = mel_2bar(max_tensors_per_notesequence=3)
    first3 = classes(eval_converter.to_tensors(_many_windows_sequence()))
    assert first3 == everything[:3]
    train_converter = mel_2bar(max_tensors_per_notesequence=3)
    train_converter.set_mode('train')
    train_converter.rng = np.random.default_rng(0)
    sampled = classes(train_converter.to_tensors(_many_windows_sequence()))
    assert len(sampled) == 3 and set(sampled) <= set(everything)


def test_end_token_is_appended_and_cut_on_decoding():
    converter = mel_2bar(add_end_token=True)
    tensors = converter.to_tensors(make_sequence([(60, 0, 16), (64, 16, 32)]))
    assert classes(tensors)[0][-1] == 90 and len(classes(tensors)[0]) == 33
    decoded = converter.from_tensors(tensors.outputs)[0]
    assert [(n.pitch, n.start_time, n.end_time) for n in decoded.notes] == [
        (60, 0.0, 2.0), (64, 2.0, 4.0)]


def test_from_tensors_round_trip():
    ns = make_sequence([(60, 0, 4), (62, 4, 8), (64, 16, 30)], total_steps=32)
    converter = mel_2bar()
    tensors = converter.to_tensors(ns)
    decoded = converter.from_tensors(tensors.outputs)
    assert len(decoded) == 1
    notes = [(n.pitch, n.start_time, n.end_time, n.velocity) for n in decoded[0].notes]
    # Velocity 80 at 120 qpm; a note still sounding at the end closes at the end.
    assert notes == [(60, 0.0, 0.5, 80), (62, 0.5, 1.0, 80), (64, 2.0, 3.75, 80)]
    assert decoded[0].tempos[0].qpm == 120.0
    again = classes(converter.to_tensors(decoded[0]))
    assert again == classes(tensors)


def test_from_tensors_takes_argmax_of_scores():
    converter = mel_2bar()
    scores = np.full((1, 4, 90), -1.0)
    scores[0, 0, onset(72)] = 5.0
    scores[0, 1, NO] = 0.5
    scores[0, 2, OFF] = 3.0
    scores[0, 3, NO] = 2.0
    ns = converter.from_tensors(scores)[0]
    assert [(n.pitch, n.start_time, n.end_time) for n in ns.notes] == [(72, 0.0, 0.25)]


def test_sixteen_bar_converter_slices_256_steps():
    converter = converters.OneHotMelodyConverter(max_bars=100, slice_bars=16, steps_per_quarter=4)
    converter.set_mode('eval')
    notes = [(60 + (k % 12), 8 * k, 8 * k + 8) for k in range(34)]  # 17 bars
    tensors = converter.to_tensors(make_sequence(notes))
    assert len(tensors) == 2
    assert all(x.shape == (256, 90) for x in tensors.inputs)


def test_build_converter_from_spec():
    converter = converters.build_converter({'type': 'melody', 'valid_programs': 'MEL_PROGRAMS',
                                      'slice_bars': 2, 'max_bars': 100})
    assert isinstance(converter, converters.OneHotMelodyConverter)
    with pytest.raises(ValueError, match='unsupported converter type'):
        converters.build_converter({'type': 'quartet'})


def test_converter_modules_import_only_modules_before_them():
    """The converters package has no cycle: each module imports only those listed before
    it (base first), never the package's registry; nothing in it imports TensorFlow."""
    import ast
    from pathlib import Path
    package = Path(converters.__file__).parent
    order = ['base', 'drums', 'melody', 'groove', 'trio', 'multiperf']
    assert sorted(p.stem for p in package.glob('*.py')) == sorted(order + ['__init__'])
    for position, name in enumerate(order):
        imported = set()
        for node in ast.walk(ast.parse((package / f'{name}.py').read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                imported.add(node.module)
            elif isinstance(node, ast.Import):
                imported.update(alias.name for alias in node.names)
        inside = {m.rsplit('.', 1)[-1] for m in imported
                  if m.startswith('magenta_rnn.music_vae.converters.')}
        assert inside <= set(order[:position]), (name, inside)
        assert not {m for m in imported if m == 'magenta_rnn.music_vae.converters'
                    or m.startswith('tensorflow') or m.startswith('magenta_rnn.music_vae.')
                    and not m.startswith('magenta_rnn.music_vae.converters.')}, name
    assert sorted(converters.REGISTRY) == ['drums', 'groove', 'melody',
                                           'multi_instrument_performance', 'trio']
