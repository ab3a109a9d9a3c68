"""MIDI <-> NoteSequence conversion (REFERENCE.md "MIDI conversion")."""
from __future__ import annotations

import io

import pretty_midi
import pytest

from magenta_rnn.music import midi_io
from magenta_rnn.protobuf import music_pb2

NS = music_pb2.NoteSequence
TIME = pytest.approx  # tick-quantized times come back within float rounding


def _midi_bytes(midi: pretty_midi.PrettyMIDI) -> bytes:
    buffer = io.BytesIO()
    midi.write(buffer)
    return buffer.getvalue()


def _band() -> pretty_midi.PrettyMIDI:
    """480 ticks/quarter at 100 qpm in 3/4, D minor: a named piano, an unnamed bass, drums."""
    midi = pretty_midi.PrettyMIDI(resolution=480, initial_tempo=100.0)
    midi.time_signature_changes.append(pretty_midi.TimeSignature(3, 4, 0.0))
    midi.key_signature_changes.append(pretty_midi.KeySignature(14, 0.0))  # D minor
    piano = pretty_midi.Instrument(program=0, name='Piano')
    piano.notes.append(pretty_midi.Note(velocity=80, pitch=60, start=0.0, end=0.6))
    piano.notes.append(pretty_midi.Note(velocity=90, pitch=64, start=0.6, end=1.2))
    piano.control_changes.append(pretty_midi.ControlChange(64, 127, 0.3))
    piano.pitch_bends.append(pretty_midi.PitchBend(1000, 0.15))
    bass = pretty_midi.Instrument(program=33)
    bass.notes.append(pretty_midi.Note(velocity=70, pitch=38, start=0.0, end=1.8))
    drums = pretty_midi.Instrument(program=0, is_drum=True, name='Kit')
    drums.notes.append(pretty_midi.Note(velocity=100, pitch=36, start=0.0, end=0.15))
    midi.instruments.extend([piano, bass, drums])
    return midi


def test_reading_fills_header_signatures_and_source_info():
    sequence = midi_io.midi_to_note_sequence(_midi_bytes(_band()))
    assert sequence.ticks_per_quarter == 480
    assert [(t.time, t.numerator, t.denominator) for t in sequence.time_signatures] == [(0.0, 3, 4)]
    # pretty_midi key number 14 = D minor: key 14 % 12 = 2 (D), mode 14 // 12 = 1 (MINOR).
    assert [(k.time, k.key, k.mode) for k in sequence.key_signatures] == [(0.0, 2, NS.KeySignature.MINOR)]
    assert [(t.time, t.qpm) for t in sequence.tempos] == [(0.0, TIME(100.0))]
    assert sequence.source_info.parser == NS.SourceInfo.PRETTY_MIDI
    assert sequence.source_info.encoding_type == NS.SourceInfo.MIDI


def test_reading_notes_carry_instrument_index_program_and_drum_flag():
    sequence = midi_io.midi_to_note_sequence(_midi_bytes(_band()))
    notes = [(n.instrument, n.program, n.is_drum, n.pitch, n.velocity, n.start_time, n.end_time)
             for n in sequence.notes]
    assert notes == [(0, 0, False, 60, 80, 0.0, TIME(0.6)),
                     (0, 0, False, 64, 90, TIME(0.6), TIME(1.2)),
                     (1, 33, False, 38, 70, 0.0, TIME(1.8)),
                     (2, 0, True, 36, 100, 0.0, TIME(0.15))]
    # total_time is the latest note end, not the end of the last note listed.
    assert sequence.total_time == TIME(1.8)
    # Only named instruments get an InstrumentInfo.
    assert [(i.instrument, i.name) for i in sequence.instrument_infos] == [(0, 'Piano'), (2, 'Kit')]


