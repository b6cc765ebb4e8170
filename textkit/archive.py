"""numpy files read and written safely: ``.npz`` archives (whitening parameters, search
indexes) read whole, ``.npy`` arrays written with every error seen.

``np.load`` leaves the file open when the archive turns out to be cut or foreign,
and gives a single array, not an archive, for a ``.npy`` file: :func:`read_npz`
opens the file itself, so it is closed whatever happens, and says which case it met.

``np.save`` to a path writes the data through C stdio, whose failure to write the
last few kilobytes (a full disk, ``ulimit -f``) it does not report: the file is
cut short without an error.  :func:`write_npy` writes through Python's own file
object, whose flush and close raise.
"""

from __future__ import annotations

import os

import numpy as np


class SingleArrayFile(ValueError):
    """The file holds one ``.npy`` array, not an ``.npz`` archive."""


def read_npz(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Every array of the ``.npz`` archive at ``path``, read into memory (no pickles).

    Raises :class:`SingleArrayFile` for a ``.npy`` file, and what ``np.load`` raises
    for a cut or foreign file (OSError, ValueError, EOFError, zipfile.BadZipFile).
    """
    with open(path, "rb") as fh:
        loaded = np.load(fh, allow_pickle=False)
        if not isinstance(loaded, np.lib.npyio.NpzFile):
            raise SingleArrayFile("a single array, not an .npz archive")
        with loaded as npz:
            return {key: npz[key] for key in npz.files}


def write_npy(path: str | os.PathLike, array) -> None:
    """Write ``array`` as an ``.npy`` file (format 1.0, no pickles); OSError if any of it could
    not be written."""
    array = np.ascontiguousarray(array)
    with open(path, "wb") as fh:
        np.lib.format.write_array_header_1_0(fh, np.lib.format.header_data_from_array_1_0(array))
        fh.write(memoryview(array).cast("B"))
