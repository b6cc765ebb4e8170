"""Top-k nearest documents by WMD or WRD, with exact lower-bound pruning.

Given a query bag q and documents d_1..d_N (see :mod:`textkit.transport` for
bags, costs and the bounds), return the k documents with the smallest
transport distance D(q, d), ordered by (distance, line number) -- the line
number is the explicit tie-break -- with the score of each (WMD: the
distance; WRD: the similarity 1 - WRD).

Pruning (after Kusner et al. 2015, "prefetch and prune"), exact by construction:

1. Cheap bounds for every document at once: the centroid bound (WCD, or
   ||c_q - c_d||^2 / 2 for WRD) from cached centroids, and the one-sided
   relaxation sum_j b_j min_i C_ij (each document word to its nearest query
   word) from one cost matrix between the query words and the index's
   vocabulary; L1(d) is the larger of the two.
2. The k documents with the smallest (L1, line) are solved exactly; the worst of
   them is the threshold t (and it only falls from then on).
3. The rest, in (L1, line) order, are taken in batches (64 documents, doubling):
   the batch's dual bound L2 >= L1 (see :mod:`textkit.transport`) is computed,
   vectorised over its documents, and a document is solved exactly unless
   L2 > t + tol.  The scan ends at the first document with L1 > t + tol.

``tol = 1e-9 (1 + |t|)`` absorbs rounding in the bounds (computed in a different
order than the exact value), so a document whose true distance ties with or
beats the threshold is always solved.  Every exact value comes from the same
function as in brute force (:meth:`Transport.distance` on the same bag data),
so scores are bit-identical and so is the order: pruning never changes the
answer, only how many exact solves it takes (tests compare with brute force).

Unknown tokens follow the OOV policy of :mod:`textkit.transport` (drop, error,
or split into known pieces) in the documents as in the query.  The documents'
policy is fixed when the index is built; a query with another policy would
compare bags made by different rules, so it is refused unless no document token
was unknown (then every policy gives the same document bags).

A prepared index (:meth:`SearchIndex.save`) keeps the corpus's token ids (distinct
known words and counts per line) and the texts in one ``.npz`` (no pickle), tied
to the vector store's identity, the tokenizer settings and the OOV policy.  The
centroids are not stored: computed from the ids for the metric a search uses,
they take about half a second for 156,000 lines, while stored as float64 for
every metric they made the file about 25 times the corpus's size (625 MB for
25 MB), slower to read from a cold disk than to recompute.  (Indexes written
with centroids are still read, and theirs used.)  A search holds the corpus in
memory: about its size again in token ids, and N x dim float64 centroids.
"""

from __future__ import annotations

import heapq
import json
import logging
import os
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass

import numpy as np
from scipy import sparse

from .corpus import file_stamp
from .archive import read_npz
from .errors import DataError, UsageError, numpy_file_problem, preview, whole_number
from .tokenize import as_token_lists
from .transport import (OOV_POLICIES, EmptyBagError, RowTable, Transport, distinct_counts, euclidean_costs,
                        piece_finder, token_rows)

log = logging.getLogger("textkit.search")

INDEX_FORMAT = "textkit-search-index"
INDEX_VERSION = 1
_BATCH_DOCS = 2000
_CHUNK_CELLS = 4_000_000  # query words x document words per vectorised dual-bound chunk
_GRAM_SLACK = 1e-12  # relative rounding allowance of a Gram-form squared distance (dim * 2^-53 << 1e-12)
_BATCH_START, _BATCH_MAX = 64, 4096  # documents per dual-bound batch: the first, and at most
_METRIC_KEYS = {("wmd", False): "wmd", ("wmd", True): "wmd_unit", ("wrd", False): "wrd"}


@dataclass(frozen=True)
class Hit:
    """One result: the printed ``score``, the exact ``distance``, the corpus ``line`` (1-based), the text."""

    score: float
    distance: float
    line: int
    text: str


@dataclass
class SearchResult:
    """Hits best first and what the pruning did."""

    hits: list[Hit]
    documents: int = 0          # documents with at least one known word
    exact: int = 0              # exact transport solves
    pruned_centroid: int = 0    # documents ruled out by the centroid bound
    pruned_relaxed: int = 0     # documents ruled out by the other bounds (one-sided relaxation, dual)

    def __iter__(self):
        return iter(self.hits)

    def __len__(self):
        return len(self.hits)


_SPEC_FILES = ("user_dict", "stopwords")  # tokenizer settings that name a file


_UNCHECKABLE = "pipe:"  # a file setting read from a pipe or standard input: its content is unknown


