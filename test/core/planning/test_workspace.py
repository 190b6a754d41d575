"""Automatic workspace: support-plane fit under tilt, height band, supported region (bin walls and rims),
the camera-frame box, the fallback when there is no plane, and the planner using it."""

import numpy as np
import pytest

from dexnet_core.camera import PRIMESENSE, CameraIntrinsics
from dexnet_core.planning.config import PlannerConfig
from dexnet_core.planning.planner import GraspPlanner
from dexnet_core.planning.preprocess import valid_depth
from dexnet_core.planning.workspace import box_mask, estimate_workspace, parse_modes


def plane_depth(k: CameraIntrinsics, tilt_deg: float, dist: float) -> tuple[np.ndarray, np.ndarray, float]:
    """Depth of a plane seen by a camera tilted ``tilt_deg`` about x, ``dist`` m away along the axis;
    returns (depth (H, W), unit normal towards the camera, offset)."""
    t = np.radians(tilt_deg)
    n = np.array([0.0, np.sin(t), -np.cos(t)])
    offset = float(-n @ np.array([0.0, 0.0, dist]))
    v, u = np.mgrid[0 : k.height, 0 : k.width].astype(np.float64)
    along = n[0] * (u - k.cx) / k.fx + n[1] * (v - k.cy) / k.fy + n[2]
    return (-offset / along).astype(np.float32), n, offset


def raise_by(depth: np.ndarray, k: CameraIntrinsics, n: np.ndarray, region, height: float) -> None:
    """Move the surface inside ``region`` (a (rows, cols) slice pair) ``height`` m towards the camera along
    the plane normal (in place)."""
    rows, cols = region
    v, u = np.mgrid[rows, cols].astype(np.float64)
    along = n[0] * (u - k.cx) / k.fx + n[1] * (v - k.cy) / k.fy + n[2]
    depth[rows, cols] += (height / along).astype(np.float32)  # height above = n . p + offset, n . ray < 0


def test_tilted_table_plane_height_band_and_holes():
    k = PRIMESENSE
    depth, n, offset = plane_depth(k, 25.0, 0.8)
    raise_by(depth, k, n, (slice(200, 280), slice(280, 360)), 0.05)  # a 5 cm box
    raise_by(depth, k, n, (slice(60, 120), slice(100, 160)), 0.5)  # far above max_height_m
    raise_by(depth, k, n, (slice(380, 480), slice(500, 540)), 0.1)  # an arm entering from the border
    rng = np.random.default_rng(0)
    depth += rng.normal(0, 0.0007, depth.shape).astype(np.float32)
    depth[rng.random(depth.shape) < 0.3] = np.nan
    ws = estimate_workspace(depth, valid_depth(depth), k, ("plane",))
    assert ws.fallback is None and ws.modes == ("plane",)
    assert np.degrees(np.arccos(np.dot(ws.plane.normal, n))) < 1.0
    assert ws.plane.offset == pytest.approx(offset, abs=0.003)
    box = ws.mask[205:275, 285:355]
    measured = np.isfinite(depth[205:275, 285:355])
    assert box[measured].all() and not box[~measured].any()  # the box top, where measured
    table = np.ones(depth.shape, bool)
    table[190:290, 270:370] = False
    table[50:130, 90:170] = False
    table[370:, 490:550] = False
    assert not ws.mask[table].any()  # the table itself
    assert ws.standing[200:280, 280:360].all() and ws.standing[~np.isfinite(depth)].all()  # the box, holes
    assert not ws.standing[table & np.isfinite(depth)].any()
    assert not ws.mask[380:, 500:540].any()  # the arm
    assert not ws.mask[65:115, 105:155].any()  # too high
    heights = ws.plane.heights(depth, k)
    assert np.nanmedian(heights[205:275, 285:355]) == pytest.approx(0.05, abs=0.002)


@pytest.mark.parametrize("noise_per_m2", [0.0, 1.4e-3, 5e-3])
def test_the_plane_measures_the_depth_noise_on_it(noise_per_m2):
    k = PRIMESENSE
    depth, n, _ = plane_depth(k, 0.0, 0.8)
    raise_by(depth, k, n, (slice(200, 280), slice(280, 360)), 0.05)  # a box on it: not plane noise
    noise = np.random.default_rng(1).normal(0.0, 1.0, depth.shape) * noise_per_m2 * depth**2
    depth += noise.astype(np.float32)
    plane = estimate_workspace(depth, valid_depth(depth), k, ("plane",)).plane
    assert plane.noise_per_m2 == pytest.approx(noise_per_m2, rel=0.15, abs=1e-4)


