"""MusicVAE data converters: NoteSequence <-> tensors (REFERENCE.md "MusicVAE converter sizes",
"MusicVAE converters"). TF-free.

A converter turns one NoteSequence into zero or more fixed-size examples
(`to_tensors`) and turns model outputs back into NoteSequences (`from_tensors`).
Examples are numpy arrays shaped [length, depth]; inputs and outputs of the
melody converter are the same one-hot rows.
"""
from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

from magenta_rnn.music import chords as chords_lib
from magenta_rnn.music import constants
from magenta_rnn.music import sequences as sequences_lib
from magenta_rnn.music import subsequences, transforms
from magenta_rnn.music.drum_encoders import DEFAULT_DRUM_TYPE_PITCHES, MultiDrumOneHotEncoding
from magenta_rnn.music.drums import DrumTrack, extract_drum_tracks
from magenta_rnn.music.events import NonIntegerStepsPerBarError
from magenta_rnn.music.melodies import Melody, extract_melodies
from magenta_rnn.music.melody_encoders import MelodyOneHotEncoding
from magenta_rnn.protobuf import music_pb2

PIANO_MIN_MIDI_PITCH = 21
PIANO_MAX_MIDI_PITCH = 108
MIN_MIDI_PITCH = constants.MIN_MIDI_PITCH
MAX_MIDI_PITCH = constants.MAX_MIDI_PITCH
# Programs treated as melody (piano .. guitar) and bass.
MEL_PROGRAMS = tuple(range(0, 32))
BASS_PROGRAMS = tuple(range(32, 40))
OUTPUT_VELOCITY = 80

MODES = ('train', 'eval', 'infer')

# Drum pitch classes (REFERENCE.md "MusicVAE converters"). A class decodes to its first pitch.
REDUCED_DRUM_PITCH_CLASSES: tuple[tuple[int, ...], ...] = DEFAULT_DRUM_TYPE_PITCHES
FULL_DRUM_PITCH_CLASSES: tuple[tuple[int, ...], ...] = tuple((p,) for p in (
    36, 35, 38, 27, 28, 31, 32, 33, 34, 37, 39, 40, 56, 65, 66, 75, 85, 42, 44, 54, 68, 69, 70,
    71, 73, 78, 80, 46, 67, 72, 74, 79, 81, 45, 29, 41, 61, 64, 84, 48, 47, 60, 63, 77, 86, 87,
    50, 30, 43, 62, 76, 83, 49, 55, 57, 58, 51, 52, 53, 59, 82))
ROLAND_DRUM_PITCH_CLASSES: tuple[tuple[int, ...], ...] = (
    (36,),                 # kick
    (38, 37, 40),          # snare
    (42, 22, 44),          # closed hi-hat
    (46, 26),              # open hi-hat
    (43, 58),              # low tom
    (47, 45),              # mid tom
    (50, 48),              # high tom
    (49, 52, 55, 57),      # crash
    (51, 53, 59),          # ride
)
DRUM_PITCH_CLASSES = {'REDUCED': REDUCED_DRUM_PITCH_CLASSES, 'FULL': FULL_DRUM_PITCH_CLASSES,
                      'ROLAND': ROLAND_DRUM_PITCH_CLASSES}


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


