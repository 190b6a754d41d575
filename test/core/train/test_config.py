import logging
from pathlib import Path

import pytest
import yaml

from dexnet_core.errors import ConfigError
from dexnet_core.train.config import config_from_dict, load_config, resolve_data_settings

ROOT = Path(__file__).resolve().parents[3]

REFERENCE_YAML = """
name: dexnet3_base
model: DexNetBase
dataset: dexnet3
optimizer:
  name: sgd
  learning_rate: 0.01
  momentum: 0.9
  scheduler_gamma: 0.95
  weight_decay: 0.0005
training:
  dataset_path: /data/dexnet3
  batch_size: 256
  num_epochs: 15
  GT_threshold: 0.2
  wandb: false
  ordered_split: true
  pos_weight: 1.0
outputs:
  save_directory: outputs
  save_name: dexnet3_base
  training_print_every: 100
  val_print_every: 1
  save_every_x_epoch: 2
"""


def test_reference_yaml_accepted(tmp_path):
    path = tmp_path / "ref.yaml"
    path.write_text(REFERENCE_YAML)
    cfg = load_config(path)
    assert cfg.model == "dexnet_base" and cfg.dataset == "dexnet3"
    assert cfg.training.batch_size == 256 and cfg.optimizer.momentum == 0.9
    assert str(cfg.run_dir) == "outputs/dexnet3_base"
    s = resolve_data_settings(cfg, {})
    assert s.gripper == "suction" and s.label_field == "robust_suction_wrench_resistance"
    assert s.threshold == pytest.approx(0.2) and s.im_mean == pytest.approx(0.59784445)


def test_dexnet2_threshold_is_on_metric_times_100():
    cfg = config_from_dict({"dataset": "dexnet2", "training": {"dataset_path": "x", "GT_threshold": 0.2}})
    s = resolve_data_settings(cfg, {})
    assert s.label_scale == 100.0 and s.threshold == pytest.approx(0.002)
    plain = config_from_dict({"dataset": "dexnet2", "training": {"dataset_path": "x"}})
    default = resolve_data_settings(plain, {})
    assert default.gt_threshold == pytest.approx(0.2)


def test_dataset_yaml_defaults_and_precedence():
    info = {"gripper": "suction", "label_field": "robust_force_closure", "label_threshold": 0.5,
            "im_mean": 0.6, "im_std": 0.01}
    s = resolve_data_settings(config_from_dict({"training": {"dataset_path": "x"}}), info)
    assert (s.gripper, s.label_field, s.threshold, s.im_mean, s.im_std) == ("suction", "robust_force_closure",
                                                                           0.5, 0.6, 0.01)
    own = config_from_dict({"training": {"dataset_path": "x", "gripper": "parallel_jaw", "im_mean": 0.5,
                                         "im_std": 0.02}})
    s = resolve_data_settings(own, info)
    assert (s.gripper, s.im_mean, s.label_scale) == ("parallel_jaw", 0.5, 1.0)
    with pytest.raises(ConfigError, match="training.gripper"):
        resolve_data_settings(config_from_dict({"training": {"dataset_path": "x"}}), {})
    turned = {"training": {"dataset_path": "x"}, "augmentation": {"rotate_90": True}}
    assert resolve_data_settings(config_from_dict(turned), info).gripper == "suction"
    with pytest.raises(ConfigError, match="augmentation.rotate_90 .* parallel_jaw"):
        resolve_data_settings(config_from_dict(turned), {**info, "gripper": "parallel_jaw"})


@pytest.mark.parametrize("data, message", [
    ({"training": {"dataset_path": "x", "batch_size": -1}}, "training.batch_size must be > 0, got -1"),
    ({"training": {"dataset_path": "x", "bogus": 1}}, "unknown key 'training.bogus'"),
    ({"training": {"dataset_path": "x"}, "optimiser": {}}, "unknown key 'optimiser'"),
    ({"training": {"dataset_path": "x", "num_epochs": "ten"}}, "training.num_epochs must be int, got 'ten'"),
    ({"training": {"dataset_path": "x", "wandb": 1}}, "training.wandb must be bool"),
    ({}, "training.dataset_path is required"),
    ({"model": "ResNet", "training": {"dataset_path": "x"}}, "model must be one of"),
    ({"dataset": "dexnet4", "training": {"dataset_path": "x"}}, "dataset must be one of"),
    ({"optimizer": {"name": "rmsprop"}, "training": {"dataset_path": "x"}}, "optimizer.name"),
    ({"optimizer": {"scheduler_gamma": 0}, "training": {"dataset_path": "x"}}, "optimizer.scheduler_gamma"),
    ({"training": {"dataset_path": "x", "split": "shuffled"}}, "training.split"),
    ({"training": {"dataset_path": "x", "pos_weight": 0.5}}, "training.pos_weight must be >= 1"),
    ({"augmentation": {"gp_sigma": -1}, "training": {"dataset_path": "x"}}, "augmentation.gp_sigma"),
    ({"outputs": {"val_print_every": 0}, "training": {"dataset_path": "x"}}, "outputs.val_print_every"),
    ({"training": {"dataset_path": "x", "ordered_split": True, "split": "object"}},
     "both choose the split; give one of them"),
    ({"training": {"dataset_path": "x", "prediction_threshold": 1.5}}, "training.prediction_threshold"),
    ({"recipe": "dexnet5", "training": {"dataset_path": "x"}}, "recipe must be one of"),
    ({"augmentation": {"mode": "seed"}, "training": {"dataset_path": "x"}}, "augmentation.mode"),
])
def test_bad_values_name_the_key(data, message):
    with pytest.raises(ConfigError, match=message.replace(".", r"\.").replace("(", r"\(")):
        config_from_dict(data)


