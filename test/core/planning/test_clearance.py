"""Depth-image clearance: footprints, their nearest observed depth, and the planner skipping grasps whose
gripper would hit the scene (real numpy and tiny real GQ-CNNs on analytic scenes)."""

import math

import numpy as np
import pytest

from dexnet_core.errors import NoValidGraspError
from dexnet_core.planning import planner as planner_module
from dexnet_core.planning.clearance import (
    cup_footprint,
    cup_pixels,
    disk_footprint,
    finger_footprint,
    footprint_min_depth,
    lip_ring,
    rim_is_flat,
    sample_step_m,
)
from dexnet_core.planning.config import PlannerConfig
from dexnet_core.planning.grasp import surface_normal, surface_normals
from dexnet_core.planning.planner import GraspPlanner


def config(**values) -> PlannerConfig:
    """PlannerConfig without the automatic workspace: these scenes test the other stages (the workspace
    has its own tests in test_workspace.py)."""
    return PlannerConfig(**{"workspace": "none", **values})


def cup_gaps(depth, camera, u, v, contact_depth, approach, cup):
    """Observed depth minus cup-sample depth at each projected sample, as the planner computes it."""
    rows, cols, z = cup_pixels(camera, depth.shape, u, v, contact_depth, approach, cup)
    return depth[rows, cols] - z


def test_finger_footprint_covers_both_fingers_outside_the_opening():
    pts = finger_footprint(0.08, (0.014, 0.021), step_m=0.002)
    x, y = pts[:, 0], pts[:, 1]
    assert np.abs(y).min() == pytest.approx(0.04) and np.abs(y).max() == pytest.approx(0.054)
    assert x.min() == pytest.approx(-0.0105) and x.max() == pytest.approx(0.0105)
    assert (y > 0).sum() == (y < 0).sum()
    gaps = np.diff(np.unique(np.round(y[y > 0], 9)))
    assert gaps.max() <= 0.002 + 1e-12


def test_disk_footprint_fills_the_disk_and_its_rim():
    pts = disk_footprint(0.01, step_m=0.002)
    r = np.hypot(pts[:, 0], pts[:, 1])
    assert r.max() == pytest.approx(0.01) and r.min() < 0.002
    assert (r > 0.01 - 1e-9).sum() >= 8  # the rim


def test_cup_footprint_is_the_lip_disk_and_rims_back_along_the_tool():
    pts = cup_footprint(0.01, 0.1, step_m=0.002)
    lip, side = pts[pts[:, 2] == 0], pts[pts[:, 2] < 0]
    assert len(lip) == len(disk_footprint(0.01, 0.002))
    np.testing.assert_allclose(np.hypot(side[:, 0], side[:, 1]), 0.01)
    assert side[:, 2].min() == pytest.approx(-0.1) and len(np.unique(side[:, 2])) == 10


def test_batched_normals_match_the_single_plane_fit(camera, box_scene):
    depth = box_scene()
    u, v = np.array([30.0, 80.0, 61.0, 120.0]), np.array([20.0, 60.0, 41.0, 100.0])
    normals = surface_normals(depth, camera, u, v, 7)
    for n, uu, vv in zip(normals, u, v):
        np.testing.assert_allclose(n, surface_normal(depth, camera, uu, vv, 7), atol=1e-9)


