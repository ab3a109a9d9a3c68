"""Compares next-event probabilities of original `.mag` bundles: original Magenta vs ours.

  PYTHONPATH=$PWD python scripts/compare_bundle_probabilities_with_peer.py \
      [--bundles A.mag B.mag] [--golden]

The peer runs from MAGENTA_PEER_VENV (default ../peer_venv), see scripts/peer.py.

For each bundle, the original (a separate process in the peer venv) loads the bundle the
way melody_rnn_generate does (metagraph + V1 checkpoint), encodes a few melodies with
note_seq's KeyMelodyEncoderDecoder(48, 84), and fetches the `softmax` collection over the
whole primer and then for a few single steps fed with `final_state`, at two temperatures.
Our EventsRnn is loaded from the same bundle and fed the same inputs. Prints the max
absolute difference of probabilities (the contract is <= 1e-4) and exits 1 above it.
--golden prints a few of the original's probabilities for tests/test_rnn_model.py.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from peer import SCRIPTS_DIR, run_peer

DEFAULT_BUNDLES = [
    'mugen_attention_rnn/checkpoints/attention_rrn.mag',
    'creative_karaoke/attention_melody_rnn.mag',
]
TOLERANCE = 1e-4

# Runs under the original's venv. Melodies are note_seq Melody events: pitch, -2 = no
# event, -1 = note off. Writes inputs and softmax arrays as JSON.
PEER_PROGRAM = r'''
import json, sys
sys.path.insert(0, SCRIPTS_DIR)
import peer
import numpy as np
import note_seq
from magenta.models.melody_rnn import melody_rnn_sequence_generator
from magenta.models.shared import sequence_generator_bundle

bundle_path, out_path = sys.argv[1], sys.argv[2]
PRIMER, STEPS = 20, 6
melodies = [
    [60, -2, 62, -2, 64, -2, 65, -2, 67, -2, -2, -2, 65, -2, 64, -2, 62, -2, 60, -2, -1, -2, 72, 71, 69, 67],
    [67, -2, -2, -2, 64, -2, 60, -2, 62, 64, 65, 67, 69, -2, 67, -2, -1, -2, -2, -2, 55, -2, 57, -2, 59, 60],
    [48, 52, 55, 60, 64, 67, 72, 76, 79, 83, -1, -2, 83, 79, 76, 72, 67, 64, 60, 55, 52, 48, -2, -2, -1, 50],
    [70, -2, 70, -2, 73, -2, 75, -2, -2, 66, 68, -2, 61, -1, -2, -2, 63, -2, 61, -2, 58, -2, 61, 63, 66, -2],
]
encoder = note_seq.KeyMelodyEncoderDecoder(min_note=48, max_note=84)
inputs = []
for events in melodies:
    melody = note_seq.Melody(events)
    inputs.append([encoder.events_to_input(melody, i) for i in range(len(events))])
inputs = np.array(inputs, np.float32)  # [4, PRIMER + STEPS, 74]

bundle = sequence_generator_bundle.read_bundle_file(bundle_path)
generator = melody_rnn_sequence_generator.get_generator_map()[bundle.generator_details.id](
    checkpoint=None, bundle=bundle)
result = peer.bundle_softmax_runs(generator, inputs, PRIMER)
result['inputs'] = inputs.tolist()
result['primer_length'] = PRIMER
json.dump(result, open(out_path, 'w'))
'''


def peer_probabilities(bundle: Path, out: Path) -> dict:
    program = out.with_suffix('.py')
    program.write_text(PEER_PROGRAM.replace('SCRIPTS_DIR', repr(SCRIPTS_DIR)))
    try:
        run_peer([str(program), str(bundle), str(out)], capture_output=True, text=True)
    except subprocess.CalledProcessError as e:
        sys.exit(f'peer failed on {bundle}:\n{e.stderr[-3000:]}')
    return json.loads(out.read_text())


def compare(bundle: Path, peer: dict, golden: bool) -> float:
    import numpy as np

    from magenta_rnn.rnn import v1_import
    from magenta_rnn.rnn.model import NumpyStepper

    model, config, _ = v1_import.load_bundle_model(bundle)
    inputs = np.array(peer['inputs'], np.float32)
    primer = peer['primer_length']
    worst = 0.0
    for run in peer['runs']:
        temp = run['temperature']
        probs, state = model.step(inputs[:, :primer], model.zero_state(len(inputs)), temp)
        diff = float(np.max(np.abs(probs.numpy() - np.array(run['primer']))))
        print(f'  T={temp}: primer softmax [{len(inputs)}, {primer}, {config.num_classes}] '
              f'max |diff| {diff:.2e}')
        worst = max(worst, diff)
        # Logits of the full call must agree with the step path too.
        full = model(inputs[:, :primer]).numpy() / temp
        full = np.exp(full - full.max(-1, keepdims=True))
        full /= full.sum(-1, keepdims=True)
        worst = max(worst, float(np.max(np.abs(full - np.array(run['primer'])))))
        step_diffs = []
        for k, expected in enumerate(run['steps']):
            t = primer + k
            probs, state = model.step(inputs[:, t:t + 1], state, temp)
            step_diffs.append(float(np.max(np.abs(probs.numpy()[:, 0] - np.array(expected)))))
        print(f'  T={temp}: {len(step_diffs)} single steps with state, max |diff| '
              f'{max(step_diffs):.2e}')
        worst = max(worst, *step_diffs)
        # The numpy generation path, primer then the same single steps.
        stepper = NumpyStepper(model)
        probs, state = stepper.step(inputs[:, :primer], stepper.zero_state(len(inputs)), temp)
        numpy_diffs = [float(np.max(np.abs(probs - np.array(run['primer']))))]
        for k, expected in enumerate(run['steps']):
            t = primer + k
            probs, state = stepper.step(inputs[:, t:t + 1], state, temp)
            numpy_diffs.append(float(np.max(np.abs(probs[:, 0] - np.array(expected)))))
        print(f'  T={temp}: NumpyStepper primer + steps, max |diff| {max(numpy_diffs):.2e}')
        worst = max(worst, *numpy_diffs)
    if golden:
        # Causal, so the softmax after step 3 depends only on the first 4 input steps.
        for t in range(4):
            row = inputs[0, t]
            print(f'  golden input step {t}: +1 at {np.flatnonzero(row > 0).tolist()}, '
                  f'-1 at {np.flatnonzero(row < 0).tolist()}')
        after = np.array(peer['runs'][0]['primer'])[0, 3]
        print('  golden softmax after step 3 (T=1.0), classes 0..5:',
              [float(f'{p:.6g}') for p in after[:6]],
              f'argmax {int(after.argmax())} p {after.max():.6g}')
    return worst


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    shared = Path(__file__).resolve().parents[2] / 'shared' / 'bundles'
    parser.add_argument('--bundles', nargs='*', default=[str(shared / b) for b in DEFAULT_BUNDLES])
    parser.add_argument('--golden', action='store_true', help='print golden numbers for tests')
    args = parser.parse_args()
    worst = 0.0
    with tempfile.TemporaryDirectory() as directory:
        for i, bundle in enumerate(args.bundles):
            bundle = Path(bundle)
            if not bundle.exists():
                sys.exit(f'--bundles: {bundle} does not exist')
            print(bundle)
            peer = peer_probabilities(bundle, Path(directory) / f'peer_{i}.json')
            worst = max(worst, compare(bundle, peer, args.golden))
    verdict = 'OK' if worst <= TOLERANCE else 'FAIL'
    print(f'max |probability difference| over all bundles: {worst:.2e} '
          f'(tolerance {TOLERANCE:g}): {verdict}')
    sys.exit(0 if worst <= TOLERANCE else 1)


if __name__ == '__main__':
    os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
    main()
