"""MultiInstrumentPerformanceConverter: multi-instrument metric performances for the
hier-multiperf MusicVAEs (REFERENCE.md "MusicVAE configs"). TF-free.

A piece is cut into hops of `hop_size_bars` bars. In each hop, every instrument is
a metric performance (24 steps per quarter, velocity in `num_velocity_bins` bins)
of at most `max_events_per_instrument` tokens: a program token (program 0-127, or
128 for drums), the performance events, then the end token. Instruments are sorted
(non-drums first, by program) and padded to `max_num_instruments` with tracks that
are a lone end token, each track padded with zero rows to max_events_per_instrument.
An example is the flattened [max_num_instruments * max_events_per_instrument, depth]
one-hot tensor; its length is one length per track.

With a chord encoding, each track's controls are the chord at each event (the
program token's row gets the no-chord token, the end token's repeats the last
chord); chords come from the piece's annotations, or are inferred from its notes.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from magenta_rnn.music import chords as chords_lib
from magenta_rnn.music import constants
from magenta_rnn.music import sequences as sequences_lib
from magenta_rnn.music import subsequences, transforms
from magenta_rnn.music.performance_encoders import PerformanceOneHotEncoding
from magenta_rnn.music.performance_extraction import extract_performances
from magenta_rnn.music.performances import MetricPerformance, PerformanceEvent
from magenta_rnn.music_vae.converters.base import (BaseNoteSequenceConverter, ConverterTensors,
                                                   maybe_sample_items, np_onehot,
                                                   quantize_in_bars)
from magenta_rnn.protobuf import music_pb2

NUM_PROGRAMS = constants.MAX_MIDI_PROGRAM - constants.MIN_MIDI_PROGRAM + 1
DRUM_PROGRAM_TOKEN = NUM_PROGRAMS  # after programs 0..127


class TooLongError(Exception):
    pass


def split_performance(performance: MetricPerformance, steps_per_segment: int,
                      new_performance: Callable[..., MetricPerformance],
                      clip_tied_notes: bool = False) -> list[MetricPerformance]:
    """Cuts a performance into segments of `steps_per_segment` steps (time shifts split
    at the boundaries; NOTE_OFFs at a boundary stay in the earlier segment). With
    clip_tied_notes, notes still sounding at a segment's end end there and do not
    carry into the next one."""
    time_shift = PerformanceEvent.TIME_SHIFT
    segments = []
    current = new_performance(quantized_sequence=None, start_step=0)
    step = 0
    for event in performance:
        if event.event_type != time_shift:
            if step == steps_per_segment and event.event_type != PerformanceEvent.NOTE_OFF:
                segments.append(current)
                current = new_performance(quantized_sequence=None,
                                          start_step=len(segments) * steps_per_segment)
                step = 0
            current.append(event)
        elif step + event.event_value <= steps_per_segment:
            current.append(event)
            step += event.event_value
        else:
            rest = steps_per_segment - step
            if rest > 0:
                current.append(PerformanceEvent(time_shift, rest))
            segments.append(current)
            current = new_performance(quantized_sequence=None,
                                      start_step=len(segments) * steps_per_segment)
            step = 0
            if event.event_value - rest > 0:
                current.append(PerformanceEvent(time_shift, event.event_value - rest))
                step += event.event_value - rest
    segments.append(current)
    if segments and segments[-1].num_steps == 0:
        segments = segments[:-1]
    if clip_tied_notes:
        for i, segment in enumerate(segments):
            quantized = sequences_lib.quantize_note_sequence(segment.to_sequence(),
                                                             segment.steps_per_quarter)
            segments[i] = new_performance(quantized_sequence=quantized,
                                          start_step=segment.start_step)
            segments[i].set_length(steps_per_segment)
    return segments


def pad_with_element(nested: list, max_lengths: Sequence[int], element: Any) -> list:
    """Pads each level of a nested list to max_lengths with `element` at the bottom;
    TooLongError when a level is already longer."""
    if not max_lengths:
        return nested
    delta = max_lengths[0] - len(nested)
    if delta < 0:
        raise TooLongError
    if len(max_lengths) == 1:
        return list(nested) + [element] * delta
    return [pad_with_element(item, max_lengths[1:], element)
            for item in list(nested) + [[] for _ in range(delta)]]


def _flatten(nested) -> list[np.ndarray]:
    if isinstance(nested, np.ndarray):
        return [nested]
    return [array for item in nested for array in _flatten(item)]


def _pad_rows(array: np.ndarray, length: int) -> np.ndarray:
    if array.shape[0] > length:
        raise TooLongError
    return np.pad(array, ((0, length - array.shape[0]), (0, 0)))


class MultiInstrumentPerformanceConverter(BaseNoteSequenceConverter):
    """NoteSequence <-> [max_num_instruments * max_events_per_instrument, depth] bool
    examples, one per hop; depth = performance classes + 129 program tokens + end token
    (490 with 8 velocity bins)."""

    def __init__(self, num_velocity_bins: int = 0,
                 max_tensors_per_notesequence: int | None = None, hop_size_bars: int = 1,
                 chunk_size_bars: int = 1, steps_per_quarter: int = 24,
                 quarters_per_bar: int = 4, min_num_instruments: int = 2,
                 max_num_instruments: int = 8, min_total_events: int = 8,
                 max_events_per_instrument: int = 64,
                 min_pitch: int = constants.MIN_MIDI_PITCH,
                 max_pitch: int = constants.MAX_MIDI_PITCH,
                 first_subsequence_only: bool = False, chord_encoding: Any = None,
                 drop_tracks_and_truncate: bool = False):
        self._performance_encoding = PerformanceOneHotEncoding(
            num_velocity_bins=num_velocity_bins,
            max_shift_steps=constants.DEFAULT_MAX_SHIFT_QUARTERS * steps_per_quarter,
            min_pitch=min_pitch, max_pitch=max_pitch)
        self._chord_encoding = (chords_lib.chord_encoding(chord_encoding)
                                if isinstance(chord_encoding, str) else chord_encoding)
        self._num_velocity_bins = num_velocity_bins
        self._hop_size_bars = hop_size_bars
        self._chunk_size_bars = chunk_size_bars
        self._steps_per_quarter = steps_per_quarter
        self._steps_per_bar = steps_per_quarter * quarters_per_bar
        self._min_num_instruments = min_num_instruments
        self._max_num_instruments = max_num_instruments
        self._min_total_events = min_total_events
        self._max_events_per_instrument = max_events_per_instrument
        self._min_pitch, self._max_pitch = min_pitch, max_pitch
        self._first_subsequence_only = first_subsequence_only
        self._drop_tracks_and_truncate = drop_tracks_and_truncate
        self._max_num_chunks = hop_size_bars // chunk_size_bars
        self._max_steps_truncate = self._steps_per_bar * hop_size_bars
        num_classes = self._performance_encoding.num_classes
        end_token = num_classes + NUM_PROGRAMS + 1
        self._max_lengths = [self._max_num_chunks, max_num_instruments,
                             max_events_per_instrument]
        if self._chord_encoding is None:
            control_depth, self._control_pad_token = 0, None
        else:
            control_depth = self._chord_encoding.num_classes
            self._control_pad_token = self._chord_encoding.encode_event(chords_lib.NO_CHORD)
        super().__init__(input_depth=end_token + 1, output_depth=end_token + 1,
                         control_depth=control_depth, end_token=end_token,
                         max_tensors_per_notesequence=max_tensors_per_notesequence,
                         length_shape=(self._max_num_chunks * max_num_instruments,),
                         one_hot_input_width=end_token + 1)

    @property
    def chord_encoding(self):
        return self._chord_encoding

    @property
    def max_lengths(self) -> list[int]:
        return list(self._max_lengths)

    def _new_performance(self, track) -> Callable[..., MetricPerformance]:
        def new(quantized_sequence=None, start_step=0):
            return MetricPerformance(
                quantized_sequence=quantized_sequence,
                steps_per_quarter=None if quantized_sequence is not None
                else self._steps_per_quarter,
                start_step=start_step, num_velocity_bins=self._num_velocity_bins,
                program=track.program, is_drum=track.is_drum)
        return new

    def _hop_to_tensors(self, quantized: music_pb2.NoteSequence
                        ) -> tuple[list[list[np.ndarray]], list[list[np.ndarray]]]:
        """Per chunk, per track: one-hot tokens and (with chords) chord controls."""
        if any(not self._min_pitch <= note.pitch <= self._max_pitch for note in quantized.notes):
            return [], []
        tracks, _ = extract_performances(quantized, max_steps_truncate=self._max_steps_truncate,
                                         num_velocity_bins=self._num_velocity_bins,
                                         split_instruments=True)
        if self._drop_tracks_and_truncate and len(tracks) > self._max_num_instruments:
            picks = self.rng.choice(len(tracks), self._max_num_instruments, replace=False)
            tracks = [tracks[i] for i in picks]
        if not self._min_num_instruments <= len(tracks) <= self._max_num_instruments:
            return [], []
        # An instrument mixing programs, or drums and pitched notes, has no track type.
        if any(t.is_drum is None or (not t.is_drum and t.program is None) for t in tracks):
            return [], []
        tracks = sorted(tracks, key=lambda t: (t.is_drum, t.program or 0))
        chunk_steps = self._steps_per_bar * self._chunk_size_bars
        chunks: list[list[MetricPerformance]] = [[] for _ in range(self._max_num_chunks)]
        total_length = 0
        for track in tracks:
            track.set_length(self._max_steps_truncate)
            track_chunks = split_performance(track, chunk_steps, self._new_performance(track),
                                             clip_tied_notes=True)
            if self._drop_tracks_and_truncate:
                for chunk in track_chunks:
                    chunk.truncate(self._max_events_per_instrument - 2)
            lengths = [len(chunk) for chunk in track_chunks]
            if any(length > self._max_events_per_instrument - 2 for length in lengths):
                return [], []
            total_length += sum(lengths)
            for i, chunk in enumerate(track_chunks):
                chunks[i].append(chunk)
        if total_length < self._min_total_events:
            return [], []

        num_classes = self._performance_encoding.num_classes
        chunk_tensors, chunk_controls = [], []
        for chunk_tracks in chunks:
            chunk_tensors.append([np_onehot(
                [num_classes + (DRUM_PROGRAM_TOKEN if track.is_drum else track.program)]
                + list(self._performance_encoding.encode_events(track.events))
                + [self._end_token], self._output_depth) for track in chunk_tracks])
            if self._chord_encoding:
                try:
                    track_chords = chords_lib.event_list_chords(quantized, chunk_tracks)
                    controls = []
                    for chords in track_chords:
                        tokens = [self._control_pad_token] + [
                            self._chord_encoding.encode_event(c) for c in chords]
                        tokens.append(tokens[-1])
                        controls.append(np_onehot(tokens, self._control_depth))
                except (chords_lib.CoincidentChordsError, chords_lib.ChordSymbolError,
                        chords_lib.ChordEncodingError):
                    return [], []
                chunk_controls.append(controls)
        return chunk_tensors, chunk_controls

    def _pad(self, tracks, controls) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Hierarchically padded (inputs, controls, per-track lengths); TooLongError."""
        end_row = np_onehot([self._end_token], self._output_depth)
        flat = _flatten(pad_with_element(tracks, self._max_lengths[:-1], end_row))
        lengths = np.array([len(x) for x in flat], np.int32)
        steps = self._max_lengths[-1]
        inputs = np.concatenate([_pad_rows(x, steps) for x in flat])
        if self._chord_encoding:
            pad_row = np_onehot([self._control_pad_token], self._control_depth)
            controls = np.concatenate([_pad_rows(x, steps) for x in _flatten(
                pad_with_element(controls, self._max_lengths[:-1], pad_row))])
        else:
            controls = np.zeros((len(inputs), 0), bool)
        return inputs, controls, lengths

    def _piece_to_tensors(self, note_sequence: music_pb2.NoteSequence) -> ConverterTensors:
        note_sequence = transforms.apply_sustain_control_changes(note_sequence)
        if self._chord_encoding and not chords_lib.has_chords(note_sequence):
            quantized = quantize_in_bars(note_sequence, self._steps_per_quarter,
                                              self._steps_per_bar)
            if quantized is None:
                return ConverterTensors()
            try:
                chords_lib.infer_chords_for_sequence(quantized)
            except chords_lib.ChordInferenceError:
                return ConverterTensors()
            for ta in quantized.text_annotations:
                if ta.annotation_type == chords_lib.CHORD_SYMBOL:
                    note_sequence.text_annotations.add(
                        annotation_type=chords_lib.CHORD_SYMBOL, time=ta.time, text=ta.text)
        qpm = (note_sequence.tempos[0].qpm if note_sequence.tempos
               else constants.DEFAULT_QUARTERS_PER_MINUTE)
        hop_seconds = (60.0 * self._steps_per_bar / self._steps_per_quarter
                       * self._hop_size_bars / qpm)
        hops = subsequences.split_note_sequence(note_sequence, hop_seconds)
        if self._first_subsequence_only and len(hops) > 1:
            return ConverterTensors()
        examples = []
        for hop in hops:
            quantized = quantize_in_bars(hop, self._steps_per_quarter, self._steps_per_bar)
            if quantized is None:
                return ConverterTensors()  # One bad hop drops the piece.
            tracks, controls = self._hop_to_tensors(quantized)
            if tracks:
                examples.append((tracks, controls))
        examples = maybe_sample_items(examples, self.max_tensors_per_notesequence,
                                           self.is_training, self.rng)
        padded = []
        for tracks, controls in examples:
            try:
                padded.append(self._pad(tracks, controls))
            except TooLongError:
                continue
        if not padded:
            return ConverterTensors()
        inputs, controls, lengths = zip(*padded)
        return ConverterTensors(inputs=list(inputs), outputs=list(inputs),
                                     controls=list(controls), lengths=list(lengths))

    def to_tensors(self, item: music_pb2.NoteSequence) -> ConverterTensors:
        """[512, depth] bool examples (one per hop with 2-8 instruments) of `item`."""
        return self._split_process_and_combine(item, self._piece_to_tensors)

    def from_tensors(self, samples: Any, controls: Any = None) -> list[music_pb2.NoteSequence]:
        """One NoteSequence per sample at 120 qpm, instrument i = the sample's track i."""
        shape = self._max_lengths + [-1]
        results = []
        for i, sample in enumerate(samples):
            control = None
            if self._chord_encoding and controls is not None:
                control = np.asarray(controls[i]).reshape(shape)
            results.append(self._to_sequence(np.asarray(sample).reshape(shape), control))
        return results

    def _to_sequence(self, sample: np.ndarray, controls: np.ndarray | None
                     ) -> music_pb2.NoteSequence:
        qpm = constants.DEFAULT_QUARTERS_PER_MINUTE
        seconds_per_step = 60.0 / (self._steps_per_quarter * qpm)
        chunk_steps = self._steps_per_bar * self._chunk_size_bars
        num_classes = self._performance_encoding.num_classes
        ns = music_pb2.NoteSequence(ticks_per_quarter=constants.STANDARD_PPQ)
        ns.tempos.add(qpm=qpm)
        tracks: list[list[MetricPerformance]] = [[] for _ in range(self._max_num_instruments)]
        timed_chords = []
        for chunk_index, chunk in enumerate(sample):
            for instrument, encoded in enumerate(chunk):
                tokens = np.argmax(encoded, axis=-1).tolist()
                if self._end_token in tokens:
                    tokens = tokens[:tokens.index(self._end_token)]
                programs = [t for t in tokens if t >= num_classes]
                event_indices = [k for k, t in enumerate(tokens) if t < num_classes]
                program = programs[0] - num_classes if programs else 0
                is_drum = program == DRUM_PROGRAM_TOKEN
                track = MetricPerformance(steps_per_quarter=self._steps_per_quarter,
                                          num_velocity_bins=self._num_velocity_bins,
                                          program=0 if is_drum else program, is_drum=is_drum)
                for k in event_indices:
                    track.append(self._performance_encoding.decode_event(tokens[k]))
                if controls is not None:
                    chord_tokens = np.argmax(controls[chunk_index][instrument], axis=-1)
                    offset = chunk_index * chunk_steps
                    timed_chords += [
                        ((offset + step) * seconds_per_step,
                         self._chord_encoding.decode_event(int(chord_tokens[k])))
                        for step, k in zip(track.steps, event_indices) if step < chunk_steps]
                track.set_length(chunk_steps)
                tracks[instrument].append(track)
        for instrument, chunks in enumerate(tracks):
            if not chunks:
                continue
            track = chunks[0]
            for later in chunks[1:]:
                for event in later:
                    track.append(event)
            ns.notes.extend(track.to_sequence(instrument=instrument, qpm=qpm).notes)
        if ns.notes:
            ns.total_time = max(note.end_time for note in ns.notes)
        previous = None
        for time, figure in sorted(timed_chords):
            if figure != previous:
                ns.text_annotations.add(time=time, text=figure,
                                        annotation_type=chords_lib.CHORD_SYMBOL)
                previous = figure
        return ns
