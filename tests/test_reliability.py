"""Issue 27 (reliability): one test per failure mode, each reproducing it. A Windows checkout
(CRLF) is explained, not "repaired" into damaged/; every knob has a type and a range checked
before any compute; output goes where it is told; writes survive a kill; messages name the file
and the fix; an archive's runs hold only values training can write. No test trains: runs are
hand-made records, sealed as the store seals them."""
import errno
import io
import json
import math
import multiprocessing as mp
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
import time
from pathlib import Path

import pytest

from lbsm.core import datadir, files, parts, validate
from lbsm.core.files import save_json, sha256, write_atomic
from lbsm.core.records import RUN_FILES, seal_meta
from lbsm.core.store import DamagedError, Store
from lbsm.experiments import parameters
from test_integrity import run_main  # the CLI's exit code and output (one definition)

REPO = Path(__file__).resolve().parent.parent
HEAD = "epoch,train_loss,train_acc,test_loss,test_acc,minibatch_loss,seconds"


# --------------------------------------------------------------------------- hand-made runs
def history_rows(epochs: int = 2) -> list[dict]:
    rows = [dict(epoch=0, train_loss=2.3, train_acc=10.0, test_loss=2.3, test_acc=10.5,
                 minibatch_loss=math.nan, seconds=0.0)]
    return rows + [dict(epoch=e, train_loss=2.3 / (e + 1), train_acc=50.0 + e, test_loss=2.4 / (e + 1),
                        test_acc=49.0 + e, minibatch_loss=2.0 / (e + 1), seconds=1.5 * e)
                   for e in range(1, epochs + 1)]


def history_csv(rows: list[dict]) -> str:
    cell = lambda v: "" if isinstance(v, float) and math.isnan(v) else str(v)  # noqa: E731
    return "\n".join([HEAD] + [",".join(cell(r[k]) for k in HEAD.split(",")) for r in rows]) + "\n"


def config_of(seed: int = 0, epochs: int = 2) -> dict:
    from lbsm.train.config import TrainConfig
    return TrainConfig("F1", 500, seed=seed, epochs=epochs, train_subset=1000, test_subset=200).key_dict()


def meta_of(epochs_run: int = 2) -> dict:
    return {"status": "done", "epochs_run": epochs_run, "stopped_by": "epochs", "wall_seconds": 3.0,
            "precision": "fp32", "n_train": 1000, "n_test": 200, "device": "cpu"}


def write_run(store: Store, seed: int = 0, rows: list[dict] | None = None, meta: dict | None = None) -> Path:
    """A finished run in ``store`` as the store writes one: config, history, then the sealed meta
    with the checksums of the other two."""
    from lbsm.core.records import config_key
    config = config_of(seed)
    path = store.root / "runs" / f"F1-{config_key(config)}"
    save_json(config, path / "config.json")
    write_atomic(path / "history.csv", history_csv(rows or history_rows()).encode())
    reseal(path, meta or meta_of())
    return path


def reseal(path: Path, meta: dict | None = None) -> None:
    meta = meta or {k: v for k, v in json.loads((path / "meta.json").read_text()).items()
                    if k not in ("sha256", "meta_sha256")}
    save_json(seal_meta({**meta, "sha256": {f: sha256(path / f) for f in RUN_FILES}}), path / "meta.json")


def to_crlf(run_dir: Path) -> None:
    for f in run_dir.iterdir():
        f.write_bytes(f.read_bytes().replace(b"\n", b"\r\n"))


def git(*args) -> str:
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("needs git and the checkout's .git")
    return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, check=True).stdout


# --------------------------------------------------------------------------- 1. line endings
def test_gitattributes_keep_the_published_dataset_byte_for_byte():
    """Trial: a clone with core.autocrlf=true turned every results/ file into CRLF."""
    lines = (REPO / ".gitattributes").read_text().splitlines()
    assert "results/** -text" in [line.strip() for line in lines]
    assert "text: unset" in git("check-attr", "text", "results/runs/F1-0000000000000000/history.csv")


