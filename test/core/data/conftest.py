"""Tiny Dex-Net-format datasets written into tmp_path."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dexnet_core.data.shards import write_shards


def dexnet_arrays(n: int, seed: int = 0, num_objects: int = 10) -> dict[str, np.ndarray]:
    """Learnable crops: positives have a raised 10x10 block at the centre, negatives a flat table."""
    rng = np.random.default_rng(seed)
    pos = rng.random(n) < 0.4
    ims = 0.7 + 0.001 * rng.standard_normal((n, 32, 32)).astype(np.float32)
    ims[pos, 11:21, 11:21] -= 0.03
    poses = np.zeros((n, 7), np.float32)
    poses[:, 2] = 0.68 + 0.01 * rng.random(n)
    return {
        "depth_ims_tf_table": ims[..., None].astype(np.float32),
        "hand_poses": poses,
        "robust_ferrari_canny": np.where(pos, 0.004, 0.0005).astype(np.float32),
        "object_labels": (np.arange(n) * num_objects // n).astype(np.int32),
    }


@pytest.fixture
def make_dataset(tmp_path: Path):
    """Factory: write a dataset of ``n`` datapoints in shards of ``shard_size``; returns (root, arrays)."""

    def make(n: int = 300, shard_size: int = 64, name: str = "ds", drop: tuple[str, ...] = (), **kw):
        arrays = {k: v for k, v in dexnet_arrays(n, **kw).items() if k not in drop}
        root = tmp_path / name
        write_shards(root, arrays, shard_size)
        return root, arrays

    return make
