import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from dexnet_core.cli import main
from dexnet_core.synth.ranges import parse_shards, parse_task

ARGS = ["-n", "70", "--shard-size", "20", "--grasps-per-image", "20", "--split", "all", "--no-progress"]


def _args(out: Path, mesh_dir: Path, cache: Path, *extra: str) -> list[str]:
    return ["--log-level", "WARNING", "synth", str(out), "--meshes", str(mesh_dir), "--cache-dir", str(cache),
            *ARGS, *extra]


def _files(root: Path) -> dict[str, bytes]:
    files = {p.name: p.read_bytes() for p in sorted((root / "tensors").iterdir())}
    return {**files, "dataset.yaml": (root / "dataset.yaml").read_bytes()}


def _one_line_error(capsys, argv: list[str], *words: str) -> None:
    assert main(argv) == 1
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("dexnet synth:")]
    assert len(lines) == 1 and lines[0].startswith("dexnet synth: error:"), lines  # (log lines aside)
    for word in words:
        assert word in lines[0], lines[0]


def test_task_ranges_split_the_shards_into_contiguous_disjoint_parts():
    parts = [parse_task(f"{i}/3", 10) for i in range(3)]
    assert [(r.start, r.stop) for r in parts] == [(0, 3), (3, 6), (6, 10)]
    assert parse_shards("2:5", 10) == range(2, 5)
    for bad in ("5:2", "0:11", "-1:3", "3", "a:b"):
        with pytest.raises(ValueError, match="--shards"):
            parse_shards(bad, 10)
    for bad in ("3/3", "0/11", "x"):
        with pytest.raises(ValueError, match="--task"):
            parse_task(bad, 10)


@pytest.mark.slow
def test_two_processes_writing_halves_match_one_process_and_verify(mesh_dir, tmp_path, capsys):
    cache = tmp_path / "cache"
    one = tmp_path / "one"
    assert main(_args(one, mesh_dir, cache)) == 0  # also fills the mesh cache for the two below
    reference = _files(one)
    assert len(reference) == 4 * 6 + 1

    halves = tmp_path / "halves"
    cli = [sys.executable, "-m", "dexnet_core.cli"]
    procs = [subprocess.Popen([*cli, *_args(halves, mesh_dir, cache, *part)], stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE) for part in (["--task", "0/2"], ["--shards", "2:4"])]
    for proc in procs:
        assert proc.wait(timeout=120) == 0, proc.stderr.read().decode()
    assert _files(halves) == reference  # same bytes, dataset.yaml (statistics included) too
    assert sorted(p.name for p in (halves / "ranges").iterdir()) == ["00000-00002", "00002-00004"]

    capsys.readouterr()
    assert main(["synth", "--verify", str(halves)]) == 0
    assert "OK, 4 shards" in capsys.readouterr().out

    # damage it: a missing field, a shard copied under another index, a truncated array, a stray file
    tensors = halves / "tensors"
    (tensors / "hand_poses_00001.npz").unlink()
    for f in tensors.glob("*_00000.npz"):
        shutil.copy(f, tensors / f.name.replace("_00000", "_00002"))
    shutil.copy(tensors / "robust_force_closure_00003.npz", tensors / "robust_force_closure_00000.npz")
    (tensors / "hand_poses_00009.npz").write_bytes(b"")
    assert main(["synth", "--verify", str(halves)]) == 1
    out = capsys.readouterr().out
    assert "shard 1: missing hand_poses" in out and "shard 2: image_labels belong to shard(s) [0]" in out
    assert "shard 0: robust_force_closure is (10,) float32, expected (20,) float32" in out
    assert "hand_poses_00009.npz" in out and "*_00002.npz" in out
    assert "--shards 0:2" in out and "--shards 2:3" in out  # split where the two tasks' ranges meet
    # following the advice restores the dataset
    (tensors / "hand_poses_00009.npz").unlink()
    for i in (0, 2):
        for f in tensors.glob(f"*_{i:05d}.npz"):
            f.unlink()
    for part in ("0:2", "2:3"):
        assert main(_args(halves, mesh_dir, cache, "--shards", part)) == 0
    assert main(["synth", "--verify", str(halves)]) == 0
    assert _files(halves) == reference


def test_bad_ranges_and_other_parameters_are_one_line_errors(mesh_dir, tmp_path, capsys):
    cache, out = tmp_path / "cache", tmp_path / "ds"
    _one_line_error(capsys, _args(out, mesh_dir, cache, "--shards", "3:9"), "--shards 3:9", "4 shards")
    _one_line_error(capsys, _args(out, mesh_dir, cache, "--task", "2/8"), "--task 2/8", "only 4 shards")
    (out / "ranges").mkdir(parents=True)
    (out / "ranges" / "00000-00002").write_text("")
    _one_line_error(capsys, _args(out, mesh_dir, cache, "--shards", "1:3"), "--shards 1:3 partly overlaps",
                    "0:2")
    assert sorted(p.name for p in (out / "ranges").iterdir()) == ["00000-00002"]  # its record is removed
    assert main(_args(out, mesh_dir, cache, "--shards", "3:4")) == 0
    _one_line_error(capsys, _args(out, mesh_dir, cache, "--shards", "2:3", "--grasps-per-image", "10"),
                    "different 'parameters' (grasps_per_image: 20 there, 10 here)")
    _one_line_error(capsys, ["synth", "--verify", str(tmp_path / "nothing")], "no dataset.yaml")
