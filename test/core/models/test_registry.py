import pytest
import torch
from torch import nn

from dexnet_core.models import get_model, list_models, register_model


def test_builtin_names_registered():
    assert {"dexnet_base", "gqcnn_dexnet2", "gqcnn_small", "efficientnet_b0"} <= set(list_models())


@pytest.mark.parametrize("name", [n for n in list_models() if n != "efficientnet_b0"])
def test_every_model_builds_and_runs(name):
    model = get_model(name).eval()
    assert model.input_size == 32
    im = torch.randn(3, 1, 32, 32)
    z = torch.randn(3) if model.uses_depth else None
    with torch.no_grad():
        out = model(im, z)
        feats = model.forward_features(im)
        head = model.forward_head(feats, z)
    assert out.shape == (3,)
    assert torch.isfinite(out).all() and (out >= 0).all() and (out <= 1).all()
    torch.testing.assert_close(head, out)


def test_unknown_name_lists_valid_names():
    with pytest.raises(ValueError, match="gqcnn_small"):
        get_model("no_such_net")


def test_duplicate_name_raises():
    with pytest.raises(ValueError, match="already registered"):
        register_model("gqcnn_small")(lambda: nn.Identity())


def test_depth_input_is_required_iff_model_uses_it():
    with_z = get_model("gqcnn_small", uses_depth=True).eval()
    without_z = get_model("gqcnn_small").eval()
    im = torch.randn(2, 1, 32, 32)
    with pytest.raises(ValueError, match="gripper depth"):
        with_z(im)
    with pytest.raises(ValueError, match="no gripper-depth"):
        without_z(im, torch.zeros(2))
    # z changes the output of a depth model
    with torch.no_grad():
        assert not torch.allclose(with_z(im, torch.full((2,), -3.0)), with_z(im, torch.full((2,), 3.0)))
