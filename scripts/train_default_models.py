"""Retrains the default models shipped in magenta_rnn/default_models, in one command each.

    python scripts/train_default_models.py basic_rnn            # prepare, train, evaluate, export
    python scripts/train_default_models.py basic_rnn --stage=train --steps=3000

Stages (default: all, in this order; each one is skipped or resumed when its output exists):
  prepare  NoteSequences from ../shared/data (only data whose licence allows shipping the
           weights: POP909, MIT; Groove, CC BY 4.0), held-out splits kept apart, and the
           SequenceExamples of the events models.
  train    the model's trainer with one intra-op and one inter-op thread (the whole script
           runs at nice 15);
           resumes from the latest checkpoint of <runs>/<model>/train.
  eval     held-out loss and accuracy of the latest checkpoint (<runs>/<model>/eval.json).
  export   the trained weights, without optimizer slots, into the package
           (magenta_rnn/default_models/<model>/) as float16 where the greedy outputs stay equal.
  card     statistics of 100 generated outputs next to held-out data, and the model card.

Splits: POP909 songs whose number is a multiple of 10 are held out (90 of 909 songs);
Groove uses its own train / validation split from info.csv (test is left untouched).
POP909 has three tracks per song: MELODY (the vocal line), BRIDGE (secondary melodies) and
PIANO (the accompaniment). Melody models see only MELODY, Performance RNN only PIANO.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import re
import subprocess
import sys
import time

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

DATA = os.path.join(REPO, '..', 'shared', 'data')
# Run dirs live beside the checkout (like ../peer_venv), not inside the repository.
RUNS = os.environ.get('DEFAULT_RUNS_DIR', os.path.join(os.path.dirname(REPO), 'default_runs'))

# Each default: its family, config, the hparams we train with, the NoteSequence data it reads
# and the number of steps that is realistic on a shared 2-core CPU in a few hours.
# What one training step costs decides these hparams: the machine is a 2-core CPU shared with
# other jobs, so each run gets a fraction of a core for a few hours. Batches of 64 (32 for
# performances) give more updates per CPU hour; `steps` is a ceiling, the model is exported
# from whatever checkpoint the run has reached and the run can resume later.
MODELS = {
    # Held-out loss stops falling early on POP909's melodies: 1.24 at step 1561 and 1.237 at
    # 12204 (training loss 1.2 -> 0.88), so the default is the step-1561 model.
    'basic_rnn': dict(family='melody_rnn', config='basic_rnn', data='pop909_melody',
                      hparams='batch_size=64', steps=1600,
                      status='held-out loss is as low here as it gets: trained on to step '
                             '12204, it was 1.237 (training loss 0.88); the model fits '
                             'the training melodies more closely without generalizing better.'),
    'attention_rnn': dict(family='melody_rnn', config='attention_rnn', data='pop909_melody',
                          hparams='batch_size=64', steps=20000),
    # 2x128 instead of 3x256: a step over 512-step drum tracks costs a quarter as much.
    # Groove's train split is small for it: held-out loss is lowest near step 1000.
    'drum_kit': dict(family='drums_rnn', config='drum_kit', data='groove',
                     hparams='batch_size=64,rnn_layer_sizes=[128,128]', steps=1100,
                     status='the checkpoint with the lowest held-out loss of those evaluated '
                            '(1.52 at step 1057; 1.58 at 1791 and 1.66 at 2073, while '
                            'accuracy stayed at 0.58-0.59): later ones fit the train split '
                            'more closely without generalizing better.'),
    # 2x256 instead of 3x512: a seventh of the weights (size budget) and of the CPU per step.
    # Held-out loss is lowest near step 7000 on this 205-song subset.
    'performance_with_dynamics': dict(
        family='performance_rnn', config='performance_with_dynamics', data='pop909_piano',
        hparams='batch_size=32,rnn_layer_sizes=[256,256]', steps=7000,
        status='the checkpoint with the lowest held-out loss of those evaluated (2.491 at '
               'step 6864; 2.494 at 7696 and 2.503 at 8721, while training loss fell to '
               'about 1.8): the 205 training songs are what limits it; more of POP909\'s '
               'songs are the next step.'),
    # MusicVAE: smaller batches, and a KL weight that reaches its maximum within the run (the
    # original's beta_rate=0.99999 needs ~300k steps to get there, and without it samples
    # from the prior are far from the codes the decoder learned).
    'cat-mel_2bar_small': dict(family='music_vae', config='cat-mel_2bar_small',
                               data='pop909_melody',
                               hparams='batch_size=64,beta_rate=0.999', steps=20000),
    'cat-drums_2bar_small': dict(family='music_vae', config='cat-drums_2bar_small',
                                 data='groove', hparams='batch_size=64,beta_rate=0.999',
                                 steps=20000),
    'groovae_2bar_humanize': dict(family='music_vae', config='groovae_2bar_humanize',
                                  data='groove', hparams='batch_size=64,beta_rate=0.999',
                                  steps=20000),
}

SEQUENCE_EXAMPLE_STEMS = {'melody_rnn': ('training_melodies', 'eval_melodies'),
                          'drums_rnn': ('training_drum_tracks', 'eval_drum_tracks'),
                          'performance_rnn': ('training_performances', 'eval_performances')}


def log(message: str) -> None:
    print(time.strftime('%H:%M:%S'), message, flush=True)


# ---- prepare -------------------------------------------------------------------------------

def _keep_tracks(sequence, names: set[str]):
    """The sequence with only the notes (and controls) of the instruments named `names`."""
    from magenta_rnn.protobuf import music_pb2
    keep = {info.instrument for info in sequence.instrument_infos if info.name.upper() in names}
    result = music_pb2.NoteSequence()
    result.CopyFrom(sequence)
    for field in ('notes', 'pitch_bends', 'control_changes'):
        kept = [item for item in getattr(sequence, field) if item.instrument in keep]
        result.ClearField(field)
        getattr(result, field).extend(kept)
    result.ClearField('instrument_infos')
    result.instrument_infos.extend(i for i in sequence.instrument_infos if i.instrument in keep)
    result.total_time = max((n.end_time for n in result.notes), default=0.0)
    return result


def _write_note_sequences(path: str, sequences) -> int:
    from magenta_rnn import records
    tmp = path + '.tmp'
    count = records.write_records(tmp, (s.SerializeToString() for s in sequences))
    os.replace(tmp, path)
    return count


def _pop909_sequences(track: str, held_out: bool, every: int = 1):
    """Songs whose number is a multiple of 10 are held out; of the others, every `every`th."""
    from magenta_rnn.music import midi_io
    root = os.path.join(DATA, 'pop909', 'POP909')
    kept = 0
    for song in sorted(os.listdir(root)):
        if not song.isdigit() or (int(song) % 10 == 0) != held_out:
            continue
        kept += 1
        if (kept - 1) % every:
            continue
        path = os.path.join(root, song, song + '.mid')
        sequence = _keep_tracks(midi_io.midi_file_to_note_sequence(path), {track})
        # POP909's files declare 1/4 (most), 2/4 or 4/4 bars, an artefact of their export: the
        # songs are in 4/4, and 1/4 bars would split melodies at every one-beat rest and
        # rule out 2-bar MusicVAE windows.
        sequence.ClearField('time_signatures')
        sequence.time_signatures.add(time=0.0, numerator=4, denominator=4)
        sequence.id = f'pop909/{song}/{track}'
        sequence.filename = f'{song}.mid'
        sequence.collection_name = 'pop909'
        if sequence.notes:
            yield sequence


def _groove_sequences(split: str):
    from magenta_rnn.music import midi_io
    root = os.path.join(DATA, 'groove')
    with open(os.path.join(root, 'info.csv'), newline='') as f:
        rows = [row for row in csv.DictReader(f) if row['split'] == split]
    for row in rows:
        sequence = midi_io.midi_file_to_note_sequence(os.path.join(root, row['midi_filename']))
        sequence.id = 'groove/' + row['id']
        sequence.filename = row['midi_filename']
        sequence.collection_name = 'groove'
        yield sequence


NOTE_SEQUENCE_SETS = {
    'pop909_melody': (lambda: _pop909_sequences('MELODY', False),
                      lambda: _pop909_sequences('MELODY', True)),
    # Performance SequenceExamples are large (a 388-wide one-hot row per 10 ms event): a
    # quarter of the songs keeps them near a gigabyte.
    'pop909_piano': (lambda: _pop909_sequences('PIANO', False, every=4),
                     lambda: _pop909_sequences('PIANO', True)),
    'groove': (lambda: _groove_sequences('train'), lambda: _groove_sequences('validation')),
}


def note_sequence_paths(data: str) -> tuple[str, str]:
    """(train, held-out) NoteSequence TFRecords of a data set."""
    return (os.path.join(RUNS, 'data', f'{data}_train.tfrecord'),
            os.path.join(RUNS, 'data', f'{data}_eval.tfrecord'))


def sequence_example_paths(name: str) -> tuple[str, str]:
    """(train, held-out) SequenceExample TFRecords of an events model."""
    spec = MODELS[name]
    train_stem, eval_stem = SEQUENCE_EXAMPLE_STEMS[spec['family']]
    directory = os.path.join(RUNS, 'data', name)
    return (os.path.join(directory, train_stem + '.tfrecord'),
            os.path.join(directory, eval_stem + '.tfrecord'))


def _chain_builder(family: str, config_name: str, unaugmented: bool):
    import functools
    model = _events_model(family)
    config = model.load_config(config_name)
    if unaugmented:  # Performance RNN: no 35x stretch/transpose copies (disk and time).
        return functools.partial(_eval_chain, model.build_chain, config)
    return functools.partial(model.build_chain, config)


def _eval_chain(build_chain, config, unused_mode):
    return build_chain(config, 'eval')


def _events_model(family: str):
    if family == 'melody_rnn':
        from magenta_rnn.melody import MELODY_RNN
        return MELODY_RNN
    if family == 'drums_rnn':
        from magenta_rnn.drums import DRUMS_RNN
        return DRUMS_RNN
    from magenta_rnn.performance import PERFORMANCE_RNN
    return PERFORMANCE_RNN


# Training examples are cut into windows of this many steps: a step then costs a quarter of
# one over whole 512-step tracks (4x the updates per CPU hour) and the LSTM still sees
# contexts as long as the 128-step outputs the defaults generate. Held-out examples stay whole.
TRAINING_WINDOW_STEPS = 128
PERFORMANCE_WINDOW_STEPS = 256  # 10 ms steps: a few seconds of context
MIN_WINDOW_STEPS = 32


def cut_into_windows(source: str, target: str, window_steps: int = TRAINING_WINDOW_STEPS) -> int:
    """Writes every SequenceExample of `source` as consecutive windows of at most
    window_steps steps (a shorter last window kept if >= MIN_WINDOW_STEPS)."""
    from magenta_rnn import records
    from magenta_rnn.protobuf import example_pb2

    def windows():
        for record in records.read_records(source):
            example = example_pb2.SequenceExample.FromString(record)
            lists = example.feature_lists.feature_list
            length = len(lists['labels'].feature)
            for start in range(0, length, window_steps):
                stop = min(start + window_steps, length)
                if stop - start < MIN_WINDOW_STEPS and start > 0:
                    break
                window = example_pb2.SequenceExample()
                for key, feature_list in lists.items():
                    window.feature_lists.feature_list[key].feature.extend(
                        feature_list.feature[start:stop])
                yield window.SerializeToString()

    tmp = target + '.tmp'
    count = records.write_records(tmp, windows())
    os.replace(tmp, target)
    return count


def prepare(name: str) -> None:
    spec = MODELS[name]
    os.makedirs(os.path.join(RUNS, 'data'), exist_ok=True)
    for path, make in zip(note_sequence_paths(spec['data']), NOTE_SEQUENCE_SETS[spec['data']]):
        if not os.path.exists(path):
            log(f'writing {path}')
            log(f'{_write_note_sequences(path, make())} NoteSequences in {path}')
    if spec['family'] == 'music_vae':
        return
    from magenta_rnn.pipelines.dataset import run_dataset_pipeline
    model = _events_model(spec['family'])
    build = _chain_builder(spec['family'], spec['config'],
                           unaugmented=spec['family'] == 'performance_rnn')
    for source, target in zip(note_sequence_paths(spec['data']), sequence_example_paths(name)):
        if os.path.exists(target):
            continue
        tmp_dir = os.path.dirname(target) + '.tmp'
        is_eval = source.endswith('_eval.tfrecord')
        summary = run_dataset_pipeline(source, tmp_dir, model.dataset_names, build,
                                       eval_ratio=1.0 if is_eval else 0.0, seed=0, workers=1)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        produced = os.path.join(tmp_dir, model.dataset_names['eval' if is_eval else 'training']
                                + '.tfrecord')
        if is_eval:
            os.replace(produced, target)
        else:
            window = (PERFORMANCE_WINDOW_STEPS if spec['family'] == 'performance_rnn'
                      else TRAINING_WINDOW_STEPS)
            log(f'{cut_into_windows(produced, target, window)} training windows -> {target}')
        log(f'{summary.outputs} examples -> {target}')
    for tmp_dir in {os.path.dirname(p) + '.tmp' for p in sequence_example_paths(name)}:
        if os.path.isdir(tmp_dir):
            for leftover in os.listdir(tmp_dir):
                os.remove(os.path.join(tmp_dir, leftover))
            os.rmdir(tmp_dir)


# ---- train / eval --------------------------------------------------------------------------

def _trainer_env() -> dict[str, str]:
    env = dict(os.environ, TF_NUM_INTRAOP_THREADS='1', TF_NUM_INTEROP_THREADS='1',
               TF_CPP_MIN_LOG_LEVEL='2', PYTHONPATH=REPO, CUDA_VISIBLE_DEVICES='')
    return env


def _run_logged(command: list[str], log_path: str) -> None:
    log(f'running (log: {log_path}): {" ".join(command)}')
    with open(log_path, 'a') as log_file:
        log_file.write(f'\n==== {time.strftime("%Y-%m-%d %H:%M:%S")} {" ".join(command)}\n')
        log_file.flush()
        result = subprocess.run(command, stdout=log_file,
                                stderr=subprocess.STDOUT, env=_trainer_env(), check=False)
    if result.returncode:
        raise SystemExit(f'{command[2]} failed with exit code {result.returncode}; see {log_path}')


def run_dir(name: str) -> str:
    return os.path.join(RUNS, name)


def train_command(name: str, steps: int, evaluate: bool = False) -> list[str]:
    spec = MODELS[name]
    python = sys.executable
    if spec['family'] == 'music_vae':
        train_path, eval_path = note_sequence_paths(spec['data'])
        command = [python, '-m', 'magenta_rnn.music_vae.train', f'--config={vae_training_config(name)}',
                   f'--run_dir={run_dir(name)}', f'--num_steps={steps}',
                   f'--hparams={spec["hparams"]}', '--seed=1']
        if evaluate:
            return command + ['--mode=eval', f'--examples_path={eval_path}']
        return command + ['--mode=train', f'--examples_path={train_path}',
                          '--checkpoints_to_keep=3', '--save_checkpoint_secs=300']
    train_path, eval_path = sequence_example_paths(name)
    module = {'melody_rnn': 'melody', 'drums_rnn': 'drums',
              'performance_rnn': 'performance'}[spec['family']]
    command = [python, '-m', f'magenta_rnn.{module}.train', f'--config={spec["config"]}',
               f'--run_dir={run_dir(name)}', f'--hparams={spec["hparams"]}',
               f'--num_training_steps={steps}', '--seed=1']
    if evaluate:
        return command + ['--eval', f'--sequence_example_file={eval_path}']
    return command + [f'--sequence_example_file={train_path}', '--num_checkpoints=3']


# The original keeps at most 5 random 2-bar windows of each song, fixed for the whole run
# (its dataset is cached after conversion); with a few hundred songs that is too little data.
VAE_WINDOWS_PER_SEQUENCE = 20


def vae_training_config(name: str) -> str:
    """The package's config with more windows per NoteSequence (the model is unchanged)."""
    from magenta_rnn.music_vae import configs
    data = json.loads(configs.config_path(MODELS[name]['config']).read_text())
    data['data_converter']['max_tensors_per_notesequence'] = VAE_WINDOWS_PER_SEQUENCE
    path = os.path.join(run_dir(name), 'training_config.json')
    os.makedirs(run_dir(name), exist_ok=True)
    with open(path, 'w') as f:
        json.dump(data, f, indent=2)
    return path


