"""Training configuration: frozen dataclasses read from the reference's YAML keys plus our additions.

The Dex-Net 5.0 keys are accepted as they are (``name``, ``model``, ``dataset``, ``optimizer{...}``,
``training{...}``, ``outputs{...}``); ``training.resize``, which the reference never reads, is accepted and
ignored with one info line. ``load_config`` rejects unknown keys and bad values with a one-line ConfigError
naming the key, before any work starts. Nothing outside this module indexes the raw dict.

Recipe: a config file that holds only Dex-Net 5.0 keys, with one of its models and datasets, is a
reference config (``recipe: reference``, also settable explicitly): it trains with the reference's
augmentation (``augmentation.mode: reference``), in fp32 (``training.amp: false``), and reports accuracy,
precision and recall at the reference's prediction threshold 0.2 and at 0.5. Any other config
(``recipe: dexnet_ros``) keeps our augmentation and reports at ``training.prediction_threshold`` (0.5).

Labels: a datapoint is positive when ``label_field * label_scale > GT_threshold``. Dex-Net 5.0 multiplies
``robust_ferrari_canny`` by 100 and uses GT_threshold 0.2; with ``dataset: dexnet2`` the default
``label_scale`` is 100, so its YAMLs mean the same (0.2 / 100 = the original 0.002). Everywhere else the
scale is 1. Checkpoints store the unscaled threshold (GT_threshold / label_scale) in the metric's own units.

Defaults for gripper, label field, threshold and depth normalisation come, in order of precedence, from
the config, the dataset's ``dataset.yaml`` (written by `dexnet synth`), then the ``dataset`` preset.
"""

from __future__ import annotations

import copy
import dataclasses
import logging
import re
import typing
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from dexnet_core.data.augment import AugmentConfig
from dexnet_core.data.splits import SPLIT_KINDS
from dexnet_core.errors import ConfigError, yaml_error_line

logger = logging.getLogger(__name__)

GRIPPERS = ("parallel_jaw", "suction")
RECIPES = ("dexnet_ros", "reference")
# every key a Dex-Net 5.0 config holds; a file with only these is a reference config
REFERENCE_KEYS = {
    "": {"name", "model", "dataset", "optimizer", "training", "outputs"},
    "optimizer": {"name", "learning_rate", "momentum", "scheduler_gamma", "weight_decay"},
    "training": {"dataset_path", "batch_size", "num_epochs", "GT_threshold", "wandb", "ordered_split",
                 "pos_weight", "resize"},
    "outputs": {"save_directory", "save_name", "training_print_every", "val_print_every",
                "save_every_x_epoch"},
}
IGNORED_REFERENCE_KEYS = {("training", "resize")}  # in the reference's configs, never read by its code
REFERENCE_PREDICTION_THRESHOLD = 0.2  # the reference's accuracy / precision / recall threshold
# reference model names -> registry names
MODEL_ALIASES = {"DexNetBase": "dexnet_base", "DexNetGQCNN": "dexnet_base", "EfficientNet": "efficientnet_b0"}
# dataset presets: the released Dex-Net datasets (normalisation constants as published)
DATASET_PRESETS: dict[str, dict] = {
    "dexnet2": {"gripper": "parallel_jaw", "label_field": "robust_ferrari_canny", "label_threshold": 0.002,
                "label_scale": 100.0, "im_mean": 0.7000409878366362, "im_std": 0.004000758979378677},
    "dexnet3": {"gripper": "suction", "label_field": "robust_suction_wrench_resistance",
                "label_threshold": 0.2, "label_scale": 1.0,
                "im_mean": 0.59784445, "im_std": 0.00770147890625},
    "custom": {},
}


def _positive(key: str, value: float | int | None, strict: bool = True) -> None:
    if value is not None and (value <= 0 if strict else value < 0):
        raise ValueError(f"{key} must be {'>' if strict else '>='} 0, got {value}")


