"""`textkit vectors convert|train|neighbors|info|export` through the real entry point."""

import json
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
        (["vectors", "train", "{tmp}/tiny.txt", "--window", "0", "-o", "{tmp}/out"], 2, "--window"),
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


def test_cli_window_bound_matches_the_library():
    from textkit.cli import vectors as cli_vectors
    from textkit.vector_training import MAX_WINDOW

    assert cli_vectors.MAX_WINDOW == MAX_WINDOW
