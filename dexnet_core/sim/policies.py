"""Grasp policies compared by the benchmark: our planner and two baselines.

Every policy sees the same ``Observation`` (rendered depth, intrinsics, camera pose and the object mask)
and returns a ``PolicyAction`` holding a dexnet_core.planning ``Grasp`` in the camera optical frame, so all
of them are executed by the same code. Baselines use the planner's grasp conventions (gripper depth =
surface depth + the mid depth offset of PlannerConfig; suction approach along the fitted surface normal).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from dexnet_core.camera import CameraIntrinsics
from dexnet_core.errors import NoValidGraspError
from dexnet_core.planning.config import PlannerConfig
from dexnet_core.planning.grasp import (
    GRIPPERS,
    Grasp,
    approach_frame,
    parallel_jaw_frame,
    quaternion_from_matrix,
    surface_normal,
)

POLICIES = ("planner", "heuristic", "random")


@dataclass(frozen=True)
class Observation:
    """What a policy sees. depth (H, W) float32 metres (NaN = no return); camera_pose (4, 4) world <- optical
    frame; mask (H, W) bool: pixels of objects (the same segmentation for every policy)."""

    depth: np.ndarray
    intrinsics: CameraIntrinsics
    camera_pose: np.ndarray
    mask: np.ndarray


@dataclass(frozen=True)
class PolicyAction:
    """A chosen grasp, the heatmap behind it ((H, W) float32, or None) and the planning time (s)."""

    grasp: Grasp
    heatmap: np.ndarray | None
    plan_s: float


class PlannerPolicy:
    """dexnet_core.planning.GraspPlanner, as the ROS node runs it, on the object mask (``use_mask``) or on
    the raw frame (its automatic workspace only)."""

    name = "planner"

    def __init__(self, planner, use_mask: bool = True) -> None:
        self.planner = planner
        self.gripper = planner.gqm.gripper
        self.use_mask = use_mask

    def act(self, obs: Observation, rng: np.random.Generator) -> PolicyAction:
        """Best planned grasp; raises NoValidGraspError when there is none."""
        start = time.perf_counter()
        mask = obs.mask if self.use_mask else None
        result = self.planner.plan(obs.depth, obs.intrinsics, mask=mask, max_grasps=1)
        return PolicyAction(result.grasps[0], result.heatmap, time.perf_counter() - start)


class _BaselinePolicy:
    def __init__(self, gripper: str, config: PlannerConfig | None = None) -> None:
        if gripper not in GRIPPERS:
            raise ValueError(f"gripper must be one of {GRIPPERS}, got {gripper!r}")
        self.gripper = gripper
        self.config = config or PlannerConfig()

    def _grasp(self, obs: Observation, u: float, v: float, angle: float) -> Grasp:
        """Grasp at pixel (u, v) with jaw angle ``angle`` (ignored for suction), planner conventions."""
        depth = np.where(np.isfinite(obs.depth), obs.depth, 0.0)
        surface = float(depth[int(round(v)), int(round(u))])
        if self.gripper == "suction":
            normal = surface_normal(depth, obs.intrinsics, u, v, self.config.normal_window_px)
            rot, z, angle, width = approach_frame(-normal), surface, 0.0, 0.0
        else:
            z = surface + 0.5 * sum(self.config.depth_offsets)
            rot, width = parallel_jaw_frame(angle), self.config.jaw_width_m
        position = obs.intrinsics.deproject(np.array([[u, v]]), np.array([z]))[0]
        return Grasp(center_px=(float(u), float(v)), angle=float(angle), depth=float(z), width=float(width),
                     q_value=0.0, gripper=self.gripper, position=tuple(float(x) for x in position),
                     orientation=tuple(float(x) for x in quaternion_from_matrix(rot)))


def _candidates(obs: Observation) -> tuple[np.ndarray, np.ndarray]:
    ok = obs.mask & np.isfinite(obs.depth)
    v, u = np.nonzero(ok)
    if len(u) == 0:
        raise NoValidGraspError("no object pixel with valid depth")
    return u, v


class RandomPolicy(_BaselinePolicy):
    """A uniformly random object pixel; random jaw angle in [0, pi)."""

    name = "random"

    def act(self, obs: Observation, rng: np.random.Generator) -> PolicyAction:
        start = time.perf_counter()
        u, v = _candidates(obs)
        k = int(rng.integers(len(u)))
        grasp = self._grasp(obs, float(u[k]), float(v[k]), float(rng.uniform(0.0, math.pi)))
        return PolicyAction(grasp, None, time.perf_counter() - start)


class HeuristicPolicy(_BaselinePolicy):
    """The highest object: grasp its mask centroid (snapped onto the mask), jaws closing along the mask's
    minor principal axis; suction approaches along the surface normal there."""

    name = "heuristic"

    def act(self, obs: Observation, rng: np.random.Generator) -> PolicyAction:
        import cv2

        start = time.perf_counter()
        u, v = _candidates(obs)
        top = int(np.argmin(obs.depth[v, u]))
        _, labels = cv2.connectedComponents(obs.mask.astype(np.uint8), connectivity=8)
        sel = labels[v, u] == labels[v[top], u[top]]
        pts = np.stack([u[sel], v[sel]], axis=1).astype(np.float64)
        centre = pts.mean(axis=0)
        nearest = pts[int(np.argmin(((pts - centre) ** 2).sum(axis=1)))]
        evals, evecs = np.linalg.eigh(np.cov((pts - centre).T) if len(pts) > 2 else np.eye(2))
        minor = evecs[:, 0]  # eigh sorts ascending: smallest spread first
        angle = math.atan2(minor[1], minor[0]) % math.pi
        grasp = self._grasp(obs, float(nearest[0]), float(nearest[1]), angle)
        return PolicyAction(grasp, None, time.perf_counter() - start)


def grasp_pose_world(grasp: Grasp, camera_pose: np.ndarray) -> np.ndarray:
    """(4, 4) world <- grasp frame of a planned grasp (optical-frame position and quaternion)."""
    from dexnet_core.sim.world import pq_to_pose

    return np.asarray(camera_pose, dtype=np.float64) @ pq_to_pose(grasp.position, grasp.orientation)


def make_policy(name: str, gripper: str, model: str | None = None,
                planner_config: PlannerConfig | None = None, device: str = "cpu", object_mask: bool = True):
    """Build a policy by name ("planner" needs ``model``: a checkpoint path or shipped model name;
    ``object_mask`` False: the planner does without the object mask)."""
    if name == "planner":
        if model is None:
            raise ValueError("the planner policy needs a model (checkpoint path or shipped name)")
        from dexnet_core.models.pretrained import check_gripper
        from dexnet_core.planning.planner import GraspPlanner

        planner = GraspPlanner.from_checkpoint(model, planner_config, device=device, bare_gripper=gripper)
        check_gripper(model, planner.gqm.gripper, gripper)
        return PlannerPolicy(planner, use_mask=object_mask)
    if name == "heuristic":
        return HeuristicPolicy(gripper, planner_config)
    if name == "random":
        return RandomPolicy(gripper, planner_config)
    raise ValueError(f"unknown policy {name!r}; valid: {list(POLICIES)}")