@dataclass(frozen=True)
class OptimizerConfig:
    """``optimizer`` section (reference keys)."""

    name: str = "sgd"               # sgd | adam
    learning_rate: float = 0.01
    momentum: float = 0.9           # sgd only
    scheduler_gamma: float = 0.95   # ExponentialLR factor per epoch (1.0 = constant)
    weight_decay: float = 0.0005
    grad_clip: float = 0.0          # max gradient norm, 0 = off

    def __post_init__(self) -> None:
        if self.name not in ("sgd", "adam"):
            raise ValueError(f"optimizer.name must be 'sgd' or 'adam', got {self.name!r}")
        _positive("optimizer.learning_rate", self.learning_rate)
        if not 0.0 <= self.momentum < 1.0:
            raise ValueError(f"optimizer.momentum must be in [0, 1), got {self.momentum}")
        if not 0.0 < self.scheduler_gamma <= 1.0:
            raise ValueError(f"optimizer.scheduler_gamma must be in (0, 1], got {self.scheduler_gamma}")
        _positive("optimizer.weight_decay", self.weight_decay, strict=False)
        _positive("optimizer.grad_clip", self.grad_clip, strict=False)


@dataclass(frozen=True)
class TrainingConfig:
    """``training`` section: reference keys first, then ours."""

    dataset_path: str = ""
    batch_size: int = 256
    num_epochs: int = 10
    GT_threshold: float | None = None    # on label_field * label_scale; default dataset threshold * scale
    wandb: bool = False                  # also log to Weights & Biases (offline without a login)
    ordered_split: bool | None = None    # true: ordered split, false: random (default: ``split``)
    pos_weight: float = 1.0              # oversample positives: each epoch sees each positive this often
    gripper: str | None = None           # parallel_jaw | suction (default: dataset.yaml / preset)
    label_field: str | None = None       # default: dataset.yaml / preset
    label_scale: float | None = None     # default: 100 for dexnet2 robust_ferrari_canny, else 1
    im_mean: float | None = None         # depth normalisation (m); default dataset.yaml / preset / computed
    im_std: float | None = None
    split: str = "auto"                  # auto | ordered | random | object | image_wise
    val_fraction: float = 0.2
    seed: int = 0
    max_steps: int | None = None         # stop after this many optimizer steps in total
    max_datapoints: int | None = None    # train on a seeded subset of the training split
    val_max_datapoints: int | None = None  # validate on a seeded subset of the validation split
    num_workers: int = 1                 # batch-gathering threads
    num_threads: int | None = None       # torch CPU threads (default: torch's); 1 on a shared machine
    amp: bool = True                     # mixed precision on CUDA (ignored on CPU)
    checkpoint_every_steps: int = 500    # write last.pt this often (resume loses at most this many steps)
    prediction_threshold: float | None = None  # score >= this predicts success (default 0.5; 0.2 reference)
    cache_dir: str | None = None         # memmap cache folder (default <dataset>/cache)
    init_checkpoint: str | None = None   # start from these weights and normalisation (fine-tuning)

    def __post_init__(self) -> None:
        if not self.dataset_path:
            raise ValueError("training.dataset_path is required")
        for key in ("batch_size", "num_epochs", "max_steps", "max_datapoints", "val_max_datapoints",
                    "checkpoint_every_steps", "im_std", "label_scale", "num_threads"):
            _positive(f"training.{key}", getattr(self, key))
        if self.pos_weight < 1.0:
            raise ValueError(f"training.pos_weight must be >= 1, got {self.pos_weight}")
        if self.gripper is not None and self.gripper not in GRIPPERS:
            raise ValueError(f"training.gripper must be one of {GRIPPERS}, got {self.gripper!r}")
        if self.split not in SPLIT_KINDS:
            raise ValueError(f"training.split must be one of {SPLIT_KINDS}, got {self.split!r}")
        if self.ordered_split is not None and self.split != "auto":
            raise ValueError(f"training.ordered_split ({self.ordered_split}) and training.split "
                             f"({self.split!r}) both choose the split; give one of them")
        if self.prediction_threshold is not None and not 0.0 < self.prediction_threshold < 1.0:
            raise ValueError(f"training.prediction_threshold must be in (0, 1), got "
                             f"{self.prediction_threshold}")
        if not 0.0 < self.val_fraction < 1.0:
            raise ValueError(f"training.val_fraction must be in (0, 1), got {self.val_fraction}")
        _positive("training.num_workers", self.num_workers, strict=False)

    @property
    def split_kind(self) -> str:
        """The split to make: ``ordered_split`` when given (true: ordered, false: random), else ``split``."""
        if self.ordered_split is None:
            return self.split
        return "ordered" if self.ordered_split else "random"


