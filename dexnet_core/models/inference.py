"""Fast no-grad GQ-CNN inference on CPU: channels-last, in-place, cache-sized micro-batches.

Numerically the same network as ``GQCNN.forward`` (same weights, fp32); organised for speed:

- crops go through in micro-batches of ``MICRO_BATCH``, so a 4096 batch does not page-fault in fresh
  ~1 GB activation buffers every layer;
- activations stay channels-last, so each pixel's channels are one row of a (pixels, C) matrix;
- the 1-input-channel first conv is an im2col matmul (oneDNN's direct conv is slow with one channel);
- LRN is one matmul with a banded 0/1 (C, C) matrix (window sums of squares) plus one ``pow`` and an
  in-place multiply, instead of a 3-D average pool over a padded copy;
- ReLUs are in place; ``fc`` reads the channels-last features through a column-permuted weight (no copy).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

MICRO_BATCH = 512  # measured best on the 2-core machine (smaller batches lose to per-op overhead)
_CL = torch.channels_last
# oneDNN convolution with a fused element-wise post-op (what torch.compile emits on CPU), if built in
_FUSED_CONV = torch.ops.mkldnn._convolution_pointwise if torch.backends.mkldnn.is_available() else None


def _band(size: int, channels: int, device: torch.device) -> torch.Tensor:
    """(C, C) 0/1 matrix whose column c marks LRN window(c) = [c - size//2, c + (size-1)//2]."""
    idx = torch.arange(channels, device=device)
    offset = idx[:, None] - idx[None, :]  # row c' (source) minus column c (output)
    return ((offset >= -(size // 2)) & (offset <= (size - 1) // 2)).float()


class InferencePlan:
    """Weights of one ``GQCNN`` rearranged for ``run``; rebuilt when any parameter changes."""

    def __init__(self, model: torch.nn.Module) -> None:
        self.model = model
        self.key = self._key()
        c, h, w = model.feature_shape
        self.fc_weight = model.fc.weight.detach().reshape(-1, c, h, w).permute(0, 2, 3, 1).reshape(
            model.fc.weight.shape[0], -1).contiguous()
        # LRN: [x^2, 1] @ [[band * alpha / size], [k]] = k + alpha / size * window sum of squares
        self.bands = {}
        for op in model.trunk_ops:
            if op.kind == "lrn":
                lrn = op.module
                band = _band(lrn.size, c, model.fc.weight.device) * (lrn.alpha / lrn.size)
                self.bands[id(lrn)] = torch.cat([band, band.new_full((1, c), lrn.k)])
        # convs: channels-last weights; the 1-channel first conv as an im2col matrix with a bias row
        self.conv_weights = {}
        for op in model.trunk_ops:
            if op.kind == "conv":
                conv = op.module
                w = conv.weight.detach()
                if conv.in_channels == 1:
                    w = torch.cat([w.reshape(conv.out_channels, -1).t(), conv.bias.detach()[None]])
                self.conv_weights[id(conv)] = w.contiguous(memory_format=_CL) if w.ndim == 4 else w

    def _key(self) -> tuple:
        return tuple((p.data_ptr(), p._version) for p in self.model.parameters())

    def is_current(self) -> bool:
        return self._key() == self.key

    def conv(self, conv: torch.nn.Conv2d, x: torch.Tensor, dilation: int = 1, relu: bool = False
             ) -> torch.Tensor:
        """``conv`` ('same'/'valid' as the model) at ``dilation``, ReLU fused if ``relu``; channels-last."""
        k = conv.kernel_size[0]
        pad = dilation * (k // 2) if self.model.padding == "same" else 0
        weight = self.conv_weights[id(conv)]
        if conv.in_channels != 1 or dilation != 1:
            if weight.ndim == 2:
                weight = conv.weight
            x = x.contiguous(memory_format=_CL)
            if relu and _FUSED_CONV is not None and x.is_cpu:  # oneDNN conv + ReLU post-op: one pass fewer
                return _FUSED_CONV(x, weight, conv.bias, [pad, pad], [1, 1], [dilation, dilation], 1,
                                   "relu", [], "")
            out = F.conv2d(x, weight, conv.bias, padding=pad, dilation=dilation)
            return out.relu_() if relu else out
        b = x.shape[0]
        xp = F.pad(x[:, 0], (pad, pad, pad, pad)) if pad else x[:, 0].contiguous()
        ho, wo = xp.shape[1] - k + 1, xp.shape[2] - k + 1
        s = xp.stride()
        cols = xp.new_empty(b, ho, wo, k * k + 1)
        cols[..., -1] = 1.0  # multiplies the bias row
        cols[..., :-1].view(b, ho, wo, k, k).copy_(
            xp.as_strided((b, ho, wo, k, k), (s[0], s[1], s[2], s[1], s[2])))
        out = torch.mm(cols.view(b * ho * wo, -1), weight)
        if relu:
            out.relu_()
        return out.view(b, ho, wo, -1).permute(0, 3, 1, 2)  # channels-last (B, C, ho, wo)

    def lrn(self, lrn: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
        """LRN of (B, C, H, W), in place when ``x`` is channels-last."""
        x = x.contiguous(memory_format=_CL)
        rows = x.permute(0, 2, 3, 1).reshape(-1, x.shape[1])  # view: one row per pixel
        sq = rows.new_empty(rows.shape[0], rows.shape[1] + 1)  # [x^2, 1]
        sq[:, -1] = 1.0
        torch.mul(rows, rows, out=sq[:, :-1])
        rows.mul_(torch.mm(sq, self.bands[id(lrn)]).pow_(-lrn.beta))
        return x

    def features(self, im: torch.Tensor) -> torch.Tensor:
        """(B, 1, 32, 32) -> trunk features (B, C, h, w), channels-last."""
        x, ops = im, self.model.trunk_ops
        for i, op in enumerate(ops):
            if op.kind == "conv":
                x = self.conv(op.module, x, relu=ops[i + 1].kind == "relu")
            elif op.kind == "lrn":
                x = self.lrn(op.module, x)
            elif op.kind == "pool":
                x = F.max_pool2d(x, 2)
            elif ops[i - 1].kind != "conv":  # a ReLU not already fused into its conv
                x = x.relu_()
        return x.contiguous(memory_format=_CL)

    def logits(self, im: torch.Tensor, z_bias: torch.Tensor | None) -> torch.Tensor:
        """(B, 1, 32, 32), fc2 z-bias (B, fc_size) | None -> (B,) logits, in micro-batches."""
        m = self.model
        out = im.new_empty(im.shape[0])
        for start in range(0, im.shape[0], MICRO_BATCH):
            feats = self.features(im[start:start + MICRO_BATCH])
            flat = feats.permute(0, 2, 3, 1).reshape(feats.shape[0], -1)  # view of channels-last data
            h = torch.addmm(m.fc.bias, flat, self.fc_weight.t()).relu_()
            h = torch.addmm(m.fc2.bias, h, m.fc2.weight.t())
            if z_bias is not None:
                h += z_bias[start:start + MICRO_BATCH]
            out[start:start + MICRO_BATCH] = m.logit_from_scores(
                torch.addmm(m.fc3.bias, h.relu_(), m.fc3.weight.t()))
        return out
