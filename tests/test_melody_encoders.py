"""Melody encodings (REFERENCE.md "Melody encoding", "Input and label sizes").

The position tables are ported from note_seq's melody_encoder_decoder_test, written
as the non-zero entries of each input vector.
"""
import numpy as np
import pytest

from magenta_rnn.music.encoders import (LookbackEventSequenceEncoderDecoder,
                                        OneHotEventSequenceEncoderDecoder)
from magenta_rnn.melody import MELODY_RNN
from magenta_rnn.music.melodies import Melody
from magenta_rnn.music.melody_encoders import KeyMelodyEncoderDecoder, MelodyOneHotEncoding



def melody_encoder_decoder(config_id):
    """The encoder of a shipped config, built from its JSON file as training builds it."""
    return MELODY_RNN.build_encoder(MELODY_RNN.load_config(config_id))


NOTE_OFF = -1
NO_EVENT = -2


def dense(sparse, size):
    row = [0.0] * size
    for index, value in sparse.items():
        row[index] = float(value)
    return row


# MelodyOneHotEncoding.

def test_one_hot_encoding_range_checks():
    MelodyOneHotEncoding(0, 128)
    for low, high in [(-1, 12), (60, 129), (72, 72)]:
        with pytest.raises(ValueError):
            MelodyOneHotEncoding(low, high)


def test_one_hot_encoding_classes():
    assert MelodyOneHotEncoding(60, 72).num_classes == 14
    assert MelodyOneHotEncoding(0, 128).num_classes == 130
    assert MelodyOneHotEncoding(60, 61).num_classes == 3
    assert MelodyOneHotEncoding(60, 72).default_event == NO_EVENT


def test_one_hot_encode_and_decode():
    enc = MelodyOneHotEncoding(60, 72)
    assert [enc.encode_event(e) for e in (60, 71, NO_EVENT, NOTE_OFF)] == [2, 13, 0, 1]
    for bad in (-3, 59, 72):
        with pytest.raises(ValueError):
            enc.encode_event(bad)
        with pytest.raises(ValueError):
            enc.encode_events([60, bad])
    assert enc.encode_events([60, 71, NO_EVENT, NOTE_OFF]).tolist() == [2, 13, 0, 1]
    assert [enc.decode_event(i) for i in (5, 2, 13, 0, 1)] == [63, 60, 71, NO_EVENT, NOTE_OFF]


# Config sizes (REFERENCE.md "Input and label sizes").

@pytest.mark.parametrize('name, input_size, num_classes, default_label', [
    ('basic_rnn', 38, 38, 0), ('mono_rnn', 130, 130, 0), ('lookback_rnn', 121, 40, 0),
    ('attention_rnn', 74, 40, 36)])
def test_config_sizes(name, input_size, num_classes, default_label):
    enc = melody_encoder_decoder(name)
    assert (enc.input_size, enc.num_classes, enc.default_event_label) == (
        input_size, num_classes, default_label)
    assert enc.class_num_steps.tolist() == [1] * num_classes


# One-hot melody encoder (range 60..72, key C).

@pytest.fixture
def one_hot():
    return OneHotEventSequenceEncoderDecoder(MelodyOneHotEncoding(60, 72))


def squashed(events):
    melody = Melody(events)
    melody.squash(60, 72, 0)
    return melody


MELODY_1 = [100, 100, 107, 111, NO_EVENT, 99, 112, NOTE_OFF, NO_EVENT]
MELODY_1_CLASSES = [2, 2, 9, 13, 0, 13, 2, 1, 0]  # After squash: 60 60 67 71 . 71 60 off .
MELODY_2 = [9, 10, 12, 14, 15, 17, 19, 21, 22]
MELODY_2_CLASSES = [13, 2, 4, 6, 7, 9, 11, 13, 2]


def test_one_hot_encode_after_squash(one_hot):
    inputs, labels = one_hot.encode_arrays(squashed(MELODY_1))
    assert inputs.tolist() == [dense({c: 1}, 14) for c in MELODY_1_CLASSES[:-1]]
    assert labels.tolist() == [2, 9, 13, 0, 13, 2, 1, 0]


