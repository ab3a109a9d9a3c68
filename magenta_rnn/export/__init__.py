"""Exporting trained models: for the browser (Magenta.js checkpoint folders, `tfjs`) and for
any TensorFlow runtime (`saved_model`).

    export_model('out/basic_rnn_js', 'tfjs', bundle_file='basic_rnn.mag')
    export_model('out/vae', 'saved_model', config='cat-mel_2bar_small',
                 checkpoint_file='run/train')

`magenta_bundle export` calls export_model. The folder is written next to its final place
and renamed into it when complete, so a failed export leaves nothing behind.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile

FORMATS = ('tfjs', 'saved_model')


def _check_output_dir(output_dir: str) -> None:
    if not output_dir:
        raise ValueError('--output_dir is required')
    if os.path.exists(output_dir) and (not os.path.isdir(output_dir) or os.listdir(output_dir)):
        raise ValueError(f'--output_dir {output_dir} already exists and is not an empty folder; '
                         f'choose a new folder (nothing was overwritten)')


def export_model(output_dir: str, export_format: str, *, bundle_file: str | None = None,
                 config: str | None = None, checkpoint_file: str | None = None,
                 run_dir: str | None = None, hparams: str = '',
                 quantization_bytes: int | None = None) -> None:
    """Exports a trained model into the new folder `output_dir`.

    export_format: 'tfjs' (a Magenta.js checkpoint folder) or 'saved_model'.
    Events RNNs come from bundle_file, or from config with checkpoint_file or run_dir;
    MusicVAE from config with checkpoint_file (a checkpoint, its folder or a .tar) or run_dir.
    quantization_bytes: 1 or 2 stores tfjs weights as uint8 / uint16 (as Magenta.js's
    `_q1` / `_q2` checkpoints), None as float32.
    Raises ValueError or FileNotFoundError with a one-line message.
    """
    if export_format not in FORMATS:
        raise ValueError(f'--format must be one of {", ".join(FORMATS)}, not {export_format!r}')
    if quantization_bytes is not None:
        if export_format != 'tfjs':
            raise ValueError('--quantization_bytes applies to --format=tfjs only')
        if quantization_bytes not in (1, 2):
            raise ValueError(f'--quantization_bytes must be 1 or 2, not {quantization_bytes}')
    _check_output_dir(output_dir)

    from magenta_rnn.export import loading

    source = loading.load_source(bundle_file=bundle_file, config=config,
                                 checkpoint_file=checkpoint_file, run_dir=run_dir,
                                 hparams=hparams)
    if export_format == 'tfjs':
        from magenta_rnn.export import tfjs
        if isinstance(source, loading.EventsSource):
            spec, weights = tfjs.events_export(source)
        else:
            spec, weights = tfjs.music_vae_export(source)

    parent = os.path.dirname(os.path.abspath(output_dir))
    try:
        os.makedirs(parent, exist_ok=True)
        staging = tempfile.mkdtemp(prefix=f'.{os.path.basename(os.path.abspath(output_dir))}.',
                                   dir=parent)
    except OSError as e:
        raise ValueError(f'--output_dir {output_dir}: cannot write there ({e.strerror})') from None
    # mkdtemp makes the folder private; the export is meant to be served and shared.
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(staging, 0o777 & ~umask)
    try:
        if export_format == 'tfjs':
            from magenta_rnn.export import weights as weights_lib
            weights_lib.write_weights(staging, weights, quantization_bytes)
            with open(os.path.join(staging, 'config.json'), 'w') as f:
                json.dump(spec, f, indent=1)
        else:
            from magenta_rnn.export import saved_model
            saved_model.write(source, staging)
        if os.path.isdir(output_dir):
            os.rmdir(output_dir)  # empty (checked above)
        os.replace(staging, output_dir)
    finally:
        if os.path.exists(staging):
            shutil.rmtree(staging, ignore_errors=True)
