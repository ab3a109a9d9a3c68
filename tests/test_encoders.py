"""Generic event-sequence encoders (REFERENCE.md "Encoder contract", "One-hot encoder",
"Lookback encoder", "Conditioning and control signals").

Cases ported from note_seq's encoder_decoder_test, with a trivial one-hot encoding
whose events are their own class indices.
"""
import numpy as np
import pytest

from magenta_rnn.music.conditional_encoders import (ConditionalEventSequenceEncoderDecoder,
                                                    MultipleEventSequenceEncoder,
                                                    OptionalEventSequenceEncoder)
from magenta_rnn.music.encoders import (LookbackEventSequenceEncoderDecoder, OneHotEncoding,
                                        OneHotEventSequenceEncoderDecoder,
                                        OneHotIndexEventSequenceEncoderDecoder)


class TrivialOneHotEncoding(OneHotEncoding):
    """Event i is class i; event i lasts num_steps[i] steps (1 when not given)."""

    def __init__(self, num_classes, num_steps=None):
        self._num_classes = num_classes
        self._num_steps = list(num_steps) if num_steps is not None else None

    @property
    def num_classes(self):
        return self._num_classes

    @property
    def default_event(self):
        return 0

    def encode_event(self, event):
        return event

    def decode_event(self, index):
        return index

    def event_to_num_steps(self, event):
        return self._num_steps[event] if self._num_steps is not None else 1


def example_lists(example):
    lists = example.feature_lists.feature_list
    return ([list(f.float_list.value) for f in lists['inputs'].feature],
            [list(f.int64_list.value) for f in lists['labels'].feature])


EVENTS = [0, 1, 0, 2, 0]


# One-hot.

@pytest.fixture
def one_hot():
    return OneHotEventSequenceEncoderDecoder(TrivialOneHotEncoding(3, num_steps=range(3)))


def test_one_hot_sizes(one_hot):
    assert (one_hot.input_size, one_hot.num_classes, one_hot.default_event_label) == (3, 3, 0)


def test_one_hot_inputs_and_labels(one_hot):
    assert [one_hot.events_to_input(EVENTS, p) for p in range(5)] == [
        [1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [1.0, 0.0, 0.0]]
    assert [one_hot.events_to_label(EVENTS, p) for p in range(5)] == [0, 1, 0, 2, 0]
    assert one_hot.events_to_inputs(EVENTS, 1, 3).tolist() == [[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]]
    assert one_hot.events_to_labels(EVENTS, 2).tolist() == [0, 2, 0]


def test_one_hot_decode_and_num_steps(one_hot):
    assert [one_hot.class_index_to_event(i, EVENTS) for i in range(3)] == [0, 1, 2]
    assert one_hot.labels_to_num_steps([0, 1, 0, 2, 0]) == 3
    assert one_hot.class_num_steps.tolist() == [0, 1, 2]


def test_one_hot_encode(one_hot):
    inputs, labels = one_hot.encode_arrays(EVENTS)
    assert inputs.dtype == np.float32
    assert inputs.tolist() == [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0],
                               [0.0, 0.0, 1.0]]
    assert labels.tolist() == [1, 0, 2, 0]
    assert example_lists(one_hot.encode(EVENTS)) == (inputs.tolist(), [[1], [0], [2], [0]])


def test_encode_of_one_event_is_empty(one_hot):
    inputs, labels = one_hot.encode_arrays([2])
    assert inputs.shape == (0, 3) and labels.shape == (0,)
    assert example_lists(one_hot.encode([2])) == ([], [])


def test_one_hot_inputs_batch(one_hot):
    sequences = [[0, 1, 0, 2, 0], [0, 1, 2]]
    first = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [1.0, 0.0, 0.0]]
    second = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]
    assert [b.tolist() for b in one_hot.get_inputs_batch(sequences, True)] == [first, second]
    assert [b.tolist() for b in one_hot.get_inputs_batch(sequences)] == [first[-1:], second[-1:]]


def test_extend_event_sequences_with_certain_softmax(one_hot):
    sequences = [[0], [0], [0]]
    softmax = [[[0.0, 0.0, 1.0]], [[1.0, 0.0, 0.0]], [[0.0, 1.0, 0.0]]]
    assert one_hot.extend_event_sequences(sequences, softmax) == [2, 0, 1]
    assert sequences == [[0, 2], [0, 0], [0, 1]]