def test_cup_gaps_are_zero_on_a_tilted_plane_negative_before_a_post_positive_off_an_edge(camera):
    n = np.array([0.3, -0.2, -1.0]) / np.linalg.norm([0.3, -0.2, -1.0])  # about 20 deg of tilt
    rays = camera.pixel_rays().astype(np.float64)
    depth = ((-0.7 * n[2]) / (rays @ -n) * rays[..., 2]).astype(np.float64)  # plane n.p = 0.7 n_z
    u, v = np.array([80.0]), np.array([60.0])
    cup = cup_footprint(0.01, 0.1, 0.002)
    rim = lip_ring(cup, 0.01)
    assert rim.sum() >= 8 and (cup[rim, 2] == 0).all()
    gaps = cup_gaps(depth, camera, u, v, depth[60, 80:81], -n[None], cup)
    lip = cup[:, 2] == 0
    assert gaps.shape == (1, len(cup)) and np.abs(gaps[:, lip]).max() < 1e-3 and gaps.min() > -1e-3
    # a 3 cm post 1.4-2.1 cm (4-6 px) beside the contact: clear of the 1 cm lip, but the tilted tool leans
    # over it
    post = depth.copy()
    post[60:63, 84:87] -= 0.03
    leaning = cup_gaps(post, camera, u, v, depth[60, 80:81], -n[None], cup).min(axis=1)
    upright = cup_gaps(post, camera, u, v, depth[60, 80:81], np.array([[0.0, 0.0, 1.0]]), cup).min(axis=1)
    assert leaning[0] < -0.005 and upright[0] > -0.005
    edge = depth.copy()
    edge[:, 82:] += 0.02  # the surface drops 2 cm, 2 px (7 mm) beside the contact: the lip rim hangs over
    gaps = cup_gaps(edge, camera, u, v, depth[60, 80:81], -n[None], cup)
    assert gaps[0, rim].max() > 0.015 and gaps.min() > -1e-3


def _roof(camera, slope_deg: float = 30.0) -> np.ndarray:
    """(120, 160) table at 0.7 m with a roof 6 cm high at its crest (u = 80, v 30-90), faces sloping
    ``slope_deg`` down to either side (3.1 mm per pixel at the crest's 0.62 m)."""
    depth = np.full((120, 160), 0.7, np.float32)
    u = np.arange(160, dtype=np.float64)
    roof = 0.62 + np.abs(u - 80) * 0.62 / camera.fx * math.tan(math.radians(slope_deg))
    depth[30:90] = np.minimum(depth[30:90], roof.astype(np.float32))
    return depth


def test_rim_is_flat_on_a_tilted_plane_not_across_a_crease_and_allows_for_noise(camera):
    cup = cup_footprint(0.01, 0.1, 0.002)
    rim = lip_ring(cup, 0.01)

    def flat(depth, u, normal, noise=0.0):
        rows, cols, _ = cup_pixels(camera, depth.shape, np.array([u]), np.array([60.0]), depth[60, u:u + 1],
                                   -np.asarray(normal, dtype=np.float64)[None], cup)
        return bool(rim_is_flat(depth, camera, rows[:, rim], cols[:, rim], 0.002, np.array([noise]))[0])

    roof = _roof(camera)
    face = np.array([math.sin(math.radians(30.0)), 0.0, -math.cos(math.radians(30.0))])
    # 8 px (2.5 cm) down a 30-degree face the lip, tilted with it, rests on one plane
    assert flat(roof, 88, face)
    # on the crest it straddles the fold: its rim lies 5.8 mm behind the lip at either side, within what
    # the cup stretches (cup_stretch_m, 8 mm) but not flat enough to seal
    assert not flat(roof, 80, [0.0, 0.0, -1.0])
    assert flat(_roof(camera, slope_deg=5.0), 80, [0.0, 0.0, -1.0])  # a gentle fold the lip conforms to
    rng = np.random.default_rng(0)
    noisy = (np.full((120, 160), 0.7) + rng.normal(0.0, 0.0015, (120, 160))).astype(np.float32)
    assert not flat(noisy, 80, [0.0, 0.0, -1.0]) and flat(noisy, 80, [0.0, 0.0, -1.0], noise=0.0015)


def test_suction_contacts_whose_lip_straddles_a_fold_are_skipped(tiny_gqm, camera):
    depth = _roof(camera)
    every = dict(top_k=10_000, nms_radius_px=0.0, roi=(62, 40, 37, 40))  # contacts on the roof only
    gqm = tiny_gqm("suction")
    on = np.array([g.center_px[0] for g in GraspPlanner(gqm, config(**every)).plan(depth, camera).grasps])
    off = np.array([g.center_px[0] for g in GraspPlanner(gqm, config(**every, cup_seal_tolerance_m=0.0))
                    .plan(depth, camera).grasps])
    # the 1 cm lip at 0.62 m has a 3.2 px radius: on the crest it lies across the fold
    assert (np.abs(off - 80) < 1.5).any() and not (np.abs(on - 80) < 1.5).any()
    assert (np.abs(on - 80) > 6).sum() == (np.abs(off - 80) > 6).sum() > 0  # down the faces: kept


