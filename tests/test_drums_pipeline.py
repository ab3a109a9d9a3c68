"""drums_rnn_create_dataset: the pipeline of REFERENCE.md "Drums RNN dataset" and the
create_dataset/train CLIs.

Sequences are written at 120 qpm in 4/4: a sixteenth note (one step at 4 steps per
quarter, drum_kit) lasts 0.125 s, an eighth note (one step of one_drum, 2 steps per
quarter) 0.25 s.
"""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

import builders
from magenta_rnn.drums import DRUMS_RNN
from magenta_rnn.drums.pipeline import build_chain
from magenta_rnn.protobuf import example_pb2, music_pb2

REPO_ROOT = Path(__file__).resolve().parents[1]
KICK, SNARE, CLOSED_HAT, RIDE = 36, 38, 42, 51
SIXTEENTH = 0.125


def rock_beat(bars: int, numerator: int = 4, denominator: int = 4) -> music_pb2.NoteSequence:
    """Kick on beats 1 and 3, snare on 2 and 4, closed hi-hat on every eighth note."""
    hits = []
    for step in range(0, 16 * bars, 2):  # Sixteenth-note steps.
        hits.append((step * SIXTEENTH, CLOSED_HAT))
        if step % 16 in (0, 8):
            hits.append((step * SIXTEENTH, KICK))
        if step % 16 in (4, 12):
            hits.append((step * SIXTEENTH, SNARE))
    ns = builders.drum_track(hits, time_signature=(numerator, denominator), ticks_per_quarter=220)
    # A pitched note is ignored by drum extraction.
    builders.add_notes(ns, 0, [(60, 100, 0.0, 4.0)])
    ns.total_time = 16 * bars * SIXTEENTH
    return ns


def run_chain(config_name: str, ns, mode: str = 'training'):
    outputs, stats = build_chain(DRUMS_RNN.load_config(config_name), mode).transform(ns)
    examples = [example_pb2.SequenceExample.FromString(o) for o in outputs]
    counters = {}
    for stat in stats:
        if hasattr(stat, 'count'):
            counters[stat.name] = counters.get(stat.name, 0) + stat.count
    return examples, counters


def arrays(example):
    lists = example.feature_lists.feature_list
    inputs = np.array([f.float_list.value for f in lists['inputs'].feature])
    labels = [f.int64_list.value[0] for f in lists['labels'].feature]
    return inputs, labels


def test_drum_kit_labels_are_drum_set_bits():
    # Bits: kick 1, snare 2, closed hi-hat 4. One bar of the beat, in sixteenths:
    one_bar = [5, 0, 4, 0, 6, 0, 4, 0, 5, 0, 4, 0, 6, 0, 4, 0]
    examples, stats = run_chain('drum_kit', rock_beat(8))
    assert len(examples) == 1
    inputs, labels = arrays(examples[0])
    # The track ends after its last hit (step 126): 127 events, 126 (input, label) pairs.
    assert labels == (one_bar * 8)[1:127]
    assert inputs.shape == (126, 518)  # 512 drum sets + 6 binary counters, no lookbacks.
    # Input 0: one-hot of {kick, hi-hat} = 5, then counters of n=1 (bit 0 set): +1 -1 -1 ...
    assert np.flatnonzero(inputs[0, :512]).tolist() == [5]
    assert inputs[0, 512:].tolist() == [1, -1, -1, -1, -1, -1]
    # Input 5 (a rest) describes step 6: counters of n=6 = 0b000110.
    assert np.flatnonzero(inputs[5, :512]).tolist() == [0]
    assert inputs[5, 512:].tolist() == [-1, 1, 1, -1, -1, -1]
    assert stats['DrumsExtractor_training_drum_tracks_discarded_too_short'] == 0
    assert stats['DrumsExtractor_training_drum_tracks_truncated'] == 0


def test_one_drum_uses_eighth_note_steps_and_one_class():
    examples, _ = run_chain('one_drum', rock_beat(8))
    inputs, labels = arrays(examples[0])
    # At 2 steps per quarter every step holds a hi-hat: 64 events, all class 1.
    assert labels == [1] * 63
    assert inputs.shape == (63, 2) and inputs[:, 1].tolist() == [1.0] * 63


def test_two_bars_are_too_short():
    examples, stats = run_chain('drum_kit', rock_beat(2))
    assert examples == []
    assert stats['DrumsExtractor_training_drum_tracks_discarded_too_short'] == 1


