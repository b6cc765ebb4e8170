"""`textkit vectors convert|train|neighbors|info|export` through the real entry point."""

import json
import os
import struct

import numpy as np
import pytest

from .conftest import run_main
from textkit.vectors import open_store, open_vectors


run = run_main


WORDS = ["猫", "狗", "车", "船", "飞机"]
M = np.array(
    [[1, 0.1, 0], [0.9, 0.2, 0.1], [0, 1, 0.1], [0.1, 0.9, 0.3], [0, 0.7, 0.7]], dtype=np.float32
)


@pytest.fixture
def text_file(tmp_path):
    path = tmp_path / "v.txt"
    lines = [f"{len(WORDS)} 3"] + [w + " " + " ".join(str(x) for x in r) for w, r in zip(WORDS, M)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_convert_info_neighbors_export(tmp_path, text_file):
    store = tmp_path / "store"
    code, out, err = run("vectors", "convert", text_file, "-o", store)
    assert code == 0 and out == ""
    assert "wrote" in err and "5 words x 3" in err
    code, out, _ = run("vectors", "info", store)
    facts = dict(line.split("\t", 1) for line in out.splitlines())
    assert facts["words"] == "5" and facts["dim"] == "3" and facts["dtype"] == "float32"
    assert facts["store"] == "true" and facts["counts"] == "false"  # spelled as in --format json
    assert facts["identity"] == open_store(store).identity
    code, out, _ = run("vectors", "info", store, "--format", "json")
    assert json.loads(out)["source"]["format"] == "word2vec"

    code, out, _ = run("vectors", "neighbors", "猫", "车", "--vectors", store, "-k", "2")
    rows = [line.split("\t") for line in out.splitlines()]
    want = open_store(store)
    expected = [
        [w, str(i + 1), n, f"{s:.6g}"]
        for w in ("猫", "车")
        for i, (n, s) in enumerate(want.nearest(w, 2))
    ]
    assert code == 0 and [r[:3] for r in rows] == [e[:3] for e in expected]
    assert all(abs(float(r[3]) - float(e[3])) < 1e-5 for r, e in zip(rows, expected))

    code, out, _ = run("vectors", "export", store)
    assert code == 0 and out == text_file.read_text(
        encoding="utf-8"
    )  # shortest float32 text, exact
    binary = tmp_path / "v.bin"
    code, _, _ = run("vectors", "export", store, "--format", "word2vec-binary", "-o", binary)
    want_bytes = b"5 3\n" + b"".join(
        w.encode() + b" " + struct.pack("<3f", *r) + b"\n" for w, r in zip(WORDS, M)
    )
    assert code == 0 and binary.read_bytes() == want_bytes
    code, _, _ = run("vectors", "convert", binary, "-o", tmp_path / "again")
    assert open_store(tmp_path / "again").identity == want.identity
    # named .gz: compressed, and read back as such
    import gzip

    code, _, _ = run("vectors", "export", store, "--format", "word2vec-binary", "-o", tmp_path / "v.bin.gz")
    assert code == 0 and gzip.decompress((tmp_path / "v.bin.gz").read_bytes()) == want_bytes
    code, _, _ = run("vectors", "convert", tmp_path / "v.bin.gz", "-o", tmp_path / "again.gz")
    assert open_store(tmp_path / "again.gz").identity == want.identity
    # a device is written in place (no fsync there)
    assert run("vectors", "export", store, "--format", "word2vec-binary", "-o", os.devnull)[:2] == (0, "")


def test_export_without_a_store_writes_the_bundled_vectors(tmp_path, text_file, monkeypatch):
    import textkit.vectors

    assert run("vectors", "convert", text_file, "-o", tmp_path / "small")[0] == 0
    monkeypatch.setattr(textkit.vectors, "default_store_path", lambda: tmp_path / "small")  # a small stand-in
    code, out, _ = run("vectors", "export")
    assert code == 0 and out == text_file.read_text(encoding="utf-8")


def test_neighbors_from_a_plain_file_and_unknown_words(text_file):
    code, out, err = run("vectors", "neighbors", "猫", "无此词", "--vectors", text_file, "-k", "1")
    assert (
        code == 0
        and out == "猫\t1\t狗\t" + f"{open_vectors(text_file).nearest('猫', 1)[0][1]:.6g}\n"
    )
    assert "vectors convert" in err and "'无此词' is not in the vocabulary" in err
    code, out, err = run("vectors", "neighbors", "无此词", "--vectors", text_file)
    assert code == 1 and out == ""
    assert err.strip().splitlines()[-1].startswith("textkit: error: none of the words")


def test_neighbors_default_store_said_once():
    from textkit import vectors as vmod

    if not vmod.is_store(vmod.default_store_path()):
        pytest.fail("the default store is missing")
    default = open_vectors(None)
    vmod._announced_default = False
    word = default.words[100]
    code, out, err = run("vectors", "neighbors", word, default.words[200], "-k", "3")
    assert code == 0 and len(out.splitlines()) == 6
    assert err.count("using the default vectors") == 1


def test_train_then_query(tmp_path):
    rng = np.random.default_rng(0)
    groups = [["猫", "狗", "宠物", "喂"], ["股票", "基金", "市场", "涨"]]
    lines = [" ".join(rng.choice(groups[i % 2], size=6)) for i in range(300)]
    (tmp_path / "c.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    code, _, err = run(
        "vectors",
        "train",
        tmp_path / "c.txt",
        "--tokenizer",
        "whitespace",
        "--dim",
        "3",
        "--min-count",
        "2",
        "-j",
        "1",
        "-o",
        tmp_path / "s",
    )
    assert code == 0, err
    store = open_store(tmp_path / "s")
    assert sorted(store.words) == sorted(groups[0] + groups[1]) and store.counts is not None
    code, out, _ = run("vectors", "neighbors", "股票", "--vectors", tmp_path / "s", "-k", "3")
    assert {line.split("\t")[2] for line in out.splitlines()} == {"基金", "市场", "涨"}
    # --min-count keeps only neighbours seen that often (the store's counts)
    floor = sorted(store.counts.tolist())[3]
    code, out, _ = run("vectors", "neighbors", "股票", "--vectors", tmp_path / "s", "-k", "8",
                       "--min-count", str(floor))
    frequent = {w for w, c in zip(store.words, store.counts.tolist()) if c >= floor} - {"股票"}
    assert code == 0 and {line.split("\t")[2] for line in out.splitlines()} == frequent
    # a floor above every count leaves nothing to list: said, not an empty answer
    top = max(store.counts.tolist())
    code, out, err = run("vectors", "neighbors", "股票", "--vectors", tmp_path / "s", "--min-count", str(top + 1))
    assert code == 2 and out == "" and f"the most: {top:,}" in err
    # one that only the word itself reaches: a warning for that word
    counts = dict(zip(store.words, store.counts.tolist()))
    first = max(counts, key=counts.get)
    assert sorted(counts.values())[-2] < counts[first]  # the most frequent word is alone at the top
    code, out, err = run("vectors", "neighbors", first, "--vectors", tmp_path / "s", "--min-count", str(counts[first]))
    assert code == 0 and out == "" and f"{first!r} has no neighbour seen {counts[first]:,} times or more" in err


def test_neighbors_min_count_needs_counts(tmp_path, text_file):
    code, out, err = run("vectors", "neighbors", "猫", "--vectors", text_file, "--min-count", "2")
    assert code == 2 and out == "" and "--min-count needs word counts" in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    "args,code,message",
    [
        (
            ["vectors", "neighbors", "猫", "--vectors", "{tmp}/missing"],
            1,
            "no such vectors store or file",
        ),
        (["vectors", "info", "{tmp}/missing"], 1, "no such vectors store or file"),
        (
            ["vectors", "convert", "{tmp}/bad.txt", "-o", "{tmp}/out"],
            1,
            "bad.txt:3: expected 3 values",
        ),
        (["vectors", "convert", "{tmp}/missing.txt", "-o", "{tmp}/out"], 1, "no such file"),
        (
            ["vectors", "train", "{tmp}/empty.txt", "--tokenizer", "whitespace", "-o", "{tmp}/out"],
            1,
            "no tokens",
        ),
        (
            [
                "vectors",
                "train",
                "{tmp}/tiny.txt",
                "--tokenizer",
                "whitespace",
                "--min-count",
                "1",
                "-o",
                "{tmp}/out",
            ],
            2,
            "use --dim 3 or less",
        ),
        (["vectors", "export", "{tmp}/spaced", "--format", "word2vec-binary"], 2, "needs -o FILE"),
        (["vectors", "convert", "{tmp}/bad.txt", "-o", "-"], 2, "a store is a folder of files"),
        (["vectors", "train", "{tmp}/tiny.txt", "-o", "-"], 2, "a store is a folder of files"),
        (["vectors", "train", "{tmp}/tiny.txt", "--window", "0", "-o", "{tmp}/out"], 2, "--window"),
        (["vectors", "train", "{tmp}/tiny.txt", "--seed", "-1", "-o", "{tmp}/out"], 2, "--seed"),
        (["vectors", "train", "{tmp}/tiny.txt", "--seed", str(2**32), "-o", "{tmp}/out"], 2, "--seed"),
        (["vectors", "train", "{tmp}/tiny.txt", "--power", "nan", "-o", "{tmp}/out"], 2, "--power"),
        (["vectors", "train", "{tmp}/tiny.txt", "--power", "1e308", "-o", "{tmp}/out"], 2, "--power"),
    ],
)
def test_bad_input_is_one_line(tmp_path, args, code, message):
    (tmp_path / "bad.txt").write_text("2 3\na 1 2 3\nb 1 2\n", encoding="utf-8")
    (tmp_path / "empty.txt").write_text("\n", encoding="utf-8")
    (tmp_path / "tiny.txt").write_text("a b c d a b\n", encoding="utf-8")
    got, out, err = run(*[a.replace("{tmp}", str(tmp_path)) for a in args])
    assert got == code
    assert message in err
    assert "Traceback" not in err
    assert not (tmp_path / "out").exists()  # never a half-written store


