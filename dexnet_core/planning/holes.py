"""Hole- and border-aware scoring: how much of a grasp's crop was measured, and a score that filled-in
depth cannot raise.

Missing depth is filled (``preprocess.inpaint_depth``) before the network sees the scene, and a smooth fill
makes the clean surfaces the network likes: a flat patch for a suction cup over a hole, free space beside
an edge for the fingers. So:

1. Observed share. A map of measured pixels is resized and resampled exactly as the depth is (rescale,
   rotated canvas) and averaged over each cell's 32x32 crop: the share of the crop, at the planner's metric
   scale, that holds measured depth (outside the image counts as not measured). A cell whose crop leaves
   the image, or whose share is below ``1 - max_filled_fraction``, gets no grasp.
2. Adverse fill. A cell whose crop holds filled-in pixels is scored again, crop-wise, on the scene with its
   holes filled by the worst completion the surroundings allow (``extreme_fill``): for a parallel jaw the
   nearest surrounding surface (what was not seen may be an obstacle the fingers meet), for suction the
   farthest (the surface may fall away under the lip). Its score is the lower of the two. The measured
   pixels are the same in both crops, so filled-in pixels can lower a score but never raise it above what
   the adverse completion of the same measurements supports. The planner rescores lazily at selection,
   best cell first (a score only goes down, so the picks equal those of rescoring every cell).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from dexnet_core.models.symmetries import symmetry_mean
from dexnet_core.planning.heatmaps import AngleGrid, Canvas
from dexnet_core.planning.rescale import NETWORK_INPUT_PX, SceneScale, rescale_depth

INSIDE_TOLERANCE = 0.02  # a crop "leaves the image" when more than this share of it lies outside
FULLY_OBSERVED = 1.0 - 1e-4  # observed share above which a crop holds no filled-in pixel


def crop_shares(canvas: Canvas, seen: torch.Tensor, stride: int) -> tuple[np.ndarray, np.ndarray]:
    """(observed, inside), each (Ho, Wo) float32: share of each cell's crop on measured pixels, and inside
    the image. ``seen`` (Hs, Ws): the measured-pixel map at the network scale (``rescale_depth`` of it)."""
    maps = torch.cat([canvas.sample(seen, "zeros"), canvas.sample(torch.ones_like(seen), "zeros")], dim=1)
    return _crop_means(maps[0].double(), stride)


def _crop_means(maps: torch.Tensor, stride: int) -> tuple[np.ndarray, ...]:
    """Mean of each (C, H, W) map over the 32x32 crop of every cell (summed-area table: the same as
    ``avg_pool2d(maps, 32, stride)`` at a cost independent of the crop size)."""
    n = NETWORK_INPUT_PX
    table = F.pad(maps.cumsum(1).cumsum(2), (1, 0, 1, 0))
    top, left = slice(0, table.shape[1] - n, stride), slice(0, table.shape[2] - n, stride)
    bottom, right = slice(n, table.shape[1], stride), slice(n, table.shape[2], stride)
    sums = table[:, bottom, right] - table[:, top, right] - table[:, bottom, left] + table[:, top, left]
    return tuple((sums / (n * n)).float().cpu().numpy())


def extreme_fill(depth_m: np.ndarray, valid: np.ndarray, nearest: bool) -> np.ndarray:
    """Fill missing depth with the nearest (``nearest``) or farthest measured depth around each hole.

    Push-pull over an image pyramid of 2x2 minima (maxima): each hole pixel takes the extreme of the measured
    pixels in the smallest pyramid block around it that holds any. depth_m, valid : (H, W); measured pixels
    are returned unchanged.
    """
    sign = -1.0 if nearest else 1.0
    d = torch.from_numpy(np.where(valid, sign * depth_m, -np.inf).astype(np.float32))[None, None]
    levels: list[tuple[torch.Tensor, torch.Tensor]] = []
    while True:
        has = torch.isfinite(d)
        levels.append((d, has))
        if bool(has.all()):
            break
        d = F.max_pool2d(d, 2, ceil_mode=True)
    filled = levels[-1][0]
    for level, has in reversed(levels[:-1]):
        up = F.interpolate(filled, size=level.shape[-2:], mode="nearest")
        filled = torch.where(has, level, up)
    return np.where(valid, depth_m, sign * filled[0, 0].numpy()).astype(np.float32)


class AdverseFill:
    """Crop-wise scores of cells on the adversely filled scene of one frame (built on first use)."""

    def __init__(self, gqm, symmetries: tuple, depth_m: np.ndarray, valid: np.ndarray, scale: SceneScale,
                 stride: int) -> None:
        self.gqm, self.symmetries, self.stride = gqm, symmetries, stride
        self._depth, self._valid, self._scale = depth_m, valid, scale
        self._scene: torch.Tensor | None = None
        self._canvases: dict[int, torch.Tensor] = {}

    def scores(self, grid: AngleGrid, rows: np.ndarray, cols: np.ndarray, depths: np.ndarray | None
               ) -> np.ndarray:
        """(n,) quality of cells (rows, cols) of ``grid`` on the adverse fill; ``depths`` (n,) gripper depths
        (m) for models with a depth input."""
        if self._scene is None:
            fill = extreme_fill(self._depth, self._valid, nearest=self.gqm.gripper != "suction")
            self._scene = rescale_depth(fill, self._scale).to(self.gqm.device)
        key = id(grid)
        if key not in self._canvases:
            self._canvases[key] = grid.canvas.sample(self._scene)[0, 0]
        canvas, s, n = self._canvases[key], self.stride, NETWORK_INPUT_PX
        crops = torch.stack([canvas[i * s : i * s + n, j * s : j * s + n] for i, j in zip(rows, cols)])
        z = None if depths is None else np.asarray(depths, dtype=np.float32)

        def score(x: torch.Tensor) -> torch.Tensor:
            return torch.from_numpy(self.gqm.score(x[:, 0].cpu().numpy(), z)).view(-1, 1, 1)

        return symmetry_mean(score, crops[:, None], self.symmetries).view(-1).numpy()
