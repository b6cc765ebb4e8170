"""Sentence vectors from tokens: pooled word vectors, optional SIF weighting.

For a sentence with tokens t_1 … t_m, of which the known (in-vocabulary) ones
are K ⊆ {1..m}, the sentence vector is

    s = (1/|K|) Σ_{i∈K} w(t_i) · v(t_i)

where v(t) is the word's unit-length vector (``pooling="unit"``, the default:
every word counts equally whatever its norm) or its stored row
(``pooling="raw"``), and w(t) = 1 without weighting, or with
``weighting="sif"`` (Arora, Liang & Ma 2017, smooth inverse frequency)

    w(t) = a / (a + p(t)) ,   a = ``sif_a`` (1e-3 by default)

with p(t) the word's relative frequency (a fraction in [0, 1]).  p comes from,
in order of preference: ``counts`` (a mapping word -> count, or what
``textkit.read_counts`` gives for a file made by ``textkit count``; a store
word missing from it gets p = 0, weight 1); the
store's own ``counts`` (from training); or the store's frequency order under
Zipf's law, p(rank r) = 1 / (r · H_V) with H_V the V-th harmonic number (an
approximation: the store's rows must be sorted by decreasing frequency, as
every common format is).  Only the weighting of SIF is done here, not the
removal of the first principal component (whitening subsumes it).

OOV tokens are skipped and counted, and so are words stored as a zero row (no
direction; WRD gives them no mass either).  A sentence with no known token gets the
zero vector (never NaN); ``EncodedBatch.known == 0`` marks it so the caller
can warn with its line number.  Sums run in float64; the result is float32.

Example:
    >>> import numpy as np
    >>> class Tiny:                      # anything with the vector-store attributes
    ...     words = ["a", "b"]; dim = 2; identity = "tiny"; counts = None
    ...     matrix = np.array([[2.0, 0.0], [0.0, 1.0]], dtype=np.float32)
    ...     def __len__(self): return 2
    ...     def lookup(self, tokens):
    ...         ids = np.array([self.words.index(t) if t in self.words else -1 for t in tokens], dtype=np.int64)
    ...         return ids, ids >= 0
    ...     def unit(self): return self.matrix / np.linalg.norm(self.matrix, axis=1, keepdims=True)
    >>> batch = SentenceEncoder(Tiny()).encode([["a", "b", "zzz"], ["zzz"]])
    >>> batch.matrix.tolist(), batch.known.tolist(), batch.total.tolist()
    ([[0.5, 0.5], [0.0, 0.0]], [2, 0], [3, 1])
"""

from __future__ import annotations

import functools
import logging
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import sparse

from textkit.errors import UsageError, real_number

log = logging.getLogger("textkit.sentences")

POOLINGS = ("unit", "raw")
WEIGHTINGS = (None, "sif")
# the cosine score of a pair with a side of no known word (a zero vector): the worst
# cosine, so that the pair ranks last, as transport's error value does for WMD and WRD
EMPTY_COSINE = -1.0


def cosine_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise cosine similarity a_i · b_i / (‖a_i‖ ‖b_i‖), float64 in [-1, 1].

    Where either row is the zero vector (a sentence with no known word) the
    worst cosine, :data:`EMPTY_COSINE`.  Two identical rows give exactly 1 (and
    opposite rows -1): the quotient computed in floating point misses it by up to a few 1e-16, and
    differently for each vector, so pairs that are mathematically tied (two
    sentences with the same bag of words, e.g. paraphrases by word order) would
    be ranked by rounding noise.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    norms = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    dots = np.einsum("ij,ij->i", a, b)
    cos = np.divide(dots, norms, out=np.full_like(dots, EMPTY_COSINE), where=norms > 0)
    np.clip(cos, -1.0, 1.0, out=cos)
    cos[(norms > 0) & (a == b).all(axis=1)] = 1.0
    cos[(norms > 0) & (a == -b).all(axis=1)] = -1.0
    return cos


