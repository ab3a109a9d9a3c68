"""The real client: exported models run in @magenta/music 1.23.1 (Node) give our results.

    PYTHONPATH=. python scripts/check_magenta_js.py [--node_dir=../magenta_js_node]

Needs Node and a folder where `npm install @magenta/music@1.23.1 tone@14.7.77` was run
(`--node_dir`, or $MAGENTA_JS_NODE_DIR; tone must stay at 14.7.x, newer breaks the Node
build). Small random models (scripts/export_models.py) are exported with
`export_model(..., 'tfjs')`, served on a loopback HTTP server (127.0.0.1 only) and loaded
by scripts/check_magenta_js.js as a browser would. Checks, exactly:
  * basic_rnn (also quantized to 1 and 2 bytes a weight) and drum_kit (whole-stack
    attention, binary counters): Magenta.js's greedy continuation of a primer = ours (the
    model's own step function, argmax each step);
  * cat-mel_2bar_small, cat-drums_2bar_small, hierdec-mel_16bar (and NADE, GrooVAE and
    hierdec-trio models): Magenta.js's decode of a fixed z = our greedy decode
    (MusicVAE.decode with temperature None); GrooVAE's velocities and offsets within 1e-5.
    Models whose encoder Magenta.js runs (one-layer flat, two-level hierarchical) also
    encode: Magenta.js's mu of our encoder inputs (and, for melody and drums, of its own
    decoded NoteSequences) = our mu within 1e-5.
Prints one line per model and exits 1 on any difference.
"""
from __future__ import annotations

import argparse
import functools
import http.server
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import export_models

SCRIPT_JS = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'check_magenta_js.js')
# Beside the checkout, like ../peer_venv: npm install @magenta/music@1.23.1 tone@14.7.77 there.
DEFAULT_NODE_DIR = os.environ.get(
        'MAGENTA_JS_NODE_DIR',
        os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), '..',
                     'magenta_js_node'))

MELODY_PRIMER = [60, -2, 62, -2, 64, -2, -1, -2, 67, -2, -2, -2, 65, -1, 64, -2]
# (name, model, config, hparams, attention layout, primer events, steps to continue,
#  quantization bytes)
RNN_MODELS = [
    ('basic_rnn', 'melody_rnn', 'basic_rnn', 'rnn_layer_sizes=[64,64]', 'first_layer',
     MELODY_PRIMER, 48, None),
    # The same model in 1 and 2 bytes a weight: ours then runs on the weights as Magenta.js
    # dequantizes them.
    ('basic_rnn_q1', 'melody_rnn', 'basic_rnn', 'rnn_layer_sizes=[64,64]', 'first_layer',
     MELODY_PRIMER, 48, 1),
    ('basic_rnn_q2', 'melody_rnn', 'basic_rnn', 'rnn_layer_sizes=[64,64]', 'first_layer',
     MELODY_PRIMER, 48, 2),
    ('drum_kit', 'drums_rnn', 'drum_kit', 'rnn_layer_sizes=[64,64,64],attn_length=32',
     'whole_stack',
     [(36,), (), (42,), (), (36, 38), (), (42,), (46,), (36,), (), (42,), (), (38, 49), (), (), ()],
     48, None),
]
# (name, config, hparams)
VAE_MODELS = [
    ('cat-mel_2bar_small', 'cat-mel_2bar_small', ''),
    ('cat-drums_2bar_small', 'cat-drums_2bar_small', ''),
    ('hierdec-mel_16bar', 'hierdec-mel_16bar',
     'enc_rnn_size=[128,128],dec_rnn_size=[128,128],z_size=64'),
    # Beyond the three: the other decoders and converters the export maps.
    ('nade-drums_2bar_reduced', 'nade-drums_2bar_reduced',
     'enc_rnn_size=[64],dec_rnn_size=[64,64],z_size=32,nade_num_hidden=32'),
    ('groovae_4bar', 'groovae_4bar', 'enc_rnn_size=[64],dec_rnn_size=[64,64],z_size=32'),
    ('hierdec-trio_16bar', 'hierdec-trio_16bar',
     'enc_rnn_size=[64],dec_rnn_size=[64,64],z_size=32'),
    ('hier-mel_16bar', 'hier-mel_16bar', 'enc_rnn_size=[64],dec_rnn_size=[64,64],z_size=32'),
]
# Real-valued outputs (GrooVAE velocities and offsets) agree to float32 rounding.
REAL_VALUED_TOLERANCE = 1e-5


