"""Events RNN speed (Melody, Drums, Performance RNN), ours against the original Magenta ("peer").

Rerun with one command per model from the repository root:

    .venv/bin/python scripts/benchmarks/benchmark_events_rnn.py --model=melody
    .venv/bin/python scripts/benchmarks/benchmark_events_rnn.py --model=drums
    .venv/bin/python scripts/benchmarks/benchmark_events_rnn.py --model=performance

Options: --config NAME (default: the model's benchmark configs below), --hparams STR (the
training hparams of both sides; default per model, below), --work_dir DIR (data and runs
are cached there; default /tmp/<model>_rnn_bench), --train_steps N (default 20; 5 for
performance), --repeats N (best of N runs, sides alternating; default 1), --only
train|generate, --peer_outputs N (how many outputs the peer generates; its times are
scaled to 10 outputs, since it generates them one after another at batch 1).
MAGENTA_PEER_VENV points at the peer (default ../peer_venv). The first run builds the
data with the peer (minutes); later runs reuse it.

What it measures (the speed contracts of the Melody RNN and the Drums/Performance RNN issues):
* Data, made into SequenceExamples by the peer's own convert_dir_to_note_sequences and
  *_create_dataset (eval_ratio 0), cut into fixed windows (peer_tools/truncate_seqex.py);
  both sides read the very same file:
  - melody: Nottingham melodies (../shared/data/nottingham/MIDI/melody), 128-step windows;
  - drums: the Groove MIDI Dataset's official train split (../shared/data/groove, info.csv),
    drum_kit, 128-step windows;
  - performance: 8 ASAP performances of Bach preludes (../shared/data/asap; the dataset is
    ~3.5 GB per input hour with its stretch/transpose augmentation, so a small subset),
    performance_with_dynamics, 511-step windows (the longest examples: max_events 512 gives
    511 input/label pairs).
* Training, batch 64: steady-state train steps/s after 3 warm-up steps (ours: the compiled
  step from magenta_rnn.rnn.train.build_train_step, the one the train command runs; peer:
  its train_op in a Session fed by its input queue).
  Hparams: melody attention_rnn and basic_rnn and drums drum_kit at rnn_layer_sizes
  [128,128] with the configs' other hparams (drum_kit keeps its attn_length 32);
  performance_with_dynamics at its default [512,512,512].
* Generation, from one .mag bundle both sides read (the peer's weights after a few
  training steps, saved with the peer's --save_generator_bundle):
  - melody attention_rnn [128,128]: 10 outputs x 128 steps from a one-note primer;
  - drums drum_kit [128,128]: 10 outputs x 128 steps from a one-kick primer;
  - performance_with_dynamics [512,512,512]: 10 performances x 3000 steps (30 s), no primer.
  Reported: model loaded -> files written, and the whole command, process start -> files
  written. Ours samples all outputs in one batch; the peer one after another. A performance
  is sampled in rounds of 4 events per note asked (at 15 notes/s by default: 1740 events
  for 29 s) and cut to length; ours stops sampling one once it passes the end (everything
  after would be cut), which with a barely trained model (long random time shifts) is a
  large saving, so a third row times ours sampling every event of every round as well.
Every number is wall time and CPU time (user+sys of all threads), with the 1-minute load
average at that moment, since the machine may be shared; ratios are peer / ours.
"""
from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import peer

REPO_ROOT = peer.REPO_ROOT
SHARED_DATA = peer.SHARED_DATA
NUM_GENERATED = 10
PERFORMANCE_PIECES = ['Bach/Prelude/bwv_846/Shi05M.mid', 'Bach/Prelude/bwv_848/Denisova06M.mid',
                      'Bach/Prelude/bwv_854/LuA01M.mid', 'Bach/Prelude/bwv_856/LuoJ01M.mid',
                      'Bach/Prelude/bwv_857/', 'Bach/Prelude/bwv_858/', 'Bach/Prelude/bwv_860/',
                      'Bach/Prelude/bwv_862/']


@dataclasses.dataclass(frozen=True)
class Bench:
    """What differs per model."""
    peer_package: str               # magenta.models.<peer_package>
    peer_configs_module: str        # its module holding default_configs
    ours: str                       # 'module:OBJECT' of our EventsModel
    tool_prefix: str                # melody_rnn -> melody_rnn_create_dataset, ...
    training_file: str              # what *_create_dataset writes
    configs: tuple[str, ...]        # trained by default; the first one generates
    hparams: str                    # training hparams of both sides
    window: int
    num_windows: int
    train_steps: int
    generate_hparams: str           # layer sizes of the generation bundle
    generate_args: tuple[str, ...]
    peer_outputs: int


