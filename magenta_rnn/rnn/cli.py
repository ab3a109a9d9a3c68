"""The console scripts shared by Melody, Drums and Performance RNN.

Each model's `*_create_dataset`, `*_train` and `*_generate` module defines the
original's flags through these helpers and calls the matching `run_*` function
with its EventsModel. Nothing here imports TensorFlow at module level, so
`--help` stays fast.
"""
from __future__ import annotations

import dataclasses
import functools
import glob
import logging
import math
import os
import re
from collections.abc import Callable
from typing import Any

from absl import flags

from magenta_rnn import console, records
from magenta_rnn.console import fail
from magenta_rnn.rnn.config import EventsRnnConfig
from magenta_rnn.rnn.events_model import EventsModel

FLAGS = flags.FLAGS


def define_common_flags(default_config: str | None) -> None:
    flags.DEFINE_string('config', default_config,
                        'Name of a shipped config or path to a config .json file.')
    flags.DEFINE_string('hparams', '', 'Comma-separated name=value pairs merged over the '
                        'config\'s hparams, e.g. "batch_size=64,rnn_layer_sizes=[64,64]".')
    flags.DEFINE_string('log', 'INFO', 'Logging level: DEBUG, INFO, WARNING, ERROR or FATAL.')
    flags.DEFINE_string('generator_id', None, 'Id stored in a bundle saved with '
                        '--save_generator_bundle (default: the config\'s id).')
    flags.DEFINE_string('generator_description', None, 'Generator description stored in a '
                        'saved bundle (default: the config\'s description).')


def define_encoder_flag(model: EventsModel) -> None:
    """The model's alternative to --config (e.g. --melody_encoder_decoder), if it has one."""
    if model.encoder_flag is not None:
        name, choices, _ = model.encoder_flag
        flags.DEFINE_enum(name, None, list(choices), 'Instead of --config: a config with this '
                          'encoder and the base hparams. ' +
                          '; '.join(f'{value}: {text}' for value, text in choices.items()))


def config_from_flags(model: EventsModel) -> EventsRnnConfig:
    """The config named by --config (or built by the model's encoder flag), with --hparams.

    Raises ConfigError/HParamsError; fails when neither or both are given.
    """
    alternative = None
    if model.encoder_flag is not None:
        name, _, build = model.encoder_flag
        alternative = getattr(FLAGS, name)
        if alternative and FLAGS.config:
            fail(f'give either --config or --{name}, not both')
        if alternative:
            return build(alternative, FLAGS.hparams)
    if not FLAGS.config:
        either = f' (or --{model.encoder_flag[0]})' if model.encoder_flag else ''
        fail(f'--config is required{either}')
    return model.load_config(FLAGS.config, FLAGS.hparams)


def define_create_dataset_flags(default_config: str | None) -> None:
    define_common_flags(default_config)
    flags.DEFINE_string('input', None, 'TFRecord file of NoteSequences, or a glob of several '
                        '(e.g. the shards notesequences-*.tfrecord written on Beam).')
    flags.DEFINE_string('output_dir', None, 'Directory for the training and eval TFRecords.')
    flags.DEFINE_float('eval_ratio', 0.1, 'Fraction of input to set aside for evaluation.')
    flags.DEFINE_integer('seed', None, 'Seed for the train/eval split (random when unset).')
    flags.DEFINE_list('pipeline_options', None,
                      'Run on Apache Beam (pip install \'magenta_rnn[beam]\') with these '
                      'comma-separated options, e.g. --runner=DirectRunner,'
                      '--direct_num_workers=4,--direct_running_mode=multi_processing; writes '
                      'sharded TFRecords <name>-SSSSS-of-NNNNN.tfrecord and --input may be a glob.')


def setup_logging() -> None:
    level = FLAGS.log.upper()
    if level not in ('DEBUG', 'INFO', 'WARNING', 'ERROR', 'FATAL'):
        fail(f'--log: unknown level {FLAGS.log!r}')
    logging.getLogger().setLevel(level if level != 'FATAL' else 'CRITICAL')