class OneHotMelodyConverter(BaseNoteSequenceConverter):
    """Monophonic melodies as one-hot rows over [NO_EVENT, NOTE_OFF, min_pitch..max_pitch].

    Depth = max_pitch - min_pitch + 3 (90 for the piano range 21..108), +1 with an
    end token (the last class). With a chord encoding, each step also gets its chord as a
    control input (key conditioning is not built).
    """

    def __init__(self, min_pitch: int = PIANO_MIN_MIDI_PITCH,
                 max_pitch: int = PIANO_MAX_MIDI_PITCH,
                 valid_programs: Iterable[int] | None = None, skip_polyphony: bool = False,
                 max_bars: int | None = None, slice_bars: int | None = None,
                 gap_bars: float | None = 1.0, steps_per_quarter: int = 4,
                 quarters_per_bar: int = 4, add_end_token: bool = False,
                 pad_to_total_time: bool = False, max_tensors_per_notesequence: int | None = 5,
                 presplit_on_time_changes: bool = True, chord_encoding: Any = None,
                 condition_on_key: bool = False, dedupe_event_lists: bool = True):
        if condition_on_key:
            raise NotImplementedError('OneHotMelodyConverter: key conditioning is not '
                                      'supported')
        # A config names it ("triad"); Python callers may pass the encoding itself.
        self._chord_encoding = (chords_lib.chord_encoding(chord_encoding)
                                if isinstance(chord_encoding, str) else chord_encoding)
        self._min_pitch = min_pitch
        self._max_pitch = max_pitch
        self._valid_programs = None if valid_programs is None else frozenset(valid_programs)
        self._skip_polyphony = skip_polyphony
        self._steps_per_quarter = steps_per_quarter
        self._steps_per_bar = steps_per_quarter * quarters_per_bar
        self._max_steps_truncate = self._steps_per_bar * max_bars if max_bars else None
        self._slice_steps = self._steps_per_bar * slice_bars if slice_bars else None
        self._gap_bars = gap_bars or float('inf')
        self._pad_to_total_time = pad_to_total_time
        self._dedupe_event_lists = dedupe_event_lists
        self._melody_encoding = MelodyOneHotEncoding(min_pitch, max_pitch + 1)
        num_classes = self._melody_encoding.num_classes
        depth = num_classes + int(add_end_token)
        super().__init__(input_depth=depth, output_depth=depth,
                         control_depth=(self._chord_encoding.num_classes
                                        if self._chord_encoding else 0),
                         end_token=num_classes if add_end_token else None,
                         max_tensors_per_notesequence=max_tensors_per_notesequence,
                         presplit_on_time_changes=presplit_on_time_changes,
                         one_hot_input_width=depth)

    @property
    def chord_encoding(self):
        return self._chord_encoding

    @property
    def melody_encoding(self) -> MelodyOneHotEncoding:
        return self._melody_encoding

    @property
    def steps_per_bar(self) -> int:
        return self._steps_per_bar

    @property
    def slice_steps(self) -> int | None:
        return self._slice_steps

    def _is_valid_note(self, note: music_pb2.NoteSequence.Note) -> bool:
        if self._valid_programs is not None and note.program not in self._valid_programs:
            return False
        return self._min_pitch <= note.pitch <= self._max_pitch

    def _extract_event_lists(self, note_sequence: music_pb2.NoteSequence
                             ) -> list[tuple[tuple[int, ...], tuple[str, ...] | None]]:
        """The (deduplicated) melody windows of one time-change piece, as (event tuple,
        chord tuple or None) pairs. With a chord encoding, a piece without chord
        annotations gets inferred chords (none at all when inference fails), and a
        window seen with different chords counts once per chord sequence."""
        filtered = music_pb2.NoteSequence()
        filtered.CopyFrom(note_sequence)
        del filtered.notes[:]
        filtered.notes.extend(n for n in note_sequence.notes if self._is_valid_note(n))
        quantized = quantize_in_bars(filtered, self._steps_per_quarter, self._steps_per_bar)
        if quantized is None:
            return []
        if self._chord_encoding and not chords_lib.has_chords(quantized):
            try:
                chords_lib.infer_chords_for_sequence(quantized)
            except chords_lib.ChordInferenceError:
                return []
        melodies, _ = extract_melodies(
            quantized, min_bars=1, gap_bars=self._gap_bars,
            max_steps_truncate=self._max_steps_truncate, min_unique_pitches=1,
            ignore_polyphonic_notes=not self._skip_polyphony, pad_end=True)
        if self._pad_to_total_time:
            for melody in melodies:
                melody.set_length(len(melody) + melody.start_step, from_left=True)
                melody.set_length(quantized.total_quantized_steps)
        # Windows are Melody slices: silence before a window's first note is
        # NO_EVENT even where the full melody has NOTE_OFF there.
        windows: list[Melody] = []
        for melody in melodies:
            if self._slice_steps:
                for end in range(self._slice_steps, len(melody) + 1, self._steps_per_bar):
                    windows.append(melody[end - self._slice_steps:end])
            else:
                windows.append(melody)
        if self._chord_encoding:
            try:
                chord_lists = chords_lib.event_list_chords(quantized, windows)
            except chords_lib.CoincidentChordsError:
                return []
            # The original dedupes a set of per-step (event, chord) tuples.
            keys = [tuple(zip(w.events, c)) for w, c in zip(windows, chord_lists)]
        else:
            # ... and without chords, a set of per-step 1-tuples (events zipped with
            # absent chord/key lists); building the same keys reproduces its set
            # iteration order, so eval mode keeps the same first k windows.
            keys = [tuple((event,) for event in w.events) for w in windows]
        if self._dedupe_event_lists:
            keys = list(set(keys))
        return [(tuple(step[0] for step in key),
                 tuple(step[1] for step in key) if self._chord_encoding else None)
                for key in keys]

    def _encode(self, events: Sequence[int]) -> np.ndarray:
        indices = list(self._melody_encoding.encode_events(events))
        if self._end_token is not None:
            indices.append(self._end_token)
        return np_onehot(indices, self._output_depth)

    def encode_chords(self, chords: Sequence[str]) -> np.ndarray:
        """[steps (+1 with an end token), chord classes] one-hot controls; the end
        token's step repeats the last chord (the model must not learn endings from it).
        ChordSymbolError or ChordEncodingError for a chord outside the encoding."""
        tokens = [self._chord_encoding.encode_event(c) for c in chords]
        if self._end_token is not None:
            tokens.append(tokens[-1] if tokens else
                          self._chord_encoding.encode_event(chords_lib.NO_CHORD))
        return np_onehot(tokens, self._control_depth)

    def _piece_to_tensors(self, note_sequence: music_pb2.NoteSequence) -> ConverterTensors:
        pairs = [p for p in maybe_sample_items(self._extract_event_lists(note_sequence),
                                               self.max_tensors_per_notesequence,
                                               self.is_training, self.rng) if p[0]]
        seqs = [self._encode(events) for events, _ in pairs]
        controls = []
        if self._chord_encoding:
            try:
                controls = [self.encode_chords(chords) for _, chords in pairs]
            except (chords_lib.ChordSymbolError, chords_lib.ChordEncodingError):
                return ConverterTensors()  # One unencodable chord drops the piece.
        return ConverterTensors(inputs=seqs, outputs=seqs, controls=controls)

    def to_tensors(self, item: music_pb2.NoteSequence) -> ConverterTensors:
        """One-hot [steps, depth] examples of every melody window in `item`."""
        return self._split_process_and_combine(item, self._piece_to_tensors)

    def tensors_to_melodies(self, samples: Any) -> list[Melody]:
        melodies = []
        for sample in samples:
            indices = np.argmax(np.asarray(sample), axis=-1).tolist()
            if self._end_token is not None and self._end_token in indices:
                indices = indices[:indices.index(self._end_token)]
            melody = Melody(steps_per_bar=self._steps_per_bar,
                            steps_per_quarter=self._steps_per_quarter)
            for index in indices:
                melody.append(self._melody_encoding.decode_event(index))
            melodies.append(melody)
        return melodies

    def from_tensors(self, samples: Any, controls: Any = None) -> list[music_pb2.NoteSequence]:
        """NoteSequences at 120 qpm, velocity 80, from [n, steps, depth] scores or one-hots;
        with chord controls [n, steps, 49], their chords as chord annotations."""
        sequences = [melody.to_sequence(velocity=OUTPUT_VELOCITY,
                                        qpm=constants.DEFAULT_QUARTERS_PER_MINUTE)
                     for melody in self.tensors_to_melodies(samples)]
        if self._chord_encoding and controls is not None:
            seconds_per_step = 60.0 / (self._steps_per_quarter
                                       * constants.DEFAULT_QUARTERS_PER_MINUTE)
            for ns, melody, control in zip(sequences, self.tensors_to_melodies(samples),
                                           controls):
                tokens = np.argmax(np.asarray(control), axis=-1)[:len(melody)]
                chords_lib.add_chord_annotations(
                    ns, [self._chord_encoding.decode_event(int(t)) for t in tokens],
                    seconds_per_step)
        return sequences



