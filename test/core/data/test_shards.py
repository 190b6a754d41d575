import numpy as np
import pytest

from dexnet_core.data.shards import read_index_file, scan_dataset
from dexnet_core.errors import DatasetError


def test_scan_counts_short_last_shard(make_dataset):
    root, arrays = make_dataset(n=150, shard_size=64)
    layout = scan_dataset(root)
    assert layout.shard_sizes == [64, 64, 22]
    assert layout.num_datapoints == 150
    assert set(layout.fields) == set(arrays)


def test_optional_fields_absent(make_dataset):
    root, _ = make_dataset(n=50, drop=("object_labels", "hand_poses"))
    layout = scan_dataset(root)
    assert not layout.has("object_labels")
    with pytest.raises(DatasetError, match="object_labels"):
        scan_dataset(root, ["depth_ims_tf_table", "object_labels"])


def test_missing_shard_names_file(make_dataset):
    root, _ = make_dataset(n=150, shard_size=64)
    (root / "tensors" / "hand_poses_00001.npz").unlink()
    with pytest.raises(DatasetError, match=r"hand_poses_00001\.npz"):
        scan_dataset(root, ["depth_ims_tf_table", "hand_poses"])


def test_corrupt_shard_names_file_and_key(make_dataset):
    root, _ = make_dataset(n=150, shard_size=64)
    bad = root / "tensors" / "robust_ferrari_canny_00002.npz"
    bad.write_bytes(b"not a zip file at all")
    with pytest.raises(DatasetError, match=r"robust_ferrari_canny_00002\.npz.*arr_0"):
        scan_dataset(root)


def test_wrong_key_and_mismatched_count(make_dataset):
    root, _ = make_dataset(n=100, shard_size=64)
    np.savez(root / "tensors" / "hand_poses_00000.npz", wrong=np.zeros((64, 7), np.float32))
    with pytest.raises(DatasetError, match="hand_poses_00000.npz: key 'arr_0' missing"):
        scan_dataset(root)
    np.savez(root / "tensors" / "hand_poses_00000.npz", np.zeros((63, 7), np.float32))
    with pytest.raises(DatasetError, match="hand_poses_00000.npz.*63 datapoints"):
        scan_dataset(root)


def test_no_tensors_folder(tmp_path):
    with pytest.raises(DatasetError, match="tensors"):
        scan_dataset(tmp_path)


def test_index_file_validated(tmp_path):
    np.savez(tmp_path / "idx.npz", np.array([3, 1, 1, 7]))
    assert read_index_file(tmp_path / "idx.npz", 8).tolist() == [1, 3, 7]
    with pytest.raises(DatasetError, match="idx.npz"):
        read_index_file(tmp_path / "idx.npz", 5)