def _meta_problem(meta: dict) -> str:
    """What is wrong with an index's recorded settings ("" if nothing): each of its JSON type,
    ``identity`` and ``tokenizer`` present, the others absent or null in older indexes."""
    kinds = {"identity": str, "tokenizer": dict, "oov": str, "unknown": int, "source": str, "source_stamp": list}
    for key, kind in kinds.items():
        value = meta.get(key)
        if value is None and key in ("identity", "tokenizer"):
            return f"no {key} recorded"
        if value is not None and (not isinstance(value, kind) or isinstance(value, bool)):
            return f"its {key} is {preview(json.dumps(value), 30)}"
    return ""


def _spec_settings(settings: dict, given: bool = False) -> dict:
    """Tokenizer settings with each file named by its content (``sha256:...``), as :func:`_spec_json`
    saves them: the same dictionary under another name, or in a copied or moved folder, compares
    equal, and an edited one differs.  Only regular files are read here (a pipe would be used up
    before the tokenizer reads it): a pipe or standard input is ``pipe:NAME``, which nothing
    matches (:meth:`SearchIndex.load` refuses it); anything else (a name an older index saved
    that is gone, a device) keeps its name.  A ``given`` file that is missing or cut short is an
    error naming it."""
    return {key: _file_identity(value, given) if key in _SPEC_FILES else value for key, value in settings.items()}


def _file_identity(value, given: bool):
    if value in (None, "", "default") or str(value).startswith(("sha256:", _UNCHECKABLE)):
        return value
    import hashlib

    from .corpus import _DECOMPRESSION_ERRORS, open_binary
    from .errors import CorpusError

    path = str(value)
    if given and path != "-" and not os.path.exists(path):
        raise CorpusError(f"{path}: no such file or directory")
    if path == "-" or _is_pipe(path):
        return _UNCHECKABLE + path
    if not os.path.isfile(path):  # gone (an older index's name), a folder, /dev/null: compared by name
        return path
    try:
        with open_binary(path) as stream:  # compressed or not, as the tokenizer reads it
            return "sha256:" + hashlib.sha256(stream.read()).hexdigest()
    except (CorpusError, OSError, *_DECOMPRESSION_ERRORS) as exc:
        if given:  # the user's file: say what is wrong with it
            raise CorpusError(f"{path}: cannot be read ({exc})") from None
        return path  # an older index's name, unreadable now: compared by name


def _is_pipe(path: str) -> bool:
    """A pipe, FIFO or socket (``<(cmd)``, ``/dev/stdin`` from a pipe): read once, by the tokenizer."""
    import stat

    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)


def _shown(value) -> str:
    """A setting as an error message shows it (a file by the start of its content digest)."""
    if isinstance(value, str) and value.startswith("sha256:"):
        return f"a file with content {value[:15]}..."
    return repr(value)


def _spec_json(spec) -> str:
    return json.dumps(_spec_settings(asdict(spec)), sort_keys=True, ensure_ascii=False)


def doc_table(token_lists: Sequence[Sequence[str]], vectors, *, oov: str = "drop", pieces=None,
              whats: Sequence[str] | None = None):
    """The index's rows for many token lists: ``(n_tokens, unknown, dropped, lengths, ids, counts)``.

    Per text: its tokens, how many were not in the vocabulary and how many of
    those were dropped (the OOV policy of :func:`textkit.transport.token_rows`;
    ``whats`` name the texts in an ``oov="error"`` error), and its number of
    distinct row ids; ``ids`` (ascending within a text) and ``counts``
    concatenated over the texts.  All int64.
    """
    token_lists = as_token_lists(token_lists)  # generators of tokens (jieba.cut) too
    owner, ids, unknown, dropped = token_rows(token_lists, vectors, oov=oov, pieces=pieces, whats=whats)
    owner, ids, counts = distinct_counts(owner, ids)
    n = len(token_lists)
    lengths = np.bincount(owner, minlength=n)
    n_tokens = np.fromiter(map(len, token_lists), dtype=np.int64, count=n)
    return n_tokens, unknown, dropped, lengths, ids, counts


# ---------------------------------------------------------------------- building (pool workers)
_STATE: dict = {}


def _init_index_worker(vectors_path, tokenizer_spec, oov="drop", source="") -> None:
    from .tokenize import get_tokenizer
    from .vectors import open_vectors_cached

    vectors = _STATE["vectors"] = open_vectors_cached(vectors_path)
    _STATE["tokens"] = get_tokenizer(tokenizer_spec).tokens
    _STATE["oov"] = oov
    _STATE["source"] = source
    _STATE["pieces"] = piece_finder(vectors)


def _index_batch(batch: Sequence[tuple[int, str]]):
    """(lines, n_tokens, unknown, dropped, lengths, ids, counts) of a batch of (line, text)."""
    tokenize, source = _STATE["tokens"], _STATE["source"]
    lines = np.fromiter((line for line, _ in batch), dtype=np.int64, count=len(batch))
    table = doc_table([tokenize(text) for _, text in batch], _STATE["vectors"], oov=_STATE["oov"],
                      pieces=_STATE["pieces"], whats=[f"{source}:{line}" for line, _ in batch])
    return (lines, *table)


