"""PPMI + SVD training: each fast step against a naive reference, and the whole run."""

from collections import Counter, defaultdict
from fractions import Fraction

import math
import os

import numpy as np
import pytest
from scipy import sparse

from textkit import vector_training as vt
from textkit.corpus import Corpus
from textkit.errors import CorpusError, UsageError
from textkit.tokenize import TokenizerSpec
from textkit.vector_training import (
    TrainingOptions,
    cooccurrence_counts,
    merge_tables,
    ppmi_matrix,
    svd_vectors,
    train_vectors,
    window_weights,
)

WS = TokenizerSpec(kind="whitespace")


def _naive_cooccurrence(docs, window):
    """Symmetric C[w][c] = sum of 1/d over pairs d <= window apart, with exact fractions."""
    table = defaultdict(Fraction)
    for doc in docs:
        for i, w in enumerate(doc):
            for j in range(max(0, i - window), min(len(doc), i + window + 1)):
                if j != i:
                    table[w, doc[j]] += Fraction(1, abs(i - j))
    return table


def _naive_ppmi(dense, alpha):
    """PPMI from the definition, one cell at a time, on a dense table."""
    d = dense.astype(np.float64)
    total = d.sum()
    n_w = d.sum(axis=1)
    n_c = d.sum(axis=0)
    p_c = n_c**alpha / (n_c**alpha).sum()
    out = np.zeros_like(d)
    for w in range(d.shape[0]):
        for c in range(d.shape[1]):
            if d[w, c] > 0:
                pmi = np.log((d[w, c] / total) / ((n_w[w] / total) * p_c[c]))
                out[w, c] = max(pmi, 0.0)
    return out


def _random_docs(rng, n_docs, vocab, max_len=12):
    return [rng.integers(0, vocab, size=rng.integers(0, max_len)).tolist() for _ in range(n_docs)]


@pytest.mark.parametrize("window", [1, 2, 3, 5])
def test_cooccurrence_equals_naive_counter(window):
    rng = np.random.default_rng(window)
    docs = _random_docs(rng, 40, 9)
    upper = cooccurrence_counts(docs, vocab_size=9, window=window)
    sym = (upper + upper.T).toarray()
    lcm = int(window_weights(window)[1])
    want = _naive_cooccurrence(docs, window)
    got = {(w, c): Fraction(int(sym[w, c]), lcm) for w in range(9) for c in range(9) if sym[w, c]}
    assert got == {k: v for k, v in want.items() if v}


def test_partial_tables_merge_to_the_whole():
    rng = np.random.default_rng(0)
    docs = _random_docs(rng, 60, 7)
    whole = cooccurrence_counts(docs, 7, 4)
    parts = [cooccurrence_counts(docs[i : i + 7], 7, 4) for i in range(0, 60, 7)]
    merged = parts[0]
    for p in parts[1:]:
        merged = merge_tables(merged, p)
    assert (merged != whole).nnz == 0
    assert merged.dtype == np.int64


@pytest.mark.parametrize("alpha", [0.75, 1.0])
def test_sparse_ppmi_equals_dense_definition(monkeypatch, alpha):
    monkeypatch.setattr(vt, "_PPMI_BLOCK_NNZ", 5)  # many row blocks
    rng = np.random.default_rng(1)
    upper = cooccurrence_counts(_random_docs(rng, 50, 12), 12, 3)
    table = (upper + upper.T).tocsr()
    got = ppmi_matrix(table, alpha)
    assert got.dtype == np.float32
    want = _naive_ppmi(table.toarray(), alpha)
    assert np.allclose(got.toarray(), want, rtol=1e-5, atol=1e-6)
    assert np.all(got.data > 0)
    assert got.nnz == np.count_nonzero(want)


def test_truncated_svd_matches_dense_svd():
    rng = np.random.default_rng(2)
    a = rng.random((60, 60)) * (rng.random((60, 60)) < 0.3)
    a = a + a.T
    w, s = svd_vectors(sparse.csr_matrix(a), dim=5, power=0.5, seed=0)
    u_ref, s_ref, _ = np.linalg.svd(a)
    assert np.allclose(s, s_ref[:5], rtol=1e-4)
    w_ref = u_ref[:, :5] * np.sqrt(s_ref[:5])
    assert np.allclose(w @ w.T, w_ref @ w_ref.T, atol=1e-4)  # sign-free comparison
    assert w.dtype == np.float32
    pivot = np.argmax(np.abs(w), axis=0)
    assert np.all(w[pivot, np.arange(5)] > 0)  # fixed signs
    w2, _ = svd_vectors(sparse.csr_matrix(a), dim=5, power=0.5, seed=0)
    assert np.array_equal(w, w2)


