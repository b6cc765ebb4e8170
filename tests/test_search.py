"""Pruned top-k search equals brute force: same documents, order and scores."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from textkit import transport as tr
from textkit.errors import DataError, UsageError
from textkit.search import SearchIndex, search, search_queries


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


def brute_reference(store, docs, query, k, metric, normalize, oov="drop"):
    """Independent of the index: tr.wmd / tr.wrd on each text, sorted by (distance, line)."""
    scored = []
    for line, text in enumerate(docs, 1):
        tokens = text.split()
        try:
            d = (tr.wmd(query, tokens, store, normalize=normalize, oov=oov) if metric == "wmd"
                 else tr.wrd(query, tokens, store, oov=oov))
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
    _, inverse, _, _, _ = index._vocabulary_rows(metric, transport.normalize)
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


def assert_search_matches_reference(index, store, docs, query, metric, normalize, oov="drop"):
    full = brute_reference(store, docs, query, len(docs), metric, normalize, oov=oov)
    for k in (1, 5, 400):
        pruned = search(index, query, k=k, metric=metric, normalize=normalize)
        brute = search(index, query, k=k, metric=metric, normalize=normalize, prune=False)
        assert [(h.line, h.distance) for h in pruned] == [(h.line, h.distance) for h in brute]
        assert [h.line for h in pruned] == [line for _, line in full[:k]]
        assert [h.distance for h in pruned] == pytest.approx([d for d, _ in full[:k]], abs=1e-12)


@pytest.mark.parametrize("metric,normalize", SETTINGS)
def test_lines_without_words_at_the_end_of_the_corpus(metric, normalize):
    """Per-line sums must not assume that the last line has a word (a trailing blank or unknown line)."""
    store, docs = make_corpus(9, n_docs=210)
    docs += ["w3 w8", "", "w41 w42"]
    index = SearchIndex.from_texts(docs, store, str.split)
    assert not index.has_mass(metric, normalize)[-2:].any() and index.has_mass(metric, normalize)[-3]
    assert index.n_oov[-1] == 2 and index.n_oov[-2] == 0
    for query in (["w3", "w8"], ["w1", "w2", "w9"]):
        assert_search_matches_reference(index, store, docs, query, metric, normalize)


@pytest.mark.parametrize("metric,normalize", SETTINGS)
def test_split_policy_matches_transport_on_each_text(metric, normalize):
    """oov="split": an unknown document or query token counts as its known pieces, as in Transport."""
    store, docs = make_corpus(8)
    docs[20] = "w3w17 w2"        # -> w3 + w17, and w2
    docs[21] = "w12w5x w40 w7"   # -> w12 + w5 (a zero vector); w40 -> w4
    docs += ["zzz", ""]          # no known piece; empty: no mass, at the end of the corpus
    index = SearchIndex.from_texts(docs, store, str.split, oov="split")
    assert index.oov == "split"
    assert index.unknown == sum(t not in store.words for text in docs for t in text.split())
    assert index.n_oov[-2:].tolist() == [1, 0]
    for query in (["w3w17"], ["w1", "w40", "w2"], docs[3].split(), ["w7", "qq"]):
        assert_search_matches_reference(index, store, docs, query, metric, normalize, oov="split")
    dropped = SearchIndex.from_texts(docs, store, str.split)
    assert index.counts.sum() > dropped.counts.sum()  # splitting did add words


def test_error_policy_names_the_line_and_the_token():
    store, docs = make_corpus(10, n_docs=210)
    known_only = [" ".join(t for t in text.split() if t in store.words) for text in docs]
    index = SearchIndex.from_texts(known_only, store, str.split, oov="error")
    assert index.unknown == 0
    known_only[30] = "w1 w77 w2"
    with pytest.raises(DataError, match="line 31: .*'w77'"):
        SearchIndex.from_texts(known_only, store, str.split, oov="error")
    with pytest.raises(DataError, match="query: .*'w99'"):
        search(index, ["w1", "w99"], k=3, oov="error")


def test_query_policy_must_match_the_documents(tmp_path):
    """Another OOV policy for the query than for the documents is refused, unless no document token was unknown."""
    store, docs = make_corpus(11, n_docs=210)
    split = SearchIndex.from_texts(docs, store, str.split, oov="split")
    path = tmp_path / "split.npz"
    split.save(str(path))
    loaded = SearchIndex.load(str(path), store)
    assert (loaded.oov, loaded.unknown) == ("split", split.unknown) and split.unknown > 0
    np.testing.assert_array_equal(loaded.n_oov, split.n_oov)
    assert search(loaded, ["w1w2"], k=4).hits == search(split, ["w1w2"], k=4, oov="split").hits
    with pytest.raises(DataError, match=r"built with oov 'split' \(--oov split\)"):
        search(loaded, ["w1"], k=3, oov="drop")
    clean = SearchIndex.from_texts(["w1 w2", "w3"], store, str.split)
    assert clean.unknown == 0
    for oov in ("drop", "error", "split"):  # documents without unknown tokens read the same under any policy
        assert len(search(clean, ["w1"], k=2, oov=oov)) == 2


def test_index_written_before_oov_policies_reads_as_drop(tmp_path):
    """An index file without the OOV fields (as written before they existed) loads with the drop policy."""
    store, docs = make_corpus(12, n_docs=210)
    index = SearchIndex.from_texts(docs, store, str.split)
    index.save(str(tmp_path / "new.npz"))
    with np.load(tmp_path / "new.npz") as npz:
        data = {key: npz[key] for key in npz.files if key != "n_oov"}
    meta = json.loads(str(data["meta"]))
    del meta["oov"], meta["unknown"]
    data["meta"] = np.str_(json.dumps(meta))
    np.savez(tmp_path / "old.npz", **data)
    old = SearchIndex.load(str(tmp_path / "old.npz"), store)
    assert (old.oov, old.unknown) == ("drop", index.unknown)
    np.testing.assert_array_equal(old.n_oov, index.n_oov)


@pytest.mark.parametrize("metric,normalize", SETTINGS)
def test_many_queries_equal_one_by_one(metric, normalize, caplog):
    """search_queries: each result equals search() alone; queries without a known word are named once."""
    store, docs = make_corpus(21, n_docs=210)
    index = SearchIndex.from_texts(docs, store, str.split)
    queries = [(2, ["w1", "w7"]), (5, ["w45"]), (6, docs[3].split()), (9, []), (11, ["w2"])]
    with caplog.at_level("WARNING", logger="textkit"):
        got = list(search_queries(index, queries, k=4, metric=metric, normalize=normalize))
    assert [n for n, _ in got] == [2, 6, 11]
    for n, result in got:
        alone = search(index, dict(queries)[n], k=4, metric=metric, normalize=normalize)
        assert result.hits == alone.hits
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert warnings == ["2 queries without a word with a nonzero vector, no result: line 5, 9"]
    known_only = SearchIndex.from_texts([" ".join(t for t in d.split() if t in store.words) for d in docs],
                                        store, str.split, oov="error")
    with pytest.raises(DataError, match="query line 5: .*'w45'"):
        list(search_queries(known_only, queries, k=4, metric=metric, normalize=normalize))


def test_index_save_load_roundtrip(tmp_path):
    store, docs = make_corpus(3)
    index = SearchIndex.from_texts(docs, store, str.split, tokenizer='{"kind": "whitespace"}')
    path = tmp_path / "idx.npz"
    index.save(str(path))
    with np.load(path) as saved:  # the ids and texts: centroids are recomputed, not stored
        assert not [key for key in saved.files if key.startswith("centroid")]
    loaded = SearchIndex.load(str(path), store)
    assert loaded.texts == docs
    for metric, normalize in SETTINGS:
        np.testing.assert_array_equal(loaded.centroids(metric, normalize), index.centroids(metric, normalize))
        a = search(index, ["w1", "w9"], k=5, metric=metric, normalize=normalize)
        b = search(loaded, ["w1", "w9"], k=5, metric=metric, normalize=normalize)
        assert a.hits == b.hits
    # an index written with its centroids (earlier versions) reads as before
    with np.load(path) as saved:
        arrays = {key: saved[key] for key in saved.files}
    for (metric, normalize), name in {("wmd", False): "wmd", ("wmd", True): "wmd_unit",
                                      ("wrd", False): "wrd"}.items():
        arrays[f"centroid_{name}"] = index.centroids(metric, normalize)
    np.savez(tmp_path / "old.npz", **arrays)
    old = SearchIndex.load(str(tmp_path / "old.npz"), store)
    for metric, normalize in SETTINGS:
        assert search(old, ["w1", "w9"], k=5, metric=metric, normalize=normalize).hits == \
            search(index, ["w1", "w9"], k=5, metric=metric, normalize=normalize).hits
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


_VOCAB_STORE, _ = make_corpus(20, n_docs=210, n_words=12, dim=4)
# known words w0..w11 (w5 is a zero vector), unknown ones, and tokens that split into known pieces
_TOKENS = [f"w{i}" for i in range(12)] + ["w40", "qq", "w1w2", "w3x"]


@settings(max_examples=40, deadline=None)
@given(
    docs=st.lists(st.lists(st.sampled_from(_TOKENS), max_size=5).map(" ".join), min_size=1, max_size=25),
    query=st.lists(st.sampled_from(_TOKENS), min_size=1, max_size=4),
    k=st.integers(1, 30),
    setting=st.sampled_from(SETTINGS),
    oov=st.sampled_from(["drop", "split"]),
)
def test_any_corpus_search_equals_the_per_text_reference(docs, query, k, setting, oov):
    """Any corpus (blank and unknown-only lines anywhere, first or last included), any query and k."""
    metric, normalize = setting
    store = _VOCAB_STORE
    index = SearchIndex.from_texts(docs, store, str.split, oov=oov)
    full = brute_reference(store, docs, query, len(docs), metric, normalize, oov=oov)
    try:
        pruned = search(index, query, k=k, metric=metric, normalize=normalize)
    except tr.EmptyBagError:
        assert tr.Transport(store, metric=metric, normalize=normalize, oov=oov).bag(query).empty
        return
    brute = search(index, query, k=k, metric=metric, normalize=normalize, prune=False)
    assert [(h.line, h.distance) for h in pruned] == [(h.line, h.distance) for h in brute]
    assert [h.line for h in pruned] == [line for _, line in full[:k]]
    assert [h.distance for h in pruned] == pytest.approx([d for d, _ in full[:k]], abs=1e-12)


def _edited_meta(data, **changes):
    import json

    meta = json.loads(str(data["meta"]))
    meta.update(changes)
    return np.array(json.dumps(meta))


@pytest.mark.parametrize("damage, message", [
    (lambda d: d.update(ids=d["ids"][:-3]), "offsets that do not match"),
    (lambda d: d.update(indptr=d["indptr"][::-1].copy()), "offsets that do not match"),
    (lambda d: d.update(ids=d["ids"] + 10_000), "word ids outside the vectors"),
    (lambda d: d.pop("ids"), "no ids"),
    (lambda d: d.update(counts=np.zeros_like(d["counts"])), "word counts below 1"),
    (lambda d: d.update(ids=d["ids"].astype(np.float64)), "wrong shape or type"),
    (lambda d: d.update(n_tokens=d["n_tokens"][:-1]), "wrong length"),
    (lambda d: d.update(meta=_edited_meta(d, identity=None)), "no identity recorded"),
    (lambda d: d.update(meta=_edited_meta(d, tokenizer=[1, 2])), "its tokenizer is '\\[1, 2\\]'"),
    (lambda d: d.update(meta=_edited_meta(d, unknown="3")), "its unknown is"),
])
def test_damaged_index_is_one_error(tmp_path, damage, message):
    """Arrays that disagree (a file edited or damaged, yet readable) are refused on load, not met mid-search."""
    store, docs = make_corpus(5, n_docs=210)
    index = SearchIndex.from_texts(docs, store, str.split)
    index.save(str(tmp_path / "idx.npz"))
    with np.load(tmp_path / "idx.npz") as npz:
        data = {key: npz[key] for key in npz.files}
    damage(data)
    np.savez(tmp_path / "bad.npz", **data)
    with pytest.raises(DataError, match=f"damaged index .*{message}.*rebuild it"):
        SearchIndex.load(str(tmp_path / "bad.npz"), store)
    data["meta"] = np.array("[1, 2]")  # JSON, but not an index's settings
    np.savez(tmp_path / "bad.npz", **data)
    with pytest.raises(DataError, match="not a textkit search index"):
        SearchIndex.load(str(tmp_path / "bad.npz"), store)


def test_indexes_built_in_two_threads_equal_those_built_one_after_the_other(sample_path, tmp_path):
    """Index building keeps its tokenizer where its batches find it; two builds in threads of
    one process (workers=1: the batches run here) must not tokenize with each other's."""
    from textkit.tokenize import TokenizerSpec
    from textkit.vectors import open_vectors

    from .conftest import run_in_threads

    vectors = open_vectors()
    lines = [line for line in sample_path.read_text(encoding="utf-8").split("\n") if line]
    sample_path = tmp_path / "corpus.txt"  # several batches, so that the threads take turns between them
    sample_path.write_text("\n".join(lines * 5) + "\n", encoding="utf-8")
    specs = [TokenizerSpec(kind="char"), TokenizerSpec()]
    alone = [SearchIndex.build(str(sample_path), vectors, spec) for spec in specs]
    together = run_in_threads(*(lambda spec=spec: SearchIndex.build(str(sample_path), vectors, spec) for spec in specs))
    for k in (0, 1):
        assert np.array_equal(together[k].ids, alone[k].ids) and np.array_equal(together[k].counts, alone[k].counts)


