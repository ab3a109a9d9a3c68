"""What every console script shares: one-line errors and absl's app with our flags in --help."""
from __future__ import annotations

import os
import sys
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
    app.run(main)
