"""magenta_bundle: info, unpack, pack and export on small bundles built here and, when
../shared is present, on the original's bundles and training run."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

tf = pytest.importorskip('tensorflow')

from magenta_rnn import bundle_tool  # noqa: E402
from magenta_rnn.melody import MELODY_RNN  # noqa: E402
from magenta_rnn.rnn import bundle as bundle_lib  # noqa: E402
from magenta_rnn.rnn import model_io  # noqa: E402
from magenta_rnn.rnn.model import build_events_rnn  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[1]
MUGEN = REPO_ROOT.parent / 'shared' / 'bundles' / 'mugen_attention_rnn'
KARAOKE = REPO_ROOT.parent / 'shared' / 'bundles' / 'creative_karaoke' / 'attention_melody_rnn.mag'


@pytest.fixture
def our_bundle(tmp_path) -> str:
    """A basic_rnn bundle of ours with one 8-unit layer and random weights."""
    config = MELODY_RNN.load_config('basic_rnn', 'rnn_layer_sizes=[8]')
    encoder = MELODY_RNN.build_encoder(config)
    model = build_events_rnn(config.hparams, encoder.input_size, encoder.num_classes)
    rng = np.random.default_rng(0)
    for variable in model.trainable_variables:
        variable.assign(rng.normal(0, 0.5, variable.shape).astype(np.float32))
    path = str(tmp_path / 'ours.mag')
    model_io.save_bundle(path, model, config, 'a test bundle')
    return path


def step_probabilities(path: str) -> np.ndarray:
    """The bundle's next-event probabilities over 6 steps of fixed random inputs."""
    bundle = bundle_lib.read_bundle(path)
    config = model_io.bundle_config(bundle, path) or MELODY_RNN.load_config(
        bundle.generator_details.id)
    encoder = MELODY_RNN.build_encoder(config)
    model = model_io.load_bundle(path, config, encoder.num_classes, input_depth=None)
    x = np.random.default_rng(1).normal(size=(2, 6, encoder.input_size)).astype(np.float32)
    probabilities, _ = model.step(x, model.zero_state(2), 1.0)
    return probabilities.numpy()


def test_info_of_our_bundle(our_bundle):
    lines = bundle_tool.bundle_info(our_bundle).splitlines()
    assert lines[1:7] == [
        'generator id:       basic_rnn',
        'description:        Melody RNN with one-hot encoding of pitches 48..83.',
        'bundle description: a test bundle',
        'written by:         magenta_rnn (format magenta_rnn.events_rnn/1, config stored as JSON)',
        f'checkpoint:         one V1 checkpoint file '
        f'({len(bundle_lib.read_bundle(our_bundle).checkpoint_file[0]):,} bytes), '
        f'TF1 variable names',
        'config:             melody_rnn basic_rnn (stored in the bundle)']
    assert 'encoder input size: 38' in lines
    assert 'encoder classes:    38' in lines
    assert 'model:              LSTM layers [8], attn_length 0; input width 38, 38 classes' in lines
    # kernel [38 + 8, 32], bias [32], output [8, 38] + [38]
    assert 'variables:          4, 1,846 values, 7,384 bytes' in lines
    assert lines[-2].split() == ['rnn/multi_rnn_cell/cell_0/basic_lstm_cell/bias', '[32]',
                                 'float32']


def test_unpack_then_pack_gives_the_same_model(our_bundle, tmp_path):
    checkpoint, config_path = bundle_tool.unpack(our_bundle, str(tmp_path / 'unpacked'))
    assert sorted(os.listdir(tmp_path / 'unpacked')) == ['config.json', 'model.ckpt']
    config = MELODY_RNN.load_config(config_path)  # a config file --config reads
    assert config.hparams.rnn_layer_sizes == [8] and config.id == 'basic_rnn'
    repacked = str(tmp_path / 'repacked.mag')
    bundle_tool.pack(repacked, config_path, checkpoint_file=checkpoint,
                     bundle_description='again')
    np.testing.assert_array_equal(step_probabilities(repacked), step_probabilities(our_bundle))
    before, after = bundle_lib.read_bundle(our_bundle), bundle_lib.read_bundle(repacked)
    assert after.checkpoint_file == before.checkpoint_file
    assert after.bundle_details.description == 'again'