def test_extend_event_sequences_uses_last_step_and_rng(one_hot):
    softmax = np.array([[[1.0, 0.0, 0.0], [0.0, 0.3, 0.7]]] * 2, dtype=np.float32)
    draws = []
    for _ in range(2):
        sequences = [[0, 0], [0, 0]]
        chosen = one_hot.extend_event_sequences(sequences, softmax, np.random.default_rng(7))
        draws.append(chosen)
        assert [s[-1] for s in sequences] == chosen
    assert draws[0] == draws[1]  # Same seed, same draw.
    rng = np.random.RandomState(3)
    counts = np.zeros(3)
    for _ in range(400):
        many = [[0]]
        counts[one_hot.extend_event_sequences(many, softmax[:1], rng)[0]] += 1
    assert counts[0] == 0  # Only the last step's softmax is used.
    assert counts[2] > counts[1] > 0


def test_extend_event_sequences_multi_head(one_hot):
    sequences = [[0]]
    heads = [np.array([[[0.0, 1.0]]]), np.array([[[0.0, 0.0, 1.0]]])]

    class Pair(OneHotEventSequenceEncoderDecoder):
        def class_index_to_event(self, class_index, events):
            return tuple(class_index)

    pair = Pair(TrivialOneHotEncoding(3))
    assert pair.extend_event_sequences(sequences, heads) == [[1, 2]]
    assert sequences == [[0, (1, 2)]]


def test_evaluate_log_likelihood(one_hot):
    softmax = [[[0.0, 0.5, 0.5], [0.3, 0.4, 0.3]], [[0.0, 0.6, 0.4], [0.0, 0.4, 0.6]]]
    assert one_hot.evaluate_log_likelihood([[0, 1, 0], [1, 2, 2]], softmax) == [
        np.log(0.5) + np.log(0.3), np.log(0.4) + np.log(0.6)]
    with pytest.raises(ValueError):
        one_hot.evaluate_log_likelihood([[0, 1]], softmax[:1])


# One-hot index.

def test_one_hot_index():
    enc = OneHotIndexEventSequenceEncoderDecoder(TrivialOneHotEncoding(3, num_steps=range(3)))
    assert (enc.input_size, enc.input_depth, enc.num_classes) == (1, 3, 3)
    assert [enc.events_to_input(EVENTS, p) for p in range(5)] == [[0], [1], [0], [2], [0]]
    inputs, labels = enc.encode_arrays(EVENTS)
    assert inputs.tolist() == [[0.0], [1.0], [0.0], [2.0]]
    assert labels.tolist() == [1, 0, 2, 0]
    batch = enc.get_inputs_batch([[0, 1, 0, 2, 0], [0, 1, 2]], True)
    assert [b.tolist() for b in batch] == [[[0], [1], [0], [2], [0]], [[0], [1], [2]]]
    assert [b.tolist() for b in enc.get_inputs_batch([[0, 1, 0, 2, 0], [0, 1, 2]])] == [
        [[0]], [[2]]]


# Lookback.

@pytest.fixture
def lookback():
    return LookbackEventSequenceEncoderDecoder(TrivialOneHotEncoding(3, num_steps=range(3)),
                                               [1, 2], 2)


LOOKBACK_INPUTS = [
    [1.0, 0.0, 0.0, 1.0, 0.0, 0.0, 1.0, 0.0, 0.0, 1.0, -1.0, 0.0, 0.0],
    [0.0, 1.0, 0.0, 0.0, 1.0, 0.0, 1.0, 0.0, 0.0, -1.0, 1.0, 0.0, 0.0],
    [1.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 1.0, 1.0, 0.0, 1.0],
    [0.0, 0.0, 1.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0, -1.0, -1.0, 0.0, 0.0],
    [1.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 1.0, -1.0, 0.0, 1.0]]


def test_lookback_sizes(lookback):
    assert (lookback.input_size, lookback.num_classes, lookback.default_event_label) == (13, 5, 0)


def test_lookback_inputs(lookback):
    assert [lookback.events_to_input(EVENTS, p) for p in range(5)] == LOOKBACK_INPUTS
    assert lookback.events_to_inputs(EVENTS).tolist() == LOOKBACK_INPUTS
    assert lookback.events_to_inputs(EVENTS, 3).tolist() == LOOKBACK_INPUTS[3:]


def test_lookback_labels(lookback):
    # Default event (0) before the last lookback (2) -> repeat-2 label 4; then repeats.
    assert [lookback.events_to_label(EVENTS, p) for p in range(5)] == [4, 1, 4, 2, 4]
    assert lookback.events_to_labels(EVENTS, 1).tolist() == [1, 4, 2, 4]


