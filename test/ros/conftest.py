"""ROS test harness: DDS kept on this machine, nodes as installed subprocesses, a spinning test node.

Each test module that talks DDS sets ``ROS_DOMAIN_ID = <n>`` at module level (distinct per module) and
uses ``ros`` (an in-process rclpy node on that domain) and ``start_node`` (an installed executable
started with ``--ros-args --params-file``; its log goes to a file that tests can wait on).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
# DDS must never leave this machine: localhost discovery and the shared-memory-only Fast DDS profile.
os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
os.environ.setdefault("FASTDDS_DEFAULT_PROFILES_FILE", str(REPO / "config" / "fastdds_shm.xml"))
os.environ.setdefault("RMW_IMPLEMENTATION", "rmw_fastrtps_cpp")
os.environ["RCUTILS_LOGGING_BUFFERED_STREAM"] = "0"
# `make build` installs the package into the interpreter's prefix (the venv), which a venv does not index.
os.environ.setdefault("AMENT_PREFIX_PATH", sys.prefix)

import rclpy  # noqa: E402  (after the DDS environment)
from rclpy.executors import SingleThreadedExecutor  # noqa: E402
from rclpy.qos import QoSProfile, qos_profile_sensor_data  # noqa: E402
from sensor_msgs.msg import CameraInfo, Image  # noqa: E402
from std_msgs.msg import Header  # noqa: E402

from dexnet_core.camera import CameraIntrinsics  # noqa: E402

# A 160x120 window of a Primesense-like camera: small frames keep each plan well under a second.
TEST_CAMERA = CameraIntrinsics(fx=525.0, fy=525.0, cx=79.5, cy=59.5, width=160, height=120)


def _open_shm_paths() -> set[str]:
    """Files under /dev/shm that some live process has mapped or open."""
    used = set()
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/maps") as f:
                used.update(line.split(maxsplit=5)[-1].strip() for line in f if "/dev/shm/" in line)
            fd_dir = f"/proc/{pid}/fd"
            used.update(os.readlink(os.path.join(fd_dir, fd)) for fd in os.listdir(fd_dir))
        except OSError:
            continue
    return used


@pytest.fixture(scope="session", autouse=True)
def clean_stale_fastdds_shm() -> None:
    """Remove Fast DDS shared-memory files no live process uses (left by killed processes)."""
    used = _open_shm_paths()
    for path in Path("/dev/shm").glob("*fastdds*"):
        # a port's named semaphore is not kept mapped: it is stale when its port segment is unused
        owner = path.with_name(path.name[4:-6]) if path.name.startswith("sem.") else path
        if str(path) not in used and str(owner) not in used:
            path.unlink(missing_ok=True)


def installed_executable(name: str) -> Path:
    """``<prefix>/lib/dexnet_ros/<name>`` from the ament index (``make build`` installs it)."""
    from ament_index_python.packages import PackageNotFoundError, get_package_prefix

    try:
        path = Path(get_package_prefix("dexnet_ros")) / "lib" / "dexnet_ros" / name
    except PackageNotFoundError:
        pytest.fail("dexnet_ros is not installed: run `make build`")
    if not path.exists():
        pytest.fail(f"{path} missing: run `make build`")
    return path


class NodeProcess:
    """An installed node running as a subprocess; stdout+stderr go to ``log_path``."""

    def __init__(self, name: str, params: dict[str, Any], domain_id: int, tmp: Path, node_name: str,
                 extra_args: tuple[str, ...] = ()) -> None:
        tmp.mkdir(parents=True, exist_ok=True)
        tag = f"{name}_{len(list(tmp.glob(f'{name}_*.yaml')))}"
        params_file = tmp / f"{tag}.yaml"
        params_file.write_text(yaml.safe_dump({node_name: {"ros__parameters": params}}))
        self.log_path = tmp / f"{tag}.log"
        env = dict(os.environ, ROS_DOMAIN_ID=str(domain_id), ROS_LOG_DIR=str(tmp / "ros_log"),
                   OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
        self._log = open(self.log_path, "w")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [str(installed_executable(name)), "--ros-args", "--params-file", str(params_file), *extra_args],
            stdout=self._log, stderr=subprocess.STDOUT, env=env)

    def log(self) -> str:
        return self.log_path.read_text()

    def wait_log(self, text: str, timeout: float = 10.0, start: int = 0) -> str:
        """Wait until ``text`` appears in the log after character ``start``; returns the log."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            log = self.log()
            if text in log[start:]:
                return log
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        pytest.fail(f"'{text}' not in the node log (exit code {self.proc.poll()}):\n{self.log()[-3000:]}")

    def stop(self, sig: int = signal.SIGINT, timeout: float = 10.0) -> int:
        """Send ``sig`` and return the exit code (kills the process if it does not exit in time)."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        return self.proc.returncode


@pytest.fixture(scope="module")
def start_node(request, tmp_path_factory) -> Callable[..., NodeProcess]:
    """Factory: start_node(executable, params, node_name=..., extra_args=...) -> NodeProcess (stopped at
    module end with SIGINT)."""
    domain_id = request.module.ROS_DOMAIN_ID
    tmp = tmp_path_factory.mktemp("nodes")
    started: list[NodeProcess] = []

    def start(name: str, params: dict[str, Any], node_name: str | None = None,
              extra_args: tuple[str, ...] = ()) -> NodeProcess:
        node = NodeProcess(name, params, domain_id, tmp, node_name or name, extra_args)
        started.append(node)
        return node

    yield start
    for node in started:
        node.stop()


class RosHarness:
    """An rclpy node (own context, module's domain) spinning in a thread; records received messages."""

    def __init__(self, domain_id: int) -> None:
        self.context = rclpy.Context()
        rclpy.init(context=self.context, domain_id=domain_id,
                   signal_handler_options=rclpy.signals.SignalHandlerOptions.NO)
        self.node = rclpy.create_node("ros_test_harness", context=self.context)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self.received: dict[str, list] = defaultdict(list)
        self._subs: dict[str, Any] = {}
        self._pubs: dict[str, Any] = {}
        self._cond = threading.Condition()
        self._stamp = 1000
        self._thread = threading.Thread(target=self._spin, daemon=True)
        self._thread.start()

    def _spin(self) -> None:
        while self.context.ok():
            try:
                self.executor.spin_once(timeout_sec=0.05)
            except Exception:  # noqa: BLE001 - the context is shutting down
                if self.context.ok():
                    raise

    def subscribe(self, topic: str, msg_type: type, qos: QoSProfile | int = 5) -> None:
        """Record every message on ``topic`` into ``received[topic]``."""
        if topic in self._subs:
            return

        def cb(msg: Any) -> None:
            with self._cond:
                self.received[topic].append(msg)
                self._cond.notify_all()

        self._subs[topic] = self.node.create_subscription(msg_type, topic, cb, qos)

    def publisher(self, topic: str, msg_type: type, qos: QoSProfile | int = qos_profile_sensor_data) -> Any:
        if topic not in self._pubs:
            self._pubs[topic] = self.node.create_publisher(msg_type, topic, qos)
        return self._pubs[topic]

    def wait_matched(self, timeout: float = 20.0) -> None:
        """Wait until every publisher has a subscriber and every subscription a publisher."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if (all(p.get_subscription_count() for p in self._pubs.values())
                    and all(s.get_publisher_count() for s in self._subs.values())):
                return
            time.sleep(0.05)
        pytest.fail("DDS endpoints did not match: "
                    f"{[(t, p.get_subscription_count()) for t, p in self._pubs.items()]} "
                    f"{[(t, s.get_publisher_count()) for t, s in self._subs.items()]}")

    def wait_for(self, topic: str, pred: Callable[[Any], bool] = lambda m: True,
                 timeout: float = 15.0) -> Any:
        """The first recorded message on ``topic`` that satisfies ``pred`` (waits for it)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for msg in self.received[topic]:
                    if pred(msg):
                        return msg
                left = deadline - time.monotonic()
                if left <= 0:
                    pytest.fail(f"no matching message on {topic} within {timeout} s "
                                f"({len(self.received[topic])} received)")
                self._cond.wait(min(left, 0.1))

    def next_header(self, frame_id: str = "test_optical_frame") -> Header:
        """A header with a fresh, unique stamp."""
        self._stamp += 1
        header = Header(frame_id=frame_id)
        header.stamp.sec = self._stamp
        return header

    def call(self, srv_type: type, name: str, request: Any, timeout: float = 30.0) -> Any:
        client = self.node.create_client(srv_type, name)
        try:
            if not client.wait_for_service(timeout_sec=timeout):
                pytest.fail(f"service {name} not available")
            future = client.call_async(request)
            deadline = time.monotonic() + timeout
            while not future.done():
                if time.monotonic() > deadline:
                    pytest.fail(f"service {name} did not answer within {timeout} s")
                time.sleep(0.01)
            return future.result()
        finally:
            self.node.destroy_client(client)

    def close(self) -> None:
        self.executor.shutdown(timeout_sec=1.0)
        self.node.destroy_node()
        self.context.try_shutdown()
        self._thread.join(2.0)


@pytest.fixture(scope="module")
def ros(request) -> RosHarness:
    harness = RosHarness(request.module.ROS_DOMAIN_ID)
    yield harness
    harness.close()


def tray_depth(camera: CameraIntrinsics = TEST_CAMERA, table_m: float = 0.7) -> np.ndarray:
    """(H, W) float32 metres: a table with a 4 cm box and a cylinder on it, seen from above."""
    v, u = np.mgrid[0:camera.height, 0:camera.width]
    depth = np.full((camera.height, camera.width), table_m, np.float32)
    depth[40:80, 30:70] = table_m - 0.04
    depth[(u - 115) ** 2 + (v - 60) ** 2 < 15**2] = table_m - 0.06
    return depth


@pytest.fixture(scope="session")
def tiny_checkpoints(tmp_path_factory) -> dict[str, Path]:
    """Randomly initialised gqcnn_small checkpoints (real files, real weights): "parallel_jaw",
    "suction" and "parallel_jaw_depth" (with the gripper-depth input, like the shipped PJ model)."""
    import torch

    from dexnet_core.models.checkpoint import GRIPPER_DEFAULTS, GraspQualityModel, save_checkpoint
    from dexnet_core.models.registry import get_model

    out = tmp_path_factory.mktemp("checkpoints")
    paths = {}
    for i, (name, gripper, uses_depth) in enumerate((("parallel_jaw", "parallel_jaw", False),
                                                     ("suction", "suction", False),
                                                     ("parallel_jaw_depth", "parallel_jaw", True))):
        torch.manual_seed(i)
        kwargs = {"channels": 8, "fc_size": 32, "uses_depth": uses_depth}
        norm, label, threshold = GRIPPER_DEFAULTS[gripper]
        gqm = GraspQualityModel(get_model("gqcnn_small", **kwargs), "gqcnn_small", kwargs, gripper, norm,
                                label, threshold)
        paths[name] = save_checkpoint(out / f"tiny_{name}.pt", gqm)
    return paths


def camera_info(header: Header, camera: CameraIntrinsics = TEST_CAMERA) -> CameraInfo:
    from dexnet_ros.conversions import intrinsics_to_camera_info

    return intrinsics_to_camera_info(camera, header)


def depth_image(depth_m: np.ndarray, header: Header, encoding: str = "32FC1") -> Image:
    """32FC1 (metres) or 16UC1 (millimetres, NaN -> 0) image of ``depth_m``."""
    if encoding == "16UC1":
        mm = np.nan_to_num(depth_m * 1000.0, nan=0.0).round().astype(np.uint16)
        msg = Image(header=header, height=mm.shape[0], width=mm.shape[1], encoding="16UC1",
                    step=mm.shape[1] * 2)
        msg.data = mm.tobytes()
        return msg
    from dexnet_ros.conversions import depth_to_image

    return depth_to_image(depth_m, header)


@pytest.fixture(scope="session")
def frames() -> Any:
    """Helpers to build test frames: tray_depth, camera_info, depth_image, TEST_CAMERA."""

    class Frames:
        camera = TEST_CAMERA

    Frames.tray_depth = staticmethod(tray_depth)
    Frames.camera_info = staticmethod(camera_info)
    Frames.depth_image = staticmethod(depth_image)
    return Frames



@pytest.fixture(scope="module")
def start_demo_source(start_node, ros) -> Callable[[dict[str, Any]], NodeProcess]:
    """Factory: start demo_source at a quarter of 640x480 with the given parameters and wait until its three
    image topics (depth, camera_info, mask) are matched by the harness."""
    def start(params: dict[str, Any]) -> NodeProcess:
        proc = start_node("demo_source", {"image_scale": 0.25, "rate_hz": 10.0, "library_size": 8, **params})
        ros.subscribe("depth", Image, qos_profile_sensor_data)
        ros.subscribe("camera_info", CameraInfo, qos_profile_sensor_data)
        ros.subscribe("mask", Image, qos_profile_sensor_data)
        proc.wait_log("publishing 160x120 frames on '/depth'", timeout=60)
        ros.wait_matched()
        return proc

    return start
