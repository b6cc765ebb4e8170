"""The vector store: saving, memory-mapped opening, lookups, unit view, exact neighbours."""

import json
import os
import sys

import numpy as np
import pytest

from textkit import vectors as vmod
from textkit.errors import UsageError, VectorsError
from textkit.vectors import Vectors, content_identity, open_store, open_vectors, save_store


def _random(n=50, dim=8, seed=0):
    rng = np.random.default_rng(seed)
    words = [f"词{i}" for i in range(n)]
    return words, rng.standard_normal((n, dim)).astype(np.float32)


def _naive_nearest(words, m, q, k, exclude=None):
    """Brute force: cosine with every row but zero rows (no cosine), sorted by (-score, row)."""
    qn = q / np.linalg.norm(q)
    scored = []
    for i, row in enumerate(m.astype(np.float64)):
        n = np.linalg.norm(row)
        if i != exclude and n > 0:
            scored.append((-(row @ qn / n), i))
    scored.sort()
    return [(words[i], -s) for s, i in scored[:k]]


def test_save_open_round_trip(tmp_path):
    words, m = _random()
    counts = np.arange(len(words), 0, -1)
    v = save_store(tmp_path / "s", words, m, counts=counts, source={"what": "test"})
    assert isinstance(v.matrix, np.memmap) and not v.matrix.flags.writeable
    again = open_store(tmp_path / "s")
    assert again.words == words
    assert np.array_equal(np.asarray(again.matrix), m)
    assert again.counts.tolist() == counts.tolist()
    assert again.meta["source"] == {"what": "test"}
    assert sorted(os.listdir(tmp_path / "s")) == [
        "counts.npy",
        "meta.json",
        "vectors.npy",
        "vocab.txt",
    ]
    # identity: recorded, equal to the content hash, stable, sensitive to any change
    assert again.identity == content_identity(words, m, counts)
    assert Vectors(words, m, counts=counts).identity == again.identity
    assert save_store(tmp_path / "t", words, m, counts=counts).identity == again.identity
    m2 = m.copy()
    m2[3, 4] = np.nextafter(m2[3, 4], np.float32(np.inf))
    assert content_identity(words, m2, counts) != again.identity
    assert content_identity(words[::-1], m, counts) != again.identity
    assert content_identity(words, m) != again.identity
    assert content_identity(words, m.astype(np.float16)) != content_identity(words, m)


def test_lookup_index_contains(tmp_path):
    words, m = _random(5, 3)
    v = save_store(tmp_path / "s", words, m)
    ids, known = v.lookup(["词3", "无", "词0", "词3"])
    assert ids.tolist() == [3, -1, 0, 3] and known.tolist() == [True, False, True, True]
    assert ids.dtype == np.int64
    assert "词4" in v and "词5" not in v and len(v) == 5 and v.dim == 3
    assert v.index_of("词2") == 2 and v.index_of("x") is None
    assert np.array_equal(v["词1"], m[1])
    with pytest.raises(VectorsError, match="not in the vocabulary"):
        v["x"]


def test_unit_view(tmp_path):
    words, m = _random(20, 4)
    m[7] = 0
    v = save_store(tmp_path / "s", words, m)
    u = v.unit()
    assert u.dtype == np.float32 and u is v.unit()
    assert np.all(u[7] == 0)
    lengths = np.linalg.norm(u, axis=1)
    assert np.allclose(np.delete(lengths, 7), 1, atol=1e-6)
    assert np.allclose(u[3], m[3] / np.linalg.norm(m[3]), atol=1e-7)


def test_rows_of_tiny_or_huge_values_keep_their_direction(tmp_path):
    """Squares of such float32 values vanish or overflow in float32; their lengths are summed in float64."""
    base = np.array([1.0, 2.0, 3.0], dtype=np.float32)
    m = np.stack([base, base * np.float32(1e-23), base * np.float32(1e-30), base * np.float32(1e20),
                  np.array([3.0, 2.0, 1.0], dtype=np.float32)])
    v = save_store(tmp_path / "s", ["base", "tiny", "tinier", "huge", "other"], m)
    want = base / np.linalg.norm(base.astype(np.float64))
    np.testing.assert_allclose(v.norms(), np.linalg.norm(m.astype(np.float64), axis=1), rtol=1e-6)
    np.testing.assert_allclose(v.unit()[:4], np.tile(want, (4, 1)), rtol=1e-6)
    got = dict(v.nearest("base", k=4))
    assert got["tiny"] == got["tinier"] == got["huge"] == pytest.approx(1.0, abs=1e-6)
    assert got["other"] == pytest.approx(10 / 14, abs=1e-6)


