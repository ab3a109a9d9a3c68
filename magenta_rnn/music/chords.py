"""Chord symbols for conditioning: parsing, the triad one-hot encoding, chords per
step of a quantized NoteSequence, and chord inference from notes. TF-free.

Chords live on a NoteSequence as CHORD_SYMBOL text annotations ('C', 'Am', 'Bb7/F',
'N.C.'). Where a sequence has none, `infer_chords_for_sequence` adds them: a Viterbi
pass over (key, chord) pairs per frame, scoring each frame's pitch-class profile
against 97 chord templates (no chord, or 12 roots x 8 kinds); the rules and numbers
are the original's (note_seq chord_inference), so inferred chords match it.
"""
from __future__ import annotations

import bisect
import itertools
import math
import re
from collections.abc import Sequence

import numpy as np

from magenta_rnn.music import constants
from magenta_rnn.music import sequences as sequences_lib
from magenta_rnn.music.encoders import OneHotEncoding
from magenta_rnn.protobuf.music_pb2 import NoteSequence

NO_CHORD = constants.NO_CHORD
CHORD_SYMBOL = NoteSequence.TextAnnotation.CHORD_SYMBOL
PITCH_CLASS_NAMES = ('C', 'C#', 'D', 'Eb', 'E', 'F', 'F#', 'G', 'Ab', 'A', 'Bb', 'B')
# Percussive and sound-effect programs: their pitches say nothing about harmony.
UNPITCHED_PROGRAMS = frozenset([*range(96, 104), *range(112, 128)])

ChordSymbolError = sequences_lib.ChordSymbolError


class ChordEncodingError(ValueError):
    pass


class ChordInferenceError(ValueError):
    pass


class CoincidentChordsError(ValueError):
    """Two different chords start on the same step."""


# ------------------------------------------------------------------------------------
# Chord symbols

# The grammar of a figure (root, kind, degree modifications, bass), and transposition,
# which changes only the root and bass spelling.
_CHORD_KIND_ABBREVIATIONS = (
    '', 'maj', 'M', 'm', 'min', '-', '+', 'aug', 'o', 'dim', '7', 'maj7', 'M7',
    'm7', 'min7', '-7', 'o7', 'dim7', '+7', 'aug7', 'm7b5', '-7b5', '/o', '/o7',
    'mmaj7', 'mM7', 'minmaj7', 'minM7', '-maj7', '-M7', 'm(maj7)', 'm(M7)',
    'min(maj7)', 'min(M7)', '-(maj7)', '-(M7)', '6', 'm6', 'min6', '-6', '9',
    'maj9', 'M9', 'm9', 'min9', '-9', '+9', 'aug9', '6/9', '11', 'maj11', 'M11',
    'm11', 'min11', '-11', '13', 'maj13', 'M13', 'm13', 'min13', '-13', 'sus2',
    'sus', 'sus4', 'sus7', '7sus', 'ped', '5')
_DEGREE_MODIFIERS = ('add', 'add#', 'addb', 'no', '#', 'b')
_PITCH_CLASS = r'[A-G](?:#*|b*)(?![#b])'
_CHORD_SYMBOL_RE = re.compile(
    '({root})({kind})({mods})(|/{root})$'.format(
        root=_PITCH_CLASS,
        kind='|'.join(re.escape(k) for k in _CHORD_KIND_ABBREVIATIONS),
        mods=r'(?:\(?(?:%s)[0-9]+\)?)*' % '|'.join(re.escape(m) for m in _DEGREE_MODIFIERS)))
_SEMITONES_TO_NEXT_LETTER = {'A': 2, 'B': 1, 'C': 2, 'D': 2, 'E': 1, 'F': 2, 'G': 2}


def _next_letter(letter: str) -> str:
    return 'ABCDEFG'[('ABCDEFG'.index(letter) + 1) % 7]


