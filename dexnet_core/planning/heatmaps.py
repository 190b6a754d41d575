"""Grasp-quality heatmaps over jaw angles and gripper depths on the metrically rescaled scene.

For a jaw angle a, the rescaled scene S is resampled onto a "canvas" rotated so that the jaw axis at angle
a in the image (measured from +u towards +v) is horizontal, as in the training crops. The FC-GQ-CNN runs
once on each canvas; cell (i, j) is the network on the canvas crop centred at canvas pixel
q = (j * s + 16, i * s + 16) (x, y), and canvas pixel q samples S at p = c_s + R(a) (q - c_c). Composed with
the rescale, every cell maps to an exact input-image position by one affine map (``AngleGrid.to_input``).
At a = 0 the canvas is an integer shift of S, so cells are exact crops of S.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from dexnet_core.planning.rescale import NETWORK_INPUT_PX, SceneScale

HALF = NETWORK_INPUT_PX // 2  # a crop starting at pixel k is centred (by convention) at pixel k + 16


@dataclass(frozen=True)
class Canvas:
    """Rotated resampling of the rescaled scene for one jaw angle."""

    angle: float  # rad
    center_s: tuple[float, float]  # c_s: (x, y) in rescaled pixels
    center_c: tuple[float, float]  # c_c: (x, y) in canvas pixels
    width: int
    height: int

    def canvas_to_scene(self) -> np.ndarray:
        """(2, 3) affine: rescaled-scene (x, y) = M @ (canvas x, canvas y, 1)."""
        c, s = math.cos(self.angle), math.sin(self.angle)
        rot = np.array([[c, -s], [s, c]])
        offset = np.asarray(self.center_s) - rot @ np.asarray(self.center_c)
        return np.concatenate([rot, offset[:, None]], axis=1)

    def sample(self, scene: torch.Tensor, padding_mode: str = "border") -> torch.Tensor:
        """(Hs, Ws) rescaled depth -> (1, 1, height, width) float32 canvas (bilinear; outside the scene the
        border value, or 0 with ``padding_mode="zeros"``).

        Sampled in float64 so that at angle 0 the canvas reproduces the scene pixels exactly.
        """
        hs, ws = scene.shape
        m = _pixels_to_normalized(ws, hs) @ _homogeneous(self.canvas_to_scene()) @ _normalized_to_pixels(
            self.width, self.height)
        theta = torch.as_tensor(m[None, :2], dtype=torch.float64, device=scene.device)
        grid = F.affine_grid(theta, [1, 1, self.height, self.width], align_corners=False)
        out = F.grid_sample(scene.double()[None, None], grid, mode="bilinear", padding_mode=padding_mode,
                            align_corners=False)
        return out.float()


def make_canvas(angle: float, region: tuple[int, int, int, int], stride: int) -> Canvas:
    """Smallest canvas whose cell centres cover ``region`` = (x0, y0, x1, y1) (inclusive, rescaled px).

    The canvas centre is nudged by < 1 px so that at angle 0 the canvas is an integer shift of the scene.
    """
    x0, y0, x1, y1 = region
    w, h = x1 - x0 + 1, y1 - y0 + 1
    c, s = abs(math.cos(angle)), abs(math.sin(angle))
    span_x, span_y = c * w + s * h, s * w + c * h  # extent of the rotated region
    cols = math.ceil(span_x / stride - 1e-9) + 1
    rows = math.ceil(span_y / stride - 1e-9) + 1
    width, height = (cols - 1) * stride + NETWORK_INPUT_PX, (rows - 1) * stride + NETWORK_INPUT_PX
    center_s = ((x0 + x1) / 2, (y0 + y1) / 2)
    mid = (HALF + (cols - 1) * stride / 2, HALF + (rows - 1) * stride / 2)
    center_c = tuple(cs - round(cs - m) for cs, m in zip(center_s, mid))
    return Canvas(angle, center_s, center_c, width, height)


def fit_canvas(canvas: Canvas, points: np.ndarray, stride: int) -> Canvas:
    """The part of ``canvas`` whose cells lie within one cell of ``points`` ((n, 2) rescaled-scene x, y),
    on the same cell lattice, shifted by an even number of cells: its cells are cells of ``canvas`` and score
    the same (and a pixel halfway between two cells, which render_heatmap rounds to the even one, keeps its
    cell).

    A region's axis-aligned box, turned to the jaw angle, can be far larger than the region itself (a
    tilted workspace seen at an angle); the network then runs on its cells alone.
    """
    c, s = math.cos(canvas.angle), math.sin(canvas.angle)
    d = np.asarray(points, dtype=np.float64) - np.asarray(canvas.center_s)
    qx = c * d[:, 0] + s * d[:, 1] + canvas.center_c[0]  # canvas pixel = R(a)^T (p - c_s) + c_c
    qy = -s * d[:, 0] + c * d[:, 1] + canvas.center_c[1]
    rows, cols = grid_shape(canvas, stride)
    j0, j1 = _cell_span(float(qx.min()), float(qx.max()), stride, cols)
    i0, i1 = _cell_span(float(qy.min()), float(qy.max()), stride, rows)
    j0, i0 = j0 - j0 % 2, i0 - i0 % 2  # whole pairs of cells: ties between cells round as on ``canvas``
    center_c = (canvas.center_c[0] - j0 * stride, canvas.center_c[1] - i0 * stride)
    return Canvas(canvas.angle, canvas.center_s, center_c, (j1 - j0) * stride + NETWORK_INPUT_PX,
                  (i1 - i0) * stride + NETWORK_INPUT_PX)


def _cell_span(q_min: float, q_max: float, stride: int, n: int) -> tuple[int, int]:
    """First and last of ``n`` cells (centres at k * stride + 16) spanning canvas pixels [q_min, q_max],
    with one cell to spare on each side."""
    first = math.floor((q_min - HALF) / stride) - 1
    last = math.ceil((q_max - HALF) / stride) + 1
    return max(0, first), min(n - 1, last)


@dataclass(frozen=True)
class AngleGrid:
    """Heatmap cells of one jaw angle and where they lie in the input image."""

    angle: float  # rad, jaw axis in the image
    quality: np.ndarray  # (Ho, Wo) float32, best over gripper depths
    gripper_depth: np.ndarray  # (Ho, Wo) float32 m, parallel-jaw gripper depth of each cell (NaN: suction)
    to_input: np.ndarray  # (2, 3) affine: input (u, v) = to_input @ (j, i, 1)
    observed: np.ndarray | None = None  # (Ho, Wo) float32: share of each cell's crop holding measured depth
    canvas: Canvas | None = None  # the canvas the cells were scored on

    def cell_centers(self) -> tuple[np.ndarray, np.ndarray]:
        """Input-image (u, v) of every cell, each (Ho, Wo) float64."""
        return cell_centers(self.to_input, self.quality.shape)


def cell_centers(to_input: np.ndarray, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Input-image (u, v), each (Ho, Wo) float64, of the cells of a grid with affine ``to_input``."""
    i, j = np.mgrid[0 : shape[0], 0 : shape[1]].astype(np.float64)
    a = to_input
    return a[0, 0] * j + a[0, 1] * i + a[0, 2], a[1, 0] * j + a[1, 1] * i + a[1, 2]


