"""MIDI <-> NoteSequence conversion (REFERENCE.md "MIDI conversion"), TF-free.

MIDI bytes are read by midi_fast_reader when it can (most files), which gives the
same NoteSequence as the path below, byte for byte. That path reads through
pretty_midi so that note pairing, tick-to-seconds timing and
instrument splitting behave exactly as in note_seq; the NoteSequence is then filled
field by field with the same rules (instrument = pretty_midi instrument index,
key = key_number % 12 with the mode from key_number // 12, total_time = latest
note end). Writing groups events by (instrument, program, is_drum) into tracks.
"""
from __future__ import annotations

import collections
import copy
import io
import os
import struct

import mido
import numpy as np
import pretty_midi
from mido.midifiles import meta as mido_meta

from magenta_rnn.music import constants, midi_fast_reader
from magenta_rnn.protobuf import music_pb2

# Like note_seq: accept files whose largest tick is huge but legal (e.g. the MAPS
# dataset) instead of rejecting them at pretty_midi's default limit.
pretty_midi.pretty_midi.MAX_TICK = 1e10

# pretty_midi key numbers 0-11 are major keys, 12-23 the minor keys of the same tonic.
_MAJOR_TO_MINOR_OFFSET = 12

_NoteSequence = music_pb2.NoteSequence


class MIDIConversionError(Exception):
    """The MIDI data could not be decoded or holds values a NoteSequence cannot."""


class _NotFastPath(Exception):
    """The quick reader met something it leaves to mido (or mido would fail)."""


class _ChannelMessage:
    """The fields of a mido channel message that pretty_midi reads, without mido's checks."""
    __slots__ = ('type', 'time', 'channel', 'note', 'velocity', 'program', 'control', 'value',
                 'pitch')
    # Set per message type, as on mido's messages.
    note: int
    velocity: int
    program: int
    control: int
    value: int
    pitch: int

    def __init__(self, message_type: str, time: int, channel: int):
        self.type = message_type
        self.time = time
        self.channel = channel


_MIDO_MAX_MESSAGE_LENGTH = 1000000


def _read_variable_int(data: bytes, pos: int) -> tuple[int, int]:
    value = 0
    while True:
        byte = data[pos]  # IndexError at the end of data: mido raises EOFError there
        pos += 1
        value = (value << 7) | (byte & 0x7F)
        if byte < 0x80:
            return value, pos


