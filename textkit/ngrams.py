"""Exact character n-gram counts with numpy: clause encoding, packed keys, mergeable tables.

Clauses
-------
A *clause character* is a Han character (U+3007 〇, U+3400–U+4DBF, U+4E00–U+9FFF,
U+F900–U+FAFF, U+20000–U+2FA1F, U+30000–U+323AF), a Latin letter (A–Z, a–z and their
full-width forms U+FF21–U+FF3A, U+FF41–U+FF5A) or a digit (0–9, U+FF10–U+FF19). Every run
of other characters (punctuation, spaces, symbols, line ends) separates clauses. A batch
of documents is joined with ``"\\n"`` (never a clause character), turned into code points
(UTF-32) and reduced to :class:`Clauses`: the clause characters in order plus a flag where
each clause begins.

Counts are true substring counts: an n-gram is counted once at every position where it
lies wholly inside one clause. Nothing is padded (KenLM's ``count_ngrams``, used by the
original script, adds sentence-boundary tokens and so counts windows that are not
substrings of the text).

Keys
----
Every clause character has an *id* below 2^16. The 28,221 clause characters of the Basic
Multilingual Plane have fixed ids (their rank by code point among those characters), so
partial results of different batches share one id space and merge without rewriting.
Supplementary-plane characters (CJK Extension B and later) get the ids after those, in
code point order among the ones seen (a :class:`Vocabulary`); merging two partials that
saw different ones rewrites their keys through a monotone map. An n-gram is packed into
one ``uint64`` key, 16 bits per character, the first character most significant::

    key(c_1 … c_n) = Σ_j id(c_j) · 2^(16·(n−j))

Keys of one length compare like their id tuples, so a monotone change of ids keeps a
table sorted. Limits: ``max_n ≤ 4`` (4 × 16 bits) and at most 65,536 − 28,221 distinct
supplementary-plane characters (a :class:`~textkit.errors.TextkitError` beyond that).

Membership of many keys in a fixed set (the kept n-grams, the output words) goes through
:class:`KeySet`, an open-addressing hash table in numpy arrays (exact: a hit compares the
stored key).

Tables and memory
-----------------
A table of length-n counts is a pair ``(keys, counts)``: sorted unique ``uint64`` keys and
their ``int64`` counts, 16 bytes per distinct n-gram. :func:`count_batch` builds the
tables of one batch (transient memory about ``12 · max_n`` bytes per character of the
batch); :func:`merge_counts` adds two partial results. When the tables of a partial
result exceed ``SpillPolicy.max_bytes`` they are written, sorted, to ``.npy`` files in
``SpillPolicy.directory`` (a *run*) and the partial keeps only the file names;
:func:`finish_counts` merges the runs chunk by chunk (memory ``O(runs × chunk)``) and keeps
only the n-grams with ``count ≥ min_count``. So memory is bounded by the spill budget per
process plus the n-grams that survive ``min_count``; the result is exact either way. A
partial result pickled with more than 8 MiB of tables (a pool worker handing its tables
to the parent) writes them to the spill folder and is unpickled memory-mapped, instead of
copying them through a pipe.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from .archive import write_npy
from .errors import TextkitError

BITS = 16
MASK = (1 << BITS) - 1
MAX_N = 64 // BITS
MAX_VOCAB = 1 << BITS

# (first, last) code points of clause characters, inclusive.
CLAUSE_RANGES: Tuple[Tuple[int, int], ...] = (
    (0x30, 0x39),
    (0x41, 0x5A),
    (0x61, 0x7A),
    (0x3007, 0x3007),
    (0x3400, 0x4DBF),
    (0x4E00, 0x9FFF),
    (0xF900, 0xFAFF),
    (0xFF10, 0xFF19),
    (0xFF21, 0xFF3A),
    (0xFF41, 0xFF5A),
    (0x20000, 0x2FA1F),
    (0x30000, 0x323AF),
)

Table = Tuple[np.ndarray, np.ndarray]  # (sorted unique uint64 keys, int64 counts)

_CLAUSE_LUT: Optional[np.ndarray] = None


def _clause_lut() -> np.ndarray:
    """Boolean lookup over all code points: True for clause characters (built once)."""
    global _CLAUSE_LUT
    if _CLAUSE_LUT is None:
        lut = np.zeros(0x110000, dtype=bool)
        for lo, hi in CLAUSE_RANGES:
            lut[lo : hi + 1] = True
        _CLAUSE_LUT = lut
    return _CLAUSE_LUT


def split_long(text: str, limit: int) -> List[str]:
    """``text`` in pieces of at most about ``limit`` characters, cut only just after a separator.

    A separator is any character that is not a clause character, so every clause
    lies whole in one piece and the pieces hold exactly the clauses of ``text``
    (documents are joined with a separator anyway): counts are unchanged. A
    clause longer than ``limit`` is not cut; its piece runs to the next separator.
    """
    if len(text) <= limit:
        return [text]
    lut = _clause_lut()
    pieces: List[str] = []
    start, n = 0, len(text)
    while n - start > limit:
        window = np.frombuffer(text[start : start + limit].encode("utf-32-le", "surrogatepass"), dtype="<u4")
        separators = np.flatnonzero(~lut[window])
        if separators.size:
            cut = start + int(separators[-1]) + 1
        else:  # one clause fills the window: cut after the next separator, if any
            cut = start + limit
            while cut < n:
                ahead = np.frombuffer(text[cut : cut + limit].encode("utf-32-le", "surrogatepass"), dtype="<u4")
                separators = np.flatnonzero(~lut[ahead])
                if separators.size:
                    cut += int(separators[0]) + 1
                    break
                cut += ahead.size
            if cut >= n:
                break
        pieces.append(text[start:cut])
        start = cut
    pieces.append(text[start:])
    return pieces


def empty_table() -> Table:
    return np.empty(0, dtype=np.uint64), np.empty(0, dtype=np.int64)


@dataclass
class Clauses:
    """The clause characters of a batch: ``codes`` (uint32 code points, in text order) and
    ``starts`` (bool, True where a clause begins). ``remaining[k]`` is the number of clause
    characters from position k to the end of its clause (≥ 1)."""

    codes: np.ndarray
    starts: np.ndarray
    remaining: np.ndarray

    def __len__(self) -> int:
        return int(self.codes.size)

    def text(self, begin: int, length: int) -> str:
        """The string of ``length`` clause characters from position ``begin``."""
        return self.codes[begin : begin + length].tobytes().decode("utf-32-le")


def encode(docs: Sequence[str]) -> Clauses:
    """Split documents into clauses (see the module docstring) as numpy arrays."""
    text = "\n".join(docs)
    raw = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype="<u4")
    mask = _clause_lut()[raw]
    where = np.flatnonzero(mask)
    codes = raw[where].astype(np.uint32)
    m = codes.size
    starts = np.ones(m, dtype=bool)
    if m > 1:
        np.not_equal(np.diff(where), 1, out=starts[1:])
    begin = np.flatnonzero(starts)
    end = np.append(begin[1:], m)
    clause_of = np.cumsum(starts) - 1
    remaining = (end[clause_of] - np.arange(m)).astype(np.int64)
    return Clauses(codes=codes, starts=starts, remaining=remaining)


def ngram_keys(ids: np.ndarray, n: int) -> np.ndarray:
    """Keys of all n-character windows of ``ids`` (position k -> window k..k+n-1), not
    checked against clause ends; length ``len(ids) - n + 1`` (0 if shorter)."""
    m = ids.size - n + 1
    if m <= 0:
        return np.empty(0, dtype=np.uint64)
    key = ids[:m].astype(np.uint64)
    for j in range(1, n):
        key <<= np.uint64(BITS)
        key |= ids[j : j + m].astype(np.uint64)
    return key


def window_keys(ids: np.ndarray, remaining: np.ndarray, max_n: int) -> List[Tuple[np.ndarray, np.ndarray]]:
    """For n = 1..max_n: (keys of every window, bool mask of windows inside one clause)."""
    out = []
    for n in range(1, max_n + 1):
        keys = ngram_keys(ids, n)
        out.append((keys, remaining[: keys.size] >= n))
    return out


def sort_count(keys: np.ndarray) -> Table:
    """Distinct keys (sorted) and how often each occurs."""
    if keys.size == 0:
        return empty_table()
    keys = np.sort(keys)
    first = np.empty(keys.size, dtype=bool)
    first[0] = True
    np.not_equal(keys[1:], keys[:-1], out=first[1:])
    idx = np.flatnonzero(first)
    counts = np.diff(np.append(idx, keys.size)).astype(np.int64)
    return keys[idx], counts


def merge_tables(a: Table, b: Table) -> Table:
    """Sum of two count tables (both sorted unique): the smaller is located in the larger
    with a binary search of its (sorted) keys, then both are written into the result in
    one pass; linear in the larger plus m·log for the smaller."""
    if a[0].size < b[0].size:
        a, b = b, a
    ka, ca = a
    kb, cb = b
    if kb.size == 0:
        return ka, ca
    pos = np.searchsorted(ka, kb)
    hit = pos < ka.size
    hit[hit] = ka[pos[hit]] == kb[hit]
    miss = ~hit
    n_new = int(np.count_nonzero(miss))
    if n_new == 0:
        counts = ca.copy()
        counts[pos] += cb
        return ka, counts
    # destination of each new key: its insertion point plus the new keys before it
    dest_new = pos[miss] + np.arange(n_new)
    old_slot = np.ones(ka.size + n_new, dtype=bool)
    old_slot[dest_new] = False
    dest_old = np.flatnonzero(old_slot)
    keys = np.empty(ka.size + n_new, dtype=np.uint64)
    counts = np.empty(ka.size + n_new, dtype=np.int64)
    keys[dest_old] = ka
    counts[dest_old] = ca
    keys[dest_new] = kb[miss]
    counts[dest_new] = cb[miss]
    counts[dest_old[pos[hit]]] += cb[hit]
    return keys, counts


def lookup(table: Table, keys: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """(found mask, counts with 0 where not found) of ``keys`` in ``table``."""
    tk, tc = table
    if tk.size == 0:
        return np.zeros(keys.size, dtype=bool), np.zeros(keys.size, dtype=np.int64)
    pos = np.searchsorted(tk, keys)
    np.minimum(pos, tk.size - 1, out=pos)
    found = tk[pos] == keys
    return found, np.where(found, tc[pos], 0)


def remap_keys(keys: np.ndarray, n: int, id_map: np.ndarray) -> np.ndarray:
    """Keys of length-n grams rewritten through ``id_map`` (old id -> new id), a monotone map."""
    out = np.zeros(keys.size, dtype=np.uint64)
    for j in range(n):
        shift = np.uint64(BITS * (n - 1 - j))
        old = ((keys >> shift) & np.uint64(MASK)).astype(np.intp)
        out |= id_map[old] << shift
    return out


_STATIC: Optional[Tuple[np.ndarray, np.ndarray]] = None


def _static_ids() -> Tuple[np.ndarray, np.ndarray]:
    """(code points of the BMP clause characters in id order, lookup code point -> id + 1)."""
    global _STATIC
    if _STATIC is None:
        bmp = np.flatnonzero(_clause_lut()[:0x10000]).astype(np.uint32)
        lut = np.zeros(0x10000, dtype=np.int64)
        lut[bmp] = np.arange(1, bmp.size + 1)
        _STATIC = (bmp, lut)
    return _STATIC


# number of BMP clause characters (28,221 with the ranges above)
BMP_IDS = sum(hi - lo + 1 for lo, hi in CLAUSE_RANGES if hi < 0x10000)


class Vocabulary:
    """Ids of clause characters: fixed for the BMP, then ``extra`` (sorted supplementary code
    points) from :data:`BMP_IDS` on."""

    def __init__(self, extra: Optional[np.ndarray] = None):
        self.extra = np.asarray(extra if extra is not None else (), dtype=np.uint32)
        if BMP_IDS + self.extra.size > MAX_VOCAB:
            raise TextkitError(
                f"the corpus holds {self.extra.size:,} distinct supplementary-plane characters; "
                f"n-gram keys allow at most {MAX_VOCAB - BMP_IDS:,}"
            )

    @property
    def size(self) -> int:
        return BMP_IDS + int(self.extra.size)

    def chars(self) -> np.ndarray:
        """Code point of every id."""
        return np.concatenate([_static_ids()[0], self.extra])

    def ids(self, codes: np.ndarray) -> np.ndarray:
        """Ids (int64) of clause-character code points; TextkitError for one not in the vocabulary."""
        lut = _static_ids()[1]
        ids = np.empty(codes.size, dtype=np.int64)
        bmp = codes < 0x10000
        if bmp.all():
            return lut[codes.astype(np.intp)] - 1
        ids[bmp] = lut[codes[bmp].astype(np.intp)] - 1
        sup = codes[~bmp]
        pos = np.searchsorted(self.extra, sup)
        if self.extra.size == 0 or not np.array_equal(self.extra[np.minimum(pos, self.extra.size - 1)], sup):
            raise TextkitError(
                "the input changed between two passes (a character is new); discover reads its "
                "input several times, so give files, not a pipe that changes"
            )
        ids[~bmp] = BMP_IDS + pos
        return ids

    def id_map_from(self, other: Vocabulary) -> Optional[np.ndarray]:
        """Monotone map of ``other``'s ids into this vocabulary (a superset); None if identical."""
        if np.array_equal(other.extra, self.extra):
            return None
        return np.concatenate(
            [np.arange(BMP_IDS, dtype=np.uint64),
             (BMP_IDS + np.searchsorted(self.extra, other.extra)).astype(np.uint64)]
        )

    def union(self, other: Vocabulary) -> Vocabulary:
        if np.array_equal(other.extra, self.extra):
            return self
        return Vocabulary(np.union1d(self.extra, other.extra))

    def key(self, word: str) -> Optional[int]:
        """Packed key of ``word`` (≤ 4 characters); None if a character is not a clause
        character in this vocabulary."""
        codes = np.array([ord(ch) for ch in word], dtype=np.uint32)
        if not _clause_lut()[codes].all():
            return None
        try:
            ids = self.ids(codes)
        except TextkitError:
            return None
        key = 0
        for i in ids.tolist():
            key = (key << BITS) | i
        return key

    def word(self, key: int, n: int) -> str:
        """The string of one packed key of length n."""
        chars = self._chars_cache()
        return "".join(chr(int(chars[(key >> (BITS * (n - 1 - j))) & MASK])) for j in range(n))

    def _chars_cache(self) -> np.ndarray:
        cached = getattr(self, "_chars", None)
        if cached is None:
            cached = self._chars = self.chars()
        return cached

    def __getstate__(self):
        return {"extra": self.extra}

    def __setstate__(self, state):
        self.extra = state["extra"]