def test_rows_of_subnormal_values_have_unit_length_too(tmp_path):
    """Below ~2.9e-39 a row's length is so small that 1/length overflows float32 (it gave inf rows)."""
    import warnings

    base = np.array([1.0, 2.0, 3.0], dtype=np.float32)
    m = np.stack([base, base * np.float32(1e-40), np.array([3.0, 2.0, 1.0], dtype=np.float32),
                  np.array([1.0, 0.0, 0.0], dtype=np.float32)])
    v = save_store(tmp_path / "s", ["base", "sub", "other", "x"], m)
    wide = m.astype(np.float64)
    want = wide / np.linalg.norm(wide, axis=1)[:, None]  # the stored (rounded) subnormals' own direction
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow warning reaches the user either
        np.testing.assert_allclose(v.unit_rows([1, 0]), want[[1, 0]], rtol=1e-6)
        np.testing.assert_allclose(open_store(tmp_path / "s").unit(), want, rtol=1e-6)
        got = dict(v.nearest("base", k=3))
    assert set(got) == {"sub", "other", "x"}  # the subnormal row is a neighbour, not a dropped slot
    assert got["sub"] == pytest.approx(float(want[0] @ want[1]), abs=1e-6)
    assert got["x"] == pytest.approx(float(want[0] @ want[3]), abs=1e-6)


def test_rows_longer_than_float32_holds_are_neighbours_like_any_other(tmp_path):
    """Values near float32's largest (3.4e38) are finite, but the row's length is not (it was left out
    of every neighbour list, with numpy's overflow warnings on stderr)."""
    import warnings

    m = np.array([[3e38, 3e38, 0.0], [1.0, 1.0, 0.1], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0]], dtype=np.float32)
    wide = m.astype(np.float64)
    want = wide / np.linalg.norm(wide, axis=1)[:, None]
    for v in (save_store(tmp_path / "s", ["big", "b", "c", "d"], m), open_store(tmp_path / "s")):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            np.testing.assert_allclose(v.unit(), want, rtol=1e-6)
            np.testing.assert_allclose(v.unit_rows([0, 1]), want[:2], rtol=1e-6)
            got = v.nearest("b", k=3)
            assert [w for w, _ in got] == ["big", "c", "d"]
            assert got[0][1] == pytest.approx(float(want[1] @ want[0]), abs=1e-6)
            assert dict(v.nearest("big", k=3))["b"] == pytest.approx(float(want[1] @ want[0]), abs=1e-6)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_a_damaged_row_is_an_error_naming_its_word(tmp_path, bad):
    """Stores are written finite; a row damaged on disk is refused wherever rows are read."""
    from textkit.sentences import SentenceEncoder
    from textkit.transport import Transport

    words, m = _random(20, 4)
    save_store(tmp_path / "s", words, m)
    on_disk = np.load(tmp_path / "s" / "vectors.npy", mmap_mode="r+")
    on_disk[7, 2] = bad
    on_disk.flush()
    del on_disk
    message = r"the vector of '词7' \(row 8\) holds NaN or inf; the store is damaged"
    with pytest.raises(VectorsError, match=message):
        open_vectors(tmp_path / "s").nearest("词3", k=3)
    with pytest.raises(VectorsError, match=message):
        open_vectors(tmp_path / "s").unit()
    for metric in ("wrd", "wmd"):
        with pytest.raises(VectorsError, match=message):
            Transport(open_vectors(tmp_path / "s"), metric=metric).bag(["词1", "词7"])
    Transport(open_vectors(tmp_path / "s"), metric="wrd").bag(["词1", "词2"])  # sound rows still work
    with pytest.raises(VectorsError, match=message):
        SentenceEncoder(open_vectors(tmp_path / "s"), pooling="raw").encode([["词1"], ["词7"]])
    with pytest.raises(VectorsError, match=message):
        SentenceEncoder(open_vectors(tmp_path / "s")).encode([["词1"], ["词7"]])
    SentenceEncoder(open_vectors(tmp_path / "s")).encode([["词1"], ["词2"]])  # sound rows still work


