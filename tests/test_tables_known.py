"""Known answers for the book's main tables, on hand-made runs and solves: Table 2's means, sds and
paired t-test, Table 3's means and LB/SB ratio against the paper, and the status and verdict rows
they feed. A table that inverted a ratio, swapped SB and LB or averaged the wrong column fails
here (nbval compares only the cells that hold no computed number)."""
from __future__ import annotations

import math
from types import SimpleNamespace

import pandas as pd
import pytest

from lbsm.core import paper
from lbsm.experiments import profiles
from lbsm.experiments.trials import Trained
from lbsm.report import summary, tables

READY = {"mnist": True, "cifar10": True, "cifar100": False, "timit": False}  # as a chapter finds them

SB_TEST, LB_TEST = (98.0, 99.0, 97.0), (97.0, 97.5, 96.5)


def fake_run(seed, batch, test_acc, train_acc):
    final = dict(epoch=30, train_loss=0.01, train_acc=train_acc, test_loss=0.1, test_acc=test_acc)
    cfg = SimpleNamespace(seed=seed, batch_size=batch, net="F1", stop="plateau", precision="fp32",
                          train_subset=None, test_subset=None, epochs=100)
    return SimpleNamespace(final=final, config=cfg, status="done", name=f"F1-{seed}-{batch}",
                           meta=dict(epochs_run=30, precision="fp32", stopped_by="plateau",
                                     n_train=60000, n_test=10000))


def trials() -> Trained:
    P = profiles.get("cpu")
    pairs = [(fake_run(s, 256, sb, 99.9), fake_run(s, 6000, lb, 100.0))
             for s, (sb, lb) in enumerate(zip(SB_TEST, LB_TEST))]
    return Trained(P, pairs={"F1": pairs})


def test_table2_means_sds_and_the_paired_test():
    t = tables.table2(trials())
    assert t.loc[("F1", "test SB"), "ours"] == pytest.approx(98.0)
    assert t.loc[("F1", "test SB"), "ours_sd"] == pytest.approx(1.0)
    assert t.loc[("F1", "test LB"), "ours"] == pytest.approx(97.0)
    assert t.loc[("F1", "test LB"), "ours_sd"] == pytest.approx(0.5)
    assert t.loc[("F1", "train LB"), "ours"] == pytest.approx(100.0)
    gap = t.loc[("F1", "gap (test SB - LB)")]
    assert gap.ours == pytest.approx(1.0) and gap.ours_sd == pytest.approx(0.5)
    # paired differences 1, 1.5, 0.5: t = 1 / (0.5 / sqrt 3) = 2 sqrt 3 on 2 degrees of freedom,
    # whose two-sided p is 1 - t / sqrt(2 + t^2) (Student's t with 2 df in closed form)
    tt = 2 * math.sqrt(3)
    assert gap["paired t-test"] == f"p = {1 - tt / math.sqrt(2 + tt * tt):.2g}"
    ptab = paper.table(2)
    assert t.loc[("F1", "test SB"), "paper"] == ptab.loc["F1", "test_sb"]
    assert gap.paper == pytest.approx(ptab.loc["F1", "test_sb"] - ptab.loc["F1", "test_lb"])
    assert t.loc[("F1", "test SB"), "ours - paper"] == pytest.approx(98.0 - ptab.loc["F1", "test_sb"])


def solves(sb=(1.0, 2.0, 3.0), lb=(100.0, 200.0, 300.0), iterations=10) -> pd.DataFrame:
    rows = [dict(net="F1", seed=s, regime=regime, eps="1e-3", value=v, iterations=iterations,
                 iters=10, stop="iteration limit")
            for regime, values in (("sb", sb), ("lb", lb)) for s, v in enumerate(values)]
    return pd.DataFrame(rows)