@dataclass(frozen=True)
class OutputsConfig:
    """``outputs`` section: the run folder is ``save_directory/save_name``."""

    save_directory: str = "runs"
    save_name: str = ""                  # default: the config's ``name``
    training_print_every: int = 100      # steps between training-loss log lines
    val_print_every: int | None = None   # steps between validation passes (as the reference); also per epoch
    save_every_x_epoch: int = 0          # also keep epoch_NNN.pt every x epochs (0 = off)
    tensorboard: bool = True             # TensorBoard event files in <run>/tb (needs the [log] extra)

    def __post_init__(self) -> None:
        _positive("outputs.training_print_every", self.training_print_every)
        _positive("outputs.val_print_every", self.val_print_every)
        _positive("outputs.save_every_x_epoch", self.save_every_x_epoch, strict=False)


@dataclass(frozen=True)
class TrainConfig:
    """A whole training run."""

    training: TrainingConfig             # required: at least training.dataset_path
    name: str = "gqcnn"
    recipe: str = "dexnet_ros"           # dexnet_ros | reference (set for files with only reference keys)
    model: str = "gqcnn_small"           # registry name, or DexNetBase / EfficientNet
    model_kwargs: dict = field(default_factory=dict)
    dataset: str = "custom"              # dexnet2 | dexnet3 | custom: preset defaults
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    outputs: OutputsConfig = field(default_factory=OutputsConfig)
    augmentation: AugmentConfig = field(default_factory=AugmentConfig)

    def __post_init__(self) -> None:
        from dexnet_core.models import list_models

        object.__setattr__(self, "model", MODEL_ALIASES.get(self.model, self.model))
        if self.model not in list_models():
            valid = list_models() + sorted(MODEL_ALIASES)
            raise ValueError(f"model must be one of {valid}, got {self.model!r}")
        if self.dataset not in DATASET_PRESETS:
            raise ValueError(f"dataset must be one of {sorted(DATASET_PRESETS)}, got {self.dataset!r}")
        if not self.name:
            raise ValueError("name must not be empty")
        if self.recipe not in RECIPES:
            raise ValueError(f"recipe must be one of {RECIPES}, got {self.recipe!r}")

    @property
    def report_thresholds(self) -> tuple[float, ...]:
        """Prediction thresholds of the reported accuracy / precision / recall, the primary one first."""
        return report_thresholds(self.recipe, self.training.prediction_threshold)

    @property
    def run_dir(self) -> Path:
        """Folder of this run's checkpoints, logs and split."""
        return Path(self.outputs.save_directory) / (self.outputs.save_name or self.name)

    def to_dict(self) -> dict:
        """Plain nested dict (YAML / checkpoint friendly)."""
        return dataclasses.asdict(self)


def report_thresholds(recipe: str, prediction_threshold: float | None) -> tuple[float, ...]:
    """The primary threshold (given, else 0.2 for the reference recipe and 0.5 for ours), then, for the
    reference recipe, whichever of 0.2 and 0.5 it is not."""
    reference = recipe == "reference"
    primary = prediction_threshold
    if primary is None:
        primary = REFERENCE_PREDICTION_THRESHOLD if reference else 0.5
    extra = (REFERENCE_PREDICTION_THRESHOLD, 0.5) if reference else ()
    return tuple(dict.fromkeys((float(primary), *extra)))


