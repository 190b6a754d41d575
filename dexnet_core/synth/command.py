"""`dexnet synth`: generate (or resume) a Dex-Net-format dataset from meshes.

Example: ``dexnet synth data/dexnet2_synth --gripper parallel_jaw -n 500000 --workers 2``; on many machines
add ``--task I/N`` (or ``--shards A:B``) per process, then check with ``dexnet synth --verify DIR``.
"""

from __future__ import annotations

import argparse
import logging
import sys

from dexnet_core.synth.antipodal import ParallelJawGripper
from dexnet_core.synth.families import FAMILIES, MIX_EXAMPLE, library_info, parse_mesh_spec
from dexnet_core.synth.generate import GRIPPERS, SynthConfig
from dexnet_core.synth.meshes import RANDOM_URDFS, load_object_library
from dexnet_core.synth.suction import SuctionCup
from dexnet_core.synth.writer import synthesize

logger = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("output", nargs="?",
                        help="dataset folder (created; re-run the same command to resume)")
    part = parser.add_mutually_exclusive_group()
    part.add_argument("--shards", help="write only shards A:B (B exclusive); other processes write the rest")
    part.add_argument("--task", help="write the I-th (from 0) of N contiguous shard ranges, e.g. "
                      "$SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT")
    part.add_argument("--verify", metavar="DIR", help="check a finished dataset and print what to re-run")
    parser.add_argument("--gripper", choices=GRIPPERS, default="parallel_jaw")
    parser.add_argument("-n", "--num-datapoints", type=int, default=10000)
    parser.add_argument("--seed", type=int, default=0, help="dataset seed: shard k depends on (seed, k) only")
    parser.add_argument("--workers", type=int, default=1, help="generator processes")
    parser.add_argument("--meshes", default=RANDOM_URDFS,
                        help=f"object family ({', '.join(FAMILIES)}), a folder of .obj/.stl/.ply files in "
                             f"metres, or a weighted mix such as {MIX_EXAMPLE} (default {RANDOM_URDFS})")
    parser.add_argument("--split", choices=("train", "val", "all"), default="train",
                        help="object split to draw from, in every family (val objects stay unseen for "
                             "evaluation)")
    parser.add_argument("--val-fraction", type=float, default=0.2, help="share of objects held out")
    parser.add_argument("--split-seed", type=int, default=0, help="seed of the object split")
    parser.add_argument("--max-objects", type=int, default=None,
                        help="use only the first N objects of each family")
    parser.add_argument("--cache-dir", default=None, help="mesh cache (default ~/.cache/dexnet_ros)")
    parser.add_argument("--grasps-per-image", type=int, default=SynthConfig.grasps_per_image)
    parser.add_argument("--shard-size", type=int, default=SynthConfig.shard_size)
    parser.add_argument("--scale-jitter", type=float, default=SynthConfig.scale_jitter,
                        help="per view, scale each table axis of the object by exp(U(-j, j)): more varied "
                             "geometry from the same meshes (0: as meshed)")
    jaw, cup = ParallelJawGripper(), SuctionCup()
    parser.add_argument("--jaw-width", type=float, default=jaw.max_width, help="jaw opening (m)")
    parser.add_argument("--finger-length", type=float, default=jaw.finger_length,
                        help="fingertip-to-palm length (m)")
    parser.add_argument("--tip-depth", type=float, default=jaw.tip_depth,
                        help="how far the fingertips reach past the grasp centre (m)")
    parser.add_argument("--cup-radius", type=float, default=cup.cup_radius, help="suction cup radius (m)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    if args.verify:
        from dexnet_core.synth.verify import verify_dataset

        report = verify_dataset(args.verify)
        sys.stdout.write("\n".join(report.lines()) + "\n")
        return 0 if report.ok else 1
    if args.output is None:
        raise ValueError("give the dataset folder (or --verify DIR)")
    jaw = ParallelJawGripper(max_width=args.jaw_width, finger_length=args.finger_length,
                             tip_depth=args.tip_depth)
    cfg = SynthConfig(gripper=args.gripper, seed=args.seed, num_datapoints=args.num_datapoints,
                      shard_size=args.shard_size, grasps_per_image=args.grasps_per_image,
                      scale_jitter=args.scale_jitter, jaw=jaw,
                      cup=SuctionCup(cup_radius=args.cup_radius))
    shards = None
    if args.shards or args.task:
        from dexnet_core.synth.ranges import parse_shards, parse_task

        shards = parse_shards(args.shards, cfg.num_shards) if args.shards else parse_task(args.task,
                                                                                         cfg.num_shards)
    mix = parse_mesh_spec(args.meshes)
    objects = load_object_library(args.split, source=args.meshes, cache_dir=args.cache_dir,
                                  val_fraction=args.val_fraction, split_seed=args.split_seed,
                                  max_objects=args.max_objects, progress=not args.no_progress)
    info = {"source": str(args.meshes), "split": args.split, "val_fraction": args.val_fraction,
            "split_seed": args.split_seed, "families": library_info(objects, mix)}
    meta = synthesize(args.output, cfg, objects, workers=args.workers, mesh_info=info,
                      progress=not args.no_progress, shards=shards)
    if "label_stats" not in meta:  # other ranges still missing
        return 0
    stats = meta["label_stats"]
    logger.info("%s: %d datapoints, %.1f%% positive (%s > %g), im_mean %.4f im_std %.4f", args.output,
                meta["num_datapoints"], 100 * stats["positive_fraction"], meta["label_field"],
                meta["label_threshold"], meta["im_mean"], meta["im_std"])
    return 0

