"""Network-input crops from a depth image at the metric training scale.

A crop covers ``crop_size_px`` pixels of a ``training_focal_px`` camera at ``training_depth_m`` (Dex-Net:
96 px of a 525 px camera at 0.7 m) and is resampled to 32x32, as the planner does: the depth image is
first shrunk by ``scale = 32 / (crop_size_px * (f / training_focal_px) * (training_depth_m / d_ref))``
with area averaging (d_ref: the scene's reference depth, the table at the principal point), then each
32x32 crop is cut out rotated so the jaw axis runs along the crop's columns.
"""

from __future__ import annotations

import numpy as np

from dexnet_core.errors import MissingExtraError

CROP = 32


def require_cv2():
    """Import OpenCV, or raise MissingExtraError naming the extra."""
    try:
        import cv2
    except ImportError as exc:
        raise MissingExtraError("synthesis needs OpenCV: pip install dexnet-core[synth]") from exc
    return cv2


def crop_scale(fx: float, ref_depth_m: float, crop_size_px: int = 96, training_depth_m: float = 0.7,
               training_focal_px: float = 525.0) -> float:
    """Network pixels per image pixel for a camera of focal ``fx`` px whose scene lies at ``ref_depth_m``."""
    return CROP / (crop_size_px * (fx / training_focal_px) * (training_depth_m / ref_depth_m))


def shrink(depth: np.ndarray, scale_xy: tuple[float, float]) -> tuple[np.ndarray, tuple[float, float]]:
    """Resize (H, W) NaN-free depth by about (sx, sy) (area averaging when shrinking).

    Returns (resized float32 image, exact (sx, sy) = new size / old size).
    """
    cv2 = require_cv2()
    h, w = depth.shape
    size = (max(1, round(w * scale_xy[0])), max(1, round(h * scale_xy[1])))
    interp = cv2.INTER_AREA if min(scale_xy) < 1 else cv2.INTER_LINEAR
    small = cv2.resize(np.ascontiguousarray(depth, dtype=np.float32), size, interpolation=interp)
    return small, (size[0] / w, size[1] / h)


def extract_crops(small: np.ndarray, scale_xy: tuple[float, float], centers_uv: np.ndarray,
                  angles: np.ndarray) -> np.ndarray:
    """32x32 crops centred on image points, rotated so direction ``angle`` maps to the crop's +column axis.

    small : (h, w) float32 depth already shrunk by ``scale_xy`` (sx, sy = small / original size);
    centers_uv : (n, 2) crop centres (u = column, v = row) in ORIGINAL image pixels; angles : (n,) rad,
    measured from +u towards +v. Returns (n, 32, 32) float32; border pixels replicate the edge.
    """
    cv2 = require_cv2()
    sx, sy = scale_xy
    out = np.empty((len(centers_uv), CROP, CROP), np.float32)
    half = (CROP - 1) / 2
    for i, ((u, v), a) in enumerate(zip(np.asarray(centers_uv, dtype=np.float64), angles)):
        cx, cy = (u + 0.5) * sx - 0.5, (v + 0.5) * sy - 0.5
        c, s = np.cos(a), np.sin(a)
        # crop (x, y) -> small image: centre + R(a) (x - half, y - half)
        m = np.array([[c, -s, cx - c * half + s * half], [s, c, cy - s * half - c * half]])
        out[i] = cv2.warpAffine(small, m, (CROP, CROP), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                                borderMode=cv2.BORDER_REPLICATE)
    return out