def test_one_hot_inputs_batch(one_hot):
    melodies = [squashed(MELODY_1), squashed(MELODY_2)]
    full = one_hot.get_inputs_batch(melodies, True)
    assert full[0].tolist() == [dense({c: 1}, 14) for c in MELODY_1_CLASSES]
    assert full[1].tolist() == [dense({c: 1}, 14) for c in MELODY_2_CLASSES]
    last = one_hot.get_inputs_batch(melodies)
    assert [b.tolist() for b in last] == [[dense({0: 1}, 14)], [dense({2: 1}, 14)]]


def test_one_hot_extend_melodies(one_hot):
    melodies = [Melody([60]) for _ in range(4)]
    softmax = [[dense({2: 1}, 14)], [dense({13: 1}, 14)], [dense({0: 1}, 14)],
               [dense({1: 1}, 14)]]
    one_hot.extend_event_sequences(melodies, softmax)
    assert [list(m) for m in melodies] == [[60, 60], [60, 71], [60, NO_EVENT], [60, NOTE_OFF]]


# Worked examples (REFERENCE.md "Lookback encoder", "Melody encoding").

WORKED = [60, NO_EVENT, 60, NO_EVENT, 67, NO_EVENT, 67, NO_EVENT]


def test_lookback_rnn_worked_example():
    enc = melody_encoder_decoder('lookback_rnn')
    inputs, labels = enc.encode_arrays(Melody(WORKED))
    assert labels.tolist() == [39, 14, 39, 21, 39, 21, 39]
    # Input 0: pitch 60 (class 14), both lookbacks see the default event (38, 76),
    # counters of n=1 at 114..118, no repeat flags.
    assert inputs[0].tolist() == dense({14: 1, 38: 1, 76: 1, 114: 1, 115: -1, 116: -1,
                                        117: -1, 118: -1}, 121)


def test_attention_rnn_worked_example():
    enc = melody_encoder_decoder('attention_rnn')
    inputs, labels = enc.encode_arrays(Melody(WORKED))
    assert labels.tolist() == [39, 12, 39, 19, 39, 19, 39]
    # Input 0: pitch 60 at 12, note on (36), attack (38), counters of n=1 at 42..48, and
    # C major's keys (C, C#, D#, F, G, G#, A#) as best keys twice (50.., 62..).
    c_keys = [0, 1, 3, 5, 7, 8, 10]
    assert inputs[0].tolist() == dense(
        {12: 1, 36: 1, 38: 1, 42: 1, 43: -1, 44: -1, 45: -1, 46: -1, 47: -1, 48: -1,
         **{50 + k: 1 for k in c_keys}, **{62 + k: 1 for k in c_keys}}, 74)
    # Input 4: pitch 67 at 19, ascending (39 = +1), counters of n=5.
    assert inputs[4][[19, 36, 38, 39]].tolist() == [1, 1, 1, 1]
    assert inputs[4][42:49].tolist() == [1, -1, 1, -1, -1, -1, -1]


def test_key_melody_input_layout_at_a_bar_line_and_silence():
    enc = melody_encoder_decoder('attention_rnn')
    events = [60, NOTE_OFF] + [NO_EVENT] * 13 + [62]
    inputs = enc.events_to_inputs(events)
    # Position 14: silence (37), no attack, and step 15 does not start a bar.
    assert inputs[14][[36, 37, 38, 49]].tolist() == [0, 1, 0, 0]
    # Position 15: 62 sounds (index 14), attacks, ascends; step 16 starts a bar (49).
    assert inputs[15][[14, 36, 37, 38, 39, 49]].tolist() == [1, 1, 0, 1, 1, 1]