def _saved_texts(data: dict) -> list[str]:
    """The texts of a saved index: its UTF-8 blob cut at the saved byte lengths (indexes
    written before these were saved: at line breaks)."""
    blob = bytes(data["texts"])
    sizes = data.get("text_bytes")
    if sizes is None or sizes.ndim != 1 or sizes.dtype.kind not in "iu" or (sizes < 0).any() \
            or int(sizes.sum()) + max(len(sizes) - 1, 0) != len(blob):
        return blob.decode("utf-8", errors="replace").split("\n")
    ends = np.cumsum(sizes) + np.arange(len(sizes))  # each text but the last is followed by a "\n"
    return [blob[end - size:end].decode("utf-8", errors="replace")
            for end, size in zip(ends.tolist(), sizes.tolist())]


def _index_problem(data: dict, n_docs: int, n_words: int, dim: int) -> str:
    """What is inconsistent in an index's arrays (empty when they agree), so that a damaged
    file is one error line rather than a failure deep in the search."""
    indptr, ids, counts = data["indptr"], data["ids"], data["counts"]
    if any(a.ndim != 1 or a.dtype.kind not in "iu" for a in (indptr, ids, counts, data["lines"])):
        return "arrays of the wrong shape or type"
    if len(data["lines"]) != n_docs:
        return f"{n_docs} texts for {len(data['lines'])} lines"
    if indptr.ndim != 1 or len(indptr) != n_docs + 1 or len(data["n_tokens"]) != n_docs:
        return "document offsets or token counts of the wrong length"
    if indptr[0] != 0 or np.any(np.diff(indptr) < 0) or indptr[-1] != len(ids) or len(counts) != len(ids):
        return "document offsets that do not match the word ids"
    if len(ids) and (ids.min() < 0 or ids.max() >= n_words):
        return "word ids outside the vectors"
    if len(counts) and counts.min() < 1:
        return "word counts below 1"
    for key in data:
        if key.startswith("centroid_") and data[key].shape != (n_docs, dim):
            return f"{key} of shape {data[key].shape}"
    if "n_oov" in data and len(data["n_oov"]) != n_docs:
        return "OOV counts of the wrong length"
    return ""


