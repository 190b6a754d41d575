import pathlib
import pickle

import numpy as np
import pytest
import torch

from dexnet_core.errors import CheckpointError
from dexnet_core.models import get_model
from dexnet_core.models.checkpoint import (
    DEXNET2_NORM,
    DEXNET3_NORM,
    GraspQualityModel,
    Normalization,
    load_checkpoint,
    load_training_state,
    save_checkpoint,
)


def small_gqm(**kw):
    model = get_model("gqcnn_small", channels=4, fc_size=8, uses_depth=True).eval()
    fields = dict(gripper="parallel_jaw", norm=Normalization(0.7, 0.004, 0.68, 0.02),
                  label_field="robust_ferrari_canny", threshold=0.002)
    fields.update(kw)
    return GraspQualityModel(model=model, arch="gqcnn_small",
                             arch_kwargs={"channels": 4, "fc_size": 8, "uses_depth": True}, **fields)


def test_normalization_validates():
    with pytest.raises(ValueError, match="im_std"):
        Normalization(0.7, 0.0)
    with pytest.raises(ValueError, match="im_mean"):
        Normalization(float("nan"), 1.0)


def test_round_trip_with_training_state(tmp_path):
    gqm = small_gqm(config={"optimizer": {"lr": 0.01}}, meta={"dataset_hash": "abc123"})
    opt = torch.optim.SGD(gqm.model.parameters(), lr=0.01, momentum=0.9)
    gqm.model(torch.randn(2, 1, 32, 32), torch.randn(2)).sum().backward()
    opt.step()
    path = save_checkpoint(tmp_path / "run" / "best.pt", gqm, optimizer=opt.state_dict(), step=7, epoch=1,
                           best_val_loss=0.25, split={"val": [1, 2, 3]})
    raw = torch.load(path, weights_only=True)
    assert raw["arch"] == "gqcnn_small" and raw["meta"]["dataset_hash"] == "abc123"
    assert raw["meta"]["package_version"]
    loaded = load_checkpoint(path)
    assert (loaded.gripper, loaded.norm, loaded.label_field, loaded.threshold) == (
        "parallel_jaw", gqm.norm, "robust_ferrari_canny", 0.002)
    assert loaded.config == {"optimizer": {"lr": 0.01}}
    crops = np.random.default_rng(0).normal(0.7, 0.01, (5, 32, 32)).astype(np.float32)
    depths = np.full(5, 0.69, np.float32)
    np.testing.assert_allclose(loaded.score(crops, depths), gqm.score(crops, depths), rtol=0, atol=1e-7)
    state = load_training_state(path)
    assert state["step"] == 7 and state["split"] == {"val": [1, 2, 3]}
    opt2 = torch.optim.SGD(loaded.model.parameters(), lr=0.01, momentum=0.9)
    opt2.load_state_dict(state["optimizer"])
    assert load_checkpoint(path, threshold=0.5).threshold == 0.5


def test_score_normalises_and_batches():
    gqm = small_gqm()
    crops = np.random.default_rng(1).normal(0.7, 0.01, (7, 32, 32, 1)).astype(np.float32)
    depths = np.linspace(0.6, 0.8, 7).astype(np.float32)
    out = gqm.score(crops, depths, batch_size=3)
    assert out.shape == (7,) and out.dtype == np.float32
    with torch.no_grad():
        im = (torch.from_numpy(crops[..., 0]).unsqueeze(1) - 0.7) / 0.004
        expected = gqm.model(im, (torch.from_numpy(depths) - 0.68) / 0.02).numpy()
    np.testing.assert_allclose(out, expected, atol=1e-6)
    with pytest.raises(ValueError, match="gripper depths"):
        gqm.score(crops)
    with pytest.raises(ValueError, match="crops must be"):
        gqm.score(crops[:, :16])


