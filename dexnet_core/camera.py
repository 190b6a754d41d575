"""Pinhole camera intrinsics and pixel <-> 3D conversions (optical frame: x right, y down, z forward)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class CameraIntrinsics:
    """Pinhole intrinsics of a depth image; pixel (u, v) = (column, row), distances in metres."""

    fx: float
    fy: float
    cx: float
    cy: float
    width: int
    height: int

    def __post_init__(self) -> None:
        if not (self.fx > 0 and self.fy > 0):
            raise ValueError(f"focal lengths must be > 0, got fx={self.fx}, fy={self.fy}")
        if self.width <= 0 or self.height <= 0:
            raise ValueError(f"image size must be > 0, got {self.width}x{self.height}")

    @classmethod
    def from_k(cls, k: np.ndarray, width: int, height: int) -> CameraIntrinsics:
        """Build from a row-major 3x3 (or flat 9-element) camera matrix K."""
        k = np.asarray(k, dtype=np.float64).reshape(3, 3)
        return cls(float(k[0, 0]), float(k[1, 1]), float(k[0, 2]), float(k[1, 2]), int(width), int(height))

    @property
    def k(self) -> np.ndarray:
        """(3, 3) float64 camera matrix."""
        return np.array([[self.fx, 0.0, self.cx], [0.0, self.fy, self.cy], [0.0, 0.0, 1.0]])

    def scaled(self, factor: float) -> CameraIntrinsics:
        """Intrinsics of the same camera after resizing the image by ``factor`` (pixel-centre convention)."""
        return CameraIntrinsics(
            self.fx * factor, self.fy * factor,
            (self.cx + 0.5) * factor - 0.5, (self.cy + 0.5) * factor - 0.5,
            max(1, round(self.width * factor)), max(1, round(self.height * factor)),
        )

    def deproject(self, uv: np.ndarray, depth: np.ndarray) -> np.ndarray:
        """Pixels to 3D points.

        uv : (n, 2) float, pixels (u = column, v = row); depth : (n,) float, metres along z.
        Returns (n, 3) float64 points in metres, camera optical frame.
        """
        uv = np.asarray(uv, dtype=np.float64).reshape(-1, 2)
        z = np.asarray(depth, dtype=np.float64).reshape(-1)
        x = (uv[:, 0] - self.cx) * z / self.fx
        y = (uv[:, 1] - self.cy) * z / self.fy
        return np.stack([x, y, z], axis=1)

    def project(self, points: np.ndarray) -> np.ndarray:
        """3D points (n, 3) metres, optical frame, z > 0, to pixels (n, 2) float64 (u, v)."""
        p = np.asarray(points, dtype=np.float64).reshape(-1, 3)
        u = p[:, 0] * self.fx / p[:, 2] + self.cx
        v = p[:, 1] * self.fy / p[:, 2] + self.cy
        return np.stack([u, v], axis=1)

    def pixel_rays(self) -> np.ndarray:
        """(height, width, 3) float32 unit ray directions through every pixel centre, optical frame."""
        u, v = np.meshgrid(np.arange(self.width), np.arange(self.height))
        ones = np.ones_like(u, dtype=np.float64)
        d = np.stack([(u - self.cx) / self.fx, (v - self.cy) / self.fy, ones], -1)
        return (d / np.linalg.norm(d, axis=-1, keepdims=True)).astype(np.float32)


PRIMESENSE = CameraIntrinsics(fx=525.0, fy=525.0, cx=319.5, cy=239.5, width=640, height=480)
"""Primesense / Kinect-like 640x480 depth camera, the scale Dex-Net datasets were rendered at."""
