"""textkit: streaming corpus analytics for Chinese text.

The public Python API; names load on first use, so ``import textkit`` imports
no jieba, no POT and no numpy.

>>> from textkit import Corpus, TokenizerSpec, count_words
>>> table = count_words(Corpus(["data/samples/nahan.txt"]), TokenizerSpec())   # doctest: +SKIP
>>> table.rows(top=1)                                                           # doctest: +SKIP
[('的', 4236)]
"""

from importlib import import_module

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
}


def __getattr__(name):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'textkit' has no attribute {name!r}")
    return getattr(import_module(f"textkit.{module}"), name)


__all__ = sorted(_EXPORTS)
