"""Do our *_create_dataset SequenceExamples equal the original's, as multisets?

Runs the original's and our create_dataset on the same NoteSequence TFRecord
with --eval_ratio=0 and compares the (inputs, labels) of every example.

usage: python scripts/compare_create_dataset_with_peer.py --input=ns.tfrecord \
           --model=melody_rnn --configs=basic_rnn,mono_rnn,lookback_rnn,attention_rnn
"""
from __future__ import annotations

import argparse
import collections
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peer

DATASET = {'melody_rnn': 'training_melodies', 'drums_rnn': 'training_drum_tracks',
           'performance_rnn': 'training_performances'}
PEER_MODULE = {'melody_rnn': 'magenta.models.melody_rnn.melody_rnn_create_dataset',
               'drums_rnn': 'magenta.models.drums_rnn.drums_rnn_create_dataset',
               'performance_rnn': 'magenta.models.performance_rnn.performance_rnn_create_dataset'}
OUR_MODULE = {'melody_rnn': 'magenta_rnn.melody.create_dataset',
              'drums_rnn': 'magenta_rnn.drums.create_dataset',
              'performance_rnn': 'magenta_rnn.performance.create_dataset'}


def examples(path: str, float_digits: int) -> collections.Counter:
    sys.path.insert(0, str(peer.REPO_ROOT))
    from magenta_rnn.protobuf import example_pb2
    from magenta_rnn.records import read_records
    bag = collections.Counter()
    for record in read_records(path):
        example = example_pb2.SequenceExample.FromString(record)
        lists = example.feature_lists.feature_list
        inputs = tuple(tuple(round(v, float_digits) for v in f.float_list.value)
                       for f in lists['inputs'].feature)
        labels = tuple(tuple(f.int64_list.value) for f in lists['labels'].feature)
        bag[(inputs, labels)] += 1
    return bag


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--input', required=True, help='TFRecord of NoteSequences')
    parser.add_argument('--model', default='melody_rnn', choices=sorted(DATASET))
    parser.add_argument('--configs', required=True, help='comma-separated config names')
    parser.add_argument('--float_digits', type=int, default=5,
                        help='round float inputs to this many digits before comparing')
    args = parser.parse_args()
    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        for config in args.configs.split(','):
            peer_dir, our_dir = os.path.join(tmp, 'peer', config), os.path.join(tmp, 'ours', config)
            common = [f'--config={config}', f'--input={args.input}', '--eval_ratio=0']
            peer_seconds = peer.run_peer(['-m', PEER_MODULE[args.model], *common,
                                          f'--output_dir={peer_dir}', '--log=ERROR'],
                                         stdout=subprocess_devnull(), stderr=subprocess_devnull())
            our_seconds = peer.run_ours(['-m', OUR_MODULE[args.model], *common,
                                         f'--output_dir={our_dir}', '--log=ERROR'],
                                        stdout=subprocess_devnull(), stderr=subprocess_devnull())
            name = DATASET[args.model] + '.tfrecord'
            theirs = examples(os.path.join(peer_dir, name), args.float_digits)
            ours = examples(os.path.join(our_dir, name), args.float_digits)
            same = theirs == ours
            failures += not same
            print(f'{config}: peer {sum(theirs.values())} examples ({peer_seconds:.1f} s), '
                  f'ours {sum(ours.values())} ({our_seconds:.1f} s): '
                  f'{"EQUAL as multisets" if same else "DIFFERENT"}'
                  + ('' if same else f' (only peer: {sum((theirs - ours).values())}, '
                     f'only ours: {sum((ours - theirs).values())})'))
    return 1 if failures else 0


def subprocess_devnull():
    import subprocess
    return subprocess.DEVNULL


if __name__ == '__main__':
    sys.exit(main())
