"""GPU windows: the plan of a chunk, the device self-test, archives home, data in parts."""
import tarfile

import pytest

from lbsm.pipeline import chunks, compute
from lbsm import cli
from lbsm.core import data
from lbsm.train import protocol as train
from lbsm.core.store import Store

# seconds per epoch for every (net, batch) the paper profile trains (a given cost model)
PAPER_COST = {"C1@256": 1.0, "C1@5000": 0.5, "C2@256": 3, "C2@5000": 1.5, "F1@256": 0.3,
              "F1@6000": 0.1, **{f"C1@{b}": 0.6 for b in (100, 250, 500, 750, 1000, 1500, 2000,
                                                         3000, 4000)},
              "C3@256": 3, "C3@5000": 1.5, "C4@256": 3, "C4@5000": 1.5}
# the rest of what the paper profile trains after its priority list (F1's other batch sizes)
PAPER_COST |= {f"{c.net}@{c.batch_size}": 0.2 for _, ch, _, p in chunks._items("paper")
               for c in compute.graph(ch, p)[0].values() if f"{c.net}@{c.batch_size}" not in PAPER_COST}


def test_paper_plan_starts_with_c1_and_fits_the_budget(tmp_path):
    cost = chunks.Cost(PAPER_COST, ensemble_speedup=3)
    items = chunks.plan("paper", 540, cost, Store(tmp_path / "r"))
    assert items[0].what.startswith("C1") and items[0].fits
    assert chunks.chunk_seconds(items, cost) <= 540
    # C1 Table 2: 5 seeds x (SB, LB), 200 epochs at most each, plateau guessed at 100
    assert len(items[0].missing) == 10
    assert items[0].seconds == pytest.approx(5 * 100 * 1.0 / 3 + 5 * 100 * 0.5 / 3)
    # priority: nothing after the first item that does not fit is started
    first_out = next(i for i, it in enumerate(items) if not it.fits)
    assert not any(it.fits or it.partial for it in items[first_out + 1:])
    # a run shared by several items is planned once
    keys = [c.key for it in items for c in it.missing]
    assert len(keys) == len(set(keys))


def test_an_item_too_big_for_the_window_starts_the_runs_that_fit(tmp_path):
    cost = chunks.Cost(PAPER_COST, ensemble_speedup=1)
    items = chunks.plan("paper", 600, cost, Store(tmp_path / "r"))
    assert not items[0].fits and items[0].partial  # 750 s does not fit; the SB seeds (500 s) do
    assert {c.batch_size for c in items[0].partial} == {256} and len(items[0].partial) == 5
    assert chunks.chunk_seconds(items, cost) == pytest.approx(500)


def test_dry_run_prints_the_plan(capsys, tmp_path):
    args = ["compute", "all", "--profile", "paper", "--budget", "540", "--dry-run",
            "--ensemble-speedup", "3", "--results", str(tmp_path / "r"), "--cost",
            *[f"{k}={v}" for k, v in PAPER_COST.items()]]
    assert cli.main(args) == 0
    out = capsys.readouterr().out
    first = next(line for line in out.splitlines() if line.startswith(">"))
    assert "C1: Table 2" in first and "of the 540 s budget" in out


def test_a_profile_the_priority_list_does_not_name_is_planned_per_chapter(tmp_path):
    """``cpu`` trains F1, which PRIORITY (C1, C2) does not list: its missing work is still
    planned (a dry run once said "0 items" with 13 Beyond runs missing), for the chapters asked."""
    chapters = ["gap", "beyond"]
    items = chunks._items("cpu", chapters)
    pairs = {(c.net, c.batch_size) for _, ch, _, p in items for c in compute.graph(ch, p)[0].values()}
    cost = chunks.Cost({f"{n}@{b}": 1.0 for n, b in pairs})
    planned = chunks.plan("cpu", float("inf"), cost, Store(tmp_path / "r"), chapters)
    assert [it.what for it in planned] == ["F1: gap", "F1: beyond"]
    assert len(planned[0].missing) == 10  # 5 trials x (SB, LB)
    assert planned[1].missing and {c.net for c in planned[1].missing} == {"F1"}
    with pytest.raises(ValueError, match="unknown chapter 'gapp'"):
        chunks._items("cpu", ["gapp"])


def test_a_missing_cost_is_named(capsys, tmp_path):
    args = ["compute", "all", "--profile", "paper", "--budget", "540", "--dry-run",
            "--results", str(tmp_path / "r"), "--cost", "C1@256=1"]
    assert cli.main(args) == 2
    assert "--cost lacks" in capsys.readouterr().err


