"""Baseline policies on an analytic observation, and grasp frames mapped to the world."""

import math

import numpy as np
import pytest

from dexnet_core.camera import CameraIntrinsics
from dexnet_core.errors import NoValidGraspError
from dexnet_core.sim.policies import HeuristicPolicy, Observation, RandomPolicy, grasp_pose_world, make_policy
from dexnet_core.synth.scene import overhead_camera_pose

CAMERA = CameraIntrinsics(200.0, 200.0, 79.5, 59.5, 160, 120)


def bar_observation() -> Observation:
    """Table at 0.7 m, a bar 60 px long along u and 20 px wide (v 50-69), 4 cm tall; a lower box elsewhere."""
    depth = np.full((120, 160), 0.7, np.float32)
    depth[50:70, 40:100] = 0.66
    depth[10:30, 120:140] = 0.69
    mask = depth < 0.699
    return Observation(depth, CAMERA, overhead_camera_pose(0.7), mask)


def test_heuristic_grasps_highest_object_across_its_minor_axis():
    obs = bar_observation()
    grasp = HeuristicPolicy("parallel_jaw").act(obs, np.random.default_rng(0)).grasp
    u, v = grasp.center_px
    assert abs(u - 69.5) <= 1 and abs(v - 59.5) <= 1  # centroid of the bar
    # jaws close across the bar: along v (angle pi/2 from +u)
    assert abs(abs(math.cos(grasp.angle))) < 1e-6
    assert grasp.depth == pytest.approx(0.66 + 0.5 * (0.015 + 0.05))


def test_heuristic_suction_approaches_along_the_normal():
    obs = bar_observation()
    grasp = HeuristicPolicy("suction").act(obs, np.random.default_rng(0)).grasp
    pose = grasp_pose_world(grasp, obs.camera_pose)
    np.testing.assert_allclose(pose[:3, 2], [0.0, 0.0, -1.0], atol=1e-6)  # straight down onto the flat top
    assert pose[2, 3] == pytest.approx(0.04, abs=1e-5)  # on the surface, 4 cm above the table
    assert grasp.depth == pytest.approx(0.66)


def test_random_policy_is_seeded_and_stays_on_objects():
    obs = bar_observation()
    policy = RandomPolicy("parallel_jaw")
    a = [policy.act(obs, np.random.default_rng(3)).grasp for _ in range(2)]
    assert a[0] == a[1]
    rng = np.random.default_rng(4)
    for _ in range(20):
        g = policy.act(obs, rng).grasp
        assert obs.mask[int(g.center_px[1]), int(g.center_px[0])]
        assert 0.0 <= g.angle < math.pi


def test_grasp_pose_world_maps_optical_frame_to_world():
    obs = bar_observation()
    g = HeuristicPolicy("parallel_jaw").act(obs, np.random.default_rng(0)).grasp
    pose = grasp_pose_world(g, obs.camera_pose)
    expected = obs.camera_pose @ np.append(np.asarray(g.position), 1.0)
    np.testing.assert_allclose(pose[:3, 3], expected[:3], atol=1e-9)
    np.testing.assert_allclose(pose[:3, :3] @ pose[:3, :3].T, np.eye(3), atol=1e-9)
    assert pose[2, 2] == pytest.approx(-1.0)  # approach points down into the tray


def test_no_object_pixels_raise():
    obs = bar_observation()
    empty = Observation(obs.depth, obs.intrinsics, obs.camera_pose, np.zeros_like(obs.mask))
    with pytest.raises(NoValidGraspError):
        RandomPolicy("suction").act(empty, np.random.default_rng(0))


def test_make_policy_validates_names():
    with pytest.raises(ValueError, match="unknown policy"):
        make_policy("greedy", "suction")
    with pytest.raises(ValueError, match="needs a model"):
        make_policy("planner", "suction")
    with pytest.raises(ValueError, match="gripper"):
        make_policy("random", "magnet")


def test_planner_policy_without_the_mask_plans_in_its_workspace():
    from dexnet_core.models import get_model
    from dexnet_core.models.checkpoint import DEXNET3_NORM, GraspQualityModel
    from dexnet_core.planning.config import PlannerConfig
    from dexnet_core.planning.planner import GraspPlanner
    from dexnet_core.sim.policies import PlannerPolicy

    obs = bar_observation()
    kwargs = {"channels": 4, "fc_size": 8}
    gqm = GraspQualityModel(get_model("gqcnn_small", **kwargs), "gqcnn_small", kwargs, gripper="suction",
                            norm=DEXNET3_NORM)
    planner = GraspPlanner(gqm, PlannerConfig(workspace="plane", clearance_check=False))
    rng = np.random.default_rng(0)
    action = PlannerPolicy(planner, use_mask=False).act(obs, rng)
    u, v = (round(c) for c in action.grasp.center_px)
    assert obs.mask[v, u]  # on an object, found without the mask
    blind = Observation(obs.depth, obs.intrinsics, obs.camera_pose, np.zeros_like(obs.mask))
    assert PlannerPolicy(planner, use_mask=False).act(blind, rng).grasp.center_px == action.grasp.center_px
    with pytest.raises(NoValidGraspError):
        PlannerPolicy(planner).act(blind, rng)  # with the (empty) mask: nothing to grasp
