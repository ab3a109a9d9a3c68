"""The contract every shipped config keeps (every JSON file under configs/, all four families).

Each config is built with tiny layers and fixed weights (drawn from a seeded NumPy generator
by the original's TF1 variable names, so they do not depend on TensorFlow's initializers) and
fed the literal 16-bar band_song of tests/builders.py through its own pipeline or converter:

- events RNNs (melody, drums, performance): a training checkpoint restores into a fresh model
  with the same outputs; the NumPy steppers (of the model, and of the TF-free frozen weights
  that shipped defaults use) give the TensorFlow step's softmax, one step at a time with the
  state carried; a `.mag` bundle loads back with its config and the same outputs; and the
  likeliest class at each of the song's first steps is pinned as a golden.
- MusicVAE: an object-based training checkpoint restores into TrainedModel; the original's
  checkpoint forms (a name-based `.tar`, the shipped defaults' `.npz`) load the same weights;
  the NumPy sampler decodes a fixed z as the TensorFlow decoder does (flat categorical
  decoders without controls, the ones TrainedModel samples in NumPy); and the encoding of the
  song and the greedy decode of a fixed z are pinned as a golden.

Goldens live in tests/goldens/config_contract.json; after an intended change of the numbers,
rewrite them with MAGENTA_RNN_WRITE_GOLDENS=1 and read the diff.
"""
from __future__ import annotations

import functools
import json
import os
import tarfile
from pathlib import Path

import numpy as np
import pytest

import builders

tf = pytest.importorskip('tensorflow')

from magenta_rnn.protobuf import example_pb2  # noqa: E402  (after the TensorFlow skip)

CONFIGS_DIR = Path(__file__).resolve().parents[1] / 'configs'
GOLDENS = Path(__file__).resolve().parent / 'goldens' / 'config_contract.json'
WRITE_GOLDENS = os.environ.get('MAGENTA_RNN_WRITE_GOLDENS') == '1'
EVENTS_TINY = 'batch_size=2,rnn_layer_sizes=[8]'
MUSIC_VAE_TINY = 'batch_size=2,z_size=4,enc_rnn_size=[8],dec_rnn_size=[8]'
PINNED_STEPS = 12


def shipped(family: str) -> list[str]:
    return sorted(p.stem for p in (CONFIGS_DIR / family).glob('*.json'))


EVENTS_CONFIGS = [(family, name) for family in ('melody_rnn', 'drums_rnn', 'performance_rnn')
                  for name in shipped(family)]
MUSIC_VAE_CONFIGS = shipped('music_vae')


def test_every_config_family_is_covered():
    assert sorted(p.name for p in CONFIGS_DIR.iterdir() if p.is_dir()) == [
        'drums_rnn', 'melody_rnn', 'music_vae', 'performance_rnn']
    assert len(EVENTS_CONFIGS) == 15 and len(MUSIC_VAE_CONFIGS) == 23


def fixed_values(names_and_shapes: dict[str, tuple[int, ...]], seed: int = 0
                 ) -> dict[str, np.ndarray]:
    """Weights N(0, 0.5^2) drawn by sorted variable name: the same on every machine."""
    rng = np.random.default_rng(seed)
    return {name: (0.5 * rng.standard_normal(names_and_shapes[name])).astype(np.float32)
            for name in sorted(names_and_shapes)}


def check_golden(key: str, actual: dict) -> None:
    goldens = json.loads(GOLDENS.read_text()) if GOLDENS.exists() else {}
    if WRITE_GOLDENS:
        goldens[key] = actual
        GOLDENS.parent.mkdir(exist_ok=True)
        GOLDENS.write_text('{\n' + ',\n'.join(f' {json.dumps(k)}: {json.dumps(goldens[k])}'
                                               for k in sorted(goldens)) + '\n}\n')
        return
    assert key in goldens, f'no golden for {key}: run with MAGENTA_RNN_WRITE_GOLDENS=1'
    expected = goldens[key]
    assert sorted(actual) == sorted(expected)
    for field, value in expected.items():
        if field.startswith('float:'):
            np.testing.assert_allclose(actual[field], value, rtol=1e-4, atol=1e-5,
                                       err_msg=f'{key} {field}')
        else:
            assert actual[field] == value, f'{key} {field}'


