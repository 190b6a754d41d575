"""Contiguous memory-mapped cache of a shard dataset: one ``<field>.npy`` per field, built once.

A 6.7 M-datapoint Dex-Net 2.0 depth field is 27 GB; the cache keeps it on disk as one .npy that numpy
memory-maps, so training gathers batches by index without holding it in RAM and later runs open it instantly.

Cache folder (default ``<dataset>/cache``, or ``$XDG_CACHE_HOME/dexnet/<hash>`` when the dataset folder is
read-only)::

    <field>.npy            (N, *field_shape) in the field's cache dtype
    <field>.json           manifest: shard signatures (name, count, size, mtime) the .npy was built from
    <field>.npy.partial    while building; <field>.progress.json records the shards copied so far
    <field>.lock           held (flock) by the one process building the field

A build is resumable (a killed build continues from the last recorded shard) and atomic (the .npy appears
under its final name only when complete). A manifest that no longer matches the shards triggers a rebuild.
Processes that open a dataset at once (the ranks of a multi-process run) build each field once: the others
wait for the lock and then memory-map the finished file.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dexnet_core.data.shards import DatasetLayout, field_spec, list_shards, read_shard, scan_dataset
from dexnet_core.errors import DatasetError

logger = logging.getLogger(__name__)

CACHE_VERSION = 1
_PROGRESS_EVERY = 16  # shards between progress flushes


def default_cache_dir(root: Path) -> Path:
    """``<root>/cache`` when writable, else a per-dataset folder under the user cache directory."""
    local = root / "cache"
    if os.access(local if local.exists() else root, os.W_OK):
        return local
    base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "dexnet"
    return base / hashlib.sha1(str(root.resolve()).encode()).hexdigest()[:16]


def _write_json(path: Path, data: dict) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data))
    os.replace(tmp, path)


def _manifest(layout: DatasetLayout, name: str) -> dict:
    shape, dtype = field_spec(name)
    return {"version": CACHE_VERSION, "field": name, "shape": [layout.num_datapoints, *shape], "dtype": dtype,
            "shards": [s.signature() for s in layout.fields[name]]}


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


@contextlib.contextmanager
def _exclusive(path: Path) -> Iterator[None]:
    """Hold an exclusive advisory lock on ``path`` (created if missing) for the duration of the block."""
    import fcntl

    with path.open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def build_field(layout: DatasetLayout, name: str, cache_dir: Path) -> np.memmap:
    """Return a read-only memmap of field ``name``, building or resuming its cache file when needed."""
    final, meta = cache_dir / f"{name}.npy", cache_dir / f"{name}.json"
    want = _manifest(layout, name)
    if _read_json(meta) == want and final.exists():
        return np.load(final, mmap_mode="r")
    cache_dir.mkdir(parents=True, exist_ok=True)
    with _exclusive(cache_dir / f"{name}.lock"):
        if _read_json(meta) == want and final.exists():  # another process built it while this one waited
            return np.load(final, mmap_mode="r")
        return _build(layout, name, cache_dir, want)


def _build(layout: DatasetLayout, name: str, cache_dir: Path, want: dict) -> np.memmap:
    """Build (or resume) the cache file of field ``name`` matching manifest ``want``."""
    final, meta = cache_dir / f"{name}.npy", cache_dir / f"{name}.json"
    partial, progress = cache_dir / f"{name}.npy.partial", cache_dir / f"{name}.progress.json"
    state = _read_json(progress)
    if state is not None and state.get("manifest") == want and partial.exists():
        out = np.lib.format.open_memmap(partial, mode="r+")
        done = int(state["done"])
        logger.info("resuming cache of %s at shard %d/%d", name, done, len(layout.fields[name]))
    else:
        out = np.lib.format.open_memmap(partial, mode="w+", dtype=want["dtype"], shape=tuple(want["shape"]))
        done = 0
    from tqdm import tqdm

    shards = layout.fields[name]
    offsets = np.concatenate([[0], np.cumsum([s.num for s in shards])])
    for k in tqdm(range(done, len(shards)), desc=f"cache {name}", unit="shard", initial=done,
                  total=len(shards), disable=len(shards) - done < 2):
        out[offsets[k]:offsets[k + 1]] = read_shard(shards[k], name)
        if (k + 1) % _PROGRESS_EVERY == 0:
            out.flush()
            _write_json(progress, {"manifest": want, "done": k + 1})
    out.flush()
    del out
    os.replace(partial, final)
    _write_json(meta, want)
    progress.unlink(missing_ok=True)
    return np.load(final, mmap_mode="r")


@dataclass
class CachedDataset:
    """Memory-mapped fields of one dataset; ``arrays[name]`` is (N, *field_shape), read-only."""

    root: Path
    layout: DatasetLayout
    arrays: dict[str, np.ndarray]

    @property
    def num_datapoints(self) -> int:
        """Total number of datapoints N."""
        return self.layout.num_datapoints

    def __getitem__(self, name: str) -> np.ndarray:
        if name not in self.arrays:
            raise DatasetError(f"{self.root}: field '{name}' not loaded (have: {sorted(self.arrays)})")
        return self.arrays[name]

    def has(self, name: str) -> bool:
        """True when field ``name`` is loaded."""
        return name in self.arrays


def open_dataset(root: str | Path, fields: list[str], optional: list[str] = (),
                 cache_dir: str | Path | None = None) -> CachedDataset:
    """Scan, validate and memory-map ``fields`` (required) and ``optional`` fields (when present).

    root : dataset folder holding ``tensors/``. cache_dir : default ``default_cache_dir(root)``.
    Raises DatasetError naming the file and key for a missing or corrupt shard.
    """
    root = Path(root)
    present = list_shards(root)
    names = list(fields) + [f for f in optional if f in present and f not in fields]
    cdir = Path(cache_dir) if cache_dir is not None else default_cache_dir(root)
    known: dict[tuple[str, int, int], int] = {}
    for name in names:
        for fname, num, size, mtime in (_read_json(cdir / f"{name}.json") or {}).get("shards", []):
            known[(fname, size, mtime)] = num
    layout = scan_dataset(root, names, known)
    arrays = {name: build_field(layout, name, cdir) for name in names}
    logger.info("dataset %s: %d datapoints, fields %s (cache %s)", root, layout.num_datapoints, names, cdir)
    return CachedDataset(root, layout, arrays)
