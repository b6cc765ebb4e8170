"""The corpus reader: sources, compression by content, encodings, bad bytes, JSON Lines."""

from __future__ import annotations

import bz2
import gzip
import io
import logging
import lzma
import os
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from textkit.corpus import Corpus, open_text
from textkit.errors import CorpusError, UsageError

LINES = ["第一行 text", "", "第三行，结束。"]
RAW = ("\n".join(LINES) + "\n").encode("utf-8")


def docs(*sources, **kw):
    return list(Corpus([str(s) for s in sources], **kw).documents())


@pytest.mark.parametrize("compress", [gzip.compress, bz2.compress, lzma.compress, lambda b: b])
def test_compression_detected_by_content_not_name(tmp_path, compress):
    path = tmp_path / "corpus.txt"  # no telling extension
    path.write_bytes(compress(RAW))
    assert docs(path) == LINES


def test_directories_recursive_sorted_hidden_skipped(tmp_path):
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "2.txt").write_text("b2\n", encoding="utf-8")
    (tmp_path / "a.txt").write_text("a\n", encoding="utf-8")
    (tmp_path / "c.txt.gz").write_bytes(gzip.compress("c\n".encode()))
    (tmp_path / ".hidden").write_text("secret\n", encoding="utf-8")
    assert docs(tmp_path) == ["a", "b2", "c"]


def test_glob_patterns(tmp_path):
    for name in ("x1.txt", "x2.txt", "y.txt"):
        (tmp_path / name).write_text(name + "\n", encoding="utf-8")
    assert docs(tmp_path / "x*.txt") == ["x1.txt", "x2.txt"]
    with pytest.raises(CorpusError, match="no file matches"):
        docs(tmp_path / "z*.txt")


def test_stdin(monkeypatch):
    fake = io.TextIOWrapper(io.BufferedReader(io.BytesIO(gzip.compress(RAW))), encoding="utf-8")
    monkeypatch.setattr(sys, "stdin", fake)
    corpus = Corpus(["-"])
    assert list(corpus.documents()) == LINES
    with pytest.raises(CorpusError, match="only once"):
        list(corpus.documents())


def test_bom_crlf_and_missing_final_newline(tmp_path):
    path = tmp_path / "win.txt"
    path.write_bytes(b"\xef\xbb\xbf" + "甲\r\n乙\r\n丙".encode("utf-8"))
    assert docs(path) == ["甲", "乙", "丙"]


def test_gb18030(tmp_path):
    path = tmp_path / "gb.txt"
    path.write_bytes("中文编码测试\n第二行€\n".encode("gb18030"))
    assert docs(path, encoding="gb18030") == ["中文编码测试", "第二行€"]
    with pytest.raises(UsageError, match="unknown encoding"):  # a bad value: exit 2 at the CLI
        Corpus([str(path)], encoding="klingon")


def test_invalid_utf8_warns_with_file_and_line(tmp_path, caplog):
    path = tmp_path / "bad.txt"
    path.write_bytes("好\n".encode() + b"\xff\xfe bad\n" + "好\n".encode())
    with caplog.at_level(logging.WARNING, logger="textkit"):
        out = docs(path)
    assert out == ["好", "\ufffd\ufffd bad", "好"]
    messages = [r.getMessage() for r in caplog.records]
    assert any(f"{path}:2: invalid utf-8" in m for m in messages)
    assert any(m.startswith("1 line held invalid utf-8") for m in messages)


def test_invalid_utf8_strict_is_error(tmp_path):
    path = tmp_path / "bad.txt"
    path.write_bytes(b"ok\n\xff\n")
    with pytest.raises(CorpusError, match=r"bad.txt:2: invalid utf-8"):
        docs(path, strict=True)


