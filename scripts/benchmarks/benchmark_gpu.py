"""The GPU table of the training engine: training steps/s per recurrence backend, and
Performance RNN generation speed. Runs on a CPU too (the cudnn backend then runs its
CPU loop), so it can be tried anywhere before spending device time:

    PYTHONPATH=. python scripts/benchmarks/benchmark_gpu.py          # the full table (minutes, GPU)
    PYTHONPATH=. python scripts/benchmarks/benchmark_gpu.py --quick  # tiny sizes: a smoke test

Rows (full mode), each with synthetic batches of the config's real encoder sizes:
* basic_rnn, attention_rnn, drum_kit: [128, 128] (drum_kit's attn_length 32), batch 64,
  128 steps; performance_with_dynamics: [512, 512, 512], batch 64, 512 steps;
* cat-mel_2bar_small at its own batch 512 (MusicVAE's trainer);
per backend (fused, reference, cudnn): steady-state training steps/s after warm-up steps.
Then Performance RNN (performance_with_dynamics [512, 512, 512], untrained weights) generates
30 s of music at batch 1 and 64 through the generate command's path (NumpyStepper):
seconds of music generated per second of wall time, summed over the batch.
Prints the device line first; every number is wall time on that device.
"""
from __future__ import annotations

import argparse
import importlib
import sys
import time

import numpy as np


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--quick', action='store_true', help='tiny sizes and 2 timed steps')
    parser.add_argument('--backends', default='fused,reference,cudnn')
    parser.add_argument('--steps', type=int, default=None, help='timed steps per row')
    parser.add_argument('--skip_generation', action='store_true')
    return parser.parse_args(argv)


EVENTS_ROWS = [  # (name, 'module:OBJECT' of the EventsModel, config, hparams, batch, steps)
    ('basic_rnn', 'magenta_rnn.melody:MELODY_RNN', 'basic_rnn', 'rnn_layer_sizes=[128,128]',
     64, 128),
    ('attention_rnn', 'magenta_rnn.melody:MELODY_RNN', 'attention_rnn',
     'rnn_layer_sizes=[128,128]', 64, 128),
    ('drum_kit', 'magenta_rnn.drums:DRUMS_RNN', 'drum_kit', 'rnn_layer_sizes=[128,128]', 64, 128),
    ('performance_with_dynamics', 'magenta_rnn.performance:PERFORMANCE_RNN',
     'performance_with_dynamics', 'rnn_layer_sizes=[512,512,512]', 64, 512),
]


def time_steps(step, batch, warmup: int, timed: int) -> float:
    for _ in range(warmup):
        step(*batch)
    start = time.perf_counter()
    for _ in range(timed):
        result = step(*batch)
    np.asarray(result[0])  # wait for the last step
    return timed / (time.perf_counter() - start)


def events_rate(row, backend: str, quick: bool, timed: int) -> float:
    import tensorflow as tf
    from magenta_rnn.rnn import backends, train
    from magenta_rnn.rnn.cli import encoder_facts
    from magenta_rnn.rnn.model import events_rnn_builder

    name, target, config_name, hparams, batch, steps = row
    if quick:
        hparams, batch, steps = 'rnn_layer_sizes=[8,8],attn_length=2' if 'attn' in hparams or \
            name in ('attention_rnn', 'drum_kit') else 'rnn_layer_sizes=[8,8]', 4, 8
    module, attribute = target.split(':')
    model = getattr(importlib.import_module(module), attribute)
    config = model.load_config(config_name, hparams)
    facts = encoder_facts(model.build_encoder(config))
    backends.configure(backend=backend)
    step = train.build_train_step(events_rnn_builder(config), config.hparams, **facts).train_step
    rng = np.random.default_rng(0)
    heads = ([facts['num_classes']] if isinstance(facts['num_classes'], int)
             else facts['num_classes'])
    labels = np.stack([rng.integers(0, n, (batch, steps)) for n in heads], -1)
    if isinstance(facts['num_classes'], int):
        labels = labels[..., 0]
    width = facts['one_hot_width'] or facts['input_size']
    inputs = np.zeros((batch, steps, facts['input_size']), np.float32)
    inputs[..., :width] = np.eye(width, dtype=np.float32)[rng.integers(0, width, (batch, steps))]
    data = (tf.constant(inputs), tf.constant(labels), tf.fill([batch], steps))
    return time_steps(step, data, 1 if quick else 3, timed)


