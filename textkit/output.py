"""Writers: TSV / CSV / JSON Lines rows, atomic output files, progress on a terminal.

Atomic files: output goes to a temporary file in the destination's folder and is
renamed over the destination only when the writer finished without error, so a
failed or interrupted run leaves the previous file untouched and no partial file
behind. Standard output (``None`` or ``-``) is written as it comes, and so is a
destination that is not a regular file (``/dev/null``, a named pipe, a
terminal): renaming a file over it would replace the device itself. A name for
one of this process's descriptors (``/dev/stdout``, ``/dev/fd/3``,
``/proc/self/fd/3``) is written through that descriptor: opened anew, a file
behind it (``>> log``) would be truncated or written from its start.

A write that fails (disk full) is an error naming the destination.

A text output file whose name ends in ``.gz``, ``.bz2`` or ``.xz`` is written
compressed (gzip without a name or time stamp in its header, so the same rows
give the same bytes), and :func:`format_of_name` reads the rows' format from
the name before that ending (``counts.jsonl.gz``: JSON Lines).
"""

from __future__ import annotations

import bz2
import csv
import errno
import gzip
import io
import json
import logging
import lzma
import math
import os
import re
import shutil
import stat
import sys
import tempfile
import time
from contextlib import contextmanager
from typing import IO, Any, Callable, Iterable, Iterator, Optional, Sequence

from .errors import TextkitError, UsageError

log = logging.getLogger("textkit")

FORMATS = ("tsv", "csv", "jsonl")
_NAME_FORMATS = {".tsv": "tsv", ".tab": "tsv", ".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl",
                 ".json": "jsonl"}  # one object per line, as embed writes .json
# what a name ending in each of these is written with (gzip: its gzip(1) level, the module's 9
# being twice as slow; no name and no time stamp in its header, so the same rows give the same bytes)
_COMPRESSORS: dict = {
    ".gz": lambda raw: gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=6),
    ".bz2": lambda raw: bz2.BZ2File(raw, "wb"),
    ".xz": lambda raw: lzma.LZMAFile(raw, "wb"),
}


def is_compressed_name(path: str) -> bool:
    """Whether ``path`` ends in ``.gz``, ``.bz2`` or ``.xz`` (any case)."""
    return os.path.splitext(str(path).lower())[1] in _COMPRESSORS


def uncompressed_name(path: str) -> str:
    """``path`` in lower case without a ``.gz``, ``.bz2`` or ``.xz`` ending (what is written inside)."""
    lower = str(path).lower()
    return os.path.splitext(lower)[0] if is_compressed_name(lower) else lower


def format_of_name(path: Optional[str]) -> Optional[str]:
    """The row format an output name asks for by its extension (``.tsv``, ``.csv``, ``.jsonl``,
    ``.json``, before any ``.gz``/``.bz2``/``.xz``), else None.  A symbolic link is known by
    the name of the file it writes."""
    if path is None:
        return None
    return _NAME_FORMATS.get(os.path.splitext(uncompressed_name(_through_link(str(path))))[1])


def compressor_for(path: str, raw: IO[bytes]) -> Optional[IO[bytes]]:
    """A compressing writer over ``raw`` when ``path`` ends in .gz, .bz2 or .xz, else None."""
    make = _COMPRESSORS.get(os.path.splitext(path.lower())[1])
    return make(raw) if make is not None else None


# Text written out is UTF-8. A file name that is not UTF-8 reaches it as lone surrogates
# (Python's decoding of its bytes, PEP 383): it is written back as those same bytes,
# as `ls` would show it, rather than failing the run.
OUTPUT_ERRORS = "surrogateescape"


def _is_stdout(path: Optional[str]) -> bool:
    return path is None or str(path) == "-"


