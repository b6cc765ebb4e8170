"""textkit.ngrams / textkit.discovery against plain-Python references (tests/discovery_reference.py)."""

from __future__ import annotations

import logging
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from textkit import ngrams as ng
from textkit.discovery import (
    DiscoverOptions,
    default_min_count,
    discover,
    discover_documents,
    write_user_dict,
)
from textkit.errors import UsageError

from .discovery_reference import count_ngrams, reference_discover

# A small alphabet so that n-grams repeat: Han (BMP and two supplementary-plane
# characters), Latin, digits, full-width forms, and separators (punctuation, space).
ALPHABET = "天气不错好今很人们的" + "\U00020000\U0002A6D6" + "ab7Ｚ９〇" + "，。! 、\t"
texts = st.lists(st.text(alphabet=ALPHABET, max_size=60), max_size=25)


def table_dict(part: ng.NgramCounts) -> dict:
    """All counts of a partial result as {string: count}."""
    out = {}
    chars = part.vocab.chars()
    for i in np.flatnonzero(part.unigrams):
        out[chr(int(chars[i]))] = int(part.unigrams[i])
    for n, (keys, counts) in part.tables.items():
        for k, c in zip(keys.tolist(), counts.tolist()):
            out[part.vocab.word(k, n)] = c
    return out


def split_batches(docs, size):
    return lambda: (docs[i : i + size] for i in range(0, len(docs), size))


def same_rows(fast, ref):
    """Words and counts identical; floats equal up to rounding."""
    assert [(w.word, w.count) for w in fast] == [(r[0], r[1]) for r in ref]
    for w, r in zip(fast, ref):
        for a, b in zip(w[2:], r[2:]):
            assert math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9), (w, r)


# -- counting -------------------------------------------------------------------------


def test_counts_equal_naive_counter_on_sample(sample_lines):
    part = ng.count_batch(sample_lines, 4)
    assert table_dict(part) == dict(count_ngrams(sample_lines, 4))
    assert part.total == sum(c for w, c in count_ngrams(sample_lines, 1).items())


@settings(max_examples=150, deadline=None)
@given(texts, st.integers(1, 4))
def test_counts_equal_naive_counter_on_generated_text(docs, max_n):
    assert table_dict(ng.count_batch(docs, max_n)) == dict(count_ngrams(docs, max_n))


@settings(max_examples=60, deadline=None)
@given(texts, st.integers(1, 5), st.integers(0, 2))
def test_merge_of_batches_equals_one_batch(docs, size, order):
    parts = [ng.count_batch(docs[i : i + size], 4) for i in range(0, len(docs), size)]
    if not parts:
        return
    if order == 1:
        parts.reverse()
    acc = parts[0]
    for p in parts[1:]:
        acc = ng.merge_counts(acc, p) if order != 2 else ng.merge_counts(p, acc)
    assert table_dict(acc) == dict(count_ngrams(docs, 4))


def test_spilled_runs_merge_to_exact_counts(sample_lines, tmp_path):
    whole = ng.count_batch(sample_lines, 4)
    spill = ng.SpillPolicy(str(tmp_path), max_bytes=50_000)
    acc = None
    for i in range(0, len(sample_lines), 40):
        part = ng.count_batch(sample_lines[i : i + 40], 4, spill)
        acc = part if acc is None else ng.merge_counts(acc, part)
    assert len(acc.runs) > 3 and list(tmp_path.iterdir())
    for min_count in (1, 3):
        spilled = ng.finish_counts(acc, min_count, chunk=777)
        direct = ng.finish_counts(whole, min_count)
        for n in (2, 3, 4):
            assert np.array_equal(spilled[n][0], direct[n][0])
            assert np.array_equal(spilled[n][1], direct[n][1])


@settings(max_examples=100, deadline=None)
@given(st.sets(st.integers(0, 2**64 - 1), max_size=300), st.lists(st.integers(0, 2**64 - 1), max_size=300))
def test_keyset_index_is_exact(members, probes):
    keys = np.array(sorted(members), dtype=np.uint64)
    ks = ng.KeySet(keys)
    probe = np.array(probes + sorted(members)[:50], dtype=np.uint64)
    expected = [sorted(members).index(p) if p in members else -1 for p in probe.tolist()]
    assert ks.index(probe).tolist() == expected


