"""Multi-process training on torchrun (PyTorch DDP): the process group, the ranks' shares and agreement.

`torchrun --nproc_per_node N -m dexnet_core.cli train --config ...` (or `dexnet train --nproc N`) starts N
ranks that each run the loop of train/loop.py with a ``Distributed`` from ``from_env``:

- ``training.batch_size`` is the global batch; rank r reads the r-th of N equal parts of every batch
  (``shard``, a ``data.loader.Shard``) and augments it with the draws one process would make for those rows,
  so data order, augmentation and the averaged gradient are those of one process with the same batch. Step,
  epoch and batch counters and the augmentation RNG are global: a checkpoint resumes on any world size that
  divides the batch.
- ``wrap`` puts the model in DistributedDataParallel: gloo on CPU, nccl on CUDA (one GPU per local rank).
- validation is split over the ranks (``part``) and the scores gathered (``gather``): every rank computes
  the same report; only rank 0 (``is_main``) writes checkpoints and metrics and logs at INFO.
- ``agree`` runs once after setup: each rank sends whether its setup failed (and why) and its config; a
  failed rank (unreadable dataset, bad config) or a config that differs from rank 0's stops every rank with
  the same one-line ``DistributedError`` naming the rank and the cause. Control messages go over gloo and
  every collective is bounded by ``timeout_s``, so a rank that never answers stops the others too.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import NoReturn

import numpy as np
import torch

from dexnet_core.data.loader import Shard
from dexnet_core.errors import DexnetError, DistributedError

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT_S = 600.0  # longest wait for another rank at any collective (setup, gradients, validation)
_LOCAL_KEYS = ("training.dataset_path", "training.cache_dir")  # may differ per node: data is compared by hash


class _Logits(torch.nn.Module):
    """``model.logits`` as a module's forward, so DistributedDataParallel can wrap it."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, im: torch.Tensor, z: torch.Tensor | None = None) -> torch.Tensor:
        return self.model.logits(im, z)


def _flatten(tree: dict, prefix: str = "") -> dict[str, object]:
    flat: dict[str, object] = {}
    for key, value in tree.items():
        if isinstance(value, dict) and value:
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _reason(exc: BaseException) -> str:
    """One line: the message of a dexnet / argument error, else the exception type and message."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    if isinstance(exc, (DexnetError, ValueError, FileNotFoundError)) and text:
        return text
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


@dataclass
class Distributed:
    """This process's place in a training run: rank ``rank`` of ``world_size`` (1: a single process).

    device : the torch device string this rank trains on. ``Distributed()`` is the single-process case, whose
    methods change nothing.
    """

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: str = "auto"
    timeout_s: float = DEFAULT_TIMEOUT_S
    _control: object = field(default=None, repr=False)  # gloo process group for control messages
    _agreed: bool = field(default=False, repr=False)

    @property
    def enabled(self) -> bool:
        """True when there is more than one rank."""
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """True on rank 0, which logs, writes checkpoints and metrics."""
        return self.rank == 0

    @property
    def shard(self) -> Shard:
        """This rank's share of every training batch."""
        return Shard(self.rank, self.world_size)

    def wrap(self, model: torch.nn.Module) -> Callable[..., torch.Tensor]:
        """``(im, z) -> logits`` of ``model``; with several ranks through DistributedDataParallel, which
        averages the gradients over the ranks during backward (parameters start from rank 0's)."""
        if not self.enabled:
            return model.logits
        from torch.nn.parallel import DistributedDataParallel

        dev = next(model.parameters()).device
        return self._collective("wrapping the model", lambda: DistributedDataParallel(
            _Logits(model), device_ids=[dev.index] if dev.type == "cuda" else None))

    def part(self, indices: np.ndarray) -> np.ndarray:
        """This rank's contiguous share of ``np.sort(indices)`` (validation is split over the ranks)."""
        indices = np.sort(np.asarray(indices))
        return np.array_split(indices, self.world_size)[self.rank] if self.enabled else indices

    def gather(self, *arrays: np.ndarray) -> tuple[np.ndarray, ...]:
        """Each array concatenated over the ranks in rank order (the inverse of ``part``), on every rank."""
        if not self.enabled:
            return arrays
        import torch.distributed as dist

        parts: list = [None] * self.world_size
        self._collective("gathering validation scores",
                         lambda: dist.all_gather_object(parts, arrays, group=self._control))
        return tuple(np.concatenate([p[i] for p in parts]) for i in range(len(arrays)))

    def mean(self, value: float) -> float:
        """Mean of ``value`` over the ranks (e.g. each rank's training loss)."""
        if not self.enabled:
            return value
        import torch.distributed as dist

        t = torch.tensor([value], dtype=torch.float64)
        self._collective("averaging the training loss",
                         lambda: dist.all_reduce(t, group=self._control))
        return float(t) / self.world_size

    def agree(self, config: dict, **facts: object) -> None:
        """Check once, after setup, that every rank set up without error and with rank 0's ``config`` (a
        ``TrainConfig.to_dict()``) and ``facts`` (resume step, dataset hash, ...); else DistributedError on
        every rank. ``training.dataset_path`` and ``cache_dir`` may differ (node-local copies)."""
        if not self.enabled:
            return
        flat = {k: v for k, v in _flatten(config).items() if k not in _LOCAL_KEYS}
        error = self._exchange(None, {**flat, **facts})
        if error is not None:
            raise error

    def fail(self, exc: Exception) -> DistributedError:
        """The error a rank of several stops with after ``exc``: before ``agree`` every rank is told (so none
        waits for this one) and the first failed rank's cause is returned; later, ``exc`` named by rank."""
        if isinstance(exc, DistributedError):
            return exc
        if self._agreed:
            return DistributedError(f"rank {self.rank}: {_reason(exc)}")
        try:
            return self._exchange(_reason(exc), None)
        except DistributedError as err:
            return err

    def close(self) -> None:
        """Leave the process group."""
        if self.enabled:
            import torch.distributed as dist

            if dist.is_initialized():
                dist.destroy_process_group()

    def _exchange(self, error: str | None, facts: dict | None) -> DistributedError | None:
        """The setup collective: every rank sends (its error or None, its facts); returns the error all
        ranks stop with (the first failed rank's cause, or the first difference from rank 0), else None."""
        import torch.distributed as dist

        answers: list = [None] * self.world_size
        self._collective("setting up", lambda: dist.all_gather_object(answers, (error, facts),
                                                                      group=self._control))
        self._agreed = True
        failed = [r for r, (err, _) in enumerate(answers) if err is not None]
        if failed:
            others = f" (rank {', '.join(map(str, failed[1:]))} failed too)" if len(failed) > 1 else ""
            return DistributedError(f"rank {failed[0]}: {answers[failed[0]][0]}{others}")
        reference = answers[0][1]
        for r, (_, theirs) in enumerate(answers[1:], start=1):
            for key in sorted(set(reference) | set(theirs)):
                if reference.get(key) != theirs.get(key):
                    return DistributedError(f"rank {r} was started with {key}={theirs.get(key)!r} but rank 0 "
                                            f"with {reference.get(key)!r}; all ranks need the same config, "
                                            "data and run folder")
        return None

    def _collective(self, what: str, call: Callable[[], object]) -> object:
        try:
            return call()
        except RuntimeError as exc:  # gloo / nccl: timeout or a peer that went away
            raise DistributedError(f"rank {self.rank}: no answer from the other ranks while {what} (timeout "
                                   f"{self.timeout_s:g} s, or a rank stopped): {_reason(exc)}") from exc