def _check_folder(path: str, allow_dir: bool = False, probe: bool = True) -> str:
    """The folder an output ``path`` goes to; errors if it is missing, or (``probe``) if no file
    can be made there: a new temporary file is made and removed, the one test that tells
    what the output will meet (permissions, a read-only mount, ACLs, root's exemptions)."""
    if not str(path).strip():
        raise UsageError("an empty output name; give a file name")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        what = "is not a folder" if os.path.exists(folder) else "does not exist"
        raise TextkitError(f"{path}: cannot write, {folder} {what}")
    if os.path.isdir(path) and not allow_dir:
        raise TextkitError(f"{path}: is a directory, expected a file name")
    if probe:
        _check_name_length(path, folder)
        try:
            fd, made = tempfile.mkstemp(prefix=".textkit-", suffix=".tmp", dir=folder)
        except OSError as exc:
            raise TextkitError(f"{path}: cannot write ({exc.strerror or exc})") from None
        os.close(fd)
        os.unlink(made)
    return folder


def _through_link(path: str) -> str:
    """What an output ``path`` that is a symbolic link writes: the file it points to, made if
    missing (as a shell's ``>`` does); a link to a folder is left as it is."""
    if os.path.islink(path):
        try:
            os.stat(path)
        except OSError as exc:
            if exc.errno == errno.ELOOP:  # a shell's > refuses it too; replacing it would hide the loop
                raise TextkitError(f"{path}: a loop of symbolic links; give another name") from None
        target = os.path.realpath(path)
        if not os.path.isdir(target):
            return target
    return path


def _temporary_prefix(name: str) -> str:
    """Prefix of the temporary file beside output ``name``: its name, cut between characters to
    at most 100 bytes so that the temporary's name (prefix, random part, suffix) stays within
    the usual 255-byte limit."""
    while len(os.fsencode(name)) > 100:
        name = name[:-1]
    return "." + name + "."


def _check_name_length(path: str, folder: str) -> None:
    """Raise when the file system of ``folder`` takes no name as long as ``path``'s (found before
    the work, and named as the user gave it, not as the temporary file)."""
    try:
        limit = os.pathconf(folder, "PC_NAME_MAX")
    except (OSError, ValueError, AttributeError):  # unknown here: the write will tell
        return
    size = len(os.fsencode(os.path.basename(os.path.abspath(path))))
    if limit and size > limit:
        raise TextkitError(f"{path}: cannot write, the name is {size} bytes long and this file system "
                           f"takes at most {limit}")


def _default_mode(path: str) -> int:
    """Permissions for a new output: those of the file it replaces, else 0666 less umask."""
    try:
        return os.stat(path).st_mode & 0o7777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def check_output_file(path: str) -> None:
    """Raise before any work if ``path`` cannot become an output file (no folder, a folder that
    cannot be written, or a directory)."""
    if not is_special_file(path):
        _check_folder(_through_link(path))


