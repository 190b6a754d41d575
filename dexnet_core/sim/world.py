"""The pybullet world of the grasp benchmark: a table, a tray and rigid objects (DIRECT mode only).

World frame (as dexnet_core.synth.scene): z up, table top at z = 0, tray centred on the origin. Every object
is a ``SimObject``: a render mesh and convex collision parts in the same body frame. Depth images are
rendered from the pybullet poses with embree (dexnet_core.synth.render), so the planner sees exactly the
simulated geometry.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from dexnet_core.errors import MissingExtraError

logger = logging.getLogger(__name__)


@contextlib.contextmanager
def _quiet_stdout():
    """Silence C-level writes to stdout (pybullet prints its build time and argv on import / connect)."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 1)
            yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)


def require_pybullet():
    """Import pybullet and its client wrapper, or raise MissingExtraError naming the extra."""
    try:
        with _quiet_stdout():
            import pybullet
            from pybullet_utils import bullet_client
    except ImportError as exc:
        raise MissingExtraError("the simulation benchmark needs pybullet: "
                                "pip install dexnet-core[synth]") from exc
    return pybullet, bullet_client


def require_trimesh():
    """Import trimesh, or raise MissingExtraError naming the extra."""
    try:
        import trimesh
    except ImportError as exc:
        raise MissingExtraError("the simulation benchmark needs trimesh: "
                                "pip install dexnet-core[synth]") from exc
    return trimesh


@dataclass(frozen=True)
class WorldConfig:
    """Physics and tray parameters (metres, kg, seconds)."""

    time_step: float = 1.0 / 240.0  # physics step (s)
    solver_iterations: int = 30  # constraint solver iterations per step
    object_friction: float = 0.5  # pybullet multiplies frictions: x 1.0 fingers = the synth labels' mean
    support_friction: float = 0.6  # table and tray
    settle_steps: int = 240  # upper bound on steps to let objects come to rest
    rest_speed: float = 0.01  # m/s and rad/s under which an object counts as resting
    min_body_mass: float = 0.02  # kg: lighter objects get this mass in the physics (Bullet squeezes a 6 g
    # box out of the 40 N fingers during the lift; from about 13 g up it holds)

    def __post_init__(self) -> None:
        if not self.time_step > 0:
            raise ValueError(f"WorldConfig.time_step must be > 0, got {self.time_step}")
        if self.solver_iterations < 1:
            raise ValueError(f"WorldConfig.solver_iterations must be >= 1, got {self.solver_iterations}")
        if not self.min_body_mass > 0:
            raise ValueError(f"WorldConfig.min_body_mass must be > 0, got {self.min_body_mass}")
        if self.object_friction < 0 or self.support_friction < 0:
            raise ValueError(f"friction must be >= 0, got object={self.object_friction}, "
                             f"support={self.support_friction}")


@dataclass(frozen=True)
class SimObject:
    """A rigid object: ``mesh`` (trimesh.Trimesh, body frame, metres) is what the camera sees,
    ``parts`` (each (k, 3) float64 vertices, body frame) are the convex collision hulls; ``mass`` in kg."""

    name: str
    mesh: object
    parts: tuple[np.ndarray, ...]
    mass: float

    def __post_init__(self) -> None:
        if not self.mass > 0:
            raise ValueError(f"SimObject {self.name!r}: mass must be > 0, got {self.mass}")
        if not self.parts:
            raise ValueError(f"SimObject {self.name!r} has no collision part")


def box_object(name: str, size: tuple[float, float, float], mass: float = 0.2) -> SimObject:
    """An axis-aligned box of ``size`` (x, y, z) metres centred on its body frame."""
    trimesh = require_trimesh()
    mesh = trimesh.creation.box(extents=size)
    return SimObject(name, mesh, (np.asarray(mesh.vertices, dtype=np.float64),), mass)


def cylinder_object(name: str, radius: float, height: float, mass: float = 0.2) -> SimObject:
    """An upright cylinder (axis z) centred on its body frame."""
    trimesh = require_trimesh()
    mesh = trimesh.creation.cylinder(radius=radius, height=height, sections=32)
    return SimObject(name, mesh, (np.asarray(mesh.vertices, dtype=np.float64),), mass)


def mesh_object(name: str, mesh, mass: float, parts_mesh=None, dilation: float = 0.01) -> SimObject:
    """An object rendered as ``mesh``; collision hulls are the connected parts of ``parts_mesh`` (default
    ``mesh``), each dilated by ``dilation`` about its centroid like dexnet_core.synth's watertight union."""
    source = mesh if parts_mesh is None else parts_mesh
    parts = []
    for part in source.split(only_watertight=False):
        if len(part.faces) < 4:
            continue
        v = np.asarray(part.convex_hull.vertices, dtype=np.float64)
        c = v.mean(axis=0)
        parts.append(c + (v - c) * (1.0 + dilation))
    if not parts:
        parts = [np.asarray(mesh.convex_hull.vertices, dtype=np.float64)]
    return SimObject(name, mesh, tuple(parts), float(mass))


