"""One model, one set of weights: a run's record carries the hash of its final weights, every
analysis the hash of the weights it measured, and the store serves an analysis only beside the run
record that holds the same hash. Results are published only from committed code. The campaign
publishes whole trials."""
import json
import shutil

import pytest
import torch

from lbsm.core import store as store_mod
from lbsm.core.files import load_torch, save_torch, state_sha256
from lbsm.core.records import seal_meta
from lbsm.core.store import Store, UncommittedCodeError
from lbsm.experiments import profiles
from lbsm.pipeline import campaign
from lbsm.train import protocol as train
from lbsm.train.config import TrainConfig

SMALL = dict(train_subset=1000, test_subset=300, precision="fp32")


@pytest.fixture(scope="module")
def pristine(tmp_path_factory, mnist):
    """A store with a finished run, one warm-started from it, and an analysis of each."""
    root = tmp_path_factory.mktemp("weights") / "r"
    store = Store(root)
    parent = train.fit(TrainConfig("F1", 250, epochs=2, **SMALL), store, dataset=mnist, progress=False)
    child = train.fit(TrainConfig("F1", 500, epochs=1, init=parent.name, **SMALL), store,
                      dataset=mnist, progress=False)
    for run in (parent, child):
        store.analysis("sharpness", {"run": run.name}, lambda: {"value": 1.5}, version=1)
    return root, parent.name, child.name


@pytest.fixture
def store(pristine, tmp_path):
    shutil.copytree(pristine[0], tmp_path / "r")
    return Store(tmp_path / "r")


def reseal(path, change):
    meta = json.loads(path.read_text())
    change(meta)
    path.write_text(json.dumps(seal_meta(meta)))


# --------------------------------------------------------------------------- the hash
def test_state_hash_is_of_the_weights_not_the_file():
    a = {"w": torch.arange(6, dtype=torch.float32).reshape(2, 3), "n": torch.tensor(3)}
    b = {"n": torch.tensor(3), "w": torch.arange(6, dtype=torch.float32).reshape(2, 3)}
    assert state_sha256(a) == state_sha256(b)                       # order of the dict: no matter
    one_ulp = {**a, "w": torch.nextafter(a["w"], torch.tensor(10.0))}
    assert state_sha256(one_ulp) != state_sha256(a)                 # any bit of any weight
    assert state_sha256({**a, "w": a["w"].reshape(3, 2)}) != state_sha256(a)    # the shape
    assert state_sha256({**a, "w": a["w"].double()}) != state_sha256(a)         # the dtype
    assert state_sha256({"v": a["w"], "n": a["n"]}) != state_sha256(a)          # the names
    assert len(state_sha256({"w": a["w"].bfloat16()})) == 64                     # bf16 hashes too


def test_a_run_records_the_hash_of_its_final_weights(store, pristine):
    run = train.Run.load(store.root / "runs" / pristine[1], store)
    assert run.meta["weights_sha256"] == state_sha256(run.state())


def test_an_analysis_records_the_weights_it_measured(store, pristine):
    rec = json.loads(next((store.root / "analyses/sharpness").glob("*.json")).read_text())
    name = rec["params"]["run"]
    meta = json.loads((store.root / "runs" / name / "meta.json").read_text())
    assert rec["provenance"]["weights"] == {name: meta["weights_sha256"]}


def test_an_analysis_of_other_weights_is_not_served(store, pristine):
    """The run's record now holds other weights (as after a retrain that landed elsewhere): the
    analysis is refused by verify, left out of the listing and recomputed on request."""
    name = pristine[1]
    reseal(store.root / "runs" / name / "meta.json", lambda m: m.update(weights_sha256="0" * 64))
    problems = store.verify(require_manifest=False)["problems"]
    assert any("stale" in p and name in p for p in problems)
    assert name not in set(store.analyses("sharpness").get("param_run", []))
    with pytest.warns(UserWarning, match="stale"):
        assert store.analysis("sharpness", {"run": name}, lambda: {"value": 9.0}, version=1)["value"] == 9.0
    assert not store.verify(require_manifest=False)["problems"]


