"""Plain-Python reference of the new-word discovery algorithm (dicts of strings, no numpy).

Written straight from the method's description, independent of textkit.ngrams /
textkit.discovery: tests compare the fast pipeline with it, and bench/discover_speed.py
times it. Returns rows (word, count, cohesion, left_entropy, right_entropy) sorted by
count descending, then word.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from typing import Callable, Iterable, List, Optional, Sequence, Tuple

# Han, Latin letters, digits (half and full width) form clauses; anything else splits.
CLAUSE_SPLIT = re.compile(
    "[^0-9A-Za-z\u3007\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
    "\uff10-\uff19\uff21-\uff3a\uff41-\uff5a\U00020000-\U0002fa1f\U00030000-\U000323af]+"
)

HAN = re.compile("[\u3007\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002fa1f\U00030000-\U000323af]")


def clauses(docs: Iterable[str]):
    for doc in docs:
        for clause in CLAUSE_SPLIT.split(doc):
            if clause:
                yield clause


def count_ngrams(docs: Iterable[str], max_n: int) -> Counter:
    counts: Counter = Counter()
    for clause in clauses(docs):
        for n in range(1, max_n + 1):
            for i in range(len(clause) - n + 1):
                counts[clause[i : i + n]] += 1
    return counts


def default_thresholds(max_n: int) -> Tuple[float, ...]:
    return (2.0, 4.0, 6.0)[: max_n - 1]


def reference_discover(
    docs: Sequence[str],
    min_count: int,
    max_n: int = 4,
    min_pmi: Optional[Sequence[float]] = None,
    min_len: int = 2,
    min_entropy: Optional[float] = None,
    top: Optional[int] = None,
    known: Optional[Callable[[str], bool]] = None,
) -> List[tuple]:
    thresholds = tuple(min_pmi) if min_pmi is not None else default_thresholds(max_n)
    grams = count_ngrams(docs, max_n)
    total = sum(c for w, c in grams.items() if len(w) == 1)
    if not any(HAN.match(w) for w in grams if len(w) == 1):
        return []  # no Han character: nothing to discover
    grams = {w: c for w, c in grams.items() if c >= min_count}

    cohesion = {}
    kept = set()
    for w, c in grams.items():
        if len(w) < 2:
            continue
        best = min(total * c / (grams[w[:i]] * grams[w[i:]]) for i in range(1, len(w)))
        cohesion[w] = math.log(best)
        if cohesion[w] >= thresholds[len(w) - 2]:
            kept.add(w)

    pieces: Counter = Counter()
    for clause in clauses(docs):
        covered = [False] * len(clause)  # covered[j]: the gap before character j is spanned
        for i in range(len(clause)):
            for n in range(2, max_n + 1):
                if i + n <= len(clause) and clause[i : i + n] in kept:
                    for j in range(i + 1, i + n):
                        covered[j] = True
        start = 0
        for j in range(1, len(clause) + 1):
            if j == len(clause) or not covered[j]:
                pieces[clause[start:j]] += 1
                start = j

    def back_check(piece: str) -> bool:
        if len(piece) <= 2:
            return True
        if len(piece) <= max_n:
            return piece in kept
        return all(piece[i : i + max_n] in kept for i in range(len(piece) - max_n + 1))

    rows = []
    for piece, c in pieces.items():
        if c < min_count or not back_check(piece) or len(piece) < min_len:
            continue
        if known is not None and known(piece):
            continue
        if len(piece) == 1:
            coh = math.inf
        elif len(piece) <= max_n:
            coh = cohesion[piece]
        else:
            coh = min(cohesion[piece[i : i + max_n]] for i in range(len(piece) - max_n + 1))
        rows.append((piece, c, coh))
    rows.sort(key=lambda r: (-r[1], r[0]))
    if min_entropy is None and top is not None:
        rows = rows[:top]

    words = {r[0] for r in rows}
    lengths = sorted({len(w) for w in words})
    # a clause boundary is a fresh object each time: every one is a distinct neighbour
    left = defaultdict(Counter)
    right = defaultdict(Counter)
    for clause in clauses(docs):
        for L in lengths:
            for i in range(len(clause) - L + 1):
                w = clause[i : i + L]
                if w in words:
                    left[w][clause[i - 1] if i > 0 else object()] += 1
                    right[w][clause[i + L] if i + L < len(clause) else object()] += 1

    def entropy(counter: Counter) -> float:
        t = sum(counter.values())
        return -sum(c / t * math.log(c / t) for c in counter.values())

    out = [(w, c, coh, entropy(left[w]), entropy(right[w])) for w, c, coh in rows]
    if min_entropy is not None:
        out = [r for r in out if min(r[3], r[4]) >= min_entropy]
        if top is not None:
            out = out[:top]
    return out