def test_reading_control_changes_and_pitch_bends():
    sequence = midi_io.midi_to_note_sequence(_midi_bytes(_band()))
    assert [(c.time, c.control_number, c.control_value, c.instrument, c.program, c.is_drum)
            for c in sequence.control_changes] == [(TIME(0.3), 64, 127, 0, 0, False)]
    assert [(b.time, b.bend, b.instrument, b.program, b.is_drum)
            for b in sequence.pitch_bends] == [(TIME(0.15), 1000, 0, 0, False)]


def test_reading_major_key_and_pretty_midi_object():
    midi = pretty_midi.PrettyMIDI()
    midi.key_signature_changes.append(pretty_midi.KeySignature(7, 1.0))  # G major
    sequence = midi_io.midi_to_note_sequence(midi)
    assert [(k.time, k.key, k.mode) for k in sequence.key_signatures] == [(1.0, 7, NS.KeySignature.MAJOR)]
    assert sequence.total_time == 0.0
    assert len(sequence.notes) == 0


def test_corrupt_bytes_raise_conversion_error(tmp_path):
    with pytest.raises(midi_io.MIDIConversionError, match='Midi decoding error'):
        midi_io.midi_to_note_sequence(b'MThd this is not a MIDI file')
    path = tmp_path / 'broken.mid'
    path.write_bytes(b'\x00\x01garbage')
    with pytest.raises(midi_io.MIDIConversionError, match='broken.mid'):
        midi_io.midi_file_to_note_sequence(path)


def _sequence_with_tempo_change() -> music_pb2.NoteSequence:
    sequence = NS(ticks_per_quarter=220)
    sequence.tempos.add(time=0.0, qpm=120.0)
    sequence.tempos.add(time=2.0, qpm=60.0)
    sequence.time_signatures.add(time=0.0, numerator=6, denominator=8)
    sequence.key_signatures.add(time=0.0, key=9, mode=NS.KeySignature.MINOR)
    sequence.notes.add(pitch=69, velocity=100, start_time=0.0, end_time=1.0)
    sequence.notes.add(pitch=72, velocity=50, start_time=2.0, end_time=3.0, instrument=1,
                       program=40)
    sequence.notes.add(pitch=42, velocity=110, start_time=2.5, end_time=2.75, instrument=2,
                       is_drum=True)
    sequence.control_changes.add(time=1.0, control_number=7, control_value=90, instrument=1,
                                 program=40)
    sequence.pitch_bends.add(time=2.5, bend=-2048, instrument=1, program=40)
    sequence.instrument_infos.add(instrument=1, name='Violin part')
    sequence.total_time = 3.0
    return sequence


def _content(sequence: music_pb2.NoteSequence) -> dict:
    """Everything the MIDI round trip must keep, with times rounded to a microsecond."""
    r = lambda t: round(t, 6)  # noqa: E731
    return {
        'tpq': sequence.ticks_per_quarter,
        'tempos': [(r(t.time), round(t.qpm, 6)) for t in sequence.tempos],
        'time_signatures': [(r(t.time), t.numerator, t.denominator) for t in sequence.time_signatures],
        'keys': [(r(k.time), k.key, k.mode) for k in sequence.key_signatures],
        'notes': [(n.instrument, n.program, n.is_drum, n.pitch, n.velocity, r(n.start_time),
                   r(n.end_time)) for n in sequence.notes],
        'controls': [(c.instrument, c.program, c.is_drum, r(c.time), c.control_number,
                      c.control_value) for c in sequence.control_changes],
        'bends': [(b.instrument, b.program, b.is_drum, r(b.time), b.bend) for b in sequence.pitch_bends],
        'total_time': r(sequence.total_time),
    }


def test_note_sequence_to_midi_file_and_back(tmp_path):
    sequence = _sequence_with_tempo_change()
    path = tmp_path / 'out.mid'
    midi_io.note_sequence_to_midi_file(sequence, path)
    again = midi_io.midi_file_to_note_sequence(path)
    assert _content(again) == _content(sequence)
    # Unnamed tracks come back named 'Drums' or after their GM program.
    assert [(i.instrument, i.name) for i in again.instrument_infos] == [(1, 'Violin part'), (2, 'Drums')]


