"""The corpus reader: the one place that opens corpus files.

A :class:`Corpus` is a re-iterable stream of documents from paths, directories
(recursive, sorted, hidden entries skipped), glob patterns, or ``-`` for standard
input. Compressed input (gzip, bzip2, xz) is recognised by its first bytes, not
its name. One document is one line (newline, a trailing CR and a leading UTF-8
BOM removed), or with ``field`` one JSON Lines record's string field.

Bad bytes: a line that does not decode is decoded with U+FFFD replacement
characters and reported as a warning naming file and line (the first few, then a
summary count); with ``strict=True`` it is a :class:`CorpusError`. A file whose
first 8 KiB hold a NUL byte is binary: an error when named, skipped with a
warning inside a directory. Truncated or corrupt compressed data is an error that
names the file and the last good line.

Memory: one line at a time (a single line is held whole, whatever its length).
"""

from __future__ import annotations

import bz2
import glob
import gzip
import io
import json
import logging
import lzma
import os
import re
import stat
import sys
import zlib
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Callable, Iterator, List, NamedTuple, Optional, Sequence, Tuple, Union

from .errors import CorpusError, UsageError

log = logging.getLogger("textkit")

STDIN = "-"
# bzip2: "BZh", the block size digit, then a block's magic (pi) or the end-of-stream
# magic (sqrt(pi)): six bytes more than "BZh", which plain text also starts with
_MAGIC = ((re.compile(b"\x1f\x8b"), "gzip"),
          (re.compile(b"BZh[1-9](?:\x31\x41\x59\x26\x53\x59|\x17\x72\x45\x38\x50\x90)"), "bzip2"),
          (re.compile(b"\xfd7zXZ\x00"), "xz"))
_BINARY_PROBE = 8192
_READ_BUFFER = 1 << 16  # >= _BINARY_PROBE
_SHOWN_BAD_LINES = 5
_SURROGATE = re.compile("[\ud800-\udfff]")
_GLOB_CHARS = set("*?[")


class Record(NamedTuple):
    """One document with where it came from (``line`` is 1-based, as in the file).

    A named tuple: one is made per line read, and it is made three times faster
    than a frozen dataclass.
    """

    source: str
    line: int
    text: str


@dataclass
class ReadStats:
    """What one pass over a corpus read."""

    files: int = 0
    lines: int = 0
    bytes: int = 0
    bad_lines: int = 0
    skipped_records: int = 0
    taken_records: int = 0  # JSON Lines records whose field was read (with a field)


def _display(path: str) -> str:
    return "<stdin>" if path == STDIN else path


def _compression(head: bytes) -> Optional[str]:
    for magic, name in _MAGIC:
        if magic.match(head):
            return name
    return None


def _decompressor(raw: BinaryIO, kind: Optional[str]) -> BinaryIO:
    if kind == "gzip":
        return gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[return-value]
    if kind == "bzip2":
        return bz2.BZ2File(raw, mode="rb")  # type: ignore[return-value]
    if kind == "xz":
        return lzma.LZMAFile(raw, mode="rb")  # type: ignore[return-value]
    return raw


def _peek(raw: io.BufferedReader, size: int) -> bytes:
    try:
        return raw.peek(size)[:size]
    except (OSError, ValueError):
        return b""


_DECOMPRESSION_ERRORS = (EOFError, zlib.error, lzma.LZMAError, gzip.BadGzipFile)


