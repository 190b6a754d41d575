"""Grasp planning on a depth image: preprocess, rescale to the network scale, FC-GQ-CNN heatmaps over
jaw angles and gripper depths, top-k with non-maximum suppression, 3D poses via the intrinsics.

Stages (``PlanResult.timings``): workspace (the automatic workspace of workspace.py: support plane, box),
preprocess (validity, mask/ROI/depth-range/workspace candidates, hole filling),
rescale (metric scale from the candidates' median depth, see rescale.py), network (one FC-GQ-CNN pass per
jaw angle on a rotated canvas fitted to the candidates, see heatmaps.py; suction: one pass at angle 0; the
head scores only the cells the selection or the heatmap can use), select (top-k with NMS over
cells centred on candidate pixels), poses (deprojection; suction approach = -surface normal), heatmap
(input-size image, best over angles and depths).

Gripper depth (models with a depth input): ``depth_bins`` absolute depths spanning the candidates'
surface depths plus ``depth_offsets`` go through the network as one batch per angle; each cell keeps the
best bin whose depth lies ``depth_offsets`` beyond the surface at the cell centre (widened to half the bin
spacing, or else the nearest bin). Without a depth input a parallel-jaw grasp is placed at the surface
plus the middle of ``depth_offsets``; a suction grasp at the surface.

Clearance (``clearance_check``, see clearance.py): the gripper goes no deeper than it can. A parallel-jaw
cell's depth limit is where its fingertips, at the jaw opening, meet the surface observed under the fingers
(plus a margin); it keeps the best admissible bin within the limit, or else is made at the limit and scored
by the bin nearest to it (a low object on the table); a cell blocked above its own surface (a neighbour, a
wall, the object too wide for the jaws) is dropped. A suction cell is dropped when the observed surface
lies in front of the cup (a cylinder along the approach, lip at the contact) by more than a margin, or
when part of the lip's rim would have to stretch farther than ``cup_stretch_m`` to reach the surface (an
edge, a hole, strong curvature: no seal), when the surface under the rim is not flat enough to seal
(``cup_seal_tolerance_m``: a fold or a step the lip straddles) or, given a mask, off the mask (not on the
object).
Dropped cells score -1 (never selected, 0 in the heatmap), so the next-best grasp is chosen. The suction
check runs at selection, best cell first, until ``top_k`` grasps survive: the heatmap zeroes only the
cells it examined.

Holes and image borders (holes.py): a cell whose crop leaves the image or holds more than
``max_filled_fraction`` of filled-in depth scores -1; a cell whose crop holds filled-in depth keeps the
lower of its score and the crop-wise score on an adverse fill of the holes (checked at selection, best
first, like the cup); each grasp reports the observed share of its crop.

Jaw centring (jaw_centring.py): a parallel-jaw grasp moves along its jaw axis to the middle of the surface
its fingers close on, keeping its cell's angle, gripper depth and score, when the new centre is a candidate
pixel and the fingers and palm still clear the surface there.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import torch

from dexnet_core.camera import CameraIntrinsics
from dexnet_core.errors import NoValidGraspError
from dexnet_core.models.symmetries import symmetry_group, symmetry_mean
from dexnet_core.planning.clearance import (
    cup_footprint,
    cup_pixels,
    finger_footprint,
    footprint_min_depth,
    lip_ring,
    rect_footprint,
    rim_is_flat,
    sample_step_m,
)
from dexnet_core.planning.config import PlannerConfig
from dexnet_core.planning.grasp import (
    Grasp,
    approach_frame,
    parallel_jaw_frame,
    quaternion_from_matrix,
    surface_normal,
    surface_normals,
)
from dexnet_core.planning.heatmaps import (
    AngleGrid,
    cell_centers,
    cell_to_input,
    fit_canvas,
    grid_shape,
    make_canvas,
    render_heatmap,
)
from dexnet_core.planning.holes import FULLY_OBSERVED, INSIDE_TOLERANCE, AdverseFill, crop_shares
from dexnet_core.planning.jaw_centring import slice_midpoint
from dexnet_core.planning.masks import blocks, erode, row_extremes, spread
from dexnet_core.planning.nms import top_k_nms
from dexnet_core.planning.preprocess import candidate_mask, inpaint_depth, valid_depth
from dexnet_core.planning.rescale import NETWORK_INPUT_PX, SceneScale, metric_scale, rescale_depth
from dexnet_core.planning.workspace import NOISE_SIGMA_PER_M2, Workspace, estimate_workspace, parse_modes

if TYPE_CHECKING:
    from dexnet_core.models.checkpoint import GraspQualityModel

logger = logging.getLogger(__name__)


@dataclass
class PlanResult:
    """Planned grasps (best first: quality less the centre and edge preferences), the input-size heatmap
    and per-stage timings."""

    grasps: list[Grasp]
    heatmap: np.ndarray  # (H, W) float32: best quality over angles/depths per input pixel; 0 = not evaluated
    timings: dict[str, float] = field(default_factory=dict)  # seconds per stage, plus "total"
    scale: SceneScale | None = None  # input -> network-scale resize used for this frame
    workspace: Workspace | None = None  # where grasp centres could lie (see workspace.py)


def resolve_device(device: str | torch.device) -> torch.device:
    """"auto" -> cuda when available, else cpu; anything else is passed to torch.device."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


class GraspPlanner:
    """Plans grasps for one GraspQualityModel (parallel jaw or suction) with a PlannerConfig."""

    def __init__(self, gqm: GraspQualityModel, config: PlannerConfig | None = None,
                 device: str | torch.device = "cpu") -> None:
        self.gqm = gqm
        self.config = config or PlannerConfig()
        self.device = resolve_device(device)
        if self.gqm.device != self.device:
            self.gqm.to(self.device)
        self.gqm.model.eval()
        try:
            self.gqm.fully_convolutional(self.config.exact_fc)
        except TypeError as exc:
            raise ValueError(f"planning needs a fully convolutional model; {gqm.arch!r}: {exc}") from exc
        self._heatmap = self.gqm.heatmap  # the FC network: torch, or the exported graph in onnxruntime
        if self.config.backend == "onnxruntime":
            from dexnet_core.models.onnx_backend import onnx_heatmap

            self._heatmap = onnx_heatmap(self.gqm, self.stride, self.device, self.config.exact_fc)

    @classmethod
    def from_checkpoint(cls, path_or_name: str, config: PlannerConfig | None = None,
                        device: str = "auto", bare_gripper: str | None = None) -> GraspPlanner:
        """Load a checkpoint file or shipped model name (see dexnet_core.models.checkpoint; ``bare_gripper``
        is the gripper of a bare reference state dict, which does not record it)."""
        from dexnet_core.models.checkpoint import load_checkpoint

        dev = resolve_device(device)
        gqm = load_checkpoint(path_or_name, device=str(dev), bare_gripper=bare_gripper)
        return cls(gqm, config, str(dev))

    @property
    def stride(self) -> int:
        """Heatmap stride in network pixels for this model's gripper."""
        return self.config.suction_stride if self.gqm.gripper == "suction" else self.config.stride

    @property
    def symmetries(self) -> tuple[tuple[int, bool], ...]:
        """Crop symmetries the quality is averaged over, for this model's gripper."""
        cfg = self.config
        count = cfg.suction_symmetries if self.gqm.gripper == "suction" else cfg.jaw_symmetries
        return symmetry_group(self.gqm.gripper, count)

    @property
    def angles(self) -> list[float]:
        """Jaw angles tried (rad, in [0, pi)); a single 0 for suction."""
        if self.gqm.gripper == "suction":
            return [0.0]
        n = self.config.num_angles
        return [math.pi * k / n for k in range(n)]

    def plan(self, depth_m: np.ndarray, intrinsics: CameraIntrinsics, mask: np.ndarray | None = None,
             max_grasps: int | None = None) -> PlanResult:
        """Plan grasps on ``depth_m`` (H, W) float metres (NaN or 0 = missing).

        ``mask`` (H, W) bool restricts grasp centres; ``max_grasps`` overrides config.top_k. Raises
        ValueError on shape mismatch and NoValidGraspError when no pixel can hold a grasp.
        """
        cfg = self.config
        clock = _Clock()
        k = cfg.top_k if max_grasps is None else int(max_grasps)
        if k < 1:
            raise ValueError(f"max_grasps must be >= 1, got {max_grasps}")
        depth = np.asarray(depth_m, dtype=np.float32)
        if depth.ndim != 2:
            raise ValueError(f"depth image must be (H, W), got shape {depth.shape}")
        if depth.shape != (intrinsics.height, intrinsics.width):
            raise ValueError(f"depth image is {depth.shape[1]}x{depth.shape[0]} but the intrinsics are "
                             f"{intrinsics.width}x{intrinsics.height}")
        valid = valid_depth(depth)
        workspace = estimate_workspace(depth, valid, intrinsics, parse_modes(cfg.workspace), cfg.min_height_m,
                                       cfg.max_height_m, cfg.plane_margin_m, cfg.workspace_box,
                                       edge_margin_m=cfg.edge_margin_m)
        clock.lap("workspace")
        cand = candidate_mask(depth, valid, mask, cfg.roi, cfg.min_depth_m, cfg.max_depth_m) & workspace.mask
        fell_back = f" ({workspace.fallback}: planned without the plane)" if workspace.fallback else ""
        if not cand.any():
            raise NoValidGraspError(
                f"no pixel can hold a grasp: {int(valid.sum())} valid depth pixels, none inside the "
                f"mask/ROI, depths [{cfg.min_depth_m}, {cfg.max_depth_m}] m and workspace "
                f"{'+'.join(workspace.modes) or 'none'}{fell_back}")
        filled = inpaint_depth(depth, valid) if cfg.inpaint else np.where(valid, depth, depth[valid].max())
        clock.lap("preprocess")

        surface_depths = depth[cand]
        median = float(np.median(surface_depths))
        scale = metric_scale(median, intrinsics, cfg.crop_size_px, cfg.training_depth_m,
                             cfg.training_focal_px)
        if min(scale.width, scale.height) < NETWORK_INPUT_PX:
            raise NoValidGraspError(
                f"the {depth.shape[1]}x{depth.shape[0]} image is smaller than one grasp crop "
                f"({NETWORK_INPUT_PX / scale.sx:.0f}x{NETWORK_INPUT_PX / scale.sy:.0f} px at {median:.2f} m)"
                f"{fell_back}")
        scene = rescale_depth(filled, scale).to(self.device)
        seen = rescale_depth(valid.astype(np.float32), scale).to(self.device)
        box = _bbox(cand)
        cover = _Coverage(_scene_region(box, scale), _outline(cand, scale), _reach(cand, scale, self.stride))
        clock.lap("rescale")

        bins = _depth_bins(surface_depths, cfg) if self.gqm.model.uses_depth else None
        suction = self.gqm.gripper == "suction"
        # clearance footprints: samples 2 px apart (palm: 4 px) at the nearest candidate surface
        step = sample_step_m(intrinsics, float(surface_depths.min()), spacing_px=2.0)
        footprints = self._jaw_footprints(step) if cfg.clearance_check and not suction else []
        grids = [self._angle_grid(angle, scene, seen, scale, cover, filled, bins, cand, intrinsics,
                                  footprints) for angle in self.angles]
        clock.lap("network")

        seal = None
        if suction and cfg.clearance_check:
            cup = cup_footprint(cfg.cup_radius_m, cfg.cup_length_m, step)
            on = workspace.standing if mask is None else np.asarray(mask, dtype=bool)
            # sigma / z^2 of the depth noise: the structured-light figure, or more where the plane shows more
            noise = max(NOISE_SIGMA_PER_M2, workspace.plane.noise_per_m2 if workspace.plane else 0.0)
            seal = (filled, intrinsics, cup, on, noise)
        adverse = AdverseFill(self.gqm, self.symmetries, depth, valid, scale, self.stride)
        picks = self._select(grids, cand, k, adverse, seal, workspace.interior)
        clock.lap("select")
        grasps = [self._grasp(grids[g], i, j, filled, intrinsics, cand, footprints) for g, i, j in picks]
        clock.lap("poses")
        heatmap = render_heatmap(grids, depth.shape, box)
        heatmap[~cand] = 0.0
        clock.lap("heatmap")
        if not grasps:
            raise NoValidGraspError(f"no grasp reaches min_quality {cfg.min_quality} "
                                    f"(best {float(heatmap.max()):.3f}){fell_back}", heatmap=heatmap)
        logger.debug("planned %d grasps, best q=%.3f, timings %s", len(grasps), grasps[0].q_value,
                     clock.timings)
        return PlanResult(grasps, heatmap, clock.timings, scale, workspace)

    # ---- stages -----------------------------------------------------------------------------------------
    def _jaw_footprints(self, step: float) -> list[tuple[np.ndarray, float]]:
        """Parallel-jaw clearance footprints: (samples (m, 2) in the grasp frame, m; height of their underside
        above the fingertips, m) for the fingers (``step`` apart) and the palm (2 ``step`` apart)."""
        cfg = self.config
        length, width = cfg.palm_size_m
        palm = rect_footprint((-width / 2, width / 2), (-length / 2, length / 2), 2 * step)
        fingers = finger_footprint(cfg.jaw_width_m, cfg.finger_size_m, step)
        return [(fingers, 0.0), (palm, cfg.finger_length_m)]

    def _angle_grid(self, angle: float, scene: torch.Tensor, seen: torch.Tensor, scale: SceneScale,
                    cover: _Coverage, filled: np.ndarray, bins: np.ndarray | None,
                    cand: np.ndarray, intrinsics: CameraIntrinsics, footprints: list[tuple[np.ndarray, float]]
                    ) -> AngleGrid:
        """Score the cells for ``angle`` that ``cover`` asks for; with a depth input, the best admissible
        bin.
        With parallel-jaw clearance ``footprints``, cells on candidate pixels whose gripper would hit the
        scene score -1 unless a shallower depth clears (suction is checked at selection). Cells whose crop
        leaves the image or holds more than max_filled_fraction of filled-in depth (``seen``: measured-pixel
        map at the network scale) score -1 too (holes.py)."""
        cfg, stride, exact = self.config, self.stride, self.config.exact_fc
        canvas = fit_canvas(make_canvas(angle, cover.region, stride), cover.outline, stride)
        to_input = cell_to_input(canvas, scale, stride)
        u, v = cell_centers(to_input, grid_shape(canvas, stride))
        scored = torch.from_numpy(_on_candidates(u, v, cover.reach)).to(self.device)
        im = canvas.sample(scene)
        with torch.inference_mode():
            z = None if bins is None else torch.as_tensor(bins, dtype=torch.float32, device=self.device)[None]
            qb = symmetry_mean(lambda x, c: self._heatmap(x, z, stride=stride, exact=exact, cells=c), im,
                               self.symmetries, scored)[0].float().cpu().numpy()
        observed, inside = crop_shares(canvas, seen, stride)
        unfit = (inside < 1.0 - INSIDE_TOLERANCE) | (observed < 1.0 - cfg.max_filled_fraction)
        if self.gqm.gripper == "suction":  # the cup check runs best-first at selection (_select)
            return AngleGrid(angle, np.where(unfit, -1.0, qb).astype(np.float32), np.full_like(qb, np.nan),
                             to_input, observed, canvas)
        surface = _lookup(filled, u, v)
        on = _on_candidates(u, v, cand) if footprints else None  # the clearance check's cells
        limit = None  # deepest grasp-centre depth whose fingertips clear the surface under the fingers
        if footprints:
            limit = np.full(u.shape, np.inf)
            limit[on] = self._depth_limit(filled, intrinsics, u[on], v[on], surface[on], angle, footprints)
        lo, hi = cfg.depth_offsets
        if bins is None:
            q, depth = qb, surface + 0.5 * (lo + hi)
        else:
            allowed = _admissible(bins, surface, cfg.depth_offsets)  # (K, Ho, Wo)
            if limit is not None:
                allowed = _clear_bins(bins, allowed, limit)
            qb = np.where(allowed, qb, -1.0)
            best = qb.argmax(axis=0)
            q, depth = np.take_along_axis(qb, best[None], axis=0)[0], bins[best]
        if limit is not None:  # stop where the fingers meet the scene; blocked above the surface: drop
            depth = np.minimum(depth, limit)
            q = np.where(limit >= surface, q, -1.0)
        q = np.where(unfit, -1.0, q)
        return AngleGrid(angle, q.astype(np.float32), depth.astype(np.float32), to_input, observed, canvas)

    def _select(self, grids: list[AngleGrid], cand: np.ndarray, k: int, adverse: AdverseFill,
                seal: tuple | None, interior: np.ndarray | None) -> list[tuple[int, int, int]]:
        """(grid index, row, col) of the top-k cells after NMS, among cells centred on candidate pixels,
        ranked by quality less the centre_preference for cells off the image centre and the
        edge_preference for cells off the workspace ``interior`` (near object edges).

        Cells still to be checked (suction with ``seal`` = (filled, intrinsics, cup, mask, noise): the cup
        check; crops holding filled-in depth: the adverse-fill score) are checked lazily, best first: the cup
        check in blocks of SEAL_CHECK_BLOCK cells, the adverse fill (a network pass per crop) in blocks of
        FILL_CHECK_BLOCK. A check only lowers a score (or rejects the cell), so once every pick of the
        current scores is checked they are the picks of checking every cell. Checked scores are written
        back to the grids (rejected cells -1, 0 in the heatmap).
        """
        cfg = self.config
        qs, us, vs, keys, holed = [], [], [], [], []
        for g, grid in enumerate(grids):
            u, v = grid.cell_centers()
            i, j = np.nonzero(_on_candidates(u, v, cand))
            qs.append(grid.quality[i, j])
            us.append(u[i, j])
            vs.append(v[i, j])
            keys.append(np.stack([np.full_like(i, g), i, j], axis=1))
            holed.append(grid.observed[i, j] < FULLY_OBSERVED)
        q, u, v, key, fill_todo = (np.concatenate(a) for a in (qs, us, vs, keys, holed))
        h, w = cand.shape
        if not len(q):
            raise NoValidGraspError(f"no heatmap cell is centred on one of the {int(cand.sum())} candidate "
                                    f"pixels of the {w}x{h} image (too small for stride {self.stride})")
        q = q.astype(np.float64)
        penalty = cfg.centre_preference * np.hypot(u - (w - 1) / 2, v - (h - 1) / 2) / math.hypot(w, h) * 2
        if interior is not None:
            penalty += cfg.edge_preference * ~_lookup(interior, u, v)
        seal_todo = np.full(len(q), seal is not None)
        while True:
            idx = top_k_nms(q, u, v, k, cfg.nms_radius_px, cfg.min_quality, rank=q - penalty)
            stages = ((seal_todo, SEAL_CHECK_BLOCK), (fill_todo, FILL_CHECK_BLOCK))
            stage = next(((todo, size) for todo, size in stages if todo[idx].any()), None)
            if stage is None:
                return [tuple(int(x) for x in key[n]) for n in idx]
            todo, size = stage
            unchecked = idx[todo[idx]]
            pending = np.flatnonzero(todo & (q >= cfg.min_quality))
            if len(pending) > size:
                pending = pending[np.argpartition(-q[pending], size)[:size]]
            block = np.union1d(unchecked, pending)
            if todo is seal_todo:
                q[block] = np.where(self._seals(u[block], v[block], seal), q[block], -1.0)
            else:
                q[block] = np.minimum(q[block], self._adverse_scores(grids, key[block], adverse))
            todo[block] = False
            for g, i, j, value in zip(key[block, 0], key[block, 1], key[block, 2], q[block]):
                grids[g].quality[i, j] = value

    def _seals(self, u: np.ndarray, v: np.ndarray, seal: tuple) -> np.ndarray:
        """(n,) bool: the cup can reach and seal on the contacts at input pixels (u, v) (given the mask of
        ``seal``, the object mask or what stands on the support plane: its whole lip rim on it; the surface
        under the rim flat within cup_seal_tolerance_m beyond the depth noise of ``seal``, sigma / z^2)."""
        cfg = self.config
        filled, intrinsics, cup, mask, noise_per_m2 = seal
        rim = lip_ring(cup, cfg.cup_radius_m)
        surface = _lookup(filled, u, v)
        normals = surface_normals(filled, intrinsics, u, v, cfg.normal_window_px)
        rows_px, cols_px, z = cup_pixels(intrinsics, filled.shape, u, v, surface, -normals, cup)
        gaps = filled[rows_px, cols_px] - z
        ok = (gaps.min(axis=1) >= -cfg.suction_clearance_margin_m) \
            & (gaps[:, rim].max(axis=1) <= cfg.cup_stretch_m)
        if mask is not None:
            ok &= mask[rows_px[:, rim], cols_px[:, rim]].all(axis=1)
        if cfg.cup_seal_tolerance_m > 0:
            ok &= rim_is_flat(filled, intrinsics, rows_px[:, rim], cols_px[:, rim], cfg.cup_seal_tolerance_m,
                              noise_per_m2 * surface**2)
        return ok

    def _adverse_scores(self, grids: list[AngleGrid], key: np.ndarray, adverse: AdverseFill) -> np.ndarray:
        """(n,) adverse-fill scores (holes.py) of cells ``key`` (n, 3) (grid, row, col)."""
        out = np.empty(len(key))
        for g in np.unique(key[:, 0]):
            grid, sel = grids[g], np.flatnonzero(key[:, 0] == g)
            rows, cols = key[sel, 1], key[sel, 2]
            depths = grid.gripper_depth[rows, cols] if self.gqm.model.uses_depth else None
            out[sel] = adverse.scores(grid, rows, cols, depths)
        return out

    def _grasp(self, grid: AngleGrid, i: int, j: int, filled: np.ndarray, intrinsics: CameraIntrinsics,
               cand: np.ndarray, footprints: list[tuple[np.ndarray, float]]) -> Grasp:
        """Grasp of cell (i, j): centre in input pixels, depth, 3D pose in the optical frame; a parallel-jaw
        centre moves between the contacts its fingers close on (jaw_centring.py)."""
        cfg = self.config
        u_map, v_map = grid.cell_centers()
        u, v = float(u_map[i, j]), float(v_map[i, j])
        surface = float(_lookup(filled, np.array(u), np.array(v)))
        if self.gqm.gripper == "suction":
            normal = surface_normal(filled, intrinsics, u, v, cfg.normal_window_px)
            rot, depth, angle, width = approach_frame(-normal), surface, 0.0, 0.0
        else:
            depth = float(grid.gripper_depth[i, j])
            rot, angle, width = parallel_jaw_frame(grid.angle), grid.angle, cfg.jaw_width_m
            if cfg.jaw_centring:
                u, v = self._centred(u, v, angle, depth, filled, intrinsics, cand, footprints)
        position = intrinsics.deproject(np.array([[u, v]]), np.array([depth]))[0]
        return Grasp(
            center_px=(u, v), angle=float(angle), depth=float(depth), width=float(width),
            q_value=float(grid.quality[i, j]), gripper=self.gqm.gripper,
            position=tuple(float(x) for x in position),
            orientation=tuple(float(x) for x in quaternion_from_matrix(rot)),
            observed_share=float(np.clip(grid.observed[i, j], 0.0, 1.0)),
        )

    def _centred(self, u: float, v: float, angle: float, depth: float, filled: np.ndarray,
                 intrinsics: CameraIntrinsics, cand: np.ndarray, footprints: list[tuple[np.ndarray, float]]
                 ) -> tuple[float, float]:
        """(u, v) moved to the middle of the surface the fingers close on, or unchanged when that point is
        not a candidate pixel or the fingers and palm would not clear the surface there."""
        cfg = self.config
        # surface the fingertips close on: nearer than they reach, less the clearance margin they may sink
        reach = depth + cfg.fingertip_depth_m - cfg.jaw_clearance_margin_m
        cu, cv = slice_midpoint(filled, intrinsics, u, v, angle, reach, cfg.jaw_width_m / 2)
        h, w = cand.shape
        col, row = round(cu), round(cv)
        if (cu, cv) == (u, v) or not (0 <= col < w and 0 <= row < h and cand[row, col]):
            return u, v
        at_u, at_v = np.array([cu]), np.array([cv])
        surface = _lookup(filled, at_u, at_v)
        limit = self._depth_limit(filled, intrinsics, at_u, at_v, surface, angle, footprints)
        return (cu, cv) if limit[0] >= depth else (u, v)

    def _depth_limit(self, filled: np.ndarray, intrinsics: CameraIntrinsics, u: np.ndarray, v: np.ndarray,
                     surface: np.ndarray, angle: float, footprints: list[tuple[np.ndarray, float]]
                     ) -> np.ndarray:
        """(n,) deepest grasp-centre depth (m) at input pixels (u, v) (surface depths ``surface``) whose
        fingertips and palm clear the observed surface under the jaw ``footprints``; inf without any."""
        cfg = self.config
        reach = np.full(np.shape(u), np.inf)  # how deep the fingertips get before they meet the surface
        for samples, height in footprints:
            seen = footprint_min_depth(filled, intrinsics, u, v, surface, samples, angle)
            reach = np.minimum(reach, seen + height)
        return reach - cfg.fingertip_depth_m + cfg.jaw_clearance_margin_m


class _Clock:
    """Per-stage wall-clock timings."""

    def __init__(self) -> None:
        self.start = self.last = time.perf_counter()
        self.timings: dict[str, float] = {}

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        self.timings[stage] = now - self.last
        self.timings["total"] = now - self.start
        self.last = now


SEAL_CHECK_BLOCK = 256  # suction cells cup-checked per step of _select
FILL_CHECK_BLOCK = 16  # cells scored on the adverse fill per step of _select


def _bbox(mask: np.ndarray) -> tuple[int, int, int, int]:
    """(u0, v0, u1, v1) inclusive bounding box of a non-empty (H, W) bool mask."""
    rows, cols = np.any(mask, axis=1), np.any(mask, axis=0)
    v0, v1 = np.flatnonzero(rows)[[0, -1]]
    u0, u1 = np.flatnonzero(cols)[[0, -1]]
    return int(u0), int(v0), int(u1), int(v1)


def _scene_region(box: tuple[int, int, int, int], scale: SceneScale) -> tuple[int, int, int, int]:
    """Input-pixel box -> inclusive rescaled-pixel box (x0, y0, x1, y1) covering it, inside the scene."""
    u0, v0, u1, v1 = box
    x0, y0 = scale.from_input(u0 - 0.5, v0 - 0.5)
    x1, y1 = scale.from_input(u1 + 0.5, v1 + 0.5)
    return (max(0, math.floor(x0)), max(0, math.floor(y0)),
            min(scale.width - 1, math.ceil(x1)), min(scale.height - 1, math.ceil(y1)))


@dataclass(frozen=True)
class _Coverage:
    """Where a frame needs heatmap cells."""

    region: tuple[int, int, int, int]  # the candidates' box in rescaled pixels (the canvases' cell lattice)
    outline: np.ndarray  # (n, 2) rescaled (x, y) around every candidate pixel (the canvases' extent)
    reach: np.ndarray  # (H, W) bool: pixels whose cell a candidate pixel may take its heatmap value from


def _reach(cand: np.ndarray, scale: SceneScale, stride: int) -> np.ndarray:
    """Pixels within half a cell's diagonal plus half a pixel of ``cand`` (and some more): every cell whose
    centre a candidate pixel lies nearest to (the heatmap's cell there) has its rounded centre inside."""
    r = math.ceil(stride / min(scale.sx, scale.sy) * math.sqrt(0.5) + 0.5)
    near = ~erode(~blocks(cand, r), square=True)  # every block within r px of a candidate block
    return spread(near, r, cand.shape)


def _outline(cand: np.ndarray, scale: SceneScale) -> np.ndarray:
    """(n, 2) rescaled-scene (x, y) of the corners of the first and last candidate pixel of each row of
    ``cand``: a turned box around them holds every candidate pixel."""
    rows, first, last = row_extremes(cand)
    u = np.concatenate([first - 0.5, first - 0.5, last + 0.5, last + 0.5])
    v = np.concatenate([rows - 0.5, rows + 0.5, rows - 0.5, rows + 0.5])
    x, y = scale.from_input(u, v)
    return np.stack([x, y], axis=1)


def _on_candidates(u: np.ndarray, v: np.ndarray, cand: np.ndarray) -> np.ndarray:
    """Bool mask (shape of u): cells whose centre (u, v) rounds to a candidate pixel of (H, W) ``cand``."""
    h, w = cand.shape
    pu, pv = np.rint(u).astype(np.int64), np.rint(v).astype(np.int64)
    inside = (pu >= 0) & (pu < w) & (pv >= 0) & (pv < h)
    ok = np.zeros_like(inside)
    ok[inside] = cand[pv[inside], pu[inside]]
    return ok


def _lookup(image: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Values of (H, W) ``image`` at the pixels nearest to (u, v), clipped to the image."""
    h, w = image.shape
    pu = np.clip(np.rint(u).astype(np.int64), 0, w - 1)
    pv = np.clip(np.rint(v).astype(np.int64), 0, h - 1)
    return image[pv, pu]


def _depth_bins(surface_depths: np.ndarray, cfg: PlannerConfig) -> np.ndarray:
    """(K,) absolute gripper depths (m) spanning the candidate surfaces plus the offset range."""
    lo = float(surface_depths.min()) + cfg.depth_offsets[0]
    hi = float(surface_depths.max()) + cfg.depth_offsets[1]
    return np.linspace(lo, hi, cfg.depth_bins)


def _clear_bins(bins: np.ndarray, admissible: np.ndarray, limit: np.ndarray) -> np.ndarray:
    """(K, Ho, Wo) bool: the ``admissible`` bins no deeper than ``limit`` (Ho, Wo); where there are none,
    the bin nearest to the limit (the grasp is then made at the limit)."""
    clear = admissible & (bins[:, None, None] <= limit[None])
    dist = np.abs(bins[:, None, None] - limit[None])
    return np.where(clear.any(axis=0), clear, dist == dist.min(axis=0, keepdims=True))


def _admissible(bins: np.ndarray, surface: np.ndarray, offsets: tuple[float, float]) -> np.ndarray:
    """(K, Ho, Wo) bool: bin k is a plausible gripper depth for a cell with this surface depth: within the
    offset range widened to half the bin spacing, or else the nearest bin."""
    spacing = float(bins[1] - bins[0]) if len(bins) > 1 else math.inf
    mid, half = 0.5 * (offsets[0] + offsets[1]), 0.5 * (offsets[1] - offsets[0])
    dist = np.abs(bins[:, None, None] - (surface + mid)[None])
    return (dist <= max(half, 0.5 * spacing) + 1e-9) | (dist == dist.min(axis=0, keepdims=True))
