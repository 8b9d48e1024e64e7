"""The redesigned pipeline serves exactly the published numbers: every chapter of the ``cpu``
profile, computed from a copy of the published dataset with training and every analysis
forbidden, finds all its runs and analyses under the keys the published files carry, and its
frames equal the book's CSVs (rendered from the same dataset) value for value.

A change that moves a store key (a renamed module inside a key, a TrainConfig field, a spec that
builds another config) fails here by name; a change to the numbers themselves is the regression
tests' job (tests/test_regression.py), since weights are not published."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lbsm.core.store import Store
from lbsm.pipeline import compute
from lbsm.report import render
from lbsm.train import protocol

REPO = Path(__file__).resolve().parents[1]
CSV = REPO / "book" / "csv"

# part of a chapter -> the book CSV rendered from it unchanged (its frame, or a Result's data)
SERVED = {
    ("sharpness", "table3"): "sharpness/table3.csv",
    ("sharpness", "table4"): "sharpness/table4.csv",
    ("sharpness", "hessian"): "sharpness/hessian.csv",
    ("interpolation", "distance"): "interpolation/distance_ratio.csv",
    ("small_batches", "fig4"): "small_batches/figure4.csv",
    ("small_batches", "fig5"): "small_batches/figure5.csv",
    ("small_batches", "fig6"): "small_batches/figure6.csv",
    ("small_batches", "cone"): "small_batches/cone.csv",
    ("remedies", "robust"): "remedies/e3.csv",
    ("remedies", "parametric"): "remedies/e3_parametric.csv",
    ("sensitivity", "start"): "sensitivity/start.csv",
    ("sensitivity", "precision"): "sensitivity/precision.csv",
}


@pytest.fixture(scope="module")
def chapters(tmp_path_factory):
    """Every chapter of the cpu profile from a copy of the published dataset; training, weights
    and every analysis's computation fail the test."""
    root = tmp_path_factory.mktemp("published") / "results"
    shutil.copytree(REPO / "results", root, ignore=shutil.ignore_patterns("weights", ".locks"))
    store = Store(root, weights=root / "no-weights")
    mp = pytest.MonkeyPatch()
    mp.setattr(protocol, "_train", lambda cfg, *a, **k: pytest.fail(f"trained {cfg.name}"))

    def analysis(self, kind, params, compute_fn, version, device=None):
        return real(self, kind, params, lambda: pytest.fail(f"computed {kind} {params}"), version, device)
    real = Store.analysis
    mp.setattr(Store, "analysis", analysis)
    try:
        yield compute.compute("all", "cpu", store=store)
    finally:
        mp.undo()


def _frame(value) -> pd.DataFrame:
    return value.data if hasattr(value, "data") else value


@pytest.mark.parametrize("part", list(SERVED), ids=lambda p: f"{p[0]}.{p[1]}")
def test_each_part_serves_the_published_numbers(chapters, part):
    chapter, name = part
    # the book's CSV carries provenance columns (lbsm.report.render.with_provenance): the served
    # frame must give the same ones, from the same runs
    ours = render.with_provenance(_frame(chapters[chapter].parts[name]).reset_index(drop=True),
                                  chapters[chapter])
    book = pd.read_csv(CSV / SERVED[part])
    assert list(ours.columns) == list(book.columns)
    assert len(ours) == len(book)
    for c in book.columns:
        a, b = ours[c], book[c]
        if pd.api.types.is_numeric_dtype(b) and not pd.api.types.is_bool_dtype(b):
            np.testing.assert_allclose(a.astype(float), b.astype(float), rtol=1e-12, equal_nan=True,
                                       err_msg=f"{SERVED[part]}: column {c}")
        else:
            assert [str(v) for v in a.fillna("nan")] == [str(v) for v in b.fillna("nan")], \
                f"{SERVED[part]}: column {c}"


def test_every_chapter_finds_its_runs(chapters):
    T = chapters["gap"].trained
    assert T.nets == ["F1"] and len(T.pairs["F1"]) == 5
    assert [s.net for s in chapters["small_batches"].plan.specs["cone"]] == ["F1"]
    assert set(chapters["sensitivity"].parts["stop"].setting) == {"plateau", "fixed 15 SB / 30 LB epochs"}
