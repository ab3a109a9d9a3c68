"""Compares magenta_rnn's MusicVAE data converters with the original Magenta (the "peer").

Both sides read the same TFRecord of NoteSequences and convert every sequence with
the named config's data converter (--config: cat-mel_2bar_small, cat-drums_2bar_small,
nade-drums_2bar_full, groovae_2bar_humanize, ...) in eval mode (deterministic: the
first k windows, or every window with --all_windows) or --mode infer. Each example
is compared as its input, output and control tensors (shape and the SHA-1 of every
value as float32) and its length(s), per NoteSequence, as an ordered list and as a set
(REFERENCE.md "Pitfalls": the original iterates a set). Records where the original raises are
counted and left out. The peer's multi-instrument converter gets NumPy's old np.size
on ragged lists (see PEER_CODE): without it, the _chords configs raise on every piece
with two or more tracks under today's NumPy.

With --from_tensors, each side also decodes its own output tensors back to
NoteSequences, and the notes (pitch, velocity, instrument, is_drum, start and end
time) are compared; --from_tensors_limit caps the decoded examples per record (taken in
digest order, so both sides decode the same windows whatever order they come in), with
their controls (chords) where the config has them.

Usage (from the repo root):
  PYTHONPATH=$PWD .venv/bin/python scripts/compare_music_vae_converter_with_peer.py \
      --examples_path notesequences.tfrecord --config cat-mel_2bar_small [--limit 500]
"""
from __future__ import annotations

import argparse
import hashlib
import os
import pickle
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from peer import peer_env, peer_python

PEER_CODE = r'''
import hashlib, pickle, sys
import numpy as np
import tensorflow.compat.v1 as tf
from magenta.models.music_vae import configs, data_hierarchical
# The original's multi-instrument converter tests `np.size(control)` on a ragged nested
# list of chord tensors; NumPy >= 1.24 raises there, where the NumPy of its time made an
# object array (non-empty: truthy). Give its module that old behaviour, nothing else.
import types
_np = types.ModuleType('numpy_as_of_magenta')
_np.__dict__.update(np.__dict__)
def _size(a):
    try:
        return np.size(a)
    except ValueError:
        return len(a)
_np.size = _size
data_hierarchical.np = _np
path, config_name, limit, out, mode = sys.argv[1:6]
limit, decode = int(limit), int(sys.argv[6])
converter = configs.CONFIG_MAP[config_name].data_converter
converter.set_mode(mode)
if sys.argv[7] == 'all':
    converter.max_tensors_per_notesequence = None
def digest(x):
    return hashlib.sha1(np.asarray(x, np.float32).tobytes()).hexdigest()
def control(c):
    return (c.shape, digest(c)) if np.size(c) else None
results, notes, errors = [], [], 0
for i, record in enumerate(tf.python_io.tf_record_iterator(path)):
    if limit and i >= limit:
        break
    try:
        tensors = converter.to_tensors(converter.str_to_item_fn(record))
    except Exception:  # the original crashes on some pieces; ours must not
        errors += 1
        results.append(None)
        notes.append([])
        continue
    results.append([(x.shape, digest(x), y.shape, digest(y), control(c),
                     tuple(np.atleast_1d(l).tolist()))
                    for x, y, c, l in zip(tensors.inputs, tensors.outputs, tensors.controls,
                                          tensors.lengths)])
    if decode and len(tensors.outputs):
        # The first `decode` by digest: the same windows on both sides whatever the order.
        chosen = sorted(range(len(tensors.outputs)), key=lambda k: digest(tensors.outputs[k]))
        chosen = chosen[:decode]
        controls = np.stack([tensors.controls[k] for k in chosen]).astype(np.float32)
        decoded = converter.from_tensors(
            np.stack([tensors.outputs[k] for k in chosen]).astype(np.float32),
            controls if controls.size else None)
        notes.append([[(n.pitch, n.velocity, n.instrument, n.is_drum, n.start_time, n.end_time)
                       for n in ns.notes] for ns in decoded])
    else:
        notes.append([])
with open(out, 'wb') as f:
    pickle.dump((results, notes, errors), f)
'''


def _digest(x) -> str:
    # Examples are compared by the SHA-1 of their float32 values, so that every
    # window of a large file set (--all_windows) fits in memory.
    return hashlib.sha1(np.asarray(x, np.float32).tobytes()).hexdigest()


