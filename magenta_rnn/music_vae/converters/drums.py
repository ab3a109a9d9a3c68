"""DrumsConverter: drum tracks as one-hot rows over drum-class sets or as multi-hot rolls
(REFERENCE.md "MusicVAE converter sizes", "MusicVAE converters"), and the named drum
pitch classes the drum and groove converters share. TF-free.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from magenta_rnn.music.drum_encoders import DEFAULT_DRUM_TYPE_PITCHES, MultiDrumOneHotEncoding
from magenta_rnn.music.drums import DrumTrack, extract_drum_tracks
from magenta_rnn.music_vae.converters.base import (
    OUTPUT_VELOCITY, BaseNoteSequenceConverter, ConverterTensors, maybe_sample_items, np_onehot,
    quantize_in_bars)
from magenta_rnn.protobuf import music_pb2

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


def named_pitch_classes(key: str, classes: Any) -> Any:
    """A spec's pitch classes: a name (REDUCED, FULL, ROLAND) resolved, anything else as is."""
    if not isinstance(classes, str):
        return classes
    if classes not in DRUM_PITCH_CLASSES:
        raise ValueError(f'data_converter: unknown {key} {classes!r} (known: '
                         f'{", ".join(DRUM_PITCH_CLASSES)})')
    return DRUM_PITCH_CLASSES[classes]


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


def from_spec(spec: dict[str, Any]) -> DrumsConverter:
    """A drums converter from its JSON spec; pitch_classes may be named."""
    spec = dict(spec)
    if 'pitch_classes' in spec:
        spec['pitch_classes'] = named_pitch_classes('pitch_classes', spec['pitch_classes'])
    return DrumsConverter(**spec)
