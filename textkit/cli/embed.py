"""``textkit embed``, ``textkit whiten fit|apply`` and ``textkit eval``: a thin layer over
textkit.sentences, textkit.whitening and textkit.evaluate."""

from __future__ import annotations

import functools
import json
import logging
import shutil
import tempfile
from typing import Callable

import click

from ..errors import DataError, in_file
from ..output import (atomic_path, check_not_an_input, format_of_name, is_compressed_name, is_special_file,
                      json_string, open_in_place, open_output, uncompressed_name, write_rows)
from .options import (
    side_inputs,
    TextkitCommand,
    TextkitGroup,
    encoding_options,
    given,
    input_options,
    normalize_option,
    oov_option,
    tokenizer_options,
    vectors_option,
    workers_option,
)


def encoder_options(f: Callable) -> Callable:
    """Tokenizer options, --vectors, --pooling, --weighting, --counts, --sif-a -> ``spec: EncoderSpec``.

    A command that applies saved whitening (:func:`_saved_whitening`) makes sentence
    vectors as its fit did: the settings the user does not give come from the file.
    """

    @functools.wraps(f)
    def wrapper(*args, tokenizer_spec, vectors_path, pooling, weighting, counts, sif_a, **kwargs):
        from ..sentences import EncoderSpec, fitted_spec

        spec = EncoderSpec(
            tokenizer=tokenizer_spec,
            vectors=vectors_path,
            pooling=pooling,
            weighting=None if weighting == "none" else weighting,
            counts=counts,
            sif_a=sif_a,
        )
        saved = _saved_whitening(kwargs)
        if saved is not None:  # the settings not given are those of the fit
            from ..whitening import Whitening

            chosen = [name for name in ("pooling", "weighting", "sif_a") if given(name)]
            spec = fitted_spec(spec, Whitening.load(saved).encoder_, keep=chosen)
        fitted = f" ({saved} was fitted without it)" if saved is not None and not given("weighting") else ""
        if counts is not None and spec.weighting != "sif":
            raise click.UsageError(f"--counts is used only with --weighting sif{fitted}")
        if given("sif_a") and spec.weighting != "sif":
            raise click.UsageError(f"--sif-a is used only with --weighting sif{fitted}")
        kwargs["spec"] = spec
        return f(*args, **kwargs)

    for opt in reversed(
        [
            vectors_option,
            click.option(
                "--pooling",
                type=click.Choice(["unit", "raw"]),
                default="unit",
                show_default=True,
                help="Average unit-length word vectors, or the vectors as stored (applying saved "
                "whitening, the default is what its fit used, as for --weighting and --sif-a).",
            ),
            click.option(
                "--weighting",
                type=click.Choice(["none", "sif"]),
                default="none",
                show_default=True,
                help="sif: weight words by a/(a + p(w)) (smooth inverse frequency).",
            ),
            click.option(
                "--counts",
                metavar="FILE",
                help="Word counts (from `textkit count`) giving p(w) for SIF; default: the "
                "store's counts, else its frequency order.",
            ),
            click.option(
                "--sif-a",
                type=click.FloatRange(min=0, min_open=True),
                default=1e-3,
                show_default=True,
                help="The SIF constant a.",
            ),
        ]
    ):
        wrapper = opt(wrapper)
    return tokenizer_options(wrapper)


def _saved_whitening(kwargs: dict) -> str | None:
    """The saved whitening parameters a command applies (embed and whiten apply: -w; eval --method
    whiten: --fit-on PARAMS.npz), whose fit's sentence-vector settings are the defaults; else None."""
    from ..whitening import is_saved_whitening

    if kwargs.get("whitening_path"):
        return kwargs["whitening_path"]
    fit_on = kwargs.get("fit_on")
    if kwargs.get("method") == "whiten" and fit_on not in (None, "pairs") and is_saved_whitening(fit_on):
        return fit_on
    return None


_DIM = click.option(
    "--dim",
    "n_components",
    type=click.IntRange(min=1),
    metavar="K",
    help="Keep the K directions of largest variance (default: all).",
)
_FLOOR = click.option(
    "--eigen-floor",
    "eigenvalue_floor",
    type=click.FloatRange(min=0, max=1, min_open=True, max_open=True),
    metavar="F",
    help="Clamp eigenvalues to at least F x the largest (keeps tiny-variance "
    "directions with a bounded gain).",
)


