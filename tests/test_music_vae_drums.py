"""MusicVAE DrumsConverter and the cat-drums configs (REFERENCE.md "MusicVAE converter sizes",
"MusicVAE converters").

At 120 qpm and 4 steps per quarter one step is 0.125 s, so a note at step s
starts at s / 8 seconds. Nine drum classes (REDUCED): 0 kick (36, 35),
1 snare (38, 40, ...), 2 closed hi-hat (42, 44, ...), 3 open hi-hat (46, ...),
4-6 toms, 7 crash, 8 ride. One-hot class of a step = sum of 2**class.
"""
from __future__ import annotations

import numpy as np
import pytest

import builders
from magenta_rnn.music_vae import configs, converters
from magenta_rnn.protobuf import music_pb2

STEP = 0.125


def drum_sequence(hits: list[tuple[int, int]], total_steps: int | None = None,
                  numerator: int = 4) -> music_pb2.NoteSequence:
    """A 120-qpm drum NoteSequence from (step, pitch) hits a step long."""
    return builders.drum_track(
        [(step * STEP, pitch) for step, pitch in hits], note_seconds=STEP,
        time_signature=(numerator, 4),
        total_time=None if total_steps is None else total_steps * STEP)


def cat_drums_converter() -> converters.DrumsConverter:
    converter = configs.load_config('cat-drums_2bar_small').make_data_converter()
    converter.set_mode('eval')
    return converter


def test_cat_drums_2bar_small_config():
    config = configs.load_config('cat-drums_2bar_small')
    hp = config.hparams
    assert (hp.batch_size, hp.max_seq_len, hp.z_size, hp.enc_rnn_size, hp.dec_rnn_size,
            hp.free_bits, hp.max_beta, hp.beta_rate, hp.sampling_schedule,
            hp.sampling_rate) == (512, 32, 256, [512], [256, 256], 48.0, 0.2, 0.0,
                                  'inverse_sigmoid', 1000.0)
    assert config.make_augmenter() is None
    converter = config.make_data_converter()
    assert isinstance(converter, converters.DrumsConverter)
    # 9 roll columns + the "no hit" column in; 2**9 class sets out.
    assert (converter.input_depth, converter.output_depth, converter.end_token) == (10, 512, None)
    assert converter.max_tensors_per_notesequence == 5


def test_cat_drums_2bar_big_differs_only_in_size():
    small = configs.load_config('cat-drums_2bar_small').hparams.values()
    big = configs.load_config('cat-drums_2bar_big').hparams.values()
    assert {k: big[k] for k in big if big[k] != small[k]} == {
        'z_size': 512, 'enc_rnn_size': [2048], 'dec_rnn_size': [2048, 2048, 2048]}


def test_two_bars_give_one_example_with_roll_input_and_one_hot_output():
    hits = [(0, 36), (4, 40), (4, 44), (16, 35), (31, 46),
            (8, 90)]  # 90 is in no class: dropped.
    ns = drum_sequence(hits, total_steps=32)
    ns.notes.add(pitch=60, start_time=1.0, end_time=1.5, velocity=80)  # Not a drum: dropped.
    tensors = cat_drums_converter().to_tensors(ns)
    assert len(tensors) == 1 and tensors.lengths == [32]
    inputs, outputs = tensors.inputs[0], tensors.outputs[0]
    assert inputs.shape == (32, 10) and outputs.shape == (32, 512)
    assert inputs.dtype == bool and outputs.dtype == bool
    expected_classes = [0] * 32
    expected_classes[0] = 1           # kick
    expected_classes[4] = 2 + 4       # snare + closed hi-hat
    expected_classes[16] = 1          # kick (35)
    expected_classes[31] = 8          # open hi-hat
    assert np.argmax(outputs, axis=1).tolist() == expected_classes
    assert outputs.sum() == 32
    expected_roll = np.zeros((32, 10), dtype=bool)
    expected_roll[0, 0] = expected_roll[4, 1] = expected_roll[4, 2] = True
    expected_roll[16, 0] = expected_roll[31, 3] = True
    expected_roll[[s for s in range(32) if s not in (0, 4, 16, 31)], 9] = True
    np.testing.assert_array_equal(inputs, expected_roll)


