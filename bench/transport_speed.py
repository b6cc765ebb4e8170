"""Speed of WMD / WRD (issue 6): pairs per second and top-k search time per query.

Pairs: the 10,000 pairs of ../shared/data/sts/BQ.test.tsv (exactly 10,000; short
customer-service questions with many repeated sentences), or with --set ATEC the
first 10,000 of ATEC's test pairs (longer, fewer repeats: more work per pair, so
the pool's fixed costs weigh less in the -j2 / -j1 ratio), or with --set ALL
--pairs 72050 every Chinese STS pair (test, dev and train files; a job of several
seconds, where the pool's fixed costs per run are small beside the work).

* linprog reference: scipy.optimize.linprog (HiGHS) on the dense LP of each pair
  over distinct words, on a subset, scaled to pairs/s; its values are checked
  against textkit's.
* gensim KeyedVectors.wmdistance (norm=False, the same maths as textkit's WMD),
  on pairs tokenized beforehand (tokenization not counted for gensim).
* a plain loop of ot.emd2 for WRD on pairs tokenized beforehand (the issue's
  reference figure).
* textkit, tokenization included: the library call behind `textkit sim --pairs`
  in a fresh process after warm-up (-j1, -j2; the warm-up loads POT's solver and
  jieba's dictionary and imports multiprocess: one-time costs per process, the
  ~15 ms import of multiprocess paid only by runs with workers), and the command
  itself end to end (`python -m textkit sim --pairs FILE -jN`, interpreter
  start, imports and dictionary loading included, textkit's modules compiled as
  in an installed copy; "marginal" subtracts a 5-pair
  run of the same command, i.e. the fixed start-up cost, which is printed too).
* where -j2 falls short of 2x -j1: the CPU seconds of the library runs (the
  -j1 process; the -j2 workers, summed, and the -j2 parent) and the ceiling they
  allow on 2 cores, 2 x CPU(-j1) / CPU(all -j2 processes); the timeline of one
  -j2 run (when the first batch reaches a worker: everything the parent does
  first, forks, reading and checking the file, grouping; the busiest worker's
  time in its batches; when the last batch is done); and a machine check: 2
  processes of a pure-Python loop vs 1, with ~1.5 s of work per process and
  with ~0.15 s, through the pool (its start-up included) and with both
  processes forked beforehand (what the cores give a short job by themselves).
* what splitting alone allows: the pairs read and grouped first, the processes
  forked first and waiting, then the scoring timed in this process, in one
  forked process and in two at once (half the batches each); with the set-up and
  reading that both runs do, this gives the -j2 / -j1 ratio of a pool that would
  cost nothing to start, feed and collect from.

Search: 20,000 documents (every 7th line of ../shared/data/zh_corpus.txt.gz),
a prepared index (built once, timed separately; its file size and its load with
the WRD centroids), queries = sentences from the STS-B test set; per-query time
pruned vs brute force and the results compared (same lines, order and scores).

Usage: python bench/transport_speed.py [--vectors STORE] [--set BQ|ATEC] [--pairs N] [--queries Q]
                                       [--skip-search] [--skip-pairs]
The figures are printed last.
"""

from __future__ import annotations

import argparse
import gzip
import os
import resource
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "data"

from measure import installed_environment
from textkit import transport as tr
from textkit.pair_scoring import PairJob, score_pairs_file
from textkit.search import SearchIndex, search
from textkit.tokenize import TokenizerSpec, get_tokenizer
from textkit.vectors import open_vectors, open_vectors_cached


# --set ALL: every Chinese STS file, test, dev and train (72,050 pairs, more than one
# window of textkit.pair_scoring.PAIR_WINDOW): how -j2 scales when the job is long
ALL_SETS = ["ATEC.test.tsv", "ATEC.valid.tsv", "BQ.test.tsv", "BQ.dev.tsv", "PAWSX.test.tsv",
            "PAWSX.dev.tsv", "STS-B.test.tsv", "STS-B.dev.tsv", "STS-B.train.tsv"]


def rate(n, seconds):
    return n / seconds if seconds > 0 else float("inf")


def linprog_value(a, b, cost):
    from scipy.optimize import linprog

    n, m = cost.shape
    a_eq = np.zeros((n + m, n * m))
    for i in range(n):
        a_eq[i, i * m:(i + 1) * m] = 1.0
    for j in range(m):
        a_eq[n + j, j::m] = 1.0
    res = linprog(cost.ravel(), A_eq=a_eq, b_eq=np.concatenate([a, b]), bounds=(0, None), method="highs")
    return float(res.fun)


