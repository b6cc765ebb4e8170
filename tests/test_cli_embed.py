"""`textkit embed`, `textkit whiten fit|apply` and `textkit eval` through click's CliRunner."""

from __future__ import annotations

import json
import os
from pathlib import Path
from dataclasses import dataclass

import numpy as np
import pytest

from textkit.evaluate import pearson, spearman
from textkit.sentences import cosine_rows
from textkit.vectors import save_store
from textkit.whitening import Whitening

from .conftest import run_main

WORDS = [f"w{i}" for i in range(40)]
TOK = ["--tokenizer", "whitespace"]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """A small store (offset vectors, so whitening matters), a corpus and a pairs file."""
    root = tmp_path_factory.mktemp("embed")
    rng = np.random.default_rng(0)
    matrix = (rng.normal(size=(len(WORDS), 6)) + 1.5).astype(np.float32)
    save_store(root / "store", WORDS, matrix, counts=np.arange(len(WORDS), 0, -1) * 10)
    save_store(root / "other", WORDS, matrix * 2)
    lines = [" ".join(rng.choice(WORDS, size=rng.integers(1, 6))) for _ in range(120)]
    lines[4] = "unknown words only"
    lines[7] = ""
    (root / "corpus.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    with open(root / "pairs.tsv", "w", encoding="utf-8") as fh:
        fh.writelines(f"{lines[i]}\t{lines[i + 1]}\t{rng.integers(0, 6)}\n" for i in range(60))
    return root


@dataclass
class Result:
    exit_code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def run(args, workdir):
    """Run the real entry point (error mapping and exit codes included) with captured streams."""
    return Result(*run_main(*args))


def reference_vectors(workdir, lines):
    """Naive mean of unit word vectors, zero for a line with no known word."""
    from textkit.vectors import open_vectors

    store = open_vectors(str(workdir / "store"))
    out = []
    for line in lines:
        rows = [store[w] / np.linalg.norm(store[w]) for w in line.split() if w in store]
        out.append(np.mean(rows, axis=0) if rows else np.zeros(store.dim))
    return np.array(out)


def test_embed_npy_matches_naive_reference_and_warns_with_line(workdir, tmp_path):
    out = tmp_path / "vecs.npy"
    res = run(
        ["embed", workdir / "corpus.txt", "--vectors", workdir / "store", *TOK, "-j", 1, "-o", out],
        workdir,
    )
    assert res.exit_code == 0, res.output
    got = np.load(out)
    lines = (workdir / "corpus.txt").read_text(encoding="utf-8").splitlines()
    assert got.dtype == np.float32 and got.shape == (len(lines), 6)
    np.testing.assert_allclose(got, reference_vectors(workdir, lines), rtol=1e-5, atol=1e-6)
    assert "corpus.txt:5: no known word" in res.stderr
    assert "corpus.txt:8: no known word" in res.stderr


@pytest.fixture
def small_batches(monkeypatch):
    """Batches of 7 lines, so the 120-line corpus really goes through the pool."""
    import textkit.sentences

    monkeypatch.setattr(textkit.sentences, "MAX_BATCH_LINES", 7)


def test_embed_is_identical_for_any_workers(workdir, tmp_path, small_batches):
    outs = []
    for j in (1, 2):
        out = tmp_path / f"j{j}.npy"
        args = ["embed", workdir / "corpus.txt", "--vectors", workdir / "store", *TOK]
        res = run([*args, "--weighting", "sif", "-j", j, "-o", out], workdir)
        assert res.exit_code == 0, res.output
        outs.append(np.load(out))
        assert "corpus.txt:8: no known word" in res.stderr
    assert outs[0].shape == (120, 6)
    np.testing.assert_array_equal(outs[0], outs[1])


def test_whiten_fit_is_identical_for_any_workers(workdir, tmp_path, small_batches):
    fitted = []
    for j in (1, 2):
        params = tmp_path / f"p{j}.npz"
        args = ["whiten", "fit", workdir / "corpus.txt", "--vectors", workdir / "store", *TOK]
        assert run([*args, "-j", j, "-o", params], workdir).exit_code == 0
        fitted.append(Whitening.load(params))
    np.testing.assert_array_equal(fitted[0].components_, fitted[1].components_)
    np.testing.assert_array_equal(fitted[0].mean_, fitted[1].mean_)


def test_whiten_fit_equals_library_fit_on_known_lines(workdir, tmp_path, small_batches):
    params = tmp_path / "p.npz"
    args = ["whiten", "fit", workdir / "corpus.txt", "--vectors", workdir / "store", *TOK]
    res = run([*args, "-j", 1, "-o", params], workdir)
    assert "left out 2 lines with no known word" in res.stderr
    lines = (workdir / "corpus.txt").read_text(encoding="utf-8").splitlines()
    ref = reference_vectors(workdir, lines)
    ref = ref[np.any(ref != 0, axis=1)]
    got = Whitening.load(params)
    assert got.n_samples_ == len(ref) == 118
    direct = Whitening().fit(ref)
    # the command works from float32 sentence vectors: agreement to float32 rounding, amplified
    np.testing.assert_allclose(got.transform(ref), direct.transform(ref), atol=1e-4)


def test_embed_sif_with_count_file(workdir, tmp_path):
    counts = tmp_path / "counts.tsv"
    res = run(["count", workdir / "corpus.txt", *TOK, "-o", counts], workdir)
    assert res.exit_code == 0, res.output
    out = tmp_path / "sif.npy"
    args = ["embed", workdir / "corpus.txt", "--vectors", workdir / "store", *TOK]
    res = run(
        [*args, "--weighting", "sif", "--counts", counts, "--sif-a", 0.01, "-o", out], workdir
    )
    assert res.exit_code == 0, res.output
    got = np.load(out)
    from textkit.vectors import open_vectors

    store = open_vectors(str(workdir / "store"))
    lines = (workdir / "corpus.txt").read_text(encoding="utf-8").splitlines()
    freq = {}
    for line in lines:
        for w in line.split():
            freq[w] = freq.get(w, 0) + 1
    total = sum(freq.values())
    for line, row in zip(lines, got):
        words = [w for w in line.split() if w in store]
        if not words:
            assert not row.any()
            continue
        weights = [0.01 / (0.01 + freq[w] / total) for w in words]
        units = [store[w] / np.linalg.norm(store[w]) for w in words]
        expected = np.sum([wt * u for wt, u in zip(weights, units)], axis=0) / len(words)
        np.testing.assert_allclose(row, expected, rtol=1e-5, atol=1e-6)
    res = run([*args, "--counts", counts, "-o", out], workdir)
    assert res.exit_code == 2  # --counts without --weighting sif
    res = run([*args, "--sif-a", "0.01", "-o", out], workdir)
    assert res.exit_code == 2 and "--sif-a is used only with --weighting sif" in res.output


def test_embed_jsonl_to_stdout(workdir, tmp_path):
    two = tmp_path / "two.txt"
    two.write_text("w1 w2\nnothing\n", encoding="utf-8")
    res = run(["embed", two, "--vectors", workdir / "store", *TOK], workdir)
    assert res.exit_code == 0
    rows = [json.loads(line) for line in res.stdout.splitlines()]
    assert [r["line"] for r in rows] == [1, 2]
    np.testing.assert_allclose(
        rows[0]["vector"], reference_vectors(workdir, ["w1 w2"])[0], rtol=1e-6
    )
    assert rows[1]["vector"] == [0.0] * 6
    assert "two.txt:2: no known word" in res.stderr


def test_embed_jsonl_holds_the_npy_values_exactly(workdir, tmp_path):
    """JSON Lines is a faithful copy of the .npy: every float32 reads back to the same bits."""
    base = ["embed", workdir / "corpus.txt", "--vectors", workdir / "store", *TOK]
    assert run([*base, "-o", tmp_path / "e.npy"], workdir).exit_code == 0
    assert run([*base, "-o", tmp_path / "e.jsonl"], workdir).exit_code == 0
    rows = [json.loads(line)["vector"] for line in (tmp_path / "e.jsonl").read_text(encoding="utf-8").splitlines()]
    assert np.array_equal(np.asarray(rows, dtype=np.float32), np.load(tmp_path / "e.npy"))


def test_an_npy_of_records_says_when_its_rows_are_not_the_lines(workdir, tmp_path):
    """With --field, a blank line or a skipped record has no row: the .npy's rows then stop being
    line numbers, which a warning says (plain text keeps a row per line, a blank one included)."""
    (tmp_path / "j.jsonl").write_text('{"t": "w1 w2"}\n\n{"t": null}\n{"t": "w3"}\n', encoding="utf-8")
    base = ["--vectors", workdir / "store", *TOK]
    done = run(["embed", tmp_path / "j.jsonl", "--field", "t", *base, "-o", tmp_path / "j.npy"], workdir)
    assert done.exit_code == 0 and np.load(tmp_path / "j.npy").shape == (2, 6)
    assert "j.npy has one row per record: 2 line(s) of the input held none" in done.stderr
    (tmp_path / "p.txt").write_text("w1 w2\n\nw3\n", encoding="utf-8")
    done = run(["embed", tmp_path / "p.txt", *base, "-o", tmp_path / "p.npy"], workdir)
    assert done.exit_code == 0 and np.load(tmp_path / "p.npy").shape == (3, 6) and "row per record" not in done.stderr


def test_whitening_applied_to_text_tokenized_otherwise_is_warned_of(workdir, tmp_path):
    """The fit records its tokenizer: applying the parameters to tokens made another way (another
    --tokenizer, other stopwords) warns, as other pooling does; the same tokenizer does not."""
    base = [workdir / "corpus.txt", "--vectors", workdir / "store"]
    assert run(["whiten", "fit", *base, *TOK, "--dim", "3", "-o", tmp_path / "w.npz"], workdir).exit_code == 0
    assert Whitening.load(tmp_path / "w.npz").tokenizer_ == "whitespace"
    same = run(["whiten", "apply", "-w", tmp_path / "w.npz", *base, *TOK, "-o", tmp_path / "a.npy"], workdir)
    assert same.exit_code == 0 and "tokenized with" not in same.stderr
    for other, label in ((["--tokenizer", "char"], "char"), ([*TOK, "--min-len", "2"], "whitespace (min_len=2)")):
        done = run(["whiten", "apply", "-w", tmp_path / "w.npz", *base, *other, "-o", tmp_path / "b.npy"], workdir)
        assert done.exit_code == 0
        assert f"w.npz was fitted on text tokenized with whitespace, now {label}" in done.stderr


def test_embed_to_a_pipe_named_as_a_file(workdir, tmp_path):
    """-o /dev/stdout (a pipe here) writes JSON Lines, as stdout does; a pipe named .npy gets a whole .npy."""
    import os
    import threading

    from .conftest import run_textkit

    two = tmp_path / "two.txt"
    two.write_text("w1 w2\nw3\n", encoding="utf-8")
    args = ["embed", str(two), "--vectors", str(workdir / "store"), *map(str, TOK), "-q"]
    want = run_textkit(*args).stdout
    done = run_textkit(*args, "-o", "/dev/stdout")
    assert done.returncode == 0 and done.stdout == want
    fifo = tmp_path / "v.npy"
    os.mkfifo(fifo)
    got = {}
    reader = threading.Thread(target=lambda: got.setdefault("bytes", fifo.read_bytes()))
    reader.start()
    assert run_textkit(*args, "-o", str(fifo)).returncode == 0
    reader.join(30)
    (tmp_path / "copy.npy").write_bytes(got["bytes"])
    rows = np.load(tmp_path / "copy.npy")
    np.testing.assert_allclose(rows, reference_vectors(workdir, ["w1 w2", "w3"]), rtol=1e-6)


def test_empty_input_and_a_parameters_file_named_npy(workdir, tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("", encoding="utf-8")
    res = run(["embed", empty, "--vectors", workdir / "store", "-o", tmp_path / "e.npy"], workdir)
    assert res.exit_code == 0 and "the input has no lines" in res.stderr
    assert np.load(tmp_path / "e.npy").shape == (0, 6)
    res = run(["whiten", "fit", workdir / "corpus.txt", "--vectors", workdir / "store", *TOK,
               "-o", tmp_path / "w.npy"], workdir)
    assert res.exit_code == 2 and "an .npz archive; name the file .npz" in res.stderr
    assert not (tmp_path / "w.npy").exists()
    res = run(["whiten", "fit", empty, "--vectors", workdir / "store", "-o", tmp_path / "w.npz"], workdir)
    assert res.exit_code == 1 and f"{empty}: whitening needs at least 2 sentences" in res.stderr


def test_applying_a_whitening_with_other_encoder_settings_warns(workdir, tmp_path):
    """Pooling, SIF and SIF's source of p(w) (a count file, the store's counts) are recorded when
    fitting; applying with others is warned of.  Files saved before the source was recorded
    (weighting=sif(a=...)) are compared without it."""
    counts = tmp_path / "c.tsv"
    counts.write_text("".join(f"{w}\t{100 - i}\n" for i, w in enumerate(WORDS)), encoding="utf-8")
    base = [workdir / "corpus.txt", "--vectors", workdir / "store", *TOK]
    fitted = {}
    for name, extra in {"raw": ["--pooling", "raw"], "file": ["--weighting", "sif", "--counts", counts],
                        "store": ["--weighting", "sif"]}.items():
        fitted[name] = tmp_path / f"{name}.npz"
        assert run(["whiten", "fit", *base, *extra, "-o", fitted[name]], workdir).exit_code == 0

    def warning(params, *extra):
        res = run(["embed", *base, *extra, "--whitening", params, "-o", tmp_path / "e.npy"], workdir)
        assert res.exit_code == 0, res.output
        return [line for line in res.stderr.splitlines() if "was fitted on sentence vectors made with" in line]

    assert warning(fitted["raw"], "--pooling", "raw") == warning(fitted["raw"]) == []
    assert "pooling=raw weighting=none, now pooling=unit weighting=none" in warning(
        fitted["raw"], "--pooling", "unit")[0]
    assert warning(fitted["file"], "--weighting", "sif", "--counts", counts) == []
    assert warning(fitted["store"], "--weighting", "sif") == []
    said = warning(fitted["file"], "--weighting", "sif")
    assert len(said) == 1 and "sif(a=0.001,p=counts)" in said[0] and "sif(a=0.001,p=store counts)" in said[0]
    old = dict(np.load(fitted["file"]))
    old["encoder"] = np.str_("pooling=unit weighting=sif(a=0.001)")
    np.savez(tmp_path / "old.npz", **old)
    assert warning(tmp_path / "old.npz", "--weighting", "sif") == warning(tmp_path / "old.npz") == []
    assert len(warning(tmp_path / "old.npz", "--weighting", "none")) == 1


def test_applying_a_whitening_makes_sentence_vectors_as_its_fit_did(workdir, tmp_path):
    """embed -w, whiten apply and eval --fit-on PARAMS take the fit's pooling, weighting and
    SIF constant unless given: the same vectors as giving them again, and no warning."""
    base = [workdir / "corpus.txt", "--vectors", workdir / "store", *TOK]
    fit_settings = ["--pooling", "raw", "--weighting", "sif", "--sif-a", "0.05"]
    params = tmp_path / "p.npz"
    assert run(["whiten", "fit", *base, *fit_settings, "--dim", 4, "-o", params], workdir).exit_code == 0

    def vectors(command, *extra, warned=False):
        out = tmp_path / "v.npy"
        res = run([*command, *base, *extra, "-w", params, "-o", out], workdir)
        assert res.exit_code == 0 and ("was fitted on" in res.stderr) == warned, res.output
        return np.load(out)

    as_fitted = vectors(["embed"], *fit_settings)
    np.testing.assert_array_equal(vectors(["embed"]), as_fitted)
    np.testing.assert_array_equal(vectors(["whiten", "apply"]), as_fitted)
    # settings given are kept (and warned of)
    assert not np.allclose(vectors(["embed"], "--pooling", "unit", "--weighting", "none", warned=True), as_fitted)
    res = run(["embed", *base, "-w", params, "--counts", tmp_path / "none.tsv"], workdir)
    assert res.exit_code == 1 and "none.tsv" in res.stderr  # --counts taken: the fit used SIF
    plain = tmp_path / "plain.npz"
    assert run(["whiten", "fit", *base, "--dim", 4, "-o", plain], workdir).exit_code == 0
    res = run(["embed", *base, "-w", plain, "--sif-a", "0.1"], workdir)
    assert res.exit_code == 2 and f"--sif-a is used only with --weighting sif ({plain} was fitted without it)" \
        in res.stderr

    pairs = tmp_path / "pairs.tsv"
    pairs.write_text("".join(f"w{i} w{i + 1}\tw{i + 2} w{i}\t{i % 4}\n" for i in range(1, 9)), encoding="utf-8")
    evaluated = [run(["eval", pairs, "--vectors", workdir / "store", *TOK, "--method", "whiten", "--fit-on", params,
                      "--format", "json", "--scores", *extra], workdir) for extra in ([], fit_settings)]
    assert all(res.exit_code == 0 and "was fitted on" not in res.stderr for res in evaluated)
    assert evaluated[0].stdout == evaluated[1].stdout


def test_whiten_fit_then_apply_gives_white_vectors(workdir, tmp_path):
    params = tmp_path / "p.npz"
    res = run(
        [
            "whiten",
            "fit",
            workdir / "corpus.txt",
            "--vectors",
            workdir / "store",
            *TOK,
            "--dim",
            4,
            "-o",
            params,
        ],
        workdir,
    )
    assert res.exit_code == 0, res.output
    assert res.stdout == ""
    out = tmp_path / "w.npy"
    res = run(
        [
            "whiten",
            "apply",
            "-w",
            params,
            workdir / "corpus.txt",
            "--vectors",
            workdir / "store",
            *TOK,
            "-o",
            out,
        ],
        workdir,
    )
    assert res.exit_code == 0, res.output
    white = np.load(out)
    known = white.any(axis=1)
    assert (
        white.shape == (120, 4) and known.sum() == 118
    )  # two lines without a known word stay zero
    np.testing.assert_allclose(white[known].mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(np.cov(white[known].T), np.eye(4), atol=1e-4)
    # embed --whitening is the same command
    out2 = tmp_path / "w2.npy"
    run(
        [
            "embed",
            workdir / "corpus.txt",
            "--vectors",
            workdir / "store",
            *TOK,
            "--whitening",
            params,
            "-o",
            out2,
        ],
        workdir,
    )
    np.testing.assert_array_equal(np.load(out2), white)


def test_params_from_other_vectors_exit_1_with_one_line(workdir, tmp_path):
    params = tmp_path / "p.npz"
    run(
        [
            "whiten",
            "fit",
            workdir / "corpus.txt",
            "--vectors",
            workdir / "store",
            *TOK,
            "-o",
            params,
        ],
        workdir,
    )
    out = tmp_path / "x.npy"
    res = run(
        [
            "embed",
            workdir / "corpus.txt",
            "--vectors",
            workdir / "other",
            *TOK,
            "--whitening",
            params,
            "-o",
            out,
        ],
        workdir,
    )
    assert res.exit_code == 1
    assert res.stderr.count("\n") == 1 and "fitted on other vectors" in res.stderr
    assert not out.exists()


def test_dim_larger_than_vector_dim_exits_2(workdir, tmp_path):
    params = tmp_path / "p.npz"
    res = run(
        [
            "whiten",
            "fit",
            workdir / "corpus.txt",
            "--vectors",
            workdir / "store",
            *TOK,
            "--dim",
            7,
            "-o",
            params,
        ],
        workdir,
    )
    assert res.exit_code == 2
    assert "n_components (--dim) 7 is larger than the vector dimension 6" in res.stderr
    assert not params.exists()
    res = run(
        [
            "eval",
            workdir / "pairs.tsv",
            "--vectors",
            workdir / "store",
            *TOK,
            "--method",
            "whiten",
            "--dim",
            7,
        ],
        workdir,
    )
    assert res.exit_code == 2


def test_fit_on_fewer_sentences_than_dimensions_warns(workdir, tmp_path):
    few = tmp_path / "few.txt"
    few.write_text("w1 w2\nw3\nw4 w5 w6\n", encoding="utf-8")
    params = tmp_path / "p.npz"
    res = run(["whiten", "fit", few, "--vectors", workdir / "store", *TOK, "-o", params], workdir)
    assert res.exit_code == 0
    assert "only 3 vectors for dimension 6" in res.stderr
    assert Whitening.load(params).n_components_ == 2
    one = tmp_path / "one.txt"
    one.write_text("w1 w2\n", encoding="utf-8")
    res = run(["whiten", "fit", one, "--vectors", workdir / "store", *TOK, "-o", params], workdir)
    assert res.exit_code == 1 and "at least 2 sentences" in res.stderr


def test_eval_cosine_json_matches_library_reference(workdir):
    res = run(
        ["eval", workdir / "pairs.tsv", "--vectors", workdir / "store", *TOK, "--format", "json"],
        workdir,
    )
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout)
    assert set(summary) == {"method", "spearman", "pearson", "pairs", "oov_rate"}
    rows = [
        line.split("\t")
        for line in (workdir / "pairs.tsv").read_text(encoding="utf-8").splitlines()
    ]
    a = reference_vectors(workdir, [r[0] for r in rows])
    b = reference_vectors(workdir, [r[1] for r in rows])
    labels = [float(r[2]) for r in rows]
    empty = ~a.any(axis=1) | ~b.any(axis=1)  # a side with no known word: scored -1, as by sim
    assert empty.any()
    with np.errstate(invalid="ignore", divide="ignore"):
        scores = np.sum(a * b, axis=1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    scores[empty] = -1.0
    np.testing.assert_allclose(cosine_rows(a, b), scores, atol=1e-12)
    assert summary["pairs"] == 60 and summary["method"] == "cosine"
    assert summary["spearman"] == pytest.approx(100 * spearman(scores, labels), abs=1e-3)
    assert summary["pearson"] == pytest.approx(100 * pearson(scores, labels), abs=1e-3)
    tokens = [w for r in rows for w in (r[0] + " " + r[1]).split()]
    assert summary["oov_rate"] == pytest.approx(
        sum(w not in WORDS for w in tokens) / len(tokens), abs=1e-6
    )


def test_eval_whiten_fit_on_pairs_file_and_params(workdir, tmp_path):
    base = [
        "eval",
        workdir / "pairs.tsv",
        "--vectors",
        workdir / "store",
        *TOK,
        "--method",
        "whiten",
        "--format",
        "json",
    ]
    on_pairs = json.loads(run(base, workdir).stdout)
    params = tmp_path / "p.npz"
    run(
        [
            "whiten",
            "fit",
            workdir / "corpus.txt",
            "--vectors",
            workdir / "store",
            *TOK,
            "-o",
            params,
        ],
        workdir,
    )
    on_corpus = json.loads(run(base + ["--fit-on", workdir / "corpus.txt"], workdir).stdout)
    on_params = json.loads(run(base + ["--fit-on", params], workdir).stdout)
    assert on_corpus == on_params
    unnamed = tmp_path / "params"  # saved under a name without .npz: known by its content, as embed knows it
    unnamed.write_bytes(params.read_bytes())
    assert json.loads(run(base + ["--fit-on", unnamed], workdir).stdout) == on_params
    res = run(base + ["--fit-on", unnamed, "--eigen-floor", "0.01"], workdir)
    assert res.exit_code == 2 and "--eigen-floor applies when fitting" in res.stderr
    assert on_pairs["method"] == "whiten" and on_pairs != on_corpus


def test_eval_reads_the_fit_on_corpus_with_encoding_and_strict(workdir, tmp_path):
    """--encoding and --strict apply to the --fit-on corpus as to the pairs file."""
    base = ["eval", workdir / "pairs.tsv", "--vectors", workdir / "store", *TOK, "--method", "whiten",
            "--format", "json"]
    lines = (workdir / "corpus.txt").read_text(encoding="utf-8").split("\n")
    latin = tmp_path / "corpus.latin1.txt"  # the same words, one line ending in a byte UTF-8 rejects
    latin.write_bytes("\n".join(lines[:5] + [lines[5] + " \u00e9"] + lines[6:]).encode("latin-1"))
    plain = json.loads(run(base + ["--fit-on", workdir / "corpus.txt"], workdir).stdout)
    read_as_latin1 = run(base + ["--fit-on", latin, "--encoding", "latin-1"], workdir)
    assert read_as_latin1.exit_code == 0 and "invalid" not in read_as_latin1.stderr
    assert json.loads(read_as_latin1.stdout) == plain
    strict = run(base + ["--fit-on", latin, "--strict"], workdir)
    assert strict.exit_code == 1 and f"{latin}:6: invalid utf-8" in strict.stderr


def test_eval_scores_rows(workdir):
    res = run(
        ["eval", workdir / "pairs.tsv", "--vectors", workdir / "store", *TOK, "--scores"], workdir
    )
    assert res.exit_code == 0
    rows = [line.split("\t") for line in res.stdout.splitlines()]
    assert len(rows) == 60 and rows[0][0] == "1"
    assert "spearman x100" in res.stderr


@pytest.mark.parametrize("method", ["wmd", "wrd"])
def test_eval_transport_methods(workdir, method):
    res = run(
        [
            "eval",
            workdir / "pairs.tsv",
            "--vectors",
            workdir / "store",
            *TOK,
            "--method",
            method,
            "--format",
            "json",
        ],
        workdir,
    )
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout)
    assert summary["method"] == method and summary["pairs"] == 60


def test_eval_transport_options_match_the_library(workdir, tmp_path):
    """eval --method wmd|wrd with --normalize / --oov: Spearman of transport.score_pairs with the same options."""
    from textkit.transport import score_pairs
    from textkit.vectors import open_vectors

    rng = np.random.default_rng(5)
    rows = []
    for i in range(40):
        a = [str(w) for w in rng.choice(WORDS, size=rng.integers(1, 5))]
        b = [str(w) for w in rng.choice(WORDS, size=rng.integers(1, 5))]
        if i % 3 == 0:
            a[0] = a[0] + b[0]  # an unknown token made of two known ones: split gives both
        rows.append((a, b, float(rng.integers(0, 6))))
    path = tmp_path / "joined.tsv"
    path.write_text("".join(f"{' '.join(a)}\t{' '.join(b)}\t{y}\n" for a, b, y in rows), encoding="utf-8")
    vectors = open_vectors(workdir / "store")
    labels = [y for *_, y in rows]
    base = ["eval", path, "--vectors", workdir / "store", *TOK, "--format", "json"]
    seen = set()
    for method, extra, kwargs in [
        ("wmd", [], {}),
        ("wmd", ["--normalize"], {"normalize": True}),
        ("wmd", ["--normalize", "--oov", "split"], {"normalize": True, "oov": "split"}),
        ("wrd", ["--oov", "split"], {"oov": "split"}),
    ]:
        res = run([*base, "--method", method, *extra], workdir)
        assert res.exit_code == 0, res.output
        scores = score_pairs([(a, b) for a, b, _ in rows], vectors, metric=method, **kwargs)
        want = 100 * spearman(-scores if method == "wmd" else scores, labels)
        got = json.loads(res.stdout)["spearman"]
        assert got == pytest.approx(want, abs=1e-4)
        seen.add(round(got, 4))
    assert len(seen) == 4  # the options change the scores
    res = run([*base, "--method", "wrd", "--oov", "error"], workdir)
    assert res.exit_code == 1 and "not in the vectors" in res.stderr
    res = run([*base, "--normalize"], workdir)
    assert res.exit_code == 2 and "--normalize and --oov apply only" in res.stderr


def test_eval_refuses_options_its_method_does_not_use(workdir, tmp_path):
    """--pooling/--weighting with WMD/WRD, and --eigen-floor with saved parameters, are usage errors, not ignored."""
    base = ["eval", workdir / "pairs.tsv", "--vectors", workdir / "store", *TOK]
    for method in ("wmd", "wrd"):
        for extra, named in ((["--pooling", "raw"], "--pooling"), (["--weighting", "sif"], "--weighting"),
                             (["--pooling", "unit"], "--pooling")):  # the default value, given: refused too
            res = run([*base, "--method", method, *extra], workdir)
            assert res.exit_code == 2, (method, extra, res.output)
            assert named in res.stderr and "apply only to --method cosine and whiten" in res.stderr
    for extra in (["--pooling", "raw"], ["--weighting", "sif"]):  # where they apply, they still work
        assert run([*base, "--method", "cosine", *extra], workdir).exit_code == 0
    params = tmp_path / "p.npz"
    assert run(["whiten", "fit", workdir / "corpus.txt", "--vectors", workdir / "store", *TOK, "-o", params],
               workdir).exit_code == 0
    res = run([*base, "--method", "whiten", "--fit-on", params, "--eigen-floor", "0.01"], workdir)
    assert res.exit_code == 2 and "--eigen-floor applies when fitting" in res.stderr
    for fit_on in ("pairs", workdir / "corpus.txt"):
        res = run([*base, "--method", "whiten", "--fit-on", fit_on, "--eigen-floor", "0.01"], workdir)
        assert res.exit_code == 0, res.output


def test_eval_transport_messages_name_file_lines(workdir, tmp_path):
    """Pairs are named by their line in the file (blank lines count), in the warning and the OOV error."""
    path = tmp_path / "gaps.tsv"
    path.write_text("w1 w2\tw3\t1\n\nw4\tqqq\t0\nw5 zz\tw6\t2\n", encoding="utf-8")
    base = ["eval", path, "--vectors", workdir / "store", *TOK, "--method", "wrd"]
    res = run(base, workdir)
    assert res.exit_code == 0 and "1 line(s) with a side that has no word with a nonzero vector" in res.stderr
    assert res.stderr.rstrip().endswith(": line 3")
    res = run([*base, "--oov", "error"], workdir)
    assert res.exit_code == 1 and ":3: text 2:" in res.stderr and "'qqq'" in res.stderr


@pytest.mark.parametrize(
    "content, message",
    [
        ("w1\tw2\t1\nw1 w2\tw3\n", "bad.tsv:2: expected 3 tab-separated fields"),
        ("w1\tw2\tsimilar\n", "bad.tsv:1: label 'similar' is not a number"),
    ],
)
def test_eval_bad_pairs_file_names_the_line(workdir, tmp_path, content, message):
    bad = tmp_path / "bad.tsv"
    bad.write_text(content, encoding="utf-8")
    res = run(["eval", bad, "--vectors", workdir / "store", *TOK], workdir)
    assert res.exit_code == 1
    assert message in res.stderr and res.stderr.count("\n") == 1


def test_whiten_options_need_whiten_method(workdir):
    res = run(
        ["eval", workdir / "pairs.tsv", "--vectors", workdir / "store", *TOK, "--dim", 3], workdir
    )
    assert res.exit_code == 2


def test_eval_empty_side_warnings_show_the_reported_score(workdir, tmp_path):
    """The warning's value is the score eval reports (-WMD for wmd); cosine warns too; --oov error names the file."""
    path = tmp_path / "oov.tsv"
    path.write_text("qqq\tw1 w2\t1\nw3\tw4 w5\t2\nw6\tw7\t0\n", encoding="utf-8")
    for method in ("wmd", "wrd", "cosine"):
        res = run(["eval", path, "--vectors", workdir / "store", *TOK, "--method", method, "--scores"], workdir)
        assert res.exit_code == 0
        first = res.stdout.splitlines()[0].split("\t")
        warning = [line for line in res.stderr.splitlines() if "warning" in line]
        assert len(warning) == 1 and f"(scored {float(first[1]):g}): line 1" in warning[0], (method, res.stderr)
    res = run(["eval", path, "--vectors", workdir / "store", *TOK, "--method", "wrd", "--oov", "error"], workdir)
    assert res.exit_code == 1 and f"{path}:1: text 1:" in res.stderr


def test_eval_scores_are_the_scores_sim_gives(workdir, tmp_path):
    """eval correlates what `sim --pairs` prints (-WMD for wmd), empty sides included (-1 for cosine)."""
    path = tmp_path / "pairs.tsv"
    path.write_text("qqq\tw1 w2\t1\nw3\tw4 w5\t2\nw6 w1\tw7\t0\nw2 w3\tzzz\t3\n", encoding="utf-8")
    plain = tmp_path / "plain.tsv"
    plain.write_text("".join(line.rsplit("\t", 1)[0] + "\n" for line in path.read_text("utf-8").splitlines()),
                     encoding="utf-8")
    whitening = tmp_path / "w.npz"
    res = run(["whiten", "fit", workdir / "corpus.txt", "--vectors", workdir / "store", *TOK, "-o", whitening],
              workdir)
    assert res.exit_code == 0, res.output
    for method in ("wmd", "wrd", "cosine", "whiten"):
        extra = ["--fit-on", whitening] if method == "whiten" else []
        res = run(["eval", path, "--vectors", workdir / "store", *TOK, "--method", method, "--scores", *extra],
                  workdir)
        assert res.exit_code == 0, res.output
        got = [float(row.split("\t")[1]) for row in res.stdout.splitlines()]
        extra = ["--whitening", whitening] if method == "whiten" else []
        res = run(["sim", "--pairs", plain, "--vectors", workdir / "store", *TOK, "--metric", method, *extra],
                  workdir)
        assert res.exit_code == 0, res.output
        want = [float(row.split("\t")[2]) for row in res.stdout.splitlines()]
        want = [-w for w in want] if method == "wmd" else want
        assert got == pytest.approx(want, abs=1e-6), method
        if method in ("cosine", "whiten"):
            assert got[0] == got[3] == -1.0


def test_whitening_params_that_are_not_an_npz_are_one_line(workdir, tmp_path):
    np.save(tmp_path / "w.npy", np.eye(3))
    for args in (["whiten", "apply", "-w", tmp_path / "w.npy", workdir / "corpus.txt"],
                 ["embed", workdir / "corpus.txt", "--whitening", tmp_path / "w.npy"]):
        res = run([*args, "--vectors", workdir / "store", *TOK], workdir)
        assert res.exit_code == 1 and res.stdout == "" and "not a textkit whitening file" in res.stderr
        assert res.stderr.count("\n") == 1


def test_embed_output_names(workdir, tmp_path):
    """-o takes .npy or .jsonl (.jsonl.gz compressed); another name is a usage error before any work;
    - is standard output."""
    import gzip

    base = ["embed", workdir / "corpus.txt", "--vectors", workdir / "store", *TOK, "-q"]
    res = run([*base, "-o", tmp_path / "e.csv"], workdir)
    assert res.exit_code == 2 and ".npy" in res.stderr and not (tmp_path / "e.csv").exists()
    res = run([*base, "-o", "-"], workdir)
    assert res.exit_code == 0 and res.stdout == run(base, workdir).stdout and res.stdout.startswith('{"line": 1')
    res = run([*base, "-o", tmp_path / "e.jsonl.gz"], workdir)  # JSON Lines, compressed
    assert res.exit_code == 0 and gzip.decompress((tmp_path / "e.jsonl.gz").read_bytes()).decode() == \
        run(base, workdir).stdout


def test_whiten_fit_checks_its_output_before_the_work(workdir, tmp_path, monkeypatch):
    import textkit.sentences

    def fail(*args, **kwargs):
        raise AssertionError("fitted before the output was checked")

    monkeypatch.setattr(textkit.sentences, "fit_whitening", fail)
    res = run(["whiten", "fit", workdir / "corpus.txt", "--vectors", workdir / "store", *TOK,
               "-o", tmp_path / "missing" / "w.npz"], workdir)
    assert res.exit_code == 1 and "does not exist" in res.stderr and "Traceback" not in res.stderr


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_a_full_device_as_npz_output_is_named(workdir):
    res = run(["whiten", "fit", workdir / "corpus.txt", "--vectors", workdir / "store", *TOK, "-o", "/dev/full"],
              workdir)
    assert res.exit_code == 1 and res.stderr.endswith("textkit: error: /dev/full: cannot write (No space left on device)\n")


def test_npz_outputs_refuse_compressed_names(workdir, tmp_path):
    """An .npz is written as it is: a name ending .gz would say what the file is not."""
    base = [workdir / "corpus.txt", "--vectors", workdir / "store", *TOK]
    for name in ("w.npz.gz", "w.jsonl.xz"):
        res = run(["whiten", "fit", *base, "-o", tmp_path / name], workdir)
        assert res.exit_code == 2 and "name the file .npz" in res.stderr and not (tmp_path / name).exists()
    res = run(["search", "w1", "--corpus", workdir / "corpus.txt", "--vectors", workdir / "store", *TOK,
               "--build-index", tmp_path / "i.npz.gz"], workdir)
    assert res.exit_code == 2 and "name it .npz" in res.stderr


def test_eval_output_is_checked_first_and_named_json_is_json(workdir, tmp_path, monkeypatch):
    import textkit.evaluate

    args = ["eval", workdir / "pairs.tsv", "--vectors", workdir / "store", *TOK]
    res = run([*args, "-o", tmp_path / "e.json"], workdir)
    assert res.exit_code == 0 and json.loads((tmp_path / "e.json").read_text(encoding="utf-8")) == \
        json.loads(run([*args, "--format", "json"], workdir).stdout)

    def fail(*a, **kw):
        raise AssertionError("evaluated before the output was checked")

    monkeypatch.setattr(textkit.evaluate, "evaluate_pairs", fail)
    res = run([*args, "-o", tmp_path / "missing" / "e.txt"], workdir)
    assert res.exit_code == 1 and "does not exist" in res.stderr


def test_eval_reads_other_encodings(workdir, tmp_path):
    text = "w1 w2\tw3\t1\nw4\tw5 w1\t2\nw6\tw6\t5\n"
    (tmp_path / "u.tsv").write_text(text, encoding="utf-8")
    (tmp_path / "gb.tsv").write_bytes(text.replace("w6\tw6", "的 w6\tw6").encode("gb18030"))
    (tmp_path / "u2.tsv").write_text(text.replace("w6\tw6", "的 w6\tw6"), encoding="utf-8")
    base = ["--vectors", workdir / "store", *TOK, "--format", "json"]
    want = run(["eval", tmp_path / "u2.tsv", *base], workdir)
    got = run(["eval", tmp_path / "gb.tsv", "--encoding", "gb18030", *base], workdir)
    assert got.exit_code == 0 and got.stdout == want.stdout
    res = run(["eval", tmp_path / "gb.tsv", "--strict", *base], workdir)
    assert res.exit_code == 1 and "gb.tsv:3: invalid utf-8" in res.stderr


def test_eval_refuses_standard_input_twice(workdir):
    res = run(["eval", "-", "--method", "whiten", "--fit-on", "-", "--vectors", workdir / "store", *TOK], workdir)
    assert res.exit_code == 2 and "standard input can be read only once" in res.stderr


def test_an_empty_counts_file_is_a_data_error_naming_it(workdir, tmp_path):
    empty = tmp_path / "empty.tsv"
    empty.write_text("", encoding="utf-8")
    res = run(["embed", workdir / "corpus.txt", "--vectors", workdir / "store", *TOK, "--weighting", "sif",
               "--counts", empty, "-o", tmp_path / "e.npy"], workdir)
    assert res.exit_code == 1 and f"{empty}: no word counts" in res.stderr
    assert not (tmp_path / "e.npy").exists()


def test_file_names_that_are_not_utf8_are_kept_not_fatal(tmp_path):
    """A name from a Windows zip (GBK bytes) reaches Python as lone surrogates: JSON gets their
    \\u escape (read back as the same name), text output the name's own bytes, and no run fails."""
    import subprocess
    import sys

    odd = os.fsdecode(b"\xff\xfe.txt")
    (tmp_path / odd).write_text("今天天气很好\n明天\n", encoding="utf-8")
    (tmp_path / "b.txt").write_text("今天\n", encoding="utf-8")

    def textkit(*args):
        return subprocess.run([sys.executable, "-m", "textkit", *args], cwd=tmp_path, capture_output=True,
                              env=dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1])))

    done = textkit("embed", odd, "b.txt", "-q")
    assert done.returncode == 0 and done.stderr == b""
    first = json.loads(done.stdout.splitlines()[0])
    assert first["source"] == odd and first["line"] == 1
    done = textkit("vectors", "train", odd, "-o", "store", "--dim", "2", "--min-count", "1", "-q")
    assert done.returncode == 0 and done.stderr == b""
    meta = json.loads((tmp_path / "store" / "meta.json").read_text(encoding="utf-8"))
    assert meta["source"]["trained"]["corpus"] == [odd]
    done = textkit("vectors", "info", "store")
    assert done.returncode == 0 and b"\xff\xfe.txt" in done.stdout and done.stderr == b""


def test_evaluate_pairs_takes_a_path_as_the_library_call(workdir):
    """From Python, a pairs file's path does what its rows do (read_pairs is not needed first)."""
    from textkit.evaluate import evaluate_pairs, read_pairs
    from textkit.sentences import EncoderSpec
    from textkit.tokenize import TokenizerSpec

    spec = EncoderSpec(vectors=str(workdir / "store"), tokenizer=TokenizerSpec(kind="whitespace"))
    by_path = evaluate_pairs(workdir / "pairs.tsv", spec, method="wrd")
    by_rows = evaluate_pairs(read_pairs(str(workdir / "pairs.tsv")), spec, method="wrd")
    assert by_path.summary() == by_rows.summary()