@dataclass
class _Body:
    obj: SimObject
    body_id: int
    com_to_body: np.ndarray  # (4, 4) pybullet base (centre of mass) frame <- object body frame


@dataclass
class SimWorld:
    """A pybullet DIRECT-mode world with static fixtures (default: dexnet_core.synth.scene's table and tray)
    and objects. ``fixtures``: convex trimesh meshes in the world frame.

    Use as a context manager or call ``close()``. Objects are addressed by their pybullet body id.
    """

    config: WorldConfig = field(default_factory=WorldConfig)
    fixtures: list | None = None

    def __post_init__(self) -> None:
        pybullet, bullet_client = require_pybullet()
        self.p = pybullet
        with _quiet_stdout():
            self.client = bullet_client.BulletClient(connection_mode=pybullet.DIRECT)
        c = self.client
        c.setGravity(0.0, 0.0, -9.81)
        c.setPhysicsEngineParameter(fixedTimeStep=self.config.time_step,
                                    numSolverIterations=self.config.solver_iterations,
                                    deterministicOverlappingPairs=1)
        self._objects: dict[int, _Body] = {}
        self.steps = 0  # physics steps taken so far
        if self.fixtures is None:
            from dexnet_core.synth.scene import table_mesh, tray_meshes

            self.fixtures = [table_mesh(), *tray_meshes()]
        self.static_bodies = tuple(self._add_fixture(m) for m in self.fixtures)

    # --- construction -------------------------------------------------------------------------------------
    def _add_fixture(self, mesh) -> int:
        """A static body: a box primitive when ``mesh`` is an axis-aligned box (no convex-hull margin),
        else its convex hull."""
        c = self.client
        lo, hi = np.asarray(mesh.bounds, dtype=np.float64)
        if abs(float(mesh.volume) - float(np.prod(hi - lo))) < 1e-9 * max(1.0, float(np.prod(hi - lo))):
            shape = c.createCollisionShape(self.p.GEOM_BOX, halfExtents=((hi - lo) / 2).tolist())
            centre = ((hi + lo) / 2).tolist()
        else:
            hull = np.asarray(mesh.convex_hull.vertices, dtype=np.float64)
            shape = c.createCollisionShape(self.p.GEOM_MESH, vertices=hull.tolist())
            centre = [0.0, 0.0, 0.0]
        body = c.createMultiBody(0.0, shape, -1, centre, [0, 0, 0, 1])
        c.changeDynamics(body, -1, lateralFriction=self.config.support_friction)
        return body

    def add_object(self, obj: SimObject, pose: np.ndarray) -> int:
        """Add ``obj`` with its body frame at ``pose`` (4, 4) world <- body; returns the body id.

        pybullet's base frame is the centre of mass, so the collision hulls are shifted by it and
        ``pose()`` shifts back. The body weighs at least ``config.min_body_mass``.
        """
        c = self.client
        mesh = obj.mesh
        com = np.asarray(mesh.center_mass if mesh.is_watertight else mesh.centroid, dtype=np.float64)
        parts = [part - com for part in obj.parts]
        if len(parts) == 1:
            col = c.createCollisionShape(self.p.GEOM_MESH, vertices=parts[0].tolist())
        else:  # an OBJ file with one object per part loads as a compound of convex hulls
            col = c.createCollisionShape(self.p.GEOM_MESH, fileName=str(_parts_obj(parts)))
        shift = np.eye(4)
        shift[:3, 3] = com
        pos, quat = pose_to_pq(np.asarray(pose, dtype=np.float64) @ shift)
        body = c.createMultiBody(max(obj.mass, self.config.min_body_mass), col, -1, pos.tolist(),
                                 quat.tolist())
        c.changeDynamics(body, -1, lateralFriction=self.config.object_friction, rollingFriction=0.0,
                         spinningFriction=0.001)
        shift[:3, 3] = -com
        self._objects[body] = _Body(obj, body, shift)
        return body

    def remove_object(self, body: int) -> None:
        """Remove an object (a successful pick, or one knocked out of the tray)."""
        self.client.removeBody(body)
        del self._objects[body]

    # --- stepping -----------------------------------------------------------------------------------------
    def step(self, n: int = 1) -> None:
        """Advance the physics ``n`` steps (counted in ``steps``)."""
        for _ in range(n):
            self.client.stepSimulation()
        self.steps += n

    def settle(self, max_steps: int | None = None) -> int:
        """Step until every object rests (or ``max_steps``); returns the number of steps taken."""
        max_steps = self.config.settle_steps if max_steps is None else max_steps
        for i in range(max_steps):
            self.step()
            if i % 10 == 9 and self.all_resting():
                return i + 1
        return max_steps

    def all_resting(self) -> bool:
        """Whether every object moves slower than ``config.rest_speed``."""
        for body in self._objects:
            lin, ang = self.client.getBaseVelocity(body)
            if max(np.abs(lin).max(), np.abs(ang).max()) > self.config.rest_speed:
                return False
        return True

    # --- queries ------------------------------------------------------------------------------------------
    @property
    def object_ids(self) -> list[int]:
        """Body ids of the objects still in the world, in insertion order."""
        return list(self._objects)

    def object(self, body: int) -> SimObject:
        """The SimObject of a body id."""
        return self._objects[body].obj

    def pose(self, body: int) -> np.ndarray:
        """(4, 4) world <- body frame."""
        pos, quat = self.client.getBasePositionAndOrientation(body)
        return pq_to_pose(pos, quat) @ self._objects[body].com_to_body

    def object_top(self, body: int) -> float:
        """Highest z of an object's bounding box (m)."""
        return float(self.client.getAABB(body)[1][2])

    def in_tray(self, body: int) -> bool:
        """Whether an object's centre of mass lies over the tray's inner area and above the table."""
        from dexnet_core.synth.scene import TRAY_SIZE_M

        x, y, z = self.client.getBasePositionAndOrientation(body)[0]
        return abs(x) < TRAY_SIZE_M[0] / 2 and abs(y) < TRAY_SIZE_M[1] / 2 and z > -0.01

    def object_meshes(self) -> list[tuple[int, object]]:
        """(body id, trimesh in the world frame) of every object, for rendering."""
        return [(body, rec.obj.mesh.copy().apply_transform(self.pose(body)))
                for body, rec in self._objects.items()]

    def save_state(self) -> int:
        """Snapshot of the physics state (pybullet saveState id) to restore with ``restore_state``."""
        return self.client.saveState()

    def restore_state(self, state: int) -> None:
        """Restore a snapshot; the set of bodies must be the same as when it was saved."""
        self.client.restoreState(stateId=state)

    def close(self) -> None:
        """Disconnect the pybullet client."""
        if getattr(self, "client", None) is not None:
            self.client.disconnect()
            self.client = None

    def __enter__(self) -> SimWorld:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _parts_obj(parts: list[np.ndarray]) -> Path:
    """An OBJ file (temp folder, named by content) holding the convex hull of each part as one object."""
    trimesh = require_trimesh()
    lines, offset = [], 1
    for i, part in enumerate(parts):
        hull = trimesh.convex.convex_hull(part)
        lines.append(f"o part{i}")
        lines += [f"v {x:.7f} {y:.7f} {z:.7f}" for x, y, z in hull.vertices]
        lines += [f"f {a + offset} {b + offset} {c + offset}" for a, b, c in hull.faces]
        offset += len(hull.vertices)
    text = "\n".join(lines) + "\n"
    folder = Path(tempfile.gettempdir()) / "dexnet_sim_parts"
    folder.mkdir(exist_ok=True)
    path = folder / f"{hashlib.blake2b(text.encode(), digest_size=10).hexdigest()}.obj"
    if not path.exists():
        tmp = folder / f".{path.name}.{os.getpid()}.tmp"
        tmp.write_text(text)
        os.replace(tmp, path)
    return path


