"""Grasp heatmap node: depth (+ camera_info, optional mask) in; heatmap, grasps, pose and markers out.

Subscribes (relative, SensorDataQoS by default): ``depth`` (32FC1 m, 16UC1 mm, 64FC1), ``camera_info``,
``mask`` (mono8, only with use_mask). Publishes ``/grasp_heatmap`` (32FC1), ``/grasp_heatmap/color``
(rgb8 overlay), ``/grasp_pose`` (best grasp), ``/grasps`` (GraspArray), ``/grasp_markers``, and the
automatic workspace as ``/grasp_workspace`` (mono8 mask) and ``/grasp_workspace/markers``. Serves
``score_crops`` and ``plan_grasps``. A worker thread plans on the newest frame; stale frames are dropped.
Every planned frame refreshes every output: with no valid grasp the heatmap (zeros where nothing holds),
an empty ``/grasps``, the overlay and a DELETEALL marker go out with its stamp, and no ``/grasp_pose``.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import rclpy
from geometry_msgs.msg import PoseStamped
from rcl_interfaces.msg import SetParametersResult
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.executors import MultiThreadedExecutor
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import Header
from visualization_msgs.msg import MarkerArray

from dexnet_core.camera import CameraIntrinsics
from dexnet_core.errors import CheckpointError, DexnetError, NoValidGraspError
from dexnet_core.models.checkpoint import GraspQualityModel, load_checkpoint
from dexnet_core.models.pretrained import DEFAULT_MODELS, check_gripper, list_pretrained
from dexnet_core.planning.overlay import heatmap_overlay
from dexnet_core.planning.planner import GraspPlanner, PlanResult
from dexnet_ros import conversions as conv
from dexnet_ros.frame_sync import Frame, FrameSync
from dexnet_ros.markers import grasp_markers, workspace_markers
from dexnet_ros.msg import GraspArray
from dexnet_ros.parameters import HEATMAP_PARAMS, MODEL_PARAMS, declare, planner_config
from dexnet_ros.spin import one_line, run_node
from dexnet_ros.srv import PlanGrasps, ScoreCrops


def load_model(values: dict[str, Any]) -> tuple[GraspQualityModel, str]:
    """Load the model the parameters name; returns (model, device). CheckpointError / ValueError."""
    name = values["model"] or DEFAULT_MODELS[values["gripper"]]
    if not Path(name).exists() and name not in list_pretrained():
        raise CheckpointError(f"unknown model '{name}': no such checkpoint file and no shipped model of that "
                              f"name (shipped: {', '.join(list_pretrained()) or 'none'})")
    import torch

    device = values["device"]
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    elif device == "cuda" and not torch.cuda.is_available():
        raise ValueError("device=cuda but torch sees no CUDA device (use auto or cpu)")
    gqm = load_checkpoint(name, device=device, bare_gripper=values["gripper"])
    check_gripper(name, gqm.gripper, values["gripper"])
    return gqm, device


class HeatmapNode(Node):
    """See the module docstring; parameters are listed in dexnet_ros.parameters.HEATMAP_PARAMS."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__("heatmap_node", **kwargs)
        self._values = declare(self, HEATMAP_PARAMS)
        self._gqm, self._device = load_model(self._values)
        self._planner = GraspPlanner(self._gqm, planner_config(self._values), device=self._device)
        self._lock = threading.Lock()  # one plan / score at a time; guards swapping the planner
        self._last_warn: dict[str, float] = {}
        self.add_on_set_parameters_callback(self._on_set_parameters)
        v = self._values
        self._sync = FrameSync(v["use_mask"], v["sync_timeout_s"])

        qos = QoSProfile(depth=v["qos_depth"], history=qos_profile_sensor_data.history,
                         durability=qos_profile_sensor_data.durability,
                         reliability=ReliabilityPolicy.BEST_EFFORT if v["qos_reliability"] == "best_effort"
                         else ReliabilityPolicy.RELIABLE)
        inputs = MutuallyExclusiveCallbackGroup()
        self.create_subscription(Image, "depth", self._sync.add_depth, qos, callback_group=inputs)
        self.create_subscription(CameraInfo, "camera_info", self._sync.add_info, qos, callback_group=inputs)
        if v["use_mask"]:
            self.create_subscription(Image, "mask", self._sync.add_mask, qos, callback_group=inputs)
        self._pub_heatmap = self.create_publisher(Image, "/grasp_heatmap", 1)
        self._pub_color = self.create_publisher(Image, "/grasp_heatmap/color", 1)
        self._pub_pose = self.create_publisher(PoseStamped, "/grasp_pose", 1)
        self._pub_grasps = self.create_publisher(GraspArray, "/grasps", 1)
        self._pub_markers = self.create_publisher(MarkerArray, "/grasp_markers", 1)
        self._pub_workspace = self.create_publisher(Image, "/grasp_workspace", 1)
        self._pub_workspace_markers = self.create_publisher(MarkerArray, "/grasp_workspace/markers", 1)
        services = MutuallyExclusiveCallbackGroup()
        self.create_service(ScoreCrops, "score_crops", self._score_crops, callback_group=services)
        self.create_service(PlanGrasps, "plan_grasps", self._plan_grasps, callback_group=services)

        self._worker = threading.Thread(target=self._work, name="heatmap_worker", daemon=True)
        self._worker.start()
        self.get_logger().info(f"model '{self._gqm.arch}' ({self._gqm.gripper}) on {self._device}; "
                               f"waiting for '{self.resolve_topic_name('depth')}'")

    # ---- parameters -------------------------------------------------------------------------------------
    def _on_set_parameters(self, params: list[rclpy.Parameter]) -> SetParametersResult:
        """Validate a parameter change; a new model/device is loaded here and kept only if it loads."""
        values = dict(self._values)
        values.update({p.name: p.value for p in params})
        specs = {s.name: s for s in HEATMAP_PARAMS}
        try:
            for p in params:
                if p.name in specs:
                    specs[p.name].check(p.value)
            gqm, device = self._gqm, self._device
            if any(values[s.name] != self._values[s.name] for s in MODEL_PARAMS):
                gqm, device = load_model(values)
            planner = GraspPlanner(gqm, planner_config(values), device=device)
        except (DexnetError, ValueError) as exc:
            self.get_logger().error(f"rejected parameter change: {one_line(exc)}")
            return SetParametersResult(successful=False, reason=one_line(exc))
        with self._lock:
            self._gqm, self._device, self._planner, self._values = gqm, device, planner, values
            self._sync.sync_timeout_s = values["sync_timeout_s"]
        return SetParametersResult(successful=True)

    # ---- streaming --------------------------------------------------------------------------------------
    def _warn(self, text: str) -> None:
        """Log a warning, at most once per log_throttle_s for the same text."""
        now = time.monotonic()
        if now - self._last_warn.get(text, -1e9) >= self._values["log_throttle_s"]:
            if len(self._last_warn) > 256:
                self._last_warn.clear()
            self._last_warn[text] = now
            self.get_logger().warning(text)

    def _work(self) -> None:
        # runs until FrameSync.close() (destroy_node); never takes the context lock (rclpy.ok) because
        # shutdown holds it while destroying this node
        while not self._sync.closed:
            frame = self._sync.wait(timeout=0.5)
            if frame is None:
                continue
            try:
                self._process(frame)
            except (DexnetError, ValueError) as exc:
                self._warn(f"dropped frame: {one_line(exc)}")
            except Exception as exc:  # noqa: BLE001 - a bad frame must never stop the worker
                if not self._sync.closed:
                    self.get_logger().error(f"dropped frame: unexpected {type(exc).__name__}: {exc}")

    def _header(self, header: Header) -> Header:
        """Output header: the input's stamp; frame_id = the parameter, else the input's (warns if empty)."""
        frame_id = self._values["frame_id"] or header.frame_id
        if not frame_id:
            self._warn("depth image has an empty header.frame_id and parameter frame_id is not set: "
                       "outputs go out with frame_id ''")
        return Header(stamp=header.stamp, frame_id=frame_id)

    def _convert(self, depth_msg: Image, info: CameraInfo | None, mask_msg: Image | None
                 ) -> tuple[np.ndarray, CameraIntrinsics, np.ndarray | None]:
        """(depth m, intrinsics, mask) of one frame; ValueError describes what is wrong with it."""
        if info is None:
            raise ValueError(f"no camera_info received on '{self.resolve_topic_name('camera_info')}'")
        depth = conv.image_to_depth(depth_msg)
        intr = conv.camera_info_to_intrinsics(info)
        if (intr.height, intr.width) != depth.shape:
            raise ValueError(f"camera_info is {intr.width}x{intr.height} but the depth image is "
                             f"{depth.shape[1]}x{depth.shape[0]}")
        mask = conv.image_to_mask(mask_msg, depth.shape) if mask_msg is not None else None
        return depth, intr, mask

    def _process(self, frame: Frame) -> None:
        if frame.mask_missing:
            raise ValueError(f"no mask with the depth stamp arrived within {self._sync.sync_timeout_s} s")
        header = self._header(frame.depth.header)
        depth, intr, mask = self._convert(frame.depth, frame.info, frame.mask)
        try:
            with self._lock:
                result = self._planner.plan(depth, intr, mask=mask)
        except NoValidGraspError as exc:  # still publish, so no output keeps the previous frame's grasps
            self._warn(f"no valid grasp: {one_line(exc)}")
            result = PlanResult([], np.zeros(depth.shape, np.float32) if exc.heatmap is None else exc.heatmap)
        else:
            self._publish_workspace(result, intr, header)
            ms = result.timings["total"] * 1e3
            self.get_logger().debug(f"planned {len(result.grasps)} grasps in {ms:.1f} ms "
                                    f"({self._sync.dropped} stale frames dropped so far)")
        self._pub_heatmap.publish(conv.depth_to_image(result.heatmap, header))
        self._pub_grasps.publish(conv.grasps_to_msg(result.grasps, header))
        if result.grasps:
            self._pub_pose.publish(conv.grasp_to_pose_stamped(result.grasps[0], header))
        if self._pub_markers.get_subscription_count():
            self._pub_markers.publish(grasp_markers(result.grasps, header))
        if self._pub_color.get_subscription_count():
            overlay = heatmap_overlay(depth, result.heatmap, result.grasps, intr)
            self._pub_color.publish(conv.rgb_to_image(overlay, header))

    def _publish_workspace(self, result: PlanResult, intr: CameraIntrinsics, header: Header) -> None:
        """Warn (throttled) when the plane fit fell back; publish the workspace mask and markers while
        subscribed."""
        workspace = result.workspace
        if workspace.fallback:
            self._warn(f"workspace: {workspace.fallback}; planning without the plane (workspace none)")
        if self._pub_workspace.get_subscription_count():
            self._pub_workspace.publish(conv.array_to_image(workspace.mask.astype("uint8") * 255, "mono8",
                                                            header))
        if self._pub_workspace_markers.get_subscription_count():
            self._pub_workspace_markers.publish(workspace_markers(workspace, intr, header))

    # ---- services ---------------------------------------------------------------------------------------
    def _score_crops(self, req: ScoreCrops.Request, res: ScoreCrops.Response) -> ScoreCrops.Response:
        try:
            crops = conv.image_to_crops(req.crops)
            if len(crops) == 0:
                raise ValueError("no crops given")
            z = conv.float_array(req.depths) if len(req.depths) else None
            if z is not None:
                if len(z) != len(crops):
                    raise ValueError(f"got {len(z)} depths for {len(crops)} crops")
                conv.check_depths(z, "depths")
            with self._lock:  # score() raises ValueError when depths are missing or not expected
                q = self._gqm.score(crops, z)
            res.q_values = q.astype("float32").tolist()
            res.success, res.message = True, f"scored {len(q)} crops"
        except (DexnetError, ValueError) as exc:
            self._warn(f"score_crops: {one_line(exc)}")
            res.success, res.message = False, str(exc)
        return res

    def _plan_grasps(self, req: PlanGrasps.Request, res: PlanGrasps.Response) -> PlanGrasps.Response:
        header = self._header(req.depth.header)
        mask = req.mask if req.mask.width or req.mask.height or len(req.mask.data) else None
        try:
            depth, intr, mask = self._convert(req.depth, req.camera_info, mask)
            with self._lock:
                result = self._planner.plan(depth, intr, mask=mask, max_grasps=req.max_grasps or None)
            res.grasps = conv.grasps_to_msg(result.grasps, header)
            res.heatmap = conv.depth_to_image(result.heatmap, header)
            res.success, res.message = True, f"{len(result.grasps)} grasps"
        except (DexnetError, ValueError) as exc:
            self._warn(f"plan_grasps: {one_line(exc)}")
            res.grasps = GraspArray(header=header)
            res.success, res.message = False, str(exc)
        return res

    def destroy_node(self) -> None:
        """Stop the worker thread (if __init__ got that far), then destroy the node.

        Waits for a plan in progress to finish: exiting while torch runs in the worker aborts the process.
        """
        if hasattr(self, "_worker"):
            self._sync.close()
            if self._worker is not threading.current_thread():
                self._worker.join(timeout=120.0)
        super().destroy_node()


def main(args: list[str] | None = None) -> int:
    """Run the node; 0 on SIGINT/SIGTERM, 1 if the model cannot be loaded or a parameter is invalid."""
    return run_node(HeatmapNode, "heatmap_node", lambda: MultiThreadedExecutor(num_threads=3), args)
