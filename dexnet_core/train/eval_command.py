"""`dexnet eval --checkpoint PATH_OR_NAME --dataset DIR [--split val]`: metrics JSON and PR curve PNG."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

logger = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of `dexnet eval`."""
    parser.add_argument("--checkpoint", required=True,
                        help="checkpoint file, reference state dict or shipped model name")
    parser.add_argument("--dataset", required=True, help="Dex-Net dataset folder (holding tensors/)")
    parser.add_argument("--split", default="val", choices=["val", "train", "all"],
                        help="datapoints to score; the checkpoint's stored split is reused (default val)")
    parser.add_argument("--out", default=None, help="output folder (default: <checkpoint folder>/eval)")
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda")
    parser.add_argument("--max-datapoints", type=int, default=None, help="score a seeded subset of this size")
    parser.add_argument("--gripper", choices=["parallel_jaw", "suction"], default=None,
                        help="gripper of a bare reference state dict (selects normalisation and labels)")
    parser.add_argument("--symmetries", type=int, default=1,
                        help="average each crop's score over this many of its gripper's symmetries: parallel "
                        "jaw 1, 2 or 4, suction 1, 2, 4 or 8 (the planner's jaw_/suction_symmetries)")
    parser.add_argument("--threshold", type=float, default=None,
                        help="prediction threshold of accuracy/precision/recall (default: the checkpoint's "
                        "training.prediction_threshold, else 0.2 for reference configs and weights, else "
                        "0.5; reference ones also report 0.2 and 0.5)")
    parser.add_argument("--no-plot", action="store_true", help="skip the PR curve PNG")


def run(args: argparse.Namespace) -> int:
    """Evaluate and write metrics.json (and pr_curve.png); prints the metrics JSON."""
    from dexnet_core.models.checkpoint import REFERENCE_SOURCE, load_checkpoint, load_training_state
    from dexnet_core.models.symmetries import symmetry_group
    from dexnet_core.train import metrics
    from dexnet_core.train.config import report_thresholds
    from dexnet_core.train.evaluate import evaluate_checkpoint
    from dexnet_core.train.loop import resolve_device

    if args.max_datapoints is not None and args.max_datapoints <= 0:
        raise ValueError(f"--max-datapoints must be > 0, got {args.max_datapoints}")
    if args.threshold is not None and not 0.0 < args.threshold < 1.0:
        raise ValueError(f"--threshold must be in (0, 1), got {args.threshold}")
    overrides = {"gripper": args.gripper} if args.gripper else {}
    gqm = load_checkpoint(args.checkpoint, device=resolve_device(args.device), **overrides)
    symmetry_group(gqm.gripper, args.symmetries)  # a bad count fails before any data is read
    ckpt = Path(args.checkpoint)
    state = load_training_state(ckpt) if ckpt.is_file() else {}
    default_out = ckpt.parent / "eval" if ckpt.is_file() else Path("eval") / ckpt.name
    out = Path(args.out) if args.out else default_out
    tcfg = gqm.config.get("training", {})
    recipe = gqm.config.get("recipe") or ("reference" if gqm.meta.get("source") == REFERENCE_SOURCE
                                          else "dexnet_ros")
    threshold = args.threshold if args.threshold is not None else tcfg.get("prediction_threshold")
    result = evaluate_checkpoint(gqm, args.dataset, split=args.split, training_state=state,
                                 max_datapoints=args.max_datapoints, symmetries=args.symmetries,
                                 thresholds=report_thresholds(recipe, threshold))
    report = {"checkpoint": str(args.checkpoint), "dataset": str(args.dataset), "arch": gqm.arch,
              "gripper": gqm.gripper, "recipe": recipe, **result.report}
    out.mkdir(parents=True, exist_ok=True)
    (out / "metrics.json").write_text(json.dumps(report, indent=2))
    if not args.no_plot:
        from dexnet_core.train.plots import save_pr_curve

        precision, recall, _ = metrics.precision_recall_curve(result.labels, result.scores)
        save_pr_curve(out / "pr_curve.png", precision, recall, f"{gqm.arch} on {Path(args.dataset).name} "
                      f"({args.split}, n={len(result.labels)})", report["average_precision"],
                      report["positive_fraction"])
    logger.info("wrote %s", out)
    sys.stdout.write(json.dumps(report) + "\n")
    return 0
