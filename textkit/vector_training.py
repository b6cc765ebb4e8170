"""Word vectors learnt from a corpus: windowed co-occurrence counts -> PPMI -> truncated SVD.

The maths (V words in the vocabulary, after ``min_count``):

1. Co-occurrence. Within each document, after dropping tokens outside the vocabulary,
   every pair of tokens ``d`` positions apart (1 <= d <= window) adds ``1/d`` to
   ``C[w, c]`` and to ``C[c, w]`` (symmetric window, 1/distance weighting). Counts are
   kept as exact integers: each pair adds ``L/d`` with ``L = lcm(1..window)``, so sums
   never depend on the order of merging (same answer for any number of workers).
   The common factor L cancels out of PMI.
2. Positive PMI with context-distribution smoothing (Levy, Goldberg & Dagan 2015), no shift::

       n_w = sum_c C[w, c]              P_a(c) = n_c^a / sum_c' n_c'^a      (a = alpha = 0.75)
       PPMI[w, c] = max(0, log C[w, c] - log n_w - log P_a(c))

   (the same as log(P(w,c) / (P(w) P_a(c))) with P(w,c) = C[w,c]/D, P(w) = n_w/D).
3. Truncated SVD ``PPMI ~ U S V^T`` to ``dim`` components
   (``scipy.sparse.linalg.svds(solver="propack")`` on float32 with a seeded start
   vector), word vectors ``W = U S^p`` (p = ``power`` = 0.5). The sign of each
   component is fixed (its largest entry in U positive), so the output is deterministic.

Rows are stored raw (not unit length); ``Vectors.unit()`` gives cosine-ready rows.
Their lengths are what WRD weighs words by: as SVD gives them (``norms="svd"``)
they grow with frequency, so ``norms="idf"`` rescales every row to length
``log(N / n_w)`` (see :func:`idf_norms`). The store also keeps each word's corpus
count (for SIF-style weighting).

Pipeline and memory. The corpus is tokenized once, over the shared pool
(``pool.imap``, batches in order); each batch comes back as integer ids with its own
small word list, is mapped to global ids and spilled to a temporary file, so the
parent holds only the word list and counts. The co-occurrence pass then reads the
spilled ids in chunks of about ``chunk_tokens`` tokens and counts each chunk as a
sparse partial table (``pool.map_reduce``, merged by addition). Peak memory is about
the final sparse table plus one chunk per worker, whatever the corpus size.

>>> from textkit.vector_training import cooccurrence_counts
>>> cooccurrence_counts([[0, 1, 2]], vocab_size=3, window=2).toarray().tolist()
[[0, 2, 1], [0, 0, 2], [0, 0, 0]]
"""

from __future__ import annotations

import logging
import math
import os
import tempfile
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np
from scipy import sparse

from .corpus import check_corpus
from .errors import CorpusError, DataError, UsageError, real_number, whole_number
from .quantized import Int8Matrix, quantize_rows
from .whitening import fix_signs

log = logging.getLogger("textkit")

MAX_WINDOW = 20  # lcm(1..20) = 232792560: int64 weights stay exact for any realistic corpus
_PPMI_BLOCK_NNZ = 4_000_000


@dataclass(frozen=True)
class TrainingOptions:
    """Settings of :func:`train_vectors` (see the module docstring for their roles)."""

    dim: int = 100
    window: int = 5
    min_count: int = 5
    alpha: float = 0.75
    power: float = 0.5
    seed: int = 0
    limit: Optional[int] = None  # keep only the `limit` most frequent words in the store
    dtype: str = "float32"
    norms: str = "svd"  # row lengths: "svd" as U S^p gives them, or "idf" (see idf_norms)

    def check(self) -> None:
        for name in ("dim", "window", "min_count", "seed") + (("limit",) if self.limit is not None else ()):
            whole_number(getattr(self, name), name)
        for name in ("alpha", "power"):
            real_number(getattr(self, name), name)
        if self.dim < 1:
            raise UsageError("dim (--dim) must be at least 1")
        if not 1 <= self.window <= MAX_WINDOW:
            raise UsageError(f"window (--window) must be between 1 and {MAX_WINDOW}")
        if self.min_count < 1:
            raise UsageError("min_count (--min-count) must be at least 1")
        if not 0 < self.alpha <= 1:
            raise UsageError("alpha (context smoothing) must be in (0, 1]")
        if not 0 <= self.power <= 1:  # also refuses NaN; S^p beyond 1 only stretches the top dimensions
            raise UsageError(f"power (--power) must be between 0 and 1, got {self.power}")
        if not 0 <= self.seed < 2**32:
            raise UsageError(f"seed (--seed) must be between 0 and {2**32 - 1}, got {self.seed}")
        if self.limit is not None and self.limit < 1:
            raise UsageError("limit (--limit) must be at least 1")
        if self.dtype not in ("float32", "float16", "int8"):
            raise UsageError("dtype (--dtype) must be float32, float16 or int8")
        if self.norms not in NORMS:
            raise UsageError(f"norms (--norms) must be one of {', '.join(NORMS)}")


