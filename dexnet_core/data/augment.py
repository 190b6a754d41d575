"""Batched, label-preserving augmentation of depth crops as tensor ops on the batch's device.

Same transforms as the reference (which applies them per sample in Python):

- Gaussian-process noise: an 8x8 grid of N(0, sigma=0.005 m) samples, upsampled bicubic x4 to 32x32,
  added where depth > 0 (smooth, correlated sensor-like noise).
- random 180 degree rotation, vertical flip, horizontal flip (each with probability 1/2).

The flips and the rotation are exact symmetries of a Dex-Net grasp: the grasp is at the crop centre and a
parallel jaw's axis is horizontal, so each maps the grasp onto itself and the label is unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class AugmentConfig:
    """Augmentation switches and the noise parameters."""

    gp_noise: bool = True          # add Gaussian-process noise
    gp_sigma: float = 0.005        # std of the coarse noise samples (m)
    gp_grid: int = 8               # coarse noise grid size (upsampled to the crop size)
    rotate_180: bool = True        # rotate by 180 degrees with probability 1/2
    flip_vertical: bool = True     # flip rows with probability 1/2
    flip_horizontal: bool = True   # flip columns with probability 1/2

    def __post_init__(self) -> None:
        if self.gp_sigma < 0:
            raise ValueError(f"gp_sigma must be >= 0, got {self.gp_sigma}")
        if self.gp_grid < 2:
            raise ValueError(f"gp_grid must be >= 2, got {self.gp_grid}")


def _flip_where(im: torch.Tensor, choose: torch.Tensor, dims: tuple[int, ...]) -> torch.Tensor:
    """Flip the samples of ``im`` (B, C, H, W) where ``choose`` (B,) bool is set."""
    return torch.where(choose.view(-1, 1, 1, 1), im.flip(dims), im)


def augment_batch(im: torch.Tensor, cfg: AugmentConfig, generator: torch.Generator) -> torch.Tensor:
    """Augment a batch of depth crops.

    im : (B, 1, H, W) float depth in metres (not normalised), on any device; ``generator`` must live on the
    same device. Returns a new (B, 1, H, W) tensor; labels are unchanged by construction.
    """
    if im.ndim != 4:
        raise ValueError(f"expected (B, 1, H, W) depth crops, got shape {tuple(im.shape)}")
    b, _, h, w = im.shape
    dev = im.device

    def coin() -> torch.Tensor:
        return torch.rand(b, device=dev, generator=generator) < 0.5

    out = im
    if cfg.gp_noise and cfg.gp_sigma > 0:
        coarse = torch.randn(b, 1, cfg.gp_grid, cfg.gp_grid, device=dev, generator=generator, dtype=im.dtype)
        noise = F.interpolate(coarse * cfg.gp_sigma, size=(h, w), mode="bicubic", align_corners=False)
        out = out + noise * (out > 0)
    if cfg.rotate_180:
        out = _flip_where(out, coin(), (2, 3))
    if cfg.flip_vertical:
        out = _flip_where(out, coin(), (2,))
    if cfg.flip_horizontal:
        out = _flip_where(out, coin(), (3,))
    return out
