"""Grasp trials per hour in the pybullet benchmark, planning excluded (target >= 5,000 / h).

Two figures per gripper, on trays of held-out objects (dexnet_core.synth's "val" split):
- trial: one run_trial (approach, close / seal, lift 20 cm, shake) from a saved tray state, restored after;
- attempt: a whole bin-clearing attempt minus the policy's planning time (render the 640x480 depth with
  embree, execute, remove the pick, let the tray settle), measured on episodes of the random policy.
Grasps come from the random and heuristic baselines so the mix of outcomes is realistic.

    python bench/bench_sim.py [--trials 100] [--episodes 4] [--objects 5]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from dexnet_core.sim.episode import EpisodeConfig, SceneRenderer, run_episode, sim_object
from dexnet_core.sim.grippers import ParallelJawGripper, SuctionGripper
from dexnet_core.sim.policies import HeuristicPolicy, Observation, RandomPolicy, grasp_pose_world
from dexnet_core.sim.trials import run_trial
from dexnet_core.sim.world import SimWorld
from dexnet_core.synth.meshes import load_object_library
from dexnet_core.synth.scene import make_tray_scene, overhead_camera_pose


def trial_rate(gripper: str, objects: list, trials: int, num_objects: int, seed: int) -> tuple[float, dict]:
    """Trials per hour of run_trial from restored tray states; also the outcome counts."""
    cfg = EpisodeConfig(num_objects=num_objects)
    rng = np.random.default_rng(seed)
    policies = [RandomPolicy(gripper), HeuristicPolicy(gripper)]
    by_id = {o.object_id: o for o in objects}
    elapsed, done, causes = 0.0, 0, {}
    tray = 0
    while done < trials:
        scene = make_tray_scene(num_objects, np.random.default_rng([seed, tray]), objects=objects)
        tray += 1
        with SimWorld(cfg.world) as world:
            for (oid, _), pose in zip(scene.meshes, scene.poses):
                world.add_object(sim_object(by_id[oid]), pose)
            world.settle()
            hand = SuctionGripper(world) if gripper == "suction" else ParallelJawGripper(world)
            camera = overhead_camera_pose(cfg.camera_height_m)
            depth, seen = SceneRenderer(world, cfg.intrinsics, camera).render(rng)
            obs = Observation(depth, cfg.intrinsics, camera, seen >= 0)
            state = world.save_state()
            for k in range(min(20, trials - done)):
                grasp = policies[k % 2].act(obs, rng).grasp
                start = time.perf_counter()
                result = run_trial(world, hand, grasp_pose_world(grasp, camera), cfg.trial,
                                   remove_on_success=False)
                world.restore_state(state)
                elapsed += time.perf_counter() - start
                done += 1
                causes[result.cause] = causes.get(result.cause, 0) + 1
    return 3600.0 * done / elapsed, causes


def attempt_rate(gripper: str, objects: list, episodes: int, num_objects: int,
                 seed: int) -> tuple[float, int]:
    """Bin-clearing attempts per hour excluding planning (random policy episodes); also the attempt count."""
    cfg = EpisodeConfig(num_objects=num_objects)
    policy = RandomPolicy(gripper)
    wall, plan, attempts = 0.0, 0.0, 0
    for i in range(episodes):
        start = time.perf_counter()
        result = run_episode(policy, objects, seed + i, cfg)
        wall += time.perf_counter() - start
        plan += sum(a.plan_s for a in result.attempts)
        attempts += len(result.attempts)
    return 3600.0 * attempts / (wall - plan), attempts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument("--episodes", type=int, default=4)
    parser.add_argument("--objects", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    objects = load_object_library("val")
    print(f"pybullet DIRECT, {args.objects} held-out objects per tray, 1 process")
    for gripper in ("parallel_jaw", "suction"):
        rate, causes = trial_rate(gripper, objects, args.trials, args.objects, args.seed)
        arate, n = attempt_rate(gripper, objects, args.episodes, args.objects, args.seed)
        print(f"{gripper:13s} trials/h {rate:9.0f} ({args.trials} trials, outcomes {causes})")
        print(f"{'':13s} attempts/h {arate:7.0f} excluding planning ({n} attempts in {args.episodes} "
              "episodes: render + trial + settle)")


if __name__ == "__main__":
    main()
