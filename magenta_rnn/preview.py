"""Listen and look: a piano-roll PNG and a WAV beside a MIDI file.

The PNG is drawn with NumPy and written with zlib (no imaging library): time runs left
to right, pitch bottom to top, brighter notes are louder, drums are orange, and thin
lines mark bars (4/4 at the file's first tempo). The WAV is rendered with the General
MIDI SoundFont pretty_midi ships (TimGM6mb.sf2) by midirenderer, a synthesizer that
installs from a wheel alone: `pip install magenta_rnn[audio]`.
"""
from __future__ import annotations

import os
import struct
import tempfile
import zlib

import numpy as np

PIXELS_PER_SECOND = 64
PIXELS_PER_PITCH = 4
BACKGROUND = (250, 250, 247)
BAR_LINE = (215, 215, 210)
PITCHED = np.array([40, 90, 170])   # loud notes; quiet ones fade toward the background
DRUMS = np.array([220, 110, 30])


class PreviewError(RuntimeError):
    """A preview cannot be made (the audio extra is missing, or rendering failed)."""


def _png_bytes(image: np.ndarray) -> bytes:
    """An RGB uint8 image [height, width, 3] as PNG file bytes."""
    height, width, _ = image.shape
    raw = b''.join(b'\x00' + image[row].tobytes() for row in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack('>I', len(data)) + kind + data
                + struct.pack('>I', zlib.crc32(kind + data) & 0xFFFFFFFF))

    header = struct.pack('>IIBBBBB', width, height, 8, 2, 0, 0, 0)
    return (b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', header)
            + chunk(b'IDAT', zlib.compress(raw, 6)) + chunk(b'IEND', b''))


def piano_roll(sequence) -> np.ndarray:
    """The piano roll of a NoteSequence as an RGB uint8 image [height, width, 3]."""
    notes = list(sequence.notes)
    low = min((n.pitch for n in notes), default=60) - 2
    high = max((n.pitch for n in notes), default=60) + 2
    seconds = max([sequence.total_time] + [n.end_time for n in notes] + [0.5])
    width = int(np.ceil(seconds * PIXELS_PER_SECOND)) + 1
    height = (high - low + 1) * PIXELS_PER_PITCH
    image = np.empty((height, width, 3), np.uint8)
    image[:] = BACKGROUND
    qpm = sequence.tempos[0].qpm if sequence.tempos and sequence.tempos[0].qpm else 120.0
    bar_seconds = 4 * 60.0 / qpm
    for bar in np.arange(0.0, seconds, bar_seconds):
        image[:, int(bar * PIXELS_PER_SECOND)] = BAR_LINE
    for note in notes:
        top = (high - note.pitch) * PIXELS_PER_PITCH
        start = int(note.start_time * PIXELS_PER_SECOND)
        # Drum hits have no meaningful length: draw each as a short block.
        end = (start + PIXELS_PER_PITCH if note.is_drum
               else max(start + 1, int(note.end_time * PIXELS_PER_SECOND)))
        loudness = 0.35 + 0.65 * (note.velocity / 127.0)
        base = DRUMS if note.is_drum else PITCHED
        color = (np.array(BACKGROUND) * (1 - loudness) + base * loudness).astype(np.uint8)
        image[top + 1:top + PIXELS_PER_PITCH, start:end] = color
    return image


def write_piano_roll(sequence, png_path: str) -> str:
    """Writes the piano roll of a NoteSequence to png_path (atomically); returns the path."""
    _write_atomically(png_path, _png_bytes(piano_roll(sequence)))
    return png_path


def soundfont_path() -> str:
    """The General MIDI SoundFont that pretty_midi ships."""
    import pretty_midi
    return os.path.join(os.path.dirname(pretty_midi.__file__), 'TimGM6mb.sf2')


def check_audio_available() -> None:
    """Raises PreviewError (naming the extra to install) when WAVs cannot be rendered."""
    import importlib.util
    if importlib.util.find_spec('midirenderer') is None:
        raise PreviewError('--preview writes WAVs with the audio extra: pip install '
                           '"magenta_rnn[audio]" (installs midirenderer)')


def render_wav(midi_path: str, wav_path: str) -> str:
    """Renders a MIDI file to a 48 kHz stereo WAV with pretty_midi's SoundFont."""
    try:
        import midirenderer
    except ImportError:
        raise PreviewError('WAV previews need the audio extra: pip install '
                           '"magenta_rnn[audio]" (installs midirenderer)') from None
    with open(soundfont_path(), 'rb') as f:
        soundfont = f.read()
    with open(midi_path, 'rb') as f:
        midi = f.read()
    try:
        wav = midirenderer.render_wave_from(soundfont, midi)
    except (ValueError, RuntimeError) as e:
        raise PreviewError(f'{midi_path}: cannot render audio: {e}') from None
    _write_atomically(wav_path, bytes(wav))
    return wav_path


def wav_rms(wav_path: str) -> float:
    """Root mean square of a 16-bit WAV's samples, full scale 1.0 (0.0 is silence)."""
    import wave
    with wave.open(wav_path) as f:
        if f.getsampwidth() != 2:
            raise ValueError(f'{wav_path}: expected 16-bit samples')
        samples = np.frombuffer(f.readframes(f.getnframes()), '<i2').astype(np.float64)
    return float(np.sqrt(np.mean((samples / 32768.0) ** 2))) if samples.size else 0.0


def write_previews(midi_path: str) -> list[str]:
    """Writes `<stem>.png` and `<stem>.wav` beside a MIDI file; returns their paths.

    Raises PreviewError when the audio extra is not installed (the PNG is written first).
    """
    from magenta_rnn.music.midi_io import midi_file_to_note_sequence

    stem = os.path.splitext(midi_path)[0]
    png = write_piano_roll(midi_file_to_note_sequence(midi_path), stem + '.png')
    return [png, render_wav(midi_path, stem + '.wav')]


def _write_atomically(path: str, data: bytes) -> None:
    directory = os.path.dirname(os.path.abspath(path))
    with tempfile.NamedTemporaryFile(dir=directory, suffix='.tmp', delete=False) as f:
        f.write(data)
    os.chmod(f.name, 0o644)
    os.replace(f.name, path)
