"""Verdicts from numbers: each rule on frames with known answers."""
import pandas as pd
import pytest

from lbsm import verdicts


def t2(sb, lb, psb=98.03, plb=97.81, sd=0.07):
    rows = [("F1", "test SB", sb, psb, sd), ("F1", "test LB", lb, plb, sd),
            ("F1", "gap (test SB - LB)", sb - lb, psb - plb, float("nan"))]
    return pd.DataFrame(rows, columns=["net", "quantity", "ours", "paper", "paper_sd"]).set_index(
        ["net", "quantity"])


@pytest.mark.parametrize("sb,lb,expected", [(98.0, 97.8, "reproduced"), (97.5, 97.0, "same direction"),
                                            (97.0, 97.5, "contradicts")])
def test_table2_rule(sb, lb, expected):
    (row,) = verdicts.table2(t2(sb, lb))
    assert row["verdict"] == expected and f"{sb:.2f}" in row["evidence"]


def sharp(sb, lb, psb=1.23, plb=205.0, sd=0.5):
    rows = []
    for eps in ("1e-3", "5e-4"):
        rows += [("F1", eps, "SB", sb, psb, sd), ("F1", eps, "LB", lb, plb, 20.0)]
    return pd.DataFrame(rows, columns=["net", "eps", "regime", "ours", "paper", "paper_sd"]).set_index(
        ["net", "eps", "regime"])


@pytest.mark.parametrize("sb,lb,expected", [(1.3, 210.0, "reproduced"), (12.6, 465.0, "same direction"),
                                            (0.5, 0.1, "contradicts")])
def test_sharpness_rule(sb, lb, expected):
    (row,) = verdicts.sharpness(sharp(sb, lb), "Table 3")
    assert row["verdict"] == expected and row["artifact"] == "Table 3"


@pytest.mark.parametrize("ratio,expected", [(5.0, "reproduced"), (1.5, "same direction"),
                                            (0.8, "contradicts")])
def test_distance_rule(ratio, expected):
    d = pd.DataFrame({"net": ["F1", "F1"], "seed": [0, 1], "ratio": [ratio, ratio]})
    assert verdicts.distance(d)[0]["verdict"] == expected


def test_parametric_rule_reads_the_curves():
    alphas = [-1.0, -0.5, 0.0, 0.5, 1.0, 1.5, 2.0]
    steep_lb = [0.5, 0.2, 0.0, 0.1, 0.0, 3.0, 6.0]
    curves = pd.DataFrame({"alpha": alphas, "split": "train", "loss": steep_lb, "net": "F1"})
    assert verdicts.parametric(curves, "linear")[0]["verdict"] == "reproduced"
    curves["loss"] = list(reversed(steep_lb))
    r = verdicts.parametric(curves, "curvilinear")[0]
    assert (r["artifact"], r["verdict"]) == ("Figure 7", "contradicts")


def test_not_run_says_why():
    rows = {r["net"]: r["evidence"] for r in verdicts.not_run("Table 2", {"F1"}, "cpu")}
    assert "F1" not in rows
    assert rows["F2"] == "needs data: TIMIT" and rows["C3"] == "needs data: CIFAR-100"
    assert rows["C1"].startswith("needs a GPU")


def test_counts_and_frame():
    rows = verdicts.table2(t2(98.0, 97.8)) + verdicts.not_run("Table 2", {"F1"}, "cpu")
    c = verdicts.counts(rows)
    assert c["v_reproduced"] == "1" and c["v_not_run"] == "5" and c["v_total"] == "6"
    f = verdicts.frame(rows)
    assert f.loc[("Table 2", "F1"), "claim"] == verdicts.CLAIMS["Table 2"]
