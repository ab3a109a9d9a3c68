"""performance_rnn_generate (REFERENCE.md "Performance generation", "Generate flags"):
primers, control schedules, the fill-the-section loop, and generating from bundles of
untrained models."""
import os
import subprocess
import sys

import numpy as np
import pytest

from magenta_rnn.music.performances import Performance, PerformanceEvent
from magenta_rnn.performance import PERFORMANCE_RNN
from magenta_rnn.performance.controls import (ConditionedInputs, ControlSchedule,
                                              PerformanceGenerateError, control_values,
                                              disable_conditioning_values, segment_index)
from magenta_rnn.performance.generator import (GenerateRequest, RoundEnds, empty_primer,
                                               generate_performances, parse_primer_melody,
                                               parse_primer_pitches, rnn_steps_to_generate)
from magenta_rnn.performance.model import setup
from magenta_rnn.rnn.sequence_generator import SequenceGeneratorError

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ON, OFF, SHIFT, VEL = (PerformanceEvent.NOTE_ON, PerformanceEvent.NOTE_OFF,
                       PerformanceEvent.TIME_SHIFT, PerformanceEvent.VELOCITY)


def notes(sequence):
    return [(n.pitch, n.velocity, round(n.start_time, 6), round(n.end_time, 6))
            for n in sequence.notes]


# Primers.

def test_primer_pitches_is_a_half_second_chord_at_velocity_100():
    sequence = parse_primer_pitches('[60, 64, 67]')
    assert notes(sequence) == [(60, 100, 0.0, 0.5), (64, 100, 0.0, 0.5), (67, 100, 0.0, 0.5)]
    assert sequence.total_time == 0.5
    assert sequence.ticks_per_quarter == 220


def test_primer_melody_is_played_at_120_qpm_and_4_steps_per_quarter():
    # One step is 0.125 s; -2 holds the note, -1 ends it.
    sequence = parse_primer_melody('[60, -2, 62, -1, 64]')
    assert notes(sequence) == [(60, 100, 0.0, 0.25), (62, 100, 0.25, 0.375),
                               (64, 100, 0.5, 0.625)]


@pytest.mark.parametrize('parse, text, message', [
    (parse_primer_pitches, '[60, 64', 'is not a Python literal'),
    (parse_primer_pitches, '[60, 128]', '128 is not a MIDI pitch'),
    (parse_primer_pitches, '[]', 'not a non-empty list'),
    (parse_primer_melody, '[60, -3]', '-3 is not a melody event'),
])
def test_bad_primers(parse, text, message):
    # --primer_melody is parsed by the shared flow's parser, as melody_rnn_generate's.
    with pytest.raises(SequenceGeneratorError, match=message):
        parse(text)


# Control values and their schedule.

def test_control_values_one_value_or_a_list_spread_over_time():
    assert control_values('notes_per_second', 8) == [8.0]
    assert control_values('notes_per_second', [2, 8.5]) == [2.0, 8.5]
    histogram = [2, 0, 1, 0, 1, 1, 0, 2, 0, 1, 0, 1]
    assert control_values('pitch_class_histogram', histogram) == [[float(x) for x in histogram]]
    assert len(control_values('pitch_class_histogram', [histogram, [1] * 12])) == 2
    assert disable_conditioning_values(True) == [True]
    assert disable_conditioning_values([False, True]) == [False, True]


@pytest.mark.parametrize('flag, value, message', [
    ('notes_per_second', -1, 'is not a number >= 0'),
    ('notes_per_second', [4, -1], 'is not a number >= 0'),
    ('notes_per_second', [], 'is not a number >= 0'),
    ('notes_per_second', True, 'is not a number >= 0'),
    ('pitch_class_histogram', [1] * 11, 'is not a list of 12 non-negative numbers'),
    ('pitch_class_histogram', [1] * 11 + [-1], 'is not a list of 12 non-negative numbers'),
])
def test_bad_control_values(flag, value, message):
    with pytest.raises(PerformanceGenerateError, match=f'--{flag}: .*{message}'):
        control_values(flag, value)