@dataclass(frozen=True)
class DataSettings:
    """Label and normalisation settings resolved from config, dataset.yaml and preset."""

    gripper: str
    label_field: str
    label_scale: float
    gt_threshold: float        # on label * label_scale
    im_mean: float | None      # None: compute from the training split
    im_std: float | None

    @property
    def threshold(self) -> float:
        """Threshold in the label metric's own units (stored in checkpoints)."""
        return self.gt_threshold / self.label_scale


def resolve_data_settings(cfg: TrainConfig, dataset_yaml: dict) -> DataSettings:
    """Fill the label / normalisation defaults (config > dataset.yaml > preset); ConfigError if unknown."""
    t, preset = cfg.training, DATASET_PRESETS[cfg.dataset]

    def pick(key: str, own: object, yaml_key: str | None = None) -> object:
        if own is not None:
            return own
        return dataset_yaml.get(yaml_key or key, preset.get(key))

    gripper = pick("gripper", t.gripper)
    label_field = pick("label_field", t.label_field)
    if gripper not in GRIPPERS:
        raise ConfigError(f"training.gripper must be one of {GRIPPERS} (no default from dataset.yaml or "
                          f"dataset preset {cfg.dataset!r}), got {gripper!r}")
    if cfg.augmentation.rotate_90 and gripper != "suction":
        raise ConfigError(f"augmentation.rotate_90 is a label symmetry only for suction crops, not for the "
                          f"{gripper} gripper (it turns the jaw axis vertical)")
    if not label_field:
        raise ConfigError(f"training.label_field is required (no default from dataset.yaml or dataset preset "
                          f"{cfg.dataset!r})")
    scale = t.label_scale
    if scale is None:
        scale = preset.get("label_scale", 1.0) if label_field == preset.get("label_field") else 1.0
    gt = t.GT_threshold
    if gt is None:
        raw = dataset_yaml.get("label_threshold", preset.get("label_threshold"))
        if raw is None:
            raise ConfigError("training.GT_threshold is required (no label_threshold in dataset.yaml "
                              "or dataset preset)")
        gt = float(raw) * scale
    im_mean, im_std = pick("im_mean", t.im_mean), pick("im_std", t.im_std)
    if im_mean is None or im_std is None:
        return DataSettings(str(gripper), str(label_field), float(scale), float(gt), None, None)
    if float(im_std) <= 0:
        raise ConfigError(f"training.im_std must be > 0, got {im_std}")
    return DataSettings(str(gripper), str(label_field), float(scale), float(gt),
                        float(im_mean), float(im_std))


_YAML11_EXPONENT = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+")


def _coerce(key: str, value: object, hint: object) -> object:
    """Check ``value`` against a field annotation (int, float, bool, str, dict, optional)."""
    args = typing.get_args(hint)
    if type(None) in args:
        if value is None:
            return None
        hint = next(a for a in args if a is not type(None))
    if hint is bool:
        if isinstance(value, bool):
            return value
    elif hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
    elif hint is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str) and _YAML11_EXPONENT.fullmatch(value.strip()):
            return float(value)  # PyYAML reads 1e-3 (no dot) as a string
    elif hint is str:
        if isinstance(value, str):
            return value
    elif hint is dict:
        if isinstance(value, dict):
            return value
    raise ConfigError(f"{key} must be {getattr(hint, '__name__', hint)}, got {value!r}")


