"""Demo depth source, realistic scenes: a bin under a tilted camera through a sensor model; sensor changes."""

from __future__ import annotations

import numpy as np
import pytest

from dexnet_ros import conversions as conv

ROS_DOMAIN_ID = 73
pytestmark = pytest.mark.ros


@pytest.fixture(scope="module")
def source(start_demo_source):
    return start_demo_source({"frames_per_scene": 2, "seed": 2, "scene": "bin", "num_objects": 3,
                              "sensor": "structured_light", "camera_tilt_deg": 30.0, "fixtures": 2,
                              "clutter": 2})


def _set(ros, name, value):
    from rcl_interfaces.srv import SetParameters
    from rclpy.parameter import Parameter

    req = SetParameters.Request(parameters=[Parameter(name, value=value).to_parameter_msg()])
    return ros.call(SetParameters, "/demo_source/set_parameters", req).results[0]


def test_bin_frames_have_sensor_holes_object_masks_and_their_own_intrinsics(source, ros):
    ros.wait_for("depth", lambda m: len(ros.received["depth"]) >= 6, timeout=30)
    source.wait_log("sensor structured_light", timeout=5)
    infos = {(i.header.stamp.sec, i.header.stamp.nanosec): i for i in ros.received["camera_info"]}
    masks = {(m.header.stamp.sec, m.header.stamp.nanosec): m for m in ros.received["mask"]}
    checked = 0
    for msg in ros.received["depth"][:6]:
        key = (msg.header.stamp.sec, msg.header.stamp.nanosec)
        d = conv.image_to_depth(msg)
        assert 0.15 < np.isnan(d).mean() < 0.5  # structured light: a fifth to two fifths missing
        if key in infos and key in masks:
            k = conv.camera_info_to_intrinsics(infos[key])
            assert (k.width, k.height, k.fx) == (160, 120, 525 * 0.25)
            on = conv.image_to_mask(masks[key], d.shape)
            assert 0.005 < on.mean() < 0.6
            checked += 1
    assert checked >= 3


def test_sensor_can_be_changed_at_runtime_and_bad_names_are_refused(source, ros):
    res = _set(ros, "sensor", "kinect")
    assert not res.successful and "unknown sensor 'kinect'" in res.reason and "structured_light" in res.reason
    res = _set(ros, "scene", "shelf")
    assert not res.successful and "scene must be one of" in res.reason
    start = len(source.log())
    assert _set(ros, "sensor", "ideal").successful
    source.wait_log("sensor ideal", timeout=10, start=start)
    n = len(ros.received["depth"])
    ros.wait_for("depth", lambda m: len(ros.received["depth"]) >= n + 4, timeout=30)
    assert any(not np.isnan(conv.image_to_depth(m)).any() for m in ros.received["depth"][n:])


def test_bad_sensor_at_start_is_refused_with_the_parameter_named():
    import rclpy
    from rclpy.parameter import Parameter

    from dexnet_ros.demo_source_node import DemoSourceNode

    context = rclpy.Context()
    rclpy.init(context=context, domain_id=ROS_DOMAIN_ID)
    try:
        with pytest.raises(ValueError, match="parameter sensor: unknown sensor 'kinect'; valid: ideal"):
            DemoSourceNode(context=context, parameter_overrides=[Parameter("sensor", value="kinect")])
    finally:
        rclpy.shutdown(context=context)