def test_a_crlf_checkout_is_explained_and_nothing_is_moved(tmp_path, capsys, monkeypatch):
    """Trial: on a CRLF checkout every run failed its checksum and was moved to damaged/ and
    retrained, the whole published dataset at once."""
    store = Store(tmp_path / "r")
    run = write_run(store)
    before = {f.name: f.read_bytes() for f in run.iterdir()}
    to_crlf(run)
    assert store.run_problem(run) is not None  # the checksum does fail
    with pytest.raises(DamagedError, match="CRLF") as exc:
        store.check_run(run)
    assert "git config core.autocrlf false" in str(exc.value) and "Nothing was moved" in str(exc.value)
    assert str(run / "history.csv") in str(exc.value)
    assert run.is_dir() and not (store.root / "damaged").exists()
    # fit of that run reports it and trains nothing
    from lbsm.train import protocol
    from lbsm.train.config import TrainConfig
    monkeypatch.setattr(protocol, "_train", lambda *a, **k: pytest.fail("retrained a CRLF run"))
    cfg = TrainConfig("F1", 500, seed=0, epochs=2, train_subset=1000, test_subset=200)
    with pytest.raises(DamagedError, match="CRLF"):
        protocol.fit(cfg, store, progress=False)
    assert run.is_dir() and not (store.root / "damaged").exists()
    # `runs --verify` says so too, once, first
    rc, out, err = run_main(capsys, "runs", "--verify", "--results", store.root)
    assert rc == 1 and "only its line endings differ: CRLF" in err
    first = err.splitlines()[0]
    assert first.startswith("FAILS: ") and "2 file(s) differ only by CRLF" in first and "core.autocrlf false" in first
    # with LF line endings again the run is served
    for name, blob in before.items():
        (run / name).write_bytes(blob)
    store.check_run(run)


def test_an_edited_crlf_file_is_still_damage(tmp_path):
    """The CRLF explanation is no way round a checksum: a file edited besides is set aside."""
    store = Store(tmp_path / "r")
    run = write_run(store)
    to_crlf(run)
    (run / "history.csv").write_bytes((run / "history.csv").read_bytes().replace(b"50.0", b"99.0"))
    with pytest.raises(DamagedError, match="set aside"):
        store.check_run(run)
    assert not run.exists() and len(list((store.root / "damaged" / "runs").iterdir())) == 1


# --------------------------------------------------------------------------- 2. knobs
SMOKE = parameters.profiles.get("smoke")


def current(name: str):
    plan = next(iter(SMOKE.nets.values()))
    return getattr(SMOKE, name) if name in parameters.PROFILE_FIELDS else getattr(plan, name)


@pytest.mark.parametrize("name", [p for p in parameters.PARAMETERS if p not in ("profile", "nets", "seeds")])
def test_every_parameter_has_a_type_and_a_range(name):
    """Every knob a chapter takes is checked: a declared type, a check of its range (a knob
    without one is an error), and its profile value passes both."""
    assert parameters.field_types(name) is not None, f"{name}: an annotation of known types"
    value = current(name)
    if value is not None:
        assert parameters.typed(name, parameters.check(name, value)) == value
    with pytest.raises(ValueError, match=name):
        parameters.override("smoke", **{name: object()})


@pytest.mark.parametrize("change, match", [
    (dict(checkpoints="false"), "checkpoints must be True or False, got 'false'"),
    (dict(checkpoints=1), "checkpoints must be True or False, got 1"),
    (dict(sharpness_eps=1e-2), "sharpness_eps = 0.01: the sharpness chapter renders the paper's eps only"),
    (dict(sharpness_eps=1e-9), "sharpness_eps must be a number between 1e-06 and 0.1, got 1e-09"),
    (dict(sharpness_eps=[1e-3, 1e-3]), "sharpness_eps .*each eps once"),
    (dict(sharpness_eps="abc"), "sharpness_eps must be a number, got .abc."),
    (dict(hessian_nets=["F9"]), "hessian_nets: unknown network"),
    (dict(hessian_nets=3), "hessian_nets = 3"),
    (dict(seeds=10**12), "seeds = 1000000000000: give an int k between 1 and 100"),
    (dict(seeds=[2**40]), "seeds must be an integer <= 4294967295"),
    (dict(sb_epochs=10**7), "sb_epochs must be an integer <= 100000"),
    (dict(alpha_points=10**6), "alpha_points must be an integer <= 1001"),
    (dict(subspace_dim=10**6), "subspace_dim must be an integer <= 1000"),
    (dict(sharpness_seeds=10**6), "sharpness_seeds must be an integer <= 100"),
    (dict(train_subset=70000), "train_subset = 70000: F1's training set has 60000 examples"),
    (dict(nets="F1,F1"), "nets = 'F1,F1'"),
])
def test_papermill_values_out_of_type_or_range_are_refused(change, match):
    """Trials: checkpoints="false" trained with checkpoints, sharpness_eps=1e-2 computed what no
    table renders, seeds=10**12 built a tuple of 10**12 seeds before anything said no."""
    with pytest.raises(ValueError, match=match):
        parameters.override("smoke", **change)


