"""Parallel-jaw grasp quality: force closure of two soft-finger contacts and its probability under noise.

Two contacts with friction coefficient mu are in force closure when the line joining them lies inside
both friction cones (Nguyen): the angle between each inward surface normal and the line is at most
atan(mu). The robust label is the probability of force closure (PFC) over perturbations of the grasp
centre, the jaw axis and the friction coefficient, with the contacts re-found by closing the jaws along
each perturbed line. A grasp whose nominal hand pose collides (object or table) scores 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dexnet_core.synth.antipodal import ParallelJawGripper, in_collision, jaw_contacts
from dexnet_core.synth.render import Raycaster


@dataclass(frozen=True)
class GraspNoise:
    """Perturbations for the robust label: centre std (m) per axis, jaw-axis yaw std (rad), friction.

    The friction coefficient is drawn from N(friction_mean, friction_std) clipped to >= 0.05.
    """

    samples: int = 16
    center_std: float = 0.0025
    yaw_std: float = 0.06
    friction_mean: float = 0.5
    friction_std: float = 0.1

    def __post_init__(self) -> None:
        if self.samples < 1:
            raise ValueError(f"GraspNoise.samples must be >= 1, got {self.samples}")
        for name in ("center_std", "yaw_std", "friction_std"):
            if getattr(self, name) < 0:
                raise ValueError(f"GraspNoise.{name} must be >= 0, got {getattr(self, name)}")
        if not self.friction_mean > 0:
            raise ValueError(f"GraspNoise.friction_mean must be > 0, got {self.friction_mean}")


def force_closure(p1: np.ndarray, p2: np.ndarray, n1: np.ndarray, n2: np.ndarray, mu: np.ndarray,
                  min_width: float = 0.0) -> np.ndarray:
    """Whether two contacts are in force closure.

    p1, p2 : (n, 3) contact points (NaN = no contact); n1, n2 : (n, 3) outward unit normals;
    mu : (n,) or scalar friction coefficients. Returns (n,) bool.
    """
    line = p2 - p1
    width = np.linalg.norm(line, axis=1)
    ok = np.isfinite(width) & (width > min_width)
    u = line / np.where(ok, width, 1.0)[:, None]
    cos_cone = np.cos(np.arctan(mu))
    c1 = np.einsum("ij,ij->i", -n1, u)  # inward normal at p1 vs direction to p2
    c2 = np.einsum("ij,ij->i", -n2, -u)
    with np.errstate(invalid="ignore"):
        return ok & (c1 >= cos_cone) & (c2 >= cos_cone)


def robust_force_closure(caster: Raycaster, points: np.ndarray, centers: np.ndarray, axes: np.ndarray,
                         gripper: ParallelJawGripper, noise: GraspNoise, rng: np.random.Generator
                         ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Probability of force closure of top-down grasps on one object.

    caster : ray caster over the object alone (world frame); points : (m, 3) object surface samples for
    the collision check; centers, axes : (n, 3) grasp centres and horizontal unit jaw axes, world.
    Returns (pfc (n,) float32 in [0, 1]; collision (n,) bool; width (n,) float32 nominal contact
    distance in metres, NaN where the jaws close on nothing).
    """
    centers = np.asarray(centers, dtype=np.float64)
    axes = np.asarray(axes, dtype=np.float64)
    n, k = len(centers), noise.samples
    collide = in_collision(centers, axes, points, gripper)
    p1, p2, _, _ = jaw_contacts(caster, centers, axes, gripper.max_width)
    width = np.linalg.norm(p2 - p1, axis=1).astype(np.float32)

    yaw = np.arctan2(axes[:, 1], axes[:, 0])[:, None] + noise.yaw_std * rng.standard_normal((n, k))
    pax = np.stack([np.cos(yaw), np.sin(yaw), np.zeros_like(yaw)], axis=2).reshape(-1, 3)
    pc = (centers[:, None, :] + noise.center_std * rng.standard_normal((n, k, 3))).reshape(-1, 3)
    mu = np.maximum(0.05, noise.friction_mean + noise.friction_std * rng.standard_normal(n * k))
    q1, q2, m1, m2 = jaw_contacts(caster, pc, pax, gripper.max_width)
    fc = force_closure(q1, q2, m1, m2, mu, gripper.min_width).reshape(n, k)
    pfc = np.where(collide, 0.0, fc.mean(axis=1)).astype(np.float32)
    return pfc, collide, width
