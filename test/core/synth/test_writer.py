import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from dexnet_core.errors import DatasetError
from dexnet_core.synth.generate import SynthConfig, generate_shard
from dexnet_core.synth.meshes import load_object_library
from dexnet_core.synth.writer import synthesize

ARGS = ["-n", "300", "--shard-size", "20", "--grasps-per-image", "20", "--split", "all", "--no-progress"]


def _files(root: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((root / "tensors").iterdir())}


def _synth(out: Path, mesh_dir: Path, cache: Path) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "dexnet_core.cli", "--log-level", "WARNING", "synth", str(out),
           "--meshes", str(mesh_dir), "--cache-dir", str(cache), *ARGS]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


@pytest.mark.slow
def test_kill_and_resume_gives_the_same_shards(mesh_dir, tmp_path):
    cache = tmp_path / "cache"
    full = tmp_path / "full"
    assert _synth(full, mesh_dir, cache).wait(timeout=120) == 0
    reference = _files(full)
    assert len(reference) == 15 * 6  # 15 shards x (5 fields + label)

    part = tmp_path / "part"
    proc = _synth(part, mesh_dir, cache)
    deadline = time.time() + 60
    while not list((part / "tensors").glob("robust_force_closure_0000[2-9].npz")) and time.time() < deadline:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done = _files(part)
    assert 0 < len(done) < len(reference)
    for name, data in done.items():  # whatever a killed run leaves is whole and final
        assert name.startswith(".") or data == reference[name]
    # a shard with a field missing is regenerated
    next(iter((part / "tensors").glob("hand_poses_*.npz"))).unlink()
    assert _synth(part, mesh_dir, cache).wait(timeout=120) == 0
    assert _files(part) == reference
    meta = yaml.safe_load((part / "dataset.yaml").read_text())
    assert meta["num_datapoints"] == 300 and meta["label_field"] == "robust_force_closure"
    assert meta["label_threshold"] == 0.5 and 0.6 < meta["im_mean"] < 0.85 and meta["im_std"] > 0
    assert 0 < meta["label_stats"]["positive_fraction"] < 1


def test_shard_is_deterministic_and_well_formed(mesh_dir, tmp_path):
    objs = load_object_library("all", source=mesh_dir, cache_dir=tmp_path / "cache")
    for gripper in ("parallel_jaw", "suction"):
        cfg = SynthConfig(gripper=gripper, num_datapoints=50, shard_size=30, grasps_per_image=20)
        a, b = generate_shard(cfg, objs, 1), generate_shard(cfg, objs, 1)
        assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)
        assert a["depth_ims_tf_table"].shape == (20, 32, 32, 1) and a["hand_poses"].shape == (20, 7)
        assert np.isfinite(a["depth_ims_tf_table"]).all()
        q = a[cfg.label_field]
        assert q.dtype == np.float32 and ((q >= 0) & (q <= 1)).all()
        assert set(a["object_labels"]) <= {o.object_id for o in objs}
        other = generate_shard(SynthConfig(gripper=gripper, num_datapoints=50, shard_size=30, seed=1,
                                           grasps_per_image=20), objs, 1)
        assert not np.array_equal(other["hand_poses"], a["hand_poses"])


def test_existing_dataset_with_other_seed_is_refused(mesh_dir, tmp_path):
    objs = load_object_library("all", source=mesh_dir, cache_dir=tmp_path / "cache")
    cfg = SynthConfig(num_datapoints=10, shard_size=10, grasps_per_image=10)
    synthesize(tmp_path / "ds", cfg, objs, progress=False)
    other = SynthConfig(num_datapoints=10, shard_size=10, seed=5)
    with pytest.raises(DatasetError, match="seed"):
        synthesize(tmp_path / "ds", other, objs, progress=False)


