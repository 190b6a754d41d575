"""Exceptions raised by dexnet_core for domain failures (bad arguments raise ValueError / TypeError)."""

from typing import Any


class DexnetError(Exception):
    """Base class of dexnet_core's domain errors."""


class ConfigError(DexnetError, ValueError):
    """A configuration file or value is invalid (unknown key, bad type, out of range)."""


class CheckpointError(DexnetError):
    """A checkpoint file is missing, corrupt or does not describe a known model."""


class DatasetError(DexnetError):
    """A dataset folder, shard or field is missing or malformed."""


class NoValidGraspError(DexnetError):
    """Planning found no grasp that passes the filters (empty mask, all-invalid depth, ...).

    ``heatmap`` is the (H, W) quality map when the network ran (every grasp fell below min_quality or
    failed the clearance check), else None.
    """

    def __init__(self, message: str, heatmap: Any = None) -> None:
        super().__init__(message)
        self.heatmap = heatmap


def yaml_error_line(exc: Exception) -> str:
    """One line for a YAML parse error: the problem and where (PyYAML's own text spans four lines)."""
    problem, mark = getattr(exc, "problem", None), getattr(exc, "problem_mark", None)
    if problem is None or mark is None:
        return " ".join(str(exc).split())
    context, start = getattr(exc, "context", None), getattr(exc, "context_mark", None)
    where = f" ({context} at line {start.line + 1})" if context and start is not None else ""
    return f"{problem} at line {mark.line + 1}, column {mark.column + 1}{where}"


class MissingExtraError(DexnetError, ImportError):
    """An optional dependency is not installed; the message names the pip extra that provides it."""


class DistributedError(DexnetError):
    """A rank of a multi-process run failed, differs from rank 0 or timed out; the message names the rank."""
