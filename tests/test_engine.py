"""The shared training engine: replicas, the divergence guard, checkpoint hygiene, and the
trainers' errors for inputs and checkpoints they cannot use."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
import tensorflow as tf

from magenta_rnn.rnn import engine

REPO = Path(__file__).resolve().parents[1]

TWO_REPLICAS = textwrap.dedent('''
    import json, sys
    import numpy as np, tensorflow as tf
    cpu = tf.config.list_physical_devices('CPU')[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    from magenta_rnn.hparams import HParams
    from magenta_rnn.rnn import engine, train
    from magenta_rnn.rnn.model import build_events_rnn
    hp = HParams(batch_size=4, rnn_layer_sizes=[6, 5], dropout_keep_prob=1.0, attn_length=int(sys.argv[1]),
                 clip_norm=0.5, learning_rate=0.01, residual_connections=False)
    rng = np.random.default_rng(0)
    x = tf.constant(rng.normal(size=(4, 5, 3)).astype(np.float32))
    y = tf.constant(rng.integers(0, 3, (4, 5)))
    lengths = tf.constant([5, 2, 4, 3])  # uneven halves: 7 and 7 steps, 5 and 2 in one
    def run(strategy):
        tf.random.set_seed(0)
        with strategy.scope():
            model = build_events_rnn(hp, 3, 3)
            model(tf.zeros([1, 1, 3]))
            optimizer = train.make_optimizer(hp)
            optimizer.build(model.trainable_variables)
            step = tf.Variable(0, dtype=tf.int64)
        train_step = train.make_train_step(model, optimizer, step, hp.clip_norm, 3, 3, 0, strategy=strategy)
        for _ in range(3):
            applied, stats = train_step(x, y, lengths)
        return ([v.numpy() for v in model.trainable_variables],
                {k: float(v) for k, v in stats.items()}, int(step.numpy()))
    one = run(tf.distribute.get_strategy())
    two = run(tf.distribute.MirroredStrategy(['/cpu:0', '/cpu:1']))
    print(json.dumps({'steps': [one[2], two[2]], 'stats': [one[1], two[1]],
                      'max_difference': max(float(np.max(np.abs(a - b))) for a, b in zip(one[0], two[0])),
                      'largest_move': max(float(np.max(np.abs(a))) for a in one[0])}))
''')


def test_two_replicas_train_like_one_on_the_same_global_batch():
    """MirroredStrategy over two logical CPUs: the batch is split, gradients summed and
    clipped after the sum, so three steps end where one replica's end (attention: each
    replica's half batch is again halved on a CPU)."""
    result = subprocess.run([sys.executable, '-c', TWO_REPLICAS, '3'],
                            capture_output=True, text=True, timeout=300,
                            env={**os.environ, 'PYTHONPATH': str(REPO)})
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report['steps'] == [3, 3]
    one, two = report['stats']
    assert one['entries'] == two['entries'] == 14
    assert two['cross_entropy'] == pytest.approx(one['cross_entropy'], rel=1e-6)
    assert report['max_difference'] < 1e-6


def test_divergence_guard_refuses_nan_inf_and_exploded_losses():
    variable = tf.Variable(1.0)
    applied_updates = []

    def apply(gradients):
        variable.assign_sub(gradients[0])

    step = engine.make_train_step(lambda scale: (variable * scale, tf.constant(1.0), {}),
                                  [variable], lambda g: (g, {}), apply)
    for scale, ok in [(2.0, True), (float('nan'), False), (float('inf'), False),
                      (2e6, False), (-2e6, False), (5e5, True)]:
        before = float(variable.numpy())
        applied, loss, _ = step(tf.constant(scale))
        assert bool(applied) is ok, scale
        applied_updates.append(float(variable.numpy()) != before)
    assert applied_updates == [True, False, False, False, False, True]


def test_divergence_message_names_the_step_and_the_last_good_checkpoint(tmp_path):
    step = tf.Variable(7, dtype=tf.int64)
    checkpoint = tf.train.Checkpoint(step=step)
    keeper = engine.CheckpointKeeper(checkpoint, str(tmp_path), True, 3, None, step)
    keeper.save()
    text = engine.divergence_message(3e7, 8, keeper, 'Try a lower learning rate.')
    assert text == (f'Training loss exploded to 3e+07 at global step 8; the step was not applied '
                    f'and the last good checkpoint is {tmp_path}/model.ckpt-7. Try a lower '
                    f'learning rate.')
    assert 'became NaN or Inf' in engine.divergence_message(float('nan'), 8, keeper, '')