@dataclass
class EncodedBatch:
    """matrix: float32 (n, dim) sentence vectors; known / total: int64 (n,) known and all tokens."""

    matrix: np.ndarray
    known: np.ndarray
    total: np.ndarray

    def __len__(self) -> int:
        return int(self.matrix.shape[0])


def zipf_probabilities(size: int) -> np.ndarray:
    """p(rank r) = 1 / (r · H_size) for r = 1..size (float64, sums to 1)."""
    ranks = np.arange(1, size + 1, dtype=np.float64)
    inverse = 1.0 / ranks
    return inverse / inverse.sum()


def sif_weights(probabilities: np.ndarray, a: float = 1e-3) -> np.ndarray:
    """a / (a + p) elementwise, float64."""
    p = np.asarray(probabilities, dtype=np.float64)
    return a / (a + p)


class SentenceEncoder:
    """Pool word vectors of a vector store into sentence vectors (maths in the module docstring)."""

    def __init__(
        self,
        vectors: Any,
        *,
        pooling: str = "unit",
        weighting: str | None = None,
        counts: Mapping[str, int] | None = None,
        sif_a: float = 1e-3,
    ):
        if pooling not in POOLINGS:
            raise UsageError(f"pooling must be one of {', '.join(POOLINGS)}, got {pooling!r}")
        if weighting not in WEIGHTINGS:
            raise UsageError(f"weighting must be 'sif' or none, got {weighting!r}")
        sif_a = real_number(sif_a, "sif_a")
        if not 0 < sif_a < math.inf:
            raise UsageError(f"the SIF constant a must be a positive number, got {sif_a}")
        from textkit.vectors import as_vectors

        vectors = as_vectors(vectors)  # a path or None (the bundled store) too
        self.vectors = vectors
        self.pooling = pooling
        self.weighting = weighting
        self.sif_a = float(sif_a)
        self.dim = int(vectors.dim)
        self._unit_rows = getattr(vectors, "unit_rows", None)
        if self._unit_rows is None and pooling == "unit":  # another vectors class: its unit(), once
            unit = vectors.unit()
            self._unit_rows = unit.__getitem__
        self.frequency_source = None
        self._row_weights: np.ndarray | None = None
        if weighting == "sif":
            probabilities = self._probabilities(counts)
            self._row_weights = sif_weights(probabilities, self.sif_a)

    def _probabilities(self, counts: Mapping[str, int] | None) -> np.ndarray:
        """p(w) for every store row, float64 (V,)."""
        size = len(self.vectors)
        counts = getattr(counts, "counts", counts)  # a WordCounts, as textkit.read_counts returns it
        if counts is not None:
            total = float(sum(counts.values()))
            if total <= 0:
                raise UsageError("the word counts for SIF weighting are empty")
            p = np.zeros(size, dtype=np.float64)
            words = list(counts)
            ids, known = self.vectors.lookup(words)
            freq = np.fromiter((counts[w] for w in words), dtype=np.float64, count=len(words))
            p[ids[known]] = freq[known] / total
            self.frequency_source = "counts"
            return p
        store_counts = getattr(self.vectors, "counts", None)
        if store_counts is not None:
            c = np.asarray(store_counts, dtype=np.float64)
            self.frequency_source = "store counts"
            return c / c.sum()
        log.info(
            "SIF weighting: no word counts given (--counts) and the store has none; "
            "estimating p(w) from the store's frequency order (Zipf's law)"
        )
        self.frequency_source = "zipf rank"
        return zipf_probabilities(size)

    def describe(self) -> str:
        """A short label of the encoder settings, recorded with whitening parameters.

        For SIF it names where p(w) came from (``p=counts``: a count file,
        ``p=store counts``, ``p=zipf rank``), so parameters fitted with one source
        and applied with another are warned of.
        """
        weighting = "none" if self.weighting is None else f"sif(a={self.sif_a!r},p={self.frequency_source})"
        return f"pooling={self.pooling} weighting={weighting}"

    def encode(self, token_lists: Iterable[Iterable[str]]) -> EncodedBatch:
        """Sentence vectors for a batch of token lists (empty lists allowed; any iterables)."""
        from textkit.tokenize import as_token_lists

        if isinstance(token_lists, str):
            raise TypeError("give a list of token lists, not strings (tokenize each text first, e.g. "
                            "textkit.get_tokenizer(textkit.TokenizerSpec()).tokens(text))")
        token_lists = as_token_lists(token_lists)  # every one a list or tuple, none a string
        n = len(token_lists)
        total = np.fromiter((len(t) for t in token_lists), dtype=np.int64, count=n)
        flat = [tok for toks in token_lists for tok in toks]
        if not flat:
            return EncodedBatch(np.zeros((n, self.dim), np.float32), np.zeros(n, np.int64), total)
        ids, known_mask = self.vectors.lookup(flat)
        ids = np.asarray(ids, dtype=np.int64)
        known_mask = np.asarray(known_mask, dtype=bool)
        sentence_of = np.repeat(np.arange(n), total)[known_mask]
        ids = ids[known_mask]
        if ids.size:
            rows, local = np.unique(ids, return_inverse=True)
            picked = self._unit_rows(rows) if self.pooling == "unit" else self.vectors.matrix[rows]
            base = np.asarray(picked, dtype=np.float64)
            if self.pooling == "raw" and not np.isfinite(base).all():  # unit rows were checked by unit_rows()
                from textkit.vectors import damaged_row_error

                row = int(rows[np.flatnonzero(~np.isfinite(base).all(axis=1))[0]])
                raise damaged_row_error(self.vectors.words, row, getattr(self.vectors, "path", None))
            blank = ~base.any(axis=1)
            if blank.any():  # a word stored as a zero row has no direction: counted as unknown
                keep = ~blank[local]
                ids, local, sentence_of = ids[keep], local[keep], sentence_of[keep]
        known = np.bincount(sentence_of, minlength=n).astype(np.int64)
        out = np.zeros((n, self.dim), dtype=np.float64)
        if ids.size:
            weights = np.ones(ids.size) if self._row_weights is None else self._row_weights[ids]
            weights = weights / known[sentence_of]
            pool = sparse.csr_matrix((weights, (sentence_of, local)), shape=(n, rows.size))
            out = pool @ base
        return EncodedBatch(np.asarray(out, dtype=np.float32), known, total)


