"""Turning event sequences into model inputs and labels, and sampled classes back into events.

REFERENCE.md "Encoder contract", "One-hot encoder", "Lookback encoder",
"Conditioning and control signals". A sequence of N events gives N-1 training steps:
the input at position i is paired with the label of position i+1.

Two layers:
  * `OneHotEncoding`: a one-to-one map between single events and class indices.
  * Sequence encoders (`EventSequenceEncoderDecoder` and friends): the input vector
    and label at a position, from the whole sequence so far.

Besides the per-position methods of the original (`events_to_input`,
`events_to_label`), every encoder has array methods over a range of positions
(`events_to_inputs`, `events_to_labels`), which concrete encoders implement with
numpy so that encoding tens of thousands of sequences stays fast.

Conditioning on controls is in conditional_encoders.py; the SequenceExample bytes that
encode_serialized returns are written by sequence_example.py.
"""
from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np

from magenta_rnn.music import constants
from magenta_rnn.music.sequence_example import sequence_example_bytes, sequence_example_from_arrays

DEFAULT_LOOKBACK_DISTANCES = (constants.DEFAULT_STEPS_PER_BAR, 2 * constants.DEFAULT_STEPS_PER_BAR)

Rng = Any  # numpy.random.Generator, numpy.random.RandomState, or the numpy.random module


def position_range(num_events: int, start: int, stop: int | None) -> tuple[int, int]:
    stop = num_events if stop is None else stop
    return start, max(stop, start)


def binary_counters(positions: np.ndarray, bits: int) -> np.ndarray:
    """Per position p, `bits` values for n = p+1: +1.0 where bit i of n is set, else -1.0."""
    n = positions.astype(np.int64)[:, None] + 1
    return (((n >> np.arange(bits)) & 1) * 2 - 1).astype(np.float32)


def repeat_mask(events: Sequence[Any], distance: int, start: int, stop: int) -> np.ndarray:
    """For positions start..stop-1: whether events[p] == events[p - distance] (False if p < distance)."""
    mask = np.zeros(stop - start, dtype=bool)
    first = max(start, distance)
    if first >= stop:
        return mask
    array = _int_array_or_none(events)
    if array is not None:
        mask[first - start:] = array[first:stop] == array[first - distance:stop - distance]
    else:
        mask[first - start:] = [events[p] == events[p - distance] for p in range(first, stop)]
    return mask


def _int_array_or_none(events: Sequence[Any]) -> np.ndarray | None:
    """The events as an int64 array when they are plain ints (compared exactly), else None."""
    if isinstance(events, np.ndarray) and events.dtype.kind in 'iu':
        return events.astype(np.int64, copy=False)
    events_list = getattr(events, 'events', events)  # An event sequence holds a list.
    if len(events_list) and isinstance(events_list[0], (int, np.integer)) and not isinstance(
            events_list[0], bool):
        try:
            array = np.asarray(events_list)
        except (ValueError, TypeError):
            return None
        if array.ndim == 1 and array.dtype.kind in 'iu':
            return array.astype(np.int64, copy=False)
    return None


# --------------------------------------------------------------------------------------
# One-hot encodings of single events.


class OneHotEncoding:
    """A one-to-one map between events and class indices 0..num_classes-1."""

    @property
    def num_classes(self) -> int:
        raise NotImplementedError

    @property
    def default_event(self) -> Any:
        raise NotImplementedError

    def encode_event(self, event: Any) -> int:
        raise NotImplementedError

    def decode_event(self, index: int) -> Any:
        raise NotImplementedError

    def event_to_num_steps(self, unused_event: Any) -> int:
        """How many time steps the event lasts (1 unless the encoding says otherwise)."""
        return 1

    def encode_events(self, events: Sequence[Any]) -> np.ndarray:
        """encode_event of every event, as an int64 array (subclasses vectorize this)."""
        return np.fromiter((self.encode_event(e) for e in events), dtype=np.int64,
                           count=len(events))


# --------------------------------------------------------------------------------------
# Sequence encoders.


