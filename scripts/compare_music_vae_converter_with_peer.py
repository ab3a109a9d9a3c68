"""Compares magenta_rnn's MusicVAE data converters with the original Magenta (the "peer").

Both sides read the same TFRecord of NoteSequences and convert every sequence with
the named config's data converter (--config: cat-mel_2bar_small, cat-drums_2bar_small,
...) in eval mode (deterministic: the first k windows). Each example is compared as
its input and output tensors (shape and the SHA-1 of every value as uint8), per
NoteSequence, as an ordered list and as a set (facts §14.15: the original iterates a set).

Usage (from the repo root):
  PYTHONPATH=$PWD /work/main/.venv/bin/python scripts/compare_music_vae_converter_with_peer.py \
      --examples_path /tmp/notesequences.tfrecord --config cat-mel_2bar_small [--limit 500] \
      [--all_windows]
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

PEER_PYTHON = '/work/peer_venv/bin/python'
PEER_ENV = '/work/peer_venv/peer_env.sh'

PEER_CODE = r'''
import hashlib, pickle, sys
import numpy as np
import tensorflow.compat.v1 as tf
from magenta.models.music_vae import configs
path, config_name, limit, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
converter = configs.CONFIG_MAP[config_name].data_converter
converter.set_mode('eval')
if sys.argv[5] == 'all':
    converter.max_tensors_per_notesequence = None
results = []
for i, record in enumerate(tf.python_io.tf_record_iterator(path)):
    if limit and i >= limit:
        break
    tensors = converter.to_tensors(converter.str_to_item_fn(record))
    results.append([(x.shape, hashlib.sha1(x.astype(np.uint8).tobytes()).hexdigest(), y.shape,
                     hashlib.sha1(y.astype(np.uint8).tobytes()).hexdigest())
                    for x, y in zip(tensors.inputs, tensors.outputs)])
with open(out, 'wb') as f:
    pickle.dump(results, f)
'''


def _digest(x) -> str:
    # Examples are compared by the SHA-1 of their values (as uint8), so that all the
    # windows of a large file set fit in memory.
    return hashlib.sha1(np.asarray(x).astype(np.uint8).tobytes()).hexdigest()


def ours(path: str, config_name: str, limit: int, all_windows: bool = False
         ) -> list[list[tuple]]:
    from magenta_rnn import records  # pylint: disable=import-outside-toplevel
    from magenta_rnn.music_vae import configs  # pylint: disable=import-outside-toplevel
    converter = configs.load_config(config_name).make_data_converter()
    converter.set_mode('eval')
    if all_windows:
        converter.max_tensors_per_notesequence = None
    results = []
    for i, ns in enumerate(records.read_note_sequences(path)):
        if limit and i >= limit:
            break
        tensors = converter.to_tensors(ns)
        results.append([(x.shape, _digest(x), y.shape, _digest(y))
                        for x, y in zip(tensors.inputs, tensors.outputs)])
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--examples_path', required=True)
    parser.add_argument('--config', default='cat-mel_2bar_small')
    parser.add_argument('--limit', type=int, default=0)
    parser.add_argument('--all_windows', action='store_true',
                        help='keep every example (max_tensors_per_notesequence=None on both sides)')
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, 'peer.pkl')
        script = os.path.join(tmp, 'peer.py')
        with open(script, 'w') as f:
            f.write(PEER_CODE)
        subprocess.run(['bash', '-c', f'source {PEER_ENV} && {PEER_PYTHON} {script} '
                        f'{args.examples_path} {args.config} {args.limit} {out} '
                        f'{"all" if args.all_windows else "config"}'],
                       check=True, stderr=subprocess.DEVNULL)
        with open(out, 'rb') as f:
            peer = pickle.load(f)
    mine = ours(args.examples_path, args.config, args.limit, args.all_windows)
    assert len(peer) == len(mine), (len(peer), len(mine))
    same_order = sum(p == m for p, m in zip(peer, mine))
    same_set = sum(set(p) == set(m) for p, m in zip(peer, mine))
    print(f'{len(mine)} NoteSequences ({sum(bool(m) for m in mine)} give examples); examples peer {sum(map(len, peer))}, '
          f'ours {sum(map(len, mine))}; same list {same_order}, same set {same_set}')
    for i, (p, m) in enumerate(zip(peer, mine)):
        if set(p) != set(m):
            print(f'first set mismatch at record {i}: peer {len(p)}, ours {len(m)}')
            break
    return 0 if same_set == len(mine) else 1


if __name__ == '__main__':
    sys.exit(main())