def test_midi_to_sequence_to_midi_round_trip_preserves_everything():
    first = midi_io.midi_to_note_sequence(_midi_bytes(_band()))
    second = midi_io.midi_to_note_sequence(_midi_bytes(midi_io.note_sequence_to_pretty_midi(first)))
    assert _content(second) == _content(first)
    assert [(i.instrument, i.name) for i in second.instrument_infos] == [
            (0, 'Piano'), (1, 'Electric Bass (finger)'), (2, 'Kit')]


def test_writing_defaults_resolution_220_and_120_qpm():
    sequence = NS()
    sequence.notes.add(pitch=60, velocity=100, start_time=0.0, end_time=0.5)
    midi = midi_io.note_sequence_to_pretty_midi(sequence)
    assert midi.resolution == 220
    times, qpms = midi.get_tempo_changes()
    assert times.tolist() == [0.0] and qpms.tolist() == pytest.approx([120.0])


def test_writing_tracks_are_named_drums_or_by_program():
    sequence = NS()
    sequence.notes.add(pitch=60, velocity=100, start_time=0.0, end_time=0.5)  # instrument 0
    sequence.notes.add(pitch=36, velocity=100, start_time=0.0, end_time=0.5, instrument=1,
                       is_drum=True)
    sequence.notes.add(pitch=40, velocity=100, start_time=0.0, end_time=0.5, instrument=2,
                       program=33)
    midi = midi_io.note_sequence_to_pretty_midi(sequence)
    assert [(i.name, i.program, i.is_drum, len(i.notes)) for i in midi.instruments] == [
            ('', 0, False, 1), ('Drums', 0, True, 1), ('Electric Bass (finger)', 33, False, 1)]


def test_writing_keeps_two_programs_on_instrument_zero():
    # note_seq would let the second group overwrite the first in the default track.
    sequence = NS()
    sequence.notes.add(pitch=60, velocity=100, start_time=0.0, end_time=0.5, program=0)
    sequence.notes.add(pitch=62, velocity=100, start_time=0.0, end_time=0.5, program=25)
    midi = midi_io.note_sequence_to_pretty_midi(sequence)
    assert [(i.program, [n.pitch for n in i.notes]) for i in midi.instruments] == [(0, [60]), (25, [62])]


def test_drop_events_after_last_note():
    sequence = NS()
    sequence.notes.add(pitch=60, velocity=100, start_time=0.0, end_time=1.0)
    sequence.time_signatures.add(time=0.0, numerator=4, denominator=4)
    sequence.time_signatures.add(time=5.0, numerator=3, denominator=4)
    sequence.control_changes.add(time=1.5, control_number=64, control_value=0)
    sequence.control_changes.add(time=3.0, control_number=64, control_value=127)
    midi = midi_io.note_sequence_to_pretty_midi(sequence, drop_events_n_seconds_after_last_note=1.0)
    assert [t.time for t in midi.time_signature_changes] == [0.0]
    assert [c.time for c in midi.instruments[0].control_changes] == [1.5]
    kept = midi_io.note_sequence_to_pretty_midi(sequence)
    assert len(kept.time_signature_changes) == 2


def _smf(*track_events: bytes, ticks_per_beat: int = 96) -> bytes:
    """A type-1 Standard MIDI File from raw track bodies."""
    header = b'MThd' + (6).to_bytes(4, 'big') + (1).to_bytes(2, 'big') + \
        len(track_events).to_bytes(2, 'big') + ticks_per_beat.to_bytes(2, 'big')
    return header + b''.join(b'MTrk' + len(body).to_bytes(4, 'big') + body for body in track_events)


