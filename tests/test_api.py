"""The Python API of `textkit`: what it exports, and plain errors for plausible mistakes."""

from __future__ import annotations

import numpy as np
import pytest

import textkit
from textkit.search import search
from .test_transport import random_store


def test_exports_load_lazily_and_are_listed():
    for name in textkit.__all__:
        assert getattr(textkit, name) is not None
    assert set(textkit.__all__) <= set(dir(textkit))
    assert {"open_vectors", "wmd", "wrd", "Whitening", "SearchIndex", "SentenceEncoder"} <= set(textkit.__all__)
    with pytest.raises(AttributeError):
        textkit.no_such_name  # noqa: B018


def test_a_string_where_tokens_are_expected_is_a_type_error():
    """A string would be read as its characters and give a plausible, wrong number."""
    store = random_store(2)
    words = store.words[:3]
    with pytest.raises(TypeError, match="list of tokens, not a string"):
        textkit.wrd("".join(words), words, store)
    index = textkit.SearchIndex.from_texts([" ".join(words)], store, str.split)
    with pytest.raises(TypeError, match="list of tokens"):
        search(index, " ".join(words))
    encoder = textkit.SentenceEncoder(textkit.Vectors(store.words, np.asarray(store.matrix, np.float32)))
    with pytest.raises(TypeError, match="not a string"):
        encoder.encode(["a"])
    with pytest.raises(TypeError, match="not a string"):  # any text a string, not only the first
        encoder.encode([words, "".join(words)])
    with pytest.raises(TypeError, match="list of texts"):
        textkit.SearchIndex.from_texts(" ".join(words), store, str.split)
    assert textkit.wrd(words, words, store) == pytest.approx(0.0, abs=1e-12)


def test_token_lists_may_be_any_iterables():
    """Generators and tuples of tokens give what lists give."""
    store = random_store(3)
    a, b = store.words[:4], store.words[2:7]
    for distance in (textkit.wrd, textkit.wmd):
        assert distance(iter(a), (w for w in b), store) == distance(a, b, store)
    assert textkit.score_pairs([(iter(a), tuple(b))], store) == textkit.score_pairs([(a, b)], store)
    encoder = textkit.SentenceEncoder(textkit.Vectors(store.words, np.asarray(store.matrix, np.float32)))
    assert np.array_equal(encoder.encode(iter([iter(a), tuple(b)])).matrix, encoder.encode([a, b]).matrix)


def test_an_index_takes_its_vectors_as_wrd_does(tmp_path):
    """None (the bundled store) or a path, like wrd, wmd and Transport."""
    bundled = textkit.open_vectors()
    texts = ["今天 天气 不错", "天气 很好"]
    by_none = textkit.SearchIndex.from_texts(texts, None, str.split)
    by_store = textkit.SearchIndex.from_texts(texts, bundled, str.split)
    assert np.array_equal(by_none.ids, by_store.ids) and by_none.identity == by_store.identity


def test_corpus_of_one_path_and_count_words_arguments(sample_path):
    one = textkit.count_words(textkit.Corpus(str(sample_path)), workers="auto")  # workers as -j takes them
    listed = textkit.count_words(textkit.Corpus([sample_path]))
    assert one.rows(top=20) == listed.rows(top=20)
    with pytest.raises(TypeError, match="takes a textkit.Corpus"):
        textkit.count_words([str(sample_path)])
    with pytest.raises(textkit.TextkitError, match=r"workers \(-j\) must be 0"):
        textkit.count_words(textkit.Corpus(str(sample_path)), workers=-1)


def test_transport_opens_vectors_given_by_path(tmp_path):
    from textkit.vectors import save_store

    store = random_store(4)
    save_store(tmp_path / "s", store.words, np.asarray(store.matrix, dtype=np.float32))
    words = store.words[:4]
    assert textkit.wmd(words[:2], words[2:], str(tmp_path / "s")) == pytest.approx(
        textkit.wmd(words[:2], words[2:], textkit.open_vectors(str(tmp_path / "s"))), abs=0)