def test_slices_hop_one_bar_and_duplicates_are_dropped():
    # Kicks on beats 1 and 3 of 4 bars; the snare on step 4, 5, 6, 4 of bars 0-3:
    # windows (bars 0-1), (1-2), (2-3) are distinct.
    kicks = [(16 * bar + beat, 36) for bar in range(4) for beat in (0, 8)]
    snares = [(4, 38), (16 + 5, 38), (32 + 6, 38), (48 + 4, 38)]
    tensors = cat_drums_converter().to_tensors(drum_sequence(kicks + snares, total_steps=64))
    snare_steps = sorted(tuple(np.flatnonzero(np.argmax(o, axis=1) == 2).tolist())
                         for o in tensors.outputs)
    assert snare_steps == [(4, 21), (5, 22), (6, 20)]
    # Three identical bars give two identical windows, kept once.
    same = [(16 * bar + beat, 36) for bar in range(3) for beat in (0, 8)]
    tensors = cat_drums_converter().to_tensors(drum_sequence(same, total_steps=48))
    assert len(tensors) == 1
    assert np.flatnonzero(np.argmax(tensors.outputs[0], axis=1)).tolist() == [0, 8, 16, 24]


def test_a_bar_of_silence_ends_a_track():
    # Bars 0 and 3 only: two 1-bar tracks, too short for a 2-bar window.
    assert len(cat_drums_converter().to_tensors(drum_sequence([(0, 36), (48, 36)]))) == 0
    # Bars 0-1 and 4-5: two tracks, one window each.
    hits = [(0, 36), (16, 38), (64, 42), (80, 46)]
    tensors = cat_drums_converter().to_tensors(drum_sequence(hits))
    assert sorted(np.argmax(o, axis=1)[[0, 16]].tolist() for o in tensors.outputs) == [
        [1, 2], [4, 8]]


def test_only_four_four_at_four_steps_per_quarter_converts():
    hits = [(0, 36), (16, 36), (24, 38)]
    assert len(cat_drums_converter().to_tensors(drum_sequence(hits, numerator=3))) == 0


def test_at_most_five_windows_in_eval_mode():
    # A kick every 8 steps; bar k also has a snare on its step k + 1: 11 distinct windows.
    hits = [(8 * k, 36) for k in range(24)] + [(16 * k + k + 1, 38) for k in range(12)]
    tensors = cat_drums_converter().to_tensors(drum_sequence(hits))
    assert len(tensors) == 5


def test_from_tensors_plays_each_class_with_its_first_pitch():
    converter = cat_drums_converter()
    classes = np.zeros(32, dtype=int)
    classes[0] = 1 + 256      # kick + ride
    classes[2] = 2 + 4        # snare + closed hi-hat
    one_hot = np.eye(512, dtype=bool)[classes]
    (ns,) = converter.from_tensors([one_hot])
    notes = sorted((n.start_time, n.end_time, n.pitch, n.velocity, n.instrument, n.is_drum)
                   for n in ns.notes)
    assert notes == [(0.0, 0.125, 36, 80, 9, True), (0.0, 0.125, 51, 80, 9, True),
                     (0.25, 0.375, 38, 80, 9, True), (0.25, 0.375, 42, 80, 9, True)]
    assert ns.tempos[0].qpm == 120


def test_round_trip_through_tensors():
    hits = [(0, 36), (2, 42), (4, 38), (6, 42), (8, 36), (12, 38), (16, 36), (20, 38),
            (24, 49), (28, 51), (30, 45), (31, 48)]
    converter = cat_drums_converter()
    (outputs,) = converter.to_tensors(drum_sequence(hits, total_steps=32)).outputs
    (ns,) = converter.from_tensors([outputs])
    # Every pitch here is its class's first pitch except 48 (mid tom), which plays as 48.
    assert sorted((round(n.start_time / STEP), n.pitch) for n in ns.notes) == sorted(hits)


