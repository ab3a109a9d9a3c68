import json

import pytest

from magenta_rnn.rnn.config import ConfigError, available_configs, load_config

MELODY_EXTRA = {'min_note', 'max_note', 'transpose_to_key'}


def test_every_shipped_config_loads_with_its_id_as_file_name():
    for model in ('melody_rnn', 'drums_rnn', 'performance_rnn'):
        names = available_configs(model)
        assert names
        for name in names:
            config = load_config(model, name, allowed_extra={
                'min_note', 'max_note', 'transpose_to_key', 'control_signals',
                'optional_conditioning', 'note_performance'})
            assert config.id == name


def test_attention_rnn_defaults_match_the_original():
    config = load_config('melody_rnn', 'attention_rnn', allowed_extra=MELODY_EXTRA)
    h = config.hparams
    assert (h.batch_size, h.rnn_layer_sizes, h.dropout_keep_prob, h.attn_length, h.clip_norm,
            h.learning_rate, h.residual_connections) == (128, [128, 128], 0.5, 40, 3.0, 0.001, False)
    assert config.extra == {'min_note': 48, 'max_note': 84, 'transpose_to_key': 0}
    assert config.encoder['type'] == 'key_melody'


def test_drum_configs_steps_per_quarter():
    assert load_config('drums_rnn', 'one_drum').steps_per_quarter == 2
    drum_kit = load_config('drums_rnn', 'drum_kit')
    assert drum_kit.steps_per_quarter == 4
    assert drum_kit.hparams.rnn_layer_sizes == [256, 256, 256] and drum_kit.hparams.attn_length == 32


def test_hparams_flag_merges_over_the_config():
    config = load_config('melody_rnn', 'basic_rnn', 'batch_size=64,rnn_layer_sizes=[64,64]',
                         allowed_extra=MELODY_EXTRA)
    assert config.hparams.batch_size == 64 and config.hparams.rnn_layer_sizes == [64, 64]
    assert config.hparams.clip_norm == 5.0


def test_user_config_file(tmp_path):
    path = tmp_path / 'mine.json'
    path.write_text(json.dumps({'id': 'mine', 'encoder': {'type': 'melody_one_hot'},
                                'min_note': 36, 'hparams': {'rnn_layer_sizes': [32]}}))
    config = load_config('melody_rnn', str(path), allowed_extra=MELODY_EXTRA)
    assert config.id == 'mine' and config.hparams.rnn_layer_sizes == [32]
    assert config.hparams.batch_size == 64  # base default


def test_errors_name_the_problem(tmp_path):
    with pytest.raises(ConfigError, match="unknown melody_rnn config 'nope'; choose one of attention_rnn"):
        load_config('melody_rnn', 'nope')
    bad = tmp_path / 'bad.json'
    bad.write_text('{"id": "x", "encoder": {}, "colour": 1}')
    with pytest.raises(ConfigError, match=f'{bad}: unknown keys colour'):
        load_config('melody_rnn', str(bad))
    bad.write_text('{"id": ')
    with pytest.raises(ConfigError, match='not valid JSON'):
        load_config('melody_rnn', str(bad))
    bad.write_text('{"id": "x", "encoder": {}, "hparams": {"batch_size": "big"}}')
    with pytest.raises(ConfigError, match="expects int"):
        load_config('melody_rnn', str(bad))


def test_one_loader_reads_every_models_configs():
    """Events RNNs and MusicVAE share the loader: one error class, and a config file of
    one model given to another is refused by name."""
    from magenta_rnn.music_vae import configs as vae_configs
    from magenta_rnn.rnn.config import CONFIGS_DIR

    assert vae_configs.ConfigError is ConfigError
    vae_file = CONFIGS_DIR / 'music_vae' / 'cat-mel_2bar_small.json'
    melody_file = CONFIGS_DIR / 'melody_rnn' / 'basic_rnn.json'
    with pytest.raises(ConfigError, match=f'{vae_file}: is a music_vae config, not melody_rnn'):
        load_config('melody_rnn', str(vae_file), allowed_extra=MELODY_EXTRA)
    with pytest.raises(ConfigError, match=f'{melody_file}: is a melody_rnn config, not music_vae'):
        vae_configs.load_config(str(melody_file))
    assert vae_configs.available_configs() == available_configs('music_vae')