BENCHES = {
    'melody': Bench('melody_rnn', 'melody_rnn_model', 'magenta_rnn.melody:MELODY_RNN',
                    'melody_rnn', 'training_melodies.tfrecord', ('attention_rnn', 'basic_rnn'),
                    'batch_size=64,rnn_layer_sizes=[128,128]', 128, 2000, 20,
                    'rnn_layer_sizes=[128,128]', ('--num_steps=128', '--primer_melody=[60]'),
                    NUM_GENERATED),
    'drums': Bench('drums_rnn', 'drums_rnn_model', 'magenta_rnn.drums:DRUMS_RNN', 'drums_rnn',
                   'training_drum_tracks.tfrecord', ('drum_kit',),
                   'batch_size=64,rnn_layer_sizes=[128,128]', 128, 2000, 20,
                   'rnn_layer_sizes=[128,128]', ('--num_steps=128', '--primer_drums=[(36,)]'),
                   NUM_GENERATED),
    'performance': Bench('performance_rnn', 'performance_model',
                         'magenta_rnn.performance:PERFORMANCE_RNN', 'performance_rnn',
                         'training_performances.tfrecord', ('performance_with_dynamics',),
                         'batch_size=64,rnn_layer_sizes=[512,512,512]', 511, 1000, 5,
                         'rnn_layer_sizes=[512,512,512]', ('--num_steps=3000',), 2),
}

# Every training driver (both sides, here and in benchmark_music_vae) starts with this, so
# that all of them time alike: 3 warm-up steps, then `steps` timed ones.
TIMED_STEPS = r'''
import json, time
def time_steps(run_step, steps, finish=lambda result: result):
    # run_step() runs one step; finish(its result) waits for it (TF2 steps run ahead).
    for _ in range(3):
        finish(run_step())
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(steps):
        result = run_step()
    if steps:
        finish(result)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print('RESULT ' + json.dumps(dict(wall=wall / max(steps, 1), cpu=cpu / max(steps, 1))))
'''

PEER_TRAIN = TIMED_STEPS + r'''
import importlib, os, sys
import tensorflow.compat.v1 as tf
tf.disable_v2_behavior()
from magenta.models.shared import events_rnn_graph
module, name, path, steps, save_dir, hparams = sys.argv[1:7]
steps = int(steps)
config = importlib.import_module(module).default_configs[name]
config.hparams.parse(hparams)
with tf.Graph().as_default():
    events_rnn_graph.get_build_graph_fn('train', config, [path])()
    train_op = tf.get_collection('train_op')[0]
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer()); sess.run(tf.local_variables_initializer())
        coord = tf.train.Coordinator(); threads = tf.train.start_queue_runners(sess, coord)
        time_steps(lambda: sess.run(train_op), steps)
        if save_dir != '-':
            os.makedirs(save_dir + '/train', exist_ok=True)
            tf.train.Saver().save(sess, save_dir + '/train/model.ckpt', global_step=steps + 3)
        coord.request_stop()
'''

OUR_TRAIN = TIMED_STEPS + r'''
import importlib, sys
from magenta_rnn.rnn import cli, data, train
from magenta_rnn.rnn.model import events_rnn_builder
target, name, path, steps, hparams = sys.argv[1:6]
steps = int(steps)
module, attribute = target.split(':')
events_model = getattr(importlib.import_module(module), attribute)
train.split_cpu_threads()  # as the train command does
config = events_model.load_config(name, hparams)
facts = cli.encoder_facts(events_model.build_encoder(config))
hparams = config.hparams
train_step = train.build_train_step(events_rnn_builder(config), hparams, **facts).train_step
batches = iter(data.make_dataset(path, hparams.batch_size, facts['input_size'],
                                 data.label_size_of(facts['num_classes']), training=True))
time_steps(lambda: train_step(*next(batches)), steps, lambda result: result[0].numpy())
'''

