"""GQ-CNN: grasp-quality networks on 32x32 normalised depth crops (conv trunk + fully connected head).

One class, ``GQCNN``, covers the family; registered builders fix its layout:

- ``dexnet_base``: the Dex-Net 5.0 reference network (state-dict keys conv1..conv4, fc, fc2, fc3 load as
  saved by the reference): 64-channel 7x7/5x5/3x3/3x3 'same' convs, one 2x2 pool, fc 16384 -> 1024 -> 1024
  -> 1, sigmoid. No gripper-depth input.
- ``gqcnn_dexnet2``: the original Dex-Net 2.0 layout: two 2x2 pools, fc 4096 -> 1024, a gripper-depth
  stream (z -> 16) merged into the next 1024 layer, 2-way softmax.
- ``gqcnn_small``: the same family at CPU size (``channels``, ``fc_size``, optional z stream). Its convs
  default to 'valid' padding, which makes the network translation-equivariant, so its fully convolutional
  form reproduces every crop exactly and cheaply (see fc_gqcnn.py).

Inputs: ``im`` (B, 1, 32, 32) float32 normalised depth ((depth_m - im_mean) / im_std); ``z`` (B,) normalised
gripper depth, required iff ``uses_depth``. ``forward`` returns (B,) success probabilities in [0, 1].
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.autograd.function import once_differentiable

from dexnet_core.models.inference import InferencePlan
from dexnet_core.models.registry import register_model


def _window_sum(t: torch.Tensor, lo: int, hi: int) -> torch.Tensor:
    """``out[:, c] = sum(t[:, c + o] for o in lo..hi)`` over the valid channels, as shifted adds."""
    out = t.clone()
    channels = t.shape[1]
    for offset in range(lo, hi + 1):
        if offset == 0 or abs(offset) >= channels:
            continue
        if offset < 0:
            out[:, -offset:] += t[:, : channels + offset]
        else:
            out[:, : channels - offset] += t[:, offset:]
    return out


def _inverse_power(scale: torch.Tensor, beta: float) -> torch.Tensor:
    """``scale ** -beta``; for 0.75 as ``r * sqrt(r)`` with ``r = rsqrt(scale)``, much cheaper than pow."""
    if beta == 0.75:
        root = scale.rsqrt()
        return root * root.sqrt()
    return scale.pow(-beta)


class _LRNFunction(torch.autograd.Function):
    """Channel LRN with a hand-written backward: autograd through the shifted in-place adds costs more
    than the rest of a small GQ-CNN's training step on CPU (slice copies, zero fills, strided views)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, size: int, alpha: float, beta: float, k: float) -> torch.Tensor:
        scale = _window_sum(x * x, -(size // 2), (size - 1) // 2).mul_(alpha / size).add_(k)
        inv = _inverse_power(scale, beta)
        ctx.save_for_backward(x, scale, inv)
        ctx.params = (size, alpha, beta)
        return x * inv

    @staticmethod
    @once_differentiable
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        # dL/dx_c = g_c s_c^-b - 2ab/n x_c sum_{c': c in window(c')} g_c' x_c' s_c'^(-b-1)
        x, scale, inv = ctx.saved_tensors
        size, alpha, beta = ctx.params
        back = _window_sum(grad * x * inv / scale, -((size - 1) // 2), size // 2)
        return grad * inv - (2 * alpha * beta / size) * x * back, None, None, None, None


class ChannelLRN(nn.Module):
    """Local response normalisation across channels, numerically equal to ``nn.LocalResponseNorm``.

    ``y_c = x_c / (k + alpha / size * sum_{c' in window(c)} x_c'^2) ** beta`` with the window
    ``[c - size // 2, c + (size - 1) // 2]`` clipped to the valid channels. Written as a sum of shifted
    squares (a few fused element-wise passes) instead of the library's 3-D average pool, which is several
    times slower on CPU, with an analytic backward; works for any memory format.
    """

    def __init__(self, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0) -> None:
        super().__init__()
        if size < 1:
            raise ValueError(f"LRN size must be >= 1, got {size}")
        self.size, self.alpha, self.beta, self.k = size, alpha, beta, k

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` (B, C, H, W) -> same shape."""
        return _LRNFunction.apply(x, self.size, self.alpha, self.beta, self.k)

    def extra_repr(self) -> str:
        return f"size={self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}"


@dataclass(frozen=True)
class TrunkOp:
    """One step of the conv trunk: ``kind`` is "conv", "relu", "lrn" or "pool"; ``module`` for conv/lrn."""

    kind: str
    module: nn.Module | None = None


class GQCNN(nn.Module):
    """Conv trunk (conv1..conv4 with ReLU, LRN and 2x2 max pools) + fully connected head.

    Head: ``fc`` (flattened trunk -> fc_size), ``fc2`` (fc_size -> fc_size; with a depth input the z
    stream ``pose`` (1 -> 16, ReLU) enters it through ``fc2_z``), ``fc3`` (fc_size -> 1 sigmoid, or -> 2
    softmax whose column 1 is the success probability).
    """

    input_size = 32

    def __init__(
        self,
        *,
        channels: int = 64,
        kernels: tuple[int, int, int, int] = (7, 5, 3, 3),
        pool_after: tuple[int, ...] = (2,),
        lrn_after: tuple[int, ...] = (2, 4),
        lrn: tuple[int, float, float, float] = (2, 2e-5, 0.75, 1.0),
        padding: str = "same",
        fc_size: int = 1024,
        uses_depth: bool = False,
        z_size: int = 16,
        softmax_output: bool = False,
    ) -> None:
        super().__init__()
        if channels < 1 or fc_size < 1:
            raise ValueError(f"channels and fc_size must be >= 1, got {channels}, {fc_size}")
        if padding not in ("same", "valid"):
            raise ValueError(f"padding must be 'same' or 'valid', got {padding!r}")
        self.uses_depth = uses_depth
        self.padding = padding
        self.softmax_output = softmax_output
        ops: list[TrunkOp] = []
        size, in_ch = self.input_size, 1
        for i, k in enumerate(kernels, start=1):
            conv = nn.Conv2d(in_ch, channels, k, padding=k // 2 if padding == "same" else 0)
            self.add_module(f"conv{i}", conv)
            ops += [TrunkOp("conv", conv), TrunkOp("relu")]
            size = size if padding == "same" else size - k + 1
            if i in lrn_after:
                ops.append(TrunkOp("lrn", ChannelLRN(*lrn)))
            if i in pool_after:
                if size % 2:
                    raise ValueError(f"layout pools an odd {size}x{size} map after conv{i}")
                ops.append(TrunkOp("pool"))
                size //= 2
            in_ch = channels
        if size < 1:
            raise ValueError(f"layout leaves no spatial extent (kernels {kernels}, padding {padding})")
        self.trunk_ops = ops
        self.feature_shape = (channels, size, size)
        self.fc = nn.Linear(channels * size * size, fc_size)
        if uses_depth:
            self.pose = nn.Linear(1, z_size)
            self.fc2_z = nn.Linear(z_size, fc_size, bias=False)
        self.fc2 = nn.Linear(fc_size, fc_size)
        self.fc3 = nn.Linear(fc_size, 2 if softmax_output else 1)

    @property
    def pool_factor(self) -> int:
        """Total down-sampling of the trunk (2 per pool)."""
        return 2 ** sum(op.kind == "pool" for op in self.trunk_ops)

    def forward_features(self, im: torch.Tensor) -> torch.Tensor:
        """``im`` (B, 1, 32, 32) normalised depth -> trunk features (B, C, h, w)."""
        x = im
        for op in self.trunk_ops:
            if op.kind == "conv" or op.kind == "lrn":
                x = op.module(x)
            elif op.kind == "relu":
                x = F.relu(x)
            else:
                x = F.max_pool2d(x, 2)
        return x

    def z_bias(self, z: torch.Tensor | None) -> torch.Tensor | None:
        """Contribution of the gripper-depth stream to ``fc2``'s pre-activation: (B,) -> (B, fc_size)."""
        if not self.uses_depth:
            if z is not None:
                raise ValueError("this model has no gripper-depth input; pass z=None")
            return None
        if z is None:
            raise ValueError("this model needs the normalised gripper depth z (B,)")
        return self.fc2_z(F.relu(self.pose(z.reshape(-1, 1).to(self.fc2.weight.dtype))))

    def logit_from_scores(self, out: torch.Tensor) -> torch.Tensor:
        """fc3 output (B, 1 or 2, ...) -> success logit (B, ...): sigmoid(logit) is the probability."""
        return out[:, 1] - out[:, 0] if self.softmax_output else out[:, 0]

    def head_logits(self, features: torch.Tensor, z: torch.Tensor | None = None) -> torch.Tensor:
        """Trunk features (B, C, h, w) -> (B,) success logits."""
        h = F.relu(self.fc(features.flatten(1)))
        h = self.fc2(h)
        bias = self.z_bias(z)
        if bias is not None:
            h = h + bias
        return self.logit_from_scores(self.fc3(F.relu(h)))

    def forward_head(self, features: torch.Tensor, z: torch.Tensor | None = None) -> torch.Tensor:
        """Trunk features (B, C, h, w) -> (B,) probabilities."""
        return torch.sigmoid(self.head_logits(features, z))

    def logits(self, im: torch.Tensor, z: torch.Tensor | None = None) -> torch.Tensor:
        """(B,) success logits (use with BCE-with-logits in training).

        Without autograd (``torch.no_grad`` / ``inference_mode``) this runs the fast inference plan of
        inference.py: same network, several times faster on CPU.
        """
        if torch.is_grad_enabled():
            return self.head_logits(self.forward_features(im), z)
        return self.inference_plan().logits(im, self.z_bias(z))

    def inference_plan(self) -> InferencePlan:
        """The weights rearranged for no-grad inference (cached; rebuilt after any parameter update)."""
        plan = self.__dict__.get("_plan")
        if plan is None or not plan.is_current():
            plan = self.__dict__["_plan"] = InferencePlan(self)
        return plan

    def forward(self, im: torch.Tensor, z: torch.Tensor | None = None) -> torch.Tensor:
        """``im`` (B, 1, 32, 32) normalised depth, ``z`` (B,) normalised gripper depth -> (B,) in [0, 1]."""
        return torch.sigmoid(self.logits(im, z))


@register_model("dexnet_base")
def dexnet_base() -> GQCNN:
    """Dex-Net 5.0 reference GQ-CNN (~18.0 M params; reference state dicts load unchanged)."""
    return GQCNN(channels=64, kernels=(7, 5, 3, 3), pool_after=(2,), lrn_after=(2, 4),
                 lrn=(2, 2e-5, 0.75, 1.0), padding="same", fc_size=1024)


@register_model("gqcnn_dexnet2")
def gqcnn_dexnet2(*, uses_depth: bool = True) -> GQCNN:
    """Original Dex-Net 2.0 GQ-CNN (~5.4 M params): two pools, z stream, LRN(5, 1e-4, 0.75, 1), softmax."""
    return GQCNN(channels=64, kernels=(7, 5, 3, 3), pool_after=(2, 4), lrn_after=(2, 4),
                 lrn=(5, 1e-4, 0.75, 1.0), padding="same", fc_size=1024, uses_depth=uses_depth,
                 softmax_output=True)


@register_model("gqcnn_small")
def gqcnn_small(*, channels: int = 16, fc_size: int = 256, uses_depth: bool = False,
                padding: str = "valid") -> GQCNN:
    """CPU-size GQ-CNN for the shipped default models (7/3/3/3 convs, two pools, a few hundred kB).

    ``padding="valid"`` (default) gives a 4x4 trunk map and an exact, cheap fully convolutional form;
    ``"same"`` gives the Dex-Net 2.0 8x8 map.
    """
    return GQCNN(channels=channels, kernels=(7, 3, 3, 3), pool_after=(2, 4), lrn_after=(2, 4),
                 lrn=(5, 1e-4, 0.75, 1.0), padding=padding, fc_size=fc_size, uses_depth=uses_depth)
