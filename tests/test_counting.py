"""Word counting: equal to the naive loop for any -j and batch size; count files; merge."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from textkit.corpus import Corpus
from textkit.counting import WordCounts, count_words, merge_count_files, read_counts
from textkit.errors import DataError
from textkit.tokenize import TokenizerSpec

from .test_tokenize import _TEXT, naive_tokens


def naive_counts(lines, spec):
    counts, df = Counter(), Counter()
    for line in lines:
        toks = naive_tokens(line, spec)
        counts.update(toks)
        df.update(set(toks))
    return counts, df


@pytest.mark.parametrize("workers,batch_chars", [(1, 200_000), (2, 5_000), (2, 1), (3, 50_000)])
def test_counts_equal_naive_for_any_workers_and_batches(sample_path, sample_lines, workers, batch_chars):
    spec = TokenizerSpec()
    expected, expected_df = naive_counts(sample_lines, spec)
    table = count_words(Corpus([str(sample_path)]), spec, workers=workers, batch_chars=batch_chars)
    assert table.counts == expected
    assert table.documents == len(sample_lines)
    with_df = count_words(Corpus([str(sample_path)]), spec, workers=workers, df=True,
                          batch_chars=batch_chars)
    assert with_df.counts == expected and with_df.df == expected_df


def test_counts_of_the_shared_gzip_corpus_equal_naive(shared_data, tmp_path):
    """Real reviews and abstracts (the first 3,000 lines of ../shared/data/zh_corpus.txt.gz), read
    gzip-compressed, counted with two workers, with df: the naive loop's counts."""
    import gzip
    import itertools

    with gzip.open(shared_data / "zh_corpus.txt.gz", "rt", encoding="utf-8") as fh:
        lines = [line.rstrip("\n") for line in itertools.islice(fh, 3000)]
    path = tmp_path / "part.txt.gz"
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        fh.writelines(line + "\n" for line in lines)
    spec = TokenizerSpec()
    expected, expected_df = naive_counts(lines, spec)
    table = count_words(Corpus([str(path)]), spec, workers=2, df=True, batch_chars=50_000)
    assert table.counts == expected and table.df == expected_df and table.documents == 3000


@settings(max_examples=25, deadline=None)
@given(st.lists(_TEXT, min_size=0, max_size=30), st.integers(1, 200))
def test_counts_on_generated_corpora(tmp_path_factory, docs, batch_chars):
    docs = [d.replace("\n", " ").replace("\r", " ") for d in docs]
    path = tmp_path_factory.mktemp("gen") / "c.txt"
    path.write_text("".join(d + "\n" for d in docs), encoding="utf-8")
    spec = TokenizerSpec()
    table = count_words(Corpus([str(path)]), spec, workers=2, batch_chars=batch_chars)
    assert table.counts == naive_counts(docs, spec)[0]


def test_rows_order_is_count_then_code_point():
    table = WordCounts(Counter({"b": 2, "a": 2, "中": 5, "Z": 2, "c": 1}))
    assert table.rows() == [("中", 5), ("Z", 2), ("a", 2), ("b", 2), ("c", 1)]
    assert table.rows(top=2) == [("中", 5), ("Z", 2)]
    assert table.rows(min_count=2)[-1] == ("b", 2)


def test_count_files_roundtrip_and_merge(tmp_path):
    (tmp_path / "a.tsv").write_text("word\tcount\tdf\n的\t5\t3\n了\t2\t2\n", encoding="utf-8")
    (tmp_path / "b.jsonl").write_text('{"word": "的", "count": 1, "df": 1}\n', encoding="utf-8")
    (tmp_path / "c.csv").write_text("word,count,df\n\"好,的\",4,1\n", encoding="utf-8")
    assert read_counts(str(tmp_path / "c.csv")).counts == Counter({"好,的": 4})
    total = merge_count_files([str(tmp_path / n) for n in ("a.tsv", "b.jsonl", "c.csv")])
    assert total.counts == Counter({"的": 6, "好,的": 4, "了": 2})
    assert total.df == Counter({"的": 4, "了": 2, "好,的": 1})
    (tmp_path / "nodf.tsv").write_text("的\t1\n", encoding="utf-8")
    assert merge_count_files([str(tmp_path / "a.tsv"), str(tmp_path / "nodf.tsv")]).df is None


@pytest.mark.parametrize("content,message", [
    ("的\tmany\n", "count 'many' is not a whole number"),
    ("的\t1\n的\t2\n", "listed twice"),
    ("的\n", "got 1 fields"),
    ("的\t-3\n", "negative"),
    ("的\t+5\n", "count '\\+5' is not a whole number"),
    ("的\t 6\n", "count ' 6' is not a whole number"),
    ("的\t5_000\n", "count '5_000' is not a whole number"),
    ("的\t\u0665\n", "is not a whole number"),  # an Arabic-Indic 5: int() would take it
    ("\t5\n", "a row without a word"),
    ("的\t1\t5\n", "df 5 is larger than the count 1"),
    ('{"text": "的"}\n', r"got 1 fields \(JSON, but not a count row"),  # not count's JSON Lines
    ("[1, 2]\n", r"got 1 fields \(JSON, but not a count row"),
])
def test_bad_count_files_name_the_line(tmp_path, content, message):
    path = tmp_path / "bad.tsv"
    first_has_df = content.split("\n")[0].count("\t") == 2
    path.write_text(("ok\t1\t1\n" if first_has_df else "ok\t1\n") + content, encoding="utf-8")
    with pytest.raises(DataError, match=message) as err:
        read_counts(str(path))
    assert "bad.tsv:2" in str(err.value) or "bad.tsv:3" in str(err.value)


