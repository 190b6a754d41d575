"""Demo depth source over DDS: frame format, camera_info pairing, per-frame noise, new scenes, SIGTERM."""

from __future__ import annotations

import signal

import numpy as np
import pytest

from dexnet_core.camera import PRIMESENSE
from dexnet_ros import conversions as conv

ROS_DOMAIN_ID = 60
pytestmark = pytest.mark.ros


@pytest.fixture(scope="module")
def source(start_demo_source):
    return start_demo_source({"frames_per_scene": 3, "seed": 1, "frame_id": "demo_frame"})


def test_frames_and_camera_info(source, ros):
    ros.wait_for("depth", lambda m: len(ros.received["depth"]) >= 9, timeout=30)  # the 8th one's info is in
    frames = ros.received["depth"][:8]
    infos = {(i.header.stamp.sec, i.header.stamp.nanosec): i for i in ros.received["camera_info"]}
    stamps = [(f.header.stamp.sec, f.header.stamp.nanosec) for f in frames]
    assert sum(key in infos for key in stamps) >= 6  # best-effort QoS may drop one
    intr = PRIMESENSE.scaled(0.25)
    depths = []
    for msg, key in zip(frames, stamps):
        assert (msg.encoding, msg.width, msg.height, msg.header.frame_id) == ("32FC1", 160, 120, "demo_frame")
        if key in infos:
            info = infos[key]
            assert conv.camera_info_to_intrinsics(info) == intr and info.header.frame_id == "demo_frame"
        d = conv.image_to_depth(msg).copy()
        assert np.isfinite(d).mean() > 0.99
        assert 0.4 < np.nanmin(d) < 0.69 and abs(np.nanmedian(d) - 0.7) < 0.01  # objects on a 0.7 m table
        depths.append(d)
    masks = {(m.header.stamp.sec, m.header.stamp.nanosec): m for m in ros.received["mask"]}
    paired = [(masks[key], d) for key, d in zip(stamps, depths) if key in masks]
    assert len(paired) >= 5  # best-effort QoS may drop one
    for m, d in paired:
        assert (m.encoding, m.width, m.height, m.header.frame_id) == ("mono8", 160, 120, "demo_frame")
        on = conv.image_to_mask(m, d.shape)
        assert 0.005 < on.mean() < 0.5  # some objects, not the whole tray
        assert np.nanmedian(d[on]) < 0.69 and np.nanmedian(d[~on]) > 0.69  # objects stand on the table
    diffs = [np.nanmedian(np.abs(a - b)) for a, b in zip(depths, depths[1:])]
    # same scene: fresh sensor noise only (mm); a new scene every 3 frames moves objects (cm)
    big = [np.nanmax(np.abs(a - b)) > 0.02 for a, b in zip(depths, depths[1:])]
    assert all(0 < d < 0.01 for d in diffs), diffs
    runs = [len(r) for r in "".join("|" if b else "." for b in big).split("|")]  # frames per scene - 1
    assert sum(big) >= 2 and max(runs) <= 2, big


def test_new_scene_log_sigusr1_stacks_and_sigterm_exit_0(source):
    source.wait_log("new scene: objects", timeout=5)
    start = len(source.log())
    source.proc.send_signal(signal.SIGUSR1)  # every thread's stack on stderr; the node keeps running
    log = source.wait_log("most recent call first", timeout=5, start=start)
    assert "spin" in log[start:] and source.proc.poll() is None
    assert source.stop(signal.SIGTERM) == 0, source.log()[-4000:]  # a crash leaves its stacks there
    assert "Traceback" not in source.log()