@pytest.mark.parametrize("eps, match", [
    ((1e-3, 5e-4, 2e-3), r"sharpness_eps = 0\.002: the sharpness chapter renders the paper's eps only"),
    ((2e-3,), r"sharpness_eps = 0\.002: .*no column"),
    ((1e-3, 5e-4, 1e-3), r"sharpness_eps = .*each eps once")])
def test_an_eps_the_chapter_cannot_render_is_refused_before_any_compute(tmp_path, eps, match):
    """Issue 28's trial: ``sharpness_eps=(1e-3, 5e-4, 2e-3)`` computed the new solves and then
    failed to render (KeyError 'sb_2e-3'). As a ``compute.chapter`` argument and as a notebook's
    papermill parameter it is refused, naming the parameter and the value, before the store is
    touched."""
    from lbsm.pipeline import compute
    store = Store(tmp_path / "r")
    with pytest.raises(ValueError, match=match):
        compute.chapter("sharpness", "smoke", store=store, sharpness_eps=eps)
    namespace = {"profile": "smoke", "nets": None, "sharpness_eps": eps, "json": json}
    with pytest.raises(ValueError, match=match):
        compute.chapter("sharpness", store=store, **compute.notebook_parameters(namespace))
    assert not store.root.exists() or not any(store.root.rglob("*"))


def test_a_long_seed_list_is_refused_before_its_seeds_are_read():
    class Huge(list):
        def __len__(self):
            return 10**9

        def __iter__(self):
            pytest.fail("iterated a list of 10**9 seeds")
    with pytest.raises(ValueError, match="1000000000 seeds given, at most 100"):
        parameters.override("smoke", seeds=Huge())


def test_papermill_values_in_range_are_kept():
    P = parameters.override("smoke", sharpness_eps=[5e-4], hessian_nets="F1", checkpoints=True, seeds=3)
    assert P.sharpness_eps == (5e-4,) and P.hessian_nets == ("F1",)
    assert all(p.checkpoints and p.seeds == (0, 1, 2) for p in P.nets.values())


@pytest.mark.parametrize("args, message", [
    (["sharpness", "x", "--eps", "1e-9"], "argument --eps: must be a number between 1e-06 and 0.1"),
    (["sharpness", "x", "--eps", "0.5"], "argument --eps: must be a number between 1e-06 and 0.1"),
    (["sharpness", "x", "--subspace", "100000"], "argument --subspace: must be an integer <= 1000"),
    (["sharpness", "x", "--iters", "100000"], "argument --iters: must be an integer <= 10000"),
    (["interpolate", "a", "b", "--points", "100000"], "argument --points: must be an integer <= 1001"),
    (["compute", "gap", "--executor", "dask", "--workers", "100000"],
     "argument --workers: must be an integer <= 256"),
    (["compute", "gap", "--threads-per-worker", "0"], "argument --threads-per-worker: must be an integer >= 1"),
])
def test_cli_knobs_have_ranges(capsys, args, message):
    rc, _, err = run_main(capsys, *args)
    assert rc == 2 and message in err and "Traceback" not in err


def test_metric_2_1_refuses_a_degenerate_box_before_loading_anything():
    from lbsm.experiments import stored
    with pytest.raises(ValueError, match="eps must be a number between 1e-06 and 0.1"):
        stored.run_sharpness(object(), eps=(1e-3, 1e-9))  # the run is never touched


# --------------------------------------------------------------------------- 3. output where told
def test_the_csv_folder_follows_the_output_folder(tmp_path, monkeypatch):
    from lbsm import book
    monkeypatch.delenv("LBSM_CSV_DIR", raising=False)
    assert book.csv_dir_for(None, book.read_environment().csv) is None   # in place: book/csv
    assert book.csv_dir_for(tmp_path / "out", book.read_environment().csv) == tmp_path / "out" / "csv"
    monkeypatch.setenv("LBSM_CSV_DIR", str(tmp_path / "mine"))
    assert book.csv_dir_for(tmp_path / "out", book.read_environment().csv) == tmp_path / "mine"


