"""Bundles trained by the original Magenta, loaded by ours: same next-event probabilities?

  PYTHONPATH=$PWD python scripts/compare_trained_bundles_with_peer.py \
      [--work_dir /tmp/peer_trained_bundles] [--configs drum_kit performance_with_dynamics ...]

For each config, in the original's venv (a separate process): convert a few real MIDI
files (../shared/data: groove for drums, asap for performance) with
convert_dir_to_note_sequences, run `*_create_dataset`, train a small model
(`*_train`, small hparams, a few steps) and write a bundle with
`*_generate --save_generator_bundle`. Then, still in the original, the bundle is
loaded as its generator does, a fixed primer is encoded with the original's encoder,
and the `softmax` collection is fetched over the primer and for a few single steps fed
with `final_state`, at two temperatures.

Ours loads the same bundle (magenta_rnn.rnn.v1_import) and is fed the very same input
arrays; the max absolute difference of probabilities must be <= 1e-4. Our own encoder's
inputs for the same primer are compared as well (they must be equal), and our
`*_generate` CLI must generate MIDI from the bundle. Steps whose outputs exist in
--work_dir are skipped (delete it to start over). Exits 1 on any failure.
"""
from __future__ import annotations

import argparse
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from peer import (PEER_VENV, SCRIPTS_DIR, our_env, peer_env, peer_python,
                  shared_data)

TOLERANCE = 1e-4

# config -> (model, data glob under ../shared/data, number of files, --hparams for training)
CONFIGS = {
    'drum_kit': ('drums_rnn', 'groove/drummer1/session1/*.mid', 4,
                 'batch_size=4,rnn_layer_sizes=[16,16],learning_rate=0.05'),
    'performance_with_dynamics': ('performance_rnn', 'asap/Haydn/Keyboard_Sonatas/6-1/*.mid', 2,
                                  'batch_size=4,rnn_layer_sizes=[16,16],learning_rate=0.05'),
    'multiconditioned_performance_with_dynamics': (
        'performance_rnn', 'asap/Haydn/Keyboard_Sonatas/6-1/*.mid', 2,
        'batch_size=4,rnn_layer_sizes=[16],learning_rate=0.05'),
}
# A high learning rate for a few dozen steps: probabilities far from uniform, so a
# wrongly mapped weight could not hide in near-even outputs.
TRAINING_STEPS = 40

# One fixed primer per model, as data both sides turn into their own objects.
DRUM_PRIMER = [[36, 42], [], [42], [], [38, 42], [], [42], [36], [36, 42], [], [42], [],
               [38, 42], [], [42, 46], [], [36, 49], [], [42], [], [38], [], [42], [51]]
# (pitch, velocity, start seconds, end seconds)
PERFORMANCE_PRIMER = [(60, 100, 0.0, 1.0), (64, 80, 0.5, 2.5), (67, 127, 1.0, 1.01),
                      (48, 30, 1.2, 1.9), (72, 64, 1.25, 1.5), (55, 90, 2.0, 3.1),
                      (59, 90, 2.0, 3.1), (62, 90, 2.0, 3.1), (71, 10, 3.3, 3.4)]
SINGLE_STEPS = 6

PEER_PROGRAM = r'''
import json, sys
sys.path.insert(0, SCRIPTS_DIR)
import peer
import numpy as np
import note_seq
from note_seq.protobuf import music_pb2
from magenta.models.shared import sequence_generator_bundle

config_id, bundle_path, primer_json, out_path, single_steps = sys.argv[1:6]
single_steps = int(single_steps)
primer = json.loads(primer_json)
if config_id == 'drum_kit':
    from magenta.models.drums_rnn import drums_rnn_model as model_lib
    from magenta.models.drums_rnn import drums_rnn_sequence_generator as generator_lib
    encoder = model_lib.default_configs[config_id].encoder_decoder
    track = note_seq.DrumTrack([frozenset(step) for step in primer])
    inputs = np.array(encoder.get_inputs_batch([track], full_length=True)[0], np.float32)
else:
    from magenta.models.performance_rnn import performance_model as model_lib
    from magenta.models.performance_rnn import performance_sequence_generator as generator_lib
    config = model_lib.default_configs[config_id]
    encoder = config.encoder_decoder
    sequence = music_pb2.NoteSequence()
    for pitch, velocity, start, end in primer:
        sequence.notes.add(pitch=pitch, velocity=velocity, start_time=start, end_time=end)
    sequence.total_time = max(n.end_time for n in sequence.notes)
    quantized = note_seq.quantize_note_sequence_absolute(sequence, 100)
    performance = note_seq.Performance(quantized, num_velocity_bins=config.num_velocity_bins)
    if config.control_signals:
        controls = list(zip(*[s.extract(performance) for s in config.control_signals]))
        controls.append(controls[-1])  # the control of the next step, one longer than events
        batch = encoder.get_inputs_batch([controls], [performance], full_length=True)
    else:
        batch = encoder.get_inputs_batch([performance], full_length=True)
    inputs = np.array(batch[0], np.float32)

bundle = sequence_generator_bundle.read_bundle_file(bundle_path)
generator = generator_lib.get_generator_map()[bundle.generator_details.id](
    checkpoint=None, bundle=bundle)
result = peer.bundle_softmax_runs(generator, inputs[None], len(inputs) - single_steps)
result['inputs'] = inputs.tolist()
result['primer_length'] = len(inputs) - single_steps
json.dump(result, open(out_path, 'w'))
'''


