"""Performance encoders and the Performance RNN config encoders (REFERENCE.md
"Performance encoding", "Conditioning and control signals", "Input and label sizes").

Cases ported from note_seq's performance_encoder_decoder_test, plus the config sizes. The
configs' encoders are built the way training builds them: from the JSON files in configs/.
"""
from math import cos, pi, sin

import numpy as np
import pytest

import builders
from magenta_rnn.music.performance_encoders import (
    ModuloPerformanceEventSequenceEncoderDecoder, NotePerformanceEventSequenceEncoderDecoder,
    PerformanceOneHotEncoding, encode_performance)
from magenta_rnn.music.performances import NotePerformance, PerformanceEvent
from magenta_rnn.music.sequences import quantize_note_sequence_absolute
from magenta_rnn.performance import PERFORMANCE_RNN
from magenta_rnn.performance.model import setup
from magenta_rnn.rnn.config import available_configs

pe = PerformanceEvent


def performance_config_encoder(config_id):
    """(encoder, control signals, optional conditioning) of a shipped config, from its JSON."""
    performance_setup = setup(PERFORMANCE_RNN.load_config(config_id))
    return (performance_setup.encoder, performance_setup.control_signals,
            performance_setup.optional_conditioning)

ON, OFF, SHIFT, VEL, DUR = (pe.NOTE_ON, pe.NOTE_OFF, pe.TIME_SHIFT, pe.VELOCITY,
                            pe.DURATION)


# PerformanceOneHotEncoding.

def test_one_hot_encode_decode_with_16_bins():
    enc = PerformanceOneHotEncoding(num_velocity_bins=16)
    pairs = [((ON, 60), 60), ((ON, 0), 0), ((ON, 127), 127), ((OFF, 72), 200), ((OFF, 0), 128),
             ((OFF, 127), 255), ((SHIFT, 10), 265), ((SHIFT, 1), 256), ((SHIFT, 100), 355),
             ((VEL, 5), 360), ((VEL, 1), 356), ((VEL, 16), 371)]
    for event, index in pairs:
        assert enc.encode_event(pe(*event)) == index
        assert enc.decode_event(index) == pe(*event)
    assert enc.encode_events([pe(*event) for event, _ in pairs]).tolist() == [i for _, i in pairs]


def test_one_hot_sizes_layout_and_default():
    plain, dynamics = PerformanceOneHotEncoding(), PerformanceOneHotEncoding(32)
    assert (plain.num_classes, dynamics.num_classes) == (356, 388)
    assert dynamics.default_event == pe(SHIFT, 100)
    assert dynamics.encode_event(dynamics.default_event) == 355
    assert [dynamics.encode_event(pe(VEL, b)) for b in (1, 32)] == [356, 387]
    with pytest.raises(ValueError, match='Unknown event type'):
        plain.encode_event(pe(VEL, 1))  # no velocity range without bins
    with pytest.raises(ValueError):
        plain.encode_event(pe(SHIFT, 101))
    with pytest.raises(ValueError):
        plain.decode_event(356)


def test_event_to_num_steps():
    enc = PerformanceOneHotEncoding(num_velocity_bins=16)
    assert [enc.event_to_num_steps(pe(*e)) for e in [(ON, 60), (OFF, 67), (VEL, 10),
                                                     (SHIFT, 1), (SHIFT, 56), (SHIFT, 100)]] \
        == [0, 0, 0, 1, 56, 100]
    assert enc.class_num_steps[[0, 255, 256, 355, 356]].tolist() == [0, 0, 1, 100, 0]


def test_one_hot_sequence_encoding():
    encoder, _, _ = performance_config_encoder('performance_with_dynamics')
    assert (encoder.input_size, encoder.num_classes, encoder.default_event_label) == \
        (388, 388, 355)
    performance = builders.performance([(VEL, 25), (ON, 60), (SHIFT, 50), (OFF, 60)],
                                       num_velocity_bins=32)
    inputs, labels = encoder.encode_arrays(performance)
    assert labels.tolist() == [60, 305, 188]
    assert [int(np.flatnonzero(row)[0]) for row in inputs] == [380, 60, 305]
    assert encoder.labels_to_num_steps([60, 305, 188, 355]) == 150
    compact, _, _ = performance_config_encoder('performance_with_dynamics_compact')
    assert (compact.input_size, compact.input_depth) == (1, 388)
    assert compact.encode_arrays(performance)[0].tolist() == [[380.0], [60.0], [305.0]]