def bench_pairs(args, vectors, out):
    rows = []
    for name in ALL_SETS if args.set == "ALL" else [f"{args.set}.test.tsv"]:
        with open(DATA / "sts" / name, encoding="utf-8") as fh:
            for line in fh:
                if len(rows) >= args.pairs:
                    break
                s1, s2 = line.rstrip("\n").split("\t")[:2]
                rows.append((len(rows) + 1, s1, s2))
    n = len(rows)
    tok = get_tokenizer(TokenizerSpec())
    t0 = time.perf_counter()
    token_pairs = [(tok.tokens(s1), tok.tokens(s2)) for _, s1, s2 in rows]
    out["jieba tokenization of all pairs (s)"] = time.perf_counter() - t0

    # linprog reference on a subset
    t = tr.Transport(vectors, metric="wmd")
    subset = []
    for t1, t2 in token_pairs:
        b1, b2 = t.bag(t1), t.bag(t2)
        if not b1.empty and not b2.empty:
            subset.append((b1, b2))
        if len(subset) >= args.linprog:
            break
    t0 = time.perf_counter()
    ref = [linprog_value(b1.mass, b2.mass, t.cost(b1, b2)) for b1, b2 in subset]
    lp_time = time.perf_counter() - t0
    ours = [t.distance(b1, b2) for b1, b2 in subset]
    out[f"linprog WMD pairs/s (subset of {len(subset)})"] = rate(len(subset), lp_time)
    out["max |textkit - linprog| WMD"] = float(np.max(np.abs(np.array(ours) - np.array(ref))))

    # gensim wmdistance, tokenized beforehand
    try:
        from gensim.models import KeyedVectors

        kv = KeyedVectors(vector_size=vectors.dim)
        kv.add_vectors(vectors.words, np.asarray(vectors.matrix, dtype=np.float32))
        t0 = time.perf_counter()
        g = [kv.wmdistance(t1, t2, norm=False) for t1, t2 in token_pairs]
        out["gensim wmdistance pairs/s (pre-tokenized)"] = rate(n, time.perf_counter() - t0)
        finite = np.isfinite(g)
        lib = tr.score_pairs(token_pairs, vectors, metric="wmd")
        out["max |textkit - gensim| WMD (finite pairs)"] = float(np.max(np.abs(lib[finite] - np.array(g)[finite])))
    except ImportError:
        out["gensim wmdistance pairs/s (pre-tokenized)"] = float("nan")

    # a plain loop of ot.emd2 for WRD, tokenized beforehand
    import ot

    w = tr.Transport(vectors, metric="wrd")
    t0 = time.perf_counter()
    for t1, t2 in token_pairs:
        b1, b2 = w.bag(t1), w.bag(t2)
        if not b1.empty and not b2.empty:
            ot.emd2(b1.mass, b2.mass, w.cost(b1, b2))
    out["plain ot.emd2 loop WRD pairs/s (pre-tokenized)"] = rate(n, time.perf_counter() - t0)

    # textkit library, tokenization included, after warm-up (imports, dictionary)
    with tempfile.TemporaryDirectory() as tmp:
        pairs_path = os.path.join(tmp, "pairs.tsv")
        with open(pairs_path, "w", encoding="utf-8") as fh:
            fh.writelines(f"{s1}\t{s2}\n" for _, s1, s2 in rows)
        tiny_path = os.path.join(tmp, "tiny.tsv")
        with open(tiny_path, "w", encoding="utf-8") as fh:
            fh.writelines(f"{s1}\t{s2}\n" for _, s1, s2 in rows[:5])
        results, best, cpu = {}, {}, {}
        for _ in range(args.repeat):  # alternate -j1 / -j2 and keep each one's best (a shared machine)
            for metric in ("wmd", "wrd"):
                for workers in (1, 2):
                    # a fresh process holding only textkit (not gensim and the lists above), warmed up
                    cmd = [sys.executable, __file__, "--measure-library", pairs_path, metric, str(workers)]
                    if args.vectors:
                        cmd += ["--vectors", args.vectors]
                    done = subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=ROOT)
                    seconds, digest, own_cpu, workers_cpu = done.stdout.split()
                    results[metric, workers] = digest
                    if float(seconds) < best.get((metric, workers), 1e9):
                        best[metric, workers] = float(seconds)
                        cpu[metric, workers] = (float(own_cpu), float(workers_cpu))
        for metric in ("wmd", "wrd"):
            for workers in (1, 2):
                out[f"textkit {metric.upper()} -j{workers} pairs/s (library, tokenization incl.)"] = rate(
                    n, best[metric, workers])
            out[f"textkit {metric.upper()} -j2 / -j1 (library)"] = best[metric, 1] / best[metric, 2]
            out[f"textkit {metric.upper()} -j1 and -j2 identical"] = results[metric, 1] == results[metric, 2]
            # where -j2 loses against 2x: CPU seconds of the same runs (best of the repeats)
            single, (parent, pool_cpu) = cpu[metric, 1][0], cpu[metric, 2]
            out[f"textkit {metric.upper()} CPU s: -j1 process / -j2 workers (sum) / -j2 parent"] = (
                f"{single:.3f} / {pool_cpu:.3f} / {parent:.3f}")
            out[f"textkit {metric.upper()} -j2 ceiling from CPU: 2 x (-j1 CPU) / (workers + parent CPU)"] = (
                2 * single / (pool_cpu + parent))
            # where the -j2 run's time goes (one run, after the timed ones)
            cmd = [sys.executable, __file__, "--measure-timeline", pairs_path, metric]
            if args.vectors:
                cmd += ["--vectors", args.vectors]
            done = subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=ROOT)
            first, busiest, last, total = (float(x) for x in done.stdout.split())
            out[f"textkit {metric.upper()} -j2 timeline s: first batch sent / busiest worker's work / "
                "last batch done / run"] = f"{first:.3f} / {busiest:.3f} / {last:.3f} / {total:.3f}"
            # what splitting the scoring over two forked processes allows, without the pool
            cmd[2] = "--measure-split"
            split = [1e9] * 4  # each timing's best over the repeats (fresh processes)
            for _ in range(args.repeat):
                done = subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=ROOT)
                split = [min(a, float(b)) for a, b in zip(split, done.stdout.split())]
            setup, here, one, two = split
            bound = (setup + here) / (setup + two)
            out[f"textkit {metric.upper()} scoring alone s: set-up and reading / here / 1 forked process / "
                "2 forked processes"] = f"{setup:.3f} / {here:.3f} / {one:.3f} / {two:.3f}"
            out[f"textkit {metric.upper()} -j2 / -j1 with a pool that costs nothing: (set-up + here) / "
                "(set-up + 2 processes)"] = bound
        vec_args = ["--vectors", args.vectors] if args.vectors else []
        env = installed_environment()  # textkit's modules compiled, as an installed copy has them
        for metric in ("wmd", "wrd"):
            for workers in (1, 2):
                base = [sys.executable, "-m", "textkit", "sim", "--metric", metric, "-j", str(workers),
                        "-q", "-o", os.devnull, *vec_args, "--pairs"]
                startup = total = 1e9
                for _ in range(args.repeat):
                    t0 = time.perf_counter()
                    subprocess.run(base + [tiny_path], check=True, cwd=ROOT, env=env)
                    startup = min(startup, time.perf_counter() - t0)
                    t0 = time.perf_counter()
                    subprocess.run(base + [pairs_path], check=True, cwd=ROOT, env=env)
                    total = min(total, time.perf_counter() - t0)
                key = f"textkit sim --pairs --metric {metric} -j{workers}"
                out[key + " pairs/s end to end"] = rate(n, total)
                out[key + f" pairs/s marginal (minus start-up {startup:.2f} s)"] = rate(n, total - startup)