# ---------------------------------------------------------------------------
# Streaming pipeline: corpus -> batches of lines -> pool workers (tokenize + encode)
# ---------------------------------------------------------------------------

MAX_BATCH_LINES = 4096
MAX_BATCH_CHARS = 200_000
SHOWN_EMPTY_WARNINGS = 10


@dataclass(frozen=True)
class EncoderSpec:
    """Everything a worker needs to rebuild the encoder: picklable and hashable.

    vectors: a store path or any convertible vectors file (None -> the default store);
    counts: a count file made by ``textkit count`` for SIF's p(w) (None -> store counts / Zipf).
    """

    tokenizer: Any = None
    vectors: str | None = None
    pooling: str = "unit"
    weighting: str | None = None
    counts: str | None = None
    sif_a: float = 1e-3

    def __post_init__(self) -> None:
        if self.tokenizer is not None:
            from textkit.tokenize import as_tokenizer_spec

            as_tokenizer_spec(self.tokenizer)  # a TypeError for e.g. the string "char"


def as_encoder_spec(spec) -> EncoderSpec:
    """``spec``; ``EncoderSpec()`` for None, ``EncoderSpec(tokenizer=spec)`` for a TokenizerSpec;
    TypeError for anything else."""
    from textkit.tokenize import TokenizerSpec

    if spec is None:
        return EncoderSpec()
    if isinstance(spec, TokenizerSpec):
        return EncoderSpec(tokenizer=spec)
    if not isinstance(spec, EncoderSpec):
        raise TypeError(f"expected an EncoderSpec (e.g. EncoderSpec(weighting='sif')), not "
                        f"{type(spec).__name__} {spec!r:.60}")
    return spec


