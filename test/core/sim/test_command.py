"""The `dexnet sim` command: a tiny real run writes its reports; bad arguments fail with one line."""

import json

import pytest
import torch

from dexnet_core.cli import main
from dexnet_core.models import get_model
from dexnet_core.models.checkpoint import DEXNET2_NORM, GraspQualityModel, save_checkpoint


@pytest.fixture
def pj_checkpoint(tmp_path):
    torch.manual_seed(0)
    kwargs = {"channels": 4, "fc_size": 8, "uses_depth": True}
    gqm = GraspQualityModel(get_model("gqcnn_small", **kwargs), "gqcnn_small", kwargs, gripper="parallel_jaw",
                            norm=DEXNET2_NORM)
    return save_checkpoint(tmp_path / "tiny_pj.pt", gqm)


def test_sim_command_writes_reports(tmp_path, monkeypatch, pj_checkpoint):
    monkeypatch.setenv("DEXNET_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "out"
    rc = main(["sim", "--episodes", "1", "--objects", "1", "--gripper", "parallel_jaw", "--library-size", "3",
               "--policies", "heuristic,random", "--model", str(pj_checkpoint), "--max-failures", "1",
               "--out", str(out)])
    assert rc == 0
    report = json.loads((out / "report.json").read_text())
    assert [p["policy"] for p in report["policies"]] == ["heuristic", "random"]
    results = json.loads((out / "results.json").read_text())["episodes"]
    assert len(results) == 2 and all(r["seed"] == 0 for r in results)
    assert results[0]["objects"] == results[1]["objects"]  # same tray for every policy
    for r, p in zip(results, report["policies"]):
        assert p["attempts"] == len([a for a in r["attempts"] if a["cause"] != "no_grasp"])
        assert p["successes"] == r["picked"]
    assert (out / "episode_0_heuristic.png").stat().st_size > 1000
    assert "| heuristic | parallel_jaw | 1 |" in (out / "report.md").read_text()


def test_sim_command_resume_adds_policies_and_seeds(tmp_path, monkeypatch, pj_checkpoint):
    monkeypatch.setenv("DEXNET_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "out"
    common = ["sim", "--objects", "1", "--library-size", "3", "--max-failures", "1",
              "--png-episodes", "0", "--model", str(pj_checkpoint), "--out", str(out)]
    assert main(common + ["--episodes", "1", "--policies", "random"]) == 0
    first = json.loads((out / "results.json").read_text())["episodes"]
    assert main(common + ["--episodes", "2", "--policies", "heuristic,random", "--resume"]) == 0
    both = json.loads((out / "results.json").read_text())["episodes"]
    assert [(r["seed"], r["policy"]) for r in both] == [(0, "heuristic"), (0, "random"), (1, "heuristic"),
                                                         (1, "random")]
    assert both[1] == first[0]  # kept, not rerun (and equal to a rerun: episodes are deterministic)
    # a different setup is refused
    changed = common[:2] + ["2"] + common[3:]
    assert main(changed + ["--episodes", "1", "--policies", "random", "--resume"]) == 1
    # a results.json written before the symmetry, stride and angle options resumes; other values are refused
    data = json.loads((out / "results.json").read_text())
    del data["setup"]["suction_symmetries"], data["setup"]["jaw_symmetries"], data["setup"]["meshes"]
    del data["setup"]["stride"], data["setup"]["num_angles"]
    (out / "results.json").write_text(json.dumps(data))
    resume = common + ["--episodes", "2", "--policies", "random", "--resume"]
    # such results were planned at stride 4 with 16 angles, the planner's defaults then, not now
    assert main(resume) == 1
    again = resume + ["--stride", "4", "--num-angles", "16"]
    assert main(again) == 0
    assert main(again + ["--suction-symmetries", "8"]) == 1
    assert main(again + ["--jaw-symmetries", "2"]) == 1
    assert main(resume + ["--stride", "2", "--num-angles", "16"]) == 1  # a finer heatmap is another setup
    assert main(resume + ["--stride", "4", "--num-angles", "32"]) == 1
    assert main(again + ["--meshes", "pybullet_everyday"]) == 1
    assert main(again + ["--no-object-mask"]) == 1  # the planner without the mask is another setup


def test_sim_command_rejects_unknown_policy(tmp_path, capsys):
    rc = main(["sim", "--policies", "planner,greedy", "--out", str(tmp_path)])
    assert rc == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("dexnet sim: error:") and "greedy" in err and "\n" not in err


def test_sim_command_rejects_wrong_gripper_model(tmp_path, capsys, pj_checkpoint):
    rc = main(["sim", "--gripper", "suction", "--policies", "planner", "--model", str(pj_checkpoint),
               "--out", str(tmp_path)])
    assert rc == 1
    assert "parallel_jaw model" in capsys.readouterr().err


def test_sim_command_rejects_bad_sensor_and_tilt(tmp_path, capsys):
    for bad, msg in ((["--sensor", "kinect"], "--sensor: unknown sensor 'kinect'; valid: ideal, gaussian"),
                     (["--camera-tilt", "35"], "--camera-tilt must be in [0, 30] degrees, got 35"),
                     (["--fixtures", "7"], "--fixtures must be in [0, 6], got 7"),
                     (["--placement-error-m", "-0.01"],
                      "--placement-error-m must be in [0, 0.05] m, got -0.01")):
        assert main(["sim", *bad, "--out", str(tmp_path)]) == 1
        err = capsys.readouterr().err.strip()
        assert msg in err and "\n" not in err


def test_sim_command_records_sensor_and_tilt_and_resumes_older_results(tmp_path, monkeypatch, pj_checkpoint):
    monkeypatch.setenv("DEXNET_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "out"
    common = ["sim", "--objects", "1", "--library-size", "3", "--max-failures", "1", "--png-episodes", "0",
              "--model", str(pj_checkpoint), "--out", str(out), "--policies", "random", "--episodes", "1"]
    assert main(common + ["--sensor", "primesense", "--camera-tilt", "20", "--fixtures", "2",
                          "--placement-error-m", "0.004"]) == 0
    setup = json.loads((out / "results.json").read_text())["setup"]
    assert setup["sensor"] == "primesense" and setup["camera_tilt"] == 20 and setup["fixtures"] == 2
    assert setup["placement_error_m"] == 0.004
    assert main(common + ["--resume"]) == 1  # another sensor and tilt: refused
    data = json.loads((out / "results.json").read_text())
    for key in ("sensor", "camera_tilt", "fixtures", "placement_error_m"):
        del data["setup"][key]
    data["setup"]["noise"] = True  # written before the sensor models: noise on was today's 'gaussian'
    (out / "results.json").write_text(json.dumps(data))
    assert main(common + ["--resume"]) == 0
    assert main(common + ["--resume", "--sensor", "ideal"]) == 1
