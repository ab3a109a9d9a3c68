"""MusicXML and ABC readers: the original's NoteSequences (checked against note_seq with
scripts/compare_scores_with_peer.py), on note_seq's own test files and small scores."""
from __future__ import annotations

import io
import zipfile

import pytest

from magenta_rnn.music import abc_io, musicxml_io
from magenta_rnn.protobuf import music_pb2

_NoteSequence = music_pb2.NoteSequence


@pytest.fixture
def testdata(shared_data):
    return shared_data / 'note_seq_testdata' / 'note_seq' / 'testdata'


def _notes(sequence) -> list[tuple]:
    return [(n.pitch, n.start_time, n.end_time, n.numerator, n.denominator, n.voice, n.part)
            for n in sequence.notes]


def test_flute_scale_mxl_and_xml_read_the_same(testdata):
    compressed = musicxml_io.musicxml_file_to_note_sequence(testdata / 'flute_scale.mxl')
    plain = musicxml_io.musicxml_file_to_note_sequence(testdata / 'flute_scale.xml')
    assert compressed == plain
    assert [(n.pitch, n.start_time, n.end_time) for n in plain.notes] == [
            (65, 0.0, 0.5), (67, 0.5, 1.0), (69, 1.0, 1.5), (70, 1.5, 2.0), (72, 2.0, 2.5),
            (74, 2.5, 3.0), (76, 3.0, 3.5), (77, 3.5, 4.0)]
    assert {(n.numerator, n.denominator, n.velocity) for n in plain.notes} == {(1, 4, 64)}
    assert [(k.key, k.mode) for k in plain.key_signatures] == [(_NoteSequence.KeySignature.F, 0)]
    assert [(t.numerator, t.denominator, t.time) for t in plain.time_signatures] == [(4, 4, 0)]
    assert [(t.time, t.qpm) for t in plain.tempos] == [(0, 120)]
    assert plain.total_time == 4.0 and plain.ticks_per_quarter == 220
    assert [(p.part, p.name) for p in plain.part_infos] == [(0, 'Flute')]
    assert plain.source_info.parser == _NoteSequence.SourceInfo.MAGENTA_MUSIC_XML


def test_transposing_clarinet_sounds_like_the_flute(testdata):
    clarinet = musicxml_io.musicxml_file_to_note_sequence(testdata / 'clarinet_scale.xml')
    assert [n.pitch for n in clarinet.notes] == [65, 67, 69, 70, 72, 74, 76, 77]
    assert [k.key for k in clarinet.key_signatures] == [_NoteSequence.KeySignature.F]


def test_chord_symbols_become_text_annotations(testdata):
    sequence = musicxml_io.musicxml_file_to_note_sequence(testdata / 'chord_symbols.xml')
    assert [(t.time, t.text) for t in sequence.text_annotations] == [
            (0.0, 'N.C.'), (2.0, 'Cmaj7'), (6.0, 'F6(add9)'), (8.0, 'F#dim7/A'),
            (10.0, 'Bm7b5'), (12.0, 'E7(#9)'), (14.0, 'A7(add9)(no3)'), (16.0, 'Bbsus2'),
            (18.0, 'Am(maj7)'), (19.0, 'D13'), (20.0, 'E5'), (22.0, 'Caug')]
    assert {t.annotation_type for t in sequence.text_annotations} == {
            _NoteSequence.TextAnnotation.CHORD_SYMBOL}


@pytest.mark.parametrize('name, message', [
        ('alternating_meter.xml', 'Alternating Time Signature'),
        ('mid_measure_time_signature.xml', 'Multiple time signatures'),
        ('unpitched.xml', 'Unpitched notes are not supported')])
def test_files_the_original_rejects(testdata, name, message):
    with pytest.raises(musicxml_io.MusicXMLConversionError, match=message):
        musicxml_io.musicxml_file_to_note_sequence(testdata / name)