LOOKBACK_DEFAULT_LABELS = [2, 39, 3, 37, 1, 38, 1, 39, 38, 39, 36]
LOOKBACK_DEFAULT_POSITIONS = [0, 1, 2, 3, 4, 16, 17, 32, 33, 34, 35]
LOOKBACK_DEFAULT_INPUTS = [  # Non-zero entries of the input at each position.
    {2: 1, 38: 1, 76: 1, 114: 1, 115: -1, 116: -1, 117: -1, 118: -1},
    {0: 1, 38: 1, 76: 1, 114: -1, 115: 1, 116: -1, 117: -1, 118: -1},
    {3: 1, 38: 1, 76: 1, 114: 1, 115: 1, 116: -1, 117: -1, 118: -1},
    {37: 1, 38: 1, 76: 1, 114: -1, 115: -1, 116: 1, 117: -1, 118: -1},
    {1: 1, 38: 1, 76: 1, 114: 1, 115: -1, 116: 1, 117: -1, 118: -1},
    {2: 1, 38: 1, 76: 1, 114: 1, 115: -1, 116: -1, 117: -1, 118: 1, 119: 1},
    {1: 1, 41: 1, 76: 1, 114: -1, 115: 1, 116: -1, 117: -1, 118: 1},
    {2: 1, 39: 1, 76: 1, 114: 1, 115: -1, 116: -1, 117: -1, 118: -1, 119: 1, 120: 1},
    {1: 1, 38: 1, 79: 1, 114: -1, 115: 1, 116: -1, 117: -1, 118: -1, 119: 1},
    {3: 1, 38: 1, 113: 1, 114: 1, 115: 1, 116: -1, 117: -1, 118: -1, 120: 1},
    {36: 1, 38: 1, 77: 1, 114: -1, 115: -1, 116: 1, 117: -1, 118: -1},
]

LOOKBACK_CUSTOM_LABELS = [2, 15, 3, 13, 1, 14, 1, 15, 14, 15, 12]
LOOKBACK_CUSTOM_POSITIONS = [0, 1, 2, 3, 4, 16, 17, 32, 33, 34, 35]
LOOKBACK_CUSTOM_INPUTS = [  # Non-zero entries of the input at each position.
    {2: 1, 14: 1, 28: 1, 42: 1, 43: -1, 44: -1, 45: -1, 46: -1},
    {0: 1, 14: 1, 28: 1, 42: -1, 43: 1, 44: -1, 45: -1, 46: -1},
    {3: 1, 14: 1, 28: 1, 42: 1, 43: 1, 44: -1, 45: -1, 46: -1},
    {13: 1, 14: 1, 28: 1, 42: -1, 43: -1, 44: 1, 45: -1, 46: -1},
    {1: 1, 14: 1, 28: 1, 42: 1, 43: -1, 44: 1, 45: -1, 46: -1},
    {2: 1, 14: 1, 28: 1, 42: 1, 43: -1, 44: -1, 45: -1, 46: 1, 47: 1},
    {1: 1, 17: 1, 28: 1, 42: -1, 43: 1, 44: -1, 45: -1, 46: 1},
    {2: 1, 15: 1, 28: 1, 42: 1, 43: -1, 44: -1, 45: -1, 46: -1, 47: 1, 48: 1},
    {1: 1, 14: 1, 31: 1, 42: -1, 43: 1, 44: -1, 45: -1, 46: -1, 47: 1},
    {3: 1, 14: 1, 41: 1, 42: 1, 43: 1, 44: -1, 45: -1, 46: -1, 48: 1},
    {12: 1, 14: 1, 29: 1, 42: -1, 43: -1, 44: 1, 45: -1, 46: -1},
]

