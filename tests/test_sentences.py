"""SentenceEncoder against a naive per-sentence loop, on a small fake vector store."""

from __future__ import annotations

import numpy as np
import pytest

from textkit.errors import UsageError
from textkit.sentences import SentenceEncoder, sif_weights, zipf_probabilities


class FakeVectors:
    """The attributes of the vector-store contract (docs/CONTRACTS.md), nothing more."""

    def __init__(self, words, matrix, counts=None, identity="fake-1"):
        self.words = list(words)
        self.matrix = np.asarray(matrix, dtype=np.float32)
        self.dim = self.matrix.shape[1]
        self.identity = identity
        self.counts = None if counts is None else np.asarray(counts)
        self._index = {w: i for i, w in enumerate(self.words)}

    def __len__(self):
        return len(self.words)

    def __contains__(self, word):
        return word in self._index

    def index_of(self, word):
        return self._index.get(word)

    def lookup(self, tokens):
        ids = np.array([self._index.get(t, -1) for t in tokens], dtype=np.int64)
        return ids, ids >= 0

    def unit(self):
        norms = np.linalg.norm(self.matrix, axis=1, keepdims=True)
        return np.divide(self.matrix, norms, out=np.zeros_like(self.matrix), where=norms > 0)


WORDS = ["的", "我们", "今天", "天气", "很好", "北京", "零向量"]


def fake_store(counts=None, seed=0):
    rng = np.random.default_rng(seed)
    matrix = rng.normal(size=(len(WORDS), 5)) * rng.uniform(0.5, 4.0, size=(len(WORDS), 1))
    matrix[-1] = 0.0  # a stored zero row: no direction, counted as unknown
    return FakeVectors(WORDS, matrix, counts=counts)


def naive_encode(store, tokens, pooling="unit", weight=None):
    """Reference: loop over tokens, skip OOV and zero rows, weighted mean over the known ones."""
    rows, known = [], 0
    for tok in tokens:
        if tok not in store or not store.matrix[store.index_of(tok)].any():
            continue
        v = store.matrix[store.index_of(tok)].astype(np.float64)
        if pooling == "unit":
            norm = np.linalg.norm(v)
            v = v / norm if norm > 0 else v
        rows.append((1.0 if weight is None else weight(tok)) * v)
        known += 1
    if not rows:
        return np.zeros(store.dim), 0
    return np.sum(rows, axis=0) / known, known


SENTENCES = [
    ["我们", "今天", "的", "天气", "很好"],
    ["北京", "北京", "的", "火星文"],
    [],
    ["火星文", "外星语"],
    ["零向量", "天气"],
    ["零向量"],
    ["的"],
]


@pytest.mark.parametrize("pooling", ["unit", "raw"])
def test_mean_pooling_matches_naive_loop(pooling):
    store = fake_store()
    batch = SentenceEncoder(store, pooling=pooling).encode(SENTENCES)
    assert batch.matrix.dtype == np.float32 and batch.matrix.shape == (len(SENTENCES), 5)
    for row, tokens in zip(range(len(SENTENCES)), SENTENCES):
        expected, known = naive_encode(store, tokens, pooling)
        np.testing.assert_allclose(batch.matrix[row], expected, rtol=1e-6, atol=1e-6)
        assert batch.known[row] == known
        assert batch.total[row] == len(tokens)


def test_unknown_only_sentences_are_zero_not_nan():
    batch = SentenceEncoder(fake_store()).encode([["火星文"], [], ["外星语", "火星文"]])
    assert np.all(batch.matrix == 0.0) and not np.isnan(batch.matrix).any()
    assert batch.known.tolist() == [0, 0, 0] and batch.total.tolist() == [1, 0, 2]
    empty = SentenceEncoder(fake_store()).encode([])
    assert empty.matrix.shape == (0, 5)


def test_unit_pooling_ignores_word_norms():
    store = fake_store()
    scaled = FakeVectors(WORDS, store.matrix * np.arange(1, len(WORDS) + 1)[:, None])
    a = SentenceEncoder(store).encode(SENTENCES).matrix
    b = SentenceEncoder(scaled).encode(SENTENCES).matrix
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    c = SentenceEncoder(scaled, pooling="raw").encode(SENTENCES).matrix
    assert not np.allclose(a, c)


