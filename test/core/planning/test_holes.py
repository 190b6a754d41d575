"""Hole- and border-aware candidates: observed share of a crop, the adverse fill, the planner using them."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import dexnet_core.planning.planner as planner_module
from dexnet_core.errors import NoValidGraspError
from dexnet_core.planning.config import PlannerConfig
from dexnet_core.planning.heatmaps import make_canvas
from dexnet_core.planning.holes import _crop_means, crop_shares, extreme_fill
from dexnet_core.planning.planner import GraspPlanner
from dexnet_core.planning.preprocess import inpaint_depth, valid_depth
from dexnet_core.planning.rescale import metric_scale, rescale_depth


def test_extreme_fill_takes_the_nearest_or_farthest_surroundings():
    depth = np.full((16, 16), 0.6, np.float32)
    depth[:, :2] = 0.8  # a step near the hole's pyramid block
    valid = np.ones(depth.shape, bool)
    valid[8:12, 4:8] = False  # filled from the 8x8 block [8:16, 0:8], which holds both sides
    valid[0:2, 12:14] = False  # filled from its 4x4 block, all at 0.6
    near, far = extreme_fill(depth, valid, nearest=True), extreme_fill(depth, valid, nearest=False)
    assert np.array_equal(near[valid], depth[valid]) and np.array_equal(far[valid], depth[valid])
    assert (near[8:12, 4:8] == np.float32(0.6)).all() and (far[8:12, 4:8] == np.float32(0.8)).all()
    assert (near[0:2, 12:14] == np.float32(0.6)).all() and (far[0:2, 12:14] == np.float32(0.6)).all()


def test_crop_means_equal_average_pooling():
    maps = torch.rand(2, 70, 90, dtype=torch.float64)
    for stride in (1, 3, 4):
        pooled = F.avg_pool2d(maps[None], 32, stride)[0].numpy()
        np.testing.assert_allclose(np.stack(_crop_means(maps, stride)), pooled, atol=1e-6)


def test_crop_shares_count_holes_and_the_image_border(camera):
    valid = np.ones((120, 160), bool)
    valid[:, :40] = False
    scale = metric_scale(0.7, camera)
    seen = rescale_depth(valid.astype(np.float32), scale)
    canvas = make_canvas(0.0, (0, 0, scale.width - 1, scale.height - 1), 1)
    observed, inside = crop_shares(canvas, seen, 1)
    assert observed.shape == inside.shape == (canvas.height - 31, canvas.width - 31)
    # at angle 0 the canvas is an integer shift of the scene: cells wholly inside read exactly
    assert inside.max() == pytest.approx(1.0) and inside.min() < 0.5
    full = inside > 0.999
    assert (observed[full] <= 1.0 + 1e-6).all() and observed[full].min() < 0.2 and observed[full].max() > 0.99


def test_no_grasp_leaves_the_image_or_stands_mostly_on_filled_depth(tiny_gqm, box_scene, camera):
    depth = box_scene()
    depth[:, 100:] = np.nan  # the right part unseen
    gqm = tiny_gqm("suction")
    cfg = PlannerConfig(top_k=40, nms_radius_px=3.0, max_filled_fraction=0.2, clearance_check=False)
    result = GraspPlanner(gqm, cfg).plan(depth, camera)
    half = 0.5 * 32 / result.scale.sx  # half a crop, input pixels
    for g in result.grasps:
        u, v = g.center_px
        assert half - 2 <= u <= 159 - half + 2 and half - 2 <= v <= 119 - half + 2  # 2% may stick out
        assert g.observed_share >= 0.8 - 1e-6 and g.to_dict()["observed_share"] == g.observed_share
    assert max(g.center_px[0] for g in result.grasps) < 100 - 0.3 * 2 * half
    sparse = np.where(np.random.default_rng(0).random(depth.shape) < 0.5, np.nan, depth).astype(np.float32)
    with pytest.raises(NoValidGraspError):
        GraspPlanner(gqm, PlannerConfig(max_filled_fraction=0.2)).plan(sparse, camera)
    with pytest.raises(ValueError, match="max_filled_fraction"):
        PlannerConfig(max_filled_fraction=1.5)


@pytest.mark.parametrize("gripper", ["suction", "parallel_jaw"])
def test_filled_depth_never_raises_a_score(gripper, tiny_gqm, box_scene, camera):
    """Suction at angle 0: each grasp's score is the lower of the crop-wise scores on the smooth and the
    adverse fill (a grasp on measured pixels only keeps its score); and the lazy check picks what checking
    every cell picks."""
    depth = box_scene(holes=0.25, seed=3)
    depth[50:70, 70:90] = np.nan  # a large hole on the box top
    gqm = tiny_gqm(gripper)
    cfg = PlannerConfig(top_k=8, nms_radius_px=4.0, num_angles=2, clearance_check=False)
    lazy = GraspPlanner(gqm, cfg).plan(depth, camera)
    if gripper == "suction":
        valid = valid_depth(depth)
        scale = lazy.scale
        smooth = rescale_depth(inpaint_depth(depth, valid), scale).numpy()
        adverse = rescale_depth(extreme_fill(depth, valid, nearest=False), scale).numpy()
        for g in lazy.grasps:
            x, y = (int(round(float(c))) for c in scale.from_input(*g.center_px))
            crops = np.stack([s[y - 16 : y + 16, x - 16 : x + 16] for s in (smooth, adverse)])
            q_smooth, q_adverse = gqm.score(crops)
            expected = q_smooth if g.observed_share > 1 - 1e-4 else min(q_smooth, q_adverse)
            assert g.q_value == pytest.approx(expected, abs=1e-5)
        assert any(g.observed_share < 1 - 1e-4 for g in lazy.grasps)
    monkey = pytest.MonkeyPatch()
    monkey.setattr(planner_module, "FILL_CHECK_BLOCK", 10**9)
    try:
        everything = GraspPlanner(gqm, cfg).plan(depth, camera)
    finally:
        monkey.undo()
    assert [g.to_dict() for g in lazy.grasps] == [g.to_dict() for g in everything.grasps]