def han_count(unigrams: np.ndarray, vocab: Vocabulary) -> int:
    """How many of the counted characters are Han (not Latin letters or digits)."""
    chars = vocab.chars()
    latin_or_digit = (chars < 0x3000) | ((chars >= 0xFF10) & (chars <= 0xFF5A))
    return int(unigrams[~latin_or_digit].sum())


class KeySet:
    """A fixed set of uint64 keys with fast exact lookup of many keys at once.

    Open addressing with linear probing in numpy arrays of 4–8 slots per key (hash:
    Fibonacci multiplication, top bits). Each slot holds a key and its position in
    ``self.keys`` (-1 when empty); a probe compares the stored key, so hits are exact.
    """

    _MULT = np.uint64(0x9E3779B97F4A7C15)

    def __init__(self, keys: np.ndarray):
        self.keys = np.asarray(keys, dtype=np.uint64)
        bits = max(8, int(self.keys.size * 4).bit_length())
        self._shift = np.uint64(64 - bits)
        self._mask = (1 << bits) - 1
        where = np.full(1 << bits, -1, dtype=np.int64)
        pending = np.arange(self.keys.size)
        home = self._hash(self.keys)
        while pending.size:
            h = home[pending]
            free = where[h] < 0
            where[h[free]] = pending[free]  # among equal slots one write wins
            placed = where[h] == pending
            pending = pending[~placed]
            home[pending] = (home[pending] + 1) & self._mask
        self._where = where
        self._slot_keys = self.keys[np.maximum(where, 0)] if self.keys.size else np.zeros(where.size, np.uint64)

    def _hash(self, keys: np.ndarray) -> np.ndarray:
        return ((keys * self._MULT) >> self._shift).view(np.int64)

    def __len__(self) -> int:
        return int(self.keys.size)

    def index(self, keys: np.ndarray) -> np.ndarray:
        """Position of each key in ``self.keys``, -1 when absent."""
        if self.keys.size == 0 or keys.size == 0:
            return np.full(keys.size, -1, dtype=np.int64)
        h = self._hash(keys)
        where = self._where[h]
        # the first probe on whole arrays resolves most keys: a hit or an empty slot
        used = where >= 0
        hit = used & (self._slot_keys[h] == keys)
        out = np.where(hit, where, -1)
        todo = np.flatnonzero(used & ~hit)
        h = h[todo]
        while todo.size:
            h = (h + 1) & self._mask
            where = self._where[h]
            used = where >= 0
            hit = used & (self._slot_keys[h] == keys[todo])
            out[todo[hit]] = where[hit]
            more = used & ~hit
            todo, h = todo[more], h[more]
        return out

    def contains(self, keys: np.ndarray) -> np.ndarray:
        return self.index(keys) >= 0


