"""Word counts: per-batch tables over the pool, exact merge, deterministic order, count files.

Counting is a map-reduce: each batch of documents becomes a table
``word -> occurrences`` (and, with ``df``, ``word -> documents containing it``);
tables merge by addition, which is associative and commutative, so the result is
the same for any number of workers and any batch size. Rows are ordered by count
descending, then by word in code-point order; that order is total, so the
output bytes never depend on scheduling.

Count files are what ``textkit count`` writes: TSV ``word<TAB>count[<TAB>df]``
(optionally with a header), CSV with a header, or JSON Lines objects with
``word``/``count``/``df`` keys; :func:`read_counts` reads all three.
"""

from __future__ import annotations

import csv
import itertools
import json
import logging
import os
import sys
from collections import Counter
from dataclasses import dataclass, field
from typing import Iterable, List, Optional, Sequence, Tuple

from . import pool
from .corpus import Corpus, check_corpus, open_text
from .errors import DataError, UsageError, whole_number
from .tokenize import TokenizerSpec, as_tokenizer_spec, get_tokenizer

log = logging.getLogger("textkit")

BATCH_CHARS = 200_000


@dataclass
class WordCounts:
    """Occurrences per word, documents per word (when asked for) and documents seen."""

    counts: Counter = field(default_factory=Counter)
    df: Optional[Counter] = None
    documents: int = 0

    def merge(self, other: "WordCounts") -> "WordCounts":
        """Add ``other`` into this table (in place) and return it."""
        self.counts.update(other.counts)
        if self.df is not None and other.df is not None:
            self.df.update(other.df)
        elif other.df is not None or self.df is not None:
            self.df = None  # a table without df cannot give a df total
        self.documents += other.documents
        return self

    def rows(self, top: Optional[int] = None, min_count: int = 1) -> List[Tuple]:
        """``(word, count[, df])`` by count descending then word, filtered and cut to ``top``."""
        if top is not None and whole_number(top, "top") < 1:
            raise UsageError(f"top must be at least 1, got {top}")
        min_count = whole_number(min_count, "min_count")
        items = [(w, c) for w, c in self.counts.items() if c >= min_count]
        items.sort(key=lambda wc: (-wc[1], wc[0]))
        if top is not None:
            items = items[:top]
        if self.df is None:
            return items
        return [(w, c, self.df[w]) for w, c in items]

    def columns(self) -> Tuple[str, ...]:
        return ("word", "count", "df") if self.df is not None else ("word", "count")


def count_batch(task: Tuple[TokenizerSpec, bool, List[str]]) -> WordCounts:
    """Counts of one batch: ``task`` is (tokenizer spec, with document frequency?, documents)."""
    spec, with_df, docs = task
    tok = get_tokenizer(spec)
    if with_df:
        counts, df, n = tok.count_with_df(docs)
        return WordCounts(counts, df, n)
    return WordCounts(tok.count(docs), None, len(docs))


def merge_counts(a: WordCounts, b: WordCounts) -> WordCounts:
    """Associative, commutative merge of two partial tables: ``a`` with ``b`` added, in place."""
    return a.merge(b)


def _prepare(spec: TokenizerSpec) -> None:
    get_tokenizer(spec)


def count_words(
    corpus: Corpus,
    spec: Optional[TokenizerSpec] = None,
    *,
    workers: int = 1,
    df: bool = False,
    batch_chars: int = BATCH_CHARS,
) -> WordCounts:
    """Count the tokens of every document of ``corpus`` (see the module docstring).

    ``spec`` defaults to jieba's accurate mode with the default filters. The
    tokenizer is built here first, so forked workers share its dictionary.
    """
    check_corpus(corpus, "count_words")
    workers = pool.resolve_workers(workers)
    spec = as_tokenizer_spec(spec)
    _prepare(spec)
    tasks = ((spec, df, batch) for batch in corpus.batches(max_chars=batch_chars))
    result = pool.map_reduce(
        count_batch, merge_counts, tasks, workers=workers, initializer=_prepare, initargs=(spec,)
    )
    if result is None:
        return WordCounts(Counter(), Counter() if df else None, 0)
    return result