@contextmanager
def open_binary(path: str) -> Iterator[BinaryIO]:
    """``path`` (or ``-`` for stdin) opened for binary reading, decompressed by content.

    Raises :class:`CorpusError` for a missing or unreadable file, and for
    truncated or corrupt compressed data met while the caller reads.
    """
    if path == STDIN:
        if sys.stdin is None:
            raise CorpusError("no standard input to read; give a file")
        if sys.stdin.isatty():
            log.info("reading standard input (end it with Ctrl-D)")
        raw = sys.stdin.buffer
        if not hasattr(raw, "peek"):  # e.g. an in-memory stream standing in for stdin
            raw = io.BufferedReader(raw)  # type: ignore[arg-type]
        close_raw = False
    else:
        try:
            # a buffer of at least _BINARY_PROBE bytes, so that peek() shows them all (the default
            # buffer is the file system's block size, often 4 KiB)
            raw = open(path, "rb", buffering=_READ_BUFFER)
        except FileNotFoundError:
            raise CorpusError(f"{path}: no such file or directory") from None
        except IsADirectoryError:
            raise CorpusError(f"{path}: is a directory") from None
        except OSError as exc:
            raise CorpusError(f"{path}: cannot open ({exc.strerror})") from None
        close_raw = True
    try:
        kind = _compression(_peek(raw, 10))  # type: ignore[arg-type]
        stream = _decompressor(raw, kind)
        try:
            yield stream
        except _DECOMPRESSION_ERRORS as exc:
            # raised while the caller read; an EOFError left to click would read as Ctrl-D ("interrupted")
            raise CorpusError(f"{_display(path)}: truncated or corrupt compressed data ({exc})") from None
    finally:
        if close_raw:
            raw.close()


@contextmanager
def open_text(path: str, encoding: str = "utf-8", *, raw: bool = False) -> Iterator["TextLines"]:
    """``path``'s lines as text (decompressed by content, BOM ignored, ``\r\n`` read as ``\n``).

    ``raw``: lines exactly as decoded, the BOM and ``\r\n`` kept, for a reader that
    tells itself whether they are data (count files, see ``textkit.counting``).

    For small side files (count files, word lists, user dictionaries); corpora go
    through :class:`Corpus`. A binary file (NUL bytes in its first 8 KiB) and
    undecodable bytes raise :class:`CorpusError` naming the file (and line).
    """
    with open_binary(path) as stream:
        name = _display(path)
        head = stream.peek(_BINARY_PROBE)[:_BINARY_PROBE] if hasattr(stream, "peek") else b""
        if b"\x00" in head:
            raise CorpusError(binary_file_problem(name, head))
        yield TextLines(stream, encoding, name, raw=raw)


class TextLines:
    """The lines of a binary stream decoded one by one (what :func:`open_text` yields).

    Iterating gives each line with its ``\n`` (``\r\n`` made ``\n``, a UTF-8 BOM
    dropped, unless ``raw``); a line that does not decode is a :class:`CorpusError`
    naming ``name`` and the line.  ``name`` is there for readers that name their
    file (jieba's user dictionary).
    """

    def __init__(self, stream: BinaryIO, encoding: str, name: str, *, raw: bool = False):
        self.stream, self.encoding, self.name, self.raw = stream, encoding, name, raw

    def __iter__(self) -> Iterator[str]:
        encoding = self.encoding
        utf8 = encoding.lower().replace("_", "-") in ("utf-8", "utf8")
        for lineno, data in enumerate(self.stream, 1):
            if not self.raw:
                if lineno == 1 and utf8 and data.startswith(b"\xef\xbb\xbf"):
                    data = data[3:]
                if data.endswith(b"\r\n"):
                    data = data[:-2] + b"\n"
            try:
                yield data.decode(encoding)
            except UnicodeDecodeError as exc:
                raise CorpusError(f"{self.name}:{lineno}: not valid {encoding} ({exc.reason} at byte "
                                  f"{exc.start + 1} of the line)") from None


def check_encoding(encoding: str) -> None:
    """Raise :class:`UsageError` unless ``encoding`` is a known text encoding that keeps ASCII as is.

    Lines are split on the byte ``\\n`` before decoding, so UTF-16 / UTF-32 (two or
    four bytes per character) and codecs that are not byte-per-ASCII text
    encodings (idna, punycode, rot13...) cannot be read.
    """
    import codecs

    try:
        info = codecs.lookup(encoding)
    except (LookupError, TypeError, ValueError):
        raise UsageError(f"unknown encoding {encoding!r}") from None
    try:
        usable = (getattr(info, "_is_text_encoding", True)
                  and "a1 \n".encode(encoding) == b"a1 \n" and b"a1 \n".decode(encoding) == "a1 \n")
        b"a\xff\xfe\n".decode(encoding, errors="replace")  # bad bytes are replaced, not fatal
    except (UnicodeError, LookupError, TypeError, ValueError):
        usable = False
    if not usable:
        raise UsageError(f"encoding {encoding!r} (--encoding): not readable line by line (textkit reads encodings that "
                          f"keep ASCII as is: utf-8, gb18030, big5, latin-1, ...); convert first, e.g. "
                          f"iconv -f {encoding} -t utf-8")