class SearchIndex:
    """A corpus prepared for search: per line its distinct known word ids and counts, and texts.

    Attributes: ``lines`` int64 (N,) 1-based line numbers; ``indptr`` int64 (N+1,),
    ``ids`` / ``counts`` int64 (nnz,) in CSR layout (ids ascending within a line);
    ``n_tokens`` int64 (N,) tokens per line and ``n_oov`` int64 (N,) of them
    dropped as unknown; ``oov`` the OOV policy the documents were read with
    (drop, error or split) and ``unknown`` how many document tokens were not in
    the vocabulary; ``texts`` list of str; ``identity`` of the vector store;
    ``tokenizer`` the tokenizer settings as JSON.
    """

    def __init__(self, lines, indptr, ids, counts, n_tokens, texts, *, identity: str, tokenizer: str,
                 vectors=None, centroids: dict | None = None, source: str = "", n_oov=None,
                 oov: str = "drop", unknown: int | None = None):
        self.source_stamp: list | None = None  # [size, mtime_ns] of the corpus file when it was read
        self.lines = np.asarray(lines, dtype=np.int64)
        self.indptr = np.asarray(indptr, dtype=np.int64)
        self.ids = np.asarray(ids, dtype=np.int64)
        self.counts = np.asarray(counts, dtype=np.int64)
        self.n_tokens = np.asarray(n_tokens, dtype=np.int64)
        self._entry_line = np.repeat(np.arange(len(self.lines)), np.diff(self.indptr))
        if n_oov is None:  # nothing split: the tokens not counted were dropped
            n_oov = self.n_tokens - self.line_sums(self.counts).astype(np.int64)
        self.n_oov = np.asarray(n_oov, dtype=np.int64)
        if oov not in OOV_POLICIES:
            raise UsageError(f"unknown OOV policy {oov!r}; choose {', '.join(OOV_POLICIES)}")
        self.oov = oov
        self.unknown = int(self.n_oov.sum()) if unknown is None else int(unknown)
        self.texts = list(texts)
        self.identity = identity
        self.tokenizer = tokenizer
        self.vectors = vectors
        self.source = source
        self._centroids: dict = dict(centroids or {})
        self._centroid_sq: dict = {}
        self._masses: dict = {}
        self._vocab: dict = {}

    def __len__(self) -> int:
        return len(self.lines)

    def line_sums(self, values: np.ndarray) -> np.ndarray:
        """Per-line sums of an array in the CSR layout of ``ids``, float64 (N,); 0 for a line without words."""
        return np.bincount(self._entry_line, weights=values, minlength=len(self))

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_texts(cls, texts: Sequence[str], vectors, tokenize, *, lines=None, tokenizer="{}",
                   oov: str = "drop"):
        """An index of in-memory texts with a tokenize(text) -> tokens function (tests, small corpora).

        ``vectors``: a store, its path, or None for the bundled one.

        ``tokenizer``: the :class:`textkit.tokenize.TokenizerSpec` behind ``tokenize``
        (or its JSON), recorded so that :meth:`load` can check it; the default
        ``"{}"`` records none, and such an index loads with any settings.
        """
        if isinstance(texts, (str, bytes)):
            raise TypeError("SearchIndex.from_texts takes a list of texts; for one text, pass [text]")
        from .vectors import as_vectors

        vectors = as_vectors(vectors)
        if not isinstance(tokenizer, str):
            tokenizer = _spec_json(tokenizer)
        texts = list(texts)
        lines = list(range(1, len(texts) + 1)) if lines is None else list(lines)
        n_tokens, unknown, dropped, lengths, ids, counts = doc_table(
            [tokenize(t) for t in texts], vectors, oov=oov, whats=[f"line {line}" for line in lines])
        indptr = np.concatenate([[0], np.cumsum(lengths)])
        return cls(lines, indptr, ids, counts, n_tokens, texts, identity=getattr(vectors, "identity", ""),
                   tokenizer=tokenizer, vectors=vectors, n_oov=dropped, oov=oov, unknown=int(unknown.sum()))

    @classmethod
    def build(cls, corpus_path: str, vectors, tokenizer_spec, *, workers: int = 1, vectors_path=None,
              encoding: str = "utf-8", strict: bool = False, oov: str = "drop"):
        """Tokenize every line of ``corpus_path`` (over the pool) into an index (``oov``: see doc_table);
        ``encoding`` and ``strict`` as for :class:`textkit.corpus.Corpus`."""
        from . import pool
        from .corpus import Corpus, one_file
        from .tokenize import as_tokenizer_spec, get_tokenizer
        from .vectors import as_vectors, share_vectors

        one_file(str(corpus_path), "--corpus")
        tokenizer_spec = as_tokenizer_spec(tokenizer_spec)
        if vectors is None or isinstance(vectors, (str, os.PathLike)):  # the workers open the same path
            vectors_path, vectors = (None if vectors is None else str(vectors)), as_vectors(vectors)
        source_stamp = file_stamp(str(corpus_path))  # before reading: a file changed meanwhile looks stale
        vectors_path = share_vectors(vectors, vectors_path)  # forked workers use these, not a store named alike
        get_tokenizer(tokenizer_spec).tokens("预热")  # load the dictionary before forking
        texts: list[str] = []

        def documents():  # (line, text), keeping the texts for the index
            for record in Corpus([corpus_path], encoding=encoding, strict=strict).records():
                texts.append(record.text)
                yield record.line, record.text

        if oov not in OOV_POLICIES:
            raise UsageError(f"unknown OOV policy {oov!r}; choose {', '.join(OOV_POLICIES)}")
        parts: list[list[np.ndarray]] = [[] for _ in range(7)]
        with pool.exclusive():  # _STATE is this process's when it runs the batches itself
            for part in pool.imap(_index_batch, pool.chunks(documents(), _BATCH_DOCS), workers=workers,
                                  initializer=_init_index_worker,
                                  initargs=(vectors_path, tokenizer_spec, oov, str(corpus_path))):
                for store, value in zip(parts, part):
                    store.append(value)
        if not parts[0]:
            raise DataError(f"{corpus_path}: the corpus has no lines")
        lines, n_tokens, unknown, dropped, lengths, ids, counts = (np.concatenate(p) for p in parts)
        indptr = np.concatenate([[0], np.cumsum(lengths)])
        index = cls(lines, indptr, ids, counts, n_tokens, texts, identity=vectors.identity,
                    tokenizer=_spec_json(tokenizer_spec), vectors=vectors,
                    source=str(corpus_path) if str(corpus_path) == "-" else os.path.abspath(corpus_path),
                    n_oov=dropped, oov=oov, unknown=int(unknown.sum()))
        index.source_stamp = source_stamp
        total = int(index.n_tokens.sum())
        if total and index.unknown:
            split = index.unknown - int(index.n_oov.sum())
            log.info("indexed %d lines: %d of %d tokens (%.1f%%) have no vector%s", len(index), index.unknown,
                     total, 100.0 * index.unknown / total,
                     f" ({split} split into known pieces)" if oov == "split" else "")
        return index

    # ------------------------------------------------------------------ storage
    def save(self, path: str) -> None:
        """Write the index as one .npz (atomic; no centroids, see the module docstring)."""
        from .output import atomic_path

        meta = {"format": INDEX_FORMAT, "version": INDEX_VERSION, "identity": self.identity,
                "tokenizer": json.loads(self.tokenizer), "source": self.source, "documents": len(self),
                "oov": self.oov, "unknown": self.unknown, "source_stamp": self.source_stamp}
        encoded = [text.encode("utf-8") for text in self.texts]
        blob = np.frombuffer(b"\n".join(encoded), dtype=np.uint8)
        # bytes per text: texts from from_texts may hold line breaks (the corpus's never do)
        text_bytes = np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded))
        with atomic_path(str(path)) as tmp, open(tmp, "wb") as fh:
            # one entry per (line, distinct word): int32 halves the largest arrays (a vocabulary
            # and a word's count in one line stay far below 2^31); read back as int64
            np.savez(fh, meta=np.str_(json.dumps(meta, ensure_ascii=False)), lines=self.lines,
                     indptr=self.indptr, ids=self.ids.astype(np.int32), counts=self.counts.astype(np.int32),
                     n_tokens=self.n_tokens, n_oov=self.n_oov, texts=blob, text_bytes=text_bytes)

    @classmethod
    def load(cls, path: str, vectors, tokenizer_spec=None) -> SearchIndex:
        """Read an index; DataError if it belongs to other vectors or other tokenizer settings."""
        import os

        from .vectors import as_vectors

        vectors = as_vectors(vectors)
        if not os.path.isfile(path):
            raise DataError(f"{path}: {'a folder, not a' if os.path.isdir(path) else 'no such'} search index")
        try:
            data = read_npz(path)
            meta = json.loads(str(data["meta"]))
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:  # a cut or foreign file
            raise DataError(f"{path}: not a textkit search index ({numpy_file_problem(exc)})") from None
        if not isinstance(meta, dict) or meta.get("format") != INDEX_FORMAT or meta.get("version") != INDEX_VERSION:
            raise DataError(f"{path}: not a textkit search index (version {INDEX_VERSION})")
        problem = _meta_problem(meta)
        if problem:
            raise DataError(f"{path}: damaged index ({problem}); rebuild it with --build-index")
        if meta["identity"] != vectors.identity:
            raise DataError(f"{path}: built with other vectors ({meta['identity']}, not {vectors.identity}); "
                            "rebuild it with --build-index")
        given = None if tokenizer_spec is None else json.loads(  # as saved: JSON types
            json.dumps(_spec_settings(asdict(tokenizer_spec), given=True), default=str))
        built = _spec_settings(meta["tokenizer"])
        if given is not None and built:
            for key in _SPEC_FILES:
                piped = [str(side.get(key)) for side in (built, given) if str(side.get(key)).startswith(_UNCHECKABLE)]
                if piped:
                    raise DataError(f"{path}: --{key.replace('_', '-')} read from a pipe or standard input "
                                    f"({piped[0][len(_UNCHECKABLE):]}) cannot be checked against the index; give "
                                    "it as a file (to both --build-index and the search)")
        if given is not None and built and built != given:  # {}: none recorded
            differ = ", ".join(f"{key} {_shown(built.get(key))} (given {_shown(given.get(key))})"
                               for key in sorted(set(built) | set(given)) if built.get(key) != given.get(key))
            raise DataError(f"{path}: built with other tokenizer options: {differ}; "
                            "use the same options or rebuild it with --build-index")
        missing = [key for key in ("texts", "lines", "indptr", "ids", "counts", "n_tokens") if key not in data]
        if missing:
            raise DataError(f"{path}: damaged index (no {', '.join(missing)}); rebuild it with --build-index")
        texts = _saved_texts(data)
        problem = _index_problem(data, len(texts), len(vectors.words), vectors.matrix.shape[1])
        if problem:
            raise DataError(f"{path}: damaged index ({problem}); rebuild it with --build-index")
        centroids = {key: data[f"centroid_{name}"] for key, name in _METRIC_KEYS.items()
                     if f"centroid_{name}" in data}
        # indexes written before OOV policies were recorded read their documents with "drop"
        oov = meta.get("oov", "drop")
        if oov not in OOV_POLICIES:
            raise DataError(f"{path}: damaged index (OOV policy {oov!r})")
        index = cls(data["lines"], data["indptr"], data["ids"], data["counts"], data["n_tokens"], texts,
                    identity=meta["identity"], tokenizer=json.dumps(meta["tokenizer"], sort_keys=True),
                    vectors=vectors, centroids=centroids, source=meta.get("source", ""),
                    n_oov=data.get("n_oov"), oov=oov, unknown=meta.get("unknown"))
        index.source_stamp = meta.get("source_stamp")
        now = file_stamp(index.source) if index.source_stamp else None
        if now is not None and now != index.source_stamp:
            log.warning("%s: its corpus %s has changed since the index was built; results are from the old "
                        "text (rebuild it with --build-index)", path, index.source)
        return index

    # ------------------------------------------------------------------ per-metric caches
    def _vocabulary_rows(self, metric: str, normalize: bool):
        """(distinct ids used, inverse (nnz,), float64 rows for the metric's cost, per-id mass factor,
        squared row norms).

        Cached per metric; rows are unit length for WRD and normalised WMD (zero rows stay zero).
        """
        key = (metric, normalize)
        if key not in self._vocab:
            self._vocab[key] = self._compute_vocabulary_rows(metric, normalize)
        return self._vocab[key]

    def _compute_vocabulary_rows(self, metric: str, normalize: bool):
        vocab, inverse = np.unique(self.ids, return_inverse=True)
        unit = metric == "wrd" or normalize
        # the rows exactly as transport prepares them
        table = RowTable(self.vectors.matrix, unit, self.vectors.words, getattr(self.vectors, "path", None))
        table.slots(vocab)  # a fresh table: vocab[i] goes to slot i
        n = len(vocab)
        rows, norms, sq = table.rows[:n], table.norm[:n], table.sq[:n]
        factor = np.ones(n)
        if unit:
            factor = (norms > 0).astype(np.float64)  # zero vectors carry no mass
            if metric == "wrd":
                factor = factor * norms
        return vocab, inverse, rows, factor, sq

    def _vocabulary_sq(self, metric: str, normalize: bool) -> np.ndarray:
        return self._vocabulary_rows(metric, normalize)[4]

    def masses(self, metric: str, normalize: bool = False) -> np.ndarray:
        """Per (line, word) transport mass in CSR layout, float64 (rows sum to 1 or 0)."""
        key = (metric, bool(normalize) and metric == "wmd")
        if key not in self._masses:
            _, inverse, _, factor, _ = self._vocabulary_rows(*key)
            weight = self.counts * factor[inverse]
            per = self.line_sums(weight)[self._entry_line]
            self._masses[key] = np.divide(weight, per, out=np.zeros_like(weight), where=per > 0)
        return self._masses[key]

    def centroids(self, metric: str, normalize: bool = False) -> np.ndarray:
        """Mass-weighted mean rows per line, float64 (N, dim); zero rows for lines without mass."""
        key = (metric, bool(normalize) and metric == "wmd")
        if key not in self._centroids:
            vocab, inverse, rows, _, _ = self._vocabulary_rows(*key)
            mass = self.masses(*key)
            weights = sparse.csr_matrix((mass, inverse, self.indptr), shape=(len(self), len(vocab)))
            self._centroids[key] = np.asarray(weights @ rows, dtype=np.float64)
        return self._centroids[key]

    def centroid_sq(self, metric: str, normalize: bool = False) -> np.ndarray:
        """Squared norms of :meth:`centroids`, float64 (N,)."""
        key = (metric, bool(normalize) and metric == "wmd")
        if key not in self._centroid_sq:
            c = self.centroids(*key)
            self._centroid_sq[key] = np.einsum("ij,ij->i", c, c)
        return self._centroid_sq[key]

    def has_mass(self, metric: str, normalize: bool = False) -> np.ndarray:
        """Per line: whether it has transport mass (a known word with a nonzero vector)."""
        return self.line_sums(self.masses(metric, normalize)) > 0


