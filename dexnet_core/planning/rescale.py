"""Metric rescaling: resize the scene so one network pixel spans the physical size it did in training.

Dex-Net crops cover ``crop_size_px`` (96) pixels of a ``training_focal_px`` (525 px) camera at
``training_depth_m`` (0.7 m) and are resized to the 32x32 network input. A scene seen at median depth d
by a camera of focal length f is therefore resized by
``factor = (32 / crop_size_px) * (d / training_depth_m) * (training_focal_px / f)``
per axis (fx for columns, fy for rows). Pixel centres follow the align_corners=False convention: rescaled
pixel r covers input coordinate ``(r + 0.5) / factor - 0.5``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from dexnet_core.camera import CameraIntrinsics

NETWORK_INPUT_PX = 32  # side of the GQ-CNN input


@dataclass(frozen=True)
class SceneScale:
    """Resize of the input image to the network scale: input (H, W) -> rescaled (height, width)."""

    sx: float  # rescaled columns per input column (exactly width / W)
    sy: float  # rescaled rows per input row (exactly height / H)
    width: int
    height: int

    def to_input(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Rescaled pixel coordinates (column x, row y) -> input pixel coordinates (u, v)."""
        return (np.asarray(x) + 0.5) / self.sx - 0.5, (np.asarray(y) + 0.5) / self.sy - 0.5

    def from_input(self, u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Input pixel coordinates (u, v) -> rescaled pixel coordinates (x, y)."""
        return (np.asarray(u) + 0.5) * self.sx - 0.5, (np.asarray(v) + 0.5) * self.sy - 0.5


def metric_scale(
    median_depth_m: float,
    intrinsics: CameraIntrinsics,
    crop_size_px: int = 96,
    training_depth_m: float = 0.7,
    training_focal_px: float = 525.0,
) -> SceneScale:
    """Scale that makes a 32-px network crop cover the training crop's physical size at ``median_depth_m``."""
    if not median_depth_m > 0:
        raise ValueError(f"median depth must be > 0 m, got {median_depth_m}")
    base = (NETWORK_INPUT_PX / crop_size_px) * (median_depth_m / training_depth_m) * training_focal_px
    width = max(1, round(intrinsics.width * base / intrinsics.fx))
    height = max(1, round(intrinsics.height * base / intrinsics.fy))
    return SceneScale(width / intrinsics.width, height / intrinsics.height, width, height)


def rescale_depth(depth_m: np.ndarray, scale: SceneScale) -> torch.Tensor:
    """Resize a hole-free (H, W) float depth image to (scale.height, scale.width) float32 metres.

    Bilinear with antialiasing when shrinking, so sensor noise averages out instead of aliasing.
    """
    t = torch.as_tensor(np.ascontiguousarray(depth_m), dtype=torch.float32)[None, None]
    shrink = scale.sx < 1.0 or scale.sy < 1.0
    out = F.interpolate(t, size=(scale.height, scale.width), mode="bilinear", align_corners=False,
                        antialias=shrink)
    return out[0, 0]
