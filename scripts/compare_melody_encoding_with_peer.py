"""Compares melody extraction and encoding with the original Magenta (the "peer").

The peer side (run in the original's venv, importing only note_seq/magenta) converts
MIDI files to NoteSequences, splits them on time changes, quantizes them at 4 steps
per quarter, extracts melodies under two settings, squashes each melody as each
melody config does and encodes it with that config's encoder. It ships the quantized
NoteSequences (serialized) and all its results to this side in a pickle.

This side parses the same quantized NoteSequences, runs magenta_rnn's
extract_melodies, squash and encoders, and compares: melody events, start/end steps,
steps per bar, statistics, squash amounts, and every SequenceExample's inputs and
labels exactly.

Usage (from the repo root):
  PYTHONPATH=$PWD .venv/bin/python scripts/compare_melody_encoding_with_peer.py \
      --midi_dir ../shared/data/nottingham/MIDI/melody --num_files 200 \
      --midi_dir ../shared/data/nottingham/MIDI --num_files 100
"""
from __future__ import annotations

import argparse
import os
import pickle
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peer as peer_tools

# name -> (min_note, max_note, transpose_to_key), REFERENCE.md "Melody RNN configs".
CONFIGS = {
    'basic_rnn': (48, 84, 0),
    'mono_rnn': (0, 128, None),
    'lookback_rnn': (48, 84, 0),
    'attention_rnn': (48, 84, 0),
}

# Extraction settings: the melody pipeline's, and extract_melodies' defaults with
# polyphony kept, truncation and bar padding.
SETTINGS = {
    'pipeline': dict(min_bars=7, max_steps_truncate=512, min_unique_pitches=5, gap_bars=1.0,
                     ignore_polyphonic_notes=False, filter_drums=True),
    'padded': dict(min_bars=7, max_steps_truncate=300, min_unique_pitches=5, gap_bars=1.0,
                   ignore_polyphonic_notes=True, pad_end=True, filter_drums=True),
}






def _melody_record(melody) -> tuple:
    return (list(melody), melody.start_step, melody.end_step, melody.steps_per_bar,
            melody.steps_per_quarter)


# ----------------------------------------------------------------------------------
# Peer side (original note_seq / magenta).


def run_peer(midi_files: list[str], out_path: str) -> None:
    import copy

    import note_seq
    from magenta.pipelines import melody_pipelines
    from magenta.pipelines.pipelines_common import make_sequence_example
    from note_seq import encoder_decoder, melody_encoder_decoder

    encoders = {
        'basic_rnn': encoder_decoder.OneHotEventSequenceEncoderDecoder(
            melody_encoder_decoder.MelodyOneHotEncoding(48, 84)),
        'mono_rnn': encoder_decoder.OneHotEventSequenceEncoderDecoder(
            melody_encoder_decoder.MelodyOneHotEncoding(0, 128)),
        'lookback_rnn': encoder_decoder.LookbackEventSequenceEncoderDecoder(
            melody_encoder_decoder.MelodyOneHotEncoding(48, 84)),
        'attention_rnn': melody_encoder_decoder.KeyMelodyEncoderDecoder(48, 84),
    }
    results = []
    for path in midi_files:
        sequence = note_seq.midi_file_to_note_sequence(path)
        for piece in note_seq.sequences_lib.split_note_sequence_on_time_changes(sequence):
            try:
                quantized = note_seq.quantize_note_sequence(piece, 4)
            except Exception:
                continue
            entry = {'path': path, 'quantized': quantized.SerializeToString(), 'settings': {}}
            for setting_name, kwargs in SETTINGS.items():
                try:
                    melodies, stats = melody_pipelines.extract_melodies(quantized, **kwargs)
                except Exception as error:
                    entry['settings'][setting_name] = {'error': type(error).__name__}
                    continue
                encoded = []
                for melody in melodies:
                    per_config = {}
                    for config, (min_note, max_note, key) in CONFIGS.items():
                        squashed = copy.deepcopy(melody)
                        amount = squashed.squash(min_note, max_note, key)
                        example = make_sequence_example(*encoders[config].encode(squashed))
                        per_config[config] = (int(amount), list(squashed),
                                              peer_tools.example_to_lists(example))
                    encoded.append(per_config)
                entry['settings'][setting_name] = {
                    'melodies': [_melody_record(m) for m in melodies],
                    'stats': peer_tools.stats_to_dict(stats),
                    'encoded': encoded,
                }
            results.append(entry)
    with open(out_path, 'wb') as f:
        pickle.dump(results, f)


# ----------------------------------------------------------------------------------
# Our side.


def _sort_key(record):
    return (record[1], record[2], record[0])


