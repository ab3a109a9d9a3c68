"""The Python front door: generate music with the shipped default models (or your own).

Every call returns NoteSequence protos (magenta_rnn.protobuf.music_pb2.NoteSequence) and
is what the console scripts do, without flags. Events models (Melody, Drums, Performance
RNN) sample in NumPy, so the shipped defaults generate without importing TensorFlow;
MusicVAE and models given as bundles load TensorFlow.
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from magenta_rnn.music.transforms import with_program
from magenta_rnn.protobuf import music_pb2

NoteSequence = music_pb2.NoteSequence


def _load_events_model(events_model: Any, config: str | None, bundle_file: str | None):
    """(config, encoder, network) from a bundle, or the shipped default for `config`."""
    if bundle_file is None:
        from magenta_rnn import default_models
        return default_models.load_events_rnn(events_model, config)
    from magenta_rnn.rnn import model_io
    from magenta_rnn.rnn import bundle as bundle_lib

    bundle = bundle_lib.read_bundle(bundle_file)
    loaded_config = model_io.bundle_config(bundle, bundle_file)
    if loaded_config is None:
        loaded_config = events_model.load_config(bundle.generator_details.id)
    encoder = events_model.build_encoder(loaded_config)
    return loaded_config, encoder, model_io.load_bundle(
        bundle_file, loaded_config, encoder.num_classes,
        input_depth=getattr(encoder, 'input_depth', None))


def _primer_sequence(primer: Any, to_track, qpm: float) -> NoteSequence:
    if isinstance(primer, NoteSequence):
        return primer
    return to_track(primer).to_sequence(qpm=qpm)


def _generate_metric(events_model: Any, parts_fn, primer: NoteSequence, num_outputs: int,
                     num_steps: int, temperature: float, beam_size: int, seed: int | None,
                     config: str | None, bundle_file: str | None,
                     continuation_only: bool) -> list[NoteSequence]:
    from magenta_rnn.rnn.numpy_stepper import NumpyStepper
    from magenta_rnn.rnn.sequence_generator import Sampling, generate_after_primer

    loaded_config, encoder, network = _load_events_model(events_model, config, bundle_file)
    qpm = primer.tempos[0].qpm if primer.tempos and primer.tempos[0].qpm else 120.0
    return generate_after_primer(
        NumpyStepper(network), encoder, parts_fn(loaded_config), primer, qpm,
        loaded_config.steps_per_quarter, num_steps, num_outputs,
        Sampling(temperature=temperature, beam_size=beam_size), rng=np.random.default_rng(seed),
        continuation_only=continuation_only)


def generate_melodies(primer: Sequence[int] | NoteSequence | None = None, num_outputs: int = 1,
                      num_steps: int = 128, temperature: float = 1.0, beam_size: int = 1,
                      seed: int | None = None, config: str | None = None,
                      bundle_file: str | None = None, qpm: float = 120.0,
                      continuation_only: bool = False) -> list[NoteSequence]:
    """Melodies continuing `primer`, as melody_rnn_generate makes them.

    primer: melody events (MIDI pitches, -1 note off, -2 no event; one per 16th note), a
      monophonic NoteSequence, or None (middle C). num_steps: 16th notes per output,
      primer included. temperature: above 1 more random, below 1 less. beam_size > 1
      keeps the likeliest of that many candidates. seed: repeatable outputs.
    config: which shipped default (default: basic_rnn); bundle_file: a .mag bundle instead.
    continuation_only: each output holds only what the model generated after the primer
      (the middle C too when primer is None), moved so that time 0 is where the primer's
      last note ends, rounded to the nearest step: placed there, it sounds as in the full
      output. Notes of the primer are left out, even one still sounding; tempo and time
      signature are kept. The same seed gives the full output's notes after the primer,
      shifted.
    """
    from magenta_rnn.melody import MELODY_RNN, generator

    sequence = _primer_sequence(primer if primer is not None else generator.DEFAULT_PRIMER,
                                generator.Melody, qpm)
    return _generate_metric(MELODY_RNN, generator.melody_parts, sequence, num_outputs,
                            num_steps, temperature, beam_size, seed, config, bundle_file,
                            continuation_only)


def generate_drum_tracks(primer: Sequence[Sequence[int]] | NoteSequence | None = None,
                         num_outputs: int = 1, num_steps: int = 128, temperature: float = 1.0,
                         beam_size: int = 1, seed: int | None = None, config: str | None = None,
                         bundle_file: str | None = None, qpm: float = 120.0,
                         continuation_only: bool = False) -> list[NoteSequence]:
    """Drum tracks continuing `primer`, as drums_rnn_generate makes them.

    primer: one tuple of MIDI drum pitches per 16th note, e.g. [(36, 42), (), (42,)], a
      NoteSequence, or None (one bass drum hit). Other arguments as generate_melodies
      (continuation_only leaves out the primer's hits, the bass drum of None too); the
      shipped default is drum_kit.
    """
    from magenta_rnn.drums import DRUMS_RNN, generator

    def to_track(steps):
        return generator.DrumTrack([frozenset(step) for step in steps])

    sequence = _primer_sequence(primer if primer is not None else [(36,)], to_track, qpm)
    return _generate_metric(DRUMS_RNN, generator.drums_parts, sequence, num_outputs,
                            num_steps, temperature, beam_size, seed, config, bundle_file,
                            continuation_only)


def generate_performances(primer: NoteSequence | None = None, num_outputs: int = 1,
                          seconds: float = 10.0, temperature: float = 1.0, beam_size: int = 1,
                          seed: int | None = None, config: str | None = None,
                          bundle_file: str | None = None,
                          continuation_only: bool = False) -> list[NoteSequence]:
    """Expressive piano performances (timing and dynamics), as performance_rnn_generate.

    primer: a NoteSequence to continue, or None (start from silence). seconds: length of
    each output, primer included. The shipped default is performance_with_dynamics.
    continuation_only: only what the model generated, with time 0 where the primer's last
    note ends (as generate_melodies; without a primer the output is the same).
    """
    from magenta_rnn.performance import PERFORMANCE_RNN, generator
    from magenta_rnn.performance.model import setup
    from magenta_rnn.rnn.numpy_stepper import NumpyStepper

    loaded_config, _, network = _load_events_model(PERFORMANCE_RNN, config, bundle_file)
    primer = primer if primer is not None else generator.empty_primer()
    request = generator.GenerateRequest(temperature=temperature, beam_size=beam_size)
    return generator.generate_performances(
        NumpyStepper(network), setup(loaded_config), primer, primer.total_time, seconds,
        num_outputs, request, rng=np.random.default_rng(seed),
        continuation_only=continuation_only)


def load_music_vae(config: str = 'cat-mel_2bar_small', checkpoint: str | None = None,
                   batch_size: int = 8, seed: int | None = None):
    """A MusicVAE (music_vae.trained_model.TrainedModel): the shipped default of `config`,
    or `checkpoint` (a run's train directory, a checkpoint prefix or .tar). Its methods:
    sample(n, length, temperature), interpolate(start, end, num_steps), encode(sequences)
    -> (z, mu, sigma), decode(z, length, temperature). Loads TensorFlow."""
    from magenta_rnn.music_vae import configs
    from magenta_rnn.music_vae.trained_model import TrainedModel

    hparams = ''
    if checkpoint is None:
        from magenta_rnn import default_models
        checkpoint, hparams = default_models.music_vae_checkpoint(config)
    return TrainedModel(configs.load_config(config, hparams), batch_size=batch_size,
                        checkpoint_dir_or_path=checkpoint, seed=seed)


def music_vae_sample(config: str = 'cat-mel_2bar_small', num_outputs: int = 1,
                     temperature: float = 0.5, seed: int | None = None) -> list[NoteSequence]:
    """num_outputs samples of the config's shipped MusicVAE (as music_vae_generate
    --mode=sample); for many calls, keep a load_music_vae() model instead."""
    model = load_music_vae(config, batch_size=min(8, num_outputs), seed=seed)
    return model.sample(n=num_outputs, length=model.config.hparams.max_seq_len,
                        temperature=temperature)


def music_vae_interpolate(start: NoteSequence, end: NoteSequence,
                          config: str = 'cat-mel_2bar_small', num_outputs: int = 5,
                          temperature: float = 0.5, seed: int | None = None
                          ) -> list[NoteSequence]:
    """num_outputs sequences from `start` to `end` (both included), along the slerp of
    their latent codes (music_vae_generate --mode=interpolate)."""
    model = load_music_vae(config, seed=seed)
    return model.interpolate(start, end, num_outputs, length=model.config.hparams.max_seq_len,
                             temperature=temperature, assert_same_length=False)


def music_vae_encode(sequences: Sequence[NoteSequence], config: str = 'cat-mel_2bar_small',
                     seed: int | None = None) -> np.ndarray:
    """The latent means mu [len(sequences), z_size] of the config's shipped MusicVAE (each
    sequence must give exactly one example, e.g. a 2-bar melody for cat-mel_2bar_small)."""
    _, mu, _ = load_music_vae(config, seed=seed).encode(list(sequences))
    return np.asarray(mu)


def music_vae_decode(z: np.ndarray, config: str = 'cat-mel_2bar_small',
                     temperature: float = 0.5, seed: int | None = None) -> list[NoteSequence]:
    """NoteSequences decoded from latent codes z [n, z_size]."""
    model = load_music_vae(config, seed=seed)
    return model.decode(np.asarray(z, np.float32), length=model.config.hparams.max_seq_len,
                        temperature=temperature)


def write_midi(sequence: NoteSequence, path: str, preview: bool = False,
               program: int | None = None) -> list[str]:
    """Writes `sequence` to the MIDI file `path`; returns the files written.

    program: General MIDI program (0-127) for its pitched notes, e.g. 73 for a flute.
    preview: also write `<path without .mid>.png` (a piano roll) and `.wav` (rendered
    with pretty_midi's General MIDI SoundFont; needs `pip install magenta_rnn[audio]`).
    """
    from magenta_rnn.music.midi_io import note_sequence_to_midi_file

    if program is not None:
        sequence = with_program(sequence, program)
    directory = os.path.dirname(path)
    if directory:
        os.makedirs(directory, exist_ok=True)
    note_sequence_to_midi_file(sequence, path)
    written = [path]
    if preview:
        from magenta_rnn import preview as preview_lib
        written += preview_lib.write_previews(path)
    return written
