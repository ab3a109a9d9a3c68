"""What every console script shares: one-line errors and absl's app with our flags in --help."""
from __future__ import annotations

import contextlib
import errno
import faulthandler
import importlib.abc
import importlib.util
import math
import os
import re
import signal
import sys
import tempfile
import threading
import traceback
from collections.abc import Callable
from typing import NoReturn

from absl import app, flags

from magenta_rnn import atomic


def fail(message: str, status: int = 1) -> NoReturn:
    """Prints `<program>: error: <message>` to stderr and exits with `status`."""
    print(f'{os.path.basename(sys.argv[0])}: error: {message}', file=sys.stderr)
    sys.exit(status)


# Softmax temperatures a sampler can use: below this, logits / temperature overflow
# (every output becomes the primer alone); above it the distribution is uniform noise.
MIN_TEMPERATURE = 1e-6
MAX_TEMPERATURE = 1e6


def check_temperature(value: float, flag: str = 'temperature') -> None:
    """Fails unless `value` is a finite temperature in [MIN_TEMPERATURE, MAX_TEMPERATURE]."""
    if not (math.isfinite(value) and MIN_TEMPERATURE <= value <= MAX_TEMPERATURE):
        fail(f'--{flag} must be a number from {MIN_TEMPERATURE:g} to {MAX_TEMPERATURE:g}, '
             f'got {value}')


def check_flag_ranges(ranges: dict[str, tuple[int | None, int | None]]) -> None:
    """Fails on the first integer flag outside its (low, high) range (None: unbounded; an
    unset flag is not checked)."""
    for name, (low, high) in ranges.items():
        value = flags.FLAGS[name].value
        if value is None:
            continue
        if low is not None and value < low:
            fail(f'--{name} must be at least {low}, got {value}')
        if high is not None and value > high:
            fail(f'--{name} must be at most {high}, got {value}')


# What TensorFlow says when a checkpoint's variables do not fit the model built.
_RESTORE_MISMATCH = re.compile(r'incompatible tensor|when attempting to restore|'
                               r'Shapes? .* (are|is) incompatible')


def restore_mismatch(error: BaseException, run_dir: str) -> str | None:
    """The error line for a run dir whose checkpoint was trained with other hparams, or
    None when `error` is something else."""
    text = str(error).strip()
    if not _RESTORE_MISMATCH.search(text):
        return None
    return (f'--run_dir {run_dir}: its checkpoint was trained with other --config/--hparams '
            f'(layer sizes, z_size, attention, encoder?); give the same ones or a new '
            f'--run_dir ({text.splitlines()[0][:200]})')


def check_output_dir(path: str, flag: str = 'output_dir') -> str:
    """Creates the output folder `path` if needed (removed again, while empty, when the
    command fails); fails unless it is a writable folder. Returns the path with ~ expanded."""
    expanded = os.path.expanduser(path)
    if os.path.exists(expanded) and not os.path.isdir(expanded):
        fail(f'--{flag} {path}: is a file, not a folder')
    _make_writable_folder(expanded, flag, path, 'the folder')
    return expanded


def check_output_file(path: str, flag: str = 'output_file') -> str:
    """Fails unless `path` can be written (its folder exists or can be made, is writable,
    and `path` is not a folder). Returns the path with ~ expanded; creates no folder."""
    expanded = os.path.expanduser(path)
    if os.path.isdir(expanded):
        fail(f'--{flag} {path}: is a folder, not a file')
    directory = os.path.dirname(os.path.abspath(expanded))
    probe = directory
    while not os.path.exists(probe):
        probe = os.path.dirname(probe)
    if not os.path.isdir(probe):
        fail(f'--{flag} {path}: {probe} is a file, not a folder')
    _make_writable_folder(directory, flag, path, f'its folder {directory}')
    # Made again by the writer, which removes them on failure.
    atomic.remove_empty_folders_made(within=directory)
    return expanded


def _make_writable_folder(folder: str, flag: str, path: str, name: str) -> None:
    """Creates `folder` if needed; fails, naming --flag path and the folder as `name`,
    unless files can be written in it."""
    try:
        atomic.make_folders(folder)
    except OSError as error:
        fail(f'--{flag} {path}: cannot create {name} ({error.strerror})')
    if not os.access(folder, os.W_OK | os.X_OK):
        fail(f'--{flag} {path}: {name} is not writable')


