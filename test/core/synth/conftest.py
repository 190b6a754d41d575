"""Tiny mesh folders shared by the synth tests."""

from pathlib import Path

import numpy as np
import pytest

trimesh = pytest.importorskip("trimesh")


def write_box(path: Path, extents, parts: int = 1) -> None:
    """A box of ``extents`` (m) written as ``parts`` touching slabs along x (like the random_urdfs parts)."""
    ex = np.asarray(extents, dtype=float)
    slabs = []
    for i in range(parts):
        b = trimesh.creation.box([ex[0] / parts, ex[1], ex[2]])
        b.apply_translation([-ex[0] / 2 + (i + 0.5) * ex[0] / parts, 0, 0])
        slabs.append(b)
    trimesh.util.concatenate(slabs).export(path)


@pytest.fixture
def mesh_dir(tmp_path: Path) -> Path:
    """Folder with two good boxes (one in 3 touching parts) and one broken OBJ (NaN vertex)."""
    d = tmp_path / "meshes"
    d.mkdir()
    write_box(d / "a_box.obj", (0.04, 0.10, 0.06), parts=3)
    write_box(d / "b_box.stl", (0.05, 0.05, 0.03))
    verts = "v 0 0 0\nv 1 0 0\nv nan 1 0\nv 0 0 1\n"
    (d / "c_broken.obj").write_text(verts + "f 1 2 3\nf 1 2 4\nf 1 3 4\nf 2 3 4\n")
    return d
