"""One list of chapters: the catalog's registry (lbsm.core.catalog.REGISTRY). Every layer's
registry covers exactly the chapters registered there, and every other list of chapters is read
off it."""
from __future__ import annotations

import dataclasses

import pytest

from lbsm import book
from lbsm.core import catalog
from lbsm.experiments import parameters, plans, profiles
from lbsm.pipeline import campaign, chunks, compute
from lbsm.pipeline import costs as pipeline_costs
from lbsm.report import status, summary, verdicts

COMPUTED = catalog.chapters(computed=True)


def test_every_layer_registers_exactly_the_catalogs_chapters():
    assert set(compute.CHAPTER_DEFS) == set(COMPUTED), "lbsm.pipeline.compute.CHAPTER_DEFS"
    assert set(summary.ROWS) == set(COMPUTED), "lbsm.report.summary.ROWS"
    assert compute.CHAPTERS == COMPUTED                           # in the catalog's (reading) order
    assert book.CHAPTERS == catalog.CHAPTERS == tuple(catalog.REGISTRY)
    assert set(COMPUTED) | {"data"} == set(catalog.CHAPTERS) and catalog.ROOT == catalog.CHAPTERS[0]


def test_the_other_lists_of_chapters_are_read_off_the_registry():
    assert plans.CHAPTERS == ("small_batches", "remedies") == catalog.chapters(runs="sections")
    assert pipeline_costs.TRIAL_CHAPTERS == ("gap", "interpolation", "sharpness") == catalog.chapters(runs="trials")
    assert campaign.CAMPAIGNS["cpu-v2"].chapters == catalog.chapters(runs="trials")
    for c in campaign.CAMPAIGNS.values():
        assert set(c.chapters) <= set(catalog.chapters(runs="trials"))
    assert {chapter for _, chapter, _ in chunks.PRIORITY} <= set(COMPUTED)
    # the chapters' specs are profile fields with no papermill parameter of their own
    assert catalog.knob_fields() == {"small_batches", "remedies", "sensitivity", "beyond"}
    fields = {f.name for f in dataclasses.fields(profiles.Profile)}
    assert catalog.knob_fields() <= fields and not catalog.knob_fields() & set(parameters.PARAMETERS)


def test_artifacts_and_claims_come_from_the_registry():
    names = catalog.artifact_names()
    assert len(names) == len(set(names)) == 16 and names[:3] == ["Table 1", "Table 5", "Table 2"]
    for name, chapter, what, nets in catalog.artifacts():
        assert catalog.chapter_of(name) == chapter and chapter in COMPUTED and what and nets
        assert verdicts.claim(name) == catalog.claim(name)
    assert {a for a in names if not verdicts.claim(a)} == {"Table 1", "Table 5"}
    assert verdicts.claim("Table 2") == "LB's test accuracy is below SB's (a generalization gap)"
    table = status.status_table([])
    assert list(table.index) == names and set(table.status) == {"not run"}


def test_a_registered_chapter_shows_up_in_every_derived_list(monkeypatch):
    monkeypatch.setitem(catalog.REGISTRY, "toy", catalog.Chapter(
        "toy", (("Toy 1", "a toy", ("F1",), "a claim"),), runs="trials"))
    assert catalog.chapters(runs="trials")[-1] == "toy" and catalog.chapter_of("Toy 1") == "toy"
    assert "Toy 1" in status.status_table([]).index and verdicts.claim("Toy 1") == "a claim"
    with pytest.raises(ValueError, match="runs"):
        catalog.Chapter("bad", runs="some")
