"""Compares our convert_dir_to_note_sequences with the original Magenta one, per id.

Runs both converters on the same folder (the original in its own venv, which
scripts/peer.py finds, in a subprocess), then for every id compares notes (pitch,
velocity, start/end, instrument, program, is_drum), tempos, time and key signatures and
total_time, and checks that each side reads the other's TFRecord (the original's side through a
subprocess that parses our file with note_seq and compares it with its own).

  PYTHONPATH=$PWD .venv/bin/python scripts/compare_notesequences_with_peer.py \
      --input_dir=../shared/data/nottingham/MIDI [--limit=200] [--recursive]

--limit N converts only the first N MIDI files (sorted relative paths), through a
temporary folder of symlinks with the same basename so ids stay the same.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from peer import peer_env, peer_python  # noqa: E402  (scripts/peer.py finds the original)

# Runs in the peer venv: parses both files with note_seq, checks proto equality per id.
_PEER_READER = r'''
import json, sys
import tensorflow as tf
from note_seq.protobuf import music_pb2
def load(path):
    out = {}
    for record in tf.data.TFRecordDataset(path).as_numpy_iterator():
        ns = music_pb2.NoteSequence.FromString(record)
        out[ns.id] = ns
    return out
ours, theirs = load(sys.argv[1]), load(sys.argv[2])
common = set(ours) & set(theirs)
print(json.dumps({"read": len(ours), "equal": sum(ours[i] == theirs[i] for i in common),
                  "common": len(common)}))
'''


def _subset_dir(input_dir: str, limit: int, recursive: bool, tmp: str) -> str:
    """A folder named like input_dir holding symlinks to its first `limit` MIDI files."""
    sys.path.insert(0, REPO_ROOT)
    from magenta_rnn.convert import list_files
    subset = os.path.join(tmp, os.path.basename(os.path.normpath(input_dir)))
    midi_files = [(full_path, relative) for full_path, relative, kind
                  in list_files(input_dir, recursive).files if kind == 'midi']
    for full_path, relative in sorted(midi_files, key=lambda item: item[1])[:limit]:
        target = os.path.join(subset, relative)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        os.symlink(os.path.abspath(full_path), target)
    return subset


def run_ours(input_dir: str, output_file: str, recursive: bool) -> float:
    env = dict(os.environ, PYTHONPATH=REPO_ROOT, TF_CPP_MIN_LOG_LEVEL='2')
    command = [sys.executable, '-m', 'magenta_rnn.convert', f'--input_dir={input_dir}',
               f'--output_file={output_file}', f'--recursive={str(recursive).lower()}',
               '--log=ERROR']
    start = time.perf_counter()
    subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def run_peer(input_dir: str, output_file: str, recursive: bool) -> float:
    command = [peer_python(), '-m', 'magenta.scripts.convert_dir_to_note_sequences',
               f'--input_dir={input_dir}', f'--output_file={output_file}',
               f'--recursive={str(recursive).lower()}', '--log=ERROR']
    start = time.perf_counter()
    subprocess.run(command, env=peer_env(), check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def _note_key(note) -> tuple:
    return (note.pitch, note.velocity, note.start_time, note.end_time, note.instrument,
            note.program, note.is_drum)


def compare_sequences(ours, theirs) -> list[str]:
    """Names of the compared parts that differ between two NoteSequences."""
    differences = []
    if [_note_key(n) for n in ours.notes] != [_note_key(n) for n in theirs.notes]:
        differences.append('notes')
    if [(t.time, t.qpm) for t in ours.tempos] != [(t.time, t.qpm) for t in theirs.tempos]:
        differences.append('tempos')
    if ([(t.time, t.numerator, t.denominator) for t in ours.time_signatures]
            != [(t.time, t.numerator, t.denominator) for t in theirs.time_signatures]):
        differences.append('time_signatures')
    if ([(k.time, k.key, k.mode) for k in ours.key_signatures]
            != [(k.time, k.key, k.mode) for k in theirs.key_signatures]):
        differences.append('key_signatures')
    if ours.total_time != theirs.total_time:
        differences.append('total_time')
    for field in ('filename', 'collection_name', 'ticks_per_quarter'):
        if getattr(ours, field) != getattr(theirs, field):
            differences.append(field)
    return differences


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--input_dir', required=True)
    parser.add_argument('--recursive', action='store_true')
    parser.add_argument('--limit', type=int, default=0, help='only the first N MIDI files')
    args = parser.parse_args()

    sys.path.insert(0, REPO_ROOT)
    from magenta_rnn import records

    with tempfile.TemporaryDirectory() as tmp:
        input_dir = os.path.abspath(args.input_dir.rstrip('/'))
        if args.limit:
            input_dir = _subset_dir(input_dir, args.limit, args.recursive, tmp)
        ours_path = os.path.join(tmp, 'ours.tfrecord')
        peer_path = os.path.join(tmp, 'peer.tfrecord')
        ours_s = run_ours(input_dir, ours_path, args.recursive)
        peer_s = run_peer(input_dir, peer_path, args.recursive)

        ours = {ns.id: ns for ns in records.read_note_sequences(ours_path)}
        # The records as written, before any re-serialization.
        ours_raw = {records.music_pb2.NoteSequence.FromString(raw).id: raw
                    for raw in records.read_records(ours_path)}
        peer_raw = {records.music_pb2.NoteSequence.FromString(raw).id: raw
                    for raw in records.read_records(peer_path)}
        # Our reader on the original's file: the "we read theirs" check.
        theirs = {ns.id: ns for ns in records.read_note_sequences(peer_path)}
        peer_read = subprocess.run(
                [peer_python(), '-', ours_path, peer_path], env=peer_env(),
                input=_PEER_READER, capture_output=True, text=True, check=True)
        peer_view = json.loads(peer_read.stdout.strip().splitlines()[-1])

    differing = {}
    identical_bytes = 0
    for sequence_id in sorted(set(ours) & set(theirs)):
        differences = compare_sequences(ours[sequence_id], theirs[sequence_id])
        if differences:
            differing[sequence_id] = differences
        if ours[sequence_id].SerializeToString() == theirs[sequence_id].SerializeToString():
            identical_bytes += 1
    result = {
        'input_dir': args.input_dir, 'limit': args.limit or None,
        'ours_sequences': len(ours), 'peer_sequences': len(theirs),
        'only_ours': sorted(set(ours) - set(theirs))[:10],
        'only_peer': sorted(set(theirs) - set(ours))[:10],
        'common': len(set(ours) & set(theirs)),
        'differing': len(differing), 'differing_examples': dict(list(differing.items())[:5]),
        'byte_identical': identical_bytes,
        'records_byte_identical_as_written': sum(
                ours_raw[i] == peer_raw[i] for i in set(ours_raw) & set(peer_raw)),
        'peer_reads_ours': peer_view,
        'notes_ours': sum(len(ns.notes) for ns in ours.values()),
        'notes_peer': sum(len(ns.notes) for ns in theirs.values()),
        'seconds_ours': round(ours_s, 2), 'seconds_peer': round(peer_s, 2),
    }
    print(json.dumps(result, indent=2))
    ok = (not differing and set(ours) == set(theirs) and peer_view['equal'] == len(theirs)
          and peer_view['read'] == len(ours))
    print('PARITY OK' if ok else 'PARITY MISMATCH')
    sys.exit(0 if ok else 1)


if __name__ == '__main__':
    main()
