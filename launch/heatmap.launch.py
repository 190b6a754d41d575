"""Launch the grasp heatmap node on a depth camera.

    ros2 launch dexnet_ros heatmap.launch.py depth:=/camera/depth/image_rect_raw \
        camera_info:=/camera/depth/camera_info gripper:=suction

Parameters come from config/heatmap.yaml (or params_file:=...); model, gripper and device override it.
"""

from pathlib import Path

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

CONFIG = Path(get_package_share_directory("dexnet_ros")) / "config"


def generate_launch_description() -> LaunchDescription:
    args = [
        DeclareLaunchArgument("params_file", default_value=str(CONFIG / "heatmap.yaml"),
                              description="node parameters (YAML)"),
        DeclareLaunchArgument("model", default_value="",
                              description="checkpoint path or shipped model name (empty: the default "
                                          "for gripper)"),
        DeclareLaunchArgument("gripper", default_value="parallel_jaw", description="parallel_jaw | suction"),
        DeclareLaunchArgument("device", default_value="auto", description="auto | cpu | cuda"),
        DeclareLaunchArgument("depth", default_value="depth", description="depth image topic"),
        DeclareLaunchArgument("camera_info", default_value="camera_info", description="camera info topic"),
        DeclareLaunchArgument("mask", default_value="mask", description="mask topic (with use_mask)"),
        DeclareLaunchArgument("namespace", default_value="", description="node namespace"),
    ]
    node = Node(
        package="dexnet_ros",
        executable="heatmap_node",
        name="heatmap_node",
        namespace=LaunchConfiguration("namespace"),
        output="screen",
        parameters=[LaunchConfiguration("params_file"), {
            "model": LaunchConfiguration("model"),
            "gripper": LaunchConfiguration("gripper"),
            "device": LaunchConfiguration("device"),
        }],
        remappings=[
            ("depth", LaunchConfiguration("depth")),
            ("camera_info", LaunchConfiguration("camera_info")),
            ("mask", LaunchConfiguration("mask")),
        ],
    )
    return LaunchDescription([*args, node])