KEY_DEFAULT_LABELS = [0, 39, 1, 35, 37, 39, 38, 37, 39, 38, 39, 34]
KEY_DEFAULT_POSITIONS = [0, 1, 2, 3, 4, 15, 16, 17, 32, 33, 34, 35]
KEY_DEFAULT_INPUTS = [  # Non-zero entries of the input at each position.
    {0: 1, 36: 1, 38: 1, 42: 1, 43: -1, 44: -1, 45: -1, 46: -1, 47: -1, 48: -1, 50: 1, 51: 1,
     53: 1, 55: 1, 57: 1, 58: 1, 60: 1, 62: 1, 63: 1, 65: 1, 67: 1, 69: 1, 70: 1, 72: 1},
    {0: 1, 36: 1, 42: -1, 43: 1, 44: -1, 45: -1, 46: -1, 47: -1, 48: -1, 50: 1, 51: 1, 53: 1,
     55: 1, 57: 1, 58: 1, 60: 1, 62: 1, 63: 1, 65: 1, 67: 1, 69: 1, 70: 1, 72: 1},
    {1: 1, 36: 1, 38: 1, 39: 1, 42: 1, 43: 1, 44: -1, 45: -1, 46: -1, 47: -1, 48: -1, 51: 1,
     58: 1, 63: 1, 70: 1},
    {35: 1, 36: 1, 38: 1, 39: 1, 42: -1, 43: -1, 44: 1, 45: -1, 46: -1, 47: -1, 48: -1, 50: 1,
     51: 1, 52: 1, 54: 1, 56: 1, 57: 1, 58: 1, 59: 1, 61: 1, 62: 1, 63: 1, 64: 1, 66: 1, 68: 1,
     69: 1, 70: 1, 71: 1, 73: 1},
    {37: 1, 38: 1, 39: 1, 42: 1, 43: -1, 44: 1, 45: -1, 46: -1, 47: -1, 48: -1, 50: 1, 51: 1,
     52: 1, 54: 1, 56: 1, 57: 1, 58: 1, 59: 1, 61: 1, 62: 1, 63: 1, 64: 1, 66: 1, 68: 1, 69: 1,
     70: 1, 71: 1, 73: 1},
    {37: 1, 39: 1, 42: -1, 43: -1, 44: -1, 45: -1, 46: 1, 47: -1, 48: -1, 49: 1, 50: 1, 51: 1,
     52: 1, 54: 1, 56: 1, 57: 1, 58: 1, 59: 1, 61: 1, 62: 1, 63: 1, 64: 1, 66: 1, 68: 1, 69: 1,
     70: 1, 71: 1, 73: 1},
    {0: 1, 36: 1, 38: 1, 39: -1, 40: 1, 42: 1, 43: -1, 44: -1, 45: -1, 46: 1, 47: -1, 48: -1,
     50: 1, 51: 1, 57: 1, 58: 1, 62: 1, 63: 1, 64: 1, 66: 1, 68: 1, 69: 1, 70: 1, 71: 1, 73:
     1},
    {37: 1, 38: 1, 39: -1, 42: -1, 43: 1, 44: -1, 45: -1, 46: 1, 47: -1, 48: -1, 50: 1, 51: 1,
     57: 1, 58: 1, 62: 1, 63: 1, 64: 1, 66: 1, 68: 1, 69: 1, 70: 1, 71: 1, 73: 1},
    {0: 1, 36: 1, 38: 1, 39: -1, 40: 1, 41: 1, 42: 1, 43: -1, 44: -1, 45: -1, 46: -1, 47: 1,
     48: -1, 50: 1, 51: 1, 57: 1, 58: 1, 62: 1, 63: 1, 64: 1, 66: 1, 68: 1, 69: 1, 70: 1, 71:
     1, 73: 1},
    {37: 1, 38: 1, 39: -1, 40: 1, 42: -1, 43: 1, 44: -1, 45: -1, 46: -1, 47: 1, 48: -1, 50: 1,
     51: 1, 57: 1, 58: 1, 62: 1, 63: 1, 64: 1, 66: 1, 68: 1, 69: 1, 70: 1, 71: 1, 73: 1},
    {1: 1, 36: 1, 38: 1, 39: 1, 41: 1, 42: 1, 43: 1, 44: -1, 45: -1, 46: -1, 47: 1, 48: -1,
     51: 1, 58: 1, 62: 1, 63: 1, 64: 1, 66: 1, 68: 1, 69: 1, 70: 1, 71: 1, 73: 1},
    {34: 1, 36: 1, 38: 1, 39: 1, 42: -1, 43: -1, 44: 1, 45: -1, 46: -1, 47: 1, 48: -1, 51: 1,
     58: 1, 63: 1, 70: 1},
]

