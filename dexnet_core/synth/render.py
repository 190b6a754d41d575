"""Ray casting (embreex, called directly) and depth rendering with a pinhole camera and sensor noise."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from dexnet_core.camera import CameraIntrinsics
from dexnet_core.errors import MissingExtraError


@dataclass(frozen=True)
class DepthNoise:
    """Depth sensor noise: a per-image multiplicative scale, smooth correlated noise and pixel noise.

    scale_std: std of the per-image factor on depth (1 = none); smooth_std_m / smooth_grid: std (m) of a
    Gaussian field drawn on a coarse grid of ``smooth_grid`` px cells and upsampled (bicubic);
    pixel_std_m: independent per-pixel std (m).
    """

    scale_std: float = 0.002
    smooth_std_m: float = 0.0008
    smooth_grid: int = 8
    pixel_std_m: float = 0.0005

    def __post_init__(self) -> None:
        for name in ("scale_std", "smooth_std_m", "pixel_std_m"):
            if getattr(self, name) < 0:
                raise ValueError(f"DepthNoise.{name} must be >= 0, got {getattr(self, name)}")
        if self.smooth_grid < 1:
            raise ValueError(f"DepthNoise.smooth_grid must be >= 1, got {self.smooth_grid}")

    def apply(self, depth: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Noisy copy of ``depth`` (H, W) float32 metres; NaN stays NaN."""
        h, w = depth.shape
        out = depth * np.float32(1.0 + self.scale_std * rng.standard_normal())
        if self.smooth_std_m > 0:
            import cv2
            gh, gw = max(2, -(-h // self.smooth_grid)), max(2, -(-w // self.smooth_grid))
            coarse = (self.smooth_std_m * rng.standard_normal((gh, gw))).astype(np.float32)
            out += cv2.resize(coarse, (w, h), interpolation=cv2.INTER_CUBIC)
        if self.pixel_std_m > 0:
            out += (self.pixel_std_m * rng.standard_normal((h, w))).astype(np.float32)
        return out.astype(np.float32)


class Raycaster:
    """An embree scene over meshes (each (n, 3) vertices + (m, 3) faces, world frame, metres).

    ``cast`` returns, per ray, the hit distance (inf on a miss), the index of the mesh hit (-1 on a miss)
    and the outward unit normal of the hit triangle.
    """

    def __init__(self, meshes: list) -> None:
        try:
            from embreex import rtcore_scene
            from embreex.mesh_construction import TriangleMesh
        except ImportError as exc:
            raise MissingExtraError("ray casting needs embreex: pip install dexnet-core[synth]") from exc
        self._scene = rtcore_scene.EmbreeScene()
        self._normals = []
        for m in meshes:
            tri = np.asarray(m.vertices, dtype=np.float64)[np.asarray(m.faces)]
            TriangleMesh(self._scene, tri.astype(np.float32))
            n = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
            n /= np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-20)
            self._normals.append(n.astype(np.float32))

    def cast(self, origins: np.ndarray, directions: np.ndarray,
             normals: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """First hits of rays. origins, directions: (n, 3) (directions unit length).

        Returns (dist (n,) float32 metres, inf on a miss; geom (n,) int32 mesh index, -1 on a miss;
        normals (n, 3) float32 outward unit normals, 0 on a miss, or None when not asked for).
        """
        o = np.ascontiguousarray(origins, dtype=np.float32).reshape(-1, 3)
        d = np.ascontiguousarray(directions, dtype=np.float32).reshape(-1, 3)
        n = len(o)
        if n == 0:
            return np.zeros(0, np.float32), np.zeros(0, np.int32), np.zeros((0, 3), np.float32)
        r = self._scene.run(o, d, output=1)
        geom = np.asarray(r["geomID"], dtype=np.int32)
        dist = np.where(geom >= 0, r["tfar"], np.inf).astype(np.float32)
        if not normals:
            return dist, geom, None
        out = np.zeros((n, 3), np.float32)
        prim = np.asarray(r["primID"], dtype=np.int64)
        for g in np.unique(geom[geom >= 0]):
            sel = geom == g
            out[sel] = self._normals[g][prim[sel]]
        return dist, geom, out


@functools.lru_cache(maxsize=8)
def _pixel_rays(intrinsics: CameraIntrinsics) -> np.ndarray:
    return intrinsics.pixel_rays()


def render_window(caster: Raycaster, intrinsics: CameraIntrinsics, camera_pose: np.ndarray,
                  window: tuple[int, int, int, int] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Noise-free depth of a pixel window.

    camera_pose: (4, 4) world <- camera optical frame. window: (row0, row1, col0, col1), default the
    whole image. Returns (depth (h, w) float32 metres along the optical axis, NaN where nothing is hit;
    geom (h, w) int32 index of the mesh seen, -1 where none).
    """
    rays = _pixel_rays(intrinsics)
    if window is not None:
        r0, r1, c0, c1 = window
        rays = rays[r0:r1, c0:c1]
    h, w = rays.shape[:2]
    pose = np.asarray(camera_pose, dtype=np.float64)
    dirs = rays.reshape(-1, 3) @ pose[:3, :3].T.astype(np.float32)
    origins = np.broadcast_to(pose[:3, 3].astype(np.float32), dirs.shape)
    dist, geom, _ = caster.cast(origins, dirs, normals=False)
    depth = (dist * rays.reshape(-1, 3)[:, 2]).astype(np.float32)
    depth[geom < 0] = np.nan
    return depth.reshape(h, w), geom.reshape(h, w)


def look_at_pose(target: np.ndarray, distance: float, tilt: float, azimuth: float, roll: float) -> np.ndarray:
    """(4, 4) world <- camera optical frame of a camera ``distance`` m from ``target`` looking at it.

    The camera sits at polar angle ``tilt`` from world +z (0 = straight above) and ``azimuth`` about z;
    ``roll`` turns the image about the optical axis. World z is up.
    """
    target = np.asarray(target, dtype=np.float64)
    offset = np.array([np.sin(tilt) * np.cos(azimuth), np.sin(tilt) * np.sin(azimuth), np.cos(tilt)])
    z = -offset
    ref = np.array([np.cos(azimuth + roll), np.sin(azimuth + roll), 0.0])
    x = ref - (ref @ z) * z
    x /= np.linalg.norm(x)
    pose = np.eye(4)
    pose[:3, :3] = np.stack([x, np.cross(z, x), z], axis=1)
    pose[:3, 3] = target + distance * offset
    return pose
