"""A trained MusicVAE for encoding, decoding, sampling and interpolation (as the
original's trained_model.py).

    model = TrainedModel('cat-mel_2bar_small', batch_size=8,
                         checkpoint_dir_or_path='/tmp/run/train')
    samples = model.sample(n=4, length=32, temperature=0.5)        # NoteSequences
    z, mu, sigma = model.encode([ns_a, ns_b])
    path = model.interpolate(ns_a, ns_b, num_steps=5, length=32)
    vector = model.attribute_vector(many_sequences, 'note_density')   # attributes.py
    denser = model.apply_attribute_vector(vector, [0, 1, 2], note_sequence=ns_a, length=32)
    logliks = model.reconstruction_loglik([ns_a])                   # per-step log p

Checkpoints: a directory (its latest checkpoint), a checkpoint prefix, or a .tar
holding one (the first `*.index` member names it). Both our own object-based
checkpoints (music_vae_train) and name-based ones written by the original
(TF1 variable names such as `encoder/mu/kernel`) load.
"""
from __future__ import annotations

import copy
import logging
import os
import re
from collections.abc import Sequence
from typing import Any

import numpy as np
import tensorflow as tf

from magenta_rnn.music_vae import attributes, checkpoint_files
from magenta_rnn.music_vae import configs as configs_lib
from magenta_rnn.music_vae import converters
from magenta_rnn.music_vae import hierarchical, hierarchical_encoder, lstm
from magenta_rnn.music_vae import model as model_lib
from magenta_rnn.music_vae import numpy_sampler
from magenta_rnn.protobuf import music_pb2

NoExtractedExamplesError = converters.NoExtractedExamplesError
MultipleExtractedExamplesError = converters.MultipleExtractedExamplesError

_OBJECT_GRAPH_KEY = '_CHECKPOINTABLE_OBJECT_GRAPH'


class CheckpointError(ValueError):
    pass


def slerp(p0: np.ndarray, p1: np.ndarray, t: float) -> np.ndarray:
    """Spherical linear interpolation: sin((1-t)Ω)/sin Ω · p0 + sin(tΩ)/sin Ω · p1.

    Near Ω = 0 (two almost equal codes, or a zero code) sin Ω divides by ~0 and gives
    NaN, so there it is the linear interpolation it tends to.
    """
    norms = np.linalg.norm(p0) * np.linalg.norm(p1)
    cosine = np.dot(np.squeeze(p0), np.squeeze(p1)) / norms if norms > 0 else 1.0
    omega = np.arccos(np.clip(cosine, -1.0, 1.0))
    so = np.sin(omega)
    if not so >= _SLERP_MIN_SIN:  # (anti)parallel, equal or NaN: slerp is undefined, use the line
        return (1.0 - t) * p0 + t * p1
    return np.sin((1.0 - t) * omega) / so * p0 + np.sin(t * omega) / so * p1


# Below this sin Ω, slerp is linear interpolation to float precision.
_SLERP_MIN_SIN = 1e-6


def _describe(note_sequence: music_pb2.NoteSequence, index: int) -> str:
    name = note_sequence.filename or note_sequence.id
    return f'NoteSequence {index}' + (f' ({name})' if name else '')


def tf1_variable_map(vae: model_lib.MusicVAE) -> dict[str, tf.Variable]:
    """The variable names of the original's checkpoints for each variable of a model."""
    names: dict[str, tf.Variable] = {}

    def add(prefix: str, module) -> None:
        names[f'{prefix}/kernel'] = module.kernel
        names[f'{prefix}/bias'] = module.bias

    names.update(hierarchical_encoder.tf1_encoder_variable_map(vae.encoder))
    add('encoder/mu', vae.mu)
    add('encoder/sigma', vae.sigma)
    decoder = vae.decoder
    if isinstance(decoder, (hierarchical.HierarchicalLstmDecoder,
                            hierarchical.SplitMultiOutLstmDecoder)):
        names.update(hierarchical.tf1_decoder_variable_map(decoder))
        return names
    for k, cell in enumerate(decoder.cells):
        add(f'decoder/multi_rnn_cell/cell_{k}/lstm_cell', cell)
    if decoder.z_to_initial_state is not None:
        add('decoder/z_to_initial_state', decoder.z_to_initial_state)
    add('decoder/output_projection', decoder.output_projection)
    if getattr(decoder, 'nade', None) is not None:
        names['decoder/nade/w_enc'] = decoder.nade.w_enc
        names['decoder/nade/w_dec_t'] = decoder.nade.w_dec_t
    return names