# ---------------------------------------------------------------------------
# Events RNNs

class EventsCase:
    """A config with its encoder, a tiny model of fixed weights and the song's first example."""

    def __init__(self, family: str, name: str):
        from magenta_rnn.drums import DRUMS_RNN
        from magenta_rnn.melody import MELODY_RNN
        from magenta_rnn.performance import PERFORMANCE_RNN
        from magenta_rnn.rnn import model_io, v1_import
        from magenta_rnn.rnn.cli import encoder_facts

        model = {'melody_rnn': MELODY_RNN, 'drums_rnn': DRUMS_RNN,
                 'performance_rnn': PERFORMANCE_RNN}[family]
        self.config = model.load_config(name, EVENTS_TINY)
        self.encoder = model.build_encoder(self.config)
        self.facts = encoder_facts(self.encoder)
        song = builders.piano_song() if family == 'performance_rnn' else builders.band_song()
        examples, _ = model.build_chain(self.config, 'eval').transform(song)
        assert examples, f'{name}: nothing extracted from the band song'
        self.examples = examples
        lists = example_pb2.SequenceExample.FromString(examples[0]).feature_lists.feature_list
        inputs = np.array([f.float_list.value for f in lists['inputs'].feature], np.float32)
        assert inputs.shape[1] == (1 if self.facts['input_depth'] else self.facts['input_size'])
        self.inputs = inputs[None, :PINNED_STEPS]
        self.network = self.build()
        self.values = fixed_values({n: v.shape for n, v in
                                    model_io.export_values(self.network).items()})
        v1_import.assign_weights(self.network, self.values)

    def build(self):
        from magenta_rnn.rnn.model import build_events_rnn
        return build_events_rnn(self.config.hparams, self.facts['input_size'],
                                self.facts['num_classes'], input_depth=self.facts['input_depth'],
                                attention_layout=self.config.attention_layout)


@functools.cache
def events_case(family: str, name: str) -> EventsCase:
    return EventsCase(family, name)


def softmax_heads(result) -> list[np.ndarray]:
    """A step's softmax as a list of heads (multi-head encoders give one per head)."""
    return [np.asarray(head) for head in (result if isinstance(result, list) else [result])]


def tf_softmax(network, inputs: np.ndarray) -> list[np.ndarray]:
    softmax, _ = network.step(inputs, network.zero_state(len(inputs)))
    return softmax_heads(softmax)


def test_events_model_variables_are_the_ones_exported():
    # The fixed weights cover the whole model: a variable missed by export_values would
    # keep its random initial value and make the goldens machine-dependent.
    case = events_case('melody_rnn', 'attention_rnn')
    assert len(case.values) == len(case.network.trainable_variables)


@pytest.mark.parametrize('family,name', EVENTS_CONFIGS)
def test_events_checkpoint_restores_into_a_fresh_model(tmp_path, family, name):
    from magenta_rnn.rnn import model_io

    case = events_case(family, name)
    prefix = tf.train.Checkpoint(model=case.network).write(str(tmp_path / 'model.ckpt'))
    restored = model_io.load_trained(case.config, prefix, case.facts['input_size'],
                                     case.facts['num_classes'], case.facts['input_depth'])
    exported = model_io.export_values(restored)
    assert sorted(exported) == sorted(case.values)
    for key, value in case.values.items():
        np.testing.assert_array_equal(exported[key], value, err_msg=key)
    for ours, theirs in zip(tf_softmax(restored, case.inputs), tf_softmax(case.network,
                                                                          case.inputs)):
        np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize('family,name', EVENTS_CONFIGS)