def test_sif_with_counts_mapping_matches_formula():
    counts = {
        "的": 5000,
        "我们": 300,
        "今天": 100,
        "天气": 40,
        "很好": 60,
        "北京": 10,
        "别的词": 485,
    }
    total = sum(counts.values())
    a = 1e-2

    def weight(tok):
        return a / (a + counts.get(tok, 0) / total)

    store = fake_store()
    encoder = SentenceEncoder(store, weighting="sif", counts=counts, sif_a=a)
    assert encoder.frequency_source == "counts"
    batch = encoder.encode(SENTENCES)
    for row, tokens in enumerate(SENTENCES):
        expected, _ = naive_encode(store, tokens, "unit", weight)
        np.testing.assert_allclose(batch.matrix[row], expected, rtol=1e-6, atol=1e-6)
    # the frequent word is damped relative to the rare one
    assert weight("的") < 0.1 and weight("北京") > 0.5


def test_sif_takes_the_counts_textkit_read_counts_returns(tmp_path):
    """textkit.read_counts gives a WordCounts (counts and df), not a dict: SIF takes it as its counts."""
    import textkit

    counts = {"的": 5000, "我们": 300, "今天": 100, "北京": 10}
    path = tmp_path / "c.tsv"
    path.write_text("".join(f"{w}\t{c}\n" for w, c in counts.items()), encoding="utf-8")
    table = textkit.read_counts(str(path))
    store = fake_store()
    got = SentenceEncoder(store, weighting="sif", counts=table).encode(SENTENCES).matrix
    want = SentenceEncoder(store, weighting="sif", counts=counts).encode(SENTENCES).matrix
    np.testing.assert_array_equal(got, want)


def test_sif_falls_back_to_store_counts_then_zipf_rank():
    counts = np.array([900, 50, 20, 10, 10, 5, 5])
    store = fake_store(counts=counts)
    enc = SentenceEncoder(store, weighting="sif")
    assert enc.frequency_source == "store counts"
    p = counts / counts.sum()
    expected, _ = naive_encode(
        store, SENTENCES[0], "unit", lambda t: 1e-3 / (1e-3 + p[WORDS.index(t)])
    )
    np.testing.assert_allclose(enc.encode([SENTENCES[0]]).matrix[0], expected, rtol=1e-6)

    enc = SentenceEncoder(fake_store(), weighting="sif")
    assert enc.frequency_source == "zipf rank"
    z = zipf_probabilities(len(WORDS))
    expected, _ = naive_encode(
        store, SENTENCES[0], "unit", lambda t: 1e-3 / (1e-3 + z[WORDS.index(t)])
    )
    np.testing.assert_allclose(enc.encode([SENTENCES[0]]).matrix[0], expected, rtol=1e-6)


def test_zipf_and_sif_helpers():
    z = zipf_probabilities(4)
    h = 1 + 1 / 2 + 1 / 3 + 1 / 4
    np.testing.assert_allclose(z, [1 / h, 1 / (2 * h), 1 / (3 * h), 1 / (4 * h)])
    np.testing.assert_allclose(sif_weights([0.0, 1e-3], 1e-3), [1.0, 0.5])


def test_bad_settings_are_usage_errors():
    store = fake_store()
    with pytest.raises(UsageError):
        SentenceEncoder(store, pooling="max")
    with pytest.raises(UsageError):
        SentenceEncoder(store, weighting="tfidf")
    for a in (0, -1.0, float("nan"), float("inf")):  # inf made every weight NaN, written as NaN vectors
        with pytest.raises(UsageError):
            SentenceEncoder(store, weighting="sif", sif_a=a)
    with pytest.raises(UsageError):
        SentenceEncoder(store, weighting="sif", counts={})


def test_batches_do_not_change_the_answer():
    store = fake_store()
    enc = SentenceEncoder(store, weighting="sif")
    whole = enc.encode(SENTENCES).matrix
    parts = np.vstack([enc.encode(SENTENCES[:2]).matrix, enc.encode(SENTENCES[2:]).matrix])
    np.testing.assert_array_equal(whole, parts)


def test_real_vector_store_gives_the_same_vectors_as_the_contract_fake():
    from textkit.vectors import Vectors

    fake = fake_store(counts=[50, 40, 30, 20, 10, 5, 1])
    real = Vectors(fake.words, fake.matrix, counts=fake.counts)
    for kwargs in ({}, {"pooling": "raw"}, {"weighting": "sif"}):
        a = SentenceEncoder(fake, **kwargs).encode(SENTENCES)
        b = SentenceEncoder(real, **kwargs).encode(SENTENCES)
        np.testing.assert_allclose(a.matrix, b.matrix, rtol=1e-6, atol=1e-7)
        np.testing.assert_array_equal(a.known, b.known)
