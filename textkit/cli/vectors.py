"""``textkit vectors``: convert, train, neighbors, info, export."""

from __future__ import annotations

import logging
import os
from typing import Optional

import click
import numpy as np

from ..errors import TextkitError, UsageError
from ..output import format_value, open_output, write_rows
from ..vector_formats import EXPORT_FORMATS, FORMATS, convert as convert_file, export_vectors
from ..vectors import DTYPES, damaged_row_error, is_store, open_vectors
from .options import (
    side_inputs,
    TEXT,
    TextkitGroup,
    input_options,
    output_options,
    tokenizer_options,
    vectors_option,
    workers_option,
)

log = logging.getLogger("textkit")

# = vector_training.MAX_WINDOW; kept here so that `textkit` starts without importing scipy
MAX_WINDOW = 20

_DTYPE = click.option(
    "--dtype",
    type=click.Choice(list(DTYPES)),
    default="float32",
    show_default=True,
    help="Storage type of the rows: float16 halves the size, int8 (one scale per row) "
    "quarters it.",
)


@click.group(cls=TextkitGroup, short_help="Word vectors: convert, train, neighbors, info, export.")
def vectors() -> None:
    """Word vectors: convert files to fast stores, train from a corpus, query neighbors."""


def _store_path(ctx, param, value: str) -> str:
    """-o STORE: a folder's path (not standard output, which `-` means for files)."""
    if not value.strip():  # checked before the source is read, as every output is
        raise click.BadParameter("an empty output name; give a file name")
    if value == "-":
        raise click.BadParameter("a store is a folder of files: give its path (it cannot go to standard "
                                 "output)")
    return value


_STORE_OUTPUT = click.option("-o", "--output", "dest", required=True, metavar="STORE", callback=_store_path,
                             help="Store directory to write.")


@vectors.command()
@click.argument("source", metavar="SRC")
@_STORE_OUTPUT
@click.option(
    "--format",
    "fmt",
    type=click.Choice(list(FORMATS)),
    default="auto",
    show_default=True,
    help="Input format (auto: a 'count dim' header means word2vec text or binary, "
    "none means GloVe; fastText .vec and Tencent files are word2vec text).",
)
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    metavar="N",
    help="Keep only the first N words (files are ordered by frequency).",
)
@_DTYPE
@click.option("--encoding", default="utf-8", show_default=True, metavar="NAME",
              help="Encoding of the words in SRC (e.g. gb18030); the store holds UTF-8.")
def convert(source, dest, fmt, limit, dtype, encoding):
    """Convert a word2vec / fastText / GloVe / Tencent file (.gz/.bz2/.xz too) into a store.

    Later commands open the store memory-mapped in milliseconds. SRC may be a
    store too: it is copied with another --dtype, or cut to its first --limit words.

    \b
    Example:
      textkit vectors convert tencent-d200-v0.2.0.txt.gz --limit 500000 -o tencent
      textkit vectors convert tencent --dtype int8 -o tencent-int8
    """
    store, report = convert_file(source, dest, format=fmt, limit=limit, dtype=dtype, encoding=encoding)
    log.info(
        "wrote %s: %s words x %d (%s, read as %s)",
        dest,
        f"{len(store):,}",
        store.dim,
        dtype,
        report.format,
    )


@vectors.command()
@input_options
@tokenizer_options
@workers_option
@_STORE_OUTPUT
@click.option(
    "--dim",
    type=click.IntRange(min=1),
    default=100,
    show_default=True,
    help="Dimensions of the vectors.",
)
@click.option(
    "--window",
    type=click.IntRange(1, MAX_WINDOW),
    default=5,
    show_default=True,
    help="Context words on each side (weighted 1/distance).",
)
@click.option(
    "--min-count",
    type=click.IntRange(min=1),
    default=5,
    show_default=True,
    help="Only words seen at least this often get a vector.",
)
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    metavar="N",
    help="Store only the N most frequent words (training still uses all of them).",
)
@click.option(
    "--alpha",
    type=click.FloatRange(0, 1, min_open=True),
    default=0.75,
    show_default=True,
    help="Context-distribution smoothing exponent of PPMI.",
)
@click.option(
    "--power",
    type=float,
    default=0.5,
    show_default=True,
    help="Weight of the singular values: vectors = U S^power, power between 0 and 1.",
)
@click.option(
    "--seed", type=int, default=0, show_default=True, help="Seed of the SVD start vector."
)
@click.option(
    "--norms",
    type=click.Choice(["svd", "idf"]),
    default="svd",
    show_default=True,
    help="Row lengths: as the SVD gives them, or log(N/count) so that rarer words weigh "
    "more in WRD (directions, hence cosines, are the same).",
)
@_DTYPE
def train(
    corpus, tokenizer_spec, workers, dest, dim, window, min_count, limit, alpha, power, seed,
    norms, dtype
):
    """Learn word vectors from INPUT... (PPMI of windowed co-occurrences + truncated SVD).

    Deterministic for the same input and --seed, whatever -j.

    \b
    Example:
      textkit vectors train corpus.txt.gz --dim 100 --window 5 --min-count 5 -o myvectors
    """
    from ..output import check_not_an_input
    from ..vector_training import TrainingOptions, train_vectors

    check_not_an_input(dest, corpus.sources, side=side_inputs({"tokenizer_spec": tokenizer_spec}))
    options = TrainingOptions(
        dim=dim,
        window=window,
        min_count=min_count,
        alpha=alpha,
        power=power,
        seed=seed,
        limit=limit,
        dtype=dtype,
        norms=norms,
    )
    store, report = train_vectors(
        corpus, dest, tokenizer_spec=tokenizer_spec, options=options, workers=workers
    )
    log.info("wrote %s: %s words x %d (%s)", dest, f"{len(store):,}", store.dim, dtype)