# delta 0: tempo 500000 us/quarter (120 qpm); delta 0: GM-reset sysex; delta 0: note on
# C4 vel 100 on channel 0; delta 96 (one quarter = 0.5 s): running-status note on C4 vel 0
# (a note off); delta 0: pitch wheel 0x2000 + 0x100 = +256; delta 0: unknown meta 0x60;
# end of track.
_RAW_TRACK = (b'\x00\xff\x51\x03\x07\xa1\x20'
              b'\x00\xf0\x05\x7e\x7f\x09\x01\xf7'
              b'\x00\x90\x3c\x64'
              b'\x60\x3c\x00'
              b'\x00\xe0\x00\x42'
              b'\x00\xff\x60\x01\x01'
              b'\x00\xff\x2f\x00')


def test_quick_reader_matches_mido_on_running_status_sysex_and_meta():
    data = _smf(_RAW_TRACK)
    # The quick reader takes all seven messages itself (no fallback to mido's parser).
    assert [m.type for m in midi_io._quick_mido_file(data).tracks[0]] == [
            'set_tempo', 'sysex', 'note_on', 'note_on', 'pitchwheel', 'unknown_meta', 'end_of_track']
    sequence = midi_io.midi_to_note_sequence(data)
    assert [(n.pitch, n.velocity, n.start_time, n.end_time) for n in sequence.notes] == [(60, 100, 0.0, 0.5)]
    assert [(b.time, b.bend) for b in sequence.pitch_bends] == [(0.5, 256)]
    assert [(t.time, t.qpm) for t in sequence.tempos] == [(0.0, 120.0)]
    by_mido = midi_io.midi_to_note_sequence(pretty_midi.PrettyMIDI(io.BytesIO(data)))
    assert sequence == by_mido


def test_quick_reader_leaves_bad_data_to_mido_error():
    # A note on whose velocity byte is 0xC8 (> 127): mido refuses the file.
    data = _smf(b'\x00\x90\x3c\xc8\x00\xff\x2f\x00')
    with pytest.raises(midi_io.MIDIConversionError, match='data byte must be in range 0..127'):
        midi_io.midi_to_note_sequence(data)


@pytest.mark.slow
def test_quick_reader_matches_mido_on_shared_data(shared_data):
    """Every real file gives the same NoteSequence (or the same failure) as mido's parser."""
    paths = sorted(p for folder in ('miditok_fixtures', 'note_seq_testdata', 'groove')
                   for p in (shared_data / folder).rglob('*') if p.suffix.lower() in ('.mid', '.midi'))
    assert paths
    for path in paths:
        data = path.read_bytes()
        try:
            expected = midi_io.midi_to_note_sequence(pretty_midi.PrettyMIDI(io.BytesIO(data)))
        except Exception:
            with pytest.raises(midi_io.MIDIConversionError):
                midi_io.midi_to_note_sequence(data)
            continue
        assert midi_io.midi_to_note_sequence(data) == expected, path


# The quick writer: PrettyMIDI.write's bytes, made faster.

def _pretty_midi_write(midi):
    buffer = io.BytesIO()
    midi.write(buffer)
    return buffer.getvalue()


