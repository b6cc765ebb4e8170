"""Quality of WMD / WRD (issue 6): Spearman x100 on the Chinese STS test sets, and gensim agreement.

For ../shared/data/sts/{ATEC,BQ,PAWSX,STS-B}.test.tsv with the default vectors
(or --vectors), jieba tokens (default tokenizer options, as `textkit eval`):

* WMD on the stored vectors (score -WMD), WMD on unit vectors (--normalize,
  gensim 4's default), WRD similarity 1 - WRD; the last two also with
  --oov split (unknown tokens counted as their known pieces);
* beside them, cosine of mean unit word vectors and the same after whitening
  fitted on the set's own sentences (textkit.evaluate, as `textkit eval`);
* the hand-made anchor of the issue (gensim vectors, same corpus).

A pair with a side that has no known word gets the worst score (see
textkit.transport), as in `textkit eval`.

Agreement: WMD against gensim's KeyedVectors.wmdistance built from the very
same vectors, on the STS-B test pairs (plus 2,000 BQ pairs): max |difference|
with norm=True vs --normalize, and norm=False vs the stored vectors; pairs where
gensim returns inf (a side without a known word) are counted and left out.

Usage: python bench/transport_quality.py [--vectors STORE]
The table is printed last.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "data"

from textkit import transport as tr
from textkit.evaluate import evaluate_pairs, read_pairs, spearman, tokenize_texts
from textkit.sentences import EncoderSpec
from textkit.tokenize import TokenizerSpec
from textkit.vectors import open_vectors

SETS = ("ATEC", "BQ", "PAWSX", "STS-B")
ANCHOR = {"WMD": (17.8, 34.6, 8.3, 44.8), "WRD": (18.0, 34.1, 7.2, 39.8)}


def gensim_agreement(vectors, token_pairs):
    from gensim.models import KeyedVectors

    kv = KeyedVectors(vector_size=vectors.dim)
    kv.add_vectors(vectors.words, np.asarray(vectors.matrix, dtype=np.float32))
    out = {}
    for norm in (True, False):
        diffs, inf = [], 0
        for t1, t2 in token_pairs:
            g = kv.wmdistance(t1, t2, norm=norm)
            if not np.isfinite(g):
                inf += 1
                continue
            diffs.append(abs(tr.wmd(t1, t2, vectors, normalize=norm) - g))
        out[norm] = (max(diffs), len(diffs), inf)
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--vectors", default=None, help="vector store (default: the bundled one)")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    if not DATA.is_dir():
        sys.exit(f"{DATA} is not available")
    logging.getLogger("textkit").setLevel(logging.ERROR)
    vectors = open_vectors(args.vectors)
    spec = EncoderSpec(tokenizer=TokenizerSpec(), vectors=args.vectors)
    table = {}
    agreement_pairs = []
    start = time.perf_counter()
    for name in SETS:
        pairs = read_pairs(str(DATA / "sts" / f"{name}.test.tsv"))
        labels = np.array([p.label for p in pairs], dtype=np.float64)
        n = len(pairs)
        tokens = tokenize_texts([p.s1 for p in pairs] + [p.s2 for p in pairs], TokenizerSpec(),
                                workers=args.workers)
        token_pairs = list(zip(tokens[:n], tokens[n:]))
        if name == "STS-B":
            agreement_pairs += token_pairs
        if name == "BQ":
            agreement_pairs += token_pairs[:2000]
        row = {}
        row["WMD"] = 100 * spearman(-tr.score_pairs(token_pairs, vectors, metric="wmd"), labels)
        row["WMD unit"] = 100 * spearman(-tr.score_pairs(token_pairs, vectors, metric="wmd", normalize=True),
                                         labels)
        row["WRD"] = 100 * spearman(tr.score_pairs(token_pairs, vectors, metric="wrd"), labels)
        row["WMD unit split"] = 100 * spearman(
            -tr.score_pairs(token_pairs, vectors, metric="wmd", normalize=True, oov="split"), labels)
        row["WRD split"] = 100 * spearman(tr.score_pairs(token_pairs, vectors, metric="wrd", oov="split"),
                                          labels)
        for method in ("cosine", "whiten"):
            row[method] = 100 * evaluate_pairs(pairs, spec, method=method, workers=args.workers).spearman
        table[name] = row
    quality_seconds = time.perf_counter() - start
    try:
        agree = gensim_agreement(vectors, agreement_pairs)
    except ImportError:
        agree = None

    print(f"vectors: {len(vectors):,} words x {vectors.dim} ({getattr(vectors, 'path', '')}); "
          f"scoring took {quality_seconds:.0f} s")
    if agree is not None:
        for norm, (worst, n, inf) in agree.items():
            label = "norm=True vs --normalize" if norm else "norm=False vs stored vectors"
            verdict = "PASS" if worst <= 1e-6 else "FAIL"
            print(f"gensim wmdistance agreement ({label}): max |diff| {worst:.2e} over {n} pairs "
                  f"({inf} with inf in gensim left out) -> {verdict} (1e-6)")
    else:
        print("gensim not installed: agreement check skipped")
    columns = ["WMD", "WMD unit", "WRD", "WMD unit split", "WRD split", "cosine", "whiten"]
    print("\nSpearman x100, Chinese STS test sets")
    print(f"{'method':<24}" + "".join(f"{s:>8}" for s in SETS) + f"{'avg':>8}")
    for col in columns:
        values = [table[s][col] for s in SETS]
        print(f"{'textkit ' + col:<24}" + "".join(f"{v:8.1f}" for v in values) + f"{np.mean(values):8.1f}")
    for col, values in ANCHOR.items():
        print(f"{'anchor ' + col + ' (gensim)':<24}" + "".join(f"{v:8.1f}" for v in values)
              + f"{np.mean(values):8.1f}")
    # the WMD anchor used gensim's wmdistance, which normalises vectors by default: compare both
    for col, anchor_name in (("WMD", "WMD"), ("WMD unit", "WMD"), ("WRD", "WRD"),
                             ("WMD unit split", "WMD"), ("WRD split", "WRD")):
        anchor = ANCHOR[anchor_name]
        ours = [table[s][col] for s in SETS]
        met = [s for s, a, o in zip(SETS, anchor, ours) if o >= a]
        missed = [f"{s} {o:.2f} vs {a}" for s, a, o in zip(SETS, anchor, ours) if o < a]
        print(f"textkit {col} at or above the {anchor_name} anchor on {len(met)}/4 sets: "
              f"{', '.join(met) or 'none'}; below: {', '.join(missed) or 'none'} "
              f"(average {np.mean(ours):.1f} vs {np.mean(anchor):.1f})")


if __name__ == "__main__":
    main()
