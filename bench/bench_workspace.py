"""Planning on raw frames without a mask: how often is the best grasp on an object to pick?

Frames: ``dexnet_core.synth.frames.make_frame`` (table and bin scenes, cameras 0.4-1.2 m tilted 0-30
degrees with free roll, clutter and robot-like fixtures near the borders, sensor models with holes) of the
held-out objects, seeds ``--seed`` on. A frame counts as a hit when the best grasp's centre lies 5 px
inside an object to pick (``Frame.interior(5)``); a frame with no grasp is a miss. Each workspace mode is
run with the shipped models of both grippers; the table gives hits per mode, per scene kind, how often the
plane fit fell back, and the median workspace and total planning times.

    python bench/bench_workspace.py [--frames 100] [--modes none,plane] [--grippers parallel_jaw,suction]
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict

import numpy as np
import torch

from dexnet_core.errors import NoValidGraspError
from dexnet_core.planning.config import PlannerConfig
from dexnet_core.planning.planner import GraspPlanner
from dexnet_core.synth.frames import FrameConfig, make_frame
from dexnet_core.synth.meshes import load_object_library

SHIPPED = {"parallel_jaw": "dexnet2_pj_small", "suction": "dexnet3_suction_small"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--modes", default="none,plane", help="workspace modes to compare (';'-separated "
                        "when one holds a comma, e.g. 'none;plane,box')")
    parser.add_argument("--grippers", default="parallel_jaw,suction")
    parser.add_argument("--library-size", type=int, default=60, help="held-out objects to draw from")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--max-filled-fraction", type=float, default=PlannerConfig.max_filled_fraction)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    modes = args.modes.split(";") if ";" in args.modes else args.modes.split(",")
    objects = load_object_library("val", max_objects=args.library_size)
    start = time.perf_counter()
    frames = [make_frame(args.seed + n, objects, FrameConfig()) for n in range(args.frames)]
    kinds = defaultdict(int)
    for f in frames:
        kinds[f.kind] += 1
    print(f"{len(frames)} frames ({dict(kinds)}) rendered in {time.perf_counter() - start:.0f} s; "
          f"torch threads {args.threads}")
    print("| gripper | workspace | best grasp on an object | table | bin | plane fell back | "
          "workspace p50 | plan p50 |")
    print("|---|---|---|---|---|---|---|---|")
    for gripper in args.grippers.split(","):
        for mode in modes:
            cfg = PlannerConfig(workspace=mode, max_filled_fraction=args.max_filled_fraction)
            planner = GraspPlanner.from_checkpoint(SHIPPED[gripper], cfg, device="cpu")
            hits, fallbacks, ws_t, plan_t = defaultdict(int), 0, [], []
            for f in frames:
                try:
                    result = planner.plan(f.depth, f.intrinsics, max_grasps=1)
                except NoValidGraspError:
                    continue
                u, v = (int(round(c)) for c in result.grasps[0].center_px)
                hits[f.kind] += bool(f.interior(5)[v, u])
                fallbacks += result.workspace.fallback is not None
                ws_t.append(result.timings["workspace"])
                plan_t.append(result.timings["total"])
            total = sum(hits.values())
            by_kind = [f"{hits[k]}/{kinds[k]}" for k in ("table", "bin")]
            print(f"| {gripper} | {mode} | {total}/{len(frames)} ({100 * total / len(frames):.0f}%) | "
                  f"{by_kind[0]} | {by_kind[1]} | {fallbacks} | {1e3 * np.median(ws_t):.1f} ms | "
                  f"{np.median(plan_t):.2f} s |", flush=True)


if __name__ == "__main__":
    main()
