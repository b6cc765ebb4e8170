"""Whitening fit speed and memory: 1,000,000 vectors of dimension 300, streamed.

The vectors are produced batch by batch (seeded, anisotropic, far from the
origin like averaged word vectors) and never held together: each batch is
reduced to (n, mean, scatter) by ``textkit.whitening.batch_stats`` and merged
in input order, then ``Whitening.fit_stats`` takes the SVD.  Holding all the
vectors in float64 would need n·d·8 bytes (2.4 GB here); the streamed fit needs
one batch plus a few d×d float64 matrices.

Prints the elapsed time and the peak resident memory (this process, and the
largest worker when -j > 1).  The figure is printed last.

    python bench/whitening_speed.py                 # 1,000,000 x 300, one process
    python bench/whitening_speed.py -j 2 --n 200000
"""

from __future__ import annotations

import argparse
import resource
import sys
import time

import numpy as np

from textkit.pool import imap
from textkit.whitening import Whitening, batch_stats, merge_stats

DIM = 300


def make_batch(task: tuple[int, int, int]) -> np.ndarray:
    """Batch ``index`` of ``rows`` float32 vectors: x = z·A + c, same A and c for every batch."""
    index, rows, dim = task
    mix_rng = np.random.default_rng(12345)
    mix = (mix_rng.normal(size=(dim, dim)) * np.linspace(2.0, 0.05, dim)[:, None]).astype(
        np.float32
    )
    offset = mix_rng.normal(size=dim).astype(np.float32) * 3.0
    z = np.random.default_rng(index).standard_normal(size=(rows, dim), dtype=np.float32)
    return z @ mix + offset


def stats_task(task: tuple[int, int, int]):
    return batch_stats(make_batch(task))


def peak_rss_mb(who: int) -> float:
    return resource.getrusage(who).ru_maxrss / 1024.0  # Linux: kilobytes


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="number of vectors")
    parser.add_argument("--dim", type=int, default=DIM)
    parser.add_argument("--batch", type=int, default=10_000, help="vectors per batch")
    parser.add_argument("-j", "--workers", type=int, default=1)
    args = parser.parse_args(argv)

    tasks = [
        (i, min(args.batch, args.n - start), args.dim)
        for i, start in enumerate(range(0, args.n, args.batch))
    ]
    started = time.perf_counter()
    total = None
    for stats in imap(stats_task, tasks, workers=args.workers):
        total = merge_stats(total, stats)
    merged = time.perf_counter()
    whitening = Whitening().fit_stats(total)
    finished = time.perf_counter()

    # sanity: the last batch whitened with the streamed fit is close to white
    check = whitening.transform(make_batch(tasks[-1]))
    off = np.abs(np.cov(check.T) - np.eye(args.dim)).max()

    one_shot_gb = args.n * args.dim * 8 / 1e9
    print(f"vectors: {args.n:,} x {args.dim}, batches of {args.batch:,}, workers {args.workers}")
    print(f"statistics pass: {merged - started:.2f} s; SVD and W: {finished - merged:.2f} s")
    print(f"max |cov - I| on one whitened batch: {off:.3f} (sampling noise of {args.batch:,} rows)")
    print(f"holding all vectors in float64 would take {one_shot_gb:.1f} GB")
    children = peak_rss_mb(resource.RUSAGE_CHILDREN) if args.workers > 1 else 0.0
    rss = peak_rss_mb(resource.RUSAGE_SELF)
    worker_note = f", largest worker {children:.0f} MB" if children else ""
    print(
        f"whitening fit: {finished - started:.2f} s for {args.n:,} vectors of dim {args.dim}; "
        f"peak RSS {rss:.0f} MB{worker_note}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
