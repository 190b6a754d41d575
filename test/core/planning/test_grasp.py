"""Grasp frames, quaternions and surface normals against hand-computed values."""

import math

import numpy as np
import pytest

from dexnet_core.camera import PRIMESENSE
from dexnet_core.planning.grasp import (
    Grasp,
    approach_frame,
    parallel_jaw_frame,
    quaternion_from_matrix,
    surface_normal,
)


def test_quaternion_known_rotations(quat_matrix):
    np.testing.assert_allclose(quaternion_from_matrix(np.eye(3)), [0, 0, 0, 1])
    rz90 = np.array([[0, -1, 0], [1, 0, 0], [0, 0, 1]], float)
    s = math.sqrt(0.5)
    np.testing.assert_allclose(quaternion_from_matrix(rz90), [0, 0, s, s], atol=1e-12)
    rx180 = np.diag([1.0, -1.0, -1.0])
    np.testing.assert_allclose(np.abs(quaternion_from_matrix(rx180)), [1, 0, 0, 0], atol=1e-12)
    rng = np.random.default_rng(0)
    for _ in range(20):
        q = rng.normal(size=4)
        q /= np.linalg.norm(q)
        back = quaternion_from_matrix(quat_matrix(q))
        np.testing.assert_allclose(back, q if q[3] >= 0 else -q, atol=1e-9)


def test_parallel_jaw_frame_convention():
    r = parallel_jaw_frame(0.0)  # jaw axis along +u = optical +x, approach along +z
    np.testing.assert_allclose(r[:, 1], [1, 0, 0], atol=1e-12)
    np.testing.assert_allclose(r[:, 2], [0, 0, 1], atol=1e-12)
    np.testing.assert_allclose(r[:, 0], [0, -1, 0], atol=1e-12)  # x = y cross z
    r = parallel_jaw_frame(math.pi / 2)  # jaw axis along +v = optical +y
    np.testing.assert_allclose(r[:, 1], [0, 1, 0], atol=1e-12)
    for a in np.linspace(0, math.pi, 7):
        r = parallel_jaw_frame(a)
        np.testing.assert_allclose(r.T @ r, np.eye(3), atol=1e-12)
        assert np.linalg.det(r) == pytest.approx(1.0)


def test_approach_frame_is_right_handed_with_z_along_approach():
    for d in ([0, 0, 1], [0.3, -0.2, 0.9], [1, 0, 0.01]):
        r = approach_frame(np.array(d, float))
        np.testing.assert_allclose(r[:, 2], np.array(d) / np.linalg.norm(d), atol=1e-12)
        np.testing.assert_allclose(r.T @ r, np.eye(3), atol=1e-12)
        np.testing.assert_allclose(np.cross(r[:, 1], r[:, 2]), r[:, 0], atol=1e-12)


def test_surface_normal_of_a_tilted_plane():
    # plane n . p = d with n pointing towards the camera (negative z)
    n = np.array([0.3, -0.2, -1.0])
    n /= np.linalg.norm(n)
    d = -0.7 * 1.0 / np.linalg.norm([0.3, -0.2, -1.0])
    rays = PRIMESENSE.pixel_rays().astype(np.float64)
    t = d / (rays @ n)
    depth = (t * rays[..., 2]).astype(np.float32)
    np.testing.assert_allclose(surface_normal(depth, PRIMESENSE, 400.0, 300.0, 7), n, atol=1e-3)
    flat = np.full((480, 640), 0.5, np.float32)
    np.testing.assert_allclose(surface_normal(flat, PRIMESENSE, 10.0, 470.0), [0, 0, -1], atol=1e-6)


def test_grasp_validates_gripper_and_serialises():
    g = Grasp((1.0, 2.0), 0.5, 0.7, 0.05, 0.9, "parallel_jaw", (0.0, 0.1, 0.7), (0.0, 0.0, 0.0, 1.0))
    d = g.to_dict()
    assert d["center_px"] == [1.0, 2.0] and d["gripper"] == "parallel_jaw" and len(d["orientation"]) == 4
    with pytest.raises(ValueError):
        Grasp((1.0, 2.0), 0.0, 0.7, 0.0, 0.9, "magnet", (0.0, 0.0, 0.7), (0.0, 0.0, 0.0, 1.0))
