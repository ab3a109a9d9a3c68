"""MusicXML (.xml, .mxl) -> NoteSequence, TF-free, with the original Magenta's semantics.

Magenta converts MusicXML with note_seq's own reader, and its NoteSequences are the
contract: no general score library (music21, partitura) times notes, ties, grace
notes, pickups and chord symbols the way it does, so this module reads the XML with
the standard library and reproduces its rules, quirks included:

* one shared state (divisions, tempo, velocity, time signature, previous note) runs
  through all parts in order; each part restarts the clock at 0 and takes its MIDI
  channel (-> note.instrument) and program from its <score-part>;
* time is seconds: a duration d lasts d * (220 / divisions) / 220 * seconds_per_quarter;
  <backup>/<forward> move the clock; a <chord/> note starts and lasts as the previous
  note; a note without <duration> (a grace note) gets start 0, length 0 and ratio 0;
* pitch = 12 + (step + int(alter)) % 12 + 12 * octave (+ <transpose><chromatic>), so
  Cb4 reads as B4 as in the original;
* <key> modes are always major; a <transpose> in the measure of a key moves the key;
* time signatures are re-derived per measure from voice 1's durations (pickups and
  incomplete measures get their own), de-duplicated by (numerator, denominator, time);
* tempos come from the first part's <sound tempo=...> only (120 qpm, or the last tempo
  any part set, when it has none); a <sound> with a tempo may also set the velocity;
* chord symbols (<harmony>) become CHORD_SYMBOL text annotations ("C#m7(b9)/E").

Anything the original rejects raises MusicXMLConversionError here. Where the original
crashes on a malformed file (a missing or empty element, a count of 0 it divides by),
the error says what is missing and where: "<backup> in measure 3 of part P1 has no
<duration>"; what the original tolerates (no <alter>, an empty <kind>) keeps its default.
"""
from __future__ import annotations

import dataclasses
import fractions
import io
import os
import xml.etree.ElementTree as ET
import zipfile

from magenta_rnn.music import constants
from magenta_rnn.protobuf import music_pb2

Fraction = fractions.Fraction

_PPQ = constants.STANDARD_PPQ
_MUSICXML_MEDIA_TYPE = 'application/vnd.recordare.musicxml+xml'
_ZIP_UTF8_NAME_FLAG = 0x800
_STEP_PITCH_CLASSES = {'C': 0, 'D': 2, 'E': 4, 'F': 5, 'G': 7, 'A': 9, 'B': 11}
# NoteSequence key (0 = C .. 11 = B) of a key signature with k fifths, at index k + 7.
_FIFTHS_TO_KEY = [11, 6, 1, 8, 3, 10, 5, 0, 7, 2, 9, 4, 11, 6, 1]
_NOTE_TYPE_FRACTIONS = {
        'maxima': Fraction(8), 'long': Fraction(4), 'breve': Fraction(2), 'whole': Fraction(1),
        'half': Fraction(1, 2), 'quarter': Fraction(1, 4), 'eighth': Fraction(1, 8),
        '16th': Fraction(1, 16), '32nd': Fraction(1, 32), '64th': Fraction(1, 64),
        '128th': Fraction(1, 128), '256th': Fraction(1, 256), '512th': Fraction(1, 512),
        '1024th': Fraction(1, 1024)}
# <kind> text (MusicXML names and the short forms some editors write) -> figure suffix.
_CHORD_KIND_SUFFIXES = {
        'major': '', 'minor': 'm', 'augmented': 'aug', 'diminished': 'dim', 'dominant': '7',
        'major-seventh': 'maj7', 'minor-seventh': 'm7', 'diminished-seventh': 'dim7',
        'augmented-seventh': 'aug7', 'half-diminished': 'm7b5', 'major-minor': 'm(maj7)',
        'major-sixth': '6', 'minor-sixth': 'm6', 'dominant-ninth': '9', 'major-ninth': 'maj9',
        'minor-ninth': 'm9', 'dominant-11th': '11', 'major-11th': 'maj11', 'minor-11th': 'm11',
        'dominant-13th': '13', 'major-13th': 'maj13', 'minor-13th': 'm13',
        'suspended-second': 'sus2', 'suspended-fourth': 'sus', 'pedal': 'ped', 'power': '5',
        'none': constants.NO_CHORD, 'dominant-seventh': '7', 'augmented-ninth': 'aug9',
        'minor-major': 'm(maj7)', '': '', 'min': 'm', 'aug': 'aug', 'dim': 'dim', '7': '7',
        'maj7': 'maj7', 'min7': 'm7', 'dim7': 'dim7', 'm7b5': 'm7b5', 'minMaj7': 'm(maj7)',
        '6': '6', 'min6': 'm6', 'maj69': '6(add9)', '9': '9', 'maj9': 'maj9', 'min9': 'm9',
        'sus47': 'sus7'}
