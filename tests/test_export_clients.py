"""The exports in their real clients (slow): @magenta/music 1.23.1 in Node, and a Python
with only TensorFlow installed. Each skips when its client is missing."""
from __future__ import annotations

import importlib.util
import os
import subprocess
import sys

import pytest

from conftest import REPO_ROOT

pytestmark = pytest.mark.slow


def _load_script(name: str):
    spec = importlib.util.spec_from_file_location(name, REPO_ROOT / 'scripts' / f'{name}.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_magenta_js_runs_exports_as_we_do(tmp_path):
    """basic_rnn and drum_kit continuations, and cat-mel_2bar_small, cat-drums_2bar_small,
    hierdec-mel_16bar, NADE, GrooVAE and hierdec-trio decodes, are ours in Magenta.js
    (MAGENTA_JS_NODE_DIR: a folder with node_modules/@magenta/music 1.23.1 and tone 14.7.x)."""
    check = _load_script('check_magenta_js')
    reason = check.node_ready(check.DEFAULT_NODE_DIR)
    if reason:
        pytest.skip(f'Magenta.js check: {reason}')
    report = check.run_check(check.DEFAULT_NODE_DIR, str(tmp_path))
    assert [row['name'] for row in report] == [
        'basic_rnn', 'basic_rnn_q1', 'basic_rnn_q2', 'drum_kit', 'cat-mel_2bar_small',
        'cat-drums_2bar_small', 'hierdec-mel_16bar', 'nade-drums_2bar_reduced', 'groovae_4bar',
        'hierdec-trio_16bar', 'hier-mel_16bar']
    for row in report:
        assert row['equal'], (row['name'], row['ours'], row['magenta_js'])
        assert row['distinct_events'] > 2, row['name']     # not one repeated event
        if row['max_prob_diff'] is not None:     # probabilities, GrooVAE velocities
            assert row['max_prob_diff'] < 1e-5, row['name']


def test_saved_model_in_a_tensorflow_only_python():
    """MAGENTA_RNN_TF_ONLY_PYTHON: the interpreter of a plain venv holding only tensorflow
    (`python3 -m venv DIR && DIR/bin/pip install tensorflow`)."""
    python = os.environ.get('MAGENTA_RNN_TF_ONLY_PYTHON',
                            str(REPO_ROOT.parent / 'tf_only_venv' / 'bin' / 'python'))
    if not os.path.exists(python):
        pytest.skip(f'no TensorFlow-only interpreter at {python} (MAGENTA_RNN_TF_ONLY_PYTHON)')
    completed = subprocess.run(
        [sys.executable, str(REPO_ROOT / 'scripts' / 'check_saved_model.py'),
         f'--python={python}'], capture_output=True, text=True, timeout=3600,
        env=dict(os.environ, PYTHONPATH=str(REPO_ROOT)))
    assert completed.returncode == 0, completed.stdout + completed.stderr[-2000:]
    assert 'magenta_rnn not importable' in completed.stdout
    for name in ('attention_rnn', 'drum_kit', 'performance_with_dynamics',
                 'cat-mel_2bar_small.decode', 'hierdec-mel_16bar.decode'):
        assert name in completed.stdout


def test_drums_rnn_train_whole_stack_then_browser_export(tmp_path):
    """drums_rnn_train with a config asking for "attention_layout": "whole_stack" trains a
    model that exports for Magenta.js; the exported folder computes our logits (Magenta.js's
    arithmetic in NumPy, as test_export.py checks)."""
    import json

    import numpy as np

    from magenta_rnn import records
    from magenta_rnn.drums import DRUMS_RNN
    from magenta_rnn.export import export_model, loading
    from magenta_rnn.export.weights import read_weights
    from builders import band_song
    from test_export import _our_logits, _whole_stack_config, js_music_rnn_logits

    config_path = _whole_stack_config(tmp_path)
    config = DRUMS_RNN.load_config(config_path)
    examples, _ = DRUMS_RNN.build_chain(config, 'eval').transform(band_song())
    data = str(tmp_path / 'drums.tfrecord')
    records.write_records(data, examples[:4])
    run_dir = str(tmp_path / 'run')
    completed = subprocess.run(
        [sys.executable, '-c', 'from magenta_rnn.drums.train import console_entry_point; '
         'console_entry_point()', f'--config={config_path}', f'--run_dir={run_dir}',
         f'--sequence_example_file={data}', '--num_training_steps=3'],
        capture_output=True, text=True, timeout=600,
        env=dict(os.environ, PYTHONPATH=str(REPO_ROOT)))
    assert completed.returncode == 0, completed.stderr[-2000:]
    export_model(str(tmp_path / 'js'), 'tfjs', config=config_path, run_dir=run_dir)
    with open(tmp_path / 'js' / 'config.json') as f:
        assert json.load(f)['attentionLength'] == 3
    source = loading.load_source(config=config_path, run_dir=run_dir)
    events = [frozenset(p) for p in [(36,), (), (42,), (38, 36), (), (46,)]]
    inputs, ours = _our_logits(source, events)
    exported = read_weights(str(tmp_path / 'js'))
    np.testing.assert_allclose(js_music_rnn_logits(exported, inputs, 3), ours, atol=1e-5)
