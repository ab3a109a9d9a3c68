"""A cheap look at a MIDI file's bytes before it is parsed: bombs are refused, and
broken files get a reason that says what is wrong with them. TF-free, parser-free.

Parsing allocates per tick, not per byte: pretty_midi builds a tick -> seconds table
as long as the file's last tick, so a 736-byte file whose one delta time is
0x0FFFFFFF ticks would need gigabytes. `scan` walks the chunks and events as mido
reads them (same running-status, meta and sysex rules) and adds up the delta times,
so such a file is refused before any parser sees it.
"""
from __future__ import annotations

import dataclasses
import struct

# Far above real music (the largest of the 6,988 files in the shared data sets ends
# before tick 1.8 million; 2**24 ticks is 4.9 hours at 480 ticks per quarter and
# 120 qpm) and small enough that the parser's tick table stays near 130 MB.
MAX_TICKS = 2 ** 24
# A file longer than this is not a piece of music but a timing error.
MAX_SECONDS = 6 * 3600.0
# The largest real MIDI files are a few megabytes.
MAX_FILE_BYTES = 64 * 2 ** 20

_MAX_MESSAGE_LENGTH = 1_000_000  # mido refuses longer meta/sysex messages
_SYSTEM_MESSAGE_LENGTHS = {0xF1: 2, 0xF2: 3, 0xF3: 2, 0xF6: 1, 0xF8: 1, 0xFA: 1, 0xFB: 1,
                           0xFC: 1, 0xFE: 1}
_DEFAULT_MICROSECONDS_PER_QUARTER = 500_000


@dataclasses.dataclass
class MidiScan:
    """What the scan found.

    refusal: why the file must not be parsed at all (a bomb), else None.
    problem: what a parser will trip over (truncated, not MIDI, ...), else None; the
      file may still parse, so this is only the reason given when parsing fails.
    """
    refusal: str | None = None
    problem: str | None = None
    max_tick: int = 0
    seconds: float = 0.0


class _Truncated(Exception):
    pass


def _variable_int(data: bytes, pos: int) -> tuple[int, int]:
    """(value, next position) of a variable-length quantity; unbounded, as mido reads it."""
    value = 0
    while True:
        if pos >= len(data):
            raise _Truncated
        byte = data[pos]
        pos += 1
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            return value, pos


def scan(data: bytes) -> MidiScan:
    """Looks at MIDI file bytes without parsing them into messages."""
    result = MidiScan()
    if len(data) > MAX_FILE_BYTES:
        result.refusal = (f'the file is {len(data) / 2 ** 20:.0f} MB, more than the '
                          f'{MAX_FILE_BYTES // 2 ** 20} MB any real MIDI file needs')
        return result
    if not data:
        result.problem = 'the file is empty'
        return result
    if data[:4] != b'MThd':
        result.problem = f'not a MIDI file: it starts with {data[:4]!r}, not b"MThd"'
        return result
    if len(data) < 14:
        result.problem = f'the file ends inside its header ({len(data)} bytes)'
        return result
    header_size = struct.unpack_from('>L', data, 4)[0]
    if header_size < 6:
        result.problem = f'the header chunk is {header_size} bytes long, less than 6'
        return result
    _, num_tracks, division = struct.unpack_from('>hhh', data, 8)
    if division == 0:
        result.problem = 'the header gives 0 ticks per quarter note'
    tempos: list[tuple[int, int]] = []
    pos = 8 + header_size
    try:
        for track in range(max(0, num_tracks)):
            pos = _scan_track(data, pos, track, result, tempos if track == 0 else None)
            if result.refusal or (result.problem and result.problem.startswith('track')):
                break
    except _Truncated:
        result.problem = result.problem or (
            f'the file is truncated: it ends inside a track (the header promises '
            f'{num_tracks} tracks)')
    if not result.refusal:
        result.seconds = _seconds(result.max_tick, tempos, division)
        if result.seconds > MAX_SECONDS:
            result.refusal = (f'its last event is {result.seconds / 3600:.1f} hours in '
                              f'(tick {result.max_tick}); more than {MAX_SECONDS / 3600:.0f} '
                              'hours is a timing error, not music')
    return result


