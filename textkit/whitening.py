"""Linear whitening of sentence vectors, fitted from streaming statistics.

The maths (BERT-whitening, Su et al. 2021).  For sentence vectors x_1 … x_n in R^d:

    μ = (1/n) Σ x_i                                  mean
    Σ = 1/(n-1) Σ (x_i - μ)(x_i - μ)ᵀ                  covariance (unbiased, as ``np.cov``)
    U Λ Uᵀ = SVD(Σ)                                  Λ = diag(λ_1 ≥ … ≥ λ_d) eigenvalues
    W = U Λ^-1/2 ,  keep the first k columns          (d, k)
    x̃ = (x - μ) W                                    whitened vector in R^k

With k = d the whitened sample has mean 0 and identity covariance.  Keeping
fewer columns keeps the directions of largest variance (like PCA), then
rescales each to unit variance.

Streaming statistics.  A fit never holds all vectors: each batch is reduced to
``WhiteningStats(n, mean, scatter)`` with ``scatter = Σ (x - mean)(x - mean)ᵀ``,
in float64, and partial statistics merge associatively (Chan, Golub & LeVeque
1979)::

    n = n_a + n_b ,  δ = mean_b - mean_a
    mean    = mean_a + δ · n_b / n
    scatter = scatter_a + scatter_b + δ δᵀ · n_a n_b / n

This holds exactly the same information as the textbook triple
(n, Σx, Σxxᵀ) — Σx = n·mean, Σxxᵀ = scatter + n·mean meanᵀ — but it does not
subtract two large numbers to get the covariance, which matters for word-vector
averages that sit far from the origin (the "narrow cone").  ``batch_stats`` and
``merge_stats`` are module-level so ``textkit.pool.map_reduce`` can run them, and
partial fits made on several machines combine with ``merge_stats``.

Rank deficiency.  With n sentences the covariance has rank at most n - 1, so
with fewer sentences than dimensions (or collinear vectors) some eigenvalues
are numerically zero and Λ^-1/2 would blow them up.  Decision: the fit still
works, keeps only the directions with non-negligible variance
(λ > d·eps·λ_1, numpy's rank tolerance) and logs a warning saying how many it
dropped; ``eigenvalue_floor`` (relative: λ ← max(λ, floor·λ_1)) keeps them
instead, with a bounded gain.  Fewer than 2 vectors is an error (no covariance).

Example:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(500, 4)) @ rng.normal(size=(4, 4)) + 3.0
    >>> w = Whitening().fit(x)
    >>> z = w.transform(x)
    >>> bool(np.allclose(z.mean(axis=0), 0) and np.allclose(np.cov(z.T), np.eye(4)))
    True
"""

from __future__ import annotations

import logging
import os
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from textkit.archive import SingleArrayFile, read_npz
from textkit.errors import DataError, UsageError, numpy_file_problem, preview, real_number, whole_number

log = logging.getLogger("textkit.whitening")

FORMAT_VERSION = 1
_REQUIRED_KEYS = ("mu", "W", "eigenvalues", "k", "n", "dim", "vectors_identity")


@dataclass(frozen=True)
class WhiteningStats:
    """Sufficient statistics of a sample of vectors, float64.

    n: number of vectors; mean: (d,) sample mean; scatter: (d, d) Σ (x - mean)(x - mean)ᵀ.
    """

    n: int
    mean: np.ndarray
    scatter: np.ndarray

    @property
    def dim(self) -> int:
        return int(self.mean.shape[0])

    def sum(self) -> np.ndarray:
        """Σx, float64 (d,)."""
        return self.n * self.mean

    def sum_outer(self) -> np.ndarray:
        """Σ x xᵀ, float64 (d, d)."""
        return self.scatter + self.n * np.outer(self.mean, self.mean)

    def covariance(self) -> np.ndarray:
        """Unbiased covariance scatter / (n - 1), float64 (d, d)."""
        if self.n < 2:
            raise DataError(
                f"whitening needs at least 2 vectors to estimate a covariance, got {self.n}"
            )
        return self.scatter / (self.n - 1)


