"""Whitening maths against a direct one-shot numpy reference."""

from __future__ import annotations

import logging
import re

import numpy as np
import pytest

from textkit.errors import DataError, UsageError
from textkit.whitening import (
    Whitening,
    WhiteningStats,
    batch_stats,
    merge_stats,
    stats_of_batches,
)


@pytest.fixture
def textkit_log(caplog):
    """caplog that also sees "textkit" records when the CLI has turned off propagation."""
    logger = logging.getLogger("textkit")
    logger.addHandler(caplog.handler)
    with caplog.at_level(logging.WARNING, logger="textkit"):
        yield caplog
    logger.removeHandler(caplog.handler)


def correlated(n: int, dim: int, seed: int = 0, offset: float = 5.0) -> np.ndarray:
    """Random vectors with a strong mean and a correlated, anisotropic covariance."""
    rng = np.random.default_rng(seed)
    mix = rng.normal(size=(dim, dim)) * np.linspace(3.0, 0.1, dim)[:, None]
    return rng.normal(size=(n, dim)) @ mix + offset * rng.normal(size=dim)


def reference_whitening(x: np.ndarray, k: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The published recipe in one shot: mu, cov = np.cov, U,s = SVD, W = U / sqrt(s)."""
    mu = x.mean(axis=0)
    cov = np.cov(x.T)
    u, s, _ = np.linalg.svd(cov)
    w = u / np.sqrt(s)
    return mu, w[:, : (k or x.shape[1])]


def align_signs(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Flip columns of b so each has a positive dot product with the matching column of a."""
    signs = np.sign(np.sum(a * b, axis=0))
    signs[signs == 0] = 1
    return b * signs


def test_whitened_sample_has_zero_mean_and_identity_covariance():
    x = correlated(2000, 12)
    z = Whitening().fit(x).transform(x)
    assert z.shape == (2000, 12)
    np.testing.assert_allclose(z.mean(axis=0), 0.0, atol=1e-10)
    np.testing.assert_allclose(np.cov(z.T), np.eye(12), atol=1e-9)


def test_truncated_whitening_keeps_top_variance_directions_with_unit_variance():
    x = correlated(1500, 10, seed=1)
    w = Whitening(4).fit(x)
    z = w.transform(x)
    assert z.shape == (1500, 4) and w.n_components_ == 4
    np.testing.assert_allclose(np.cov(z.T), np.eye(4), atol=1e-9)
    # the kept directions are the eigenvectors of the 4 largest eigenvalues
    eig = np.sort(np.linalg.eigvalsh(np.cov(x.T)))[::-1]
    np.testing.assert_allclose(w.eigenvalues_, eig, rtol=1e-9)


def test_streaming_fit_equals_one_shot_numpy_fit():
    x = correlated(3001, 16, seed=2, offset=50.0)
    batches = [x[i : i + 257] for i in range(0, len(x), 257)]
    w = Whitening().fit(iter(batches))
    mu, ref_w = reference_whitening(x)
    np.testing.assert_allclose(w.mean_, mu, rtol=0, atol=1e-10)
    np.testing.assert_allclose(w.components_, align_signs(w.components_, ref_w), rtol=0, atol=1e-10)
    np.testing.assert_allclose(
        w.transform(x), (x - mu) @ align_signs(w.components_, ref_w), atol=1e-10
    )


def test_stats_hold_the_textbook_sums():
    x = correlated(400, 6, seed=3)
    stats = stats_of_batches([x[:150], x[150:151], x[151:]])
    assert stats.n == 400
    np.testing.assert_allclose(stats.sum(), x.sum(axis=0), rtol=1e-12)
    np.testing.assert_allclose(stats.sum_outer(), x.T @ x, rtol=1e-11)
    np.testing.assert_allclose(stats.covariance(), np.cov(x.T), rtol=1e-11, atol=1e-12)


def test_merging_two_partial_fits_equals_one_fit():
    x = correlated(1000, 8, seed=4)
    a, b = batch_stats(x[:333]), batch_stats(x[333:])
    whole = batch_stats(x)
    merged = merge_stats(a, b)
    swapped = merge_stats(b, a)
    for m in (merged, swapped):
        assert m.n == whole.n
        np.testing.assert_allclose(m.mean, whole.mean, atol=1e-12)
        np.testing.assert_allclose(m.scatter, whole.scatter, rtol=1e-11, atol=1e-9)
    w_merged = Whitening().fit_stats(merged)
    w_whole = Whitening().fit(x)
    np.testing.assert_allclose(w_merged.transform(x), w_whole.transform(x), atol=1e-10)


def test_merge_is_associative_and_handles_empty_parts():
    x = correlated(90, 5, seed=5)
    a, b, c = batch_stats(x[:10]), batch_stats(x[10:50]), batch_stats(x[50:])
    left = merge_stats(merge_stats(a, b), c)
    right = merge_stats(a, merge_stats(b, c))
    np.testing.assert_allclose(left.scatter, right.scatter, rtol=1e-12, atol=1e-10)
    empty = batch_stats(np.zeros((0, 5)))
    assert merge_stats(empty, a) is a and merge_stats(a, None) is a and merge_stats(None, a) is a


def test_merge_rejects_different_dimensions():
    with pytest.raises(DataError):
        merge_stats(batch_stats(np.ones((3, 2))), batch_stats(np.ones((3, 4))))


def test_save_load_round_trip_gives_identical_vectors(tmp_path):
    x = correlated(500, 7, seed=6)
    w = Whitening(5).fit(x, vectors_identity="store-abc")
    path = tmp_path / "params.npz"
    w.save(path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["params.npz"]  # no temp file left
    back = Whitening.load(path, vectors_identity="store-abc")
    np.testing.assert_array_equal(back.transform(x), w.transform(x))
    assert (back.n_components_, back.n_features_, back.n_samples_) == (5, 7, 500)
    assert back.vectors_identity_ == "store-abc"
    np.testing.assert_array_equal(back.eigenvalues_, w.eigenvalues_)
    with np.load(path) as npz:
        assert {"mu", "W", "eigenvalues", "k", "n", "dim", "vectors_identity"} <= set(npz.files)


def test_params_from_other_vectors_are_an_error(tmp_path):
    path = tmp_path / "params.npz"
    Whitening().fit(correlated(50, 3), vectors_identity="store-abc").save(path)
    with pytest.raises(DataError, match="other vectors"):
        Whitening.load(path, vectors_identity="store-xyz")


def test_load_rejects_files_that_are_not_whitening_params(tmp_path):
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not a zip at all")
    with pytest.raises(DataError, match=r"junk.npz: not a readable .npz whitening file \(not a numpy .npy/.npz"):
        Whitening.load(junk)  # not numpy's advice to unpickle it
    other = tmp_path / "other.npz"
    np.savez(other, a=np.ones(3))
    with pytest.raises(DataError, match="missing"):
        Whitening.load(other)
    with pytest.raises(DataError, match="no such"):
        Whitening.load(tmp_path / "absent.npz")
    good = tmp_path / "good.npz"
    Whitening().fit(correlated(50, 3)).save(good)
    cut = tmp_path / "cut.npz"
    cut.write_bytes(good.read_bytes()[:300])  # a zip that ends early (an interrupted copy)
    with pytest.raises(DataError, match="cut.npz: not a readable"):
        Whitening.load(cut)
    for key in ("mu", "W", "eigenvalues"):  # a damaged file: NaN or inf would flow into every vector
        data = dict(np.load(good))
        data[key] = data[key].copy()
        data[key].flat[0] = np.nan if key != "W" else np.inf
        np.savez(tmp_path / "bad.npz", **data)
        with pytest.raises(DataError, match="bad.npz: holds NaN or inf"):
            Whitening.load(tmp_path / "bad.npz")


def test_load_refuses_damaged_numbers_as_data_errors(tmp_path):
    """Values that do not suit (wrong kind or range) name the file: a DataError, never a usage error
    about an option the user did not give, nor a traceback from int() of a string."""
    good = tmp_path / "good.npz"
    Whitening(2).fit(correlated(50, 3)).save(good)
    base = dict(np.load(good))
    for key, value, message in [
        ("k", np.str_("two"), "k is 'two', not a whole number"),
        ("k", np.array([2, 2]), "k is '[2 2]', not a whole number"),
        ("n", np.float64(50.5), "n is '50.5', not a whole number"),
        ("dim", np.str_("3"), "dim is '3', not a whole number"),
        ("k", np.int64(0), "inconsistent shapes"),
        ("eigenvalue_floor", np.float64(5.0), "eigenvalue_floor '5.0' is not a number in [0, 1)"),
        ("eigenvalue_floor", np.str_("x"), "eigenvalue_floor 'x' is not a number in [0, 1)"),
        ("mu", np.array(["a", "b", "c"]), "mu, W and eigenvalues must be numbers"),
    ]:
        data = dict(base)
        data[key] = value
        if key == "k" and value.shape == () and value.dtype.kind == "i":
            data["W"] = base["W"][:, :0]
        np.savez(tmp_path / "bad.npz", **data)
        with pytest.raises(DataError, match=re.escape(f"bad.npz: {message}")):
            Whitening.load(tmp_path / "bad.npz")


def test_transform_checks_the_dimension():
    w = Whitening().fit(correlated(50, 3))
    with pytest.raises(DataError, match="3-dimensional"):
        w.transform(np.ones((2, 4)))


def test_dim_larger_than_vector_dim_is_a_usage_error():
    with pytest.raises(UsageError, match="larger than the vector dimension"):
        Whitening(9).fit(correlated(100, 8))
    with pytest.raises(UsageError):
        Whitening(0)


def test_fewer_vectors_than_dimensions_fits_with_a_warning(textkit_log):
    caplog = textkit_log
    x = correlated(6, 10, seed=7)
    w = Whitening().fit(x)
    assert w.n_components_ == 5  # rank of a centred sample of 6 vectors
    assert any("only 6 vectors for dimension 10" in r.getMessage() for r in caplog.records)
    z = w.transform(x)
    assert np.all(np.isfinite(z))
    np.testing.assert_allclose(np.cov(z.T), np.eye(5), atol=1e-8)


def test_eigenvalue_floor_keeps_all_directions_with_bounded_gain(textkit_log):
    caplog = textkit_log
    x = correlated(6, 10, seed=7)
    w = Whitening(eigenvalue_floor=1e-3).fit(x)
    assert not caplog.records
    assert w.n_components_ == 10
    gains = np.linalg.norm(w.components_, axis=0)
    assert gains.max() <= 1 / np.sqrt(1e-3 * w.eigenvalues_[0]) * (1 + 1e-9)
    with pytest.raises(UsageError):
        Whitening(eigenvalue_floor=2.0)


def test_too_few_or_identical_vectors_are_errors():
    with pytest.raises(DataError, match="at least 2"):
        Whitening().fit(np.ones((1, 3)))
    with pytest.raises(DataError, match="at least 2"):
        Whitening().fit(iter([]))
    with pytest.raises(DataError, match="identical"):
        Whitening().fit(np.ones((5, 3)))


def test_fit_is_deterministic_in_sign():
    x = correlated(300, 6, seed=8)
    a = Whitening().fit(x).components_
    b = Whitening().fit(iter([x[:100], x[100:]])).components_
    np.testing.assert_allclose(a, b, atol=1e-10)


def test_stats_dataclass_reports_dim():
    s = WhiteningStats(2, np.zeros(3), np.zeros((3, 3)))
    assert s.dim == 3
