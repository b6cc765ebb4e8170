"""Sentence pairs from a file, scored over the worker pool: what ``textkit sim --pairs`` runs.

A pairs file holds ``text1<TAB>text2[<TAB>...]`` lines.  :func:`score_pairs_file`
checks every line first (a line with one field is an error naming it), then
scores the pairs in batches: in this process with one worker, otherwise in
windows of :data:`PAIR_WINDOW` pairs whose batches keep the pairs that share a
text together (:func:`group_batches`), so no text is tokenized twice.  Each
score depends on its two texts alone, so the output is identical for any
number of workers.  The scores themselves come from :mod:`textkit.transport`
(WMD, WRD) or from pooled sentence vectors (cosine, whitened cosine).
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from textkit.errors import DataError, UsageError, in_file, preview
from textkit.pool import chunks
from textkit.transport import PAIR_BATCH, PairScorer, PairTally, Transport
from textkit.vectors import open_vectors_cached


@dataclass(frozen=True)
class PairJob:
    """Picklable settings for scoring raw sentence pairs in pool workers.

    ``vectors_path`` None means the default store; ``tokenizer_spec`` a
    :class:`textkit.tokenize.TokenizerSpec` (None: the default).  ``metric`` "cosine" and "whiten"
    use :class:`textkit.sentences.SentenceEncoder` (mean of unit word vectors;
    "whiten" applies the saved whitening ``whitening_path`` first) and score
    the cosine of the two sentence vectors.  ``distance`` turns a similarity
    into a distance (1 - WRD -> WRD, cosine -> 1 - cosine; WMD is one already).
    """

    vectors_path: str | None
    tokenizer_spec: object
    metric: str = "wrd"
    normalize: bool = False
    oov: str = "drop"
    sinkhorn: float | None = None
    distance: bool = False
    whitening_path: str | None = None
    counts_path: str | None = None

    def __post_init__(self) -> None:
        from textkit.tokenize import as_tokenizer_spec

        object.__setattr__(self, "tokenizer_spec", as_tokenizer_spec(self.tokenizer_spec))  # None: the default
        if self.metric not in METRICS:
            raise UsageError(f"unknown metric {self.metric!r}; choose one of {', '.join(METRICS)}")
        if (self.metric == "whiten") != (self.whitening_path is not None):
            raise UsageError("metric 'whiten' needs whitening_path (saved parameters), and only it uses them")
        if self.counts_path is not None and self.metric != "whiten":
            raise UsageError("counts_path gives p(w) for SIF-weighted whitening: use it with metric 'whiten'")
        if self.metric in ("cosine", "whiten") and (self.oov != "drop" or self.sinkhorn is not None):
            raise UsageError("oov and sinkhorn apply to metrics 'wrd' and 'wmd' only (cosine drops words "
                             "without a vector)")


METRICS = ("wrd", "wmd", "cosine", "whiten")
_WORKER: dict = {}


class SentenceCosine:
    """Cosine (optionally after whitening) of pooled sentence vectors, with the pair API of PairScorer.

    With saved whitening, sentence vectors are made as they were for the fit:
    the pooling, weighting and SIF constant it recorded; SIF's p(w) comes from
    ``counts_path`` (a count file) or else from the store (:meth:`warn_if_fitted_otherwise`
    tells when that is not the source of the fit).
    """

    def __init__(self, vectors, whitening_path: str | None, counts_path: str | None = None):
        from textkit.sentences import EMPTY_COSINE, SentenceEncoder, encoder_settings

        self.whitening = None
        self.whitening_path = whitening_path
        settings: dict = {}
        if whitening_path is not None:
            from textkit.whitening import Whitening

            self.whitening = Whitening.load(whitening_path, vectors_identity=vectors.identity)
            settings = encoder_settings(self.whitening.encoder_)
        if counts_path is not None and settings.get("weighting") != "sif":
            raise UsageError(f"--counts gives p(w) for SIF weighting, and {whitening_path or 'cosine'} "
                             "does not use it")
        counts = None
        if counts_path is not None:
            from textkit.sentences import read_counts  # as the fit read them (an empty file is named)

            counts = read_counts(counts_path)
        self.encoder = SentenceEncoder(vectors, counts=counts, **settings)
        self.error_value = EMPTY_COSINE

    def warn_if_fitted_otherwise(self, tokenizer_spec) -> None:
        """Log a warning when the whitening was fitted on sentence vectors made otherwise (e.g. SIF's
        p(w) from a count file, not given now) or on text tokenized otherwise than with
        ``tokenizer_spec``; call it once per run, not per worker."""
        if self.whitening is not None:
            from textkit.evaluate import warn_if_encoder_differs

            warn_if_encoder_differs(self.whitening, self.encoder, self.whitening_path, tokenizer_spec)

    def scores(self, token_pairs: Sequence[tuple[Sequence[str], Sequence[str]]]):
        """(cosines float64, valid mask, known tokens, total tokens) of a batch of pairs."""
        from textkit.sentences import cosine_rows

        n = len(token_pairs)
        batch = self.encoder.encode([t for pair in token_pairs for t in pair])
        matrix = np.asarray(batch.matrix, dtype=np.float64)
        if self.whitening is not None:
            matrix = self.whitening.transform(matrix)
        left, right = matrix[0::2], matrix[1::2]
        known = np.asarray(batch.known).reshape(n, 2)
        cos = cosine_rows(left, right)
        valid = (known > 0).all(axis=1) & (np.linalg.norm(left, axis=1) * np.linalg.norm(right, axis=1) > 0)
        cos[~valid] = self.error_value
        return cos, valid, int(np.sum(batch.known)), int(np.sum(batch.total))


def init_pair_worker(job: PairJob, inherited: bool = False) -> dict:
    """Pool initializer: vectors, tokenizer and a scorer with its text cache, for ``job``.

    Returns them (``job``, ``scorer``, ``tokens``) and installs them as this
    process's state for :func:`score_text_batch`; a caller scoring in its own
    process keeps the returned state, so two jobs can run side by side.
    ``inherited`` (in a forked worker): keep the state of the same job that the
    parent set up before forking, as it is, rather than read its files again
    (a count file given as ``-`` could not be).
    """
    from textkit.tokenize import get_tokenizer

    if inherited and _WORKER.get("job") == job:
        return dict(_WORKER)

    vectors = open_vectors_cached(job.vectors_path)
    # Build the word -> row index now (it is built on first lookup): run in the parent
    # first, this lets forked workers share one index instead of each building its own.
    vectors.lookup(())
    if job.metric in ("cosine", "whiten"):
        scorer = SentenceCosine(vectors, job.whitening_path if job.metric == "whiten" else None, job.counts_path)
    else:
        scorer = PairScorer(Transport(vectors, metric=job.metric, normalize=job.normalize, oov=job.oov,
                                      sinkhorn=job.sinkhorn))
        scorer.transport.warn_fallbacks = False  # counted in each batch's tally, warned of once per run
    state = {"job": job, "scorer": scorer, "tokens": get_tokenizer(job.tokenizer_spec).tokens}
    _WORKER.clear()
    _WORKER.update(state)
    return state


def _as_distance(job: PairJob, scores: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Similarity -> distance (1 - s) for WRD and cosine when asked; error values stay the worst."""
    if not job.distance or job.metric == "wmd":
        return scores
    out = 1.0 - scores
    out[~valid] = 2.0  # the largest distance of both 1 - cos and WRD
    return out


