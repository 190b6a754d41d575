"""Demo depth source: rendered scenes of random held-out objects published as ``depth`` + ``camera_info``,
with the objects' segmentation on ``mask``.

``scene`` "tray": objects in a tray seen by a Primesense-like camera from ``camera_height_m`` (tilted up to
``camera_tilt_deg``); "table", "bin" or "mix": realistic frames of ``dexnet_core.synth.frames`` (objects on a
table or in a bin with walls and a rim, up to ``clutter`` other objects near the image border, up to
``fixtures`` robot-like fixtures along one border, free camera roll). Each scene is rendered once
(noise-free) and every frame goes through the sensor model afresh; a new scene is drawn every
``frames_per_scene`` frames. Frames are 32FC1 metres (NaN = missing); ``image_scale`` resizes the 640x480,
525 px camera. The mask is mono8, 255 on the pixels of the objects to pick (not clutter), with the depth
image's stamp (what a segmentation stage would give the heatmap node's ``use_mask``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import rclpy
from rcl_interfaces.msg import SetParametersResult
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import Header

from dexnet_core.camera import PRIMESENSE
from dexnet_core.errors import DexnetError
from dexnet_core.synth.frames import MAX_TILT_DEG, FrameConfig, make_frame
from dexnet_core.synth.meshes import load_object_library
from dexnet_core.synth.render import look_at_pose, render_window
from dexnet_core.synth.scene import make_tray_scene
from dexnet_core.synth.sensors import get_sensor, parse_sensors
from dexnet_ros import conversions as conv
from dexnet_ros.parameters import ParamSpec, declare
from dexnet_ros.spin import one_line, run_node

DEMO_SOURCE_PARAMS = (
    ParamSpec("rate_hz", 2.0, "frames per second", 0.01, 100.0, read_only=True),
    ParamSpec("frame_id", "camera_depth_optical_frame", "header.frame_id of the frames"),
    ParamSpec("seed", 0, "random seed of scenes and noise", 0, 2**31 - 1, read_only=True),
    ParamSpec("frames_per_scene", 10, "frames published per scene before a new one is drawn", 1, 1000000),
    ParamSpec("num_objects", 5, "objects per scene (table/bin: to pick, fewer when they do not fit)", 1, 20),
    ParamSpec("library_size", 40, "held-out objects loaded at start (first of the val split)", 1, 1000,
              read_only=True),
    ParamSpec("camera_height_m", 0.7, "camera height above the table (tray: distance to its centre), m",
              0.2, 3.0),
    ParamSpec("image_scale", 1.0, "image size relative to 640x480", 0.1, 2.0, read_only=True),
    ParamSpec("scene", "tray", "tray: objects in a tray; table, bin, mix (either): realistic frames with "
              "border clutter and fixtures", choices=("tray", "table", "bin", "mix")),
    ParamSpec("sensor", "gaussian", "depth sensor model: ideal (no noise), gaussian, primesense, realsense, "
              "structured_light, or mix / a comma-separated list (one drawn per scene)"),
    ParamSpec("camera_tilt_deg", 0.0, "camera tilt from vertical per scene, uniform in [0, this], degrees",
              0.0, MAX_TILT_DEG),
    ParamSpec("clutter", 0, "table/bin scenes: up to this many other objects near the image border", 0, 10),
    ParamSpec("fixtures", 0, "table/bin scenes: up to this many robot-like fixtures along one image border",
              0, 6),
)


def _sensor_names(value: str) -> tuple[str, ...]:
    """Model names of the ``sensor`` parameter; ValueError naming the parameter and the valid values."""
    try:
        return parse_sensors(value)
    except ValueError as exc:
        raise ValueError(f"parameter sensor: {exc}") from None


class DemoSourceNode(Node):
    """Publishes rendered scenes; see DEMO_SOURCE_PARAMS for the parameters."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__("demo_source", **kwargs)
        self._p = declare(self, DEMO_SOURCE_PARAMS)
        _sensor_names(self._p["sensor"])
        self._rng = np.random.default_rng(self._p["seed"])
        scale = self._p["image_scale"]
        self._base = PRIMESENSE.scaled(scale) if scale != 1.0 else PRIMESENSE
        self._intr = self._base
        self.get_logger().info(f"loading {self._p['library_size']} held-out objects")
        self._objects = load_object_library("val", max_objects=self._p["library_size"])
        self._clean: np.ndarray | None = None
        self._mask: np.ndarray | None = None
        self._sensor = get_sensor("ideal")
        self._frame = 0
        self.add_on_set_parameters_callback(self._on_set_parameters)
        self._pub_depth = self.create_publisher(Image, "depth", qos_profile_sensor_data)
        self._pub_info = self.create_publisher(CameraInfo, "camera_info", qos_profile_sensor_data)
        self._pub_mask = self.create_publisher(Image, "mask", qos_profile_sensor_data)
        self.create_timer(1.0 / self._p["rate_hz"], self._tick)
        self.get_logger().info(f"publishing {self._intr.width}x{self._intr.height} frames on "
                               f"'{self.resolve_topic_name('depth')}' at {self._p['rate_hz']} Hz")

    def _on_set_parameters(self, params: list[rclpy.Parameter]) -> SetParametersResult:
        """Refuse unknown scene kinds and sensor names (ranges are enforced by rclpy)."""
        specs = {s.name: s for s in DEMO_SOURCE_PARAMS}
        try:
            for p in params:
                if p.name in specs:
                    specs[p.name].check(p.value)
                if p.name == "sensor":
                    _sensor_names(p.value)
        except ValueError as exc:
            return SetParametersResult(successful=False, reason=one_line(exc))
        return SetParametersResult(successful=True)

    def _new_scene(self) -> None:
        p = {s.name: self.get_parameter(s.name).value for s in DEMO_SOURCE_PARAMS}
        sensors = _sensor_names(p["sensor"])
        if p["scene"] == "tray":
            scene = make_tray_scene(p["num_objects"], self._rng, objects=self._objects)
            tilt, azimuth = 0.0, 0.0
            if p["camera_tilt_deg"] > 0:
                tilt = np.radians(self._rng.uniform(0.0, p["camera_tilt_deg"]))
                azimuth = self._rng.uniform(-np.pi, np.pi)
            camera_pose = look_at_pose(np.zeros(3), p["camera_height_m"], tilt, azimuth, 0.0)
            self._clean, seen = render_window(scene.raycaster, self._base, camera_pose)
            self._mask = np.where((seen >= 0) & (seen < len(scene.meshes)), 255, 0).astype(np.uint8)
            self._intr = self._base
            self._sensor = get_sensor(sensors[int(self._rng.integers(len(sensors)))] if len(sensors) > 1
                                      else sensors[0])
            names = [i for i, _ in scene.meshes]
        else:
            k, h, n = self._base, p["camera_height_m"], p["num_objects"]
            cfg = FrameConfig(kind=p["scene"], sensor=p["sensor"], height_m=(h, h),
                              max_tilt_deg=p["camera_tilt_deg"], focal_px=(k.fx, k.fx),
                              image_sizes=((k.width, k.height),), num_objects=(n, n),
                              clutter=(0, p["clutter"]), fixtures=(0, p["fixtures"]))
            frame = make_frame(int(self._rng.integers(2**31)), self._objects, cfg)
            self._clean, self._intr = frame.clean, frame.intrinsics
            self._mask = np.where(frame.object_mask, 255, 0).astype(np.uint8)
            self._sensor = get_sensor(frame.sensor)
            names = frame.objects
        self.get_logger().info(f"new scene: objects {names}, sensor {self._sensor.name}")

    def _tick(self) -> None:
        try:
            if self._clean is None or self._frame % self.get_parameter("frames_per_scene").value == 0:
                self._new_scene()
        except (DexnetError, ValueError) as exc:
            self.get_logger().warning(f"scene generation failed, retrying next tick: {exc}")
            return
        self._frame += 1
        depth = self._sensor.apply(self._clean, self._intr, self._rng)
        header = Header(stamp=self.get_clock().now().to_msg(), frame_id=self.get_parameter("frame_id").value)
        self._pub_info.publish(conv.intrinsics_to_camera_info(self._intr, header))
        self._pub_mask.publish(conv.array_to_image(self._mask, "mono8", header))
        self._pub_depth.publish(conv.depth_to_image(depth, header))


def main(args: list[str] | None = None) -> int:
    """Run the node; 0 on SIGINT/SIGTERM, 1 if the object library cannot be loaded."""
    return run_node(DemoSourceNode, "demo_source", SingleThreadedExecutor, args)