def ours(path: str, config_name: str, limit: int, mode: str = 'eval', decode: int = 0,
         all_windows: bool = False
         ) -> tuple[list[list[tuple]], list[list[list[tuple]]]]:
    from magenta_rnn import records
    from magenta_rnn.music_vae import configs
    converter = configs.load_config(config_name).make_data_converter()
    converter.set_mode(mode)
    if all_windows:
        converter.max_tensors_per_notesequence = None
    results, notes = [], []
    for i, ns in enumerate(records.read_note_sequences(path)):
        if limit and i >= limit:
            break
        tensors = converter.to_tensors(ns)
        results.append([(x.shape, _digest(x), y.shape, _digest(y),
                         (c.shape, _digest(c)) if np.size(c) else None,
                         tuple(np.atleast_1d(length).tolist()))
                        for x, y, c, length in zip(tensors.inputs, tensors.outputs,
                                                   tensors.controls, tensors.lengths)])
        if decode and len(tensors.outputs):
            # The first `decode` by digest: the same windows on both sides whatever the
            # order (the original iterates a set of windows).
            chosen = sorted(range(len(tensors.outputs)),
                            key=lambda k: _digest(tensors.outputs[k]))[:decode]
            controls = np.stack([tensors.controls[k] for k in chosen]).astype(np.float32)
            decoded = converter.from_tensors(
                np.stack([tensors.outputs[k] for k in chosen]).astype(np.float32),
                controls if controls.size else None)
            notes.append([[(n.pitch, n.velocity, n.instrument, n.is_drum, n.start_time,
                            n.end_time) for n in ns.notes] for ns in decoded])
        else:
            notes.append([])
    return results, notes


def _sorted_notes(notes: list[tuple]) -> list[tuple]:
    return sorted(notes, key=lambda n: (n[4], n[0]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--examples_path', required=True)
    parser.add_argument('--config', default='cat-mel_2bar_small')
    parser.add_argument('--limit', type=int, default=0)
    parser.add_argument('--mode', default='eval', choices=['train', 'eval', 'infer'])
    parser.add_argument('--from_tensors', action='store_true',
                        help='also compare the NoteSequences each side decodes')
    parser.add_argument('--from_tensors_limit', type=int, default=1000)
    parser.add_argument('--all_windows', action='store_true',
                        help='keep every example (max_tensors_per_notesequence=None on both sides)')
    args = parser.parse_args()
    decode = args.from_tensors_limit if args.from_tensors else 0
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, 'peer.pkl')
        script = os.path.join(tmp, 'peer.py')
        with open(script, 'w') as f:
            f.write(PEER_CODE)
        subprocess.run([peer_python(), script, args.examples_path, args.config, str(args.limit),
                        out, args.mode, str(decode), 'all' if args.all_windows else 'config'],
                       env=peer_env(), check=True, stderr=subprocess.DEVNULL)
        with open(out, 'rb') as f:
            peer, peer_notes, peer_errors = pickle.load(f)
    mine, my_notes = ours(args.examples_path, args.config, args.limit, args.mode, decode,
                          args.all_windows)
    assert len(peer) == len(mine), (len(peer), len(mine))
    # Records where the original raised (it crashes on some pieces) are not compared.
    pairs = [(p, m) for p, m in zip(peer, mine) if p is not None]
    same_order = sum(p == m for p, m in pairs)
    same_set = sum(set(p) == set(m) for p, m in pairs)
    controls = sum(1 for p, _ in pairs for example in p if example[4] is not None)
    print(f'{len(mine)} NoteSequences ({peer_errors} where the original raised, not '
          f'compared); examples peer {sum(len(p) for p, _ in pairs)} ({controls} with '
          f'controls), ours {sum(len(m) for _, m in pairs)}; same list {same_order}, '
          f'same set {same_set} (inputs, outputs, controls and lengths)')
    for i, (p, m) in enumerate(zip(peer, mine)):
        if p is not None and set(p) != set(m):
            print(f'first set mismatch at record {i}: peer {len(p)}, ours {len(m)}')
            break
    decoded_ok = True
    if decode:
        pairs = [(p, m) for ps, ms in zip(peer_notes, my_notes) for p, m in zip(ps, ms)]
        same = sum(_sorted_notes(p) == _sorted_notes(m) for p, m in pairs)
        notes = sum(len(p) for p, _ in pairs)
        print(f'from_tensors: {len(pairs)} decoded examples ({notes} peer notes); '
              f'same notes {same}')
        decoded_ok = same == len(pairs) and len(peer_notes) == len(my_notes)
    return 0 if same_set == len(pairs) and decoded_ok else 1


if __name__ == '__main__':
    sys.exit(main())