def _transpose_pitch_class(name: str, amount: int) -> str:
    """Transposes a spelled pitch class ('C', 'Bb', 'F##') keeping a sensible spelling."""
    letter, accidentals = name[0], name[1:]
    alter = len(accidentals) * (1 if accidentals.startswith('#') else -1)
    amount %= 12
    while amount >= _SEMITONES_TO_NEXT_LETTER[letter]:
        amount -= _SEMITONES_TO_NEXT_LETTER[letter]
        letter = _next_letter(letter)
    if amount > 0:
        if alter >= 0:
            alter -= _SEMITONES_TO_NEXT_LETTER[letter] - amount
            letter = _next_letter(letter)
        else:
            alter += amount
    return letter + abs(alter) * ('#' if alter >= 0 else 'b')


def transpose_chord_symbol(figure: str, amount: int) -> str:
    """Transposes the root and bass of a chord symbol such as 'Bbm7/F'."""
    match = _CHORD_SYMBOL_RE.match(figure)
    if not match:
        raise ChordSymbolError(f'Unable to parse chord symbol: {figure}')
    root, kind, modifications, bass = match.groups()
    if bass:
        bass = '/' + _transpose_pitch_class(bass[1:], amount)
    return _transpose_pitch_class(root, amount) + kind + modifications + bass


_LETTER_PITCHES = {'C': 0, 'D': 2, 'E': 4, 'F': 5, 'G': 7, 'A': 9, 'B': 11}
_SEMITONES = {'1': 0, '2': 2, '3': 4, '4': 5, '5': 7, '6': 9, '7': 11}
# Scale degrees of each chord kind abbreviation, as {degree: alteration}.
_KIND_DEGREES_TEXT = (
    (('', 'maj', 'M'), '1 3 5'), (('m', 'min', '-'), '1 b3 5'), (('+', 'aug'), '1 3 #5'),
    (('o', 'dim'), '1 b3 b5'), (('7',), '1 3 5 b7'), (('maj7', 'M7'), '1 3 5 7'),
    (('m7', 'min7', '-7'), '1 b3 5 b7'), (('o7', 'dim7'), '1 b3 b5 bb7'),
    (('+7', 'aug7'), '1 3 #5 b7'), (('m7b5', '-7b5', '/o', '/o7'), '1 b3 b5 b7'),
    (('mmaj7', 'mM7', 'minmaj7', 'minM7', '-maj7', '-M7', 'm(maj7)', 'm(M7)', 'min(maj7)',
      'min(M7)', '-(maj7)', '-(M7)'), '1 b3 5 7'),
    (('6',), '1 3 5 6'), (('m6', 'min6', '-6'), '1 b3 5 6'), (('9',), '1 3 5 b7 9'),
    (('maj9', 'M9'), '1 3 5 7 9'), (('m9', 'min9', '-9'), '1 b3 5 b7 9'),
    (('+9', 'aug9'), '1 3 #5 b7 9'), (('6/9',), '1 3 5 6 9'), (('11',), '1 3 5 b7 9 11'),
    (('maj11', 'M11'), '1 3 5 7 9 11'), (('m11', 'min11', '-11'), '1 b3 5 b7 9 11'),
    (('13',), '1 3 5 b7 9 11 13'), (('maj13', 'M13'), '1 3 5 7 9 11 13'),
    (('m13', 'min13', '-13'), '1 b3 5 b7 9 11 13'), (('sus2',), '1 2 5'),
    (('sus', 'sus4'), '1 4 5'), (('sus7', '7sus'), '1 4 5 b7'), (('ped',), '1'),
    (('5',), '1 5'))


def _degree(text: str) -> tuple[int, int]:
    digits = text.lstrip('#b')
    accidentals = text[:len(text) - len(digits)]
    return int(digits), len(accidentals) * (1 if accidentals.startswith('#') else -1)


_KIND_DEGREES = {abbrev: dict(_degree(d) for d in degrees.split())
                 for abbrevs, degrees in _KIND_DEGREES_TEXT for abbrev in abbrevs}
_MODIFICATION = re.compile(r'\(?(add#|addb|add|no|#|b)([0-9]+)\)?')

QUALITY_MAJOR, QUALITY_MINOR, QUALITY_AUGMENTED, QUALITY_DIMINISHED, QUALITY_OTHER = range(5)
_TRIAD_QUALITIES = {(0, 0, 0): QUALITY_MAJOR, (0, -1, 0): QUALITY_MINOR,
                    (0, 0, 1): QUALITY_AUGMENTED, (0, -1, -1): QUALITY_DIMINISHED}