def cell_to_input(canvas: Canvas, scale: SceneScale, stride: int) -> np.ndarray:
    """(2, 3) affine from cell index (j, i, 1) to input pixel (u, v)."""
    cell_to_canvas = np.array([[stride, 0.0, HALF], [0.0, stride, HALF], [0.0, 0.0, 1.0]])
    scene_to_input = np.array([[1 / scale.sx, 0.0, 0.5 / scale.sx - 0.5],
                               [0.0, 1 / scale.sy, 0.5 / scale.sy - 0.5], [0.0, 0.0, 1.0]])
    m = np.vstack([canvas.canvas_to_scene(), [0.0, 0.0, 1.0]])
    return (scene_to_input @ m @ cell_to_canvas)[:2]


def render_heatmap(grids: list[AngleGrid], shape: tuple[int, int], box: tuple[int, int, int, int]
                   ) -> np.ndarray:
    """(H, W) float32 input-image heatmap: at each pixel of ``box`` = (u0, v0, u1, v1) (inclusive), the best
    quality over angles of the cell nearest to it; 0 elsewhere and where no cell lies within half a cell."""
    out = np.zeros(shape, dtype=np.float32)
    u0, v0, u1, v1 = box
    bw, bh = u1 - u0 + 1, v1 - v0 + 1
    box_to_input = np.array([[1.0, 0.0, u0], [0.0, 1.0, v0], [0.0, 0.0, 1.0]]) @ _normalized_to_pixels(bw, bh)
    best = torch.zeros((bh, bw), dtype=torch.float32)
    for g in grids:
        ho, wo = g.quality.shape
        m = _pixels_to_normalized(wo, ho) @ np.linalg.inv(_homogeneous(g.to_input)) @ box_to_input
        grid = F.affine_grid(torch.as_tensor(m[None, :2], dtype=torch.float32), [1, 1, bh, bw],
                             align_corners=False)
        q = torch.from_numpy(g.quality)[None, None]
        sampled = F.grid_sample(q, grid, mode="nearest", padding_mode="zeros", align_corners=False)
        torch.maximum(best, sampled[0, 0], out=best)
    out[v0 : v1 + 1, u0 : u1 + 1] = best.numpy()
    return out


def _homogeneous(m: np.ndarray) -> np.ndarray:
    return np.vstack([m, [0.0, 0.0, 1.0]])


def _normalized_to_pixels(width: int, height: int) -> np.ndarray:
    """(3, 3): grid_sample coordinates in [-1, 1] (align_corners=False) -> pixel (x, y)."""
    return np.array([[width / 2, 0.0, (width - 1) / 2], [0.0, height / 2, (height - 1) / 2], [0.0, 0.0, 1.0]])


def _pixels_to_normalized(width: int, height: int) -> np.ndarray:
    """(3, 3): pixel (x, y) -> grid_sample coordinates in [-1, 1] (align_corners=False)."""
    return np.linalg.inv(_normalized_to_pixels(width, height))


def grid_shape(canvas: Canvas, stride: int) -> tuple[int, int]:
    """(Ho, Wo) cells the FC-GQ-CNN reports on ``canvas``."""
    return ((canvas.height - NETWORK_INPUT_PX) // stride + 1, (canvas.width - NETWORK_INPUT_PX) // stride + 1)
