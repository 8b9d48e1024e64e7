"""Damaged store files: each is reported with its name, set aside (never deleted), and recomputed
on request; nothing else in the store changes. One file kind at a time, truncated or corrupted."""
import hashlib
import json
import shutil

import pytest

from lbsm import cli
from lbsm.train import protocol as train
from lbsm.core.store import DamagedError, Store

SMALL = dict(train_subset=1000, test_subset=300, precision="fp32")


@pytest.fixture(scope="module")
def pristine(tmp_path_factory, mnist):
    """A store with two finished runs (one to damage, one bystander) and one analysis."""
    root = tmp_path_factory.mktemp("pristine") / "r"
    store = Store(root)
    a = train.fit(train.TrainConfig("F1", 250, epochs=2, **SMALL), store, dataset=mnist, progress=False)
    train.fit(train.TrainConfig("F1", 500, epochs=1, **SMALL), store, dataset=mnist, progress=False)
    store.analysis("sharpness", {"run": a.name}, lambda: {"value": 1.5}, version=1)
    return root, a.config


@pytest.fixture
def store(pristine, tmp_path):
    root, _ = pristine
    shutil.copytree(root, tmp_path / "r")
    return Store(tmp_path / "r")


def digest(store: Store, skip: str) -> dict:
    """sha256 of every published file except those under ``skip`` and ``damaged/``."""
    return {str(p.relative_to(store.root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in store.root.rglob("*") if p.is_file() and skip not in str(p)
            and "damaged" not in p.parts and ".locks" not in p.parts and "weights" not in p.parts}


def truncate(path, keep=0.5):
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


DAMAGES = {
    "meta.json truncated": ("meta.json", lambda p: truncate(p)),
    "config.json edited": ("config.json", lambda p: p.write_text(p.read_text().replace('"seed": 0', '"seed": 7'))),
    "history.csv cut to one epoch": ("history.csv", lambda p: p.write_text("\n".join(p.read_text().splitlines()[:2]) + "\n")),
    "history.csv garbage": ("history.csv", lambda p: p.write_bytes(b"\x00\xff" * 10)),
    # issue 15: a checksum that is missing is damage, not a pass; meta.json is covered too
    "sha256 deleted, history edited": ("meta.json", lambda p: (
        edit_json(p, lambda m: m.pop("sha256")),
        edit_csv(p.parent / "history.csv"))),
    "meta.json forged (device)": ("meta.json", lambda p: edit_json(
        p, lambda m: m.update(device="NVIDIA H100", precision="fp32"))),
    "meta.json a list": ("meta.json", lambda p: p.write_text("[1, 2]")),
    "meta.json epochs_run 'two'": ("meta.json", lambda p: edit_json(
        p, lambda m: m.update(epochs_run="two"))),
}


def edit_json(path, change):
    d = json.loads(path.read_text())
    change(d)
    path.write_text(json.dumps(d))


def edit_csv(path):
    """The last epoch's test accuracy forged to 12.34 %."""
    lines = path.read_text().splitlines()
    head, last = lines[0].split(","), lines[-1].split(",")
    last[head.index("test_acc")] = "12.34"
    path.write_text("\n".join(lines[:-1] + [",".join(last)]) + "\n")


@pytest.mark.parametrize("what", list(DAMAGES))
def test_damaged_run_file_is_named_set_aside_and_retrained(store, pristine, mnist, what, capsys):
    _, cfg = pristine
    name, damage = DAMAGES[what]
    path = store.run_dir(cfg.net, cfg.key)
    damage(path / name)
    before = digest(store, path.name)
    analysis = store.analysis_path("sharpness", {"run": path.name}, 1)
    before.pop(str(analysis.relative_to(store.root)))

    # listing still works, leaves it out and names it
    assert cli.main(["runs", "--results", str(store.root)]) == 0
    out, err = capsys.readouterr()
    assert path.name in err and path.name not in out and "F1-" in out

    # reading it: a clear error naming the file, the run set aside, not deleted
    with pytest.raises(DamagedError, match=path.name) as exc:
        train.Run.load(path, store)
    assert "set aside" in str(exc.value) and "again" in str(exc.value)
    assert not path.exists()
    assert len(list((store.root / "damaged" / "runs").iterdir())) == 1
    # its analysis was computed from the weights set aside: stale, set aside with it
    assert not analysis.exists()
    assert len(list((store.root / "damaged" / "analyses" / "sharpness").iterdir())) == 1

    # the next request trains it anew; nothing else changed
    run = train.fit(cfg, store, dataset=mnist, progress=False)
    assert run.status == "done" and run.meta["epochs_run"] == 2
    assert digest(store, path.name) == before


def test_damaged_run_is_retrained_by_fit_with_a_warning(store, pristine, mnist):
    _, cfg = pristine
    path = store.run_dir(cfg.net, cfg.key)
    truncate(path / "history.csv", 0.3)
    with pytest.warns(UserWarning, match="history.csv"):
        run = train.fit(cfg, store, dataset=mnist, progress=False)
    assert len(run.history) == 3 and (store.root / "damaged").is_dir()


@pytest.mark.parametrize("weights", ["final.pt", "x0.pt"])
def test_truncated_weights_are_set_aside_and_remade(store, pristine, mnist, weights):
    _, cfg = pristine
    run = train.Run.load(store.run_dir(cfg.net, cfg.key), store)
    good = run.state(weights.removesuffix(".pt"))
    truncate(run.weights / weights)
    with pytest.warns(UserWarning, match=weights):
        again = run.state(weights.removesuffix(".pt"), restore=True)
    assert (run.weights / f"{weights}.damaged").is_file()
    assert all((again[k] == v).all() for k, v in good.items())  # same machine: the same weights
    assert (run.path / "retrained.json").is_file()


@pytest.mark.parametrize("damage", ["truncated", "edited"])
def test_damaged_analysis_is_set_aside_and_recomputed(store, pristine, damage):
    _, cfg = pristine
    params = {"run": f"F1-{cfg.key}"}
    path = store.analysis_path("sharpness", params, 1)
    if damage == "truncated":
        truncate(path)
    else:
        rec = json.loads(path.read_text())
        rec["value"]["value"] = 99.0
        path.write_text(json.dumps(rec))
    with pytest.warns(UserWarning, match=path.name):
        value = store.analysis("sharpness", params, lambda: {"value": 1.5}, version=1)
    assert value == {"value": 1.5}
    assert len(list((store.root / "damaged" / "analyses" / "sharpness").iterdir())) == 1


def test_intact_store_serves_without_warnings(store, pristine, recwarn):
    _, cfg = pristine
    run = train.Run.load(store.run_dir(cfg.net, cfg.key), store)
    assert run.meta["sha256"].keys() == {"config.json", "history.csv"}
    assert store.analysis("sharpness", {"run": run.name}, lambda: pytest.fail("recomputed"), version=1)
    assert store.runs().attrs["damaged"] == [] and len(store.runs()) == 2
    assert not recwarn.list


def test_seal_covers_meta_written_without_its_own_checksum_only_when_the_rest_verifies(store, pristine):
    """Code older than meta_sha256 (the dataset being recomputed) wrote meta.json without it: one
    command seals it; a run whose file checksums are missing or wrong is never sealed."""
    _, cfg = pristine
    path = store.run_dir(cfg.net, cfg.key)
    edit_json(path / "meta.json", lambda m: m.pop("meta_sha256"))
    assert "no meta_sha256" in store.run_problem(path)
    assert store.seal() == {"runs": 1, "analyses": 0}
    assert store.run_problem(path) is None
    (path / "history.csv").write_text((path / "history.csv").read_text().replace("0.", "1.", 1))
    assert "checksum mismatch" in store.run_problem(path)
    edit_json(path / "meta.json", lambda m: (m.pop("meta_sha256"), m.pop("sha256")))
    assert store.seal()["runs"] == 0 and "sha256" in store.run_problem(path)
