"""Parallel-jaw grasps move to the middle of the surface their fingers close on."""

import math

import numpy as np

from dexnet_core.planning.config import PlannerConfig
from dexnet_core.planning.jaw_centring import slice_midpoint
from dexnet_core.planning.planner import GraspPlanner


def bar_scene() -> np.ndarray:
    """(120, 160) table at 0.7 m with a 2 cm high bar over columns 70-81 (12 px, 4 cm at 0.68 m, f = 200)."""
    depth = np.full((120, 160), 0.7, np.float32)
    depth[:, 70:82] = 0.68
    return depth


def test_slice_midpoint_centres_across_the_bar(camera):
    depth = bar_scene()
    u, v = slice_midpoint(depth, camera, 72.0, 50.0, 0.0, 0.69, 0.04)
    assert (u, v) == (75.5, 50.0)
    u, v = slice_midpoint(depth, camera, 80.0, 50.0, math.pi, 0.69, 0.04)  # either jaw direction
    assert (u, v) == (75.5, 50.0)
    assert slice_midpoint(depth, camera, 60.0, 50.0, 0.0, 0.69, 0.04) == (60.0, 50.0)  # on the table
    # along the bar the run reaches the opening: a finger would land on it, so nothing moves
    assert slice_midpoint(depth, camera, 72.0, 50.0, math.pi / 2, 0.69, 0.04) == (72.0, 50.0)


def test_planned_jaw_grasps_sit_in_the_middle_of_their_slice(tiny_gqm, camera):
    depth = bar_scene()
    gqm = tiny_gqm("parallel_jaw")
    cfg = dict(num_angles=8, stride=1, top_k=6, nms_radius_px=6.0, workspace="none")
    on = GraspPlanner(gqm, PlannerConfig(**cfg)).plan(depth, camera)
    off = GraspPlanner(gqm, PlannerConfig(jaw_centring=False, **cfg)).plan(depth, camera)
    moved = 0
    for a, b in zip(on.grasps, off.grasps):
        assert (a.angle, a.depth, a.q_value) == (b.angle, b.depth, b.q_value)  # the same cells
        u, v = slice_midpoint(depth, camera, *a.center_px, a.angle, a.depth + 0.012 - 0.003, 0.04)
        assert math.dist((u, v), a.center_px) <= 1.0  # already centred
        moved += math.dist(a.center_px, b.center_px) > 1.0
    assert moved > 0
