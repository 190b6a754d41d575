"""Synthesis speed: per-stage timings and end-to-end datapoints/s for both grippers (one process).

Run: python bench/bench_synth.py [--objects 40] [--datapoints 2000]
Stage timings are process CPU time (robust to other jobs on a shared machine); the end-to-end lines give
wall-clock and CPU-time rates. Multiply the CPU rate by the free cores for `dexnet synth --workers N`.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from dexnet_core.synth.antipodal import sample_antipodal
from dexnet_core.synth.generate import SynthConfig, SynthImage, generate_shard
from dexnet_core.synth.grasp_quality import robust_force_closure
from dexnet_core.synth.meshes import list_sources, load_object_library, process_object
from dexnet_core.synth.suction import robust_suction_quality


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

    for gripper in ("parallel_jaw", "suction"):
        c = SynthConfig(gripper=gripper, num_datapoints=args.datapoints, shard_size=args.datapoints)
        start, cpu = time.perf_counter(), time.process_time()
        d = generate_shard(c, objects, 0)
        rate = args.datapoints / (time.perf_counter() - start)
        cpu_rate = args.datapoints / (time.process_time() - cpu)
        pos = float((d[c.label_field] > 0.5).mean())
        print(f"end to end {gripper}: {rate:.0f} datapoints/s wall, {cpu_rate:.0f} per CPU-second "
              f"({3600 * cpu_rate / 1e6:.2f} M/hour per core), {100 * pos:.1f}% positive")


if __name__ == "__main__":
    main()
