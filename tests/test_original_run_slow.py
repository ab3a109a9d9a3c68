"""The original's mugen training run (../shared/bundles) on real melodies: it resumes at its
step 20000, and a fine-tuned run starts at the bundle's eval loss, not a fresh model's."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED = REPO_ROOT.parent / 'shared'
MUGEN = SHARED / 'bundles' / 'mugen_attention_rnn'
NOTTINGHAM = SHARED / 'data' / 'nottingham' / 'MIDI'
HPARAMS = '--hparams=rnn_layer_sizes=[64,64],batch_size=6'

pytestmark = pytest.mark.slow


def run(*args: str) -> str:
    # The console entry point, not `-m`: the converter's worker pool pickles by module name.
    code = ('import importlib, sys; sys.argv = [sys.argv[1], *sys.argv[2:]]; '
            'importlib.import_module(sys.argv[0]).console_entry_point()')
    result = subprocess.run([sys.executable, '-c', code, *args], capture_output=True, text=True,
                            env=dict(os.environ, PYTHONPATH=str(REPO_ROOT)), timeout=1800)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stderr


@pytest.fixture(scope='module')
def melodies(tmp_path_factory) -> Path:
    if not (MUGEN.exists() and NOTTINGHAM.exists()):
        pytest.skip('../shared bundles or Nottingham data are not present')
    root = tmp_path_factory.mktemp('melodies')
    (root / 'midi').mkdir()
    for path in sorted(NOTTINGHAM.glob('[a-c]*.mid')):
        shutil.copy(path, root / 'midi')
    run('magenta_rnn.convert', f'--input_dir={root}/midi', f'--output_file={root}/notes.tfrecord')
    run('magenta_rnn.melody.create_dataset', '--config=attention_rnn',
        f'--input={root}/notes.tfrecord', f'--output_dir={root}/seq', '--seed=1')
    return root / 'seq'


def eval_loss(run_dir: Path, melodies: Path, step: int) -> float:
    """The eval job's loss on the latest checkpoint of run_dir (at global step `step`)."""
    log = run('magenta_rnn.melody.train', '--config=attention_rnn', HPARAMS, f'--run_dir={run_dir}',
              f'--sequence_example_file={melodies}/eval_melodies.tfrecord', '--eval',
              f'--num_training_steps={step}')
    return float(re.search(rf'Eval at Global Step: {step}, Loss: ([\d.]+)', log).group(1))


def first_checkpoint_eval_loss(run_dir: Path, melodies: Path) -> float:
    """The eval loss of run_dir's step-0 checkpoint (the eval job cannot stop at step 0)."""
    code = f"""
from magenta_rnn.melody import MELODY_RNN
from magenta_rnn.rnn import cli, train
from magenta_rnn.rnn.model import build_events_rnn
config = MELODY_RNN.load_config('attention_rnn', '{HPARAMS.split('=', 1)[1]}')
facts = cli.encoder_facts(MELODY_RNN.build_encoder(config))
(step, metrics), = train.run_eval(build_model=build_events_rnn, hparams=config.hparams,
    sequence_example_file='{melodies}/eval_melodies.tfrecord', run_dir='{run_dir}', once=True,
    **facts)
assert step == 0
print(metrics['loss'])
"""
    result = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                            env=dict(os.environ, PYTHONPATH=str(REPO_ROOT)), timeout=1800)
    assert result.returncode == 0, result.stderr[-3000:]
    return float(result.stdout.split()[-1])


def test_the_original_run_resumes_at_its_step(tmp_path, melodies):
    run_dir = tmp_path / 'run1'
    shutil.copytree(MUGEN / 'logdir' / 'run1', run_dir)
    original_loss = eval_loss(run_dir, melodies, 20000)
    log = run('magenta_rnn.melody.train', '--config=attention_rnn', HPARAMS, f'--run_dir={run_dir}',
              f'--sequence_example_file={melodies}/training_melodies.tfrecord',
              '--num_training_steps=20010', '--summary_frequency=1')
    assert 'at step 20000' in log and 'Training complete at step 20010' in log
    first = float(re.search(r'Global Step: 20001, Loss: ([\d.]+)', log).group(1))
    assert first < 2.5  # a trained model's loss, not a fresh one's ln(40) = 3.69
    assert (run_dir / 'train' / 'model.ckpt-20010.index').exists()
    assert original_loss < 2.5


def test_fine_tuning_starts_at_the_bundle_loss(tmp_path, melodies):
    bundle = MUGEN / 'checkpoints' / 'attention_rrn.mag'
    losses = {}
    for kind, extra in (('tuned', [f'--warm_start_bundle_file={bundle}']), ('fresh', [])):
        run_dir = tmp_path / kind
        run('magenta_rnn.melody.train', '--config=attention_rnn', HPARAMS, f'--run_dir={run_dir}',
            f'--sequence_example_file={melodies}/training_melodies.tfrecord',
            '--num_training_steps=1', '--seed=5', *extra)
        # Evaluate the run's first checkpoint (step 0, before any training step).
        (run_dir / 'train' / 'checkpoint').write_text('model_checkpoint_path: "model.ckpt-0"\n')
        for name in os.listdir(run_dir / 'train'):
            if name.startswith('model.ckpt-1.'):
                os.remove(run_dir / 'train' / name)
        losses[kind] = first_checkpoint_eval_loss(run_dir, melodies)
    original = tmp_path / 'original'
    shutil.copytree(MUGEN / 'logdir' / 'run1', original)
    assert losses['tuned'] == pytest.approx(eval_loss(original, melodies, 20000), abs=1e-4)
    assert losses['fresh'] > losses['tuned'] + 1.0
