"""Running the original Magenta ("peer") side by side, for the comparison and benchmark scripts.

The peer lives in its own virtual environment (made by
../shared/peer/setup_magenta_peer.sh VENV); commands run there in a subprocess
with TF_USE_LEGACY_KERAS=1. Set MAGENTA_PEER_VENV to point at it.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
PEER_VENV = Path(os.environ.get('MAGENTA_PEER_VENV', REPO_ROOT.parent / 'peer_venv'))


def peer_python() -> str:
    python = PEER_VENV / 'bin' / 'python'
    if not python.exists():
        sys.exit(f'no peer Magenta at {PEER_VENV}: run ../shared/peer/setup_magenta_peer.sh '
                 f'{PEER_VENV} (or set MAGENTA_PEER_VENV)')
    return str(python)


def peer_env() -> dict[str, str]:
    env = dict(os.environ, TF_USE_LEGACY_KERAS='1', TF_CPP_MIN_LOG_LEVEL='2')
    env.pop('PYTHONPATH', None)
    return env


def our_env() -> dict[str, str]:
    return dict(os.environ, TF_CPP_MIN_LOG_LEVEL='2', PYTHONPATH=str(REPO_ROOT))


def run_peer(args: list[str], **kwargs) -> float:
    """Runs `python ARGS` in the peer venv; returns wall seconds. Raises on failure."""
    start = time.time()
    subprocess.run([peer_python(), *args], env=peer_env(), check=True, **kwargs)
    return time.time() - start


def run_ours(args: list[str], **kwargs) -> float:
    """Runs `python ARGS` with this checkout on the path; returns wall seconds."""
    start = time.time()
    subprocess.run([sys.executable, *args], env=our_env(), check=True, **kwargs)
    return time.time() - start
