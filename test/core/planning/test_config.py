"""PlannerConfig validation."""

import pytest

from dexnet_core.planning.config import PlannerConfig


@pytest.mark.parametrize("bad", [
    {"num_angles": 0}, {"stride": 1.5}, {"top_k": True}, {"depth_offsets": (0.05, 0.01)},
    {"depth_offsets": [0.05]}, {"depth_offsets": [0.01, 0.02, 0.03]},
    {"min_quality": 1.5}, {"nms_radius_px": -1.0}, {"roi": (0, 0, 0, 10)},
    {"min_depth_m": 2.0, "max_depth_m": 1.0},
    {"training_depth_m": 0.0}, {"jaw_width_m": -0.01}, {"suction_symmetries": 3}, {"jaw_symmetries": 8},
])
def test_bad_values_raise_with_the_value(bad):
    with pytest.raises(ValueError) as err:
        PlannerConfig(**bad)
    assert str(list(bad.values())[-1]) in str(err.value)


def test_from_dict_rejects_unknown_and_converts_lists():
    cfg = PlannerConfig.from_dict({"num_angles": 8, "roi": [1, 2, 3, 4], "depth_offsets": [0.0, 0.02]})
    assert cfg.num_angles == 8 and cfg.roi == (1, 2, 3, 4) and cfg.depth_offsets == (0.0, 0.02)
    with pytest.raises(ValueError, match="num_angle"):
        PlannerConfig.from_dict({"num_angle": 8})
