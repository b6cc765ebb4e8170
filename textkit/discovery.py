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

Default ``min_count`` (:func:`default_min_count`): ``max(2, round(√N / 700))``. The noise
of a count grows like its square root, so the cut grows like √N: on the 8.2 M-character
benchmark corpus it gives 4 (the best of 3..8 there on PKU and MSR), on an 80x larger
corpus about 37, near the published setting of 32 for such a corpus.

Passes and memory: the input is read twice (count; cut, recount and gather neighbours),
each pass a map/reduce over batches on :mod:`textkit.pool` with associative merges of exact
integer tables, so the result is identical for any number of workers. Memory is bounded
by one batch's transient arrays per worker, the n-gram tables (16 bytes per distinct
n-gram up to the spill budget, then spilled to sorted ``.npy`` runs in a temporary folder;
see :mod:`textkit.ngrams`), and after the cut the tables of n-grams with count ≥
min_count, the pieces that pass the back-check, and the output words.

>>> from itertools import permutations
>>> words = ["蝙蝠侠", "超人", "朋友", "喜欢", "今天", "电影院", "我们"]
>>> docs = ["".join(p) for p in permutations(words, 3)]   # 210 run-together "sentences"
>>> result = discover_documents(docs, DiscoverOptions(min_count=5, min_pmi=(2.0, 2.0, 2.0)))
>>> sorted(w.word for w in result.words) == sorted(words)
True

