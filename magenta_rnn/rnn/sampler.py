"""Batched sampling and beam search over an events RNN (as the original's
events_rnn_model.py and beam_search.py do).

All outputs are generated together: with beam search each output keeps its own
beam of candidates, and every candidate of every beam is one row of a single
batch, so one compiled model step advances them all. The RNN state is kept
explicitly and gathered when beams are pruned or branched. The model is anything
with `zero_state(batch)` and `step(inputs, state, temperature) -> (softmax, state)`:
an EventsRnn, or its NumpyStepper, which is the fast path for small batches.

Conditioned models (Performance RNN controls) pass `inputs_fn(sequences, full_length)`:
it builds the input arrays from the event sequences alone (their controls are a
function of each sequence's time so far), so nothing else has to travel with the
rows when beams are pruned or branched.
"""
from __future__ import annotations

import copy
from collections.abc import Sequence
from collections.abc import Callable
from typing import Any

import numpy as np


def _sample_rows(rng: np.random.Generator, probabilities: np.ndarray) -> np.ndarray:
    """One class index per row of [batch, classes] probabilities."""
    cumulative = np.cumsum(probabilities.astype(np.float64), axis=1)
    draws = rng.random(len(probabilities)) * cumulative[:, -1]
    chosen = (cumulative <= draws[:, None]).sum(axis=1)
    return np.minimum(chosen, probabilities.shape[1] - 1)


def _primer_length(primers: Sequence[Any]) -> int:
    """The one length all primers of a batch share; ValueError when empty or mixed."""
    lengths = {len(p) for p in primers}
    if 0 in lengths:
        raise ValueError('the primer is empty: generation needs at least one event')
    if len(lengths) != 1:
        raise ValueError('all primers of one batch must have the same length')
    return lengths.pop()


class EventsSampler:
    """Extends event sequences with an events RNN and its encoder."""

    def __init__(self, model: Any, encoder: Any,
                 inputs_fn: Callable[[list[Any], bool], list[np.ndarray]] | None = None):
        """inputs_fn(sequences, full_length) -> one [steps, input_size] array per sequence
        (all positions, or only the last); default: encoder.get_inputs_batch."""
        self.model = model
        self.encoder = encoder
        self.inputs_fn = inputs_fn or (
            lambda sequences, full_length: encoder.get_inputs_batch(sequences,
                                                                    full_length=full_length))

    def generate(self, primers: Sequence[Any], num_steps: int, temperature: float = 1.0,
                 beam_size: int = 1, branch_factor: int = 1, steps_per_iteration: int = 1,
                 rng: np.random.Generator | None = None) -> list[Any]:
        """Extends each primer (not modified) to `num_steps` events; one result per primer.

        num_steps counts the primer's events, as in the original.
        """
        rng = rng if rng is not None else np.random.default_rng()
        if not primers:
            return []
        primer_length = _primer_length(primers)
        if primer_length >= num_steps:
            raise ValueError(f'the primer ({primer_length} steps) is already as long as the '
                             f'requested {num_steps} steps')
        for value, name in ((beam_size, 'beam_size'), (branch_factor, 'branch_factor'),
                            (steps_per_iteration, 'steps_per_iteration')):
            if value < 1:
                raise ValueError(f'--{name} must be at least 1, got {value}')
        steps = num_steps - primer_length
        first = (steps - 1) % steps_per_iteration + 1
        iterations = [first] + [steps_per_iteration] * ((steps - first) // steps_per_iteration)

        sequences = [copy.deepcopy(p) for p in primers for _ in range(beam_size)]
        groups = np.repeat(np.arange(len(primers)), beam_size)
        scores = np.zeros(len(sequences))
        state = None
        for iteration, iteration_steps in enumerate(iterations):
            if iteration > 0 and beam_size * branch_factor > beam_size:
                keep = self._prune(groups, scores, beam_size)
                sequences, groups, scores = [sequences[i] for i in keep], groups[keep], scores[keep]
                state = tuple(np.asarray(s)[keep] for s in state)
            if branch_factor > 1:
                rows = np.repeat(np.arange(len(sequences)), branch_factor)
                sequences = [copy.deepcopy(sequences[i]) for i in rows]
                groups, scores = groups[rows], scores[rows]
                if state is not None:
                    state = tuple(np.asarray(s)[rows] for s in state)
            for _ in range(iteration_steps):
                state, log_probabilities = self._step(sequences, state, temperature, rng)
                scores = scores + log_probabilities
        best = []
        for group in range(len(primers)):
            members = np.flatnonzero(groups == group)
            best.append(sequences[members[np.argmax(scores[members])]])
        return best

    def sample_until(self, primers: Sequence[Any], done: Callable[[int, Any], bool],
                     temperature: float = 1.0,
                     rng: np.random.Generator | None = None) -> list[Any]:
        """Plain sampling (no beam search) of open-ended length: extends each primer (not
        modified) one event at a time until done(row, events) says that row is finished.

        Every row keeps its RNN state from the primer to the end, so nothing is fed twice;
        finished rows leave the batch. done is asked after every new event, with the row's
        index in primers. One result per primer, in order.
        """
        rng = rng if rng is not None else np.random.default_rng()
        if not primers:
            return []
        _primer_length(primers)
        sequences = [copy.deepcopy(p) for p in primers]
        active = np.arange(len(sequences))
        state = None
        while len(active):
            state, _ = self._step([sequences[i] for i in active], state, temperature, rng)
            unfinished = np.array([not done(int(i), sequences[i]) for i in active], bool)
            if not unfinished.all():
                active = active[unfinished]
                state = tuple(np.asarray(s)[unfinished] for s in state)
        return sequences

    @staticmethod
    def _prune(groups: np.ndarray, scores: np.ndarray, beam_size: int) -> np.ndarray:
        """Row indices of the beam_size best candidates of each group (ties: earlier first)."""
        keep = []
        for group in np.unique(groups):
            members = np.flatnonzero(groups == group)
            order = sorted(members, key=lambda i: -scores[i])
            keep.extend(sorted(order[:beam_size]))
        return np.asarray(keep)

    def _step(self, sequences: list[Any], state: Any, temperature: float,
              rng: np.random.Generator) -> tuple[Any, np.ndarray]:
        full_length = state is None
        inputs = np.stack(self.inputs_fn(sequences, full_length))
        if state is None:
            state = self.model.zero_state(len(sequences))
        softmax, state = self.model.step(inputs, state, temperature)
        heads = softmax if isinstance(softmax, (list, tuple)) else [softmax]
        last = [np.asarray(h)[:, -1, :] for h in heads]
        chosen = [_sample_rows(rng, p) for p in last]
        rows = np.arange(len(sequences))
        log_probabilities = sum(np.log(np.maximum(p[rows, c], 1e-30)) for p, c in zip(last, chosen))
        for i, events in enumerate(sequences):
            index = [int(c[i]) for c in chosen] if len(heads) > 1 else int(chosen[0][i])
            events.append(self.encoder.class_index_to_event(index, events))
        return state, log_probabilities
