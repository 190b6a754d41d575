import pytest

from dexnet_core.errors import CheckpointError
from dexnet_core.models import get_model, pretrained
from dexnet_core.models.checkpoint import (
    DEXNET3_NORM,
    GraspQualityModel,
    load_checkpoint,
    save_checkpoint,
)
from dexnet_core.models.pretrained import list_pretrained, model_card, pretrained_path


def test_shipped_models_load_with_their_meta():
    for name in list_pretrained():
        gqm = load_checkpoint(name)
        assert gqm.meta.get("package_version")
        assert gqm.gripper in ("parallel_jaw", "suction")
        assert model_card(name), f"{name} ships without a model card"


def test_names_resolve_to_files_in_the_pretrained_folder(tmp_path, monkeypatch):
    monkeypatch.setattr(pretrained, "PRETRAINED_DIR", tmp_path)
    model = get_model("gqcnn_small", channels=4, fc_size=8)
    gqm = GraspQualityModel(model=model, arch="gqcnn_small", arch_kwargs={"channels": 4, "fc_size": 8},
                            gripper="suction", norm=DEXNET3_NORM)
    save_checkpoint(tmp_path / "tiny_suction.pt", gqm)
    (tmp_path / "tiny_suction.md").write_text("# tiny_suction\nA test model.\n")
    assert list_pretrained() == ["tiny_suction"]
    assert load_checkpoint("tiny_suction").arch_kwargs == {"channels": 4, "fc_size": 8}
    assert model_card("tiny_suction").startswith("# tiny_suction")
    with pytest.raises(ValueError, match="tiny_suction"):
        pretrained_path("no_such_model")
    with pytest.raises(CheckpointError, match="no_such_model"):
        load_checkpoint("no_such_model")
