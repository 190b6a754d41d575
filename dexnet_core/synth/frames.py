"""Realistic full camera frames: table and bin scenes seen by tilted, rolled cameras through a sensor model.

A frame holds objects to pick (on the table, or inside a bin with walls and a rim), clutter (other objects
near the image border), robot-like fixtures (cylinders and boxes standing up from the table along one
image border), a camera 0.4-1.2 m above the table tilted up to 30 degrees with free roll, focal lengths of
380-1100 px at several image sizes, and the sensor's depth image (``dexnet_core.synth.sensors``). It comes
with ground truth: the noise-free depth, the intrinsics, the camera pose, a per-pixel instance map of the
objects to pick and a class map. ``make_frame(seed, objects, config)`` is deterministic per seed.

World frame: z up, the table top is the plane z = 0.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from dexnet_core.camera import CameraIntrinsics
from dexnet_core.synth.crops import require_cv2
from dexnet_core.synth.meshes import ObjectMesh, require_trimesh
from dexnet_core.synth.render import Raycaster, look_at_pose, render_window
from dexnet_core.synth.scene import place_object, table_mesh
from dexnet_core.synth.sensors import get_sensor, parse_sensors

SCENE_KINDS = ("table", "bin")
CLASSES = ("background", "object", "clutter", "fixture", "bin")  # Frame.labels values index this
MAX_TILT_DEG = 30.0  # cameras are tilted at most this far from vertical
GAP_M = 0.005  # clearance between placed things
_BIN_FLOOR_M = 0.01  # bin floor thickness: objects in a bin rest on z = _BIN_FLOOR_M
_TABLE_M = 6.0  # table side: wide cameras see no edge


def _eroded(mask: np.ndarray, margin_px: int, disk: bool = False) -> np.ndarray:
    """(H, W) bool: pixels of ``mask`` whose square of side 2 margin_px + 1 lies on it, or with ``disk``
    every pixel within margin_px of them (Euclidean); beyond the image counts as off."""
    y, x = np.mgrid[-margin_px : margin_px + 1, -margin_px : margin_px + 1]
    k = (x * x + y * y <= margin_px * margin_px if disk else np.ones_like(x, bool)).astype(np.uint8)
    return require_cv2().erode(mask.astype(np.uint8), k, borderValue=0).astype(bool)


def _pair(name: str, value: tuple, lo: float, hi: float | None = None) -> None:
    a, b = value
    if not (lo <= a <= b and (hi is None or b <= hi)):
        bound = f"[{lo}, {hi}]" if hi is not None else f">= {lo}"
        raise ValueError(f"FrameConfig.{name} must be (min, max) with min <= max within {bound}, got {value}")


@dataclass(frozen=True)
class FrameConfig:
    """What a random frame may hold (each frame draws its own values from these ranges)."""

    kind: str = "mix"  # "table", "bin" or "mix" (either, evenly)
    sensor: str = "primesense"  # a sensor name, "mix" or a comma-separated list (one drawn per frame)
    height_m: tuple[float, float] = (0.4, 1.2)  # camera height above the table (m)
    max_tilt_deg: float = MAX_TILT_DEG  # tilt from vertical, uniform in [0, max_tilt_deg]
    roll: bool = True  # free roll about the optical axis (False: none)
    focal_px: tuple[float, float] = (380.0, 1100.0)  # focal length (px), the same for every image size
    image_sizes: tuple[tuple[int, int], ...] = ((640, 480), (848, 480), (1280, 720))  # (width, height)
    num_objects: tuple[int, int] = (1, 6)  # objects to pick (fewer when they do not fit the view)
    clutter: tuple[int, int] = (0, 3)  # other objects near the image border
    fixtures: tuple[int, int] = (0, 3)  # robot-like fixtures standing along one image border
    bin_wall_m: tuple[float, float] = (0.06, 0.2)  # bin wall height (m), at most half the camera height

    def __post_init__(self) -> None:
        if self.kind not in (*SCENE_KINDS, "mix"):
            raise ValueError(f"FrameConfig.kind must be one of {(*SCENE_KINDS, 'mix')}, got {self.kind!r}")
        parse_sensors(self.sensor)
        if not 0 <= self.max_tilt_deg <= MAX_TILT_DEG:
            raise ValueError(f"FrameConfig.max_tilt_deg must be in [0, {MAX_TILT_DEG}] degrees, "
                             f"got {self.max_tilt_deg}")
        _pair("height_m", self.height_m, 0.2, 3.0)
        _pair("focal_px", self.focal_px, 50.0)
        _pair("num_objects", self.num_objects, 1)
        _pair("clutter", self.clutter, 0)
        _pair("fixtures", self.fixtures, 0)
        _pair("bin_wall_m", self.bin_wall_m, 0.01)
        if not self.image_sizes or any(len(s) != 2 or min(s) < 16 for s in self.image_sizes):
            raise ValueError(f"FrameConfig.image_sizes must be (width, height) pairs of >= 16 px, "
                             f"got {self.image_sizes}")


@dataclass
class Frame:
    """One rendered frame and its ground truth (pixel maps are (H, W), from the noise-free geometry)."""

    depth: np.ndarray  # float32 metres along the optical axis as the sensor reports it, NaN = missing
    clean: np.ndarray  # float32 noise-free depth, NaN where no surface
    intrinsics: CameraIntrinsics
    camera_pose: np.ndarray  # (4, 4) world <- camera optical frame
    instances: np.ndarray  # int32: k + 1 on pixels of the k-th object to pick, 0 elsewhere
    labels: np.ndarray  # uint8 index into CLASSES
    objects: list[str]  # names of the objects to pick, instance k + 1 = objects[k]
    kind: str  # "table" or "bin"
    sensor: str  # name of the sensor model applied
    support_z: float  # world height of the surface the objects rest on (table 0, or the bin floor)
    meshes: list = field(default_factory=list, repr=False)  # world-frame meshes (objects first)

    @property
    def object_mask(self) -> np.ndarray:
        """(H, W) bool: pixels of the objects to pick."""
        return self.instances > 0

    def interior(self, margin_px: int = 5, disk: bool = False) -> np.ndarray:
        """(H, W) bool: pixels at least ``margin_px`` inside one object to pick (its own instance): the
        square of side 2 margin_px + 1 around them lies on it, or with ``disk`` every pixel within
        margin_px of them (the square needs up to sqrt(2) margin_px beside a diagonal edge)."""
        out = np.zeros(self.instances.shape, bool)
        for i in range(1, len(self.objects) + 1):
            out |= _eroded(self.instances == i, margin_px, disk)
        return out

    def clutter_interior(self, margin_px: int = 5) -> np.ndarray:
        """(H, W) bool: pixels at least ``margin_px`` inside clutter wholly in view (a connected part of the
        clutter's pixels that touches no image border: a whole object, not one cut off by the border)."""
        clutter = (self.labels == CLASSES.index("clutter")).astype(np.uint8)
        _, parts = require_cv2().connectedComponents(clutter)
        border = np.unique(np.concatenate([parts[0], parts[-1], parts[:, 0], parts[:, -1]]))
        return _eroded((parts > 0) & ~np.isin(parts, border), margin_px)

    def support_plane(self) -> np.ndarray:
        """(4,) plane (a, b, c, d), a x + b y + c z + d = 0 in the camera frame, of the support surface;
        (a, b, c) is the unit normal pointing up (towards the camera side)."""
        r, t = self.camera_pose[:3, :3], self.camera_pose[:3, 3]
        n = r.T @ np.array([0.0, 0.0, 1.0])  # world up in the camera frame
        p = r.T @ (np.array([0.0, 0.0, self.support_z]) - t)  # a point of the plane, camera frame
        return np.append(n, -n @ p)


def _circle(mesh) -> tuple[np.ndarray, float]:
    """xy centre and radius of a world mesh's footprint."""
    xy = np.asarray(mesh.vertices)[:, :2]
    c = (xy.min(axis=0) + xy.max(axis=0)) / 2
    return c, float(np.linalg.norm(xy - c, axis=1).max())


class _Layout:
    """Footprint circles of what is already on the table, plus an optional bin rectangle."""

    def __init__(self) -> None:
        self.circles: list[tuple[np.ndarray, float]] = []
        self.bin: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None  # centre, (2, 2) axes, outer half
        self.inner: np.ndarray | None = None  # half size inside the bin's walls

    def free(self, c: np.ndarray, r: float, in_bin: bool = False) -> bool:
        if any(np.linalg.norm(c - c2) < r + r2 + GAP_M for c2, r2 in self.circles):
            return False
        if self.bin is None:
            return not in_bin
        centre, axes, half = self.bin
        local = np.abs(axes @ (c - centre))
        if in_bin:  # wholly inside the walls
            return bool((local + r + GAP_M <= self.inner).all())
        return bool((local >= half + r + GAP_M).any())  # wholly outside the outer rim


def _ray_points(k: CameraIntrinsics, pose: np.ndarray, uv: np.ndarray, z: float) -> np.ndarray:
    """(n, 3) world points where the rays through pixels ``uv`` (n, 2) meet the plane at height ``z``
    (NaN where they do not, or farther than 3 m from the camera)."""
    d = np.concatenate([(uv - [k.cx, k.cy]) / [k.fx, k.fy], np.ones((len(uv), 1))], axis=1) @ pose[:3, :3].T
    with np.errstate(divide="ignore", invalid="ignore"):
        t = (z - pose[2, 3]) / d[:, 2]
    p = pose[:3, 3] + t[:, None] * d
    bad = ~(t > 0) | (t * np.linalg.norm(d, axis=1) > 3.0)
    p[bad] = np.nan
    return p


def _in_image(k: CameraIntrinsics, pose: np.ndarray, mesh, margin: float) -> bool:
    """Whether the mesh's bounding box projects inside the image, ``margin`` (share of the size) in."""
    lo, hi = mesh.bounds
    corners = np.array(np.meshgrid(*zip(lo, hi))).T.reshape(-1, 3)
    cam = (corners - pose[:3, 3]) @ pose[:3, :3]
    if (cam[:, 2] <= 0.05).any():
        return False
    uv = k.project(cam)
    mu, mv = margin * k.width, margin * k.height
    return bool((uv[:, 0] >= mu).all() and (uv[:, 0] <= k.width - 1 - mu).all()
                and (uv[:, 1] >= mv).all() and (uv[:, 1] <= k.height - 1 - mv).all())


def _bin_meshes(centre: np.ndarray, yaw: float, half: np.ndarray, wall_h: float, wall_t: float,
                rim_w: float) -> list:
    """Floor, four walls and a rim (a flange around the top) of a bin, inner half size ``half``."""
    trimesh = require_trimesh()
    (hx, hy), t = half, wall_t
    parts = [([2 * (hx + t), 2 * (hy + t), _BIN_FLOOR_M], [0, 0, _BIN_FLOOR_M / 2])]
    for sx, sy, cx, cy in ((2 * (hx + t), t, 0, hy + t / 2), (2 * (hx + t), t, 0, -hy - t / 2),
                           (t, 2 * hy, hx + t / 2, 0), (t, 2 * hy, -hx - t / 2, 0)):
        parts.append(([sx, sy, wall_h], [cx, cy, wall_h / 2]))
    ox, oy, rt = hx + t + rim_w, hy + t + rim_w, 0.005  # rim: outer half size, thickness
    ly = 2 * (oy - rim_w)
    for sx, sy, cx, cy in ((2 * ox, rim_w, 0, oy - rim_w / 2), (2 * ox, rim_w, 0, -oy + rim_w / 2),
                           (rim_w, ly, ox - rim_w / 2, 0), (rim_w, ly, -ox + rim_w / 2, 0)):
        parts.append(([sx, sy, rt], [cx, cy, wall_h - rt / 2]))
    c, s = np.cos(yaw), np.sin(yaw)
    place = np.array([[c, -s, 0, centre[0]], [s, c, 0, centre[1]], [0, 0, 1, 0], [0, 0, 0, 1.0]])
    meshes = []
    for size, offset in parts:
        m = trimesh.creation.box(size)
        m.apply_translation(offset)
        m.apply_transform(place)
        meshes.append(m)
    return meshes


def _fixture(rng: np.random.Generator, base: np.ndarray, max_h: float):
    """A cylinder or box standing on the table at ``base`` (xy), like a robot link or a post."""
    trimesh = require_trimesh()
    h = rng.uniform(0.15, max(0.16, max_h))
    if rng.random() < 0.5:
        m = trimesh.creation.cylinder(radius=rng.uniform(0.03, 0.07), height=h, sections=24)
    else:
        m = trimesh.creation.box([rng.uniform(0.05, 0.14), rng.uniform(0.05, 0.14), h])
        yaw = rng.uniform(-np.pi, np.pi)
        m.apply_transform(np.array([[np.cos(yaw), -np.sin(yaw), 0, 0], [np.sin(yaw), np.cos(yaw), 0, 0],
                                    [0, 0, 1, 0], [0, 0, 0, 1.0]]))
    m.apply_translation([base[0], base[1], h / 2])
    return m


def _border_pixels(rng: np.random.Generator, k: CameraIntrinsics, n: int, side: int,
                   depth: tuple[float, float], spread: bool) -> np.ndarray:
    """(n, 2) pixels within a band ``depth`` (shares of the size) from image side 0-3 (top, right, bottom,
    left); ``spread``: evenly along the side (jittered), else uniform."""
    w, h = k.width, k.height
    along = (np.arange(n) + rng.uniform(0.2, 0.8, n)) / n if spread else rng.uniform(0.05, 0.95, n)
    inset = rng.uniform(*depth, n)
    if side in (0, 2):
        u, v = along * (w - 1), (inset if side == 0 else 1 - inset) * (h - 1)
    else:
        u, v = (inset if side == 3 else 1 - inset) * (w - 1), along * (h - 1)
    return np.stack([u, v], axis=1)


def border_fixtures(rng: np.random.Generator, intrinsics: CameraIntrinsics, camera_pose: np.ndarray,
                    count: int, camera_height_m: float,
                    keep_out: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
                    layout: _Layout | None = None) -> list:
    """Up to ``count`` robot-like fixtures (cylinders of 3-7 cm radius or boxes of 5-14 cm, 0.15 m up to
    0.6 x ``camera_height_m`` tall) standing on the table (z = 0) where pixels just inside one image side
    (drawn) look at it; world-frame trimesh meshes. ``keep_out``: (centre (2,), axes (2, 2), half size (2,))
    of a table rectangle they must stay out of (a tray or bin); a fixture there is dropped."""
    layout = layout or _Layout()
    if keep_out is not None:
        layout.bin = keep_out
    out = []
    if count < 1:
        return out
    side = int(rng.integers(4))
    pixels = _border_pixels(rng, intrinsics, count, side, (0.0, 0.06), True)
    for p in _ray_points(intrinsics, camera_pose, pixels, 0.0):
        if np.isnan(p).any():
            continue
        m = _fixture(rng, p[:2], 0.6 * camera_height_m)
        c, r = _circle(m)
        if layout.free(c, r):
            layout.circles.append((c, r))
            out.append(m)
    return out


def _place_object(rng: np.random.Generator, obj: ObjectMesh, xy: np.ndarray, z: float):
    pose = place_object(obj, rng, xy=(float(xy[0]), float(xy[1])))
    pose[2, 3] += z
    mesh = obj.mesh.copy()
    mesh.apply_transform(pose)
    return mesh


def make_frame(seed: int, objects: list[ObjectMesh], config: FrameConfig | None = None,
               max_tries: int = 30) -> Frame:
    """A random frame of ``objects`` (dexnet_core.synth ObjectMesh list); deterministic per ``seed``.

    Draws the camera, the scene kind and its sensor, builds the bin (bin scenes), the fixtures, the
    objects to pick (inside the view's inner part, or inside the bin), then the clutter near the image
    border; renders the noise-free depth and applies the sensor. A camera under which no object fits is
    drawn again. Raises ValueError when no object fits after ``max_tries`` cameras.
    """
    cfg = config or FrameConfig()
    if not objects:
        raise ValueError("make_frame needs at least one object")
    rng = np.random.default_rng(seed)
    sensors = parse_sensors(cfg.sensor)
    for _ in range(max_tries):
        frame = _try_frame(rng, objects, cfg, sensors)
        if frame is not None:
            return frame
    raise ValueError(f"no object fits the view of {max_tries} cameras (seed {seed}); objects too large?")


def _try_frame(rng: np.random.Generator, objects: list[ObjectMesh], cfg: FrameConfig,
               sensors: tuple[str, ...]) -> Frame | None:
    w, h = cfg.image_sizes[int(rng.integers(len(cfg.image_sizes)))]
    f = rng.uniform(*cfg.focal_px)
    cx, cy = (np.array([w, h]) - 1) / 2 + rng.uniform(-0.02, 0.02, 2) * [w, h]
    k = CameraIntrinsics(f, f, float(cx), float(cy), int(w), int(h))
    height = rng.uniform(*cfg.height_m)
    tilt = np.radians(rng.uniform(0.0, cfg.max_tilt_deg))
    azimuth = rng.uniform(-np.pi, np.pi)
    roll = rng.uniform(-np.pi, np.pi) if cfg.roll else 0.0
    kind = SCENE_KINDS[int(rng.integers(2))] if cfg.kind == "mix" else cfg.kind
    sensor = sensors[int(rng.integers(len(sensors)))]
    layout = _Layout()
    bin_parts: list = []
    support_z = 0.0
    target = np.zeros(3)
    if kind == "bin":
        support_z = _BIN_FLOOR_M
        target[2] = support_z
    dist = (height - target[2]) / np.cos(tilt)  # camera to the target on the support surface
    pose = look_at_pose(target, dist, tilt, azimuth, roll)
    if kind == "bin":
        # bin axes along the image axes (projected on the table), walls and rim near the image border
        x_axis = pose[:2, 0] / max(np.linalg.norm(pose[:2, 0]), 1e-9)
        yaw = float(np.arctan2(x_axis[1], x_axis[0]) + rng.uniform(-0.25, 0.25))
        view = dist * np.array([w, h]) / f  # footprint at the target, m
        half = np.clip(view * rng.uniform(0.3, 0.45, 2), [0.12, 0.09], [0.4, 0.3])
        wall_h = min(rng.uniform(*cfg.bin_wall_m), 0.5 * height)
        wall_t, rim_w = rng.uniform(0.008, 0.02), rng.uniform(0.015, 0.04)
        bin_parts = _bin_meshes(target[:2], yaw, half, wall_h, wall_t, rim_w)
        c, s = np.cos(yaw), np.sin(yaw)
        layout.bin = (target[:2].copy(), np.array([[c, s], [-s, c]]), half + wall_t + rim_w)
        layout.inner = half
    # fixtures along one image side, standing on the table (outside the bin)
    n_fix = int(rng.integers(cfg.fixtures[0], cfg.fixtures[1] + 1))
    fixtures = border_fixtures(rng, k, pose, n_fix, height, layout.bin, layout)
    # objects to pick
    want = int(rng.integers(cfg.num_objects[0], cfg.num_objects[1] + 1))
    picks, names = [], []
    for idx in rng.permutation(len(objects)):
        if len(picks) == want:
            break
        obj = objects[int(idx)]
        for _ in range(8):
            if kind == "bin":
                centre, axes, _ = layout.bin
                xy = centre + axes.T @ (rng.uniform(-1, 1, 2) * layout.inner)
            else:
                uv = rng.uniform([0.15 * w, 0.15 * h], [0.85 * w, 0.85 * h])[None]
                xy = _ray_points(k, pose, uv, 0.0)[0, :2]
                if np.isnan(xy).any():
                    continue
            mesh = _place_object(rng, obj, xy, support_z)
            c, r = _circle(mesh)
            if layout.free(c, r, in_bin=kind == "bin") and _in_image(k, pose, mesh, 0.02):
                layout.circles.append((c, r))
                picks.append(mesh)
                names.append(obj.name)
                break
    if not picks:
        return None
    # clutter near the image border, on the table
    clutter = []
    n_clutter = int(rng.integers(cfg.clutter[0], cfg.clutter[1] + 1))
    for uv in _border_pixels(rng, k, n_clutter, int(rng.integers(4)), (-0.05, 0.12), False):
        xy = _ray_points(k, pose, uv[None], 0.0)[0, :2]
        if np.isnan(xy).any():
            continue
        mesh = _place_object(rng, objects[int(rng.integers(len(objects)))], xy, 0.0)
        c, r = _circle(mesh)
        if layout.free(c, r):
            layout.circles.append((c, r))
            clutter.append(mesh)
    meshes = [*picks, *clutter, *fixtures, *bin_parts, table_mesh(_TABLE_M)]
    clean, geom = render_window(Raycaster(meshes), k, pose)
    classes = np.array([1] * len(picks) + [2] * len(clutter) + [3] * len(fixtures) + [4] * len(bin_parts)
                       + [0, 0], np.uint8)  # the table, then geom -1 (nothing)
    instance_of = np.zeros(len(meshes) + 1, np.int32)
    instance_of[: len(picks)] = np.arange(1, len(picks) + 1)
    depth = get_sensor(sensor).apply(clean, k, rng)
    return Frame(depth, clean, k, pose, instance_of[geom], classes[geom], names, kind, sensor, support_z,
                 meshes)
