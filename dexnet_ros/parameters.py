"""Node parameters declared from one table: default, description, range, choices, read-only flag."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor, ParameterType
from rclpy.node import Node

from dexnet_core.planning.config import BACKENDS, PlannerConfig

_TYPES = {bool: ParameterType.PARAMETER_BOOL, int: ParameterType.PARAMETER_INTEGER,
          float: ParameterType.PARAMETER_DOUBLE, str: ParameterType.PARAMETER_STRING}
_ARRAY_TYPES = {int: ParameterType.PARAMETER_INTEGER_ARRAY, float: ParameterType.PARAMETER_DOUBLE_ARRAY}


@dataclass(frozen=True)
class ParamSpec:
    """One ROS parameter: ``low``/``high`` bound numbers, ``choices`` strings; read_only needs a restart."""

    name: str
    default: Any
    description: str
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] = ()
    read_only: bool = False

    def descriptor(self) -> ParameterDescriptor:
        """ParameterDescriptor with type, description, range and the allowed choices."""
        d = ParameterDescriptor(name=self.name, description=self.description, read_only=self.read_only)
        if isinstance(self.default, list):
            d.type = _ARRAY_TYPES[type(self.default[0])]
        else:
            d.type = _TYPES[type(self.default)]
        if self.low is not None and d.type == ParameterType.PARAMETER_INTEGER:
            d.integer_range = [IntegerRange(from_value=int(self.low), to_value=int(self.high), step=1)]
        elif self.low is not None and d.type == ParameterType.PARAMETER_DOUBLE:
            d.floating_point_range = [FloatingPointRange(from_value=float(self.low),
                                                         to_value=float(self.high), step=0.0)]
        if self.choices:
            d.additional_constraints = "one of: " + ", ".join(self.choices)
        return d

    def check(self, value: Any) -> None:
        """Raise ValueError if ``value`` is not one of ``choices`` (ranges are enforced by rclpy)."""
        if self.choices and value not in self.choices:
            raise ValueError(f"parameter {self.name} must be one of {list(self.choices)}, got {value!r}")


def declare(node: Node, specs: Sequence[ParamSpec]) -> dict[str, Any]:
    """Declare every spec on ``node`` (values from --params-file override defaults); returns name -> value."""
    values = {}
    for spec in specs:
        value = node.declare_parameter(spec.name, spec.default, spec.descriptor()).value
        spec.check(value)
        values[spec.name] = list(value) if isinstance(spec.default, list) else value
    return values


# Heatmap node: model selection, input handling and the PlannerConfig fields (same names).
MODEL_PARAMS = (
    ParamSpec("model", "", "checkpoint path or shipped model name; empty = the shipped default for gripper"),
    ParamSpec("gripper", "parallel_jaw", "gripper the model must be for (picks the shipped default)",
              choices=("parallel_jaw", "suction")),
    ParamSpec("device", "auto", "torch device: auto (cuda if available), cpu or cuda",
              choices=("auto", "cpu", "cuda")),
)
NODE_PARAMS = (
    ParamSpec("frame_id", "", "frame of the outputs; empty = the depth image's header.frame_id"),
    ParamSpec("use_mask", False, "wait for a mono8 mask with the depth stamp on 'mask'", read_only=True),
    ParamSpec("sync_timeout_s", 0.5, "how long a depth frame waits for its mask (use_mask) or, before the "
              "first camera_info, for a camera_info; then it is dropped", 0.0, 10.0),
    ParamSpec("qos_depth", 1, "history depth of the image subscriptions", 1, 100, read_only=True),
    ParamSpec("qos_reliability", "best_effort", "reliability of the image subscriptions",
              choices=("best_effort", "reliable"), read_only=True),
    ParamSpec("log_throttle_s", 2.0, "minimum seconds between two identical warnings", 0.0, 3600.0),
)
PLANNER_PARAMS = (
    ParamSpec("num_angles", 32, "parallel jaw: jaw-axis angles tried in [0, pi)", 1, 64),
    ParamSpec("depth_bins", 8, "gripper depths tried per pixel (models with a depth input)", 1, 64),
    ParamSpec("depth_offsets", [0.015, 0.05], "gripper depth range beyond the surface [min, max], m"),
    ParamSpec("top_k", 5, "grasps published per frame", 1, 100),
    ParamSpec("min_quality", 0.0, "grasps below this quality are dropped", 0.0, 1.0),
    ParamSpec("nms_radius_px", 20.0, "non-maximum suppression radius, input pixels", 0.0, 1000.0),
    ParamSpec("centre_preference", PlannerConfig.centre_preference, "grasps are ranked by quality minus this "
              "times their distance from the image centre over the half diagonal", 0.0, 1.0),
    ParamSpec("inpaint", True, "fill missing depth before scoring"),
    ParamSpec("roi", [0, 0, 0, 0], "[x, y, w, h] region for grasp centres, pixels; w = 0: whole image"),
    ParamSpec("workspace", PlannerConfig.workspace, "automatic workspace: none, plane (objects above the "
              "fitted support surface), box (inside workspace_box) or plane,box",
              choices=("none", "plane", "box", "plane,box")),
    ParamSpec("min_height_m", 0.008, "plane: grasp centres at least this far above the support plane, m",
              0.0, 10.0),
    ParamSpec("max_height_m", 0.3, "plane: grasp centres at most this far above the support plane, m",
              0.0, 10.0),
    ParamSpec("plane_margin_m", 0.01, "plane: grasp centres this far inside the region the plane supports "
              "(away from bin walls and rims), m", 0.0, 1.0),
    ParamSpec("edge_margin_m", PlannerConfig.edge_margin_m, "plane: grasps centred nearer than this to an "
              "object's edge (thin parts: outside their inner half) rank edge_preference lower, m; 0 = off",
              0.0, 0.05),
    ParamSpec("edge_preference", PlannerConfig.edge_preference, "how much lower grasps near object edges "
              "rank (see edge_margin_m)", 0.0, 1.0),
    ParamSpec("workspace_box", [0.0, 0.0, 0.0, 0.0, 0.0, 0.0], "box: [x_min, x_max, y_min, y_max, z_min, "
              "z_max] in the camera optical frame, m; all 0 = unset"),
    ParamSpec("max_filled_fraction", 0.5, "no grasp whose crop holds more filled-in (missing) depth than "
              "this share", 0.0, 1.0),
    ParamSpec("min_depth_m", 0.1, "workspace: nearest surface depth for a grasp centre, m", 0.0, 20.0),
    ParamSpec("max_depth_m", 3.0, "workspace: farthest surface depth for a grasp centre, m", 0.0, 20.0),
    ParamSpec("crop_size_px", 96, "crop a 32x32 network input covers at the training scale, px", 8, 1024),
    ParamSpec("training_depth_m", 0.7, "camera distance at which crop_size_px holds, m", 0.01, 20.0),
    ParamSpec("training_focal_px", 525.0, "focal length of the training camera, px", 1.0, 10000.0),
    ParamSpec("stride", 2, "heatmap stride in network pixels", 1, 32),
    ParamSpec("jaw_symmetries", 1, "parallel jaw: average the quality over 1, 2 or 4 symmetries of the "
              "crops (180-degree turn, mirror images; that many times the network time)", 1, 4),
    ParamSpec("suction_symmetries", 1, "suction: average the quality over 1, 2, 4 or 8 turns / mirror "
              "images of the image (that many times the network time)", 1, 8),
    ParamSpec("jaw_width_m", 0.08, "parallel-jaw opening: reported with each grasp and checked for "
              "clearance, m", 0.001, 1.0),
    ParamSpec("normal_window_px", 7, "suction: window side for the surface normal, px", 3, 101),
    ParamSpec("clearance_check", True, "skip grasps whose gripper would hit the observed surface on its "
              "way down; suction: also those whose lip rim leaves the mask, or without one what stands on "
              "the support plane"),
    ParamSpec("finger_size_m", [0.014, 0.021], "parallel jaw: finger [thickness along, width across] the "
              "jaw axis, m"),
    ParamSpec("fingertip_depth_m", 0.012, "parallel jaw: fingertips reach this far past the grasp centre, m",
              0.0, 1.0),
    ParamSpec("finger_length_m", 0.046, "parallel jaw: from the fingertips up to the palm's underside, m",
              0.0, 1.0),
    ParamSpec("palm_size_m", [0.204, 0.063], "parallel jaw: palm footprint [length along, width across] the "
              "jaw axis, m"),
    ParamSpec("jaw_clearance_margin_m", 0.003, "parallel jaw: fingertips may end this far below the surface "
              "under the fingers, m", 0.0, 1.0),
    ParamSpec("jaw_centring", True, "parallel jaw: move each grasp along its jaw axis to the middle of the "
              "surface its fingers close on"),
    ParamSpec("cup_radius_m", 0.01, "suction: radius of the cup and tool (a cylinder along the approach), m",
              0.001, 1.0),
    ParamSpec("cup_length_m", 0.1, "suction: length of that cylinder behind the lip, m", 0.001, 1.0),
    ParamSpec("suction_clearance_margin_m", 0.006, "suction: observed surface may lie this far in front of "
              "the cup, m", 0.0, 1.0),
    ParamSpec("cup_stretch_m", 0.008, "suction: lip-rim points may lie this far behind the lip plane and "
              "still seal, m", 0.0001, 1.0),
    ParamSpec("cup_seal_tolerance_m", 0.002, "suction: the surface under the lip rim must be this flat to "
              "seal (RMS from its plane at most half of it, beyond sensor noise); 0 = off, m", 0.0, 0.1),
    ParamSpec("backend", "torch", "runs the network: torch, or onnxruntime (the exported ONNX graph; CPU "
              "execution provider, CUDA with onnxruntime-gpu on device cuda)", choices=BACKENDS),
)
HEATMAP_PARAMS = MODEL_PARAMS + NODE_PARAMS + PLANNER_PARAMS


def planner_config(values: dict[str, Any]) -> PlannerConfig:
    """PlannerConfig from parameter values (extra keys ignored); raises ValueError on a bad value."""
    cfg = {s.name: values[s.name] for s in PLANNER_PARAMS}
    roi = [int(v) for v in cfg["roi"]]
    if len(roi) != 4:
        raise ValueError(f"parameter roi must be [x, y, w, h], got {roi}")
    cfg["roi"] = tuple(roi) if roi[2] > 0 else None
    cfg["depth_offsets"] = tuple(float(v) for v in cfg["depth_offsets"])
    box = [float(v) for v in cfg["workspace_box"]]
    if len(box) != 6:
        raise ValueError(f"parameter workspace_box must be [x_min, x_max, y_min, y_max, z_min, z_max], "
                         f"got {box}")
    cfg["workspace_box"] = tuple(box) if any(box) else None
    return PlannerConfig.from_dict(cfg)