def test_lookback_class_index_to_event(lookback):
    decoded = [[lookback.class_index_to_event(i, EVENTS[:n]) for i in range(5)]
               for n in range(1, 6)]
    assert decoded == [[0, 1, 2, 0, 0], [0, 1, 2, 1, 0], [0, 1, 2, 0, 1], [0, 1, 2, 2, 0],
                       [0, 1, 2, 0, 2]]


def test_lookback_labels_to_num_steps(lookback):
    assert lookback.labels_to_num_steps([0, 1, 0, 2, 0]) == 3
    # Decoded: 0, 1, repeat-1 -> 1, 2, repeat-2 -> 1.
    assert lookback.labels_to_num_steps([0, 1, 3, 2, 4]) == 5
    assert lookback.class_num_steps is None  # Event lengths differ: repeats need context.


def test_lookback_without_distances():
    enc = LookbackEventSequenceEncoderDecoder(TrivialOneHotEncoding(3), [], 2)
    assert (enc.input_size, enc.num_classes) == (5, 3)
    assert [enc.events_to_input(EVENTS, p) for p in range(5)] == [
        [1.0, 0.0, 0.0, 1.0, -1.0], [0.0, 1.0, 0.0, -1.0, 1.0], [1.0, 0.0, 0.0, 1.0, 1.0],
        [0.0, 0.0, 1.0, -1.0, -1.0], [1.0, 0.0, 0.0, 1.0, -1.0]]
    assert [enc.events_to_label(EVENTS, p) for p in range(5)] == [0, 1, 0, 2, 0]
    assert [enc.class_index_to_event(i, EVENTS[:2]) for i in range(3)] == [0, 1, 2]
    assert enc.class_num_steps.tolist() == [1, 1, 1]


def test_lookback_on_non_int_events_compares_events():
    class TupleEncoding(TrivialOneHotEncoding):
        def encode_event(self, event):
            return event[0]

        def decode_event(self, index):
            return (index,)

        @property
        def default_event(self):
            return (0,)

    enc = LookbackEventSequenceEncoderDecoder(TupleEncoding(3), [1, 2], 2)
    events = [(e,) for e in EVENTS]
    assert enc.events_to_inputs(events).tolist() == LOOKBACK_INPUTS
    assert enc.events_to_labels(events).tolist() == [4, 1, 4, 2, 4]


# Conditional, optional, multiple.

@pytest.fixture
def conditional():
    return ConditionalEventSequenceEncoderDecoder(
        OneHotEventSequenceEncoderDecoder(TrivialOneHotEncoding(2)),
        OneHotEventSequenceEncoderDecoder(TrivialOneHotEncoding(3)))


CONTROLS = [1, 1, 1, 0, 0]
CONDITIONAL_INPUTS = [[0.0, 1.0, 1.0, 0.0, 0.0], [0.0, 1.0, 0.0, 1.0, 0.0],
                      [1.0, 0.0, 1.0, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0, 1.0]]


def test_conditional_control_comes_first_and_one_step_ahead(conditional):
    assert (conditional.input_size, conditional.num_classes) == (5, 3)
    assert [conditional.events_to_input(CONTROLS, EVENTS, p) for p in range(4)] == \
        CONDITIONAL_INPUTS
    assert [conditional.events_to_label(EVENTS, p) for p in range(5)] == [0, 1, 0, 2, 0]
    assert [conditional.class_index_to_event(i, EVENTS) for i in range(3)] == [0, 1, 2]


def test_conditional_encode(conditional):
    inputs, labels = conditional.encode_arrays(CONTROLS, EVENTS)
    assert inputs.tolist() == CONDITIONAL_INPUTS
    assert labels.tolist() == [1, 0, 2, 0]
    assert example_lists(conditional.encode(CONTROLS, EVENTS)) == (
        CONDITIONAL_INPUTS, [[1], [0], [2], [0]])
    with pytest.raises(ValueError):
        conditional.encode([1, 1], EVENTS)


def test_conditional_inputs_batch(conditional):
    controls = [[1, 1, 1, 0, 0], [1, 1, 1, 0, 0]]
    targets = [[0, 1, 0, 2], [0, 1]]
    full = conditional.get_inputs_batch(controls, targets, True)
    assert [b.tolist() for b in full] == [CONDITIONAL_INPUTS, CONDITIONAL_INPUTS[:2]]
    last = conditional.get_inputs_batch(controls, targets)
    assert [b.tolist() for b in last] == [CONDITIONAL_INPUTS[3:], CONDITIONAL_INPUTS[1:2]]
    with pytest.raises(ValueError):
        conditional.get_inputs_batch([[1, 1]], [[0, 1]])