def test_a_retrain_with_other_weights_replaces_the_record(store, pristine, monkeypatch):
    """Weights lost, and the retrain's rounding differs: the retrain becomes the run's record
    (history and weights hash), the old analyses and the warm-started run are set aside."""
    parent, child = pristine[1], pristine[2]
    run = train.Run.load(store.root / "runs" / parent, store)
    shutil.rmtree(run.weights)
    real = train._train

    def other_rounding(*a, **k):
        history, meta = real(*a, **k)
        f = store.weights_dir(parent) / "final.pt"
        save_torch({k: v + 1e-6 if v.is_floating_point() else v for k, v in load_torch(f).items()}, f)
        return history.assign(test_acc=history.test_acc + 0.5), meta
    monkeypatch.setattr(train, "_train", other_rounding)
    with pytest.warns(UserWarning):
        state = run.state(restore=True)
    meta = json.loads((run.path / "meta.json").read_text())
    assert meta["weights_sha256"] == state_sha256(state) == run.meta["weights_sha256"]
    assert run.history.test_acc.iloc[-1] == pytest.approx(
        train.Run.load(run.path, store).history.test_acc.iloc[-1])     # one history, the new one
    rec = json.loads((run.path / "retrained.json").read_text())["records"][-1]
    assert rec["record"] == "replaced by the retrain" and rec["weights_after"] == meta["weights_sha256"]
    assert not store.has_analysis("sharpness", {"run": parent}, 1)
    assert not (store.root / "runs" / child).exists()                  # trained from lost weights
    assert not store.verify(require_manifest=False)["problems"]


def test_a_retrain_with_the_same_weights_keeps_the_record(store, pristine):
    run = train.Run.load(store.root / "runs" / pristine[1], store)
    before = (run.path / "meta.json").read_bytes()
    shutil.rmtree(run.weights)
    run.state(restore=True)
    assert (run.path / "meta.json").read_bytes() == before
    assert store.has_analysis("sharpness", {"run": run.name}, 1)


def test_foreign_weights_in_the_cache_are_not_served(store, pristine):
    """A final.pt of another training (another machine's cache) is set aside and remade."""
    run = train.Run.load(store.root / "runs" / pristine[1], store)
    f = run.weights / "final.pt"
    good = load_torch(f)
    save_torch({k: v * 2 if v.is_floating_point() else v for k, v in good.items()}, f)
    with pytest.warns(UserWarning, match="other weights"):
        with pytest.raises(train.WeightsMissing):   # set aside, and not retrained by a read
            run.state()
    assert not (run.weights / "final.pt").exists()
    state = run.state(restore=True)
    assert state_sha256(state) == run.meta["weights_sha256"]
    assert (run.weights / "final.pt.other").is_file()


# --------------------------------------------------------------------------- committed code only
def test_the_published_store_refuses_uncommitted_code_before_computing(store, mnist, monkeypatch):
    monkeypatch.setattr(Store, "is_published", property(lambda self: True))
    monkeypatch.setattr(store_mod, "git_commit", lambda: "abc1234-dirty")
    called = []
    with pytest.raises(UncommittedCodeError, match="--allow-dirty"):
        store.analysis("sharpness", {"run": "x"}, lambda: called.append(1) or {"value": 1}, version=7)
    with pytest.raises(UncommittedCodeError):
        train.fit(TrainConfig("F1", 500, epochs=1, seed=3, **SMALL), store, dataset=mnist, progress=False)
    assert not called and not list((store.root / "runs").glob("*-*")) == []  # nothing new trained
    assert not any("seed\": 3" in (d / "config.json").read_text() for d in store.run_dirs())
    flagged = Store(store.root, allow_dirty=True)
    assert flagged.analysis("sharpness", {"run": "x"}, lambda: {"value": 1}, version=7) == {"value": 1}
    monkeypatch.setattr(store_mod, "git_commit", lambda: "abc1234")
    assert store.analysis("sharpness", {"run": "y"}, lambda: {"value": 2}, version=7) == {"value": 2}