def _busy_sequence():
    """Two tempos, signatures, a named piano, drums, bends and controls, notes that meet
    at one tick (a note off and a note on of one pitch), and 17 instruments (channels wrap
    around, skipping 9)."""
    sequence = music_pb2.NoteSequence(ticks_per_quarter=480)
    sequence.tempos.add(time=0.0, qpm=100.0)
    sequence.tempos.add(time=1.3, qpm=151.5)
    sequence.time_signatures.add(time=0.0, numerator=3, denominator=4)
    sequence.time_signatures.add(time=2.0, numerator=7, denominator=8)
    sequence.key_signatures.add(time=0.0, key=2)
    sequence.instrument_infos.add(instrument=1, name='Left hand')
    sequence.notes.add(pitch=60, velocity=80, start_time=0.0, end_time=0.5, instrument=1)
    sequence.notes.add(pitch=60, velocity=90, start_time=0.5, end_time=0.75, instrument=1)
    sequence.notes.add(pitch=64, velocity=1, start_time=0.5, end_time=3.333333, instrument=1,
                       program=5)
    sequence.notes.add(pitch=36, velocity=127, start_time=0.1, end_time=0.2, is_drum=True,
                       instrument=9)
    sequence.notes.add(pitch=38, velocity=100, start_time=0.1, end_time=0.2, is_drum=True,
                       instrument=9)
    for instrument in range(10, 26):
        sequence.notes.add(pitch=40 + instrument, velocity=50, start_time=0.01 * instrument,
                           end_time=7.5, instrument=instrument, program=instrument)
    sequence.pitch_bends.add(time=0.25, bend=-8192, instrument=1)
    sequence.pitch_bends.add(time=0.25, bend=8191, instrument=1)
    sequence.pitch_bends.add(time=0.5, bend=0, instrument=1)
    sequence.control_changes.add(time=0.5, control_number=64, control_value=127, instrument=1)
    sequence.control_changes.add(time=0.5, control_number=7, control_value=100, instrument=1)
    sequence.control_changes.add(time=4.0, control_number=64, control_value=0, instrument=1)
    return sequence


def test_quick_writer_writes_pretty_midis_bytes():
    sequence = _busy_sequence()
    midi = midi_io.note_sequence_to_pretty_midi(sequence)
    assert len(midi.instruments) == 20  # the empty default track, 1 (2 programs), 9, 10..25
    expected = _pretty_midi_write(midi)
    assert midi_io.pretty_midi_to_bytes(midi) == expected
    # 'Left hand' is track 2, channel 1: its bends at 0.25 s, lowest first, share one
    # status byte (running status): E1 00 00, delta 0, 7F 7F.
    assert b'\xe1\x00\x00\x00\x7f\x7f' in expected


def test_quick_writer_one_note_literal_bytes():
    sequence = music_pb2.NoteSequence()
    sequence.notes.add(pitch=60, velocity=100, start_time=0.0, end_time=0.5)
    data = midi_io.pretty_midi_to_bytes(midi_io.note_sequence_to_pretty_midi(sequence))
    # Track 2: program 0 on channel 0, note on at 0, note off (velocity 0) 220 ticks later
    # (a quarter at 120 qpm and 220 ticks per quarter), running status, end of track.
    assert data.endswith(b'MTrk\x00\x00\x00\x0f' b'\x00\xc0\x00' b'\x00\x90\x3c\x64'
                         b'\x81\x5c\x3c\x00' b'\x01\xff\x2f\x00')
    assert data[:14] == b'MThd\x00\x00\x00\x06\x00\x01\x00\x02\x00\xdc'


def test_quick_writer_refuses_bad_data_bytes():
    sequence = music_pb2.NoteSequence()
    sequence.notes.add(pitch=60, velocity=128, start_time=0.0, end_time=0.5)
    with pytest.raises(ValueError, match='0..127'):
        midi_io.pretty_midi_to_bytes(midi_io.note_sequence_to_pretty_midi(sequence))


@pytest.mark.slow
def test_quick_writer_matches_pretty_midi_on_shared_data(shared_data):
    paths = sorted(p for folder in ('miditok_fixtures', 'note_seq_testdata', 'groove', 'asap')
                   for p in (shared_data / folder).rglob('*') if p.suffix.lower() in ('.mid', '.midi'))
    paths = paths[:40] + paths[40::8]  # the fixtures, then every 8th Groove and ASAP file
    assert paths
    for path in paths:
        try:
            sequence = midi_io.midi_file_to_note_sequence(path)
        except midi_io.MIDIConversionError:
            continue
        midi = midi_io.note_sequence_to_pretty_midi(sequence)
        assert midi_io.pretty_midi_to_bytes(midi) == _pretty_midi_write(midi), path
