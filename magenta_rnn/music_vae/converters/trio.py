"""TrioConverter: 3-part (melody, bass, drums) examples for the trio MusicVAEs
(REFERENCE.md "MusicVAE converter sizes", "MusicVAE converters"). TF-free.

Each step of an example is three one-hot rows side by side: melody [90] (programs
0-31), bass [90] (programs 32-39), both as OneHotMelodyConverter over pitches
21..108, then drums [512] (MultiDrumOneHotEncoding over the 9 reduced classes);
depth 692. Every (melody, bass, drums) instrument combination gives every
`slice_bars` window in which all three play, allowing gaps of up to `gap_bars`
bars per instrument.
"""
from __future__ import annotations

import itertools
import logging
import math
from typing import Any

import numpy as np

from magenta_rnn.music import constants
from magenta_rnn.music_vae.converters.base import (BASS_PROGRAMS, MEL_PROGRAMS,
                                                   BaseNoteSequenceConverter, ConverterTensors,
                                                   quantize_in_bars)
from magenta_rnn.music_vae.converters.drums import DrumsConverter
from magenta_rnn.music_vae.converters.melody import OneHotMelodyConverter
from magenta_rnn.protobuf import music_pb2

MAX_INSTRUMENT_NUMBER = 127
ELECTRIC_BASS_PROGRAM = 33
BASS_INSTRUMENT = 1
DRUMS_INSTRUMENT = 9

# Instrument types; 0 means not seen yet.
UNKNOWN, MEL, BASS, DRUMS, INVALID = 0, 1, 2, 3, 4


def _extract_instrument(note_sequence: music_pb2.NoteSequence,
                        instrument: int) -> music_pb2.NoteSequence:
    extracted = music_pb2.NoteSequence()
    extracted.CopyFrom(note_sequence)
    del extracted.notes[:]
    extracted.notes.extend(n for n in note_sequence.notes if n.instrument == instrument)
    return extracted


