"""Deterministic train/validation splits of a dataset, saved with each run so evaluation reuses them.

Kinds:

- ``ordered``: the reference's split, the first ``val_fraction`` of datapoints is validation (Dex-Net
  datasets are written object by object, so validation objects mostly differ from training objects).
- ``random``: a seeded random ``val_fraction`` of datapoints.
- ``object``: whole objects (``object_labels``) go to validation, seeded, until ``val_fraction`` of the
  datapoints is reached; no object appears in both sets.
- ``image_wise``: the dataset's ``splits/image_wise/{train,val}_indices.npz``.
- ``auto``: ``object`` when object labels exist, else ``image_wise`` when those files exist, else ``ordered``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dexnet_core.data.shards import read_index_file
from dexnet_core.errors import DatasetError

SPLIT_KINDS = ("auto", "ordered", "random", "object", "image_wise")


@dataclass(frozen=True)
class Split:
    """Sorted int64 datapoint indices of the two sets, and how they were made."""

    kind: str
    seed: int
    val_fraction: float
    num_datapoints: int
    train: np.ndarray
    val: np.ndarray

    def to_state(self) -> dict:
        """Checkpoint-friendly form (torch tensors, loadable with weights_only=True).

        The training indices are stored only when they are not simply the complement of the validation ones.
        """
        import torch

        dtype = np.int32 if self.num_datapoints < 2**31 else np.int64
        complement = len(self.train) + len(self.val) == self.num_datapoints and np.array_equal(
            self.train, _complement(self.val, self.num_datapoints))
        train = None if complement else torch.from_numpy(self.train.astype(dtype))
        return {"kind": self.kind, "seed": self.seed, "val_fraction": self.val_fraction,
                "num_datapoints": self.num_datapoints, "train": train,
                "val": torch.from_numpy(self.val.astype(dtype))}

    @classmethod
    def from_state(cls, state: dict) -> Split:
        """Inverse of ``to_state``."""
        n = int(state["num_datapoints"])
        val = np.asarray(state["val"], dtype=np.int64)
        train = _complement(val, n) if state["train"] is None else np.asarray(state["train"], dtype=np.int64)
        return cls(str(state["kind"]), int(state["seed"]), float(state["val_fraction"]), n, train, val)

    def save(self, path: str | Path) -> None:
        """Write the split as a .npz next to a run."""
        np.savez(path, kind=self.kind, seed=self.seed, val_fraction=self.val_fraction,
                 num_datapoints=self.num_datapoints, train=self.train, val=self.val)

    @classmethod
    def load(cls, path: str | Path) -> Split:
        """Read a split written by ``save``."""
        with np.load(path, allow_pickle=False) as z:
            return cls(str(z["kind"]), int(z["seed"]), float(z["val_fraction"]), int(z["num_datapoints"]),
                       z["train"].astype(np.int64), z["val"].astype(np.int64))


def make_split(num_datapoints: int, kind: str = "auto", *, seed: int = 0, val_fraction: float = 0.2,
               object_labels: np.ndarray | None = None, dataset_root: str | Path | None = None) -> Split:
    """Split ``num_datapoints`` datapoints into train/val (see module docstring for the kinds).

    object_labels : (N,) int object id per datapoint (needed for ``object``). dataset_root : folder searched
    for ``splits/image_wise`` (needed for ``image_wise``). Same arguments give the same split.
    """
    if kind not in SPLIT_KINDS:
        raise ValueError(f"split kind must be one of {SPLIT_KINDS}, got {kind!r}")
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction}")
    n = int(num_datapoints)
    wise = Path(dataset_root) / "splits" / "image_wise" if dataset_root is not None else None
    if kind == "auto":
        if object_labels is not None:
            kind = "object"
        elif wise is not None and (wise / "val_indices.npz").exists():
            kind = "image_wise"
        else:
            kind = "ordered"
    rng = np.random.default_rng(seed)
    if kind == "ordered":
        nval = int(round(n * val_fraction))
        val = np.arange(nval, dtype=np.int64)
    elif kind == "random":
        val = np.sort(rng.permutation(n)[: int(round(n * val_fraction))]).astype(np.int64)
    elif kind == "object":
        if object_labels is None:
            raise DatasetError("object-wise split needs the 'object_labels' field, which this dataset lacks")
        labels = np.asarray(object_labels).reshape(-1)
        objects, counts = np.unique(labels, return_counts=True)
        order = rng.permutation(len(objects))
        reached = np.cumsum(counts[order]) >= n * val_fraction
        take = order[: int(np.argmax(reached)) + 1] if len(objects) > 1 else order[:0]
        if len(take) == len(objects):
            take = take[:-1]
        val = np.flatnonzero(np.isin(labels, objects[take])).astype(np.int64)
    else:
        if wise is None:
            raise ValueError("image_wise split needs dataset_root")
        train = read_index_file(wise / "train_indices.npz", n)
        val = read_index_file(wise / "val_indices.npz", n)
        return Split(kind, seed, val_fraction, n, train, val)
    return Split(kind, seed, val_fraction, n, _complement(val, n), val)


def _complement(indices: np.ndarray, n: int) -> np.ndarray:
    """Sorted int64 indices in [0, n) not in ``indices``."""
    mask = np.ones(n, dtype=bool)
    mask[indices] = False
    return np.flatnonzero(mask).astype(np.int64)
