"""Baseline timings of the ORIGINAL Magenta events RNN (run in the peer venv only):
  source /work/peer_venv/bin/activate && source /work/peer_venv/peer_env.sh
  python scripts/benchmark_events_rnn_peer.py 5 train   # attention_rnn train op, batch 64, [128,128], T=128
  python scripts/benchmark_events_rnn_peer.py 5 gen     # one session.run per step, batch 10
Compare with scripts/benchmark_events_rnn.py run right after it (the CPU is shared).
"""
import os, sys, time, tempfile
import numpy as np
import tensorflow.compat.v1 as tf
tf.disable_v2_behavior()
from magenta.models.melody_rnn import melody_rnn_model
from magenta.models.shared import events_rnn_graph
from magenta.pipelines.pipelines_common import make_sequence_example
rng = np.random.RandomState(0)
d = tempfile.mkdtemp(); path = os.path.join(d, 'x.tfrecord')
with tf.python_io.TFRecordWriter(path) as w:
    for _ in range(200):
        inputs = [list((rng.rand(74) < 0.1).astype(float)) for _ in range(128)]
        labels = list(rng.randint(0, 40, 128))
        w.write(make_sequence_example(inputs, labels).SerializeToString())
if sys.argv[2] == 'train':
    config = melody_rnn_model.default_configs['attention_rnn']
    config.hparams.batch_size = 64
    build = events_rnn_graph.get_build_graph_fn('train', config, [path])
    g = tf.Graph()
    with g.as_default():
        build()
        train_op = tf.get_collection('train_op')[0]
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer()); sess.run(tf.local_variables_initializer())
            coord = tf.train.Coordinator(); threads = tf.train.start_queue_runners(sess, coord)
            for _ in range(3): sess.run(train_op)
            n = int(sys.argv[1]) if len(sys.argv) > 1 else 10
            t = time.time()
            for _ in range(n): sess.run(train_op)
            dt = time.time() - t
            print('peer train steps/s %.3f (%.1f ms/step)' % (n / dt, 1000 * dt / n))
            coord.request_stop()

# Generation: one session.run per step, batch 10, feeding the state back (as events_rnn_model does).
if sys.argv[2] != 'gen': sys.exit()
config = melody_rnn_model.default_configs['attention_rnn']
config.hparams.batch_size = 10
g = tf.Graph()
with g.as_default():
    events_rnn_graph.get_build_graph_fn('generate', config)()
    inputs = tf.get_collection('inputs')[0]; temp = tf.get_collection('temperature')[0]
    init = tf.get_collection('initial_state'); final = tf.get_collection('final_state'); sm = tf.get_collection('softmax')[0]
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        state = sess.run(init)
        x = (rng.rand(10, 1, 74) < 0.1).astype(np.float32)
        def step(state):
            feed = {inputs: x, temp: 1.0}; feed.update(zip(init, state))
            return sess.run([final, sm], feed)[0]
        for _ in range(5): state = step(state)
        t = time.time()
        for _ in range(200): state = step(state)
        print('peer generation %.2f ms per single step, batch 10' % ((time.time() - t) / 200 * 1000))
