"""The official code's 20 epochs (lbsm.report.official): the references read from the paper's
Figure 2 run at epoch 20 and from Figure 3(c)'s data, each verdict outcome on hand-made trials, and the chapters' campaign section end to end on a
tiny published campaign of the same shape."""
import dataclasses

import matplotlib
import pandas as pd
import pytest

from lbsm.core.store import Store
from lbsm.experiments import profiles
from lbsm.pipeline import campaign
from lbsm.report import figures, official, summary, text, verdicts
from lbsm.report.render import PAPER_SOURCE

matplotlib.use("Agg")


def test_the_reference_is_figure_3c_at_the_two_minimizers():
    ref = official.reference("C1")
    # the official repository's data of Fig. 3(c) at alpha = 0 and 1 (grid points): 80.52 / 77.26
    assert ref["source"] == "the official repository's data"
    assert ref["test_sb"] == pytest.approx(80.52, abs=1e-6)
    assert ref["test_lb"] == pytest.approx(77.26, abs=1e-6)
    assert ref["train_sb"] > 99.9 and ref["train_lb"] > 99.9
    assert official.reference("F1")["source"] == "the paper's plotted curve"  # no repo data for F1
    assert official.reference("no-such-net") is None


def test_the_judged_reference_is_the_paper_s_figure_2_run_at_epoch_20():
    """Figure 2(b)'s C1 curves at epoch 20 and at their last epoch (99), as the paper's digest reads
    them off (shared/paper/keskar2017.md, Figure 2): SB train 91.8 / 98.5, LB train 80.7 / 98.7,
    test 80.3 / 76.3 at epoch 20; no Figure 2 for F1."""
    at, end = official.epoch_accuracies("C1", 20), official.epoch_accuracies("C1", None)
    assert (at["train_sb"], at["train_lb"], at["test_sb"], at["test_lb"]) == pytest.approx(
        (91.8, 80.7, 80.3, 76.3), abs=0.06)
    assert end["epoch"] == pytest.approx(99, abs=1e-3)
    assert (end["train_sb"], end["train_lb"]) == pytest.approx((98.5, 98.7), abs=0.06)
    assert official.epoch_accuracies("F1", 20) is None


def test_the_panel_origin_sentence_is_made_from_the_paper_s_numbers():
    """Figure 2's run is below the panel's training accuracies at epoch 20 by far more than a
    point, so the sentence says the panel's pair was trained beyond 20 epochs; ours join it once a
    trial is published; a network without Figure 2 gets no sentence."""
    empty = official.panel_origin_text(pd.DataFrame())["official_panel_origin"]
    assert "91.8 % (SB) and 80.7 % (LB) training accuracy at epoch 20" in empty
    assert "against the panel's 99.97 % and 100.00 %" in empty and "trained well beyond" in empty
    assert "ours" not in empty
    curves = pd.DataFrame([dict(net="C1", seed=0, split="test", alpha=a, loss=0.0, accuracy=acc)
                           for a, acc in ((0.0, 79.9), (1.0, 76.36))])
    assert "; ours 79.90 % and 76.36 %)" in official.panel_origin_text(curves)["official_panel_origin"]
    assert official.panel_origin_text(pd.DataFrame(), net="F1") == {"official_panel_origin": ""}


def trials(gaps, sb=80.3, net="C1"):
    """Hand-made 20-epoch trials: SB's test accuracy ``sb`` (+ a small spread), LB's ``gaps`` below."""
    rows = [dict(net=net, seed=i, train_sb=100.0, train_lb=100.0, test_sb=sb + 0.1 * (i % 2),
                 test_lb=sb + 0.1 * (i % 2) - g) for i, g in enumerate(gaps)]
    return pd.DataFrame(rows)


@pytest.mark.parametrize("gaps, sb, verdict", [
    ((3.8, 4.3, 4.0, 4.2, 3.7), 80.3, "reproduced"),        # the paper's epoch-20 gap 4.00 in the band
    ((1.0, 1.1, 0.9, 1.05, 0.95), 80.3, "same direction"),  # resolved, but far below 4.00
    ((3.8, 4.3, 4.0, 4.2, 3.7), 70.0, "same direction"),    # the gap fits, SB's accuracy does not
    ((1.0, -1.2, 0.5, -0.4, 0.2), 80.3, "inconclusive"),    # not resolved
    ((3.8, 4.3), 80.3, "inconclusive"),                     # too few trials
    ((-1.0, -1.1, -0.9, -1.05, -0.95), 80.3, "contradicts"),
])
def test_each_outcome(gaps, sb, verdict):
    (r,) = official.rows(trials(gaps, sb))
    assert r["verdict"] == verdict, r["evidence"]
    assert r["artifact"] == official.ARTIFACT and r["kind"] == "paper"
    assert "the paper's Figure 2 run at epoch 20 80.34 vs 76.34, gap 4.00" in r["evidence"]
    # the Figure 3(c) pair is shown, not judged: it is Table 2's, the paper says
    assert "not judged against: the Figure 3(c) pair" in r["evidence"] and "80.52 vs 77.26" in r["evidence"]
    assert "(judged against it: " in r["evidence"]


