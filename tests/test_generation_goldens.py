"""Goldens of the one generation flow (rnn/sequence_generator.py): the NoteSequences that
Melody, Drums and Performance RNN generate for fixed seeds, recorded before the flow was
unified and asserted note for note since.

Models: the shipped defaults (melody basic_rnn, drums drum_kit), the original's real
attention_rnn bundles in ../shared/bundles (skipped without them), and Performance RNN
configs with seeded random weights (every config, not only the shipped default's), with and
without primers and control values, plain sampling and beam search. Retraining a shipped
default changes its goldens: record them again in the same commit.

Record again (only when a change of output is intended, and say why in the commit):
    PYTHONPATH=$PWD python tests/test_generation_goldens.py --record
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest

import builders

REPO_ROOT = Path(__file__).resolve().parents[1]
GOLDENS = Path(__file__).resolve().parent / 'goldens' / 'generation.json'
BUNDLES = REPO_ROOT.parent / 'shared' / 'bundles'
MUGEN = BUNDLES / 'mugen_attention_rnn' / 'checkpoints' / 'attention_rrn.mag'
KARAOKE = BUNDLES / 'creative_karaoke' / 'attention_melody_rnn.mag'


def _notes(sequence) -> dict[str, Any]:
    """A NoteSequence as plain data, times rounded to the microsecond."""
    return {'notes': [[n.pitch, n.velocity, round(n.start_time, 6), round(n.end_time, 6),
                       n.instrument, n.program, int(n.is_drum)] for n in sequence.notes],
            'tempos': [[round(t.time, 6), round(t.qpm, 6)] for t in sequence.tempos],
            'total_time': round(sequence.total_time, 6),
            'ticks_per_quarter': sequence.ticks_per_quarter}


# ----------------------------------------------------------------------------------
# Melody and drums: through the Python API (the console scripts run the same flow).

def _melody(**kwargs):
    import magenta_rnn
    return lambda: magenta_rnn.generate_melodies(**kwargs)


def _drums(**kwargs):
    import magenta_rnn
    return lambda: magenta_rnn.generate_drum_tracks(**kwargs)


def _melody_primer_sequence():
    """A primer NoteSequence at 90 qpm with a note that ends before the next starts."""
    return builders.note_sequence([(62, 90, 0.0, 0.3), (65, 90, 0.5, 1.0), (69, 90, 1.0, 1.6)],
                                  qpm=90.0, time_signature=None, ticks_per_quarter=220)


# ----------------------------------------------------------------------------------
# Performance RNN: seeded random weights in the original's variable names.

def _random_performance_network(config_name: str, layer_size: int = 24):
    from magenta_rnn.performance import PERFORMANCE_RNN
    from magenta_rnn.performance.model import setup
    from magenta_rnn.rnn.numpy_stepper import FrozenEventsRnn

    config = PERFORMANCE_RNN.load_config(config_name)
    performance_setup = setup(config)
    encoder = performance_setup.encoder
    rng = np.random.default_rng(sum(map(ord, config_name)))
    input_width = getattr(encoder, 'input_depth', None) or encoder.input_size
    num_classes = encoder.num_classes
    total_classes = num_classes if isinstance(num_classes, int) else sum(num_classes)
    values = {
        'rnn/multi_rnn_cell/cell_0/basic_lstm_cell/kernel':
            rng.normal(0, 0.4, (input_width + layer_size, 4 * layer_size)).astype(np.float32),
        'rnn/multi_rnn_cell/cell_0/basic_lstm_cell/bias':
            rng.normal(0, 0.1, 4 * layer_size).astype(np.float32),
        'fully_connected/weights':
            rng.normal(0, 1.0, (layer_size, total_classes)).astype(np.float32),
        'fully_connected/biases': rng.normal(0, 0.5, total_classes).astype(np.float32),
    }
    network = FrozenEventsRnn(values, input_size=encoder.input_size, num_classes=num_classes,
                              input_depth=getattr(encoder, 'input_depth', None))
    return network, performance_setup


def _performance(config_name: str, primer: str = '', seconds: float = 3.0,
                 num_outputs: int = 2, seed: int = 0, controls: dict | None = None,
                 disable: list | None = None, beam_size: int = 1, branch_factor: int = 1,
                 steps_per_iteration: int = 1, fill: bool = True,
                 temperature: float = 1.0) -> Callable[[], list]:
    def run():
        from magenta_rnn.performance import generator
        from magenta_rnn.rnn.numpy_stepper import NumpyStepper

        network, performance_setup = _random_performance_network(config_name)
        if primer.startswith('pitches:'):
            sequence = generator.parse_primer_pitches(primer.split(':', 1)[1])
        elif primer.startswith('melody:'):
            sequence = generator.parse_primer_melody(primer.split(':', 1)[1])
        else:
            sequence = generator.empty_primer()
        request = generator.GenerateRequest(
            controls=controls or {}, disable_conditioning=disable, temperature=temperature,
            beam_size=beam_size, branch_factor=branch_factor,
            steps_per_iteration=steps_per_iteration)
        return generator.generate_performances(
            NumpyStepper(network), performance_setup, sequence, sequence.total_time, seconds,
            num_outputs, request, rng=np.random.default_rng(seed), fill_generate_section=fill)
    return run


CASES: dict[str, tuple[Callable[[], Callable[[], list]], Path | None]] = {
    # Melody RNN, shipped basic_rnn.
    'melody_default_primer': (lambda: _melody(num_outputs=3, num_steps=64, seed=1), None),
    'melody_primer_events': (lambda: _melody(primer=[60, -2, 62, -2, 64, -2, 65, -2],
                                             num_outputs=2, num_steps=48, seed=2,
                                             temperature=0.8), None),
    'melody_primer_90_qpm': (lambda: _melody(primer=[67, -2, -1, 69], qpm=90.0, num_outputs=2,
                                             num_steps=40, seed=3), None),
    'melody_primer_sequence': (lambda: _melody(primer=_melody_primer_sequence(), num_outputs=2,
                                               num_steps=48, seed=4), None),
    'melody_beam': (lambda: _melody(primer=[60], num_outputs=2, num_steps=32, seed=5,
                                    beam_size=3), None),
    # Melody RNN, the original's attention_rnn bundles.
    'melody_bundle_mugen': (lambda: _melody(primer=[60, -2, 67], num_outputs=2, num_steps=48,
                                            seed=6, bundle_file=str(MUGEN)), MUGEN),
    'melody_bundle_karaoke': (lambda: _melody(num_outputs=2, num_steps=40, seed=7,
                                              bundle_file=str(KARAOKE)), KARAOKE),
    # Drums RNN, shipped drum_kit.
    'drums_default_primer': (lambda: _drums(num_outputs=2, num_steps=48, seed=1), None),
    'drums_primer': (lambda: _drums(primer=[(36, 42), (), (42,), (), (38, 42), ()],
                                    num_outputs=2, num_steps=48, seed=2), None),
    'drums_beam': (lambda: _drums(num_outputs=2, num_steps=24, seed=3, beam_size=2), None),
    # Performance RNN, seeded weights.
    'performance_silence': (lambda: _performance('performance_with_dynamics', seed=1), None),
    'performance_pitches': (lambda: _performance('performance_with_dynamics',
                                                 'pitches:[60, 64, 67]', seed=2), None),
    'performance_melody': (lambda: _performance('performance', 'melody:[60, -2, 62, -1, 64]',
                                                seed=3, temperature=0.9), None),
    'performance_one_pass': (lambda: _performance('performance_with_dynamics',
                                                  'pitches:[72]', seed=4, fill=False), None),
    'performance_beam': (lambda: _performance('performance_with_dynamics', 'pitches:[60]',
                                              seconds=1.5, seed=5, beam_size=2,
                                              branch_factor=2, steps_per_iteration=4), None),
    'performance_controls': (lambda: _performance(
        'multiconditioned_performance_with_dynamics', 'pitches:[60, 64]', seed=6,
        controls={'notes_per_second': [2.0, 8.0],
                  'pitch_class_histogram': [[2, 0, 1, 0, 1, 1, 0, 2, 0, 1, 0, 1]]}), None),
    'performance_default_controls': (lambda: _performance(
        'density_conditioned_performance_with_dynamics', seed=7), None),
    'performance_optional_controls': (lambda: _performance(
        'optional_multiconditioned_performance_with_dynamics', 'pitches:[55]', seed=8,
        controls={'notes_per_second': [4.0]}, disable=[False, True]), None),
    'performance_modulo': (lambda: _performance(
        'performance_with_dynamics_and_modulo_encoding', 'pitches:[60]', seed=9), None),
    'performance_compact': (lambda: _performance(
        'performance_with_dynamics_compact', seed=10), None),
    'performance_note_encoding': (lambda: _performance(
        'performance_with_dynamics_and_note_encoding', 'pitches:[60, 67]', seconds=2.0,
        seed=11), None),
}


def _generate(name: str) -> list[dict[str, Any]]:
    make, _ = CASES[name]
    return [_notes(sequence) for sequence in make()()]


@pytest.fixture(scope='module')
def goldens() -> dict[str, Any]:
    return json.loads(GOLDENS.read_text())


@pytest.mark.parametrize('name', sorted(CASES))
def test_generation_equals_its_golden(name, goldens):
    _, needs = CASES[name]
    if needs is not None and not needs.is_file():
        pytest.skip(f'{needs} is not present')
    assert name in goldens, f'no golden recorded for {name}'
    assert _generate(name) == goldens[name]


def test_the_goldens_are_not_trivial(goldens):
    """Every case has notes, and the outputs of one call differ (each row its own draws)."""
    for name, outputs in goldens.items():
        assert any(output['notes'] for output in outputs), name
        if len(outputs) > 1 and 'beam' not in name:
            assert outputs[0]['notes'] != outputs[1]['notes'], name


def _record() -> None:
    recorded = {}
    for name in sorted(CASES):
        _, needs = CASES[name]
        if needs is not None and not needs.is_file():
            sys.exit(f'{needs} is needed to record {name}')
        recorded[name] = _generate(name)
        print(name, [len(output['notes']) for output in recorded[name]])
    GOLDENS.parent.mkdir(exist_ok=True)
    GOLDENS.write_text(json.dumps(recorded, indent=0, sort_keys=True) + '\n')


if __name__ == '__main__':
    if sys.argv[1:] != ['--record']:
        sys.exit(__doc__)
    _record()