def test_clause_characters_and_vocabulary():
    clauses = ng.encode(["ab，天气。", "", "Ｚ9\U00020000x y"])
    assert clauses.codes.tobytes().decode("utf-32-le") == "ab天气Ｚ9\U00020000xy"
    assert clauses.starts.tolist() == [True, False, True, False, True, False, False, False, True]
    assert clauses.remaining.tolist() == [2, 1, 2, 1, 4, 3, 2, 1, 1]
    vocab = ng.Vocabulary(np.array([0x20000], dtype=np.uint32))
    assert vocab.word(vocab.key("天\U00020000"), 2) == "天\U00020000"
    assert vocab.key("天。") is None
    assert ng.BMP_IDS == 28221


# -- the whole algorithm ----------------------------------------------------------------

SAMPLE_SETTINGS = [
    dict(min_count=3),
    dict(min_count=2, min_pmi=(1.0, 2.0, 3.0)),
    dict(min_count=5, max_n=3),
    dict(min_count=2, max_n=2, min_pmi=(0.5,)),
    dict(min_count=2, min_pmi=(0.0, 0.0, 0.0), min_len=1),
    dict(min_count=3, min_entropy=1.0, top=40),
]


@pytest.mark.parametrize("kw", SAMPLE_SETTINGS)
def test_pipeline_equals_reference_on_sample(sample_lines, kw):
    ref = reference_discover(sample_lines, **kw)
    fast = discover_documents(sample_lines, DiscoverOptions(**kw)).words
    same_rows(fast, ref)
    assert len(ref) > 30


def test_long_words_emerge_by_chaining(sample_lines):
    kw = dict(min_count=2, max_n=2, min_pmi=(0.5,))
    words = discover_documents(sample_lines, DiscoverOptions(**kw)).words
    assert any(len(w.word) > 3 for w in words)  # the path for words longer than max_n is used


def test_identical_for_workers_1_and_2_and_any_batching(sample_lines, tmp_path):
    opts = DiscoverOptions(min_count=2, min_pmi=(1.0, 2.0, 3.0))
    one = discover(split_batches(sample_lines, 1000), opts, workers=1).words
    two = discover(split_batches(sample_lines, 97), opts, workers=2).words
    spilled = discover(split_batches(sample_lines, 50), opts, workers=2, max_table_bytes=30_000,
                       spill_dir=str(tmp_path)).words
    assert one == two == spilled
    assert list(tmp_path.iterdir()) == []  # spill folder removed


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(texts, st.integers(2, 4), st.sampled_from([(0.0, 0.0, 0.0), (0.5, 1.0, 1.5), (2.0, 4.0, 6.0)]),
       st.integers(1, 3), st.integers(1, 7))
def test_pipeline_equals_reference_on_generated_text(docs, max_n, pmi, min_len, size):
    kw = dict(min_count=2, max_n=max_n, min_pmi=pmi[: max_n - 1], min_len=min_len)
    ref = reference_discover(docs, **kw)
    fast = discover(split_batches(docs, size), DiscoverOptions(**kw)).words
    same_rows(fast, ref)


def test_output_order_and_statistics(sample_lines):
    words = discover_documents(sample_lines, DiscoverOptions(min_count=3)).words
    keys = [(-w.count, w.word) for w in words]
    assert keys == sorted(keys)
    assert all(w.cohesion >= 2.0 and w.left_entropy >= 0 and w.right_entropy >= 0 for w in words)


def test_new_only_drops_known_words(sample_lines):
    opts = DiscoverOptions(min_count=3)
    all_words = discover_documents(sample_lines, opts).words
    known = {w.word for w in all_words[::2]}
    kept = discover_documents(sample_lines, opts, known=known.__contains__).words
    assert kept == [w for w in all_words if w.word not in known]


def test_save_dict_format(sample_lines, tmp_path):
    words = discover_documents(sample_lines, DiscoverOptions(min_count=3, top=5)).words
    path = tmp_path / "user.dict"
    with open(path, "w", encoding="utf-8") as fh:
        assert write_user_dict(fh, words) == 5
    # each word's count, or more where jieba needs more to keep it whole (jieba's own suggest_freq)
    from textkit.tokenize import TokenizerSpec, _segmenter_for

    jieba = _segmenter_for(TokenizerSpec())
    assert path.read_text(encoding="utf-8").splitlines() == [
        f"{w.word} {max(w.count, jieba.suggest_freq(w.word))}" for w in words]


# -- bad input ------------------------------------------------------------------------


@pytest.mark.parametrize("docs", [[], [""], ["abc, def! 12 ab ab ab"], ["。。。", "!!"]])
def test_empty_or_no_han_input_gives_empty_result_and_a_note(docs, caplog):
    with caplog.at_level(logging.INFO, logger="textkit"):
        result = discover_documents(docs, DiscoverOptions())
    assert result.words == [] and reference_discover(docs, 2) == []
    assert "no Han characters" in caplog.text