# ---------------------------------------------------------------------- search
def _tolerance(threshold: float) -> float:
    return 1e-9 * (1.0 + abs(threshold))


def _query_costs(index: SearchIndex, transport: Transport, query, metric: str, normalize: bool):
    """Cost matrix (len(query), V) between the query words and every word the index uses."""
    vocab, _, rows, _, _ = index._vocabulary_rows(metric, normalize)
    gram = query.rows @ rows.T
    same = query.ids[:, None] == vocab[None, :]
    if metric != "wrd":  # as Transport.cost computes it, so that no bound exceeds the exact value by rounding
        sq = index._vocabulary_sq(metric, normalize)
        return euclidean_costs(query.rows, rows, query.sq, sq, gram, same, bool(same.any()),
                               query.sq_max + (float(sq.max()) if len(sq) else 0.0))
    cost = np.maximum(1.0 - gram, 0.0)
    cost[same] = 0.0
    return cost


def _from_doc_bounds(index: SearchIndex, nearest: np.ndarray, masses: np.ndarray, inverse: np.ndarray):
    """sum_j b_j min_i C_ij for every line: each document word goes to its nearest query word. O(nnz).

    ``nearest``: min_i C_ij per index word (the column minima of the query cost matrix).
    """
    return index.line_sums(masses * nearest[inverse])


