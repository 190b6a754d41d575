"""Parameter tables: shipped YAML files match the declared defaults; mapping onto PlannerConfig."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from rcl_interfaces.msg import ParameterType

from dexnet_core.planning.config import PlannerConfig
from dexnet_ros.demo_source_node import DEMO_SOURCE_PARAMS
from dexnet_ros.parameters import HEATMAP_PARAMS, PLANNER_PARAMS, ParamSpec, planner_config

CONFIG = Path(__file__).resolve().parents[2] / "config"


@pytest.mark.parametrize("name, specs", [("heatmap.yaml", HEATMAP_PARAMS),
                                         ("demo_source.yaml", DEMO_SOURCE_PARAMS)])
def test_yaml_lists_every_parameter_with_its_default(name, specs):
    params = yaml.safe_load((CONFIG / name).read_text())["/**"]["ros__parameters"]
    assert params == {s.name: s.default for s in specs}


def test_planner_defaults_match_plannerconfig():
    assert planner_config({s.name: s.default for s in PLANNER_PARAMS}) == PlannerConfig()


def test_planner_config_mapping():
    values = {s.name: s.default for s in PLANNER_PARAMS}
    values.update(roi=[10, 20, 30, 40], depth_offsets=[0.01, 0.02], num_angles=8)
    cfg = planner_config(values)
    assert cfg.roi == (10, 20, 30, 40) and cfg.depth_offsets == (0.01, 0.02) and cfg.num_angles == 8
    with pytest.raises(ValueError, match="roi must be"):
        planner_config({**values, "roi": [1, 2, 3]})
    with pytest.raises(ValueError, match="min_depth_m < max_depth_m"):
        planner_config({**values, "min_depth_m": 2.0, "max_depth_m": 1.0})


def test_descriptors():
    specs = {s.name: s for s in HEATMAP_PARAMS}
    d = specs["num_angles"].descriptor()
    assert d.type == ParameterType.PARAMETER_INTEGER
    assert (d.integer_range[0].from_value, d.integer_range[0].to_value) == (1, 64)
    d = specs["min_quality"].descriptor()
    assert d.type == ParameterType.PARAMETER_DOUBLE and d.floating_point_range[0].to_value == 1.0
    assert specs["roi"].descriptor().type == ParameterType.PARAMETER_INTEGER_ARRAY
    assert specs["depth_offsets"].descriptor().type == ParameterType.PARAMETER_DOUBLE_ARRAY
    d = specs["device"].descriptor()
    assert d.type == ParameterType.PARAMETER_STRING and "cuda" in d.additional_constraints
    assert specs["qos_depth"].descriptor().read_only
    assert all(s.description for s in HEATMAP_PARAMS + DEMO_SOURCE_PARAMS)
    with pytest.raises(ValueError, match="gripper must be one of"):
        specs["gripper"].check("vacuum")
    ParamSpec("x", "a", "d", choices=("a",)).check("a")


def test_every_parameter_is_documented_in_the_readme():
    doc = (CONFIG.parent / "README.md").read_text()
    for spec in HEATMAP_PARAMS + DEMO_SOURCE_PARAMS:
        assert f"| `{spec.name}` |" in doc, spec.name