def _format_row(vector) -> str:
    """A float32 row as a JSON list; 9 significant digits read back to the same float32s."""
    return "[" + ", ".join(f"{v:.9g}" for v in vector.tolist()) + "]"


def _embed(corpus, spec, workers: int, whitening_path: str | None, output: str | None) -> None:
    import numpy as np

    from ..evaluate import warn_if_encoder_differs
    from ..sentences import EmbeddingRun, NpyRowWriter, build_encoder
    from ..whitening import Whitening

    if output not in (None, "-") and not is_special_file(output) and \
            not (output.lower().endswith(".npy") or uncompressed_name(output).endswith((".jsonl", ".json"))):
        raise click.UsageError(f"-o {output}: name the output .npy (a float32 matrix) or .jsonl "
                               "(JSON Lines, .jsonl.gz compressed)")
    check_not_an_input(output, corpus.sources, side=side_inputs({"spec": spec, "whitening_path": whitening_path}))
    _, encoder = build_encoder(spec)
    whitening = None
    if whitening_path is not None:
        whitening = Whitening.load(whitening_path, vectors_identity=str(encoder.vectors.identity))
        if whitening.n_features_ != encoder.dim:
            raise DataError(
                f"{whitening_path} was fitted on {whitening.n_features_}-dimensional vectors, "
                f"these have {encoder.dim}"
            )
        warn_if_encoder_differs(whitening, encoder, whitening_path, spec.tokenizer)
    dim = whitening.n_components_ if whitening is not None else encoder.dim
    run = EmbeddingRun(corpus, spec, workers=workers)

    def vectors():
        for records, batch in run:
            matrix = batch.matrix
            if whitening is not None:
                matrix = np.where(batch.known[:, None] > 0, whitening.transform(matrix), 0.0)
            yield records, np.asarray(matrix, dtype=np.float32)

    def write_npy(fh) -> None:
        writer = NpyRowWriter(fh, dim)
        for _, matrix in vectors():
            writer.add(matrix)
        writer.close()
        skipped = corpus.stats.lines - writer.rows  # JSON Lines only: blank lines, skipped records
        if skipped:
            logging.getLogger("textkit").warning(
                "%s has one row per record: %d line(s) of the input held none (blank, or skipped), so "
                "row numbers are not line numbers; JSON Lines output (-o FILE.jsonl) gives each row's line",
                output, skipped)

    named = output not in (None, "-")
    special = named and is_special_file(output)  # /dev/stdout, a pipe: JSON Lines unless named .npy
    as_npy = named and (output.lower().endswith(".npy")
                        or not (special or uncompressed_name(output).endswith((".jsonl", ".json"))))
    if as_npy:
        if special:  # an .npy header holds the row count, written last: built aside, then copied
            with tempfile.TemporaryFile() as fh:
                write_npy(fh)
                fh.seek(0)
                with open_in_place(output, "wb") as out:
                    shutil.copyfileobj(fh, out)
        else:
            with atomic_path(output) as tmp, open(tmp, "wb") as fh:
                write_npy(fh)
        return
    with_source = len(corpus.files()) > 1
    with open_output(output) as fh:
        for records, matrix in vectors():
            for rec, row in zip(records, matrix):
                source = (
                    f'"source": {json_string(rec.source)}, '
                    if with_source
                    else ""
                )
                fh.write(f'{{{source}"line": {rec.line}, "vector": {_format_row(row)}}}\n')


@click.command(cls=TextkitCommand)
@input_options
@encoder_options
@workers_option
@click.option(
    "-w",
    "--whitening",
    "whitening_path",
    metavar="PARAMS.npz",
    help="Whiten the vectors with parameters from `textkit whiten fit`.",
)
@click.option(
    "-o",
    "--output",
    metavar="OUT",
    help="OUT.npy: float32 matrix, one row per line (OUT.jsonl: JSON Lines, OUT.jsonl.gz "
    "compressed). Default: JSON Lines on standard output.",
)
def embed(corpus, spec, workers, whitening_path, output):
    """One sentence vector per line of INPUT... (files, directories, globs; - or nothing for stdin).

    The vector is the mean of the line's unit-length word vectors (--pooling raw:
    the stored vectors; --weighting sif: weighted by a/(a + p(w))). Unknown words
    are skipped; a line with no known word gets a zero vector and a warning
    (with --whitening too).

    \b
    Example:
      textkit embed sentences.txt -o sentences.npy
      echo 今天天气很好 | textkit embed --whitening params.npz
    """
    _embed(corpus, spec, workers, whitening_path, output)


