"""Shared option groups: each decorator adds its options and hands the command one object.

* ``@input_options``      INPUTS... plus --encoding/--field/--strict  -> ``corpus: Corpus``
* ``@tokenizer_options``  --tokenizer/--no-hmm/--cut-all/--search/... -> ``tokenizer_spec``
* ``@workers_option``     -j/--workers                                -> ``workers: int``
* ``@output_options``     -o/--output, --format, --header             -> ``output: OutputSpec``
* ``@vectors_option``     --vectors PATH                               -> ``vectors_path``

Every command made through :class:`TextkitGroup` also takes ``-q/--quiet``.
"""

from __future__ import annotations

import functools
import logging
import sys
from dataclasses import dataclass
from typing import Callable, Optional

import click

from ..corpus import Corpus
from ..errors import TextkitError, UsageError, one_line
from ..output import FORMATS, Progress
from ..pool import resolve_workers
from ..tokenize import TokenizerSpec
from . import Interrupted

_LOGGER = "textkit"


class _StderrHandler(logging.Handler):
    """Writes ``textkit: [warning: ]message`` to the stderr of the moment."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            prefix = "textkit: warning: " if record.levelno >= logging.WARNING else "textkit: "
            Progress.erase()  # a progress line on the terminal: the note takes the line
            sys.stderr.write(prefix + one_line(record.getMessage()) + "\n")
            sys.stderr.flush()
        except (BrokenPipeError, ValueError):
            pass


def configure_logging() -> None:
    """Route the library's notes and warnings to stderr (idempotent)."""
    logger = logging.getLogger(_LOGGER)
    if not any(isinstance(h, _StderrHandler) for h in logger.handlers):
        logger.addHandler(_StderrHandler())
    logger.setLevel(logging.INFO)
    logger.propagate = False