def check_not_an_input(path: Optional[str], sources: Iterable[Optional[str]], option: str = "-o",
                       side: Iterable[Optional[str]] = (), *, _same_inode: bool = False) -> None:
    """Refuse an output ``path`` that the run reads, warn of one that a later run would read.

    ``sources`` are corpora (files, folders, patterns); ``side`` the other files
    the run reads (vectors, as a file or a store folder; a user dictionary,
    stopwords, whitening parameters, an index, a count file).  :class:`UsageError`
    when ``path`` exists and the run reads it: a source or side file, a file a
    source folder or pattern reads (not a hidden or binary one, which reading a
    folder skips), a file of a side folder, or a folder holding any of these.
    A warning when ``path`` does not exist yet but a source folder or pattern
    would read it: the next run over the same inputs would.  None (an option
    not given) and ``-`` are passed over; ``option`` names the output's option.
    Files are compared by directory entry (:func:`_entry`), or, for an output
    the shell opened (standard output, ``/dev/fd/N``: ``_same_inode``), by inode.
    An input folder is listed once, and only when the output exists; no file is
    opened but the output's own.
    """
    sources = [str(s) for s in sources if s is not None]
    if path is not None and not str(path).strip():
        raise UsageError(f"{option}: an empty output name; give a file name")
    fd = _stdout_descriptor() if _is_stdout(path) else descriptor_of(str(path))
    if fd is not None or _is_stdout(path):  # a file the shell opened (> or >>) can be an input
        if fd is not None:
            _check_descriptor(fd, "standard output" if _is_stdout(path) else f"{option} {path}", sources, side)
        return
    if is_special_file(str(path)):
        return
    target = os.path.realpath(str(path))
    exists = os.path.exists(target)
    key = None if not exists or os.path.isdir(target) else \
        _identity(target) if _same_inode else _entry(target)  # what "the same file" means here
    if key is not None and "-" in sources and _same(_STDIN_PATH, key):
        raise UsageError(f"{option} {path} is standard input: the run would read it and then replace it with its "
                         "results; give another name")
    for source in (s for s in sources if s != "-"):
        how = _read_through(str(path), target, exists, source, key)
        if how is not None and exists:
            raise UsageError(f"{option} {path} is {how}: the run would read it and then replace it with its "
                             "results; give another name")
        if how is not None:
            log.warning("%s %s is %s: a later run over the same inputs reads it as text",
                        option, path, how.replace("also an input", "an input"))
    if not exists:
        return
    for item in (str(s) for s in side if s is not None and str(s) != "-"):
        real = os.path.realpath(item)
        how = "is" if real == target or (key is not None and _same(item, key)) else "lies in" \
            if _inside(target, real) else "holds" if _inside(real, target) else None
        if how is not None:
            raise UsageError(f"{option} {path} {how} {item}, which the run reads: it would be replaced with the "
                             "results; give another name")


_STDIN_PATH = "/proc/self/fd/0"


def check_distinct_outputs(first: tuple, second: tuple) -> None:
    """Refuse two outputs of one run, ``(option, path)`` each, that land in one place.

    Both on standard output (None or ``-``) would interleave two tables; two
    names of one file (the same path, through links or not) would leave only
    the one written last; a file that is also what standard output was
    redirected to (``--save-dict d.txt > d.txt``) would leave the table in the
    replaced file, which no name reaches.  Two hard links are two entries: each
    output replaces its own.
    """
    (name1, path1), (name2, path2) = first, second
    if _is_stdout(path1) and _is_stdout(path2):
        raise UsageError(f"{name1} and {name2} both write to standard output; give one of them a file")
    if _is_stdout(path1) or _is_stdout(path2):
        fd = _stdout_descriptor()
        path = str(path2 if _is_stdout(path1) else path1)
        named = name2 if _is_stdout(path1) else name1
        try:
            st = None if fd is None else os.fstat(fd)
        except OSError:
            return
        if st is not None and stat.S_ISREG(st.st_mode) and _identity(path) == (st.st_dev, st.st_ino):
            raise UsageError(f"{named} {path} is also where standard output goes; write them to two files")
        return
    path1, path2 = str(path1), str(path2)
    entry = _entry(path1)
    if os.path.realpath(path1) == os.path.realpath(path2) or (entry is not None and entry == _entry(path2)):
        raise UsageError(f"{name1} and {name2} name one file, {path2}: the second would replace the first; "
                         "give two names")


def _stdout_descriptor() -> Optional[int]:
    """The descriptor behind ``sys.stdout`` (what the CLI writes to; not always 1 in a process that
    redirected it), or None when it has none (a StringIO, a notebook)."""
    try:
        return sys.stdout.fileno()
    except (AttributeError, ValueError, OSError, io.UnsupportedOperation):
        return None


def _check_descriptor(fd: int, name: str, sources: list, side: Iterable[Optional[str]]) -> None:
    """:func:`check_not_an_input` for an output written to descriptor ``fd``: refused when the
    descriptor is a regular file that the run reads, whatever name reaches it (``textkit embed
    e.txt >> e.txt`` would read its own output without end; ``cat`` refuses it the same way).
    The shell opened it already, so even an empty one (``>``) is refused: a command that streams
    would read back what it writes."""
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return
    except OSError:
        return
    target = os.path.realpath(f"/proc/self/fd/{fd}")
    if not os.path.isfile(target):  # no /proc here, or the file is gone
        return
    try:
        check_not_an_input(target, sources, name, side, _same_inode=True)
    except UsageError:
        raise UsageError(f"{name} is {target}, which the run reads: it would read what it writes; write to "
                         "another file") from None


