import numpy as np
import pytest

from dexnet_core.synth import procedural
from dexnet_core.synth.meshes import load_object_library
from dexnet_core.synth.procedural import KINDS, MASS_RANGE_KG, MAX_SIZE_M, MIN_SIZE_M, make_parts


def test_objects_are_deterministic_per_seed():
    for i in (0, 6, 13):  # box, mug, superquadric
        kind, parts, mass = make_parts(i, seed=0)
        again = make_parts(i, seed=0)
        assert again[0] == kind and again[2] == mass
        assert all(np.array_equal(a.vertices, b.vertices) for a, b in zip(parts, again[1]))
        other = make_parts(i, seed=1)
        assert other[0] == kind and other[2] != mass


def test_every_kind_is_watertight_in_size_range_with_plausible_mass(tmp_path, monkeypatch):
    monkeypatch.setattr(procedural, "PROCEDURAL_COUNT", 2 * len(KINDS))
    objs = load_object_library("all", source="procedural", cache_dir=tmp_path)
    assert len(objs) == 2 * len(KINDS)  # none skipped
    assert {o.name.rsplit("_", 1)[0] for o in objs} == set(KINDS)
    for o in objs:
        assert o.mesh.is_watertight and o.mesh.volume > 0, o.name
        # the union dilates each part by 1% about its centroid
        assert MIN_SIZE_M * 0.99 <= o.mesh.extents.max() <= MAX_SIZE_M * 1.02, (o.name, o.mesh.extents)
        assert MASS_RANGE_KG[0] <= o.mass <= MASS_RANGE_KG[1], o.name
        assert 20 < o.mass / o.mesh.volume < 8000 or o.mass in MASS_RANGE_KG, o.name  # kg/m^3
        assert len(o.pose_probs) >= 1 and abs(o.pose_probs.sum() - 1) < 1e-9
        assert o.source == "procedural" and o.object_id >= procedural.PROCEDURAL_ID_BASE
    # a mug stays hollow: far less volume than its convex hull
    mug = next(o for o in objs if o.name.startswith("mug"))
    assert mug.mesh.volume < 0.6 * mug.mesh.convex_hull.volume
    # the same objects come back from the cache
    again = load_object_library("all", source="procedural", cache_dir=tmp_path)
    assert [o.name for o in again] == [o.name for o in objs]
    assert all(np.array_equal(a.mesh.vertices, b.mesh.vertices) for a, b in zip(again, objs))


def test_negative_index_is_refused():
    with pytest.raises(ValueError, match="index"):
        make_parts(-1)