class EventSequenceEncoder:
    """Inputs only: what control encoders (Optional, Multiple) provide."""

    @property
    def input_size(self) -> int:
        raise NotImplementedError

    def events_to_input(self, events: Sequence[Any], position: int) -> list[float]:
        """The input vector for `position` (a list of floats)."""
        return self.events_to_inputs(events, position, position + 1)[0].tolist()

    def events_to_inputs(self, events: Sequence[Any], start: int = 0,
                         stop: int | None = None) -> np.ndarray:
        """Inputs for positions start..stop-1 (stop defaults to len(events)), float32 [n, input_size].

        Subclasses override this or events_to_input (the default of each calls the other).
        """
        if type(self).events_to_input is EventSequenceEncoder.events_to_input:
            raise NotImplementedError(f'{type(self).__name__} defines no inputs')
        start, stop = position_range(len(events), start, stop)
        rows = [self.events_to_input(events, p) for p in range(start, stop)]
        if not rows:
            return np.zeros((0, self.input_size), dtype=np.float32)
        return np.asarray(rows, dtype=np.float32)


class EventSequenceEncoderDecoder(EventSequenceEncoder):
    """Inputs and labels of one event sequence; the shared contract of REFERENCE.md
    "Encoder contract"."""

    @property
    def num_classes(self) -> int:
        raise NotImplementedError

    @property
    def default_event_label(self) -> int:
        raise NotImplementedError

    @property
    def class_num_steps(self) -> np.ndarray | None:
        """Steps each class index stands for, when that does not depend on context; else None."""
        return None

    def events_to_label(self, events: Sequence[Any], position: int) -> Any:
        return self.events_to_labels(events, position, position + 1)[0].tolist()

    def events_to_labels(self, events: Sequence[Any], start: int = 0,
                         stop: int | None = None) -> np.ndarray:
        """Labels for positions start..stop-1, int64 [n] (or [n, heads])."""
        if type(self).events_to_label is EventSequenceEncoderDecoder.events_to_label:
            raise NotImplementedError(f'{type(self).__name__} defines no labels')
        start, stop = position_range(len(events), start, stop)
        return np.asarray([self.events_to_label(events, p) for p in range(start, stop)],
                          dtype=np.int64)

    def class_index_to_event(self, class_index: Any, events: Sequence[Any]) -> Any:
        raise NotImplementedError

    def labels_to_num_steps(self, labels: Sequence[Any]) -> int:
        return len(labels)

    # Training data.
    def encode_arrays(self, events: Sequence[Any]) -> tuple[np.ndarray, np.ndarray]:
        """(inputs of positions 0..N-2, labels of positions 1..N-1) as numpy arrays."""
        num_steps = max(len(events) - 1, 0)
        return (self.events_to_inputs(events, 0, num_steps),
                self.events_to_labels(events, 1, num_steps + 1))

    def encode(self, events: Sequence[Any]):
        """A SequenceExample of the sequence's inputs and labels (REFERENCE.md "Record layout")."""
        return sequence_example_from_arrays(*self.encode_arrays(events))

    def encode_serialized(self, events: Sequence[Any]) -> bytes:
        """encode(events), serialized: what the dataset TFRecords hold."""
        return sequence_example_bytes(*self.encode_arrays(events))

    # Generation.
    def get_inputs_batch(self, event_sequences: Sequence[Sequence[Any]],
                         full_length: bool = False) -> list[np.ndarray]:
        """Per sequence, the inputs of every position (full_length) or of the last one only.

        Returns a list of float32 arrays [positions, input_size]; np.stack them for a batch.
        """
        batch = []
        for events in event_sequences:
            if full_length:
                batch.append(self.events_to_inputs(events))
            else:
                batch.append(self.events_to_inputs(events, len(events) - 1, len(events)))
        return batch

    def extend_event_sequences(self, event_sequences: Sequence[Any], softmax: Any,
                               rng: Rng | None = None) -> list[Any]:
        """Samples one class per sequence from its last-step softmax and appends its event.

        `softmax` is [batch, steps, classes], or a list of such arrays (one per head) for
        multi-head encoders, where each head is sampled on its own. `rng` (a numpy
        Generator or RandomState) makes the draw reproducible; None uses np.random.
        Returns the chosen class indices (a list per sequence for multi-head).
        """
        rng = np.random if rng is None else rng
        multi_head = not isinstance(softmax[0][0][0], numbers.Number)
        chosen_classes = []
        for i, events in enumerate(event_sequences):
            if multi_head:
                chosen: Any = [_sample(rng, head[i][-1]) for head in softmax]
            else:
                chosen = _sample(rng, softmax[i][-1])
            events.append(self.class_index_to_event(chosen, events))
            chosen_classes.append(chosen)
        return chosen_classes

    def evaluate_log_likelihood(self, event_sequences: Sequence[Sequence[Any]],
                                softmax: Any) -> list[float]:
        """Per sequence, the sum of log softmax[label] over its last len(softmax[i]) positions."""
        all_loglik = []
        for i, events in enumerate(event_sequences):
            if len(softmax[i]) >= len(events):
                raise ValueError(
                    'event sequence must be longer than softmax vector (%d events but softmax '
                    'vector has length %d)' % (len(events), len(softmax[i])))
            end = len(events)
            start = end - len(softmax[i])
            labels = self.events_to_labels(events, start, end)
            loglik = 0.0
            for softmax_pos, label in enumerate(labels.tolist()):
                if isinstance(label, list):
                    for head, index in enumerate(label):
                        loglik += np.log(softmax[i][softmax_pos][head][index])
                else:
                    loglik += np.log(softmax[i][softmax_pos][label])
            all_loglik.append(loglik)
        return all_loglik