def peer_tool(name: str, *args: str, log: Path) -> None:
    with open(log, 'a') as f:
        f.write(f'\n$ {name} {" ".join(args)}\n')
        f.flush()
        completed = subprocess.run([peer_python(), str(PEER_VENV / 'bin' / name), *args],
                                   env=peer_env(), stdout=f, stderr=subprocess.STDOUT)
    if completed.returncode != 0:
        sys.exit(f'peer {name} failed (exit {completed.returncode}); see {log}')


def train_peer_bundle(config_id: str, work: Path) -> Path:
    """Creates the dataset, trains and saves the bundle in the original; returns its path."""
    model, data_glob, num_files, hparams = CONFIGS[config_id]
    directory = work / config_id
    bundle = directory / f'{config_id}.mag'
    if bundle.exists():
        return bundle
    log = directory / 'peer.log'
    dataset = directory / 'dataset'
    examples = dataset / ('training_drum_tracks.tfrecord' if model == 'drums_rnn'
                          else 'training_performances.tfrecord')
    if not examples.exists():  # the dataset is kept between runs; the training is not
        if directory.exists():
            shutil.rmtree(directory)
        midi_dir = directory / 'midi'
        midi_dir.mkdir(parents=True)
        files = sorted(glob.glob(str(shared_data() / data_glob)))
        files = [f for f in files if not f.endswith('midi_score.mid')][:num_files]
        if not files:
            sys.exit(f'no MIDI files for {config_id} at {shared_data() / data_glob}')
        for f in files:  # a scratch copy for the original's converter, outside the repo
            shutil.copy(f, midi_dir / Path(f).name)
        records = directory / 'notesequences.tfrecord'
        peer_tool('convert_dir_to_note_sequences', f'--input_dir={midi_dir}',
                  f'--output_file={records}', '--recursive', log=log)
        peer_tool(f'{model}_create_dataset', f'--config={config_id}', f'--input={records}',
                  f'--output_dir={dataset}', '--eval_ratio=0.0', log=log)
    run_dir = directory / 'run'
    if run_dir.exists():
        shutil.rmtree(run_dir)
    peer_tool(f'{model}_train', f'--config={config_id}', f'--run_dir={run_dir}',
              f'--sequence_example_file={examples}', f'--hparams={hparams}',
              f'--num_training_steps={TRAINING_STEPS}', '--summary_frequency=2', log=log)
    save = [f'--run_dir={run_dir}', f'--bundle_file={bundle}', '--save_generator_bundle',
            f'--hparams={hparams}', '--bundle_description=tiny test bundle',
            f'--config={config_id}']
    peer_tool(f'{model}_generate', *save, log=log)
    return bundle


def peer_probabilities(config_id: str, bundle: Path, work: Path) -> dict:
    primer = DRUM_PRIMER if config_id == 'drum_kit' else PERFORMANCE_PRIMER
    out = work / config_id / 'peer_probabilities.json'
    program = work / 'peer_probabilities.py'
    program.write_text(PEER_PROGRAM.replace('SCRIPTS_DIR', repr(SCRIPTS_DIR)))
    completed = subprocess.run(
        [peer_python(), str(program), config_id, str(bundle), json.dumps(primer), str(out),
         str(SINGLE_STEPS)], env=peer_env(), capture_output=True, text=True)
    if completed.returncode != 0:
        sys.exit(f'peer probabilities failed for {config_id}:\n{completed.stderr[-3000:]}')
    return json.loads(out.read_text())


def our_inputs(config_id: str):
    """Our encoder's inputs for the same primer (to compare with the original's)."""
    import numpy as np

    from magenta_rnn.music import sequences
    from magenta_rnn.protobuf import music_pb2

    if config_id == 'drum_kit':
        from magenta_rnn.drums import DRUMS_RNN
        from magenta_rnn.music.drums import DrumTrack
        encoder = DRUMS_RNN.build_encoder(DRUMS_RNN.load_config(config_id))
        track = DrumTrack([frozenset(step) for step in DRUM_PRIMER])
        return np.asarray(encoder.get_inputs_batch([track], full_length=True)[0])
    from magenta_rnn.music.performance_controls import extract_controls
    from magenta_rnn.music.performances import Performance
    from magenta_rnn.performance import PERFORMANCE_RNN
    from magenta_rnn.performance.model import setup
    performance_setup = setup(PERFORMANCE_RNN.load_config(config_id))
    sequence = music_pb2.NoteSequence()
    for pitch, velocity, start, end in PERFORMANCE_PRIMER:
        sequence.notes.add(pitch=pitch, velocity=velocity, start_time=start, end_time=end)
    sequence.total_time = max(n.end_time for n in sequence.notes)
    quantized = sequences.quantize_note_sequence_absolute(sequence, 100)
    performance = Performance(quantized, num_velocity_bins=performance_setup.num_velocity_bins)
    encoder = performance_setup.encoder
    if performance_setup.control_signals:
        controls = extract_controls(performance_setup.control_signals, performance)
        controls.append(controls[-1])
        return np.asarray(encoder.get_inputs_batch([controls], [performance], True)[0])
    return np.asarray(encoder.get_inputs_batch([performance], full_length=True)[0])


