"""`dexnet convert`: turn a GQ-CNN checkpoint (ours or a bare reference state dict) into a checked
self-describing checkpoint, or export it in one of the reference's layouts.

Our FC-GQ-CNN needs no separate weights (``to_fully_convolutional`` reuses the GQ-CNN's), so converting
means: load (a bare reference DexNetBase, BaseFCGQCNN or EfficientNet state dict gets the gripper's
normalisation), check that the fully convolutional form reproduces the GQ-CNN on crops of a test image
(EfficientNet has no FC form and skips the check), and write the result. ``--reference-fc`` writes instead
the reference BaseFCGQCNN state dict (fc -> conv5 (1024, 64, 16, 16), fc2 -> conv6, fc3 -> conv7);
``--to-reference`` the reference's DexNetBase or EfficientNet state dict (reference_layout.py).
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import torch

logger = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `dexnet convert`."""
    parser.add_argument("checkpoint", help="checkpoint file, bare reference state dict or shipped model name")
    parser.add_argument("output", type=Path, help="where to write the converted file (.pt)")
    parser.add_argument("--gripper", choices=("parallel_jaw", "suction"),
                        help="gripper of a bare reference state dict (selects normalisation and labels)")
    layout = parser.add_mutually_exclusive_group()
    layout.add_argument("--reference-fc", action="store_true",
                        help="write the reference BaseFCGQCNN state dict (dexnet_base only)")
    layout.add_argument("--to-reference", action="store_true",
                        help="write the reference's bare DexNetBase / EfficientNet state dict")
    parser.add_argument("--check-size", type=int, default=48, help="side of the FC self-check image (px)")


@torch.no_grad()
def fc_self_check(model: torch.nn.Module, size: int) -> float:
    """Largest |FC-GQ-CNN - GQ-CNN| over the stride-1 crops of a random size x size image."""
    from dexnet_core.models.fc_gqcnn import to_fully_convolutional

    if size < 32:
        raise ValueError(f"--check-size must be >= 32, got {size}")
    gen = torch.Generator().manual_seed(0)
    im = torch.randn(1, 1, size, size, generator=gen)
    z = torch.randn(1, generator=gen) if model.uses_depth else None
    heat = to_fully_convolutional(model, exact=True)(im, z)
    crops = im.unfold(2, 32, 1).unfold(3, 32, 1).reshape(-1, 1, 32, 32)
    zc = None if z is None else z.expand(crops.shape[0])
    return (heat.reshape(-1) - model(crops, zc)).abs().max().item()


def run(args: argparse.Namespace) -> int:
    """Convert, self-check and write; returns 0 on success."""
    from dexnet_core.models.checkpoint import load_checkpoint, save_checkpoint
    from dexnet_core.models.gqcnn import GQCNN
    from dexnet_core.models.reference_layout import reference_fc_state_dict, to_reference

    overrides = {"gripper": args.gripper} if args.gripper else {}
    gqm = load_checkpoint(args.checkpoint, **overrides)
    if args.reference_fc and gqm.arch != "dexnet_base":
        raise ValueError(f"--reference-fc needs a dexnet_base model, got {gqm.arch}")
    state = to_reference(gqm.model, gqm.arch) if args.to_reference else None  # fails early for other archs
    if isinstance(gqm.model, GQCNN):
        diff = fc_self_check(gqm.model, args.check_size)
        if diff > 1e-4:
            raise ValueError(f"FC-GQ-CNN differs from the GQ-CNN by {diff:.2e} on the self-check image")
        logger.info("%s (%s, %s): FC form matches the crops (max |diff| %.1e)", args.checkpoint, gqm.arch,
                    gqm.gripper, diff)
    else:
        logger.info("%s (%s, %s): no fully convolutional form; nothing to check", args.checkpoint, gqm.arch,
                    gqm.gripper)
    if args.reference_fc:
        state = reference_fc_state_dict(gqm.model)
    if state is not None:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        torch.save(state, args.output)
    else:
        save_checkpoint(args.output, gqm)
    logger.info("wrote %s", args.output)
    return 0
