"""ROS message <-> numpy conversions: the only place a message becomes an array, and back.

Images are read with ``np.frombuffer`` over ``msg.data`` (a zero-copy view whenever the encoding and
layout allow it) and written with ``ndarray.tobytes()`` (assigning an ndarray to ``msg.data`` converts it
element by element, ~125 ms for a 640x480 frame).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import numpy as np
from geometry_msgs.msg import Point, Pose, PoseStamped, Quaternion
from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import Header

from dexnet_core.camera import CameraIntrinsics
from dexnet_core.planning.grasp import Grasp
from dexnet_core.planning.preprocess import image_buffer_view
from dexnet_ros.msg import Grasp as GraspMsg
from dexnet_ros.msg import GraspArray

# encoding -> (element dtype, metres per unit); 16-bit depth is millimetres with 0 = missing (REP-118).
DEPTH_ENCODINGS: dict[str, tuple[type, float]] = {
    "32FC1": (np.float32, 1.0),
    "64FC1": (np.float64, 1.0),
    "16UC1": (np.uint16, 0.001),
    "mono16": (np.uint16, 0.001),
}
MASK_ENCODINGS: dict[str, type] = {"mono8": np.uint8, "8UC1": np.uint8}
CROP_SIZE = 32  # pixels, the GQ-CNN input
MAX_DEPTH_M = 20.0  # farthest depth a crop pixel or gripper depth may be (the workspace limit's range)


def image_view(msg: Image, dtype: type, what: str = "image") -> np.ndarray:
    """View ``msg.data`` as an (height, width) array of ``dtype`` honouring ``step`` and ``is_bigendian``.

    No copy is made: the result aliases the message buffer. Raises ValueError, naming the image ``what``
    ("depth image", "mask", ...), when the declared size, step and buffer length disagree.
    """
    return image_buffer_view(msg.data, msg.height, msg.width, msg.step, bool(msg.is_bigendian), dtype,
                             msg.encoding, what)


def image_to_depth(msg: Image, what: str = "depth image") -> np.ndarray:
    """Depth image message -> (H, W) float32 metres; NaN marks missing pixels (0 mm in 16-bit images).

    Accepts 32FC1 / 64FC1 (metres) and 16UC1 / mono16 (millimetres). A native-endian, unpadded 32FC1
    image is returned as a view of the message buffer, without a copy. Raises ValueError (naming ``what``)
    otherwise.
    """
    if msg.encoding not in DEPTH_ENCODINGS:
        raise ValueError(f"{what}: unsupported depth encoding '{msg.encoding}' (expected one of "
                         f"{', '.join(DEPTH_ENCODINGS)})")
    dtype, scale = DEPTH_ENCODINGS[msg.encoding]
    raw = image_view(msg, dtype, what)
    if raw.dtype == np.float32 and raw.flags.c_contiguous and raw.dtype.isnative:
        return raw
    depth = raw.astype(np.float32)
    if scale != 1.0:
        depth[raw == 0] = np.nan
        depth *= np.float32(scale)
    return depth


def image_to_mask(msg: Image, shape: tuple[int, int] | None = None) -> np.ndarray:
    """mono8 / 8UC1 mask message -> (H, W) bool (non-zero = allowed); checks the size against ``shape``."""
    if msg.encoding not in MASK_ENCODINGS:
        raise ValueError(f"unsupported mask encoding '{msg.encoding}' (expected mono8 or 8UC1)")
    mask = image_view(msg, MASK_ENCODINGS[msg.encoding], "mask") != 0
    if shape is not None and mask.shape != tuple(shape):
        raise ValueError(f"mask is {mask.shape[1]}x{mask.shape[0]} but the depth image is "
                         f"{shape[1]}x{shape[0]}")
    return mask


def image_to_rgb(msg: Image) -> np.ndarray:
    """rgb8 / bgr8 message -> (H, W, 3) uint8 RGB (a view for rgb8 without row padding)."""
    if msg.encoding not in ("rgb8", "bgr8"):
        raise ValueError(f"unsupported colour encoding '{msg.encoding}' (expected rgb8 or bgr8)")
    rows = image_view(msg, np.dtype((np.uint8, 3)), "colour image")
    return rows[..., ::-1] if msg.encoding == "bgr8" else rows


def check_depths(values: np.ndarray, what: str) -> None:
    """Raise ValueError unless every value is a depth in (0, MAX_DEPTH_M] m, naming ``what`` and a bad one.

    Missing pixels (NaN, 0 in 16-bit images) are refused too: the network scores what it is given, so a
    crop must be complete (the planner fills holes before it crops; a client must do the same).
    """
    with np.errstate(invalid="ignore"):
        bad = ~(np.isfinite(values) & (values > 0) & (values <= MAX_DEPTH_M))
    if bad.any():
        raise ValueError(f"{what}: {int(bad.sum())} of {values.size} values are not depths in "
                         f"(0, {MAX_DEPTH_M:g}] m (first: {values[bad].flat[0]:g}); missing pixels are not "
                         "filled")


def image_to_crops(msgs: Sequence[Image]) -> np.ndarray:
    """32x32 depth crop messages -> (N, 32, 32) float32 metres; raises ValueError naming a bad crop
    (wrong size or encoding, or a value that is not a depth: see check_depths)."""
    crops = np.zeros((len(msgs), CROP_SIZE, CROP_SIZE), dtype=np.float32)
    for i, msg in enumerate(msgs):
        if (msg.width, msg.height) != (CROP_SIZE, CROP_SIZE):
            raise ValueError(f"crop {i} is {msg.width}x{msg.height}; crops must be {CROP_SIZE}x{CROP_SIZE}")
        crops[i] = image_to_depth(msg, f"crop {i}")
        check_depths(crops[i], f"crop {i}")
    return crops


def float_array(values: Sequence[float]) -> np.ndarray:
    """A float32[] message field (array.array) -> (N,) float32 array without copying."""
    return np.frombuffer(values, dtype=np.float32) if len(values) else np.zeros(0, np.float32)


def _header_copy(header: Header, frame_id: str | None = None) -> Header:
    return Header(stamp=header.stamp, frame_id=header.frame_id if frame_id is None else frame_id)


def array_to_image(arr: np.ndarray, encoding: str, header: Header) -> Image:
    """(H, W) or (H, W, C) array -> Image with ``encoding``; one ``tobytes`` copy, native byte order."""
    arr = np.ascontiguousarray(arr)
    msg = Image(header=_header_copy(header), height=int(arr.shape[0]), width=int(arr.shape[1]),
                encoding=encoding, is_bigendian=int(arr.dtype.byteorder == ">" or
                                                    (arr.dtype.byteorder == "=" and sys.byteorder == "big")),
                step=int(arr.strides[0]))
    msg.data = arr.tobytes()
    return msg


def depth_to_image(depth_m: np.ndarray, header: Header) -> Image:
    """(H, W) float metres (or a heatmap of confidences) -> 32FC1 Image."""
    return array_to_image(np.asarray(depth_m, dtype=np.float32), "32FC1", header)


def rgb_to_image(rgb: np.ndarray, header: Header) -> Image:
    """(H, W, 3) uint8 RGB -> rgb8 Image."""
    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f"expected an (H, W, 3) uint8 RGB array, got {rgb.shape} {rgb.dtype}")
    return array_to_image(rgb, "rgb8", header)


def camera_info_to_intrinsics(msg: CameraInfo) -> CameraIntrinsics:
    """CameraInfo -> CameraIntrinsics (from K, width, height); ValueError if uncalibrated or sizeless."""
    k = np.asarray(msg.k, dtype=np.float64)
    if k.shape != (9,) or not (k[0] > 0 and k[4] > 0):
        raise ValueError(f"camera_info has no valid K (fx={k[0] if k.size else 'n/a'}); is the camera "
                         "calibrated?")
    return CameraIntrinsics.from_k(k, int(msg.width), int(msg.height))


def intrinsics_to_camera_info(intr: CameraIntrinsics, header: Header) -> CameraInfo:
    """CameraIntrinsics -> CameraInfo (pinhole, no distortion, P = [K | 0])."""
    k = intr.k
    p = np.zeros((3, 4))
    p[:, :3] = k
    return CameraInfo(header=_header_copy(header), width=intr.width, height=intr.height,
                      distortion_model="plumb_bob", d=[0.0] * 5, k=k.ravel().tolist(),
                      r=np.eye(3).ravel().tolist(), p=p.ravel().tolist())


def grasp_pose(grasp: Grasp) -> Pose:
    """Grasp -> geometry_msgs/Pose in the optical frame (z = approach, y = jaw axis)."""
    x, y, z = grasp.position
    qx, qy, qz, qw = grasp.orientation
    return Pose(position=Point(x=float(x), y=float(y), z=float(z)),
                orientation=Quaternion(x=float(qx), y=float(qy), z=float(qz), w=float(qw)))


def grasp_to_msg(grasp: Grasp, header: Header) -> GraspMsg:
    """Grasp dataclass -> dexnet_ros/Grasp message with ``header``."""
    return GraspMsg(
        header=_header_copy(header), pose=grasp_pose(grasp), q_value=float(grasp.q_value),
        grasp_type=GraspMsg.SUCTION if grasp.gripper == "suction" else GraspMsg.PARALLEL_JAW,
        center_px=[float(grasp.center_px[0]), float(grasp.center_px[1])], angle=float(grasp.angle),
        depth=float(grasp.depth), width=float(grasp.width), observed_share=float(grasp.observed_share))


def grasps_to_msg(grasps: Sequence[Grasp], header: Header) -> GraspArray:
    """Grasps (best first) -> dexnet_ros/GraspArray."""
    return GraspArray(header=_header_copy(header), grasps=[grasp_to_msg(g, header) for g in grasps])


def grasp_to_pose_stamped(grasp: Grasp, header: Header) -> PoseStamped:
    """Grasp -> PoseStamped in the image's optical frame."""
    return PoseStamped(header=_header_copy(header), pose=grasp_pose(grasp))


def stamp_ns(header: Header) -> int:
    """Header stamp as integer nanoseconds (the key used to pair depth, camera_info and mask)."""
    return int(header.stamp.sec) * 1_000_000_000 + int(header.stamp.nanosec)
