"""drums_rnn_generate: primer parsing, and generating from a bundle of an untrained model."""
import os
import subprocess
import sys

import pytest

from magenta_rnn.drums import DRUMS_RNN
from magenta_rnn.drums.generator import PrimerError, parse_primer_drums
from magenta_rnn.music.midi_io import midi_file_to_note_sequence

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_primer_drums_from_the_readme():
    track = parse_primer_drums('[(36, 42), (), (42,)]')
    assert list(track) == [frozenset({36, 42}), frozenset(), frozenset({42})]
    assert track.steps_per_quarter == 4


@pytest.mark.parametrize('text, message', [
    ('[(36, 42), (x)]', 'is not a Python list of tuples'),
    ('[(36,), (200,)]', '200 is not a MIDI pitch'),
    ('[]', 'is not a non-empty list'),
    ('[(36, "a")]', 'is not a tuple of MIDI pitches'),
])
def test_bad_primer_drums(text, message):
    with pytest.raises(PrimerError, match=message):
        parse_primer_drums(text)


@pytest.mark.parametrize('config_name, seconds_per_step', [('drum_kit', 0.125), ('one_drum', 0.25)])
def test_generate_from_a_bundle(tmp_path, config_name, seconds_per_step):
    from magenta_rnn.rnn import model_io
    from magenta_rnn.rnn.model import build_events_rnn

    config = DRUMS_RNN.load_config(config_name, 'rnn_layer_sizes=[8],attn_length=0')
    encoder = DRUMS_RNN.build_encoder(config)
    network = build_events_rnn(config.hparams, encoder.input_size, encoder.num_classes)
    bundle = tmp_path / f'{config_name}.mag'
    model_io.save_bundle(str(bundle), network, config, 'untrained')

    env = dict(os.environ, PYTHONPATH=REPO, TF_CPP_MIN_LOG_LEVEL='2')
    result = subprocess.run(
        [sys.executable, '-m', 'magenta_rnn.drums.generate', f'--bundle_file={bundle}',
         f'--output_dir={tmp_path / "out"}', '--num_outputs=3', '--num_steps=16',
         '--primer_drums=[(36, 42), (), (42,)]', '--seed=4'],
        env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    files = sorted(os.listdir(tmp_path / 'out'))
    assert len(files) == 3
    generated = midi_file_to_note_sequence(str(tmp_path / 'out' / files[0]))
    assert all(note.is_drum for note in generated.notes)
    # The primer comes first, at the primer's own 4 steps per quarter.
    first = sorted((n.start_time, n.pitch) for n in generated.notes if n.start_time < 0.3)
    assert first[:3] == [(0.0, 36), (0.0, 42), (0.25, 42)]
    assert generated.total_time <= 16 * seconds_per_step + 1e-6
