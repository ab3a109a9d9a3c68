"""Shipped default models: storage, the resolver, generation without a model flag and
without TensorFlow, the top-level API and its docstring example.

The models here are small ones trained in the test (a melody model that learns a repeated
scale), exported into a temporary tree that MAGENTA_RNN_DEFAULT_MODELS points at.
"""
from __future__ import annotations

import glob
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from magenta_rnn import default_models
from magenta_rnn.default_models import export
from magenta_rnn.melody import MELODY_RNN
from magenta_rnn.melody.generator import Melody

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# A rising and falling C major scale in eighth notes, over and over: easy to learn.
SCALE = [60, 62, 64, 65, 67, 69, 71, 72, 71, 69, 67, 65, 64, 62]
PATTERN = [event for pitch in SCALE for event in (pitch, -2)]
HPARAMS = 'batch_size=8,rnn_layer_sizes=[32,32],dropout_keep_prob=1.0,learning_rate=0.02'


def _train_melody_model(tmp_path, steps: int = 300):
    """A basic_rnn of 2x32 trained on the scale; returns (config, encoder, TF model)."""
    from magenta_rnn.records import RecordWriter
    from magenta_rnn.rnn import model_io, train
    from magenta_rnn.rnn.cli import encoder_facts
    from magenta_rnn.rnn.model import build_events_rnn

    config = MELODY_RNN.load_config('basic_rnn', HPARAMS)
    encoder = MELODY_RNN.build_encoder(config)
    path = str(tmp_path / 'scale.tfrecord')
    with RecordWriter(path) as writer:
        for offset in range(16):
            events = (PATTERN * 6)[offset:offset + 64]
            writer.write(encoder.encode(Melody(events)))
    facts = encoder_facts(encoder)
    run_dir = str(tmp_path / 'run')
    train.run_training(build_events_rnn, config.hparams, path, run_dir,
                       num_training_steps=steps, seed=0, **facts)
    checkpoint = model_io.latest_checkpoint(run_dir, None)
    network = model_io.load_trained(config, checkpoint, facts['input_size'],
                                    facts['num_classes'], facts['input_depth'])
    return config, encoder, network


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    """(tree, config, encoder, TF model, exported values): the scale model as a default."""
    from magenta_rnn.rnn import model_io

    tmp_path = tmp_path_factory.mktemp('defaults')
    config, encoder, network = _train_melody_model(tmp_path)
    values = model_io.export_values(network)
    tree = tmp_path / 'tree'
    greedy = export.events_greedy_outputs(config, encoder, [Melody([60]), Melody([67])], 64)
    storage = export.export_events_rnn(str(tree / 'melody_rnn' / 'basic_rnn'), values, config,
                                       greedy, {'data': 'a C major scale', 'steps': 300})
    assert storage == 'float16'
    return tree, config, encoder, network, values


def _env(tree) -> dict[str, str]:
    return dict(os.environ, MAGENTA_RNN_DEFAULT_MODELS=str(tree), PYTHONPATH=REPO)


def test_the_trained_model_learned_the_scale(trained):
    _, _, encoder, network, values = trained
    frozen = export.frozen_events_rnn(values, trained[1], encoder)
    [continuation] = export.greedy_events(frozen, encoder, [Melody(PATTERN[:8])], 40)
    assert continuation == (PATTERN * 3)[:40]


def test_numpy_frozen_model_gives_the_tf_models_probabilities(trained):
    from magenta_rnn.rnn.numpy_stepper import NumpyStepper

    _, config, encoder, network, values = trained
    inputs = np.stack(encoder.get_inputs_batch([Melody(PATTERN[:12])], full_length=True))
    from_tf = NumpyStepper(network)
    from_arrays = NumpyStepper(export.frozen_events_rnn(values, config, encoder))
    expected, _ = from_tf.step(inputs, from_tf.zero_state(1))
    got, _ = from_arrays.step(inputs, from_arrays.zero_state(1))
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-7)


def test_float16_storage_halves_the_file_and_keeps_greedy_outputs(trained, tmp_path):
    tree, config, encoder, _, values = trained
    stored = tree / 'melody_rnn' / 'basic_rnn' / default_models.WEIGHTS_FILE
    with np.load(stored) as arrays:
        assert {arrays[name].dtype for name in arrays.files} == {np.dtype(np.float16)}
        assert sorted(arrays.files) == sorted(values)  # weights only: no optimizer slots
    full = tmp_path / 'full'
    export.write_default(str(full), values, 'float32', {'config': {}})
    assert os.path.getsize(stored) < 0.55 * os.path.getsize(full / default_models.WEIGHTS_FILE)
    primers = [Melody([pitch]) for pitch in (60, 62, 64, 67, 72)]
    loaded = export.frozen_events_rnn(
        {k: v for k, v in np.load(stored).items()}, config, encoder)
    assert (export.greedy_events(loaded, encoder, primers, 64)
            == export.greedy_events(export.frozen_events_rnn(values, config, encoder), encoder,
                                    primers, 64))