# -- count files -------------------------------------------------------------

_MAX_COUNT_DIGITS = 30  # far above any corpus (2^64 has 20 digits); sums of many stay printable


def _int_field(value: str, where: str, name: str) -> int:
    """A count as ``textkit count`` writes it: ASCII digits only (not "+5", " 6", "5_000" or "٥")."""
    if value.startswith("-") and value[1:].isascii() and value[1:].isdigit():
        raise DataError(f"{where}: {name} {value} is negative")
    if not (value.isascii() and value.isdigit()):
        raise DataError(f"{where}: {name} {value!r} is not a whole number")
    digits = value.lstrip("0") or "0"  # int() counts leading zeros against its limit of 4,300 digits
    if len(digits) > _MAX_COUNT_DIGITS:  # Python refuses to read (and print) such numbers
        raise DataError(f"{where}: {name} {value[:12]}... has {len(value):,} digits; not a count")
    return int(digits)


def _parse_rows(path: str) -> Iterable[Tuple[str, Sequence[str]]]:
    """(location, [word, count, df?]) for each data row of a count file, its format told by content."""
    name = "<stdin>" if path == "-" else path
    with open_text(path, raw=True) as fh:  # raw: a CSV word may hold "\r\n", and the first word be U+FEFF
        lines = iter(fh)
        head: List[str] = []
        for line in lines:  # up to the first line that is not blank
            head.append(_without_bom(line) if not head else line)
            if line.strip():
                break
        kind = _count_file_kind(path, head[-1] if head else "")
        lines = itertools.chain(head, lines)
        if kind == "jsonl":
            yield from _jsonl_rows(name, lines)
            return
        if kind == "csv":
            rows = _csv_rows(name, lines)
        else:
            rows = (line.rstrip("\r\n").split("\t") for line in lines)
        header_seen = False
        for lineno, row in enumerate(rows, 1):
            if not row or row == [""]:
                continue
            if not header_seen and row[:2] == ["word", "count"]:
                header_seen = True
                continue
            header_seen = True
            yield f"{name}:{lineno}", row


def _without_bom(first: str) -> str:
    """The first line of a count file without its byte-order mark.

    A U+FEFF right before a field separator is the first word, not a mark: ``count
    --keep-punct`` keeps that character as a word, and it may come first.
    """
    if first.startswith("\ufeff") and not first.startswith(("\ufeff\t", "\ufeff,")):
        return first[1:]
    return first


def _csv_rows(name: str, lines: Iterable[str]) -> Iterable[List[str]]:
    """The rows of CSV lines; a line that is not CSV is a DataError naming it.

    Fields may be as long as a line (count writes words of any length; csv's
    default cap is 128 KiB).  The cap is process-wide: it is raised while a row is
    read and put back before the row is handed out.
    """
    reader = csv.reader(lines)
    while True:
        caller_limit = csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            reason = str(exc).split(" - ")[0]  # without csv's advice about newline modes
            raise DataError(f"{name}:{reader.line_num}: not a CSV row ({reason})") from None
        finally:
            csv.field_size_limit(caller_limit)
        yield row


def _json_hint(row: Sequence[str]) -> str:
    """For a one-field row that is JSON: why it was not read as JSON Lines (else "")."""
    if len(row) != 1 or not row[0].lstrip().startswith(("{", "[")):
        return ""
    try:
        json.loads(row[0])
    except (ValueError, RecursionError):
        return ""
    return ' (JSON, but not a count row: JSON Lines count files hold {"word": ..., "count": ...})'