def leave(status: int, line: str | None = None) -> NoReturn:
    """End a rank of several: print ``line`` to stderr, flush every stream and exit with ``status`` at once
    (os._exit). After the process group is gone, gloo's worker threads can still hold tensors whose
    release during the interpreter's finalization aborts the process (SIGABRT), so ranks skip it."""
    if line is not None:
        sys.stderr.write(line + "\n")
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


def from_env(device: str = "auto", timeout_s: float = DEFAULT_TIMEOUT_S) -> Distributed:
    """The run this process belongs to, from torchrun's environment (RANK, WORLD_SIZE, LOCAL_RANK,
    MASTER_ADDR, MASTER_PORT); joins the process group when WORLD_SIZE > 1.

    device : auto | cpu | cuda[:N]; with several ranks a CUDA device becomes ``cuda:<LOCAL_RANK>`` and the
    backend nccl, else gloo. Raises DistributedError (naming the rank) when the group cannot be formed within
    ``timeout_s`` seconds.
    """
    if timeout_s <= 0:
        raise ValueError(f"--dist-timeout must be > 0, got {timeout_s}")
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Distributed(device=device, timeout_s=timeout_s)
    import torch.distributed as dist

    rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    cuda = device.startswith("cuda") or (device == "auto" and torch.cuda.is_available())
    if cuda and not torch.cuda.is_available():
        raise DistributedError(f"rank {rank}: device {device!r} requested but CUDA is not available")
    if cuda:
        torch.cuda.set_device(local_rank)
    timeout = timedelta(seconds=timeout_s)
    try:
        dist.init_process_group("nccl" if cuda else "gloo", timeout=timeout)
        control = dist.new_group(backend="gloo", timeout=timeout) if cuda else None
    except RuntimeError as exc:
        raise DistributedError(f"rank {rank}: could not join the other {world - 1} rank(s) within "
                               f"{timeout_s:g} s: {_reason(exc)}") from exc
    if rank == 0:
        logger.info("%d ranks, backend %s, timeout %g s", world, dist.get_backend(), timeout_s)
    return Distributed(rank, world, local_rank, f"cuda:{local_rank}" if cuda else "cpu", timeout_s, control)


def launch(nproc: int, argv: list[str]) -> None:
    """Run ``python -m dexnet_core.cli *argv`` as ``nproc`` local ranks with torchrun (standalone
    rendezvous on a free port); DistributedError when a rank fails (each prints its own line)."""
    if nproc < 1:
        raise ValueError(f"--nproc must be >= 1, got {nproc}")
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import parse_args, run

    for name in ("torch.distributed.run", "torch.distributed.elastic"):  # the ranks report their own errors
        logging.getLogger(name).setLevel(logging.CRITICAL)
    try:
        run(parse_args(["--standalone", f"--nproc-per-node={nproc}", "-m", "dexnet_core.cli", *argv]))
    except ChildFailedError as exc:
        ranks = sorted(f.local_rank for f in exc.failures.values())
        raise DistributedError(f"rank {', '.join(map(str, ranks))} of {nproc} exited non-zero (each failed "
                               "rank's line above gives the cause)") from exc
