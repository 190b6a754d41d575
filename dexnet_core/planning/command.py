"""`dexnet plan`: plan grasps on a depth image file and write the grasps (JSON) and an overlay (PNG).

Depth files: ``.npy`` (float metres, or integer millimetres) or ``.png`` (16-bit millimetres, 0 = missing).
Intrinsics: ``--intrinsics fx,fy,cx,cy`` or ``--camera-info file.yaml`` (a ROS camera_info YAML with
``camera_matrix`` / ``image_width`` / ``image_height``, or a CameraInfo message dump with ``k`` / ``width`` /
``height``).
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

import numpy as np

from dexnet_core.camera import CameraIntrinsics
from dexnet_core.errors import MissingExtraError, yaml_error_line
from dexnet_core.models.pretrained import DEFAULT_MODELS, check_gripper
from dexnet_core.planning.config import BACKENDS, PlannerConfig
from dexnet_core.planning.preprocess import depth_to_metres

logger = logging.getLogger(__name__)

NPY_MAGIC = b"\x93NUMPY"  # first bytes of every .npy file


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of `dexnet plan`."""
    parser.add_argument("depth", type=Path, help="depth image: .npy (m, or integer mm) or .png (16-bit mm)")
    cam = parser.add_mutually_exclusive_group(required=True)
    cam.add_argument("--intrinsics", help="fx,fy,cx,cy in pixels")
    cam.add_argument("--camera-info", type=Path, help="camera_info YAML file")
    parser.add_argument("--model", help="checkpoint path or shipped model name "
                        f"(default: {DEFAULT_MODELS['parallel_jaw']}, or {DEFAULT_MODELS['suction']} "
                        "with --gripper suction)")
    parser.add_argument("--gripper", choices=sorted(DEFAULT_MODELS),
                        help="gripper to plan for: picks the shipped default model when --model is not given "
                        "(default parallel_jaw); a model for another gripper is refused")
    parser.add_argument("--mask", type=Path, help="mask image (.npy or .png), nonzero = grasps allowed")
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
    parser.add_argument("--device", default="auto", help="torch device: auto, cpu, cuda")
    parser.add_argument("--backend", choices=BACKENDS, default=PlannerConfig.backend,
                        help="runs the network: torch, or onnxruntime (the exported ONNX graph)")


def run(args: argparse.Namespace) -> int:
    """Plan on one image; writes <out>/<stem>_grasps.json and <out>/<stem>_overlay.png."""
    from dexnet_core.planning.overlay import heatmap_overlay, save_png
    from dexnet_core.planning.planner import GraspPlanner

    depth = read_depth(args.depth)
    h, w = depth.shape
    if args.intrinsics:
        fx, fy, cx, cy = _floats(args.intrinsics, 4, "--intrinsics fx,fy,cx,cy")
        intrinsics = CameraIntrinsics(fx, fy, cx, cy, w, h)
    else:
        intrinsics = read_camera_info(args.camera_info)
    if (intrinsics.height, intrinsics.width) != (h, w):
        raise ValueError(f"camera info is {intrinsics.width}x{intrinsics.height} but {args.depth} is {w}x{h}")
    mask = read_mask(args.mask, depth.shape) if args.mask else None
    roi = tuple(int(v) for v in _floats(args.roi, 4, "--roi x,y,w,h")) if args.roi else None
    strides = {"stride": args.stride, "suction_stride": args.stride} if args.stride else {}
    config = PlannerConfig(top_k=args.top_k, num_angles=args.num_angles, roi=roi,
                           clearance_check=not args.no_clearance, jaw_symmetries=args.jaw_symmetries,
                           suction_symmetries=args.suction_symmetries, backend=args.backend, **strides)
    model = args.model or DEFAULT_MODELS[args.gripper or "parallel_jaw"]
    planner = GraspPlanner.from_checkpoint(model, config, device=args.device, bare_gripper=args.gripper)
    if args.gripper:
        check_gripper(model, planner.gqm.gripper, args.gripper)
    result = planner.plan(depth, intrinsics, mask=mask)

    args.out.mkdir(parents=True, exist_ok=True)
    stem = args.depth.stem
    json_path = args.out / f"{stem}_grasps.json"
    report = {
        "depth": str(args.depth), "model": model, "gripper": planner.gqm.gripper,
        "intrinsics": {k: getattr(intrinsics, k) for k in ("fx", "fy", "cx", "cy", "width", "height")},
        "grasps": [g.to_dict() for g in result.grasps], "timings_s": result.timings,
    }
    json_path.write_text(json.dumps(report, indent=2))
    png_path = save_png(args.out / f"{stem}_overlay.png",
                        heatmap_overlay(depth, result.heatmap, result.grasps, intrinsics))
    best = result.grasps[0]
    logger.info("%d grasps, best q=%.3f at (u, v)=(%.1f, %.1f), depth %.3f m; %.2f s; wrote %s, %s",
                len(result.grasps), best.q_value, *best.center_px, best.depth, result.timings["total"],
                json_path, png_path)
    return 0


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
