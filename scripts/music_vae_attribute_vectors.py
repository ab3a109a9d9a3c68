"""Do MusicVAE attribute vectors move their attribute? A check on real melodies.

Splits a TFRecord of NoteSequences (e.g. Nottingham, converted with
convert_dir_to_note_sequences) into the first --vector_fraction of the tunes, whose
windows give each attribute vector, and the rest, whose first --num_bases windows
are the bases. Each base's mu plus k * vector is decoded for every k in --scales
and the attribute of the output measured. Prints, per attribute and k, the mean
measured attribute and how often +k raised (and -k lowered) it against k = 0.

  music_vae_train --config=cat-mel_2bar_small --run_dir=/tmp/vae_nott \
      --examples_path=nottingham.tfrecord --hparams=batch_size=64 --num_steps=1200
  PYTHONPATH=$PWD .venv/bin/python scripts/music_vae_attribute_vectors.py \
      --run_dir=/tmp/vae_nott --examples_path=nottingham.tfrecord
"""
from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np


def evaluate(model, sequences, attribute_names, scales, num_bases, vector_fraction,
             temperature, max_examples=None) -> dict:
    from magenta_rnn.music_vae import attributes
    split = int(len(sequences) * vector_fraction)
    vector_sequences, base_sequences = sequences[:split], sequences[split:]
    base_inputs, base_lengths, _ = model.extract_windows(base_sequences, num_bases)
    if not base_inputs:
        raise ValueError(f'the last {len(base_sequences)} NoteSequences give no inputs for '
                         f'config {model.config.id}; nothing to use as bases')
    _, base_mu, _ = model.encode_tensors(base_inputs, base_lengths)
    report = {'vector_tunes': split, 'base_tunes': len(base_sequences),
              'bases': len(base_inputs), 'scales': list(scales), 'attributes': {}}
    for name in attribute_names:
        vector = model.attribute_vector(vector_sequences, name, max_examples=max_examples)
        measured = np.zeros((len(scales), len(base_mu)))
        for s, k in enumerate(scales):
            outputs = model.decode(base_mu + k * vector.vector, length=model.config.hparams.max_seq_len,
                                   temperature=temperature)
            measured[s] = attributes.measure(outputs, name)
        zero = scales.index(0.0)
        rows = {}
        for s, k in enumerate(scales):
            ok = ~np.isnan(measured[s]) & ~np.isnan(measured[zero])
            diff = measured[s][ok] - measured[zero][ok]
            rows[f'{k:g}'] = {'mean': float(np.nanmean(measured[s])),
                              'raised': float(np.mean(diff > 0)),
                              'lowered': float(np.mean(diff < 0))}
        report['attributes'][name] = {
            'vector_examples': vector.num_examples, 'top_mean': vector.high_mean,
            'bottom_mean': vector.low_mean, 'norm': float(np.linalg.norm(vector.vector)),
            'by_scale': rows}
    return report


def print_report(report: dict) -> None:
    print(f'vectors from {report["vector_tunes"]} tunes; {report["bases"]} base windows from '
          f'the other {report["base_tunes"]} tunes')
    for name, result in report['attributes'].items():
        print(f'\n{name}: vector from {result["vector_examples"]} windows (top quartile mean '
              f'{result["top_mean"]:.3f}, bottom {result["bottom_mean"]:.3f}, '
              f'|v| = {result["norm"]:.2f})')
        print(f'  {"k":>5} {"mean " + name:>22} {"raised vs k=0":>14} {"lowered":>8}')
        for k, row in result['by_scale'].items():
            print(f'  {k:>5} {row["mean"]:22.3f} {row["raised"]:14.2f} {row["lowered"]:8.2f}')


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--run_dir', required=True, help='music_vae_train run directory')
    parser.add_argument('--examples_path', required=True, help='TFRecord of NoteSequences')
    parser.add_argument('--config', default='cat-mel_2bar_small')
    parser.add_argument('--hparams', default='')
    parser.add_argument('--attributes', default='note_density,mean_pitch,pitch_range')
    parser.add_argument('--scales', default='-2,-1,0,1,2')
    parser.add_argument('--num_bases', type=int, default=200)
    parser.add_argument('--vector_fraction', type=float, default=0.7)
    parser.add_argument('--max_examples', type=int, default=None)
    parser.add_argument('--temperature', type=float, default=0.5)
    parser.add_argument('--seed', type=int, default=1)
    parser.add_argument('--json', help='also write the numbers here')
    args = parser.parse_args()

    from magenta_rnn import records
    from magenta_rnn.music_vae import configs, trained_model
    config = configs.load_config(args.config, args.hparams)
    model = trained_model.TrainedModel(config, 64, os.path.join(args.run_dir, 'train'),
                                       seed=args.seed)
    sequences = list(records.read_note_sequences(args.examples_path))
    scales = [float(k) for k in args.scales.split(',')]
    if 0.0 not in scales:
        sys.exit('--scales must include 0')
    report = evaluate(model, sequences, args.attributes.split(','), scales, args.num_bases,
                      args.vector_fraction, args.temperature, args.max_examples)
    report['checkpoint'] = model.checkpoint_path
    print_report(report)
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(report, f, indent=1)
    return 0


if __name__ == '__main__':
    sys.exit(main())
