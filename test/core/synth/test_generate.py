import numpy as np
import pytest

from dexnet_core.synth.generate import CameraRange, SynthConfig, SynthImage
from dexnet_core.synth.meshes import load_object_library
from dexnet_core.synth.sensors import SENSOR_MIX


def test_scale_jitter_rescales_each_table_axis_and_keeps_the_object_on_the_table(mesh_dir, tmp_path):
    objs = load_object_library("all", source=mesh_dir, cache_dir=tmp_path / "cache")
    plain, jitter = SynthConfig(collision_points=50), SynthConfig(collision_points=50, scale_jitter=0.2)
    ratios = []
    for seed in range(6):
        obj = objs[seed % len(objs)]
        a = SynthImage(plain, obj, np.random.default_rng(seed))
        b = SynthImage(jitter, obj, np.random.default_rng(seed))
        assert a.pose_index == b.pose_index and np.allclose(a.pose, b.pose)
        s = b.mesh.extents / a.mesh.extents
        assert np.all((s > np.exp(-0.2) - 1e-9) & (s < np.exp(0.2) + 1e-9))
        assert abs(b.mesh.bounds[0, 2]) < 1e-9  # still standing on the table
        assert np.allclose(b.mesh.bounds[:, :2].mean(axis=0), a.mesh.bounds[:, :2].mean(axis=0), atol=1e-9)
        assert np.isclose(b.mass, obj.mass * np.prod(s)) and a.mass == obj.mass
        ratios.append(s)
    assert np.ptp(np.array(ratios), axis=0).min() > 0.05  # the scales really vary


def _top_crop(img: SynthImage) -> np.ndarray:
    """Crop centred on the object's top centre, jaw along world x, minus the camera's table distance."""
    lo, hi = img.mesh.bounds
    centre = np.array([(lo[0] + hi[0]) / 2, (lo[1] + hi[1]) / 2, hi[2]])
    uv = img.k.project(img.to_camera(centre[None]))
    tip = img.k.project(img.to_camera(centre[None] + [0.01, 0, 0]))
    angle = np.arctan2(tip[:, 1] - uv[:, 1], tip[:, 0] - uv[:, 0])
    return img.crops(uv, angle)[0] - img.ref_depth


def test_crops_come_out_the_same_at_every_distance_focal_length_and_image_size(mesh_dir, tmp_path):
    """The metric rescale normalises the camera away: the same object gives the same 32x32 crop."""
    objs = load_object_library("all", source=mesh_dir, cache_dir=tmp_path / "cache")
    crops = []
    cameras = ((0.7, 525.0, (640, 480)), (0.45, 380.0, (848, 480)), (1.1, 1100.0, (1280, 720)))
    for dist, focal, size in cameras:
        cam = CameraRange(distance=(dist, dist), max_tilt=0.0, focal_px=(focal, focal), image_sizes=(size,),
                          center_jitter_px=0.0)
        cfg = SynthConfig(collision_points=50, camera=cam, sensor="ideal")
        img = SynthImage(cfg, objs[0], np.random.default_rng(3))
        assert (img.k.width, img.k.height, img.k.fx) == (*size, focal)
        crops.append(_top_crop(img))
    box_top = crops[0] < -0.02  # the box stands out of the table by several cm
    assert 0.1 < box_top.mean() < 0.9
    for c in crops[1:]:
        assert np.median(np.abs(c - crops[0])) < 1e-3
        assert ((c < -0.02) != box_top).mean() < 0.05  # its outline falls on the same crop pixels


def test_sensor_holes_are_filled_before_cropping_and_mix_draws_per_image(mesh_dir, tmp_path):
    objs = load_object_library("all", source=mesh_dir, cache_dir=tmp_path / "cache")
    cfg = SynthConfig(collision_points=50, sensor="mix")
    rng = np.random.default_rng(0)
    images = [SynthImage(cfg, objs[i % len(objs)], rng) for i in range(6)]
    assert len({i.sensor for i in images}) > 1 and {i.sensor for i in images} <= set(SENSOR_MIX)
    for img in images:
        assert np.isfinite(img.small).all()
    one = SynthImage(SynthConfig(collision_points=50, sensor="structured_light"), objs[0], rng)
    assert np.isfinite(one.small).all() and one.small.std() > 0.002
    with pytest.raises(ValueError, match="unknown sensor 'kinect'"):
        SynthConfig(sensor="kinect")
