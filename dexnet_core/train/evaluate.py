"""Scoring a GraspQualityModel on a cached dataset split and summarising the result.

Used by the training loop (validation) and by `dexnet eval`.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from dexnet_core.data.cache import CachedDataset, open_dataset
from dexnet_core.data.loader import BatchLoader, subsample
from dexnet_core.data.shards import DEPTH_FIELD, OBJECT_FIELD, POSE_FIELD
from dexnet_core.data.splits import Split, make_split
from dexnet_core.errors import DatasetError
from dexnet_core.models.symmetries import symmetry_group, symmetry_mean
from dexnet_core.train import metrics

logger = logging.getLogger(__name__)

EVAL_BATCH = 1024


@torch.no_grad()
def predict(gqm, loader: BatchLoader, indices: np.ndarray,
            symmetries: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Scores (n,) float32 and labels (n,) bool of the datapoints ``np.sort(indices)``, in that order.

    ``symmetries`` > 1 averages each crop's score over that many of its gripper's symmetries
    (``dexnet_core.models.symmetries``), as the planner's ``jaw_symmetries`` / ``suction_symmetries`` do.
    """
    group = symmetry_group(gqm.gripper, symmetries)
    indices = np.sort(np.asarray(indices))
    model = gqm.model
    was_training = model.training
    model.eval()
    scores, labels = [], []
    for batch in loader.iterate(indices):
        z = gqm.normalize_z(batch.z) if gqm.uses_depth else None
        q = symmetry_mean(lambda x, z=z: torch.sigmoid(model.logits(x, z))[:, None, None],
                          gqm.normalize_depth(batch.im), group)
        scores.append(q[:, 0, 0].float().cpu().numpy())
        labels.append(batch.label.cpu().numpy() > 0.5)
    model.train(was_training)
    if not scores:
        return np.zeros(0, np.float32), np.zeros(0, bool)
    return np.concatenate(scores), np.concatenate(labels)


def summarize(labels: np.ndarray, scores: np.ndarray, thresholds: Sequence[float] = (0.5,)) -> dict:
    """Loss, accuracy, precision, recall, F1, average precision, ROC AUC and label balance.

    Accuracy, precision, recall, F1 and the confusion counts are those of ``score >= thresholds[0]``
    (``prediction_threshold``); ``at_threshold`` maps each of ``thresholds`` to its accuracy, precision,
    recall and F1.
    """
    report = metrics.classification_report(labels, scores, thresholds[0])
    report["prediction_threshold"] = float(thresholds[0])
    report["at_threshold"] = {
        str(t): {k: v for k, v in metrics.classification_report(labels, scores, t).items()
                 if k in ("accuracy", "precision", "recall", "f1")} for t in thresholds}
    report.update(loss=metrics.bce_loss(labels, scores),
                  average_precision=metrics.average_precision(labels, scores),
                  roc_auc=metrics.roc_auc(labels, scores), num=int(len(labels)),
                  positive_fraction=float(np.mean(labels)) if len(labels) else float("nan"))
    return report


def dataset_fingerprint(data: CachedDataset) -> str:
    """Short hash of the dataset's shard names, sizes and counts (stored in checkpoints)."""
    sig = [s.signature()[:3] for infos in data.layout.fields.values() for s in infos]
    return hashlib.sha1(json.dumps(sig).encode()).hexdigest()[:16]


def positives(data: CachedDataset, label_field: str, threshold: float, scale: float = 1.0) -> np.ndarray:
    """(N,) bool: ``label * scale > threshold`` (threshold in scaled units)."""
    return np.asarray(data[label_field], dtype=np.float64) * scale > threshold


@dataclass
class EvalResult:
    """Metrics of one evaluation plus the arrays behind them."""

    report: dict
    labels: np.ndarray
    scores: np.ndarray
    split: Split


def evaluate_checkpoint(gqm, dataset: str | Path, split: str = "val", training_state: dict | None = None,
                        max_datapoints: int | None = None, cache_dir: str | Path | None = None,
                        num_workers: int = 1, symmetries: int = 1,
                        thresholds: Sequence[float] = (0.5,)) -> EvalResult:
    """Score ``gqm`` on a dataset split; the split comes from the training state when it fits the dataset.

    split : "val", "train" or "all". Without a stored split, the kind/seed in ``gqm.config`` (or "auto")
    is recomputed. Also reports the depth mean/std of the evaluated crops (m) and, when the dataset has
    object labels, the number of objects and a 95% bootstrap interval of the AP over objects.
    ``symmetries``: see ``predict``; ``thresholds``: see ``summarize``.
    """
    if split not in ("val", "train", "all"):
        raise ValueError(f"split must be 'val', 'train' or 'all', got {split!r}")
    fields = [DEPTH_FIELD, gqm.label_field] + ([POSE_FIELD] if gqm.uses_depth else [])
    data = open_dataset(dataset, fields, optional=[OBJECT_FIELD], cache_dir=cache_dir)
    n = data.num_datapoints
    stored = (training_state or {}).get("split")
    if stored is not None and int(stored["num_datapoints"]) == n:
        sp = Split.from_state(stored)
    else:
        if stored is not None:
            logger.warning("stored split is for %d datapoints, dataset has %d: recomputing",
                           int(stored["num_datapoints"]), n)
        tcfg = gqm.config.get("training", {})
        kind = gqm.meta.get("split") or tcfg.get("split", "auto")  # the kind the run actually made ...
        if (kind == "object" and not data.has(OBJECT_FIELD)) or (
                kind == "image_wise" and not (Path(dataset) / "splits" / "image_wise").is_dir()):
            kind = "auto"  # ... unless this dataset cannot make it
        sp = make_split(n, kind, seed=int(tcfg.get("seed", 0)),
                        val_fraction=float(tcfg.get("val_fraction", 0.2)),
                        object_labels=data[OBJECT_FIELD] if data.has(OBJECT_FIELD) else None,
                        dataset_root=dataset)
    indices = {"val": sp.val, "train": sp.train, "all": np.arange(n)}[split]
    indices = subsample(indices, max_datapoints, seed=0)
    if len(indices) == 0:
        raise DatasetError(f"{dataset}: the {split!r} split is empty")
    positive = positives(data, gqm.label_field, gqm.threshold)
    loader = BatchLoader(data, positive, batch_size=EVAL_BATCH, device=gqm.device, with_z=gqm.uses_depth,
                         num_workers=num_workers)
    scores, labels = predict(gqm, loader, indices, symmetries)
    report = summarize(labels, scores, thresholds)
    if data.has(OBJECT_FIELD):
        objects = np.asarray(data[OBJECT_FIELD])[np.sort(indices)]
        report.update(num_objects=int(len(np.unique(objects))), average_precision_ci95=list(
            metrics.average_precision_interval(labels, scores, objects)))
    sums = np.zeros(2)
    for start in range(0, len(indices), 65536):
        chunk = np.asarray(data[DEPTH_FIELD][indices[start:start + 65536]], dtype=np.float64)
        sums += (chunk.sum(), np.square(chunk).sum())
    count = len(indices) * data[DEPTH_FIELD].shape[1] * data[DEPTH_FIELD].shape[2]
    mean = sums[0] / count
    report.update(split=split, split_kind=sp.kind, depth_mean=float(mean),
                  depth_std=float(np.sqrt(max(sums[1] / count - mean**2, 0.0))),
                  label_field=gqm.label_field, label_threshold=float(gqm.threshold), symmetries=symmetries)
    return EvalResult(report, labels, scores, sp)