def _scan_track(data: bytes, pos: int, track: int, result: MidiScan,
                tempos: list[tuple[int, int]] | None) -> int:
    """Walks one MTrk chunk from `pos`; returns the position after it."""
    if pos + 8 > len(data):
        raise _Truncated
    name, size = struct.unpack_from('>4sL', data, pos)
    if name != b'MTrk':
        result.problem = f'track {track}: a {name!r} chunk where an MTrk chunk should be'
        return pos
    pos += 8
    end_of_chunk = pos + size
    size_of_data = len(data)
    tick = 0
    max_tick = result.max_tick
    last_status = None
    # Like mido, read events until one ends exactly at the chunk's end (a chunk whose
    # size is wrong runs on into the next one). The loop is written for speed: it
    # runs once per event of every file converted.
    while pos != end_of_chunk:
        if pos >= size_of_data:
            raise _Truncated
        byte = data[pos]
        pos += 1
        if byte & 0x80:
            delta = byte & 0x7F
            while byte & 0x80:
                if pos >= size_of_data:
                    raise _Truncated
                byte = data[pos]
                pos += 1
                delta = (delta << 7) | (byte & 0x7F)
            tick += delta
            if tick > max_tick:
                max_tick = tick
                if tick > MAX_TICKS:
                    result.max_tick = tick
                    result.refusal = (f'track {track} reaches tick {tick} (a delta time of '
                                      f'{delta} ticks); more than {MAX_TICKS} ticks would '
                                      'take gigabytes to parse, so the file is corrupt or '
                                      'hostile')
                    return pos
        elif byte:
            tick += byte
            if tick > max_tick:
                max_tick = tick
        if pos >= size_of_data:
            raise _Truncated
        status = data[pos]
        pos += 1
        if status < 0x80:
            if last_status is None:
                result.problem = (f'track {track}: a data byte where the first status byte '
                                  'should be (running status with nothing to run on)')
                return pos
            status = last_status
            if status not in (0xF0, 0xF7):
                pos -= 1  # the byte read was the message's first data byte (mido drops
                # it before a running-status sysex)
        elif status != 0xFF:
            last_status = status
        if status < 0xF0:
            end = pos + (1 if 0xC0 <= status < 0xE0 else 2)
            if end > size_of_data:
                raise _Truncated
            if data[pos] > 0x7F or data[end - 1] > 0x7F:
                result.problem = (f'track {track}: a data byte above 127 after status '
                                  f'0x{status:02x}')
                return pos
            pos = end
            continue
        if status == 0xFF or status in (0xF0, 0xF7):
            if status == 0xFF:
                if pos >= size_of_data:
                    raise _Truncated
                meta_type = data[pos]
                pos += 1
            length, pos = _variable_int(data, pos)
            if length > _MAX_MESSAGE_LENGTH:
                result.problem = (f'track {track}: a message claims {length} bytes, more '
                                  f'than the {_MAX_MESSAGE_LENGTH} a MIDI reader accepts')
                return pos
            if pos + length > size_of_data:
                raise _Truncated
            if status == 0xFF and meta_type == 0x51 and length == 3 and tempos is not None:
                tempos.append((tick, int.from_bytes(data[pos:pos + 3], 'big')))
            pos += length
            continue
        if status not in _SYSTEM_MESSAGE_LENGTHS:
            result.problem = f'track {track}: undefined status byte 0x{status:02x}'
            return pos
        end = pos + _SYSTEM_MESSAGE_LENGTHS[status] - 1
        if end > size_of_data:
            raise _Truncated
        if any(byte > 0x7F for byte in data[pos:end]):
            result.problem = f'track {track}: a data byte above 127 after status 0x{status:02x}'
            return pos
        pos = end
    result.max_tick = max_tick
    return pos


def _seconds(max_tick: int, tempos: list[tuple[int, int]], division: int) -> float:
    """Seconds to `max_tick` under track 0's tempo changes (0 for SMPTE or 0 division)."""
    if division <= 0:
        return 0.0
    seconds, last_tick, tempo = 0.0, 0, _DEFAULT_MICROSECONDS_PER_QUARTER
    for tick, new_tempo in sorted(tempos):
        if tick >= max_tick:
            break
        seconds += (tick - last_tick) * tempo / 1e6 / division
        last_tick, tempo = tick, new_tempo
    return seconds + (max_tick - last_tick) * tempo / 1e6 / division


def describe_parse_error(error: BaseException, scan_result: MidiScan | None = None) -> str:
    """A skip reason that says what is wrong with the file, not only an exception's name."""
    cause = error.__cause__ or error
    text = str(cause).strip()
    if scan_result is not None and scan_result.problem:
        return scan_result.problem
    if isinstance(cause, EOFError):
        return 'the file is truncated: it ends in the middle of a chunk or event'
    if isinstance(cause, ZeroDivisionError):
        return 'a zero where timing needs a number (0 ticks per quarter or a zero tempo)'
    if isinstance(cause, (ValueError, TypeError)) and 'empty' in text and 'max()' in text:
        return 'the file holds no tracks or no events'
    if not text:
        return f'the MIDI reader failed with {type(cause).__name__} and no message'
    return text if cause is error else f'{text} ({type(cause).__name__})'
