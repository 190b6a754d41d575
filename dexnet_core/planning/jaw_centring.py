"""Centre a parallel-jaw grasp between the contacts its fingers close on.

Heatmap cells lie on a grid (16 mm apart at the default stride), so the best cell often sits off-centre on
the part it grasps, near an end or a corner, one finger much closer to the part than the other. The hand
closes symmetrically, so such a grasp pushes the part before it holds it. Along the jaw axis, the observed
surface nearer than the fingertips forms a run of pixels through the grasp centre (the part's slice between
the fingers); the planner moves the grasp to the middle of that run when the new centre is a candidate
pixel and the fingers and palm still clear the surface there (``PlannerConfig.jaw_centring``).
"""

from __future__ import annotations

import math

import numpy as np

from dexnet_core.camera import CameraIntrinsics


def slice_midpoint(depth: np.ndarray, intrinsics: CameraIntrinsics, u: float, v: float, angle: float,
                   fingertip_depth_m: float, half_opening_m: float) -> tuple[float, float]:
    """Input-pixel midpoint of the run of pixels along the jaw axis through (u, v) whose depth is below
    ``fingertip_depth_m``; (u, v) itself when its own pixel is not nearer than the fingertips or the run
    reaches ``half_opening_m`` from (u, v) on either side (a finger would land on the part, not beside it).

    depth : (H, W) float metres, hole-free; angle : jaw axis in the image (rad, from +u towards +v).
    """
    h, w = depth.shape
    du, dv = math.cos(angle), math.sin(angle)
    centre = depth[min(max(round(v), 0), h - 1), min(max(round(u), 0), w - 1)]
    if not centre < fingertip_depth_m:
        return u, v
    n = max(1, int(half_opening_m * min(intrinsics.fx, intrinsics.fy) / centre))
    ends = []
    for sign in (1, -1):
        t = np.arange(1, n + 1)
        cols, rows = np.rint(u + sign * t * du).astype(int), np.rint(v + sign * t * dv).astype(int)
        inside = (cols >= 0) & (cols < w) & (rows >= 0) & (rows < h)
        near = np.zeros(n, dtype=bool)
        near[inside] = depth[rows[inside], cols[inside]] < fingertip_depth_m
        if near.all():
            return u, v
        ends.append(sign * int(np.argmin(near)))  # pixels in a row nearer than the fingertips
    shift = 0.5 * (ends[0] + ends[1])
    return u + shift * du, v + shift * dv
