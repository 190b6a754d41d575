"""One grasp trial: approach along the grasp axis, close (jaws) or seal (suction), lift, shake, judge.

A trial succeeds when an object is still held after the lift and the shake and has risen by at least
``TrialConfig.success_height``. Failures carry one cause from ``FAILURE_CAUSES``.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np

from dexnet_core.sim.grippers import ParallelJawGripper, SuctionGripper
from dexnet_core.sim.world import SimWorld

logger = logging.getLogger(__name__)

FAILURE_CAUSES = (
    "approach_blocked",  # the gripper starts in collision, or stops short of the grasp pose and then fails
    "missed",  # jaws closed on nothing
    "no_seal",  # suction lip does not seal (edge, curvature, two objects, tilt, nothing there)
    "dropped_lift",  # the object slipped out (or the seal broke) while lifting
    "dropped_shake",  # ... while shaking
)


@dataclass(frozen=True)
class TrialConfig:
    """Motion parameters of a trial (metres, m/s, Hz)."""

    pregrasp_distance: float = 0.10  # start this far back along the approach axis
    approach_speed: float = 0.3  # average speed of the free part of the approach
    contact_distance: float = 0.03  # the last part of the approach, at contact_speed
    contact_speed: float = 0.1
    reach_tolerance: float = 0.01  # a failed grasp stopped farther than this short of its pose was blocked
    block_lag: float = 0.015  # the approach stops when the gripper lags its target this much (<= 7 mm free)
    suction_overshoot: float = 0.01  # the cup pushes this far past the target point looking for contact
    lift_height: float = 0.20
    lift_speed: float = 0.25  # average; smoothstep peaks at ~1.9 m/s^2
    shake_amplitude: float = 0.02  # horizontal, along world x then y
    shake_speed: float = 0.1  # average; smoothstep peaks at ~3 m/s^2
    success_height: float = 0.10  # the held object must rise at least this much

    def __post_init__(self) -> None:
        for name in ("pregrasp_distance", "approach_speed", "contact_distance", "contact_speed",
                     "reach_tolerance", "block_lag", "lift_height", "lift_speed",
                     "shake_speed", "success_height"):
            if not getattr(self, name) > 0:
                raise ValueError(f"TrialConfig.{name} must be > 0, got {getattr(self, name)}")
        if self.success_height > self.lift_height:
            raise ValueError(f"TrialConfig.success_height ({self.success_height}) must be <= lift_height "
                             f"({self.lift_height})")
        if self.shake_amplitude < 0 or self.suction_overshoot < 0:
            raise ValueError(f"shake_amplitude and suction_overshoot must be >= 0, got "
                             f"{self.shake_amplitude}, {self.suction_overshoot}")


@dataclass(frozen=True)
class TrialResult:
    """Outcome of one trial. ``obj``: body id of the object held (success) or last held / sealed (None if
    none was); ``cause``: "success" or one of FAILURE_CAUSES; ``steps``: physics steps; ``wall_s``: wall
    seconds."""

    success: bool
    cause: str
    obj: int | None
    steps: int
    wall_s: float


def _shake_offsets(amplitude: float) -> list[np.ndarray]:
    a = amplitude
    return [np.array(v, dtype=np.float64) for v in
            ([a, 0, 0], [-2 * a, 0, 0], [a, 0, 0], [0, a, 0], [0, -2 * a, 0], [0, a, 0])]


class _StepCounter:
    """Counts steps and time of a trial; once ``blocked`` (the approach stopped short), any failure is
    reported as "approach_blocked"."""

    def __init__(self, world: SimWorld) -> None:
        self.world, self.start = world, time.perf_counter()
        self.n0 = world.steps
        self.blocked = False

    def result(self, success: bool, cause: str, obj: int | None) -> TrialResult:
        if not success and self.blocked:
            cause = "approach_blocked"
        return TrialResult(success, cause, obj, self.world.steps - self.n0, time.perf_counter() - self.start)


def run_trial(world: SimWorld, gripper: ParallelJawGripper | SuctionGripper, grasp_pose: np.ndarray,
              config: TrialConfig | None = None, remove_on_success: bool = True) -> TrialResult:
    """Execute one grasp. grasp_pose: (4, 4) world <- grasp frame (z = approach, y = jaw closing axis).

    The gripper is parked afterwards; the picked object is removed from the world if ``remove_on_success``.
    """
    config = config or TrialConfig()
    grasp_pose = np.asarray(grasp_pose, dtype=np.float64)
    if isinstance(gripper, SuctionGripper):
        result = _suction_trial(world, gripper, grasp_pose, config)
        gripper.release()
    else:
        result = _jaw_trial(world, gripper, grasp_pose, config)
        gripper.open()
    gripper.park()
    if result.success and remove_on_success:
        world.remove_object(result.obj)
    return result


def _approach_start(gripper, grasp_pose: np.ndarray, config: TrialConfig) -> np.ndarray | None:
    pre = grasp_pose.copy()
    pre[:3, 3] -= config.pregrasp_distance * grasp_pose[:3, 2]
    gripper.teleport(pre)
    return None if gripper.in_collision() else pre


def _approach(gripper, grasp_pose: np.ndarray, config: TrialConfig, blocked, overshoot: float = 0.0) -> float:
    """Move from the pre-grasp pose to ``grasp_pose`` (plus ``overshoot`` along the approach): fast, then the
    last ``contact_distance`` slowly, stopping for good once ``blocked()`` is true. Returns how far short
    of ``grasp_pose`` the gripper stopped, along the approach (m)."""
    a = grasp_pose[:3, 2]
    stopped = False

    def guard() -> bool:
        nonlocal stopped
        stopped = stopped or bool(blocked())
        return stopped

    contact = min(config.contact_distance, config.pregrasp_distance)
    gripper.move_linear((config.pregrasp_distance - contact) * a, config.approach_speed, settle_steps=0,
                        on_step=guard)
    if not stopped:
        gripper.move_linear((contact + overshoot) * a, config.contact_speed, on_step=guard)
    gripper.hold_here()
    return float((grasp_pose[:3, 3] - gripper.pose[:3, 3]) @ a)


def _jaw_trial(world: SimWorld, hand: ParallelJawGripper, grasp_pose: np.ndarray,
               config: TrialConfig) -> TrialResult:
    counter = _StepCounter(world)
    hand.open()
    if _approach_start(hand, grasp_pose, config) is None:
        return counter.result(False, "approach_blocked", None)
    shortfall = _approach(hand, grasp_pose, config, lambda: hand.lag > config.block_lag)
    counter.blocked = shortfall > config.reach_tolerance
    hand.close()
    held = hand.held_objects()
    if not held:
        return counter.result(False, "missed", None)
    z0 = {b: world.pose(b)[2, 3] for b in held}
    hand.move_linear(np.array([0.0, 0.0, config.lift_height]), config.lift_speed)
    held = hand.held_objects()
    if not held:
        return counter.result(False, "dropped_lift", next(iter(z0)))
    for offset in _shake_offsets(config.shake_amplitude):
        hand.move_linear(offset, config.shake_speed, settle_steps=2)
    held = [b for b in hand.held_objects()
            if b in z0 and world.pose(b)[2, 3] - z0[b] >= config.success_height]
    if not held:
        return counter.result(False, "dropped_shake", next(iter(z0)))
    return counter.result(True, "success", held[0])


def _suction_trial(world: SimWorld, cup: SuctionGripper, grasp_pose: np.ndarray,
                   config: TrialConfig) -> TrialResult:
    counter = _StepCounter(world)
    if _approach_start(cup, grasp_pose, config) is None:
        return counter.result(False, "approach_blocked", None)
    shortfall = _approach(cup, grasp_pose, config, cup.touching, overshoot=config.suction_overshoot)
    counter.blocked = shortfall > config.reach_tolerance
    body, reason = cup.seal()
    if body is None:
        logger.debug("no seal: %s", reason)
        return counter.result(False, "no_seal", None)
    z0 = world.pose(body)[2, 3]
    cup.attach(body)

    def lost() -> bool:
        return not cup.check_seal()

    cup.move_linear(np.array([0.0, 0.0, config.lift_height]), config.lift_speed, on_step=lost)
    if cup.attached is None:
        return counter.result(False, "dropped_lift", body)
    for offset in _shake_offsets(config.shake_amplitude):
        cup.move_linear(offset, config.shake_speed, settle_steps=2, on_step=lost)
        if cup.attached is None:
            return counter.result(False, "dropped_shake", body)
    if world.pose(body)[2, 3] - z0 < config.success_height:
        return counter.result(False, "dropped_shake", body)
    return counter.result(True, "success", body)