def test_storage_falls_back_to_float32_when_float16_changes_a_greedy_output():
    values = {'w': np.array([1.0, 1.0001], np.float32)}

    def argmax_of(weights):  # the two weights differ in float32 and tie in float16
        return int(np.argmax(weights['w']))
    assert export.choose_storage(values, argmax_of) == 'float32'
    assert export.choose_storage({'w': np.array([1.0, 2.0], np.float32)}, argmax_of) == 'float16'


def test_model_json_holds_the_config_and_training_facts(trained):
    tree = trained[0]
    data = json.loads((tree / 'melody_rnn' / 'basic_rnn' / 'model.json').read_text())
    assert data['format'] == default_models.FORMAT
    assert data['storage'] == 'float16'
    assert data['config']['id'] == 'basic_rnn'
    assert data['config']['hparams']['rnn_layer_sizes'] == [32, 32]
    assert data['training'] == {'data': 'a C major scale', 'steps': 300}


def test_melody_rnn_generate_without_a_model_flag_uses_the_default_and_no_tensorflow(
        trained, tmp_path):
    tree = trained[0]
    out = tmp_path / 'out'
    code = ('import runpy, sys; sys.argv = ["melody_rnn_generate", "--output_dir=%s", '
            '"--num_outputs=3", "--num_steps=32", "--seed=1"]\n'
            'try:\n    runpy.run_module("magenta_rnn.melody.generate", run_name="__main__")\n'
            'except SystemExit as e:\n    assert not e.code, e.code\n'
            'print("TF_LOADED" if "tensorflow" in sys.modules else "TF_NOT_LOADED")' % out)
    result = subprocess.run([sys.executable, '-c', code], env=_env(tree), capture_output=True,
                            text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert 'TF_NOT_LOADED' in result.stdout
    assert 'using the shipped default model melody_rnn/basic_rnn, trained on a C major scale, ' \
           '300 steps' in result.stderr
    assert len(glob.glob(str(out / '*.mid'))) == 3


def test_a_config_without_a_default_says_so_in_one_line(trained, tmp_path):
    result = subprocess.run(
        [sys.executable, '-m', 'magenta_rnn.melody.generate', '--config=lookback_rnn',
         f'--output_dir={tmp_path}'], env=_env(trained[0]), capture_output=True, text=True,
        timeout=120, check=False)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].split(': error: ')[1] == (
        "no shipped default model for melody_rnn config "
        "'lookback_rnn' (shipped defaults: basic_rnn); give a trained model with "
        "--bundle_file, --run_dir or --checkpoint_file")
    assert not os.listdir(tmp_path)


def test_resolver_lists_shipped_defaults_and_picks_the_usual_config(trained, monkeypatch):
    monkeypatch.setattr(default_models, 'ROOT', str(trained[0]))
    assert default_models.shipped('melody_rnn') == ['basic_rnn']
    assert default_models.shipped('drums_rnn') == []
    assert default_models.default_config_name('melody_rnn') == 'basic_rnn'
    with pytest.raises(default_models.NoDefaultModelError, match=r'shipped defaults: none'):
        default_models.check_shipped('drums_rnn', 'drum_kit')


def test_api_generates_reproducible_melodies_from_a_primer(trained, monkeypatch):
    import magenta_rnn

    monkeypatch.setattr(default_models, 'ROOT', str(trained[0]))
    first = magenta_rnn.generate_melodies(primer=[60, -2, 62], num_outputs=2, num_steps=32,
                                          temperature=0.5, seed=3)
    again = magenta_rnn.generate_melodies(primer=[60, -2, 62], num_outputs=2, num_steps=32,
                                          temperature=0.5, seed=3)
    assert [list(s.notes) for s in first] == [list(s.notes) for s in again]
    assert len(first) == 2
    assert [n.pitch for n in first[0].notes][:2] == [60, 62]
    # A beam of 4 at a low temperature goes on up the learned scale.
    [beam] = magenta_rnn.generate_melodies(primer=PATTERN[:6], num_outputs=1, num_steps=20,
                                           temperature=0.1, beam_size=4, seed=0)
    assert [n.pitch for n in beam.notes][:8] == SCALE[:8]


def test_write_midi_with_program_and_preview(trained, monkeypatch, tmp_path):
    import magenta_rnn
    from magenta_rnn import preview
    from magenta_rnn.music.midi_io import midi_file_to_note_sequence

    monkeypatch.setattr(default_models, 'ROOT', str(trained[0]))
    [melody] = magenta_rnn.generate_melodies(num_steps=32, seed=1)
    path = str(tmp_path / 'melody.mid')
    try:
        preview.check_audio_available()
        audio = True
    except preview.PreviewError:
        audio = False
    if not audio:
        with pytest.raises(preview.PreviewError, match=r'magenta_rnn\[audio\]'):
            magenta_rnn.write_midi(melody, path, program=73, preview=True)
        assert os.path.exists(str(tmp_path / 'melody.png'))
        pytest.skip('the audio extra (midirenderer) is not installed')
    written = magenta_rnn.write_midi(melody, path, program=73, preview=True)
    assert written == [path, str(tmp_path / 'melody.png'), str(tmp_path / 'melody.wav')]
    assert {n.program for n in midi_file_to_note_sequence(path).notes} == {73}
    assert preview.wav_rms(written[2]) > 0.005


