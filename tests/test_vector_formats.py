"""Readers and writers of word2vec text/binary, fastText, GloVe and Tencent files.

The reference readers/writers here are deliberately naive (struct + str.split, one
row at a time) and independent of textkit's block parser.
"""

import bz2
import gzip
import logging
import lzma
import struct

import numpy as np
import pytest

from textkit.errors import UsageError, VectorsError
from textkit.vector_formats import VectorFileReader, convert, export_vectors, read_vectors
from textkit.vectors import open_store, open_vectors

WORDS = ["的", "猫", "狗", "North Star", "é", "x" * 40, "数字1", "。"]


def _values(n, dim, seed=0):
    rng = np.random.default_rng(seed)
    m = (rng.standard_normal((n, dim)) * rng.choice([1e-6, 1e-2, 1.0, 1e3], size=(n, 1))).astype(
        np.float32
    )
    m[0, 0] = np.float32(1e-45)  # smallest subnormal
    m[1, 1] = np.float32(-0.0)
    m[2, 2] = np.float32(3.4028235e38)
    if n > 3:
        m[3, 0] = np.float32(0.1)
    return m


def _naive_text(path, words, m, header=True):
    with open(path, "w", encoding="utf-8") as fh:
        if header:
            fh.write(f"{len(words)} {m.shape[1]}\n")
        for w, row in zip(words, m):
            fh.write(w + " " + " ".join(repr(float(x)) for x in row) + " \n")


def _naive_binary(path, words, m, newline=True):
    with open(path, "wb") as fh:
        fh.write(f"{len(words)} {m.shape[1]}\n".encode())
        for w, row in zip(words, m):
            fh.write(w.encode() + b" " + struct.pack(f"<{len(row)}f", *row.tolist()))
            if newline:
                fh.write(b"\n")


def _naive_read_text(path, header=True):
    words, rows = [], []
    with open(path, encoding="utf-8") as fh:
        lines = fh.read().split("\n")
    for line in lines[1 if header else 0 :]:
        if not line.strip():
            continue
        parts = line.rstrip(" ").split(" ")
        dim = (
            len(parts) - 1
            if not words and not header
            else int(lines[0].split()[1])
            if header
            else len(rows[0])
        )
        words.append(" ".join(parts[: len(parts) - dim]))
        rows.append([np.float32(float(x)) for x in parts[len(parts) - dim :]])
    return words, np.array(rows, dtype=np.float32)


@pytest.mark.parametrize(
    "fmt,header", [("word2vec", True), ("fasttext", True), ("tencent", True), ("glove", False)]
)
def test_text_round_trip_exact(tmp_path, fmt, header):
    m = _values(len(WORDS), 5)
    src = tmp_path / "in.txt"
    _naive_text(src, WORDS, m, header=header)
    for given in (fmt, "auto"):
        store, report = convert(str(src), str(tmp_path / f"store-{given}"), format=given)
        assert store.words == WORDS
        assert np.array_equal(np.asarray(store.matrix).view(np.uint32), m.view(np.uint32))
        assert report.format == ("glove" if not header else "word2vec")
    out = tmp_path / "out.txt"
    export_vectors(store, str(out), format="word2vec" if header else "glove")
    words2, m2 = _naive_read_text(out, header=header)
    assert words2 == WORDS
    assert np.array_equal(m2.view(np.uint32), m.view(np.uint32))
    again, _ = convert(str(out), str(tmp_path / "again"))
    assert again.identity == store.identity


def test_binary_round_trip_byte_exact(tmp_path):
    words = [w for w in WORDS if " " not in w]
    m = _values(len(words), 6, seed=1)
    src = tmp_path / "in.bin"
    _naive_binary(src, words, m)
    store, report = convert(str(src), str(tmp_path / "store"))
    assert report.format == "word2vec-binary"
    assert store.words == words
    assert np.array_equal(np.asarray(store.matrix).view(np.uint32), m.view(np.uint32))
    out = tmp_path / "out.bin"
    export_vectors(store, str(out), format="word2vec-binary")
    assert out.read_bytes() == src.read_bytes()


def test_binary_without_record_newlines(tmp_path):
    words = ["a", "bb", "猫"]
    m = _values(3, 4, seed=2)
    _naive_binary(tmp_path / "v.bin", words, m, newline=False)
    v = read_vectors(str(tmp_path / "v.bin"))
    assert v.words == words and np.array_equal(np.asarray(v.matrix), m)


