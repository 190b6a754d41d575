"""The training loop: one readable function, ``train(cfg, device, resume)``.

Per step: gather a batch (positives oversampled), augment it on the device, normalise, forward, BCE on
(metric > threshold) with logits, backward, clip, optimizer step, log; every ``checkpoint_every_steps``
write ``last.pt``; validate per epoch (and every ``val_print_every`` steps), keeping ``best.pt`` on the lowest
validation loss. ExponentialLR steps once per epoch. A run folder holds::

    config.yaml  split.npz  last.pt  best.pt  [epoch_NNN.pt]  metrics.jsonl  summary.json  tb/

Checkpoints carry the optimizer, scheduler, AMP scaler and augmentation RNG state, the step, the epoch and
the batch within it; the data order is a function of (seed, epoch), so ``resume=True`` continues the same
batch sequence and loses at most one checkpoint interval. The library never exits or traps signals.
Under torchrun each rank runs this loop with a ``Distributed`` (train/distributed.py): its share of each
batch, DDP gradients, validation split over the ranks, files and logs from rank 0 only.
"""

from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
import yaml

from dexnet_core.data.augment import augment_batch
from dexnet_core.data.cache import CachedDataset, open_dataset
from dexnet_core.data.loader import BatchLoader, epoch_order, subsample
from dexnet_core.data.shards import (
    DEPTH_FIELD,
    GRIPPER_DEPTH_COLUMN,
    OBJECT_FIELD,
    POSE_FIELD,
    list_shards,
    read_dataset_yaml,
)
from dexnet_core.data.splits import Split, make_split
from dexnet_core.errors import CheckpointError, ConfigError, DatasetError, DexnetError, MissingExtraError
from dexnet_core.models import get_model
from dexnet_core.models.checkpoint import (
    GraspQualityModel,
    Normalization,
    flush_tiny_weights,
    load_checkpoint,
    load_training_state,
    save_checkpoint,
)
from dexnet_core.train.config import DataSettings, TrainConfig, resolve_data_settings
from dexnet_core.train.distributed import Distributed
from dexnet_core.train.evaluate import EVAL_BATCH, dataset_fingerprint, positives, predict, summarize

logger = logging.getLogger(__name__)

NORM_SAMPLES = 20000  # training datapoints used to estimate normalisation statistics
FLUSH_EVERY_STEPS = 100  # zero decayed dead weights this often: their subnormal products are slow on CPU


@dataclass
class TrainResult:
    """Outcome of ``train``: where the run lives and how far it got."""

    run_dir: Path
    step: int
    epoch: int
    best_val_loss: float
    val: dict


