"""Reading numpy ``.npz`` archives (whitening parameters, search indexes) whole and safely.

``np.load`` leaves the file open when the archive turns out to be cut or foreign,
and gives a single array, not an archive, for a ``.npy`` file: :func:`read_npz`
opens the file itself, so it is closed whatever happens, and says which case it met.
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
