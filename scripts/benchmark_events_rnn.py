"""Melody RNN speed, ours against the original Magenta ("peer"), side by side.

Rerun everything with one command from the repository root:

    /work/main/.venv/bin/python scripts/benchmark_melody_rnn.py

Options: --work_dir DIR (data and runs are cached there; default /tmp/melody_rnn_bench),
--train_steps N (default 20), --repeats N (best of N runs, sides alternating; default 1),
--only train|generate. MAGENTA_PEER_VENV points at the peer (default ../peer_venv).
The first run builds the data with the peer (a few minutes); later runs reuse it.

What it measures (the speed contract of the Melody RNN issue):
* Data: Nottingham melodies (../shared/data/nottingham/MIDI/melody) made into
  SequenceExamples by the peer's own convert_dir_to_note_sequences and
  melody_rnn_create_dataset, cut into 128-step windows (peer_tools/truncate_seqex.py);
  both sides read the very same file.
* Training, attention_rnn and basic_rnn, batch 64, rnn_layer_sizes [128,128], the configs'
  other hparams: steady-state train steps/s after 3 warm-up steps (ours: the compiled step
  of magenta_rnn.rnn.train; peer: its train_op in a Session fed by its input queue).
* Generation, attention_rnn: both generate from the same .mag bundle (the peer's
  [128,128] weights after a few training steps, saved with the peer's
  --save_generator_bundle): 10 outputs x 128 steps from a one-note primer. Reported:
  model loaded -> files written, and the whole command, process start -> files written.
Every number is wall time and CPU time (user+sys of all threads), with the 1-minute load
average at that moment, since the machine may be shared; ratios are peer / ours.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import peer  # noqa: E402  (scripts/peer.py)

REPO_ROOT = Path(__file__).resolve().parents[1]
NOTTINGHAM = REPO_ROOT.parent / 'shared' / 'data' / 'nottingham' / 'MIDI' / 'melody'
HPARAMS = dict(batch_size=64, rnn_layer_sizes=[128, 128])
WINDOW = 128
NUM_WINDOWS = 2000

PEER_TRAIN = r'''
import json, os, sys, time
import tensorflow.compat.v1 as tf
tf.disable_v2_behavior()
from magenta.models.melody_rnn import melody_rnn_model
from magenta.models.shared import events_rnn_graph
name, path, steps, save_dir = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
config = melody_rnn_model.default_configs[name]
config.hparams.batch_size = 64
config.hparams.rnn_layer_sizes = [128, 128]
with tf.Graph().as_default():
    events_rnn_graph.get_build_graph_fn('train', config, [path])()
    train_op = tf.get_collection('train_op')[0]
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer()); sess.run(tf.local_variables_initializer())
        coord = tf.train.Coordinator(); threads = tf.train.start_queue_runners(sess, coord)
        for _ in range(3):
            sess.run(train_op)
        wall, cpu = time.perf_counter(), time.process_time()
        for _ in range(steps):
            sess.run(train_op)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        if save_dir != '-':
            os.makedirs(save_dir + '/train', exist_ok=True)
            tf.train.Saver().save(sess, save_dir + '/train/model.ckpt', global_step=steps + 3)
        coord.request_stop()
print('RESULT ' + json.dumps(dict(wall=wall / steps, cpu=cpu / steps)))
'''

OUR_TRAIN = r'''
import json, sys, time
import tensorflow as tf
from magenta_rnn.melody import MELODY_RNN
from magenta_rnn.rnn import cli, data, train
from magenta_rnn.rnn.model import build_events_rnn
name, path, steps = sys.argv[1], sys.argv[2], int(sys.argv[3])
config = MELODY_RNN.load_config(name, 'batch_size=64,rnn_layer_sizes=[128,128]')
facts = cli.encoder_facts(MELODY_RNN.build_encoder(config))
hparams = config.hparams
model = train._build(build_events_rnn, hparams, facts['input_size'], facts['num_classes'],
                     facts['input_depth'])
optimizer = train.make_optimizer(hparams)
optimizer.build(model.trainable_variables)
step = tf.Variable(0, dtype=tf.int64)
train_step = train.make_train_step(model, optimizer, step, hparams.clip_norm, facts['input_size'],
                                   facts['num_classes'], facts['default_event_label'],
                                   facts['class_num_steps'])
batches = iter(data.make_dataset(path, hparams.batch_size, facts['input_size'],
                                 data.label_size_of(facts['num_classes']), training=True))
for _ in range(3):
    train_step(*next(batches))[0].numpy()
wall, cpu = time.perf_counter(), time.process_time()
for _ in range(steps):
    finite, _ = train_step(*next(batches))
finite.numpy()
wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
print('RESULT ' + json.dumps(dict(wall=wall / steps, cpu=cpu / steps)))
'''

# Both drivers run the real command's main and note when the model is loaded and when the
# last file is written.
PEER_GENERATE = r'''
import json, sys, time
import note_seq
from magenta.models.shared import sequence_generator
from magenta.models.melody_rnn import melody_rnn_generate
marks = {}
initialize = sequence_generator.BaseSequenceGenerator.initialize
def timed_initialize(self):
    initialize(self)
    if 'loaded' not in marks:  # generate() calls it again before every output (a no-op)
        marks['loaded'], marks['loaded_cpu'] = time.perf_counter(), time.process_time()
sequence_generator.BaseSequenceGenerator.initialize = timed_initialize
write = note_seq.sequence_proto_to_midi_file
def timed_write(*args, **kwargs):
    write(*args, **kwargs)
    marks['written'], marks['written_cpu'] = time.perf_counter(), time.process_time()
note_seq.sequence_proto_to_midi_file = timed_write
sys.argv = ['melody_rnn_generate'] + sys.argv[1:]
try:
    melody_rnn_generate.console_entry_point()
except SystemExit:
    pass
print('RESULT ' + json.dumps(dict(wall=marks['written'] - marks['loaded'],
                                  cpu=marks['written_cpu'] - marks['loaded_cpu'])))
'''

OUR_GENERATE = r'''
import json, sys, time
from magenta_rnn.rnn import cli
from magenta_rnn.melody import generate
marks = {}
load = cli.load_generation_model
def timed_load(*args, **kwargs):
    result = load(*args, **kwargs)
    marks['loaded'], marks['loaded_cpu'] = time.perf_counter(), time.process_time()
    return result
cli.load_generation_model = timed_load
write = cli.write_outputs
def timed_write(*args, **kwargs):
    result = write(*args, **kwargs)
    marks['written'], marks['written_cpu'] = time.perf_counter(), time.process_time()
    return result
cli.write_outputs = timed_write
sys.argv = ['melody_rnn_generate'] + sys.argv[1:]
try:
    generate.console_entry_point()
except SystemExit:
    pass
print('RESULT ' + json.dumps(dict(wall=marks['written'] - marks['loaded'],
                                  cpu=marks['written_cpu'] - marks['loaded_cpu'])))
'''


def _run(side: str, args: list[str], log: Path) -> dict:
    """Runs python ARGS on one side; returns its RESULT plus the whole process's wall/CPU."""
    python = peer.peer_python() if side == 'peer' else sys.executable
    env = peer.peer_env() if side == 'peer' else peer.our_env()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    with open(log, 'w') as out:
        done = subprocess.run([python, *args], env=env, stdout=subprocess.PIPE, stderr=out,
                              text=True, cwd=REPO_ROOT)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode:
        sys.exit(f'{side} run failed ({done.returncode}); see {log}')
    lines = [l for l in done.stdout.splitlines() if l.startswith('RESULT ')]
    result = json.loads(lines[-1][7:]) if lines else {}
    result['process_wall'] = wall
    result['process_cpu'] = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    result['load'] = os.getloadavg()[0]
    return result


