"""Top-k selection with greedy non-maximum suppression over grasp centres."""

from __future__ import annotations

import numpy as np


def top_k_nms(
    quality: np.ndarray, u: np.ndarray, v: np.ndarray, k: int, radius_px: float, min_quality: float = 0.0,
    rank: np.ndarray | None = None,
) -> np.ndarray:
    """Indices of at most ``k`` candidates, best first, no two centres closer than ``radius_px``.

    quality, u, v : (n,) float; candidates below ``min_quality`` are never chosen. Greedy: take the best
    remaining candidate, drop every candidate within the radius of it (any angle or depth), repeat.
    ``rank`` (n,): what "best" goes by, when not the quality itself.
    """
    quality = np.asarray(quality, dtype=np.float64)
    alive = np.isfinite(quality) & (quality >= min_quality)
    q = np.where(alive, quality if rank is None else np.asarray(rank, dtype=np.float64), -np.inf)
    u = np.asarray(u, dtype=np.float64)
    v = np.asarray(v, dtype=np.float64)
    r2 = float(radius_px) ** 2
    chosen: list[int] = []
    while len(chosen) < min(k, len(q)):
        best = int(np.argmax(q))
        if not np.isfinite(q[best]):
            break
        chosen.append(best)
        near = (u - u[best]) ** 2 + (v - v[best]) ** 2 < max(r2, 1e-12)
        q[near] = -np.inf
        q[best] = -np.inf
    return np.asarray(chosen, dtype=np.int64)
