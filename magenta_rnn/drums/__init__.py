"""Drums RNN: drum-kit patterns, one set of simultaneous drum hits per step."""
from magenta_rnn.drums import model as _model
from magenta_rnn.drums import pipeline as _pipeline
from magenta_rnn.rnn.events_model import EventsModel

DRUMS_RNN = EventsModel(
    name='drums_rnn',
    config_keys=_model.CONFIG_KEYS,
    dataset_names={'eval': 'eval_drum_tracks', 'training': 'training_drum_tracks'},
    default_config=_model.DEFAULT_CONFIG,
    build_encoder=_model.build_encoder,
    build_chain=_pipeline.build_chain,
    validate_config=_model.validate_config,
)