def _entry(path: str) -> Optional[tuple]:
    """What names the directory entry ``path`` reaches, through links and bind mounts: the (device,
    inode) of the file and of its folder, and its name there.  Two paths with the same entry are one
    file a rename replaces; a hard link elsewhere is another entry (a rename leaves it as it was)."""
    try:
        st = os.stat(path)
        real = os.path.realpath(path)
        folder = os.stat(os.path.dirname(real))
    except OSError:
        return None
    return (st.st_dev, st.st_ino, folder.st_dev, folder.st_ino, os.path.basename(real))


def _same(path: str, key: tuple) -> bool:
    """Whether ``path`` is the file ``key`` names (an :func:`_identity` or an :func:`_entry`): one stat
    for most files, the entry's only when the inode is the same."""
    if _identity(path) != key[:2]:
        return False
    return len(key) == 2 or _entry(path) == key


def _inside(path: str, folder: str) -> Optional[str]:
    """``path`` relative to ``folder`` when it lies strictly inside it (both real paths), else None."""
    rel = os.path.relpath(path, folder)
    return None if rel in (os.curdir, os.pardir) or rel.startswith(os.pardir + os.sep) else rel


def _read_through(path: str, target: str, exists: bool, source: str, key: Optional[tuple] = None) -> Optional[str]:
    """How a read of corpus ``source`` takes ``target`` (the real path of ``path``), or None if it does not.

    A folder reads the files below it but hidden ones (and binary ones, skipped),
    symbolic links to files included; a pattern reads what it matches, and the
    files below a folder it matches.  An existing output is checked against
    what the read would open (:func:`_folder_takes`: one listing, no file
    opened but the output); one still to be written, by the rules alone.
    ``key`` says which file an existing output is (:func:`_same`); None for a folder.
    """
    if os.path.isdir(source):
        real = os.path.realpath(source)
        if exists and os.path.isdir(target) and _inside(real, target):
            return f"holding the input folder {source}"
        if exists:
            return f"inside the input folder {source}" if _folder_takes(source, target, key) else None
        rel = _inside(target, real)
        if rel is None or any(part.startswith(".") for part in rel.split(os.sep)) or _binary_name(path):
            return None
        return f"inside the input folder {source}"
    if os.path.exists(source):  # a file: one stat against an existing output file
        if key is not None and _same(source, key):
            return "also an input"
        if exists and key is None and os.path.isdir(target) and _inside(os.path.realpath(source), target):
            return f"holding the input {source}"
        return None
    if not set("*?[") & set(source):
        return None
    if not exists:
        return f"matched by the input pattern {source}" if _matches_pattern(path, source) else None
    import glob

    from .corpus import walked_over

    walked: set = set()  # real folders listed already: ** matches every folder below the first
    is_dir = os.path.isdir(target)
    for match in glob.glob(source, recursive=True):
        if os.path.isdir(match):
            found = os.path.realpath(match)
            if walked_over(found, walked):
                continue
            walked.add(found)
            if _folder_takes(match, target, key):
                return f"matched by the input pattern {source}"
        elif is_dir and os.path.isfile(match) and _inside(os.path.realpath(match), target):
            return f"matched by the input pattern {source}"
        elif key is not None and _same(match, key):
            return f"matched by the input pattern {source}"
    return None


