"""Check a finished synthetic dataset (``dexnet synth --verify DIR``) and say which shards to re-run.

Checks, from dataset.yaml: every field file of every shard is present, reads as an .npy array with the
documented shape and dtype and the shard's number of rows; ``image_labels`` of shard k all lie in shard k
(a shard copied under another index is a duplicate); object ids are among dataset.yaml's meshes; no
unexpected files (a field or shard index the dataset does not have, left-over temporary files); the
statistics are present. Only the small label arrays are read in full; depth crops only by their header.
"""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from dexnet_core.errors import DatasetError
from dexnet_core.synth.ranges import format_range, recorded_ranges
from dexnet_core.synth.writer import FIELDS, shard_path

SHARD_FILE = re.compile(r"^(?P<field>.+)_(?P<index>\d{5})\.npz$")
IMAGES_PER_SHARD = 100000  # image_labels = shard index * IMAGES_PER_SHARD + image (generate.py)


def _shapes(n: int, label_field: str) -> dict[str, tuple[tuple[int, ...], str]]:
    shapes = {"depth_ims_tf_table": ((n, 32, 32, 1), "float32"), "hand_poses": ((n, 7), "float32"),
              label_field: ((n,), "float32")}
    return {f: shapes.get(f, ((n,), "int32")) for f in (*FIELDS, label_field)}


@dataclass
class VerifyReport:
    """Outcome of ``verify_dataset``: problems (one line each) and the shard ranges to generate again."""

    root: Path
    num_shards: int
    problems: list[str] = field(default_factory=list)
    bad: list[int] = field(default_factory=list)  # present but wrong: delete their files, then re-run
    missing: list[int] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def rerun(self) -> list[range]:
        """Contiguous shard ranges covering the missing and bad shards, split where a recorded range ends
        (so each lies inside the range of one earlier process and passes the overlap check)."""
        cuts = {b for r in recorded_ranges(self.root) for b in (r.start, r.stop)}
        out: list[range] = []
        for i in sorted({*self.bad, *self.missing}):
            if out and out[-1].stop == i and i not in cuts:
                out[-1] = range(out[-1].start, i + 1)
            else:
                out.append(range(i, i + 1))
        return out

    def lines(self) -> list[str]:
        """Human-readable report: the verdict, each problem, and what to run."""
        if self.ok:
            return [f"{self.root}: OK, {self.num_shards} shards"]
        out = [f"{self.root}: {len(self.problems)} problem(s)", *(f"  {p}" for p in self.problems)]
        if self.bad:
            out.append("delete the files of the bad shards: " + " ".join(
                str(self.root / "tensors" / f"*_{i:05d}.npz") for i in self.bad))
        for r in self.rerun():
            out.append(f"rerun: dexnet synth {self.root} <the arguments that made it> "
                       f"--shards {format_range(r)}")
        return out


def _npz_header(path: Path) -> tuple[tuple[int, ...], str]:
    """(shape, dtype name) of the ``arr_0`` array of an .npz, read from its header only."""
    with zipfile.ZipFile(path) as z, z.open("arr_0.npy") as f:
        fmt = np.lib.format
        version = fmt.read_magic(f)
        shape, _, dtype = (fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0)(f)
    return tuple(shape), np.dtype(dtype).name


def _load(path: Path) -> np.ndarray:
    with np.load(path) as z:
        return z["arr_0"]


def verify_dataset(root: str | Path) -> VerifyReport:
    """Check the dataset in ``root`` (see the module docstring); DatasetError if it has no usable
    dataset.yaml."""
    import yaml

    root = Path(root)
    path = root / "dataset.yaml"
    if not path.is_file():
        raise DatasetError(f"{root}: no dataset.yaml (not a folder written by `dexnet synth`)")
    try:
        meta = yaml.safe_load(path.read_text()) or {}
        n_total, shard_size = int(meta["num_datapoints"]), int(meta["parameters"]["shard_size"])
        label_field = str(meta["label_field"])
        object_ids = set(meta.get("meshes", {}).get("object_ids", []))
    except (yaml.YAMLError, KeyError, TypeError, ValueError) as exc:
        raise DatasetError(f"{path}: unreadable or incomplete ({type(exc).__name__}: {exc})") from exc
    if n_total < 1 or shard_size < 1:
        raise DatasetError(f"{path}: num_datapoints {n_total} and shard_size {shard_size} must be >= 1")
    num_shards = -(-n_total // shard_size)
    report = VerifyReport(root, num_shards)
    fields = (*FIELDS, label_field)

    unexpected = []
    for p in sorted((root / "tensors").glob("*")) if (root / "tensors").is_dir() else []:
        m = SHARD_FILE.match(p.name)
        if p.name.startswith("."):
            unexpected.append(f"{p.name} (temporary file: a writer was killed or is still running)")
        elif m is None or m["field"] not in fields or int(m["index"]) >= num_shards:
            unexpected.append(p.name)
    if unexpected:
        report.problems.append(f"{len(unexpected)} unexpected file(s) in tensors/: "
                               + ", ".join(unexpected[:5]) + (" ..." if len(unexpected) > 5 else ""))

    for i in range(num_shards):
        n = min(shard_size, n_total - i * shard_size)
        absent = [f for f in fields if not shard_path(root, f, i).is_file()]
        if absent:
            report.missing.append(i)
            report.problems.append(f"shard {i}: missing {', '.join(absent)}")
            continue
        why = []
        for f, (shape, dtype) in _shapes(n, label_field).items():
            try:
                got = _npz_header(shard_path(root, f, i))
            except (OSError, KeyError, ValueError, zipfile.BadZipFile) as exc:
                why.append(f"{f} unreadable ({type(exc).__name__})")
                continue
            if got != (shape, dtype):
                why.append(f"{f} is {got[0]} {got[1]}, expected {shape} {dtype}")
        if not why:
            owner = np.unique(_load(shard_path(root, "image_labels", i)) // IMAGES_PER_SHARD)
            if owner.tolist() != [i]:
                why.append(f"image_labels belong to shard(s) {owner.tolist()[:5]}: a duplicate")
            strangers = set(np.unique(_load(shard_path(root, "object_labels", i)).tolist())) - object_ids
            if object_ids and strangers:
                why.append(f"object ids {sorted(strangers)[:5]} are not among dataset.yaml's meshes")
        if why:
            report.bad.append(i)
            report.problems.append(f"shard {i}: " + "; ".join(why))

    if not report.problems and "im_mean" not in meta:
        report.problems.append("dataset.yaml has no statistics yet: re-run any range of the dataset "
                               "(e.g. --shards 0:1) to write them")
    return report
