"""FC-GQ-CNN heatmaps run by onnxruntime: the planner's ``backend: onnxruntime``.

``onnx_heatmap(gqm, stride, device)`` exports the model's fully convolutional graph (export.py: the graph
``dexnet export --fully-convolutional`` writes) and runs it in an onnxruntime session on the CPU execution
provider (with torch's number of threads), or the CUDA one for a cuda device (onnxruntime-gpu). It is
called like ``GraspQualityModel.heatmap``. Sessions are cached per model, stride and device, so rebuilding
a planner (a node's parameter change) does not export again.
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from dexnet_core.errors import MissingExtraError

if TYPE_CHECKING:
    from dexnet_core.models.checkpoint import GraspQualityModel

_SESSIONS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # model -> {key: OnnxHeatmap}


def execution_providers(device: str | torch.device) -> list[str]:
    """onnxruntime execution providers for a torch device; ValueError if this onnxruntime lacks them."""
    try:
        import onnxruntime as ort
    except ImportError as exc:
        raise MissingExtraError("backend onnxruntime needs onnxruntime: pip install dexnet-core[onnx] "
                                "(onnxruntime-gpu for cuda)") from exc
    kind = torch.device(device).type
    if kind == "cpu":
        return ["CPUExecutionProvider"]
    if kind != "cuda":
        raise ValueError(f"backend onnxruntime runs on cpu or cuda, got device {device}")
    available = ort.get_available_providers()
    if "CUDAExecutionProvider" not in available:
        raise ValueError("backend onnxruntime on cuda needs onnxruntime-gpu (CUDAExecutionProvider); this "
                         f"onnxruntime has {', '.join(available)}")
    return ["CUDAExecutionProvider", "CPUExecutionProvider"]


class OnnxHeatmap:
    """An onnxruntime session of a fully convolutional ONNX graph, called like GraspQualityModel.heatmap."""

    def __init__(self, model_bytes: bytes, stride: int, uses_depth: bool, device: str | torch.device) -> None:
        import onnxruntime as ort

        self.stride, self.uses_depth = stride, uses_depth
        options = ort.SessionOptions()
        options.intra_op_num_threads = torch.get_num_threads()  # as many threads as torch would use
        self.session = ort.InferenceSession(model_bytes, options, providers=execution_providers(device))

    def __call__(self, depth_m: torch.Tensor, depths_m: Any = None, stride: int = 1, exact: bool = False,
                 cells: torch.Tensor | None = None) -> torch.Tensor:
        """``depth_m`` (B, 1, H, W) metres, ``depths_m`` (B,) or (B, K) metres (iff the model uses depth)
        -> (B, Ho, Wo) or (B, K, Ho, Wo) on ``depth_m``'s device. ``stride`` must be the exported one;
        ``exact`` is accepted for the call's sake (the graph's semantics were fixed at export). ``cells``
        (Ho, Wo) bool: the others read 0, as in GraspQualityModel.heatmap (the graph scores them all)."""
        if stride != self.stride:
            raise ValueError(f"this ONNX heatmap graph was exported at stride {self.stride}, got {stride}")
        im = torch.as_tensor(depth_m, dtype=torch.float32)
        feeds = {"depth": im.detach().cpu().numpy()}
        if self.uses_depth != (depths_m is not None):
            raise ValueError("gripper depths must be given iff the model has a gripper-depth input")
        if depths_m is not None:
            z = torch.as_tensor(depths_m, dtype=torch.float32).detach().cpu().numpy()
            feeds["gripper_depth"] = z.reshape(im.shape[0], -1)
        out = self.session.run(["quality"], feeds)[0]
        if depths_m is not None and np.ndim(depths_m) == 1:
            out = out[:, 0]
        if cells is not None:
            out = np.where(torch.as_tensor(cells).cpu().numpy(), out, 0.0).astype(np.float32)
        return torch.from_numpy(out).to(im.device)


def onnx_heatmap(gqm: GraspQualityModel, stride: int, device: str | torch.device, exact: bool = False
                 ) -> OnnxHeatmap:
    """The cached onnxruntime heatmap of ``gqm`` at ``stride`` on ``device`` (exported on first use).

    ValueError for a model with no FC form, or ``exact`` with a 'same'-padded model (the ONNX graph is the
    whole-image map; only 'valid'-padded models are exact there).
    """
    from dexnet_core.models.export import export_onnx

    if exact and getattr(gqm.model, "padding", "valid") == "same":
        raise ValueError(f"backend onnxruntime computes the whole-image map; the 'same'-padded {gqm.arch} "
                         "needs exact_fc: false (or backend: torch)")
    execution_providers(device)  # fail before the export if the runtime cannot run there
    weights = tuple((p.data_ptr(), p._version) for p in gqm.model.parameters())
    key = (int(stride), str(torch.device(device)), weights)
    cache = _SESSIONS.setdefault(gqm.model, {})
    if key not in cache:
        proto = export_onnx(gqm, fully_convolutional=True, stride=stride)
        cache.clear()  # sessions of older weights
        cache[key] = OnnxHeatmap(proto.SerializeToString(), int(stride), gqm.uses_depth, device)
    return cache[key]
