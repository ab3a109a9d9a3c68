"""Reconstruction accuracy of a trained MusicVAE on held-out NoteSequences.

Every NoteSequence of --examples_path is converted by the config's data converter in
eval mode (the first k windows each), every window is encoded to its posterior mean
mu, and then:

* teacher-forced: the decoder sees the true previous steps; accuracy = share of
  valid steps whose most likely class is the true one; also the mean per-step
  log-likelihood and the mean per-sequence reconstruction loss (nats);
* sampled: the decoder runs free from mu at --temperature (1e-6 is argmax) and the
  share of steps equal to the input is counted.

Usage (from the repo root):
  PYTHONPATH=$PWD .venv/bin/python scripts/music_vae_reconstruction.py \
      --config=cat-mel_2bar_small --checkpoint=/tmp/run/train \
      --examples_path=heldout.tfrecord [--hparams=...] [--temperatures=1e-6,0.5]
"""
from __future__ import annotations

import argparse
import time

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--config', required=True)
    parser.add_argument('--checkpoint', required=True, help='run_dir/train, a prefix or a .tar')
    parser.add_argument('--examples_path', required=True)
    parser.add_argument('--hparams', default='')
    parser.add_argument('--batch_size', type=int, default=64)
    parser.add_argument('--temperatures', default='1e-6,0.5')
    parser.add_argument('--limit', type=int, default=0, help='at most this many examples')
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args()

    from magenta_rnn import records
    from magenta_rnn.music_vae import configs, trained_model

    config = configs.load_config(args.config, args.hparams)
    model = trained_model.TrainedModel(config, args.batch_size, args.checkpoint, seed=args.seed)
    converter = config.make_data_converter()
    converter.set_mode('eval')
    inputs, outputs, lengths = [], [], []
    num_sequences = 0
    for ns in records.read_note_sequences(args.examples_path):
        num_sequences += 1
        for x, y, _, length in converter.to_tensors(ns).examples():
            inputs.append(x)
            outputs.append(y)
            lengths.append(length)
    if args.limit:
        inputs, outputs, lengths = inputs[:args.limit], outputs[:args.limit], lengths[:args.limit]
    lengths_array = np.array(lengths)
    targets = [np.argmax(y, -1) for y in outputs]
    valid = sum(lengths)
    print(f'{args.examples_path}: {num_sequences} NoteSequences, {len(inputs)} examples, '
          f'{valid} steps; checkpoint {model.checkpoint_path}')

    start = time.perf_counter()
    log_probs = model.reconstruction_log_probs(inputs, outputs, lengths, use_mean=True)
    correct = sum(int((np.argmax(lp[:n], -1) == t[:n]).sum())
                  for lp, t, n in zip(log_probs, targets, lengths_array))
    loglik = sum(float(lp[np.arange(n), t[:n]].sum())
                 for lp, t, n in zip(log_probs, targets, lengths_array))
    print(f'teacher-forced (z = mu): accuracy {correct / valid:.4f}, '
          f'mean log-likelihood per step {loglik / valid:.4f} nats, '
          f'mean r_loss per sequence {-loglik / len(inputs):.3f} nats '
          f'({time.perf_counter() - start:.1f} s)')

    _, mu, _ = model.encode_tensors(inputs, lengths)
    for temperature in (float(t) for t in args.temperatures.split(',')):
        start = time.perf_counter()
        decoded = model.decode_to_tensors(mu, length=config.hparams.max_seq_len,
                                          temperature=temperature)
        same = sum(int((np.argmax(d[:n], -1) == t[:n]).sum())
                   for d, t, n in zip(decoded, targets, lengths_array))
        exact = sum(bool((np.argmax(d[:n], -1) == t[:n]).all())
                    for d, t, n in zip(decoded, targets, lengths_array))
        print(f'sampled from mu at temperature {temperature:g}: step accuracy '
              f'{same / valid:.4f}, exact sequences {exact}/{len(inputs)} '
              f'({time.perf_counter() - start:.1f} s)')


if __name__ == '__main__':
    main()