def test_an_older_index_naming_a_dictionary_by_path(tmp_path, monkeypatch):
    """Indexes written before files were known by content name them by path: one still there is
    read and compared by content; one gone is compared by name (not taken for a pipe)."""
    from textkit.tokenize import TokenizerSpec

    monkeypatch.chdir(tmp_path)
    store, docs = make_corpus(13)
    (tmp_path / "sw.txt").write_text("w1\n", encoding="utf-8")
    index = SearchIndex.from_texts(docs, store, str.split, tokenizer=TokenizerSpec(stopwords="sw.txt"))
    index.save(str(tmp_path / "new.npz"))
    for saved_name, loads in (("sw.txt", True), ("gone.txt", False)):
        with np.load(tmp_path / "new.npz") as npz:
            data = {key: npz[key] for key in npz.files}
        meta = json.loads(str(data["meta"]))
        meta["tokenizer"]["stopwords"] = saved_name
        data["meta"] = np.str_(json.dumps(meta))
        np.savez(tmp_path / "old.npz", **data)
        if loads:
            SearchIndex.load(str(tmp_path / "old.npz"), store, TokenizerSpec(stopwords=str(tmp_path / "sw.txt")))
        else:
            with pytest.raises(DataError, match="other tokenizer options: stopwords 'gone.txt'"):
                SearchIndex.load(str(tmp_path / "old.npz"), store, TokenizerSpec(stopwords="sw.txt"))


@pytest.mark.parametrize("normalize", [False, True])
def test_words_with_equal_vectors_tie_at_distance_zero_as_brute_force_finds(normalize):
    """Two words with one vector are at distance 0; the bound must be 0 too, not the square root of
    the Gram form's rounding (2e-8, above the pruning tolerance), or the tie on line number is lost."""
    from textkit.vectors import Vectors

    for seed in range(12):
        matrix = np.random.default_rng(seed).standard_normal((50, 144)).astype(np.float32)
        matrix[1] = matrix[0]
        vectors = Vectors([f"w{i}" for i in range(50)], matrix)
        index = SearchIndex.from_texts(["w1", "w0"] + [f"w{i}" for i in range(2, 50)], vectors, str.split)
        for k in (1, 2):
            pruned = search(index, ["w0"], k=k, metric="wmd", normalize=normalize).hits
            brute = search(index, ["w0"], k=k, metric="wmd", normalize=normalize, prune=False).hits
            assert pruned == brute and pruned[0].line == 1 and pruned[0].distance == 0.0
