"""Whitening quality: Spearman x100 on the Chinese STS test sets with textkit's vectors.

For ATEC, BQ, PAWSX and STS-B (Chinese) test pairs, from ../shared/data/sts/,
the similarity is the cosine of sentence vectors made with the default
tokenizer (jieba) and the default vectors (or --vectors):

    raw-mean   mean of the stored word vectors (--pooling raw)
    mean       mean of unit-length word vectors (the default encoder)
    sif        the same weighted by a/(a + p(w)), a = 1e-3, p from the store's counts
    W-full     `mean` whitened with all dimensions
    W-64/W-32  `mean` whitened, keeping k = 64 / 32 dimensions

Whitening is fitted on both sentences of every pair of the set itself (labels
unused, the published "target" setting), and for STS-B also on the train
split's sentences only (row "STS-B (fit on train)").  The anchor is the issue's
hand measurement with gensim skip-gram vectors on the same corpus (mean
pooling raw -> whitened).  The average of the four sets is printed last.

    python bench/whitening_quality.py [--vectors STORE] [-j N]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from textkit.evaluate import read_pairs, spearman, tokenize_texts
from textkit.sentences import SentenceEncoder, cosine_rows
from textkit.tokenize import TokenizerSpec
from textkit.vectors import open_vectors
from textkit.whitening import Whitening

STS = Path(__file__).resolve().parents[2] / "shared" / "data" / "sts"
SETS = ("ATEC", "BQ", "PAWSX", "STS-B")
ANCHOR = {"ATEC": (14.6, 20.1), "BQ": (25.7, 30.3), "PAWSX": (7.1, 8.4), "STS-B": (37.1, 47.8)}
COLUMNS = ("raw-mean", "mean", "sif", "W-full", "W-64", "W-32")


def whitened_cosine(fit_matrix, a, b, k):
    """Cosine after whitening fitted on ``fit_matrix`` (zero rows = no known word, kept zero)."""
    fit_rows = fit_matrix[np.any(fit_matrix != 0, axis=1)]
    w = Whitening(k).fit(fit_rows)
    wa = np.where(np.any(a != 0, axis=1)[:, None], w.transform(a), 0.0)
    wb = np.where(np.any(b != 0, axis=1)[:, None], w.transform(b), 0.0)
    return cosine_rows(wa, wb)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--vectors", default=None, help="vector store (default: the bundled vectors)"
    )
    parser.add_argument("-j", "--workers", type=int, default=1)
    args = parser.parse_args(argv)
    if not STS.is_dir():
        print(f"no STS data at {STS}", file=sys.stderr)
        return 1

    started = time.perf_counter()
    vectors = open_vectors(args.vectors)
    spec = TokenizerSpec()
    encoders = {
        "raw-mean": SentenceEncoder(vectors, pooling="raw"),
        "mean": SentenceEncoder(vectors),
        "sif": SentenceEncoder(vectors, weighting="sif"),
    }
    print(
        f"vectors: {len(vectors):,} words x {vectors.dim} ({vectors.identity}); "
        f"SIF p(w) from {encoders['sif'].frequency_source}"
    )

    results: dict[str, dict[str, float]] = {}
    for name in SETS:
        pairs = read_pairs(str(STS / f"{name}.test.tsv"))
        labels = np.array([p.label for p in pairs])
        tokens = tokenize_texts(
            [p.s1 for p in pairs] + [p.s2 for p in pairs], spec, workers=args.workers
        )
        n = len(pairs)
        row: dict[str, float] = {}
        enc = {key: e.encode(tokens) for key, e in encoders.items()}
        for key in ("raw-mean", "mean", "sif"):
            m = enc[key].matrix
            row[key] = 100 * spearman(cosine_rows(m[:n], m[n:]), labels)
        m = enc["mean"].matrix.astype(np.float64)
        for key, k in (("W-full", None), ("W-64", 64), ("W-32", 32)):
            if k is not None and k > vectors.dim:
                row[key] = float("nan")
                continue
            row[key] = 100 * spearman(whitened_cosine(m, m[:n], m[n:], k), labels)
        known = sum(int(e.sum()) for e in (enc["mean"].known,))
        total = int(enc["mean"].total.sum())
        row["oov"] = 100 * (1 - known / total)
        results[name] = row

        if name == "STS-B":
            train = read_pairs(str(STS / "STS-B.train.tsv"))
            train_tokens = tokenize_texts(
                [p.s1 for p in train] + [p.s2 for p in train], spec, workers=args.workers
            )
            fit = encoders["mean"].encode(train_tokens).matrix.astype(np.float64)
            train_row = {key: row[key] for key in ("raw-mean", "mean", "sif", "oov")}
            for key, k in (("W-full", None), ("W-64", 64), ("W-32", 32)):
                if k is not None and k > vectors.dim:
                    train_row[key] = float("nan")
                    continue
                train_row[key] = 100 * spearman(whitened_cosine(fit, m[:n], m[n:], k), labels)
            results["STS-B (fit on train)"] = train_row

    header = (
        f"{'set':<22}"
        + "".join(f"{c:>9}" for c in COLUMNS)
        + f"{'oov %':>8}   anchor raw -> whitened"
    )
    print(header)
    print("-" * len(header))
    for name, row in results.items():
        base = name.split(" ")[0]
        anchor = f"{ANCHOR[base][0]:.1f} -> {ANCHOR[base][1]:.1f}" if name in ANCHOR else ""
        cells = "".join(f"{row[c]:>9.1f}" for c in COLUMNS)
        print(f"{name:<22}{cells}{row['oov']:>8.1f}   {anchor}")
    average = {c: float(np.mean([results[s][c] for s in SETS])) for c in COLUMNS}
    anchor_avg = (np.mean([ANCHOR[s][0] for s in SETS]), np.mean([ANCHOR[s][1] for s in SETS]))
    print(
        f"{'average of the four':<22}"
        + "".join(f"{average[c]:>9.1f}" for c in COLUMNS)
        + f"{'':>8}   {anchor_avg[0]:.2f} -> {anchor_avg[1]:.2f}"
    )
    print(f"({time.perf_counter() - started:.0f} s)")
    best = max(("W-full", "W-64", "W-32"), key=lambda c: average[c])
    print(
        f"Spearman x100, average of ATEC/BQ/PAWSX/STS-B: mean cosine {average['mean']:.1f}, "
        f"whitened {average['W-full']:.1f} (full), best {best} {average[best]:.1f}; "
        f"STS-B whitened {results['STS-B']['W-full']:.1f}; anchor {anchor_avg[1]:.2f} / STS-B 47.8"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
