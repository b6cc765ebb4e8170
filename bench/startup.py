"""Start-up time of the commands a terminal user runs for one quick answer (seconds, median of --runs).

Each line is a fresh process (interpreter start included), run --runs times;
the median and the fastest run are printed, and the peak resident memory of
the process (for `sh -c`, of its largest process).  The reference lines show what the
parts cost on their own: the bare interpreter, importing POT the usual way
(``import ot``: all of POT, scipy.stats among it) and loading only the exact
solver the way textkit does (``transport._solver``).  Commands run with
textkit's modules compiled, as in an installed copy (``measure.installed_environment``).

Usage: python bench/startup.py [--runs 7]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from measure import installed_environment

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable

COMMANDS = {
    "python -c pass (the interpreter alone)": [PY, "-c", "pass"],
    "import ot (all of POT, the usual way)": [PY, "-c", "import ot"],
    "POT's solver alone (textkit.transport._solver)": [
        PY, "-c", "from textkit import transport; transport._solver()"],
    "textkit --help": [PY, "-m", "textkit", "--help"],
    "textkit sim A B (WRD similarity)": [PY, "-m", "textkit", "sim", "我想借钱", "能不能借钱"],
    "textkit sim A B --metric wmd": [PY, "-m", "textkit", "sim", "我想借钱", "能不能借钱", "--metric", "wmd"],
    "textkit sim A B --metric cosine": [PY, "-m", "textkit", "sim", "我想借钱", "能不能借钱", "--metric", "cosine"],
    "echo (a Chinese line) | textkit count": ["sh", "-c", f"echo 今天天气不错 | {PY} -m textkit count"],
    "textkit count data/samples/nahan.txt": [PY, "-m", "textkit", "count", "data/samples/nahan.txt"],
}


def timed(cmd: list[str]) -> tuple[float, float]:
    """(seconds, peak resident memory in MB) of one run of ``cmd`` (its own process)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env=installed_environment())
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed with status {proc.returncode}")
    return seconds, usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    for cmd in COMMANDS.values():
        timed(cmd)  # warm the page cache
    times: dict[str, list[float]] = {name: [] for name in COMMANDS}
    peak: dict[str, float] = {name: 0.0 for name in COMMANDS}
    for _ in range(args.runs):  # interleaved, so that a noisy moment hits every command alike
        for name, cmd in COMMANDS.items():
            seconds, megabytes = timed(cmd)
            times[name].append(seconds)
            peak[name] = max(peak[name], megabytes)
    width = max(map(len, COMMANDS))
    print(f"{'command':<{width}}  median  fastest  (s, {args.runs} runs)  peak RSS (MB, largest process)")
    for name, values in times.items():
        print(f"{name:<{width}}  {statistics.median(values):6.2f}  {min(values):7.2f}  {peak[name]:19.0f}")


if __name__ == "__main__":
    main()
