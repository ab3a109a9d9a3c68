"""Multi-worker training on this machine: two processes with TF_CONFIG naming two localhost
ports (MultiWorkerMirroredStrategy over CPU collectives), as the README shows.

Slow: each test starts several TensorFlow processes.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
NOTTINGHAM = REPO.parent / 'shared' / 'data' / 'nottingham' / 'MIDI' / 'melody'
BIN = Path(sys.executable).parent
BASIC_RNN = ['melody_rnn_train', '--config=basic_rnn',
             # No dropout: its masks are drawn per replica (see the README).
             '--hparams=batch_size=8,rnn_layer_sizes=[16],dropout_keep_prob=1.0', '--seed=1',
             '--summary_frequency=5']
CAT_MEL = ['music_vae_train', '--config=cat-mel_2bar_small', '--seed=1',
           '--hparams=batch_size=8,enc_rnn_size=[16],dec_rnn_size=[16],z_size=4',
           '--summary_every_n_steps=5', '--log_every_n_steps=5']


def environment(tf_config: dict | None = None) -> dict:
    env = {**os.environ, 'PYTHONPATH': str(REPO)}
    env.pop('TF_CONFIG', None)
    if tf_config is not None:
        env['TF_CONFIG'] = json.dumps(tf_config)
    return env


@pytest.fixture(scope='module')
def data(tmp_path_factory) -> dict:
    """Nottingham NoteSequences (60 tunes) and basic_rnn SequenceExamples made from them."""
    if not NOTTINGHAM.is_dir():
        pytest.skip(f'{NOTTINGHAM} is not there')
    work = tmp_path_factory.mktemp('distributed_data')
    midi = work / 'midi'
    midi.mkdir()
    for path in sorted(NOTTINGHAM.glob('*.mid'))[:60]:
        (midi / path.name).symlink_to(path)
    notes = work / 'notes.tfrecord'
    subprocess.run([str(BIN / 'convert_dir_to_note_sequences'), f'--input_dir={midi}',
                    f'--output_file={notes}'], check=True, env=environment(), capture_output=True)
    subprocess.run([str(BIN / 'melody_rnn_create_dataset'), '--config=basic_rnn',
                    f'--input={notes}', f'--output_dir={work / "basic"}', '--eval_ratio=0'],
                   check=True, env=environment(), capture_output=True)
    return {'notes': str(notes), 'basic': str(work / 'basic' / 'training_melodies.tfrecord')}


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(('localhost', 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def start_workers(command: list[str], log_dir: Path) -> list[subprocess.Popen]:
    workers = [f'localhost:{port}' for port in free_ports(2)]
    processes = []
    for index in range(2):
        config = {'cluster': {'worker': workers}, 'task': {'type': 'worker', 'index': index}}
        log = open(log_dir / f'worker{index}.log', 'w')
        processes.append(subprocess.Popen([str(BIN / command[0]), *command[1:]],
                                          env=environment(config), stdout=log,
                                          stderr=subprocess.STDOUT))
    return processes


def wait_all(processes, timeout: float = 600) -> list[int]:
    return [p.wait(timeout=timeout) for p in processes]


def parameters(run_dir: Path) -> dict[str, np.ndarray]:
    import tensorflow as tf
    path = tf.train.latest_checkpoint(str(run_dir / 'train'))
    reader = tf.train.load_checkpoint(path)
    return {name: reader.get_tensor(name) for name, _ in tf.train.list_variables(path)
            if 'CHECKPOINTABLE' not in name and 'save_counter' not in name}


def max_difference(a: dict, b: dict) -> float:
    assert sorted(a) == sorted(b)
    return max(float(np.max(np.abs(np.asarray(a[n], np.float64) - b[n]))) for n in a)


def checkpoint_files(run_dir: Path) -> list[str]:
    return sorted(p.name for p in (run_dir / 'train').iterdir())


def test_two_workers_train_basic_rnn_like_one_process(tmp_path, data):
    command = [*BASIC_RNN, f'--sequence_example_file={data["basic"]}', '--num_training_steps=10']
    workers = start_workers([*command, f'--run_dir={tmp_path / "two"}'], tmp_path)
    assert wait_all(workers) == [0, 0], (tmp_path / 'worker0.log').read_text()[-3000:]
    subprocess.run([str(BIN / command[0]), *command[1:], f'--run_dir={tmp_path / "one"}'],
                   check=True, env=environment(), capture_output=True)
    chief_log = (tmp_path / 'worker0.log').read_text()
    assert 'MultiWorkerMirroredStrategy, 2 replicas in sync, this is worker 0 of 2 workers (chief)' \
        in chief_log
    # One set of checkpoints and summaries, the chief's.
    files = checkpoint_files(tmp_path / 'two')
    assert [f for f in files if f.startswith('events.out')] and len(
        [f for f in files if f.startswith('events.out')]) == 1
    assert 'model.ckpt-10.index' in files
    difference = max_difference(parameters(tmp_path / 'one'), parameters(tmp_path / 'two'))
    print(f'\nbasic_rnn, 10 steps: 2 workers vs 1 process, max |parameter difference| {difference:.2e}')
    assert difference < 1e-4


def test_two_workers_train_cat_mel(tmp_path, data):
    """Both exit 0 with one set of checkpoints. MusicVAE draws its z noise per replica (each
    worker for its rows), so the run is another sample than one process's: the
    parameters are near, not equal (measured: printed)."""
    command = [*CAT_MEL, f'--examples_path={data["notes"]}', '--num_steps=10']
    workers = start_workers([*command, f'--run_dir={tmp_path / "two"}'], tmp_path)
    assert wait_all(workers) == [0, 0], (tmp_path / 'worker0.log').read_text()[-3000:]
    subprocess.run([str(BIN / command[0]), *command[1:], f'--run_dir={tmp_path / "one"}'],
                   check=True, env=environment(), capture_output=True)
    files = checkpoint_files(tmp_path / 'two')
    assert len([f for f in files if f.startswith('events.out')]) == 1
    assert 'model.ckpt-10.index' in files
    one, two = parameters(tmp_path / 'one'), parameters(tmp_path / 'two')
    difference = max_difference(one, two)
    print(f'\ncat-mel_2bar_small, 10 steps: 2 workers vs 1 process, max |parameter difference| '
          f'{difference:.2e} (z noise drawn per replica)')
    step_key = 'global_step/.ATTRIBUTES/VARIABLE_VALUE'
    assert one[step_key] == two[step_key] == 10
    # Another sample, within Adam's reach: a step moves a weight by at most
    # lr (1 - beta1) / sqrt(1 - beta2) ~ 3.2 lr early on, so two runs part by < 2 * 10 * 3.2e-3.
    assert difference < 2 * 10 * 3.2e-3


def test_killed_worker_stops_the_other_within_a_minute_and_rerun_resumes(tmp_path, data):
    command = [*BASIC_RNN, f'--sequence_example_file={data["basic"]}',
               f'--run_dir={tmp_path / "run"}']
    workers = start_workers([*command, '--num_training_steps=100000'], tmp_path)
    chief_log = tmp_path / 'worker0.log'
    deadline = time.monotonic() + 300
    while 'Global Step: 20,' not in chief_log.read_text():
        assert time.monotonic() < deadline and workers[0].poll() is None, chief_log.read_text()[-3000:]
        time.sleep(1)
    workers[1].send_signal(signal.SIGKILL)
    killed = time.monotonic()
    code = workers[0].wait(timeout=120)
    stopped_after = time.monotonic() - killed
    text = chief_log.read_text()
    print(f'\nthe surviving worker stopped {stopped_after:.1f} s after the other was killed')
    assert code == 1 and stopped_after < 60
    assert 'error: another worker died or stopped answering at step' in text
    assert 'rerun every worker with the same --run_dir to resume from it' in text
    saved = checkpoint_files(tmp_path / 'run')
    steps = sorted(int(f.split('-')[1].split('.')[0]) for f in saved if f.endswith('.index'))
    assert steps  # at least the step-0 checkpoint
    workers = start_workers([*command, f'--num_training_steps={steps[-1] + 10}'], tmp_path)
    assert wait_all(workers) == [0, 0]
    text = chief_log.read_text()
    resumed = tmp_path / 'run' / 'train' / f'model.ckpt-{steps[-1]}'
    assert f'Resuming from {resumed} at step {steps[-1]}' in text
    assert f'model.ckpt-{steps[-1] + 10}.index' in checkpoint_files(tmp_path / 'run')
