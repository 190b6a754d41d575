"""Metric rescaling to the network scale."""

import numpy as np
import pytest

from dexnet_core.camera import PRIMESENSE, CameraIntrinsics
from dexnet_core.planning.rescale import metric_scale, rescale_depth


def test_metric_scale_matches_training_geometry():
    s = metric_scale(0.7, PRIMESENSE)  # training camera at training depth: 96 px -> 32 px
    assert (s.width, s.height) == (213, 160)
    assert s.sx == pytest.approx(213 / 640) and s.sy == pytest.approx(160 / 480)
    far = metric_scale(1.4, PRIMESENSE)  # twice as far: objects look half as big, shrink half as much
    assert (far.width, far.height) == (427, 320)
    long_lens = metric_scale(0.7, CameraIntrinsics(1050.0, 1050.0, 319.5, 239.5, 640, 480))
    assert (long_lens.width, long_lens.height) == (107, 80)
    custom = metric_scale(0.5, PRIMESENSE, crop_size_px=64, training_depth_m=0.5)
    assert (custom.width, custom.height) == (320, 240)
    with pytest.raises(ValueError):
        metric_scale(0.0, PRIMESENSE)


def test_coordinate_maps_are_inverse_and_pixel_centred():
    s = metric_scale(0.7, PRIMESENSE)
    u, v = s.to_input(np.array([0.0, 100.0]), np.array([0.0, 50.0]))
    x, y = s.from_input(u, v)
    np.testing.assert_allclose([x, y], [[0.0, 100.0], [0.0, 50.0]], atol=1e-9)
    # the centre of the image stays the centre
    centre = s.to_input(np.array((s.width - 1) / 2), np.array((s.height - 1) / 2))
    assert centre == pytest.approx((319.5, 239.5))


def test_rescale_preserves_planes():
    v, u = np.mgrid[0:480, 0:640].astype(np.float64)
    ramp = 0.6 + 0.0002 * u + 0.0001 * v
    s = metric_scale(0.7, PRIMESENSE)
    out = rescale_depth(ramp.astype(np.float32), s).numpy()
    assert out.shape == (160, 213) and out.dtype == np.float32
    y, x = np.mgrid[0:160, 0:213].astype(np.float64)
    uu, vv = s.to_input(x, y)
    expected = 0.6 + 0.0002 * uu + 0.0001 * vv
    np.testing.assert_allclose(out[3:-3, 3:-3], expected[3:-3, 3:-3], atol=2e-6)
