"""Benchmark figures from episodes: success rate with a Wilson interval, picks per hour, failures by cause,
per-object results, and an image per episode (depth, heatmap, chosen grasps)."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import asdict, dataclass, field

import numpy as np

from dexnet_core.camera import CameraIntrinsics
from dexnet_core.sim.episode import EpisodeResult


def wilson_interval(successes: int, trials: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval (lo, hi) of a binomial proportion; (0, 1) when ``trials`` is 0."""
    if successes < 0 or trials < 0 or successes > trials:
        raise ValueError(f"need 0 <= successes <= trials, got {successes}/{trials}")
    if trials == 0:
        return 0.0, 1.0
    p = successes / trials
    denom = 1.0 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denom
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(frozen=True)
class PolicySummary:
    """Figures of one policy over a set of episodes.

    attempts: executed grasps (a policy finding no grasp ends its episode and counts under
    failures["no_grasp"] only); success_rate = successes / attempts with its 95% Wilson interval;
    clearance = objects picked / objects placed; picks_per_hour = successes per hour of (measured planning
    time + robot_cycle_s per attempt); per_object: name -> (appearances, attempts on it, picks).
    """

    policy: str
    gripper: str
    episodes: int
    attempts: int
    successes: int
    success_rate: float
    ci_low: float
    ci_high: float
    objects: int
    clearance: float
    knocked_out: int
    mean_plan_s: float
    picks_per_hour: float
    robot_cycle_s: float
    failures: dict[str, int]
    per_object: dict[str, tuple[int, int, int]]
    by_class: dict[str, dict[str, tuple[int, int]]] = field(default_factory=dict)  # dimension -> class ->
    # (attempts, picks) on objects of that class (object_classes)

    def to_dict(self) -> dict:
        """JSON-ready mapping."""
        d = asdict(self)
        d["per_object"] = {k: list(v) for k, v in self.per_object.items()}
        d["by_class"] = {dim: {k: list(v) for k, v in c.items()} for dim, c in self.by_class.items()}
        return d


MASS_CLASSES_KG = (0.1, 0.3)  # class edges of object_classes' "mass" dimension


def object_classes(objects, opening_m: float | None = None) -> dict[str, dict[str, str]]:
    """Object name -> {dimension: class} for the report's success-by-class tables: ``mass`` (under 0.1 kg,
    0.1-0.3 kg, 0.3 kg or more) and, given a parallel-jaw ``opening_m``, ``middle side`` (whether the middle
    one of the object's three extents fits the opening: lying on its largest face, a top-down grasp must
    close across it or on a narrower part). ``objects``: dexnet_core.synth ObjectMesh list."""
    lo, hi = MASS_CLASSES_KG
    out = {}
    for obj in objects:
        m = obj.mass
        classes = {"mass": f"< {lo} kg" if m < lo else f"{lo}-{hi} kg" if m < hi else f">= {hi} kg"}
        if opening_m is not None:
            middle = float(np.sort(np.asarray(obj.mesh.extents))[1])
            classes["middle side"] = f"<= {100 * opening_m:g} cm" if middle <= opening_m else \
                f"> {100 * opening_m:g} cm"
        out[obj.name] = classes
    return out


def _class_key(label: str) -> tuple[int, str]:
    """Sort key putting object_classes' classes in increasing order ("< a", "a-b", ">= b")."""
    return (0 if label.startswith("<") else 1, label)


def summarize(results: list[EpisodeResult], robot_cycle_s: float = 6.0,
              classes: dict[str, dict[str, str]] | None = None) -> list[PolicySummary]:
    """One PolicySummary per policy, in order of first appearance in ``results``; ``classes``
    (object_classes) adds attempts and picks per object class."""
    if robot_cycle_s < 0:
        raise ValueError(f"robot_cycle_s must be >= 0, got {robot_cycle_s}")
    order = list(dict.fromkeys(r.policy for r in results))
    out = []
    for policy in order:
        eps = [r for r in results if r.policy == policy]
        executed = [a for r in eps for a in r.attempts if a.cause != "no_grasp"]
        successes = sum(a.success for a in executed)
        lo, hi = wilson_interval(successes, len(executed))
        objects = sum(len(r.objects) for r in eps)
        plan = [a.plan_s for a in executed]
        busy = sum(plan) + robot_cycle_s * len(executed)
        failures = Counter(a.cause for r in eps for a in r.attempts if not a.success)
        seen = Counter(name for r in eps for name in r.objects)
        tried = Counter(a.target for a in executed if a.target is not None)
        picked = Counter(a.picked for a in executed if a.picked is not None)
        per_object = {name: (seen[name], tried[name], picked[name]) for name in sorted(seen)}
        by_class: dict[str, dict[str, tuple[int, int]]] = {}
        for a in executed:
            for dim, label in (classes or {}).get(a.target, {}).items():
                n, k = by_class.setdefault(dim, {}).get(label, (0, 0))
                by_class[dim][label] = (n + 1, k + int(a.success))
        out.append(PolicySummary(
            policy=policy, gripper=eps[0].gripper, episodes=len(eps), attempts=len(executed),
            successes=successes, success_rate=successes / len(executed) if executed else 0.0, ci_low=lo,
            ci_high=hi, objects=objects, clearance=sum(r.picked for r in eps) / objects if objects else 0.0,
            knocked_out=sum(r.knocked_out for r in eps), mean_plan_s=float(np.mean(plan)) if plan else 0.0,
            picks_per_hour=3600.0 * successes / busy if busy > 0 else 0.0, robot_cycle_s=robot_cycle_s,
            failures=dict(sorted(failures.items())), per_object=per_object,
            by_class={dim: dict(sorted(c.items(), key=lambda kv: _class_key(kv[0])))
                      for dim, c in sorted(by_class.items())}))
    return out