# -- partial n-gram counts ------------------------------------------------------------


@dataclass(frozen=True)
class SpillPolicy:
    """Where and when partial tables go to disk: ``directory`` None never spills."""

    directory: Optional[str] = None
    max_bytes: int = 1 << 30


@dataclass
class Run:
    """A spilled partial table set: its vocabulary and one (keys, counts) .npy pair per n."""

    vocab: Vocabulary
    files: Dict[int, Tuple[str, str]]


@dataclass
class NgramCounts:
    """Partial n-gram counts of some batches (the result of :func:`count_batch`, merged).

    ``vocab``: the id space; ``unigrams[id]``: count of each character (length
    ``vocab.size``); ``tables[n]`` for n = 2..max_n: counts of length-n grams; ``runs``:
    spilled tables (each over its own vocabulary).
    """

    max_n: int
    vocab: Vocabulary
    unigrams: np.ndarray
    tables: Dict[int, Table]
    runs: List[Run] = field(default_factory=list)
    spill: SpillPolicy = SpillPolicy()

    @property
    def total(self) -> int:
        """N: the number of clause characters counted."""
        return int(self.unigrams.sum())

    def nbytes(self) -> int:
        return sum(k.nbytes + c.nbytes for k, c in self.tables.values())

    # Pickling (a worker handing its partial to the parent): large tables travel as .npy
    # files in the spill folder, opened memory-mapped on the other side, instead of being
    # copied through a pipe.
    def __getstate__(self):
        state = dict(self.__dict__)
        if self.spill.directory is not None and self.nbytes() > SHIP_BYTES:
            state["tables"] = _write_run(self).files
            state["_shipped"] = True
        return state

    def __setstate__(self, state):
        if state.pop("_shipped", False):
            state["tables"] = {
                n: (np.load(kp, mmap_mode="r"), np.load(cp, mmap_mode="r"))
                for n, (kp, cp) in state["tables"].items()
            }
        self.__dict__.update(state)


