"""Checkpoint files as MusicVAE users have them: the original's published `.tar` archives hold
one checkpoint prefix (`*.index` plus data shards)."""
from __future__ import annotations

import contextlib
import os
import tarfile
import tempfile
from collections.abc import Iterator


def is_tar_checkpoint(path: str) -> bool:
    return os.path.isfile(path) and tarfile.is_tarfile(path)


@contextlib.contextmanager
def extracted_tar_checkpoint(path: str, error_class: type[Exception] = ValueError
                             ) -> Iterator[str]:
    """Unpacks the `.tar` at `path` into a temporary folder (members with unsafe paths are
    refused) and yields its checkpoint prefix; the folder is removed afterwards."""
    with tempfile.TemporaryDirectory(prefix='magenta_rnn_checkpoint_') as directory:
        try:
            with tarfile.open(path) as tar:
                tar.extractall(directory, filter='data')
                index_names = [n for n in tar.getnames() if n.endswith('.index')]
        except (tarfile.TarError, OSError) as e:  # e.g. a member that leaves the folder
            raise error_class(f'{path}: unsafe or damaged .tar checkpoint ({e})') from None
        if not index_names:
            raise error_class(f'{path}: the .tar holds no checkpoint (no *.index member)')
        yield os.path.join(directory, index_names[0][:-len('.index')])
