"""Automatic workspace: where grasp centres may lie on a raw depth frame, without an object segmentation.

``plane``: the support surface (table or bin floor) is fitted as a plane in 3D from the depth image and
the intrinsics, robustly (RANSAC on every ``SAMPLE_STEP_PX``-th pixel, then least squares on its inliers),
whatever the camera's tilt; hypotheses are ranked by their inliers, those in the central quarter of the
image counting ``CENTRE_WEIGHT`` times (the surface the camera looks at). Its inlier pixels fall into
connected patches; each patch's convex hull is the region it supports. The chosen patch is the one the
camera looks at: the smallest hull holding the image centre (inside a bin, the floor between the walls
rather than the table around the bin), else the largest patch; patches beside it (a table cut in two by
a robot arm) are added, patches whose hull covers it (the table around a bin) are not, and none when the
chosen patch is walled in (below): a bin floor, the table beside the bin within the band. A bin seen from
afar can lose the fit to the table around it, its floor a centimetre higher lying within the sensor's
noise band: a parallel level up to MAX_LIFT_M above the fitted plane, set off from it in the histogram of
heights and walled in (what is measured around its region stands higher, not lower: a bin, not the flat
top of an object), takes the plane's place with its region alone. A grasp centre
must lie ``margin_m`` inside that region (away from walls and rims), its surface point between
``min_height_m`` and ``max_height_m`` above the plane (on an object, not on the surface itself), and not
on a thing that reaches the image border (a robot arm or fixture entering the view, an object cut off by
the border: each connected part of what stands on the plane that touches the border is left out).
``Workspace.interior`` holds the pixels of the workspace also ``edge_margin_m`` inside what stands on the
plane, away from object edges (missing pixels are no edge; a part too thin for that keeps its inner half):
the planner ranks grasps centred elsewhere lower (``PlannerConfig.edge_preference``).
``box``: the surface point lies inside an (x, y, z) box of the camera optical frame. Modes combine
(``"plane,box"``); ``"none"`` keeps every pixel.

No plane (too few valid pixels, no plane holding ``MIN_PLANE_SHARE`` of them, or only planes tilted more
than ``MAX_PLANE_TILT_DEG`` from the optical axis, as a wall along the view is) falls back to ``none`` for
the plane part, and ``Workspace.fallback`` says why.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from dexnet_core.camera import CameraIntrinsics
from dexnet_core.planning.masks import blocks, erode, row_extremes, spread

WORKSPACE_MODES = ("plane", "box")
SAMPLE_STEP_PX = 8  # RANSAC samples every 8th pixel in u and v (4,800 points of a 640x480 frame)
REGION_STEP_PX = 4  # support region and margins are computed on every 4th pixel, then spread to the rest
RANSAC_HYPOTHESES = 192  # three-point planes tried
SCORE_SAMPLES = 1200  # sampled pixels the hypotheses are ranked on (the winner is refitted on all)
PLANE_TOLERANCE_M = 0.004  # inlier distance at the camera; grows with the sensor noise (below)
NOISE_SIGMA_PER_M2 = 1.4e-3  # structured-light depth noise: sigma = 1.4e-3 z^2 (z in m)
NOISE_TOLERANCE_PER_M2 = 3 * NOISE_SIGMA_PER_M2  # + 3 sigma of that noise
MAD_TO_SIGMA = 1.4826  # a Gaussian's sigma over its median absolute deviation
CENTRE_WEIGHT = 4.0  # hypotheses are ranked by inliers, those in the image's central quarter counting 4 times
MAX_PLANE_TILT_DEG = 60.0  # a support surface faces the camera within this angle (walls along the view fail)
MIN_PLANE_SHARE = 0.15  # of the sampled valid pixels, on the plane
MIN_SAMPLES = 60  # valid sampled pixels needed to look for a plane
MAX_LIFT_M = 0.03  # a bin floor is looked for up to this far above the plane fitted first
MIN_LEVEL_GAP_M = 0.004  # ... and at least this far above it
LEVEL_BIN_M = 0.001  # height histogram bin the floor's level is found with
LEVEL_DIP = 0.9  # the histogram dips to this share of the floor's peak between the plane and the floor
MIN_LEVEL_SHARE = 0.05  # of the sampled valid pixels, on the floor's level
WALL_RING_PX = 12  # a bin floor's walls are looked for in a band this wide around it
MIN_PATCH_SHARE = 0.01  # inlier patches smaller than this share of the region grid are ignored


@dataclass(frozen=True)
class SupportPlane:
    """The support surface: points p (optical frame, m) with normal . p + offset = 0; normal . p + offset is
    the height above it (the camera is on the positive side)."""

    normal: tuple[float, float, float]  # unit, pointing towards the camera
    offset: float  # m: the camera's height above the plane
    polygons_px: tuple[np.ndarray, ...]  # convex regions it supports, (n, 2) float input pixels (u, v)
    margin_px: float  # grasp centres lie at least this far inside one of them
    inlier_share: float  # share of the sampled valid pixels on the plane
    noise_per_m2: float = 0.0  # depth noise measured on the plane: sigma / z^2 (robust, over its inliers)

    def heights(self, depth_m: np.ndarray, intrinsics: CameraIntrinsics) -> np.ndarray:
        """(H, W) float32 m: height above the plane of every pixel's surface point (NaN where depth is)."""
        nx, ny, nz = self.normal
        h, w = depth_m.shape
        ray = (nx * (np.arange(w, dtype=np.float32) - intrinsics.cx) / intrinsics.fx)[None, :] \
            + (ny * (np.arange(h, dtype=np.float32) - intrinsics.cy) / intrinsics.fy + nz)[:, None]
        return (depth_m * ray + np.float32(self.offset)).astype(np.float32)


