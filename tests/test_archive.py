"""Reading .npz archives: every array read whole, the file closed whatever it holds."""

import gc
import warnings
import zipfile

import numpy as np
import pytest

from textkit.archive import SingleArrayFile, read_npz


def _no_file_left_open(call):
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        call()
        gc.collect()
    return [w for w in seen if issubclass(w.category, ResourceWarning)] == []


def test_arrays_are_read_whole_and_the_file_closed(tmp_path):
    path = tmp_path / "a.npz"
    np.savez(path, x=np.arange(4), y=np.eye(2))
    data = read_npz(path)
    assert sorted(data) == ["x", "y"] and data["x"].tolist() == [0, 1, 2, 3] and data["y"].shape == (2, 2)
    path.unlink()  # nothing is read lazily from the file any more
    assert data["y"].sum() == 2


def test_a_cut_archive_raises_and_leaves_no_file_open(tmp_path):
    good = tmp_path / "good.npz"
    np.savez(good, x=np.arange(1000))
    cut = tmp_path / "cut.npz"
    cut.write_bytes(good.read_bytes()[:300])

    def load_cut():
        with pytest.raises((OSError, ValueError, EOFError, zipfile.BadZipFile)):
            read_npz(cut)

    assert _no_file_left_open(load_cut)


def test_a_single_array_file_is_named_as_such(tmp_path):
    path = tmp_path / "one.npy"
    np.save(path, np.arange(3))

    def load_one():
        with pytest.raises(SingleArrayFile, match="a single array"):
            read_npz(path)

    assert _no_file_left_open(load_one)
