import dataclasses

import numpy as np
import pytest

from dexnet_core.synth.frames import CLASSES, FrameConfig, make_frame

pytest.importorskip("embreex")

# 640x480 cameras at a quarter of the size (same fields of view), for speed
SMALL = FrameConfig(image_sizes=((160, 120),), focal_px=(95.0, 275.0), sensor="ideal")


def camera_points(frame, mask):
    """(n, 3) world points of the noise-free depth at ``mask`` pixels."""
    v, u = np.nonzero(mask)
    cam = frame.intrinsics.deproject(np.stack([u, v], 1), frame.clean[v, u])
    return cam @ frame.camera_pose[:3, :3].T + frame.camera_pose[:3, 3]


def test_frames_are_deterministic_per_seed(box_objects):
    cfg = dataclasses.replace(SMALL, sensor="primesense")
    a, b, c = (make_frame(seed, box_objects, cfg) for seed in (5, 5, 6))
    assert np.array_equal(a.depth, b.depth, equal_nan=True) and np.array_equal(a.instances, b.instances)
    assert np.array_equal(a.camera_pose, b.camera_pose) and a.objects == b.objects
    assert not np.array_equal(a.clean, c.clean, equal_nan=True)


def test_instance_masks_cover_exactly_the_objects_to_pick(box_objects):
    for seed in range(4):
        frame = make_frame(seed, box_objects, dataclasses.replace(SMALL, num_objects=(2, 3)))
        assert frame.instances.shape == (120, 160) and frame.depth.shape == (120, 160)
        assert np.array_equal(frame.object_mask, frame.labels == CLASSES.index("object"))
        assert sorted(np.unique(frame.instances[frame.object_mask])) == list(range(1, len(frame.objects) + 1))
        for i in range(1, len(frame.objects) + 1):  # instance i's pixels lie on mesh i
            lo, hi = frame.meshes[i - 1].bounds
            p = camera_points(frame, frame.instances == i)
            assert ((p >= lo - 2e-3) & (p <= hi + 2e-3)).all()
        table = frame.labels == CLASSES.index("background")
        assert np.abs(camera_points(frame, table & np.isfinite(frame.clean))[:, 2]).max() < 2e-3
        inner = frame.interior(2)
        assert (inner <= frame.object_mask).all()
        disk = frame.interior(2, disk=True)
        assert (inner <= disk).all() and (disk <= frame.object_mask).all()


def test_disk_interior_reaches_closer_to_diagonal_edges_only():
    from dexnet_core.synth.frames import _eroded

    u, v = np.meshgrid(np.arange(60), np.arange(60))
    upright = (u >= 10) & (u < 50) & (v >= 10) & (v < 50)
    diamond = np.abs(u - 30) + np.abs(v - 30) <= 20
    for margin in (2, 5):
        # beside an edge along the pixel grid both keep exactly the pixels margin px or more inside
        assert np.array_equal(_eroded(upright, margin), _eroded(upright, margin, disk=True))
        assert _eroded(upright, margin, disk=True).sum() == (40 - 2 * margin) ** 2
    # beside a diagonal edge a pixel 5 px from it (Euclidean) is inside the disk's interior, not the square's
    square, disk = _eroded(diamond, 5), _eroded(diamond, 5, disk=True)
    assert (square <= disk).all() and disk.sum() > square.sum()
    assert disk[30, 30 + 13] and not square[30, 30 + 13]  # 5.3 px from the sides


def test_clutter_interior_holds_only_clutter_wholly_in_view(box_objects):
    import cv2

    cfg = dataclasses.replace(SMALL, kind="table", clutter=(3, 3))
    whole = cut = 0
    for seed in range(6):
        frame = make_frame(seed, box_objects, cfg)
        clutter = (frame.labels == CLASSES.index("clutter")).astype(np.uint8)
        inner = frame.clutter_interior(1)
        _, parts = cv2.connectedComponents(clutter)
        border = np.unique(np.concatenate([parts[0], parts[-1], parts[:, 0], parts[:, -1]]))
        for i in range(1, parts.max() + 1):
            part = parts == i
            if i in border:
                cut += 1
                assert not inner[part].any()  # cut off by the border
            else:
                whole += inner[part].any()
        assert (inner <= clutter.astype(bool)).all()
    assert whole and cut  # both kinds occurred


