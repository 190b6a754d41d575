"""The CUDA paths against their CPU counterparts; skipped where torch sees no CUDA device."""

import numpy as np
import pytest
import torch

from dexnet_core.camera import CameraIntrinsics
from dexnet_core.data.augment import AugmentConfig, augment_batch
from dexnet_core.models import get_model
from dexnet_core.models.fc_gqcnn import to_fully_convolutional
from dexnet_core.planning.config import PlannerConfig
from dexnet_core.planning.planner import GraspPlanner

pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")]


@pytest.mark.parametrize("name, kwargs", [("gqcnn_small", {"uses_depth": True}), ("dexnet_base", {})])
def test_fc_heatmap_on_cuda_equals_cpu(name, kwargs):
    torch.manual_seed(0)
    model = get_model(name, **kwargs).eval()
    im = torch.randn(2, 1, 83, 77)
    z = torch.randn(2, 3) if model.uses_depth else None
    with torch.no_grad():
        cpu = to_fully_convolutional(model, exact=False)(im, z, stride=1)
        gpu = to_fully_convolutional(model.cuda(), exact=False)(im.cuda(), None if z is None else z.cuda(),
                                                                 stride=1)
    assert gpu.shape == cpu.shape and cpu.std() > 0
    assert (gpu.cpu() - cpu).abs().max() < 1e-4


def test_augmentation_on_cuda_is_seeded_and_keeps_depth_values():
    im = 0.7 + 0.01 * torch.rand(256, 1, 32, 32, device="cuda")
    cfg = AugmentConfig(gp_noise=False, rotate_180=True, flip_vertical=True, flip_horizontal=True)
    a = augment_batch(im, cfg, torch.Generator(device="cuda").manual_seed(3))
    b = augment_batch(im, cfg, torch.Generator(device="cuda").manual_seed(3))
    assert a.device.type == "cuda" and torch.equal(a, b) and not torch.equal(a, im)
    # flips and rotations only move pixels: every crop keeps its sorted values
    torch.testing.assert_close(a.flatten(1).sort().values, im.flatten(1).sort().values)


@pytest.mark.parametrize("model_name", ["dexnet3_suction_small", "dexnet2_pj_small"])
def test_planner_on_cuda_matches_cpu(model_name):
    v, u = np.mgrid[0:240, 0:320].astype(np.float64)
    depth = 0.7 + 0.002 * np.sin(u / 9.0)
    depth[80:160, 120:200] = 0.64 + 0.003 * np.cos(v[80:160, 120:200] / 6.0)
    camera = CameraIntrinsics(262.5, 262.5, 159.5, 119.5, 320, 240)
    cfg = PlannerConfig(num_angles=4, depth_bins=3, top_k=3)
    cpu = GraspPlanner.from_checkpoint(model_name, cfg, device="cpu").plan(depth.astype(np.float32), camera)
    gpu = GraspPlanner.from_checkpoint(model_name, cfg, device="cuda").plan(depth.astype(np.float32), camera)
    assert len(gpu.grasps) == len(cpu.grasps) > 0
    for a, b in zip(cpu.grasps, gpu.grasps):
        assert a.q_value == pytest.approx(b.q_value, abs=1e-3)
        assert np.allclose(a.center_px, b.center_px)