def _quick_mido_file(data: bytes) -> mido.MidiFile:
    """Parses a Standard MIDI File into a mido.MidiFile, several times faster than mido.

    Channel messages become light objects with the attributes pretty_midi uses; meta
    and sysex messages are built by mido itself. Every case that mido would reject or
    treats unusually raises _NotFastPath, and the caller then runs mido's own parser,
    so accepted files, parsed values and error messages stay exactly mido's.
    """
    if len(data) < 14 or data[:4] != b'MThd':
        raise _NotFastPath
    (header_size,) = struct.unpack_from('>L', data, 4)
    if header_size < 6:
        raise _NotFastPath
    file_type, num_tracks, ticks_per_beat = struct.unpack_from('>hhh', data, 8)
    pos = 8 + header_size
    tracks = []
    with mido_meta.meta_charset('latin1'):
        for _ in range(num_tracks):
            if pos + 8 > len(data) or data[pos:pos + 4] != b'MTrk':
                raise _NotFastPath
            (track_size,) = struct.unpack_from('>L', data, pos + 4)
            pos += 8
            end = pos + track_size
            if end > len(data):
                raise _NotFastPath
            track = mido.MidiTrack()
            append = track.append
            last_status = None
            while pos < end:
                delta, pos = _read_variable_int(data, pos)
                status = data[pos]
                pos += 1
                if status < 0x80:
                    # Running status: this byte is the first data byte.
                    if last_status is None or last_status >= 0xF0:
                        raise _NotFastPath
                    status = last_status
                    pos -= 1
                elif status != 0xFF:
                    last_status = status
                if status == 0xFF:
                    meta_type = data[pos]
                    length, pos = _read_variable_int(data, pos + 1)
                    if length > _MIDO_MAX_MESSAGE_LENGTH or pos + length > end:
                        raise _NotFastPath
                    append(mido_meta.build_meta_message(meta_type, list(data[pos:pos + length]),
                                                        delta))
                    pos += length
                elif status in (0xF0, 0xF7):
                    length, pos = _read_variable_int(data, pos)
                    if length > _MIDO_MAX_MESSAGE_LENGTH or pos + length > end:
                        raise _NotFastPath
                    payload = list(data[pos:pos + length])
                    pos += length
                    # Like mido: drop the framing bytes, then let mido check the rest.
                    if payload and payload[0] == 0xF0:
                        payload = payload[1:]
                    if payload and payload[-1] == 0xF7:
                        payload = payload[:-1]
                    append(mido.Message('sysex', data=payload, time=delta))
                elif status >= 0xF0:
                    raise _NotFastPath  # system common/real-time bytes in a file: left to mido
                else:
                    kind = status & 0xF0
                    channel = status & 0x0F
                    first = data[pos]
                    if first > 127:
                        raise _NotFastPath
                    if kind == 0xC0:
                        message = _ChannelMessage('program_change', delta, channel)
                        message.program = first
                        pos += 1
                    elif kind == 0xD0:
                        message = _ChannelMessage('aftertouch', delta, channel)
                        message.value = first
                        pos += 1
                    else:
                        second = data[pos + 1]
                        if second > 127:
                            raise _NotFastPath
                        pos += 2
                        if kind == 0x90:
                            message = _ChannelMessage('note_on', delta, channel)
                            message.note = first
                            message.velocity = second
                        elif kind == 0x80:
                            message = _ChannelMessage('note_off', delta, channel)
                            message.note = first
                            message.velocity = second
                        elif kind == 0xB0:
                            message = _ChannelMessage('control_change', delta, channel)
                            message.control = first
                            message.value = second
                        elif kind == 0xE0:
                            message = _ChannelMessage('pitchwheel', delta, channel)
                            message.pitch = first | ((second << 7) - 8192)
                        else:  # 0xA0
                            message = _ChannelMessage('polytouch', delta, channel)
                            message.note = first
                            message.value = second
                    append(message)
            if pos != end:
                raise _NotFastPath  # a message ran over the chunk end
            tracks.append(track)
    midi_file = mido.MidiFile()
    midi_file.type = file_type
    midi_file.ticks_per_beat = ticks_per_beat
    midi_file.tracks = tracks
    return midi_file


def _parse_midi_bytes(midi_bytes: bytes) -> pretty_midi.PrettyMIDI:
    try:
        return pretty_midi.PrettyMIDI(mido_object=_quick_mido_file(midi_bytes))
    except Exception:  # redone below by mido for the exact outcome
        pass
    try:
        return pretty_midi.PrettyMIDI(io.BytesIO(midi_bytes))
    except Exception as error:  # pretty_midi/mido raise many unrelated types on bad data
        raise MIDIConversionError(f'Midi decoding error {type(error)}: {error}') from error


