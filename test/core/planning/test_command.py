"""The `dexnet plan` command on real files."""

import json

import numpy as np
import pytest

from dexnet_core.cli import main
from dexnet_core.models.checkpoint import save_checkpoint
from dexnet_core.planning.overlay import save_png


@pytest.fixture
def checkpoint(tmp_path, tiny_gqm):
    return save_checkpoint(tmp_path / "tiny_pj.pt", tiny_gqm("parallel_jaw"))


def test_plan_npy_writes_json_and_png(tmp_path, checkpoint, box_scene):
    cv2 = pytest.importorskip("cv2")
    np.save(tmp_path / "scene.npy", box_scene(holes=0.1))
    out = tmp_path / "out"
    rc = main(["plan", str(tmp_path / "scene.npy"), "--intrinsics", "200,200,79.5,59.5", "--model",
               str(checkpoint), "--out", str(out), "--top-k", "3", "--num-angles", "4", "--device", "cpu"])
    assert rc == 0
    report = json.loads((out / "scene_grasps.json").read_text())
    assert report["gripper"] == "parallel_jaw" and len(report["grasps"]) == 3
    q = [g["q_value"] for g in report["grasps"]]
    assert q == sorted(q, reverse=True)
    assert set(report["grasps"][0]) >= {"center_px", "angle", "depth", "position", "orientation", "width"}
    assert report["timings_s"]["total"] > 0
    png = cv2.imread(str(out / "scene_overlay.png"), cv2.IMREAD_UNCHANGED)
    assert png.shape == (120, 160, 3)


def test_plan_png_with_camera_info_and_mask(tmp_path, checkpoint, box_scene):
    pytest.importorskip("cv2")
    depth = box_scene()
    save_png(tmp_path / "scene.png", np.nan_to_num(depth * 1000).round().astype(np.uint16))
    mask = np.zeros(depth.shape, np.uint8)
    mask[40:80, 60:100] = 255
    save_png(tmp_path / "mask.png", mask)
    (tmp_path / "cam.yaml").write_text(
        "image_width: 160\nimage_height: 120\ncamera_matrix:\n  rows: 3\n  cols: 3\n"
        "  data: [200.0, 0.0, 79.5, 0.0, 200.0, 59.5, 0.0, 0.0, 1.0]\n")
    rc = main(["plan", str(tmp_path / "scene.png"), "--camera-info", str(tmp_path / "cam.yaml"),
               "--model", str(checkpoint), "--mask", str(tmp_path / "mask.png"), "--out", str(tmp_path),
               "--num-angles", "2", "--stride", "2", "--no-clearance"])
    assert rc == 0
    grasps = json.loads((tmp_path / "scene_grasps.json").read_text())["grasps"]
    for g in grasps:  # the mask leaves only the box top
        u, v = g["center_px"]
        assert 60 <= round(u) < 100 and 40 <= round(v) < 80
        assert g["position"][2] == pytest.approx(0.65 + 0.0325, abs=0.003)


@pytest.mark.parametrize("name, content, intrinsics", [
    ("bad.npy", b"definitely not numpy", "200,200,79.5,59.5"),
    ("missing.npy", None, "200,200,79.5,59.5"),
    ("bad.txt", b"0.7", "200,200,79.5,59.5"),
    ("good.npy", "valid", "200,200"),
])
def test_plan_bad_input_is_a_one_line_error(tmp_path, checkpoint, capsys, name, content, intrinsics):
    path = tmp_path / name
    if content == "valid":
        np.save(path, np.full((120, 160), 0.7, np.float32))
    elif content is not None:
        path.write_bytes(content)
    rc = main(["plan", str(path), "--model", str(checkpoint), "--out", str(tmp_path),
               "--intrinsics", intrinsics])
    err = capsys.readouterr().err.strip()
    assert rc == 1
    assert err.startswith("dexnet plan: error:") and "\n" not in err
    assert not list(tmp_path.glob("*_grasps.json"))


