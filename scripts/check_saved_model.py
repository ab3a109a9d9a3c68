"""SavedModel exports run without magenta_rnn: a fresh Python with only TensorFlow gives our
numbers.

    PYTHONPATH=. python scripts/check_saved_model.py --python=/path/to/fresh-venv/bin/python

--python: an interpreter of a plain venv holding tensorflow and nothing of ours (e.g.
`python3 -m venv /tmp/tf-only && /tmp/tf-only/bin/pip install tensorflow`); it runs this
file with -I (isolated: no PYTHONPATH, no user site) and first proves that magenta_rnn
cannot be imported there. Checks:
  * attention_rnn (the real mugen bundle in ../shared/bundles when present, else random),
    drum_kit and performance_with_dynamics (random, full size): the SavedModel's next-event
    probabilities, fed the primer in one call and then one step at a time with the state
    carried between calls, equal ours (EventsRnn.step on the whole sequence) within 1e-5;
  * cat-mel_2bar_small and hierdec-mel_16bar (random): decode(z, temperature=0) equals
    our greedy decode exactly, and encode() equals our mu and sigma within 1e-5.
Exits 1 on any difference.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np

TOLERANCE = 1e-5
MUGEN_BUNDLE = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'shared',
                            'bundles', 'mugen_attention_rnn', 'checkpoints', 'attention_rrn.mag')

# (name, model, config, hparams, primer class indices, greedy steps after the primer)
EVENTS_MODELS = [
    ('attention_rnn', 'melody_rnn', 'attention_rnn', '', [14, 0, 16, 0, 1, 18, 0, 0], 24),
    ('drum_kit', 'drums_rnn', 'drum_kit', '', [1, 0, 4, 0, 3, 0, 4, 8], 24),
    ('performance_with_dynamics', 'performance_rnn', 'performance_with_dynamics', '',
     [300, 60, 320, 72, 200, 188], 24),
]
VAE_MODELS = [
    ('cat-mel_2bar_small', 'cat-mel_2bar_small', ''),
    ('hierdec-mel_16bar', 'hierdec-mel_16bar',
     'enc_rnn_size=[256,256],dec_rnn_size=[256,256],z_size=128'),
]


# ------------------------------------------------------------------ child (TF only)

def child(work_dir: str) -> int:
    import importlib.util

    import tensorflow as tf

    if importlib.util.find_spec('magenta_rnn') is not None:
        print('child: magenta_rnn is importable here; not a fresh environment', file=sys.stderr)
        return 2
    with open(os.path.join(work_dir, 'jobs.json')) as f:
        jobs = json.load(f)
    results = {}
    for job in jobs['events']:
        model = tf.saved_model.load(os.path.join(work_dir, job['name']))
        inputs = np.load(os.path.join(work_dir, job['name'] + '.inputs.npy'))
        primer = job['primer_length']
        state = model.initial_state(tf.constant(1))['state']
        out = model.step(inputs=tf.constant(inputs[:, :primer]), state=state)
        logits = [out['logits'].numpy()[0]]
        state = out['state']
        for t in range(primer, inputs.shape[1]):
            out = model.step(inputs=tf.constant(inputs[:, t:t + 1]), state=state)
            logits.append(out['logits'].numpy()[0])
            state = out['state']
        sizes = json.loads(model.metadata()['json'].numpy().decode())['class_sizes']
        logits = np.concatenate(logits)
        heads = np.split(logits, np.cumsum(sizes)[:-1], axis=-1)
        results[job['name']] = np.concatenate([tf.nn.softmax(h).numpy() for h in heads], -1)
    for job in jobs['vae']:
        model = tf.saved_model.load(os.path.join(work_dir, job['name']))
        z = np.load(os.path.join(work_dir, job['name'] + '.z.npy'))
        results[job['name'] + '.decode'] = model.decode(
            z=tf.constant(z), temperature=tf.constant(0.0))['outputs'].numpy()
        inputs = np.load(os.path.join(work_dir, job['name'] + '.inputs.npy'))
        lengths = np.full([len(inputs)], inputs.shape[1], np.int32)
        encoded = model.signatures['encode'](inputs=tf.constant(inputs),
                                             lengths=tf.constant(lengths))
        results[job['name'] + '.mu'] = encoded['mu'].numpy()
        results[job['name'] + '.sigma'] = encoded['sigma'].numpy()
    np.savez(os.path.join(work_dir, 'child_results.npz'), **results)
    print(f'child: TensorFlow {tf.__version__}, magenta_rnn not importable')
    return 0


# ---------------------------------------------------------------- parent (ours)

def prepare(work_dir: str) -> dict[str, dict]:
    """Exports the models and computes our reference numbers."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import export_models
    from magenta_rnn.export import export_model, loading

    jobs: dict = {'events': [], 'vae': []}
    ours: dict[str, np.ndarray] = {}
    for name, model, config, hparams, primer_classes, steps in EVENTS_MODELS:
        bundle = MUGEN_BUNDLE if name == 'attention_rnn' and os.path.isfile(MUGEN_BUNDLE) else (
            export_models.events_bundle(os.path.join(work_dir, name + '.mag'), model, config,
                                        hparams, weight_scale=1.0))
        export_model(os.path.join(work_dir, name), 'saved_model', bundle_file=bundle)
        source = loading.load_source(bundle_file=bundle)
        encoder, network = source.encoder, source.network
        events: list = []
        for index in primer_classes:
            events.append(encoder.class_index_to_event(index, events))
        # A greedy continuation of the primer, then the whole sequence in one call.
        state = network.zero_state(1)
        step_inputs = np.stack(encoder.get_inputs_batch([events], full_length=True))
        for _ in range(steps):
            softmax, state = network.step(step_inputs, state)
            events.append(encoder.class_index_to_event(
                int(np.argmax(np.asarray(softmax)[0, -1])), events))
            step_inputs = np.stack(encoder.get_inputs_batch([events], full_length=False))
        # The last event's input would predict past the end.
        inputs = np.stack(encoder.get_inputs_batch([events], full_length=True))[:, :-1]
        softmax, _ = network.step(inputs, network.zero_state(1))
        heads = softmax if isinstance(softmax, (list, tuple)) else [softmax]
        ours[name] = np.concatenate([np.asarray(h)[0] for h in heads], -1)
        np.save(os.path.join(work_dir, name + '.inputs.npy'), inputs.astype(np.float32))
        jobs['events'].append({'name': name, 'primer_length': len(primer_classes),
                               'bundle': bundle})
    rng = np.random.default_rng(1)
    for name, config, hparams in VAE_MODELS:
        checkpoint = export_models.music_vae_checkpoint(os.path.join(work_dir, name + '.ckpt'),
                                                        config, hparams, weight_scale=1.0)
        export_model(os.path.join(work_dir, name), 'saved_model', config=config,
                     checkpoint_file=checkpoint, hparams=hparams)
        source = loading.load_source(config=config, checkpoint_file=checkpoint, hparams=hparams)
        z = rng.standard_normal((3, source.config.hparams.z_size)).astype(np.float32)
        length = int(source.config.hparams.max_seq_len)
        decoded = source.vae.decode(z, length, None).numpy()
        mu, sigma = source.vae.encode(decoded, np.full([3], length, np.int32))
        ours.update({name + '.decode': decoded, name + '.mu': mu.numpy(),
                     name + '.sigma': sigma.numpy()})
        np.save(os.path.join(work_dir, name + '.z.npy'), z)
        np.save(os.path.join(work_dir, name + '.inputs.npy'), decoded.astype(np.float32))
        jobs['vae'].append({'name': name})
    with open(os.path.join(work_dir, 'jobs.json'), 'w') as f:
        json.dump(jobs, f)
    return ours


