"""A tiny learnable Dex-Net-format dataset and a training config for it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from dexnet_core.data.shards import write_shards


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    """800 crops: positives (40%) have a raised centre block; 8 objects of 100 datapoints."""
    n = 800
    rng = np.random.default_rng(0)
    pos = rng.random(n) < 0.4
    ims = 0.7 + 0.001 * rng.standard_normal((n, 32, 32))
    ims[pos, 11:21, 11:21] -= 0.03
    poses = np.zeros((n, 7), np.float32)
    poses[:, 2] = 0.68 + 0.01 * rng.random(n)
    root = tmp_path / "ds"
    write_shards(root, {"depth_ims_tf_table": ims[..., None].astype(np.float32), "hand_poses": poses,
                        "robust_ferrari_canny": np.where(pos, 0.004, 0.0005).astype(np.float32),
                        "object_labels": (np.arange(n) // 100).astype(np.int32)}, shard_size=300)
    return root


@pytest.fixture
def config_dict(dataset: Path, tmp_path: Path) -> dict:
    """Raw config (reference keys plus ours) training a 8-channel gqcnn_small on ``dataset``."""
    return {
        "name": "tiny",
        "model": "gqcnn_small",
        "model_kwargs": {"channels": 8, "fc_size": 32},
        "dataset": "dexnet2",
        "optimizer": {"name": "adam", "learning_rate": 0.002, "scheduler_gamma": 0.9, "weight_decay": 0.0},
        "training": {"dataset_path": str(dataset), "batch_size": 32, "num_epochs": 2, "GT_threshold": 0.2,
                     "num_workers": 0, "checkpoint_every_steps": 10},
        "outputs": {"save_directory": str(tmp_path / "runs"), "training_print_every": 5,
                    "tensorboard": False},
    }