def test_segment_index_splits_the_total_steps_evenly():
    # index = min(step * K // total, K - 1)
    assert [segment_index(s, 300, 2) for s in (0, 149, 150, 299, 450)] == [0, 0, 1, 1, 1]
    assert [segment_index(s, 100, 3) for s in (0, 33, 34, 66, 67, 99)] == [0, 0, 1, 1, 2, 2]
    assert [segment_index(s, 7, 1) for s in (0, 6, 100)] == [0, 0, 0]


def test_control_schedule_events():
    schedule = ControlSchedule([[2.0, 8.0], [[1.0] * 12]], total_steps=200)
    assert schedule.event(99) == (2.0, [1.0] * 12)
    assert schedule.event(100) == (8.0, [1.0] * 12)
    optional = ControlSchedule([[5.0]], total_steps=200, disable=[False, True])
    assert optional.event(0) == (False, (5.0,))
    assert optional.event(150) == (True, (5.0,))


def test_rnn_steps_to_generate_asks_for_four_events_per_note():
    # ceil(4 * max(1, density) * remaining / steps_per_second)
    assert rnn_steps_to_generate(2900, 15.0, 100) == 1740
    assert rnn_steps_to_generate(199, 15.0, 100) == 120
    assert rnn_steps_to_generate(2900, 0.5, 100) == 116  # density below 1 counts as 1
    assert rnn_steps_to_generate(1, 15.0, 100) == 1


def test_conditioned_inputs_use_the_control_of_the_time_reached():
    """Position p gets control(steps of events 0..p) + target input of event p."""
    config = PERFORMANCE_RNN.load_config('multiconditioned_performance_with_dynamics')
    encoder = setup(config).encoder
    performance = Performance(steps_per_second=100, num_velocity_bins=32)
    for event in [(VEL, 25), (ON, 60), (SHIFT, 50), (OFF, 60), (SHIFT, 60), (ON, 62)]:
        performance.append(PerformanceEvent(*event))
    schedule = ControlSchedule([[0.5, 3.0, 20.0], [[1.0] * 12]], total_steps=150)
    # Steps reached before each position 0..6: 0, 0, 0, 50, 50, 110, 110 -> density
    # segments 0, 0, 0, 1, 1, 2, 2 (a segment is 50 steps).
    expected_controls = [(d, [1.0] * 12) for d in (0.5, 0.5, 0.5, 3.0, 3.0, 20.0, 20.0)]
    expected = encoder.get_inputs_batch([expected_controls], [performance], full_length=True)[0]
    inputs = ConditionedInputs(encoder, schedule)
    full = inputs([performance], full_length=True)[0]
    np.testing.assert_array_equal(full, expected)
    density_bins = full[:, :8].argmax(axis=1).tolist()
    assert density_bins == [0, 0, 2, 2, 5, 5]  # [0,1) [0,1) [2,4) [2,4) [16,32) ...
    # One step further, incrementally: the last position only.
    performance.append(PerformanceEvent(SHIFT, 5))
    expected_controls.append((20.0, [1.0] * 12))
    last = inputs([performance], full_length=False)[0]
    expected = encoder.get_inputs_batch([expected_controls], [performance])[0]
    np.testing.assert_array_equal(last, expected)


# The generation flow with a stand-in model.

class TableModel:
    """Predicts next class = table[class of the current event] with certainty; records the
    input length of every call that starts from the zero state (one per round)."""

    def __init__(self, num_classes, table):
        self.num_classes, self.table = num_classes, table
        self.full_length_calls = []
        self.events_fed = 0

    def zero_state(self, batch_size):
        return (np.zeros((batch_size, 1)),)

    def step(self, inputs, state, temperature):
        if not state[0].any():
            self.full_length_calls.append(inputs.shape[1])
        self.events_fed += inputs.shape[0] * inputs.shape[1]
        current = np.asarray(inputs).argmax(axis=-1)
        probabilities = np.zeros(inputs.shape[:2] + (self.num_classes,), np.float32)
        for (row, t), index in np.ndenumerate(current):
            probabilities[row, t, self.table.get(int(index), self.table['else'])] = 1.0
        return probabilities, (state[0] + 1,)


