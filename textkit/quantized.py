"""8-bit rows: a store kept as int8 codes and one float32 scale per row.

Quantization is symmetric and per row. For a row x of dim d:

    s   = max_j |x_j| / 127                      (float32; 0 for a row of zeros)
    q_j = round(x_j / s),  an integer in [-127, 127]
    x̂_j = q_j · s                                (the decoded value, float32)

(for a row whose largest |x_j| is below about 1.5e-36, s falls below float32's
normal range and is rounded coarsely: it is then raised to the next float32 until
round(max_j |x_j| / s) <= 127), so every decoded value is within s/2 of the
original (max_j |x_j| / 254 for every row of a normal size; for a row whose
largest |x_j| is within a rounding of float32's largest value, s is lowered by
one step so that 127 · s stays finite), and a row's
largest component is kept to float32 rounding. The codes take 1 byte per value
(a quarter of float32, half of float16) and the scales 4 bytes per row;
relative to the row's length the error is at most √d / 254, and about
√(d/12) · s / ‖x‖ for uniform rounding errors: on the default store (d = 144)
the median is 0.7% and the largest 1.6%.

:class:`Int8Matrix` is the read-only view a store of this kind is opened as: it
indexes like a 2-d array of rows and hands out decoded float32 rows, so code that
reads ``vectors.matrix[ids]`` or ``vectors.matrix[a:b]`` works on it unchanged.
Only rows that are indexed are decoded; ``np.asarray(matrix)`` decodes it all.
"""

from __future__ import annotations

from typing import Tuple

import numpy as np

LEVELS = 127  # codes run over [-127, 127]: symmetric, so -x is coded as -q
_TINY = np.float64(np.finfo(np.float32).smallest_subnormal)


def quantize_rows(rows: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """(int8 codes, float32 scales) of a 2-d block of finite rows (see the module docstring)."""
    rows = np.asarray(rows, dtype=np.float64)
    if rows.ndim != 2:
        raise ValueError("quantize_rows takes a 2-d block of rows")
    peak = np.abs(rows).max(axis=1) if rows.shape[1] else np.zeros(len(rows))
    scales = (peak / LEVELS).astype(np.float32)
    # A scale below float32's normal range is rounded coarsely (or to 0): raise it to the
    # next float32 until the largest component's code fits, so that no code is clipped.
    short = (peak > 0) & ((scales == 0) | (np.rint(peak / np.maximum(scales, _TINY)) > LEVELS))
    while short.any():
        scales[short] = np.nextafter(scales[short], np.float32(np.inf))
        short &= np.rint(peak / np.maximum(scales, _TINY)) > LEVELS
    # Near float32's largest value, peak / 127 rounded up would decode 127 * s to inf: lower it.
    with np.errstate(over="ignore"):
        huge = np.isinf(np.float32(LEVELS) * scales)
    scales[huge] = np.nextafter(scales[huge], np.float32(0))
    divisor = np.where(scales > 0, scales, 1).astype(np.float64)
    codes = np.clip(np.rint(rows / divisor[:, None]), -LEVELS, LEVELS).astype(np.int8)
    return codes, scales


def decode_rows(codes: np.ndarray, scales: np.ndarray) -> np.ndarray:
    """float32 rows ``codes · scale`` (a row or a block of rows with their scales)."""
    scales = np.asarray(scales, dtype=np.float32)
    out = np.array(codes, dtype=np.float32)  # a new array, scaled in place: one block allocated, not two
    out *= scales[..., None]
    return out


class Int8Matrix:
    """Decoded view of int8 codes (n, dim) and float32 scales (n,); indexed by row.

    ``m[i]`` is row i, ``m[a:b]`` and ``m[ids]`` blocks of rows, each as a new
    float32 array; ``dtype`` is float32, the type of what it hands out.
    """

    ndim = 2
    dtype = np.dtype(np.float32)

    def __init__(self, codes: np.ndarray, scales: np.ndarray):
        if codes.ndim != 2 or codes.dtype != np.int8:
            raise ValueError("codes must be a 2-d int8 array")
        if scales.shape != (codes.shape[0],):
            raise ValueError("one scale per row is needed")
        # plain views of memory maps: indexing them is cheaper than indexing a np.memmap
        self.codes = np.asarray(codes)
        self.scales = np.asarray(scales, dtype=np.float32)

    @property
    def shape(self) -> Tuple[int, int]:
        return tuple(self.codes.shape)  # type: ignore[return-value]

    def __len__(self) -> int:
        return int(self.codes.shape[0])

    def __getitem__(self, rows) -> np.ndarray:
        if isinstance(rows, tuple):
            raise TypeError("an Int8Matrix is indexed by rows only")
        return decode_rows(self.codes[rows], self.scales[rows])

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        out = decode_rows(self.codes, self.scales)
        return out if dtype is None else out.astype(dtype, copy=False)

    def __repr__(self) -> str:
        return f"<Int8Matrix {self.shape[0]} x {self.shape[1]}>"