_CHORD_ALTERS = {-2: 'bb', -1: 'b', 0: '', 1: '#', 2: '##'}

_NoteSequence = music_pb2.NoteSequence


class MusicXMLConversionError(Exception):
    """The MusicXML file cannot be read or holds something the original rejects."""


@dataclasses.dataclass
class _TimeSignature:
    numerator: int
    denominator: int
    time: float = 0


@dataclasses.dataclass
class _Timing:
    """A note's duration in divisions, its onset and length in seconds."""
    divisions: int = 0
    start: float = 0
    seconds: float = 0
    has_duration: bool = False


@dataclasses.dataclass
class _Harmony:
    time: float
    figure: str


@dataclasses.dataclass
class _State:
    """What carries from note to note, measure to measure and part to part."""
    divisions: int = 1
    qpm: float = 120
    seconds_per_quarter: float = 0.5
    clock: float = 0
    velocity: int = 64
    program: int = 0
    channel: int = 0
    transpose: int = 0
    previous_timing: _Timing | None = None
    time_signature: _TimeSignature | None = None
    where: str = ''  # 'measure 3 of part P1', for errors

    def owner(self, element: ET.Element) -> str:
        """'<note> in measure 3 of part P1': names an element in an error."""
        return f'<{element.tag}> in {self.where}'

    def seconds(self, divisions: int) -> float:
        return divisions * (_PPQ / self.divisions) / _PPQ * self.seconds_per_quarter


@dataclasses.dataclass
class _Measure:
    notes: list = dataclasses.field(default_factory=list)  # (note fields dict)
    harmonies: list[_Harmony] = dataclasses.field(default_factory=list)
    tempos: list[tuple[float, float]] = dataclasses.field(default_factory=list)
    time_signature: _TimeSignature | None = None
    key: list | None = None  # [fifths, time]: a transpose later in the measure moves it
    voice_one_divisions: int = 0


def _text(element: ET.Element | None, tag: str, owner: str) -> str:
    """The text of `element`, `owner`'s child <tag>: an error where it is missing or empty
    (where the original fails on None)."""
    if element is None:
        raise MusicXMLConversionError(f'{owner} has no <{tag}>')
    if element.text is None:
        raise MusicXMLConversionError(f'{owner} has an empty <{tag}>')
    return element.text


def _whole_number(text: str, what: str) -> int:
    try:
        return int(text)
    except ValueError as error:
        raise MusicXMLConversionError(f'{what} is not a whole number: {text!r}') from error


def _number(text: str, what: str) -> float:
    try:
        return float(text)
    except ValueError as error:
        raise MusicXMLConversionError(f'{what} is not a number: {text!r}') from error


def _element_int(element: ET.Element | None, tag: str, owner: str) -> int:
    """The whole number in `owner`'s child element <tag>."""
    return _whole_number(_text(element, tag, owner), f'<{tag}> of {owner}')


def _parse_xml(data: bytes) -> ET.Element:
    try:
        return ET.fromstring(data)
    except ET.ParseError as error:
        raise MusicXMLConversionError(str(error)) from error
    except (LookupError, ValueError) as error:  # an encoding the parser cannot read
        raise MusicXMLConversionError(
                f'the XML declaration names an encoding that cannot be read ({error})') from error


def _read_root(data: bytes, compressed: bool) -> ET.Element:
    """The score element of MusicXML, or of the main score inside a .mxl archive."""
    if not compressed:
        return _parse_xml(data)
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as error:
        raise MusicXMLConversionError(str(error)) from error
    entries = archive.infolist()
    for entry in entries:
        if not entry.flag_bits & _ZIP_UTF8_NAME_FLAG:
            # zipfile decoded the name as cp437; writers meant UTF-8.
            entry.filename = entry.filename.encode('437').decode('utf-8', 'replace')
    main_name = ''
    containers = [entry for entry in entries if entry.filename == 'META-INF/container.xml']
    if containers:
        container = _parse_xml(archive.read(containers[0]))
        for rootfile in container.findall('./rootfiles/rootfile'):
            media_type = rootfile.attrib.get('media-type', _MUSICXML_MEDIA_TYPE)
            if media_type != _MUSICXML_MEDIA_TYPE:
                continue
            if main_name:
                raise MusicXMLConversionError(
                        'Multiple MusicXML files found in compressed archive')
            if 'full-path' not in rootfile.attrib:
                raise MusicXMLConversionError(
                        '<rootfile> in META-INF/container.xml has no full-path')
            main_name = rootfile.attrib['full-path']
    if not main_name:
        raise MusicXMLConversionError('Unable to locate main .xml file in compressed archive.')
    matches = [entry for entry in entries if entry.filename == main_name]
    if not matches:
        raise MusicXMLConversionError(f'Score file {main_name} not found in zip archive')
    return _parse_xml(archive.read(matches[0]))