def report_markdown(summaries: list[PolicySummary], command: str = "") -> str:
    """Markdown tables: the summary per policy, failures by cause, and per-object picks."""
    lines = []
    if command:
        lines += [f"Command: `{command}`", ""]
    lines += ["| policy | gripper | episodes | attempts | success rate (95% CI) | clearance | "
              "plan s (mean) | picks/h | knocked out |",
              "|---|---|---|---|---|---|---|---|---|"]
    for s in summaries:
        lines.append(f"| {s.policy} | {s.gripper} | {s.episodes} | {s.attempts} | "
                     f"{100 * s.success_rate:.1f}% ({100 * s.ci_low:.1f}-{100 * s.ci_high:.1f}) | "
                     f"{100 * s.clearance:.1f}% | "
                     f"{s.mean_plan_s:.3f} | {s.picks_per_hour:.0f} | {s.knocked_out} |")
    if summaries:
        lines += ["", "picks/h: successes per hour of planning time plus "
                  f"{summaries[0].robot_cycle_s:g} s of robot motion per attempt.", ""]
    causes = sorted({c for s in summaries for c in s.failures})
    if causes:
        lines += ["Failures by cause:", "", "| policy | " + " | ".join(causes) + " |",
                  "|---|" + "---|" * len(causes)]
        for s in summaries:
            lines.append(f"| {s.policy} | " + " | ".join(str(s.failures.get(c, 0)) for c in causes) + " |")
        lines.append("")
    for dim in sorted({d for s in summaries for d in s.by_class}):
        labels = sorted({label for s in summaries for label in s.by_class.get(dim, {})}, key=_class_key)
        lines += [f"Success by object {dim} (picks / attempts on such objects):", "",
                  "| policy | " + " | ".join(labels) + " |", "|---|" + "---|" * len(labels)]
        for s in summaries:
            cells = [s.by_class.get(dim, {}).get(label, (0, 0)) for label in labels]
            lines.append(f"| {s.policy} | " + " | ".join(f"{k}/{n}" for n, k in cells) + " |")
        lines.append("")
    names = sorted({n for s in summaries for n in s.per_object})
    if names:
        lines += ["Per object: picks / attempts on it / appearances", "",
                  "| object | " + " | ".join(s.policy for s in summaries) + " |",
                  "|---|" + "---|" * len(summaries)]
        for n in names:
            cells = []
            for s in summaries:
                seen, tried, picked = s.per_object.get(n, (0, 0, 0))
                cells.append(f"{picked}/{tried}/{seen}")
            lines.append(f"| {n} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def episode_image(result: EpisodeResult, intrinsics: CameraIntrinsics,
                  max_width_px: int = 2560) -> np.ndarray:
    """(H, W, 3) uint8 RGB: the kept frames of an episode side by side (depth, heatmap if any, the chosen
    grasp), each under a bar: green = picked, red = failed."""
    from dexnet_core.planning.overlay import heatmap_overlay

    if not result.frames:
        raise ValueError(f"episode {result.seed} ({result.policy}) kept no frames")
    tiles = []
    for frame, attempt in zip(result.frames, result.attempts):
        heat = frame.heatmap if frame.heatmap is not None else np.zeros_like(frame.depth)
        rgb = heatmap_overlay(frame.depth, heat, [frame.grasp], intrinsics)
        bar = np.zeros((12, rgb.shape[1], 3), np.uint8)
        bar[:] = (40, 200, 40) if attempt.success else (220, 40, 40)
        tiles.append(np.concatenate([bar, rgb], axis=0))
    image = np.concatenate(tiles, axis=1)
    if image.shape[1] > max_width_px:  # keep PNGs small: subsample
        step = int(math.ceil(image.shape[1] / max_width_px))
        image = image[::step, ::step]
    return np.ascontiguousarray(image)
