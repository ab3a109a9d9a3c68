"""Lean vs full Performance RNN training data: bytes written and training steps/s.

Converts a few MIDI files, runs performance_rnn_create_dataset with and without
--lean_augmentation (all pieces to training), then trains performance_rnn_train on
each training file for --steps steps and reports the median Steps/s of the logged
windows after the first (start-up and tf.function tracing excluded):

  .venv/bin/python scripts/benchmarks/bench_lean_performance.py \
      [--midi ../shared/data/pop909/POP909/001/001.mid ...] [--steps=30] \
      [--hparams="batch_size=32,rnn_layer_sizes=[128,128]"]

A small model by default, so that the input pipeline's share of a step shows (the
shipped 3x512 model takes many seconds per step on a CPU).
"""
from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from peer import SHARED_DATA

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEFAULT_MIDI = [str(SHARED_DATA / 'pop909' / 'POP909' / n / f'{n}.mid')
                for n in ('001', '002', '003', '004')]
CONFIG = 'performance_with_dynamics'


def _run(module: str, *args: str) -> tuple[float, str]:
    env = dict(os.environ, PYTHONPATH=REPO_ROOT, TF_CPP_MIN_LOG_LEVEL='2')
    start = time.perf_counter()
    result = subprocess.run([sys.executable, '-m', module, *args], env=env, capture_output=True,
                            text=True, check=False)
    if result.returncode:
        sys.exit(f'{module} failed:\n{result.stderr[-3000:]}')
    return time.perf_counter() - start, result.stderr


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--midi', nargs='+', default=DEFAULT_MIDI)
    parser.add_argument('--steps', type=int, default=30)
    parser.add_argument('--hparams', default='batch_size=32,rnn_layer_sizes=[128,128]')
    args = parser.parse_args()
    sys.path.insert(0, REPO_ROOT)
    from magenta_rnn import records
    from magenta_rnn.music import midi_io

    report = {'midi_files': len(args.midi), 'hparams': args.hparams, 'steps': args.steps,
              'cpus': os.cpu_count()}
    with tempfile.TemporaryDirectory() as tmp:
        sequences = [midi_io.midi_file_to_note_sequence(path) for path in args.midi]
        report['input_seconds_of_music'] = round(sum(s.total_time for s in sequences), 1)
        notesequences = os.path.join(tmp, 'in.tfrecord')
        records.write_records(notesequences, [s.SerializeToString() for s in sequences])
        report['notesequence_bytes'] = os.path.getsize(notesequences)
        for mode in ('full', 'lean'):
            output_dir = os.path.join(tmp, mode)
            seconds, _ = _run('magenta_rnn.performance.create_dataset', f'--input={notesequences}',
                              f'--output_dir={output_dir}', f'--config={CONFIG}',
                              '--eval_ratio=0', *(['--lean_augmentation'] if mode == 'lean' else []))
            training_file = os.path.join(output_dir, 'training_performances.tfrecord')
            _, log = _run('magenta_rnn.performance.train', f'--config={CONFIG}',
                          f'--hparams={args.hparams}', f'--sequence_example_file={training_file}',
                          f'--run_dir={os.path.join(tmp, mode + "_run")}',
                          f'--num_training_steps={args.steps}', '--summary_frequency=10',
                          '--seed=1')
            rates = [float(r) for r in re.findall(r'Steps/s: ([0-9.]+)', log)]
            report[mode] = {
                    'training_file_bytes': os.path.getsize(training_file),
                    'training_records': records.count_records(training_file),
                    'create_dataset_seconds': round(seconds, 1),
                    'steps_per_second_median': round(statistics.median(rates[1:] or rates), 3),
                    'steps_per_second_windows': rates}
    report['bytes_ratio_full_over_lean'] = round(
            report['full']['training_file_bytes'] / report['lean']['training_file_bytes'], 1)
    report['steps_per_second_ratio_lean_over_full'] = round(
            report['lean']['steps_per_second_median'] / report['full']['steps_per_second_median'], 3)
    report['load_average_1min_at_end'] = round(os.getloadavg()[0], 2)
    print(json.dumps(report, indent=2))


if __name__ == '__main__':
    main()
