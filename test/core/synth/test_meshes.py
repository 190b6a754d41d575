import logging

import numpy as np
import pytest

from dexnet_core.synth.meshes import in_val_split, list_sources, load_object_library


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
