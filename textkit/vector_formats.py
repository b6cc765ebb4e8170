"""Readers and writers of the common word-vector file formats, streaming.

Formats read (``.gz`` / ``.bz2`` / ``.xz`` recognised by content, via ``corpus.open_binary``):

* ``word2vec`` — text: a ``count dim`` header line, then ``word v1 ... vdim`` per line.
  fastText ``.vec`` files and the Tencent AI Lab embeddings are this same format.
* ``word2vec-binary`` — the same header, then per record the word's UTF-8 bytes, one
  space, ``dim`` little-endian float32 values, and (usually) a newline.
* ``glove`` — text rows without a header; ``dim`` is taken from the first row.

``auto`` looks at the first line: a ``count dim`` header means word2vec; the bytes after
the first word of the next record tell text from binary. No header means GloVe.

Words with spaces. Fields are split on ASCII spaces and tabs (a tab reads as a space,
so a tab inside a word becomes a space), from the right: the last ``dim`` fields are
the values and everything before them is the word, so a word that holds spaces (the
Tencent and GloVe-840B files have some, e.g. a lone space) is kept whole. When the
surplus leading fields are all numbers the row is taken to have too many values
instead, which is an error. Other whitespace (U+3000, no-break space) is part of the
word, never a separator.

Errors name the line (text) or record (binary): a row with the wrong number of
values, a value that is not a finite number, a truncated binary record, a header that
disagrees with the rows. A word seen twice keeps its first row; the repeats are
counted in one warning. ``limit`` keeps the first N distinct words (the files are
frequency-ordered) and stops reading there.

Memory: one block of rows at a time (:data:`BLOCK_ROWS`); a store is written block by
block, so converting needs about the memory of one block plus the vocabulary.

Exact round trip: text output writes each float32 value with the shortest decimal
that reads back to the same float32, binary output writes the float32 bytes, so
convert -> export -> convert gives back identical values.
"""

from __future__ import annotations

import io
import logging
import os
import re
from dataclasses import dataclass, field
from typing import BinaryIO, Iterator, List, Optional, Sequence, Tuple

import numpy as np

from .corpus import ZIP_MAGIC, binary_file_problem, is_tar
from .errors import CorpusError, UsageError, VectorsError, preview

log = logging.getLogger("textkit")

FORMATS = ("auto", "word2vec", "word2vec-binary", "fasttext", "glove", "tencent")
EXPORT_FORMATS = ("word2vec", "word2vec-binary", "glove")
_KIND = {
    "word2vec": "text",
    "fasttext": "text",
    "tencent": "text",
    "word2vec-binary": "binary",
    "glove": "glove",
}
BLOCK_ROWS = 4096
_BLOCK_BYTES = 64 << 20  # at most this much float32 per block of rows, whatever the dimension
MAX_DIM = 100_000  # more dimensions than any word vectors file: a wrong header
_READ_CHUNK = 1 << 20
_FLOAT32_OVERFLOW = 2.0**128 - 2.0**103  # the smallest double that rounds to float32 inf
_MAX_WORD_BYTES = 1 << 16
_HEADER = re.compile(rb"^\s*(\d+)[ \t]+(\d+)\s*$")
# two or three whole numbers alone on the first line: meant as a header (no vectors file
# starts with a word of one or two whole-number values), but not a valid one
_BAD_HEADER = re.compile(rb"^\s*[-+]?\d+(?:[ \t]+[-+]?\d+){1,2}\s*$")
_TEXT_BYTES = frozenset(b"0123456789+-.eEinfaINFA \t\r\n")
_STRIP = " \t\r\n"


@dataclass
class ReadReport:
    """What a read found (filled in while the blocks are read)."""

    path: str
    format: str = ""  # "word2vec", "word2vec-binary" or "glove"
    dim: int = 0
    header_count: Optional[int] = None
    rows: int = 0  # rows read, duplicates included
    kept: int = 0
    duplicates: int = 0
    first_duplicate: Optional[Tuple[str, str]] = None  # (word, "line N" / "record N")
    empty_words: int = 0  # rows whose word is empty: no token can ever match them
    first_empty: Optional[str] = None  # "line N" / "record N"
    spaced_words: int = 0
    edge_spaces: int = 0  # words starting or ending with a space
    first_edge_space: Optional[Tuple[str, str]] = None
    bad_utf8: int = 0
    limited: bool = False
    notes: List[str] = field(default_factory=list)

    def source_meta(self) -> dict:
        return {
            "converted_from": os.path.basename(self.path),  # as `train` names its corpus: not where it lay
            "format": self.format,
            "header_count": self.header_count,
            "rows_read": self.rows,
            "duplicates_skipped": self.duplicates,
            "limit_reached": self.limited,
        }