def train(name: str, steps: int) -> None:
    os.makedirs(run_dir(name), exist_ok=True)
    _run_logged(train_command(name, steps), os.path.join(run_dir(name), 'train.log'))


# ---- eval ----------------------------------------------------------------------------------

def _events_setup(name: str):
    """(events model, config with the training hparams, encoder)."""
    spec = MODELS[name]
    model = _events_model(spec['family'])
    config = model.load_config(spec['config'], spec['hparams'])
    return model, config, model.build_encoder(config)


def snapshot_dir(name: str) -> str:
    """A run dir holding the one checkpoint that is evaluated, exported and described
    (the training run goes on writing newer ones beside it)."""
    return os.path.join(run_dir(name), 'snapshot')


def take_snapshot(name: str) -> None:
    """Copies the run's latest checkpoint (model and step; the trainer's files) to the snapshot."""
    import shutil
    import tensorflow as tf
    prefix = tf.train.latest_checkpoint(os.path.join(run_dir(name), 'train'))
    if prefix is None:
        raise SystemExit(f'{name}: no checkpoint in {run_dir(name)}/train yet')
    target = os.path.join(snapshot_dir(name), 'train')
    shutil.rmtree(snapshot_dir(name), ignore_errors=True)
    os.makedirs(target)
    for suffix in ('.index', '.data-00000-of-00001'):
        shutil.copy2(prefix + suffix, target)
    with open(os.path.join(target, 'checkpoint'), 'w') as f:
        f.write(f'model_checkpoint_path: "{os.path.basename(prefix)}"\n')
    log(f'{name}: snapshot of {prefix}')


