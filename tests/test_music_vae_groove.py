"""GrooVAE: GrooveConverter tensors (REFERENCE.md "MusicVAE converter sizes", "MusicVAE converters")
and the groovae configs.

At 120 qpm and 4 steps per quarter one step is 0.125 s. A row of a groove tensor
is [hits (9), velocities (9), offsets (9)] over the Roland classes in training:
0 kick (36), 1 snare (38, 37, 40), 2 closed hi-hat (42, 22, 44), 3 open hi-hat
(46, 26), 4 low tom (43, 58), 5 mid tom (47, 45), 6 high tom (50, 48), 7 crash
(49, 52, 55, 57), 8 ride (51, 53, 59). Offset = 2 * (grid time - played time) /
step length: +0.5 is a quarter step early, -0.5 a quarter step late.
"""
from __future__ import annotations

import numpy as np
import pytest

import builders
from magenta_rnn.music_vae import configs, converters
from magenta_rnn.music_vae.converters import groove
from magenta_rnn.protobuf import music_pb2

STEP = 0.125
HIT, VELOCITY, OFFSET = 0, 9, 18   # column of class 0 in each block


def drum_notes(notes: list[tuple[float, int, int]], numerator: int = 4
               ) -> music_pb2.NoteSequence:
    """A 120-qpm drum NoteSequence from (start time, pitch, velocity)."""
    return builders.drum_track(notes, time_signature=(numerator, 4))


# Kick on the grid at step 0; a snare 1/32 s (a quarter step) late at step 4; at
# step 2 two closed hi-hats, the louder (42) 1/64 s (an eighth step) early; a ride at step 31; and
# pitch 35, in no Roland class (the REDUCED classes count it as a kick), at step 6.
GROOVE = [(0.0, 36, 100), (0.5 + 1 / 32, 38, 80), (0.25 - 1 / 64, 42, 90), (0.25, 44, 64),
          (31 * STEP, 51, 127), (6 * STEP, 35, 50)]


def converter_for(config_name: str, mode: str = 'eval') -> groove.GrooveConverter:
    converter = configs.load_config(config_name).make_data_converter()
    converter.set_mode(mode)
    return converter


def expected_outputs() -> np.ndarray:
    rows = np.zeros((32, 27), np.float32)
    for step, drum, velocity, offset in [(0, 0, 100, 0.0), (4, 1, 80, -0.5), (2, 2, 90, 0.25),
                                         (31, 8, 127, 0.0)]:
        rows[step, HIT + drum] = 1.0
        rows[step, VELOCITY + drum] = np.float32(velocity / 127)
        rows[step, OFFSET + drum] = offset
    return rows


def test_groovae_configs():
    for name, bars in [('groovae_4bar', 4), ('groovae_2bar_humanize', 2),
                       ('groovae_2bar_tap_fixed_velocity', 2), ('groovae_2bar_add_closed_hh', 2)]:
        config = configs.load_config(name)
        hp = config.hparams
        assert (config.encoder['type'], config.decoder['type']) == ('bidirectional_lstm',
                                                                     'groove_lstm')
        assert (hp.batch_size, hp.max_seq_len, hp.z_size, hp.enc_rnn_size, hp.dec_rnn_size) == (
            512, 16 * bars, 256, [512], [256, 256])
        assert (hp.free_bits, hp.max_beta, hp.beta_rate, hp.dropout_keep_prob) == (48, 0.2, 0.0, 0.3)
        assert (hp.sampling_schedule, hp.sampling_rate) == ('constant', 0.0)
        converter = config.make_data_converter()
        assert (converter.input_depth, converter.output_depth, converter.control_depth) == (
            27, 27, 0)
        assert converter.max_tensors_per_notesequence == 20
        assert converter.pitch_classes == [list(p) for p in converters.ROLAND_DRUM_PITCH_CLASSES]
        converter.set_mode('infer')
        assert converter.pitch_classes == [list(p) for p in converters.REDUCED_DRUM_PITCH_CLASSES]


