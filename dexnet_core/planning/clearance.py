"""Gripper clearance on the observed depth image: would the gripper hit the scene on its way to a grasp?

A gripper moving along its approach onto a grasp first meets the surface seen under its footprint.
Parallel jaw (approach = optical axis): the footprints of the two fingers at the jaw opening and of the
palm above them lie in the image plane; ``footprint_min_depth`` is the nearest observed depth under one.
Suction (approach = -surface normal): the cup is a cylinder along the approach with its lip disk at the
contact; ``cup_pixels`` projects its samples, and the observed depth there minus theirs is how far the
surface lies behind (+) or in front of (-) each sample.
Footprints are sampled about every 2 input pixels, scaled to pixels at each candidate's own depth and read
from the hole-free depth image; samples outside the image take the nearest border pixel. Everything is
vectorised over candidates.
"""

from __future__ import annotations

import math

import numpy as np

from dexnet_core.camera import CameraIntrinsics
from dexnet_core.synth.suction import ring_is_flat


def finger_footprint(opening_m: float, finger_size_m: tuple[float, float], step_m: float) -> np.ndarray:
    """(m, 2) sample points (x, y) metres of both finger cross-sections in the grasp frame.

    y is the jaw axis: a finger spans |y| in [opening/2, opening/2 + thickness] and |x| <= width/2, with
    ``finger_size_m`` = (thickness along the jaw axis, width across it).
    """
    thickness, width = finger_size_m
    one = rect_footprint((-width / 2, width / 2), (opening_m / 2, opening_m / 2 + thickness), step_m)
    return np.concatenate([one, one * [1.0, -1.0]])


def rect_footprint(x_range: tuple[float, float], y_range: tuple[float, float], step_m: float) -> np.ndarray:
    """(m, 2) sample points (x, y) metres of an axis-aligned rectangle of the grasp frame, at most ``step_m``
    apart, edges included."""
    xs = np.linspace(*x_range, _count(x_range[1] - x_range[0], step_m))
    ys = np.linspace(*y_range, _count(y_range[1] - y_range[0], step_m))
    x, y = np.meshgrid(xs, ys)
    return np.stack([x.ravel(), y.ravel()], axis=1)


def disk_footprint(radius_m: float, step_m: float) -> np.ndarray:
    """(m, 2) sample points (x, y) metres filling a disk of ``radius_m``: a square grid at most ``step_m``
    apart clipped to the disk, plus its rim."""
    n = _count(2 * radius_m, step_m)
    xs = np.linspace(-radius_m, radius_m, n)
    x, y = np.meshgrid(xs, xs)
    inside = x**2 + y**2 < radius_m**2
    return np.concatenate([np.stack([x[inside], y[inside]], axis=1), _rim(radius_m, step_m)])


def cup_footprint(radius_m: float, length_m: float, step_m: float) -> np.ndarray:
    """(m, 3) sample points (x, y, z) metres of a cylindrical cup and tool in its approach frame (z = the
    approach, lip at z = 0): the lip disk, and rims every ``radius_m`` back along the tool to ``length_m``."""
    lip = disk_footprint(radius_m, step_m)
    rim = _rim(radius_m, step_m)
    backs = np.linspace(0.0, length_m, _count(length_m, radius_m))[1:]
    side = np.concatenate([np.column_stack([rim, np.full(len(rim), -b)]) for b in backs])
    return np.concatenate([np.column_stack([lip, np.zeros(len(lip))]), side])


def _rim(radius_m: float, step_m: float) -> np.ndarray:
    phi = np.linspace(0.0, 2 * math.pi, max(8, _count(2 * math.pi * radius_m, step_m)), endpoint=False)
    return radius_m * np.stack([np.cos(phi), np.sin(phi)], axis=1)