def bench_search(args, vectors, out):
    docs = []
    with gzip.open(DATA / "zh_corpus.txt.gz", "rt", encoding="utf-8") as fh:
        for i, line in enumerate(fh):
            if i % 7 == 0:
                docs.append(line.rstrip("\n"))
                if len(docs) >= args.docs:
                    break
    with tempfile.TemporaryDirectory() as tmp:
        corpus = os.path.join(tmp, "docs.txt")
        with open(corpus, "w", encoding="utf-8") as fh:
            fh.write("\n".join(docs) + "\n")
        t0 = time.perf_counter()
        index = SearchIndex.build(corpus, vectors, TokenizerSpec(), workers=2, vectors_path=args.vectors)
        for metric, normalize in (("wmd", False), ("wrd", False)):
            index.centroids(metric, normalize)
        out[f"search index build, {len(docs)} docs, -j2 (s)"] = time.perf_counter() - t0
        saved = os.path.join(tmp, "docs.npz")
        index.save(saved)
        out[f"search index file, {len(docs)} docs: MB (the corpus: MB)"] = (
            f"{os.path.getsize(saved) / 1e6:.1f} ({os.path.getsize(corpus) / 1e6:.1f})")
        t0 = time.perf_counter()
        SearchIndex.load(saved, vectors).centroids("wrd")
        out[f"search index load with WRD centroids, {len(docs)} docs (s)"] = time.perf_counter() - t0
    tok = get_tokenizer(TokenizerSpec())
    queries = []
    with open(DATA / "sts" / "STS-B.test.tsv", encoding="utf-8") as fh:
        for line in fh:
            queries.append(tok.tokens(line.split("\t")[0]))
            if len(queries) >= args.queries:
                break
    for metric in ("wmd", "wrd"):
        pruned_t = brute_t = 0.0
        same = True
        exact = 0
        for q in queries:
            t0 = time.perf_counter()
            a = search(index, q, k=10, metric=metric)
            pruned_t += time.perf_counter() - t0
            t0 = time.perf_counter()
            b = search(index, q, k=10, metric=metric, prune=False)
            brute_t += time.perf_counter() - t0
            same &= a.hits == b.hits
            exact += a.exact
        nq = len(queries)
        out[f"search {metric.upper()} k=10: exact solves per query, pruned vs brute"] = (
            f"{exact / nq:.0f} vs {a.documents}")
        out[f"search {metric.upper()} k=10: ms per query, pruned"] = 1000 * pruned_t / nq
        out[f"search {metric.upper()} k=10: ms per query, brute force"] = 1000 * brute_t / nq
        out[f"search {metric.upper()} k=10: speed-up"] = brute_t / pruned_t
        out[f"search {metric.upper()} k=10: identical results"] = same


