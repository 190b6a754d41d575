"""Depth-image preprocessing: units, validity, hole filling, and where grasp centres may lie."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from dexnet_core.errors import NoValidGraspError

#: encoding -> metres per stored unit (ROS sensor_msgs/Image encodings for depth)
DEPTH_ENCODINGS: dict[str, float] = {"32FC1": 1.0, "64FC1": 1.0, "16UC1": 1e-3}


def depth_to_metres(array: np.ndarray, encoding: str) -> np.ndarray:
    """Convert a raw depth image to float32 metres with NaN marking missing pixels.

    array : (H, W) raw depth; ``encoding`` one of "32FC1" (m), "64FC1" (m), "16UC1" (mm, 0 = missing).
    Non-finite and non-positive values become NaN. Other encodings raise ValueError.
    """
    if encoding not in DEPTH_ENCODINGS:
        raise ValueError(f"unsupported depth encoding {encoding!r}; expected {sorted(DEPTH_ENCODINGS)}")
    array = np.asarray(array)
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.ndim != 2:
        raise ValueError(f"depth image must be (H, W), got shape {array.shape}")
    if encoding == "16UC1" and array.dtype.kind not in "ui":
        raise ValueError(f"16UC1 depth must hold integers (millimetres), got dtype {array.dtype}")
    depth = array.astype(np.float32) * np.float32(DEPTH_ENCODINGS[encoding])
    depth[~(np.isfinite(depth) & (depth > 0))] = np.nan
    return depth


def image_buffer_view(data, height: int, width: int, step: int, big_endian: bool, dtype: type,
                      encoding: str = "", what: str = "image") -> np.ndarray:
    """View a ROS-style image buffer (``data`` bytes-like: rows of ``step`` bytes) as an (height, width)
    array of ``dtype`` in the given byte order, without a copy. Raises ValueError when the declared size,
    step and buffer length disagree, naming the image ``what`` ("depth image", "mask", ...) and its
    ``encoding``."""
    dt = np.dtype(dtype).newbyteorder(">" if big_endian else "<")
    h, w, step, n = int(height), int(width), int(step), len(data)
    if h <= 0 or w <= 0:
        raise ValueError(f"{what} '{encoding}' has size {w}x{h}; width and height must be > 0")
    if step < w * dt.itemsize:
        raise ValueError(f"{what} step {step} is smaller than width*bytes_per_pixel = {w}*{dt.itemsize}")
    needed = step * (h - 1) + w * dt.itemsize
    if n < needed or n > step * h:
        raise ValueError(f"{what} data has {n} bytes; {w}x{h} '{encoding}' with step {step} needs {step * h}")
    buf = np.frombuffer(data, dtype=np.uint8)
    return np.ndarray((h, w), dtype=dt, buffer=buf, strides=(step, dt.itemsize))


def valid_depth(depth_m: np.ndarray) -> np.ndarray:
    """(H, W) bool: pixels holding a measurement (finite and > 0)."""
    depth_m = np.asarray(depth_m)
    with np.errstate(invalid="ignore"):
        return np.isfinite(depth_m) & (depth_m > 0)


def inpaint_depth(depth_m: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Fill missing depth by push-pull interpolation (an image pyramid of valid-pixel averages).

    depth_m : (H, W) float metres; valid : (H, W) bool. Valid pixels are returned unchanged; each hole gets
    a smooth blend of the nearest valid surroundings, at ~5 ms for 640x480. Raises NoValidGraspError when
    no pixel is valid.
    """
    if not valid.any():
        raise NoValidGraspError("depth image has no valid pixel (all missing)")
    d = torch.from_numpy(np.where(valid, depth_m, 0.0).astype(np.float32))[None, None]
    w = torch.from_numpy(valid.astype(np.float32))[None, None]
    # push: average valid pixels over 2x2 blocks until nothing is missing
    levels: list[tuple[torch.Tensor, torch.Tensor]] = []
    while True:
        mean = d / w.clamp_min(1e-12)
        levels.append((mean, w > 0))
        if bool((w > 0).all()):
            break
        d = F.avg_pool2d(d, 2, ceil_mode=True)
        w = F.avg_pool2d(w, 2, ceil_mode=True)
    # pull: fill each level's holes from the (already filled) coarser level
    filled = levels[-1][0]
    for mean, has in reversed(levels[:-1]):
        up = F.interpolate(filled, size=mean.shape[-2:], mode="bilinear", align_corners=False)
        filled = torch.where(has, mean, up)
    out = filled[0, 0].numpy()
    return np.where(valid, depth_m, out).astype(np.float32)


def candidate_mask(
    depth_m: np.ndarray,
    valid: np.ndarray,
    mask: np.ndarray | None = None,
    roi: tuple[int, int, int, int] | None = None,
    min_depth_m: float = 0.0,
    max_depth_m: float = float("inf"),
) -> np.ndarray:
    """(H, W) bool: pixels where a grasp centre may lie.

    A candidate has a measured (not inpainted) depth within [min_depth_m, max_depth_m], lies inside
    ``mask`` ((H, W) bool, True = allowed) and inside ``roi`` = (x, y, w, h) in pixels.
    """
    out = valid.copy()
    with np.errstate(invalid="ignore"):
        out &= (depth_m >= min_depth_m) & (depth_m <= max_depth_m)
    if mask is not None:
        mask = np.asarray(mask)
        if mask.shape != depth_m.shape:
            raise ValueError(f"mask shape {mask.shape} does not match depth shape {depth_m.shape}")
        out &= mask.astype(bool)
    if roi is not None:
        x, y, w, h = (int(round(r)) for r in roi)
        inside = np.zeros_like(out)
        inside[max(y, 0) : max(y + h, 0), max(x, 0) : max(x + w, 0)] = True
        out &= inside
    return out