def test_pack_refuses_a_checkpoint_of_another_shape(our_bundle, tmp_path):
    checkpoint, config_path = bundle_tool.unpack(our_bundle, str(tmp_path / 'unpacked'))
    with pytest.raises(model_io.ModelLoadError) as error:
        bundle_tool.pack(str(tmp_path / 'x.mag'), config_path, checkpoint_file=checkpoint,
                         hparams='rnn_layer_sizes=[16]')
    assert str(error.value) == (
        f'{checkpoint}: does not match the model built from --config/--hparams: '
        f'rnn/multi_rnn_cell/cell_0/basic_lstm_cell/kernel: checkpoint shape [46, 32], '
        f'model shape [54, 64]; the checkpoint holds rnn_layer_sizes=[8], attn_length=0, '
        f'38 classes')
    assert not (tmp_path / 'x.mag').exists()


def test_export_without_the_exporter_is_a_one_line_error(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, 'magenta_rnn.export', None)
    with pytest.raises(ValueError, match=r'^export: this build of magenta_rnn has no exporter'):
        bundle_tool.export(str(tmp_path), 'tfjs', bundle_file='b.mag')
    with pytest.raises(ValueError, match='--quantization_bytes must be 1 or 2, got 4'):
        bundle_tool.export(str(tmp_path), 'tfjs', bundle_file='b.mag', quantization_bytes=4)
    with pytest.raises(ValueError, match='export needs --bundle_file, or --config with'):
        bundle_tool.export(str(tmp_path), 'saved_model', config='cat-mel_2bar_small')


def run_command(*args: str) -> subprocess.CompletedProcess:
    code = ('import sys; sys.argv = ["magenta_bundle", *sys.argv[1:]]\n'
            'from magenta_rnn import bundle_tool; bundle_tool.console_entry_point()')
    return subprocess.run([sys.executable, '-c', code, *args], capture_output=True, text=True,
                          env=dict(os.environ, PYTHONPATH=str(REPO_ROOT)), timeout=300)


def test_command_line(our_bundle, tmp_path):
    result = run_command('info', f'--bundle_file={our_bundle}')
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.splitlines()[1] == 'generator id:       basic_rnn'
    result = run_command('info', f'--bundle_file={tmp_path}/none.mag')
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        f'magenta_bundle: error: {tmp_path}/none.mag: cannot read bundle file: '
        f'No such file or directory')
    result = run_command('repack')
    assert result.stderr.strip().splitlines()[-1] == (
        "magenta_bundle: error: give a subcommand: info, unpack, pack, export (got 'repack')")


# ------------------------------------------------- the original's bundles
@pytest.mark.parametrize('path,version', [
    (MUGEN / 'checkpoints' / 'attention_rrn.mag', '1.13.1'), (KARAOKE, '2.4.0')])
def test_info_of_the_original_bundles(path, version):
    if not path.exists():
        pytest.skip(f'{path} is not present')
    lines = bundle_tool.bundle_info(str(path)).splitlines()
    assert f'written by:         the original Magenta (TF1 metagraph, TensorFlow {version})' in lines
    assert ('config:             melody_rnn attention_rnn (the shipped config of this id; layer '
            'sizes and attention read from the checkpoint)') in lines
    assert 'encoder input size: 74' in lines and 'encoder classes:    40' in lines
    assert ('model:              LSTM layers [64, 64], attn_length 40 (first_layer); input '
            'width 74, 40 classes') in lines
    assert 'variables:          14, 102,166 values, 408,664 bytes' in lines


def test_the_original_bundle_unpacks_and_packs_to_the_same_model(tmp_path):
    original = MUGEN / 'checkpoints' / 'attention_rrn.mag'
    if not original.exists():
        pytest.skip(f'{original} is not present')
    checkpoint, config_path = bundle_tool.unpack(str(original), str(tmp_path))
    assert sorted(os.listdir(tmp_path)) == ['config.json', 'model.ckpt', 'model.ckpt.meta']
    repacked = str(tmp_path / 'repacked.mag')
    bundle_tool.pack(repacked, config_path, checkpoint_file=checkpoint)
    np.testing.assert_array_equal(step_probabilities(repacked), step_probabilities(str(original)))
    # The training run it came from packs to the same model too.
    from_run = str(tmp_path / 'from_run.mag')
    bundle_tool.pack(from_run, 'attention_rnn', run_dir=str(MUGEN / 'logdir' / 'run1'),
                     hparams='rnn_layer_sizes=[64,64]')
    np.testing.assert_array_equal(step_probabilities(from_run), step_probabilities(str(original)))
