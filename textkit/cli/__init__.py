"""The click command-line layer: the only package that imports click."""

import os
import signal
import sys
import threading


class Terminated(KeyboardInterrupt):
    """SIGTERM (cron, systemd, ``timeout``), raised in the main thread so that every clean-up
    Ctrl-C runs (workers stopped, temporary files removed) runs for it too."""


class Interrupted(Exception):
    """Ctrl-C (SIGINT) or SIGTERM: the one line to print (``str``) and the status, 130 or 143."""

    def __init__(self, cause: BaseException):
        terminated = isinstance(cause, Terminated) or isinstance(cause.__context__, Terminated)
        super().__init__("terminated" if terminated else "interrupted")
        self.exit_code = 143 if terminated else 130


def _raise_terminated(signum, frame) -> None:
    raise Terminated()


def handle_sigterm():
    """Make SIGTERM raise :class:`Terminated` in the main thread (a clean stop, as on Ctrl-C);
    returns the handler it replaces (None outside the main thread, where it cannot)."""
    if threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGTERM, _raise_terminated)


def run() -> None:
    """The ``textkit`` program: :func:`textkit.cli.main.run`, imported here so that Ctrl-C
    or SIGTERM while the commands load (the first few tenths of a second) is one line and
    status 130 or 143, as it is later, rather than a traceback from the import machinery."""
    handle_sigterm()
    try:
        from .main import run as run_textkit
    except KeyboardInterrupt as exc:
        stop = Interrupted(exc)
        if sys.stderr is not None:
            sys.stderr.write(f"textkit: {stop}\n")
        os._exit(stop.exit_code)
    run_textkit()