def _pitch_class(text: str) -> int:
    alter = len(text) - 1
    return (_LETTER_PITCHES[text[0]] + (alter if '#' in text else -alter)) % 12


def parse_chord_symbol(figure: str) -> tuple[int, dict[int, int], int]:
    """(root pitch class, {scale degree: alteration}, bass pitch class) of a figure
    such as 'Bbm7b5/E'; ChordSymbolError when it is not a chord symbol."""
    match = _CHORD_SYMBOL_RE.match(figure)
    if not match:
        raise ChordSymbolError(f'Unable to parse chord symbol: {figure}')
    root, kind, modifications, bass = match.groups()
    degrees = dict(_KIND_DEGREES[kind])
    while modifications:
        mod = _MODIFICATION.match(modifications)
        # The figure matched _CHORD_SYMBOL_RE, whose modifications are a run of these.
        assert mod is not None
        kind_of_change, degree = mod.group(1), int(mod.group(2))
        if kind_of_change.startswith('add'):
            if degree in degrees:
                raise ChordSymbolError(f'Scale degree already in chord: {degree} ({figure})')
            alter = {'add': 0, 'add#': 1, 'addb': -1}[kind_of_change]
            degrees[degree] = alter - 1 if degree == 7 else alter
        elif kind_of_change == 'no':
            if degree not in degrees:
                raise ChordSymbolError(f'Scale degree not in chord: {degree} ({figure})')
            del degrees[degree]
        else:
            degrees[degree] = degrees.get(degree, 0) + (1 if kind_of_change == '#' else -1)
        modifications = modifications[mod.end():]
    root_class = _pitch_class(root)
    return root_class, degrees, _pitch_class(bass[1:]) if bass else root_class


def chord_symbol_root(figure: str) -> int:
    return parse_chord_symbol(figure)[0]


def chord_symbol_quality(figure: str) -> int:
    """QUALITY_MAJOR/MINOR/AUGMENTED/DIMINISHED from the chord's 1, 3 and 5, else OTHER."""
    _, degrees, _ = parse_chord_symbol(figure)
    if not all(d in degrees for d in (1, 3, 5)):
        return QUALITY_OTHER
    return _TRIAD_QUALITIES.get((degrees[1], degrees[3], degrees[5]), QUALITY_OTHER)


class TriadChordOneHotEncoding(OneHotEncoding):
    """0 = no chord; 1-12 major, 13-24 minor, 25-36 augmented, 37-48 diminished triads
    by root (C, C#, ...). 49 classes; other chords (sus, power) do not encode."""

    _SUFFIXES = ('', 'm', 'aug', 'dim')

    @property
    def num_classes(self) -> int:
        return 4 * 12 + 1

    @property
    def default_event(self) -> str:
        return NO_CHORD

    def encode_event(self, event: str) -> int:
        if event == NO_CHORD:
            return 0
        root = chord_symbol_root(event)
        quality = chord_symbol_quality(event)
        if quality == QUALITY_OTHER:
            raise ChordEncodingError(f'chord is not a standard triad: {event}')
        return 1 + 12 * quality + root

    def decode_event(self, index: int) -> str:
        if index == 0:
            return NO_CHORD
        quality, root = divmod(index - 1, 12)
        return PITCH_CLASS_NAMES[root] + self._SUFFIXES[quality]


CHORD_ENCODINGS = {'triad': TriadChordOneHotEncoding}


def chord_encoding(name: str | None) -> OneHotEncoding | None:
    """The chord encoding a config names ("triad"), or None."""
    if name is None:
        return None
    if name not in CHORD_ENCODINGS:
        raise ValueError(f'data_converter: unknown chord_encoding {name!r} '
                         f'(known: {", ".join(CHORD_ENCODINGS)})')
    return CHORD_ENCODINGS[name]()


# ------------------------------------------------------------------------------------
# Chords per step