def _saved_store(path, seed):
    from textkit.vectors import save_store

    store = random_store(seed)
    save_store(path, store.words, np.asarray(store.matrix, dtype=np.float32))
    return store


def test_an_index_built_with_own_vectors_leaves_the_default_store_alone(tmp_path):
    """Vectors handed to SearchIndex.build are not cached as 'the default store' (None)."""
    from textkit.vectors import open_vectors_cached

    default = textkit.open_vectors()
    fake = random_store(5)
    store = textkit.Vectors(fake.words, np.asarray(fake.matrix, dtype=np.float32))
    corpus = tmp_path / "docs.txt"
    corpus.write_text("w1 w2\nw3 w4 w5\n", encoding="utf-8")
    spec = textkit.TokenizerSpec(kind="whitespace")
    index = textkit.SearchIndex.build(str(corpus), store, spec, workers=2)
    assert search(index, ["w1", "w2"], k=1).hits[0].line == 1
    assert open_vectors_cached(None).identity == default.identity


def test_two_pair_scoring_runs_side_by_side(tmp_path):
    """Each run keeps its own scorer: interleaving two runs gives what each gives alone."""
    from textkit.pair_scoring import PairJob, score_pairs_file

    _saved_store(tmp_path / "s", 6)
    pairs = tmp_path / "pairs.tsv"
    pairs.write_text("w1 w2\tw3\nw4\tw4\nzzz\tw1\nw5 w6\tw7 w8 w9\n", encoding="utf-8")
    spec = textkit.TokenizerSpec(kind="whitespace")
    jobs = [PairJob(str(tmp_path / "s"), spec, metric=metric) for metric in ("wrd", "wmd")]
    alone = [[score for _, _, score, _ in score_pairs_file(str(pairs), job, batch_size=1)] for job in jobs]
    runs = [score_pairs_file(str(pairs), job, batch_size=1) for job in jobs]
    together = [(a[2], b[2]) for a, b in zip(*runs)]
    assert [list(column) for column in zip(*together)] == alone
    assert alone[0][1] == 1.0 and alone[0][2] == -1.0  # WRD: identical texts 1, an empty side -1


def test_caches_notice_rewritten_files_and_a_new_directory(tmp_path, monkeypatch):
    """Tokenizers and opened stores are cached per process; an edited file is read anew."""
    import os

    from textkit.vectors import open_vectors_cached

    words = tmp_path / "user.dict"
    words.write_text("北京大学生\n", encoding="utf-8")
    spec = textkit.TokenizerSpec(user_dict=str(words))
    assert "北京大学生" in textkit.get_tokenizer(spec).tokens("北京大学生活动")
    words.write_text("大学生活 10000000\n", encoding="utf-8")
    os.utime(words, ns=(1, 1))  # a new modification time even on a coarse clock
    assert "大学生活" in textkit.get_tokenizer(spec).tokens("北京大学生活动")

    _saved_store(tmp_path / "s", 1)
    first = open_vectors_cached(str(tmp_path / "s"))
    assert open_vectors_cached(str(tmp_path / "s")) is first
    _saved_store(tmp_path / "s", 2)
    os.utime(tmp_path / "s" / "vectors.npy", ns=(1, 1))
    second = open_vectors_cached(str(tmp_path / "s"))
    assert second.identity != first.identity
    (tmp_path / "other").mkdir()
    _saved_store(tmp_path / "other" / "s", 3)
    monkeypatch.chdir(tmp_path / "other")
    assert open_vectors_cached("s").identity not in (first.identity, second.identity)