def compare(config_id: str, bundle: Path, peer: dict) -> float:
    import numpy as np

    from magenta_rnn.rnn import v1_import
    from magenta_rnn.rnn.model import NumpyStepper

    model, imported, _ = v1_import.load_bundle_model(bundle)
    inputs = np.array(peer['inputs'], np.float32)[None]
    primer = peer['primer_length']
    ours = our_inputs(config_id)
    encoding_diff = float(np.max(np.abs(ours - inputs[0]))) if ours.shape == inputs[0].shape \
        else float('inf')
    print(f'  inputs {list(inputs.shape[1:])} (original graph batch {peer["graph_batch"]}); '
          f'our encoder vs the original\'s: max |diff| {encoding_diff:.1e}')
    worst = encoding_diff
    for run in peer['runs']:
        temp = run['temperature']
        for name, stepper in (('EventsRnn', model), ('NumpyStepper', NumpyStepper(model))):
            probs, state = stepper.step(inputs[:, :primer], stepper.zero_state(1), temp)
            pairs = [(np.asarray(probs)[0], np.array(run['primer'][0]))]
            for k, expected in enumerate(run['steps']):
                t = primer + k
                probs, state = stepper.step(inputs[:, t:t + 1], state, temp)
                pairs.append((np.asarray(probs)[0, 0], np.array(expected[0])))
            diffs = [float(np.max(np.abs(a - b))) for a, b in pairs]
            # Relative too: a briefly trained model's probabilities are small and even.
            relative = max(float(np.max(np.abs(a - b) / b)) for a, b in pairs)
            spread = max(float(b.max() / b.min()) for _, b in pairs)
            print(f'  T={temp} {name}: primer [{primer} steps] max |diff| {diffs[0]:.2e}; '
                  f'{len(diffs) - 1} single steps with state max |diff| {max(diffs[1:]):.2e}; '
                  f'max relative diff {relative:.1e} (max/min probability up to {spread:.0f})')
            worst = max(worst, *diffs)
    print(f'  imported: layers {imported.rnn_layer_sizes}, attn_length {imported.attn_length}')
    return worst


def generate_with_ours(config_id: str, bundle: Path, work: Path) -> bool:
    model = CONFIGS[config_id][0]
    out = work / config_id / 'ours_generated'
    if out.exists():
        shutil.rmtree(out)
    if model == 'drums_rnn':
        args = ['-m', 'magenta_rnn.drums.generate', '--num_steps=64']
    else:
        args = ['-m', 'magenta_rnn.performance.generate', '--num_steps=500',
                '--primer_pitches=[60,64,67]']
        if config_id.startswith('multiconditioned'):
            args += ['--notes_per_second=[2,8]',
                     '--pitch_class_histogram=[2,0,1,0,1,1,0,2,0,1,0,1]']
    completed = subprocess.run(
        [sys.executable, *args, f'--bundle_file={bundle}', f'--output_dir={out}',
         '--num_outputs=2', '--seed=1'], env=our_env(), capture_output=True, text=True)
    files = sorted(out.glob('*.mid')) if out.exists() else []
    ok = completed.returncode == 0 and len(files) == 2
    if ok:
        from magenta_rnn.music.midi_io import midi_file_to_note_sequence
        lengths = [midi_file_to_note_sequence(str(f)).total_time for f in files]
        notes = [len(midi_file_to_note_sequence(str(f)).notes) for f in files]
        print(f'  our generate CLI: 2 files, total_time {lengths} s, notes {notes}')
    else:
        print(f'  our generate CLI FAILED (exit {completed.returncode}):\n'
              f'{completed.stderr[-2000:]}')
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--work_dir', default=os.path.join(tempfile.gettempdir(),
                                                           'peer_trained_bundles'))
    parser.add_argument('--configs', nargs='+', default=list(CONFIGS), choices=list(CONFIGS))
    args = parser.parse_args()
    work = Path(args.work_dir)
    work.mkdir(parents=True, exist_ok=True)
    failed = False
    for config_id in args.configs:
        print(f'{config_id}:')
        bundle = train_peer_bundle(config_id, work)
        print(f'  original bundle {bundle} ({bundle.stat().st_size} bytes)')
        peer = peer_probabilities(config_id, bundle, work)
        worst = compare(config_id, bundle, peer)
        verdict = 'OK' if worst <= TOLERANCE else 'FAIL'
        print(f'  max |diff| {worst:.2e} (tolerance {TOLERANCE:g}): {verdict}')
        failed |= worst > TOLERANCE
        failed |= not generate_with_ours(config_id, bundle, work)
    sys.exit(1 if failed else 0)


if __name__ == '__main__':
    main()
