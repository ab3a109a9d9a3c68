"""Running the original Magenta ("peer") side by side, for the comparison and benchmark scripts.

The peer lives in its own virtual environment (made by
../shared/peer/setup_magenta_peer.sh VENV); commands run there in a subprocess
with TF_USE_LEGACY_KERAS=1. It is found at MAGENTA_PEER_VENV, else ../peer_venv beside the
checkout; the real MIDI the scripts read at MAGENTA_RNN_SHARED_DATA, else ../shared/data.
Every script finds both here, never at a path of one machine.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
PEER_VENV = Path(os.environ.get('MAGENTA_PEER_VENV', REPO_ROOT.parent / 'peer_venv'))
SHARED_DATA = Path(os.environ.get('MAGENTA_RNN_SHARED_DATA', REPO_ROOT.parent / 'shared' / 'data'))


def shared_data() -> Path:
    """The shared real-MIDI folder; exits with a one-line message when it is absent."""
    if not SHARED_DATA.is_dir():
        sys.exit(f'no shared data at {SHARED_DATA}: put it beside the checkout as ../shared/data '
                 '(or set MAGENTA_RNN_SHARED_DATA)')
    return SHARED_DATA


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


# ---------------------------------------------------------------------------
# Helpers for code that runs INSIDE the peer's venv (they import nothing of ours).
# A peer-side program gets them with `sys.path.insert(0, SCRIPTS_DIR); import peer`.

SCRIPTS_DIR = str(Path(__file__).resolve().parent)


def stats_to_dict(stats) -> dict:
    """Pipeline statistics as {name: count} or {name: {bucket: count}} (histograms)."""
    result = {}
    for stat in stats:
        if hasattr(stat, 'counters'):
            result[stat.name] = {float(k): v for k, v in stat.counters.items()}
        else:
            result[stat.name] = stat.count
    return result


def example_to_lists(example) -> tuple[list, list]:
    """A SequenceExample's `inputs` (float lists) and `labels` (int lists)."""
    lists = example.feature_lists.feature_list
    inputs = [list(f.float_list.value) for f in lists['inputs'].feature]
    labels = [list(f.int64_list.value) for f in lists['labels'].feature]
    return inputs, labels


def bundle_softmax_runs(generator, inputs, primer_length: int,
                        temperatures: tuple[float, ...] = (1.0, 0.7)) -> dict:
    """Next-event probabilities of an original generator's graph for `inputs` [N, T, D].

    The whole primer is fed at once, then each later step alone with the final state.
    Rows of the graph's fixed batch cycle through the N sequences; `primer` holds the
    softmax [N, primer_length, C] and `steps` one [N, C] per later step.
    """
    generator.initialize()
    session = generator._model._session
    graph = session.graph
    graph_inputs = graph.get_collection('inputs')[0]
    initial_state = graph.get_collection('initial_state')
    final_state = graph.get_collection('final_state')
    softmax = graph.get_collection('softmax')[0]
    temperature = graph.get_collection('temperature')
    batch = int(graph_inputs.shape[0])
    count = len(inputs)
    rows = [i % count for i in range(batch)]
    result = {'graph_batch': batch, 'runs': []}
    for temp in temperatures:
        feed = {graph_inputs: inputs[rows, :primer_length]}
        if temperature:
            feed[temperature[0]] = temp
        state, probs = session.run([final_state, softmax], feed)
        run = {'temperature': temp, 'primer': probs[:count].tolist(), 'steps': []}
        for t in range(primer_length, inputs.shape[1]):
            feed = {graph_inputs: inputs[rows, t:t + 1]}
            feed.update(zip(initial_state, state))
            if temperature:
                feed[temperature[0]] = temp
            state, probs = session.run([final_state, softmax], feed)
            run['steps'].append(probs[:count, 0].tolist())
        result['runs'].append(run)
    return result
