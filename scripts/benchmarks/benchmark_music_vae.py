"""MusicVAE speed, ours against the original Magenta ("peer"), side by side.

Rerun from the repository root:

    .venv/bin/python scripts/benchmarks/benchmark_music_vae.py --repeats 3

Options: --work_dir DIR (data, checkpoint and logs are cached there; default
/tmp/music_vae_bench), --train_steps N (default 30), --batch_size N (default 64),
--repeats N (best of N, sides alternating; default 1), --num_outputs N (default 100),
--only train|sample. MAGENTA_PEER_VENV points at the peer (default ../peer_venv).

What it measures (the speed contract of the MusicVAE issue):
* Data: Nottingham melodies (../shared/data/nottingham/MIDI/melody) as NoteSequences
  (the peer's convert_dir_to_note_sequences; reused from /tmp/melody_rnn_bench when there),
  cut into 2-bar windows by our cat-mel_2bar_small converter (identical to the peer's) and
  stored once as one .npz; both sides train on the very same batches of it, so the
  converters' speed is not part of the number.
* --config hier-mel_16bar (16-bar Nottingham windows) or hier-multiperf_vel_1bar_med
  (POP909 bars, its 2/4 notation read as 4/4 so that bars are whole): training only,
  as below with that config's hparams.
* Training, cat-mel_2bar_small at --batch_size with its other hparams (z 256, encoder
  [512], decoder [256,256], scheduled sampling inverse_sigmoid 1000): steady-state train
  steps/s over --train_steps steps after 3 warm-up steps (30 by default: over 10, the same
  code's ratio moved by 10% between runs) (ours: the train step of the Trainer that
  music_vae.train.build_trainer builds for music_vae_train; peer: its train op built as
  music_vae_train builds it, in a Session fed by a tf.data iterator over the same arrays).
* Sampling: both sides' music_vae_generate --mode=sample --num_outputs=N (default 100,
  max_batch_size 8, temperature 0.5) from the same checkpoint (the peer's, saved after
  its timed training); reported: model loaded -> last MIDI file written, and the whole command.
Every number is wall time and CPU time (user+sys of all threads) with the 1-minute load
average at that moment, since the machine may be shared; ratios are peer / ours.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import peer
from benchmark_events_rnn import (SHARED_DATA, TIMED_COMMAND, TIMED_STEPS, _best,
                                  _print_table, _row, _run, _run_writing_midi)

NOTTINGHAM = SHARED_DATA / 'nottingham' / 'MIDI' / 'melody'

POP909 = SHARED_DATA / 'pop909'

REPO_ROOT = peer.REPO_ROOT
CONFIGS = ('cat-mel_2bar_small', 'hier-mel_16bar', 'hier-multiperf_vel_1bar_med')
# Windows kept per config: a multiperf window is 512 x 490 values.
MAX_WINDOWS = {'cat-mel_2bar_small': 4096, 'hier-mel_16bar': 1024,
               'hier-multiperf_vel_1bar_med': 512}

# Windows are stored as bool (one-hot) and cast per batch on both sides: the
# hierarchical configs' windows would not fit in memory (or a graph) as float32.
MAKE_WINDOWS = r'''
import sys
import numpy as np
from magenta_rnn import records
from magenta_rnn.music_vae import configs
notes, out, limit, config_name = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
converter = configs.load_config(config_name).make_data_converter()
converter.set_mode('eval')
inputs, outputs, lengths = [], [], []
for ns in records.read_note_sequences(notes):
    if config_name.startswith('hier-multiperf'):
        # POP909 is notated in 2/4; multiperf takes 4/4 bars only.
        for ts in ns.time_signatures:
            ts.numerator, ts.denominator = 4, 4
    tensors = converter.to_tensors(ns)
    inputs.extend(tensors.inputs); outputs.extend(tensors.outputs); lengths.extend(tensors.lengths)
    if len(inputs) >= limit:
        break
np.savez(out, inputs=np.array(inputs[:limit], bool), outputs=np.array(outputs[:limit], bool),
         lengths=np.array(lengths[:limit], np.int32))
'''

PEER_TRAIN = TIMED_STEPS + r'''
import sys
import numpy as np
import tensorflow.compat.v1 as tf
tf.disable_v2_behavior()
from magenta.models.music_vae import configs
windows, batch_size, steps, save_dir = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
config_name = sys.argv[5]
arrays = dict(np.load(windows))
config = configs.CONFIG_MAP[config_name]
config.hparams.batch_size = batch_size
with tf.Graph().as_default():
    dataset = tf.data.Dataset.from_generator(
        lambda: iter(zip(arrays['inputs'], arrays['outputs'], arrays['lengths'])),
        (tf.bool, tf.bool, tf.int32),
        (arrays['inputs'].shape[1:], arrays['outputs'].shape[1:],
         arrays['lengths'].shape[1:])).map(
            lambda x, y, n: (tf.cast(x, tf.float32), tf.cast(y, tf.float32), n)).shuffle(
            10 * batch_size, seed=1).repeat().batch(batch_size, drop_remainder=True)
    inputs, outputs, lengths = tf.data.make_one_shot_iterator(dataset).get_next()
    model = config.model
    model.build(config.hparams, config.data_converter.output_depth, is_training=True)
    optimizer = model.train(inputs, outputs, lengths)
    # As music_vae_train: compute, clip (global norm, zero past 10000), apply.
    grads, var_list = list(zip(*optimizer.compute_gradients(model.loss)))
    global_norm = tf.global_norm(grads)
    clipped = tf.cond(global_norm < config.hparams.grad_norm_clip_to_zero,
                      lambda: tf.clip_by_global_norm(grads, config.hparams.grad_clip,
                                                     use_norm=global_norm)[0],
                      lambda: [tf.zeros(tf.shape(g)) for g in grads])
    train_op = optimizer.apply_gradients(list(zip(clipped, var_list)),
                                         global_step=model.global_step)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        time_steps(lambda: sess.run(train_op), steps)
        if save_dir != '-':
            tf.train.Saver().save(sess, save_dir + '/model.ckpt', global_step=steps + 3)
'''

OUR_TRAIN = TIMED_STEPS + r'''
import sys
import numpy as np
import tensorflow as tf
from magenta_rnn.music_vae import configs
from magenta_rnn.music_vae.train import build_trainer
from magenta_rnn.rnn.train import split_cpu_threads
split_cpu_threads()  # as music_vae_train does
windows, batch_size, steps, config_name = (sys.argv[1], int(sys.argv[2]), int(sys.argv[3]),
                                           sys.argv[4])
# Read into memory once, as the peer's tf.data does: an NpzFile re-reads (and
# decompresses) the whole member on every access, ~23 ms per batch of two.
arrays = dict(np.load(windows))
config = configs.load_config(config_name, f'batch_size={batch_size}')
converter = config.make_data_converter()
trainer = build_trainer(config, converter)
rng = np.random.default_rng(1)
def batches():
    n = len(arrays['lengths'])
    while True:
        order = rng.permutation(n)
        for i in range(0, n - batch_size + 1, batch_size):
            index = order[i:i + batch_size]
            yield (tf.constant(arrays['inputs'][index], tf.float32),
                   tf.constant(arrays['outputs'][index], tf.float32),
                   tf.constant(arrays['lengths'][index]))
it = batches()
time_steps(lambda: trainer.train_step(*next(it)), steps, lambda results: results['loss'].numpy())
'''

# Both drivers run the real command's main and note when the model is loaded and when the
# last file is written.
PEER_SAMPLE = TIMED_COMMAND + r'''
import note_seq
from magenta.models.music_vae import music_vae_generate, TrainedModel
mark_after(TrainedModel, '__init__', 'loaded')
mark_after(note_seq, 'sequence_proto_to_midi_file', 'written')
run_command(music_vae_generate.console_entry_point, 'music_vae_generate', sys.argv[1:])
'''

OUR_SAMPLE = TIMED_COMMAND + r'''
from magenta_rnn.music import midi_io
from magenta_rnn.music_vae import generate, trained_model
mark_after(trained_model.TrainedModel, '__init__', 'loaded')
mark_after(midi_io, 'note_sequence_to_midi_file', 'written')
run_command(generate.console_entry_point, 'music_vae_generate', sys.argv[1:])
'''


def prepare_data(work: Path, config: str) -> Path:
    """Nottingham (POP909 for multiperf) NoteSequences -> the config's windows (.npz)
    shared by both sides."""
    windows = work / ('windows.npz' if config == CONFIGS[0] else f'windows_{config}.npz')
    if windows.exists():
        return windows
    if config.startswith('hier-multiperf'):
        notes = work / 'pop909.tfrecord'
        if not notes.exists():
            print('converting POP909 MIDI...', flush=True)
            subprocess.run([sys.executable, '-m', 'magenta_rnn.convert', f'--input_dir={POP909}',
                            f'--output_file={notes}', '--recursive', '--log=ERROR'],
                           env=peer.our_env(), check=True, cwd=REPO_ROOT)
    else:
        notes = _nottingham_notes(work)
    print(f'cutting {config} windows...', flush=True)
    subprocess.run([sys.executable, '-c', MAKE_WINDOWS, str(notes), str(windows) + '.part.npz',
                    str(MAX_WINDOWS[config]), config], env=peer.our_env(), check=True,
                   cwd=REPO_ROOT)
    os.replace(str(windows) + '.part.npz', windows)
    return windows


def _nottingham_notes(work: Path) -> Path:
    notes = work / 'notes.tfrecord'
    cached = Path(tempfile.gettempdir()) / 'melody_rnn_bench' / 'notes.tfrecord'
    if not notes.exists() and cached.exists():
        shutil.copy(cached, notes)
    if not notes.exists():
        print('converting Nottingham MIDI with the peer...', flush=True)
        subprocess.run([str(Path(peer.peer_python()).parent / 'convert_dir_to_note_sequences'),
                        f'--input_dir={NOTTINGHAM}', f'--output_file={notes}.part',
                        '--recursive', '--log=ERROR'],
                       env=peer.peer_env(), check=True, stderr=subprocess.DEVNULL)
        os.replace(f'{notes}.part', notes)
    return notes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--work_dir', default=os.path.join(tempfile.gettempdir(),
                                                            'music_vae_bench'))
    parser.add_argument('--train_steps', type=int, default=30)
    parser.add_argument('--batch_size', type=int, default=64)
    parser.add_argument('--num_outputs', type=int, default=100)
    parser.add_argument('--repeats', type=int, default=1, help='runs per measurement (best kept)')
    parser.add_argument('--only', choices=('train', 'sample'))
    parser.add_argument('--config', choices=CONFIGS, default=CONFIGS[0],
                        help='the config trained (sampling is measured for the first only)')
    args = parser.parse_args()
    work = Path(args.work_dir)
    logs = work / 'logs'
    logs.mkdir(parents=True, exist_ok=True)
    CONFIG = args.config
    if CONFIG != CONFIGS[0]:
        args.only = 'train'
    windows = prepare_data(work, CONFIG)
    checkpoint_dir = work / 'peer_checkpoint'
    rows = []

    if args.only != 'sample':
        theirs, ours = [], []
        for _ in range(args.repeats):
            print('training: peer...', flush=True)
            theirs.append(_run('peer', ['-c', PEER_TRAIN, str(windows), str(args.batch_size),
                                        str(args.train_steps), '-', CONFIG],
                               logs / f'peer_train_{CONFIG}.log'))
            print('training: ours...', flush=True)
            ours.append(_run('ours', ['-c', OUR_TRAIN, str(windows), str(args.batch_size),
                                      str(args.train_steps), CONFIG],
                             logs / f'ours_train_{CONFIG}.log'))
        rows.append(_row(f'train {CONFIG} b{args.batch_size} (steps/s)', _best(ours),
                         _best(theirs), 'wall', True))

    if args.only != 'train':
        if not list(checkpoint_dir.glob('*.index')):
            checkpoint_dir.mkdir(parents=True, exist_ok=True)
            print('one peer training step for the sampling checkpoint...', flush=True)
            _run('peer', ['-c', PEER_TRAIN, str(windows), '8', '1', str(checkpoint_dir), CONFIG],
                 logs / 'peer_checkpoint.log')
        checkpoint = sorted(checkpoint_dir.glob('*.index'))[-1].with_suffix('')
        theirs, ours = [], []
        for _ in range(args.repeats):
            for side, driver, runs in (('peer', PEER_SAMPLE, theirs), ('ours', OUR_SAMPLE, ours)):
                out = work / f'sampled_{side}'
                print(f'sampling: {side}...', flush=True)
                runs.append(_run_writing_midi(
                    side, ['-c', driver, f'--config={CONFIG}', f'--checkpoint_file={checkpoint}',
                           '--mode=sample', f'--num_outputs={args.num_outputs}', '--log=ERROR',
                           f'--output_dir={out}'], logs / f'{side}_sample.log', out,
                    args.num_outputs))
        label = f'sample {args.num_outputs}'
        rows.append(_row(f'{label}, model loaded->written', _best(ours), _best(theirs),
                         'wall', False))
        rows.append(_row(f'{label}, whole command', _best(ours), _best(theirs),
                         'process_wall', False))

    _print_table(f'music_vae: {CONFIG}, training batch {args.batch_size}', rows)


if __name__ == '__main__':
    main()
