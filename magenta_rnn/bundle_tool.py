"""magenta_bundle: look inside, unpack, pack and export generator bundles.

    magenta_bundle info   --bundle_file=B.mag
    magenta_bundle unpack --bundle_file=B.mag --output_dir=D
    magenta_bundle pack   --run_dir=R | --checkpoint_file=C  --config=NAME|PATH  --bundle_file=B.mag
    magenta_bundle export --bundle_file=B.mag --format=tfjs|saved_model --output_dir=D
    magenta_bundle export --config=cat-mel_2bar_small --checkpoint_file=C|--run_dir=R ...

`unpack` writes D/model.ckpt (the bundle's V1 checkpoint as stored), D/config.json (a
config file `--config` reads) and, for the original's bundles, D/model.ckpt.meta (its
metagraph); `pack` turns a run dir or checkpoint (ours, or the original's V1/V2) plus a
config into one of our bundles. Nothing here imports TensorFlow before the flags are
checked, so --help stays fast.
"""
from __future__ import annotations

import json
import logging
import os
from typing import Any

from absl import flags

from magenta_rnn import console
from magenta_rnn.console import fail
# TensorFlow-free: which model a config name means, shared with the exporter.
from magenta_rnn.export.loading import (EVENTS_MODELS, events_from_checkpoint, events_model,
                                        model_of_config)

SUBCOMMANDS = ('info', 'unpack', 'pack', 'export')
EXPORT_FORMATS = ('tfjs', 'saved_model')

FLAGS = flags.FLAGS


def define_flags() -> None:
    """The command's flags (defined when it runs, so tests can import this module)."""
    flags.DEFINE_string('bundle_file', None, 'The .mag bundle to read (info, unpack, export) '
                        'or to write (pack).')
    flags.DEFINE_string('output_dir', None, 'Where unpack and export write their files.')
    flags.DEFINE_string('run_dir', None, 'pack/export: a training run dir (its latest '
                        'checkpoint in run_dir/train); ours or the original\'s.')
    flags.DEFINE_string('checkpoint_file', None, 'pack/export: a checkpoint instead of '
                        '--run_dir (ours, the original\'s V2 prefix or V1 file; MusicVAE also '
                        'a .tar).')
    flags.DEFINE_string('config', None, 'pack/export: a shipped config name or a config .json '
                        '(e.g. one written by unpack).')
    flags.DEFINE_string('hparams', '', 'pack/export: name=value pairs merged over the '
                        'config\'s hparams, e.g. "rnn_layer_sizes=[64,64]".')
    flags.DEFINE_string('generator_id', None, 'pack: bundle id (default: the config\'s id).')
    flags.DEFINE_string('generator_description', None, 'pack: generator description '
                        '(default: the config\'s description).')
    flags.DEFINE_string('bundle_description', None, 'pack: description of this bundle.')
    flags.DEFINE_enum('format', None, list(EXPORT_FORMATS), 'export: tfjs (Magenta.js) or '
                      'saved_model.')
    flags.DEFINE_integer('quantization_bytes', None, 'export --format=tfjs: quantize weights '
                         'to 1 or 2 bytes (default: float32).')
    flags.DEFINE_string('log', 'INFO', 'Logging level: DEBUG, INFO, WARNING, ERROR or FATAL.')


# ------------------------------------------------------------------ helpers
def events_model_of_config(name_or_path: str):
    """The EventsModel a --config value (a shipped name or a JSON path) belongs to; a
    ValueError naming the flag for a MusicVAE config or an unknown one."""
    model = model_of_config(name_or_path)
    if model not in EVENTS_MODELS:
        raise ValueError(f'--config: {name_or_path} is a MusicVAE config; bundles (.mag) hold '
                         f'Melody, Drums or Performance RNN models')
    return events_model(model)


def _metagraph_tensorflow_version(metagraph: bytes) -> str:
    from tensorflow.core.protobuf import meta_graph_pb2

    graph = meta_graph_pb2.MetaGraphDef()
    graph.ParseFromString(metagraph)
    return graph.meta_info_def.tensorflow_version or 'unknown'