def _weighted(b: np.ndarray, g: np.ndarray) -> np.ndarray:
    """b * g with 0 where b is 0 (g may be inf there)."""
    return np.multiply(b, g, out=np.zeros_like(b), where=b > 0)


def _dual_bounds(index: SearchIndex, query, cost: np.ndarray, nearest: np.ndarray, inverse: np.ndarray,
                 masses: np.ndarray, docs: np.ndarray) -> np.ndarray:
    """The dual bound (see :mod:`textkit.transport`) for each of ``docs``, vectorised over documents.

    From the query side f_i = min_j C_ij, g_j = min_i (C_ij - f_i); from the
    document side g_j = min_i C_ij, f_i = min_j (C_ij - g_j); the larger of the
    two values sum_i a_i f_i + sum_j b_j g_j.  Each is at least the matching
    one-sided RWMD term, so the result is at least RWMD.  ``nearest`` holds
    min_i C_ij per index word, computed once per query by the caller.
    """
    out = np.empty(len(docs), dtype=np.float64)
    lengths = index.indptr[docs + 1] - index.indptr[docs]
    nq = len(query)
    start = 0
    while start < len(docs):
        # a chunk of documents whose words times the query words stay under _CHUNK_CELLS
        cum = np.cumsum(lengths[start:]) * nq
        stop = start + max(1, int(np.searchsorted(cum, _CHUNK_CELLS, side="right")))
        chunk, chunk_len = docs[start:stop], lengths[start:stop]
        seg = np.concatenate([[0], np.cumsum(chunk_len)[:-1]])
        pos = np.repeat(index.indptr[chunk] - seg, chunk_len) + np.arange(int(chunk_len.sum()))
        c = cost[:, inverse[pos]]                                   # (nq, words of the chunk)
        b = masses[pos]
        if not b.all():  # words without mass (zero vectors) are not in the exact problem either
            c[:, b == 0] = np.inf
        # from the query side
        f = np.minimum.reduceat(c, seg, axis=1)                     # (nq, documents)
        g = (c - np.repeat(f, chunk_len, axis=1)).min(axis=0)
        from_query = query.mass @ f + np.add.reduceat(_weighted(b, g), seg)
        # from the document side
        g = nearest[inverse[pos]]  # min_i C_ij
        f = np.minimum.reduceat(c - g, seg, axis=1)
        from_doc = np.add.reduceat(_weighted(b, g), seg) + query.mass @ f
        out[start:stop] = np.maximum(from_query, from_doc)
        start = stop
    return out