def test_events_numpy_steps_equal_the_tensorflow_step(family, name):
    from magenta_rnn.default_models.export import frozen_events_rnn
    from magenta_rnn.rnn.numpy_stepper import NumpyStepper

    case = events_case(family, name)
    expected = tf_softmax(case.network, case.inputs)
    for stepper in (NumpyStepper(case.network),
                    NumpyStepper(frozen_events_rnn(case.values, case.config, case.encoder))):
        state = stepper.zero_state(1)
        steps = []
        for t in range(case.inputs.shape[1]):   # one step at a time, the state carried
            softmax, state = stepper.step(case.inputs[:, t:t + 1], state)
            steps.append(softmax_heads(softmax))
        for head, tf_head in enumerate(expected):
            np.testing.assert_allclose(np.concatenate([s[head] for s in steps], axis=1),
                                       tf_head, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize('family,name', EVENTS_CONFIGS)
def test_events_bundle_loads_back_with_its_config(tmp_path, family, name):
    from magenta_rnn.rnn import bundle, model_io
    from magenta_rnn.rnn.config import config_to_json

    case = events_case(family, name)
    path = str(tmp_path / f'{name}.mag')
    model_io.save_bundle(path, case.network, case.config, 'contract test')
    stored = bundle.read_bundle(path)
    assert stored.generator_details.id == case.config.id
    config = model_io.bundle_config(stored, path)
    assert config_to_json(config) == config_to_json(case.config)
    loaded = model_io.load_bundle(path, config, case.facts['num_classes'],
                                  input_depth=case.facts['input_depth'])
    assert loaded.input_depth == case.network.input_depth
    for ours, theirs in zip(tf_softmax(loaded, case.inputs), tf_softmax(case.network,
                                                                        case.inputs)):
        np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-7)


def greedy_continuation(family: str, case: EventsCase) -> list:
    """The fixed-weight model's greedy continuation of a short primer (the helper that picks
    the shipped defaults' storage); melodies and drum tracks, whose inputs are their events."""
    from magenta_rnn.default_models.export import greedy_events
    if family == 'melody_rnn':
        from magenta_rnn.music.melodies import Melody
        primer = Melody([60, -2, 62, -2])
    else:
        from magenta_rnn.music.drums import DrumTrack
        primer = DrumTrack([frozenset({36}), frozenset(), frozenset({42})])
    [events] = greedy_events(case.network, case.encoder, [primer], PINNED_STEPS)
    return [sorted(e) if isinstance(e, frozenset) else e for e in events]


@pytest.mark.parametrize('family,name', EVENTS_CONFIGS)
def test_events_pinned_outputs(family, name):
    """The likeliest class at each of the song's first steps (per head), the largest
    probability of the last step, and (melody, drums) a greedy continuation of a primer,
    from the fixed weights."""
    case = events_case(family, name)
    heads = tf_softmax(case.network, case.inputs)
    pinned = {'argmax': [head[0].argmax(axis=-1).tolist() for head in heads],
              'float:last_max_probability': [float(head[0, -1].max()) for head in heads]}
    if family != 'performance_rnn':
        pinned['greedy'] = greedy_continuation(family, case)
    check_golden(f'{family}/{name}', pinned)


@pytest.mark.parametrize('family,name', EVENTS_CONFIGS)
def test_events_config_trains_one_step(tmp_path, family, name):
    """The song's examples through the shared trainer: one step, a finite loss, a checkpoint."""
    from magenta_rnn import records
    from magenta_rnn.rnn import model_io, train
    from magenta_rnn.rnn.model import build_events_rnn

    case = events_case(family, name)
    path = str(tmp_path / 'examples.tfrecord')
    records.write_records(path, case.examples[:4])
    run_dir = str(tmp_path / 'run')
    result = train.run_training(build_events_rnn, case.config.hparams, path, run_dir,
                                num_training_steps=1, num_checkpoints=1, seed=0, **case.facts)
    assert result['global_step'] == 1
    assert 0.0 < result['loss'] < 50.0
    assert model_io.latest_checkpoint(run_dir, None).endswith('model.ckpt-1')


