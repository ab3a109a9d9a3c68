"""convert_dir_to_note_sequences: folder of MIDI files -> TFRecord of NoteSequences (REFERENCE.md
"Console scripts")."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pretty_midi
import pytest

from magenta_rnn import convert, records

REPO_ROOT = Path(__file__).resolve().parents[1]


def _write_midi(path: Path, pitch: int, program: int = 0) -> None:
    midi = pretty_midi.PrettyMIDI()
    instrument = pretty_midi.Instrument(program=program)
    instrument.notes.append(pretty_midi.Note(velocity=100, pitch=pitch, start=0.0, end=0.5))
    midi.instruments.append(instrument)
    path.parent.mkdir(parents=True, exist_ok=True)
    midi.write(str(path))


@pytest.fixture
def collection(tmp_path: Path) -> Path:
    """mycoll/: a.mid, sub/b.MIDI, sub/deeper/c.midi, broken.mid, d.xml, e.abc, notes.txt."""
    root = tmp_path / 'mycoll'
    _write_midi(root / 'a.mid', 60)
    _write_midi(root / 'sub' / 'b.MIDI', 62)
    _write_midi(root / 'sub' / 'deeper' / 'c.midi', 64)
    (root / 'broken.mid').write_bytes(b'MThd\x00\x00\x00\x06garbage')
    (root / 'd.xml').write_text('<score-partwise/>')
    (root / 'e.abc').write_text('X:1\nK:C\nCDE|\n')
    (root / 'notes.txt').write_text('not music')
    return root


def _read(path: Path) -> list:
    return list(records.read_note_sequences(str(path)))


def test_ids_filenames_and_collection_recursive(collection, tmp_path):
    output = tmp_path / 'out' / 'seqs.tfrecord'
    summary = convert.convert_directory(str(collection), str(output), recursive=True, workers=1)
    sequences = _read(output)
    # Files of a folder in name order, then its sub-folders; ids hash the relative filename.
    # An ABC tune's id hashes "<filename>_<reference number>".
    assert [(s.filename, s.collection_name, s.id) for s in sequences] == [
            ('a.mid', 'mycoll', '/id/midi/mycoll/d7e0e2b60e4b6b124e635f12edb60e23f3e87903'),
            ('d.xml', 'mycoll', '/id/musicxml/mycoll/33e79167154688ee28bf101d36ee3ee97ab238b6'),
            ('e.abc', 'mycoll', '/id/abc/mycoll/01880288e93b42bfd391034725b9fe667f5f4ff0'),
            ('sub/b.MIDI', 'mycoll', '/id/midi/mycoll/984158c4dec1a37d9ae763f3fa1459e2e65eee24'),
            ('sub/deeper/c.midi', 'mycoll', '/id/midi/mycoll/6f4331fcf4fffdbb88039bfacc79ad17c277e577')]
    assert [[n.pitch for n in s.notes] for s in sequences] == [[60], [], [60, 62, 64], [62], [64]]
    assert summary.converted == 5
    assert dict(summary.converted_by_type) == {'midi': 3, 'musicxml': 1, 'abc': 1}
    assert [name for name, _ in summary.unreadable] == ['broken.mid']
    assert summary.unreadable[0][1] == ('the file is truncated: it ends inside a track (the header '
                                      'promises 29282 tracks)')
    assert summary.other_files == 1  # notes.txt
    text = summary.describe()
    assert 'Converted 3 MIDI files, 1 MusicXML file, 1 ABC tune (5 NoteSequences)' in text
    assert 'broken.mid' in text


def test_unreadable_scores_and_abc_tunes_are_named_and_counted(tmp_path):
    root = tmp_path / 'scores'
    root.mkdir()
    (root / 'book.abc').write_text('X:1\nK:C\nCD|\n\nX:2\nK:C\n[CE]\n\nX:3\nK:G\nB\n')
    (root / 'dup.abc').write_text('X:1\nK:C\nC\n\nX:1\nK:C\nD\n')
    (root / 'bad.xml').write_text('<score-partwise><part')
    (root / 'drums.xml').write_text(
            '<score-partwise><part id="P1"><measure><note><unpitched/><duration>1</duration>'
            '</note></measure></part></score-partwise>')
    output = tmp_path / 'seqs.tfrecord'
    summary = convert.convert_directory(str(root), str(output), workers=1)
    sequences = _read(output)
    assert [(s.filename, s.reference_number, [n.pitch for n in s.notes]) for s in sequences] == [
            ('book.abc', 1, [60, 62]), ('book.abc', 3, [71])]
    assert [(name, reason.split(':')[0]) for name, reason in summary.unreadable] == [
            ('bad.xml', 'unclosed token'), ('book.abc tune 2', 'Chords are not supported.'),
            ('drums.xml', 'Unpitched notes are not supported'),
            ('dup.abc', 'ABC Reference number 1 appears more than once in this tunebook')]
    assert summary.converted == 2 and summary.files == 4


def test_not_recursive_skips_sub_folders(collection, tmp_path):
    output = tmp_path / 'seqs.tfrecord'
    summary = convert.convert_directory(str(collection), str(output), workers=1)
    assert [s.filename for s in _read(output)] == ['a.mid', 'd.xml', 'e.abc']
    assert summary.other_files == 2  # notes.txt and the folder sub/


def test_worker_pool_writes_the_same_records_in_the_same_order(collection, tmp_path):
    for i in range(6):
        _write_midi(collection / f'extra{i}.mid', 70 + i, program=i)
    serial, pooled = tmp_path / 'serial.tfrecord', tmp_path / 'pooled.tfrecord'
    convert.convert_directory(str(collection), str(serial), recursive=True, workers=1)
    summary = convert.convert_directory(str(collection), str(pooled), recursive=True, workers=2)
    assert summary.converted == 11
    assert list(records.read_records(str(pooled))) == list(records.read_records(str(serial)))


def test_nothing_converted_is_an_error_and_leaves_no_file(tmp_path):
    empty = tmp_path / 'empty'
    empty.mkdir()
    (empty / 'bad.mid').write_bytes(b'nope')
    output = tmp_path / 'seqs.tfrecord'
    with pytest.raises(convert.ConversionError, match='no MIDI, MusicXML or ABC file could be converted'):
        convert.convert_directory(str(empty), str(output), workers=1)
    assert os.listdir(tmp_path) == ['empty']  # neither the output nor a temporary file


def test_failed_run_keeps_the_previous_output(tmp_path):
    empty = tmp_path / 'empty'
    empty.mkdir()
    output = tmp_path / 'seqs.tfrecord'
    output.write_bytes(b'previous')
    with pytest.raises(convert.ConversionError):
        convert.convert_directory(str(empty), str(output), workers=1)
    assert output.read_bytes() == b'previous'


def test_missing_input_dir(tmp_path):
    with pytest.raises(convert.ConversionError, match='no such directory'):
        convert.convert_directory(str(tmp_path / 'nope'), str(tmp_path / 'x.tfrecord'))


def _run_cli(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT), TF_CPP_MIN_LOG_LEVEL='2')
    return subprocess.run([sys.executable, '-m', 'magenta_rnn.convert', *args], env=env,
                          capture_output=True, text=True, timeout=120)


def test_cli_bad_input_dir_is_one_line_error(tmp_path):
    result = _run_cli(f'--input_dir={tmp_path / "nope"}', f'--output_file={tmp_path / "o.tfrecord"}')
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [
            f"convert.py: error: --input_dir '{tmp_path / 'nope'}': no such directory"]
    result = _run_cli(f'--output_file={tmp_path / "o.tfrecord"}')
    assert result.returncode != 0
    assert 'error: --input_dir is required' in result.stderr


def test_cli_converts_and_reports(collection, tmp_path):
    output = tmp_path / 'deep' / 'dir' / 'seqs.tfrecord'
    result = _run_cli(f'--input_dir={collection}', f'--output_file={output}', '--recursive',
                      '--log=WARN')
    assert result.returncode == 0, result.stderr
    assert 'Converted 3 MIDI files, 1 MusicXML file, 1 ABC tune' in result.stderr
    assert 'broken.mid' in result.stderr
    assert len(_read(output)) == 5


@pytest.mark.parametrize('recursive', [True])
def test_miditok_fixtures_corrupt_file_reported_rest_converted(shared_data, tmp_path, recursive):
    fixtures = shared_data / 'miditok_fixtures'
    output = tmp_path / 'miditok.tfrecord'
    summary = convert.convert_directory(str(fixtures), str(output), recursive=recursive)
    assert [name for name, _ in summary.unreadable] == [
            'tests/MIDIs_corrupted/ValueError_Control168.mid']
    assert summary.converted == 29
    sequences = _read(output)
    assert len(sequences) == 29
    assert all(s.collection_name == 'miditok_fixtures' for s in sequences)
    # Only the deliberately empty file has no notes.
    assert [s.filename for s in sequences if not s.notes] == ['tests/MIDIs_one_track/empty.mid']


def test_cli_pipeline_options_without_beam_is_one_line_error(collection, tmp_path):
    try:
        import apache_beam  # noqa: F401
        pytest.skip('Apache Beam is installed here (tests/test_beam.py runs it)')
    except ImportError:
        pass
    result = _run_cli(f'--input_dir={collection}', f'--output_file={tmp_path / "o.tfrecord"}',
                      '--pipeline_options=--runner=DirectRunner')
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [
            "convert.py: error: --pipeline_options needs Apache Beam: pip install "
            "'magenta_rnn[beam]'"]
    assert os.listdir(tmp_path) == ['mycoll']


def test_hostile_folder_entries_are_skipped_with_their_reason(tmp_path):
    """A named pipe, a link to /dev/zero, a tick bomb, a link back to the folder itself
    and a file name that is not UTF-8: one pass, each file once, a reason for each skip."""
    from test_bad_input_matrix import _melody_midi, tick_bomb_bytes
    root = tmp_path / 'hostile'
    root.mkdir()
    good = _melody_midi(root / 'good.mid').read_bytes()
    (root / os.fsdecode(b'caf\xe9.mid')).write_bytes(good)
    (root / 'bomb.mid').write_bytes(tick_bomb_bytes())
    (root / 'empty.mid').write_bytes(b'')
    os.mkfifo(root / 'pipe.mid')
    os.symlink('/dev/zero', root / 'zero.mid')
    os.symlink('missing.mid', root / 'dangling.mid')
    os.symlink('.', root / 'loop')
    output = tmp_path / 'out.tfrecord'
    summary = convert.convert_directory(str(root), str(output), recursive=True, workers=1)
    assert sorted(s.filename for s in _read(output)) == ['caf\\xe9.mid', 'good.mid']
    assert summary.converted == 2
    assert dict(summary.unreadable) == {
        'pipe.mid': 'a named pipe, not a file',
        'zero.mid': 'a character device, not a file',
        'dangling.mid': 'a broken symbolic link, not a file',
        'empty.mid': 'the file is empty',
        'bomb.mid': 'refused: track 0 reaches tick 268435455 (a delta time of 268435455 ticks); '
                    'more than 16777216 ticks would take gigabytes to parse, so the file is '
                    'corrupt or hostile'}
    assert summary.skipped_folders == [
        ('loop', 'a link to a folder already converted (not converted twice)')]
    assert 'Did not enter 1 folders:\n  loop: a link to a folder already converted' in summary.describe()