def latest_checkpoint(name: str) -> tuple[str, int]:
    """(prefix, step) of the snapshot's checkpoint (eval takes the snapshot)."""
    import tensorflow as tf
    prefix = tf.train.latest_checkpoint(os.path.join(snapshot_dir(name), 'train'))
    if prefix is None:
        raise SystemExit(f'{name}: no snapshot; run --stage=eval first')
    return prefix, int(prefix.rsplit('-', 1)[1])


def evaluate(name: str) -> dict:
    """Held-out loss and accuracy of the latest checkpoint; saved to <run_dir>/eval.json."""
    spec = MODELS[name]
    take_snapshot(name)
    prefix, step = latest_checkpoint(name)
    if spec['family'] == 'music_vae':
        figures = _music_vae_reconstruction(name, prefix)
    else:
        from magenta_rnn.rnn import train as train_lib
        from magenta_rnn.rnn.cli import encoder_facts
        from magenta_rnn.rnn.model import build_events_rnn
        from magenta_rnn.records import count_records
        _, config, encoder = _events_setup(name)
        eval_path = sequence_example_paths(name)[1]
        # One batch may hold the whole held-out set (Groove's gives 44 drum tracks).
        hparams = config.hparams
        hparams.batch_size = min(hparams.batch_size, count_records(eval_path))
        results = train_lib.run_eval(
            build_events_rnn, hparams, eval_path, snapshot_dir(name),
            once=True, **{k: v for k, v in encoder_facts(encoder).items()
                          if k in ('input_size', 'num_classes', 'default_event_label',
                                   'class_num_steps', 'input_depth', 'one_hot_width')})
        metrics = results[-1][1]
        figures = {'loss': metrics['loss'], 'perplexity': metrics['metrics/perplexity'],
                   'accuracy': metrics['metrics/accuracy'],
                   'event_accuracy': metrics['metrics/event_accuracy']}
    figures['step'] = step
    with open(os.path.join(run_dir(name), 'eval.json'), 'w') as f:
        json.dump(figures, f, indent=1)
    log(f'{name} held-out at step {step}: {figures}')
    return figures


