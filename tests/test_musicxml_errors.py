"""Malformed MusicXML: note_seq's real test scores with one element removed, emptied or
changed. Where the original crashes (AttributeError, TypeError, a division by zero), the
reader raises one clear MusicXMLConversionError naming the element and where it is;
what the original tolerates keeps its default; convert_dir_to_note_sequences skips the
file with that reason."""
from __future__ import annotations

import io
import os
import shutil
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path
from typing import Callable

import pytest

from magenta_rnn import convert, records
from magenta_rnn.music import musicxml_io

Edit = Callable[[ET.Element], None] | str | None


@pytest.fixture
def testdata(shared_data) -> Path:
    return shared_data / 'note_seq_testdata' / 'note_seq' / 'testdata'


def _edited(path: Path, xpath: str, edit: Edit, index: int = 0) -> bytes:
    """The score at `path` with the `index`th element at `xpath` removed (edit None),
    emptied (''), given a new text (a string) or changed by a function."""
    root = ET.parse(path).getroot()
    element = root.findall(xpath)[index]
    if edit is None:
        parent = next(p for p in root.iter() if element in list(p))
        parent.remove(element)
    elif isinstance(edit, str):
        element.text = edit or None
    else:
        edit(element)
    return ET.tostring(root)


def _read(data: bytes):
    return musicxml_io.musicxml_to_note_sequence(data, compressed=False)


def _make_chord(note: ET.Element) -> None:
    note.insert(0, ET.Element('chord'))


def _drop_id(element: ET.Element) -> None:
    del element.attrib['id']


def _add_tempo_word(measure: ET.Element) -> None:
    measure.insert(0, ET.fromstring('<direction><sound tempo="fast" /></direction>'))


_FIRST_NOTE = 'part/measure[1]/note[1]'
_TIME = 'part/measure[1]/attributes/time'

# (file, element path, edit, index, message): edits after which the original crashes.
_NO_BACKUP_DURATION = ('st_anne.xml', 'part/measure[3]/backup/duration', None, 0,
                       '<backup> in measure 3 of part P1 has no <duration>')
