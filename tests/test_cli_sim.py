"""`textkit sim` and `textkit search` through the real entry point (exit codes, messages, files)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from textkit import transport as tr
from .conftest import run_main, run_textkit
from textkit.search import SearchIndex, search
from textkit.vectors import open_vectors, save_store

WORDS = [f"w{i}" for i in range(30)]
TOK = ["--tokenizer", "whitespace"]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    root = tmp_path_factory.mktemp("sim")
    rng = np.random.default_rng(0)
    matrix = rng.normal(size=(len(WORDS), 5)) * rng.uniform(0.5, 2.0, size=(len(WORDS), 1))
    save_store(root / "store", WORDS, matrix.astype(np.float32))
    lines = [" ".join(rng.choice(WORDS, size=rng.integers(1, 7))) for _ in range(400)]
    lines[0] = "w3 w7 w7 w11 w19 w25"
    lines[9] = lines[99] = lines[0]
    lines[20] = ""
    lines[21] = "nothing known"
    (root / "corpus.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    pairs = [f"{lines[i]}\t{lines[i + 1]}\t{i % 5}" for i in range(60)]
    pairs[5] = "w1 w2\t\tlabel"   # an empty side
    pairs[6] = "w3 w4\tzzz qqq"    # an OOV-only side
    (root / "pairs.tsv").write_text("\n".join(pairs) + "\n", encoding="utf-8")
    return root


run = run_main


def store_args(workdir):
    return ["--vectors", workdir / "store", *TOK]


def test_sim_prints_the_library_value(workdir):
    vectors = open_vectors(workdir / "store")
    a, b = "w1 w2 w2 w3", "w4 w1 w5"
    code, out, _ = run("sim", a, b, *store_args(workdir))
    assert code == 0
    assert float(out) == pytest.approx(1 - tr.wrd(a.split(), b.split(), vectors), abs=1e-6)
    code, out, _ = run("sim", a, b, "--distance", *store_args(workdir))
    assert float(out) == pytest.approx(tr.wrd(a.split(), b.split(), vectors), abs=1e-6)
    code, out, _ = run("sim", a, b, "--metric", "wmd", *store_args(workdir))
    assert float(out) == pytest.approx(tr.wmd(a.split(), b.split(), vectors), rel=1e-5)
    code, out, _ = run("sim", a, b, "--metric", "wmd", "--normalize", *store_args(workdir))
    assert float(out) == pytest.approx(tr.wmd(a.split(), b.split(), vectors, normalize=True), rel=1e-5)
    code, out, _ = run("sim", a, " ".join(reversed(a.split())), *store_args(workdir))
    assert (code, out) == (0, "1\n")


def test_sim_cosine(workdir):
    code, out, _ = run("sim", "w1 w2", "w2 w1", "--metric", "cosine", *store_args(workdir))
    assert code == 0 and float(out) == pytest.approx(1.0)
    vectors = open_vectors(workdir / "store")
    u = vectors.unit().astype(np.float64)
    left, right = (u[1] + u[2]) / 2, u[7]
    want = left @ right / np.linalg.norm(left) / np.linalg.norm(right)
    code, out, _ = run("sim", "w1 w2", "w7", "--metric", "cosine", *store_args(workdir))
    assert float(out) == pytest.approx(want, abs=1e-6)
    code, _, err = run("sim", "w1", "w2", "--metric", "whiten", *store_args(workdir))
    assert code == 2 and "--whitening" in err


def test_sim_explain(workdir):
    code, out, _ = run("sim", "w1 w2 w3", "w4 w5", "--explain", "--top", "2", *store_args(workdir))
    assert code == 0
    lines = out.splitlines()
    assert lines[1] == "word1\tword2\tmass\tcost"
    assert len(lines) == 4
    assert all(row.split("\t")[0] in {"w1", "w2", "w3"} for row in lines[2:])


def test_sim_jsonl_for_scripts(workdir):
    import json

    vectors = open_vectors(workdir / "store")
    a, b = "w1 w2 w2 w3", "w4 w1 w5"
    code, out, _ = run("sim", a, b, "--format", "jsonl", *store_args(workdir))
    record = json.loads(out)
    assert code == 0 and record["metric"] == "wrd"
    assert record["similarity"] == pytest.approx(1 - tr.wrd(a.split(), b.split(), vectors), abs=1e-6)
    code, out, _ = run("sim", a, b, "--metric", "wmd", "--explain", "--top", "2", "--format", "jsonl",
                       *store_args(workdir))
    record = json.loads(out)
    assert record["distance"] == pytest.approx(tr.wmd(a.split(), b.split(), vectors), rel=1e-5)
    assert len(record["explain"]) == 2 and set(record["explain"][0]) == {"word1", "word2", "mass", "cost"}


@pytest.mark.parametrize("text,message", [("", "text 1 is empty"),
                                          ("zzz qqq", "text 1 has no word in the vectors (2 tokens)")])
def test_sim_empty_or_oov_only_text_is_one_line_error(workdir, text, message):
    code, out, err = run("sim", text, "w1", *store_args(workdir))
    assert code == 1 and out == ""
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_a_word_with_a_zero_vector_is_known_but_carries_nothing(tmp_path):
    """WRD weighs a word by its vector's length: a text of zero-vector words is empty, and the
    error says why (the word is in the vocabulary)."""
    save_store(tmp_path / "store", ["a", "zero", "minus_a"], np.array([[1, 0], [0, 0], [-1, 0]], dtype=np.float32))
    for metric in ("wrd", "cosine"):  # (WMD weighs words by frequency: a zero vector is a point like others)
        code, out, err = run("sim", "a", "zero", "--metric", metric, "--vectors", tmp_path / "store", *TOK)
        assert code == 1 and err.endswith("text 2 has no word with a nonzero vector (1 token)\n"), metric
    # words whose vectors cancel out: text 1 has no direction for a cosine
    code, out, err = run("sim", "a minus_a", "a", "--metric", "cosine", "--vectors", tmp_path / "store", *TOK)
    assert code == 1 and "text 1 has a zero sentence vector" in err


def test_sim_oov_error_policy(workdir, tmp_path):
    code, _, err = run("sim", "w1 zzz", "w2", "--oov", "error", *store_args(workdir))
    assert code == 1 and "zzz" in err
    pairs = tmp_path / "oov.tsv"
    pairs.write_text("w1\tw2\nw3\tw4 qqq\n", encoding="utf-8")
    for workers in ("1", "2"):  # the error names the file, the line and the side
        code, out, err = run("sim", "--pairs", pairs, "--oov", "error", "-j", workers, *store_args(workdir))
        assert code == 1 and f"{pairs}:2: text 2:" in err and "'qqq'" in err and err.count("\n") == 1
    code, out, err = run("sim", "w1 zzz", "w2", *store_args(workdir))
    assert code == 0 and float(out) <= 1.0 and "dropped 1 + 0 tokens" in err


def test_sim_oov_split_policy(workdir, tmp_path):
    code, out, err = run("sim", "w1w2 w3", "w3 w2 w1", "--oov", "split", *store_args(workdir))
    assert (code, out) == (0, "1\n")  # w1w2 counts as w1 + w2
    code, out, err = run("sim", "w1w2 w3", "w3 w2 w1", *store_args(workdir))
    assert code == 0 and float(out) < 1 and "dropped 1 + 0 tokens" in err
    pairs = tmp_path / "split.tsv"
    pairs.write_text("w1w2\tw1 w2\nzz\tw1\nw12x w4\tw12 w4\n", encoding="utf-8")
    outs = [run("sim", "--pairs", pairs, "--oov", "split", "-j", j, *store_args(workdir)) for j in ("1", "2")]
    assert outs[0][0] == 0 and outs[0][1] == outs[1][1]
    assert [row.rsplit("\t", 1)[1] for row in outs[0][1].splitlines()] == ["1", "-1", "1"]


def test_pairs_file_in_order_with_scores_and_same_for_any_workers(workdir):
    code1, out1, err1 = run("sim", "--pairs", workdir / "pairs.tsv", "-j", "1", *store_args(workdir))
    code2, out2, _ = run("sim", "--pairs", workdir / "pairs.tsv", "-j", "2", *store_args(workdir))
    assert code1 == code2 == 0 and out1 == out2
    vectors = open_vectors(workdir / "store")
    src = (workdir / "pairs.tsv").read_text(encoding="utf-8").splitlines()
    got = out1.splitlines()
    assert len(got) == len(src)
    empty = []
    width = src[0].count("\t")
    for number, (line, row) in enumerate(zip(src, got), 1):
        prefix, score = row.rsplit("\t", 1)
        assert prefix == line + "\t" * (width - line.count("\t"))  # a short line padded to the first's width
        t1, t2 = line.split("\t")[:2]
        try:
            want = 1 - tr.wrd(t1.split(), t2.split(), vectors)
        except tr.EmptyBagError:
            want = -1.0
            empty.append(number)
        assert float(score) == pytest.approx(want, abs=1e-6)
    assert {6, 7} <= set(empty)
    shown = ", ".join(map(str, empty[:5]))
    assert f"{len(empty)} line(s) with a side that has no word with a nonzero vector (scored -1): line {shown}" in err1


def test_pairs_line_with_one_field_exit_1_and_no_output(workdir, tmp_path):
    bad = tmp_path / "bad.tsv"
    bad.write_text("w1\tw2\nw3 w4\nw5\tw6\n", encoding="utf-8")
    out_path = tmp_path / "scored.tsv"
    code, out, err = run("sim", "--pairs", bad, "-o", out_path, *store_args(workdir))
    assert code == 1 and out == ""
    assert f"{bad}:2: expected text1<TAB>text2, found one field" in err
    assert not out_path.exists()
    code, out, err = run("sim", "--pairs", bad, *store_args(workdir))
    assert code == 1 and out == ""  # checked before anything is written


def test_pairs_blank_lines_are_skipped(workdir, tmp_path):
    """Blank lines (a trailing one, one in the middle) hold no pair; a tab-only line is a pair with empty sides."""
    pairs = tmp_path / "gaps.tsv"
    pairs.write_text("w1 w2\tw3\n\nw4\tw5 w6\n\t\n  \n", encoding="utf-8")
    vectors = open_vectors(workdir / "store")
    for workers in ("1", "2"):
        code, out, err = run("sim", "--pairs", pairs, "--format", "jsonl", "-j", workers, *store_args(workdir))
        rows = [json.loads(row) for row in out.splitlines()]
        assert code == 0 and [r["line_number"] for r in rows] == [1, 3, 4]
        assert rows[0]["score"] == pytest.approx(1 - tr.wrd(["w1", "w2"], ["w3"], vectors), abs=1e-12)
        assert rows[2]["valid"] is False and "line 4" in err


def test_search_output_equals_brute_force_and_library(workdir):
    args = ["search", "w1 w2 w5", "--corpus", workdir / "corpus.txt", "-k", "7", *store_args(workdir)]
    code, out, err = run(*args)
    assert code == 0
    _, out_b, _ = run(*args, "--brute-force")
    assert out == out_b
    rows = [row.split("\t") for row in out.splitlines()]
    assert len(rows) == 7
    texts = (workdir / "corpus.txt").read_text(encoding="utf-8").splitlines()
    vectors = open_vectors(workdir / "store")
    ref = search(SearchIndex.from_texts(texts, vectors, str.split), ["w1", "w2", "w5"], k=7, prune=False)
    assert [int(r[1]) for r in rows] == [h.line for h in ref]
    assert [r[2] for r in rows] == [texts[h.line - 1] for h in ref]
    assert [float(r[0]) for r in rows] == pytest.approx([h.score for h in ref], abs=1e-6)
    assert "lines have no word with a nonzero vector" in err


def test_search_ties_by_line_number_and_wmd_ascending(workdir):
    code, out, _ = run("search", (workdir / "corpus.txt").read_text(encoding="utf-8").split("\n")[0],
                       "--corpus", workdir / "corpus.txt", "-k", "3", "--metric", "wmd", *store_args(workdir))
    rows = [row.split("\t") for row in out.splitlines()]
    assert code == 0
    assert [r[1] for r in rows] == ["1", "10", "100"]
    assert [float(r[0]) for r in rows] == [0.0, 0.0, 0.0]


def test_search_prepared_index(workdir, tmp_path):
    index = tmp_path / "corpus.npz"
    code, out, err = run("search", "--corpus", workdir / "corpus.txt", "--build-index", index, *store_args(workdir))
    assert code == 0 and out == "" and index.exists()
    assert f"wrote {index}: " in err and f" documents of {workdir / 'corpus.txt'}" in err  # as every writer says
    direct = run("search", "w3 w4", "--corpus", workdir / "corpus.txt", "--metric", "wmd", *store_args(workdir))
    cached = run("search", "w3 w4", "--index", index, "--metric", "wmd", *store_args(workdir))
    assert direct[1] == cached[1] and cached[0] == 0
    code, _, err = run("search", "w3 w4", "--index", index, "--vectors", workdir / "store", "--tokenizer", "char")
    assert code == 1 and "other tokenizer options: kind 'whitespace' (given 'char')" in err


def test_search_oov_policies(workdir, tmp_path):
    corpus = tmp_path / "corpus.txt"
    texts = ["w1 w2", "w1w2 w9", "w3 w4", "zzz", "w5 w1", ""]  # a blank last line too
    corpus.write_text("\n".join(texts) + "\n", encoding="utf-8")
    vectors = open_vectors(workdir / "store")
    args = ["search", "w1w2", "--corpus", corpus, "-k", "3", *store_args(workdir)]
    code, out, err = run(*args, "--oov", "split")
    assert code == 0 and out.splitlines()[0] == "1\t1\tw1 w2"  # the query counts as w1 + w2
    ref = search(SearchIndex.from_texts(texts, vectors, str.split, oov="split"), ["w1w2"], k=3, prune=False)
    assert [row.split("\t")[1] for row in out.splitlines()] == [str(h.line) for h in ref]
    assert "split into known pieces" in err
    code, _, err = run(*args)  # drop: the query has no known word
    assert code == 1 and "query has no word" in err
    code, out, err = run(*args, "--oov", "error")
    assert code == 1 and out == "" and f"{corpus}:2" in err and "'w1w2'" in err and "Traceback" not in err
    index = tmp_path / "split.npz"
    assert run("search", "--corpus", corpus, "--oov", "split", "--build-index", index, *store_args(workdir))[0] == 0
    cached = run("search", "w1w2", "--index", index, "-k", "3", *store_args(workdir))
    assert cached[:2] == run(*args, "--oov", "split")[:2]  # the index's own policy by default
    code, _, err = run("search", "w1", "--index", index, "--oov", "drop", *store_args(workdir))
    assert code == 1 and "built with oov 'split' (--oov split)" in err and "Traceback" not in err


def test_search_queries_file(workdir, tmp_path):
    """--queries: every query's hits, in file order, as the single-query command gives them."""
    queries = ["w1 w2", "", "w7 w7 w11", "zzz", "w25"]
    path = tmp_path / "queries.txt"
    path.write_text("\n".join(queries) + "\n", encoding="utf-8")
    corpus = ["--corpus", workdir / "corpus.txt", "-k", "3", *store_args(workdir)]
    code, out, err = run("search", "--queries", path, *corpus)
    assert code == 0 and "1 query without a word with a nonzero vector, no result: line 4" in err
    want = []
    for number, text in ((1, "w1 w2"), (3, "w7 w7 w11"), (5, "w25")):
        single = run("search", text, *corpus)[1]
        want += [f"{number}\t{row}" for row in single.splitlines()]
    assert out.splitlines() == want
    code, out, _ = run("search", "--queries", path, *corpus, "--format", "jsonl")
    assert [json.loads(row)["query_line"] for row in out.splitlines()] == [1, 1, 1, 3, 3, 3, 5, 5, 5]
    code, _, err = run("search", "w1", "--queries", path, *corpus)
    assert code == 2 and "not both" in err
    code, _, err = run("search", "--queries", tmp_path / "none.txt", *corpus)
    assert code == 1 and "none.txt: no such file" in err and "indexed" not in err  # before building the index


