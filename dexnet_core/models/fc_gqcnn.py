"""Fully convolutional GQ-CNN: the quality of the 32x32 crop at every ``stride``-th position of an image.

``to_fully_convolutional(model)`` wraps a conv+fc GQ-CNN (gqcnn.GQCNN; EfficientNet has no such form).
``FCGQCNN.forward(im, z, stride)`` maps (B, 1, H, W) normalised depth to (B, Ho, Wo) probabilities with
Ho = (H - 32) // stride + 1; cell (i, j) is the GQ-CNN on ``im[:, :, i*s:i*s+32, j*s:j*s+32]``, centred at
pixel (row, col) = (i*s + 16, j*s + 16). With ``z`` of shape (B, K) (K gripper depths per image) it returns
(B, K, Ho, Wo): the gripper depth only enters after ``fc2``, so the trunk, ``fc`` and ``fc2`` run once per
image and only the depth bias, ReLU and ``fc3`` run per depth. ``cells`` (Ho, Wo) bool scores only those
cells (the others read 0): the head, or the crops of the exact path, run on them alone.

How it is computed:

- The trunk runs once over the whole image "a trous": pools whose stride the requested stride can absorb
  keep stride 2, later pools run at stride 1 and every layer after them is dilated, so the map is dense at
  the requested stride (stride 1 on DexNetBase = the pooled map at all four pixel phases, in one pass).
- ``fc`` becomes a (fc_size, C, h, w) kernel at that dilation, split into its dilation phases. Large
  kernels (DexNetBase: 16x16) go through an overlap-save FFT convolution (a complex (C -> fc_size)
  matmul per frequency for a batch of tiles, the inverse DFT evaluated only at valid outputs as two small
  matmuls: ~35x fewer multiply-adds than the direct convolution), small ones through the direct
  convolution. ``fc2`` / ``fc3`` are matmuls over all positions, done tile by tile. Given ``cells``, small
  kernels instead gather each chosen cell's fc taps from the trunk map (one matmul for ``fc``); the FFT
  head computes the whole map and masks it.
- Exactness: a 'valid'-padded trunk (gqcnn_small default) is translation-equivariant, so this equals the
  crop loop exactly. A 'same'-padded trunk (dexnet_base, gqcnn_dexnet2) pads each crop with zeros where the
  whole-image pass sees the neighbouring pixels; for those ``exact=True`` evaluates the crops themselves
  (batched, exact, crop-rate speed) and ``exact=False`` gives the fast whole-image map, which is what the
  reference FC-GQ-CNN computes (differences to the crops are confined to features near the crop border).
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from dexnet_core.models.gqcnn import GQCNN

CROP = 32
FFT_MIN_KERNEL_AREA = 64  # fc kernels with at least this many taps use the FFT path
CROP_BATCH = 1024  # crops per batch in the exact crop path
POSITIONS_PER_CHUNK = 16384  # trunk positions per chunk in the direct head


def heatmap_cell_centers(ho: int, wo: int, stride: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel rows (Ho,) and columns (Wo,) of the crop centres of heatmap cells: i * stride + 16."""
    if stride < 1:
        raise ValueError(f"stride must be >= 1, got {stride}")
    return np.arange(ho) * stride + CROP // 2, np.arange(wo) * stride + CROP // 2


def heatmap_shape(h: int, w: int, stride: int) -> tuple[int, int]:
    """(Ho, Wo) of the heatmap of an (H, W) image at ``stride``."""
    return (h - CROP) // stride + 1, (w - CROP) // stride + 1