def binary_file_problem(name: str, head: bytes) -> str:
    """The error line for a file whose first bytes ``head`` (after decompression) are not text."""
    if is_tar(head):
        return f"{name}: a tar archive; extract it first (tar xf), then give the file inside"
    if head.startswith(ZIP_MAGIC):
        return f"{name}: a zip archive; extract it first (unzip), then give the file inside"
    return f"{name}: looks like a binary file (NUL bytes); expected text"


ZIP_MAGIC = b"PK\x03\x04"  # a zip archive's first local file header (also a NumPy .npz file)


def is_tar(head: bytes) -> bool:
    """Whether ``head`` starts a tar archive (POSIX ustar or GNU tar: "ustar" at byte 257)."""
    return head[257:262] == b"ustar"


def file_stamp(path) -> Optional[list]:
    """[size, modification time in ns] of a regular file, None otherwise (stdin, a pipe, missing)."""
    try:
        st = os.stat(path)
    except (OSError, ValueError, TypeError):
        return None
    return [st.st_size, st.st_mtime_ns] if stat.S_ISREG(st.st_mode) else None


def cache_key(path, *inside: str) -> Optional[tuple]:
    """What identifies the file (or the files ``inside`` a folder) at ``path`` now, for a cache.

    The absolute path (a relative one means another file after ``os.chdir``) with
    :func:`file_stamp` of each file, so that a cache built from a file that was
    since rewritten is not used.  None for None.
    """
    if path is None:
        return None
    path = str(path)
    if path == "-":
        return (path,)
    full = os.path.abspath(path)
    if inside and os.path.isdir(full):
        return (full, *(tuple(file_stamp(os.path.join(full, name)) or ()) for name in inside))
    return (full, tuple(file_stamp(full) or ()))


def check_corpus(corpus, function: str, hint: str = "e.g. Corpus(['notes.txt'])") -> None:
    """TypeError unless ``corpus`` is a :class:`Corpus` (a path or a list of texts is not one)."""
    if not isinstance(corpus, Corpus):
        raise TypeError(f"{function} takes a textkit.Corpus ({hint}), not {type(corpus).__name__}")


def one_file(source: str, option: str) -> None:
    """Raise :class:`UsageError` unless ``source`` names one file (or stdin): ``option``'s lines are
    numbered per file, so several files (a directory, a glob) would give ambiguous line numbers."""
    if os.path.isdir(source):
        raise UsageError(f"{source}: {option} takes one file (line numbers are per file), not a directory")
    files = Corpus([source]).files()
    if len(files) > 1:
        raise UsageError(f"{source}: {option} takes one file (line numbers are per file); "
                         f"this pattern matches {len(files)}")


