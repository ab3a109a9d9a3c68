"""Compares drum-track and performance extraction and encoding with the original Magenta.

The peer side (run in the original's venv, importing only note_seq/magenta):
  * Groove drum files (train split of info.csv): MIDI -> NoteSequence -> split on time
    changes -> quantize at 4 and at 2 steps per quarter -> extract_drum_tracks with the
    DrumsExtractor settings -> encode every track with the one_drum and drum_kit encoders.
  * ASAP piano performances: MIDI -> sustain -> 30 s splits -> quantize at 100 steps per
    second -> extract_performances (min 32 / max 512 events, as the Performance RNN
    pipeline) -> encode with each config's EncoderPipeline (control signals included).
It ships the quantized NoteSequences (serialized) and all its results in a pickle.

This side parses the same quantized sequences and runs magenta_rnn's extraction and
encoders, then compares: track/performance events, start/end steps, statistics, and
every SequenceExample's labels exactly and inputs exactly (the modulo config within a
float tolerance of 1e-6, reported as the largest difference).

Usage (from the repo root):
  PYTHONPATH=$PWD .venv/bin/python scripts/compare_drums_performance_encoding_with_peer.py \
      --num_groove 40 --num_asap 12
"""
from __future__ import annotations

import argparse
import csv
import os
import pickle
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peer as peer_tools

DRUM_CONFIGS = ('one_drum', 'drum_kit')
DRUM_SETTINGS = dict(min_bars=7, max_steps_truncate=512, gap_bars=1.0)  # DrumsExtractor

PERFORMANCE_CONFIGS = (
    'performance',
    'performance_with_dynamics',
    'performance_with_dynamics_compact',
    'performance_with_dynamics_and_modulo_encoding',
    'performance_with_dynamics_and_note_encoding',
    'density_conditioned_performance_with_dynamics',
    'pitch_conditioned_performance_with_dynamics',
    'multiconditioned_performance_with_dynamics',
    'optional_multiconditioned_performance_with_dynamics',
)
MODULO_TOLERANCE = 1e-6






def _drum_record(track) -> tuple:
    return ([sorted(e) for e in track], track.start_step, track.end_step, track.steps_per_bar,
            track.steps_per_quarter)


def _performance_record(performance) -> tuple:
    events = []
    for event in performance:
        if isinstance(event, tuple):
            events.append(tuple((e.event_type, e.event_value) for e in event))
        else:
            events.append((event.event_type, event.event_value))
    return events, performance.start_step, performance.num_steps, performance.program, \
        performance.is_drum


def _performance_setting(config_id: str) -> tuple[int, bool]:
    """(num_velocity_bins, note_performance) of a config."""
    if config_id == 'performance':
        return 0, False
    return 32, config_id.endswith('_and_note_encoding')


# ----------------------------------------------------------------------------------
# Peer side (original note_seq / magenta).