MALFORMED = [
        _NO_BACKUP_DURATION,
        ('flute_scale.xml', 'part/measure[2]/note[1]/duration', '', 0,
         '<note> in measure 2 of part P1 has an empty <duration>'),
        ('flute_scale.xml', 'part/measure[2]/note[1]/duration', '1/2', 0,
         "<duration> of <note> in measure 2 of part P1 is not a whole number: '1/2'"),
        ('flute_scale.xml', f'{_FIRST_NOTE}/pitch/octave', None, 0,
         '<pitch> in measure 1 of part P1 has no <octave>'),
        ('flute_scale.xml', f'{_FIRST_NOTE}/pitch/step', '', 0,
         '<pitch> in measure 1 of part P1 has an empty <step>'),
        ('flute_scale.xml', 'part/measure/note/pitch/alter', 'flat', 0,
         "<alter> of <pitch> in measure 1 of part P1 is not a number: 'flat'"),
        ('flute_scale.xml', 'part/measure[2]', _add_tempo_word, 0,
         "tempo of <sound> in measure 2 of part P1 is not a number: 'fast'"),
        ('flute_scale.xml', f'{_FIRST_NOTE}/pitch', None, 0,
         '<note> in measure 1 of part P1 has no <pitch>, <rest> or <unpitched>'),
        ('flute_scale.xml', f'{_FIRST_NOTE}/voice', '', 0,
         '<note> in measure 1 of part P1 has an empty <voice>'),
        ('flute_scale.xml', _FIRST_NOTE, _make_chord, 0,
         '<note> in measure 1 of part P1 is a <chord/> note with no note before it'),
        ('flute_scale.xml', f'{_TIME}/beats', None, 0,
         '<time> in measure 1 of part P1 has no <beats>'),
        ('flute_scale.xml', f'{_TIME}/beat-type', '0', 0,
         '<beat-type> of <time> in measure 1 of part P1 is 0'),
        ('flute_scale.xml', 'part/measure[1]/attributes/divisions', '', 0,
         '<attributes> in measure 1 of part P1 has an empty <divisions>'),
        ('flute_scale.xml', 'part/measure[1]/attributes/divisions', '0', 0,
         '<divisions> of <attributes> in measure 1 of part P1 is 0'),
        ('flute_scale.xml', 'part/measure[1]/attributes/key/fifths', '', 0,
         '<key> in measure 1 of part P1 has an empty <fifths>'),
        ('flute_scale.xml', 'part/measure[1]/attributes/key/fifths', '8', 0,
         '<key> in measure 1 of part P1 has 8 fifths, out of range'),
        ('flute_scale.xml', 'part-list/score-part', _drop_id, 0,
         '<score-part> number 1 has no id'),
        ('st_anne.xml', 'part-list/score-part/midi-instrument/midi-program', '', 1,
         '<midi-instrument> of part P2 has an empty <midi-program>'),
        # A measure holding only a <forward> is first filled with a rest.
        ('whole_measure_rest_forward.xml', 'part/measure/forward/duration', None, 0,
         '<forward> in measure 2 of part P1 has no <duration>'),
        ('rhythm_durations.xml', 'part/measure/note/time-modification/actual-notes', None, 0,
         '<time-modification> in measure 4 of part P1 has no <actual-notes>'),
        ('rhythm_durations.xml', 'part/measure/note/time-modification/normal-notes', '0', 0,
         '<normal-notes> of <time-modification> in measure 4 of part P1 is 0'),
        ('rhythm_durations.xml', 'part/measure/note/time-modification/actual-notes', '0', 0,
         '<note> in measure 4 of part P1 has <actual-notes> 0 in its <time-modification>'),
        ('clarinet_scale.xml', 'part/measure/attributes/transpose/chromatic', '', 0,
         '<transpose> in measure 1 of part P1 has an empty <chromatic>'),
        ('chord_symbols.xml', 'part/measure/harmony/root/root-step', '', 0,
         '<root> in measure 2 of part P1 has an empty <root-step>'),
        ('chord_symbols.xml', 'part/measure/harmony/root/root-alter', '', 0,
         '<root> in measure 5 of part P1 has an empty <root-alter>'),
        ('chord_symbols.xml', 'part/measure/harmony/degree/degree-alter', '', 0,
         '<degree> in measure 4 of part P1 has an empty <degree-alter>'),
        ('chord_symbols.xml', 'part/measure/harmony/offset', '', 0,
         '<harmony> in measure 10 of part P1 has an empty <offset>'),
]


@pytest.mark.parametrize('name, xpath, edit, index, message', MALFORMED,
                         ids=[case[-1][:60] for case in MALFORMED])
def test_malformed_score_is_one_clear_error(testdata, name, xpath, edit, index, message):
    with pytest.raises(musicxml_io.MusicXMLConversionError) as raised:
        _read(_edited(testdata / name, xpath, edit, index))
    assert str(raised.value) == message


def test_unedited_scores_read_as_from_the_file(testdata):
    """The edits above start from the real file: read back unedited, it is the same score."""
    for name in sorted({case[0] for case in MALFORMED}):
        path = testdata / name
        assert _read(_edited(path, '.', lambda element: None)) == (
                musicxml_io.musicxml_file_to_note_sequence(path)), name


