"""The published results dataset (results/, tracked in git): intact, self-contained, small."""
from pathlib import Path

import pytest

from lbsm.store import Store

PUBLISHED = Path(__file__).resolve().parents[1] / "results"


@pytest.fixture(scope="module")
def published():
    if not (PUBLISHED / "runs").is_dir():
        pytest.fail(f"{PUBLISHED}/runs is missing: the published dataset is part of the repository")
    return Store(PUBLISHED)


def test_every_published_run_is_intact_and_checksummed(published):
    runs = sorted(p.parent for p in PUBLISHED.glob("runs/*/meta.json"))
    assert runs
    for d in runs:
        assert published.run_problem(d) is None, d
        assert "sha256" in (d / "meta.json").read_text(), f"{d}: not sealed (Store.seal)"


def test_every_published_analysis_names_published_runs_and_is_sealed(published):
    assert published.orphans() == []
    files = sorted(PUBLISHED.glob("analyses/*/*.json"))
    assert files and all('"sha256"' in p.read_text() for p in files)


def test_published_dataset_holds_no_weights_and_stays_small():
    files = [p for p in PUBLISHED.rglob("*") if p.is_file() and "weights" not in p.parts
             and ".locks" not in p.parts and "damaged" not in p.parts]
    assert not [p for p in files if p.suffix in (".pt", ".pkl", ".pickle")]
    assert sum(p.stat().st_size for p in files) < 25 * 2**20
    assert (PUBLISHED / "README.md").is_file()
