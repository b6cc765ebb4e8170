"""textkit: streaming corpus analytics for Chinese text.

The public Python API; names load on first use, so ``import textkit`` imports
no jieba, no POT and no numpy.

>>> from textkit import Corpus, TokenizerSpec, count_words
>>> table = count_words(Corpus(["data/samples/nahan.txt"]), TokenizerSpec())
>>> table.rows(top=1)
[('的', 2458)]

Word vectors, transport distances, whitening and search::

    v = open_vectors()                               # the bundled store (or a path)
    v.nearest("手机", k=5)
    tokens = get_tokenizer(TokenizerSpec()).tokens
    wrd(tokens("物流很快"), tokens("发货速度快"), v)   # Word Rotator's Distance, in [0, 2]
    wmd(tokens("物流很快"), tokens("发货速度快"), v)   # Word Mover's Distance
    index = SearchIndex.from_texts(lines, v, tokens)
    from textkit.search import search                # (the name textkit.search is the module)
    search(index, tokens("物流很快"), k=3).hits
"""

import logging as _logging
from importlib import import_module as _import_module

# The library never prints: its notes and warnings go to the "textkit" logger, which
# shows nothing until the application configures logging (the CLI sends them to stderr).
_logging.getLogger("textkit").addHandler(_logging.NullHandler())

__version__ = "0.1.0"

_EXPORTS = {
    "Corpus": "corpus",
    "TokenizerSpec": "tokenize",
    "get_tokenizer": "tokenize",
    "count_words": "counting",
    "read_counts": "counting",
    "merge_count_files": "counting",
    "WordCounts": "counting",
    "TextkitError": "errors",
    "UsageError": "errors",
    "CorpusError": "errors",
    "VectorsError": "errors",
    "DataError": "errors",
    "WorkerError": "errors",
    "EmptyBagError": "transport",
    "open_vectors": "vectors",
    "Vectors": "vectors",
    "wmd": "transport",
    "wrd": "transport",
    "Transport": "transport",
    "score_pairs": "transport",
    "SentenceEncoder": "sentences",
    "Whitening": "whitening",
    "SearchIndex": "search",
    "discover_corpus": "discovery",
    "discover_documents": "discovery",
    "train_vectors": "vector_training",
    "TrainingOptions": "vector_training",
    "EncoderSpec": "sentences",
    "fit_whitening": "sentences",
    "evaluate_pairs": "evaluate",
    "PairJob": "pair_scoring",
    "score_pairs_file": "pair_scoring",
    "search_queries": "search",
    "DiscoverOptions": "discovery",
}


def __getattr__(name):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'textkit' has no attribute {name!r}")
    return getattr(_import_module(f"textkit.{module}"), name)


def __dir__():
    return sorted(set(globals()) | set(_EXPORTS))


__all__ = sorted(_EXPORTS)
