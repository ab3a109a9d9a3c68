"""What every MusicVAE data converter shares (REFERENCE.md "MusicVAE converters"): the
examples one
NoteSequence gives (ConverterTensors), the converter base class with its modes and
per-piece sampling, quantizing in bars, padding, and the training augmenter. TF-free.

A converter turns one NoteSequence into zero or more fixed-size examples
(`to_tensors`) and turns model outputs back into NoteSequences (`from_tensors`).
Examples are numpy arrays shaped [length, depth].
"""
from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

from magenta_rnn.music import sequences as sequences_lib
from magenta_rnn.music import subsequences, transforms
from magenta_rnn.music.events import NonIntegerStepsPerBarError
from magenta_rnn.protobuf import music_pb2

PIANO_MIN_MIDI_PITCH = 21
PIANO_MAX_MIDI_PITCH = 108
# Programs treated as melody (piano .. guitar) and bass.
MEL_PROGRAMS = tuple(range(0, 32))
BASS_PROGRAMS = tuple(range(32, 40))
OUTPUT_VELOCITY = 80

MODES = ('train', 'eval', 'infer')


@dataclasses.dataclass
class ConverterTensors:
    """The examples one item gave: parallel lists, one entry per example."""
    inputs: list[np.ndarray] = dataclasses.field(default_factory=list)
    outputs: list[np.ndarray] = dataclasses.field(default_factory=list)
    controls: list[np.ndarray] = dataclasses.field(default_factory=list)
    lengths: list[int] = dataclasses.field(default_factory=list)

    def __post_init__(self) -> None:
        self.inputs = list(self.inputs)
        self.outputs = list(self.outputs)
        if not self.lengths:
            self.lengths = [len(x) for x in self.inputs]
        self.lengths = list(self.lengths)
        # A converter without controls still gives one (length, 0) array per example.
        if not self.controls:
            self.controls = [np.zeros((length, 0), dtype=bool) for length in self.lengths]
        self.controls = list(self.controls)

    def __len__(self) -> int:
        return len(self.inputs)

    def examples(self) -> list[tuple[np.ndarray, np.ndarray, np.ndarray, int]]:
        return list(zip(self.inputs, self.outputs, self.controls, self.lengths))

    @classmethod
    def from_examples(cls, examples: Sequence[tuple]) -> ConverterTensors:
        if not examples:
            return cls()
        inputs, outputs, controls, lengths = zip(*examples)
        return cls(list(inputs), list(outputs), list(controls), list(lengths))


class NoExtractedExamplesError(ValueError):
    pass


class MultipleExtractedExamplesError(ValueError):
    pass


def np_onehot(indices: Sequence[int], depth: int, dtype: Any = bool) -> np.ndarray:
    """[len(indices), depth] with a single 1 per row."""
    indices = np.asarray(indices, dtype=np.int64)
    onehot = np.zeros((len(indices), depth), dtype=dtype)
    onehot[np.arange(len(indices)), indices] = 1
    return onehot


def maybe_sample_items(items: list, sample_size: int | None, randomize: bool,
                       rng: np.random.Generator | None = None) -> list:
    """`items`, or `sample_size` of them: random (order kept) in training, else the first."""
    if not sample_size or len(items) <= sample_size:
        return items
    if randomize:
        rng = rng if rng is not None else np.random.default_rng()
        chosen = sorted(rng.choice(len(items), size=sample_size, replace=False))
        return [items[i] for i in chosen]
    return items[:sample_size]


def combine_converter_tensors(results: Iterable[ConverterTensors], max_num_tensors: int | None,
                              randomize: bool, rng: np.random.Generator | None = None
                              ) -> ConverterTensors:
    examples = [example for result in results for example in result.examples()]
    return ConverterTensors.from_examples(maybe_sample_items(examples, max_num_tensors,
                                                             randomize, rng))


# What makes a piece unusable to a converter (it then gives no examples), REFERENCE.md
# "MusicVAE converters".
UNQUANTIZABLE = (sequences_lib.BadTimeSignatureError, NonIntegerStepsPerBarError,
                 sequences_lib.NegativeTimeError)


def quantize_in_bars(note_sequence: music_pb2.NoteSequence, steps_per_quarter: int,
                     steps_per_bar: int, errors: tuple[type[Exception], ...] = UNQUANTIZABLE
                     ) -> music_pb2.NoteSequence | None:
    """`note_sequence` quantized at steps_per_quarter, or None when it raises one of
    `errors` or its bars are not steps_per_bar long."""
    try:
        quantized = sequences_lib.quantize_note_sequence(note_sequence, steps_per_quarter)
        if sequences_lib.steps_per_bar_in_quantized_sequence(quantized) != steps_per_bar:
            return None
    except errors:
        return None
    return quantized


