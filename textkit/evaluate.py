"""Correlation of similarity scores with human labels, and labelled-pair files.

Pearson's r of x and y (n values each):

    r = Σ (x_i - x̄)(y_i - ȳ) / sqrt(Σ (x_i - x̄)² · Σ (y_i - ȳ)²)      in [-1, 1]

Spearman's ρ is Pearson's r of the ranks, ties getting the average of the
ranks they span (1-based).  Both return NaN when either side is constant
(the correlation is undefined); the ×100 used in reports is the caller's job.

A pairs file has one pair per line, ``sentence1<TAB>sentence2<TAB>label``,
label a number (0/1 for ATEC/BQ/PAWSX, 0–5 for STS-B).  Empty lines are
skipped; any other line that is not exactly three fields with a finite numeric
label raises ``DataError`` naming the file and line.

Example:
    >>> spearman([1, 2, 3, 4], [10, 20, 30, 25])
    0.8
    >>> round(pearson([1, 2, 3], [2, 4, 7]), 4)
    0.9934
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from textkit.errors import DataError


@dataclass(frozen=True)
class LabelledPair:
    line: int
    s1: str
    s2: str
    label: float


def _as_pair_arrays(x: Sequence[float], y: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(x, dtype=np.float64).ravel()
    b = np.asarray(y, dtype=np.float64).ravel()
    if a.shape != b.shape:
        raise DataError(f"cannot correlate {a.size} scores with {b.size} labels")
    return a, b


def pearson(x: Sequence[float], y: Sequence[float]) -> float:
    """Pearson's r (see module docstring); NaN for fewer than 2 values or a constant side."""
    a, b = _as_pair_arrays(x, y)
    if a.size < 2:
        return float("nan")
    a = a - a.mean()
    b = b - b.mean()
    denom = math.sqrt(float(a @ a) * float(b @ b))
    if denom == 0.0:
        return float("nan")
    return float(np.clip((a @ b) / denom, -1.0, 1.0))


def average_ranks(values: Sequence[float]) -> np.ndarray:
    """1-based ranks, ties share the mean of the ranks they span (float64)."""
    v = np.asarray(values, dtype=np.float64).ravel()
    order = np.argsort(v, kind="mergesort")
    sorted_v = v[order]
    # start index of each run of equal values
    new_run = np.empty(v.size, dtype=bool)
    if v.size:
        new_run[0] = True
        new_run[1:] = sorted_v[1:] != sorted_v[:-1]
    starts = np.flatnonzero(new_run)
    ends = np.append(starts[1:], v.size)          # exclusive
    run_rank = (starts + ends + 1) / 2.0          # mean of ranks starts+1 .. ends
    run_of = np.cumsum(new_run) - 1
    ranks = np.empty(v.size, dtype=np.float64)
    ranks[order] = run_rank[run_of]
    return ranks


def spearman(x: Sequence[float], y: Sequence[float]) -> float:
    """Spearman's ρ: Pearson's r of average ranks; NaN when undefined."""
    a, b = _as_pair_arrays(x, y)
    return pearson(average_ranks(a), average_ranks(b))


def read_pairs(path: str) -> list[LabelledPair]:
    """Read ``s1<TAB>s2<TAB>label`` lines (any compression, '-' for stdin)."""
    from textkit.corpus import open_text

    pairs: list[LabelledPair] = []
    with open_text(path) as handle:
        for number, raw in enumerate(handle, start=1):
            line = raw.rstrip("\r\n")
            if number == 1:
                line = line.lstrip("\ufeff")
            if not line.strip():
                continue
            fields = line.split("\t")
            if len(fields) != 3:
                raise DataError(
                    f"{path}, line {number}: expected 3 tab-separated fields "
                    f"(sentence1, sentence2, label), found {len(fields)}"
                )
            s1, s2, text = fields
            try:
                label = float(text.strip())
            except ValueError:
                raise DataError(f"{path}, line {number}: label {text.strip()!r} is not a number") from None
            if not math.isfinite(label):
                raise DataError(f"{path}, line {number}: label {text.strip()!r} is not a finite number")
            pairs.append(LabelledPair(number, s1, s2, label))
    if not pairs:
        raise DataError(f"{path}: no labelled pairs found (expected sentence1<TAB>sentence2<TAB>label lines)")
    return pairs
