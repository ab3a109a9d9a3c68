"""Times the events RNN: training steps/s and single-step generation latency.

  PYTHONPATH=$PWD python scripts/benchmark_events_rnn.py [--jit] [--steps 10]

Default shape: attention_rnn-like, batch 64, [128,128], attn_length 40, input 74,
40 classes, T=128, dropout keep 0.5; generation batch 10, one step per call.
"""
from __future__ import annotations

import argparse
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--batch', type=int, default=64)
    parser.add_argument('--length', type=int, default=128)
    parser.add_argument('--layers', default='128,128')
    parser.add_argument('--attn_length', type=int, default=40)
    parser.add_argument('--steps', type=int, default=10)
    parser.add_argument('--jit', action='store_true', help='XLA-compile the train step')
    parser.add_argument('--gen_batch', type=int, default=10)
    args = parser.parse_args()

    import numpy as np
    import tensorflow as tf

    from magenta_rnn.hparams import HParams
    from magenta_rnn.rnn.model import build_events_rnn

    hparams = HParams(batch_size=args.batch, rnn_layer_sizes=[int(s) for s in args.layers.split(',')],
                      dropout_keep_prob=0.5, attn_length=args.attn_length, clip_norm=3.0,
                      learning_rate=0.001, residual_connections=False)
    model = build_events_rnn(hparams, 74, 40)
    optimizer = tf.keras.optimizers.Adam(0.001)
    rng = np.random.default_rng(0)
    inputs = tf.constant((rng.random((args.batch, args.length, 74)) < 0.1).astype('float32'))
    labels = tf.constant(rng.integers(0, 40, (args.batch, args.length)))

    @tf.function(jit_compile=args.jit)
    def train_step(inputs, labels):
        with tf.GradientTape() as tape:
            logits = model(inputs, training=True)
            loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels, logits))
        grads = tape.gradient(loss, model.trainable_variables)
        grads = [tf.clip_by_norm(g, 3.0) for g in grads]
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    t = time.time()
    train_step(inputs, labels).numpy()
    print(f'first train step (trace/compile) {time.time() - t:.1f}s')
    train_step(inputs, labels).numpy()
    t = time.time()
    for _ in range(args.steps):
        loss = train_step(inputs, labels)
    loss.numpy()
    dt = time.time() - t
    print(f'train: {args.steps / dt:.2f} steps/s ({1000 * dt / args.steps:.0f} ms/step), '
          f'batch {args.batch}, T {args.length}, layers {args.layers}, attn {args.attn_length}')

    state = model.zero_state(args.gen_batch)
    step_input = tf.constant((rng.random((args.gen_batch, 1, 74)) < 0.1).astype('float32'))
    for _ in range(3):
        softmax, state = model.step(step_input, state, 1.0)
    n = 200
    t = time.time()
    for _ in range(n):
        softmax, state = model.step(step_input, state, 1.0)
        softmax.numpy()
    dt = time.time() - t
    print(f'generation: {1000 * dt / n:.2f} ms per single step, batch {args.gen_batch}')


if __name__ == '__main__':
    main()