def test_min_count_above_every_count_gives_empty_result(sample_lines, caplog):
    with caplog.at_level(logging.INFO, logger="textkit"):
        result = discover_documents(sample_lines, DiscoverOptions(min_count=10**6))
    assert result.words == []
    assert "output is empty" in caplog.text


@pytest.mark.parametrize("kw", [
    dict(max_n=1), dict(max_n=5), dict(min_count=0), dict(min_pmi=(1.0, 2.0)),
    dict(min_pmi=(1.0, float("nan"), 2.0)), dict(min_entropy=-0.1), dict(min_entropy=float("inf")),
    dict(min_len=0), dict(top=0),
])
def test_invalid_thresholds_raise_usage_error(kw):
    with pytest.raises(UsageError):
        DiscoverOptions(**kw)


def test_default_min_count_scales_with_corpus_size():
    assert [default_min_count(n) for n in (0, 10**6, 8_251_531, 10**8, 660 * 10**6)] == [2, 2, 4, 14, 37]
    values = [default_min_count(n) for n in range(0, 10**9, 10**7)]
    assert values == sorted(values)
    result = discover_documents(["今天天气不错"] * 50, DiscoverOptions())
    assert result.min_count == 2


def test_large_partials_travel_as_memory_mapped_files(sample_lines, tmp_path, monkeypatch):
    import pickle

    monkeypatch.setattr(ng, "SHIP_BYTES", 0)
    part = ng.count_batch(sample_lines[:200], 4, ng.SpillPolicy(str(tmp_path)))
    back = pickle.loads(pickle.dumps(part))
    assert len(list(tmp_path.iterdir())) == 6  # keys and counts for n = 2, 3, 4
    assert isinstance(back.tables[4][0], np.memmap)
    assert table_dict(back) == table_dict(part)
    merged = ng.merge_counts(back, ng.count_batch(sample_lines[200:], 4))
    assert table_dict(merged) == dict(count_ngrams(sample_lines, 4))


def test_entropy_is_minus_sum_p_log_p_and_exactly_zero_for_one_neighbour():
    from textkit.discovery import entropy_of

    rng = np.random.default_rng(3)
    counts = rng.integers(1, 50, size=40)
    groups = np.sort(rng.integers(0, 6, size=40))
    boundary = rng.random(40) < 0.2
    got = entropy_of(counts, boundary, groups, 7)
    for g in range(7):  # independent: a boundary row of count c is c distinct neighbours of one occurrence
        probs = []
        for c, b in zip(counts[groups == g], boundary[groups == g]):
            probs.extend([1] * int(c) if b else [int(c)])
        total = sum(probs)
        want = -sum(p / total * math.log(p / total) for p in probs) if total else 0.0
        assert got[g] == pytest.approx(want, abs=1e-12)
    one = entropy_of(np.array([39, 7]), np.array([False, False]), np.array([0, 1]), 2)
    assert one.tolist() == [0.0, 0.0]  # not 4e-16: printed as 0, and --min-entropy 0 thresholds hold


def test_one_pmi_threshold_for_every_length():
    from textkit.discovery import DiscoverOptions

    assert DiscoverOptions(min_pmi=3.0).min_pmi == (3.0, 3.0, 3.0)
    assert DiscoverOptions(max_n=2, min_pmi=1).min_pmi == (1.0,)
    assert DiscoverOptions(min_pmi=3.0).thresholds() == DiscoverOptions(min_pmi=(3.0, 3.0, 3.0)).thresholds()


# -- from the discover audit -----------------------------------------------------------


@pytest.mark.parametrize("kw", [
    dict(max_n="4"), dict(min_count="5"), dict(min_count=2.5), dict(min_len=2.5), dict(top=1.5),
    dict(top=True), dict(min_pmi=True), dict(min_pmi=("1", 2.0, 3.0)), dict(min_entropy="1"),
])
def test_options_of_the_wrong_type_raise_type_error(kw):
    with pytest.raises(TypeError):
        DiscoverOptions(**kw)


def test_numpy_numbers_and_lists_are_options():
    opts = DiscoverOptions(max_n=np.int64(3), min_count=np.int32(2), min_pmi=[1, np.float64(2.0)], top=np.int64(4))
    assert (opts.max_n, opts.min_count, opts.min_pmi, opts.top) == (3, 2, (1.0, 2.0), 4)
    assert type(opts.max_n) is int and type(opts.top) is int


def test_one_string_is_not_a_list_of_documents():
    with pytest.raises(TypeError, match=r"\[text\]"):
        discover_documents("蝙蝠侠超人朋友，蝙蝠侠超人朋友")


