"""run_node: a SIGTERM that lands inside a callback still exits 0 (real rclpy in a subprocess)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

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
