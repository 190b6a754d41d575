import numpy as np
import pytest

from dexnet_core.synth.antipodal import ParallelJawGripper, in_collision, sample_antipodal
from dexnet_core.synth.grasp_quality import GraspNoise, force_closure, robust_force_closure
from dexnet_core.synth.render import Raycaster

trimesh = pytest.importorskip("trimesh")


@pytest.fixture
def box():
    """A 10 x 4 x 5 cm box resting on the table (z = 0), narrow along y."""
    b = trimesh.creation.box([0.10, 0.04, 0.05])
    b.apply_translation([0, 0, 0.025])
    return b


def _pfc(box, centers, axes, seed=0):
    points = np.concatenate([box.vertices, box.sample(2000, seed=0)])
    return robust_force_closure(Raycaster([box]), points, np.array(centers, float), np.array(axes, float),
                                ParallelJawGripper(), GraspNoise(samples=32), np.random.default_rng(seed))


def test_box_across_narrow_side_is_positive_and_empty_space_negative(box):
    pfc, collide, width = _pfc(box, [[0, 0, 0.03], [0.3, 0, 0.03], [0, 0, 0.03], [0, 0, 0.005]],
                               [[0, 1, 0], [0, 1, 0], [1, 0, 0], [0, 1, 0]])
    assert pfc[0] > 0.9 and width[0] == pytest.approx(0.04, abs=1e-4) and not collide[0]
    assert pfc[1] == 0 and np.isnan(width[1])  # empty space: the jaws close on nothing
    assert pfc[2] == 0 and collide[2]  # 10 cm side is wider than the 8 cm opening: fingers hit the box
    assert pfc[3] == 0 and collide[3]  # fingertips would go through the table


def test_force_closure_needs_contacts_inside_friction_cones():
    p1, p2 = np.array([[0.0, -0.02, 0]]), np.array([[0.0, 0.02, 0]])
    n1, n2 = np.array([[0.0, -1, 0]]), np.array([[0.0, 1, 0]])
    assert force_closure(p1, p2, n1, n2, 0.5)[0]
    tilted = np.array([[0.0, -np.cos(0.6), np.sin(0.6)]])  # 34 deg off the line: outside atan(0.5) = 26.6 deg
    assert not force_closure(p1, p2, tilted, n2, 0.5)[0]
    assert force_closure(p1, p2, tilted, n2, 0.8)[0]
    assert not force_closure(p1, p1, n1, n2, 0.5, min_width=0.001)[0]


def test_palm_collides_with_tall_object():
    tall = trimesh.creation.box([0.03, 0.03, 0.12])
    tall.apply_translation([0, 0, 0.06])
    g = ParallelJawGripper()
    pts = tall.sample(3000, seed=1)
    hit = in_collision(np.array([[0, 0, 0.02], [0, 0, 0.10]]), np.array([[1.0, 0, 0], [1.0, 0, 0]]), pts, g)
    assert hit.tolist() == [True, False]


def test_antipodal_samples_are_mostly_good_on_box(box):
    caster = Raycaster([box])
    g = ParallelJawGripper()
    centers, axes = sample_antipodal(box, np.random.default_rng(0), 100, g, caster)
    assert len(centers) > 50
    assert np.allclose(axes[:, 2], 0) and (centers[:, 2] > g.tip_depth).all()
    pfc, _, _ = _pfc(box, centers, axes)
    assert 0.3 < (pfc > 0.5).mean() < 1.0
