"""``textkit sim`` (similarity of two texts or of a pairs file) and ``textkit search`` (top-k by WMD/WRD)."""

from __future__ import annotations

import itertools
import json

import click

from ..output import format_value, open_output, write_rows
from .options import (
    side_inputs,
    TEXT,
    TextkitCommand,
    encoding_options,
    given,
    normalize_option,
    oov_option,
    output_options,
    tokenizer_options,
    vectors_option,
    workers_option,
)


def _tokens(tokenizer_spec, text: str):
    from ..tokenize import get_tokenizer

    return get_tokenizer(tokenizer_spec).tokens(text)


@click.command(cls=TextkitCommand)
@click.argument("texts", nargs=-1, metavar="[TEXT1 TEXT2]", type=TEXT)
@click.option("--pairs", "pairs_path", metavar="FILE.tsv",
              help="Score every line text1<TAB>text2[<TAB>...] of FILE (- for stdin); "
                   "each line is written back with its score appended, in input order, in the column "
                   "after the first line's fields (a shorter line is padded with empty fields; blank "
                   "lines are skipped; --format csv|jsonl: line_number, line, score, valid).")
@click.option("--metric", type=click.Choice(["wrd", "wmd", "cosine", "whiten"]), default="wrd",
              show_default=True,
              help="wrd: Word Rotator's similarity 1 - WRD; wmd: Word Mover's Distance; cosine: "
                   "cosine of mean unit word vectors; whiten: the cosine after --whitening, of sentence "
                   "vectors made as for its fit (pooling, SIF weighting).")
@click.option("--distance", is_flag=True,
              help="Print a distance instead of a similarity (WRD itself; 1 - cosine).")
@normalize_option
@oov_option
@click.option("--sinkhorn", type=click.FloatRange(min=0, min_open=True), metavar="EPS",
              help="APPROXIMATE transport with entropic regularisation EPS instead of the exact solver.")
@click.option("--whitening", "whitening_path",
              metavar="PARAMS.npz",
              help="Whitening parameters from `textkit whiten fit` (for --metric whiten).")
@click.option("--counts", metavar="FILE",
              help="Word counts (from `textkit count`) giving p(w) for whitening fitted with SIF "
                   "weighting and --counts; default: the store's counts.")
@click.option("--explain", is_flag=True,
              help="WMD/WRD of one pair: also print the word pairs of the transport plan that "
                   "add most to the distance, mass x cost (word1, word2, mass moved, unit cost).")
@click.option("--top", type=click.IntRange(min=1), default=10, show_default=True,
              help="Word pairs shown by --explain.")