def _read_time(element: ET.Element, state: _State) -> _TimeSignature:
    if len(element.findall('beats')) > 1 or len(element.findall('beat-type')) > 1:
        raise MusicXMLConversionError('Alternating Time Signature')
    owner = state.owner(element)
    beats = _text(element.find('beats'), 'beats', owner)
    beat_type = _text(element.find('beat-type'), 'beat-type', owner)
    try:
        signature = _TimeSignature(int(beats), int(beat_type), state.clock)
    except ValueError as error:
        raise MusicXMLConversionError(
                f'Could not parse time signature: {beats}/{beat_type}') from error
    if signature.denominator == 0:  # the original divides by it at the end of the measure
        raise MusicXMLConversionError(f'<beat-type> of {owner} is 0')
    return signature


def _read_attributes(element: ET.Element, measure: _Measure, state: _State) -> None:
    owner = state.owner(element)
    for child in element:
        if child.tag == 'divisions':
            state.divisions = _element_int(child, 'divisions', owner)
            if state.divisions == 0:  # the original divides by it
                raise MusicXMLConversionError(f'<divisions> of {owner} is 0')
        elif child.tag == 'key':
            fifths = child.find('fifths')
            if fifths is None:
                raise MusicXMLConversionError('Could not find fifths attribute in key signature.')
            measure.key = [_element_int(fifths, 'fifths', state.owner(child)), state.clock]
        elif child.tag == 'time':
            if measure.time_signature is not None:
                raise MusicXMLConversionError('Multiple time signatures')
            measure.time_signature = state.time_signature = _read_time(child, state)
        elif child.tag == 'transpose':
            state.transpose = _element_int(child.find('chromatic'), 'chromatic',
                                           state.owner(child))
            if measure.key is not None:
                moved = measure.key[0] + (state.transpose * -5) % 12
                # The original folds keys above 6 with a negative modulus, into -5..0.
                measure.key[0] = moved % -6 if moved > 6 else moved


def _read_sound(element: ET.Element, measure: _Measure, state: _State) -> None:
    for child in element:
        tempo = child.get('tempo')
        if child.tag == 'sound' and tempo is not None:
            qpm = _number(tempo, f'tempo of {state.owner(child)}')
            if qpm == 0:
                qpm = constants.DEFAULT_QUARTERS_PER_MINUTE
            measure.tempos.append((state.clock, qpm))
            state.qpm = qpm
            state.seconds_per_quarter = 60 / qpm
            dynamics = child.get('dynamics')
            if dynamics is not None:
                state.velocity = _whole_number(dynamics, f'dynamics of {state.owner(child)}')


def _midi_pitch(pitch: ET.Element, state: _State) -> int:
    owner = state.owner(pitch)
    step = _text(pitch.find('step'), 'step', owner)
    alter_element = pitch.find('alter')
    alter = 0.0
    if alter_element is not None and alter_element.text:  # an empty <alter> is 0, as in the original
        alter = _number(alter_element.text, f'<alter> of {owner}')
    octave = _text(pitch.find('octave'), 'octave', owner)
    if step not in _STEP_PITCH_CLASSES:
        raise MusicXMLConversionError(f'Unable to parse pitch step {step}')
    pitch_class = (_STEP_PITCH_CLASSES[step] + int(alter)) % 12
    return 12 + pitch_class + _whole_number(octave, f'<octave> of {owner}') * 12 + state.transpose