def generate_from(family: str, case: EventsCase) -> tuple[list, float, float]:
    """Two continuations of a short primer by the fixed-weight model through the model's own
    generation flow: (outputs, primer end, generate end)."""
    from magenta_rnn.rnn.numpy_stepper import NumpyStepper

    rng = np.random.default_rng(0)
    config = case.config
    if family == 'performance_rnn':
        from magenta_rnn.performance import generator
        from magenta_rnn.performance.model import setup
        primer = generator.parse_primer_pitches('[60, 64, 67]')
        outputs = generator.generate_performances(
            NumpyStepper(case.network), setup(config), primer, primer.total_time, 2.0, 2,
            rng=rng)
        return outputs, primer.total_time, 2.0
    from magenta_rnn.rnn.sequence_generator import generate_sequences
    if family == 'melody_rnn':
        from magenta_rnn.melody.generator import melody_parts as parts
        from magenta_rnn.melody.generator import parse_primer_melody
        primer = parse_primer_melody('[60, -2, 62, -2]').to_sequence(qpm=120)
    else:
        from magenta_rnn.drums.generator import drums_parts as parts
        from magenta_rnn.drums.generator import parse_primer_drums
        primer = parse_primer_drums('[(36,), (), (42,)]').to_sequence(qpm=120)
    seconds_per_step = 0.5 / config.steps_per_quarter
    start = max(n.end_time for n in primer.notes) + seconds_per_step
    end = start + 32 * seconds_per_step
    outputs = generate_sequences(NumpyStepper(case.network), case.encoder, parts(config),
                                 primer, start, end, 2, rng=rng)
    return outputs, start, end


@pytest.mark.parametrize('family,name', EVENTS_CONFIGS)
def test_events_config_generates_after_its_primer(family, name):
    case = events_case(family, name)
    outputs, start, end = generate_from(family, case)
    assert len(outputs) == 2
    # As in the original, a note-encoded performance is not cut at the section's end
    # (NotePerformance.set_length does nothing): its last round of notes runs past it.
    cut_at_end = not case.config.extra.get('note_performance', False)
    for output in outputs:
        primer_notes = [n for n in output.notes if n.start_time < start - 1e-6]
        generated = [n for n in output.notes if n.start_time >= start - 1e-6]
        assert primer_notes, f'{name}: the primer is gone'
        if cut_at_end:
            assert all(n.end_time <= end + 1e-6 for n in generated), name
        assert abs(output.total_time - max(n.end_time for n in output.notes)) < 1e-6, name
    assert any(n.start_time >= start - 1e-6 for o in outputs for n in o.notes), \
        f'{name}: nothing generated after the primer'


# ---------------------------------------------------------------------------
# MusicVAE