@dataclass(frozen=True)
class Workspace:
    """Where grasp centres may lie for one frame."""

    mask: np.ndarray  # (H, W) bool
    modes: tuple[str, ...]  # modes in force ("plane" is dropped when it fell back)
    plane: SupportPlane | None = None
    box: tuple[float, ...] | None = None  # (x_min, x_max, y_min, y_max, z_min, z_max), m, optical frame
    fallback: str | None = None  # why plane mode fell back to none
    interior: np.ndarray | None = None  # (H, W) bool: of mask, the pixels edge_margin_m inside what stands
    # on the plane (None: no edge margin, or no plane)
    standing: np.ndarray | None = None  # (H, W) bool: what stands on the plane (measured min_height_m or
    # more above it) and the missing pixels (None: no plane)


def parse_modes(text: str) -> tuple[str, ...]:
    """"none" -> (); "plane", "box", "plane,box" (or "plane+box") -> the modes. ValueError otherwise."""
    parts = [p.strip() for p in str(text).replace("+", ",").split(",") if p.strip()]
    if parts == ["none"]:
        return ()
    if not parts or any(p not in WORKSPACE_MODES for p in parts) or len(set(parts)) != len(parts):
        raise ValueError(f"planner.workspace must be 'none' or a combination of {list(WORKSPACE_MODES)} "
                         f"such as 'plane,box', got {text!r}")
    return tuple(m for m in WORKSPACE_MODES if m in parts)


def estimate_workspace(depth_m: np.ndarray, valid: np.ndarray, intrinsics: CameraIntrinsics,
                       modes: tuple[str, ...], min_height_m: float = 0.008, max_height_m: float = 0.3,
                       margin_m: float = 0.01, box: tuple[float, ...] | None = None,
                       rng: np.random.Generator | None = None, edge_margin_m: float = 0.0) -> Workspace:
    """The workspace of one frame: depth_m (H, W) metres, valid (H, W) bool (measured pixels).

    ``rng`` draws the RANSAC hypotheses (default: a fixed seed, so a frame always gives the same plane).
    """
    mask = np.ones(depth_m.shape, dtype=bool)
    plane, fallback, used, away, standing = None, None, [], None, None
    if "plane" in modes:
        plane, fallback = fit_support_plane(depth_m, valid, intrinsics, margin_m,
                                            rng or np.random.default_rng(0))
        if plane is not None:
            used.append("plane")
            with np.errstate(invalid="ignore"):
                height = plane.heights(depth_m, intrinsics)
                above = valid & (height >= min_height_m)
                mask &= above & (height <= max_height_m)
            standing = above | ~valid
            if edge_margin_m > 0:
                away = _away_from_edges(above, valid, depth_m, intrinsics, edge_margin_m)
            mask &= _support_region(plane.polygons_px, depth_m.shape, plane.margin_px)
            mask &= ~_entering(above & _support_region(plane.polygons_px, depth_m.shape, 0.0))
    if "box" in modes:
        if box is None:
            raise ValueError("workspace mode 'box' needs workspace_box "
                             "(x_min, x_max, y_min, y_max, z_min, z_max)")
        mask &= box_mask(depth_m, intrinsics, box)
        used.append("box")
    return Workspace(mask, tuple(used), plane, box if "box" in modes else None, fallback,
                     None if away is None else mask & away, standing)


