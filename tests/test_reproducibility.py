"""The landing page's summary and each chapter's opening line, generated from hand-made verdict
rows: what they say follows the rows, and the panels that did not run fold into one line each."""
import dataclasses
import html

from lbsm.report import reproducibility, verdicts

ROWS = [verdicts.row("Table 2", "F1", "inconclusive",
                     ["test SB 97.99 vs LB 97.81, gap +0.18 ± 0.25 points (n = 5, p = 0.18; about 18 "
                      "trials would resolve it)", verdicts.Theirs("paper 98.03 ± 0.07 vs 97.81 ± 0.07")]),
        verdicts.row("Figure 3", "F1", "reproduced", "log10(LB / SB) +2.18 ± 0.51 (n = 5, p = 0.00068)"),
        verdicts.row("Hessian spectrum", "F1", "same direction", "top eigenvalue LB 2.2 vs SB 0.53"),
        verdicts.row("Table 2", "C1", "not run", "needs a GPU: in the paper profile, not in cpu"),
        verdicts.row("Table 3", "C1", "not run", "needs a GPU: in the paper profile, not in cpu"),
        verdicts.row("Table 2", "F2", "not run", "needs data: TIMIT")]


def test_the_opening_line_gives_each_verdict_with_our_numbers_before_the_papers():
    text = reproducibility.chapter_result(ROWS)["chapter_result"]
    assert text.startswith("Table 2 (F1): inconclusive, test SB 97.99 vs LB 97.81, gap +0.18 ± 0.25 "
                           "points (n = 5, p = 0.18; about 18 trials would resolve it);")
    assert "paper 98.03" not in text and "Hessian spectrum (F1, extension): same direction" in text
    assert text.index("Figure 3") < text.index("Hessian")          # the paper's panels first
    assert text.endswith("(3 of the paper's panels did not run: the verdict table says why)")
    assert reproducibility.chapter_result([])["chapter_result"] == "nothing ran under this profile"


def test_our_numbers_are_the_clauses_not_marked_as_the_papers():
    """The short form keeps our clauses wherever they stand and whatever they say, and leaves out
    each clause marked as the paper's (or the official run's), and every note added later."""
    r = verdicts.row("Table 3", "F1", "inconclusive",
                     ["eps 1e-3: SB 2 vs LB 20", verdicts.Theirs("paper 1.23 vs 205"),
                      "eps 5e-4: SB 1 vs LB 0.5 (below the paper's SB)",
                      verdicts.Theirs("the official run 0.61 vs 42.9")], ["2 seeds"])
    assert r["evidence"] == ("eps 1e-3: SB 2 vs LB 20; paper 1.23 vs 205; eps 5e-4: SB 1 vs LB 0.5 "
                             "(below the paper's SB); the official run 0.61 vs 42.9; inconclusive "
                             "because: 2 seeds")
    noted = {**r, "evidence": verdicts.with_evidence(r["evidence"], "; 2 of 4 runs ended at the cap")}
    assert verdicts.ours(noted) == "eps 1e-3: SB 2 vs LB 20; eps 5e-4: SB 1 vs LB 0.5 (below the paper's SB)"
    brief = verdicts.folded([noted], brief=True).evidence.iloc[0]
    assert brief == verdicts.ours(noted) + " — because: 2 seeds"


def test_a_row_of_the_papers_clauses_alone_shows_none_as_ours():
    r = verdicts.row("Figure 3", "F1", "inconclusive", [verdicts.Theirs("paper 0.24 vs 0.001")])
    assert verdicts.ours(r) == "" and "paper 0.24" in r["evidence"]


def test_not_run_panels_fold_into_one_line_per_reason():
    t = verdicts.folded(ROWS)
    ran, gone = t[t.verdict != "not run"], t[t.verdict == "not run"]
    assert len(ran) == 3 and len(gone) == 2
    gpu = gone[gone.claim.str.startswith("needs a GPU")].reset_index().iloc[0]
    assert gpu.artifact == "2 panels" and gpu.net == "C1" and gpu.evidence == "Table 2 (C1); Table 3 (C1)"


def test_one_sentence_per_paper_claim_that_ran():
    sentences = reproducibility.claim_sentences(ROWS)
    assert len(sentences) == 2                                      # the extension is not a claim
    assert "<b>not decided</b>" in sentences[0] and "paper 98.03" in sentences[0]
    assert "<b>reproduced</b>" in sentences[1]


def test_campaigns_say_how_far_they_are_and_what_they_decide():
    from lbsm.experiments import profiles
    from lbsm.pipeline.campaign import Progress
    from lbsm.report import official
    none = Progress("official-20", profiles.get("official-20"), {}, [], 5, "python -m lbsm campaign x")
    some = Progress("cpu-v2", profiles.get("cpu-v2"), {}, [0, 1, 2], 20, "python -m lbsm campaign y")
    own = {**verdicts.row(official.ARTIFACT, "C1", "same direction", "gap +1.0 ± 0.1 points", kind="paper"),
           "claim": official.CLAIM}
    items = reproducibility.campaign_items([(some, ROWS + [own]), (none, [])])
    assert items[0].startswith("<b>cpu-v2</b>") and "3 of 20 trials published (interim verdicts" in items[0]
    assert items[0].count("<li>") == 3 and "python -m lbsm campaign y" in items[0]
    assert html.escape(official.CLAIM) in items[0]               # a row's own claim, not the catalog's ""
    assert "no trial published yet (0 of 5)" in items[1] and "python -m lbsm campaign x" in items[1]
    done = Progress("cpu-v2", profiles.get("cpu-v2"), {}, list(range(20)), 20, "c")
    assert "20 of 20 trials published (complete)" in reproducibility.campaign_items([(done, ROWS)])[0]


