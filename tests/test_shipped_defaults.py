"""The default models that ship inside the package, as a user gets them: each one loads and
generates reproducibly, its model card, model.json and the README's table agree.

Retraining a default changes its figures; these tests then hold for the new ones without
edits (they compare the shipped files with each other, not with numbers written here).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

import magenta_rnn
from magenta_rnn import default_models
from magenta_rnn.drums import DRUMS_RNN
from magenta_rnn.melody import MELODY_RNN
from magenta_rnn.performance import PERFORMANCE_RNN

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EVENTS_MODELS = {'melody_rnn': MELODY_RNN, 'drums_rnn': DRUMS_RNN,
                 'performance_rnn': PERFORMANCE_RNN}
PACKAGE_TREE = os.path.dirname(os.path.abspath(default_models.__file__))


def _shipped() -> list[tuple[str, str]]:
    found = []
    for model in sorted(default_models.DEFAULT_CONFIGS):
        base = os.path.join(PACKAGE_TREE, model)
        if os.path.isdir(base):
            found += [(model, name) for name in sorted(os.listdir(base))
                      if os.path.isfile(os.path.join(base, name, default_models.WEIGHTS_FILE))]
    return found


SHIPPED = _shipped()
EVENTS_SHIPPED = [entry for entry in SHIPPED if entry[0] != 'music_vae']
VAE_SHIPPED = [entry for entry in SHIPPED if entry[0] == 'music_vae']


@pytest.fixture(autouse=True)
def _package_tree(monkeypatch):
    # The shipped tree, even where MAGENTA_RNN_DEFAULT_MODELS points elsewhere.
    monkeypatch.setattr(default_models, 'ROOT', PACKAGE_TREE)


def test_the_package_ships_a_default_for_every_generate_command():
    assert {model for model, _ in SHIPPED} == set(default_models.DEFAULT_CONFIGS)
    for model, name in default_models.DEFAULT_CONFIGS.items():
        assert (model, name) in SHIPPED


def _model_json(model: str, name: str) -> dict:
    with open(os.path.join(PACKAGE_TREE, model, name, default_models.MODEL_FILE)) as f:
        return json.load(f)


@pytest.mark.parametrize('model,name', SHIPPED, ids=[f'{m}/{n}' for m, n in SHIPPED])
def test_model_card_states_the_shipped_training_and_held_out_figures(model, name):
    data = _model_json(model, name)
    with open(os.path.join(PACKAGE_TREE, model, name, default_models.CARD_FILE)) as f:
        card = f.read()
    steps = data['training']['steps']
    assert card.startswith(f'# {model} / {name}: shipped default model\n')
    assert f'- **Training**: {steps} steps, ' in card
    assert f'- **Held-out figures** (step {data["card"]["eval"]["step"]}): ' in card
    assert data['card']['eval']['step'] == steps
    for metric, (mean, spread) in data['card']['generated'].items():
        assert f'| {metric} | {mean:.3f} ± {spread:.3f} |' in card


def test_readme_table_is_the_one_the_shipped_cards_make():
    env = dict(os.environ)
    env.pop('MAGENTA_RNN_DEFAULT_MODELS', None)
    table = subprocess.run([sys.executable, 'scripts/train_default_models.py', '--readme_table'],
                           cwd=REPO, env=env, capture_output=True, text=True, check=True,
                           timeout=60).stdout.strip().split('\n')
    assert len(table) == 2 + len(SHIPPED)
    with open(os.path.join(REPO, 'README.md')) as f:
        readme = f.read().split('\n')
    start = readme.index(table[0])
    assert readme[start:start + len(table)] == table


def _events_outputs(model: str, name: str, seed: int):
    if model == 'melody_rnn':
        return magenta_rnn.generate_melodies(primer=[60, -2, 62], num_outputs=2, num_steps=48,
                                             config=name, seed=seed)
    if model == 'drums_rnn':
        return magenta_rnn.generate_drum_tracks(primer=[(36, 42)], num_outputs=2, num_steps=48,
                                                config=name, seed=seed)
    return magenta_rnn.generate_performances(num_outputs=2, seconds=3.0, config=name, seed=seed)


@pytest.mark.parametrize('model,name', EVENTS_SHIPPED, ids=[f'{m}/{n}' for m, n in EVENTS_SHIPPED])
def test_events_default_generates_reproducible_music(model, name):
    first = _events_outputs(model, name, seed=3)
    assert [s.SerializeToString() for s in first] == [
        s.SerializeToString() for s in _events_outputs(model, name, seed=3)]
    assert [s.SerializeToString() for s in first] != [
        s.SerializeToString() for s in _events_outputs(model, name, seed=4)]
    config = default_models.load_events_rnn(EVENTS_MODELS[model], name)[0]
    primer_end = {'melody_rnn': 0.375, 'drums_rnn': 0.125, 'performance_rnn': 0.0}[model]
    for sequence in first:
        generated = [n for n in sequence.notes if n.start_time >= primer_end + 0.1]
        assert generated, 'nothing generated after the primer'
        if model == 'melody_rnn':
            low, high = config.extra['min_note'], config.extra['max_note']
            assert all(low <= n.pitch < high for n in sequence.notes)
        elif model == 'drums_rnn':
            assert all(n.is_drum for n in sequence.notes)
        else:
            assert sequence.total_time <= 3.0 + 1e-6
            assert all(1 <= n.velocity <= 127 and n.end_time > n.start_time
                       for n in sequence.notes)


@pytest.mark.parametrize('name', [n for _, n in VAE_SHIPPED])
def test_music_vae_default_samples_two_bars(name):
    samples = magenta_rnn.music_vae_sample(name, num_outputs=2, seed=1)
    assert len(samples) == 2
    for sequence in samples:
        assert sequence.notes
        # Two bars of 4/4 at 120 qpm; GrooVAE shifts onsets by less than half a step.
        assert sequence.total_time <= 4.0 + 0.0625
        assert all(n.is_drum for n in sequence.notes) == ('drums' in name or 'groovae' in name)