SHIP_BYTES = 8 << 20


def count_batch(docs: Sequence[str], max_n: int, spill: SpillPolicy = SpillPolicy()) -> NgramCounts:
    """Counts of every n-gram (n = 1..max_n) inside the clauses of ``docs``."""
    if not 1 <= max_n <= MAX_N:
        raise ValueError(f"max_n must be 1..{MAX_N}")
    clauses = encode(docs)
    sup = clauses.codes[clauses.codes >= 0x10000]
    vocab = Vocabulary(np.unique(sup) if sup.size else np.empty(0, dtype=np.uint32))
    ids = vocab.ids(clauses.codes)
    unigrams = np.bincount(ids, minlength=vocab.size).astype(np.int64)
    tables: Dict[int, Table] = {}
    for n in range(2, max_n + 1):
        keys = ngram_keys(ids, n)
        tables[n] = sort_count(keys[clauses.remaining[: keys.size] >= n])
    return NgramCounts(max_n=max_n, vocab=vocab, unigrams=unigrams, tables=tables, spill=spill)


def _rewrite(part: NgramCounts, vocab: Vocabulary) -> Tuple[np.ndarray, Dict[int, Table]]:
    """Unigrams and tables of ``part`` over the (super-)vocabulary ``vocab``."""
    id_map = vocab.id_map_from(part.vocab)
    if id_map is None:
        return part.unigrams, part.tables
    uni = np.zeros(vocab.size, dtype=np.int64)
    uni[id_map.astype(np.intp)] = part.unigrams
    return uni, {n: (remap_keys(k, n, id_map), c) for n, (k, c) in part.tables.items()}


