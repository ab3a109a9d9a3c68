"""Times our convert_dir_to_note_sequences against the original Magenta one.

Both run as whole command-line processes on the same folder (start-up and the
TensorFlow import included, as a user would see it), interleaved, and the best
(wall) of --repeat runs is kept for each, with its CPU time (all processes of the run):

  PYTHONPATH=$PWD .venv/bin/python scripts/benchmarks/bench_convert.py \
      --input_dir=../shared/data/asap [--repeat=1]
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from peer import REPO_ROOT, peer_env, peer_python


def _midi_files(input_dir: str) -> tuple[int, int]:
    count = size = 0
    for directory, _, names in os.walk(input_dir):
        for name in names:
            if name.lower().endswith(('.mid', '.midi')):
                count += 1
                size += os.path.getsize(os.path.join(directory, name))
    return count, size


def _time(command: list[str], env: dict | None = None) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the whole process tree) of one run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--input_dir', required=True)
    parser.add_argument('--repeat', type=int, default=1)
    args = parser.parse_args()
    input_dir = os.path.abspath(args.input_dir)
    files, size = _midi_files(input_dir)

    with tempfile.TemporaryDirectory() as tmp:
        ours_env = dict(os.environ, PYTHONPATH=str(REPO_ROOT), TF_CPP_MIN_LOG_LEVEL='2')
        ours_command = [sys.executable, '-m', 'magenta_rnn.convert', f'--input_dir={input_dir}',
                        f'--output_file={tmp}/ours.tfrecord', '--recursive', '--log=ERROR']
        peer_command = [peer_python(), '-m', 'magenta.scripts.convert_dir_to_note_sequences',
                        f'--input_dir={input_dir}', f'--output_file={tmp}/peer.tfrecord',
                        '--recursive', '--log=ERROR']
        ours_runs, peer_runs = [], []
        for _ in range(args.repeat):  # interleaved, so both see the same machine load
            ours_runs.append(_time(ours_command, ours_env))
            peer_runs.append(_time(peer_command, peer_env()))
    ours_s, ours_cpu = min(ours_runs)
    peer_s, peer_cpu = min(peer_runs)

    def rates(seconds: float, cpu_seconds: float) -> dict:
        return {'seconds': round(seconds, 2), 'cpu_seconds': round(cpu_seconds, 2),
                'files_per_s': round(files / seconds, 1),
                'mb_per_s': round(size / 1e6 / seconds, 3)}

    print(json.dumps({'input_dir': args.input_dir, 'midi_files': files,
                      'megabytes': round(size / 1e6, 2), 'cpus': os.cpu_count(),
                      'load_average_1min_at_end': round(os.getloadavg()[0], 2),
                      'ours': rates(ours_s, ours_cpu), 'peer': rates(peer_s, peer_cpu),
                      'speedup_ours_over_peer_wall': round(peer_s / ours_s, 2),
                      'cpu_ratio_peer_over_ours': round(peer_cpu / ours_cpu, 2)}, indent=2))


if __name__ == '__main__':
    main()