def _music_vae_model(name: str, checkpoint: str, batch_size: int = 64):
    from magenta_rnn.music_vae import configs, trained_model
    spec = MODELS[name]
    config = configs.load_config(spec['config'], spec['hparams'])
    return trained_model.TrainedModel(config, batch_size, checkpoint, seed=0)


def _music_vae_held_out(name: str, converter, limit: int = 2000):
    """(inputs, outputs, lengths) of the held-out windows (the eval converter's, at most limit)."""
    from magenta_rnn import records
    converter.set_mode('eval')
    inputs, outputs, lengths = [], [], []
    for sequence in records.read_note_sequences(note_sequence_paths(MODELS[name]['data'])[1]):
        for x, y, _, length in converter.to_tensors(sequence).examples():
            inputs.append(x)
            outputs.append(y)
            lengths.append(int(length))
    return inputs[:limit], outputs[:limit], lengths[:limit]


def _targets(name: str, outputs) -> list:
    """Per-step classes to compare: one-hot argmax, or for GrooVAE the 9 hit bits."""
    if MODELS[name]['config'].startswith('groovae'):
        return [(np.asarray(y)[:, :9] > 0.5) for y in outputs]
    return [np.argmax(y, -1) for y in outputs]


def _music_vae_reconstruction(name: str, checkpoint: str) -> dict:
    """Teacher-forced and sampled (argmax from z = mu) reconstruction accuracy."""
    model = _music_vae_model(name, checkpoint)
    inputs, outputs, lengths = _music_vae_held_out(name, model.config.make_data_converter())
    targets = _targets(name, outputs)
    valid = sum(lengths)
    figures = {'examples': len(inputs)}
    # Teacher-forced: the trainer's own eval pass (loss, KL, per-step accuracy).
    from magenta_rnn.music_vae import configs
    from magenta_rnn.music_vae import train as vae_train
    config = configs.load_config(vae_training_config(name), MODELS[name]['hparams'])
    metrics = vae_train.evaluate(config, snapshot_dir(name), [note_sequence_paths(
        MODELS[name]['data'])[1]], num_batches=None, seed=0)
    figures.update(teacher_forced_accuracy=metrics['metrics/accuracy'],
                   loss=metrics['loss'], r_loss=metrics['losses/r_loss'],
                   kl_bits=metrics['losses/kl_bits'])
    _, mu, _ = model.encode_tensors(inputs, lengths)
    decoded = model.decode_to_tensors(mu, length=model.config.hparams.max_seq_len,
                                      temperature=1e-6)
    decoded_targets = _targets(name, decoded)
    same = sum(int(np.all(d[:n] == t[:n], axis=tuple(range(1, t.ndim))).sum())
               for d, t, n in zip(decoded_targets, targets, lengths))
    figures['sampled_accuracy'] = same / valid
    return figures


