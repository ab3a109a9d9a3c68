"""ABC tune books -> NoteSequences (one per tune), TF-free, with the original Magenta's rules.

Magenta reads ABC with note_seq's own parser and its NoteSequences are the contract,
so this module reproduces that parser's subset of ABC 2.1 and its choices:

* a tune book is split into sections at blank lines; a first section without an
  `X:` line (when there are more) is a file header put before every tune;
* supported: information fields (X T C K L M Q, the others ignored), inline fields
  `[K:...]`, notes with accidentals, octave marks and lengths, broken rhythm `>`/`<`
  (within a line), bar lines and `|:`/`:|`/`::` repeats (as section annotations and
  groups), "quoted" annotations (chord symbols when they start with a note letter),
  decorations `.~HLMOPSTuv`, slurs, ties;
* a tune with chords `[CEG]`, tuplets, variant endings, parts (P:), voices (V:), rests
  or any other character is rejected (TuneError) and skipped; velocity is always 90;
* some malformed fields (`X:` that is not a number, an unknown key such as Cb, a bad
  note length) make the whole book fail (BookError), as they do in the original.

Times are seconds at the current tempo (120 qpm by default; Q: sets it), and the
unit note length is L:, else 1/16 for meters below 3/4 and 1/8 otherwise.
"""
from __future__ import annotations

import fractions
import re

from absl import logging

from magenta_rnn.music import constants
from magenta_rnn.protobuf import music_pb2

Fraction = fractions.Fraction
_NoteSequence = music_pb2.NoteSequence
_KeySignature = _NoteSequence.KeySignature

_DEFAULT_VELOCITY = 90  # the original's mezzo-forte; its !dynamics! never parse
_LETTER_PITCHES = {letter: pitch for letter, pitch in zip('CDEFGABcdefgab', (
        60, 62, 64, 65, 67, 69, 71, 72, 74, 76, 77, 79, 81, 83))}
# Keys by number of sharps (negative: flats), in the order major, minor, Mix, Dor, Phr,
# Lyd, Loc.
_KEYS_BY_SIGNATURE = {
        7: 'C# A#m G#Mix D#Dor E#Phr F#Lyd B#Loc', 6: 'F# D#m C#Mix G#Dor A#Phr BLyd E#Loc',
        5: 'B G#m F#Mix C#Dor D#Phr ELyd A#Loc', 4: 'E C#m BMix F#Dor G#Phr ALyd D#Loc',
        3: 'A F#m EMix BDor C#Phr DLyd G#Loc', 2: 'D Bm AMix EDor F#Phr GLyd C#Loc',
        1: 'G Em DMix ADor BPhr CLyd F#Loc', 0: 'C Am GMix DDor EPhr FLyd BLoc',
        -1: 'F Dm CMix GDor APhr BbLyd ELoc', -2: 'Bb Gm FMix CDor DPhr EbLyd ALoc',
        -3: 'Eb Cm BbMix FDor GPhr AbLyd DLoc', -4: 'Ab Fm EbMix BbDor CPhr DbLyd GLoc',
        -5: 'Db Bbm AbMix EbDor FPhr GbLyd CLoc', -6: 'Gb Ebm DbMix AbDor BbPhr CbLyd FLoc',
        -7: 'Cb Abm GbMix DbDor EbPhr FbLyd BbLoc'}
_KEY_SIGNATURES = {key.lower(): signature for signature, keys in _KEYS_BY_SIGNATURE.items()
                   for key in keys.split()}
# Tonic -> NoteSequence key; tonics missing here (Cb, Fb, E#, B#) fail the book.
_TONIC_KEYS = {'c': 0, 'c#': 1, 'db': 1, 'd': 2, 'd#': 3, 'eb': 3, 'e': 4, 'f': 5, 'f#': 6,
               'gb': 6, 'g': 7, 'g#': 8, 'ab': 8, 'a': 9, 'a#': 10, 'bb': 10, 'b': 11}
_MODES = {'': _KeySignature.MAJOR, 'm': _KeySignature.MINOR,
          'mix': _KeySignature.MIXOLYDIAN, 'dor': _KeySignature.DORIAN,
          'phr': _KeySignature.PHRYGIAN, 'lyd': _KeySignature.LYDIAN,
          'loc': _KeySignature.LOCRIAN}