(A corpus this small needs lower cohesion thresholds than the defaults, which suit
millions of characters.)
"""

from __future__ import annotations

import logging
import math
import shutil
import tempfile
from collections import Counter
from dataclasses import dataclass
from typing import Callable, Dict, Iterable, Iterator, List, NamedTuple, Optional, Sequence, Tuple

import numpy as np

from . import ngrams as ng
from . import pool
from .errors import UsageError, real_number, whole_number

log = logging.getLogger("textkit")

DEFAULT_MAX_N = 4
DEFAULT_MIN_PMI = (2.0, 4.0, 6.0)
DEFAULT_MIN_LEN = 2
MIN_COUNT_SCALE = 700.0
BATCH_CHARS = 1_000_000
COLUMNS = ("word", "count", "cohesion", "left_entropy", "right_entropy")
_BOUNDARY = 1 << ng.BITS  # neighbour id of a clause boundary
_NB_BITS = ng.BITS + 1


def default_min_count(total_chars: int) -> int:
    """The default ``min_count`` for a corpus of ``total_chars`` clause characters:
    ``max(2, round(√total_chars / 700))`` (1 M characters -> 2, 8 M -> 4, 100 M -> 14).

    >>> default_min_count(8_251_531)
    4
    """
    return max(2, int(round(math.sqrt(total_chars) / MIN_COUNT_SCALE)))


@dataclass(frozen=True)
class DiscoverOptions:
    """Settings of :func:`discover`; None means the default (see the module docstring).

    ``min_pmi``: one threshold per length 2..max_n, or one number for every length.
    """

    max_n: int = DEFAULT_MAX_N
    min_count: Optional[int] = None
    min_pmi: Optional[Tuple[float, ...]] = None
    min_entropy: Optional[float] = None
    min_len: int = DEFAULT_MIN_LEN
    top: Optional[int] = None

    def __post_init__(self) -> None:
        for name in ("max_n", "min_count", "min_len", "top"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, whole_number(value, name))
        pmi = self.min_pmi
        for value in list(pmi) if isinstance(pmi, (tuple, list)) else [pmi]:
            if value is not None:
                real_number(value, "min_pmi")
        if self.min_entropy is not None:
            real_number(self.min_entropy, "min_entropy")
        if isinstance(pmi, list):
            object.__setattr__(self, "min_pmi", tuple(pmi))
        if not 2 <= self.max_n <= ng.MAX_N:
            raise UsageError(f"max_n must be between 2 and {ng.MAX_N}, not {self.max_n}")
        if self.min_count is not None and self.min_count < 1:
            raise UsageError(f"min_count must be at least 1, not {self.min_count}")
        if isinstance(self.min_pmi, (int, float)):  # one value for every length, as the CLI takes it
            object.__setattr__(self, "min_pmi", (float(self.min_pmi),) * (self.max_n - 1))
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


# -- pass 2: cut and recount, with the neighbours for entropy -------------------------

_STATE: dict = {}


def _set_state(state: dict) -> None:
    """Pool initializer: the read-only data a pass needs in every worker."""
    _STATE.clear()
    _STATE.update(state)


@dataclass
class CutCounts:
    """What pass 2 gathers from some batches.

    ``pieces[L]`` (L = 1..max_n): counts of pieces that pass the back-check, keyed like
    n-grams; ``long``: the same for longer pieces, by string. ``left`` / ``right``:
    neighbour tables of every occurrence of every kept n-gram (and of every character when
    single characters are wanted), key = ``slot << 17 | neighbour id`` (id 2^16 for a
    clause boundary), ``slot`` the n-gram's place in the state's ``slots`` order.
    ``contexts``: (piece, left neighbour, right neighbour) of every piece longer than max_n
    (neighbour "" at a clause boundary): each occurrence of an output word longer than
    max_n lies inside such a piece, so its neighbours are found there.
    """

    pieces: Dict[int, ng.Table]
    long: Counter
    left: ng.Table
    right: ng.Table
    contexts: Counter


def _cut_task(docs: Sequence[str]) -> CutCounts:
    max_n, kept, vocab = _STATE["max_n"], _STATE["kept"], _STATE["vocab"]
    offsets, with_chars = _STATE["offsets"], _STATE["with_chars"]
    clauses = ng.encode(docs)
    m = len(clauses)
    pieces = {L: ng.empty_table() for L in range(1, max_n + 1)}
    if m == 0:
        return CutCounts(pieces, Counter(), ng.empty_table(), ng.empty_table(), Counter())
    ids = vocab.ids(clauses.codes)
    remaining = clauses.remaining
    windows = ng.window_keys(ids, remaining, max_n)
    reach = np.full(m, -1, dtype=np.int64)  # last position covered by a kept n-gram starting here
    is_kept: Dict[int, np.ndarray] = {}
    occ_pos, occ_len, occ_slot = [], [], []
    if with_chars:
        occ_pos.append(np.arange(m))
        occ_len.append(np.ones(m, dtype=np.int64))
        occ_slot.append(ids + offsets[1])
    for n in range(2, max_n + 1):
        keys, inside = windows[n - 1]
        index = kept[n].index(keys)
        hit = inside & (index >= 0)
        is_kept[n] = hit
        pos = np.flatnonzero(hit)
        reach[pos] = pos + n - 1
        occ_pos.append(pos)
        occ_len.append(np.full(pos.size, n, dtype=np.int64))
        occ_slot.append(index[pos] + offsets[n])
    # neighbours of every kept n-gram occurrence
    pos = np.concatenate(occ_pos)
    length = np.concatenate(occ_len)
    slot = np.concatenate(occ_slot).astype(np.uint64) << np.uint64(_NB_BITS)
    left_nb = np.where(clauses.starts[pos], _BOUNDARY, ids[np.maximum(pos - 1, 0)])
    right_nb = np.where(remaining[pos] == length, _BOUNDARY, ids[np.minimum(pos + length, m - 1)])
    left = ng.sort_count(slot | left_nb.astype(np.uint64))
    right = ng.sort_count(slot | right_nb.astype(np.uint64))
    # cut after k when k ends its clause or no kept n-gram spans the gap k | k+1
    reach = np.maximum.accumulate(reach)
    cut_after = (remaining == 1) | (reach < np.arange(1, m + 1))
    piece_start = np.empty(m, dtype=bool)
    piece_start[0] = True
    piece_start[1:] = cut_after[:-1]
    begins = np.flatnonzero(piece_start)
    lengths = np.diff(np.append(begins, m))
    for L in range(1, max_n + 1):
        at = begins[lengths == L]
        if L >= 3:
            at = at[is_kept[L][at]]
        pieces[L] = ng.sort_count(windows[L - 1][0][at])
    long: Counter = Counter()
    contexts: Counter = Counter()
    longer = lengths > max_n
    if longer.any():
        kept_windows = np.concatenate([[0], np.cumsum(is_kept[max_n])])
        text = clauses.text(0, m)
        at = begins[longer]
        size = lengths[longer]
        has_left = ~clauses.starts[at]
        has_right = remaining[at] > size
        back_ok = kept_windows[at + size - max_n + 1] - kept_windows[at] == size - max_n + 1
        for b, L, hl, hr, ok in zip(at.tolist(), size.tolist(), has_left.tolist(), has_right.tolist(),
                                    back_ok.tolist()):
            word = text[b : b + L]
            contexts[(word, text[b - 1] if hl else "", text[b + L] if hr else "")] += 1
            if ok:
                long[word] += 1
    return CutCounts(pieces, long, left, right, contexts)


def merge_cuts(a: CutCounts, b: CutCounts) -> CutCounts:
    """Sum of two pass-2 results (associative, commutative)."""
    pieces = {L: ng.merge_tables(a.pieces[L], b.pieces[L]) for L in a.pieces}
    long = Counter(a.long)
    long.update(b.long)
    contexts = Counter(a.contexts)
    contexts.update(b.contexts)
    return CutCounts(
        pieces, long, ng.merge_tables(a.left, b.left), ng.merge_tables(a.right, b.right), contexts
    )


def entropy_of(counts: np.ndarray, boundary: np.ndarray, groups: np.ndarray, n_groups: int) -> np.ndarray:
    """Entropy per group from neighbour counts (``boundary`` marks clause-boundary rows,
    each of whose occurrences is a distinct neighbour), natural log:
    ``H = −Σ p log p = Σ (c/T) log(T/c)`` over the neighbours (a boundary row of count c
    adds ``(c/T) log T``), T the group's total.

    Summed as non-negative terms, so a word with one neighbour gets exactly 0 (the
    form ``log T − Σ c log c / T`` left 4e-16 there).
    """
    c = counts.astype(np.float64)
    total = np.bincount(groups, weights=c, minlength=n_groups)
    t = total[groups]
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(t > 0, c / t, 0.0)
        term = share * np.log(np.where(boundary, t, t / np.maximum(c, 1.0)))
    return np.bincount(groups, weights=np.where(t > 0, term, 0.0), minlength=n_groups)


def _table_entropy(table: ng.Table, n_slots: int) -> np.ndarray:
    keys, counts = table
    slot = (keys >> np.uint64(_NB_BITS)).astype(np.intp)
    boundary = (keys & np.uint64((1 << _NB_BITS) - 1)) == _BOUNDARY
    return entropy_of(counts, boundary, slot, n_slots)


def _long_entropies(words: List[str], contexts: Counter, max_n: int) -> Tuple[List[float], List[float]]:
    """Left/right entropy of words longer than max_n from the contexts of long pieces."""
    index = {w: i for i, w in enumerate(words)}
    lengths = sorted({len(w) for w in words})
    left = [Counter() for _ in words]
    right = [Counter() for _ in words]
    boundary_left = [0] * len(words)
    boundary_right = [0] * len(words)
    for (piece, lc, rc), c in contexts.items():
        for L in lengths:
            if L > len(piece):
                break
            for o in range(len(piece) - L + 1):
                i = index.get(piece[o : o + L])
                if i is None:
                    continue
                nb = piece[o - 1] if o > 0 else lc
                if nb:
                    left[i][nb] += c
                else:
                    boundary_left[i] += c
                nb = piece[o + L] if o + L < len(piece) else rc
                if nb:
                    right[i][nb] += c
                else:
                    boundary_right[i] += c

    def one(counter: Counter, boundary: int) -> float:
        c = np.array(sorted(counter.values()) + [1] * boundary, dtype=np.int64)
        flags = np.zeros(c.size, dtype=bool)
        flags[len(counter):] = True
        return float(entropy_of(c, flags, np.zeros(c.size, dtype=np.intp), 1)[0])

    return (
        [one(left[i], boundary_left[i]) for i in range(len(words))],
        [one(right[i], boundary_right[i]) for i in range(len(words))],
    )


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
    """Discover words in a corpus read as batches of documents (two passes).

    ``batches()`` must give the same batches each time it is called (e.g.
    ``corpus.batches``). ``known(word)`` True drops the word (``--new-only``). Partial
    n-gram tables beyond ``max_table_bytes`` per process spill to a temporary folder
    (inside ``spill_dir`` if given).
    """
    workers = pool.resolve_workers(workers)
    tmp = tempfile.mkdtemp(prefix="textkit-discover-", dir=spill_dir)
    try:
        return _discover(_bounded(batches), options, workers, known, ng.SpillPolicy(tmp, max_table_bytes))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _bounded(batches: Callable[[], Iterable[Sequence[str]]]) -> Callable[[], Iterable[Sequence[str]]]:
    """``batches`` with documents longer than :data:`BATCH_CHARS` cut between clauses
    (:func:`textkit.ngrams.split_long`) and their pieces batched anew, so that a batch's
    memory stays bounded for a single long line; every count is unchanged."""

    def bounded():
        for batch in batches():
            if all(len(doc) <= BATCH_CHARS for doc in batch):
                yield batch
            else:
                yield from _pack(piece for doc in batch for piece in ng.split_long(doc, BATCH_CHARS))

    return bounded


def _pack(docs: Iterable[str]) -> Iterator[List[str]]:
    """Consecutive documents in batches of at most :data:`BATCH_CHARS` characters (one longer
    document is a batch of its own)."""
    batch: List[str] = []
    size = 0
    for doc in docs:
        if batch and size + len(doc) > BATCH_CHARS:
            yield batch
            batch, size = [], 0
        batch.append(doc)
        size += len(doc) + 1
    if batch:
        yield batch


def _warn_once(corpus) -> Callable[[], Iterable[Sequence[str]]]:
    """``corpus.batches`` for the first pass, then :meth:`Corpus.again`'s (no repeated warnings)."""
    passes = iter([corpus.batches])
    again = corpus.again()
    return lambda: next(passes, again.batches)()


