"""Shared fixtures: the bundled sample, the optional ../shared/data, and a CLI runner."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "samples" / "nahan.txt"
SHARED_DATA = ROOT.parent / "shared" / "data"


@pytest.fixture(autouse=True)
def _restore_textkit_logger():
    """The CLI entry point configures the "textkit" logger; undo it after each test."""
    import logging

    logger = logging.getLogger("textkit")
    state = (logger.level, list(logger.handlers), logger.propagate)
    yield
    logger.setLevel(state[0])
    logger.handlers[:] = state[1]
    logger.propagate = state[2]


@pytest.fixture(scope="session")
def sample_path() -> Path:
    """The bundled public-domain sample (Lu Xun, 呐喊), one paragraph per line."""
    return SAMPLE


@pytest.fixture(scope="session")
def sample_lines() -> list:
    return SAMPLE.read_text(encoding="utf-8").split("\n")[:-1]


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data when present; tests that need it skip cleanly otherwise."""
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is not available")
    return SHARED_DATA


def run_textkit(*args, input=None, env=None, timeout=120, **kwargs) -> subprocess.CompletedProcess:
    """Run ``python -m textkit ARGS`` in a real process (exit codes, signals, pipes)."""
    full_env = dict(os.environ)
    full_env.pop("TEXTKIT_DEBUG", None)
    if env:
        full_env.update(env)
    return subprocess.run(
        [sys.executable, "-m", "textkit", *map(str, args)],
        input=input,
        capture_output=True,
        env=full_env,
        timeout=timeout,
        **kwargs,
    )


def run_main(*args):
    """(exit code, stdout, stderr) of the real entry point ``main``, run in this process."""
    from click.testing import CliRunner

    from textkit.cli.main import main

    runner = CliRunner()
    with runner.isolation() as (out, err, _):
        try:
            main([str(a) for a in args])
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        sys.stdout.flush()
        sys.stderr.flush()
        return code, out.getvalue().decode(), err.getvalue().decode()


def run_in_threads(*calls, switch_interval: float = 1e-4) -> list:
    """Results of ``calls`` (functions of no argument) run at once, one thread each, made to take
    turns often (as under load: a race that needs an unlucky switch gets many chances);
    an exception in a thread is raised here."""
    import sys
    import threading

    results: list = [None] * len(calls)
    errors: list = []

    def run(k):
        try:
            results[k] = calls[k]()
        except BaseException as exc:  # noqa: BLE001 - raised in the caller
            errors.append(exc)

    interval = sys.getswitchinterval()
    sys.setswitchinterval(switch_interval)
    try:
        threads = [threading.Thread(target=run, args=(k,)) for k in range(len(calls))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(interval)
    if errors:
        raise errors[0]
    return results
