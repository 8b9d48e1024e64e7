"""The small_batches / remedies chapters' rendering: the profiles' Section 3 / Appendix E specs are
typed, the plan says what is skipped (lbsm.report.captions.section_coverage), and the tables
(lbsm.report.tables) and sentences (lbsm.report.text) compare with the paper (no training here)."""
import dataclasses

import pandas as pd
import pytest

from lbsm.core import paper
from lbsm.core.constants import sharpness_col
from lbsm.core.datasets import DATASETS
from lbsm.experiments import plans, profiles, specs
from lbsm.report import captions
from lbsm.report import render as report
from lbsm.report import tables
from lbsm.report import text


@pytest.mark.parametrize("name", list(profiles.PROFILES))
def test_every_section_is_a_typed_spec(name):
    """Each section of each profile is a frozen spec of its own type (no keyword dicts)."""
    P = profiles.get(name)
    kinds = {"fig4": specs.Fig4Spec, "fig5": specs.Fig5Spec, "fig6": specs.Fig6Spec,
             "cone": specs.ConeSpec, "augmentation": specs.RemedySpec,
             "conservative": specs.RemedySpec, "adversarial": specs.RemedySpec,
             "stability": specs.RemedySpec}
    found = {**specs.sections(P.small_batches), **specs.sections(P.remedies)}
    assert set(found) == set(kinds)
    for section, ss in found.items():
        assert all(isinstance(s, kinds[section]) for s in ss), section
    if name in ("cpu-v2", "official-20"):  # campaign profiles: the trial chapters only
        assert not found["fig4"] and not found["conservative"]
        return
    assert P.small_batches.fig4 and P.remedies.conservative
    with pytest.raises(dataclasses.FrozenInstanceError):
        P.small_batches.fig4[0].epochs = 3


def test_a_misspelled_spec_field_is_an_error():
    with pytest.raises(TypeError):
        specs.Fig4Spec("F1", (256,), epoch=3)
    spec = specs.RemedySpec("F1", method="conservative")
    with pytest.raises(TypeError, match="no field.*bogus"):
        specs.replace(spec, bogus=1)
    changed = specs.replace(spec, train_subset=100, sharpness_iters=3, seeds=(0, 1))
    assert (changed.train.train_subset, changed.sharpness.iters, changed.seeds) == (100, 3, (0, 1))


@pytest.mark.parametrize("name", list(profiles.PROFILES))
@pytest.mark.parametrize("chapter", plans.CHAPTERS)
def test_plan_resolves(name, chapter, monkeypatch):
    monkeypatch.setattr(plans, "data_ready", lambda ds: ds != "timit")
    S = plans.plan(profiles.get(name), chapter)
    for section, ss in S.specs.items():
        assert "F2" not in {s.net for s in ss}
    if name == "paper" and chapter == "small_batches":
        assert S.stand_ins["fig4"] == {"F1": "F2"} and "F2" in S.skipped["fig4"]
        f1 = next(s for s in S.specs["fig4"] if s.net == "F1")
        assert max(f1.batch_sizes) <= 6000  # scaled to MNIST's 60,000
    if name == "paper" and chapter == "remedies":
        assert S.skipped["conservative"]["F2"].startswith("needs data")
    assert "Profile" in captions.section_coverage(S, ready={d: d != "timit" for d in DATASETS}).data
    assert text.method_args(S) if chapter == "remedies" else True


def test_plan_nets_filter(monkeypatch):
    monkeypatch.setattr(plans, "data_ready", lambda ds: True)
    S = plans.plan(profiles.get("smoke"), "remedies", nets="C1")
    assert [s.net for s in S.specs["augmentation"]] == ["C1"]
    assert "not selected" in S.skipped["conservative"]["F1"]
    with pytest.raises(ValueError):
        plans.plan(profiles.get("cpu"), "nope")


def test_the_plan_leaves_out_a_cone_without_trials(monkeypatch):
    """The cone remark samples a trial's minimizers: a network without trials in the profile is
    skipped when the plan is made, not by a part editing the plan later."""
    monkeypatch.setattr(plans, "data_ready", lambda ds: True)
    P = profiles.get("smoke")
    P = dataclasses.replace(P, small_batches=dataclasses.replace(
        P.small_batches, cone=(specs.ConeSpec("F1"), specs.ConeSpec("C2"))))
    S = plans.plan(P, "small_batches")
    assert [s.net for s in S.specs["cone"]] == ["F1"]
    assert S.skipped["cone"]["C2"] == "no trial of C2 in profile smoke"


