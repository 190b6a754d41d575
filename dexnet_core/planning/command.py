"""`dexnet plan`: plan grasps on a depth image file, a folder of them or a ROS 2 bag, and write the grasps
(JSON) and an overlay (PNG) per frame; folders and bags also get a summary (``summary.json``).

Depth files: ``.npy`` (float metres, or integer millimetres) or ``.png`` (16-bit millimetres, 0 = missing).
Intrinsics: ``--intrinsics fx,fy,cx,cy`` or ``--camera-info file.yaml`` (a ROS camera_info YAML with
``camera_matrix`` / ``image_width`` / ``image_height``, or a CameraInfo message dump with ``k`` / ``width`` /
``height``); a folder may hold ``camera_info.yaml`` instead. Folders and bags: see recordings.py.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

import numpy as np

from dexnet_core.camera import CameraIntrinsics
from dexnet_core.errors import MissingExtraError, yaml_error_line
from dexnet_core.models.pretrained import DEFAULT_MODELS, check_gripper
from dexnet_core.planning.config import BACKENDS, PlannerConfig
from dexnet_core.planning.preprocess import depth_to_metres
from dexnet_core.planning.recordings import MASK_SUFFIX

logger = logging.getLogger(__name__)

NPY_MAGIC = b"\x93NUMPY"  # first bytes of every .npy file
FOLDER_CAMERA_INFO = "camera_info.yaml"  # intrinsics of a frames folder, when no flag gives them


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of `dexnet plan`."""
    parser.add_argument("depth", type=Path, nargs="?",
                        help="depth image (.npy: m, or integer mm; .png: 16-bit mm) or a folder of them")
    cam = parser.add_mutually_exclusive_group()
    cam.add_argument("--intrinsics", help="fx,fy,cx,cy in pixels")
    cam.add_argument("--camera-info", type=Path, help="camera_info YAML file (a folder may hold "
                     f"{FOLDER_CAMERA_INFO} instead)")
    parser.add_argument("--bag", type=Path,
                        help="ROS 2 bag (directory, .mcap or .db3) to plan on, instead of DEPTH")
    parser.add_argument("--depth-topic", default="/camera/depth/image_rect_raw", help="bag: depth topic")
    parser.add_argument("--camera-info-topic", default="/camera/depth/camera_info",
                        help="bag: CameraInfo topic")
    parser.add_argument("--mask-topic", help="bag: optional mono8 mask topic (same stamps as the depth)")
    parser.add_argument("--model", help="checkpoint path or shipped model name "
                        f"(default: {DEFAULT_MODELS['parallel_jaw']}, or {DEFAULT_MODELS['suction']} "
                        "with --gripper suction)")
    parser.add_argument("--gripper", choices=sorted(DEFAULT_MODELS),
                        help="gripper to plan for: picks the shipped default model when --model is not given "
                        "(default parallel_jaw); a model for another gripper is refused")
    parser.add_argument("--mask", type=Path, help="mask image (.npy or .png), nonzero = grasps allowed; with "
                        f"a folder: a folder of masks named like the frames (default: <frame>{MASK_SUFFIX}.* "
                        "beside each frame)")
    parser.add_argument("--workspace", default=PlannerConfig.workspace,
                        help="automatic workspace: none, plane, box or plane,box (default "
                        f"{PlannerConfig.workspace})")
    parser.add_argument("--box", help="workspace box x_min,x_max,y_min,y_max,z_min,z_max (m, camera frame)")
    parser.add_argument("--max-filled-fraction", type=float, default=PlannerConfig.max_filled_fraction,
                        help="no grasp whose crop holds more filled-in depth than this")
    parser.add_argument("--out", type=Path, default=Path("."), help="output folder (default: .)")
    parser.add_argument("--top-k", type=int, default=PlannerConfig.top_k, help="grasps to return")
    parser.add_argument("--num-angles", type=int, default=PlannerConfig.num_angles, help="jaw angles tried")
    parser.add_argument("--stride", type=int, help="heatmap stride in network pixels (default: "
                        f"{PlannerConfig.stride} parallel jaw, {PlannerConfig.suction_stride} suction)")
    parser.add_argument("--jaw-symmetries", type=int, default=PlannerConfig.jaw_symmetries,
                        help="parallel jaw: average the quality over 1, 2 or 4 symmetries of the crops (the "
                        "180-degree turn, then the mirror images), that many times the network time")
    parser.add_argument("--suction-symmetries", type=int, default=PlannerConfig.suction_symmetries,
                        help="suction: the same over 1, 2, 4 or 8 turns / mirror images")
    parser.add_argument("--roi", help="x,y,w,h region for grasp centres, pixels")
    parser.add_argument("--no-clearance", action="store_true",
                        help="keep grasps whose gripper would hit the observed surface (no clearance check)")
    parser.add_argument("--no-jaw-centring", action="store_true",
                        help="parallel jaw: keep grasps on heatmap cell centres (no move to the middle of "
                        "what the fingers close on)")
    parser.add_argument("--device", default="auto", help="torch device: auto, cpu, cuda")
    parser.add_argument("--backend", choices=BACKENDS, default=PlannerConfig.backend,
                        help="runs the network: torch, or onnxruntime (the exported ONNX graph)")