def primer_note_sequence(model: str, events: list, steps_per_quarter: int) -> dict:
    """The quantized NoteSequence (protobuf JSON field names) whose events are `events`."""
    notes = []
    if model == 'melody_rnn':
        for step, event in enumerate(events):
            if event >= 0:
                end = next((s for s in range(step + 1, len(events)) if events[s] != -2),
                           len(events))
                notes.append({'pitch': event, 'velocity': 100, 'quantizedStartStep': step,
                              'quantizedEndStep': end})
    else:
        for step, pitches in enumerate(events):
            notes += [{'pitch': p, 'velocity': 100, 'quantizedStartStep': step,
                       'quantizedEndStep': step + 1, 'isDrum': True} for p in pitches]
    return {'notes': notes, 'quantizationInfo': {'stepsPerQuarter': steps_per_quarter},
            'totalQuantizedSteps': len(events)}


def greedy_continuation(source, events: list, steps: int) -> tuple[list[int], list[np.ndarray]]:
    """Our greedy continuation: the model's step function, argmax each step. Returns the
    class index of each new event and the softmax it came from."""
    network, encoder = source.network, source.encoder
    events = list(events)
    state = network.zero_state(1)
    inputs = np.stack(encoder.get_inputs_batch([events], full_length=True))
    labels, probabilities = [], []
    for _ in range(steps):
        softmax, state = network.step(inputs, state)
        p = np.asarray(softmax)[0, -1]
        label = int(np.argmax(p))
        labels.append(label)
        probabilities.append(p)
        events.append(encoder.class_index_to_event(label, events))
        inputs = np.stack(encoder.get_inputs_batch([events], full_length=False))
    return labels, probabilities


def encoder_inputs(source, outputs: np.ndarray) -> np.ndarray:
    """Our encoder's inputs for decoded outputs."""
    spec = source.config.data_converter_spec
    if spec['type'] != 'drums' or not spec.get('roll_input'):
        return outputs                                   # inputs are the outputs
    if spec.get('roll_output'):
        roll = outputs
    else:                                                # one-hot over drum sets -> roll
        labels = outputs.argmax(-1)
        roll = ((labels[..., None] >> np.arange(outputs.shape[-1].bit_length() - 1)) & 1)
    roll = roll.astype(np.float32)
    silent = (roll.sum(-1, keepdims=True) == 0).astype(np.float32)
    return np.concatenate([roll, silent], -1)


def serve(directory: str) -> tuple[http.server.ThreadingHTTPServer, str]:
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=directory)
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f'http://127.0.0.1:{server.server_address[1]}'


def node_ready(node_dir: str) -> str | None:
    """Why the Node check cannot run (None when it can)."""
    if shutil.which('node') is None:
        return 'node is not installed'
    for package in ('@magenta/music', 'tone'):
        if not os.path.isdir(os.path.join(node_dir, 'node_modules', package)):
            return f'{package} is not installed in {node_dir}/node_modules'
    return None