def _identity(path: str) -> Optional[tuple]:
    """(device, inode) of the file ``path`` names, through links; None when there is none."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino)


def _folder_takes(folder: str, target: str, key: Optional[tuple] = None) -> bool:
    """Whether reading ``folder`` opens the file ``target`` (a real path; ``key`` says which file it is,
    see :func:`_same`) as text, or, when ``target`` is a folder, files inside it: a regular file below
    it reached without hidden names, directly or through a symbolic link (or a bind mount), and not
    binary (the read skips those).  Lists the folder once; opens only the files that are ``target`` or
    lie in it."""
    from .corpus import folder_files, looks_binary

    is_dir = os.path.isdir(target)
    if not is_dir and key is None:
        key = _entry(target)
    real_folders: dict = {}  # folder as listed -> its real path
    for full in folder_files(folder):  # the files the read takes: regular, no hidden name on the way
        if is_dir:
            folder_of = os.path.dirname(full)
            if folder_of not in real_folders:
                real_folders[folder_of] = os.path.realpath(folder_of)
            real = os.path.realpath(full) if os.path.islink(full) else \
                os.path.join(real_folders[folder_of], os.path.basename(full))
            hit = _inside(real, target) is not None
        else:
            hit = key is not None and _same(full, key)
        if hit and not looks_binary(full):  # binary files the read skips
            return True
    return False


def _binary_name(path: str) -> bool:
    """An output written as binary (a numpy array or archive): reading a folder skips it."""
    return path.lower().endswith((".npy", ".npz"))


def _matches_pattern(path: str, pattern: str) -> bool:
    """Whether a read of ``glob.glob(pattern, recursive=True)`` would take ``path`` once it exists: a name
    it matches, or one below a folder it matches.  ``*``, ``?`` and ``**`` match no leading dot (nor does
    reading a folder), and ``**`` matches any number of folders, none included.  Paths are compared as
    written (made absolute), not through symbolic links."""
    import fnmatch

    names, parts = os.path.abspath(path).split(os.sep), os.path.abspath(pattern).split(os.sep)

    def visible(rest) -> bool:
        return not any(name.startswith(".") for name in rest)

    def match(i: int, j: int) -> bool:  # names[i:] against parts[j:]
        if j == len(parts):  # matched whole, or a folder it matched holds the rest
            return visible(names[i:]) and (i == len(names) or not _binary_name(path))
        if parts[j] == "**":
            return any(match(k, j + 1) for k in range(i, len(names) + 1) if visible(names[i:k]))
        if i == len(names):
            return False
        name, part = names[i], parts[j]
        return fnmatch.fnmatchcase(name, part) and not (name.startswith(".") and not part.startswith(".")) \
            and match(i + 1, j + 1)

    return match(0, 0)


def check_output_dir(path: str, replaceable: Optional[Callable[[str], bool]] = None) -> None:
    """Raise before any work if ``path`` cannot become an output directory.

    It can when its folder exists and it is absent, an empty directory, or a
    directory that ``replaceable`` accepts (e.g. an older store, replaced whole).
    Any other directory is the user's and is never deleted; a file is not replaced
    by a directory.
    """
    _check_folder(path, allow_dir=True)
    if os.path.isdir(path):
        if os.listdir(path) and not (replaceable is not None and replaceable(path)):
            raise TextkitError(f"{path}: is a folder holding other files; "
                               "give a new name or an empty folder")
    elif os.path.lexists(path):
        raise TextkitError(f"{path}: exists and is not a folder; give a new name")


def is_special_file(path: str) -> bool:
    """True for an existing path that is neither a regular file nor a directory, and for a
    name of one of this process's descriptors (:func:`descriptor_of`)."""
    if descriptor_of(path) is not None:
        return True
    return os.path.exists(path) and not (os.path.isfile(path) or os.path.isdir(path))


_DESCRIPTOR_PATH = re.compile(r"/dev/(?:(stdout)|(stderr)|fd/(\d+))|/proc/(self|\d+)/fd/(\d+)")


def descriptor_of(path) -> Optional[int]:
    """This process's file descriptor that ``path`` names (``/dev/stdout``, ``/dev/stderr``,
    ``/dev/fd/N``, ``/proc/self/fd/N``, ``/proc/PID/fd/N`` with this PID), else None."""
    match = _DESCRIPTOR_PATH.fullmatch(os.path.normpath(str(path)))
    if match is None:
        return None
    stdout, stderr, fd, pid, proc_fd = match.groups()
    if stdout or stderr:
        return 1 if stdout else 2
    if fd is not None:
        return int(fd)
    if pid != "self" and int(pid) != os.getpid():
        return None
    return int(proc_fd)


