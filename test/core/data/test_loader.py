import numpy as np
import pytest

from dexnet_core.data.cache import open_dataset
from dexnet_core.data.loader import BatchLoader, Shard, epoch_order, subsample


def test_epoch_order_deterministic_and_oversampled():
    idx = np.arange(100)
    positive = np.zeros(100, bool)
    positive[:20] = True
    a = epoch_order(idx, positive, seed=0, epoch=3, pos_weight=2.5)
    np.testing.assert_array_equal(a, epoch_order(idx, positive, seed=0, epoch=3, pos_weight=2.5))
    assert not np.array_equal(a, epoch_order(idx, positive, seed=0, epoch=4, pos_weight=2.5))
    assert len(a) == 100 + 20 + 10
    assert positive[a].sum() == 50
    assert set(a) == set(idx)
    with pytest.raises(ValueError, match="pos_weight"):
        epoch_order(idx, positive, 0, 0, pos_weight=0.5)


def test_batches_align_fields(make_dataset):
    root, arrays = make_dataset(n=150, shard_size=64)
    ds = open_dataset(root, ["depth_ims_tf_table", "hand_poses"])
    positive = arrays["robust_ferrari_canny"] > 0.002
    order = epoch_order(np.arange(150), positive, 0, 0)
    for workers in (0, 2):
        loader = BatchLoader(ds, positive, batch_size=32, num_workers=workers)
        batches = list(loader.iterate(order, start_batch=1))
        assert len(batches) == 4 and loader.num_batches(order, drop_last=True) == 4
        seen = np.concatenate([b.index for b in batches])
        assert sorted(seen) == sorted(order[32:])
        for b in batches:
            assert b.im.shape == (len(b.index), 1, 32, 32)
            np.testing.assert_array_equal(b.im[:, 0].numpy(), arrays["depth_ims_tf_table"][b.index, ..., 0])
            np.testing.assert_array_equal(b.z.numpy(), arrays["hand_poses"][b.index, 2])
            np.testing.assert_array_equal(b.label.numpy(), positive[b.index].astype(np.float32))


def test_subsample():
    idx = np.arange(10, 110)
    s = subsample(idx, 30, seed=1)
    assert len(s) == 30 and np.all(np.diff(s) > 0) and set(s) <= set(idx)
    np.testing.assert_array_equal(s, subsample(idx, 30, seed=1))
    assert subsample(idx, None, 0) is idx


def test_shards_split_every_batch_into_the_single_process_batch(make_dataset):
    root, arrays = make_dataset(n=150, shard_size=64)
    ds = open_dataset(root, ["depth_ims_tf_table", "hand_poses"])
    positive = arrays["robust_ferrari_canny"] > 0.002
    order = epoch_order(np.arange(150), positive, 0, 0)
    whole = list(BatchLoader(ds, positive, batch_size=48, num_workers=0).iterate(order, 1, drop_last=True))
    parts = [list(BatchLoader(ds, positive, batch_size=48, num_workers=1, shard=Shard(r, 3)).iterate(
        order, 1, drop_last=True)) for r in range(3)]
    assert len(whole) == 2 and all(len(p) == 2 for p in parts)
    for i, batch in enumerate(whole):
        assert [p[i].span for p in parts] == [(0, 48), (16, 48), (32, 48)]
        np.testing.assert_array_equal(np.concatenate([p[i].index for p in parts]), batch.index)
        np.testing.assert_array_equal(np.concatenate([p[i].im.numpy() for p in parts]), batch.im.numpy())
        np.testing.assert_array_equal(np.concatenate([p[i].z.numpy() for p in parts]), batch.z.numpy())
    with pytest.raises(ValueError, match="not divisible by the 5 ranks"):
        BatchLoader(ds, positive, batch_size=48, shard=Shard(0, 5))
    with pytest.raises(ValueError, match="drop_last"):
        next(BatchLoader(ds, positive, batch_size=48, shard=Shard(0, 3)).iterate(order))
