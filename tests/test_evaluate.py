"""Correlations against scipy.stats; pairs-file reading and its errors."""

from __future__ import annotations

import gzip
import math

import numpy as np
import pytest
from scipy import stats

from textkit.errors import DataError
from textkit.evaluate import LabelledPair, average_ranks, pearson, read_pairs, spearman


@pytest.mark.parametrize("seed", range(5))
def test_pearson_and_spearman_match_scipy(seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=200)
    y = 0.3 * x + rng.normal(size=200)
    # labels with many ties, like 0/1 or 0-5 STS labels
    labels = rng.integers(0, 6, size=200).astype(float)
    assert pearson(x, y) == pytest.approx(stats.pearsonr(x, y)[0], abs=1e-12)
    assert spearman(x, y) == pytest.approx(stats.spearmanr(x, y)[0], abs=1e-12)
    assert spearman(x, labels) == pytest.approx(stats.spearmanr(x, labels)[0], abs=1e-12)
    assert spearman(np.round(x, 1), labels) == pytest.approx(
        stats.spearmanr(np.round(x, 1), labels)[0], abs=1e-12
    )


def test_average_ranks_match_scipy_rankdata_with_ties():
    values = [3.0, 1.0, 3.0, 2.0, 3.0, 1.0, 7.0]
    np.testing.assert_array_equal(average_ranks(values), stats.rankdata(values))
    assert average_ranks([]).size == 0


def test_correlation_with_a_nan_score_is_nan_as_in_scipy():
    from scipy.stats import pearsonr, spearmanr

    x, y = [float("nan"), 1.0, 2.0, 5.0], [1.0, 2.0, 3.0, 4.0]
    assert math.isnan(spearmanr(x, y)[0]) and math.isnan(pearsonr(x, y)[0])
    assert math.isnan(spearman(x, y)) and math.isnan(spearman(y, x)) and math.isnan(pearson(x, y))


def test_correlation_of_constant_side_is_nan():
    assert math.isnan(pearson([1, 1, 1], [1, 2, 3]))
    assert math.isnan(spearman([1, 2, 3], [0, 0, 0]))
    assert math.isnan(pearson([1], [2]))


