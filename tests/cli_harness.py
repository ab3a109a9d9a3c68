"""Runs many invocations of ONE console script inside one process (a TensorFlow start per
script instead of per case) and reports how each ended. Used by test_bad_input_matrix.

  python tests/cli_harness.py <module> <cases.json> <results.json>

Each case: {"args": [...], "fsize": bytes or null, "timeout": seconds}. Each result:
{"status": exit status or null, "stderr": text, "escaped": the exception that got out of
the console script (a raw traceback for a user) or null, "hung": bool}.
"""
from __future__ import annotations

import contextlib
import importlib
import io
import json
import resource
import signal
import sys
import time
import traceback


class _Hung(BaseException):
    pass


def _on_alarm(signum, frame):
    raise _Hung


def run_case(command, program: str, case: dict) -> dict:
    from absl import flags
    flags.FLAGS.unparse_flags()
    sys.argv = [program, *case['args']]
    stderr, stdout = io.StringIO(), io.StringIO()
    result = {'status': None, 'stderr': '', 'escaped': None, 'hung': False}
    start = time.monotonic()
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    previous_alarm = signal.signal(signal.SIGALRM, _on_alarm)
    if case.get('fsize') is not None:  # a full disk: writes past this size fail (EFBIG)
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (case['fsize'], hard))
    signal.alarm(int(case.get('timeout', 120)))
    try:
        with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(stdout):
            command.console_entry_point()
        result['status'] = 0
    except SystemExit as e:
        result['status'] = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    except _Hung:
        result['hung'] = True
    except BaseException as e:
        result['escaped'] = ''.join(traceback.format_exception(e))[-3000:]
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous_alarm)
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    result['seconds'] = round(time.monotonic() - start, 2)
    result['stderr'] = stderr.getvalue()[-4000:]
    result['stdout'] = stdout.getvalue()[-2000:]
    return result


def main() -> None:
    module, cases_path, results_path = sys.argv[1:4]
    program = module.rsplit('.', 1)[0].split('.')[-1]
    command = importlib.import_module(module)
    cases = json.load(open(cases_path))
    results = []
    for case in cases:
        results.append(run_case(command, case.get('program', program), case))
        with open(results_path, 'w') as f:  # written after each case, so a crash shows where
            json.dump(results, f)


if __name__ == '__main__':
    main()