def test_a_transport_shared_by_threads_gives_the_sequential_scores():
    from concurrent.futures import ThreadPoolExecutor

    store = random_store(8, n_words=400, dim=8)
    rng = np.random.default_rng(8)
    pairs = [([store.words[i] for i in rng.integers(0, 400, 6)], [store.words[i] for i in rng.integers(0, 400, 6)])
             for _ in range(600)]
    shared = textkit.Transport(store, metric="wrd")
    with ThreadPoolExecutor(8) as threads:
        got = list(threads.map(lambda p: shared.distance(shared.bag(p[0]), shared.bag(p[1])), pairs))
    alone = textkit.Transport(store, metric="wrd")
    assert got == [alone.distance(alone.bag(a), alone.bag(b)) for a, b in pairs]


def test_inputs_a_user_may_give(tmp_path, sample_path):
    """Generators, a single path, an empty list and strings: read right or refused, never stdin by surprise."""
    from textkit.discovery import discover_documents

    (tmp_path / "c.tsv").write_text("好\t3\n的\t2\n", encoding="utf-8")
    assert textkit.merge_count_files(p for p in [str(tmp_path / "c.tsv")]).rows() == [("好", 3), ("的", 2)]
    assert textkit.merge_count_files(tmp_path / "c.tsv").rows() == [("好", 3), ("的", 2)]
    with pytest.raises(textkit.TextkitError, match="no input given"):
        textkit.Corpus([])
    docs = sample_path.read_text(encoding="utf-8").splitlines()[:300]
    assert discover_documents(d for d in docs).words == discover_documents(docs).words
    with pytest.raises(TypeError, match="takes a textkit.Corpus"):
        textkit.discover_corpus(docs)
    store = random_store(2)
    with pytest.raises(TypeError, match="list of tokens, not a string"):
        textkit.score_pairs([("w1 w2", "w3")], store)
    with pytest.raises(textkit.TextkitError, match="whole number"):
        textkit.count_words(textkit.Corpus(str(sample_path)), workers=2.5)


def test_an_index_of_texts_with_line_breaks_saves_and_loads(tmp_path):
    from textkit.search import SearchIndex

    fake = random_store(3)
    store = textkit.Vectors(fake.words, np.asarray(fake.matrix, dtype=np.float32))
    spec = textkit.TokenizerSpec(kind="whitespace")
    texts = ["w1 w2\nw3", "", "w4"]
    index = SearchIndex.from_texts(texts, store, str.split, tokenizer=spec)
    index.save(str(tmp_path / "i.npz"))
    loaded = SearchIndex.load(str(tmp_path / "i.npz"), store, spec)
    assert loaded.texts == texts
    assert search(loaded, ["w4"], k=1).hits == search(index, ["w4"], k=1).hits
    with pytest.raises(textkit.TextkitError, match="other tokenizer options"):
        SearchIndex.load(str(tmp_path / "i.npz"), store, textkit.TokenizerSpec())
    SearchIndex.from_texts(texts, store, str.split).save(str(tmp_path / "j.npz"))  # no settings recorded
    assert SearchIndex.load(str(tmp_path / "j.npz"), store, textkit.TokenizerSpec()).texts == texts


def test_nearest_with_a_number_is_a_type_error():
    fake = random_store(4)
    store = textkit.Vectors(fake.words, np.asarray(fake.matrix, dtype=np.float32))
    with pytest.raises(TypeError, match="not the number 5"):
        store.nearest(5)
    with pytest.raises(TypeError, match="k must be a whole number"):
        store.nearest("w1", k=2.5)
    assert [w for w, _ in store.nearest("w1", k=np.int64(2))] == [w for w, _ in store.nearest("w1", k=2)]


@pytest.mark.parametrize("make, says", [
    (lambda: textkit.Whitening(0), r"n_components \(--dim\) must be at least 1"),
    (lambda: textkit.TrainingOptions(window=0).check(), r"window \(--window\) must be between 1 and"),
    (lambda: textkit.TokenizerSpec(min_len=0), r"min_len \(--min-len\) must be at least 1"),
    (lambda: textkit.Transport(random_store(5, 3, 0), sinkhorn=-1.0), r"sinkhorn \(--sinkhorn\) must be"),
])
def test_a_refused_setting_is_named_as_python_and_the_command_line_spell_it(make, says):
    with pytest.raises(textkit.TextkitError, match=says):
        make()