# ---- export --------------------------------------------------------------------------------

DATA_DESCRIPTIONS = {
    'pop909_melody': 'POP909 (MIT licence), MELODY tracks of the 819 songs whose number is not '
                     'a multiple of 10',
    'pop909_piano': 'POP909 (MIT licence), PIANO tracks of every 4th of the 819 songs whose '
                    'number is not a multiple of 10 (205 songs)',
    'groove': 'Groove MIDI Dataset v1.0.0 (CC BY 4.0, Google LLC), its train split (897 files)',
}
HELD_OUT_DESCRIPTIONS = {
    'pop909_melody': 'POP909 MELODY tracks of the 90 songs whose number is a multiple of 10',
    'pop909_piano': 'POP909 PIANO tracks of the 90 songs whose number is a multiple of 10',
    'groove': 'Groove MIDI Dataset validation split (124 files)',
}
HARDWARE = ('a shared 2-core x86-64 VM (no GPU), one intra-op and one inter-op '
            'thread, beside other developers\' jobs')


def package_dir(name: str) -> str:
    spec = MODELS[name]
    return os.path.join(REPO, 'magenta_rnn', 'default_models', spec['family'], spec['config'])


_TRAINER_LINE = re.compile(r'[IWE](\d\d)(\d\d) (\d\d):(\d\d):(\d\d)\.\d+ .*'
                           r'(?:Global Step: |global_step = )(\d+)')


def training_hours(log_path: str, step: int) -> float:
    """Hours the trainer ran to reach `step`: per trainer start in the run's train.log (its
    `==== <date> <command>` line) until its last progress line, the one reaching `step` at
    most. Pauses between restarts (a run resumed hours later) do not count."""
    import datetime
    total = 0.0
    started = last = None
    with open(log_path) as f:
        for line in f:
            if line.startswith('==== '):
                if started and last:
                    total += (last - started).total_seconds()
                started = datetime.datetime.strptime(line[5:24], '%Y-%m-%d %H:%M:%S')
                last = None
                continue
            match = _TRAINER_LINE.match(line)
            if match and started:
                month, day, hour, minute, second, line_step = map(int, match.groups())
                last = datetime.datetime(started.year, month, day, hour, minute, second)
                if line_step >= step:
                    break
    if started and last:
        total += (last - started).total_seconds()
    return total / 3600


def _training_facts(name: str, prefix: str, step: int) -> dict:
    return {'data': DATA_DESCRIPTIONS[MODELS[name]['data']], 'steps': step,
            'hparams': MODELS[name]['hparams'],
            'wall_clock_hours': round(training_hours(
                os.path.join(run_dir(name), 'train.log'), step), 2),
            'hardware': HARDWARE, 'recipe': f'python scripts/train_default_models.py {name}'}


def _greedy_primers(family: str) -> list:
    if family == 'melody_rnn':
        from magenta_rnn.melody.generator import Melody
        return [Melody([pitch]) for pitch in (60, 62, 64, 65, 67, 69, 71, 72)]
    from magenta_rnn.drums.generator import DrumTrack
    return [DrumTrack([frozenset(hit)]) for hit in ((36,), (38,), (42,), (36, 42), (46,))]


