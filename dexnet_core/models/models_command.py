"""`dexnet models`: list the registered architectures and the shipped (pretrained) models."""

from __future__ import annotations

import argparse
import json
import sys

import torch


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `dexnet models`."""
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")


def describe_architectures() -> list[dict]:
    """Name, parameter count, depth input and FC support of every registered architecture."""
    from dexnet_core.errors import MissingExtraError
    from dexnet_core.models.gqcnn import GQCNN
    from dexnet_core.models.registry import get_model, list_models

    rows = []
    for name in list_models():
        with torch.device("meta"):  # shapes only: no memory, no init time
            try:
                model = get_model(name)
            except MissingExtraError as exc:
                rows.append({"name": name, "error": str(exc)})
                continue
        rows.append({"name": name, "params": sum(p.numel() for p in model.parameters()),
                     "uses_depth": bool(model.uses_depth), "fully_convolutional": isinstance(model, GQCNN),
                     "padding": getattr(model, "padding", "")})
    return rows


def describe_pretrained() -> list[dict]:
    """Name, architecture, gripper and file of every shipped model."""
    from dexnet_core.models.checkpoint import load_checkpoint
    from dexnet_core.models.pretrained import list_pretrained, model_card, pretrained_path

    rows = []
    for name in list_pretrained():
        gqm = load_checkpoint(name)
        card = model_card(name).strip().splitlines()
        rows.append({"name": name, "arch": gqm.arch, "arch_kwargs": gqm.arch_kwargs, "gripper": gqm.gripper,
                     "file": str(pretrained_path(name)), "card": card[0].lstrip("# ") if card else ""})
    return rows


def run(args: argparse.Namespace) -> int:
    """Print the architectures and shipped models."""
    archs, shipped = describe_architectures(), describe_pretrained()
    if args.json:
        sys.stdout.write(json.dumps({"architectures": archs, "pretrained": shipped}, indent=2) + "\n")
        return 0
    lines = ["architectures (dexnet_core.models.get_model):"]
    for a in archs:
        if "error" in a:
            lines.append(f"  {a['name']:<16} unavailable: {a['error']}")
            continue
        fc = f"FC ({a['padding']} padding)" if a["fully_convolutional"] else "no FC form"
        depth = "gripper-depth input" if a["uses_depth"] else "no depth input"
        lines.append(f"  {a['name']:<16} {a['params'] / 1e6:6.2f} M params  {depth:<19}  {fc}")
    lines.append("shipped models (load_checkpoint(name)):")
    lines += [f"  {p['name']:<24} {p['arch']} {p['arch_kwargs']}  {p['gripper']}  {p['card']}"
              for p in shipped]
    if not shipped:
        lines.append("  none installed")
    sys.stdout.write("\n".join(lines) + "\n")
    return 0
