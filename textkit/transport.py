"""Word Mover's Distance and Word Rotator's Distance through optimal transport.

This is the one module of textkit that imports POT (``ot``), when the first
:class:`Transport` is made, and then only POT's compiled solver unless Sinkhorn
is asked for (:func:`_import_solver`: ~0.8 s less start-up for every command).

A document becomes a *bag*: its distinct known words ``i`` with a mass
``a_i`` (the masses sum to 1) and a vector ``x_i``.  The distance between two
bags ``(a, X)`` and ``(b, Y)`` is the optimal transport cost

    T(a, b; C) = min_P  sum_ij P_ij C_ij
                 subject to  P >= 0,  sum_j P_ij = a_i,  sum_i P_ij = b_j

solved exactly by the network simplex (``ot.emd2``'s solver, in float64, on
C-contiguous arrays, distinct words only).

WMD (Kusner et al. 2015)
    masses: normalised bag of words, ``a_i = count_i / sum_k count_k``;
    cost:   Euclidean distance ``C_ij = ||x_i - y_j||`` between the vectors as
            stored (``normalize=True``: between unit-length vectors, as gensim 4's
            ``wmdistance`` does by default).  Units: those of the vectors.
WRD (Yokoi et al. 2020)
    masses: every occurrence weighs its vector's norm,
            ``a_i = count_i ||x_i|| / sum_k count_k ||x_k||``;
    cost:   ``C_ij = 1 - cos(x_i, y_j)``, in [0, 2];
    WRD is in [0, 2]; the *similarity* is ``1 - WRD`` in [-1, 1] (identical
    texts give 1).  Words whose vector is all zeros carry no mass and are
    dropped (counted with the out-of-vocabulary tokens).

Lower bounds (each <= the exact value; used to prune top-k search)
    WCD, word centroid distance, for WMD:  ``||sum_i a_i x_i - sum_j b_j y_j||``
        (triangle inequality: ||sum_ij P_ij (x_i - y_j)|| <= sum_ij P_ij ||x_i - y_j||).
    RWMD, relaxed WMD, for any cost:
        ``max( sum_i a_i min_j C_ij , sum_j b_j min_i C_ij )``
        (drop one of the two marginal constraints: each word goes to its
        nearest counterpart; the larger of the two relaxations).
    WRD's centroid bound: with unit vectors u, v, ``1 - u.v = ||u - v||^2 / 2``, so by
        Jensen ``WRD >= ||sum_i a_i u_i - sum_j b_j v_j||^2 / 2``.  Note that
        ``sum_i a_i u_i = sum_k count_k x_k / sum_k count_k ||x_k||``.
    WRD's relaxed bound: the RWMD formula above with ``C = 1 - cos``.
    Dual bound, for any cost: any (f, g) with ``f_i + g_j <= C_ij`` gives
        ``sum_i a_i f_i + sum_j b_j g_j <= T`` (weak LP duality: the masses of
        a plan P add up to a and b, so this is sum_ij P_ij (f_i + g_j)).  Take
        ``f_i = min_j C_ij`` and ``g_j = min_i (C_ij - f_i) >= 0`` (and the same
        with the sides swapped); the larger of the two.  It is at least RWMD
        (RWMD is the same with g = 0) and much tighter when one text has words
        far from every word of the other.

Fast path (why not ``ot.emd2`` itself)
    ``ot.emd2`` spends ~90 microseconds per call on backend detection and
    checks around a ~5 microsecond solve for sentence-sized problems.  We call
    the same compiled solver (``ot.lp.emd_wrap.emd_c``) directly with the same
    inputs ``ot.emd2`` would pass it (float64, C order, ``b`` rescaled to the
    mass of ``a`` exactly as ``ot.emd2`` does), so the result is the value
    ``ot.emd2`` returns (the tests check this).  If that private entry point is
    missing in some POT version we fall back to ``ot.emd2``.
    Bags: the new texts of a batch become bags together (:meth:`Transport.bags`:
    one vocabulary lookup, ``np.unique`` over (text, row id), per-text sums by
    ``bincount``) instead of ~20 microseconds of small numpy calls per text.
    Closed forms: identical bags give exactly 0 (the diagonal plan costs 0 and
    no plan costs less); a side with one word admits a single plan, so the
    value is ``sum_j b_j C_0j`` (equal to the LP up to summation rounding,
    ~1e-16).  Costs use the Gram form ``||x||^2 + ||y||^2 - 2 x.y`` (clamped at
    0, exact 0 for the same word), computed directly for near-identical vectors,
    where the Gram form's rounding would be amplified by the square root
    (:func:`euclidean_costs`).
Sinkhorn (``sinkhorn=eps``) solves the entropically regularised problem and
    returns ``sum_ij P^eps_ij C_ij``: an *approximate* value (an upper bound of
    the exact one up to convergence), never exact.  A pair on which it does not
    converge within 1000 iterations is solved exactly instead (with a warning).

Out-of-vocabulary policy: ``oov="drop"`` (default) drops unknown tokens and
counts them; ``oov="error"`` raises :class:`DataError` naming the token;
``oov="split"`` replaces an unknown token by its known pieces (greedy longest
match; with the bundled store 借呗还款 -> 借 + 呗 + 还款), each piece one
occurrence, and drops only tokens with no known piece.  On the Chinese STS
test sets with the bundled store (``bench/transport_quality.py``), split
raises ATEC, BQ and STS-B and lowers PAWSX, whose tokens are 23% unknown;
drop stays the default.
A side with no known word (empty text, only unknown tokens) has no
distribution: :func:`wmd`/:func:`wrd` raise :class:`EmptyBagError`;
:func:`score_pairs` gives that pair the *error value* -- the worst value the
metric can take, so a ranking puts it last -- flags it in a mask, and logs one
warning:

    WRD similarity: -1.0   (WRD distance 2.0, the top of its range)
    WMD distance:   2.0 with ``normalize=True``; otherwise ``2 * max_k ||x_k||``
                    over the store (no two words can be farther apart).

Example:
    >>> import numpy as np
    >>> class Store:                      # anything with words, matrix, lookup
    ...     words = ["cat", "dog", "car"]
    ...     matrix = np.array([[1.0, 0.0], [0.8, 0.6], [0.0, 2.0]], dtype=np.float32)
    ...     def lookup(self, tokens):
    ...         ids = np.array([self.words.index(t) if t in self.words else -1 for t in tokens])
    ...         return ids, ids >= 0
    >>> round(wmd(["cat"], ["dog"], Store()), 6)
    0.632456
    >>> round(1 - wrd(["cat", "car"], ["cat", "car"], Store()), 6)
    1.0
"""

