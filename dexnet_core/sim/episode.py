"""Bin clearing: render the tray, plan, execute the grasp in pybullet, remove what was picked, repeat.

An episode starts from ``make_tray_scene`` (held-out objects in stable poses, drawn from the seed) and a
camera (tilted up to ``camera_tilt_deg``, drawn from the seed), so every policy run with the same seed starts
from the same tray under the same camera; frames go through the episode's sensor model. It ends when the tray
is empty, after ``max_consecutive_failures`` failed attempts in a row, after ``max_attempts`` or when the
policy finds no grasp. Objects knocked out of the tray are removed and counted.
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

MAX_PLACEMENT_ERROR_M = 0.05


def check_placement_error(sigma_m: float, name: str) -> None:
    """Raise ValueError (naming ``name``) unless the placement error ``sigma_m`` is in [0, 5 cm]."""
    if not 0 <= sigma_m <= MAX_PLACEMENT_ERROR_M:
        raise ValueError(f"{name} must be in [0, {MAX_PLACEMENT_ERROR_M}] m, got {sigma_m}")


@dataclass(frozen=True)
class EpisodeConfig:
    """One bin-clearing episode."""

    num_objects: int = 5
    max_consecutive_failures: int = 3
    max_attempts: int = 0  # 0: 2 * num_objects + max_consecutive_failures
    camera_height_m: float = 0.7  # camera distance to the tray centre (its height when untilted)
    camera_tilt_deg: float = 0.0  # camera tilt from vertical per episode, uniform in [0, this] (free azimuth)
    intrinsics: CameraIntrinsics = PRIMESENSE
    sensor: str = "gaussian"  # dexnet_core.synth.sensors model(s) of the frames ("ideal": none; "mix" or a
    # comma-separated list: one drawn per episode)
    fixtures: int = 0  # robot-like fixtures standing along one image border outside the tray, per episode
    placement_error_m: float = 0.0  # std (m) per horizontal axis of where the gripper lands off the planned
    # grasp, drawn per attempt (hand-eye calibration, robot repeatability); 0: exactly on it
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
        from dexnet_core.synth.frames import MAX_TILT_DEG
        from dexnet_core.synth.sensors import parse_sensors

        if not 0 <= self.camera_tilt_deg <= MAX_TILT_DEG:
            raise ValueError(f"EpisodeConfig.camera_tilt_deg must be in [0, {MAX_TILT_DEG:g}] degrees, "
                             f"got {self.camera_tilt_deg}")
        parse_sensors(self.sensor)
        if not 0 <= self.fixtures <= 6:
            raise ValueError(f"EpisodeConfig.fixtures must be in [0, 6], got {self.fixtures}")
        check_placement_error(self.placement_error_m, "EpisodeConfig.placement_error_m")

    def episode_fixtures(self, seed: int, camera_pose: np.ndarray) -> list:
        """Static table, tray and ``fixtures`` robot-like fixtures (drawn from ``seed``) of episode ``seed``:
        world-frame meshes for SimWorld."""
        from dexnet_core.synth.frames import border_fixtures
        from dexnet_core.synth.scene import TRAY_SIZE_M, TRAY_WALL_M, table_mesh, tray_meshes

        static = [table_mesh(), *tray_meshes()]
        if self.fixtures:
            tray = (np.zeros(2), np.eye(2), np.array(TRAY_SIZE_M) / 2 + TRAY_WALL_M[0])
            static += border_fixtures(np.random.default_rng([seed, 5]), self.intrinsics, camera_pose,
                                      self.fixtures, self.camera_height_m, keep_out=tray)
        return static

    def episode_sensor(self, seed: int) -> str:
        """Name of the sensor model of episode ``seed``."""
        from dexnet_core.synth.sensors import parse_sensors

        names = parse_sensors(self.sensor)
        if len(names) == 1:
            return names[0]
        return names[int(np.random.default_rng([seed, 4]).integers(len(names)))]

    def camera_pose(self, seed: int) -> np.ndarray:
        """(4, 4) world <- camera optical frame of episode ``seed``: looking at the tray centre from
        camera_height_m, tilted by a draw from [0, camera_tilt_deg] towards a random azimuth."""
        from dexnet_core.synth.render import look_at_pose
        from dexnet_core.synth.scene import overhead_camera_pose

        if self.camera_tilt_deg == 0:
            return overhead_camera_pose(self.camera_height_m)
        rng = np.random.default_rng([seed, 3])
        tilt = np.radians(rng.uniform(0.0, self.camera_tilt_deg))
        return look_at_pose(np.zeros(3), self.camera_height_m, tilt, rng.uniform(-np.pi, np.pi), 0.0)

    def executed_pose(self, pose: np.ndarray, seed: int, attempt: int) -> np.ndarray:
        """(4, 4) world pose the gripper reaches for the planned world ``pose`` at ``attempt`` (0-based) of
        episode ``seed``: shifted in the table plane by the placement error, drawn from the seed and the
        attempt so that every policy meets the same errors."""
        if self.placement_error_m == 0:
            return pose
        out = pose.copy()
        out[:2, 3] += np.random.default_rng([seed, 6, attempt]).normal(0.0, self.placement_error_m, 2)
        return out

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
    """Renders the pybullet world with embree through a dexnet_core.synth TrayScene and a sensor model."""

    def __init__(self, world: SimWorld, intrinsics: CameraIntrinsics, camera_pose: np.ndarray,
                 sensor: str = "gaussian") -> None:
        from dexnet_core.synth.sensors import get_sensor

        self.world, self.intrinsics, self.camera_pose = world, intrinsics, camera_pose
        self.sensor = get_sensor(sensor)

    def render(self, rng: np.random.Generator | None) -> tuple[np.ndarray, np.ndarray]:
        """(depth (H, W) float32 metres as the sensor reports it if ``rng`` (NaN = missing), else noise-free;
        body id seen per pixel (H, W) int, -1 none)."""
        from dexnet_core.synth.render import render_window
        from dexnet_core.synth.scene import TrayScene

        objects = self.world.object_meshes()
        scene = TrayScene(objects, [self.world.pose(b) for b, _ in objects], list(self.world.fixtures))
        depth, geom = render_window(scene.raycaster, self.intrinsics, self.camera_pose)
        ids = np.array([b for b, _ in objects] + [-1] * len(self.world.fixtures) + [-1], dtype=np.int64)
        body = ids[geom]  # geom -1 indexes the trailing -1
        if rng is not None:
            depth = self.sensor.apply(depth, self.intrinsics, rng)
        return depth, body


def run_episode(policy, objects: list, seed: int, config: EpisodeConfig | None = None,
                keep_frames: int = 0) -> EpisodeResult:
    """Run one bin-clearing episode of ``policy`` on a tray drawn (by ``seed``) from ``objects``
    (dexnet_core.synth ObjectMesh list). ``keep_frames``: how many attempts to keep images of."""
    from dexnet_core.synth.scene import make_tray_scene

    config = config or EpisodeConfig()
    scene = make_tray_scene(config.num_objects, np.random.default_rng(seed), objects=objects)
    by_id = {o.object_id: o for o in objects}
    noise_rng = np.random.default_rng([seed, 1])
    policy_rng = np.random.default_rng([seed, 2])
    camera_pose = config.camera_pose(seed)
    names: list[str] = []
    with SimWorld(config.world, config.episode_fixtures(seed, camera_pose)) as world:
        for (object_id, _), pose in zip(scene.meshes, scene.poses):
            lifted = pose.copy()
            lifted[2, 3] += 0.002
            world.add_object(sim_object(by_id[object_id]), lifted)
            names.append(by_id[object_id].name)
        world.settle()
        gripper = SuctionGripper(world) if policy.gripper == "suction" else ParallelJawGripper(world)
        renderer = SceneRenderer(world, config.intrinsics, camera_pose, config.episode_sensor(seed))
        result = EpisodeResult(seed, policy.name, policy.gripper, names, [], 0)
        failures = 0
        while world.object_ids and failures < config.max_consecutive_failures \
                and len(result.attempts) < config.attempt_limit:
            depth, seen = renderer.render(noise_rng)
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
            pose = config.executed_pose(grasp_pose_world(g, camera_pose), seed, len(result.attempts))
            trial = run_trial(world, gripper, pose, config.trial,
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
