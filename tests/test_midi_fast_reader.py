"""midi_fast_reader: the exact path's NoteSequence bytes, or NotFastPath, never a third thing.

The exact path is mido's own parser and pretty_midi, as the original reads MIDI.
"""
import io
import warnings

import pretty_midi
import pytest

from magenta_rnn.music import midi_fast_reader, midi_io
from magenta_rnn.protobuf import music_pb2


def exact_bytes(data: bytes) -> bytes:
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        midi = pretty_midi.PrettyMIDI(io.BytesIO(data))
    return midi_io.midi_to_note_sequence(midi).SerializeToString()


def fast_bytes(data: bytes) -> bytes:
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        return midi_fast_reader.note_sequence_bytes(data)


def smf(*tracks: bytes, ticks_per_beat: int = 96) -> bytes:
    """A type-1 Standard MIDI File from raw track bodies."""
    header = (b'MThd' + (6).to_bytes(4, 'big') + (1).to_bytes(2, 'big')
              + len(tracks).to_bytes(2, 'big') + ticks_per_beat.to_bytes(2, 'big', signed=True))
    return header + b''.join(b'MTrk' + len(body).to_bytes(4, 'big') + body for body in tracks)


END = b'\x00\xff\x2f\x00'
TEMPO_120 = b'\x00\xff\x51\x03\x07\xa1\x20'
TEMPO_90 = b'\x00\xff\x51\x03\x0a\x2c\x2b'


def vlq(value: int) -> bytes:
    out = [value & 0x7F]
    while value > 0x7F:
        value >>= 7
        out.append(0x80 | (value & 0x7F))
    return bytes(reversed(out))


def on(delta: int, pitch: int, velocity: int = 100, channel: int = 0) -> bytes:
    return vlq(delta) + bytes([0x90 | channel, pitch, velocity])


def off(delta: int, pitch: int, channel: int = 0) -> bytes:
    return vlq(delta) + bytes([0x80 | channel, pitch, 64])