_WORKER_STATE: dict[tuple, tuple[Any, SentenceEncoder]] = {}


def read_counts(path: str) -> dict[str, int]:
    """word -> count from a count file made by ``textkit count`` (via textkit.counting).

    p(w) = count / (sum of the file's counts); a file cut with --top/--min-count
    lacks the rare words' mass, which slightly raises every p(w).
    """
    from textkit.counting import read_counts as read_count_file
    from textkit.errors import DataError

    counts = dict(read_count_file(path).counts)
    if sum(counts.values()) <= 0:
        raise DataError(f"{'<stdin>' if path == '-' else path}: no word counts in it (SIF needs p(w) = "
                        f"count / total; make one with `textkit count`)")
    return counts


def encoder_settings(description: str) -> dict:
    """The ``pooling``, ``weighting`` and ``sif_a`` arguments of the encoder a
    :meth:`SentenceEncoder.describe` text records (saved with whitening parameters).

    An empty or unreadable text (parameters saved without it) gives ``{}``: the defaults.
    """
    found = re.fullmatch(r"pooling=(\S+) weighting=(?:(none)|sif\(a=([^,)]+)(?:,p=[^)]*)?\))", description.strip())
    if found is None or found.group(1) not in POOLINGS:
        return {}
    if found.group(2):
        return {"pooling": found.group(1), "weighting": None}
    try:
        sif_a = float(found.group(3))
    except ValueError:
        return {}
    return {"pooling": found.group(1), "weighting": "sif", "sif_a": sif_a}


def fitted_spec(spec: EncoderSpec, description: str, keep: Iterable[str] = ()) -> EncoderSpec:
    """``spec`` with the pooling, weighting and SIF constant ``a`` that ``description`` (the
    ``encoder_`` of saved whitening parameters) records, but for the settings named in ``keep``
    (those a user chose).  ``a`` is taken only when the resulting weighting is SIF.  A
    description that records none (parameters saved without it) leaves ``spec`` as it is.

    Whitening is fitted on sentence vectors made one way; applying it to vectors
    made another way gives directions the fit never saw, so by default the fit's
    own settings are used.
    """
    import dataclasses

    keep = set(keep)
    settings = {name: value for name, value in encoder_settings(description).items() if name not in keep}
    adopted = dataclasses.replace(spec, **settings)
    if adopted.weighting != "sif" and "sif_a" in settings:
        adopted = dataclasses.replace(adopted, sif_a=spec.sif_a)
    return adopted


def build_encoder(spec: EncoderSpec) -> tuple[Any, SentenceEncoder]:
    """(tokenizer, encoder) for a spec, built once per process (forked workers inherit it).

    Files named in the spec are known by path, size and modification time
    (:func:`textkit.corpus.cache_key`): a rewritten store or counts file is read anew.
    """
    from textkit.corpus import cache_key
    from textkit.vectors import MATRIX_FILE, META_FILE, VOCAB_FILE

    key = (spec, cache_key(spec.vectors, META_FILE, MATRIX_FILE, VOCAB_FILE), cache_key(spec.counts))
    entry = _WORKER_STATE.get(key)
    if entry is None:
        from textkit.tokenize import TokenizerSpec, get_tokenizer
        from textkit.vectors import open_vectors

        tokenizer = get_tokenizer(spec.tokenizer if spec.tokenizer is not None else TokenizerSpec())
        vectors = open_vectors(spec.vectors)
        counts = read_counts(spec.counts) if spec.counts is not None else None
        encoder = SentenceEncoder(
            vectors, pooling=spec.pooling, weighting=spec.weighting, counts=counts, sif_a=spec.sif_a
        )
        entry = (tokenizer, encoder)  # returned as made: another thread may clear the cache meanwhile
        _WORKER_STATE.clear()  # one encoder per process: a store can be large
        _WORKER_STATE[key] = entry
    return entry


