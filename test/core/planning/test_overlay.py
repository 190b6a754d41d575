"""Overlay rendering and the PNG writer."""

import numpy as np
import pytest

from dexnet_core.camera import PRIMESENSE
from dexnet_core.planning.grasp import Grasp
from dexnet_core.planning.overlay import heatmap_overlay, quality_colors, save_png


def _grasp(u, v, q, gripper="parallel_jaw", angle=0.0):
    return Grasp((u, v), angle, 0.7, 0.05 if gripper == "parallel_jaw" else 0.0, q, gripper,
                 (0.0, 0.0, 0.7), (0.0, 0.0, 0.0, 1.0))


def test_overlay_colours_heatmap_and_draws_grasps():
    depth = np.full((60, 80), 0.7, np.float32)
    depth[:, :10] = np.nan
    heat = np.zeros_like(depth)
    heat[20:40, 30:50] = 1.0
    rgb = heatmap_overlay(depth, heat, [])
    assert rgb.shape == (60, 80, 3) and rgb.dtype == np.uint8
    assert (rgb[:, :10] == 0).all()  # missing depth is black
    assert rgb[30, 40, 0] > rgb[30, 40, 2]  # high quality is red
    assert (rgb[5, 60] == rgb[5, 60, 0]).all()  # no heatmap: grey
    grasps = [_grasp(40.0, 30.0, 0.9), _grasp(20.0, 10.0, 0.5, "suction")]
    rgb = heatmap_overlay(depth, heat, grasps, PRIMESENSE)
    assert tuple(rgb[30, 40]) == (255, 0, 255)  # best grasp centre in magenta
    half = 0.5 * 0.05 * PRIMESENSE.fx / 0.7  # jaw line spans the metric opening
    assert tuple(rgb[30, round(40 + half)]) == (255, 0, 255)
    assert tuple(rgb[30, 40 + round(half) + 4]) != (255, 0, 255)
    assert tuple(rgb[10, 27]) == (255, 255, 255)  # suction ring, radius 7
    with pytest.raises(ValueError):
        heatmap_overlay(depth, heat[:10], grasps)


def test_quality_colors_ramp():
    c = quality_colors(np.array([0.0, 0.5, 1.0, 2.0]))
    assert c.tolist() == [[0, 0, 255], [0, 255, 0], [255, 0, 0], [255, 0, 0]]


def test_save_png_round_trip(tmp_path):
    cv2 = pytest.importorskip("cv2")
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (17, 23, 3), dtype=np.uint8)
    back = cv2.imread(str(save_png(tmp_path / "a.png", rgb)), cv2.IMREAD_UNCHANGED)
    np.testing.assert_array_equal(back[..., ::-1], rgb)
    mm = rng.integers(0, 65536, (9, 11), dtype=np.uint16)
    back = cv2.imread(str(save_png(tmp_path / "d.png", mm)), cv2.IMREAD_UNCHANGED)
    assert back.dtype == np.uint16
    np.testing.assert_array_equal(back, mm)
    with pytest.raises(ValueError):
        save_png(tmp_path / "bad.png", np.zeros((4, 4), np.float32))