def _performance_greedy_outputs(config):
    from magenta_rnn.default_models import export as export_lib
    from magenta_rnn.performance import generator
    from magenta_rnn.performance.model import setup
    from magenta_rnn.rnn.numpy_stepper import NumpyStepper

    encoder = _events_model('performance_rnn').build_encoder(config)
    primers = [generator.empty_primer(), generator.parse_primer_melody('[60, -2, 64, -2, 67]')]

    def outputs(values):
        network = export_lib.frozen_events_rnn(values, config, encoder)
        request = generator.GenerateRequest(temperature=export_lib.GREEDY_TEMPERATURE)
        result = []
        for primer in primers:
            for sequence in generator.generate_performances(
                    NumpyStepper(network), setup(config), primer, primer.total_time, 5.0, 1,
                    request, rng=np.random.default_rng(0)):
                result.append([(n.pitch, n.velocity, round(n.start_time, 4), round(n.end_time, 4))
                               for n in sequence.notes])
        return result
    return outputs


def export(name: str) -> str:
    """Writes the latest checkpoint into the package; returns the storage chosen."""
    from magenta_rnn.default_models import export as export_lib
    spec = MODELS[name]
    prefix, step = latest_checkpoint(name)
    training = _training_facts(name, prefix, step)
    if spec['family'] == 'music_vae':
        storage = _export_music_vae(name, prefix, training)
    else:
        from magenta_rnn.rnn import model_io
        from magenta_rnn.rnn.cli import encoder_facts
        _, config, encoder = _events_setup(name)
        facts = encoder_facts(encoder)
        network = model_io.load_trained(config, prefix, facts['input_size'],
                                        facts['num_classes'], facts['input_depth'])
        if spec['family'] == 'performance_rnn':
            greedy = _performance_greedy_outputs(config)
        else:
            greedy = export_lib.events_greedy_outputs(config, encoder,
                                                      _greedy_primers(spec['family']), 128)
        storage = export_lib.export_events_rnn(package_dir(name), model_io.export_values(network),
                                               config, greedy, training)
    log(f'{name}: exported step {step} as {storage} to {package_dir(name)}')
    return storage


def _export_music_vae(name: str, prefix: str, training: dict) -> str:
    import tempfile
    from magenta_rnn.default_models import export as export_lib
    from magenta_rnn.music_vae.trained_model import tf1_variable_map

    model = _music_vae_model(name, prefix, batch_size=8)
    values = {k: v.numpy() for k, v in tf1_variable_map(model.model).items()}
    inputs, _, lengths = _music_vae_held_out(name, model.config.make_data_converter(), limit=64)
    z = np.random.default_rng(0).standard_normal((16, model.config.hparams.z_size))

    def greedy(weights):
        with tempfile.TemporaryDirectory() as directory:
            path = os.path.join(directory, 'weights.npz')
            np.savez(path, **weights)
            candidate = _music_vae_model(name, path, batch_size=8)
            _, mu, _ = candidate.encode_tensors(inputs, lengths)
            decoded = [candidate.decode_to_tensors(codes, length=candidate.config.hparams.max_seq_len,
                                                   temperature=1e-6) for codes in (z, mu)]
        return [np.asarray(_targets(name, d)).tolist() for d in decoded]

    storage = export_lib.choose_storage(values, greedy)
    export_lib.write_default(package_dir(name), values, storage,
                             {'config': MODELS[name]['config'], 'hparams': MODELS[name]['hparams'],
                              'training': training})
    return storage


# ---- card ----------------------------------------------------------------------------------

NUM_GENERATED = 100
MELODY_METRICS = ('pitch_range', 'notes_per_bar', 'scale_consistency', 'empty_bar_rate')
DRUM_METRICS = ('hits_per_bar', 'empty_bar_rate')
PERFORMANCE_METRICS = ('notes_per_second', 'velocity_spread', 'pitch_range',
                       'scale_consistency')
GENERATION = {  # what the 100 outputs of each card are, as a command
    'basic_rnn': 'melody_rnn_generate --config=basic_rnn --num_outputs=100 --num_steps=128 --seed=0',
    'attention_rnn': 'melody_rnn_generate --config=attention_rnn --num_outputs=100 '
                     '--num_steps=128 --seed=0',
    'drum_kit': 'drums_rnn_generate --config=drum_kit --num_outputs=100 --num_steps=128 --seed=0',
    'performance_with_dynamics': 'performance_rnn_generate --config=performance_with_dynamics '
                                 '--num_outputs=100 --num_steps=1000 --seed=0',
    'cat-mel_2bar_small': 'music_vae_generate --config=cat-mel_2bar_small --mode=sample '
                          '--num_outputs=100 --temperature=0.5 --seed=0',
    'cat-drums_2bar_small': 'music_vae_generate --config=cat-drums_2bar_small --mode=sample '
                            '--num_outputs=100 --temperature=0.5 --seed=0',
    'groovae_2bar_humanize': 'music_vae_generate --config=groovae_2bar_humanize --mode=sample '
                             '--num_outputs=100 --temperature=0.5 --seed=0',
}


