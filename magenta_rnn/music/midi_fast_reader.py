"""MIDI bytes -> serialized NoteSequence, with NumPy, giving midi_io's pretty_midi path's bytes.

midi_io reads MIDI through mido and pretty_midi, as the original does; most of a
conversion's time went there, one Python object per event. This reader walks the
events with array arithmetic and a single tight loop, pairs notes, assigns
instruments and times exactly as pretty_midi does (its rules are restated where
they are applied below), and writes the NoteSequence wire format directly.

It only accepts what it reproduces exactly: anything unusual (running status after
a sysex, a message running past its chunk, a delta time of more than 4 bytes, a
zero or SMPTE division, an empty track, a data byte above 127, a meta message mido
or pretty_midi would reject, ...) raises NotFastPath, and the caller takes the exact
path, which gives the original's NoteSequence or its error. tests/test_midi_fast_reader.py
checks equality with the exact path byte for byte on every MIDI file of the shared data.
"""
from __future__ import annotations

import struct
import warnings
from typing import Any

import numpy as np
from mido.midifiles import meta as mido_meta
import pretty_midi

from magenta_rnn.protobuf import music_pb2

_NoteSequence = music_pb2.NoteSequence

# Files beyond these bounds are left to the exact path, where midi_guard decides on
# them (its limits, with a margin for its own float arithmetic).
_MAX_TICK = 2 ** 24
_MAX_SECONDS = 6 * 3600.0 * 0.99
_MAX_MESSAGE_LENGTH = 1_000_000  # mido refuses longer meta and sysex messages
_MAX_TRACK_BYTES = 16 * 2 ** 20  # far above real tracks; bounds the walk's tables (~200 MB)
_MAX_INSTRUMENTS = 2 ** 14  # instrument indices of at most 2 varint bytes
_NON_ZERO_TRACK_WARNING = (
        'Tempo, Key or Time signature change events found on non-zero tracks.  This is not a '
        'valid type 0 or type 1 MIDI file.  Tempo, Key or Time Signature may be wrong.')


class NotFastPath(Exception):
    """The file needs the exact (mido + pretty_midi) path."""


class _Track:
    """One track's events: channel messages as arrays (ticks, kinds = status & 0xF0,
    channels, data bytes, index among all the track's events), meta messages as
    (event index, tick, mido message, payload length)."""
    __slots__ = ('ticks', 'kinds', 'channels', 'data1', 'data2', 'positions', 'metas',
                 'last_tick')
    ticks: np.ndarray
    kinds: np.ndarray
    channels: np.ndarray
    data1: np.ndarray
    data2: np.ndarray
    positions: np.ndarray
    metas: list[tuple[int, int, Any, int]]
    last_tick: int


def _vlq_ends(track: np.ndarray) -> np.ndarray:
    """For every byte position p of `track` (zero-padded at the end): the position of the
    last byte of the variable-length quantity starting at p, the first byte below 0x80
    at or after p."""
    size = len(track)
    last = np.where(track < 0x80, np.arange(size, dtype=np.int32), size)[::-1]
    return np.minimum.accumulate(last)[::-1]


