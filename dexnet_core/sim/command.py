"""`dexnet sim`: closed-loop bin-clearing benchmark of the planner against baselines in pybullet.

Episode i uses seed ``--seed + i``; every policy starts that episode from the same tray, and episodes are
deterministic, so ``--resume`` can add policies or seeds to an earlier run. Writes ``results.json`` (every
attempt), ``report.json`` / ``report.md`` (summary tables, success by object mass and, for the parallel jaw,
by whether the object's middle side fits the opening, per-object results; rewritten after each seed, so a
long run can be read while it goes) and ``episode_<seed>_<policy>.png`` for the first ``--png-episodes``
episodes.
"""

from __future__ import annotations

import argparse
import json
import logging
import shlex
import sys
import time
from pathlib import Path

from dexnet_core.models.pretrained import DEFAULT_MODELS
from dexnet_core.sim.policies import POLICIES
from dexnet_core.synth.families import FAMILIES, MIX_EXAMPLE, RANDOM_URDFS

logger = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of `dexnet sim`."""
    parser.add_argument("--episodes", type=int, default=10, help="episodes per policy (default 10)")
    parser.add_argument("--objects", type=int, default=5, help="objects in the tray per episode (default 5)")
    parser.add_argument("--gripper", choices=sorted(DEFAULT_MODELS), default="parallel_jaw")
    parser.add_argument("--seed", type=int, default=0, help="seed of the first episode (default 0)")
    parser.add_argument("--policies", default=",".join(POLICIES),
                        help=f"comma-separated subset of {','.join(POLICIES)} (default all)")
    parser.add_argument("--model", default=None,
                        help="planner checkpoint path or shipped name (default by gripper: "
                             + ", ".join(f"{k}: {v}" for k, v in DEFAULT_MODELS.items()) + ")")
    parser.add_argument("--out", type=Path, default=Path("sim_out"), help="output folder (default sim_out)")
    parser.add_argument("--max-failures", type=int, default=3,
                        help="consecutive failures that end an episode (default 3)")
    parser.add_argument("--meshes", default=RANDOM_URDFS,
                        help=f"object family ({', '.join(FAMILIES)}), a folder of .obj/.stl/.ply files in "
                        f"metres, or a weighted mix such as {MIX_EXAMPLE} (default {RANDOM_URDFS})")
    parser.add_argument("--split", default="val", help="object split of the mesh library (default val)")
    parser.add_argument("--library-size", type=int, default=None,
                        help="use only the first N objects of each source's split (default all)")
    parser.add_argument("--png-episodes", type=int, default=3,
                        help="episodes to save images of (default 3)")
    parser.add_argument("--robot-cycle-s", type=float, default=6.0,
                        help="robot motion time per attempt for picks/hour (default 6 s)")
    parser.add_argument("--sensor", default="gaussian",
                        help="depth sensor model of the rendered frames: ideal (no noise), gaussian, "
                             "primesense, realsense, structured_light, or mix / a comma-separated list "
                             "(one per episode, the same for every policy; default gaussian)")
    parser.add_argument("--fixtures", type=int, default=0,
                        help="robot-like fixtures (cylinders, boxes) standing along one image border outside "
                             "the tray, 0-6 per episode (default 0)")
    parser.add_argument("--camera-tilt", type=float, default=0.0, metavar="MAX_DEG",
                        help="camera tilt from vertical per episode, uniform in [0, MAX_DEG] with a random "
                             "azimuth, at most 30 (default 0: overhead)")
    parser.add_argument("--placement-error-m", type=float, default=0.0, metavar="SIGMA",
                        help="the gripper lands off the planned grasp by a normal draw of this std (m) per "
                             "horizontal axis, per attempt (hand-eye calibration, robot repeatability; at "
                             "most 0.05; default 0: exactly on it)")
    parser.add_argument("--device", default="cpu", help="planner device: cpu, cuda, auto (default cpu)")
    parser.add_argument("--jaw-symmetries", type=int, default=1,
                        help="parallel-jaw planner: average the quality over 1, 2 or 4 symmetries of the "
                        "crops (default 1)")
    parser.add_argument("--suction-symmetries", type=int, default=1,
                        help="suction planner: the same over 1, 2, 4 or 8 turns / mirror images (default 1)")
    parser.add_argument("--stride", type=int, default=None,
                        help="parallel-jaw planner: heatmap stride in network pixels (default: the "
                        "planner's, 2; 4 scores a quarter of the cells at about half the planning time)")
    parser.add_argument("--num-angles", type=int, default=None,
                        help="parallel-jaw planner: jaw-axis angles tried (default: the planner's, 32)")
    parser.add_argument("--workspace", default=None,
                        help="planner's automatic workspace: none, plane, box, plane,box (default: the "
                        "planner's default)")
    parser.add_argument("--no-object-mask", action="store_true",
                        help="the planner plans on the raw frame, without the object mask (the baselines "
                        "keep it)")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    parser.add_argument("--resume", action="store_true",
                        help="keep the episodes already in OUT/results.json (same setup) and run the rest")


def run(args: argparse.Namespace) -> int:
    """Run the benchmark; returns 0."""
    import torch
    from tqdm import tqdm

    from dexnet_core.planning.config import PlannerConfig
    from dexnet_core.planning.overlay import save_png
    from dexnet_core.sim.episode import EpisodeConfig, check_placement_error, run_episode
    from dexnet_core.sim.grippers import ParallelJawConfig
    from dexnet_core.sim.policies import make_policy
    from dexnet_core.sim.report import episode_image, object_classes, report_markdown, summarize
    from dexnet_core.synth.command import check_sensor, check_tilt
    from dexnet_core.synth.families import parse_mesh_spec
    from dexnet_core.synth.meshes import load_object_library

    if args.episodes < 1:
        raise ValueError(f"--episodes must be >= 1, got {args.episodes}")
    if args.threads < 1:
        raise ValueError(f"--threads must be >= 1, got {args.threads}")
    names = [p.strip() for p in args.policies.split(",") if p.strip()]
    if not names or any(p not in POLICIES for p in names):
        raise ValueError(f"--policies must name some of {list(POLICIES)}, got {args.policies!r}")
    parse_mesh_spec(args.meshes)  # a bad spec fails before any model is loaded
    check_sensor(args.sensor)
    check_tilt(args.camera_tilt)
    if not 0 <= args.fixtures <= 6:
        raise ValueError(f"--fixtures must be in [0, 6], got {args.fixtures}")
    check_placement_error(args.placement_error_m, "--placement-error-m")
    torch.set_num_threads(args.threads)
    config = EpisodeConfig(num_objects=args.objects, max_consecutive_failures=args.max_failures,
                           sensor=args.sensor, camera_tilt_deg=args.camera_tilt, fixtures=args.fixtures,
                           placement_error_m=args.placement_error_m, split=args.split)
    model = args.model or DEFAULT_MODELS[args.gripper]
    chosen = {k: v for k, v in (("workspace", args.workspace), ("stride", args.stride),
                                ("num_angles", args.num_angles)) if v is not None}
    planner_config = PlannerConfig(jaw_symmetries=args.jaw_symmetries,
                                   suction_symmetries=args.suction_symmetries, **chosen)
    policies = [make_policy(n, args.gripper, model=model, planner_config=planner_config, device=args.device,
                            object_mask=not args.no_object_mask) for n in names]
    setup = {"gripper": args.gripper, "objects": args.objects, "max_failures": args.max_failures,
             "meshes": args.meshes, "split": args.split, "library_size": args.library_size,
             "sensor": args.sensor, "camera_tilt": args.camera_tilt, "fixtures": args.fixtures,
             "placement_error_m": args.placement_error_m,
             "model": model if "planner" in names else None, "jaw_symmetries": args.jaw_symmetries,
             "suction_symmetries": args.suction_symmetries, "workspace": planner_config.workspace,
             "stride": planner_config.stride, "num_angles": planner_config.num_angles,
             "object_mask": not args.no_object_mask}
    args.out.mkdir(parents=True, exist_ok=True)
    done = _load_previous(args.out / "results.json", setup) if args.resume else {}
    seeds = range(args.seed, args.seed + args.episodes)
    todo = [(seed, p) for seed in seeds for p in policies if (seed, p.name) not in done]
    objects = load_object_library(args.split, source=args.meshes, max_objects=args.library_size,
                                  progress=True)
    opening = ParallelJawConfig().max_opening if args.gripper == "parallel_jaw" else None
    classes = object_classes(objects, opening)
    command = "dexnet " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    start = time.perf_counter()
    results = dict(done)
    with tqdm(total=len(todo), desc=f"sim {args.gripper}", unit="episode") as bar:
        for n, (seed, policy) in enumerate(todo):
            keep = 8 if seed < args.seed + args.png_episodes else 0
            result = run_episode(policy, objects, seed, config, keep_frames=keep)
            results[(seed, policy.name)] = result
            if result.frames:
                save_png(args.out / f"episode_{seed}_{policy.name}.png",
                         episode_image(result, config.intrinsics))
            bar.update(1)
            if n + 1 == len(todo) or todo[n + 1][0] != seed:  # after each seed
                ordered = _ordered(results, seeds, names)
                summaries = summarize(ordered, args.robot_cycle_s, classes)
                bar.set_postfix({s.policy: f"{100 * s.success_rate:.0f}%" for s in summaries})
                _write(args.out, ordered, summaries, setup, command, time.perf_counter() - start)
    ordered = _ordered(results, seeds, names)
    summaries = summarize(ordered, args.robot_cycle_s, classes)
    _write(args.out, ordered, summaries, setup, command, time.perf_counter() - start)
    sys.stdout.write(report_markdown(summaries, command))
    logger.info("wrote %s", args.out / "report.md")
    return 0


def _ordered(results: dict, seeds: range, names: list[str]) -> list:
    """Episodes of the requested seeds and policies, by seed then policy order."""
    return [results[(s, n)] for s in seeds for n in names if (s, n) in results]


def _load_previous(path: Path, setup: dict) -> dict:
    """(seed, policy) -> EpisodeResult from an earlier run's results.json with the same setup."""
    from dexnet_core.errors import DexnetError
    from dexnet_core.sim.episode import EpisodeResult

    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text())
        previous, episodes = data["setup"], data["episodes"]
        for key in ("jaw_symmetries", "suction_symmetries"):
            previous.setdefault(key, 1)  # written before the option existed
        previous.setdefault("meshes", RANDOM_URDFS)
        if "sensor" not in previous:  # written before the sensor models: noise on = today's 'gaussian'
            previous["sensor"] = "gaussian" if previous.pop("noise", True) else "ideal"
        previous.setdefault("camera_tilt", 0.0)
        previous.setdefault("fixtures", 0)
        previous.setdefault("placement_error_m", 0.0)
        previous.setdefault("workspace", "none")
        previous.setdefault("object_mask", True)
        previous.setdefault("stride", 4)
        previous.setdefault("num_angles", 16)
    except (ValueError, KeyError, TypeError) as exc:
        raise DexnetError(f"cannot resume from {path}: {exc}") from exc
    differ = {k: (previous.get(k), v) for k, v in setup.items()
              if previous.get(k) != v and not (k == "model" and None in (previous.get(k), v))}
    if differ:
        raise ValueError(f"cannot resume from {path}: setup differs (previous, now): {differ}")
    out = {}
    for e in episodes:
        r = EpisodeResult.from_dict(e)
        out[(r.seed, r.policy)] = r
    logger.info("resuming: %d episodes already in %s", len(out), path)
    return out


def _write(out: Path, results: list, summaries: list, setup: dict, command: str, elapsed_s: float) -> None:
    from dexnet_core.sim.report import report_markdown

    (out / "results.json").write_text(json.dumps({"setup": setup, "episodes": [r.to_dict() for r in results]},
                                                 indent=1))
    (out / "report.json").write_text(json.dumps({"command": command, "setup": setup, "elapsed_s": elapsed_s,
                                                 "policies": [s.to_dict() for s in summaries]}, indent=1))
    head = f"Setup: {json.dumps(setup)}\n\n"
    (out / "report.md").write_text(head + report_markdown(summaries, command))