def open_in_place(path: str, mode: str = "w") -> IO:
    """A special file opened for writing where it is (a descriptor's name: through a copy of
    that descriptor, which keeps its position and append mode)."""
    text = {} if "b" in mode else {"encoding": "utf-8", "errors": OUTPUT_ERRORS, "newline": "\n"}
    fd = descriptor_of(path)
    if fd is None:
        return open(path, mode, **text)
    for stream in (sys.stdout, sys.stderr):  # what Python holds for the descriptor goes first
        if stream is not None and _fileno(stream) == fd:
            stream.flush()
    return os.fdopen(os.dup(fd), mode, **text)


def _fileno(stream) -> Optional[int]:
    try:
        return stream.fileno()
    except (AttributeError, ValueError, OSError, io.UnsupportedOperation):
        return None


@contextmanager
def atomic_path(path: str, suffix: str = "",
                replaceable: Optional[Callable[[str], bool]] = None) -> Iterator[str]:
    """A temporary path beside ``path``; renamed to ``path`` when the block succeeds.

    For binary artefacts (``.npy``, ``.npz``) and whole directories: the caller
    writes to the yielded path (a file, or a directory it creates), then the
    rename makes it appear at once. On an error the temporary is removed.
    ``suffix`` keeps extensions that writers insist on (``np.save`` adds ``.npy``).
    A directory written there replaces only what :func:`check_output_dir` allows
    (nothing, an empty directory, one that ``replaceable`` accepts).
    A special file (``/dev/null``, a pipe) is yielded itself and written in place.
    """
    if descriptor_of(path) is not None:  # written aside, then copied through the descriptor
        with tempfile.TemporaryDirectory(prefix="textkit-") as aside:
            tmp = os.path.join(aside, "output" + suffix)
            with _named_errors(f"{aside} (where {path} is written first)"):
                yield tmp
            if os.path.isdir(tmp):
                raise TextkitError(f"{path}: a folder cannot be written to a descriptor")
            with open(tmp, "rb") as src, _named_errors(path), open_in_place(path, "wb") as dst:
                shutil.copyfileobj(src, dst)
        return
    given = path
    path = _through_link(path)  # -o through a symbolic link updates the file it points to
    if os.path.islink(path):  # a link to a folder: a folder artefact (a store) replaces that folder
        path = os.path.realpath(path)
    if is_special_file(path):
        with _named_errors(path):
            yield path
        return
    # a directory artefact may replace one; no probe, the temporary made next is one
    folder = _check_folder(path, allow_dir=True, probe=False)
    try:
        fd, tmp = tempfile.mkstemp(prefix=_temporary_prefix(os.path.basename(path)), suffix=f".tmp{suffix}",
                                   dir=folder)
    except OSError as exc:  # named by the user's path, not the temporary's
        raise TextkitError(f"{path}: cannot write ({exc.strerror or exc})") from None
    os.close(fd)
    os.unlink(tmp)
    try:
        with _named_errors(path):  # a full disk while the caller writes: named by the user's path
            yield tmp
        if os.path.isdir(tmp):
            check_output_dir(path, replaceable)  # again: the destination may have changed meanwhile
            if os.path.isdir(path):
                old = tmp + ".old"
                os.rename(path, old)
                os.rename(tmp, path)
                _remove(old)
            else:
                os.replace(tmp, path)
        else:
            if os.path.isdir(path):  # checked here too: the folder may have appeared while we wrote
                raise TextkitError(f"{given}: is a directory, expected a file name")
            os.chmod(tmp, _default_mode(path))
            try:
                os.replace(tmp, path)
            except OSError as exc:  # named by the user's path, not the temporary's
                raise TextkitError(f"{path}: cannot write ({exc.strerror or exc})") from None
    except BaseException:
        _remove(tmp)
        raise


def _remove(path: str) -> None:
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=True)
    elif os.path.lexists(path):
        os.unlink(path)