def test_a_run_pointed_elsewhere_leaves_the_checkouts_book_unchanged(tmp_path, monkeypatch):
    """Trial: `python -m lbsm.book run --profile smoke -c gap -o /tmp/out` rewrote the tracked
    book/csv/gap/*.csv. The chapter is replaced by one that writes a CSV the way the chapters do
    (its first cell, book.start_kernel, reads the kernel's environment; render.csv_dir is then the
    folder it chose); the real run takes a minute."""
    import papermill
    from lbsm import book
    from lbsm.report import render
    monkeypatch.delenv("LBSM_CSV_DIR", raising=False)
    csv = book.BOOK_DIR / "csv"  # where the CSVs went: the chapters themselves are only read
    before = {p: p.stat().st_mtime_ns for p in csv.rglob("*")}
    seen = []

    def execute(src, dst, **kw):
        seen.append(os.environ.get("LBSM_CSV_DIR"))
        book.start_kernel()  # what the chapter's first cell does in the kernel
        (render.csv_dir() / "gap").mkdir(parents=True, exist_ok=True)
        (render.csv_dir() / "gap" / "figure2.csv").write_text("x\n1\n")
        shutil.copyfile(src, dst)
    monkeypatch.setattr(papermill, "execute_notebook", execute)
    monkeypatch.setattr(book, "normalize", lambda path: None)
    book.run("smoke", ["gap"], output_dir=tmp_path / "out", log=lambda *a: None)
    assert seen == [str(tmp_path / "out" / "csv")]
    assert (tmp_path / "out" / "csv" / "gap" / "figure2.csv").is_file()
    assert (tmp_path / "out" / "gap.ipynb").is_file()
    assert {p: p.stat().st_mtime_ns for p in csv.rglob("*")} == before
    assert "LBSM_CSV_DIR" not in os.environ  # restored after the run


# --------------------------------------------------------------------------- 4. crash-safe writes
def two_run_archive(tmp_path) -> Path:
    from lbsm.pipeline import chunks
    src = Store(tmp_path / "src")
    runs = [write_run(src, seed=s) for s in (0, 1)]
    src.analysis("sharpness", {"run": runs[0].name}, lambda: {"value": 1.5}, version=1)
    chunks.export(src, tmp_path / "a.tar.gz")
    return tmp_path / "a.tar.gz"


def _import_and_die(archive, root):
    """An import killed (SIGKILL-like: no cleanup runs) after its journal and one rename."""
    from lbsm.pipeline import chunks

    def move_one_then_die(staging, root, rels, moved):
        real_move_in(staging, root, rels[:1], moved)
        os._exit(9)
    real_move_in = files._move_in
    files._move_in = move_one_then_die
    chunks.import_archive(archive, Store(root))


def test_an_import_killed_half_way_is_finished_by_the_next(tmp_path):
    """Trial: a killed import left half its runs in the store and a hidden .importing-* folder
    that nothing ever removed."""
    from lbsm.pipeline import chunks
    archive = two_run_archive(tmp_path)
    p = mp.get_context("fork").Process(target=_import_and_die, args=(archive, tmp_path / "home"))
    p.start()
    p.join(60)
    assert p.exitcode == 9
    home = Store(tmp_path / "home")
    left = list(home.root.glob(".importing-*"))
    landed = list(home.root.glob("runs/*")) + list(home.root.glob("analyses/*/*"))
    assert len(left) == 1 and (left[0] / files.JOURNAL).is_file() and len(landed) == 1
    out = chunks.import_archive(archive, home)
    assert len(out["resumed"]) == 2 and out["added"] == [] and len(out["kept"]) == 3
    assert len(home.run_dirs()) == 2 and len(list(home.root.glob("analyses/*/*.json"))) == 1
    assert not list(home.root.glob(".importing-*")) and home.verify()["problems"] == []


def test_a_staging_folder_killed_before_its_journal_is_removed(tmp_path):
    staging = tmp_path / ".importing-abc"
    (staging / "runs" / "F1-0123456789abcdef").mkdir(parents=True)
    (staging / "runs" / "F1-0123456789abcdef" / "config.json").write_text("{}")
    assert files.finish_staged(tmp_path, ".importing-") == []
    assert not staging.exists() and not (tmp_path / "runs").exists()


