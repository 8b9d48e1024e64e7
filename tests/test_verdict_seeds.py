"""A verdict row's seeds column lists the seeds its verdict was judged on, not every seed its
chapter trained (E.3 judged on one seed said "0 1 2 3 4")."""
import pandas as pd

from lbsm.report import judgments, verdicts


def test_table2_rows_list_the_seeds_they_used():
    t = pd.DataFrame({"net": "F1", "seed": [2, 5, 7], "train_sb": 99.7, "train_lb": 99.9,
                      "test_sb": [98.0, 98.1, 98.2], "test_lb": [97.8, 97.7, 97.9]})
    (r,) = judgments.table2(t)
    assert r["seeds"] == "2 5 7"
    df = verdicts.frame([r, verdicts.row("Table 2", "C1", "not run", "needs a GPU")])
    assert df.loc[("Table 2", "F1"), "seeds"] == "2 5 7"
    assert pd.isna(df.loc[("Table 2", "C1"), "seeds"])     # a panel that did not run used none


def test_hessian_rows_count_only_seeds_with_both_regimes():
    h = pd.DataFrame({"net": "F1", "seed": [0, 0, 1, 3], "regime": ["SB", "LB", "SB", "LB"],
                      "lambda_1": [1.0, 5.0, 1.2, 4.0]})
    (r,) = judgments.hessian(h)
    assert r["seeds"] == "0"


def test_rows_without_seeds_keep_the_old_columns():
    df = verdicts.frame([verdicts.row("Table 2", "C1", "not run", "needs a GPU")])
    assert "seeds" not in df


def test_runs_from_uncommitted_code_make_a_verdict_inconclusive():
    from types import SimpleNamespace as NS
    from lbsm.train.protocol import TrainConfig
    clean = NS(config=TrainConfig("F1", 256, stop="plateau"), meta={"commit": "abc1234"}, status="done")
    dirty = NS(config=TrainConfig("F1", 6000, stop="plateau"), meta={"commit": "def5678-dirty"},
               status="done")
    assert verdicts.uncommitted([clean]) == [] and verdicts.run_problems([clean]) == []
    (p,) = verdicts.uncommitted([clean, dirty])
    assert p.startswith("1 of 2 runs trained from uncommitted code (def5678-dirty)")
    assert p in verdicts.run_problems([clean, dirty])
    assert verdicts.decide([1], True, verdicts.run_problems([clean, dirty])) == "inconclusive"


def test_the_landing_table_cuts_evidence_to_its_number_and_reasons():
    r = verdicts.row("Table 2", "F1", "inconclusive",
                     ["test SB 98.0 vs LB 97.9 (n = 5, p = 0.5; about 18 trials)",
                      verdicts.Theirs("paper 98.03 ± 0.07")],
                     ["3 seeds (at least 3 needed)", "1 of 2 runs trained from uncommitted code (x-dirty): "
                      "not a published result"])
    ok = verdicts.row("Figure 3", "F1", "reproduced", ["log10 +2.2 ± 0.5 (n = 5)",
                                                       verdicts.Theirs("paper 0.24 vs 0.001")])
    off = verdicts.row("Table 2", "C1", "not run", "needs a GPU")
    t = verdicts.folded([r, ok, off], brief=True)
    assert t.loc[("Table 2", "F1"), "evidence"] == (
        "test SB 98.0 vs LB 97.9 (n = 5, p = 0.5; about 18 trials) — because: 3 seeds (at least 3 "
        "needed); 1 of 2 runs trained from uncommitted code (x-dirty)")
    assert t.loc[("Figure 3", "F1"), "evidence"] == "log10 +2.2 ± 0.5 (n = 5)"
    assert t.loc[("1 panels", "C1"), "claim"] == "needs a GPU"
    full = verdicts.folded([r, ok, off])
    assert full.loc[("Figure 3", "F1"), "evidence"] == ok["evidence"]