def test_roll_output_with_end_token():
    converter = converters.DrumsConverter(slice_bars=1, roll_input=True, roll_output=True,
                                    add_end_token=True)
    converter.set_mode('eval')
    # 9 classes + end column; the input also gets the "no hit" column.
    assert (converter.input_depth, converter.output_depth, converter.end_token) == (11, 10, 9)
    tensors = converter.to_tensors(drum_sequence([(0, 36), (3, 51)], total_steps=16))
    (inputs,), (outputs,) = tensors.inputs, tensors.outputs
    assert outputs.shape == (17, 10) and inputs.shape == (17, 11)
    assert np.flatnonzero(outputs[0]).tolist() == [0]
    assert np.flatnonzero(outputs[3]).tolist() == [8]
    assert np.flatnonzero(outputs[16]).tolist() == [9]          # the end row
    assert inputs[:, 10].tolist() == [s not in (0, 3, 16) for s in range(17)]
    (ns,) = converter.from_tensors([outputs])
    assert sorted((round(n.start_time / STEP), n.pitch) for n in ns.notes) == [(0, 36), (3, 51)]


def test_one_hot_input_and_named_pitch_classes():
    converter = converters.build_converter({'type': 'drums', 'slice_bars': 1,
                                      'pitch_classes': 'ROLAND'})
    converter.set_mode('eval')
    assert (converter.input_depth, converter.output_depth) == (512, 512)
    # Roland classes: 35 is no class, 37 is snare (1), 45 is mid tom (5).
    tensors = converter.to_tensors(drum_sequence([(0, 35), (1, 37), (2, 45)], total_steps=16))
    (inputs,), (outputs,) = tensors.inputs, tensors.outputs
    np.testing.assert_array_equal(inputs, outputs)
    assert np.argmax(outputs, axis=1)[:3].tolist() == [0, 2, 32]
    full = converters.build_converter({'type': 'drums', 'pitch_classes': 'FULL', 'roll_input': True,
                                 'roll_output': True})
    assert (full.input_depth, full.output_depth) == (62, 61)
    assert full.pitch_classes[:3] == [[36], [35], [38]]


def test_unknown_pitch_class_name_is_an_error():
    with pytest.raises(ValueError, match='unknown pitch_classes'):
        converters.build_converter({'type': 'drums', 'pitch_classes': 'TINY'})


@pytest.mark.slow
def test_converter_matches_the_original_on_groove(peer, groove_train_examples):
    """Exact input/output tensors of 50 Groove train files, against the peer."""
    import os
    import subprocess
    import sys

    path = groove_train_examples(50)
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    result = subprocess.run(
        [sys.executable, os.path.join(repo, 'scripts', 'compare_music_vae_converter_with_peer.py'),
         f'--examples_path={path}', '--config=cat-drums_2bar_small'],
        env=dict(os.environ, PYTHONPATH=repo), capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr[-2000:]
    assert 'same list 50, same set 50' in result.stdout


def test_trained_model_samples_and_encodes_drums(tmp_path):
    """An (untrained) tiny cat-drums model through TrainedModel: drum NoteSequences out."""
    tf = pytest.importorskip('tensorflow')
    from magenta_rnn.music_vae import model as model_lib
    from magenta_rnn.music_vae import trained_model

    config = configs.load_config('cat-drums_2bar_small',
                                 'enc_rnn_size=[8],dec_rnn_size=[8],z_size=4')
    converter = config.make_data_converter()
    tf.random.set_seed(2)
    vae = model_lib.build_model(config, converter)
    assert (vae.input_depth, vae.output_depth) == (10, 512)
    prefix = tf.train.Checkpoint(model=vae).write(str(tmp_path / 'model.ckpt-0'))
    model = trained_model.TrainedModel(config, batch_size=2, checkpoint_dir_or_path=prefix,
                                       seed=1)
    samples = model.sample(n=2, length=32, temperature=1.0)
    first_pitches = {pitches[0] for pitches in converters.REDUCED_DRUM_PITCH_CLASSES}
    notes = [n for ns in samples for n in ns.notes]
    assert notes, 'an untrained model plays something at temperature 1 in 64 steps'
    assert all(n.is_drum and n.instrument == 9 and n.pitch in first_pitches and n.velocity == 80
               for n in notes)
    beat = drum_sequence([(s, 36) for s in range(0, 32, 4)] + [(s, 42) for s in range(0, 32, 2)],
                         total_steps=32)
    z, mu, sigma = model.encode([beat])
    assert mu.shape == (1, 4)
    (loglik,) = model.reconstruction_loglik([beat])
    # Untrained: about uniform over the 512 class sets.
    assert abs(float(loglik.mean()) + np.log(512)) < 0.1