# Each case is a file the fast reader must read exactly as pretty_midi does.
CASES = {
    'simple notes and a chord': smf(TEMPO_120 + END, on(0, 60) + on(0, 64) + off(96, 60)
                                    + off(0, 64) + on(0, 67, 1) + off(48, 67) + END),
    # One note-off closes both open C4s (each note-on started earlier).
    'overlapping same pitch': smf(TEMPO_120 + END, on(0, 60, 90) + on(10, 60, 80)
                                  + off(10, 60) + off(10, 60) + END),
    # A note-on and its note-off at one tick, nothing else open: the note is dropped.
    'zero length note dropped': smf(END, on(0, 60) + off(0, 60) + on(5, 62) + off(5, 62) + END),
    # An older C4 is closed at tick 10 where a new C4 starts: the new one stays open.
    'new note at the closing tick kept': smf(END, on(0, 60, 90) + on(10, 60, 70) + off(0, 60)
                                             + off(20, 60) + END),
    # ... and if it is closed at that same tick again, it is dropped.
    'kept note closed at its tick dropped': smf(END, on(0, 60, 90) + on(10, 60, 70)
                                                + off(0, 60) + off(0, 60) + on(3, 61)
                                                + off(3, 61) + END),
    'stray note-offs': smf(END, off(0, 60) + on(1, 60) + off(4, 60) + off(4, 60) + END),
    'note-on velocity 0 as note-off': smf(END, on(0, 60) + on(7, 60, 0) + END),
    # Running status: one status byte for the note-on, its note-off and the next notes.
    'running status': smf(END, b'\x00\x90\x3c\x64\x60\x3c\x00\x00\x3e\x50\x30\x3e\x00'
                          b'\x00\xc0\x05\x00\x90\x40\x40\x10\x40\x00' + END),
    # Program changes split one channel into two instruments; drums on channel 9.
    'programs and drums': smf(END, on(0, 60) + off(10, 60) + b'\x00\xc0\x18' + on(0, 62)
                              + off(10, 62) + on(0, 36, 100, 9) + off(5, 36, 9) + END),
    # A control change and a bend before any note go to the (channel, track) straggler,
    # whose lists the channel's first instrument takes over; one sent with another
    # program after that goes to the straggler list too, so both instruments that share
    # it list it. A bend after the second instrument exists goes to its own (shared) list.
    'stragglers shared': smf(END, b'\x00\xb0\x40\x7f' + b'\x00\xe0\x00\x00' + on(0, 60)
                             + off(10, 60) + b'\x00\xc0\x07' + b'\x05\xb0\x07\x64'
                             + on(0, 62) + off(10, 62) + b'\x03\xe0\x7f\x7f' + END),
    # An instrument made before any straggler keeps its own lists; the straggler made
    # by a control change under another program passes its list to that program's
    # instrument.
    'instrument before straggler': smf(END, on(0, 60) + off(10, 60) + b'\x00\xb0\x40\x7f'
                                       + b'\x00\xc0\x02' + b'\x01\xb0\x40\x00' + on(0, 61)
                                       + off(10, 61) + END),
    # Track names: an instrument takes the name the track has when it is created.
    'track names': smf(END, b'\x00\xff\x03\x04Left' + on(0, 60) + off(10, 60)
                       + b'\x00\xff\x03\x05Right' + on(0, 60, 50, 1) + off(10, 60, 1) + END,
                       on(0, 40) + off(10, 40) + b'\x00\xff\x03\x02\xe9x' + END),
    'tempos, signatures and keys': smf(
            TEMPO_120 + b'\x00\xff\x58\x04\x03\x02\x18\x08' + b'\x00\xff\x59\x02\xfd\x01'
            + b'\x60\xff\x51\x03\x07\xa1\x20' + TEMPO_90[:1] + b'\xff\x51\x03\x0a\x2c\x2b'
            + TEMPO_90 + b'\x30\xff\x58\x04\x07\x03\x18\x08' + b'\x00\xff\x59\x02\x02\x00' + END,
            on(0, 60) + off(200, 60) + on(100, 62) + off(100, 62) + END, ticks_per_beat=480),
    # Tempo and signatures on track 1: pretty_midi warns and ignores them.
    'meta on a later track': smf(END, TEMPO_90 + on(0, 60) + off(10, 60) + END),
    'bends negative and positive': smf(END, on(0, 60) + b'\x00\xe0\x00\x00\x05\xe0\x7f\x7f'
                                       + b'\x05\xe0\x00\x40' + off(5, 60) + END),
    'sysex and unknown meta': smf(END, b'\x00\xf0\x05\x7e\x7f\x09\x01\xf7'
                                  + b'\x00\xff\x60\x01\x00' + on(0, 60) + off(128, 60) + END),
    # Delta times of 3 and 4 bytes (the latter 2**21 ticks).
    'long delta times': smf(END, on(0, 60) + b'\x83\xff\x7f\x80\x3c\x40' + on(0, 61)
                            + b'\x81\x80\x80\x00\x80\x3d\x40' + END),
    'no notes': smf(TEMPO_120 + END, b'\x00\xb0\x40\x7f' + END),
    # 130 one-note tracks: instrument numbers from 128 take two varint bytes.
    'many instruments': smf(END, *[b'\x00' + bytes([0xC0 | (t % 16), t % 128])
                                   + on(0, 60, 100, t % 16) + off(1, 60, t % 16) + END
                                   for t in range(130)]),
}


@pytest.mark.parametrize('name', sorted(CASES))
def test_fast_reader_gives_the_exact_bytes(name):
    data = CASES[name]
    assert fast_bytes(data) == exact_bytes(data)


def test_cases_show_what_they_say():
    def read(name):
        return music_pb2.NoteSequence.FromString(fast_bytes(CASES[name]))
    overlapping = read('overlapping same pitch')
    seconds_per_tick = 60.0 / (120.0 * 96)  # pretty_midi's tick scale at 120 qpm
    assert [(n.velocity, n.start_time, n.end_time) for n in overlapping.notes] == [
        (90, 0.0, seconds_per_tick * 20), (80, seconds_per_tick * 10, seconds_per_tick * 20)]
    assert [n.pitch for n in read('zero length note dropped').notes] == [62]
    assert [n.velocity for n in read('new note at the closing tick kept').notes] == [90, 70]
    assert [n.pitch for n in read('kept note closed at its tick dropped').notes] == [60, 61]
    stragglers = read('stragglers shared')
    assert [(c.instrument, c.program, c.control_number) for c in stragglers.control_changes] == [
        (0, 0, 64), (0, 0, 7), (1, 7, 64), (1, 7, 7)]
    assert [(b.instrument, b.bend) for b in stragglers.pitch_bends] == [
        (0, -8192), (0, 8191), (1, -8192), (1, 8191)]
    own = read('instrument before straggler')
    assert [(c.instrument, c.control_value) for c in own.control_changes] == [(0, 127), (1, 0)]
    names = read('track names')
    assert [(i.instrument, i.name) for i in names.instrument_infos] == [
        (0, 'Left'), (1, 'Right')]
    assert [n.instrument for n in read('many instruments').notes] == list(range(130))