def run(args: argparse.Namespace) -> int:
    """Plan on one image (writes <out>/<stem>_grasps.json and <out>/<stem>_overlay.png), or on every frame
    of a folder or bag (the same per frame, plus <out>/summary.json)."""
    from dexnet_core.planning.recordings import RecordedFrame, bag_frames, folder_frames

    if (args.depth is None) == (args.bag is None):
        raise ValueError("give either a depth image / folder (DEPTH) or --bag")
    roi = tuple(int(v) for v in _floats(args.roi, 4, "--roi x,y,w,h")) if args.roi else None
    box = tuple(_floats(args.box, 6, "--box x_min,x_max,y_min,y_max,z_min,z_max")) if args.box else None
    strides = {"stride": args.stride, "suction_stride": args.stride} if args.stride else {}
    config = PlannerConfig(top_k=args.top_k, num_angles=args.num_angles, roi=roi,
                           clearance_check=not args.no_clearance, jaw_centring=not args.no_jaw_centring,
                           jaw_symmetries=args.jaw_symmetries,
                           suction_symmetries=args.suction_symmetries, workspace=args.workspace,
                           workspace_box=box, max_filled_fraction=args.max_filled_fraction,
                           backend=args.backend, **strides)
    model = args.model or DEFAULT_MODELS[args.gripper or "parallel_jaw"]
    if args.bag is not None:
        frames = bag_frames(args.bag, args.depth_topic, args.camera_info_topic, args.mask_topic)
    elif args.depth.is_dir():
        frames = folder_frames(args.depth, _intrinsics(args, None), args.mask)
    else:
        depth = read_depth(args.depth)
        intrinsics = _intrinsics(args, depth.shape)
        if (intrinsics.height, intrinsics.width) != depth.shape:
            raise ValueError(f"camera info is {intrinsics.width}x{intrinsics.height} but {args.depth} is "
                             f"{depth.shape[1]}x{depth.shape[0]}")
        mask = read_mask(args.mask, depth.shape) if args.mask else None
        planner = _planner(model, config, args)
        report = _plan_frame(planner, RecordedFrame(args.depth.stem, depth, intrinsics, mask), args.out,
                             model, str(args.depth), single=True)
        best = report["grasps"][0]
        logger.info("%d grasps, best q=%.3f at (u, v)=(%.1f, %.1f), depth %.3f m; %.2f s; wrote %s",
                    len(report["grasps"]), best["q_value"], *best["center_px"], best["depth"],
                    report["timings_s"]["total"], args.out)
        return 0
    planner = _planner(model, config, args)
    source = str(args.bag or args.depth)
    reports = [_plan_frame(planner, frame, args.out, model, source) for frame in frames]
    summary = summarize(reports, source, model)
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2))
    on_mask = summary.get("best_on_mask_5px")
    logger.info("%d frames, %d with grasps, %.1f grasps per frame, best q p50 %s, plan p50 %.2f s%s; "
                "wrote %s",
                summary["frames"], summary["frames_with_grasps"], summary["grasps_per_frame"],
                summary["best_quality"].get("p50"), summary["latency_s"].get("p50", float("nan")),
                f", best grasp on the mask (5 px inside) {100 * on_mask:.0f}%" if on_mask is not None else "",
                args.out / "summary.json")
    return 0