_FIELD = re.compile(r'([A-Za-z]):\s*(.*)')
_NOTE = re.compile(r'(__|_|=|\^|\^\^)?([A-Ga-g])([\',]*)(\d*/*\d*)')
_KEY = re.compile(r'([A-G])\s*([#b]?)\s*((?:(?:maj|ion|min|aeo|mix|dor|phr|lyd|loc|m)[^ ]*)?)',
                  re.IGNORECASE)
_KEY_ACCIDENTAL = re.compile(r'(__|_|=|\^|\^\^)?([A-Ga-g])')
_TEMPO = re.compile(r'(?:"[^"]*")?\s*((?:\d+/\d+\s*)+)\s*=\s*(\d+)')
_TEMPO_NUMBER_ONLY = re.compile(r'C?\s*=?\s*(\d+)$')
_TEMPO_TEXT_ONLY = re.compile(r'"([^"]*)"$')
# Music code tokens, tried in this order at each position.
_TOKENS = [(name, re.compile(pattern)) for name, pattern in (
        ('note', _NOTE.pattern),
        ('chord', r'\[(' + _NOTE.pattern + r')+\]'),
        ('broken_rhythm', r'(<+|>+)'),
        ('inline_field', r'\[([A-Za-z]):\s*([^\]]+)\]'),
        ('variant_ending', r'(:*)[\[\]|]+\s*([0-9,-]+)'),
        ('bar', r'(:*)([\[\]|]+)(:*)'),
        ('repeat', r'(:+)'),
        ('annotation', r'"([^"]*)"'),
        ('decoration', r'[.~HLMOPSTuv]'),
        ('slur', r'\((?!\d)|\)'),
        ('tie', r'-'),
        ('tuplet', r'\(\d'),
        ('line_continuation', r'\\$'))]


class TuneError(Exception):
    """A tune uses something the original's ABC parser does not support; it is skipped."""


class BookError(Exception):
    """The whole tune book is rejected (as the original rejects it)."""


def _accidentals_of(signature: int) -> dict[str, int]:
    accidentals = dict.fromkeys('ABCDEFG', 0)
    for letter in 'FCGDAEB'[:max(signature, 0)]:
        accidentals[letter] = 1
    for letter in 'BEADGCF'[:max(-signature, 0)]:
        accidentals[letter] = -1
    return accidentals


def _parse_key(text: str) -> tuple[dict[str, int], int, int]:
    """(accidentals per letter, NoteSequence key, mode) of a K: field."""
    match = _KEY.match(text)
    if not match:
        raise TuneError(f'Could not parse key: {text}')
    tonic = match.group(1) + match.group(2)
    mode = match.group(3)[:3].lower()
    mode = {'min': 'm', 'aeo': 'm', 'maj': '', 'ion': ''}.get(mode, mode)
    try:
        signature = _KEY_SIGNATURES[(tonic + mode).lower()]
        key = _TONIC_KEYS[tonic.lower()]
    except KeyError as error:
        raise BookError(f'Unknown key: {text}') from error
    if mode not in _MODES:
        raise TuneError(f'Unknown mode: {mode}')
    position = match.end()
    explicit = text[position:].find('exp')
    if explicit != -1:
        # "exp": only the accidentals listed after it.
        accidentals = _accidentals_of(0)
        position += explicit + 3
    else:
        accidentals = _accidentals_of(signature)
    while position < len(text):
        accidental = _KEY_ACCIDENTAL.match(text, position)
        if not accidental:
            position += 1
            continue
        position += len(accidental.group(0))
        sign = accidental.group(1)
        if sign:
            if sign not in ('^', '_', '='):
                raise TuneError(f'Invalid accidental: {sign}')
            accidentals[accidental.group(2).upper()] = {'^': 1, '_': -1, '=': 0}[sign]
    return accidentals, key, _MODES[mode]


def _int(text: str) -> int:
    """int(), where a failure rejects the book as in the original."""
    try:
        return int(text)
    except ValueError as error:
        raise BookError(str(error)) from error