class BundleContents:
    """A bundle's checkpoint, its inferred shape and the config it generates with."""

    def __init__(self, path: str):
        from magenta_rnn.rnn import bundle as bundle_lib

        self.path = path
        self.bundle = bundle_lib.read_bundle(path)  # before TensorFlow loads: fails fast

        from magenta_rnn.rnn import model_io, v1_import
        self.ours = model_io.is_our_bundle(self.bundle)
        try:
            self.values = v1_import.read_bundle_values(self.bundle)
        except v1_import.CheckpointImportError as e:
            raise ValueError(f'{path}: {e}') from None
        self.config = model_io.bundle_config(self.bundle, path)
        metagraph = b'' if self.ours else self.bundle.metagraph_file
        attn_length = self.config.hparams.attn_length if self.config else None
        try:
            self.shape = v1_import.infer_config(self.values, metagraph, attn_length)
        except v1_import.CheckpointImportError as e:
            raise ValueError(f'{path}: {e}') from None
        if self.config is None:
            self.config = self._shipped_config()

    def _shipped_config(self):
        """The original's bundles store no config: the shipped one of the bundle's id, with
        the layer sizes and attention the checkpoint shows."""
        generator_id = self.bundle.generator_details.id
        try:
            model = events_model_of_config(generator_id)
        except ValueError:
            return None
        config = model.load_config(generator_id)
        config.hparams.update({'rnn_layer_sizes': self.shape.rnn_layer_sizes,
                               'attn_length': self.shape.attn_length,
                               'residual_connections': self.shape.residual_connections})
        if self.bundle.generator_details.description:
            config.description = self.bundle.generator_details.description
        return config

    def written_by(self) -> str:
        from magenta_rnn.rnn import model_io
        if self.ours:
            return f'magenta_rnn (format {model_io.BUNDLE_FORMAT}, config stored as JSON)'
        version = _metagraph_tensorflow_version(self.bundle.metagraph_file)
        return f'the original Magenta (TF1 metagraph, TensorFlow {version})'


# --------------------------------------------------------------- subcommands
def bundle_info(path: str) -> str:
    """What `magenta_bundle info` prints about the bundle at `path`."""
    contents = BundleContents(path)
    bundle, config, shape = contents.bundle, contents.config, contents.shape
    rows: list[tuple[str, Any]] = [
        ('file', f'{contents.path} ({os.path.getsize(contents.path):,} bytes)'),
        ('generator id', bundle.generator_details.id),
        ('description', bundle.generator_details.description or '(none)'),
        ('bundle description', bundle.bundle_details.description or '(none)'),
        ('written by', contents.written_by()),
        ('checkpoint', f'one V1 checkpoint file ({len(bundle.checkpoint_file[0]):,} bytes), '
                       f'TF1 variable names'),
    ]
    if config is None:
        rows.append(('config', f'none: {bundle.generator_details.id!r} is no shipped config and '
                               f'the bundle stores none'))
    else:
        where = ('stored in the bundle' if contents.ours else
                 'the shipped config of this id; layer sizes and attention read from the checkpoint')
        rows += [('config', f'{config.model} {config.id} ({where})'),
                 ('encoder', json.dumps(config.encoder)),
                 ('hparams', ', '.join(f'{k}={v}' for k, v in config.hparams.values().items()))]
    encoder, problem = _encoder_of(config)
    if encoder is not None:
        depth = getattr(encoder, 'input_depth', None)
        rows += [('encoder input size', f'{encoder.input_size}' +
                  (f' (class indices, one-hot depth {depth})' if depth else '')),
                 ('encoder classes', encoder.num_classes)]
    checkpoint_width = shape.input_depth or shape.input_size
    rows.append(('model', f'LSTM layers {shape.rnn_layer_sizes}, attn_length {shape.attn_length}'
                          + (f' ({shape.attention_layout})' if shape.attn_length else '')
                          + (', residual connections' if shape.residual_connections else '')
                          + f'; input width {checkpoint_width}, {shape.num_classes} classes'))
    if encoder is not None:
        encoder_width = getattr(encoder, 'input_depth', None) or encoder.input_size
        classes = (encoder.num_classes if isinstance(encoder.num_classes, int)
                   else sum(encoder.num_classes))
        if (encoder_width, classes) != (checkpoint_width, shape.num_classes):
            problem = (f'the {config.id} encoder gives input width {encoder_width} and {classes} '
                       f'classes; the checkpoint has {checkpoint_width} and {shape.num_classes}')
    if problem:
        rows.append(('WARNING', problem))
    total = sum(int(v.size) for v in contents.values.values())
    nbytes = sum(int(v.nbytes) for v in contents.values.values())
    rows.append(('variables', f'{len(contents.values)}, {total:,} values, {nbytes:,} bytes'))
    width = max(len(name) for name, _ in rows)
    lines = [f'{name + ":":<{width + 1}} {value}' for name, value in rows]
    name_width = max(len(n) for n in contents.values)
    lines += [f'  {name:<{name_width}}  {str(list(value.shape)):<16} {value.dtype}'
              for name, value in sorted(contents.values.items())]
    return '\n'.join(lines)


