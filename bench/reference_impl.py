"""A faithful re-implementation of the Dex-Net 5.0 reference models, for benchmarks and parity tests.

Written from the reference's documented layers (SEED.md): eager PyTorch with the library
``nn.LocalResponseNorm``, the fc -> conv weight conversion, the four-pass HighRes FC-GQ-CNN, the
fakeFCGQCNN crop loop and the EfficientNet GQ-CNN (torchvision backbone as ``efficient_net``). Not part
of dexnet_core: it exists to measure and check ours against.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def _add_conv_layers(module: nn.Module) -> None:
    """The reference's conv1-conv4, LRN and pooling layers, under its attribute names (state-dict keys)."""
    module.conv1 = nn.Conv2d(1, 64, 7, padding="same")
    module.conv2 = nn.Conv2d(64, 64, 5, padding="same")
    module.conv3 = nn.Conv2d(64, 64, 3, padding="same")
    module.conv4 = nn.Conv2d(64, 64, 3, padding="same")
    module.lrn = nn.LocalResponseNorm(2, alpha=2e-5, beta=0.75, k=1.0)
    module.pool = nn.MaxPool2d(2)


class DexNetBase(nn.Module):
    """Reference GQ-CNN: (B, 1, 32, 32) normalised depth -> (B, 1) probability."""

    def __init__(self) -> None:
        super().__init__()
        _add_conv_layers(self)
        self.fc = nn.Linear(64 * 16 * 16, 1024)
        self.fc2 = nn.Linear(1024, 1024)
        self.fc3 = nn.Linear(1024, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(self.lrn(F.relu(self.conv2(F.relu(self.conv1(x))))))
        x = self.lrn(F.relu(self.conv4(F.relu(self.conv3(x)))))
        x = F.relu(self.fc(torch.flatten(x, 1)))
        return torch.sigmoid(self.fc3(F.relu(self.fc2(x))))


class EfficientNet(nn.Module):
    """Reference EfficientNet GQ-CNN: resize to 224, 3 channels, efficientnet_b0, Linear(1000, 2), softmax."""

    def __init__(self) -> None:
        super().__init__()
        from torchvision.models import efficientnet_b0

        self.efficient_net = efficientnet_b0(weights=None)
        self.fc = nn.Linear(1000, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 1, 32, 32) normalised depth -> (B,) probability (softmax column 0)."""
        x = F.interpolate(x, size=(224, 224), mode="bilinear", align_corners=False).repeat(1, 3, 1, 1)
        return F.softmax(self.fc(self.efficient_net(x)), dim=1)[:, 0]


class BaseFCGQCNN(nn.Module):
    """Reference FC-GQ-CNN: DexNetBase convs, fc/fc2/fc3 as 16x16 / 1x1 / 1x1 convs (stride-2 map)."""

    def __init__(self) -> None:
        super().__init__()
        _add_conv_layers(self)
        self.conv5 = nn.Conv2d(64, 1024, 16)
        self.conv6 = nn.Conv2d(1024, 1024, 1)
        self.conv7 = nn.Conv2d(1024, 1, 1)

    @classmethod
    def from_gqcnn(cls, gqcnn: DexNetBase) -> BaseFCGQCNN:
        """The reference weight conversion: fc (1024, 16384) -> conv5 (1024, 64, 16, 16), etc."""
        fc = cls()
        state = {k: v for k, v in gqcnn.state_dict().items() if k.startswith("conv")}
        state["conv5.weight"] = gqcnn.fc.weight.reshape(1024, 64, 16, 16)
        state["conv6.weight"] = gqcnn.fc2.weight.reshape(1024, 1024, 1, 1)
        state["conv7.weight"] = gqcnn.fc3.weight.reshape(1, 1024, 1, 1)
        for new, old in (("conv5", "fc"), ("conv6", "fc2"), ("conv7", "fc3")):
            state[f"{new}.bias"] = gqcnn.state_dict()[f"{old}.bias"]
        fc.load_state_dict(state)
        return fc

    def pre_pool(self, x: torch.Tensor) -> torch.Tensor:
        return self.lrn(F.relu(self.conv2(F.relu(self.conv1(x)))))

    def pooled_part(self, x: torch.Tensor) -> torch.Tensor:
        x = self.lrn(F.relu(self.conv4(F.relu(self.conv3(self.pool(x))))))
        return torch.sigmoid(self.conv7(F.relu(self.conv6(F.relu(self.conv5(x))))))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 1, H, W) -> (B, 1, H/2 - 15, W/2 - 15): one value per 2x2-pooled position."""
        return self.pooled_part(self.pre_pool(x))


class HighResFCGQCNN(BaseFCGQCNN):
    """Reference stride-1 map: the pooled part runs on the four 1-pixel shifts, results interleaved."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 1, H, W) -> (B, 1, H - 31, W - 31)."""
        feats = self.pre_pool(x)
        b, _, h, w = x.shape
        out = x.new_zeros(b, 1, h - 31, w - 31)
        for dy in (0, 1):
            for dx in (0, 1):
                if out[:, :, dy::2, dx::2].numel():  # a 32-pixel-wide image has no shifted crop
                    out[:, :, dy::2, dx::2] = self.pooled_part(feats[:, :, dy:, dx:])
        return out


def fake_fc_gqcnn(gqcnn: nn.Module, x: torch.Tensor, stride: int = 1) -> torch.Tensor:
    """Reference crop loop: the GQ-CNN on every 32x32 crop, (B, 1, H, W) -> (B, Ho, Wo)."""
    b, _, h, w = x.shape
    rows, cols = range(0, h - 31, stride), range(0, w - 31, stride)
    out = x.new_zeros(b, len(rows), len(cols))
    for i, r in enumerate(rows):
        for j, c in enumerate(cols):
            out[:, i, j] = gqcnn(x[:, :, r:r + 32, c:c + 32]).reshape(b)
    return out