class FCGQCNN(nn.Module):
    """Fully convolutional form of a ``GQCNN`` (shares its parameters; see the module docstring)."""

    def __init__(self, model: GQCNN, exact: bool = True, fft_size: int | None = None) -> None:
        super().__init__()
        self.model = model
        self.uses_depth = model.uses_depth
        if model.padding == "valid":
            self.mode = "valid"
        else:
            self.mode = "crops" if exact else "context"
        c, h, w = model.feature_shape
        self.kernel_hw = (h, w)
        self.use_fft = h * w >= FFT_MIN_KERNEL_AREA
        self.fft_size = fft_size or max(32, 16 * math.ceil(3 * max(h, w) / 16))
        if self.fft_size <= max(h, w):
            raise ValueError(f"fft_size must exceed the fc kernel size {max(h, w)}, got {self.fft_size}")
        self._fft_ops: tuple[torch.Tensor, ...] = ()
        self._fft_key: tuple | None = None

    def fc_kernel(self) -> torch.Tensor:
        """``fc.weight`` (fc_size, C*h*w) as a conv kernel (fc_size, C, h, w)."""
        return self.model.fc.weight.reshape(-1, *self.model.feature_shape)

    def forward(self, im: torch.Tensor, z: torch.Tensor | None = None, stride: int = 1,
                cells: torch.Tensor | None = None) -> torch.Tensor:
        """``im`` (B, 1, H, W) normalised depth, ``z`` (B,) normalised gripper depth -> (B, Ho, Wo);
        ``z`` (B, K) -> (B, K, Ho, Wo), one map per gripper depth. ``cells`` (Ho, Wo) bool: score only these
        cells (the same values as the whole map); the others read 0. The trunk still runs on the whole
        image, the fc head (most of the work at small kernels) on the chosen cells alone."""
        if im.ndim != 4 or im.shape[1] != 1 or im.shape[2] < CROP or im.shape[3] < CROP:
            raise ValueError(f"im must be (B, 1, H, W) with H, W >= {CROP}, got {tuple(im.shape)}")
        if int(stride) != stride or stride < 1:
            raise ValueError(f"stride must be a positive integer, got {stride}")
        stride = int(stride)
        shape = heatmap_shape(im.shape[2], im.shape[3], stride)
        if cells is not None and tuple(cells.shape) != shape:
            raise ValueError(f"cells must be {shape} for this image and stride, got {tuple(cells.shape)}")
        per_depth = z is not None and z.ndim == 2
        b = im.shape[0]
        if z is not None and z.shape[0] != b:
            raise ValueError(f"z must have one row per image ({b}), got shape {tuple(z.shape)}")
        if self.mode == "crops":
            if per_depth:  # crops are exact per (image, depth): evaluate every pair
                k = z.shape[1]
                q = self._crop_logits(im.repeat_interleave(k, 0), z.reshape(-1), stride, cells)
                return torch.sigmoid(q.view(b, k, *q.shape[1:]))
            return torch.sigmoid(self._crop_logits(im, z, stride, cells))
        z_bias = self.model.z_bias(None if z is None else z.reshape(-1))
        if z_bias is not None:
            z_bias = z_bias.view(b, -1, z_bias.shape[-1])  # (B, K, fc_size)
        step = math.gcd(stride, self.model.pool_factor)
        trunk, dilation = self._trunk(im, step)
        if cells is None or self.use_fft:  # the FFT head is cheapest over the whole map
            logits = self._head(trunk, dilation, z_bias)[:, :, :: stride // step, :: stride // step]
            if cells is not None:
                logits = logits.masked_fill(~cells, -math.inf)
        else:
            logits = self._cell_logits(trunk, dilation, z_bias, cells, stride // step)
        return torch.sigmoid(logits if per_depth else logits[:, 0])

    def portable_forward(self, im: torch.Tensor, z: torch.Tensor | None = None, stride: int = 1
                         ) -> torch.Tensor:
        """``forward``'s whole-image map ('valid' padding: exact; 'same': the reference FC semantics) from
        plain tensor ops only, for graph export (ONNX): the trunk without the CPU inference plan, ``fc`` as
        one direct dilated convolution over the whole map (no FFT, no chunking). ``z`` (B, K) -> (B, K, Ho,
        Wo); without a depth input -> (B, Ho, Wo). Call it with autograd enabled (see ``_trunk``)."""
        m = self.model
        step = math.gcd(stride, m.pool_factor)
        trunk, dilation = self._trunk(im, step)
        h = F.conv2d(trunk, self.fc_kernel(), m.fc.bias, dilation=dilation)  # (B, fc_size, Ho, Wo)
        b, fc_size, ho, wo = h.shape
        z_bias = None if z is None else m.z_bias(z.reshape(-1)).view(b, -1, fc_size)
        logits = self._positions_to_logits(h.flatten(2).transpose(1, 2), z_bias).reshape(b, -1, ho, wo)
        q = torch.sigmoid(logits[:, :, :: stride // step, :: stride // step])
        return q if z is not None else q[:, 0]

    # -- exact crop evaluation ('same' padding) --------------------------------------------------------

    def _crop_logits(self, im: torch.Tensor, z: torch.Tensor | None, stride: int,
                     cells: torch.Tensor | None = None) -> torch.Tensor:
        b = im.shape[0]
        ho, wo = heatmap_shape(im.shape[2], im.shape[3], stride)
        windows = im.unfold(2, CROP, stride).unfold(3, CROP, stride)  # (B, 1, Ho, Wo, 32, 32) view
        if cells is not None:
            rows, cols = torch.nonzero(cells, as_tuple=True)
            out = im.new_full((b, ho, wo), -math.inf)
            per_batch = max(1, CROP_BATCH // b)
            for p0 in range(0, len(rows), per_batch):
                r, c = rows[p0:p0 + per_batch], cols[p0:p0 + per_batch]
                crops = windows[:, 0, r, c].reshape(-1, 1, CROP, CROP)  # (B * n, 1, 32, 32)
                zc = None if z is None else z.reshape(b, 1).expand(b, len(r)).reshape(-1)
                out[:, r, c] = self.model.logits(crops, zc).reshape(b, len(r))
            return out
        out = im.new_empty(b, ho, wo)
        rows = max(1, CROP_BATCH // (b * wo))  # heatmap rows per batch of crops
        for r0 in range(0, ho, rows):
            r1 = min(ho, r0 + rows)
            crops = windows[:, :, r0:r1].permute(0, 2, 3, 1, 4, 5).reshape(-1, 1, CROP, CROP)
            zc = None if z is None else z.reshape(b, 1).expand(b, (r1 - r0) * wo).reshape(-1)
            out[:, r0:r1] = self.model.logits(crops, zc).reshape(b, r1 - r0, wo)
        return out

    # -- whole-image trunk ---------------------------------------------------------------------------

    def _trunk(self, im: torch.Tensor, step: int) -> tuple[torch.Tensor, int]:
        """Trunk map at output stride ``step`` (a divisor of the pool factor) and the head's dilation."""
        plan = None if torch.is_grad_enabled() else self.model.inference_plan()
        x, scale, dilation, ops = im, 1, 1, self.model.trunk_ops
        for i, op in enumerate(ops):
            if op.kind == "conv":
                conv = op.module
                if plan is not None:  # fast path; fuses the following ReLU
                    x = plan.conv(conv, x, dilation, relu=ops[i + 1].kind == "relu")
                else:
                    pad = dilation * (conv.kernel_size[0] // 2) if self.model.padding == "same" else 0
                    x = F.conv2d(x, conv.weight, conv.bias, padding=pad, dilation=dilation)
            elif op.kind == "relu":
                if plan is None or ops[i - 1].kind != "conv":
                    x = F.relu(x)
            elif op.kind == "lrn":
                x = op.module(x) if plan is None else plan.lrn(op.module, x)
            elif scale < step:  # a pool the output stride absorbs
                x = F.max_pool2d(x, 2)
                scale *= 2
            else:  # stride-1 pool; everything after it sees a twice-dilated grid
                x = F.max_pool2d(x, 2, stride=1, dilation=dilation)
                dilation *= 2
        return x, dilation

    # -- head: fc as a (dilated) convolution, then fc2 / fc3 per position ---------------------------

    def _positions_to_logits(self, h: torch.Tensor, z_bias: torch.Tensor | None) -> torch.Tensor:
        """fc pre-activations (B, P, fc_size) (bias included), depth biases (B, K, fc_size) -> (B, K, P)."""
        m = self.model
        h = F.linear(F.relu(h), m.fc2.weight, m.fc2.bias)[:, None]  # (B, 1, P, fc_size)
        if z_bias is not None:
            h = h + z_bias[:, :, None, :]  # (B, K, P, fc_size)
        return m.logit_from_scores(F.linear(F.relu(h), m.fc3.weight, m.fc3.bias).movedim(-1, 1))

    def _head(self, trunk: torch.Tensor, dilation: int, z_bias: torch.Tensor | None) -> torch.Tensor:
        """Trunk map (B, C, Ht, Wt) -> logits (B, K, Ho, Wo); K = number of depths (1 without)."""
        kh, kw = self.kernel_hw
        b, _, ht, wt = trunk.shape
        k = 1 if z_bias is None else z_bias.shape[1]
        out = trunk.new_empty(b, k, ht - dilation * (kh - 1), wt - dilation * (kw - 1))
        phases = [(py, px) for py in range(dilation) for px in range(dilation)]
        if self.use_fft:
            maps = [trunk[:, :, py::dilation, px::dilation] for py, px in phases]
            for (py, px), logits in zip(phases, self._fft_conv_logits(maps, z_bias)):
                out[:, :, py::dilation, px::dilation] = logits
        else:
            self._direct_logits(trunk, dilation, z_bias, out)
        return out

    def _direct_logits(self, trunk: torch.Tensor, dilation: int, z_bias: torch.Tensor | None,
                       out: torch.Tensor) -> None:
        kh = self.kernel_hw[0]
        kernel, bias = self.fc_kernel(), self.model.fc.bias
        b, k, ho, wo = out.shape
        rows = max(1, POSITIONS_PER_CHUNK // (wo * k))
        for r0 in range(0, ho, rows):
            r1 = min(ho, r0 + rows)
            band = trunk[:, :, r0:r1 + dilation * (kh - 1)]
            h = F.conv2d(band, kernel, bias, dilation=dilation)  # (B, fc_size, r, Wo)
            logits = self._positions_to_logits(h.flatten(2).transpose(1, 2), z_bias)  # (B, K, r * Wo)
            out[:, :, r0:r1] = logits.reshape(b, k, r1 - r0, wo)

    def _cell_logits(self, trunk: torch.Tensor, dilation: int, z_bias: torch.Tensor | None,
                     cells: torch.Tensor, spacing: int) -> torch.Tensor:
        """Logits (B, K, Ho, Wo) of the ``cells`` (Ho, Wo) alone (-inf elsewhere): the fc input of each is
        gathered from the trunk map (cell (i, j) sits at trunk position (i, j) * ``spacing``)."""
        kh, kw = self.kernel_hw
        b, c = trunk.shape[:2]
        k = 1 if z_bias is None else z_bias.shape[1]
        out = trunk.new_full((b, k, *cells.shape), -math.inf)
        rows, cols = torch.nonzero(cells, as_tuple=True)
        ty = dilation * torch.arange(kh, device=trunk.device)[:, None]
        tx = dilation * torch.arange(kw, device=trunk.device)[None, :]
        weight, bias = self.model.fc.weight, self.model.fc.bias
        per_chunk = max(1, POSITIONS_PER_CHUNK // (b * k))
        for p0 in range(0, len(rows), per_chunk):
            r, q = rows[p0:p0 + per_chunk], cols[p0:p0 + per_chunk]
            # (B, C, n, kh, kw): the fc taps of each cell
            taps = trunk[:, :, r[:, None, None] * spacing + ty, q[:, None, None] * spacing + tx]
            h = F.linear(taps.transpose(1, 2).reshape(b, len(r), c * kh * kw), weight, bias)  # (B, n, fc)
            out[:, :, r, q] = self._positions_to_logits(h, z_bias)
        return out

    def _fft_operators(self, device: torch.device) -> tuple[torch.Tensor, ...]:
        """Cached transforms for ``_fft_conv_logits`` (rebuilt when the fc weight changes).

        With K = conj(rfft2(fc kernel)) and input spectra X = [Re X | Im X] (freq, T, 2C):
        ``kernel_re`` = [Re K; -Im K] and ``kernel_im`` = [Im K; Re K] (freq, 2C, F), so two real batched
        matmuls give Re and Im of the product spectrum; ``rows`` (2 th, 2 n): the inverse DFT over tile
        rows restricted to the th valid output rows, mapping [Re; Im] (u) to (y, [Re, Im]) rows;
        ``cols`` (tw, 2 (n//2+1)): the half-spectrum (c2r) inverse DFT over columns restricted to the tw
        valid output columns, acting on [Re; Im] (v).
        """
        weight = self.model.fc.weight
        key = (weight.data_ptr(), weight._version, device, self.fft_size)
        if self._fft_key != key:
            n, (kh, kw) = self.fft_size, self.kernel_hw
            th, tw, half = n - kh + 1, n - kw + 1, n // 2 + 1
            kernel_re, kernel_im = self._kernel_spectrum(device)
            u = torch.arange(n, dtype=torch.float64)
            angle = 2 * math.pi * torch.outer(torch.arange(th, dtype=torch.float64), u) / n
            er, ei = torch.cos(angle), torch.sin(angle)
            rows = torch.stack([torch.cat([er, -ei], 1), torch.cat([ei, er], 1)], 1).reshape(2 * th, 2 * n)
            v = torch.arange(half, dtype=torch.float64)
            weights = torch.full((half,), 2.0, dtype=torch.float64)
            weights[0] = 1.0
            if n % 2 == 0:
                weights[-1] = 1.0
            angle = 2 * math.pi * torch.outer(torch.arange(tw, dtype=torch.float64), v) / n
            cols = torch.cat([weights * torch.cos(angle), -weights * torch.sin(angle)], 1) / n**2
            self._fft_ops = (kernel_re, kernel_im) + tuple(t.float().to(device) for t in (rows, cols))
            self._fft_key = key
        return self._fft_ops

    def _kernel_spectrum(self, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        """[Re K; -Im K] and [Im K; Re K] (freq, 2C, F) for K = conj(rfft2(fc kernel, n x n)).

        Computed as two small DFT matmuls straight into the (freq, C, F) layout (a library FFT of the
        16x16 kernels padded to n x n plus the transpose takes ~20x longer).
        """
        n, (kh, kw) = self.fft_size, self.kernel_hw
        half = n // 2 + 1
        k = self.fc_kernel().detach().to(device).permute(2, 3, 1, 0).contiguous()  # (kh, kw, C, F)
        c, f = k.shape[2], k.shape[3]
        v = 2 * math.pi * torch.outer(torch.arange(half, dtype=torch.float64), torch.arange(kw)) / n
        over_cols = torch.cat([torch.cos(v), torch.sin(v)]).float().to(device)  # (2 half, kw)
        p = torch.matmul(over_cols, k.view(kh, kw, c * f))  # (kh, [Re, Im] x half, C*F)
        u = 2 * math.pi * torch.outer(torch.arange(n, dtype=torch.float64), torch.arange(kh)) / n
        over_rows = torch.cat([torch.cos(u), torch.sin(u)]).float().to(device)  # (2n, kh)
        q = torch.mm(over_rows, p.view(kh, -1)).view(2, n, 2, half, c, f)  # [cos; sin] x [Re P, Im P]
        real = (q[0, :, 0] - q[1, :, 1]).view(n * half, c, f)
        imag = (q[1, :, 0] + q[0, :, 1]).view(n * half, c, f)
        del p, q
        return torch.cat([real, -imag], dim=1), torch.cat([imag, real], dim=1)

    def _fft_conv_logits(self, maps: list[torch.Tensor], z_bias: torch.Tensor | None,
                         max_tiles_per_chunk: int = 96) -> list[torch.Tensor]:
        """Overlap-save FFT correlation of each (B, C, Hp, Wp) map with the fc kernel, then fc2 / fc3.

        Tiles go in equal chunks of at most ``max_tiles_per_chunk`` (each chunk streams the whole kernel
        spectrum once, ~1.3 GB for DexNetBase; a 96-tile chunk peaks at ~1.6 GB of intermediates).
        Each n x n tile yields th x tw outputs: forward rfft2 of the C input channels, one real batched
        matmul per frequency for all fc_size outputs, then the inverse DFT evaluated only at the valid
        outputs as two small matmuls. Returns one (B, K, Hp - kh + 1, Wp - kw + 1) logit map per input map.
        """
        n, (kh, kw) = self.fft_size, self.kernel_hw
        th, tw, half = n - kh + 1, n - kw + 1, n // 2 + 1
        kernel_re, kernel_im, rows, cols = self._fft_operators(maps[0].device)
        m = self.model
        fc_size = kernel_re.shape[2]
        k = 1 if z_bias is None else z_bias.shape[1]
        tiles, where, outs = [], [], []
        for idx, fmap in enumerate(maps):
            b, c, hp, wp = fmap.shape
            ho, wo = hp - kh + 1, wp - kw + 1
            nty, ntx = max(0, math.ceil(ho / th)), max(0, math.ceil(wo / tw))
            outs.append(fmap.new_empty(b, k, nty * th, ntx * tw))
            if nty * ntx == 0:  # a phase too small to hold a crop
                continue
            padded = F.pad(fmap, (0, ntx * tw + kw - 1 - wp, 0, nty * th + kh - 1 - hp))
            t = padded.unfold(2, n, th).unfold(3, n, tw)  # (B, C, nty, ntx, n, n)
            tiles.append(t.permute(0, 2, 3, 1, 4, 5).reshape(b * nty * ntx, c, n, n))
            where += [(idx, bi, ty, tx) for bi in range(b) for ty in range(nty) for tx in range(ntx)]
        if not tiles:
            return [o[:, :, :0, :0] for o in outs]
        all_tiles = torch.cat(tiles)
        batch_of = torch.tensor([w[1] for w in where], device=all_tiles.device)
        num_chunks = math.ceil(all_tiles.shape[0] / max_tiles_per_chunk)
        per_chunk = math.ceil(all_tiles.shape[0] / num_chunks)
        for start in range(0, all_tiles.shape[0], per_chunk):
            chunk = all_tiles[start:start + per_chunk]
            nt = chunk.shape[0]
            spec = torch.fft.rfft2(chunk).flatten(2).permute(2, 0, 1)  # (freq, T, C)
            spec = torch.cat([spec.real, spec.imag], dim=2)  # (freq, T, 2C)
            y = spec.new_empty(2, n * half, nt, fc_size)  # [Re; Im] of the product spectrum
            torch.bmm(spec, kernel_re, out=y[0])
            torch.bmm(spec, kernel_im, out=y[1])
            # inverse DFT over rows -> (th, [Re, Im] x half, T*F), then over columns (c2r) -> (th, tw, T*F)
            z = torch.mm(rows, y.view(2 * n, -1)).view(th, 2 * half, nt * fc_size)
            del y
            h = torch.bmm(cols.expand(th, tw, 2 * half), z).view(th * tw * nt, fc_size)
            del z
            h = torch.addmm(m.fc2.bias, F.relu_(h.add_(m.fc.bias)), m.fc2.weight.t())
            h = h.view(th * tw, nt, 1, fc_size)
            if z_bias is not None:  # (th * tw, nt, K, fc_size)
                h = h + z_bias[batch_of[start:start + nt]]
            scores = F.linear(F.relu_(h), m.fc3.weight, m.fc3.bias)  # (th * tw, nt, K, 1 or 2)
            logits = m.logit_from_scores(scores.movedim(-1, 1)).view(th, tw, nt, k).permute(2, 3, 0, 1)
            for t, (idx, bi, ty, tx) in enumerate(where[start:start + nt]):
                outs[idx][bi, :, ty * th:(ty + 1) * th, tx * tw:(tx + 1) * tw] = logits[t]
        return [o[:, :, : max(0, f.shape[2] - kh + 1), : max(0, f.shape[3] - kw + 1)]
                for o, f in zip(outs, maps)]


def to_fully_convolutional(model: nn.Module, exact: bool = True) -> FCGQCNN:
    """The FC-GQ-CNN of a conv+fc GQ-CNN; other architectures (EfficientNet) raise TypeError."""
    if not isinstance(model, GQCNN):
        raise TypeError(f"{type(model).__name__} has no fully convolutional form; only conv+fc GQ-CNNs "
                        "(dexnet_base, gqcnn_dexnet2, gqcnn_small) convert")
    return FCGQCNN(model, exact=exact)