def run_create_dataset(model: EventsModel, chain_options: dict | None = None) -> None:
    """Runs the model's dataset pipeline; chain_options go to model.build_chain."""
    from magenta_rnn.pipelines.dataset import NothingExtractedError, run_dataset_pipeline
    from magenta_rnn.rnn.config import ConfigError
    from magenta_rnn.hparams import HParamsError

    setup_logging()
    for name in ('input', 'output_dir'):
        if not getattr(FLAGS, name):
            fail(f'--{name} is required')
    if not 0.0 <= FLAGS.eval_ratio <= 1.0:
        fail(f'--eval_ratio must be between 0 and 1, got {FLAGS.eval_ratio}')
    if FLAGS.pipeline_options:
        _run_create_dataset_on_beam(model, chain_options)
        return
    try:
        records.matching_files(FLAGS.input, '--input')
    except FileNotFoundError as e:
        fail(str(e))
    try:
        config = config_from_flags(model)
    except (ConfigError, HParamsError) as e:
        fail(str(e))
    console.check_output_dir(FLAGS.output_dir)
    try:
        summary = run_dataset_pipeline(
            FLAGS.input, FLAGS.output_dir, model.dataset_names,
            functools.partial(model.build_chain, config, **(chain_options or {})),
            eval_ratio=FLAGS.eval_ratio,
            seed=FLAGS.seed)
    except (ConfigError, HParamsError, FileNotFoundError, ValueError) as e:
        fail(str(e))
    except NothingExtractedError as e:
        logging.error('statistics of what was dropped:\n%s', e.summary.stats_report())
        fail(str(e))
    logging.info('statistics:\n%s', summary.stats_report())
    for name, count in summary.outputs.items():
        logging.info('wrote %d examples to %s', count, summary.paths[name])
    logging.info('processed %d NoteSequences in %.1f s', summary.inputs, summary.seconds)


def _run_create_dataset_on_beam(model: EventsModel, chain_options: dict | None) -> None:
    from magenta_rnn.hparams import HParamsError
    from magenta_rnn.pipelines import beam_jobs
    from magenta_rnn.rnn.config import ConfigError
    try:
        config = config_from_flags(model)
        globs = beam_jobs.run_create_dataset(
                FLAGS.input, FLAGS.output_dir, model.dataset_names,
                functools.partial(model.build_chain, config, **(chain_options or {})),
                FLAGS.eval_ratio, FLAGS.seed, FLAGS.pipeline_options)
    except (ConfigError, HParamsError, beam_jobs.BeamNotInstalledError, beam_jobs.BeamJobError,
            ValueError, OSError) as e:
        fail(str(e))
    for pattern in globs.values():
        logging.info('wrote %s', pattern)


def define_train_flags(model_name: str, default_config: str | None) -> None:
    define_common_flags(default_config)
    flags.DEFINE_string('run_dir', f'/tmp/{model_name}/logdir/run1',
                        'Directory for checkpoints (run_dir/train) and eval summaries (run_dir/eval).')
    flags.DEFINE_string('sequence_example_file', '',
                        'TFRecord file (or glob) of SequenceExamples from *_create_dataset.')
    flags.DEFINE_integer('num_training_steps', 0,
                         'Global step to train up to (a resumed run counts its earlier steps); '
                         '0 trains until stopped. With --eval, the step to stop evaluating at.')
    flags.DEFINE_integer('num_eval_examples', 0,
                         'Examples per evaluation; 0 uses the whole eval file.')
    flags.DEFINE_integer('summary_frequency', 10, 'Steps between log lines and summaries.')
    flags.DEFINE_integer('num_checkpoints', 10, 'Checkpoints to keep (0 keeps all).')
    flags.DEFINE_boolean('eval', False, 'Run an eval job: evaluate each new checkpoint of '
                         'run_dir/train on --sequence_example_file, writing to run_dir/eval.')
    flags.DEFINE_integer('seed', None, 'Random seed for initialisation and shuffling.')
    flags.DEFINE_string('warm_start_bundle_file', None,
                        'A .mag bundle (the original\'s or ours) whose weights start a fresh '
                        'training run, to fine-tune it; its shape must match --config/--hparams '
                        'except the output layer. A run that resumes its own checkpoint ignores it.')
    define_engine_flags()