def test_bin_floor_is_chosen_and_walls_and_rims_are_excluded():
    k = PRIMESENSE
    depth, n, _ = plane_depth(k, 15.0, 0.9)  # the table
    raise_by(depth, k, n, (slice(60, 420), slice(80, 560)), 0.12)  # bin walls and rim, 12 cm
    raise_by(depth, k, n, (slice(75, 405), slice(95, 545)), -0.11)  # the floor inside: 1 cm above the table
    raise_by(depth, k, n, (slice(200, 260), slice(300, 380)), 0.04)  # an object on the floor
    raise_by(depth, k, n, (slice(100, 130), slice(97, 150)), 0.04)  # an object against the left wall
    ws = estimate_workspace(depth, valid_depth(depth), k, ("plane",), margin_m=0.01)
    assert ws.fallback is None
    assert ws.plane.offset < 0.9 * np.cos(np.radians(15)) - 0.005  # the floor, not the table
    assert ws.mask[205:255, 305:375].all()  # the object
    assert not ws.mask[60:75, 80:560].any() and not ws.mask[405:420, 80:560].any()  # rims
    assert not ws.mask[:60].any() and not ws.mask[:, :80].any()  # the table beyond the bin
    floor = np.zeros(depth.shape, bool)
    floor[75:405, 95:545] = True
    floor[200:260, 300:380] = False
    floor[100:130, 97:150] = False
    assert not ws.mask[floor].any()
    against = ws.mask[100:130, 97:150]
    assert not against[:, :3].any() and against[:, 20:].all()  # kept off the wall (margin ~6 px, 4 px grid)


def noisy(depth: np.ndarray, seed: int) -> np.ndarray:
    """``depth`` with structured-light noise, sigma 1.4 mm at 1 m growing with depth squared."""
    rng = np.random.default_rng(seed)
    return depth + (rng.normal(0.0, 1.0, depth.shape) * 1.4e-3 * depth**2).astype(np.float32)


@pytest.mark.parametrize("seed", [0, 1])
def test_far_bin_floor_within_the_table_noise_is_told_from_the_table_and_a_flat_top_is_not(seed):
    k = PRIMESENSE  # 1.2 m away, the floor 1 cm above the table lies within the plane fit's noise band
    depth, n, table = plane_depth(k, 20.0, 1.2)
    slab = depth.copy()
    raise_by(depth, k, n, (slice(150, 330), slice(220, 420)), 0.12)  # a small bin: walls and rim
    raise_by(depth, k, n, (slice(160, 320), slice(230, 410)), -0.11)  # its floor
    raise_by(depth, k, n, (slice(220, 250), slice(300, 340)), 0.03)  # an object in it
    depth = noisy(depth, seed)
    ws = estimate_workspace(depth, valid_depth(depth), k, ("plane",))
    assert ws.plane.offset == pytest.approx(table - 0.01, abs=0.003)  # the floor, not the table
    assert ws.mask[222:248, 302:338].all()
    assert not ws.mask[:160].any() and not ws.mask[320:].any() and not ws.mask[:, :230].any()  # walls, rims
    raise_by(slab, k, n, (slice(150, 330), slice(220, 420)), 0.01)  # a flat top as large, on a table
    slab = noisy(slab, seed)
    ws = estimate_workspace(slab, valid_depth(slab), k, ("plane",))
    assert ws.plane.offset == pytest.approx(table, abs=0.002)  # the table: no walls around the top
    assert ws.mask[150:330, 220:420].mean() > 0.5


