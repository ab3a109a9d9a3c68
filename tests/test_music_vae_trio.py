"""TrioConverter (REFERENCE.md "MusicVAE converter sizes", "MusicVAE converters") on a hand-built
3-instrument NoteSequence.

At 120 qpm and 4 steps per quarter a step lasts 0.125 s and a 4/4 bar is 16 steps.
An example row is [melody 90 | bass 90 | drums 512], each part one-hot:
melody and bass classes 0 = NO_EVENT, 1 = NOTE_OFF, 2 + pitch - 21 = onset;
drum class = sum of 2**c over the struck reduced classes (kick 0, snare 1, closed
hi-hat 2, ...), 0 = no hit.
"""
from __future__ import annotations

import numpy as np
import pytest

import builders
from magenta_rnn.music_vae import configs, converters
from magenta_rnn.music_vae.converters import trio
from magenta_rnn.protobuf import music_pb2

STEP = 0.125
NO, OFF = 0, 1
KICK, SNARE, HIHAT = 1, 2, 4  # one-hot drum classes of single hits


def onset(pitch: int) -> int:
    return 2 + pitch - 21


def make_trio(extra_notes=()) -> music_pb2.NoteSequence:
    """3 bars: melody (instrument 0, program 0), bass (1, program 33), drums (9).

    (instrument, program, is_drum, pitch, start_step, end_step)
    """
    notes = [
        (0, 0, False, 60, 0, 4), (0, 0, False, 62, 16, 20), (0, 0, False, 64, 32, 36),
        (1, 33, False, 36, 0, 8), (1, 33, False, 38, 32, 40),
        (9, 0, True, 36, 0, 1), (9, 0, True, 38, 4, 5), (9, 0, True, 36, 16, 17),
        (9, 0, True, 42, 20, 21),
        *extra_notes]
    ns = builders.note_sequence(ticks_per_quarter=220)
    for instrument, program, is_drum, pitch, start, end in notes:
        builders.add_notes(ns, instrument, [(pitch, 100, start * STEP, end * STEP)],
                           program=program, is_drum=is_drum)
    return ns


def converter(**kwargs) -> trio.TrioConverter:
    args = dict(slice_bars=2, gap_bars=1, steps_per_quarter=4)
    args.update(kwargs)
    result = trio.TrioConverter(**args)
    result.set_mode('eval')
    return result


def parts(example: np.ndarray) -> tuple[list[int], list[int], list[int]]:
    """Class indices of the melody, bass and drum parts, step by step."""
    assert example.shape[1] == 692
    assert (example.sum(axis=1) == 3).all()  # exactly one class per part and step
    mel, bass, drums = np.split(example, [90, 180], axis=1)
    return (np.argmax(mel, 1).tolist(), np.argmax(bass, 1).tolist(),
            np.argmax(drums, 1).tolist())


def test_depths():
    c = trio.TrioConverter(slice_bars=16)
    assert (c.input_depth, c.output_depth, c.control_depth) == (692, 692, 0)
    assert c.split_output_depths == (90, 90, 512)
    assert c.end_token is None


def test_two_bar_windows_of_a_three_bar_trio():
    tensors = converter().to_tensors(make_trio())
    assert len(tensors) == 2
    assert tensors.lengths == [32, 32]
    assert all(x is y or np.array_equal(x, y) for x, y in zip(tensors.inputs, tensors.outputs))
    # Bars 0-1: the bass is silent in bar 1 (a 1-bar gap is allowed).
    assert parts(tensors.outputs[0]) == (
        [onset(60), NO, NO, NO, OFF] + [NO] * 11 + [onset(62), NO, NO, NO, OFF] + [NO] * 11,
        [onset(36)] + [NO] * 7 + [OFF] + [NO] * 23,
        [KICK, 0, 0, 0, SNARE] + [0] * 11 + [KICK, 0, 0, 0, HIHAT] + [0] * 11)
    # Bars 1-2: a slice of the whole-piece encoding (the bass rest stays NO_EVENT),
    # and the drums are silent in bar 2.
    assert parts(tensors.outputs[1]) == (
        [onset(62), NO, NO, NO, OFF] + [NO] * 11 + [onset(64), NO, NO, NO, OFF] + [NO] * 11,
        [NO] * 16 + [onset(38)] + [NO] * 7 + [OFF] + [NO] * 7,
        [KICK, 0, 0, 0, HIHAT] + [0] * 11 + [0] * 16)