# errors of a write that say nothing of which file: named by :func:`_named_errors`
_WRITE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO, errno.EROFS}


@contextmanager
def _named_errors(name: str) -> Iterator[None]:
    """A failed write (disk full, quota, I/O error) as an error naming ``name``."""
    try:
        yield
    except OSError as exc:
        if exc.errno not in _WRITE_ERRNOS or exc.filename is not None:
            raise
        raise TextkitError(f"{name}: cannot write ({exc.strerror})") from None


@contextmanager
def open_output(path: Optional[str]) -> Iterator[IO[str]]:
    """A text handle for the results: stdout for ``None``/``-``, else an atomic file.

    While the results go to a terminal, no progress line is drawn there (the two
    would share lines).
    """
    if _is_stdout(path) or descriptor_of(path) == 1:
        if sys.stdout is None:  # started with standard output closed (`>&-`)
            raise TextkitError("standard output is closed; give -o FILE")
        if _isatty(sys.stdout):
            Progress.hold()
        with _named_errors("standard output"):
            yield sys.stdout
            sys.stdout.flush()
        return
    if is_special_file(str(path)):
        with _named_errors(str(path)), open_in_place(str(path)) as fh:
            if _isatty(fh):
                Progress.hold()
            yield fh
        return
    _check_folder(_through_link(str(path)), probe=False)  # a directory is refused here (atomic_path takes one)
    with binary_output(str(path)) as stream:
        fh = io.TextIOWrapper(stream, encoding="utf-8", errors=OUTPUT_ERRORS, newline="\n")
        try:
            yield fh
            fh.detach()  # flushes; the layers below are closed by binary_output, not by this one
        except BaseException:
            _let_go(fh, None)
            raise


@contextmanager
def binary_output(path: str) -> Iterator[IO[bytes]]:
    """A binary handle for an output file: written atomically (:func:`atomic_path`), compressed
    when the name of the file written ends in .gz, .bz2 or .xz, a failed write an error naming
    ``path``."""
    with atomic_path(str(path)) as tmp, _named_errors(str(path)), open(tmp, "wb") as raw:
        packed = compressor_for(_through_link(str(path)), raw)
        try:
            yield packed or raw
            if packed is not None:
                packed.close()  # writes its trailer to the file
            raw.flush()
            if stat.S_ISREG(os.fstat(raw.fileno()).st_mode):  # not /dev/null or a pipe: no fsync there
                os.fsync(raw.fileno())
        except BaseException:
            _let_go(None, packed)  # the temporary file is removed by atomic_path
            raise


def _let_go(fh: Optional[io.TextIOWrapper], packed: Optional[IO[bytes]]) -> None:
    """After a failed write: detach the text layer and close the compressor without raising (their
    flush fails again after a full disk), so that neither writes later, when collected."""
    for layer, release in ((fh, "detach"), (packed, "close")):
        if layer is None:
            continue
        try:
            getattr(layer, release)()
        except (OSError, ValueError):
            pass


def _isatty(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError, OSError):
        return False


def json_string(text: str) -> str:
    """``text`` as a JSON string literal, non-ASCII kept as is; a lone surrogate (a byte of a file
    name that is not UTF-8, as Python decodes it: "\\udcff") as its \\u escape, which JSON allows
    and reads back as the same string (written raw it cannot be encoded at all)."""
    return json.dumps(text, ensure_ascii=False).encode("utf-8", "backslashreplace").decode("utf-8")


def format_value(value: Any) -> str:
    """Text of one field: floats with up to 6 significant digits, booleans as JSON writes them
    (true, false: one spelling in every format), nothing for None (JSON's null), the rest with str()."""
    if value is None:
        return ""
    if isinstance(value, bool) or getattr(getattr(value, "dtype", None), "kind", "") == "b":  # numpy's too
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value + 0.0:.6g}"  # + 0.0 turns -0.0 into 0.0: no "-0" for a zero score
    return str(value)