DISTRIBUTED_HELP = ('Several machines: set the TF_CONFIG environment variable on every worker '
                    '(MultiWorkerMirroredStrategy; see the README); it replaces the original\'s '
                    '--master, --task, --num_ps_tasks and --num_sync_workers (no parameter '
                    'servers; batch_size is the global batch). Several local GPUs are used '
                    'without any setting.')


def define_engine_flags() -> None:
    """The engine's options every trainer shares."""
    flags.DEFINE_enum('rnn_backend', 'auto', ['auto', 'fused', 'reference', 'cudnn'],
                      'LSTM recurrence: auto (cudnn with a GPU, else fused), fused (the fast '
                      'CPU loop), reference (plain TensorFlow autodiff, slow, the truth the '
                      'others are tested against), cudnn (cuDNN on a GPU; the same math on a '
                      'CPU). Checkpoints are the same whichever trained. Also '
                      'MAGENTA_RNN_BACKEND. '
                      + DISTRIBUTED_HELP)


def configure_engine(hparams) -> None:
    """Applies --rnn_backend and the mixed_precision hparam (raises ValueError)."""
    from magenta_rnn.rnn import backends
    backends.configure(backend=FLAGS.rnn_backend,
                       mixed_precision=hparams.mixed_precision if 'mixed_precision' in hparams
                       else '')


def encoder_facts(encoder) -> dict:
    """The sizes the shared model and trainer need from an encoder."""
    return dict(input_size=encoder.input_size, num_classes=encoder.num_classes,
                default_event_label=encoder.default_event_label,
                class_num_steps=encoder.class_num_steps,
                input_depth=getattr(encoder, 'input_depth', None),
                one_hot_width=getattr(encoder, 'one_hot_width', 0))


def check_warm_start_bundle(config: EventsRnnConfig) -> str | None:
    """--warm_start_bundle_file after a cheap check that it is a bundle (before TF starts)."""
    from magenta_rnn.rnn import bundle as bundle_lib

    path = FLAGS.warm_start_bundle_file
    if not path:
        return None
    if FLAGS.eval:
        fail('--warm_start_bundle_file applies to training, not to --eval')
    if not os.path.isfile(path):
        fail(f'--warm_start_bundle_file: no such file {path}')
    try:
        bundle_id = bundle_lib.read_bundle(path).generator_details.id
    except bundle_lib.GeneratorBundleParseError as e:
        fail(f'--warm_start_bundle_file: {e}')
    if bundle_id != config.id:
        logging.warning('--warm_start_bundle_file %s holds a %r model; training config is %r',
                        path, bundle_id, config.id)
    return path


def run_train(model: EventsModel) -> None:
    """Trains (or with --eval evaluates); --warm_start_bundle_file initialises a fresh run."""
    from magenta_rnn.hparams import HParamsError
    from magenta_rnn.rnn.config import ConfigError

    setup_logging()
    if not FLAGS.sequence_example_file:
        fail('--sequence_example_file is required')
    console.check_flag_ranges({'num_training_steps': (0, None), 'num_eval_examples': (0, None),
                               'summary_frequency': (1, None), 'num_checkpoints': (0, None)})
    try:
        config = config_from_flags(model)
    except (ConfigError, HParamsError) as e:
        fail(str(e))
    encoder = model.build_encoder(config)
    warm_start_bundle = check_warm_start_bundle(config)
    example_files = glob.glob(os.path.expanduser(FLAGS.sequence_example_file))
    if not example_files:
        fail(f'--sequence_example_file {FLAGS.sequence_example_file}: no such file')
    if all(os.path.getsize(path) == 0 for path in example_files):
        fail(f'--sequence_example_file {FLAGS.sequence_example_file}: holds no examples '
             '(empty file)')
    if os.path.isfile(os.path.expanduser(FLAGS.run_dir)):
        fail(f'--run_dir {FLAGS.run_dir}: is a file, not a folder')
    warm_start_fn = None
    if warm_start_bundle:
        def warm_start_fn(network) -> None:
            from magenta_rnn.rnn import model_io
            logging.info('%s', model_io.warm_start(network, warm_start_bundle).summary())

    from magenta_rnn.rnn import train  # TensorFlow loads here, after flags are checked.
    from magenta_rnn.rnn.model import events_rnn_builder

    train.split_cpu_threads()
    try:
        configure_engine(config.hparams)
    except ValueError as e:
        fail(str(e))

    common = dict(build_model=events_rnn_builder(config), hparams=config.hparams,
                  sequence_example_file=FLAGS.sequence_example_file, run_dir=FLAGS.run_dir,
                  **encoder_facts(encoder))
    try:
        if FLAGS.eval:
            train.run_eval(num_eval_examples=FLAGS.num_eval_examples,
                           stop_at_step=FLAGS.num_training_steps, **common)
        else:
            train.run_training(num_training_steps=FLAGS.num_training_steps,
                               summary_frequency=FLAGS.summary_frequency,
                               num_checkpoints=FLAGS.num_checkpoints, seed=FLAGS.seed,
                               warm_start_fn=warm_start_fn, **common)
    except train.tf.errors.OpError as e:  # e.g. a corrupt record in the middle of the file
        fail(f'--sequence_example_file {FLAGS.sequence_example_file}: cannot be read as a '
             f'TFRecord of SequenceExamples ({_first_line(e)[:200]})')
    except (ValueError, FileNotFoundError, train.NonFiniteLossError,
            train.engine.WorkerLostError) as e:
        fail(console.restore_mismatch(e, FLAGS.run_dir) or str(e))


