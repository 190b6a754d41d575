"""`dexnet plan` on recordings: a folder of frames and ROS 2 bags written with the rosbags writers."""

import json
import shutil

import numpy as np
import pytest

from dexnet_core.cli import main
from dexnet_core.models.checkpoint import save_checkpoint
from dexnet_core.planning.overlay import save_png

rosbags = pytest.importorskip("rosbags")
from rosbags.rosbag2 import StoragePlugin, Writer  # noqa: E402
from rosbags.typesys import Stores, get_typestore  # noqa: E402

TS = get_typestore(Stores.ROS2_HUMBLE)
K = [200.0, 0.0, 79.5, 0.0, 200.0, 59.5, 0.0, 0.0, 1.0]
PLAN = ["--num-angles", "2", "--top-k", "2", "--device", "cpu", "--workspace", "none", "--no-clearance"]


@pytest.fixture
def checkpoint(tmp_path, tiny_gqm):
    return str(save_checkpoint(tmp_path / "tiny_pj.pt", tiny_gqm("parallel_jaw")))


def _box_mask() -> np.ndarray:
    mask = np.zeros((120, 160), np.uint8)
    mask[40:80, 60:100] = 255
    return mask


def test_plan_folder_with_masks_and_camera_info(tmp_path, checkpoint, box_scene, capsys):
    pytest.importorskip("cv2")
    frames = tmp_path / "frames"
    frames.mkdir()
    for n in range(3):
        np.save(frames / f"f{n}.npy", box_scene(holes=0.05, seed=n))
    save_png(frames / "f1_mask.png", _box_mask())
    (frames / "camera_info.yaml").write_text(f"width: 160\nheight: 120\nk: {K}\n")
    out = tmp_path / "out"
    assert main(["plan", str(frames), "--model", checkpoint, "--out", str(out), *PLAN]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["frames"] == 3 and summary["frames_with_grasps"] == 3 and summary["grasps_per_frame"] == 2
    u, v = json.loads((out / "f1_grasps.json").read_text())["grasps"][0]["center_px"]
    assert 60 <= round(u) < 100 and 40 <= round(v) < 80  # on the mask
    inside = 65 <= round(u) < 95 and 45 <= round(v) < 75
    assert summary["frames_with_mask"] == 1 and summary["best_on_mask_5px"] == float(inside)
    assert summary["best_quality"]["p10"] <= summary["best_quality"]["p50"] <= summary["best_quality"]["p90"]
    assert summary["latency_s"]["p50"] > 0
    for n in range(3):
        report = json.loads((out / f"f{n}_grasps.json").read_text())
        assert len(report["grasps"]) == 2 and (out / f"f{n}_overlay.png").is_file()
        assert 0 <= report["grasps"][0]["observed_share"] <= 1
        assert ("best_on_mask_5px" in report) == (n == 1)
    # a frame of another size: one line naming it, exit 1
    np.save(frames / "f9.npy", np.full((80, 100), 0.7, np.float32))
    capsys.readouterr()
    assert main(["plan", str(frames), "--model", checkpoint, "--out", str(out), *PLAN]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "f9.npy" in err and "100x80" in err


def _image(array: np.ndarray, encoding: str, stamp: int):
    time = TS.types["builtin_interfaces/msg/Time"](sec=stamp // 10**9, nanosec=stamp % 10**9)
    header = TS.types["std_msgs/msg/Header"](stamp=time, frame_id="cam")
    data = np.ascontiguousarray(array)
    return TS.types["sensor_msgs/msg/Image"](
        header=header, height=data.shape[0], width=data.shape[1], encoding=encoding, is_bigendian=0,
        step=data.strides[0], data=data.view(np.uint8).reshape(-1))


def _info(stamp: int):
    image = _image(np.zeros((1, 1), np.uint8), "mono8", stamp)
    roi = TS.types["sensor_msgs/msg/RegionOfInterest"](x_offset=0, y_offset=0, height=0, width=0,
                                                      do_rectify=False)
    return TS.types["sensor_msgs/msg/CameraInfo"](
        header=image.header, height=120, width=160, distortion_model="plumb_bob", d=np.zeros(5),
        k=np.array(K), r=np.eye(3).ravel(), p=np.zeros(12), binning_x=0, binning_y=0, roi=roi)


def write_bag(path, frames, storage=StoragePlugin.SQLITE3, mask_stamps=()):
    """A rosbag2 bag: 16UC1 depth frames on /camera/depth, CameraInfo on /camera/info (first stamp only,
    so later frames pair with the latest one before them), masks on /mask for ``mask_stamps``."""
    with Writer(path, version=9, storage_plugin=storage) as writer:
        depth = writer.add_connection("/camera/depth", "sensor_msgs/msg/Image", typestore=TS)
        info = writer.add_connection("/camera/info", "sensor_msgs/msg/CameraInfo", typestore=TS)
        mask = writer.add_connection("/mask", "sensor_msgs/msg/Image", typestore=TS)
        for n, frame in enumerate(frames):
            stamp = (n + 1) * 10**8
            if n == 0:
                writer.write(info, stamp, TS.serialize_cdr(_info(stamp), "sensor_msgs/msg/CameraInfo"))
            mm = np.nan_to_num(frame * 1000).round().astype(np.uint16)
            writer.write(depth, stamp, TS.serialize_cdr(_image(mm, "16UC1", stamp), "sensor_msgs/msg/Image"))
            if n in mask_stamps:
                msg = _image(_box_mask(), "mono8", stamp)
                writer.write(mask, stamp, TS.serialize_cdr(msg, "sensor_msgs/msg/Image"))


def test_plan_bag_sqlite_and_mcap(tmp_path, checkpoint, box_scene):
    frames = [box_scene(holes=0.05, seed=n) for n in range(2)]
    write_bag(tmp_path / "rec", frames, mask_stamps=(1,))
    args = ["--depth-topic", "/camera/depth", "--camera-info-topic", "/camera/info", "--model", checkpoint,
            *PLAN]
    out = tmp_path / "out"
    assert main(["plan", "--bag", str(tmp_path / "rec"), "--mask-topic", "/mask", "--out", str(out),
                 *args]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["frames"] == 2 and summary["frames_with_mask"] == 1
    report = json.loads((out / "200000000_grasps.json").read_text())
    u, v = report["grasps"][0]["center_px"]
    assert report["best_on_mask_5px"] == (65 <= round(u) < 95 and 45 <= round(v) < 75)
    assert 60 <= round(u) < 100 and 40 <= round(v) < 80
    assert report["intrinsics"]["fx"] == 200.0 and len(report["grasps"]) == 2
    write_bag(tmp_path / "rec_mcap", frames[:1], storage=StoragePlugin.MCAP)
    mcap = next((tmp_path / "rec_mcap").glob("*.mcap"))
    assert main(["plan", "--bag", str(mcap), "--out", str(tmp_path / "out2"), *args]) == 0
    assert json.loads((tmp_path / "out2" / "summary.json").read_text())["frames"] == 1


def test_bad_bags_give_one_line_naming_the_bag_or_topic(tmp_path, checkpoint, box_scene, capsys):
    write_bag(tmp_path / "rec", [box_scene()], storage=StoragePlugin.MCAP)
    mcap = next((tmp_path / "rec").glob("*.mcap"))
    truncated = tmp_path / "cut.mcap"
    truncated.write_bytes(mcap.read_bytes()[: mcap.stat().st_size // 2])
    unknown = tmp_path / "notes.bag2"
    unknown.write_text("not a bag")
    base = ["--camera-info-topic", "/camera/info", "--model", checkpoint, "--out", str(tmp_path / "o"), *PLAN]
    cases = [
        (["--bag", str(tmp_path / "rec"), "--depth-topic", "/nope", *base], "'/nope'"),
        (["--bag", str(tmp_path / "rec"), "--depth-topic", "/camera/info", *base], "CameraInfo"),
        (["--bag", str(truncated), "--depth-topic", "/camera/depth", *base], "cut.mcap"),
        (["--bag", str(unknown), "--depth-topic", "/camera/depth", *base], "notes.bag2"),
        (["--bag", str(tmp_path / "missing"), "--depth-topic", "/camera/depth", *base], "missing"),
    ]
    for argv, expected in cases:
        capsys.readouterr()
        assert main(["plan", *argv]) == 1, argv
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and expected in err, err
    shutil.rmtree(tmp_path / "o", ignore_errors=True)
