import numpy as np
import pytest

from dexnet_core.data.splits import Split, make_split
from dexnet_core.errors import DatasetError


def test_ordered_is_reference_split():
    s = make_split(100, "ordered")
    assert s.val.tolist() == list(range(20))
    assert s.train.tolist() == list(range(20, 100))


def test_random_is_seeded_and_disjoint():
    a, b = make_split(1000, "random", seed=1), make_split(1000, "random", seed=1)
    c = make_split(1000, "random", seed=2)
    np.testing.assert_array_equal(a.val, b.val)
    assert not np.array_equal(a.val, c.val)
    assert len(a.val) == 200 and len(np.intersect1d(a.train, a.val)) == 0
    assert len(a.train) + len(a.val) == 1000


def test_object_split_keeps_objects_apart():
    labels = np.repeat(np.arange(20), 50)
    s = make_split(1000, "auto", seed=3, object_labels=labels)
    assert s.kind == "object"
    assert not set(labels[s.train]) & set(labels[s.val])
    assert 200 <= len(s.val) < 300
    np.testing.assert_array_equal(s.val, make_split(1000, "object", seed=3, object_labels=labels).val)
    with pytest.raises(DatasetError, match="object_labels"):
        make_split(1000, "object")


def test_image_wise_files_honoured(tmp_path):
    wise = tmp_path / "splits" / "image_wise"
    wise.mkdir(parents=True)
    np.savez(wise / "train_indices.npz", np.array([5, 0, 1, 2]))
    np.savez(wise / "val_indices.npz", np.array([9, 3]))
    s = make_split(10, "auto", dataset_root=tmp_path)
    assert s.kind == "image_wise" and s.train.tolist() == [0, 1, 2, 5] and s.val.tolist() == [3, 9]
    assert Split.from_state(s.to_state()).train.tolist() == [0, 1, 2, 5]  # not a complement: stored


def test_save_load_and_state_roundtrip(tmp_path):
    s = make_split(500, "random", seed=4)
    assert s.to_state()["train"] is None  # the complement of val is not stored
    s.save(tmp_path / "split.npz")
    for t in (Split.load(tmp_path / "split.npz"), Split.from_state(s.to_state())):
        assert t.kind == "random" and t.seed == 4 and t.num_datapoints == 500
        np.testing.assert_array_equal(t.val, s.val)
        np.testing.assert_array_equal(t.train, s.train)


def test_bad_arguments():
    with pytest.raises(ValueError, match="kind"):
        make_split(10, "bogus")
    with pytest.raises(ValueError, match="val_fraction"):
        make_split(10, "random", val_fraction=1.5)