KEY_CUSTOM_LABELS = [0, 15, 1, 11, 13, 15, 14, 13, 15, 14, 15, 10]
KEY_CUSTOM_POSITIONS = [0, 1, 2, 3, 4, 15, 16, 17, 32, 33, 34, 35]
KEY_CUSTOM_INPUTS = [  # Non-zero entries of the input at each position.
    {0: 1, 12: 1, 14: 1, 18: 1, 19: -1, 20: -1, 21: -1, 22: -1, 23: -1, 24: -1, 26: 1, 27: 1,
     29: 1, 31: 1, 33: 1, 34: 1, 36: 1, 38: 1, 39: 1, 41: 1, 43: 1, 45: 1, 46: 1, 48: 1},
    {0: 1, 12: 1, 18: -1, 19: 1, 20: -1, 21: -1, 22: -1, 23: -1, 24: -1, 26: 1, 27: 1, 29: 1,
     31: 1, 33: 1, 34: 1, 36: 1, 38: 1, 39: 1, 41: 1, 43: 1, 45: 1, 46: 1, 48: 1},
    {1: 1, 12: 1, 14: 1, 15: 1, 18: 1, 19: 1, 20: -1, 21: -1, 22: -1, 23: -1, 24: -1, 27: 1,
     34: 1, 39: 1, 46: 1},
    {11: 1, 12: 1, 14: 1, 15: 1, 18: -1, 19: -1, 20: 1, 21: -1, 22: -1, 23: -1, 24: -1, 26: 1,
     27: 1, 28: 1, 30: 1, 32: 1, 33: 1, 34: 1, 35: 1, 37: 1, 38: 1, 39: 1, 40: 1, 42: 1, 44: 1,
     45: 1, 46: 1, 47: 1, 49: 1},
    {13: 1, 14: 1, 15: 1, 18: 1, 19: -1, 20: 1, 21: -1, 22: -1, 23: -1, 24: -1, 26: 1, 27: 1,
     28: 1, 30: 1, 32: 1, 33: 1, 34: 1, 35: 1, 37: 1, 38: 1, 39: 1, 40: 1, 42: 1, 44: 1, 45: 1,
     46: 1, 47: 1, 49: 1},
    {13: 1, 15: 1, 18: -1, 19: -1, 20: -1, 21: -1, 22: 1, 23: -1, 24: -1, 25: 1, 26: 1, 27: 1,
     28: 1, 30: 1, 32: 1, 33: 1, 34: 1, 35: 1, 37: 1, 38: 1, 39: 1, 40: 1, 42: 1, 44: 1, 45: 1,
     46: 1, 47: 1, 49: 1},
    {0: 1, 12: 1, 14: 1, 15: -1, 16: 1, 18: 1, 19: -1, 20: -1, 21: -1, 22: 1, 23: -1, 24: -1,
     26: 1, 27: 1, 33: 1, 34: 1, 38: 1, 39: 1, 40: 1, 42: 1, 44: 1, 45: 1, 46: 1, 47: 1, 49:
     1},
    {13: 1, 14: 1, 15: -1, 18: -1, 19: 1, 20: -1, 21: -1, 22: 1, 23: -1, 24: -1, 26: 1, 27: 1,
     33: 1, 34: 1, 38: 1, 39: 1, 40: 1, 42: 1, 44: 1, 45: 1, 46: 1, 47: 1, 49: 1},
    {0: 1, 12: 1, 14: 1, 15: -1, 16: 1, 17: 1, 18: 1, 19: -1, 20: -1, 21: -1, 22: -1, 23: 1,
     24: -1, 26: 1, 27: 1, 33: 1, 34: 1, 38: 1, 39: 1, 40: 1, 42: 1, 44: 1, 45: 1, 46: 1, 47:
     1, 49: 1},
    {13: 1, 14: 1, 15: -1, 16: 1, 18: -1, 19: 1, 20: -1, 21: -1, 22: -1, 23: 1, 24: -1, 26: 1,
     27: 1, 33: 1, 34: 1, 38: 1, 39: 1, 40: 1, 42: 1, 44: 1, 45: 1, 46: 1, 47: 1, 49: 1},
    {1: 1, 12: 1, 14: 1, 15: 1, 17: 1, 18: 1, 19: 1, 20: -1, 21: -1, 22: -1, 23: 1, 24: -1,
     27: 1, 34: 1, 38: 1, 39: 1, 40: 1, 42: 1, 44: 1, 45: 1, 46: 1, 47: 1, 49: 1},
    {10: 1, 12: 1, 14: 1, 15: 1, 18: -1, 19: -1, 20: 1, 21: -1, 22: -1, 23: 1, 24: -1, 27: 1,
     34: 1, 39: 1, 46: 1},
]