def _set_quiet(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    configure_logging()
    logging.getLogger(_LOGGER).setLevel(logging.ERROR if value else logging.INFO)


def is_quiet() -> bool:
    return logging.getLogger(_LOGGER).level >= logging.ERROR


class PipeClosed(Exception):
    """Standard output's reader went away (``| head``): the run ends quietly, status 0."""


def _interruption_in(exc: BaseException) -> Optional[KeyboardInterrupt]:
    """The Ctrl-C or SIGTERM (a KeyboardInterrupt) that ``exc`` was raised in, if any."""
    seen = set()
    cause = exc.__cause__ or exc.__context__
    while cause is not None and id(cause) not in seen:
        if isinstance(cause, KeyboardInterrupt):
            return cause
        seen.add(id(cause))
        cause = cause.__cause__ or cause.__context__
    return None


# The parameters that name a file the command reads (where "-" is standard input); the
# INPUT... of a command reading a corpus means standard input when none is given.
_READ_PARAMS = ("inputs", "files", "source", "store", "pairs_path", "fit_on", "corpus_path", "queries_path",
                "index_path", "vectors_path", "whitening_path", "counts", "user_dict", "stopwords")


def _check_standard_input_once(ctx: click.Context) -> None:
    """Usage error when two of a command's inputs are ``-``: the first would read standard input
    whole and leave the other nothing (``count - --user-dict -``, ``sim --pairs - --vectors -``)."""
    readers = []
    for param in ctx.command.params:
        if param.name not in _READ_PARAMS:
            continue
        value = ctx.params.get(param.name)
        values = list(value) if isinstance(value, (tuple, list)) else [value]
        if param.name == "inputs" and not values:
            values = ["-"]
        if isinstance(param, click.Option):
            label = max(param.opts, key=len)
        else:
            label = (param.metavar or param.name.upper()).strip("[].")
        readers += [label] * values.count("-")
    if len(readers) > 1:
        which = f"{readers[0]} is - twice" if readers[0] == readers[1] else \
            f"{readers[0]} and {readers[1]} are both -"
        raise click.UsageError(f"{which}, but standard input can be read only once: give a file instead", ctx)


class TextkitCommand(click.Command):
    """A command with ``-q/--quiet`` (hide notes and warnings on stderr).

    A broken pipe is re-raised as :class:`PipeClosed` and Ctrl-C as
    :class:`Interrupted` before click's own handling (which exits with status 1
    on a broken pipe, differently across click versions, and writes a blank
    line to stderr on Ctrl-C); an ``EOFError`` that escapes a reader is an
    error (click would report it as an interruption).
    """

    def invoke(self, ctx: click.Context):
        _check_standard_input_once(ctx)
        try:
            return super().invoke(ctx)
        except BrokenPipeError as exc:
            raise PipeClosed() from exc
        except KeyboardInterrupt as exc:
            raise Interrupted(exc) from exc
        except EOFError as exc:  # click would call it Ctrl-D, "interrupted": it is data that ends early
            raise TextkitError(f"input ended early ({exc or 'end of file'})") from exc
        except UsageError as exc:  # a setting the library refused: shown like click's own, with the --help
            raise click.UsageError(str(exc), ctx) from exc
        except SystemError as exc:  # Ctrl-C inside a C extension's callback (scipy's SVD) comes wrapped
            stop = _interruption_in(exc)
            if stop is None:
                raise
            raise Interrupted(stop) from exc

    def parse_args(self, ctx: click.Context, args):
        """click's parsing; its errors name this command (e.g. an option without its value),
        so that the hint points to this command's --help, not the top level's."""
        try:
            return super().parse_args(ctx, args)
        except click.UsageError as exc:
            if exc.ctx is None:
                exc.ctx = ctx
            raise

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.params.append(
            click.Option(
                ["-q", "--quiet"],
                is_flag=True,
                expose_value=False,
                is_eager=True,
                callback=_set_quiet,
                help="Hide notes and warnings (errors are still shown).",
            )
        )


class TextkitGroup(click.Group):
    """A group whose commands and subgroups are TextkitCommand / TextkitGroup."""

    command_class = TextkitCommand


TextkitGroup.group_class = TextkitGroup


def _add(f: Callable, options) -> Callable:
    for opt in reversed(options):
        f = opt(f)
    return f


def given(name: str) -> bool:
    """Whether the option whose parameter is ``name`` was set by the user rather than left at its default."""
    from click.core import ParameterSource

    source = click.get_current_context().get_parameter_source(name)
    return source not in (None, ParameterSource.DEFAULT, ParameterSource.DEFAULT_MAP)


def progress_enabled() -> bool:
    """Progress goes to stderr only when it is a terminal and the user did not ask for quiet."""
    return sys.stderr.isatty() and not is_quiet()


def input_options(f: Callable) -> Callable:
    """INPUTS... (files, directories, globs, - for stdin; none means stdin) -> ``corpus``."""

    @functools.wraps(f)
    def wrapper(*args, inputs, encoding, field, strict, **kwargs):
        progress = Progress(progress_enabled())
        kwargs["corpus"] = Corpus(
            list(inputs) or ["-"],
            encoding=encoding,
            field=field,
            strict=strict,
            on_progress=progress if progress.enabled else None,
        )
        try:
            return f(*args, **kwargs)
        finally:
            progress.close()

    return _add(
        wrapper,
        [
            click.argument("inputs", nargs=-1, metavar="[INPUT]..."),
            click.option("--encoding", default="utf-8", show_default=True,
                         help="Text encoding of the input (e.g. gb18030)."),
            click.option("--field", metavar="NAME",
                         help="Read JSON Lines and take the document from this field."),
            click.option("--strict", is_flag=True,
                         help="Invalid bytes or records are errors instead of warnings."),
        ],
    )


def encoding_options(f: Callable) -> Callable:
    """--encoding and --strict, for commands reading text files of their own (pairs, a corpus to search)."""
    return _add(
        f,
        [
            click.option("--encoding", default="utf-8", show_default=True,
                         help="Text encoding of the input files (e.g. gb18030)."),
            click.option("--strict", is_flag=True, help="Invalid bytes are errors instead of warnings."),
        ],
    )


def tokenizer_options(f: Callable) -> Callable:
    """jieba / char / whitespace tokenizer and token filters -> ``tokenizer_spec``."""

    @functools.wraps(f)
    def wrapper(*args, tokenizer, no_hmm, cut_all, search, user_dict, stopwords, keep_punct,
                min_len, max_len, lower, **kwargs):
        if cut_all and search:
            raise click.UsageError("--cut-all and --search are exclusive")
        if cut_all and no_hmm:  # a silent no-op would hide the slip
            raise click.UsageError("--no-hmm does nothing with --cut-all: full mode lists dictionary words, "
                                   "without the HMM")
        if tokenizer != "jieba":  # a silent no-op would hide the slip
            given = [flag for flag, value in (("--no-hmm", no_hmm), ("--cut-all", cut_all), ("--search", search),
                                              ("--user-dict", user_dict)) if value]
            if given:
                raise click.UsageError(f"{given[0]} is used only with --tokenizer jieba, not {tokenizer}")
        try:
            kwargs["tokenizer_spec"] = TokenizerSpec(
                kind=tokenizer,
                hmm=not no_hmm,
                mode="all" if cut_all else "search" if search else "accurate",
                user_dict=user_dict,
                stopwords=stopwords,
                keep_punct=keep_punct,
                min_len=min_len,
                max_len=max_len,
                lower=lower,
            )
        except TextkitError as exc:
            raise click.UsageError(str(exc)) from None
        return f(*args, **kwargs)

    return _add(
        wrapper,
        [
            click.option("--tokenizer", type=click.Choice(["jieba", "char", "whitespace"]),
                         default="jieba", show_default=True,
                         help="jieba segmentation, single characters, or split on whitespace "
                              "(pre-segmented or non-Chinese text)."),
            click.option("--no-hmm", is_flag=True, help="jieba: no HMM for unknown words."),
            click.option("--cut-all", is_flag=True, help="jieba: full mode (every dictionary word)."),
            click.option("--search", is_flag=True, help="jieba: search-engine mode."),
            click.option("--user-dict", metavar="FILE",
                         help="jieba user dictionary: word [freq] [tag] per line, one space between "
                              "fields (a line jieba would misread is skipped with a warning)."),
            click.option("--stopwords", metavar="FILE|default",
                         help="Drop the words of FILE (one per line); 'default' is the bundled "
                              "Chinese list."),
            click.option("--keep-punct", is_flag=True,
                         help="Keep punctuation and symbol tokens (dropped by default)."),
            click.option("--min-len", type=click.IntRange(min=1), default=1, show_default=True,
                         help="Drop tokens shorter than this (characters)."),
            click.option("--max-len", type=click.IntRange(min=1), default=None,
                         help="Drop tokens longer than this (characters)."),
            click.option("--lower", is_flag=True, help="Lower-case tokens (Latin text)."),
        ],
    )


class CommandLineText(click.ParamType):
    """A text given on the command line (a sentence, a query, a word), as UTF-8.

    Python decodes arguments with the locale's encoding; under an ASCII locale
    without UTF-8 mode (``LC_ALL=C PYTHONUTF8=0``) every non-ASCII byte becomes a
    lone surrogate, and a Chinese sentence reads as nothing.  Such an argument is
    taken back to its bytes and read as UTF-8; bytes that are not UTF-8 either
    are a usage error.
    """

    name = "text"

    def convert(self, value, param, ctx):
        if isinstance(value, str) and any("\udc80" <= c <= "\udcff" for c in value):
            import os

            raw = os.fsencode(value)
            try:
                return raw.decode("utf-8")
            except UnicodeError:
                self.fail(f"{raw!r} is not valid UTF-8 text", param, ctx)
        return value


TEXT = CommandLineText()


class _WorkersType(click.ParamType):
    name = "N|auto"

    def convert(self, value, param, ctx):
        try:
            return resolve_workers(value)
        except TextkitError as exc:
            self.fail(str(exc), param, ctx)


def workers_option(f: Callable) -> Callable:
    """-j/--workers N (0 or auto: all cores; 1: no pool) -> ``workers: int``."""
    return click.option(
        "-j", "--workers", type=_WorkersType(), default="auto", show_default=True,
        help="Worker processes: 0 or auto for all cores, 1 to run in this process.",
    )(f)


def side_inputs(params: dict) -> list:
    """The files besides its corpus that a command given ``params`` reads (None where not given).

    The vectors (a file, or a store folder: ``-o STORE/vocab.txt`` would break it), the
    whitening parameters, a search index, the tokenizer's user dictionary and
    stopwords, an encoder's count file: an output must not be one of them.
    """
    from ..tokenize import DEFAULT_STOPWORDS
    from ..vectors import default_store_path

    found = [params.get(name) for name in ("whitening_path", "index_path", "user_dict", "counts")]
    if "vectors_path" in params:  # a command that reads vectors: None is the bundled store
        found.append(params["vectors_path"] or default_store_path())
    if "store" in params:
        found.append(params["store"] or default_store_path())
    encoder = params.get("spec")  # an EncoderSpec (embed, whiten, eval)
    tokenizers = [params.get("tokenizer_spec")]
    if encoder is not None:
        found += [encoder.vectors or default_store_path(), encoder.counts]
        tokenizers.append(encoder.tokenizer)
    for spec in tokenizers:
        if spec is not None:
            found += [spec.user_dict, DEFAULT_STOPWORDS if spec.stopwords == "default" else spec.stopwords]
    return found


@dataclass(frozen=True)
class OutputSpec:
    """Where and how to write rows."""

    path: Optional[str] = None
    fmt: str = "tsv"
    header: bool = False


def output_options(f: Callable) -> Callable:
    """-o/--output FILE, --format tsv|csv|jsonl, --header -> ``output: OutputSpec``."""

    @functools.wraps(f)
    def wrapper(*args, output, fmt, header, **kwargs):
        from ..output import check_not_an_input, check_output_file, format_of_name

        if output is not None and output != "-":
            check_output_file(output)  # before the work, not after it
        check_not_an_input(output, kwargs["corpus"].sources if "corpus" in kwargs else (),  # stdout too
                           side=side_inputs(kwargs))
        named = format_of_name(output)
        if fmt is None:
            fmt = named or "tsv"
        elif named is not None and named != fmt:
            logging.getLogger(_LOGGER).warning("writing %s to %s, as --format says", fmt.upper(), output)
        kwargs["output"] = OutputSpec(output, fmt, header)
        return f(*args, **kwargs)

    return _add(
        wrapper,
        [
            click.option("-o", "--output", metavar="FILE",
                         help="Write to FILE atomically, compressed if it ends in .gz, .bz2 or .xz "
                              "(default: standard output)."),
            click.option("--format", "fmt", type=click.Choice(list(FORMATS)), default=None,
                         help="Output format  [default: from -o's name (.csv, .jsonl, before any "
                              ".gz/.bz2/.xz), else tsv]"),
            click.option("--header", is_flag=True, help="TSV: write a header line first."),
        ],
    )


def vectors_option(f: Callable) -> Callable:
    """--vectors PATH (a store, or any file `vectors convert` reads) -> ``vectors_path``."""
    return click.option(
        "--vectors", "vectors_path", metavar="PATH",
        help="Vector store or vectors file (word2vec, fastText, GloVe, Tencent); "
             "default: the bundled vectors.",
    )(f)


def normalize_option(f: Callable) -> Callable:
    """--normalize (WMD on unit rows) -> ``normalize``."""
    return click.option(
        "--normalize", is_flag=True,
        help="WMD between unit-length vectors (gensim's default) instead of the stored ones; better "
             "with the bundled store, whose row lengths weigh words for WRD.",
    )(f)


def oov_option(f: Callable) -> Callable:
    """--oov drop|error|split (transport's policy for tokens without a vector) -> ``oov``."""
    return click.option(
        "--oov", type=click.Choice(["drop", "error", "split"]), default="drop", show_default=True,
        help="Tokens without a vector: drop them (counted on stderr), stop with an error, or split "
             "them into their known pieces (WRD/WMD; often better on domain text).",
    )(f)
