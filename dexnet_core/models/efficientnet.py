"""EfficientNet-B0 GQ-CNN (Dex-Net 5.0 variant): torchvision backbone, random init, 2-way softmax head.

The 32x32 normalised depth crop is resized to 224x224 (bilinear) and repeated to 3 channels; the
backbone's 1000-way output goes through ``fc`` (1000 -> 2) and a softmax whose column 0 is the success
probability. Needs torchvision (``pip install dexnet-core[vision]``). It has no fully convolutional form.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from dexnet_core.errors import MissingExtraError
from dexnet_core.models.registry import register_model


class EfficientNetGQCNN(nn.Module):
    """EfficientNet-B0 backbone (``model``) + ``fc`` 1000 -> 2; input (B, 1, 32, 32), output (B,)."""

    input_size = 32
    uses_depth = False
    resize_to = 224

    def __init__(self) -> None:
        super().__init__()
        try:
            from torchvision.models import efficientnet_b0
        except ImportError as exc:
            raise MissingExtraError(
                "efficientnet_b0 needs torchvision: pip install dexnet-core[vision]") from exc
        self.model = efficientnet_b0(weights=None)
        self.fc = nn.Linear(1000, 2)

    def forward_features(self, im: torch.Tensor) -> torch.Tensor:
        """``im`` (B, 1, 32, 32) -> backbone feature map (B, 1280, 7, 7)."""
        x = F.interpolate(im, size=(self.resize_to, self.resize_to), mode="bilinear", align_corners=False)
        return self.model.features(x.expand(-1, 3, -1, -1))

    def head_logits(self, features: torch.Tensor, z: torch.Tensor | None = None) -> torch.Tensor:
        """Backbone features -> (B,) success logits (softmax column 0 minus column 1)."""
        if z is not None:
            raise ValueError("efficientnet_b0 has no gripper-depth input; pass z=None")
        pooled = torch.flatten(self.model.avgpool(features), 1)
        out = self.fc(self.model.classifier(pooled))
        return out[:, 0] - out[:, 1]

    def forward_head(self, features: torch.Tensor, z: torch.Tensor | None = None) -> torch.Tensor:
        """Backbone features -> (B,) probabilities."""
        return torch.sigmoid(self.head_logits(features, z))

    def logits(self, im: torch.Tensor, z: torch.Tensor | None = None) -> torch.Tensor:
        """(B,) success logits."""
        return self.head_logits(self.forward_features(im), z)

    def forward(self, im: torch.Tensor, z: torch.Tensor | None = None) -> torch.Tensor:
        """``im`` (B, 1, 32, 32) normalised depth -> (B,) success probabilities."""
        return torch.sigmoid(self.logits(im, z))


@register_model("efficientnet_b0")
def efficientnet_b0() -> EfficientNetGQCNN:
    """EfficientNet-B0 GQ-CNN (~5.3 M params, random init)."""
    return EfficientNetGQCNN()
