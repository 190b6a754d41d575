"""Depth-in to grasps-out latency of heatmap_node over the ROS 2 transport (640x480 frame).

Starts the installed heatmap_node (shared-memory Fast DDS, localhost discovery), publishes one
rendered 640x480 tray frame at a time (camera_info + 32FC1 depth) and times until the GraspArray with
that stamp arrives. The node's own plan time for the same frames (its debug log) is subtracted to give
what conversion, publishing and the transport add. Prints p50/p90 for suction and for parallel jaw,
with the node's settings of config/heatmap.yaml.

    python bench/bench_ros_latency.py [--frames 10] [--device cpu] [--pj-model X] [--suction-model Y]
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
os.environ.setdefault("FASTDDS_DEFAULT_PROFILES_FILE", str(REPO / "config" / "fastdds_shm.xml"))
os.environ.setdefault("RMW_IMPLEMENTATION", "rmw_fastrtps_cpp")
os.environ.setdefault("AMENT_PREFIX_PATH", sys.prefix)
os.environ.setdefault("ROS_DOMAIN_ID", "61")

import numpy as np  # noqa: E402
import rclpy  # noqa: E402
from rclpy.qos import qos_profile_sensor_data  # noqa: E402
from sensor_msgs.msg import CameraInfo, Image  # noqa: E402
from std_msgs.msg import Header  # noqa: E402

from dexnet_core.camera import PRIMESENSE  # noqa: E402
from dexnet_ros import conversions as conv  # noqa: E402
from dexnet_ros.msg import GraspArray  # noqa: E402


def tray_frame(seed: int = 0) -> np.ndarray:
    """A 640x480 rendered tray of 5 held-out objects, 0.7 m below the camera, with sensor noise."""
    from dexnet_core.synth.meshes import load_object_library
    from dexnet_core.synth.scene import make_tray_scene, overhead_camera_pose, render_depth

    rng = np.random.default_rng(seed)
    scene = make_tray_scene(5, rng, objects=load_object_library("val", max_objects=20))
    return render_depth(scene, PRIMESENSE, overhead_camera_pose(0.7), rng=rng)


def ros_latency_s(model: str, gripper: str, depth: np.ndarray, frames: int, device: str,
                  log_dir: Path) -> tuple[list[float], list[float]]:
    """Seconds from publishing camera_info + depth to receiving the GraspArray with that stamp, and the
    node's plan time of the same frames."""
    from ament_index_python.packages import get_package_prefix

    exe = Path(get_package_prefix("dexnet_ros")) / "lib" / "dexnet_ros" / "heatmap_node"
    log = open(log_dir / f"heatmap_node_{gripper}.log", "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen([str(exe), "--ros-args", "--params-file", str(REPO / "config" / "heatmap.yaml"),
                             "-p", f"model:={model}", "-p", f"gripper:={gripper}", "-p", f"device:={device}",
                             "--log-level", "heatmap_node:=debug"],
                            stdout=log, stderr=subprocess.STDOUT)
    context = rclpy.Context()
    rclpy.init(context=context, signal_handler_options=rclpy.signals.SignalHandlerOptions.NO)
    node = rclpy.create_node("latency_bench", context=context)
    arrived: dict[int, float] = {}
    cond = threading.Condition()

    def on_grasps(msg: GraspArray) -> None:
        with cond:
            arrived[conv.stamp_ns(msg.header)] = time.perf_counter()
            cond.notify_all()

    node.create_subscription(GraspArray, "/grasps", on_grasps, 5)
    pub_depth = node.create_publisher(Image, "depth", qos_profile_sensor_data)
    pub_info = node.create_publisher(CameraInfo, "camera_info", qos_profile_sensor_data)
    executor = rclpy.executors.SingleThreadedExecutor(context=context)
    executor.add_node(node)

    def spin() -> None:
        while context.ok():
            try:
                executor.spin_once(timeout_sec=0.05)
            except Exception:  # noqa: BLE001 - raised once the context shuts down
                if context.ok():
                    raise

    spinner = threading.Thread(target=spin, daemon=True)
    spinner.start()

    def send(i: int, timeout: float) -> float | None:
        header = Header(frame_id="camera_depth_optical_frame")
        header.stamp.sec, header.stamp.nanosec = 1000 + i, 0
        t0 = time.perf_counter()
        pub_info.publish(conv.intrinsics_to_camera_info(PRIMESENSE, header))
        pub_depth.publish(conv.depth_to_image(depth, header))
        key = conv.stamp_ns(header)
        with cond:
            cond.wait_for(lambda: key in arrived, timeout)
        return arrived[key] - t0 if key in arrived else None

    try:
        # node start-up and discovery (a frame sent too early is lost): resend until one is answered,
        # then once more so that no warm-up frame is still being planned when timing starts
        deadline, i = time.monotonic() + 300, 0
        while not arrived:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"heatmap_node did not answer (see {log.name})")
            i += 1
            send(-i, 3.0)
        send(-i - 1, 120.0)
        warm_plans = len(PLANNED.findall(Path(log.name).read_text()))
        times = [send(i + 1, 120.0) for i in range(frames)]
        plans = [float(ms) / 1e3 for ms in PLANNED.findall(Path(log.name).read_text())[warm_plans:]]
        return [t for t in times if t is not None], plans
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(120)
        log.close()
        node.destroy_node()
        context.try_shutdown()
        spinner.join(1.0)


PLANNED = re.compile(r"planned \d+ grasps in ([0-9.]+) ms")


def pct(times: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(times) * 1000.0, q))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--frames", type=int, default=10)
    p.add_argument("--device", default="cpu")
    p.add_argument("--pj-model", default="dexnet2_pj_small")
    p.add_argument("--suction-model", default="dexnet3_suction_small")
    args = p.parse_args()
    depth = tray_frame()
    print(f"heatmap_node latency, 640x480 32FC1 frame, {args.frames} frames each, device {args.device}, "
          f"Fast DDS shared memory")
    print(f"{'gripper':<24} {'ROS p50':>9} {'ROS p90':>9} {'plan p50':>9} {'overhead':>9}  (ms)")
    with tempfile.TemporaryDirectory() as tmp:
        for gripper, model, label in (("suction", args.suction_model, "suction"),
                                      ("parallel_jaw", args.pj_model, "parallel jaw")):
            ros, plan = ros_latency_s(model, gripper, depth, args.frames, args.device, Path(tmp))
            print(f"{label:<24} {pct(ros, 50):9.1f} {pct(ros, 90):9.1f} {pct(plan, 50):9.1f} "
                  f"{pct(ros, 50) - pct(plan, 50):9.1f}   ({len(ros)}/{args.frames} frames answered)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