def test_bare_reference_state_dict(tmp_path, reference):
    ref = reference.DexNetBase().eval()
    path = tmp_path / "suction.pt"
    torch.save(ref.state_dict(), path)
    gqm = load_checkpoint(path, gripper="suction")
    assert gqm.arch == "dexnet_base" and gqm.gripper == "suction" and gqm.norm == DEXNET3_NORM
    crops = np.random.default_rng(2).normal(0.6, 0.01, (4, 32, 32)).astype(np.float32)
    with torch.no_grad():
        expected = ref((torch.from_numpy(crops).unsqueeze(1) - DEXNET3_NORM.im_mean) / DEXNET3_NORM.im_std)
    np.testing.assert_allclose(gqm.score(crops), expected.reshape(-1).numpy(), atol=1e-6)
    pj = load_checkpoint(path, gripper="parallel_jaw")
    assert pj.norm == DEXNET2_NORM and pj.label_field == "robust_ferrari_canny"


def test_corrupt_missing_and_foreign_files(tmp_path):
    bad = tmp_path / "corrupt.pt"
    bad.write_bytes(b"not a zip file at all")
    with pytest.raises(CheckpointError, match="corrupt.pt"):
        load_checkpoint(bad)
    truncated = tmp_path / "truncated.pt"
    save_checkpoint(tmp_path / "good.pt", small_gqm())
    truncated.write_bytes((tmp_path / "good.pt").read_bytes()[:500])
    with pytest.raises(CheckpointError, match="truncated.pt"):
        load_checkpoint(truncated)
    with pytest.raises(CheckpointError, match="missing.pt"):
        load_checkpoint(tmp_path / "missing.pt")
    foreign = tmp_path / "foreign.pt"
    torch.save({"layer.weight": torch.zeros(3)}, foreign)
    with pytest.raises(CheckpointError, match="foreign.pt"):
        load_checkpoint(foreign)
    with pytest.raises(ValueError, match="unknown override"):
        load_checkpoint(tmp_path / "good.pt", colour="red")


@pytest.mark.parametrize("content, reason", [
    (b"not a zip file at all", "corrupt, truncated or not a PyTorch file"),
    (b"", "corrupt, truncated or not a PyTorch file"),
    (pickle.dumps({"a": 1}, protocol=4), "corrupt, truncated or not a PyTorch file"),
    ("object", "holds a Python object of type pathlib.PurePosixPath; only tensors and plain data"),
], ids=["garbage", "empty", "pickle", "object"])
def test_an_unreadable_checkpoint_is_one_line_that_never_advises_unsafe_loading(tmp_path, content, reason):
    path = tmp_path / "bad.pt"
    if content == "object":
        torch.save({"where": pathlib.PurePosixPath("/x")}, path)
    else:
        path.write_bytes(content)
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path)
    text = str(info.value)
    assert text.startswith(f"{path}: ") and reason in text
    assert "\n" not in text and "weights_only" not in text


def test_loading_flushes_tiny_weights(tmp_path):
    gqm = small_gqm()
    with torch.no_grad():
        gqm.model.fc.weight[0, :5] = 1e-40  # what weight decay leaves on dead weights
        gqm.model.fc.weight[0, 5:8] = 2e-37  # normal, but its products with activations are subnormal
        gqm.model.fc.weight[1, 0] = 1e-18  # small weights above sqrt(tiny) stay
    crops, z = 0.7 + 0.004 * np.random.default_rng(0).standard_normal((6, 32, 32)), np.full(6, 0.69)
    before = gqm.score(crops.astype(np.float32), z)
    loaded = load_checkpoint(save_checkpoint(tmp_path / "m.pt", gqm))
    w = loaded.model.fc.weight.detach()
    assert (w[0, :8] == 0).all() and float(w[1, 0]) == pytest.approx(1e-18)
    assert ((w != 0) & (w.abs() < torch.finfo(torch.float32).tiny ** 0.5)).sum() == 0
    np.testing.assert_allclose(loaded.score(crops.astype(np.float32), z), before, atol=1e-6)
