import numpy as np
import pytest
import torch
from torch import nn

from dexnet_core.models import get_model
from dexnet_core.models.checkpoint import GraspQualityModel, Normalization
from dexnet_core.models.fc_gqcnn import heatmap_cell_centers, heatmap_shape, to_fully_convolutional

CASES = [("gqcnn_small", {}), ("gqcnn_small", {"uses_depth": True, "channels": 8, "fc_size": 32}),
         ("gqcnn_dexnet2", {}), ("dexnet_base", {})]


def lively(model: nn.Module) -> nn.Module:
    """Re-initialise so that outputs spread over (0, 1) instead of sitting near 0.5 (logit std ~2)."""
    for module in model.modules():
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
            if module.bias is not None:
                nn.init.normal_(module.bias, std=0.1)
    model.eval()
    with torch.no_grad():
        z = torch.randn(64) if model.uses_depth else None
        logits = model.logits(torch.randn(64, 1, 32, 32), z)
        model.fc3.weight /= logits.std() / 2
        model.fc3.bias -= model.logits(torch.randn(64, 1, 32, 32), z).mean()
    return model


@pytest.fixture(scope="module")
def models():
    torch.manual_seed(1)
    return {(name, tuple(kw.items())): lively(get_model(name, **kw)) for name, kw in CASES}


def crop_loop(model, im, z, stride):
    h, w = im.shape[2:]
    rows = [torch.stack([model(im[:, :, r:r + 32, c:c + 32], z) for c in range(0, w - 31, stride)], -1)
            for r in range(0, h - 31, stride)]
    return torch.stack(rows, -2)