def test_truncated_gzip_names_file(tmp_path):
    path = tmp_path / "cut.gz"
    blob = gzip.compress(RAW * 2000)
    path.write_bytes(blob[: len(blob) // 2])
    with pytest.raises(CorpusError, match=r"cut.gz: truncated or corrupt"):
        docs(path)


def test_a_tar_archive_is_named(tmp_path):
    import io
    import tarfile

    with tarfile.open(tmp_path / "c.tar.gz", "w:gz") as tar:
        info = tarfile.TarInfo("c.txt")
        info.size = len(RAW)
        tar.addfile(info, io.BytesIO(RAW))
    with pytest.raises(CorpusError, match=r"c.tar.gz: a tar archive; extract it first"):
        docs(tmp_path / "c.tar.gz")


@pytest.mark.parametrize("compress", [gzip.compress, bz2.compress, lzma.compress])
def test_truncated_archive_says_where(tmp_path, compress):
    """The error says how far the reading got: after line N, or before the first line
    (bzip2 decompresses in blocks of up to 900 kB, so a small cut file yields no line)."""
    path = tmp_path / "cut.bin"
    blob = compress(RAW * 2000)
    path.write_bytes(blob[: len(blob) // 2])
    with pytest.raises(CorpusError, match=r"cut.bin: truncated or corrupt compressed data "
                                          r"(after line [1-9]\d*|before its first line) \("):
        docs(path)


@pytest.mark.parametrize("compress", [gzip.compress, bz2.compress, lzma.compress])
def test_an_archive_cut_before_its_first_line_says_so(tmp_path, compress):
    """Not "after line 0" (a first line longer than the bytes peeked at for a NUL, cut in its middle)."""
    path = tmp_path / "cut.bin"
    blob = compress(("今天天气不错" * 50_000 + "\n").encode())
    path.write_bytes(blob[: len(blob) // 2])
    with pytest.raises(CorpusError, match=r"cut.bin: truncated or corrupt compressed data before its first line \("):
        docs(path)


@pytest.mark.parametrize("compress", [gzip.compress, bz2.compress, lzma.compress])
def test_truncated_side_file_names_file(tmp_path, compress):
    """open_text (pairs, count files, word lists): a cut archive is a CorpusError, not an EOFError.

    click would report an EOFError escaping a command as Ctrl-D: "interrupted", exit 130.
    """
    path = tmp_path / "cut.bin"
    blob = compress(RAW * 2000)
    path.write_bytes(blob[: len(blob) // 2])
    with pytest.raises(CorpusError, match=r"cut.bin: truncated or corrupt compressed data"):
        with open_text(str(path)) as fh:
            for _ in fh:
                pass


def test_missing_file(tmp_path):
    with pytest.raises(CorpusError, match="nope.txt: no such file"):
        docs(tmp_path / "nope.txt")


def test_binary_file_named_is_error_in_directory_skipped(tmp_path, caplog):
    binary = tmp_path / "img.bin"
    binary.write_bytes(b"\x89PNG\x00\x00\x01\x02" * 100)
    with pytest.raises(CorpusError, match="binary"):
        docs(binary)
    (tmp_path / "t.txt").write_text("文本\n", encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="textkit"):
        assert docs(tmp_path) == ["文本"]
    assert any("img.bin: skipped" in r.getMessage() for r in caplog.records)


def test_the_binary_probe_sees_its_whole_8_kib(tmp_path):
    """A NUL at byte 6,000: past the 4 KiB block the default buffer holds, within the 8 KiB documented."""
    from textkit.corpus import open_text

    late = tmp_path / "late.bin"
    late.write_bytes(("今天天气很好\n" * 400).encode()[:6000] + b"\x00rest\n")
    with pytest.raises(CorpusError, match="binary"):
        docs(late)
    with pytest.raises(CorpusError, match="binary"):
        with open_text(str(late)) as fh:
            list(fh)
    beyond = tmp_path / "beyond.txt"  # past the probe: read as text, the NUL a character of a line
    beyond.write_bytes(("今天天气很好\n" * 800).encode()[:9000] + b"\x00rest\n")
    assert len(docs(beyond)) > 400


def test_directory_without_text_files(tmp_path):
    (tmp_path / "only.bin").write_bytes(b"\x00\x01" * 10)
    with pytest.raises(CorpusError, match="no text files"):
        docs(tmp_path)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(CorpusError, match="holds no files"):
        docs(empty)


def test_empty_file(tmp_path):
    path = tmp_path / "empty.txt"
    path.write_bytes(b"")
    assert docs(path) == []


def test_jsonl_field(tmp_path, caplog):
    path = tmp_path / "d.jsonl"
    path.write_text('{"text": "甲", "id": 1}\n\n{"id": 2}\nnot json\n{"text": "乙"}\n', encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="textkit"):
        recs = list(Corpus([str(path)], field="text").records())
    assert [(r.line, r.text) for r in recs] == [(1, "甲"), (5, "乙")]
    messages = " ".join(r.getMessage() for r in caplog.records)
    assert "d.jsonl:3: no field 'text'" in messages and "d.jsonl:4: not valid JSON" in messages
    with pytest.raises(CorpusError, match="d.jsonl:3"):
        list(Corpus([str(path)], field="text", strict=True).documents())


def test_a_field_that_no_record_has_is_an_error(tmp_path, caplog):
    """A misspelt --field (or a plain text file read as JSON Lines) skips every record: an error
    after the warnings, not an empty result that looks like success.  Blank lines alone are
    an empty input; an empty field name is a usage error."""
    path = tmp_path / "d.jsonl"
    path.write_text('{"text": "甲"}\n\n{"text": "乙"}\n', encoding="utf-8")
    with pytest.raises(CorpusError, match=r"d.jsonl: every JSON Lines record was skipped \(2, see above\): "
                                          r"none has a text field 'body'"):
        list(Corpus([str(path)], field="body").records())
    (tmp_path / "blank.jsonl").write_text("\n  \n", encoding="utf-8")
    assert list(Corpus([str(tmp_path / "blank.jsonl")], field="body").records()) == []
    for empty in ("", " "):
        with pytest.raises(UsageError, match="--field: an empty field name"):
            Corpus([str(path)], field=empty)


def test_records_carry_line_numbers(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text("x\ny\n", encoding="utf-8")
    assert [(r.source, r.line, r.text) for r in Corpus([str(path)]).records()] == [
        (str(path), 1, "x"), (str(path), 2, "y")]


def test_batches_cover_every_document_once(sample_path):
    corpus = Corpus([str(sample_path)])
    all_docs = list(corpus.documents())
    for max_chars in (1, 1000, 10**9):
        batches = list(corpus.batches(max_chars=max_chars))
        assert [d for b in batches for d in b] == all_docs
    assert all(len(b) <= 7 for b in corpus.batches(max_docs=7))


def naive_records(blob: bytes, encoding: str = "utf-8"):
    """Reference: split the bytes on newlines, then decode each line alone (bad bytes replaced)."""
    lines = blob.split(b"\n")
    if lines[-1] == b"":
        lines.pop()
    out = []
    for number, raw in enumerate(lines, 1):
        if raw.endswith(b"\r"):
            raw = raw[:-1]
        text = raw.decode(encoding, errors="replace")
        out.append((number, text[1:] if number == 1 and text.startswith("\ufeff") else text))
    return out


PIECES = [b"a", b"word ", "字".encode(), "第三行".encode("utf-8"), b"\n", b"\r\n", b"\r", b"\t", b"\xff",
          "字".encode()[:2], b"\xef\xbb\xbf"]


@settings(max_examples=150, deadline=None)
@given(pieces=st.lists(st.sampled_from(PIECES), max_size=60),
       compress=st.sampled_from([None, gzip.compress, bz2.compress]))
def test_reading_matches_a_naive_reader(tmp_path_factory, pieces, compress):
    """Lines, line numbers and counts are those of decoding every line alone: CR LF, a lone CR,
    a BOM, bad bytes (counted, and the first one named under --strict), no final newline."""
    blob = b"".join(pieces)
    path = tmp_path_factory.mktemp("lines") / "c.txt"
    path.write_bytes(compress(blob) if compress else blob)
    corpus = Corpus([str(path)])
    got = [(r.line, r.text) for r in corpus.records()]
    expected = naive_records(blob)
    assert got == expected
    assert corpus.stats.lines == len(expected) and corpus.stats.bytes == len(blob)
    bad = [n for n, text in expected if "\ufffd" in text]
    assert corpus.stats.bad_lines == len(bad)
    if bad:
        with pytest.raises(CorpusError, match=rf":{bad[0]}: invalid"):
            list(Corpus([str(path)], strict=True).records())


def test_lines_from_a_pipe_come_as_they_arrive():
    """A line written to a pipe is read at once, not when more has come or the writer has ended."""
    import os
    import threading

    read_end, write_end = os.pipe()
    try:
        os.write(write_end, "第一行\n".encode())
        got = []
        reader = threading.Thread(target=lambda: got.append(next(Corpus([f"/dev/fd/{read_end}"]).documents())),
                                  daemon=True)
        reader.start()
        reader.join(timeout=10)
        assert got == ["第一行"]
    finally:
        os.close(write_end)
        reader.join(timeout=10)
        os.close(read_end)


def test_very_long_line(tmp_path):
    path = tmp_path / "long.txt"
    line = "字" * 3_000_000
    path.write_text(line + "\nend\n", encoding="utf-8")
    assert [len(d) for d in docs(path)] == [3_000_000, 3]


def test_open_text_decompresses(tmp_path):
    path = tmp_path / "side.tsv"
    path.write_bytes(bz2.compress("a\t1\n".encode()))
    with open_text(str(path)) as fh:
        assert list(fh) == ["a\t1\n"]


def test_open_text_names_the_line_and_refuses_binary(tmp_path):
    path = tmp_path / "side.tsv"
    path.write_bytes(b"\xef\xbb\xbfa\t1\r\nb\t2\n" + b"c\xff\t3\n")
    with pytest.raises(CorpusError, match=r"side.tsv:3: not valid utf-8 \(invalid start byte at byte 2 of the line"):
        with open_text(str(path)) as fh:
            seen = []
            for line in fh:
                seen.append(line)
    assert seen == ["a\t1\n", "b\t2\n"]  # BOM dropped, CRLF read as LF
    path.write_bytes(b"a\t1\n\x00\x01\n")
    with pytest.raises(CorpusError, match="side.tsv: looks like a binary file"):
        with open_text(str(path)):
            pass


def test_a_directory_and_a_glob_over_it_are_read_in_the_same_order(tmp_path):
    root = tmp_path / "ord"
    (root / "a").mkdir(parents=True)
    for name in ("a/z.txt", "a.txt", "A.txt", "b.txt", ".hidden.txt"):
        (root / name).write_text(name + "\n", encoding="utf-8")
    by_folder = list(Corpus([str(root)]).documents())
    by_glob = list(Corpus([str(root / "**" / "*.txt")]).documents())
    assert by_folder == by_glob == ["A.txt", "a/z.txt", "a.txt", "b.txt"]


def test_folders_a_pattern_matches_are_read_as_named_folders_are(tmp_path, monkeypatch):
    """'ord/*' reads what the shell's expansion of ord/* reads: matched folders walked in place
    (hidden entries and binary files in them skipped, as in a named folder), each file once."""
    monkeypatch.chdir(tmp_path)
    root = tmp_path / "ord"
    for name in ("a/z.txt", "a/.hidden.txt", "a-b/y.txt", "a.txt", "B.txt"):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(name + "\n", encoding="utf-8")
    (root / "a" / "data.bin").write_bytes(b"\x00\x01")
    expected = ["B.txt", "a/z.txt", "a-b/y.txt", "a.txt"]
    assert docs("ord/*") == expected == docs(*sorted(str(p) for p in root.iterdir()))
    assert docs("ord/a*/") == ["a/z.txt", "a-b/y.txt"]
    (root / "a" / "data.bin").unlink()  # ** matches it as a file, which is then named: an error
    assert docs("ord/**") == expected == docs("./ord/**") == docs("ord/**/*.txt")


def test_a_folder_that_cannot_be_listed_is_an_error_not_skipped(tmp_path, monkeypatch):
    """os.walk skips a folder it cannot list: the count would miss its files with status 0."""
    import os

    (tmp_path / "d" / "sub").mkdir(parents=True)
    (tmp_path / "d" / "a.txt").write_text("今天\n", encoding="utf-8")
    (tmp_path / "d" / "sub" / "b.txt").write_text("明天\n", encoding="utf-8")
    assert len(list(Corpus([str(tmp_path / "d")]).documents())) == 2
    real_scandir = os.scandir

    def scandir(path="."):
        if os.fspath(path).endswith("sub"):
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    with pytest.raises(CorpusError, match=r"d/sub: cannot read this folder \(Permission denied\)"):
        list(Corpus([str(tmp_path / "d")]).documents())
    with pytest.raises(CorpusError, match=r"sub: cannot read this folder"):
        list(Corpus([str(tmp_path / "d" / "sub")]).documents())


def reference_pattern_files(pattern):
    """Every file a pattern reads, walking every folder it matches (hidden names skipped, links to
    folders not followed by the walk), each once, sorted by path components."""
    import glob as globbing
    import os

    found = {}
    for match in globbing.glob(pattern, recursive=True):
        if os.path.isdir(match):
            for dirpath, dirnames, filenames in os.walk(match):
                dirnames[:] = [d for d in dirnames if not d.startswith(".")]
                for name in filenames:
                    full = os.path.join(dirpath, name)
                    if not name.startswith(".") and os.path.isfile(full):
                        found.setdefault(os.path.normpath(full), full)
        elif os.path.isfile(match):
            found[os.path.normpath(match)] = match
    return [found[key] for key in sorted(found, key=lambda key: key.split(os.sep))]


@pytest.mark.parametrize("pattern", ["a/**/", "**/", "**/*/", "**", "a/**", "**/*.txt", "*/", "a*/**", "a/.h*",
                                     "a/**/.h*/**", "./a/**/"])
def test_patterns_read_what_walking_every_match_reads(tmp_path, monkeypatch, pattern):
    """A folder under one already walked is not walked again, unless the walk could not reach it
    (a hidden name or a link between): the files read are those of walking every match."""
    import os

    monkeypatch.chdir(tmp_path)
    for name in ("a/1.txt", "a/b/2.txt", "a/b/c/3.txt", "a/.h/4.txt", "elsewhere/5.txt"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(name + "\n", encoding="utf-8")
    os.symlink("b", tmp_path / "a" / "lb")
    os.symlink(".h", tmp_path / "a" / "lh")
    os.symlink("../elsewhere", tmp_path / "a" / "lnk")
    assert Corpus([pattern]).files() == reference_pattern_files(pattern)


def test_jsonl_record_nested_too_deep_is_skipped_with_a_warning(tmp_path, caplog):
    """json.loads raises RecursionError (not ValueError) on arrays nested 100,000 deep."""
    path = tmp_path / "d.jsonl"
    path.write_text("[" * 100_000 + "]" * 100_000 + '\n{"text": "乙"}\n', encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="textkit"):
        assert [r.text for r in Corpus([str(path)], field="text").records()] == ["乙"]
    assert "d.jsonl:1: not valid JSON" in caplog.text


def test_a_double_star_pattern_does_not_go_round_a_folder_link_loop(tmp_path, monkeypatch):
    """Python's ** followed a link to a parent folder until paths grew too long, and read one file 41
    times; the folder walk reads it once. Links that make no loop are still followed (see above)."""
    (tmp_path / "g" / "sub").mkdir(parents=True)
    (tmp_path / "g" / "sub" / "a.txt").write_text("甲\n", encoding="utf-8")
    (tmp_path / "g" / "sub" / "loop").symlink_to(tmp_path / "g")
    (tmp_path / "g" / "file.txt").symlink_to(tmp_path / "g" / "sub" / "a.txt")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "b.txt").write_text("乙\n", encoding="utf-8")
    (tmp_path / "g" / "side").symlink_to(tmp_path / "other")
    monkeypatch.chdir(tmp_path)
    folder = Corpus(["g"]).files()
    assert sorted(folder) == ["g/file.txt", "g/sub/a.txt"]  # the walk follows no folder link
    want = ["g/file.txt", "g/side/b.txt", "g/sub/a.txt"]
    for pattern in ("g/**/*.txt", "g/**", str(tmp_path / "g" / "**" / "*.txt")):
        assert [os.path.relpath(f) for f in Corpus([pattern]).files()] == want
    assert Corpus(["g/sub/loop/**/*.txt"]).files() == ["g/sub/loop/file.txt", "g/sub/loop/side/b.txt",
                                                      "g/sub/loop/sub/a.txt"]
