"""MusicVAE configs as data: hparams exactly as REFERENCE.md "MusicVAE hparams",
"MusicVAE configs"."""
from __future__ import annotations

import json

import pytest

from magenta_rnn.music_vae import configs, converters


def test_shipped_configs():
    assert {'cat-mel_2bar_small', 'cat-mel_2bar_big', 'flat-mel_16bar',
            'hierdec-mel_16bar'} <= set(configs.available_configs())


def test_cat_mel_2bar_small_hparams():
    config = configs.load_config('cat-mel_2bar_small')
    assert config.hparams.values() == {
        'max_seq_len': 32, 'z_size': 256, 'free_bits': 0.0, 'max_beta': 0.2,
        'beta_rate': 0.99999, 'batch_size': 512, 'grad_clip': 1.0,
        'clip_mode': 'global_norm', 'grad_norm_clip_to_zero': 10000,
        'learning_rate': 0.001, 'decay_rate': 0.9999, 'min_learning_rate': 1e-5,
        'conditional': True, 'dec_rnn_size': [256, 256], 'enc_rnn_size': [512],
        'dropout_keep_prob': 1.0, 'sampling_schedule': 'inverse_sigmoid',
        'sampling_rate': 1000.0, 'use_cudnn': False, 'residual_encoder': False,
        'residual_decoder': False, 'control_preprocessing_rnn_size': [256],
        'mixed_precision': ''}  # ours: '' trains in float32 as the original
    assert config.encoder == {'type': 'bidirectional_lstm'}
    assert config.decoder == {'type': 'categorical_lstm'}
    converter = config.make_data_converter()
    assert isinstance(converter, converters.OneHotMelodyConverter)
    assert (converter.input_depth, converter.output_depth, converter.slice_steps) == (90, 90, 32)
    assert config.make_augmenter()._transpose_range == (-5, 5)


def test_cat_mel_2bar_big_differs_only_in_size_and_beta():
    small = configs.load_config('cat-mel_2bar_small').hparams.values()
    big = configs.load_config('cat-mel_2bar_big').hparams.values()
    changed = {k: big[k] for k in big if big[k] != small[k]}
    assert changed == {'z_size': 512, 'enc_rnn_size': [2048],
                       'dec_rnn_size': [2048, 2048, 2048], 'max_beta': 0.5}


def test_hierdec_mel_16bar_as_data():
    config = configs.load_config('hierdec-mel_16bar')
    hp = config.hparams
    assert (hp.batch_size, hp.max_seq_len, hp.z_size, hp.enc_rnn_size, hp.dec_rnn_size,
            hp.free_bits, hp.max_beta, hp.beta_rate, hp.sampling_schedule, hp.sampling_rate) == (
        512, 256, 512, [2048, 2048], [1024, 1024], 256.0, 0.2, 0.0, 'constant', 0.0)
    assert config.decoder == {'type': 'hierarchical', 'level_lengths': [16, 16],
                              'disable_autoregression': True,
                              'core': {'type': 'categorical_lstm'}}
    assert config.make_augmenter() is None
    assert config.make_data_converter().slice_steps == 256


def test_hparams_flag_merges_over_config():
    config = configs.load_config('cat-mel_2bar_small', 'batch_size=64,dec_rnn_size=[128,128]')
    assert config.hparams.batch_size == 64
    assert config.hparams.dec_rnn_size == [128, 128]
    assert config.hparams.z_size == 256


def test_errors_name_the_problem(tmp_path):
    with pytest.raises(configs.ConfigError, match='unknown music_vae config'):
        configs.load_config('no-such-config')
    bad = tmp_path / 'bad.json'
    bad.write_text(json.dumps({'id': 'x', 'encoder': {}, 'decoder': {},
                               'data_converter': {}, 'colour': 'red'}))
    with pytest.raises(configs.ConfigError, match='unknown keys colour'):
        configs.load_config(str(bad))


@pytest.mark.parametrize('name,expected', [
    ('hier-mel_16bar', dict(batch_size=512, max_seq_len=256, z_size=512, enc_rnn_size=[1024],
                            dec_rnn_size=[1024, 1024], free_bits=256, max_beta=0.2)),
    ('hier-trio_16bar', dict(batch_size=256, max_seq_len=256, z_size=512, enc_rnn_size=[1024],
                             dec_rnn_size=[1024, 1024], free_bits=256, max_beta=0.2)),
    ('cat-mel_2bar_med_chords', dict(batch_size=512, max_seq_len=32, z_size=256,
                                     enc_rnn_size=[1024], dec_rnn_size=[512, 512, 512],
                                     free_bits=0, max_beta=1.0, beta_rate=0.0,
                                     sampling_schedule='constant', sampling_rate=0.0)),
    ('hier-multiperf_vel_1bar_med', dict(batch_size=256, max_seq_len=512, z_size=512,
                                         enc_rnn_size=[1024], dec_rnn_size=[512] * 3,
                                         free_bits=0, max_beta=1.0)),
    ('hier-multiperf_vel_1bar_big_chords', dict(batch_size=256, max_seq_len=512, z_size=512,
                                                enc_rnn_size=[2048],
                                                dec_rnn_size=[1024] * 3)),
    ('groovae_2bar_tap_fixed_velocity_note_dropout', dict(
        batch_size=512, max_seq_len=32, z_size=256, enc_rnn_size=[512], dec_rnn_size=[256, 256],
        max_beta=0.2, free_bits=48, dropout_keep_prob=0.3)),
    ('groovae_2bar_hits_control_tfds', dict(
        batch_size=512, max_seq_len=32, z_size=256, enc_rnn_size=[512], dec_rnn_size=[256, 256],
        max_beta=0.2, free_bits=48, dropout_keep_prob=0.3))])
def test_the_nine_later_configs_as_data(name, expected):
    config = configs.load_config(name)
    values = config.hparams.values()
    assert {k: values[k] for k in expected} == expected
    converter = config.make_data_converter()
    depths = (converter.input_depth, converter.output_depth, converter.control_depth)
    assert depths == {
        'hier-mel_16bar': (90, 90, 0), 'hier-trio_16bar': (692, 692, 0),
        'cat-mel_2bar_med_chords': (90, 90, 49),
        'hier-multiperf_vel_1bar_med': (490, 490, 0),
        'hier-multiperf_vel_1bar_big_chords': (490, 490, 49),
        'groovae_2bar_tap_fixed_velocity_note_dropout': (27, 27, 0),
        'groovae_2bar_hits_control_tfds': (27, 27, 9)}[name]
    if name.startswith('hier-'):
        assert config.encoder['type'] == 'hierarchical'
        assert config.encoder['level_lengths'] == ([64, 8] if 'multiperf' in name else [16, 16])