def _count_file_kind(path: str, first: str) -> str:
    """"jsonl", "csv" or "tsv" for a count file whose first non-blank line is ``first``.

    A JSON object with a word is JSON Lines (a TSV word may start with "{"); a line
    with a tab is TSV; a ``.csv`` name, the CSV header, or a line that reads as CSV
    ``word,count[,df]`` without a tab is CSV; anything else is TSV.
    """
    text = first.strip()
    if text.startswith("{"):
        try:
            obj = json.loads(text)
        except (ValueError, RecursionError):  # RecursionError: arrays nested thousands deep
            obj = None
        if isinstance(obj, dict) and "word" in obj:
            return "jsonl"
    if "\t" in first:
        return "tsv"
    base = path.lower()
    for ending in (".gz", ".bz2", ".xz"):
        base = base[: -len(ending)] if base.endswith(ending) else base
    if base.endswith(".csv") or text in ("word,count", "word,count,df"):
        return "csv"
    if "," in text:
        try:
            row = next(csv.reader([text]), [])
        except csv.Error:  # e.g. a field over the csv module's size limit: not a count row anyway
            row = []
        if len(row) in (2, 3) and all(field.strip().isdigit() for field in row[1:]):
            return "csv"
    return "tsv"


def _jsonl_rows(name: str, lines: Iterable[str]) -> Iterable[Tuple[str, Sequence[str]]]:
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        where = f"{name}:{lineno}"
        try:
            obj = json.loads(line)
            row = [obj["word"], obj["count"]] + ([obj["df"]] if "df" in obj else [])
        except (ValueError, KeyError, TypeError, RecursionError):
            raise DataError(f"{where}: expected a JSON object with word and count") from None
        if not isinstance(row[0], str):
            raise DataError(f"{where}: word {row[0]!r} is not a string")
        try:
            row[0].encode("utf-8")
        except UnicodeEncodeError:
            raise DataError(f"{where}: word {row[0]!r} holds a lone surrogate, not text") from None
        for value, what in zip(row[1:], ("count", "df")):
            if not isinstance(value, int) or isinstance(value, bool):  # shown as the file holds it
                raise DataError(f"{where}: {what} {json.dumps(value, ensure_ascii=False)} is not a whole number")
        yield where, [str(v) for v in row]


def read_counts(path: str) -> WordCounts:
    """A count file (TSV, CSV or JSON Lines as written by ``textkit count``) as a table.

    Raises :class:`DataError` naming the line for a malformed row or a word listed twice.
    """
    path = os.fspath(path)  # a pathlib.Path too
    counts: Counter = Counter()
    df: Optional[Counter] = Counter()
    seen_df_column: Optional[bool] = None
    for where, row in _parse_rows(path):
        if len(row) not in (2, 3):
            raise DataError(f"{where}: expected word, count and optionally df, got {len(row)} fields"
                            f"{_json_hint(row)}")
        word = row[0]
        if not word:
            raise DataError(f"{where}: a row without a word")
        if word in counts:
            raise DataError(f"{where}: word {word!r} listed twice")
        counts[word] = _int_field(row[1], where, "count")
        has_df = len(row) == 3
        if seen_df_column is None:
            seen_df_column = has_df
        elif seen_df_column != has_df:
            raise DataError(f"{where}: some rows have a df column and some do not")
        if has_df and df is not None:
            df[word] = _int_field(row[2], where, "df")
            if df[word] > counts[word]:
                raise DataError(f"{where}: df {df[word]} is larger than the count {counts[word]} "
                                "(a word is in at most as many documents as it occurs)")
    return WordCounts(counts, df if seen_df_column else None, 0)


def merge_count_files(paths: Sequence[str]) -> WordCounts:
    """The sum of several count files (df summed only when every file has it).

    ``paths``: one path or several (files, directories, glob patterns; ``-`` for stdin).
    """
    paths = [str(paths)] if isinstance(paths, (str, os.PathLike)) else [str(p) for p in paths]
    if not paths:
        raise UsageError("give at least one count file")
    if list(paths).count("-") > 1:
        raise UsageError("- (standard input) can be read only once")
    total = WordCounts(Counter(), Counter(), 0)
    with_df, without_df = 0, []
    for path in Corpus(paths).text_files():  # files, directories and glob patterns, as every command takes
        table = read_counts(path)
        if not table.counts:
            continue  # an empty file: no rows, no say on the df column
        if table.df is None:
            without_df.append(path)
        else:
            with_df += 1
        total.merge(table)
    if not with_df:
        total.df = None
    if with_df and without_df:
        log.warning("the df column is left out: %s has none", "<stdin>" if without_df[0] == "-" else without_df[0])
    return total
