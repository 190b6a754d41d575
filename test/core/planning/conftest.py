"""Shared fixtures of the planning tests: tiny real GQ-CNNs and analytic depth scenes."""

import numpy as np
import pytest
import torch

from dexnet_core.camera import CameraIntrinsics
from dexnet_core.models import get_model
from dexnet_core.models.checkpoint import GraspQualityModel, Normalization

# 160x120 camera; with f = 200 px a scene at 0.7 m is resized by (32/96) * (525/200) = 0.875
CAMERA = CameraIntrinsics(200.0, 200.0, 79.5, 59.5, 160, 120)
NORM = Normalization(im_mean=0.7, im_std=0.01, z_mean=0.7, z_std=0.02)


def make_tiny_gqm(gripper: str, uses_depth: bool = False, seed: int = 0, padding: str = "valid"
                  ) -> GraspQualityModel:
    """Randomly initialised gqcnn_small with 4 channels (fast, but every crop scores differently)."""
    torch.manual_seed(seed)
    kwargs = {"channels": 4, "fc_size": 8, "uses_depth": uses_depth, "padding": padding}
    return GraspQualityModel(get_model("gqcnn_small", **kwargs), "gqcnn_small", kwargs, gripper=gripper,
                             norm=NORM)


def make_box_scene(holes: float = 0.0, seed: int = 0) -> np.ndarray:
    """(120, 160) float32 metres: a gently rippled table at 0.7 m with a 5 cm box on it (u 60-99, v 40-79);
    ``holes`` is the fraction of pixels set missing (NaN)."""
    v, u = np.mgrid[0:120, 0:160].astype(np.float64)
    depth = 0.7 + 0.003 * np.sin(u / 7.0) * np.cos(v / 5.0)
    depth[40:80, 60:100] = 0.65 + 0.002 * np.sin((u[40:80, 60:100] + v[40:80, 60:100]) / 4.0)
    if holes:
        depth[np.random.default_rng(seed).random(depth.shape) < holes] = np.nan
    return depth.astype(np.float32)


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """One intra-op thread: the tiny networks gain nothing from more, and a busy 2-core machine loses a
    lot to spinning OpenMP workers."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def quaternion_matrix(q) -> np.ndarray:
    """Rotation matrix (3, 3) of a unit quaternion (x, y, z, w), written out independently of the library."""
    x, y, z, w = q
    return np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
        [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
        [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
    ])


@pytest.fixture
def quat_matrix():
    """The function ``quaternion_matrix(q)``: (x, y, z, w) -> (3, 3) rotation matrix."""
    return quaternion_matrix


@pytest.fixture
def camera() -> CameraIntrinsics:
    """160x120 intrinsics, f = 200 px."""
    return CAMERA


@pytest.fixture
def tiny_gqm():
    """Factory ``tiny_gqm(gripper, uses_depth=False, seed=0, padding="valid")`` of tiny random models."""
    return make_tiny_gqm


@pytest.fixture
def box_scene():
    """Factory ``box_scene(holes=0.0, seed=0)`` of (120, 160) analytic depth images (see make_box_scene)."""
    return make_box_scene
