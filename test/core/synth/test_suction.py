import numpy as np
import pytest

from dexnet_core.synth.render import Raycaster
from dexnet_core.synth.suction import (
    SuctionCup,
    SuctionNoise,
    ring_is_flat,
    robust_suction_quality,
    seal,
    wrench_resisted,
)

trimesh = pytest.importorskip("trimesh")


@pytest.fixture
def box():
    b = trimesh.creation.box([0.10, 0.08, 0.05])
    b.apply_translation([0, 0, 0.025])
    return b


def test_flat_top_seals_and_sharp_edge_does_not(box):
    caster = Raycaster([box])
    s2 = np.sqrt(0.5)
    contacts = np.array([[0, 0, 0.05], [0.05, 0, 0.05], [0.0, 0.04, 0.05], [0.2, 0, 0.05]])
    approach = np.array([[0, 0, -1.0], [-s2, 0, -s2], [0, -s2, -s2], [0, 0, -1.0]])
    sealed, q = seal(caster, contacts, approach, SuctionCup())
    assert sealed.tolist() == [True, False, False, False]
    assert np.allclose(q[0], [0, 0, 0.05], atol=1e-6) and np.isnan(q[3]).all()


def test_ring_flatness_is_the_rms_distance_from_the_best_fit_plane():
    phi = np.linspace(0, 2 * np.pi, 16, endpoint=False)
    ring = np.stack([0.01 * np.cos(phi), 0.01 * np.sin(phi), np.zeros_like(phi)], axis=1)
    tilt = np.array([[1, 0, 0], [0, np.cos(0.6), -np.sin(0.6)], [0, np.sin(0.6), np.cos(0.6)]])

    def warped(amplitude):  # saddle: RMS plane distance amplitude / sqrt(2)
        return (ring + np.outer(amplitude * np.cos(2 * phi), [0, 0, 1])) @ tilt.T + [0.1, 0.2, 0.7]

    assert ring_is_flat(warped(0.0), 0.002) and ring_is_flat(warped(0.0013), 0.002)
    assert not ring_is_flat(warped(0.0015), 0.002)
    notch = ring.copy()
    notch[3, 2] -= 0.003  # one point 3 mm off: RMS 0.7 mm
    assert ring_is_flat(notch, 0.002)
    np.testing.assert_array_equal(ring_is_flat(np.stack([warped(0.0), warped(0.002)]), 0.002), [True, False])


def test_wrench_resistance_against_gravity():
    cup = SuctionCup(cup_radius=0.01, vacuum_force=10.0)
    down = np.array([[0, 0, -1.0]] * 3)
    contacts = np.array([[0, 0, 0.05], [0.04, 0, 0.05], [0, 0, 0.05]])
    mass = np.array([0.1, 0.1, 2.0])  # 2 kg is more than a 10 N vacuum holds
    held = wrench_resisted(contacts, down, np.array([0, 0, 0.025]), mass, np.full(3, 0.5), cup)
    assert held.tolist() == [True, True, False]
    far = wrench_resisted(np.array([[0.2, 0, 0.05]]), down[:1], np.array([0, 0, 0.025]), np.array([0.1]),
                          np.array([0.5]), cup)
    assert not far[0]  # 20 cm lever arm: bending moment beyond r N / 2


def test_robust_quality(box):
    q = robust_suction_quality(Raycaster([box]), np.array([[0, 0, 0.05], [0.05, 0.04, 0.05]]),
                               np.array([[0, 0, -1.0], [-0.5, -0.5, -np.sqrt(0.5)]]), box.center_mass, 0.1,
                               SuctionCup(), SuctionNoise(samples=20), np.random.default_rng(0))
    assert q[0] > 0.95 and q[1] == 0.0
