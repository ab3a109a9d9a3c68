"""Builders of the inputs the tests feed in: NoteSequences, melodies, drum tracks, performances.

Import it as `import builders` (pytest puts tests/ on sys.path). Notes are Magenta's testing
tuples (pitch, velocity, start_seconds, end_seconds). Each builder leaves out what it is not
given, so a test's proto is exactly the one it asks for.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from magenta_rnn.music.performances import Performance, PerformanceEvent
from magenta_rnn.protobuf import music_pb2

NoteTuple = tuple[int, int, float, float]

# A sixteenth note at 120 qpm, the grid of most MusicVAE and drum tests.
SIXTEENTH_AT_120 = 0.125


def add_notes(ns: music_pb2.NoteSequence, instrument: int, notes: Iterable[NoteTuple],
              **note_fields) -> music_pb2.NoteSequence:
    """Appends (pitch, velocity, start, end) notes on `instrument` with `note_fields` (program,
    is_drum, ...) and stretches total_time to the latest end."""
    for pitch, velocity, start, end in notes:
        ns.notes.add(pitch=pitch, velocity=velocity, start_time=start, end_time=end,
                     instrument=instrument, **note_fields)
        ns.total_time = max(ns.total_time, end)
    return ns


def note_sequence(notes: Iterable[NoteTuple] | Mapping[int, Iterable[NoteTuple]] = (), *,
                  qpm: float | None = 120.0,
                  time_signature: tuple[int, int] | None = (4, 4),
                  total_time: float | None = None,
                  ticks_per_quarter: int | None = None,
                  steps_per_quarter: int | None = None,
                  sequence_id: str | None = None, filename: str | None = None,
                  instrument: int = 0, **note_fields) -> music_pb2.NoteSequence:
    """A NoteSequence with one tempo and one time signature at time 0 (None leaves either out).

    notes: (pitch, velocity, start, end) tuples on `instrument`, or {instrument: tuples};
    `note_fields` (program, is_drum, ...) go on every note. total_time: the latest end unless
    given. steps_per_quarter only marks the sequence quantized (the caller sets the steps).
    """
    ns = music_pb2.NoteSequence()
    if sequence_id is not None:
        ns.id = sequence_id
    if filename is not None:
        ns.filename = filename
    if ticks_per_quarter is not None:
        ns.ticks_per_quarter = ticks_per_quarter
    if qpm:
        ns.tempos.add(qpm=qpm)
    if time_signature:
        ns.time_signatures.add(numerator=time_signature[0], denominator=time_signature[1])
    if steps_per_quarter is not None:
        ns.quantization_info.steps_per_quarter = steps_per_quarter
    tracks = notes if isinstance(notes, Mapping) else {instrument: notes}
    for track_instrument, track in tracks.items():
        add_notes(ns, track_instrument, track, **note_fields)
    if total_time is not None:
        ns.total_time = total_time
    return ns


def melody(pitches: Sequence[int], *, note_seconds: float = 0.5,
           hop_seconds: float | None = None, velocity: int = 100,
           **sequence_fields) -> music_pb2.NoteSequence:
    """One note per pitch, each `hop_seconds` (default: note_seconds, legato) after the last,
    sounding for note_seconds (0.5 s: a quarter at 120 qpm). sequence_fields: note_sequence's."""
    hop = note_seconds if hop_seconds is None else hop_seconds
    return note_sequence([(pitch, velocity, i * hop, i * hop + note_seconds)
                          for i, pitch in enumerate(pitches)], **sequence_fields)


def scale_run(first_pitch: int, count: int, *, cycle: int = 7,
              **melody_fields) -> music_pb2.NoteSequence:
    """`count` notes climbing from first_pitch and starting over every `cycle` notes."""
    return melody([first_pitch + k % cycle for k in range(count)], **melody_fields)


def drum_track(hits: Iterable[tuple[float, int] | tuple[float, int, int]], *,
               note_seconds: float = 0.1, velocity: int = 100,
               **sequence_fields) -> music_pb2.NoteSequence:
    """Drum hits (start_seconds, pitch[, velocity]) on instrument 9, each note_seconds long."""
    notes = [(hit[1], hit[2] if len(hit) > 2 else velocity, hit[0], hit[0] + note_seconds)
             for hit in hits]
    return note_sequence(notes, instrument=9, is_drum=True, **sequence_fields)


def performance(events: Iterable[tuple[int, int]], *, steps_per_second: int = 100,
                **performance_fields) -> Performance:
    """A Performance from (event_type, event_value) pairs."""
    result = Performance(steps_per_second=steps_per_second, **performance_fields)
    for event in events:
        result.append(PerformanceEvent(*event))
    return result


def band_song(bars: int = 16) -> music_pb2.NoteSequence:
    """`bars` bars of 4/4 at 120 qpm (2 s a bar): a melody (program 0), a bass (program 33)
    and drums (kick, snare, a late hi-hat), enough for every shipped config to find its part."""
    ns = note_sequence(ticks_per_quarter=220)
    scale = [60, 62, 64, 65, 67, 69, 71, 72]
    for quarter in range(4 * bars):
        t = 0.5 * quarter
        ns.notes.add(pitch=scale[(quarter * 3) % 8], start_time=t, end_time=t + 0.45,
                     velocity=60 + (quarter * 7) % 60, program=0, instrument=0)
        if quarter % 2 == 0:
            ns.notes.add(pitch=36 + (quarter // 2) % 12, start_time=t, end_time=t + 0.9,
                         velocity=80, program=33, instrument=1)
        ns.notes.add(pitch=36, start_time=t, end_time=t + 0.1, velocity=100, is_drum=True,
                     instrument=9)
        ns.notes.add(pitch=42, start_time=t + 0.25 + 0.01 * (quarter % 3),
                     end_time=t + 0.35, velocity=50 + quarter % 40, is_drum=True, instrument=9)
        if quarter % 4 in (1, 3):
            ns.notes.add(pitch=38, start_time=t, end_time=t + 0.1, velocity=90, is_drum=True,
                         instrument=9)
    ns.total_time = 2.0 * bars
    return ns


def piano_song(bars: int = 16) -> music_pb2.NoteSequence:
    """band_song's melody and bass as one piano part (performances take one program)."""
    ns = band_song(bars)
    kept = [note for note in ns.notes if not note.is_drum]
    del ns.notes[:]
    for note in kept:
        note.program, note.instrument = 0, 0
        ns.notes.append(note)
    return ns
