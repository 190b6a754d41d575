"""Bin clearing: render the tray, plan, execute the grasp in pybullet, remove what was picked, repeat.

An episode starts from ``make_tray_scene`` (held-out objects in stable poses, drawn from the seed), so every
policy run with the same seed starts from the same tray. It ends when the tray is empty, after
``max_consecutive_failures`` failed attempts in a row, after ``max_attempts`` or when the policy finds no
grasp. Objects knocked out of the tray are removed and counted.
"""

from __future__ import annotations

import functools
import logging
import time
from dataclasses import asdict, dataclass, field

import numpy as np

from dexnet_core.camera import PRIMESENSE, CameraIntrinsics
from dexnet_core.errors import NoValidGraspError
from dexnet_core.sim.grippers import ParallelJawGripper, SuctionGripper
from dexnet_core.sim.policies import Observation, grasp_pose_world
from dexnet_core.sim.trials import TrialConfig, run_trial
from dexnet_core.sim.world import SimObject, SimWorld, WorldConfig, mesh_object

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class EpisodeConfig:
    """One bin-clearing episode."""

    num_objects: int = 5
    max_consecutive_failures: int = 3
    max_attempts: int = 0  # 0: 2 * num_objects + max_consecutive_failures
    camera_height_m: float = 0.7  # overhead camera, looking straight down at the tray centre
    intrinsics: CameraIntrinsics = PRIMESENSE
    depth_noise: bool = True  # dexnet_core.synth.render.DepthNoise on every rendered frame
    split: str = "val"  # object split of dexnet_core.synth's mesh library (held-out objects)
    world: WorldConfig = field(default_factory=WorldConfig)
    trial: TrialConfig = field(default_factory=TrialConfig)

    def __post_init__(self) -> None:
        if self.num_objects < 1:
            raise ValueError(f"EpisodeConfig.num_objects must be >= 1, got {self.num_objects}")
        if self.max_consecutive_failures < 1:
            raise ValueError(f"EpisodeConfig.max_consecutive_failures must be >= 1, "
                             f"got {self.max_consecutive_failures}")
        if self.max_attempts < 0:
            raise ValueError(f"EpisodeConfig.max_attempts must be >= 0, got {self.max_attempts}")
        if not self.camera_height_m > 0:
            raise ValueError(f"EpisodeConfig.camera_height_m must be > 0, got {self.camera_height_m}")

    @property
    def attempt_limit(self) -> int:
        """Effective maximum number of attempts."""
        return self.max_attempts or 2 * self.num_objects + self.max_consecutive_failures


@dataclass(frozen=True)
class Attempt:
    """One grasp attempt. cause: "success", a trials.FAILURE_CAUSES entry or "no_grasp" (the policy found
    none); target: name of the object under the grasp centre pixel (None: background)."""

    success: bool
    cause: str
    target: str | None
    picked: str | None
    q_value: float
    plan_s: float
    sim_s: float
    center_px: tuple[float, float]
    angle: float
    depth: float

    def to_dict(self) -> dict:
        """JSON-ready mapping."""
        return asdict(self)


@dataclass
class Frame:
    """What the policy saw and chose at one attempt (kept for the episode image)."""

    depth: np.ndarray
    heatmap: np.ndarray | None
    grasp: object  # dexnet_core.planning.grasp.Grasp


@dataclass
class EpisodeResult:
    """Outcome of one episode of one policy."""

    seed: int
    policy: str
    gripper: str
    objects: list[str]
    attempts: list[Attempt]
    knocked_out: int
    frames: list[Frame] = field(default_factory=list, repr=False)

    @property
    def picked(self) -> int:
        """Objects picked."""
        return sum(a.success for a in self.attempts)

    @classmethod
    def from_dict(cls, d: dict) -> EpisodeResult:
        """Inverse of ``to_dict`` (frames are not stored)."""
        attempts = [Attempt(**{**a, "center_px": tuple(a["center_px"])}) for a in d["attempts"]]
        return cls(int(d["seed"]), d["policy"], d["gripper"], list(d["objects"]), attempts,
                   int(d["knocked_out"]))

    def to_dict(self) -> dict:
        """JSON-ready mapping (without frames)."""
        return {"seed": self.seed, "policy": self.policy, "gripper": self.gripper, "objects": self.objects,
                "picked": self.picked, "knocked_out": self.knocked_out,
                "attempts": [a.to_dict() for a in self.attempts]}


@functools.lru_cache(maxsize=8)
def _raw_sources(source: str) -> dict[str, object]:
    from dexnet_core.synth.meshes import list_sources

    return {s.name: s for s in list_sources(source)}