def test_the_library_prints_nothing_unless_logging_is_set_up(tmp_path):
    """A warning (here: invalid UTF-8 replaced) reaches the "textkit" logger, not stderr, until the
    application configures logging; then it is there."""
    import subprocess
    import sys
    from pathlib import Path

    (tmp_path / "bad.txt").write_bytes(b"ok\n\xff\n")
    script = ("import logging, sys, textkit\n"
              "if sys.argv[2] == 'configured': logging.basicConfig()\n"
              "print(len(list(textkit.Corpus([sys.argv[1]]).documents())))\n")
    root = Path(__file__).resolve().parents[1]
    quiet, shown = (subprocess.run([sys.executable, "-c", script, str(tmp_path / "bad.txt"), how], cwd=root,
                                   capture_output=True, text=True, timeout=60) for how in ("plain", "configured"))
    assert quiet.stdout == shown.stdout == "2\n"
    assert quiet.stderr == "" and "invalid utf-8" in shown.stderr


def test_whitening_refuses_non_finite_vectors():
    from textkit.errors import DataError
    from textkit.whitening import Whitening

    data = np.random.default_rng(0).normal(size=(50, 4))
    data[7, 2] = np.nan
    with pytest.raises(DataError, match=r"NaN or infinite values \(row 8 "):
        Whitening().fit(data)
    data[7, 2] = np.inf
    with pytest.raises(DataError, match="NaN or infinite"):
        Whitening(2).fit(iter([data[:5], data[5:]]))
    data[7, 2] = 1e300  # finite, but its square is not
    with pytest.raises(DataError, match="not finite"):
        Whitening().fit(data)


def test_count_files_and_dictionaries_given_as_paths(tmp_path, sample_path):
    """pathlib.Path works where a str does: a CSV count file, a user dictionary in an index."""
    from pathlib import Path

    from textkit.counting import read_counts
    from textkit.search import SearchIndex
    from textkit.tokenize import TokenizerSpec
    from textkit.vectors import open_vectors

    (tmp_path / "c.csv").write_text("word,count\n今天,3\n", encoding="utf-8")
    assert read_counts(tmp_path / "c.csv").counts == read_counts(str(tmp_path / "c.csv")).counts
    (tmp_path / "ud.txt").write_text("蓝莓芝士蛋糕 10\n", encoding="utf-8")
    (tmp_path / "docs.txt").write_text("蓝莓芝士蛋糕真好吃\n今天天气不错\n", encoding="utf-8")
    index = SearchIndex.build(Path(tmp_path / "docs.txt"), open_vectors(), TokenizerSpec(user_dict=tmp_path / "ud.txt"))
    assert len(index) == 2


def test_vectors_take_numpys_default_float64_as_save_store_does(tmp_path):
    from textkit.errors import VectorsError
    from textkit.vectors import save_store

    words = ["今天", "天气", "不错"]
    matrix = np.random.default_rng(1).normal(size=(3, 4))  # float64
    in_memory = textkit.Vectors(words, matrix)
    saved = save_store(tmp_path / "s", words, matrix)
    assert in_memory.matrix.dtype == np.float32 and np.array_equal(in_memory.matrix, saved.matrix)
    assert in_memory.nearest("今天", k=2) == saved.nearest("今天", k=2)
    with pytest.raises(VectorsError, match="float32's range"):
        textkit.Vectors(words, matrix * 1e300)
    with pytest.raises(VectorsError, match="real numbers"):
        textkit.Vectors(words, matrix.astype(complex))


def test_pairs_must_hold_two_token_lists_and_index_tokens_may_be_iterables():
    store = random_store(4)
    a, b, c = store.words[:2], store.words[2:4], store.words[4:6]
    with pytest.raises(TypeError, match="pairs of two token lists"):
        textkit.score_pairs([(a, b, c)], store)
    by_lists = textkit.SearchIndex.from_texts([" ".join(a), " ".join(b)], store, str.split)
    by_iterators = textkit.SearchIndex.from_texts([" ".join(a), " ".join(b)], store, lambda t: iter(t.split()))
    assert np.array_equal(by_lists.ids, by_iterators.ids)