def merge_counts(a: NgramCounts, b: NgramCounts) -> NgramCounts:
    """Sum of two partial counts (associative and commutative; spills past the budget)."""
    if a.max_n != b.max_n:
        raise ValueError("cannot merge counts with different max_n")
    vocab = a.vocab.union(b.vocab)
    ua, ta = _rewrite(a, vocab)
    ub, tb = _rewrite(b, vocab)
    tables = {n: merge_tables(ta[n], tb[n]) for n in ta}
    out = NgramCounts(a.max_n, vocab, ua + ub, tables, a.runs + b.runs, a.spill)
    if out.spill.directory is not None and out.nbytes() > out.spill.max_bytes:
        out.runs.append(_write_run(out))
        out.tables = {n: empty_table() for n in out.tables}
    return out


def _write_run(part: NgramCounts) -> Run:
    """Write the tables of ``part`` to the spill folder; a full disk is an error naming the folder."""
    stem = os.path.join(part.spill.directory, f"run-{os.getpid()}-{uuid.uuid4().hex}")
    files = {}
    try:
        for n, (keys, counts) in part.tables.items():
            kp, cp = f"{stem}.{n}.keys.npy", f"{stem}.{n}.counts.npy"
            write_npy(kp, keys)
            write_npy(cp, counts)
            files[n] = (kp, cp)
    except OSError as exc:  # a write error without an errno (numpy: "N requested and M written")
        why = exc.strerror or f"{exc}: is the disk full?"
        raise TextkitError(
            f"{part.spill.directory}: cannot write temporary n-gram tables ({why}); free space there, "
            "set TMPDIR to a roomier folder or give --table-memory more"
        ) from None
    return Run(vocab=part.vocab, files=files)