def test_a_file_that_is_not_numpy_is_named_without_unpickling_advice(tmp_path):
    words, m = _random(5, 3)
    save_store(tmp_path / "s", words, m)
    (tmp_path / "s" / "vectors.npy").write_text("hello\n", encoding="utf-8")
    with pytest.raises(VectorsError, match=r"vectors.npy: not a readable .npy matrix \(not a numpy") as info:
        open_store(tmp_path / "s")
    assert "pickle" not in str(info.value)


@pytest.mark.parametrize("block", [3, 7, 1000])
def test_nearest_matches_brute_force(tmp_path, monkeypatch, block):
    monkeypatch.setattr(vmod, "_BLOCK_ROWS", block)
    words, m = _random(40, 6, seed=1)
    m[5] = 0  # a zero row: never a neighbour
    m[9] = m[2]  # equal rows tie: broken by row order
    m[11] = m[2]
    v = save_store(tmp_path / "s", words, m)
    for w in ("词0", "词2", "词9", "词39"):
        got = v.nearest(w, k=8)
        want = _naive_nearest(words, m, m[words.index(w)], 8, exclude=words.index(w))
        assert [g[0] for g in got] == [x[0] for x in want]
        assert np.allclose([g[1] for g in got], [x[1] for x in want], atol=1e-5)
    q = np.random.default_rng(5).standard_normal(6)
    got = v.nearest(q, k=40)
    want = _naive_nearest(words, m, q, 40)
    assert [g[0] for g in got] == [x[0] for x in want]
    assert len(v.nearest("词0", k=100)) == 38  # everything but itself and the zero row


@pytest.mark.parametrize("block", [4, 1000])
def test_nearest_among_candidates_matches_brute_force(tmp_path, monkeypatch, block):
    monkeypatch.setattr(vmod, "_BLOCK_ROWS", block)
    words, m = _random(40, 6, seed=4)
    counts = np.random.default_rng(8).integers(1, 30, size=40)
    v = save_store(tmp_path / "s", words, m, counts=counts, dtype="int8")
    decoded = np.asarray(v.matrix)
    allowed = counts >= 12
    for q in (0, 7, 21):
        ids, scores = v.nearest_ids(decoded[[q]], k=6, exclude=[q], candidates=allowed)
        kept = [i for i in range(40) if allowed[i]]
        want = _naive_nearest([words[i] for i in kept], decoded[kept], decoded[q], 6,
                              exclude=kept.index(q) if q in kept else None)
        assert [words[i] for i in ids[0] if i >= 0] == [w for w, _ in want]
        assert all(allowed[i] for i in ids[0] if i >= 0)
    ids, _ = v.nearest_ids(decoded[[0]], k=50, candidates=np.zeros(40, dtype=bool))
    assert (ids == -1).all()


def test_nearest_ids_batch_and_float16(tmp_path):
    words, m = _random(30, 5, seed=2)
    v = save_store(tmp_path / "s", words, m, dtype="float16")
    assert v.matrix.dtype == np.float16
    m16 = m.astype(np.float16).astype(np.float32)
    ids, scores = v.nearest_ids(m16[[0, 4]], k=3, exclude=[0, 4])
    for r, q in enumerate([0, 4]):
        want = _naive_nearest(words, m16, m16[q], 3, exclude=q)
        assert [words[i] for i in ids[r]] == [w for w, _ in want]
    with pytest.raises(VectorsError, match="zero"):
        v.nearest(np.zeros(5))
    with pytest.raises(UsageError):
        v.nearest(np.ones(4))
    ids, scores = v.nearest_ids(m16[[0]], k=10**12, exclude=[0])  # k capped at the row count
    assert ids.shape == (1, 30) and ids[0, -1] == -1 and np.isnan(scores[0, -1])
    assert sorted(ids[0, :-1].tolist()) == list(range(1, 30))