def _score(measures: str, divisions: int = 2, attributes: str = '') -> bytes:
    return (f'<score-partwise><part-list><score-part id="P1"><part-name>Solo</part-name>'
            f'<midi-instrument><midi-channel>3</midi-channel><midi-program>41</midi-program>'
            f'</midi-instrument></score-part></part-list><part id="P1"><measure>'
            f'<attributes><divisions>{divisions}</divisions>{attributes}</attributes>'
            f'{measures}</measure></part></score-partwise>').encode()


def _note(step: str, octave: int, duration: int | None, extra: str = '', alter: str = '') -> str:
    duration_xml = f'<duration>{duration}</duration>' if duration is not None else ''
    return (f'<note>{extra}<pitch><step>{step}</step>{alter}<octave>{octave}</octave></pitch>'
            f'{duration_xml}<type>quarter</type></note>')


def test_chords_grace_notes_backup_and_the_flat_quirk():
    sequence = musicxml_io.musicxml_to_note_sequence(_score(
            _note('C', 4, 2) + _note('E', 4, 5, '<chord/>')  # chord: takes C's duration
            + _note('D', 4, None, '<grace/>')  # no duration: start 0, length 0, ratio 0
            + _note('C', 4, 2, alter='<alter>-1</alter>')  # Cb4 reads as pitch 71
            + '<backup><duration>4</duration></backup>' + _note('G', 3, 4)),
            compressed=False)
    assert [(n.pitch, n.start_time, n.end_time, n.numerator, n.denominator)
            for n in sequence.notes] == [
            (60, 0.0, 0.5, 1, 4), (64, 0.0, 0.5, 1, 4), (62, 0.0, 0.0, 0, 1),
            (71, 0.5, 1.0, 1, 4), (55, 0.0, 1.0, 1, 4)]
    assert {(n.instrument, n.program, n.velocity) for n in sequence.notes} == {(3, 41, 64)}
    # Voice 1 lasts 2 + 2 + 4 divisions = one 4/4 measure at 2 divisions per quarter.
    assert [(t.numerator, t.denominator) for t in sequence.time_signatures] == [(1, 1)]
    assert sequence.total_time == 1.0


def test_tempo_and_dynamics_from_sound_and_key_default():
    sequence = musicxml_io.musicxml_to_note_sequence(_score(
            '<direction><sound tempo="60" dynamics="80"/></direction>' + _note('A', 4, 2)
            + _note('B', 4, 2)), compressed=False)
    assert [(n.start_time, n.end_time, n.velocity) for n in sequence.notes] == [
            (0.0, 1.0, 80), (1.0, 2.0, 80)]
    assert [(t.time, t.qpm) for t in sequence.tempos] == [(0, 60)]
    assert [(k.time, k.key, k.mode) for k in sequence.key_signatures] == [(0, 0, 0)]


def _mxl(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, 'w') as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def test_mxl_archive_main_score_from_container():
    container = (b'<container><rootfiles><rootfile full-path="scores/main.xml" '
                 b'media-type="application/vnd.recordare.musicxml+xml"/>'
                 b'<rootfile full-path="cover.png" media-type="image/png"/>'
                 b'</rootfiles></container>')
    data = _mxl({'META-INF/container.xml': container, 'scores/main.xml': _score(_note('C', 5, 2))})
    sequence = musicxml_io.musicxml_to_note_sequence(data, compressed=True)
    assert [n.pitch for n in sequence.notes] == [72]
    with pytest.raises(musicxml_io.MusicXMLConversionError, match='Unable to locate main'):
        musicxml_io.musicxml_to_note_sequence(_mxl({'main.xml': b'<x/>'}), compressed=True)
    with pytest.raises(musicxml_io.MusicXMLConversionError, match='not a zip file'):
        musicxml_io.musicxml_to_note_sequence(b'<x/>', compressed=True)


def test_upper_case_mxl_is_read_as_xml_like_the_original(tmp_path):
    path = tmp_path / 'SCORE.MXL'
    path.write_bytes(_mxl({'a.xml': _score(_note('C', 5, 2))}))
    assert not musicxml_io.is_compressed_musicxml(path)
    with pytest.raises(musicxml_io.MusicXMLConversionError):
        musicxml_io.musicxml_file_to_note_sequence(path)