class TrioConverter(BaseNoteSequenceConverter):
    """Melody + bass + drums windows as [steps, 692] bool rows (inputs == outputs).

    slice_bars: window length in bars (hierdec/flat-trio_16bar: 16); None takes the
      whole (max_bars-limited) piece as one window.
    gap_bars: bars an instrument may be silent and still count as playing; internal
      gaps of up to 2 * gap_bars are bridged.
    max_bars: bars of each piece considered.
    """

    def __init__(self, slice_bars: int | None = None, gap_bars: int = 2, max_bars: int = 1024,
                 steps_per_quarter: int = 4, quarters_per_bar: int = 4,
                 max_tensors_per_notesequence: int | None = 5,
                 chord_encoding: Any = None, condition_on_key: bool = False):
        if chord_encoding is not None or condition_on_key:
            raise NotImplementedError('TrioConverter: chord and key conditioning are not '
                                      'supported yet')
        self._melody_converter = OneHotMelodyConverter(
            gap_bars=None, steps_per_quarter=steps_per_quarter, pad_to_total_time=True,
            presplit_on_time_changes=False, max_tensors_per_notesequence=None)
        self._drums_converter = DrumsConverter(
            gap_bars=None, steps_per_quarter=steps_per_quarter, pad_to_total_time=True,
            presplit_on_time_changes=False, max_tensors_per_notesequence=None)
        self._slice_bars = slice_bars
        self._gap_bars = gap_bars
        self._max_bars = max_bars
        self._steps_per_quarter = steps_per_quarter
        self._steps_per_bar = steps_per_quarter * quarters_per_bar
        self._split_output_depths = (self._melody_converter.output_depth,
                                     self._melody_converter.output_depth,
                                     self._drums_converter.output_depth)
        self._program_types = {**{p: MEL for p in MEL_PROGRAMS},
                               **{p: BASS for p in BASS_PROGRAMS}}
        depth = sum(self._split_output_depths)
        super().__init__(input_depth=depth, output_depth=depth,
                         control_depth=self._melody_converter.control_depth,
                         end_token=None, presplit_on_time_changes=True,
                         max_tensors_per_notesequence=max_tensors_per_notesequence,
                         one_hot_input_width=self._split_output_depths[0])

    @property
    def split_output_depths(self) -> tuple[int, int, int]:
        """Depths of the melody, bass and drums parts: (90, 90, 512)."""
        return self._split_output_depths

    @property
    def steps_per_bar(self) -> int:
        return self._steps_per_bar

    def _piece_to_tensors(self, note_sequence: music_pb2.NoteSequence) -> ConverterTensors:
        quantized = quantize_in_bars(note_sequence, self._steps_per_quarter,
                                          self._steps_per_bar)
        if quantized is None:
            return ConverterTensors()

        spb = self._steps_per_bar
        total_bars = min(int(math.ceil(quantized.total_quantized_steps / spb)), self._max_bars)

        # Type and per-bar coverage of each instrument; one with notes of several
        # types is INVALID.
        instrument_type = np.zeros(MAX_INSTRUMENT_NUMBER + 1, np.uint8)
        coverage = np.zeros((total_bars, MAX_INSTRUMENT_NUMBER + 1), bool)
        for note in quantized.notes:
            i = note.instrument
            if i > MAX_INSTRUMENT_NUMBER:
                logging.warning('Skipping invalid instrument number: %d', i)
                continue
            inferred = DRUMS if note.is_drum else self._program_types.get(note.program, INVALID)
            if not instrument_type[i]:
                instrument_type[i] = inferred
            elif instrument_type[i] != inferred:
                instrument_type[i] = INVALID
            start_bar = note.quantized_start_step // spb
            end_bar = int(math.ceil(note.quantized_end_step / spb))
            if start_bar >= total_bars:
                continue
            coverage[start_bar:min(end_bar, total_bars), i] = True

        by_type: dict[int, list[int]] = {MEL: [], BASS: [], DRUMS: []}
        for i, kind in enumerate(instrument_type):
            if kind in by_type:
                by_type[kind].append(i)
        if not all(by_type.values()):
            return ConverterTensors()

        # Encode each instrument over the whole piece, padded to total_bars.
        qpm = (note_sequence.tempos[0].qpm if note_sequence.tempos
               else constants.DEFAULT_QUARTERS_PER_MINUTE)
        padded = music_pb2.NoteSequence()
        padded.CopyFrom(note_sequence)
        padded.total_time = total_bars * spb * 60 / qpm / self._steps_per_quarter
        encoded: dict[int, np.ndarray] = {}
        for kinds, converter in (((MEL, BASS), self._melody_converter),
                                 ((DRUMS,), self._drums_converter)):
            for i in (i for kind in kinds for i in by_type[kind]):
                outputs = converter.to_tensors(_extract_instrument(padded, i)).outputs
                if outputs:
                    encoded[i] = outputs[0]
                else:
                    coverage[:, i] = False

        # A bar counts as covered when the instrument plays within gap_bars of it.
        gap = self._gap_bars
        filled = np.zeros_like(coverage)
        for j in range(total_bars):
            filled[j] = np.any(coverage[max(0, j - gap):min(total_bars, j + gap) + 1], axis=0)

        slice_bars = self._slice_bars or total_bars
        seqs = []
        for group in itertools.product(by_type[MEL], by_type[BASS], by_type[DRUMS]):
            group = list(group)
            group_coverage = np.all(filled[:, group], axis=1)
            # Near either end, any of the three playing is enough. (With gap_bars=0 the
            # original's `[-0:]` slice marks every bar covered; no config uses 0.)
            if gap:
                group_coverage[:gap] = np.any(filled[:gap, group])
                group_coverage[-gap:] = np.any(filled[-gap:, group])
            if not all(i in encoded for i in group):
                continue
            for j in range(total_bars - slice_bars + 1):
                if np.all(group_coverage[j:j + slice_bars]):
                    start, end = j * spb, (j + slice_bars) * spb
                    seqs.append(np.concatenate([encoded[i][start:end] for i in group], axis=-1))
        return ConverterTensors(inputs=seqs, outputs=seqs)

    def to_tensors(self, item: music_pb2.NoteSequence) -> ConverterTensors:
        """[slice_bars * 16, 692] bool examples of every trio window in `item`."""
        return self._split_process_and_combine(item, self._piece_to_tensors)

    def from_tensors(self, samples: Any, controls: Any = None) -> list[music_pb2.NoteSequence]:
        """One NoteSequence per sample: melody on instrument 0 (program 0), bass on
        instrument 1 (program 33), drums on instrument 9."""
        del controls
        mel_end, bass_end = np.cumsum(self._split_output_depths)[:2]
        results = []
        for sample in samples:
            sample = np.asarray(sample)
            ns = self._melody_converter.from_tensors([sample[:, :mel_end]])[0]
            bass = self._melody_converter.from_tensors([sample[:, mel_end:bass_end]])[0]
            drums = self._drums_converter.from_tensors([sample[:, bass_end:]])[0]
            for note in bass.notes:
                note.instrument = BASS_INSTRUMENT
                note.program = ELECTRIC_BASS_PROGRAM
            for note in drums.notes:
                note.instrument = DRUMS_INSTRUMENT
            ns.notes.extend(bass.notes)
            ns.notes.extend(drums.notes)
            ns.total_time = max(ns.total_time, bass.total_time, drums.total_time)
            results.append(ns)
        return results
