"""`ros2 run dexnet_ros train`: the installed executable trains like `dexnet train` and ignores ROS args."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from dexnet_core.data.shards import write_shards
from dexnet_core.models.checkpoint import load_checkpoint

pytestmark = pytest.mark.ros


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """A 1-epoch config over 256 learnable crops."""
    n = 256
    rng = np.random.default_rng(0)
    pos = rng.random(n) < 0.4
    ims = 0.7 + 0.001 * rng.standard_normal((n, 32, 32))
    ims[pos, 11:21, 11:21] -= 0.03
    write_shards(tmp_path / "ds", {
        "depth_ims_tf_table": ims[..., None].astype(np.float32), "hand_poses": np.zeros((n, 7), np.float32),
        "robust_ferrari_canny": np.where(pos, 0.004, 0.0005).astype(np.float32),
        "object_labels": (np.arange(n) // 32).astype(np.int32)}, shard_size=100)
    cfg = {
        "name": "ros_tiny", "model": "gqcnn_small", "model_kwargs": {"channels": 8, "fc_size": 32},
        "dataset": "dexnet2",
        "training": {"dataset_path": str(tmp_path / "ds"), "batch_size": 32, "num_epochs": 1,
                     "GT_threshold": 0.2, "num_workers": 0},
        "outputs": {"save_directory": str(tmp_path / "runs"), "tensorboard": False},
    }
    path = tmp_path / "train.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def run_train(*args: str) -> subprocess.CompletedProcess:
    from ament_index_python.packages import get_package_prefix

    os.environ.setdefault("AMENT_PREFIX_PATH", sys.prefix)
    exe = Path(get_package_prefix("dexnet_ros")) / "lib" / "dexnet_ros" / "train"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.run([str(exe), *args], capture_output=True, text=True, timeout=300, env=env)


def test_train_executable_runs_the_dexnet_trainer(config):
    res = run_train("--config", str(config), "--device", "cpu", "--ros-args", "-r", "__node:=trainer")
    assert res.returncode == 0, res.stderr[-2000:]
    summary = json.loads(res.stdout.strip().splitlines()[-1])
    run_dir = Path(summary["run_dir"])
    assert summary["epoch"] == 1 and run_dir.name.startswith("ros_tiny")
    gqm = load_checkpoint(next(run_dir.glob("*.pt")))
    assert gqm.arch == "gqcnn_small" and gqm.gripper == "parallel_jaw"


def test_train_executable_reports_a_bad_config_in_one_line(tmp_path):
    res = run_train("--config", str(tmp_path / "missing.yaml"))
    assert res.returncode == 1
    missing = tmp_path / "missing.yaml"
    assert res.stderr.strip().splitlines() == [f"dexnet train: error: config file {missing} not found"]
