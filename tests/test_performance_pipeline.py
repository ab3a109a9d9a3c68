"""performance_rnn_create_dataset: the pipeline of REFERENCE.md "Performance RNN dataset" and the
create_dataset/train CLIs.

Performances are quantized at 100 steps per second. With 32 velocity bins the one-hot
classes are NOTE_ON p -> p, NOTE_OFF p -> 128 + p, TIME_SHIFT s -> 255 + s and
VELOCITY b -> 355 + b (REFERENCE.md "Performance encoding"). The extractor keeps performances of at
least 32
events and cuts them at 512.
"""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import builders
from magenta_rnn.performance import PERFORMANCE_RNN
from magenta_rnn.performance.pipeline import build_chain
from magenta_rnn.protobuf import example_pb2

REPO_ROOT = Path(__file__).resolve().parents[1]


def staccato(pitches, velocity=100, note_seconds=0.25, hop_seconds=0.5):
    """One note per hop: pitch i sounds from i*hop for note_seconds."""
    return builders.melody(pitches, note_seconds=note_seconds, hop_seconds=hop_seconds,
                           velocity=velocity, time_signature=None, ticks_per_quarter=220)


def run_chain(config_name: str, ns, mode: str):
    outputs, stats = build_chain(PERFORMANCE_RNN.load_config(config_name), mode).transform(ns)
    counters = {}
    for stat in stats:
        if hasattr(stat, 'count'):
            counters[stat.name] = counters.get(stat.name, 0) + stat.count
    return [example_pb2.SequenceExample.FromString(o) for o in outputs], counters


def arrays(example):
    lists = example.feature_lists.feature_list
    inputs = np.array([f.float_list.value for f in lists['inputs'].feature])
    labels = [tuple(f.int64_list.value) for f in lists['labels'].feature]
    return inputs, [label[0] if len(label) == 1 else label for label in labels]


EIGHT_NOTES = [60, 62, 64, 65, 67, 69, 71, 72]


def expected_labels(pitches):
    """VELOCITY 25, then per note ON, SHIFT 25, OFF, SHIFT 25 (none after the last OFF)."""
    events = [380]
    for pitch in pitches:
        events += [pitch, 280, 128 + pitch, 280]
    return events[1:-1]  # Labels are events 1..N-1.


def test_eval_mode_one_example_exact_labels():
    # 1 + 8*4 - 1 = 32 events: exactly the minimum.
    examples, stats = run_chain('performance_with_dynamics', staccato(EIGHT_NOTES), 'eval')
    assert len(examples) == 1
    inputs, labels = arrays(examples[0])
    assert labels == expected_labels(EIGHT_NOTES)
    assert len(labels) == 31
    assert inputs.shape == (31, 388)
    assert np.flatnonzero(inputs[0]).tolist() == [380]  # VELOCITY(25): velocity 100.
    assert np.flatnonzero(inputs[1]).tolist() == [60]
    assert stats['TranspositionPipeline_eval_transpositions_generated'] == 1
    assert stats['PerformanceExtractor_eval_performances_discarded_too_short'] == 0


def test_performance_without_dynamics_has_no_velocity_events():
    examples, _ = run_chain('performance', staccato(EIGHT_NOTES + [74]), 'eval')
    _, labels = arrays(examples[0])
    assert labels[:4] == [280, 188, 280, 62]  # SHIFT 25, OFF 60, SHIFT 25, ON 62.
    assert max(labels) < 356


def test_too_few_events_are_discarded():
    examples, stats = run_chain('performance_with_dynamics', staccato(EIGHT_NOTES[:7]), 'eval')
    assert examples == []
    assert stats['PerformanceExtractor_eval_performances_discarded_too_short'] == 1


def test_long_performances_are_truncated_to_512_events():
    # 140 notes in 28 s (one 30-second piece): 1 + 140*4 - 1 = 560 events.
    examples, stats = run_chain('performance_with_dynamics', staccato([60] * 140, hop_seconds=0.2,
                                                                      note_seconds=0.1), 'eval')
    assert len(examples) == 1
    assert len(arrays(examples[0])[1]) == 511
    assert stats['PerformanceExtractor_eval_performances_truncated'] == 1