class DrumsConverter(BaseNoteSequenceConverter):
    """Drum tracks as one-hot rows over drum-class sets, or as multi-hot "rolls".

    Each drum note's pitch becomes the index of its class (others are dropped), so
    a step is a set of class indices. One-hot: class index sum(2**c) of
    MultiDrumOneHotEncoding over the classes (512 for 9 classes). Roll: one column
    per class; a roll *input* has one more column, 1 where no drum is struck. With
    an end token, one-hot rows gain a last class and rolls a last column, and one
    end row follows the events.
    """

    def __init__(self, max_bars: int | None = None, slice_bars: int | None = None,
                 gap_bars: float | None = 1.0,
                 pitch_classes: Sequence[Sequence[int]] | None = None,
                 add_end_token: bool = False, steps_per_quarter: int = 4,
                 quarters_per_bar: int = 4, pad_to_total_time: bool = False,
                 roll_input: bool = False, roll_output: bool = False,
                 max_tensors_per_notesequence: int | None = 5,
                 presplit_on_time_changes: bool = True):
        self._pitch_classes = [list(pitches) for pitches in
                               (pitch_classes or REDUCED_DRUM_PITCH_CLASSES)]
        # A pitch listed in several classes belongs to the last one.
        self._pitch_class_map = {pitch: index for index, pitches in enumerate(self._pitch_classes)
                                 for pitch in pitches}
        self._steps_per_quarter = steps_per_quarter
        self._steps_per_bar = steps_per_quarter * quarters_per_bar
        self._slice_steps = self._steps_per_bar * slice_bars if slice_bars else None
        self._max_steps_truncate = self._steps_per_bar * max_bars if max_bars else None
        self._gap_bars = gap_bars or float('inf')
        self._pad_to_total_time = pad_to_total_time
        self._roll_input = roll_input
        self._roll_output = roll_output
        num_classes = len(self._pitch_classes)
        self._num_drum_classes = num_classes
        self._roll_size = num_classes + int(add_end_token)
        # The events already hold class indices, so class c is "pitch" c here.
        self._one_hot_encoding = MultiDrumOneHotEncoding(
            drum_type_pitches=[(c,) for c in range(num_classes)])
        one_hot_depth = self._one_hot_encoding.num_classes + int(add_end_token)
        output_depth = self._roll_size if roll_output else one_hot_depth
        input_depth = self._roll_size + 1 if roll_input else one_hot_depth
        super().__init__(input_depth=input_depth, output_depth=output_depth,
                         end_token=output_depth - 1 if add_end_token else None,
                         max_tensors_per_notesequence=max_tensors_per_notesequence,
                         presplit_on_time_changes=presplit_on_time_changes,
                         one_hot_input_width=0 if roll_input else one_hot_depth)

    @property
    def pitch_classes(self) -> list[list[int]]:
        return self._pitch_classes

    @property
    def steps_per_bar(self) -> int:
        return self._steps_per_bar

    def _extract_event_tuples(self, note_sequence: music_pb2.NoteSequence
                              ) -> list[tuple[frozenset, ...]]:
        """The deduplicated drum windows of one time-change piece, as tuples of class sets."""
        quantized = quantize_in_bars(note_sequence, self._steps_per_quarter, self._steps_per_bar)
        if quantized is None:
            return []
        # Quantize first, then keep the classed drum notes: the total length still
        # counts the other notes, as the original's does.
        kept = []
        for note in quantized.notes:
            if note.is_drum and note.pitch in self._pitch_class_map:
                note.pitch = self._pitch_class_map[note.pitch]
                kept.append(note)
        del quantized.notes[:]
        quantized.notes.extend(kept)
        tracks, _ = extract_drum_tracks(
            quantized, min_bars=1, gap_bars=self._gap_bars,
            max_steps_truncate=self._max_steps_truncate, pad_end=True)
        if self._pad_to_total_time:
            for track in tracks:
                track.set_length(len(track) + track.start_step, from_left=True)
                track.set_length(quantized.total_quantized_steps)
        windows: list[tuple[frozenset, ...]] = []
        for track in tracks:
            events = list(track.events)
            if self._slice_steps:
                for end in range(self._slice_steps, len(events) + 1, self._steps_per_bar):
                    windows.append(tuple(events[end - self._slice_steps:end]))
            else:
                windows.append(tuple(events))
        # A set of the same tuples of frozensets iterates in the original's order.
        return list(set(windows))

    def _roll(self, events: Sequence[frozenset]) -> np.ndarray:
        rows = list(events)
        if self._end_token is not None:
            rows.append(frozenset([self._roll_size - 1]))
        roll = np.zeros((len(rows), self._roll_size), dtype=bool)
        for step, event in enumerate(rows):
            roll[step, list(event)] = True
        return roll

    def _one_hot(self, events: Sequence[frozenset]) -> np.ndarray:
        labels = [self._one_hot_encoding.encode_event(event) for event in events]
        depth = self._one_hot_encoding.num_classes
        if self._end_token is not None:
            labels.append(depth)
            depth += 1
        return np_onehot(labels, depth, bool)

    def _piece_to_tensors(self, note_sequence: music_pb2.NoteSequence) -> ConverterTensors:
        windows = maybe_sample_items(self._extract_event_tuples(note_sequence),
                                     self.max_tensors_per_notesequence, self.is_training,
                                     self.rng)
        inputs, outputs = [], []
        for events in windows:
            roll = self._roll(events) if (self._roll_input or self._roll_output) else None
            one_hot = (self._one_hot(events)
                       if not (self._roll_input and self._roll_output) else None)
            if self._roll_input:
                no_hit = ~roll.any(axis=1, keepdims=True)
                inputs.append(np.concatenate([roll, no_hit], axis=1))
            else:
                inputs.append(one_hot)
            outputs.append(roll if self._roll_output else one_hot)
        return ConverterTensors(inputs=inputs, outputs=outputs)

    def to_tensors(self, item: music_pb2.NoteSequence) -> ConverterTensors:
        """[steps, depth] bool examples of every drum window in `item`."""
        return self._split_process_and_combine(item, self._piece_to_tensors)

    def tensors_to_drum_tracks(self, samples: Any) -> list[DrumTrack]:
        tracks = []
        for sample in samples:
            sample = np.asarray(sample)
            if self._roll_output:
                if self._end_token is not None:
                    ends = np.flatnonzero(sample[:, self._end_token])
                    if len(ends):
                        sample = sample[:ends[0]]
                class_sets = [frozenset(np.flatnonzero(row).tolist()) for row in sample]
            else:
                indices = np.argmax(sample, axis=-1).tolist()
                if self._end_token is not None and self._end_token in indices:
                    indices = indices[:indices.index(self._end_token)]
                class_sets = [self._one_hot_encoding.decode_event(i) for i in indices]
            events = [frozenset(self._pitch_classes[c][0] for c in classes)
                      for classes in class_sets]
            tracks.append(DrumTrack(events=events, steps_per_bar=self._steps_per_bar,
                                    steps_per_quarter=self._steps_per_quarter))
        return tracks

    def from_tensors(self, samples: Any, controls: Any = None) -> list[music_pb2.NoteSequence]:
        """Drum NoteSequences at 120 qpm: velocity 80, instrument 9, one-step notes; each
        class is played by its first pitch."""
        del controls
        return [track.to_sequence(velocity=OUTPUT_VELOCITY)
                for track in self.tensors_to_drum_tracks(samples)]