def test_perfect_and_inverse_correlation():
    assert spearman([1, 2, 3, 4], [1, 4, 9, 16]) == pytest.approx(1.0)
    assert pearson([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)


def test_length_mismatch_is_an_error():
    with pytest.raises(DataError):
        pearson([1, 2], [1, 2, 3])


def test_read_pairs(tmp_path):
    path = tmp_path / "pairs.tsv"
    path.write_text("\ufeff今天天气好\t天气不错\t1\n\n他走了\t她来了\t0.5\n", encoding="utf-8")
    assert read_pairs(str(path)) == [
        LabelledPair(1, "今天天气好", "天气不错", 1.0),
        LabelledPair(3, "他走了", "她来了", 0.5),
    ]


def test_read_pairs_compressed(tmp_path):
    path = tmp_path / "pairs.tsv.gz"
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        fh.write("a\tb\t3\n")
    assert read_pairs(str(path)) == [LabelledPair(1, "a", "b", 3.0)]


@pytest.mark.parametrize(
    "bad, message",
    [
        ("a\tb\t1\nonly two\tfields\n", r"bad.tsv:2: expected 3 tab-separated fields"),
        ("a\tb\t1\nx\ty\t0\textra\n", r"bad.tsv:2: expected 3"),
        ("a\tb\t1\nc\td\thigh\n", r"bad.tsv:2: label 'high' is not a number"),
        ("s1\ts2\tlabel\na\tb\t1\n", r"bad.tsv:1: label 'label' is not a number"),
        ("a\tb\tnan\n", r"bad.tsv:1: label 'nan' is not a finite number"),
        ("\n\n", r"no labelled pairs"),
    ],
)
def test_read_pairs_names_the_bad_line(tmp_path, bad, message):
    path = tmp_path / "bad.tsv"
    path.write_text(bad, encoding="utf-8")
    with pytest.raises(DataError, match=message) as info:
        read_pairs(str(path))
    assert "bad.tsv" in str(info.value)
    assert "\n" not in str(info.value)


def test_read_pairs_names_the_file_of_a_folder_that_holds_the_bad_line(tmp_path):
    folder = tmp_path / "pairs"
    folder.mkdir()
    (folder / "a.tsv").write_text("a\tb\t1\n", encoding="utf-8")
    (folder / "b.tsv").write_text("a\tb\t1\nonly two\tfields\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"pairs/b\.tsv:2: expected 3 tab-separated fields"):
        read_pairs(str(folder))


def test_cosine_of_identical_rows_is_exactly_one_and_of_opposite_rows_minus_one():
    """The float quotient misses ±1 by rounding noise that differs from vector to vector, which
    would rank mathematically tied pairs (same bag of words) by that noise."""
    from textkit.sentences import EMPTY_COSINE, cosine_rows

    rng = np.random.default_rng(7)
    a = rng.normal(size=(300, 24)) * rng.uniform(0.1, 10, size=(300, 1))
    naive = np.einsum("ij,ij->i", a, a) / (np.linalg.norm(a, axis=1) ** 2)
    assert (naive != 1.0).any()  # the noise this guards against is there
    assert (cosine_rows(a, a) == 1.0).all()
    assert (cosine_rows(a, -a) == -1.0).all()
    b = rng.normal(size=a.shape)
    want = np.einsum("ij,ij->i", a, b) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    np.testing.assert_allclose(cosine_rows(a, b), want, rtol=0, atol=1e-15)
    a[3] = 0.0
    assert cosine_rows(a, a)[3] == EMPTY_COSINE


def test_eval_and_sim_tie_texts_with_the_same_words(tmp_path):
    """A text and any reordering of it have one sentence vector: such pairs score exactly 1 in
    ``eval`` and in ``sim --pairs``, so they are ranked as ties, not by rounding noise."""
    from textkit.evaluate import evaluate_pairs
    from textkit.pair_scoring import PairJob, score_pairs_file
    from textkit.sentences import EncoderSpec, SentenceEncoder
    from textkit.tokenize import TokenizerSpec
    from textkit.vectors import open_vectors, save_store

    rng = np.random.default_rng(3)
    words = [f"w{i}" for i in range(40)]
    save_store(tmp_path / "store", words, rng.normal(size=(40, 48)).astype(np.float32))
    texts = [list(rng.choice(words, size=rng.integers(2, 7))) for _ in range(200)]
    lines = [f"{' '.join(t)}\t{' '.join(rng.permutation(t))}\t{k % 2}" for k, t in enumerate(texts)]
    (tmp_path / "same.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    rows = SentenceEncoder(open_vectors(tmp_path / "store")).encode(texts).matrix.astype(np.float64)
    assert (np.einsum("ij,ij->i", rows, rows) / np.linalg.norm(rows, axis=1) ** 2 != 1.0).any()

    whitespace = TokenizerSpec(kind="whitespace")
    result = evaluate_pairs(tmp_path / "same.tsv", EncoderSpec(tokenizer=whitespace, vectors=str(tmp_path / "store")))
    assert (result.scores == 1.0).all() and math.isnan(result.spearman)  # all tied: no ranking
    job = PairJob(str(tmp_path / "store"), whitespace, metric="cosine")
    assert {score for _, _, score, _ in score_pairs_file(str(tmp_path / "same.tsv"), job)} == {1.0}


@pytest.mark.parametrize("scale", [1e-300, 1e-160, 1.0, 1e160, 1e300])
def test_pearson_of_tiny_or_huge_scores_matches_scipy(scale):
    x = np.array([1.0, -1.0, 0.0, 2.5]) * scale
    y = [1.0, 2.0, 4.0, 3.0]
    assert pearson(x, y) == pytest.approx(stats.pearsonr(x / scale, y)[0], abs=1e-12)
    assert math.isnan(pearson([scale] * 4, y))


def test_the_oov_rate_counts_the_tokens_the_scores_drop():
    """With oov "split" a token whose pieces have vectors is not lost; the rate said it was."""
    from textkit import EncoderSpec, TokenizerSpec, evaluate_pairs, get_tokenizer, open_vectors

    rows = [("定期存款利率很高", "存款利率不低", 1.0), ("借款很快到账", "贷款到账很快", 1.0), ("物流很快", "手机不错", 0.0)]
    tokens = [t for s1, s2, _ in rows for text in (s1, s2) for t in get_tokenizer(TokenizerSpec()).tokens(text)]
    unknown = [t for t in tokens if t not in open_vectors()]
    assert unknown  # 定期存款, 借款: the case in point
    dropped = evaluate_pairs(rows, EncoderSpec(), method="wmd", oov="drop")
    split = evaluate_pairs(rows, EncoderSpec(), method="wmd", oov="split")
    assert dropped.oov_rate == pytest.approx(len(unknown) / len(tokens))
    assert split.oov_rate == 0.0  # every unknown token here has known pieces


def test_evaluate_pairs_without_encoder_settings_applies_saved_whitening_as_fitted(tmp_path):
    """spec None or a TokenizerSpec, with fit_on saved parameters: the sentence vectors of the fit
    (pooling, SIF and its a); an EncoderSpec is used as given."""
    from textkit.corpus import Corpus
    from textkit.evaluate import evaluate_pairs
    from textkit.sentences import EncoderSpec, fit_whitening
    from textkit.tokenize import TokenizerSpec
    from textkit.vectors import open_vectors

    words = [w for w in open_vectors().words[:400] if w.isalpha()][:40]
    rng = np.random.default_rng(3)
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("".join(" ".join(rng.choice(words, 6)) + "\n" for _ in range(300)), encoding="utf-8")
    tokenizer = TokenizerSpec(kind="whitespace")
    fitted = EncoderSpec(tokenizer=tokenizer, pooling="raw", weighting="sif", sif_a=0.05)
    params = tmp_path / "p.npz"
    fit_whitening(Corpus([str(corpus)]), fitted, n_components=4).save(params)
    pairs = [(" ".join(rng.choice(words, 4)), " ".join(rng.choice(words, 4)), i % 5) for i in range(40)]

    def scores(spec):
        return evaluate_pairs(pairs, spec, method="whiten", fit_on=str(params)).scores

    np.testing.assert_array_equal(scores(tokenizer), scores(fitted))
    assert not np.allclose(scores(EncoderSpec(tokenizer=tokenizer)), scores(fitted))