def resolve_device(device: str) -> torch.device:
    """'auto' -> cuda when available else cpu; 'cuda' without CUDA raises ValueError."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} requested but CUDA is not available")
    return dev


def compute_normalization(data: CachedDataset, indices: np.ndarray, settings: DataSettings, seed: int,
                          with_z: bool) -> Normalization:
    """Depth and gripper-depth mean/std (m) over a seeded sample of training datapoints.

    Uses the configured / dataset.yaml / preset depth statistics when ``settings`` has them.
    """
    sample = subsample(indices, NORM_SAMPLES, seed)
    if settings.im_mean is not None:
        im_mean, im_std = settings.im_mean, settings.im_std
    else:
        ims = np.asarray(data[DEPTH_FIELD][sample])
        im_mean, im_std = float(ims.mean(dtype=np.float64)), float(ims.std(dtype=np.float64))
        if not im_std > 0:
            raise DatasetError(f"{data.root}: depth crops are constant ({im_mean} m); cannot normalise")
    z_mean, z_std = 0.0, 1.0
    if with_z:
        z = np.asarray(data[POSE_FIELD][sample, GRIPPER_DEPTH_COLUMN], dtype=np.float64)
        z_mean, z_std = float(z.mean()), float(z.std()) if z.std() > 0 else 1.0
    return Normalization(im_mean, im_std, z_mean, z_std)


class RunLog:
    """Scalars to metrics.jsonl, TensorBoard and (when asked) wandb."""

    def __init__(self, run_dir: Path, cfg: TrainConfig, enabled: bool = True) -> None:
        self.path = run_dir / "metrics.jsonl" if enabled else None
        self.tb = self.wandb = None
        if not enabled:  # a rank other than 0
            return
        if cfg.outputs.tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError as exc:
                raise MissingExtraError("TensorBoard logging needs tensorboard: pip install dexnet-core[log] "
                                        "(or set outputs.tensorboard: false)") from exc
            self.tb = SummaryWriter(str(run_dir / "tb"))
        if cfg.training.wandb:
            self.wandb = _start_wandb(run_dir, cfg)

    def log(self, step: int, scalars: dict[str, float]) -> None:
        """Record ``scalars`` at ``step``."""
        if self.path is None:
            return
        with self.path.open("a") as fh:
            fh.write(json.dumps({"step": step, **scalars}) + "\n")
        if self.tb is not None:
            for key, value in scalars.items():
                self.tb.add_scalar(key, value, step)
        if self.wandb is not None:
            self.wandb.log(scalars, step=step)

    def close(self) -> None:
        """Flush and close the writers."""
        if self.tb is not None:
            self.tb.close()
        if self.wandb is not None:
            self.wandb.finish()


def _start_wandb(run_dir: Path, cfg: TrainConfig) -> object | None:
    """A wandb run: online with a login, else offline in ``run_dir/wandb``; None without wandb installed.

    Either fallback logs one warning line; the run goes on with metrics.jsonl (and TensorBoard).
    """
    try:
        import wandb
    except ImportError:
        logger.warning("training.wandb: wandb is not installed (pip install dexnet-core[log]); logging to "
                       "%s only", run_dir / "metrics.jsonl")
        return None
    try:
        online = bool(wandb.login(verify=False))
    except Exception:  # wandb raises its own UsageError when no API key is configured
        online = False
    if not online:
        logger.warning("training.wandb: no wandb login; logging offline to %s (upload later with "
                       "`wandb sync`)", run_dir / "wandb")
    return wandb.init(project="dexnet", name=cfg.name, config=cfg.to_dict(), dir=str(run_dir),
                      mode="online" if online else "offline", resume="allow" if online else None)


def _build_model(cfg: TrainConfig) -> torch.nn.Module:
    torch.manual_seed(cfg.training.seed)  # weight initialisation
    try:
        return get_model(cfg.model, **cfg.model_kwargs)
    except TypeError as exc:
        raise ConfigError(f"model_kwargs {cfg.model_kwargs} do not fit model {cfg.model!r}: {exc}") from exc


def _load_init_checkpoint(cfg: TrainConfig, dev: torch.device) -> GraspQualityModel:
    """The checkpoint (file or shipped name) a fine-tuning run starts from; ConfigError unless it holds the
    config's architecture."""
    path = cfg.training.init_checkpoint
    try:
        init = load_checkpoint(path, device=dev)
    except CheckpointError as exc:
        raise ConfigError(f"training.init_checkpoint: {exc}") from exc

    def shapes(model: torch.nn.Module) -> dict:
        return {k: tuple(v.shape) for k, v in model.state_dict().items()}

    if init.arch != cfg.model or shapes(init.model) != shapes(_build_model(cfg)):
        raise ConfigError(f"training.init_checkpoint {path} holds {init.arch} {init.arch_kwargs}, but the "
                          f"config trains {cfg.model} {dict(cfg.model_kwargs)}")
    return init


def _choose_split(cfg: TrainConfig, data: CachedDataset) -> Split:
    t = cfg.training
    kind = t.split_kind
    has_files = (data.root / "splits" / "image_wise" / "val_indices.npz").exists()
    if t.ordered_split is not None and (data.has(OBJECT_FIELD) or has_files):
        logger.info("training.ordered_split: %s: %s split, although the dataset has %s", t.ordered_split,
                    kind, "object_labels" if data.has(OBJECT_FIELD) else "splits/image_wise")
    objects = data[OBJECT_FIELD] if data.has(OBJECT_FIELD) else None
    return make_split(data.num_datapoints, kind, seed=t.seed, val_fraction=t.val_fraction,
                      object_labels=objects, dataset_root=data.root)


def _make_optimizer(cfg: TrainConfig, model: torch.nn.Module) -> torch.optim.Optimizer:
    o = cfg.optimizer
    if o.name == "sgd":
        return torch.optim.SGD(model.parameters(), lr=o.learning_rate, momentum=o.momentum,
                               weight_decay=o.weight_decay)
    return torch.optim.Adam(model.parameters(), lr=o.learning_rate, weight_decay=o.weight_decay)