@pytest.mark.parametrize("newline", [True, False])
@pytest.mark.parametrize("dim", [1, 3, 300])
def test_binary_whose_value_bytes_look_like_text_is_read_as_binary(tmp_path, newline, dim):
    """The first value byte is a newline byte (10), or (dim 1) the value bytes are UTF-8 text with a NUL."""
    rng = np.random.default_rng(dim)
    words = ["a", "bb", "猫", "c"]
    m = rng.standard_normal((4, dim)).astype(np.float32)
    m[0, 0] = np.frombuffer(bytes([0x0A, 0, 0x80, 0x3F]), "<f4")[0]  # 1.0000012: bytes 0a 00 80 3f
    cases = {"newline-first.bin": m}
    if dim == 1:
        cases["text-like.bin"] = np.array([[3.0], [2.0], [-2.0], [0.5]], dtype=np.float32)  # 00 00 40 40, ...
    for name, values in cases.items():
        _naive_binary(tmp_path / name, words, values, newline=newline)
        v = read_vectors(str(tmp_path / name))
        assert v.words == words and np.array_equal(np.asarray(v.matrix).view(np.uint32), values.view(np.uint32))


def test_random_binary_files_are_detected(tmp_path):
    """Binary files of random float bytes, with and without record newlines, all read back exactly."""
    rng = np.random.default_rng(11)
    for k in range(200):
        dim, n = int(rng.integers(1, 9)), int(rng.integers(1, 6))
        m = rng.integers(0, 2**32, size=(n, dim), dtype=np.uint64).astype(np.uint32).view(np.float32)
        m[~np.isfinite(m)] = 1.5
        words = [f"w{k}_{i}" for i in range(n)]
        path = tmp_path / f"r{k}.bin"
        _naive_binary(path, words, m, newline=bool(k % 2))
        v = read_vectors(str(path))
        assert v.words == words and np.array_equal(np.asarray(v.matrix).view(np.uint32), m.view(np.uint32)), k


@pytest.mark.parametrize("compress", [gzip.compress, bz2.compress, lzma.compress])
def test_compressed_inputs(tmp_path, compress):
    m = _values(len(WORDS), 3)
    _naive_text(tmp_path / "v.txt", WORDS, m)
    (tmp_path / "v.txt.z").write_bytes(compress((tmp_path / "v.txt").read_bytes()))
    words = [w for w in WORDS if " " not in w]
    mb = m[[WORDS.index(w) for w in words]]
    _naive_binary(tmp_path / "v.bin", words, mb)
    (tmp_path / "v.bin.z").write_bytes(compress((tmp_path / "v.bin").read_bytes()))
    t = read_vectors(str(tmp_path / "v.txt.z"))
    b = read_vectors(str(tmp_path / "v.bin.z"))
    assert t.words == WORDS and np.array_equal(np.asarray(t.matrix), m)
    assert b.words == words and np.array_equal(np.asarray(b.matrix), mb)


@pytest.mark.parametrize("block_rows", [1, 2, 3, 100])
def test_blocks_duplicates_and_limit(tmp_path, caplog, block_rows):
    words = ["a", "b", "a", "c", "b", "d", "e"]
    m = np.arange(len(words) * 2, dtype=np.float32).reshape(-1, 2)
    _naive_text(tmp_path / "v.txt", words, m)
    _naive_binary(tmp_path / "v.bin", words, m)
    for name in ("v.txt", "v.bin"):
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="textkit"):
            r = VectorFileReader(str(tmp_path / name), block_rows=block_rows)
            got = [(w, row.tolist()) for ws, rows in r.blocks() for w, row in zip(ws, rows)]
        assert [w for w, _ in got] == ["a", "b", "c", "d", "e"]
        assert got[0][1] == [0.0, 1.0] and got[2][1] == [
            6.0,
            7.0,
        ]  # the first row of a duplicate wins
        assert r.report.duplicates == 2
        assert "2 duplicate words skipped" in caplog.text
        r = VectorFileReader(str(tmp_path / name), limit=3, block_rows=block_rows)
        kept = [w for ws, _ in r.blocks() for w in ws]
        assert kept == ["a", "b", "c"] and r.report.limited