@encoding_options
@tokenizer_options
@vectors_option
@workers_option
@output_options
def sim(texts, pairs_path, metric, distance, normalize, oov, sinkhorn, whitening_path, counts, explain, top,
        encoding, strict, tokenizer_spec, vectors_path, workers, output):
    """Similarity of TEXT1 and TEXT2, or of every pair in --pairs FILE.

    Prints one number: WRD similarity (1 - WRD; identical texts give 1) by default,
    the WMD distance with --metric wmd, the cosine with --metric cosine|whiten.
    A side with no word in the vectors is an error for one pair; in a pairs file it
    is scored as the worst value (similarity -1 for WRD and cosine, 2 with
    --distance; for WMD the largest possible distance) with a warning naming the lines.

    \b
    Examples:
      textkit sim "今天天气很好" "今天天气不错"
      textkit sim "猫坐在垫子上" "狗躺在地毯上" --metric wmd --normalize --explain
      textkit sim --pairs pairs.tsv -j 2 -o scored.tsv
    """
    from .. import pair_scoring, transport
    from ..vectors import open_vectors_cached

    if metric == "whiten" and not whitening_path:
        raise click.UsageError("--metric whiten needs --whitening PARAMS.npz (from `textkit whiten fit`)")
    if whitening_path and metric != "whiten":
        raise click.UsageError("--whitening is used by --metric whiten only")
    if counts and metric != "whiten":
        raise click.UsageError("--counts gives p(w) for SIF-weighted whitening: use it with --metric whiten")
    if normalize and metric != "wmd":
        raise click.UsageError("--normalize applies to --metric wmd only (WRD always compares directions)")
    if explain and metric not in ("wrd", "wmd"):
        raise click.UsageError("--explain shows a transport plan: use it with --metric wrd or wmd")
    if given("top") and not explain:
        raise click.UsageError("--top is the number of word pairs --explain shows: use it with --explain")
    if explain and sinkhorn is not None:
        raise click.UsageError("--explain shows the exact transport plan: use it without --sinkhorn")
    if explain and output.fmt == "csv":  # a CSV file holds one table; --explain gives a score and a table
        raise click.UsageError("--explain prints the score and a table of word pairs, which one CSV table "
                               "cannot hold: use --format tsv or jsonl")
    if metric in ("cosine", "whiten") and (sinkhorn is not None or given("oov")):
        raise click.UsageError("--oov and --sinkhorn apply to --metric wrd and wmd only (cosine drops "
                               "words without a vector)")
    if sinkhorn is not None and metric in ("wrd", "wmd"):
        import logging

        logging.getLogger("textkit").info("--sinkhorn %g: entropic regularisation, the values are APPROXIMATE",
                                          sinkhorn)
    job = pair_scoring.PairJob(vectors_path, tokenizer_spec, metric=metric, normalize=normalize, oov=oov,
                               sinkhorn=sinkhorn, distance=distance, whitening_path=whitening_path,
                               counts_path=counts)
    if pairs_path is not None:
        if texts:
            raise click.UsageError("give either TEXT1 TEXT2 or --pairs FILE, not both")
        if explain:
            raise click.UsageError("--explain works on one pair (TEXT1 TEXT2), not on --pairs")
        from ..corpus import one_file
        from ..output import check_not_an_input

        one_file(pairs_path, "--pairs")
        check_not_an_input(output.path, [pairs_path])
        _score_file(pairs_path, job, workers, output, encoding, strict)
        return
    if len(texts) != 2:
        raise click.UsageError(f"expected TEXT1 TEXT2 (or --pairs FILE), got {len(texts)} text(s)")
    tokens1, tokens2 = _tokens(tokenizer_spec, texts[0]), _tokens(tokenizer_spec, texts[1])
    vectors = open_vectors_cached(vectors_path)
    if metric in ("cosine", "whiten"):
        scorer = pair_scoring.SentenceCosine(vectors, whitening_path if metric == "whiten" else None, counts)
        scorer.warn_if_fitted_otherwise(tokenizer_spec)
        scores, valid, _, _ = scorer.scores([(tokens1, tokens2)])
        if not valid[0]:
            batch = scorer.encoder.encode([tokens1, tokens2])
            for number, tokens, known, row in zip((1, 2), (tokens1, tokens2), batch.known, batch.matrix):
                if not known:
                    raise _empty_text(number, tokens, vectors)
                if not row.any():
                    raise transport.EmptyBagError(f"text {number} has a zero sentence vector (its word vectors "
                                                  "cancel out): no cosine")
            raise transport.EmptyBagError("the whitened sentence vectors have no cosine")
        value = 1.0 - float(scores[0]) if distance else float(scores[0])
        _write_one(output, metric, distance, value)
        return
    engine = transport.Transport(vectors, metric=metric, normalize=normalize, oov=oov, sinkhorn=sinkhorn)
    bag1, bag2 = engine.bag(tokens1, what="text 1"), engine.bag(tokens2, what="text 2")
    for number, bag, tokens in ((1, bag1, tokens1), (2, bag2, tokens2)):
        if bag.empty:
            raise _empty_text(number, tokens, vectors)
    value = engine.distance(bag1, bag2)
    if not distance:
        value = engine.score(value)
    flows = engine.explain(bag1, bag2, top=top) if explain else None
    if bag1.n_oov or bag2.n_oov:
        import logging

        logging.getLogger("textkit").info("dropped %d + %d tokens without a vector", bag1.n_oov, bag2.n_oov)
    _write_one(output, metric, distance, value, flows)


def _empty_text(number: int, tokens, vectors) -> Exception:
    """The error for a text that carries nothing to compare: no token, none in the vectors, or only
    words whose vectors are zero."""
    from .. import transport

    what = ("is empty" if not tokens else "has no word with a nonzero vector"
            if any(token in vectors for token in tokens) else "has no word in the vectors")
    return transport.EmptyBagError(f"text {number} {what} ({len(tokens)} token{'s' * (len(tokens) != 1)})")


