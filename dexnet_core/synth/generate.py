"""One shard of a synthetic Dex-Net dataset, derived only from (seed, shard index).

Each rendered image shows one object in a stable pose on the table, seen by a Primesense-like camera with
randomised distance, tilt, roll and intrinsics. Grasps are sampled on it, labelled analytically on the
mesh and cut out of the noisy depth image as 32x32 crops at the metric training scale.
Parallel jaw: antipodal-biased grasps plus uniform image-space grasps (pixel, angle, gripper depth below
the surface, as a dense planner tries them), labelled by robust force closure. Suction: points on the
object (and some off it), approach against the surface normal, labelled by robust seal + wrench resistance.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from dexnet_core.camera import PRIMESENSE, CameraIntrinsics
from dexnet_core.synth.antipodal import ParallelJawGripper, sample_antipodal
from dexnet_core.synth.crops import crop_scale, extract_crops, shrink
from dexnet_core.synth.grasp_quality import GraspNoise, robust_force_closure
from dexnet_core.synth.meshes import ObjectMesh, draw_probabilities
from dexnet_core.synth.render import DepthNoise, Raycaster, look_at_pose, render_window
from dexnet_core.synth.scene import place_object, table_mesh
from dexnet_core.synth.suction import SuctionCup, SuctionNoise, robust_suction_quality

GRIPPERS = ("parallel_jaw", "suction")
LABEL_FIELDS = {"parallel_jaw": "robust_force_closure", "suction": "robust_suction_wrench_resistance"}


@dataclass(frozen=True)
class CameraRange:
    """Random camera: distance to the object (m), tilt from vertical (rad), focal/centre jitter."""

    distance: tuple[float, float] = (0.5, 0.8)
    max_tilt: float = 0.25
    focal_jitter: float = 0.05  # relative
    center_jitter_px: float = 10.0
    base: CameraIntrinsics = PRIMESENSE

    def __post_init__(self) -> None:
        lo, hi = self.distance
        if not 0 < lo <= hi:
            raise ValueError(f"CameraRange.distance must satisfy 0 < min <= max, got {self.distance}")
        if not 0 <= self.max_tilt < 1.2:
            raise ValueError(f"CameraRange.max_tilt must be in [0, 1.2) rad, got {self.max_tilt}")

    def sample(self, rng: np.random.Generator, target: np.ndarray) -> tuple[CameraIntrinsics, np.ndarray]:
        """Random (intrinsics, (4, 4) world <- camera pose) looking at ``target``."""
        b = self.base
        f = b.fx * (1 + self.focal_jitter * rng.uniform(-1, 1))
        cx, cy = b.cx + self.center_jitter_px * rng.uniform(-1, 1, 2)
        k = CameraIntrinsics(f, f, cx, cy, b.width, b.height)
        pose = look_at_pose(target, rng.uniform(*self.distance), rng.uniform(0, self.max_tilt),
                            rng.uniform(-np.pi, np.pi), rng.uniform(-np.pi, np.pi))
        return k, pose


@dataclass(frozen=True)
class SynthConfig:
    """Everything that determines a dataset's content (written to dataset.yaml)."""

    gripper: str = "parallel_jaw"
    seed: int = 0
    num_datapoints: int = 10000
    shard_size: int = 1000
    grasps_per_image: int = 80
    uniform_fraction: float = 0.4  # parallel jaw: share of uniform image-space grasps
    off_object_fraction: float = 0.1  # suction: share of points anywhere in the window
    depth_offsets: tuple[float, float] = (-0.005, 0.06)  # uniform grasps: gripper depth below the surface
    crop_size_px: int = 96
    training_depth_m: float = 0.7
    training_focal_px: float = 525.0
    collision_points: int = 1500
    scale_jitter: float = 0.0  # per view, each table axis of the object scales by exp(U(-j, j)); 0: as meshed
    camera: CameraRange = field(default_factory=CameraRange)
    depth_noise: DepthNoise = field(default_factory=DepthNoise)
    jaw: ParallelJawGripper = field(default_factory=ParallelJawGripper)
    jaw_noise: GraspNoise = field(default_factory=GraspNoise)
    cup: SuctionCup = field(default_factory=SuctionCup)
    suction_noise: SuctionNoise = field(default_factory=SuctionNoise)

    def __post_init__(self) -> None:
        if self.gripper not in GRIPPERS:
            raise ValueError(f"gripper must be one of {GRIPPERS}, got {self.gripper!r}")
        for name in ("num_datapoints", "shard_size", "grasps_per_image", "crop_size_px", "collision_points"):
            if getattr(self, name) < 1:
                raise ValueError(f"synth.{name} must be >= 1, got {getattr(self, name)}")
        for name in ("uniform_fraction", "off_object_fraction", "scale_jitter"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"synth.{name} must be in [0, 1], got {getattr(self, name)}")
        if self.depth_offsets[0] > self.depth_offsets[1]:
            raise ValueError(f"synth.depth_offsets must be (min, max), got {self.depth_offsets}")

    @property
    def label_field(self) -> str:
        return LABEL_FIELDS[self.gripper]

    @property
    def num_shards(self) -> int:
        return -(-self.num_datapoints // self.shard_size)

    def shard_length(self, index: int) -> int:
        """Datapoints in shard ``index`` (the last one may be shorter)."""
        return min(self.shard_size, self.num_datapoints - index * self.shard_size)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["camera"]["base"] = asdict(self.camera.base)
        return d


class SynthImage:
    """One rendered view of one object: geometry, camera and the noisy, shrunk depth window."""

    def __init__(self, cfg: SynthConfig, obj: ObjectMesh, rng: np.random.Generator) -> None:
        self.obj = obj
        self.pose_index = int(rng.choice(len(obj.pose_probs), p=obj.pose_probs))
        self.pose = place_object(obj, rng, pose_index=self.pose_index)
        mesh = obj.mesh.copy()
        mesh.apply_transform(self.pose)
        self.mass = obj.mass
        if cfg.scale_jitter > 0:
            # about the table origin under the object's centre: it stays stable and on the table
            s = np.exp(rng.uniform(-cfg.scale_jitter, cfg.scale_jitter, 3))
            mesh.apply_transform(np.diag([*s, 1.0]))
            self.mass *= float(np.prod(s))
        self.mesh = mesh
        self.caster = Raycaster([mesh])
        self.scene = Raycaster([mesh, table_mesh()])
        samples = mesh.sample(cfg.collision_points, seed=int(rng.integers(2**31)))
        self.points = np.concatenate([mesh.vertices, samples])
        lo, hi = mesh.bounds
        target = (lo + hi) / 2 + np.append(rng.uniform(-0.04, 0.04, 2), 0.0)
        self.k, self.cam = cfg.camera.sample(rng, target)
        # reference depth: the table plane along the optical axis (the scene's median depth)
        self.ref_depth = float(self.cam[2, 3] / -self.cam[2, 2])
        sx, sy = (crop_scale(f, self.ref_depth, cfg.crop_size_px, cfg.training_depth_m, cfg.training_focal_px)
                  for f in (self.k.fx, self.k.fy))
        # window: the object's projection plus half a rotated crop
        corners = np.array(np.meshgrid(*zip(lo, hi))).T.reshape(-1, 3)
        uv = self.k.project((corners - self.cam[:3, 3]) @ self.cam[:3, :3])
        margin = np.sqrt(2) * 16 / min(sx, sy) + 3
        c0, r0 = np.maximum(np.floor(uv.min(axis=0) - margin), 0).astype(int)
        c1 = int(min(np.ceil(uv[:, 0].max() + margin), self.k.width))
        r1 = int(min(np.ceil(uv[:, 1].max() + margin), self.k.height))
        self.window = (int(r0), r1, int(c0), c1)
        depth, self.geom = render_window(self.scene, self.k, self.cam, self.window)
        self.clean = np.where(np.isnan(depth), self.ref_depth * 2, depth)
        noisy = cfg.depth_noise.apply(self.clean, rng)
        self.small, self.scale = shrink(noisy, (sx, sy))
        self.valid_margin = 16 / min(sx, sy) + 1  # crop centres this far inside the window (px)

    def to_camera(self, world: np.ndarray) -> np.ndarray:
        return (np.asarray(world) - self.cam[:3, 3]) @ self.cam[:3, :3]

    def to_world(self, cam: np.ndarray) -> np.ndarray:
        return np.asarray(cam) @ self.cam[:3, :3].T + self.cam[:3, 3]

    def inside(self, uv: np.ndarray) -> np.ndarray:
        """(n,) bool: crop centres (input pixels) far enough from the window edges."""
        r0, r1, c0, c1 = self.window
        m = self.valid_margin
        u, v = uv[:, 0], uv[:, 1]
        return (u >= c0 + m) & (u <= c1 - 1 - m) & (v >= r0 + m) & (v <= r1 - 1 - m)

    def crops(self, uv: np.ndarray, angles: np.ndarray) -> np.ndarray:
        r0, _, c0, _ = self.window
        return extract_crops(self.small, self.scale, uv - [c0, r0], angles)

    def random_pixels(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """(n, 2) uniform integer pixel centres (u, v) inside the valid part of the window."""
        r0, r1, c0, c1 = self.window
        m = int(np.ceil(self.valid_margin))
        u = rng.integers(c0 + m, max(c0 + m + 1, c1 - m), n)
        v = rng.integers(r0 + m, max(r0 + m + 1, r1 - m), n)
        return np.stack([u, v], axis=1).astype(np.float64)


def _parallel_jaw(cfg: SynthConfig, img: SynthImage, rng: np.random.Generator) -> dict[str, np.ndarray]:
    n_uni = int(round(cfg.grasps_per_image * cfg.uniform_fraction))
    centers, axes = sample_antipodal(img.mesh, rng, cfg.grasps_per_image - n_uni, cfg.jaw, img.caster)
    # uniform image-space grasps: pixel, jaw angle, gripper depth below the (noise-free) surface
    uv = img.random_pixels(rng, n_uni)
    r0, _, c0, _ = img.window
    surface = img.clean[uv[:, 1].astype(int) - r0, uv[:, 0].astype(int) - c0]
    z = surface + rng.uniform(*cfg.depth_offsets, n_uni)
    cu = img.to_world(img.k.deproject(uv, z))
    ang = rng.uniform(-np.pi, np.pi, n_uni)
    img_dir = np.stack([np.cos(ang), np.sin(ang), np.zeros(n_uni)], axis=1) @ img.cam[:3, :3].T
    img_dir[:, 2] = 0.0
    ua = img_dir / np.maximum(np.linalg.norm(img_dir, axis=1, keepdims=True), 1e-9)
    centers, axes = np.concatenate([centers, cu]), np.concatenate([axes, ua])

    cam_c = img.to_camera(centers)
    uv = img.k.project(cam_c)
    tip = img.k.project(img.to_camera(centers + 0.01 * axes))
    angle = np.arctan2(tip[:, 1] - uv[:, 1], tip[:, 0] - uv[:, 0])
    keep = img.inside(uv) & (cam_c[:, 2] > 0)
    centers, axes, uv, angle, cam_c = centers[keep], axes[keep], uv[keep], angle[keep], cam_c[keep]
    pfc, _, width = robust_force_closure(img.caster, img.points, centers, axes, cfg.jaw, cfg.jaw_noise, rng)
    poses = np.zeros((len(uv), 7), np.float32)
    poses[:, 0], poses[:, 1], poses[:, 2], poses[:, 3] = uv[:, 1], uv[:, 0], cam_c[:, 2], angle
    poses[:, 6] = np.where(np.isfinite(width), width, cfg.jaw.max_width)
    return {"depth_ims_tf_table": img.crops(uv, angle), "hand_poses": poses, cfg.label_field: pfc}


def _suction(cfg: SynthConfig, img: SynthImage, rng: np.random.Generator) -> dict[str, np.ndarray]:
    n = cfg.grasps_per_image
    r0, _, c0, _ = img.window
    uv = img.random_pixels(rng, 4 * n)
    on_obj = img.geom[uv[:, 1].astype(int) - r0, uv[:, 0].astype(int) - c0] == 0
    n_off = int(round(n * cfg.off_object_fraction))
    pick = np.concatenate([np.flatnonzero(on_obj)[: n - n_off], np.flatnonzero(~on_obj)[:n_off]])
    uv = uv[pick]
    rays = uv - [img.k.cx, img.k.cy]
    d_cam = np.concatenate([rays / [img.k.fx, img.k.fy], np.ones((len(uv), 1))], axis=1)
    d_cam /= np.linalg.norm(d_cam, axis=1, keepdims=True)
    d_world = d_cam @ img.cam[:3, :3].T
    dist, geom, normals = img.scene.cast(np.broadcast_to(img.cam[:3, 3], d_world.shape), d_world)
    hit = np.isfinite(dist)
    uv, d_cam, d_world, dist, geom, normals = (a[hit] for a in (uv, d_cam, d_world, dist, geom, normals))
    points = img.cam[:3, 3] + d_world * dist[:, None]
    approach = -normals.astype(np.float64)
    quality = np.zeros(len(uv), np.float32)
    on = geom == 0
    if on.any():
        quality[on] = robust_suction_quality(img.caster, points[on], approach[on], img.mesh.center_mass,
                                             img.mass, cfg.cup, cfg.suction_noise, rng)
    cam_dir = img.cam[:3, 2]
    poses = np.zeros((len(uv), 7), np.float32)
    poses[:, 0], poses[:, 1], poses[:, 2] = uv[:, 1], uv[:, 0], dist * d_cam[:, 2]
    poses[:, 3] = np.arccos(np.clip(approach @ cam_dir, -1.0, 1.0))
    return {"depth_ims_tf_table": img.crops(uv, np.zeros(len(uv))), "hand_poses": poses,
            cfg.label_field: quality}


def generate_shard(cfg: SynthConfig, objects: list[ObjectMesh], index: int) -> dict[str, np.ndarray]:
    """Datapoints of shard ``index``: a pure function of (cfg, objects, index).

    Returns the Dex-Net fields (see docs/dataset_format.md) with cfg.shard_length(index) rows each.
    """
    if not 0 <= index < cfg.num_shards:
        raise ValueError(f"shard index must be in [0, {cfg.num_shards}), got {index}")
    rng = np.random.default_rng([cfg.seed, index])
    p = draw_probabilities(objects)
    want = cfg.shard_length(index)
    parts: list[dict[str, np.ndarray]] = []
    have, image = 0, 0
    make = _parallel_jaw if cfg.gripper == "parallel_jaw" else _suction
    while have < want:
        obj = objects[int(rng.integers(len(objects)) if p is None else rng.choice(len(objects), p=p))]
        img = SynthImage(cfg, obj, rng)
        d = make(cfg, img, rng)
        m = len(d[cfg.label_field])
        d["object_labels"] = np.full(m, obj.object_id, np.int32)
        d["pose_labels"] = np.full(m, img.pose_index, np.int32)
        d["image_labels"] = np.full(m, index * 100000 + image, np.int32)
        parts.append(d)
        have += m
        image += 1
    out = {k: np.concatenate([p[k] for p in parts])[:want] for k in parts[0]}
    out["depth_ims_tf_table"] = out["depth_ims_tf_table"][..., None]
    return out