def test_method_args_are_resolved(monkeypatch):
    monkeypatch.setattr(plans, "data_ready", lambda ds: True)
    args = text.method_args(plans.plan(profiles.get("smoke"), "remedies"))
    assert "lam = 0.001" in args["args_conservative"] and "inner_steps = 3" in args["args_conservative"]
    assert "eps = 0.1" in args["args_adversarial"] and "sigma = 0.04" in args["args_stability"]


def _fake_result(section, rows, chapter="remedies", runs=None):
    S = plans.plan(profiles.get("smoke"), chapter)
    spec = (specs.RemedySpec if chapter == "remedies" else specs.Fig4Spec)
    made = {r["net"]: (spec(r["net"]) if spec is specs.RemedySpec else spec(r["net"], (256,))) for r in rows}
    return plans.Result(section, S, pd.DataFrame(rows), runs or {}, made)


def test_remedy_table_against_the_paper():
    c1, c5 = sharpness_col(1e-3), sharpness_col(5e-4)
    rows = [dict(net="F1", regime=reg, remedy="conservative", seed=s, test_acc=acc, **{c1: sh, c5: sh / 2},
                 run=f"r{reg}{s}")
            for s in (0, 1) for reg, acc, sh in (("SB", 98.0 + s, float("nan")), ("LB+remedy", 97.0, 200.0),
                                                 ("LB", 96.0, 100.0))]
    R = _fake_result("conservative", rows)
    t = tables.remedy_table(R, 7)
    assert t.loc[("F1", "test SB (baseline)"), "ours"] == pytest.approx(98.5)
    assert t.loc[("F1", "test SB (baseline)"), "paper"] == paper.value(7, "F1", "test_sb_baseline")[0]
    assert t.loc[("F1", "test LB (plain; paper: Table 2)"), "paper"] == paper.value(2, "F1", "test_lb")[0]
    row = t.loc[("F1", "LB (conservative) sharpness eps 5e-4")]
    assert row.ours == 100.0 and row["ours - paper"] == pytest.approx(100.0 - row.paper)
    glued = text.remedy_text(R, t, "t7")
    assert "F1: conservative LB" in glued["t7_sentence"]
    assert "(nothing ran)" == report.check_table(pd.DataFrame())


def test_robust_table_differences():
    c1, c5 = sharpness_col(1e-3), sharpness_col(5e-4)
    rows = [dict(net="F1", regime="SB", remedy="adversarial", seed=0, test_acc=98.0, **{c1: float("nan"), c5: float("nan")}, run="a"),
            dict(net="F1", regime="LB", remedy="adversarial", seed=0, test_acc=96.0, **{c1: 100.0, c5: 50.0}, run="b"),
            dict(net="F1", regime="LB+remedy", remedy="adversarial", seed=0, test_acc=97.0, **{c1: 90.0, c5: 40.0}, run="c"),
            dict(net="F1", regime="LB", remedy="stability", seed=0, test_acc=96.0, **{c1: 100.0, c5: 50.0}, run="b"),
            dict(net="F1", regime="LB+remedy", remedy="stability", seed=0, test_acc=95.5, **{c1: 110.0, c5: 60.0}, run="d")]
    R = _fake_result("adversarial", rows)
    t = tables.robust_table(R)
    assert list(t.index.get_level_values("variant")) == ["SB", "LB", "LB + adversarial", "LB + stability"]
    assert t.loc[("F1", "LB + adversarial"), "test acc (%) − plain LB"] == pytest.approx(1.0)
    assert t.loc[("F1", "LB + stability"), "sharpness eps 1e-3 − plain LB"] == pytest.approx(10.0)
    assert "+1.00 points" in text.robust_text(R)["e3_sentence"]


def test_knee_table_and_paper_knees():
    rows = [dict(net="C1", batch_size=b, seed=0, test_acc=a)
            for b, a in ((100, 79.0), (250, 79.1), (500, 79.0), (1000, 77.0), (2000, 75.0))]
    R = _fake_result("fig4", rows, "small_batches",
                     runs={"C1": [type("Run", (), {"meta": {"n_train": 50000}})()]})
    k = tables.knee_table(R)
    assert k.loc["C1", "knee (ours)"] == 500 and k.loc["C1", "knee (paper, stated)"] == 500
    assert k.loc["C1", "knee (paper curve, our rule)"] == pytest.approx(tables.paper_knee("C1"))


def test_check_numbers_is_coarse():
    df = pd.DataFrame({"net": ["F1"], "x": [12.4], "y": [-0.2]}).set_index("net")
    assert report.check_numbers(df, ["x", "y"]) == "F1 [x]: 12\nF1 [y]: 0"