def _write_one(output, metric: str, distance: bool, value: float, flows=None) -> None:
    """One pair's score: a bare number (under a "similarity"/"distance" line with --header or
    --format csv), then --explain's rows (TSV only); or with --format jsonl one object
    ``{"metric", "similarity"|"distance"[, "explain"]}``."""
    columns = ["word1", "word2", "mass", "cost"]
    rows = [[f.source, f.target, float(f.mass), float(f.cost)] for f in flows or ()]
    name = "distance" if distance or metric == "wmd" else "similarity"
    with open_output(output.path) as fh:
        if output.fmt == "jsonl":
            record = {"metric": metric, name: value}
            if flows is not None:
                record["explain"] = [dict(zip(columns, row)) for row in rows]
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")
            return
        if output.header or output.fmt == "csv":
            fh.write(name + "\n")
        fh.write(format_value(value) + "\n")
        if flows is not None:
            write_rows(fh, rows, columns, output.fmt, header=True)


def _aligned(rows, tabs: int):
    """Keep every score in one column: the one after the first line's fields.

    A line with fewer fields than the first is padded with empty fields (so that
    ``cut -f`` finds every score in the same place); one with more keeps them (its
    score then sits further right), with one warning.
    """
    import logging

    warned = False
    for number, line, score, ok in rows:
        have = line.count("\t")
        if have < tabs:
            line += "\t" * (tabs - have)
        elif have > tabs and not warned:
            warned = True
            logging.getLogger("textkit").warning(
                "line %d has %d fields, more than the first line's %d: its score is not in the first line's "
                "score column (give every line the same fields)", number, have + 1, tabs + 1)
        yield number, line, score, ok


def _score_file(path: str, job, workers: int, output, encoding: str, strict: bool) -> None:
    from ..pair_scoring import score_pairs_file

    rows = score_pairs_file(path, job, workers=workers, encoding=encoding, strict=strict)
    with open_output(output.path) as fh:
        if output.fmt == "tsv":
            first = next(rows, None)
            if first is not None:
                tabs = first[1].count("\t")
                if output.header:  # as wide as the first line: its fields, then "score"
                    fh.write("\t".join(["text1", "text2", *(f"field{i}" for i in range(3, tabs + 2)), "score"]) + "\n")
                rows = _aligned(itertools.chain([first], rows), tabs)
            for _number, line, score, _ok in rows:
                fh.write(f"{line}\t{format_value(score)}\n")
        else:
            write_rows(fh, ((number, line, score, ok) for number, line, score, ok in rows),
                       ["line_number", "line", "score", "valid"], output.fmt, output.header)


@click.command(cls=TextkitCommand)
@click.argument("query", required=False, type=TEXT)
@click.option("--corpus", "corpus_path", metavar="FILE",
              help="Documents, one per line (gz/bz2/xz read transparently).")
@click.option("--index", "index_path", metavar="INDEX.npz",
              help="A prepared index from --build-index (instead of --corpus).")
@click.option("--build-index", "build_path", metavar="INDEX.npz",
              help="Tokenize --corpus once and save its tokens to INDEX.npz for later queries.")
@click.option("-k", "--top", "k", type=click.IntRange(min=1), default=10, show_default=True,
              help="Number of documents to return.")
@click.option("--metric", type=click.Choice(["wmd", "wrd"]), default="wrd", show_default=True,
              help="wmd: distance (smaller first); wrd: similarity 1 - WRD (larger first).")
@normalize_option
@click.option("--oov", type=click.Choice(["drop", "error", "split"]), default=None,
              help="Tokens without a vector, in the query and the documents: drop them (the default), "
                   "stop with an error, or split them into their known pieces. With --index: the "
                   "policy the index was built with.")
@click.option("--queries", "queries_path", metavar="FILE",
              help="One query per line (- for stdin; blank lines skipped) instead of QUERY: writes "
                   "query_line<TAB>score<TAB>line_number<TAB>text, queries in file order.")