def _vlq_values(track: np.ndarray, last: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """The values of the variable-length quantities at `starts` (-1 where one is longer
    than 4 bytes, which the fast path leaves to mido)."""
    length = last[starts] - starts
    value = (track[starts] & 0x7F).astype(np.int64)
    for extra in (1, 2, 3):
        more = (track[np.minimum(starts + extra, len(track) - 1)] & 0x7F).astype(np.int64)
        value = np.where(length >= extra, (value << 7) | more, value)
    return np.where(length > 3, -1, value)


def _read_track(data: np.ndarray, start: int, end: int) -> _Track:
    """Walks one MTrk chunk's events the way mido reads them."""
    size = end - start
    if size <= 0:
        raise NotFastPath  # no events: pretty_midi fails on the empty track
    if size > _MAX_TRACK_BYTES:
        raise NotFastPath  # its tables would take gigabytes: midi_guard and mido decide
    # Reads past the chunk land in zeros (and positions past it), so they overshoot its end.
    padding = 16
    track = np.zeros(size + padding, np.uint8)
    track[:size] = data[start:end]
    count = size + padding - 3  # event starts considered
    last = _vlq_ends(track)[:count]
    short = last - np.arange(count, dtype=np.int32) <= 3  # delta times of at most 4 bytes
    status_at = np.minimum(last + 1, count - 3)  # the byte after each delta time
    status = track[status_at]
    running = status < 0x80
    meta = status == 0xFF
    channel_message = ~running & (status < 0xF0)
    one_data_byte = (status & 0xE0) == 0xC0  # program change, channel aftertouch
    explicit_next = status_at + 3 - one_data_byte
    valid = short & channel_message
    # Meta: type byte, length, payload. Sysex: length, payload. Few positions.
    framed = np.flatnonzero(meta | (status == 0xF0) | (status == 0xF7))
    if framed.size:
        length_at = status_at[framed] + 1 + meta[framed]
        length = _vlq_values(track, last, length_at)
        # A negative length (over 4 bytes) or one above mido's limit is refused.
        valid[framed] = short[framed] & (length.astype(np.uint64) <= _MAX_MESSAGE_LENGTH)
        explicit_next[framed] = last[length_at] + 1 + length
    # States: 0 = no running status (at the start, after a sysex: left to mido), 1 or 2 =
    # the running status's message has that many data bytes. Meta messages keep the state.
    refused = 3 * count + 3
    transitions = np.empty((count, 3), np.int32)
    explicit_state = channel_message * (2 - one_data_byte)
    state_zero = transitions[:, 0]
    state_zero[:] = np.where(valid, explicit_next * 3 + explicit_state, refused)
    running_ok = running & short
    running_next = status_at * 3
    transitions[:, 1] = np.where(running_ok, running_next + 4, state_zero + meta)
    transitions[:, 2] = np.where(running_ok, running_next + 8, state_zero + 2 * meta)
    following = memoryview(transitions.reshape(-1).data)
    # The one sequential step: from the chunk's start, follow event to event.
    walk: list[int] = []
    append = walk.append
    index = 0
    end_index = 3 * size
    while index < end_index:
        append(index)
        index = following[index]
    if index >= end_index + 3:  # a message ran past the chunk's end (or was refused above)
        raise NotFastPath
    event_start = np.array(walk, np.int64) // 3
    at = status_at[event_start]
    byte = status[event_start]
    is_running = byte < 0x80
    is_channel = (byte >= 0x80) & (byte < 0xF0)
    # A running-status message repeats the last explicit channel status.
    setter = np.where(is_channel, np.arange(len(byte)), 0)
    np.maximum.accumulate(setter, out=setter)
    full_status = np.where(is_running, byte[setter], byte)
    result = _Track()
    ticks = np.cumsum(_vlq_values(track, last, event_start))
    result.last_tick = int(ticks[-1])
    channel_events = np.flatnonzero(is_running | is_channel)
    status_of = full_status[channel_events].astype(np.int32)
    first_data = at[channel_events] + ~is_running[channel_events]
    first = track[first_data].astype(np.int32)
    second = track[first_data + 1].astype(np.int32)
    two_bytes = (status_of & 0xE0) != 0xC0
    second = np.where(two_bytes, second, 0)
    if first.size and (first.max() > 127 or second.max() > 127):
        raise NotFastPath  # mido refuses data bytes above 127
    result.ticks = ticks[channel_events]
    result.kinds = status_of & 0xF0
    result.channels = status_of & 0x0F
    result.data1 = first
    result.data2 = second
    result.positions = channel_events
    result.metas = []
    if len(channel_events) < len(byte):
        other = np.flatnonzero(~(is_running | is_channel))
        _read_metas(track, other, at, byte, last, ticks, result.metas)
    return result


def _vlq_value(raw: bytes, position: int) -> int:
    value = 0
    while True:
        byte = raw[position]
        position += 1
        value = (value << 7) | (byte & 0x7F)
        if byte < 0x80:
            return value


def _read_metas(track: np.ndarray, events: np.ndarray, status_at: np.ndarray,
                status: np.ndarray, last: np.ndarray, ticks: np.ndarray, metas: list) -> None:
    """(event index, tick, mido meta message) of the meta events; sysex payloads checked
    as mido checks them."""
    raw = track.tobytes()
    with mido_meta.meta_charset('latin1'):
        for event in events.tolist():
            at = int(status_at[event])
            if status[event] == 0xFF:
                length_at = at + 2
                begin = int(last[length_at]) + 1
                payload = raw[begin:begin + _vlq_value(raw, length_at)]
                try:
                    message = mido_meta.build_meta_message(raw[at + 1], list(payload))
                except Exception as error:  # mido's own error comes from the exact path
                    raise NotFastPath from error
                metas.append((event, int(ticks[event]), message, len(payload)))
            else:
                begin = int(last[at + 1]) + 1
                payload = raw[begin:begin + _vlq_value(raw, at + 1)]
                if payload[:1] == b'\xf0':
                    payload = payload[1:]
                if payload[-1:] == b'\xf7':
                    payload = payload[:-1]
                if payload and max(payload) > 127:
                    raise NotFastPath  # mido refuses the sysex


def _tick_scales(resolution: int, track_zero: _Track) -> list[tuple[int, float]]:
    """pretty_midi's (tick, seconds per tick) list from track 0's tempo changes: one at
    tick 0 replaces the list, later ones are added when the tick scale changes."""
    scales = [(0, 60.0 / (120.0 * resolution))]
    for _, tick, message, _ in track_zero.metas:
        if message.type != 'set_tempo':
            continue
        if message.tempo == 0:
            raise NotFastPath
        if tick == 0:
            scales = [(0, 60.0 / ((6e7 / message.tempo) * resolution))]
        else:
            tick_scale = 60.0 / ((6e7 / message.tempo) * resolution)
            if tick_scale != scales[-1][1]:
                scales.append((tick, tick_scale))
    return scales


class _TickClock:
    """pretty_midi's tick -> seconds map, evaluated only at the ticks asked for, with its
    float arithmetic: each tempo segment starts at the previous segment's time at its
    start tick and adds tick_scale * (tick - start)."""

    def __init__(self, scales: list[tuple[int, float]]):
        self.starts = np.array([tick for tick, _ in scales], np.int64)
        self.scales = np.array([scale for _, scale in scales], np.float64)
        start_times = np.zeros(len(scales), np.float64)
        for k in range(1, len(scales)):
            start_times[k] = (start_times[k - 1]
                              + self.scales[k - 1] * np.float64(self.starts[k] - self.starts[k - 1]))
        self.start_times = start_times

    def __call__(self, ticks: np.ndarray) -> np.ndarray:
        segment = np.searchsorted(self.starts, ticks, side='right') - 1
        return (self.start_times[segment]
                + self.scales[segment] * (ticks - self.starts[segment]).astype(np.float64))


def _programs(track: _Track) -> np.ndarray:
    """The program of each channel event's channel when it comes: that of the channel's
    last earlier program change in the track, else 0."""
    programs = np.zeros(len(track.kinds), np.int64)
    changes = np.flatnonzero(track.kinds == 0xC0)
    for channel in np.unique(track.channels[changes]).tolist():
        on_channel = np.flatnonzero(track.channels == channel)
        channel_changes = changes[track.channels[changes] == channel]
        earlier = np.searchsorted(channel_changes, on_channel, side='left') - 1
        programs[on_channel] = np.where(earlier >= 0, track.data1[channel_changes[earlier]], 0)
    return programs


def _pair_notes(track: _Track) -> tuple[np.ndarray, np.ndarray]:
    """(note-on event, note-off event) of each note, in the order pretty_midi appends them.

    pretty_midi keeps, per (channel, pitch), the list of open note-ons. A note-off (or a
    note-on of velocity 0) closes every open note that did not start at its own tick;
    those that did are kept open if it closed others, and dropped if it closed none.
    Notes are appended in note-off order, and in note-on order within one note-off.
    Keys whose events simply alternate on, off (later tick), with stray note-offs in
    between, pair neighbours; the others replay those rules one event at a time.
    """
    kinds, data2 = track.kinds, track.data2
    is_on = (kinds == 0x90) & (data2 > 0)
    is_off = (kinds == 0x80) | ((kinds == 0x90) & (data2 == 0))
    note_events = np.flatnonzero(is_on | is_off)
    if not note_events.size:
        empty = np.zeros(0, np.int64)
        return empty, empty
    keys = track.channels[note_events] * 128 + track.data1[note_events]
    order = np.argsort(keys, kind='stable')
    events = note_events[order]
    keys = keys[order]
    on = is_on[events]
    ticks = track.ticks[events]
    pairs = on[:-1] & ~on[1:] & (keys[:-1] == keys[1:]) & (ticks[1:] > ticks[:-1])
    pairs = np.append(pairs, False)
    on_events = [events[pairs]]
    off_events = [events[np.flatnonzero(pairs) + 1]]
    tangled = np.unique(keys[on & ~pairs])
    if tangled.size:
        # Drop the neighbour pairs of tangled keys and replay those keys exactly.
        keep = ~np.isin(keys[pairs], tangled)
        on_events[0] = on_events[0][keep]
        off_events[0] = off_events[0][keep]
        replay_on, replay_off = [], []
        in_tangled = np.isin(keys, tangled)
        for key in tangled.tolist():
            key_events = events[in_tangled & (keys == key)].tolist()
            open_notes: list[tuple[int, int]] = []
            for event in key_events:
                tick = int(track.ticks[event])
                if is_on[event]:
                    open_notes.append((event, tick))
                elif open_notes:
                    closed = [start for start, start_tick in open_notes if start_tick != tick]
                    kept = [(start, start_tick) for start, start_tick in open_notes
                            if start_tick == tick]
                    replay_on.extend(closed)
                    replay_off.extend([event] * len(closed))
                    open_notes = kept if closed and kept else []
        on_events.append(np.array(replay_on, np.int64))
        off_events.append(np.array(replay_off, np.int64))
    note_on = np.concatenate(on_events)
    note_off = np.concatenate(off_events)
    order = np.lexsort((note_on, note_off))
    return note_on[order], note_off[order]


class _Instrument:
    """A pretty_midi instrument as channel-event indices into its track's arrays."""
    __slots__ = ('program', 'channel', 'name', 'notes_on', 'notes_off', 'track', 'bends',
                 'controls')
    program: int
    channel: int
    name: str
    notes_on: np.ndarray
    notes_off: np.ndarray
    track: int
    bends: np.ndarray
    controls: np.ndarray


def _instruments(tracks: list[_Track]) -> list[_Instrument]:
    """pretty_midi's instruments, in its order: one per (program, channel, track) that has
    notes, created at its first note's note-off, with the track name known then.

    Control changes and pitch bends go to the instrument of their (program, channel,
    track) if it exists by then, else to a "straggler" of (channel, track), created by
    the first such event. An instrument created while its (channel, track) has a
    straggler shares the straggler's event lists (the same list objects), so it gets
    every event sent to the straggler, or to any instrument sharing it, before or after.
    """
    instruments: list[_Instrument] = []
    for track_index, track in enumerate(tracks):
        programs = _programs(track)
        note_on, note_off = _pair_notes(track)
        instrument_keys = programs[note_off] * 16 + track.channels[note_off]
        unique_keys, first = np.unique(instrument_keys, return_index=True)
        names = [(event, message.name) for event, _, message, _ in track.metas
                 if message.type == 'track_name']
        created_at = {}  # instrument key -> channel event index of its creation
        track_instruments = []
        for position in np.sort(first).tolist():
            key = int(instrument_keys[position])
            instrument = _Instrument()
            instrument.program, instrument.channel = divmod(key, 16)
            instrument.track = track_index
            creation = int(note_off[position])
            created_at[key] = creation
            creation_event = int(track.positions[creation])
            instrument.name = next((name for event, name in reversed(names)
                                    if event < creation_event), '')
            of_key = instrument_keys == key
            instrument.notes_on = note_on[of_key]
            instrument.notes_off = note_off[of_key]
            track_instruments.append((key, creation, instrument))
        # Where each control change and pitch bend goes: an instrument key, or -1 - channel
        # for the channel's straggler.
        controls = np.flatnonzero((track.kinds == 0xB0) | (track.kinds == 0xE0))
        control_keys = programs[controls] * 16 + track.channels[controls]
        target = -1 - track.channels[controls]
        for key, creation, _ in track_instruments:
            target[(control_keys == key) & (controls > creation)] = key
        straggler_created = {}
        for channel in np.unique(track.channels[controls]).tolist():
            to_straggler = controls[target == -1 - channel]
            if to_straggler.size:
                straggler_created[channel] = int(to_straggler[0])
        shares = {}
        for key, creation, _ in track_instruments:
            channel = key % 16
            if straggler_created.get(channel, creation) < creation:
                shares[key] = -1 - channel
        if shares:
            for key, straggler in shares.items():
                target[target == key] = straggler
        is_bend = track.kinds[controls] == 0xE0
        for key, _, instrument in track_instruments:
            events = controls[target == shares.get(key, key)]
            bend_of = is_bend[target == shares.get(key, key)]
            instrument.bends = events[bend_of]
            instrument.controls = events[~bend_of]
            instruments.append(instrument)
    if len(instruments) > _MAX_INSTRUMENTS:
        raise NotFastPath
    return instruments


# A field block: (bytes: rows x columns, which rows have the field, its width per row).
_Block = tuple[np.ndarray, np.ndarray, np.ndarray]


def _varint_block(tag: int, values: np.ndarray) -> _Block:
    """A varint field: tag then the value (int32 negatives as 10 bytes, as protobuf
    writes them); absent where the value is 0."""
    present = values != 0
    if not len(values) or (values.min() >= 0 and values.max() < 128):
        columns = np.empty((len(values), 2), np.uint8)
        columns[:, 0] = tag
        columns[:, 1] = values
        return columns, present, np.full(len(values), 2)
    unsigned = values.astype(np.int64).view(np.uint64)
    widths = np.ones(len(values), np.int64)
    for shift in range(7, 64, 7):
        widths += (unsigned >> np.uint64(shift)) != 0
    width = int(widths.max(initial=1))
    columns = np.empty((len(values), 1 + width), np.uint8)
    columns[:, 0] = tag
    for index in range(width):
        part = ((unsigned >> np.uint64(7 * index)) & np.uint64(0x7F)).astype(np.uint8)
        columns[:, 1 + index] = np.where(widths > index + 1, part | 0x80, part)
    return columns, present, widths + 1


def _double_block(tag: int, values: np.ndarray) -> _Block:
    columns = np.empty((len(values), 9), np.uint8)
    columns[:, 0] = tag
    columns[:, 1:] = values.astype('<f8').view(np.uint8).reshape(len(values), 8)
    return columns, values != 0, np.full(len(values), 9)


def _repeated_messages(field_tag: int, blocks: list[_Block]) -> bytes:
    """The wire bytes of a repeated message field: per row, tag, length and the present
    fields (every message here is shorter than 128 bytes)."""
    rows = len(blocks[0][0])
    if not rows:
        return b''
    blocks = [block for block in blocks if block[1].any()]  # fields no row has
    lengths = sum(np.where(present, widths, 0) for _, present, widths in blocks)
    head = np.empty((rows, 2), np.uint8)
    head[:, 0] = field_tag
    head[:, 1] = lengths
    whole = np.concatenate([head] + [columns for columns, _, _ in blocks], axis=1)
    if all(present.all() and (widths == columns.shape[1]).all()
           for columns, present, widths in blocks):
        return whole.tobytes()  # every row has every field at full width
    masks = [np.ones((rows, 2), bool)]
    for columns, present, widths in blocks:
        masks.append((np.arange(columns.shape[1])[None, :] < widths[:, None])
                     & present[:, None])
    return whole[np.concatenate(masks, axis=1)].tobytes()


def _gather(instruments: list[_Instrument], tracks: list[_Track], field: str,
            arrays: tuple[str, ...]) -> tuple[np.ndarray, ...]:
    """Per event of `field` over all instruments in order: instrument index, program,
    is_drum and the named _Track arrays (plus ticks) at the events."""
    parts = []
    for index, instrument in enumerate(instruments):
        events = getattr(instrument, field)
        track = tracks[instrument.track]
        count = len(events)
        parts.append((np.full(count, index, np.int64), np.full(count, instrument.program, np.int64),
                      np.full(count, instrument.channel == 9, np.bool_), track.ticks[events],
                      *(getattr(track, name)[events] for name in arrays)))
    if not parts:
        return tuple(np.zeros(0, np.int64) for _ in range(4 + len(arrays)))
    return tuple(np.concatenate(column) for column in zip(*parts))


def note_sequence_bytes(midi_bytes: bytes) -> bytes:
    """The serialized NoteSequence midi_io.midi_to_note_sequence makes of these MIDI bytes
    (id, filename and collection_name unset), or NotFastPath."""
    if len(midi_bytes) < 14 or midi_bytes[:4] != b'MThd':
        raise NotFastPath
    (header_size,) = struct.unpack_from('>L', midi_bytes, 4)
    _, num_tracks, resolution = struct.unpack_from('>hhh', midi_bytes, 8)
    if header_size < 6 or num_tracks <= 0 or resolution <= 0:
        raise NotFastPath
    data = np.frombuffer(midi_bytes, np.uint8)
    position = 8 + header_size
    tracks = []
    for _ in range(num_tracks):
        if position + 8 > len(midi_bytes) or midi_bytes[position:position + 4] != b'MTrk':
            raise NotFastPath
        (size,) = struct.unpack_from('>L', midi_bytes, position + 4)
        position += 8
        if position + size > len(midi_bytes):
            raise NotFastPath
        tracks.append(_read_track(data, position, position + size))
        position += size

    max_tick = max(track.last_tick for track in tracks)
    tempos = [message.tempo for _, _, message, _ in tracks[0].metas
              if message.type == 'set_tempo']
    if any(length != 3 for _, _, message, length in tracks[0].metas
           if message.type == 'set_tempo'):
        raise NotFastPath  # midi_guard reads only 3-byte tempos: let it judge the file
    longest_quarter = max(tempos + [500_000])
    if max_tick > _MAX_TICK or max_tick * longest_quarter / 1e6 / resolution > _MAX_SECONDS:
        raise NotFastPath  # within reach of midi_guard's limits: the exact path decides
    if any(message.type in ('set_tempo', 'key_signature', 'time_signature')
           for track in tracks[1:] for _, _, message, _ in track.metas):
        warnings.warn(_NON_ZERO_TRACK_WARNING, RuntimeWarning, stacklevel=2)

    scales = _tick_scales(resolution, tracks[0])
    clock = _TickClock(scales)
    head = _NoteSequence()
    head.ticks_per_quarter = resolution
    try:
        for _, tick, message, _ in tracks[0].metas:
            if message.type == 'time_signature':
                signature = pretty_midi.TimeSignature(message.numerator, message.denominator, 0.0)
                if signature.denominator >= 2 ** 31:
                    raise NotFastPath  # MIDIConversionError comes from the exact path
                head.time_signatures.add(time=float(clock(np.array([tick]))[0]),
                                         numerator=signature.numerator,
                                         denominator=signature.denominator)
        for _, tick, message, _ in tracks[0].metas:
            if message.type == 'key_signature':
                key_number = pretty_midi.key_name_to_key_number(message.key)
                head.key_signatures.add(time=float(clock(np.array([tick]))[0]),
                                        key=key_number % 12, mode=key_number // 12)
    except ValueError as error:  # pretty_midi's refusal comes from the exact path
        raise NotFastPath from error
    for (_, tick_scale), time in zip(scales, clock(clock.starts).tolist()):
        head.tempos.add(time=time, qpm=60.0 / (tick_scale * resolution))

    instruments = _instruments(tracks)
    index, program, drum, start_tick, on_pitch, velocity = _gather(
            instruments, tracks, 'notes_on', ('data1', 'data2'))
    end_tick = _gather(instruments, tracks, 'notes_off', ())[3]
    end_time = clock(end_tick)
    notes = _repeated_messages(0x42, [
            _varint_block(0x08, on_pitch), _varint_block(0x10, velocity),
            _double_block(0x19, clock(start_tick)), _double_block(0x21, end_time),
            _varint_block(0x38, index), _varint_block(0x40, program),
            _varint_block(0x48, drum.astype(np.int64))])
    index, program, drum, bend_ticks, low, high = _gather(instruments, tracks, 'bends',
                                                          ('data1', 'data2'))
    bends = _repeated_messages(0x52, [
            _double_block(0x09, clock(bend_ticks)), _varint_block(0x10, low + (high << 7) - 8192),
            _varint_block(0x18, index), _varint_block(0x20, program),
            _varint_block(0x28, drum.astype(np.int64))])
    index, program, drum, control_ticks, number, value = _gather(
            instruments, tracks, 'controls', ('data1', 'data2'))
    controls = _repeated_messages(0x5A, [
            _double_block(0x09, clock(control_ticks)), _varint_block(0x10, number),
            _varint_block(0x18, value), _varint_block(0x20, index),
            _varint_block(0x28, program), _varint_block(0x30, drum.astype(np.int64))])

    total = _NoteSequence(total_time=float(end_time.max()) if len(end_time) else 0.0)
    tail = _NoteSequence()
    tail.source_info.parser = _NoteSequence.SourceInfo.PRETTY_MIDI
    tail.source_info.encoding_type = _NoteSequence.SourceInfo.MIDI
    for instrument_index, instrument in enumerate(instruments):
        if instrument.name:
            tail.instrument_infos.add(name=instrument.name, instrument=instrument_index)
    # Fields in field-number order, as protobuf serializes them.
    return b''.join((head.SerializeToString(), notes, total.SerializeToString(), bends,
                     controls, tail.SerializeToString()))
