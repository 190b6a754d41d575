"""Procedural everyday objects: boxes, cans, bottles, mugs, tubes, brackets, balls, tools, ...

Object ``i`` of the family is of kind ``KINDS[i % len(KINDS)]`` and is built from ``default_rng([seed, i])``
only, so it is the same on every machine. Each object is a set of overlapping convex parts (boxes, frusta,
wall segments, handle pieces) in metres with its largest side in [MIN_SIZE_M, MAX_SIZE_M], and a mass from
an effective density drawn log-uniformly for its kind (the everyday item's mass over its closed volume:
empty cartons and hollow balls to aluminium parts), clipped to MASS_RANGE_KG, the payload the shipped
grippers are rated for (half of what the 10 N suction cup lifts straight up). The parts are
written once as a PLY file into the mesh cache; ``dexnet_core.synth.meshes`` then processes the file like
any other source (union into one watertight body, stable poses, cache), and the simulator collides the
convex parts.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from dexnet_core.synth.meshes import MeshSource, default_cache_dir, require_trimesh

PROCEDURAL = "procedural"
PROCEDURAL_VERSION = 1  # bump when any builder changes so cached part files are rebuilt
MASS_MODEL_VERSION = 2  # bump when the densities or MASS_RANGE_KG change (names the cached index of masses)
PROCEDURAL_COUNT = 1500  # objects in the family (100 per kind)
PROCEDURAL_ID_BASE = 100_000  # object ids are PROCEDURAL_ID_BASE + index
MIN_SIZE_M, MAX_SIZE_M = 0.02, 0.25  # largest side of every object
MASS_RANGE_KG = (0.005, 0.5)

Part = tuple[object, float]  # (convex trimesh.Trimesh in metres, density kg/m^3)


def _hull(points: np.ndarray):
    """Convex hull mesh of (n, 3) points (manifold3d's hull: closed even for nearly coplanar points)."""
    import manifold3d

    m = manifold3d.Manifold.hull_points(np.asarray(points, dtype=np.float64)).to_mesh()
    return require_trimesh().Trimesh(np.asarray(m.vert_properties, dtype=np.float64)[:, :3],
                                     np.asarray(m.tri_verts, dtype=np.int64), process=False)


def _circle(r: float, z: float, n: int = 24) -> np.ndarray:
    a = np.linspace(0, 2 * np.pi, n, endpoint=False)
    return np.stack([r * np.cos(a), r * np.sin(a), np.full(n, z)], axis=1)


def _lathe(profile: list[tuple[float, float]]) -> list:
    """Stacked frusta through (radius, z) profile points, bottom to top: a solid of revolution (a step in
    radius at one height joins the frusta below and above it)."""
    return [_hull(np.concatenate([_circle(r0, z0), _circle(r1, z1)]))
            for (r0, z0), (r1, z1) in zip(profile[:-1], profile[1:]) if z1 > z0]


def _wall(r_in: float, r_out: float, z0: float, z1: float, n: int = 16, arc: float = 2 * np.pi) -> list:
    """A tube wall (or an arc of it from angle 0) as ``n`` convex segments."""
    a = np.linspace(0, arc, n + 1)
    segs = []
    for a0, a1 in zip(a[:-1], a[1:]):
        ring = [(r * np.cos(t), r * np.sin(t)) for r in (r_in, r_out) for t in (a0, a1)]
        segs.append(_hull([(x, y, z) for x, y in ring for z in (z0, z1)]))
    return segs


def _rod(p: np.ndarray, q: np.ndarray, r: float) -> object:
    """A cylinder of radius ``r`` from point p to q."""
    seg = np.array([p, q], dtype=np.float64)
    return require_trimesh().creation.cylinder(radius=r, segment=seg, sections=12)


def _arc_rods(center: np.ndarray, u: np.ndarray, v: np.ndarray, radius: float, a0: float, a1: float,
              r: float, n: int = 6) -> list:
    """``n`` rods along the circular arc centre + radius (cos a u + sin a v), a in [a0, a1]."""
    a = np.linspace(a0, a1, n + 1)
    pts = [center + radius * (np.cos(t) * u + np.sin(t) * v) for t in a]
    return [_rod(p, q, r) for p, q in zip(pts[:-1], pts[1:])]


def _box(extents, center=(0.0, 0.0, 0.0)) -> object:
    b = require_trimesh().creation.box(extents=np.asarray(extents, dtype=np.float64))
    b.apply_translation(center)
    return b


def _loguniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(np.exp(rng.uniform(np.log(lo), np.log(hi))))


def _with(parts: list, rng: np.random.Generator, density: tuple[float, float]) -> list[Part]:
    d = _loguniform(rng, *density)
    return [(p, d) for p in parts]


def box(rng: np.random.Generator) -> list[Part]:
    """Packages and blocks: cereal boxes, cartons, wooden blocks."""
    return _with([_box([_loguniform(rng, 0.025, 0.22) for _ in range(3)])], rng, (50, 300))


def slab(rng: np.random.Generator) -> list[Part]:
    """Thin slabs: books, boards, plates, phones."""
    ext = [rng.uniform(0.05, 0.24), rng.uniform(0.04, 0.18), rng.uniform(0.006, 0.025)]
    return _with([_box(ext)], rng, (300, 1200))


def cylinder(rng: np.random.Generator) -> list[Part]:
    """Solid cylinders: dowels, candles, rolls, pucks."""
    r, h = _loguniform(rng, 0.008, 0.06), _loguniform(rng, 0.015, 0.22)
    return _with(_lathe([(r, 0.0), (r, h)]), rng, (200, 900))


def can(rng: np.random.Generator) -> list[Part]:
    """Cans with bevelled ends."""
    r, h, b = rng.uniform(0.025, 0.05), rng.uniform(0.05, 0.16), rng.uniform(0.003, 0.008)
    return _with([_hull(np.concatenate([_circle(0.88 * r, 0), _circle(r, b), _circle(r, h - b),
                                        _circle(0.88 * r, h)]))], rng, (100, 900))


def bottle(rng: np.random.Generator) -> list[Part]:
    """Bottles: a body, a shoulder, a neck and a cap (lathe profile)."""
    r, rn = rng.uniform(0.022, 0.05), rng.uniform(0.009, 0.016)
    hb, hs, hn = rng.uniform(0.07, 0.16), rng.uniform(0.02, 0.05), rng.uniform(0.015, 0.04)
    prof = [(0.92 * r, 0.0), (r, 0.006), (r, hb), (0.5 * (r + rn), hb + 0.6 * hs), (rn, hb + hs),
            (rn, hb + hs + hn), (rn * 1.15, hb + hs + hn), (rn * 1.15, hb + hs + hn + 0.012)]
    return _with(_lathe(prof), rng, (50, 600))


def jar(rng: np.random.Generator) -> list[Part]:
    """Jars: a wide body, a short shoulder and a lid."""
    r, h = rng.uniform(0.03, 0.06), rng.uniform(0.05, 0.14)
    lid, lh = rng.uniform(0.75, 0.95) * r, rng.uniform(0.01, 0.025)
    prof = [(0.95 * r, 0.0), (r, 0.005), (r, h), (lid, h + 0.01), (lid, h + 0.01 + lh)]
    return _with(_lathe(prof), rng, (150, 800))


def _c_handle(rng: np.random.Generator, r_body: float, z0: float, z1: float) -> list:
    """A C-shaped side handle on the +x side of a body of radius ``r_body`` between heights z0 and z1."""
    rad = (z1 - z0) / 2
    reach = rng.uniform(0.6, 1.0) * rad
    c = np.array([r_body - 0.2 * rad, 0.0, (z0 + z1) / 2])
    ex, ez = np.array([reach / rad, 0.0, 0.0]), np.array([0.0, 0.0, 1.0])
    return _arc_rods(c, ex, ez, rad, -np.pi / 2, np.pi / 2, rng.uniform(0.004, 0.008))


def mug(rng: np.random.Generator) -> list[Part]:
    """Mugs and cups: an open hollow wall on a base, usually with a side handle."""
    r, h, t = rng.uniform(0.03, 0.05), rng.uniform(0.06, 0.11), rng.uniform(0.003, 0.007)
    parts = _wall(r - t, r, 0.0, h) + _lathe([(r - 0.5 * t, 0.0), (r - 0.5 * t, rng.uniform(0.006, 0.012))])
    if rng.uniform() < 0.85:
        parts += _c_handle(rng, r, 0.2 * h, 0.85 * h)
    return _with(parts, rng, (1800, 2400))


def handled(rng: np.random.Generator) -> list[Part]:
    """Objects with handles: jugs (side handle) and baskets or bags (arched top handle)."""
    if rng.uniform() < 0.5:
        r, h = rng.uniform(0.035, 0.06), rng.uniform(0.08, 0.16)
        parts = _lathe([(0.95 * r, 0.0), (r, 0.005), (r, h), (0.8 * r, h + 0.015)])
        parts += _c_handle(rng, r, 0.25 * h, 0.9 * h)
        return _with(parts, rng, (100, 600))
    lx, ly, lz = rng.uniform(0.08, 0.2), rng.uniform(0.05, 0.12), rng.uniform(0.04, 0.12)
    span = rng.uniform(0.5, 0.9) * lx / 2
    arch = _arc_rods(np.array([0.0, 0.0, lz]), np.array([1.0, 0, 0]), np.array([0, 0, 1.0]), span,
                     0.0, np.pi, rng.uniform(0.004, 0.008), n=8)
    return _with([_box([lx, ly, lz], (0, 0, lz / 2))] + arch, rng, (100, 500))


def tube(rng: np.random.Generator) -> list[Part]:
    """Tubes and pipes: a hollow cylinder."""
    r, length = rng.uniform(0.01, 0.045), rng.uniform(0.05, 0.24)
    t = rng.uniform(0.12, 0.3) * r
    return _with(_wall(r - t, r, 0.0, length, n=12), rng, (900, 2700))


def ring(rng: np.random.Generator) -> list[Part]:
    """Rings: washers and tape rolls (flat annulus) or O-rings and handles (a bent rod closed on itself)."""
    r = rng.uniform(0.02, 0.08)
    if rng.uniform() < 0.5:
        t, h = rng.uniform(0.15, 0.5) * r, rng.uniform(0.005, 0.03)
        return _with(_wall(r - t, r, 0.0, h, n=16), rng, (900, 2700))
    rod = rng.uniform(0.1, 0.25) * r
    return _with(_arc_rods(np.zeros(3), np.array([1.0, 0, 0]), np.array([0, 1.0, 0]), r, 0, 2 * np.pi, rod,
                           n=16), rng, (900, 1500))


def bracket(rng: np.random.Generator) -> list[Part]:
    """Brackets: L, T and U profiles extruded along y."""
    t, w = rng.uniform(0.003, 0.012), rng.uniform(0.02, 0.1)
    a, b = rng.uniform(0.03, 0.15), rng.uniform(0.03, 0.12)
    shape = rng.choice(["L", "T", "U"])
    parts = [_box([a, w, t], (a / 2, 0, t / 2))]  # base flange along x
    if shape == "L":
        parts.append(_box([t, w, b], (t / 2, 0, b / 2)))
    elif shape == "T":
        parts.append(_box([t, w, b], (a / 2, 0, b / 2)))
    else:
        parts += [_box([t, w, b], (t / 2, 0, b / 2)), _box([t, w, b], (a - t / 2, 0, b / 2))]
    return _with(parts, rng, (900, 2700))


def sphere(rng: np.random.Generator) -> list[Part]:
    """Balls and round fruit."""
    s = require_trimesh().creation.icosphere(subdivisions=2, radius=rng.uniform(0.015, 0.12))
    return _with([s], rng, (30, 900))


def ellipsoid(rng: np.random.Generator) -> list[Part]:
    """Eggs, lemons, potatoes, pebbles."""
    s = require_trimesh().creation.icosphere(subdivisions=2, radius=1.0)
    s.apply_scale(np.sort([rng.uniform(0.012, 0.1) for _ in range(3)]))
    return _with([s], rng, (150, 900))


def superquadric(rng: np.random.Generator) -> list[Part]:
    """Rounded boxes and cylinders between box, ellipsoid and octahedron (convex: exponents in [0.2, 1.8])."""
    e1, e2 = rng.uniform(0.2, 1.8, 2)
    ax = [rng.uniform(0.012, 0.1) for _ in range(3)]
    eta, om = np.meshgrid(np.linspace(-np.pi / 2, np.pi / 2, 17),
                          np.linspace(-np.pi, np.pi, 32, endpoint=False))

    def f(x, e):
        return np.sign(x) * np.abs(x) ** e

    ce = f(np.cos(eta), e1)
    pts = np.stack([ax[0] * ce * f(np.cos(om), e2), ax[1] * ce * f(np.sin(om), e2),
                    ax[2] * f(np.sin(eta), e1)], axis=-1).reshape(-1, 3)
    return _with([_hull(pts)], rng, (100, 700))


def tool(rng: np.random.Generator) -> list[Part]:
    """Tool-like shapes: a handle with a head (hammer, screwdriver, spatula, wrench)."""
    rh, lh = rng.uniform(0.008, 0.018), rng.uniform(0.08, 0.15)
    handle = _lathe([(0.85 * rh, 0.0), (rh, 0.01), (rh, lh - 0.01), (0.85 * rh, lh)])
    head_kind = rng.choice(["hammer", "shaft", "blade", "jaw"])
    if head_kind == "hammer":
        hl, hs = rng.uniform(0.06, 0.12), rng.uniform(0.015, 0.03)
        head = [_box([hl, hs, hs], (0, 0, lh + hs / 2 - 0.005))]
    elif head_kind == "shaft":
        rs = rng.uniform(0.002, 0.005)
        head = _lathe([(rs, lh - 0.005), (rs, lh + rng.uniform(0.04, 0.09))])
    elif head_kind == "blade":
        head = [_box([rng.uniform(0.04, 0.08), rng.uniform(0.002, 0.004), rng.uniform(0.05, 0.09)])]
        head[0].apply_translation([0, 0, lh + head[0].extents[2] / 2 - 0.005])
    else:
        w, t = rng.uniform(0.03, 0.05), rng.uniform(0.004, 0.008)
        head = [_box([w, t, w], (0, 0, lh + w / 2 - 0.005))]
    d_handle, d_head = rng.uniform(500, 1200), rng.uniform(2700, 7800)
    return [(p, d_handle) for p in handle] + [(p, d_head) for p in head]


KINDS: dict[str, Callable[[np.random.Generator], list[Part]]] = {
    f.__name__: f for f in (box, slab, cylinder, can, bottle, jar, mug, handled, tube, ring, bracket, sphere,
                            ellipsoid, superquadric, tool)}


def kind_of(index: int) -> str:
    """Kind of object ``index``."""
    return list(KINDS)[index % len(KINDS)]


def make_parts(index: int, seed: int = 0) -> tuple[str, list, float]:
    """(kind, convex parts (trimesh, metres, centred on the table footprint), mass in kg) of object ``index``.

    The object is scaled uniformly when its largest side falls outside [MIN_SIZE_M, MAX_SIZE_M].
    """
    if index < 0:
        raise ValueError(f"procedural object index must be >= 0, got {index}")
    kind = kind_of(index)
    rng = np.random.default_rng([seed, index])
    parts = KINDS[kind](rng)
    verts = np.concatenate([np.asarray(p.vertices) for p, _ in parts])
    lo, hi = verts.min(axis=0), verts.max(axis=0)
    size = float((hi - lo).max())
    s = min(max(size, MIN_SIZE_M), MAX_SIZE_M) / size
    centre = (lo + hi) / 2
    meshes = []
    mass = 0.0
    for p, density in parts:
        p = p.copy()
        p.apply_translation(-centre)
        p.apply_scale(s)
        mass += float(p.volume) * density
        meshes.append(p)
    return kind, meshes, float(np.clip(mass, *MASS_RANGE_KG))


def procedural_dir(cache_dir: Path | None = None, seed: int = 0) -> Path:
    """Folder of the family's part files in the cache."""
    return Path(cache_dir or default_cache_dir()) / f"procedural-v{PROCEDURAL_VERSION}-s{seed}"


def procedural_sources(cache_dir: str | Path | None = None, count: int | None = None,
                       seed: int = 0) -> list[MeshSource]:
    """The family's first ``count`` (default PROCEDURAL_COUNT) objects as mesh sources; their part files are
    written into the cache on first use (about 10 ms an object)."""
    trimesh = require_trimesh()
    count = PROCEDURAL_COUNT if count is None else count
    root = procedural_dir(Path(cache_dir) if cache_dir else None, seed)
    index = root / f"index-{count}-m{MASS_MODEL_VERSION}.json"
    if index.exists():
        entries = json.loads(index.read_text())
    else:
        root.mkdir(parents=True, exist_ok=True)
        entries = []
        for i in range(count):
            kind, parts, mass = make_parts(i, seed)
            name = f"{kind}_{i:04d}"
            path = root / f"{name}.ply"
            if not path.exists():
                tmp = root / f".{name}.{os.getpid()}.tmp"
                tmp.write_bytes(trimesh.util.concatenate(parts).export(file_type="ply"))
                os.replace(tmp, path)
            entries.append({"name": name, "mass": mass})
        tmp = root / f".index.{os.getpid()}.tmp"
        tmp.write_text(json.dumps(entries))
        os.replace(tmp, index)
    return [MeshSource(PROCEDURAL_ID_BASE + i, e["name"], root / f"{e['name']}.ply", 1.0, e["mass"])
            for i, e in enumerate(entries)]