class _Tune:
    """Reads one tune's lines into a NoteSequence."""

    def __init__(self, lines: list[str]):
        self.sequence = _NoteSequence(ticks_per_quarter=constants.STANDARD_PPQ)
        self.sequence.source_info.source_type = _NoteSequence.SourceInfo.SCORE_BASED
        self.sequence.source_info.encoding_type = _NoteSequence.SourceInfo.ABC
        self.sequence.source_info.parser = _NoteSequence.SourceInfo.MAGENTA_ABC
        self.time: float = 0
        self.accidentals = _accidentals_of(0)
        self.bar_accidentals: dict[str, int] = {}
        self.unit_length: Fraction | None = None
        self.expected_repeats: int | None = None
        self.in_header = True
        self.header_tempo: tuple[Fraction | None, int] | None = None
        for line in lines:
            line = re.sub('%.*$', '', line).strip()
            if not line:
                continue
            field = _FIELD.match(line)
            if field:
                self._field(field.group(1), field.group(2))
                continue
            if self.in_header:
                self._end_header()
            self._music(line)
        if self.in_header:
            self._end_header()
        if self.expected_repeats:
            raise TuneError('Expected a repeat at the end of the file, but did not get one.')
        self._close_sections()
        if self.sequence.notes:
            self.sequence.total_time = self.sequence.notes[-1].end_time

    @property
    def qpm(self) -> float:
        tempos = self.sequence.tempos
        return tempos[-1].qpm if tempos else constants.DEFAULT_QUARTERS_PER_MINUTE

    def _end_header(self) -> None:
        self.in_header = False
        if not self.unit_length:
            signatures = self.sequence.time_signatures
            if len(signatures) > 1:
                raise TuneError('Multiple time signatures set in header.')
            short_meter = bool(signatures) and (
                    signatures[0].numerator / signatures[0].denominator < 0.75)
            self.unit_length = Fraction(1, 16) if short_meter else Fraction(1, 8)
        if self.header_tempo and self.header_tempo[1]:
            self._add_tempo(*self.header_tempo)

    def _add_tempo(self, unit: Fraction | None, rate: int) -> None:
        unit = self.unit_length if unit is None else unit
        assert unit is not None  # tempos are added after the header, which sets the unit
        self.sequence.tempos.add(time=self.time, qpm=float(unit / Fraction(1, 4) * rate))

    def _field(self, name: str, content: str) -> None:
        sequence = self.sequence
        if name == 'C':
            sequence.sequence_metadata.composers.append(content)
            if not sequence.sequence_metadata.artist:
                sequence.sequence_metadata.artist = content
        elif name == 'K':
            self.accidentals, key, mode = _parse_key(content)
            sequence.key_signatures.add(key=key, mode=mode, time=self.time)
        elif name == 'L':
            parts = content.split('/', 1) + ['1']
            try:
                self.unit_length = Fraction(int(parts[0]), int(parts[1]))
            except ValueError as error:
                raise TuneError(f'Could not parse unit note length: {content}') from error
        elif name == 'M':
            self._meter(content)
        elif name == 'P':
            raise TuneError('ABC parts are not yet supported.')
        elif name == 'Q':
            self._tempo_field(content)
        elif name == 'T':
            if not self.in_header:
                logging.debug('Ignoring non-header title: %s', content)
            elif sequence.sequence_metadata.title:
                sequence.sequence_metadata.title += '; ' + content
            else:
                sequence.sequence_metadata.title = content
        elif name == 'V':
            raise TuneError('Multi-voice files are not currently supported.')
        elif name == 'X':
            sequence.reference_number = _int(content)
        elif name not in 'ABDFGHImNORrSsUWwZ':
            logging.debug('Unknown field name %s with content %s', name, content)

    def _meter(self, content: str) -> None:
        if content.upper() in ('C', 'C|'):
            beats = 4 if content.upper() == 'C' else 2
            self.sequence.time_signatures.add(numerator=beats, denominator=beats, time=self.time)
            return
        if content.lower() == 'none':
            return
        parts = content.split('/', 1)
        if len(parts) != 2:
            raise TuneError(f'Could not parse meter: {content}')
        try:
            numerator, denominator = int(parts[0]), int(parts[1])
        except ValueError as error:
            raise TuneError(f'Could not parse meter: {content}') from error
        self.sequence.time_signatures.add(numerator=numerator, denominator=denominator,
                                          time=self.time)

    def _tempo_field(self, content: str) -> None:
        full = _TEMPO.match(content)
        number_only = _TEMPO_NUMBER_ONLY.match(content)
        if full:
            rate = int(full.group(2))
            unit = sum((Fraction(beat) for beat in full.group(1).split()), Fraction(0))
        elif number_only:
            unit, rate = None, int(number_only.group(1))
        elif _TEMPO_TEXT_ONLY.match(content):
            return  # a tempo word only ("Allegro"): no number to use
        else:
            raise TuneError(f'Could not parse tempo: {content}')
        if self.in_header:
            self.header_tempo = (unit, rate)
        else:
            self._add_tempo(unit, rate)

    def _add_section(self, time: float) -> int | None:
        """A section starting at `time` (and one at 0 before the first): its id, or None
        when the last section already starts there."""
        sections = self.sequence.section_annotations
        if not sections and time > 0:
            sections.add(time=0, section_id=0)
        if sections and sections[-1].time == time:
            return None
        section_id = sections[-1].section_id + 1 if sections else 0
        sections.add(time=time, section_id=section_id)
        return section_id

    def _repeat_previous_section(self, times: int) -> None:
        group = self.sequence.section_groups.add(num_times=times)
        group.sections.add(section_id=self.sequence.section_annotations[-2].section_id)

    def _close_sections(self) -> None:
        sequence = self.sequence
        sections = sequence.section_annotations
        # The notes[-1] lookup fails the book when sections exist without notes, as it
        # does in the original.
        if sections and not sequence.notes:
            raise BookError('a tune with sections but no notes')
        if sections and sections[-1].time == sequence.notes[-1].end_time:
            del sections[-1]
        if (sections and sequence.section_groups
                and sequence.section_groups[-1].sections[0].section_id
                != sections[-1].section_id):
            group = sequence.section_groups.add(num_times=1)
            group.sections.add(section_id=sections[-1].section_id)

    def _note(self, match: re.Match) -> None:
        accidental, letter, octaves, length_text = match.groups()
        pitch = _LETTER_PITCHES[letter]
        name = letter.upper()
        if accidental:
            if accidental not in ('^', '_', '='):
                raise TuneError(f'Invalid accidental: {accidental}')
            change = {'^': 1, '_': -1, '=': 0}[accidental]
            pitch += change
            self.bar_accidentals[name] = change
        else:
            pitch += self.bar_accidentals.get(name, self.accidentals[name])
        pitch += 12 * octaves.count("'") - 12 * octaves.count(',')
        if not constants.MIN_MIDI_PITCH <= pitch <= constants.MAX_MIDI_PITCH:
            raise TuneError(f'pitch {pitch} is invalid')
        length = self.unit_length
        assert length is not None  # notes come after the header, which sets the unit
        if length_text:
            slashes = length_text.count('/')
            try:
                if slashes == len(length_text):
                    length /= 2 ** slashes
                elif length_text.startswith('/'):
                    length /= int(length_text[1:])
                elif slashes == 1:
                    numerator, denominator = length_text.split('/', 1)
                    length *= Fraction(int(numerator), int(denominator or 2))
                elif slashes == 0:
                    length *= int(length_text)
                else:
                    raise TuneError(f'Could not parse note length: {length_text}')
            except (ValueError, ZeroDivisionError) as error:
                raise BookError(f'note length {length_text}: {error}') from error
        start = self.time
        qpm = self.qpm
        if qpm == 0:
            raise BookError('a tempo of 0')
        self.time += (1 / (qpm / 60)) * (length / Fraction(1, 4))
        self.sequence.notes.add(pitch=pitch, velocity=_DEFAULT_VELOCITY, start_time=start,
                                end_time=self.time)

    def _broken_rhythm(self, symbols: str) -> None:
        """Lengthens one of the last two notes by half (>>: 3/4...) and shortens the other."""
        notes = self.sequence.notes
        if len(notes) < 2:
            raise TuneError('Cannot apply a broken rhythm with fewer than 2 notes')
        first, second = notes[-2], notes[-1]
        length = first.end_time - first.start_time
        if length != second.end_time - second.start_time:
            raise TuneError('Cannot apply broken rhythm to two notes of different lengths')
        shift = length / (2 ** len(symbols))
        if symbols[0] == '<':
            shift = -shift
        first.end_time += shift
        second.start_time += shift

    def _bar(self, match: re.Match, kind: str) -> None:
        backward: int | None
        forward: int | None
        if kind == 'repeat':
            colons = len(match.group(1))
            if colons % 2:
                raise TuneError(f'Colon-only repeats must be divisible by 2: {match.group(1)}')
            backward = forward = int(colons / 2 + 1)
        else:
            self.bar_accidentals.clear()
            before, bars, after = match.groups()
            if ':' not in before and not after:
                # A plain double bar (||, |], [|) ends a section outside repeats.
                if len(bars) >= 2 and not self.expected_repeats and self.time > 0:
                    if self._add_section(self.time) is not None:
                        self._repeat_previous_section(1)
                return
            backward = len(before) + 1 if before else None
            forward = len(after) + 1 if after else None
        if self.expected_repeats and backward != self.expected_repeats:
            raise TuneError('Mismatched forward/backward repeat symbols. '
                            f'Expected {self.expected_repeats} but got {backward}.')
        new_section = self._add_section(self.time)
        if backward:
            if self.time == 0:
                raise TuneError('Cannot have a backward repeat at time 0')
            self._repeat_previous_section(backward)
        elif self.time > 0 and new_section is not None:
            self._repeat_previous_section(1)
        self.expected_repeats = forward

    def _music(self, line: str) -> None:
        position = 0
        broken_rhythm = None  # waits for the next note, within this line only
        while position < len(line):
            for kind, pattern in _TOKENS:  # noqa: B007 (kind is read after the break)
                match = pattern.match(line, position)
                if match:
                    break
            else:
                if not line[position].isspace():
                    raise TuneError(f'Unexpected character: [{line[position]}]')
                position += 1
                continue
            position = match.end()
            if kind == 'note':
                self._note(match)
                if broken_rhythm:
                    self._broken_rhythm(broken_rhythm)
                    broken_rhythm = None
            elif kind == 'chord':
                raise TuneError('Chords are not supported.')
            elif kind == 'broken_rhythm':
                if broken_rhythm:
                    raise TuneError('Cannot specify a broken rhythm twice in a row.')
                broken_rhythm = match.group(1)
            elif kind == 'inline_field':
                self._field(match.group(1), match.group(2))
            elif kind == 'variant_ending':
                raise TuneError(f'Variant ending {match.group(0)} is not supported.')
            elif kind in ('bar', 'repeat'):
                self._bar(match, kind)
            elif kind == 'annotation':
                text = match.group(1)
                self.sequence.text_annotations.add(
                        time=self.time, text=text,
                        annotation_type=(_NoteSequence.TextAnnotation.CHORD_SYMBOL
                                         if text and text[0] in _LETTER_PITCHES
                                         else _NoteSequence.TextAnnotation.UNKNOWN))
            elif kind == 'tuplet':
                raise TuneError('Tuplets are not supported.')
            # Decorations, slurs, ties and line continuations change nothing.