def test_interior_keeps_off_object_edges_and_thin_parts_keep_their_middle():
    k = PRIMESENSE
    depth, n, _ = plane_depth(k, 20.0, 0.7)
    raise_by(depth, k, n, (slice(200, 280), slice(280, 360)), 0.05)  # a box, 80 px across
    raise_by(depth, k, n, (slice(100, 106), slice(100, 200)), 0.03)  # a bar 6 px wide
    depth[230:235, 310:315] = np.nan  # a hole in the box top: no edge
    valid = valid_depth(depth)
    plain = estimate_workspace(depth, valid, k, ("plane",))
    ws = estimate_workspace(depth, valid, k, ("plane",), edge_margin_m=0.008)
    assert plain.interior is None and (ws.mask == plain.mask).all()  # the margin only marks the interior
    inner = ws.interior
    steps = round(0.008 * k.fx / float(np.median(depth[plain.mask])))
    assert steps >= 4
    assert plain.mask[200:280, 280:360][valid[200:280, 280:360]].all()  # every measured box pixel
    assert inner[200 + steps : 280 - steps, 280 + steps : 360 - steps][valid[200 + steps : 280 - steps,
                                                                          280 + steps : 360 - steps]].all()
    assert inner[228, 312] and inner[236, 312]  # beside the hole
    assert not inner[200 : 200 + steps - 1].any() and not inner[:, 280 : 280 + steps - 1].any()
    assert plain.mask[100:106, 120:180].all()
    assert inner[102:104, 120:180].all()  # the bar keeps its middle rows ...
    assert not inner[100, 120:180].any() and not inner[105, 120:180].any()  # ... not its edges
    assert not (inner & ~ws.mask).any()
    with pytest.raises(ValueError, match="edge_margin_m"):
        PlannerConfig(edge_margin_m=-0.001)
    with pytest.raises(ValueError, match="edge_preference"):
        PlannerConfig(edge_preference=1.5)


def test_no_plane_falls_back_to_none():
    k = PRIMESENSE
    empty = np.full((k.height, k.width), np.nan, np.float32)
    ws = estimate_workspace(empty, valid_depth(empty), k, ("plane",))
    assert ws.mask.all() and ws.modes == () and "valid" in ws.fallback
    wall, _, _ = plane_depth(k, 75.0, 0.6)  # a wall along the view
    wall[~np.isfinite(wall) | (wall <= 0) | (wall > 5)] = np.nan
    ws = estimate_workspace(wall, valid_depth(wall), k, ("plane", "box"), box=(-1, 1, -1, 1, 0, 3))
    assert ws.modes == ("box",) and "tilted" in ws.fallback
    rough = np.random.default_rng(1).uniform(0.5, 1.5, (k.height, k.width)).astype(np.float32)
    ws = estimate_workspace(rough, valid_depth(rough), k, ("plane",))
    assert ws.plane is None and ws.fallback.startswith("no support plane")


def test_box_mask_and_modes():
    k = CameraIntrinsics(100.0, 100.0, 49.5, 39.5, 100, 80)
    depth = np.full((80, 100), 1.0, np.float32)
    depth[:, 50:] = 2.0
    box = (-0.2, 0.3, -1.0, 1.0, 0.5, 1.5)
    mask = box_mask(depth, k, box)
    x = (np.arange(100) - 49.5) / 100.0 * depth
    assert np.array_equal(mask, (x >= -0.2) & (x <= 0.3) & (depth <= 1.5))
    assert parse_modes("none") == () and parse_modes("box,plane") == ("plane", "box")
    assert parse_modes("plane+box") == ("plane", "box")
    for bad in ("", "plane,plane", "table", "none,plane"):
        with pytest.raises(ValueError, match="planner.workspace"):
            parse_modes(bad)
    with pytest.raises(ValueError, match="needs workspace_box"):
        PlannerConfig(workspace="box")
    with pytest.raises(ValueError, match="workspace_box"):
        PlannerConfig(workspace="box", workspace_box=(0, 1, 0, 1, 2, 1))
    with pytest.raises(ValueError, match="min_height_m"):
        PlannerConfig(min_height_m=0.3, max_height_m=0.2)
    assert PlannerConfig.from_dict({"workspace_box": [0, 1, 0, 1, 0, 1]}).workspace_box == (0, 1, 0, 1, 0, 1)


