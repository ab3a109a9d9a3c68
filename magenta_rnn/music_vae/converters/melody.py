"""OneHotMelodyConverter: monophonic melodies as one-hot rows, optionally with chords as
control inputs (REFERENCE.md "MusicVAE converter sizes", "MusicVAE converters"). TF-free.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from magenta_rnn.music import chords as chords_lib
from magenta_rnn.music import constants
from magenta_rnn.music.melodies import Melody, extract_melodies
from magenta_rnn.music.melody_encoders import MelodyOneHotEncoding
from magenta_rnn.music_vae.converters.base import (
    MEL_PROGRAMS, OUTPUT_VELOCITY, PIANO_MAX_MIDI_PITCH, PIANO_MIN_MIDI_PITCH,
    BaseNoteSequenceConverter, ConverterTensors, maybe_sample_items, np_onehot, quantize_in_bars)
from magenta_rnn.protobuf import music_pb2


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


def from_spec(spec: dict[str, Any]) -> OneHotMelodyConverter:
    """A melody converter from its JSON spec; valid_programs may be named (MEL_PROGRAMS)."""
    spec = dict(spec)
    if spec.get('valid_programs') == 'MEL_PROGRAMS':
        spec['valid_programs'] = MEL_PROGRAMS
    return OneHotMelodyConverter(**spec)