def test_min_depth_sees_a_close_pixel_under_the_rotated_finger(camera):
    depth = np.full((120, 160), 0.7, np.float32)
    # jaw axis at 90 deg (along +v): at 0.7 m and f = 200 px a finger 4.5 cm out lies 12.86 px below
    depth[60 + 13, 80] = 0.6
    fp = finger_footprint(0.08, (0.01, 0.02), sample_step_m(camera, 0.7, 1.0))
    u, v, z = np.array([80.0, 80.0]), np.array([60.0, 60.0]), np.array([0.7, 0.7])
    near = footprint_min_depth(depth, camera, u, v, z, fp, angle=math.pi / 2)
    np.testing.assert_allclose(near, [0.6, 0.6])
    far = footprint_min_depth(depth, camera, u, v, z, fp, angle=0.0)  # fingers left and right: clear
    np.testing.assert_allclose(far, [0.7, 0.7])
    grid = footprint_min_depth(depth, camera, u.reshape(1, 2), v.reshape(1, 2), z.reshape(1, 2), fp, 0.0)
    assert grid.shape == (1, 2)


def _two_objects_scene() -> np.ndarray:
    """(120, 160) table at 0.7 m with two 3.5 cm blocks 4 cm tall: A in the open (u 30-39, v 55-64) and B
    (u 110-119) ringed, 1.4 cm away, by an 8 cm wall that any open finger would land on."""
    depth = np.full((120, 160), 0.7, np.float32)
    depth[55 - 12 : 65 + 12, 110 - 12 : 120 + 12] = 0.62
    depth[55 - 4 : 65 + 4, 110 - 4 : 120 + 4] = 0.7
    depth[55:65, 30:40] = 0.66
    depth[55:65, 110:120] = 0.66
    return depth


def _tops_mask(depth: np.ndarray) -> np.ndarray:
    mask = np.zeros(depth.shape, bool)
    mask[55:65, 30:40] = mask[55:65, 110:120] = True
    return mask


@pytest.mark.parametrize("uses_depth", [True, False])
def test_jaw_grasp_next_to_a_wall_is_skipped_and_one_in_the_open_kept(uses_depth, tiny_gqm, camera):
    depth = _two_objects_scene()
    gqm = tiny_gqm("parallel_jaw", uses_depth=uses_depth)
    every = dict(num_angles=4, stride=1, top_k=10_000, nms_radius_px=0.0)
    off = GraspPlanner(gqm, config(**every, clearance_check=False)).plan(depth, camera,
                                                                                 _tops_mask(depth))
    assert any(g.center_px[0] > 100 for g in off.grasps)  # without the check B is grasped too
    cfg = config(**every)
    on = GraspPlanner(gqm, cfg).plan(depth, camera, _tops_mask(depth))
    assert on.grasps and all(g.center_px[0] < 50 for g in on.grasps)  # only A, in the open
    for g in on.grasps:  # fingertips stay above the table (less the margin), inside the depth offsets
        assert g.depth + cfg.fingertip_depth_m <= 0.7 + cfg.jaw_clearance_margin_m + 1e-6
        assert g.depth >= 0.66 + cfg.depth_offsets[0] - 0.0026  # half a bin spacing at most


@pytest.mark.parametrize("uses_depth", [True, False])
def test_jaws_stop_where_the_fingers_meet_the_table(uses_depth, tiny_gqm, camera):
    depth = np.full((120, 160), 0.7, np.float32)
    depth[50:70, 70:80] = 0.68  # a 2 cm bar: every nominal gripper depth puts the fingertips in the table
    mask = depth < 0.69
    cfg = config(num_angles=4, top_k=3)
    result = GraspPlanner(tiny_gqm("parallel_jaw", uses_depth=uses_depth), cfg).plan(depth, camera, mask)
    limit = 0.7 - cfg.fingertip_depth_m + cfg.jaw_clearance_margin_m
    assert result.grasps and all(g.depth == pytest.approx(limit, abs=1e-6) for g in result.grasps)
    depth[50:70, 70:80] = 0.695  # 5 mm high: the fingertips meet the table above the grasp centre
    with pytest.raises(NoValidGraspError):
        GraspPlanner(tiny_gqm("parallel_jaw", uses_depth=uses_depth), cfg).plan(depth, camera, depth < 0.699)