@pytest.mark.parametrize("dtype", ["float32", "int8"])
def test_a_words_scores_do_not_depend_on_the_other_words_asked(tmp_path, dtype):
    """`vectors neighbors A B` gives A the scores of `vectors neighbors A`, to the last bit."""
    words, m = _random(3000, 96, seed=5)
    v = save_store(tmp_path / "s", words, m, dtype=dtype)
    asked = np.random.default_rng(6).choice(3000, size=37, replace=False).tolist()  # more than one group
    ids, scores = v.nearest_ids(v.matrix[asked], k=20, exclude=asked)
    back_ids, back_scores = v.nearest_ids(v.matrix[asked[::-1]], k=20, exclude=asked[::-1])
    for r, q in enumerate(asked):
        one_ids, one_scores = v.nearest_ids(v.matrix[[q]], k=20, exclude=[q])
        assert np.array_equal(ids[r], one_ids[0]) and np.array_equal(scores[r], one_scores[0])
        assert np.array_equal(back_ids[-1 - r], one_ids[0]) and np.array_equal(back_scores[-1 - r], one_scores[0])


def test_overwrite_is_atomic(tmp_path):
    words, m = _random(4, 2)
    save_store(tmp_path / "s", words, m)
    bad = m.copy()
    bad[2, 1] = np.nan
    with pytest.raises(VectorsError, match="not finite"):
        save_store(tmp_path / "s", words, bad)
    assert np.array_equal(np.asarray(open_store(tmp_path / "s").matrix), m)
    assert sorted(os.listdir(tmp_path)) == ["s"]
    save_store(tmp_path / "s", words[:3], m[:3] * 2)
    assert len(open_store(tmp_path / "s")) == 3


def test_bad_vocabularies(tmp_path):
    words, m = _random(3, 2)
    with pytest.raises(VectorsError, match="twice"):
        save_store(tmp_path / "s", ["a", "b", "a"], m)
    with pytest.raises(VectorsError, match="newline"):
        save_store(tmp_path / "s", ["a", "b\nc", "d"], m)
    v = save_store(tmp_path / "s", ["", " ", "a b"], m)  # odd but legal words survive
    assert open_store(tmp_path / "s").words == ["", " ", "a b"] == v.words


def _store(tmp_path):
    words, m = _random(6, 3)
    save_store(tmp_path / "s", words, m, counts=np.arange(6))
    return tmp_path / "s"