def test_selftest_on_this_device():
    out = chunks.selftest("cpu")
    assert out["ensemble_vs_single"] < 1e-4 and out["seconds"] < 60
    with pytest.raises(RuntimeError, match="CUDA is not available"):
        chunks.selftest("cpu", require_cuda=True)


def test_archive_round_trip_adds_new_results_and_keeps_existing(mnist, tmp_path, one_thread):
    gpu, home = Store(tmp_path / "gpu"), Store(tmp_path / "home")
    cfg = train.TrainConfig("F1", 500, epochs=1, train_subset=1000, test_subset=200, precision="fp32")
    train.fit(cfg, home, dataset=mnist, progress=False)  # already published at home
    before = chunks.snapshot(gpu)
    runs = [train.fit(train.TrainConfig("F1", 500, seed=s, epochs=1, train_subset=1000,
                                        test_subset=200, precision="fp32"), gpu, dataset=mnist,
                      progress=False) for s in (0, 1)]
    gpu.analysis("sharpness", {"run": runs[1].name}, lambda: {"value": 2.0}, version=1)
    out = chunks.export(gpu, tmp_path / "chunk.tar.gz", since=before)
    with tarfile.open(tmp_path / "chunk.tar.gz") as tar:
        assert not [n for n in tar.getnames() if n.endswith(".pt")]  # no weights travel
    assert out["files"] == 7 and out["bytes"] < 16 * 2**20
    res = chunks.import_archive(tmp_path / "chunk.tar.gz", home)
    assert len(res["added"]) == 2 and res["kept"] == [f"runs/{runs[0].name}"]
    assert home.analysis("sharpness", {"run": runs[1].name}, lambda: pytest.fail("recomputed"),
                         version=1) == {"value": 2.0}
    assert len(home.runs()) == 2


def test_a_damaged_archive_imports_nothing(mnist, tmp_path, one_thread):
    gpu, home = Store(tmp_path / "gpu"), Store(tmp_path / "home")
    run = train.fit(train.TrainConfig("F1", 500, epochs=1, train_subset=1000, test_subset=200,
                                      precision="fp32"), gpu, dataset=mnist, progress=False)
    (run.path / "history.csv").write_text("epoch\n0\n")
    chunks.export(gpu, tmp_path / "bad.tar.gz")
    with pytest.raises(ValueError, match="history.csv"):
        chunks.import_archive(tmp_path / "bad.tar.gz", home)
    assert not (home.root / "runs").exists()


def test_split_and_reassemble_verify_every_part(tmp_path):
    src = tmp_path / "src"
    (src / "cifar-10-batches-py").mkdir(parents=True)
    (src / "cifar-10-batches-py" / "data").write_bytes(bytes(range(256)) * 4000)
    with tarfile.open(tmp_path / "x.tar.xz", "w:xz") as tar:
        tar.add(src / "cifar-10-batches-py", arcname="cifar-10-batches-py")
    parts = data.split(tmp_path / "x.tar.xz", tmp_path / "parts", part_mb=0.0005)
    assert len(parts) > 1 and all(p.stat().st_size <= 500 for p in parts)
    data.reassemble(tmp_path / "parts", tmp_path / "data")
    assert (tmp_path / "data" / "cifar-10-batches-py" / "data").read_bytes() == bytes(range(256)) * 4000
    parts[1].write_bytes(b"damaged")
    with pytest.raises(data.DataError, match=f"{parts[1].name}: md5 mismatch"):
        data.reassemble(tmp_path / "parts", tmp_path / "data2")
    parts[1].unlink()
    with pytest.raises(data.DataError, match="missing part"):
        data.reassemble(tmp_path / "parts", tmp_path / "data2")


def test_the_gpu_path_needs_only_what_the_gpu_machine_has():
    """The GPU machine has torch, numpy, scipy, pandas and tqdm: nothing of the book."""
    import subprocess
    import sys
    code = ("import sys\n"
            "for m in ('matplotlib', 'IPython', 'myst_nb', 'dask', 'distributed', 'papermill', 'yaml'):\n"
            "    sys.modules[m] = None\n"
            "from lbsm import cli\n"
            "from lbsm.pipeline import chunks, compute\n"
            "from lbsm.train import ensemble\n"
            "from lbsm.experiments import appendix_e, sections, sensitivity, trials\n"
            "cli.parser().parse_args(['compute', 'all', '--budget', '60', '--dry-run'])\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
