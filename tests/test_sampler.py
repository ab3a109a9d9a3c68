"""The batched sampler and beam search (REFERENCE.md "Beam search", "Events generation loop") with
stand-in models."""
import numpy as np
import pytest
import tensorflow as tf

from magenta_rnn.music.encoders import OneHotEncoding, OneHotEventSequenceEncoderDecoder
from magenta_rnn.rnn.sampler import EventsSampler


class Digits(OneHotEncoding):
    """Events are the integers 0..4."""

    @property
    def num_classes(self):
        return 5

    @property
    def default_event(self):
        return 0

    def encode_event(self, event):
        return event

    def decode_event(self, index):
        return index


class TableModel:
    """next-event probabilities = table[current event]; state counts the steps fed."""

    def __init__(self, table):
        self.table = np.asarray(table, dtype=np.float32)
        self.calls = []

    def zero_state(self, batch_size):
        return (tf.zeros([batch_size, 1]),)

    def step(self, inputs, state, temperature):
        self.calls.append(inputs.shape)
        current = np.argmax(inputs, axis=-1)            # [B, T]
        logits = np.log(self.table[current]) / temperature
        softmax = tf.nn.softmax(logits.astype(np.float32))
        return softmax, (state[0] + inputs.shape[1],)


ENCODER = OneHotEventSequenceEncoderDecoder(Digits())
CYCLE = np.eye(5)[[1, 2, 3, 4, 0]] * 0.999 + 0.0002  # almost surely c -> c+1


def test_primer_is_counted_in_num_steps_and_kept():
    sampler = EventsSampler(TableModel(CYCLE), ENCODER)
    primer = [3, 4]
    out = sampler.generate([primer], num_steps=7, rng=np.random.default_rng(0))
    assert out == [[3, 4, 0, 1, 2, 3, 4]]
    assert primer == [3, 4]


def test_first_call_feeds_the_whole_primer_then_one_step_with_state():
    model = TableModel(CYCLE)
    EventsSampler(model, ENCODER).generate([[1, 2, 3]] * 4, num_steps=6,
                                           rng=np.random.default_rng(0))
    assert model.calls == [(4, 3, 5), (4, 1, 5), (4, 1, 5)]


def test_sample_until_keeps_each_rows_state_and_drops_finished_rows():
    """Each row runs until done(row, events); the primer is fed once, then one event per
    call, and a finished row leaves the batch."""
    model = TableModel(CYCLE)
    asked = []

    def done(row, events):
        asked.append((row, len(events)))
        return len(events) >= (4 if row == 1 else 6)

    primers = [[1, 2], [3, 4], [0, 1]]
    out = EventsSampler(model, ENCODER).sample_until(primers, done, rng=np.random.default_rng(0))
    assert out == [[1, 2, 3, 4, 0, 1], [3, 4, 0, 1], [0, 1, 2, 3, 4, 0]]
    assert primers[1] == [3, 4]
    assert model.calls == [(3, 2, 5), (3, 1, 5), (2, 1, 5), (2, 1, 5)]
    assert asked[:3] == [(0, 3), (1, 3), (2, 3)]


def test_outputs_are_sampled_together_and_reproducible_with_a_seed():
    uniform = np.full((5, 5), 0.2)
    sampler = EventsSampler(TableModel(uniform), ENCODER)
    a = sampler.generate([[0]] * 6, num_steps=20, rng=np.random.default_rng(7))
    b = sampler.generate([[0]] * 6, num_steps=20, rng=np.random.default_rng(7))
    assert a == b
    assert len({tuple(x) for x in a}) > 1  # the 6 outputs differ from each other


def test_sampling_follows_the_probabilities():
    table = np.tile([0.7, 0.1, 0.1, 0.05, 0.05], (5, 1))
    out = EventsSampler(TableModel(table), ENCODER).generate(
        [[0]] * 400, num_steps=6, rng=np.random.default_rng(1))
    drawn = np.array([x[1:] for x in out]).ravel()
    assert abs(np.mean(drawn == 0) - 0.7) < 0.03


def test_beam_search_keeps_the_most_likely_continuation():
    # From 0: 1 (p .55) leads to a dead end of low probability, 2 (p .45) to certainty.
    table = np.array([
        [0.0001, 0.55, 0.4497, 0.0001, 0.0001],
        [0.25, 0.25, 0.25, 0.25, 0.0],
        [0.0, 0.0, 0.0, 1.0, 0.0],
        [0.0, 0.0, 0.0, 1.0, 0.0],
        [0.2, 0.2, 0.2, 0.2, 0.2]]) + 1e-9
    sampler = EventsSampler(TableModel(table), ENCODER)
    # One iteration of 3 steps: 8 candidates sampled in full, the most likely returned.
    out = sampler.generate([[0]], num_steps=4, beam_size=2, branch_factor=4,
                           steps_per_iteration=3, rng=np.random.default_rng(3))
    assert out == [[0, 2, 3, 3]]
    # Pruning after every step keeps the best prefixes: 0->1 (p .55) beats 0->2 (p .45).
    out = sampler.generate([[0]], num_steps=2, beam_size=1, branch_factor=8,
                           rng=np.random.default_rng(3))
    assert out == [[0, 1]]


def test_each_output_gets_its_own_beam():
    sampler = EventsSampler(TableModel(CYCLE), ENCODER)
    out = sampler.generate([[0], [2]], num_steps=3, beam_size=3, branch_factor=2,
                           rng=np.random.default_rng(0))
    assert out == [[0, 1, 2], [2, 3, 4]]


@pytest.mark.parametrize('primers, num_steps, message', [
    ([[]], 5, 'the primer is empty'),
    ([[1, 2, 3]], 3, 'already as long as the requested 3 steps'),
    ([[1], [1, 2]], 5, 'same length'),
])
def test_bad_requests(primers, num_steps, message):
    with pytest.raises(ValueError, match=message):
        EventsSampler(TableModel(CYCLE), ENCODER).generate(primers, num_steps)
