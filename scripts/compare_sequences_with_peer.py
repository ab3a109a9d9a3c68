"""Parity check: magenta_rnn.music.sequences against note_seq.sequences_lib on real MIDI.

The original runs in a subprocess of the peer venv (scripts/peer.py finds it); it converts each
MIDI file with note_seq.midi_file_to_note_sequence, applies every operation below and
sends back serialized NoteSequences (the wire format is shared). This process applies
our functions to the same input protos and requires equal protos (or the same error).

    PYTHONPATH=$PWD .venv/bin/python scripts/compare_sequences_with_peer.py \
        --nottingham 200 --asap 20

The same file runs as the peer worker (`--peer-worker`); it must not import magenta_rnn then.
"""
from __future__ import annotations

import argparse
import difflib
import pickle
import random
import subprocess
import sys
import tempfile
import time
import types
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import peer as peer_tools


def _chain(sl, ns, *steps):
    """Applies list-valued steps one after another, flattening the pieces."""
    pieces = [ns]
    for step in steps:
        pieces = [out for piece in pieces for out in step(piece)]
    return pieces


def run_operations(sl, ns, index: int) -> dict:
    """name -> ('ok', [serialized protos], extra) or ('err', error class name)."""
    total = ns.total_time
    operations = {
        'quantize_spq4': lambda: ([sl.quantize_note_sequence(ns, 4)], None),
        'quantize_sps100': lambda: ([sl.quantize_note_sequence_absolute(ns, 100)], None),
        'quantize_spq4_per_time_change_piece': lambda: (_chain(
            sl, ns, sl.split_note_sequence_on_time_changes,
            lambda p: [sl.quantize_note_sequence(p, 4)]), None),
        'split_on_time_changes': lambda: (sl.split_note_sequence_on_time_changes(ns), None),
        'split_on_time_changes_skip_inside_notes': lambda: (
            sl.split_note_sequence_on_time_changes(ns, True), None),
        'apply_sustain': lambda: ([sl.apply_sustain_control_changes(ns)], None),
        'split_30s': lambda: (sl.split_note_sequence(ns, 30), None),
        'split_7.3s_skip_inside_notes': lambda: (sl.split_note_sequence(ns, 7.3, True), None),
        'performance_chain': lambda: (_chain(  # sustain -> split 30 s -> 100 steps/s
            sl, ns, lambda p: [sl.apply_sustain_control_changes(p)],
            lambda p: sl.split_note_sequence(p, 30),
            lambda p: [sl.quantize_note_sequence_absolute(p, 100)]), None),
        'stretch_1.05': lambda: ([sl.stretch_note_sequence(ns, 1.05)], None),
        'stretch_0.95': lambda: ([sl.stretch_note_sequence(ns, 0.95)], None),
        'transpose_+3': lambda: _pair(sl.transpose_note_sequence(ns, 3)),
        'transpose_-7_range_48_84': lambda: _pair(
            sl.transpose_note_sequence(ns, -7, 48, 84)),
        'trim_1_10': lambda: ([sl.trim_note_sequence(ns, 1.0, 10.0)], None),
        'extract_30pc_70pc': lambda: ([sl.extract_subsequence(
            ns, total * 0.3, total * 0.7)], None),
        'augment_clamped': lambda: _seeded(index, lambda: [sl.augment_note_sequence(
            _copy(ns), 0.95, 1.05, -5, 5, 21, 108)]),
        'augment_delete': lambda: _seeded(index, lambda: [sl.augment_note_sequence(
            _copy(ns), 0.9, 1.1, -12, 12, 36, 96, delete_out_of_range_notes=True)]),
    }
    results = {}
    for name, operation in operations.items():
        started = time.perf_counter()
        try:
            protos, extra = operation()
            results[name] = ('ok', [p.SerializeToString() for p in protos], extra)
        except Exception as error:  # the error class is part of the contract
            results[name] = ('err', type(error).__name__)
        results[name + '@seconds'] = time.perf_counter() - started
    return results


def _pair(result):
    sequence, deleted = result
    return [sequence], deleted


def _seeded(index, make):
    random.seed(index)
    return make(), None


def _copy(ns):
    # note_seq's augment edits its input in place; give both sides a private copy.
    result = type(ns)()
    result.CopyFrom(ns)
    return result


def peer_worker(file_list: Path, out_path: Path) -> None:
    import note_seq  # only in the peer venv
    from note_seq import sequences_lib
    records = []
    for index, path in enumerate(file_list.read_text().splitlines()):
        try:
            ns = note_seq.midi_file_to_note_sequence(path)
        except Exception as error:
            records.append((path, None, f'{type(error).__name__}: {error}'))
            continue
        records.append((path, ns.SerializeToString(), run_operations(sequences_lib, ns, index)))
    with open(out_path, 'wb') as f:
        pickle.dump(records, f, protocol=4)