def encode_texts(spec: EncoderSpec, texts: Sequence[str]) -> EncodedBatch:
    """Worker function: tokenize and encode a batch of texts with the encoder of ``spec``.

    The encoder is built once per process (:func:`build_encoder`); the spec travels
    with every batch, so two runs with different specs in one process stay apart.
    """
    tokenizer, encoder = build_encoder(spec)
    return encoder.encode([tokenizer.tokens(t) for t in texts])


def stats_of_texts(spec: EncoderSpec, texts: Sequence[str]) -> Any:
    """Worker function: whitening statistics of a batch, sentences with no known token left out."""
    from textkit.whitening import batch_stats

    batch = encode_texts(spec, texts)
    return (batch_stats(batch.matrix[batch.known > 0]), int(np.count_nonzero(batch.known == 0)))


def _record_batches(records: Any, max_lines: int, max_chars: int) -> Any:
    batch: list[Any] = []
    size = 0
    for rec in records:
        batch.append(rec)
        size += len(rec.text) + 1
        if len(batch) >= max_lines or size >= max_chars:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


class EmbeddingRun:
    """Sentence vectors for every line of a corpus, streamed in batches, in input order.

    Iterating yields ``(records, EncodedBatch)`` pairs; a line with no known token
    gets a zero row and a warning naming its source and line (the first
    ``SHOWN_EMPTY_WARNINGS``, then a count).  After the run, ``sentences``,
    ``tokens``, ``known_tokens`` and ``empty`` hold the totals and
    ``oov_rate`` = 1 - known_tokens / tokens.
    """

    def __init__(
        self,
        corpus: Any,
        spec: EncoderSpec,
        *,
        workers: int = 1,
        max_lines: int | None = None,
        max_chars: int | None = None,
    ):
        self.corpus = corpus
        self.spec = spec
        self.workers = workers
        self.max_lines = max_lines or MAX_BATCH_LINES
        self.max_chars = max_chars or MAX_BATCH_CHARS
        self.sentences = self.tokens = self.known_tokens = self.empty = 0

    @property
    def encoder(self) -> SentenceEncoder:
        return build_encoder(self.spec)[1]

    @property
    def oov_rate(self) -> float:
        return 1.0 - self.known_tokens / self.tokens if self.tokens else 0.0

    def __iter__(self) -> Any:
        from textkit.pool import imap

        build_encoder(self.spec)  # in the parent, so forked workers share it
        batches = _record_batches(self.corpus.records(), self.max_lines, self.max_chars)
        held: list[Any] = []

        def texts() -> Any:
            for batch in batches:
                held.append(batch)
                yield [rec.text for rec in batch]

        results = imap(functools.partial(encode_texts, self.spec), texts(), workers=self.workers)
        for encoded in results:
            records = held.pop(0)
            self._account(records, encoded)
            yield records, encoded
        if self.empty > SHOWN_EMPTY_WARNINGS:
            log.warning(
                "%d more lines had no known word (zero vectors)", self.empty - SHOWN_EMPTY_WARNINGS
            )
        if not self.sentences:
            log.warning("the input has no lines: no sentence vectors")
        elif self.tokens:
            log.info(
                "%d sentence%s, %d tokens, %.1f%% out of vocabulary",
                self.sentences,
                "" if self.sentences == 1 else "s",
                self.tokens,
                100.0 * self.oov_rate,
            )

    def _account(self, records: Sequence[Any], encoded: EncodedBatch) -> None:
        self.sentences += len(records)
        self.tokens += int(encoded.total.sum())
        self.known_tokens += int(encoded.known.sum())
        for row in np.flatnonzero(encoded.known == 0):
            self.empty += 1
            if self.empty <= SHOWN_EMPTY_WARNINGS:
                rec = records[row]
                log.warning("%s:%d: no known word; its vector is zero", rec.source, rec.line)