def score_text_batch(batch: Sequence[tuple[int, str, str]]) -> tuple[np.ndarray, np.ndarray, PairTally]:
    """Scores of ``(line, text1, text2)`` rows: (float64 scores, valid mask, tally).

    Runs in a pool worker set up by :func:`init_pair_worker`; see :func:`score_batch_with`.
    """
    return score_batch_with(_WORKER, batch)


def score_batch_with(state: dict, batch: Sequence[tuple[int, str, str]]):
    """:func:`score_text_batch` with the state :func:`init_pair_worker` returned.

    Texts are tokenized once per state (cached by text); an OOV error names the line.
    """
    job: PairJob = state["job"]
    scorer = state["scorer"]
    tokenize = state["tokens"]
    tally = PairTally(pairs=len(batch))
    if isinstance(scorer, SentenceCosine):
        scores, valid, known, total = scorer.scores([(tokenize(t1), tokenize(t2)) for _, t1, t2 in batch])
        tally.tokens, tally.oov = total, total - known
        tally.empty = [line for (line, _, _), ok in zip(batch, valid) if not ok]
        return _as_distance(job, scores, valid), valid, tally
    scores = np.empty(len(batch), dtype=np.float64)
    valid = np.ones(len(batch), dtype=bool)
    fallbacks = scorer.transport.sinkhorn_fallbacks
    bags = scorer.bags(((text, f"line {line}, text {side}")
                        for line, *texts in batch for side, text in enumerate(texts, 1)), tokenize)
    for k, (line, text1, text2) in enumerate(batch):
        bag1, bag2 = bags[text1], bags[text2]
        tally.tokens += bag1.n_tokens + bag2.n_tokens
        tally.oov += bag1.n_oov + bag2.n_oov
        scores[k], valid[k] = scorer.score_bags(bag1, bag2)
        if not valid[k]:
            tally.empty.append(line)
    tally.sinkhorn_fallbacks = scorer.transport.sinkhorn_fallbacks - fallbacks
    return _as_distance(job, scores, valid), valid, tally


