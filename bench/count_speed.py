"""Word-counting speed and memory on ../shared/data/zh_corpus.txt.gz (issue: `textkit count`).

Arms, all timed in this one run, each in its own process:
  (a) the naive single-process loop: jieba.cut per line into a dict, same filters;
  (b) jieba's parallel mode as its README shows it: enable_parallel(2), one jieba.cut
      over the whole text, counted (same filters);
  (c) textkit count -j1;   (d) textkit count -j2.
Checks that (a), (c) and (d) give identical counts. Then: peak RSS of (d) with the
corpus fed 1x and 4x through stdin (memory must not grow with the input), and the
start-up time of `echo 今天天气不错 | textkit count`.

Usage: python bench/count_speed.py [--skip-parallel-mode]
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

from measure import run, shared_file

FILTER = """
import unicodedata
def keep(t):
    return t.strip() and any(unicodedata.category(c)[0] in "LNM" for c in t)
def emit(d):
    import sys
    rows = sorted(((w, c) for w, c in d.items() if keep(w)), key=lambda x: (-x[1], x[0]))
    sys.stdout.write("".join(f"{w}\\t{c}\\n" for w, c in rows))
"""

NAIVE = FILTER + """
import gzip, sys, jieba, logging
jieba.setLogLevel(logging.WARNING)
d = {}
with gzip.open(sys.argv[1], "rt", encoding="utf-8") as fh:
    for line in fh:
        for t in jieba.cut(line.rstrip("\\n")):
            d[t] = d.get(t, 0) + 1
emit(d)
"""

PARALLEL_MODE = FILTER + """
import gzip, sys, jieba, logging
jieba.setLogLevel(logging.WARNING)
jieba.enable_parallel(2)
text = gzip.open(sys.argv[1], "rt", encoding="utf-8").read()
d = {}
for t in jieba.cut(text):
    d[t] = d.get(t, 0) + 1
emit(d)
"""


def main() -> None:
    corpus = shared_file("zh_corpus.txt.gz")
    py = sys.executable
    textkit = [py, "-m", "textkit", "count"]
    arms = {
        "a_naive_loop": [py, "-c", NAIVE, str(corpus)],
        "b_jieba_parallel_2": [py, "-c", PARALLEL_MODE, str(corpus)],
        "c_textkit_j1": textkit + ["-j1", str(corpus)],
        "d_textkit_j2": textkit + ["-j2", str(corpus)],
    }
    if "--skip-parallel-mode" in sys.argv:
        del arms["b_jieba_parallel_2"]
    results = {}
    for name, cmd in arms.items():
        r = run(cmd)
        if r.returncode != 0:
            raise SystemExit(f"{name} failed: {r.stderr.decode()[-500:]}")
        results[name] = r
        print(f"{name:22s} {r.seconds:7.2f} s   peak RSS: tree {r.tree_peak_mb:7.1f} MB,"
              f" largest process {r.single_peak_mb:7.1f} MB", flush=True)

    exact = results["a_naive_loop"].stdout
    for name in ("c_textkit_j1", "d_textkit_j2"):
        print(f"{name} counts identical to the naive loop: {results[name].stdout == exact}")
    if "b_jieba_parallel_2" in results:
        print(f"b counts identical to the naive loop: {results['b_jieba_parallel_2'].stdout == exact}")
    words = exact.count(b"\n")
    print(f"distinct words: {words:,}")

    a = results["a_naive_loop"].seconds
    c = results["c_textkit_j1"].seconds
    d = results["d_textkit_j2"].seconds
    print(f"speed-up of (c) -j1 over the naive loop: {a / c:.2f}x  (target > 1)")
    print(f"speed-up of (d) -j2 over the naive loop: {a / d:.2f}x  (target >= 1.9)")
    if "b_jieba_parallel_2" in results:
        b = results["b_jieba_parallel_2"].seconds
        print(f"(d) faster than jieba parallel mode by: {(b - d) / b * 100:.1f}%  (target >= 15%)")

    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "corpus.txt"
        import gzip
        raw.write_bytes(gzip.decompress(corpus.read_bytes()))
        once = run(textkit + ["-j2", "-"], stdin_path=raw, stdin_repeat=1)
        four = run(textkit + ["-j2", "-"], stdin_path=raw, stdin_repeat=4)
    print(f"-j2 via stdin, corpus x1: peak RSS tree {once.tree_peak_mb:.1f} MB,"
          f" largest process {once.single_peak_mb:.1f} MB ({once.seconds:.1f} s)")
    print(f"-j2 via stdin, corpus x4: peak RSS tree {four.tree_peak_mb:.1f} MB,"
          f" largest process {four.single_peak_mb:.1f} MB ({four.seconds:.1f} s)")

    startups = []
    for _ in range(5):
        t = time.perf_counter()
        r = run(["sh", "-c", f"echo 今天天气不错 | {py} -m textkit count"])
        startups.append(time.perf_counter() - t)
    print(f"start-up, echo 今天天气不错 | textkit count: median {statistics.median(startups):.2f} s"
          " (target < 1.5 s)")
    print(f"FIGURE count -j2: {d:.2f} s, {a / d:.2f}x the naive loop, peak RSS tree"
          f" {results['d_textkit_j2'].tree_peak_mb:.0f} MB")


if __name__ == "__main__":
    main()