def test_generation_fills_the_section_in_rounds():
    performance_setup = setup(PERFORMANCE_RNN.load_config('performance_with_dynamics'))
    encoder = performance_setup.encoder
    code = encoder.one_hot_encoding.encode_event
    model = TableModel(encoder.num_classes, {'else': code(PerformanceEvent(SHIFT, 1))})
    outputs = generate_performances(model, performance_setup, empty_primer(), 0.0, 3.0,
                                    num_outputs=2, rng=np.random.default_rng(0))
    # Empty primer: start step quantize_to_step(0.0, cutoff 0) = 1, end step 300, so 299
    # steps, the first 100 of them silence (one TIME_SHIFT 100). Each generated event is
    # 1 step, so the rounds ask for 120, 48, 19, 8, 3, 1 events (4 * 15 notes/s). The
    # original re-feeds the whole performance so far each round (1, 121, 169, 188, 196,
    # 199 events); here both outputs keep their RNN state: the primer is fed once, then
    # each of the 199 events once.
    assert model.full_length_calls == [1]
    assert model.events_fed == 2 * (1 + 198)
    assert len(outputs) == 2 and all(not o.notes for o in outputs)


def _ends(events, total_steps):
    """The lengths at which RoundEnds ends a performance of 1 silent primer event (no
    steps) growing by `events`; density 15 notes/s asks ceil(0.6 * steps left) events."""
    primer = Performance(steps_per_second=100, num_velocity_bins=32)
    primer.append(PerformanceEvent(VEL, 1))
    round_ends = RoundEnds(primer, total_steps, 15.0, 100)
    performance, ended = primer, []
    for event in events:
        performance.append(PerformanceEvent(*event))
        if round_ends(0, performance):
            ended.append(len(performance))
    return ended, round_ends.rounds


def test_round_ends_follow_the_originals_rounds():
    # 1-step shifts, 10 steps: the rounds ask ceil(0.6 * 10) = 6, ceil(0.6 * 4) = 3 and
    # ceil(0.6 * 1) = 1 events, ending at lengths 7 (6 steps), 10 (9) and 11 (10: full).
    ended, rounds = _ends([(SHIFT, 1)] * 12, 10)
    assert ended[0] == 11 and rounds == 3
    # Passing the end mid-round ends at once: everything after would be cut.
    ended, rounds = _ends([(SHIFT, 4), (ON, 60), (SHIFT, 7), (OFF, 60)], 10)
    assert ended[0] == 4 and rounds == 1
    # Reaching the end exactly does not: events at the last step still belong, up to the
    # round's end (6 events asked: length 7).
    ended, rounds = _ends([(SHIFT, 5), (ON, 60), (SHIFT, 5), (OFF, 60), (VEL, 2), (ON, 62),
                           (OFF, 62), (ON, 64)], 10)
    assert ended[0] == 7 and rounds == 1


CYCLES = {
    # 4 events per 5 steps: each round fills about half of what is left.
    'dense': [(ON, 60), (SHIFT, 3), (OFF, 60), (SHIFT, 2)],
    # Long shifts: the first round passes the end early on.
    'sparse': [(VEL, 3), (ON, 64), (SHIFT, 70), (OFF, 64), (ON, 67), (SHIFT, 45), (OFF, 67)],
    # 5 steps per cycle: rounds can end exactly at the end step.
    'exact': [(ON, 60), (SHIFT, 5), (OFF, 60)],
}