@click.group(cls=TextkitGroup, short_help="Fit a whitening on sentence vectors, and apply it.")
def whiten():
    """Fit a whitening on sentence vectors, and apply it (x -> (x - mu) W)."""


@whiten.command("fit")
@input_options
@encoder_options
@workers_option
@_DIM
@_FLOOR
@click.option(
    "-o",
    "--output",
    required=True,
    metavar="PARAMS.npz",
    help="Where to save the parameters (.npz: mu, W, eigenvalues, k, n, dim, store identity).",
)
def whiten_fit(corpus, spec, workers, n_components, eigenvalue_floor, output):
    """Fit whitening parameters on the sentence vectors of INPUT... (one sentence per line).

    Streams: statistics (n, mean, scatter) are accumulated per batch, so any
    corpus size fits in memory. Lines with no known word have no direction and
    are left out of the fit (and counted); applied later, such a line keeps its
    zero vector. The saved file records the vector store; applying it with other
    vectors is an error.

    \b
    Example:
      textkit whiten fit corpus.txt --dim 64 -o params.npz
    """
    from ..output import check_output_file
    from ..sentences import fit_whitening

    if uncompressed_name(output).endswith((".npy", ".jsonl", ".json", ".tsv", ".txt")) \
            or is_compressed_name(output) or output == "-":  # a slip: vectors' names, a compressed one, stdout
        raise click.UsageError(f"-o {output}: the parameters are an .npz archive; name the file .npz")
    check_output_file(output)  # before the work, not after it
    check_not_an_input(output, corpus.sources, side=side_inputs({"spec": spec}))
    whitening = fit_whitening(
        corpus, spec, n_components=n_components, eigenvalue_floor=eigenvalue_floor, workers=workers
    )
    whitening.save(output)
    logging.getLogger("textkit").info(
        "whitening fitted on %s sentences: %d -> %d dimensions, saved to %s",
        f"{whitening.n_samples_:,}",
        whitening.n_features_,
        whitening.n_components_,
        output,
    )


@whiten.command("apply")
@input_options
@encoder_options
@workers_option
@click.option(
    "-w",
    "--whitening",
    "whitening_path",
    required=True,
    metavar="PARAMS.npz",
    help="Parameters from `textkit whiten fit`.",
)
@click.option(
    "-o",
    "--output",
    metavar="OUT",
    help="OUT.npy: a float32 matrix; OUT.jsonl: JSON Lines (OUT.jsonl.gz compressed). "
    "Default: JSON Lines on stdout.",
)
def whiten_apply(corpus, spec, workers, whitening_path, output):
    """Whitened sentence vectors of INPUT... (the same as `textkit embed --whitening`).

    \b
    Example:
      textkit whiten apply -w params.npz new.txt -o new.npy
    """
    _embed(corpus, spec, workers, whitening_path, output)


@click.command("eval", cls=TextkitCommand,
               short_help="Spearman and Pearson of a similarity against the labels.")
@click.argument("pairs_path", metavar="PAIRS.tsv")
@encoder_options
@workers_option
@click.option(
    "--method",
    type=click.Choice(["cosine", "whiten", "wmd", "wrd"]),
    default="cosine",
    show_default=True,
    help="Similarity: cosine of sentence vectors (whitened or not), "
    "or word mover's / word rotator's distance.",
)
@click.option(
    "--fit-on",
    default="pairs",
    show_default=True,
    metavar="pairs|FILE|PARAMS.npz",
    help="whiten: fit on the pairs' own sentences (labels unused), on a corpus FILE, "
    "or load saved parameters.",
)
@_DIM
@_FLOOR
@normalize_option
@oov_option
@click.option(
    "--scores",
    is_flag=True,
    help="Also give the per-pair scores (text: line<TAB>score<TAB>label rows on stdout, "
    'the summary on stderr; json: a "scores" list); scores are similarities, as '
    "`sim --pairs` prints them but for WMD, negated here: cosine, 1 - WRD, -WMD (a pair "
    "with a side of no known word gets the worst score, -1 for cosine).",
)
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default=None,
    help="text: one summary line; json: one object (with --scores, the scores too)  [default: json "
    "for an -o named .json or .jsonl, else text]",
)
@click.option("-o", "--output", metavar="FILE",
              help="Write to FILE atomically, compressed if it ends in .gz, .bz2 or .xz (default: stdout).")
