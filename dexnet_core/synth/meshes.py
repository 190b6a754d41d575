"""Object meshes for synthesis: load, make one watertight body, stable poses, disk cache, object split.

Sources are the object families of ``dexnet_core.synth.families`` (pybullet's 1000 ``random_urdfs``
objects, the ``procedural`` everyday objects, the ``pybullet_everyday`` meshes) or any folder of ``.obj`` /
``.stl`` / ``.ply`` files (metres), alone or as a weighted mix. Each object is split into its connected parts,
every part is dilated ~1% about its centroid so touching parts overlap, and the parts are unioned with
manifold3d into a single watertight body. Stable resting poses come from trimesh (merged by resting direction
for round bodies, see ``stable_poses``). Processed objects are cached as ``.npz`` files so later runs load in
about a millisecond each; objects that cannot be processed are cached as a ``.skip`` file holding the
logged reason.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from dexnet_core.errors import DatasetError, MissingExtraError

logger = logging.getLogger(__name__)

MESH_VERSION = 3  # bump when processing changes so stale cache entries are rebuilt
MESH_SUFFIXES = (".obj", ".stl", ".ply")
RANDOM_URDFS = "random_urdfs"  # source name of pybullet_data/random_urdfs
MIN_VOLUME_M3 = 1e-7  # smaller bodies (0.1 cm^3) are skipped
SIZE_RANGE_M = (0.005, 1.0)  # bodies whose largest side is outside this range are skipped
ROUND_KEPT_PROB = 0.3  # kept poses holding less probability than this: merge poses by resting direction
ROUND_MERGE_DEG = 20.0  # resting directions this close count as one pose on a round body


def require_trimesh():
    """Import trimesh, or raise MissingExtraError naming the extra."""
    try:
        import trimesh
    except ImportError as exc:
        raise MissingExtraError("mesh synthesis needs trimesh: pip install dexnet-core[synth]") from exc
    return trimesh


@dataclass(frozen=True)
class MeshSource:
    """One object file to process: ``path`` scaled by ``scale`` (one factor or one per axis) gives metres."""

    object_id: int
    name: str
    path: Path
    scale: float | tuple[float, float, float]
    mass: float  # kg


@dataclass
class ObjectMesh:
    """A processed object: a watertight body in its own frame and its stable poses on a table.

    ``stable_poses`` (P, 4, 4) float64 maps the object frame to a table frame (z up, table at z = 0);
    ``pose_probs`` (P,) float64 their probabilities, most probable first. ``source``: the family name or
    folder it comes from; ``draw_weight``: its chance of being drawn relative to the other objects of the
    library (its family's mix weight shared among the family's objects).
    """

    object_id: int
    name: str
    mesh: object  # trimesh.Trimesh, metres, object frame
    stable_poses: np.ndarray
    pose_probs: np.ndarray
    mass: float  # kg
    source: str = RANDOM_URDFS
    draw_weight: float = 1.0


def draw_probabilities(objects: list[ObjectMesh]) -> np.ndarray | None:
    """(n,) chance of drawing each object (from their ``draw_weight``), or None when all are equal."""
    w = np.array([o.draw_weight for o in objects], dtype=np.float64)
    return None if np.all(w == w[0]) else w / w.sum()


def default_cache_dir() -> Path:
    """``$DEXNET_CACHE`` or ``~/.cache/dexnet_ros``."""
    return Path(os.environ.get("DEXNET_CACHE", Path.home() / ".cache" / "dexnet_ros"))


def random_urdfs_dir() -> Path:
    """Folder of pybullet's random_urdfs objects."""
    try:
        import pybullet_data
    except ImportError as exc:
        raise MissingExtraError("random_urdfs meshes need pybullet: pip install dexnet-core[synth]") from exc
    return Path(pybullet_data.getDataPath()) / "random_urdfs"


def _urdf_scale_mass(urdf: Path) -> tuple[float, float]:
    text = urdf.read_text()
    scale = re.search(r'<mesh[^>]*scale="([^"]+)"', text)
    mass = re.search(r'<mass\s+value="([^"]+)"', text)
    s = float(scale.group(1).split()[0]) if scale else 1.0
    return s, float(mass.group(1)) if mass else 0.1


def random_urdfs_sources() -> list[MeshSource]:
    """pybullet's random_urdfs objects (ids 0-999, scale and mass from each URDF)."""
    root = random_urdfs_dir()
    out = []
    for d in sorted(p for p in root.iterdir() if p.is_dir() and p.name.isdigit()):
        scale, mass = _urdf_scale_mass(d / f"{d.name}.urdf")
        out.append(MeshSource(int(d.name), d.name, d / f"{d.name}.obj", scale, mass))
    return out