def build_converter(spec: dict[str, Any]) -> BaseNoteSequenceConverter:
    """A converter from its JSON spec: {"type": "melody", ...constructor arguments}."""
    spec = dict(spec)
    kind = spec.pop('type', None)
    if kind == 'melody':
        if spec.get('valid_programs') == 'MEL_PROGRAMS':
            spec['valid_programs'] = MEL_PROGRAMS
        return OneHotMelodyConverter(**spec)
    if kind == 'drums':
        classes = spec.get('pitch_classes')
        if isinstance(classes, str):
            if classes not in DRUM_PITCH_CLASSES:
                raise ValueError(f'data_converter: unknown pitch_classes {classes!r} (known: '
                                 f'{", ".join(DRUM_PITCH_CLASSES)})')
            spec['pitch_classes'] = DRUM_PITCH_CLASSES[classes]
        return DrumsConverter(**spec)
    if kind == 'groove':
        from magenta_rnn.music_vae import groove
        return groove.build_groove_converter(spec)
    if kind == 'trio':
        from magenta_rnn.music_vae.trio import TrioConverter
        return TrioConverter(**spec)
    if kind == 'multi_instrument_performance':
        from magenta_rnn.music_vae import multiperf
        return multiperf.MultiInstrumentPerformanceConverter(**spec)
    raise ValueError(f'data_converter: unsupported converter type {kind!r} '
                     f'(supported: melody, drums, groove, trio, multi_instrument_performance)')
