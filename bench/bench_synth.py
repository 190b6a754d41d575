"""Synthesis speed: per-stage timings and end-to-end datapoints/s for both grippers (one process).

Run: python bench/bench_synth.py [--objects 40] [--datapoints 2000]
Stage timings are process CPU time (robust to other jobs on a shared machine); the end-to-end lines give
wall-clock and CPU-time rates. Multiply the CPU rate by the free cores for `dexnet synth --workers N`.
"realistic" is `--sensor mix --camera-tilt 30 --camera-distance 0.4 1.2 --focal-px 380 1100
--image-sizes 640x480,848x480,1280x720`.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from dexnet_core.camera import PRIMESENSE
from dexnet_core.synth.antipodal import sample_antipodal
from dexnet_core.synth.frames import FrameConfig, make_frame
from dexnet_core.synth.generate import CameraRange, SynthConfig, SynthImage, generate_shard
from dexnet_core.synth.grasp_quality import robust_force_closure
from dexnet_core.synth.meshes import list_sources, load_object_library, process_object
from dexnet_core.synth.scene import make_tray_scene, overhead_camera_pose, render_depth
from dexnet_core.synth.sensors import SENSORS
from dexnet_core.synth.suction import robust_suction_quality

REALISTIC = CameraRange(distance=(0.4, 1.2), max_tilt=np.radians(30), focal_px=(380.0, 1100.0),
                        image_sizes=((640, 480), (848, 480), (1280, 720)))


def timed(fn, repeat: int) -> float:
    """Mean process CPU seconds per call."""
    start = time.process_time()
    for _ in range(repeat):
        fn()
    return (time.process_time() - start) / repeat


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=40)
    parser.add_argument("--datapoints", type=int, default=2000)
    args = parser.parse_args()
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)

    src = list_sources()[:10]
    t = timed(lambda: [process_object(s) for s in src], 1) / len(src)
    print(f"mesh processing (union + stable poses, uncached): {1e3 * t:.1f} ms/object")
    objects = load_object_library("train", max_objects=args.objects)

    cfg = SynthConfig()
    images = [SynthImage(cfg, objects[i % len(objects)], rng) for i in range(20)]
    t = timed(lambda: SynthImage(cfg, objects[int(rng.integers(len(objects)))], rng), 20)
    print(f"image (place object, embree scene, windowed render, noise, shrink): {1e3 * t:.1f} ms/image, "
          f"window {np.mean([np.prod(np.diff(np.reshape(i.window, (2, 2)))) for i in images]):.0f} px")

    grasps = [sample_antipodal(i.mesh, rng, 50, cfg.jaw, i.caster) for i in images]
    n = sum(len(c) for c, _ in grasps)
    t = timed(lambda: [sample_antipodal(i.mesh, rng, 50, cfg.jaw, i.caster) for i in images], 1)
    print(f"antipodal sampling: {1e6 * t / n:.0f} us/grasp")
    t = timed(lambda: [robust_force_closure(i.caster, i.points, c, a, cfg.jaw, cfg.jaw_noise, rng)
                       for i, (c, a) in zip(images, grasps)], 1)
    print(f"robust force closure ({cfg.jaw_noise.samples} samples + collision check): "
          f"{1e6 * t / n:.0f} us/grasp")
    tops = []
    for i in images:
        pts, face = i.mesh.sample(50, return_index=True, seed=0)
        tops.append((pts, -i.mesh.face_normals[face]))
    t = timed(lambda: [robust_suction_quality(i.caster, p, v, i.mesh.center_mass, 0.1, cfg.cup,
                                              cfg.suction_noise, rng) for i, (p, v) in zip(images, tops)], 1)
    n = 50 * len(images)
    print(f"robust suction quality ({cfg.suction_noise.samples} samples): {1e6 * t / n:.0f} us/grasp")
    uv = np.tile([[images[0].window[2] + 60.0, images[0].window[0] + 60.0]], (500, 1))
    t = timed(lambda: images[0].crops(uv, rng.uniform(-np.pi, np.pi, 500)), 1) / 500
    print(f"crop (rotated 32x32 from the shrunk image): {1e6 * t:.0f} us/crop")

    tray = make_tray_scene(5, rng, split="val", objects=objects[:20])
    depth = render_depth(tray, PRIMESENSE, overhead_camera_pose(0.7, 0.3))
    window = depth[150:300, 250:400]
    for name, model in SENSORS.items():
        full = timed(lambda m=model: m.apply(depth, PRIMESENSE, rng), 20)
        win = timed(lambda m=model: m.apply(window, PRIMESENSE, rng, origin=(150, 250)), 50)
        print(f"sensor {name}: {1e3 * full:.1f} ms per 640x480 frame, {1e3 * win:.2f} ms per 150x150 window")
    vga = FrameConfig(image_sizes=((640, 480),))
    t = timed(lambda: make_frame(int(rng.integers(1 << 30)), objects, vga), 5)
    print(f"realistic 640x480 frame (make_frame: scene, render, sensor): {1e3 * t:.0f} ms")

    for gripper in ("parallel_jaw", "suction"):
        for label, extra in (("default", {}), ("realistic", {"sensor": "mix", "camera": REALISTIC})):
            c = SynthConfig(gripper=gripper, num_datapoints=args.datapoints, shard_size=args.datapoints,
                            **extra)
            start, cpu = time.perf_counter(), time.process_time()
            d = generate_shard(c, objects, 0)
            rate = args.datapoints / (time.perf_counter() - start)
            cpu_rate = args.datapoints / (time.process_time() - cpu)
            pos = float((d[c.label_field] > 0.5).mean())
            print(f"end to end {gripper} ({label}): {rate:.0f} datapoints/s wall, {cpu_rate:.0f} per "
                  f"CPU-second ({3600 * cpu_rate / 1e6:.2f} M/hour per core), {100 * pos:.1f}% positive")


if __name__ == "__main__":
    main()