def _json_value(value: Any) -> Any:
    """JSON has no Infinity or NaN: such numbers become null; numpy scalars become Python ones."""
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_rows(
    handle: IO[str],
    rows: Iterable[Sequence[Any]],
    columns: Sequence[str],
    fmt: str = "tsv",
    header: bool = False,
) -> int:
    """Write ``rows`` (sequences matching ``columns``) to ``handle``; returns the row count.

    TSV and CSV fields pass through :func:`format_value`; JSON Lines keeps
    numbers as numbers (infinite or NaN ones as null), one object per line
    keyed by ``columns``.
    """
    n = 0
    if fmt == "tsv":
        if header:
            handle.write("\t".join(columns) + "\n")
        for row in rows:
            handle.write("\t".join(format_value(v) for v in row) + "\n")
            n += 1
    elif fmt == "csv":
        writer = csv.writer(handle, lineterminator="\n")
        # csv quotes a field holding a character of its line terminator; with "\n" a lone
        # "\r" would go out bare and split the row when read back: such rows go through
        # a writer ending lines with "\r\n", whose "\r\n" is then put back to "\n"
        spare = io.StringIO()
        careful = csv.writer(spare, lineterminator="\r\n")
        writer.writerow(columns)
        for row in rows:
            fields = [format_value(v) for v in row]
            if any("\r" in field for field in fields):
                spare.seek(0)
                spare.truncate()
                careful.writerow(fields)
                handle.write(spare.getvalue()[:-2] + "\n")
            else:
                writer.writerow(fields)
            n += 1
    elif fmt == "jsonl":
        for row in rows:
            record = {c: _json_value(v) for c, v in zip(columns, row)}
            handle.write(json.dumps(record, ensure_ascii=False, allow_nan=False) + "\n")
            n += 1
    else:
        raise TextkitError(f"unknown output format {fmt!r}; choose one of {', '.join(FORMATS)}")
    return n


class Progress:
    """Bytes and lines read with the rate, redrawn on stderr at most 5 times a second.

    Silent unless ``enabled`` (the CLI enables it only when stderr is a terminal).
    A note written meanwhile first erases the line (:meth:`erase`), so the two never
    share a line; the next redraw puts it back.  Drawn with carriage returns and
    spaces over the previous text only, no escape codes: a terminal without them
    (``TERM=dumb``, an editor's shell) shows it as cleanly as any other.
    """

    _on_screen: Optional["Progress"] = None  # the progress whose line is drawn now
    _held = False  # results are going to the terminal: no more progress lines

    @classmethod
    def hold(cls) -> None:
        """Erase the progress line and draw none from now on (results go to the terminal)."""
        cls.erase()
        cls._held = True

    @classmethod
    def erase(cls) -> None:
        """Erase the progress line on stderr, if one is drawn (before another line is written)."""
        shown = cls._on_screen
        if shown is not None:
            shown.close()

    def __init__(self, enabled: bool, label: str = "read"):
        Progress._held = False  # a new command: its results have not started yet
        self.enabled = enabled
        self.label = label
        self.start = time.monotonic()
        self._last = 0.0
        self._drawn = 0  # characters of the line on screen (its text is ASCII: one column each)

    def __call__(self, nbytes: int, nlines: int) -> None:
        if not self.enabled or Progress._held:
            return
        now = time.monotonic()
        if now - self._last < 0.2:
            return
        self._last = now
        rate = nbytes / max(now - self.start, 1e-9) / 1e6
        line = f"{self.label} {nbytes / 1e6:,.1f} MB, {nlines:,} line{'s' * (nlines != 1)}, {rate:,.1f} MB/s"
        sys.stderr.write(f"\r{line:<{self._drawn}}")  # padded over a longer previous line
        sys.stderr.flush()
        self._drawn = len(line)
        Progress._on_screen = self

    def close(self) -> None:
        if self._drawn:
            sys.stderr.write(f"\r{'':{self._drawn}}\r")
            sys.stderr.flush()
            self._drawn = 0
        if Progress._on_screen is self:
            Progress._on_screen = None