def test_other_stores_take_results_from_any_tree(store, monkeypatch):
    monkeypatch.setattr(store_mod, "git_commit", lambda: "abc1234-dirty")
    assert not store.is_published
    assert store.analysis("sharpness", {"run": "z"}, lambda: {"value": 3}, version=7) == {"value": 3}


# --------------------------------------------------------------------------- the stop rule
@pytest.mark.parametrize("min_delta, step, stops", [
    (1e-4, 1.01e-4, False), (1e-4, 0.99e-4, True),   # the threshold's boundary, both sides
    (0.0, 1e-12, False), (0.0, 0.0, True)])           # min_delta 0: any decrease is an improvement
def test_plateau_rule_at_its_threshold(min_delta, step, stops):
    """Losses flat for 5 epochs, then 5 epochs in which the best is ``step`` below the best before."""
    losses = [1.0, 0.5, 0.4, 0.4, 0.4, 0.4, 0.4, 0.4, 0.4, 0.4 - step]
    history = [{"train_loss": float("nan")}] + [{"train_loss": x} for x in losses]
    assert train.plateaued(history, 5, min_delta) is stops


def test_min_delta_is_one_key_whatever_its_spelling_and_checked():
    assert TrainConfig("F1", 256, min_delta=0).key == TrainConfig("F1", 256, min_delta=0.0).key
    for bad in (-1e-4, float("nan"), "abc", True):
        with pytest.raises(ValueError, match="min_delta"):
            TrainConfig("F1", 256, min_delta=bad)


def test_the_adopted_readings_leave_the_published_cpu_runs_where_they_are():
    """cpu-v2 changes the stop threshold and the L-BFGS-B start; cpu's keys (its published runs)
    do not move, and cpu-v2's trials are other runs."""
    published = {d.name for d in (store_mod.REPO / "results/runs").iterdir()}
    cpu, v2 = profiles.get("cpu"), profiles.get("cpu-v2")
    assert {c.name for c in cpu.trial("F1", 0)} <= published
    sb, lb = v2.trial("F1", 0)
    assert sb.min_delta == lb.min_delta == 0.0 and v2.sharpness_start == "zero"
    assert {sb.name, lb.name}.isdisjoint({c.name for c in cpu.trial("F1", 0)})
    assert len(v2.nets["F1"].seeds) == 20


# --------------------------------------------------------------------------- the campaign
def test_a_campaign_publishes_whole_trials_and_resumes(tmp_path, mnist, monkeypatch):
    monkeypatch.setitem(campaign.CAMPAIGNS, "tiny", campaign.Campaign("smoke", "F1", ("gap",)))
    monkeypatch.setattr(campaign, "git_commit", lambda: "abc1234")
    staging, dst = Store(tmp_path / "staging"), Store(tmp_path / "published")
    (dst.root / "runs").mkdir(parents=True)
    assert campaign.published(campaign.campaign("tiny"), dst) == []
    lines = []
    done = campaign.run("tiny", staging, dst, log=lines.append)
    assert done == [0, 1] and campaign.published(campaign.campaign("tiny"), dst) == [0, 1]
    assert not dst.verify(require_manifest=True)["problems"]
    assert any("trial 1 published" in line and "SB" in line and "LB" in line for line in lines)
    assert campaign.run("tiny", staging, dst, log=lines.append) == []   # nothing is redone


def test_a_campaign_refuses_uncommitted_code(tmp_path, monkeypatch):
    monkeypatch.setattr(campaign, "git_commit", lambda: "abc1234-dirty")
    with pytest.raises(UncommittedCodeError, match="clean checkout"):
        campaign.run("cpu-v2", Store(tmp_path / "a"), Store(tmp_path / "b"))


