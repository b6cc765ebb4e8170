"""Helpers for the benchmarks: run a command, time it, sample the memory of its process tree.

Memory of a tree is the sum of PSS (proportional set size): a page shared by k
processes after fork counts 1/k in each, so the sum is the memory the tree
really holds; RSS summed would count jieba's shared dictionary once per worker.
"""

from __future__ import annotations

import compileall
import os
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Sequence

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"


_COMPILED: list = []


def installed_environment() -> dict:
    """The environment for timing textkit commands as an installed copy runs: with its bytecode.

    An installed package has its modules compiled (``.pyc``).  These machines set
    PYTHONDONTWRITEBYTECODE, so a timed command would compile every textkit module
    again on each start (about 0.15 s that no user pays).  This compiles them once,
    into ``textkit/__pycache__`` (ignored by git), and returns ``os.environ``
    without that variable, so that the commands read them.
    """
    if not _COMPILED:
        compileall.compile_dir(str(ROOT / "textkit"), quiet=1)
        _COMPILED.append(True)
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def shared_file(*parts: str) -> Path:
    """A file of ../shared/data, or exit with a clear message when it is absent."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        raise SystemExit(f"benchmark needs {path} (../shared/data), which is absent")
    return path


def _tree(pid: int) -> List[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            with open(f"/proc/{p}/task/{p}/children") as fh:
                todo.extend(int(c) for c in fh.read().split())
        except OSError:
            pass
    return out


def _memory_kb(pid: int) -> tuple:
    """(RSS, PSS) of one process in KiB; PSS splits pages shared after fork between sharers."""
    rss = pss = 0
    try:
        with open(f"/proc/{pid}/smaps_rollup") as fh:
            for line in fh:
                if line.startswith("Rss:"):
                    rss = int(line.split()[1])
                elif line.startswith("Pss:"):
                    pss = int(line.split()[1])
    except OSError:
        pass
    return rss, pss


@dataclass
class Run:
    seconds: float
    tree_peak_mb: float      # largest sum of PSS over the process and its descendants (sampled)
    single_peak_mb: float    # largest RSS of any one process of the tree (sampled)
    returncode: int
    stdout: bytes
    stderr: bytes


def run(cmd: Sequence[str], stdin_path: Optional[Path] = None, stdin_repeat: int = 1,
        capture: bool = True, env=None) -> Run:
    """Run ``cmd`` to completion; feed ``stdin_path`` ``stdin_repeat`` times when given.

    ``env`` None: :func:`installed_environment`.
    """
    if env is None:
        env = installed_environment()
    stdin = subprocess.PIPE if stdin_path else subprocess.DEVNULL
    start = time.perf_counter()
    proc = subprocess.Popen(list(cmd), stdin=stdin, stdout=subprocess.PIPE if capture else subprocess.DEVNULL,
                            stderr=subprocess.PIPE, env=env)
    peaks = {"tree": 0, "single": 0}
    done = threading.Event()

    def sample():
        while not done.is_set():
            sizes = [_memory_kb(p) for p in _tree(proc.pid)]
            peaks["tree"] = max(peaks["tree"], sum(pss for _, pss in sizes))
            peaks["single"] = max(peaks["single"], max((rss for rss, _ in sizes), default=0))
            time.sleep(0.02)

    def feed():
        try:
            for _ in range(stdin_repeat):
                with open(stdin_path, "rb") as fh:
                    while True:
                        block = fh.read(1 << 20)
                        if not block:
                            break
                        proc.stdin.write(block)
            proc.stdin.close()
        except BrokenPipeError:
            pass

    threads = [threading.Thread(target=sample, daemon=True)]
    if stdin_path:
        threads.append(threading.Thread(target=feed, daemon=True))
    for t in threads:
        t.start()
    out, err = proc.communicate() if not stdin_path else (proc.stdout.read() if capture else b"", proc.stderr.read())
    proc.wait()
    seconds = time.perf_counter() - start
    done.set()
    for t in threads:
        t.join()
    return Run(seconds, peaks["tree"] / 1024, peaks["single"] / 1024, proc.returncode, out or b"", err or b"")