def box_mask(depth_m: np.ndarray, intrinsics: CameraIntrinsics, box: tuple[float, ...]) -> np.ndarray:
    """(H, W) bool: pixels whose surface point lies in ``box`` = (x_min, x_max, y_min, y_max, z_min, z_max),
    metres, camera optical frame."""
    x0, x1, y0, y1, z0, z1 = box
    h, w = depth_m.shape
    with np.errstate(invalid="ignore"):
        z = depth_m
        x = z * ((np.arange(w, dtype=np.float32) - intrinsics.cx) / intrinsics.fx)[None, :]
        y = z * ((np.arange(h, dtype=np.float32) - intrinsics.cy) / intrinsics.fy)[:, None]
        return (x >= x0) & (x <= x1) & (y >= y0) & (y <= y1) & (z >= z0) & (z <= z1)


def fit_support_plane(depth_m: np.ndarray, valid: np.ndarray, intrinsics: CameraIntrinsics, margin_m: float,
                      rng: np.random.Generator) -> tuple[SupportPlane | None, str | None]:
    """(plane, None), or (None, the reason no plane was found). ``margin_m`` becomes the plane's margin_px
    at the median depth of its inliers."""
    h, w = depth_m.shape
    s = SAMPLE_STEP_PX
    vs, us = np.mgrid[s // 2 : h : s, s // 2 : w : s]
    ok = valid[vs, us]
    n = int(ok.sum())
    if n < MIN_SAMPLES:
        return None, f"no support plane: {n} valid sampled pixels, {MIN_SAMPLES} needed"
    pts = intrinsics.deproject(np.stack([us[ok], vs[ok]], axis=1), depth_m[vs[ok], us[ok]]).astype(np.float32)
    tol = PLANE_TOLERANCE_M + NOISE_TOLERANCE_PER_M2 * pts[:, 2] ** 2
    tri = pts[rng.integers(0, n, size=(RANSAC_HYPOTHESES, 3))]  # (K, 3 points, 3)
    normals = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    length = np.linalg.norm(normals, axis=1)
    good = length > 1e-9
    normals = normals[good] / length[good, None]
    offsets = -np.einsum("kd,kd->k", normals, tri[good, 0])
    flip = offsets < 0  # camera on the positive side
    normals[flip], offsets[flip] = -normals[flip], -offsets[flip]
    facing = -normals[:, 2] >= math.cos(math.radians(MAX_PLANE_TILT_DEG))
    if not facing.any():
        return None, f"no support plane: every plane found is tilted more than {MAX_PLANE_TILT_DEG:.0f} " \
                     "degrees from the optical axis (a wall along the view?)"
    normals, offsets = normals[facing], offsets[facing]
    score = rng.choice(n, size=min(n, SCORE_SAMPLES), replace=False)  # hypotheses are ranked on these
    sub = pts[score]  # distances written out: tiny products gain nothing from (threaded) BLAS
    dist = sub[:, 0:1] * normals[:, 0] + sub[:, 1:2] * normals[:, 1] + sub[:, 2:3] * normals[:, 2] + offsets
    central = (np.abs(us[ok][score] - (w - 1) / 2) < w / 4) & (np.abs(vs[ok][score] - (h - 1) / 2) < h / 4)
    weight = np.where(central, CENTRE_WEIGHT, 1.0)  # the surface the camera looks at: a bin's floor, not
    counts = weight @ (np.abs(dist) <= tol[score, None])  # the table around it
    best = int(np.argmax(counts))
    normal, offset = _refit(pts, np.abs(_dot(pts, normals[best]) + offsets[best]) <= tol, tol)
    inl = np.abs(_dot(pts, normal) + offset) <= tol
    share = float(inl.mean())
    if share < MIN_PLANE_SHARE or -normal[2] < math.cos(math.radians(MAX_PLANE_TILT_DEG)) or offset <= 0:
        return None, f"no support plane: the best plane holds {100 * share:.0f}% of the valid pixels, " \
                     f"{100 * MIN_PLANE_SHARE:.0f}% needed"
    margin_px = margin_m * intrinsics.fx / float(np.median(pts[inl, 2]))
    plane = SupportPlane(tuple(float(x) for x in normal), float(offset), (), margin_px, share)
    polygons = _support_polygons(plane, depth_m, valid, intrinsics)
    upper = _upper_level(pts, normal, offset, tol)
    if upper is not None:  # a bin floor a few millimetres above the table, within the inlier band
        floor = SupportPlane(tuple(float(x) for x in upper[0]), upper[1], (), margin_px, share)
        region = _support_polygons(floor, depth_m, valid, intrinsics)[:1]
        if region and _walled(region[0], floor, depth_m, valid, intrinsics):
            plane, polygons = floor, region
    if len(polygons) > 1 and _walled(polygons[0], plane, depth_m, valid, intrinsics):
        polygons = polygons[:1]  # a bin floor: the table beside the bin lies within the band, not in reach
    if not polygons:
        return None, "no support plane: its inlier pixels form no patch large enough"
    return SupportPlane(plane.normal, plane.offset, polygons, margin_px, share,
                        _noise_per_m2(pts, np.asarray(plane.normal), plane.offset, tol)), None


def _noise_per_m2(pts: np.ndarray, normal: np.ndarray, offset: float, tol: np.ndarray) -> float:
    """sigma / z^2 of the depth noise on the plane (normal, offset): the median absolute distance of its
    inliers among ``pts`` (n, 3), over z^2, scaled to a Gaussian's sigma."""
    dist = np.abs(_dot(pts, normal) + offset)
    on = dist <= tol
    return float(MAD_TO_SIGMA * np.median(dist[on] / pts[on, 2] ** 2)) if on.any() else 0.0


def _refit(pts: np.ndarray, inliers: np.ndarray, tol: np.ndarray) -> tuple[np.ndarray, float]:
    """(normal towards the camera, offset): least squares on ``pts[inliers]``, then once more on the
    points within ``tol`` of that plane."""
    for _ in range(2):
        if inliers.sum() < 3:
            break
        centre = pts[inliers].mean(axis=0, dtype=np.float64)
        spread = pts[inliers] - centre
        normal = np.linalg.eigh(np.einsum("ni,nj->ij", spread, spread))[1][:, 0]  # least variance
        normal = normal if normal[2] < 0 else -normal
        offset = -float(normal @ centre)
        inliers = np.abs(_dot(pts, normal) + offset) <= tol
    return normal, offset


def _upper_level(pts: np.ndarray, normal: np.ndarray, offset: float,
                 tol: np.ndarray) -> tuple[np.ndarray, float] | None:
    """A parallel level up to MAX_LIFT_M above the plane (a bin floor a centimetre above the table the fit
    took: seen from a metre or more, the sensor noise blurs the two together), refitted on its own
    points; None when there is none. Heights are counted in LEVEL_BIN_M bins: the plane's level is the
    fullest bin, an upper level the fullest local peak MIN_LEVEL_GAP_M or more above it that holds
    MIN_LEVEL_SHARE of the points and is set off from it by a dip to LEVEL_DIP of its count."""
    heights = _dot(pts, normal) + offset
    edges = np.arange(-MAX_LIFT_M, MAX_LIFT_M + LEVEL_BIN_M / 2, LEVEL_BIN_M)
    counts = np.convolve(np.histogram(heights, edges)[0], [1, 2, 3, 2, 1], mode="same") / 9
    base = int(np.argmax(counts))
    peaks = [k for k in range(base + round(MIN_LEVEL_GAP_M / LEVEL_BIN_M), len(counts) - 1)
             if counts[k - 1] <= counts[k] >= counts[k + 1] and counts[base:k].min() <= LEVEL_DIP * counts[k]]
    if not peaks:
        return None
    best = max(peaks, key=lambda k: counts[k])
    low = base + int(np.argmin(counts[base:best]))  # the dip; the level's points lie as far above its peak
    near = (heights >= edges[low + 1]) & (heights < 2 * edges[best] - edges[low])
    if near.sum() < MIN_LEVEL_SHARE * len(pts):
        return None
    return _refit(pts, near, tol / 2)


def _walled(polygon: np.ndarray, plane: SupportPlane, depth_m: np.ndarray, valid: np.ndarray,
            intrinsics: CameraIntrinsics) -> bool:
    """Whether what is measured just outside the convex ``polygon`` (a band WALL_RING_PX wide) stands
    above ``plane`` more often than it drops below it: walls around a bin floor, not a table around an
    object's flat top."""
    s = REGION_STEP_PX
    h, w = depth_m.shape
    vs, us = np.mgrid[s // 2 : h : s, s // 2 : w : s]
    d = _inside_distance(polygon, np.stack([us.ravel(), vs.ravel()], axis=1).astype(np.float64))
    ring = ((d < 0) & (d >= -WALL_RING_PX)).reshape(us.shape) & valid[vs, us]
    z = depth_m[vs, us][ring]
    with np.errstate(invalid="ignore"):
        height = plane.heights(depth_m[vs, us], _sampled(intrinsics, s))[ring]
    band = PLANE_TOLERANCE_M + NOISE_TOLERANCE_PER_M2 * z * z
    higher, lower = int((height > band).sum()), int((height < -band).sum())
    return higher >= MIN_SAMPLES and higher > lower


def _dot(pts: np.ndarray, normal: np.ndarray) -> np.ndarray:
    return pts[:, 0] * normal[0] + pts[:, 1] * normal[1] + pts[:, 2] * normal[2]


def _support_polygons(plane: SupportPlane, depth_m: np.ndarray, valid: np.ndarray,
                      intrinsics: CameraIntrinsics) -> tuple[np.ndarray, ...]:
    """Convex regions (input pixels) the plane supports (see the module docstring). Patches are found on
    a grid of 2 x 2 blocks of REGION_STEP_PX samples, a block counting as on the plane when one of its
    samples is and none is measured off it: a wall or rim one sample wide still separates the floor inside
    a bin from the table, and missing pixels separate nothing."""
    s = REGION_STEP_PX
    h, w = depth_m.shape
    vs, us = np.mgrid[s // 2 : h : s, s // 2 : w : s]
    z = depth_m[vs, us]
    with np.errstate(invalid="ignore"):
        height = plane.heights(z, _sampled(intrinsics, s))
        near = np.abs(height) <= PLANE_TOLERANCE_M + NOISE_TOLERANCE_PER_M2 * z * z
    on, off = valid[vs, us] & near, valid[vs, us] & ~near
    bh, bw = on.shape[0] // 2, on.shape[1] // 2
    blocks = on[: 2 * bh, : 2 * bw].reshape(bh, 2, bw, 2).any(axis=(1, 3)) \
        & ~off[: 2 * bh, : 2 * bw].reshape(bh, 2, bw, 2).any(axis=(1, 3))
    labels = _components(blocks)
    ids, sizes = np.unique(labels[labels >= 0], return_counts=True)
    big = sizes >= MIN_PATCH_SHARE * blocks.size
    keep, sizes = ids[big], sizes[big]
    if len(keep) == 0:
        return ()
    bu, bv = us[: 2 * bh : 2, : 2 * bw : 2] + s / 2, vs[: 2 * bh : 2, : 2 * bw : 2] + s / 2  # block centres
    hulls = [_hull(_row_extremes(bu, bv, labels == i), half_size=s) for i in keep]
    areas = np.array([_area(p) for p in hulls])
    centre = np.array([(w - 1) / 2, (h - 1) / 2])
    holding = [k for k in np.argsort(areas) if _inside_distance(hulls[k], centre[None])[0] >= 0]
    chosen = holding[0] if holding else int(np.argmax(sizes))
    inner = np.stack([bu[labels == keep[chosen]], bv[labels == keep[chosen]]], axis=1)
    picked = [hulls[chosen]] + [p for k, p in enumerate(hulls)  # beside it, not around it
                                if k != chosen and (_inside_distance(p, inner) >= 0).mean() < 0.02]
    return tuple(p for p in picked if _area(p) > 0)


def _sampled(intrinsics: CameraIntrinsics, step: int) -> CameraIntrinsics:
    """Intrinsics of the image sampled at pixels step // 2 + step * k (same rays)."""
    c = step // 2
    return CameraIntrinsics(intrinsics.fx / step, intrinsics.fy / step, (intrinsics.cx - c) / step,
                            (intrinsics.cy - c) / step, intrinsics.width, intrinsics.height)


def _support_region(polygons: tuple[np.ndarray, ...], shape: tuple[int, int], margin_px: float) -> np.ndarray:
    """(H, W) bool: pixels at least ``margin_px`` inside one of the convex ``polygons`` (evaluated every
    REGION_STEP_PX pixels, spread to the block around each)."""
    s = REGION_STEP_PX
    h, w = shape
    vs, us = np.mgrid[s // 2 : h : s, s // 2 : w : s]
    pts = np.stack([us.ravel(), vs.ravel()], axis=1).astype(np.float64)
    inside = np.zeros(len(pts), dtype=bool)
    for poly in polygons:
        inside |= _inside_distance(poly, pts) >= margin_px
    grid = inside.reshape(us.shape)
    return np.repeat(np.repeat(grid, s, axis=0), s, axis=1)[:h, :w]


def _away_from_edges(above: np.ndarray, valid: np.ndarray, depth_m: np.ndarray, intrinsics: CameraIntrinsics,
                     margin_m: float) -> np.ndarray:
    """(H, W) bool: pixels of ``above`` at least ``margin_m`` (at the median depth of ``above``) from where
    a measured pixel is not above the plane (missing pixels and the image border are no edge); a part of
    ``above`` (see _parts) too thin for twice the margin keeps its inner half (a pen, a thin tube), since
    heatmap cells a centimetre or more apart rarely fall on its innermost pixels alone."""
    if not above.any():
        return above
    steps = round(margin_m * intrinsics.fx / float(np.median(depth_m[above])))
    survived = np.zeros(above.shape, dtype=np.uint16)  # erosion steps each pixel survives, up to ``steps``
    inside = above | ~valid
    for n in range(steps):  # alternating 4- and 8-neighbour erosions: an octagon close to a disk
        inside = erode(inside, square=n % 2 == 1)
        survived += inside
    survived[~above] = 0
    parts = _parts(above)
    on = parts >= 0
    peak = np.zeros(int(parts.max()) + 1, dtype=np.uint16)  # steps the deepest pixel of each part survives
    np.maximum.at(peak, parts[on], blocks(survived, PART_BLOCK_PX, np.max)[on])
    thin = peak < steps  # parts no pixel of which survives every step keep their inner half
    need = spread(np.where(on, np.where(thin, (peak + 1) // 2, steps)[parts], 0), PART_BLOCK_PX, above.shape)
    return above & (survived >= need)


def _entering(above: np.ndarray) -> np.ndarray:
    """(H, W) bool: the things standing on the plane that reach the image border (a robot arm, a fixture,
    an object cut off by the border): the parts of ``above`` (see _parts) that touch the outermost blocks."""
    parts = _parts(above)
    edge = np.concatenate([parts[0], parts[-1], parts[:, 0], parts[:, -1]])
    return spread(np.isin(parts, edge[edge >= 0]), PART_BLOCK_PX, above.shape)


PART_BLOCK_PX = 2 * REGION_STEP_PX  # parts of a mask are connected on blocks this many pixels square


def _parts(mask: np.ndarray) -> np.ndarray:
    """(h, w) int64 labels 0, 1, ... of the 4-connected parts of (H, W) bool ``mask`` on blocks of
    PART_BLOCK_PX pixels (a block is on when one of its pixels is), -1 off them."""
    labels = _components(blocks(mask, PART_BLOCK_PX))
    on = labels >= 0
    labels[on] = np.unique(labels[on], return_inverse=True)[1]
    return labels


def _components(mask: np.ndarray) -> np.ndarray:
    """(h, w) int64 labels of the 4-connected components of a bool mask (-1 off the mask): each pixel gets
    the smallest flat index of its component (neighbour minima with pointer jumping)."""
    h, w = mask.shape
    big = h * w
    flat_mask = mask.ravel()
    lab = np.where(flat_mask, np.arange(big), big)
    while True:
        grid = lab.reshape(h, w)
        new = grid.copy()
        np.minimum(new[1:], grid[:-1], out=new[1:])
        np.minimum(new[:-1], grid[1:], out=new[:-1])
        np.minimum(new[:, 1:], grid[:, :-1], out=new[:, 1:])
        np.minimum(new[:, :-1], grid[:, 1:], out=new[:, :-1])
        new = np.where(flat_mask, new.ravel(), big)
        on = new < big
        for _ in range(4):  # pointer jumping: a label is a pixel of the component; take that pixel's label
            new[on] = np.minimum(new[on], new[new[on]])
        if np.array_equal(new, lab):
            break
        lab = new
    return np.where(flat_mask, lab, -1).reshape(h, w)


def _row_extremes(us: np.ndarray, vs: np.ndarray, patch: np.ndarray) -> np.ndarray:
    """(m, 2) pixel (u, v) of the leftmost and rightmost patch sample of every row (hull candidates)."""
    rows, first, last = row_extremes(patch)
    pick = np.concatenate([np.stack([rows, first], 1), np.stack([rows, last], 1)])
    return np.stack([us[pick[:, 0], pick[:, 1]], vs[pick[:, 0], pick[:, 1]]], axis=1).astype(np.float64)


def _hull(points: np.ndarray, half_size: float = 0.0) -> np.ndarray:
    """(n, 2) convex hull of the squares of side 2 ``half_size`` around ``points`` (m, 2), its interior on
    the left of each edge in (u, v) image axes (monotone chain)."""
    if half_size:
        points = np.concatenate([points + [du, dv] for du in (-half_size, half_size)
                                 for dv in (-half_size, half_size)])
    pts = [tuple(p) for p in np.unique(points, axis=0).tolist()]  # sorted by u, then v
    if len(pts) < 3:
        return np.asarray(pts, dtype=np.float64).reshape(-1, 2)

    def half(seq: list) -> list:
        out: list = []
        for p in seq:
            while len(out) >= 2 and _cross(out[-2], out[-1], p) <= 0:
                out.pop()
            out.append(p)
        return out

    lower, upper = half(pts), half(pts[::-1])
    return np.asarray(lower[:-1] + upper[:-1], dtype=np.float64)


def _cross(o: tuple, a: tuple, b: tuple) -> float:
    return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])


def _area(poly: np.ndarray) -> float:
    if len(poly) < 3:
        return 0.0
    x, y = poly[:, 0], poly[:, 1]
    return 0.5 * float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1)))


def _inside_distance(poly: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """(m,) signed distance (px) of points (m, 2) to the boundary of a convex CCW polygon: >= 0 inside
    (the nearest edge line), negative outside."""
    if len(poly) < 3:
        return np.full(len(pts), -np.inf)
    a, b = poly, np.roll(poly, -1, axis=0)
    edge = b - a
    length = np.linalg.norm(edge, axis=1)
    keep = length > 0
    a, edge, length = a[keep], edge[keep], length[keep]
    d = np.full(len(pts), np.inf)
    for (ax, ay), (ex, ey), n in zip(a, edge, length):
        np.minimum(d, (ex * (pts[:, 1] - ay) - ey * (pts[:, 0] - ax)) / n, out=d)
    return d