@vectors.command()
@click.argument("words", nargs=-1, required=True, metavar="WORD...", type=TEXT)
@vectors_option
@click.option(
    "-k",
    "k",
    type=click.IntRange(min=1),
    default=10,
    show_default=True,
    help="Neighbors per word.",
)
@click.option(
    "--min-count",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Only neighbors seen at least this often in the training corpus (stores made "
    "by `vectors train` keep the counts); rare words have noisy vectors.",
)
@output_options
def neighbors(words, vectors_path, k, min_count, output):
    """The K nearest words of each WORD by cosine similarity (exact).

    Writes word<TAB>rank<TAB>neighbor<TAB>cosine.

    \b
    Example:
      textkit vectors neighbors 酒店 手机 -k 5 --min-count 20
    """
    vec = open_vectors(vectors_path).check_words()
    candidates = None
    if min_count > 1:
        if vec.counts is None:
            raise UsageError(
                "--min-count needs word counts, which only stores made by `textkit vectors "
                "train` have"
            )
        candidates = np.asarray(vec.counts) >= min_count
        if not candidates.any():
            raise UsageError(f"no word of the vectors was seen {min_count:,} times (the most: "
                             f"{int(np.max(vec.counts)):,}); give a smaller --min-count")
    known = []
    for w in words:
        if w not in vec:
            log.warning("%r is not in the vocabulary; skipped", w)
        elif not np.isfinite(vec.matrix[vec.index_of(w)]).all():
            raise damaged_row_error(vec.words, vec.index_of(w), vec.path)
        elif not _has_direction(vec.matrix[vec.index_of(w)]):
            log.warning("%r has a zero vector, so no cosine with it; skipped", w)
        else:
            known.append(w)
    if not known:
        raise TextkitError(
            "none of the words has a usable vector"
            + (f" in {vectors_path}" if vectors_path else " in the default vectors")
        )
    ids = [vec.index_of(w) for w in known]
    top_ids, top_scores = vec.nearest_ids(vec.matrix[ids], k, exclude=ids, candidates=candidates)
    rows = []
    for w, row_ids, row_scores in zip(known, top_ids, top_scores):
        for rank, (j, s) in enumerate(zip(row_ids, row_scores), start=1):
            if j >= 0:
                rows.append((w, rank, vec.words[j], round(float(s), 6)))
        if not (row_ids >= 0).any():
            log.warning("%r has no neighbour%s", w, f" seen {min_count:,} times or more" if min_count > 1 else "")
    with open_output(output.path) as fh:
        write_rows(fh, rows, ("word", "rank", "neighbor", "cosine"), output.fmt, output.header)


def _has_direction(row) -> bool:
    """Whether a stored row has a cosine with others: not all zero (stores hold finite values)."""
    return bool(np.any(np.asarray(row) != 0))


def _disk_size(path: str) -> Optional[int]:
    if os.path.isdir(path):
        return sum(os.path.getsize(os.path.join(path, f)) for f in sorted(os.listdir(path)))
    if os.path.isfile(path):
        return os.path.getsize(path)
    return None


@vectors.command()
@click.argument("store", metavar="[STORE]", required=False)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["tsv", "json"]),
    default="tsv",
    show_default=True,
    help="key<TAB>value lines, or one JSON object.",
)
def info(store, fmt):
    """Facts about a store (or any vectors file): size, dimensions, identity, provenance.

    Without STORE: the bundled default vectors.
    """
    import json

    vec = open_vectors(store, other="give STORE for others").check_words()
    path = vec.path or store
    facts = {
        "path": path,
        "words": len(vec),
        "dim": vec.dim,
        "dtype": vec.dtype,
        "identity": vec.identity,
        "counts": vec.counts is not None,
        "store": bool(path and is_store(path)),
        "bytes_on_disk": _disk_size(path) if path else None,
        "first_words": " ".join(vec.words[:10]),
        "source": vec.meta.get("source"),
    }
    with open_output(None) as fh:
        if fmt == "json":
            fh.write(json.dumps(facts, ensure_ascii=False, sort_keys=True) + "\n")
        else:
            for key, value in facts.items():
                if isinstance(value, dict):
                    value = json.dumps(value, ensure_ascii=False, sort_keys=True)
                fh.write(f"{key}\t{format_value(value)}\n")


@vectors.command()
@click.argument("store", metavar="[STORE]", required=False)
@click.option(
    "-o", "--output", "dest", metavar="FILE",
    help="File to write, compressed if it ends in .gz, .bz2 or .xz (default: standard output; "
         "word2vec-binary needs a file)."
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(list(EXPORT_FORMATS)),
    default="word2vec",
    show_default=True,
    help="word2vec text (with header), word2vec binary, or GloVe text.",
)
def export(store, dest, fmt):
    """Write a store as a word2vec text / binary or GloVe file (exact float32 values).

    Without STORE: the bundled default vectors.

    \b
    Example:
      textkit vectors export myvectors --format word2vec-binary -o myvectors.bin
    """
    if fmt == "word2vec-binary" and dest in (None, "-"):
        raise UsageError("--format word2vec-binary needs -o FILE")
    from ..output import check_not_an_input, check_output_file

    if dest not in (None, "-"):
        check_output_file(dest)  # before the work, not after it
    check_not_an_input(dest, (), side=side_inputs({"store": store}))  # None: the bundled store; stdout too
    vec = open_vectors(store, other="give STORE to export others").check_words()
    n = export_vectors(vec, dest, format=fmt)
    if dest not in (None, "-"):
        log.info("wrote %s: %s words x %d (%s)", dest, f"{n:,}", vec.dim, fmt)
