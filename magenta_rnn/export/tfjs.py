"""Export for the browser: the checkpoint folder @magenta/music (Magenta.js 1.23.1) loads with
`new mm.MusicRNN(url)` or `new mm.MusicVAE(url)`.

The folder holds `config.json` (the model spec Magenta.js reads: its type, data converter
and options) and the weights in TensorFlow.js format (weights.py) under the TF1 variable
names Magenta.js looks up. What Magenta.js cannot run is refused with a one-line
ValueError that points at the SavedModel export. The checks below mirror what
music/src/music_rnn/model.ts, attention.ts and music_vae/model.ts of Magenta.js read.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import numpy as np

from magenta_rnn.export.loading import EventsSource, MusicVaeSource

POINTER = 'export --format=saved_model instead'


class NotForMagentaJs(ValueError):
    """Magenta.js cannot run this model (the message says why in one line)."""


# ------------------------------------------------------------------------ events RNNs

def _melody_converter(source: EventsSource) -> dict[str, Any]:
    from magenta_rnn.melody.model import note_range

    config = source.config
    if config.encoder.get('type') != 'melody_one_hot':
        raise NotForMagentaJs(
            f'Magenta.js cannot run {config.id}: its inputs use lookback or key features that '
            f'Magenta.js does not compute (only one-hot melody configs such as basic_rnn run '
            f'there); {POINTER}')
    min_note, max_note, _ = note_range(config)
    return {'type': 'MelodyConverter', 'args': {'minPitch': min_note, 'maxPitch': max_note - 1}}


def _drums_converter(source: EventsSource) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    from magenta_rnn.music.drum_encoders import DEFAULT_DRUM_TYPE_PITCHES

    spec = source.config.encoder
    pitches = [list(p) for p in spec.get('drum_type_pitches') or DEFAULT_DRUM_TYPE_PITCHES]
    converter = {'type': 'DrumsOneHotConverter', 'args': {'pitchClasses': pitches}}
    aux_inputs = []
    if spec.get('type') == 'drum_lookback':
        if spec.get('lookback_distances', None) != []:
            raise NotForMagentaJs(
                f'Magenta.js cannot run {source.config.id}: its inputs use lookback features '
                f'(lookback_distances {spec.get("lookback_distances", "default")}) that '
                f'Magenta.js does not compute; {POINTER}')
        bits = int(spec.get('binary_counter_bits', 0))
        if bits:
            aux_inputs.append({'type': 'BinaryCounter', 'args': {'numBits': bits}})
    return converter, aux_inputs


def _events_weights(source: EventsSource) -> dict[str, np.ndarray]:
    from magenta_rnn.rnn.model_io import export_values

    network, config = source.network, source.config
    if network.residual_connections:
        raise NotForMagentaJs(f'Magenta.js cannot run {config.id}: it has residual connections, '
                              f'which Magenta.js does not implement; {POINTER}')
    if network.attention is not None:
        if network.attention_layout != 'whole_stack':
            raise NotForMagentaJs(
                f'Magenta.js cannot run {config.id}: its attention wraps the first LSTM layer '
                f'only, and Magenta.js runs attention only as a wrapper around the whole stack '
                f'(the layout of bundles from before May 2017); {POINTER}')
        if len(network.lstms) != 3:
            raise NotForMagentaJs(
                f'Magenta.js cannot run {config.id}: Magenta.js\'s attention reads the third '
                f'LSTM layer\'s output, and this model has {len(network.lstms)} layers; '
                f'{POINTER}')
    values = export_values(network)
    renamed: dict[str, np.ndarray] = {}
    for name, value in values.items():
        # Magenta.js's names for the wrapper's output projection and its 1x1 convolution.
        name = name.replace('/attn_output_projection/', '/attention_output_projection/')
        if name.endswith('/attention/attn_w'):
            value = value.reshape([1, 1] + list(value.shape[-2:]))
        renamed[name] = value
    if network.attention is not None:
        _carry_query_bias(renamed, [lstm.units for lstm in network.lstms])
    return renamed


# Saturating pre-activations: sigmoid and tanh of +-100 are exactly 1 and 0 (or -1) in
# float32. The forget gate's runtime bias of +1 is taken off.
_CONSTANT_UNIT_BIAS = (100.0, 100.0, -101.0, 100.0)   # gates i, j, f, o


def _carry_query_bias(weights: dict[str, np.ndarray], units: list[int]) -> None:
    """Magenta.js's AttentionWrapper leaves out the bias of the attention query
    (`attention/bias`, which TF's AttentionCellWrapper adds), so a model with a non-zero
    one would score its window differently there. The bias is carried instead by one
    extra unit of the middle LSTM layer whose cell state is exactly 1 at every step
    (saturated gates, no inputs): its row of the query kernel is the bias. The unit feeds
    nothing else (zero kernel rows), so every other value is unchanged."""
    prefix = 'rnn/attention_cell_wrapper/'
    middle = f'{prefix}multi_rnn_cell/cell_1/basic_lstm_cell/'
    kernel, bias = weights[middle + 'kernel'], weights[middle + 'bias']
    u = units[1]
    n_in = kernel.shape[0] - u
    new_kernel = np.zeros([n_in + u + 1, 4 * (u + 1)], np.float32)
    new_bias = np.zeros([4 * (u + 1)], np.float32)
    for gate in range(4):
        old, new = slice(gate * u, (gate + 1) * u), slice(gate * (u + 1), gate * (u + 1) + u)
        new_kernel[:n_in + u, new] = kernel[:, old]
        new_bias[new] = bias[old]
        new_bias[gate * (u + 1) + u] = _CONSTANT_UNIT_BIAS[gate]
    weights[middle + 'kernel'], weights[middle + 'bias'] = new_kernel, new_bias
    above = f'{prefix}multi_rnn_cell/cell_2/basic_lstm_cell/kernel'
    weights[above] = np.insert(weights[above], u, 0.0, axis=0)   # its input: layer 1's h
    query_kernel = weights[prefix + 'attention/kernel']
    query_bias = weights[prefix + 'attention/bias']
    # Query rows: c0, h0, c1, h1, c2, h2; the constant unit ends the c1 and h1 blocks.
    c1_end = 2 * units[0] + u
    query_kernel = np.insert(query_kernel, c1_end, query_bias, axis=0)       # c = 1
    query_kernel = np.insert(query_kernel, c1_end + 1 + u, 0.0, axis=0)      # h = tanh(1)
    weights[prefix + 'attention/kernel'] = query_kernel
    weights[prefix + 'attention/bias'] = np.zeros_like(query_bias)


def events_export(source: EventsSource) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """(config.json, weights) of a MusicRNN checkpoint folder."""
    config = source.config
    if config.model == 'performance_rnn':
        raise NotForMagentaJs(f'Magenta.js cannot run Performance RNN models such as {config.id} '
                              f'(it has no performance event converter); {POINTER}')
    aux_inputs: list[dict[str, Any]] = []
    if config.model == 'melody_rnn':
        converter = _melody_converter(source)
    else:
        converter, aux_inputs = _drums_converter(source)
    weights = _events_weights(source)
    spec: dict[str, Any] = {'type': 'MusicRNN', 'dataConverter': converter}
    if source.network.attention is not None:
        spec['attentionLength'] = source.network.attn_length
    if aux_inputs:
        spec['auxInputs'] = aux_inputs
    spec['magentaRnn'] = {'model': config.model, 'config': config.id,
                          'description': config.description,
                          'stepsPerQuarter': config.steps_per_quarter}
    return spec, weights


# ---------------------------------------------------------------------------- MusicVAE

def _vae_converter(source: MusicVaeSource, num_segments: int | None,
                   warn: Callable[[str], None]) -> dict[str, Any]:
    config, converter = source.config, source.converter
    spec = dict(config.data_converter_spec)
    kind = spec.get('type')
    args: dict[str, Any] = {'numSteps': int(config.hparams.max_seq_len)}
    if num_segments:
        args['numSegments'] = num_segments
    if kind == 'melody':
        args['minPitch'] = int(converter._min_pitch)
        args['maxPitch'] = int(converter._max_pitch)
        return {'type': 'MelodyConverter', 'args': args}
    if kind == 'drums':
        args['pitchClasses'] = converter.pitch_classes
        if spec.get('roll_output'):
            name = 'DrumRollConverter'
        elif spec.get('roll_input'):
            name = 'DrumsConverter'
        else:
            name = 'DrumsOneHotConverter'
        return {'type': name, 'args': args}
    if kind == 'trio':
        melody, drums = converter._melody_converter, converter._drums_converter
        mel_args = {'minPitch': int(melody._min_pitch), 'maxPitch': int(melody._max_pitch)}
        args.update(melArgs=mel_args, bassArgs=dict(mel_args),
                    drumsArgs={'pitchClasses': drums.pitch_classes})
        return {'type': 'TrioConverter', 'args': args}
    if kind == 'groove':
        if spec.get('fixed_velocities') or spec.get('add_instruments'):
            warn(f'{config.id}: Magenta.js\'s GrooveConverter does not apply fixed_velocities or '
                 f'add_instruments to what it encodes; give encode() inputs already so changed')
        args.update(stepsPerQuarter=int(spec.get('steps_per_quarter', 4)),
                    humanize=bool(spec.get('humanize', False)),
                    tapify=bool(spec.get('tapify', False)),
                    pitchClasses=converter._infer_pitch_classes)
        return {'type': 'GrooveConverter', 'args': args}
    raise NotForMagentaJs(f'Magenta.js has no data converter for {config.id} '
                          f'({kind} data); {POINTER}')


def _js_encoder_names(num_segments: int | None) -> list[str]:
    """The encoder LSTM kernels Magenta.js requires (and no more layers than these)."""
    cell = 'cell_0/bidirectional_rnn/{d}/multi_rnn_cell/cell_0/lstm_cell/kernel'
    if num_segments:
        return [f'encoder/hierarchical_level_{level}/' + cell.format(d=d)
                for level in (0, 1) for d in ('fw', 'bw')]
    return ['encoder/' + cell.format(d=d) for d in ('fw', 'bw')]


def _placeholder_encoder(input_depth: int, z_size: int, num_segments: int | None
                         ) -> dict[str, np.ndarray]:
    """A one-unit encoder of the shape Magenta.js requires, whose mu is NaN: encode() in the
    browser then gives NaN instead of a plausible but meaningless z."""
    def cell(prefix: str, width: int) -> dict[str, np.ndarray]:
        return {f'{prefix}/kernel': np.zeros([width + 1, 4], np.float32),
                f'{prefix}/bias': np.zeros([4], np.float32)}

    weights: dict[str, np.ndarray] = {}
    cells = 'cell_0/bidirectional_rnn/{d}/multi_rnn_cell/cell_0/lstm_cell'
    levels = [('encoder/hierarchical_level_0/', input_depth),
              ('encoder/hierarchical_level_1/', 2)] if num_segments else [('encoder/', input_depth)]
    for prefix, width in levels:
        for d in ('fw', 'bw'):
            weights.update(cell(prefix + cells.format(d=d), width))
    weights['encoder/mu/kernel'] = np.zeros([2, z_size], np.float32)
    weights['encoder/mu/bias'] = np.full([z_size], np.nan, np.float32)
    return weights


def _check_vae_decoder(source: MusicVaeSource) -> int | None:
    """numSegments for Magenta.js's conductor (None for a flat decoder)."""
    from magenta_rnn.music_vae import hierarchical, lstm

    config, decoder = source.config, source.vae.decoder
    num_segments = None
    if isinstance(decoder, hierarchical.HierarchicalLstmDecoder):
        if len(decoder.level_lengths) != 2:
            raise NotForMagentaJs(f'Magenta.js runs one conductor level; {config.id} has '
                                  f'{len(decoder.level_lengths) - 1}; {POINTER}')
        num_segments = decoder.level_lengths[0]
        decoder = decoder.core_decoder
    cores = (decoder.core_decoders if isinstance(decoder, hierarchical.SplitMultiOutLstmDecoder)
             else [decoder])
    if isinstance(decoder, hierarchical.MultiOutCategoricalLstmDecoder):
        raise NotForMagentaJs(f'Magenta.js runs multi-part models only with one core decoder '
                              f'per part (as hierdec-trio_16bar); {config.id} has one decoder '
                              f'for all parts; {POINTER}')
    kind = config.data_converter_spec.get('type')
    for core in cores:
        if type(core).__name__ == 'MultiLabelRnnNadeDecoder':
            continue
        if type(core).__name__ == 'GrooveLstmDecoder' and kind == 'groove':
            continue
        if type(core) is not lstm.CategoricalLstmDecoder:
            raise NotForMagentaJs(f'Magenta.js cannot run the {type(core).__name__} of '
                                  f'{config.id}; {POINTER}')
    return num_segments


def music_vae_export(source: MusicVaeSource, warn: Callable[[str], None] = logging.warning
                     ) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """(config.json, weights) of a MusicVAE checkpoint folder."""
    from magenta_rnn.music_vae.trained_model import tf1_variable_map

    config, converter = source.config, source.converter
    if converter.control_depth:
        raise NotForMagentaJs(f'{config.id} is conditioned on controls (chords, key or hits), '
                              f'which this export does not map to Magenta.js; {POINTER}')
    if converter.end_token is not None:
        raise NotForMagentaJs(f'Magenta.js decodes fixed-length sequences without an end '
                              f'token; {config.id} uses one; {POINTER}')
    num_segments = _check_vae_decoder(source)
    converter_spec = _vae_converter(source, num_segments, warn)
    variables = tf1_variable_map(source.vae)
    weights = {name: variable.numpy() for name, variable in variables.items()
               if name.split('/')[0] not in ('encoder', 'global_step')}
    # sigma is left out: Magenta.js's encode() gives mu.
    encoder_weights = {name: variable.numpy() for name, variable in variables.items()
                       if name.startswith('encoder/') and not name.startswith('encoder/sigma')}
    required = _js_encoder_names(num_segments)
    beyond = [n.replace('cell_0/bidirectional', 'cell_1/bidirectional') for n in required]
    if num_segments:
        beyond += [n.replace('hierarchical_level_1', 'hierarchical_level_2') for n in required
                   if 'hierarchical_level_1' in n]
    encoder_exported = (all(n in encoder_weights for n in required)
                        and not any(n in encoder_weights for n in beyond))
    if not encoder_exported:
        wanted = ('a two-level hierarchical encoder' if num_segments
                  else 'a one-layer bidirectional encoder')
        warn(f'{config.id}: with this decoder Magenta.js runs only {wanted}, which this model '
             f'does not have; the export decodes and samples in the browser, but its encode() '
             f'gives NaN (encode with the SavedModel export or in Python)')
        encoder_weights = _placeholder_encoder(converter.input_depth, config.hparams.z_size,
                                               num_segments)
    spec: dict[str, Any] = {'type': 'MusicVAE', 'dataConverter': converter_spec,
                            'useBooleanDecoder': False, 'conditionOnKey': False,
                            'magentaRnn': {'model': 'music_vae', 'config': config.id,
                                           'description': config.description,
                                           'encoderExported': encoder_exported}}
    return spec, {**encoder_weights, **weights}