def _first_oov_error(state: dict, rows) -> DataError | None:
    """The OOV error (``oov="error"``) of the first text of ``rows`` in input order, None if none has one."""
    scorer, tokenize = state["scorer"], state["tokens"]
    for number, _, text1, text2 in rows:
        for side, text in ((1, text1), (2, text2)):
            try:
                scorer.bags([(text, f"line {number}, text {side}")], tokenize)
            except DataError as exc:
                return exc
    return None


def _pair_rows(path: str, after: int = 0, *, encoding: str = "utf-8", strict: bool = False,
               report: bool = True) -> Iterable[tuple[int, str, str, str]]:
    """(line number, line, text1, text2) of a ``text1<TAB>text2[<TAB>...]`` file; DataError on 1 field.

    Read through :class:`textkit.corpus.Corpus` like every input: compressed or
    not, ``encoding``, invalid bytes replaced with a warning naming the line (an
    error with ``strict``).  Blank lines (nothing but spaces) are skipped, as
    ``eval`` skips them: a trailing empty line is common and holds no pair.  A
    line with a tab but empty sides is a pair, scored with the error value.  The
    first ``after`` lines are passed over (a second pass over a file resumes
    there, with ``report=False``: its warnings were given by the first).
    """
    from textkit.corpus import Corpus

    records = Corpus([path], encoding=encoding, strict=strict, report=report).records()
    for record in itertools.islice(records, after, None):
        line = record.text
        if "\t" not in line and not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) < 2:
            raise DataError(f"{record.source}:{record.line}: expected text1<TAB>text2, found one field "
                            f"{preview(line, 30)}")
        yield record.line, line, fields[0], fields[1]


def _checked_rows(path: str, encoding: str = "utf-8", strict: bool = False):
    """The rows of a pairs file, every line checked before the first is handed out.

    Standard input, a pipe (``<(cmd)``) or any other file that cannot be read
    twice is held in memory; a regular file is read once when it fits in one
    window of :data:`PAIR_WINDOW` rows, otherwise the rest is checked first and
    then read again, from the line after the first window.
    """
    if path == "-" or not os.path.isfile(path):
        return list(_pair_rows(path, encoding=encoding, strict=strict))
    rows = _pair_rows(path, encoding=encoding, strict=strict)
    first = list(itertools.islice(rows, PAIR_WINDOW))
    extra = 0
    for _ in rows:
        extra += 1
    if not extra:
        return first
    return itertools.chain(first, _pair_rows(path, after=first[-1][0], encoding=encoding, strict=strict,
                                             report=False))


