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
Every distinct clause character gets an *id*: its rank among the code points of a sorted
vocabulary (``uint32`` array). An n-gram is packed into one ``uint64`` key, 16 bits per
character, the first character most significant::

    key(c_1 … c_n) = Σ_j id(c_j) · 2^(16·(n−j))

Keys of one length compare like their id tuples, and a monotone change of vocabulary
(the union of two vocabularies) keeps their order, so merged tables stay sorted. Limits:
``max_n ≤ 4`` (4 × 16 bits) and at most 65,536 distinct clause characters (a
:class:`~textkit.errors.TextkitError` beyond that).

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
process plus the n-grams that survive ``min_count``; the result is exact either way.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

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
    """Sum of two count tables (both sorted unique); linear in the larger plus m·log for the smaller."""
    if a[0].size < b[0].size:
        a, b = b, a
    ka, ca = a
    kb, cb = b
    if kb.size == 0:
        return ka, ca
    pos = np.searchsorted(ka, kb)
    hit = pos < ka.size
    hit[hit] = ka[pos[hit]] == kb[hit]
    counts = ca.copy()
    counts[pos[hit]] += cb[hit]
    miss = ~hit
    if not miss.any():
        return ka, counts
    keys = np.insert(ka, pos[miss], kb[miss])
    counts = np.insert(counts, pos[miss], cb[miss])
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