def test_limit_stops_reading_before_bad_rows(tmp_path):
    (tmp_path / "v.txt").write_text("3 2\na 1 2\nb 3 4\nc oops 5\n", encoding="utf-8")
    v = read_vectors(str(tmp_path / "v.txt"), limit=2)
    assert v.words == ["a", "b"]


def test_tencent_style_words_with_spaces(tmp_path):
    # A lone space and a phrase with a space, as in the Tencent / GloVe-840B files;
    # U+3000 is part of a word, never a separator.
    text = "4 2\n  0.5 1.5\nNew York 1 2\n\u3000 3 4\n中国 5 6 \n"
    (tmp_path / "t.txt").write_text(text, encoding="utf-8")
    v = read_vectors(str(tmp_path / "t.txt"), format="tencent")
    assert v.words == [" ", "New York", "\u3000", "中国"]
    assert np.asarray(v.matrix).tolist() == [[0.5, 1.5], [1, 2], [3, 4], [5, 6]]


def test_bom_and_crlf(tmp_path):
    (tmp_path / "v.txt").write_bytes("\ufeff2 2\r\na 1 2\r\nb 3 4\r\n".encode("utf-8"))
    v = read_vectors(str(tmp_path / "v.txt"))
    assert v.words == ["a", "b"] and v.dim == 2


@pytest.mark.parametrize(
    "content,message",
    [
        ("2 3\na 1 2 3\nb 1 2\n", "3: expected 3 values after the word, found 2"),
        ("2 3\na 1 2 3\nb 1 2 3 4\n", "3: expected 3 values after the word, found 4"),
        ("2 3\na 1 2 3\nb 1 x 3\n", "3: value 2 ('x') is not a number"),
        ("2 3\na 1 2 3\nb 1 nan 3\n", "3: value 2 ('nan') is not a finite number"),
        ("3 3\na 1 2 3\nb 1 2 3\n", "header announces 3 rows but the file holds 2"),
        ("1 3\na 1 2 3\nb 1 2 3\n", "3: more rows than the 1 the header announces"),
        ("a 1 2 3\nb 1 2\n", "2: expected 3 values after the word, found 2"),
        ("2 3\n", "header announces 2 rows but the file holds 0"),
        ("2 3\na 1 2 3\nb 1 2", "3: expected 3 values after the word, found 2 (the file ends inside this row"),
        ("2 3\na 1 2\nb 1 2 3\n", "2: expected 3 values after the word, found 2"),
        ("", "empty file"),
        ("1 3\na 1  2 3\n", "value 1 ('') is not a number (two spaces in a row?)"),
        pytest.param("1 3\na 1 " + "1." * 100 + " 3\n", "value 2 ('" + "1." * 12 + "...') is not a number",
                     id="long-value-cut-short"),
        ("-2 3\na 1 2 3\nb 1 2 3\n", "1: '-2 3' is not a word2vec header"),
        ("2 3 7\na 1 2 3\nb 1 2 3\n", "1: '2 3 7' is not a word2vec header"),
        ("2024 1 2\n猫 3 4\n", "a GloVe file whose first word is a number needs --format glove"),
        ("0 5\n", "1: the header announces 0 rows; no vectors"),
    ],
)
def test_malformed_text_names_the_line(tmp_path, content, message):
    p = tmp_path / "bad.txt"
    p.write_text(content, encoding="utf-8")
    with pytest.raises(VectorsError) as err:
        read_vectors(str(p), format="auto")
    assert message in str(err.value)
    assert str(p) in str(err.value)


def test_words_in_another_encoding_and_words_with_edge_spaces(tmp_path, caplog):
    gbk = tmp_path / "gbk.txt"
    gbk.write_bytes("3 2\n酒店 1 2\n宾馆 3 4\n北京 5 6\n".encode("gbk"))
    with caplog.at_level(logging.WARNING, logger="textkit"):
        convert(str(gbk), str(tmp_path / "bad"))
    assert "3 word(s) were not valid utf-8" in caplog.text and "--encoding" in caplog.text
    store, _ = convert(str(gbk), str(tmp_path / "good"), encoding="gbk")
    assert store.words == ["酒店", "宾馆", "北京"]
    caplog.clear()
    (tmp_path / "two.txt").write_text("2 3\n猫  1 2 3\n狗  4 5 6\n", encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="textkit"):
        assert read_vectors(str(tmp_path / "two.txt")).words == ["猫 ", "狗 "]
    assert "2 word(s) start or end with a space (two spaces before the values?)" in caplog.text


