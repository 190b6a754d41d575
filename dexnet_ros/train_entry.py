"""`ros2 run dexnet_ros train --config FILE [...]`: the `dexnet train` command under ROS 2.

Arguments are those of `dexnet train` (see dexnet_core.train.command); ``--ros-args ...`` added by ros2
launch is dropped. Exit status and error lines are the same as `dexnet train`.
"""

from __future__ import annotations

import sys

from rclpy.utilities import remove_ros_args

from dexnet_core import cli


def main(argv: list[str] | None = None) -> int:
    """Run `dexnet train` with ``argv`` (default: the command line without ROS arguments)."""
    args = remove_ros_args(sys.argv if argv is None else ["train", *argv])[1:]
    return cli.main(["train", *args])
