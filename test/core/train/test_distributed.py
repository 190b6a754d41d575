"""Multi-process training with gloo on CPU: real ranks started by torchrun (`dexnet train --nproc`) or by
hand with torchrun's environment variables."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

from dexnet_core import cli
from dexnet_core.data.cache import open_dataset
from dexnet_core.models.checkpoint import load_checkpoint, load_training_state
from dexnet_core.train.command import _rank_argv
from dexnet_core.train.config import config_from_dict
from dexnet_core.train.distributed import Distributed
from dexnet_core.train.loop import train

# A 2-rank run equals one process with the same global batch up to float rounding (per-rank gradient sums,
# then the all-reduce): after 10 SGD steps the weights (up to ~0.2) differ by 1.5e-8 (measured; 1e-7 with
# Adam). Rounding differences grow where a ReLU flips: a 2-rank checkpoint resumed on one process differs
# from an uninterrupted one-process run by 4e-6 after 10 more steps (2e-5 with Adam).
WEIGHT_TOL = 1e-5
RESUMED_WEIGHT_TOL = 1e-4
# Waits in these tests are bounded generously (a loaded 2-core machine can take many seconds to start a rank);
# the bound under test is the ranks' own --dist-timeout.


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "dexnet_core.cli", "--log-level", "WARNING", *args]


def _write_config(config_dict: dict, tmp_path: Path, build_cache: bool = False) -> Path:
    config_dict["training"].update(max_steps=10, num_threads=1)
    config_dict["optimizer"].update(name="sgd", learning_rate=0.05, momentum=0.9)
    if build_cache:  # so that the ranks' stderr holds nothing but their error line (no progress bars)
        open_dataset(config_dict["training"]["dataset_path"], ["depth_ims_tf_table", "robust_ferrari_canny"],
                     optional=["object_labels"])
    path = tmp_path / "train.yaml"
    path.write_text(yaml.safe_dump(config_dict))
    return path


def _assert_close_weights(a: Path, b: Path, atol: float) -> None:
    wa, wb = load_checkpoint(a).model.state_dict(), load_checkpoint(b).model.state_dict()
    for key, value in wa.items():
        torch.testing.assert_close(value, wb[key], rtol=0, atol=atol)


def _train_losses(run_dir: Path) -> list[tuple[int, float]]:
    logged = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return [(r["step"], r["train/loss"]) for r in logged if "train/loss" in r]


def test_two_gloo_ranks_match_one_process_and_resume_on_one(config_dict, tmp_path):
    cfg_path = _write_config(config_dict, tmp_path)
    two = subprocess.run(_cli("train", "--config", str(cfg_path), "--device", "cpu", "--nproc", "2",
                              "--set", "outputs.save_name=two"), capture_output=True, text=True, timeout=600)
    assert two.returncode == 0, two.stderr
    reported = json.loads(two.stdout)  # rank 0 alone prints the result
    run_two = Path(reported["run_dir"])

    one = train(config_from_dict(config_dict, ["outputs.save_name=one"]), device="cpu")
    assert reported["step"] == one.step == 10
    _assert_close_weights(run_two / "last.pt", one.run_dir / "last.pt", WEIGHT_TOL)
    assert reported["val"]["loss"] == pytest.approx(one.val["loss"], abs=1e-5)  # validation split over ranks
    losses = [_train_losses(run) for run in (run_two, one.run_dir)]
    assert [step for step, _ in losses[0]] == [5, 10]  # rank 0 logs, once per step
    assert [loss for _, loss in losses[0]] == pytest.approx([loss for _, loss in losses[1]], abs=1e-5)

    # the 2-rank checkpoint continues on one process as if one process had run all the way
    resumed = train(config_from_dict(config_dict, ["outputs.save_name=two", "training.max_steps=20"]),
                    device="cpu", resume=True)
    straight = train(config_from_dict(config_dict, ["outputs.save_name=straight", "training.max_steps=20"]),
                     device="cpu")
    assert resumed.step == straight.step == 20
    assert load_training_state(run_two / "last.pt")["step"] == 20
    _assert_close_weights(run_two / "last.pt", straight.run_dir / "last.pt", RESUMED_WEIGHT_TOL)


def _start_ranks(cfg_path: Path, per_rank: list[list[str]], world_size: int | None = None,
                 timeout_s: float = 600) -> list[tuple[int, str]]:
    """Start one process per entry of ``per_rank`` (extra arguments) as the first ranks of a run of
    ``world_size`` (default: as many), the way torchrun does; returns each one's (exit status, stderr)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    procs = []
    for rank, extra in enumerate(per_rank):
        world = str(world_size or len(per_rank))
        env = dict(os.environ, RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=world, LOCAL_WORLD_SIZE=world,
                   MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
        procs.append(subprocess.Popen(_cli("train", "--config", str(cfg_path), "--device", "cpu",
                                           "--dist-timeout", "300", *extra),
                                      env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    results = []
    for p in procs:
        try:
            _, err = p.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            for q in procs:
                q.kill()
            pytest.fail(f"rank {len(results)} still running after {timeout_s} s")
        results.append((p.returncode, err))
    return results


def _one_line_each(results: list[tuple[int, str]]) -> list[str]:
    assert all(code == 1 for code, _ in results), results
    lines = [err.strip().splitlines() for _, err in results]
    assert all(len(ls) == 1 for ls in lines), lines
    return [ls[0] for ls in lines]


def test_rank_that_cannot_read_the_dataset_stops_every_rank(config_dict, tmp_path):
    cfg_path = _write_config(config_dict, tmp_path, build_cache=True)
    (tmp_path / "elsewhere").mkdir()
    elsewhere = f"training.dataset_path={tmp_path}/elsewhere"
    lines = _one_line_each(_start_ranks(cfg_path, [[], ["--set", elsewhere]]))
    for line in lines:
        assert line.startswith("dexnet train: error: rank 1: ") and "elsewhere: no 'tensors' folder" in line
    assert not (tmp_path / "runs" / "tiny" / "last.pt").exists()


def test_ranks_started_with_different_configs_stop_with_one_line(config_dict, tmp_path):
    cfg_path = _write_config(config_dict, tmp_path, build_cache=True)
    lines = _one_line_each(_start_ranks(cfg_path, [[], ["--set", "optimizer.learning_rate=0.01"]]))
    assert lines == ["dexnet train: error: rank 1 was started with optimizer.learning_rate=0.01 but rank 0 "
                     "with 0.05; all ranks need the same config, data and run folder"] * 2


def test_a_rank_that_never_comes_stops_the_other_within_the_timeout(config_dict, tmp_path):
    cfg_path = _write_config(config_dict, tmp_path, build_cache=True)
    (line,) = _one_line_each(_start_ranks(cfg_path, [["--dist-timeout", "2"]], world_size=2))
    assert line.startswith("dexnet train: error: rank 0: could not join the other 1 rank(s) within 2 s")


def test_single_process_context_changes_nothing():
    single = Distributed()
    assert not single.enabled and single.is_main and single.shard.count == 1
    assert single.gather([1, 2]) == ([1, 2],) and single.mean(0.25) == 0.25


def test_nproc_ranks_run_the_same_command_without_nproc():
    argv = ["--log-level", "DEBUG", "train", "--config", "c.yaml", "--device", "cpu", "--nproc", "3",
            "--resume", "--set", "training.seed=2", "--set", "name=x y", "--dist-timeout", "5"]
    args = cli.build_parser(argv).parse_args(argv)
    rank_argv = _rank_argv(args)
    assert "--nproc" not in rank_argv
    rank_args = cli.build_parser(rank_argv).parse_args(rank_argv)
    assert vars(rank_args) == {**vars(args), "nproc": None}
