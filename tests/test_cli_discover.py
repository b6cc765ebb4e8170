"""`textkit discover` as a user runs it: output rows, -j identity, --new-only, --save-dict, bad input."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys

import pytest
from click.testing import CliRunner

from textkit.cli.main import cli
from textkit.discovery import DiscoverOptions, discover_documents
from textkit.tokenize import TokenizerSpec, get_tokenizer

from .conftest import run_textkit
from .discovery_reference import reference_discover


def rows(stdout: bytes):
    return [line.split("\t") for line in stdout.decode("utf-8").splitlines()]


def test_output_matches_reference_and_is_identical_for_any_workers(sample_path, sample_lines):
    one = run_textkit("discover", sample_path, "--min-count", "3", "-j1")
    two = run_textkit("discover", sample_path, "--min-count", "3", "-j2")
    assert one.returncode == 0 and two.returncode == 0, one.stderr
    assert one.stdout == two.stdout
    ref = reference_discover(sample_lines, 3)
    table = rows(one.stdout)
    assert [(w, int(c)) for w, c, *_ in table] == [(r[0], r[1]) for r in ref]
    assert all(len(r) == 5 for r in table)
    assert abs(float(table[0][2]) - ref[0][2]) < 1e-5
    assert b"min_count 3" in one.stderr


def test_stdin_top_header_jsonl_and_save_dict(sample_path, tmp_path):
    raw = sample_path.read_bytes()
    saved = tmp_path / "new.dict"
    out = run_textkit("discover", "-", "--min-count", "3", "--top", "5", "--header",
                      "--save-dict", saved, "-j1", input=raw)
    assert out.returncode == 0, out.stderr
    table = rows(out.stdout)
    assert table[0] == ["word", "count", "cohesion", "left_entropy", "right_entropy"]
    assert len(table) == 6
    saved_rows = [line.split(" ") for line in saved.read_text(encoding="utf-8").splitlines()]
    assert [w for w, _ in saved_rows] == [w for w, *_ in table[1:]]
    assert all(int(f) >= int(c) for (_, f), (_, c, *_) in zip(saved_rows, table[1:]))
    # the saved file is a valid jieba user dictionary: its words become known
    tok = get_tokenizer(TokenizerSpec(user_dict=str(saved)))
    assert all(tok.in_dictionary(w) for w, *_ in table[1:])
    js = run_textkit("discover", sample_path, "--min-count", "3", "--top", "5", "--format", "jsonl")
    objs = [json.loads(line) for line in js.stdout.decode().splitlines()]
    assert [(o["word"], o["count"]) for o in objs] == [(w, int(c)) for w, c, *_ in table[1:]]


def test_json_lines_with_control_characters_give_the_same_words_from_a_pipe(sample_lines, tmp_path):
    """Piped input is copied to a temporary file to be read twice; a NUL or CR inside a JSON field
    (a clause boundary) made that copy look binary.  A pipe and a file give the same table."""
    docs = [line[:k] + ch + line[k:] for line, ch in zip(sample_lines[:400], "\0\r\n\0" * 100)
            for k in [len(line) // 2]]
    path = tmp_path / "docs.jsonl"
    path.write_text("".join(json.dumps({"t": d}) + "\n" for d in docs), encoding="utf-8")
    args = ["discover", "--field", "t", "--min-count", "3", "-j1"]
    from_file = run_textkit(*args, path)
    piped = run_textkit(*args, "-", input=path.read_bytes())
    assert from_file.returncode == 0 and piped.returncode == 0, piped.stderr
    assert piped.stdout == from_file.stdout and len(rows(piped.stdout)) > 5


def test_new_only_with_user_dict(sample_path, sample_lines, tmp_path):
    every = discover_documents(sample_lines, DiscoverOptions(min_count=3)).words
    tok = get_tokenizer(TokenizerSpec())
    new = [w.word for w in every if not (tok.in_dictionary(w.word) or (w.word.isascii() and w.word.isdigit()))]
    assert new and len(new) < len(every)
    out = run_textkit("discover", sample_path, "--min-count", "3", "--new-only")
    assert [r[0] for r in rows(out.stdout)] == new
    user = tmp_path / "user.dict"
    user.write_text(f"{new[0]} 5\n", encoding="utf-8")
    out = run_textkit("discover", sample_path, "--min-count", "3", "--new-only", "--user-dict", user)
    assert [r[0] for r in rows(out.stdout)] == new[1:]


def test_new_only_leaves_out_numbers(tmp_path):
    """A run of digits is one jieba token without any dictionary: no new word, though it is cohesive."""
    from itertools import permutations

    words = ["蝙蝠侠", "超人", "朋友", "喜欢", "今天", "电影院", "我们", "2019", "灵光乍"]
    path = tmp_path / "c.txt"
    path.write_text("\n".join("".join(p) for p in permutations(words, 3)) + "\n", encoding="utf-8")
    args = ["discover", path, "--min-count", "5", "--min-pmi", "2"]
    assert "2019" in [r[0] for r in rows(run_textkit(*args).stdout)]
    assert [r[0] for r in rows(run_textkit(*args, "--new-only").stdout)] == ["灵光乍"]


@pytest.mark.parametrize("text, note", [
    (b"", b"no Han characters"),
    (b"hello, world! 123 hello world\n", b"no Han characters"),
    ("今天天气不错。\n".encode(), b"output is empty"),
])
def test_empty_outputs_exit_0_with_a_note(text, note, tmp_path):
    path = tmp_path / "in.txt"
    path.write_bytes(text)
    out = run_textkit("discover", path, "-o", tmp_path / "out.tsv")
    assert out.returncode == 0 and out.stdout == b""
    assert note in out.stderr
    assert (tmp_path / "out.tsv").read_bytes() == b""


def test_min_count_above_every_count(sample_path):
    out = run_textkit("discover", sample_path, "--min-count", "100000")
    assert out.returncode == 0 and out.stdout == b""
    assert b"output is empty" in out.stderr


@pytest.mark.parametrize("args", [
    ["--min-count", "0"], ["--min-pmi", "1,2"], ["--min-pmi", "x"], ["--min-pmi", "1,nan,2"],
    ["--min-entropy", "-1"], ["--max-n", "5"], ["--max-n", "1"], ["--top", "0"], ["--min-len", "0"],
    ["--user-dict", "whatever.dict"],
])
def test_invalid_thresholds_exit_2(sample_path, args):
    result = CliRunner().invoke(cli, ["discover", str(sample_path), *args])
    assert result.exit_code == 2, result.output
    assert "Invalid value" in result.output or "only with --new-only" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_invalid_threshold_in_a_real_process_is_one_line(sample_path):
    out = run_textkit("discover", sample_path, "--min-pmi", "1,2")
    assert out.returncode == 2 and out.stdout == b""
    assert b"Traceback" not in out.stderr and b"--min-pmi" in out.stderr


def test_one_pmi_value_applies_to_every_length(sample_path):
    a = run_textkit("discover", sample_path, "--min-count", "3", "--min-pmi", "3", "--top", "20")
    b = run_textkit("discover", sample_path, "--min-count", "3", "--min-pmi", "3,3,3", "--top", "20")
    assert a.returncode == 0 and a.stdout == b.stdout and a.stdout


def test_save_dict_written_even_when_the_reader_stops_early(sample_path, tmp_path):
    """`discover ... --save-dict d | head -1`: the dictionary is written before standard output."""
    import subprocess
    import sys

    dict_path = tmp_path / "new.dict"
    result = subprocess.run(f'"{sys.executable}" -m textkit discover "{sample_path}" --save-dict "{dict_path}" '
                            f"| head -1", shell=True, capture_output=True)
    assert result.returncode == 0 and len(result.stdout.splitlines()) == 1
    assert dict_path.exists() and len(dict_path.read_text(encoding="utf-8").splitlines()) > 100


def test_input_warnings_given_once_though_read_twice(tmp_path, sample_lines):
    """Discovery reads its input twice; a bad byte is reported by the first pass only."""
    path = tmp_path / "bad.txt"
    path.write_bytes("\n".join(sample_lines[:50]).encode("utf-8") + b"\n\xff\xfe\n")
    for workers in ("1", "2"):
        res = run_textkit("discover", path, "-j", workers)
        assert res.returncode == 0 and res.stdout
        err = res.stderr.decode()
        assert err.count("invalid utf-8 bytes replaced") == 1 and err.count("shown as U+FFFD") == 1, err


def test_inputs_that_can_be_read_once_are_read_whole(sample_path, tmp_path):
    """/dev/stdin on a pipe and a named pipe (as `<(cmd)` gives) are copied before the two passes."""
    import os
    import threading

    want = run_textkit("discover", sample_path, "--min-count", "3")
    assert want.returncode == 0 and want.stdout.count(b"\n") > 100
    via_stdin = run_textkit("discover", "/dev/stdin", "--min-count", "3", input=sample_path.read_bytes())
    assert via_stdin.returncode == 0 and via_stdin.stdout == want.stdout
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    writer = threading.Thread(target=lambda: fifo.write_bytes(sample_path.read_bytes()))
    writer.start()
    try:
        via_fifo = run_textkit("discover", fifo, "--min-count", "3", timeout=60)
    finally:
        writer.join(timeout=60)
    assert via_fifo.returncode == 0 and via_fifo.stdout == want.stdout


def test_a_failed_output_leaves_the_saved_dictionary_as_it_was(sample_path, tmp_path, monkeypatch):
    import errno
    import os

    from .conftest import run_main

    saved, out = tmp_path / "new.dict", tmp_path / "words.tsv"
    saved.write_text("OLD 1\n", encoding="utf-8")
    out.write_text("old\n", encoding="utf-8")

    def full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)
    code, _, err = run_main("discover", sample_path, "--min-count", "3", "-o", out, "--save-dict", saved)
    assert code == 1 and "cannot write (No space left on device)" in err
    assert saved.read_text(encoding="utf-8") == "OLD 1\n" and out.read_text(encoding="utf-8") == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["new.dict", "words.tsv"]



def test_table_and_dictionary_never_land_in_one_place(sample_path, tmp_path):
    """-o and --save-dict naming one file left only the dictionary (exit 0); both on standard
    output mixed dictionary lines into the table; a --save-dict file that standard output was
    redirected to left the table in the replaced file."""
    out = tmp_path / "d.tsv"
    for args in (["-o", out, "--save-dict", out], ["-o", out, "--save-dict", tmp_path / "." / "d.tsv"],
                 ["--save-dict", "-"]):
        done = run_textkit("discover", sample_path, "--min-count", "3", *args)
        assert done.returncode == 2 and b"Traceback" not in done.stderr
        assert not out.exists()
    same = tmp_path / "same.tsv"
    done = subprocess.run(f'{shlex.quote(sys.executable)} -m textkit discover {shlex.quote(str(sample_path))} '
                          f'--min-count 3 --save-dict {shlex.quote(str(same))} > {shlex.quote(str(same))}',
                          shell=True, capture_output=True)
    assert done.returncode == 2 and b"standard output" in done.stderr
    done = run_textkit("discover", sample_path, "--min-count", "3", "--top", "3", "-o", tmp_path / "t.tsv",
                       "--save-dict", tmp_path / "t.dict")
    assert done.returncode == 0 and len((tmp_path / "t.dict").read_text(encoding="utf-8").splitlines()) == 3


def test_new_words_saved_as_a_dictionary_are_counted_with_it(sample_path, tmp_path):
    """A new word listed with its corpus count (tens, against jieba's total of 60 million) was
    seldom chosen: half the saved words, 24 of the top 50, never came out of count --user-dict."""
    saved = tmp_path / "new.dict"
    found = run_textkit("discover", sample_path, "--new-only", "--top", "50", "--save-dict", saved, "-q")
    assert found.returncode == 0
    new = [row[0] for row in rows(found.stdout)]
    counted = run_textkit("count", sample_path, "--user-dict", saved, "-q")
    words = {row[0] for row in rows(counted.stdout)}
    assert len(new) == 50 and [w for w in new if w not in words] == []
