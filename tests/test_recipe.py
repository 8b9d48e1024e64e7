"""README's "Adding an experiment" recipe, followed end to end on the smoke profile without editing
a file of the package: a throwaway experiment (the norm of each final minimizer's weights, SB
against LB, on the smoke profile's F1 trials) gets its spec and part, its registry entries (the
catalog's chapter with its artifact and claim, the part under the chapter in the compute graph,
a verdict builder under the chapter in the report), is computed into a temporary store, its
frame rendered as the book's tables are and judged into a verdict row, as a notebook cell would."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest
import torch

from lbsm.core import catalog
from lbsm.experiments import trials
from lbsm.pipeline import compute
from lbsm.report import pagetable, render, summary, verdicts

ARTIFACT = "Toy norm"
CLAIM = "LB's final weights have a larger norm than SB's"


# 1. the spec (its fields are its knobs) and the part (compute + frame), as in an experiments module
@dataclass(frozen=True)
class NormSpec:
    ord: int = 2       # the norm's order
    version: int = 1   # the analysis' code version (bump it when its numbers change)


SPEC = NormSpec()


def norms(P, runs, store) -> pd.DataFrame:
    """The weight norm of each trial's SB and LB final minimizers, each through the store's cache."""
    T = trials.trained(P, runs)
    rows = []
    for net in T.nets:
        for sb, lb in T.pairs[net]:
            row = dict(net=net, seed=sb.config.seed)
            for regime, run in (("sb", sb), ("lb", lb)):
                def value(run=run):
                    w = run.state("final", restore=True)
                    flat = torch.cat([t.detach().float().reshape(-1) for t in w.values()])
                    return {"norm": float(torch.linalg.vector_norm(flat, SPEC.ord))}
                row[regime] = store.analysis("toy-norm", {"run": run.name, "ord": SPEC.ord}, value,
                                             SPEC.version)["norm"]
            rows.append(row)
    return pd.DataFrame(rows, columns=["net", "seed", "sb", "lb"])


# 3. the verdict builder: (computed chapter) -> (status rows, verdict rows)
def norm_rows(C) -> tuple[list, list]:
    out = []
    for net, g in C.norms.groupby("net"):
        t = verdicts.Paired.of(np.log(g.lb / g.sb))
        verdict = verdicts.decide([t.direction], None, [])
        out.append(verdicts.row(ARTIFACT, net, verdict, f"log(LB/SB) = {t.mean:+.3f} over {t.n} trials",
                                seeds=g.seed))
    return [], out


@pytest.fixture
def registered(monkeypatch):
    """2. the registry entries, each layer's by the chapter's name (here a throwaway chapter)."""
    monkeypatch.setitem(catalog.REGISTRY, "toy", catalog.Chapter(
        "toy", ((ARTIFACT, "weight norm of the final minimizers", ("F1",), CLAIM),), runs="trials"))
    monkeypatch.setitem(compute.CHAPTER_DEFS, "toy", compute.ChapterDef(
        trials.trial_configs, {"trained": trials.trials, "norms": norms}))
    monkeypatch.setitem(summary.ROWS, "toy", (norm_rows,))


def test_an_experiment_added_by_the_recipe_is_computed_rendered_and_judged(registered, store):
    # 4. the notebook cell: compute (the chapter's one call), render, judge
    C = compute.chapter("toy", "smoke", nets="F1", store=store)
    df = C.norms
    assert list(df.columns) == ["net", "seed", "sb", "lb"] and len(df) == 2 and set(df.net) == {"F1"}
    assert (df[["sb", "lb"]] > 0).all().all() and np.isfinite(df[["sb", "lb"]]).all().all()
    assert len(list(store.analysis_files("toy-norm"))) == 4       # each minimizer once, cached
    again = compute.chapter("toy", "smoke", nets="F1", store=store)
    pd.testing.assert_frame_equal(again.norms, df)                # served from the store

    shown = render.readable(df.set_index(["net", "seed"]))
    assert all(isinstance(v, str) for v in shown.to_numpy().ravel())
    html = pagetable.to_html(shown, "Weight norm of each final minimizer.")
    assert "<table" in html and shown.iloc[0, 0] in html

    status_rows, rows = summary.chapter_rows("toy", C)
    assert status_rows == [] and [(r["artifact"], r["net"]) for r in rows] == [(ARTIFACT, "F1")]
    r = rows[0]
    assert r["kind"] == "paper" and r["seeds"] == "0 1"          # the catalog names F1 for it
    assert r["verdict"] == "inconclusive" and "2 trials" in r["evidence"]  # 2 seeds resolve nothing
    assert verdicts.claim(ARTIFACT) == CLAIM == verdicts.frame(rows).claim.iloc[0]
    assert catalog.chapter_of(ARTIFACT) == "toy" and ARTIFACT in catalog.artifact_names()
    assert compute.chapter_def("toy").parts["norms"] is norms


def test_the_verdict_builder_decides_by_the_rule(registered):
    """The same builder on 5 trials whose LB norm is always larger: resolved, same direction
    (the paper gives no number for it, so never "reproduced"); always smaller: contradicts."""
    class Computed:
        def __init__(self, lb):
            self.norms = pd.DataFrame(dict(net="F1", seed=range(5), sb=[1.0, 1.1, 0.9, 1.2, 1.0], lb=lb))
    grow = summary.ROWS["toy"][0](Computed([2.0, 2.3, 1.7, 2.5, 2.1]))[1][0]
    shrink = summary.ROWS["toy"][0](Computed([0.5, 0.6, 0.4, 0.55, 0.5]))[1][0]
    assert grow["verdict"] == "same direction" and shrink["verdict"] == "contradicts"
    assert math.isclose(float(grow["evidence"].split("= ")[1].split()[0]),
                        float(np.mean(np.log(np.array([2.0, 2.3, 1.7, 2.5, 2.1])
                                             / np.array([1.0, 1.1, 0.9, 1.2, 1.0])))), abs_tol=1e-3)


def test_an_unregistered_chapter_is_refused_by_every_layer():
    with pytest.raises(ValueError, match="unknown chapter 'toy'"):
        compute.chapter_def("toy")
    with pytest.raises(ValueError, match="records no status"):
        summary.chapter_rows("toy", None)
    assert catalog.chapter_of(ARTIFACT) is None and verdicts.claim(ARTIFACT) == ""