from __future__ import annotations

import functools
import itertools
import logging
import math
import threading
import types
import warnings
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from textkit.errors import DataError, UsageError, real_number
from textkit.tokenize import as_token_lists
from textkit.pool import chunks
from textkit.quantized import Int8Matrix

# POT is imported when the first Transport is made, and only its solver then (see
# _import_solver): the whole package takes ~0.85 s, mostly scipy.stats, which the
# exact solver never needs; `sim --metric cosine` and friends need none of it.
ot = None  # the whole package, for Sinkhorn and the reference ot.emd2 (see _pot)
_emd_c = None  # the compiled network simplex behind ot.emd2 (see "Fast path" above)
_check_result = None
_solver_bound = False

log = logging.getLogger("textkit.transport")

METRICS = ("wmd", "wrd")
OOV_POLICIES = ("drop", "error", "split")
MAX_PIECE = 16  # longest piece (characters) tried when splitting an unknown token
MAX_ITER = 100_000  # POT's default iteration limit, the least we allow
ITER_PER_VARIABLE = 10  # per transport variable (a 3,861 x 1,840 pair of long texts: optimal within 1.4 per)
ITER_CAP_PER_VARIABLE = 1000
_OPTIMAL = 1  # result codes of emd_c: an optimal solution,
_ITERATION_LIMIT = 3  # or the iteration limit reached first


class EmptyBagError(DataError):
    """A text has no word with a vector, so it has no transport distribution."""


class RowTable:
    """The cost rows of the words met so far: each read (decoded, for int8), turned
    to float64, measured and (for unit costs) scaled once, kept in one growing table.

    A bag holds slots into the table rather than its own copy of its rows, so memory
    grows with the distinct words met (at most the store's size), not with the texts:
    a bag cache of 60,000 pairs held ~1 GB of copied rows before.

    Per row x (float64 from the store): ``norm = ||x||`` (what WRD weighs a word by),
    ``rows = x`` or ``x / ||x||`` (unit costs; a zero row stays zero), ``sq = ||rows||^2``.
    A row holding NaN or inf (a damaged store) is a VectorsError naming its word.

    Threads may share a table: new rows are added under a lock, and a slot is
    published only once its row is written (rows already in the table never move
    within the arrays a reader holds; growing copies them into new arrays).
    """

    def __init__(self, matrix, unit: bool, words: Sequence[str], source: str | None = None):
        self._lock = threading.Lock()
        self.matrix = matrix
        self.unit = unit
        self.words, self.source = words, source  # to name a damaged row
        self.slot = None  # row id -> slot, -1 for rows not read yet (made on first use)
        dim = int(matrix.shape[1])
        self.rows = np.empty((0, dim), dtype=np.float64)
        self.norm = np.empty(0, dtype=np.float64)
        self.sq = np.empty(0, dtype=np.float64)
        self.used = 0

    def slots(self, ids: np.ndarray) -> np.ndarray:
        """Slots of distinct row ``ids`` (int64), reading the rows not in the table yet."""
        if self.slot is None:
            with self._lock:
                if self.slot is None:
                    width = np.int32 if len(self.matrix) < 2**31 else np.int64
                    self.slot = np.full(len(self.matrix), -1, dtype=width)
        found = self.slot[ids]
        if (found < 0).any():
            with self._lock:
                found = self._add(ids)
        return found.astype(np.int64)

    def _add(self, ids: np.ndarray) -> np.ndarray:
        """Read the rows of ``ids`` not in the table yet (the caller holds the lock); all their slots."""
        found = self.slot[ids]
        new = ids[found < 0]
        if len(new):
            stop = self.used + len(new)
            if stop > len(self.rows):
                self._grow(stop)
            rows = self.matrix[new].astype(np.float64)
            norm = np.sqrt(np.einsum("ij,ij->i", rows, rows))
            if not np.isfinite(norm).all():  # stores are written finite: this one was damaged
                from textkit.vectors import damaged_row_error

                row = int(new[np.flatnonzero(~np.isfinite(norm))[0]])
                raise damaged_row_error(self.words, row, self.source)
            if self.unit:
                np.divide(rows, norm[:, None], out=rows, where=norm[:, None] > 0)
            self.rows[self.used:stop] = rows
            self.norm[self.used:stop] = norm
            self.sq[self.used:stop] = np.einsum("ij,ij->i", rows, rows)
            self.slot[new] = np.arange(self.used, stop)
            self.used = stop
            found = self.slot[ids]
        return found

    def _grow(self, need: int) -> None:
        size = max(need, 2 * len(self.rows), 1024)
        for name in ("rows", "norm", "sq"):
            old = getattr(self, name)
            new = np.empty((size,) + old.shape[1:], dtype=np.float64)
            new[:self.used] = old[:self.used]
            setattr(self, name, new)


