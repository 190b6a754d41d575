import numpy as np
import pytest

from dexnet_core.camera import PRIMESENSE
from dexnet_core.synth.meshes import load_object_library
from dexnet_core.synth.scene import (
    TRAY_SIZE_M,
    TrayScene,
    make_tray_scene,
    overhead_camera_pose,
    render_depth,
    table_mesh,
)

trimesh = pytest.importorskip("trimesh")


def test_overhead_pose_looks_at_origin():
    for tilt in (0.0, 0.3):
        pose = overhead_camera_pose(0.7, tilt)
        assert np.allclose(pose[:3, :3] @ pose[:3, :3].T, np.eye(3)) and np.linalg.det(pose[:3, :3]) > 0
        assert np.linalg.norm(pose[:3, 3]) == pytest.approx(0.7)
        # optical axis points at the origin
        assert np.allclose(pose[:3, 3] + 0.7 * pose[:3, 2], 0, atol=1e-12)


def test_depth_matches_analytic_plane_and_box():
    box = trimesh.creation.box([0.1, 0.08, 0.05])
    box.apply_translation([0.02, -0.01, 0.025])
    scene = TrayScene([(0, box)], [np.eye(4)], [table_mesh()])
    pose = overhead_camera_pose(0.7)
    depth = render_depth(scene, PRIMESENSE, pose)
    assert not np.isnan(depth).any()
    # which pixels see the box top: project its footprint, keep a 2 px margin from the edges
    corners = np.array([[-0.03, -0.05, 0.05], [0.07, 0.03, 0.05]])
    cam = (corners - pose[:3, 3]) @ pose[:3, :3]
    uv = PRIMESENSE.project(cam)
    u0, u1 = sorted(uv[:, 0])
    v0, v1 = sorted(uv[:, 1])
    top = depth[int(v0) + 2:int(v1) - 1, int(u0) + 2:int(u1) - 1]
    assert top.size > 1000 and np.abs(top - 0.65).max() < 1e-3
    assert np.abs(depth[:20, :20] - 0.7).max() < 1e-3

    tilt = 0.25
    pose = overhead_camera_pose(0.7, tilt)
    depth = render_depth(TrayScene([], [], [table_mesh()]), PRIMESENSE, pose)
    rays = PRIMESENSE.pixel_rays().reshape(-1, 3).astype(np.float64)
    dirs = rays @ pose[:3, :3].T
    t = -pose[2, 3] / dirs[:, 2]  # ray meets z = 0
    expect = (t * rays[:, 2]).reshape(depth.shape)
    assert np.abs(depth - expect).max() < 1e-3


def test_noise_is_small_and_seeded():
    scene = TrayScene([], [], [table_mesh()])
    pose = overhead_camera_pose(0.6)
    a = render_depth(scene, PRIMESENSE, pose, np.random.default_rng(3))
    b = render_depth(scene, PRIMESENSE, pose, np.random.default_rng(3))
    assert np.array_equal(a, b)
    err = a - render_depth(scene, PRIMESENSE, pose)
    assert 1e-4 < err.std() < 5e-3


def test_tray_scene_objects_inside_and_apart(mesh_dir, tmp_path):
    objs = load_object_library("all", source=mesh_dir, cache_dir=tmp_path / "cache")
    scene = make_tray_scene(2, np.random.default_rng(0), objects=objs)
    assert sorted(i for i, _ in scene.meshes) == sorted(o.object_id for o in objs)
    boxes = []
    for (_, m), pose in zip(scene.meshes, scene.poses):
        lo, hi = m.bounds
        assert abs(lo[2]) < 1e-6  # resting on the table
        inner = np.array(TRAY_SIZE_M) / 2
        assert (np.abs(lo[:2]) < inner).all() and (np.abs(hi[:2]) < inner).all()
        assert np.allclose(pose[3], [0, 0, 0, 1])
        boxes.append((lo[:2], hi[:2]))
    (alo, ahi), (blo, bhi) = boxes
    assert (ahi <= blo).any() or (bhi <= alo).any()
    with pytest.raises(ValueError, match="fit"):
        make_tray_scene(3, np.random.default_rng(0), objects=objs)
