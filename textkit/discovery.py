"""New-word discovery from raw text: n-gram cohesion, cut-and-recount, back-check, freedom.

The method (the 2019 "faster and better new-word discovery"), with N the number of clause
characters (see :mod:`textkit.ngrams` for clauses and for how counts are kept):

1. Count every character n-gram w, n = 1..max_n, inside clauses (true substring counts,
   not KenLM's padded windows); drop those with ``#w < min_count``.
2. Cohesion of w (n ≥ 2), natural log, the minimum over its binary splits w = a·b::

       cohesion(w) = min_{a·b = w} log( N · #w / (#a · #b) )

   w is *kept* when ``cohesion(w) ≥ min_pmi[n - 2]`` (default 2, 4, 6 for n = 2, 3, 4).
   Every substring of a counted n-gram occurs at least as often, so the counts needed
   here survive the ``min_count`` cut.
3. Cut every clause at each gap between neighbouring characters that no kept n-gram
   occurrence spans (overlapping kept n-grams chain, so pieces longer than max_n arise);
   count the pieces.
4. Keep pieces with ``count ≥ min_count`` that pass the back-check: length ≤ 2 always;
   length 3..max_n only if the piece is itself a kept n-gram; longer only if every
   max_n-character window of it is a kept n-gram.
5. Left/right entropy ("freedom", Matrix67) of each output word w, natural log, over all
   its substring occurrences in clauses: with c_x the number of occurrences whose left
   (right) neighbour is character x and β the number at a clause boundary, each boundary
   occurrence counting as a distinct neighbour, T = Σ c_x + β::

       H = − Σ_x (c_x/T) log(c_x/T) + (β/T) log T  =  log T − Σ_x c_x log c_x / T

   ``min_entropy`` keeps words with min(H_left, H_right) ≥ it.

Output rows are ``(word, count, cohesion, left_entropy, right_entropy)`` sorted by count
(descending) then word (code point order). ``count`` is the piece count of step 3.
``cohesion`` of a word longer than max_n is the minimum cohesion of its max_n-windows; of
a single character (only with ``min_len=1``) it is +inf (the minimum over no splits).

Default ``min_count`` (:func:`default_min_count`): one per 1.2 million clause characters,
at least 2. On the 9 M-character benchmark corpus it gives 8, where min-count 32 (the
published setting, tuned for an 80x larger corpus) cuts too many real words.

Passes and memory: the input is read three times (count; cut and recount; entropy), each
pass a map/reduce over batches on :mod:`textkit.pool` with associative merges of exact
integer tables, so the result is identical for any number of workers. Memory is bounded
by one batch's transient arrays per worker, the n-gram tables (16 bytes per distinct
n-gram up to the spill budget, then spilled to sorted ``.npy`` runs in a temporary folder;
see :mod:`textkit.ngrams`), and after the cut the tables of n-grams with count ≥
min_count, the pieces that pass the back-check, and the output words.

>>> docs = ["蝙蝠侠和超人是好朋友。", "蝙蝠侠很酷，超人也很酷！"] * 20
>>> result = discover_documents(docs, DiscoverOptions(min_count=10))
>>> [w.word for w in result.words][:3]
['蝙蝠侠', '超人', '很酷']
"""

from __future__ import annotations

import logging
import math
import shutil
import tempfile
from collections import Counter
from dataclasses import dataclass
from typing import Callable, Dict, Iterable, List, NamedTuple, Optional, Sequence, Tuple

import numpy as np

from . import ngrams as ng
from . import pool
from .errors import UsageError

log = logging.getLogger("textkit")

DEFAULT_MAX_N = 4
DEFAULT_MIN_PMI = (2.0, 4.0, 6.0)
DEFAULT_MIN_LEN = 2
CHARS_PER_MIN_COUNT = 1_200_000
BATCH_CHARS = 1_000_000
COLUMNS = ("word", "count", "cohesion", "left_entropy", "right_entropy")
_BOUNDARY = 1 << ng.BITS  # neighbour id of a clause boundary
_NB_BITS = ng.BITS + 1


def default_min_count(total_chars: int) -> int:
    """The default ``min_count`` for a corpus of ``total_chars`` clause characters:
    ``max(2, round(total_chars / 1,200,000))``."""
    return max(2, int(round(total_chars / CHARS_PER_MIN_COUNT)))