@pytest.mark.parametrize('cycle', sorted(CYCLES))
@pytest.mark.parametrize('end_time', [1.0, 1.51, 2.5, 3.0])
@pytest.mark.parametrize('fill', [True, False])
def test_one_pass_sampling_ends_where_the_rounds_end(cycle, end_time, fill):
    """Plain sampling in one pass with kept state gives what round-by-round generation
    with re-feeding gives (the beam search path, here with 2 identical beams)."""
    performance_setup = setup(PERFORMANCE_RNN.load_config('performance_with_dynamics'))
    code = performance_setup.encoder.one_hot_encoding.encode_event
    codes = [code(PerformanceEvent(*event)) for event in CYCLES[cycle]]
    table = {a: b for a, b in zip(codes, codes[1:] + codes[:1])}
    table['else'] = codes[0]
    results = []
    for beam_size in (1, 2):
        model = TableModel(performance_setup.encoder.num_classes, table)
        request = GenerateRequest(beam_size=beam_size)
        sequence, = generate_performances(model, performance_setup, parse_primer_pitches('[72]'),
                                          0.5, end_time, num_outputs=1, request=request,
                                          rng=np.random.default_rng(0),
                                          fill_generate_section=fill)
        results.append((notes(sequence), sequence.total_time, len(model.full_length_calls)))
    assert results[0][:2] == results[1][:2]
    assert results[0][2] == 1


def test_generation_continues_the_primer_to_the_exact_end():
    performance_setup = setup(PERFORMANCE_RNN.load_config('performance_with_dynamics'))
    encoder = performance_setup.encoder
    code = encoder.one_hot_encoding.encode_event
    on_72, shift_10 = code(PerformanceEvent(ON, 72)), code(PerformanceEvent(SHIFT, 10))
    model = TableModel(encoder.num_classes, {on_72: shift_10, 'else': on_72})
    primer = parse_primer_pitches('[60]')
    sequence, = generate_performances(model, performance_setup, primer, 0.5, 3.0, num_outputs=1,
                                      rng=np.random.default_rng(0))
    # Primer: VEL 25, ON 60, SHIFT 50, OFF 60, padded by SHIFT 1 to the start step 51.
    # Then ON 72, SHIFT 10, ... cut at step 300; the 72s are never released, so they
    # are closed at the end (3.0 s), and keep the primer's velocity (bin 25 -> 97).
    assert notes(sequence)[0] == (60, 97, 0.0, 0.5)
    assert notes(sequence)[1:] == [(72, 97, round(0.51 + 0.1 * k, 6), 3.0) for k in range(25)]


def test_generation_rejects_a_primer_past_the_generate_section():
    performance_setup = setup(PERFORMANCE_RNN.load_config('performance_with_dynamics'))
    model = TableModel(performance_setup.encoder.num_classes, {'else': 0})
    with pytest.raises(SequenceGeneratorError, match='can only extend'):
        generate_performances(model, performance_setup, parse_primer_pitches('[60]'), 0.4, 3.0,
                              num_outputs=1, request=GenerateRequest())


# The console script.

def run_cli(*args):
    env = dict(os.environ, PYTHONPATH=REPO, TF_CPP_MIN_LOG_LEVEL='2')
    return subprocess.run([sys.executable, '-m', 'magenta_rnn.performance.generate', *args],
                          env=env, capture_output=True, text=True, timeout=300)


def save_untrained_bundle(path, config_name):
    from magenta_rnn.rnn import model_io
    from magenta_rnn.rnn.cli import encoder_facts
    from magenta_rnn.rnn.model import build_events_rnn

    config = PERFORMANCE_RNN.load_config(config_name, 'rnn_layer_sizes=[8]')
    facts = encoder_facts(PERFORMANCE_RNN.build_encoder(config))
    network = build_events_rnn(config.hparams, facts['input_size'], facts['num_classes'],
                               input_depth=facts['input_depth'])
    model_io.save_bundle(str(path), network, config, 'untrained')


