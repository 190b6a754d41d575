"""Grasps and their 3D poses in the camera optical frame (REP-103: x right, y down, z forward).

Grasp frame: z = approach direction (into the scene), y = jaw closing axis, x = y cross z; the origin is
the grasp centre at the grasp depth. Quaternions are (x, y, z, w).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dexnet_core.camera import CameraIntrinsics

GRIPPERS = ("parallel_jaw", "suction")


@dataclass(frozen=True)
class Grasp:
    """One planned grasp, in input-image pixels and in the camera optical frame."""

    center_px: tuple[float, float]  # (u, v) in the input image
    angle: float  # rad, jaw axis in the image measured from +u towards +v; 0 for suction
    depth: float  # m along the optical axis
    width: float  # m jaw opening; 0 for suction
    q_value: float  # predicted grasp quality in [0, 1]
    gripper: str  # "parallel_jaw" | "suction"
    position: tuple[float, float, float]  # m, optical frame
    orientation: tuple[float, float, float, float]  # quaternion (x, y, z, w), grasp frame in optical frame
    observed_share: float = 1.0  # share of the grasp's crop (network scale) holding measured depth, [0, 1]

    def __post_init__(self) -> None:
        if self.gripper not in GRIPPERS:
            raise ValueError(f"gripper must be one of {GRIPPERS}, got {self.gripper!r}")

    def to_dict(self) -> dict:
        """Plain JSON-ready mapping."""
        return {
            "center_px": list(self.center_px), "angle": self.angle, "depth": self.depth, "width": self.width,
            "q_value": self.q_value, "gripper": self.gripper, "position": list(self.position),
            "orientation": list(self.orientation), "observed_share": self.observed_share,
        }


def quaternion_from_matrix(r: np.ndarray) -> np.ndarray:
    """(3, 3) rotation matrix -> (4,) unit quaternion (x, y, z, w) with w >= 0."""
    r = np.asarray(r, dtype=np.float64)
    # the largest of the four squared components gives a well-conditioned division
    q2 = np.array([
        1.0 + r[0, 0] - r[1, 1] - r[2, 2],
        1.0 - r[0, 0] + r[1, 1] - r[2, 2],
        1.0 - r[0, 0] - r[1, 1] + r[2, 2],
        1.0 + r[0, 0] + r[1, 1] + r[2, 2],
    ])
    k = int(np.argmax(q2))
    s = 2.0 * np.sqrt(q2[k])
    if k == 0:
        q = [s / 4, (r[0, 1] + r[1, 0]) / s, (r[0, 2] + r[2, 0]) / s, (r[2, 1] - r[1, 2]) / s]
    elif k == 1:
        q = [(r[0, 1] + r[1, 0]) / s, s / 4, (r[1, 2] + r[2, 1]) / s, (r[0, 2] - r[2, 0]) / s]
    elif k == 2:
        q = [(r[0, 2] + r[2, 0]) / s, (r[1, 2] + r[2, 1]) / s, s / 4, (r[1, 0] - r[0, 1]) / s]
    else:
        q = [(r[2, 1] - r[1, 2]) / s, (r[0, 2] - r[2, 0]) / s, (r[1, 0] - r[0, 1]) / s, s / 4]
    q = np.asarray(q)
    return q if q[3] >= 0 else -q


def parallel_jaw_frame(angle: float) -> np.ndarray:
    """(3, 3) rotation (columns x, y, z) of a top-down grasp whose jaw axis is at ``angle`` in the image.

    The approach is the optical axis; the closing axis y = (cos a, sin a, 0) follows the image direction.
    """
    y = np.array([np.cos(angle), np.sin(angle), 0.0])
    z = np.array([0.0, 0.0, 1.0])
    return np.stack([np.cross(y, z), y, z], axis=1)


def approach_frame(approach: np.ndarray) -> np.ndarray:
    """(3, 3) rotation (columns x, y, z): z = ``approach`` (3,), x = image +u made orthogonal to z."""
    z = np.asarray(approach, dtype=np.float64)
    z = z / np.linalg.norm(z)
    ref = np.array([1.0, 0.0, 0.0]) if abs(z[0]) < 0.9 else np.array([0.0, 1.0, 0.0])
    x = ref - ref.dot(z) * z
    x /= np.linalg.norm(x)
    return np.stack([x, np.cross(z, x), z], axis=1)


def surface_normal(
    depth_m: np.ndarray, intrinsics: CameraIntrinsics, u: float, v: float, window_px: int = 7
) -> np.ndarray:
    """Unit surface normal (3,) at pixel (u, v), pointing towards the camera (optical frame): one
    ``surface_normals`` fit."""
    return surface_normals(depth_m, intrinsics, np.array([u]), np.array([v]), window_px)[0]


def surface_normals(depth_m: np.ndarray, intrinsics: CameraIntrinsics, u: np.ndarray, v: np.ndarray,
                    window_px: int = 7) -> np.ndarray:
    """(n, 3) unit surface normals at pixels (u, v) (n,), pointing towards the camera (optical frame).

    Fits a plane (least squares) to the deprojected valid points (finite, > 0) of a ``window_px`` square
    around each pixel of the (H, W) metres depth image, cropped to the image. Falls back to (0, 0, -1) for a
    degenerate window (fewer than 3 points, or all on a line).
    """
    h, w = depth_m.shape
    r = window_px // 2
    du, dv = np.meshgrid(np.arange(-r, r + 1), np.arange(-r, r + 1))
    pu = np.rint(np.ravel(u)).astype(np.int64)[:, None] + du.ravel()  # (n, k)
    pv = np.rint(np.ravel(v)).astype(np.int64)[:, None] + dv.ravel()
    inside = (pu >= 0) & (pu < w) & (pv >= 0) & (pv < h)
    z = depth_m[np.clip(pv, 0, h - 1), np.clip(pu, 0, w - 1)].astype(np.float64)
    ok = inside & np.isfinite(z) & (z > 0)
    z = np.where(ok, z, 0.0)
    pts = np.stack([(pu - intrinsics.cx) * z / intrinsics.fx, (pv - intrinsics.cy) * z / intrinsics.fy, z],
                   axis=2)
    count = ok.sum(axis=1)
    mean = (pts * ok[..., None]).sum(axis=1) / np.maximum(count, 1)[:, None]
    centred = (pts - mean[:, None]) * ok[..., None]
    evals, evecs = np.linalg.eigh(np.einsum("nki,nkj->nij", centred, centred))
    normals = evecs[:, :, 0]  # smallest eigenvalue
    normals[(count < 3) | (evals[:, 1] < 1e-18)] = (0.0, 0.0, -1.0)  # 1e-18: second singular value 1e-9
    return np.where(normals[:, 2:] > 0, -normals, normals)
