"""What every console script shares: one-line errors and absl's app with our flags in --help."""
from __future__ import annotations

import contextlib
import importlib.abc
import importlib.util
import os
import re
import sys
import tempfile
from collections.abc import Callable
from typing import NoReturn

from absl import app, flags


def fail(message: str) -> NoReturn:
    """Prints `<program>: error: <message>` to stderr and exits with status 1."""
    print(f'{os.path.basename(sys.argv[0])}: error: {message}', file=sys.stderr)
    sys.exit(1)


def run(main: Callable[[list[str]], None]) -> None:
    """app.run(main), with this package's flags listed by --help.

    absl's --help lists the key flags of sys.argv[0]; under a console script that is
    the wrapper script, not the module that defined them.
    """
    for module, module_flags in flags.FLAGS.flags_by_module_dict().items():
        if module.startswith('magenta_rnn'):
            for flag in module_flags:
                flags.FLAGS.register_key_flag_for_module(sys.argv[0], flag)
    quiet_tensorflow_start_up()
    app.run(main)


# What TensorFlow prints to stderr on every start (before its own log level applies) and
# says nothing about this run: the oneDNN notice and the CPU feature lines. CUDA and cuDNN
# diagnostics are kept: they are what a user needs when a GPU is not found or not used.
_START_UP_NOISE = re.compile(
    r'All log messages before absl::InitializeLog|oneDNN custom operations'
    r'|cpu_feature_guard\.cc|To enable the following instructions')


class _QuietTensorflowImport(importlib.abc.MetaPathFinder):
    """Finds TensorFlow the first time something imports it and hands it to a loader that
    runs it with its start-up noise filtered."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname != 'tensorflow':
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(fullname)  # the real one, now that we are out of the way
        if spec is not None and spec.loader is not None:
            spec.loader = _FilteringLoader(spec.loader)
        return spec


class _FilteringLoader(importlib.abc.Loader):
    def __init__(self, loader: importlib.abc.Loader):
        self._loader = loader

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module) -> None:
        with _stderr_without_start_up_noise():
            self._loader.exec_module(module)
            module.config.list_physical_devices()  # where CUDA is probed


@contextlib.contextmanager
def _stderr_without_start_up_noise():
    """Captures fd 2 (C++ logging writes there directly), then replays every captured line
    that is not start-up noise."""
    sys.stderr.flush()
    saved_stderr = os.dup(2)
    with tempfile.TemporaryFile(mode='w+b') as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved_stderr, 2)
            os.close(saved_stderr)
            captured.seek(0)
            kept = [line for line in captured.read().decode(errors='replace').splitlines(True)
                    if not _START_UP_NOISE.search(line)]
            sys.stderr.write(''.join(kept))


def quiet_tensorflow_start_up() -> None:
    """Makes the first `import tensorflow` of this process drop TensorFlow's start-up noise.

    TF_CPP_MIN_LOG_LEVEL cannot hide it: TensorFlow prints it before its logging is set up.
    A user who sets TF_CPP_MIN_LOG_LEVEL=0 (to debug TensorFlow itself) sees everything.
    """
    if 'tensorflow' in sys.modules or os.environ.get('TF_CPP_MIN_LOG_LEVEL') == '0':
        return
    if not any(isinstance(finder, _QuietTensorflowImport) for finder in sys.meta_path):
        sys.meta_path.insert(0, _QuietTensorflowImport())