def _encoder_of(config) -> tuple[object | None, str]:
    """(the config's encoder, '') or (None, why it cannot be built)."""
    if config is None:
        return None, ''
    try:
        return events_model(config.model).build_encoder(config), ''
    except (ValueError, KeyError) as e:
        return None, f'the config\'s encoder cannot be built: {e}'


def unpack(bundle_file: str, output_dir: str) -> tuple[str, str]:
    """Writes output_dir/model.ckpt (+ .meta for the original's) and config.json; returns
    (checkpoint path, config path)."""
    from magenta_rnn.rnn import bundle as bundle_lib
    from magenta_rnn.rnn import model_io

    contents = BundleContents(bundle_file)
    if contents.config is None:
        raise ValueError(f'{bundle_file}: no config to unpack: '
                         f'{contents.bundle.generator_details.id!r} is no shipped config and '
                         f'the bundle stores none')
    os.makedirs(output_dir, exist_ok=True)
    checkpoint = os.path.join(output_dir, 'model.ckpt')
    bundle_lib.write_file_atomically(checkpoint, contents.bundle.checkpoint_file[0])
    if not contents.ours:  # attn_length lives only there
        bundle_lib.write_file_atomically(checkpoint + '.meta', contents.bundle.metagraph_file)
    config_path = os.path.join(output_dir, 'config.json')
    text = json.dumps(model_io.config_to_json(contents.config), indent=2) + '\n'
    bundle_lib.write_file_atomically(config_path, text.encode())
    logging.info('unpacked %s to %s and %s', contents.path, checkpoint, config_path)
    if contents.bundle.bundle_details.description:
        logging.info('bundle description (pack --bundle_description): %s',
                     contents.bundle.bundle_details.description)
    return checkpoint, config_path


def pack(bundle_file: str, config_name: str, *, run_dir: str | None = None,
         checkpoint_file: str | None = None, hparams: str = '',
         generator_id: str | None = None, generator_description: str | None = None,
         bundle_description: str = '') -> None:
    """Writes one of our bundles from a run dir or checkpoint (ours or the original's)."""
    from magenta_rnn.rnn import model_io

    model = events_model_of_config(config_name)
    source = events_from_checkpoint(model.name, config_name, hparams, checkpoint_file, run_dir)
    config, network, checkpoint = source.config, source.network, source.origin
    config.id = generator_id or config.id
    config.description = generator_description or config.description
    model_io.save_bundle(bundle_file, network, config, bundle_description)
    logging.info('packed %s (%s) into %s', checkpoint, model_io.describe(config), bundle_file)