@dataclass(frozen=True)
class DiscoverOptions:
    """Settings of :func:`discover`; None means the default (see the module docstring)."""

    max_n: int = DEFAULT_MAX_N
    min_count: Optional[int] = None
    min_pmi: Optional[Tuple[float, ...]] = None
    min_entropy: Optional[float] = None
    min_len: int = DEFAULT_MIN_LEN
    top: Optional[int] = None

    def __post_init__(self) -> None:
        if not 2 <= self.max_n <= ng.MAX_N:
            raise UsageError(f"max_n must be between 2 and {ng.MAX_N}, not {self.max_n}")
        if self.min_count is not None and self.min_count < 1:
            raise UsageError(f"min_count must be at least 1, not {self.min_count}")
        if self.min_pmi is not None:
            if len(self.min_pmi) != self.max_n - 1:
                raise UsageError(
                    f"min_pmi needs one threshold per length 2..{self.max_n} "
                    f"({self.max_n - 1} values), got {len(self.min_pmi)}"
                )
            if not all(math.isfinite(v) for v in self.min_pmi):
                raise UsageError("min_pmi thresholds must be finite numbers")
        if self.min_entropy is not None and not (math.isfinite(self.min_entropy) and self.min_entropy >= 0):
            raise UsageError(f"min_entropy must be a number ≥ 0, not {self.min_entropy}")
        if self.min_len < 1:
            raise UsageError(f"min_len must be at least 1, not {self.min_len}")
        if self.top is not None and self.top < 1:
            raise UsageError(f"top must be at least 1, not {self.top}")

    def thresholds(self) -> Tuple[float, ...]:
        """Cohesion thresholds for n = 2..max_n."""
        if self.min_pmi is not None:
            return tuple(float(v) for v in self.min_pmi)
        return DEFAULT_MIN_PMI[: self.max_n - 1]


class Word(NamedTuple):
    """One discovered word with its statistics (see the module docstring)."""

    word: str
    count: int
    cohesion: float
    left_entropy: float
    right_entropy: float


@dataclass
class DiscoveryResult:
    words: List[Word]
    total_chars: int
    min_count: int


# -- pass 1: n-gram counts ---------------------------------------------------------


def _count_task(item) -> ng.NgramCounts:
    docs, max_n, spill = item
    return ng.count_batch(docs, max_n, spill)


def cohesion_tables(tables: Dict[int, ng.Table], unigrams: np.ndarray, total: int) -> Dict[int, np.ndarray]:
    """Cohesion (float64) of every n-gram in ``tables[n]`` (n ≥ 2), aligned with its keys.

    ``unigrams[id]`` is the count of character ``id``; all sub-n-grams must be present
    (true when the tables were cut at one min_count).
    """
    out = {}
    for n, (keys, counts) in tables.items():
        best = np.full(keys.size, np.inf)
        for split in range(1, n):
            low_bits = np.uint64(ng.BITS * (n - split))
            left = keys >> low_bits
            right = keys & np.uint64((1 << (ng.BITS * (n - split))) - 1)
            ca = _counts_of(tables, unigrams, split, left)
            cb = _counts_of(tables, unigrams, n - split, right)
            ratio = (float(total) * counts.astype(np.float64)) / (ca.astype(np.float64) * cb)
            np.minimum(best, ratio, out=best)
        out[n] = np.log(best)
    return out


def _counts_of(tables, unigrams, n: int, keys: np.ndarray) -> np.ndarray:
    if n == 1:
        return unigrams[keys.astype(np.intp)]
    found, counts = ng.lookup(tables[n], keys)
    if not found.all():
        raise RuntimeError("a sub-n-gram is missing from the count tables")
    return counts


# -- pass 2: cut and recount --------------------------------------------------------

_STATE: dict = {}


def _set_state(state: dict) -> None:
    """Pool initializer: the read-only data a pass needs in every worker."""
    _STATE.clear()
    _STATE.update(state)


@dataclass
class PieceCounts:
    """Counts of pieces that passed the back-check: ``tables[L]`` for L = 1..max_n (keys over
    the global vocabulary) and ``long`` for longer pieces, by string."""

    tables: Dict[int, ng.Table]
    long: Counter


