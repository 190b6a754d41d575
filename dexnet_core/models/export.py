"""ONNX export of a GraspQualityModel: metric depth in, success probability out, normalisation inside.

Two graphs (``export_onnx``), both with dynamic sizes:

- crops (every architecture): ``crops`` (N, 1, 32, 32) float32 depth in metres and, for models with a
  gripper-depth input, ``gripper_depth`` (N,) metres -> ``quality`` (N,) in [0, 1];
- fully convolutional (conv+fc GQ-CNNs; not efficientnet_b0): ``depth`` (B, 1, H, W) metres, H, W >= 32,
  and ``gripper_depth`` (B, K) metres (K depths per image) -> ``quality`` (B, K, Ho, Wo), or (B, Ho, Wo)
  without a depth input; Ho = (H - 32) // stride + 1 at the stride fixed at export, cell (i, j) is the
  32x32 crop centred at pixel (i * stride + 16, j * stride + 16). 'valid'-padded models (gqcnn_small)
  equal the crop-wise network exactly; 'same'-padded ones give the whole-image map (``exact=False``).

The model's ``metadata_props`` hold ``format`` (dexnet_ros.onnx), ``kind``, ``arch``, ``arch_kwargs``
(JSON), ``gripper``, ``label_field``, ``threshold``, ``im_mean``, ``im_std``, ``z_mean``, ``z_std`` (already
applied in the graph), ``uses_depth``, ``stride`` (fully convolutional only), ``fc_semantics`` and
``version`` (dexnet_core). Needs the ``onnx`` extra (onnx, onnxscript; onnxruntime to run it).
"""

from __future__ import annotations

import contextlib
import copy
import json
import logging
import warnings
from collections.abc import Iterator
from typing import TYPE_CHECKING

import torch
from torch import nn

from dexnet_core import __version__
from dexnet_core.errors import MissingExtraError

if TYPE_CHECKING:
    import onnx

    from dexnet_core.models.checkpoint import GraspQualityModel, Normalization

logger = logging.getLogger(__name__)

FORMAT = "dexnet_ros.onnx"
DEFAULT_OPSET = 18  # torch's exporter writes 18 natively; lower versions go through the ONNX converter
SAMPLE_SIZE = 64  # side of the example image traced for the fully convolutional graph (any size works after)


class CropGraph(nn.Module):
    """Metric crops (N, 1, 32, 32) [+ gripper depths (N,) m] -> (N,) probabilities, normalisation included."""

    def __init__(self, model: nn.Module, norm: Normalization) -> None:
        super().__init__()
        self.model, self.norm = model, norm

    def forward(self, crops: torch.Tensor, gripper_depth: torch.Tensor | None = None) -> torch.Tensor:
        n = self.norm
        z = None if gripper_depth is None else (gripper_depth - n.z_mean) / n.z_std
        return torch.sigmoid(self.model.logits((crops - n.im_mean) / n.im_std, z))


class HeatmapGraph(nn.Module):
    """Metric depth (B, 1, H, W) [+ gripper depths (B, K) m] -> heatmaps at ``stride`` (module docstring)."""

    def __init__(self, model: nn.Module, norm: Normalization, stride: int) -> None:
        super().__init__()
        from dexnet_core.models.fc_gqcnn import FCGQCNN

        self.fc, self.norm, self.stride = FCGQCNN(model, exact=False), norm, stride

    def forward(self, depth: torch.Tensor, gripper_depth: torch.Tensor | None = None) -> torch.Tensor:
        n = self.norm
        z = None if gripper_depth is None else (gripper_depth - n.z_mean) / n.z_std
        return self.fc.portable_forward((depth - n.im_mean) / n.im_std, z, self.stride)


@contextlib.contextmanager
def _quiet_exporter() -> Iterator[None]:
    """Silence the exporter's per-pass INFO logs and its axis-renaming warning while exporting."""
    loggers = [logging.getLogger(name) for name in ("onnxscript", "onnx_ir", "torch.onnx")]
    levels = [lg.level for lg in loggers]
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*axis name.*will not be used")
        for lg in loggers:
            lg.setLevel(max(lg.getEffectiveLevel(), logging.WARNING))
        try:
            yield
        finally:
            for lg, level in zip(loggers, levels):
                lg.setLevel(level)


def has_fc_form(gqm: GraspQualityModel) -> bool:
    """Whether the model has a fully convolutional form (conv+fc GQ-CNNs do; EfficientNet does not)."""
    from dexnet_core.models.gqcnn import GQCNN

    return isinstance(gqm.model, GQCNN)


