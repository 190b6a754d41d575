"""ONNX export (crops and fully convolutional graphs) run through onnxruntime, and the planner's
onnxruntime backend, against torch."""

import dataclasses

import numpy as np
import pytest
import torch

from dexnet_core.camera import CameraIntrinsics
from dexnet_core.cli import main
from dexnet_core.models import get_model
from dexnet_core.models.checkpoint import GraspQualityModel, load_checkpoint, save_checkpoint
from dexnet_core.models.onnx_backend import onnx_heatmap
from dexnet_core.planning.config import PlannerConfig
from dexnet_core.planning.planner import GraspPlanner

ort = pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")


@pytest.fixture(scope="module")
def pj():
    """The shipped parallel-jaw model (gqcnn_small with a gripper-depth input); one export per module."""
    return load_checkpoint("dexnet2_pj_small")


def _metric(gqm, *shape, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return gqm.norm.im_mean + 2 * gqm.norm.im_std * torch.randn(*shape, generator=gen)


def test_heatmap_graph_matches_torch_at_any_batch_and_image_size(pj):
    heat = onnx_heatmap(pj, stride=4, device="cpu")
    meta = heat.session.get_modelmeta().custom_metadata_map
    assert meta["kind"] == "fully_convolutional" and meta["gripper"] == "parallel_jaw"
    assert meta["stride"] == "4" and meta["uses_depth"] == "true" and meta["fc_semantics"] == "exact"
    assert float(meta["im_mean"]) == pj.norm.im_mean and float(meta["z_std"]) == pj.norm.z_std
    assert meta["label_field"] == pj.label_field and meta["version"]
    dims = {i.name: i.shape for i in heat.session.get_inputs()}
    assert all(isinstance(d, str) for d in dims["depth"][:1] + dims["depth"][2:] + dims["gripper_depth"])
    for b, h, w, k in ((1, 32, 32, 1), (3, 77, 101, 5)):
        depth = _metric(pj, b, 1, h, w, seed=h)
        z = pj.norm.z_mean + pj.norm.z_std * torch.rand(b, k)
        got = heat.session.run(["quality"], {"depth": depth.numpy(), "gripper_depth": z.numpy()})[0]
        want = pj.heatmap(depth, z, stride=4)
        assert got.shape == tuple(want.shape) == (b, k, (h - 32) // 4 + 1, (w - 32) // 4 + 1)
        assert np.abs(got - want.numpy()).max() < 1e-4
    assert want.std() > 0.01  # the maps are not flat
    one = heat(depth, z[:, 0], stride=4)  # called like GraspQualityModel.heatmap with (B,) depths
    assert torch.allclose(one, pj.heatmap(depth, z[:, 0], stride=4), atol=1e-4)


def test_planner_with_the_onnxruntime_backend_plans_what_torch_plans(pj):
    camera = CameraIntrinsics(200.0, 200.0, 79.5, 59.5, 160, 120)
    v, u = np.mgrid[0:120, 0:160]
    depth = (0.7 + 0.003 * np.sin(u / 7.0) * np.cos(v / 5.0)).astype(np.float32)
    depth[40:80, 60:100] = 0.65
    config = PlannerConfig(num_angles=4, depth_bins=4, stride=4)
    want = GraspPlanner(pj, config).plan(depth, camera)
    onnx_planner = GraspPlanner(pj, dataclasses.replace(config, backend="onnxruntime"))
    assert onnx_planner._heatmap is onnx_heatmap(pj, 4, "cpu")  # the session of the test above, cached
    got = onnx_planner.plan(depth, camera)
    assert [g.center_px for g in got.grasps] == [g.center_px for g in want.grasps]
    assert np.allclose([g.q_value for g in got.grasps], [g.q_value for g in want.grasps], atol=1e-4)
    assert np.abs(got.heatmap - want.heatmap).max() < 1e-4


def test_export_command_writes_a_crop_model_with_metadata(pj, tmp_path):
    import onnx

    out = tmp_path / "pj.onnx"
    assert main(["export", "dexnet2_pj_small", str(out)]) == 0
    model = onnx.load(str(out))
    onnx.checker.check_model(model)
    meta = {p.key: p.value for p in model.metadata_props}
    assert meta["format"] == "dexnet_ros.onnx" and meta["kind"] == "crops" and "stride" not in meta
    assert meta["arch"] == "gqcnn_small" and float(meta["threshold"]) == pj.threshold
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    for n in (1, 37):
        crops = _metric(pj, n, 1, 32, 32, seed=n)
        z = pj.norm.z_mean + pj.norm.z_std * torch.randn(n)
        got = session.run(["quality"], {"crops": crops.numpy(), "gripper_depth": z.numpy()})[0]
        want = pj.score(crops[:, 0].numpy(), z.numpy())
        assert got.shape == (n,) and np.abs(got - want).max() < 1e-4


def test_models_without_an_fc_form_are_refused_in_one_line(tmp_path, capsys):
    gqm = GraspQualityModel(get_model("efficientnet_b0"), "efficientnet_b0")
    path = save_checkpoint(tmp_path / "eff.pt", gqm)
    assert main(["export", str(path), str(tmp_path / "eff.onnx"), "--fully-convolutional"]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "efficientnet_b0 has no fully convolutional form" in err
    assert not (tmp_path / "eff.onnx").exists()


def test_onnxruntime_backend_refuses_exact_maps_of_same_padded_models():
    kwargs = {"channels": 4, "fc_size": 8, "padding": "same"}
    gqm = GraspQualityModel(get_model("gqcnn_small", **kwargs), "gqcnn_small", kwargs)
    with pytest.raises(ValueError, match="exact_fc: false"):
        GraspPlanner(gqm, PlannerConfig(backend="onnxruntime", exact_fc=True))
    with pytest.raises(ValueError, match="planner.backend must be one of"):
        PlannerConfig(backend="tensorrt")
