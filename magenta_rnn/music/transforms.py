"""NoteSequence-to-NoteSequence edits that the dataset pipelines apply: sustain pedal,
stretch, transposition, random augmentation and a change of program (note_seq's sequences_lib,
REFERENCE.md "Quantization").
"""
from __future__ import annotations

import logging
import random
from typing import Protocol

from magenta_rnn.music import constants
from magenta_rnn.music.chords import transpose_chord_symbol
from magenta_rnn.music.sequences import (NoteSequence, assert_unquantized, copy_sequence,
                                         describe)

_CHORD_SYMBOL = NoteSequence.TextAnnotation.CHORD_SYMBOL

_log = logging.getLogger(__name__)


class _RandomSource(Protocol):
    """What augmentation draws from: a random.Random or the random module itself."""

    def uniform(self, a: float, b: float) -> float: ...

    def randint(self, a: int, b: int) -> int: ...


_SUSTAIN_ON, _SUSTAIN_OFF, _NOTE_ON, _NOTE_OFF = 0, 1, 2, 3


def apply_sustain_control_changes(ns: NoteSequence,
                                  sustain_control_number: int = 64) -> NoteSequence:
    """A copy of `ns` with note ends extended while the sustain pedal is down.

    Per instrument, CC values >= 64 press the pedal and < 64 release it. A sustained
    note lasts until the pedal is released or its pitch is struck again. Drums are
    untouched.
    """
    assert_unquantized(ns, 'apply sustain to')
    sequence = copy_sequence(ns)
    notes = sequence.notes

    pitched = [note for note in notes if not note.is_drum]
    events = [(note.start_time, _NOTE_ON, note) for note in pitched]
    events += [(note.end_time, _NOTE_OFF, note) for note in pitched]
    for cc in sequence.control_changes:
        if cc.control_number != sustain_control_number:
            continue
        value = cc.control_value
        if value < 0 or value > 127:
            _log.warning('%s: sustain control change has out of range value %d',
                         describe(ns), value)
        events.append((cc.time, _SUSTAIN_ON if value >= 64 else _SUSTAIN_OFF, cc))
    # Stable sort: at equal times pedal on, pedal off, note on, note off.
    events.sort(key=lambda e: (e[0], e[1]))

    # Per-instrument lists of sounding notes. Membership and removal use message
    # equality (as Python lists do), which matters only for identical duplicate notes.
    active: dict[int, list] = {}
    pedal_down: dict[int, bool] = {}
    time = 0
    for time, kind, event in events:
        instrument = event.instrument
        if kind == _SUSTAIN_ON:
            pedal_down[instrument] = True
        elif kind == _SUSTAIN_OFF:
            pedal_down[instrument] = False
            still_sounding = []
            for note in active.get(instrument, ()):
                if note.end_time < time:
                    # Held only by the pedal: it ends with the pedal.
                    note.end_time = time
                    if time > sequence.total_time:
                        sequence.total_time = time
                else:
                    still_sounding.append(note)
            active[instrument] = still_sounding
        elif kind == _NOTE_ON:
            sounding = active.setdefault(instrument, [])
            if pedal_down.get(instrument, False):
                kept = []
                for note in sounding:
                    if note.pitch == event.pitch:
                        # Restriking a held pitch ends the held note.
                        note.end_time = time
                        if note.start_time == note.end_time:
                            # Same pitch struck at the same time: keep just one note.
                            _remove_equal(notes, note)
                    else:
                        kept.append(note)
                sounding = active[instrument] = kept
            sounding.append(event)
        else:  # _NOTE_OFF
            if not pedal_down.get(instrument, False):
                held = active.get(instrument)
                if held:
                    try:
                        held.remove(event)
                    except ValueError:
                        pass  # already ended by a restrike under the pedal

    # Notes still held at the end last until the last event.
    for sounding in active.values():
        for note in sounding:
            note.end_time = time
            sequence.total_time = time
    return sequence


def _remove_equal(repeated, message) -> None:
    """Deletes the first element equal to `message` (list.remove semantics)."""
    for i, element in enumerate(repeated):
        if element == message:
            del repeated[i]
            return
    raise ValueError('message not found')


def stretch_note_sequence(ns: NoteSequence, stretch_factor: float,
                          in_place: bool = False) -> NoteSequence:
    """Multiplies every time by `stretch_factor` and divides every tempo by it."""
    assert_unquantized(ns, 'stretch')
    stretched = ns if in_place else copy_sequence(ns)
    if stretch_factor == 1.0:
        return stretched
    for note in stretched.notes:
        note.start_time *= stretch_factor
        note.end_time *= stretch_factor
    stretched.total_time *= stretch_factor
    for events in (stretched.time_signatures, stretched.key_signatures, stretched.tempos,
                   stretched.pitch_bends, stretched.control_changes,
                   stretched.text_annotations):
        for event in events:
            event.time *= stretch_factor
    for tempo in stretched.tempos:
        tempo.qpm /= stretch_factor
    return stretched