def test_missing_and_disagreeing_stores(tmp_path):
    with pytest.raises(VectorsError, match="no such vectors store"):
        open_vectors(str(tmp_path / "nope"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(VectorsError, match="not a vectors store"):
        open_vectors(str(tmp_path / "empty"))
    s = _store(tmp_path)
    vocab = (s / "vocab.txt").read_text(encoding="utf-8")
    (s / "vocab.txt").write_text(vocab + "多余\n", encoding="utf-8")
    with pytest.raises(
        VectorsError, match="files disagree: meta.json says 6 words, vocab.txt has 7"
    ):
        open_vectors(str(s))
    (s / "vocab.txt").write_text(vocab, encoding="utf-8")
    np.save(s / "vectors.npy", np.zeros((6, 4), dtype=np.float32))
    with pytest.raises(VectorsError, match=r"says 6 x 3 float32, vectors.npy holds 6 x 4 float32"):
        open_vectors(str(s))
    np.save(s / "vectors.npy", np.zeros((6, 3), dtype=np.float32))
    np.save(s / "counts.npy", np.zeros(5, dtype=np.int64))
    with pytest.raises(VectorsError, match="6 words but counts.npy"):
        open_vectors(str(s))
    os.remove(s / "counts.npy")
    with pytest.raises(VectorsError, match="counts.npy is missing"):
        open_vectors(str(s))
    (s / "vectors.npy").write_bytes(b"garbage")
    with pytest.raises(VectorsError, match="not a readable .npy"):
        open_vectors(str(s))
    os.remove(s / "vectors.npy")
    with pytest.raises(VectorsError, match="has no vectors.npy"):
        open_vectors(str(s))
    (s / "meta.json").write_text("{", encoding="utf-8")
    with pytest.raises(VectorsError, match="not valid JSON"):
        open_vectors(str(s))
    (s / "meta.json").write_text(json.dumps({"format": "other"}), encoding="utf-8")
    with pytest.raises(VectorsError, match="not a textkit vectors store"):
        open_vectors(str(s))


def test_default_store_ships_with_the_package(caplog):
    import logging

    path = vmod.default_store_path()
    assert vmod.is_store(path), f"the default store is missing at {path}"
    vmod._announced_default = False
    with caplog.at_level(logging.INFO, logger="textkit"):
        v = open_vectors(None)
        open_vectors(None)
    assert caplog.text.count("using the default vectors") == 1
    assert v.counts is not None and len(v) >= 10000
    total = sum(os.path.getsize(os.path.join(path, f)) for f in os.listdir(path))
    assert total <= 10 * 1024 * 1024
    assert v.meta["identity"] == v.identity == content_identity(v.words, v.matrix, v.counts)
    assert v.nearest(v.words[50], k=5)


@pytest.mark.parametrize("dtype", ["float32", "float16", "int8"])
def test_unit_rows_are_the_unit_matrix_rows_bit_for_bit(tmp_path, monkeypatch, dtype):
    """A few rows made unit length on their own equal those rows of the whole unit matrix:
    sentence vectors do not depend on which of the two a run took."""
    monkeypatch.setattr(vmod, "_BLOCK_ROWS", 7)
    words, m = _random(300, 33, seed=3)
    m[4] = 0  # a zero row stays zero
    if dtype != "float16":  # (beyond its range)
        m[10] *= 1e-20  # tiny and huge values: their squares are summed in float64
        m[11] *= 1e18
    save_store(tmp_path / "s", words, m, dtype=dtype)
    whole = open_store(tmp_path / "s").unit()
    rng = np.random.default_rng(1)
    for ids in ([4], [10, 11], rng.choice(300, 17, replace=False), np.arange(300)[::-1], rng.integers(0, 300, 40)):
        fresh = open_store(tmp_path / "s")  # no unit matrix, no norms cached
        assert np.array_equal(fresh.unit_rows(ids), whole[ids])
        fresh.norms()  # with the row lengths cached
        assert np.array_equal(fresh.unit_rows(ids), whole[ids])
    fresh = open_store(tmp_path / "s")  # other indexes, as unit() takes them
    assert np.array_equal(fresh.unit_rows((3, 5)), whole[[3, 5]]) and np.array_equal(fresh.unit_rows(7), whole[7])
    assert np.array_equal(fresh.unit_rows(np.arange(300) < 4), whole[:4]) and fresh.unit_rows([]).shape == (0, 33)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="uses RLIMIT_FSIZE")
def test_a_store_whose_last_file_is_cut_short_leaves_the_old_one(tmp_path):
    """np.save does not report a write cut short in its last kilobytes (a full disk, ulimit -f):
    the counts file alone crossing the limit must still fail the store, and leave the old one."""
    import subprocess

    old = save_store(tmp_path / "s", ["a", "b"], np.ones((2, 1), np.float32))
    # 1,270 words: vectors.npy and vocab.txt about 5 kB each, counts.npy 48 bytes over the limit
    script = (
        "import itertools, resource, string, sys\n"
        "import numpy as np\n"
        "from textkit.errors import VectorsError\n"
        "from textkit.vectors import save_store\n"
        "words = [''.join(w) for w in itertools.islice(itertools.product(string.ascii_lowercase, repeat=3), 1270)]\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (10_240, 10_240))\n"
        "try:\n"
        "    save_store(sys.argv[1], words, np.ones((1270, 1), np.float32), counts=np.arange(1270) + 1)\n"
        "except VectorsError as exc:\n"
        "    print(exc)\n")
    done = subprocess.run([sys.executable, "-c", script, str(tmp_path / "s")], capture_output=True, text=True,
                          timeout=120)
    assert done.stdout.startswith(f"{tmp_path / 's'}: cannot write the store (File too large)"), done.stderr
    assert open_store(tmp_path / "s").identity == old.identity
    assert sorted(os.listdir(tmp_path)) == ["s"]


def test_a_store_written_through_a_link_to_a_store_replaces_the_folder_it_points_to(tmp_path):
    """-o LINK (LINK -> real) writes real anew and keeps the link; nothing else is left beside them."""
    words, matrix = _random(10, 4, seed=1)
    save_store(tmp_path / "real", words, matrix)
    os.symlink("real", tmp_path / "link")
    again = save_store(tmp_path / "link", words[:5], matrix[:5, :2])
    assert sorted(os.listdir(tmp_path)) == ["link", "real"] and os.path.islink(tmp_path / "link")
    reopened = open_vectors(str(tmp_path / "real"))
    assert (len(reopened), reopened.dim) == (5, 2) and reopened.identity == again.identity