def _read_note(element: ET.Element, measure: _Measure, state: _State) -> None:
    owner = state.owner(element)
    timing = _Timing()
    in_chord = is_rest = False
    voice, dots, note_type, tuplet, pitch = 1, 0, 'quarter', Fraction(1), None
    for child in element:
        tag = child.tag
        if tag == 'chord':
            in_chord = True
        elif tag == 'duration':
            timing.divisions = _element_int(child, 'duration', owner)
            timing.has_duration = True
            previous = state.previous_timing
            if in_chord:
                if previous is None:
                    raise MusicXMLConversionError(
                            f'{owner} is a <chord/> note with no note before it')
                timing.divisions = previous.divisions
                timing.seconds = state.seconds(timing.divisions)
                timing.start = previous.start
            else:
                timing.seconds = state.seconds(timing.divisions)
                timing.start = state.clock
                state.clock += timing.seconds
        elif tag == 'pitch':
            pitch = _midi_pitch(child, state)
        elif tag == 'rest':
            is_rest = True
        elif tag == 'voice':
            voice = _element_int(child, 'voice', owner)
        elif tag == 'dot':
            dots += 1
        elif tag == 'type':
            note_type = _text(child, 'type', owner)
            if note_type not in _NOTE_TYPE_FRACTIONS:
                raise MusicXMLConversionError(f'Note duration type "{note_type}" is not valid')
        elif tag == 'time-modification':
            actual, normal = (_element_int(child.find(tag), tag, state.owner(child))
                              for tag in ('actual-notes', 'normal-notes'))
            if normal == 0:
                raise MusicXMLConversionError(f'<normal-notes> of {state.owner(child)} is 0')
            tuplet = Fraction(actual, normal)
        elif tag == 'unpitched':
            raise MusicXMLConversionError('Unpitched notes are not supported')
    state.previous_timing = timing
    if voice == 1 and not in_chord:
        measure.voice_one_divisions += timing.divisions
    if is_rest:
        return
    if pitch is None:
        raise MusicXMLConversionError(f'{owner} has no <pitch>, <rest> or <unpitched>')
    if tuplet == 0:  # the original divides the written value by it, for every pitched note
        raise MusicXMLConversionError(f'{owner} has <actual-notes> 0 in its <time-modification>')
    ratio = Fraction(0)
    if timing.has_duration:
        # The written value: type / tuplet, plus half of it per dot, a quarter for the next...
        base = _NOTE_TYPE_FRACTIONS[note_type] / tuplet
        ratio = base + sum((Fraction(1, 2) ** (dot + 1) * base for dot in range(dots)), Fraction(0))
    start = max(timing.start, 0)
    measure.notes.append(dict(
            voice=voice, instrument=state.channel, program=state.program, start_time=start,
            end_time=start + timing.seconds, pitch=pitch, velocity=state.velocity,
            numerator=ratio.numerator, denominator=ratio.denominator))


def _chord_alter(text: str) -> str:
    try:
        semitones = int(text)
    except ValueError as error:
        raise MusicXMLConversionError(f'Non-integer alter: {text}') from error
    if semitones not in _CHORD_ALTERS:
        raise MusicXMLConversionError(f'Invalid alter: {semitones}')
    return _CHORD_ALTERS[semitones]


def _harmony_pitch(element: ET.Element, prefix: str, state: _State) -> str:
    step = element.find(f'{prefix}-step')
    if step is None:
        raise MusicXMLConversionError('Missing pitch step')
    owner = state.owner(element)
    name = _text(step, f'{prefix}-step', owner)
    alter = element.find(f'{prefix}-alter')
    if alter is not None:
        name += _chord_alter(_text(alter, f'{prefix}-alter', owner))
    if state.transpose:
        raise MusicXMLConversionError('Transposition of chord symbols currently unsupported')
    return name


def _harmony_degree(element: ET.Element, state: _State) -> str:
    value_element = element.find('degree-value')
    if value_element is None:
        raise MusicXMLConversionError('Missing scale degree value in harmony')
    if value_element.text is None:
        raise MusicXMLConversionError('Missing scale degree')
    try:
        value = int(value_element.text)
    except ValueError as error:
        raise MusicXMLConversionError(
                f'Non-integer scale degree: {value_element.text}') from error
    alter_element = element.find('degree-alter')
    alter = ''
    if alter_element is not None:
        alter = _chord_alter(_text(alter_element, 'degree-alter', state.owner(element)))
    type_element = element.find('degree-type')
    if type_element is None:
        raise MusicXMLConversionError('Missing degree modification type')
    if type_element.text == 'add':
        prefix = '' if alter else 'add'
    elif type_element.text == 'subtract':
        prefix, alter = 'no', ''
    elif type_element.text == 'alter':
        if not alter:
            raise MusicXMLConversionError('Degree alteration by zero semitones')
        prefix = ''
    else:
        raise MusicXMLConversionError(f'Invalid degree modification type: {type_element.text}')
    return f'{prefix}{alter}{value}'