def test_checkpoint_name_is_the_step_the_variables_hold(tmp_path):
    step = tf.Variable(5598, dtype=tf.int64)
    keeper = engine.CheckpointKeeper(tf.train.Checkpoint(step=step), str(tmp_path), True, 3,
                                     None, step)
    step.assign_add(1)  # a step applied after the loop last counted
    path = keeper.save()
    assert path.endswith('model.ckpt-5599')
    assert tf.train.load_checkpoint(path).get_tensor('step/.ATTRIBUTES/VARIABLE_VALUE') == 5599
    other = engine.CheckpointKeeper(tf.train.Checkpoint(step=step), str(tmp_path / 'w1'), False,
                                    3, None, step)
    assert other.save() is None and not (tmp_path / 'w1').exists()  # only the chief writes


def test_stale_checkpoint_files_of_a_killed_run_are_removed(tmp_path):
    (tmp_path / 'model.ckpt-40_temp').mkdir()
    (tmp_path / 'model.ckpt-40_temp' / 'part-00000-of-00001.data-00000-of-00001').write_bytes(b'x' * 100)
    (tmp_path / 'checkpoint.tmp1f2e3d').write_text('partial')
    kept = ['model.ckpt-30.index', 'model.ckpt-30.data-00000-of-00001', 'checkpoint',
            'events.out.tfevents.1.host']
    for name in kept:
        (tmp_path / name).write_text('keep')
    removed = engine.remove_stale_checkpoint_files(str(tmp_path))
    assert sorted(os.path.basename(p) for p in removed) == ['checkpoint.tmp1f2e3d', 'model.ckpt-40_temp']
    assert sorted(os.listdir(tmp_path)) == sorted(kept)


def test_tf_config_errors_and_cluster_size(monkeypatch):
    monkeypatch.delenv('TF_CONFIG', raising=False)
    assert engine.cluster_size() == 1
    monkeypatch.setenv('TF_CONFIG', json.dumps({'cluster': {'worker': ['a:1', 'b:2'],
                                                            'chief': ['c:3']}}))
    assert engine.cluster_size() == 3
    with pytest.raises(ValueError, match='TF_CONFIG names a cluster but no "task"'):
        engine.make_strategy()
    monkeypatch.setenv('TF_CONFIG', '{"cluster": ')
    with pytest.raises(ValueError, match='TF_CONFIG is not valid JSON'):
        engine.cluster_size()


def test_global_batch_must_split_evenly():
    engine.check_global_batch(tf.distribute.get_strategy(), 7)
    strategy = tf.distribute.get_strategy()

    class TwoReplicas:
        num_replicas_in_sync = 2

    with pytest.raises(ValueError, match='batch_size=7 is the global batch and must divide '
                                         'evenly between the 2 replicas'):
        engine.check_global_batch(TwoReplicas(), 7)
    assert strategy.num_replicas_in_sync == 1


def test_describe_names_device_and_strategy():
    text = engine.describe(tf.distribute.get_strategy())
    assert text.endswith('one replica (no distribution)')
    assert text.startswith('CPU (no GPU visible to TensorFlow)') or text.startswith('GPU (')


@pytest.mark.slow
def test_gpu_benchmark_script_prints_its_table_on_a_cpu():
    """scripts/benchmarks/benchmark_gpu.py --quick: every row and backend measured (tiny sizes)."""
    script = REPO / 'scripts' / 'benchmarks' / 'benchmark_gpu.py'
    result = subprocess.run([sys.executable, str(script), '--quick'],
                            capture_output=True, text=True, timeout=1200,
                            env={**os.environ, 'PYTHONPATH': str(REPO)})
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.splitlines()
    assert lines[0].startswith('device: ')
    rows = {line.split()[0]: line.split()[1:] for line in lines if line.split() and line.split()[0] in (
        'basic_rnn', 'attention_rnn', 'drum_kit', 'performance_with_dynamics', 'cat-mel_2bar_small')}
    assert len(rows) == 5 and all(len(cells) == 3 for cells in rows.values())
    assert all(float(cell) > 0 for cells in rows.values() for cell in cells)  # no 'failed'
    assert [line.split()[:2] for line in lines if line.strip().startswith('batch')] == [
        ['batch', '1:'], ['batch', '64:']]