def test_planner_without_a_mask_grasps_the_object_not_the_table(tiny_gqm, camera):
    depth, n, _ = plane_depth(camera, 20.0, 0.7)
    raise_by(depth, camera, n, (slice(45, 75), slice(65, 95)), 0.04)
    gqm = tiny_gqm("suction")
    cfg = PlannerConfig(top_k=3, workspace="plane", nms_radius_px=4.0)
    result = GraspPlanner(gqm, cfg).plan(depth, camera)
    assert result.workspace.plane is not None and "workspace" in result.timings
    for g in result.grasps:
        u, v = (round(c) for c in g.center_px)
        assert 65 <= u < 95 and 45 <= v < 75
    assert (result.heatmap[~result.workspace.mask] == 0).all()
    everywhere = GraspPlanner(gqm, PlannerConfig(top_k=30, workspace="none", nms_radius_px=4.0)).plan(depth,
                                                                                                   camera)
    assert any(not (65 <= g.center_px[0] < 95 and 45 <= g.center_px[1] < 75) for g in everywhere.grasps)


def test_grasps_near_object_edges_rank_lower_by_the_edge_preference(tiny_gqm, camera):
    depth, n, _ = plane_depth(camera, 20.0, 0.7)
    raise_by(depth, camera, n, (slice(45, 75), slice(65, 95)), 0.04)  # a box, 30 px (10 cm) across
    gqm = tiny_gqm("suction")
    cfg = dict(top_k=40, nms_radius_px=0.0, centre_preference=0.0, clearance_check=False)
    plain = GraspPlanner(gqm, PlannerConfig(edge_preference=0.0, **cfg)).plan(depth, camera)
    ranked = GraspPlanner(gqm, PlannerConfig(edge_preference=1.0, **cfg)).plan(depth, camera)
    inner = ranked.workspace.interior
    assert inner is not None and inner.sum() < ranked.workspace.mask.sum()
    on_inner = [bool(inner[round(g.center_px[1]), round(g.center_px[0])]) for g in ranked.grasps]
    assert on_inner[0] and on_inner == sorted(on_inner, reverse=True)  # interior cells first
    plain_inner = [bool(inner[round(g.center_px[1]), round(g.center_px[0])]) for g in plain.grasps]
    assert plain_inner != sorted(plain_inner, reverse=True)  # without it, edge cells mix in
    best_inner = next(g for g, i in zip(plain.grasps, plain_inner) if i)
    assert ranked.grasps[0].q_value == best_inner.q_value  # the network's quality, not the rank


def test_without_a_mask_the_suction_lip_stays_on_what_stands_on_the_plane(tiny_gqm, camera):
    depth, n, _ = plane_depth(camera, 0.0, 0.7)
    raise_by(depth, camera, n, (slice(45, 75), slice(65, 95)), 0.01)  # a 1 cm slab, 30 px across
    gqm = tiny_gqm("suction")
    cfg = dict(top_k=60, nms_radius_px=0.0, centre_preference=0.0, edge_margin_m=0.0, cup_stretch_m=0.02,
               cup_seal_tolerance_m=0.0)
    reach = 0.01 * camera.fx / 0.69  # the lip's radius in pixels; a cup this soft seals over the 1 cm drop

    def margins(result):
        return [min(g.center_px[0] - 65, 94 - g.center_px[0], g.center_px[1] - 45, 74 - g.center_px[1])
                for g in result.grasps]

    assert min(margins(GraspPlanner(gqm, PlannerConfig(**cfg)).plan(depth, camera))) >= reach - 1
    on_slab = PlannerConfig(**{**cfg, "workspace": "none", "roi": (65, 45, 30, 30)})  # no plane, no lip check
    assert min(margins(GraspPlanner(gqm, on_slab).plan(depth, camera))) < reach - 1


@pytest.mark.parametrize("seed", [3, 17])
def test_rendered_bin_frames_keep_the_workspace_off_the_bin(box_objects, seed):
    """Rendered bin frames (tilted cameras, sensor noise) whose fit takes the floor with the table beside
    the bin inside its noise band: the table's patches are not added and the walls stay out."""
    pytest.importorskip("embreex")
    from dexnet_core.synth.frames import CLASSES, FrameConfig, make_frame

    frame = make_frame(seed, box_objects, FrameConfig(kind="bin"))
    ws = estimate_workspace(frame.depth, valid_depth(frame.depth), frame.intrinsics, ("plane",))
    assert len(ws.plane.polygons_px) == 1
    assert not (ws.mask & (frame.labels == CLASSES.index("bin"))).any()
    assert (ws.mask & frame.object_mask).sum() > 0.3 * frame.object_mask.sum()