# Generation drivers (both sides) run the real command's main and note when the model is
# loaded and when the last file is written; this preamble, prepended to each, does the noting.
TIMED_COMMAND = r'''
import json, sys, time
marks = {}
def mark_after(owner, name, key, first_only=False):
    # owner.name now notes marks[key] / marks[key + '_cpu'] when it returns.
    original = getattr(owner, name)
    def timed(*args, **kwargs):
        result = original(*args, **kwargs)
        if not (first_only and key in marks):
            marks[key], marks[key + '_cpu'] = time.perf_counter(), time.process_time()
        return result
    setattr(owner, name, timed)
def run_command(entry_point, program, args):
    sys.argv = [program] + args
    try:
        entry_point()
    except SystemExit:
        pass
    print('RESULT ' + json.dumps(dict(wall=marks['written'] - marks['loaded'],
                                      cpu=marks['written_cpu'] - marks['loaded_cpu'])))
'''

PEER_GENERATE = TIMED_COMMAND + r'''
import importlib
import note_seq
from magenta.models.shared import sequence_generator
module = importlib.import_module(sys.argv[1])
# generate() calls initialize again before every output (a no-op): the first one counts.
mark_after(sequence_generator.BaseSequenceGenerator, 'initialize', 'loaded', first_only=True)
mark_after(note_seq, 'sequence_proto_to_midi_file', 'written')
run_command(module.console_entry_point, sys.argv[1].rsplit('.', 1)[-1], sys.argv[2:])
'''

OUR_GENERATE = TIMED_COMMAND + r'''
import importlib, os
from magenta_rnn.rnn import cli
module = importlib.import_module(sys.argv[1])
if os.environ.get('BENCH_FULL_ROUNDS'):
    # Sample every event of every round as the original does (ours stops a performance
    # once it passes the end: the rest would be cut), for a like-for-like count.
    from magenta_rnn.performance import generator
    init = generator.RoundEnds.__init__
    def full_rounds(self, *args, **kwargs):
        init(self, *args, **kwargs)
        self.track_time = False
    generator.RoundEnds.__init__ = full_rounds
mark_after(cli, 'load_generation_model', 'loaded')
mark_after(cli, 'write_outputs', 'written')
run_command(module.console_entry_point, sys.argv[1].rsplit('.', 2)[-2] + '_generate',
            sys.argv[2:])
'''


def _run(side: str, args: list[str], log: Path, **extra_env: str) -> dict:
    """Runs python ARGS on one side; returns its RESULT plus the whole process's wall/CPU."""
    python = peer.peer_python() if side == 'peer' else sys.executable
    env = peer.peer_env() if side == 'peer' else peer.our_env()
    env.update(extra_env)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    with open(log, 'w') as out:
        done = subprocess.run([python, *args], env=env, stdout=subprocess.PIPE, stderr=out,
                              text=True, cwd=REPO_ROOT)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode:
        sys.exit(f'{side} run failed ({done.returncode}); see {log}')
    lines = [line for line in done.stdout.splitlines() if line.startswith('RESULT ')]
    result = json.loads(lines[-1][7:]) if lines else {}
    result['process_wall'] = wall
    result['process_cpu'] = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    result['load'] = os.getloadavg()[0]
    return result


def _peer_tool(name: str) -> str:
    return str(Path(peer.peer_python()).parent / name)


def _source_dir(model: str, work: Path) -> tuple[Path, bool]:
    """(MIDI folder to convert, whether to recurse): the model's benchmark inputs."""
    if model == 'melody':
        return SHARED_DATA / 'nottingham' / 'MIDI' / 'melody', True
    # Links to the chosen files, so the peer's converter sees only them.
    folder = work / 'midi'
    if not folder.exists():
        part = work / 'midi.part'
        shutil.rmtree(part, ignore_errors=True)
        part.mkdir(parents=True)
        if model == 'drums':
            with open(SHARED_DATA / 'groove' / 'info.csv') as f:
                files = [row['midi_filename'] for row in csv.DictReader(f)
                         if row['split'] == 'train']
            sources = [SHARED_DATA / 'groove' / name for name in files]
        else:
            sources = []
            for name in PERFORMANCE_PIECES:
                path = SHARED_DATA / 'asap' / name
                if name.endswith('/'):  # the folder's first performance (not its score)
                    path = sorted(p for p in path.glob('*.mid') if p.name != 'midi_score.mid')[0]
                sources.append(path)
        for i, source in enumerate(sources):
            if not source.exists():
                sys.exit(f'missing benchmark input {source}')
            (part / f'{i:04d}_{source.name}').symlink_to(source)
        os.replace(part, folder)
    return folder, False


