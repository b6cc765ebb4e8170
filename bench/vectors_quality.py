"""Word-vector quality (issue: `textkit vectors`): textkit's PPMI + SVD against gensim.

On ../shared/data/zh_corpus.txt.gz, all in this one run:
  * gensim anchor: the corpus tokenized with the shared tokenizer (jieba defaults, over
    the pool), then Word2Vec skip-gram, dim 100, window 5, 5 epochs, min_count 5
    (time = tokenizing + training);
  * textkit `train_vectors` end to end (its own tokenizing included), with
      - the word-similarity settings (dim 200, window 10, alpha 1.0, power 0.25),
      - the settings of the shipped default store (dim 144, window 2, alpha 1.0,
        power 0.25, min-count 3, idf row lengths; chosen for sentence similarity), and
      - the `vectors train` defaults (window 5, dim 100, alpha 0.75, power 0.5);
  * the shipped default store itself (int8; its words, dim and dtype are printed).
Scores: Spearman x100 of cosine against the human scores of wordsim-240, wordsim-297
and COS960 (over the pairs whose two words are in the vocabulary; coverage shown), and
CA8 (morphological + semantic) analogy accuracy by 3CosAdd over unit vectors, over the
questions whose four words are in the vocabulary (coverage shown). Every model is
scored by the same code. Times are wall clock on this (shared) machine.

Usage: python bench/vectors_quality.py [-j WORKERS] [--quick]   (--quick: skip the store-settings
and default-settings arms)
"""

from __future__ import annotations

import argparse
import time
from typing import Dict, List, Sequence, Tuple

import numpy as np

from measure import shared_file

from textkit import pool
from textkit.corpus import Corpus
from textkit.evaluate import spearman
from textkit.tokenize import TokenizerSpec, get_tokenizer
from textkit.vector_training import TrainingOptions, train_vectors
from textkit.vectors import open_vectors

SIM_SETS = {
    "wordsim-240": "wordsim-240.txt",
    "wordsim-297": "wordsim-297.txt",
    "COS960": "COS960_all.txt",
}


def read_similarity(name: str) -> List[Tuple[str, str, float]]:
    """(w1, w2, human score): TAB-separated for wordsim (fields stripped), spaces for COS960."""
    pairs = []
    with open(shared_file("wordsim", SIM_SETS[name]), encoding="utf-8") as fh:
        for line in fh:
            if not line.strip():
                continue
            fields = line.split() if name == "COS960" else [f.strip() for f in line.split("\t")]
            pairs.append((fields[0], fields[1], float(fields[2])))
    return pairs


def read_analogies() -> List[List[str]]:
    out = []
    for name in ("morphological.txt", "semantic.txt"):
        with open(shared_file("wordsim", "CA8", name), encoding="utf-8") as fh:
            out.extend(line.split() for line in fh if line.strip() and not line.startswith(":"))
    return out


def unit_rows(matrix: np.ndarray) -> np.ndarray:
    m = np.asarray(matrix, dtype=np.float32)
    n = np.linalg.norm(m, axis=1, keepdims=True)
    return np.divide(m, n, out=np.zeros_like(m), where=n > 0)


def score(words: Sequence[str], matrix: np.ndarray) -> Dict[str, Tuple[float, float]]:
    """{set: (Spearman x100 or accuracy %, coverage)} for one model."""
    index = {w: i for i, w in enumerate(words)}
    unit = unit_rows(matrix)
    out = {}
    for name in SIM_SETS:
        pairs = read_similarity(name)
        known = [(index[a], index[b], s) for a, b, s in pairs if a in index and b in index]
        cos = [float(unit[i] @ unit[j]) for i, j, _ in known]
        out[name] = (100 * spearman(cos, [s for _, _, s in known]), len(known) / len(pairs))
    questions = read_analogies()
    ok = np.array(
        [[index[w] for w in q] for q in questions if all(w in index for w in q)], dtype=np.int64
    )
    correct = 0
    for start in range(0, len(ok), 512):
        b = ok[start : start + 512]
        target = unit[b[:, 1]] - unit[b[:, 0]] + unit[b[:, 2]]
        sims = target @ unit.T
        rows = np.arange(len(b))
        for j in range(3):
            sims[rows, b[:, j]] = -np.inf
        correct += int((sims.argmax(axis=1) == b[:, 3]).sum())
    out["CA8"] = (100 * correct / max(len(ok), 1), len(ok) / len(questions))
    return out