def has_chords(sequence: NoteSequence) -> bool:
    return any(ta.annotation_type == CHORD_SYMBOL for ta in sequence.text_annotations)


def chords_per_step(quantized_sequence: NoteSequence, num_steps: int) -> list[str]:
    """The chord sounding at each step 0..num_steps-1 (NO_CHORD before the first);
    CoincidentChordsError when two different chords start on one step."""
    annotations = sorted((ta for ta in quantized_sequence.text_annotations
                          if ta.annotation_type == CHORD_SYMBOL),
                         key=lambda ta: ta.quantized_step)
    starts: list[int] = []
    figures: list[str] = []
    for ta in annotations:
        step = int(ta.quantized_step)
        if step >= num_steps:
            break
        if starts and starts[-1] == step:
            if figures[-1] != ta.text:
                raise CoincidentChordsError(f'chords {figures[-1]} and {ta.text} are '
                                            f'coincident')
            continue
        starts.append(step)
        figures.append(ta.text)
    result = []
    for step in range(num_steps):
        index = bisect.bisect_right(starts, step) - 1
        result.append(figures[index] if index >= 0 else NO_CHORD)
    return result


def event_list_chords(quantized_sequence: NoteSequence, event_lists: Sequence
                      ) -> list[list[str]]:
    """For each event sequence (with .steps), the chord at each of its steps; steps past
    the sequence's end keep its last chord."""
    total = int(quantized_sequence.total_quantized_steps)
    per_step = chords_per_step(quantized_sequence, total) if total > 0 else []
    pad = per_step[-1] if per_step else NO_CHORD
    return [[per_step[step] if step < total else pad for step in events.steps]
            for events in event_lists]


def add_chord_annotations(ns: NoteSequence, chords: Sequence[str], seconds_per_step: float
                          ) -> None:
    """Chord annotations on `ns` where a per-step chord list changes."""
    previous = None
    for step, figure in enumerate(chords):
        if figure != previous:
            ns.text_annotations.add(time=step * seconds_per_step, text=figure,
                                    annotation_type=CHORD_SYMBOL)
            previous = figure


def parse_chord_progression(text: str) -> list[str]:
    """'C G Am F' -> ['C', 'G', 'Am', 'F'] (also comma-separated); each must encode as a
    triad or be N.C.; ValueError names the bad one."""
    figures = [f for f in text.replace(',', ' ').split() if f]
    if not figures:
        raise ValueError('--chords: give at least one chord, e.g. --chords="C G Am F"')
    encoding = TriadChordOneHotEncoding()
    for figure in figures:
        try:
            encoding.encode_event(figure)
        except (ChordSymbolError, ChordEncodingError) as e:
            raise ValueError(f'--chords: {figure!r} is not a major, minor, augmented or '
                             f'diminished triad or N.C. ({e})') from None
    return figures


# ------------------------------------------------------------------------------------
# Chord inference

_KEY_PITCHES = (0, 2, 4, 5, 7, 9, 11)
_INFERENCE_KINDS = {'': (0, 4, 7), 'm': (0, 3, 7), '+': (0, 4, 8), 'dim': (0, 3, 6),
                    '7': (0, 4, 7, 10), 'maj7': (0, 4, 7, 11), 'm7': (0, 3, 7, 10),
                    'm7b5': (0, 3, 6, 10)}
# (root pitch class, kind) of every inferable chord; _CHORDS puts N.C. first.
_ROOTED_CHORDS: list[tuple[int, str]] = list(itertools.product(range(12), _INFERENCE_KINDS))
_CHORDS: list[str | tuple[int, str]] = [NO_CHORD, *_ROOTED_CHORDS]
_MAX_NUM_CHORDS = 1000
_CHORDS_PER_BAR = {(2, 2): 1, (2, 4): 1, (3, 4): 1, (4, 4): 2, (6, 8): 2}


