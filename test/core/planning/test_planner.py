"""GraspPlanner end to end on analytic scenes with tiny real GQ-CNNs."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from dexnet_core.camera import CameraIntrinsics
from dexnet_core.errors import NoValidGraspError
from dexnet_core.models import get_model
from dexnet_core.models.checkpoint import GraspQualityModel, Normalization, save_checkpoint
from dexnet_core.planning import planner as planner_module
from dexnet_core.planning.config import PlannerConfig
from dexnet_core.planning.planner import GraspPlanner


def config(**values) -> PlannerConfig:
    """PlannerConfig without the automatic workspace and the centre preference: these scenes test the
    other stages (the workspace has its own tests in test_workspace.py)."""
    return PlannerConfig(**{"workspace": "none", "centre_preference": 0.0, **values})


def _hand_rescaled(depth: np.ndarray, width: int, height: int) -> np.ndarray:
    t = torch.from_numpy(depth)[None, None]
    out = F.interpolate(t, size=(height, width), mode="bilinear", align_corners=False, antialias=True)
    return out[0, 0].numpy()


@pytest.mark.parametrize("gripper, uses_depth, padding", [
    ("suction", False, "valid"), ("parallel_jaw", True, "valid"), ("suction", False, "same"),
])
def test_cells_equal_the_network_on_crops_cut_by_hand(gripper, uses_depth, padding, tiny_gqm, box_scene,
                                                       camera):
    gqm = tiny_gqm(gripper, uses_depth, padding=padding)
    depth = box_scene()
    # 'same' padding is exact only crop by crop (slow): a smaller ROI there
    roi = (40, 30, 80, 60) if padding == "valid" else (24, 20, 40, 30)
    cfg = config(num_angles=1, stride=1, suction_stride=1, top_k=8, nms_radius_px=8.0, roi=roi,
                        exact_fc=padding == "same", clearance_check=False)
    result = GraspPlanner(gqm, cfg).plan(depth, camera)
    # median of the ROI is the table (0.7 m): 96 px training crops at 525 px -> factor 0.875 here
    assert (result.scale.width, result.scale.height) == (140, 105)
    scene = _hand_rescaled(depth, 140, 105)
    assert len(result.grasps) == 8
    shifted_differs = False
    for g in result.grasps:
        x, y = (g.center_px[0] + 0.5) * 0.875 - 0.5, (g.center_px[1] + 0.5) * 0.875 - 0.5
        assert x == pytest.approx(round(x), abs=1e-6) and y == pytest.approx(round(y), abs=1e-6)
        x, y = round(x), round(y)
        crop = scene[y - 16 : y + 16, x - 16 : x + 16]
        z = None if not uses_depth else np.array([g.depth])
        assert gqm.score(crop[None], z)[0] == pytest.approx(g.q_value, abs=2e-6)
        shifted = scene[y - 16 : y + 16, x - 15 : x + 17]
        shifted_differs |= abs(gqm.score(shifted[None], z)[0] - g.q_value) > 1e-5
    assert shifted_differs  # the comparison can tell a one-pixel offset
    best = result.grasps[0]
    assert result.heatmap[round(best.center_px[1]), round(best.center_px[0])] == pytest.approx(best.q_value)
    assert result.heatmap.max() == pytest.approx(best.q_value)


@pytest.mark.parametrize("gripper", ["suction", "parallel_jaw"])
def test_symmetries_average_the_turned_and_mirrored_crops(gripper, tiny_gqm, box_scene, camera):
    gqm = tiny_gqm(gripper, False)
    cfg = config(num_angles=1, stride=1, suction_stride=1, top_k=4, nms_radius_px=8.0,
                        roi=(40, 30, 80, 60), clearance_check=False, suction_symmetries=8, jaw_symmetries=4)
    result = GraspPlanner(gqm, cfg).plan(box_scene(), camera)
    scene = _hand_rescaled(box_scene(), 140, 105)
    assert len(result.grasps) == 4
    for g in result.grasps:
        x, y = (round((c + 0.5) * 0.875 - 0.5) for c in g.center_px)
        crop = torch.from_numpy(np.ascontiguousarray(scene[y - 16 : y + 16, x - 16 : x + 16]))
        if gripper == "suction":  # a round cup: the four turns and their mirror images
            turns = [torch.rot90(crop, k) for k in range(4)]
            views = turns + [t.flip(1) for t in turns]
        else:  # jaws along the columns: the 180-degree turn and the two mirror images
            views = [crop, crop.flip(0), crop.flip(1), crop.flip(0, 1)]
        scores = gqm.score(torch.stack(views).numpy())
        assert scores.mean() == pytest.approx(g.q_value, abs=2e-6)
        assert scores.std() > 1e-4  # the views differ, so a single pass would not match


def test_depth_bins_are_admissible_gripper_depths(tiny_gqm, box_scene, camera):
    gqm = tiny_gqm("parallel_jaw", uses_depth=True)
    depth = box_scene()
    cfg = config(num_angles=2, depth_bins=8, depth_offsets=(0.01, 0.03), top_k=10, nms_radius_px=5.0,
                        clearance_check=False)
    result = GraspPlanner(gqm, cfg).plan(depth, camera)
    lo, hi = float(depth.min()) + 0.01, float(depth.max()) + 0.03
    bins = np.linspace(lo, hi, 8)
    spacing = bins[1] - bins[0]
    for g in result.grasps:
        assert np.min(np.abs(bins - g.depth)) < 1e-6
        surface = depth[round(g.center_px[1]), round(g.center_px[0])]
        offset = g.depth - surface
        assert 0.01 - spacing / 2 - 1e-6 <= offset <= 0.03 + spacing / 2 + 1e-6


def _ridge_gqm() -> GraspQualityModel:
    """A hand-weighted GQ-CNN scoring how much a ridge runs vertically through the crop, i.e. across the
    (horizontal) jaw axis: conv1 is a horizontal second-difference filter, the rest passes it on."""
    model = get_model("gqcnn_small", channels=1, fc_size=1)
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
        profile = torch.tensor([1.0, 1.0, 0.0, -4.0, 0.0, 1.0, 1.0]) / 7
        model.conv1.weight[0, 0] = profile[None, :].expand(7, 7)
        for conv in (model.conv2, model.conv3, model.conv4):
            conv.weight[0, 0, 1, 1] = 1.0
        model.fc.weight.fill_(1.0)
        model.fc2.weight.fill_(1.0)
        model.fc3.weight.fill_(0.1)
        model.fc3.bias.fill_(-1.0)
    return GraspQualityModel(model, "gqcnn_small", {"channels": 1, "fc_size": 1}, gripper="parallel_jaw",
                             norm=Normalization(0.7, 0.01))


@pytest.mark.parametrize("bar_angle_deg", [33.75, 101.25])
def test_best_jaw_angle_is_across_a_ridge(bar_angle_deg, tiny_gqm, box_scene, camera, quat_matrix):
    # f = 175 px: the scene is already at the network scale (factor 1)
    camera = CameraIntrinsics(175.0, 175.0, 79.5, 59.5, 160, 120)
    v, u = np.mgrid[0:120, 0:160].astype(np.float64)
    a = math.radians(bar_angle_deg)  # bar direction in the image, from +u towards +v
    across = -(u - 80) * math.sin(a) + (v - 60) * math.cos(a)
    depth = (0.7 - 0.01 * np.exp(-0.5 * (across / 2.0) ** 2)).astype(np.float32)  # smooth 1 cm ridge
    cfg = config(num_angles=16, stride=1, top_k=3, nms_radius_px=30.0, roi=(50, 30, 60, 60),
                        clearance_check=False)
    result = GraspPlanner(_ridge_gqm(), cfg).plan(depth, camera)
    assert (result.scale.width, result.scale.height) == (160, 120)
    best = result.grasps[0]
    expected = (a + math.pi / 2) % math.pi  # jaws close across the bar
    diff = abs((best.angle - expected + math.pi / 2) % math.pi - math.pi / 2)
    assert diff < 1e-6, (math.degrees(best.angle), math.degrees(expected))
    u0, v0 = best.center_px
    assert abs(-(u0 - 80) * math.sin(a) + (v0 - 60) * math.cos(a)) < 16  # the crop holds the bar
    r = quat_matrix(best.orientation)
    np.testing.assert_allclose(r[:, 1], [math.cos(best.angle), math.sin(best.angle), 0.0], atol=1e-9)
    np.testing.assert_allclose(r[:, 2], [0.0, 0.0, 1.0], atol=1e-9)


@pytest.mark.parametrize("gripper", ["suction", "parallel_jaw"])
def test_positions_are_deprojected_centres(gripper, tiny_gqm, box_scene, camera):
    depth = box_scene()
    # on cell centres (centring keeps the gripper depth of the cell, not its offset from the new surface)
    cfg = config(num_angles=4, top_k=5, clearance_check=False, jaw_centring=False)
    result = GraspPlanner(tiny_gqm(gripper), cfg).plan(depth, camera)
    offset = 0.0 if gripper == "suction" else 0.5 * (0.015 + 0.05)
    for g in result.grasps:
        u, v = g.center_px
        d = float(depth[round(v), round(u)]) + offset
        assert g.depth == pytest.approx(d, abs=1e-6)
        x, y = (u - 79.5) * d / 200.0, (v - 59.5) * d / 200.0
        np.testing.assert_allclose(g.position, [x, y, d], atol=1e-6)
        assert g.gripper == gripper and g.width == (0.0 if gripper == "suction" else 0.08)


def test_suction_approaches_along_the_surface_normal(tiny_gqm, box_scene, camera, quat_matrix):
    n = np.array([0.2, -0.3, -1.0])
    n /= np.linalg.norm(n)
    rays = camera.pixel_rays().astype(np.float64)
    depth = ((-0.7 / np.linalg.norm([0.2, -0.3, -1.0])) / (rays @ n) * rays[..., 2]).astype(np.float32)
    result = GraspPlanner(tiny_gqm("suction"), config(top_k=3)).plan(depth, camera)
    for g in result.grasps:
        np.testing.assert_allclose(quat_matrix(g.orientation)[:, 2], -n, atol=2e-3)


@pytest.mark.parametrize("inpaint", [True, False])
def test_holes_are_filled_but_never_grasped(inpaint, tiny_gqm, box_scene, camera):
    depth = box_scene(holes=0.3)
    cfg = config(num_angles=2, top_k=10, nms_radius_px=4.0, inpaint=inpaint, clearance_check=False)
    result = GraspPlanner(tiny_gqm("parallel_jaw"), cfg).plan(depth, camera)
    assert np.isfinite(result.heatmap).all()
    assert (result.heatmap[np.isnan(depth)] == 0).all()
    inner = np.zeros(depth.shape, bool)
    inner[20:-20, 20:-20] = True  # crops (37 px here) of centres nearer the border leave the image
    assert (result.heatmap[~np.isnan(depth) & inner] > 0).mean() > 0.9
    edge = np.ones(depth.shape, bool)
    edge[15:-15, 15:-15] = False
    assert (result.heatmap[edge] == 0).all()
    assert len(result.grasps) == 10
    for g in result.grasps:
        assert np.isfinite(depth[round(g.center_px[1]), round(g.center_px[0])])


def test_mask_roi_and_workspace_restrict_grasps(tiny_gqm, box_scene, camera):
    depth = box_scene()
    gqm = tiny_gqm("suction")
    mask = np.zeros(depth.shape, bool)
    mask[:, :50] = True
    cfg = config(top_k=6, nms_radius_px=5.0)
    res = GraspPlanner(gqm, cfg).plan(depth, camera, mask=mask)
    assert all(round(g.center_px[0]) < 50 for g in res.grasps) and len(res.grasps) == 6
    assert (res.heatmap[:, 50:] == 0).all() and (res.heatmap[20:-20, 20:50] > 0).mean() > 0.9
    cfg = config(top_k=6, nms_radius_px=5.0, roi=(100, 10, 40, 30))
    res = GraspPlanner(gqm, cfg).plan(depth, camera)
    for g in res.grasps:
        assert 100 <= round(g.center_px[0]) < 140 and 10 <= round(g.center_px[1]) < 40
    res = GraspPlanner(gqm, config(top_k=6, nms_radius_px=5.0, max_depth_m=0.68)).plan(depth, camera)
    for g in res.grasps:  # only the box top is inside the workspace
        assert 60 <= round(g.center_px[0]) < 100 and 40 <= round(g.center_px[1]) < 80


@pytest.mark.parametrize("gripper, uses_depth", [("suction", False), ("parallel_jaw", True)])
def test_the_network_scores_only_the_cells_the_candidates_need(gripper, uses_depth, tiny_gqm, box_scene,
                                                               camera, monkeypatch):
    depth = box_scene()
    mask = np.zeros(depth.shape, bool)  # two patches on a diagonal: their box is mostly not candidates
    mask[22:45, 22:50] = mask[75:98, 108:138] = True
    cfg = config(num_angles=4, top_k=4, nms_radius_px=6.0, clearance_check=False)
    planner = GraspPlanner(tiny_gqm(gripper, uses_depth), cfg)
    scored = []

    def counting(*args, cells, **kwargs):
        scored.append(int(cells.sum()))
        return planner.gqm.heatmap(*args, cells=cells, **kwargs)

    planner._heatmap = counting
    got = planner.plan(depth, camera, mask=mask)
    fitted = sum(scored)
    scored.clear()
    monkeypatch.setattr(planner_module, "fit_canvas", lambda canvas, points, stride: canvas)
    monkeypatch.setattr(planner_module, "_reach", lambda cand, scale, stride: np.ones_like(cand))
    whole = planner.plan(depth, camera, mask=mask)
    assert fitted < 0.6 * sum(scored)
    assert len(got.grasps) == len(whole.grasps) == 4
    for a, b in zip(got.grasps, whole.grasps):
        assert a.center_px == pytest.approx(b.center_px, abs=1e-9) and a.angle == b.angle
        assert a.q_value == pytest.approx(b.q_value, abs=1e-6) and a.depth == pytest.approx(b.depth)
    # the same heatmap, but where a pixel lies halfway between two cells (float rounding picks either)
    assert np.isclose(got.heatmap, whole.heatmap, atol=1e-6, rtol=0).mean() > 0.999
    assert (got.heatmap[mask] > 0).mean() > 0.9


def test_top_k_sorted_and_separated(tiny_gqm, box_scene, camera):
    cfg = config(num_angles=4, top_k=12, nms_radius_px=15.0, clearance_check=False)
    res = GraspPlanner(tiny_gqm("parallel_jaw"), cfg).plan(box_scene(), camera)
    q = [g.q_value for g in res.grasps]
    assert len(q) == 12 and q == sorted(q, reverse=True)
    c = np.array([g.center_px for g in res.grasps])
    d = np.hypot(*(c[:, None] - c[None]).transpose(2, 0, 1))
    assert d[~np.eye(len(c), dtype=bool)].min() >= 15.0
    res2 = GraspPlanner(tiny_gqm("parallel_jaw"), cfg).plan(box_scene(), camera, max_grasps=3)
    assert [g.q_value for g in res2.grasps] == q[:3]
    assert {"preprocess", "rescale", "network", "select", "poses", "heatmap", "total"} <= set(res.timings)


def test_centre_preference_ranks_grasps_nearer_the_image_centre_first(tiny_gqm, box_scene, camera):
    planner = GraspPlanner(tiny_gqm("suction"), config())
    plain = planner.plan(box_scene(), camera).grasps
    centred = GraspPlanner(tiny_gqm("suction"), config(centre_preference=1.0)).plan(box_scene(), camera)
    u, v = centred.grasps[0].center_px
    assert math.hypot(u - 79.5, v - 59.5) < 2.0 < math.hypot(plain[0].center_px[0] - 79.5,
                                                             plain[0].center_px[1] - 59.5)
    assert centred.grasps[0].q_value < plain[0].q_value  # the quality reported is the network's own
    assert centred.grasps[0].q_value == pytest.approx(float(centred.heatmap[round(v), round(u)]))
    with pytest.raises(ValueError, match="centre_preference"):
        config(centre_preference=-0.1)


def test_invalid_inputs_raise(tiny_gqm, box_scene, camera):
    planner = GraspPlanner(tiny_gqm("suction"), config())
    depth = box_scene()
    with pytest.raises(NoValidGraspError):
        planner.plan(np.full_like(depth, np.nan), camera)
    with pytest.raises(NoValidGraspError):
        planner.plan(np.zeros_like(depth), camera)
    with pytest.raises(NoValidGraspError):
        planner.plan(depth, camera, mask=np.zeros(depth.shape, bool))
    with pytest.raises(ValueError):
        planner.plan(depth, camera, mask=np.ones((10, 10), bool))
    with pytest.raises(ValueError):
        planner.plan(depth[:100], camera)
    with pytest.raises(ValueError):
        planner.plan(depth, camera, max_grasps=0)
    with pytest.raises(NoValidGraspError) as info:
        GraspPlanner(tiny_gqm("suction"), config(min_quality=0.99)).plan(depth, camera)
    heatmap = info.value.heatmap  # the map the network made, for a caller that shows it anyway
    assert heatmap.shape == depth.shape and 0 < heatmap.max() < 0.99


@pytest.mark.parametrize("size", [1, 2])
def test_a_tiny_frame_says_it_is_too_small(tiny_gqm, size):
    tiny = CameraIntrinsics(200.0, 200.0, size / 2, size / 2, size, size)
    with pytest.raises(NoValidGraspError, match=rf"the {size}x{size} image is smaller than one grasp crop"):
        GraspPlanner(tiny_gqm("parallel_jaw"), config()).plan(np.full((size, size), 0.7), tiny)


def test_stride_and_angles_follow_the_gripper(tiny_gqm, box_scene, camera):
    cfg = config(num_angles=6, stride=3, suction_stride=2)
    suction, pj = GraspPlanner(tiny_gqm("suction"), cfg), GraspPlanner(tiny_gqm("parallel_jaw"), cfg)
    assert (suction.stride, suction.angles) == (2, [0.0])
    assert pj.stride == 3 and pj.angles == pytest.approx([k * math.pi / 6 for k in range(6)])


def test_models_without_a_fully_convolutional_form_are_rejected():
    pytest.importorskip("torchvision")
    model = get_model("efficientnet_b0")
    gqm = GraspQualityModel(model, "efficientnet_b0", {}, gripper="suction", norm=Normalization(0.6, 0.01))
    with pytest.raises(ValueError, match="fully convolutional"):
        GraspPlanner(gqm, config())


def test_from_checkpoint(tmp_path, tiny_gqm, box_scene, camera):
    path = save_checkpoint(tmp_path / "s.pt", tiny_gqm("suction"))
    planner = GraspPlanner.from_checkpoint(str(path), config(top_k=2), device="auto")
    res = planner.plan(box_scene(), camera)
    assert len(res.grasps) == 2 and res.grasps[0].gripper == "suction"
