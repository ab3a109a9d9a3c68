"""Every config shipped in configs/ builds, trains a step on real encodings and generates.

One literal 16-bar song (melody on program 0, bass on program 33, a drum kit, varied
velocities) feeds every model, so a config that cannot build, extract, train or sample
fails here by name.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import builders

tf = pytest.importorskip('tensorflow')

from magenta_rnn import records  # noqa: E402
from magenta_rnn.protobuf import example_pb2, music_pb2  # noqa: E402

CONFIGS_DIR = Path(__file__).resolve().parents[1] / 'configs'


def shipped(model: str) -> list[str]:
    return sorted(p.stem for p in (CONFIGS_DIR / model).glob('*.json'))


def test_every_config_folder_is_covered():
    assert sorted(p.name for p in CONFIGS_DIR.iterdir() if p.is_dir()) == [
        'drums_rnn', 'melody_rnn', 'music_vae', 'performance_rnn']


# ---------------------------------------------------------------------------
# Events RNN models: create_dataset chain -> one training step -> generation.

def events_models():
    from magenta_rnn.drums import DRUMS_RNN
    from magenta_rnn.melody import MELODY_RNN
    from magenta_rnn.performance import PERFORMANCE_RNN
    return {'melody_rnn': MELODY_RNN, 'drums_rnn': DRUMS_RNN, 'performance_rnn': PERFORMANCE_RNN}


EVENTS_CONFIGS = [(model, name) for model in ('melody_rnn', 'drums_rnn', 'performance_rnn')
                  for name in shipped(model)]


def generate_from(model_name: str, config, encoder, network) -> list[music_pb2.NoteSequence]:
    from magenta_rnn.rnn.model import NumpyStepper
    rng = np.random.default_rng(0)
    if model_name == 'performance_rnn':
        from magenta_rnn.performance import generator
        from magenta_rnn.performance.model import setup
        primer = generator.parse_primer_pitches('[60, 64, 67]')
        return generator.generate_performances(
            NumpyStepper(network), setup(config), primer, primer.total_time, 2.0, 2, rng=rng)
    from magenta_rnn.rnn.sequence_generator import generate_sequences
    if model_name == 'melody_rnn':
        from magenta_rnn.melody.generator import melody_parts as parts, parse_primer_melody
        primer = parse_primer_melody('[60, -2, 62, -2]').to_sequence(qpm=120)
    else:
        from magenta_rnn.drums.generator import drums_parts as parts, parse_primer_drums
        primer = parse_primer_drums('[(36,), (), (42,)]').to_sequence(qpm=120)
    seconds_per_step = 0.5 / config.steps_per_quarter
    start = max(n.end_time for n in primer.notes) + seconds_per_step
    return generate_sequences(NumpyStepper(network), encoder, parts(config), primer, start,
                              32 * seconds_per_step, 2, rng=rng)


@pytest.mark.parametrize('model_name,config_name', EVENTS_CONFIGS)
def test_events_config_trains_and_generates(tmp_path, model_name, config_name):
    from magenta_rnn.rnn import model_io, train
    from magenta_rnn.rnn.cli import encoder_facts
    from magenta_rnn.rnn.model import build_events_rnn

    model = events_models()[model_name]
    config = model.load_config(config_name, 'batch_size=2,rnn_layer_sizes=[8]')
    encoder = model.build_encoder(config)
    chain = model.build_chain(config, 'eval')
    examples, _ = chain.transform(builders.piano_song() if model_name == 'performance_rnn'
                                   else builders.band_song())
    assert examples, f'{config_name}: nothing extracted from the test song'
    path = str(tmp_path / 'examples.tfrecord')
    records.write_records(path, examples[:4])  # serialized SequenceExamples

    facts = encoder_facts(encoder)
    first = example_pb2.SequenceExample.FromString(examples[0])
    assert len(first.feature_lists.feature_list['inputs'].feature[0].float_list.value) == \
        facts['input_size']
    run_dir = str(tmp_path / 'run')
    train.run_training(build_events_rnn, config.hparams, path, run_dir, num_training_steps=1,
                       num_checkpoints=1, seed=0, **facts)
    checkpoint = model_io.latest_checkpoint(run_dir, None)
    network = model_io.load_trained(config, checkpoint, facts['input_size'],
                                    facts['num_classes'], facts['input_depth'])
    outputs = generate_from(model_name, config, encoder, network)
    assert len(outputs) == 2
    assert all(isinstance(o, music_pb2.NoteSequence) and o.total_time > 0 for o in outputs)


# ---------------------------------------------------------------------------
# MusicVAE: converter -> one training step -> sampling through TrainedModel.

MUSIC_VAE_TINY = 'batch_size=2,z_size=4,enc_rnn_size=[8],dec_rnn_size=[8]'


@pytest.mark.parametrize('config_name', shipped('music_vae'))
def test_music_vae_config_trains_and_samples(tmp_path, config_name):
    from magenta_rnn.music_vae import configs, train
    from magenta_rnn.music_vae.trained_model import TrainedModel

    config = configs.load_config(config_name, MUSIC_VAE_TINY)
    spec = json.loads((CONFIGS_DIR / 'music_vae' / f'{config_name}.json').read_text())
    path = str(tmp_path / 'songs.tfrecord')
    records.write_records(path, [builders.band_song().SerializeToString()] * 2)
    run_dir = str(tmp_path / 'run')
    train.train(config, run_dir, [path], num_steps=1, checkpoints_to_keep=1,
                keep_checkpoint_every_n_hours=1, seed=0)

    trained = TrainedModel(config, batch_size=2, checkpoint_dir_or_path=str(tmp_path / 'run' / 'train'),
                           seed=0)
    c_input = None
    if trained.data_converter.control_depth:
        # Chords (inferred from the song) or drum hits: the song's own controls.
        c_input = trained.data_converter.to_tensors(builders.band_song()).controls[0]
        assert c_input.shape == (config.hparams.max_seq_len,
                                 trained.data_converter.control_depth), spec['id']
    samples = trained.sample(n=2, length=config.hparams.max_seq_len, temperature=0.5,
                             c_input=c_input)
    assert len(samples) == 2, spec['id']
    assert all(isinstance(s, music_pb2.NoteSequence) for s in samples)
    assert max(len(s.notes) for s in samples) > 0, f'{spec["id"]}: only empty samples'