def run_peer(groove_files: list[str], asap_files: list[str], out_path: str) -> None:
    import note_seq
    from magenta.models.drums_rnn import drums_rnn_model
    from magenta.models.performance_rnn import performance_model
    from magenta.pipelines import drum_pipelines, performance_pipeline
    from magenta.pipelines.pipelines_common import make_sequence_example

    results = {'drums': [], 'performances': []}
    for path in groove_files:
        sequence = note_seq.midi_file_to_note_sequence(path)
        for piece in note_seq.sequences_lib.split_note_sequence_on_time_changes(sequence):
            for steps_per_quarter in (4, 2):
                try:
                    quantized = note_seq.quantize_note_sequence(piece, steps_per_quarter)
                except Exception:
                    continue
                entry = {'path': path, 'quantized': quantized.SerializeToString()}
                try:
                    tracks, stats = drum_pipelines.extract_drum_tracks(quantized, **DRUM_SETTINGS)
                except Exception as error:
                    entry['error'] = type(error).__name__
                    results['drums'].append(entry)
                    continue
                entry['tracks'] = [_drum_record(t) for t in tracks]
                entry['stats'] = peer_tools.stats_to_dict(stats)
                entry['encoded'] = [
                    {config: peer_tools.example_to_lists(make_sequence_example(
                        *drums_rnn_model.default_configs[config].encoder_decoder.encode(track)))
                     for config in DRUM_CONFIGS}
                    for track in tracks]
                results['drums'].append(entry)

    encoder_pipelines = {
        config: performance_pipeline.EncoderPipeline(performance_model.default_configs[config],
                                                     name='enc_' + config)
        for config in PERFORMANCE_CONFIGS}
    for path in asap_files:
        sequence = note_seq.midi_file_to_note_sequence(path)
        sequence = note_seq.sequences_lib.apply_sustain_control_changes(sequence)
        for piece in note_seq.sequences_lib.split_note_sequence(sequence, 30.0):
            quantized = note_seq.quantize_note_sequence_absolute(piece, 100)
            entry = {'path': path, 'quantized': quantized.SerializeToString(), 'settings': {}}
            for setting in sorted(set(_performance_setting(c) for c in PERFORMANCE_CONFIGS)):
                bins, note_performance = setting
                performances, stats = performance_pipeline.extract_performances(
                    quantized, min_events_discard=32, max_events_truncate=512,
                    num_velocity_bins=bins, note_performance=note_performance)
                entry['settings'][setting] = {
                    'performances': [_performance_record(p) for p in performances],
                    'stats': peer_tools.stats_to_dict(stats),
                    'objects': performances,
                }
            entry['encoded'] = {}
            for config in PERFORMANCE_CONFIGS:
                setting = entry['settings'][_performance_setting(config)]
                start = time.perf_counter()
                examples = [encoder_pipelines[config].transform(performance)
                            for performance in setting['objects']]
                results['peer_encode_seconds'] = (results.get('peer_encode_seconds', 0.0) +
                                                  time.perf_counter() - start)
                entry['encoded'][config] = [[peer_tools.example_to_lists(example) for example in group]
                                            for group in examples]
            for setting in entry['settings'].values():
                del setting['objects']
            results['performances'].append(entry)
    with open(out_path, 'wb') as f:
        pickle.dump(results, f)


# ----------------------------------------------------------------------------------
# Our side.


class _Tally:
    def __init__(self):
        self.counts = {'mismatches': 0}
        self.lines: list[str] = []
        self.max_modulo_diff = 0.0

    def add(self, key: str, amount: int = 1) -> None:
        self.counts[key] = self.counts.get(key, 0) + amount

    def mismatch(self, text: str) -> None:
        self.counts['mismatches'] += 1
        if len(self.lines) < 25:
            self.lines.append(text)


def _compare_examples(tally: _Tally, where: str, ours: tuple, peer: tuple,
                      tolerance: float | None = None) -> None:
    inputs, labels = ours
    peer_inputs, peer_labels = peer
    tally.add('examples')
    tally.add('steps', len(labels))
    if labels != peer_labels:
        tally.mismatch(f'{where}: labels differ')
    if tolerance is None:
        if inputs != peer_inputs:
            bad = next((k for k, (a, b) in enumerate(zip(inputs, peer_inputs)) if a != b), -1)
            tally.mismatch(f'{where}: inputs differ at step {bad} '
                           f'({len(inputs)} vs {len(peer_inputs)} steps)')
        return
    a, b = np.asarray(inputs, dtype=np.float64), np.asarray(peer_inputs, dtype=np.float64)
    if a.shape != b.shape:
        tally.mismatch(f'{where}: input shapes differ {a.shape} vs {b.shape}')
        return
    diff = float(np.abs(a - b).max(initial=0.0))
    tally.max_modulo_diff = max(tally.max_modulo_diff, diff)
    if diff > tolerance:
        tally.mismatch(f'{where}: inputs differ by {diff}')


def _to_lists(arrays) -> tuple[list, list]:
    inputs, labels = arrays
    return inputs.tolist(), [list(np.atleast_1d(label)) for label in labels.tolist()]


