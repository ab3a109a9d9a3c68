"""GrooVAE's data converter: drums as (hit, velocity, offset) per step and class
(GrooveConverter in REFERENCE.md "MusicVAE converter sizes", "MusicVAE converters"). TF-free; the
decoder is
flat_decoders.GrooveLstmDecoder.

Each 16th-note step holds, for each of the 9 drum classes, three numbers laid
out class-major inside each block: [hits (9), velocities (9), offsets (9)] = 27.

* hit: 1.0 when the class is struck in the step, else 0.0;
* velocity: the note's velocity / 127;
* offset: 2 * (quantized onset - true onset) / step length, in [-1, 1]
  (positive when the drummer played ahead of the grid).

When a class is struck more than once in a step, the loudest note counts. The
whole piece is padded to full bars and cut into windows of `split_bars` bars
that hop by `hop_size` steps (the window size unless given). The encoder input
may differ from the decoder target: `humanize` zeroes its velocities and
offsets, `tapify` keeps only the loudest class of each step and moves it to
class 3 (open hi-hat), `fixed_velocities` zeroes the velocities,
`add_instruments` removes the given classes, and note dropout randomly drops
(quieter) notes.

Unlike the other converters, the original neither presplits on time changes
nor caps the number of windows per NoteSequence; neither does this one.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from magenta_rnn.music import sequences as sequences_lib
from magenta_rnn.music.events import NonIntegerStepsPerBarError
from magenta_rnn.music_vae.converters.base import (BaseNoteSequenceConverter, ConverterTensors,
                                                   quantize_in_bars)
from magenta_rnn.music_vae.converters.drums import ROLAND_DRUM_PITCH_CLASSES, named_pitch_classes
from magenta_rnn.protobuf import music_pb2

OUTPUT_QPM = 120.0
DRUM_INSTRUMENT = 9
TAP_CLASS = 3  # Tapped inputs are all played on the open hi-hat class.


def _class_map(pitch_classes: Sequence[Sequence[int]]) -> dict[int, int]:
    # A pitch listed in several classes belongs to the last one.
    return {pitch: index for index, pitches in enumerate(pitch_classes) for pitch in pitches}


def _windows(tensor: np.ndarray, window_size: int, hop_size: int) -> list[np.ndarray]:
    return [tensor[i:i + window_size] for i in range(0, len(tensor) - window_size + 1, hop_size)]


class GrooveConverter(BaseNoteSequenceConverter):
    """NoteSequence <-> [steps, 3 * num_classes] float32 hit/velocity/offset tensors.

    Training and eval use `pitch_classes` (Roland by default); inference uses
    `inference_pitch_classes` (the same unless given), both for reading inputs
    and for the pitch each class is played with (its first pitch).
    """

    def __init__(self, split_bars: int | None = None, steps_per_quarter: int = 4,
                 quarters_per_bar: int = 4, max_tensors_per_notesequence: int | None = 8,
                 pitch_classes: Sequence[Sequence[int]] | None = None,
                 inference_pitch_classes: Sequence[Sequence[int]] | None = None,
                 humanize: bool = False, tapify: bool = False,
                 add_instruments: Sequence[int] | None = None,
                 num_velocity_bins: int | None = None, num_offset_bins: int | None = None,
                 split_instruments: bool = False, hop_size: int | None = None,
                 hits_as_controls: bool = False, fixed_velocities: bool = False,
                 max_note_dropout_probability: float | None = None):
        if num_velocity_bins or num_offset_bins or split_instruments:
            raise NotImplementedError('GrooveConverter: categorical velocity/offset bins and '
                                      'split_instruments are not supported')
        if split_bars is None and hop_size is not None:
            raise ValueError('GrooveConverter: hop_size needs split_bars')
        self._split_bars = split_bars
        self._steps_per_quarter = steps_per_quarter
        self._steps_per_bar = steps_per_quarter * quarters_per_bar
        self._hop_size = hop_size
        self._humanize = humanize
        self._tapify = tapify
        self._add_instruments = list(add_instruments or [])
        self._fixed_velocities = fixed_velocities
        self._hits_as_controls = hits_as_controls
        self._max_note_dropout_probability = max_note_dropout_probability
        self._pitch_classes = [list(p) for p in (pitch_classes or ROLAND_DRUM_PITCH_CLASSES)]
        self._infer_pitch_classes = [list(p) for p in
                                     (inference_pitch_classes or self._pitch_classes)]
        if len(self._pitch_classes) != len(self._infer_pitch_classes):
            raise ValueError(f'GrooveConverter: training and inference need the same number of '
                             f'pitch classes, got {len(self._pitch_classes)} and '
                             f'{len(self._infer_pitch_classes)}')
        self._pitch_class_map = _class_map(self._pitch_classes)
        self._infer_pitch_class_map = _class_map(self._infer_pitch_classes)
        self._num_drums = len(self._pitch_classes)
        depth = 3 * self._num_drums
        super().__init__(input_depth=depth, output_depth=depth,
                         control_depth=self._num_drums if hits_as_controls else 0,
                         end_token=None, presplit_on_time_changes=False,
                         max_tensors_per_notesequence=max_tensors_per_notesequence)

    @property
    def pitch_classes(self) -> list[list[int]]:
        return self._infer_pitch_classes if self.is_inferring else self._pitch_classes

    @property
    def pitch_class_map(self) -> dict[int, int]:
        return self._infer_pitch_class_map if self.is_inferring else self._pitch_class_map

    @property
    def num_drums(self) -> int:
        return self._num_drums

    @property
    def steps_per_bar(self) -> int:
        return self._steps_per_bar

    def _grid(self, note_sequence: music_pb2.NoteSequence
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """Hits, velocities and offsets [steps, classes] (float64), or None if unusable."""
        quantized = quantize_in_bars(
            note_sequence, self._steps_per_quarter, self._steps_per_bar,
            errors=(sequences_lib.QuantizationError, NonIntegerStepsPerBarError))
        if quantized is None or not quantized.notes:
            return None
        qpm = quantized.tempos[0].qpm if quantized.tempos else OUTPUT_QPM
        step_length = 60.0 / qpm / quantized.quantization_info.steps_per_quarter
        max_start_step = max(note.quantized_start_step for note in quantized.notes)
        total_bars = -(-(max_start_step + 1) // self._steps_per_bar)
        num_steps = total_bars * self._steps_per_bar
        shape = (num_steps, self._num_drums)
        hits, velocities, offsets = np.zeros(shape), np.zeros(shape), np.zeros(shape)
        class_map = self.pitch_class_map
        # The loudest note of each (step, class) slot; the first one on ties.
        loudest: dict[tuple[int, int], Any] = {}
        for note in quantized.notes:
            drum = class_map.get(note.pitch)
            if drum is None:  # Pitches outside every class are not drums of this model.
                continue
            key = (int(note.quantized_start_step), drum)
            if key not in loudest or note.velocity > loudest[key].velocity:
                loudest[key] = note
        for (step, drum), note in loudest.items():
            hits[step, drum] = 1.0
            velocities[step, drum] = note.velocity / 127.0
            quantized_onset = step_length * note.quantized_start_step
            offsets[step, drum] = (quantized_onset - note.start_time) / step_length * 2
        return hits, velocities, offsets

    def to_tensors(self, item: music_pb2.NoteSequence) -> ConverterTensors:
        """Windows of [split_bars * 16, 27] float32 inputs and outputs (and hit controls)."""
        grid = self._grid(item)
        if grid is None:
            return ConverterTensors()
        hits, velocities, offsets = grid
        in_hits, in_velocities, in_offsets = hits.copy(), velocities.copy(), offsets.copy()
        if self._max_note_dropout_probability is not None:
            # One dropout probability per sequence; quieter notes drop more often.
            probability = self.rng.uniform(0.0, self._max_note_dropout_probability)
            weights = np.maximum(0.2, 1.0 - in_velocities)
            keep = 1 - self.rng.binomial(1, weights * probability)
            in_hits *= keep
            in_velocities *= keep
            in_offsets *= keep
        if self._tapify:
            loudest = np.argmax(in_velocities, axis=1)
            rows = np.arange(len(hits))
            in_hits[:], in_velocities[:], in_offsets[:] = 0.0, 0.0, 0.0
            in_hits[:, TAP_CLASS] = hits[rows, loudest]
            in_velocities[:, TAP_CLASS] = velocities[rows, loudest]
            in_offsets[:, TAP_CLASS] = offsets[rows, loudest]
        if self._humanize:
            in_velocities[:] = 0.0
            in_offsets[:] = 0.0
        if self._fixed_velocities:
            in_velocities[:] = 0.0
        if self._add_instruments:
            for array in (in_hits, in_velocities, in_offsets):
                array[:, self._add_instruments] = 0.0
        outputs = np.concatenate([hits, velocities, offsets], axis=1).astype(np.float32)
        inputs = np.concatenate([in_hits, in_velocities, in_offsets], axis=1).astype(np.float32)
        controls = hits.astype(bool) if self._hits_as_controls else None
        if self._split_bars:
            window = self._steps_per_bar * self._split_bars
            hop = self._hop_size or window
            output_list = _windows(outputs, window, hop)
            input_list = _windows(inputs, window, hop)
            control_list = _windows(controls, window, hop) if controls is not None else []
        else:
            output_list, input_list = [outputs], [inputs]
            control_list = [controls] if controls is not None else []
        return ConverterTensors(inputs=input_list, outputs=output_list,
                                     controls=control_list)

    def from_tensors(self, samples: Any, controls: Any = None) -> list[music_pb2.NoteSequence]:
        """Drum NoteSequences at 120 qpm from [n, steps, 27] tensors.

        A class sounds where its hit is > 0.5, with velocity round(v * 127) and
        start (step - offset / 2) * step length, one step long. A first-step
        note played early starts before 0 s, as in the original; MIDI files
        written from it start that note at tick 0.
        """
        del controls
        step_length = 60.0 / OUTPUT_QPM / self._steps_per_quarter
        first_pitches = [pitches[0] for pitches in self.pitch_classes]
        sequences = []
        for sample in samples:
            # Arithmetic stays in the sample's dtype (float32 model outputs give
            # float32 times), as the original's does.
            sample = np.asarray(sample)
            ns = music_pb2.NoteSequence()
            ns.tempos.add(qpm=OUTPUT_QPM)
            for step, row in enumerate(sample):
                hits, velocities, offsets = np.split(row, 3)
                for drum in range(len(hits)):
                    if hits[drum] <= 0.5:
                        continue
                    velocity = int(np.clip(int(np.round(velocities[drum] * 127)), 0, 127))
                    offset = np.clip(offsets[drum] / 2, -0.5, 0.5)
                    start = float((step - offset) * step_length)
                    ns.notes.add(pitch=first_pitches[drum], velocity=velocity,
                                 instrument=DRUM_INSTRUMENT, is_drum=True, start_time=start,
                                 end_time=start + step_length)
            ns.total_time = max((n.end_time for n in ns.notes), default=0.0)
            sequences.append(ns)
        return sequences


def from_spec(spec: dict[str, Any]) -> GrooveConverter:
    """A GrooveConverter from its JSON spec; pitch classes may be named (ROLAND, REDUCED, FULL)."""
    spec = dict(spec)
    for key in ('pitch_classes', 'inference_pitch_classes'):
        if key in spec:
            spec[key] = named_pitch_classes(key, spec[key])
    return GrooveConverter(**spec)