class Bag:
    """A document as distinct known words with transport masses.

    Attributes:
        ids:      int64 (n,), distinct row ids in the vector store, ascending.
        mass:     float64 (n,), masses summing to 1 (see the module docstring).
        rows:     float64 (n, dim), C order: the vectors the cost is computed on
                  (stored rows for WMD, unit rows for normalised WMD and WRD),
                  gathered from the transport's :class:`RowTable` on each use.
        sq:       float64 (n,), squared norms of ``rows`` (WMD only; None for WRD).
        n_tokens: tokens in the text; n_oov: tokens dropped (unknown or zero vector).
    """

    __slots__ = ("_centroid", "_sq_max", "ids", "mass", "n_oov", "n_tokens", "slots", "sq", "table")

    def __init__(self, ids, mass, table: RowTable, slots, sq, n_tokens, n_oov):
        self.ids = ids
        self.mass = mass
        self.table = table
        self.slots = slots
        self.sq = sq
        self.n_tokens = n_tokens
        self.n_oov = n_oov
        self._centroid = None
        self._sq_max = None

    @property
    def sq_max(self) -> float:
        """The largest of ``sq`` (0 for an empty bag), computed once: a bag is scored against many."""
        if self._sq_max is None:
            self._sq_max = float(self.sq.max()) if self.sq is not None and len(self.sq) else 0.0
        return self._sq_max

    @property
    def rows(self) -> np.ndarray:
        return self.table.rows[self.slots]

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def empty(self) -> bool:
        return len(self.ids) == 0

    @property
    def centroid(self) -> np.ndarray:
        """Mass-weighted mean of ``rows``, float64 (dim,)."""
        if self._centroid is None:
            self._centroid = self.mass @ self.rows
        return self._centroid


@dataclass(frozen=True)
class Flow:
    """One entry of a transport plan: ``mass`` moved from ``source`` to ``target``.

    ``cost`` is the unit cost C_ij; ``contribution = mass * cost`` is its share
    of the total distance.
    """

    source: str
    target: str
    mass: float
    cost: float

    @property
    def contribution(self) -> float:
        return self.mass * self.cost


class _DeferredModule(types.ModuleType):
    """A module of POT whose code has not run yet; it runs, in place, on first use of a name the module lacks.

    Loading the compiled solver ``ot.lp.emd_wrap`` needs its parent packages in
    ``sys.modules`` and one name from ``ot.utils``, but running those modules
    imports all of POT (``ot/__init__.py``: scipy.stats among it) or scipy.spatial
    (``ot.utils``): ~0.85 s, against a few ms for the solver itself.  These
    stand-ins carry what the import system reads (``__path__``, ``__spec__``),
    so submodules load as usual, and complete themselves as soon as anyone
    (Sinkhorn, the reference ``ot.emd2``, another library's ``import ot``) asks
    them for anything else.
    """

    def __getattr__(self, name: str):
        if name in _IMPORT_PROBES:  # the import system asks these of any module; absent means absent
            raise AttributeError(name)
        return getattr(_run_deferred(self), name)


_IMPORT_PROBES = frozenset({"__path__", "__file__", "__spec__", "__loader__", "__cached__", "__package__"})


def _run_deferred(module: types.ModuleType) -> types.ModuleType:
    """Run a :class:`_DeferredModule`'s code (once); a plain module from then on."""
    if type(module) is _DeferredModule:
        module.__class__ = types.ModuleType
        module.__spec__.loader.exec_module(module)
    return module


def _import_solver():
    """(emd_c, check_result) from ``ot.lp.emd_wrap``, running none of the rest of POT.

    When POT is not imported yet, ``ot``, ``ot.lp`` and ``ot.utils`` enter
    ``sys.modules`` as :class:`_DeferredModule` stand-ins; the one name the
    solver takes from ``ot.utils`` (``dist``, used by ``emd_1d_sorted`` for
    uncommon metrics, never by textkit) forwards to the real function, running
    ``ot.utils`` on its first call.  Should the solver need more, the stand-ins
    complete themselves; should loading fail, every module of the attempt is
    dropped and POT is imported the usual way.
    """
    import importlib.util
    import sys

    if "ot" not in sys.modules:
        before = set(sys.modules)
        try:
            for name in ("ot", "ot.lp", "ot.utils"):
                spec = importlib.util.find_spec(name)
                if spec is None:
                    raise ImportError(f"no module {name}")
                module = importlib.util.module_from_spec(spec)
                module.__class__ = _DeferredModule
                sys.modules[name] = module
            package, lp, utils = (sys.modules[name] for name in ("ot", "ot.lp", "ot.utils"))
            package.lp, package.utils = lp, utils

            def dist(*args, **kwargs):
                return _run_deferred(utils).dist(*args, **kwargs)

            utils.dist = dist
            from ot.lp.emd_wrap import check_result, emd_c

            return emd_c, check_result
        except ImportError:
            for name in set(sys.modules) - before:
                if name == "ot" or name.startswith("ot."):
                    del sys.modules[name]
    from ot.lp.emd_wrap import check_result, emd_c

    return emd_c, check_result


def _solver() -> None:
    """Bind the compiled network simplex (``_emd_c``, ``_check_result``) once; None if this POT lacks it."""
    global _emd_c, _check_result, _solver_bound
    if not _solver_bound:
        try:
            _emd_c, _check_result = _import_solver()
        except ImportError:  # pragma: no cover - depends on the POT version
            _emd_c = _check_result = None
        _solver_bound = True


def _pot():
    """The whole ``ot`` package (Sinkhorn, the reference ``ot.emd2``, the fallback solver), imported once."""
    global ot
    if ot is None:
        _solver()
        import ot as pot

        ot = pot
    return ot


