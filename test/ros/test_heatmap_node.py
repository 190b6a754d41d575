"""Heatmap node (parallel jaw) over real DDS: streaming topics, both services, bad input, SIGINT."""

from __future__ import annotations

import math
import signal
import time

import numpy as np
import pytest
from geometry_msgs.msg import PoseStamped
from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import Header
from visualization_msgs.msg import Marker, MarkerArray

from dexnet_core.camera import CameraIntrinsics
from dexnet_core.models.checkpoint import load_checkpoint
from dexnet_core.planning.config import PlannerConfig
from dexnet_ros import conversions as conv
from dexnet_ros.msg import Grasp as GraspMsg
from dexnet_ros.msg import GraspArray
from dexnet_ros.srv import PlanGrasps, ScoreCrops

ROS_DOMAIN_ID = 57
pytestmark = pytest.mark.ros


@pytest.fixture(scope="module")
def node(start_node, tiny_checkpoints, ros, frames):
    proc = start_node("heatmap_node", {
        "model": str(tiny_checkpoints["parallel_jaw"]), "gripper": "parallel_jaw", "device": "cpu",
        "num_angles": 4, "top_k": 3, "frame_id": "", "log_throttle_s": 0.5,
        "centre_preference": 0.0,  # grasps ranked by quality alone
    })
    ros.subscribe("/grasp_heatmap", Image)
    ros.subscribe("/grasps", GraspArray)
    ros.subscribe("/grasp_pose", PoseStamped)
    ros.subscribe("/grasp_heatmap/color", Image)
    ros.subscribe("/grasp_markers", MarkerArray)
    ros.subscribe("/grasp_workspace", Image)
    ros.subscribe("/grasp_workspace/markers", MarkerArray)
    ros.publisher("depth", Image)
    ros.publisher("camera_info", CameraInfo)
    proc.wait_log("waiting for '/depth'", timeout=60)
    ros.wait_matched()
    prime(ros, frames)
    return proc