def test_a_tar_archive_is_named(tmp_path):
    import io
    import tarfile

    data = "2 2\n猫 1 2\n狗 3 4\n".encode("utf-8")
    with tarfile.open(tmp_path / "v.tar.gz", "w:gz") as tar:
        info = tarfile.TarInfo("v.txt")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    with pytest.raises(VectorsError, match=r"v.tar.gz: a tar archive; extract it first"):
        read_vectors(str(tmp_path / "v.tar.gz"))


def test_tabs_between_fields_read_like_spaces(tmp_path):
    words, m = ["甲", "乙", "丙"], _values(3, 3, seed=5)
    _naive_text(tmp_path / "v.txt", words, m)
    (tmp_path / "t.txt").write_text((tmp_path / "v.txt").read_text("utf-8").replace(" ", "\t"), encoding="utf-8")
    want, got = read_vectors(str(tmp_path / "v.txt")), read_vectors(str(tmp_path / "t.txt"))
    assert got.words == words and np.array_equal(got.matrix, want.matrix)


def test_rows_with_an_empty_word_are_skipped_with_a_warning(tmp_path, caplog):
    (tmp_path / "e.txt").write_text("3 2\na 1 2\n 3 4\nb 5 6\n", encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="textkit"):
        got = read_vectors(str(tmp_path / "e.txt"))
    assert got.words == ["a", "b"] and got.matrix.tolist() == [[1, 2], [5, 6]]
    assert "1 row with an empty word skipped (first: line 3)" in caplog.text


def test_a_text_file_with_a_stray_control_byte_is_not_read_as_binary_words(tmp_path):
    """A NUL in a text row: still read as text (the bad value named); read as binary, the error says try text."""
    words, m = [f"词{i}" for i in range(40)], _values(40, 8, seed=6)
    _naive_text(tmp_path / "v.txt", words, m)
    data = (tmp_path / "v.txt").read_bytes()
    (tmp_path / "nul.txt").write_bytes(data[:12] + b"\0" + data[12:])
    for fmt in ("auto", "word2vec"):  # read as text: the bad value is named
        with pytest.raises(VectorsError, match=r"nul.txt:2: value 1 .* is not a number"):
            read_vectors(str(tmp_path / "nul.txt"), format=fmt)
    with pytest.raises(VectorsError, match=r"nul.txt: (record \d+: a word holding a newline|more data after).*"
                                           r"--format word2vec"):
        read_vectors(str(tmp_path / "nul.txt"), format="word2vec-binary")


def test_a_format_forced_against_the_file_says_which_format_it_holds(tmp_path):
    """Binary records read as --format word2vec, text rows read as --format word2vec-binary: the error
    says what the file looks like and how to read it (it spoke of a stray control byte, or of a
    missing value only)."""
    words, m = [f"词{i}" for i in range(200)], _values(200, 64, seed=7)
    _naive_binary(tmp_path / "v.bin", words, m)
    rows = "".join(f"{w} 0.123456789012 -0.98765432109\n" for w in words)  # read as records: a newline in a word
    (tmp_path / "v.txt").write_text(f"{len(words)} 2\n{rows}", encoding="utf-8")
    with pytest.raises(VectorsError, match=r"v.bin:\d+: .*; the rows read as word2vec binary records: "
                                           r"--format word2vec-binary reads them, as does leaving --format out"):
        read_vectors(str(tmp_path / "v.bin"), format="word2vec")
    with pytest.raises(VectorsError, match=r"v.txt: record \d+: a word holding a newline .*: not word2vec binary; "
                                           r"a word2vec text file\? \(--format word2vec reads it"):
        read_vectors(str(tmp_path / "v.txt"), format="word2vec-binary")
    for name, dim in (("v.bin", 64), ("v.txt", 2)):  # read as they are
        got = read_vectors(str(tmp_path / name))
        assert got.words == words and got.matrix.shape == (200, dim)