def maybe_pad_sequences(seqs: Sequence[np.ndarray], depth: int, dtype: Any = np.float32,
                        length: int | None = None) -> np.ndarray:
    """Stacks [len_i, depth] arrays into [n, max(len_i) or length, depth], zero-padded."""
    if not len(seqs):
        return np.zeros((0, length or 0, depth), dtype)
    length = max(len(s) for s in seqs) if length is None else length
    out = np.zeros((len(seqs), length, depth), dtype)
    for i, s in enumerate(seqs):
        n = min(len(s), length)
        out[i, :n] = s[:n]
    return out


class NoteSequenceAugmenter:
    """Random stretch and transposition of training NoteSequences (REFERENCE.md
    "MusicVAE converters")."""

    def __init__(self, transpose_range: tuple[int, int] | None = None,
                 stretch_range: tuple[float, float] | None = None):
        self._transpose_range = transpose_range
        self._stretch_range = stretch_range

    def augment(self, note_sequence: music_pb2.NoteSequence,
                rng: random.Random | None = None) -> music_pb2.NoteSequence:
        transpose_min, transpose_max = self._transpose_range or (0, 0)
        stretch_min, stretch_max = self._stretch_range or (1.0, 1.0)
        return transforms.augment_note_sequence(
            note_sequence, stretch_min, stretch_max, transpose_min, transpose_max,
            delete_out_of_range_notes=True, rng=rng)


class BaseNoteSequenceConverter:
    """Shared attributes of converters; subclasses implement to_tensors/from_tensors."""

    def __init__(self, input_depth: int, output_depth: int, control_depth: int = 0,
                 end_token: int | None = None, max_tensors_per_notesequence: int | None = None,
                 presplit_on_time_changes: bool = True, length_shape: tuple = (),
                 one_hot_input_width: int = 0):
        self._input_depth = input_depth
        self._one_hot_input_width = one_hot_input_width
        self._output_depth = output_depth
        self._control_depth = control_depth
        self._end_token = end_token
        self.max_tensors_per_notesequence = max_tensors_per_notesequence
        self._presplit_on_time_changes = presplit_on_time_changes
        self._length_shape = length_shape
        self._mode: str | None = None
        self.rng = np.random.default_rng()

    def set_mode(self, mode: str) -> None:
        if mode not in MODES:
            raise ValueError(f'Invalid mode: {mode}')
        self._mode = mode

    @property
    def mode(self) -> str | None:
        return self._mode

    @property
    def is_training(self) -> bool:
        return self._mode == 'train'

    @property
    def is_inferring(self) -> bool:
        return self._mode == 'infer'

    @property
    def input_depth(self) -> int:
        return self._input_depth

    @property
    def one_hot_input_width(self) -> int:
        """How many of the inputs' first columns form one one-hot block (all zero on
        padded steps); 0 when they do not."""
        return self._one_hot_input_width

    @property
    def output_depth(self) -> int:
        return self._output_depth

    @property
    def control_depth(self) -> int:
        return self._control_depth

    @property
    def end_token(self) -> int | None:
        return self._end_token

    @property
    def length_shape(self) -> tuple:
        return self._length_shape

    def str_to_item_fn(self, serialized: bytes) -> music_pb2.NoteSequence:
        return music_pb2.NoteSequence.FromString(serialized)

    def to_tensors(self, item: Any) -> ConverterTensors:
        raise NotImplementedError

    def from_tensors(self, samples: Any, controls: Any = None) -> list[music_pb2.NoteSequence]:
        raise NotImplementedError

    def _split_process_and_combine(self, note_sequence: music_pb2.NoteSequence,
                                   to_tensors_fn: Callable[[music_pb2.NoteSequence],
                                                           ConverterTensors]) -> ConverterTensors:
        """Converts each time-change piece, samples per piece, then samples the union."""
        if self._presplit_on_time_changes:
            pieces = subsequences.split_note_sequence_on_time_changes(note_sequence)
        else:
            pieces = [note_sequence]
        results = []
        for piece in pieces:
            tensors = to_tensors_fn(piece)
            results.append(ConverterTensors.from_examples(maybe_sample_items(
                tensors.examples(), self.max_tensors_per_notesequence, self.is_training,
                self.rng)))
        return combine_converter_tensors(results, self.max_tensors_per_notesequence,
                                         self.is_training, self.rng)
