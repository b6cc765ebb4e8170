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
    with pytest.raises(TypeError, match="token lists, not strings"):
        textkit.SentenceEncoder(textkit.Vectors(store.words, np.asarray(store.matrix, np.float32))).encode(["a"])
    assert textkit.wrd(words, words, store) == pytest.approx(0.0, abs=1e-12)


def test_corpus_of_one_path_and_count_words_arguments(sample_path):
    one = textkit.count_words(textkit.Corpus(str(sample_path)), workers="auto")  # workers as -j takes them
    listed = textkit.count_words(textkit.Corpus([sample_path]))
    assert one.rows(top=20) == listed.rows(top=20)
    with pytest.raises(TypeError, match="takes a textkit.Corpus"):
        textkit.count_words([str(sample_path)])
    with pytest.raises(textkit.TextkitError, match="--workers"):
        textkit.count_words(textkit.Corpus(str(sample_path)), workers=-1)


def test_transport_opens_vectors_given_by_path(tmp_path):
    from textkit.vectors import save_store

    store = random_store(4)
    save_store(tmp_path / "s", store.words, np.asarray(store.matrix, dtype=np.float32))
    words = store.words[:4]
    assert textkit.wmd(words[:2], words[2:], str(tmp_path / "s")) == pytest.approx(
        textkit.wmd(words[:2], words[2:], textkit.open_vectors(str(tmp_path / "s"))), abs=0)
