import numpy as np
import pytest

from dexnet_core.camera import PRIMESENSE
from dexnet_core.synth.crops import crop_scale, extract_crops, shrink
from dexnet_core.synth.scene import TrayScene, overhead_camera_pose, render_depth, table_mesh

trimesh = pytest.importorskip("trimesh")


def test_crop_of_rendered_bar_is_centred_and_aligned():
    yaw = 0.6
    bar = trimesh.creation.box([0.12, 0.012, 0.03])
    bar.apply_transform(trimesh.transformations.rotation_matrix(yaw, [0, 0, 1]))
    bar.apply_translation([0.03, 0.02, 0.015])
    pose = overhead_camera_pose(0.7)
    depth = render_depth(TrayScene([(0, bar)], [np.eye(4)], [table_mesh()]), PRIMESENSE, pose)
    ends = np.array([[0.03, 0.02, 0.03], [0.03 + np.cos(yaw), 0.02 + np.sin(yaw), 0.03]])
    cam = (ends - pose[:3, 3]) @ pose[:3, :3]
    uv = PRIMESENSE.project(cam)
    angle = np.arctan2(*(uv[1] - uv[0])[::-1])
    s = crop_scale(PRIMESENSE.fx, 0.7)
    assert s == pytest.approx(1 / 3)
    small, scale = shrink(depth, (s, s))
    along, across = extract_crops(small, scale, uv[:1].repeat(2, 0), np.array([angle, angle + np.pi / 2]))
    # 32 px span 12.8 cm: the 1.2 cm bar is ~3 px wide through the centre, 12 cm long (~30 px)
    assert np.abs(along[15:17, 4:28] - 0.67).max() < 2e-3
    assert np.abs(along[:12] - 0.7).max() < 2e-3 and np.abs(along[20:] - 0.7).max() < 2e-3
    # rotated a quarter turn: the bar runs down the centre columns
    assert np.abs(across[4:28, 15:17] - 0.67).max() < 2e-3
    assert np.abs(across[:, :12] - 0.7).max() < 2e-3 and np.abs(across[:, 20:] - 0.7).max() < 2e-3


def test_shrink_reports_exact_scale():
    small, (sx, sy) = shrink(np.ones((480, 640), np.float32), (1 / 3, 0.3))
    assert small.shape == (144, 213) and sx == 213 / 640 and sy == 144 / 480