def compare(peer_results: list[dict]) -> dict:
    from magenta_rnn.music.melodies import extract_melodies
    from magenta_rnn.melody import MELODY_RNN
    from magenta_rnn.protobuf import music_pb2

    # Our encoders as training builds them, from configs/melody_rnn/<name>.json.
    encoders = {name: MELODY_RNN.build_encoder(MELODY_RNN.load_config(name)) for name in CONFIGS}
    counts = {'sequences': 0, 'melodies': 0, 'examples': 0, 'steps': 0, 'mismatches': 0}
    mismatch_lines: list[str] = []
    encode_seconds = 0.0

    def mismatch(text: str) -> None:
        counts['mismatches'] += 1
        if len(mismatch_lines) < 20:
            mismatch_lines.append(text)

    for entry in peer_results:
        counts['sequences'] += 1
        quantized = music_pb2.NoteSequence.FromString(entry['quantized'])
        for setting_name, peer in entry['settings'].items():
            where = f"{os.path.basename(entry['path'])} [{setting_name}]"
            try:
                melodies, stats = extract_melodies(quantized, **SETTINGS[setting_name])
            except Exception as error:
                if peer.get('error') != type(error).__name__:
                    mismatch(f'{where}: we raised {type(error).__name__}, peer {peer.get("error")}')
                continue
            if 'error' in peer:
                mismatch(f'{where}: peer raised {peer["error"]}, we did not')
                continue
            ours_stats = peer_tools.stats_to_dict(stats)
            if ours_stats != peer['stats']:
                mismatch(f'{where}: stats differ: ours {ours_stats} peer {peer["stats"]}')
            ours = [_melody_record(m) for m in melodies]
            # Both sides walk instruments in ascending order; compare as sets anyway (REFERENCE.md
            # "Pitfalls").
            if sorted(ours, key=_sort_key) != sorted(peer['melodies'], key=_sort_key):
                mismatch(f'{where}: melodies differ ({len(ours)} ours, '
                         f'{len(peer["melodies"])} peer)')
                continue
            order = sorted(range(len(ours)), key=lambda i: _sort_key(ours[i]))
            peer_order = sorted(range(len(ours)), key=lambda i: _sort_key(peer['melodies'][i]))
            for i, j in zip(order, peer_order):
                counts['melodies'] += 1
                for config, (min_note, max_note, key) in CONFIGS.items():
                    squashed = melodies[i].copy()
                    amount = squashed.squash(min_note, max_note, key)
                    peer_amount, peer_events, (peer_inputs, peer_labels) = peer['encoded'][j][config]
                    if amount != peer_amount or list(squashed) != peer_events:
                        mismatch(f'{where} melody {i} {config}: squash differs')
                        continue
                    start = time.perf_counter()
                    example = encoders[config].encode(squashed)
                    encode_seconds += time.perf_counter() - start
                    inputs, labels = peer_tools.example_to_lists(example)
                    counts['examples'] += 1
                    counts['steps'] += len(labels)
                    if labels != peer_labels:
                        mismatch(f'{where} melody {i} {config}: labels differ')
                    if inputs != peer_inputs:
                        bad = next(k for k, (a, b) in enumerate(zip(inputs, peer_inputs))
                                   if a != b) if len(inputs) == len(peer_inputs) else -1
                        mismatch(f'{where} melody {i} {config}: inputs differ at step {bad}')
    counts['encode_seconds'] = round(encode_seconds, 2)
    return {'counts': counts, 'mismatch_lines': mismatch_lines}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--midi_dir', action='append', default=None,
                        help='folder of .mid files (repeatable)')
    parser.add_argument('--num_files', action='append', type=int, default=None,
                        help='how many files (sorted by name) to take from each --midi_dir')
    parser.add_argument('--peer_dump', default=None, help=argparse.SUPPRESS)
    parser.add_argument('--peer_files', default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.peer_dump:  # Running inside the peer venv.
        with open(args.peer_files) as f:
            run_peer(f.read().split('\n'), args.peer_dump)
        return 0

    repo_root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    midi_dirs = args.midi_dir or [os.path.join(repo_root, '..', 'shared', 'data', 'nottingham',
                                               'MIDI', 'melody'),
                                  os.path.join(repo_root, '..', 'shared', 'data', 'nottingham',
                                               'MIDI')]
    num_files = args.num_files or [200, 100]
    if len(num_files) != len(midi_dirs):
        parser.error('give one --num_files per --midi_dir')
    midi_files = []
    for folder, count in zip(midi_dirs, num_files):
        if not os.path.isdir(folder):
            parser.error(f'--midi_dir {folder}: no such folder')
        names = sorted(n for n in os.listdir(folder) if n.lower().endswith(('.mid', '.midi')))
        midi_files += [os.path.join(folder, n) for n in names[:count]]

    with tempfile.TemporaryDirectory() as tmp:
        files_path = os.path.join(tmp, 'files.txt')
        dump_path = os.path.join(tmp, 'peer.pkl')
        with open(files_path, 'w') as f:
            f.write('\n'.join(midi_files))
        start = time.perf_counter()
        peer_tools.run_peer([os.path.abspath(__file__), '--peer_dump', dump_path,
                       '--peer_files', files_path])
        print(f'peer: {time.perf_counter() - start:.1f} s for {len(midi_files)} files')
        with open(dump_path, 'rb') as f:
            peer_results = pickle.load(f)

    result = compare(peer_results)
    for line in result['mismatch_lines']:
        print('MISMATCH', line)
    print(result['counts'])
    return 1 if result['counts']['mismatches'] else 0


if __name__ == '__main__':
    sys.exit(main())
