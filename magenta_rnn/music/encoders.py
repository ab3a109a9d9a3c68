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
"""
from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np

from magenta_rnn.music import constants

DEFAULT_LOOKBACK_DISTANCES = (constants.DEFAULT_STEPS_PER_BAR, 2 * constants.DEFAULT_STEPS_PER_BAR)

Rng = Any  # numpy.random.Generator, numpy.random.RandomState, or the numpy.random module


def _range(num_events: int, start: int, stop: int | None) -> tuple[int, int]:
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
# SequenceExample wire format, written directly (REFERENCE.md "Record layout").
#
# Building a SequenceExample through the proto API costs a Python call per step;
# writing its bytes with numpy and parsing them back (in C) is ~10x faster and gives
# the same message.


def _varint(value: int) -> bytes:
    value &= (1 << 64) - 1  # Negative int64s are ten-byte two's complement.
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _length_delimited(tag: int, payload: bytes) -> bytes:
    return bytes([tag]) + _varint(len(payload)) + payload


_LABEL_FEATURE_CACHE: dict[int, bytes] = {}


def _label_feature(values: Sequence[int]) -> bytes:
    """FeatureList entry: Feature{int64_list: Int64List{packed values}}."""
    payload = b''.join(_varint(int(v)) for v in values)
    int64_list = _length_delimited(0x0A, payload) if payload else b''
    return _length_delimited(0x0A, _length_delimited(0x1A, int64_list))


def sequence_example_bytes(inputs: np.ndarray, labels: np.ndarray) -> bytes:
    """Serialized SequenceExample with feature lists `inputs` (float rows) and `labels` (ints).

    Parses to the same message as records.make_sequence_example(inputs, labels).
    """
    inputs = np.ascontiguousarray(inputs, dtype='<f4')
    num_steps, width = inputs.shape
    float_list = (b'\x0a' + _varint(4 * width)) if width else b''
    feature_payload_len = len(float_list) + 4 * width
    feature_header = b'\x12' + _varint(feature_payload_len) + float_list
    row_prefix = b'\x0a' + _varint(len(feature_header) + 4 * width) + feature_header
    rows = np.concatenate([
        np.broadcast_to(np.frombuffer(row_prefix, dtype=np.uint8), (num_steps, len(row_prefix))),
        inputs.view(np.uint8).reshape(num_steps, 4 * width)], axis=1)
    inputs_list = rows.tobytes()

    labels = np.asarray(labels)
    if labels.ndim == 1:
        parts = []
        for label in labels.tolist():
            entry = _LABEL_FEATURE_CACHE.get(label)
            if entry is None:
                entry = _label_feature([label])
                if 0 <= label < 4096:
                    _LABEL_FEATURE_CACHE[label] = entry
            parts.append(entry)
        labels_list = b''.join(parts)
    else:
        labels_list = b''.join(_label_feature(row) for row in labels.tolist())

    feature_lists = b''.join(
        _length_delimited(0x0A, _length_delimited(0x0A, name) + _length_delimited(0x12, value))
        for name, value in ((b'inputs', inputs_list), (b'labels', labels_list)))
    return _length_delimited(0x12, feature_lists)


def sequence_example_from_arrays(inputs: np.ndarray, labels: np.ndarray):
    """The SequenceExample proto of `inputs` and `labels` (see sequence_example_bytes)."""
    from magenta_rnn.protobuf import example_pb2  # pylint: disable=import-outside-toplevel
    return example_pb2.SequenceExample.FromString(sequence_example_bytes(inputs, labels))


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
        start, stop = _range(len(events), start, stop)
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
        start, stop = _range(len(events), start, stop)
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
        start, stop = _range(len(events), start, stop)
        indices = self._one_hot_encoding.encode_events(_slice(events, start, stop))
        inputs = np.zeros((stop - start, self.input_size), dtype=np.float32)
        inputs[np.arange(stop - start), indices] = 1.0
        return inputs

    def events_to_input(self, events, position):
        input_ = [0.0] * self.input_size
        input_[self._one_hot_encoding.encode_event(events[position])] = 1.0
        return input_

    def events_to_labels(self, events, start=0, stop=None):
        start, stop = _range(len(events), start, stop)
        return self._one_hot_encoding.encode_events(_slice(events, start, stop))

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
        start, stop = _range(len(events), start, stop)
        indices = self._one_hot_encoding.encode_events(_slice(events, start, stop))
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
        start, stop = _range(len(events), start, stop)
        one_hot = self._one_hot_encoding
        num_one_hot = one_hot.num_classes
        count = stop - start
        rows = np.arange(count)
        positions = np.arange(start, stop)
        # Encoded events from the earliest index any lookback needs.
        first_needed = max(0, start - max(self._lookback_distances, default=1) + 1)
        encoded = one_hot.encode_events(_slice(events, first_needed, stop))
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
        start, stop = _range(len(events), start, stop)
        one_hot = self._one_hot_encoding
        num_one_hot = one_hot.num_classes
        labels = one_hot.encode_events(_slice(events, start, stop)).copy()
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


def _slice(events: Sequence[Any], start: int, stop: int) -> Sequence[Any]:
    """events[start:stop] as a plain list or array (no event-sequence object rebuilt)."""
    base = getattr(events, 'events', events)
    return base[start:stop]


# --------------------------------------------------------------------------------------
# Conditioning (REFERENCE.md "Conditioning and control signals").


class ConditionalEventSequenceEncoderDecoder:
    """Target inputs preceded by control inputs; labels and classes from the target encoder.

    The input at position p is control_input(controls, p+1) + target_input(targets, p):
    the control describes the step being predicted.
    """

    def __init__(self, control_encoder_decoder: EventSequenceEncoder,
                 target_encoder_decoder: EventSequenceEncoderDecoder):
        self._control_encoder_decoder = control_encoder_decoder
        self._target_encoder_decoder = target_encoder_decoder

    @property
    def control_encoder_decoder(self) -> EventSequenceEncoder:
        return self._control_encoder_decoder

    @property
    def target_encoder_decoder(self) -> EventSequenceEncoderDecoder:
        return self._target_encoder_decoder

    @property
    def input_size(self) -> int:
        return self._control_encoder_decoder.input_size + self._target_encoder_decoder.input_size

    @property
    def num_classes(self) -> Any:
        return self._target_encoder_decoder.num_classes

    @property
    def default_event_label(self) -> Any:
        return self._target_encoder_decoder.default_event_label

    @property
    def class_num_steps(self) -> np.ndarray | None:
        return self._target_encoder_decoder.class_num_steps

    def events_to_input(self, control_events, target_events, position: int) -> list[float]:
        return (self._control_encoder_decoder.events_to_input(control_events, position + 1) +
                self._target_encoder_decoder.events_to_input(target_events, position))

    def events_to_inputs(self, control_events, target_events, start: int = 0,
                         stop: int | None = None) -> np.ndarray:
        """Inputs for target positions start..stop-1 (controls at start+1..stop)."""
        start, stop = _range(len(target_events), start, stop)
        controls = self._control_encoder_decoder.events_to_inputs(
            control_events, start + 1, stop + 1)
        targets = self._target_encoder_decoder.events_to_inputs(target_events, start, stop)
        return np.concatenate([controls, targets], axis=1)

    def events_to_label(self, target_events, position: int) -> Any:
        return self._target_encoder_decoder.events_to_label(target_events, position)

    def events_to_labels(self, target_events, start: int = 0, stop: int | None = None):
        return self._target_encoder_decoder.events_to_labels(target_events, start, stop)

    def class_index_to_event(self, class_index, target_events) -> Any:
        return self._target_encoder_decoder.class_index_to_event(class_index, target_events)

    def labels_to_num_steps(self, labels) -> int:
        return self._target_encoder_decoder.labels_to_num_steps(labels)

    def encode_arrays(self, control_events, target_events) -> tuple[np.ndarray, np.ndarray]:
        if len(control_events) != len(target_events):
            raise ValueError(
                'must have the same number of control and target events (%d control events '
                'but %d target events)' % (len(control_events), len(target_events)))
        num_steps = max(len(target_events) - 1, 0)
        return (self.events_to_inputs(control_events, target_events, 0, num_steps),
                self.events_to_labels(target_events, 1, num_steps + 1))

    def encode(self, control_events, target_events):
        return sequence_example_from_arrays(*self.encode_arrays(control_events, target_events))

    def encode_serialized(self, control_events, target_events) -> bytes:
        return sequence_example_bytes(*self.encode_arrays(control_events, target_events))

    def get_inputs_batch(self, control_event_sequences, target_event_sequences,
                         full_length: bool = False) -> list[np.ndarray]:
        if len(control_event_sequences) != len(target_event_sequences):
            raise ValueError('%d control event sequences but %d target event sequences' % (
                len(control_event_sequences), len(target_event_sequences)))
        batch = []
        for controls, targets in zip(control_event_sequences, target_event_sequences):
            if len(controls) <= len(targets):
                raise ValueError(
                    'control event sequence must be longer than target event sequence (%d '
                    'control events but %d target events)' % (len(controls), len(targets)))
            start = 0 if full_length else len(targets) - 1
            batch.append(self.events_to_inputs(controls, targets, start, len(targets)))
        return batch

    def extend_event_sequences(self, target_event_sequences, softmax, rng: Rng | None = None):
        return self._target_encoder_decoder.extend_event_sequences(
            target_event_sequences, softmax, rng)

    def evaluate_log_likelihood(self, target_event_sequences, softmax):
        return self._target_encoder_decoder.evaluate_log_likelihood(target_event_sequences,
                                                                    softmax)


class OptionalEventSequenceEncoder(EventSequenceEncoder):
    """Events are (disable, value) pairs: [1, 0...] when disabled, else [0] + inner input."""

    def __init__(self, encoder: EventSequenceEncoder):
        self._encoder = encoder

    @property
    def input_size(self) -> int:
        return 1 + self._encoder.input_size

    def events_to_input(self, events, position):
        disable, _ = events[position]
        if disable:
            return [1.0] + [0.0] * self._encoder.input_size
        return [0.0] + self._encoder.events_to_input([value for _, value in events], position)

    def events_to_inputs(self, events, start=0, stop=None):
        start, stop = _range(len(events), start, stop)
        values = [value for _, value in events]
        inputs = np.zeros((stop - start, self.input_size), dtype=np.float32)
        disabled = [bool(events[p][0]) for p in range(start, stop)]
        if not any(disabled):
            # All enabled (as in training data): one array call, not one per position.
            inputs[:, 1:] = self._encoder.events_to_inputs(values, start, stop)
            return inputs
        if all(disabled):
            inputs[:, 0] = 1.0
            return inputs
        for row, position in enumerate(range(start, stop)):
            if events[position][0]:
                inputs[row, 0] = 1.0
            else:
                inputs[row, 1:] = self._encoder.events_to_input(values, position)
        return inputs


class MultipleEventSequenceEncoder(EventSequenceEncoder):
    """Concatenated inputs of several encoders.

    Each event is a tuple whose element k goes to encoder k; with
    `encode_single_sequence`, every encoder sees the same whole sequence instead.
    """

    def __init__(self, encoders: Sequence[EventSequenceEncoder],
                 encode_single_sequence: bool = False):
        self._encoders = list(encoders)
        self._encode_single_sequence = encode_single_sequence

    @property
    def input_size(self) -> int:
        return sum(encoder.input_size for encoder in self._encoders)

    def _sequences(self, events) -> list[Sequence[Any]]:
        if self._encode_single_sequence:
            return [events] * len(self._encoders)
        sequences = list(zip(*events))
        if len(sequences) != len(self._encoders):
            raise ValueError('Event tuple size must be the same as the number of encoders.')
        return sequences

    def events_to_input(self, events, position):
        input_: list[float] = []
        for encoder, sequence in zip(self._encoders, self._sequences(events)):
            input_ += encoder.events_to_input(sequence, position)
        return input_

    def events_to_inputs(self, events, start=0, stop=None):
        start, stop = _range(len(events), start, stop)
        if stop == start:
            return np.zeros((0, self.input_size), dtype=np.float32)
        return np.concatenate(
            [encoder.events_to_inputs(sequence, start, stop)
             for encoder, sequence in zip(self._encoders, self._sequences(events))], axis=1)