def test_tilted_camera_sees_the_table_as_the_plane_of_its_pose(box_objects):
    """A flat table under a tilted camera: depth grows across the image as the support plane predicts."""
    cfg = dataclasses.replace(SMALL, kind="table", max_tilt_deg=30.0, clutter=(0, 0), fixtures=(0, 0))
    tilts = []
    for seed in range(6):
        frame = make_frame(seed, box_objects, cfg)
        a, b, c, d = frame.support_plane()
        tilt = np.degrees(np.arccos(abs(c)))
        assert tilt <= 30.0 + 1e-6
        tilts.append(tilt)
        k = frame.intrinsics
        u, v = np.meshgrid(np.arange(k.width), np.arange(k.height))
        rays_z = 1.0 / ((u - k.cx) / k.fx * a + (v - k.cy) / k.fy * b + c)
        expect = -d * rays_z  # depth of the plane along each pixel's ray
        table = (frame.labels == 0) & np.isfinite(frame.clean)
        assert np.abs(frame.clean[table] - expect[table]).max() < 1e-3
        # the depth gradient across the image: 1/depth of a plane is linear in the pixel, with gradient
        # sin(tilt) / (f * camera height above the plane)
        design = np.stack([u[table], v[table], np.ones(table.sum())], 1)
        grad = np.linalg.lstsq(design, 1.0 / frame.clean[table], rcond=None)[0][:2]
        height = frame.camera_pose[2, 3] - frame.support_z
        pose_tilt = np.degrees(np.arccos(-frame.camera_pose[2, 2]))
        fitted = np.degrees(np.arcsin(np.linalg.norm(grad) * k.fx * height))
        assert fitted == pytest.approx(pose_tilt, abs=0.2)
        assert tilt == pytest.approx(pose_tilt, abs=1e-6)
    assert max(tilts) > 15 and min(tilts) < 15  # tilts are drawn over [0, 30]


def test_bin_scenes_hold_the_objects_inside_walls_and_rim(box_objects):
    cfg = dataclasses.replace(SMALL, kind="bin", clutter=(0, 0), fixtures=(0, 0), num_objects=(3, 3))
    for seed in range(3):
        frame = make_frame(seed, box_objects, cfg)
        assert frame.kind == "bin" and frame.support_z > 0
        assert (frame.labels == CLASSES.index("bin")).mean() > 0.2  # floor, walls and rim are in view
        parts = frame.meshes[len(frame.objects):-1]  # floor, 4 walls, 4 rim pieces (then the table)
        assert len(parts) == 9
        for m in frame.meshes[: len(frame.objects)]:
            assert m.bounds[0][2] == pytest.approx(frame.support_z, abs=1e-6)  # resting on the floor
            pts = np.asarray(m.vertices) + [0, 0, 1e-3]
            assert not any(wall.contains(pts).any() for wall in parts[1:5])  # clear of the walls
            below = pts.copy()
            below[:, 2] = frame.support_z / 2
            assert parts[0].contains(below).all()  # above the floor


def test_fixtures_stand_along_one_image_border(box_objects):
    cfg = dataclasses.replace(SMALL, kind="table", fixtures=(3, 3), clutter=(2, 2), height_m=(0.6, 0.8))
    seen = 0
    for seed in range(3):
        frame = make_frame(seed, box_objects, cfg)
        fix = frame.labels == CLASSES.index("fixture")
        if not fix.any():
            continue
        seen += 1
        v, u = np.nonzero(fix)
        to_border = np.minimum.reduce([u, v, 159 - u, 119 - v])
        assert np.median(to_border) < 0.25 * 120
        assert np.median(camera_points(frame, fix)[:, 2]) > 0.03  # standing up from the table
    assert seen >= 2


def test_structured_light_bin_frames_miss_a_fifth_to_two_fifths(box_objects):
    cfg = dataclasses.replace(SMALL, kind="bin", sensor="structured_light")
    for seed in range(3):
        frame = make_frame(seed, box_objects, cfg)
        assert 0.19 <= np.isnan(frame.depth).mean() <= 0.45


def test_bad_frame_configs_name_the_value():
    with pytest.raises(ValueError, match=r"max_tilt_deg must be in \[0, 30.0\] degrees, got 40"):
        FrameConfig(max_tilt_deg=40)
    with pytest.raises(ValueError, match="unknown sensor 'zivid'; valid: ideal"):
        FrameConfig(sensor="zivid")
    with pytest.raises(ValueError, match="kind must be one of"):
        FrameConfig(kind="shelf")
    with pytest.raises(ValueError, match=r"height_m .* got \(1.0, 0.5\)"):
        FrameConfig(height_m=(1.0, 0.5))
