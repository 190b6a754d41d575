"""Suction grasp quality (Dex-Net 3.0 style): seal on a contact ring, resistance to gravity, robustness.

Seal: rays cast along the approach from a ring of radius ``cup_radius`` around the contact must all hit
the object, the hits must lie within ``seal_tolerance`` of their best-fit plane (a compliant cup conforms
to a tilted plane, not to an edge or a corner) and within ``max_stretch`` of the contact along the
approach. Wrench resistance: the cup holds the object's weight (torque taken about the contact) when the
ring load N = f_n + vacuum_force stays >= 0 with |f_t| <= mu N (friction), |tau_n| <= mu r N (torsion)
and |tau_t| <= r N / 2 (bending: one side of the ring unloads). The robust label is the probability that
both hold under perturbations of the contact, approach direction, friction and mass.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dexnet_core.synth.render import Raycaster

GRAVITY = 9.81


@dataclass(frozen=True)
class SuctionCup:
    """Suction cup model (metres, newtons)."""

    cup_radius: float = 0.01
    ring_points: int = 16
    seal_tolerance: float = 0.002
    max_stretch: float = 0.008
    vacuum_force: float = 10.0

    def __post_init__(self) -> None:
        for name in ("cup_radius", "seal_tolerance", "max_stretch", "vacuum_force"):
            if not getattr(self, name) > 0:
                raise ValueError(f"SuctionCup.{name} must be > 0, got {getattr(self, name)}")
        if self.ring_points < 3:
            raise ValueError(f"SuctionCup.ring_points must be >= 3, got {self.ring_points}")


@dataclass(frozen=True)
class SuctionNoise:
    """Perturbations for the robust label: tangential contact std (m), approach tilt std (rad), friction
    N(mean, std) clipped to >= 0.05, mass factor uniform in [1 - mass_spread, 1 + mass_spread]."""

    samples: int = 12
    contact_std: float = 0.002
    approach_std: float = 0.05
    friction_mean: float = 0.5
    friction_std: float = 0.1
    mass_spread: float = 0.2

    def __post_init__(self) -> None:
        if self.samples < 1:
            raise ValueError(f"SuctionNoise.samples must be >= 1, got {self.samples}")
        for name in ("contact_std", "approach_std", "friction_std"):
            if getattr(self, name) < 0:
                raise ValueError(f"SuctionNoise.{name} must be >= 0, got {getattr(self, name)}")
        if not 0 <= self.mass_spread < 1:
            raise ValueError(f"SuctionNoise.mass_spread must be in [0, 1), got {self.mass_spread}")


def _tangents(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two unit vectors (n, 3) completing each unit row of ``v`` to a right-handed frame."""
    ref = np.where(np.abs(v[:, :1]) < 0.9, [[1.0, 0.0, 0.0]], [[0.0, 1.0, 0.0]])
    e1 = np.cross(v, ref)
    e1 /= np.linalg.norm(e1, axis=1, keepdims=True)
    return e1, np.cross(v, e1)


def seal(caster: Raycaster, contacts: np.ndarray, approach: np.ndarray, cup: SuctionCup
         ) -> tuple[np.ndarray, np.ndarray]:
    """Seal test; contacts snap to the surface along the approach first.

    contacts, approach : (n, 3) points near the surface and unit approach directions (into the object),
    world. Returns (sealed (n,) bool, surface contact points (n, 3), NaN where the approach misses).
    """
    v = np.asarray(approach, dtype=np.float64)
    back = 2 * cup.max_stretch + cup.cup_radius
    start = np.asarray(contacts, dtype=np.float64) - v * back
    dist, geom, _ = caster.cast(start, v, normals=False)
    hit = geom >= 0
    q = start + v * np.where(hit, dist, np.nan)[:, None]
    e1, e2 = _tangents(v)
    phi = np.linspace(0, 2 * np.pi, cup.ring_points, endpoint=False)
    ring = cup.cup_radius * (np.cos(phi)[None, :, None] * e1[:, None]
                             + np.sin(phi)[None, :, None] * e2[:, None])
    origins = (np.where(hit[:, None], q, start) - v * back)[:, None, :] + ring  # (n, m, 3)
    rd, rg, _ = caster.cast(origins.reshape(-1, 3), np.repeat(v, cup.ring_points, axis=0), normals=False)
    rd = rd.reshape(len(v), -1).astype(np.float64)
    all_hit = (rg.reshape(len(v), -1) >= 0).all(axis=1) & hit
    stretch = np.abs(rd - back).max(axis=1)  # along the approach, relative to the contact
    pts = origins + v[:, None, :] * np.where(np.isfinite(rd), rd, 0.0)[:, :, None]
    with np.errstate(invalid="ignore"):
        ok = all_hit & (stretch <= cup.max_stretch) & ring_is_flat(pts, cup.seal_tolerance)
    return ok, q


