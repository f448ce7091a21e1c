import contextlib
import os
import sys


def _interrupted() -> None:
    """Exit 130 after a Ctrl-C we handled. CPython 3.11 remembers a KeyboardInterrupt that
    passed through exec() (every dataclass made at import does one) even once caught,
    and would end the process by SIGINT instead."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(130)


try:
    from advisory.cli import main
except KeyboardInterrupt:  # Ctrl-C while starting: nothing has begun, nothing to say
    _interrupted()

code = main()
if code == 130:
    _interrupted()
sys.exit(code)