@click.option("--brute-force", is_flag=True, help="Solve every document exactly (no pruning; for checking).")
@encoding_options
@tokenizer_options
@vectors_option
@workers_option
@output_options
def search(query, corpus_path, index_path, build_path, k, metric, normalize, oov, queries_path, brute_force,
           encoding, strict, tokenizer_spec, vectors_path, workers, output):
    """The k documents of a corpus nearest to QUERY by WMD or WRD.

    Prints score<TAB>line_number<TAB>text, best first (line numbers 1-based as in
    the corpus; ties by line number). Documents are pruned with lower bounds
    (centroid, relaxed, dual LP) before exact solves: the result equals brute
    force exactly.

    \b
    Examples:
      textkit search "物流很快" --corpus reviews.txt -k 5
      textkit search --corpus reviews.txt --build-index reviews.npz
      textkit search "物流很快" --index reviews.npz --metric wmd
      textkit search "借呗怎么还款" --corpus faq.txt --oov split
      textkit search --queries questions.txt --index reviews.npz -k 3
    """
    from .. import search as searching
    from ..corpus import Corpus, one_file
    from ..output import check_distinct_outputs, check_not_an_input, check_output_file, is_compressed_name
    from ..vectors import open_vectors_cached

    if normalize and metric != "wmd":
        raise click.UsageError("--normalize applies to --metric wmd only (WRD always compares directions)")
    if (corpus_path is None) == (index_path is None):
        raise click.UsageError("give exactly one of --corpus FILE and --index INDEX.npz")
    if build_path is not None and corpus_path is None:
        raise click.UsageError("--build-index needs --corpus FILE")
    if query is not None and queries_path is not None:
        raise click.UsageError("give either QUERY or --queries FILE, not both")
    if query is None and queries_path is None and build_path is None:
        raise click.UsageError("missing QUERY (or --queries FILE, or --build-index INDEX.npz to only prepare "
                               "an index)")
    check_not_an_input(output.path, [p for p in (corpus_path, queries_path) if p is not None])
    if build_path is not None:
        if is_compressed_name(build_path) or build_path == "-":
            raise click.UsageError(f"--build-index {build_path}: an index is an .npz archive, written as it is; "
                                   "name it .npz")
        check_distinct_outputs(("-o", output.path), ("--build-index", build_path))
        check_output_file(build_path)  # before tokenizing the whole corpus
        check_not_an_input(build_path, [corpus_path, queries_path], "--build-index",
                           side=side_inputs({"vectors_path": vectors_path, "tokenizer_spec": tokenizer_spec}))
    queries = None
    if queries_path is not None:  # read first: a missing or broken file fails before the index is built
        one_file(queries_path, "--queries")
        queries = [(r.line, r.text) for r in Corpus([queries_path], encoding=encoding, strict=strict).records()
                   if r.text.strip()]
    vectors = open_vectors_cached(vectors_path)
    if index_path is not None:
        index = searching.SearchIndex.load(index_path, vectors, tokenizer_spec)
    else:
        index = searching.SearchIndex.build(corpus_path, vectors, tokenizer_spec, workers=workers,
                                            vectors_path=vectors_path, encoding=encoding, strict=strict,
                                            oov=oov or "drop")
        if build_path is not None:
            import logging

            index.save(build_path)
            logging.getLogger("textkit").info("wrote %s: %s documents of %s", build_path, f"{len(index):,}",
                                              corpus_path)
    if queries is not None:
        results = searching.search_queries(index, ((n, _tokens(tokenizer_spec, text)) for n, text in queries),
                                           k=k, metric=metric, normalize=normalize, prune=not brute_force,
                                           oov=oov)
        with open_output(output.path) as fh:
            write_rows(fh, ([number, h.score, h.line, h.text] for number, hits in results for h in hits),
                       ["query_line", "score", "line_number", "text"], output.fmt, output.header)
        return
    if query is None:
        return
    hits = searching.search(index, _tokens(tokenizer_spec, query), k=k, metric=metric,
                            normalize=normalize, prune=not brute_force, oov=oov)
    with open_output(output.path) as fh:
        write_rows(fh, ([h.score, h.line, h.text] for h in hits), ["score", "line_number", "text"],
                   output.fmt, output.header)