def prepare_data(model: str, bench: Bench, configs: list[str], work: Path) -> dict[str, Path]:
    """MIDI -> NoteSequences -> SequenceExamples (per config) -> fixed windows, all by the peer."""
    notes = work / 'notes.tfrecord'
    if not notes.exists():
        source, recursive = _source_dir(model, work)
        print(f'converting {source} with the peer...', flush=True)
        subprocess.run([_peer_tool('convert_dir_to_note_sequences'), f'--input_dir={source}',
                        f'--output_file={notes}.part', '--log=ERROR']
                       + (['--recursive'] if recursive else []),
                       env=peer.peer_env(), check=True, stderr=subprocess.DEVNULL)
        os.replace(f'{notes}.part', notes)
    windows = {}
    for name in configs:
        path = work / name / f'windows{bench.window}.tfrecord'
        if not path.exists():
            print(f'making {name} SequenceExamples with the peer...', flush=True)
            subprocess.run([_peer_tool(f'{bench.tool_prefix}_create_dataset'), f'--config={name}',
                            f'--input={notes}', f'--output_dir={work / name}', '--eval_ratio=0',
                            '--log=ERROR'],
                           env=peer.peer_env(), check=True, stderr=subprocess.DEVNULL)
            tool = peer.PEER_VENV / 'peer_tools' / 'truncate_seqex.py'
            subprocess.run([peer.peer_python(), str(tool), str(work / name / bench.training_file),
                            f'{path}.part', str(bench.window), str(bench.num_windows)],
                           env=peer.peer_env(), check=True, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
            os.replace(f'{path}.part', path)
            # The full dataset is only needed for the windows (performance: hundreds of MB).
            (work / name / bench.training_file).unlink()
        windows[name] = path
    return windows


def _best(runs: list[dict]) -> dict:
    # The least disturbed of the repeats (the machine is shared).
    return min(runs, key=lambda r: r.get('wall', r['process_wall']))


def _row(label: str, ours: dict, theirs: dict, key: str, per_second: bool) -> str:
    def fmt(result, k):
        value = result[k]
        return f'{1 / value:8.2f}/s' if per_second else f'{value:8.2f} s'
    cpu_key = key.replace('wall', 'cpu')
    ratio_wall = theirs[key] / ours[key]
    ratio_cpu = theirs[cpu_key] / ours[cpu_key]
    return (f'{label:<44} {fmt(theirs, key)} {fmt(ours, key)} {ratio_wall:7.2f}x   '
            f'{fmt(theirs, cpu_key)} {fmt(ours, cpu_key)} {ratio_cpu:7.2f}x   '
            f'{theirs["load"]:4.1f}/{ours["load"]:4.1f}')


def _print_table(title: str, rows: list[str]) -> None:
    print(f'\n{title}')
    print(f'{"":<44} {"peer wall":>10} {"ours wall":>10} {"ratio":>8}   {"peer cpu":>10} '
          f'{"ours cpu":>10} {"ratio":>8}   load peer/ours')
    for row in rows:
        print(row)


def _run_writing_midi(side: str, args: list[str], log: Path, out: Path, expected: int,
                      **extra_env: str) -> dict:
    """_run of a command that writes `expected` MIDI files into `out` (emptied first);
    exits when it writes fewer."""
    shutil.rmtree(out, ignore_errors=True)
    result = _run(side, args, log, **extra_env)
    written = list(out.glob('*.mid'))
    if len(written) < expected:
        sys.exit(f'{side} wrote {len(written)} MIDI files to {out}, not {expected}')
    return result


def _scaled(result: dict, factor: float) -> dict:
    """A peer generation run of N outputs as if it had made N * factor (one after another):
    model loaded -> written scales; process start -> loaded does not."""
    scaled = dict(result)
    for kind in ('wall', 'cpu'):
        scaled[kind] = result[kind] * factor
        scaled[f'process_{kind}'] = result[f'process_{kind}'] + result[kind] * (factor - 1)
    return scaled


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--model', choices=sorted(BENCHES), default='melody')
    parser.add_argument('--config', action='append',
                        help='config to train (repeatable; the first one generates)')
    parser.add_argument('--hparams', help='training hparams of both sides')
    parser.add_argument('--work_dir')
    parser.add_argument('--train_steps', type=int)
    parser.add_argument('--repeats', type=int, default=1, help='runs per measurement (best kept)')
    parser.add_argument('--only', choices=('train', 'generate'))
    parser.add_argument('--peer_outputs', type=int,
                        help=f'outputs the peer generates (its times are scaled to '
                             f'{NUM_GENERATED})')
    args = parser.parse_args()
    bench = BENCHES[args.model]
    configs = args.config or list(bench.configs)
    hparams = args.hparams or bench.hparams
    train_steps = args.train_steps or bench.train_steps
    peer_outputs = min(args.peer_outputs or bench.peer_outputs, NUM_GENERATED)
    work = Path(args.work_dir or os.path.join(tempfile.gettempdir(), f'{args.model}_rnn_bench'))
    logs = work / 'logs'
    logs.mkdir(parents=True, exist_ok=True)
    windows = prepare_data(args.model, bench, configs, work)
    peer_module = f'magenta.models.{bench.peer_package}.{bench.peer_configs_module}'
    rows = []

    generator = configs[0]
    sizes = json.loads(bench.generate_hparams.split('=', 1)[1])
    tag = f'{sizes[0]}x{len(sizes)}'  # e.g. attention_rnn_128x2.mag
    bundle = work / f'{generator}_{tag}.mag'
    if args.only != 'generate':
        for name in configs:
            theirs, ours = [], []
            for _ in range(args.repeats):
                print(f'training {name} ({hparams}): peer...', flush=True)
                theirs.append(_run('peer', ['-c', PEER_TRAIN, peer_module, name,
                                            str(windows[name]), str(train_steps), '-', hparams],
                                   logs / f'peer_{name}.log'))
                print(f'training {name}: ours...', flush=True)
                ours.append(_run('ours', ['-c', OUR_TRAIN, bench.ours, name, str(windows[name]),
                                          str(train_steps), hparams], logs / f'ours_{name}.log'))
            rows.append(_row(f'train {name} (steps/s)', _best(ours), _best(theirs), 'wall', True))

    if args.only != 'train':
        if not bundle.exists():
            # A few peer training steps (batch 8) give the weights; its generate command
            # writes the bundle.
            print(f'making the {generator} bundle with the peer...', flush=True)
            peer_run = work / f'peer_run_{tag}'
            _run('peer', ['-c', PEER_TRAIN, peer_module, generator, str(windows[generator]), '1',
                          str(peer_run), f'batch_size=8,{bench.generate_hparams}'],
                 logs / 'peer_bundle_train.log')
            _run('peer', [_peer_tool(f'{bench.tool_prefix}_generate'), f'--config={generator}',
                          f'--run_dir={peer_run}', f'--hparams={bench.generate_hparams}',
                          '--save_generator_bundle', f'--bundle_file={bundle}'],
                 logs / 'peer_bundle.log')
        theirs, ours, ours_full = [], [], []
        our_module = f'magenta_rnn.{args.model}.generate'
        drivers = [('peer', PEER_GENERATE, theirs, peer_outputs,
                    f'magenta.models.{bench.peer_package}.{bench.tool_prefix}_generate', {}),
                   ('ours', OUR_GENERATE, ours, NUM_GENERATED, our_module, {})]
        if args.model == 'performance':
            drivers.append(('ours', OUR_GENERATE, ours_full, NUM_GENERATED, our_module,
                            {'BENCH_FULL_ROUNDS': '1'}))
        for _ in range(args.repeats):
            for side, driver, runs, outputs, module, env in drivers:
                name = side + ('_full_rounds' if env else '')
                out = work / f'generated_{name}'
                print(f'generating {outputs} outputs: {name}...', flush=True)
                result = _run_writing_midi(
                    side, ['-c', driver, module, f'--bundle_file={bundle}', f'--output_dir={out}',
                           f'--num_outputs={outputs}', *bench.generate_args],
                    logs / f'{name}_generate.log', out, outputs, **env)
                runs.append(_scaled(result, NUM_GENERATED / outputs))
        scaled = '' if peer_outputs == NUM_GENERATED else f' (peer {peer_outputs}, scaled)'
        steps = [a.split('=')[1] for a in bench.generate_args if a.startswith('--num_steps')][0]
        label = f'generate {NUM_GENERATED}x{steps}{scaled}'
        rows.append(_row(f'{label}, loaded->written', _best(ours), _best(theirs), 'wall', False))
        rows.append(_row(f'{label}, whole command', _best(ours), _best(theirs), 'process_wall',
                         False))
        if ours_full:
            rows.append(_row('  same, ours sampling every event asked', _best(ours_full),
                             _best(theirs), 'wall', False))

    _print_table(f'{args.model}: training hparams {hparams}; generation bundle {bundle.name}',
                 rows)


if __name__ == '__main__':
    main()
