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
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from textkit.errors import DataError
from textkit.sentences import cosine_rows


@dataclass(frozen=True)
class LabelledPair:
    line: int
    s1: str
    s2: str
    label: float


def _labelled(pair, number: int) -> LabelledPair:
    """A :class:`LabelledPair` as is, or one made of an ``(s1, s2, label)`` tuple at line ``number``."""
    if isinstance(pair, LabelledPair):
        return pair
    if not (isinstance(pair, (tuple, list)) and len(pair) == 3 and all(isinstance(s, str) for s in pair[:2])):
        raise TypeError(f"pairs must be LabelledPair rows or (s1, s2, label) tuples, not {pair!r:.60}")
    from textkit.errors import real_number

    return LabelledPair(number, pair[0], pair[1], real_number(pair[2], "label"))


def _as_pair_arrays(x: Sequence[float], y: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(x, dtype=np.float64).ravel()
    b = np.asarray(y, dtype=np.float64).ravel()
    if a.shape != b.shape:
        raise DataError(f"cannot correlate {a.size} scores with {b.size} labels")
    return a, b


def _centred_unit_scale(v: np.ndarray) -> np.ndarray:
    """v - mean(v), computed on v / max|v| so that no sum of squares overflows or underflows
    (r does not change with the scale; scores of 1e300 or 1e-300 gave inf or 0 otherwise)."""
    top = float(np.max(np.abs(v)))
    if top > 0 and math.isfinite(top):
        v = v / top
    return v - v.mean()


def pearson(x: Sequence[float], y: Sequence[float]) -> float:
    """Pearson's r (see module docstring); NaN for fewer than 2 values or a constant side."""
    a, b = _as_pair_arrays(x, y)
    if a.size < 2:
        return float("nan")
    a, b = _centred_unit_scale(a), _centred_unit_scale(b)
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
    ends = np.append(starts[1:], v.size)  # exclusive
    run_rank = (starts + ends + 1) / 2.0  # mean of ranks starts+1 .. ends
    run_of = np.cumsum(new_run) - 1
    ranks = np.empty(v.size, dtype=np.float64)
    ranks[order] = run_rank[run_of]
    return ranks


def spearman(x: Sequence[float], y: Sequence[float]) -> float:
    """Spearman's ρ: Pearson's r of average ranks; NaN when undefined (a NaN score has no rank)."""
    a, b = _as_pair_arrays(x, y)
    if np.isnan(a).any() or np.isnan(b).any():
        return float("nan")
    return pearson(average_ranks(a), average_ranks(b))


def read_pairs(path: str, *, encoding: str = "utf-8", strict: bool = False) -> list[LabelledPair]:
    """Read ``s1<TAB>s2<TAB>label`` lines through :class:`textkit.corpus.Corpus` (any compression,
    '-' for stdin, ``encoding``; invalid bytes replaced with a warning, an error with ``strict``)."""
    from textkit.corpus import Corpus

    pairs: list[LabelledPair] = []
    for record in Corpus([path], encoding=encoding, strict=strict).records():
        number, line = record.line, record.text
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) != 3:
            raise DataError(
                f"{record.source}:{number}: expected 3 tab-separated fields "
                f"(sentence1, sentence2, label), found {len(fields)}"
            )
        s1, s2, text = fields
        try:
            label = float(text.strip())
        except ValueError:
            raise DataError(f"{record.source}:{number}: label {text.strip()!r} is not a number") from None
        if not math.isfinite(label):
            raise DataError(f"{record.source}:{number}: label {text.strip()!r} is not a finite number")
        pairs.append(LabelledPair(number, s1, s2, label))
    if not pairs:
        raise DataError(
            f"{path}: no labelled pairs found (expected sentence1<TAB>sentence2<TAB>label lines)"
        )
    return pairs


# ---------------------------------------------------------------------------
# Scoring labelled pairs: cosine of (optionally whitened) sentence vectors, WMD, WRD
# ---------------------------------------------------------------------------

METHODS = ("cosine", "whiten", "wmd", "wrd")
TOKENIZE_BATCH = 2000


@dataclass
class EvalResult:
    """Correlations (not ×100) of per-pair similarity with the labels.

    scores: float64 (pairs,) similarity (higher = more alike; for wmd the negated distance);
    oov_rate: fraction of all tokens of both sides not in the vector store (for wmd and wrd
    with ``oov="split"``, of those that have no known piece either: what the scores drop).
    """

    method: str
    spearman: float
    pearson: float
    pairs: int
    oov_rate: float
    scores: np.ndarray
    labels: np.ndarray
    lines: list[int]

    def summary(self) -> dict:
        """The JSON object of ``textkit eval --format json`` (correlations ×100, None if undefined)."""

        def x100(value: float):
            return None if math.isnan(value) else round(100.0 * value, 4)

        return {
            "method": self.method,
            "spearman": x100(self.spearman),
            "pearson": x100(self.pearson),
            "pairs": self.pairs,
            "oov_rate": round(self.oov_rate, 6),
        }


