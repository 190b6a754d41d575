"""Planning on raw frames without a mask: how often is the best grasp on an object to pick?

Frames: ``dexnet_core.synth.frames.make_frame`` (table and bin scenes, cameras 0.4-1.2 m tilted 0-30
degrees with free roll, clutter and robot-like fixtures near the borders, sensor models with holes) of the
held-out objects, seeds ``--seed`` on. A frame counts as a hit when the best grasp's centre lies 5 px
inside an object to pick (``Frame.interior(5)``: the 11 x 11 px square around it on the object); a frame
with no grasp is a miss. A second count reads "5 px inside" as a distance: every pixel within 5 px of the
centre on the object (``Frame.interior(5, disk=True)``; the square needs up to 7 px beside a diagonal
edge). The clutter near the border holds real objects too: a third count takes as hits also grasps 5 px
inside clutter wholly in view (``Frame.clutter_interior(5)``; clutter cut off by the border is not), and a
fourth any grasp centred on an object to pick, however near its edge (``Frame.object_mask``). Each
workspace mode is run with the shipped models of both grippers; the table gives hits per mode, per scene
kind, how often the plane fit fell back, and the median workspace and total planning times.

    python bench/bench_workspace.py [--frames 100] [--modes none,plane] [--grippers parallel_jaw,suction]
                                    [--edge-margin-m 0.008] [--edge-preference 0.05]
                                    [--centre-preference 0.03] [--stride 2] [--num-angles 32]
                                    [--jaw-symmetries 1] [--save DIR | --load DIR]
                                    [--device cuda]

``--save DIR`` renders the frames and stores them (depth as 16UC1 millimetres, the format of most depth
cameras, the 5 px object interiors, intrinsics, scene kind) without planning; ``--load DIR`` plans on
stored frames (no mesh library or renderer needed, e.g. on a GPU machine).
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch

from dexnet_core.camera import CameraIntrinsics
from dexnet_core.errors import NoValidGraspError
from dexnet_core.planning.config import PlannerConfig
from dexnet_core.planning.planner import GraspPlanner
from dexnet_core.planning.preprocess import depth_to_metres

SHIPPED = {"parallel_jaw": "dexnet2_pj_small", "suction": "dexnet3_suction_small"}
PLANNER_OPTIONS = {  # PlannerConfig fields the command line sets
    "max_filled_fraction": "no grasp whose crop holds more filled-in depth than this",
    "edge_margin_m": "grasps nearer an object's edge rank lower (0: off)",
    "edge_preference": "how much lower",
    "centre_preference": "grasps off the image centre rank this much lower",
    "stride": "parallel-jaw heatmap stride in network pixels",
    "num_angles": "parallel-jaw axis angles tried",
    "jaw_symmetries": "parallel-jaw crop symmetries averaged over (1, 2, 4)",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--modes", default="none,plane", help="workspace modes to compare (';'-separated "
                        "when one holds a comma, e.g. 'none;plane,box')")
    parser.add_argument("--grippers", default="parallel_jaw,suction")
    parser.add_argument("--library-size", type=int, default=60, help="held-out objects to draw from")
    parser.add_argument("--threads", type=int, default=1)
    for name, text in PLANNER_OPTIONS.items():
        default = getattr(PlannerConfig, name)
        parser.add_argument(f"--{name.replace('_', '-')}", type=type(default), default=default,
                            help=f"planner {name}: {text}")
    parser.add_argument("--save", type=Path, help="render the frames into this folder and stop")
    parser.add_argument("--load", type=Path, help="plan on the frames stored in this folder")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--with-mask", action="store_true", help="plan with the object mask (the masked "
                        "planner's figure for comparison)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    modes = args.modes.split(";") if ";" in args.modes else args.modes.split(",")
    start = time.perf_counter()
    if args.load:
        frames = [load_frame(p) for p in sorted(args.load.glob("frame_*.npz"))[: args.frames]]
    else:
        frames = render_frames(args.seed, args.frames, args.library_size, args.save)
        if args.save:
            print(f"{len(frames)} frames saved to {args.save} in {time.perf_counter() - start:.0f} s")
            return
    kinds = defaultdict(int)
    for f in frames:
        kinds[f.kind] += 1
    print(f"{len(frames)} frames ({dict(kinds)}) ready in {time.perf_counter() - start:.0f} s; "
          f"device {args.device}, torch threads {args.threads}")
    print("| gripper | workspace | best grasp on an object to pick | table | bin | 5 px as a distance | "
          "or on whole clutter | centred on an object, any margin | plane fell back | workspace p50 | "
          "plan p50 |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for gripper in args.grippers.split(","):
        for mode in modes:
            cfg = PlannerConfig(workspace=mode, **{name: getattr(args, name) for name in PLANNER_OPTIONS})
            planner = GraspPlanner.from_checkpoint(SHIPPED[gripper], cfg, device=args.device)
            hits, by_distance, clutter, on_object, fallbacks = defaultdict(int), 0, 0, 0, 0
            ws_t, plan_t = [], []
            for f in frames:
                try:
                    result = planner.plan(f.depth, f.intrinsics, mask=f.mask if args.with_mask else None,
                                          max_grasps=1)
                except NoValidGraspError:
                    continue
                u, v = (int(round(c)) for c in result.grasps[0].center_px)
                hits[f.kind] += bool(f.interior[v, u])
                by_distance += bool(f.interior_disk[v, u])
                clutter += bool(f.clutter_interior[v, u])
                on_object += bool(f.mask[v, u])
                fallbacks += result.workspace.fallback is not None
                ws_t.append(result.timings["workspace"])
                plan_t.append(result.timings["total"])
            total = sum(hits.values())
            by_kind = [f"{hits[k]}/{kinds[k]}" for k in ("table", "bin")]
            label = f"{mode} + mask" if args.with_mask else mode
            n = len(frames)
            print(f"| {gripper} | {label} | {total}/{n} ({100 * total / n:.0f}%) | {by_kind[0]} | "
                  f"{by_kind[1]} | {by_distance}/{n} ({100 * by_distance / n:.1f}%) | "
                  f"{total + clutter}/{n} | {on_object}/{n} | {fallbacks} | {1e3 * np.median(ws_t):.1f} ms | "
                  f"{np.median(plan_t):.2f} s |", flush=True)


class StoredFrame:
    """What the benchmark needs of a frame: depth (m, NaN = missing), intrinsics, kind, 5 px interiors of
    the objects to pick (square and disk) and of the clutter wholly in view."""

    def __init__(self, depth: np.ndarray, intrinsics: CameraIntrinsics, kind: str, interior: np.ndarray,
                 interior_disk: np.ndarray, mask: np.ndarray, clutter_interior: np.ndarray) -> None:
        self.depth, self.intrinsics, self.kind, self.interior = depth, intrinsics, kind, interior
        self.interior_disk = interior_disk
        self.mask = mask  # pixels of the objects to pick
        self.clutter_interior = clutter_interior


def render_frames(seed: int, count: int, library_size: int, save: Path | None) -> list[StoredFrame]:
    """Render ``count`` frames of the held-out objects (seeds ``seed`` on); store them in ``save``."""
    from dexnet_core.synth.frames import FrameConfig, make_frame
    from dexnet_core.synth.meshes import load_object_library

    objects = load_object_library("val", max_objects=library_size)
    out = []
    for n in range(count):
        f = make_frame(seed + n, objects, FrameConfig())
        mm = np.nan_to_num(f.depth * 1000.0, nan=0.0).round().clip(0, 65535).astype(np.uint16)
        k = f.intrinsics
        stored = StoredFrame(depth_to_metres(mm, "16UC1"), k, f.kind, f.interior(5), f.interior(5, disk=True),
                             f.object_mask, f.clutter_interior(5))
        if save is not None:
            save.mkdir(parents=True, exist_ok=True)
            np.savez_compressed(save / f"frame_{seed + n:05d}.npz", depth_mm=mm, kind=f.kind,
                                interior=np.packbits(stored.interior, axis=None),
                                interior_disk=np.packbits(stored.interior_disk, axis=None),
                                mask=np.packbits(stored.mask, axis=None),
                                clutter_interior=np.packbits(stored.clutter_interior, axis=None),
                                k=[k.fx, k.fy, k.cx, k.cy, k.width, k.height])
        out.append(stored)
    return out


def load_frame(path: Path) -> StoredFrame:
    data = np.load(path)
    fx, fy, cx, cy, w, h = data["k"]
    k = CameraIntrinsics(fx, fy, cx, cy, int(w), int(h))
    keys = ("interior", "interior_disk", "mask", "clutter_interior")
    missing = [key for key in keys if key not in data]
    if missing:
        raise SystemExit(f"{path}: no {', '.join(missing)} (saved by an older bench_workspace.py): save the "
                         "frames again")
    interior, disk, mask, clutter = (np.unpackbits(data[key], count=k.width * k.height)
                                     .reshape(k.height, k.width).astype(bool) for key in keys)
    depth = depth_to_metres(data["depth_mm"], "16UC1")
    return StoredFrame(depth, k, str(data["kind"]), interior, disk, mask, clutter)


if __name__ == "__main__":
    main()
