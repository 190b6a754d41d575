"""Self-describing GQ-CNN checkpoints and the ``GraspQualityModel`` that scores metric depth crops.

A checkpoint is ONE file readable with ``torch.load(weights_only=True)``: a dict with
``format`` ("dexnet_ros.gqcnn"), ``format_version``, ``arch`` (registry name), ``arch_kwargs``,
``state_dict``, ``gripper`` ("parallel_jaw" | "suction"), ``norm`` (im_mean, im_std, z_mean, z_std in
metres), ``label_field``, ``threshold``, ``config`` (training config), ``meta`` (package version, dataset
hash, ...) and ``training_state`` (optimizer/scheduler state, step, epoch, ... for resuming).

``load_checkpoint`` also accepts a bare state dict saved by the Dex-Net 5.0 reference (DexNetBase,
its converted BaseFCGQCNN or EfficientNet: see reference_layout.py), given the gripper it was trained for,
and the names of the shipped models (see pretrained.py).
"""

from __future__ import annotations

import logging
import math
import re
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from dexnet_core import __version__
from dexnet_core.errors import CheckpointError
from dexnet_core.models.pretrained import list_pretrained, pretrained_path
from dexnet_core.models.reference_layout import from_reference
from dexnet_core.models.registry import get_model

logger = logging.getLogger(__name__)

FORMAT = "dexnet_ros.gqcnn"
FORMAT_VERSION = 1
REFERENCE_SOURCE = "reference state dict"  # meta["source"] of a model loaded from a bare reference file
GRIPPERS = ("parallel_jaw", "suction")


