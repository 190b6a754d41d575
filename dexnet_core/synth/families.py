"""Object families and the mesh spec that names or mixes them (``dexnet synth/sim --meshes``).

Families:

- ``random_urdfs``: pybullet's 1000 procedural part assemblies (ids 0-999), what the shipped models saw;
- ``procedural``: everyday objects of ``dexnet_core.synth.procedural`` (ids from 100000);
- ``pybullet_everyday``: the real object meshes pybullet_data ships outside random_urdfs (a duck, a teddy,
  a mug, a lego brick, a jenga block, a bunny, balls, a torus, toys, ...; ids from 200000), a small
  out-of-family test set.

A spec is a family name, a folder of .obj/.stl/.ply files (metres), or a weighted mix of them
(``procedural:0.5,random_urdfs:0.3,/my/parts:0.2``): datapoints and trays draw a family with its weight,
then one of its objects uniformly. Each family keeps its own held-out split (by object name and the split
seed), so adding a family to a mix never moves another family's objects between splits.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from dexnet_core.synth.meshes import RANDOM_URDFS, MeshSource, ObjectMesh, random_urdfs_sources
from dexnet_core.synth.procedural import PROCEDURAL

EVERYDAY = "pybullet_everyday"
FAMILIES = (PROCEDURAL, RANDOM_URDFS, EVERYDAY)
EVERYDAY_ID_BASE = 200_000
FOLDER_ID_STRIDE = 1_000_000  # in a mix, the folder at position k (from 0) has ids from (k + 1) * stride
MIX_EXAMPLE = "procedural:0.5,random_urdfs:0.3,/my/parts:0.2"

# name, file under pybullet_data, scale (as its URDF where there is one), plausible mass (kg)
_EVERYDAY = (
    ("duck", "duck_vhacd.obj", 0.05, 0.06),
    ("teddy", "teddy2_VHACD_CHs.obj", 0.1, 0.1),
    ("mug", "objects/mug_col.obj", 1.0, 0.3),
    ("lego", "lego/lego_vhacd.obj", 0.1, 0.02),
    ("jenga", "jenga/jenga.obj", (0.15, 0.05, 0.03), 0.1),
    ("domino", "domino/domino.obj", 1.0, 0.025),
    ("bunny", "bunny.obj", 0.1, 0.3),
    ("soccerball", "soccerball.obj", 0.22, 0.43),
    ("ball", "sphere_smooth.obj", 0.03, 0.06),
    ("cube", "cube.obj", 0.05, 0.1),
    ("torus", "torus/torus_textured.obj", 0.1, 0.2),
    ("stone", "stone.obj", 0.2, 0.8),
    ("toy_cylinder", "toys/cylinder.obj", 1.0, 0.1),
    ("toy_prism", "toys/prism.obj", 1.0, 0.1),
    ("shape_sorter", "toys/shape_sorter.obj", 0.5, 0.4),
    ("tray", "toys/concave_box.obj", 0.1, 0.2),
)


def everyday_sources() -> list[MeshSource]:
    """The ``pybullet_everyday`` family's objects."""
    from dexnet_core.synth.meshes import random_urdfs_dir

    root = random_urdfs_dir().parent
    return [MeshSource(EVERYDAY_ID_BASE + i, name, root / rel, scale, mass)
            for i, (name, rel, scale, mass) in enumerate(_EVERYDAY)]


def family_sources(name: str, cache_dir: str | Path | None = None) -> list[MeshSource]:
    """Mesh sources of family ``name`` (one of FAMILIES)."""
    if name == RANDOM_URDFS:
        return random_urdfs_sources()
    if name == PROCEDURAL:
        from dexnet_core.synth.procedural import procedural_sources

        return procedural_sources(cache_dir)
    if name == EVERYDAY:
        return everyday_sources()
    raise ValueError(f"unknown object family {name!r}; valid: {', '.join(FAMILIES)}")


def _valid_sources() -> str:
    return (f"a family ({', '.join(FAMILIES)}), a folder of .obj/.stl/.ply files, or a weighted mix such as "
            f"{MIX_EXAMPLE}")


@dataclass(frozen=True)
class MeshMix:
    """Sources (family names or folders) and their weights (> 0, normalised to sum 1)."""

    sources: tuple[str, ...]
    weights: tuple[float, ...]

    def __post_init__(self) -> None:
        if not self.sources or len(self.sources) != len(self.weights):
            raise ValueError(f"a mesh mix needs one weight per source, got {self.sources} / {self.weights}")
        if len(set(self.sources)) != len(self.sources):
            raise ValueError(f"a mesh source is listed twice in {','.join(self.sources)}")
        for s, w in zip(self.sources, self.weights):
            if not (math.isfinite(w) and w > 0):
                raise ValueError(f"mix weight of {s!r} must be a number > 0, got {w}")

    def id_offset(self, k: int) -> int:
        """Added to the object ids of source ``k``: 0 for families and a lone folder."""
        if self.sources[k] in FAMILIES or len(self.sources) == 1:
            return 0
        return (k + 1) * FOLDER_ID_STRIDE


def parse_mesh_spec(spec: str | Path) -> MeshMix:
    """MeshMix of a spec: ``"procedural"``, ``"/my/parts"`` or a mix such as MIX_EXAMPLE.

    Raises ValueError (one line, listing the valid values) on an unknown family, a missing folder, a
    malformed or non-positive weight, weights given for only some entries, or a source listed twice.
    """
    text = str(spec).strip()
    entries = [e.strip() for e in text.split(",")]
    if not text or any(not e for e in entries):
        raise ValueError(f"empty entry in mesh spec {text!r}: use {_valid_sources()}")
    sources: list[str] = []
    weights: list[float | None] = []
    for entry in entries:
        name, weight = entry, None
        if entry not in FAMILIES and not Path(entry).expanduser().is_dir() and ":" in entry:
            name, raw = (x.strip() for x in entry.rsplit(":", 1))
            try:
                weight = float(raw)
            except ValueError:
                raise ValueError(f"bad mix weight {raw!r} for {name!r} in {text!r}: weights are numbers > 0, "
                                 f"e.g. {MIX_EXAMPLE}") from None
            if not (math.isfinite(weight) and weight > 0):
                raise ValueError(f"bad mix weight {raw!r} for {name!r} in {text!r}: weights are numbers > 0, "
                                 f"e.g. {MIX_EXAMPLE}")
        if name not in FAMILIES and not Path(name).expanduser().is_dir():
            raise ValueError(f"unknown mesh family or folder {name!r} in {text!r}: use {_valid_sources()}")
        sources.append(name)
        weights.append(weight)
    given = [w is not None for w in weights]
    if len(entries) > 1 and any(given) and not all(given):
        raise ValueError(f"mesh mix {text!r} gives weights for only some sources: give one for each, "
                         f"e.g. {MIX_EXAMPLE}")
    w = [1.0 if x is None else x for x in weights]
    return MeshMix(tuple(sources), tuple(x / sum(w) for x in w))


def library_info(objects: list[ObjectMesh], mix: MeshMix) -> list[dict]:
    """Per source of ``mix``: name, weight, count and object ids of ``objects`` (for dataset.yaml)."""
    out = []
    for source, weight in zip(mix.sources, mix.weights):
        ids = sorted(int(o.object_id) for o in objects if o.source == source)
        out.append({"source": source, "weight": round(weight, 6), "count": len(ids), "object_ids": ids})
    return out
