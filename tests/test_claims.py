"""Prose from numbers: every glued claim agrees with the table it is about, and a comparison is
worded as the numbers say (its negation when they say otherwise)."""
import pandas as pd
import pytest

from lbsm.pipeline import compute
from lbsm.report import tables
from lbsm.report import text
from lbsm.report import judgments, summary, verdicts
from lbsm.core.store import Store

TINY = dict(nets="F1", seeds=2, sb_epochs=1, lb_epochs=1, train_subset=1000, test_subset=500,
            sharpness_iters=2, sharpness_subset=300, precision="fp32")


@pytest.mark.parametrize("a,b,same,sentence", [
    (465.0, 12.6, None, "LB is sharper than SB (465 vs 12.6)"),
    (2.0, 12.6, None, "LB is flatter than SB (2 vs 12.6)"),
    (3.0, 3.0, "sharp", "LB is as sharp as SB (3 vs 3)"),
    (3.0, 3.0, None, "LB is neither sharper nor flatter than SB (3 vs 3)"),
    (float("nan"), 3.0, None, "LB is not comparable with SB (nan vs 3)"),
])
def test_comparisons_follow_the_numbers(a, b, same, sentence):
    assert text.compare("LB", a, "SB", b, "sharper", "flatter", same=same) == sentence


@pytest.mark.parametrize("a,b,sentence", [
    (0.99, 0.97, "LB ends with test accuracy higher than SB's (0.99 vs 0.97)"),
    (0.95, 0.97, "LB ends with test accuracy lower than SB's (0.95 vs 0.97)"),
    (0.97, 0.97, "LB ends with test accuracy neither higher nor lower than SB's (0.97 vs 0.97)"),
])
def test_comparison_as_a_predicate(a, b, sentence):
    """Without a subject it continues the caller's sentence (the Figure 6 ends)."""
    said = text.compare("", a, "SB's", b, "higher", "lower", ".2f")
    assert "LB ends with test accuracy " + said == sentence


@pytest.fixture(scope="module")
def chapters(tmp_path_factory, mnist):
    import torch
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return compute.compute(["gap", "sharpness"], "smoke",
                               store=Store(tmp_path_factory.mktemp("claims") / "r"), **TINY)
    finally:
        torch.set_num_threads(n)


def test_gap_chapter_claims_agree_with_table2(chapters):
    T = chapters["gap"].trained
    t2 = tables.table2(T)
    glued = text.gap_text(T, t2)
    gaps = t2.xs("gap (test SB - LB)", level="quantity")
    resolved = [n for n, r in gaps.iterrows() if r.seeds >= 3 and float(r["paired t-test"][4:]) < 0.05]
    assert glued["gap_resolved"] == f"{len(resolved)} of {len(gaps)}"
    for net, r in gaps.iterrows():
        assert f"{net}: {r.ours:.2f}" in glued["gap_sentence"] and r["paired t-test"] in glued["gap_sentence"]
    for v in summary.gap_chapter(T, t2, ready=chapters["gap"].data_ready):
        if v["artifact"] == "Table 2" and v["verdict"] != "not run":
            # two trials of one-epoch runs on a subset: never a verdict beyond "inconclusive"
            assert v["verdict"] == "inconclusive" and "2 seeds" in v["evidence"]


def test_sharpness_chapter_claims_agree_with_tables_3_and_4(chapters):
    C = chapters["sharpness"]
    t3, t4 = tables.sharpness_table(C.table3, 3), tables.sharpness_table(C.table4, 4)
    glued = text.sharpness_text(t3, t4, C.profile)
    for key, t in (("sharp_full_ratios", t3), ("sharp_sub_ratios", t4)):
        for (net, eps), r in t.xs("LB/SB", level="regime").iterrows():
            assert f"{net} at eps = {eps}: {r.ours:.1f} (paper {r.paper:.1f})" in glued[key]
    for v in summary.sharpness_chapter(C.trained, C.table3, C.table4, C.hessian, ready=C.data_ready):
        if v["artifact"] in ("Table 3", "Table 4") and v["verdict"] != "not run":
            t = t3 if v["artifact"] == "Table 3" else t4
            for e in dict.fromkeys(t.loc[v["net"]].index.get_level_values("eps")):
                sb, lb = t.loc[(v["net"], e, "SB")].ours, t.loc[(v["net"], e, "LB")].ours
                assert f"eps {e}: SB {sb:.3g} vs LB {lb:.3g}" in v["evidence"]
            assert v["verdict"] == "inconclusive"  # 2 trials, 2 iterations: never resolved


def test_verdict_evidence_quotes_the_numbers_it_decided_on(chapters):
    T = chapters["gap"].trained
    t2 = tables.table2(T)
    v = judgments.table2(judgments.trial_frame(T))[0]
    sb = t2.loc[(v["net"], "test SB"), "ours"]
    assert f"test SB {sb:.2f}" in v["evidence"]
    assert isinstance(verdicts.frame([v]), pd.DataFrame)
