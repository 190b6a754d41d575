import json

import numpy as np
import pytest

from dexnet_core.data import cache as cache_mod
from dexnet_core.data.cache import open_dataset
from dexnet_core.errors import DatasetError

FIELDS = ["depth_ims_tf_table", "robust_ferrari_canny"]


def test_cache_matches_shards_and_is_reused(make_dataset, monkeypatch):
    root, arrays = make_dataset(n=150, shard_size=64)
    ds = open_dataset(root, FIELDS, optional=["object_labels", "pose_labels"])
    assert ds.num_datapoints == 150
    assert isinstance(ds["depth_ims_tf_table"], np.memmap)
    np.testing.assert_array_equal(ds["depth_ims_tf_table"], arrays["depth_ims_tf_table"][..., 0])
    np.testing.assert_array_equal(ds["object_labels"], arrays["object_labels"])
    assert not ds.has("pose_labels")

    def fail(*a, **k):
        raise AssertionError("shard re-read on a valid cache")

    monkeypatch.setattr(cache_mod, "read_shard", fail)
    monkeypatch.setattr("dexnet_core.data.shards.shard_header", fail)
    again = open_dataset(root, FIELDS)
    np.testing.assert_array_equal(again["robust_ferrari_canny"], arrays["robust_ferrari_canny"])


def test_changed_shard_triggers_rebuild(make_dataset):
    root, arrays = make_dataset(n=100, shard_size=64)
    open_dataset(root, FIELDS)
    new = np.full(36, 0.5, np.float32)
    np.savez_compressed(root / "tensors" / "robust_ferrari_canny_00001.npz", new)
    ds = open_dataset(root, FIELDS)
    np.testing.assert_array_equal(ds["robust_ferrari_canny"][64:], new)


def test_build_resumes_after_kill(make_dataset, monkeypatch):
    root, arrays = make_dataset(n=40 * 10, shard_size=10)
    monkeypatch.setattr(cache_mod, "_PROGRESS_EVERY", 4)
    real = cache_mod.read_shard
    calls = []

    def dying(info, name):
        calls.append(info.path.name)
        if len(calls) == 10:
            raise KeyboardInterrupt
        return real(info, name)

    monkeypatch.setattr(cache_mod, "read_shard", dying)
    with pytest.raises(KeyboardInterrupt):
        open_dataset(root, ["depth_ims_tf_table"])
    cdir = root / "cache"
    assert not (cdir / "depth_ims_tf_table.npy").exists()
    assert json.loads((cdir / "depth_ims_tf_table.progress.json").read_text())["done"] == 8
    calls.clear()
    monkeypatch.setattr(cache_mod, "read_shard", lambda info, name: (calls.append(1), real(info, name))[1])
    ds = open_dataset(root, ["depth_ims_tf_table"])
    assert len(calls) == 40 - 8
    np.testing.assert_array_equal(ds["depth_ims_tf_table"], arrays["depth_ims_tf_table"][..., 0])


def test_corrupt_shard_data_named(make_dataset):
    root, _ = make_dataset(n=100, shard_size=64)
    path = root / "tensors" / "depth_ims_tf_table_00001.npz"
    np.savez_compressed(path, np.full((36, 32, 32, 1), np.nan, np.float32))
    with pytest.raises(DatasetError, match=r"depth_ims_tf_table_00001\.npz: key 'arr_0'"):
        open_dataset(root, FIELDS)
