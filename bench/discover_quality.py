"""Quality of `textkit discover`, the published protocol (SIGHAN 2005 PKU and MSR).

For each test set T in (pku, msr):
1. run discovery on ../shared/data/zh_corpus.txt.gz plus T's raw test text, with
   ``min_len=1`` so that single characters keep their counts (the original script's word
   list holds them too; the issue's reference figures, PKU 0.677 / MSR 0.683 at
   min-count 32, are reproduced only this way);
2. take the top 50,000 words by count as jieba's only dictionary
   (``jieba.Tokenizer`` over a file of ``word count`` lines), HMM off;
3. segment T's raw test text and score it against T's gold segmentation with the
   standard bakeoff measure: a predicted word is correct when its character span equals a
   gold word's span; P = correct / predicted, R = correct / gold, F1 = 2PR / (P + R).

Runs with ``min_count=32`` (the published setting) and with textkit's defaults (min-count
rule, thresholds, no entropy filter). Each run also prints, for information, the F1 of a
dictionary without the single characters (what ``--min-len 2``, the CLI default, outputs).
Usage: python bench/discover_quality.py [--data DIR] [--workers 2] [--sets pku,msr]
       [--min-count 32 --min-count default ...] [--jieba-baseline]
The last line printed is the figure: the protocol F1 of every run.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

import jieba

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from textkit.corpus import Corpus
from textkit.discovery import DiscoverOptions, discover

DEFAULT_DATA = REPO.parent / "shared" / "data"
TOP_WORDS = 50_000


def spans(words):
    out, pos = set(), 0
    for w in words:
        out.add((pos, pos + len(w)))
        pos += len(w)
    return out


def score(pred_lines, gold_lines):
    """Bakeoff P, R, F1: spans over the whole text (whitespace tokens ignored), so a gold
    file whose line breaks drift from the raw text (MSR has 16 such lines) still aligns."""
    pred = [t for line in pred_lines for t in line if t.strip()]
    gold = [t for line in gold_lines for t in line if t.strip()]
    if "".join(pred) != "".join(gold):
        raise SystemExit("segmented text does not match the gold text; wrong files?")
    ps, gs = spans(pred), spans(gold)
    correct = len(ps & gs)
    p, r = correct / len(ps), correct / len(gs)
    return p, r, 2 * p * r / (p + r)


def segment(tokenizer, lines):
    return [list(tokenizer.cut(line, HMM=False)) for line in lines]


def read_lines(path):
    with open(path, encoding="utf-8") as fh:
        return [line.rstrip("\n") for line in fh]


def dictionary_f1(words, raw_lines, gold, top: int = TOP_WORDS):
    """F1 of jieba (HMM off) with the top ``top`` words as its only dictionary."""
    with tempfile.TemporaryDirectory() as tmp:
        dict_path = os.path.join(tmp, "dict.txt")
        with open(dict_path, "w", encoding="utf-8") as fh:
            for w in words[:top]:
                fh.write(f"{w.word} {w.count}\n")
        tok = jieba.Tokenizer(dictionary=dict_path)
        tok.tmp_dir = tmp
        tok.initialize()
        return score(segment(tok, raw_lines), gold)


def evaluate(data: Path, name: str, min_count, workers: int):
    raw = data / "sighan2005" / f"{name}_test.utf8"
    gold = [line.split() for line in read_lines(data / "sighan2005" / f"{name}_test_gold.utf8")]
    raw_lines = read_lines(raw)
    corpus = Corpus([str(data / "zh_corpus.txt.gz"), str(raw)])
    t0 = time.perf_counter()
    result = discover(corpus.batches, DiscoverOptions(min_count=min_count, min_len=1), workers=workers)
    seconds = time.perf_counter() - t0
    protocol = dictionary_f1(result.words, raw_lines, gold)
    multi = dictionary_f1([w for w in result.words if len(w.word) >= 2], raw_lines, gold)
    return result, seconds, protocol, multi


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--sets", default="pku,msr")
    ap.add_argument("--min-count", action="append", dest="min_counts",
                    help="an integer or 'default'; repeat for several runs (default: 32 and default)")
    ap.add_argument("--jieba-baseline", action="store_true", help="also score jieba's own dictionary")
    args = ap.parse_args(argv)
    if not (args.data / "zh_corpus.txt.gz").exists():
        raise SystemExit(f"{args.data}: benchmark data not found")
    jieba.setLogLevel(logging.WARNING)
    min_counts = args.min_counts or ["32", "default"]
    figures = []
    for name in args.sets.split(","):
        if args.jieba_baseline:
            tok = jieba.Tokenizer()
            raw = read_lines(args.data / "sighan2005" / f"{name}_test.utf8")
            gold = [line.split() for line in read_lines(args.data / "sighan2005" / f"{name}_test_gold.utf8")]
            p, r, f1 = score(segment(tok, raw), gold)
            print(f"{name} jieba's own dictionary: P {p:.4f} R {r:.4f} F1 {f1:.4f}", flush=True)
        for mc in min_counts:
            value = None if mc == "default" else int(mc)
            result, seconds, (p, r, f1), multi = evaluate(args.data, name, value, args.workers)
            label = f"min-count {result.min_count}" + (" (default)" if value is None else "")
            print(
                f"{name} {label}: {len(result.words):,} words found (discovery {seconds:.1f} s); "
                f"top {TOP_WORDS:,} as the dictionary: P {p:.4f} R {r:.4f} F1 {f1:.4f}; "
                f"without single characters: F1 {multi[2]:.4f}",
                flush=True,
            )
            figures.append(f"{name.upper()} F1 {f1:.3f} ({label})")
    print("; ".join(figures))


if __name__ == "__main__":
    main()