def _cut_task(docs: Sequence[str]) -> PieceCounts:
    max_n, kept, lut = _STATE["max_n"], _STATE["kept"], _STATE["lut"]
    clauses = ng.encode(docs)
    m = len(clauses)
    tables = {L: ng.empty_table() for L in range(1, max_n + 1)}
    long: Counter = Counter()
    if m == 0:
        return PieceCounts(tables, long)
    ids = ng.ids_of(clauses, lut)
    windows = ng.window_keys(ids, clauses.remaining, max_n)
    reach = np.full(m, -1, dtype=np.int64)  # last position covered by a kept n-gram starting here
    is_kept: Dict[int, np.ndarray] = {}
    for n in range(2, max_n + 1):
        keys, inside = windows[n - 1]
        hit = inside & ng.contains(kept[n], keys)
        is_kept[n] = hit
        pos = np.flatnonzero(hit)
        reach[pos] = pos + n - 1
    reach = np.maximum.accumulate(reach)
    # cut after k when k ends its clause or no kept n-gram spans the gap k | k+1
    cut_after = (clauses.remaining == 1) | (reach < np.arange(1, m + 1))
    piece_start = np.empty(m, dtype=bool)
    piece_start[0] = True
    piece_start[1:] = cut_after[:-1]
    begins = np.flatnonzero(piece_start)
    lengths = np.diff(np.append(begins, m))
    for L in range(1, max_n + 1):
        at = begins[lengths == L]
        if L >= 3:
            at = at[is_kept[L][at]]
        tables[L] = ng.sort_count(windows[L - 1][0][at])
    longer = lengths > max_n
    if longer.any():
        kept_windows = np.concatenate([[0], np.cumsum(is_kept[max_n])])
        for b, L in zip(begins[longer].tolist(), lengths[longer].tolist()):
            if kept_windows[b + L - max_n + 1] - kept_windows[b] == L - max_n + 1:
                long[clauses.text(b, L)] += 1
    return PieceCounts(tables, long)


def merge_pieces(a: PieceCounts, b: PieceCounts) -> PieceCounts:
    """Sum of two piece counts (associative, commutative)."""
    tables = {L: ng.merge_tables(a.tables[L], b.tables[L]) for L in a.tables}
    long = Counter(a.long)
    long.update(b.long)
    return PieceCounts(tables, long)


# -- pass 3: neighbour entropy ------------------------------------------------------


def _entropy_task(docs: Sequence[str]) -> Tuple[ng.Table, ng.Table]:
    """(left, right) neighbour tables: key = word index << 17 | neighbour id (or boundary)."""
    lut, short, long_groups, max_n = _STATE["lut"], _STATE["short"], _STATE["long"], _STATE["max_n"]
    clauses = ng.encode(docs)
    m = len(clauses)
    if m == 0:
        return ng.empty_table(), ng.empty_table()
    ids = ng.ids_of(clauses, lut)
    remaining = clauses.remaining
    found_pos, found_len, found_word = [], [], []
    for L, (wkeys, widx) in short.items():
        keys = ng.ngram_keys(ids, L)
        pos = np.flatnonzero((remaining[: keys.size] >= L) & ng.contains(wkeys, keys))
        found_pos.append(pos)
        found_len.append(np.full(pos.size, L, dtype=np.int64))
        found_word.append(widx[np.searchsorted(wkeys, keys[pos])])
    if long_groups:
        prefixes, groups = long_groups
        keys = ng.ngram_keys(ids, max_n)
        cand = np.flatnonzero((remaining[: keys.size] > max_n) & ng.contains(prefixes, keys))
        which = np.searchsorted(prefixes, keys[cand])
        lp, ll, lw = [], [], []
        for p, g in zip(cand.tolist(), which.tolist()):
            room = int(remaining[p])
            for index, word_ids in groups[g]:
                L = word_ids.size
                if L <= room and np.array_equal(ids[p : p + L], word_ids):
                    lp.append(p)
                    ll.append(L)
                    lw.append(index)
        found_pos.append(np.array(lp, dtype=np.int64))
        found_len.append(np.array(ll, dtype=np.int64))
        found_word.append(np.array(lw, dtype=np.int64))
    pos = np.concatenate(found_pos).astype(np.int64)
    length = np.concatenate(found_len)
    word = np.concatenate(found_word).astype(np.uint64)
    left = np.where(clauses.starts[pos], _BOUNDARY, ids[np.maximum(pos - 1, 0)])
    after = np.minimum(pos + length, m - 1)
    right = np.where(remaining[pos] == length, _BOUNDARY, ids[after])
    shift = np.uint64(_NB_BITS)
    return (
        ng.sort_count((word << shift) | left.astype(np.uint64)),
        ng.sort_count((word << shift) | right.astype(np.uint64)),
    )


