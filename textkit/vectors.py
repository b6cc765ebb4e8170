"""Word vectors: a vocabulary and a matrix of rows, kept as a memory-mapped store.

A store is a directory of four (int8: five) small files::

    vectors.npy   (n, dim) float32, float16 or int8, little-endian; row i belongs to words[i]
    scales.npy    (n,) float32, int8 stores only: row i is vectors[i] * scales[i]
                  (per-row quantization, see :mod:`textkit.quantized`)
    vocab.txt     n lines of UTF-8, one word per line (words may hold spaces, never "\\n")
    counts.npy    (n,) int64 corpus frequencies; only in stores made by ``vectors train``
    meta.json     {"format": "textkit-vectors", "version": 1, "count": n, "dim": dim,
                   "dtype": "float32", "identity": "...", "counts": bool, "source": {...}}

Opening a store maps ``vectors.npy`` (``np.load(mmap_mode="r")``): no copy, and only the
rows a command touches are read from disk. The rows are kept raw, as trained or
converted: their lengths carry word importance (WRD uses them); :meth:`Vectors.unit`
gives the unit-length view.

``identity`` is a fingerprint of the content, recorded in ``meta.json`` when the store
is written: SHA-256 over the dtype, the shape, the words, the matrix bytes, the
scales (int8 stores) and the counts (first 16 hex digits). The same content always
gets the same identity, so a cache keyed by it (e.g. fitted whitening) knows which
vectors it belongs to.

Nearest neighbours are exact: cosine similarity ``cos(q, x) = q·x / (|q| |x|)`` against
every row, computed in float32 as blocked matrix products over the (memory-mapped)
matrix; a row of zeros has no direction and is never a neighbour. Equal float32
scores are ordered by row (in a trained or frequency-ordered store: the more
frequent word first); rows of one direction but different lengths may round to
scores a unit in the last place apart.

>>> import numpy as np
>>> v = Vectors(["猫", "狗", "车"], np.array([[1, 0], [0.9, 0.1], [0, 1]], dtype=np.float32))
>>> [w for w, _ in v.nearest("猫", k=2)]
['狗', '车']
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import struct
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple, Union

import numpy as np

from .archive import write_npy
from .errors import UsageError, VectorsError, numpy_file_problem, whole_number
from .quantized import Int8Matrix, quantize_rows

log = logging.getLogger("textkit")

STORE_FORMAT = "textkit-vectors"
STORE_VERSION = 1
MATRIX_FILE = "vectors.npy"
VOCAB_FILE = "vocab.txt"
COUNTS_FILE = "counts.npy"
SCALES_FILE = "scales.npy"
META_FILE = "meta.json"
DTYPES = ("float32", "float16", "int8")

# Rows per block when a pass goes over the whole matrix (norms, neighbours, hashing):
# 32768 rows x 300 dims x 4 bytes = 39 MB of float32 at most in flight.
_BLOCK_ROWS = 32768
_SCAN_LOOKUPS = 8  # single-word lookups answered by a list scan before the index is built
_NPY_HEADER_BYTES = 128
_FLOAT16_MAX = float(np.finfo(np.float16).max)
_FLOAT16_TINY = float(np.finfo(np.float16).tiny)  # smallest normal float16, 6.1e-05

PathLike = Union[str, "os.PathLike[str]"]


# --------------------------------------------------------------------------- identity

def _utf8_lines(words: Sequence[str]) -> bytes:
    """The words one per line in UTF-8; VectorsError for a word that is not text (a lone surrogate)."""
    try:
        return ("\n".join(words) + "\n").encode("utf-8")
    except UnicodeEncodeError:
        bad = next(w for w in words if not _encodes(w))
        raise VectorsError(f"word {bad!r} holds a lone surrogate, not text; a store cannot keep it") from None


def _encodes(word: str) -> bool:
    try:
        word.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True

class _Fingerprint:
    """Incremental content hash; see the module docstring for what it covers."""

    def __init__(self, dtype: str, dim: int):
        self.dtype = dtype
        self.dim = dim
        self.rows = 0
        self._words = hashlib.sha256()
        self._matrix = hashlib.sha256()
        self._scales: Optional[Any] = None
        self._counts: Optional[Any] = None

    def add_words(self, words: Sequence[str]) -> None:
        if words:
            self.add_word_lines(_utf8_lines(words))

    def add_word_lines(self, lines: bytes) -> None:
        """Words already given as :func:`_utf8_lines` makes them."""
        self._words.update(lines)

    def add_rows(self, rows: np.ndarray) -> None:
        self.rows += len(rows)
        self._matrix.update(np.ascontiguousarray(rows).tobytes())

    def add_scales(self, scales: np.ndarray) -> None:
        if self._scales is None:
            self._scales = hashlib.sha256()
        self._scales.update(np.ascontiguousarray(scales, dtype="<f4").tobytes())

    def add_counts(self, counts: np.ndarray) -> None:
        if self._counts is None:
            self._counts = hashlib.sha256()
        self._counts.update(np.ascontiguousarray(counts, dtype="<i8").tobytes())

    def hexdigest(self) -> str:
        top = hashlib.sha256()
        top.update(
            f"{STORE_FORMAT}/{STORE_VERSION}\0{self.dtype}\0{self.rows}x{self.dim}\0".encode()
        )
        top.update(self._words.digest())
        top.update(self._matrix.digest())
        if self._scales is not None:  # float stores keep the identity they had before int8
            top.update(self._scales.digest())
        top.update(self._counts.digest() if self._counts is not None else b"no-counts")
        return top.hexdigest()[:16]


def content_identity(
    words: Sequence[str], matrix: np.ndarray, counts: Optional[np.ndarray] = None
) -> str:
    """The identity a store of this content gets (see the module docstring)."""
    fp = _Fingerprint(stored_dtype(matrix), int(matrix.shape[1]))
    fp.add_words(list(words))
    for start in range(0, len(matrix), _BLOCK_ROWS):
        block = slice(start, start + _BLOCK_ROWS)
        if isinstance(matrix, Int8Matrix):  # the codes and scales as stored, not decoded rows
            fp.add_rows(matrix.codes[block])
            fp.add_scales(matrix.scales[block])
        else:
            fp.add_rows(np.asarray(matrix[block]).astype(matrix.dtype.newbyteorder("<")))
    if counts is not None:
        fp.add_counts(np.asarray(counts))
    return fp.hexdigest()


def stored_dtype(matrix) -> str:
    """How a matrix's values are stored: "float32", "float16" or "int8" (an :class:`Int8Matrix`)."""
    return "int8" if isinstance(matrix, Int8Matrix) else np.dtype(matrix.dtype).name