def _solve_lp(a: np.ndarray, b: np.ndarray, cost: np.ndarray, max_iter: int | None = None):
    """Exact transport: (value, plan) with the network simplex, as ``ot.emd2`` computes it.

    Reached only through a :class:`Transport`, whose constructor bound the solver.
    The iteration limit grows with the problem (:data:`ITER_PER_VARIABLE` per
    variable, at least POT's default :data:`MAX_ITER`, which stops short of the
    optimum on long texts of thousands of distinct words a side), and is raised
    tenfold while the optimum is not reached, up to :data:`ITER_CAP_PER_VARIABLE`.
    A solve stopped early has no meaningful value (its plan is not even a
    transport plan), so it is an error, never a score.  An explicit ``max_iter``
    is not raised.
    """
    limit = max(MAX_ITER, ITER_PER_VARIABLE * cost.size) if max_iter is None else max_iter
    cap = max(limit, ITER_CAP_PER_VARIABLE * cost.size) if max_iter is None else max_iter
    a_sum, b_sum = a.sum(), b.sum()
    if not (a_sum == 1.0 and b_sum == 1.0):  # otherwise the rescaling below is the identity
        b = b * a_sum / b_sum  # the same rescaling ot.emd2 applies
    while True:
        if _emd_c is None:  # pragma: no cover
            plan = _pot().emd(a, b, cost, numItermax=limit)
            return float(np.sum(plan * cost)), plan
        plan, value, _u, _v, code = _emd_c(a, b, cost, limit, 1)
        if code == _OPTIMAL:
            return float(value), plan
        if code != _ITERATION_LIMIT:
            _check_result(code)  # raises: infeasible or unbounded
        if limit >= cap:
            raise DataError(f"the exact solver did not reach the optimum of a {cost.shape[0]} x "
                            f"{cost.shape[1]} transport problem within {limit:,} iterations")
        limit = min(cap, 10 * limit)


def emd2_reference(a, b, cost) -> float:
    """``ot.emd2`` itself, the public POT entry point (for tests and benchmarks)."""
    _pot()
    a = np.ascontiguousarray(a, dtype=np.float64)
    b = np.ascontiguousarray(b, dtype=np.float64)
    cost = np.ascontiguousarray(cost, dtype=np.float64)
    return float(ot.emd2(a, b, cost, numItermax=MAX_ITER))


def unknown_token_error(tokens: Sequence[str], vectors, what: str) -> DataError:
    """The ``oov="error"`` error for a text (named ``what``) with unknown tokens."""
    distinct = list(dict.fromkeys(tokens))
    _ids, known = vectors.lookup(distinct)
    missing = [t for t, ok in zip(distinct, known) if not ok]
    return DataError(f"{what}: {len(missing)} distinct token(s) not in the vectors, first "
                     f"{missing[0]!r}; oov 'drop' (--oov drop) skips unknown words")


def known_pieces(token: str, vectors) -> tuple[int, ...]:
    """Row ids of the known pieces of ``token`` (the ``oov="split"`` policy).

    Greedy longest match from the left over the vocabulary (pieces of at most
    :data:`MAX_PIECE` characters); a character that begins no known piece is
    skipped.  E.g. with 花呗 unknown but 花 and 呗 known: (花, 呗).  Empty if no
    piece is known.
    """
    n = len(token)
    subs = [token[i:j] for i in range(n) for j in range(i + 1, min(n, i + MAX_PIECE) + 1)]
    sub_ids, sub_known = vectors.lookup(subs)
    row = {sub: int(k) for sub, k, ok in zip(subs, sub_ids, sub_known) if ok}
    out = []
    i = 0
    while i < n:
        for j in range(min(n, i + MAX_PIECE), i, -1):
            k = row.get(token[i:j])
            if k is not None:
                out.append(k)
                i = j
                break
        else:
            i += 1
    return tuple(out)


def piece_finder(vectors) -> Callable[[str], tuple[int, ...]]:
    """:func:`known_pieces` over ``vectors``, remembered for the last 100,000 tokens (unknown tokens repeat)."""
    return functools.lru_cache(maxsize=100_000)(lambda token: known_pieces(token, vectors))


def token_rows(texts: Sequence[Sequence[str]], vectors, *, oov: str = "drop", pieces: Callable | None = None,
               whats: Sequence[str] | None = None):
    """The row ids of many token lists under an OOV policy: the one place the policy is applied.

    Returns ``(owner, ids, unknown, dropped)``, int64 arrays: ``ids[i]`` is a row
    of text ``owner[i]`` (one entry per token occurrence, or per piece of a
    split token); per text, ``unknown`` tokens were not in the vocabulary and
    ``dropped`` of them contribute nothing.  ``oov``: "drop" drops unknown
    tokens; "error" raises :class:`DataError` for the first text (in order) with
    one, named by ``whats``; "split" counts each as its known pieces
    (``pieces(token)``, default :func:`known_pieces`), dropping tokens without any.
    """
    n = len(texts)
    flat = list(itertools.chain.from_iterable(texts))
    ids, known = vectors.lookup(flat)
    ids = np.asarray(ids, dtype=np.int64)
    known = np.asarray(known, dtype=bool)
    owner = np.repeat(np.arange(n, dtype=np.int64), np.fromiter(map(len, texts), dtype=np.int64, count=n))
    if known.all():
        none = np.zeros(n, dtype=np.int64)
        return owner, ids, none, none
    if oov == "error":
        first = int(owner[np.argmin(known)])
        raise unknown_token_error(texts[first], vectors, "text" if whats is None else whats[first])
    unknown_at = np.flatnonzero(~known)
    unknown = np.bincount(owner[unknown_at], minlength=n)
    if oov != "split":
        return owner[known], ids[known], unknown, unknown
    pieces = pieces or (lambda token: known_pieces(token, vectors))
    found = [pieces(flat[p]) for p in unknown_at.tolist()]
    has_pieces = np.fromiter(map(bool, found), dtype=bool, count=len(found))
    piece_owner = np.repeat(owner[unknown_at], [len(x) for x in found])
    piece_ids = np.fromiter(itertools.chain.from_iterable(found), dtype=np.int64, count=len(piece_owner))
    dropped = np.bincount(owner[unknown_at[~has_pieces]], minlength=n)
    return (np.concatenate([owner[known], piece_owner]), np.concatenate([ids[known], piece_ids]),
            unknown, dropped)


