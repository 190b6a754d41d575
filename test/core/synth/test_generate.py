import numpy as np

from dexnet_core.synth.generate import SynthConfig, SynthImage
from dexnet_core.synth.meshes import load_object_library


def test_scale_jitter_rescales_each_table_axis_and_keeps_the_object_on_the_table(mesh_dir, tmp_path):
    objs = load_object_library("all", source=mesh_dir, cache_dir=tmp_path / "cache")
    plain, jitter = SynthConfig(collision_points=50), SynthConfig(collision_points=50, scale_jitter=0.2)
    ratios = []
    for seed in range(6):
        obj = objs[seed % len(objs)]
        a = SynthImage(plain, obj, np.random.default_rng(seed))
        b = SynthImage(jitter, obj, np.random.default_rng(seed))
        assert a.pose_index == b.pose_index and np.allclose(a.pose, b.pose)
        s = b.mesh.extents / a.mesh.extents
        assert np.all((s > np.exp(-0.2) - 1e-9) & (s < np.exp(0.2) + 1e-9))
        assert abs(b.mesh.bounds[0, 2]) < 1e-9  # still standing on the table
        assert np.allclose(b.mesh.bounds[:, :2].mean(axis=0), a.mesh.bounds[:, :2].mean(axis=0), atol=1e-9)
        assert np.isclose(b.mass, obj.mass * np.prod(s)) and a.mass == obj.mass
        ratios.append(s)
    assert np.ptp(np.array(ratios), axis=0).min() > 0.05  # the scales really vary