def test_long_tracks_are_truncated_to_512_steps():
    examples, stats = run_chain('drum_kit', rock_beat(40), mode='eval')
    assert len(examples) == 1
    _, labels = arrays(examples[0])
    assert len(labels) == 511
    assert stats['DrumsExtractor_eval_drum_tracks_truncated'] == 1


def test_a_one_bar_gap_splits_tracks():
    ns = rock_beat(8)
    # Second copy of the beat after 9 bars of silence (more than gap_bars=1).
    later = rock_beat(8)
    for note in later.notes:
        if note.is_drum:
            ns.notes.add().CopyFrom(note)
            ns.notes[-1].start_time += 16 * 16 * SIXTEENTH
            ns.notes[-1].end_time += 16 * 16 * SIXTEENTH
    ns.total_time = 24 * 16 * SIXTEENTH
    examples, _ = run_chain('drum_kit', ns)
    assert len(examples) == 2
    assert arrays(examples[0])[1] == arrays(examples[1])[1]


def test_non_integer_steps_per_bar_is_counted():
    # 5/16 at one_drum's 2 steps per quarter is 2.5 steps per bar.
    examples, stats = run_chain('one_drum', rock_beat(8, numerator=5, denominator=16))
    assert examples == []
    assert stats['DrumsExtractor_training_non_integer_steps_per_bar'] == 1


def test_tempo_change_splits_before_quantizing():
    ns = rock_beat(16)
    ns.tempos.add(qpm=240.0, time=8 * 16 * SIXTEENTH)  # At bar 8: two pieces.
    examples, stats = run_chain('drum_kit', ns)
    assert len(examples) == 2
    assert 'Quantizer_training_sequences_discarded_because_multiple_tempos' not in stats


def test_config_sizes_and_default():
    assert DRUMS_RNN.default_config == 'drum_kit'
    assert DRUMS_RNN.dataset_names == {'eval': 'eval_drum_tracks',
                                       'training': 'training_drum_tracks'}
    kit = DRUMS_RNN.load_config('drum_kit')
    one = DRUMS_RNN.load_config('one_drum', 'batch_size=8')
    assert (kit.steps_per_quarter, one.steps_per_quarter) == (4, 2)
    assert one.hparams.batch_size == 8 and kit.hparams.attn_length == 32
    assert DRUMS_RNN.build_encoder(kit).num_classes == 512
    assert DRUMS_RNN.build_encoder(one).num_classes == 2


# The console scripts (subprocesses: absl flags are process-wide).

def run_cli(module: str, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT), TF_CPP_MIN_LOG_LEVEL='3')
    return subprocess.run([sys.executable, '-m', module, *args], env=env, capture_output=True,
                          text=True, timeout=300)


def test_create_dataset_requires_input(tmp_path):
    result = run_cli('magenta_rnn.drums.create_dataset', f'--output_dir={tmp_path}')
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].endswith(': error: --input is required')


def test_create_dataset_unknown_config(tmp_path):
    (tmp_path / 'in.tfrecord').write_bytes(b'')
    result = run_cli('magenta_rnn.drums.create_dataset', '--config=no_such_kit',
                     f'--input={tmp_path / "in.tfrecord"}', f'--output_dir={tmp_path}')
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert "unknown drums_rnn config 'no_such_kit'" in last and 'drum_kit, one_drum' in last


def test_train_requires_sequence_example_file():
    result = run_cli('magenta_rnn.drums.train', '--config=drum_kit')
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].endswith(
        ': error: --sequence_example_file is required')


def test_create_dataset_end_to_end(tmp_path):
    from magenta_rnn import records
    records.write_records(str(tmp_path / 'in.tfrecord'),
                          [rock_beat(8).SerializeToString(), rock_beat(2).SerializeToString()])
    result = run_cli('magenta_rnn.drums.create_dataset', f'--input={tmp_path / "in.tfrecord"}',
                     f'--output_dir={tmp_path / "out"}', '--eval_ratio=0')
    assert result.returncode == 0, result.stderr
    assert 'DrumsExtractor_training_drum_tracks_discarded_too_short: 1' in result.stderr
    training = list(records.read_records(str(tmp_path / 'out' / 'training_drum_tracks.tfrecord')))
    assert list(records.read_records(str(tmp_path / 'out' / 'eval_drum_tracks.tfrecord'))) == []
    assert len(training) == 1
    _, labels = arrays(example_pb2.SequenceExample.FromString(training[0]))
    assert labels[:4] == [0, 4, 0, 6]