def batch_stats(matrix: np.ndarray) -> WhiteningStats:
    """Statistics of one batch of row vectors (any float dtype), computed in float64."""
    x = np.asarray(matrix, dtype=np.float64)
    if x.ndim != 2:
        raise UsageError(f"expected a 2-d array of row vectors, got shape {x.shape}")
    n, dim = x.shape
    if n == 0:
        return WhiteningStats(0, np.zeros(dim), np.zeros((dim, dim)))
    if not np.isfinite(x).all():
        raise DataError(f"vectors holding NaN or infinite values (row {int(np.argmin(np.isfinite(x).all(axis=1))) + 1}"
                        " of a batch): nothing to whiten")
    with np.errstate(over="ignore", invalid="ignore"):  # values near 1e154 and up: fit_stats says so
        mean = x.mean(axis=0)
        centred = x - mean
        return WhiteningStats(n, mean, centred.T @ centred)


def merge_stats(a: WhiteningStats | None, b: WhiteningStats | None) -> WhiteningStats | None:
    """Associative, commutative merge of two partial statistics (``None`` is the empty sample)."""
    if a is None or a.n == 0:
        return b if b is not None else a
    if b is None or b.n == 0:
        return a
    if a.dim != b.dim:
        raise DataError(f"cannot merge whitening statistics of dimension {a.dim} and {b.dim}")
    n = a.n + b.n
    delta = b.mean - a.mean
    mean = a.mean + delta * (b.n / n)
    scatter = a.scatter + b.scatter + np.outer(delta, delta) * (a.n * b.n / n)
    return WhiteningStats(n, mean, scatter)


def stats_of_batches(batches: Iterable[np.ndarray]) -> WhiteningStats | None:
    """Fold ``batch_stats`` over an iterable of (m, d) arrays, holding one batch at a time."""
    total: WhiteningStats | None = None
    for batch in batches:
        total = merge_stats(total, batch_stats(batch))
    return total


def is_saved_whitening(path: str | os.PathLike) -> bool:
    """Whether ``path`` names saved parameters rather than a corpus to fit on.

    A name ending in ``.npz``, or a regular file that is a zip archive (what
    :meth:`Whitening.save` writes, whatever the name it was given); a pipe is
    never opened here, so that its first bytes stay for the reader.
    """
    name = str(path)
    if name.lower().endswith(".npz"):
        return True
    if not os.path.isfile(name):
        return False
    try:
        with open(name, "rb") as fh:
            return fh.read(4) == b"PK\x03\x04"
    except OSError:
        return False  # the corpus reader says why


def _saved_int(value: np.ndarray, key: str, name: str) -> int:
    """A 0-d integer array of a saved whitening as an int; DataError naming ``key`` otherwise."""
    if value.shape != () or value.dtype.kind not in "iu":
        raise DataError(f"{name}: {key} is {preview(str(value), 30)}, not a whole number (a damaged file)")
    return int(value)


def fix_signs(u: np.ndarray) -> np.ndarray:
    """Make each singular vector (column of ``u``) have its largest-magnitude entry positive: SVD
    signs are arbitrary, this makes them reproducible (whitening, ``vectors train``)."""
    idx = np.argmax(np.abs(u), axis=0)
    signs = np.sign(u[idx, np.arange(u.shape[1])])
    signs[signs == 0] = 1.0
    return u * signs