def test_english_abc_one_tune_read_two_skipped(testdata):
    tunes, errors = abc_io.parse_tune_book((testdata / 'english.abc').read_text())
    assert list(tunes) == [1]
    assert [(position, str(error)) for position, error in errors] == [
            (2, 'Variant ending |[1 is not supported.'), (3, 'ABC parts are not yet supported.')]
    tune = tunes[1]
    assert tune.sequence_metadata.title == "Dusty Miller, The; Binny's Jig"
    assert list(tune.sequence_metadata.composers) == ['Trad.']
    assert [(n.pitch, n.start_time, n.end_time) for n in tune.notes[:4]] == [
            (71, 0.0, 0.375), (72, 0.375, 0.5), (74, 0.5, 0.75), (71, 0.75, 1.0)]
    assert len(tune.notes) == 74 and tune.total_time == 18.0
    assert [(s.time, s.section_id) for s in tune.section_annotations] == [
            (0, 0), (6, 1), (12, 2)]
    assert [([s.section_id for s in g.sections], g.num_times) for g in tune.section_groups] == [
            ([0], 2), ([1], 2), ([2], 2)]
    assert [(k.key, k.mode) for k in tune.key_signatures] == [(_NoteSequence.KeySignature.G, 0)]
    assert tune.source_info.parser == _NoteSequence.SourceInfo.MAGENTA_ABC


def test_abc_book_header_lengths_accidentals_and_tempo():
    book = ('% a book header, put before each tune\nC:Someone\n\n'
            'X:1\nT:One\nM:2/4\nQ:1/4=60\nK:D\nD F/2 ^f3/2 =F | F2>F2 |\n\n'
            'X:2\nT:Two\nK:C\n[CEG]\n')
    tunes, errors = abc_io.parse_tune_book(book)
    assert [(position, str(error)) for position, error in errors] == [
            (2, 'Chords are not supported.')]
    tune = tunes[1]
    assert tune.sequence_metadata.artist == 'Someone'
    # M:2/4 -> unit 1/16 = a quarter of a beat at 60 qpm.
    assert [(n.pitch, n.start_time, n.end_time) for n in tune.notes] == [
            (62, 0.0, 0.25), (66, 0.25, 0.375), (78, 0.375, 0.75), (65, 0.75, 1.0),
            (66, 1.0, 1.75), (66, 1.75, 2.0)]
    assert [(t.time, t.qpm) for t in tune.tempos] == [(0, 60.0)]


def test_abc_failures_that_reject_the_whole_book():
    with pytest.raises(abc_io.BookError, match='appears more than once'):
        abc_io.parse_tune_book('X:1\nK:C\nCD\n\nX:1\nK:C\nEF\n')
    with pytest.raises(abc_io.BookError):
        abc_io.parse_tune_book('X:one\nK:C\nCD\n')
    with pytest.raises(abc_io.BookError, match='Unknown key'):
        abc_io.parse_tune_book('X:1\nK:Cb\nCD\n')


def test_abc_text_is_utf8_or_latin1():
    assert abc_io.decode_abc('T:Caf\u00e9'.encode('utf-8')) == 'T:Caf\u00e9'
    assert abc_io.decode_abc('T:Caf\u00e9'.encode('latin-1')) == 'T:Caf\u00e9'


@pytest.mark.slow
def test_note_seq_test_files_equal_the_originals(peer, testdata):
    """Every MusicXML/ABC test file of note_seq: byte-identical NoteSequences, or rejected
    by both."""
    import subprocess
    import sys
    result = subprocess.run(
            [sys.executable, str(peer.REPO_ROOT / 'scripts' / 'compare_scores_with_peer.py'),
             str(testdata)], env=peer.our_env(), capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    assert '"musicxml equal": 13' in result.stdout and '"abc equal": 2' in result.stdout
    assert result.stdout.strip().endswith('PARITY OK')
