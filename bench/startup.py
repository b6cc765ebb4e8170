"""Start-up time of the commands a terminal user runs for one quick answer (seconds, median of --runs).

Each line is a fresh process (interpreter start included), run --runs times;
the median and the fastest run are printed.  The reference lines show what the
parts cost on their own: the bare interpreter, importing POT the usual way
(``import ot``: all of POT, scipy.stats among it) and loading only the exact
solver the way textkit does (``transport._solver``).

Usage: python bench/startup.py [--runs 7]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

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


def timed(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    for cmd in COMMANDS.values():
        timed(cmd)  # warm the page cache
    times: dict[str, list[float]] = {name: [] for name in COMMANDS}
    for _ in range(args.runs):  # interleaved, so that a noisy moment hits every command alike
        for name, cmd in COMMANDS.items():
            times[name].append(timed(cmd))
    width = max(map(len, COMMANDS))
    print(f"{'command':<{width}}  median  fastest  (s, {args.runs} runs)")
    for name, values in times.items():
        print(f"{name:<{width}}  {statistics.median(values):6.2f}  {min(values):7.2f}")


if __name__ == "__main__":
    main()