# --------------------------------------------------------------------------- Vectors
_QUERY_GROUP = 16  # queries scored per matrix product in nearest_ids (padded to this width)


class Vectors:
    """Words and their rows; see the module docstring.

    ``matrix`` keeps the rows as stored (float32 or float16; a read-only memmap when
    opened from a store; other real dtypes, such as numpy's default float64, are
    converted to float32, as :func:`save_store` does), or, for an int8 store, an
    :class:`~textkit.quantized.Int8Matrix` that decodes the rows it is asked for. ``counts`` are the corpus frequencies when known.
    """

    def __init__(
        self,
        words: Sequence[str],
        matrix: np.ndarray,
        *,
        counts: Optional[np.ndarray] = None,
        identity: Optional[str] = None,
        path: Optional[str] = None,
        meta: Optional[Dict[str, Any]] = None,
        lazy_index: bool = False,
    ):
        if matrix.ndim != 2:
            raise VectorsError(f"a vectors matrix must have 2 dimensions, not {matrix.ndim}")
        if not isinstance(matrix, Int8Matrix) and matrix.dtype.name not in ("float32", "float16"):
            if matrix.dtype.kind not in "fiu":
                raise VectorsError(f"vectors must be real numbers (float32 or float16), not {matrix.dtype.name}")
            with np.errstate(over="ignore"):
                converted = np.asarray(matrix, dtype=np.float32)  # float64 (numpy's default), integers
            if np.isinf(converted).any() and not np.isinf(matrix).any():
                raise VectorsError("vectors hold values beyond float32's range (about 3.4e38)")
            matrix = converted
        if len(words) != matrix.shape[0]:
            raise VectorsError(f"{len(words)} words but {matrix.shape[0]} rows")
        if counts is not None and len(counts) != len(words):
            raise VectorsError(f"{len(words)} words but {len(counts)} counts")
        self.words: List[str] = words if isinstance(words, list) else list(words)
        self.matrix = matrix
        self.counts = counts
        self.path = path
        self.meta: Dict[str, Any] = dict(meta or {})
        self._identity = identity
        self._index: Optional[Dict[str, int]] = None
        self._scans = 0
        if not lazy_index:
            self._get_index()
        self._norms: Optional[np.ndarray] = None
        self._unit: Optional[np.ndarray] = None

    # -- basic facts ------------------------------------------------------------
    @property
    def dim(self) -> int:
        return int(self.matrix.shape[1])

    @property
    def dtype(self) -> str:
        """How the rows are stored: "float32", "float16" or "int8"."""
        return stored_dtype(self.matrix)

    @property
    def identity(self) -> str:
        if self._identity is None:
            self._identity = content_identity(self.words, self.matrix, self.counts)
        return self._identity

    def __len__(self) -> int:
        return len(self.words)

    def __contains__(self, word: object) -> bool:
        return isinstance(word, str) and self.index_of(word) is not None

    def __repr__(self) -> str:
        where = f" from {self.path}" if self.path else ""
        return f"<Vectors {len(self):,} words x {self.dim} {self.dtype}{where}>"

    def _get_index(self) -> Dict[str, int]:
        """word -> row, built on first need (a million words take a few tenths of a second)."""
        if self._index is None:
            index = dict(zip(self.words, range(len(self.words))))
            if len(index) != len(self.words):
                where = f"{self.path}: " if self.path else ""
                raise VectorsError(
                    f"{where}the vocabulary lists {len(self.words) - len(index)} word(s) twice"
                )
            self._index = index
        return self._index

    def check_words(self) -> "Vectors":
        """These vectors, after checking that no word is listed twice (VectorsError naming how many).

        A store opens with its word index left for first need; commands that
        never build it (one-word questions, ``info``, ``export``) call this so a
        hand-damaged ``vocab.txt`` is refused as everywhere else.  Builds the
        index (about 8 ms for 60,000 words).
        """
        self._get_index()
        return self

    def index_of(self, word: str) -> Optional[int]:
        """Row of ``word``, or None when it is not in the vocabulary.

        The first few single-word questions on a freshly opened store scan the word
        list instead of building the index, so a one-word query stays fast.
        """
        if self._index is None and self._scans < _SCAN_LOOKUPS:
            self._scans += 1
            try:
                return self.words.index(word)
            except ValueError:
                return None
        return self._get_index().get(word)

    def __getitem__(self, word: str) -> np.ndarray:
        """The stored row of ``word`` as float32 (a copy); :class:`VectorsError` if unknown."""
        return np.array(self.matrix[self._require(word)], dtype=np.float32)

    def lookup(self, tokens: Iterable[str]) -> Tuple[np.ndarray, np.ndarray]:
        """(row ids as int64 with -1 for unknown tokens, boolean mask of known tokens)."""
        if isinstance(tokens, str):  # its characters would be looked up one by one
            raise TypeError(f"lookup takes a sequence of words, not a string: lookup([{tokens!r}])")
        get = self._get_index().get
        tokens = list(tokens)
        ids = np.fromiter((get(t, -1) for t in tokens), dtype=np.int64, count=len(tokens))
        return ids, ids >= 0

    # -- lengths and the unit view -----------------------------------------------
    def norms(self) -> np.ndarray:
        """Euclidean length of every stored row, float32 (cached); VectorsError for a row with NaN or inf."""
        if self._norms is None:
            out = np.empty(len(self), dtype=np.float32)
            for start, block in self._blocks():
                out[start : start + len(block)] = self._block_norms(start, block)
            self._norms = out
        return self._norms

    def _block_norms(self, start: int, block: np.ndarray) -> np.ndarray:
        """:func:`_row_norms` of the block of rows from ``start``, each checked finite."""
        norms = _row_norms(block)
        if not np.isfinite(norms).all():  # NaN or inf in a row, or a finite row too long for float32
            bad = ~np.isfinite(block).all(axis=1)
            if bad.any():
                raise damaged_row_error(self.words, start + int(np.flatnonzero(bad)[0]), self.path)
        return norms

    def unit(self) -> np.ndarray:
        """Rows scaled to unit length as a float32 array (zero rows stay zero); cached."""
        if self._unit is None:
            norms = self.norms()
            out = np.empty((len(self), self.dim), dtype=np.float32)
            for start, block in self._blocks():
                block, scale = _unit_scale(block, norms[start : start + len(block)])
                out[start : start + len(block)] = block * scale[:, None]
            self._unit = out
        return self._unit

    def unit_rows(self, ids) -> np.ndarray:
        """``unit()[ids]`` for a list, tuple or 1-D array of row numbers, without building the whole unit
        matrix: the same arithmetic on the rows asked for only (a few pairs need a few rows
        of a store of millions); a row with NaN or inf among them is a VectorsError, as in
        :meth:`unit`.  Other indexes (a mask, one number) are served by ``unit()`` itself."""
        asked = list(ids) if isinstance(ids, tuple) else ids  # a tuple of row numbers, not a 2-D index
        ids = np.asarray(asked)
        if self._unit is not None or ids.ndim != 1 or (ids.size and ids.dtype.kind not in "iu"):
            return self.unit()[asked]
        ids = ids.astype(np.int64)
        block = np.asarray(self.matrix[ids], dtype=np.float32)
        if self._norms is not None:
            n = self._norms[ids]
        else:
            n = _row_norms(block)
            if not np.isfinite(n).all():
                bad = ~np.isfinite(block).all(axis=1)
                if bad.any():
                    raise damaged_row_error(self.words, int(ids[np.flatnonzero(bad)[0]]), self.path)
        block, scale = _unit_scale(block, n)
        return block * scale[:, None]

    def _blocks(self) -> Iterable[Tuple[int, np.ndarray]]:
        """(first row, float32 block) over the whole matrix."""
        for start in range(0, len(self), _BLOCK_ROWS):
            yield start, np.asarray(self.matrix[start : start + _BLOCK_ROWS], dtype=np.float32)

    def _require(self, word: str) -> int:
        i = self.index_of(word)
        if i is None:
            where = f" of {self.path}" if self.path else ""
            raise VectorsError(f"{word!r} is not in the vocabulary{where} ({len(self):,} words)")
        return i

    # -- neighbours -----------------------------------------------------------------
    def nearest(
        self, word_or_vector: Union[str, np.ndarray, Sequence[float]], k: int = 10
    ) -> List[Tuple[str, float]]:
        """The ``k`` rows of highest cosine with a word (itself excluded) or a vector."""
        if isinstance(word_or_vector, (int, float, np.number)):
            raise TypeError(f"nearest takes a word or a vector of {self.dim} values, not the number "
                            f"{word_or_vector!r} (k is the second argument)")
        if isinstance(word_or_vector, str):
            i = self._require(word_or_vector)
            ids, scores = self.nearest_ids(self.matrix[i : i + 1], k, exclude=[i])
        else:
            vector = np.asarray(word_or_vector)
            if vector.ndim != 1:
                raise UsageError(f"nearest takes one vector of {self.dim} values, not an array of shape "
                                 f"{vector.shape} (for several, nearest_ids)")
            ids, scores = self.nearest_ids(vector[None, :], k)
        return [(self.words[j], float(s)) for j, s in zip(ids[0], scores[0]) if j >= 0]

    def nearest_ids(
        self,
        queries: np.ndarray,
        k: int = 10,
        exclude: Optional[Sequence[int]] = None,
        candidates: Optional[np.ndarray] = None,
    ) -> Tuple[np.ndarray, np.ndarray]:
        """Exact cosine top-``k`` for each row of ``queries`` (m, dim).

        Returns (ids int64 (m, k), scores float32 (m, k)), best first, ties by row id;
        ``exclude[q]`` (a row id or -1) is left out of query q's answer, and so is every
        row where the boolean mask ``candidates`` (n,) is False, and every zero row (its
        cosine is undefined). ``k`` is capped at the
        number of rows; when fewer rows are available the tail holds id -1 and score NaN.
        """
        k = whole_number(k, "k")
        queries = np.asarray(queries, dtype=np.float32)
        if queries.ndim != 2 or queries.shape[1] != self.dim:
            raise UsageError(f"query vectors must be an (m, {self.dim}) array, not of shape {queries.shape}")
        if k < 1:
            raise UsageError("k must be at least 1")
        k = min(k, len(self))
        qn = np.linalg.norm(queries.astype(np.float64), axis=1)  # float64: no overflow
        if np.any(qn == 0) or not np.all(np.isfinite(qn)):
            raise VectorsError("a query vector is zero or not finite; cosine is undefined")
        qu = (queries / qn[:, None]).astype(np.float32)
        m = len(queries)
        padded = np.zeros((-(-m // _QUERY_GROUP) * _QUERY_GROUP, self.dim), dtype=np.float32)
        padded[:m] = qu
        excl = np.full(m, -1, dtype=np.int64) if exclude is None else np.asarray(exclude, np.int64)
        cached = self._norms  # without it, the row lengths are computed in the same pass
        fresh = np.empty(len(self), dtype=np.float32) if cached is None else None
        best_ids = [np.empty(0, np.int64) for _ in range(m)]
        best_sc = [np.empty(0, np.float32) for _ in range(m)]
        for start, block in self._blocks():
            if fresh is not None:
                n = self._block_norms(start, block)  # a row too long for float32: inf, weight 0
                fresh[start : start + len(block)] = n
            else:
                n = cached[start : start + len(block)]  # type: ignore[index]
            block, inv = _unit_scale(block, n)
            # queries in groups of a fixed width, the last one padded with zero columns: a word's
            # scores then come from the same BLAS kernel, whatever the other words asked with it
            # (one query against several would take other kernels, which round differently)
            sims = np.empty((len(block), m), dtype=np.float32)
            for first in range(0, m, _QUERY_GROUP):
                group = padded[first:first + _QUERY_GROUP]
                sims[:, first:first + _QUERY_GROUP] = (block @ group.T)[:, : min(_QUERY_GROUP, m - first)]
            sims *= inv[:, None]  # (rows, m)
            np.clip(sims, -1.0, 1.0, out=sims)  # float32 rounding may give 1.0000002 for the word itself
            sims[n == 0] = -np.inf  # a zero row has no direction: no cosine, never a neighbour
            if candidates is not None:
                sims[~candidates[start : start + len(block)]] = -np.inf
            for q in range(m):
                col = sims[:, q]
                if start <= excl[q] < start + len(block):
                    col = col.copy()
                    col[excl[q] - start] = -np.inf
                cand_ids, cand_sc = _top_k(col, k, start)
                ids = np.concatenate([best_ids[q], cand_ids])
                sc = np.concatenate([best_sc[q], cand_sc])
                order = np.lexsort((ids, -sc))[:k]
                best_ids[q], best_sc[q] = ids[order], sc[order]
        if fresh is not None:
            self._norms = fresh
        out_ids = np.full((m, k), -1, dtype=np.int64)
        out_sc = np.full((m, k), np.nan, dtype=np.float32)
        for q in range(m):
            keep = np.isfinite(best_sc[q])
            ids, sc = best_ids[q][keep], best_sc[q][keep]
            out_ids[q, : len(ids)] = ids
            out_sc[q, : len(ids)] = sc
        return out_ids, out_sc

    # -- saving -----------------------------------------------------------------------
    def save(
        self, path: PathLike, *, dtype: Optional[str] = None, source: Optional[dict] = None
    ) -> "Vectors":
        """Write this as a store at ``path`` (see :func:`save_store`)."""
        return save_store(
            path,
            self.words,
            self.matrix,
            counts=self.counts,
            dtype=dtype,
            source=source if source is not None else self.meta.get("source"),
        )


def damaged_row_error(words: Sequence[str], row: int, source: Optional[str]) -> VectorsError:
    """The error for a stored row holding NaN or inf (stores are written finite: the file was damaged)."""
    where = f"{source}: " if source else ""
    return VectorsError(f"{where}the vector of {words[row]!r} (row {row + 1}) holds NaN or inf; "
                        "the store is damaged: convert or train it again")


def _unit_scale(block: np.ndarray, norms: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """(rows, scale) such that ``rows * scale[:, None]`` is each row of ``block`` at unit length.

    scale = 1/‖x‖ in float32, 0 for a zero row (which stays zero).  A row whose
    1/‖x‖ does not fit float32 (subnormal values, ‖x‖ < ~2.9e-39) or whose length
    does not (values near float32's largest, ‖x‖ inf in ``norms``) is divided by
    its length in float64 instead and gets scale 1; ``block`` is then a copy,
    otherwise it is returned as given.
    """
    with np.errstate(over="ignore", divide="ignore"):
        scale = np.divide(np.float32(1), norms, out=np.zeros_like(norms), where=norms > 0)
    odd = np.isinf(scale) | np.isinf(norms)
    if odd.any():
        wide = block[odd].astype(np.float64)
        block = np.array(block, dtype=np.float32)
        block[odd] = wide / np.sqrt(np.einsum("ij,ij->i", wide, wide))[:, None]
        scale[odd] = 1
    return block, scale


def _row_norms(block: np.ndarray) -> np.ndarray:
    """Euclidean length of each row of a float32 block, as float32.

    Summed in float64: squares of float32 values below ~1e-23 vanish and above
    ~1e19 overflow in float32, which made such rows zero-length (no direction).
    A length beyond float32's range (values near 1e38) is still inf.
    """
    wide = block.astype(np.float64)
    with np.errstate(over="ignore"):
        return np.sqrt(np.einsum("ij,ij->i", wide, wide)).astype(np.float32)


def _top_k(col: np.ndarray, k: int, offset: int) -> Tuple[np.ndarray, np.ndarray]:
    """Ids (``offset`` added) and scores of the k best entries of ``col``, ties by id.

    Every entry tied with the k-th best score is kept, so the caller's final
    (score, id) ordering is exact whatever the block boundaries.
    """
    if len(col) > k:
        kth = np.partition(col, len(col) - k)[len(col) - k]
        idx = np.flatnonzero(col >= kth)
    else:
        idx = np.arange(len(col))
    return idx.astype(np.int64) + offset, col[idx].astype(np.float32)


# --------------------------------------------------------------------------- writing
def _npy_header(rows: int, dim: int, dtype: np.dtype) -> bytes:
    """A version-1.0 .npy header of exactly ``_NPY_HEADER_BYTES`` bytes for a C-order matrix."""
    text = "{'descr': '%s', 'fortran_order': False, 'shape': (%d, %d), }" % (dtype.str, rows, dim)
    pad = _NPY_HEADER_BYTES - 10 - len(text) - 1
    if pad < 0:
        raise VectorsError("matrix too large for the store header")
    return (
        b"\x93NUMPY\x01\x00"
        + struct.pack("<H", _NPY_HEADER_BYTES - 10)
        + text.encode("latin1")
        + b" " * pad
        + b"\n"
    )


class StoreWriter:
    """Writes a store row block by row block, so memory stays at one block.

    The matrix goes straight to ``vectors.npy`` behind a fixed-size header that is
    filled in on :meth:`close` (the row count is known only then). The whole
    directory appears at ``path`` only when :meth:`close` succeeds (atomic rename);
    :meth:`abort` removes the temporary directory.

    >>> import tempfile, numpy as np
    >>> d = tempfile.mkdtemp()
    >>> w = StoreWriter(d + "/s", dim=2)
    >>> w.add(["a", "b"], np.ones((2, 2), dtype=np.float32))
    >>> len(w.close())
    2
    """

    def __init__(
        self, path: PathLike, dim: int, *, dtype: str = "float32", source: Optional[dict] = None
    ):
        from .output import atomic_path, check_output_dir

        if dtype not in DTYPES:
            raise UsageError(f"dtype (--dtype) must be one of {', '.join(DTYPES)}, not {dtype!r}")
        if dim < 1:
            raise VectorsError("vectors need at least one dimension")
        self.path = str(path)
        self.dim = int(dim)
        self.dtype = np.dtype(dtype).newbyteorder("<")
        self.source = dict(source or {})
        check_output_dir(self.path, is_replaceable_store)
        self._atomic = atomic_path(self.path, replaceable=is_replaceable_store)
        self._tmp = self._atomic.__enter__()
        try:
            os.mkdir(self._tmp)
            self._matrix_fh = open(os.path.join(self._tmp, MATRIX_FILE), "wb")
            self._matrix_fh.write(b"\0" * _NPY_HEADER_BYTES)
            self._vocab_fh = open(os.path.join(self._tmp, VOCAB_FILE), "wb")  # UTF-8 lines (_utf8_lines)
        except OSError as exc:
            self.abort()
            raise VectorsError(f"{self.path}: cannot write the store ({exc.strerror})") from None
        self._fp = _Fingerprint(self.dtype.name, self.dim)
        self._counts: List[np.ndarray] = []
        self._scales: List[np.ndarray] = []  # int8 stores
        self.rows = 0
        self._faint_rows = 0  # float16 stores: non-zero rows below the normal range
        self._faint_word: Optional[str] = None
        self._closed = False

    def add(
        self, words: Sequence[str], rows: np.ndarray, counts: Optional[np.ndarray] = None
    ) -> None:
        """Append rows (any float array (len(words), dim)) and their words.

        For an int8 store the rows are quantized here (:func:`textkit.quantized.quantize_rows`).
        """
        rows = np.asarray(rows)
        if rows.shape != (len(words), self.dim):
            raise VectorsError(f"expected a ({len(words)}, {self.dim}) block, got {rows.shape}")
        if self.dtype.name == "int8":
            self._check_finite(words, rows)
            codes, scales = quantize_rows(rows)
            self._write(words, codes, scales, counts)
            return
        if rows.dtype != self.dtype:
            if self.dtype.name == "float16":
                big = np.abs(rows) > _FLOAT16_MAX
                if np.any(big):
                    row = int(np.flatnonzero(big.any(axis=1))[0])
                    raise VectorsError(
                        f"word {words[row]!r}: a value exceeds the float16 range (±65504); "
                        "use float32"
                    )
                self._note_faint_rows(words, rows)
            rows = rows.astype(self.dtype)
        self._check_finite(words, rows)
        self._write(words, rows, None, counts)

    def add_codes(
        self,
        words: Sequence[str],
        codes: np.ndarray,
        scales: np.ndarray,
        counts: Optional[np.ndarray] = None,
    ) -> None:
        """Append rows of an int8 store as they are (codes and scales), without requantizing."""
        if self.dtype.name != "int8":
            raise VectorsError("codes can only be added to an int8 store")
        codes = np.asarray(codes)
        if codes.shape != (len(words), self.dim) or codes.dtype != np.int8:
            raise VectorsError(f"expected ({len(words)}, {self.dim}) int8 codes")
        scales = np.asarray(scales, dtype=np.float32)
        self._check_finite(words, scales[:, None])
        self._write(words, codes, scales, counts)

    def _note_faint_rows(self, words: Sequence[str], rows: np.ndarray) -> None:
        """Count non-zero rows whose largest |value| is below float16's normal range.

        float16 keeps 11 significant bits only down to 6.1e-05; below that it
        has fewer (its subnormals), and values under 3e-08 become 0, so such a
        row loses most of its precision or turns into zeros, which count as a
        word without a vector. :meth:`close` warns about them.
        """
        if not len(rows) or not self.dim:
            return
        peak = np.abs(rows).max(axis=1)
        faint = (peak > 0) & (peak < _FLOAT16_TINY)
        if np.any(faint):
            if self._faint_word is None:
                self._faint_word = words[int(np.flatnonzero(faint)[0])]
            self._faint_rows += int(np.count_nonzero(faint))

    @staticmethod
    def _check_finite(words: Sequence[str], rows: np.ndarray) -> None:
        finite = np.isfinite(rows)
        if not np.all(finite):
            row = int(np.flatnonzero(~finite.all(axis=1))[0])
            raise VectorsError(f"word {words[row]!r}: the row holds a value that is not finite")

    def _write(self, words, rows: np.ndarray, scales: Optional[np.ndarray], counts) -> None:
        for w in words:
            if "\n" in w:
                raise VectorsError(f"word {w!r} holds a newline; a store cannot keep it")
        lines = _utf8_lines(words) if words else b""  # a word that is not text fails here, before any write
        if counts is not None:
            if len(counts) != len(words):
                raise VectorsError("one count per word is needed")
            if self.rows and not self._counts:
                raise VectorsError("counts given for some blocks but not for others")
            self._counts.append(np.asarray(counts, dtype="<i8"))
        elif self._counts:
            raise VectorsError("counts given for some blocks but not for others")
        rows = np.ascontiguousarray(rows)
        try:
            self._matrix_fh.write(rows.tobytes())
            self._vocab_fh.write(lines)
        except OSError as exc:  # a full disk, a file size limit: named by the store, not a temporary file
            raise VectorsError(f"{self.path}: cannot write the store ({exc.strerror or exc})") from None
        self._fp.add_word_lines(lines)
        self._fp.add_rows(rows)
        if scales is not None:
            self._scales.append(np.asarray(scales, dtype="<f4"))
            self._fp.add_scales(scales)
        self.rows += len(words)

    def close(self, extra_meta: Optional[dict] = None) -> "Vectors":
        """Finish the files, move the store into place, and open it."""
        if self._closed:
            raise VectorsError("store already closed")
        try:
            self._matrix_fh.seek(0)
            self._matrix_fh.write(_npy_header(self.rows, self.dim, self.dtype))
            self._matrix_fh.close()
            self._vocab_fh.close()
            if self.dtype.name == "int8":
                scales = np.concatenate(self._scales) if self._scales else np.empty(0, "<f4")
                write_npy(os.path.join(self._tmp, SCALES_FILE), scales)
            has_counts = bool(self._counts)
            if has_counts:
                counts = np.concatenate(self._counts)
                self._fp.add_counts(counts)
                write_npy(os.path.join(self._tmp, COUNTS_FILE), counts)
            meta = {
                "format": STORE_FORMAT,
                "version": STORE_VERSION,
                "count": self.rows,
                "dim": self.dim,
                "dtype": self.dtype.name,
                "identity": self._fp.hexdigest(),
                "counts": has_counts,
                "source": self.source,
            }
            meta.update(extra_meta or {})
            # errors="backslashreplace": a file name that is not UTF-8 (its bytes decoded as lone
            # surrogates, e.g. "\udcff") is written as the JSON escape \udcff, read back as itself
            with open(
                os.path.join(self._tmp, META_FILE), "w", encoding="utf-8", errors="backslashreplace",
                newline="\n"
            ) as fh:
                json.dump(meta, fh, ensure_ascii=False, indent=1, sort_keys=True)
                fh.write("\n")
            self._atomic.__exit__(None, None, None)
        except BaseException as exc:
            self.abort(exc)
            if isinstance(exc, OSError):
                raise VectorsError(f"{self.path}: cannot write the store ({exc.strerror or exc})") from None
            raise
        self._closed = True
        if self._faint_rows:
            log.warning(
                "%s: %d row%s (the first: word %r) hold%s only values below float16's normal range "
                "(|x| < 6.1e-05): stored with little precision or as zeros; use --dtype float32",
                self.path, self._faint_rows, "s" if self._faint_rows != 1 else "", self._faint_word,
                "" if self._faint_rows != 1 else "s",
            )
        return open_store(self.path)

    def abort(self, exc: Optional[BaseException] = None) -> None:
        """Drop everything written so far (the destination stays as it was)."""
        self._closed = True
        for name in ("_matrix_fh", "_vocab_fh"):
            fh = getattr(self, name, None)
            if fh is not None and not fh.closed:
                fh.close()
        err = exc if exc is not None else VectorsError("store writing aborted")
        try:
            self._atomic.__exit__(type(err), err, None)
        except BaseException:
            pass


def save_store(
    path: PathLike,
    words: Sequence[str],
    matrix: np.ndarray,
    *,
    counts: Optional[np.ndarray] = None,
    dtype: Optional[str] = None,
    source: Optional[dict] = None,
    extra_meta: Optional[dict] = None,
) -> Vectors:
    """Write ``words`` / ``matrix`` (/ ``counts``) as a store at ``path``; returns it opened.

    ``dtype`` defaults to the matrix's own (float32 unless it is float16 or an int8
    store's); an existing store at ``path`` is replaced only when the new one is complete.
    An int8 matrix saved as int8 keeps its codes and scales exactly.
    """
    if not isinstance(matrix, Int8Matrix):
        matrix = np.asarray(matrix)
    if matrix.ndim != 2:
        raise VectorsError(f"a vectors matrix must have 2 dimensions, not {matrix.ndim}")
    if len(words) != len(matrix):
        raise VectorsError(f"{len(words)} words but {len(matrix)} rows")
    if dtype is None:
        dtype = stored_dtype(matrix) if stored_dtype(matrix) in ("int8", "float16") else "float32"
    copy_codes = dtype == "int8" and isinstance(matrix, Int8Matrix)
    if len(set(words)) != len(words):
        raise VectorsError("the vocabulary lists a word twice")
    writer = StoreWriter(path, int(matrix.shape[1]), dtype=dtype, source=source)
    try:
        for start in range(0, len(words), _BLOCK_ROWS):
            stop = start + _BLOCK_ROWS
            block_counts = None if counts is None else np.asarray(counts[start:stop])
            if copy_codes:
                writer.add_codes(
                    list(words[start:stop]),
                    matrix.codes[start:stop],
                    matrix.scales[start:stop],
                    block_counts,
                )
            else:
                writer.add(list(words[start:stop]), np.asarray(matrix[start:stop]), block_counts)
    except BaseException as exc:
        writer.abort(exc)
        raise
    return writer.close(extra_meta)


# --------------------------------------------------------------------------- opening
def is_store(path: PathLike) -> bool:
    """True when ``path`` is a directory holding a store's ``meta.json``."""
    return os.path.isdir(path) and os.path.isfile(os.path.join(path, META_FILE))


STORE_FILES = frozenset({META_FILE, MATRIX_FILE, VOCAB_FILE, COUNTS_FILE, SCALES_FILE})


def is_replaceable_store(path: PathLike) -> bool:
    """True for a store holding nothing but the files a store is written with: a new store may
    replace it whole.  One with other files (notes, a README) keeps them: it is refused."""
    return is_store(path) and set(os.listdir(path)) <= STORE_FILES


def open_store(path: PathLike) -> Vectors:
    """Open the store directory ``path`` memory-mapped; checks that its files agree."""
    path = str(path)
    if not os.path.exists(path):
        raise VectorsError(f"{path}: no such vectors store")
    if not os.path.isdir(path):
        raise VectorsError(f"{path}: not a vectors store (a store is a directory)")
    meta_path = os.path.join(path, META_FILE)
    try:
        with open(meta_path, encoding="utf-8") as fh:
            meta = json.load(fh)
    except FileNotFoundError:
        raise VectorsError(f"{path}: not a vectors store (no {META_FILE})") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise VectorsError(f"{meta_path}: not valid JSON ({exc})") from None
    if not isinstance(meta, dict) or meta.get("format") != STORE_FORMAT:
        raise VectorsError(f"{meta_path}: not a textkit vectors store")
    if meta.get("version") != STORE_VERSION:
        raise VectorsError(f"{meta_path}: store version {meta.get('version')!r} is not supported")
    try:
        count, dim, dtype = int(meta["count"]), int(meta["dim"]), str(meta["dtype"])
        identity = str(meta["identity"])
    except (KeyError, TypeError, ValueError) as exc:
        raise VectorsError(f"{meta_path}: missing or bad field {exc}") from None
    matrix_path = os.path.join(path, MATRIX_FILE)
    matrix = _load_npy(path, MATRIX_FILE, "matrix", f"{path}: the store has no {MATRIX_FILE}")
    if matrix.ndim != 2 or matrix.shape != (count, dim) or matrix.dtype.name != dtype:
        raise VectorsError(
            f"{path}: the store's files disagree: {META_FILE} says {count} x {dim} {dtype}, "
            f"{MATRIX_FILE} holds {' x '.join(map(str, matrix.shape))} {matrix.dtype.name}"
        )
    if matrix.dtype.byteorder == ">":
        raise VectorsError(f"{matrix_path}: big-endian matrices are not supported")
    if dtype == "int8":
        matrix = Int8Matrix(matrix, _open_scales(path, count))
    elif dtype not in DTYPES:
        raise VectorsError(f"{meta_path}: unknown dtype {dtype!r}")
    vocab_path = os.path.join(path, VOCAB_FILE)
    try:
        with open(vocab_path, encoding="utf-8", newline="") as fh:
            text = fh.read()
    except FileNotFoundError:
        raise VectorsError(f"{path}: the store has no {VOCAB_FILE}") from None
    except UnicodeDecodeError as exc:
        raise VectorsError(f"{vocab_path}: not UTF-8 ({exc.reason} at byte {exc.start})") from None
    words = text.split("\n")
    if words and words[-1] == "":
        words.pop()
    else:
        words = words if text else []
    if len(words) != count:
        raise VectorsError(
            f"{path}: the store's files disagree: {META_FILE} says {count} words, "
            f"{VOCAB_FILE} has {len(words)}"
        )
    counts = None
    if meta.get("counts"):
        counts = _load_npy(
            path, COUNTS_FILE, "array", f"{path}: {META_FILE} lists counts but {COUNTS_FILE} is missing"
        )
        if counts.shape != (count,):
            raise VectorsError(
                f"{path}: the store's files disagree: {count} words "
                f"but {COUNTS_FILE} holds {counts.shape}"
            )
    return Vectors(
        words, matrix, counts=counts, identity=identity, path=path, meta=meta, lazy_index=True
    )


def _load_npy(path: str, name: str, what: str, missing: str) -> np.ndarray:
    """The store's file ``name`` memory-mapped; one :class:`VectorsError` line if it is absent
    (``missing``) or unreadable."""
    file_path = os.path.join(path, name)
    try:
        return np.load(file_path, mmap_mode="r", allow_pickle=False)
    except FileNotFoundError:
        raise VectorsError(missing) from None
    except (ValueError, OSError, EOFError) as exc:
        raise VectorsError(f"{file_path}: not a readable .npy {what} ({numpy_file_problem(exc)})") from None


def _open_scales(path: str, count: int) -> np.ndarray:
    """The per-row scales of the int8 store at ``path``, memory-mapped and checked."""
    scales = _load_npy(
        path, SCALES_FILE, "array", f"{path}: an int8 store needs {SCALES_FILE}, which is missing"
    )
    if scales.shape != (count,) or scales.dtype != np.dtype("<f4"):
        raise VectorsError(
            f"{path}: the store's files disagree: {count} rows but {SCALES_FILE} holds "
            f"{' x '.join(map(str, scales.shape)) or 'a scalar'} {scales.dtype.name}"
        )
    return scales


_announced_default = False


def default_store_path() -> Path:
    """Where the store shipped inside the package lives (installed or editable).

    The store sits beside this module (``textkit/data/vectors``, declared as package
    data). A path next to ``__file__`` is used rather than ``importlib.resources``
    because the matrix is memory-mapped, which needs a real file on disk.
    """
    return Path(__file__).resolve().parent / "data" / "vectors"


def open_vectors(
    path: Optional[PathLike] = None, *, format: str = "auto", limit: Optional[int] = None,
    other: str = "give --vectors to use others",
) -> Vectors:
    """Vectors for a command: ``None`` -> the default store (said once, with ``other``: how to
    choose others); a store -> memory-mapped; any other file -> read with the format readers
    (word2vec text/binary, fastText, GloVe, Tencent; compressed or not) into memory, with a
    hint that converting it once makes later runs fast.
    """
    global _announced_default
    if path is None:
        store = default_store_path()
        if not is_store(store):
            raise VectorsError(
                f"the default vectors are missing from this installation ({store}); give --vectors"
            )
        vectors = open_store(store)
        if not _announced_default:
            log.info(
                "using the default vectors (%s words x %d, trained on a 25 MB Chinese corpus); %s",
                f"{len(vectors):,}",
                vectors.dim,
                other,
            )
            _announced_default = True
        return vectors
    path = str(path)
    if os.path.isdir(path):
        return open_store(path)
    if not os.path.exists(path) and path != "-":
        raise VectorsError(f"{path}: no such vectors store or file")
    from .vector_formats import read_vectors

    log.info(
        "reading %s as a vectors file; "
        "`textkit vectors convert %s -o STORE` once makes later runs fast",
        path,
        path,
    )
    return read_vectors(path, format=format, limit=limit)


_OPENED: dict = {}


def open_vectors_cached(path=None, *, opened=None):
    """:func:`open_vectors` once per process and path; a forked pool worker inherits the parent's.

    ``opened``: vectors the caller already opened from ``path``, kept for it
    (so that workers use them instead of reading the path again).  Only the
    last store is kept (a store can be large).  A store or file rewritten since
    it was opened, or a relative path after a change of directory, is opened
    anew (:func:`textkit.corpus.cache_key`).
    """
    from .corpus import cache_key

    key = cache_key(path, META_FILE, MATRIX_FILE, VOCAB_FILE)
    vectors = _OPENED.get(key)
    if vectors is None or (opened is not None and opened is not vectors):
        _OPENED.clear()
        vectors = _OPENED[key] = opened if opened is not None else open_vectors(path)
    return vectors


def as_vectors(vectors):
    """``vectors`` as given, or the store opened from it when it is a path or None (the bundled
    store), through :func:`open_vectors_cached`: what every function taking ``vectors`` accepts."""
    if vectors is None or isinstance(vectors, (str, os.PathLike)):
        return open_vectors_cached(None if vectors is None else str(vectors))
    return vectors


def share_vectors(vectors, path=None):
    """The ``path`` argument under which pool workers find ``vectors`` through :func:`open_vectors_cached`.

    ``path`` as given when the caller opened ``vectors`` from it (the default
    store for None); otherwise a name that stands for these vectors alone, so
    that they never replace the default store in the cache.  A forked worker
    inherits them; elsewhere (spawned workers) only a real path can be opened.
    """
    if path is None and _OPENED.get(None) is not vectors:
        path = f"<vectors in memory {id(vectors):x}>"
    open_vectors_cached(path, opened=vectors)
    return path
