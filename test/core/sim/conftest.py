"""Shared helpers of the simulation tests: top-down grasp poses and a tiny held-out object library."""

import numpy as np
import pytest

pytest.importorskip("pybullet")
pytest.importorskip("trimesh")
pytest.importorskip("embreex")


def top_down(x: float, y: float, z: float, yaw: float = 0.0) -> np.ndarray:
    """(4, 4) world <- grasp frame: approach straight down at (x, y, z), jaw closing axis at ``yaw``."""
    y_axis = np.array([-np.sin(yaw), np.cos(yaw), 0.0])
    z_axis = np.array([0.0, 0.0, -1.0])
    pose = np.eye(4)
    pose[:3, :3] = np.stack([np.cross(y_axis, z_axis), y_axis, z_axis], axis=1)
    pose[:3, 3] = [x, y, z]
    return pose


@pytest.fixture
def grasp_pose():
    """Factory ``grasp_pose(x, y, z, yaw=0)`` of top-down grasp frames."""
    return top_down


@pytest.fixture(scope="session")
def small_library(tmp_path_factory):
    """The first 4 held-out random_urdfs objects, processed into a test-private cache."""
    from dexnet_core.synth.meshes import load_object_library

    return load_object_library("val", max_objects=4, cache_dir=tmp_path_factory.mktemp("mesh_cache"))