def ring_is_flat(points: np.ndarray, seal_tolerance: float) -> np.ndarray:
    """Whether lip-ring points (..., m, 3) lie close enough to their best-fit plane for a seal: RMS plane
    distance <= ``seal_tolerance`` / 2 (one outlying point, a notch, weighs less than a warped ring)."""
    centred = points - points.mean(axis=-2, keepdims=True)
    rms = np.linalg.svd(centred, compute_uv=False)[..., 2] / np.sqrt(points.shape[-2])
    return rms <= seal_tolerance / 2


def wrench_resisted(contacts: np.ndarray, approach: np.ndarray, com: np.ndarray, mass: np.ndarray,
                    mu: np.ndarray, cup: SuctionCup) -> np.ndarray:
    """Whether the cup at ``contacts`` (n, 3) pulling along ``approach`` (n, 3) holds the object's weight.

    com : (3,) or (n, 3) centre of mass, world (z up); mass : (n,) kg; mu : (n,) friction. Returns (n,) bool.
    """
    v = np.asarray(approach, dtype=np.float64)
    weight = np.zeros((len(v), 3))
    weight[:, 2] = -np.asarray(mass) * GRAVITY
    f = -weight  # force the cup must apply
    torque = -np.cross(np.asarray(com) - contacts, weight)  # torque the cup must apply about the contact
    f_n = np.einsum("ij,ij->i", f, v)
    f_t = np.linalg.norm(f - f_n[:, None] * v, axis=1)
    t_n = np.einsum("ij,ij->i", torque, v)
    t_t = np.linalg.norm(torque - t_n[:, None] * v, axis=1)
    load = f_n + cup.vacuum_force
    r = cup.cup_radius
    with np.errstate(invalid="ignore"):
        return (load >= 0) & (f_t <= mu * load) & (np.abs(t_n) <= mu * r * load) & (t_t <= r * load / 2)


def robust_suction_quality(caster: Raycaster, contacts: np.ndarray, approach: np.ndarray, com: np.ndarray,
                           mass: float, cup: SuctionCup, noise: SuctionNoise, rng: np.random.Generator
                           ) -> np.ndarray:
    """Probability (n,) float32 in [0, 1] of seal and wrench resistance under ``noise``.

    caster : ray caster over the object alone; contacts : (n, 3) points on its surface; approach : (n, 3)
    unit directions into the surface; com : (3,) centre of mass; all world frame, z up.
    """
    c = np.asarray(contacts, dtype=np.float64)
    v = np.asarray(approach, dtype=np.float64)
    n, k = len(c), noise.samples
    e1, e2 = _tangents(v)
    g = noise.contact_std * rng.standard_normal((n, k, 2))
    pc = (c[:, None] + g[..., :1] * e1[:, None] + g[..., 1:] * e2[:, None]).reshape(-1, 3)
    pv = v[:, None] + noise.approach_std * rng.standard_normal((n, k, 3))
    pv = (pv / np.linalg.norm(pv, axis=2, keepdims=True)).reshape(-1, 3)
    mu = np.maximum(0.05, noise.friction_mean + noise.friction_std * rng.standard_normal(n * k))
    m = mass * rng.uniform(1 - noise.mass_spread, 1 + noise.mass_spread, n * k)
    sealed, q = seal(caster, pc, pv, cup)
    held = wrench_resisted(np.where(np.isfinite(q), q, 0.0), pv, com, m, mu, cup)
    return (sealed & held).reshape(n, k).mean(axis=1).astype(np.float32)
