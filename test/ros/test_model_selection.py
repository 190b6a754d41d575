"""How heatmap_node picks its model from the model / gripper / device parameters (in process)."""

from __future__ import annotations

import pytest
import torch

from dexnet_core.errors import CheckpointError
from dexnet_core.models.pretrained import DEFAULT_MODELS, list_pretrained
from dexnet_ros.heatmap_node import load_model, one_line


def values(**kw):
    return {"model": "", "gripper": "parallel_jaw", "device": "cpu", **kw}


def test_explicit_checkpoint(tiny_checkpoints):
    gqm, device = load_model(values(model=str(tiny_checkpoints["suction"]), gripper="suction"))
    assert gqm.gripper == "suction" and device == "cpu" and str(gqm.device) == "cpu"
    _, device = load_model(values(model=str(tiny_checkpoints["parallel_jaw"]), device="auto"))
    assert device == ("cuda" if torch.cuda.is_available() else "cpu")


@pytest.mark.parametrize("gripper", ["parallel_jaw", "suction"])
def test_empty_model_means_the_shipped_default_for_the_gripper(gripper):
    name = DEFAULT_MODELS[gripper]
    if name in list_pretrained():
        gqm, _ = load_model(values(gripper=gripper))
        assert gqm.gripper == gripper
    else:
        with pytest.raises(CheckpointError, match=f"unknown model '{name}'"):
            load_model(values(gripper=gripper))


def test_wrong_gripper_unknown_name_and_missing_cuda(tiny_checkpoints, tmp_path):
    with pytest.raises(ValueError, match="is a suction model but the gripper is parallel_jaw"):
        load_model(values(model=str(tiny_checkpoints["suction"])))
    with pytest.raises(CheckpointError, match=r"unknown model 'nope'.*\(shipped: "):
        load_model(values(model="nope"))
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(b"\x00" * 64)
    with pytest.raises(CheckpointError) as info:
        load_model(values(model=str(corrupt)))
    assert "corrupt.pt" in one_line(info.value) and "\n" not in one_line(info.value)
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA device"):
            load_model(values(model=str(tiny_checkpoints["parallel_jaw"]), device="cuda"))
