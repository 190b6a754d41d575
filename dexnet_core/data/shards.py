"""Dex-Net tensor dataset format: discovery and validation of ``tensors/<field>_NNNNN.npz`` shards.

Layout (docs/dataset_format.md has the full table)::

    <dataset>/tensors/<field>_NNNNN.npz   one array under key "arr_0"; NNNNN = 5-digit shard index from 0
    <dataset>/splits/image_wise/{train,val}_indices.npz   optional, key "arr_0", int datapoint indices
    <dataset>/dataset.yaml                 optional defaults written by `dexnet synth`

Fields read here (shape per datapoint, dtype, unit):

- ``depth_ims_tf_table``: (32, 32, 1) or (32, 32) float32, metres; crop centred on the grasp.
- ``hand_poses``: (7,) float32; column 2 = gripper depth (m), column 3 = jaw / approach angle (rad).
- ``robust_ferrari_canny``, ``robust_suction_wrench_resistance``, other labels: () float32.
- ``object_labels``, ``pose_labels``, ``image_labels``: () int.

Shard k of every field holds the same datapoints. Shards are read lazily; array headers are checked without
decompressing the data (``shard_header``), the data itself when a cache is built (``read_shard``).
"""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from dexnet_core.errors import DatasetError, yaml_error_line

DEPTH_FIELD = "depth_ims_tf_table"
POSE_FIELD = "hand_poses"
OBJECT_FIELD = "object_labels"
GRIPPER_DEPTH_COLUMN = 2  # hand_poses column holding the gripper depth (m)
IM_SIZE = 32
ARRAY_KEY = "arr_0"

# per-datapoint shape and on-cache dtype of the known fields; unknown fields are scalar float32 labels
FIELD_SPECS: dict[str, tuple[tuple[int, ...], str]] = {
    DEPTH_FIELD: ((IM_SIZE, IM_SIZE), "float32"),
    POSE_FIELD: ((7,), "float32"),
    OBJECT_FIELD: ((), "int32"),
    "pose_labels": ((), "int32"),
    "image_labels": ((), "int32"),
}
_SHARD_RE = re.compile(r"^(?P<field>.+)_(?P<index>\d{5})\.npz$")


def field_spec(name: str) -> tuple[tuple[int, ...], str]:
    """(per-datapoint shape, cache dtype) of a field; unknown fields are scalar float32 labels."""
    return FIELD_SPECS.get(name, ((), "float32"))


@dataclass(frozen=True)
class ShardInfo:
    """One shard file: its path, datapoint count and a (size, mtime_ns) signature for cache validity."""

    path: Path
    num: int
    size: int
    mtime_ns: int

    def signature(self) -> list:
        """JSON-friendly identity of the file as it is on disk."""
        return [self.path.name, self.num, self.size, self.mtime_ns]


@dataclass(frozen=True)
class DatasetLayout:
    """The shards of one dataset folder, by field; every field has the same shard count and sizes."""

    root: Path
    fields: dict[str, list[ShardInfo]] = field(repr=False)

    @property
    def shard_sizes(self) -> list[int]:
        """Datapoints per shard index (identical across fields)."""
        return [s.num for s in next(iter(self.fields.values()))]

    @property
    def num_datapoints(self) -> int:
        """Total number of datapoints."""
        return int(sum(self.shard_sizes))

    def has(self, name: str) -> bool:
        """True when the dataset has shards of field ``name``."""
        return name in self.fields


