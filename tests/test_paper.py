"""The paper's numbers are package data, read through lbsm.paper, equal to what the paper prints."""
import json
from pathlib import Path

import pandas as pd
import pytest

from lbsm.core import paper

SHARED = Path(__file__).resolve().parents[2] / "shared"


def test_table2_values():
    t = paper.table(2)
    assert list(t.index) == list(paper.NETS)
    assert t.loc["F1", "test_sb"] == 98.03 and t.loc["F1", "test_lb"] == 97.81
    assert t.loc["F1", "train_sb"] == 99.66 and t.loc["F1", "train_lb"] == 99.92
    assert paper.value(2, "C4", "test_lb") == (57.81, 0.17)
    assert paper.value(2, "F2", "train_lb") == (98.35, 2.08)
    gaps = (t.test_sb - t.test_lb).round(2)
    assert gaps.to_dict() == {"F1": 0.22, "F2": 4.57, "C1": 2.78, "C2": 1.98, "C3": 3.13, "C4": 5.27}


def test_sharpness_tables():
    t3, t4 = paper.table(3), paper.table(4)
    assert paper.value(3, "F1", "lb_1e-3") == (205.14, 69.52)
    assert t3.loc["C2", "lb_1e-3"] == 925.32 and t3.loc["F1", "sb_5e-4"] == 0.61
    assert paper.value(4, "F1", "lb_5e-4") == (9.17, 0.14)  # as printed (~ the 1e-3 value)
    assert t4.loc["C3", "sb_1e-3"] == 17.02
    for t in (t3, t4):  # the paper's claim: LB sharper than SB everywhere
        for eps in ("1e-3", "5e-4"):
            assert (t[f"lb_{eps}"] > t[f"sb_{eps}"]).all()


def test_other_tables():
    t1 = paper.table(1)
    assert t1.loc["F2", "dataset"] == "TIMIT" and t1.loc["C4", "dataset"] == "CIFAR-100"
    t5 = paper.table(5)
    assert t5.loc["TIMIT", "train"] == 721329 and t5.loc["CIFAR-100", "classes"] == 100
    assert paper.value(6, "C4", "test_lb_augmented") == (65.88, 0.13)
    assert paper.value(7, "C2", "test_lb_conservative") == (88.495, 0.63)
    assert paper.table(2).attrs["title"].startswith("Table 2")
    with pytest.raises(ValueError):
        paper.table(8)


def test_protocol_and_statements():
    p = paper.protocol()
    assert p["sb_batch"] == 256 and p["lb_fraction"] == 0.1 and p["trials"] == 5
    assert p["sharpness_eps"] == [0.001, 0.0005] and p["subspace_dim"] == 100
    r = paper.statement("distance_ratio")
    assert (r["low"], r["high"]) == (3, 10)
    assert paper.statement("threshold_batch_size")["C1"] == 500
    with pytest.raises(KeyError):
        paper.statement("nope")


def test_figures():
    keys = paper.figure_keys()
    for net in paper.NETS:
        assert f"Fig3_{net}" in keys and f"Fig7_{net}" in keys
    assert {"Fig2a_F2", "Fig2b_C1"} <= set(keys)
    f = paper.figure("Fig3_F1")
    assert isinstance(f, pd.DataFrame) and list(f.columns) == ["series", "x", "y"]
    assert set(f.series) == {"loss_train", "loss_test", "acc_train", "acc_test"}
    assert f.groupby("series").size().eq(25).all()
    assert f.x.min() == -1.0 and f.x.max() == 2.0
    assert paper.figure("Fig2b_C1").query("series == 'SB_test'").y.between(60, 82).all()
    # Fig. 3(c) read off the PDF matches the official repository's exact data (README: <= 5e-4)
    a = paper.figure("Fig3_C1").set_index(["series", "x"]).y
    b = paper.figure("Fig3_C1", source="repo").set_index(["series", "x"]).y
    assert (a - b.reindex(a.index)).abs().max() < 0.05
    assert not paper.has_figure("Fig2_F1")
    with pytest.raises(KeyError):
        paper.figure("Fig3_C1x")
    with pytest.raises(KeyError):
        paper.figure("Fig3_F1", source="repo")


def test_package_data_has_provenance():
    from importlib import resources
    d = resources.files("lbsm").joinpath("paper_data")
    names = {p.name for p in d.iterdir()}
    assert {"README.md", "keskar2017_tables.json", "keskar2017_text.json",
            "keskar2017_figure_data.json", "repo_C1-C4_parametric_data.json"} <= names
    readme = d.joinpath("README.md").read_text()
    for name in names - {"README.md"}:
        assert name in readme, f"{name} has no provenance line in paper_data/README.md"


@pytest.mark.skipif(not SHARED.is_dir(), reason="no ../shared beside the repository")
def test_copies_equal_shared_originals():
    from importlib import resources
    d = resources.files("lbsm").joinpath("paper_data")
    pairs = {"keskar2017_tables.json": SHARED / "paper" / "keskar2017_tables.json",
             "keskar2017_figure_data.json": SHARED / "data/keskar2017_figures/keskar2017_figure_data.json",
             "repo_C1-C4_parametric_data.json": SHARED / "data/keskar2017_figures/repo_C1-C4_parametric_data.json"}
    for name, src in pairs.items():
        if src.is_file():
            assert json.loads(d.joinpath(name).read_text()) == json.loads(src.read_text()), name