class Whitening:
    """Whitening transform x̃ = (x - μ) W[:, :k] (see the module docstring for the maths).

    Parameters
    ----------
    n_components: k, the number of whitened dimensions kept (None -> all d, or fewer if
        the covariance is rank deficient).
    eigenvalue_floor: None, or a relative floor f > 0: eigenvalues are clamped to
        max(λ, f·λ_1) before W is formed, so low-variance directions are kept with a
        gain of at most 1/sqrt(f·λ_1).

    Fitted attributes: ``mean_`` (d,), ``components_`` (d, k) = W, ``eigenvalues_`` (d,)
    covariance eigenvalues (before any floor), ``n_samples_``, ``n_features_`` (d),
    ``n_components_`` (k), ``vectors_identity_`` (the vector store the sample came from),
    ``encoder_`` (the sentence-vector settings, e.g. "pooling=unit weighting=none"),
    ``tokenizer_`` (the tokenizer's, e.g. "jieba"; "" when not recorded).
    """

    def __init__(self, n_components: int | None = None, *, eigenvalue_floor: float | None = None):
        if n_components is not None:
            n_components = whole_number(n_components, "n_components")
        if eigenvalue_floor is not None:
            eigenvalue_floor = real_number(eigenvalue_floor, "eigenvalue_floor")
        if n_components is not None and n_components < 1:
            raise UsageError(f"n_components (--dim) must be at least 1, got {n_components}")
        if eigenvalue_floor is not None and not (0.0 < eigenvalue_floor < 1.0):
            raise UsageError(
                "the eigenvalue floor is relative to the largest eigenvalue and must lie "
                f"in (0, 1), got {eigenvalue_floor}"
            )
        self.n_components = n_components
        self.eigenvalue_floor = eigenvalue_floor

    # ------------------------------------------------------------------ fitting
    def fit(
        self,
        data: np.ndarray | Iterable[np.ndarray],
        *,
        vectors_identity: str = "",
        encoder: str = "",
        tokenizer: str = "",
    ) -> Whitening:
        """Fit on a (n, d) array or on an iterable of (m, d) batches (streamed, bounded memory).

        Every row counts, zero rows too: leave out the sentences with no known word
        (``EncodedBatch.known == 0``) as ``textkit whiten fit`` does, or they pull
        the mean towards 0.  ``vectors_identity`` and ``encoder`` (a label of the sentence-vector settings) are
        recorded so that applying the parameters to other vectors can be refused, and ``tokenizer``
        (:meth:`textkit.tokenize.TokenizerSpec.describe`) so that other tokens can be warned of.
        """
        if isinstance(data, np.ndarray):
            stats = batch_stats(data)
        else:
            stats = stats_of_batches(data)
        if stats is None:
            raise DataError("whitening needs at least 2 vectors to estimate a covariance, got none")
        return self.fit_stats(stats, vectors_identity=vectors_identity, encoder=encoder, tokenizer=tokenizer)

    def fit_stats(
        self, stats: WhiteningStats, *, vectors_identity: str = "", encoder: str = "", tokenizer: str = ""
    ) -> Whitening:
        """Fit from merged statistics (the end of a streamed or distributed fit)."""
        dim = stats.dim
        if self.n_components is not None and self.n_components > dim:
            raise UsageError(f"n_components (--dim) {self.n_components} is larger than the vector dimension {dim}")
        cov = stats.covariance()
        if not (np.isfinite(cov).all() and np.isfinite(stats.mean).all()):  # finite rows, float64 overflow
            raise DataError(f"the covariance of the {stats.n} vectors is not finite (values too large)")
        u, s, _ = np.linalg.svd(cov, hermitian=True)
        order = np.argsort(-s, kind="stable")
        u, s = fix_signs(u[:, order]), s[order]
        k = dim if self.n_components is None else self.n_components

        if s[0] <= 0.0:
            raise DataError(f"all {stats.n} vectors are identical: nothing to whiten")
        if self.eigenvalue_floor is not None:
            used = np.maximum(s, self.eigenvalue_floor * s[0])
        else:
            tol = s[0] * dim * np.finfo(np.float64).eps
            rank = int(np.count_nonzero(s > tol))
            if rank < k:
                why = (
                    f"only {stats.n} vectors for dimension {dim} (rank at most {stats.n - 1})"
                    if stats.n - 1 < k
                    else "the vectors are linearly dependent"
                )
                log.warning(
                    "whitening: %s; keeping %d of the %d requested dimensions "
                    "(set an eigenvalue floor to keep them all)",
                    why,
                    rank,
                    k,
                )
                k = rank
            used = s
        self.mean_ = stats.mean.copy()
        self.eigenvalues_ = s
        self.components_ = u[:, :k] / np.sqrt(used[:k])
        self.n_samples_ = int(stats.n)
        self.n_features_ = int(dim)
        self.n_components_ = int(k)
        self.vectors_identity_ = str(vectors_identity)
        self.encoder_ = str(encoder)
        self.tokenizer_ = str(tokenizer)
        return self

    # ------------------------------------------------------------------ applying
    def _check_fitted(self) -> None:
        if not hasattr(self, "components_"):
            raise UsageError("this Whitening is not fitted yet: call fit() or Whitening.load()")

    def transform(self, matrix: np.ndarray) -> np.ndarray:
        """(x - μ) W for rows x of a (m, d) array; returns float64 (m, k).

        A pure affine map: a zero row (a sentence with no known word) becomes -μW.
        ``textkit embed --whitening`` writes 0 for such sentences instead; do the
        same with the batch's ``known`` counts if that is what you want.
        """
        self._check_fitted()
        x = np.asarray(matrix, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != self.n_features_:
            raise DataError(
                f"whitening was fitted on {self.n_features_}-dimensional vectors, got shape {x.shape}"
            )
        return (x - self.mean_) @ self.components_

    def check_vectors(self, identity: str, *, source: str = "whitening parameters") -> None:
        """Raise DataError unless the parameters were fitted on vectors with this identity."""
        self._check_fitted()
        if self.vectors_identity_ and identity and self.vectors_identity_ != identity:
            raise DataError(
                f"{source}: fitted on other vectors (store {self.vectors_identity_}, "
                f"not {identity}); give the --vectors it was fitted with, or refit with `textkit whiten fit` "
                "on these vectors"
            )

    # ------------------------------------------------------------------ storage
    def save(self, path: str | os.PathLike) -> None:
        """Write .npz (mu, W, eigenvalues, k, n, dim, vectors_identity); atomic (temp + rename)."""
        self._check_fitted()
        from textkit.output import atomic_path

        with atomic_path(str(path)) as tmp, open(tmp, "wb") as fh:
            np.savez(
                fh,
                mu=self.mean_,
                W=self.components_,
                eigenvalues=self.eigenvalues_,
                k=np.int64(self.n_components_),
                n=np.int64(self.n_samples_),
                dim=np.int64(self.n_features_),
                vectors_identity=np.str_(self.vectors_identity_),
                encoder=np.str_(self.encoder_),
                tokenizer=np.str_(self.tokenizer_),
                eigenvalue_floor=np.float64(self.eigenvalue_floor or 0.0),
                format_version=np.int64(FORMAT_VERSION),
            )

    @classmethod
    def load(cls, path: str | os.PathLike, *, vectors_identity: str | None = None) -> Whitening:
        """Read a .npz written by ``save``; with ``vectors_identity``, check the store matches."""
        name = str(path)
        if Path(name).is_dir():
            raise DataError(f"{name}: is a directory, expected whitening parameters (a .npz file)")
        if not Path(name).is_file():
            raise DataError(f"{name}: no such whitening parameters file")
        try:
            data = read_npz(name)
        except SingleArrayFile:
            raise DataError(f"{name}: not a textkit whitening file (a single array, not a .npz "
                            "archive); make one with `textkit whiten fit`") from None
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:  # a cut or foreign file
            raise DataError(f"{name}: not a readable .npz whitening file ({numpy_file_problem(exc)})") from None
        missing = [key for key in _REQUIRED_KEYS if key not in data]
        if missing:
            raise DataError(f"{name}: not a textkit whitening file (missing {', '.join(missing)}); "
                            "make one with `textkit whiten fit`")
        k, dim, n = (_saved_int(data[key], key, name) for key in ("k", "dim", "n"))
        mu, w, eig = data["mu"], data["W"], data["eigenvalues"]
        if any(a.dtype.kind not in "fiu" for a in (mu, w, eig)):
            raise DataError(f"{name}: mu, W and eigenvalues must be numbers (a damaged or foreign file)")
        if mu.shape != (dim,) or w.shape != (dim, k) or eig.shape != (dim,) or k < 1:
            raise DataError(
                f"{name}: inconsistent shapes (mu {mu.shape}, W {w.shape}, dim {dim}, k {k})"
            )
        if not all(np.isfinite(a).all() for a in (mu, w, eig)):
            raise DataError(f"{name}: holds NaN or inf (a damaged file); fit it again with `textkit whiten fit`")
        floor = data.get("eigenvalue_floor", np.float64(0.0))
        if floor.shape != () or floor.dtype.kind not in "fiu" or not 0.0 <= float(floor) < 1.0:
            raise DataError(f"{name}: eigenvalue_floor {preview(str(floor), 30)} is not a number in [0, 1) "
                            "(a damaged file)")
        self = cls(k, eigenvalue_floor=float(floor) or None)
        self.mean_ = mu.astype(np.float64)
        self.components_ = w.astype(np.float64)
        self.eigenvalues_ = eig.astype(np.float64)
        self.n_samples_, self.n_features_, self.n_components_ = n, dim, k
        self.vectors_identity_ = str(data["vectors_identity"])
        self.encoder_ = str(data["encoder"]) if "encoder" in data else ""
        self.tokenizer_ = str(data["tokenizer"]) if "tokenizer" in data else ""  # not in older files
        if vectors_identity is not None:
            self.check_vectors(vectors_identity, source=name)
        return self
