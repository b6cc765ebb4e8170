"""Vector store speed (issue: `textkit vectors`): convert a big word2vec text file, then
open the store and answer `neighbors` for one word, against a plain Python reader.

Steps, each in its own process (time and peak memory sampled by bench/measure.py):
  1. write a ROWS x DIM word2vec text file (default 1,000,000 x 200, 4-decimal values,
     like the published files) in a temporary folder;
  2. `textkit vectors convert FILE -o STORE`: time, peak RSS;
  3. `textkit vectors neighbors w123 --vectors STORE`: the whole command, process start
     included (the page cache is warm: the store was just written);
  4. the same in Python: `open_vectors(STORE)` and `.nearest(word)`, timed in the process;
  5. a plain Python reader (line.split, np.array per row, a dict) loading the text
     file, then the same neighbours with numpy.
The figure printed last: open + neighbours from the store against the plain reader.

Usage: python bench/vectors_speed.py [ROWS] [DIM]
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from measure import run

PLAIN_READER = r"""
import sys, time
import numpy as np
t = time.perf_counter()
vecs = {}
with open(sys.argv[1], encoding="utf-8") as fh:
    fh.readline()
    for line in fh:
        parts = line.rstrip().split(" ")
        vecs[parts[0]] = np.array(parts[1:], dtype=np.float32)
loaded = time.perf_counter() - t
words = list(vecs)
m = np.stack([vecs[w] for w in words])
u = m / np.linalg.norm(m, axis=1, keepdims=True)
q = u[words.index(sys.argv[2])]
best = np.argsort(-(u @ q))[1:11]
print(f"{loaded:.3f} {time.perf_counter() - t:.3f} {' '.join(words[i] for i in best)}")
"""

STORE_QUERY = r"""
import sys, time
t = time.perf_counter()
from textkit.vectors import open_vectors
v = open_vectors(sys.argv[1])
opened = time.perf_counter() - t
near = v.nearest(sys.argv[2], k=10)
print(f"{opened:.3f} {time.perf_counter() - t:.3f} {' '.join(w for w, _ in near)}")
"""


def write_text_file(path: Path, rows: int, dim: int, seed: int = 0) -> None:
    """ROWS x DIM vectors with 4-decimal values, written block by block."""
    rng = np.random.default_rng(seed)
    table = np.array([f"{k / 10000:.4f}" for k in range(-9999, 10000)], dtype=object)
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(f"{rows} {dim}\n")
        for start in range(0, rows, 20000):
            n = min(20000, rows - start)
            idx = rng.integers(0, len(table), size=(n, dim))
            cells = table[idx]
            fh.write("".join(f"w{start + i} " + " ".join(cells[i]) + "\n" for i in range(n)))


def main() -> None:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    dim = int(sys.argv[2]) if len(sys.argv) > 2 else 200
    py = sys.executable
    with tempfile.TemporaryDirectory(prefix="vectors-speed-", dir=os.environ.get("TMPDIR")) as tmp:
        src = Path(tmp) / "big.txt"
        store = Path(tmp) / "store"
        t = time.perf_counter()
        write_text_file(src, rows, dim)
        print(
            f"wrote {rows:,} x {dim} text file: {src.stat().st_size / 1e9:.2f} GB "
            f"in {time.perf_counter() - t:.1f} s"
        )

        conv = run([py, "-m", "textkit", "vectors", "convert", str(src), "-o", str(store), "-q"])
        if conv.returncode != 0:
            raise SystemExit(conv.stderr.decode())
        size = sum(f.stat().st_size for f in store.iterdir())
        print(
            f"convert: {conv.seconds:.1f} s, peak RSS {conv.single_peak_mb:.0f} MB "
            f"(store {size / 1e9:.2f} GB; matrix alone {rows * dim * 4 / 1e9:.2f} GB)"
        )

        word = f"w{rows // 2}"
        cli = run(
            [py, "-m", "textkit", "vectors", "neighbors", word, "--vectors", str(store), "-q"]
        )
        print(
            f"`textkit vectors neighbors {word}` (process start included): {cli.seconds:.2f} s, "
            f"peak RSS {cli.single_peak_mb:.0f} MB"
        )

        lib = run([py, "-c", STORE_QUERY, str(store), word])
        opened, total, near_store = lib.stdout.decode().split(" ", 2)
        print(
            f"store in Python: open {float(opened) * 1000:.0f} ms, "
            f"open + 10 neighbours {float(total):.2f} s "
            f"(process {lib.seconds:.2f} s, peak RSS {lib.single_peak_mb:.0f} MB)"
        )

        plain = run([py, "-c", PLAIN_READER, str(src), word])
        loaded, plain_total, near_plain = plain.stdout.decode().split(" ", 2)
        print(
            f"plain Python reader: load {float(loaded):.1f} s, "
            f"load + neighbours {float(plain_total):.1f} s "
            f"(peak RSS {plain.single_peak_mb:.0f} MB)"
        )
        same = near_store.split() == near_plain.split()
        print(f"same 10 neighbours from both: {same}")
        print(
            f"FIGURE cold start (open store + neighbours, in Python): {float(total):.2f} s; "
            f"whole CLI command {cli.seconds:.2f} s; plain text reader {float(plain_total):.1f} s "
            f"({float(plain_total) / float(total):.0f}x slower)"
        )


if __name__ == "__main__":
    main()