def test_training_mode_5_stretches_times_7_transpositions():
    examples, stats = run_chain('performance_with_dynamics', staccato(EIGHT_NOTES), 'training')
    assert len(examples) == 35
    assert stats['TranspositionPipeline_training_transpositions_generated'] == 35
    first_pitches = sorted(arrays(e)[1][0] for e in examples)
    assert first_pitches == sorted(list(range(57, 64)) * 5)  # 60 - 3 .. 60 + 3.
    # Stretching changes the time shifts: 0.25 s * 0.95 -> 24 steps (label 279) ...
    shifts = sorted({arrays(e)[1][1] for e in examples})
    assert shifts == [255 + s for s in (24, 25, 26)]
    # ... and stretch 1.0 with transposition 0 is the eval example.
    assert sum(arrays(e)[1] == expected_labels(EIGHT_NOTES) for e in examples) == 1


def test_transpositions_leaving_the_midi_range_are_dropped_whole():
    pitches = EIGHT_NOTES[:7] + [126]
    examples, stats = run_chain('performance_with_dynamics', staccato(pitches), 'training')
    # +2 and +3 push 126 past 127: 5 of 7 transpositions per stretch survive.
    assert len(examples) == 25
    assert stats['TranspositionPipeline_training_skipped_due_to_range_exceeded'] == 10
    assert stats['TranspositionPipeline_training_transpositions_generated'] == 25


def test_pieces_are_split_every_30_seconds():
    # 100 notes, one per 0.5 s: pieces of 60 notes (0-30 s) and 40 notes (30-50 s);
    # n notes make 1 + 4n - 1 events, so 4n - 1 labels.
    examples, _ = run_chain('performance_with_dynamics', staccato([60] * 100), 'eval')
    assert sorted(len(arrays(e)[1]) for e in examples) == [4 * 40 - 1, 4 * 60 - 1]


def test_sustain_pedal_lengthens_notes():
    ns = staccato(EIGHT_NOTES)
    ns.control_changes.add(control_number=64, control_value=127, time=0.0)
    ns.control_changes.add(control_number=64, control_value=0, time=0.4)
    examples, _ = run_chain('performance_with_dynamics', ns, 'eval')
    _, labels = arrays(examples[0])
    assert labels[:3] == [60, 295, 188]  # ON 60, SHIFT 40 (pedal up at 0.4 s), OFF 60.


def test_multiconditioned_inputs_lead_with_density_and_pitch_histogram():
    examples, _ = run_chain('multiconditioned_performance_with_dynamics', staccato(EIGHT_NOTES),
                            'eval')
    inputs, labels = arrays(examples[0])
    assert labels == expected_labels(EIGHT_NOTES)
    assert inputs.shape == (31, 8 + 12 + 388)
    assert np.flatnonzero(inputs[0, 20:]).tolist() == [380]
    # Density: one-hot over 8 bins. Histogram: 12 weights summing to 1.
    assert inputs[:, :8].sum(axis=1).tolist() == [1.0] * 31
    np.testing.assert_allclose(inputs[:, 8:20].sum(axis=1), 1.0, rtol=1e-5)


def test_optional_conditioning_encodes_each_performance_twice():
    examples, _ = run_chain('optional_multiconditioned_performance_with_dynamics',
                            staccato(EIGHT_NOTES), 'eval')
    assert len(examples) == 2
    (on_inputs, on_labels), (off_inputs, off_labels) = map(arrays, examples)
    assert on_labels == off_labels == expected_labels(EIGHT_NOTES)
    assert on_inputs.shape == off_inputs.shape == (31, 409)
    assert on_inputs[:, 0].tolist() == [0.0] * 31 and off_inputs[:, 0].tolist() == [1.0] * 31
    assert off_inputs[:, 1:21].sum() == 0.0
    np.testing.assert_array_equal(on_inputs[:, 21:], off_inputs[:, 21:])


def test_note_performance_labels_are_six_heads():
    pitches = list(range(48, 80))  # 32 notes: 32 events, the minimum.
    examples, _ = run_chain('performance_with_dynamics_and_note_encoding', staccato(pitches),
                            'eval')
    inputs, labels = arrays(examples[0])
    assert inputs.shape == (31, 315)
    # (shift // 77, shift % 77, pitch, velocity bin - 1, (duration-1) // 40, (duration-1) % 40)
    # for shift 50, velocity bin 25, duration 25.
    assert labels == [(0, 50, pitch, 24, 0, 24) for pitch in pitches[1:]]


def test_multiple_programs_are_discarded():
    ns = staccato(EIGHT_NOTES)
    ns.notes[3].program = 40
    examples, stats = run_chain('performance', ns, 'eval')
    assert examples == []
    assert stats['PerformanceExtractor_eval_performances_discarded_more_than_1_program'] == 1


