import pytest
import torch
from torch import nn

from dexnet_core.models import get_model
from dexnet_core.models.gqcnn import ChannelLRN


@pytest.mark.parametrize("size,alpha", [(2, 2e-5), (5, 1e-4), (3, 1.0)])
def test_channel_lrn_equals_library_lrn(size, alpha):
    x = torch.randn(2, 7, 5, 6) * 30
    ref = nn.LocalResponseNorm(size, alpha=alpha, beta=0.75, k=1.0)(x)
    torch.testing.assert_close(ChannelLRN(size, alpha, 0.75, 1.0)(x), ref)
    cl = x.contiguous(memory_format=torch.channels_last)
    expected = nn.LocalResponseNorm(size, alpha, 0.6, 2.0)(x)
    torch.testing.assert_close(ChannelLRN(size, alpha, 0.6, 2.0)(cl), expected)


def test_dexnet_base_matches_reference_state_dict(reference):
    ref = reference.DexNetBase().eval()
    ours = get_model("dexnet_base").eval()
    ours.load_state_dict(ref.state_dict())  # strict: same keys and shapes
    assert sum(p.numel() for p in ours.parameters()) == pytest.approx(18.0e6, rel=0.01)
    im = torch.randn(16, 1, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(ours(im), ref(im).reshape(-1), atol=1e-6, rtol=1e-5)


def test_layouts():
    assert get_model("dexnet_base").feature_shape == (64, 16, 16)
    dexnet2 = get_model("gqcnn_dexnet2")
    assert dexnet2.feature_shape == (64, 8, 8) and dexnet2.uses_depth and dexnet2.pool_factor == 4
    assert sum(p.numel() for p in dexnet2.parameters()) == pytest.approx(5.4e6, rel=0.02)
    small = get_model("gqcnn_small", channels=8, fc_size=32, padding="same")
    assert small.feature_shape == (8, 8, 8)
    with pytest.raises(ValueError, match="padding"):
        get_model("gqcnn_small", padding="reflect")


def test_dexnet2_lrn_is_tf_depth_radius_2():
    lrn = next(op.module for op in get_model("gqcnn_dexnet2").trunk_ops if op.kind == "lrn")
    assert (lrn.size, lrn.alpha, lrn.beta, lrn.k) == (5, 1e-4, 0.75, 1.0)


def test_logits_are_the_probability_logits():
    model = get_model("gqcnn_dexnet2").eval()
    im, z = torch.randn(4, 1, 32, 32), torch.randn(4)
    with torch.no_grad():
        torch.testing.assert_close(torch.sigmoid(model.logits(im, z)), model(im, z))


@pytest.mark.parametrize("size,alpha,beta,k",
                         [(5, 1e-3, 0.75, 1.0), (2, 2e-5, 0.75, 1.0), (4, 0.5, 0.6, 2.0)])
def test_channel_lrn_gradient_equals_library_lrn(size, alpha, beta, k):
    x1 = (torch.randn(2, 6, 4, 4) * 20).contiguous(memory_format=torch.channels_last).requires_grad_()
    x2 = x1.detach().contiguous().requires_grad_()
    weights = torch.randn(2, 6, 4, 4)
    (ChannelLRN(size, alpha, beta, k)(x1) * weights).sum().backward()
    (nn.LocalResponseNorm(size, alpha, beta, k)(x2) * weights).sum().backward()
    torch.testing.assert_close(x1.grad, x2.grad)
    x = torch.randn(1, 5, 3, 2, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(ChannelLRN(size, alpha, beta, k), (x,))
