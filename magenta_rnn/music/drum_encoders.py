"""Drum encodings: a drum-kit event as a bit set of drum classes (REFERENCE.md "Drum encoding",
"Input and label sizes").

Each drum class owns one bit; an event (a set of pitches) encodes to the sum of the
bits of the classes it contains. Decoding gives each set class's first pitch.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from magenta_rnn.music import constants
from magenta_rnn.music.encoders import OneHotEncoding

# The nine classes of the drum_kit config; the first pitch of each is what it decodes to.
DEFAULT_DRUM_TYPE_PITCHES: tuple[tuple[int, ...], ...] = (
    (36, 35),                                                        # kick
    (38, 27, 28, 31, 32, 33, 34, 37, 39, 40, 56, 65, 66, 75, 85),    # snare
    (42, 44, 54, 68, 69, 70, 71, 73, 78, 80, 22),                    # closed hi-hat
    (46, 67, 72, 74, 79, 81, 26),                                    # open hi-hat
    (45, 29, 41, 43, 61, 64, 84),                                    # low tom
    (48, 47, 60, 63, 77, 86, 87),                                    # mid tom
    (50, 30, 62, 76, 83),                                            # high tom
    (49, 52, 55, 57, 58),                                            # crash
    (51, 53, 59, 82),                                                # ride
)

class DrumsEncodingError(Exception):
    """A drum pitch belongs to no class and unknown drums are not ignored."""


class MultiDrumOneHotEncoding(OneHotEncoding):
    """Class index = sum of 2**class over the drum classes present in the event."""

    def __init__(self, drum_type_pitches: Sequence[Sequence[int]] | None = None,
                 ignore_unknown_drums: bool = True):
        if drum_type_pitches is None:
            drum_type_pitches = DEFAULT_DRUM_TYPE_PITCHES
        self._drum_type_pitches = [list(pitches) for pitches in drum_type_pitches]
        # pitch -> bit; a pitch listed in several classes belongs to the last one.
        self._pitch_bits = np.zeros(constants.MAX_MIDI_PITCH + 1, dtype=np.int64)
        self._known = np.zeros(constants.MAX_MIDI_PITCH + 1, dtype=bool)
        for index, pitches in enumerate(self._drum_type_pitches):
            for pitch in pitches:
                self._pitch_bits[pitch] = 1 << index
                self._known[pitch] = True
        self._ignore_unknown_drums = ignore_unknown_drums

    @property
    def num_classes(self) -> int:
        return 2 ** len(self._drum_type_pitches)

    @property
    def default_event(self) -> frozenset:
        return frozenset()

    def encode_event(self, event: frozenset) -> int:
        index = 0
        for pitch in event:
            if self._known[pitch]:
                index |= int(self._pitch_bits[pitch])
            elif not self._ignore_unknown_drums:
                raise DrumsEncodingError(f'unknown drum pitch: {pitch}')
        return index

    def encode_events(self, events: Sequence[frozenset]) -> np.ndarray:
        # Tables are small; a Python OR per pitch is faster than building arrays of sets.
        bits = self._pitch_bits.tolist()
        known = self._known.tolist()
        result = np.zeros(len(events), dtype=np.int64)
        for i, event in enumerate(events):
            index = 0
            for pitch in event:
                if known[pitch]:
                    index |= bits[pitch]
                elif not self._ignore_unknown_drums:
                    raise DrumsEncodingError(f'unknown drum pitch: {pitch}')
            result[i] = index
        return result

    def decode_event(self, index: int) -> frozenset:
        return frozenset(pitches[0] for bit, pitches in enumerate(self._drum_type_pitches)
                         if (index >> bit) & 1)