def define_generate_flags(model_name: str, default_config: str | None,
                          checkpoint_file_flag: bool = True, metric_primer: bool = True) -> None:
    """The generate flags; metric_primer adds --primer_midi and --qpm (melody, drums)."""
    define_common_flags(default_config)
    if metric_primer:
        flags.DEFINE_string('primer_midi', '', 'Primer MIDI file.')
        flags.DEFINE_float('qpm', None, 'Tempo in quarters per minute (a primer MIDI\'s tempo '
                           'wins); default 120.')
    flags.DEFINE_string('run_dir', None, 'Training run directory; the latest checkpoint in '
                        'run_dir/train is used.')
    if checkpoint_file_flag:
        flags.DEFINE_string('checkpoint_file', None, 'Path of a checkpoint to use instead of --run_dir.')
    flags.DEFINE_string('bundle_file', None, 'A .mag bundle to generate from, or to write with '
                        '--save_generator_bundle. Without a bundle, --run_dir or '
                        '--checkpoint_file, the shipped default model of --config is used.')
    flags.DEFINE_boolean('save_generator_bundle', False, 'Write the model of --run_dir to '
                         '--bundle_file instead of generating.')
    flags.DEFINE_string('bundle_description', None, 'Description stored in a saved bundle.')
    flags.DEFINE_string('output_dir', f'/tmp/{model_name}/generated',
                        'Directory for the generated MIDI files.')
    flags.DEFINE_integer('num_outputs', 10, 'Number of files to generate (sampled together).')
    flags.DEFINE_integer('num_steps', 128, 'Length of each output in steps, primer included.')
    flags.DEFINE_float('temperature', 1.0, 'Softmax temperature: above 1 more random, below 1 '
                       'less.')
    flags.DEFINE_integer('beam_size', 1, 'Beam size for beam search (1: plain sampling).')
    flags.DEFINE_integer('branch_factor', 1, 'Branches per beam entry per iteration.')
    flags.DEFINE_integer('steps_per_iteration', 1, 'Steps generated per beam search iteration.')
    flags.DEFINE_integer('seed', None, 'Random seed, for reproducible outputs.')
    flags.DEFINE_boolean('continuation_only', False, 'Write only what the model generated '
                         'after the primer, moved so that 0 s is where the primer\'s last note '
                         'ends, rounded to the nearest step (place the file there). The primer\'s notes are '
                         'left out, even one still sounding, and so is the start note used '
                         'without a primer flag. Tempo and time signature are kept.')
    define_preview_flag()


def define_preview_flag() -> None:
    flags.DEFINE_boolean('preview', False, 'Also write a piano-roll PNG and a WAV (General MIDI '
                         'SoundFont) beside each MIDI file; WAVs need pip install '
                         '"magenta_rnn[audio]".')


def check_preview_flag() -> None:
    """Fails in one line before generating when --preview cannot write its WAVs."""
    if FLAGS.preview:
        from magenta_rnn import preview
        try:
            preview.check_audio_available()
        except preview.PreviewError as e:
            fail(str(e))