@pytest.mark.parametrize("word", ["g\rh", "a\nb", "c\r\nd", "x\t5", "逗,号", 'q"uote', "x" * 140_000])
def test_csv_carries_any_word_back_to_merge(tmp_path, word):
    """What the CSV writer writes, the count-file reader reads back: line breaks, a lone CR, long words."""
    import io

    from textkit.output import write_rows

    buf = io.StringIO()
    write_rows(buf, [(word, 3), ("好", 2)], ("word", "count"), "csv")
    (tmp_path / "c.csv").write_text(buf.getvalue(), encoding="utf-8", newline="")
    assert read_counts(str(tmp_path / "c.csv")).counts == Counter({word: 3, "好": 2})


@pytest.mark.parametrize("fmt", ["tsv", "csv", "jsonl"])
@pytest.mark.parametrize("mark", ["", "\ufeff"])
def test_a_first_word_u_feff_is_read_back_with_or_without_a_bom(tmp_path, fmt, mark):
    """``count --keep-punct`` keeps U+FEFF as a word; first in a file it is not taken for a byte-order mark."""
    import io

    from textkit.output import write_rows

    buf = io.StringIO()
    write_rows(buf, [("\ufeff", 3), ("\ufeff好", 2), ("好", 1)], ("word", "count"), fmt)
    (tmp_path / f"c.{fmt}").write_text(mark + buf.getvalue(), encoding="utf-8", newline="")
    assert read_counts(str(tmp_path / f"c.{fmt}")).counts == Counter({"\ufeff": 3, "\ufeff好": 2, "好": 1})


def test_a_line_that_is_not_csv_names_it(tmp_path):
    (tmp_path / "c.csv").write_text("word,count\n好,1\na\rb,1\n", encoding="utf-8", newline="")
    with pytest.raises(DataError, match=r"c.csv:3: not a CSV row \(new-line character seen in unquoted field\)$"):
        read_counts(str(tmp_path / "c.csv"))


def test_jsonl_writer_has_no_infinity():
    import io
    import json

    from textkit.output import write_rows

    buf = io.StringIO()
    write_rows(buf, [("字", float("inf"), 1.5), ("词", float("nan"), 2.0)], ("w", "a", "b"), "jsonl")
    assert [json.loads(x) for x in buf.getvalue().splitlines()] == [
        {"w": "字", "a": None, "b": 1.5}, {"w": "词", "a": None, "b": 2.0}]


def test_booleans_are_spelled_alike_in_every_format():
    import io
    import json

    import numpy as np

    from textkit.output import FORMATS, write_rows

    written = {}
    for fmt in FORMATS:
        buf = io.StringIO()
        write_rows(buf, [(1, True), (2, np.bool_(False))], ("line", "valid"), fmt)
        written[fmt] = buf.getvalue()
    assert written["tsv"] == "1\ttrue\n2\tfalse\n"
    assert written["csv"] == "line,valid\n1,true\n2,false\n"
    assert [json.loads(x)["valid"] for x in written["jsonl"].splitlines()] == [True, False]


@pytest.mark.parametrize("content, message", [
    ("a\t" + "9" * 5000 + "\n", "5,000 digits"),  # int() refuses over 4,300 digits: was a traceback
    ("[" * 100_000 + "]" * 100_000 + "\n", "got 1 fields"),  # a CSV field over the csv limit: a traceback
    ('{"word": "a", "count": ' + "[" * 100_000 + "]" * 100_000 + "}\n", "got 1 fields"),  # RecursionError
], ids=["5000-digits", "csv-field-limit", "json-nesting"])
def test_a_count_file_of_absurd_rows_is_one_error(tmp_path, content, message):
    path = tmp_path / "counts.tsv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(DataError, match=message):
        read_counts(str(path))


def test_large_counts_merge_and_print(tmp_path):
    big = "9" * 30
    (tmp_path / "c.tsv").write_text(f"a\t{big}\n", encoding="utf-8")
    merged = merge_count_files([str(tmp_path / "c.tsv")] * 3)
    assert merged.counts["a"] == 3 * int(big)
    (tmp_path / "z.tsv").write_text(f"a\t{'0' * 5000}7\nb\t000\n", encoding="utf-8")  # leading zeros count
    assert dict(read_counts(str(tmp_path / "z.tsv")).counts) == {"a": 7, "b": 0}  # for int(): was a traceback