def test_what_a_killed_process_leaves_is_git_ignored():
    out = git("check-ignore", "--no-index", "results/.importing-k2j3/",
              "results/runs/F1-0123456789abcdef/.meta.json.host-12.abc.tmp", "results/.MANIFEST.sha256.h-1.x.tmp")
    assert len(out.splitlines()) == 3


def _leave_a_temp_and_die(folder):
    tempfile.mkstemp(dir=folder, prefix=f".resume.pt.{files._owner()}.", suffix=".tmp")
    os._exit(9)


def test_the_temporary_file_of_a_killed_save_is_removed_by_the_next(tmp_path):
    """Trial: `train --checkpoints` killed while saving left .resume.pt.*.tmp files (hundreds of
    MB for a conv net) that no run ever removed."""
    import torch
    p = mp.get_context("fork").Process(target=_leave_a_temp_and_die, args=(tmp_path,))
    p.start()
    p.join(60)
    dead = list(tmp_path.glob(".resume.pt.*.tmp"))
    assert p.exitcode == 9 and len(dead) == 1
    mine = Path(tempfile.mkstemp(dir=tmp_path, prefix=f".final.pt.{files._owner()}.", suffix=".tmp")[1])
    elsewhere = tmp_path / ".final.pt.otherhost-1.abcd.tmp"   # another machine's, recent: its writer may run
    old = tmp_path / ".epochs.otherhost-1.efgh.tmp"           # another machine's, two days old: stale
    for f in (elsewhere, old):
        f.write_bytes(b"x")
    os.utime(old, (time.time() - 2 * 86400,) * 2)
    files.save_torch({"w": torch.zeros(2)}, tmp_path / "resume.pt")
    assert not dead[0].exists() and not old.exists()
    assert mine.exists() and elsewhere.exists()  # a live writer's and a recent foreign one stay
    assert sorted(p.name for p in tmp_path.glob(".*.tmp")) == sorted([mine.name, elsewhere.name])