def midi_to_note_sequence(midi_data: bytes | pretty_midi.PrettyMIDI) -> music_pb2.NoteSequence:
    """Converts MIDI file contents (bytes) or a PrettyMIDI object to a NoteSequence.

    Raises MIDIConversionError when the bytes cannot be decoded or a time/key
    signature does not fit the NoteSequence fields.
    """
    if isinstance(midi_data, pretty_midi.PrettyMIDI):
        midi = midi_data
    else:
        midi_bytes = bytes(midi_data)
        try:
            return _NoteSequence.FromString(midi_fast_reader.note_sequence_bytes(midi_bytes))
        except Exception:  # pylint: disable=broad-except  # NotFastPath, or anything: the exact path decides
            midi = _parse_midi_bytes(midi_bytes)

    sequence = _NoteSequence()
    sequence.ticks_per_quarter = midi.resolution
    sequence.source_info.parser = _NoteSequence.SourceInfo.PRETTY_MIDI
    sequence.source_info.encoding_type = _NoteSequence.SourceInfo.MIDI

    for midi_time_signature in midi.time_signature_changes:
        time_signature = sequence.time_signatures.add()
        time_signature.time = midi_time_signature.time
        time_signature.numerator = midi_time_signature.numerator
        try:
            time_signature.denominator = midi_time_signature.denominator
        except ValueError as error:  # a denominator of 2**k can overflow int32
            raise MIDIConversionError(
                    f'Invalid time signature denominator {midi_time_signature.denominator}') from error

    for midi_key in midi.key_signature_changes:
        mode_index = midi_key.key_number // _MAJOR_TO_MINOR_OFFSET
        if mode_index not in (0, 1):
            raise MIDIConversionError(f'Invalid midi_mode {mode_index}')
        key_signature = sequence.key_signatures.add()
        key_signature.time = midi_key.time
        key_signature.key = midi_key.key_number % 12
        key_signature.mode = (_NoteSequence.KeySignature.MAJOR if mode_index == 0
                              else _NoteSequence.KeySignature.MINOR)

    tempo_times, tempo_qpms = midi.get_tempo_changes()
    for tempo_time, tempo_qpm in zip(tempo_times.tolist(), tempo_qpms.tolist()):
        tempo = sequence.tempos.add()
        tempo.time = tempo_time
        tempo.qpm = tempo_qpm

    # Notes of all instruments first, then all pitch bends, then all control
    # changes: the same field order note_seq produces.
    total_time = 0.0
    add_note = sequence.notes.add
    for instrument_index, midi_instrument in enumerate(midi.instruments):
        if midi_instrument.name:
            instrument_info = sequence.instrument_infos.add()
            instrument_info.name = midi_instrument.name
            instrument_info.instrument = instrument_index
        program = midi_instrument.program
        is_drum = midi_instrument.is_drum
        for midi_note in midi_instrument.notes:
            add_note(instrument=instrument_index, program=program,
                     start_time=midi_note.start, end_time=midi_note.end,
                     pitch=midi_note.pitch, velocity=midi_note.velocity, is_drum=is_drum)
            if midi_note.end > total_time:
                total_time = midi_note.end
    sequence.total_time = total_time

    for instrument_index, midi_instrument in enumerate(midi.instruments):
        for midi_bend in midi_instrument.pitch_bends:
            sequence.pitch_bends.add(
                    instrument=instrument_index, program=midi_instrument.program,
                    time=midi_bend.time, bend=midi_bend.pitch, is_drum=midi_instrument.is_drum)
    for instrument_index, midi_instrument in enumerate(midi.instruments):
        for midi_control in midi_instrument.control_changes:
            sequence.control_changes.add(
                    instrument=instrument_index, program=midi_instrument.program,
                    time=midi_control.time, control_number=midi_control.number,
                    control_value=midi_control.value, is_drum=midi_instrument.is_drum)
    return sequence


def midi_file_to_note_sequence(midi_file: str | os.PathLike) -> music_pb2.NoteSequence:
    """Reads a MIDI file from disk into a NoteSequence (raises MIDIConversionError)."""
    with open(midi_file, 'rb') as f:
        midi_bytes = f.read()
    try:
        return midi_to_note_sequence(midi_bytes)
    except MIDIConversionError as error:
        raise MIDIConversionError(f'{midi_file}: {error}') from error


