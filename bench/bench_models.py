"""GQ-CNN and FC-GQ-CNN speed on this machine: ours vs the Dex-Net 5.0 reference (bench/reference_impl.py).

Prints, in one run:
- this machine's fp32 GEMM rate (the roofline every figure below is compared with);
- crops/s at batch 512 and 4096 for DexNetBase (ours vs the reference's eager model), the effective
  GFLOP/s against that roofline, and crops/s of the other registered GQ-CNNs;
- the time of one 640x480 heatmap at stride 1 (ours vs the reference's four-pass HighResFCGQCNN) and at
  stride 2 (ours vs BaseFCGQCNN), the speed-up and the largest difference between the maps, and the
  stride-1 floor: our floating-point work done at the roofline;
- exact (crop-equivalent) heatmap time of the shipped-size gqcnn_small, checked against crops.

Usage: python bench/bench_models.py [--threads 2] [--reps 3] [--skip-reference-stride1]
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import time
from pathlib import Path

import torch

from dexnet_core.models import get_model
from dexnet_core.models.fc_gqcnn import to_fully_convolutional

spec = importlib.util.spec_from_file_location("reference_impl", Path(__file__).with_name("reference_impl.py"))
reference = importlib.util.module_from_spec(spec)
spec.loader.exec_module(reference)

GEMM_SIZE = 4096  # square fp32 matmul that measures the roofline


def dexnet_base_flops() -> float:
    """Multiply-adds x 2 of one DexNetBase forward pass on a 32x32 crop."""
    convs = 32 * 32 * 64 * (7 * 7 * 1 + 5 * 5 * 64) + 16 * 16 * 64 * (3 * 3 * 64) * 2
    fcs = 16384 * 1024 + 1024 * 1024 + 1024
    return 2.0 * (convs + fcs)


def stride1_heatmap_gflop(fc, h: int, w: int) -> dict[str, float]:
    """Floating-point work (GFLOP, 2 per multiply-add) of a stride-1 DexNetBase heatmap of an (h, w) frame.

    "reference": the four-pass method (each pass the whole network, fc as a direct 16x16 convolution);
    the rest is ours by stage: the a-trous trunk, the overlap-save FFT fc (per-frequency products and the
    two inverse-DFT matmuls, over the tiles ``fc`` uses) and fc2 / fc3 at every tile position.
    """
    c, f = fc.model.feature_shape[0], fc.model.fc.out_features
    conv1, conv2, conv34 = 7 * 7 * c, 5 * 5 * c * c, 2 * 3 * 3 * c * c  # DexNetBase trunk, MACs per position
    kh, kw = fc.kernel_hw
    hp, wp = h // 2, w // 2  # one pooled phase
    ho, wo = hp - kh + 1, wp - kw + 1
    per_pass = h * w * (conv1 + conv2) + hp * wp * conv34 + ho * wo * (kh * kw * c * f + f * f + f)
    n = fc.fft_size
    th, tw, half = n - kh + 1, n - kw + 1, n // 2 + 1
    tiles = 4 * math.ceil(ho / th) * math.ceil(wo / tw)
    positions = tiles * th * tw
    work = {
        "reference": 4 * per_pass,
        "trunk": h * w * (conv1 + conv2 + conv34),
        "fc (FFT)": tiles * f * (n * half * 2 * 2 * c + 2 * th * 2 * n * half + th * tw * 2 * half),
        "fc2 + fc3": positions * (f * f + f),
    }
    return {k: 2 * v / 1e9 for k, v in work.items()}


@torch.no_grad()
def spread_outputs(model: torch.nn.Module) -> None:
    """Scale fc3 so that random crops give logits with std ~2 around 0 (not a constant ~0.5 map)."""
    im = torch.randn(256, 1, 32, 32) * 0.5
    model.fc3.weight /= model.logits(im).std() / 2
    model.fc3.bias -= model.logits(im).mean()


def best_time(fn, reps: int, warmup: bool = True) -> float:
    """Minimum wall time of ``reps`` calls (after one warm-up call if ``warmup``)."""
    if warmup:
        fn()
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def gemm_gflops(reps: int) -> float:
    """Best fp32 GFLOP/s of a large square matmul: the rate no fp32 stage here can beat."""
    a, b = torch.randn(GEMM_SIZE, GEMM_SIZE), torch.randn(GEMM_SIZE, GEMM_SIZE)
    return 2 * GEMM_SIZE**3 / best_time(lambda: a @ b, reps) / 1e9


@torch.no_grad()
def bench_crops(reps: int, roofline: float) -> None:
    ref = reference.DexNetBase().eval()
    ours = get_model("dexnet_base").eval()
    ours.load_state_dict(ref.state_dict())
    flops = dexnet_base_flops()
    print(f"\nGQ-CNN inference, crops/s (DexNetBase: {flops / 1e6:.0f} MFLOP per crop)")
    for batch in (512, 4096):
        im = torch.randn(batch, 1, 32, 32)
        diff = (ours(im) - ref(im).reshape(-1)).abs().max().item()
        big = batch > 512  # the reference takes ~40 s at 4096: one cold run
        t_ref = best_time(lambda im=im: ref(im), 1 if big else reps, warmup=not big)
        t_ours = best_time(lambda im=im: ours(im), reps)
        gflops = batch * flops / t_ours / 1e9
        print(f"  batch {batch:5d}: reference {batch / t_ref:7.0f}  ours {batch / t_ours:7.0f}  "
              f"x{t_ref / t_ours:4.1f}  ({gflops:.0f} GFLOP/s = {100 * gflops / roofline:.0f}% of the "
              f"roofline)  max |diff| {diff:.1e}")
    for name, kwargs in (("gqcnn_dexnet2", {}), ("gqcnn_small", {}), ("gqcnn_small", {"uses_depth": True})):
        model = get_model(name, **kwargs).eval()
        im = torch.randn(512, 1, 32, 32)
        z = torch.randn(512) if model.uses_depth else None
        t = best_time(lambda model=model, im=im, z=z: model(im, z), reps)
        print(f"  {name} {kwargs or ''}: {512 / t:.0f} crops/s at batch 512")


@torch.no_grad()
def bench_heatmaps(reps: int, reference_stride1: bool, roofline: float) -> None:
    ours = get_model("dexnet_base").eval()
    spread_outputs(ours)
    ref = reference.DexNetBase().eval()
    ref.load_state_dict(ours.state_dict())
    im = torch.randn(1, 1, 480, 640) * 0.5
    fc = to_fully_convolutional(ours, exact=False)
    print("\nFC-GQ-CNN heatmap of one 640x480 frame, DexNetBase (whole-image features, as the reference)")
    print(f"  (output spread: std {fc(im[..., :96, :96], stride=1).std().item():.2f})")
    fast1 = fc(im, stride=1)
    t1 = best_time(lambda: fc(im, stride=1), max(1, reps - 1))
    if reference_stride1:
        high_res = reference.HighResFCGQCNN.from_gqcnn(ref).eval()
        start = time.perf_counter()
        slow1 = high_res(im)[:, 0]
        t_ref1 = time.perf_counter() - start
        print(f"  stride 1 ({tuple(fast1.shape[1:])}): reference four-pass {t_ref1:6.1f} s  ours {t1:5.2f} s "
              f"x{t_ref1 / t1:4.1f}  max |diff| {(fast1 - slow1).abs().max().item():.1e}")
        work = stride1_heatmap_gflop(fc, *im.shape[2:])
        ref_gflop = work.pop("reference")
        ours_gflop = sum(work.values())
        parts = ", ".join(f"{k} {v:.0f}" for k, v in work.items())
        print(f"    work: reference {ref_gflop:.0f} GFLOP ({ref_gflop / t_ref1:.0f} GFLOP/s), "
              f"ours {ours_gflop:.0f} GFLOP ({parts}; {ours_gflop / t1:.0f} GFLOP/s): "
              "at the reference's rate ours would take "
              f"{ours_gflop * t_ref1 / ref_gflop:.2f} s, x{ref_gflop / ours_gflop:.1f}; "
              f"at the roofline {ours_gflop / roofline:.2f} s, x{t_ref1 * roofline / ours_gflop:.1f}")
    else:
        print(f"  stride 1 ({tuple(fast1.shape[1:])}): ours {t1:5.2f} s (reference skipped)")
    base = reference.BaseFCGQCNN.from_gqcnn(ref).eval()
    fast2 = fc(im, stride=2)
    t2 = best_time(lambda: fc(im, stride=2), reps)
    start = time.perf_counter()
    slow2 = base(im)[:, 0]
    t_ref2 = time.perf_counter() - start
    print(f"  stride 2 ({tuple(fast2.shape[1:])}): reference BaseFCGQCNN {t_ref2:6.1f} s  ours {t2:5.2f} s  "
          f"x{t_ref2 / t2:4.1f}  max |diff| {(fast2 - slow2).abs().max().item():.1e}")

    small = get_model("gqcnn_small").eval()
    spread_outputs(small)
    exact = to_fully_convolutional(small)
    heat = exact(im, stride=1)
    t_small = best_time(lambda: exact(im, stride=1), reps)
    rows, cols = torch.randint(0, heat.shape[1], (256,)), torch.randint(0, heat.shape[2], (256,))
    crops = torch.stack([im[0, :, r:r + 32, c:c + 32] for r, c in zip(rows.tolist(), cols.tolist())])
    diff = (small(crops) - heat[0, rows, cols]).abs().max().item()
    print(f"  gqcnn_small exact stride 1: {t_small:5.2f} s  (max |diff| vs 256 crops {diff:.1e})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--skip-reference-stride1", action="store_true",
                        help="skip the reference four-pass heatmap (~1.5 min on 2 cores)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, {args.threads} threads, fp32")
    roofline = gemm_gflops(args.reps)
    print(f"fp32 roofline (a {GEMM_SIZE}^3 matmul): {roofline:.0f} GFLOP/s")
    bench_crops(args.reps, roofline)
    bench_heatmaps(args.reps, not args.skip_reference_stride1, roofline)


if __name__ == "__main__":
    main()
