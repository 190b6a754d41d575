"""Batched, label-preserving augmentation of depth crops as tensor ops on the batch's device.

Two modes (``AugmentConfig.mode``) that differ only in the Gaussian-process noise:

- ``dexnet_ros`` (default): an 8x8 grid of N(0, sigma=0.005 m) samples, upsampled bicubic x4 to 32x32,
  added to every valid pixel (depth > 0): smooth, correlated noise of 4.4 mm std per pixel.
- ``reference`` (the Dex-Net 5.0 transform, used by reference configs): the same 8x8 grid of
  N(0, 0.005) but in normalised depth units ((depth - im_mean) / im_std), added only where the normalised
  depth is > 0, i.e. to pixels deeper than the dataset mean (std per pixel 0.018 mm with the Dex-Net 2.0
  normalisation, 0.034 mm with Dex-Net 3.0's). The reference applies it per sample in Python; here it is
  batched, same distribution.

Both then apply a random 180 degree rotation, vertical flip, horizontal flip (each with probability 1/2).
- optionally (``rotate_90``, off by default) a transpose with probability 1/2: with the flips this gives all
  eight 90-degree rotations and mirror images of the crop.

The flips and the rotation are exact symmetries of a Dex-Net grasp: the grasp is at the crop centre and a
parallel jaw's axis is horizontal, so each maps the grasp onto itself and the label is unchanged. A
90-degree rotation turns the jaw axis vertical, so it is a symmetry only of a round suction cup (whose crops
are not rotated and whose data already has random camera roll); training refuses it for a parallel jaw.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F

if TYPE_CHECKING:
    from dexnet_core.models.checkpoint import Normalization


AUGMENT_MODES = ("dexnet_ros", "reference")


@dataclass(frozen=True)
class AugmentConfig:
    """Augmentation switches and the noise parameters."""

    mode: str = "dexnet_ros"       # dexnet_ros | reference: noise units and mask (module docstring)
    gp_noise: bool = True          # add Gaussian-process noise
    gp_sigma: float = 0.005        # std of the coarse noise samples (m; normalised units in reference mode)
    gp_grid: int = 8               # coarse noise grid size (upsampled to the crop size)
    rotate_180: bool = True        # rotate by 180 degrees with probability 1/2
    flip_vertical: bool = True     # flip rows with probability 1/2
    flip_horizontal: bool = True   # flip columns with probability 1/2
    rotate_90: bool = False        # transpose with probability 1/2 (suction only: see the module docstring)

    def __post_init__(self) -> None:
        if self.mode not in AUGMENT_MODES:
            raise ValueError(f"mode must be one of {AUGMENT_MODES}, got {self.mode!r}")
        if self.gp_sigma < 0:
            raise ValueError(f"gp_sigma must be >= 0, got {self.gp_sigma}")
        if self.gp_grid < 2:
            raise ValueError(f"gp_grid must be >= 2, got {self.gp_grid}")


@functools.lru_cache(maxsize=16)
def _upsample_matrix(src: int, dst: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """(dst, src) matrix U with U @ x == bicubic 1-D upsampling of x (PyTorch's kernel, align_corners=False).

    Bicubic interpolation is separable and linear, so a (src, src) grid upsamples as U @ grid @ U.T: two
    small batched matmuls instead of F.interpolate, several times faster on CPU.
    """
    eye = torch.eye(src, dtype=torch.float64).view(src, 1, 1, src)
    cols = F.interpolate(eye, size=(1, dst), mode="bicubic", align_corners=False)  # (src, 1, 1, dst)
    return cols.view(src, dst).t().contiguous().to(device=device, dtype=dtype)


def _flip_where(im: torch.Tensor, choose: torch.Tensor, dim: int) -> torch.Tensor:
    """Flip the samples of ``im`` (B, C, H, W) along ``dim`` where ``choose`` (B,) bool is set."""
    return torch.where(choose.view(-1, 1, 1, 1), im.flip(dim), im)


def augment_batch(im: torch.Tensor, cfg: AugmentConfig, generator: torch.Generator,
                  norm: Normalization | None = None, span: tuple[int, int] | None = None) -> torch.Tensor:
    """Augment a batch of depth crops.

    im : (B, 1, H, W) float depth in metres (not normalised), on any device; ``generator`` must live on the
    same device; ``norm`` (needed in reference mode) gives the normalisation the noise is measured in.
    ``span`` (first, total): ``im`` is rows first..first+B of a batch of ``total`` crops split over ranks;
    the random draws are made for the whole batch, so each part is augmented as it would be in one process
    and the generators of all ranks stay equal. Returns a new (B, 1, H, W) tensor; labels are unchanged by
    construction.
    """
    if im.ndim != 4:
        raise ValueError(f"expected (B, 1, H, W) depth crops, got shape {tuple(im.shape)}")
    b, _, h, w = im.shape
    dev = im.device
    first, total = span if span is not None else (0, b)
    if not 0 <= first <= total - b:
        raise ValueError(f"span {span} does not hold a part of {b} crops")
    part = slice(first, first + b)

    def coin() -> torch.Tensor:
        return (torch.rand(total, device=dev, generator=generator) < 0.5)[part]

    out = im
    if cfg.gp_noise and cfg.gp_sigma > 0:
        coarse = torch.randn(total, 1, cfg.gp_grid, cfg.gp_grid, device=dev, generator=generator,
                             dtype=im.dtype)[part]
        rows = _upsample_matrix(cfg.gp_grid, h, dev, im.dtype)  # (H, g)
        cols = _upsample_matrix(cfg.gp_grid, w, dev, im.dtype)  # (W, g)
        if cfg.mode == "reference":
            if norm is None:
                raise ValueError("reference-mode augmentation needs the depth normalisation (norm)")
            sigma, floor = cfg.gp_sigma * norm.im_std, norm.im_mean  # normalised units, pixels > mean
        else:
            sigma, floor = cfg.gp_sigma, 0.0
        noise = rows @ (coarse * sigma) @ cols.t()  # (B, 1, H, W)
        out = out + noise * (out > floor)
    # a 180 degree rotation is a vertical plus a horizontal flip: fold the three coins into two flips
    zero = torch.zeros(b, dtype=torch.bool, device=dev)
    rot = coin() if cfg.rotate_180 else zero
    flip_v = rot ^ (coin() if cfg.flip_vertical else zero)
    flip_h = rot ^ (coin() if cfg.flip_horizontal else zero)
    if cfg.rotate_180 or cfg.flip_vertical:
        out = _flip_where(out, flip_v, 2)
    if cfg.rotate_180 or cfg.flip_horizontal:
        out = _flip_where(out, flip_h, 3)
    if cfg.rotate_90:
        if h != w:
            raise ValueError(f"rotate_90 needs square crops, got {h}x{w}")
        out = torch.where(coin().view(-1, 1, 1, 1), out.transpose(2, 3), out)
    return out