def footprint_min_depth(depth: np.ndarray, intrinsics: CameraIntrinsics, u: np.ndarray, v: np.ndarray,
                        scale_depth: np.ndarray, footprint: np.ndarray, angle: float = 0.0) -> np.ndarray:
    """(n,) nearest observed depth (m) under a footprint placed at each candidate.

    depth : (H, W) float metres, hole-free; u, v : (n,) candidate pixels (any shape; the result has it);
    scale_depth : like u, metres at which each footprint is scaled to pixels; footprint : (m, 2) metres in
    the grasp frame, whose y axis is at ``angle`` (rad) in the image (from +u towards +v) and x = y cross
    the optical axis.
    """
    c, s = math.cos(angle), math.sin(angle)
    fx, fy = footprint[:, 0], footprint[:, 1]
    # camera-frame offsets (m) of the samples; float32 / int32 (n x m arrays) keep this memory-light
    dx, dy = (fx * s + fy * c).astype(np.float32), (-fx * c + fy * s).astype(np.float32)
    shape = np.shape(u)
    u, v = np.asarray(u, dtype=np.float32).ravel(), np.asarray(v, dtype=np.float32).ravel()
    inv_z = (1.0 / np.asarray(scale_depth, dtype=np.float64).ravel()).astype(np.float32)
    h, w = depth.shape
    iu = np.rint(u[:, None] + np.float32(intrinsics.fx) * inv_z[:, None] * dx[None]).astype(np.int32)
    iv = np.rint(v[:, None] + np.float32(intrinsics.fy) * inv_z[:, None] * dy[None]).astype(np.int32)
    np.clip(iu, 0, w - 1, out=iu)
    np.clip(iv, 0, h - 1, out=iv)
    iv *= w
    iv += iu  # flat pixel index
    return np.ascontiguousarray(depth).ravel()[iv].min(axis=1).reshape(shape)


def cup_pixels(intrinsics: CameraIntrinsics, shape: tuple[int, int], u: np.ndarray, v: np.ndarray,
               contact_depth: np.ndarray, approach: np.ndarray, footprint: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Where the samples of a cup at each contact appear: (rows, cols, depths (m)), each (n, m).

    shape : (H, W) of the image (pixels are clipped to it); u, v, contact_depth : (n,) contact pixels and
    depths (m); approach : (n, 3) unit approach directions (into the scene), optical frame; footprint :
    (m, 3) cup samples (m) in the approach frame, lip at the contact (``cup_footprint``).
    """
    a = np.asarray(approach, dtype=np.float64)
    ref = np.where(np.abs(a[:, :1]) < 0.9, [[1.0, 0.0, 0.0]], [[0.0, 1.0, 0.0]])
    e1 = ref - (ref * a).sum(axis=1, keepdims=True) * a
    e1 /= np.linalg.norm(e1, axis=1, keepdims=True)
    e2 = np.cross(a, e1)
    centre = intrinsics.deproject(np.stack([np.ravel(u), np.ravel(v)], axis=1), np.ravel(contact_depth))
    f = footprint[None]
    pts = centre[:, None] + f[..., :1] * e1[:, None] + f[..., 1:2] * e2[:, None] + f[..., 2:] * a[:, None]
    z = pts[..., 2]
    h, w = shape
    iu = np.clip(np.rint(intrinsics.fx * pts[..., 0] / z + intrinsics.cx).astype(np.int64), 0, w - 1)
    iv = np.clip(np.rint(intrinsics.fy * pts[..., 1] / z + intrinsics.cy).astype(np.int64), 0, h - 1)
    return iv, iu, z


def lip_ring(footprint: np.ndarray, radius_m: float) -> np.ndarray:
    """(m,) bool: the samples of a ``cup_footprint`` on the lip's rim."""
    return (footprint[:, 2] == 0) & np.isclose(np.hypot(footprint[:, 0], footprint[:, 1]), radius_m)


def rim_is_flat(depth_m: np.ndarray, intrinsics: CameraIntrinsics, rows: np.ndarray, cols: np.ndarray,
                tolerance_m: float, noise_m: np.ndarray) -> np.ndarray:
    """(n,) bool: the surface measured at the lip-rim pixels (rows, cols), each (n, m), lies flat enough for
    the lip to seal on it, by the seal model of the labels (``ring_is_flat``: RMS distance from the
    best-fit plane at most half ``tolerance_m``), with ``noise_m`` (n,) of sensor noise (its RMS) allowed for.
    """
    uv = np.stack([cols.ravel(), rows.ravel()], axis=1)
    pts = intrinsics.deproject(uv, depth_m[rows, cols].ravel()).reshape(*rows.shape, 3)
    return ring_is_flat(pts, np.hypot(tolerance_m, 2.0 * np.asarray(noise_m)))


def sample_step_m(intrinsics: CameraIntrinsics, nearest_m: float, spacing_px: float) -> float:
    """Metres between footprint samples so that they are at most ``spacing_px`` apart at ``nearest_m``."""
    return spacing_px * nearest_m / max(intrinsics.fx, intrinsics.fy)


def _count(extent: float, step: float) -> int:
    """Samples along ``extent`` at most ``step`` apart, both ends included."""
    return max(2, math.ceil(extent / step - 1e-9) + 1)
