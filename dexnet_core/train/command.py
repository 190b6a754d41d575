"""`dexnet train --config FILE [--resume] [--device auto|cpu|cuda] [--set key=value ...] [--nproc N]`.

Under torchrun (WORLD_SIZE set) every rank runs this command; `--nproc N` starts N local ranks itself.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys

from dexnet_core.train import distributed
from dexnet_core.train.config import load_config

logger = logging.getLogger(__name__)

VAL_KEYS = ("loss", "accuracy", "precision", "recall", "average_precision", "roc_auc", "prediction_threshold",
            "at_threshold")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of `dexnet train`."""
    parser.add_argument("--config", required=True, help="training YAML (Dex-Net 5.0 keys accepted)")
    parser.add_argument("--resume", action="store_true", help="continue the run from its last.pt")
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N (default auto)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config value, e.g. --set training.batch_size=128 (repeatable)")
    parser.add_argument("--nproc", type=int, default=None, metavar="N",
                        help="train with N local processes (DDP via torchrun, standalone); "
                             "training.batch_size is the global batch")
    parser.add_argument("--dist-timeout", type=float, default=distributed.DEFAULT_TIMEOUT_S, metavar="S",
                        help="with several processes: longest wait for another rank, in seconds "
                             f"(default {distributed.DEFAULT_TIMEOUT_S:g})")


def _rank_argv(args: argparse.Namespace) -> list[str]:
    """The command line each rank started by ``--nproc`` runs: this one without ``--nproc``."""
    argv = ["--log-level", args.log_level, "train", "--config", args.config, "--device", args.device,
            "--dist-timeout", str(args.dist_timeout)]
    for item in args.overrides:
        argv += ["--set", item]
    return argv + (["--resume"] if args.resume else [])


def run(args: argparse.Namespace) -> int:
    """Validate the config, then train; prints the run folder and final validation metrics."""
    if args.nproc is not None:
        distributed.launch(args.nproc, _rank_argv(args))
        return 0
    ctx = distributed.from_env(args.device, args.dist_timeout)
    if not ctx.is_main:
        logging.getLogger("dexnet_core").setLevel(logging.WARNING)
    try:
        cfg = load_config(args.config, args.overrides)
        from dexnet_core.train.loop import train

        result = train(cfg, device=ctx.device, resume=args.resume, dist=ctx)
    except Exception as exc:
        if not ctx.enabled:
            raise
        error = ctx.fail(exc)
        ctx.close()
        distributed.leave(1, f"dexnet train: error: {error}")
    finally:
        ctx.close()
    if ctx.is_main:
        sys.stdout.write(json.dumps({"run_dir": str(result.run_dir), "step": result.step,
                                     "epoch": result.epoch, "best_val_loss": result.best_val_loss,
                                     "val": {k: result.val.get(k) for k in VAL_KEYS}}) + "\n")
    if ctx.enabled:
        distributed.leave(0)
    return 0
