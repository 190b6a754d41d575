import json

import numpy as np
import pytest
import torch

from dexnet_core.data.splits import Split
from dexnet_core.errors import ConfigError, DexnetError
from dexnet_core.models.checkpoint import load_checkpoint, load_training_state
from dexnet_core.train import loop as loop_mod
from dexnet_core.train.config import config_from_dict
from dexnet_core.train.loop import train


def test_loss_falls_and_run_is_self_describing(config_dict, dataset):
    cfg = config_from_dict(config_dict, ["training.pos_weight=1.5"])
    result = train(cfg, device="cpu")
    run = result.run_dir
    state = load_training_state(run / "last.pt")
    split = Split.from_state(state["split"])
    labels = np.concatenate([np.load(p)["arr_0"] for p in sorted((dataset / "tensors").glob("robust_*"))])
    num_pos = int((labels[split.train] > 0.002).sum())
    assert result.step == 2 * ((len(split.train) + round(0.5 * num_pos)) // 32)  # positives oversampled 1.5x
    logged = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    train_losses = [r["train/loss"] for r in logged if "train/loss" in r]
    assert train_losses[-1] < 0.5 * train_losses[0]
    assert result.val["accuracy"] > 0.9 and result.val["loss"] < 0.3
    gqm = load_checkpoint(run / "best.pt")
    assert gqm.arch == "gqcnn_small" and gqm.arch_kwargs == {"channels": 8, "fc_size": 32}
    assert gqm.gripper == "parallel_jaw" and gqm.threshold == pytest.approx(0.002)
    assert gqm.norm.im_mean == pytest.approx(0.7000409878366362)  # dexnet2 reference constants
    assert split.kind == "object" and len(split.val) == 200
    np.testing.assert_array_equal(split.val, Split.load(run / "split.npz").val)
    with pytest.raises(DexnetError, match="--resume"):
        train(cfg, device="cpu")


def test_resume_after_kill_continues_same_steps(config_dict, monkeypatch):
    config_dict["training"].update(max_steps=30, num_epochs=5)
    reference = train(config_from_dict(config_dict, ["outputs.save_name=straight"]), device="cpu")
    straight = load_checkpoint(reference.run_dir / "last.pt").model.state_dict()

    cfg = config_from_dict(config_dict, ["outputs.save_name=killed"])
    real, calls = loop_mod.augment_batch, []

    def dying(*args, **kwargs):
        calls.append(1)
        if len(calls) == 17:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(loop_mod, "augment_batch", dying)
    with pytest.raises(KeyboardInterrupt):
        train(cfg, device="cpu")
    assert load_training_state(cfg.run_dir / "last.pt")["step"] == 10
    monkeypatch.setattr(loop_mod, "augment_batch", real)
    resumed = train(cfg, device="cpu", resume=True)
    assert resumed.step == 30
    for key, value in load_checkpoint(cfg.run_dir / "last.pt").model.state_dict().items():
        torch.testing.assert_close(value, straight[key], rtol=0, atol=0)


def test_computed_normalisation_and_depth_input(config_dict):
    config_dict["dataset"] = "custom"
    config_dict["training"].update(gripper="parallel_jaw", label_field="robust_ferrari_canny",
                                   GT_threshold=0.002, max_steps=3)
    config_dict["model_kwargs"]["uses_depth"] = True
    result = train(config_from_dict(config_dict), device="cpu")
    gqm = load_checkpoint(result.run_dir / "last.pt")
    assert gqm.uses_depth and 0.68 < gqm.norm.z_mean < 0.69 and 0.0 < gqm.norm.z_std < 0.01
    assert 0.69 < gqm.norm.im_mean < 0.7 and 0.005 < gqm.norm.im_std < 0.02


def test_config_errors_before_work(config_dict):
    config_dict["training"]["batch_size"] = 5000
    with pytest.raises(ConfigError, match="training.batch_size"):
        train(config_from_dict(config_dict), device="cpu")
    config_dict["training"]["batch_size"] = 32
    config_dict["model_kwargs"] = {"width": 3}
    with pytest.raises(ConfigError, match="model_kwargs"):
        train(config_from_dict(config_dict), device="cpu")


def test_dataset_yaml_supplies_defaults(config_dict, dataset):
    (dataset / "dataset.yaml").write_text(
        "gripper: suction\nlabel_field: robust_ferrari_canny\nlabel_threshold: 0.003\n"
        "im_mean: 0.69\nim_std: 0.01\n")
    config_dict["dataset"] = "custom"
    del config_dict["training"]["GT_threshold"]
    config_dict["training"]["max_steps"] = 2
    result = train(config_from_dict(config_dict), device="cpu")
    gqm = load_checkpoint(result.run_dir / "last.pt")
    assert gqm.gripper == "suction" and gqm.threshold == pytest.approx(0.003)
    assert (gqm.norm.im_mean, gqm.norm.im_std) == (0.69, 0.01)


def test_init_checkpoint_fine_tunes_from_weights_and_normalisation(config_dict):
    config_dict["training"].update(max_steps=5)
    first = train(config_from_dict(config_dict, ["outputs.save_name=first"]), device="cpu")
    start = load_checkpoint(first.run_dir / "last.pt")
    init = str(first.run_dir / "last.pt")
    tuned = train(config_from_dict(config_dict, ["outputs.save_name=tuned", "training.max_steps=1",
                                                 f"training.init_checkpoint={init}"]), device="cpu")
    after = load_checkpoint(tuned.run_dir / "last.pt")
    assert after.norm == start.norm
    tuned_state = after.model.state_dict()
    moved = [(tuned_state[k] - v).abs().max().item() for k, v in start.model.state_dict().items()]
    assert 0 < max(moved) < 0.05  # one small step away from the initial weights, not a fresh model
    explicit = train(config_from_dict(config_dict, ["outputs.save_name=explicit", "training.max_steps=1",
                                                    "model_kwargs.padding=valid",  # the default, spelt out
                                                    f"training.init_checkpoint={init}"]), device="cpu")
    assert explicit.step == 1
    with pytest.raises(ConfigError, match="init_checkpoint.*holds gqcnn_small"):
        train(config_from_dict(config_dict, ["outputs.save_name=wide", "model_kwargs.channels=16",
                                             f"training.init_checkpoint={init}"]), device="cpu")
    with pytest.raises(ConfigError, match="init_checkpoint.*no such checkpoint"):
        train(config_from_dict(config_dict, ["outputs.save_name=missing",
                                             "training.init_checkpoint=nowhere.pt"]), device="cpu")


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_mixed_precision_training_on_cuda(config_dict):
    config_dict["model_kwargs"]["uses_depth"] = True
    result = train(config_from_dict(config_dict, ["outputs.save_name=cuda"]), device="cuda")
    assert result.val["accuracy"] > 0.9
    gqm = load_checkpoint(result.run_dir / "best.pt")  # a CUDA-trained checkpoint loads on the CPU
    assert next(gqm.model.parameters()).device.type == "cpu"
    resumed = train(config_from_dict(config_dict, ["outputs.save_name=cuda", "training.num_epochs=3"]),
                    device="cpu", resume=True)
    assert resumed.epoch == 3


def test_val_print_every_counts_steps(config_dict):
    config_dict["training"].update(max_steps=12, num_epochs=5)
    config_dict["outputs"]["val_print_every"] = 4  # steps, as the reference reads it
    result = train(config_from_dict(config_dict), device="cpu")
    logged = [json.loads(line) for line in (result.run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in logged if "val/loss" in r] == [4, 8, 12]


def test_ordered_split_is_honoured_despite_object_labels(config_dict, caplog):
    import logging

    config_dict["training"].update(max_steps=1, ordered_split=True)
    with caplog.at_level(logging.INFO, logger="dexnet_core.train.loop"):
        result = train(config_from_dict(config_dict), device="cpu")
    split = Split.load(result.run_dir / "split.npz")
    assert split.kind == "ordered"
    np.testing.assert_array_equal(split.val, np.arange(160))  # first 20%, as the reference
    assert "ordered_split: True: ordered split, although the dataset has object_labels" in caplog.text
    from dexnet_core.train.evaluate import evaluate_checkpoint

    gqm = load_checkpoint(result.run_dir / "last.pt")  # without the stored split, eval makes the same kind
    assert evaluate_checkpoint(gqm, config_dict["training"]["dataset_path"]).split.kind == "ordered"


def test_missing_dataset_path_is_named(config_dict, tmp_path, capsys):
    import yaml

    from dexnet_core.cli import main

    config_dict["dataset"] = "custom"
    config_dict["training"]["dataset_path"] = str(tmp_path / "no_such_dataset")
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(config_dict))
    assert main(["train", "--config", str(path), "--device", "cpu"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("dexnet train: error: training.dataset_path: ") and "no_such_dataset" in err
    assert "gripper" not in err and "\n" not in err


def test_wandb_without_the_package_is_one_warning(config_dict, monkeypatch, caplog):
    import logging
    import sys

    monkeypatch.setitem(sys.modules, "wandb", None)  # import wandb raises ImportError
    config_dict["training"].update(max_steps=1, wandb=True)
    with caplog.at_level(logging.WARNING):
        result = train(config_from_dict(config_dict), device="cpu")
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert result.step == 1 and len(warnings) == 1 and "wandb is not installed" in warnings[0]
