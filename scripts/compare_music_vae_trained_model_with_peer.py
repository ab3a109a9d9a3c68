"""Loads one checkpoint written by the original MusicVAE (the "peer") into both the
peer's TrainedModel and ours, and compares encodings and argmax decodings.

Both sides convert the first --limit windows of --examples_path with the config's
converter (eval mode), then: encode_tensors -> mu, sigma (compared numerically), and
decode_to_tensors(mu, temperature=1e-6) (argmax decoding; compared step by step).

Models with controls (chords, hits) encode each window with its own controls and
decode every mu with the first window's. --hparams: those the checkpoint was trained
with, applied on both sides.

Usage (from the repo root; the checkpoint comes from the peer's music_vae_train):
  PYTHONPATH=$PWD .venv/bin/python scripts/compare_music_vae_trained_model_with_peer.py \
      --config=cat-mel_2bar_small --checkpoint=/tmp/vae/run_peer/train \
      --examples_path=notesequences.tfrecord [--limit=64]
"""
from __future__ import annotations

import argparse
import os
import pickle
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from peer import peer_env, peer_python

PEER_CODE = r'''
import pickle, sys
import numpy as np
from magenta.models.music_vae import configs, TrainedModel
config_name, checkpoint, inputs_path, out, hparams = sys.argv[1:6]
with open(inputs_path, 'rb') as f:
    inputs, lengths, controls, max_len = pickle.load(f)
config = configs.CONFIG_MAP[config_name]
config.hparams.parse(hparams)
model = TrainedModel(config, batch_size=8, checkpoint_dir_or_path=checkpoint)
has_controls = config.data_converter.control_depth > 0
_, mu, sigma = model.encode_tensors(list(inputs), list(lengths),
                                    list(controls) if has_controls else None)
decoded = np.array(model.decode_to_tensors(mu, length=max_len, temperature=1e-6,
                                           c_input=controls[0] if has_controls else None))
with open(out, 'wb') as f:
    pickle.dump((mu, sigma, decoded), f)
'''


TIE_LOGIT = 1e-4


def _groove_ties(model, mu: np.ndarray, decoded: np.ndarray, peer_decoded: np.ndarray,
                 equal: np.ndarray) -> int:
    """How many differing GrooVAE decodings first differ at a near-tie: our decoder,
    teacher-forced on the peer's decoding from the same mu, gives every hit that differs
    at the first differing step a logit within TIE_LOGIT of 0."""
    import tensorflow as tf
    from magenta_rnn.music_vae import model as model_lib
    decoder = model.model.decoder
    x_input = model_lib.shifted_targets(tf.constant(peer_decoded))
    hit_logits = tf.split(decoder.rnn_outputs(x_input, tf.constant(mu)), 3, axis=-1)[0].numpy()
    ties = 0
    for b in np.flatnonzero(~np.all(equal, axis=1)):
        step = int(np.argmin(equal[b]))
        hits = hit_logits.shape[-1]
        differing = np.abs(decoded[b, step, :hits] - peer_decoded[b, step, :hits]) > 0.5
        if differing.any() and np.all(np.abs(hit_logits[b, step][differing]) < TIE_LOGIT):
            ties += 1
    return ties


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--config', default='cat-mel_2bar_small')
    parser.add_argument('--checkpoint', required=True)
    parser.add_argument('--examples_path', required=True)
    parser.add_argument('--limit', type=int, default=64)
    parser.add_argument('--hparams', default='',
                        help='the --hparams the checkpoint was trained with (both sides)')
    args = parser.parse_args()

    from magenta_rnn import records
    from magenta_rnn.music_vae import configs, trained_model
    config = configs.load_config(args.config, args.hparams)
    converter = config.make_data_converter()
    converter.set_mode('eval')
    inputs, lengths, controls = [], [], []
    for ns in records.read_note_sequences(args.examples_path):
        tensors = converter.to_tensors(ns)
        inputs.extend(x.astype(np.float32) for x in tensors.inputs)
        lengths.extend(tensors.lengths)
        controls.extend(c.astype(np.float32) for c in tensors.controls)
        if len(inputs) >= args.limit:
            break
    inputs, lengths, controls = (inputs[:args.limit], lengths[:args.limit],
                                 controls[:args.limit])
    # A model with controls decodes every mu with the first example's controls (the
    # original's TrainedModel takes one c_input per call).
    c_input = controls[0] if converter.control_depth else None
    max_len = config.hparams.max_seq_len

    with tempfile.TemporaryDirectory() as tmp:
        inputs_path = os.path.join(tmp, 'inputs.pkl')
        with open(inputs_path, 'wb') as f:
            pickle.dump((inputs, lengths, controls, max_len), f)
        script, out = os.path.join(tmp, 'peer.py'), os.path.join(tmp, 'peer_out.pkl')
        with open(script, 'w') as f:
            f.write(PEER_CODE)
        subprocess.run([peer_python(), script, args.config, args.checkpoint, inputs_path, out,
                        args.hparams],
                       env=peer_env(), check=True, stderr=subprocess.DEVNULL)
        with open(out, 'rb') as f:
            peer_mu, peer_sigma, peer_decoded = pickle.load(f)

    model = trained_model.TrainedModel(config, 8, args.checkpoint)
    _, mu, sigma = model.encode_tensors(inputs, lengths,
                                        controls if converter.control_depth else None)
    decoded = model.decode_to_tensors(mu, length=max_len, temperature=1e-6, c_input=c_input)
    mu_err = float(np.max(np.abs(mu - peer_mu)))
    sigma_err = float(np.max(np.abs(sigma - peer_sigma)))
    if config.decoder.get('type', 'categorical_lstm') == 'categorical_lstm':
        kind = 'argmax'
        equal = np.argmax(decoded, -1) == np.argmax(peer_decoded, -1)
    else:
        # Multi-hot NADE rolls and GrooVAE hits are 0/1 at temperature 1e-6; GrooVAE's
        # velocities and offsets are continuous: a step is equal within 1e-3.
        kind = 'near-deterministic (temperature 1e-6)'
        equal = np.all(np.abs(np.asarray(decoded) - np.asarray(peer_decoded)) < 1e-3, axis=-1)
        print(f'max |decoded - peer decoded| = '
              f'{float(np.max(np.abs(decoded - peer_decoded))):.2e}; mean decoded value '
              f'{float(np.mean(decoded)):.4f}')
    same_steps = float(np.mean(equal))
    same_seqs = int(np.sum(np.all(equal, axis=1)))
    print(f'{len(inputs)} examples from {args.examples_path}, checkpoint {model.checkpoint_path}')
    print(f'max |mu - peer mu| = {mu_err:.2e} (max |mu| {float(np.max(np.abs(mu))):.3f}); '
          f'max |sigma - peer sigma| = {sigma_err:.2e}')
    print(f'{kind} decodings from mu: {same_steps:.4f} of steps equal, '
          f'{same_seqs}/{len(inputs)} sequences identical')
    if config.decoder.get('type') == 'groove_lstm' and same_seqs < len(inputs):
        ties = _groove_ties(model, mu, np.asarray(decoded), np.asarray(peer_decoded, np.float32),
                            equal)
        print(f'{same_seqs + ties}/{len(inputs)} sequences identical up to a tie: {ties} first '
              f'differ at a hit whose logit is within {TIE_LOGIT} of 0 (at temperature 1e-6 '
              f'such a hit is a coin flip on either side)')
    return 0 if mu_err < 1e-3 and sigma_err < 1e-3 else 1


if __name__ == '__main__':
    sys.exit(main())