def _planner(model: str, config: PlannerConfig, args: argparse.Namespace):
    """The planner of ``model``; with --gripper, a model made for the other gripper is refused."""
    from dexnet_core.planning.planner import GraspPlanner

    planner = GraspPlanner.from_checkpoint(model, config, device=args.device, bare_gripper=args.gripper)
    if args.gripper:
        check_gripper(model, planner.gqm.gripper, args.gripper)
    return planner


def _intrinsics(args: argparse.Namespace, shape: tuple[int, int] | None) -> CameraIntrinsics:
    """--intrinsics (with the image ``shape``, or the first frame of the folder's), --camera-info, or the
    folder's camera_info.yaml."""
    if args.intrinsics:
        fx, fy, cx, cy = _floats(args.intrinsics, 4, "--intrinsics fx,fy,cx,cy")
        if shape is None:
            from dexnet_core.planning.recordings import folder_first_shape

            shape = folder_first_shape(args.depth)
        return CameraIntrinsics(fx, fy, cx, cy, shape[1], shape[0])
    if args.camera_info:
        return read_camera_info(args.camera_info)
    if shape is None and (args.depth / FOLDER_CAMERA_INFO).is_file():
        return read_camera_info(args.depth / FOLDER_CAMERA_INFO)
    raise ValueError("give --intrinsics or --camera-info" + (f" (or put {FOLDER_CAMERA_INFO} in the folder)"
                                                             if shape is None else ""))


def _plan_frame(planner, frame, out: Path, model: str, source: str, single: bool = False) -> dict:
    """Plan one RecordedFrame; write its grasps JSON and overlay PNG; return the JSON report. A frame with
    no valid grasp gets an empty list and the reason (raised instead when ``single``)."""
    from dexnet_core.errors import NoValidGraspError
    from dexnet_core.planning.overlay import heatmap_overlay, save_png

    start = time.perf_counter()
    try:
        result = planner.plan(frame.depth, frame.intrinsics, mask=frame.mask)
        grasps, heatmap, timings, reason = result.grasps, result.heatmap, result.timings, None
        fallback = result.workspace.fallback
    except NoValidGraspError as exc:
        if single:
            raise
        grasps, heatmap, reason = [], np.zeros(frame.depth.shape, np.float32), str(exc)
        timings, fallback = {"total": time.perf_counter() - start}, None
    if fallback:
        logger.warning("%s: %s; planning without the plane", frame.name, fallback)
    intr = frame.intrinsics
    report = {
        "depth": source if single else f"{source}:{frame.name}", "model": model,
        "gripper": planner.gqm.gripper,
        "intrinsics": {k: getattr(intr, k) for k in ("fx", "fy", "cx", "cy", "width", "height")},
        "grasps": [g.to_dict() for g in grasps], "timings_s": timings,
    }
    if reason:
        report["no_grasp"] = reason
    if fallback:
        report["workspace_fallback"] = fallback
    if frame.mask is not None and not single:
        report["best_on_mask_5px"] = bool(grasps) and _inside(frame.mask, *grasps[0].center_px, margin=5)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{frame.name}_grasps.json").write_text(json.dumps(report, indent=2))
    save_png(out / f"{frame.name}_overlay.png", heatmap_overlay(frame.depth, heatmap, grasps, intr))
    return report


def _inside(mask: np.ndarray, u: float, v: float, margin: int) -> bool:
    """Whether pixel (u, v) lies ``margin`` px inside ``mask``: the (2 margin + 1) square around it is all
    on the mask, inside the image."""
    pu, pv = int(round(u)), int(round(v))
    h, w = mask.shape
    if pu < margin or pv < margin or pu >= w - margin or pv >= h - margin:
        return False
    return bool(mask[pv - margin : pv + margin + 1, pu - margin : pu + margin + 1].all())


