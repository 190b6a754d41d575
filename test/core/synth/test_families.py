import numpy as np
import pytest
import yaml

from dexnet_core.cli import main
from dexnet_core.errors import DatasetError
from dexnet_core.synth import procedural
from dexnet_core.synth.families import FAMILIES, FOLDER_ID_STRIDE, everyday_sources, parse_mesh_spec
from dexnet_core.synth.generate import SynthConfig, generate_shard
from dexnet_core.synth.meshes import draw_probabilities, load_object_library
from dexnet_core.synth.procedural import PROCEDURAL

trimesh = pytest.importorskip("trimesh")


def test_spec_names_a_family_a_folder_or_a_weighted_mix(mesh_dir):
    assert parse_mesh_spec("procedural").sources == ("procedural",)
    assert parse_mesh_spec(mesh_dir).sources == (str(mesh_dir),)
    mix = parse_mesh_spec(f"procedural:2, random_urdfs:1,{mesh_dir}:1")
    assert mix.sources == ("procedural", "random_urdfs", str(mesh_dir))
    assert mix.weights == pytest.approx((0.5, 0.25, 0.25))
    assert parse_mesh_spec("procedural,random_urdfs").weights == (0.5, 0.5)
    assert [mix.id_offset(k) for k in range(3)] == [0, 0, 3 * FOLDER_ID_STRIDE]
    assert parse_mesh_spec(mesh_dir).id_offset(0) == 0


@pytest.mark.parametrize("spec, match", [
    ("bogus", "unknown mesh family or folder 'bogus'"),
    ("procedural:abc", "bad mix weight 'abc'"),
    ("procedural:0,random_urdfs:1", "bad mix weight '0'"),
    ("procedural:-1", "bad mix weight '-1'"),
    ("procedural:nan,random_urdfs:1", "bad mix weight 'nan'"),
    ("procedural:0.5,random_urdfs", "only some sources"),
    ("procedural,procedural", "twice"),
    ("procedural,", "empty entry"),
    ("/no/such/folder:0.5,procedural:0.5", "unknown mesh family or folder '/no/such/folder'"),
])
def test_bad_specs_are_one_line_errors_listing_the_valid_values(spec, match):
    with pytest.raises(ValueError, match=match) as err:
        parse_mesh_spec(spec)
    assert "\n" not in str(err.value)
    if "unknown" in match:
        assert all(f in str(err.value) for f in FAMILIES)


SMALL = 8  # objects of the cut-down procedural family


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """A mesh cache shared by this module's tests."""
    return tmp_path_factory.mktemp("cache")


@pytest.fixture
def small_family(monkeypatch):
    """The procedural family cut to its first SMALL objects (of different kinds)."""
    monkeypatch.setattr(procedural, "PROCEDURAL_COUNT", SMALL)
    return PROCEDURAL


@pytest.fixture
def parts_dir(tmp_path):
    """A folder of six boxes."""
    d = tmp_path / "parts"
    d.mkdir()
    for i in range(6):
        trimesh.creation.box([0.03 + 0.01 * i, 0.05, 0.04]).export(d / f"part{i}.stl")
    return d


def test_each_family_keeps_its_own_split_in_a_mix(small_family, parts_dir, cache):
    alone = {o.name for o in load_object_library("val", source=PROCEDURAL, cache_dir=cache, val_fraction=0.5)}
    spec = f"{PROCEDURAL}:0.75,{parts_dir}:0.25"
    val = load_object_library("val", source=spec, cache_dir=cache, val_fraction=0.5)
    train = load_object_library("train", source=spec, cache_dir=cache, val_fraction=0.5)
    every = load_object_library("all", source=spec, cache_dir=cache)
    keys = [{(o.source, o.name) for o in objs} for objs in (val, train, every)]
    assert keys[0] | keys[1] == keys[2] and not keys[0] & keys[1]
    assert {o.name for o in val if o.source == PROCEDURAL} == alone  # mixing in a folder moves none
    assert {o.source for o in val} == {o.source for o in train} == {PROCEDURAL, str(parts_dir)}
    ids = [o.object_id for o in every]
    assert len(set(ids)) == len(ids) == SMALL + 6
    assert all(o.object_id >= 2 * FOLDER_ID_STRIDE for o in every if o.source == str(parts_dir))
    # draws follow the family weights, then uniform within the family
    p = draw_probabilities(every)
    fam = np.array([o.source == PROCEDURAL for o in every])
    assert p[fam].sum() == pytest.approx(0.75) and np.ptp(p[fam]) < 1e-12
    # a shard draws by them: a family of all-but-zero weight is never drawn (uniformly: 8 views in 14)
    rare = load_object_library("all", source=f"{PROCEDURAL}:0.0001,{parts_dir}:1", cache_dir=cache)
    drawn = generate_shard(SynthConfig(num_datapoints=12, shard_size=12, grasps_per_image=3), rare, 0)
    assert set(drawn["object_labels"]) <= {o.object_id for o in rare if o.source == str(parts_dir)}
    # one source alone draws uniformly, exactly as before mixes existed
    assert draw_probabilities(load_object_library("all", source=parts_dir, cache_dir=cache)) is None


