"""console.py: TensorFlow's start-up noise is dropped, everything else on stderr (CUDA and
cuDNN diagnostics included) is kept."""
import os
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]

PROGRAM = '''
import sys

def count_init_reads(event, args):  # tensorflow/__init__ runs once: its source or .pyc read once
    if event == 'open' and isinstance(args[0], str) and '__init__.' in args[0]:
        INIT_READS.append(args[0])

INIT_READS = []
sys.addaudithook(count_init_reads)
from magenta_rnn import console
console.quiet_tensorflow_start_up()
print('before import', file=sys.stderr, flush=True)
import tensorflow as tf
import os
package = os.path.dirname(tf.__file__)
reads = [p for p in INIT_READS if os.path.dirname(p) in (package, os.path.join(package, '__pycache__'))]
print(tf.constant(2).numpy() * 21, len(reads), sys.modules['tensorflow'] is tf)
print('after import', file=sys.stderr)
'''


def run_program() -> subprocess.CompletedProcess:
    env = {**os.environ, 'PYTHONPATH': str(REPO_ROOT)}
    env.pop('TF_CPP_MIN_LOG_LEVEL', None)
    return subprocess.run([sys.executable, '-c', PROGRAM], env=env, capture_output=True,
                          text=True, timeout=120)


def test_tensorflow_start_up_noise_is_dropped_and_other_stderr_kept():
    result = run_program()
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ['42', '1', 'True']
    lines = result.stderr.splitlines()
    assert lines[0] == 'before import' and lines[-1] == 'after import'
    # Between them only CUDA's own diagnostics (on a machine without a GPU: no driver).
    for line in lines[1:-1]:
        assert 'cuda' in line.lower() or 'cudnn' in line.lower() or 'gpu' in line.lower(), line
        assert 'oneDNN' not in line and 'cpu_feature_guard' not in line


def test_log_level_zero_leaves_tensorflow_start_up_alone(monkeypatch):
    from magenta_rnn import console
    monkeypatch.setattr(sys, 'meta_path', list(sys.meta_path))
    monkeypatch.delitem(sys.modules, 'tensorflow', raising=False)
    monkeypatch.setenv('TF_CPP_MIN_LOG_LEVEL', '0')
    console.quiet_tensorflow_start_up()
    assert not any(type(f).__name__ == '_QuietTensorflowImport' for f in sys.meta_path)
    monkeypatch.setenv('TF_CPP_MIN_LOG_LEVEL', '1')
    console.quiet_tensorflow_start_up()
    assert any(type(f).__name__ == '_QuietTensorflowImport' for f in sys.meta_path)
