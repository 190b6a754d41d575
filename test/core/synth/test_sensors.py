import dataclasses

import numpy as np
import pytest

from dexnet_core.camera import PRIMESENSE
from dexnet_core.synth.sensors import (
    SENSOR_MIX,
    SENSORS,
    SensorModel,
    get_sensor,
    oblique,
    parse_sensors,
    projector_shadow,
)

cv2 = pytest.importorskip("cv2")
K = PRIMESENSE


def only(name: str, **keep) -> SensorModel:
    """The named model with every effect off except those given."""
    s = get_sensor(name)
    return SensorModel(name=s.name, baseline_m=s.baseline_m, **keep)


def plane_depth(normal, point, k=K) -> np.ndarray:
    """(H, W) depth of the plane through ``point`` with ``normal`` (camera frame)."""
    rays = k.pixel_rays().astype(np.float64)
    rays /= rays[..., 2:]
    return (np.dot(normal, point) / (rays @ np.asarray(normal, float))).astype(np.float32)


def test_names_and_bad_names():
    assert set(SENSORS) == {"ideal", "gaussian", "primesense", "realsense", "structured_light"}
    assert get_sensor("realsense").name == "realsense"
    with pytest.raises(ValueError, match="unknown sensor 'kinect'; valid: ideal, gaussian, primesense"):
        get_sensor("kinect")
    assert parse_sensors("mix") == SENSOR_MIX
    assert parse_sensors("ideal, primesense") == ("ideal", "primesense")
    for bad in ("", "primesense,nope"):
        with pytest.raises(ValueError, match="valid: ideal, gaussian, .* mix"):
            parse_sensors(bad)
    with pytest.raises(ValueError, match="hole_fraction .* got \\(0.5, 0.2\\)"):
        SensorModel("x", hole_fraction=(0.5, 0.2))
    with pytest.raises(ValueError, match="pixel_std_z2 must be >= 0, got -1"):
        SensorModel("x", pixel_std_z2=-1)
    with pytest.raises(ValueError, match="baseline"):
        SensorModel("x", shadow=True)


def test_ideal_is_identity_and_models_are_seeded():
    depth = plane_depth([0.0, 0.3, 1.0], [0, 0, 0.7])
    depth[:10] = np.nan
    assert np.array_equal(get_sensor("ideal").apply(depth, K, np.random.default_rng(0)), depth,
                          equal_nan=True)
    for name in SENSORS:
        a = get_sensor(name).apply(depth, K, np.random.default_rng(4))
        b = get_sensor(name).apply(depth, K, np.random.default_rng(4))
        assert a.dtype == np.float32 and np.array_equal(a, b, equal_nan=True)
        assert np.isnan(a[:10]).all()


def test_gaussian_keeps_the_earlier_default_noise():
    """'gaussian' is the noise datasets were rendered with before the named models: same draws, same image."""
    depth = plane_depth([0.1, 0.2, 1.0], [0, 0, 0.6])
    out = get_sensor("gaussian").apply(depth, K, np.random.default_rng(7))
    rng = np.random.default_rng(7)
    expect = depth * np.float32(1.0 + 0.002 * rng.standard_normal())
    expect += cv2.resize((0.0008 * rng.standard_normal((60, 80))).astype(np.float32), (640, 480),
                         interpolation=cv2.INTER_CUBIC)
    expect += (0.0005 * rng.standard_normal((480, 640))).astype(np.float32)
    assert np.array_equal(out, expect)


def test_primesense_noise_grows_with_depth_squared():
    noise = only("primesense", pixel_std_z2=get_sensor("primesense").pixel_std_z2)
    stds = []
    for z in (0.5, 1.0):
        depth = np.full((200, 200), z, np.float32)
        stds.append(float(np.std(noise.apply(depth, K, np.random.default_rng(1)) - depth)))
    assert stds[0] == pytest.approx(1.4e-3 * 0.25, rel=0.05)
    assert stds[1] == pytest.approx(1.4e-3 * 1.0, rel=0.05)


def test_realsense_noise_follows_the_stereo_formula():
    noise = only("realsense", stereo_subpixel=0.08)
    depth = np.full((200, 200), 0.8, np.float32)
    std = float(np.std(noise.apply(depth, K, np.random.default_rng(1)) - depth))
    assert std == pytest.approx(0.8 ** 2 * 0.08 / (K.fx * 0.05), rel=0.05)


