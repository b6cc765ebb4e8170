"""``textkit discover``: new words from raw text (n-gram cohesion, cut-and-recount)."""

from __future__ import annotations

import math
from typing import Optional, Tuple

import click

from ..discovery import (
    COLUMNS,
    DEFAULT_MAX_N,
    DEFAULT_MIN_LEN,
    DEFAULT_MIN_PMI,
    DiscoverOptions,
    discover_corpus,
    write_user_dict,
)
from ..ngrams import MAX_N
from ..output import check_distinct_outputs, check_not_an_input, check_output_file, open_output, write_rows
from ..tokenize import TokenizerSpec, get_tokenizer
from .options import TextkitCommand, input_options, output_options, workers_option


class _Thresholds(click.ParamType):
    """Comma-separated numbers: one per n-gram length 2..max_n, or one for all."""

    name = "X[,X...]"

    def convert(self, value, param, ctx) -> Tuple[float, ...]:
        if isinstance(value, tuple):
            return value
        try:
            out = tuple(float(v) for v in str(value).split(","))
        except ValueError:
            self.fail(f"{value!r} is not a comma-separated list of numbers", param, ctx)
        if not all(math.isfinite(v) for v in out):
            self.fail(f"{value!r}: thresholds must be finite numbers", param, ctx)
        return out


def _min_entropy(ctx, param, value: Optional[float]) -> Optional[float]:
    if value is not None and not (math.isfinite(value) and value >= 0):
        raise click.BadParameter("must be a number ≥ 0", ctx=ctx, param=param)
    return value


@click.command(cls=TextkitCommand)
@input_options
@click.option("--max-n", type=click.IntRange(2, MAX_N), default=DEFAULT_MAX_N, show_default=True,
              help="Longest n-gram counted (characters); longer words arise by chaining.")
@click.option("--min-count", type=click.IntRange(min=1), default=None, metavar="N",
              help="Keep n-grams and words seen at least N times. Default: max(2, round(sqrt(C)/700)) "
                   "for C clause characters (8 M characters -> 4); 32 is the published setting.")
@click.option("--min-pmi", type=_Thresholds(), default=None, metavar="X[,X...]",
              help="Cohesion thresholds (natural log) for n = 2..max-n, or one value for all. "
                   f"Default: {','.join(f'{v:g}' for v in DEFAULT_MIN_PMI)}.")
@click.option("--min-entropy", type=float, default=None, callback=_min_entropy, metavar="H",
              help="Also require left and right neighbour entropy (natural log) ≥ H. Default: no filter.")
@click.option("--min-len", type=click.IntRange(min=1), default=DEFAULT_MIN_LEN, show_default=True,
              help="Drop words shorter than this (characters).")
@click.option("--new-only", is_flag=True,
              help="Drop words jieba's dictionary (and --user-dict) already holds, and plain numbers.")
@click.option("--user-dict", metavar="FILE",
              help="With --new-only: a jieba user dictionary whose words also count as known.")
@click.option("--top", type=click.IntRange(min=1), metavar="N", help="Only the N most frequent words.")
@click.option("--save-dict", metavar="FILE",
              help="Also write the words as a jieba user dictionary (word and frequency per line: "
                   "its count, or more where jieba needs more to keep the word whole), for "
                   "`textkit count --user-dict FILE`.")
@click.option("--table-memory", type=click.IntRange(min=1), default=1024, show_default=True,
              metavar="MB", help="Memory for partial n-gram tables per process before they spill "
                                 "to a temporary folder (the result is the same).")
@workers_option
@output_options
def discover(corpus, max_n, min_count, min_pmi, min_entropy, min_len, new_only, user_dict, top,
             save_dict, table_memory, workers, output):
    """New words in INPUT... (files, directories, globs; - or nothing for stdin).

    Counts character n-grams inside clauses (runs of Han characters, ASCII or
    full-width letters and digits; anything else, accented letters included, ends one),
    keeps cohesive ones (min over binary splits of log(N·#w/(#a·#b))), cuts the text
    where no kept n-gram spans a gap and counts the pieces. Writes
    word<TAB>count<TAB>cohesion<TAB>left_entropy<TAB>right_entropy sorted by count,
    then word; identical for any -j.

    \b
    Example:
      textkit discover reviews.txt.gz --new-only --top 100 --save-dict new.dict
    """
    if min_pmi is not None and len(min_pmi) == 1:
        min_pmi = min_pmi * (max_n - 1)
    if min_pmi is not None and len(min_pmi) != max_n - 1:
        raise click.BadParameter(
            f"give one threshold per length 2..{max_n} ({max_n - 1} values) or one for all",
            param_hint="--min-pmi",
        )
    if save_dict is not None:
        check_distinct_outputs(("-o", output.path), ("--save-dict", save_dict))
        check_output_file(save_dict)  # with -o, before the work: a late failure would leave one of the two
        check_not_an_input(save_dict, corpus.sources, "--save-dict", side=[user_dict])
    options = DiscoverOptions(max_n=max_n, min_count=min_count, min_pmi=min_pmi,
                              min_entropy=min_entropy, min_len=min_len, top=top)
    known = None
    if new_only:
        tokenizer = get_tokenizer(TokenizerSpec(kind="jieba", user_dict=user_dict))
        tokenizer.in_dictionary("的")  # load the dictionary now: errors before any work
        known = tokenizer.known_word
    elif user_dict:
        raise click.UsageError("--user-dict is used only with --new-only")
    result = discover_corpus(corpus, options, workers=workers, known=known,
                             max_table_bytes=table_memory << 20)
    if save_dict is None:
        with open_output(output.path) as fh:
            write_rows(fh, result.words, COLUMNS, output.fmt, output.header)
        return
    # The dictionary is put in place after the rows are written (a failed -o leaves both files as
    # they were), and also when standard output's reader stops early (| head): it was not lost there.
    closed = None
    with open_output(save_dict) as dict_fh:
        write_user_dict(dict_fh, result.words, save_dict)
        try:
            with open_output(output.path) as fh:
                write_rows(fh, result.words, COLUMNS, output.fmt, output.header)
        except BrokenPipeError as exc:
            closed = exc
    if closed is not None:
        raise closed
