"""Retrains the default models shipped in magenta_rnn/default_models, in one command each.

    python scripts/train_default_models.py basic_rnn            # prepare, train, evaluate, export
    python scripts/train_default_models.py basic_rnn --stage=train --steps=3000

Stages (default: all, in this order; each one is skipped or resumed when its output exists):
  prepare  NoteSequences from ../shared/data (only data whose licence allows shipping the
           weights: POP909, MIT; Groove, CC BY 4.0), held-out splits kept apart, and the
           SequenceExamples of the events models.
  train    the model's trainer under `nice -n 15` with one intra-op and one inter-op thread;
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
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

DATA = os.path.join(REPO, '..', 'shared', 'data')
RUNS = os.environ.get('DEFAULT_RUNS_DIR', '/work/default_runs')

# Each default: its family, config, the hparams we train with, the NoteSequence data it reads
# and the number of steps that is realistic on a shared 2-core CPU in a few hours.
# What one training step costs decides these hparams: the machine is a 2-core CPU shared with
# other jobs, so each run gets a fraction of a core for a few hours. Batches of 64 (32 for
# performances) give more updates per CPU hour; `steps` is a ceiling, the model is exported
# from whatever checkpoint the run has reached and the run can resume later.
MODELS = {
    'basic_rnn': dict(family='melody_rnn', config='basic_rnn', data='pop909_melody',
                      hparams='batch_size=64', steps=20000),
    'attention_rnn': dict(family='melody_rnn', config='attention_rnn', data='pop909_melody',
                          hparams='batch_size=64', steps=20000),
    # 2x128 instead of 3x256: a step over 512-step drum tracks costs a quarter as much.
    'drum_kit': dict(family='drums_rnn', config='drum_kit', data='groove',
                     hparams='batch_size=64,rnn_layer_sizes=[128,128]', steps=20000),
    # 2x256 instead of 3x512: a seventh of the weights (size budget) and of the CPU per step.
    'performance_with_dynamics': dict(family='performance_rnn',
                                      config='performance_with_dynamics', data='pop909_piano',
                                      hparams='batch_size=32,rnn_layer_sizes=[256,256]',
                                      steps=20000),
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


def _pop909_sequences(track: str, held_out: bool):
    from magenta_rnn.music import midi_io
    root = os.path.join(DATA, 'pop909', 'POP909')
    for song in sorted(os.listdir(root)):
        if not song.isdigit() or (int(song) % 10 == 0) != held_out:
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
    'pop909_piano': (lambda: _pop909_sequences('PIANO', False),
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
MIN_WINDOW_STEPS = 32


def cut_into_windows(source: str, target: str) -> int:
    """Writes every SequenceExample of `source` as consecutive windows of at most
    TRAINING_WINDOW_STEPS steps (a shorter last window kept if >= MIN_WINDOW_STEPS)."""
    from magenta_rnn import records
    from magenta_rnn.protobuf import example_pb2

    def windows():
        for record in records.read_records(source):
            example = example_pb2.SequenceExample.FromString(record)
            lists = example.feature_lists.feature_list
            length = len(lists['labels'].feature)
            for start in range(0, length, TRAINING_WINDOW_STEPS):
                stop = min(start + TRAINING_WINDOW_STEPS, length)
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
            log(f'{cut_into_windows(produced, target)} training windows -> {target}')
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
        result = subprocess.run(['nice', '-n', '15'] + command, stdout=log_file,
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


STAGES = ('prepare', 'train')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('model', choices=sorted(MODELS))
    parser.add_argument('--stage', choices=STAGES + ('all',), default='all')
    parser.add_argument('--steps', type=int, default=None,
                        help='global step to train up to (default: the model\'s own)')
    args = parser.parse_args()
    steps = args.steps or MODELS[args.model]['steps']
    stages = STAGES if args.stage == 'all' else (args.stage,)
    for stage in stages:
        log(f'{args.model}: {stage}')
        if stage == 'prepare':
            prepare(args.model)
        elif stage == 'train':
            train(args.model, steps)


if __name__ == '__main__':
    main()
