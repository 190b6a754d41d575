"""Fixtures shared by the core tests."""

import pytest


@pytest.fixture(scope="session")
def box_objects(tmp_path_factory):
    """Object library of three boxes (4x10x6, 5x5x3 and 8x3x2 cm) for rendered frames."""
    trimesh = pytest.importorskip("trimesh")
    from dexnet_core.synth.meshes import load_object_library

    d = tmp_path_factory.mktemp("box_meshes")
    for name, size in (("a_box.obj", (0.04, 0.10, 0.06)), ("b_box.stl", (0.05, 0.05, 0.03)),
                       ("c_box.obj", (0.08, 0.03, 0.02))):
        trimesh.creation.box(size).export(d / name)
    return load_object_library("all", source=d, cache_dir=d / "cache", progress=False)