def test_what_the_original_tolerates_keeps_its_default(testdata):
    flute = testdata / 'flute_scale.xml'
    pitches = [n.pitch for n in _read(flute.read_bytes()).notes]
    assert pitches == [65, 67, 69, 70, 72, 74, 76, 77]
    # An empty <alter> is natural: Bb4 reads as B4.
    natural = _read(_edited(flute, 'part/measure/note/pitch/alter', ''))
    assert [n.pitch for n in natural.notes] == [65, 67, 69, 71, 72, 74, 76, 77]
    # A note without <duration> is a grace note: start 0, no length, no written value.
    grace = _read(_edited(flute, 'part/measure[2]/note[1]/duration', None)).notes[4]
    assert (grace.pitch, grace.start_time, grace.end_time, grace.numerator) == (72, 0, 0, 0)
    # A <midi-instrument> without <midi-channel> gives channel 0 and program 0.
    st_anne = testdata / 'st_anne.xml'
    channel = 'part-list/score-part/midi-instrument/midi-channel'
    assert {(n.part, n.instrument, n.program) for n in _read(st_anne.read_bytes()).notes} == {
            (0, 1, 7), (1, 2, 1)}
    assert {(n.part, n.instrument, n.program) for n in _read(_edited(st_anne, channel, None)).notes
            } == {(0, 0, 0), (1, 2, 1)}
    # An empty <kind> is a major triad, an empty <part-name> no name.
    chords = testdata / 'chord_symbols.xml'
    annotations = _read(_edited(chords, 'part/measure/harmony/kind', '', 1)).text_annotations
    assert [a.text for a in annotations[:3]] == ['N.C.', 'C', 'F6(add9)']
    assert _read(_edited(chords, 'part-list/score-part/part-name', '')).part_infos[0].name == ''


def _unknown_encoding(testdata: Path) -> bytes:
    return (testdata / 'flute_scale.xml').read_bytes().replace(
            b"encoding='UTF-8'", b"encoding='UTF-4'", 1)


def _mxl_without_full_path(testdata: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, 'w') as archive:
        archive.writestr('META-INF/container.xml',
                         '<container><rootfiles><rootfile /></rootfiles></container>')
        archive.writestr('score.xml', (testdata / 'flute_scale.xml').read_bytes())
    return buffer.getvalue()


def test_unknown_encoding_in_the_declaration(testdata):
    with pytest.raises(musicxml_io.MusicXMLConversionError) as raised:
        _read(_unknown_encoding(testdata))
    assert str(raised.value) == ('the XML declaration names an encoding that cannot be read '
                                 '(unknown encoding: UTF-4)')


def test_mxl_rootfile_without_full_path(testdata):
    with pytest.raises(musicxml_io.MusicXMLConversionError) as raised:
        musicxml_io.musicxml_to_note_sequence(_mxl_without_full_path(testdata), compressed=True)
    assert str(raised.value) == '<rootfile> in META-INF/container.xml has no full-path'


