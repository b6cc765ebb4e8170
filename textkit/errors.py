"""Typed errors of the textkit library.

Every error a user can cause is a :class:`TextkitError`; its message is one line
that names the file (and line or record where there is one) and, where it helps,
what to do. The CLI turns it into ``textkit: error: <message>`` and exit status
``exit_code``; the library itself never prints or exits.
"""


def preview(text: str, width: int) -> str:
    """``repr`` of a value quoted in an error line, cut to ``width`` characters (binary input has long ones)."""
    return repr(text if len(text) <= width else text[:width] + "...")


_CONTROL_ESCAPES = {code: f"\\x{code:02x}" for code in (*range(0x20), 0x7F) if code != 0x09}
_CONTROL_ESCAPES.update({0x0A: "\\n", 0x0D: "\\r"})


def one_line(message: str) -> str:
    """``message`` as one line of stderr: control characters (a newline in a file name) escaped
    as ``repr`` shows them, so that each problem stays one line for a script reading them."""
    return message.translate(_CONTROL_ESCAPES)


def in_file(source: str, message: str) -> str:
    """``message`` placed in the file ``source`` (``-``: standard input), as readers name places:
    ``source:N: ...`` for a message that begins with ``line N`` (from code that knew the line,
    not the file), else ``source: message``.

    >>> in_file("pairs.tsv", "line 3, text 2: 1 distinct token(s) not in the vectors")
    'pairs.tsv:3: text 2: 1 distinct token(s) not in the vectors'
    """
    import re

    name = "<stdin>" if source == "-" else source
    found = re.match(r"line (\d+)(?:, |: |$)", message)
    if found is None:
        return f"{name}: {message}"
    return f"{name}:{found.group(1)}: {message[found.end():]}".rstrip(": ")


def whole_number(value, name: str) -> int:
    """``value`` as an int; TypeError naming ``name`` for a float, a bool, a string or anything else
    (a caller's mistake in Python, told at the call, not deep inside the work)."""
    import numbers

    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be a whole number, not {value!r}")
    return int(value)


def real_number(value, name: str) -> float:
    """``value`` as a float; TypeError naming ``name`` for a bool, a string or anything not a real number."""
    import numbers

    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, not {value!r}")
    return float(value)


def numpy_file_problem(exc: BaseException) -> str:
    """What ``np.load`` found wrong with a file, in words for the user.

    With ``allow_pickle=False`` numpy answers a file that is neither .npy nor
    .npz (text, a foreign format) with advice to load it as a pickle: unsafe,
    and not what happened.
    """
    text = str(exc)
    if "pickle" in text:
        return "not a numpy .npy/.npz file"
    return text or type(exc).__name__


class TextkitError(Exception):
    """A failure caused by input or settings; exit status 1 at the CLI."""

    exit_code = 1


class UsageError(TextkitError):
    """A parameter value that cannot work (exit status 2, like a bad option)."""

    exit_code = 2


class CorpusError(TextkitError):
    """An input corpus that cannot be read (missing, truncated, binary, undecodable in strict mode)."""


class VectorsError(TextkitError):
    """A malformed word-vectors file or vector store."""


class DataError(TextkitError):
    """A bad row in a pairs, count or parameters file."""


class WorkerError(TextkitError):
    """An unexpected exception raised inside a pool worker (its type and message are kept)."""