def test_conditional_extend_and_log_likelihood(conditional):
    targets = [[0], [0], [0]]
    softmax = np.array([[[0.0, 0.0, 1.0]], [[1.0, 0.0, 0.0]], [[0.0, 1.0, 0.0]]])
    conditional.extend_event_sequences(targets, softmax)
    assert targets == [[0, 2], [0, 0], [0, 1]]
    softmax = [[[0.0, 0.5, 0.5], [0.3, 0.4, 0.3]], [[0.0, 0.6, 0.4], [0.0, 0.4, 0.6]]]
    assert conditional.evaluate_log_likelihood([[0, 1, 0], [1, 2, 2]], softmax) == [
        np.log(0.5) + np.log(0.3), np.log(0.4) + np.log(0.6)]


def test_optional_encoder():
    enc = OptionalEventSequenceEncoder(OneHotEventSequenceEncoderDecoder(TrivialOneHotEncoding(3)))
    assert enc.input_size == 4
    events = [(False, 0), (False, 1), (False, 0), (True, 2), (True, 0)]
    expected = [[0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0], [0.0, 1.0, 0.0, 0.0],
                [1.0, 0.0, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0]]
    assert [enc.events_to_input(events, p) for p in range(5)] == expected
    assert enc.events_to_inputs(events).tolist() == expected


def test_multiple_encoder():
    enc = MultipleEventSequenceEncoder([
        OneHotEventSequenceEncoderDecoder(TrivialOneHotEncoding(2)),
        OneHotEventSequenceEncoderDecoder(TrivialOneHotEncoding(3))])
    assert enc.input_size == 5
    events = [(1, 0), (1, 1), (1, 0), (0, 2), (0, 0)]
    expected = [[0.0, 1.0, 1.0, 0.0, 0.0], [0.0, 1.0, 0.0, 1.0, 0.0], [0.0, 1.0, 1.0, 0.0, 0.0],
                [1.0, 0.0, 0.0, 0.0, 1.0], [1.0, 0.0, 1.0, 0.0, 0.0]]
    assert [enc.events_to_input(events, p) for p in range(5)] == expected
    assert enc.events_to_inputs(events, 2, 4).tolist() == expected[2:4]
    with pytest.raises(ValueError):
        enc.events_to_input([(1, 0, 0)], 0)


def test_multiple_encoder_single_sequence():
    enc = MultipleEventSequenceEncoder(
        [OneHotEventSequenceEncoderDecoder(TrivialOneHotEncoding(3)),
         OneHotIndexEventSequenceEncoderDecoder(TrivialOneHotEncoding(3))],
        encode_single_sequence=True)
    assert enc.input_size == 4
    assert enc.events_to_inputs([2, 1]).tolist() == [[0.0, 0.0, 1.0, 2.0], [0.0, 1.0, 0.0, 1.0]]


# Direct SequenceExample serialization.

@pytest.mark.parametrize('inputs, labels', [
    ([[1.0, 0.0, -1.0], [0.5, 0.25, 1e-8]], [3, 200]),
    ([[7.0], [0.0], [2.0]], [[0, 0, 60, 0, 0, 1], [12, 76, 127, 31, 24, 39], [1, 2, 3, 4, 5, 6]]),
    ([[-3.5, 1e30]], [-1]),
    (np.zeros((0, 4)), np.zeros((0,), dtype=np.int64)),
    (np.zeros((2, 0)), [2 ** 40, 0]),
])
def test_sequence_example_bytes_parses_like_the_proto_api(inputs, labels):
    from magenta_rnn.music.sequence_example import (sequence_example_bytes,
                                                    sequence_example_from_arrays)
    from magenta_rnn.protobuf import example_pb2
    from magenta_rnn.records import make_sequence_example
    expected = make_sequence_example(np.asarray(inputs, dtype=np.float32).tolist(),
                                     np.asarray(labels).tolist())
    parsed = example_pb2.SequenceExample.FromString(
        sequence_example_bytes(np.asarray(inputs), np.asarray(labels)))
    assert parsed == expected
    assert sequence_example_from_arrays(np.asarray(inputs), np.asarray(labels)) == expected


def test_encode_serialized_matches_encode(lookback):
    from magenta_rnn.protobuf import example_pb2
    serialized = lookback.encode_serialized(EVENTS)
    assert example_pb2.SequenceExample.FromString(serialized) == lookback.encode(EVENTS)
    assert example_lists(lookback.encode(EVENTS)) == (LOOKBACK_INPUTS[:4], [[1], [4], [2], [4]])
