"""Conditioning encoders (REFERENCE.md "Conditioning and control signals"): control inputs
before the target's, optional controls, and several control encoders side by side.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from magenta_rnn.music.encoders import (EventSequenceEncoder, EventSequenceEncoderDecoder, Rng,
                                        position_range)
from magenta_rnn.music.sequence_example import sequence_example_bytes, sequence_example_from_arrays


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
        start, stop = position_range(len(target_events), start, stop)
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
        start, stop = position_range(len(events), start, stop)
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
        sequences: list[Sequence[Any]] = list(zip(*events))
        if len(sequences) != len(self._encoders):
            raise ValueError('Event tuple size must be the same as the number of encoders.')
        return sequences

    def events_to_input(self, events, position):
        input_: list[float] = []
        for encoder, sequence in zip(self._encoders, self._sequences(events)):
            input_ += encoder.events_to_input(sequence, position)
        return input_

    def events_to_inputs(self, events, start=0, stop=None):
        start, stop = position_range(len(events), start, stop)
        if stop == start:
            return np.zeros((0, self.input_size), dtype=np.float32)
        return np.concatenate(
            [encoder.events_to_inputs(sequence, start, stop)
             for encoder, sequence in zip(self._encoders, self._sequences(events))], axis=1)
