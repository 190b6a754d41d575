"""`dexnet train --config FILE [--resume] [--device auto|cpu|cuda] [--set key=value ...]`."""

from __future__ import annotations

import argparse
import json
import logging
import sys

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


def run(args: argparse.Namespace) -> int:
    """Validate the config, then train; prints the run folder and final validation metrics."""
    cfg = load_config(args.config, args.overrides)
    from dexnet_core.train.loop import train

    result = train(cfg, device=args.device, resume=args.resume)
    sys.stdout.write(json.dumps({"run_dir": str(result.run_dir), "step": result.step, "epoch": result.epoch,
                      "best_val_loss": result.best_val_loss,
                      "val": {k: result.val.get(k) for k in VAL_KEYS}}) + "\n")
    return 0
