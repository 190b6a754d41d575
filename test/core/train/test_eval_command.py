import json

import pytest
import yaml

from dexnet_core.cli import main
from dexnet_core.train.config import config_from_dict
from dexnet_core.train.loop import train


def test_train_then_eval_cli(config_dict, tmp_path, capsys):
    config_dict["training"]["max_steps"] = 20
    cfg_path = tmp_path / "c.yaml"
    cfg_path.write_text(yaml.safe_dump(config_dict))
    args = ["train", "--config", str(cfg_path), "--device", "cpu", "--set", "outputs.tensorboard=true"]
    assert main(args) == 0
    run = config_from_dict(config_dict).run_dir
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["step"] == 20
    assert any((run / "tb").iterdir())
    out = tmp_path / "eval"
    dataset = config_dict["training"]["dataset_path"]
    assert main(["eval", "--checkpoint", str(run / "best.pt"), "--dataset", dataset, "--out", str(out)]) == 0
    report = json.loads((out / "metrics.json").read_text())
    assert report["split"] == "val" and report["split_kind"] == "object" and report["num"] == 200
    assert report["accuracy"] > 0.8 and 0.0 < report["positive_fraction"] < 1.0
    lo, hi = report["average_precision_ci95"]
    assert report["num_objects"] == 2 and lo <= report["average_precision"] <= hi
    # crops are 0.7 m with a 10x10 block 3 cm closer on positives
    expected_mean = 0.7 - 0.03 * 100 / 1024 * report["positive_fraction"]
    assert report["depth_mean"] == pytest.approx(expected_mean, abs=2e-4)
    assert 0.005 < report["depth_std"] < 0.02
    assert (out / "pr_curve.png").read_bytes()[:4] == b"\x89PNG"


def test_cli_errors_are_one_line(config_dict, tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("training: {dataset_path: x, batch_size: -1}\n")
    assert main(["train", "--config", str(bad)]) == 1
    assert capsys.readouterr().err.strip() == "dexnet train: error: training.batch_size must be > 0, got -1"
    assert main(["eval", "--checkpoint", str(tmp_path / "none.pt"), "--dataset", str(tmp_path)]) == 1
    assert "none.pt" in capsys.readouterr().err


def test_eval_recomputes_split_without_training_state(config_dict, tmp_path):
    from dexnet_core.models.checkpoint import load_checkpoint
    from dexnet_core.train.evaluate import evaluate_checkpoint

    config_dict["training"]["max_steps"] = 2
    result = train(config_from_dict(config_dict), device="cpu")
    gqm = load_checkpoint(result.run_dir / "last.pt")
    res = evaluate_checkpoint(gqm, config_dict["training"]["dataset_path"], split="all", max_datapoints=100)
    assert res.report["num"] == 100 and res.split.kind == "object"


def test_eval_symmetries_average_the_flipped_crops(config_dict, dataset, capsys):
    import numpy as np

    from dexnet_core.data.cache import open_dataset
    from dexnet_core.data.loader import subsample
    from dexnet_core.models.checkpoint import load_checkpoint
    from dexnet_core.train.evaluate import evaluate_checkpoint

    config_dict["training"]["max_steps"] = 10
    result = train(config_from_dict(config_dict), device="cpu")
    gqm = load_checkpoint(result.run_dir / "last.pt")  # a parallel-jaw model
    res = evaluate_checkpoint(gqm, dataset, split="all", max_datapoints=50, symmetries=4)
    assert res.report["symmetries"] == 4
    idx = subsample(np.arange(800), 50, seed=0)
    crops = np.asarray(open_dataset(dataset, ["depth_ims_tf_table"])["depth_ims_tf_table"])[idx]
    crops = crops.reshape(-1, 32, 32)
    views = [crops, crops[:, ::-1], crops[:, :, ::-1], crops[:, ::-1, ::-1]]  # 180-degree turn, mirrors
    expected = np.mean([gqm.score(np.ascontiguousarray(v)) for v in views], axis=0)
    np.testing.assert_allclose(res.scores, expected, atol=2e-6)
    assert np.abs(gqm.score(crops) - expected).max() > 1e-4  # the views differ
    capsys.readouterr()
    rc = main(["eval", "--checkpoint", str(result.run_dir / "last.pt"), "--dataset", str(dataset),
               "--symmetries", "8"])
    err = capsys.readouterr().err.strip()
    assert rc == 1 and "parallel_jaw grasp has symmetry counts (1, 2, 4), got 8" in err and "\n" not in err


def test_eval_threshold_flag_and_json_say_which(config_dict, tmp_path, capsys):
    config_dict["training"]["max_steps"] = 5
    run = train(config_from_dict(config_dict), device="cpu").run_dir
    dataset = config_dict["training"]["dataset_path"]
    reports = {}
    for threshold in (None, "0.2"):
        out = tmp_path / f"eval_{threshold}"
        extra = ["--threshold", threshold] if threshold else []
        assert main(["eval", "--checkpoint", str(run / "last.pt"), "--dataset", dataset, "--out", str(out),
                     "--no-plot", *extra]) == 0
        reports[threshold] = json.loads((out / "metrics.json").read_text())
    assert reports[None]["prediction_threshold"] == 0.5 and list(reports[None]["at_threshold"]) == ["0.5"]
    low = reports["0.2"]
    assert low["prediction_threshold"] == 0.2 and low["recipe"] == "dexnet_ros"
    assert low["tp"] + low["fp"] >= reports[None]["tp"] + reports[None]["fp"]  # a lower bar predicts more
    assert main(["eval", "--checkpoint", str(run / "last.pt"), "--dataset", dataset, "--threshold", "2"]) == 1
    assert "--threshold must be in (0, 1), got 2.0" in capsys.readouterr().err