def describe_error(error: BaseException) -> str:
    """One line saying what went wrong, naming the file where the error knows it."""
    if isinstance(error, OSError):
        names = [name for name in (error.filename, error.filename2) if name]
        where = ' -> '.join(os.fsdecode(name) for name in names)
        if error.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
            what = f'no space left to write ({error.strerror})'
        else:
            what = error.strerror or str(error)
        return f'{where}: {what}' if where else what
    op_message = getattr(error, 'message', None)  # tf.errors.OpError
    if type(error).__module__.startswith('tensorflow') and isinstance(op_message, str):
        text = re.sub(r'\s*\[Op:\w+\].*', '', op_message.strip().splitlines()[0])
        return f'TensorFlow could not read or write a file: {text}'
    text = str(error).strip().splitlines()[0] if str(error).strip() else ''
    return (f'unexpected {type(error).__name__}{": " + text if text else ""} '
            '(run again with --log=DEBUG for the traceback)')


def _debug_logging() -> bool:
    try:
        return str(flags.FLAGS['log'].value).upper() == 'DEBUG'
    except (KeyError, flags.UnparsedFlagAccessError):
        return False


def guarded(main: Callable[[list[str]], None]) -> Callable[[list[str]], None]:
    """main, with every escaping exception turned into one `error:` line and status 1
    (Ctrl-C: status 130); the traceback is printed only with --log=DEBUG."""

    def guarded_main(argv: list[str]) -> None:
        try:
            try:
                main(argv)
            except BaseException as error:
                if not (isinstance(error, SystemExit) and error.code in (0, None)):
                    atomic.remove_empty_folders_made()  # a failed run leaves no empty folders
                raise
        except KeyboardInterrupt:
            fail('interrupted (Ctrl-C); nothing half-written was kept', status=130)
        except (SystemExit, app.UsageError):
            raise
        except Exception as error:  # the one top-level handler
            if _debug_logging():
                traceback.print_exc()
            fail(describe_error(error))

    return guarded_main


# After Ctrl-C, a program gets this long to stop before it is ended. TensorFlow can lose
# the KeyboardInterrupt (raised inside one of its callbacks, where it is "ignored") and
# then wait forever on its own locks; Ctrl-C must still end the program.
INTERRUPT_GRACE_S = 15.0


def _on_interrupt(signum, frame) -> None:
    if not getattr(_on_interrupt, 'armed', False):
        _on_interrupt.armed = True
        watchdog = threading.Timer(INTERRUPT_GRACE_S, _force_exit)
        watchdog.daemon = True
        watchdog.start()
        # A backstop that needs no Python lock: if even the watchdog thread cannot run,
        # the C-level timer ends the process a little later (its stack dump goes nowhere).
        faulthandler.dump_traceback_later(INTERRUPT_GRACE_S + 10, exit=True,
                                          file=open(os.devnull, 'w'))
    raise KeyboardInterrupt


def _quiet_unraisable(unraisable) -> None:
    """Python prints 'Exception ignored in ...' with a traceback when a Ctrl-C lands in a
    callback; that Ctrl-C is handled by the watchdog, so the traceback is noise."""
    if issubclass(unraisable.exc_type, KeyboardInterrupt) and not _debug_logging():
        return
    sys.__unraisablehook__(unraisable)


def _force_exit() -> None:
    print(f'{os.path.basename(sys.argv[0])}: error: interrupted (Ctrl-C) and did not stop '
          f'within {INTERRUPT_GRACE_S:.0f} s; ended (a temporary file may remain until the '
          'next run)', file=sys.stderr, flush=True)
    os._exit(130)


def run(main: Callable[[list[str]], None]) -> None:
    """app.run(main), with this package's flags listed by --help and one-line errors.

    absl's --help lists the key flags of sys.argv[0]; under a console script that is
    the wrapper script, not the module that defined them.
    """
    for module, module_flags in flags.FLAGS.flags_by_module_dict().items():
        if module.startswith('magenta_rnn'):
            for flag in module_flags:
                flags.FLAGS.register_key_flag_for_module(sys.argv[0], flag)
    quiet_tensorflow_start_up()
    if threading.current_thread() is threading.main_thread() \
            and signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, _on_interrupt)
        sys.unraisablehook = _quiet_unraisable
    app.run(guarded(main))


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
