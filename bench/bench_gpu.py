"""GQ-CNN and FC-GQ-CNN speed on a CUDA device (fp32), with the heatmap checked against the CPU result.

Prints crops/s of DexNetBase and the shipped-size gqcnn_small at batch 512 and 4096, and the time of one
640x480 DexNetBase heatmap at stride 1 and 2 with its largest difference to the same map on the CPU.

Usage: python bench/bench_gpu.py [--device cuda] [--reps 10]
"""

from __future__ import annotations

import argparse
import copy
import time

import torch

from dexnet_core.models import get_model
from dexnet_core.models.fc_gqcnn import to_fully_convolutional


def device_time(fn, device: torch.device, reps: int) -> float:
    """Mean wall time of ``reps`` calls after a warm-up, synchronising the device around them."""
    fn()
    torch.cuda.synchronize(device)
    start = time.perf_counter()
    for _ in range(reps):
        fn()
    torch.cuda.synchronize(device)
    return (time.perf_counter() - start) / reps


@torch.no_grad()
def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--reps", type=int, default=10)
    args = parser.parse_args()
    if not torch.cuda.is_available():
        print("bench_gpu: skipped, torch sees no CUDA device")
        return 0
    dev = torch.device(args.device)
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, {torch.cuda.get_device_name(dev)}, fp32")
    for name, kwargs in (("dexnet_base", {}), ("gqcnn_small", {"uses_depth": True})):
        model = get_model(name, **kwargs).eval().to(dev)
        for batch in (512, 4096):
            im = torch.randn(batch, 1, 32, 32, device=dev)
            z = torch.randn(batch, device=dev) if model.uses_depth else None
            t = device_time(lambda model=model, im=im, z=z: model(im, z), dev, args.reps)
            print(f"  {name} batch {batch}: {batch / t:,.0f} crops/s")
    model = get_model("dexnet_base").eval()
    on_cpu = to_fully_convolutional(model, exact=False)
    on_dev = to_fully_convolutional(copy.deepcopy(model).to(dev), exact=False)
    im = torch.randn(1, 1, 480, 640) * 0.5
    im_dev = im.to(dev)
    for stride in (1, 2):
        t = device_time(lambda stride=stride: on_dev(im_dev, stride=stride), dev, max(1, args.reps // 3))
        diff = (on_dev(im_dev, stride=stride).cpu() - on_cpu(im, stride=stride)).abs().max().item()
        print(f"  dexnet_base 640x480 heatmap, stride {stride}: {t:.3f} s (max |diff| vs CPU {diff:.1e})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