@pytest.mark.parametrize('config_name, extra', [
    ('performance_with_dynamics', ['--notes_per_second=5']),
    ('multiconditioned_performance_with_dynamics',
     ['--notes_per_second=[2, 8]', '--pitch_class_histogram=[2,0,1,0,1,1,0,2,0,1,0,1]',
      '--primer_pitches=[60, 64, 67]']),
    # Inputs are class indices one-hot inside the model: the bundle must bring that back.
    ('performance_with_dynamics_compact', ['--primer_pitches=[60, 64, 67]']),
])
def test_generate_from_a_bundle(tmp_path, config_name, extra):
    from magenta_rnn.music.midi_io import midi_file_to_note_sequence

    bundle = tmp_path / f'{config_name}.mag'
    save_untrained_bundle(bundle, config_name)
    out = tmp_path / 'out'
    result = run_cli(f'--bundle_file={bundle}', f'--output_dir={out}', '--num_outputs=2',
                     '--num_steps=300', '--seed=3', *extra)
    assert result.returncode == 0, result.stderr[-2000:]
    files = sorted(os.listdir(out))
    assert len(files) == 2 and all(f.endswith(('_1.mid', '_2.mid')) for f in files)
    for name in files:
        sequence = midi_file_to_note_sequence(str(out / name))
        assert sequence.notes
        assert 0.5 < sequence.total_time <= 3.0 + 1e-3
        assert all(n.end_time - n.start_time <= 5.0 + 1e-3 for n in sequence.notes)
    if config_name == 'performance_with_dynamics':
        assert '--notes_per_second is ignored' in result.stderr
    if '--primer_pitches=[60, 64, 67]' in extra:
        first = midi_file_to_note_sequence(str(out / files[0]))
        chord = sorted(n.pitch for n in first.notes if n.start_time == 0.0)
        assert chord == [60, 64, 67]
        assert 'using the default' not in result.stderr


@pytest.mark.parametrize('flags, message', [
    (['--notes_per_second=[2, -1]'], '--notes_per_second: [2, -1] is not a number >= 0'),
    (['--pitch_class_histogram=[1, 2'], '--pitch_class_histogram: \'[1, 2\' is not a Python '
     'literal'),
    (['--pitch_class_histogram=[1, 1, 1]'], 'is not a list of 12 non-negative numbers'),
    (['--disable_conditioning=maybe'], '--disable_conditioning: \'maybe\' is not a Python'),
    (['--primer_pitches=[60]', '--primer_melody=[60]'], 'give at most one of'),
    (['--num_steps=0'], '--num_steps must be at least 1'),
])
def test_flag_errors_are_one_line(tmp_path, flags, message):
    result = run_cli(f'--bundle_file={tmp_path / "none.mag"}', f'--output_dir={tmp_path}',
                     *flags)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert message in lines[-1], result.stderr
    assert 'Traceback' not in result.stderr


def test_disabled_conditioning_segments_feed_the_disable_input():
    config = PERFORMANCE_RNN.load_config('optional_multiconditioned_performance_with_dynamics')
    encoder = setup(config).encoder
    performance = Performance(steps_per_second=100, num_velocity_bins=32)
    for event in [(ON, 60), (SHIFT, 100), (OFF, 60), (SHIFT, 100)]:
        performance.append(PerformanceEvent(*event))
    schedule = ControlSchedule([[4.0], [[1.0] * 12]], total_steps=200, disable=[False, True])
    inputs = ConditionedInputs(encoder, schedule)([performance], full_length=True)[0]
    # Controls of positions 0..3 are taken at steps 0, 100, 100, 200: segments 0, 1, 1, 1.
    control_size = encoder.control_encoder_decoder.input_size  # 1 + 8 + 12
    assert control_size == 21
    assert inputs[:, 0].tolist() == [0.0, 1.0, 1.0, 1.0]
    assert inputs[0, 1:9].argmax() == 3  # 4 notes/s is in [4, 8)
    assert not inputs[1:, 1:control_size].any()


