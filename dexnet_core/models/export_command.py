"""`dexnet export`: write a checkpoint as an ONNX model (crops, or a fully convolutional heatmap graph).

Example: ``dexnet export dexnet2_pj_small pj_fc.onnx --fully-convolutional`` (see export.py for the
inputs, outputs and metadata). When onnxruntime is installed the file is checked against torch on a test
input before the command returns.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import numpy as np
import torch

from dexnet_core.models.export import DEFAULT_OPSET

logger = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `dexnet export`."""
    parser.add_argument("checkpoint", help="checkpoint file, bare reference state dict or shipped model name")
    parser.add_argument("output", type=Path, help="ONNX file to write (.onnx)")
    parser.add_argument("--fully-convolutional", action="store_true",
                        help="export the heatmap graph (any image size) instead of the crop graph")
    parser.add_argument("--stride", type=int, help="heatmap stride in network pixels (default: the "
                        "planner's, 2 for parallel jaw, 1 for suction)")
    parser.add_argument("--opset", type=int, default=DEFAULT_OPSET,
                        help=f"ONNX opset (default {DEFAULT_OPSET})")
    parser.add_argument("--gripper", choices=("parallel_jaw", "suction"),
                        help="gripper of a bare reference state dict (selects normalisation and labels)")


@torch.no_grad()
def check_against_torch(gqm, model_bytes: bytes, fully_convolutional: bool, stride: int) -> float:
    """Largest |onnxruntime - torch| on a random metric test input (crops, or a 72x80 image)."""
    import onnxruntime as ort

    session = ort.InferenceSession(model_bytes, providers=["CPUExecutionProvider"])
    gen = torch.Generator().manual_seed(0)
    shape = (2, 1, 72, 80) if fully_convolutional else (16, 1, 32, 32)
    depth = gqm.norm.im_mean + gqm.norm.im_std * torch.randn(*shape, generator=gen)
    z = None
    if gqm.uses_depth:
        z = gqm.norm.z_mean + gqm.norm.z_std * torch.randn(shape[0], *((3,) if fully_convolutional else ()),
                                                            generator=gen)
    feeds = {"depth" if fully_convolutional else "crops": depth.numpy()}
    if z is not None:
        feeds["gripper_depth"] = z.numpy()
    got = session.run(["quality"], feeds)[0]
    if fully_convolutional:
        want = gqm.heatmap(depth, z, stride=stride, exact=False)
    else:
        want = torch.from_numpy(gqm.score(depth[:, 0].numpy(), None if z is None else z.numpy()))
    return float(np.abs(got - want.cpu().numpy()).max())


def run(args: argparse.Namespace) -> int:
    """Load, export, check with onnxruntime (when installed) and write; returns 0 on success."""
    import onnx

    from dexnet_core.models.checkpoint import load_checkpoint
    from dexnet_core.models.export import export_onnx, onnx_metadata
    from dexnet_core.planning.config import PlannerConfig

    gqm = load_checkpoint(args.checkpoint, **({"gripper": args.gripper} if args.gripper else {}))
    stride = args.stride
    if stride is None:
        stride = PlannerConfig.suction_stride if gqm.gripper == "suction" else PlannerConfig.stride
    proto = export_onnx(gqm, fully_convolutional=args.fully_convolutional, stride=stride, opset=args.opset)
    model_bytes = proto.SerializeToString()
    try:
        diff = check_against_torch(gqm, model_bytes, args.fully_convolutional, stride)
    except ImportError:
        logger.warning("onnxruntime is not installed: %s is not checked against torch", args.output)
    else:
        if not diff < 1e-4:
            raise ValueError(f"the ONNX graph differs from torch by {diff:.2e} on the test input")
        logger.info("onnxruntime matches torch on the test input (max |diff| %.1e)", diff)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(proto, str(args.output))
    meta = onnx_metadata(proto)
    logger.info("wrote %s (%s %s, %s, opset %d, %.1f MB)", args.output, gqm.arch, meta["kind"], gqm.gripper,
                args.opset, len(model_bytes) / 1e6)
    return 0
