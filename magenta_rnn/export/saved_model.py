"""Export as a TensorFlow SavedModel: every model, for any runtime that loads SavedModels
(`tf.saved_model.load` needs TensorFlow only, not magenta_rnn).

Events RNNs (Melody, Drums, Performance RNN) get step-wise sampling signatures:
  initial_state(batch_size: int32 []) -> {state: [batch, state_size]}
  step(inputs: [batch, time, input_size], state) -> {logits: [batch, time, classes],
       state: the state after the last input step}
  metadata() -> {json: the config, encoder sizes and state layout as a JSON string}
The caller encodes events as the encoder does (metadata says which encoder), feeds the
primer once, then one step per new event; the softmax of logits / temperature is the next
event's distribution (per head where metadata's class_sizes lists several).

MusicVAE gets:
  encode(inputs: [batch, max_seq_len, input_depth], lengths: int32 [batch]) -> {mu, sigma}
  decode(z: [batch, z_size], temperature: []) -> {outputs: [batch, max_seq_len, output_depth]}
    (temperature 0: greedy, the argmax at each step; otherwise a sampled decoding)
  metadata() -> {json}
Models conditioned on controls take `controls: [batch, max_seq_len, control_depth]` in
encode and decode as well.
"""
from __future__ import annotations

import json
import os
from typing import Any

import tensorflow as tf

from magenta_rnn.export.loading import EventsSource, MusicVaeSource

METADATA_FILE = os.path.join('assets.extra', 'magenta_rnn.json')


class _EventsModule(tf.Module):
    def __init__(self, network, metadata: str):
        super().__init__(name='events_rnn')
        self.network = network
        self.state_sizes = [int(n) for n in network.state_sizes()]
        width = 1 if network.input_depth is not None else network.input_size
        state_size = sum(self.state_sizes)
        self._metadata = metadata
        self.step = tf.function(self._step, input_signature=[
            tf.TensorSpec([None, None, width], tf.float32, name='inputs'),
            tf.TensorSpec([None, state_size], tf.float32, name='state')])
        self.initial_state = tf.function(self._initial_state, input_signature=[
            tf.TensorSpec([], tf.int32, name='batch_size')])
        self.metadata = tf.function(self._metadata_fn, input_signature=[])

    def _step(self, inputs, state):
        parts = tf.split(state, self.state_sizes, axis=1)
        logits, new_state = self.network.run(inputs, parts, training=False)
        return {'logits': logits, 'state': tf.concat(new_state, axis=1)}

    def _initial_state(self, batch_size):
        return {'state': tf.zeros(tf.stack([batch_size, sum(self.state_sizes)]))}

    def _metadata_fn(self):
        return {'json': tf.constant(self._metadata)}


class _MusicVaeModule(tf.Module):
    def __init__(self, vae, length: int, end_token: int | None, metadata: str):
        super().__init__(name='music_vae')
        self.vae = vae
        self.length = length
        self.end_token = end_token
        self._metadata = metadata
        control = vae.control_depth
        controls_spec = ([tf.TensorSpec([None, length, control], tf.float32, name='controls')]
                         if control else [])
        self.encode = tf.function(self._encode, input_signature=[
            tf.TensorSpec([None, length, vae.input_depth], tf.float32, name='inputs'),
            tf.TensorSpec([None], tf.int32, name='lengths'), *controls_spec])
        self.decode = tf.function(self._decode, input_signature=[
            tf.TensorSpec([None, vae.hparams.z_size], tf.float32, name='z'),
            tf.TensorSpec([], tf.float32, name='temperature'), *controls_spec])
        self.metadata = tf.function(self._metadata_fn, input_signature=[])

    def _encode(self, inputs, lengths, controls=None):
        mu, sigma = self.vae.encode(inputs, lengths, controls)
        return {'mu': mu, 'sigma': sigma}

    def _decode(self, z, temperature, controls=None):
        n = tf.shape(z)[0]

        def sample(t):
            return self.vae.decoder.sample(n, self.length, z, t, controls=controls,
                                           end_token=self.end_token)
        outputs = tf.cond(temperature > 0.0, lambda: sample(temperature), lambda: sample(None))
        return {'outputs': outputs}

    def _metadata_fn(self):
        return {'json': tf.constant(self._metadata)}


def _events_metadata(source: EventsSource) -> dict[str, Any]:
    from magenta_rnn.rnn.model_io import config_to_json

    network, encoder = source.network, source.encoder
    return {'format': 'magenta_rnn.saved_model/1', 'model': source.config.model,
            'config': config_to_json(source.config),
            'input_size': int(network.input_size),
            'input_depth': network.input_depth,
            'class_sizes': [int(c) for c in network.class_sizes],
            'state_sizes': [int(n) for n in network.state_sizes()],
            'encoder': type(encoder).__name__,
            'default_event_label': int(encoder.default_event_label)}


def _vae_metadata(source: MusicVaeSource) -> dict[str, Any]:
    config, converter = source.config, source.converter
    return {'format': 'magenta_rnn.saved_model/1', 'model': 'music_vae', 'config': config.id,
            'description': config.description, 'encoder': config.encoder,
            'decoder': config.decoder, 'data_converter': config.data_converter_spec,
            'hparams': config.hparams.values(), 'input_depth': int(converter.input_depth),
            'output_depth': int(converter.output_depth),
            'control_depth': int(converter.control_depth), 'end_token': converter.end_token}


def write(source: EventsSource | MusicVaeSource, directory: str) -> None:
    """Saves the SavedModel into `directory` (which must not exist yet)."""
    if isinstance(source, EventsSource):
        metadata = _events_metadata(source)
        module: tf.Module = _EventsModule(source.network, json.dumps(metadata))
        signatures = {'step': module.step, 'initial_state': module.initial_state,
                      'metadata': module.metadata}
    else:
        metadata = _vae_metadata(source)
        module = _MusicVaeModule(source.vae, int(source.config.hparams.max_seq_len),
                                 source.converter.end_token, json.dumps(metadata))
        signatures = {'encode': module.encode, 'decode': module.decode,
                      'metadata': module.metadata}
    # The hand-written gradients are saved too (slower to save): without them TensorFlow
    # warns at every load that a gradient would fail.
    tf.saved_model.save(module, directory, signatures=signatures)
    os.makedirs(os.path.join(directory, 'assets.extra'), exist_ok=True)
    with open(os.path.join(directory, METADATA_FILE), 'w') as f:
        json.dump(metadata, f, indent=1)