def measure_library(path, metric, workers, vectors_path):
    """Time score_pairs_file (what `sim --pairs` runs) after warm-up; print seconds and a digest."""
    import hashlib
    import logging

    logging.getLogger("textkit").setLevel(logging.ERROR)
    tr.Transport(open_vectors_cached(vectors_path), metric=metric)  # loads POT's solver
    get_tokenizer(TokenizerSpec()).tokens("预热")
    import multiprocess.context  # noqa: F401  the pool's import (with dill's), a one-time cost like POT's
    job = PairJob(vectors_path, TokenizerSpec(), metric=metric)
    own0, children0 = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    scores = [s for _, _, s, _ in score_pairs_file(path, job, workers=workers)]
    seconds = time.perf_counter() - t0
    # the pool does not wait for its idle workers to exit: reap them, so that their CPU
    # time is in RUSAGE_CHILDREN (outside the timing above)
    own1 = resource.getrusage(resource.RUSAGE_SELF)
    reap_workers()
    children1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    own = own1.ru_utime + own1.ru_stime - own0.ru_utime - own0.ru_stime
    children = children1.ru_utime + children1.ru_stime - children0.ru_utime - children0.ru_stime
    print(seconds, hashlib.sha256(np.asarray(scores).tobytes()).hexdigest(), own, children)


def measure_timeline(path, metric, vectors_path):
    """Where a -j2 run of score_pairs_file spends its time; prints four numbers (seconds):
    until the first batch is handed to a worker (set-up, forks, reading and checking the
    file, grouping), the busiest worker's time inside its batches, the last batch's end, the run."""
    import logging

    from textkit import pair_scoring

    logging.getLogger("textkit").setLevel(logging.ERROR)
    tr.Transport(open_vectors_cached(vectors_path), metric=metric)
    get_tokenizer(TokenizerSpec()).tokens("预热")
    import multiprocess.context  # noqa: F401
    from textkit import pool

    start = [0.0]
    first_put = []
    put = pool._Workers.put

    def timed_put(self, *args):
        if not first_put:
            first_put.append(time.perf_counter() - start[0])
        put(self, *args)

    read_end, write_end = os.pipe()
    score = pair_scoring.score_text_batch

    def timed_batch(batch):  # in the workers: (pid, busy seconds, end) per batch, through a pipe
        t0 = time.perf_counter()
        out = score(batch)
        t1 = time.perf_counter()
        os.write(write_end, f"{os.getpid()} {t1 - t0} {t1 - start[0]}\n".encode())
        return out

    pool._Workers.put = timed_put
    pair_scoring.score_text_batch = timed_batch
    job = PairJob(vectors_path, TokenizerSpec(), metric=metric)
    start[0] = time.perf_counter()
    for _ in score_pairs_file(path, job, workers=2):
        pass
    total = time.perf_counter() - start[0]
    os.close(write_end)
    busy, last = {}, 0.0
    with os.fdopen(read_end) as fh:
        for line in fh:
            pid, seconds, end = line.split()
            busy[pid] = busy.get(pid, 0.0) + float(seconds)
            last = max(last, float(end))
    print(first_put[0], max(busy.values()), last, total)


