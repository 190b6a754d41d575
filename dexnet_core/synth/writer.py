"""Write a synthetic dataset to disk: atomic shards, resumable multi-process runs, dataset.yaml.

A shard is complete when every field file ``tensors/<field>_NNNNN.npz`` exists; each file is written to a
hidden temporary name and renamed, so a killed run leaves only whole files. Shard content depends only on
(config, objects, shard index), so re-running the same command regenerates exactly the missing shards and
ends with the same dataset as an uninterrupted run, and processes on several machines may write disjoint
ranges of shards into one folder (see ranges.py); whichever finds every shard present at its end writes
the dataset statistics into dataset.yaml.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import socket
import time
from pathlib import Path

import numpy as np

from dexnet_core.errors import DatasetError
from dexnet_core.synth.generate import CameraRange, SynthConfig, generate_shard
from dexnet_core.synth.meshes import ObjectMesh
from dexnet_core.synth.ranges import claim_range
from dexnet_core.synth.sensors import get_sensor

logger = logging.getLogger(__name__)

GENERATOR_VERSION = "0.1.0"
FIELDS = ("depth_ims_tf_table", "hand_poses", "object_labels", "pose_labels", "image_labels")
LABEL_THRESHOLD = 0.5  # a grasp is positive when its success probability exceeds one half


def field_names(cfg: SynthConfig) -> tuple[str, ...]:
    return (*FIELDS, cfg.label_field)


def shard_path(root: Path, field: str, index: int) -> Path:
    return root / "tensors" / f"{field}_{index:05d}.npz"


def shard_done(root: Path, cfg: SynthConfig, index: int) -> bool:
    return all(shard_path(root, f, index).exists() for f in field_names(cfg))


def _tmp_name(final: Path) -> Path:
    """Hidden temporary name of ``final``, unique per host and process (several machines, one folder)."""
    return final.parent / f".{final.name}.{socket.gethostname()}.{os.getpid()}.tmp"


def write_shard(root: Path, index: int, data: dict[str, np.ndarray]) -> None:
    """Write every field of one shard atomically (temporary file, then rename)."""
    for field, arr in data.items():
        final = shard_path(root, field, index)
        tmp = _tmp_name(final)
        with open(tmp, "wb") as f:
            np.savez(f, arr)
        os.replace(tmp, final)


_WORKER: dict = {}


def _init_worker(cfg: SynthConfig, objects: list[ObjectMesh], root: Path) -> None:
    _WORKER.update(cfg=cfg, objects=objects, root=root)


def _init_pool_worker(cfg: SynthConfig, objects: list[ObjectMesh], root: Path) -> None:
    import torch

    torch.set_num_threads(1)  # hole filling runs in torch: one thread per generator process
    _init_worker(cfg, objects, root)


def _run_shard(index: int) -> tuple[int, int]:
    cfg, root = _WORKER["cfg"], _WORKER["root"]
    data = generate_shard(cfg, _WORKER["objects"], index)
    write_shard(root, index, data)
    return index, len(data[cfg.label_field])


# what a dataset written before a parameter existed was made with (its generator behaved so)
_BEFORE = SynthConfig(sensor="gaussian", camera=CameraRange(focal_px=None, image_sizes=((640, 480),)))


def _merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(base[k], v) if isinstance(v, dict) and isinstance(base.get(k), dict) else v
    return out


def parameters_then(params: dict) -> dict:
    """The ``parameters`` of a dataset.yaml completed in today's schema: parameters added since it was
    written get the value they had then, and the noise settings of datasets written before the named
    sensor models (``depth_noise``) become the sensor they equal (``gaussian``)."""
    import yaml

    params = dict(params)
    noise = params.pop("depth_noise", None)
    if noise is not None and "sensor" not in params:
        gaussian = get_sensor("gaussian").to_dict()
        if any(gaussian.get(k) != v for k, v in noise.items()):
            params["sensor"] = f"depth_noise {noise}"  # no named model: resuming it is refused
    then = yaml.safe_load(yaml.safe_dump(_BEFORE.to_dict()))
    del then["sensor_models"]  # a leaf: the models of the dataset's own sensor (below when missing)
    out = _merge(then, params)
    if "sensor_models" not in out:
        try:
            models = SynthConfig(sensor=out["sensor"]).to_dict()["sensor_models"]
        except ValueError:  # no named model: resuming is refused by the comparison
            models = {}
        out["sensor_models"] = yaml.safe_load(yaml.safe_dump(models))
    return out


def _check_existing(root: Path, cfg: SynthConfig, meta: dict) -> None:
    import yaml

    path = root / "dataset.yaml"
    if not path.exists():
        return
    old = yaml.safe_load(path.read_text()) or {}
    new = yaml.safe_load(yaml.safe_dump(meta))  # tuples become lists, as in the file
    if "parameters" in old:  # parameters added since that dataset was written had their value then
        old["parameters"] = parameters_then(old["parameters"])
    if isinstance(old.get("meshes"), dict):  # mesh keys added since (per-family records) were not written
        new["meshes"] = {k: v for k, v in new["meshes"].items() if k in old["meshes"]}
    for key in ("seed", "gripper", "parameters", "meshes"):
        if key in old and old[key] != new[key]:
            what = repr(key)
            if isinstance(old[key], dict) and isinstance(new[key], dict):
                keys = sorted(k for k in {*old[key], *new[key]} if old[key].get(k) != new[key].get(k))
                what += " (" + ", ".join(f"{k}: {old[key].get(k)!r} there, {new[key].get(k)!r} here"
                                         for k in keys)[:300] + ")"
            raise DatasetError(f"{root} holds a dataset made with a different {what}; use another folder "
                               "or the same arguments to resume it")


def _write_yaml(root: Path, meta: dict) -> None:
    import yaml

    tmp = _tmp_name(root / "dataset.yaml")
    tmp.write_text(yaml.safe_dump(meta, sort_keys=False, default_flow_style=None, width=110))
    os.replace(tmp, root / "dataset.yaml")


def dataset_statistics(root: Path, cfg: SynthConfig, threshold: float) -> dict:
    """Depth-pixel and gripper-depth mean/std and label statistics over all shards of a dataset."""
    s = s2 = n = 0.0
    zs, labels = [], []
    for i in range(cfg.num_shards):
        with np.load(shard_path(root, "depth_ims_tf_table", i)) as z:
            im = z["arr_0"].astype(np.float64)
        s, s2, n = s + im.sum(), s2 + (im ** 2).sum(), n + im.size
        with np.load(shard_path(root, "hand_poses", i)) as z:
            zs.append(z["arr_0"][:, 2])
        with np.load(shard_path(root, cfg.label_field, i)) as z:
            labels.append(z["arr_0"])
    mean = s / n
    z = np.concatenate(zs).astype(np.float64)
    q = np.concatenate(labels).astype(np.float64)
    return {
        "im_mean": float(mean), "im_std": float(np.sqrt(max(s2 / n - mean ** 2, 0.0))),
        "pose_mean": float(z.mean()), "pose_std": float(z.std()),
        "label_stats": {"positive_fraction": float((q > threshold).mean()),
                        "zero_fraction": float((q == 0).mean()), "mean": float(q.mean()),
                        "quantiles": {str(p): float(np.quantile(q, p)) for p in (0.25, 0.5, 0.75, 0.9)}},
    }


def synthesize(root: str | Path, cfg: SynthConfig, objects: list[ObjectMesh], workers: int = 1,
               mesh_info: dict | None = None, progress: bool = True, shards: range | None = None) -> dict:
    """Generate (or finish) the dataset in ``root``; returns the dataset.yaml content.

    objects: the meshes to draw from (their ids go into dataset.yaml); workers: processes; shards: only
    this range of shard indices (other processes write the rest, see ranges.py; default: all). The
    statistics (im_mean, ..., label_stats) are in the result only once every shard is present.
    """
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    every = range(cfg.num_shards)
    shards = every if shards is None else shards
    if not (shards and 0 <= shards.start and shards.stop <= cfg.num_shards and shards.step == 1):
        raise ValueError(f"shards must be a non-empty range inside [0, {cfg.num_shards}), got {shards}")
    root = Path(root)
    (root / "tensors").mkdir(parents=True, exist_ok=True)
    mine = {shard_path(root, f, i).name for f in field_names(cfg) for i in shards}
    for tmp in (root / "tensors").glob(".*.tmp"):  # left by a killed writer of this range
        if tmp.name[1:].split(".npz.")[0] + ".npz" in mine:
            tmp.unlink(missing_ok=True)
    meta = {
        "generator_version": GENERATOR_VERSION,
        "gripper": cfg.gripper,
        "label_field": cfg.label_field,
        "label_threshold": LABEL_THRESHOLD,
        "num_datapoints": cfg.num_datapoints,
        "seed": cfg.seed,
        "meshes": {**(mesh_info or {}), "count": len(objects),
                   "object_ids": sorted(int(o.object_id) for o in objects)},
        "parameters": cfg.to_dict(),
    }
    _check_existing(root, cfg, meta)
    if shards != every:
        claim_range(root, shards)
    if not (root / "dataset.yaml").exists():  # an existing one matches (checked); it may hold statistics
        _write_yaml(root, meta)
    todo = [i for i in shards if not shard_done(root, cfg, i)]
    logger.info("%s: %d of %d shards to generate with %d worker(s)", root, len(todo), len(shards), workers)
    start = time.perf_counter()
    made = 0
    if todo:
        from tqdm import tqdm

        bar = tqdm(total=sum(cfg.shard_length(i) for i in todo), unit="dp", unit_scale=True,
                   desc=f"synth {cfg.gripper}", disable=not progress, smoothing=0.05)
        if workers == 1:
            _init_worker(cfg, objects, root)
            results = map(_run_shard, todo)
            pool = None
        else:
            pool = mp.get_context("fork").Pool(workers, _init_pool_worker, (cfg, objects, root))
            results = pool.imap_unordered(_run_shard, todo)
        try:
            for _, count in results:
                made += count
                bar.update(count)
        finally:
            bar.close()
            if pool is not None:
                pool.terminate()
                pool.join()
    elapsed = time.perf_counter() - start
    if made:
        logger.info("generated %d datapoints in %.1f s (%.0f datapoints/s)", made, elapsed, made / elapsed)
    missing = sum(not shard_done(root, cfg, i) for i in every)
    if missing:
        logger.info("%s: shards %d:%d done; %d of %d shards of the dataset still missing (statistics are "
                    "written by the process that finds them all)", root, shards.start, shards.stop, missing,
                    cfg.num_shards)
        return meta
    meta.update(dataset_statistics(root, cfg, LABEL_THRESHOLD))
    _write_yaml(root, meta)
    return meta