def group_batches(texts: Sequence[tuple[str, str]], batch_size: int) -> list[list[int]]:
    """Pair indices grouped into batches so that pairs sharing a text share a batch.

    Pairs are joined when they share a text (connected components of the graph
    whose nodes are texts and whose edges are pairs); components are packed
    greedily, in order of their first pair, into batches of about
    ``batch_size`` (a larger component is cut).  A worker's text cache then
    holds every repeat of a text: across workers no text is tokenized twice.
    Within a batch pairs keep input order.  Every batch is a run of
    consecutive components, so the work is: number the texts (one dict pass),
    components (:func:`connected_components`, array operations), and one pass
    over the component sizes.
    """
    n = len(texts)
    if n == 0:
        return []
    node: dict = {}
    ends = np.fromiter((node.setdefault(text, len(node)) for pair in texts for text in pair[:2]),
                       dtype=np.int64, count=2 * n)
    left, right = ends[0::2], ends[1::2]
    # components numbered 0, 1, ... (by smallest node), then renumbered by their first
    # pair, then pairs laid out component by component
    _, first_pair, component = np.unique(connected_components(left, right, len(node))[left],
                                         return_index=True, return_inverse=True)
    rank = np.empty(len(first_pair), dtype=np.int64)
    rank[np.argsort(first_pair, kind="stable")] = np.arange(len(first_pair))
    order = np.argsort(rank[component], kind="stable")
    sizes = np.bincount(rank[component])
    cuts = [0]
    filled = position = 0
    for size in sizes.tolist():
        if filled + size <= batch_size:  # the usual case: the component fits
            filled += size
            position += size
            continue
        if filled:
            cuts.append(position)
            filled = 0
        for start in range(0, size, batch_size):
            part = min(batch_size, size - start)
            if filled and filled + part > batch_size:
                cuts.append(position)
                filled = 0
            filled += part
            position += part
    cuts.append(n)
    return [np.sort(order[a:b]).tolist() for a, b in zip(cuts, cuts[1:]) if b > a]


def connected_components(left: np.ndarray, right: np.ndarray, n: int) -> np.ndarray:
    """Component of each of ``n`` nodes joined by the edges ``(left[k], right[k])``: its smallest node.

    Min-label hooking with pointer jumping, in whole-array steps (no scipy,
    whose import would cost more than the grouping): every node points at a
    root; each round, every edge whose ends have different roots hooks the
    larger root under the smaller (pointers only ever decrease, so no cycle
    forms), then every node jumps to its root.  A round that hooks nothing ends
    it, so each edge's ends share a root and every root is its component's
    smallest node.
    """
    root = np.arange(n, dtype=np.int64)
    while True:
        a, b = root[left], root[right]
        differ = a != b
        if not differ.any():
            return root
        a, b = a[differ], b[differ]
        np.minimum.at(root, np.maximum(a, b), np.minimum(a, b))
        while True:
            up = root[root]
            if np.array_equal(up, root):
                break
            root = up


PAIR_WINDOW = 65_536  # pairs read, grouped and scored together when workers > 1


def _worth_many_batches(path: str, batch_size: int) -> bool:
    """Whether a pairs file is surely long enough for the pool (a few batches of long lines).

    Decides only whether the workers start before the file is read (their start
    then overlaps with the reading) or on first use; not standard input, whose
    size is unknown.
    """
    if path == "-":
        return False
    try:
        return os.stat(path).st_size >= 4 * batch_size * 256
    except OSError:
        return False  # _checked_rows reports it