def note_sequence_to_pretty_midi(
        sequence: music_pb2.NoteSequence,
        drop_events_n_seconds_after_last_note: float | None = None) -> pretty_midi.PrettyMIDI:
    """Builds a PrettyMIDI from a NoteSequence, keeping absolute times and the tempo map.

    Time/key signatures, tempos, pitch bends and control changes later than
    `drop_events_n_seconds_after_last_note` seconds after the last note end are
    dropped when that argument is given (a value that makes the limit 0 drops none,
    as in note_seq).
    """
    ticks_per_quarter = sequence.ticks_per_quarter or constants.STANDARD_PPQ

    max_event_time: float | None = None
    if drop_events_n_seconds_after_last_note is not None:
        max_event_time = (max([note.end_time for note in sequence.notes] or [0])
                          + drop_events_n_seconds_after_last_note)

    def dropped(event_time: float) -> bool:
        return bool(max_event_time and event_time > max_event_time)

    # The tempo list need not be sorted; the first tempo at exactly t=0 is the initial one.
    initial_tempo = next((tempo for tempo in sequence.tempos if tempo.time == 0), None)
    midi = pretty_midi.PrettyMIDI(
            resolution=ticks_per_quarter,
            initial_tempo=(initial_tempo.qpm if initial_tempo is not None
                           else constants.DEFAULT_QUARTERS_PER_MINUTE))

    # The first track also carries the time and key signatures.
    default_instrument = pretty_midi.Instrument(0)
    midi.instruments.append(default_instrument)

    for time_signature in sequence.time_signatures:
        if not dropped(time_signature.time):
            midi.time_signature_changes.append(pretty_midi.TimeSignature(
                    time_signature.numerator, time_signature.denominator, time_signature.time))

    for key_signature in sequence.key_signatures:
        if not dropped(key_signature.time):
            key_number = key_signature.key
            if key_signature.mode == _NoteSequence.KeySignature.MINOR:
                key_number += _MAJOR_TO_MINOR_OFFSET
            midi.key_signature_changes.append(
                    pretty_midi.KeySignature(key_number, key_signature.time))

    # pretty_midi has no public way to add tempo changes: extend its tick scales
    # (tick, seconds per tick) and rebuild its tick->time map after each one, so
    # later tempo times are converted to ticks under the earlier tempos.
    for tempo in sequence.tempos:
        if (initial_tempo is not None and tempo == initial_tempo) or dropped(tempo.time):
            continue
        tick_scale = 60.0 / (midi.resolution * tempo.qpm)
        tick = midi.time_to_tick(tempo.time)
        midi._tick_scales.append((tick, tick_scale))
        midi._update_tick_to_time(0)

    instrument_names = {info.instrument: info.name for info in sequence.instrument_infos}

    # (instrument, program, is_drum) -> pretty_midi notes, bends and controls.
    events: collections.defaultdict[tuple[int, int, bool], dict[str, list]] = (
        collections.defaultdict(lambda: {'notes': [], 'bends': [], 'controls': []}))
    for note in sequence.notes:
        events[(note.instrument, note.program, note.is_drum)]['notes'].append(
                pretty_midi.Note(note.velocity, note.pitch, note.start_time, note.end_time))
    for bend in sequence.pitch_bends:
        if not dropped(bend.time):
            events[(bend.instrument, bend.program, bend.is_drum)]['bends'].append(
                    pretty_midi.PitchBend(bend.bend, bend.time))
    for control in sequence.control_changes:
        if not dropped(control.time):
            events[(control.instrument, control.program, control.is_drum)]['controls'].append(
                    pretty_midi.ControlChange(control.control_number, control.control_value,
                                              control.time))

    default_track_used = False
    for key in sorted(events):
        instrument_index, program, is_drum = key
        if instrument_index <= 0 and not default_track_used:
            # The first group of instrument 0 (or below) fills the default track.
            instrument = default_instrument
            instrument.is_drum = is_drum
            default_track_used = True
        else:
            # note_seq would pour a second instrument-0 group (another program or
            # drum flag) into the same track and lose the first group's notes;
            # here every further group gets its own track.
            name = 'Drums' if is_drum else pretty_midi.program_to_instrument_name(program)
            instrument = pretty_midi.Instrument(program, is_drum, name)
            midi.instruments.append(instrument)
        instrument.program = program
        if instrument_index in instrument_names:
            instrument.name = instrument_names[instrument_index]
        instrument.notes = events[key]['notes']
        instrument.pitch_bends = events[key]['bends']
        instrument.control_changes = events[key]['controls']
    return midi


def _times_to_ticks(midi: pretty_midi.PrettyMIDI, times: np.ndarray) -> np.ndarray:
    """PrettyMIDI.time_to_tick of many times at once, with the same float arithmetic: the
    nearest tick of its tick->time map (the earlier one on a tie), or past the map's end,
    the map's last tick plus the rest at the final tempo, rounded half to even."""
    tick_to_time = np.asarray(midi._PrettyMIDI__tick_to_time,
                              np.float64)
    last = len(tick_to_time) - 1
    ticks = np.searchsorted(tick_to_time, times, side='left')
    beyond = ticks > last
    inside = np.minimum(ticks, last)
    earlier = np.maximum(inside - 1, 0)
    closer_earlier = (inside > 0) & (np.abs(times - tick_to_time[earlier])
                                     < np.abs(times - tick_to_time[inside]))
    result = np.where(closer_earlier, inside - 1, inside).astype(np.int64)
    if beyond.any():
        final_tick_scale = midi._tick_scales[-1][1]
        past = last + (times[beyond] - tick_to_time[last]) / final_tick_scale
        result[beyond] = np.round(past).astype(np.int64)
    return result


def _variable_int(value: int) -> bytes:
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.append(0x80 | (value & 0x7F))
        value >>= 7
    return bytes(reversed(out))


