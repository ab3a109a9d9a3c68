"""Performance RNN: polyphonic piano performances with timing and dynamics."""
from magenta_rnn.performance import model as _model
from magenta_rnn.performance import pipeline as _pipeline
from magenta_rnn.rnn.events_model import EventsModel

PERFORMANCE_RNN = EventsModel(
    name='performance_rnn',
    config_keys=_model.CONFIG_KEYS,
    dataset_names={'eval': 'eval_performances', 'training': 'training_performances'},
    default_config=_model.DEFAULT_CONFIG,
    build_encoder=_model.build_encoder,
    build_chain=_pipeline.build_chain,
    validate_config=_model.validate_config,
)