def _sample(rng: Rng, probabilities: Any) -> int:
    p = np.asarray(probabilities, dtype=np.float64)
    p = p / p.sum()  # float32 softmax rows may miss numpy's sum-to-one tolerance.
    return int(rng.choice(len(p), p=p))


class OneHotEventSequenceEncoderDecoder(EventSequenceEncoderDecoder):
    """Input: one-hot of the current event. Label: the next event's class (REFERENCE.md
    "One-hot encoder")."""

    def __init__(self, one_hot_encoding: OneHotEncoding):
        self._one_hot_encoding = one_hot_encoding

    @property
    def one_hot_encoding(self) -> OneHotEncoding:
        return self._one_hot_encoding

    @property
    def input_size(self) -> int:
        return self._one_hot_encoding.num_classes

    @property
    def num_classes(self) -> int:
        return self._one_hot_encoding.num_classes

    @property
    def default_event_label(self) -> int:
        return self._one_hot_encoding.encode_event(self._one_hot_encoding.default_event)

    @property
    def class_num_steps(self) -> np.ndarray:
        one_hot = self._one_hot_encoding
        return np.array([one_hot.event_to_num_steps(one_hot.decode_event(i))
                         for i in range(one_hot.num_classes)], dtype=np.int64)

    def events_to_inputs(self, events, start=0, stop=None):
        start, stop = position_range(len(events), start, stop)
        indices = self._one_hot_encoding.encode_events(events_slice(events, start, stop))
        inputs = np.zeros((stop - start, self.input_size), dtype=np.float32)
        inputs[np.arange(stop - start), indices] = 1.0
        return inputs

    def events_to_input(self, events, position):
        input_ = [0.0] * self.input_size
        input_[self._one_hot_encoding.encode_event(events[position])] = 1.0
        return input_

    def events_to_labels(self, events, start=0, stop=None):
        start, stop = position_range(len(events), start, stop)
        return self._one_hot_encoding.encode_events(events_slice(events, start, stop))

    def events_to_label(self, events, position):
        return self._one_hot_encoding.encode_event(events[position])

    def class_index_to_event(self, class_index, events):
        return self._one_hot_encoding.decode_event(class_index)

    def labels_to_num_steps(self, labels):
        return sum(self._one_hot_encoding.event_to_num_steps(
            self._one_hot_encoding.decode_event(label)) for label in labels)


class OneHotIndexEventSequenceEncoderDecoder(OneHotEventSequenceEncoderDecoder):
    """Like the one-hot encoder, but the input is the class index itself ([index], size 1).

    The model one-hots it to `input_depth` on the fly.
    """

    @property
    def input_size(self) -> int:
        return 1

    @property
    def input_depth(self) -> int:
        return self._one_hot_encoding.num_classes

    def events_to_inputs(self, events, start=0, stop=None):
        start, stop = position_range(len(events), start, stop)
        indices = self._one_hot_encoding.encode_events(events_slice(events, start, stop))
        return indices.astype(np.float32).reshape(-1, 1)

    def events_to_input(self, events, position):
        return [self._one_hot_encoding.encode_event(events[position])]