def test_numpy_files_are_not_vectors_files(tmp_path):
    """A store's vectors.npy or a whitening .npz given as --vectors: said plainly, not parsed as GloVe."""
    np.save(tmp_path / "m.npy", np.ones((3, 2), dtype=np.float32))
    np.savez(tmp_path / "p.npz", w=np.ones(3))
    for name in ("m.npy", "p.npz"):
        with pytest.raises(VectorsError, match=f"{name}: a NumPy .npy/.npz file, not a vectors file"):
            read_vectors(str(tmp_path / name))


def test_a_zipped_vectors_file_is_named_as_an_archive(tmp_path):
    """GloVe and fastText ship .zip files: extract first, said as for a tar; an .npz stays NumPy's."""
    import zipfile

    with zipfile.ZipFile(tmp_path / "glove.zip", "w") as archive:
        archive.writestr("glove.6B.50d.txt", "猫 1 2\n狗 3 4\n")
    with pytest.raises(VectorsError, match=r"glove.zip: a zip archive; extract it first \(unzip\)"):
        read_vectors(str(tmp_path / "glove.zip"))


def test_a_table_with_one_value_per_word_is_no_vectors_file_unless_said(tmp_path):
    """`textkit count`'s output (word<TAB>count) read as 1-dimensional GloVe gave every pair of
    words a cosine of 1; refused, unless --format glove says it is one."""
    (tmp_path / "c.tsv").write_text("的\t120\n了\t80\n", encoding="utf-8")
    with pytest.raises(VectorsError, match=r"c.tsv:1: one value after the word: a table of words"):
        read_vectors(str(tmp_path / "c.tsv"))
    got = read_vectors(str(tmp_path / "c.tsv"), format="glove")
    assert got.words == ["的", "了"] and got.matrix.tolist() == [[120.0], [80.0]]


def test_a_file_whose_words_are_all_empty_has_no_vectors(tmp_path):
    """Not an empty store that export then writes as a file convert refuses."""
    (tmp_path / "e.txt").write_text("2 3\n 1 2 3\n 4 5 6\n", encoding="utf-8")
    with pytest.raises(VectorsError, match=r"e.txt: no vectors: every row's word is empty \(2 rows; first at line 2\)"):
        read_vectors(str(tmp_path / "e.txt"))


def test_malformed_binary_names_the_record(tmp_path):
    m = _values(3, 4, seed=3)
    _naive_binary(tmp_path / "v.bin", ["a", "b", "c"], m)
    data = (tmp_path / "v.bin").read_bytes()
    (tmp_path / "cut.bin").write_bytes(data[:-7])
    with pytest.raises(VectorsError, match=r"record 3 \('c'\): truncated, 10 of 16 value bytes"):
        read_vectors(str(tmp_path / "cut.bin"))
    (tmp_path / "short.bin").write_bytes(data.replace(b"3 4\n", b"4 4\n", 1))
    with pytest.raises(
        VectorsError, match="record 4: the file ends here but the header announces 4"
    ):
        read_vectors(str(tmp_path / "short.bin"))
    (tmp_path / "long.bin").write_bytes(data.replace(b"3 4\n", b"2 4\n", 1))
    with pytest.raises(VectorsError, match="more data after the 2 records"):
        read_vectors(str(tmp_path / "long.bin"))
    with pytest.raises(VectorsError, match="truncated or corrupt compressed data"):
        (tmp_path / "v.gz").write_bytes(gzip.compress(data)[:-20])
        read_vectors(str(tmp_path / "v.gz"))
    # cut inside the first word: no value byte to tell binary from text, so the end is named
    (tmp_path / "first.bin").write_bytes(data[:5])
    with pytest.raises(VectorsError, match=r"first.bin:2: .*found 0 \(the file ends inside this row: truncated\?\)"):
        read_vectors(str(tmp_path / "first.bin"))


def test_explicit_header_format_without_header(tmp_path):
    (tmp_path / "g.txt").write_text("a 1 2\n", encoding="utf-8")
    with pytest.raises(VectorsError, match="use --format glove"):
        read_vectors(str(tmp_path / "g.txt"), format="word2vec")
    with pytest.raises(UsageError):
        read_vectors(str(tmp_path / "g.txt"), format="xml")