def test_a_missing_type_gives_nothing():
    ns = make_trio()
    kept = [n for n in ns.notes if not n.is_drum]
    del ns.notes[:]
    ns.notes.extend(kept)
    assert len(converter().to_tensors(ns)) == 0


def test_an_instrument_of_mixed_types_is_invalid():
    # A bass-program note on the melody instrument makes it INVALID: no melody left.
    ns = make_trio(extra_notes=[(0, 33, False, 40, 8, 9)])
    assert len(converter().to_tensors(ns)) == 0


def test_every_melody_bass_drums_combination():
    # A second melody instrument (program 25) doubles the windows; it comes second.
    ns = make_trio(extra_notes=[(2, 25, False, 72, 0, 40)])
    tensors = converter().to_tensors(ns)
    assert len(tensors) == 4
    assert parts(tensors.outputs[0])[0][0] == onset(60)
    assert parts(tensors.outputs[1])[0][0] == onset(62)
    assert parts(tensors.outputs[2])[0][:2] == [onset(72), NO]
    assert parts(tensors.outputs[2])[1] == parts(tensors.outputs[0])[1]


def test_gaps_longer_than_gap_bars_break_coverage():
    # With no gap allowed the bass (silent in bar 1) and the drums (silent in bar 2)
    # cover no 2-bar window together.
    assert len(converter(gap_bars=0).to_tensors(make_trio())) == 0
    # Whole-piece window when slice_bars is not given.
    whole = converter(slice_bars=None).to_tensors(make_trio())
    assert [len(x) for x in whole.outputs] == [48]


def test_from_tensors_puts_bass_on_instrument_1_and_drums_on_9():
    tensors = converter().to_tensors(make_trio())
    ns = converter().from_tensors(tensors.outputs[:1])[0]
    notes = sorted((n.instrument, n.program, n.is_drum, n.pitch, n.start_time, n.end_time,
                    n.velocity) for n in ns.notes)
    assert notes == [
        (0, 0, False, 60, 0.0, 0.5, 80), (0, 0, False, 62, 2.0, 2.5, 80),
        (1, 33, False, 36, 0.0, 1.0, 80),
        (9, 0, True, 36, 0.0, 0.125, 80), (9, 0, True, 36, 2.0, 2.125, 80),
        (9, 0, True, 38, 0.5, 0.625, 80), (9, 0, True, 42, 2.5, 2.625, 80)]
    assert ns.total_time == 2.625
    assert ns.tempos[0].qpm == 120


def test_config_builds_the_16_bar_trio_converter():
    for name in ('hierdec-trio_16bar', 'flat-trio_16bar'):
        c = configs.load_config(name).make_data_converter()
        assert isinstance(c, trio.TrioConverter)
        assert c.output_depth == 692
        assert (c._slice_bars, c._gap_bars, c._max_bars, c.max_tensors_per_notesequence) == (
            16, 2, 1024, 5)
    with pytest.raises(ValueError, match='unsupported converter type'):
        converters.build_converter({'type': 'quartet'})


def test_trio_config_hparams_as_facts_11_2():
    def summary(name):
        hp = configs.load_config(name).hparams
        return (hp.batch_size, hp.max_seq_len, hp.z_size, hp.enc_rnn_size, hp.dec_rnn_size,
                hp.free_bits, hp.max_beta, hp.beta_rate, hp.sampling_schedule, hp.sampling_rate)
    assert summary('hierdec-trio_16bar') == (256, 256, 512, [2048, 2048], [1024, 1024], 256.0,
                                             0.2, 0.0, 'constant', 0.0)
    assert summary('flat-trio_16bar') == (256, 256, 512, [2048, 2048], [2048, 2048, 2048], 0.0,
                                          1.0, 0.0, 'constant', 0.0)
    assert configs.load_config('hierdec-trio_16bar').decoder == {
        'type': 'hierarchical', 'level_lengths': [16, 16], 'disable_autoregression': True,
        'core': {'type': 'split_multi_out', 'output_depths': [90, 90, 512],
                 'core_decoders': [{'type': 'categorical_lstm'}] * 3}}
    assert configs.load_config('flat-trio_16bar').decoder == {
        'type': 'multi_out_categorical_lstm', 'output_depths': [90, 90, 512]}