def _key_chord_distribution(out_of_key_prob: float) -> np.ndarray:
    """[12 keys, 97 chords]: P(chord | key), favouring chords of in-key pitches."""
    in_key = np.zeros([12, len(_CHORDS)], np.int32)
    out_of_key = np.zeros([12, len(_CHORDS)], np.int32)
    for key in range(12):
        key_pitches = {(key + offset) % 12 for offset in _KEY_PITCHES}
        for i, (root, kind) in enumerate(_ROOTED_CHORDS, start=1):
            pitches = {(root + offset) % 12 for offset in _INFERENCE_KINDS[kind]}
            in_key[key, i] = len(pitches & key_pitches)
            out_of_key[key, i] = len(pitches - key_pitches)
    mat = (1 - out_of_key_prob) ** in_key * out_of_key_prob ** out_of_key
    mat /= mat.sum(axis=1)[:, np.newaxis]
    return mat


def _transition_distribution(key_chord: np.ndarray, key_change_prob: float,
                             chord_change_prob: float) -> np.ndarray:
    """[1164, 1164] transitions between (key, chord) states, key-major."""
    num_chords = len(_CHORDS)
    keys = np.repeat(np.arange(12), num_chords)
    chords = np.tile(np.arange(num_chords), 12)
    same_key = keys[:, None] == keys[None, :]
    same_chord = chords[:, None] == chords[None, :]
    to_chord = key_chord[keys[None, :], chords[None, :]]
    # The second term reads the new key's weight of the *old* chord, as the original does.
    from_chord_in_new_key = key_chord[keys[None, :], chords[:, None]]
    changed = (1 - key_change_prob) * (
        chord_change_prob * (to_chord + from_chord_in_new_key / (num_chords - 1)))
    return np.where(same_key, np.where(same_chord, (1 - key_change_prob)
                                       * (1 - chord_change_prob), changed),
                    key_change_prob / 11 * to_chord)


def _chord_pitch_vectors() -> np.ndarray:
    x = np.zeros([len(_CHORDS), 12])
    for i, (root, kind) in enumerate(_ROOTED_CHORDS, start=1):
        for offset in _INFERENCE_KINDS[kind]:
            x[i, (root + offset) % 12] = 1
    x[1:, :] /= np.linalg.norm(x[1:, :], axis=1)[:, np.newaxis]
    return x


def note_pitch_vectors(sequence: NoteSequence, frame_boundaries: Sequence[float] | np.ndarray,
                       num_frames: int) -> np.ndarray:
    """[num_frames, 12] unit pitch-class profiles: each pitched note's duration per frame."""
    x = np.zeros([num_frames, 12])
    for note in sequence.notes:
        if note.is_drum or note.program in UNPITCHED_PROGRAMS:
            continue
        start_frame = bisect.bisect_right(frame_boundaries, note.start_time)
        end_frame = bisect.bisect_left(frame_boundaries, note.end_time)
        pitch_class = note.pitch % 12
        if start_frame >= end_frame:
            x[start_frame, pitch_class] += note.end_time - note.start_time
        else:
            x[start_frame, pitch_class] += frame_boundaries[start_frame] - note.start_time
            for frame in range(start_frame + 1, end_frame):
                x[frame, pitch_class] += frame_boundaries[frame] - frame_boundaries[frame - 1]
            x[end_frame, pitch_class] += note.end_time - frame_boundaries[end_frame - 1]
    norms = np.linalg.norm(x, axis=1)
    nonzero = norms > 0
    x[nonzero, :] /= norms[nonzero, np.newaxis]
    return x


