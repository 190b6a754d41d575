"""Parallel-jaw grasp candidates on an object resting on a table, and the gripper collision check.

A top-down grasp is a horizontal jaw axis through a centre point; the hand approaches along world -z (the
table normal, z up, table top at z = 0). Grasp frame: x = jaw closing axis, z = approach (down),
y = z cross x; origin at the grasp centre (the contact line).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dexnet_core.synth.render import Raycaster

APPROACH = np.array([0.0, 0.0, -1.0])


@dataclass(frozen=True)
class ParallelJawGripper:
    """Box model of a parallel-jaw hand (defaults: Franka hand, metres).

    max_width: jaw opening; finger_thickness: finger size along the closing axis; finger_breadth: along
    the grasp y axis; finger_length: from the fingertips to the palm; tip_depth: how far the fingertips
    reach past the grasp centre (the contact line sits at the pad centre); palm_*: palm box above the
    fingers (its width along the closing axis is max_width + 2 finger_thickness).
    """

    max_width: float = 0.08
    finger_thickness: float = 0.01
    finger_breadth: float = 0.02
    finger_length: float = 0.054
    tip_depth: float = 0.012
    palm_breadth: float = 0.06
    palm_height: float = 0.03
    min_width: float = 0.002  # contacts closer than this (jaws fully closed) are a miss

    def __post_init__(self) -> None:
        for name in ("max_width", "finger_thickness", "finger_breadth", "finger_length", "palm_breadth",
                     "palm_height"):
            if not getattr(self, name) > 0:
                raise ValueError(f"ParallelJawGripper.{name} must be > 0, got {getattr(self, name)}")
        if not 0 <= self.tip_depth < self.finger_length:
            raise ValueError(f"ParallelJawGripper.tip_depth must be in [0, finger_length), "
                             f"got {self.tip_depth}")
        if not 0 <= self.min_width < self.max_width:
            raise ValueError(f"ParallelJawGripper.min_width must be in [0, max_width), got {self.min_width}")

    def boxes(self) -> np.ndarray:
        """(3, 2, 3) [min corner, max corner] of the two fingers (fully open) and the palm, grasp frame."""
        w, t = self.max_width / 2, self.finger_thickness
        top = self.tip_depth - self.finger_length  # finger root (z points down, towards the table)
        fy = self.finger_breadth / 2
        return np.array([
            [[-w - t, -fy, top], [-w, fy, self.tip_depth]],
            [[w, -fy, top], [w + t, fy, self.tip_depth]],
            [[-w - t, -self.palm_breadth / 2, top - self.palm_height], [w + t, self.palm_breadth / 2, top]],
        ])


def grasp_frames(axes: np.ndarray) -> np.ndarray:
    """(n, 3, 3) rotations world <- grasp frame (columns x = axis, y = z cross x, z = APPROACH).

    axes : (n, 3) horizontal unit jaw axes, world frame.
    """
    x = np.asarray(axes, dtype=np.float64)
    z = np.broadcast_to(APPROACH, x.shape)
    return np.stack([x, np.cross(z, x), z], axis=2)


def in_collision(centers: np.ndarray, axes: np.ndarray, points: np.ndarray,
                 gripper: ParallelJawGripper) -> np.ndarray:
    """Whether the open hand at each grasp hits the object or the table.

    centers : (n, 3) world, metres; axes : (n, 3) horizontal unit jaw axes; points : (m, 3) object
    surface samples, world. Returns (n,) bool: a point inside a finger or the palm box, or the fingertips
    below the table (z < 0).
    """
    centers = np.asarray(centers, dtype=np.float64)
    rot = grasp_frames(axes)
    local = np.einsum("nij,nmi->nmj", rot, points[None, :, :] - centers[:, None, :])  # (n, m, 3)
    hit = np.zeros(len(centers), dtype=bool)
    for lo, hi in gripper.boxes():
        hit |= ((local > lo) & (local < hi)).all(axis=2).any(axis=1)
    return hit | (centers[:, 2] - gripper.tip_depth < 0.0)


def jaw_contacts(caster: Raycaster, centers: np.ndarray, axes: np.ndarray, width: float
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Where closing jaws first touch the object along each grasp line.

    Jaw 1 starts at c - a w/2 and moves along +a, jaw 2 starts at c + a w/2 and moves along -a.
    centers, axes : (n, 3) world. Returns (p1, p2 (n, 3) contact points; n1, n2 (n, 3) outward normals;
    each row NaN where that jaw closes without touching).
    """
    c, a = np.asarray(centers, dtype=np.float64), np.asarray(axes, dtype=np.float64)
    o = np.concatenate([c - a * width / 2, c + a * width / 2])
    d = np.concatenate([a, -a])
    dist, geom, normals = caster.cast(o, d)
    ok = (geom >= 0) & (dist < width)
    pts = o + d * np.where(ok, dist, np.nan)[:, None]
    nrm = np.where(ok[:, None], normals.astype(np.float64), np.nan)
    n = len(c)
    return pts[:n], pts[n:], nrm[:n], nrm[n:]


def sample_antipodal(mesh, rng: np.random.Generator, count: int, gripper: ParallelJawGripper,
                     caster: Raycaster, axis_jitter: float = 0.35) -> tuple[np.ndarray, np.ndarray]:
    """Antipodal-biased top-down grasps on ``mesh`` (trimesh, world frame, resting on z = 0).

    Surface points on steep faces (|n_z| < 0.5), at heights where neither the fingertips touch the table
    nor the palm the object's top, give a jaw axis against their normal (yawed by up to ``axis_jitter``
    rad, so some fall outside the friction cone); the grasp centre is the midpoint of the outermost
    contacts on that line. Returns (centers (k, 3), axes (k, 3)), k <= count (lines with no
    pair of contacts are dropped).
    """
    normals = mesh.face_normals
    steep = np.flatnonzero(np.abs(normals[:, 2]) < 0.5)
    if len(steep) == 0:
        return np.zeros((0, 3)), np.zeros((0, 3))
    area = mesh.area_faces[steep]
    faces = steep[rng.choice(len(steep), size=4 * count, p=area / area.sum())]
    tri = mesh.triangles[faces]
    r = rng.random((len(faces), 2))
    flip = r.sum(axis=1) > 1
    r[flip] = 1 - r[flip]
    pts = tri[:, 0] + r[:, :1] * (tri[:, 1] - tri[:, 0]) + r[:, 1:] * (tri[:, 2] - tri[:, 0])
    lowest = gripper.tip_depth + 0.001
    highest = float(mesh.bounds[1, 2]) - (gripper.finger_length - gripper.tip_depth) + 0.002
    ok = np.flatnonzero((pts[:, 2] > lowest) & (pts[:, 2] > highest))[:count]
    pts, faces = pts[ok], faces[ok]
    count = len(ok)
    yaw = np.arctan2(-normals[faces, 1], -normals[faces, 0]) + rng.uniform(-axis_jitter, axis_jitter, count)
    axes = np.stack([np.cos(yaw), np.sin(yaw), np.zeros(count)], axis=1)
    reach = 2.0 * float(np.linalg.norm(mesh.extents)) + gripper.max_width
    p1, p2, _, _ = jaw_contacts(caster, pts, axes, reach)
    ok = np.isfinite(p1).all(axis=1) & np.isfinite(p2).all(axis=1)
    return (p1[ok] + p2[ok]) / 2, axes[ok]
