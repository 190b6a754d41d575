"""Demo depth source: a rendered tray of random held-out objects published as ``depth`` + ``camera_info``,
with the objects' segmentation on ``mask``.

Each scene is rendered once (noise-free) and every frame adds fresh sensor noise; a new scene is drawn
every ``frames_per_scene`` frames. Frames are 32FC1 metres (NaN = no surface) from an overhead
Primesense-like camera (``image_scale`` resizes it); the mask is mono8, 255 on object pixels, with the
depth image's stamp (what a segmentation stage would give the heatmap node's ``use_mask``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import Header

from dexnet_core.camera import PRIMESENSE
from dexnet_core.errors import DexnetError
from dexnet_core.synth.meshes import load_object_library
from dexnet_core.synth.render import DepthNoise, render_window
from dexnet_core.synth.scene import make_tray_scene, overhead_camera_pose
from dexnet_ros import conversions as conv
from dexnet_ros.parameters import ParamSpec, declare
from dexnet_ros.spin import run_node

DEMO_SOURCE_PARAMS = (
    ParamSpec("rate_hz", 2.0, "frames per second", 0.01, 100.0, read_only=True),
    ParamSpec("frame_id", "camera_depth_optical_frame", "header.frame_id of the frames"),
    ParamSpec("seed", 0, "random seed of scenes and noise", 0, 2**31 - 1, read_only=True),
    ParamSpec("frames_per_scene", 10, "frames published per scene before a new one is drawn", 1, 1000000),
    ParamSpec("num_objects", 5, "objects per tray scene", 1, 20),
    ParamSpec("library_size", 40, "held-out objects loaded at start (first of the val split)", 1, 1000,
              read_only=True),
    ParamSpec("camera_height_m", 0.7, "camera distance above the table, m", 0.2, 3.0),
    ParamSpec("image_scale", 1.0, "image size relative to 640x480", 0.1, 2.0, read_only=True),
    ParamSpec("noise", True, "add depth sensor noise to every frame"),
)


class DemoSourceNode(Node):
    """Publishes rendered tray scenes; see DEMO_SOURCE_PARAMS for the parameters."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__("demo_source", **kwargs)
        self._p = declare(self, DEMO_SOURCE_PARAMS)
        self._rng = np.random.default_rng(self._p["seed"])
        scale = self._p["image_scale"]
        self._intr = PRIMESENSE.scaled(scale) if scale != 1.0 else PRIMESENSE
        self.get_logger().info(f"loading {self._p['library_size']} held-out objects")
        self._objects = load_object_library("val", max_objects=self._p["library_size"])
        self._noise = DepthNoise()
        self._clean: np.ndarray | None = None
        self._mask: np.ndarray | None = None
        self._frame = 0
        self._pub_depth = self.create_publisher(Image, "depth", qos_profile_sensor_data)
        self._pub_info = self.create_publisher(CameraInfo, "camera_info", qos_profile_sensor_data)
        self._pub_mask = self.create_publisher(Image, "mask", qos_profile_sensor_data)
        self.create_timer(1.0 / self._p["rate_hz"], self._tick)
        self.get_logger().info(f"publishing {self._intr.width}x{self._intr.height} frames on "
                               f"'{self.resolve_topic_name('depth')}' at {self._p['rate_hz']} Hz")

    def _new_scene(self) -> None:
        p = {s.name: self.get_parameter(s.name).value for s in DEMO_SOURCE_PARAMS}
        scene = make_tray_scene(p["num_objects"], self._rng, objects=self._objects)
        camera_pose = overhead_camera_pose(p["camera_height_m"])
        self._clean, seen = render_window(scene.raycaster, self._intr, camera_pose)
        self._mask = np.where((seen >= 0) & (seen < len(scene.meshes)), 255, 0).astype(np.uint8)  # objects
        self.get_logger().info(f"new scene: objects {[i for i, _ in scene.meshes]}")

    def _tick(self) -> None:
        try:
            if self._clean is None or self._frame % self.get_parameter("frames_per_scene").value == 0:
                self._new_scene()
        except (DexnetError, ValueError) as exc:
            self.get_logger().warning(f"scene generation failed, retrying next tick: {exc}")
            return
        self._frame += 1
        noisy = self.get_parameter("noise").value
        depth = self._noise.apply(self._clean, self._rng) if noisy else self._clean
        header = Header(stamp=self.get_clock().now().to_msg(), frame_id=self.get_parameter("frame_id").value)
        self._pub_info.publish(conv.intrinsics_to_camera_info(self._intr, header))
        self._pub_mask.publish(conv.array_to_image(self._mask, "mono8", header))
        self._pub_depth.publish(conv.depth_to_image(depth, header))


def main(args: list[str] | None = None) -> int:
    """Run the node; 0 on SIGINT/SIGTERM, 1 if the object library cannot be loaded."""
    return run_node(DemoSourceNode, "demo_source", SingleThreadedExecutor, args)