def _corpus_file(tmp_path, n_docs=400, seed=3):
    """Sentences drawn from three topics, so neighbours have something to find."""
    rng = np.random.default_rng(seed)
    topics = [
        ["猫", "狗", "宠物", "喂", "毛", "叫"],
        ["股票", "基金", "市场", "涨", "跌", "投资"],
        ["火车", "飞机", "机场", "车站", "旅行", "票"],
    ]
    common = ["的", "了", "是", "很"]
    lines = []
    for _ in range(n_docs):
        topic = topics[rng.integers(3)]
        words = [
            topic[rng.integers(6)] if rng.random() < 0.7 else common[rng.integers(4)]
            for _ in range(rng.integers(1, 15))
        ]
        lines.append(" ".join(words))
    lines.insert(10, "")  # an empty document
    path = tmp_path / "corpus.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path, [line.split() for line in lines]


def test_training_matches_the_naive_pipeline(tmp_path):
    path, docs = _corpus_file(tmp_path)
    opts = TrainingOptions(dim=4, window=3, min_count=2)
    vec, report = train_vectors(Corpus([str(path)]), tokenizer_spec=WS, options=opts, workers=1)
    counts = Counter(t for d in docs for t in d)
    vocab = sorted((w for w, n in counts.items() if n >= 2), key=lambda w: (-counts[w], w))
    assert vec.words == vocab
    assert vec.counts.tolist() == [counts[w] for w in vocab]
    assert report.tokens == sum(counts.values()) and report.documents == len(docs)
    index = {w: i for i, w in enumerate(vocab)}
    kept_docs = [[index[t] for t in d if t in index] for d in docs]
    naive = _naive_cooccurrence(kept_docs, 3)
    dense = np.zeros((len(vocab), len(vocab)))
    for (w, c), v in naive.items():
        dense[w, c] = float(v)
    ppmi = _naive_ppmi(dense, 0.75)
    u, s, _ = np.linalg.svd(ppmi)
    w_ref = u[:, :4] * np.sqrt(s[:4])
    got = np.asarray(vec.matrix, dtype=np.float64)
    assert np.allclose(got @ got.T, w_ref @ w_ref.T, atol=1e-4)
    assert [w for w, _ in vec.nearest("股票", k=3)][0] in {"基金", "市场", "涨", "跌", "投资"}


def test_idf_norms_keep_directions_and_set_lengths(tmp_path):
    path, docs = _corpus_file(tmp_path)
    corpus = Corpus([str(path)])
    raw, report = train_vectors(corpus, tokenizer_spec=WS, workers=1,
                                options=TrainingOptions(dim=4, window=3, min_count=2))
    idf, _ = train_vectors(corpus, tokenizer_spec=WS, workers=1,
                           options=TrainingOptions(dim=4, window=3, min_count=2, norms="idf"))
    assert idf.words == raw.words
    total = sum(len(d) for d in docs)
    lengths = np.linalg.norm(np.asarray(idf.matrix, dtype=np.float64), axis=1)
    expected = [math.log(total / c) for c in raw.counts.tolist()]
    assert np.allclose(lengths, expected, rtol=1e-5)
    assert np.allclose(raw.unit(), idf.unit(), atol=1e-5)  # same directions: same cosines
    with pytest.raises(UsageError):
        TrainingOptions(norms="l2").check()


def test_same_result_for_one_and_two_workers(tmp_path):
    path, _ = _corpus_file(tmp_path, n_docs=600)
    opts = TrainingOptions(dim=5, window=4, min_count=1)
    runs = []
    for workers in (1, 2):
        vec, _ = train_vectors(
            Corpus([str(path)]),
            str(tmp_path / f"s{workers}"),
            tokenizer_spec=WS,
            options=opts,
            workers=workers,
            batch_chars=500,
            chunk_tokens=300,
        )
        runs.append(vec)
    a, b = runs
    assert a.words == b.words
    assert np.array_equal(np.asarray(a.matrix), np.asarray(b.matrix))
    assert a.identity == b.identity
    assert a.meta["source"]["trained"]["window"] == 4


def test_limit_and_float16(tmp_path):
    path, _ = _corpus_file(tmp_path)
    full, _ = train_vectors(
        Corpus([str(path)]), tokenizer_spec=WS, options=TrainingOptions(dim=4, min_count=1)
    )
    small, _ = train_vectors(
        Corpus([str(path)]),
        str(tmp_path / "s"),
        tokenizer_spec=WS,
        options=TrainingOptions(dim=4, min_count=1, limit=5, dtype="float16"),
    )
    assert small.words == full.words[:5] and small.matrix.dtype == np.float16
    assert np.array_equal(np.asarray(small.matrix), np.asarray(full.matrix[:5]).astype(np.float16))
    assert small.counts.tolist() == full.counts[:5].tolist()


def test_int8_training_stores_the_quantized_rows(tmp_path):
    from textkit.quantized import decode_rows, quantize_rows
    from textkit.vectors import open_store

    path, _ = _corpus_file(tmp_path)
    full, _ = train_vectors(
        Corpus([str(path)]), tokenizer_spec=WS, options=TrainingOptions(dim=4, min_count=1)
    )
    want = decode_rows(*quantize_rows(np.asarray(full.matrix)))
    for dest in (None, str(tmp_path / "q")):  # in memory and written as a store
        q, _ = train_vectors(
            Corpus([str(path)]), dest, tokenizer_spec=WS,
            options=TrainingOptions(dim=4, min_count=1, dtype="int8"),
        )
        assert q.dtype == "int8" and q.words == full.words
        assert np.array_equal(np.asarray(q.matrix), want)
    assert open_store(tmp_path / "q").identity == q.identity