class LookbackEventSequenceEncoderDecoder(EventSequenceEncoderDecoder):
    """One-hot inputs plus lookback features; labels may say "repeat the event d steps back".

    With C classes and L lookback distances (REFERENCE.md "Lookback encoder"):
      input = one-hot(events[p]) | per d: one-hot(events[p-d+1], default when < 0)
              | `binary_counter_bits` counters of n=p+1 (+1/-1) | per d: events[p]==events[p-d]
      num_classes = C + L; label C+i means "repeat the event lookback_distances[i] back".
    """

    def __init__(self, one_hot_encoding: OneHotEncoding,
                 lookback_distances: Sequence[int] | None = None, binary_counter_bits: int = 5):
        self._one_hot_encoding = one_hot_encoding
        self._lookback_distances = list(DEFAULT_LOOKBACK_DISTANCES if lookback_distances is None
                                        else lookback_distances)
        self._binary_counter_bits = binary_counter_bits

    @property
    def one_hot_encoding(self) -> OneHotEncoding:
        return self._one_hot_encoding

    @property
    def lookback_distances(self) -> list[int]:
        return list(self._lookback_distances)

    @property
    def one_hot_width(self) -> int:
        """The inputs' first columns, the current event's one-hot: exactly one 1 per step."""
        return self._one_hot_encoding.num_classes

    @property
    def input_size(self) -> int:
        num_one_hot = self._one_hot_encoding.num_classes
        num_lookbacks = len(self._lookback_distances)
        return (num_one_hot + num_lookbacks * num_one_hot + self._binary_counter_bits +
                num_lookbacks)

    @property
    def num_classes(self) -> int:
        return self._one_hot_encoding.num_classes + len(self._lookback_distances)

    @property
    def default_event_label(self) -> int:
        return self._one_hot_encoding.encode_event(self._one_hot_encoding.default_event)

    @property
    def class_num_steps(self) -> np.ndarray | None:
        # Repeat labels stand for whatever event they copy; only when every event is
        # one step long is the count known without context.
        one_hot = self._one_hot_encoding
        steps = [one_hot.event_to_num_steps(one_hot.decode_event(i))
                 for i in range(one_hot.num_classes)]
        if any(s != 1 for s in steps):
            return None
        return np.ones(self.num_classes, dtype=np.int64)

    def events_to_inputs(self, events, start=0, stop=None):
        start, stop = position_range(len(events), start, stop)
        one_hot = self._one_hot_encoding
        num_one_hot = one_hot.num_classes
        count = stop - start
        rows = np.arange(count)
        positions = np.arange(start, stop)
        # Encoded events from the earliest index any lookback needs.
        first_needed = max(0, start - max(self._lookback_distances, default=1) + 1)
        encoded = one_hot.encode_events(events_slice(events, first_needed, stop))
        default_index = one_hot.encode_event(one_hot.default_event)

        inputs = np.zeros((count, self.input_size), dtype=np.float32)
        if count == 0:
            return inputs
        inputs[rows, encoded[start - first_needed:]] = 1.0
        offset = num_one_hot
        for distance in self._lookback_distances:
            looked_at = positions - distance + 1
            indices = np.where(looked_at < 0, default_index,
                               encoded[np.clip(looked_at - first_needed, 0, None)])
            inputs[rows, offset + indices] = 1.0
            offset += num_one_hot
        bits = self._binary_counter_bits
        inputs[:, offset:offset + bits] = binary_counters(positions, bits)
        offset += bits
        for distance in self._lookback_distances:
            inputs[:, offset] = repeat_mask(events, distance, start, stop)
            offset += 1
        return inputs

    def events_to_labels(self, events, start=0, stop=None):
        start, stop = position_range(len(events), start, stop)
        one_hot = self._one_hot_encoding
        num_one_hot = one_hot.num_classes
        labels = one_hot.encode_events(events_slice(events, start, stop)).copy()
        # The original checks the longest (last-listed) distance first, so later ones win.
        for i, distance in enumerate(self._lookback_distances):
            labels[repeat_mask(events, distance, start, stop)] = num_one_hot + i
        if self._lookback_distances:
            # The default event early on is labelled as a repeat of the last distance.
            last_distance = self._lookback_distances[-1]
            default_event = one_hot.default_event
            early_stop = min(stop, last_distance)
            for p in range(start, early_stop):
                if events[p] == default_event:
                    labels[p - start] = num_one_hot + len(self._lookback_distances) - 1
        return labels

    def class_index_to_event(self, class_index, events):
        num_one_hot = self._one_hot_encoding.num_classes
        for i in reversed(range(len(self._lookback_distances))):
            if class_index == num_one_hot + i:
                distance = self._lookback_distances[i]
                if len(events) < distance:
                    return self._one_hot_encoding.default_event
                return events[-distance]
        return self._one_hot_encoding.decode_event(class_index)

    def labels_to_num_steps(self, labels):
        events: list[Any] = []
        for label in labels:
            events.append(self.class_index_to_event(label, events))
        return sum(self._one_hot_encoding.event_to_num_steps(event) for event in events)


def events_slice(events: Sequence[Any], start: int, stop: int) -> Sequence[Any]:
    """events[start:stop] as a plain list or array (no event-sequence object rebuilt)."""
    base = getattr(events, 'events', events)
    return base[start:stop]
