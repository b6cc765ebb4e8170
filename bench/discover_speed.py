"""Speed and memory of `textkit discover -j2` against a pure-Python dict implementation.

Input: ../shared/data/zh_corpus.txt.gz plus ../shared/data/sighan2005/pku_test.utf8, as in
bench/discover_quality.py. Arms, timed in this one run, each in its own process:
  (a) textkit discover -j2 with the defaults (it reports the min_count it chose);
  (b) the plain dict implementation of the same algorithm (tests/discovery_reference.py:
      dicts of strings, one process, the corpus read into a list) with that min_count.
Both outputs are checked equal (words and counts). Memory is the peak of the summed PSS
of the process tree (workers included), sampled every 20 ms (bench/measure.py).

Usage: python bench/discover_speed.py [--workers 2]
The last line printed is the figure.
"""

from __future__ import annotations

import argparse
import re
import sys

from measure import ROOT, run, shared_file

DICT_IMPL = """
import gzip, sys
sys.path.insert(0, sys.argv[1])
from tests.discovery_reference import reference_discover
docs = []
for path in sys.argv[3:]:
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as fh:
        docs.extend(line.rstrip("\\n") for line in fh)
rows = reference_discover(docs, int(sys.argv[2]))
sys.stdout.write("".join(f"{w}\\t{c}\\n" for w, c, *_ in rows))
"""


def words_counts(stdout: bytes):
    return [tuple(line.split("\t")[:2]) for line in stdout.decode("utf-8").splitlines()]


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args(argv)
    inputs = [str(shared_file("zh_corpus.txt.gz")), str(shared_file("sighan2005", "pku_test.utf8"))]

    fast = run([sys.executable, "-m", "textkit", "discover", *inputs, f"-j{args.workers}"])
    if fast.returncode != 0:
        raise SystemExit(fast.stderr.decode())
    found = re.search(rb"min_count (\d+)", fast.stderr)
    min_count = int(found.group(1)) if found else 4
    print(f"textkit discover -j{args.workers}: {fast.seconds:.1f} s, peak {fast.tree_peak_mb:.0f} MB "
          f"(tree PSS; largest process {fast.single_peak_mb:.0f} MB RSS), "
          f"{len(fast.stdout.splitlines()):,} words, min_count {min_count}", flush=True)

    slow = run([sys.executable, "-c", DICT_IMPL, str(ROOT), str(min_count), *inputs])
    if slow.returncode != 0:
        raise SystemExit(slow.stderr.decode())
    print(f"dict implementation: {slow.seconds:.1f} s, peak {slow.tree_peak_mb:.0f} MB", flush=True)
    same = words_counts(fast.stdout) == words_counts(slow.stdout)
    print(f"same words and counts: {same}", flush=True)
    if not same:
        raise SystemExit("outputs differ")
    print(f"discover -j{args.workers}: {fast.seconds:.1f} s, {fast.tree_peak_mb:.0f} MB; "
          f"dict implementation: {slow.seconds:.1f} s, {slow.tree_peak_mb:.0f} MB; "
          f"speed-up {slow.seconds / fast.seconds:.1f}x, memory {fast.tree_peak_mb / slow.tree_peak_mb:.2f}x")


if __name__ == "__main__":
    main()