def list_sources(source: str | Path = RANDOM_URDFS, default_mass: float = 0.1,
                 cache_dir: str | Path | None = None) -> list[MeshSource]:
    """Object files of one source: a family name (``dexnet_core.synth.families.FAMILIES``) or a folder of
    .obj/.stl/.ply files (sorted by name, ids from 0). ``cache_dir``: where generated families write files."""
    from dexnet_core.synth.families import FAMILIES, family_sources

    if str(source) in FAMILIES:
        return family_sources(str(source), cache_dir)
    root = Path(source).expanduser()
    if not root.is_dir():
        raise FileNotFoundError(f"mesh folder not found: {root}")
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in MESH_SUFFIXES)
    if not files:
        raise DatasetError(f"no {'/'.join(MESH_SUFFIXES)} files in {root}")
    return [MeshSource(i, str(p.relative_to(root)), p, 1.0, default_mass) for i, p in enumerate(files)]


def in_val_split(name: str, split_seed: int, val_fraction: float) -> bool:
    """Whether object ``name`` is held out; a hash of (seed, name), so it is stable for any subset."""
    h = hashlib.blake2b(f"{split_seed}:{name}".encode(), digest_size=8).digest()
    return int.from_bytes(h, "little") / 2**64 < val_fraction


def make_watertight(mesh, dilation: float = 0.01):
    """Union the connected parts of ``mesh`` (each dilated by ``dilation`` about its centroid).

    Returns a watertight trimesh.Trimesh; raises ValueError with the reason when that is impossible.
    """
    trimesh = require_trimesh()
    try:
        import manifold3d
    except ImportError as exc:
        raise MissingExtraError("mesh union needs manifold3d: pip install dexnet-core[synth]") from exc
    v = np.asarray(mesh.vertices, dtype=np.float64)
    if v.size == 0 or len(mesh.faces) == 0:
        raise ValueError("empty mesh")
    if not np.isfinite(v).all():
        raise ValueError(f"{int((~np.isfinite(v)).any(axis=1).sum())} non-finite vertices")
    parts = mesh.split(only_watertight=False)
    if not all(p.is_watertight for p in parts):  # e.g. STL: one vertex per triangle corner; OBJ: UV seams
        mesh = mesh.copy()
        mesh.merge_vertices(merge_tex=True, merge_norm=True)
        parts = mesh.split(only_watertight=False)
    body = None
    for part in parts:
        if len(part.faces) < 4:
            continue
        if not part.is_watertight:
            part = part.convex_hull
        c = part.vertices.mean(axis=0)
        pv = (c + (part.vertices - c) * (1.0 + dilation)).astype(np.float32)
        m = manifold3d.Manifold(manifold3d.Mesh(vert_properties=pv, tri_verts=part.faces.astype(np.uint32)))
        if m.is_empty():
            continue
        body = m if body is None else body + m
    if body is None or body.is_empty():
        raise ValueError("no closed part survives the union")
    out = body.to_mesh()
    result = trimesh.Trimesh(np.asarray(out.vert_properties)[:, :3].astype(np.float64),
                             np.asarray(out.tri_verts, dtype=np.int64), process=False)
    if not result.is_watertight or not result.volume > MIN_VOLUME_M3:
        raise ValueError(f"union is not a closed body of volume > {MIN_VOLUME_M3} m^3 "
                         f"(watertight {result.is_watertight}, volume {result.volume:.3g})")
    return result


def stable_poses(mesh, max_poses: int = 10, min_pose_prob: float = 0.01) -> tuple[np.ndarray, np.ndarray]:
    """(P, 4, 4) resting poses (object -> table frame), (P,) probabilities (sum 1), most probable first.

    trimesh gives one pose per face of the convex hull; those below ``min_pose_prob`` are dropped and at
    most ``max_poses`` kept. A round body (a ball, a lemon) spreads its probability over hundreds of
    nearly equal hull faces, each below the floor: when the kept poses would hold less than
    ROUND_KEPT_PROB of the probability, poses whose resting directions (the table normal in the object
    frame) lie within ROUND_MERGE_DEG of a more probable one are merged into it first (probabilities
    added). Other bodies keep exactly trimesh's poses.
    """
    trimesh = require_trimesh()
    poses, probs = trimesh.poses.compute_stable_poses(mesh, n_samples=1, seed=0)
    poses, probs = np.asarray(poses, dtype=np.float64), np.asarray(probs, dtype=np.float64)
    if probs[probs >= min_pose_prob][:max_poses].sum() < ROUND_KEPT_PROB * probs.sum():
        up = poses[:, 2, :3]  # table normal in the object frame
        cos = np.cos(np.radians(ROUND_MERGE_DEG))
        reps: list[int] = []
        merged: list[float] = []
        for i in np.argsort(-probs, kind="stable"):
            near = [k for k, r in enumerate(reps) if up[i] @ up[r] >= cos]
            if near:
                merged[near[0]] += probs[i]
            else:
                reps.append(int(i))
                merged.append(float(probs[i]))
        poses, probs = poses[reps], np.asarray(merged)
    keep = probs >= min_pose_prob
    poses, probs = poses[keep][:max_poses], probs[keep][:max_poses]
    if len(poses) == 0:
        raise ValueError("no stable pose")
    return poses, probs / probs.sum()


