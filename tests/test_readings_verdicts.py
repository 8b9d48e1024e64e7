"""The sensitivity chapter's table "reading x verdict" (lbsm.report.readings_verdicts), on the
published trials: each cell is the verdict the chapters' own rules give under that reading."""
from pathlib import Path

import pytest

from lbsm.core.store import Store
from lbsm.pipeline import campaign, compute
from lbsm.report import judgments, readings_verdicts as rv, summary

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def sets():
    store = Store(REPO / "results")
    V2 = campaign.progress("cpu-v2", store)
    if not V2.done:
        pytest.skip("no cpu-v2 trial is published")
    adopted = campaign.published_chapters(V2, store)
    earlier = compute.compute(["gap", "interpolation", "sharpness"], "cpu", store=store)
    return V2, adopted, earlier


def test_rows_are_the_chapters_own_verdicts(sets):
    V2, adopted, earlier = sets
    t = rv.table(adopted, earlier)
    first, second = t.index[:2]
    assert first.startswith(f"adopted (cpu-v2: a decrease > 0 in 5 epochs, L-BFGS-B from y = 0; "
                            f"n = {len(V2.done)})")
    assert second.startswith("earlier (cpu: a decrease > 0.0001 in 5 epochs, L-BFGS-B from the "
                             "gradient-sign vertex; n = 5)")
    for label, chapters in ((first, adopted), (second, earlier)):
        _, rows = summary.book_rows(chapters)
        for r in rows:
            if r["net"] == "F1" and r["kind"] == "paper":
                assert t.loc[label, r["artifact"]] == r["verdict"]


def test_other_stop_readings_judge_table_2_only(sets):
    _, adopted, earlier = sets
    t = rv.table(adopted, earlier)
    sr = judgments.stop_readings(adopted["gap"].stop_readings)
    stops = [i for i in t.index if i.startswith("stop rule: ")]
    assert len(stops) == len(sr) - 1          # the adopted reading is the first row already
    for label in stops:
        reading = label.removeprefix("stop rule: ").split(" (cpu-v2 histories")[0]
        assert t.loc[label, "Table 2"] == sr.loc[(reading, "F1"), "Table 2 verdict"]
        assert (t.loc[label].drop("Table 2") == rv.STOP_ONLY).all()


def test_the_csv_names_the_runs_behind_each_row(sets):
    V2, adopted, earlier = sets
    t = rv.table(adopted, earlier)
    tidy = rv.tidy(t, adopted, earlier)
    assert len(tidy) == t.size
    a = tidy[tidy.readings == t.index[0]]
    assert set(a.profile) == {"cpu-v2"} and set(a.seeds) == {" ".join(map(str, V2.done))}
    assert not any("dirty" in c for c in a.commit)
    assert set(tidy[tidy.readings == t.index[1]].profile) == {"cpu"}