def run_info() -> None:
    print(bundle_info(_required('bundle_file')))


def run_unpack() -> None:
    unpack(_required('bundle_file'), _required('output_dir'))


def run_pack() -> None:
    bundle_file = _required('bundle_file')
    if bool(FLAGS.run_dir) == bool(FLAGS.checkpoint_file):
        fail('pack needs one of --run_dir or --checkpoint_file')
    pack(bundle_file, _required('config'), run_dir=FLAGS.run_dir,
         checkpoint_file=FLAGS.checkpoint_file, hparams=FLAGS.hparams,
         generator_id=FLAGS.generator_id, generator_description=FLAGS.generator_description,
         bundle_description=FLAGS.bundle_description or '')


def export(output_dir: str, export_format: str, *, bundle_file: str | None = None,
           config: str | None = None, checkpoint_file: str | None = None,
           run_dir: str | None = None, hparams: str = '',
           quantization_bytes: int | None = None) -> None:
    """Checks the export flags, then hands over to magenta_rnn.export.export_model."""
    if export_format not in EXPORT_FORMATS:
        raise ValueError(f'--format is required: one of {", ".join(EXPORT_FORMATS)}')
    if quantization_bytes not in (None, 1, 2):
        raise ValueError(f'--quantization_bytes must be 1 or 2, got {quantization_bytes}')
    if bundle_file and (config or run_dir or checkpoint_file):
        raise ValueError('give either --bundle_file or --config with --checkpoint_file/--run_dir, '
                         'not both')
    if not bundle_file and not (config and (checkpoint_file or run_dir)):
        raise ValueError('export needs --bundle_file, or --config with --checkpoint_file or '
                         '--run_dir')
    try:
        from magenta_rnn.export import export_model
    except ModuleNotFoundError as e:
        if e.name and e.name.startswith('magenta_rnn.export'):
            raise ValueError('export: this build of magenta_rnn has no exporter '
                             '(the magenta_rnn.export package is missing)') from None
        raise
    export_model(output_dir, export_format, bundle_file=bundle_file, config=config,
                 checkpoint_file=checkpoint_file, run_dir=run_dir, hparams=hparams,
                 quantization_bytes=quantization_bytes)
    logging.info('exported %s as %s to %s', bundle_file or config, export_format, output_dir)


def run_export() -> None:
    export(_required('output_dir'), FLAGS.format, bundle_file=FLAGS.bundle_file,
           config=FLAGS.config, checkpoint_file=FLAGS.checkpoint_file, run_dir=FLAGS.run_dir,
           hparams=FLAGS.hparams, quantization_bytes=FLAGS.quantization_bytes)


def _required(name: str) -> str:
    value = getattr(FLAGS, name)
    if not value:
        fail(f'--{name} is required')
    return value


def main(argv: list[str]) -> None:
    if len(argv) < 2 or argv[1] not in SUBCOMMANDS:
        given = f' (got {argv[1]!r})' if len(argv) > 1 else ''
        fail(f'give a subcommand: {", ".join(SUBCOMMANDS)}{given}')
    if len(argv) > 2:
        fail(f'unexpected arguments: {" ".join(argv[2:])}')
    level = FLAGS.log.upper()
    if level not in ('DEBUG', 'INFO', 'WARNING', 'ERROR', 'FATAL'):
        fail(f'--log: unknown level {FLAGS.log!r}')
    logging.getLogger().setLevel(level if level != 'FATAL' else 'CRITICAL')

    from magenta_rnn.hparams import HParamsError
    from magenta_rnn.rnn.config import ConfigError

    try:
        {'info': run_info, 'unpack': run_unpack, 'pack': run_pack,
         'export': run_export}[argv[1]]()
    except (ValueError, OSError, ConfigError, HParamsError) as e:
        if level == 'DEBUG':
            raise
        fail(str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__)


def console_entry_point() -> None:
    define_flags()
    console.run(main)


if __name__ == '__main__':
    console_entry_point()