def _metric_names(name: str) -> tuple[str, ...]:
    spec = MODELS[name]
    if spec['family'] == 'performance_rnn':
        return PERFORMANCE_METRICS
    if spec['family'] == 'drums_rnn' or spec['config'] in ('cat-drums_2bar_small',
                                                          'groovae_2bar_humanize'):
        return DRUM_METRICS + (('velocity_spread',) if spec['config'].startswith('groovae') else ())
    return MELODY_METRICS


def _generated(name: str) -> list:
    """The 100 outputs of the card's command, made through the shipped default."""
    import magenta_rnn
    spec = MODELS[name]
    if spec['family'] == 'melody_rnn':
        return magenta_rnn.generate_melodies(num_outputs=NUM_GENERATED, num_steps=128, seed=0,
                                             config=spec['config'])
    if spec['family'] == 'drums_rnn':
        return magenta_rnn.generate_drum_tracks(num_outputs=NUM_GENERATED, num_steps=128,
                                                seed=0, config=spec['config'])
    if spec['family'] == 'performance_rnn':
        return magenta_rnn.generate_performances(num_outputs=NUM_GENERATED, seconds=10.0,
                                                 seed=0, config=spec['config'])
    return magenta_rnn.music_vae_sample(spec['config'], num_outputs=NUM_GENERATED,
                                        temperature=0.5, seed=0)


def _window(sequence, start: float, seconds: float):
    from magenta_rnn.protobuf import music_pb2
    window = music_pb2.NoteSequence()
    window.tempos.extend(sequence.tempos[:1])
    if window.tempos:
        window.tempos[0].time = 0.0
    window.time_signatures.add(numerator=4, denominator=4)
    for note in sequence.notes:
        if start <= note.start_time < start + seconds:
            window.notes.add().CopyFrom(note)
            copy = window.notes[-1]
            copy.start_time -= start
            copy.end_time = min(note.end_time, start + seconds) - start
    window.total_time = seconds
    return window


def _held_out(name: str, limit: int = 2000) -> list:
    """Held-out music cut as the generated outputs are: 8 bars (events RNNs, at the
    sequence's tempo), 10 s (performances), or the MusicVAE converter's own windows."""
    from magenta_rnn import records
    from magenta_rnn.music import metrics
    spec = MODELS[name]
    if spec['family'] == 'music_vae':
        model_converter = _music_vae_converter(name)
        _, outputs, _ = _music_vae_held_out(name, model_converter, limit)
        return model_converter.from_tensors(np.asarray(outputs))
    windows = []
    for sequence in records.read_note_sequences(note_sequence_paths(spec['data'])[1]):
        if not sequence.notes:
            continue
        seconds = 10.0 if spec['family'] == 'performance_rnn' else 8 * metrics.bar_seconds(sequence)
        start = min(n.start_time for n in sequence.notes)
        end = max(n.end_time for n in sequence.notes)
        while start + seconds <= end:
            window = _window(sequence, start, seconds)
            if window.notes:
                windows.append(window)
            start += seconds
    return windows[:limit]


def _music_vae_converter(name: str):
    from magenta_rnn.music_vae import configs
    return configs.load_config(MODELS[name]['config']).make_data_converter()


def _statistics(name: str, sequences: list) -> dict:
    """{metric: (mean, standard deviation)} over the sequences (NaNs left out)."""
    from magenta_rnn.music import metrics
    result = {}
    for metric in _metric_names(name):
        values = np.array([getattr(metrics, metric)(s) for s in sequences], float)
        values = values[~np.isnan(values)]
        result[metric] = (float(values.mean()), float(values.std())) if values.size else (
            float('nan'), float('nan'))
    return result


def card(name: str) -> dict:
    """Statistics of 100 generated outputs next to held-out data; writes MODEL_CARD.md."""
    with open(os.path.join(run_dir(name), 'eval.json')) as f:
        held_out_figures = json.load(f)
    with open(os.path.join(package_dir(name), 'model.json')) as f:
        shipped = json.load(f)
    generated = _generated(name)
    held_out = _held_out(name)
    figures = {'generated': _statistics(name, generated), 'held_out': _statistics(name, held_out),
               'num_generated': len(generated), 'num_held_out_windows': len(held_out),
               'eval': held_out_figures, 'storage': shipped['storage'],
               'training': shipped['training']}
    with open(os.path.join(run_dir(name), 'card.json'), 'w') as f:
        json.dump(figures, f, indent=1)
    _write_card(name, figures)
    from magenta_rnn.default_models import export as export_lib
    card_figures = {key: figures[key] for key in ('eval', 'generated', 'held_out')}
    shipped['card'] = card_figures
    export_lib.write_model_json(package_dir(name), shipped)
    log(f'{name}: card written; {json.dumps(figures)}')
    return figures