def shard_header(path: Path) -> tuple[tuple[int, ...], np.dtype]:
    """Shape and dtype of ``arr_0`` in an .npz shard, read from the .npy header without loading the data.

    Raises DatasetError naming the file and key when the file is missing, not a zip, or lacks the key.
    """
    try:
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
            if ARRAY_KEY + ".npy" not in names:
                raise DatasetError(f"{path}: key '{ARRAY_KEY}' missing (keys: {[n[:-4] for n in names]})")
            with zf.open(ARRAY_KEY + ".npy") as fh:
                version = np.lib.format.read_magic(fh)
                if version == (1, 0):
                    shape, _, dtype = np.lib.format.read_array_header_1_0(fh)
                else:
                    shape, _, dtype = np.lib.format.read_array_header_2_0(fh)
    except FileNotFoundError as exc:
        raise DatasetError(f"{path}: shard file missing") from exc
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as exc:
        raise DatasetError(f"{path}: key '{ARRAY_KEY}' unreadable, corrupt shard ({exc})") from exc
    return tuple(shape), np.dtype(dtype)


def read_shard(info: ShardInfo, name: str) -> np.ndarray:
    """Load and validate one shard of field ``name``: (num, *field_shape) array in the cache dtype.

    Raises DatasetError naming the file and key on a corrupt file, a wrong shape or non-finite depth.
    """
    shape, dtype = field_spec(name)
    try:
        with np.load(info.path, allow_pickle=False) as npz:
            arr = npz[ARRAY_KEY]
    except FileNotFoundError as exc:
        raise DatasetError(f"{info.path}: shard file missing") from exc
    except Exception as exc:  # zlib/zip/format errors surface as many types
        raise DatasetError(f"{info.path}: key '{ARRAY_KEY}' unreadable, corrupt shard ({exc})") from exc
    if name == DEPTH_FIELD and arr.ndim == 4 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    if arr.shape != (info.num, *shape):
        raise DatasetError(f"{info.path}: key '{ARRAY_KEY}' has shape {arr.shape}, "
                           f"expected {(info.num, *shape)}")
    if name == DEPTH_FIELD and not np.isfinite(arr).all():
        raise DatasetError(f"{info.path}: key '{ARRAY_KEY}' holds non-finite depth values")
    return arr.astype(dtype, copy=False)


def _check_header(path: Path, name: str, shape: tuple[int, ...]) -> int:
    """Validate a header against the field spec; return its datapoint count."""
    want, _ = field_spec(name)
    got = shape[1:]
    if name == DEPTH_FIELD and len(got) == 3 and got[-1] == 1:
        got = got[:-1]
    if len(shape) == 0 or got != want:
        raise DatasetError(f"{path}: key '{ARRAY_KEY}' has shape {shape}, expected (n, *{want})")
    return int(shape[0])


def list_shards(root: str | Path) -> dict[str, dict[int, Path]]:
    """Shard files under ``root/tensors`` by field and index (names only; nothing is opened)."""
    tensors = Path(root) / "tensors"
    if not tensors.is_dir():
        raise DatasetError(f"{root}: no 'tensors' folder; expected a Dex-Net dataset folder "
                           "(docs/dataset_format.md)")
    found: dict[str, dict[int, Path]] = {}
    for p in tensors.iterdir():
        m = _SHARD_RE.match(p.name)
        if m:
            found.setdefault(m["field"], {})[int(m["index"])] = p
    if not found:
        raise DatasetError(f"{tensors}: no <field>_NNNNN.npz shards")
    return found