def _build(cls: type, data: object, prefix: str) -> object:
    """Instantiate dataclass ``cls`` from a mapping, recursing into dataclass fields."""
    if not isinstance(data, dict):
        raise ConfigError(f"{prefix or 'config'} must be a mapping, got {data!r}")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    kwargs = {}
    for key, value in data.items():
        full = f"{prefix}{key}"
        if key not in names:
            raise ConfigError(f"unknown key {full!r} (valid in {prefix.rstrip('.') or 'top level'}: "
                              f"{', '.join(names)})")
        hint = hints[key]
        if dataclasses.is_dataclass(hint):
            kwargs[key] = _build(hint, value or {}, f"{full}.")
        else:
            kwargs[key] = _coerce(full, value, hint)
    for name in names:
        if name not in kwargs and dataclasses.is_dataclass(hints[name]):
            kwargs[name] = _build(hints[name], {}, f"{prefix}{name}.")
    try:
        return cls(**kwargs)
    except ConfigError:
        raise
    except ValueError as exc:
        msg = str(exc)
        raise ConfigError(msg if prefix == "" or msg.startswith(prefix) else f"{prefix}{msg}") from exc


def apply_overrides(data: dict, overrides: list[str]) -> dict:
    """Apply ``section.key=value`` overrides (value parsed as YAML) to a raw config dict."""
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"override must look like section.key=value, got {item!r}")
        path, raw = item.split("=", 1)
        keys = path.strip().split(".")
        node = data
        for k in keys[:-1]:
            node = node.setdefault(k, {})
            if not isinstance(node, dict):
                raise ConfigError(f"override {item!r}: {k!r} is not a section")
        try:
            node[keys[-1]] = yaml.safe_load(raw)
        except yaml.YAMLError as exc:
            raise ConfigError(f"override {item!r}: value is not valid YAML ({yaml_error_line(exc)})") from exc
    return data


def _is_reference_config(data: dict) -> bool:
    """Whether ``data`` looks like a reference config: a reference model and dataset, only its keys."""
    if not set(data) <= REFERENCE_KEYS[""] or not {"model", "dataset", "training"} <= set(data):
        return False
    if data["model"] not in ("DexNetBase", "DexNetGQCNN", "EfficientNet") or data["dataset"] not in (
            "dexnet2", "dexnet3"):
        return False
    return all(isinstance(data.get(s), (dict, type(None))) and set(data.get(s) or {}) <= REFERENCE_KEYS[s]
               for s in ("optimizer", "training", "outputs"))


def config_from_dict(data: dict, overrides: list[str] = ()) -> TrainConfig:
    """Build and validate a TrainConfig from a raw dict (plus overrides).

    The recipe is decided on ``data`` before the overrides: a reference model and dataset and only
    reference keys make it ``reference``.
    """
    data = copy.deepcopy(data)
    if "recipe" not in data and _is_reference_config(data):
        data["recipe"] = "reference"
        logger.info("config holds only Dex-Net 5.0 keys: reference recipe (reference augmentation, metrics "
                    "at prediction thresholds 0.2 and 0.5)")
    if data.get("recipe") == "reference":  # the reference's augmentation, in fp32
        for section, key, value in (("augmentation", "mode", "reference"), ("training", "amp", False)):
            if isinstance(data.get(section, {}), dict):
                data.setdefault(section, {}).setdefault(key, value)
    for section, key in IGNORED_REFERENCE_KEYS:
        if isinstance(data.get(section), dict) and key in data[section]:
            value = data[section].pop(key)
            logger.info("%s.%s: %r ignored (the reference's configs hold it; its code never reads it)",
                        section, key, value)
    return _build(TrainConfig, apply_overrides(data, list(overrides)), "")


def load_config(path: str | Path, overrides: list[str] = ()) -> TrainConfig:
    """Read a training YAML (reference keys accepted), apply ``--set`` overrides and validate it.

    Relative ``training.dataset_path`` / ``outputs.save_directory`` stay relative to the working directory.
    """
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except FileNotFoundError as exc:
        raise ConfigError(f"config file {path} not found") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({yaml_error_line(exc)})") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at top level")
    return config_from_dict(data, overrides)