def compare(ours: dict[str, np.ndarray], theirs: dict[str, np.ndarray]) -> list[tuple]:
    rows = []
    for key, value in ours.items():
        other = theirs[key]
        if key.endswith('.decode'):
            ok = other.shape == value.shape and np.array_equal(other, value)
            rows.append((key, 'equal' if ok else 'DIFFERENT', ok, None))
        else:
            diff = float(np.max(np.abs(other - value))) if other.shape == value.shape else np.inf
            rows.append((key, f'max |diff| {diff:.2e}', diff <= TOLERANCE, diff))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--python', help='interpreter of a venv with only tensorflow')
    parser.add_argument('--child', help=argparse.SUPPRESS)
    parser.add_argument('--keep', help='work in this new folder and keep it')
    args = parser.parse_args()
    if args.child:
        return child(args.child)
    if not args.python:
        parser.error('--python is required')
    work_dir = args.keep or tempfile.mkdtemp(prefix='saved_model_check_')
    os.makedirs(work_dir, exist_ok=True)
    try:
        ours = prepare(work_dir)
        completed = subprocess.run([args.python, '-I', os.path.abspath(__file__), '--child',
                                    work_dir], capture_output=True, text=True, timeout=1800)
        if completed.returncode:
            print(f'check_saved_model: the fresh interpreter failed: '
                  f'{(completed.stderr.strip().splitlines() or ["?"])[-1]}', file=sys.stderr)
            return 2
        print(completed.stdout.strip().splitlines()[-1])
        theirs = dict(np.load(os.path.join(work_dir, 'child_results.npz')))
    finally:
        if not args.keep:
            shutil.rmtree(work_dir, ignore_errors=True)
    rows = compare(ours, theirs)
    for key, text, ok, _ in rows:
        print(f'{key:36s} {text}{"" if ok else "  <-- FAIL"}')
    return 0 if all(ok for _, _, ok, _ in rows) else 1


if __name__ == '__main__':
    sys.exit(main())
