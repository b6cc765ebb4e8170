"""``textkit count`` and ``textkit merge``."""

from __future__ import annotations

import os
from typing import Optional

import click

from ..counting import WordCounts, count_words, merge_count_files
from ..errors import DataError, preview
from ..output import check_not_an_input, open_output, write_rows
from .options import (OutputSpec, TextkitCommand, input_options, output_options,
                      tokenizer_options, workers_option)

_TOP = click.option("--top", type=click.IntRange(min=1), metavar="N", help="Only the N most frequent words.")
_MIN_COUNT = click.option("--min-count", type=click.IntRange(min=1), default=1, show_default=True,
                          metavar="N", help="Only words seen at least N times.")


def _write(table: WordCounts, output: OutputSpec, top: Optional[int], min_count: int) -> None:
    rows = table.rows(top, min_count)
    if output.fmt == "tsv":  # checked before writing: half a table on stdout would be worse
        bad = next((row[0] for row in rows if "\t" in row[0] or "\n" in row[0] or "\r" in row[0]), None)
        if bad is not None:
            raise DataError(f"the word {preview(bad, 30)} holds a tab or a line break, which TSV cannot "
                            "carry; use --format csv or --format jsonl")
    with open_output(output.path) as fh:
        write_rows(fh, rows, table.columns(), output.fmt, output.header)


@click.command(cls=TextkitCommand)
@input_options
@tokenizer_options
@workers_option
@_TOP
@_MIN_COUNT
@click.option("--df", is_flag=True, help="Add a column: number of documents (lines) holding the word.")
@output_options
def count(corpus, tokenizer_spec, workers, top, min_count, df, output):
    """Word frequencies of INPUT... (files, directories, globs; - or nothing for stdin).

    Writes word<TAB>count sorted by count, then word; identical for any -j.

    \b
    Example:
      zcat logs.gz | textkit count - --top 20
    """
    table = count_words(corpus, tokenizer_spec, workers=workers, df=df)
    _write(table, output, top, min_count)


@click.command(cls=TextkitCommand, short_help="Sum count files (TSV, CSV or JSON Lines).")
@click.argument("files", nargs=-1, required=True, metavar="FILE...")
@_TOP
@_MIN_COUNT
@output_options
def merge(files, top, min_count, output):
    """Sum count files written by `textkit count` (TSV, CSV or JSON Lines).

    \b
    Example:
      textkit merge day-*.tsv -o month.tsv
    """
    if output.path in (None, "-"):  # -o may name an input (written atomically), standard output may not:
        check_not_an_input(output.path, files)  # the shell has emptied the file before the run began
    else:  # ... but not one that a folder or a pattern among the inputs reads: it would be counted
        # again on every run (merge days/ -o days/total.tsv)
        check_not_an_input(output.path, [f for f in files if f == "-" or not os.path.isfile(f)])
    _write(merge_count_files(list(files)), output, top, min_count)