def test_the_figure_3c_pair_gives_the_earlier_reading_s_verdict():
    """Trials at the paper's epoch-20 accuracies (80.34 vs 76.34) reproduce them, and the same
    trials judged against the Figure 3(c) pair (80.52 vs 77.26: SB's 0.18 above ours, beyond ± 2
    sd) would only be in the same direction; trials at the pair's accuracies, the other way round."""
    (r,) = official.rows(trials((3.8, 4.3, 4.0, 4.2, 3.7), sb=80.3))
    assert r["verdict"] == "reproduced" and "(judged against it: same direction)" in r["evidence"]
    (r,) = official.rows(trials((3.2, 3.3, 3.25, 3.3, 3.2), sb=80.5))
    assert r["verdict"] == "same direction" and "(judged against it: reproduced)" in r["evidence"]
    assert {n["quantity"] for n in r["numbers"]} == {"test SB", "test LB", "gap SB - LB"}


def test_one_trial_has_no_band_and_says_so():
    """One trial has no sd, so no band around the paper's run: the row says so (never "± 2 ×
    nan"), compares no number and stays inconclusive."""
    (r,) = official.rows(trials((3.54,), sb=79.9))
    assert r["verdict"] == "inconclusive" and r["numbers"] == []
    assert "nan" not in r["evidence"] and "no band from one trial" in r["evidence"]
    assert verdicts.ours(r).startswith("after 20 epochs test SB 79.90 vs LB 76.36")
    assert "Figure 2" not in verdicts.ours(r) and "Figure 3(c)" not in verdicts.ours(r)


def test_fixed_epochs_is_the_protocol_other_problems_are_not():
    t = trials((3.8, 4.3, 4.0, 4.2, 3.7))
    fixed = "fixed epochs, not 'until the loss ceased to improve'"
    assert official.rows(t, {"C1": [fixed]})[0]["verdict"] == "reproduced"
    r = official.rows(t, {"C1": [fixed, "2 of 10 runs trained from uncommitted code"]})[0]
    assert r["verdict"] == "inconclusive" and "uncommitted" in r["evidence"]
    assert "fixed epochs" not in r["evidence"]


def test_a_row_s_own_claim_goes_into_the_table():
    f = verdicts.frame(official.rows(trials((3.8, 4.3, 4.0, 4.2, 3.7))))
    assert f.loc[(official.ARTIFACT, "C1"), "claim"] == official.CLAIM
    g = verdicts.frame([verdicts.row("Table 2", "F1", "inconclusive", "x")])
    assert g.loc[("Table 2", "F1"), "claim"] == verdicts.claim("Table 2")


def test_before_any_trial_the_panel_is_the_paper_s_alone(tmp_path):
    p = campaign.Progress("official-20", profiles.get("official-20"), {}, [], 5, "cmd")
    curves, csv, of = official.panel(p, {}, "linear")
    assert curves.empty and of == PAPER_SOURCE and set(csv.net) == {"C1"}
    assert {"loss_train", "acc_test"} <= set(csv.series)
    fig = figures.plot_parametric(curves, "linear", nets=["C1"])
    assert "ours not yet computed" in fig.axes[0].get_title()
    cap = official.caption(p, {}, "Figure 3(c)")
    assert "0 of 5" in cap.data


def tiny_campaign(tmp_path, monkeypatch, seeds) -> tuple[Store, profiles.Profile]:
    """A tiny campaign shaped like official-20 (fixed epochs, Figures 3 and 7 named as its panels'
    protocol) on F1 trials ``seeds``, computed and published: (the published store, its profile)."""
    smoke = profiles.get("smoke")
    tiny = dataclasses.replace(smoke, name="tiny20", panel_protocol=("Figure 3", "Figure 7"),
                               nets={"F1": dataclasses.replace(smoke.nets["F1"], seeds=seeds,
                                                               sb_epochs=1, lb_epochs=1)})
    monkeypatch.setitem(profiles.PROFILES, "tiny20", tiny)
    monkeypatch.setitem(campaign.CAMPAIGNS, "tiny20", campaign.Campaign("tiny20", "F1",
                                                                        ("gap", "interpolation")))
    monkeypatch.setattr(campaign, "git_commit", lambda: "abc1234")
    staging, dst = Store(tmp_path / "staging"), Store(tmp_path / "published")
    (dst.root / "runs").mkdir(parents=True)
    assert campaign.run("tiny20", staging, dst, log=lambda *_: None) == list(seeds)
    return dst, tiny