def process_object(src: MeshSource, max_poses: int = 10, min_pose_prob: float = 0.01) -> ObjectMesh:
    """Load, scale, make watertight and compute stable poses of one object (ValueError if broken)."""
    trimesh = require_trimesh()
    try:
        raw = trimesh.load(src.path, force="mesh", process=False)
    except Exception as exc:  # trimesh raises many types for unreadable files
        raise ValueError(f"cannot read {src.path}: {exc}") from exc
    raw.apply_scale(src.scale)
    mesh = make_watertight(raw)
    extent = float(mesh.extents.max())
    lo, hi = SIZE_RANGE_M
    if not lo < extent < hi:
        raise ValueError(f"size {extent:.3g} m outside ({lo}, {hi}) m")
    poses, probs = stable_poses(mesh, max_poses, min_pose_prob)
    return ObjectMesh(src.object_id, src.name, mesh, poses, probs, src.mass)


def _cache_stem(cache_dir: Path, src: MeshSource) -> Path:
    ident = f"{MESH_VERSION}:{src.path.resolve()}:{src.scale}"
    key = hashlib.blake2b(ident.encode(), digest_size=6).hexdigest()
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", src.name)
    return cache_dir / "meshes" / f"{safe}-{key}"


def load_object(src: MeshSource, cache_dir: Path | None = None) -> ObjectMesh | None:
    """Processed object from the cache (processing and caching it on a miss); None if it is broken."""
    trimesh = require_trimesh()
    stem = _cache_stem(Path(cache_dir) if cache_dir else default_cache_dir(), src)
    npz, skip = stem.with_suffix(".npz"), stem.with_suffix(".skip")
    if skip.exists():
        logger.info("skipping object %s (%s): %s", src.name, src.path, json.loads(skip.read_text())["reason"])
        return None
    if npz.exists():
        with np.load(npz) as z:
            mesh = trimesh.Trimesh(z["vertices"], z["faces"], process=False)
            return ObjectMesh(src.object_id, src.name, mesh, z["stable_poses"], z["pose_probs"], src.mass)
    stem.parent.mkdir(parents=True, exist_ok=True)
    tmp = stem.parent / f".{stem.name}.{os.getpid()}.tmp"
    try:
        obj = process_object(src)
    except ValueError as exc:
        logger.warning("skipping object %s (%s): %s", src.name, src.path, exc)
        tmp.write_text(json.dumps({"path": str(src.path), "reason": str(exc)}))
        os.replace(tmp, skip)
        return None
    with open(tmp, "wb") as f:
        np.savez(f, vertices=obj.mesh.vertices, faces=obj.mesh.faces, stable_poses=obj.stable_poses,
                 pose_probs=obj.pose_probs)
    os.replace(tmp, npz)
    return obj


def load_object_library(split: str = "train", source: str | Path = RANDOM_URDFS,
                        cache_dir: str | Path | None = None, val_fraction: float = 0.2, split_seed: int = 0,
                        max_objects: int | None = None, object_ids: list[int] | None = None,
                        progress: bool = False) -> list[ObjectMesh]:
    """Processed objects of ``split`` ("train", "val" or "all") of ``source``, by source then object id.

    ``source``: a family name, a folder or a weighted mix (``dexnet_core.synth.families.parse_mesh_spec``).
    The split is by object and fixed by ``split_seed`` within each family: object ``name`` is held out
    ("val") iff ``in_val_split(name, split_seed, val_fraction)``. ``max_objects`` keeps the first objects
    of each source's split; ``object_ids`` restricts to those ids. Broken meshes are skipped with one
    logged line each; a source with no usable object raises DatasetError.
    """
    from dexnet_core.synth.families import parse_mesh_spec

    if split not in ("train", "val", "all"):
        raise ValueError(f"split must be 'train', 'val' or 'all', got {split!r}")
    if not 0.0 <= val_fraction <= 1.0:
        raise ValueError(f"val_fraction must be in [0, 1], got {val_fraction}")
    mix = parse_mesh_spec(source)
    cache = Path(cache_dir) if cache_dir else None
    objects: list[ObjectMesh] = []
    for k, (name, weight) in enumerate(zip(mix.sources, mix.weights)):
        offset = mix.id_offset(k)
        sources = [s if not offset else replace(s, object_id=s.object_id + offset)
                   for s in list_sources(name, cache_dir=cache)]
        if split != "all":
            held_out = split == "val"
            sources = [s for s in sources if in_val_split(s.name, split_seed, val_fraction) == held_out]
        if object_ids is not None:
            wanted = set(object_ids)
            sources = [s for s in sources if s.object_id in wanted]
        if max_objects is not None:
            sources = sources[:max_objects]
        it = sources
        if progress:
            from tqdm import tqdm
            it = tqdm(sources, desc=f"meshes {name} ({split})", unit="obj")
        family = [o for o in (load_object(s, cache) for s in it) if o is not None]
        if not family:
            raise DatasetError(f"no usable object in split {split!r} of {name}")
        logger.info("loaded %d %s objects from %s (%d skipped)", len(family), split, name,
                    len(sources) - len(family))
        for o in family:
            o.source, o.draw_weight = name, weight / len(family)
        objects += family
    return objects
