"""Depth units, validity, hole filling and candidate masks."""

import numpy as np
import pytest

from dexnet_core.errors import NoValidGraspError
from dexnet_core.planning.preprocess import candidate_mask, depth_to_metres, inpaint_depth, valid_depth


def test_depth_to_metres_units_and_missing():
    mm = np.array([[700, 0], [1234, 65535]], dtype=np.uint16)
    m = depth_to_metres(mm, "16UC1")
    assert m.dtype == np.float32
    np.testing.assert_allclose(m[[0, 1, 1], [0, 0, 1]], [0.7, 1.234, 65.535], rtol=1e-6)
    assert np.isnan(m[0, 1])
    f = depth_to_metres(np.array([[0.5, 0.0], [np.inf, -1.0]], dtype=np.float32), "32FC1")
    assert f[0, 0] == np.float32(0.5) and np.isnan(f[0, 1]) and np.isnan(f[1, 0]) and np.isnan(f[1, 1])
    d = depth_to_metres(np.full((2, 3, 1), 0.25), "64FC1")
    assert d.shape == (2, 3) and d.dtype == np.float32 and np.all(d == np.float32(0.25))


@pytest.mark.parametrize("array, encoding", [
    (np.zeros((2, 2), np.uint16), "16UC3"),
    (np.zeros((2, 2), np.uint8), "mono8"),
    (np.zeros((2, 2), np.float32), "16UC1"),
    (np.zeros((2, 2, 3), np.float32), "32FC1"),
])
def test_depth_to_metres_rejects(array, encoding):
    with pytest.raises(ValueError):
        depth_to_metres(array, encoding)


def test_inpaint_fills_holes_on_a_tilted_plane():
    rng = np.random.default_rng(0)
    v, u = np.mgrid[0:120, 0:160].astype(np.float32)
    plane = 0.7 + 0.0004 * u - 0.0002 * v  # ~6 cm across the image
    depth = plane.copy()
    holes = rng.random(depth.shape) < 0.3  # PhoXi-like 30% dropout
    holes[40:60, 50:90] = True  # and one large hole
    depth[holes] = np.nan
    valid = valid_depth(depth)
    filled = inpaint_depth(depth, valid)
    assert filled.dtype == np.float32 and np.isfinite(filled).all()
    np.testing.assert_array_equal(filled[valid], depth[valid])
    err = np.abs(filled - plane)[holes]
    assert err.max() < 0.004 and np.median(err) < 0.0005
    # the big hole is filled inside the range of its surroundings
    ring = plane[35:65, 45:95]
    assert ring.min() - 1e-4 <= filled[40:60, 50:90].min() and filled[40:60, 50:90].max() <= ring.max() + 1e-4


def test_inpaint_all_missing_raises():
    depth = np.full((8, 8), np.nan, np.float32)
    with pytest.raises(NoValidGraspError):
        inpaint_depth(depth, valid_depth(depth))


def test_candidate_mask_combines_validity_mask_roi_and_workspace():
    depth = np.full((10, 12), 0.8, np.float32)
    depth[0, 0] = np.nan
    depth[5, 5] = 2.0
    valid = valid_depth(depth)
    every = candidate_mask(depth, valid)
    assert every.sum() == depth.size - 1 and not every[0, 0]
    ws = candidate_mask(depth, valid, min_depth_m=0.5, max_depth_m=1.0)
    assert not ws[5, 5] and ws.sum() == depth.size - 2
    roi = candidate_mask(depth, valid, roi=(2, 3, 4, 5))  # x, y, w, h
    assert roi.sum() == 20 and roi[3:8, 2:6].all()
    mask = np.zeros_like(valid)
    mask[:, 7:] = True
    both = candidate_mask(depth, valid, mask=mask, roi=(0, 0, 9, 10))
    assert both.sum() == 20 and both[:, 7:9].all()
    with pytest.raises(ValueError):
        candidate_mask(depth, valid, mask=np.ones((3, 3), bool))
