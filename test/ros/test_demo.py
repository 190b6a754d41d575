"""`python -m dexnet_ros.demo`: both installed nodes, a grasp table, the overlay PNG, clean exit codes."""

from __future__ import annotations

import os
import struct
import subprocess
import sys

import pytest

from dexnet_core.models.pretrained import list_pretrained

ROS_DOMAIN_ID = 59
pytestmark = pytest.mark.ros


def run_demo(tmp_path, *args):
    env = dict(os.environ, ROS_DOMAIN_ID=str(ROS_DOMAIN_ID), OMP_NUM_THREADS="1")
    return subprocess.run([sys.executable, "-m", "dexnet_ros.demo", "--out", str(tmp_path / "demo"), *args],
                          capture_output=True, text=True, timeout=240, env=env)


def with_logs(tmp_path, res) -> str:
    """The demo's stderr and both node logs (a node that crashed leaves its threads' stacks there)."""
    logs = [f"--- {name}.log\n" + (tmp_path / "demo" / f"{name}.log").read_text(errors="replace")
            for name in ("demo_source", "heatmap_node") if (tmp_path / "demo" / f"{name}.log").exists()]
    return "\n".join([res.stderr, *logs])


def test_demo_prints_grasps_and_writes_the_overlay(tmp_path, tiny_checkpoints):
    res = run_demo(tmp_path, "--gripper", "suction", "--model", str(tiny_checkpoints["suction"]),
                   "--image-scale", "0.5", "--device", "cpu", "--timeout", "120")
    assert res.returncode == 0, with_logs(tmp_path, res)
    lines = res.stdout.splitlines()
    rows = [line for line in lines if line.split() and line.split()[0].isdigit()]
    assert len(rows) == 5 and all(" suction " in r for r in rows)
    assert lines[-1] == f"overlay: {tmp_path / 'demo' / 'overlay.png'}"
    png = (tmp_path / "demo" / "overlay.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and struct.unpack(">II", png[16:24]) == (320, 240)
    for name in ("demo_source", "heatmap_node"):
        assert "Traceback" not in (tmp_path / "demo" / f"{name}.log").read_text()


def test_demo_default_model(tmp_path):
    """Without --model the node loads the shipped default for the gripper (or says it is not shipped)."""
    res = run_demo(tmp_path, "--gripper", "suction", "--image-scale", "0.5", "--device", "cpu",
                   "--timeout", "120")
    if "dexnet3_suction_small" in list_pretrained():
        assert res.returncode == 0, with_logs(tmp_path, res)
        assert "overlay: " in res.stdout
    else:
        assert res.returncode == 1
        assert "heatmap_node exited with status 1" in res.stderr
        assert "unknown model 'dexnet3_suction_small'" in res.stderr


def test_demo_with_an_unknown_model_fails_in_one_line(tmp_path):
    res = run_demo(tmp_path, "--model", "no_such_model", "--timeout", "60")
    assert res.returncode == 1
    assert res.stderr.strip().splitlines() == [
        "demo: heatmap_node exited with status 1: " + next(
            line for line in (tmp_path / "demo" / "heatmap_node.log").read_text().splitlines()
            if "unknown model 'no_such_model'" in line)]
