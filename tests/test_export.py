"""magenta_rnn.export on tiny random models: the tfjs weights format, the names and config
Magenta.js reads (checked by running Magenta.js's MusicRNN arithmetic in NumPy on the
exported folder), refusals, and SavedModel round trips. The real clients (Node, a fresh
TensorFlow-only Python) are in test_export_clients.py."""
from __future__ import annotations

import importlib.util
import json
import os

import numpy as np
import pytest
import tensorflow as tf

from magenta_rnn.export import export_model, loading
from magenta_rnn.export import weights as weights_lib
from conftest import REPO_ROOT


def _load_script(name: str):
    spec = importlib.util.spec_from_file_location(name, REPO_ROOT / 'scripts' / f'{name}.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


export_models = _load_script('export_models')

TINY_VAE = 'enc_rnn_size=[8],dec_rnn_size=[8,8],z_size=4'
MUGEN = REPO_ROOT.parent / 'shared' / 'bundles' / 'mugen_attention_rnn'


# --------------------------------------------------------------------- weights format

def test_weights_round_trip_in_shards(tmp_path):
    rng = np.random.default_rng(0)
    values = {'b/kernel': rng.normal(size=(30, 20)).astype(np.float32),
              'a/bias': rng.normal(size=(7,)).astype(np.float32)}
    manifest = weights_lib.write_weights(str(tmp_path), values, shard_bytes=1000)
    assert manifest[0]['paths'] == [f'group1-shard{i}of3' for i in (1, 2, 3)]
    assert manifest[0]['weights'] == [
        {'name': 'b/kernel', 'shape': [30, 20], 'dtype': 'float32'},
        {'name': 'a/bias', 'shape': [7], 'dtype': 'float32'}]
    assert [os.path.getsize(tmp_path / p) for p in manifest[0]['paths']] == [1000, 1000, 428]
    with open(tmp_path / 'weights_manifest.json') as f:
        assert json.load(f) == manifest
    read = weights_lib.read_weights(str(tmp_path))
    assert list(read) == ['b/kernel', 'a/bias']
    for name, value in values.items():
        np.testing.assert_array_equal(read[name], value)


@pytest.mark.parametrize('quantization_bytes, dtype', [(1, 'uint8'), (2, 'uint16')])
def test_quantization(tmp_path, quantization_bytes, dtype):
    rng = np.random.default_rng(1)
    value = np.concatenate([rng.uniform(-0.3, 1.2, 999), [0.0]]).astype(np.float32)
    values = {'w': value, 'constant': np.full([3], 0.25, np.float32),
              'nan': np.array([1.0, np.nan], np.float32)}
    manifest = weights_lib.write_weights(str(tmp_path), values, quantization_bytes)
    entries = {e['name']: e for e in manifest[0]['weights']}
    quantization = entries['w']['quantization']
    assert quantization['dtype'] == dtype and quantization['original_dtype'] == 'float32'
    assert 'quantization' not in entries['nan']          # NaN cannot be quantized
    read = weights_lib.read_weights(str(tmp_path))
    assert read['w'][-1] == 0.0                            # zero is exactly representable
    assert np.max(np.abs(read['w'] - value)) <= quantization['scale'] / 2 + 1e-7
    np.testing.assert_array_equal(read['constant'], values['constant'])
    assert np.isnan(read['nan'][1]) and read['nan'][0] == 1.0
    assert os.path.getsize(tmp_path / 'group1-shard1of1') == 1000 * quantization_bytes + \
        3 * quantization_bytes + 2 * 4


# ------------------------------------------------- Magenta.js's MusicRNN, in NumPy

def _sigmoid(x):
    return 0.5 * (np.tanh(0.5 * x) + 1.0)


def _js_basic_lstm(kernel, bias, x, c, h):
    i, j, f, o = np.split(np.concatenate([x, h], 1) @ kernel + bias, 4, axis=1)
    c = c * _sigmoid(f + 1.0) + _sigmoid(i) * np.tanh(j)
    return c, np.tanh(c) * _sigmoid(o)


def js_music_rnn_logits(w: dict, inputs: np.ndarray, attention_length: int | None) -> np.ndarray:
    """Logits after each input row, as music_rnn/model.ts and attention.ts compute them from
    a loaded weights dict (names looked up the same way; attention/bias is not read)."""
    wrapped = 'rnn/attention_cell_wrapper/kernel' in w
    prefix = 'rnn/attention_cell_wrapper/' if wrapped else 'rnn/'
    cells = []
    while f'{prefix}multi_rnn_cell/cell_{len(cells)}/basic_lstm_cell/kernel' in w:
        cell = f'{prefix}multi_rnn_cell/cell_{len(cells)}/basic_lstm_cell/'
        cells.append((w[cell + 'kernel'], w[cell + 'bias']))
    c = [np.zeros((1, b.shape[0] // 4), np.float32) for _, b in cells]
    h = [np.zeros_like(x) for x in c]
    size = cells[0][1].shape[0] // 4
    attention = np.zeros((1, size), np.float32)
    window = np.zeros((attention_length or 0, size), np.float32)
    logits = []
    for x in inputs:
        x = x[None]
        if wrapped:
            x = np.concatenate([x, attention], 1) @ w[prefix + 'kernel'] + w[prefix + 'bias']
        for k, (kernel, bias) in enumerate(cells):
            c[k], h[k] = _js_basic_lstm(kernel, bias, x, c[k], h[k])
            x = h[k]
        if wrapped:
            features = window @ w[prefix + 'attention/attn_w'][0, 0]
            query = np.concatenate([t for pair in zip(c, h) for t in pair], 1)
            y = query @ w[prefix + 'attention/kernel']            # no bias, as in Magenta.js
            scores = (w[prefix + 'attention/attn_v'] * np.tanh(features + y)).sum(-1)
            weights = np.exp(scores - scores.max())
            attention = (weights / weights.sum()) @ window
            attention = attention[None]
            x = np.concatenate([h[2], attention], 1) @ \
                w[prefix + 'attention_output_projection/kernel'] + \
                w[prefix + 'attention_output_projection/bias']
            window = np.concatenate([window[1:], x])
        logits.append(x @ w['fully_connected/weights'] + w['fully_connected/biases'])
    return np.concatenate(logits)


def _our_logits(source, events):
    inputs = np.stack(source.encoder.get_inputs_batch([events], full_length=True))
    logits, _ = source.network.run(tf.constant(inputs), source.network.zero_state(1))
    return inputs[0], logits.numpy()[0]


def test_basic_rnn_for_magenta_js(tmp_path):
    bundle = export_models.events_bundle(str(tmp_path / 'b.mag'), 'melody_rnn', 'basic_rnn',
                                         'rnn_layer_sizes=[8,8]')
    export_model(str(tmp_path / 'js'), 'tfjs', bundle_file=bundle)
    with open(tmp_path / 'js' / 'config.json') as f:
        spec = json.load(f)
    assert spec['type'] == 'MusicRNN'
    assert spec['dataConverter'] == {'type': 'MelodyConverter',
                                     'args': {'minPitch': 48, 'maxPitch': 83}}
    assert 'attentionLength' not in spec and 'auxInputs' not in spec
    weights = weights_lib.read_weights(str(tmp_path / 'js'))
    assert {n: list(v.shape) for n, v in weights.items()} == {
        'rnn/multi_rnn_cell/cell_0/basic_lstm_cell/kernel': [46, 32],
        'rnn/multi_rnn_cell/cell_0/basic_lstm_cell/bias': [32],
        'rnn/multi_rnn_cell/cell_1/basic_lstm_cell/kernel': [16, 32],
        'rnn/multi_rnn_cell/cell_1/basic_lstm_cell/bias': [32],
        'fully_connected/weights': [8, 38], 'fully_connected/biases': [38]}
    source = loading.load_source(bundle_file=bundle)
    inputs, ours = _our_logits(source, [60, -2, 62, -1, 64, -2, -2, 71])
    np.testing.assert_allclose(js_music_rnn_logits(weights, inputs, None), ours, atol=1e-5)


def test_drum_kit_whole_stack_attention_for_magenta_js(tmp_path):
    """Random weights: the attention query's bias is far from zero, which Magenta.js does
    not read; the exported folder still computes our logits."""
    bundle = export_models.events_bundle(str(tmp_path / 'd.mag'), 'drums_rnn', 'drum_kit',
                                         'rnn_layer_sizes=[8,8,8],attn_length=3',
                                         attention_layout='whole_stack')
    source = loading.load_source(bundle_file=bundle)
    assert np.abs(source.network.attention.query.bias.numpy()).max() > 0.1
    export_model(str(tmp_path / 'js'), 'tfjs', bundle_file=bundle)
    with open(tmp_path / 'js' / 'config.json') as f:
        spec = json.load(f)
    assert spec['dataConverter']['type'] == 'DrumsOneHotConverter'
    assert spec['dataConverter']['args']['pitchClasses'][0] == [36, 35]
    assert spec['attentionLength'] == 3
    assert spec['auxInputs'] == [{'type': 'BinaryCounter', 'args': {'numBits': 6}}]
    weights = weights_lib.read_weights(str(tmp_path / 'js'))
    prefix = 'rnn/attention_cell_wrapper/'
    assert weights[prefix + 'attention/attn_w'].shape == (1, 1, 8, 8)
    assert prefix + 'attention_output_projection/kernel' in weights
    events = [frozenset(p) for p in [(36,), (), (42,), (38, 36), (), (46,), (49,), (), (36,)]]
    inputs, ours = _our_logits(source, events)
    assert inputs.shape[1] == 512 + 6
    np.testing.assert_allclose(js_music_rnn_logits(weights, inputs, 3), ours, atol=1e-5)
    # The bias rides on one extra unit of the middle layer.
    assert weights[prefix + 'multi_rnn_cell/cell_1/basic_lstm_cell/kernel'].shape == (17, 36)


@pytest.mark.parametrize('model, config, hparams, layout, says', [
    ('drums_rnn', 'drum_kit', 'rnn_layer_sizes=[8,8,8],attn_length=3', 'first_layer',
     'wraps the first LSTM layer only'),
    ('drums_rnn', 'drum_kit', 'rnn_layer_sizes=[8,8],attn_length=3', 'whole_stack',
     'third LSTM layer'),
    ('melody_rnn', 'lookback_rnn', 'rnn_layer_sizes=[8]', 'first_layer', 'lookback or key'),
    ('melody_rnn', 'attention_rnn', 'rnn_layer_sizes=[8]', 'first_layer', 'lookback or key'),
    ('performance_rnn', 'performance_with_dynamics', 'rnn_layer_sizes=[8]', 'first_layer',
     'Performance RNN'),
])
def test_models_magenta_js_cannot_run_are_refused(tmp_path, model, config, hparams, layout,
                                                  says):
    bundle = export_models.events_bundle(str(tmp_path / 'm.mag'), model, config, hparams,
                                         layout)
    with pytest.raises(ValueError) as error:
        export_model(str(tmp_path / 'js'), 'tfjs', bundle_file=bundle)
    message = str(error.value)
    assert says in message and '--format=saved_model' in message and '\n' not in message
    assert sorted(os.listdir(tmp_path)) == ['m.mag']      # nothing written


def test_music_vae_for_magenta_js(tmp_path):
    checkpoint = export_models.music_vae_checkpoint(str(tmp_path / 'ckpt'),
                                                    'cat-mel_2bar_small', TINY_VAE)
    export_model(str(tmp_path / 'js'), 'tfjs', config='cat-mel_2bar_small',
                 checkpoint_file=checkpoint, hparams=TINY_VAE, quantization_bytes=2)
    with open(tmp_path / 'js' / 'config.json') as f:
        spec = json.load(f)
    assert spec['dataConverter'] == {'type': 'MelodyConverter', 'args': {
        'numSteps': 32, 'minPitch': 21, 'maxPitch': 108}}
    assert spec['magentaRnn']['encoderExported'] is True
    with open(tmp_path / 'js' / 'weights_manifest.json') as f:
        entries = json.load(f)[0]['weights']
    assert {e['quantization']['dtype'] for e in entries} == {'uint16'}
    cell = 'cell_0/bidirectional_rnn/{}/multi_rnn_cell/cell_0/lstm_cell/'
    assert {e['name']: e['shape'] for e in entries} == {
        **{f'encoder/{cell.format(d)}kernel': [90 + 8, 32] for d in ('fw', 'bw')},
        **{f'encoder/{cell.format(d)}bias': [32] for d in ('fw', 'bw')},
        'encoder/mu/kernel': [16, 4], 'encoder/mu/bias': [4],
        'decoder/multi_rnn_cell/cell_0/lstm_cell/kernel': [90 + 4 + 8, 32],
        'decoder/multi_rnn_cell/cell_0/lstm_cell/bias': [32],
        'decoder/multi_rnn_cell/cell_1/lstm_cell/kernel': [16, 32],
        'decoder/multi_rnn_cell/cell_1/lstm_cell/bias': [32],
        'decoder/z_to_initial_state/kernel': [4, 32], 'decoder/z_to_initial_state/bias': [32],
        'decoder/output_projection/kernel': [8, 90], 'decoder/output_projection/bias': [90]}


def test_hierarchical_decoder_with_a_flat_encoder_for_magenta_js(tmp_path, caplog):
    hparams = 'enc_rnn_size=[8,8],dec_rnn_size=[8,8],z_size=4'
    checkpoint = export_models.music_vae_checkpoint(str(tmp_path / 'ckpt'),
                                                    'hierdec-mel_16bar', hparams)
    export_model(str(tmp_path / 'js'), 'tfjs', config='hierdec-mel_16bar',
                 checkpoint_file=checkpoint, hparams=hparams)
    assert 'encode() gives NaN' in caplog.text
    with open(tmp_path / 'js' / 'config.json') as f:
        spec = json.load(f)
    assert spec['dataConverter']['args'] == {'numSteps': 256, 'numSegments': 16,
                                             'minPitch': 21, 'maxPitch': 108}
    assert spec['magentaRnn']['encoderExported'] is False
    weights = weights_lib.read_weights(str(tmp_path / 'js'))
    assert np.isnan(weights['encoder/mu/bias']).all()
    for level in (0, 1):
        assert (f'encoder/hierarchical_level_{level}/cell_0/bidirectional_rnn/fw/'
                f'multi_rnn_cell/cell_0/lstm_cell/kernel') in weights
    assert weights['decoder/hierarchical_level_0/initial_state/kernel'].shape == (4, 32)
    assert weights['decoder/hierarchical_level_0/cell_0/lstm_cell/kernel'].shape == (1 + 8, 32)
    assert weights['core_decoder/decoder/multi_rnn_cell/cell_0/lstm_cell/kernel'].shape == \
        (90 + 8 + 8, 32)


@pytest.mark.skipif(not MUGEN.is_dir(), reason='../shared/bundles is not present')
def test_tf1_names_match_an_original_magenta_js_export():
    """The mugen model's own Magenta.js export (made by its author with Magenta's converter)
    carries the TF1 names and shapes our bundles hold."""
    from magenta_rnn.rnn.model_io import export_values

    source = loading.load_source(bundle_file=str(MUGEN / 'checkpoints' / 'attention_rrn.mag'))
    ours = {n: v.shape for n, v in export_values(source.network).items()}
    original = weights_lib.read_weights(str(MUGEN / 'tfjs_export'))
    assert set(original) == set(ours)
    for name, value in original.items():
        assert int(np.prod(value.shape)) == int(np.prod(ours[name])), name
        np.testing.assert_allclose(value.reshape(ours[name]),
                                   export_values(source.network)[name], atol=1e-6)


# ------------------------------------------------------------------------ SavedModel

def test_events_saved_model_round_trip(tmp_path):
    bundle = export_models.events_bundle(str(tmp_path / 'd.mag'), 'drums_rnn', 'drum_kit',
                                         'rnn_layer_sizes=[8,8],attn_length=3')
    export_model(str(tmp_path / 'sm'), 'saved_model', bundle_file=bundle)
    source = loading.load_source(bundle_file=bundle)
    events = [frozenset(p) for p in [(36,), (), (42,), (38, 36), (), (46,), (49,)]]
    inputs, ours = _our_logits(source, events)
    loaded = tf.saved_model.load(str(tmp_path / 'sm'))
    state = loaded.initial_state(tf.constant(1))['state']
    assert state.shape == (1, sum(source.network.state_sizes()))
    first = loaded.step(inputs=tf.constant(inputs[None, :4]), state=state)
    rest = loaded.signatures['step'](inputs=tf.constant(inputs[None, 4:]), state=first['state'])
    logits = np.concatenate([first['logits'].numpy()[0], rest['logits'].numpy()[0]])
    np.testing.assert_allclose(logits, ours, atol=1e-5)
    metadata = json.loads(loaded.metadata()['json'].numpy())
    assert metadata['model'] == 'drums_rnn' and metadata['class_sizes'] == [512]
    assert metadata['config']['hparams']['attn_length'] == 3
    with open(tmp_path / 'sm' / 'assets.extra' / 'magenta_rnn.json') as f:
        assert json.load(f) == metadata


def test_music_vae_saved_model_round_trip(tmp_path):
    checkpoint = export_models.music_vae_checkpoint(str(tmp_path / 'ckpt'),
                                                    'cat-drums_2bar_small', TINY_VAE)
    export_model(str(tmp_path / 'sm'), 'saved_model', config='cat-drums_2bar_small',
                 checkpoint_file=checkpoint, hparams=TINY_VAE)
    source = loading.load_source(config='cat-drums_2bar_small', checkpoint_file=checkpoint,
                                 hparams=TINY_VAE)
    z = np.random.default_rng(2).standard_normal((2, 4)).astype(np.float32)
    ours = source.vae.decode(z, 32, None).numpy()
    assert len(set(ours.argmax(-1).ravel())) > 2
    loaded = tf.saved_model.load(str(tmp_path / 'sm'))
    greedy = loaded.decode(z=tf.constant(z), temperature=tf.constant(0.0))['outputs'].numpy()
    np.testing.assert_array_equal(greedy, ours)
    sampled = loaded.decode(z=tf.constant(z), temperature=tf.constant(1.0))['outputs'].numpy()
    assert sampled.shape == (2, 32, 512) and (sampled.sum(-1) == 1).all()
    inputs = np.random.default_rng(3).integers(0, 2, (2, 32, 10)).astype(np.float32)
    lengths = np.array([32, 20], np.int32)
    mu, sigma = source.vae.encode(inputs, lengths)
    encoded = loaded.encode(inputs=tf.constant(inputs), lengths=tf.constant(lengths))
    np.testing.assert_allclose(encoded['mu'].numpy(), mu.numpy(), atol=1e-6)
    np.testing.assert_allclose(encoded['sigma'].numpy(), sigma.numpy(), atol=1e-6)


# ---------------------------------------------------------------------------- errors

def test_export_errors_are_one_line_and_leave_nothing(tmp_path):
    bundle = export_models.events_bundle(str(tmp_path / 'b.mag'), 'melody_rnn', 'basic_rnn',
                                         'rnn_layer_sizes=[4]')
    cases = [
        (dict(export_format='onnx', bundle_file=bundle), ValueError, '--format must be one of'),
        (dict(export_format='saved_model', bundle_file=bundle, quantization_bytes=1),
         ValueError, 'applies to --format=tfjs only'),
        (dict(export_format='tfjs', bundle_file=bundle, quantization_bytes=3), ValueError,
         'must be 1 or 2'),
        (dict(export_format='tfjs', bundle_file=str(tmp_path / 'none.mag')), FileNotFoundError,
         'no such file'),
        (dict(export_format='tfjs', bundle_file=bundle, config='basic_rnn'), ValueError,
         'not both'),
        (dict(export_format='tfjs'), ValueError, 'is required'),
        (dict(export_format='tfjs', config='no_such_config', checkpoint_file=bundle),
         ValueError, "unknown config 'no_such_config'"),
        (dict(export_format='tfjs', config='cat-mel_2bar_small',
              checkpoint_file=str(tmp_path / 'missing')), FileNotFoundError, 'no checkpoint'),
    ]
    for kwargs, error, text in cases:
        with pytest.raises(error) as raised:
            export_model(str(tmp_path / 'out'), **kwargs)
        assert text in str(raised.value) and '\n' not in str(raised.value), kwargs
    (tmp_path / 'full').mkdir()
    (tmp_path / 'full' / 'keep.txt').write_text('mine')
    with pytest.raises(ValueError, match='not an empty folder'):
        export_model(str(tmp_path / 'full'), 'tfjs', bundle_file=bundle)
    assert os.listdir(tmp_path / 'full') == ['keep.txt']
    assert sorted(os.listdir(tmp_path)) == ['b.mag', 'full']
    (tmp_path / 'empty').mkdir()
    export_model(str(tmp_path / 'empty'), 'tfjs', bundle_file=bundle)
    assert sorted(os.listdir(tmp_path / 'empty')) == ['config.json', 'group1-shard1of1',
                                                      'weights_manifest.json']
    assert sorted(os.listdir(tmp_path)) == ['b.mag', 'empty', 'full']
    umask = os.umask(0)
    os.umask(umask)
    export_model(str(tmp_path / 'new' / 'js'), 'tfjs', bundle_file=bundle)
    assert os.stat(tmp_path / 'new' / 'js').st_mode & 0o777 == 0o777 & ~umask   # not private


# ---------------------------------------- drums trained in Magenta.js's attention layout

def _whole_stack_config(tmp_path) -> str:
    config = json.loads((REPO_ROOT / 'configs' / 'drums_rnn' / 'drum_kit.json').read_text())
    config.update(id='drum_kit_browser', attention_layout='whole_stack')
    config['hparams'].update(rnn_layer_sizes=[8, 8, 8], attn_length=3, batch_size=2)
    path = tmp_path / 'drum_kit_browser.json'
    path.write_text(json.dumps(config))
    return str(path)


def test_a_drums_config_chooses_the_whole_stack_attention_layout(tmp_path):
    from magenta_rnn.drums import DRUMS_RNN
    from magenta_rnn.rnn import model_io
    from magenta_rnn.rnn.config import ConfigError
    from magenta_rnn.rnn.model import build_events_rnn

    config = DRUMS_RNN.load_config(_whole_stack_config(tmp_path))
    assert config.attention_layout == 'whole_stack'
    encoder = DRUMS_RNN.build_encoder(config)
    trained = build_events_rnn(config.hparams, encoder.input_size, encoder.num_classes,
                               attention_layout='whole_stack')
    trained(tf.zeros([1, 1, encoder.input_size]))
    prefix = tf.train.Checkpoint(model=trained).save(str(tmp_path / 'ckpt' / 'model'))
    loaded = model_io.load_trained(config, prefix, encoder.input_size, encoder.num_classes)
    assert loaded.attention_layout == 'whole_stack'
    export_model(str(tmp_path / 'js'), 'tfjs', config=_whole_stack_config(tmp_path),
                 checkpoint_file=prefix)
    assert 'rnn/attention_cell_wrapper/kernel' in weights_lib.read_weights(str(tmp_path / 'js'))
    bad = json.loads(open(_whole_stack_config(tmp_path)).read())
    bad['attention_layout'] = 'everywhere'
    (tmp_path / 'bad.json').write_text(json.dumps(bad))
    with pytest.raises(ConfigError, match='attention_layout must be'):
        DRUMS_RNN.load_config(str(tmp_path / 'bad.json'))