def prime(ros, frames, timeout=30.0):
    """Resend a frame until its heatmap comes back: a best-effort sample sent while discovery is still
    completing on the node's side can be lost."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        header = send(ros, frames)
        try:
            ros.wait_for("/grasp_heatmap", same_stamp(header), timeout=1.0)
            return
        except pytest.fail.Exception:
            continue
    pytest.fail("the heatmap node never answered a frame")


def send(ros, frames, depth_msg=None, info=None, encoding="32FC1", frame_id="test_optical_frame"):
    """Publish a camera_info (``info``, default the test camera's) then a depth frame; returns the header."""
    header = ros.next_header(frame_id)
    info = info or frames.camera_info(header)
    info.header = header
    ros.publisher("camera_info", CameraInfo).publish(info)
    msg = depth_msg or frames.depth_image(frames.tray_depth(), header, encoding)
    msg.header = header
    ros.publisher("depth", Image).publish(msg)
    return header


def same_stamp(header):
    return lambda m: m.header.stamp == header.stamp


@pytest.mark.parametrize("encoding", ["32FC1", "16UC1"])
def test_frame_gives_heatmap_grasps_and_pose(node, ros, frames, encoding):
    header = send(ros, frames, encoding=encoding)
    heat = ros.wait_for("/grasp_heatmap", same_stamp(header))
    assert (heat.encoding, heat.width, heat.height) == ("32FC1", 160, 120)
    assert heat.header.frame_id == "test_optical_frame"
    hm = conv.image_to_depth(heat)
    assert np.isfinite(hm).all() and 0.0 <= hm.min() and hm.max() <= 1.0 and hm.max() > 0
    grasps = ros.wait_for("/grasps", same_stamp(header)).grasps
    assert 1 <= len(grasps) <= 3
    assert [g.q_value for g in grasps] == sorted((g.q_value for g in grasps), reverse=True)
    for g in grasps:
        assert g.grasp_type == GraspMsg.PARALLEL_JAW and g.width > 0
        assert 0 <= g.center_px[0] < 160 and 0 <= g.center_px[1] < 120
        assert 0.6 < g.depth < 0.8 and 0.0 <= g.q_value <= 1.0
    pose = ros.wait_for("/grasp_pose", same_stamp(header))
    assert pose.header.frame_id == "test_optical_frame"
    best = grasps[0]
    p = pose.pose.position
    # the pose projects back onto the grasp centre in the image
    u, v = frames.camera.project(np.array([[p.x, p.y, p.z]]))[0]
    assert (u, v) == pytest.approx((best.center_px[0], best.center_px[1]), abs=1.0)
    q = pose.pose.orientation
    assert math.isclose(q.x**2 + q.y**2 + q.z**2 + q.w**2, 1.0, abs_tol=1e-5)


def test_a_burst_is_not_queued_the_newest_frame_is_planned(node, ros, frames):
    headers = [send(ros, frames) for _ in range(6)]
    ros.wait_for("/grasps", same_stamp(headers[-1]))
    time.sleep(0.5)
    answered = {(m.header.stamp.sec, m.header.stamp.nanosec) for m in ros.received["/grasps"]}
    burst = [(h.stamp.sec, h.stamp.nanosec) for h in headers]
    assert sum(stamp in answered for stamp in burst) < len(burst)


def test_overlay_and_markers_follow_the_frame(node, ros, frames):
    header = send(ros, frames)
    color = ros.wait_for("/grasp_heatmap/color", same_stamp(header))
    assert (color.encoding, color.width, color.height, color.step) == ("rgb8", 160, 120, 480)
    markers = ros.wait_for("/grasp_markers",
                           lambda m: m.markers and m.markers[0].header.stamp == header.stamp)
    assert markers.markers[0].action == markers.markers[0].DELETEALL
    assert 1 <= len(markers.markers) - 1 <= 3
    assert all(m.header.frame_id == "test_optical_frame" for m in markers.markers)


def test_a_frame_without_a_valid_grasp_refreshes_every_output_but_the_pose(node, ros, frames):
    good = send(ros, frames)
    ros.wait_for("/grasp_pose", same_stamp(good))
    ros.wait_for("/grasp_markers", lambda m: len(m.markers) > 1 and m.markers[0].header.stamp == good.stamp)
    empty = send(ros, frames, frames.depth_image(np.full((120, 160), np.nan, np.float32), Header()))
    heat = ros.wait_for("/grasp_heatmap", same_stamp(empty))
    assert (heat.width, heat.height) == (160, 120) and not conv.image_to_depth(heat).any()
    assert ros.wait_for("/grasps", same_stamp(empty)).grasps == []
    color = ros.wait_for("/grasp_heatmap/color", same_stamp(empty))
    assert (color.width, color.height) == (160, 120)
    markers = ros.wait_for("/grasp_markers", lambda m: m.markers and m.markers[0].header.stamp == empty.stamp)
    assert [m.action for m in markers.markers] == [Marker.DELETEALL]  # clears the previous frame's grasps
    time.sleep(0.3)
    assert not [p for p in ros.received["/grasp_pose"] if p.header.stamp == empty.stamp]


def test_a_1x1_frame_says_it_is_too_small(node, ros, frames):
    start = len(node.log())
    tiny = frames.camera_info(Header(), CameraIntrinsics(525.0, 525.0, 0.0, 0.0, 1, 1))
    header = send(ros, frames, frames.depth_image(np.full((1, 1), 0.7, np.float32), Header()), tiny)
    node.wait_log("the 1x1 image is smaller than one grasp crop", start=start)
    heat = ros.wait_for("/grasp_heatmap", same_stamp(header))
    assert (heat.width, heat.height) == (1, 1)


def test_an_empty_frame_id_is_warned_about(node, ros, frames):
    start = len(node.log())
    header = send(ros, frames, frame_id="")
    node.wait_log("empty header.frame_id and parameter frame_id is not set", start=start)
    assert ros.wait_for("/grasps", same_stamp(header)).header.frame_id == ""
    start = len(node.log())
    header = send(ros, frames)
    ros.wait_for("/grasps", same_stamp(header))
    assert "frame_id" not in node.log()[start:]


def test_score_crops_matches_the_model(node, ros, frames, tiny_checkpoints):
    rng = np.random.default_rng(0)
    crops = (0.7 - 0.03 * rng.random((4, 32, 32))).astype(np.float32)
    req = ScoreCrops.Request(crops=[frames.depth_image(c, ros.next_header()) for c in crops[:3]]
                             + [frames.depth_image(crops[3], ros.next_header(), "16UC1")])
    res = ros.call(ScoreCrops, "score_crops", req)
    assert res.success, res.message
    expected = load_checkpoint(tiny_checkpoints["parallel_jaw"]).score(
        np.concatenate([crops[:3], np.round(crops[3:] * 1000) / 1000]))
    np.testing.assert_allclose(np.asarray(res.q_values), expected, atol=1e-5)


def test_score_crops_rejects_bad_crops(node, ros, frames):
    good = frames.depth_image(np.full((32, 32), 0.7, np.float32), ros.next_header())
    bad = frames.depth_image(np.full((31, 32), 0.7, np.float32), ros.next_header())
    res = ros.call(ScoreCrops, "score_crops", ScoreCrops.Request(crops=[good, bad]))
    assert not res.success and "crop 1 is 32x31" in res.message and len(res.q_values) == 0
    res = ros.call(ScoreCrops, "score_crops", ScoreCrops.Request(crops=[]))
    assert not res.success and "no crops" in res.message
    res = ros.call(ScoreCrops, "score_crops", ScoreCrops.Request(crops=[good], depths=[0.7, 0.7]))
    assert not res.success and "2 depths for 1 crops" in res.message


@pytest.mark.parametrize("value, first", [(np.nan, "nan"), (np.inf, "inf"), (-0.7, "-0.7"), (1e30, "1e+30")])
def test_score_crops_refuses_values_that_are_not_depths(node, ros, frames, value, first):
    good = frames.depth_image(np.full((32, 32), 0.7, np.float32), ros.next_header())
    crop = np.full((32, 32), 0.7, np.float32)
    crop[5, 7] = value
    req = ScoreCrops.Request(crops=[good, frames.depth_image(crop, ros.next_header())])
    res = ros.call(ScoreCrops, "score_crops", req)
    assert not res.success and len(res.q_values) == 0
    assert f"crop 1: 1 of 1024 values are not depths in (0, 20] m (first: {first})" in res.message


def test_score_crops_refuses_empty_crops(node, ros, frames):
    zeros = np.zeros((32, 32), np.float32)
    for encoding in ("32FC1", "16UC1"):  # 0 mm is a missing pixel of a 16-bit image
        req = ScoreCrops.Request(crops=[frames.depth_image(zeros, ros.next_header(), encoding)])
        res = ros.call(ScoreCrops, "score_crops", req)
        assert not res.success and "crop 0: 1024 of 1024 values are not depths" in res.message


def test_plan_grasps_service(node, ros, frames):
    header = ros.next_header()
    req = PlanGrasps.Request(depth=frames.depth_image(frames.tray_depth(), header, "16UC1"),
                             camera_info=frames.camera_info(header), max_grasps=2)
    res = ros.call(PlanGrasps, "plan_grasps", req)
    assert res.success, res.message
    assert 1 <= len(res.grasps.grasps) <= 2 and res.grasps.header.stamp == header.stamp
    assert (res.heatmap.width, res.heatmap.height, res.heatmap.encoding) == (160, 120, "32FC1")
    # a mask restricts grasp centres to the box (columns 30..69, rows 40..79)
    mask = np.zeros((120, 160), np.uint8)
    mask[45:75, 35:65] = 255
    req.mask = conv.array_to_image(mask, "mono8", header)
    res = ros.call(PlanGrasps, "plan_grasps", req)
    assert res.success, res.message
    for g in res.grasps.grasps:
        assert 35 <= g.center_px[0] < 65 and 45 <= g.center_px[1] < 75
    req.mask = conv.array_to_image(mask[:, :100], "mono8", header)
    res = ros.call(PlanGrasps, "plan_grasps", req)
    assert not res.success and "mask is 100x120 but the depth image is 160x120" in res.message


def bad_frame(case, frames):
    """(depth message, camera_info or None, expected log text) of a malformed frame."""
    good = frames.tray_depth()
    h = Header()
    msg, info = frames.depth_image(good, h), None
    if case == "encoding":
        msg, text = conv.array_to_image(np.zeros((120, 160, 3), np.uint8), "rgb8", h), "encoding 'rgb8'"
    elif case == "step":
        msg.step, text = 400, "step 400 is smaller than width*bytes_per_pixel"
    elif case == "data":
        msg.data, text = bytes(msg.data)[:-640], "image data has 76160 bytes"
    elif case == "all_nan":
        msg, text = frames.depth_image(np.full_like(good, np.nan), h), "no valid grasp"
    elif case == "info_size":
        info = frames.camera_info(h, frames.camera.scaled(0.5))
        text = "camera_info is 80x60 but the depth image is 160x120"
    else:  # uncalibrated camera
        info, text = CameraInfo(width=160, height=120), "camera_info has no valid K"
    return msg, info, text


@pytest.mark.parametrize("case", ["encoding", "step", "data", "all_nan", "info_size", "no_k"])
def test_bad_frame_is_logged_and_the_next_frame_is_served(node, ros, frames, case):
    msg, info, text = bad_frame(case, frames)
    start = len(node.log())
    send(ros, frames, msg, info)
    node.wait_log(text, timeout=10, start=start)
    good = send(ros, frames)
    ros.wait_for("/grasp_heatmap", same_stamp(good))
    assert node.proc.poll() is None


def test_planner_parameters_change_at_runtime_and_bad_models_are_rejected(node, ros, frames, tmp_path):
    from rcl_interfaces.srv import SetParameters
    from rclpy.parameter import Parameter

    def set_param(name, value):
        req = SetParameters.Request(parameters=[Parameter(name, value=value).to_parameter_msg()])
        return ros.call(SetParameters, "/heatmap_node/set_parameters", req).results[0]

    res = set_param("top_k", 1)
    assert res.successful, res.reason
    header = send(ros, frames)
    assert len(ros.wait_for("/grasps", same_stamp(header)).grasps) == 1
    res = set_param("model", "no_such_model")
    assert not res.successful and "no_such_model" in res.reason
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(b"not a checkpoint")
    res = set_param("model", str(corrupt))
    assert not res.successful and "corrupt.pt" in res.reason
    res = set_param("num_angles", 0)
    assert not res.successful
    header = send(ros, frames)
    assert len(ros.wait_for("/grasps", same_stamp(header)).grasps) == 1  # old model, top_k 1
    assert set_param("top_k", 3).successful


def test_workspace_topics_parameters_and_fallback(node, ros, frames):
    from rcl_interfaces.srv import SetParameters
    from rclpy.parameter import Parameter

    def set_param(name, value):
        req = SetParameters.Request(parameters=[Parameter(name, value=value).to_parameter_msg()])
        return ros.call(SetParameters, "/heatmap_node/set_parameters", req).results[0]

    assert set_param("workspace", "plane").successful
    try:
        header = send(ros, frames)
        mask = conv.image_to_mask(ros.wait_for("/grasp_workspace", same_stamp(header)))
        assert mask[45:75, 35:65].all() and not mask[5:30, 80:100].any()  # the box top, not the table
        markers = ros.wait_for("/grasp_workspace/markers",
                               lambda m: m.markers and m.markers[0].header.stamp == header.stamp).markers
        assert markers[0].action == markers[0].DELETEALL and markers[1].type == markers[1].TRIANGLE_LIST
        assert len(markers[1].points) >= 3
        assert all(p.z == pytest.approx(0.7, abs=0.01) for p in markers[1].points)  # on the table
        for g in ros.wait_for("/grasps", same_stamp(header)).grasps:
            assert mask[round(g.center_px[1]), round(g.center_px[0])] and 0 < g.observed_share <= 1
        res = set_param("min_height_m", 0.5)
        assert not res.successful and "min_height_m" in res.reason
        res = set_param("workspace", "box")
        assert not res.successful and "workspace_box" in res.reason
        # a wall along the view: no support plane, a warning, the frame is still answered (no crash)
        u = np.arange(160)[None].repeat(120, axis=0)
        wall = (0.5 / (1 - np.tan(np.radians(65)) * (u - 79.5) / 200.0)).astype(np.float32)  # 65 deg off axis
        start = len(node.log())
        header = send(ros, frames, depth_msg=frames.depth_image(wall, ros.next_header("test_optical_frame")))
        ros.wait_for("/grasps", same_stamp(header))
        node.wait_log("no support plane", timeout=10, start=start)
        header = send(ros, frames)
        assert ros.wait_for("/grasps", same_stamp(header)).grasps
    finally:
        assert set_param("workspace", PlannerConfig.workspace).successful


def test_model_with_a_gripper_depth_input(node, ros, frames, tiny_checkpoints):
    from rcl_interfaces.srv import SetParameters
    from rclpy.parameter import Parameter

    def set_model(path):
        req = SetParameters.Request(parameters=[Parameter("model", value=str(path)).to_parameter_msg()])
        return ros.call(SetParameters, "/heatmap_node/set_parameters", req).results[0]

    assert set_model(tiny_checkpoints["parallel_jaw_depth"]).successful
    try:
        crop = frames.depth_image(np.full((32, 32), 0.7, np.float32), ros.next_header())
        res = ros.call(ScoreCrops, "score_crops", ScoreCrops.Request(crops=[crop, crop]))
        assert not res.success and "needs gripper depths" in res.message
        res = ros.call(ScoreCrops, "score_crops", ScoreCrops.Request(crops=[crop, crop], depths=[0.69, 0.72]))
        assert res.success and len(res.q_values) == 2
        req = ScoreCrops.Request(crops=[crop, crop], depths=[0.69, float("nan")])
        bad = ros.call(ScoreCrops, "score_crops", req)
        assert not bad.success and "depths: 1 of 2 values are not depths in (0, 20] m (first: nan)" in \
            bad.message
        expected = load_checkpoint(tiny_checkpoints["parallel_jaw_depth"]).score(
            np.full((2, 32, 32), 0.7, np.float32), np.array([0.69, 0.72], np.float32))
        np.testing.assert_allclose(res.q_values, expected, atol=1e-5)
        header = send(ros, frames)
        grasps = ros.wait_for("/grasps", same_stamp(header)).grasps
        # the gripper depth is chosen among bins beyond the surface (table 0.7 m, box top 0.66 m, cylinder
        # top 0.64 m)
        assert grasps and all(0.64 < g.depth < 0.76 for g in grasps)
    finally:
        assert set_model(tiny_checkpoints["parallel_jaw"]).successful


def test_sigint_exits_0(node):
    assert node.stop(signal.SIGINT) == 0, node.log()[-4000:]  # a crash leaves its stacks there
    assert "Traceback" not in node.log()
