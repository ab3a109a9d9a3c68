"""Reading and writing `.mag` GeneratorBundle files (REFERENCE.md "Bundle files"). TF-free.

A `.mag` file is one serialized GeneratorBundle with no other framing: generator_details
(id = config name), checkpoint_file[0] (one checkpoint's bytes), metagraph_file and
bundle_details.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

from google.protobuf.message import DecodeError

from magenta_rnn.protobuf import generator_pb2

GeneratorBundle = generator_pb2.GeneratorBundle


class GeneratorBundleParseError(ValueError):
    """The file is not a GeneratorBundle."""


def read_bundle(path: str | os.PathLike) -> GeneratorBundle:
    """Parses a `.mag` file; raises GeneratorBundleParseError naming the file if it is not one."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise GeneratorBundleParseError(f'{path}: cannot read bundle file: {e.strerror}') from None
    bundle = GeneratorBundle()
    try:
        bundle.ParseFromString(data)
    except DecodeError:
        raise GeneratorBundleParseError(
            f'{path}: not a generator bundle (.mag) file: it does not parse as GeneratorBundle'
        ) from None
    # Random bytes can parse as an empty-ish message; a usable bundle has an id and a checkpoint.
    if not bundle.generator_details.id or not bundle.checkpoint_file:
        missing = 'generator_details.id' if not bundle.generator_details.id else 'checkpoint_file'
        raise GeneratorBundleParseError(
            f'{path}: not a generator bundle (.mag) file: it has no {missing}')
    return bundle


def write_bundle(path: str | os.PathLike, bundle: GeneratorBundle) -> None:
    """Writes `bundle` to `path` atomically (temp file in the same folder, then rename)."""
    path = Path(path)
    if not str(path):
        raise ValueError('bundle path is empty')
    if not bundle.generator_details.id:
        raise ValueError(f'{path}: bundle generator_details.id is empty')
    write_file_atomically(path, bundle.SerializeToString())


def write_file_atomically(path: str | os.PathLike, data: bytes) -> None:
    """Writes `data` to a temp file beside `path`, then renames it: never half a file."""
    path = Path(path)
    directory = path.parent if str(path.parent) else Path('.')
    directory.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(prefix=f'.{path.name}.', suffix='.tmp', dir=directory)
    try:
        with os.fdopen(handle, 'wb') as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(temp_name, _readable_mode())
        os.replace(temp_name, path)
    except BaseException:
        if os.path.exists(temp_name):
            os.unlink(temp_name)
        raise


def make_bundle(generator_id: str, checkpoint_bytes: bytes, metagraph_bytes: bytes = b'',
                generator_description: str = '', bundle_description: str = '') -> GeneratorBundle:
    """A GeneratorBundle with one checkpoint file and the given details."""
    bundle = GeneratorBundle()
    bundle.generator_details.id = generator_id
    bundle.generator_details.description = generator_description
    bundle.checkpoint_file.append(checkpoint_bytes)
    bundle.metagraph_file = metagraph_bytes
    if bundle_description:
        bundle.bundle_details.description = bundle_description
    return bundle


def _readable_mode() -> int:
    """The mode a plain open() would give a new file (mkstemp makes it 0600)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask
