"""Planner configuration: one frozen dataclass, validated on construction."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any

from dexnet_core.models.symmetries import SYMMETRY_GROUPS
from dexnet_core.planning.workspace import parse_modes

BACKENDS = ("torch", "onnxruntime")


@dataclass(frozen=True)
class PlannerConfig:
    """How a depth image becomes ranked grasps. Pixel sizes are in INPUT image pixels unless noted."""

    num_angles: int = 32  # parallel jaw: jaw-axis angles tried, evenly spaced in [0, pi)
    depth_bins: int = 8  # gripper depths tried per pixel for models with a depth input
    depth_offsets: tuple[float, float] = (0.015, 0.05)  # m beyond the centre's surface: gripper depths
    top_k: int = 5  # grasps returned (plan(max_grasps=...) overrides)
    min_quality: float = 0.0  # grasps below this quality are dropped
    nms_radius_px: float = 20.0  # grasp centres closer than this are suppressed (non-maximum suppression)
    centre_preference: float = 0.03  # grasps are ranked by quality minus this times their distance from the
    # image centre over the half diagonal: of grasps scored alike, the one the camera looks at comes first
    inpaint: bool = True  # fill holes smoothly before scoring (False: with the farthest valid depth);
    # grasp centres are only ever on measured pixels
    roi: tuple[int, int, int, int] | None = None  # (x, y, w, h) region where grasp centres may lie
    min_depth_m: float = 0.1  # workspace: grasp centres only on surfaces at depths in [min, max]
    max_depth_m: float = 3.0
    workspace: str = "plane"  # automatic workspace (workspace.py): "none", "plane" (on objects above the
    # fitted support surface), "box" (inside workspace_box) or "plane,box"; a mask restricts further
    min_height_m: float = 0.008  # plane: grasp-centre surface points at least this far above the plane
    max_height_m: float = 0.3  # plane: and at most this far
    plane_margin_m: float = 0.01  # plane: grasp centres this far inside the region the plane supports
    # (away from bin walls and rims)
    edge_margin_m: float = 0.008  # plane: grasp centres nearer than this to the edge of what stands on the
    # plane (an object's edge; missing pixels are no edge) rank edge_preference lower; 0: off
    edge_preference: float = 0.05  # ... that much lower: of grasps scored alike, the one inside an object
    workspace_box: tuple[float, float, float, float, float, float] | None = None  # box: (x_min, x_max,
    # y_min, y_max, z_min, z_max), m, camera optical frame
    max_filled_fraction: float = 0.5  # no grasp whose crop holds more filled-in (missing) depth than this
    crop_size_px: int = 96  # input-image crop a 32x32 network input covers at the training scale
    training_depth_m: float = 0.7  # camera distance at which crop_size_px holds
    training_focal_px: float = 525.0  # focal length (px) of the training camera
    stride: int = 2  # parallel jaw: heatmap stride in network (rescaled) pixels; 1 = every rescaled pixel
    suction_stride: int = 1  # suction: same, denser since it needs one pass instead of num_angles
    jaw_symmetries: int = 1  # parallel jaw: average the quality over 1, 2 or 4 symmetries of the crops
    # (the identity, the 180-degree turn, and also the two mirror images), at that many times the network time
    suction_symmetries: int = 1  # suction: the same over 1, 2, 4 or 8 of the 90-degree turns and mirror
    # images (symmetries of a round cup); see dexnet_core/models/symmetries.py
    exact_fc: bool = False  # 'same'-padded nets (dexnet_base, gqcnn_dexnet2): True scores every crop as the
    # crop-wise GQ-CNN does (crop-loop speed), False uses the whole-image map of the reference FC-GQ-CNN
    # (fast; differs only near crop borders). 'valid'-padded nets (gqcnn_small) are exact either way.
    jaw_width_m: float = 0.08  # parallel-jaw opening: reported with each grasp, and where the clearance
    # check puts the fingers (Franka hand fully open, as in the training labels)
    normal_window_px: int = 7  # suction: side of the window the surface normal is fitted on
    clearance_check: bool = True  # skip grasps whose gripper would hit the observed surface on its way down
    # (see clearance.py); parallel jaw: the gripper depth stops where the fingertips meet that surface;
    # suction: the lip rim must lie on the mask (on the object), without one on what stands on the plane
    finger_size_m: tuple[float, float] = (0.014, 0.021)  # parallel jaw: finger cross-section (thickness
    # along the jaw axis, width across it), Franka hand
    fingertip_depth_m: float = 0.012  # parallel jaw: how far the fingertips reach past the grasp centre
    finger_length_m: float = 0.046  # parallel jaw: from the fingertips up to the palm's underside
    palm_size_m: tuple[float, float] = (0.204, 0.063)  # parallel jaw: palm (hand body) footprint, length
    # along the jaw axis and width across it, Franka hand
    jaw_centring: bool = True  # parallel jaw: move each grasp along its jaw axis to the middle of the
    # surface its fingers close on (jaw_centring.py); False: grasps stay on heatmap cell centres
    jaw_clearance_margin_m: float = 0.003  # parallel jaw: fingertips may end this far below the surface
    # observed under the fingers (sensor noise, compliance)
    cup_radius_m: float = 0.01  # suction: radius of the cup and tool, a cylinder along the approach
    cup_length_m: float = 0.1  # suction: length of that cylinder behind the lip
    suction_clearance_margin_m: float = 0.006  # suction: observed surface may lie this far in front of the
    # cup (lip at the contact): what the lip can conform to
    cup_stretch_m: float = 0.008  # suction: lip-rim points may lie this far behind the lip plane and still
    # seal (how far the cup stretches; max_stretch of the synth labels' SuctionCup)
    cup_seal_tolerance_m: float = 0.002  # suction: the surface under the lip rim must be this flat to seal
    # (RMS distance from its best-fit plane at most half of it, beyond the sensor noise; seal_tolerance of
    # the synth labels' SuctionCup); 0: off
    backend: str = "torch"  # runs the FC network: torch, or onnxruntime (the exported ONNX graph, see
    # dexnet_core/models/export.py; CPU execution provider, CUDA with onnxruntime-gpu on a cuda device)

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise ValueError(f"planner.backend must be one of {BACKENDS}, got {self.backend!r}")
        _positive_int(self, "num_angles", "depth_bins", "top_k", "crop_size_px", "stride", "suction_stride",
                      "normal_window_px")
        for key, gripper in (("jaw_symmetries", "parallel_jaw"), ("suction_symmetries", "suction")):
            counts = tuple(SYMMETRY_GROUPS[gripper])
            if getattr(self, key) not in counts:
                raise ValueError(f"planner.{key} must be one of {counts}, got {getattr(self, key)!r}")
        if len(self.depth_offsets) != 2:
            raise ValueError(f"planner.depth_offsets must be two values [min, max] in m, got "
                             f"{list(self.depth_offsets)}")
        lo, hi = self.depth_offsets
        if not (math.isfinite(lo) and math.isfinite(hi) and lo <= hi):
            raise ValueError(f"planner.depth_offsets must be finite, min <= max, got {self.depth_offsets}")
        if not 0.0 <= self.min_quality <= 1.0:
            raise ValueError(f"planner.min_quality must be in [0, 1], got {self.min_quality}")
        for name in ("centre_preference", "edge_preference"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"planner.{name} must be in [0, 1], got {getattr(self, name)}")
        if not self.nms_radius_px >= 0:
            raise ValueError(f"planner.nms_radius_px must be >= 0, got {self.nms_radius_px}")
        if self.roi is not None and (len(self.roi) != 4 or self.roi[2] <= 0 or self.roi[3] <= 0):
            raise ValueError(f"planner.roi must be (x, y, w, h) with w, h > 0, got {self.roi}")
        if not 0.0 <= self.min_depth_m < self.max_depth_m:
            raise ValueError(
                "planner workspace needs 0 <= min_depth_m < max_depth_m, "
                f"got {self.min_depth_m}, {self.max_depth_m}"
            )
        parse_modes(self.workspace)
        if not 0.0 <= self.min_height_m < self.max_height_m:
            raise ValueError("planner workspace needs 0 <= min_height_m < max_height_m, "
                             f"got {self.min_height_m}, {self.max_height_m}")
        for name in ("plane_margin_m", "edge_margin_m", "cup_seal_tolerance_m"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"planner.{name} must be >= 0, got {getattr(self, name)}")
        box = self.workspace_box
        if box is not None and (len(box) != 6 or not all(math.isfinite(b) for b in box)
                                or not all(box[i] < box[i + 1] for i in (0, 2, 4))):
            raise ValueError("planner.workspace_box must be (x_min, x_max, y_min, y_max, z_min, z_max) with "
                             f"each min < max, got {box}")
        if "box" in parse_modes(self.workspace) and box is None:
            raise ValueError(f"planner.workspace {self.workspace!r} needs workspace_box")
        if not 0.0 <= self.max_filled_fraction <= 1.0:
            raise ValueError(f"planner.max_filled_fraction must be in [0, 1], got {self.max_filled_fraction}")
        for name in ("training_depth_m", "training_focal_px", "jaw_width_m", "cup_radius_m", "cup_length_m",
                     "cup_stretch_m"):
            if not getattr(self, name) > 0:
                raise ValueError(f"planner.{name} must be > 0, got {getattr(self, name)}")
        for name in ("finger_size_m", "palm_size_m"):
            if len(getattr(self, name)) != 2 or not all(x > 0 for x in getattr(self, name)):
                raise ValueError(f"planner.{name} must be two sizes > 0, got {getattr(self, name)}")
        for name in ("fingertip_depth_m", "finger_length_m", "jaw_clearance_margin_m",
                     "suction_clearance_margin_m"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"planner.{name} must be >= 0, got {getattr(self, name)}")

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> PlannerConfig:
        """Build from a plain mapping (YAML, ROS parameters); unknown keys raise ValueError."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown planner option(s) {unknown}; valid: {sorted(known)}")
        values = dict(values)
        for key in ("depth_offsets", "roi", "finger_size_m", "palm_size_m", "workspace_box"):
            if values.get(key) is not None:
                values[key] = tuple(values[key])
        return cls(**values)


def _positive_int(cfg: PlannerConfig, *names: str) -> None:
    for name in names:
        value = getattr(cfg, name)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"planner.{name} must be an integer >= 1, got {value!r}")