NORMS = ("svd", "idf")


def idf_norms(matrix: np.ndarray, counts: np.ndarray, total_tokens: int) -> np.ndarray:
    """Rows rescaled to length ``log(total_tokens / count)``, directions unchanged.

    The lengths of ``U S^p`` rows grow with a word's frequency (measured on the
    bundled corpus: Spearman 0.83 between length and count), while WRD weighs
    each word by its vector's length expecting rarer, more informative words to
    be longer. This gives every row the inverse-document-frequency-like length
    ``log(N / n_w)`` (N tokens in the corpus, n_w of word w); cosines, and so
    word similarity, unit pooling and whitening, do not change. A zero row (or one
    of negligible length, below 1e-6 of the longest) stays zero.

    >>> idf_norms(np.array([[3.0, 4.0]]), np.array([10]), 1000).astype(np.float64).round(4).tolist()
    [[2.7631, 3.6841]]
    """
    lengths = np.linalg.norm(matrix.astype(np.float64), axis=1)
    target = np.log(total_tokens / np.asarray(counts, dtype=np.float64))
    # a row the SVD left at rounding-noise length has no direction to keep: it stays zero
    real = lengths > NOISE_LENGTH * (lengths.max() if lengths.size else 0.0)
    scale = np.divide(target, lengths, out=np.zeros_like(lengths), where=real)
    return (matrix * scale[:, None]).astype(np.float32)


