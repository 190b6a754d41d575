"""The reference's three configs (test/fixtures/reference_configs) train and evaluate unchanged but for
dataset_path, num_epochs and save_directory: no environment variables, wandb: true without a login."""

import json
import logging
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from dexnet_core.cli import main
from dexnet_core.data.shards import write_shards

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "reference_configs"


def _dataset(root: Path, n: int) -> Path:
    """``n`` crops with both released label fields; positives (every third) have a raised centre."""
    rng = np.random.default_rng(0)
    pos = np.arange(n) % 3 == 0
    ims = 0.65 + 0.002 * rng.standard_normal((n, 32, 32))
    ims[pos, 11:21, 11:21] -= 0.03
    write_shards(root, {"depth_ims_tf_table": ims[..., None].astype(np.float32),
                        "robust_ferrari_canny": np.where(pos, 0.004, 0.0005).astype(np.float32),
                        "robust_suction_wrench_resistance": np.where(pos, 0.5, 0.05).astype(np.float32)},
                 shard_size=1000)
    return root


CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="EfficientNet trains at 224x224: one batch "
                          "of 64 takes ~30 s on a 2-core CPU; runs with CUDA")


@pytest.mark.slow
@pytest.mark.parametrize("name, n, device", [
    ("dexnet2", 320, "cpu"), ("dexnet3", 320, "cpu"),
    pytest.param("dexnet3_efficientnet", 80, "cuda", marks=CUDA),
])
def test_reference_config_trains_and_evaluates(name, n, device, tmp_path, monkeypatch, caplog, capsys):
    monkeypatch.setenv("HOME", str(tmp_path))  # no wandb login anywhere
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    data = _dataset(tmp_path / "tensors_root", n)  # one batch of the config's size trains
    overrides = [f"training.dataset_path={data}", "training.num_epochs=1",
                 f"outputs.save_directory={tmp_path / 'outputs'}"]
    args = ["train", "--config", str(FIXTURES / f"{name}.yaml"), "--device", device]
    with caplog.at_level(logging.INFO):
        assert main(args + [a for o in overrides for a in ("--set", o)]) == 0
    ours = [r for r in caplog.records if r.name.startswith("dexnet_core")]
    warnings = [r.getMessage() for r in ours if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and warnings[0].startswith("training.wandb: no wandb login; logging offline")
    assert any("training.resize: False ignored" in r.getMessage() for r in ours)
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    run = Path(summary["run_dir"])
    assert summary["val"]["prediction_threshold"] == 0.2
    assert list(summary["val"]["at_threshold"]) == ["0.2", "0.5"]
    saved = yaml.safe_load((run / "config.yaml").read_text())
    assert saved["recipe"] == "reference" and saved["augmentation"]["mode"] == "reference"
    assert (run / "wandb").is_dir()
    out = tmp_path / "eval"
    assert main(["eval", "--checkpoint", str(run / "best.pt"), "--dataset", str(data), "--out", str(out),
                 "--no-plot", "--device", device]) == 0
    report = json.loads((out / "metrics.json").read_text())
    assert report["recipe"] == "reference" and report["split_kind"] == "ordered" and report["num"] == n // 5
    assert report["prediction_threshold"] == 0.2 and set(report["at_threshold"]) == {"0.2", "0.5"}
    assert report["at_threshold"]["0.2"]["accuracy"] == report["accuracy"]
