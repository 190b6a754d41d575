"""Report figures computed from hand-made episodes, checked by hand."""

from types import SimpleNamespace

import numpy as np
import pytest

from dexnet_core.camera import CameraIntrinsics
from dexnet_core.planning.grasp import Grasp
from dexnet_core.sim.episode import Attempt, EpisodeResult, Frame
from dexnet_core.sim.report import episode_image, object_classes, report_markdown, summarize, wilson_interval


def attempt(success, cause, target, plan_s=0.5):
    return Attempt(success, cause, target, target if success else None, 0.8, plan_s, 0.1, (10.0, 12.0), 0.0,
                   0.6)


@pytest.fixture
def episodes():
    a = EpisodeResult(0, "planner", "suction", ["mug", "box"],
                      [attempt(True, "success", "mug"), attempt(False, "no_seal", "box"),
                       attempt(True, "success", "box")], knocked_out=0)
    b = EpisodeResult(1, "planner", "suction", ["mug", "can"],
                      [attempt(False, "dropped_lift", "can", plan_s=1.5), attempt(True, "success", "mug"),
                       attempt(False, "no_grasp", None, plan_s=0.0)], knocked_out=1)
    c = EpisodeResult(0, "random", "suction", ["mug", "box"],
                      [attempt(False, "no_seal", None, plan_s=0.0)] * 3, knocked_out=0)
    return [a, b, c]


def test_wilson_interval_hand_values():
    lo, hi = wilson_interval(8, 10)
    # p = 0.8, n = 10, z = 1.96: centre (0.8 + 0.19208) / 1.38416, half 1.96 sqrt(0.016 + 0.0096040) / 1.38416
    assert lo == pytest.approx(0.4902, abs=1e-4) and hi == pytest.approx(0.9433, abs=1e-4)
    assert wilson_interval(0, 0) == (0.0, 1.0)
    lo, hi = wilson_interval(0, 20)
    assert lo == 0.0 and hi == pytest.approx(0.1611, abs=1e-4)
    with pytest.raises(ValueError):
        wilson_interval(3, 2)


def test_summary_fields(episodes):
    planner, random = summarize(episodes, robot_cycle_s=6.0)
    assert (planner.policy, planner.episodes, planner.attempts, planner.successes) == ("planner", 2, 5, 3)
    assert planner.success_rate == pytest.approx(0.6)
    assert (planner.ci_low, planner.ci_high) == pytest.approx(wilson_interval(3, 5))
    assert planner.objects == 4 and planner.clearance == pytest.approx(0.75)
    assert planner.knocked_out == 1
    assert planner.mean_plan_s == pytest.approx((0.5 * 4 + 1.5) / 5)
    # 3 picks in (3.5 s planning + 5 * 6 s robot time)
    assert planner.picks_per_hour == pytest.approx(3600 * 3 / 33.5)
    assert planner.failures == {"dropped_lift": 1, "no_grasp": 1, "no_seal": 1}
    assert planner.per_object == {"box": (1, 2, 1), "can": (1, 1, 0), "mug": (2, 2, 2)}
    assert random.attempts == 3 and random.successes == 0 and random.picks_per_hour == 0.0
    assert random.per_object == {"box": (1, 0, 0), "mug": (1, 0, 0)}


def test_markdown_lists_every_policy_and_cause(episodes):
    text = report_markdown(summarize(episodes), command="dexnet sim --episodes 2")
    assert "`dexnet sim --episodes 2`" in text
    assert "| planner | suction | 2 | 5 | 60.0% (" in text
    assert "| random | suction | 1 | 3 | 0.0% (" in text
    assert "dropped_lift | no_grasp | no_seal" in text
    assert "| mug | 2/2/2 | 0/0/1 |" in text


def test_success_by_object_class(episodes):
    def obj(name, mass, extents):
        return SimpleNamespace(name=name, mass=mass, mesh=SimpleNamespace(extents=np.array(extents)))

    objects = [obj("mug", 0.25, [0.08, 0.1, 0.07]), obj("box", 0.05, [0.2, 0.03, 0.12]),
               obj("can", 0.4, [0.09, 0.09, 0.12])]
    classes = object_classes(objects, opening_m=0.08)
    assert classes["mug"] == {"mass": "0.1-0.3 kg", "middle side": "<= 8 cm"}
    assert classes["box"] == {"mass": "< 0.1 kg", "middle side": "> 8 cm"}  # 12 cm is its middle side
    assert classes["can"] == {"mass": ">= 0.3 kg", "middle side": "> 8 cm"}
    assert object_classes(objects)["can"] == {"mass": ">= 0.3 kg"}  # suction: mass only
    planner, random = summarize(episodes, classes=classes)
    # planner attempts: mug 2 (2 picks), box 2 (1 pick), can 1 (0); the no_grasp ends are not attempts
    assert planner.by_class == {"mass": {"< 0.1 kg": (2, 1), "0.1-0.3 kg": (2, 2), ">= 0.3 kg": (1, 0)},
                                "middle side": {"<= 8 cm": (2, 2), "> 8 cm": (3, 1)}}
    assert list(planner.by_class["mass"]) == ["< 0.1 kg", "0.1-0.3 kg", ">= 0.3 kg"]
    assert random.by_class == {}  # its attempts hit no object
    text = report_markdown([planner, random])
    assert "| policy | < 0.1 kg | 0.1-0.3 kg | >= 0.3 kg |" in text
    assert "| planner | 1/2 | 2/2 | 0/1 |" in text and "| random | 0/0 | 0/0 | 0/0 |" in text
    assert summarize(episodes)[0].by_class == {}


def test_episode_image_tiles_frames(episodes):
    cam = CameraIntrinsics(100.0, 100.0, 31.5, 23.5, 64, 48)
    depth = np.full((48, 64), 0.7, np.float32)
    g = Grasp((10.0, 12.0), 0.0, 0.6, 0.0, 0.8, "suction", (0.0, 0.0, 0.6), (0.0, 0.0, 0.0, 1.0))
    ep = episodes[0]
    ep.frames = [Frame(depth, None, g), Frame(depth, np.full((48, 64), 0.5, np.float32), g)]
    img = episode_image(ep, cam)
    assert img.shape == (48 + 12, 128, 3) and img.dtype == np.uint8
    assert tuple(img[0, 0]) == (40, 200, 40) and tuple(img[0, 64]) == (220, 40, 40)  # success, failure bars
    with pytest.raises(ValueError, match="no frames"):
        episode_image(episodes[2], cam)
