"""Launch files and the RViz layout (launch_ros is not installable here: checked statically)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
LAUNCH_FILES = sorted((REPO / "launch").glob("*.launch.py"))


def calls(tree: ast.AST, name: str) -> list[ast.Call]:
    return [n for n in ast.walk(tree) if isinstance(n, ast.Call)
            and getattr(n.func, "id", getattr(n.func, "attr", None)) == name]


def const_args(call: ast.Call) -> dict[str, object]:
    return {k.arg: k.value.value for k in call.keywords if isinstance(k.value, ast.Constant)}


def test_there_are_launch_files():
    assert {p.name for p in LAUNCH_FILES} == {"heatmap.launch.py", "demo.launch.py"}


@pytest.mark.parametrize("path", LAUNCH_FILES, ids=lambda p: p.name)
def test_launch_file_is_consistent(path):
    source = path.read_text()
    compile(source, str(path), "exec")
    tree = ast.parse(source)
    assert any(isinstance(n, ast.FunctionDef) and n.name == "generate_launch_description" for n in tree.body)
    installed = re.search(r"install\(PROGRAMS(.*?)DESTINATION", (REPO / "CMakeLists.txt").read_text(), re.S)
    programs = {Path(p).name for p in installed.group(1).split()}
    for node in calls(tree, "Node"):
        args = const_args(node)
        if args["package"] == "dexnet_ros":
            assert args["executable"] in programs and (REPO / "scripts" / args["executable"]).exists()
    declared = {c.args[0].value for c in calls(tree, "DeclareLaunchArgument")}
    used = {c.args[0].value for c in calls(tree, "LaunchConfiguration")}
    assert used == declared
    for name in re.findall(r'CONFIG / "([^"]+)"', source):
        assert (REPO / "config" / name).exists(), name


def test_rviz_layout_shows_the_node_outputs():
    layout = yaml.safe_load((REPO / "config" / "dexnet.rviz").read_text())
    displays = layout["Visualization Manager"]["Displays"]
    topics = {d["Topic"]["Value"] for d in displays if "Topic" in d}
    assert topics == {"/grasp_heatmap/color", "/grasp_markers", "/grasp_pose"}
    heatmap_node = (REPO / "dexnet_ros" / "heatmap_node.py").read_text()
    assert all(f'"{t}"' in heatmap_node for t in topics)
    assert layout["Visualization Manager"]["Global Options"]["Fixed Frame"] == "camera_depth_optical_frame"