class Corpus:
    """A re-iterable stream of documents; see the module docstring.

    >>> corpus = Corpus(["data/samples/nahan.txt"])
    >>> next(corpus.documents())
    '《呐喊》自序'
    """

    def __init__(
        self,
        sources: Sequence[Union[str, Path]] = (STDIN,),
        *,
        encoding: str = "utf-8",
        field: Optional[str] = None,
        strict: bool = False,
        on_progress: Optional[Callable[[int, int], None]] = None,
        report: bool = True,
    ):
        if isinstance(sources, (str, os.PathLike)):  # one path, not a sequence of its characters
            sources = [sources]
        self.sources = [str(s) for s in sources]
        if not self.sources:  # e.g. a glob that matched nothing: not a silent read of stdin
            raise UsageError("no input given: name files, or '-' for standard input")
        check_encoding(encoding)
        self.encoding = encoding
        if field is not None and not str(field).strip():
            raise UsageError("--field: an empty field name; give the JSON field that holds the text")
        self.field = field
        self.strict = strict
        self.report = report  # warnings for bad lines (False for a second pass over the same input)
        self.on_progress = on_progress
        self.stats = ReadStats()
        self._stdin_used = False

    def again(self) -> "Corpus":
        """The same input for another pass, read without repeating its warnings (bad bytes,
        skipped records): the first pass gave them."""
        return Corpus(self.sources, encoding=self.encoding, field=self.field, strict=self.strict,
                      on_progress=self.on_progress, report=False)

    # -- sources -------------------------------------------------------------
    def files(self) -> List[str]:
        """The files a pass reads, in order (stdin as ``-``); errors for missing inputs."""
        return [path for path, _ in self._resolve()]

    def text_files(self) -> List[str]:
        """:meth:`files` less those a pass skips: a binary file found in a folder (warned of, as a pass does).

        For readers of side files such as ``merge``, which open each file themselves.
        """
        out = []
        for path, walked in self._resolve():
            if walked and looks_binary(path):
                log.warning("%s: skipped, looks like a binary file", _display(path))
                continue
            out.append(path)
        return out

    def _resolve(self) -> List[Tuple[str, bool]]:
        """(file, found by walking a directory?) for every source, in order."""
        out: List[Tuple[str, bool]] = []
        for src in self.sources:
            if src == STDIN:
                out.append((STDIN, False))
            elif os.path.isdir(src):
                found = folder_files(src)
                if not found:
                    raise CorpusError(f"{src}: directory holds no files")
                out.extend((path, True) for path in found)
            elif os.path.exists(src):
                out.append((src, False))
            elif _GLOB_CHARS & set(src):
                # a matched folder is read as a named one is, in place: its files walked; all of
                # them ordered as a directory's files are, by path components (a/z.txt before a.txt)
                found: dict = {}  # normalised path -> (path as found, found by walking a folder?)
                walked: set = set()  # ** matches every folder below one it matched: walk each tree once
                loops: dict = {}
                base = _literal_part(src)
                for match in glob.glob(src, recursive=True):
                    if "**" in src and _through_folder_loop(match, base, loops):
                        continue
                    if os.path.isdir(match):
                        root = os.path.normpath(match)
                        if walked_over(root, walked):
                            continue
                        walked.add(root)
                        for path in folder_files(match):
                            found.setdefault(os.path.normpath(path), (path, True))
                    elif os.path.isfile(match):
                        found[os.path.normpath(match)] = (match, False)
                if not found:
                    raise CorpusError(f"{src}: no file matches this pattern")
                out.extend(found[key] for key in sorted(found, key=lambda key: key.split(os.sep)))
            else:
                raise CorpusError(f"{src}: no such file or directory")
        return out

    # -- reading -------------------------------------------------------------
    def records(self) -> Iterator[Record]:
        """Every document with its source and 1-based line number."""
        self.stats = ReadStats()
        files = self._resolve()
        text_files = 0
        for path, in_directory in files:
            if path == STDIN:
                if self._stdin_used:
                    raise CorpusError("standard input can be read only once; give a file instead")
                self._stdin_used = True
            text_files += yield from self._read_file(path, skip_binary=in_directory)
        if files and text_files == 0 and any(in_dir for _, in_dir in files):
            raise CorpusError(f"{', '.join(self.sources)}: no text files found")
        if self.stats.bad_lines and self.report:
            log.warning(
                "%d line%s held invalid %s (bytes, or lone surrogates in JSON) shown as U+FFFD",
                self.stats.bad_lines,
                "s" if self.stats.bad_lines != 1 else "",
                self.encoding,
            )
        if self.stats.skipped_records and not self.stats.taken_records:
            # a misspelt --field, or a plain text file: a run over nothing would look like success
            raise CorpusError(f"{', '.join(self.sources)}: every JSON Lines record was skipped "
                              f"({self.stats.skipped_records}, see above): none has a text field "
                              f"{self.field!r}")
        if self.stats.skipped_records and self.report:
            log.warning("%d JSON Lines records skipped (see above)", self.stats.skipped_records)

    def documents(self) -> Iterator[str]:
        """The text of every document."""
        for rec in self.records():
            yield rec.text

    def batches(self, max_chars: int = 1_000_000, max_docs: Optional[int] = None) -> Iterator[List[str]]:
        """Documents grouped in lists of at most ``max_docs`` documents and about ``max_chars``
        characters (a batch closes once it reaches ``max_chars``)."""
        batch: List[str] = []
        size = 0
        for doc in self.documents():
            batch.append(doc)
            size += len(doc) + 1
            if size >= max_chars or (max_docs is not None and len(batch) >= max_docs):
                yield batch
                batch, size = [], 0
        if batch:
            yield batch

    def _read_file(self, path: str, skip_binary: bool) -> Iterator[Record]:
        """Records of one file; returns 1 when the file was read, 0 when skipped as binary."""
        name = _display(path)
        with open_binary(path) as stream:
            try:
                head = stream.peek(_BINARY_PROBE)[:_BINARY_PROBE] if hasattr(stream, "peek") else b""
            except (EOFError, OSError, zlib.error, lzma.LZMAError) as exc:
                raise CorpusError(
                    f"{name}: truncated or corrupt compressed data before its first line ({exc})"
                ) from None
            if b"\x00" in head:
                if skip_binary:
                    log.warning("%s: skipped, looks like a binary file", name)
                    return 0
                raise CorpusError(binary_file_problem(name, head))
            stats = self.stats
            stats.files += 1
            lineno = 0
            encoding, decoder, field, on_progress = self.encoding, self._decode, self.field, self.on_progress
            try:
                for raw_line in stream:
                    lineno += 1
                    stats.lines += 1
                    stats.bytes += len(raw_line)
                    if raw_line.endswith(b"\n"):
                        raw_line = raw_line[:-1]
                    if raw_line.endswith(b"\r"):
                        raw_line = raw_line[:-1]
                    try:
                        text = raw_line.decode(encoding)
                    except UnicodeDecodeError:
                        text = decoder(raw_line, name, lineno)  # replaced with a warning, or an error
                    if lineno == 1 and text.startswith("\ufeff"):
                        text = text[1:]
                    if field is not None:
                        text = self._field_of(text, name, lineno)
                        if text is None:
                            continue
                        stats.taken_records += 1
                    if on_progress is not None:
                        on_progress(stats.bytes, stats.lines)
                    yield Record(name, lineno, text)
            except (EOFError, zlib.error, lzma.LZMAError, gzip.BadGzipFile) as exc:
                where = f"after line {lineno}" if lineno else "before its first line"
                raise CorpusError(f"{name}: truncated or corrupt compressed data {where} ({exc})") from None
            except OSError as exc:
                raise CorpusError(f"{name}: read failed after line {lineno} ({exc})") from None
        return 1

    def _decode(self, raw_line: bytes, name: str, lineno: int) -> str:
        try:
            return raw_line.decode(self.encoding)
        except UnicodeDecodeError as exc:
            self._bad_text(name, lineno, f"invalid {self.encoding} at byte {exc.start + 1} of the line",
                           f"invalid {self.encoding} bytes")
            return raw_line.decode(self.encoding, errors="replace")

    def _bad_text(self, name: str, lineno: int, problem: str, what: str) -> None:
        """An error with --strict; otherwise a warning (the first few lines) that ``what`` were replaced."""
        if self.strict:
            raise CorpusError(f"{name}:{lineno}: {problem} (drop --strict to replace it)")
        self.stats.bad_lines += 1
        if self.report and self.stats.bad_lines <= _SHOWN_BAD_LINES:
            log.warning(
                "%s:%d: %s replaced%s",
                name,
                lineno,
                what,
                " (further such lines are counted, not shown)"
                if self.stats.bad_lines == _SHOWN_BAD_LINES
                else "",
            )

    def _text_value(self, value: str, name: str, lineno: int) -> str:
        """A JSON string whose escapes may encode lone surrogates (half an emoji): those become U+FFFD."""
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            self._bad_text(name, lineno, f"field {self.field!r} holds a lone surrogate (a \\ud800-style escape)",
                           "lone surrogates")
            return _SURROGATE.sub("\ufffd", value)
        return value

    def _field_of(self, line: str, name: str, lineno: int) -> Optional[str]:
        if not line.strip():
            return None
        problem = None
        try:
            obj = json.loads(line)
        except (ValueError, RecursionError):  # RecursionError: arrays nested thousands deep
            problem = "not valid JSON"
        else:
            if not isinstance(obj, dict):
                problem = "not a JSON object"
            elif self.field not in obj:
                problem = f"no field {self.field!r}"
            elif not isinstance(obj[self.field], str):
                problem = f"field {self.field!r} is not a string"
            else:
                return self._text_value(obj[self.field], name, lineno)
        if self.strict:
            raise CorpusError(f"{name}:{lineno}: {problem}")
        self.stats.skipped_records += 1
        if self.report and self.stats.skipped_records <= _SHOWN_BAD_LINES:
            log.warning("%s:%d: %s, record skipped", name, lineno, problem)
        return None