def fit_whitening(
    corpus: Any,
    spec: EncoderSpec,
    *,
    n_components: int | None = None,
    eigenvalue_floor: float | None = None,
    workers: int = 1,
    max_lines: int | None = None,
    max_chars: int | None = None,
) -> Any:
    """Fit a ``Whitening`` on the sentence vectors of every line of ``corpus``, streamed.

    Workers return per-batch statistics (textkit.whitening.batch_stats); the parent
    merges them in input order, so the result is bit-identical for any ``workers``.
    Lines with no known word are left out of the fit (a zero vector is "no data").
    """
    from textkit.corpus import check_corpus
    from textkit.pool import imap
    from textkit.whitening import Whitening, merge_stats

    check_corpus(corpus, "fit_whitening")
    spec = as_encoder_spec(spec)
    whitening = Whitening(n_components, eigenvalue_floor=eigenvalue_floor)
    _, encoder = build_encoder(spec)
    if n_components is not None and n_components > encoder.dim:
        raise UsageError(f"n_components (--dim) {n_components} is larger than the vector dimension {encoder.dim}")
    batches = (
        [rec.text for rec in batch]
        for batch in _record_batches(
            corpus.records(), max_lines or MAX_BATCH_LINES, max_chars or MAX_BATCH_CHARS
        )
    )
    total = None
    empty = 0
    for stats, n_empty in imap(functools.partial(stats_of_texts, spec), batches, workers=workers):
        total = merge_stats(total, stats)
        empty += n_empty
    if empty:
        log.info("whitening fit: left out %s line%s with no known word", f"{empty:,}", "" if empty == 1 else "s")
    if total is None or total.n < 2:
        from textkit.errors import DataError

        got = 0 if total is None else total.n
        read = ", ".join("<stdin>" if s == "-" else s for s in corpus.sources[:3])
        read += ", ..." if len(corpus.sources) > 3 else ""
        raise DataError(f"{read}: whitening needs at least 2 sentences with known words, got {got}")
    return whitening.fit_stats(
        total, vectors_identity=str(encoder.vectors.identity), encoder=encoder.describe(),
        tokenizer=spec.tokenizer.describe(),
    )


class NpyRowWriter:
    """Write float32 rows of a known width to a binary ``.npy`` file without knowing the count.

    The header is written with room for any row count and rewritten with the real
    shape on ``close`` (npy format 1.0: magic, header length, a padded dict literal).
    """

    HEADER_BYTES = 128

    def __init__(self, handle: Any, dim: int):
        self.handle = handle
        self.dim = int(dim)
        self.rows = 0
        handle.write(self._header(0))

    def _header(self, rows: int) -> bytes:
        text = f"{{'descr': '<f4', 'fortran_order': False, 'shape': ({rows}, {self.dim}), }}"
        body_len = self.HEADER_BYTES - 10
        return (
            b"\x93NUMPY\x01\x00"
            + body_len.to_bytes(2, "little")
            + text.ljust(body_len - 1).encode("latin1")
            + b"\n"
        )

    def add(self, matrix: np.ndarray) -> None:
        rows = np.ascontiguousarray(matrix, dtype="<f4")
        if rows.ndim != 2 or rows.shape[1] != self.dim:
            raise ValueError(f"expected rows of width {self.dim}, got shape {rows.shape}")
        self.handle.write(rows.tobytes())
        self.rows += rows.shape[0]

    def close(self) -> None:
        self.handle.seek(0)
        self.handle.write(self._header(self.rows))
        self.handle.seek(0, 2)