def test_config_sizes_and_errors(tmp_path):
    assert PERFORMANCE_RNN.default_config == 'performance'
    sizes = {name: PERFORMANCE_RNN.build_encoder(PERFORMANCE_RNN.load_config(name)).input_size
             for name in ('performance', 'performance_with_dynamics',
                          'performance_with_dynamics_compact',
                          'performance_with_dynamics_and_modulo_encoding',
                          'density_conditioned_performance_with_dynamics',
                          'pitch_conditioned_performance_with_dynamics',
                          'multiconditioned_performance_with_dynamics',
                          'optional_multiconditioned_performance_with_dynamics')}
    assert list(sizes.values()) == [356, 388, 1, 16, 396, 400, 408, 409]
    from magenta_rnn.rnn.config import ConfigError
    bad = tmp_path / 'bad.json'
    bad.write_text('{"id": "bad", "encoder": {"type": "performance_one_hot"}, '
                   '"control_signals": [{"type": "velocity"}]}')
    with pytest.raises(ConfigError, match="unknown control signal type 'velocity'"):
        PERFORMANCE_RNN.load_config(str(bad))


def test_warm_start_copies_bundle_weights(tmp_path):
    from magenta_rnn.rnn.model import build_events_rnn
    from magenta_rnn.rnn.model_io import ModelLoadError, save_bundle, warm_start
    config = PERFORMANCE_RNN.load_config('performance', 'rnn_layer_sizes=[8,8]')

    def model(hparams=config.hparams):
        built = build_events_rnn(hparams, 356, 356)
        built(np.zeros((1, 2, 356), np.float32))  # Creates the weights.
        return built

    trained, fresh = model(), model()
    save_bundle(str(tmp_path / 'p.mag'), trained, config)
    warm_start(fresh, str(tmp_path / 'p.mag'))
    for a, b in zip(trained.trainable_variables, fresh.trainable_variables):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    wider = PERFORMANCE_RNN.load_config('performance', 'rnn_layer_sizes=[16,16]')
    with pytest.raises(ModelLoadError, match='p.mag: does not fit the model'):
        warm_start(model(wider.hparams), str(tmp_path / 'p.mag'))


# The console scripts (subprocesses: absl flags are process-wide).

def run_cli(module: str, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT), TF_CPP_MIN_LOG_LEVEL='3')
    return subprocess.run([sys.executable, '-m', module, *args], env=env, capture_output=True,
                          text=True, timeout=300)


def last_line(result) -> str:
    """The last stderr line without its `<program>: ` prefix."""
    return result.stderr.strip().splitlines()[-1].split(': ', 1)[1]


def test_create_dataset_requires_output_dir(tmp_path):
    result = run_cli('magenta_rnn.performance.create_dataset', f'--input={tmp_path}/x')
    assert result.returncode == 1 and last_line(result) == 'error: --output_dir is required'


def test_create_dataset_missing_input_file(tmp_path):
    result = run_cli('magenta_rnn.performance.create_dataset', f'--input={tmp_path}/none.tfrecord',
                     f'--output_dir={tmp_path}')
    assert result.returncode == 1
    assert last_line(result) == f'error: --input: no such file {tmp_path}/none.tfrecord'


def test_train_unknown_config(tmp_path):
    result = run_cli('magenta_rnn.performance.train', '--config=performance_with_drums',
                     f'--sequence_example_file={tmp_path}/x.tfrecord')
    assert result.returncode == 1
    assert "unknown performance_rnn config 'performance_with_drums'" in last_line(result)


def test_train_warm_start_bundle_must_exist(tmp_path):
    result = run_cli('magenta_rnn.performance.train', f'--sequence_example_file={tmp_path}/x',
                     f'--warm_start_bundle_file={tmp_path}/none.mag')
    assert result.returncode == 1
    assert last_line(result) == f'error: --warm_start_bundle_file: no such file {tmp_path}/none.mag'


def test_create_dataset_end_to_end(tmp_path):
    from magenta_rnn import records
    records.write_records(str(tmp_path / 'in.tfrecord'),
                          [staccato(EIGHT_NOTES).SerializeToString(),
                           staccato(EIGHT_NOTES[:3]).SerializeToString()])
    result = run_cli('magenta_rnn.performance.create_dataset',
                     f'--input={tmp_path / "in.tfrecord"}', f'--output_dir={tmp_path / "out"}',
                     '--config=performance_with_dynamics', '--eval_ratio=0')
    assert result.returncode == 0, result.stderr
    assert 'PerformanceExtractor_training_performances_discarded_too_short: 35' in result.stderr
    out = tmp_path / 'out'
    assert len(list(records.read_records(str(out / 'training_performances.tfrecord')))) == 35
    assert list(records.read_records(str(out / 'eval_performances.tfrecord'))) == []