def _first_difference(ours, theirs) -> str:
    from google.protobuf import text_format
    diff = difflib.unified_diff(text_format.MessageToString(theirs).splitlines(),
                                text_format.MessageToString(ours).splitlines(),
                                'note_seq', 'magenta_rnn', n=2, lineterm='')
    return '\n'.join(list(diff)[:30])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--peer-worker', action='store_true', help=argparse.SUPPRESS)
    parser.add_argument('--files', type=Path, help=argparse.SUPPRESS)
    parser.add_argument('--out', type=Path, help=argparse.SUPPRESS)
    parser.add_argument('--data', type=Path, default=None,
                        help='the shared real-MIDI folder (default: ../shared/data)')
    parser.add_argument('--nottingham', type=int, default=200)
    parser.add_argument('--asap', type=int, default=20)
    args = parser.parse_args()
    if args.peer_worker:
        peer_worker(args.files, args.out)
        return 0

    from magenta_rnn.music import sequences, subsequences, transforms
    from magenta_rnn.protobuf import music_pb2
    # Our sequences_lib is three modules (quantization, subsequences, transforms).
    our_sequences_lib = types.SimpleNamespace(
        **{**vars(sequences), **vars(subsequences), **vars(transforms)})

    data = args.data or peer_tools.shared_data()
    files = sorted(str(p) for p in (data / 'nottingham' / 'MIDI').glob('*.mid'))
    files = files[:args.nottingham]
    asap = sorted(str(p) for p in (data / 'asap').rglob('*.mid')
                  if p.name != 'midi_score.mid')
    files += asap[:: max(1, len(asap) // max(1, args.asap))][:args.asap]

    with tempfile.TemporaryDirectory() as tmp:
        file_list, out = Path(tmp) / 'files.txt', Path(tmp) / 'peer.pkl'
        file_list.write_text('\n'.join(files))
        subprocess.run([peer_tools.peer_python(), str(Path(__file__).resolve()), '--peer-worker',
                        '--files', str(file_list), '--out', str(out)],
                       env=peer_tools.peer_env(), check=True)
        with open(out, 'rb') as f:
            records = pickle.load(f)

    compared = mismatches = skipped = protos_compared = 0
    seconds = {'note_seq': {}, 'magenta_rnn': {}}
    for index, (path, serialized, peer_results) in enumerate(records):
        if serialized is None:
            skipped += 1
            print(f'skip {path}: peer could not convert ({peer_results})')
            continue
        ns = music_pb2.NoteSequence.FromString(serialized)
        our_results = run_operations(our_sequences_lib, ns, index)
        for name, peer in peer_results.items():
            if name.endswith('@seconds'):
                op = name[:-len('@seconds')]
                seconds['note_seq'][op] = seconds['note_seq'].get(op, 0.0) + peer
                seconds['magenta_rnn'][op] = (seconds['magenta_rnn'].get(op, 0.0)
                                              + our_results[name])
                continue
            compared += 1
            ours = our_results[name]
            problem = None
            if peer[0] != ours[0] or (peer[0] == 'err' and peer[1] != ours[1]):
                problem = f'note_seq gave {peer[:1] + peer[1:2] if peer[0] == "err" else "ok"}, ' \
                          f'we gave {ours[1] if ours[0] == "err" else "ok"}'
            elif peer[0] == 'ok':
                if len(peer[1]) != len(ours[1]):
                    problem = f'{len(peer[1])} pieces from note_seq, {len(ours[1])} from us'
                elif peer[2] != ours[2]:
                    problem = f'extra result {peer[2]!r} from note_seq, {ours[2]!r} from us'
                else:
                    for theirs_bytes, ours_bytes in zip(peer[1], ours[1]):
                        protos_compared += 1
                        theirs = music_pb2.NoteSequence.FromString(theirs_bytes)
                        mine = music_pb2.NoteSequence.FromString(ours_bytes)
                        if theirs != mine:
                            problem = 'protos differ:\n' + _first_difference(mine, theirs)
                            break
            if problem:
                mismatches += 1
                print(f'MISMATCH {Path(path).name} {name}: {problem}')

    files_done = len(records) - skipped
    print(f'{files_done} files ({skipped} skipped), {compared} operation results, '
          f'{protos_compared} protos compared: {mismatches} mismatches')
    print(f'{"operation":42s} {"note_seq s":>10s} {"ours s":>8s}')
    for op in seconds['note_seq']:
        print(f'{op:42s} {seconds["note_seq"][op]:10.3f} {seconds["magenta_rnn"][op]:8.3f}')
    print(f'{"total":42s} {sum(seconds["note_seq"].values()):10.3f} '
          f'{sum(seconds["magenta_rnn"].values()):8.3f}')
    return 1 if mismatches else 0


if __name__ == '__main__':
    sys.exit(main())