@encoding_options
def eval_pairs(
    pairs_path, spec, workers, method, fit_on, n_components, eigenvalue_floor, normalize, oov, scores, fmt,
    output, encoding, strict
):
    """Spearman and Pearson (x100) of a similarity against the labels of PAIRS.tsv.

    PAIRS.tsv holds sentence1<TAB>sentence2<TAB>label lines (label: any number).

    \b
    Example:
      textkit eval STS-B.test.tsv --method whiten --dim 64
      textkit eval pairs.tsv --method wrd --format json
      textkit eval pairs.tsv --method wmd --normalize --oov split
    """
    from ..corpus import one_file
    from ..evaluate import evaluate_pairs, read_pairs
    from ..whitening import is_saved_whitening

    if method != "whiten" and (fit_on != "pairs" or n_components or eigenvalue_floor):
        raise click.UsageError("--fit-on, --dim and --eigen-floor apply only to --method whiten")
    if method not in ("wmd", "wrd") and (normalize or oov != "drop"):
        raise click.UsageError("--normalize and --oov apply only to --method wmd and wrd")
    if normalize and method != "wmd":
        raise click.UsageError("--normalize applies to --method wmd only (WRD always compares directions)")
    if method in ("wmd", "wrd"):
        pooled = [flag for flag, name in (("--pooling", "pooling"), ("--weighting", "weighting")) if given(name)]
        if pooled:
            raise click.UsageError(f"{' and '.join(pooled)} apply only to --method cosine and whiten "
                                   "(sentence vectors); WMD and WRD compare the words themselves")
    if eigenvalue_floor is not None and fit_on != "pairs" and is_saved_whitening(fit_on):
        raise click.UsageError("--eigen-floor applies when fitting; a saved whitening (--fit-on PARAMS.npz) "
                               "keeps the floor it was fitted with")
    if output not in (None, "-"):
        from ..output import check_output_file

        check_output_file(output)  # before the work, not after it
    check_not_an_input(output, [pairs_path] + ([fit_on] if fit_on != "pairs" else []),  # stdout too
                       side=side_inputs({"spec": spec}))
    if fmt is None:
        fmt = "json" if format_of_name(output) == "jsonl" else "text"
    one_file(pairs_path, "eval")
    pairs = read_pairs(pairs_path, encoding=encoding, strict=strict)
    try:
        result = evaluate_pairs(
            pairs,
            spec,
            method=method,
            fit_on=fit_on,
            n_components=n_components,
            eigenvalue_floor=eigenvalue_floor,
            workers=workers,
            normalize=normalize,
            oov=oov,
            encoding=encoding,
            strict=strict,
        )
    except DataError as exc:
        if str(exc).startswith("line "):  # an --oov error names the line and side: add the file
            raise DataError(in_file(pairs_path, str(exc))) from None
        raise
    summary = result.summary()
    with open_output(output) as fh:
        if fmt == "json":
            if scores:
                summary["scores"] = [
                    {"line": line, "score": float(s), "label": float(lab)}
                    for line, s, lab in zip(result.lines, result.scores, result.labels)
                ]
            fh.write(json.dumps(summary, ensure_ascii=False) + "\n")
            return
        text = _summary_text(summary)
        if scores:
            rows = zip(result.lines, result.scores.tolist(), result.labels.tolist())
            write_rows(fh, rows, ("line", "score", "label"), "tsv")
            click.echo(f"textkit: {text}", err=True)
        else:
            fh.write(text + "\n")


def _summary_text(summary: dict) -> str:
    def num(value):
        return "undefined" if value is None else f"{value:.2f}"

    return (
        f"{summary['method']}: spearman x100 {num(summary['spearman'])}, "
        f"pearson x100 {num(summary['pearson'])}, {summary['pairs']} pairs, "
        f"oov rate {100 * summary['oov_rate']:.1f}%"
    )