def music_vae_rate(backend: str, quick: bool, timed: int) -> float:
    import tensorflow as tf
    from magenta_rnn.music_vae import configs
    from magenta_rnn.music_vae.train import build_trainer
    from magenta_rnn.rnn import backends

    hparams = 'batch_size=4,z_size=4,enc_rnn_size=[8],dec_rnn_size=[8]' if quick else ''
    config = configs.load_config('cat-mel_2bar_small', hparams)
    converter = config.make_data_converter()
    backends.configure(backend=backend)
    trainer = build_trainer(config, converter)
    hp = config.hparams
    rng = np.random.default_rng(0)
    depth = converter.output_depth
    outputs = np.eye(depth, dtype=np.float32)[rng.integers(0, depth, (hp.batch_size, hp.max_seq_len))]
    batch = (tf.constant(outputs), tf.constant(outputs), tf.fill([hp.batch_size], hp.max_seq_len))
    return time_steps(lambda *b: (trainer.train_step(*b)['loss'],), batch,
                      1 if quick else 3, timed)


def generation_rate(batch_size: int, quick: bool) -> float:
    """Seconds of music per second of wall time, over the whole batch."""
    import tensorflow as tf
    from magenta_rnn.performance import PERFORMANCE_RNN, generator
    from magenta_rnn.performance.model import setup
    from magenta_rnn.rnn.cli import encoder_facts
    from magenta_rnn.rnn.model import NumpyStepper, build_events_rnn

    hparams = 'rnn_layer_sizes=[8,8]' if quick else 'rnn_layer_sizes=[512,512,512]'
    config = PERFORMANCE_RNN.load_config('performance_with_dynamics', hparams)
    facts = encoder_facts(PERFORMANCE_RNN.build_encoder(config))
    tf.random.set_seed(0)
    network = build_events_rnn(config.hparams, facts['input_size'], facts['num_classes'],
                               facts['input_depth'])
    network(tf.zeros([1, 1, facts['input_size']]))
    primer = generator.parse_primer_pitches('[60, 64, 67]')
    seconds = 2.0 if quick else 30.0
    start = time.perf_counter()
    outputs = generator.generate_performances(
        NumpyStepper(network), setup(config), primer, primer.total_time,
        primer.total_time + seconds, batch_size, rng=np.random.default_rng(0))
    elapsed = time.perf_counter() - start
    assert len(outputs) == batch_size
    return batch_size * seconds / elapsed


def main(argv=None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    import tensorflow as tf
    from magenta_rnn.rnn import engine

    names = [b for b in args.backends.split(',') if b]
    timed = args.steps or (2 if args.quick else 20)
    print('device:', engine.describe(tf.distribute.get_strategy()), flush=True)
    print(f'training steps/s ({timed} timed steps after warm-up; '
          f'{"quick: tiny sizes" if args.quick else "full sizes"})')
    header = f'{"model":<28}' + ''.join(f'{b:>12}' for b in names)
    print(header)
    print('-' * len(header))
    rows = [(row[0], lambda b, row=row: events_rate(row, b, args.quick, timed))
            for row in EVENTS_ROWS]
    rows.append(('cat-mel_2bar_small (b512)' if not args.quick else 'cat-mel_2bar_small',
                 lambda b: music_vae_rate(b, args.quick, timed)))
    for name, rate in rows:
        cells = []
        for backend in names:
            try:
                cells.append(f'{rate(backend):12.2f}')
            except Exception as e:
                print(f'  {name} / {backend}: {type(e).__name__}: {str(e)[:200]}', file=sys.stderr)
                cells.append(f'{"failed":>12}')
        print(f'{name:<28}' + ''.join(cells), flush=True)
    if not args.skip_generation:
        print('\nPerformance RNN generation (performance_with_dynamics'
              f'{" [8,8]" if args.quick else " 3x512"}, NumpyStepper): seconds of music per second')
        for batch_size in (1, 64):
            print(f'  batch {batch_size:>2}: {generation_rate(batch_size, args.quick):10.2f}',
                  flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
