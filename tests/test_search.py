"""Pruned top-k search equals brute force: same documents, order and scores."""

from __future__ import annotations

import numpy as np
import pytest

from textkit import transport as tr
from textkit.errors import DataError, UsageError
from textkit.search import SearchIndex, search


class FakeVectors:
    def __init__(self, words, matrix, identity="fake"):
        self.words = list(words)
        self.matrix = np.asarray(matrix, dtype=np.float32)
        self.identity = identity
        self._index = {w: i for i, w in enumerate(self.words)}

    def lookup(self, tokens):
        ids = np.array([self._index.get(t, -1) for t in tokens], dtype=np.int64)
        return ids, ids >= 0


def make_corpus(seed, n_docs=300, n_words=40, dim=8):
    rng = np.random.default_rng(seed)
    matrix = rng.normal(size=(n_words, dim)) * rng.uniform(0.3, 2.0, size=(n_words, 1))
    matrix[5] = 0.0  # a zero vector: no direction, no WRD mass
    store = FakeVectors([f"w{i}" for i in range(n_words)], matrix)
    docs = []
    for _ in range(n_docs):
        n = int(rng.integers(1, 9))
        docs.append(" ".join(f"w{i}" for i in rng.integers(0, n_words + 5, size=n)))  # w40.. are OOV
    # exact duplicates (ties broken by line number), an empty line, an OOV-only line
    docs[10] = docs[200] = docs[3]
    docs[50] = ""
    docs[60] = "w41 w42"
    return store, docs


def brute_reference(store, docs, query, k, metric, normalize):
    """Independent of the index: tr.wmd / tr.wrd on each text, sorted by (distance, line)."""
    scored = []
    for line, text in enumerate(docs, 1):
        tokens = text.split()
        try:
            d = (tr.wmd(query, tokens, store, normalize=normalize) if metric == "wmd"
                 else tr.wrd(query, tokens, store))
        except tr.EmptyBagError:
            continue
        scored.append((d, line))
    scored.sort()
    return scored[:k]


SETTINGS = [("wmd", False), ("wmd", True), ("wrd", False)]


@pytest.mark.parametrize("metric,normalize", SETTINGS)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_pruned_equals_brute_force(seed, metric, normalize):
    store, docs = make_corpus(seed)
    index = SearchIndex.from_texts(docs, store, str.split)
    rng = np.random.default_rng(100 + seed)
    queries = [docs[3].split(), ["w1", "w2", "w3"], ["w7"]]
    queries += [[f"w{i}" for i in rng.integers(0, 40, size=int(rng.integers(1, 7)))] for _ in range(3)]
    pruned_by = np.zeros(2, dtype=int)
    for query in queries:
        full = brute_reference(store, docs, query, len(docs), metric, normalize)
        for k in (1, 3, 10, 400):
            pruned = search(index, query, k=k, metric=metric, normalize=normalize)
            brute = search(index, query, k=k, metric=metric, normalize=normalize, prune=False)
            assert [(h.line, h.score, h.distance) for h in pruned] == [(h.line, h.score, h.distance)
                                                                       for h in brute]
            ref = full[:k]
            assert [h.line for h in pruned] == [line for _, line in ref]
            assert [h.distance for h in pruned] == pytest.approx([d for d, _ in ref], abs=1e-12)
            assert all(h.text == docs[h.line - 1] for h in pruned)
            want_score = [1 - h.distance if metric == "wrd" else h.distance for h in pruned]
            assert [h.score for h in pruned] == want_score
            assert pruned.exact + pruned.pruned_centroid + pruned.pruned_relaxed == pruned.documents
            pruned_by += (pruned.pruned_centroid, pruned.pruned_relaxed)
    assert (pruned_by > 0).all()  # both bounds did prune, so both paths are exercised


@pytest.mark.parametrize("metric,normalize", SETTINGS)
def test_vectorised_dual_bounds_equal_the_per_pair_formula(metric, normalize):
    from textkit.search import _dual_bounds, _query_costs

    store, docs = make_corpus(4)
    index = SearchIndex.from_texts(docs, store, str.split)
    transport = tr.Transport(store, metric=metric, normalize=normalize)
    query = transport.bag(["w1", "w2", "w2", "w9", "w30"])
    _, inverse, _, _ = index._vocabulary_rows(metric, transport.normalize)
    cost = _query_costs(index, transport, query, metric, transport.normalize)
    valid = np.flatnonzero(index.has_mass(metric, normalize))
    got = _dual_bounds(index, query, cost, cost.min(axis=0), inverse, index.masses(metric, normalize), valid)
    for doc, value in zip(valid, got):
        bag = transport.bag(docs[doc].split())
        assert value == pytest.approx(transport.dual_bound(query, bag), abs=1e-12)
        assert value <= transport.distance(query, bag) + 1e-12


def test_ties_are_broken_by_line_number_and_pruning_happens():
    store, docs = make_corpus(7, n_docs=600)
    index = SearchIndex.from_texts(docs, store, str.split)
    result = search(index, docs[3].split(), k=3, metric="wrd")
    assert [h.line for h in result] == [4, 11, 201]
    assert [h.score for h in result] == [1.0, 1.0, 1.0]
    assert result.exact < result.documents  # the bounds ruled documents out
    assert result.pruned_centroid + result.pruned_relaxed + result.exact == result.documents
    with_words = [t for t in docs if any(w in store.words[:40] and w != "w5" for w in t.split())]
    assert result.documents == len(with_words)  # not the empty, OOV-only or zero-vector lines


def test_index_save_load_roundtrip(tmp_path):
    store, docs = make_corpus(3)
    index = SearchIndex.from_texts(docs, store, str.split, tokenizer='{"kind": "whitespace"}')
    path = tmp_path / "idx.npz"
    index.save(str(path))
    loaded = SearchIndex.load(str(path), store)
    assert loaded.texts == docs
    for metric, normalize in SETTINGS:
        np.testing.assert_array_equal(loaded.centroids(metric, normalize), index.centroids(metric, normalize))
        a = search(index, ["w1", "w9"], k=5, metric=metric, normalize=normalize)
        b = search(loaded, ["w1", "w9"], k=5, metric=metric, normalize=normalize)
        assert a.hits == b.hits
    other = FakeVectors(store.words, store.matrix, identity="other")
    with pytest.raises(DataError, match="other vectors"):
        SearchIndex.load(str(path), other)
    (tmp_path / "bad.npz").write_bytes(b"not an index")
    with pytest.raises(DataError, match="not a textkit search index"):
        SearchIndex.load(str(tmp_path / "bad.npz"), store)


def test_centroids_match_bags():
    store, docs = make_corpus(4, n_docs=210)
    index = SearchIndex.from_texts(docs, store, str.split)
    for metric, normalize in SETTINGS:
        t = tr.Transport(store, metric=metric, normalize=normalize)
        cent = index.centroids(metric, normalize)
        for line, text in enumerate(docs):
            bag = t.bag(text.split())
            if bag.empty:
                assert not index.has_mass(metric, normalize)[line]
                continue
            np.testing.assert_allclose(cent[line], bag.centroid, atol=1e-12)


def test_bad_queries():
    store, docs = make_corpus(5, n_docs=210)
    index = SearchIndex.from_texts(docs, store, str.split)
    with pytest.raises(UsageError):
        search(index, ["w1"], k=0)
    with pytest.raises(tr.EmptyBagError, match="query"):
        search(index, ["nothing", "known"], k=3)
    with pytest.raises(tr.EmptyBagError, match="query"):
        search(index, [], k=3)