def looks_binary(path: str) -> bool:
    """Whether reading ``path`` inside a folder would skip it as binary (a NUL byte in its first bytes)."""
    try:
        with open_binary(path) as stream:
            return b"\x00" in _peek(stream, _BINARY_PROBE)  # type: ignore[arg-type]
    except (CorpusError, *_DECOMPRESSION_ERRORS, OSError):
        return False


def _through_folder_loop(match: str, base: str, loops: dict) -> bool:
    """Whether ``match`` of a ``**`` pattern goes through (or is) a symbolic link below ``base``, the
    pattern's literal part, that points to a folder holding the link itself: a loop.  Python's ``**``
    follows links to folders, and round such a loop until paths grow too long: a link to a parent
    folder gave every file dozens of times.  Other links are followed as before.  ``loops`` caches
    the answer per path (the matches of one pattern share their folders)."""
    if len(match) <= len(base):
        return False
    loop = loops.get(match)
    if loop is None:
        loop = False
        if os.path.islink(match) and os.path.isdir(match):
            target = os.path.realpath(match)
            where = os.path.realpath(os.path.dirname(match) or ".")
            loop = where == target or where.startswith(target.rstrip(os.sep) + os.sep)
        loop = loop or _through_folder_loop(os.path.dirname(match), base, loops)
        loops[match] = loop
    return loop