def search(index: SearchIndex, query_tokens: Sequence[str], *, k: int = 10, metric: str = "wrd",
           normalize: bool = False, prune: bool = True, oov: str | None = None) -> SearchResult:
    """The ``k`` documents nearest to the query tokens (see the module docstring).

    ``prune=False`` is brute force: every document solved exactly; the result is
    the same.  ``oov`` is the OOV policy for the query (default: the index's);
    it must be the one the documents were read with unless they had no unknown
    token (DataError).  Raises UsageError for k < 1 and EmptyBagError for a
    query without a known word; documents without a known word are skipped (one note).
    """
    transport = _transport(index, k, metric, normalize, oov)
    query = transport.bag(query_tokens if isinstance(query_tokens, str) else list(query_tokens), what="query")
    if query.empty:
        raise EmptyBagError("the query has no word with a nonzero vector")
    return _search_bag(index, transport, query, _searchable(index, metric, normalize), k, metric, normalize,
                       prune)


def search_queries(index: SearchIndex, queries: Iterable[tuple[int, Sequence[str]]], *, k: int = 10,
                   metric: str = "wrd", normalize: bool = False, prune: bool = True,
                   oov: str | None = None) -> Iterator[tuple[int, SearchResult]]:
    """:func:`search` for many ``(query line, tokens)``, in order: ``(query line, result)``.

    A query without a known word yields no result; one warning at the end names
    those lines.  An OOV error (``oov="error"``) names the query line.
    """
    transport = _transport(index, k, metric, normalize, oov)
    docs = _searchable(index, metric, normalize)
    empty: list[int] = []
    for item in queries:
        number, tokens = item if isinstance(item, tuple) and len(item) == 2 else (None, None)
        if isinstance(number, bool) or not isinstance(number, int):
            raise TypeError(f"search_queries takes (query line, tokens) pairs, e.g. enumerate(token_lists, 1), "
                            f"not {item!r:.60}")
        query = transport.bag(tokens if isinstance(tokens, str) else list(tokens), what=f"query line {number}")
        if query.empty:
            empty.append(number)
            continue
        yield number, _search_bag(index, transport, query, docs, k, metric, normalize, prune)
    if empty:
        shown = ", ".join(map(str, empty[:5])) + (", ..." if len(empty) > 5 else "")
        log.warning("%d quer%s without a word with a nonzero vector, no result: line %s", len(empty),
                    "y" if len(empty) == 1 else "ies", shown)


def _transport(index: SearchIndex, k: int, metric: str, normalize: bool, oov: str | None) -> Transport:
    """The checks shared by :func:`search` and :func:`search_queries`, and the transport for the queries."""
    if whole_number(k, "k") < 1:
        raise UsageError(f"k (-k) must be at least 1, got {k}")
    oov = index.oov if oov is None else oov
    if oov != index.oov and index.unknown:
        raise DataError(f"the index was built with oov {index.oov!r} (--oov {index.oov}) and its documents have "
                        f"tokens without a vector ({index.unknown}): query with the same, or rebuild it with "
                        f"--oov {oov}")
    return Transport(index.vectors, metric=metric, normalize=normalize, oov=oov)