def test_one_string_where_documents_or_words_are_expected_is_a_type_error():
    """count, count_with_df and lookup would read a string as its characters."""
    tok = textkit.get_tokenizer(textkit.TokenizerSpec())
    for method in (tok.count, tok.count_with_df):
        with pytest.raises(TypeError, match="not one string"):
            method("物流很快")
    assert tok.count(["物流很快"]) == {"物流": 1, "很快": 1}
    with pytest.raises(TypeError, match="not a string"):
        textkit.open_vectors().lookup("手机")


def test_specs_are_checked_where_they_are_given(tmp_path, sample_path):
    """A string for a spec is a TypeError at the call, not an AttributeError deep in a worker;
    None stands for the default spec."""
    corpus = textkit.Corpus([sample_path])
    for call in (lambda: textkit.get_tokenizer("char"),
                 lambda: textkit.count_words(corpus, "char", workers=2),
                 lambda: textkit.train_vectors(corpus, tokenizer_spec="char"),
                 lambda: textkit.EncoderSpec(tokenizer="char"),
                 lambda: textkit.fit_whitening(corpus, "char"),
                 lambda: textkit.PairJob(None, "char")):
        with pytest.raises(TypeError, match="expected a"):
            call()
    assert textkit.get_tokenizer(None) is textkit.get_tokenizer(textkit.TokenizerSpec())
    assert textkit.PairJob(None, None).tokenizer_spec == textkit.TokenizerSpec()
    for call in (lambda: textkit.fit_whitening(str(sample_path), textkit.EncoderSpec()),
                 lambda: textkit.train_vectors(str(sample_path))):
        with pytest.raises(TypeError, match="takes a textkit.Corpus"):
            call()


def test_pair_jobs_refuse_settings_their_metric_does_not_use():
    with pytest.raises(textkit.UsageError, match="needs whitening_path"):
        textkit.PairJob(None, None, metric="whiten")  # it scored plain cosine
    with pytest.raises(textkit.UsageError, match="needs whitening_path"):
        textkit.PairJob(None, None, metric="cosine", whitening_path="w.npz")
    with pytest.raises(textkit.UsageError, match="unknown metric"):
        textkit.PairJob(None, None, metric="wdm")
    with pytest.raises(textkit.UsageError, match="with metric 'whiten'"):
        textkit.PairJob(None, None, counts_path="c.tsv")
    with pytest.raises(textkit.UsageError, match="apply to metrics 'wrd' and 'wmd' only"):
        textkit.PairJob(None, None, metric="cosine", oov="error")  # was silently ignored


def test_evaluate_pairs_takes_tuples_and_a_tokenizer_spec(tmp_path):
    rows = [("物流很快", "发货速度快", 1.0), ("手机", "电脑", 0.0), ("今天天气很好", "今天天气不错", 1)]
    from textkit.evaluate import LabelledPair

    want = textkit.evaluate_pairs([LabelledPair(i, *row) for i, row in enumerate(rows, 1)], textkit.EncoderSpec())
    for pairs in (rows, iter(rows)):
        for spec in (None, textkit.TokenizerSpec()):
            got = textkit.evaluate_pairs(pairs if isinstance(pairs, list) else iter(rows), spec)
            assert got.lines == [1, 2, 3] and np.array_equal(got.scores, want.scores)
    with pytest.raises(TypeError, match=r"\(s1, s2, label\) tuples"):
        textkit.evaluate_pairs([("物流很快", "发货速度快")], None)