def prepare_data(work: Path) -> dict[str, Path]:
    """Nottingham -> NoteSequences -> SequenceExamples (per config) -> 128-step windows."""
    notes = work / 'notes.tfrecord'
    if not notes.exists():
        print('converting Nottingham MIDI with the peer...', flush=True)
        subprocess.run([str(Path(peer.peer_python()).parent / 'convert_dir_to_note_sequences'),
                        f'--input_dir={NOTTINGHAM}', f'--output_file={notes}.part',
                        '--recursive', '--log=ERROR'],
                       env=peer.peer_env(), check=True, stderr=subprocess.DEVNULL)
        os.replace(f'{notes}.part', notes)
    windows = {}
    for name in ('attention_rnn', 'basic_rnn'):
        path = work / name / f'windows{WINDOW}.tfrecord'
        if not path.exists():
            print(f'making {name} SequenceExamples with the peer...', flush=True)
            subprocess.run([str(Path(peer.peer_python()).parent / 'melody_rnn_create_dataset'),
                            f'--config={name}', f'--input={notes}', f'--output_dir={work / name}',
                            '--eval_ratio=0', '--log=ERROR'],
                           env=peer.peer_env(), check=True, stderr=subprocess.DEVNULL)
            tool = peer.PEER_VENV / 'peer_tools' / 'truncate_seqex.py'
            subprocess.run([peer.peer_python(), str(tool),
                            str(work / name / 'training_melodies.tfrecord'), f'{path}.part',
                            str(WINDOW), str(NUM_WINDOWS)],
                           env=peer.peer_env(), check=True, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
            os.replace(f'{path}.part', path)
        windows[name] = path
    return windows


def _best(runs: list[dict]) -> dict:
    # The least disturbed of the repeats (the machine is shared).
    return min(runs, key=lambda r: r.get('wall', r['process_wall']))


def _row(label: str, ours: dict, theirs: dict, key: str, per_second: bool) -> str:
    def fmt(result, k):
        value = result[k]
        return f'{1 / value:8.2f}/s' if per_second else f'{value:8.2f} s'
    ratio_wall = theirs[key] / ours[key]
    ratio_cpu = theirs[key.replace('wall', 'cpu')] / ours[key.replace('wall', 'cpu')]
    return (f'{label:<40} {fmt(theirs, key)} {fmt(ours, key)} {ratio_wall:7.2f}x   '
            f'{fmt(theirs, key.replace("wall", "cpu"))} {fmt(ours, key.replace("wall", "cpu"))} '
            f'{ratio_cpu:7.2f}x   {ours["load"]:5.1f}')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--work_dir', default=os.path.join(tempfile.gettempdir(),
                                                            'melody_rnn_bench'))
    parser.add_argument('--train_steps', type=int, default=20)
    parser.add_argument('--repeats', type=int, default=1, help='runs per measurement (best kept)')
    parser.add_argument('--only', choices=('train', 'generate'))
    args = parser.parse_args()
    work = Path(args.work_dir)
    logs = work / 'logs'
    logs.mkdir(parents=True, exist_ok=True)
    windows = prepare_data(work)
    rows = []

    peer_run = work / 'peer_run'
    bundle = work / 'attention_rnn_128x2.mag'
    if args.only != 'generate' or not bundle.exists():
        for name in ('attention_rnn', 'basic_rnn'):
            if args.only == 'generate' and name != 'attention_rnn':
                continue
            save = str(peer_run) if name == 'attention_rnn' else '-'
            theirs, ours = [], []
            for _ in range(args.repeats):
                print(f'training {name}: peer...', flush=True)
                theirs.append(_run('peer', ['-c', PEER_TRAIN, name, str(windows[name]),
                                            str(args.train_steps), save],
                                   logs / f'peer_{name}.log'))
                print(f'training {name}: ours...', flush=True)
                ours.append(_run('ours', ['-c', OUR_TRAIN, name, str(windows[name]),
                                          str(args.train_steps)], logs / f'ours_{name}.log'))
            rows.append(_row(f'train {name} (steps/s)', _best(ours), _best(theirs), 'wall', True))
        if not bundle.exists():
            _run('peer', [str(Path(peer.peer_python()).parent / 'melody_rnn_generate'),
                          '--config=attention_rnn', f'--run_dir={peer_run}',
                          '--hparams=rnn_layer_sizes=[128,128]', '--save_generator_bundle',
                          f'--bundle_file={bundle}'], logs / 'peer_bundle.log')

    if args.only != 'train':
        theirs, ours = [], []
        for _ in range(args.repeats):
            for side, driver, runs in (('peer', PEER_GENERATE, theirs),
                                       ('ours', OUR_GENERATE, ours)):
                out = work / f'generated_{side}'
                shutil.rmtree(out, ignore_errors=True)
                print(f'generating: {side}...', flush=True)
                runs.append(_run(side, ['-c', driver, f'--bundle_file={bundle}',
                                        f'--output_dir={out}', '--num_outputs=10',
                                        '--num_steps=128', '--primer_melody=[60]'],
                                 logs / f'{side}_generate.log'))
                written = list(out.glob('*.mid'))
                if len(written) < 10:
                    sys.exit(f'{side} wrote {len(written)} MIDI files to {out}, not 10')
        rows.append(_row('generate 10x128, model loaded->written', _best(ours), _best(theirs),
                         'wall', False))
        rows.append(_row('generate 10x128, whole command', _best(ours), _best(theirs),
                         'process_wall', False))

    print(f'\n{"":<40} {"peer wall":>10} {"ours wall":>10} {"ratio":>8}   {"peer cpu":>10} '
          f'{"ours cpu":>10} {"ratio":>8}   load')
    for row in rows:
        print(row)


if __name__ == '__main__':
    main()