def _read_harmony(element: ET.Element, state: _State) -> _Harmony:
    time = state.clock
    root = bass = None
    kind, degrees = '', []
    for child in element:
        if child.tag == 'root':
            root = _harmony_pitch(child, 'root', state)
        elif child.tag == 'kind':
            if child.text is None:
                continue
            kind_text = child.text.strip()
            if kind_text not in _CHORD_KIND_SUFFIXES:
                raise MusicXMLConversionError(f'Unknown chord kind: {kind_text}')
            kind = _CHORD_KIND_SUFFIXES[kind_text]
        elif child.tag == 'degree':
            degrees.append(_harmony_degree(child, state))
        elif child.tag == 'bass':
            bass = _harmony_pitch(child, 'bass', state)
        elif child.tag == 'offset':
            text = _text(child, 'offset', state.owner(element))
            try:
                offset = int(text)
            except ValueError as error:
                raise MusicXMLConversionError(f'Non-integer offset: {child.text}') from error
            time += offset * _PPQ / state.divisions / _PPQ * state.seconds_per_quarter
    if kind == constants.NO_CHORD:
        return _Harmony(time, kind)
    if root is None:
        raise MusicXMLConversionError('Chord symbol must have a root')
    figure = root + kind + ''.join(f'({degree})' for degree in degrees)
    return _Harmony(time, figure + (f'/{bass}' if bass else ''))


def _settle_time_signature(measure: _Measure, start: float, state: _State) -> None:
    """Gives a pickup or a measure whose length differs from the meter its own signature."""
    length = Fraction(measure.voice_one_divisions, state.divisions * 4)
    if state.time_signature is None and measure.time_signature is None:
        measure.time_signature = state.time_signature = _TimeSignature(
                length.numerator, length.denominator, 0)
        return
    current = state.time_signature
    assert current is not None  # a measure's own signature is always the state's too
    meter = Fraction(current.numerator, current.denominator)
    # The original compares the measure's length in divisions with the meter's numerator.
    pickup = measure.voice_one_divisions < current.numerator
    if length == 1 and not pickup:
        derived = _TimeSignature(current.denominator, current.denominator)
    else:
        derived = _TimeSignature(length.numerator, length.denominator)
    if pickup or (measure.time_signature is None and length != meter):
        derived.time = start
        measure.time_signature = state.time_signature = derived


def _fill_empty_measure(measure: ET.Element, state: _State) -> None:
    """A measure holding only one <forward> becomes a whole-measure rest (at its end)."""
    forwards = measure.findall('forward')
    if not measure.findall('note') and len(forwards) == 1:
        duration = _element_int(forwards[0].find('duration'), 'duration',
                                state.owner(forwards[0]))
        measure.remove(forwards[0])
        measure.append(ET.fromstring(
                f'<note><rest /><duration>{duration}</duration><voice>1</voice>'
                '<type>whole</type><staff>1</staff></note>'))


def _read_measure(element: ET.Element, state: _State) -> _Measure:
    measure = _Measure()
    start = state.clock
    for child in element:
        if child.tag == 'attributes':
            _read_attributes(child, measure, state)
        elif child.tag in ('backup', 'forward'):
            seconds = state.seconds(_element_int(child.find('duration'), 'duration',
                                                 state.owner(child)))
            state.clock += seconds if child.tag == 'forward' else -seconds
        elif child.tag == 'direction':
            _read_sound(child, measure, state)
        elif child.tag == 'note':
            _read_note(child, measure, state)
        elif child.tag == 'harmony':
            measure.harmonies.append(_read_harmony(child, state))
    # The original looks the key up in a list: -8 fifths wraps, 8 fails (a transpose may
    # still have moved it, so it is checked once the measure is read).
    if measure.key is not None and not -len(_FIFTHS_TO_KEY) <= measure.key[0] + 7 < len(
            _FIFTHS_TO_KEY):
        raise MusicXMLConversionError(f'<key> in {state.where} has {measure.key[0]} fifths, '
                                      'out of range')
    _settle_time_signature(measure, start, state)
    return measure