def _tokenize_task(task: tuple) -> list[list[str]]:
    """Pool worker: (TokenizerSpec, texts) -> token lists."""
    from textkit.tokenize import get_tokenizer

    spec, texts = task
    tokenizer = get_tokenizer(spec)
    return [tokenizer.tokens(t) for t in texts]


def tokenize_texts(texts: Sequence[str], tokenizer_spec, *, workers: int = 1) -> list[list[str]]:
    """Token lists of ``texts`` in order, tokenized over the pool in batches."""
    from textkit.pool import chunks, imap

    tasks = ((tokenizer_spec, batch) for batch in chunks(texts, TOKENIZE_BATCH))
    out: list[list[str]] = []
    for part in imap(_tokenize_task, tasks, workers=workers):
        out.extend(part)
    return out


def _whitening_for(
    fit_on: str, left, right, encoder, spec, *, n_components, eigenvalue_floor, workers, encoding, strict
):
    from textkit.whitening import Whitening, is_saved_whitening

    identity = str(encoder.vectors.identity)
    if fit_on == "pairs":
        both = np.vstack([left.matrix[left.known > 0], right.matrix[right.known > 0]])
        return Whitening(n_components, eigenvalue_floor=eigenvalue_floor).fit(
            both, vectors_identity=identity, encoder=encoder.describe(), tokenizer=spec.tokenizer.describe()
        )
    if is_saved_whitening(fit_on):
        whitening = Whitening.load(fit_on, vectors_identity=identity)
        if n_components is not None and n_components != whitening.n_components_:
            from textkit.errors import UsageError

            raise UsageError(
                f"--dim {n_components} differs from the {whitening.n_components_} dimensions "
                f"saved in {fit_on}; leave out --dim or refit"
            )
        warn_if_encoder_differs(whitening, encoder, fit_on, spec.tokenizer)
        return whitening
    from textkit.corpus import Corpus
    from textkit.sentences import fit_whitening

    return fit_whitening(
        Corpus([fit_on], encoding=encoding, strict=strict),
        spec,
        n_components=n_components,
        eigenvalue_floor=eigenvalue_floor,
        workers=workers,
    )


def warn_if_encoder_differs(whitening, encoder, source: str, tokenizer_spec=None) -> None:
    """Log a warning when saved parameters were fitted with other sentence-vector settings, or
    (``tokenizer_spec`` given, and recorded in the file) on text tokenized otherwise."""
    import logging

    if tokenizer_spec is not None and whitening.tokenizer_ and whitening.tokenizer_ != tokenizer_spec.describe():
        logging.getLogger("textkit.evaluate").warning(
            "%s was fitted on text tokenized with %s, now %s", source, whitening.tokenizer_,
            tokenizer_spec.describe())
    now = encoder.describe()
    if ",p=" not in whitening.encoder_:  # saved before the SIF frequency source was recorded
        now = re.sub(r",p=[^)]*", "", now)
    if whitening.encoder_ and whitening.encoder_ != now:
        logging.getLogger("textkit.evaluate").warning(
            "%s was fitted on sentence vectors made with %s, now %s",
            source,
            whitening.encoder_,
            now,
        )