def discover_corpus(corpus, options: DiscoverOptions = DiscoverOptions(), **kw) -> DiscoveryResult:
    """:func:`discover` over a :class:`~textkit.corpus.Corpus`.

    Discovery reads its input twice; standard input, a pipe (``<(cmd)``, a named pipe,
    ``/dev/stdin``) or any other file that is not a regular file can be read once, so
    a corpus that includes one is first copied, document by document, to a temporary
    file (one document per line; a newline, carriage return or NUL inside a JSON field
    becomes a line break, which is a clause boundary either way, so the result is
    unchanged, and the copy is never taken for a binary file).
    """
    from .corpus import STDIN, Corpus, check_corpus
    from .output import is_special_file

    check_corpus(corpus, "discover_corpus", "for a list of texts: discover_documents")
    # directories and globs yield regular files only: the sources tell, without resolving them
    if not any(src == STDIN or is_special_file(src) for src in corpus.sources):
        return discover(_warn_once(corpus), options, **kw)
    with tempfile.TemporaryDirectory(prefix="textkit-input-", dir=kw.get("spill_dir")) as tmp:
        path = f"{tmp}/input.txt"
        with open(path, "w", encoding="utf-8") as fh:
            for doc in corpus.documents():
                fh.write(doc.replace("\r", "\n").replace("\0", "\n"))
                fh.write("\n")
        return discover(Corpus([path]).batches, options, **kw)