# Order of channel messages at one tick, as PrettyMIDI.write sorts them (a multiple of
# 65536 per type, then the message's values).
_PROGRAM_ORDER, _BEND_ORDER, _CONTROL_ORDER, _NOTE_ON_ORDER = (6 << 16, 7 << 16, 8 << 16,
                                                              10 << 16)


def _instrument_track(midi: pretty_midi.PrettyMIDI, instrument: pretty_midi.Instrument,
                      channel: int, charset: str) -> bytes:
    """One instrument's MTrk chunk, byte for byte as PrettyMIDI.write (through mido) makes it."""
    notes = instrument.notes
    bends = instrument.pitch_bends
    controls = instrument.control_changes
    times = np.array([n.start for n in notes] + [n.end for n in notes]
                     + [b.time for b in bends] + [c.time for c in controls], np.float64)
    ticks = _times_to_ticks(midi, times).tolist() if len(times) else []
    count = len(notes)
    # (tick, order, status, data bytes); note offs are note ons of velocity 0.
    events = [(0, _PROGRAM_ORDER, 0xC0 | channel, bytes([instrument.program]))]
    for i, note in enumerate(notes):
        events.append((ticks[i], _NOTE_ON_ORDER + (note.pitch << 8) + note.velocity,
                       0x90 | channel, bytes([note.pitch, note.velocity])))
        events.append((ticks[count + i], _NOTE_ON_ORDER + (note.pitch << 8), 0x90 | channel,
                       bytes([note.pitch, 0])))
    offset = 2 * count
    for i, bend in enumerate(bends):
        value = bend.pitch + 8192
        events.append((ticks[offset + i], _BEND_ORDER + bend.pitch, 0xE0 | channel,
                       bytes([value & 0x7F, value >> 7])))
    offset += len(bends)
    for i, control in enumerate(controls):
        events.append((ticks[offset + i],
                       _CONTROL_ORDER + (control.number << 8) + control.value, 0xB0 | channel,
                       bytes([control.number, control.value])))
    # Equal keys mean equal messages, so a stable key sort gives PrettyMIDI's bytes.
    events.sort(key=lambda event: (event[0], event[1]))
    data = bytearray()
    if instrument.name:
        name = instrument.name.encode(charset)
        data += b'\x00\xff\x03' + _variable_int(len(name)) + name
    running_status = None
    previous_tick = 0
    for tick, _, status, values in events:
        if tick < 0:
            raise ValueError('message time must be non-negative in MIDI file')
        if max(values) > 127:
            raise ValueError(f'MIDI data byte out of range 0..127: {list(values)}')
        data += _variable_int(tick - previous_tick)
        previous_tick = tick
        if status != running_status:
            data.append(status)
            running_status = status
        data += values
    data += b'\x01\xff\x2f\x00'  # end of track, a tick after the last event
    return b'MTrk' + struct.pack('>L', len(data)) + bytes(data)


def pretty_midi_to_bytes(midi: pretty_midi.PrettyMIDI) -> bytes:
    """The bytes PrettyMIDI.write writes, made faster: its timing track is written by
    PrettyMIDI itself, the instrument tracks (notes, bends, control changes) here."""
    timing_only = copy.copy(midi)
    timing_only.instruments = []
    buffer = io.BytesIO()
    timing_only.write(buffer)
    header_and_timing = bytearray(buffer.getvalue())
    struct.pack_into('>H', header_and_timing, 10, 1 + len(midi.instruments))
    charset = getattr(midi, '_charset', 'latin1')
    channels = [c for c in range(16) if c != 9]  # the drum channel is only for drums
    tracks = [_instrument_track(midi, instrument,
                                9 if instrument.is_drum else channels[n % len(channels)], charset)
              for n, instrument in enumerate(midi.instruments)]
    return bytes(header_and_timing) + b''.join(tracks)


def note_sequence_to_midi_file(sequence: music_pb2.NoteSequence, output_file: str | os.PathLike,
                               drop_events_n_seconds_after_last_note: float | None = None) -> None:
    """Writes a NoteSequence as a MIDI file (see note_sequence_to_pretty_midi)."""
    midi = note_sequence_to_pretty_midi(sequence, drop_events_n_seconds_after_last_note)
    data = pretty_midi_to_bytes(midi)
    with open(output_file, 'wb') as f:
        f.write(data)