def test_primesense_quantisation_step_is_1mm_at_0_7m_and_grows_with_z_squared():
    quant = only("primesense", quant_step_1m=get_sensor("primesense").quant_step_1m)
    for z, step in ((0.7, 0.001), (1.0, 0.001 / 0.49)):
        ramp = np.linspace(z - 0.02, z + 0.02, 4000, dtype=np.float32).reshape(40, 100)
        levels = np.unique(quant.apply(ramp, K, np.random.default_rng(0)))
        assert np.median(np.diff(levels)) == pytest.approx(step, rel=0.05)
        err = np.abs(quant.apply(ramp, K, np.random.default_rng(0)) - ramp)
        assert (err <= quant.quant_step_1m * ramp ** 2 / 2 * 1.01).all()


def test_shadow_band_lies_on_the_baseline_side_of_a_near_edge():
    depth = np.full((120, 300), 1.0, np.float32)
    depth[40:80, 150:200] = 0.6
    width = K.fx * 0.075 * (1 / 0.6 - 1 / 1.0)  # 26 px
    shadow = projector_shadow(depth, K.fx * 0.075)
    band = shadow[60]
    assert not shadow[:40].any() and not shadow[80:].any() and not band[150:].any()
    assert abs(int(band[:150].sum()) - width) <= 1.5 and band[150 - int(width) + 1:150].all()
    mirrored = projector_shadow(depth, -K.fx * 0.075)[60]  # projector on the other side
    assert not mirrored[:200].any() and abs(int(mirrored[200:].sum()) - width) <= 1.5
    out = only("primesense", shadow=True).apply(depth, K, np.random.default_rng(0))
    assert np.array_equal(np.isnan(out), shadow)


def test_very_oblique_surfaces_return_nothing():
    limit = get_sensor("primesense").max_incidence_deg
    normal = np.array([np.sin(1.2), 0.0, -np.cos(1.2)])  # 69 degrees from the optical axis
    depth = plane_depth(normal, [0, 0, 0.7])
    rays = K.pixel_rays().astype(np.float64)
    incidence = np.degrees(np.arccos(np.abs(rays @ normal)))  # per pixel, 45-100 degrees across the image
    dropped = oblique(depth, K, limit)
    sure = np.abs(incidence - limit) > 0.5
    assert dropped[sure & (incidence > limit)].all() and not dropped[sure & (incidence < limit)].any()
    assert 0.1 < dropped.mean() < 0.9
    out = only("primesense", max_incidence_deg=limit).apply(depth, K, np.random.default_rng(0))
    assert np.array_equal(np.isnan(out), dropped)
    step = np.full((100, 100), 1.0, np.float32)
    step[:, 50:] = 0.6
    assert not oblique(step, K, 80).any()  # an edge is not a surface


def test_oblique_on_a_window_matches_the_full_image():
    depth = plane_depth([0.9, 0.2, 0.4], [0, 0, 0.7])
    full = oblique(depth, K, 70)
    win = oblique(depth[100:200, 300:450], K, 70, origin=(100, 300))
    assert 0.05 < full.mean() < 0.95
    assert np.array_equal(full[101:199, 301:449], win[1:-1, 1:-1])


def test_realsense_flying_pixels_fill_depth_edges():
    depth = np.full((100, 100), 1.0, np.float32)
    depth[:, 50:] = 0.6
    fly = only("realsense", flying_px=2, flying_prob=0.5)
    out = fly.apply(depth, K, np.random.default_rng(0))
    between = (out > 0.61) & (out < 0.99)
    assert between[:, 48:52].mean() > 0.3  # half the pixels within 2 px of the edge fly
    assert not between[:, :48].any() and not between[:, 52:].any()
    assert np.array_equal(out[:, :48], depth[:, :48])


@pytest.mark.parametrize("name", ["primesense", "realsense", "structured_light"])
def test_hole_fraction_stays_in_the_documented_range(name):
    model = get_sensor(name)
    lo, hi = model.hole_fraction
    depth = plane_depth([0.0, 0.4, 1.0], [0, 0, 0.7])
    fractions = [float(np.isnan(model.apply(depth, K, np.random.default_rng(s))).mean()) for s in range(6)]
    assert all(lo - 0.01 <= f <= hi + 0.01 for f in fractions), fractions
    assert max(fractions) - min(fractions) > (hi - lo) / 4  # drawn per frame
    holes = np.isnan(model.apply(depth, K, np.random.default_rng(0)))
    if name == "structured_light":  # blobs, not salt: most missing pixels have missing neighbours
        assert (holes[1:-1, 1:-1] & holes[:-2, 1:-1] & holes[2:, 1:-1]).sum() > 0.9 * holes.sum()


def test_sensor_parameters_round_trip():
    for model in SENSORS.values():
        d = model.to_dict()
        assert SensorModel(**{**d, "hole_fraction": tuple(d["hole_fraction"])}) == model
        assert dataclasses.replace(model) == model