# Files the fast reader leaves to the exact path, which then decides (a sequence or an error).
FALLBACKS = {
    'running status after sysex': smf(END, b'\x00\xf0\x01\xf7\x00\x3c\x40' + END),
    'running status first': smf(END, b'\x00\x3c\x40' + END),
    'empty track': smf(END, b''),
    'data byte above 127': smf(END, b'\x00\x90\x3c\xc8' + END),
    'message past the chunk end': smf(END, b'\x00\x90\x3c'),
    'delta time of 5 bytes': smf(END, b'\x80\x80\x80\x80\x00\x90\x3c\x40' + END),
    'zero division': smf(END, on(0, 60) + off(1, 60) + END, ticks_per_beat=0),
    'SMPTE division': smf(END, on(0, 60) + off(1, 60) + END, ticks_per_beat=-7720),
    'zero tempo': smf(b'\x00\xff\x51\x03\x00\x00\x00' + END, on(0, 60) + off(1, 60) + END),
    'bad key signature': smf(b'\x00\xff\x59\x02\x09\x00' + END, on(0, 60) + off(1, 60) + END),
    'huge time signature denominator': smf(b'\x00\xff\x58\x04\x04\x40\x18\x08' + END,
                                           on(0, 60) + off(1, 60) + END),
    'no tracks': smf(),
    'not MIDI': b'RIFF' + bytes(20),
}


@pytest.mark.parametrize('name', sorted(FALLBACKS))
def test_unusual_files_take_the_exact_path(name):
    data = FALLBACKS[name]
    with pytest.raises(midi_fast_reader.NotFastPath):
        fast_bytes(data)
    try:
        expected = exact_bytes(data)
    except Exception as error:  # pylint: disable=broad-except
        with pytest.raises(midi_io.MIDIConversionError) as raised:
            midi_io.midi_to_note_sequence(data)
        assert str(error) in str(raised.value)
    else:
        assert midi_io.midi_to_note_sequence(data).SerializeToString() == expected


def test_warns_like_pretty_midi_about_tempo_on_a_later_track():
    with pytest.warns(RuntimeWarning, match='non-zero tracks'):
        midi_fast_reader.note_sequence_bytes(CASES['meta on a later track'])


def _shared_midi_files(shared_data, folders):
    return sorted(p for folder in folders for p in (shared_data / folder).rglob('*')
                  if p.suffix.lower() in ('.mid', '.midi'))


def test_real_files_give_the_exact_bytes(shared_data):
    paths = _shared_midi_files(shared_data, ('miditok_fixtures', 'note_seq_testdata'))
    paths += _shared_midi_files(shared_data, ('asap', 'groove', 'pop909'))[::400]
    fast = 0
    for path in paths:
        data = path.read_bytes()
        try:
            result = fast_bytes(data)
        except midi_fast_reader.NotFastPath:
            continue
        fast += 1
        assert result == exact_bytes(data), path
    assert fast >= len(paths) - 10


@pytest.mark.slow
def test_every_shared_file_gives_the_exact_bytes(shared_data):
    """All MIDI files of the shared data sets: the fast reader's bytes are the exact path's
    wherever it reads the file, and it reads nearly all of them."""
    paths = _shared_midi_files(shared_data, ('asap', 'groove', 'pop909', 'nottingham',
                                             'trio_web', 'miditok_fixtures', 'note_seq_testdata'))
    fallbacks = []
    for path in paths:
        data = path.read_bytes()
        try:
            result = fast_bytes(data)
        except midi_fast_reader.NotFastPath:
            fallbacks.append(path)
            continue
        assert result == exact_bytes(data), path
    assert len(fallbacks) <= len(paths) // 100, fallbacks[:10]