def merge_neighbours(a, b):
    return ng.merge_tables(a[0], b[0]), ng.merge_tables(a[1], b[1])


def entropies(table: ng.Table, n_words: int) -> np.ndarray:
    """Entropy per word index from a neighbour table (see the module docstring)."""
    keys, counts = table
    word = (keys >> np.uint64(_NB_BITS)).astype(np.intp)
    boundary = (keys & np.uint64((1 << _NB_BITS) - 1)) == _BOUNDARY
    c = counts.astype(np.float64)
    total = np.bincount(word, weights=c, minlength=n_words)
    clogc = np.where(boundary, 0.0, c * np.log(c))
    s = np.bincount(word, weights=clogc, minlength=n_words)
    with np.errstate(divide="ignore", invalid="ignore"):
        h = np.log(total) - s / total
    return np.where(total > 0, h, 0.0)


# -- the driver ---------------------------------------------------------------------


def discover(
    batches: Callable[[], Iterable[Sequence[str]]],
    options: DiscoverOptions = DiscoverOptions(),
    *,
    workers: int = 1,
    known: Optional[Callable[[str], bool]] = None,
    max_table_bytes: int = 1 << 30,
    spill_dir: Optional[str] = None,
) -> DiscoveryResult:
    """Discover words in a corpus read as batches of documents (three passes).

    ``batches()`` must give the same batches each time it is called (e.g.
    ``corpus.batches``). ``known(word)`` True drops the word (``--new-only``). Partial
    n-gram tables beyond ``max_table_bytes`` per process spill to a temporary folder
    (inside ``spill_dir`` if given).
    """
    tmp = tempfile.mkdtemp(prefix="textkit-discover-", dir=spill_dir)
    try:
        return _discover(batches, options, workers, known, ng.SpillPolicy(tmp, max_table_bytes))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def discover_documents(docs: Sequence[str], options: DiscoverOptions = DiscoverOptions(), **kw) -> DiscoveryResult:
    """:func:`discover` over an in-memory list of documents (batches of about 1 M characters)."""

    def batches():
        batch, size = [], 0
        for d in docs:
            batch.append(d)
            size += len(d) + 1
            if size >= BATCH_CHARS:
                yield batch
                batch, size = [], 0
        if batch:
            yield batch

    return discover(batches, options, **kw)


def _discover(batches, options: DiscoverOptions, workers: int, known, spill: ng.SpillPolicy) -> DiscoveryResult:
    max_n = options.max_n
    counts = pool.map_reduce(
        _count_task, ng.merge_counts, ((b, max_n, spill) for b in batches()), workers=workers
    )
    total = counts.total if counts is not None else 0
    if total == 0:
        log.warning("the input holds no Han, Latin or digit characters; no words to discover")
        return DiscoveryResult([], 0, options.min_count or default_min_count(0))
    min_count = options.min_count if options.min_count is not None else default_min_count(total)
    log.info("%s clause characters, %s distinct; min_count %d", f"{total:,}", f"{counts.chars.size:,}", min_count)
    tables = ng.finish_counts(counts, min_count)
    unigrams = counts.unigrams
    chars = counts.chars
    del counts
    cohesion = cohesion_tables(tables, unigrams, total)
    kept_keys, kept_coh = {}, {}
    for n, thr in zip(range(2, max_n + 1), options.thresholds()):
        ok = cohesion[n] >= thr
        kept_keys[n] = tables[n][0][ok]
        kept_coh[n] = cohesion[n][ok]
    del tables, cohesion
    lut = ng.vocabulary_lut(chars)
    state = {"max_n": max_n, "kept": kept_keys, "lut": lut}
    pieces = pool.map_reduce(
        _cut_task, merge_pieces, batches(), workers=workers, initializer=_set_state, initargs=(state,)
    )
    candidates = _candidates(pieces, min_count, chars, unigrams, kept_keys, kept_coh, lut, max_n, options, known)
    if not candidates:
        log.warning("no word reaches min_count %d with the given thresholds; the output is empty", min_count)
        return DiscoveryResult([], total, min_count)
    candidates.sort(key=lambda w: (-w[1], w[0]))
    if options.min_entropy is None and options.top is not None:
        candidates = candidates[: options.top]
    left, right = _neighbour_entropies([w for w, _, _ in candidates], batches, workers, lut, max_n)
    words = [Word(w, c, coh, float(hl), float(hr)) for (w, c, coh), hl, hr in zip(candidates, left, right)]
    if options.min_entropy is not None:
        words = [w for w in words if min(w.left_entropy, w.right_entropy) >= options.min_entropy]
        if options.top is not None:
            words = words[: options.top]
        if not words:
            log.warning("no word passes min_entropy %g; the output is empty", options.min_entropy)
    return DiscoveryResult(words, total, min_count)