def test_a_campaign_publishes_a_run_s_meta_last():
    files = ["runs/F1-a/meta.json", "analyses/sharpness/k.json", "runs/F1-a/history.csv",
             "runs/F1-a/config.json"]

    class Fake:
        def __init__(self, files):
            self.files = files

        def published_files(self):
            return self.files
    order = campaign.new_files(Fake(files), Fake([]))
    assert order[0].startswith("analyses/") and order[-1] == "runs/F1-a/meta.json"


def test_a_trial_publishes_only_its_own_records(tmp_path):
    """A staging checkout may hold records the published store has since replaced or removed (a
    recompute of another chapter): the trial publishes its runs' folders and the analyses that
    name them, nothing else."""
    import json

    class Fake:
        def __init__(self, root, files):
            self.root, self.files = root, files

        def published_files(self):
            return self.files
    files = {"runs/F1-a/meta.json": None, "runs/F1-old/retrained.json": None,
             "analyses/sharpness/mine.json": {"run": "F1-a", "bn": "batch"},
             "analyses/interpolation/pair.json": {"sb": "F1-b", "lb": "F1-a"},
             "analyses/noise/stale.json": {"run": "F1-old", "which": 18}}
    for rel, params in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(json.dumps({"params": params}) if params else "{}")
    got = campaign.new_files(Fake(tmp_path, list(files)), Fake(tmp_path, []), ["F1-a", "F1-b"])
    assert got == ["analyses/interpolation/pair.json", "analyses/sharpness/mine.json",
                   "runs/F1-a/meta.json"]


def test_training_applies_the_configured_threshold(tmp_path, mnist, monkeypatch):
    """The trainer hands the plateau rule the config's own patience and min_delta (a threshold
    scaled on the way fails here), and the stated defaults are the documented ones."""
    assert (TrainConfig.patience, TrainConfig.min_delta) == (5, 1e-4)
    assert profiles.get("cpu-v2").nets["F1"].min_delta == 0.0
    calls = []
    real = train.plateaued
    monkeypatch.setattr(train, "plateaued", lambda h, p, d: calls.append((p, d)) or real(h, p, d))
    cfg = TrainConfig("F1", 500, epochs=2, stop="plateau", min_delta=3e-5, **SMALL)
    train.fit(cfg, Store(tmp_path / "r"), dataset=mnist, progress=False)
    assert calls and set(calls) == {(5, 3e-5)}


def test_an_archive_of_other_weights_is_refused_whole(store, pristine, tmp_path):
    """Trial: an archive computed elsewhere (other rounding) for runs the store already holds added
    its analyses beside the store's runs ("27 added, 3 already"). Now nothing is imported; into a
    store without those runs, or one holding the same weights, it imports."""
    from lbsm.pipeline import chunks
    archive = tmp_path / "chunk.tar.gz"
    chunks.export(store, archive)
    other = Store(tmp_path / "other")
    shutil.copytree(store.root / "runs", other.root / "runs")
    for d in other.run_dirs():  # the same runs, trained elsewhere: other weights
        reseal(d / "meta.json", lambda m: m.update(weights_sha256="f" * 64))
    before = sorted(p.name for p in other.root.rglob("*"))
    with pytest.raises(ValueError, match="another minimizer.*nothing imported"):
        chunks.import_archive(archive, other)
    assert sorted(p.name for p in other.root.rglob("*")) == before
    fresh = Store(tmp_path / "fresh")
    assert len(chunks.import_archive(archive, fresh)["added"]) > 0
    assert not fresh.verify(require_manifest=False)["problems"]
    same = Store(tmp_path / "same")
    shutil.copytree(store.root / "runs", same.root / "runs")
    assert chunks.import_archive(archive, same)["added"]
