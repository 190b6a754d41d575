"""run_node: a SIGTERM that lands inside a callback still exits 0; a teardown that hangs ends with the
stack dump and status 1 at its deadline (real rclpy in a subprocess)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from dexnet_ros.spin import teardown_timed_out

ROS_DOMAIN_ID = 77
pytestmark = pytest.mark.ros

# a node whose timer callback is still running when the signal arrives, then publishes
SLOW_NODE = """
import sys, time
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from std_msgs.msg import Header
from dexnet_ros.spin import run_node

class Slow(Node):
    def __init__(self):
        super().__init__("slow")
        self.pub = self.create_publisher(Header, "slow", 1)
        self.create_timer(0.05, self.tick)

    def tick(self):
        print("in callback", flush=True)
        time.sleep(1.0)
        self.pub.publish(Header())

sys.exit(run_node(Slow, "slow", SingleThreadedExecutor))
"""


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_during_a_callback_exits_0(sig):
    env = dict(os.environ, ROS_DOMAIN_ID=str(ROS_DOMAIN_ID), PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([sys.executable, "-c", SLOW_NODE], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=env)
    try:
        assert proc.stdout.readline().strip() == "in callback"
        time.sleep(0.2)
        proc.send_signal(sig)
        out, _ = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 0, out
    assert "Traceback" not in out


# a node whose teardown hangs inside a C call that holds the GIL, as a middleware deadlock would
STUCK_NODE = """
import ctypes, sys
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from dexnet_ros import spin

class Stuck(Node):
    def __init__(self):
        super().__init__("stuck")
        self.timer = self.create_timer(0.05, self.up)

    def up(self):
        self.timer.cancel()
        print("up", flush=True)

    def destroy_node(self):
        ctypes.PyDLL(None).sleep(600)  # PyDLL: the GIL stays held

spin.TEARDOWN_TIMEOUT_S = 2.0
sys.exit(spin.run_node(Stuck, "stuck", SingleThreadedExecutor))
"""


def test_a_teardown_that_hangs_ends_at_its_deadline_with_the_stacks():
    env = dict(os.environ, ROS_DOMAIN_ID=str(ROS_DOMAIN_ID), PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([sys.executable, "-c", STUCK_NODE], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=env)
    try:
        assert proc.stdout.readline().strip() == "up"
        start = time.monotonic()
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 1, out
    assert time.monotonic() - start < 30
    assert "in destroy_node" in out and teardown_timed_out(out)


def test_teardown_timed_out_reads_only_a_final_dump():
    dump = "Timeout (0:00:30)!\nThread 0x00007f43 (most recent call first):\n  File \"x.py\", line 2 in f\n"
    assert teardown_timed_out("[INFO] up\n" + dump)
    assert not teardown_timed_out("[INFO] up\n")
    assert not teardown_timed_out(dump + "[INFO] later\n")  # the process went on after it
