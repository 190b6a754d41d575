"""Operations on (H, W) masks shared by the workspace and the planner."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def row_extremes(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows of (H, W) bool ``mask`` holding an on pixel, and the first and last on column of each."""
    rows = np.flatnonzero(mask.any(axis=1))
    first = mask[rows].argmax(axis=1)
    last = mask.shape[1] - 1 - mask[rows, ::-1].argmax(axis=1)
    return rows, first, last


def blocks(image: np.ndarray, size: int, reduce: Callable = np.any) -> np.ndarray:
    """(h, w): ``reduce`` (any: the blocks holding an on pixel) over the blocks of ``size`` pixels square
    of (H, W) ``image`` (zero beyond its edge)."""
    h, w = image.shape
    bh, bw = -(-h // size), -(-w // size)
    padded = np.zeros((bh * size, bw * size), dtype=image.dtype)
    padded[:h, :w] = image
    return reduce(padded.reshape(bh, size, bw, size), axis=(1, 3))


def spread(values: np.ndarray, size: int, shape: tuple[int, int]) -> np.ndarray:
    """(H, W) = ``shape``: each block's value of ``values`` (see blocks) on its ``size`` x ``size`` pixels."""
    return np.repeat(np.repeat(values, size, axis=0), size, axis=1)[: shape[0], : shape[1]]


def erode(mask: np.ndarray, square: bool) -> np.ndarray:
    """One-pixel binary erosion of (H, W) bool ``mask`` by a cross or a 3x3 square; outside is on."""
    out = mask.copy()
    out[1:] &= mask[:-1]
    out[:-1] &= mask[1:]
    if square:
        mask = out.copy()
    out[:, 1:] &= mask[:, :-1]
    out[:, :-1] &= mask[:, 1:]
    return out