def test_package_import_is_light_and_the_docstring_example_runs(tmp_path):
    """The example as written, with the defaults the package ships."""
    import magenta_rnn

    lines = magenta_rnn.__doc__.split('\n')
    start = lines.index('    import magenta_rnn')
    example = '\n'.join(line[4:] for line in lines[start:start + 5])
    assert len(example.split('\n')) == 5 and 'print(' in example
    shipped = magenta_rnn.shipped_default_models()
    if 'basic_rnn' not in shipped['melody_rnn'] or 'drum_kit' not in shipped['drums_rnn']:
        pytest.skip('the package ships no basic_rnn or drum_kit default yet')
    code = ('import sys, magenta_rnn\n'
            'assert "tensorflow" not in sys.modules and "magenta_rnn.api" not in sys.modules\n'
            + example + '\nassert "tensorflow" not in sys.modules\n')
    env = dict(os.environ, PYTHONPATH=REPO)
    env.pop('MAGENTA_RNN_DEFAULT_MODELS', None)
    result = subprocess.run([sys.executable, '-c', code], env=env, cwd=tmp_path,
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / 'melody.mid').exists()
    assert "notes; {'melody_rnn': [" in result.stdout


VAE_HPARAMS = 'batch_size=4,z_size=8,enc_rnn_size=[16],dec_rnn_size=[16,16]'


@pytest.fixture(scope='module')
def vae_tree(tmp_path_factory):
    """A small cat-mel_2bar_small trained for a few steps and exported as a default."""
    from magenta_rnn.music_vae import configs
    from magenta_rnn.music_vae import train as vae_train
    from magenta_rnn.music_vae.trained_model import TrainedModel, tf1_variable_map
    from magenta_rnn.records import write_records

    tmp_path = tmp_path_factory.mktemp('vae')
    sequences = []
    for offset in range(8):
        events = (PATTERN * 4)[offset:offset + 64]
        sequences.append(Melody(events).to_sequence(qpm=120.0).SerializeToString())
    examples = str(tmp_path / 'melodies.tfrecord')
    write_records(examples, sequences)
    config = configs.load_config('cat-mel_2bar_small', VAE_HPARAMS)
    vae_train.train(config, str(tmp_path / 'run'), [examples], num_steps=5,
                    checkpoints_to_keep=1, keep_checkpoint_every_n_hours=1, seed=0)
    model = TrainedModel(config, 4, str(tmp_path / 'run' / 'train'), seed=0)
    values = {name: v.numpy() for name, v in tf1_variable_map(model.model).items()}
    tree = tmp_path / 'tree'
    export.write_default(str(tree / 'music_vae' / 'cat-mel_2bar_small'), values, 'float32',
                         {'config': 'cat-mel_2bar_small', 'hparams': VAE_HPARAMS,
                          'training': {'data': 'a C major scale', 'steps': 5}})
    return tree, config, model, values


def test_music_vae_loads_a_shipped_default_weight_for_weight(vae_tree):
    from magenta_rnn.music_vae.trained_model import TrainedModel, tf1_variable_map

    tree, config, trained_vae, values = vae_tree
    weights = str(tree / 'music_vae' / 'cat-mel_2bar_small' / default_models.WEIGHTS_FILE)
    loaded = TrainedModel(config, 4, weights, seed=0)
    for name, variable in tf1_variable_map(loaded.model).items():
        np.testing.assert_array_equal(variable.numpy(), values[name], err_msg=name)
    z = np.random.default_rng(0).standard_normal((4, 8)).astype(np.float32)
    np.testing.assert_array_equal(loaded.decode_to_tensors(z, 32, temperature=1e-6),
                                  trained_vae.decode_to_tensors(z, 32, temperature=1e-6))


def test_music_vae_generate_without_a_model_flag_uses_the_default(vae_tree, tmp_path):
    tree = vae_tree[0]
    result = subprocess.run(
        [sys.executable, '-m', 'magenta_rnn.music_vae.generate', '--config=cat-mel_2bar_small',
         '--mode=sample', '--num_outputs=2', f'--output_dir={tmp_path}', '--seed=1'],
        env=_env(tree), capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr
    assert ('using the shipped default model music_vae/cat-mel_2bar_small, trained on a C '
            'major scale, 5 steps') in result.stderr
    assert len(glob.glob(str(tmp_path / 'cat-mel_2bar_small_sample_*.mid'))) == 2
    other = subprocess.run(
        [sys.executable, '-m', 'magenta_rnn.music_vae.generate', '--config=cat-drums_2bar_small',
         '--mode=sample', f'--output_dir={tmp_path / "none"}'],
        env=_env(tree), capture_output=True, text=True, timeout=300, check=False)
    assert other.returncode == 1
    assert other.stderr.strip().splitlines()[-1].split(': error: ')[1] == (
        "no shipped default model for music_vae config 'cat-drums_2bar_small' (shipped "
        "defaults: cat-mel_2bar_small); give a trained model with --run_dir or "
        "--checkpoint_file")
    assert not os.path.exists(tmp_path / 'none')
