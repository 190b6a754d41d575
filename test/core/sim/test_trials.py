"""Grasp trials on a box: centred grasps succeed, grasps in empty space or over an edge fail."""

import numpy as np
import pytest

from dexnet_core.sim.grippers import ParallelJawGripper, SuctionGripper
from dexnet_core.sim.trials import FAILURE_CAUSES, TrialConfig, run_trial
from dexnet_core.sim.world import SimWorld, box_object

BOX = (0.10, 0.05, 0.04)  # x, y, z metres; resting on the table, centred on the origin


@pytest.fixture
def world():
    w = SimWorld()
    pose = np.eye(4)
    pose[2, 3] = BOX[2] / 2
    w.box = w.add_object(box_object("box", BOX, mass=0.2), pose)
    w.settle()
    yield w
    w.close()


def test_box_rests_on_table(world):
    assert abs(world.pose(world.box)[2, 3] - BOX[2] / 2) < 0.002  # ~1 mm collision margin


def test_parallel_jaw_centred_grasp_succeeds(world, grasp_pose):
    hand = ParallelJawGripper(world)
    top = BOX[2]
    result = run_trial(world, hand, grasp_pose(0.0, 0.0, top - 0.015, yaw=0.0))  # close across the 5 cm side
    assert result.success and result.cause == "success"
    assert world.object_ids == []  # the pick is removed
    assert result.steps > 100


def test_parallel_jaw_holds_a_very_light_box(grasp_pose):
    """A 6 g box (an empty carton) is lifted: the physics gives it WorldConfig.min_body_mass."""
    w = SimWorld()
    try:
        size = (0.10, 0.045, 0.027)
        pose = np.eye(4)
        pose[2, 3] = size[2] / 2
        w.add_object(box_object("carton", size, mass=0.006), pose)
        w.settle()
        result = run_trial(w, ParallelJawGripper(w), grasp_pose(0.0, 0.0, size[2] - 0.015, yaw=0.0))
        assert result.success, result.cause
    finally:
        w.close()


def test_parallel_jaw_empty_space_misses(world, grasp_pose):
    hand = ParallelJawGripper(world)
    result = run_trial(world, hand, grasp_pose(-0.15, 0.0, 0.03))
    assert not result.success and result.cause == "missed"
    assert world.object_ids == [world.box]
    assert abs(world.pose(world.box)[2, 3] - BOX[2] / 2) < 0.002  # untouched


def test_parallel_jaw_too_wide_fails(world, grasp_pose):
    hand = ParallelJawGripper(world)
    # jaws along the 10 cm side cannot open around it (8 cm): they land on top and slip
    result = run_trial(world, hand, grasp_pose(0.0, 0.0, BOX[2] - 0.015, yaw=np.pi / 2))
    assert not result.success
    assert result.cause in FAILURE_CAUSES


def test_suction_centred_seals_and_lifts(world, grasp_pose):
    cup = SuctionGripper(world)
    result = run_trial(world, cup, grasp_pose(0.0, 0.0, BOX[2]))
    assert result.success, result
    assert cup.attached is None  # vacuum released after the trial


def test_suction_empty_space_no_seal(world, grasp_pose):
    cup = SuctionGripper(world)
    result = run_trial(world, cup, grasp_pose(-0.15, 0.0, 0.0))
    assert not result.success and result.cause == "no_seal"


def test_suction_over_the_edge_no_seal(world, grasp_pose):
    cup = SuctionGripper(world)
    result = run_trial(world, cup, grasp_pose(0.048, 0.0, BOX[2]))  # half the 1 cm lip hangs over
    assert not result.success and result.cause == "no_seal"


def test_suction_far_off_centre_drops_heavy_box(grasp_pose):
    with SimWorld() as w:
        pose = np.eye(4)
        pose[2, 3] = BOX[2] / 2
        box = w.add_object(box_object("box", BOX, mass=0.6), pose)
        w.settle()
        cup = SuctionGripper(w)
        result = run_trial(w, cup, grasp_pose(0.035, 0.0, BOX[2]), remove_on_success=False)
        # bending torque 0.6 kg * g * 3.5 cm = 0.21 N m > radius * vacuum / 2 = 0.05 N m
        assert not result.success and result.cause == "dropped_lift"
        assert result.obj == box


def test_trial_config_rejects_bad_values():
    with pytest.raises(ValueError, match="lift_height"):
        TrialConfig(lift_height=-1.0)
    with pytest.raises(ValueError, match="success_height"):
        TrialConfig(success_height=0.3, lift_height=0.2)
