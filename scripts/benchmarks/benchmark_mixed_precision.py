"""bfloat16 against float32 training on real data: steps/s and loss, the two runs interleaved
step by step in one process, so that both see the same (possibly shared) CPU.

    PYTHONPATH=$PWD .venv/bin/python scripts/benchmarks/benchmark_mixed_precision.py \
        --model=basic_rnn --steps=500
    PYTHONPATH=$PWD .venv/bin/python scripts/benchmarks/benchmark_mixed_precision.py \
        --model=cat-mel_2bar_small --steps=500 --hparams=batch_size=64

Data: Nottingham melodies (../shared/data/nottingham/MIDI/melody, or under
MAGENTA_RNN_SHARED_DATA), converted once by our own convert_dir_to_note_sequences (and for
basic_rnn melody_rnn_create_dataset, no eval split) into --work_dir and reused from there;
--data=FILE reads your own instead (basic_rnn: SequenceExamples, cat-mel_2bar_small:
NoteSequences). Both runs start from the same weights (--seed) and read the same batches.
Every --report steps: the step, each run's loss (the mean of the last --report steps), its
steps/s over them, and the machine's 1-minute load average (steps/s means little without it).
--batches batches are read once and cycled (at cat-mel's own batch 512 each is ~6 MB). On
2 shared cores cat-mel_2bar_small's own batch of 512 takes seconds a step, so 500 steps of
both runs take hours: the figures in scripts/benchmarks/README.md use batch_size=64.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import peer


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument('--model', choices=['basic_rnn', 'cat-mel_2bar_small'], required=True)
    parser.add_argument('--data', help='default: Nottingham, prepared once in --work_dir')
    parser.add_argument('--work_dir', default=os.path.join(tempfile.gettempdir(),
                                                            'mixed_precision_bench'))
    parser.add_argument('--steps', type=int, default=500)
    parser.add_argument('--report', type=int, default=50)
    parser.add_argument('--hparams', default='')
    parser.add_argument('--seed', type=int, default=1)
    parser.add_argument('--batches', type=int, default=100)
    args = parser.parse_args()
    args.data = args.data or prepare_data(Path(args.work_dir), args.model)

    from magenta_rnn.rnn.train import split_cpu_threads
    split_cpu_threads()
    import tensorflow as tf
    from magenta_rnn.rnn import backends

    runs = {}
    for dtype in ('float32', 'bfloat16'):
        backends.configure(mixed_precision='' if dtype == 'float32' else 'bfloat16')
        tf.random.set_seed(args.seed)
        runs[dtype] = build(args)
        runs[dtype]['step'](*runs[dtype]['batches'][0])  # trace with this dtype
    backends.configure(mixed_precision='')
    print(f'{args.model}: {"step":>5} {"fp32 loss":>10} {"fp32 st/s":>10} {"bf16 loss":>10} '
          f'{"bf16 st/s":>10} {"load":>5}', flush=True)
    losses = {d: [] for d in runs}
    seconds = {d: 0.0 for d in runs}
    for step in range(1, args.steps + 1):
        for dtype, run in runs.items():
            batch = run['batches'][step % len(run['batches'])]
            start = time.perf_counter()
            losses[dtype].append(float(run['step'](*batch)))
            seconds[dtype] += time.perf_counter() - start
        if step % args.report == 0:
            cells = []
            for dtype in runs:
                cells += [f'{np.mean(losses[dtype][-args.report:]):10.4f}',
                          f'{args.report / seconds[dtype]:10.2f}']
                seconds[dtype] = 0.0
            print(f'{args.model}: {step:5d} ' + ' '.join(cells) + f' {os.getloadavg()[0]:5.2f}',
                  flush=True)


def prepare_data(work: Path, model: str) -> str:
    """Nottingham NoteSequences (and basic_rnn's SequenceExamples) made by our own tools
    in `work`, once."""
    work.mkdir(parents=True, exist_ok=True)
    notes = work / 'nottingham.tfrecord'
    if not notes.exists():
        print('converting Nottingham MIDI...', flush=True)
        melodies = peer.shared_data() / 'nottingham' / 'MIDI' / 'melody'
        subprocess.run([sys.executable, '-m', 'magenta_rnn.convert', f'--input_dir={melodies}',
                        f'--output_file={notes}', '--log=ERROR'], env=peer.our_env(),
                       check=True, cwd=peer.REPO_ROOT)
    if model != 'basic_rnn':
        return str(notes)
    examples = work / 'basic_rnn' / 'training_melodies.tfrecord'
    if not examples.exists():
        print('making basic_rnn SequenceExamples...', flush=True)
        subprocess.run([sys.executable, '-m', 'magenta_rnn.melody.create_dataset',
                        '--config=basic_rnn', f'--input={notes}',
                        f'--output_dir={examples.parent}', '--eval_ratio=0', '--log=ERROR'],
                       env=peer.our_env(), check=True, cwd=peer.REPO_ROOT)
    return str(examples)


def build(args):
    if args.model == 'basic_rnn':
        from magenta_rnn.melody import MELODY_RNN
        from magenta_rnn.rnn import data, train
        from magenta_rnn.rnn.cli import encoder_facts
        from magenta_rnn.rnn.model import events_rnn_builder
        config = MELODY_RNN.load_config('basic_rnn', args.hparams)
        facts = encoder_facts(MELODY_RNN.build_encoder(config))
        step = train.build_train_step(events_rnn_builder(config), config.hparams,
                                      **facts).train_step
        dataset = data.make_dataset(args.data, config.hparams.batch_size, facts['input_size'],
                                    data.label_size_of(facts['num_classes']), seed=args.seed)
        batches = [b for _, b in zip(range(args.batches), dataset)]

        def loss_of(*batch):
            _, stats = step(*batch)
            return stats['cross_entropy'] / stats['entries']
        return {'step': loss_of, 'batches': batches}
    from magenta_rnn.music_vae import configs
    from magenta_rnn.music_vae.train import ExampleSource, build_trainer
    config = configs.load_config('cat-mel_2bar_small', args.hparams)
    converter = config.make_data_converter()
    trainer = build_trainer(config, converter)
    hp = config.hparams
    source = ExampleSource([args.data], converter, None, hp.batch_size, hp.max_seq_len,
                           training=True, seed=args.seed)
    batches = [b for _, b in zip(range(args.batches), source.batches())]
    return {'step': lambda *b: trainer.step(*b)[1], 'batches': batches}


if __name__ == '__main__':
    main()