@dataclass(frozen=True)
class Normalization:
    """Input normalisation: network input = (depth_m - im_mean) / im_std, z = (z_m - z_mean) / z_std."""

    im_mean: float
    im_std: float
    z_mean: float = 0.0
    z_std: float = 1.0

    def __post_init__(self) -> None:
        for name in ("im_mean", "im_std", "z_mean", "z_std"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ValueError(f"Normalization.{name} must be a finite number, got {value!r}")
        if self.im_std <= 0 or self.z_std <= 0:
            raise ValueError(f"Normalization stds must be > 0, got im_std={self.im_std}, z_std={self.z_std}")


# Dataset statistics of the released Dex-Net datasets (SEED.md) and their label conventions.
DEXNET2_NORM = Normalization(0.7000409878366362, 0.004000758979378677)
DEXNET3_NORM = Normalization(0.59784445, 0.00770147890625)
GRIPPER_DEFAULTS: dict[str, tuple[Normalization, str, float]] = {
    "parallel_jaw": (DEXNET2_NORM, "robust_ferrari_canny", 0.002),
    "suction": (DEXNET3_NORM, "robust_suction_wrench_resistance", 0.2),
}


@dataclass
class GraspQualityModel:
    """A GQ-CNN together with everything needed to score metric depth: normalisation, gripper, labels."""

    model: nn.Module
    arch: str
    arch_kwargs: dict = field(default_factory=dict)
    gripper: str = "suction"
    norm: Normalization = DEXNET3_NORM
    label_field: str = "robust_suction_wrench_resistance"
    threshold: float = 0.2
    config: dict = field(default_factory=dict)
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.gripper not in GRIPPERS:
            raise ValueError(f"gripper must be one of {GRIPPERS}, got {self.gripper!r}")
        self._fc_cache: dict[tuple[bool, str], nn.Module] = {}

    @property
    def device(self) -> torch.device:
        """Device holding the model's parameters."""
        return next(self.model.parameters()).device

    @property
    def uses_depth(self) -> bool:
        """Whether the network takes the gripper depth as a second input."""
        return bool(self.model.uses_depth)

    def to(self, device: str | torch.device) -> GraspQualityModel:
        """Move the network to ``device`` (in place) and return self."""
        self.model.to(device)
        self._fc_cache.clear()
        return self

    def normalize_depth(self, depth_m: torch.Tensor) -> torch.Tensor:
        """Metric depth -> network input."""
        return (depth_m - self.norm.im_mean) / self.norm.im_std

    def normalize_z(self, z_m: torch.Tensor) -> torch.Tensor:
        """Metric gripper depth -> network input."""
        return (z_m - self.norm.z_mean) / self.norm.z_std

    def _check_depths(self, depths_m: Any, n: int) -> torch.Tensor | None:
        if not self.uses_depth:
            if depths_m is not None:
                raise ValueError(f"model {self.arch!r} has no gripper-depth input; pass depths_m=None")
            return None
        if depths_m is None:
            raise ValueError(f"model {self.arch!r} needs gripper depths (metres), one per crop")
        z = torch.as_tensor(np.asarray(depths_m, dtype=np.float32) if not torch.is_tensor(depths_m)
                            else depths_m, dtype=torch.float32).reshape(-1)
        if z.shape[0] != n:
            raise ValueError(f"got {z.shape[0]} gripper depths for {n} inputs")
        return z

    @torch.no_grad()
    def score(self, crops_m: np.ndarray, depths_m: np.ndarray | None = None,
              batch_size: int = 1024) -> np.ndarray:
        """Success probabilities of grasps at the crop centres.

        ``crops_m`` (N, 32, 32) or (N, 32, 32, 1) depth in metres; ``depths_m`` (N,) gripper depths in
        metres (required iff the model uses depth). Returns (N,) float32 in [0, 1].
        """
        crops = np.asarray(crops_m, dtype=np.float32)
        if crops.ndim == 4 and crops.shape[-1] == 1:
            crops = crops[..., 0]
        size = self.model.input_size
        if crops.ndim != 3 or crops.shape[1:] != (size, size):
            raise ValueError(f"crops must be (N, {size}, {size}) metres, got shape {crops_m.shape}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        z_all = self._check_depths(depths_m, crops.shape[0])
        self.model.eval()
        device = self.device
        out = np.zeros(crops.shape[0], dtype=np.float32)
        for start in range(0, crops.shape[0], batch_size):
            im = torch.from_numpy(crops[start:start + batch_size]).to(device).unsqueeze(1)
            z = None if z_all is None else self.normalize_z(z_all[start:start + batch_size].to(device))
            out[start:start + batch_size] = self.model(self.normalize_depth(im), z).float().cpu().numpy()
        return out

    def fully_convolutional(self, exact: bool = True) -> nn.Module:
        """The cached FC-GQ-CNN of this model (see fc_gqcnn.to_fully_convolutional)."""
        from dexnet_core.models.fc_gqcnn import to_fully_convolutional

        key = (exact, str(self.device))
        if key not in self._fc_cache:
            self._fc_cache[key] = to_fully_convolutional(self.model, exact=exact)
        return self._fc_cache[key]

    @torch.no_grad()
    def heatmap(self, depth_m: torch.Tensor, depths_m: torch.Tensor | None = None, stride: int = 1,
                exact: bool = True, cells: torch.Tensor | None = None) -> torch.Tensor:
        """Quality of the 32x32 crop at every ``stride``-th position of a metric depth image.

        ``depth_m`` (B, 1, H, W) metres (H, W >= 32), ``depths_m`` (B,) gripper depths in metres (iff
        the model uses depth). Returns (B, Ho, Wo), Ho = (H - 32) // stride + 1 (``depths_m`` (B, K): K
        gripper depths per image -> (B, K, Ho, Wo) at little more than one map's cost). Cell (i, j) is the
        crop centred at pixel (row, col) = (i * stride + 16, j * stride + 16) (see heatmap_cell_centers).
        ``exact=False`` lets 'same'-padded models see the whole image (reference FC semantics, fast).
        ``cells`` (Ho, Wo) bool scores only those cells; the others read 0 (much faster on sparse cells).
        """
        im = torch.as_tensor(depth_m, dtype=torch.float32).to(self.device)
        if im.ndim != 4 or im.shape[1] != 1:
            raise ValueError(f"depth_m must be (B, 1, H, W), got shape {tuple(im.shape)}")
        per_image = depths_m is not None and np.ndim(depths_m) == 2
        k = np.shape(depths_m)[1] if per_image else 1
        z = self._check_depths(depths_m, im.shape[0] * k)
        z = None if z is None else self.normalize_z(z.to(self.device))
        if per_image:
            z = z.view(im.shape[0], k)
        fc = self.fully_convolutional(exact)
        if cells is not None:
            cells = torch.as_tensor(cells, dtype=torch.bool, device=self.device)
        return fc(self.normalize_depth(im), z, stride=stride, cells=cells)


def save_checkpoint(path: str | Path, gqm: GraspQualityModel, **extra: Any) -> Path:
    """Write ``gqm`` (and training state ``extra``: optimizer, scheduler, step, epoch, ...) to one file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = {"package_version": __version__, **gqm.meta}
    payload = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "arch": gqm.arch,
        "arch_kwargs": dict(gqm.arch_kwargs),
        "state_dict": {k: v.detach().cpu() for k, v in gqm.model.state_dict().items()},
        "gripper": gqm.gripper,
        "norm": asdict(gqm.norm),
        "label_field": gqm.label_field,
        "threshold": float(gqm.threshold),
        "input_size": int(gqm.model.input_size),
        "config": gqm.config,
        "meta": meta,
        "training_state": extra,
    }
    tmp = path.with_name(path.name + ".tmp")
    torch.save(payload, tmp)
    tmp.replace(path)  # atomic: a crash mid-write never leaves a truncated checkpoint
    return path


def _read(path: Path, device: str | torch.device) -> dict:
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    try:
        with warnings.catch_warnings():  # torch warns about pickle protocols before failing on them
            warnings.simplefilter("ignore")
            data = torch.load(path, map_location=device, weights_only=True)
    except Exception as exc:  # torch raises many types for corrupt files
        raise _unreadable(path, exc) from exc
    if not isinstance(data, dict):
        raise CheckpointError(f"{path}: expected a dict, found {type(data).__name__}")
    return data


def _unreadable(path: Path, exc: Exception) -> CheckpointError:
    """One line saying why ``torch.load`` failed (torch's own text spans lines and advises unsafe loading)."""
    found = re.search(r"Unsupported global: GLOBAL (\S+)", str(exc))
    if found:
        return CheckpointError(f"{path}: holds a Python object of type {found.group(1)}; only tensors and "
                               "plain data (numbers, strings, lists, dicts) are loaded, for safety")
    return CheckpointError(f"{path}: not a readable checkpoint: the file is corrupt, truncated or not a "
                           f"PyTorch file ({type(exc).__name__})")


def _resolve(path_or_name: str | Path) -> Path:
    path = Path(path_or_name)
    if not path.exists() and isinstance(path_or_name, str) and path_or_name in list_pretrained():
        return pretrained_path(path_or_name)
    return path


_OVERRIDES = ("gripper", "norm", "label_field", "threshold")


def load_checkpoint(path_or_name: str | Path, device: str | torch.device = "cpu",
                    bare_gripper: str | None = None, **overrides: Any) -> GraspQualityModel:
    """Load a checkpoint file, a bare reference state dict or a shipped model name.

    ``overrides`` (gripper, norm, label_field, threshold) replace the stored values. A bare reference
    state dict does not say its gripper: the ``gripper`` override (or ``bare_gripper``, which applies only
    to files that do not record a gripper, for callers that know the gripper they plan for) is required and
    selects the Dex-Net 2.0 (parallel_jaw) or 3.0 (suction) normalisation and labels. The model is in eval
    mode.
    """
    unknown = set(overrides) - set(_OVERRIDES)
    if unknown:
        raise ValueError(f"unknown override(s) {sorted(unknown)}; allowed: {', '.join(_OVERRIDES)}")
    if isinstance(overrides.get("norm"), dict):
        overrides["norm"] = Normalization(**overrides["norm"])
    path = _resolve(path_or_name)
    data = _read(path, device)
    if data.get("format") == FORMAT:
        try:
            arch, arch_kwargs = data["arch"], dict(data["arch_kwargs"])
            fields = {"gripper": data["gripper"], "norm": Normalization(**data["norm"]),
                      "label_field": data["label_field"], "threshold": float(data["threshold"]),
                      "config": data.get("config", {}), "meta": data.get("meta", {})}
            state = data["state_dict"]
        except (KeyError, TypeError, ValueError) as exc:
            raise CheckpointError(f"{path}: malformed checkpoint ({exc})") from exc
    else:
        found = from_reference(data)
        if found is None:
            raise CheckpointError(f"{path}: unrecognised state dict (keys {sorted(data)[:6]}...)")
        (arch, state), arch_kwargs = found, {}
        gripper = overrides.get("gripper", bare_gripper)
        if gripper is None:
            raise CheckpointError(f"{path}: a bare reference {arch} state dict does not say its gripper; "
                                  "pass --gripper parallel_jaw or --gripper suction (gripper= in Python)")
        if gripper not in GRIPPER_DEFAULTS:
            raise ValueError(f"gripper must be one of {GRIPPERS}, got {gripper!r}")
        norm, label_field, threshold = GRIPPER_DEFAULTS[gripper]
        fields = {"gripper": gripper, "norm": norm, "label_field": label_field, "threshold": threshold,
                  "config": {}, "meta": {"source": REFERENCE_SOURCE, "file": path.name}}
    fields.update(overrides)
    try:
        model = get_model(arch, **arch_kwargs)
    except ValueError as exc:
        raise CheckpointError(f"{path}: {exc}") from exc
    try:
        model.load_state_dict(state)
    except (RuntimeError, TypeError) as exc:
        raise CheckpointError(f"{path}: weights do not fit {arch} {arch_kwargs}: {exc}") from exc
    flush_tiny_weights(model)
    model.to(device).eval()
    return GraspQualityModel(model=model, arch=arch, arch_kwargs=arch_kwargs, **fields)


@torch.no_grad()
def flush_tiny_weights(model: nn.Module) -> int:
    """Set floating-point parameters below ``sqrt(tiny)`` of their dtype to 0; return how many there were.

    Weight decay drives dead weights towards 0. On x86 CPUs every multiply that reads or makes a subnormal
    number takes a slow microcode path: a trained 16-channel GQ-CNN with 36% subnormal fc weights ran its
    heatmaps 10-20x slower, and 2,100 weights of a 64-channel model just above the subnormal range (~1e-37)
    made subnormal products that cost 30% of its forward pass on 2 threads (``torch.set_flush_denormal``
    sets only the calling thread). Zeroing a weight below ``sqrt(tiny)`` (1.1e-19 in fp32) changes no
    output by more than ~1e-18. Half-precision parameters keep their subnormal limit.
    """
    count = 0
    for p in model.parameters():
        if p.is_floating_point():
            info = torch.finfo(p.dtype)
            tiny = p.abs() < (info.tiny ** 0.5 if info.bits >= 32 else info.tiny)
            count += int(tiny.sum())
            p[tiny] = 0.0
    return count


def load_training_state(path: str | Path) -> dict:
    """The extra entries saved with ``save_checkpoint(path, gqm, **extra)`` (empty for bare state dicts)."""
    path = Path(path)
    data = _read(path, "cpu")
    return dict(data.get("training_state", {})) if data.get("format") == FORMAT else {}