def compare(peer_results: dict) -> dict:
    from magenta_rnn.drums import DRUMS_RNN
    from magenta_rnn.music.drums import extract_drum_tracks
    from magenta_rnn.music.performance_encoders import encode_performance
    from magenta_rnn.performance import PERFORMANCE_RNN
    from magenta_rnn.performance.model import setup
    from magenta_rnn.music.performance_extraction import extract_performances
    from magenta_rnn.protobuf import music_pb2

    drums = _Tally()
    # The encoders training uses, built from the configs' JSON files.
    drum_encoders = {config: DRUMS_RNN.build_encoder(DRUMS_RNN.load_config(config))
                     for config in DRUM_CONFIGS}
    drum_seconds = 0.0
    for entry in peer_results['drums']:
        drums.add('sequences')
        quantized = music_pb2.NoteSequence.FromString(entry['quantized'])
        spq = quantized.quantization_info.steps_per_quarter
        where = f"{os.path.basename(entry['path'])} [spq {spq}]"
        try:
            tracks, stats = extract_drum_tracks(quantized, **DRUM_SETTINGS)
        except Exception as error:
            if entry.get('error') != type(error).__name__:
                drums.mismatch(f'{where}: we raised {type(error).__name__}, '
                               f'peer {entry.get("error")}')
            continue
        if 'error' in entry:
            drums.mismatch(f'{where}: peer raised {entry["error"]}, we did not')
            continue
        if peer_tools.stats_to_dict(stats) != entry['stats']:
            drums.mismatch(f'{where}: stats differ: ours {peer_tools.stats_to_dict(stats)} '
                           f'peer {entry["stats"]}')
        ours = [_drum_record(t) for t in tracks]
        if ours != entry['tracks']:
            drums.mismatch(f'{where}: tracks differ ({len(ours)} ours, '
                           f'{len(entry["tracks"])} peer)')
            continue
        for i, track in enumerate(tracks):
            drums.add('tracks')
            for config in DRUM_CONFIGS:
                start = time.perf_counter()
                arrays = drum_encoders[config].encode_arrays(track)
                drum_seconds += time.perf_counter() - start
                _compare_examples(drums, f'{where} track {i} {config}', _to_lists(arrays),
                                  entry['encoded'][i][config])

    perfs = _Tally()
    setups = {config: setup(PERFORMANCE_RNN.load_config(config)) for config in PERFORMANCE_CONFIGS}
    encoders = {config: (s.encoder, s.control_signals, s.optional_conditioning)
                for config, s in setups.items()}
    perf_seconds = 0.0
    for entry in peer_results['performances']:
        perfs.add('sequences')
        quantized = music_pb2.NoteSequence.FromString(entry['quantized'])
        where = os.path.basename(os.path.dirname(entry['path'])) + '/' + \
            os.path.basename(entry['path'])
        ours_by_setting = {}
        for setting, peer in entry['settings'].items():
            bins, note_performance = setting
            performances, stats = extract_performances(
                quantized, min_events_discard=32, max_events_truncate=512,
                num_velocity_bins=bins, note_performance=note_performance)
            ours_by_setting[setting] = performances
            if peer_tools.stats_to_dict(stats) != peer['stats']:
                perfs.mismatch(f'{where} {setting}: stats differ: ours {peer_tools.stats_to_dict(stats)} '
                               f'peer {peer["stats"]}')
            if [_performance_record(p) for p in performances] != peer['performances']:
                perfs.mismatch(f'{where} {setting}: performances differ')
                ours_by_setting[setting] = None
            else:
                perfs.add('performances', len(performances))
        for config in PERFORMANCE_CONFIGS:
            performances = ours_by_setting[_performance_setting(config)]
            if performances is None:
                continue
            tolerance = MODULO_TOLERANCE if 'modulo' in config else None
            for i, performance in enumerate(performances):
                start = time.perf_counter()
                encoded = encode_performance(*encoders[config], performance)
                perf_seconds += time.perf_counter() - start
                peer_examples = entry['encoded'][config][i]
                if len(encoded) != len(peer_examples):
                    perfs.mismatch(f'{where} {config}: {len(encoded)} examples vs '
                                   f'{len(peer_examples)}')
                    continue
                for k, (arrays, peer_example) in enumerate(zip(encoded, peer_examples)):
                    _compare_examples(perfs, f'{where} perf {i} {config} #{k}',
                                      _to_lists(arrays), peer_example, tolerance)
    return {
        'drums': {'counts': drums.counts, 'encode_seconds': round(drum_seconds, 3),
                  'mismatch_lines': drums.lines},
        'performances': {'counts': perfs.counts, 'encode_seconds': round(perf_seconds, 3),
                         'max_modulo_input_diff': perfs.max_modulo_diff,
                         'mismatch_lines': perfs.lines},
    }