@pytest.mark.parametrize("name,kwargs", CASES)
@pytest.mark.parametrize("stride", [1, 2, 3])
def test_fc_equals_crop_loop(models, name, kwargs, stride):
    model = models[(name, tuple(kwargs.items()))]
    im = torch.randn(2, 1, 39, 36)  # odd sizes: last crops end short of the border on some strides
    z = torch.randn(2) if model.uses_depth else None
    with torch.no_grad():
        out = to_fully_convolutional(model)(im, z, stride=stride)
        expected = crop_loop(model, im, z, stride)
    assert out.shape == expected.shape == (2, (39 - 32) // stride + 1, (36 - 32) // stride + 1)
    assert expected.std() > 0.01  # the comparison is not between two near-constant maps
    assert (out - expected).abs().max() < 1e-4


DEPTH_CASES = [c for c in CASES if c[0] == "gqcnn_dexnet2" or c[1].get("uses_depth")]


@pytest.mark.parametrize("name,kwargs", DEPTH_CASES)
@pytest.mark.parametrize("exact", [True, False])
def test_depths_per_image_equal_one_call_per_depth(models, name, kwargs, exact):
    model = models[(name, tuple(kwargs.items()))]
    fc = to_fully_convolutional(model, exact=exact)
    im, z = torch.randn(2, 1, 41, 37), torch.randn(2, 3)
    with torch.no_grad():
        out = fc(im, z, stride=2)
        expected = torch.stack([fc(im, z[:, k], stride=2) for k in range(3)], 1)
    assert out.shape == (2, 3, 5, 3)
    assert (expected[:, 0] - expected[:, 1]).abs().max() > 1e-3  # the depth changes the map
    assert (out - expected).abs().max() < 1e-5
    with pytest.raises(ValueError, match="one row per image"):
        fc(im, torch.randn(3, 2))


@pytest.mark.parametrize("name,kwargs", CASES)
@pytest.mark.parametrize("exact", [True, False])
def test_chosen_cells_score_as_in_the_whole_map(models, name, kwargs, exact):
    model = models[(name, tuple(kwargs.items()))]
    fc = to_fully_convolutional(model, exact=exact)
    im = torch.randn(2, 1, 45, 41)
    z = torch.randn(2, 3) if model.uses_depth else None
    cells = torch.rand(heatmap_shape(45, 41, 2), generator=torch.Generator().manual_seed(0)) < 0.4
    assert cells.any() and not cells.all()
    with torch.no_grad():
        whole = fc(im, z, stride=2)
        some = fc(im, z, stride=2, cells=cells)
    assert some.shape == whole.shape
    assert whole[..., cells].std() > 0.01
    torch.testing.assert_close(some[..., cells], whole[..., cells], atol=1e-5, rtol=0)
    assert (some[..., ~cells] == 0).all()
    with pytest.raises(ValueError, match="cells must be"):
        fc(im, z, stride=2, cells=cells[:-1])


def test_fast_whole_image_map_equals_reference_fc(reference, models):
    model = models[("dexnet_base", ())]
    ref = reference.DexNetBase().eval()
    ref.load_state_dict(model.state_dict())
    im = torch.randn(1, 1, 41, 38)
    with torch.no_grad():
        theirs = reference.HighResFCGQCNN.from_gqcnn(ref).eval()(im)[:, 0]
        fc = to_fully_convolutional(model, exact=False)
        for stride in (1, 2, 4):
            ours = fc(im, stride=stride)
            assert ours.shape == (1, (41 - 32) // stride + 1, (38 - 32) // stride + 1)
            assert (ours - theirs[:, ::stride, ::stride]).abs().max() < 1e-4
    assert theirs.std() > 0.02


def test_valid_padding_is_exact_in_both_modes(models):
    model = models[("gqcnn_small", ())]
    im = torch.randn(1, 1, 37, 35)
    with torch.no_grad():
        torch.testing.assert_close(to_fully_convolutional(model, exact=False)(im),
                                   to_fully_convolutional(model, exact=True)(im))


def test_cell_centers_and_single_crop(models):
    rows, cols = heatmap_cell_centers(3, 2, 4)
    np.testing.assert_array_equal(rows, [16, 20, 24])
    np.testing.assert_array_equal(cols, [16, 20])
    model = models[("gqcnn_small", ())]
    im = torch.randn(3, 1, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(to_fully_convolutional(model)(im)[:, 0, 0], model(im))


def test_efficientnet_has_no_fc_form_and_bad_inputs_raise():
    with pytest.raises(TypeError, match="no fully convolutional form"):
        to_fully_convolutional(nn.Linear(2, 2))
    fc = to_fully_convolutional(get_model("gqcnn_small"))
    with pytest.raises(ValueError, match="H, W >= 32"):
        fc(torch.zeros(1, 1, 31, 40))
    with pytest.raises(ValueError, match="stride"):
        fc(torch.zeros(1, 1, 40, 40), stride=0)


def test_grasp_quality_model_heatmap_in_metres():
    model = lively(get_model("gqcnn_small", uses_depth=True))
    gqm = GraspQualityModel(model=model, arch="gqcnn_small", arch_kwargs={"uses_depth": True},
                            gripper="parallel_jaw", norm=Normalization(0.7, 0.01, 0.65, 0.03),
                            label_field="robust_ferrari_canny", threshold=0.002)
    depth = 0.7 + 0.01 * torch.randn(1, 1, 40, 44)
    heat = gqm.heatmap(depth, torch.tensor([0.69]), stride=2)
    assert heat.shape == (1, 5, 7)
    crops = depth[0, 0].unfold(0, 32, 2).unfold(1, 32, 2).reshape(-1, 32, 32).numpy()
    scores = gqm.score(crops, np.full(len(crops), 0.69, np.float32))
    np.testing.assert_allclose(heat.reshape(-1).numpy(), scores, atol=1e-5)
    per_depth = gqm.heatmap(depth, torch.tensor([[0.66, 0.69]]), stride=2)
    assert per_depth.shape == (1, 2, 5, 7)
    np.testing.assert_allclose(per_depth[0, 1].numpy(), heat[0].numpy(), atol=1e-5)
