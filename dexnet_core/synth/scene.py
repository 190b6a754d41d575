"""Tray scenes of held-out objects for demos and benchmarks, overhead cameras and depth rendering.

World frame: z up, the table top is the plane z = 0, the tray is centred on the origin.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np

from dexnet_core.camera import CameraIntrinsics
from dexnet_core.synth.meshes import ObjectMesh, draw_probabilities, load_object_library, require_trimesh
from dexnet_core.synth.render import DepthNoise, Raycaster, render_window

TRAY_SIZE_M = (0.50, 0.40)  # inner x, y extent of the tray
GAP_M = 0.005  # clearance between objects and walls
TRAY_WALL_M = (0.01, 0.04)  # wall thickness, height
TABLE_SIZE_M = 2.0


@dataclass
class TrayScene:
    """Objects resting inside a tray on a table.

    meshes: list of (object_id, trimesh.Trimesh in the world frame); poses: (4, 4) world <- object frame
    per object (same order); fixtures: table and tray-wall meshes (world frame).
    """

    meshes: list[tuple[int, object]]
    poses: list[np.ndarray]
    fixtures: list[object]
    _caster: Raycaster | None = field(default=None, repr=False)

    @property
    def raycaster(self) -> Raycaster:
        """Embree scene over objects then fixtures (built once)."""
        if self._caster is None:
            self._caster = Raycaster([m for _, m in self.meshes] + list(self.fixtures))
        return self._caster


def table_mesh(size_m: float = TABLE_SIZE_M):
    """A table slab whose top face is z = 0."""
    trimesh = require_trimesh()
    box = trimesh.creation.box([size_m, size_m, 0.05])
    box.apply_translation([0.0, 0.0, -0.025])
    return box


def tray_meshes() -> list:
    """The four tray walls around the inner area TRAY_SIZE_M, standing on z = 0."""
    trimesh = require_trimesh()
    (lx, ly), (t, h) = TRAY_SIZE_M, TRAY_WALL_M
    walls = []
    for sx, sy, cx, cy in ((lx + 2 * t, t, 0, (ly + t) / 2), (lx + 2 * t, t, 0, -(ly + t) / 2),
                           (t, ly, (lx + t) / 2, 0), (t, ly, -(lx + t) / 2, 0)):
        w = trimesh.creation.box([sx, sy, h])
        w.apply_translation([cx, cy, h / 2])
        walls.append(w)
    return walls


def overhead_camera_pose(height_m: float, tilt_rad: float = 0.0) -> np.ndarray:
    """(4, 4) world <- camera optical frame of a camera looking at the origin from ``height_m`` away.

    With tilt 0 the camera is straight above the origin, optical z = -world z, image u along +x, v along
    -y. A tilt rotates the camera about the world x axis around the origin (it moves towards -y and
    keeps looking at the origin).
    """
    if height_m <= 0:
        raise ValueError(f"height_m must be > 0, got {height_m}")
    down = np.array([[1.0, 0.0, 0.0, 0.0], [0.0, -1.0, 0.0, 0.0], [0.0, 0.0, -1.0, height_m], [0, 0, 0, 1.0]])
    c, s = np.cos(tilt_rad), np.sin(tilt_rad)
    tilt = np.array([[1.0, 0, 0, 0], [0, c, -s, 0], [0, s, c, 0], [0, 0, 0, 1.0]])
    return tilt @ down


def place_object(obj: ObjectMesh, rng: np.random.Generator, xy: tuple[float, float] = (0.0, 0.0),
                 yaw: float | None = None, pose_index: int | None = None) -> np.ndarray:
    """(4, 4) world <- object pose: a stable pose (drawn by probability unless given), a yaw about z
    (uniform unless given), centred (bounding box) at ``xy`` on the table."""
    i = int(rng.choice(len(obj.pose_probs), p=obj.pose_probs)) if pose_index is None else pose_index
    yaw = float(rng.uniform(-np.pi, np.pi)) if yaw is None else yaw
    c, s = np.cos(yaw), np.sin(yaw)
    rz = np.array([[c, -s, 0, 0], [s, c, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1.0]])
    pose = rz @ obj.stable_poses[i]
    v = obj.mesh.vertices @ pose[:3, :3].T + pose[:3, 3]
    lo, hi = v.min(axis=0), v.max(axis=0)
    pose[:3, 3] += [xy[0] - (lo[0] + hi[0]) / 2, xy[1] - (lo[1] + hi[1]) / 2, -lo[2]]
    return pose


@functools.lru_cache(maxsize=4)
def _library(split: str) -> tuple[ObjectMesh, ...]:
    return tuple(load_object_library(split))


def make_tray_scene(num_objects: int, rng: np.random.Generator, split: str = "val",
                    objects: list[ObjectMesh] | None = None, max_tries: int = 200) -> TrayScene:
    """Objects of ``split`` (default: the held-out objects) in stable poses inside the tray, not overlapping.

    Objects are drawn without replacement from ``objects`` (default: load_object_library(split)), by
    their ``draw_weight`` when these differ (a family mix), each in a random stable pose and yaw at a
    random spot whose xy bounding box clears the walls and the boxes of the objects already placed
    (GAP_M apart); an object that does not fit after ``max_tries`` spots is replaced by another.
    """
    if num_objects < 1:
        raise ValueError(f"num_objects must be >= 1, got {num_objects}")
    lib = list(objects) if objects is not None else list(_library(split))
    p = draw_probabilities(lib)
    order = rng.permutation(len(lib)) if p is None else rng.choice(len(lib), len(lib), replace=False, p=p)
    placed: list[np.ndarray] = []  # (2, 2) xy bounding boxes [[xmin, ymin], [xmax, ymax]]
    meshes, poses = [], []
    for idx in order:
        if len(meshes) == num_objects:
            break
        obj = lib[idx]
        pose = place_object(obj, rng)
        v = obj.mesh.vertices @ pose[:3, :3].T + pose[:3, 3]
        half_box = (v[:, :2].max(axis=0) - v[:, :2].min(axis=0)) / 2 + GAP_M
        room = np.array(TRAY_SIZE_M) / 2 - half_box
        if (room <= 0).any():
            continue
        for _ in range(max_tries):
            xy = rng.uniform(-room, room)
            box = np.stack([xy - half_box, xy + half_box])
            if all((box[1] <= b[0]).any() or (b[1] <= box[0]).any() for b in placed):
                break
        else:
            continue
        pose[:2, 3] += xy  # place_object centred the bounding box on the origin
        placed.append(box)
        world = obj.mesh.copy()
        world.apply_transform(pose)
        meshes.append((obj.object_id, world))
        poses.append(pose)
    if len(meshes) < num_objects:
        raise ValueError(f"only {len(meshes)} of {num_objects} objects fit in the tray")
    return TrayScene(meshes, poses, [table_mesh(), *tray_meshes()])


def render_depth(scene: TrayScene, intrinsics: CameraIntrinsics, camera_pose: np.ndarray,
                 rng: np.random.Generator | None = None, noise: DepthNoise | None = None) -> np.ndarray:
    """Depth image (H, W) float32 metres along the optical axis of ``scene``; NaN where no surface.

    camera_pose: (4, 4) world <- camera optical frame. rng None: noise-free; otherwise ``noise``
    (default DepthNoise()) is added.
    """
    depth, _ = render_window(scene.raycaster, intrinsics, camera_pose)
    if rng is not None:
        depth = (noise or DepthNoise()).apply(depth, rng)
    return depth
