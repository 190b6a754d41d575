"""Crop symmetries and test-time averaging over them."""

import pytest
import torch

from dexnet_core.models import get_model
from dexnet_core.models.fc_gqcnn import to_fully_convolutional
from dexnet_core.models.symmetries import symmetry_group, symmetry_mean


@pytest.mark.parametrize(("gripper", "count"), [("suction", 1), ("suction", 2), ("suction", 4),
                                               ("suction", 8), ("parallel_jaw", 4)])
def test_symmetry_mean_is_the_mean_over_transformed_crops(gripper, count):
    torch.manual_seed(0)
    model = get_model("gqcnn_small", channels=4, fc_size=8).eval()
    fc = to_fully_convolutional(model)
    im = torch.randn(1, 1, 32 + 2 * 5, 32 + 2 * 7)  # stride 2, a non-square canvas
    with torch.no_grad():
        heat = symmetry_mean(lambda x: fc(x, stride=2), im, symmetry_group(gripper, count))
        assert heat.shape == (1, 6, 8)
        for i, j in ((0, 0), (5, 7), (2, 6)):
            crop = im[:, :, 2 * i : 2 * i + 32, 2 * j : 2 * j + 32]
            views = {("suction", 1): [crop], ("suction", 2): [crop, crop.flip(2, 3)],
                     ("suction", 4): [torch.rot90(crop, k, (2, 3)) for k in range(4)],
                     ("parallel_jaw", 4): [crop, crop.flip(2), crop.flip(3), crop.flip(2, 3)],
                     }.get((gripper, count))
            if views is None:  # all eight: the four turns and their transposes
                views = [torch.rot90(crop, k, (2, 3)) for k in range(4)]
                views += [v.transpose(2, 3) for v in views]
            expected = torch.stack([model(v) for v in views]).mean()
            assert heat[0, i, j].item() == pytest.approx(expected.item(), abs=1e-6)


@pytest.mark.parametrize(("gripper", "count"), [("suction", 8), ("parallel_jaw", 4)])
def test_symmetry_mean_turns_the_cells_with_the_image(gripper, count):
    torch.manual_seed(0)
    fc = to_fully_convolutional(get_model("gqcnn_small", channels=4, fc_size=8).eval())
    im = torch.randn(1, 1, 32 + 2 * 5, 32 + 2 * 7)
    cells = torch.rand(6, 8) < 0.5
    group = symmetry_group(gripper, count)
    with torch.no_grad():
        whole = symmetry_mean(lambda x: fc(x, stride=2), im, group)
        some = symmetry_mean(lambda x, c: fc(x, stride=2, cells=c), im, group, cells)
    torch.testing.assert_close(some[:, cells], whole[:, cells], atol=1e-6, rtol=0)
    assert (some[:, ~cells] == 0).all()


def test_symmetry_groups_per_gripper():
    assert [len(symmetry_group("suction", n)) for n in (1, 2, 4, 8)] == [1, 2, 4, 8]
    with pytest.raises(ValueError, match=r"parallel_jaw grasp has symmetry counts \(1, 2, 4\), got 8"):
        symmetry_group("parallel_jaw", 8)  # a 90-degree turn makes the jaw axis vertical
    with pytest.raises(ValueError, match="unknown gripper"):
        symmetry_group("magnet", 1)