# Modulo encoding.

def test_modulo_sizes():
    enc = ModuloPerformanceEventSequenceEncoderDecoder(num_velocity_bins=32)
    assert (enc.input_size, enc.num_classes, enc.default_event_label) == (16, 388, 355)
    assert ModuloPerformanceEventSequenceEncoderDecoder().input_size == 13


def test_modulo_inputs():
    enc = ModuloPerformanceEventSequenceEncoderDecoder(num_velocity_bins=16, max_shift_steps=99)
    slow, fast = 2.0 * pi / 144.0, 2.0 * pi / 12.0
    shift_base, velocity_base = 2.0 * pi / 99, 2.0 * pi / 16

    def note(offset, p):
        row = [0.0] * 16
        row[offset:offset + 5] = [1.0, cos(p * slow), sin(p * slow), cos(p * fast), sin(p * fast)]
        return row

    def circle(offset, value, base):
        row = [0.0] * 16
        row[offset:offset + 3] = [1.0, cos(value * base), sin(value * base)]
        return row

    expected = [((ON, 60), note(0, 60)), ((ON, 0), note(0, 0)), ((ON, 127), note(0, 127)),
                ((OFF, 72), note(5, 72)), ((OFF, 127), note(5, 127)),
                ((SHIFT, 10), circle(10, 9, shift_base)), ((SHIFT, 1), circle(10, 0, shift_base)),
                ((SHIFT, 99), circle(10, 98, shift_base)),
                ((VEL, 5), circle(13, 4, velocity_base)), ((VEL, 16), circle(13, 15, velocity_base))]
    events = [pe(*event) for event, _ in expected]
    inputs = enc.events_to_inputs(events)
    assert inputs.dtype == np.float32
    np.testing.assert_allclose(inputs, [row for _, row in expected], atol=1e-6)
    assert enc.events_to_labels(events).tolist() == [
        PerformanceOneHotEncoding(16, 99).encode_event(e) for e in events]
    with pytest.raises(ValueError):
        ModuloPerformanceEventSequenceEncoderDecoder().events_to_inputs([pe(VEL, 3)])


# Note-performance encoding.

def test_note_encoder_sizes_and_default():
    enc = NotePerformanceEventSequenceEncoderDecoder(num_velocity_bins=32)
    assert enc.num_classes == [13, 77, 128, 32, 25, 40]
    assert enc.input_size == 315
    assert enc.default_event_label == (0, 0, 60, 0, 0, 0)
    assert (enc.shift_steps_segments, enc.shift_steps_per_segment) == (13, 77)
    assert (enc.duration_steps_segments, enc.duration_steps_per_segment) == (25, 40)


def test_note_encoder_labels_inputs_and_decoding():
    enc = NotePerformanceEventSequenceEncoderDecoder(num_velocity_bins=32)
    events = [(pe(SHIFT, 0), pe(ON, 60), pe(VEL, 25), pe(DUR, 400)),
              (pe(SHIFT, 1000), pe(ON, 127), pe(VEL, 32), pe(DUR, 1000)),
              (pe(SHIFT, 80), pe(ON, 0), pe(VEL, 1), pe(DUR, 1))]
    labels = enc.events_to_labels(events)
    assert labels.tolist() == [[0, 0, 60, 24, 9, 39], [12, 76, 127, 31, 24, 39],
                               [1, 3, 0, 0, 0, 0]]
    assert enc.events_to_label(events, 0) == (0, 0, 60, 24, 9, 39)
    inputs = enc.events_to_inputs(events)
    offsets = [0, 13, 90, 218, 250, 275]
    assert [np.flatnonzero(row).tolist() for row in inputs] == [
        [o + v for o, v in zip(offsets, label)] for label in labels.tolist()]
    assert enc.class_index_to_event((12, 76, 127, 31, 24, 39), []) == events[1]
    assert enc.labels_to_num_steps(labels.tolist()) == 1080 + 1