def test_the_campaign_section_end_to_end(tmp_path, mnist, monkeypatch):
    """The tiny campaign, computed, published, then read back as the chapters read it."""
    dst, _ = tiny_campaign(tmp_path, monkeypatch, (0, 1, 2))

    V = campaign.progress("tiny20", dst)
    A = campaign.published_chapters(V, dst)
    curves, csv, of = official.panel(V, A, "linear", net="F1")
    assert of is V and set(curves.seed) == {0, 1, 2} and csv is curves
    figures.plot_parametric(curves, "linear", nets=["F1"])
    (gap_row,) = official.gap_rows(A["gap"].trained)
    assert gap_row["artifact"] == official.ARTIFACT and gap_row["seeds"] == "0 1 2"
    assert "fixed epochs" not in gap_row["evidence"]
    rows = official.ran(summary.chapter_rows("interpolation", A["interpolation"])[1])
    by = {r["artifact"]: r for r in rows}
    assert set(by) == {"Figure 3", "Figure 7", "Distance ratio"} and {r["net"] for r in rows} == {"F1"}
    # Figures 3 and 7 are this protocol's panels; the distance ratio was stated of Table 2's runs
    assert "fixed epochs" not in by["Figure 3"]["evidence"]
    assert "fixed epochs" in by["Distance ratio"]["evidence"]
    assert "profile `tiny20`" in official.caption(V, A, "Figure 3").data


def test_one_published_trial_renders_as_inconclusive_with_its_count(tmp_path, mnist, monkeypatch):
    """The first trial of a campaign lands alone: the chapters read it back, say "1 of 3" and
    judge every panel inconclusive (one seed cannot resolve a paired test), never an error."""
    dst, tiny = tiny_campaign(tmp_path, monkeypatch, (0,))
    # the plan grows to three trials: one of them is published
    monkeypatch.setitem(profiles.PROFILES, "tiny20", dataclasses.replace(
        tiny, nets={"F1": dataclasses.replace(tiny.nets["F1"], seeds=(0, 1, 2))}))
    V = campaign.progress("tiny20", dst)
    A = campaign.published_chapters(V, dst)
    assert text.campaign_text(V)["campaign_sentence"].startswith("1 of 3 trials of `tiny20` are published")
    assert "seed 0" in official.caption(V, A, "Figure 3").data
    (gap_row,) = official.gap_rows(A["gap"].trained)
    rows = [gap_row] + official.ran(summary.chapter_rows("interpolation", A["interpolation"])[1])
    assert {r["verdict"] for r in rows} == {"inconclusive"}
    assert all(r["seeds"] == "0" for r in rows)
    # the earlier reading (the code's 20 epochs as the panel's protocol) on the same trial
    assert official.reading_text(A)["official_reading"].endswith(
        "would judge Figure 3 inconclusive and Figure 7 inconclusive.")
    assert official.reading_text({}) == {"official_reading": ""}


def test_a_reading_may_name_the_panels_made_at_its_protocol():
    """``panel_problems`` drops "fixed epochs" for the panels named, the profile's own or a
    reading's, and keeps every other reason."""
    T = dataclasses.make_dataclass("T", ["profile"])(profiles.get("official-20"))
    probs = {"C1": ["fixed epochs, not 'until the loss ceased to improve'", "2 seeds"]}
    assert summary.panel_problems(T, "Figure 3", probs) == probs  # official-20 names none
    assert summary.panel_problems(T, "Figure 3", probs, protocol=("Figure 3",)) == {"C1": ["2 seeds"]}
    assert summary.panel_problems(T, "Figure 7", probs, protocol=("Figure 3",)) == probs


def test_the_minimizers_sentence_sets_ours_beside_the_official_run():
    """The training loss and accuracy at alpha = 0 (SB) and 1 (LB) of our line, averaged over the
    trials, beside the Figure 3(c) pair's read from its data; nothing before a trial is published."""
    curves = pd.DataFrame([dict(net="C1", seed=s, split=split, alpha=a, loss=loss + s, accuracy=acc - s)
                           for s in (0, 1) for split in ("train", "test")
                           for a, loss, acc in ((0.0, 0.07, 98.0), (0.5, 0.3, 90.0), (1.0, 0.36, 87.6))])
    text = official.minimizers_text(curves)["official_minimizers"]
    assert text.startswith("After the 20 epochs our pair (2 trials, mean) has a training loss of 0.57 "
                           "at SB and 0.86 at LB, with training accuracies of 97.50 % and 87.10 %")
    ref = official.reference("C1")
    assert f"the panel's pair's were {ref['loss_train_sb']:.3f} and {ref['loss_train_lb']:.3f}" in text
    assert official.minimizers_text(pd.DataFrame()) == {"official_minimizers": ""}