TABLE_EVENTS_DEFAULT = ([48, NO_EVENT, 49, 83, NOTE_OFF] + [NO_EVENT] * 11 + [48, NOTE_OFF] +
                        [NO_EVENT] * 14 + [48, NOTE_OFF, 49, 82])
TABLE_EVENTS_CUSTOM = ([24, NO_EVENT, 25, 35, NOTE_OFF] + [NO_EVENT] * 11 + [24, NOTE_OFF] +
                       [NO_EVENT] * 14 + [24, NOTE_OFF, 25, 34])


@pytest.mark.parametrize('encoder, sizes, events, positions, inputs, labels', [
    (LookbackEventSequenceEncoderDecoder(MelodyOneHotEncoding(48, 84)), (121, 40),
     TABLE_EVENTS_DEFAULT, LOOKBACK_DEFAULT_POSITIONS, LOOKBACK_DEFAULT_INPUTS,
     LOOKBACK_DEFAULT_LABELS),
    (LookbackEventSequenceEncoderDecoder(MelodyOneHotEncoding(24, 36)), (49, 16),
     TABLE_EVENTS_CUSTOM, LOOKBACK_CUSTOM_POSITIONS, LOOKBACK_CUSTOM_INPUTS,
     LOOKBACK_CUSTOM_LABELS),
    (KeyMelodyEncoderDecoder(48, 84), (74, 40), TABLE_EVENTS_DEFAULT, KEY_DEFAULT_POSITIONS,
     KEY_DEFAULT_INPUTS, KEY_DEFAULT_LABELS),
    (KeyMelodyEncoderDecoder(24, 36), (50, 16), TABLE_EVENTS_CUSTOM, KEY_CUSTOM_POSITIONS,
     KEY_CUSTOM_INPUTS, KEY_CUSTOM_LABELS),
], ids=['lookback-48-84', 'lookback-24-36', 'key-48-84', 'key-24-36'])
def test_position_tables(encoder, sizes, events, positions, inputs, labels):
    assert (encoder.input_size, encoder.num_classes) == sizes
    melody = Melody(events)
    full = encoder.get_inputs_batch([melody, melody], True)
    all_labels = encoder.events_to_labels(melody)
    for position, expected_input, label in zip(positions, inputs, labels):
        expected = dense(expected_input, encoder.input_size)
        assert full[0][position].tolist() == expected
        assert full[1][position].tolist() == expected
        assert encoder.events_to_input(melody, position) == expected
        assert all_labels[position] == label
        assert encoder.events_to_label(melody, position) == label
        # Sampling the label from a certain softmax rebuilds the event.
        prefix = Melody(events[:position])
        softmax = [[[0.0] * encoder.num_classes]]
        softmax[0][0][label] = 1.0
        encoder.extend_event_sequences([prefix], softmax)
        assert list(prefix)[-1] == events[position]
    last = encoder.get_inputs_batch([melody, melody])
    expected_last = [dense(inputs[-1], encoder.input_size)]
    assert [b.tolist() for b in last] == [expected_last, expected_last]