def _tokenize_batch(item):
    spec, docs = item
    tok = get_tokenizer(spec)
    return [tok.tokens(d) for d in docs]


def line(name: str, scores, seconds: float) -> str:
    cells = [f"{k} {v:5.1f} ({c:4.0%})" for k, (v, c) in scores.items()]
    return f"{name:44s} {'  '.join(cells)}  {seconds:6.1f} s"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("-j", "--workers", type=int, default=2)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    corpus_path = str(shared_file("zh_corpus.txt.gz"))
    spec = TokenizerSpec()
    results = []

    t = time.perf_counter()
    items = ((spec, b) for b in Corpus([corpus_path]).batches())
    sentences = [
        s for batch in pool.imap(_tokenize_batch, items, workers=args.workers) for s in batch if s
    ]
    t_tok = time.perf_counter() - t
    from gensim.models import Word2Vec

    t = time.perf_counter()
    model = Word2Vec(
        sentences,
        vector_size=100,
        window=5,
        sg=1,
        epochs=5,
        min_count=5,
        workers=args.workers,
        seed=1,
    )
    t_gensim = time.perf_counter() - t
    del sentences
    gensim_scores = score(model.wv.index_to_key, model.wv.vectors)
    results.append(("gensim skip-gram d100 w5 (tokenize + train)", gensim_scores, t_tok + t_gensim))
    print(f"gensim: tokenizing {t_tok:.1f} s, training {t_gensim:.1f} s", flush=True)
    print(line(*results[-1]), flush=True)

    arms = [
        (
            "textkit PPMI-SVD d200 w10 a1.0 p0.25",
            TrainingOptions(dim=200, window=10, alpha=1.0, power=0.25),
        )
    ]
    if not args.quick:
        arms += [
            (
                "textkit PPMI-SVD d144 w2 a1.0 p0.25 mc3 (store settings, float32)",
                TrainingOptions(dim=144, window=2, alpha=1.0, power=0.25, min_count=3, norms="idf"),
            ),
            ("textkit PPMI-SVD defaults d100 w5 a.75 p.5", TrainingOptions()),
        ]
    for name, opts in arms:
        t = time.perf_counter()
        vec, rep = train_vectors(
            Corpus([corpus_path]), tokenizer_spec=spec, options=opts, workers=args.workers
        )
        seconds = time.perf_counter() - t
        results.append((name + " (end to end)", score(vec.words, vec.matrix), seconds))
        print(
            f"  tokenizing {rep.seconds_tokenize:.1f} s, "
            f"counting + PPMI {rep.seconds_count:.1f} s, "
            f"SVD {rep.seconds_svd:.1f} s",
            flush=True,
        )
        print(line(*results[-1]), flush=True)
    shipped = open_vectors(None)
    results.append(
        (f"shipped default store ({len(shipped) // 1000}k words, {shipped.dtype})",
         score(shipped.words, np.asarray(shipped.matrix)), 0.0)
    )
    print(line(*results[-1]), flush=True)

    print()
    for r in results:
        print(line(*r))
    ours = results[1]
    wins = [k for k in SIM_SETS if ours[1][k][0] >= gensim_scores[k][0]]
    print(
        f"FIGURE {ours[0]}: at or above gensim on {len(wins)}/3 similarity sets "
        f"({', '.join(wins)}); "
        f"wall {ours[2]:.1f} s vs gensim tokenize + train {t_tok + t_gensim:.1f} s"
    )


if __name__ == "__main__":
    main()
