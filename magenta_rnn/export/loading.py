"""The trained model an export starts from: an events RNN (Melody, Drums or Performance RNN)
from a `.mag` bundle or a config plus checkpoint, or a MusicVAE from a config plus
checkpoint."""
from __future__ import annotations

import dataclasses
import json
import os
from typing import Any

EVENTS_MODELS = ('melody_rnn', 'drums_rnn', 'performance_rnn')


@dataclasses.dataclass
class EventsSource:
    """A trained events RNN with its config and encoder."""
    config: Any          # magenta_rnn.rnn.config.EventsRnnConfig
    encoder: Any         # the config's EventSequenceEncoderDecoder
    network: Any         # magenta_rnn.rnn.model.EventsRnn
    origin: str          # the file it came from, for messages


@dataclasses.dataclass
class MusicVaeSource:
    """A trained MusicVAE with its config and data converter."""
    config: Any          # magenta_rnn.music_vae.configs.MusicVaeConfig
    converter: Any
    vae: Any             # magenta_rnn.music_vae.model.MusicVAE
    origin: str


def events_model(name: str):
    """The EventsModel description of 'melody_rnn', 'drums_rnn' or 'performance_rnn'."""
    if name == 'melody_rnn':
        from magenta_rnn.melody import MELODY_RNN
        return MELODY_RNN
    if name == 'drums_rnn':
        from magenta_rnn.drums import DRUMS_RNN
        return DRUMS_RNN
    if name == 'performance_rnn':
        from magenta_rnn.performance import PERFORMANCE_RNN
        return PERFORMANCE_RNN
    raise ValueError(f'unknown events model {name!r}')


def model_of_config(config: str) -> str:
    """Which model ('music_vae' or an events model) a --config name or JSON path is for."""
    from magenta_rnn.music_vae import configs as vae_configs
    from magenta_rnn.rnn.config import available_configs

    if config.endswith('.json') or os.sep in config:
        try:
            with open(config) as f:
                data = json.load(f)
        except OSError as e:
            raise FileNotFoundError(f'--config: cannot read {config} ({e.strerror})') from None
        except json.JSONDecodeError as e:
            raise ValueError(f'--config: {config} is not valid JSON ({e})') from None
        model = data.get('model') if isinstance(data, dict) else None
        if model not in EVENTS_MODELS + ('music_vae',):
            raise ValueError(f'--config: {config} names no model ("model" must be one of '
                             f'{", ".join(EVENTS_MODELS + ("music_vae",))})')
        return model
    owners = [name for name in EVENTS_MODELS if config in available_configs(name)]
    if config in vae_configs.available_configs():
        owners.append('music_vae')
    if not owners:
        raise ValueError(f'--config: unknown config {config!r} (not a Melody, Drums, '
                         f'Performance RNN or MusicVAE config; a .json path also works)')
    return owners[0]


def _events_from_bundle(bundle_file: str) -> EventsSource:
    from magenta_rnn.rnn import bundle as bundle_lib
    from magenta_rnn.rnn import model_io
    from magenta_rnn.rnn.config import available_configs

    if not os.path.isfile(bundle_file):
        raise FileNotFoundError(f'--bundle_file: no such file {bundle_file}')
    bundle = bundle_lib.read_bundle(bundle_file)
    config = model_io.bundle_config(bundle, bundle_file)
    if config is None:  # the original's bundle: the shipped config of its id
        bundle_id = bundle.generator_details.id
        owners = [name for name in EVENTS_MODELS if bundle_id in available_configs(name)]
        if not owners:
            raise ValueError(f'--bundle_file {bundle_file}: generator id {bundle_id!r} is no '
                             f'Melody, Drums or Performance RNN config')
        config = events_model(owners[0]).load_config(bundle_id)
    model = events_model(config.model)
    model.validate_config(config)
    encoder = model.build_encoder(config)
    network = model_io.load_bundle(bundle_file, config, encoder.num_classes,
                                   input_depth=getattr(encoder, 'input_depth', None))
    return EventsSource(config, encoder, network, bundle_file)


def events_from_checkpoint(model_name: str, config_name: str, hparams: str,
                           checkpoint_file: str | None, run_dir: str | None) -> EventsSource:
    """The events RNN of a checkpoint (or a run dir's latest), built as its config says."""
    from magenta_rnn.rnn import model_io

    model = events_model(model_name)
    config = model.load_config(config_name, hparams)
    encoder = model.build_encoder(config)
    checkpoint = model_io.latest_checkpoint(run_dir, checkpoint_file)
    network = model_io.load_trained(config, checkpoint, encoder.input_size, encoder.num_classes,
                                    getattr(encoder, 'input_depth', None))
    return EventsSource(config, encoder, network, checkpoint)


def _music_vae(config_name: str, hparams: str, checkpoint_file: str | None,
               run_dir: str | None) -> MusicVaeSource:
    from magenta_rnn.music_vae import configs as vae_configs
    from magenta_rnn.music_vae.trained_model import TrainedModel

    config = vae_configs.load_config(config_name, hparams)
    path = checkpoint_file or os.path.join(run_dir, 'train')
    if not os.path.exists(path) and not os.path.exists(path + '.index'):
        flag = '--checkpoint_file' if checkpoint_file else '--run_dir'
        raise FileNotFoundError(f'{flag}: no checkpoint at {path}')
    trained = TrainedModel(config, batch_size=1, checkpoint_dir_or_path=path)
    return MusicVaeSource(trained.config, trained.data_converter, trained.model,
                          trained.checkpoint_path)


def load_source(bundle_file: str | None = None, config: str | None = None,
                checkpoint_file: str | None = None, run_dir: str | None = None,
                hparams: str = '') -> EventsSource | MusicVaeSource:
    """The model named by the flags: --bundle_file, or --config with --checkpoint_file or
    --run_dir. Raises ValueError / FileNotFoundError with one-line messages."""
    from magenta_rnn.hparams import HParamsError
    from magenta_rnn.music_vae.configs import ConfigError as VaeConfigError
    from magenta_rnn.music_vae.trained_model import CheckpointError
    from magenta_rnn.rnn.bundle import GeneratorBundleParseError
    from magenta_rnn.rnn.config import ConfigError
    from magenta_rnn.rnn.model_io import ModelLoadError

    from_checkpoint = bool(checkpoint_file or run_dir)
    if bundle_file and (from_checkpoint or config):
        raise ValueError('give either --bundle_file or --config with --checkpoint_file/--run_dir, '
                         'not both')
    if checkpoint_file and run_dir:
        raise ValueError('give either --checkpoint_file or --run_dir, not both')
    try:
        if bundle_file:
            if hparams:
                raise ValueError('--hparams does not apply to --bundle_file (the bundle holds '
                                 'its own)')
            return _events_from_bundle(bundle_file)
        if not config or not from_checkpoint:
            raise ValueError('one of --bundle_file, or --config with --checkpoint_file or '
                             '--run_dir, is required')
        model_name = model_of_config(config)
        if model_name == 'music_vae':
            return _music_vae(config, hparams, checkpoint_file, run_dir)
        return events_from_checkpoint(model_name, config, hparams, checkpoint_file, run_dir)
    except (ConfigError, VaeConfigError, HParamsError, ModelLoadError, CheckpointError,
            GeneratorBundleParseError) as e:
        raise ValueError(str(e)) from None