def _write_card(name: str, figures: dict) -> None:
    spec = MODELS[name]
    training = figures['training']
    ev = figures['eval']
    if spec['family'] == 'music_vae':
        held = (f'teacher-forced accuracy {ev["teacher_forced_accuracy"]:.3f}, sampled (argmax '
                f'from z = mu) accuracy {ev["sampled_accuracy"]:.3f}, loss {ev["loss"]:.3f} '
                f'(r_loss {ev["r_loss"]:.3f}, KL {ev["kl_bits"]:.2f} bits) over '
                f'{ev["examples"]} windows')
    else:
        held = (f'loss {ev["loss"]:.3f} (perplexity {ev["perplexity"]:.2f}), accuracy '
                f'{ev["accuracy"]:.3f}, event accuracy {ev["event_accuracy"]:.3f}')
    rows = '\n'.join(
        f'| {metric} | {figures["generated"][metric][0]:.3f} ± {figures["generated"][metric][1]:.3f}'
        f' | {figures["held_out"][metric][0]:.3f} ± {figures["held_out"][metric][1]:.3f} |'
        for metric in _metric_names(name))
    licence = ('Groove MIDI Dataset by Jon Gillick, Adam Roberts, Jesse Engel, Mark Sandler and '
               'Google LLC, CC BY 4.0 (https://creativecommons.org/licenses/by/4.0/); the '
               'weights are a work derived from it' if spec['data'] == 'groove' else
               'POP909 by Ziyu Wang, Ke Chen, Junyan Jiang et al., MIT licence')
    hparams = spec['hparams'] or "(the config's own)"
    storage = figures['storage'] + (" (its greedy outputs equal the float32 model's)"
                                    if figures['storage'] == 'float16' else '')
    status = spec.get('status') or (
        f'early in training ({training["steps"]} of the {spec["steps"]} steps this recipe '
        f'aims at, on a CPU shared with other jobs): compare the statistics below with the '
        f'held-out ones before relying on it. The run resumes with the recipe command.'
        if training['steps'] < spec['steps'] else f'trained to the recipe\'s {spec["steps"]} steps.')
    text = f"""# {spec['family']} / {spec['config']}: shipped default model

- **Data**: {training['data']}. {licence}.
- **Held out**: {HELD_OUT_DESCRIPTIONS[spec['data']]}.
- **Config**: `{spec['config']}` with hparams `{hparams}`
  (why: see `scripts/train_default_models.py`).
- **Training**: {training['steps']} steps, {training['wall_clock_hours']} h wall clock on
  {training['hardware']}. Retrain: `{training['recipe']}`.
- **Storage**: {storage} weights, no optimizer slots.
- **Held-out figures** (step {ev['step']}): {held}.
- **Status**: {status}

Statistics of {figures['num_generated']} generated outputs
(`{GENERATION[name]}`) next to {figures['num_held_out_windows']} held-out windows cut the same
way (mean ± standard deviation; metrics in `magenta_rnn/music/metrics.py`, MusPy's
definitions where MusPy has one):

| metric | generated | held out |
|---|---|---|
{rows}
"""
    with open(os.path.join(package_dir(name), 'MODEL_CARD.md'), 'w') as f:
        f.write(text)


def readme_table() -> str:
    """The README's table of shipped defaults, from the package's model.json files."""
    from magenta_rnn import default_models
    rows = ['| model / config | data | steps | held-out | generated vs held-out |',
            '|---|---|---|---|---|']
    for name, spec in MODELS.items():
        path = os.path.join(package_dir(name), default_models.MODEL_FILE)
        if not os.path.exists(path):
            continue
        with open(path) as f:
            data = json.load(f)
        card_figures = data.get('card')
        if not card_figures:
            continue
        ev = card_figures['eval']
        if spec['family'] == 'music_vae':
            held = (f'accuracy {ev["teacher_forced_accuracy"]:.2f} teacher-forced, '
                    f'{ev["sampled_accuracy"]:.2f} sampled')
        else:
            held = f'loss {ev["loss"]:.2f}, accuracy {ev["accuracy"]:.2f}'
        stats = '; '.join(
            f'{metric.replace("_", " ")} {card_figures["generated"][metric][0]:.2f} vs '
            f'{card_figures["held_out"][metric][0]:.2f}' for metric in _metric_names(name))
        data_name = 'Groove (CC BY 4.0)' if spec['data'] == 'groove' else 'POP909 (MIT)'
        rows.append(f'| [{spec["family"]} / {spec["config"]}](magenta_rnn/default_models/'
                    f'{spec["family"]}/{spec["config"]}/MODEL_CARD.md) | {data_name} | '
                    f'{data["training"]["steps"]} | {held} | {stats} |')
    return '\n'.join(rows)


STAGES = ('prepare', 'train', 'eval', 'export', 'card')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    if sys.argv[1:] == ['--readme_table']:
        print(readme_table())
        return
    parser.add_argument('model', choices=sorted(MODELS))
    parser.add_argument('--stage', choices=STAGES + ('all',), default='all')
    parser.add_argument('--steps', type=int, default=None,
                        help='global step to train up to (default: the model\'s own)')
    args = parser.parse_args()
    os.nice(15)  # the machine is shared: everything here, trainers included, runs at nice 15
    steps = args.steps or MODELS[args.model]['steps']
    stages = STAGES if args.stage == 'all' else (args.stage,)
    for stage in stages:
        log(f'{args.model}: {stage}')
        if stage == 'prepare':
            prepare(args.model)
        elif stage == 'train':
            train(args.model, steps)
        elif stage == 'eval':
            evaluate(args.model)
        elif stage == 'export':
            export(args.model)
        elif stage == 'card':
            card(args.model)


if __name__ == '__main__':
    main()