def test_empty_corpus(tmp_path):
    (tmp_path / "empty.txt").write_text("\n\n \n", encoding="utf-8")
    with pytest.raises(CorpusError, match="no tokens"):
        train_vectors(Corpus([str(tmp_path / "empty.txt")]), tokenizer_spec=WS)


def test_corpus_too_small_for_dim(tmp_path):
    (tmp_path / "tiny.txt").write_text("a b c a b c\nb c d\n", encoding="utf-8")
    with pytest.raises(
        UsageError, match=r"too small for --dim 100: only 4 words .* use --dim 3 or less"
    ):
        train_vectors(
            Corpus([str(tmp_path / "tiny.txt")]),
            tokenizer_spec=WS,
            options=TrainingOptions(min_count=1),
        )
    with pytest.raises(UsageError, match="lower --min-count"):
        train_vectors(
            Corpus([str(tmp_path / "tiny.txt")]),
            tokenizer_spec=WS,
            options=TrainingOptions(min_count=50),
        )


def test_a_tiny_corpus_the_truncated_svd_gives_up_on_is_decomposed_whole(tmp_path):
    """PROPACK raised LinAlgError ("did not converge") on two words and --dim 1."""
    (tmp_path / "two.txt").write_text("你好 世界\n", encoding="utf-8")
    vectors, _ = train_vectors(Corpus([str(tmp_path / "two.txt")]), tokenizer_spec=WS,
                               options=TrainingOptions(min_count=1, dim=1))
    matrix = np.asarray(vectors.matrix)
    assert sorted(vectors.words) == ["世界", "你好"] and matrix.shape == (2, 1) and np.isfinite(matrix).all()


def test_zero_vectors_are_told_apart_by_cause(tmp_path, caplog):
    """A word alone on its lines has no context with positive PMI; words whose contexts lie outside
    the --dim kept directions come out of the SVD at rounding-noise length, pointing anywhere: both
    get an exact zero row, and each kind is named as what it is."""
    rng = np.random.default_rng(1)
    major, minor = list("甲乙丙丁戊己庚辛"), list("子丑寅卯")
    lines = [" ".join(rng.choice(major, 8)) for _ in range(200)] + [" ".join(rng.choice(minor, 5)) for _ in range(20)]
    (tmp_path / "c.txt").write_text("\n".join(lines + ["孤"] * 3) + "\n", encoding="utf-8")
    caplog.set_level("WARNING", logger="textkit")
    vectors, _ = train_vectors(Corpus([str(tmp_path / "c.txt")]), tokenizer_spec=WS,
                               options=TrainingOptions(min_count=1, dim=1))
    matrix = np.asarray(vectors.matrix)
    zero = {w for w, row in zip(vectors.words, matrix) if not row.any()}
    kept = set(vectors.words) - zero
    assert "孤" in zero and kept in (set(major), set(minor))
    said = [r.getMessage() for r in caplog.records]
    assert "1 word(s) have no context with positive PMI and get a zero vector (no neighbours)" in said
    outside = len(zero) - 1
    assert f"{outside} word(s) get a zero vector (no neighbours): their contexts lie outside the direction kept " \
        "(a larger --dim keeps more, if the corpus has them)" in said
    assert len(said) == 2


def test_bad_options():
    for bad in (dict(dim=0), dict(window=0), dict(window=21), dict(min_count=0), dict(alpha=0),
                dict(power=float("nan")), dict(power=-0.5), dict(power=1e308), dict(seed=-1), dict(seed=2**32)):
        with pytest.raises(UsageError):
            TrainingOptions(**bad).check()


_BLAS_UNDER_A_LIMIT = """
import resource
import numpy as np
from scipy.linalg import blas
from textkit.vector_training import reserve_blas_buffers
reserve_blas_buffers()
with open("/proc/self/statm") as fh:
    used = int(fh.read().split()[0]) * resource.getpagesize()
# room for small arrays, none for a new BLAS buffer (tens of MB)
resource.setrlimit(resource.RLIMIT_AS, (used + (16 << 20), resource.RLIM_INFINITY))
square = np.ones((256, 256), dtype=np.float32)
blas.sgemm(1.0, square, square)
square @ square
print("ok")
"""


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="reads /proc/self/statm")
def test_blas_products_after_the_reservation_need_no_new_memory():
    """Under a memory limit reached late in training, OpenBLAS would retry a failed buffer
    allocation for ever (full CPU, deaf to SIGTERM); reserved at the start, it needs none."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", _BLAS_UNDER_A_LIMIT], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0 and done.stdout == "ok\n", done.stderr