class MusicVaeCase:
    """A config, its converter, a tiny model of fixed weights and the song's first window."""

    def __init__(self, name: str):
        from magenta_rnn.music_vae import configs
        from magenta_rnn.music_vae import model as model_lib
        from magenta_rnn.music_vae.trained_model import tf1_variable_map

        self.config = configs.load_config(name, MUSIC_VAE_TINY)
        self.converter = self.config.make_data_converter()
        self.converter.set_mode('infer')
        self.vae = model_lib.build_model(self.config, self.converter)
        variables = tf1_variable_map(self.vae)
        self.values = fixed_values({n: tuple(v.shape) for n, v in variables.items()})
        for key, variable in variables.items():
            variable.assign(self.values[key])
        # Converters draw (windows to keep, GrooVAE's note dropout) from their own generator.
        self.converter.rng = np.random.default_rng(0)
        # Every window, and of them the one with the smallest bytes: with chords, windows are
        # deduplicated through a set of strings, so their order (and so which first k a
        # converter keeps) follows PYTHONHASHSEED, as in the original.
        self.converter.max_tensors_per_notesequence = None
        tensors = self.converter.to_tensors(builders.band_song())
        assert tensors.inputs, f'{name}: no window of the band song converts'
        first = min(range(len(tensors.inputs)), key=lambda i: (
            np.asarray(tensors.inputs[i], np.float32).tobytes(),
            np.asarray(tensors.controls[i], np.float32).tobytes()
            if self.converter.control_depth else b''))
        self.inputs = np.asarray(tensors.inputs[first], np.float32)[None]
        self.lengths = np.asarray(tensors.lengths[first], np.int32).reshape(
            [1, *self.converter.length_shape])
        self.controls = (np.asarray(tensors.controls[first], np.float32)[None]
                         if self.converter.control_depth else None)
        self.length = self.config.hparams.max_seq_len
        self.z = np.random.default_rng(1).standard_normal(
            [1, self.config.hparams.z_size]).astype(np.float32)

    def decode_controls(self) -> np.ndarray | None:
        """The song's controls over the decode length (zero-padded past its window)."""
        if self.controls is None:
            return None
        controls = np.zeros([1, self.length, self.converter.control_depth], np.float32)
        controls[:, :self.controls.shape[1]] = self.controls[:, :self.length]
        return controls

    def greedy_decode(self, vae) -> np.ndarray:
        return vae.decode(tf.constant(self.z), self.length, None,
                          end_token=self.converter.end_token,
                          controls=self.decode_controls()).numpy()

    @functools.cached_property
    def decoded(self) -> np.ndarray:
        """The greedy decode of z by the fixed-weight model (computed once: hierarchical
        decoders take a few seconds)."""
        return self.greedy_decode(self.vae)

    def mu(self, vae) -> np.ndarray:
        mu, _ = vae.encode(self.inputs, self.lengths, self.controls)
        return mu.numpy()


@functools.cache
def music_vae_case(name: str) -> MusicVaeCase:
    return MusicVaeCase(name)


def assert_same_weights(vae, values: dict[str, np.ndarray]) -> None:
    from magenta_rnn.music_vae.trained_model import tf1_variable_map
    variables = tf1_variable_map(vae)
    assert sorted(variables) == sorted(values)
    for key, variable in variables.items():
        np.testing.assert_array_equal(variable.numpy(), values[key], err_msg=key)


def test_music_vae_model_variables_are_the_ones_named():
    # As for the events RNNs: every variable has a TF1 name, so every weight is fixed.
    for name in ('hierdec-trio_16bar', 'nade-drums_2bar_full', 'groovae_2bar_hits_control_tfds'):
        case = music_vae_case(name)
        assert len(case.values) == len(case.vae.trainable_variables), name


@pytest.mark.parametrize('name', MUSIC_VAE_CONFIGS)
def test_music_vae_checkpoint_restores_into_trained_model(tmp_path, name):
    from magenta_rnn.music_vae.trained_model import TrainedModel

    case = music_vae_case(name)
    prefix = tf.train.Checkpoint(model=case.vae).write(str(tmp_path / 'train' / 'model.ckpt'))
    trained = TrainedModel(case.config, batch_size=1, checkpoint_dir_or_path=prefix)
    assert_same_weights(trained.model, case.values)
    np.testing.assert_array_equal(case.mu(trained.model), case.mu(case.vae))
    np.testing.assert_array_equal(case.greedy_decode(trained.model), case.decoded)