def test_two_set_asides_in_one_second_keep_both(tmp_path, monkeypatch):
    """Trial: a file damaged twice in one second (by one process) overwrote its first copy in
    damaged/, the evidence of the first damage lost."""
    store = Store(tmp_path / "r")
    monkeypatch.setattr(time, "strftime", lambda fmt, *a: "20250101T000000")
    path = store.root / "analyses" / "sharpness" / ("0" * 16 + ".json")
    dests = []
    for text in ("first", "second"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        dests.append(store.set_aside(path))
    assert dests[0] != dests[1] and [d.read_text() for d in dests] == ["first", "second"]


def small_archive(tmp_path) -> Path:
    archive = tmp_path / "src" / "small.tar.gz"
    archive.parent.mkdir()
    with tarfile.open(archive, "w:gz") as tar:
        blob = os.urandom(3000)  # incompressible: several parts
        m = tarfile.TarInfo("small/x.bin")
        m.size = len(blob)
        tar.addfile(m, io.BytesIO(blob))
    return archive


def test_reassemble_never_writes_through_a_link(tmp_path):
    """Trial: a hard link under the archive's name in the parts folder made reassemble overwrite
    the file it linked to (outside the folder), and a failed md5 left a joined archive behind."""
    archive = small_archive(tmp_path)
    out = tmp_path / "parts"
    assert len(parts.split(archive, out, part_mb=0.001)) > 1
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    os.link(victim, out / archive.name)
    # a wrong md5 of the whole: refused, nothing written, the link and its file untouched
    listing = (out / parts.PARTS_MD5).read_text().splitlines()
    (out / parts.PARTS_MD5).write_text("\n".join(listing[:-1] + ["0" * 32 + "  " + archive.name]) + "\n")
    with pytest.raises(datadir.DataError, match="after joining.*nothing was written"):
        parts.reassemble(out, tmp_path / "data")
    assert victim.read_text() == "keep me" and not list(out.glob(".*.tmp"))
    (out / parts.PARTS_MD5).write_text("\n".join(listing) + "\n")
    parts.reassemble(out, tmp_path / "data")
    assert victim.read_text() == "keep me"
    assert (out / archive.name).read_bytes() == archive.read_bytes()
    assert (tmp_path / "data" / "small" / "x.bin").stat().st_size == 3000


# --------------------------------------------------------------------------- 5. messages that name things
def test_a_full_disk_while_unpacking_names_the_file_and_the_fix(tmp_path, monkeypatch):
    archive = small_archive(tmp_path)

    def full(self, member, path="", **kw):
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(tarfile.TarFile, "extract", full)
    with pytest.raises(datadir.DataError) as exc:
        datadir.extract_archive(archive, tmp_path / "data")
    text = str(exc.value)
    assert str(tmp_path / "data" / "small" / "x.bin") in text and "disk is full" in text
    assert "free space" in text and "$LBSM_DATA" in text and str(archive) in text


def test_a_full_disk_while_joining_parts_names_the_file(tmp_path, monkeypatch):
    archive = small_archive(tmp_path)
    parts.split(archive, tmp_path / "parts", part_mb=0.001)
    real_fdopen = os.fdopen

    class Full(io.RawIOBase):
        def write(self, b):
            raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(parts.os, "fdopen", lambda fd, mode: (os.close(fd), Full())[1])
    with pytest.raises(datadir.DataError, match=f"{re.escape(str(tmp_path / 'parts' / archive.name))}: the disk is full"):
        parts.reassemble(tmp_path / "parts", tmp_path / "data")
    assert real_fdopen and not list((tmp_path / "parts").glob(".*.tmp"))


def test_a_truncated_archive_names_it_and_says_to_fetch_it_again(tmp_path):
    """Trial: `data stage` of a truncated CIFAR archive ended in a bare EOFError."""
    archive = small_archive(tmp_path)
    archive.write_bytes(archive.read_bytes()[:1500])
    with pytest.raises(datadir.DataError, match=f"{re.escape(str(archive))}: truncated or corrupt archive") as exc:
        datadir.extract_archive(archive, tmp_path / "data")
    assert "again" in str(exc.value)


def test_the_readmes_python_imports(tmp_path):
    """Trial: the README's SLURM example began with `from lbsm import compute`, an ImportError."""
    import inspect
    text = (REPO / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    imports = [line for b in blocks for line in b.splitlines() if re.match(r"(from|import) lbsm", line)]
    assert imports, "the README shows how to import lbsm"
    namespace = {}
    for line in imports:
        exec(line, namespace)  # noqa: S102 - the README's own lines
    if "compute" in namespace:  # the SLURM example's call binds to the function's signature
        inspect.signature(namespace["compute"].compute).bind("all", "paper", executor="dask",
                                                            scheduler="tcp://h:8786")


def test_compute_with_no_data_says_so_and_computes_nothing(capsys, tmp_path, monkeypatch):
    """Trial: with an empty data directory `compute gap --profile cpu` printed "1 parts ready"."""
    monkeypatch.setenv("LBSM_DATA", str(tmp_path / "empty"))
    rc, out, err = run_main(capsys, "compute", "gap", "--profile", "cpu", "--results", tmp_path / "r")
    assert rc == 2 and "parts" not in out
    assert "no data to compute from" in err and "mnist" in err and str(tmp_path / "empty") in err
    assert "python -m lbsm data" in err and not (tmp_path / "r").exists()


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs /proc")
@pytest.mark.parametrize("args, message", [
    (["compute", "gap", "--budget", "60", "--archive", "/proc/x.tar.gz"], "no file can be created in /proc"),
    (["import", "/proc/self/status"], "the file is empty (0 bytes)"),
    (["import", "/proc"], "not a regular file"),
])
def test_a_special_path_fails_the_early_check(capsys, args, message):
    """Trial: `--archive /proc/x.tar.gz` passed the check (the folder exists and says writable)
    and failed after the window's work."""
    rc, _, err = run_main(capsys, *args)
    assert rc == 2 and message in err and "Traceback" not in err


# --------------------------------------------------------------------------- 6. plausible values
def plausible():
    return config_of(), meta_of(), history_rows()


def test_a_plausible_run_passes_and_the_published_runs_do():
    assert validate.run_values_problem(*plausible()) is None
    import pandas as pd
    for d in sorted((REPO / "results" / "runs").glob("*"))[:20]:
        config, meta = (json.loads((d / f).read_text()) for f in ("config.json", "meta.json"))
        assert validate.run_values_problem(config, meta, pd.read_csv(d / "history.csv").to_dict("records")) is None


def _set(i, key, value):
    def change(c, m, h):
        (c if i == "config" else m if i == "meta" else h[i]).__setitem__(key, value)
    return change


@pytest.mark.parametrize("change, message", [
    (_set(1, "train_acc", 123.4), "history.csv: train_acc 123.4 at epoch 1 is outside [0, 100]"),
    (_set(2, "test_acc", -1.0), "history.csv: test_acc -1.0 at epoch 2 is outside [0, 100]"),
    (_set(1, "train_loss", -0.5), "history.csv: train_loss -0.5 at epoch 1 is not a finite number >= 0"),
    (_set(1, "test_loss", math.inf), "history.csv: test_loss inf at epoch 1"),
    (_set(2, "train_loss", math.nan), "history.csv: train_loss nan at epoch 2"),
    (_set(2, "seconds", -3.0), "history.csv: seconds -3.0 at epoch 2"),
    (_set(1, "minibatch_loss", "abc"), "history.csv: minibatch_loss 'abc' at epoch 1"),
    (_set(2, "epoch", 5), "history.csv: 3 rows, epochs 0..5; meta.json says epochs_run 2"),
    (lambda c, m, h: h.pop(), "history.csv: 2 rows, epochs 0..1; meta.json says epochs_run 2"),
    (_set("meta", "epochs_run", 5), "meta.json: epochs_run 5 is outside 0..2 (the config's epochs)"),
    (_set("meta", "epochs_run", True), "meta.json: epochs_run must be a whole number, got True"),
    (_set("meta", "wall_seconds", math.nan), "meta.json: wall_seconds must be a finite number of seconds >= 0"),
    (_set("meta", "n_train", 100), "meta.json: n_train 100 is outside 500..1000"),
    (_set("meta", "status", "ok"), "meta.json: status 'ok' is not allowed"),
    (_set("meta", "stopped_by", "boredom"), "meta.json: stopped_by 'boredom' is not allowed"),
    (_set("config", "batch_size", 0), "config.json: batch_size must be an integer >= 1, got 0"),
    (_set("config", "batch_size", 5000), "config.json: batch_size 5000 is larger than train_subset 1000"),
    (_set("config", "epochs", -1), "config.json: epochs must be an integer >= 0, got -1"),
    (_set("config", "lr", 0.0), "config.json: lr must be a finite number > 0"),
    (_set("config", "stop", "forever"), "config.json: stop 'forever' is not allowed"),
    (_set("config", "seed", -2), "config.json: seed must be an integer >= 0"),
])
def test_each_implausible_value_is_named(change, message):
    config, meta, history = plausible()
    change(config, meta, history)
    assert validate.run_values_problem(config, meta, history) == message or \
        message in (validate.run_values_problem(config, meta, history) or "")


def test_a_diverged_runs_last_epoch_may_hold_a_nan_loss():
    config, meta, history = plausible()
    history[-1].update(train_loss=math.nan, minibatch_loss=math.inf)
    assert validate.run_values_problem(config, meta, history) is not None
    assert validate.run_values_problem(config, {**meta, "status": "diverged"}, history) is None
    history[1]["train_loss"] = math.nan  # an earlier epoch: training would have stopped there
    assert "epoch 1" in validate.run_values_problem(config, {**meta, "status": "diverged"}, history)


def test_import_refuses_a_whole_archive_for_one_implausible_value(tmp_path):
    """Trial: an archive whose run said test_acc 150 % (checksums recomputed) was imported."""
    from lbsm.pipeline import chunks
    src = Store(tmp_path / "src")
    good = write_run(src, seed=0)
    rows = history_rows()
    rows[2]["test_acc"] = 150.0
    bad = write_run(src, seed=1, rows=rows)
    assert src.run_problem(bad) is None  # sealed: only its values give it away
    chunks.export(src, tmp_path / "a.tar.gz")
    home = Store(tmp_path / "home")
    with pytest.raises(ValueError) as exc:
        chunks.import_archive(tmp_path / "a.tar.gz", home)
    text = str(exc.value)
    assert text.startswith(f"{tmp_path / 'a.tar.gz'}: member runs/{bad.name}/history.csv: test_acc 150.0")
    assert "nothing imported" in text and good.name not in text
    assert not home.root.exists() or not any(home.root.glob("runs/*"))
