import json

import torch

from dexnet_core.cli import main
from dexnet_core.models.checkpoint import load_checkpoint


def test_models_command_lists_architectures(capsys):
    assert main(["models", "--json"]) == 0
    listing = json.loads(capsys.readouterr().out)
    by_name = {a["name"]: a for a in listing["architectures"]}
    assert by_name["dexnet_base"]["params"] == 18008385
    assert by_name["gqcnn_dexnet2"]["uses_depth"] and not by_name["efficientnet_b0"]["fully_convolutional"]
    assert isinstance(listing["pretrained"], list)


def test_convert_reference_state_dict(tmp_path, reference, capsys):
    ref = reference.DexNetBase().eval()
    torch.save(ref.state_dict(), tmp_path / "ref.pt")
    assert main(["convert", str(tmp_path / "ref.pt"), str(tmp_path / "ours.pt"), "--gripper", "parallel_jaw",
                 "--check-size", "34"]) == 0
    gqm = load_checkpoint(tmp_path / "ours.pt")
    assert gqm.gripper == "parallel_jaw" and gqm.arch == "dexnet_base"
    assert main(["convert", str(tmp_path / "ours.pt"), str(tmp_path / "fc.pt"), "--reference-fc",
                 "--check-size", "34"]) == 0
    fc = reference.BaseFCGQCNN()
    fc.load_state_dict(torch.load(tmp_path / "fc.pt", weights_only=True))
    im = torch.randn(2, 1, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(fc(im).reshape(-1), ref(im).reshape(-1))


def test_convert_missing_file_is_a_one_line_error(tmp_path, capsys):
    assert main(["convert", str(tmp_path / "nope.pt"), str(tmp_path / "out.pt")]) == 1
    assert "nope.pt" in capsys.readouterr().err
