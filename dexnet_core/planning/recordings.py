"""Recorded depth frames for offline planning: a folder of images, or a ROS 2 bag (read without ROS).

Folder: every ``.npy`` / ``.png`` depth image in it, by name (``read_depth``), except masks: ``<stem>_mask``
beside the frame, or ``<stem>.*`` in a separate masks folder. One intrinsics for the whole folder; every
frame must have its size.

Bag: a rosbag2 directory (SQLite3 or MCAP storage) or a bare ``.mcap`` / ``.db3`` file, read with the
``rosbags`` package (``pip install dexnet-core[bag]``). Depth images (32FC1 / 64FC1 m, 16UC1 / mono16 mm)
on one topic, CameraInfo on another, paired by header stamp (else the latest one before the image);
an optional mono8 / 8UC1 mask topic is paired by stamp exactly (frames without one have no mask).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dexnet_core.camera import CameraIntrinsics
from dexnet_core.errors import MissingExtraError
from dexnet_core.planning.preprocess import depth_to_metres, image_buffer_view

MASK_SUFFIX = "_mask"  # <frame>_mask.png / .npy beside a frame is its mask

DEPTH_SUFFIXES = (".npy", ".png")
#: sensor_msgs/Image encoding -> (element dtype, encoding for depth_to_metres)
BAG_DEPTH_ENCODINGS = {"32FC1": (np.float32, "32FC1"), "64FC1": (np.float64, "64FC1"),
                       "16UC1": (np.uint16, "16UC1"), "mono16": (np.uint16, "16UC1")}
BAG_MASK_ENCODINGS = ("mono8", "8UC1")


@dataclass(frozen=True)
class RecordedFrame:
    """One frame to plan on: depth (H, W) float32 m (NaN = missing), its intrinsics, optional mask."""

    name: str  # file stem, or "<topic stamp in ns>" for bags
    depth: np.ndarray
    intrinsics: CameraIntrinsics
    mask: np.ndarray | None = None  # (H, W) bool


def depth_files(folder: Path) -> list[Path]:
    """The depth images of a folder, by name (masks excluded); ValueError when there are none."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: no such folder")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in DEPTH_SUFFIXES
                   and not p.stem.endswith(MASK_SUFFIX))
    if not files:
        raise ValueError(f"{folder}: no depth images (.npy / .png) in it")
    return files


def folder_first_shape(folder: Path) -> tuple[int, int]:
    """(H, W) of the first depth image of a folder."""
    from dexnet_core.planning.command import read_depth

    return read_depth(depth_files(folder)[0]).shape


def folder_frames(folder: Path, intrinsics: CameraIntrinsics, masks: Path | None = None
                  ) -> Iterator[RecordedFrame]:
    """Frames of a folder, by file name (see the module docstring). ValueError names a file whose size
    differs from the intrinsics', or a folder without depth images."""
    from dexnet_core.planning.command import read_depth, read_mask

    size = (intrinsics.height, intrinsics.width)
    for path in depth_files(folder):
        depth = read_depth(path)
        if depth.shape != size:
            raise ValueError(f"{path}: frame is {depth.shape[1]}x{depth.shape[0]} but the intrinsics (and "
                             f"the other frames) are {size[1]}x{size[0]}")
        mask_path = _mask_file(path, masks)
        mask = read_mask(mask_path, size) if mask_path is not None else None
        yield RecordedFrame(path.stem, depth, intrinsics, mask)


def _mask_file(path: Path, masks: Path | None) -> Path | None:
    candidates = [masks / (path.stem + s) for s in DEPTH_SUFFIXES] if masks is not None else \
        [path.with_name(path.stem + MASK_SUFFIX + s) for s in DEPTH_SUFFIXES]
    return next((c for c in candidates if c.is_file()), None)


