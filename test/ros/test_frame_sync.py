"""Newest-frame slot: stale frames are replaced, camera_info and mask are paired by stamp."""

from __future__ import annotations

import threading
import time

from sensor_msgs.msg import CameraInfo, Image

from dexnet_ros.frame_sync import FrameSync


def stamped(cls, sec: int, **kw):
    msg = cls(**kw)
    msg.header.stamp.sec = sec
    return msg


def test_newest_depth_wins_and_stale_ones_are_counted():
    sync = FrameSync()
    sync.add_info(stamped(CameraInfo, 1))
    for sec in (1, 2, 3):
        sync.add_depth(stamped(Image, sec))
    frame = sync.wait(0.1)
    assert frame.depth.header.stamp.sec == 3 and sync.dropped == 2
    assert sync.wait(0.05) is None  # taken: nothing queued behind it


def test_camera_info_by_stamp_else_newest():
    sync = FrameSync()
    for sec in (1, 2, 3):
        sync.add_info(stamped(CameraInfo, sec, width=sec))
    sync.add_depth(stamped(Image, 2))
    assert sync.wait(0.1).info.width == 2
    sync.add_depth(stamped(Image, 9))
    assert sync.wait(0.1).info.width == 3


def test_frame_without_camera_info_is_delivered_with_none():
    sync = FrameSync(sync_timeout_s=0.1)
    sync.add_depth(stamped(Image, 1))
    t0 = time.monotonic()
    frame = sync.wait(1.0)
    assert frame.info is None and 0.08 < time.monotonic() - t0 < 0.6  # after sync_timeout_s


def test_first_depth_waits_for_a_camera_info_published_just_after_it():
    sync = FrameSync(sync_timeout_s=0.5)
    sync.add_depth(stamped(Image, 1))
    threading.Timer(0.1, sync.add_info, [stamped(CameraInfo, 1, width=7)]).start()
    frame = sync.wait(1.0)
    assert frame.info is not None and frame.info.width == 7


def test_mask_pairing_and_timeout():
    sync = FrameSync(use_mask=True, sync_timeout_s=0.2)
    sync.add_info(stamped(CameraInfo, 5))
    sync.add_depth(stamped(Image, 5))
    assert sync.wait(0.05) is None  # waits for its mask
    sync.add_mask(stamped(Image, 4, width=4))
    assert sync.wait(0.05) is None  # a mask of another stamp does not count
    sync.add_mask(stamped(Image, 5, width=5))
    frame = sync.wait(0.1)
    assert frame.mask.width == 5 and not frame.mask_missing
    sync.add_depth(stamped(Image, 6))
    t0 = time.monotonic()
    frame = sync.wait(1.0)
    assert frame.mask is None and frame.mask_missing
    assert 0.15 < time.monotonic() - t0 < 0.6


def test_wait_wakes_on_new_depth_and_on_close():
    sync = FrameSync()
    sync.add_info(stamped(CameraInfo, 1))
    got = []
    t = threading.Thread(target=lambda: got.append(sync.wait(2.0)))
    t.start()
    time.sleep(0.05)
    sync.add_depth(stamped(Image, 1))
    t.join(1.0)
    assert got and got[0].depth.header.stamp.sec == 1
    t = threading.Thread(target=lambda: got.append(sync.wait(5.0)))
    t.start()
    t0 = time.monotonic()
    sync.close()
    t.join(1.0)
    assert not t.is_alive() and got[-1] is None and time.monotonic() - t0 < 0.5