def test_every_deletion_and_truncation_of_a_score_reads_or_is_a_clear_error(testdata):
    """flute_scale.xml with each element removed, each text emptied, and cut at 16 places:
    each variant reads, or fails with one line of MusicXMLConversionError."""
    path = testdata / 'flute_scale.xml'
    data = path.read_bytes()
    count = sum(1 for _ in ET.fromstring(data).iter())
    variants = [_edited(path, './/*', edit, index)
                for index in range(count - 1) for edit in (None, '')]
    variants += [data[:len(data) * cut // 16] for cut in range(16)]
    read, messages = 0, set()
    for variant in variants:
        try:
            _read(variant)
            read += 1
        except musicxml_io.MusicXMLConversionError as error:
            messages.add(str(error))
    assert read > len(variants) // 2  # most of a score is layout the reader ignores
    assert not any('\n' in message for message in messages)
    # XML parse errors end with where the file stops ("no element found: line 3, column 0").
    assert {message.split(':')[0] for message in messages} == {
            'no element found', 'unclosed token',
            'Could not find fifths attribute in key signature.',
            '<attributes> in measure 1 of part P1 has an empty <divisions>',
            '<key> in measure 1 of part P1 has an empty <fifths>',
            '<time> in measure 1 of part P1 has no <beats>',
            '<time> in measure 1 of part P1 has no <beat-type>',
            '<time> in measure 1 of part P1 has an empty <beats>',
            '<time> in measure 1 of part P1 has an empty <beat-type>',
    } | {f'<note> in measure {m} of part P1 has {what}' for m in (1, 2)
         for what in ('an empty <duration>', 'an empty <voice>', 'an empty <type>',
                      'no <pitch>, <rest> or <unpitched>')} | {
            f'<pitch> in measure {m} of part P1 has {what} <{tag}>' for m in (1, 2)
            for what in ('no', 'an empty') for tag in ('step', 'octave')}


def _malformed_file(testdata: Path, folder: Path, name: str) -> str:
    """Writes st_anne.xml without the <duration> of its third measure's <backup>."""
    folder.mkdir(parents=True, exist_ok=True)
    score, xpath, edit, index, reason = _NO_BACKUP_DURATION
    (folder / name).write_bytes(_edited(testdata / score, xpath, edit, index))
    return reason


def test_convert_skips_a_malformed_score_with_its_reason(testdata, tmp_path):
    scores = tmp_path / 'scores'
    reason = _malformed_file(testdata, scores, 'hymn.xml')
    assert reason == '<backup> in measure 3 of part P1 has no <duration>'
    shutil.copy(testdata / 'flute_scale.xml', scores / 'flute.xml')
    output = tmp_path / 'scores.tfrecord'
    summary = convert.convert_directory(str(scores), str(output), workers=1)
    assert summary.unreadable == [('hymn.xml', reason)]
    assert '  hymn.xml: <backup> in measure 3 of part P1 has no <duration>' in (
            summary.describe().splitlines())
    assert [s.filename for s in records.read_note_sequences(str(output))] == ['flute.xml']


def test_cli_only_malformed_scores_is_one_line_error_and_nothing_written(testdata, tmp_path):
    from test_convert import _run_cli
    scores = tmp_path / 'scores'
    reason = _malformed_file(testdata, scores, 'hymn.xml')
    output = tmp_path / 'out' / 'scores.tfrecord'
    result = _run_cli(f'--input_dir={scores}', f'--output_file={output}', '--log=ERROR')
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [
            f"convert.py: error: --input_dir '{scores}': no MIDI, MusicXML or ABC file could be "
            f'converted (1 unreadable files or tunes, 0 other files; use --recursive for '
            f'sub-folders); hymn.xml: {reason}; nothing written']
    assert os.listdir(tmp_path) == ['scores']
    assert os.listdir(scores) == ['hymn.xml']


@pytest.mark.slow
def test_the_original_rejects_each_malformed_score_and_reads_the_tolerated_ones(
        peer, testdata, tmp_path):
    """scripts/compare_scores_with_peer.py on the malformed scores above (both readers
    reject each) and on the edits the original tolerates (byte-identical NoteSequences)."""
    import subprocess
    import sys
    for number, (name, xpath, edit, index, _) in enumerate(MALFORMED):
        (tmp_path / f'bad{number:02d}_{name}').write_bytes(
                _edited(testdata / name, xpath, edit, index))
    (tmp_path / 'bad_encoding.xml').write_bytes(_unknown_encoding(testdata))
    (tmp_path / 'bad_container.mxl').write_bytes(_mxl_without_full_path(testdata))
    tolerated = [('flute_scale.xml', 'part/measure/note/pitch/alter', '', 0),
                 ('flute_scale.xml', 'part/measure[2]/note[1]/duration', None, 0),
                 ('st_anne.xml', 'part-list/score-part/midi-instrument/midi-channel', None, 0),
                 ('chord_symbols.xml', 'part/measure/harmony/kind', '', 1),
                 ('chord_symbols.xml', 'part-list/score-part/part-name', '', 0)]
    for number, (name, xpath, edit, index) in enumerate(tolerated):
        (tmp_path / f'ok{number}_{name}').write_bytes(_edited(testdata / name, xpath, edit, index))
    result = subprocess.run(
            [sys.executable, str(peer.REPO_ROOT / 'scripts' / 'compare_scores_with_peer.py'),
             str(tmp_path)], env=peer.our_env(), capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f'"musicxml skipped": {len(MALFORMED) + 2}' in result.stdout
    assert f'"musicxml equal": {len(tolerated)}' in result.stdout
    assert result.stdout.strip().endswith('PARITY OK')
