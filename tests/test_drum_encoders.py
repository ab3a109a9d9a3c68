"""Drum encodings: MultiDrumOneHotEncoding and the one_drum / drum_kit encoders (REFERENCE.md
"Drum encoding", "Input and label sizes").

Cases ported from note_seq's drums_encoder_decoder_test, plus the exact sizes and a
worked encoding of each config, whose encoder is built as training builds it: from its JSON
file in configs/.
"""
import numpy as np
import pytest

from magenta_rnn.drums import DRUMS_RNN
from magenta_rnn.music.drum_encoders import (DEFAULT_DRUM_TYPE_PITCHES, DrumsEncodingError,
                                             MultiDrumOneHotEncoding)
from magenta_rnn.music.drums import DrumTrack


def DRUMS(*pitches):
    return frozenset(pitches)


NO_DRUMS = frozenset()


def drums_encoder_decoder(config_id):
    return DRUMS_RNN.build_encoder(DRUMS_RNN.load_config(config_id))


def test_default_classes_and_decode_pitches():
    assert len(DEFAULT_DRUM_TYPE_PITCHES) == 9
    assert [pitches[0] for pitches in DEFAULT_DRUM_TYPE_PITCHES] == [
        36, 38, 42, 46, 45, 48, 50, 49, 51]
    assert MultiDrumOneHotEncoding().num_classes == 512


def test_encode_sets_one_bit_per_drum_class():
    enc = MultiDrumOneHotEncoding()
    assert enc.encode_event(NO_DRUMS) == 0
    assert enc.encode_event(DRUMS(35)) == 1          # kick
    assert enc.encode_event(DRUMS(44)) == 4          # closed hi-hat
    assert enc.encode_event(DRUMS(36, 42)) == 5
    assert enc.encode_event(DRUMS(40, 44)) == 2 + 4  # snare + closed hi-hat
    assert enc.encode_event(DRUMS(35, 51, 59)) == 1 + 256  # two rides count once
    assert enc.encode_event(DRUMS(36, 0)) == 1       # unknown pitch 0 ignored
    assert enc.encode_events([DRUMS(36, 42), NO_DRUMS, DRUMS(51, 53)]).tolist() == [5, 0, 256]


def test_unknown_drums_raise_when_not_ignored():
    enc = MultiDrumOneHotEncoding(ignore_unknown_drums=False)
    with pytest.raises(DrumsEncodingError):
        enc.encode_event(DRUMS(36, 0))
    with pytest.raises(DrumsEncodingError):
        enc.encode_events([DRUMS(36), DRUMS(0)])


def test_decode_gives_first_pitch_of_each_set_class():
    enc = MultiDrumOneHotEncoding()
    assert enc.decode_event(0) == NO_DRUMS
    assert enc.decode_event(5) == DRUMS(36, 42)
    assert enc.decode_event(2 ** 4) == DRUMS(45)
    assert enc.decode_event(7) == DRUMS(36, 38, 42)
    assert enc.decode_event(511) == DRUMS(36, 38, 42, 46, 45, 48, 50, 49, 51)
    assert enc.default_event == NO_DRUMS


def test_one_drum_encoding_maps_every_pitch_to_39():
    # One class holding 39 (what it decodes to), then every pitch 0..127.
    [pitches] = DRUMS_RNN.load_config('one_drum').encoder['drum_type_pitches']
    assert pitches == [39] + list(range(128))
    encoder = drums_encoder_decoder('one_drum')
    assert (encoder.input_size, encoder.num_classes, encoder.default_event_label) == (2, 2, 0)
    assert encoder.one_hot_encoding.encode_event(DRUMS(0, 127)) == 1
    assert encoder.class_index_to_event(1, []) == DRUMS(39)
    inputs, labels = encoder.encode_arrays(DrumTrack([DRUMS(36), NO_DRUMS, DRUMS(42, 38)]))
    assert inputs.tolist() == [[0.0, 1.0], [1.0, 0.0]]
    assert labels.tolist() == [0, 1]


def test_drum_kit_sizes_and_worked_encoding():
    encoder = drums_encoder_decoder('drum_kit')
    assert (encoder.input_size, encoder.num_classes, encoder.default_event_label) == (518, 512, 0)
    assert encoder.lookback_distances == []
    track = DrumTrack([DRUMS(36), NO_DRUMS, DRUMS(42), DRUMS(36, 38)])
    inputs, labels = encoder.encode_arrays(track)
    assert labels.tolist() == [0, 4, 3]  # No lookback: never a repeat label.
    assert inputs.shape == (3, 518)
    # One-hot of the current event, then 6 binary counters of n = position + 1.
    assert [int(np.flatnonzero(row[:512])[0]) for row in inputs] == [1, 0, 4]
    assert inputs[:, 512:].tolist() == [[1, -1, -1, -1, -1, -1],
                                        [-1, 1, -1, -1, -1, -1],
                                        [1, 1, -1, -1, -1, -1]]
    assert encoder.class_index_to_event(5, []) == DRUMS(36, 42)