def resolve_checkpoint(checkpoint_dir_or_path: str) -> str:
    """A checkpoint prefix from a directory (latest checkpoint) or a prefix."""
    path = os.path.expanduser(checkpoint_dir_or_path)
    if os.path.isdir(path):
        latest = tf.train.latest_checkpoint(path)
        if latest is None:
            raise CheckpointError(f'{checkpoint_dir_or_path}: no checkpoint in this directory')
        return latest
    if os.path.exists(path + '.index') or os.path.exists(path):
        return path
    raise CheckpointError(f'{checkpoint_dir_or_path}: no such checkpoint (neither a directory, '
                          f'a checkpoint prefix with a .index file, nor a .tar)')


class _ArrayReader:
    """Arrays by name, read like a checkpoint reader."""

    def __init__(self, values: dict[str, np.ndarray]):
        self.values = values

    def get_tensor(self, name: str) -> np.ndarray:
        return self.values[name]


class TrainedModel:
    """An interface to a trained MusicVAE (the original's TrainedModel, TF2).

    Args:
      config: a MusicVaeConfig, or a config name / JSON path for configs.load_config.
      batch_size: the batch size every call runs at (inputs are padded to it).
      checkpoint_dir_or_path: directory, checkpoint prefix, .tar file, or .npz of arrays by
        the original's variable names.
      var_name_substitutions: (regex, replacement) pairs applied to the original's
        variable names before they are looked up in a name-based checkpoint.
      seed: seeds z draws and decoder sampling.
    """

    def __init__(self, config: configs_lib.MusicVaeConfig | str, batch_size: int,
                 checkpoint_dir_or_path: str,
                 var_name_substitutions: Sequence[tuple[str, str]] | None = None,
                 seed: int | None = None):
        if isinstance(config, str):
            config = configs_lib.load_config(config)
        self._config = copy.deepcopy(config)
        self._config.hparams.batch_size = batch_size
        self._converter = self._config.make_data_converter()
        self._converter.set_mode('infer')
        self._batch_size = batch_size
        self._rng = np.random.default_rng(seed)
        if seed is not None:
            tf.random.set_seed(seed)
        self._model = model_lib.build_model(self._config, self._converter)
        self.checkpoint_path = self._restore(checkpoint_dir_or_path, var_name_substitutions)
        self._encode_fn = tf.function(self._model.encode)
        self._decode_fns: dict[int, Any] = {}
        self._numpy_sampler: numpy_sampler.NumpyDecoderSampler | None = None
        self._log_prob_fn = tf.function(self._teacher_forced_log_probs)
        self._step_loglik_fn = tf.function(self._teacher_forced_step_logliks)

    # -- loading --------------------------------------------------------------------

    def _restore(self, checkpoint_dir_or_path: str,
                 var_name_substitutions: Sequence[tuple[str, str]] | None) -> str:
        path = os.path.expanduser(checkpoint_dir_or_path)
        if checkpoint_files.is_tar_checkpoint(path):
            logging.info('Unbundling checkpoint %s.', path)
            with checkpoint_files.extracted_tar_checkpoint(path, CheckpointError) as prefix:
                self._restore_prefix(prefix, var_name_substitutions, checkpoint_dir_or_path)
            return path
        if path.endswith('.npz') and os.path.isfile(path):
            # Arrays by TF1 variable name: a shipped default model (magenta_rnn.default_models).
            with np.load(path) as arrays:
                values = {name: arrays[name].astype(np.float32) for name in arrays.files}
            shapes = {name: list(value.shape) for name, value in values.items()}
            self._restore_name_based(_ArrayReader(values), shapes, var_name_substitutions,
                                     checkpoint_dir_or_path)
            return path
        prefix = resolve_checkpoint(checkpoint_dir_or_path)
        self._restore_prefix(prefix, var_name_substitutions, checkpoint_dir_or_path)
        return prefix

    def _restore_prefix(self, prefix: str,
                        var_name_substitutions: Sequence[tuple[str, str]] | None,
                        shown_name: str) -> None:
        try:
            reader = tf.train.load_checkpoint(prefix)
        except (tf.errors.NotFoundError, tf.errors.DataLossError, ValueError) as e:
            raise CheckpointError(f'{shown_name}: cannot read checkpoint {prefix} ({e})') from None
        shapes = reader.get_variable_to_shape_map()
        if _OBJECT_GRAPH_KEY in shapes:
            self._restore_object_based(prefix, shown_name)
        else:
            self._restore_name_based(reader, shapes, var_name_substitutions, shown_name)

    def _restore_object_based(self, prefix: str, shown_name: str) -> None:
        try:
            status = tf.train.Checkpoint(model=self._model).read(prefix)
            status.expect_partial()
            status.assert_existing_objects_matched()
        except (AssertionError, ValueError, tf.errors.InvalidArgumentError) as e:
            raise CheckpointError(
                f'{shown_name}: checkpoint does not match config {self._config.id} '
                f'({str(e).splitlines()[0]}); were other --hparams used in training?') from None

    def _restore_name_based(self, reader, shapes: dict[str, list[int]],
                            var_name_substitutions: Sequence[tuple[str, str]] | None,
                            shown_name: str) -> None:
        for name, variable in tf1_variable_map(self._model).items():
            stored_name = name
            for pattern, substitution in var_name_substitutions or ():
                stored_name = re.sub(pattern, substitution, stored_name)
            if stored_name not in shapes:
                raise CheckpointError(f'{shown_name}: variable {stored_name} is missing; is this '
                                      f'a checkpoint of config {self._config.id}?')
            if list(shapes[stored_name]) != list(variable.shape):
                raise CheckpointError(
                    f'{shown_name}: variable {stored_name} has shape {shapes[stored_name]}, '
                    f'config {self._config.id} needs {variable.shape.as_list()}')
            variable.assign(reader.get_tensor(stored_name))

    # -- properties -----------------------------------------------------------------

    @property
    def config(self) -> configs_lib.MusicVaeConfig:
        return self._config

    @property
    def data_converter(self) -> converters.BaseNoteSequenceConverter:
        return self._converter

    @property
    def model(self) -> model_lib.MusicVAE:
        return self._model

    @property
    def batch_size(self) -> int:
        return self._batch_size

    # -- sampling and decoding ------------------------------------------------------

    def _check_length(self, length: int | None) -> int:
        if not length:
            if self._converter.end_token is None:
                raise ValueError('A length must be specified when the end token is not used.')
            return self._config.hparams.max_seq_len
        return int(length)

    def _uses_numpy_sampler(self) -> bool:
        # A flat categorical decoder samples faster in NumPy (see numpy_sampler);
        # other decoders run their TensorFlow sample().
        decoder = self._model.decoder
        return type(decoder) is lstm.CategoricalLstmDecoder and not decoder.control_depth

    def _decode_batch(self, z: np.ndarray, length: int, temperature: float,
                      c_input: np.ndarray | None = None) -> np.ndarray:
        if self._uses_numpy_sampler():
            if self._numpy_sampler is None:
                self._numpy_sampler = numpy_sampler.NumpyDecoderSampler(self._model.decoder)
            return self._numpy_sampler.sample(z, length, temperature, self._rng,
                                              end_token=self._converter.end_token)
        return self._decode_batch_tf(z, length, temperature, c_input)

    def _decode_batch_tf(self, z: np.ndarray, length: int, temperature: float,
                         c_input: np.ndarray | None = None) -> np.ndarray:
        fn = self._decode_fns.get(length)
        if fn is None:
            end_token = self._converter.end_token

            def decode(z_batch, temp, controls):
                return self._model.decode(z_batch, length, temp, end_token=end_token,
                                          controls=controls)
            fn = tf.function(decode)
            self._decode_fns[length] = fn
        depth = self._converter.control_depth
        controls = np.zeros([len(z), length, depth], np.float32)
        if depth:
            controls[:] = self._check_controls(c_input, length)
        return fn(tf.constant(z, tf.float32), tf.constant(temperature, tf.float32),
                  tf.constant(controls)).numpy()

    def _check_controls(self, c_input: np.ndarray | None, length: int) -> np.ndarray:
        """c_input [length, control_depth], required exactly when the model has controls."""
        depth = self._converter.control_depth
        if not depth:
            if c_input is not None:
                raise ValueError(f'config {self._config.id} takes no control input (c_input)')
            return np.zeros([length, 0], np.float32)
        if c_input is None:
            raise ValueError(f'config {self._config.id} is conditioned on controls: give '
                             f'c_input [{length}, {depth}] (e.g. chords or drum hits)')
        c_input = np.asarray(c_input, np.float32)
        if c_input.shape != (length, depth):
            raise ValueError(f'c_input has shape {c_input.shape}; config {self._config.id} '
                             f'needs [{length}, {depth}] for length {length}')
        return c_input

    def sample(self, n: int | None = None, length: int | None = None, temperature: float = 1.0,
               same_z: bool = False, c_input: np.ndarray | None = None
               ) -> list[music_pb2.NoteSequence]:
        """n samples from z ~ N(0, I) (one z for all with same_z), as NoteSequences;
        c_input [length, control_depth]: the controls of every sample."""
        tensors = self.sample_tensors(n, length, temperature, same_z, c_input)
        return self._from_tensors(tensors, c_input)

    def _from_tensors(self, tensors: np.ndarray, c_input: np.ndarray | None
                      ) -> list[music_pb2.NoteSequence]:
        if c_input is None:
            return self._converter.from_tensors(tensors)
        return self._converter.from_tensors(tensors, np.stack([c_input] * len(tensors)))

    def sample_tensors(self, n: int | None = None, length: int | None = None,
                       temperature: float = 1.0, same_z: bool = False,
                       c_input: np.ndarray | None = None) -> np.ndarray:
        batch_size = self._batch_size
        n = n or batch_size
        length = self._check_length(length)
        z_size = self._config.hparams.z_size
        z_same = (np.tile(self._rng.standard_normal(z_size).astype(np.float32), (batch_size, 1))
                  if same_z else None)
        num_batches = int(np.ceil(n / batch_size))
        z = np.vstack([z_same if same_z else
                       self._rng.standard_normal((batch_size, z_size)).astype(np.float32)
                       for _ in range(num_batches)])
        return self._decode_all(z, length, temperature, c_input)[:n]

    def decode(self, z: np.ndarray, length: int | None = None, temperature: float = 1.0,
               c_input: np.ndarray | None = None) -> list[music_pb2.NoteSequence]:
        """NoteSequences decoded from latent vectors z [n, z_size] (and controls
        c_input [length, control_depth] for all of them)."""
        return self._from_tensors(self.decode_to_tensors(z, length, temperature, c_input),
                                  c_input)

    def decode_to_tensors(self, z: np.ndarray, length: int | None = None,
                          temperature: float = 1.0, c_input: np.ndarray | None = None
                          ) -> np.ndarray:
        """One-hot samples [n, length, output_depth] decoded from z [n, z_size]."""
        length = self._check_length(length)
        z = np.asarray(z, np.float32)
        n = len(z)
        z = np.pad(z, [(0, -n % self._batch_size), (0, 0)])
        return self._decode_all(z, length, temperature, c_input)[:n]

    def _decode_all(self, z: np.ndarray, length: int, temperature: float,
                    c_input: np.ndarray | None = None) -> np.ndarray:
        """z: whole batches. The NumPy sampler takes them all in one loop over time."""
        self._check_controls(c_input, length)
        if self._uses_numpy_sampler():
            return self._decode_batch(z, length, temperature)
        return np.vstack([self._decode_batch(z[i:i + self._batch_size], length, temperature,
                                             c_input)
                          for i in range(0, len(z), self._batch_size)])

    # -- encoding -------------------------------------------------------------------

    def extract_examples(self, note_sequences: Sequence[music_pb2.NoteSequence],
                         assert_same_length: bool = False) -> converters.ConverterTensors:
        """The one example each NoteSequence must give; clear errors otherwise."""
        examples = []
        for index, ns in enumerate(note_sequences):
            tensors = self._converter.to_tensors(ns)
            if not tensors.inputs:
                raise NoExtractedExamplesError(
                    f'{_describe(ns, index)} gives no valid input for config '
                    f'{self._config.id}; it needs exactly '
                    f'{self._config.hparams.max_seq_len} steps of what the converter accepts')
            if len(tensors.inputs) > 1:
                raise MultipleExtractedExamplesError(
                    f'{_describe(ns, index)} gives {len(tensors.inputs)} inputs for config '
                    f'{self._config.id}; pass one of its extractions instead')
            examples.append(tensors.examples()[0])
            if assert_same_length and len(examples[0][0]) != len(examples[-1][0]):
                raise AssertionError(
                    f'Sequences 0 and {index} have different lengths: '
                    f'{len(examples[0][0])} vs {len(examples[-1][0])}')
        return converters.ConverterTensors.from_examples(examples)

    def encode(self, note_sequences: Sequence[music_pb2.NoteSequence],
               assert_same_length: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(z, mu, sigma), each [n, z_size]; every NoteSequence must give exactly one input."""
        tensors = self.extract_examples(note_sequences, assert_same_length)
        return self.encode_tensors(tensors.inputs, tensors.lengths, tensors.controls)

    def _padded_batches(self, arrays: Sequence[np.ndarray], depth: int):
        n = len(arrays)
        total = n + (-n % self._batch_size)
        max_length = max(len(a) for a in arrays)
        padding = [np.zeros((0, depth))] * (total - n)
        stacked = converters.maybe_pad_sequences(list(arrays) + padding, depth, np.float32,
                                                 max_length)
        return stacked

    def _length_array(self, lengths: Sequence, total: int) -> np.ndarray:
        """Lengths padded to `total` rows: [total], or [total, segments] for hierarchical
        converters (one length per segment)."""
        array = np.zeros([total, *self._converter.length_shape], np.int32)
        array[:len(lengths)] = np.asarray(lengths, np.int32).reshape(
            [len(lengths), *self._converter.length_shape])
        return array

    def encode_tensors(self, input_tensors: Sequence[np.ndarray], lengths: Sequence,
                       control_tensors: Sequence[np.ndarray] | None = None
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(z, mu, sigma) of input tensors [length_i, input_depth] (with their controls
        [length_i, control_depth] for a model with controls)."""
        n = len(input_tensors)
        if not n:
            raise ValueError('encode: no inputs')
        depth = self._converter.control_depth
        if depth and control_tensors is None:
            raise ValueError(f'config {self._config.id} is conditioned on controls: give '
                             f'control_tensors')
        inputs = self._padded_batches(input_tensors, self._converter.input_depth)
        controls = (self._padded_batches(control_tensors, depth) if depth else
                    np.zeros([*inputs.shape[:2], 0], np.float32))
        length_array = self._length_array(lengths, len(inputs))
        mus, sigmas = [], []
        for i in range(0, len(inputs), self._batch_size):
            mu, sigma = self._encode_fn(tf.constant(inputs[i:i + self._batch_size]),
                                        tf.constant(length_array[i:i + self._batch_size]),
                                        tf.constant(controls[i:i + self._batch_size]))
            mus.append(mu.numpy())
            sigmas.append(sigma.numpy())
        mu, sigma = np.vstack(mus)[:n], np.vstack(sigmas)[:n]
        z = mu + sigma * self._rng.standard_normal(mu.shape).astype(np.float32)
        return z, mu, sigma

    def interpolate(self, start_sequence: music_pb2.NoteSequence,
                    end_sequence: music_pb2.NoteSequence, num_steps: int,
                    length: int | None = None, temperature: float = 1.0,
                    assert_same_length: bool = True, c_input: np.ndarray | None = None
                    ) -> list[music_pb2.NoteSequence]:
        """num_steps NoteSequences decoded along the slerp from start's mu to end's mu.
        A model with controls decodes all of them with c_input, by default the start
        sequence's own controls (its chords, or its drum hits)."""
        tensors = self.extract_examples([start_sequence, end_sequence], assert_same_length)
        _, mu, _ = self.encode_tensors(tensors.inputs, tensors.lengths, tensors.controls)
        z = np.array([slerp(mu[0], mu[1], t) for t in np.linspace(0, 1, num_steps)])
        if self._converter.control_depth and c_input is None:
            c_input = np.asarray(tensors.controls[0], np.float32)
            length = length or len(c_input)
        return self.decode(z, length=length, temperature=temperature, c_input=c_input)

    # -- attribute vectors (see attributes.py) -----------------------------------

    def extract_windows(self, note_sequences: Sequence[music_pb2.NoteSequence],
                        max_examples: int | None = None
                        ) -> tuple[list[np.ndarray], list[int], list[music_pb2.NoteSequence]]:
        """Every input the converter extracts from each NoteSequence (any number each):
        (input tensors, lengths, the windows as NoteSequences), at most max_examples."""
        inputs, lengths, outputs = [], [], []
        for ns in note_sequences:
            tensors = self._converter.to_tensors(ns)
            inputs.extend(tensors.inputs)
            lengths.extend(tensors.lengths)
            outputs.extend(tensors.outputs)
            if max_examples is not None and len(inputs) >= max_examples:
                break
        inputs, lengths, outputs = inputs[:max_examples], lengths[:max_examples], \
            outputs[:max_examples]
        windows = self._converter.from_tensors(outputs) if outputs else []
        return inputs, lengths, windows

    def attribute_vector(self, note_sequences: Sequence[music_pb2.NoteSequence], attribute: str,
                         quantile: float = attributes.DEFAULT_QUANTILE,
                         max_examples: int | None = None) -> attributes.AttributeVector:
        """Mean mu of the windows whose attribute is in the top `quantile` minus the mean
        mu of those in the bottom one, over every window of `note_sequences`."""
        attributes.check_attribute_name(attribute)
        inputs, lengths, windows = self.extract_windows(note_sequences, max_examples)
        if len(inputs) < attributes.MIN_EXAMPLES:
            raise attributes.AttributeVectorError(
                f'too few examples for an attribute vector: {len(inputs)} inputs for config '
                f'{self._config.id}, need at least {attributes.MIN_EXAMPLES}')
        values = attributes.measure(windows, attribute)
        _, mu, _ = self.encode_tensors(inputs, lengths)
        return attributes.compute_attribute_vector(mu, values, attribute, quantile,
                                                   config=self._config.id)

    def apply_attribute_vector(self, vector: attributes.AttributeVector | np.ndarray,
                               scales: Sequence[float],
                               note_sequence: music_pb2.NoteSequence | None = None,
                               z: np.ndarray | None = None, length: int | None = None,
                               temperature: float = 1.0) -> list[music_pb2.NoteSequence]:
        """decode(base + k * vector) for each k in scales. The base is the mu of
        `note_sequence` (which must give exactly one input), else `z`, else one draw
        from N(0, I)."""
        direction = np.asarray(getattr(vector, 'vector', vector), np.float32)
        z_size = self._config.hparams.z_size
        if direction.shape != (z_size,):
            raise attributes.AttributeVectorError(
                f'the attribute vector has shape {direction.shape}, config {self._config.id} '
                f'has z_size {z_size}')
        if note_sequence is not None:
            _, mu, _ = self.encode([note_sequence])
            base = mu[0]
        elif z is not None:
            base = np.asarray(z, np.float32).reshape(z_size)
        else:
            base = self._rng.standard_normal(z_size).astype(np.float32)
        latents = np.stack([base + float(k) * direction for k in scales])
        return self.decode(latents, length=length, temperature=temperature)

    # -- reconstruction -------------------------------------------------------------

    def _teacher_forced_log_probs(self, inputs, outputs, lengths, z):
        if not hasattr(self._model.decoder, 'logits'):
            # NADE and GrooVAE outputs are not one categorical per step.
            raise NotImplementedError(
                f'reconstruction log-softmaxes need a categorical decoder; '
                f'{type(self._model.decoder).__name__} has none (reconstruction_loglik '
                f'gives its per-step log-likelihoods)')
        logits = self._model.decoder.logits(model_lib.shifted_targets(outputs), z, lengths)
        return hierarchical.log_softmax(self._model.decoder, logits)

    def _teacher_forced_step_logliks(self, inputs, outputs, lengths, z):
        """[batch, time] log p(x_t | x_<t, z) of the true outputs."""
        decoder = self._model.decoder
        if hasattr(decoder, 'logits'):
            log_probs = self._teacher_forced_log_probs(inputs, outputs, lengths, z)
            return tf.reduce_sum(log_probs * outputs, axis=-1)
        if not hasattr(decoder, 'step_log_likelihood'):
            raise NotImplementedError(
                f'{type(decoder).__name__} has no reconstruction log-likelihood')
        return decoder.step_log_likelihood(
            outputs, decoder.rnn_outputs(model_lib.shifted_targets(outputs), z))

    def _teacher_forced(self, function, input_tensors: Sequence[np.ndarray],
                        output_tensors: Sequence[np.ndarray], lengths: Sequence[int],
                        use_mean: bool) -> np.ndarray:
        """function(inputs, outputs, lengths, z) over batches of the given tensors, with z
        the posterior's mean (use_mean) or a draw from it; results stacked, padding cut."""
        if self._converter.control_depth:
            raise NotImplementedError(f'reconstruction log-likelihoods of models with controls '
                                      f'({self._config.id}) are not supported')
        z, mu, _ = self.encode_tensors(input_tensors, lengths)
        latent = mu if use_mean else z
        n = len(input_tensors)
        inputs = self._padded_batches(input_tensors, self._converter.input_depth)
        outputs = self._padded_batches(output_tensors, self._converter.output_depth)
        latent = np.pad(latent, [(0, len(inputs) - n), (0, 0)])
        length_array = np.zeros(len(inputs), np.int32)
        length_array[:n] = lengths
        results = []
        for i in range(0, len(inputs), self._batch_size):
            batch = slice(i, i + self._batch_size)
            results.append(function(
                tf.constant(inputs[batch]), tf.constant(outputs[batch]),
                tf.constant(length_array[batch]), tf.constant(latent[batch])).numpy())
        return np.concatenate(results)[:n]

    def reconstruction_log_probs(self, input_tensors: Sequence[np.ndarray],
                                 output_tensors: Sequence[np.ndarray], lengths: Sequence[int],
                                 use_mean: bool = True) -> np.ndarray:
        """Teacher-forced log-softmax of the decoder [n, max_length, output_depth]
        (categorical decoders).

        The decoder is conditioned on mu (use_mean) or on a z drawn from the
        posterior, and fed the true previous outputs.
        """
        return self._teacher_forced(self._log_prob_fn, input_tensors, output_tensors, lengths,
                                    use_mean)

    def reconstruction_loglik(self, note_sequences: Sequence[music_pb2.NoteSequence],
                              use_mean: bool = True) -> list[np.ndarray]:
        """Per-step teacher-forced log p(x_t | x_<t, z) of each NoteSequence's one input.

        Categorical decoders: the log-softmax of the true class (summed over a trio's
        three parts). NADE: the NADE's log-likelihood of the step's multi-hot drums.
        GrooVAE: the Bernoulli log-likelihood of the step's hits; its velocities and
        offsets are regressed (squared error), not modelled as distributions.
        """
        tensors = self.extract_examples(note_sequences)
        logliks = self._teacher_forced(self._step_loglik_fn, tensors.inputs, tensors.outputs,
                                       tensors.lengths, use_mean)
        return [loglik[:length] for loglik, length in zip(logliks, tensors.lengths)]