def _candidates(pieces, min_count, chars, unigrams, kept_keys, kept_coh, lut, max_n, options, known):
    """(word, count, cohesion) of the pieces with count ≥ min_count, after min_len / known."""
    out = []
    if pieces is None:
        return out
    for L, (keys, counts) in pieces.tables.items():
        if L < options.min_len:
            continue
        sel = counts >= min_count
        keys, counts = keys[sel], counts[sel]
        if L == 1:
            coh = np.full(keys.size, np.inf)
        else:
            pos = np.searchsorted(kept_keys[L], keys)
            coh = kept_coh[L][pos]
        for k, c, h in zip(keys.tolist(), counts.tolist(), coh.tolist()):
            out.append((ng.decode_key(k, L, chars), c, h))
    for word, c in pieces.long.items():
        if c >= min_count and len(word) >= options.min_len:
            windows = [ng.encode_word(word[i : i + max_n], lut) for i in range(len(word) - max_n + 1)]
            pos = np.searchsorted(kept_keys[max_n], np.array(windows, dtype=np.uint64))
            out.append((word, c, float(kept_coh[max_n][pos].min())))
    if known is not None:
        out = [t for t in out if not known(t[0])]
    return out


def _neighbour_entropies(words: List[str], batches, workers, lut, max_n):
    short: Dict[int, Tuple[np.ndarray, np.ndarray]] = {}
    by_len: Dict[int, List[Tuple[int, int]]] = {}
    long_items = []
    for index, w in enumerate(words):
        if len(w) <= max_n:
            by_len.setdefault(len(w), []).append((ng.encode_word(w, lut), index))
        else:
            ids = np.array([lut[ord(ch)] - 1 for ch in w], dtype=np.int64)
            long_items.append((ng.encode_word(w[:max_n], lut), index, ids))
    for L, pairs in by_len.items():
        pairs.sort()
        short[L] = (
            np.array([k for k, _ in pairs], dtype=np.uint64),
            np.array([i for _, i in pairs], dtype=np.int64),
        )
    long_groups = None
    if long_items:
        groups: Dict[int, list] = {}
        for prefix, index, ids in long_items:
            groups.setdefault(prefix, []).append((index, ids))
        prefixes = sorted(groups)
        long_groups = (np.array(prefixes, dtype=np.uint64), [groups[p] for p in prefixes])
    state = {"lut": lut, "short": short, "long": long_groups, "max_n": max_n}
    tables = pool.map_reduce(
        _entropy_task, merge_neighbours, batches(), workers=workers, initializer=_set_state, initargs=(state,)
    )
    if tables is None:
        tables = (ng.empty_table(), ng.empty_table())
    return entropies(tables[0], len(words)), entropies(tables[1], len(words))


def write_user_dict(handle, words: Iterable[Word]) -> int:
    """Write words in jieba's user-dictionary format, ``word count`` per line."""
    n = 0
    for w in words:
        handle.write(f"{w.word} {w.count}\n")
        n += 1
    return n


__all__ = [
    "COLUMNS",
    "DiscoverOptions",
    "DiscoveryResult",
    "Word",
    "default_min_count",
    "discover",
    "discover_documents",
    "write_user_dict",
]