def scan_dataset(root: str | Path, fields: list[str] | None = None,
                 known_counts: dict[tuple[str, int, int], int] | None = None) -> DatasetLayout:
    """Find and check the shards of ``fields`` (default: all fields present) under ``root/tensors``.

    Checks: every requested field exists, shard indices run 0..K-1 with no gap, every field has the same
    shard count and per-shard size, headers are readable with the right shape. Cheap: data not decompressed.
    known_counts : (file name, size, mtime_ns) -> datapoint count of files already validated (e.g. from a
    cache manifest); those files are only stat'ed, so opening a cached dataset does not touch the shards.
    """
    root = Path(root)
    tensors = root / "tensors"
    found = list_shards(root)
    known_counts = known_counts or {}
    names = sorted(found) if fields is None else list(fields)
    for name in names:
        if name not in found:
            raise DatasetError(f"{tensors}: field '{name}' missing (have: {sorted(found)})")
    num_shards = max(max(found[n]) for n in names) + 1
    layout: dict[str, list[ShardInfo]] = {}
    for name in names:
        infos = []
        for k in range(num_shards):
            path = found[name].get(k, tensors / f"{name}_{k:05d}.npz")
            try:
                st = path.stat()
            except FileNotFoundError as exc:
                raise DatasetError(f"{path}: shard file missing (key '{ARRAY_KEY}' of shard {k})") from exc
            num = known_counts.get((path.name, st.st_size, st.st_mtime_ns))
            if num is None:
                num = _check_header(path, name, shard_header(path)[0])
            infos.append(ShardInfo(path, num, st.st_size, st.st_mtime_ns))
        layout[name] = infos
    ref_name = names[0]
    for name in names[1:]:
        for a, b in zip(layout[ref_name], layout[name]):
            if a.num != b.num:
                raise DatasetError(f"{b.path}: key '{ARRAY_KEY}' holds {b.num} datapoints but {a.path.name} "
                                   f"holds {a.num}; shard k of every field must hold the same datapoints")
    return DatasetLayout(root, layout)


def read_index_file(path: Path, num_datapoints: int) -> np.ndarray:
    """Load an ``arr_0`` index array (e.g. splits/image_wise/train_indices.npz) as sorted unique int64."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            idx = np.asarray(npz[ARRAY_KEY]).reshape(-1)
    except FileNotFoundError as exc:
        raise DatasetError(f"{path}: index file missing") from exc
    except Exception as exc:
        raise DatasetError(f"{path}: key '{ARRAY_KEY}' unreadable ({exc})") from exc
    bad_type = not np.issubdtype(idx.dtype, np.integer)
    if idx.size and (bad_type or idx.min() < 0 or idx.max() >= num_datapoints):
        raise DatasetError(f"{path}: key '{ARRAY_KEY}' must hold integer indices in [0, {num_datapoints}), "
                           f"got dtype {idx.dtype}, range [{idx.min()}, {idx.max()}]")
    return np.unique(idx.astype(np.int64))


def read_dataset_yaml(root: str | Path) -> dict:
    """The optional ``dataset.yaml`` of a dataset folder as a dict ({} when absent)."""
    import yaml

    path = Path(root) / "dataset.yaml"
    if not path.exists():
        return {}
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise DatasetError(f"{path}: not valid YAML ({yaml_error_line(exc)})") from exc
    if not isinstance(data, dict):
        raise DatasetError(f"{path}: expected a mapping, got {type(data).__name__}")
    return data


def write_shards(root: str | Path, arrays: dict[str, np.ndarray], shard_size: int = 1000,
                 start_index: int = 0) -> int:
    """Write ``arrays`` (field -> (n, ...) array, same n) as ``root/tensors/<field>_NNNNN.npz`` shards.

    Shards hold ``shard_size`` datapoints, the last one fewer; numbering starts at ``start_index`` so a
    generator can append. Each file is written to a temporary name and renamed. Returns the shards written.
    """
    sizes = {name: len(a) for name, a in arrays.items()}
    if len(set(sizes.values())) != 1:
        raise ValueError(f"all fields must hold the same number of datapoints, got {sizes}")
    if shard_size <= 0:
        raise ValueError(f"shard_size must be > 0, got {shard_size}")
    tensors = Path(root) / "tensors"
    tensors.mkdir(parents=True, exist_ok=True)
    n = next(iter(sizes.values()))
    count = -(-n // shard_size)
    for k in range(count):
        for name, a in arrays.items():
            path = tensors / f"{name}_{start_index + k:05d}.npz"
            tmp = path.with_name(path.stem + ".tmp.npz")
            np.savez_compressed(tmp, a[k * shard_size:(k + 1) * shard_size])
            tmp.replace(path)
    return count