def contains(sorted_keys: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Bool mask: which ``keys`` are in the sorted array ``sorted_keys``."""
    if sorted_keys.size == 0:
        return np.zeros(keys.size, dtype=bool)
    pos = np.searchsorted(sorted_keys, keys)
    np.minimum(pos, sorted_keys.size - 1, out=pos)
    return sorted_keys[pos] == keys


def remap_keys(keys: np.ndarray, n: int, id_map: np.ndarray) -> np.ndarray:
    """Keys of length-n grams rewritten through ``id_map`` (old id -> new id), a monotone map."""
    out = np.zeros(keys.size, dtype=np.uint64)
    for j in range(n):
        shift = np.uint64(BITS * (n - 1 - j))
        old = ((keys >> shift) & np.uint64(MASK)).astype(np.intp)
        out |= id_map[old] << shift
    return out


def decode_key(key: int, n: int, chars: np.ndarray) -> str:
    """The string of one packed key of length n over vocabulary ``chars``."""
    ids = [(key >> (BITS * (n - 1 - j))) & MASK for j in range(n)]
    return "".join(chr(int(chars[i])) for i in ids)


def encode_word(word: str, char_lut: np.ndarray) -> Optional[int]:
    """Packed key of ``word`` (≤ 4 characters) under a code point -> id+1 lookup; None if a
    character is outside the vocabulary."""
    key = 0
    for ch in word:
        cp = ord(ch)
        if cp >= char_lut.size or char_lut[cp] == 0:
            return None
        key = (key << BITS) | (int(char_lut[cp]) - 1)
    return key


def vocabulary_lut(chars: np.ndarray) -> np.ndarray:
    """Lookup array code point -> id + 1 (0 for characters outside ``chars``)."""
    size = int(chars[-1]) + 1 if chars.size else 1
    lut = np.zeros(size, dtype=np.int64)
    lut[chars.astype(np.intp)] = np.arange(1, chars.size + 1)
    return lut


def ids_of(clauses: Clauses, lut: np.ndarray) -> np.ndarray:
    """Ids (int64) of the clause characters under a lookup from :func:`vocabulary_lut`."""
    codes = clauses.codes.astype(np.intp)
    inside = codes < lut.size
    ids = np.zeros(codes.size, dtype=np.int64)
    ids[inside] = lut[codes[inside]]
    if not ids.all():
        raise TextkitError("the corpus changed between two passes (a character is new); "
                           "discover reads its input several times, so give a file, not a pipe")
    return ids - 1


# -- partial n-gram counts ------------------------------------------------------------


@dataclass(frozen=True)
class SpillPolicy:
    """Where and when partial tables go to disk: ``directory`` None never spills."""

    directory: Optional[str] = None
    max_bytes: int = 1 << 30


@dataclass
class Run:
    """A spilled partial table set: its vocabulary and one (keys, counts) .npy pair per n."""

    chars: np.ndarray
    files: Dict[int, Tuple[str, str]]


@dataclass
class NgramCounts:
    """Partial n-gram counts of some batches (the result of :func:`count_batch`, merged).

    ``chars``: sorted code points seen (the vocabulary); ``unigrams``: their counts;
    ``tables[n]`` for n = 2..max_n: counts of length-n grams keyed over ``chars``;
    ``runs``: spilled tables (each over its own vocabulary).
    """

    max_n: int
    chars: np.ndarray
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


def count_batch(docs: Sequence[str], max_n: int, spill: SpillPolicy = SpillPolicy()) -> NgramCounts:
    """Counts of every n-gram (n = 1..max_n) inside the clauses of ``docs``."""
    if not 1 <= max_n <= MAX_N:
        raise ValueError(f"max_n must be 1..{MAX_N}")
    clauses = encode(docs)
    freq = np.bincount(clauses.codes) if len(clauses) else np.zeros(0, dtype=np.int64)
    chars = np.flatnonzero(freq).astype(np.uint32)
    _check_vocab(chars)
    unigrams = freq[chars].astype(np.int64)
    tables: Dict[int, Table] = {}
    if chars.size:
        lut = vocabulary_lut(chars)
        ids = lut[clauses.codes.astype(np.intp)] - 1
        for n in range(2, max_n + 1):
            keys = ngram_keys(ids, n)
            tables[n] = sort_count(keys[clauses.remaining[: keys.size] >= n])
    for n in range(2, max_n + 1):
        tables.setdefault(n, empty_table())
    return NgramCounts(max_n=max_n, chars=chars, unigrams=unigrams, tables=tables, spill=spill)


def _check_vocab(chars: np.ndarray) -> None:
    if chars.size > MAX_VOCAB:
        raise TextkitError(
            f"the corpus holds {chars.size:,} distinct clause characters; "
            f"n-gram keys allow at most {MAX_VOCAB:,}"
        )


def _to_union(part: NgramCounts, chars: np.ndarray) -> Dict[int, Table]:
    """Tables of ``part`` rewritten over the (super-)vocabulary ``chars``."""
    if part.chars.size == chars.size:
        return part.tables
    id_map = np.searchsorted(chars, part.chars).astype(np.uint64)
    return {n: (remap_keys(k, n, id_map), c) for n, (k, c) in part.tables.items()}


def merge_counts(a: NgramCounts, b: NgramCounts) -> NgramCounts:
    """Sum of two partial counts (associative and commutative; spills past the budget)."""
    if a.max_n != b.max_n:
        raise ValueError("cannot merge counts with different max_n")
    chars = np.union1d(a.chars, b.chars).astype(np.uint32)
    _check_vocab(chars)
    uni = np.zeros(chars.size, dtype=np.int64)
    uni[np.searchsorted(chars, a.chars)] += a.unigrams
    uni[np.searchsorted(chars, b.chars)] += b.unigrams
    ta, tb = _to_union(a, chars), _to_union(b, chars)
    tables = {n: merge_tables(ta[n], tb[n]) for n in ta}
    out = NgramCounts(a.max_n, chars, uni, tables, a.runs + b.runs, a.spill)
    if out.spill.directory is not None and out.nbytes() > out.spill.max_bytes:
        out.runs.append(_write_run(out))
        out.tables = {n: empty_table() for n in out.tables}
    return out


def _write_run(part: NgramCounts) -> Run:
    stem = os.path.join(part.spill.directory, f"run-{os.getpid()}-{uuid.uuid4().hex}")
    files = {}
    for n, (keys, counts) in part.tables.items():
        kp, cp = f"{stem}.{n}.keys.npy", f"{stem}.{n}.counts.npy"
        np.save(kp, keys)
        np.save(cp, counts)
        files[n] = (kp, cp)
    return Run(chars=part.chars.copy(), files=files)


def finish_counts(part: NgramCounts, min_count: int, chunk: int = 1 << 20) -> Dict[int, Table]:
    """Final tables over ``part.chars``, n = 2..max_n, keeping only counts ≥ ``min_count``.

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
            id_map = np.searchsorted(part.chars, run.chars).astype(np.uint64)
            sources.append(_Source(np.load(kp, mmap_mode="r"), np.load(cp, mmap_mode="r"), (n, id_map)))
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