def measure_split(path, metric, vectors_path, repeat=3):
    """The -j2 / -j1 ratio that splitting the scoring between two forked processes allows by itself.

    Everything the pool adds is taken away: the file is read and grouped
    (:func:`group_batches`, as a -j2 run does) before the timing, and the
    processes are forked beforehand and wait.  Timed: the scoring of every
    batch in this process (what -j1 does, on a fresh text cache: run last),
    in one forked process, and in two forked processes at once (even and odd
    batches).  Prints four numbers (seconds): the set-up and reading that -j1
    and -j2 both do first (S), the scoring here (A), in one forked process, and
    in two (P); (S + A) / (S + P) is the -j2 / -j1 ratio a pool whose start,
    hand-out and collection took no time at all would give.
    """
    import gc
    import logging

    from textkit import pair_scoring

    logging.getLogger("textkit").setLevel(logging.ERROR)
    tr.Transport(open_vectors_cached(vectors_path), metric=metric)
    get_tokenizer(TokenizerSpec()).tokens("预热")
    job = PairJob(vectors_path, TokenizerSpec(), metric=metric)
    t0 = time.perf_counter()
    state = pair_scoring.init_pair_worker(job)
    rows = [(number, t1, t2) for number, _, t1, t2 in pair_scoring._checked_rows(path)]
    setup = time.perf_counter() - t0
    size = max(64, min(tr.PAIR_BATCH, len(rows) // 32))  # as score_pairs_file with 2 workers
    batches = [[rows[i] for i in batch] for batch in pair_scoring.group_batches([r[1:] for r in rows], size)]
    gc.freeze()

    def score(part):
        for batch in part:
            pair_scoring.score_batch_with(state, batch)

    one = two = 1e9
    for _ in range(repeat):
        one = min(one, run_forked([lambda: score(batches)]))
        two = min(two, run_forked([lambda: score(batches[0::2]), lambda: score(batches[1::2])]))
    t0 = time.perf_counter()
    score(batches)
    here = time.perf_counter() - t0
    print(setup, here, one, two)


def reap_workers(timeout: float = 10.0) -> None:
    """Wait until every worker process of this process has exited and been reaped."""
    import multiprocess

    deadline = time.monotonic() + timeout
    while multiprocess.active_children() and time.monotonic() < deadline:  # reaps the exited ones
        time.sleep(0.005)


def _burn(n: int) -> int:
    total = 0
    for i in range(n):
        total += i
    return total


def run_forked(tasks) -> float:
    """Seconds for processes forked beforehand, one per task (a callable), to run them all at once."""
    go_r, go_w = os.pipe()
    done_r, done_w = os.pipe()
    pids = []
    for task in tasks:
        pid = os.fork()
        if pid == 0:
            status = 1
            try:
                os.read(go_r, 1)
                task()
                status = 0
            except BaseException:  # noqa: BLE001 - shown, then told by the exit status
                traceback.print_exc()
            finally:
                os.write(done_w, b"x")  # done either way: the parent must not wait for ever
                os._exit(status)
        pids.append(pid)
    time.sleep(0.05)  # every process is waiting on the pipe
    t0 = time.perf_counter()
    os.write(go_w, b"x" * len(tasks))
    for _ in tasks:
        os.read(done_r, 1)
    seconds = time.perf_counter() - t0
    failed = [pid for pid in pids if os.waitpid(pid, 0)[1] != 0]
    for fd in (go_r, go_w, done_r, done_w):
        os.close(fd)
    if failed:
        raise RuntimeError(f"{len(failed)} of the forked tasks failed (see above)")
    return seconds


def forked_headroom(n: int = 3_000_000) -> float:
    """Speed-up of 2 processes over 1 on a pure-Python loop of n steps each, the processes
    forked beforehand and waiting (what the cores give a short job, without the pool's start-up)."""
    _burn(n)
    t0 = time.perf_counter()
    _burn(n)
    _burn(n)
    serial = time.perf_counter() - t0
    return serial / run_forked([lambda: _burn(n), lambda: _burn(n)])


def parallel_headroom(n: int = 3_000_000) -> float:
    """Speed-up of 2 processes over 1 on a pure-Python loop of n steps each, through the pool.

    3,000,000 steps take ~0.15 s; 30,000,000 (~1.5 s) show what the two cores give.
    """
    from textkit import pool

    t0 = time.perf_counter()
    _burn(n)
    _burn(n)
    serial = time.perf_counter() - t0
    t0 = time.perf_counter()
    list(pool.imap(_burn, [n, n], workers=2))
    return serial / (time.perf_counter() - t0)


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--measure-timeline":
        vectors_path = sys.argv[sys.argv.index("--vectors") + 1] if "--vectors" in sys.argv else None
        measure_timeline(sys.argv[2], sys.argv[3], vectors_path)
        return
    if len(sys.argv) > 1 and sys.argv[1] == "--measure-split":
        vectors_path = sys.argv[sys.argv.index("--vectors") + 1] if "--vectors" in sys.argv else None
        measure_split(sys.argv[2], sys.argv[3], vectors_path)
        return
    if len(sys.argv) > 1 and sys.argv[1] == "--measure-library":
        vectors_path = sys.argv[sys.argv.index("--vectors") + 1] if "--vectors" in sys.argv else None
        measure_library(sys.argv[2], sys.argv[3], int(sys.argv[4]), vectors_path)
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--vectors", default=None, help="vector store (default: the bundled one)")
    parser.add_argument("--pairs", type=int, default=10_000)
    parser.add_argument("--set", default="BQ", choices=["BQ", "ATEC", "PAWSX", "STS-B", "ALL"],
                        help="Chinese STS test set the pairs come from (its first --pairs lines); "
                             "ALL: every Chinese STS file")
    parser.add_argument("--linprog", type=int, default=300, help="pairs solved with linprog")
    parser.add_argument("--docs", type=int, default=20_000)
    parser.add_argument("--queries", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3, help="runs per timing, the best is kept")
    parser.add_argument("--skip-search", action="store_true")
    parser.add_argument("--skip-pairs", action="store_true", help="only the search figures")
    args = parser.parse_args()
    if not DATA.is_dir():
        sys.exit(f"{DATA} is not available")
    vectors = open_vectors(args.vectors)
    out = {"machine check: 2 processes vs 1, toy loop of ~1.5 s (before)": parallel_headroom(30_000_000),
           "machine check: 2 processes vs 1, toy loop of ~0.15 s (before)": parallel_headroom(),
           "machine check: 2 processes vs 1, toy loop of ~0.15 s, processes forked beforehand":
               max(forked_headroom() for _ in range(3))}
    if not args.skip_pairs:
        bench_pairs(args, vectors, out)
        out["machine check: 2 processes vs 1, toy loop of ~1.5 s (after pairs)"] = parallel_headroom(30_000_000)
        out["machine check: 2 processes vs 1, toy loop of ~0.15 s (after pairs)"] = parallel_headroom()
    if not args.skip_search:
        bench_search(args, vectors, out)
    source = "all Chinese STS files" if args.set == "ALL" else "test"
    print(f"pairs: {args.set} ({source}); vectors: {len(vectors):,} words x {vectors.dim}; cores: {os.cpu_count()}; "
          f"load average before the end: {os.getloadavg()[0]:.1f}")
    width = max(len(k) for k in out)
    for key, value in out.items():
        if not isinstance(value, float):
            text = str(value)
        elif abs(value) >= 10:
            text = f"{value:,.1f}"
        else:  # ratios (-j2 / -j1 against its 1.8 target) and small seconds: two decimals
            text = f"{value:.2f}" if abs(value) >= 1 else f"{value:.3g}"
        print(f"{key:<{width}}  {text}")


if __name__ == "__main__":
    main()
