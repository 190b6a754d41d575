"""`dexnet synth`: generate (or resume) a Dex-Net-format dataset from meshes.

Example: ``dexnet synth data/dexnet2_synth --gripper parallel_jaw -n 500000 --workers 2``; camera and sensor
realism: ``--sensor mix --camera-tilt 30 --camera-distance 0.4 1.2 --focal-px 380 1100
--image-sizes 640x480,848x480,1280x720``; on many machines add ``--task I/N`` (or ``--shards A:B``) per
process, then check with ``dexnet synth --verify DIR``.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import math
import sys

from dexnet_core.synth.antipodal import ParallelJawGripper
from dexnet_core.synth.families import FAMILIES, MIX_EXAMPLE, library_info, parse_mesh_spec
from dexnet_core.synth.frames import MAX_TILT_DEG
from dexnet_core.synth.generate import GRIPPERS, CameraRange, SynthConfig
from dexnet_core.synth.meshes import RANDOM_URDFS, load_object_library
from dexnet_core.synth.sensors import parse_sensors
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
    parser.add_argument("--sensor", default=SynthConfig.sensor,
                        help="depth sensor model: ideal, gaussian, primesense, realsense, structured_light, "
                             "mix (one of the last three per image) or a comma-separated list "
                             f"(default {SynthConfig.sensor})")
    parser.add_argument("--camera-tilt", type=float, default=None, metavar="MAX_DEG",
                        help=f"camera tilt from vertical, uniform in [0, MAX_DEG], at most {MAX_TILT_DEG:g} "
                             f"(default {math.degrees(CameraRange.max_tilt):.1f})")
    parser.add_argument("--camera-distance", type=float, nargs=2, default=None, metavar=("MIN", "MAX"),
                        help="camera distance to the object (m; its height when untilted), default "
                             f"{CameraRange.distance[0]} {CameraRange.distance[1]}")
    parser.add_argument("--focal-px", type=float, nargs=2, default=None, metavar=("MIN", "MAX"),
                        help="focal length range (px; default the 525 px Primesense camera +-5%%)")
    parser.add_argument("--image-sizes", default=None, metavar="WxH[,WxH...]",
                        help="image sizes drawn per image, e.g. 640x480,848x480,1280x720 (default 640x480)")
    jaw, cup = ParallelJawGripper(), SuctionCup()
    parser.add_argument("--jaw-width", type=float, default=jaw.max_width, help="jaw opening (m)")
    parser.add_argument("--finger-length", type=float, default=jaw.finger_length,
                        help="fingertip-to-palm length (m)")
    parser.add_argument("--tip-depth", type=float, default=jaw.tip_depth,
                        help="how far the fingertips reach past the grasp centre (m)")
    parser.add_argument("--cup-radius", type=float, default=cup.cup_radius, help="suction cup radius (m)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def parse_image_sizes(spec: str, flag: str = "--image-sizes") -> tuple[tuple[int, int], ...]:
    """``640x480,848x480`` -> ((640, 480), (848, 480)); ValueError naming the flag and the value."""
    try:
        sizes = tuple(tuple(int(x) for x in part.lower().split("x")) for part in spec.split(","))
    except ValueError:
        sizes = ()
    if not sizes or any(len(s) != 2 or min(s) < 16 for s in sizes):
        raise ValueError(f"{flag} must be WIDTHxHEIGHT[,WIDTHxHEIGHT...] with sides >= 16 px, got {spec!r}")
    return sizes


def check_sensor(spec: str, flag: str = "--sensor") -> str:
    """``spec`` when it names sensor models; ValueError naming the flag and the valid values."""
    try:
        parse_sensors(spec)
    except ValueError as exc:
        raise ValueError(f"{flag}: {exc}") from None
    return spec


def check_tilt(value: float, flag: str = "--camera-tilt") -> float:
    """``value`` (degrees) when in [0, MAX_TILT_DEG]; ValueError naming the flag and the valid range."""
    if not 0 <= value <= MAX_TILT_DEG:
        raise ValueError(f"{flag} must be in [0, {MAX_TILT_DEG:g}] degrees, got {value:g}")
    return value


def camera_range(args: argparse.Namespace) -> CameraRange:
    """The CameraRange of the camera flags (defaults where not given)."""
    changes = {}
    if args.camera_tilt is not None:
        changes["max_tilt"] = math.radians(check_tilt(args.camera_tilt))
    if args.camera_distance is not None:
        lo, hi = args.camera_distance
        if not 0 < lo <= hi:
            raise ValueError(f"--camera-distance must be MIN MAX with 0 < MIN <= MAX (m), got {lo:g} {hi:g}")
        changes["distance"] = (lo, hi)
    if args.focal_px is not None:
        lo, hi = args.focal_px
        if not 0 < lo <= hi:
            raise ValueError(f"--focal-px must be MIN MAX with 0 < MIN <= MAX (px), got {lo:g} {hi:g}")
        changes["focal_px"] = (lo, hi)
    if args.image_sizes is not None:
        changes["image_sizes"] = parse_image_sizes(args.image_sizes)
    return dataclasses.replace(CameraRange(), **changes)


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
    check_sensor(args.sensor)
    cfg = SynthConfig(gripper=args.gripper, seed=args.seed, num_datapoints=args.num_datapoints,
                      shard_size=args.shard_size, grasps_per_image=args.grasps_per_image,
                      scale_jitter=args.scale_jitter, jaw=jaw,
                      cup=SuctionCup(cup_radius=args.cup_radius), camera=camera_range(args),
                      sensor=args.sensor)
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