class _Prefixed(io.RawIOBase):
    """A raw stream that first replays ``prefix`` bytes, then reads from ``stream``."""

    def __init__(self, prefix: bytes, stream: BinaryIO):
        self._prefix = memoryview(bytes(prefix))
        self._stream = stream

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:  # type: ignore[override]
        if len(self._prefix):
            n = min(len(b), len(self._prefix))
            b[:n] = self._prefix[:n]
            self._prefix = self._prefix[n:]
            return n
        data = self._stream.read(len(b))
        n = len(data)
        b[:n] = data
        return n


def _display(path: str) -> str:
    return "<stdin>" if path == "-" else path


def _is_number(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


class VectorFileReader:
    """Streams (words, float32 rows) blocks out of one vectors file.

    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "v.txt")
    >>> _ = open(p, "w").write("2 3\\n猫 1 2 3\\n狗 4 5 6\\n")
    >>> r = VectorFileReader(p)
    >>> [(w, b.tolist()) for w, b in r.blocks()]
    [(['猫', '狗'], [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])]
    >>> r.report.format, r.report.dim
    ('word2vec', 3)
    """

    def __init__(
        self,
        path: str,
        *,
        format: str = "auto",
        limit: Optional[int] = None,
        encoding: str = "utf-8",
        block_rows: int = BLOCK_ROWS,
    ):
        if format not in FORMATS:
            raise UsageError(
                f"unknown vectors format {format!r}; choose one of {', '.join(FORMATS)}"
            )
        if limit is not None and limit < 1:
            raise UsageError("limit (--limit) must be at least 1")
        self.path = str(path)
        self.name = _display(self.path)
        self.format = format
        self.limit = limit
        self.encoding = encoding
        self.block_rows = block_rows
        self.report = ReadReport(self.name)
        self._seen: dict = {}
        self._unterminated = 0  # number of a last line without its newline (text formats)

    # -- entry -----------------------------------------------------------------------
    def blocks(self) -> Iterator[Tuple[List[str], np.ndarray]]:
        """Blocks of (words, rows float32 (len(words), dim)); see the module docstring."""
        from .corpus import open_binary

        try:
            with open_binary(self.path) as stream:
                yield from self._read(stream)
        except CorpusError as exc:  # missing, unreadable, truncated or corrupt compressed data
            raise VectorsError(str(exc)) from None
        except OSError as exc:
            raise VectorsError(f"{self.name}: read failed ({exc})") from None
        self._finish()

    def _read(self, stream: BinaryIO) -> Iterator[Tuple[List[str], np.ndarray]]:
        first = stream.readline(_MAX_WORD_BYTES)
        if first.startswith(b"\xef\xbb\xbf"):
            first = first[3:]
        if not first:
            raise VectorsError(f"{self.name}: empty file, no vectors")
        head = first + stream.peek(512)[:512] if hasattr(stream, "peek") else first
        if first.startswith(b"\x93NUMPY") or _first_zip_entry(head).endswith(b".npy"):  # a user's easy slip:
            # a file from a store or from whiten
            raise VectorsError(f"{self.name}: a NumPy .npy/.npz file, not a vectors file; give a vector store "
                               "(the folder holding vectors.npy) or a word2vec / fastText / GloVe file")
        if is_tar(head) or head.startswith(ZIP_MAGIC):  # GloVe and fastText ship vectors zipped
            raise VectorsError(binary_file_problem(self.name, head))
        kind = _KIND.get(self.format)
        header = _HEADER.match(first) if kind != "glove" else None
        if header is None and kind is None and _BAD_HEADER.match(first):
            glove = "; a GloVe file whose first word is a number needs --format glove" \
                if len(first.split()) == 3 else ""
            raise VectorsError(f"{self.name}:1: {preview(first.decode('latin-1').strip(), 30)} is not a "
                               f"word2vec header ('count dim', two positive whole numbers){glove}")
        if header is None:
            if kind in ("text", "binary"):
                raise VectorsError(
                    f"{self.name}:1: expected a 'count dim' header line for {self.format}"
                    " (a file without a header is GloVe: use --format glove)"
                )
            self.report.format = "glove"
            lines = io.BufferedReader(_Prefixed(first, stream), buffer_size=_READ_CHUNK)  # type: ignore[arg-type]
            yield from self._text(lines, first_lineno=1, dim=None)
            return
        if max(len(header.group(1)), len(header.group(2))) > 12:  # no int() of a 5,000-digit number
            raise VectorsError(f"{self.name}:1: the header announces {preview(first.decode('ascii', 'replace'), 40)}"
                               ": not a 'count dim' header")
        count, dim = int(header.group(1)), int(header.group(2))
        if dim > MAX_DIM:  # before any block of rows is allocated for it
            raise VectorsError(f"{self.name}:1: the header announces {dim:,} dimensions (at most {MAX_DIM:,}); "
                               "a wrong header?")
        if dim < 1:
            raise VectorsError(f"{self.name}:1: the header announces {dim} dimensions")
        self.block_rows = max(1, min(self.block_rows, _BLOCK_BYTES // (4 * dim)))
        if count < 1:
            raise VectorsError(f"{self.name}:1: the header announces {count} rows; no vectors")
        self.report.header_count = count
        self.report.dim = dim
        probe = stream.read(_READ_CHUNK)
        if kind is None:
            kind = "binary" if _looks_binary(probe, dim) else "text"
        self.report.format = "word2vec-binary" if kind == "binary" else "word2vec"
        if kind == "binary":
            yield from self._binary(probe, stream, count, dim)
            return
        lines = io.BufferedReader(_Prefixed(probe, stream), buffer_size=_READ_CHUNK)  # type: ignore[arg-type]
        try:
            yield from self._text(lines, first_lineno=2, dim=dim, count=count)
        except VectorsError as exc:
            if self.format == "word2vec" and self.report.rows == 0 and _binary_records_fit(probe, dim):
                raise VectorsError(f"{exc}; the rows read as word2vec binary records: --format "
                                   "word2vec-binary reads them, as does leaving --format out") from None
            raise

    def _finish(self) -> None:
        rep = self.report
        if rep.rows and not rep.kept:  # every row's word was empty: no store to make, no file to export
            raise VectorsError(f"{self.name}: no vectors: every row's word is empty ({rep.rows} rows; "
                               f"first at {rep.first_empty})")
        if rep.duplicates:
            word, where = rep.first_duplicate  # type: ignore[misc]
            log.warning(
                "%s: %d duplicate word%s skipped, the first row of each kept (first: %r at %s)",
                self.name,
                rep.duplicates,
                "s" if rep.duplicates != 1 else "",
                word,
                where,
            )
        if rep.empty_words:
            log.warning(
                "%s: %d row%s with an empty word skipped (first: %s)",
                self.name,
                rep.empty_words,
                "s" if rep.empty_words != 1 else "",
                rep.first_empty,
            )
        if rep.bad_utf8:
            log.warning(
                "%s: %d word(s) were not valid %s; bad bytes replaced (another encoding? convert the file with "
                "`textkit vectors convert FILE --encoding ENC -o STORE` and use the store)",
                self.name,
                rep.bad_utf8,
                self.encoding,
            )
        if rep.edge_spaces:
            word, where = rep.first_edge_space  # type: ignore[misc]
            log.warning("%s: %d word(s) start or end with a space (two spaces before the values?), kept as "
                        "they are; first: %r at %s", self.name, rep.edge_spaces, word, where)
        if rep.spaced_words:
            log.info("%s: %d word(s) contain spaces (kept whole)", self.name, rep.spaced_words)

    # -- shared bookkeeping ------------------------------------------------------------
    def _keep(self, word: str, where: str) -> bool:
        """Record ``word``; False for a repeat or an empty word (counted) — its row is dropped."""
        self.report.rows += 1
        if not word:
            self.report.empty_words += 1
            if self.report.first_empty is None:
                self.report.first_empty = where
            return False
        if word in self._seen:
            self.report.duplicates += 1
            if self.report.first_duplicate is None:
                self.report.first_duplicate = (word, where)
            return False
        self._seen[word] = None
        self.report.kept += 1
        return True

    def _full(self) -> bool:
        if self.limit is not None and self.report.kept >= self.limit:
            self.report.limited = True
            return True
        return False

    def _decode(self, raw: bytes) -> str:
        try:
            return raw.decode(self.encoding)
        except UnicodeDecodeError:
            self.report.bad_utf8 += 1
            return raw.decode(self.encoding, errors="replace")

    # -- text ------------------------------------------------------------------------------
    def _text(
        self, lines: BinaryIO, first_lineno: int, dim: Optional[int], count: Optional[int] = None
    ) -> Iterator[Tuple[List[str], np.ndarray]]:
        pending: List[Tuple[int, str]] = []
        lineno = first_lineno - 1
        data_rows = 0
        for raw in lines:
            lineno += 1
            if not raw.endswith(b"\n"):
                self._unterminated = lineno  # the last line, cut short if the file was
            text = self._decode(raw).rstrip(_STRIP)
            if "\t" in text:  # fields separated by tabs (some exports): the same as spaces
                text = text.replace("\t", " ")
            if lineno == 1:
                text = text.lstrip("\ufeff")
            if not text.strip(" "):
                continue
            if dim is None:
                dim = _glove_dim(text)
                if dim < 1:
                    raise VectorsError(
                        f"{self.name}:{lineno}: a word without values; not a vectors file?"
                    )
                if dim == 1 and self.format == "auto":  # `textkit count`'s output, or another table
                    raise VectorsError(
                        f"{self.name}:{lineno}: one value after the word: a table of words (a count "
                        "file?), not vectors; 1-dimensional vectors without a header need --format glove"
                    )
                self.report.dim = dim
            data_rows += 1
            if count is not None and data_rows > count:
                raise VectorsError(
                    f"{self.name}:{lineno}: more rows than the {count} the header announces"
                )
            pending.append((lineno, text))
            room = (
                self.block_rows
                if self.limit is None
                else min(self.block_rows, self.limit - self.report.kept)
            )
            if len(pending) >= room:
                out = self._text_block(pending, dim)
                pending = []
                if out is not None:
                    yield out
                if self._full():
                    return
        if pending:
            out = self._text_block(pending, dim)
            if out is not None:
                yield out
            if self._full():
                return
        if count is not None and data_rows < count:
            raise VectorsError(
                f"{self.name}: the header announces {count} rows but the file holds {data_rows}"
            )
        if data_rows == 0 and count is None:
            raise VectorsError(f"{self.name}: no vectors in the file")

    def _text_block(self, pending: List[Tuple[int, str]], dim: int):
        """Parse one block of (line number, text) rows; fast path first, careful path on trouble."""
        rows = None
        if all(" " in t for _, t in pending):
            words, rests = [], []
            for _, t in pending:
                w, _, rest = t.partition(" ")
                words.append(w)
                rests.append(rest)
            try:
                arr = np.loadtxt(rests, dtype=np.float32, delimiter=" ", comments=None, ndmin=2)
            except ValueError:
                arr = None
            if arr is not None and arr.shape == (len(pending), dim) and np.isfinite(arr).all():
                rows = arr
        if rows is None:
            words = []
            rows = np.empty((len(pending), dim), dtype=np.float32)
            for i, (lineno, t) in enumerate(pending):
                words.append(self._careful_row(lineno, t, dim, rows[i]))
        keep_words: List[str] = []
        keep_idx: List[int] = []
        for i, (lineno, _) in enumerate(pending):
            if self._full():
                break
            if self._keep(words[i], f"line {lineno}"):
                keep_words.append(words[i])
                keep_idx.append(i)
        if not keep_words:
            return None
        if len(keep_idx) != len(pending):
            rows = rows[keep_idx]
        return keep_words, rows

    def _careful_row(self, lineno: int, text: str, dim: int, out: np.ndarray) -> str:
        """Word of one row, its values parsed into ``out``; a one-line error on trouble."""
        where = f"{self.name}:{lineno}"
        parts = text.rsplit(" ", dim)
        if len(parts) < dim + 1:
            cut = " (the file ends inside this row: truncated?)" if lineno == self._unterminated else ""
            raise VectorsError(
                f"{where}: expected {dim} values after the word, found {len(parts) - 1}{cut}"
            )
        word = parts[0]
        for j, token in enumerate(parts[1:]):
            try:
                value = float(token)
            except ValueError:
                hint = " (two spaces in a row?)" if token == "" else ""
                raise VectorsError(
                    f"{where}: value {j + 1} ({preview(token, 24)}) is not a number{hint}"
                ) from None
            if value != value or value in (float("inf"), float("-inf")):
                raise VectorsError(f"{where}: value {j + 1} ({preview(token, 24)}) is not a finite number")
            if abs(value) >= _FLOAT32_OVERFLOW:  # checked before the cast, which would warn and give inf
                raise VectorsError(
                    f"{where}: value {j + 1} ({preview(token, 24)}) is beyond the float32 range"
                )
            out[j] = value
        if word != word.strip(" "):
            rep = self.report
            rep.edge_spaces += 1
            if rep.first_edge_space is None:
                rep.first_edge_space = (word, f"line {lineno}")
        if " " in word:
            surplus = word.split(" ")[1:]
            if surplus and all(_is_number(t) for t in surplus):
                raise VectorsError(
                    f"{where}: expected {dim} values after the word, found {dim + len(surplus)}"
                )
            if " " in word.strip(" "):
                self.report.spaced_words += 1
        return word

    # -- binary ---------------------------------------------------------------------------
    def _binary(
        self, probe: bytes, stream: BinaryIO, count: int, dim: int
    ) -> Iterator[Tuple[List[str], np.ndarray]]:
        need = 4 * dim
        other = _dimension_of_records(probe, dim)
        if other is not None:  # read with the header's dimension, each record would take its neighbour's bytes
            raise VectorsError(f"{self.name}: the header announces {dim} values per word, but the records "
                               f"hold {other} (a newline ends each after {other}); fix the header")
        buf = bytearray(probe)
        pos = 0
        eof = False

        def fill(n: int) -> bool:
            """Make n bytes from ``pos`` on available (may move them to the front)."""
            nonlocal buf, pos, eof
            while len(buf) - pos < n and not eof:
                more = stream.read(max(_READ_CHUNK, n))
                if not more:
                    eof = True
                    break
                if pos:
                    del buf[:pos]
                    pos = 0
                buf += more
            return len(buf) - pos >= n

        words: List[str] = []
        rows = np.empty((self.block_rows, dim), dtype=np.float32)
        record = 0
        while record < count:
            if self._full():
                break
            record += 1
            where = f"{self.name}: record {record}"
            while True:
                sp = buf.find(b" ", pos)
                if sp >= 0:
                    break
                have = len(buf) - pos
                if have > _MAX_WORD_BYTES:
                    raise VectorsError(
                        f"{where}: no word end within 64 KiB; not a word2vec binary file?"
                    )
                if not fill(have + 1):
                    truncated = bytes(buf[pos:]).strip()
                    raise VectorsError(
                        f"{where}: the file ends here but the header announces {count} records"
                        + (" (truncated record)" if truncated else "")
                    )
            word_len = sp - pos
            if not fill(word_len + 1 + need):
                got = len(buf) - pos - word_len - 1
                word = self._decode(bytes(buf[pos : pos + word_len]).lstrip(b"\r\n"))
                raise VectorsError(
                    f"{where} ({word!r}): truncated, {got} of {need} value bytes present"
                )
            word = self._decode(bytes(buf[pos : pos + word_len]).lstrip(b"\r\n"))
            if "\n" in word:  # records are word, space, values, [newline]: never a newline inside a word
                guess = ("a word2vec text file? (--format word2vec reads it, as does leaving --format out)"
                         if self.format == "word2vec-binary" else
                         "a text file with a stray control byte? (--format word2vec names the bad line)")
                raise VectorsError(
                    f"{where}: a word holding a newline ({preview(word, 30)}): not word2vec binary; {guess}"
                )
            start = pos + word_len + 1
            values = np.frombuffer(bytes(buf[start : start + need]), dtype="<f4")
            pos = start + need
            if not np.isfinite(values).all():
                raise VectorsError(f"{where} ({word!r}): a value is not a finite number")
            if self._keep(word, f"record {record}"):
                rows[len(words)] = values
                words.append(word)
                if len(words) == self.block_rows:
                    yield words, rows.copy()
                    words = []
        if words:
            yield words, rows[: len(words)].copy()
        if record == count and not self.report.limited:
            fill(64)
            if bytes(buf[pos:]).strip():
                raise VectorsError(
                    f"{self.name}: more data after the {count} records the header announces (a wrong "
                    "count, or not word2vec binary: --format word2vec reads text)"
                )


def _first_zip_entry(head: bytes) -> bytes:
    """The name of the first file in a zip archive starting with ``head`` (b"" if it is none)."""
    if not head.startswith(ZIP_MAGIC) or len(head) < 30:
        return b""
    size = int.from_bytes(head[26:28], "little")  # the local file header's name length
    return head[30:30 + size]


def _glove_dim(first_row: str) -> int:
    """Dimension of a GloVe file (no header) from its first row.

    The values are the row's trailing numbers, so a word holding spaces ("New
    York 0.1 0.2") keeps them. When a number also appears among the fields before
    them, a value is more likely mistyped than the word spaced: all fields but the
    first are taken as values, and the row's reader names the bad one.
    """
    fields = first_row.split(" ")
    trailing = 0
    for value in reversed(fields[1:]):
        if not _is_number(value):
            break
        trailing += 1
    head = fields[1 : len(fields) - trailing]
    if trailing == 0 or any(_is_number(f) for f in head):
        return len(fields) - 1
    return trailing


def _looks_binary(probe: bytes, dim: int) -> bool:
    """True when the first record after the header is binary, not a text row.

    In order: a first row of ``dim + 1`` fields that are all numbers is text;
    records that read as binary (:func:`_binary_records_fit`) are binary; a first
    line that is UTF-8 text of exactly ``dim + 1`` fields without control bytes
    (a stray NUL aside) is text even when a field is not a number, so that the
    error names that value; otherwise the rest of the first row after the word
    tells: text holds only the characters of numbers and spaces there.
    """
    sp = probe.find(b" ")
    if sp < 0:
        return False
    first = probe.split(b"\n", 1)[0].rstrip(b" \t\r")
    try:
        fields = first.decode("utf-8").rsplit(" ", dim)
    except UnicodeDecodeError:
        fields = []
    if len(fields) == dim + 1 and all(_is_number(f) for f in fields[1:]):
        return False
    if _binary_records_fit(probe, dim):
        return True
    if len(fields) == dim + 1 and not any(0 < b < 0x20 and b != 0x09 for b in first):
        # a text row with a value that is not a number, or a stray NUL (the text reader
        # names it): a binary record's float bytes are seldom valid UTF-8 free of control
        # bytes (other than NUL) that also splits into exactly dim + 1 fields
        return False
    nl = probe.find(b"\n", sp + 1)
    rest = probe[sp + 1 : nl if nl >= 0 else len(probe)]
    return any(b not in _TEXT_BYTES for b in rest[: 4 * dim + 64])


_FIT_RECORDS = 16  # records that must read as binary for _binary_records_fit


def _binary_records_fit(probe: bytes, dim: int) -> bool:
    """Whether ``probe`` reads as word2vec binary records, up to 16 of them or to its end.

    A record is a word (no control byte), a space, ``4 * dim`` value bytes and an
    optional newline.  Either of two facts is the evidence.  Every record ends
    with its newline: a text row would need its newline exactly ``4 * dim``
    bytes after its first space, row after row.  Or at least half of the value
    bytes are bytes that do not occur in numbers (float bytes are ~90% such
    bytes; text misread that way, a few words' letters among digits).  This
    tells binary files from text where the value bytes of the first record
    happen to look like text: beginning with a newline byte, or valid UTF-8 of
    ``dim + 1`` fields.
    """
    walked = _walk_records(probe, dim)
    if walked is None:
        return False
    records, newlines, odd = walked
    return records > 0 and (newlines or 2 * odd >= records * 4 * dim)


def _walk_records(probe: bytes, dim: int) -> Optional[Tuple[int, bool, int]]:
    """(records read, whether each ended with a newline, value bytes that do not occur in
    numbers) of ``probe`` read as binary records of ``dim`` values, up to 16 records or the
    probe's end; None when a word holds a control byte (not such records)."""
    pos = records = odd = 0
    newlines = True
    width = 4 * dim
    while records < _FIT_RECORDS and pos < len(probe):
        sp = probe.find(b" ", pos)
        if sp < 0:
            break  # the probe ends inside a word
        if sp == pos or any(b < 0x20 for b in probe[pos:sp]):
            return None
        end = sp + 1 + width
        if end > len(probe):
            break  # the probe ends inside the values
        newline = probe[end : end + 1] == b"\n"
        newlines &= newline
        odd += sum(b not in _TEXT_BYTES for b in probe[sp + 1 : end])
        records += 1
        pos = end + newline
    return records, newlines, odd


def _dimension_of_records(probe: bytes, dim: int) -> Optional[int]:
    """The number of values per record, other than the header's ``dim``, with which at least
    two records of ``probe`` and each of them ends with a newline (as word2vec writes them),
    when ``dim`` gives no such reading; None otherwise (the header fits, or nothing tells)."""
    walked = _walk_records(probe, dim)
    if walked is not None and walked[0] >= 2 and walked[1]:
        return None
    sp = probe.find(b" ")
    if sp < 0:
        return None
    start = sp + 1
    newline = probe.find(b"\n", start + 4)
    while newline >= 0:
        if (newline - start) % 4 == 0:
            other = (newline - start) // 4
            walked = _walk_records(probe, other)
            if other != dim and walked is not None and walked[0] >= 2 and walked[1]:
                return other
        newline = probe.find(b"\n", newline + 1)
    return None


# --------------------------------------------------------------------------- conveniences
def read_vectors(path: str, *, format: str = "auto", limit: Optional[int] = None):
    """The whole file as in-memory :class:`~textkit.vectors.Vectors` (float32)."""
    from .vectors import Vectors

    reader = VectorFileReader(path, format=format, limit=limit)
    words: List[str] = []
    blocks: List[np.ndarray] = []
    for w, rows in reader.blocks():
        words.extend(w)
        blocks.append(rows)
    dim = reader.report.dim
    matrix = np.concatenate(blocks) if blocks else np.empty((0, max(dim, 1)), dtype=np.float32)
    return Vectors(words, matrix, path=path, meta={"source": reader.report.source_meta()})


def convert(
    src: str,
    dest: str,
    *,
    format: str = "auto",
    limit: Optional[int] = None,
    dtype: str = "float32",
    encoding: str = "utf-8",
):
    """Stream the vectors file ``src`` into a store at ``dest``; returns (Vectors, ReadReport).

    ``encoding``: of the words (the store holds them as UTF-8).  ``src`` may be a
    store itself (:func:`convert_store`: another ``dtype``, or its first ``limit`` words).
    """
    import codecs

    from .corpus import check_encoding
    from .vectors import StoreWriter, is_store

    check_encoding(encoding)
    if is_store(src):
        if format != "auto":
            raise UsageError(f"{src} is a store: there is no format to choose (--format is for files)")
        if codecs.lookup(encoding).name != "utf-8":
            raise UsageError(f"{src} is a store, whose words are UTF-8: --encoding is for files")
        return convert_store(src, dest, limit=limit, dtype=dtype)
    reader = VectorFileReader(src, format=format, limit=limit, encoding=encoding)
    writer = None
    try:
        for words, rows in reader.blocks():
            if writer is None:
                writer = StoreWriter(dest, rows.shape[1], dtype=dtype)
            writer.add(words, rows)
        if writer is None:
            writer = StoreWriter(dest, max(reader.report.dim, 1), dtype=dtype)
        writer.source = reader.report.source_meta()
    except BaseException as exc:
        if writer is not None:
            writer.abort(exc)
        raise
    return writer.close(), reader.report


def convert_store(src: str, dest: str, *, limit: Optional[int] = None, dtype: str = "float32"):
    """Copy the store ``src`` (its first ``limit`` words) to a store at ``dest`` stored as ``dtype``;
    returns (Vectors, ReadReport), as :func:`convert`.

    Rows are read as float32 (an int8 store's decoded rows) and written as ``dtype``,
    except int8 to int8, whose codes and scales are copied exactly; word counts
    (stores made by ``vectors train``) are kept.  ``dest`` may be ``src`` itself: the
    new store replaces it only once complete.
    """
    from .quantized import Int8Matrix
    from .vectors import StoreWriter, open_vectors

    vectors = open_vectors(src)
    n = len(vectors) if limit is None else min(limit, len(vectors))
    report = ReadReport(path=src, format="store", dim=vectors.dim, rows=n, kept=n, limited=n < len(vectors))
    matrix, counts = vectors.matrix, vectors.counts
    copy_codes = dtype == "int8" and isinstance(matrix, Int8Matrix)
    writer = StoreWriter(dest, vectors.dim, dtype=dtype, source=report.source_meta())
    try:
        for start in range(0, n, BLOCK_ROWS):
            stop = min(n, start + BLOCK_ROWS)
            words = vectors.words[start:stop]
            part = None if counts is None else np.asarray(counts[start:stop])
            if copy_codes:
                writer.add_codes(words, matrix.codes[start:stop], matrix.scales[start:stop], part)
            else:
                writer.add(words, np.asarray(matrix[start:stop], dtype=np.float32), part)
    except BaseException as exc:
        writer.abort(exc)
        raise
    return writer.close(), report


# --------------------------------------------------------------------------- writing
def format_rows(rows: np.ndarray) -> List[str]:
    """Each row as space-separated shortest float32 decimals (exact round trip)."""
    text = np.asarray(rows, dtype=np.float32).astype(str)
    return [" ".join(r) for r in text.tolist()]


def export_vectors(vectors, dest: Optional[str], *, format: str = "word2vec") -> int:
    """Write ``vectors`` to ``dest`` (``-`` or None: stdout, text formats only); rows written.

    ``word2vec``: ``count dim`` header, then ``word v1 ... vdim`` lines; ``glove``: the
    same lines without a header; ``word2vec-binary``: header, then word, a space,
    float32 little-endian bytes and a newline per record.
    """
    from .output import binary_output, open_output

    if format not in EXPORT_FORMATS:
        raise UsageError(
            f"unknown export format {format!r}; choose one of {', '.join(EXPORT_FORMATS)}"
        )
    n, dim = len(vectors), vectors.dim
    spaced = sum(1 for w in vectors.words if " " in w or w == "")
    if format == "word2vec-binary":
        if spaced:
            example = next(w for w in vectors.words if " " in w or w == "")
            raise VectorsError(
                f"{spaced} word(s) are empty or hold spaces (e.g. {example!r}); "
                "word2vec binary cannot "
                "keep them: export --format word2vec instead"
            )
        if dest is None or dest == "-":
            raise UsageError("word2vec-binary needs an output file (-o FILE)")
        with binary_output(dest) as fh:  # a name ending .gz, .bz2, .xz: compressed
            fh.write(f"{n} {dim}\n".encode())
            for start in range(0, n, BLOCK_ROWS):
                rows = np.asarray(vectors.matrix[start : start + BLOCK_ROWS], dtype="<f4")
                parts = []
                for word, row in zip(vectors.words[start : start + BLOCK_ROWS], rows):
                    parts.append(word.encode("utf-8") + b" " + row.tobytes() + b"\n")
                fh.write(b"".join(parts))
        return n
    if spaced:
        log.warning(
            "%d word(s) are empty or hold spaces; readers other than textkit may split them", spaced
        )
    with open_output(dest) as out:
        if format == "word2vec":
            out.write(f"{n} {dim}\n")
        for start in range(0, n, BLOCK_ROWS):
            lines = format_rows(vectors.matrix[start : start + BLOCK_ROWS])
            words = vectors.words[start : start + BLOCK_ROWS]
            out.write("".join(f"{w} {line}\n" for w, line in zip(words, lines)))
    return n


def write_vectors_file(
    path: str, words: Sequence[str], matrix: np.ndarray, *, format: str = "word2vec"
) -> None:
    """Write a small vectors file (tests, benchmarks): :func:`export_vectors` on in-memory rows."""
    from .vectors import Vectors

    export_vectors(Vectors(list(words), np.asarray(matrix, dtype=np.float32)), path, format=format)