def test_export_binary_refuses_spaced_words(tmp_path):
    v = read_vectors(_write(tmp_path / "v.txt", "2 1\nNew York 1\nb 2\n"))
    with pytest.raises(VectorsError, match="export --format word2vec instead"):
        export_vectors(v, str(tmp_path / "o.bin"), format="word2vec-binary")
    assert not (tmp_path / "o.bin").exists()


def test_convert_float16_and_failed_convert_leaves_nothing(tmp_path):
    m = np.array([[1.5, -2.0], [70000.0, 0.0]], dtype=np.float32)
    _naive_text(tmp_path / "v.txt", ["a", "b"], m)
    with pytest.raises(VectorsError, match="float16 range"):
        convert(str(tmp_path / "v.txt"), str(tmp_path / "s"), dtype="float16")
    assert list(tmp_path.iterdir()) == [tmp_path / "v.txt"]
    _naive_text(tmp_path / "w.txt", ["a", "b"], m / 1e5)
    s, _ = convert(str(tmp_path / "w.txt"), str(tmp_path / "s"), dtype="float16")
    assert s.matrix.dtype == np.float16
    assert np.array_equal(np.asarray(s.matrix), (m / 1e5).astype(np.float16))
    assert open_store(tmp_path / "s").identity == s.identity


def test_convert_float16_warns_about_rows_below_its_normal_range(tmp_path, caplog):
    m = np.array([[1e-6, -2e-6], [0.5, 1e-9], [0.0, 0.0], [4e-9, 0.0]], dtype=np.float32)
    _naive_text(tmp_path / "v.txt", ["faint", "fine", "zero", "gone"], m)
    with caplog.at_level(logging.WARNING, logger="textkit"):
        s, _ = convert(str(tmp_path / "v.txt"), str(tmp_path / "s"), dtype="float16")
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "2 rows (the first: word 'faint')" in warnings[0]
    assert "float32" in warnings[0]
    assert not np.asarray(s.matrix)[3].any()  # what the warning is about: 4e-9 became 0
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="textkit"):
        convert(str(tmp_path / "v.txt"), str(tmp_path / "t"), dtype="float32")
    assert not [r for r in caplog.records if r.levelno == logging.WARNING]


def test_open_vectors_reads_files_with_a_hint(tmp_path, caplog):
    path = _write(tmp_path / "v.txt", "2 2\na 1 0\nb 0 1\n")
    with caplog.at_level(logging.INFO, logger="textkit"):
        v = open_vectors(path)
    assert v.words == ["a", "b"]
    assert "textkit vectors convert" in caplog.text


def _write(path, text):
    path.write_text(text, encoding="utf-8")
    return str(path)


@pytest.mark.parametrize("header, message", [
    ("9" * 5000 + " 3", "not a 'count dim' header"),  # int() of 5,000 digits was a traceback
    ("3 99999999999", "99,999,999,999 dimensions"),  # was "out of memory (373 GiB); fewer workers (-j)"
    ("3 0", "announces 0 dimensions"),
], ids=["5000-digit-count", "absurd-dimension", "no-dimension"])
def test_an_absurd_header_is_one_error_naming_it(tmp_path, header, message):
    path = tmp_path / "v.txt"
    path.write_text(f"{header}\n猫 0.1 0.2 0.3\n", encoding="utf-8")
    with pytest.raises(VectorsError, match=message):
        read_vectors(str(path))


@pytest.mark.parametrize("header_dim", [1, 2, 4, 7])
def test_a_binary_header_whose_dimension_does_not_fit_the_records_is_one_error(tmp_path, header_dim):
    """Records of 3 values and a newline each under a header saying otherwise: read with the
    header's dimension every record took its neighbour's bytes (with --limit, a store of wrong
    words and invented values, exit 0); it is refused before any record is read."""
    words, m = ["猫", "狗狗", "鱼", "鸟"], _values(4, 3, seed=3)
    _naive_binary(tmp_path / "v.bin", words, m)
    data = (tmp_path / "v.bin").read_bytes()
    (tmp_path / "lie.bin").write_bytes(data.replace(b"4 3\n", f"4 {header_dim}\n".encode(), 1))
    for limit in (None, 2):
        with pytest.raises(VectorsError, match=f"announces {header_dim} values per word, but the records hold 3"):
            read_vectors(str(tmp_path / "lie.bin"), limit=limit)
    assert read_vectors(str(tmp_path / "v.bin"), limit=2).words == words[:2]