def transpose_note_sequence(ns: NoteSequence, amount: int,
                            min_allowed_pitch: int = constants.MIN_MIDI_PITCH,
                            max_allowed_pitch: int = constants.MAX_MIDI_PITCH,
                            transpose_chords: bool = True,
                            in_place: bool = False) -> tuple[NoteSequence, int]:
    """Shifts non-drum pitches, chord symbols and keys by `amount` semitones.

    Notes that would leave [min_allowed_pitch, max_allowed_pitch] are deleted.
    total_time becomes the latest end of the remaining notes. With
    `transpose_chords=False` chord symbols are removed instead.
    Returns (sequence, number of deleted notes).
    """
    transposed = ns if in_place else copy_sequence(ns)
    notes = transposed.notes
    dropped = []
    end_time = 0
    for i, note in enumerate(notes):
        if note.is_drum:
            end_time = max(end_time, note.end_time)
            continue
        pitch = note.pitch + amount
        if min_allowed_pitch <= pitch <= max_allowed_pitch:
            end_time = max(end_time, note.end_time)
            note.pitch = pitch
            note.pitch_name = NoteSequence.UNKNOWN_PITCH_NAME  # no longer spelled right
        else:
            dropped.append(i)
    for i in reversed(dropped):
        del notes[i]
    transposed.total_time = end_time

    annotations = transposed.text_annotations
    if transpose_chords:
        for ta in annotations:
            if ta.annotation_type == _CHORD_SYMBOL and ta.text != constants.NO_CHORD:
                ta.text = transpose_chord_symbol(ta.text, amount)
    else:
        for i in range(len(annotations) - 1, -1, -1):
            if annotations[i].annotation_type == _CHORD_SYMBOL:
                del annotations[i]

    for ks in transposed.key_signatures:
        ks.key = (ks.key + amount) % 12
    return transposed, len(dropped)


def _clamp_transpose(amount: int, ns_min_pitch: int, ns_max_pitch: int,
                     min_allowed_pitch: int, max_allowed_pitch: int) -> int:
    """Limits `amount` so the pitch range [ns_min_pitch, ns_max_pitch] stays allowed."""
    if amount < 0:
        return -min(ns_min_pitch - min_allowed_pitch, abs(amount))
    return min(max_allowed_pitch - ns_max_pitch, amount)


def augment_note_sequence(ns: NoteSequence, min_stretch_factor: float,
                          max_stretch_factor: float, min_transpose: int, max_transpose: int,
                          min_allowed_pitch: int = constants.MIN_MIDI_PITCH,
                          max_allowed_pitch: int = constants.MAX_MIDI_PITCH,
                          delete_out_of_range_notes: bool = False,
                          rng: random.Random | None = None) -> NoteSequence:
    """A randomly stretched and transposed copy of `ns`.

    Draws stretch ~ uniform(min, max), then transpose ~ randint(min, max) inclusive,
    from `rng` (default: the `random` module, as the original). Unless
    `delete_out_of_range_notes`, the transpose range is clamped so no note leaves
    the allowed pitch range.
    """
    if min_stretch_factor > max_stretch_factor:
        raise ValueError('min_stretch_factor should be <= max_stretch_factor')
    if min_allowed_pitch > max_allowed_pitch:
        raise ValueError('min_allowed_pitch should be <= max_allowed_pitch')
    if min_transpose > max_transpose:
        raise ValueError('min_transpose should be <= max_transpose')
    # The module-level generator by default, as the original.
    source: _RandomSource = rng if rng is not None else random
    augmented = copy_sequence(ns)
    if not augmented.notes:
        return augmented
    stretch_note_sequence(augmented, source.uniform(min_stretch_factor, max_stretch_factor),
                          in_place=True)
    if not delete_out_of_range_notes:
        pitches = [note.pitch for note in augmented.notes]
        ns_min_pitch, ns_max_pitch = min(pitches), max(pitches)
        if ns_min_pitch < min_allowed_pitch:
            _log.warning('%s: pitch %d is below min_allowed_pitch %d',
                         describe(ns), ns_min_pitch, min_allowed_pitch)
        if ns_max_pitch > max_allowed_pitch:
            _log.warning('%s: pitch %d is above max_allowed_pitch %d',
                         describe(ns), ns_max_pitch, max_allowed_pitch)
        min_transpose = _clamp_transpose(min_transpose, ns_min_pitch, ns_max_pitch,
                                         min_allowed_pitch, max_allowed_pitch)
        max_transpose = _clamp_transpose(max_transpose, ns_min_pitch, ns_max_pitch,
                                         min_allowed_pitch, max_allowed_pitch)
    amount = source.randint(min_transpose, max_transpose)
    transpose_note_sequence(augmented, amount, min_allowed_pitch, max_allowed_pitch,
                            in_place=True)
    return augmented


def with_program(sequence: NoteSequence, program: int) -> NoteSequence:
    """A copy of `sequence` whose pitched (non-drum) notes play General MIDI `program`."""
    if not 0 <= program <= 127:
        raise ValueError(f'program must be a General MIDI program 0..127, got {program}')
    copy = copy_sequence(sequence)
    for note in copy.notes:
        if not note.is_drum:
            note.program = program
    return copy
