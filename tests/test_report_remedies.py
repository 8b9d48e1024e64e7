"""The small_batches / remedies chapters' rendering: the profiles' Section 3 / Appendix E knobs bind
to lbsm.experiments, the plan says what is skipped (lbsm.report.section_coverage), and the tables
(lbsm.tables) and sentences (lbsm.text) compare with the paper (no training here)."""
import pandas as pd
import pytest

from lbsm.experiments import sections as experiments
from lbsm.core import paper
from lbsm.experiments import profiles
from lbsm.report import render as report
from lbsm.experiments import results
from lbsm.report import tables
from lbsm.report import text


@pytest.mark.parametrize("name", list(profiles.PROFILES))
def test_every_knob_binds(name):
    """Every small_batches / remedies knob of every profile is an argument of its function."""
    checked = results.check_knobs(profiles.get(name))
    assert any(c.startswith("small_batches.fig4.") for c in checked)
    assert any(c.startswith("remedies.conservative.") for c in checked)


def test_unknown_knob_is_an_error():
    P = profiles.replace(profiles.get("smoke"), remedies={"conservative": {"F1": {"bogus": 1}}})
    with pytest.raises(TypeError):
        results.check_knobs(P)
    P = profiles.replace(profiles.get("smoke"), small_batches={"fig9": {}})
    with pytest.raises(ValueError, match="unknown small_batches section"):
        results.check_knobs(P)


@pytest.mark.parametrize("name", list(profiles.PROFILES))
@pytest.mark.parametrize("chapter", list(results.SECTIONS))
def test_plan_resolves(name, chapter, monkeypatch):
    monkeypatch.setattr(report, "data_ready", lambda ds: ds != "timit")
    S = results.plan(name, chapter)
    for section, nets in S.knobs.items():
        assert "F2" not in nets
        for net, kw in nets.items():
            results.bind(results.SECTIONS[chapter][section], kw, net)
    if name == "paper" and chapter == "small_batches":
        assert S.stand_ins["fig4"] == {"F1": "F2"} and "F2" in S.skipped["fig4"]
        assert max(S.knobs["fig4"]["F1"]["batch_sizes"]) <= 6000  # scaled to MNIST's 60,000
    if name == "paper" and chapter == "remedies":
        assert S.skipped["conservative"]["F2"].startswith("needs data")
    assert "Profile" in report.section_coverage(S).data
    assert text.method_args(S) if chapter == "remedies" else True


def test_plan_nets_filter(monkeypatch):
    monkeypatch.setattr(report, "data_ready", lambda ds: True)
    S = results.plan("smoke", "remedies", nets="C1")
    assert list(S.knobs["augmentation"]) == ["C1"] and "not selected" in S.skipped["conservative"]["F1"]
    with pytest.raises(ValueError):
        results.plan("cpu", "nope")


def test_method_args_are_resolved(monkeypatch):
    monkeypatch.setattr(report, "data_ready", lambda ds: True)
    args = text.method_args(results.plan("smoke", "remedies"))
    assert "lam = 0.001" in args["args_conservative"] and "inner_steps = 3" in args["args_conservative"]
    assert "eps = 0.1" in args["args_adversarial"] and "sigma = 0.04" in args["args_stability"]


def _fake_result(section, rows, chapter="remedies"):
    S = results.plan("smoke", chapter)
    return results.Result(section, S, pd.DataFrame(rows), {}, {r["net"]: {} for r in rows})


def test_remedy_table_against_the_paper():
    c1, c5 = experiments.sharpness_col(1e-3), experiments.sharpness_col(5e-4)
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
    c1, c5 = experiments.sharpness_col(1e-3), experiments.sharpness_col(5e-4)
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
    R = _fake_result("fig4", rows, "small_batches")
    R.runs = {"C1": [type("Run", (), {"meta": {"n_train": 50000}})()]}
    k = tables.knee_table(R)
    assert k.loc["C1", "knee (ours)"] == 500 and k.loc["C1", "knee (paper, stated)"] == 500
    assert k.loc["C1", "knee (paper curve, our rule)"] == pytest.approx(tables.paper_knee("C1"))


def test_check_numbers_is_coarse():
    df = pd.DataFrame({"net": ["F1"], "x": [12.4], "y": [-0.2]}).set_index("net")
    assert report.check_numbers(df, ["x", "y"]) == "F1 [x]: 12\nF1 [y]: 0"
