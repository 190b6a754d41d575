"""Batches of (depth crop, gripper depth, label) gathered by index from a memory-mapped dataset.

The data order is a pure function of (seed, epoch), so a resumed run replays the same batches from the
batch it stopped at. Positives can be oversampled (the reference's ``pos_weight``): each training epoch
holds every training datapoint once plus ``pos_weight - 1`` extra copies of every positive on average.

For multi-process training a loader takes a ``Shard`` (rank r of n): it reads only the r-th of n equal
contiguous parts of every batch, so n ranks together see exactly the batches of one process.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import torch

from dexnet_core.data.cache import CachedDataset
from dexnet_core.data.shards import DEPTH_FIELD, GRIPPER_DEPTH_COLUMN, POSE_FIELD


@dataclass
class Batch:
    """One batch on the target device: ``im`` (B, 1, 32, 32) float32 metres, ``z`` (B,) float32 metres
    (gripper depth, or None when not loaded), ``label`` (B,) float32 in {0, 1}, ``index`` (B,) int64;
    ``span`` (first row, rows) of the whole batch this part belongs to when the loader is sharded."""

    im: torch.Tensor
    z: torch.Tensor | None
    label: torch.Tensor
    index: np.ndarray
    span: tuple[int, int] | None = None


@dataclass(frozen=True)
class Shard:
    """Part ``index`` of ``count``: a rank's share of every batch in multi-process training."""

    index: int = 0
    count: int = 1

    def __post_init__(self) -> None:
        if not 0 <= self.index < self.count:
            raise ValueError(f"shard index must be in [0, {self.count}), got {self.index}")


def subsample(indices: np.ndarray, max_count: int | None, seed: int) -> np.ndarray:
    """A seeded, sorted subset of at most ``max_count`` of ``indices`` (all when None or enough)."""
    if max_count is None or len(indices) <= max_count:
        return indices
    rng = np.random.default_rng([seed, 7919])
    return np.sort(rng.choice(indices, size=max_count, replace=False))


def epoch_order(indices: np.ndarray, positive: np.ndarray, seed: int, epoch: int,
                pos_weight: float = 1.0) -> np.ndarray:
    """Shuffled datapoint order of one training epoch, with positives oversampled ``pos_weight`` times.

    indices : (n,) int64 training indices; positive : (N,) bool over the whole dataset.
    """
    if pos_weight < 1.0:
        raise ValueError(f"pos_weight must be >= 1, got {pos_weight}")
    rng = np.random.default_rng([seed, epoch])
    parts = [indices]
    if pos_weight > 1.0:
        pos = indices[positive[indices]]
        whole, frac = divmod(pos_weight - 1.0, 1.0)
        parts += [pos] * int(whole)
        parts.append(rng.choice(pos, size=int(round(frac * len(pos))), replace=False))
    return rng.permutation(np.concatenate(parts))


class BatchLoader:
    """Iterates batches of ``order`` (datapoint indices) from a cached dataset onto ``device``.

    Gathering runs in ``num_workers`` background threads (numpy copies release the GIL), so the next
    batches are read from the memmap while the model trains on the current one. With a ``shard`` of n
    parts each yielded batch is this shard's ``batch_size / n`` rows of the global batch.
    """

    def __init__(self, data: CachedDataset, positive: np.ndarray, *, batch_size: int,
                 device: torch.device | str = "cpu", with_z: bool = True, num_workers: int = 1,
                 shard: Shard | None = None) -> None:
        if batch_size <= 0:
            raise ValueError(f"batch_size must be > 0, got {batch_size}")
        shard = shard or Shard()
        if batch_size % shard.count:
            raise ValueError(f"batch size {batch_size} is not divisible by the {shard.count} ranks "
                             "(each rank takes an equal part of every batch)")
        self.shard = shard
        self.data = data
        self.positive = positive
        self.batch_size = batch_size
        self.device = torch.device(device)
        self.with_z = with_z and data.has(POSE_FIELD)
        self.num_workers = max(0, int(num_workers))

    def num_batches(self, order: np.ndarray, drop_last: bool) -> int:
        """Number of batches ``iterate`` yields for ``order``."""
        n = len(order)
        return n // self.batch_size if drop_last else -(-n // self.batch_size)

    def _part(self, chunk: np.ndarray) -> np.ndarray:
        """This shard's rows of one batch: a slice of the batch in gathering (sorted) order."""
        if self.shard.count == 1:
            return chunk
        part = self.batch_size // self.shard.count
        return np.sort(chunk)[self.shard.index * part:(self.shard.index + 1) * part]

    def _gather(self, idx: np.ndarray) -> tuple[np.ndarray, ...]:
        idx = np.sort(idx)  # monotone reads from the memmap
        im = np.ascontiguousarray(self.data[DEPTH_FIELD][idx])
        z = np.ascontiguousarray(self.data[POSE_FIELD][idx, GRIPPER_DEPTH_COLUMN]) if self.with_z else None
        return idx, im, z, self.positive[idx].astype(np.float32)

    def _to_device(self, parts: tuple[np.ndarray, ...]) -> Batch:
        idx, im, z, label = parts
        nb = self.device.type == "cuda"
        im_t = torch.from_numpy(im).unsqueeze(1).to(self.device, non_blocking=nb)
        z_t = torch.from_numpy(z).to(self.device, non_blocking=nb) if z is not None else None
        part = self.batch_size // self.shard.count
        span = (self.shard.index * part, self.batch_size) if self.shard.count > 1 else None
        return Batch(im_t, z_t, torch.from_numpy(label).to(self.device, non_blocking=nb), idx, span)

    def iterate(self, order: np.ndarray, start_batch: int = 0, drop_last: bool = False) -> Iterator[Batch]:
        """Yield the batches of ``order`` (this shard's part of each) from batch ``start_batch`` on."""
        if self.shard.count > 1 and not drop_last:
            raise ValueError("a sharded loader needs drop_last=True (every batch split in equal parts)")
        chunks = (self._part(order[i * self.batch_size:(i + 1) * self.batch_size])
                  for i in range(start_batch, self.num_batches(order, drop_last)))
        if self.num_workers == 0:
            for c in chunks:
                yield self._to_device(self._gather(c))
            return
        with ThreadPoolExecutor(self.num_workers) as pool:
            pending: deque = deque()
            for c in chunks:
                pending.append(pool.submit(self._gather, c))
                if len(pending) > self.num_workers + 1:
                    yield self._to_device(pending.popleft().result())
            while pending:
                yield self._to_device(pending.popleft().result())
