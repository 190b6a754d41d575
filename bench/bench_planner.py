"""Planner latency on 640x480 synthetic depth frames: p50 / p90 total and per stage.

Frames: a table at ~0.7 m with random boxes and cylinders, depth noise and 10% missing pixels.
Models: the shipped defaults when present, else a randomly initialised gqcnn_small (channels 32, fc 256),
which has the shipped models' layout and therefore their cost (the report says which one ran).
Stages are wall-clock seconds; "cpu time" (all threads) shows how much a busy machine inflated them.
``--depth-model`` adds a parallel-jaw model with a gripper-depth input (``--depth-bins`` per pixel).

    python bench/bench_planner.py [--frames 20] [--threads 1] [--num-angles 32] [--stride 2] [--depth-model]
                                  [--jaw-symmetries 2] [--suction-symmetries 8] [--backend onnxruntime]
                                  [--workspace plane]

The "workspace" stage is the automatic workspace (support-plane fit, region, height band; 0 with none).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from dexnet_core.camera import PRIMESENSE, CameraIntrinsics
from dexnet_core.models import get_model
from dexnet_core.models.checkpoint import (
    DEXNET2_NORM,
    DEXNET3_NORM,
    GraspQualityModel,
    Normalization,
    load_checkpoint,
)
from dexnet_core.models.pretrained import list_pretrained
from dexnet_core.planning.config import BACKENDS, PlannerConfig
from dexnet_core.planning.planner import GraspPlanner
from dexnet_core.planning.preprocess import valid_depth
from dexnet_core.planning.workspace import estimate_workspace, parse_modes

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


def planner_for(gripper: str, config: PlannerConfig, uses_depth: bool = False) -> tuple[GraspPlanner, str]:
    """The shipped default for ``gripper`` (when it matches ``uses_depth``), else a random gqcnn_small."""
    name = SHIPPED[gripper]
    if name in list_pretrained():
        gqm = load_checkpoint(name)
        if gqm.uses_depth == uses_depth:
            return GraspPlanner(gqm, config), name
    torch.manual_seed(0)
    kwargs = {"channels": 32, "fc_size": 256, "uses_depth": uses_depth}
    norm = DEXNET3_NORM if gripper == "suction" else DEXNET2_NORM
    if uses_depth:
        norm = Normalization(norm.im_mean, norm.im_std, z_mean=0.72, z_std=0.03)
    gqm = GraspQualityModel(get_model("gqcnn_small", **kwargs), "gqcnn_small", kwargs, gripper=gripper,
                            norm=norm)
    args = ", ".join(f"{k}={v}" for k, v in kwargs.items())
    return GraspPlanner(gqm, config), f"random gqcnn_small({args})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=20)
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads (2 only pays off on an otherwise idle 2-core machine)")
    parser.add_argument("--num-angles", type=int, default=PlannerConfig.num_angles)
    parser.add_argument("--stride", type=int, default=PlannerConfig.stride)
    parser.add_argument("--depth-model", action="store_true", help="also bench a gripper-depth model")
    parser.add_argument("--depth-bins", type=int, default=PlannerConfig.depth_bins)
    parser.add_argument("--jaw-symmetries", type=int, default=PlannerConfig.jaw_symmetries,
                        help="parallel jaw: crop symmetries averaged (1, 2 or 4)")
    parser.add_argument("--suction-symmetries", type=int, default=PlannerConfig.suction_symmetries,
                        help="suction: turns / mirror images averaged (1, 2, 4 or 8)")
    parser.add_argument("--backend", choices=BACKENDS, default=PlannerConfig.backend,
                        help="runs the network: torch, or onnxruntime (the exported ONNX graph)")
    parser.add_argument("--workspace", default=PlannerConfig.workspace,
                        help="automatic workspace: none, plane, box (needs a box: not here)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    frames = [scene(rng) for _ in range(args.frames)]
    print(f"planner latency, {args.frames} frames 640x480, torch threads {args.threads}, "
          f"stride {args.stride}, backend {args.backend}, workspace {args.workspace}")
    modes = parse_modes(args.workspace)
    if modes:  # the workspace stage alone; CPU time (all threads) is what a busy machine inflates least
        wall, cpu = [], []
        for depth in frames:
            w0, c0 = time.perf_counter(), time.process_time()
            estimate_workspace(depth, valid_depth(depth), PRIMESENSE, modes,
                               edge_margin_m=PlannerConfig.edge_margin_m)
            wall.append(time.perf_counter() - w0)
            cpu.append(time.process_time() - c0)
        print(f"workspace estimation ({args.workspace}): p50 {np.median(wall) * 1e3:.1f} ms wall, "
              f"{np.median(cpu) * 1e3:.1f} ms CPU; p90 {np.percentile(wall, 90) * 1e3:.1f} ms wall")
    runs = [("suction", False), ("parallel_jaw", False)] + [("parallel_jaw", True)] * args.depth_model
    for gripper, uses_depth in runs:
        config = PlannerConfig(num_angles=args.num_angles, stride=args.stride, depth_bins=args.depth_bins,
                               jaw_symmetries=args.jaw_symmetries, suction_symmetries=args.suction_symmetries,
                               backend=args.backend, workspace=args.workspace)
        planner, label = planner_for(gripper, config, uses_depth)
        planner.plan(frames[0], PRIMESENSE)  # warm-up
        stages: dict[str, list[float]] = {}
        for depth in frames:
            c0 = time.process_time()
            result = planner.plan(depth, PRIMESENSE)
            for k, val in result.timings.items():
                stages.setdefault(k, []).append(val)
            stages.setdefault("cpu time", []).append(time.process_time() - c0)
        angles = 1 if gripper == "suction" else args.num_angles
        bins = f", {args.depth_bins} depth bins" if uses_depth else ""
        symmetries = len(planner.symmetries)
        if symmetries > 1:
            bins += f", {symmetries} symmetries"
        print(f"\n{gripper} ({angles} angle(s){bins}), model: {label}, network scale {result.scale.width}x"
              f"{result.scale.height}")
        for k, vals in stages.items():
            p50, p90 = np.percentile(vals, [50, 90])
            print(f"  {k:<11} p50 {p50 * 1e3:8.1f} ms   p90 {p90 * 1e3:8.1f} ms")


if __name__ == "__main__":
    main()