def discover_documents(docs: Sequence[str], options: DiscoverOptions = DiscoverOptions(), **kw) -> DiscoveryResult:
    """:func:`discover` over an in-memory list of documents (batches of about 1 M characters).

    Discovery reads its input twice, so an iterator (a generator) is first taken
    into a list. One string is not a list of documents (it would be one per character):
    a ``TypeError``.
    """
    if isinstance(docs, (str, bytes)):
        raise TypeError("discover_documents takes a list of texts; for one text, pass [text]")
    if iter(docs) is docs:
        docs = list(docs)
    return discover(lambda: _pack(docs), options, **kw)


def _discover(batches, options: DiscoverOptions, workers: int, known, spill: ng.SpillPolicy) -> DiscoveryResult:
    max_n = options.max_n
    counts = pool.map_reduce(
        _count_task, ng.merge_counts, ((b, max_n, spill) for b in batches()), workers=workers
    )
    total = counts.total if counts is not None else 0
    if total == 0 or not ng.han_count(counts.unigrams, counts.vocab):
        log.warning("the input holds no Han characters; no words to discover (empty output)")
        return DiscoveryResult([], total, options.min_count or default_min_count(total))
    min_count = options.min_count if options.min_count is not None else default_min_count(total)
    log.info(
        "%s clause characters, %s distinct; min_count %d",
        f"{total:,}", f"{int(np.count_nonzero(counts.unigrams)):,}", min_count,
    )
    tables = ng.finish_counts(counts, min_count)
    unigrams, vocab = counts.unigrams, counts.vocab
    del counts
    cohesion = cohesion_tables(tables, unigrams, total)
    kept_keys, kept_coh = {}, {}
    for n, thr in zip(range(2, max_n + 1), options.thresholds()):
        ok = cohesion[n] >= thr
        kept_keys[n] = tables[n][0][ok]
        kept_coh[n] = cohesion[n][ok]
    del tables, cohesion
    with_chars = options.min_len <= 1
    offsets, n_slots = {}, 0
    if with_chars:
        offsets[1], n_slots = 0, vocab.size
    for n in range(2, max_n + 1):
        offsets[n] = n_slots
        n_slots += kept_keys[n].size
    state = {
        "max_n": max_n,
        "vocab": vocab,
        "kept": {n: ng.KeySet(k) for n, k in kept_keys.items()},
        "offsets": offsets,
        "with_chars": with_chars,
    }
    cut = pool.map_reduce(
        _cut_task, merge_cuts, batches(), workers=workers, initializer=_set_state, initargs=(state,)
    )
    words, n_known = _words(cut, min_count, vocab, kept_keys, kept_coh, offsets, n_slots, max_n, options, known)
    words.sort(key=lambda w: (-w.count, w.word))
    passed = len(words)
    if options.min_entropy is not None:
        words = [w for w in words if min(w.left_entropy, w.right_entropy) >= options.min_entropy]
    if options.top is not None:
        words = words[: options.top]
    if not words:
        if passed:
            why = f"none of the {passed} words that pass them reaches min_entropy {options.min_entropy:g}"
        elif n_known:
            why = f"the dictionary already holds all {n_known} words that pass them (new words only)"
        else:
            why = "no word passes them"
        log.warning("min_count %d and the cohesion thresholds: %s; the output is empty", min_count, why)
    return DiscoveryResult(words, total, min_count)


