"""Heatmap-and-grasps overlay image (pure numpy, no plotting library) and a minimal PNG writer."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np

from dexnet_core.camera import CameraIntrinsics
from dexnet_core.planning.grasp import Grasp

# blue -> cyan -> green -> yellow -> red, at qualities 0, 0.25, 0.5, 0.75, 1
_RAMP = np.array([[0, 0, 255], [0, 255, 255], [0, 255, 0], [255, 255, 0], [255, 0, 0]], dtype=np.float64)
_BEST, _OTHER = (255, 0, 255), (255, 255, 255)


def quality_colors(q: np.ndarray) -> np.ndarray:
    """Qualities (...,) in [0, 1] -> (..., 3) uint8 RGB on a blue-to-red ramp."""
    x = np.clip(np.asarray(q, dtype=np.float64), 0.0, 1.0) * (len(_RAMP) - 1)
    stops = np.arange(len(_RAMP))
    return np.stack([np.interp(x, stops, _RAMP[:, c]) for c in range(3)], axis=-1).astype(np.uint8)


def heatmap_overlay(depth_m: np.ndarray, heatmap: np.ndarray, grasps: list[Grasp],
                    intrinsics: CameraIntrinsics | None = None, alpha: float = 0.6) -> np.ndarray:
    """(H, W, 3) uint8 RGB: depth in grey (near = bright, missing = black), the heatmap blended in colour
    where it is > 0, and each grasp drawn (best in magenta): parallel jaw as its jaw line, suction as a
    ring. With ``intrinsics`` the jaw line spans the metric jaw opening, otherwise 24 px.

    depth_m : (H, W) metres, NaN/0 = missing; heatmap : (H, W) in [0, 1].
    """
    depth = np.asarray(depth_m, dtype=np.float32)
    heat = np.asarray(heatmap, dtype=np.float32)
    if depth.shape != heat.shape:
        raise ValueError(f"heatmap shape {heat.shape} does not match depth shape {depth.shape}")
    ok = np.isfinite(depth) & (depth > 0)
    grey = np.zeros(depth.shape, dtype=np.float64)
    if ok.any():
        lo, hi = np.percentile(depth[ok], [1, 99])
        grey[ok] = 40 + 215 * np.clip((hi - depth[ok]) / max(hi - lo, 1e-6), 0, 1)
    rgb = np.repeat(grey[..., None], 3, axis=2)
    hot = heat > 0
    rgb[hot] = (1 - alpha) * rgb[hot] + alpha * quality_colors(heat[hot])
    out = rgb.astype(np.uint8)
    for n, g in reversed(list(enumerate(grasps))):  # best drawn last, on top
        color = _BEST if n == 0 else _OTHER
        u, v = g.center_px
        if g.gripper == "suction":
            _ring(out, u, v, 7.0, color)
        else:
            half = 12.0
            if intrinsics is not None and g.depth > 0:
                half = 0.5 * g.width * intrinsics.fx / g.depth
            du, dv = half * np.cos(g.angle), half * np.sin(g.angle)
            _line(out, u - du, v - dv, u + du, v + dv, color)
            _disc(out, u - du, v - dv, 2.5, color)
            _disc(out, u + du, v + dv, 2.5, color)
        _disc(out, u, v, 2.0, color)
    return out


def _line(img: np.ndarray, u0: float, v0: float, u1: float, v1: float, color: tuple[int, int, int]) -> None:
    n = int(np.ceil(2 * max(abs(u1 - u0), abs(v1 - v0)))) + 1
    t = np.linspace(0.0, 1.0, n)
    for off_u, off_v in ((0, 0), (1, 0), (0, 1)):
        _paint(img, u0 + t * (u1 - u0) + off_u, v0 + t * (v1 - v0) + off_v, color)


def _disc(img: np.ndarray, u: float, v: float, r: float, color: tuple[int, int, int]) -> None:
    vv, uu = np.mgrid[-int(r) - 1 : int(r) + 2, -int(r) - 1 : int(r) + 2]
    keep = uu**2 + vv**2 <= r * r
    _paint(img, u + uu[keep], v + vv[keep], color)


def _ring(img: np.ndarray, u: float, v: float, r: float, color: tuple[int, int, int]) -> None:
    t = np.linspace(0, 2 * np.pi, int(8 * r) + 8)
    for rr in (r, r + 1):
        _paint(img, u + rr * np.cos(t), v + rr * np.sin(t), color)


def _paint(img: np.ndarray, u: np.ndarray, v: np.ndarray, color: tuple[int, int, int]) -> None:
    pu, pv = np.rint(u).astype(np.int64), np.rint(v).astype(np.int64)
    inside = (pu >= 0) & (pu < img.shape[1]) & (pv >= 0) & (pv < img.shape[0])
    img[pv[inside], pu[inside]] = color


def save_png(path: str | Path, rgb: np.ndarray) -> Path:
    """Write an (H, W, 3) uint8 RGB or (H, W) uint8/uint16 grey image as PNG (no imaging library needed)."""
    img = np.asarray(rgb)
    if img.ndim == 3 and img.shape[2] == 3 and img.dtype == np.uint8:
        color_type, bit_depth = 2, 8
    elif img.ndim == 2 and img.dtype in (np.uint8, np.uint16):
        color_type, bit_depth = 0, 8 * img.dtype.itemsize
    else:
        raise ValueError(f"save_png needs (H, W, 3) uint8 or (H, W) uint8/16, got {img.shape} {img.dtype}")
    h, w = img.shape[:2]
    raw = img.astype(img.dtype.newbyteorder(">"), copy=False).reshape(h, -1).view(np.uint8)
    rows = np.concatenate([np.zeros((h, 1), dtype=np.uint8), raw], axis=1)  # filter type 0 per row

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", w, h, bit_depth, color_type, 0, 0, 0)
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows.tobytes(), 6))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(png + chunk(b"IEND", b""))
    return path