def test_everyday_family_files_are_shipped_with_pybullet():
    src = everyday_sources()
    assert len(src) >= 15 and all(s.path.is_file() for s in src)
    names = {"duck", "teddy", "mug", "lego", "jenga", "bunny", "ball", "soccerball", "torus"}
    assert names <= {s.name for s in src}
    assert all(0 < s.mass <= 1 for s in src)


def test_synth_records_each_family_and_resumes(small_family, parts_dir, cache, tmp_path, monkeypatch):
    monkeypatch.setenv("DEXNET_CACHE", str(cache))
    out = tmp_path / "ds"
    cmd = ["--log-level", "WARNING", "synth", str(out), "--meshes", f"{PROCEDURAL}:0.5,{parts_dir}:0.5",
           "--split", "all", "-n", "40", "--shard-size", "20", "--grasps-per-image", "10", "--no-progress"]
    assert main(cmd) == 0
    path = out / "dataset.yaml"
    meshes = yaml.safe_load(path.read_text())["meshes"]
    fams = {f["source"]: f for f in meshes["families"]}
    assert fams[PROCEDURAL]["weight"] == 0.5 and fams[PROCEDURAL]["count"] == SMALL
    assert fams[str(parts_dir)]["object_ids"] == [2 * FOLDER_ID_STRIDE + i for i in range(6)]
    assert sorted(fams[PROCEDURAL]["object_ids"] + fams[str(parts_dir)]["object_ids"]) == meshes["object_ids"]
    assert main(cmd) == 0  # resume
    # a dataset.yaml written before per-family records existed resumes too
    meta = yaml.safe_load(path.read_text())
    del meta["meshes"]["families"]
    path.write_text(yaml.safe_dump(meta))
    assert main(cmd) == 0
    # another mix is another dataset
    other = [f"{PROCEDURAL}:0.4,{parts_dir}:0.6" if a.startswith(PROCEDURAL) else a for a in cmd]
    assert main(other) == 1


@pytest.mark.parametrize("args, words", [
    (["synth", "OUT", "--meshes", "bogus"], ["bogus", "procedural", "random_urdfs", "pybullet_everyday"]),
    (["synth", "OUT", "--meshes", "procedural:x,random_urdfs:1"], ["'x'", "weights are numbers > 0"]),
    (["sim", "--meshes", "procedural:1,bogus:1"], ["bogus", "procedural", "random_urdfs"]),
])
def test_cli_mesh_spec_errors_are_one_line(args, words, tmp_path, capsys):
    args = [str(tmp_path / "out") if a == "OUT" else a for a in args]
    assert main(args + (["--out", str(tmp_path / "sim")] if args[0] == "sim" else [])) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"dexnet {args[0]}: error:") and "\n" not in err
    assert all(w in err for w in words), err


def test_folder_without_usable_object_is_one_line_error(tmp_path, capsys):
    d = tmp_path / "broken"
    d.mkdir()
    (d / "flat.obj").write_text("v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n")
    with pytest.raises(DatasetError, match="no usable object"):
        load_object_library("all", source=d, cache_dir=tmp_path / "cache")
    assert main(["synth", str(tmp_path / "out"), "--meshes", str(d), "--split", "all", "--no-progress",
                 "--cache-dir", str(tmp_path / "cache")]) == 1
    err = capsys.readouterr().err.strip()
    assert "no usable object" in err and str(d) in err and "\n" not in err