def evaluate_pairs(
    pairs: Sequence[LabelledPair],
    spec,
    *,
    method: str = "cosine",
    fit_on: str = "pairs",
    n_components: int | None = None,
    eigenvalue_floor: float | None = None,
    workers: int = 1,
    normalize: bool = False,
    oov: str = "drop",
    encoding: str = "utf-8",
    strict: bool = False,
) -> EvalResult:
    """Score every pair with ``method`` and correlate the scores with the labels.

    pairs: :class:`LabelledPair` rows or ``(s1, s2, label)`` tuples (line numbers
    then count from 1), or a path that :func:`read_pairs` reads (with ``encoding``
    and ``strict``, which apply to a ``fit_on`` corpus file too).
    spec: a ``textkit.sentences.EncoderSpec`` (tokenizer, vectors, pooling, weighting);
    a ``TokenizerSpec`` or None stand for the default encoder with that tokenizer, or, with
    saved whitening parameters (``fit_on`` a .npz), for the encoder of their fit
    (:func:`textkit.sentences.fitted_spec`); an EncoderSpec is used as given.
    cosine: cos(s1, s2) of sentence vectors; whiten: the same after whitening fitted on
    ``fit_on`` ("pairs" = both sides of every pair, labels unused; a corpus file; or a
    saved .npz); wrd: 1 - WRD; wmd: -WMD (so that for every method higher = more alike).
    ``normalize`` (WMD on unit rows) and ``oov`` (drop, error or split unknown tokens)
    go to :mod:`textkit.transport` for wmd and wrd.
    """
    if method not in METHODS:
        from textkit.errors import UsageError

        raise UsageError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    from textkit.sentences import EMPTY_COSINE, EncoderSpec, as_encoder_spec, build_encoder, fitted_spec
    from textkit.whitening import Whitening, is_saved_whitening

    as_fitted = not isinstance(spec, EncoderSpec)  # no sentence-vector settings given
    spec = as_encoder_spec(spec)
    if as_fitted and method == "whiten" and fit_on != "pairs" and is_saved_whitening(fit_on):
        spec = fitted_spec(spec, Whitening.load(fit_on).encoder_)
    if isinstance(pairs, (str, os.PathLike)):
        pairs = read_pairs(str(pairs), encoding=encoding, strict=strict)
    else:
        pairs = [_labelled(pair, number) for number, pair in enumerate(pairs, 1)]
    tokenizer_spec = spec.tokenizer
    if tokenizer_spec is None:
        from textkit.tokenize import TokenizerSpec

        tokenizer_spec = TokenizerSpec()
    _, encoder = build_encoder(spec)
    tokens = tokenize_texts(
        [p.s1 for p in pairs] + [p.s2 for p in pairs], tokenizer_spec, workers=workers
    )
    n = len(pairs)
    left_tokens, right_tokens = tokens[:n], tokens[n:]
    labels = np.array([p.label for p in pairs], dtype=np.float64)

    if method in ("cosine", "whiten"):
        left, right = encoder.encode(left_tokens), encoder.encode(right_tokens)
        known = int(left.known.sum() + right.known.sum())
        total = int(left.total.sum() + right.total.sum())
        a, b = left.matrix, right.matrix
        if method == "whiten":
            whitening = _whitening_for(
                fit_on,
                left,
                right,
                encoder,
                spec,
                n_components=n_components,
                eigenvalue_floor=eigenvalue_floor,
                workers=workers,
                encoding=encoding,
                strict=strict,
            )
            a = np.where(left.known[:, None] > 0, whitening.transform(a), 0.0)
            b = np.where(right.known[:, None] > 0, whitening.transform(b), 0.0)
        scores = cosine_rows(a, b)
        empty = (left.known == 0) | (right.known == 0)
        scores[empty] = EMPTY_COSINE  # as `sim --pairs` scores them
        _warn_empty_sides([p.line for p in pairs], empty, scores)
    else:
        from textkit.transport import score_pairs, token_rows

        scores = _transport_scores(
            score_pairs, list(zip(left_tokens, right_tokens)), encoder.vectors, method, normalize, oov,
            [p.line for p in pairs],
        )
        # tokens that carry no vector under the policy (with "split", one with known pieces carries them)
        total = sum(len(toks) for toks in tokens)
        dropped = token_rows(tokens, encoder.vectors, oov="split" if oov == "split" else "drop")[3]
        known = total - int(dropped.sum())
    return EvalResult(
        method=method,
        spearman=spearman(scores, labels),
        pearson=pearson(scores, labels),
        pairs=n,
        oov_rate=1.0 - known / total if total else 0.0,
        scores=scores,
        labels=labels,
        lines=[p.line for p in pairs],
    )


def _warn_empty_sides(lines: Sequence[int], empty: np.ndarray, scores: np.ndarray) -> None:
    """The warning transport gives, for cosine: pairs with a side of no known word (scored -1, the worst cosine)."""
    from textkit.transport import PairTally

    if empty.any():
        tally = PairTally(empty=[line for line, e in zip(lines, empty.tolist()) if e])
        tally.report("line", float(scores[empty][0]))


def _transport_scores(score_pairs, token_pairs, vectors, method: str, normalize: bool, oov: str,
                      lines: Sequence[int]) -> np.ndarray:
    """WRD similarity (1 - WRD) or negated WMD distance per pair, via textkit.transport.

    A pair with a side of no known word gets transport's error value (the worst score),
    so it ranks last rather than being dropped; transport logs one warning for them,
    naming the file ``lines``.
    """
    return np.asarray(score_pairs(token_pairs, vectors, metric=method, normalize=normalize, oov=oov,
                                  numbers=lines, what="line", negate=method == "wmd"), dtype=np.float64)