def _words(cut, min_count, vocab, kept_keys, kept_coh, offsets, n_slots, max_n, options,
           known) -> Tuple[List[Word], int]:
    """The output words (count ≥ min_count, min_len, not known) with their statistics,
    and the number of words dropped as known."""
    if cut is None:
        return [], 0
    n_known = 0
    h_left = _table_entropy(cut.left, n_slots)
    h_right = _table_entropy(cut.right, n_slots)
    out: List[Word] = []
    for L, (keys, counts) in cut.pieces.items():
        if L < options.min_len:
            continue
        sel = counts >= min_count
        keys, counts = keys[sel], counts[sel]
        if L == 1:
            coh = np.full(keys.size, np.inf)
            slot = keys.astype(np.intp) + offsets[1]
        else:
            pos = np.searchsorted(kept_keys[L], keys)
            coh = kept_coh[L][pos]
            slot = pos + offsets[L]
        for k, c, h, hl, hr in zip(keys.tolist(), counts.tolist(), coh.tolist(),
                                   h_left[slot].tolist(), h_right[slot].tolist()):
            word = vocab.word(k, L)
            if known is None or not known(word):
                out.append(Word(word, c, h, hl, hr))
            else:
                n_known += 1
    long_words = []
    for word, c in cut.long.items():
        if c >= min_count and len(word) >= options.min_len:
            if known is not None and known(word):
                n_known += 1
                continue
            keys = np.array([vocab.key(word[i : i + max_n]) for i in range(len(word) - max_n + 1)],
                            dtype=np.uint64)
            coh = float(kept_coh[max_n][np.searchsorted(kept_keys[max_n], keys)].min())
            long_words.append((word, c, coh))
    if long_words:
        hl, hr = _long_entropies([w for w, _, _ in long_words], cut.contexts, max_n)
        out.extend(Word(w, c, coh, l, r) for (w, c, coh), l, r in zip(long_words, hl, hr))
    return out, n_known


def write_user_dict(handle, words: Iterable[Word], name: str = "the user dictionary") -> int:
    """Write words in jieba's user-dictionary format, ``word frequency`` per line; the count.

    The frequency is the word's count, raised where jieba needs more to keep the
    word whole rather than cut it into its pieces (:meth:`Tokenizer.joining_frequency`):
    so ``count --user-dict`` counts the new words.

    jieba's accurate mode cuts text into runs of U+4E00–U+9FD5, ASCII letters,
    digits and ``+#&._%-`` before it looks words up, so a word holding another
    character (CJK Extension A, U+9FD6 and later, full-width letters) is split
    whatever the dictionary says: such words are written too, with a warning that
    they will not join in ``count --user-dict``.
    """
    from .tokenize import HAN_PIECE, TokenizerSpec, get_tokenizer

    jieba = get_tokenizer(TokenizerSpec(kind="jieba"))
    n = 0
    apart = []
    for w in words:
        handle.write(f"{w.word} {max(w.count, jieba.joining_frequency(w.word))}\n")
        n += 1
        if HAN_PIECE.fullmatch(w.word) is None:
            apart.append(w.word)
    if apart:
        log.warning(
            "%s: %d word%s (e.g. %r) hold characters that jieba splits apart before its dictionary "
            "lookup (Han outside U+4E00–U+9FD5, full-width letters): as a jieba user dictionary they "
            "do not join", name, len(apart), "s" if len(apart) != 1 else "", apart[0],
        )
    return n


__all__ = [
    "COLUMNS",
    "DiscoverOptions",
    "DiscoveryResult",
    "Word",
    "default_min_count",
    "discover",
    "discover_corpus",
    "discover_documents",
    "write_user_dict",
]