def test_every_function_taking_vectors_takes_a_path_or_none(tmp_path):
    store = _saved_store(tmp_path / "s", 6)
    words = store.words[:5]
    opened = textkit.open_vectors(str(tmp_path / "s"))
    by_path = textkit.SentenceEncoder(str(tmp_path / "s")).encode([words])
    assert np.array_equal(by_path.matrix, textkit.SentenceEncoder(opened).encode([words]).matrix)
    assert textkit.SentenceEncoder(None).dim == textkit.open_vectors().dim
    (tmp_path / "docs.txt").write_text(" ".join(words) + "\n" + " ".join(words[2:]) + "\n", encoding="utf-8")
    spec = textkit.TokenizerSpec(kind="whitespace")
    index = textkit.SearchIndex.build(str(tmp_path / "docs.txt"), str(tmp_path / "s"), spec)
    index.save(tmp_path / "i.npz")
    loaded = textkit.SearchIndex.load(str(tmp_path / "i.npz"), str(tmp_path / "s"), spec)
    assert search(loaded, words[2:], k=1).hits[0].line == 2
    with pytest.raises(textkit.DataError, match="built with other vectors"):
        textkit.SearchIndex.load(str(tmp_path / "i.npz"), None, spec)
    with pytest.raises(TypeError, match=r"\(query line, tokens\) pairs"):
        list(textkit.search_queries(loaded, [words[:2], words[3:]]))
    assert [n for n, _ in textkit.search_queries(loaded, enumerate([words[:2], words[3:]], 1))] == [1, 2]


@pytest.mark.parametrize("call", [
    lambda store: search(textkit.SearchIndex.from_texts(["w1 w2"], store, str.split), ["w1"], k=2.5),
    lambda store: search(textkit.SearchIndex.from_texts(["w1 w2"], store, str.split), ["w1"], k="3"),
    lambda store: textkit.Whitening(2.5),
    lambda store: textkit.Whitening("16"),
    lambda store: textkit.Transport(store, sinkhorn="0.1"),
    lambda store: textkit.SentenceEncoder(textkit.open_vectors(), sif_a="1e-3"),
    lambda store: textkit.TrainingOptions(dim="16").check(),
    lambda store: textkit.WordCounts({"a": 1}).rows(top=2.0),
])
def test_numbers_of_the_wrong_type_are_named_at_the_call(call):
    with pytest.raises(TypeError, match="must be a (whole )?number"):
        call(random_store(7))


def test_count_rows_refuse_a_top_below_one():
    table = textkit.WordCounts({"a": 2, "b": 1})
    for top in (0, -1):  # -1 silently dropped the last row
        with pytest.raises(textkit.UsageError, match="top must be at least 1"):
            table.rows(top=top)
    assert table.rows(top=1) == [("a", 2)]


def test_reading_a_csv_count_file_leaves_the_csv_field_limit_alone(tmp_path):
    import csv

    (tmp_path / "c.csv").write_text("word,count\n" + "x" * 200_000 + ",3\n", encoding="utf-8")
    before = csv.field_size_limit(131_072)  # csv's default, below the word's length
    try:
        assert textkit.read_counts(str(tmp_path / "c.csv")).counts == {"x" * 200_000: 3}
        assert csv.field_size_limit() == 131_072
    finally:
        csv.field_size_limit(before)


def test_a_word_that_is_not_text_is_a_vectors_error(tmp_path):
    vectors = textkit.Vectors(["\ud800", "a"], np.eye(2))
    with pytest.raises(textkit.VectorsError, match="lone surrogate"):
        vectors.identity  # noqa: B018
    with pytest.raises(textkit.VectorsError, match="lone surrogate"):
        vectors.save(tmp_path / "s")
    assert not (tmp_path / "s").exists()


def test_nearest_cosines_stay_within_one_and_take_one_vector():
    vectors = textkit.open_vectors()
    found = vectors.nearest(vectors["手机"], k=3)
    assert found[0][0] == "手机" and all(-1.0 <= score <= 1.0 for _, score in found)
    with pytest.raises(textkit.UsageError, match=r"one vector of 144 values, not an array of shape \(2, 144\)"):
        vectors.nearest(np.ones((2, vectors.dim)))
    assert textkit.WorkerError.__mro__[1] is textkit.TextkitError