def summarize(reports: list[dict], source: str, model: str) -> dict:
    """Summary of a folder or bag run: grasps per frame, quality of the best grasps, planning latency, and
    with masks the share of frames whose best grasp lies 5 px inside the mask."""
    counts = [len(r["grasps"]) for r in reports]
    best = [r["grasps"][0]["q_value"] for r in reports if r["grasps"]]
    total = [r["timings_s"]["total"] for r in reports if r["grasps"]]
    masked = [r["best_on_mask_5px"] for r in reports if "best_on_mask_5px" in r]

    def spread(values: list[float]) -> dict:
        if not values:
            return {}
        p = np.percentile(values, [10, 50, 90])
        return {"mean": float(np.mean(values)), "p10": float(p[0]), "p50": float(p[1]), "p90": float(p[2]),
                "min": float(np.min(values)), "max": float(np.max(values))}

    summary = {
        "source": source, "model": model, "frames": len(reports), "frames_with_grasps": len(best),
        "grasps_per_frame": float(np.mean(counts)) if counts else 0.0, "best_quality": spread(best),
        "all_quality": spread([g["q_value"] for r in reports for g in r["grasps"]]),
        "latency_s": spread(total), "workspace_fallbacks": sum("workspace_fallback" in r for r in reports),
    }
    if masked:
        summary["frames_with_mask"] = len(masked)
        summary["best_on_mask_5px"] = float(np.mean(masked))
    return summary


def read_depth(path: Path) -> np.ndarray:
    """(H, W) float32 metres (NaN = missing) from a .npy (float m / integer mm) or 16-bit .png (mm)."""
    raw = _read_image(path)
    if raw.dtype.kind == "f":
        return depth_to_metres(raw, "64FC1" if raw.dtype == np.float64 else "32FC1")
    if raw.dtype.kind in "ui":
        return depth_to_metres(raw.astype(np.uint16) if raw.max(initial=0) < 65536 else raw, "16UC1")
    raise ValueError(f"{path}: unsupported depth dtype {raw.dtype}")


def read_mask(path: Path, shape: tuple[int, int]) -> np.ndarray:
    """(H, W) bool mask (nonzero = allowed) from .npy or .png; shape must match the depth image."""
    mask = _read_image(path)
    if mask.ndim == 3:
        mask = mask.max(axis=2)
    if mask.shape != shape:
        raise ValueError(f"{path}: mask is {mask.shape[::-1]} but the depth image is {shape[::-1]} (w x h)")
    return mask != 0


def read_camera_info(path: Path) -> CameraIntrinsics:
    """Intrinsics from a ROS camera_info YAML (calibration file or CameraInfo message dump)."""
    import yaml

    try:
        data = yaml.safe_load(Path(path).read_text())
    except OSError as exc:
        raise ValueError(f"{path}: cannot read camera info ({exc.strerror})") from exc
    except yaml.YAMLError as exc:
        raise ValueError(f"{path}: camera info is not valid YAML ({yaml_error_line(exc)})") from exc
    if not isinstance(data, dict):
        raise ValueError(f"{path}: camera info must be a YAML mapping")
    try:
        if "camera_matrix" in data:
            k, w, h = data["camera_matrix"]["data"], data["image_width"], data["image_height"]
        else:
            k, w, h = data.get("k", data.get("K")), data["width"], data["height"]
        return CameraIntrinsics.from_k(np.asarray(k, dtype=np.float64), int(w), int(h))
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"{path}: camera info needs camera_matrix/image_width/image_height or "
                         f"k/width/height ({type(exc).__name__}: {exc})") from exc


def _read_image(path: Path) -> np.ndarray:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix == ".npy":
        with path.open("rb") as f:
            if f.read(len(NPY_MAGIC)) != NPY_MAGIC:
                raise ValueError(f"{path}: not a .npy file (no NumPy header; save arrays with numpy.save)")
        try:
            return np.load(path, allow_pickle=False)
        except ValueError as exc:  # an array of Python objects, a bad header or missing data
            text = str(exc)
            what = ("holds Python objects" if "pickle" in text else
                    "is truncated" if "all data" in text else "has a corrupt header")
            raise ValueError(f"{path}: .npy file {what}; expected a numeric array") from exc
    if suffix == ".png":
        try:
            import cv2
        except ImportError as exc:
            raise MissingExtraError("reading .png needs OpenCV: pip install dexnet-core[synth]") from exc
        img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        if img is None:
            raise ValueError(f"{path}: not a readable PNG image")
        return img
    raise ValueError(f"{path}: unsupported file type {suffix!r}; expected .npy or .png")


def _floats(text: str, n: int, what: str) -> list[float]:
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        values = []
    if len(values) != n:
        raise ValueError(f"{what} expects {n} comma-separated numbers, got {text!r}")
    return values
