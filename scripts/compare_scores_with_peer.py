"""Compares our MusicXML and ABC readers with the original's (note_seq), file by file.

For every .xml/.mxl/.abc file under the given folders, the original's reader runs in
the peer venv (note_seq.musicxml_reader on the path; note_seq.abc_parser on the
file's decoded text, since the original's converter hands it bytes and so fails on
every ABC file under Python 3) and ours in this process. Each file ends as one of:

  equal       both read it and every NoteSequence is byte-identical
  different   both read it but some NoteSequence (or the set of tunes) differs
  skipped     both reject it (the whole file)
  only_ours / only_peer   one side rejects it

ABC tunes that a side skips inside a readable book are counted too.

  .venv/bin/python scripts/compare_scores_with_peer.py \
      ../shared/data/note_seq_testdata [more folders...] [--show=10]
"""
from __future__ import annotations

import argparse
import base64
import collections
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import peer

from magenta_rnn.music import abc_io, musicxml_io

SCORE_EXTENSIONS = ('.xml', '.mxl', '.abc')

# Runs in the peer venv: one JSON line per file.
_PEER_PROGRAM = r'''
import base64, json, sys, warnings
warnings.simplefilter('ignore')
import logging
logging.disable(logging.CRITICAL)
from absl import logging as absl_logging
absl_logging.set_verbosity(absl_logging.FATAL)
from note_seq import abc_parser, musicxml_reader
def decode(data):
    try:
        return data.decode('utf-8')
    except UnicodeDecodeError:
        return data.decode('latin-1')
for path in sys.stdin.read().splitlines():
    try:
        if path.lower().endswith('.abc'):
            with open(path, 'rb') as f:
                tunes, errors = abc_parser.parse_abc_tunebook(decode(f.read()))
            result = {'tunes': [[str(k), base64.b64encode(v.SerializeToString()).decode()]
                                for k, v in tunes.items()], 'tune_errors': len(errors)}
        else:
            sequence = musicxml_reader.musicxml_file_to_sequence_proto(path)
            result = {'tunes': [['', base64.b64encode(sequence.SerializeToString()).decode()]],
                      'tune_errors': 0}
    except Exception as error:
        result = {'error': f'{type(error).__name__}: {error}'[:200]}
    print(json.dumps(result), flush=True)
'''


def score_files(folders: list[str]) -> list[str]:
    files = []
    for folder in folders:
        for directory, _, names in os.walk(folder):
            files.extend(os.path.join(directory, name) for name in names
                         if name.lower().endswith(SCORE_EXTENSIONS))
    return sorted(files)


def read_ours(path: str) -> dict:
    try:
        if path.lower().endswith('.abc'):
            with open(path, 'rb') as f:
                tunes, errors = abc_io.parse_tune_book(abc_io.decode_abc(f.read()))
            return {'tunes': [[str(k), base64.b64encode(v.SerializeToString()).decode()]
                              for k, v in tunes.items()], 'tune_errors': len(errors)}
        sequence = musicxml_io.musicxml_file_to_note_sequence(path)
        return {'tunes': [['', base64.b64encode(sequence.SerializeToString()).decode()]],
                'tune_errors': 0}
    except Exception as error:  # counted, like the peer's
        return {'error': f'{type(error).__name__}: {error}'[:200]}


def read_peer(files: list[str]) -> list[dict]:
    result = subprocess.run([peer.peer_python(), '-c', _PEER_PROGRAM], input='\n'.join(files),
                            capture_output=True, text=True, env=peer.peer_env(), check=True)
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith('{')]
    if len(lines) != len(files):
        sys.exit(f'peer answered {len(lines)} of {len(files)} files:\n{result.stderr[-2000:]}')
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('folders', nargs='+')
    parser.add_argument('--show', type=int, default=10, help='examples listed per outcome')
    args = parser.parse_args()
    files = score_files(args.folders)
    theirs = read_peer(files)
    outcomes = collections.defaultdict(list)
    tunes = collections.Counter()
    for path, peer_result in zip(files, theirs):
        ours = read_ours(path)
        kind = 'abc' if path.lower().endswith('.abc') else 'musicxml'
        if 'error' in ours and 'error' in peer_result:
            outcome = 'skipped'
        elif 'error' in ours:
            outcome = 'only_peer'
        elif 'error' in peer_result:
            outcome = 'only_ours'
        else:
            outcome = 'equal' if ours['tunes'] == peer_result['tunes'] else 'different'
            if kind == 'abc':
                tunes['read_equal' if outcome == 'equal' else 'read_different'] += len(
                        peer_result['tunes'])
                tunes['skipped_ours'] += ours['tune_errors']
                tunes['skipped_peer'] += peer_result['tune_errors']
        outcomes[(kind, outcome)].append(
                (path, ours.get('error', ''), peer_result.get('error', '')))
    report = {'files': len(files),
              'counts': {f'{kind} {outcome}': len(paths)
                         for (kind, outcome), paths in sorted(outcomes.items())},
              'abc_tunes_in_books_both_read': dict(tunes),
              'examples': {f'{kind} {outcome}': paths[:args.show]
                           for (kind, outcome), paths in sorted(outcomes.items())
                           if outcome != 'equal'}}
    print(json.dumps(report, indent=1))
    mismatch = any(outcome in ('different', 'only_ours', 'only_peer')
                   for _, outcome in outcomes)
    print('PARITY MISMATCH' if mismatch else 'PARITY OK')
    sys.exit(1 if mismatch else 0)


if __name__ == '__main__':
    main()