def test_cut_input_files_are_one_line_errors(workdir, tmp_path):
    """A truncated gzip pairs file and a truncated index: exit 1 with one line (not "interrupted", 130)."""
    import gzip

    blob = gzip.compress((workdir / "pairs.tsv").read_bytes() * 50)
    cut = tmp_path / "pairs.tsv.gz"
    cut.write_bytes(blob[: len(blob) // 2])
    out_file = tmp_path / "scores.tsv"
    out_file.write_text("old\n", encoding="utf-8")
    code, out, err = run("sim", "--pairs", cut, "-o", out_file, *store_args(workdir))
    assert code == 1 and "pairs.tsv.gz: truncated or corrupt compressed data" in err
    assert "interrupted" not in err and "Traceback" not in err
    assert out_file.read_text(encoding="utf-8") == "old\n"  # the previous output is untouched
    index = tmp_path / "corpus.npz"
    assert run("search", "--corpus", workdir / "corpus.txt", "--build-index", index, *store_args(workdir))[0] == 0
    code, _, err = run("search", "--corpus", workdir / "corpus.txt", "--build-index", tmp_path, *store_args(workdir))
    assert code == 1 and f"{tmp_path}: is a directory" in err and "Traceback" not in err
    index.write_bytes(index.read_bytes()[:1000])
    code, _, err = run("search", "w1", "--index", index, *store_args(workdir))
    assert code == 1 and "corpus.npz: not a textkit search index" in err and "Traceback" not in err
    np.save(tmp_path / "array.npy", np.arange(3))  # a .npy given for the index: one array, not an archive
    code, _, err = run("search", "w1", "--index", tmp_path / "array.npy", *store_args(workdir))
    assert code == 1 and "array.npy: not a textkit search index (a single array" in err and "Traceback" not in err


def test_search_bad_input(workdir):
    corpus = workdir / "corpus.txt"
    code, _, err = run("search", "w1", "--corpus", corpus, "-k", "0", *store_args(workdir))
    assert code == 2 and "-k" in err and "0 is not in the range x>=1" in err
    code, out, _ = run("search", "--help")
    assert code == 0 and "[default: 10; x>=1]" in " ".join(out.split())  # the help says it, as for --top
    code, _, err = run("search", "zzz", "--corpus", corpus, *store_args(workdir))
    assert code == 1 and "query has no word" in err
    code, _, err = run("search", "w1", *store_args(workdir))
    assert code == 2


def test_pairs_cosine_and_whiten(workdir, tmp_path):
    from textkit.sentences import SentenceEncoder
    from textkit.whitening import Whitening

    vectors = open_vectors(workdir / "store")
    src = (workdir / "pairs.tsv").read_text(encoding="utf-8").splitlines()
    left = [line.split("\t")[0].split() for line in src]
    right = [line.split("\t")[1].split() for line in src]
    enc = SentenceEncoder(vectors)
    a, b = enc.encode(left), enc.encode(right)
    code, out, _ = run("sim", "--pairs", workdir / "pairs.tsv", "--metric", "cosine", *store_args(workdir))
    assert code == 0
    got = [float(row.rsplit("\t", 1)[1]) for row in out.splitlines()]
    for i, value in enumerate(got):
        if a.known[i] == 0 or b.known[i] == 0:
            assert value == -1.0
        else:
            x, y = a.matrix[i].astype(np.float64), b.matrix[i].astype(np.float64)
            assert value == pytest.approx(x @ y / np.linalg.norm(x) / np.linalg.norm(y), abs=1e-5)
    white = Whitening().fit(np.vstack([a.matrix[a.known > 0], b.matrix[b.known > 0]]))
    white.vectors_identity_ = vectors.identity
    white.encoder_ = enc.describe()
    white.save(tmp_path / "w.npz")
    code, out, _ = run("sim", "--pairs", workdir / "pairs.tsv", "--metric", "whiten", "--whitening",
                       tmp_path / "w.npz", *store_args(workdir))
    assert code == 0
    got = [float(row.rsplit("\t", 1)[1]) for row in out.splitlines()]
    wa, wb = white.transform(a.matrix), white.transform(b.matrix)
    ok = (a.known > 0) & (b.known > 0)
    want = np.einsum("ij,ij->i", wa, wb) / np.linalg.norm(wa, axis=1) / np.linalg.norm(wb, axis=1)
    np.testing.assert_allclose(np.array(got)[ok], want[ok], atol=1e-5)


def test_whiten_makes_sentence_vectors_as_its_fit_did(workdir, tmp_path):
    """Whitening fitted on SIF-weighted raw means (its own a, p(w) from a count file) scores the same
    sentence vectors, given that --counts; without it, one warning names the difference."""
    from textkit.sentences import SentenceEncoder
    from textkit.whitening import Whitening

    vectors = open_vectors(workdir / "store")
    counts = {w: 3 * i + 1 for i, w in enumerate(WORDS)}
    (tmp_path / "c.tsv").write_text("".join(f"{w}\t{c}\n" for w, c in counts.items()), encoding="utf-8")
    given = ["--metric", "whiten", "--whitening", tmp_path / "w.npz", *store_args(workdir)]
    code, _, err = run("whiten", "fit", workdir / "corpus.txt", "--pooling", "raw", "--weighting", "sif",
                       "--sif-a", "0.05", "--counts", tmp_path / "c.tsv", "-o", tmp_path / "w.npz", *store_args(workdir))
    assert code == 0, err
    white = Whitening.load(tmp_path / "w.npz", vectors_identity=vectors.identity)
    encoder = SentenceEncoder(vectors, pooling="raw", weighting="sif", counts=counts, sif_a=0.05)
    assert white.encoder_ == encoder.describe()

    def reference(a, b):
        x, y = white.transform(encoder.encode([a.split(), b.split()]).matrix.astype(np.float64))
        return float(x @ y / np.linalg.norm(x) / np.linalg.norm(y))

    code, out, err = run("sim", "w1 w2 w2 w3", "w4 w1 w5", *given, "--counts", tmp_path / "c.tsv")
    assert code == 0 and "fitted on" not in err
    assert float(out) == pytest.approx(reference("w1 w2 w2 w3", "w4 w1 w5"), abs=1e-6)
    # many batches, so that the workers score them; they keep the counts the parent read from stdin
    lines = (workdir / "corpus.txt").read_text(encoding="utf-8").splitlines()
    (tmp_path / "pairs.tsv").write_text("".join(f"{lines[i]}\t{lines[-1 - i]}\n" for i in range(400)),
                                        encoding="utf-8")
    done = run_textkit("sim", "--pairs", tmp_path / "pairs.tsv", "-j", "2", *given, "--counts", "-",
                       input=(tmp_path / "c.tsv").read_bytes())
    assert done.returncode == 0 and b"fitted on" not in done.stderr
    checked = 0
    for row in done.stdout.decode().splitlines():
        a, b, score = row.split("\t")
        if encoder.encode([a.split()]).known[0] and encoder.encode([b.split()]).known[0]:
            assert float(score) == pytest.approx(reference(a, b), abs=1e-6)
            checked += 1
    assert checked > 300
    code, out, err = run("sim", "--pairs", workdir / "pairs.tsv", "-j", "2", *given)  # p(w) of the store now
    assert code == 0 and out and err.count("fitted on") == 1 and "p=counts" in err
    code, out, err = run("sim", "w1", "w2", "--counts", tmp_path / "c.tsv", *store_args(workdir))
    assert code == 2 and out == "" and "use it with --metric whiten" in err


def test_an_index_that_is_a_folder_is_named_so(workdir, tmp_path):
    code, out, err = run("search", "w1", "--index", tmp_path, *store_args(workdir))
    assert code == 1 and out == "" and f"{tmp_path}: a folder, not a search index" in err


def test_oov_error_names_the_first_line_whatever_the_workers(workdir, tmp_path):
    """Pairs sharing a text are batched together, out of input order: the error still names the
    first line with an unknown word, as one worker does."""
    rows = [f"w1\tw{2 + i % 20}" if i % 2 else f"w{i % 25} w{i % 7}\tw{i % 11} w3" for i in range(1, 401)]
    rows[126] = "w1\tzzz"  # line 127: in the first batch, with every line sharing "w1"
    rows[3] = "qqq\tw2"    # line 4: in a later batch
    (tmp_path / "pairs.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    for workers in ("1", "2"):
        done = run_textkit("sim", "--pairs", tmp_path / "pairs.tsv", "--oov", "error", "-j", workers,
                           *store_args(workdir))
        assert done.returncode == 1 and "pairs.tsv:4: text 1:" in done.stderr.decode()


def test_sinkhorn_fallbacks_are_warned_of_once_per_run(workdir, tmp_path):
    """Each worker counts the pairs Sinkhorn did not solve; the run warns once, with their number."""
    import re

    lines = (workdir / "corpus.txt").read_text(encoding="utf-8").splitlines()
    (tmp_path / "pairs.tsv").write_text("".join(f"{lines[i]}\t{lines[-1 - i]}\n" for i in range(400)),
                                        encoding="utf-8")
    said = []
    for workers in ("1", "2"):
        done = run_textkit("sim", "--pairs", tmp_path / "pairs.tsv", "--sinkhorn", "1e-300", "-j", workers,
                           *store_args(workdir))
        assert done.returncode == 0
        said.append(re.findall(r"did not converge within 1000 iterations on (\d+) pairs", done.stderr.decode()))
    assert len(said[0]) == 1 and said[0] == said[1] and int(said[0][0]) > 200


def test_explain_is_the_exact_plan_so_not_with_sinkhorn(workdir):
    code, out, err = run("sim", "w1 w2 w3", "w4 w5", "--explain", "--sinkhorn", "0.1", *store_args(workdir))
    assert code == 2 and out == "" and "without --sinkhorn" in err


def test_top_without_explain_is_refused_not_ignored(workdir):
    code, out, err = run("sim", "w1 w2 w3", "w4 w5", "--top", "3", *store_args(workdir))
    assert code == 2 and out == "" and "use it with --explain" in err
    code, out, _ = run("sim", "w1 w2 w3", "w4 w5", *store_args(workdir))  # its default is no problem
    assert code == 0 and out


def test_search_corpus_and_queries_take_one_file(workdir, tmp_path):
    """Line numbers are per file: a pattern matching several files is refused; matching one, it is that file."""
    for name in ("a.txt", "b.txt"):
        (tmp_path / name).write_text("w1 w2\nw3\n", encoding="utf-8")
    pattern = str(tmp_path / "*.txt")
    code, out, err = run("search", "w1", "--corpus", pattern, *store_args(workdir))
    assert code == 2 and out == "" and "--corpus takes one file" in err and "matches 2" in err
    code, out, err = run("search", "--queries", pattern, "--corpus", tmp_path / "a.txt", *store_args(workdir))
    assert code == 2 and out == "" and "--queries takes one file" in err
    code, out, _ = run("search", "w1", "--corpus", str(tmp_path / "a*.txt"), "-k", "1", *store_args(workdir))
    assert code == 0 and out.split("\t")[1:] == ["1", "w1 w2\n"]


def test_pairs_and_corpus_files_are_read_like_every_input(workdir, tmp_path):
    """Invalid bytes are replaced with a warning naming the line (an error with --strict); --encoding works."""
    bad = tmp_path / "bad.tsv"
    bad.write_bytes(b"w1 w2\tw3\n\xff\xfew4\tw5 w1\n")
    code, out, err = run("sim", "--pairs", bad, *store_args(workdir))
    assert code == 0 and len(out.splitlines()) == 2 and f"{bad}:2: invalid utf-8 bytes replaced" in err
    code, out, err = run("sim", "--pairs", bad, "--strict", *store_args(workdir))
    assert code == 1 and out == "" and f"{bad}:2: invalid utf-8" in err and err.count("\n") == 1
    gb = tmp_path / "gb.tsv"
    gb.write_bytes("w1 w2\tw3\n".encode("gb18030") + "w4 说\tw5 w1\n".encode("gb18030"))
    code, out, _ = run("sim", "--pairs", gb, "--encoding", "gb18030", *store_args(workdir))
    want = run("sim", "--pairs", gb.write_text("w1 w2\tw3\nw4 说\tw5 w1\n", encoding="utf-8") and gb,
               *store_args(workdir))[1]
    assert code == 0 and out == want
    corpus = tmp_path / "corpus.txt"
    corpus.write_bytes("w1 w2\n说 w3\n".encode("gb18030"))
    code, out, _ = run("search", "w3", "--corpus", corpus, "--encoding", "gb18030", "-k", "1", *store_args(workdir))
    assert code == 0 and out.split("\t")[1:] == ["2", "说 w3\n"]
    code, _, err = run("search", "w3", "--corpus", bad, "--strict", *store_args(workdir))
    assert code == 1 and "invalid utf-8" in err


def test_index_of_a_corpus_changed_since_says_so(workdir, tmp_path):
    corpus = tmp_path / "c.txt"
    corpus.write_text("w1 w2\nw3 w4\n", encoding="utf-8")
    index = tmp_path / "c.npz"
    assert run("search", "--corpus", corpus, "--build-index", index, *store_args(workdir))[0] == 0
    code, out, err = run("search", "w1", "--index", index, "-k", "1", *store_args(workdir))
    assert code == 0 and "changed" not in err
    corpus.write_text("w5 w6\nw1 w2\nw3 w4\n", encoding="utf-8")
    code, again, err = run("search", "w1", "--index", index, "-k", "1", *store_args(workdir))
    assert code == 0 and again == out and "has changed since the index was built" in err


def test_whitening_only_with_the_whiten_metric(workdir, tmp_path):
    code, out, err = run("sim", "w1", "w2", "--metric", "cosine", "--whitening", tmp_path / "w.npz",
                         *store_args(workdir))
    assert code == 2 and out == "" and "--metric whiten only" in err


def test_one_pair_follows_format_and_header(workdir):
    args = ["sim", "w1 w2 w3", "w4 w5", "--explain", "--top", "2", *store_args(workdir)]
    _, plain, _ = run(*args)
    value = plain.splitlines()[0]
    code, out, _ = run(*args, "--header")
    lines = out.splitlines()
    assert code == 0 and lines[:3] == ["similarity", value, "word1\tword2\tmass\tcost"] and len(lines) == 5
    assert lines[3:] == plain.splitlines()[2:]
    code, out, _ = run("sim", "w1 w2", "w4", "--metric", "wmd", "--header", *store_args(workdir))
    assert code == 0 and out.splitlines()[0] == "distance" and float(out.splitlines()[1]) > 0


def test_pairs_tsv_header_is_as_wide_as_the_rows(workdir):
    code, out, _ = run("sim", "--pairs", workdir / "pairs.tsv", "--header", *store_args(workdir))
    lines = out.splitlines()
    assert code == 0 and lines[0] == "text1\ttext2\tfield3\tscore"  # the width of the first line
    assert all(line.count("\t") == 3 for line in lines[1:])  # every score under "score"
    short = [line for line in lines[1:] if line.split("\t")[2] == ""]
    assert len(short) == 1  # the input line of two fields, padded with an empty field3
    code, plain, _ = run("sim", "--pairs", workdir / "pairs.tsv", *store_args(workdir))
    assert plain.splitlines() == lines[1:]  # without the header: the same rows, scores in one column


def test_pairs_scores_stay_in_one_column_without_a_header(workdir, tmp_path):
    """`cut -f3` finds every score: a shorter line than the first is padded first."""
    path = tmp_path / "p.tsv"
    path.write_text("w1\tw2\t1\nw3\tw4\n", encoding="utf-8")
    code, out, err = run("sim", "--pairs", path, *store_args(workdir))
    assert code == 0 and [line.split("\t")[:3] for line in out.splitlines()] == [["w1", "w2", "1"], ["w3", "w4", ""]]
    assert all(line.count("\t") == 3 for line in out.splitlines())


@pytest.mark.parametrize("header", [["--header"], []])
def test_pairs_tsv_warns_of_a_line_wider_than_the_first(workdir, tmp_path, header):
    path = tmp_path / "p.tsv"
    path.write_text("w1\tw2\nw3\tw4\tx\ty\nw5\tw6\n", encoding="utf-8")
    code, out, err = run("sim", "--pairs", path, *header, *store_args(workdir))
    assert code == 0 and (out.splitlines()[0] == "text1\ttext2\tscore") == bool(header)
    assert "line 2 has 4 fields, more than the first line's 2" in err and err.count("more than") == 1


def test_normalize_only_with_wmd(workdir):
    for args in (["sim", "w1", "w2"], ["search", "w1", "--corpus", workdir / "corpus.txt"]):
        code, out, err = run(*args, "--normalize", *store_args(workdir))
        assert code == 2 and out == "" and "--normalize applies to --metric wmd only" in err


def test_identical_texts_print_zero_not_minus_zero(workdir):
    code, out, _ = run("sim", "w1 w2", "w1 w2", "--metric", "wmd", *store_args(workdir))
    assert code == 0 and out == "0\n"


def test_an_index_does_not_depend_on_how_paths_are_spelled(workdir, tmp_path, monkeypatch):
    """The corpus and a user dictionary named relatively or absolutely give the same index bytes;
    the index accepts the dictionary under either name or copied elsewhere (known by its content:
    an edited one is refused), and finds its corpus changed from any folder."""
    import os

    monkeypatch.chdir(tmp_path)
    (tmp_path / "docs.txt").write_text((workdir / "corpus.txt").read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "ud.txt").write_text("w1w2 5\n", encoding="utf-8")
    jieba = ["--vectors", workdir / "store"]  # the jieba tokenizer: a user dictionary applies
    assert run("search", "--corpus", "docs.txt", "--user-dict", "ud.txt", "--build-index", "a.npz", *jieba)[0] == 0
    assert run("search", "--corpus", tmp_path / "docs.txt", "--user-dict", tmp_path / "ud.txt",
               "--build-index", "b.npz", *jieba)[0] == 0
    assert (tmp_path / "a.npz").read_bytes() == (tmp_path / "b.npz").read_bytes()
    relative = run("search", "w1 w2", "--index", "a.npz", "--user-dict", "ud.txt", *jieba)
    absolute = run("search", "w1 w2", "--index", "a.npz", "--user-dict", tmp_path / "ud.txt", *jieba)
    assert relative[0] == absolute[0] == 0 and relative[1] == absolute[1]
    import shutil

    copy = tmp_path / "copy"  # a copied folder: the same dictionary by content
    copy.mkdir()
    for name in ("a.npz", "ud.txt"):
        shutil.copy(tmp_path / name, copy / name)
    assert run("search", "w1 w2", "--index", copy / "a.npz", "--user-dict", copy / "ud.txt", *jieba)[1] == \
        relative[1]
    (copy / "ud.txt").write_text("w1w2 5\nw3w4 7\n", encoding="utf-8")  # edited: not the index's tokenizer
    code, _, err = run("search", "w1 w2", "--index", copy / "a.npz", "--user-dict", copy / "ud.txt", *jieba)
    assert code == 1 and "built with other tokenizer options: user_dict a file with content sha256:" in err
    with open(tmp_path / "docs.txt", "a", encoding="utf-8") as fh:
        fh.write("w5 w6\n")
    os.chdir("/")
    code, _, err = run("search", "w1 w2", "--index", tmp_path / "a.npz", "--user-dict", tmp_path / "ud.txt", *jieba)
    assert code == 0 and "has changed since the index was built" in err


def test_text_arguments_under_an_ascii_locale_without_utf8_mode():
    """LC_ALL=C with UTF-8 mode off: Python decodes the arguments as ASCII (every Chinese byte a lone
    surrogate); they are read back as UTF-8, and bytes that are not UTF-8 are one usage error."""
    from .conftest import run_textkit

    ascii_env = {"LC_ALL": "C", "LANG": "C", "PYTHONUTF8": "0", "PYTHONCOERCECLOCALE": "0"}
    texts = ["今天天气很好", "今天天气不错"]
    plain = run_textkit("sim", *texts, "-q")
    legacy = run_textkit("sim", *texts, "-q", env=ascii_env)
    assert plain.returncode == legacy.returncode == 0 and legacy.stdout == plain.stdout
    words = run_textkit("vectors", "neighbors", "北京", "-k", "2", "-q", env=ascii_env)
    assert words.returncode == 0 and words.stdout.decode("utf-8").startswith("北京\t1\t")
    import os

    bad = run_textkit("sim", os.fsdecode(b"\xff\xfe"), "abc", "-q", env=ascii_env)  # the bytes FF FE
    err = bad.stderr.decode()
    assert bad.returncode == 2 and "is not valid UTF-8 text" in err and err.count("\n") == 1


def test_an_index_with_a_missing_or_piped_dictionary(workdir, tmp_path, monkeypatch):
    """A dictionary that is not there is named as such; one given through a pipe is not read
    up before the tokenizer reads it (it cannot be compared: the index refuses it, not its words);
    one cut short is named as such."""
    import gzip
    import os

    monkeypatch.chdir(tmp_path)
    (tmp_path / "docs.txt").write_text("北京天安门\n上海外滩\n", encoding="utf-8")
    (tmp_path / "sw.txt").write_text("北京\n", encoding="utf-8")
    jieba = ["--vectors", workdir / "store"]
    assert run("search", "--corpus", "docs.txt", "--stopwords", "sw.txt", "--build-index", "sw.npz", *jieba)[0] == 0
    code, _, err = run("search", "北京", "--index", "sw.npz", "--stopwords", "nope.txt", *jieba)
    assert code == 1 and "nope.txt: no such file or directory" in err
    def piped(*args):  # the stopwords through a pipe, as <(cat sw.txt) gives them
        read_end, write_end = os.pipe()
        os.write(write_end, "北京\n".encode())
        os.close(write_end)
        try:
            return run(*[f"/dev/fd/{read_end}" if a == "PIPE" else a for a in args], *jieba)
        finally:
            os.close(read_end)

    code, out, err = piped("search", "北京", "--index", "sw.npz", "--stopwords", "PIPE")
    assert code == 1 and "--stopwords read from a pipe or standard input" in err and out == ""
    assert piped("search", "--corpus", "docs.txt", "--stopwords", "PIPE", "--build-index", "p.npz")[0] == 0
    for stopwords in ("PIPE", "sw.txt"):  # what the index was built with is unknown: refused, even for a pipe
        code, out, err = piped("search", "北京", "--index", "p.npz", "--stopwords", stopwords)
        assert code == 1 and "read from a pipe or standard input" in err
    (tmp_path / "cut.txt.gz").write_bytes(gzip.compress("北京\n".encode() * 50)[:30])
    code, _, err = run("search", "北京", "--index", "sw.npz", "--stopwords", "cut.txt.gz", *jieba)
    assert code == 1 and "cut.txt.gz: cannot be read" in err


def test_an_index_with_dev_null_stopwords(workdir, tmp_path, monkeypatch):
    """/dev/null (no stopwords) is no pipe: an index built with it is searched with it."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "docs.txt").write_text("北京天安门\n上海外滩\n", encoding="utf-8")
    jieba = ["--vectors", workdir / "store"]
    assert run("search", "--corpus", "docs.txt", "--stopwords", "/dev/null", "--build-index", "n.npz", *jieba)[0] == 0
    code, out, err = run("search", "北京", "--index", "n.npz", "--stopwords", "/dev/null", *jieba)
    assert "pipe" not in err and "other tokenizer options" not in err


def test_an_index_and_the_results_never_land_in_one_place(workdir, tmp_path):
    corpus = workdir / "corpus.txt"
    index = tmp_path / "i.npz"
    code, _, err = run("search", "w1", "--corpus", corpus, "--build-index", index, "-o", index, *store_args(workdir))
    assert code == 2 and "name one file" in err and not index.exists()
    code, _, err = run("search", "w1", "--corpus", corpus, "--build-index", "-", "-o", tmp_path / "r.tsv",
                       *store_args(workdir))
    assert code == 2 and "--build-index -" in err and not (tmp_path / "r.tsv").exists()


def test_pairs_and_eval_take_one_file(workdir, tmp_path):
    """Line numbers restart in each file, and the rows do not name it: a folder or a pattern of
    several files is refused, as search --corpus refuses it."""
    (tmp_path / "p").mkdir()
    for name in ("1.tsv", "2.tsv"):
        (tmp_path / "p" / name).write_text("w1\tw2\t1\nw3\tw4\t0\n", encoding="utf-8")
    for args in (["sim", "--pairs", tmp_path / "p"], ["sim", "--pairs", tmp_path / "p" / "*.tsv"],
                 ["eval", tmp_path / "p"]):
        code, out, err = run(*args, *store_args(workdir))
        assert code == 2 and "takes one file" in err and out == ""
    code, out, _ = run("sim", "--pairs", tmp_path / "p" / "1.tsv", *store_args(workdir))
    assert code == 0 and len(out.splitlines()) == 2


def test_explain_refuses_csv_which_holds_one_table(workdir, tmp_path):
    for args in (["--format", "csv"], ["-o", tmp_path / "e.csv"]):
        code, out, err = run("sim", "w1 w2", "w3", "--explain", *args, *store_args(workdir))
        assert code == 2 and "CSV" in err and out == "" and not (tmp_path / "e.csv").exists()
    code, out, _ = run("sim", "w1 w2", "w3", "--explain", "--format", "tsv", *store_args(workdir))
    assert code == 0 and out.splitlines()[1].split("\t") == ["word1", "word2", "mass", "cost"]