def _literal_part(pattern: str) -> str:
    """The leading folders of a glob pattern that hold no wildcard (``logs/2024`` of ``logs/2024/**``)."""
    literal = []
    for part in pattern.split(os.sep):
        if _GLOB_CHARS & set(part):
            break
        literal.append(part)
    return os.sep.join(literal)


def walked_over(folder: str, walked: set) -> bool:
    """Whether :func:`folder_files` of one of the ``walked`` folders (normalised paths) lists the files of
    ``folder``: it is one of them, or lies below one with no hidden name and no symbolic link
    between (the walk skips the first and does not follow the second; ``**`` follows links).
    One look-up per level."""
    path = folder
    while True:
        if path in walked:
            return True
        parent = os.path.dirname(path)
        if parent in ("", path) or os.path.basename(path).startswith(".") or os.path.islink(path):
            return False
        path = parent


def folder_files(root: str) -> List[str]:
    """Regular files below ``root``, recursively, sorted by path; hidden entries skipped.

    A folder that cannot be listed is an error (``os.walk`` would skip it, and a
    count would miss its files without a word).
    """

    def unreadable(exc: OSError) -> None:
        raise CorpusError(f"{exc.filename or root}: cannot read this folder ({exc.strerror or exc})")

    out: List[str] = []
    for dirpath, dirnames, filenames in os.walk(root, onerror=unreadable):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        for fn in filenames:
            full = os.path.join(dirpath, fn)
            if not fn.startswith(".") and os.path.isfile(full):
                out.append(full)
    out.sort(key=lambda p: os.path.relpath(p, root).split(os.sep))
    return out