@pytest.mark.parametrize('name', MUSIC_VAE_CONFIGS)
def test_music_vae_config_trains_one_step(tmp_path, name):
    """The song through music_vae's trainer: one step, a finite loss, a checkpoint that
    TrainedModel samples from (with the song's own controls where the config has them)."""
    from magenta_rnn import records
    from magenta_rnn.music_vae import train
    from magenta_rnn.music_vae.trained_model import TrainedModel

    case = music_vae_case(name)
    path = str(tmp_path / 'songs.tfrecord')
    records.write_records(path, [builders.band_song().SerializeToString()] * 2)
    scalars = train.train(case.config, str(tmp_path / 'run'), [path], num_steps=1,
                          checkpoints_to_keep=1, keep_checkpoint_every_n_hours=1, seed=0)
    assert np.isfinite(float(scalars['loss'])) and float(scalars['loss']) > 0.0
    checkpoint = tf.train.latest_checkpoint(str(tmp_path / 'run' / 'train'))
    assert checkpoint.endswith('model.ckpt-1')
    trained = TrainedModel(case.config, batch_size=1, checkpoint_dir_or_path=checkpoint, seed=0)
    samples = trained.sample(n=1, length=case.length, temperature=0.5,
                             c_input=None if case.controls is None else case.decode_controls()[0])
    assert len(samples) == 1
    # GrooVAE's offsets may move a first-step onset a little before 0, as in the original.
    assert all(n.start_time < n.end_time <= samples[0].total_time + 1e-6
               for n in samples[0].notes), name


@pytest.mark.parametrize('name', MUSIC_VAE_CONFIGS)
def test_music_vae_original_checkpoint_forms_load(tmp_path, name):
    """A name-based checkpoint in a `.tar` (the original's published form) and an `.npz` of
    the same names (the shipped defaults' form) load the same weights."""
    from magenta_rnn.music_vae.trained_model import TrainedModel

    case = music_vae_case(name)
    names = sorted(case.values)
    prefix = str(tmp_path / 'ckpt' / 'model.ckpt')
    tf.raw_ops.SaveV2(prefix=prefix, tensor_names=names, shape_and_slices=[''] * len(names),
                      tensors=[case.values[n] for n in names])
    archive = tmp_path / f'{name}.tar'
    with tarfile.open(archive, 'w') as tar:
        for path in sorted((tmp_path / 'ckpt').iterdir()):
            tar.add(path, arcname=path.name)
    npz = tmp_path / f'{name}.npz'
    np.savez(npz, **case.values)
    for source in (archive, npz):
        trained = TrainedModel(case.config, batch_size=1, checkpoint_dir_or_path=str(source))
        assert_same_weights(trained.model, case.values)


def sampled_in_numpy(name: str) -> bool:
    """Whether TrainedModel samples the config in NumPy: a flat categorical decoder without
    controls."""
    from magenta_rnn.music_vae import configs
    config = configs.load_config(name)
    return (config.decoder.get('type', 'categorical_lstm') == 'categorical_lstm'
            and not config.make_data_converter().control_depth)


@pytest.mark.parametrize('name', [n for n in MUSIC_VAE_CONFIGS if sampled_in_numpy(n)])
def test_music_vae_numpy_sampler_decodes_as_tensorflow(name):
    from magenta_rnn.music_vae import numpy_sampler

    case = music_vae_case(name)
    sampler = numpy_sampler.NumpyDecoderSampler(case.vae.decoder)
    # A temperature of 1e-6 makes the Gumbel-max draw the argmax: the greedy decode.
    samples = sampler.sample(case.z, case.length, 1e-6, np.random.default_rng(0),
                             end_token=case.converter.end_token)
    np.testing.assert_array_equal(samples, case.decoded)


@pytest.mark.parametrize('name', MUSIC_VAE_CONFIGS)
def test_music_vae_pinned_outputs(name):
    """mu of the song's first window, and the first steps of the greedy decode of a fixed z
    (with the song's controls where the config has them)."""
    case = music_vae_case(name)
    decoded = case.decoded[0, :PINNED_STEPS]
    pinned = {'float:mu': case.mu(case.vae)[0].tolist()}
    if np.isin(decoded, [0.0, 1.0]).all():   # one-hot or multi-hot steps
        pinned['active_outputs'] = [np.flatnonzero(step).tolist() for step in decoded]
    else:   # GrooVAE: hits, velocities and offsets
        pinned['float:outputs'] = decoded.tolist()
    check_golden(f'music_vae/{name}', pinned)
