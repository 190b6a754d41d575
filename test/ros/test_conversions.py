"""Message <-> array conversions: encodings, row padding, byte order, sizes, grasps."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import Header

from dexnet_core.camera import PRIMESENSE
from dexnet_core.planning.grasp import Grasp
from dexnet_ros import conversions as conv
from dexnet_ros.markers import grasp_markers, quality_color
from dexnet_ros.msg import Grasp as GraspMsg


def make_image(arr: np.ndarray, encoding: str, pad: int = 0, big_endian: bool = False) -> Image:
    """Image with ``pad`` bytes of row padding and the requested byte order (built by hand, not by conv)."""
    dt = arr.dtype.newbyteorder(">" if big_endian else "<")
    rows = arr.astype(dt).view(np.uint8).reshape(arr.shape[0], -1)
    padded = np.concatenate([rows, np.full((arr.shape[0], pad), 0xAB, np.uint8)], axis=1)
    msg = Image(height=arr.shape[0], width=arr.shape[1], encoding=encoding,
                is_bigendian=int(big_endian), step=padded.shape[1])
    msg.data = padded.tobytes()
    return msg


@pytest.fixture
def depth() -> np.ndarray:
    rng = np.random.default_rng(0)
    return (0.5 + rng.random((6, 7))).astype(np.float32)


@pytest.mark.parametrize("pad", [0, 3, 8])
@pytest.mark.parametrize("big_endian", [False, True])
def test_32fc1_step_and_byte_order(depth, pad, big_endian):
    out = conv.image_to_depth(make_image(depth, "32FC1", pad, big_endian))
    assert out.dtype == np.float32 and out.shape == depth.shape
    np.testing.assert_array_equal(out, depth)


def test_32fc1_unpadded_is_a_view_of_the_message(depth):
    msg = make_image(depth, "32FC1")
    out = conv.image_to_depth(msg)
    assert np.shares_memory(out, np.frombuffer(msg.data, np.uint8))


@pytest.mark.parametrize("pad", [0, 2])
@pytest.mark.parametrize("big_endian", [False, True])
def test_16uc1_millimetres_zero_is_missing(pad, big_endian):
    mm = np.array([[700, 0, 1234], [1, 65535, 650]], np.uint16)
    out = conv.image_to_depth(make_image(mm, "16UC1", pad, big_endian))
    assert out.dtype == np.float32
    assert math.isnan(out[0, 1])
    np.testing.assert_allclose(out[~np.isnan(out)], mm[mm > 0] / 1000.0, rtol=1e-6)


def test_64fc1_and_mono16(depth):
    np.testing.assert_allclose(conv.image_to_depth(make_image(depth.astype(np.float64), "64FC1", 5, True)),
                               depth, rtol=1e-7)
    mm = np.array([[500, 0]], np.uint16)
    out = conv.image_to_depth(make_image(mm, "mono16"))
    assert out[0, 0] == pytest.approx(0.5) and math.isnan(out[0, 1])


@pytest.mark.parametrize("encoding", ["rgb8", "bgr8", "8UC1", "32FC3", ""])
def test_unsupported_encoding_is_named(encoding):
    msg = make_image(np.zeros((2, 2), np.float32), "32FC1")
    msg.encoding = encoding
    with pytest.raises(ValueError, match=f"unsupported depth encoding '{encoding}'"):
        conv.image_to_depth(msg)


def test_size_mismatches_raise(depth):
    msg = make_image(depth, "32FC1")
    msg.width = 8  # rows would need 32 bytes, step is 28
    with pytest.raises(ValueError, match="step 28 is smaller"):
        conv.image_to_depth(msg)
    msg = make_image(depth, "32FC1")
    msg.height = 7
    with pytest.raises(ValueError, match="data has 168 bytes"):
        conv.image_to_depth(msg)
    msg = make_image(depth, "32FC1")
    msg.height = 0
    with pytest.raises(ValueError, match="must be > 0"):
        conv.image_to_depth(msg)


def test_depth_roundtrip_keeps_header_and_values(depth):
    header = Header(frame_id="cam")
    header.stamp.sec, header.stamp.nanosec = 12, 345
    msg = conv.depth_to_image(depth, header)
    assert (msg.encoding, msg.width, msg.height, msg.step) == ("32FC1", 7, 6, 28)
    assert msg.header.frame_id == "cam" and conv.stamp_ns(msg.header) == 12_000_000_345
    np.testing.assert_array_equal(conv.image_to_depth(msg), depth)


def test_rgb_and_mask():
    rgb = np.arange(4 * 5 * 3, dtype=np.uint8).reshape(4, 5, 3)
    msg = conv.rgb_to_image(rgb, Header())
    assert (msg.encoding, msg.step) == ("rgb8", 15)
    assert bytes(msg.data) == rgb.tobytes()
    with pytest.raises(ValueError, match="uint8 RGB"):
        conv.rgb_to_image(rgb.astype(np.float32), Header())
    mask = np.zeros((4, 5), np.uint8)
    mask[1:3, 2:4] = 255
    out = conv.image_to_mask(make_image(mask, "mono8", pad=3), (4, 5))
    np.testing.assert_array_equal(out, mask > 0)
    with pytest.raises(ValueError, match="mask is 5x4 but the depth image is 6x4"):
        conv.image_to_mask(make_image(mask, "mono8"), (4, 6))
    with pytest.raises(ValueError, match="unsupported mask encoding"):
        conv.image_to_mask(make_image(mask.astype(np.float32), "32FC1"))


def test_crops():
    crops = [make_image(np.full((32, 32), 0.6 + i / 100, np.float32), "32FC1") for i in range(3)]
    crops.append(make_image(np.full((32, 32), 700, np.uint16), "16UC1", pad=4))
    out = conv.image_to_crops(crops)
    assert out.shape == (4, 32, 32)
    np.testing.assert_allclose(out[:, 0, 0], [0.6, 0.61, 0.62, 0.7], rtol=1e-6)
    bad = crops[:1] + [make_image(np.zeros((31, 32), np.float32), "32FC1")]
    with pytest.raises(ValueError, match="crop 1 is 32x31"):
        conv.image_to_crops(bad)



def test_float_array_reads_a_float32_field():
    from dexnet_ros.srv import ScoreCrops

    req = ScoreCrops.Request(depths=[0.5, 0.75])
    np.testing.assert_array_equal(conv.float_array(req.depths), np.array([0.5, 0.75], np.float32))
    assert conv.float_array(ScoreCrops.Request().depths).shape == (0,)


def test_camera_info_roundtrip_and_uncalibrated():
    info = conv.intrinsics_to_camera_info(PRIMESENSE, Header(frame_id="cam"))
    assert conv.camera_info_to_intrinsics(info) == PRIMESENSE
    assert info.p[0] == 525.0 and info.p[3] == 0.0
    with pytest.raises(ValueError, match="no valid K"):
        conv.camera_info_to_intrinsics(CameraInfo(width=640, height=480))


def test_grasp_messages_and_markers():
    g = Grasp(center_px=(10.0, 20.0), angle=0.5, depth=0.7, width=0.05, q_value=0.9, gripper="parallel_jaw",
              position=(0.1, -0.2, 0.7), orientation=(0.0, 0.0, 0.2474, 0.9689))
    s = Grasp(center_px=(1.0, 2.0), angle=0.0, depth=0.6, width=0.0, q_value=0.1, gripper="suction",
              position=(0.0, 0.0, 0.6), orientation=(0.0, 0.0, 0.0, 1.0))
    header = Header(frame_id="cam")
    arr = conv.grasps_to_msg([g, s], header)
    assert [m.grasp_type for m in arr.grasps] == [GraspMsg.PARALLEL_JAW, GraspMsg.SUCTION]
    m = arr.grasps[0]
    assert m.header.frame_id == "cam" and m.q_value == pytest.approx(0.9)
    assert list(m.center_px) == [10.0, 20.0] and m.width == pytest.approx(0.05)
    assert (m.pose.position.x, m.pose.position.y, m.pose.position.z) == pytest.approx((0.1, -0.2, 0.7))
    assert m.pose.orientation.z == pytest.approx(0.2474)
    pose = conv.grasp_to_pose_stamped(g, header)
    assert pose.header.frame_id == "cam" and pose.pose.orientation.w == pytest.approx(0.9689)
    markers = grasp_markers([g, s], header).markers
    assert markers[0].action == markers[0].DELETEALL
    assert [mk.type for mk in markers[1:]] == [markers[1].LINE_LIST, markers[2].ARROW]
    ys = sorted({p.y for p in markers[1].points})
    assert ys[0] == pytest.approx(-0.025) and ys[-1] == pytest.approx(0.025)  # jaw opening
    assert markers[1].color.g > markers[1].color.r and markers[2].color.r > markers[2].color.g
    assert quality_color(0.5).r == quality_color(0.5).g == 1.0
    half_seen = Grasp(**{**g.__dict__, "observed_share": 0.625})
    assert conv.grasp_to_msg(half_seen, header).observed_share == pytest.approx(0.625)
    assert m.observed_share == pytest.approx(1.0)


def test_workspace_markers_cast_the_outline_onto_the_plane_and_draw_the_box():
    from dexnet_core.camera import PRIMESENSE
    from dexnet_core.planning.workspace import SupportPlane, Workspace
    from dexnet_ros.markers import workspace_markers

    outline = np.array([[100.0, 100.0], [500.0, 100.0], [500.0, 400.0], [100.0, 400.0]])
    plane = SupportPlane((0.0, 0.0, -1.0), 0.8, (outline,), 5.0, 0.6)  # z = 0.8 m, facing the camera
    box = (-0.1, 0.1, -0.2, 0.2, 0.5, 0.9)
    ws = Workspace(np.ones((480, 640), bool), ("plane", "box"), plane, box)
    markers = workspace_markers(ws, PRIMESENSE, Header(frame_id="cam")).markers
    assert markers[0].action == markers[0].DELETEALL
    patch, wire = markers[1], markers[2]
    assert patch.type == patch.TRIANGLE_LIST and len(patch.points) == 6  # two triangles
    pts = np.array([[p.x, p.y, p.z] for p in patch.points])
    assert np.allclose(pts[:, 2], 0.8)
    np.testing.assert_allclose(PRIMESENSE.project(pts)[:3], outline[[0, 1, 2]], atol=1e-6)
    assert wire.type == wire.LINE_LIST and len(wire.points) == 24  # 12 edges
    assert {round(p.x, 3) for p in wire.points} == {-0.1, 0.1}
    assert {round(p.z, 3) for p in wire.points} == {0.5, 0.9}


@pytest.mark.parametrize("pad", [0, 5])
def test_rgb_and_bgr_images_read_back(pad):
    rgb = np.random.default_rng(1).integers(0, 255, (4, 5, 3), dtype=np.uint8)
    msg = make_image(rgb.reshape(4, 15), "rgb8", pad)
    msg.width = 5
    np.testing.assert_array_equal(conv.image_to_rgb(msg), rgb)
    msg.encoding = "bgr8"
    np.testing.assert_array_equal(conv.image_to_rgb(msg), rgb[..., ::-1])
    msg.encoding = "mono8"
    with pytest.raises(ValueError, match="unsupported colour encoding 'mono8'"):
        conv.image_to_rgb(msg)
