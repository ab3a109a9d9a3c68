"""The LSTM cell in NumPy, for the generation paths that step without TensorFlow (the
events RNN's NumpyStepper, MusicVAE's NumPy sampler). Same math as backends.lstm_cell:
TF1 BasicLSTMCell / LSTMBlockCell, gate columns i, j, f, o, forget bias +1; and the one
helper that keeps OpenBLAS on one thread while they step."""
from __future__ import annotations

import contextlib
import ctypes
import functools
import glob
import os
from collections.abc import Callable, Iterator

import numpy as np

FORGET_BIAS = 1.0


def sigmoid(x: np.ndarray) -> np.ndarray:
    # The tanh form cannot overflow, unlike 1 / (1 + exp(-x)).
    return 0.5 * (np.tanh(0.5 * x) + 1.0)


def lstm_cell(gates: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(new c, new h) from pre-activations [B, 4u] (bias included) and c [B, u]."""
    i, j, f, o = np.split(gates, 4, axis=-1)
    new_c = c * sigmoid(f + FORGET_BIAS) + sigmoid(i) * np.tanh(j)
    return new_c, np.tanh(new_c) * sigmoid(o)


# ---------------------------------------------------------------------------
# OpenBLAS threads. The NumPy steppers' products are tiny: split across OpenBLAS's
# thread pool they wait on each other, and on a busy machine the workers spin for cores
# (~10-20x slower than one thread).

@functools.lru_cache(maxsize=None)
def _openblas_thread_setter() -> Callable[[int], int] | None:
    """set(n) -> previous n for the OpenBLAS numpy loaded, or None (another BLAS or OS).

    Prefers the per-thread setter (OpenBLAS >= 0.3.27; leaves other threads alone), else
    the process-wide get/set pair. numpy's wheels prefix the names (scipy_openblas...64_).
    """
    try:
        with open('/proc/self/maps') as maps:
            paths = {line.split()[-1] for line in maps if 'openblas' in line.lower()
                     and line.split()[-1].startswith('/')}
    except OSError:
        paths = set(glob.glob(os.path.join(os.path.dirname(os.path.dirname(np.__file__)),
                                           'numpy.libs', '*openblas*')))
    for path in sorted(paths):
        try:
            library = ctypes.CDLL(path)
        except OSError:
            continue
        names = [f'{prefix}_set_num_threads_local{suffix}'
                 for prefix in ('openblas', 'scipy_openblas') for suffix in ('', '64_')]
        for name in names:
            if hasattr(library, name):
                local = getattr(library, name)
                local.argtypes, local.restype = [ctypes.c_int], ctypes.c_int
                return local
        for prefix in ('scipy_openblas', 'openblas'):
            for suffix in ('64_', ''):
                try:
                    get = getattr(library, f'{prefix}_get_num_threads{suffix}')
                    set_ = getattr(library, f'{prefix}_set_num_threads{suffix}')
                except AttributeError:
                    continue
                get.restype = ctypes.c_int
                set_.argtypes = [ctypes.c_int]

                def set_global(threads: int, get=get, set_=set_) -> int:
                    previous = get()
                    set_(threads)
                    return previous
                return set_global
    return None


@contextlib.contextmanager
def single_threaded_blas(enabled: bool = True) -> Iterator[None]:
    """Runs the block with OpenBLAS on one thread (a no-op when not `enabled` or when
    numpy does not use OpenBLAS), then restores the previous count."""
    set_threads = _openblas_thread_setter() if enabled else None
    if set_threads is None:
        yield
        return
    previous = set_threads(1)
    try:
        yield
    finally:
        set_threads(previous)
