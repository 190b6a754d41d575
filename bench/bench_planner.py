"""Planner latency on 640x480 synthetic depth frames: p50 / p90 total and per stage.

Frames: a table at ~0.7 m with random boxes and cylinders, depth noise and 10% missing pixels.
Models: the shipped defaults when present, else a randomly initialised gqcnn_small (channels 16, fc 256),
which has the shipped models' layout and therefore their cost (the report says which one ran).

    python bench/bench_planner.py [--frames 20] [--threads 2] [--num-angles 16] [--stride 4]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from dexnet_core.camera import PRIMESENSE, CameraIntrinsics
from dexnet_core.models import get_model
from dexnet_core.models.checkpoint import DEXNET2_NORM, DEXNET3_NORM, GraspQualityModel, load_checkpoint
from dexnet_core.models.pretrained import list_pretrained
from dexnet_core.planning.config import PlannerConfig
from dexnet_core.planning.planner import GraspPlanner

SHIPPED = {"suction": "dexnet3_suction_small", "parallel_jaw": "dexnet2_pj_small"}


def scene(rng: np.random.Generator, intr: CameraIntrinsics = PRIMESENSE) -> np.ndarray:
    """(480, 640) float32 metres: tilted table, 3-6 boxes / cylinders, noise, dropout (NaN)."""
    v, u = np.mgrid[0 : intr.height, 0 : intr.width].astype(np.float64)
    depth = 0.72 + 0.00005 * (v - intr.cy) + rng.normal(0, 0.0005, v.shape)
    for _ in range(rng.integers(3, 7)):
        cu, cv = rng.uniform(120, 520), rng.uniform(100, 380)
        height = rng.uniform(0.02, 0.1)
        if rng.random() < 0.5:
            a = rng.uniform(0, np.pi)
            du, dv = u - cu, v - cv
            x, y = du * np.cos(a) + dv * np.sin(a), -du * np.sin(a) + dv * np.cos(a)
            inside = (np.abs(x) < rng.uniform(15, 60)) & (np.abs(y) < rng.uniform(15, 60))
        else:
            inside = np.hypot(u - cu, v - cv) < rng.uniform(15, 45)
        depth[inside] = np.minimum(depth[inside], 0.72 - height)
    depth[rng.random(v.shape) < 0.1] = np.nan
    return depth.astype(np.float32)


def planner_for(gripper: str, config: PlannerConfig) -> tuple[GraspPlanner, str]:
    name = SHIPPED[gripper]
    if name in list_pretrained():
        return GraspPlanner(load_checkpoint(name), config), name
    torch.manual_seed(0)
    model = get_model("gqcnn_small", channels=16, fc_size=256)
    norm = DEXNET3_NORM if gripper == "suction" else DEXNET2_NORM
    gqm = GraspQualityModel(model, "gqcnn_small", {"channels": 16, "fc_size": 256}, gripper=gripper,
                            norm=norm)
    return GraspPlanner(gqm, config), "random gqcnn_small(channels=16, fc_size=256)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=20)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--num-angles", type=int, default=16)
    parser.add_argument("--stride", type=int, default=PlannerConfig.stride)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    frames = [scene(rng) for _ in range(args.frames)]
    print(f"planner latency, {args.frames} frames 640x480, torch threads {args.threads}, "
          f"stride {args.stride}")
    for gripper in ("suction", "parallel_jaw"):
        config = PlannerConfig(num_angles=args.num_angles, stride=args.stride)
        planner, label = planner_for(gripper, config)
        planner.plan(frames[0], PRIMESENSE)  # warm-up
        stages: dict[str, list[float]] = {}
        for depth in frames:
            t0 = time.perf_counter()
            result = planner.plan(depth, PRIMESENSE)
            wall = time.perf_counter() - t0
            for k, val in result.timings.items():
                stages.setdefault(k, []).append(val)
            stages.setdefault("wall", []).append(wall)
        angles = 1 if gripper == "suction" else args.num_angles
        print(f"\n{gripper} ({angles} angle(s)), model: {label}, network scale {result.scale.width}x"
              f"{result.scale.height}")
        for k, vals in stages.items():
            p50, p90 = np.percentile(vals, [50, 90])
            print(f"  {k:<11} p50 {p50 * 1e3:8.1f} ms   p90 {p90 * 1e3:8.1f} ms")


if __name__ == "__main__":
    main()
