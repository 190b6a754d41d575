"""Floating grippers for the grasp benchmark: the Franka hand cut from pybullet_data's panda.urdf and a
suction cup with a seal check and a vacuum force limit.

Both are driven by a fixed constraint to the world whose target moves along straight lines, so the robot arm
is abstracted away but contacts still push objects. A gripper pose is a grasp frame (4, 4) world <- grasp:
z = approach direction (into the scene), y = jaw closing axis, origin = grasp centre (contact centre for the
jaws, contact point for the cup).
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dexnet_core.sim.world import SimWorld, pose_to_pq, pq_to_pose
from dexnet_core.synth.suction import ring_is_flat

logger = logging.getLogger(__name__)

PARK = np.array([0.0, 0.0, 2.0])  # where a gripper waits between trials (m, world)

# Franka hand geometry (panda.urdf): finger joints 58.4 mm along the hand z axis, finger meshes 53.8 mm long
FINGER_JOINT_Z = 0.0584
FINGER_LENGTH = 0.0538
CUP_GROUP = 0x2  # collision filter group of the suction cup (objects are in group 0x1)
CONTACT_M = 0.001  # pybullet also reports points up to ~2 cm apart; closer than this is a real contact


@dataclass(frozen=True)
class ParallelJawConfig:
    """Franka hand parameters (metres, newtons)."""

    grip_force: float = 40.0  # per finger
    max_opening: float = 0.08  # both fingers open (0.04 each)
    finger_friction: float = 1.0  # pybullet multiplies it with the object's friction
    contact_depth: float = 0.012  # grasp centre sits this far behind the fingertips (synth tip_depth)
    hold_force: float = 60.0  # max force of the constraint that moves the hand (a guarded, compliant arm)

    def __post_init__(self) -> None:
        for name in ("grip_force", "max_opening", "hold_force"):
            if not getattr(self, name) > 0:
                raise ValueError(f"ParallelJawConfig.{name} must be > 0, got {getattr(self, name)}")
        if not 0 <= self.contact_depth < FINGER_LENGTH:
            raise ValueError(f"ParallelJawConfig.contact_depth must be in [0, {FINGER_LENGTH}), "
                             f"got {self.contact_depth}")


@dataclass(frozen=True)
class SuctionConfig:
    """Suction cup parameters (metres, newtons), as dexnet_core.synth's SuctionCup. A seal forms when the lip
    ring lies on one object, close to a plane and within ``max_stretch`` of the contact along the axis; it
    holds while the contact wrench stays inside the limit surface with ring load N = vacuum - pull >= 0:
    |tangential| <= friction N, |twist| <= friction radius N, |bending torque| <= radius N / 2."""

    radius: float = 0.01  # cup lip radius (dexnet_core.synth SuctionCup.cup_radius)
    length: float = 0.10  # cup + rod
    vacuum_force: float = 10.0  # pressure difference x cup area
    friction: float = 0.5  # lip friction coefficient
    seal_tolerance: float = 0.002  # lip-ring flatness: RMS distance from the ring's best-fit plane <= half
    # of this (dexnet_core.synth.suction.ring_is_flat, the labels' test)
    max_stretch: float = 0.008  # max distance of a lip-ring point from the contact along the cup axis
    ring_points: int = 16  # rays cast along the cup lip for the seal check
    violation_steps: int = 3  # consecutive steps outside the limit surface that break the seal
    hold_force: float = 60.0

    def __post_init__(self) -> None:
        for name in ("radius", "length", "vacuum_force", "seal_tolerance", "max_stretch", "hold_force"):
            if not getattr(self, name) > 0:
                raise ValueError(f"SuctionConfig.{name} must be > 0, got {getattr(self, name)}")
        if self.ring_points < 6:
            raise ValueError(f"SuctionConfig.ring_points must be >= 6, got {self.ring_points}")


@functools.lru_cache(maxsize=1)
def panda_hand_urdf() -> Path:
    """A URDF of the Franka hand and its two fingers, cut from pybullet_data's panda.urdf (written once to
    the temp folder, meshes referenced by absolute path)."""
    import pybullet_data

    meshes = Path(pybullet_data.getDataPath()) / "franka_panda" / "meshes" / "collision"
    contact = ('<contact><friction_anchor/><stiffness value="30000.0"/><damping value="1000.0"/>'
               '<spinning_friction value="0.1"/><lateral_friction value="1.0"/></contact>')

    def finger(name: str, y: float, yaw: float) -> str:
        return (f'<link name="{name}">{contact}<inertial><origin xyz="0 {y} 0.02"/><mass value="0.1"/>'
                '<inertia ixx="1e-4" ixy="0" ixz="0" iyy="1e-4" iyz="0" izz="1e-4"/></inertial>'
                f'<collision><origin rpy="0 0 {yaw}"/><geometry><mesh filename="{meshes}/finger.obj"/>'
                '</geometry></collision></link>')

    def joint(name: str, child: str, axis: str) -> str:
        return (f'<joint name="{name}" type="prismatic"><parent link="hand"/><child link="{child}"/>'
                f'<origin xyz="0 0 {FINGER_JOINT_Z}"/><axis xyz="{axis}"/>'
                '<limit effort="100" lower="0.0" upper="0.04" velocity="0.5"/></joint>')

    text = ('<?xml version="1.0"?><robot name="panda_hand"><link name="hand"><inertial>'
            '<origin xyz="0 0 0"/><mass value="0.81"/>'
            '<inertia ixx="3e-3" ixy="0" ixz="0" iyy="3e-3" iyz="0" izz="3e-3"/></inertial>'
            f'<collision><geometry><mesh filename="{meshes}/hand.obj"/></geometry></collision></link>'
            + finger("left", 0.01, 0.0) + finger("right", -0.01, np.pi)
            + joint("left_joint", "left", "0 1 0") + joint("right_joint", "right", "0 -1 0") + "</robot>")
    key = hashlib.blake2b(text.encode(), digest_size=6).hexdigest()
    path = Path(tempfile.gettempdir()) / f"dexnet_panda_hand_{key}.urdf"
    if not path.exists():
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(text)
        tmp.replace(path)
    return path


class _FloatingGripper:
    """A body held by a fixed constraint to the world; ``tcp`` (4, 4) is body <- grasp frame."""

    def __init__(self, world: SimWorld, body: int, tcp: np.ndarray, hold_force: float) -> None:
        self.world, self.body, self.tcp = world, body, tcp
        self._tcp_inv = np.linalg.inv(tcp)
        self.hold_force = hold_force
        park = np.eye(4)
        park[:3, 3] = PARK
        self._target = park
        pos, quat = pose_to_pq(park @ self._tcp_inv)
        c = world.client
        c.resetBasePositionAndOrientation(body, pos.tolist(), quat.tolist())
        self.constraint = c.createConstraint(body, -1, -1, -1, world.p.JOINT_FIXED, [0, 0, 0], [0, 0, 0],
                                             pos.tolist(), childFrameOrientation=quat.tolist())
        c.changeConstraint(self.constraint, maxForce=hold_force)

    @property
    def pose(self) -> np.ndarray:
        """Current grasp frame (4, 4) world <- grasp."""
        pos, quat = self.world.client.getBasePositionAndOrientation(self.body)
        return pq_to_pose(pos, quat) @ self.tcp

    def teleport(self, grasp_pose: np.ndarray) -> None:
        """Put the gripper at ``grasp_pose`` at rest, without simulating the motion."""
        pos, quat = pose_to_pq(np.asarray(grasp_pose) @ self._tcp_inv)
        c = self.world.client
        c.resetBasePositionAndOrientation(self.body, pos.tolist(), quat.tolist())
        c.resetBaseVelocity(self.body, [0, 0, 0], [0, 0, 0])
        self._set_target(grasp_pose)

    def park(self) -> None:
        """Move out of the scene."""
        pose = np.eye(4)
        pose[:3, 3] = PARK
        self.teleport(pose)

    def _set_target(self, grasp_pose: np.ndarray) -> None:
        self._target = np.asarray(grasp_pose, dtype=np.float64)
        pos, quat = pose_to_pq(self._target @ self._tcp_inv)
        self.world.client.changeConstraint(self.constraint, jointChildPivot=pos.tolist(),
                                           jointChildFrameOrientation=quat.tolist(), maxForce=self.hold_force,
                                           erp=0.8)  # track the target closely: lag means blocked

    def move_linear(self, offset: np.ndarray, speed: float, settle_steps: int = 10, on_step=None) -> None:
        """Move the target by ``offset`` (3,) metres (world) at ``speed`` m/s average (smoothstep profile,
        peak acceleration 6 |offset| / T^2 for a motion of T seconds), then hold it ``settle_steps`` steps.
        ``on_step()`` is called after every step and may return True to stop early."""
        start = self._target.copy()
        offset = np.asarray(offset, dtype=np.float64)
        dt = self.world.config.time_step
        n = max(1, int(np.ceil(np.linalg.norm(offset) / (speed * dt))))
        for i in range(1, n + settle_steps + 1):
            t = min(1.0, i / n)
            target = start.copy()
            target[:3, 3] += offset * (t * t * (3.0 - 2.0 * t))  # smoothstep: zero speed at both ends
            self._set_target(target)
            self.world.step()
            if on_step is not None and on_step():
                break

    @property
    def lag(self) -> float:
        """Distance (m) between the gripper and its moving target: large when something blocks it."""
        return float(np.linalg.norm(self.pose[:3, 3] - self._target[:3, 3]))

    def hold_here(self) -> None:
        """Make the current pose the target (stop pushing)."""
        self._set_target(self.pose)

    def touching(self) -> bool:
        """Whether the gripper is in contact with any body."""
        return any(pt[8] < CONTACT_M for pt in self.world.client.getContactPoints(bodyA=self.body))

    def in_collision(self) -> bool:
        """Whether the gripper penetrates another body by more than 1 mm now (without stepping)."""
        c = self.world.client
        c.performCollisionDetection()
        return any(pt[8] < -0.001 for pt in c.getContactPoints(bodyA=self.body))


class ParallelJawGripper(_FloatingGripper):
    """The floating Franka hand; both finger joints are driven (pybullet ignores the URDF mimic joint)."""

    def __init__(self, world: SimWorld, config: ParallelJawConfig | None = None) -> None:
        self.config = config or ParallelJawConfig()
        body = world.client.loadURDF(str(panda_hand_urdf()))
        tcp = np.eye(4)
        tcp[2, 3] = FINGER_JOINT_Z + FINGER_LENGTH - self.config.contact_depth
        super().__init__(world, body, tcp, self.config.hold_force)
        c = world.client
        self.fingers = (0, 1)
        for j in self.fingers:
            c.changeDynamics(body, j, lateralFriction=self.config.finger_friction)
        self.open()

    def open(self) -> None:
        """Snap the fingers fully open."""
        half = self.config.max_opening / 2
        c = self.world.client
        for j in self.fingers:
            c.resetJointState(self.body, j, half, 0.0)
        c.setJointMotorControlArray(self.body, list(self.fingers), self.world.p.POSITION_CONTROL,
                                    targetPositions=[half, half], forces=[self.config.grip_force] * 2)

    def close(self, max_steps: int = 90) -> float:
        """Close both fingers with ``grip_force`` until they stop; returns the opening (m)."""
        c = self.world.client
        c.setJointMotorControlArray(self.body, list(self.fingers), self.world.p.VELOCITY_CONTROL,
                                    targetVelocities=[-0.2, -0.2], forces=[self.config.grip_force] * 2)
        last = self.opening
        for i in range(max_steps):
            self.world.step()
            if i % 6 == 5:
                now = self.opening
                if abs(now - last) < 2e-4:
                    break
                last = now
        return self.opening

    @property
    def opening(self) -> float:
        """Distance between the finger pads (m)."""
        return float(sum(s[0] for s in self.world.client.getJointStates(self.body, list(self.fingers))))

    def held_objects(self) -> list[int]:
        """Objects touched by both fingers."""
        c = self.world.client
        touched = [{pt[2] for pt in c.getContactPoints(bodyA=self.body, linkIndexA=j) if pt[8] < CONTACT_M}
                   for j in self.fingers]
        return sorted(b for b in touched[0] & touched[1] if b in self.world.object_ids)


class SuctionGripper(_FloatingGripper):
    """A rigid cylindrical cup; vacuum is a fixed constraint to the object that breaks when the contact
    wrench leaves the limit surface of ``SuctionConfig``."""

    def __init__(self, world: SimWorld, config: SuctionConfig | None = None) -> None:
        self.config = cfg = config or SuctionConfig()
        c = world.client
        shape = c.createCollisionShape(world.p.GEOM_CYLINDER, radius=cfg.radius, height=cfg.length)
        body = c.createMultiBody(0.2, shape, -1, PARK.tolist(), [0, 0, 0, 1])
        c.changeDynamics(body, -1, lateralFriction=cfg.friction)
        c.setCollisionFilterGroupMask(body, -1, CUP_GROUP, 0xFFFF)  # still collides; seal rays skip it
        tcp = np.eye(4)
        tcp[2, 3] = cfg.length / 2  # the lip is the +z end of the cylinder
        super().__init__(world, body, tcp, cfg.hold_force)
        self.attached: int | None = None
        self._vacuum: int | None = None
        self._violations = 0
        self._wrench: np.ndarray | None = None

    def seal(self) -> tuple[int | None, str]:
        """Check the seal at the current pose by casting rays along the lip ring and the axis.

        Returns (object body id, "") on a seal, else (None, reason).
        """
        cfg, c = self.config, self.world.client
        pose = self.pose
        a = pose[:3, 2]
        phi = np.linspace(0.0, 2 * np.pi, cfg.ring_points, endpoint=False)
        ring = cfg.radius * (np.cos(phi)[:, None] * pose[:3, 0] + np.sin(phi)[:, None] * pose[:3, 1])
        starts = pose[:3, 3] + np.vstack([ring, np.zeros((1, 3))]) - 0.02 * a
        ends = starts + 0.05 * a
        hits = c.rayTestBatch(starts.tolist(), ends.tolist(), collisionFilterMask=0xFFFF & ~CUP_GROUP)
        bodies = {h[0] for h in hits}
        if len(bodies) != 1 or -1 in bodies:
            return None, "lip not on one object"
        body = bodies.pop()
        if body not in self.world.object_ids:
            return None, "lip not on an object"
        pts = np.array([h[3] for h in hits[:-1]])
        stretch = np.abs((pts - np.asarray(hits[-1][3])) @ a)
        if stretch.max() > cfg.max_stretch:
            return None, "surface too tilted or curved"
        if not ring_is_flat(pts, cfg.seal_tolerance):
            return None, "lip ring not flat"
        return body, ""

    def attach(self, body: int) -> None:
        """Turn the vacuum on: hold ``body`` rigidly at its current pose relative to the cup."""
        c = self.world.client
        cup = self.pose
        obj_com = pq_to_pose(*c.getBasePositionAndOrientation(body))
        rel = np.linalg.inv(obj_com) @ cup  # object COM frame <- cup lip frame
        ppos, pquat = pose_to_pq(self.tcp)
        cpos, cquat = pose_to_pq(rel)
        self._vacuum = c.createConstraint(self.body, -1, body, -1, self.world.p.JOINT_FIXED, [0, 0, 0],
                                          ppos.tolist(), cpos.tolist(), parentFrameOrientation=pquat.tolist(),
                                          childFrameOrientation=cquat.tolist())
        c.changeConstraint(self._vacuum, maxForce=10 * self.config.hold_force)
        c.setCollisionFilterPair(self.body, body, -1, -1, 0)  # the vacuum constraint replaces the contact
        self._set_target(cup)  # stop pushing into the surface
        self.attached, self._violations, self._wrench = body, 0, None

    def release(self) -> None:
        """Turn the vacuum off."""
        if self._vacuum is not None:
            c = self.world.client
            c.removeConstraint(self._vacuum)
            if self.attached in self.world.object_ids:
                c.setCollisionFilterPair(self.body, self.attached, -1, -1, 1)
        self._vacuum, self.attached, self._violations, self._wrench = None, None, 0, None

    def check_seal(self) -> bool:
        """Call after each step while attached: releases and returns False once the contact wrench has been
        outside the limit surface for ``violation_steps`` steps."""
        if self._vacuum is None:
            return False
        cfg = self.config
        state = np.asarray(self.world.client.getConstraintState(self._vacuum), dtype=np.float64)
        # low-pass the solver's wrench (time constant ~10 steps, starting unloaded) so single-step impulses
        # of the rigid contact model do not count
        self._wrench = (np.zeros(6) if self._wrench is None else self._wrench) * 0.9 + 0.1 * state
        a = self.pose[:3, 2]
        force, torque = self._wrench[:3], self._wrench[3:]  # on the cup, world frame, about the lip centre
        pull = float(force @ a)
        load = cfg.vacuum_force - pull
        tangential = np.linalg.norm(force - pull * a)
        twist = float(torque @ a)
        bending = np.linalg.norm(torque - twist * a)
        ok = load > 0 and tangential <= cfg.friction * load and bending <= cfg.radius * load / 2 \
            and abs(twist) <= cfg.friction * cfg.radius * load
        self._violations = 0 if ok else self._violations + 1
        if self._violations >= cfg.violation_steps:
            self.release()
            return False
        return True