def test_palm_over_a_tall_neighbour_rules_out_that_jaw_angle(tiny_gqm, camera):
    depth = np.full((120, 160), 0.7, np.float32)
    depth[55:65, 70:80] = 0.66  # the target block
    depth[55:65, 96:102] = 0.55  # a 15 cm post 7-9 cm away along +u: past the fingers, under the palm
    mask = depth == np.float32(0.66)
    every = dict(num_angles=2, stride=1, top_k=10_000, nms_radius_px=0.0)
    gqm = tiny_gqm("parallel_jaw", uses_depth=True)
    off = GraspPlanner(gqm, config(**every, clearance_check=False)).plan(depth, camera, mask)
    on = GraspPlanner(gqm, config(**every)).plan(depth, camera, mask)
    assert {round(g.angle, 6) for g in off.grasps} == {0.0, round(math.pi / 2, 6)}
    assert on.grasps and {round(g.angle, 6) for g in on.grasps} == {round(math.pi / 2, 6)}


def test_suction_contact_beside_a_taller_neighbour_is_skipped(tiny_gqm, camera):
    depth = np.full((120, 160), 0.7, np.float32)
    depth[30:90, 40:120] = 0.66  # a box top ...
    depth[30:90, 80:120] = 0.60  # ... with a taller block on its right half
    every = dict(top_k=10_000, nms_radius_px=0.0, roi=(45, 40, 35, 40))  # contacts on the lower top only
    gqm = tiny_gqm("suction")
    off = GraspPlanner(gqm, config(**every, clearance_check=False)).plan(depth, camera)
    on = GraspPlanner(gqm, config(**every)).plan(depth, camera)
    # the 1 cm cup at 0.66 m spans 3 px: contacts from u = 77 on would touch the block
    assert max(g.center_px[0] for g in off.grasps) > 77
    assert max(g.center_px[0] for g in on.grasps) < 77
    assert len(on.grasps) > 0.8 * len(off.grasps)


def test_suction_contact_whose_lip_hangs_over_an_edge_is_skipped(tiny_gqm, camera):
    depth = np.full((120, 160), 0.7, np.float32)
    depth[30:90, 40:120] = 0.66  # a 4 cm box: contacts within the cup radius (3 px) of its rim cannot seal
    every = dict(top_k=10_000, nms_radius_px=0.0)
    mask = depth < 0.69
    on = GraspPlanner(tiny_gqm("suction"), config(**every)).plan(depth, camera, mask)
    c = np.array([g.center_px for g in on.grasps])
    assert c[:, 0].min() >= 42 and c[:, 0].max() <= 117 and c[:, 1].min() >= 32 and c[:, 1].max() <= 87
    off = GraspPlanner(tiny_gqm("suction"), config(**every, clearance_check=False)).plan(depth, camera,
                                                                                                 mask)
    assert min(g.center_px[0] for g in off.grasps) < 42 and len(off.grasps) > len(on.grasps)


