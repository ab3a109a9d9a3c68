"""Checks a MusicVAE architecture against the original (the "peer") number for number.

The peer builds --config with small --hparams, fills every variable with random
values and saves a TF1 (name-based) checkpoint; for the same random one-hot
inputs and latent vectors it computes the posterior mean mu, the teacher-forced
reconstruction loss per sequence, and near-argmax samples (temperature 1e-6).
Our TrainedModel then loads that checkpoint by the original's variable names and
computes the same three things. Works for flat, multi-output and hierarchical
configs (e.g. hierdec-trio_16bar, hierdec-mel_16bar, flat-trio_16bar).

Usage (from the repo root):
  PYTHONPATH=$PWD .venv/bin/python scripts/compare_music_vae_model_with_peer.py \
      --config hierdec-trio_16bar [--hparams "enc_rnn_size=[16],dec_rnn_size=[12,10],z_size=6"]
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
import tensorflow.compat.v1 as tf
tf.disable_v2_behavior()
from magenta.models.music_vae import configs
config_name, hparams, batch_size, inputs_path, checkpoint, out = sys.argv[1:7]
with open(inputs_path, 'rb') as f:
    x, lengths, z = pickle.load(f)
config = configs.CONFIG_MAP[config_name]
hp = config.hparams
hp.parse(hparams)
hp.batch_size = int(batch_size)
model = config.model
with tf.Graph().as_default():
    tf.set_random_seed(1)
    model.build(hp, config.data_converter.output_depth, is_training=False)
    x_t = tf.constant(x)
    len_t = tf.constant(lengths)
    z_t = tf.constant(z)
    mu = model.encode(x_t, len_t).loc
    x_input = tf.pad(x_t[:, :-1], [(0, 0), (1, 0), (0, 0)])
    r_loss = model.decoder.reconstruction_loss(x_input, x_t, len_t, z_t)[0]
    with tf.variable_scope(tf.get_variable_scope(), reuse=tf.AUTO_REUSE):
        samples, _ = model.sample(int(batch_size), max_length=x.shape[1], z=z_t,
                                  temperature=1e-6)
    randomize = [v.assign(tf.random.normal(tf.shape(v), stddev=0.3))
                 for v in tf.trainable_variables()]
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        sess.run(randomize)
        tf.train.Saver().save(sess, checkpoint)
        results = sess.run([mu, r_loss, samples])
with open(out, 'wb') as f:
    pickle.dump(results, f)
'''


def random_inputs(converter, batch_size: int, length: int, seed: int):
    """One-hot rows in each of the converter's softmax splits; the last sequence is empty."""
    rng = np.random.default_rng(seed)
    depths = list(getattr(converter, 'split_output_depths', [converter.output_depth]))
    x = np.zeros([batch_size, length, sum(depths)], np.float32)
    offset = 0
    for depth in depths:
        hot = rng.integers(0, depth, size=[batch_size, length])
        np.put_along_axis(x[:, :, offset:offset + depth], hot[..., None], 1.0, axis=-1)
        offset += depth
    lengths = np.full([batch_size], length, np.int32)
    lengths[-1] = 0
    x[-1] = 0
    return x, lengths


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--config', default='hierdec-trio_16bar')
    parser.add_argument('--hparams', default='enc_rnn_size=[16],dec_rnn_size=[12,10],z_size=6')
    parser.add_argument('--batch_size', type=int, default=3)
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args()

    import tensorflow as tf
    from magenta_rnn.music_vae import configs, hierarchical, trained_model
    config = configs.load_config(args.config, args.hparams)
    converter = config.make_data_converter()
    hp = config.hparams
    x, lengths = random_inputs(converter, args.batch_size, hp.max_seq_len, args.seed)
    z = np.random.default_rng(args.seed + 1).standard_normal(
        [args.batch_size, hp.z_size]).astype(np.float32)

    with tempfile.TemporaryDirectory() as tmp:
        inputs_path = os.path.join(tmp, 'inputs.pkl')
        with open(inputs_path, 'wb') as f:
            pickle.dump((x, lengths, z), f)
        script = os.path.join(tmp, 'peer.py')
        with open(script, 'w') as f:
            f.write(PEER_CODE)
        checkpoint = os.path.join(tmp, 'model.ckpt')
        out = os.path.join(tmp, 'peer.pkl')
        subprocess.run([peer_python(), script, args.config, args.hparams, str(args.batch_size),
                        inputs_path, checkpoint, out],
                       env=peer_env(), check=True, stderr=subprocess.DEVNULL)
        with open(out, 'rb') as f:
            peer_mu, peer_r_loss, peer_samples = pickle.load(f)
        model = trained_model.TrainedModel(config, args.batch_size, checkpoint)

    vae = model.model
    _, mu, _ = model.encode_tensors(list(x[:-1]), list(lengths[:-1]))
    x_input = np.pad(x[:, :-1], [(0, 0), (1, 0), (0, 0)])
    logits = vae.decoder.logits(tf.constant(x_input), tf.constant(z), tf.constant(lengths))
    cross_entropy, _ = hierarchical.step_losses(vae.decoder, tf.constant(x), logits)
    mask = tf.sequence_mask(lengths, hp.max_seq_len, dtype=tf.float32)
    r_loss = tf.reduce_sum(cross_entropy * mask, axis=1).numpy()
    samples = model.decode_to_tensors(z, length=hp.max_seq_len, temperature=1e-6)

    mu_diff = float(np.max(np.abs(mu - peer_mu[:-1])))
    loss_diff = float(np.max(np.abs(r_loss - peer_r_loss) / np.maximum(1.0, np.abs(peer_r_loss))))
    same_steps = np.all(samples == peer_samples, axis=-1)
    print(f'{args.config} ({args.hparams}): mu max |diff| {mu_diff:.2e}; '
          f'r_loss peer {np.round(peer_r_loss, 3).tolist()} ours {np.round(r_loss, 3).tolist()} '
          f'(max rel diff {loss_diff:.2e}); argmax samples equal at '
          f'{int(same_steps.sum())}/{same_steps.size} steps')
    return 0 if mu_diff < 1e-4 and loss_diff < 1e-4 and same_steps.all() else 1


if __name__ == '__main__':
    sys.exit(main())