def test_a_campaign_that_supersedes_the_profile_leads_the_summary():
    """The adopted readings' campaign (``supersedes`` the profile) gives the first results; the
    profile's own rows follow as the earlier readings; its campaign item does not repeat them. A
    campaign with no trial, or of another profile, leads nothing."""
    from lbsm.experiments import profiles
    from lbsm.pipeline.campaign import Progress
    v2 = Progress("cpu-v2", profiles.get("cpu-v2"), {}, [0, 1, 2], 20, "cmd", supersedes="cpu")
    mine = [{**ROWS[0], "verdict": "same direction", "evidence": "gap +0.16 ± 0.22 points"}]
    assert reproducibility.leading([(v2, mine)], "cpu")[0] is v2
    assert reproducibility.leading([(v2, mine)], "paper") is None
    assert reproducibility.leading([(dataclasses.replace(v2, done=[]), mine)], "cpu") is None
    item = reproducibility.campaign_items([(v2, mine)], lead="cpu-v2")[0]
    assert item.endswith("its verdicts are the results above.") and "<li>" not in item


def test_the_summary_opens_with_the_adopted_readings():
    import types
    from lbsm.experiments import profiles
    from lbsm.pipeline.campaign import Progress
    from lbsm.report import costs
    gap = types.SimpleNamespace(trained=types.SimpleNamespace(nets=["F1"]), profile=profiles.get("cpu"))
    table = costs.cost_table(ROWS, ready={"cifar10": True, "mnist": True, "cifar100": False, "timit": False})
    v2 = Progress("cpu-v2", profiles.get("cpu-v2"), {}, [0, 1, 2], 20, "cmd", supersedes="cpu")
    mine = [{**ROWS[0], "verdict": "same direction", "evidence": "gap +0.16 ± 0.22 points"}]
    led = reproducibility.summary(ROWS, "cpu", gap, {}, table, [(v2, mine)]).data
    adopted, earlier = led.index("Results under the adopted readings"), led.index("Results under the earlier readings")
    assert adopted < led.index("gap +0.16") < earlier < led.index("gap +0.18")
    assert "3 trials per configuration under the adopted readings, 5 under the earlier" in led
    plain = reproducibility.summary(ROWS, "cpu", gap, {}, table, [(dataclasses.replace(v2, done=[]), [])]).data
    assert "<b>Results</b>, one sentence per claim that ran" in plain and "adopted readings</b>" not in plain


def test_the_landing_page_shows_the_adopted_verdict_where_the_campaign_judged_the_panel():
    """Findings, grid, summary plot and table show one verdict per panel: the leading campaign's
    where it judged that (artifact, network), else the profile's; each names its profile."""
    from lbsm.experiments import profiles
    from lbsm.pipeline.campaign import Progress
    from lbsm.report import text
    v2 = Progress("cpu-v2", profiles.get("cpu-v2"), {}, [0, 1, 2], 20, "cmd", supersedes="cpu")
    mine = [{**ROWS[0], "verdict": "same direction", "evidence": "gap +0.16 ± 0.22 points"},
            verdicts.row("Table 2", "C1", "not run", "not in cpu-v2")]   # not run: the profile's stays
    shown = reproducibility.adopted(ROWS, [(v2, mine)], "cpu")
    assert [(r["artifact"], r["net"]) for r in shown] == [(r["artifact"], r["net"]) for r in ROWS]
    assert (shown[0]["verdict"], shown[0]["profile"]) == ("same direction", "cpu-v2")
    assert [r["profile"] for r in shown[1:]] == ["cpu"] * 5 and shown[3]["evidence"].startswith("needs a GPU")
    assert verdicts.frame(shown).profile.tolist() == ["cpu-v2"] + ["cpu"] * 5
    assert reproducibility.adopted(ROWS, [(dataclasses.replace(v2, done=[]), mine)], "cpu")[0] == {
        **ROWS[0], "profile": "cpu"}                                     # no trial yet: nothing replaced
    box = text.findings(shown, "cpu").data
    assert ("2 of the paper's 5 (artifact, network) panels ran, 1 under profile <code>cpu-v2</code> "
            "(the adopted readings) and 1 under profile <code>cpu</code>.") in box
    assert "<b>Same direction</b>" in box and "Table 2 (F1)" in box
    folded = verdicts.folded(shown).reset_index()
    assert folded.profile.tolist() == ["cpu-v2", "cpu", "cpu", "cpu", "cpu"]  # folded rows too


def test_a_chapter_under_superseded_readings_says_so_in_its_opening_line():
    plain = reproducibility.chapter_result(ROWS, "paper")["chapter_result"]
    earlier = reproducibility.chapter_result(ROWS, "cpu")["chapter_result"]
    assert plain.startswith("Table 2 (F1): inconclusive")
    assert earlier == ("Under profile cpu's earlier readings (campaign cpu-v2 judges F1's panels "
                       "under the adopted ones: the landing page and the gap chapter), " + plain)
    assert reproducibility.chapter_result([], "cpu")["chapter_result"] == "nothing ran under this profile"
    table7 = [verdicts.row("Table 7", "F1", "same direction", "conservative LB test 98.03%")]
    assert reproducibility.chapter_result(table7, "cpu")["chapter_result"].startswith("Table 7 (F1)")
