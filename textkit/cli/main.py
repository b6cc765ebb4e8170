"""The ``textkit`` command group, logging to stderr, and the exit-status contract.

Exit statuses: 0 success (also when a downstream reader such as ``head`` closed
the pipe early), 1 runtime error (bad file, bad data: one ``textkit: error:``
line), 2 usage error (bad option or value: one line too, naming the command's
``--help``), 130 interrupted (Ctrl-C), 143 terminated (SIGTERM: the same clean stop).
Set ``TEXTKIT_DEBUG=1`` to see the traceback behind an error.
"""

from __future__ import annotations

import logging
import os
import sys
import time

import click

from ..errors import TextkitError, one_line
from ..output import OUTPUT_ERRORS
from . import Interrupted, handle_sigterm
from .options import PipeClosed, TextkitGroup, configure_logging


@click.group(cls=TextkitGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="textkit", prog_name="textkit")
def cli() -> None:
    """Streaming corpus analytics for Chinese text.

    Commands read files, directories (recursively, in sorted order, hidden
    entries skipped), glob patterns or - (standard input), gzip/bz2/xz
    transparently, and write TSV (or the formats their --format offers) to
    standard output or atomically to -o FILE.
    """


# the command modules and the command objects each of them holds
_COMMANDS = (
    ("count", ("count", "merge")),
    ("discover", ("discover",)),
    ("vectors", ("vectors",)),
    ("embed", ("embed", "whiten", "eval_pairs")),
    ("sim", ("sim", "search")),
)


def _register() -> None:
    from importlib import import_module

    for module_name, names in _COMMANDS:
        module = import_module(f"{__package__}.{module_name}")
        for name in names:
            cli.add_command(getattr(module, name))


_register()


def _silence_stdout() -> None:
    """After a broken pipe: point stdout at /dev/null so the exit flush cannot fail."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except OSError:
        pass


def _say(line: str) -> None:
    """Write the run's last word (an error, "interrupted") to stderr, over any progress line."""
    from ..output import Progress

    Progress.erase()
    sys.stderr.write(line)


def _one_line(message: str) -> str:
    """Click's message on one line (its suggestions, "Did you mean ...", come on a second)."""
    return " ".join(part.strip() for part in message.splitlines() if part.strip())


def _stderr_unusable() -> bool:
    """Whether standard error is closed, or open on something that cannot be written (a
    read-only descriptor: a wrapper script that closed it may have left its own file there)."""
    if sys.stderr is None:
        return True
    try:
        fd = sys.stderr.fileno()
    except (AttributeError, ValueError, OSError):  # not a real file (a test's capture)
        return False
    try:
        os.write(fd, b"")
    except OSError:
        return True
    return False


def main(argv=None) -> None:
    """Entry point of the ``textkit`` console script."""
    if _stderr_unusable():  # closed (2>&-) or read-only: notes and errors go nowhere, the work goes on
        sys.stderr = open(os.devnull, "w", encoding="utf-8")
    previous_sigterm = handle_sigterm()
    try:
        _main(argv)
    finally:
        if previous_sigterm is not None:
            import signal

            signal.signal(signal.SIGTERM, previous_sigterm)


def _main(argv) -> None:
    configure_logging()
    for stream in (sys.stdout, sys.stderr):
        if stream is not None and hasattr(stream, "reconfigure"):
            stream.reconfigure(encoding="utf-8", errors="backslashreplace" if stream is sys.stderr else OUTPUT_ERRORS)
    debug = bool(os.environ.get("TEXTKIT_DEBUG"))
    try:
        cli.main(args=argv, prog_name="textkit", standalone_mode=False)
        code = 0
    except click.exceptions.Exit as exc:
        code = exc.exit_code
    except click.UsageError as exc:  # a bad option or value: one line, like every error
        if type(exc).__name__ == "NoArgsIsHelpError" and exc.ctx is not None:  # `textkit` alone: its help
            _say(exc.ctx.get_help() + "\n")
            sys.exit(exc.exit_code)
        command = exc.ctx.command_path if exc.ctx is not None else "textkit"
        _say(f"textkit: error: {_one_line(exc.format_message())} (see '{command} --help')\n")
        code = exc.exit_code
    except click.ClickException as exc:
        _say(f"textkit: error: {_one_line(exc.format_message())}\n")
        code = exc.exit_code
    except (Interrupted, click.exceptions.Abort, KeyboardInterrupt) as exc:
        stop = exc if isinstance(exc, Interrupted) else Interrupted(exc)  # Abort: click's, from Ctrl-C
        _say(f"textkit: {stop}\n")
        code = stop.exit_code
    except (PipeClosed, BrokenPipeError):
        _silence_stdout()
        code = 0
    except TextkitError as exc:
        if debug:
            sys.stderr.write(getattr(exc, "worker_traceback", "") or "")
            raise
        _say(f"textkit: error: {one_line(str(exc))}\n")
        code = exc.exit_code
    except MemoryError as exc:  # numpy's says how much it could not allocate
        if debug:
            raise
        detail = _one_line(str(exc))
        _say(f"textkit: error: out of memory{f' ({detail})' if detail else ''}; fewer workers (-j) need less\n")
        code = 1
    except OSError as exc:  # the system refused: disk full, permission denied, ...
        if debug:
            raise
        where = f"{exc.filename}: " if exc.filename else ""
        _say(f"textkit: error: {one_line(f'{where}{exc.strerror or exc}')}\n")
        code = 1
    try:
        if sys.stdout is not None:  # None when started with standard output closed
            sys.stdout.flush()
    except BrokenPipeError:
        _silence_stdout()
    sys.exit(code)


def _reap_workers(timeout: float = 2.0) -> None:
    """Wait for the pool's workers, which exit on their own once told to stop, at most ``timeout`` s.

    The pool lets them go without waiting (their exit overlaps with the command's
    last step); reaped here, none is left as a zombie for an init that may not
    collect orphans (a container's).
    """
    mp = sys.modules.get("multiprocess")
    if mp is None:
        return
    deadline = time.monotonic() + timeout
    try:
        for proc in mp.active_children():  # reaps those already gone
            proc.join(max(0.0, deadline - time.monotonic()))
    except (OSError, ValueError, AssertionError):  # nothing to wait for after all
        pass


def run() -> None:
    """The ``textkit`` program (console script and ``python -m textkit``): :func:`main`, then a quick exit.

    A normal interpreter exit frees every object one by one: jieba's dictionary,
    and after a long ``-j1`` run the caches of every text, 0.1-0.3 s of a
    command's wall time.  Nothing is left to do by then (outputs are closed and
    renamed, temporary folders removed by the commands themselves), so after
    waiting for pool workers that are still exiting (:func:`_reap_workers`) and
    flushing logging and the standard streams the process ends with
    ``os._exit``.  An unexpected exception still propagates normally.  Tests
    call :func:`main`, which returns through ``SystemExit``.
    """
    try:
        main()
    except SystemExit as exc:
        code = exc.code
    except KeyboardInterrupt as exc:  # Ctrl-C or SIGTERM outside a command (while starting or ending)
        stop = Interrupted(exc)
        sys.stderr.write(f"textkit: {stop}\n")
        code = stop.exit_code
    else:
        code = 0
    if not isinstance(code, int):  # None, or a message (never from main; as Python would handle it)
        if code is not None:
            sys.stderr.write(f"{code}\n")
        code = 0 if code is None else 1
    _reap_workers()
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError, AttributeError):  # AttributeError: a stream closed at start (None)
            pass
    os._exit(code)