def write_previews(midi_paths: list[str]) -> None:
    """With --preview: the PNG and WAV of each written MIDI file."""
    if not FLAGS.preview:
        return
    from magenta_rnn import preview
    try:
        for path in midi_paths:
            preview.write_previews(path)
    except preview.PreviewError as e:
        fail(str(e))
    logging.info('wrote a piano-roll PNG and a WAV beside each MIDI file')


def load_generation_model(model: EventsModel):
    """(config, encoder, network) from --bundle_file or --run_dir/--checkpoint_file.

    Handles --save_generator_bundle too (writes the bundle and returns None).
    """
    from magenta_rnn.hparams import HParamsError
    from magenta_rnn.rnn import bundle as bundle_lib
    from magenta_rnn.rnn.config import ConfigError

    checkpoint_file = getattr(FLAGS, 'checkpoint_file', None)
    from_checkpoint = bool(FLAGS.run_dir or checkpoint_file)
    if FLAGS.save_generator_bundle:
        if not FLAGS.bundle_file:
            fail('--save_generator_bundle needs --bundle_file (where to write the bundle)')
        if not from_checkpoint:
            fail('--save_generator_bundle needs --run_dir or --checkpoint_file')
    elif from_checkpoint and FLAGS.bundle_file:
        fail('give either --bundle_file or --run_dir/--checkpoint_file, not both')
    elif not from_checkpoint and not FLAGS.bundle_file:
        return load_default_model(model)

    if FLAGS.bundle_file and not FLAGS.save_generator_bundle \
            and not os.path.isfile(FLAGS.bundle_file):
        fail(f'--bundle_file {FLAGS.bundle_file}: no such file')

    from magenta_rnn.rnn import model_io  # TensorFlow loads here.

    try:
        if from_checkpoint:
            config = config_from_flags(model)
            encoder = model.build_encoder(config)
            facts = encoder_facts(encoder)
            checkpoint = model_io.latest_checkpoint(FLAGS.run_dir, checkpoint_file)
            try:
                network = model_io.load_trained(config, checkpoint, facts['input_size'],
                                                facts['num_classes'], facts['input_depth'])
            except ValueError as e:
                if not console.restore_mismatch(e, ''):
                    raise
                fail(f'{checkpoint}: does not match the model built from --config/--hparams '
                     f'(rnn_layer_sizes, attention, encoder?): {_first_line(e)[:200]}')
            logging.info('loaded %s from %s', model_io.describe(config), checkpoint)
            if FLAGS.save_generator_bundle:
                if FLAGS.generator_id:
                    config.id = FLAGS.generator_id
                if FLAGS.generator_description:
                    config.description = FLAGS.generator_description
                model_io.save_bundle(FLAGS.bundle_file, network, config,
                                     FLAGS.bundle_description or '')
                if not FLAGS.bundle_description:
                    logging.warning('the bundle has no description (--bundle_description)')
                logging.info('wrote bundle %s', FLAGS.bundle_file)
                return None
        else:
            if model.encoder_flag is not None and getattr(FLAGS, model.encoder_flag[0]):
                fail(f'--bundle_file {FLAGS.bundle_file} holds its own config; '
                     f'drop --{model.encoder_flag[0]}')
            bundle = bundle_lib.read_bundle(FLAGS.bundle_file)
            bundle_id = bundle.generator_details.id
            if not model_io.is_our_bundle(bundle) and not _SHIPPED_CONFIG_NAME.fullmatch(bundle_id):
                # The original's bundles name a shipped config; the id is never a path.
                fail(f'--bundle_file {FLAGS.bundle_file}: its generator id {bundle_id!r} is '
                     'not the name of a shipped config')
            explicit_config = FLAGS['config'].present and FLAGS.config
            if explicit_config and FLAGS.config != bundle_id and not FLAGS.config.endswith('.json'):
                fail(f'--bundle_file {FLAGS.bundle_file} holds a {bundle_id!r} model but '
                     f'--config={FLAGS.config}; drop --config or use --config={bundle_id}')
            try:
                config = model_io.bundle_config(bundle, FLAGS.bundle_file)
            except (ValueError, KeyError, TypeError) as e:
                fail(f'--bundle_file {FLAGS.bundle_file}: its stored config is damaged ({e!r})')
            if config is None:  # the original's bundle: the shipped config of its id
                config = model.load_config(bundle_id)
            elif config.model != model.name:
                fail(f'--bundle_file {FLAGS.bundle_file} holds a {config.model} model, '
                     f'not {model.name}')
            model.validate_config(config)
            encoder = model.build_encoder(config)
            network = model_io.load_bundle(FLAGS.bundle_file, config, encoder.num_classes,
                                           input_depth=getattr(encoder, 'input_depth', None))
            logging.info('loaded bundle %s (%s)', FLAGS.bundle_file, bundle_id)
    except (ConfigError, HParamsError, model_io.ModelLoadError,
            bundle_lib.GeneratorBundleParseError) as e:
        fail(str(e))
    return config, encoder, network