def _viterbi(frame_loglik: np.ndarray, key_chord_loglik: np.ndarray,
             transition_loglik: np.ndarray) -> list[tuple[int, str | tuple[int, str]]]:
    num_frames, num_chords = frame_loglik.shape
    num_states = len(transition_loglik)
    keys = np.repeat(np.arange(12), num_chords)
    chords = np.tile(np.arange(num_chords), 12)
    loglik = np.zeros([num_frames, num_states])
    path = np.zeros([num_frames, num_states], np.int32)
    loglik[0] = -np.log(12) + key_chord_loglik[keys, chords] + frame_loglik[0, chords]
    for frame in range(1, num_frames):
        mat = loglik[frame - 1][:, np.newaxis] + transition_loglik
        path[frame] = mat.argmax(axis=0)
        loglik[frame] = (mat[path[frame], np.arange(num_states)]
                         + np.tile(frame_loglik[frame], 12))
    states = [int(np.argmax(loglik[-1]))]
    for frame in range(num_frames, 1, -1):
        states.append(int(path[frame - 1, states[-1]]))
    return [(s // num_chords, _CHORDS[s % num_chords]) for s in states[::-1]]


_TABLES: dict = {}


def _tables(key_change_prob, chord_change_prob, out_of_key_prob):
    """Log distributions, computed once per parameter set (1164 x 1164 transitions)."""
    params = (key_change_prob, chord_change_prob, out_of_key_prob)
    if params not in _TABLES:
        key_chord = _key_chord_distribution(out_of_key_prob)
        transitions = _transition_distribution(key_chord, key_change_prob, chord_change_prob)
        _TABLES[params] = (np.log(key_chord), np.log(transitions))
    return _TABLES[params]


def infer_chords_for_sequence(sequence: NoteSequence, chords_per_bar: int | None = None,
                              key_change_prob: float = 0.001, chord_change_prob: float = 0.5,
                              chord_pitch_out_of_key_prob: float = 0.01,
                              chord_note_concentration: float = 100.0) -> None:
    """Adds inferred CHORD_SYMBOL annotations to a metrically quantized `sequence`, in
    place: `chords_per_bar` chords per bar (by default 1 in 2/2, 2/4 and 3/4, 2 in 4/4
    and 6/8); an annotation wherever the chord changes. ChordInferenceError when the
    sequence already has chords, has an uncommon meter, or is empty or too long."""
    if has_chords(sequence):
        raise ChordInferenceError('NoteSequence already has chords')
    sequences_lib.assert_is_relative_quantized_sequence(sequence)
    if chords_per_bar is None:
        signature = ((sequence.time_signatures[0].numerator,
                      sequence.time_signatures[0].denominator)
                     if sequence.time_signatures else (4, 4))
        if signature not in _CHORDS_PER_BAR:
            raise ChordInferenceError(f'No default chords per bar for time signature: '
                                      f'{signature}')
        chords_per_bar = _CHORDS_PER_BAR[signature]
    steps_per_chord_float = (sequences_lib.steps_per_bar_in_quantized_sequence(sequence)
                             / chords_per_bar)
    if steps_per_chord_float != round(steps_per_chord_float):
        raise ChordInferenceError(f'Non-integer number of steps per chord: '
                                  f'{steps_per_chord_float}')
    steps_per_chord = int(steps_per_chord_float)
    qpm = sequence.tempos[0].qpm if sequence.tempos else constants.DEFAULT_QUARTERS_PER_MINUTE
    steps_per_second = sequences_lib.steps_per_quarter_to_steps_per_second(
        sequence.quantization_info.steps_per_quarter, qpm)
    seconds_per_chord = steps_per_chord / steps_per_second
    num_chords = int(math.ceil(sequence.total_time / seconds_per_chord))
    if num_chords == 0:
        raise ChordInferenceError('NoteSequence is empty.')
    if num_chords > _MAX_NUM_CHORDS:
        raise ChordInferenceError(f'NoteSequence too long for chord inference: '
                                  f'{num_chords} frames')

    boundaries = seconds_per_chord * np.arange(1, num_chords)
    frame_loglik = chord_note_concentration * np.dot(
        note_pitch_vectors(sequence, boundaries, num_chords), _chord_pitch_vectors().T)
    key_chord_loglik, transition_loglik = _tables(key_change_prob, chord_change_prob,
                                                  chord_pitch_out_of_key_prob)
    current = None
    for frame, (_, chord) in enumerate(_viterbi(frame_loglik, key_chord_loglik,
                                                transition_loglik)):
        # N.C. is the only chord that is not a (root, kind) pair.
        figure = chord if isinstance(chord, str) else PITCH_CLASS_NAMES[chord[0]] + chord[1]
        if figure != current:
            ta = sequence.text_annotations.add()
            ta.time = frame * seconds_per_chord
            ta.quantized_step = frame * steps_per_chord
            ta.text = figure
            ta.annotation_type = CHORD_SYMBOL
            current = figure