def test_dataset_written_before_a_parameter_existed_resumes_with_its_default(mesh_dir, tmp_path):
    objs = load_object_library("all", source=mesh_dir, cache_dir=tmp_path / "cache")
    cfg = SynthConfig(num_datapoints=10, shard_size=10, grasps_per_image=10)
    synthesize(tmp_path / "ds", cfg, objs, progress=False)
    path = tmp_path / "ds" / "dataset.yaml"
    meta = yaml.safe_load(path.read_text())
    del meta["parameters"]["scale_jitter"]
    path.write_text(yaml.safe_dump(meta))
    synthesize(tmp_path / "ds", cfg, objs, progress=False)
    with pytest.raises(DatasetError, match="parameters"):
        synthesize(tmp_path / "ds", SynthConfig(num_datapoints=10, shard_size=10, grasps_per_image=10,
                                                scale_jitter=0.1), objs, progress=False)


def test_dataset_yaml_records_the_sensor_and_camera_and_older_datasets_resume(mesh_dir, tmp_path):
    objs = load_object_library("all", source=mesh_dir, cache_dir=tmp_path / "cache")
    cfg = SynthConfig(num_datapoints=10, shard_size=10, grasps_per_image=10)
    synthesize(tmp_path / "ds", cfg, objs, progress=False)
    path = tmp_path / "ds" / "dataset.yaml"
    meta = yaml.safe_load(path.read_text())
    params = meta["parameters"]
    assert params["sensor"] == "gaussian" and params["sensor_models"]["gaussian"]["pixel_std_m"] == 0.0005
    assert params["camera"]["image_sizes"] == [[640, 480]] and params["camera"]["focal_px"] is None
    # as written before the named sensor models, focal ranges and image sizes existed
    for key in ("sensor", "sensor_models"):
        del params[key]
    del params["camera"]["image_sizes"], params["camera"]["focal_px"]
    params["depth_noise"] = {"scale_std": 0.002, "smooth_std_m": 0.0008, "smooth_grid": 8,
                             "pixel_std_m": 0.0005}
    path.write_text(yaml.safe_dump(meta))
    before = _files(tmp_path / "ds")
    synthesize(tmp_path / "ds", cfg, objs, progress=False)  # resumes: same parameters as then
    assert _files(tmp_path / "ds") == before
    with pytest.raises(DatasetError, match="parameters"):
        synthesize(tmp_path / "ds", SynthConfig(num_datapoints=10, shard_size=10, grasps_per_image=10,
                                                sensor="primesense"), objs, progress=False)
    params["depth_noise"]["pixel_std_m"] = 0.001  # noise no named model gives
    path.write_text(yaml.safe_dump(meta))
    with pytest.raises(DatasetError, match="parameters"):
        synthesize(tmp_path / "ds", cfg, objs, progress=False)


def test_synth_command_records_realism_flags_and_refuses_bad_ones(mesh_dir, tmp_path, capsys):
    from dexnet_core.cli import main

    out = tmp_path / "real"
    args = ["synth", str(out), "--meshes", str(mesh_dir), "--cache-dir", str(tmp_path / "cache"), "-n", "20",
            "--shard-size", "20", "--grasps-per-image", "10", "--split", "all", "--no-progress"]
    real = ["--sensor", "realsense,structured_light", "--camera-tilt", "30", "--camera-distance", "0.4",
            "1.2", "--focal-px", "380", "1100", "--image-sizes", "640x480,1280x720"]
    assert main([*args, *real]) == 0
    params = yaml.safe_load((out / "dataset.yaml").read_text())["parameters"]
    assert params["sensor"] == "realsense,structured_light"
    assert set(params["sensor_models"]) == {"realsense", "structured_light"}
    assert params["camera"]["max_tilt"] == pytest.approx(np.radians(30))
    assert params["camera"]["image_sizes"] == [[640, 480], [1280, 720]]
    assert params["camera"]["distance"] == [0.4, 1.2] and params["camera"]["focal_px"] == [380, 1100]
    assert main([*args, *real]) == 0  # the same command resumes
    for bad, msg in ((["--sensor", "kinect"], "--sensor: unknown sensor 'kinect'; valid: ideal, gaussian"),
                     (["--camera-tilt", "31"], r"--camera-tilt must be in \[0, 30\] degrees, got 31"),
                     (["--image-sizes", "640"], "--image-sizes must be WIDTHxHEIGHT")):
        capsys.readouterr()
        assert main(["synth", str(tmp_path / "bad"), *bad]) == 1
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and re.search(msg, err), err
