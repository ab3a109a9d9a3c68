"""Melody RNN: monophonic melodies, one note at a time."""
from magenta_rnn.melody import model as _model
from magenta_rnn.melody import pipeline as _pipeline
from magenta_rnn.rnn.events_model import EventsModel

MELODY_RNN = EventsModel(
    name='melody_rnn',
    config_keys=_model.CONFIG_KEYS,
    dataset_names={'eval': 'eval_melodies', 'training': 'training_melodies'},
    default_config=None,
    build_encoder=_model.build_encoder,
    build_chain=_pipeline.build_chain,
    validate_config=_model.validate_config,
    encoder_flag=('melody_encoder_decoder',
                  {name: text for name, (_, text) in _model.ENCODER_CHOICES.items()},
                  _model.config_for_encoder),
)