def split_tune_book(text: str) -> list[list[str]]:
    """The tunes' lines (each with the book's header first, when it has one)."""
    sections, current = [], []
    for line in text.splitlines():
        line = line.strip()
        if line:
            current.append(line)
        elif current:
            sections.append(current)
            current = []
    if current:
        sections.append(current)
    header = []
    if len(sections) > 1 and not any(line.startswith('X:') for line in sections[0]):
        header = sections.pop(0)
    return [header + section for section in sections]


def parse_tune_book(text: str
                    ) -> tuple[dict[int, music_pb2.NoteSequence], list[tuple[int, TuneError]]]:
    """({reference number X: -> NoteSequence}, [(position in the book from 1, error)] of
    the tunes that were skipped).

    Raises BookError when the whole book is rejected, including for a reference number
    used by two readable tunes.
    """
    tunes: dict[int, music_pb2.NoteSequence] = {}
    errors: list[tuple[int, TuneError]] = []
    for position, lines in enumerate(split_tune_book(text), start=1):
        try:
            sequence = _Tune(lines).sequence
        except TuneError as error:
            errors.append((position, error))
            continue
        if sequence.reference_number in tunes:
            raise BookError(f'ABC Reference number {sequence.reference_number} appears more '
                            'than once in this tunebook')
        tunes[sequence.reference_number] = sequence
    return tunes, errors


def decode_abc(data: bytes) -> str:
    """ABC files are UTF-8 or, in older tune books, Latin-1."""
    try:
        return data.decode('utf-8')
    except UnicodeDecodeError:
        return data.decode('latin-1')