def pq_to_pose(pos, quat) -> np.ndarray:
    """(4, 4) transform from a position (3,) and a quaternion (x, y, z, w)."""
    x, y, z, w = (float(q) for q in quat)
    n = x * x + y * y + z * z + w * w
    s = 2.0 / n if n > 0 else 0.0
    out = np.eye(4)
    out[:3, :3] = [[1 - s * (y * y + z * z), s * (x * y - z * w), s * (x * z + y * w)],
                   [s * (x * y + z * w), 1 - s * (x * x + z * z), s * (y * z - x * w)],
                   [s * (x * z - y * w), s * (y * z + x * w), 1 - s * (x * x + y * y)]]
    out[:3, 3] = pos
    return out


def pose_to_pq(pose: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Position (3,) and unit quaternion (x, y, z, w) of a (4, 4) rigid transform."""
    m = np.asarray(pose, dtype=np.float64)[:3, :3]
    tr = np.trace(m)
    if tr > 0:
        s = 2.0 * np.sqrt(tr + 1.0)
        q = [(m[2, 1] - m[1, 2]) / s, (m[0, 2] - m[2, 0]) / s, (m[1, 0] - m[0, 1]) / s, 0.25 * s]
    elif m[0, 0] > m[1, 1] and m[0, 0] > m[2, 2]:
        s = 2.0 * np.sqrt(1.0 + m[0, 0] - m[1, 1] - m[2, 2])
        q = [0.25 * s, (m[0, 1] + m[1, 0]) / s, (m[0, 2] + m[2, 0]) / s, (m[2, 1] - m[1, 2]) / s]
    elif m[1, 1] > m[2, 2]:
        s = 2.0 * np.sqrt(1.0 + m[1, 1] - m[0, 0] - m[2, 2])
        q = [(m[0, 1] + m[1, 0]) / s, 0.25 * s, (m[1, 2] + m[2, 1]) / s, (m[0, 2] - m[2, 0]) / s]
    else:
        s = 2.0 * np.sqrt(1.0 + m[2, 2] - m[0, 0] - m[1, 1])
        q = [(m[0, 2] + m[2, 0]) / s, (m[1, 2] + m[2, 1]) / s, 0.25 * s, (m[1, 0] - m[0, 1]) / s]
    q = np.asarray(q, dtype=np.float64)
    return np.asarray(pose, dtype=np.float64)[:3, 3].copy(), q / np.linalg.norm(q)