def test_suction_lip_must_lie_on_the_mask(tiny_gqm, camera):
    depth = np.full((120, 160), 0.7, np.float32)
    depth[30:90, 40:120] = 0.697  # a 3 mm sheet: a lip over its rim stretches less than cup_stretch_m
    mask = depth < 0.699
    every = dict(top_k=10_000, nms_radius_px=0.0)
    gqm = tiny_gqm("suction")
    on = np.array([g.center_px for g in GraspPlanner(gqm, config(**every)).plan(depth, camera,
                                                                                       mask).grasps])
    # the 1 cm lip at 0.697 m has a 2.9 px radius: centres keep 3 px from the mask's border
    assert on[:, 0].min() > 42.5 and on[:, 0].max() < 116.5
    assert on[:, 1].min() > 32.5 and on[:, 1].max() < 86.5
    inner = np.zeros_like(mask)
    inner[30:90, 40:80] = True  # a mask on the left half of the sheet: its right edge is not a depth edge
    half = np.array([g.center_px for g in GraspPlanner(gqm, config(**every)).plan(depth, camera,
                                                                                         inner).grasps])
    assert half[:, 0].max() < 76.5 and half[:, 0].min() > 42.5
    unmasked = GraspPlanner(gqm, config(**every, roi=(40, 30, 80, 60))).plan(depth, camera)
    assert min(g.center_px[0] for g in unmasked.grasps) < 42  # without a mask only the 3 mm step is seen


def test_best_first_suction_check_picks_what_checking_every_cell_picks(tiny_gqm, camera, monkeypatch):
    depth = np.full((120, 160), 0.7, np.float32)
    depth[30:90, 40:120] = 0.66
    depth[30:90, 80:120] = 0.60  # edges and a step: many contacts fail the cup check
    gqm = tiny_gqm("suction")
    cfg = config(top_k=12, nms_radius_px=6.0)
    monkeypatch.setattr(planner_module, "SEAL_CHECK_BLOCK", 10**9)  # every cell in one block
    everything = GraspPlanner(gqm, cfg).plan(depth, camera)
    monkeypatch.setattr(planner_module, "SEAL_CHECK_BLOCK", 7)
    best_first = GraspPlanner(gqm, cfg).plan(depth, camera)
    assert len(everything.grasps) == 12
    assert [g.to_dict() for g in best_first.grasps] == [g.to_dict() for g in everything.grasps]
    rejected = (everything.heatmap == 0) & (depth < 0.69)
    assert rejected.any() and (best_first.heatmap[rejected] == 0).sum() < rejected.sum()  # fewer examined
    # blocks in which every cell fails (a 1 cm-wide ridge): the search goes on, or ends with no grasp
    ridge = np.full((120, 160), 0.7, np.float32)
    ridge[30:90, 78:81] = 0.64
    with pytest.raises(NoValidGraspError):
        GraspPlanner(gqm, config(top_k=1)).plan(ridge, camera, ridge < 0.68)
    ridge[50:80, 20:50] = 0.66  # a sealable top beside it
    planned = GraspPlanner(gqm, config(top_k=1)).plan(ridge, camera, ridge < 0.68)
    assert len(planned.grasps) == 1 and planned.grasps[0].center_px[0] < 50


def test_clearance_changes_nothing_where_nothing_is_in_the_way(tiny_gqm, camera):
    v, u = np.mgrid[0:120, 0:160].astype(np.float64)
    depth = (0.7 + 0.002 * np.sin(u / 9.0) * np.cos(v / 7.0)).astype(np.float32)  # a gently rippled plane
    gqm = tiny_gqm("suction")
    off = GraspPlanner(gqm, config(top_k=20, clearance_check=False)).plan(depth, camera)
    on = GraspPlanner(gqm, config(top_k=20)).plan(depth, camera)
    assert [g.to_dict() for g in on.grasps] == [g.to_dict() for g in off.grasps]
    np.testing.assert_array_equal(on.heatmap, off.heatmap)


def test_clearance_options_are_validated():
    with pytest.raises(ValueError, match="finger_size_m"):
        config(finger_size_m=(0.01, 0.0))
    with pytest.raises(ValueError, match="cup_radius_m"):
        config(cup_radius_m=0.0)
    with pytest.raises(ValueError, match="cup_stretch_m"):
        config(cup_stretch_m=0.0)
    with pytest.raises(ValueError, match="cup_seal_tolerance_m"):
        config(cup_seal_tolerance_m=-0.001)
    with pytest.raises(ValueError, match="jaw_clearance_margin_m"):
        config(jaw_clearance_margin_m=-0.001)
    assert PlannerConfig.from_dict({"finger_size_m": [0.01, 0.02]}).finger_size_m == (0.01, 0.02)