def test_store_whose_files_disagree(tmp_path, text_file):
    run("vectors", "convert", text_file, "-o", tmp_path / "s")
    with open(tmp_path / "s" / "vocab.txt", "a", encoding="utf-8") as fh:
        fh.write("多余\n")
    code, out, err = run("vectors", "neighbors", "猫", "--vectors", tmp_path / "s")
    assert code == 1 and out == ""
    assert err.count("\n") == 1 and "files disagree" in err


def test_a_store_listing_a_word_twice_is_refused_by_every_command(tmp_path, text_file):
    run("vectors", "convert", text_file, "-o", tmp_path / "s")
    vocab = (tmp_path / "s" / "vocab.txt").read_text(encoding="utf-8").splitlines()
    vocab[-1] = vocab[0]  # same number of lines, so the files still agree
    (tmp_path / "s" / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    for args in (["vectors", "neighbors", vocab[1], "--vectors", tmp_path / "s"],
                 ["vectors", "info", tmp_path / "s"],
                 ["vectors", "export", tmp_path / "s", "-o", tmp_path / "out.txt"],
                 ["sim", vocab[1], vocab[2], "--vectors", tmp_path / "s", "--tokenizer", "whitespace"]):
        code, out, err = run(*args)
        assert code == 1 and out == "", args
        assert err.count("\n") == 1 and "lists 1 word(s) twice" in err, (args, err)
    assert not (tmp_path / "out.txt").exists()


def test_cli_window_bound_matches_the_library():
    from textkit.cli import vectors as cli_vectors
    from textkit.vector_training import MAX_WINDOW

    assert cli_vectors.MAX_WINDOW == MAX_WINDOW


def test_output_never_replaces_a_users_folder(tmp_path, text_file):
    """-o may replace a store (or fill an empty folder), never another folder, a store holding
    other files, or a file."""
    folder = tmp_path / "proj"
    folder.mkdir()
    (folder / "notes.md").write_text("mine", encoding="utf-8")
    (tmp_path / "plain").write_text("mine", encoding="utf-8")
    corpus = tmp_path / "c.txt"
    corpus.write_text("a b c d a b c a b\n" * 3, encoding="utf-8")
    for args in (["convert", text_file], ["train", corpus, "--tokenizer", "whitespace", "--min-count", "1",
                                          "--dim", "2"]):
        for dest, what in ((folder, "holding other files"), (tmp_path / "plain", "not a folder")):
            code, out, err = run("vectors", *args, "-o", dest)
            assert code == 1 and out == "" and what in err and err.count("\n") == 1
        assert (folder / "notes.md").read_text(encoding="utf-8") == "mine"
        assert (tmp_path / "plain").read_text(encoding="utf-8") == "mine"
    (tmp_path / "empty").mkdir()
    assert run("vectors", "convert", text_file, "-o", tmp_path / "empty")[0] == 0
    assert open_store(tmp_path / "empty").words == WORDS
    code, _, _ = run("vectors", "train", corpus, "--tokenizer", "whitespace", "--min-count", "1", "--dim", "2",
                     "-o", tmp_path / "empty")  # a store: replaced whole
    assert code == 0 and open_store(tmp_path / "empty").words == ["a", "b", "c", "d"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.txt", "empty", "plain", "proj", "v.txt"]
    # a store that holds a file of the user's (a README beside the vectors) is theirs too
    (tmp_path / "empty" / "README.md").write_text("where these vectors come from", encoding="utf-8")
    code, _, err = run("vectors", "convert", text_file, "-o", tmp_path / "empty")
    assert code == 1 and "holding other files" in err
    assert open_store(tmp_path / "empty").words == ["a", "b", "c", "d"] and (tmp_path / "empty" / "README.md").exists()


def test_neighbors_huge_k_and_a_zero_vector(tmp_path):
    path = tmp_path / "z.txt"
    path.write_text("3 2\na 1 0\nzero 0 0\nb 0.5 0.5\n", encoding="utf-8")
    code, out, err = run("vectors", "neighbors", "zero", "a", "-k", "1000000000000", "--vectors", path)
    assert code == 0 and "'zero' has a zero vector" in err and "Traceback" not in err
    # a zero row has no cosine with anything: never a neighbour, even when k asks for every word
    assert [r.split("\t")[:3] for r in out.splitlines()] == [["a", "1", "b"]]
    code, out, err = run("vectors", "neighbors", "zero", "--vectors", path)
    assert code == 1 and out == "" and "no" in err and err.count("textkit: error:") == 1


@pytest.mark.parametrize("row", ["猫 1 2 x 4", "猫 1 2 Infinity 4", "猫 1 2 1e39 4"])
def test_a_bad_value_in_the_first_row_is_named(tmp_path, row):
    """Not mistaken for a binary file, and no Python warning beside the one error line."""
    path = tmp_path / "v.txt"
    path.write_text(f"2 4\n{row}\n狗 1 2 3 5\n", encoding="utf-8")
    code, out, err = run("vectors", "convert", path, "-o", tmp_path / "out")
    value = row.split()[3]
    assert code == 1 and err.count("\n") == 1 and f"v.txt:2: value 3 ('{value}')" in err
    assert not (tmp_path / "out").exists()


def test_glove_whose_first_word_holds_a_space_reads_back(tmp_path):
    path = tmp_path / "v.txt"
    path.write_text("2 4\nNew York 1 2 3 4\n狗 1 2 3 5\n", encoding="utf-8")
    assert run("vectors", "convert", path, "-o", tmp_path / "s")[0] == 0
    assert run("vectors", "export", tmp_path / "s", "--format", "glove", "-o", tmp_path / "g.txt")[0] == 0
    code, _, err = run("vectors", "convert", tmp_path / "g.txt", "-o", tmp_path / "again")
    assert code == 0, err
    again = open_store(tmp_path / "again")
    assert again.words == ["New York", "狗"] and np.array_equal(again["New York"], [1, 2, 3, 4])


@pytest.mark.parametrize("text, message", [
    ("猫\n狗\n车\n猫\n", "no two words occur within 5 words"),
    ("猫 猫 猫\n", "vectors need two at least"),
])
def test_train_with_nothing_to_learn_is_an_error(tmp_path, text, message):
    path = tmp_path / "c.txt"
    path.write_text(text, encoding="utf-8")
    code, out, err = run("vectors", "train", path, "--tokenizer", "whitespace", "--min-count", "1", "--dim", "1",
                         "-o", tmp_path / "out")
    assert code in (1, 2) and message in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_a_store_does_not_depend_on_how_its_source_is_named(tmp_path, monkeypatch):
    """meta.json names the converted file as `train` names its corpus, by file name: the same
    file named relatively or absolutely gives the same store, byte for byte."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a.txt").write_text("2 3\n今天 1 2 3\n天气 4 5 6\n", encoding="utf-8")
    assert run_main("vectors", "convert", "a.txt", "-o", "s1")[0] == 0
    assert run_main("vectors", "convert", tmp_path / "a.txt", "-o", "s2")[0] == 0
    for name in sorted(p.name for p in (tmp_path / "s1").iterdir()):
        assert (tmp_path / "s1" / name).read_bytes() == (tmp_path / "s2" / name).read_bytes(), name


def test_convert_a_store_to_another_dtype_or_its_first_words(tmp_path):
    """A store is a SRC like a file: its rows stored as another dtype (int8 to int8 keeps the
    codes exactly), --limit keeps its first words with their counts, and -o may be SRC itself."""
    from textkit.quantized import quantize_rows
    from textkit.vectors import save_store

    rng = np.random.default_rng(5)
    words = [f"词{i}" for i in range(300)]
    matrix = rng.normal(size=(300, 8)).astype(np.float32)
    counts = np.arange(300, 0, -1) * 7
    save_store(tmp_path / "f32", words, matrix, counts=counts)
    code, _, err = run("vectors", "convert", tmp_path / "f32", "--dtype", "float16", "-o", tmp_path / "f16")
    assert code == 0 and "read as store" in err
    half = open_store(tmp_path / "f16")
    assert half.dtype == "float16" and half.words == words
    np.testing.assert_array_equal(np.asarray(half.matrix), matrix.astype(np.float16))
    np.testing.assert_array_equal(half.counts, counts)

    code, _, _ = run("vectors", "convert", tmp_path / "f32", "--dtype", "int8", "--limit", "100",
                     "-o", tmp_path / "i8")
    small = open_store(tmp_path / "i8")
    codes, scales = quantize_rows(matrix[:100])
    assert code == 0 and small.words == words[:100] and small.dtype == "int8"
    np.testing.assert_array_equal(small.matrix.codes, codes)
    np.testing.assert_array_equal(small.matrix.scales, scales)
    np.testing.assert_array_equal(small.counts, counts[:100])
    code, _, _ = run("vectors", "convert", tmp_path / "i8", "--dtype", "int8", "-o", tmp_path / "copy")
    assert code == 0 and open_store(tmp_path / "copy").identity == small.identity  # codes copied

    code, _, _ = run("vectors", "convert", tmp_path / "f16", "-o", tmp_path / "f16")  # in place, to float32
    back = open_store(tmp_path / "f16")
    assert code == 0 and back.dtype == "float32"
    np.testing.assert_array_equal(np.asarray(back.matrix), matrix.astype(np.float16).astype(np.float32))
    for option in (["--format", "glove"], ["--encoding", "gb18030"]):
        code, _, err = run("vectors", "convert", tmp_path / "f32", *option, "-o", tmp_path / "x")
        assert code == 2 and "is a store" in err and not (tmp_path / "x").exists()


def test_info_as_tsv_leaves_a_missing_value_empty(tmp_path):
    """A file read from standard input has no size on disk: JSON says null, TSV nothing (not "None")."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "textkit", "vectors", "info", "-"], input="猫 1 2\n狗 3 4\n".encode(),
                          capture_output=True, timeout=120, cwd=os.path.dirname(os.path.dirname(__file__)))
    assert done.returncode == 0 and "bytes_on_disk\t\n" in done.stdout.decode()
