"""Control inputs for generation: the c_input a model with controls is decoded with.

* Chord configs: a chord progression ("C G Am F"). A melody config spreads it
  evenly over the sequence's steps; a multi-instrument performance config
  (one bar per example) plays one bar per chord, all from the same z.
* GrooVAE hits_control: the drum hits of an input drum pattern (its first window).

    c_input = chord_c_input(converter, ['C', 'G', 'Am', 'F'], length=32)
    sequences = decode_progression(model, z, ['C', 'G', 'Am', 'F'], temperature=0.5)
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from magenta_rnn.music import chords as chords_lib
from magenta_rnn.music_vae import converters
from magenta_rnn.protobuf import music_pb2


def takes_chords(converter) -> bool:
    return getattr(converter, 'chord_encoding', None) is not None


def is_bar_per_chord(converter) -> bool:
    """Multi-instrument performance converters: one bar an example, one chord a bar."""
    return takes_chords(converter) and bool(converter.length_shape)


def chord_c_input(converter, figures: Sequence[str], length: int) -> np.ndarray:
    """[length, chord classes] controls playing `figures` in order, each for an equal
    share of the steps (a melody converter's chords) or, for a multi-instrument
    performance converter, the one chord of a bar on every event of every track (the
    first row of each track, the program token, has no chord as in training)."""
    encoding = converter.chord_encoding
    if is_bar_per_chord(converter):
        if len(figures) != 1:
            raise ValueError('a multi-instrument performance bar takes one chord')
        tracks = converter.length_shape[0]
        steps = length // tracks
        tokens = [encoding.encode_event(chords_lib.NO_CHORD)] + \
            [encoding.encode_event(figures[0])] * (steps - 1)
        return np.tile(converters.np_onehot(tokens, encoding.num_classes, np.float32), [tracks, 1])
    tokens = [encoding.encode_event(figures[step * len(figures) // length])
              for step in range(length)]
    return converters.np_onehot(tokens, encoding.num_classes, np.float32)


def hits_c_input(converter, note_sequence: music_pb2.NoteSequence) -> np.ndarray:
    """The drum hits [steps, drums] of the first window of `note_sequence`;
    ValueError when it gives none."""
    tensors = converter.to_tensors(note_sequence)
    if not tensors.controls:
        raise ValueError('no drum pattern of the config\'s length could be read from it')
    return np.asarray(tensors.controls[0], np.float32)


def decode_progression(model, z: np.ndarray, figures: Sequence[str], length: int,
                       temperature: float) -> list[music_pb2.NoteSequence]:
    """For each z: one bar per chord (same z), the bars played one after another."""
    bars = [model.decode(z, length=length, temperature=temperature,
                         c_input=chord_c_input(model.data_converter, [figure], length))
            for figure in figures]
    results = []
    for i in range(len(z)):
        ns = music_pb2.NoteSequence(ticks_per_quarter=bars[0][i].ticks_per_quarter)
        ns.tempos.extend(bars[0][i].tempos)
        bar_seconds = 0.0
        for bar, figure in zip(bars, figures):
            offset = bar_seconds
            bar_seconds += 60.0 / bars[0][i].tempos[0].qpm * 4
            for note in bar[i].notes:
                shifted = ns.notes.add()
                shifted.CopyFrom(note)
                shifted.start_time += offset
                shifted.end_time += offset
            ns.text_annotations.add(time=offset, text=figure,
                                    annotation_type=chords_lib.CHORD_SYMBOL)
        ns.total_time = max([n.end_time for n in ns.notes], default=0.0)
        results.append(ns)
    return results