def score_pairs_file(path: str, job: PairJob, *, workers: int = 1, batch_size: int = PAIR_BATCH,
                     encoding: str = "utf-8", strict: bool = False):
    """Yield ``(line, line_text, score, valid)`` for every line of a pairs file, in input order.

    The whole file is checked first (a line with one field raises
    :class:`DataError` naming it before any score is produced; standard input
    is held in memory for that), then scored in batches over the pool.  With
    several workers the file is taken in windows of :data:`PAIR_WINDOW` pairs
    whose batches are formed by :func:`group_batches` (results are put back in
    input order); one :class:`textkit.pool.Pool` serves every window, started
    before the file is read when the file is large (:func:`_worth_many_batches`).
    Notes on OOV tokens and a warning for pairs with an empty side are logged at
    the end.  Scores are identical for any number of workers: each is a function
    of its two texts alone.
    """
    from textkit import pool

    state = init_pair_worker(job)  # in this process first: errors surface here, forked workers inherit
    if job.metric not in ("cosine", "whiten"):
        state["tokens"]("预热")  # load the segmenter's dictionary before forking
    else:
        state["scorer"].warn_if_fitted_otherwise(job.tokenizer_spec)

    tally = PairTally()
    error_value = None
    scoring: list = []  # the window of rows being scored over the pool
    # One pool for every window: the workers fork once and keep their caches warm.
    with pool.Pool(score_text_batch, workers=workers, initializer=init_pair_worker,
                   initargs=(job, True)) as workers_pool:
        if workers > 1 and _worth_many_batches(path, batch_size):
            workers_pool.start()  # fork now: the workers get ready while this process reads
        source = _checked_rows(path, encoding, strict)
        try:
            if workers <= 1:  # in this process (set up above), one text cache for the whole file
                for chunk in chunks(source, batch_size):
                    scores, valid, part = score_batch_with(state, [(n, t1, t2) for n, _, t1, t2 in chunk])
                    tally = tally.merge(part)
                    if not valid.all():
                        error_value = float(scores[~valid][0])
                    for (number, line, _, _), score, ok in zip(chunk, scores.tolist(), valid.tolist()):
                        yield number, line, score, ok
            else:
                for window in chunks(source, PAIR_WINDOW):
                    # at least ~16 batches per worker, so that no worker idles long at the end
                    size = max(64, min(batch_size, len(window) // (16 * workers)))
                    batches = group_batches([(t1, t2) for _, _, t1, t2 in window], size)
                    items = ([(window[i][0], window[i][2], window[i][3]) for i in batch] for batch in batches)
                    if len(batches) < 2 and not workers_pool.started:
                        # the pool would run it here, on the state its initializer keeps for worker
                        # processes (shared by this process's threads): use this run's own
                        results = (score_batch_with(state, item) for item in items)
                    else:
                        results = workers_pool.imap(items)
                    scores = np.empty(len(window), dtype=np.float64)
                    valid = np.empty(len(window), dtype=bool)
                    done = np.zeros(len(window) + 1, dtype=bool)  # a False sentinel at the end
                    ready = 0
                    scoring = window
                    # the pool's iterator comes first so that zip runs it to its end (an iterator
                    # left before its end would close the pool)
                    for (part_scores, part_valid, part), batch in zip(results, batches):
                        scores[batch] = part_scores
                        valid[batch] = part_valid
                        done[batch] = True
                        tally = tally.merge(part)
                        if not part_valid.all():
                            error_value = float(part_scores[~part_valid][0])
                        # hand out the finished prefix of the window while the workers go on
                        stop = ready + int(np.argmin(done[ready:]))
                        for i in range(ready, stop):
                            number, line, _, _ = window[i]
                            yield number, line, float(scores[i]), bool(valid[i])
                        ready = stop
                    scoring = []
        except DataError as exc:  # an OOV error names the line and side; add the file
            if workers > 1 and job.oov == "error" and scoring:
                # batches are not in input order: name the first line with a token without a vector,
                # as one worker does
                exc = _first_oov_error(state, scoring) or exc
            raise type(exc)(in_file(path, str(exc))) from None
    tally.empty.sort()
    tally.report("line", error_value, job.sinkhorn)