def test_table3_means_and_the_lb_sb_ratio():
    t = tables.sharpness_table(solves(), 3)
    ptab = paper.table(3)
    sb, lb, ratio = (t.loc[("F1", "1e-3", r)] for r in ("SB", "LB", "LB/SB"))
    assert (sb.ours, sb.ours_sd, lb.ours, lb.ours_sd) == pytest.approx((2.0, 1.0, 200.0, 100.0))
    assert ratio.ours == pytest.approx(100.0)  # the ratio of the means, LB over SB
    assert ratio.paper == pytest.approx(ptab.loc["F1", "lb_1e-3"] / ptab.loc["F1", "sb_1e-3"])
    assert sb["ours / paper"] == pytest.approx(2.0 / ptab.loc["F1", "sb_1e-3"])
    assert sb["L-BFGS-B iterations run"] == "10 of 10" and sb.seeds == 3


def test_the_sharpness_verdict_follows_the_solves():
    """LB sharper than SB on every trial: resolved in the paper's direction; swapped: contradicts."""
    T = trials()
    s3 = solves()
    rows = {r["verdict"] for r in summary.sharpness_chapter(T, s3, s3.iloc[0:0], pd.DataFrame(), ready=READY)
            if r["artifact"] == "Table 3" and r["net"] == "F1"}
    swapped = solves(sb=(100.0, 200.0, 300.0), lb=(1.0, 2.0, 3.0))
    flipped = {r["verdict"] for r in summary.sharpness_chapter(T, swapped, s3.iloc[0:0], pd.DataFrame(), ready=READY)
               if r["artifact"] == "Table 3" and r["net"] == "F1"}
    assert rows and rows <= {"reproduced", "same direction"}
    assert flipped == {"contradicts"}


def test_the_setup_chapter_gives_its_status_rows():
    """The intro collects every chapter's rows from the results: setup's need no runs."""
    from lbsm.pipeline import compute
    rows, verdict_rows = summary.chapter_rows("setup", compute.chapter("setup", "smoke"))
    assert [r["artifact"] for r in rows] == ["Table 1", "Table 5"] and verdict_rows == []
    assert rows[0]["status"] == "complete"
    with pytest.raises(ValueError, match="records no status"):
        summary.chapter_rows("data", None)


def test_the_compute_cost_sums_the_stored_provenance(tmp_path):
    """A chapter says what computing it took: its runs' training seconds plus the seconds of
    every stored analysis that names one of them (others' analyses do not count)."""
    from lbsm.core.store import Store
    from lbsm.report import captions
    store = Store(tmp_path / "r")
    store.analysis("distance", {"sb": "F1-a", "lb": "F1-b"}, lambda: {"ratio": 5.0}, 1)
    store.analysis("distance", {"sb": "F1-x", "lb": "F1-y"}, lambda: {"ratio": 4.0}, 1)
    runs = {n: SimpleNamespace(name=n, store=store, meta={"wall_seconds": s, "device": "cpu (2 threads)"})
            for n, s in (("F1-a", 90.0), ("F1-b", 30.0))}
    text = captions.cost_text(runs, "interpolation", "cpu")
    assert text.startswith("Its 2 runs took 2.0 min to train and their 1 stored analyses")
    assert "on cpu (2 threads)" in text and "compute interpolation --profile cpu" in text
    assert captions.cost_text({}) == ""


def test_the_stop_text_counts_plateau_and_fixed_runs_apart():
    """A caption names every stop rule its runs used: the cap count is over the plateau runs
    alone, and fixed-epoch runs beside them are counted and named, not folded into the rule."""
    from lbsm.report import captions

    def run(stop, epochs, by):
        return SimpleNamespace(config=SimpleNamespace(stop=stop, epochs=epochs), meta={"stopped_by": by})
    plateau = [run("plateau", 100, "plateau"), run("plateau", 100, "cap")]
    fixed = [run("epochs", 60, "epochs")] * 3
    assert captions.stop_text(plateau) == " (plateau rule, cap 100 epochs: 1 of 2 runs ended by the cap)"
    assert captions.stop_text(fixed) == " (fixed 60 epochs)"
    assert captions.stop_text(plateau + fixed) == (
        " (plateau rule, cap 100 epochs: 1 of 2 runs ended by the cap; 3 runs of fixed 60 epochs)")