def test_workers_zero_means_all_cores_and_negative_is_refused(sample_lines):
    opts = DiscoverOptions(min_count=3)
    assert discover_documents(sample_lines, opts, workers=0).words == discover_documents(sample_lines, opts).words
    with pytest.raises(UsageError):
        discover_documents(sample_lines, opts, workers=-1)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=ALPHABET, max_size=200), st.integers(1, 30))
def test_split_long_keeps_every_clause_whole(text, limit):
    pieces = ng.split_long(text, limit)
    assert "".join(pieces) == text and (all(pieces) or pieces == [""])
    assert clause_list(pieces) == clause_list([text])
    for piece in pieces:  # a piece is longer than the limit only to keep a clause whole
        if len(piece) > limit:
            assert max(len(c) for c in clause_list([piece])) >= limit


def clause_list(docs):
    from .discovery_reference import clauses

    return [c for c in clauses(docs)]


def test_a_line_longer_than_a_batch_is_cut_between_clauses_with_the_same_result(sample_lines, monkeypatch):
    import textkit.discovery as discovery

    one_line = ["。".join(sample_lines)]  # the whole sample as one document
    kw = dict(min_count=2, min_pmi=(1.0, 2.0, 3.0))
    seen = []
    monkeypatch.setattr(discovery, "BATCH_CHARS", 2_000)
    real_count = discovery._count_task
    monkeypatch.setattr(discovery, "_count_task", lambda item: seen.append(sum(map(len, item[0]))) or real_count(item))
    fast = discover(lambda: iter([one_line]), DiscoverOptions(**kw)).words
    assert len(seen) > 10 and max(seen) <= 2_000 + 100  # batches stay near BATCH_CHARS
    same_rows(fast, reference_discover(one_line, **kw))


def test_save_dict_warns_about_words_jieba_splits_apart(tmp_path, caplog):
    from textkit.discovery import Word

    words = [Word(w, 5, 3.0, 1.0, 1.0) for w in ("iPhone手机", "新词", "ＡＢＣ公司", "㐀㐁㐂")]
    with caplog.at_level(logging.WARNING, logger="textkit"), open(tmp_path / "d", "w", encoding="utf-8") as fh:
        assert write_user_dict(fh, words, "new.dict") == 4
    assert "new.dict: 2 words (e.g. 'ＡＢＣ公司')" in caplog.text
    assert (tmp_path / "d").read_text(encoding="utf-8").count("\n") == 4  # written all the same


def test_empty_output_says_which_filter_emptied_it(sample_lines, caplog):
    opts = DiscoverOptions(min_count=3)
    every = {w.word for w in discover_documents(sample_lines, opts).words}
    with caplog.at_level(logging.WARNING, logger="textkit"):
        assert discover_documents(sample_lines, opts, known=every.__contains__).words == []
    assert f"the dictionary already holds all {len(every)} words" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="textkit"):
        assert discover_documents(sample_lines, DiscoverOptions(min_count=3, min_entropy=50)).words == []
    assert f"none of the {len(every)} words that pass them reaches min_entropy 50" in caplog.text


@pytest.mark.parametrize("error, says", [
    (OSError(28, "No space left on device"), r"\(No space left on device\)"),
    (OSError("194313 requested and 89584 written"), r"is the disk full\?"),  # numpy's own words
])
def test_a_full_spill_folder_is_one_error_naming_it(sample_lines, tmp_path, monkeypatch, error, says):
    from textkit.errors import TextkitError

    def short_write(path, array):
        raise error

    monkeypatch.setattr(ng, "write_npy", short_write)
    opts = DiscoverOptions(min_count=2, min_pmi=(1.0, 2.0, 3.0))
    with pytest.raises(TextkitError, match=r"cannot write temporary n-gram tables .*" + says) as err:
        discover(split_batches(sample_lines, 50), opts, max_table_bytes=30_000, spill_dir=str(tmp_path))
    assert str(err.value).startswith(str(tmp_path))
    assert list(tmp_path.iterdir()) == []  # the spill folder is removed


def test_runs_in_two_threads_equal_runs_one_after_the_other(sample_lines):
    """Pass 2 keeps its tables where its tasks find them; two runs in threads of one process
    (workers=1: the tasks run here) must not read each other's."""
    from .conftest import run_in_threads

    halves = [sample_lines[: len(sample_lines) // 2], sample_lines[len(sample_lines) // 2:]]
    opts = DiscoverOptions(min_count=2, min_pmi=(1.0, 2.0, 3.0))
    alone = [discover(split_batches(half, 20), opts).words for half in halves]
    together = run_in_threads(*(lambda half=half: discover(split_batches(half, 20), opts).words for half in halves))
    assert together == alone