def load_default_model(model: EventsModel):
    """(config, encoder, network) of the shipped default for --config (or the model's usual
    config when --config is not given); no TensorFlow is imported."""
    from magenta_rnn import default_models

    if model.encoder_flag is not None and getattr(FLAGS, model.encoder_flag[0]):
        fail(f'--{model.encoder_flag[0]} needs a trained model (--bundle_file, --run_dir or '
             f'--checkpoint_file); the shipped defaults are chosen with --config: '
             f'{", ".join(default_models.shipped(model.name)) or "none"}')
    if FLAGS.hparams:
        fail('--hparams applies to a model built from --run_dir/--checkpoint_file, not to a '
             'shipped default model')
    name = FLAGS.config if FLAGS['config'].present else default_models.default_config_name(
        model.name)
    try:
        loaded = default_models.load_events_rnn(model, name)
    except default_models.NoDefaultModelError as e:
        fail(str(e))
    logging.info('using the %s', default_models.describe(model.name, name))
    return loaded


# What an original bundle's generator id may look like: a config name, never a path.
_SHIPPED_CONFIG_NAME = re.compile(r'[A-Za-z0-9][A-Za-z0-9_-]{0,99}')


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def check_generate_flags() -> None:
    if not FLAGS.output_dir:
        fail('--output_dir is required')
    # Upper bounds: far above any real use, low enough that a typo cannot run for days.
    console.check_flag_ranges({'num_outputs': (1, 10000), 'num_steps': (1, 1_000_000),
                               'beam_size': (1, 1000), 'branch_factor': (1, 1000),
                               'steps_per_iteration': (1, 1_000_000)})
    console.check_temperature(FLAGS.temperature)
    if not FLAGS.save_generator_bundle:
        console.check_output_dir(FLAGS.output_dir)


def write_outputs(sequences, output_dir: str) -> list[str]:
    """Writes `<YYYY-mm-dd_HHMMSS>_<i>.mid` files (i 1-based, zero-padded) as the original."""
    import time

    from magenta_rnn import atomic

    os.makedirs(output_dir, exist_ok=True)
    atomic.remove_stale_midi_temp_files(output_dir)
    stamp = time.strftime('%Y-%m-%d_%H%M%S')
    digits = len(str(len(sequences)))
    paths = []
    for i, sequence in enumerate(sequences, 1):
        path = os.path.join(output_dir, f'{stamp}_{str(i).zfill(digits)}.mid')
        atomic.write_midi_file(sequence, path)
        paths.append(path)
        if not sequence.notes:
            logging.warning('%s has no notes', path)
    logging.info('wrote %d MIDI files to %s', len(paths), output_dir)
    write_previews(paths)
    return paths


@dataclasses.dataclass(frozen=True)
class SharedGenerateArgs:
    """What the generate flags every events model shares ask of its generator call."""
    num_outputs: int
    num_steps: int
    sampling: Any  # rnn.sequence_generator.Sampling
    rng: Any  # numpy.random.Generator, seeded by --seed
    continuation_only: bool