def test_overrides(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({"training": {"dataset_path": "x"}}))
    cfg = load_config(path, ["training.batch_size=64", "optimizer.name=adam", "model_kwargs={channels: 8}"])
    assert cfg.training.batch_size == 64 and cfg.optimizer.name == "adam"
    assert cfg.model_kwargs == {"channels": 8}
    with pytest.raises(ConfigError, match="training.batch_size must be > 0, got 0"):
        load_config(path, ["training.batch_size=0"])
    with pytest.raises(ConfigError, match="key=value"):
        load_config(path, ["training.batch_size"])
    # YAML 1.1 reads exponents without a dot as strings; float keys take them as numbers
    path.write_text("training: {dataset_path: x}\noptimizer: {learning_rate: 1e-3}\n")
    assert load_config(path, ["optimizer.weight_decay=5E-4"]).optimizer.learning_rate == 1e-3
    assert load_config(path, ["optimizer.weight_decay=5E-4"]).optimizer.weight_decay == 5e-4
    with pytest.raises(ConfigError, match="optimizer.learning_rate must be float, got 'e-3'"):
        load_config(path, ["optimizer.learning_rate=e-3"])
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "missing.yaml")


def test_malformed_yaml_is_one_line_with_its_place(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("training:\n  dataset_path: x\n  batch_size: [64\noptimizer: {}\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    text = str(info.value)
    assert "\n" not in text and text.startswith(f"{path}: not valid YAML (") and "line 4" in text
    path.write_text("training:\n  dataset_path: x\n")
    with pytest.raises(ConfigError, match=r"override 'training.batch_size=\[64': value is not valid YAML"):
        load_config(path, ["training.batch_size=[64"])


def test_shipped_example_configs_load():
    configs = sorted((ROOT / "config" / "train").glob("*.yaml"))
    assert {p.stem for p in configs} >= {"dexnet2", "dexnet3", "dexnet2_pj_small", "dexnet3_suction_small"}
    for path in configs:
        cfg = load_config(path)
        assert cfg.run_dir.name == cfg.name


def test_reference_files_are_reference_recipes_and_resize_is_ignored(caplog):
    with caplog.at_level(logging.INFO, logger="dexnet_core.train.config"):
        cfg = load_config(ROOT / "test" / "fixtures" / "reference_configs" / "dexnet2.yaml")
    assert cfg.recipe == "reference" and cfg.augmentation.mode == "reference" and not cfg.training.amp
    assert cfg.report_thresholds == (0.2, 0.5)
    assert "training.resize: False ignored" in caplog.text
    for data in ({"model": "DexNetBase", "dataset": "dexnet3", "training": {"dataset_path": "x", "seed": 1}},
                 {"model": "gqcnn_small", "dataset": "dexnet3", "training": {"dataset_path": "x"}},
                 {"training": {"dataset_path": "x"}}):  # one of our keys, our model, no model
        ours = config_from_dict(data)
        assert ours.recipe == "dexnet_ros" and ours.augmentation.mode == "dexnet_ros" and ours.training.amp
        assert ours.report_thresholds == (0.5,)
    # overrides do not change the recipe; an explicit threshold goes first
    cfg = load_config(ROOT / "test" / "fixtures" / "reference_configs" / "dexnet3.yaml",
                      ["training.num_threads=1", "training.prediction_threshold=0.3"])
    assert cfg.recipe == "reference" and cfg.report_thresholds == (0.3, 0.2, 0.5)
    assert config_from_dict({"recipe": "reference", "training": {"dataset_path": "x", "seed": 1}}
                            ).augmentation.mode == "reference"


@pytest.mark.parametrize("name", ["dexnet2", "dexnet3", "dexnet3_efficientnet"])
def test_shipped_reference_recipes_match_the_reference(name):
    ours = yaml.safe_load((ROOT / "config" / "train" / f"{name}.yaml").read_text())
    ref = yaml.safe_load((ROOT / "test" / "fixtures" / "reference_configs" / f"{name}.yaml").read_text())
    for raw in (ours, ref):  # where the files live and the optional logging are ours to choose
        del raw["training"]["dataset_path"], raw["outputs"]["save_directory"], raw["training"]["wandb"]
        raw["training"].pop("resize", None)
    assert ours == ref
    assert load_config(ROOT / "config" / "train" / f"{name}.yaml").recipe == "reference"


def test_ordered_split_chooses_the_split():
    def kind(**training):
        return config_from_dict({"training": {"dataset_path": "x", **training}}).training.split_kind

    assert (kind(), kind(ordered_split=True), kind(ordered_split=False), kind(split="object")) == (
        "auto", "ordered", "random", "object")