def test_hits_velocities_and_offsets_of_a_hand_built_groove():
    tensors = converter_for('groovae_2bar_add_closed_hh').to_tensors(drum_notes(GROOVE))
    (outputs,) = tensors.outputs
    assert outputs.dtype == np.float32 and outputs.shape == (32, 27)
    np.testing.assert_array_equal(outputs, expected_outputs())
    # Literally: the late snare, and the early closed hi-hat that beat the quieter one.
    assert outputs[4, [1, 10, 19]].tolist() == [1.0, np.float32(80 / 127), -0.5]
    assert outputs[2, [2, 11, 20]].tolist() == [1.0, np.float32(90 / 127), 0.25]
    assert tensors.lengths == [32]
    assert tensors.controls[0].shape == (32, 0)


def test_input_variants_of_the_configs():
    ns = drum_notes(GROOVE)
    target = expected_outputs()
    # humanize: hits only.
    (inputs,) = converter_for('groovae_2bar_humanize').to_tensors(ns).inputs
    np.testing.assert_array_equal(inputs[:, :9], target[:, :9])
    assert not inputs[:, 9:].any()
    # add_closed_hh: class 2 removed from the inputs, the outputs keep it.
    tensors = converter_for('groovae_2bar_add_closed_hh').to_tensors(ns)
    without_hh = target.copy()
    without_hh[:, [2, 11, 20]] = 0.0
    np.testing.assert_array_equal(tensors.inputs[0], without_hh)
    np.testing.assert_array_equal(tensors.outputs[0], target)
    # tap + fixed velocity: each step's loudest hit moves to class 3 (open hi-hat), timing kept.
    (inputs,) = converter_for('groovae_2bar_tap_fixed_velocity').to_tensors(ns).inputs
    tapped = np.zeros((32, 27), np.float32)
    tapped[[0, 2, 4, 31], 3] = 1.0
    tapped[[2, 4], 21] = [0.25, -0.5]
    np.testing.assert_array_equal(inputs, tapped)


def test_windows_hop_by_the_window_and_pad_to_the_bar():
    converter = converter_for('groovae_2bar_humanize')
    # Notes at steps 0 and 40: 3 bars (48 steps) give one 2-bar window.
    assert len(converter.to_tensors(drum_notes([(0.0, 36, 90), (40 * STEP, 38, 90)])).outputs) == 1
    # Steps 0 and 63: 4 bars give two, the second starting at step 32.
    tensors = converter.to_tensors(drum_notes([(0.0, 36, 90), (33 * STEP, 38, 90),
                                               (63 * STEP, 51, 90)]))
    first, second = tensors.outputs
    assert np.flatnonzero(first[:, :9].any(axis=1)).tolist() == [0]
    assert np.flatnonzero(second[:, :9].any(axis=1)).tolist() == [1, 31]
    # One 4-bar window for groovae_4bar; a 1-bar piece gives none for the 2-bar configs.
    assert [x.shape for x in converter_for('groovae_4bar').to_tensors(
        drum_notes([(0.0, 36, 90), (63 * STEP, 51, 90)])).outputs] == [(64, 27)]
    assert not converter.to_tensors(drum_notes([(0.0, 36, 90)])).outputs


def test_only_four_four_converts_and_empty_sequences_give_nothing():
    converter = converter_for('groovae_2bar_humanize')
    assert not converter.to_tensors(drum_notes(GROOVE, numerator=3)).outputs
    empty = builders.note_sequence(time_signature=None)
    assert not converter.to_tensors(empty).outputs


def test_inference_uses_the_reduced_classes():
    converter = converter_for('groovae_2bar_humanize', mode='infer')
    (outputs,) = converter.to_tensors(drum_notes(GROOVE)).outputs
    # Pitch 35 is a kick in the reduced classes.
    assert outputs[6, [0, 9]].tolist() == [1.0, np.float32(50 / 127)]