def distinct_counts(owner: np.ndarray, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(owner, ids, counts)`` of the distinct (text, row id) entries of :func:`token_rows`'
    output, sorted by text, then row id; ``counts`` how often each occurs (int64)."""
    width = int(ids.max()) + 1 if len(ids) else 1
    keys, counts = np.unique(owner * width + ids, return_counts=True)
    return keys // width, keys % width, counts.astype(np.int64)


class Transport:
    """WMD or WRD between token lists over one vector store.

    Args:
        vectors:   anything with ``matrix`` (n, dim) and ``lookup(tokens) ->
                   (ids, known)`` (ids -1 where unknown); ``words`` for explain();
                   or a path / None, opened with :func:`textkit.vectors.open_vectors`
                   (None: the bundled store).
        metric:    "wmd" or "wrd".
        normalize: WMD on unit-length vectors (ignored by WRD, which is
                   always on directions).
        oov:       "drop", "error" or "split".
        sinkhorn:  None for the exact solver, or the entropic regularisation
                   eps > 0 (approximate values).
    """

    def __init__(self, vectors, *, metric: str = "wrd", normalize: bool = False,
                 oov: str = "drop", sinkhorn: float | None = None):
        from textkit.vectors import as_vectors

        vectors = as_vectors(vectors)
        if metric not in METRICS:
            raise UsageError(f"unknown transport metric {metric!r}; choose one of {', '.join(METRICS)}")
        if oov not in OOV_POLICIES:
            raise UsageError(f"unknown OOV policy {oov!r}; choose drop, error or split")
        if sinkhorn is not None:
            sinkhorn = real_number(sinkhorn, "sinkhorn")
        if sinkhorn is not None and not (sinkhorn > 0 and math.isfinite(sinkhorn)):
            raise UsageError(f"sinkhorn (--sinkhorn) must be a positive number, got {sinkhorn}")
        self.vectors = vectors
        self.metric = metric
        self.normalize = bool(normalize) and metric == "wmd"
        self.unit = metric == "wrd" or self.normalize
        self.oov = oov
        self.sinkhorn = sinkhorn
        # a plain view of a memmap: cheaper indexing (an int8 store's matrix already holds one)
        matrix = vectors.matrix
        self._matrix = matrix if isinstance(matrix, Int8Matrix) else np.asarray(matrix)
        self._table = RowTable(self._matrix, self.unit, vectors.words, getattr(vectors, "path", None))
        self.pieces = piece_finder(vectors)  # unknown token -> row ids of its known pieces (oov="split")
        self._error_value: float | None = None
        # pairs on which Sinkhorn fell back to the exact solver; the first is warned of here unless
        # the caller reports them itself (pool workers: once per run, not per process)
        self.sinkhorn_fallbacks = 0
        self.warn_fallbacks = True
        # imported here, so that pool workers forked after this inherit it
        if sinkhorn is None:
            _solver()
        else:
            _pot()

    # ------------------------------------------------------------------ bags
    def bag(self, tokens: Sequence[str], *, what: str = "text") -> Bag:
        """The bag of ``tokens``; ``what`` names the text in an OOV error."""
        return self.bags([tokens], [what])[0]

    def bags(self, texts: Sequence[Sequence[str]], whats: Sequence[str] | None = None) -> list[Bag]:
        """The bags of many token lists, built together in a few array operations.

        Each bag depends on its own tokens only (not on the other texts), so
        this gives the same bags as :meth:`bag` one by one.  ``whats`` name the
        texts in an OOV error; with ``oov="error"`` the first text (in order)
        with an unknown token raises.  With ``oov="split"`` an unknown token
        counts as its known pieces (see :func:`known_pieces`).
        """
        texts = as_token_lists(texts)
        owner, ids, _unknown, dropped = token_rows(texts, self.vectors, oov=self.oov, pieces=self.pieces,
                                                   whats=whats)
        lengths = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
        owner, ids, counts = distinct_counts(owner, ids)
        return self._bags(owner, ids, counts.astype(np.float64), lengths, dropped)

    def bag_from_counts(self, ids: np.ndarray, counts: np.ndarray, *, n_tokens: int, n_oov: int) -> Bag:
        """The bag of distinct ascending row ``ids`` occurring ``counts`` times.

        The text had ``n_tokens`` tokens, ``n_oov`` of them dropped as unknown.
        """
        ids = np.asarray(ids, dtype=np.int64)
        owner = np.zeros(len(ids), dtype=np.int64)
        counts = np.asarray(counts, dtype=np.float64)
        return self._bags(owner, ids, counts, np.array([n_tokens], dtype=np.int64),
                          np.array([n_oov], dtype=np.int64))[0]

    def _bags(self, owner: np.ndarray, ids: np.ndarray, counts: np.ndarray, n_tokens: np.ndarray,
              dropped: np.ndarray) -> list[Bag]:
        """Bags from entries (text, row id, count), sorted by text then row id.

        Per text: ``n_tokens`` tokens, of which ``dropped`` had no vector.

        The one place masses are made: weight w = count (WMD) or count * ||x||
        (WRD), mass = w / (sum of w over the text's entries, added in row-id
        order).  Every computation is per entry or per text, so a text's bag
        does not depend on the others in the call.
        """
        n = len(n_tokens)
        table = self._table
        distinct, where = np.unique(ids, return_inverse=True)
        slots = table.slots(distinct)[where]
        norms = table.norm[slots]
        sq = None if self.metric == "wrd" else table.sq[slots]  # for the Gram form
        n_oov = dropped
        if self.unit and not norms.all():  # zero vectors have no direction: no mass, counted as unknown
            keep = norms > 0
            n_oov = dropped + np.bincount(owner[~keep], weights=counts[~keep], minlength=n).astype(np.int64)
            owner, ids, counts, slots, norms = owner[keep], ids[keep], counts[keep], slots[keep], norms[keep]
            sq = None if sq is None else sq[keep]
        weight = counts * norms if self.metric == "wrd" else counts
        mass = weight / np.bincount(owner, weights=weight, minlength=n)[owner]
        n_oov = n_oov.tolist()
        bounds = np.searchsorted(owner, np.arange(n + 1)).tolist()
        n_tokens = n_tokens.tolist()
        return [Bag(ids[s:e], mass[s:e], table, slots[s:e], None if sq is None else sq[s:e], n_tokens[k],
                    n_oov[k]) for k, (s, e) in enumerate(zip(bounds, bounds[1:]))]

    # ------------------------------------------------------------------ costs
    def cost(self, bag1: Bag, bag2: Bag) -> np.ndarray:
        """Cost matrix C (len(bag1), len(bag2)), float64, C order."""
        rows1, rows2 = bag1.rows, bag2.rows  # gathered from the row table on each use: once here
        gram = _gram(rows1, rows2)
        same = bag1.ids[:, None] == bag2.ids[None, :]
        any_same = bool(same.any())
        if self.metric != "wrd":
            return euclidean_costs(rows1, rows2, bag1.sq, bag2.sq, gram, same, any_same, bag1.sq_max + bag2.sq_max)
        cost = 1.0 - gram
        np.maximum(cost, 0.0, out=cost)
        if any_same:
            cost[same] = 0.0
        return cost

    # ------------------------------------------------------------------ exact values
    def distance(self, bag1: Bag, bag2: Bag) -> float:
        """WMD, or WRD (distance in [0, 2]) between two non-empty bags."""
        if bag1.empty or bag2.empty:
            side = 1 if bag1.empty else 2
            raise EmptyBagError(f"text {side} has no word with a nonzero vector")
        ids1, ids2 = bag1.ids, bag2.ids
        if (self.sinkhorn is None and len(ids1) == len(ids2)
                and np.array_equal(ids1, ids2) and np.array_equal(bag1.mass, bag2.mass)):
            return 0.0
        cost = self.cost(bag1, bag2)
        if len(ids1) == 1:  # all of the one word's mass goes to every word of the other side
            return float(np.sum(cost[0] * bag2.mass))
        if len(ids2) == 1:
            return float(np.sum(cost[:, 0] * bag1.mass))
        if self.sinkhorn is not None:
            return self._sinkhorn(bag1.mass, bag2.mass, cost)
        return _solve_lp(bag1.mass, bag2.mass, cost)[0]

    def _sinkhorn(self, a, b, cost) -> float:
        """sum_ij P_ij C_ij of the entropic plan (log-domain Sinkhorn, at most 1000 iterations).

        A pair on which Sinkhorn does not converge (EPS small against the costs)
        has a plan whose marginals are off, and a value that can leave the
        metric's range (a WRD similarity of -5): it is solved exactly instead,
        and one warning says how EPS fared.
        """
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            value = float(ot.sinkhorn2(a, b, cost, self.sinkhorn, method="sinkhorn_log", numItermax=1000,
                                         warn=True))
        if not any("converge" in str(w.message) for w in caught) and math.isfinite(value):
            return value
        self.sinkhorn_fallbacks += 1
        if self.sinkhorn_fallbacks == 1 and self.warn_fallbacks:
            warn_sinkhorn_fallbacks(self.sinkhorn)
        return _solve_lp(a, b, cost)[0]

    def score(self, distance: float) -> float:
        """The printed score: WMD distance, or WRD similarity 1 - WRD."""
        return 1.0 - distance if self.metric == "wrd" else distance

    @property
    def error_value(self) -> float:
        """The score given to a pair with an empty side (see the module docstring)."""
        if self._error_value is None:
            if self.metric == "wrd":
                self._error_value = -1.0
            elif self.normalize:
                self._error_value = 2.0
            else:
                self._error_value = 2.0 * _max_row_norm(self._matrix)
        return self._error_value

    def plan(self, bag1: Bag, bag2: Bag) -> tuple[float, np.ndarray, np.ndarray]:
        """(distance, plan P, cost C) of the exact transport (LP, never closed form)."""
        if bag1.empty or bag2.empty:
            side = 1 if bag1.empty else 2
            raise EmptyBagError(f"text {side} has no word with a nonzero vector")
        cost = self.cost(bag1, bag2)
        value, plan = _solve_lp(bag1.mass, bag2.mass, cost)
        return value, plan, cost

    def explain(self, bag1: Bag, bag2: Bag, top: int = 10) -> list[Flow]:
        """The ``top`` flows of the optimal plan by contribution mass * cost (then mass, then words)."""
        _value, plan, cost = self.plan(bag1, bag2)
        rows, cols = np.nonzero(plan > 0)
        words = self.vectors.words
        flows = [Flow(words[bag1.ids[i]], words[bag2.ids[j]], float(plan[i, j]), float(cost[i, j]))
                 for i, j in zip(rows, cols)]
        flows.sort(key=lambda f: (-f.contribution, -f.mass, f.source, f.target))
        return flows[:top] if top else flows

    # ------------------------------------------------------------------ lower bounds
    def centroid_bound(self, bag1: Bag, bag2: Bag) -> float:
        """WCD for WMD: ||c1 - c2||; for WRD: ||c1 - c2||^2 / 2 (c = mass-weighted mean of rows)."""
        diff = bag1.centroid - bag2.centroid
        sq = float(diff @ diff)
        return 0.5 * sq if self.metric == "wrd" else math.sqrt(sq)

    def relaxed_bound(self, bag1: Bag, bag2: Bag) -> float:
        """RWMD (or its WRD analogue): max(sum_i a_i min_j C_ij, sum_j b_j min_i C_ij)."""
        cost = self.cost(bag1, bag2)
        return max(float(bag1.mass @ cost.min(axis=1)), float(bag2.mass @ cost.min(axis=0)))

    def dual_bound(self, bag1: Bag, bag2: Bag) -> float:
        """The dual bound (see the module docstring): max over the two sides of a.f + b.g."""
        cost = self.cost(bag1, bag2)
        return max(_dual_value(cost, bag1.mass, bag2.mass), _dual_value(cost.T, bag2.mass, bag1.mass))


_NEAR = 1e-2  # Gram-form squared distances below this fraction of ||x||^2 + ||y||^2 are recomputed


def euclidean_costs(x: np.ndarray, y: np.ndarray, x_sq: np.ndarray, y_sq: np.ndarray, gram: np.ndarray,
                    same: np.ndarray, any_same: bool, sq_max: float) -> np.ndarray:
    """C_ij = ||x_i - y_j|| from the Gram matrix ``gram`` = x @ y.T, accurate for near-identical rows too.

    The Gram form ||x||^2 + ||y||^2 - 2 x.y carries a rounding error of about
    dim * 2^-53 * (||x||^2 + ||y||^2), which the square root turns into up to
    its square root: 2e-8 for two distinct words with equal vectors, whose
    distance is 0.  Entries whose squared distance is below :data:`_NEAR` of
    ||x||^2 + ||y||^2 (near-duplicate vectors, rare) are therefore computed as
    ||x_i - y_j|| directly; elsewhere the relative error of C_ij is at most
    dim * 2^-53 / (2 * _NEAR), 1.7e-12 for 300 dimensions (far below the 1e-9
    that search allows its bounds).  ``same`` marks pairs of one word (row), whose
    cost is exactly 0 (``any_same``: whether there is one); ``sq_max`` is
    max(x_sq) + max(y_sq), for a screen of the whole matrix in one comparison (a
    pair is scored in a few microseconds).  float64 (n, m).
    """
    cost = x_sq[:, None] + y_sq[None, :]
    cost -= 2.0 * gram
    if any_same:
        np.putmask(cost, same, np.inf)  # out of the screen below
    if cost.size and cost.min() <= _NEAR * sq_max:
        # every entry below 0 is among these, and made exact: no clamping needed
        i, j = np.nonzero(cost <= _NEAR * (x_sq[:, None] + y_sq[None, :]))
        diff = x[i] - y[j]
        cost[i, j] = np.einsum("ij,ij->i", diff, diff)
    np.sqrt(cost, out=cost)
    if any_same:
        cost[same] = 0.0
    return cost


def _gram(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """x @ y.T for rows x (n, d) and y (m, d), float64, with the same bits in every process.

    A score must not depend on which worker computed it.  With one row on a side,
    numpy hands the product to BLAS's matrix-vector routine, and OpenBLAS's sums
    there depend on where the operands lie in memory (seen with numpy 1.26: the
    same pair scored 1 ulp apart with -j1 and -j2), so that case is summed by
    einsum; the matrix-matrix routine packs its operands first and is not affected.
    """
    if len(x) == 1 or len(y) == 1:
        return np.einsum("ik,jk->ij", x, y)
    return x @ y.T


def _dual_value(cost: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
    """a.f + b.g for f_i = min_j C_ij, g_j = min_i (C_ij - f_i): a feasible point of the dual LP."""
    f = cost.min(axis=1)
    g = (cost - f[:, None]).min(axis=0)
    return float(a @ f + b @ g)


def _max_row_norm(matrix) -> float:
    """max_k ||x_k|| over a (possibly memory-mapped or int8) matrix, in chunks.

    Small chunks (2048 rows) reuse the same freed memory: with 65,536-row chunks each
    one was fresh pages, and the pass took 4-10x longer on the default store.  An
    int8 matrix is screened first on its codes (:func:`_int8_norm_candidates`).
    """
    if isinstance(matrix, Int8Matrix):
        rows = _int8_norm_candidates(matrix)
        if rows is not None:
            block = np.asarray(matrix[rows], dtype=np.float64)
            return float(np.sqrt(np.einsum("ij,ij->i", block, block).max())) if len(block) else 0.0
    best = 0.0
    for start in range(0, len(matrix), 2048):
        block = np.asarray(matrix[start:start + 2048], dtype=np.float64)
        if len(block):
            best = max(best, float(np.sqrt(np.einsum("ij,ij->i", block, block).max())))
    return best


def _int8_norm_candidates(matrix: Int8Matrix) -> np.ndarray | None:
    """Rows of an int8 matrix that may hold the longest decoded row (None: screen not possible).

    A decoded row is float32(code * scale) per value, within a relative 2^-24 of
    code * scale, so its length is within 6e-8 of s_k * ||q_k||, which integer
    arithmetic gives exactly (127^2 * dim fits int32 for dim < 133,000).  Rows more
    than 1e-6 below the largest such estimate cannot be the longest; the caller
    measures the few others exactly.  About 3x faster than decoding every row; in
    blocks of 8192 rows, so the int32 copies stay small whatever the store's size.
    """
    codes = matrix.codes
    if not len(codes) or codes.shape[1] >= 133_000:
        return None
    squares = np.empty(len(codes), dtype=np.int64)
    for start in range(0, len(codes), 8192):
        block = codes[start:start + 8192]
        squares[start:start + len(block)] = np.einsum("ij,ij->i", block, block, dtype=np.int32)
    estimate = np.sqrt(squares) * matrix.scales.astype(np.float64)
    return np.flatnonzero(estimate >= estimate.max() * (1 - 1e-6))


# ---------------------------------------------------------------------- contract functions
def wmd(tokens1: Sequence[str], tokens2: Sequence[str], vectors, *, normalize: bool = False,
        oov: str = "drop") -> float:
    """Word Mover's Distance between two token lists (units of the vectors)."""
    transport = Transport(vectors, metric="wmd", normalize=normalize, oov=oov)
    return transport.distance(transport.bag(tokens1, what="text 1"), transport.bag(tokens2, what="text 2"))


def wrd(tokens1: Sequence[str], tokens2: Sequence[str], vectors, *, oov: str = "drop") -> float:
    """Word Rotator's Distance in [0, 2] between two token lists; similarity = 1 - wrd."""
    transport = Transport(vectors, metric="wrd", oov=oov)
    return transport.distance(transport.bag(tokens1, what="text 1"), transport.bag(tokens2, what="text 2"))


def warn_sinkhorn_fallbacks(eps: float, pairs: int | None = None) -> None:
    """The warning for pairs on which Sinkhorn did not converge (solved exactly instead)."""
    log.warning("--sinkhorn %g did not converge within 1000 iterations on %s; they are solved exactly "
                "instead (a larger EPS converges faster)", eps,
                "some pairs" if pairs is None else f"{pairs} pair{'s' * (pairs != 1)}")


@dataclass
class PairTally:
    """Counts gathered while scoring pairs (merged across batches)."""

    pairs: int = 0
    tokens: int = 0
    oov: int = 0
    empty: list = None  # indices (or line numbers) of pairs with an empty side
    sinkhorn_fallbacks: int = 0  # pairs solved exactly because Sinkhorn did not converge

    def __post_init__(self):
        if self.empty is None:
            self.empty = []

    def merge(self, other: PairTally) -> PairTally:
        return PairTally(self.pairs + other.pairs, self.tokens + other.tokens,
                         self.oov + other.oov, self.empty + other.empty,
                         self.sinkhorn_fallbacks + other.sinkhorn_fallbacks)

    def report(self, what: str = "pair", error_value: float | None = None, sinkhorn: float | None = None) -> None:
        """Log the OOV note and, if any, the empty-side warning and (given ``sinkhorn``) the
        warning for pairs Sinkhorn did not solve."""
        if sinkhorn is not None and self.sinkhorn_fallbacks:
            warn_sinkhorn_fallbacks(sinkhorn, self.sinkhorn_fallbacks)
        if self.tokens:
            log.info("dropped %d of %d tokens (%.1f%%) without a vector", self.oov, self.tokens,
                     100.0 * self.oov / self.tokens)
        if self.empty:
            shown = ", ".join(str(x) for x in self.empty[:5]) + (", ..." if len(self.empty) > 5 else "")
            value = "" if error_value is None else f" (scored {error_value:g})"
            log.warning("%d %s(s) with a side that has no word with a nonzero vector%s: %s %s",
                        len(self.empty), what, value, what, shown)


class PairScorer:
    """Scores pairs of bags, with a per-text bag cache (texts repeat in pair files).

    :meth:`bags` gives the bags of a batch's texts; ``score_bags(bag1, bag2)``
    returns (score, valid), where an invalid pair (a side with no known word)
    scores :attr:`Transport.error_value`.
    """

    def __init__(self, transport: Transport, cache_size: int = 200_000):
        self.transport = transport
        self.cache: dict = {}
        self.cache_size = cache_size

    def bags(self, items: Iterable[tuple[Hashable, str]], tokens_of: Callable) -> dict:
        """``{key: bag}`` for ``(key, what)`` items: cached bags, and the others built together.

        ``tokens_of(key)`` gives a key's tokens; it is called for the keys not
        cached, in item order, before any bag is built (tokenizing first and
        then doing the numeric work is ~15% faster than interleaving them,
        through the CPU caches; measured on ATEC).  ``what`` names the text in
        an OOV error.
        """
        found: dict = {}
        new: dict = {}
        for key, what in items:
            if key in found or key in new:
                continue
            bag = self.cache.get(key)
            if bag is None:
                new[key] = what
            else:
                found[key] = bag
        if new:
            tokens = [tokens_of(key) for key in new]
            if len(self.cache) + len(new) > self.cache_size:
                self.cache.clear()
            for key, bag in zip(new, self.transport.bags(tokens, list(new.values()))):
                found[key] = bag
                if len(self.cache) < self.cache_size:
                    self.cache[key] = bag
        return found

    def score_bags(self, bag1: Bag, bag2: Bag) -> tuple[float, bool]:
        t = self.transport
        if bag1.empty or bag2.empty:
            return t.error_value, False
        return t.score(t.distance(bag1, bag2)), True


PAIR_BATCH = 512  # pairs whose bags are built together


def score_pairs(token_pairs: Iterable[tuple[Sequence[str], Sequence[str]]], vectors, *,
                metric: str = "wrd", normalize: bool = False, oov: str = "drop",
                sinkhorn: float | None = None, with_mask: bool = False,
                numbers: Sequence[int] | None = None, what: str = "pair", negate: bool = False):
    """Scores of token pairs, float64: WRD similarity 1 - WRD, or WMD distance (-WMD with ``negate``).

    A pair with a side that has no known word gets the metric's error value
    (see the module docstring), never inf or NaN, and one warning is logged
    for all of them.  With ``with_mask=True`` returns ``(scores, valid)``
    where ``valid`` is False for those pairs.  Messages call the pairs
    ``what`` 1, 2, ... or, given, ``what`` ``numbers[i]`` (e.g. "line" and
    the line numbers of a file).
    """
    scorer = PairScorer(Transport(vectors, metric=metric, normalize=normalize, oov=oov, sinkhorn=sinkhorn))
    scores, valid = [], []
    tally = PairTally()
    index = 0

    def number(i: int) -> int:  # of the i-th pair, 0-based
        return i + 1 if numbers is None else numbers[i]

    for chunk in chunks(token_pairs, PAIR_BATCH):
        if any(len(pair) != 2 for pair in chunk):
            raise TypeError("give pairs of two token lists (tokens1, tokens2)")
        flat = as_token_lists([tokens for pair in chunk for tokens in pair])
        chunk = [(tuple(tokens1), tuple(tokens2)) for tokens1, tokens2 in zip(flat[0::2], flat[1::2])]
        bags = scorer.bags(((key, f"{what} {number(index + i)}, text {side}")
                            for i, pair in enumerate(chunk) for side, key in enumerate(pair, 1)), tuple)
        for key1, key2 in chunk:
            index += 1
            bag1, bag2 = bags[key1], bags[key2]
            value, ok = scorer.score_bags(bag1, bag2)
            scores.append(value)
            valid.append(ok)
            tally.pairs += 1
            tally.tokens += bag1.n_tokens + bag2.n_tokens
            tally.oov += bag1.n_oov + bag2.n_oov
            if not ok:
                tally.empty.append(number(index - 1))
    sign = -1.0 if negate else 1.0
    tally.report(what, sign * scorer.transport.error_value if tally.empty else None)
    out = sign * np.asarray(scores, dtype=np.float64)
    mask = np.asarray(valid, dtype=bool)
    return (out, mask) if with_mask else out