def test_note_performance_encoding_end_to_end():
    ns = builders.note_sequence([(60, 100, 0.0, 1.0), (64, 80, 0.5, 0.75)], qpm=None,
                                time_signature=None)
    performance = NotePerformance(quantize_note_sequence_absolute(ns, 100), 32)
    encoder, _, _ = performance_config_encoder('performance_with_dynamics_and_note_encoding')
    inputs, labels = encoder.encode_arrays(performance)
    assert inputs.shape == (1, 315)
    assert labels.tolist() == [[0, 50, 64, 19, 0, 24]]


# Conditioned configs (Conditional over Multiple / Optional control encoders).

# The original's input size of every config (the compact one stores a class index per step).
CONFIG_INPUT_SIZES = {
    'performance': 356, 'performance_with_dynamics': 388,
    'performance_with_dynamics_compact': 1,
    'performance_with_dynamics_and_modulo_encoding': 16,
    'performance_with_dynamics_and_note_encoding': 315,
    'density_conditioned_performance_with_dynamics': 396,
    'pitch_conditioned_performance_with_dynamics': 400,
    'multiconditioned_performance_with_dynamics': 408,
    'optional_multiconditioned_performance_with_dynamics': 409}


def test_every_shipped_config_has_the_originals_input_size():
    assert sorted(available_configs('performance_rnn')) == sorted(CONFIG_INPUT_SIZES)
    assert {config_id: performance_config_encoder(config_id)[0].input_size
            for config_id in CONFIG_INPUT_SIZES} == CONFIG_INPUT_SIZES


def test_multiconditioned_inputs_put_the_next_control_first():
    encoder, signals, optional = performance_config_encoder(
        'multiconditioned_performance_with_dynamics')
    assert [s.name for s in signals] == ['notes_per_second', 'pitch_class_histogram']
    assert not optional and encoder.num_classes == 388 and encoder.default_event_label == 355
    performance = builders.performance([(ON, 60), (SHIFT, 100), (ON, 64), (SHIFT, 100),
                                        (SHIFT, 100), (OFF, 60)], num_velocity_bins=32)
    [(inputs, labels)] = encode_performance(encoder, signals, optional, performance)
    assert inputs.shape == (5, 408) and labels.tolist() == [355, 64, 355, 355, 188]
    # Position 0 carries the controls of event 1 (a TIME_SHIFT, so event 0's values):
    # 2 onsets in 3 s of scan -> density 2/3 (bin 0); 60 sounds 3 s and 64 2 s -> C 3.01,
    # E 2.01 of 5.12 with the 0.01 priors.
    assert np.flatnonzero(inputs[0, :8]).tolist() == [0]
    np.testing.assert_allclose(inputs[0, 8 + 0], 3.01 / 5.12, rtol=1e-6)
    np.testing.assert_allclose(inputs[0, 8 + 4], 2.01 / 5.12, rtol=1e-6)
    assert np.flatnonzero(inputs[0, 20:]).tolist() == [60]


def test_optional_conditioning_encodes_twice():
    encoder, signals, optional = performance_config_encoder(
        'optional_multiconditioned_performance_with_dynamics')
    assert optional
    performance = builders.performance([(ON, 60), (SHIFT, 100), (OFF, 60)],
                                       num_velocity_bins=32)
    (enabled, labels), (disabled, labels_again) = encode_performance(
        encoder, signals, optional, performance)
    assert labels.tolist() == labels_again.tolist() == [355, 188]
    assert enabled[:, 0].tolist() == [0.0, 0.0] and disabled[:, 0].tolist() == [1.0, 1.0]
    assert not disabled[:, 1:21].any() and enabled[:, 1:21].sum() == pytest.approx(4.0)
    np.testing.assert_array_equal(enabled[:, 21:], disabled[:, 21:])


@pytest.mark.slow
def test_parity_with_the_original_on_real_data(shared_data, peer):
    """Drum and performance extraction + every encoding match the original Magenta."""
    import os
    import subprocess
    import sys
    from pathlib import Path
    root = Path(__file__).resolve().parents[1]
    result = subprocess.run(
        [sys.executable, str(root / 'scripts' / 'compare_drums_performance_encoding_with_peer.py'),
         '--data_dir', str(shared_data), '--num_groove', '30', '--num_asap', '2'],
        capture_output=True, text=True, env={**os.environ, 'PYTHONPATH': str(root)},
        check=False)
    assert 'PARITY OK' in result.stdout, result.stdout[-3000:] + result.stderr[-3000:]
