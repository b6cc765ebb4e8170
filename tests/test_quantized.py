"""int8 stores: per-row quantization, saving and opening, and every reader of rows decoding them."""

import json
import os

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from .conftest import run_main
from textkit import transport as tr
from textkit.errors import VectorsError
from textkit.quantized import Int8Matrix, decode_rows, quantize_rows
from textkit.vectors import Vectors, content_identity, open_store, save_store


def _naive_quantize(row):
    """One row, the obvious way: scale = max |x| / 127, code = nearest integer of x / scale.

    A scale that float32 cannot hold closely enough for the largest code to be at most
    127 (below its normal range) is raised one float32 step at a time until it is.
    """
    peak = max((abs(float(x)) for x in row), default=0.0)
    scale = np.float32(peak / 127)
    while peak > 0 and (scale == 0 or np.rint(peak / float(scale)) > 127):
        scale = np.nextafter(scale, np.float32(np.inf))
    if float(scale) * 127 > float(np.finfo(np.float32).max):  # would decode 127 * scale to inf
        scale = np.nextafter(scale, np.float32(0))
    if scale == 0:
        return [0] * len(row), scale
    return [int(np.rint(float(x) / float(scale))) for x in row], scale


def _random(n=40, dim=6, seed=0):
    rng = np.random.default_rng(seed)
    m = rng.standard_normal((n, dim)) * rng.uniform(0.01, 100, size=(n, 1))
    m[3] = 0  # a row of zeros stays zeros
    return [f"词{i}" for i in range(n)], m.astype(np.float32)


finite_rows = arrays(
    np.float32,
    st.tuples(st.integers(1, 6), st.integers(1, 5)),
    elements=st.floats(-1e6, 1e6, width=32, allow_nan=False, allow_infinity=False),
)


@settings(max_examples=200, deadline=None)
@given(finite_rows)
def test_quantize_matches_the_naive_rule_and_its_error_bound(rows):
    codes, scales = quantize_rows(rows)
    assert codes.dtype == np.int8 and scales.dtype == np.float32
    for row, got_codes, got_scale in zip(rows, codes, scales):
        want_codes, want_scale = _naive_quantize(row)
        assert got_scale == want_scale
        assert got_codes.tolist() == want_codes
    decoded = decode_rows(codes, scales)
    peak = np.abs(rows.astype(np.float64)).max(axis=1, keepdims=True)
    # |x - q s| <= s / 2 = peak / 254, plus float32 rounding of s and of the product
    assert np.all(np.abs(decoded - rows.astype(np.float64)) <= peak / 254 * (1 + 1e-5) + 1e-30)
    assert np.all(np.abs(codes.astype(int)) <= 127)


@pytest.mark.parametrize("peak", [3.052e-42, 1e-44, 1.4e-45, 1e-38, 2e-36])
def test_rows_below_float32s_normal_range_keep_the_error_bound(peak):
    # at such sizes s = peak / 127 rounds coarsely (or to 0) in float32: the largest code
    # would be 128 and clipped, or the row would decode as zeros
    row = np.array([[peak, -peak / 3, 0.0]], dtype=np.float32)
    codes, scales = quantize_rows(row)
    assert abs(int(codes[0, 0])) <= 127 and scales[0] > 0
    decoded = decode_rows(codes, scales).astype(np.float64)
    assert np.all(np.abs(decoded - row.astype(np.float64)) <= float(scales[0]) / 2)
    assert codes[0].tolist() == _naive_quantize(row[0])[0]


@pytest.mark.parametrize("peak", [np.finfo(np.float32).max, np.nextafter(np.finfo(np.float32).max, 0), 3.4e38])
def test_rows_near_float32s_largest_value_decode_finite(peak):
    # s = peak / 127 rounded up to float32 made 127 * s overflow: such a row decoded to inf
    row = np.array([[peak, -peak / 3, 1.0]], dtype=np.float32)
    codes, scales = quantize_rows(row)
    decoded = decode_rows(codes, scales)
    assert np.isfinite(decoded).all()
    assert np.all(np.abs(decoded.astype(np.float64) - row.astype(np.float64)) <= float(peak) / 254 * (1 + 1e-5))
    want_codes, want_scale = _naive_quantize(row[0])
    assert codes[0].tolist() == want_codes and scales[0] == want_scale


def test_int8_matrix_indexes_like_the_decoded_array():
    _, m = _random()
    codes, scales = quantize_rows(m)
    view = Int8Matrix(codes, scales)
    full = codes.astype(np.float32) * scales[:, None]
    assert view.shape == m.shape and len(view) == len(m) and view.dtype == np.float32
    assert np.array_equal(np.asarray(view), full)
    assert np.array_equal(view[5], full[5])
    assert np.array_equal(view[2:9], full[2:9])
    assert np.array_equal(view[np.array([7, 0, 7])], full[[7, 0, 7]])
    assert np.asarray(view, dtype=np.float64).dtype == np.float64
    with pytest.raises(TypeError):
        view[1, 2]
    with pytest.raises(ValueError):
        Int8Matrix(codes, scales[:-1])