def run_generate(model: EventsModel, read_inputs: Callable[[], Any],
                 generate: Callable[..., list], postprocess=None) -> None:
    """The generate command of every events model, as the original's *_generate.py: the
    shared flags checked, the model loaded (bundle, run dir or shipped default;
    --save_generator_bundle ends there), the outputs written atomically, with previews.

    read_inputs() -> the primer and the model's own flags, parsed before the model (and
    TensorFlow) loads so that a typo fails fast; generate(config, encoder, network,
    inputs, SharedGenerateArgs) -> the output NoteSequences (the model's generator call);
    postprocess(outputs) -> outputs runs before they are written (melody: --program).
    """
    setup_logging()
    check_generate_flags()
    check_preview_flag()
    inputs = read_inputs()
    loaded = load_generation_model(model)
    if loaded is None:
        return
    import numpy as np

    from magenta_rnn.rnn.sequence_generator import Sampling

    args = SharedGenerateArgs(
        num_outputs=FLAGS.num_outputs, num_steps=FLAGS.num_steps,
        sampling=Sampling(temperature=FLAGS.temperature, beam_size=FLAGS.beam_size,
                          branch_factor=FLAGS.branch_factor,
                          steps_per_iteration=FLAGS.steps_per_iteration),
        rng=np.random.default_rng(FLAGS.seed), continuation_only=FLAGS.continuation_only)
    outputs = generate(*loaded, inputs, args)
    if postprocess is not None:
        outputs = postprocess(outputs)
    write_outputs(outputs, FLAGS.output_dir)


def run_metric_generate(model: EventsModel, primer_from_flag, default_primer, parts,
                        primer_flag: str, check_primer_midi=None, postprocess=None) -> None:
    """run_generate for a metric model (melody, drums): a primer from the model's own
    primer flag or --primer_midi, at --qpm, and steps of a quarter note.

    primer_from_flag() -> a track parsed from the model's own primer flag, or None when
    that flag is empty (raising ValueError on malformed input); default_primer() -> the
    track used without any primer; parts(config) -> GenerationParts; check_primer_midi
    (primer, config, name) raises ValueError for a primer MIDI the model cannot use.
    """
    def read_inputs():
        if FLAGS.primer_midi and getattr(FLAGS, primer_flag):
            fail(f'give either --{primer_flag} or --primer_midi, not both')
        if FLAGS.qpm is not None and not (math.isfinite(FLAGS.qpm) and 1 <= FLAGS.qpm <= 1000):
            fail(f'--qpm must be a tempo from 1 to 1000 quarters per minute, got {FLAGS.qpm}')
        qpm = FLAGS.qpm or 120.0
        if FLAGS.primer_midi:
            from magenta_rnn.music.midi_io import MIDIConversionError, midi_file_to_note_sequence
            try:
                primer = midi_file_to_note_sequence(FLAGS.primer_midi)
            except (MIDIConversionError, OSError) as e:
                fail(f'--primer_midi {FLAGS.primer_midi}: cannot read MIDI: {e}')
            if primer.tempos and primer.tempos[0].qpm:
                qpm = primer.tempos[0].qpm
            return primer, qpm
        try:
            track = primer_from_flag()
        except ValueError as e:
            fail(str(e))
        if track is None:
            track = default_primer()
            logging.warning('no primer given (--%s/--primer_midi): starting from %s',
                            primer_flag, list(track))
        return track.to_sequence(qpm=qpm), qpm

    def generate(config, encoder, network, inputs, args: SharedGenerateArgs) -> list:
        primer, qpm = inputs
        if FLAGS.primer_midi and check_primer_midi is not None:
            from magenta_rnn.music.sequences import SequencesError
            try:
                check_primer_midi(primer, config, f'--primer_midi {FLAGS.primer_midi}')
            except ValueError as e:
                fail(str(e))
            except SequencesError as e:
                fail(f'--primer_midi {FLAGS.primer_midi}: cannot be used as a primer: '
                     f'{_first_line(e)}')

        from magenta_rnn.rnn.numpy_stepper import NumpyStepper
        from magenta_rnn.rnn.sequence_generator import generate_after_primer

        try:
            return generate_after_primer(
                NumpyStepper(network), encoder, parts(config), primer, qpm,
                config.steps_per_quarter, args.num_steps, args.num_outputs, args.sampling,
                rng=args.rng, continuation_only=args.continuation_only)
        except ValueError as e:
            fail(str(e))

    run_generate(model, read_inputs, generate, postprocess)