def _searchable(index: SearchIndex, metric: str, normalize: bool) -> np.ndarray:
    """Documents with transport mass (the others are skipped, with one note)."""
    docs = np.flatnonzero(index.has_mass(metric, normalize))
    skipped = len(index) - len(docs)
    if skipped:
        log.info("%d of %d lines have no word with a nonzero vector and are skipped", skipped, len(index))
    return docs


def _search_bag(index: SearchIndex, transport: Transport, query, docs: np.ndarray, k: int, metric: str,
                normalize: bool, prune: bool) -> SearchResult:
    """The top ``k`` of ``docs`` for one query bag: brute force or pruned (same answer)."""
    indptr, ids, counts, n_tokens, n_oov = index.indptr, index.ids, index.counts, index.n_tokens, index.n_oov

    def exact(doc: int) -> float:
        s, e = indptr[doc], indptr[doc + 1]
        c = counts[s:e].astype(np.float64)
        bag = transport.bag_from_counts(ids[s:e], c, n_tokens=int(n_tokens[doc]), n_oov=int(n_oov[doc]))
        return transport.distance(query, bag)

    result = SearchResult([], documents=len(docs))
    lines = index.lines
    if not prune or len(docs) <= k:
        dist = np.array([exact(d) for d in docs])
        result.exact = len(docs)
        order = np.lexsort((lines[docs], dist))[:k]
        chosen = [(float(dist[i]), int(docs[i])) for i in order]
    else:
        chosen = _pruned(index, transport, query, docs, k, exact, result, metric, normalize)
    result.hits = [Hit(transport.score(d), d, int(lines[doc]), index.texts[doc]) for d, doc in chosen]
    return result


def _pruned(index, transport, query, docs, k, exact, result, metric, normalize):
    lines = index.lines
    centroids, centroid_sq = index.centroids(metric, normalize), index.centroid_sq(metric, normalize)
    q = query.centroid
    q_sq = float(q @ q)
    # ||c - q||^2 in the Gram form, lowered by more than its rounding error (< dim * 2^-53 * (|c| + |q|)^2)
    sq = centroid_sq + q_sq - 2.0 * (centroids @ q)
    sq = np.maximum(sq - _GRAM_SLACK * 2.0 * (centroid_sq + q_sq), 0.0)[docs]
    centroid = 0.5 * sq if metric == "wrd" else np.sqrt(sq)
    _, inverse, _, _, _ = index._vocabulary_rows(metric, transport.normalize)
    cost = _query_costs(index, transport, query, metric, transport.normalize)
    masses = index.masses(metric, normalize)
    nearest = cost.min(axis=0)  # per index word: its nearest query word's cost
    one_sided = _from_doc_bounds(index, nearest, masses, inverse)[docs]
    cheap = np.maximum(centroid, one_sided)
    order = np.lexsort((lines[docs], cheap))
    docs, cheap, centroid = docs[order], cheap[order], centroid[order]
    # max-heap of the best k as (-distance, -line, doc): heap[0] is the worst kept
    heap = [(-exact(doc), -int(lines[doc]), int(doc)) for doc in docs[:k]]
    solved = np.zeros(len(docs), dtype=bool)
    solved[:k] = True
    heapq.heapify(heap)
    threshold = -heap[0][0]
    start, size = k, _BATCH_START
    # in batches of ascending cheap bound: the dual bound, then exact solves where it passes
    while start < len(docs) and cheap[start] <= threshold + _tolerance(threshold):
        stop = start + int(np.searchsorted(cheap[start:start + size], threshold + _tolerance(threshold),
                                           side="right"))
        batch = docs[start:stop]
        bound = np.maximum(cheap[start:stop], _dual_bounds(index, query, cost, nearest, inverse, masses, batch))
        for i in np.lexsort((lines[batch], bound)):
            if bound[i] > threshold + _tolerance(threshold):
                break  # the rest of this batch has a bound at least as large
            doc = int(batch[i])
            d = exact(doc)
            solved[start + i] = True
            key = (-d, -int(lines[doc]), doc)
            if key > heap[0]:
                heapq.heapreplace(heap, key)
                threshold = -heap[0][0]
        start, size = stop, min(2 * size, _BATCH_MAX)
    result.exact = int(solved.sum())
    result.pruned_centroid = int(np.count_nonzero(~solved & (centroid > threshold + _tolerance(threshold))))
    result.pruned_relaxed = len(docs) - result.exact - result.pruned_centroid
    best = sorted(((-nd, -nl, doc) for nd, nl, doc in heap), key=lambda t: (t[0], t[1]))
    return [(d, doc) for d, _, doc in best]
