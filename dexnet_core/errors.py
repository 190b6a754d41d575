"""Exceptions raised by dexnet_core for domain failures (bad arguments raise ValueError / TypeError)."""


class DexnetError(Exception):
    """Base class of dexnet_core's domain errors."""


class ConfigError(DexnetError, ValueError):
    """A configuration file or value is invalid (unknown key, bad type, out of range)."""


class CheckpointError(DexnetError):
    """A checkpoint file is missing, corrupt or does not describe a known model."""


class DatasetError(DexnetError):
    """A dataset folder, shard or field is missing or malformed."""


class NoValidGraspError(DexnetError):
    """Planning found no grasp that passes the filters (empty mask, all-invalid depth, ...)."""


class MissingExtraError(DexnetError, ImportError):
    """An optional dependency is not installed; the message names the pip extra that provides it."""


class DistributedError(DexnetError):
    """A rank of a multi-process run failed, differs from rank 0 or timed out; the message names the rank."""