def export_onnx(gqm: GraspQualityModel, fully_convolutional: bool = False, stride: int = 1,
                opset: int = DEFAULT_OPSET) -> onnx.ModelProto:
    """The ONNX model of ``gqm`` (see the module docstring); ValueError for a model with no FC form when
    ``fully_convolutional``, a bad stride or an opset the converter cannot reach."""
    if fully_convolutional and not has_fc_form(gqm):
        raise ValueError(f"{gqm.arch} has no fully convolutional form; export it without "
                         "--fully-convolutional (crops), or use a conv+fc GQ-CNN (dexnet_base, "
                         "gqcnn_dexnet2, gqcnn_small)")
    if int(stride) != stride or stride < 1:
        raise ValueError(f"stride must be a positive integer, got {stride}")
    try:
        import onnx
        import onnxscript  # noqa: F401  (torch's exporter needs it)
    except ImportError as exc:
        raise MissingExtraError(f"ONNX export needs onnx and onnxscript: pip install dexnet-core[onnx] "
                                f"({exc})") from exc
    from torch.export import Dim

    newest = onnx.defs.onnx_opset_version()
    if not 7 <= opset <= newest:
        raise ValueError(f"opset must be in [7, {newest}] (this onnx package), got {opset}")

    batch = Dim("batch")
    model = copy.deepcopy(gqm.model).cpu().eval()  # the caller's model stays on its device
    if fully_convolutional:
        graph: nn.Module = HeatmapGraph(model, gqm.norm, int(stride))
        args = [torch.full((2, 1, SAMPLE_SIZE, SAMPLE_SIZE + 8), gqm.norm.im_mean)]  # batch 1 would be fixed
        shapes = {"depth": {0: batch, 2: Dim("height", min=32), 3: Dim("width", min=32)}}
        names = ["depth"]
        if gqm.uses_depth:
            args.append(torch.full((2, 3), gqm.norm.z_mean))
            shapes["gripper_depth"] = {0: batch, 1: Dim("depths")}
    else:
        size = gqm.model.input_size
        graph = CropGraph(model, gqm.norm)
        args = [torch.full((2, 1, size, size), gqm.norm.im_mean)]
        shapes = {"crops": {0: batch}}
        names = ["crops"]
        if gqm.uses_depth:
            args.append(torch.full((2,), gqm.norm.z_mean))
            shapes["gripper_depth"] = {0: batch}
    names += ["gripper_depth"] if gqm.uses_depth else []
    # autograd on: the models' no-grad fast paths (oneDNN ops) are CPU-only and not exportable
    with torch.enable_grad(), _quiet_exporter():
        program = torch.onnx.export(graph.eval(), tuple(args), dynamo=True, input_names=names,
                                    output_names=["quality"], dynamic_shapes=shapes, opset_version=opset,
                                    verbose=False)
    proto = program.model_proto
    got = next(o.version for o in proto.opset_import if o.domain in ("", "ai.onnx"))
    if got != opset:
        raise ValueError(f"torch's ONNX exporter could not convert this model to opset {opset} (it made "
                         f"{got}); use --opset {DEFAULT_OPSET} or higher")
    meta = {
        "format": FORMAT, "kind": "fully_convolutional" if fully_convolutional else "crops",
        "arch": gqm.arch, "arch_kwargs": json.dumps(gqm.arch_kwargs, sort_keys=True),
        "gripper": gqm.gripper, "label_field": gqm.label_field, "threshold": repr(float(gqm.threshold)),
        **{k: repr(float(getattr(gqm.norm, k))) for k in ("im_mean", "im_std", "z_mean", "z_std")},
        "uses_depth": str(gqm.uses_depth).lower(), "version": __version__,
    }
    if fully_convolutional:
        meta["stride"] = str(int(stride))
        meta["fc_semantics"] = "exact" if gqm.model.padding == "valid" else "whole_image"
    del proto.metadata_props[:]
    for key, value in meta.items():
        proto.metadata_props.add(key=key, value=value)
    proto.doc_string = (f"dexnet_ros {gqm.arch} ({gqm.gripper}) grasp quality from metric depth; inputs "
                        f"{', '.join(names)}, output quality")
    return proto


def onnx_metadata(proto: onnx.ModelProto) -> dict[str, str]:
    """The ``metadata_props`` of an ONNX model as a dict."""
    return {p.key: p.value for p in proto.metadata_props}