def test_plan_bad_symmetry_count_is_a_one_line_error(tmp_path, checkpoint, capsys):
    np.save(tmp_path / "scene.npy", np.full((120, 160), 0.7, np.float32))
    rc = main(["plan", str(tmp_path / "scene.npy"), "--model", str(checkpoint), "--out", str(tmp_path),
               "--intrinsics", "200,200,79.5,59.5", "--suction-symmetries", "3"])
    err = capsys.readouterr().err.strip()
    assert rc == 1 and "suction_symmetries must be one of (1, 2, 4, 8), got 3" in err and "\n" not in err
    rc = main(["plan", str(tmp_path / "scene.npy"), "--model", str(checkpoint), "--out", str(tmp_path),
               "--intrinsics", "200,200,79.5,59.5", "--jaw-symmetries", "8"])
    err = capsys.readouterr().err.strip()
    assert rc == 1 and "jaw_symmetries must be one of (1, 2, 4), got 8" in err and "\n" not in err


def plan_error(capsys, tmp_path, *args):
    """Exit status and stderr of `dexnet plan` on a flat 160x120 scene with ``args``."""
    if not (tmp_path / "scene.npy").exists():
        np.save(tmp_path / "scene.npy", np.full((120, 160), 0.7, np.float32))
    rc = main(["plan", str(tmp_path / "scene.npy"), "--out", str(tmp_path), "--device", "cpu", *args])
    return rc, capsys.readouterr().err.strip()


@pytest.mark.parametrize("content, text", [
    (b"0.7 0.7\n0.7 0.7\n", "not a .npy file (no NumPy header; save arrays with numpy.save)"),
    ("objects", ".npy file holds Python objects; expected a numeric array"),
    ("truncated", ".npy file is truncated; expected a numeric array"),
], ids=["text", "objects", "truncated"])
def test_a_bad_npy_file_says_what_is_wrong(tmp_path, checkpoint, capsys, content, text):
    path = tmp_path / "depth.npy"
    if content == "objects":
        np.save(path, np.array([{"depth": 0.7}], dtype=object), allow_pickle=True)
    elif content == "truncated":
        np.save(path, np.full((120, 160), 0.7, np.float32))
        path.write_bytes(path.read_bytes()[:-100])
    else:
        path.write_bytes(content)
    rc = main(["plan", str(path), "--model", str(checkpoint), "--intrinsics", "200,200,79.5,59.5"])
    err = capsys.readouterr().err.strip()
    assert rc == 1 and err == f"dexnet plan: error: {path}: {text}"


def test_malformed_camera_info_yaml_is_one_line_with_its_place(tmp_path, checkpoint, capsys):
    cam = tmp_path / "cam.yaml"
    cam.write_text("k: [200, 0, 79.5,\nwidth: 160\n  height: 120\n")
    rc, err = plan_error(capsys, tmp_path, "--model", str(checkpoint), "--camera-info", str(cam))
    assert rc == 1 and "\n" not in err
    assert err.startswith(f"dexnet plan: error: {cam}: camera info is not valid YAML (") and "line 3" in err


def test_a_corrupt_checkpoint_is_one_line_without_unsafe_advice(tmp_path, capsys):
    bad = tmp_path / "corrupt.pt"
    bad.write_bytes(b"\x00" * 64)
    rc, err = plan_error(capsys, tmp_path, "--model", str(bad), "--intrinsics", "200,200,79.5,59.5")
    assert rc == 1 and "\n" not in err and "weights_only" not in err
    assert err == (f"dexnet plan: error: {bad}: not a readable checkpoint: the file is corrupt, truncated or "
                   "not a PyTorch file (UnpicklingError)")


def test_a_model_for_another_gripper_is_refused_as_the_node_refuses_it(tmp_path, tiny_gqm, capsys):
    suction = save_checkpoint(tmp_path / "tiny_suction.pt", tiny_gqm("suction"))
    rc, err = plan_error(capsys, tmp_path, "--model", str(suction), "--gripper", "parallel_jaw",
                         "--intrinsics", "200,200,79.5,59.5")
    assert rc == 1
    assert err == f"dexnet plan: error: model '{suction}' is a suction model but the gripper is parallel_jaw"
    assert not list(tmp_path.glob("*_grasps.json"))
    rc, _ = plan_error(capsys, tmp_path, "--model", str(suction), "--intrinsics", "200,200,79.5,59.5",
                       "--workspace", "none")  # a flat scene: nothing stands on the support plane
    assert rc == 0  # without --gripper the model's own gripper is used