def sim_object(obj) -> SimObject:
    """SimObject of a dexnet_core.synth ``ObjectMesh``: its watertight body is rendered, the convex parts of
    its source file (from its family or folder, ``obj.source``; dilated like the watertight union) collide."""
    from dexnet_core.synth.meshes import require_trimesh

    trimesh = require_trimesh()
    src = _raw_sources(obj.source).get(obj.name)
    parts = None
    if src is not None:
        parts = trimesh.load(src.path, force="mesh", process=False)
        parts.apply_scale(src.scale)
    return mesh_object(obj.name, obj.mesh, obj.mass, parts_mesh=parts)


class SceneRenderer:
    """Renders the pybullet world with embree through a dexnet_core.synth TrayScene."""

    def __init__(self, world: SimWorld, intrinsics: CameraIntrinsics, camera_pose: np.ndarray) -> None:
        self.world, self.intrinsics, self.camera_pose = world, intrinsics, camera_pose

    def render(self, rng: np.random.Generator | None) -> tuple[np.ndarray, np.ndarray]:
        """(depth (H, W) float32 metres with noise if ``rng``, body id seen per pixel (H, W) int, -1 none)."""
        from dexnet_core.synth.render import DepthNoise, render_window
        from dexnet_core.synth.scene import TrayScene

        objects = self.world.object_meshes()
        scene = TrayScene(objects, [self.world.pose(b) for b, _ in objects], list(self.world.fixtures))
        depth, geom = render_window(scene.raycaster, self.intrinsics, self.camera_pose)
        ids = np.array([b for b, _ in objects] + [-1] * len(self.world.fixtures) + [-1], dtype=np.int64)
        body = ids[geom]  # geom -1 indexes the trailing -1
        if rng is not None:
            depth = DepthNoise().apply(depth, rng)
        return depth, body


def run_episode(policy, objects: list, seed: int, config: EpisodeConfig | None = None,
                keep_frames: int = 0) -> EpisodeResult:
    """Run one bin-clearing episode of ``policy`` on a tray drawn (by ``seed``) from ``objects``
    (dexnet_core.synth ObjectMesh list). ``keep_frames``: how many attempts to keep images of."""
    from dexnet_core.synth.scene import make_tray_scene, overhead_camera_pose

    config = config or EpisodeConfig()
    scene = make_tray_scene(config.num_objects, np.random.default_rng(seed), objects=objects)
    by_id = {o.object_id: o for o in objects}
    noise_rng = np.random.default_rng([seed, 1])
    policy_rng = np.random.default_rng([seed, 2])
    camera_pose = overhead_camera_pose(config.camera_height_m)
    names: list[str] = []
    with SimWorld(config.world) as world:
        for (object_id, _), pose in zip(scene.meshes, scene.poses):
            lifted = pose.copy()
            lifted[2, 3] += 0.002
            world.add_object(sim_object(by_id[object_id]), lifted)
            names.append(by_id[object_id].name)
        world.settle()
        gripper = SuctionGripper(world) if policy.gripper == "suction" else ParallelJawGripper(world)
        renderer = SceneRenderer(world, config.intrinsics, camera_pose)
        result = EpisodeResult(seed, policy.name, policy.gripper, names, [], 0)
        failures = 0
        while world.object_ids and failures < config.max_consecutive_failures \
                and len(result.attempts) < config.attempt_limit:
            depth, seen = renderer.render(noise_rng if config.depth_noise else None)
            obs = Observation(depth, config.intrinsics, camera_pose, seen >= 0)
            try:
                action = policy.act(obs, policy_rng)
            except NoValidGraspError as exc:
                logger.info("episode %d (%s): no grasp: %s", seed, policy.name, exc)
                result.attempts.append(Attempt(False, "no_grasp", None, None, 0.0, 0.0, 0.0, (0.0, 0.0),
                                               0.0, 0.0))
                break
            g = action.grasp
            u, v = (int(round(x)) for x in g.center_px)
            target_body = int(seen[v, u]) if 0 <= v < seen.shape[0] and 0 <= u < seen.shape[1] else -1
            target = world.object(target_body).name if target_body >= 0 else None
            start = time.perf_counter()
            trial = run_trial(world, gripper, grasp_pose_world(g, camera_pose), config.trial,
                              remove_on_success=False)
            picked = world.object(trial.obj).name if trial.success else None
            if trial.success:
                world.remove_object(trial.obj)
            for body in [b for b in world.object_ids if not world.in_tray(b)]:
                world.remove_object(body)
                result.knocked_out += 1
            world.settle()
            if len(result.frames) < keep_frames:
                result.frames.append(Frame(depth, action.heatmap, g))
            result.attempts.append(Attempt(trial.success, trial.cause, target, picked, g.q_value,
                                           action.plan_s, time.perf_counter() - start, g.center_px,
                                           g.angle, g.depth))
            failures = 0 if trial.success else failures + 1
    return result
