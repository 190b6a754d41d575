"""State dicts in the Dex-Net 5.0 reference's layouts, read and written.

The reference saves bare state dicts (no normalisation, no gripper):

- ``DexNetBase``: conv1..conv4, fc (1024, 16384), fc2, fc3: the same keys as our ``dexnet_base``.
- ``BaseFCGQCNN`` (its ``convert_weights.py``): conv1..conv4, then conv5 (1024, 64, 16, 16), conv6
  (1024, 1024, 1, 1), conv7 (1, 1024, 1, 1): the fc layers as convolutions.
- ``EfficientNet``: the torchvision efficientnet_b0 under ``efficient_net.`` (``features.*``,
  ``classifier.*``) plus the Linear(1000 -> 2) head. The head's name is not fixed by anything we know of the
  reference, so reading takes the one remaining (2, 1000) weight with its bias whatever its name, and
  writing names it ``fc``. Our ``efficientnet_b0`` holds the backbone under ``model.`` and the head as ``fc``.
"""

from __future__ import annotations

import torch
from torch import nn

EFFICIENTNET_PREFIX = "efficient_net."
_FC_CONVS = (("conv5", "fc"), ("conv6", "fc2"), ("conv7", "fc3"))


def _is_dexnet_base(state: dict) -> bool:
    weight = state.get("fc.weight")
    return (isinstance(weight, torch.Tensor) and tuple(weight.shape) == (1024, 16384)
            and "conv4.weight" in state)


def _is_base_fc(state: dict) -> bool:
    weight = state.get("conv5.weight")
    return (isinstance(weight, torch.Tensor) and tuple(weight.shape) == (1024, 64, 16, 16)
            and "conv7.weight" in state and "conv4.weight" in state)


def _efficientnet_to_ours(state: dict) -> dict[str, torch.Tensor] | None:
    """Our efficientnet_b0 keys for a reference EfficientNet state dict; None if ``state`` is not one."""
    anchors = [k[: -len("features.0.0.weight")] for k in state if k.endswith("features.0.0.weight")]
    if len(anchors) != 1 or not anchors[0].startswith(EFFICIENTNET_PREFIX):
        return None
    backbone = anchors[0]
    ours = {"model." + k[len(backbone):]: v for k, v in state.items() if k.startswith(backbone)}
    rest = {k: v for k, v in state.items() if not k.startswith(backbone)}
    heads = [k[: -len(".weight")] for k, v in rest.items()
             if k.endswith(".weight") and isinstance(v, torch.Tensor) and tuple(v.shape) == (2, 1000)]
    if len(heads) != 1 or set(rest) != {f"{heads[0]}.weight", f"{heads[0]}.bias"}:
        return None
    ours["fc.weight"], ours["fc.bias"] = rest[f"{heads[0]}.weight"], rest[f"{heads[0]}.bias"]
    return ours


def from_reference(state: dict) -> tuple[str, dict[str, torch.Tensor]] | None:
    """(registry name, state dict in our layout) of a reference state dict; None if it is none of them."""
    if _is_dexnet_base(state):
        return "dexnet_base", state
    if _is_base_fc(state):
        ours = {k: v for k, v in state.items() if k.split(".")[0] in ("conv1", "conv2", "conv3", "conv4")}
        for conv, fc in _FC_CONVS:
            weight = state[f"{conv}.weight"]
            ours[f"{fc}.weight"] = weight.reshape(weight.shape[0], -1)
            ours[f"{fc}.bias"] = state[f"{conv}.bias"]
        return "dexnet_base", ours
    ours = _efficientnet_to_ours(state)
    return ("efficientnet_b0", ours) if ours is not None else None


def to_reference(model: nn.Module, arch: str) -> dict[str, torch.Tensor]:
    """``model``'s weights as the reference would save them (DexNetBase or EfficientNet)."""
    state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    if arch == "dexnet_base":
        return state
    if arch == "efficientnet_b0":
        return {(EFFICIENTNET_PREFIX + k[len("model."):] if k.startswith("model.") else k): v
                for k, v in state.items()}
    raise ValueError(f"the reference has no layout for {arch!r} (only dexnet_base and efficientnet_b0)")


def reference_fc_state_dict(model: nn.Module) -> dict[str, torch.Tensor]:
    """DexNetBase weights in the reference BaseFCGQCNN layout (conv1..conv4, conv5..conv7)."""
    state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items() if k.startswith("conv")}
    c, h, w = model.feature_shape
    for conv, name in _FC_CONVS:
        old = getattr(model, name)
        kernel = (c, h, w) if conv == "conv5" else (old.in_features, 1, 1)
        state[f"{conv}.weight"] = old.weight.detach().cpu().reshape(old.out_features, *kernel).clone()
        state[f"{conv}.bias"] = old.bias.detach().cpu().clone()
    return state
