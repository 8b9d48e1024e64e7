"""The published results dataset (results/, tracked in git): intact, self-contained, small."""
from pathlib import Path

import pytest

from lbsm.core.store import Store

PUBLISHED = Path(__file__).resolve().parents[1] / "results"


@pytest.fixture(scope="module")
def published():
    if not (PUBLISHED / "runs").is_dir():
        pytest.fail(f"{PUBLISHED}/runs is missing: the published dataset is part of the repository")
    return Store(PUBLISHED)


def test_every_published_run_is_intact_and_checksummed(published):
    runs = published.run_dirs()
    assert runs
    problems = [p for d in runs if (p := published.run_problem(d))]
    assert not problems, "\n".join(problems[:10])


def test_every_published_analysis_names_published_runs_and_is_sealed(published):
    assert published.orphans() == []
    assert len(published.analyses()) and published.analyses().attrs["damaged"] == []


def test_the_published_dataset_matches_its_manifest(published):
    """MANIFEST.sha256 lists every published file with its sha256 (``python -m lbsm runs
    --write-manifest`` writes it after the store verifies); nothing is unlisted or changed."""
    found = published.verify(require_manifest=True)
    assert found["problems"] == [] and found["unlisted"] == [], \
        "\n".join((found["problems"] + found["unlisted"])[:10])


def test_published_dataset_holds_no_weights_and_stays_small():
    files = [p for p in PUBLISHED.rglob("*") if p.is_file() and "weights" not in p.parts
             and ".locks" not in p.parts and "damaged" not in p.parts]
    assert not [p for p in files if p.suffix in (".pt", ".pkl", ".pickle")]
    assert sum(p.stat().st_size for p in files) < 25 * 2**20
    assert (PUBLISHED / "README.md").is_file()
