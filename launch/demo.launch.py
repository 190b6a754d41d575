"""Launch the demo: rendered tray scenes (demo_source) -> heatmap_node, optionally with RViz.

    ros2 launch dexnet_ros demo.launch.py gripper:=suction rviz:=true

The headless equivalent without a ROS 2 install is `make demo` (python -m dexnet_ros.demo).
"""

from pathlib import Path

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

CONFIG = Path(get_package_share_directory("dexnet_ros")) / "config"


def generate_launch_description() -> LaunchDescription:
    args = [
        DeclareLaunchArgument("model", default_value="",
                              description="checkpoint path or shipped model name (empty: the default "
                                          "for gripper)"),
        DeclareLaunchArgument("gripper", default_value="parallel_jaw", description="parallel_jaw | suction"),
        DeclareLaunchArgument("device", default_value="auto", description="auto | cpu | cuda"),
        DeclareLaunchArgument("rviz", default_value="false", description="also start RViz"),
    ]
    source = Node(
        package="dexnet_ros",
        executable="demo_source",
        name="demo_source",
        output="screen",
        parameters=[str(CONFIG / "demo_source.yaml")],
    )
    heatmap = Node(
        package="dexnet_ros",
        executable="heatmap_node",
        name="heatmap_node",
        output="screen",
        parameters=[str(CONFIG / "heatmap.yaml"), {
            "model": LaunchConfiguration("model"),
            "gripper": LaunchConfiguration("gripper"),
            "device": LaunchConfiguration("device"),
            "use_mask": True,  # grasp centres on the objects demo_source segments
        }],
    )
    rviz = Node(
        package="rviz2",
        executable="rviz2",
        name="rviz2",
        arguments=["-d", str(CONFIG / "dexnet.rviz")],
        condition=IfCondition(LaunchConfiguration("rviz")),
    )
    return LaunchDescription([*args, source, heatmap, rviz])