def train(cfg: TrainConfig, device: str = "auto", resume: bool = False,
          dist: Distributed | None = None) -> TrainResult:
    """Train (or with ``resume`` continue) the run described by ``cfg``; returns where it ended.

    ``dist``: this process's rank in a multi-process run (default: a single process).
    """
    dist = dist or Distributed()
    dev = resolve_device(device)
    t, out = cfg.training, cfg.outputs
    if t.num_threads is not None:
        torch.set_num_threads(t.num_threads)
    run_dir = cfg.run_dir
    last_path = run_dir / "last.pt"
    if resume and not last_path.exists():
        logger.warning("--resume: %s not found, starting a new run", last_path)
        resume = False
    if not resume and last_path.exists():
        raise DexnetError(f"{run_dir} already holds a run; pass --resume to continue it or change "
                          "outputs.save_name")
    try:
        list_shards(t.dataset_path)  # a missing dataset is named before any default is looked up in it
    except DatasetError as exc:
        raise DatasetError(f"training.dataset_path: {exc}") from exc
    settings = resolve_data_settings(cfg, read_dataset_yaml(t.dataset_path))
    state: dict = {}
    if resume:
        gqm = load_checkpoint(last_path, device=dev)
        state = load_training_state(last_path)
        settings = DataSettings(**state["data_settings"])
        model = gqm.model
    elif t.init_checkpoint:
        init = _load_init_checkpoint(cfg, dev)
        model = init.model
    else:
        model = _build_model(cfg).to(dev)
    uses_depth = bool(model.uses_depth)

    fields = [DEPTH_FIELD, settings.label_field] + ([POSE_FIELD] if uses_depth else [])
    data = open_dataset(t.dataset_path, fields, optional=[OBJECT_FIELD], cache_dir=t.cache_dir)
    split = Split.from_state(state["split"]) if resume else _choose_split(cfg, data)
    if split.num_datapoints != data.num_datapoints:
        raise DatasetError(f"{t.dataset_path}: has {data.num_datapoints} datapoints but the run's split was "
                           f"made for {split.num_datapoints}")
    positive = positives(data, settings.label_field, settings.gt_threshold, settings.label_scale)
    train_idx = subsample(split.train, t.max_datapoints, t.seed)
    val_idx = subsample(split.val, t.val_max_datapoints, t.seed)
    if len(val_idx) == 0:
        raise DatasetError(f"{t.dataset_path}: the {split.kind} split leaves no validation datapoints")
    if not resume:
        norm = init.norm if t.init_checkpoint else compute_normalization(data, train_idx, settings, t.seed,
                                                                         uses_depth)
        meta = {"dataset": str(Path(t.dataset_path).resolve()), "dataset_hash": dataset_fingerprint(data),
                "num_datapoints": data.num_datapoints, "split": split.kind, "train_size": int(len(train_idx)),
                "val_size": int(len(val_idx)), "positive_fraction": float(positive[train_idx].mean())}
        gqm = GraspQualityModel(model=model, arch=cfg.model, arch_kwargs=dict(cfg.model_kwargs),
                                gripper=settings.gripper, norm=norm, label_field=settings.label_field,
                                threshold=settings.threshold, config=cfg.to_dict(), meta=meta)
        if dist.is_main:
            run_dir.mkdir(parents=True, exist_ok=True)
            split.save(run_dir / "split.npz")
            (run_dir / "config.yaml").write_text(yaml.safe_dump(cfg.to_dict(), sort_keys=False))
    logger.info("training %s on %s: %d train / %d val datapoints (%s split, %.1f%% positive), device %s",
                gqm.arch, t.dataset_path, len(train_idx), len(val_idx), split.kind,
                100 * positive[train_idx].mean(), dev)

    optimizer = _make_optimizer(cfg, model)
    scheduler = torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=cfg.optimizer.scheduler_gamma)
    use_amp = t.amp and dev.type == "cuda"
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp)
    gen = torch.Generator(device=dev).manual_seed(t.seed)
    step, epoch, batch_in_epoch, best_val = 0, 0, 0, math.inf
    if resume:
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        step, epoch, batch_in_epoch = int(state["step"]), int(state["epoch"]), int(state["batch_in_epoch"])
        if state["scaler"] and use_amp:
            scaler.load_state_dict(state["scaler"])
        try:
            gen.set_state(state["aug_rng"])
        except RuntimeError:  # CPU and CUDA generator states differ: resumed on another device type
            logger.warning("augmentation RNG state is from another device type; reseeding")
            gen.manual_seed(t.seed + step)
        best_val = float(state["best_val_loss"])
        logger.info("resuming %s at step %d (epoch %d, batch %d)", run_dir, step, epoch, batch_in_epoch)

    train_loader = BatchLoader(data, positive, batch_size=t.batch_size, device=dev, with_z=uses_depth,
                               num_workers=t.num_workers, shard=dist.shard)
    val_loader = BatchLoader(data, positive, batch_size=EVAL_BATCH, device=dev, with_z=uses_depth,
                             num_workers=t.num_workers)
    if train_loader.num_batches(train_idx, drop_last=True) == 0:
        raise ConfigError(f"training.batch_size ({t.batch_size}) exceeds the training set ({len(train_idx)})")
    total_steps = t.num_epochs * train_loader.num_batches(
        epoch_order(train_idx, positive, t.seed, 0, t.pos_weight), drop_last=True)
    if t.max_steps is not None:
        total_steps = min(total_steps, t.max_steps)

    def save(path: Path) -> None:
        if not dist.is_main:
            return
        save_checkpoint(path, gqm, optimizer=optimizer.state_dict(), scheduler=scheduler.state_dict(),
                        scaler=scaler.state_dict(), aug_rng=gen.get_state().cpu(), step=step, epoch=epoch,
                        batch_in_epoch=batch_in_epoch, best_val_loss=best_val, split=split.to_state(),
                        data_settings=asdict(settings))

    def validate() -> dict:
        nonlocal best_val
        scores, labels = dist.gather(*predict(gqm, val_loader, dist.part(val_idx)))
        report = summarize(labels, scores, cfg.report_thresholds)
        runlog.log(step, {f"val/{k}": float(report[k]) for k in
                          ("loss", "accuracy", "precision", "recall", "average_precision", "roc_auc")})
        logger.info("step %d epoch %d: val loss %.4f AP %.4f; %s", step, epoch, report["loss"],
                    report["average_precision"], "; ".join(
                        f"at {t_}: acc {r['accuracy']:.4f} prec {r['precision']:.4f} rec {r['recall']:.4f}"
                        for t_, r in report["at_threshold"].items()))
        if report["loss"] < best_val:
            best_val = report["loss"]
            save(run_dir / "best.pt")
        return report

    dist.agree(cfg.to_dict(), resume_step=step, dataset_hash=dataset_fingerprint(data), device=dev.type)
    net = dist.wrap(model)
    from tqdm import tqdm

    runlog = RunLog(run_dir, cfg, enabled=dist.is_main)
    bar = tqdm(total=total_steps, initial=min(step, total_steps), desc=f"train {cfg.name}", unit="step",
               disable=None if dist.is_main else True)
    val_report, val_step, saved_step = {}, -1, -1
    running, count, tick = 0.0, 0, time.perf_counter()
    done = t.max_steps is not None and step >= t.max_steps
    try:
        model.train()
        while epoch < t.num_epochs and not done:
            order = epoch_order(train_idx, positive, t.seed, epoch, t.pos_weight)
            for batch in train_loader.iterate(order, start_batch=batch_in_epoch, drop_last=True):
                im = augment_batch(batch.im, cfg.augmentation, gen, gqm.norm, span=batch.span)
                z = gqm.normalize_z(batch.z) if uses_depth else None
                with torch.autocast(device_type=dev.type, dtype=torch.float16, enabled=use_amp):
                    logits = net(gqm.normalize_depth(im), z)
                loss = F.binary_cross_entropy_with_logits(logits.float(), batch.label)
                optimizer.zero_grad(set_to_none=True)
                scaler.scale(loss).backward()
                if cfg.optimizer.grad_clip > 0:
                    scaler.unscale_(optimizer)
                    torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.optimizer.grad_clip)
                scaler.step(optimizer)
                scaler.update()
                step, batch_in_epoch = step + 1, batch_in_epoch + 1
                running, count = running + loss.detach(), count + 1  # no device sync per step
                bar.update(1)
                if step % FLUSH_EVERY_STEPS == 0:
                    flush_tiny_weights(model)
                if step % out.training_print_every == 0:
                    rate = count * t.batch_size / (time.perf_counter() - tick)
                    lr, mean_loss = optimizer.param_groups[0]["lr"], dist.mean(float(running) / count)
                    runlog.log(step, {"train/loss": mean_loss, "train/lr": lr, "train/samples_per_s": rate})
                    logger.info("step %d/%d epoch %d: train loss %.4f, lr %.3g, %.0f samples/s", step,
                                total_steps, epoch, mean_loss, lr, rate)
                    bar.set_postfix(loss=f"{mean_loss:.4f}")
                    running, count, tick = 0.0, 0, time.perf_counter()
                if out.val_print_every and step % out.val_print_every == 0:
                    val_report, val_step = validate(), step
                if step % t.checkpoint_every_steps == 0:
                    save(last_path)
                    saved_step = step
                if t.max_steps is not None and step >= t.max_steps:
                    done = True
                    break
            if done:
                break
            scheduler.step()
            epoch, batch_in_epoch = epoch + 1, 0
            if val_step != step:
                val_report, val_step = validate(), step
            if out.save_every_x_epoch and epoch % out.save_every_x_epoch == 0:
                save(run_dir / f"epoch_{epoch:03d}.pt")
            save(last_path)
            saved_step = step
        if val_step != step:
            val_report = validate()
        if saved_step != step:
            save(last_path)
    finally:
        bar.close()
        runlog.close()
    result = TrainResult(run_dir, step, epoch, best_val, val_report)
    if dist.is_main:
        (run_dir / "summary.json").write_text(json.dumps(
            {"step": step, "epoch": epoch, "best_val_loss": best_val, "val": val_report}, indent=2))
    return result