def _groove_train_files(data_dir: str, count: int) -> list[str]:
    with open(os.path.join(data_dir, 'groove', 'info.csv'), newline='') as f:
        rows = [row for row in csv.DictReader(f) if row['split'] == 'train']
    # Spread the choice over the drummers rather than taking one session.
    step = max(len(rows) // count, 1)
    return [os.path.join(data_dir, 'groove', row['midi_filename']) for row in rows[::step]][:count]


def _asap_files(data_dir: str, count: int) -> list[str]:
    paths = []
    for root, _, files in sorted(os.walk(os.path.join(data_dir, 'asap'))):
        for name in sorted(files):
            if name.endswith('.mid') and name != 'midi_score.mid':
                paths.append(os.path.join(root, name))
    step = max(len(paths) // count, 1)
    return paths[::step][:count]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--data_dir', default=None, help='shared data folder (../shared/data)')
    parser.add_argument('--num_groove', type=int, default=40)
    parser.add_argument('--num_asap', type=int, default=12)
    parser.add_argument('--peer_side', nargs=3, metavar=('GROOVE_LIST', 'ASAP_LIST', 'OUT'),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.peer_side:
        groove_list, asap_list, out = args.peer_side
        with open(groove_list) as f:
            groove = [line.strip() for line in f if line.strip()]
        with open(asap_list) as f:
            asap = [line.strip() for line in f if line.strip()]
        run_peer(groove, asap, out)
        return

    data_dir = args.data_dir or str(peer_tools.shared_data())
    if not os.path.isdir(data_dir):
        sys.exit(f'--data_dir: {data_dir} is not a folder')
    groove = _groove_train_files(data_dir, args.num_groove)
    asap = _asap_files(data_dir, args.num_asap)
    with tempfile.TemporaryDirectory() as tmp:
        groove_list = os.path.join(tmp, 'groove.txt')
        asap_list = os.path.join(tmp, 'asap.txt')
        with open(groove_list, 'w') as f:
            f.write('\n'.join(groove))
        with open(asap_list, 'w') as f:
            f.write('\n'.join(asap))
        out = os.path.join(tmp, 'peer.pkl')
        start = time.perf_counter()
        peer_tools.run_peer([os.path.abspath(__file__), '--peer_side', groove_list, asap_list, out])
        peer_seconds = time.perf_counter() - start
        with open(out, 'rb') as f:
            peer_results = pickle.load(f)
    report = compare(peer_results)
    print(f'peer side: {peer_seconds:.1f} s for {len(groove)} Groove and {len(asap)} ASAP files; '
          f'its performance encoding (controls included) took '
          f'{peer_results.get("peer_encode_seconds", 0.0):.2f} s')
    for part in ('drums', 'performances'):
        print(f'{part}: {report[part]}')
    total = report['drums']['counts']['mismatches'] + report['performances']['counts']['mismatches']
    print('PARITY OK' if total == 0 else f'PARITY FAILED: {total} mismatches')
    sys.exit(0 if total == 0 else 1)


if __name__ == '__main__':
    main()