def run_check(node_dir: str, work_dir: str) -> list[dict]:
    """Exports, runs Magenta.js and compares; one result dict per model."""
    from magenta_rnn.export import export_model, loading
    from magenta_rnn.export.weights import read_weights
    from magenta_rnn.music_vae import configs as vae_configs
    from magenta_rnn.rnn import v1_import

    job = {'rnn': [], 'vae': []}
    ours: dict[str, object] = {}
    for name, model, config, hparams, layout, primer, steps, quantization in RNN_MODELS:
        bundle = export_models.events_bundle(os.path.join(work_dir, f'{name}.mag'), model,
                                             config, hparams, layout)
        export_model(os.path.join(work_dir, name), 'tfjs', bundle_file=bundle,
                     quantization_bytes=quantization)
        source = loading.load_source(bundle_file=bundle)
        if quantization:
            v1_import.assign_weights(source.network,
                                     read_weights(os.path.join(work_dir, name)))
        if model == 'drums_rnn':
            primer = [frozenset(p) for p in primer]
        encoded = [source.encoder.events_to_label(primer, i) for i in range(len(primer))]
        ours[name] = (encoded, *greedy_continuation(source, primer, steps))
        job['rnn'].append({'name': name, 'dir': name, 'steps': steps,
                           'primer': primer_note_sequence(
                               model, [sorted(p) if isinstance(p, frozenset) else p
                                       for p in primer], source.config.steps_per_quarter)})
    rng = np.random.default_rng(0)
    for name, config, hparams in VAE_MODELS:
        checkpoint = export_models.music_vae_checkpoint(os.path.join(work_dir, f'{name}.ckpt'),
                                                        config, hparams)
        export_model(os.path.join(work_dir, name), 'tfjs', config=config,
                     checkpoint_file=checkpoint, hparams=hparams)
        source = loading.load_source(config=config, checkpoint_file=checkpoint, hparams=hparams)
        z = rng.standard_normal((2, vae_configs.load_config(config, hparams).hparams.z_size))
        z = z.astype(np.float32)
        outputs = source.vae.decode(z, int(source.config.hparams.max_seq_len), None).numpy()
        vae_job = {'name': name, 'dir': name, 'z': z.tolist()}
        mu = None
        with open(os.path.join(work_dir, name, 'config.json')) as f:
            encoder_exported = json.load(f)['magentaRnn']['encoderExported']
        if encoder_exported:
            inputs = encoder_inputs(source, outputs)
            mu = source.vae.encode(inputs, np.full([len(inputs)], inputs.shape[1], np.int32))
            mu = mu[0].numpy()
            vae_job['encodeInputs'] = inputs.tolist()
            # Magenta.js's converter reads its decoded NoteSequences back to these inputs.
            vae_job['encodeSequences'] = source.config.data_converter_spec['type'] in (
                'melody', 'drums')
        ours[name] = (outputs, mu)
        job['vae'].append(vae_job)

    server, job['baseUrl'] = serve(work_dir)
    try:
        job_file = os.path.join(work_dir, 'job.json')
        results_file = os.path.join(work_dir, 'results.json')
        with open(job_file, 'w') as f:
            json.dump(job, f)
        env = dict(os.environ, NODE_PATH=os.path.join(node_dir, 'node_modules'))
        completed = subprocess.run(['node', SCRIPT_JS, job_file, results_file], env=env,
                                   capture_output=True, text=True, timeout=1200)
        if completed.returncode:
            raise RuntimeError(completed.stderr.strip().splitlines()[-1])
        with open(results_file) as f:
            results = json.load(f)
    finally:
        server.shutdown()

    report = []
    for js in results['rnn']:
        primer, labels, probabilities = ours[js['name']]
        max_diff = float(np.max(np.abs(np.array(js['probs']) - np.array(probabilities))))
        report.append({'name': js['name'], 'kind': 'continuation',
                       'equal': js['primerLabels'] == primer and js['labels'] == labels,
                       'primer_equal': js['primerLabels'] == primer, 'steps': len(labels),
                       'distinct_events': len(set(labels)), 'max_prob_diff': max_diff,
                       'ours': labels, 'magenta_js': js['labels']})
    for js in results['vae']:
        outputs, mu = ours[js['name']]
        depth = outputs.shape[-1]
        ours_labels = outputs.reshape(-1, depth).argmax(-1).tolist()
        equal, max_diff = list(js['shape']) == list(outputs.shape), None
        if equal:
            theirs = np.array(js['outputs'], np.float32).reshape(outputs.shape)
            if js['name'].startswith('groovae'):  # hits exact, velocities and offsets close
                hits = depth // 3
                max_diff = float(np.max(np.abs(theirs - outputs)))
                equal = (np.array_equal(theirs[..., :hits], outputs[..., :hits])
                         and max_diff <= REAL_VALUED_TOLERANCE)
            else:
                equal = np.array_equal(theirs, outputs)
        encode_diff = None
        if mu is not None:
            encode_diff = float(np.max(np.abs(np.array(js['mu']).reshape(mu.shape) - mu)))
            if 'muSequences' in js:
                encode_diff = max(encode_diff, float(np.max(np.abs(
                    np.array(js['muSequences']).reshape(mu.shape) - mu))))
            equal = equal and encode_diff <= REAL_VALUED_TOLERANCE
        rows = outputs.reshape(-1, depth)
        if js['name'].startswith('groovae'):
            rows = rows[:, :depth // 3]
        report.append({'name': js['name'], 'kind': 'decode', 'equal': equal,
                       'steps': int(outputs.shape[0] * outputs.shape[1]),
                       'distinct_events': len({row.tobytes() for row in rows}),
                       'max_prob_diff': max_diff, 'encode_diff': encode_diff,
                       'ours': ours_labels, 'magenta_js': js['labels']})
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--node_dir', default=DEFAULT_NODE_DIR,
                        help='folder holding node_modules/@magenta/music and tone')
    parser.add_argument('--keep', help='export into this new folder and keep it')
    args = parser.parse_args()
    reason = node_ready(args.node_dir)
    if reason:
        print(f'check_magenta_js: cannot run: {reason}', file=sys.stderr)
        return 2
    work_dir = args.keep or tempfile.mkdtemp(prefix='magenta_js_check_')
    os.makedirs(work_dir, exist_ok=True)
    try:
        report = run_check(args.node_dir, work_dir)
    finally:
        if not args.keep:
            shutil.rmtree(work_dir, ignore_errors=True)
    for row in report:
        diff = ('' if row['max_prob_diff'] is None
                else f', max |js - ours| {row["max_prob_diff"]:.2e}')
        if row.get('encode_diff') is not None:
            diff += f', encode max |mu_js - mu_ours| {row["encode_diff"]:.2e}'
        print(f'{row["name"]:22s} {row["kind"]:12s} {"EQUAL" if row["equal"] else "DIFFERENT"} '
              f'({row["steps"]} steps, {row["distinct_events"]} distinct events{diff})')
        if not row['equal']:
            print(f'  ours:       {row["ours"]}\n  magenta.js: {row["magenta_js"]}')
    return 0 if all(row['equal'] for row in report) else 1


if __name__ == '__main__':
    sys.exit(main())