def test_int8_store_round_trip_and_identity(tmp_path):
    words, m = _random()
    counts = np.arange(len(words), 0, -1)
    v = save_store(tmp_path / "s", words, m, counts=counts, dtype="int8")
    assert sorted(os.listdir(tmp_path / "s")) == [
        "counts.npy", "meta.json", "scales.npy", "vectors.npy", "vocab.txt"]
    assert os.path.getsize(tmp_path / "s" / "vectors.npy") == 128 + m.size  # one byte a value
    again = open_store(tmp_path / "s")
    assert again.dtype == "int8" and again.meta["dtype"] == "int8" and again.dim == m.shape[1]
    codes, scales = quantize_rows(m)
    assert np.array_equal(np.asarray(again.matrix), decode_rows(codes, scales))
    assert np.array_equal(again["词5"], decode_rows(codes[5], scales[5]))
    # identity: recorded, equal to the content hash, kept when saved again as int8
    assert again.identity == v.identity == content_identity(words, again.matrix, again.counts)
    kept = again.save(tmp_path / "t")
    assert kept.dtype == "int8" and kept.identity == again.identity
    assert np.array_equal(kept.matrix.codes, codes) and np.array_equal(kept.matrix.scales, scales)
    # a different scale or code is a different identity; so is the float32 store of the same rows
    s2 = scales.copy()
    s2[0] = np.nextafter(s2[0], np.float32(np.inf))
    assert content_identity(words, Int8Matrix(codes, s2), counts) != again.identity
    as_float = again.save(tmp_path / "f", dtype="float32")
    assert as_float.dtype == "float32" and as_float.identity != again.identity
    assert np.array_equal(np.asarray(as_float.matrix), np.asarray(again.matrix))


def test_int8_rows_serve_norms_neighbours_and_transport(tmp_path):
    words, m = _random(30, 5, seed=3)
    q = save_store(tmp_path / "q", words, m, dtype="int8")
    # the float32 store of exactly the decoded rows must answer everything identically
    f = Vectors(words, np.asarray(q.matrix))
    assert np.array_equal(q.norms(), f.norms()) and np.array_equal(q.unit(), f.unit())
    assert q.nearest("词1", k=5) == f.nearest("词1", k=5)
    pairs = [(["词1", "词2", "词2", "词9"], ["词4", "词7"]), (["词0"], ["词3", "词29", "词0"])]
    for metric in ("wmd", "wrd"):
        for normalize in (False, True):
            got = tr.score_pairs(pairs, q, metric=metric, normalize=normalize)
            want = tr.score_pairs(pairs, f, metric=metric, normalize=normalize)
            assert np.array_equal(got, want)


def test_int8_store_with_bad_scales_is_one_error(tmp_path):
    words, m = _random(6, 3)
    s = tmp_path / "s"
    save_store(s, words, m, dtype="int8")
    np.save(s / "scales.npy", np.ones(5, dtype=np.float32))
    with pytest.raises(VectorsError, match="6 rows but scales.npy holds 5 float32"):
        open_store(s)
    np.save(s / "scales.npy", np.ones(6, dtype=np.float64))
    with pytest.raises(VectorsError, match="scales.npy holds 6 float64"):
        open_store(s)
    (s / "scales.npy").write_bytes(b"garbage")
    with pytest.raises(VectorsError, match="scales.npy: not a readable .npy"):
        open_store(s)
    os.remove(s / "scales.npy")
    with pytest.raises(VectorsError, match="an int8 store needs scales.npy"):
        open_store(s)
    meta = json.loads((s / "meta.json").read_text(encoding="utf-8"))
    meta["dtype"] = "float32"  # the matrix file says int8
    (s / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
    with pytest.raises(VectorsError, match="says 6 x 3 float32, vectors.npy holds 6 x 3 int8"):
        open_store(s)
    with pytest.raises(VectorsError, match="not finite"):
        save_store(tmp_path / "nan", ["a"], np.array([[1.0, np.nan]]), dtype="int8")
    assert not (tmp_path / "nan").exists()


def test_cli_convert_info_export_int8(tmp_path):
    words, m = _random(5, 3)
    text = tmp_path / "v.txt"
    text.write_text("5 3\n" + "".join(
        w + " " + " ".join(repr(float(x)) for x in r) + "\n" for w, r in zip(words, m)), encoding="utf-8")
    code, _, err = run_main("vectors", "convert", text, "--dtype", "int8", "-o", tmp_path / "s")
    assert code == 0, err
    code, out, _ = run_main("vectors", "info", tmp_path / "s")
    assert dict(line.split("\t", 1) for line in out.splitlines())["dtype"] == "int8"
    code, out, _ = run_main("vectors", "export", tmp_path / "s")
    rows = [line.split(" ") for line in out.splitlines()[1:]]
    exported = np.array([[float(x) for x in r[1:]] for r in rows], dtype=np.float32)
    assert code == 0 and [r[0] for r in rows] == words
    assert np.array_equal(exported, np.asarray(open_store(tmp_path / "s").matrix))