def finish_counts(part: NgramCounts, min_count: int, chunk: int = 1 << 20) -> Dict[int, Table]:
    """Final tables over ``part.vocab``, n = 2..max_n, keeping only counts ≥ ``min_count``.

    In-memory tables and spilled runs are merged in key order, ``chunk`` keys per run at a
    time: each round takes, from every source, the keys up to the smallest of the sources'
    chunk-end keys, so every key's occurrences meet in one round and its total is exact.
    """
    result: Dict[int, Table] = {}
    for n in range(2, part.max_n + 1):
        keys, counts = part.tables[n]
        if not part.runs:
            keep = counts >= min_count
            result[n] = (keys[keep], counts[keep])
            continue
        sources = [_Source(keys, counts, None)]
        for run in part.runs:
            kp, cp = run.files[n]
            id_map = part.vocab.id_map_from(run.vocab)
            remap = None if id_map is None else (n, id_map)
            sources.append(_Source(np.load(kp, mmap_mode="r"), np.load(cp, mmap_mode="r"), remap))
        result[n] = _merge_sources(sources, min_count, chunk)
    return result


class _Source:
    """A sorted table (possibly memory-mapped, possibly over another vocabulary) read in order."""

    def __init__(self, keys, counts, remap):
        self.keys, self.counts, self.remap, self.pos = keys, counts, remap, 0

    def done(self) -> bool:
        return self.pos >= self.keys.shape[0]

    def peek(self, chunk: int) -> Tuple[np.ndarray, np.ndarray]:
        end = min(self.pos + chunk, self.keys.shape[0])
        keys = np.asarray(self.keys[self.pos : end], dtype=np.uint64)
        if self.remap is not None:
            keys = remap_keys(keys, *self.remap)
        return keys, np.asarray(self.counts[self.pos : end], dtype=np.int64)


def _merge_sources(sources: List[_Source], min_count: int, chunk: int) -> Table:
    out_k, out_c = [], []
    while True:
        live = [s for s in sources if not s.done()]
        if not live:
            break
        peeks = [s.peek(chunk) for s in live]
        bound = min(k[-1] for k, _ in peeks)
        parts_k, parts_c = [], []
        for s, (k, c) in zip(live, peeks):
            take = int(np.searchsorted(k, bound, side="right"))
            parts_k.append(k[:take])
            parts_c.append(c[:take])
            s.pos += take
        keys = np.concatenate(parts_k)
        counts = np.concatenate(parts_c)
        order = np.argsort(keys, kind="stable")
        keys, counts = keys[order], counts[order]
        first = np.empty(keys.size, dtype=bool)
        first[0] = True
        np.not_equal(keys[1:], keys[:-1], out=first[1:])
        idx = np.flatnonzero(first)
        sums = np.add.reduceat(counts, idx)
        keep = sums >= min_count
        out_k.append(keys[idx][keep])
        out_c.append(sums[keep])
    if not out_k:
        return empty_table()
    return np.concatenate(out_k), np.concatenate(out_c)