def window_weights(window: int) -> np.ndarray:
    """Integer weight of distance d = 1..window: lcm(1..window) / d (index 0 unused)."""
    lcm = 1
    for d in range(1, window + 1):
        lcm = lcm * d // math.gcd(lcm, d)
    return np.array([0] + [lcm // d for d in range(1, window + 1)], dtype=np.int64)


# --------------------------------------------------------------------------- counting
def _pairs(
    ids: np.ndarray, doc: np.ndarray, window: int
) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(left ids, right ids, integer weights) of all in-document pairs up to ``window`` apart."""
    weights = window_weights(window)
    rows, cols, vals = [], [], []
    for d in range(1, min(window, len(ids) - 1) + 1):
        same = doc[:-d] == doc[d:]
        r = ids[:-d][same]
        rows.append(r)
        cols.append(ids[d:][same])
        vals.append(np.full(len(r), weights[d], dtype=np.int64))
    if not rows:
        empty = np.empty(0, dtype=np.int32)
        return empty, empty, np.empty(0, dtype=np.int64)
    return np.concatenate(rows), np.concatenate(cols), np.concatenate(vals)


def cooccurrence_counts(
    docs: Iterable[Sequence[int]], vocab_size: int, window: int
) -> sparse.csr_matrix:
    """Directed counts ``U[left, right]`` (int64, weights lcm/d) of token-id documents.

    The symmetric table of the module docstring is ``U + U.T``.
    """
    arrays = [np.asarray(d, dtype=np.int32) for d in docs]
    lengths = np.array([len(a) for a in arrays], dtype=np.int64)
    ids = np.concatenate(arrays) if arrays else np.empty(0, dtype=np.int32)
    return _count_chunk(ids, lengths, vocab_size, window)


def _count_chunk(
    ids: np.ndarray, lengths: np.ndarray, vocab_size: int, window: int
) -> sparse.csr_matrix:
    """Directed counts of documents given as concatenated ids (-1 = dropped) and lengths."""
    doc = np.repeat(np.arange(len(lengths), dtype=np.int64), lengths)
    keep = ids >= 0
    ids, doc = ids[keep], doc[keep]
    r, c, w = _pairs(ids, doc, window)
    table = sparse.coo_matrix((w, (r, c)), shape=(vocab_size, vocab_size), dtype=np.int64).tocsr()
    table.sum_duplicates()
    return table


def merge_tables(a: sparse.csr_matrix, b: sparse.csr_matrix) -> sparse.csr_matrix:
    """Sum of two partial co-occurrence tables (exact, associative, commutative)."""
    return (a + b).tocsr()


# worker state for the co-occurrence pass (set by _init_count, inherited or rebuilt)
_COUNT_STATE: Dict[str, object] = {}


def _init_count(ids_path: str, remap: np.ndarray, vocab_size: int, window: int) -> None:
    _COUNT_STATE.update(ids_path=ids_path, remap=remap, vocab_size=vocab_size, window=window)


def _count_item(item: Tuple[int, np.ndarray]) -> sparse.csr_matrix:
    """Partial table of one chunk: (offset in tokens, document lengths) of the spill file."""
    start, lengths = item
    st = _COUNT_STATE
    n = int(lengths.sum())
    gids = np.fromfile(st["ids_path"], dtype=np.int32, count=n, offset=4 * start)  # type: ignore[arg-type]
    ids = st["remap"][gids]  # type: ignore[index]
    return _count_chunk(ids, lengths, st["vocab_size"], st["window"])  # type: ignore[arg-type]


def _tokenize_item(item) -> Tuple[List[str], np.ndarray, np.ndarray]:
    """(batch word list, token ids into it, tokens per document) of one batch of documents."""
    from .tokenize import get_tokenizer

    spec, docs = item
    tokenizer = get_tokenizer(spec)
    index: Dict[str, int] = {}
    ids: List[int] = []
    lengths = np.empty(len(docs), dtype=np.int32)
    for i, doc in enumerate(docs):
        toks = tokenizer.tokens(doc)
        lengths[i] = len(toks)
        for t in toks:
            j = index.get(t)
            if j is None:
                j = index[t] = len(index)
            ids.append(j)
    return list(index), np.array(ids, dtype=np.int32), lengths


# --------------------------------------------------------------------------- PPMI and SVD
def ppmi_matrix(table: sparse.spmatrix, alpha: float = 0.75) -> sparse.csr_matrix:
    """Positive PMI (float32 CSR) of a symmetric co-occurrence table; see the module docstring.

    Zero entries stay zero; entries with PMI <= 0 are dropped. Computed in row
    blocks, so the float64 temporaries stay bounded.
    """
    table = sparse.csr_matrix(table)
    n_w = np.asarray(table.sum(axis=1), dtype=np.float64).ravel()
    n_c = np.asarray(table.sum(axis=0), dtype=np.float64).ravel()
    smoothed = n_c**alpha
    total = smoothed.sum()
    if total <= 0:
        return sparse.csr_matrix(table.shape, dtype=np.float32)
    with np.errstate(divide="ignore"):
        log_pc = np.log(smoothed / total)
        log_nw = np.log(n_w)
    indptr = table.indptr
    n_rows = table.shape[0]
    new_indptr = np.zeros(n_rows + 1, dtype=np.int64)
    out_idx, out_val = [], []
    row = 0
    while row < n_rows:
        stop = int(np.searchsorted(indptr, indptr[row] + _PPMI_BLOCK_NNZ, side="right")) - 1
        stop = min(max(stop, row + 1), n_rows)
        lo, hi = indptr[row], indptr[stop]
        data = table.data[lo:hi].astype(np.float64)
        cols = table.indices[lo:hi]
        rows = np.repeat(np.arange(row, stop), np.diff(indptr[row : stop + 1]))
        pmi = np.log(data) - log_nw[rows] - log_pc[cols]
        keep = (pmi > 0) & (data > 0)
        out_idx.append(cols[keep])
        out_val.append(pmi[keep].astype(np.float32))
        new_indptr[row + 1 : stop + 1] = np.cumsum(
            np.bincount(rows[keep] - row, minlength=stop - row)
        )
        new_indptr[row + 1 : stop + 1] += new_indptr[row]
        row = stop
    indices = np.concatenate(out_idx) if out_idx else np.empty(0, np.int32)
    values = np.concatenate(out_val) if out_val else np.empty(0, np.float32)
    return sparse.csr_matrix((values, indices, new_indptr), shape=table.shape)


_BLAS_THREAD_SYMBOLS = (
    ("openblas_get_num_threads", "openblas_set_num_threads"),
    ("scipy_openblas_get_num_threads", "scipy_openblas_set_num_threads"),
    ("scipy_openblas_get_num_threads64_", "scipy_openblas_set_num_threads64_"),
    ("openblas_get_num_threads64_", "openblas_set_num_threads64_"),
)


def reserve_blas_buffers() -> None:
    """Have OpenBLAS take its work buffers now, while memory is plentiful.

    OpenBLAS takes a thread's buffer (tens of MB) from malloc on its first large
    product and keeps it.  When that malloc fails, as under a memory limit
    (``ulimit -v``) reached late in a training run, OpenBLAS retries for ever:
    full CPU, deaf to SIGTERM (Python's handler waits for the C call to return).
    One product at the start reserves the buffers of both libraries training
    uses, numpy's and scipy's (PROPACK's); a later shortage is then a
    MemoryError from numpy, reported as out of memory.
    """
    from scipy.linalg import blas

    square = np.ones((256, 256), dtype=np.float32)
    square @ square
    blas.sgemm(1.0, square, square)


@contextmanager
def one_blas_thread():
    """Run the block with the loaded OpenBLAS libraries on one thread, then restore them.

    PROPACK's Lanczos steps are many small BLAS-2 calls; OpenBLAS threads spin-wait
    between them, which on a busy machine made ``svds`` 5-10x slower (measured: 58 s
    of CPU against 6.5 s for the same 40k x 40k PPMI matrix, k = 100). One thread also
    makes the floating-point result independent of the core count. Where no OpenBLAS
    is found (another BLAS, not Linux) this does nothing.
    """
    import ctypes

    import scipy.linalg  # noqa: F401  (loads scipy's BLAS before the scan)

    restore = []
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as fh:
            paths = sorted(
                {line.split()[-1] for line in fh if "openblas" in line.lower() and "/" in line}
            )
    except OSError:
        paths = []
    for path in paths:
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for get_name, set_name in _BLAS_THREAD_SYMBOLS:
            getter, setter = getattr(lib, get_name, None), getattr(lib, set_name, None)
            if getter is not None and setter is not None:
                restore.append((setter, int(getter())))
                setter(1)
                break
    try:
        yield
    finally:
        for setter, n in restore:
            setter(n)


_DENSE_SVD_MAX = 2000  # a matrix this small is decomposed whole when the truncated SVD fails


NOISE_LENGTH = 1e-6  # relative to the longest row: below it, what the SVD gives a row is rounding noise


def svd_vectors(
    matrix: sparse.spmatrix, dim: int, power: float = 0.5, seed: int = 0
) -> Tuple[np.ndarray, np.ndarray]:
    """(W = U S^power as float32 (n, dim), singular values descending) of a float32 matrix.

    A truncated SVD (PROPACK); a matrix of at most 2,000 rows or columns on which it does not
    converge (seen on two words and one dimension) is decomposed whole instead.  A row of
    length at most :data:`NOISE_LENGTH` times the longest is made zero (no direction).
    """
    from scipy.sparse.linalg import svds

    m = sparse.csr_matrix(matrix, dtype=np.float32)
    if dim >= min(m.shape):
        raise UsageError(
            f"--dim {dim} needs more than {dim} words; use --dim {max(1, min(m.shape) - 1)} or less"
        )
    v0 = np.random.default_rng(seed).standard_normal(m.shape[0]).astype(np.float32)
    try:
        with one_blas_thread():
            u, s, _ = svds(m, k=dim, solver="propack", v0=v0, random_state=seed)
    except np.linalg.LinAlgError as exc:  # PROPACK gives up on some tiny or degenerate matrices
        if min(m.shape) > _DENSE_SVD_MAX:
            raise DataError(f"the truncated SVD did not converge ({exc}); try another --dim or --seed") from None
        u, s, _ = np.linalg.svd(m.toarray().astype(np.float64), full_matrices=False)
        u, s = u[:, :dim], s[:dim]
    order = np.argsort(-s, kind="stable")
    u, s = fix_signs(u[:, order]), s[order]
    w = (u * (np.maximum(s, 0) ** power)).astype(np.float32)
    # a row the kept directions miss (its word's contexts lie in the dropped ones, or it has
    # none) comes out at rounding-noise length, pointing anywhere: it has no direction, zero it
    lengths = np.linalg.norm(w.astype(np.float64), axis=1)
    w[lengths <= NOISE_LENGTH * (lengths.max() if lengths.size else 0.0)] = 0
    return w, s.astype(np.float64)


# --------------------------------------------------------------------------- the whole run
@dataclass
class TrainingReport:
    documents: int = 0
    tokens: int = 0
    types: int = 0
    vocabulary: int = 0
    cooccurrence_nnz: int = 0
    ppmi_nnz: int = 0
    seconds_tokenize: float = 0.0
    seconds_count: float = 0.0
    seconds_svd: float = 0.0


def train_vectors(
    corpus,
    dest: Optional[str] = None,
    *,
    tokenizer_spec=None,
    options: TrainingOptions = TrainingOptions(),
    workers: int = 1,
    batch_chars: int = 1_000_000,
    chunk_tokens: Optional[int] = None,
    tmp_dir: Optional[str] = None,
):
    """Train vectors on ``corpus`` (a :class:`~textkit.corpus.Corpus`); save a store at
    ``dest`` when given. Returns (Vectors, TrainingReport).
    """
    from . import pool
    from .tokenize import as_tokenizer_spec
    from .vectors import Vectors, save_store

    check_corpus(corpus, "train_vectors")
    options.check()
    if dest is not None:  # before the work, not after it
        from .output import check_output_dir
        from .vectors import is_replaceable_store

        check_output_dir(str(dest), is_replaceable_store)
    reserve_blas_buffers()
    spec = as_tokenizer_spec(tokenizer_spec)
    report = TrainingReport()
    if chunk_tokens is None:
        chunk_tokens = max(100_000, 5_000_000 // options.window)
    with tempfile.TemporaryDirectory(prefix="textkit-train-", dir=tmp_dir) as tmp:
        ids_path = os.path.join(tmp, "ids.int32")
        t0 = time.perf_counter()
        index: Dict[str, int] = {}
        counts = np.zeros(0, dtype=np.int64)
        doc_lengths: List[np.ndarray] = []
        with open(ids_path, "wb") as spill:
            items = ((spec, batch) for batch in corpus.batches(max_chars=batch_chars))
            for words, ids, lengths in pool.imap(_tokenize_item, items, workers=workers):
                setdefault = index.setdefault
                gmap = np.fromiter(
                    (setdefault(w, len(index)) for w in words), dtype=np.int32, count=len(words)
                )
                gids = gmap[ids]
                spill.write(gids.tobytes())
                doc_lengths.append(lengths)
                if len(index) > len(counts):
                    counts = np.concatenate([counts, np.zeros(len(index) - len(counts), np.int64)])
                counts += np.bincount(gids, minlength=len(counts))
                report.documents += len(lengths)
                report.tokens += len(gids)
        report.types = len(index)
        report.seconds_tokenize = time.perf_counter() - t0
        log.info(
            "tokenized %s documents: %s tokens, %s distinct words (%.1f s)",
            f"{report.documents:,}",
            f"{report.tokens:,}",
            f"{report.types:,}",
            report.seconds_tokenize,
        )
        if report.tokens == 0:
            raise CorpusError(
                f"{', '.join(corpus.sources)}: the corpus holds no tokens "
                f"({report.documents} documents); "
                "nothing to train on"
            )
        all_words = list(index)
        del index
        kept = np.flatnonzero(counts >= options.min_count)
        if len(kept) == 0:
            raise UsageError(
                f"no word occurs --min-count {options.min_count} times or more "
                f"(the most frequent occurs {int(counts.max())} times); lower --min-count"
            )
        ranked = sorted((-int(counts[g]), all_words[g], g) for g in kept.tolist())
        order = [g for _, _, g in ranked]
        del ranked
        vocab_size = len(order)
        report.vocabulary = vocab_size
        if vocab_size < 2:
            raise UsageError(
                f"the corpus is too small: only {vocab_size} word(s) occur --min-count "
                f"{options.min_count} times or more, and vectors need two at least "
                "(lower --min-count, or give more text)"
            )
        if vocab_size <= options.dim:
            raise UsageError(
                f"the corpus is too small for --dim {options.dim}: only {vocab_size} words occur "
                f"--min-count {options.min_count} times or more; "
                f"use --dim {max(1, vocab_size - 1)} "
                "or less (or a lower --min-count, or more text)"
            )
        remap = np.full(len(all_words), -1, dtype=np.int32)
        remap[np.array(order, dtype=np.int64)] = np.arange(vocab_size, dtype=np.int32)
        words = [all_words[g] for g in order]
        word_counts = counts[np.array(order, dtype=np.int64)]
        del all_words, counts
        log.info(
            "vocabulary: %s words occur at least %d times", f"{vocab_size:,}", options.min_count
        )

        t1 = time.perf_counter()
        chunks = list(_chunks(doc_lengths, chunk_tokens))
        with pool.exclusive():  # the state is cleared below: not while another thread's run reads it
            upper = pool.map_reduce(
                _count_item,
                merge_tables,
                chunks,
                workers=workers,
                initializer=_init_count,
                initargs=(ids_path, remap, vocab_size, options.window),
            )
            _COUNT_STATE.clear()
    table = (upper + upper.T).tocsr()
    del upper
    report.cooccurrence_nnz = int(table.nnz)
    ppmi = ppmi_matrix(table, options.alpha)
    del table
    report.ppmi_nnz = int(ppmi.nnz)
    report.seconds_count = time.perf_counter() - t1
    log.info(
        "co-occurrence: %s pairs, %s with positive PMI (%.1f s)",
        f"{report.cooccurrence_nnz:,}",
        f"{report.ppmi_nnz:,}",
        report.seconds_count,
    )
    if report.ppmi_nnz == 0:
        raise DataError(
            f"no two words occur within {options.window} words of each other with positive PMI: "
            "nothing to learn from (give more text, or a wider --window)"
        )
    no_context = int(np.count_nonzero(ppmi.getnnz(axis=1) == 0))  # rows the SVD can only leave zero
    t2 = time.perf_counter()
    matrix, singular = svd_vectors(ppmi, options.dim, options.power, options.seed)
    del ppmi
    report.seconds_svd = time.perf_counter() - t2
    log.info("SVD to %d dimensions (%.1f s)", options.dim, report.seconds_svd)
    if options.norms == "idf":
        matrix = idf_norms(matrix, word_counts, report.tokens)
    zero_rows = int(np.count_nonzero(~matrix.any(axis=1)))
    if no_context:
        log.warning("%s word(s) have no context with positive PMI and get a zero vector "
                    "(no neighbours)", f"{no_context:,}")
    if zero_rows > no_context:
        log.warning("%s word(s) get a zero vector (no neighbours): their contexts lie outside the %s "
                    "kept (a larger --dim keeps more, if the corpus has them)",
                    f"{zero_rows - no_context:,}",
                    "direction" if options.dim == 1 else f"{options.dim} directions")
    if options.limit is not None and options.limit < len(words):
        words, matrix, word_counts = (
            words[: options.limit],
            matrix[: options.limit],
            word_counts[: options.limit],
        )
    source = {
        "trained": {
            **asdict(options),
            "method": "PPMI (1/distance window, smoothing alpha) + truncated SVD, W = U S^power",
            "tokenizer": {key: os.path.basename(value) if key in ("user_dict", "stopwords") and value else value
                          for key, value in asdict(spec).items()},  # file names, as for the corpus
            "corpus": [os.path.basename(s) for s in corpus.sources],
            "documents": report.documents,
            "tokens": report.tokens,
            "vocabulary": report.vocabulary,
            "cooccurrence_nnz": report.cooccurrence_nnz,
            "ppmi_nnz": report.ppmi_nnz,
            "singular_values": [round(float(x), 6) for x in singular],
        }
    }
    if dest is not None:
        vectors = save_store(
            dest, words, matrix, counts=word_counts, dtype=options.dtype, source=source
        )
    else:
        if options.dtype == "int8":
            m = Int8Matrix(*quantize_rows(matrix))
        else:
            m = matrix.astype(np.float16) if options.dtype == "float16" else matrix
        vectors = Vectors(words, m, counts=word_counts, meta={"source": source})
    return vectors, report


def _chunks(doc_lengths: List[np.ndarray], chunk_tokens: int) -> Iterable[Tuple[int, np.ndarray]]:
    """(token offset, document lengths) runs of whole documents of about ``chunk_tokens`` tokens."""
    lengths = np.concatenate(doc_lengths) if doc_lengths else np.empty(0, np.int32)
    ends = np.cumsum(lengths, dtype=np.int64)
    start_doc, start_tok = 0, 0
    while start_doc < len(lengths):
        stop_doc = int(np.searchsorted(ends, start_tok + chunk_tokens, side="right"))
        stop_doc = max(stop_doc, start_doc + 1)
        part = lengths[start_doc:stop_doc]
        yield start_tok, part
        start_tok = int(ends[stop_doc - 1])
        start_doc = stop_doc