@pytest.mark.parametrize('name', ['basic_rnn', 'mono_rnn', 'lookback_rnn', 'attention_rnn'])
def test_vectorized_encoding_matches_per_position_methods(name):
    enc = melody_encoder_decoder(name)
    rng = np.random.default_rng(0)
    events = rng.choice([NO_EVENT, NO_EVENT, NOTE_OFF] + list(range(48, 84)), size=80).tolist()
    melody = Melody(events)
    inputs, labels = enc.encode_arrays(melody)
    assert inputs.tolist() == [enc.events_to_input(melody, p) for p in range(79)]
    assert labels.tolist() == [enc.events_to_label(melody, p) for p in range(1, 80)]
    # Any window of positions gives the same rows as the whole.
    assert enc.events_to_inputs(melody, 37, 70).tolist() == inputs[37:70].tolist()
    assert enc.events_to_labels(melody, 33, 50).tolist() == enc.events_to_labels(melody)[
        33:50].tolist()


def test_key_melody_last_step_of_a_growing_melody_matches_the_whole_encoding():
    # Generation encodes the last step after each append; that path keeps a running state.
    enc = KeyMelodyEncoderDecoder(48, 84)
    rng = np.random.default_rng(1)
    events = rng.choice([NO_EVENT, NO_EVENT, NOTE_OFF] + list(range(48, 84)), size=60).tolist()
    whole = enc.events_to_inputs(Melody(events)).tolist()
    melody = Melody(events[:1])
    rows = [enc.get_inputs_batch([melody], full_length=True)[0][-1].tolist()]
    for event in events[1:]:
        melody.append(event)
        rows.append(enc.get_inputs_batch([melody])[0][-1].tolist())
    assert rows == whole
    # An edited prefix is noticed (the running state is not reused).
    melody.events[5] = 83 if melody.events[5] != 83 else 48
    assert enc.events_to_inputs(melody, 59, 60).tolist() == [
        enc.events_to_inputs(Melody(list(melody.events))).tolist()[-1]]


def test_key_melody_decodes_repeats():
    enc = KeyMelodyEncoderDecoder(48, 84)
    events = list(range(60, 80)) + [NO_EVENT] * 12
    assert enc.class_index_to_event(38, events) == events[-16]
    assert enc.class_index_to_event(39, events) == events[-32]
    assert enc.class_index_to_event(39, events[:20]) == NO_EVENT
    assert enc.class_index_to_event(37, events) == NOTE_OFF
    assert enc.class_index_to_event(36, events) == NO_EVENT
    assert enc.class_index_to_event(5, events) == 53


def test_encode_makes_a_sequence_example():
    example = melody_encoder_decoder('basic_rnn').encode(Melody([60, NO_EVENT, 62]))
    lists = example.feature_lists.feature_list
    assert [list(f.float_list.value) for f in lists['inputs'].feature] == [
        dense({14: 1}, 38), dense({0: 1}, 38)]
    assert [list(f.int64_list.value) for f in lists['labels'].feature] == [[0], [16]]


@pytest.mark.slow
def test_extraction_and_encoding_match_the_original(shared_data, peer):
    """Runs scripts/compare_melody_encoding_with_peer.py on a few Nottingham files."""
    import os
    import subprocess
    import sys
    from pathlib import Path
    root = Path(__file__).resolve().parents[1]
    result = subprocess.run(
        [sys.executable, str(root / 'scripts' / 'compare_melody_encoding_with_peer.py'),
         '--midi_dir', str(shared_data / 'nottingham' / 'MIDI' / 'melody'), '--num_files', '15',
         '--midi_dir', str(shared_data / 'nottingham' / 'MIDI'), '--num_files', '10'],
        capture_output=True, text=True, env={**os.environ, 'PYTHONPATH': str(root)},
        check=False)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "'mismatches': 0" in result.stdout