def _seeded_default_tree(root):
    """A models tree (MAGENTA_RNN_DEFAULT_MODELS) whose performance_with_dynamics default
    has seeded random weights (24 LSTM units)."""
    from magenta_rnn.default_models import export
    from magenta_rnn.rnn.config import config_to_json

    config = PERFORMANCE_RNN.load_config('performance_with_dynamics', 'rnn_layer_sizes=[24]')
    encoder = setup(config).encoder
    rng = np.random.default_rng(7)
    values = {
        'rnn/multi_rnn_cell/cell_0/basic_lstm_cell/kernel':
            rng.normal(0, 0.4, (encoder.input_size + 24, 96)).astype(np.float32),
        'rnn/multi_rnn_cell/cell_0/basic_lstm_cell/bias': rng.normal(0, 0.1, 96).astype(np.float32),
        'fully_connected/weights': rng.normal(0, 1.0, (24, encoder.num_classes)).astype(np.float32),
        'fully_connected/biases': rng.normal(0, 0.5, encoder.num_classes).astype(np.float32),
    }
    export.write_default(str(root / 'performance_rnn' / 'performance_with_dynamics'), values,
                         'float32', {'config': config_to_json(config),
                                     'training': {'data': 'seeded random weights'}})
    return root


def test_generate_without_a_model_flag_uses_the_shipped_default(tmp_path, monkeypatch):
    """As melody_rnn_generate and drums_rnn_generate: no --bundle_file/--run_dir means the
    shipped default of the usual config, sampled in NumPy without TensorFlow."""
    import magenta_rnn
    from magenta_rnn import default_models
    from magenta_rnn.music.midi_io import midi_file_to_note_sequence

    tree = _seeded_default_tree(tmp_path / 'tree')
    out = tmp_path / 'out'
    code = ('import runpy, sys; sys.argv = ["performance_rnn_generate", "--output_dir=%s", '
            '"--num_outputs=2", "--num_steps=300", "--seed=1", "--primer_pitches=[60, 64]"]\n'
            'try:\n    runpy.run_module("magenta_rnn.performance.generate", run_name="__main__")\n'
            'except SystemExit as e:\n    assert not e.code, e.code\n'
            'print("TF_LOADED" if "tensorflow" in sys.modules else "TF_NOT_LOADED")' % out)
    env = dict(os.environ, PYTHONPATH=REPO, MAGENTA_RNN_DEFAULT_MODELS=str(tree))
    result = subprocess.run([sys.executable, '-c', code], env=env, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert 'TF_NOT_LOADED' in result.stdout
    assert ('using the shipped default model performance_rnn/performance_with_dynamics, '
            'trained on seeded random weights') in result.stderr
    written = [midi_file_to_note_sequence(str(out / name)) for name in sorted(os.listdir(out))]
    # The same outputs as the API's (times on the 10 ms grid survive the MIDI ticks).
    monkeypatch.setattr(default_models, 'ROOT', str(tree))
    expected = magenta_rnn.generate_performances(primer=parse_primer_pitches('[60, 64]'),
                                                 num_outputs=2, seconds=3.0, seed=1)
    rounded = [sorted((p, v, round(s, 2), round(e, 2)) for p, v, s, e in notes(sequence))
               for sequence in written]
    assert rounded == [sorted(notes(sequence)) for sequence in expected]
    assert all(len(sequence.notes) > 2 for sequence in expected)

    other = subprocess.run([sys.executable, '-m', 'magenta_rnn.performance.generate',
                            '--config=performance', f'--output_dir={tmp_path / "none"}'],
                           env=env, capture_output=True, text=True, timeout=300)
    assert other.returncode == 1
    assert other.stderr.strip().splitlines()[-1].endswith(
        "error: no shipped default model for performance_rnn config 'performance' (shipped "
        "defaults: performance_with_dynamics); give a trained model with --bundle_file, "
        "--run_dir or --checkpoint_file")


# continuation_only: what the model generated after the primer, from the primer's end.

def _shifted_after(sequence, primer_end):
    return [(p, v, round(s - primer_end, 6), round(e - primer_end, 6))
            for p, v, s, e in notes(sequence) if s >= primer_end]


@pytest.mark.parametrize('beam_size', [1, 2])
def test_continuation_only_is_the_full_output_after_the_primer(tmp_path, monkeypatch,
                                                                beam_size):
    import magenta_rnn
    from magenta_rnn import default_models

    monkeypatch.setattr(default_models, 'ROOT', str(_seeded_default_tree(tmp_path)))
    kwargs = dict(primer=parse_primer_pitches('[60, 64]'), num_outputs=2, seconds=2.0,
                  seed=3, beam_size=beam_size)
    full = magenta_rnn.generate_performances(**kwargs)
    continuation = magenta_rnn.generate_performances(continuation_only=True, **kwargs)
    for whole, part in zip(full, continuation):
        assert notes(whole)[:2] == [(60, 97, 0.0, 0.5), (64, 97, 0.0, 0.5)]
        # The first generated step is 10 ms after the primer's end.
        assert min(n.start_time for n in whole.notes[2:]) >= 0.51 - 1e-9
        assert notes(part) == _shifted_after(whole, 0.5)
        assert len(part.notes) == len(whole.notes) - 2 > 2
        assert part.total_time == pytest.approx(whole.total_time - 0.5)


def test_continuation_only_without_a_primer_changes_nothing(tmp_path, monkeypatch):
    import magenta_rnn
    from magenta_rnn import default_models

    monkeypatch.setattr(default_models, 'ROOT', str(_seeded_default_tree(tmp_path)))
    full = magenta_rnn.generate_performances(num_outputs=2, seconds=3.0, seed=4)
    continuation = magenta_rnn.generate_performances(num_outputs=2, seconds=3.0, seed=4,
                                                     continuation_only=True)
    for whole, part in zip(full, continuation):
        assert part == whole and whole.notes
        assert not part.HasField('subsequence_info')


def test_continuation_only_flag(tmp_path, monkeypatch):
    """performance_rnn_generate --continuation_only writes the API's continuations."""
    import magenta_rnn
    from magenta_rnn import default_models
    from magenta_rnn.music.midi_io import midi_file_to_note_sequence

    tree = _seeded_default_tree(tmp_path / 'tree')
    out = tmp_path / 'out'
    env = dict(os.environ, PYTHONPATH=REPO, MAGENTA_RNN_DEFAULT_MODELS=str(tree))
    result = subprocess.run([sys.executable, '-m', 'magenta_rnn.performance.generate',
                             f'--output_dir={out}', '--num_outputs=2', '--num_steps=200',
                             '--seed=5', '--primer_melody=[60, -2, 62, -1, 64]',
                             '--continuation_only'],
                            env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    written = [midi_file_to_note_sequence(str(out / name)) for name in sorted(os.listdir(out))]
    monkeypatch.setattr(default_models, 'ROOT', str(tree))
    expected = magenta_rnn.generate_performances(
        primer=parse_primer_melody('[60, -2, 62, -1, 64]'), num_outputs=2, seconds=2.0,
        seed=5, continuation_only=True)
    def on_10_ms_grid(sequence):  # the primer's 0.625 s end moves to the grid (0.63 s)
        return sorted((p, v, round(s * 100) / 100, round(e * 100) / 100)
                      for p, v, s, e in notes(sequence))
    assert [on_10_ms_grid(sequence) for sequence in written] == [on_10_ms_grid(sequence)
                                                                 for sequence in expected]
    for sequence in expected:  # every time a whole number of 10 ms steps
        assert all(abs(t * 100 - round(t * 100)) < 1e-6
                   for n in sequence.notes for t in (n.start_time, n.end_time))
    # The primer's 60, 62 and 64 (until 0.625 s, 0.63 s on the grid) are not in the files.
    full = magenta_rnn.generate_performances(
        primer=parse_primer_melody('[60, -2, 62, -1, 64]'), num_outputs=2, seconds=2.0, seed=5)
    assert [notes(sequence) for sequence in expected] == [_shifted_after(sequence, 0.63)
                                                          for sequence in full]
    assert all(len(e.notes) == len(f.notes) - 3 for e, f in zip(expected, full))
    assert all(sequence.notes for sequence in written)
