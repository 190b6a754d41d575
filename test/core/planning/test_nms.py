"""Top-k with non-maximum suppression."""

import numpy as np

from dexnet_core.planning.nms import top_k_nms


def test_top_k_sorted_and_separated():
    rng = np.random.default_rng(1)
    n = 2000
    u, v = rng.uniform(0, 200, n), rng.uniform(0, 100, n)
    q = rng.random(n)
    idx = top_k_nms(q, u, v, k=10, radius_px=25.0)
    assert len(idx) == 10
    assert idx[0] == np.argmax(q)
    assert np.all(np.diff(q[idx]) <= 0)
    d = np.hypot(u[idx, None] - u[None, idx], v[idx, None] - v[None, idx])
    assert d[~np.eye(10, dtype=bool)].min() >= 25.0


def test_nms_suppresses_neighbours_and_respects_min_quality():
    u = np.array([0.0, 3.0, 50.0, 100.0, 4.0])
    v = np.zeros(5)
    q = np.array([0.9, 0.95, 0.5, 0.2, np.nan])
    assert top_k_nms(q, u, v, k=5, radius_px=10.0).tolist() == [1, 2, 3]
    assert top_k_nms(q, u, v, k=5, radius_px=10.0, min_quality=0.3).tolist() == [1, 2]
    assert top_k_nms(q, u, v, k=5, radius_px=0.0).tolist() == [1, 0, 2, 3]
    assert top_k_nms(q, u, v, k=1, radius_px=0.0).tolist() == [1]
    assert top_k_nms(q, u, v, k=3, radius_px=10.0, min_quality=0.99).tolist() == []
    assert top_k_nms(q[:0], u[:0], v[:0], k=3, radius_px=10.0).tolist() == []


def test_rank_orders_the_picks_and_quality_still_gates_them():
    u, v = np.array([0.0, 50.0, 100.0]), np.zeros(3)
    q = np.array([0.9, 0.88, 0.2])
    rank = q - np.array([0.05, 0.0, 0.0])
    assert top_k_nms(q, u, v, k=3, radius_px=10.0, rank=rank).tolist() == [1, 0, 2]
    assert top_k_nms(q, u, v, k=3, radius_px=10.0, min_quality=0.5, rank=q + [0, 0, 1]).tolist() == [0, 1]