def _score_parts(root: ET.Element) -> dict[str, tuple[str, int, int]]:
    """<score-part> id -> (name, MIDI channel, MIDI program)."""
    parts: dict[str, tuple[str, int, int]] = {}
    part_list = root.find('part-list')
    elements = part_list.findall('score-part') if part_list is not None else []
    for number, element in enumerate(elements, 1):
        part_id = element.get('id')
        if part_id is None:
            raise MusicXMLConversionError(f'<score-part> number {number} has no id')
        name_element = element.find('part-name')
        name = (name_element.text or '') if name_element is not None else ''
        channel = program = 0
        instrument = element.find('midi-instrument')
        if instrument is not None:
            channel_element = instrument.find('midi-channel')
            program_element = instrument.find('midi-program')
            if channel_element is not None and program_element is not None:
                owner = f'<midi-instrument> of part {part_id}'
                channel = _element_int(channel_element, 'midi-channel', owner)
                program = _element_int(program_element, 'midi-program', owner)
        parts[part_id] = (name, channel, program)
    return parts


def musicxml_root_to_note_sequence(root: ET.Element) -> music_pb2.NoteSequence:
    """Converts a parsed MusicXML score (score-partwise root element) to a NoteSequence."""
    score_parts = _score_parts(root)
    state = _State()
    parts = []  # (name, measures)
    total_time = 0
    for part_number, part in enumerate(root.findall('part'), 1):
        part_id = part.get('id', '')
        name, state.channel, state.program = score_parts.get(part_id, ('', 0, 0))
        state.clock = 0
        state.transpose = 0
        measures = []
        for measure_number, measure_element in enumerate(part.findall('measure'), 1):
            # The numbers a score editor shows, else positions.
            state.where = (f'measure {measure_element.get("number", measure_number)} '
                           f'of part {part_id or part_number}')
            _fill_empty_measure(measure_element, state)
            measures.append(_read_measure(measure_element, state))
        parts.append((name, measures))
        total_time = max(total_time, state.clock)

    sequence = _NoteSequence()
    sequence.source_info.source_type = _NoteSequence.SourceInfo.SCORE_BASED
    sequence.source_info.encoding_type = _NoteSequence.SourceInfo.MUSIC_XML
    sequence.source_info.parser = _NoteSequence.SourceInfo.MAGENTA_MUSIC_XML
    sequence.ticks_per_quarter = _PPQ

    all_measures = [measure for _, measures in parts for measure in measures]
    time_signatures = []
    for measure in all_measures:
        signature = measure.time_signature
        if signature is not None and signature not in time_signatures:
            time_signatures.append(signature)
    for signature in time_signatures:
        sequence.time_signatures.add(time=signature.time, numerator=signature.numerator,
                                     denominator=signature.denominator)

    keys = []
    for measure in all_measures:
        if measure.key is not None and tuple(measure.key) not in keys:
            keys.append(tuple(measure.key))
    for fifths, time in keys or [(0, 0)]:
        sequence.key_signatures.add(time=time, key=_FIFTHS_TO_KEY[fifths + 7])

    tempos = [tempo for measure in (parts[0][1] if parts else []) for tempo in measure.tempos]
    for time, qpm in tempos or [(0, state.qpm)]:
        sequence.tempos.add(time=time, qpm=qpm)

    sequence.total_time = total_time
    for part_index, (name, measures) in enumerate(parts):
        sequence.part_infos.add(part=part_index, name=name)
        for measure in measures:
            for note in measure.notes:
                sequence.notes.add(part=part_index, **note)
    for measure in all_measures:
        for harmony in measure.harmonies:
            sequence.text_annotations.add(
                    time=harmony.time, text=harmony.figure,
                    annotation_type=_NoteSequence.TextAnnotation.CHORD_SYMBOL)
    return sequence


def musicxml_to_note_sequence(data: bytes, compressed: bool) -> music_pb2.NoteSequence:
    """Converts the contents of a MusicXML file (a .mxl archive when `compressed`)."""
    return musicxml_root_to_note_sequence(_read_root(data, compressed))


def is_compressed_musicxml(path: str | os.PathLike) -> bool:
    """Like the original, only a lower-case '.mxl' ending marks a compressed file (an
    '.MXL' file is read as XML and fails)."""
    return os.fspath(path).endswith('.mxl')


def musicxml_file_to_note_sequence(path: str | os.PathLike) -> music_pb2.NoteSequence:
    """Reads a .xml or .mxl MusicXML file (raises MusicXMLConversionError)."""
    with open(path, 'rb') as f:
        data = f.read()
    return musicxml_to_note_sequence(data, is_compressed_musicxml(path))