def test_round_trip_tensors_to_note_sequence():
    converter = converter_for('groovae_2bar_humanize')
    (ns,) = converter.from_tensors([expected_outputs()])
    assert ns.tempos[0].qpm == 120
    notes = sorted((n.start_time, n.pitch, n.velocity, n.end_time - n.start_time)
                   for n in ns.notes)
    assert notes == [(0.0, 36, 100, STEP), (0.25 - 1 / 64, 42, 90, STEP),
                     (0.5 + 1 / 32, 38, 80, STEP), (31 * STEP, 51, 127, STEP)]
    assert all(n.is_drum and n.instrument == 9 for n in ns.notes)
    assert ns.total_time == 32 * STEP
    # Through the converter again: the same tensors (the louder duplicate hi-hat is gone).
    (again,) = converter.to_tensors(ns).outputs
    np.testing.assert_array_equal(again, expected_outputs())
    # In inference each class plays its first reduced pitch: low tom 45, not Roland's 43.
    rows = np.zeros((32, 27), np.float32)
    rows[0, 4] = 1.0
    infer = converter_for('groovae_2bar_humanize', mode='infer')
    assert [n.pitch for n in infer.from_tensors([rows])[0].notes] == [45]
    assert [n.pitch for n in converter.from_tensors([rows])[0].notes] == [43]


def test_decoding_thresholds_hits_and_clips_velocity_and_offset():
    rows = np.zeros((16, 27), np.float32)
    rows[1, [0, 1]] = [0.5, 0.51]           # kick 0.5 is no hit; snare 0.51 is
    rows[1, 10] = 1.2                       # velocity clips at 127
    rows[1, 19] = -3.0                      # offset clips at half a step late
    rows[0, 8] = 1.0
    rows[0, 17] = 0.5                       # velocity 63.5 rounds to 64 (half to even)
    rows[0, 26] = 1.0                       # half a step early: starts before 0 s
    (ns,) = converter_for('groovae_2bar_humanize').from_tensors([rows])
    notes = sorted((n.pitch, n.velocity, n.start_time) for n in ns.notes)
    assert notes == [(38, 127, 1.5 * STEP), (51, 64, -0.5 * STEP)]


def test_unsupported_options_and_class_names():
    with pytest.raises(NotImplementedError, match='split_instruments'):
        groove.GrooveConverter(split_instruments=True)
    with pytest.raises(ValueError, match='unknown inference_pitch_classes'):
        converters.build_converter({'type': 'groove', 'inference_pitch_classes': 'TINY'})
    with pytest.raises(ValueError, match='same number of pitch classes'):
        groove.GrooveConverter(inference_pitch_classes=[[36]])


def test_hits_as_controls():
    converter = groove.GrooveConverter(split_bars=2, hits_as_controls=True)
    converter.set_mode('eval')
    assert converter.control_depth == 9
    tensors = converter.to_tensors(drum_notes(GROOVE))
    np.testing.assert_array_equal(tensors.controls[0], expected_outputs()[:, :9].astype(bool))


def test_note_dropout_only_touches_inputs():
    converter = groove.GrooveConverter(split_bars=2, max_note_dropout_probability=1.0)
    converter.set_mode('train')
    converter.rng = np.random.default_rng(0)
    ns = drum_notes([(k * STEP, 42, 10) for k in range(32)])
    inputs, outputs = [], []
    for _ in range(5):
        tensors = converter.to_tensors(ns)
        inputs.append(tensors.inputs[0])
        outputs.append(tensors.outputs[0])
    assert all(o[:, 2].sum() == 32 for o in outputs)
    kept = [int(x[:, 2].sum()) for x in inputs]
    assert min(kept) < 32
    for x, o in zip(inputs, outputs):   # a dropped hit drops its velocity and offset too
        dropped = (x[:, 2] == 0)
        assert not x[dropped, 11].any() and (x[~dropped] == o[~dropped]).all()
