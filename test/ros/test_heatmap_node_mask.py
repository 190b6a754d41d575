"""Heatmap node (suction, use_mask, remapped inputs): camera_info and mask sync, bad masks, start-up
errors, SIGTERM."""

from __future__ import annotations

import signal
import time

import numpy as np
import pytest
import torch
from sensor_msgs.msg import CameraInfo, Image

from dexnet_ros import conversions as conv
from dexnet_ros.msg import Grasp as GraspMsg
from dexnet_ros.msg import GraspArray

ROS_DOMAIN_ID = 58
# the node's relative inputs, remapped on its command line
TOPICS = {"depth": ("/cam/depth", Image), "camera_info": ("/cam/info", CameraInfo),
          "mask": ("/cam/mask", Image)}
pytestmark = pytest.mark.ros


@pytest.fixture(scope="module")
def node(start_node, tiny_checkpoints, ros):
    proc = start_node("heatmap_node", {
        "model": str(tiny_checkpoints["suction"]), "gripper": "suction", "device": "cpu",
        "use_mask": True, "sync_timeout_s": 0.3, "top_k": 4, "frame_id": "override_frame",
        "log_throttle_s": 0.0,
    }, extra_args=("-r", "depth:=/cam/depth", "-r", "camera_info:=/cam/info", "-r", "mask:=/cam/mask"))
    ros.subscribe("/grasps", GraspArray)
    for topic, msg_type in TOPICS.values():
        ros.publisher(topic, msg_type)
    proc.wait_log("waiting for '/cam/depth'", timeout=60)  # inputs are relative names, remapped here
    ros.wait_matched()
    return proc


def box_mask(shape=(120, 160)):
    mask = np.zeros(shape, np.uint8)
    mask[45:75, 35:65] = 1
    return mask


def send(ros, frames, info=True, mask=None):
    header = ros.next_header()
    if info:
        ros.publisher(*TOPICS["camera_info"]).publish(frames.camera_info(header))
    if mask is not None:
        ros.publisher(*TOPICS["mask"]).publish(conv.array_to_image(mask, "mono8", header))
    ros.publisher(*TOPICS["depth"]).publish(frames.depth_image(frames.tray_depth(), header))
    return header


def test_frames_without_camera_info_are_logged(node, ros, frames):
    # the node has never seen a camera_info; resend until discovery has settled and one frame is judged
    deadline = time.monotonic() + 30
    while "no camera_info received on '/cam/info'" not in node.log() and time.monotonic() < deadline:
        send(ros, frames, info=False, mask=box_mask())
        time.sleep(0.5)
    node.wait_log("no camera_info received on '/cam/info'", timeout=1)


def test_mask_restricts_suction_grasps(node, ros, frames):
    header = send(ros, frames, mask=box_mask())
    arr = ros.wait_for("/grasps", lambda m: m.header.stamp == header.stamp)
    assert arr.header.frame_id == "override_frame" and 1 <= len(arr.grasps) <= 4
    for g in arr.grasps:
        assert g.grasp_type == GraspMsg.SUCTION and g.width == 0.0
        assert 35 <= g.center_px[0] < 65 and 45 <= g.center_px[1] < 75
        assert g.depth == pytest.approx(0.66, abs=0.01)  # the box top
        # the approach (grasp z axis) of a flat top points into the scene along the optical axis
        x, y = g.pose.orientation.x, g.pose.orientation.y
        approach_z = 1 - 2 * (x * x + y * y)  # z component of R(q) @ (0, 0, 1)
        assert approach_z > 0.95


def test_the_frame_id_parameter_names_frames_that_have_none(node, ros, frames):
    header = ros.next_header(frame_id="")
    ros.publisher(*TOPICS["camera_info"]).publish(frames.camera_info(header))
    ros.publisher(*TOPICS["mask"]).publish(conv.array_to_image(box_mask(), "mono8", header))
    ros.publisher(*TOPICS["depth"]).publish(frames.depth_image(frames.tray_depth(), header))
    arr = ros.wait_for("/grasps", lambda m: m.header.stamp == header.stamp)
    assert arr.header.frame_id == "override_frame" and "empty header.frame_id" not in node.log()


@pytest.mark.parametrize("case", ["missing", "size", "short", "encoding"])
def test_bad_mask_is_logged_and_the_next_frame_is_served(node, ros, frames, case):
    start = len(node.log())
    if case == "missing":
        send(ros, frames)
        text = "no mask with the depth stamp arrived within 0.3 s"
    elif case == "size":
        send(ros, frames, mask=box_mask((60, 80)))
        text = "mask is 80x60 but the depth image is 160x120"
    elif case == "short":
        header = ros.next_header()
        mask = conv.array_to_image(box_mask(), "mono8", header)
        mask.data = bytes(mask.data)[:-160]
        ros.publisher(*TOPICS["camera_info"]).publish(frames.camera_info(header))
        ros.publisher(*TOPICS["mask"]).publish(mask)
        ros.publisher(*TOPICS["depth"]).publish(frames.depth_image(frames.tray_depth(), header))
        text = "mask data has 19040 bytes; 160x120 'mono8' with step 160 needs 19200"
    else:
        header = ros.next_header()
        ros.publisher(*TOPICS["camera_info"]).publish(frames.camera_info(header))
        ros.publisher(*TOPICS["mask"]).publish(frames.depth_image(np.ones((120, 160), np.float32), header))
        ros.publisher(*TOPICS["depth"]).publish(frames.depth_image(frames.tray_depth(), header))
        text = "unsupported mask encoding '32FC1'"
    node.wait_log(text, timeout=10, start=start)
    header = send(ros, frames, mask=box_mask())
    ros.wait_for("/grasps", lambda m: m.header.stamp == header.stamp)


@pytest.mark.parametrize("params, text", [
    ({"model": "no_such_model"}, "cannot start: unknown model 'no_such_model'"),
    ({"gripper": "parallel_jaw"}, "is a suction model but the gripper is parallel_jaw"),
    ({"depth_offsets": [0.05]}, "depth_offsets must be two values [min, max] in m, got [0.05]"),
    ({"qos_reliability": "sometimes"}, "qos_reliability must be one of"),
    ({"device": "cuda"}, "device=cuda but torch sees no CUDA device"),
    ({"workspace": "box"}, "needs workspace_box"),
    ({"workspace": "table"}, "workspace must be one of"),
])
def test_bad_startup_parameters_exit_nonzero_with_one_line(start_node, tiny_checkpoints, params, text):
    if params.get("device") == "cuda" and torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    proc = start_node("heatmap_node", {"model": str(tiny_checkpoints["suction"]), "gripper": "suction",
                                       **params})
    assert proc.proc.wait(60) != 0
    log = proc.log()
    assert text in log and "Traceback" not in log
    assert len([line for line in log.splitlines() if "[ERROR]" in line]) == 1


def test_sigterm_exits_0(node):
    assert node.stop(signal.SIGTERM) == 0, node.log()[-4000:]  # a crash leaves its stacks there
    assert "Traceback" not in node.log()
