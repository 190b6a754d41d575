"""Reference (Dex-Net 5.0) weight files: DexNetBase, its converted BaseFCGQCNN and EfficientNet load,
score as the reference module does, and export back to its layouts."""

import numpy as np
import pytest
import torch

from dexnet_core.cli import main
from dexnet_core.errors import CheckpointError
from dexnet_core.models.checkpoint import DEXNET2_NORM, DEXNET3_NORM, load_checkpoint


def _crops(mean: float, n: int = 4) -> np.ndarray:
    return np.random.default_rng(2).normal(mean, 0.01, (n, 32, 32)).astype(np.float32)


def _reference_scores(module: torch.nn.Module, crops: np.ndarray, norm) -> np.ndarray:
    with torch.no_grad():
        return module((torch.from_numpy(crops).unsqueeze(1) - norm.im_mean) / norm.im_std).reshape(-1).numpy()


def test_reference_efficientnet_file_loads_scores_and_round_trips(tmp_path, reference, capsys):
    ref = reference.EfficientNet().eval()
    torch.save(ref.state_dict(), tmp_path / "effnet.pt")
    gqm = load_checkpoint(tmp_path / "effnet.pt", gripper="suction")
    assert gqm.arch == "efficientnet_b0" and gqm.norm == DEXNET3_NORM
    crops = _crops(0.6)
    np.testing.assert_allclose(gqm.score(crops), _reference_scores(ref, crops, DEXNET3_NORM), atol=1e-5)
    # dexnet convert reads it (no FC form to check) and writes it back in the reference's layout
    ours = str(tmp_path / "ours.pt")
    assert main(["convert", str(tmp_path / "effnet.pt"), ours, "--gripper", "suction"]) == 0
    assert main(["convert", str(tmp_path / "ours.pt"), str(tmp_path / "back.pt"), "--to-reference"]) == 0
    back = torch.load(tmp_path / "back.pt", weights_only=True)
    again = reference.EfficientNet().eval()
    again.load_state_dict(back)  # strict: exactly the reference's keys
    for key, value in ref.state_dict().items():
        torch.testing.assert_close(back[key], value, rtol=0, atol=0)


def test_reference_fc_file_loads_and_matches_its_gqcnn(tmp_path, reference):
    gq = reference.DexNetBase().eval()
    fc = reference.BaseFCGQCNN.from_gqcnn(gq).eval()
    torch.save(fc.state_dict(), tmp_path / "fc_conversion.pt")
    gqm = load_checkpoint(tmp_path / "fc_conversion.pt", gripper="parallel_jaw")
    assert gqm.arch == "dexnet_base" and gqm.norm == DEXNET2_NORM
    crops = _crops(0.7)
    np.testing.assert_allclose(gqm.score(crops), _reference_scores(gq, crops, DEXNET2_NORM), atol=1e-5)
    # and back: --reference-fc reproduces the file
    assert main(["convert", str(tmp_path / "fc_conversion.pt"), str(tmp_path / "again.pt"), "--gripper",
                 "parallel_jaw", "--reference-fc", "--check-size", "34"]) == 0
    again = torch.load(tmp_path / "again.pt", weights_only=True)
    for key, value in fc.state_dict().items():
        torch.testing.assert_close(again[key], value, rtol=0, atol=0)


def test_dexnet_base_exports_to_the_reference_layout(tmp_path, reference):
    ref = reference.DexNetBase().eval()
    torch.save(ref.state_dict(), tmp_path / "ref.pt")
    assert main(["convert", str(tmp_path / "ref.pt"), str(tmp_path / "ours.pt"), "--gripper", "suction",
                 "--check-size", "34"]) == 0
    assert main(["convert", str(tmp_path / "ours.pt"), str(tmp_path / "back.pt"), "--to-reference",
                 "--check-size", "34"]) == 0
    back = reference.DexNetBase().eval()
    back.load_state_dict(torch.load(tmp_path / "back.pt", weights_only=True))
    crops = _crops(0.6)
    np.testing.assert_array_equal(_reference_scores(back, crops, DEXNET3_NORM),
                                  _reference_scores(ref, crops, DEXNET3_NORM))


def test_bare_state_dict_needs_the_gripper(tmp_path, reference, capsys):
    torch.save(reference.DexNetBase().state_dict(), tmp_path / "pj.pt")
    with pytest.raises(CheckpointError, match="does not say its gripper; pass --gripper"):
        load_checkpoint(tmp_path / "pj.pt")
    assert main(["eval", "--checkpoint", str(tmp_path / "pj.pt"), "--dataset", str(tmp_path)]) == 1
    err = capsys.readouterr().err.strip()
    assert "--gripper" in err and "pj.pt" in err and "\n" not in err
    torch.save(reference.BaseFCGQCNN().state_dict(), tmp_path / "fc.pt")
    assert main(["convert", str(tmp_path / "fc.pt"), str(tmp_path / "out.pt")]) == 1
    assert "--gripper" in capsys.readouterr().err


def test_to_reference_refuses_architectures_the_reference_lacks(tmp_path, capsys):
    assert main(["convert", "dexnet3_suction_small", str(tmp_path / "x.pt"), "--to-reference"]) == 1
    err = capsys.readouterr().err.strip()
    assert "no layout for 'gqcnn_small'" in err and "\n" not in err
    assert not (tmp_path / "x.pt").exists()


def test_planner_takes_the_gripper_it_plans_for_as_a_bare_files_gripper(tmp_path, reference):
    from dexnet_core.planning.planner import GraspPlanner

    torch.save(reference.DexNetBase().state_dict(), tmp_path / "suction.pt")
    planner = GraspPlanner.from_checkpoint(str(tmp_path / "suction.pt"), device="cpu", bare_gripper="suction")
    assert planner.gqm.gripper == "suction" and planner.gqm.norm == DEXNET3_NORM
    # a checkpoint that records its gripper keeps it: the caller's gripper check then refuses a mismatch
    assert load_checkpoint("dexnet3_suction_small", bare_gripper="parallel_jaw").gripper == "suction"


def test_dexnet_eval_scores_a_reference_efficientnet_file_at_both_thresholds(tmp_path, reference):
    import json

    from dexnet_core.data.shards import write_shards

    n = 20
    labels = np.where(np.arange(n) % 2 == 0, 0.5, 0.0).astype(np.float32)
    write_shards(tmp_path / "ds", {"depth_ims_tf_table": _crops(0.6, n)[..., None],
                                   "robust_suction_wrench_resistance": labels})
    torch.save(reference.EfficientNet().eval().state_dict(), tmp_path / "effnet.pt")
    assert main(["eval", "--checkpoint", str(tmp_path / "effnet.pt"), "--dataset", str(tmp_path / "ds"),
                 "--gripper", "suction", "--split", "all", "--out", str(tmp_path / "eval"), "--no-plot"]) == 0
    report = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert report["arch"] == "efficientnet_b0" and report["recipe"] == "reference" and report["num"] == n
    assert report["prediction_threshold"] == 0.2 and set(report["at_threshold"]) == {"0.2", "0.5"}
