"""Shard ranges: one synthetic dataset written by many processes (batch-scheduler tasks) at once.

Shard k depends only on (dataset parameters, k), so processes on any machines may write disjoint ranges of
shards into one shared folder. ``--shards A:B`` names the range [A, B) directly; ``--task I/N`` takes the
I-th of N contiguous, near-equal ranges (I from 0: Slurm's ``$SLURM_ARRAY_TASK_ID`` with
``--array=0-(N-1)``, or a Kubernetes indexed Job's ``$JOB_COMPLETION_INDEX``).

Each process records its range as ``ranges/AAAAA-BBBBB`` in the dataset folder before it writes. A range
that partly overlaps a recorded one is refused (a scheduler script with a wrong split); a range inside a
recorded one (re-running part of it) or around it (finishing the dataset) is allowed, since shards are
deterministic and written atomically.
"""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path

from dexnet_core.errors import DatasetError

RANGES_DIR = "ranges"


def parse_shards(text: str, num_shards: int) -> range:
    """``"A:B"`` -> range(A, B), checked against the dataset's ``num_shards``; ValueError otherwise."""
    try:
        a, b = (int(v) for v in text.split(":"))
    except ValueError:
        raise ValueError(f"--shards expects A:B (shard indices, B exclusive), got {text!r}") from None
    if not 0 <= a < b <= num_shards:
        raise ValueError(f"--shards {text} is outside the dataset's {num_shards} shards: need "
                         f"0 <= A < B <= {num_shards}")
    return range(a, b)


def parse_task(text: str, num_shards: int) -> range:
    """``"I/N"`` -> the I-th (from 0) of N contiguous ranges splitting the shards; ValueError otherwise."""
    try:
        i, n = (int(v) for v in text.split("/"))
    except ValueError:
        raise ValueError(f"--task expects I/N (task index from 0, number of tasks), got {text!r}") from None
    if not 0 <= i < n:
        raise ValueError(f"--task {text}: the index must satisfy 0 <= I < N")
    if n > num_shards:
        raise ValueError(f"--task {text}: the dataset has only {num_shards} shards; use at most "
                         f"{num_shards} tasks")
    return range(i * num_shards // n, (i + 1) * num_shards // n)


def format_range(r: range) -> str:
    """range(A, B) -> "A:B" (the --shards syntax)."""
    return f"{r.start}:{r.stop}"


def recorded_ranges(root: Path) -> list[range]:
    """Ranges recorded in ``root/ranges`` (sorted)."""
    out = []
    for path in (Path(root) / RANGES_DIR).glob("*-*"):
        try:
            a, b = (int(v) for v in path.name.split("-"))
        except ValueError:
            continue
        out.append(range(a, b))
    return sorted(out, key=lambda r: (r.start, r.stop))


def _partly_overlap(a: range, b: range) -> bool:
    inside = a.start >= b.start and a.stop <= b.stop
    around = a.start <= b.start and a.stop >= b.stop
    return a.start < b.stop and b.start < a.stop and not inside and not around


def claim_range(root: Path, shards: range) -> Path:
    """Record ``shards`` in ``root/ranges``; DatasetError if it partly overlaps a recorded range.

    The record is written before the check, so of two processes starting at once with partly overlapping
    ranges at least one sees the other and stops (its own record is then removed).
    """
    folder = Path(root) / RANGES_DIR
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{shards.start:05d}-{shards.stop:05d}"
    existed = path.exists()
    path.write_text(f"host: {socket.gethostname()}\npid: {os.getpid()}\nstarted: {time.time():.0f}\n")
    clash = next((r for r in recorded_ranges(root) if _partly_overlap(shards, r)), None)
    if clash is not None:
        if not existed:
            path.unlink(missing_ok=True)
        raise DatasetError(f"--shards {format_range(shards)} partly overlaps the range "
                           f"{format_range(clash)} already written to {root}; the ranges of one dataset must "
                           "be disjoint (or lie inside one another to redo part of it)")
    return path