def bag_frames(bag: Path, depth_topic: str, info_topic: str, mask_topic: str | None = None
               ) -> Iterator[RecordedFrame]:
    """Frames of a ROS 2 bag (see the module docstring). ValueError (one line, naming the bag or topic) for
    an unreadable, truncated or unknown bag, a missing topic, a topic of the wrong type, or a depth image
    with no CameraInfo before it."""
    try:
        from rosbags.highlevel import AnyReader, AnyReaderError
        from rosbags.rosbag2 import ReaderError
        from rosbags.serde import SerdeError
        from rosbags.typesys import Stores, get_typestore
    except ImportError as exc:
        raise MissingExtraError("reading bags needs rosbags: pip install dexnet-core[bag]") from exc

    bag = Path(bag)
    if not bag.exists():
        raise FileNotFoundError(f"{bag}: no such bag")
    try:
        with AnyReader([bag], default_typestore=get_typestore(Stores.ROS2_HUMBLE)) as reader:
            wanted = {"depth": (depth_topic, "sensor_msgs/msg/Image"),
                      "info": (info_topic, "sensor_msgs/msg/CameraInfo")}
            if mask_topic:
                wanted["mask"] = (mask_topic, "sensor_msgs/msg/Image")
            conns = {}
            for role, (topic, msgtype) in wanted.items():
                found = [c for c in reader.connections if c.topic == topic]
                if not found:
                    have = sorted({c.topic for c in reader.connections})
                    raise ValueError(f"{bag}: no topic {topic!r} in the bag "
                                     f"(it has {', '.join(have) or 'none'})")
                if found[0].msgtype != msgtype:
                    raise ValueError(f"{bag}: topic {topic!r} holds {found[0].msgtype}, expected {msgtype}")
                conns[role] = found
            infos, masks = _stamped(reader, conns["info"]), {}
            if mask_topic:
                masks = {stamp: msg for stamp, msg in _stamped(reader, conns["mask"]).items()}
            for conn, _, raw in reader.messages(connections=conns["depth"]):
                msg = reader.deserialize(raw, conn.msgtype)
                stamp = _stamp_ns(msg)
                yield _bag_frame(bag, depth_topic, info_topic, msg, stamp, infos, masks.get(stamp))
    except (AnyReaderError, ReaderError, SerdeError, KeyError, EOFError, OSError) as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        raise ValueError(f"{bag}: cannot read the bag ({type(exc).__name__}: "
                         f"{str(exc).splitlines()[0] if str(exc) else 'truncated or unknown format'})"
                         ) from None


def _stamped(reader, conns) -> dict[int, object]:
    """Header stamp (ns) -> deserialized message, for every message of ``conns``."""
    out = {}
    for conn, _, raw in reader.messages(connections=conns):
        msg = reader.deserialize(raw, conn.msgtype)
        out[_stamp_ns(msg)] = msg
    return out


def _stamp_ns(msg) -> int:
    return int(msg.header.stamp.sec) * 1_000_000_000 + int(msg.header.stamp.nanosec)


def _bag_frame(bag: Path, depth_topic: str, info_topic: str, msg, stamp: int, infos: dict, mask_msg
               ) -> RecordedFrame:
    where = f"{bag}: {depth_topic} at {stamp} ns"
    info = infos.get(stamp)
    if info is None:
        earlier = [s for s in infos if s <= stamp]
        if not earlier:
            raise ValueError(f"{where}: no {info_topic} message at or before it")
        info = infos[max(earlier)]
    if msg.encoding not in BAG_DEPTH_ENCODINGS:
        raise ValueError(f"{where}: unsupported depth encoding {msg.encoding!r} "
                         f"(expected one of {', '.join(BAG_DEPTH_ENCODINGS)})")
    dtype, encoding = BAG_DEPTH_ENCODINGS[msg.encoding]
    try:
        raw = image_buffer_view(msg.data, msg.height, msg.width, msg.step, bool(msg.is_bigendian), dtype,
                                msg.encoding)
        depth = depth_to_metres(raw.astype(raw.dtype.newbyteorder("=")), encoding)
        intrinsics = CameraIntrinsics.from_k(np.asarray(info.k, dtype=np.float64), info.width, info.height)
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from None
    if (intrinsics.height, intrinsics.width) != depth.shape:
        raise ValueError(f"{where}: image is {depth.shape[1]}x{depth.shape[0]} but {info_topic} says "
                         f"{intrinsics.width}x{intrinsics.height}")
    mask = None
    if mask_msg is not None:
        if mask_msg.encoding not in BAG_MASK_ENCODINGS or (mask_msg.height, mask_msg.width) != depth.shape:
            raise ValueError(f"{where}: mask must be mono8 / 8UC1 of the image's size, got "
                             f"{mask_msg.encoding} {mask_msg.width}x{mask_msg.height}")
        mask = image_buffer_view(mask_msg.data, mask_msg.height, mask_msg.width, mask_msg.step, False,
                                 np.uint8, mask_msg.encoding) != 0
    return RecordedFrame(str(stamp), depth, intrinsics, mask)
