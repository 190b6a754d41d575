"""Training throughput: model samples/s vs the data pipeline's samples/s (gather + augment + normalise).

Writes a synthetic Dex-Net-format dataset (default 20k datapoints) to a temporary folder, builds its
memmap cache, then times
  - training steps (forward, BCE, backward, SGD step) of the reference DexNetBase and gqcnn_small, and
  - the data pipeline alone (memmap gather of shuffled indices, GP noise + flips, normalisation),
and prints each model's rate and the pipeline/model ratio (the pipeline should be >= 20x faster).

    python bench/bench_train.py [--batch-size 256] [--threads 2] [--datapoints 20000] [--device cpu]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from dexnet_core.data.augment import AugmentConfig, augment_batch
from dexnet_core.data.cache import open_dataset
from dexnet_core.data.loader import BatchLoader, epoch_order
from dexnet_core.data.shards import write_shards
from dexnet_core.models import get_model

MODELS = [("dexnet_base", {}), ("gqcnn_small", {}), ("gqcnn_small", {"uses_depth": True}),
          ("gqcnn_small", {"channels": 32, "uses_depth": True}),  # dexnet2_pj_small
          ("gqcnn_small", {"channels": 64})]  # dexnet3_suction_small


def write_dataset(root: Path, n: int) -> None:
    rng = np.random.default_rng(0)
    ims = (0.7 + 0.003 * rng.standard_normal((n, 32, 32, 1))).astype(np.float32)
    poses = np.zeros((n, 7), np.float32)
    poses[:, 2] = 0.7
    write_shards(root, {"depth_ims_tf_table": ims, "hand_poses": poses,
                        "robust_ferrari_canny": rng.random(n).astype(np.float32) * 0.004}, shard_size=1000)


def pipeline_rate(loader: BatchLoader, order: np.ndarray, gen: torch.Generator, seconds: float) -> float:
    """Samples/s of gather + augment + normalise over ``order`` (repeated until ``seconds`` pass)."""
    done, start = 0, time.perf_counter()
    cfg = AugmentConfig()
    while time.perf_counter() - start < seconds:
        for batch in loader.iterate(order):
            im = (augment_batch(batch.im, cfg, gen) - 0.7) / 0.004
            done += im.shape[0]
            if time.perf_counter() - start >= seconds:
                break
    if loader.device.type == "cuda":
        torch.cuda.synchronize()
    return done / (time.perf_counter() - start)


def model_rate(name: str, kwargs: dict, batch_size: int, device: torch.device, seconds: float) -> float:
    """Training samples/s of one architecture on random normalised inputs."""
    torch.manual_seed(0)
    model = get_model(name, **kwargs).to(device).train()
    opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    im = torch.randn(batch_size, 1, 32, 32, device=device)
    z = torch.randn(batch_size, device=device) if model.uses_depth else None
    label = (torch.rand(batch_size, device=device) > 0.5).float()

    def step() -> None:
        loss = F.binary_cross_entropy_with_logits(model.logits(im, z), label)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    step()  # warm-up
    steps, start = 0, time.perf_counter()
    while steps < 2 or time.perf_counter() - start < seconds:
        step()
        steps += 1
    if device.type == "cuda":
        torch.cuda.synchronize()
    return steps * batch_size / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--datapoints", type=int, default=20000)
    parser.add_argument("--seconds", type=float, default=6.0, help="time per measurement")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "ds"
        write_dataset(root, args.datapoints)
        start = time.perf_counter()
        data = open_dataset(root, ["depth_ims_tf_table", "robust_ferrari_canny"], optional=["hand_poses"])
        build = time.perf_counter() - start
        start = time.perf_counter()
        open_dataset(root, ["depth_ims_tf_table", "robust_ferrari_canny"], optional=["hand_poses"])
        reopen = time.perf_counter() - start
        print(f"cache: build {args.datapoints} datapoints {build:.2f} s "
              f"({args.datapoints / build:,.0f} datapoints/s), reopen {reopen * 1e3:.1f} ms")
        positive = np.asarray(data["robust_ferrari_canny"]) > 0.002
        order = epoch_order(np.arange(data.num_datapoints), positive, seed=0, epoch=0, pos_weight=1.5)
        gen = torch.Generator(device=device).manual_seed(0)
        pipe = {}
        for workers in (0, 1):
            loader = BatchLoader(data, positive, batch_size=args.batch_size, device=device, with_z=True,
                                 num_workers=workers)
            pipe[workers] = pipeline_rate(loader, order, gen, args.seconds)
            print(f"data pipeline (gather + augment + normalise, batch {args.batch_size}, "
                  f"{workers} gather threads): {pipe[workers]:,.0f} samples/s")
        best = max(pipe.values())
        print(f"\n{'model':<50} {'train samples/s':>16} {'pipeline / model':>17}")
        for name, kwargs in MODELS:
            rate = model_rate(name, kwargs, args.batch_size, device, args.seconds)
            label = name + (f" {kwargs}" if kwargs else "")
            print(f"{label:<50} {rate:>16,.0f} {best / rate:>16.0f}x")
        print(f"\ndevice {device}, {args.threads} threads, batch {args.batch_size}")


if __name__ == "__main__":
    main()
