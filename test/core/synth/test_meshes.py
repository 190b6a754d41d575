import logging

import numpy as np
import pytest

from dexnet_core.synth.meshes import in_val_split, list_sources, load_object_library, stable_poses


def test_parts_become_one_watertight_body_with_stable_poses(mesh_dir, tmp_path):
    objs = load_object_library("all", source=mesh_dir, cache_dir=tmp_path / "cache")
    box = next(o for o in objs if o.name == "a_box.obj")
    assert box.mesh.is_watertight and len(box.mesh.split()) == 1
    # the 1% dilation of each part about its centroid grows the box by < 1 mm
    assert np.allclose(box.mesh.extents, [0.04, 0.10, 0.06], atol=1.1e-3)
    assert abs(box.pose_probs.sum() - 1) < 1e-9 and len(box.stable_poses) >= 3
    # each stable pose rests the body on z = 0
    for pose in box.stable_poses:
        z = box.mesh.vertices @ pose[2, :3] + pose[2, 3]
        assert abs(z.min()) < 1e-6


def test_broken_mesh_is_skipped_with_reason_and_cache_reused(mesh_dir, tmp_path, caplog):
    with caplog.at_level(logging.WARNING):
        objs = load_object_library("all", source=mesh_dir, cache_dir=tmp_path / "cache")
    assert sorted(o.name for o in objs) == ["a_box.obj", "b_box.stl"]
    assert "c_broken.obj" in caplog.text and "non-finite" in caplog.text
    assert len(list((tmp_path / "cache" / "meshes").glob("*.npz"))) == 2
    again = load_object_library("all", source=mesh_dir, cache_dir=tmp_path / "cache")
    assert [o.name for o in again] == [o.name for o in objs]
    assert np.array_equal(again[0].mesh.vertices, objs[0].mesh.vertices)


def test_object_split_is_fixed_by_seed_and_disjoint():
    names = [f"{i:03d}" for i in range(1000)]
    val = {n for n in names if in_val_split(n, 0, 0.2)}
    assert 150 < len(val) < 250
    assert val == {n for n in names if in_val_split(n, 0, 0.2)}
    assert val != {n for n in names if in_val_split(n, 1, 0.2)}


def test_random_urdfs_scale_is_read_from_urdf():
    pytest.importorskip("pybullet_data")
    src = list_sources()
    assert len(src) == 1000 and src[168].object_id == 168
    assert src[0].scale == pytest.approx(0.015) and src[0].path.suffix == ".obj"


def test_bad_split_name():
    with pytest.raises(ValueError, match="split"):
        load_object_library("test")


def test_round_objects_get_stable_poses(tmp_path):
    trimesh = pytest.importorskip("trimesh")
    d = tmp_path / "round"
    d.mkdir()
    trimesh.creation.icosphere(2, radius=0.04).export(d / "ball.stl")  # 320 poses of 0.3% each
    trimesh.creation.uv_sphere(radius=0.03, count=[16, 16]).export(d / "uv_ball.obj")
    trimesh.creation.icosphere(2, radius=1.0).apply_scale([0.045, 0.032, 0.03]).export(d / "lemon.ply")
    objs = load_object_library("all", source=d, cache_dir=tmp_path / "cache")
    assert sorted(o.name for o in objs) == ["ball.stl", "lemon.ply", "uv_ball.obj"]
    for o in objs:
        assert 3 <= len(o.pose_probs) <= 10 and abs(o.pose_probs.sum() - 1) < 1e-9
        for pose in o.stable_poses:
            z = o.mesh.vertices @ pose[2, :3] + pose[2, 3]
            assert abs(z.min()) < 1e-6
    # the lemon rests on its side: its long axis (x) lies flat in every pose
    lemon = next(o for o in objs if o.name == "lemon.ply")
    assert all(abs(pose[2, 0]) < 0.35 for pose in lemon.stable_poses)


def test_poses_of_other_bodies_are_trimesh_poses_unchanged():
    trimesh = pytest.importorskip("trimesh")
    body = trimesh.creation.box([0.05, 0.08, 0.12])
    knob = trimesh.creation.box([0.02, 0.02, 0.03]).apply_translation([0, 0, 0.07])
    body = trimesh.util.concatenate([body, knob])
    poses, probs = stable_poses(body)
    ref, ref_p = trimesh.poses.compute_stable_poses(body, n_samples=1, seed=0)
    keep = ref_p >= 0.01
    assert np.array_equal(poses, np.asarray(ref)[keep][:10])
    assert np.allclose(probs, ref_p[keep][:10] / ref_p[keep][:10].sum())
