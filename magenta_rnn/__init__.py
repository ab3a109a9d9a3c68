"""magenta_rnn: Melody RNN, Drums RNN, Performance RNN and MusicVAE on TensorFlow 2.

Generate music with the default models shipped in the package (no download):

    import magenta_rnn
    melodies = magenta_rnn.generate_melodies(primer=[60, -2, 62, -2, 64], num_outputs=2, seed=1)
    drums = magenta_rnn.generate_drum_tracks(num_steps=64, temperature=0.9, seed=1)
    magenta_rnn.write_midi(melodies[0], 'melody.mid', program=73)
    print(len(melodies[0].notes), 'notes;', magenta_rnn.shipped_default_models())

The calls (each returns NoteSequence protos; see its docstring):
  generate_melodies, generate_drum_tracks, generate_performances   events RNNs, in NumPy
  load_music_vae -> TrainedModel (.sample, .interpolate, .encode, .decode)
  music_vae_sample, music_vae_interpolate, music_vae_encode, music_vae_decode
  write_midi (optionally with a piano-roll PNG and a WAV beside it), with_program
  shipped_default_models
The console scripts (melody_rnn_generate, music_vae_train, ...) do the same from a shell.
Importing the package is light: each call loads what it needs when first used.
"""
from __future__ import annotations

import importlib
from typing import Any

__version__ = '0.1.0'

_API = ('generate_melodies', 'generate_drum_tracks', 'generate_performances', 'load_music_vae',
        'music_vae_sample', 'music_vae_interpolate', 'music_vae_encode', 'music_vae_decode',
        'write_midi', 'with_program')

__all__ = list(_API) + ['shipped_default_models', '__version__']


def shipped_default_models() -> dict[str, list[str]]:
    """{'melody_rnn': [config names], 'drums_rnn': [...], ...}: the defaults in the package."""
    from magenta_rnn import default_models
    return {model: default_models.shipped(model) for model in default_models.DEFAULT_CONFIGS}


def __getattr__(name: str) -> Any:
    if name in _API:
        return getattr(importlib.import_module('magenta_rnn.api'), name)
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')


def __dir__() -> list[str]:
    return sorted(list(globals()) + list(_API))
