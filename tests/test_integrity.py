"""Issue 15: integrity that cannot be switched off. One regression test per failing trial of the
issue (adversarial and new-user): nothing forged, mismatched or stale is served, nothing is
written outside its folder, a second user of a shared store loses nothing, and every bad value is
one clear error naming the value or file."""
import io
import json
import multiprocessing as mp
import os
import shutil
import stat
import tarfile

import pytest

from lbsm import book
from lbsm.pipeline import chunks
from lbsm import cli
from lbsm.core import data
from lbsm.train import protocol as train
from lbsm.core.files import load_torch, save_torch, write_atomic
from lbsm.core.manifest import MANIFEST
from lbsm.core.store import DamagedError, Store, StoreAccessError

SMALL = dict(epochs=1, train_subset=1000, test_subset=200, precision="fp32")


@pytest.fixture(scope="module")
def pristine(tmp_path_factory, mnist):
    """Two finished runs (seeds 0 and 1) and one analysis of the first."""
    root = tmp_path_factory.mktemp("pristine") / "r"
    store = Store(root)
    runs = [train.fit(train.TrainConfig("F1", 500, seed=s, **SMALL), store, dataset=mnist,
                      progress=False) for s in (0, 1)]
    store.analysis("sharpness", {"run": runs[0].name}, lambda: {"value": 1.5, "f0": 0.25}, version=1)
    return root, [r.name for r in runs]


@pytest.fixture
def store(pristine, tmp_path):
    shutil.copytree(pristine[0], tmp_path / "r")
    return Store(tmp_path / "r")


def run_main(capsys, *args):
    try:
        rc = cli.main([str(a) for a in args])
    except SystemExit as e:  # argparse's usage errors
        rc = e.code
    out, err = capsys.readouterr()
    return rc, out, err


def edit_json(path, change):
    d = json.loads(path.read_text())
    change(d)
    path.write_text(json.dumps(d))


def forge_test_acc(path, value="12.34"):
    lines = path.read_text().splitlines()
    head, last = lines[0].split(","), lines[-1].split(",")
    last[head.index("test_acc")] = value
    path.write_text("\n".join(lines[:-1] + [",".join(last)]) + "\n")


# --------------------------------------------------------------------------- checksums required
def test_an_analysis_without_its_checksum_is_not_served(store, pristine):
    """Trial: deleting an analysis' sha256 let an edited value be served (Table 3: 99.99)."""
    params = {"run": pristine[1][0]}
    path = store.analysis_path("sharpness", params, 1)
    edit_json(path, lambda r: (r.pop("sha256"), r["value"].update(value=99.99)))
    with pytest.warns(UserWarning, match="sha256"):
        value = store.analysis("sharpness", params, lambda: {"value": 1.5, "f0": 0.25}, version=1)
    assert value["value"] == 1.5 and len(list(store.root.glob("damaged/analyses/sharpness/*"))) == 1


def test_a_run_without_its_checksums_is_not_served(store, pristine, mnist):
    """Trial: deleting sha256 from meta.json let an edited history.csv be served (12.34 %)."""
    path = store.root / "runs" / pristine[1][0]
    edit_json(path / "meta.json", lambda m: m.pop("sha256"))
    forge_test_acc(path / "history.csv")
    with pytest.raises(DamagedError, match="sha256"):
        train.Run.load(path, store)
    run = train.fit(train.TrainConfig("F1", 500, seed=0, **SMALL), store, dataset=mnist,
                    progress=False)
    assert run.final["test_acc"] != 12.34


def test_a_forged_meta_json_is_not_served(store, pristine):
    """Trial: a forged "NVIDIA H100, fp32" in meta.json was served (meta.json had no checksum)."""
    path = store.root / "runs" / pristine[1][0]
    edit_json(path / "meta.json", lambda m: m.update(device="NVIDIA H100", precision="fp32"))
    assert "meta.json: checksum mismatch" in store.run_problem(path)
    assert pristine[1][0] not in set(store.runs()["run"])


def test_an_unsealed_run_is_reported_and_left_in_place(store, pristine, mnist):
    """meta.json without meta_sha256 (code before it, or the field deleted): not served, not moved,
    not retrained; the message names the one command that seals a trusted store."""
    path = store.root / "runs" / pristine[1][0]
    edit_json(path / "meta.json", lambda m: m.pop("meta_sha256"))
    with pytest.raises(DamagedError, match="--write-manifest"):
        train.fit(train.TrainConfig("F1", 500, seed=0, **SMALL), store, dataset=mnist, progress=False)
    assert path.is_dir() and not (store.root / "damaged").exists()


def test_a_run_filed_under_another_configs_key_is_damage(store, pristine, mnist):
    """Trial: a run under another config's key was served for that config."""
    a, b = (store.root / "runs" / n for n in pristine[1])
    shutil.rmtree(b)
    shutil.copytree(a, b)  # seed 0's files, filed under seed 1's key
    assert "filed as" in store.run_problem(b)
    run = train.fit(train.TrainConfig("F1", 500, seed=1, **SMALL), store, dataset=mnist,
                    progress=False)
    assert run.config.seed == 1 and json.loads((b / "config.json").read_text())["seed"] == 1


@pytest.mark.parametrize("meta", ["[1, 2]", '{"epochs_run": "two"}', '"text"'])
def test_a_meta_json_of_the_wrong_shape_is_set_aside_not_a_crash(store, pristine, capsys, meta):
    """Trial: a meta.json that is a list, or with "epochs_run": "two", crashed `runs` and `train`
    for the whole store."""
    path = store.root / "runs" / pristine[1][0]
    (path / "meta.json").write_text(meta)
    rc, out, err = run_main(capsys, "runs", "--results", store.root)
    assert rc == 0 and pristine[1][1] in out and pristine[1][0] in err
    with pytest.raises(DamagedError, match="meta.json"):
        train.Run.load(path, store)
    assert not path.exists() and (store.root / "damaged" / "runs").is_dir()


def test_a_stray_empty_analysis_is_left_out_of_the_listing(store):
    """Trial: a stray {} among the analyses made `compute --dry-run` die with "error: kind"."""
    (store.root / "analyses" / "sharpness" / ("0" * 16 + ".json")).write_text("{}")
    df = store.analyses()
    assert len(df) == 1 and "0" * 16 in df.attrs["damaged"][0]
    assert chunks._stored(store, "sharpness", "run")


# --------------------------------------------------------------------------- manifest
def test_verify_and_the_manifest_name_every_changed_file(store, pristine, capsys):
    rc, out, err = run_main(capsys, "runs", "--results", store.root, "--write-manifest")
    assert rc == 0 and (store.root / MANIFEST).is_file()
    assert run_main(capsys, "runs", "--results", store.root, "--verify")[0] == 0
    # a file changed with consistent checksums still differs from the manifest
    hist = store.root / "runs" / pristine[1][1] / "history.csv"
    hist.write_text(hist.read_text() + "\n")
    rc, out, err = run_main(capsys, "runs", "--results", store.root, "--verify")
    assert rc == 1 and "history.csv" in err
    # book run refuses to render from it, naming the file
    os.environ["LBSM_RESULTS"] = str(store.root)
    with pytest.raises(ValueError, match="history.csv"):
        book.verify_store(log=lambda *_: None)


def test_a_manifest_line_outside_the_store_is_refused(store, capsys):
    (store.root / MANIFEST).write_text(f"{'0' * 64}  ../../etc/passwd\n")
    rc, out, err = run_main(capsys, "runs", "--results", store.root, "--verify")
    assert rc == 1 and "line 1" in err


# --------------------------------------------------------------------------- stale analyses
def test_a_retrained_run_takes_its_analyses_with_it(store, pristine, mnist):
    """Trial: after a damaged run was retrained, analyses of its old weights were still served
    (two f0 values for one minimizer in Table 3)."""
    name = pristine[1][0]
    (store.root / "runs" / name / "history.csv").write_text("epoch\n0\n")
    params = {"run": name}
    with pytest.warns(UserWarning):
        train.fit(train.TrainConfig("F1", 500, seed=0, **SMALL), store, dataset=mnist, progress=False)
    assert not store.has_analysis("sharpness", params, 1)
    assert store.analysis("sharpness", params, lambda: {"value": 2.0, "f0": 0.5}, version=1)["f0"] == 0.5


def test_weights_remade_differently_make_the_analyses_stale(store, pristine, mnist, monkeypatch):
    """restore_weights on a machine whose rounding differs: the stored analyses were computed from
    other weights and are set aside; on the same machine (identical history) they stay."""
    run = train.Run.load(store.root / "runs" / pristine[1][0], store)
    shutil.rmtree(run.weights)
    run.state(restore=True)
    assert store.has_analysis("sharpness", {"run": run.name}, 1)  # same history: same weights
    shutil.rmtree(run.weights)
    real = train._train

    def other_rounding(*a, **k):  # other weights, hence another history
        history, meta = real(*a, **k)
        f = store.weights_dir(run.name) / "final.pt"
        save_torch({k: v + 1e-6 if v.is_floating_point() else v for k, v in load_torch(f).items()}, f)
        return history.assign(train_loss=history.train_loss + 1e-6), meta
    monkeypatch.setattr(train, "_train", other_rounding)
    with pytest.warns(UserWarning, match="stale"):
        run.state(restore=True)
    assert not store.has_analysis("sharpness", {"run": run.name}, 1)


# --------------------------------------------------------------------------- archives
def archive_of(store, tmp_path, name="chunk.tar.gz"):
    chunks.export(store, tmp_path / name)
    return tmp_path / name


def rewrite(archive, change):
    """The archive with member ``name`` replaced by ``change(name, bytes)`` (None: dropped)."""
    with tarfile.open(archive) as tar:
        members = [(m, tar.extractfile(m).read()) for m in tar if m.isreg()]
    with tarfile.open(archive, "w:gz") as tar:
        for m, blob in members:
            blob = change(m.name, blob)
            if blob is not None:
                m.size = len(blob)
                tar.addfile(m, io.BytesIO(blob))


@pytest.mark.parametrize("what", ["other key", "no checksums", "edited history", "analysis list",
                                  "analysis other key"])
def test_import_verifies_every_run_and_analysis_first(store, tmp_path, what, pristine):
    """Trials: import accepted a run under another config's key, runs without checksums, an edited
    history (1.00 %, served), an "analysis" that is a JSON list."""
    archive = archive_of(store, tmp_path)
    a, b = pristine[1]

    def change(name, blob):
        if what == "other key" and name.startswith(f"runs/{b}/"):
            return (store.root / "runs" / a / name.rsplit("/", 1)[1]).read_bytes()
        if what == "no checksums" and name.endswith("meta.json"):
            meta = json.loads(blob)
            meta.pop("sha256")
            return json.dumps(meta).encode()
        if what == "edited history" and name.endswith("history.csv"):
            return blob[:-2] + (b"1\n" if blob[-2:] != b"1\n" else b"2\n")  # the last value
        if what == "analysis list" and name.startswith("analyses/"):
            return b"[1, 2, 3]"
        if what == "analysis other key" and name.startswith("analyses/"):
            rec = json.loads(blob)
            rec["params"]["run"] = b
            from lbsm.core.store import seal_record
            return json.dumps(seal_record(rec)).encode()
        return blob
    rewrite(archive, change)
    home = Store(tmp_path / "home")
    with pytest.raises(ValueError, match=f"{archive}: member") as exc:
        chunks.import_archive(archive, home)
    assert "nothing imported" in str(exc.value)
    assert not any(home.root.glob("runs/*")) and not any(home.root.glob("analyses/*/*"))


def test_an_archive_bomb_is_refused_before_unpacking(tmp_path, monkeypatch):
    """Trial: a 300 KB archive expanded to 300 MB before any check (here: the limits scaled down)."""
    monkeypatch.setattr(chunks, "MAX_TOTAL_BYTES", 2**20)
    archive = tmp_path / "bomb.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        blob = b"\0" * (2 * 2**20)
        m = tarfile.TarInfo("analyses/sharpness/" + "0" * 16 + ".json")
        m.size = len(blob)
        tar.addfile(m, io.BytesIO(blob))
    assert archive.stat().st_size < 20_000
    with pytest.raises(ValueError, match="refused before unpacking"):
        chunks.import_archive(archive, Store(tmp_path / "home"))


@pytest.mark.parametrize("member", ["../evil.json", "runs/F1-0000000000000000/x.pt", "weights/a"])
def test_import_refuses_names_an_export_never_holds(tmp_path, member):
    archive = tmp_path / "a.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        m = tarfile.TarInfo(member)
        m.size = 2
        tar.addfile(m, io.BytesIO(b"{}"))
    with pytest.raises(ValueError, match="member"):
        chunks.import_archive(archive, Store(tmp_path / "home"))
    assert not (tmp_path / "evil.json").exists()


@pytest.mark.parametrize("damage", ["truncated", "not gzip", "missing"])
def test_a_broken_archive_is_named(store, tmp_path, damage):
    """Trial: a truncated or non-gzip archive gave EOFError or a ReadError without its name."""
    archive = archive_of(store, tmp_path)
    if damage == "truncated":
        archive.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
    elif damage == "not gzip":
        archive.write_bytes(b"PK\3\4 a zip file")
    else:
        archive.unlink()
    with pytest.raises(ValueError, match=str(archive)):
        chunks.import_archive(archive, Store(tmp_path / "home"))


def _import(archive, root, out):
    try:
        res = chunks.import_archive(archive, Store(root))
        out.put(("ok", len(res["added"])))
    except Exception as exc:  # noqa: BLE001 - reported to the parent
        out.put(("error", repr(exc)))


def test_two_concurrent_imports_of_one_archive(store, tmp_path):
    """Trial: two concurrent imports crashed one every time and once left a `.importing` folder
    that `runs` listed as a run."""
    archive = archive_of(store, tmp_path)
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    procs = [ctx.Process(target=_import, args=(archive, tmp_path / "home", q)) for _ in range(2)]
    for p in procs:
        p.start()
    results = [q.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(60)
    assert sorted(r[0] for r in results) == ["ok", "ok"]
    assert sorted(r[1] for r in results) == [0, 3]  # two runs and one analysis, added once
    home = Store(tmp_path / "home")
    assert len(home.runs()) == 2 and not list(home.root.glob(".importing*"))
    assert not [p for p in home.root.rglob("*") if "importing" in p.name]


# --------------------------------------------------------------------------- shared stores
def test_store_files_are_readable_as_the_umask_allows(store, pristine, tmp_path):
    """Trial: files written 0600 made a second user see intact runs as damaged."""
    old = os.umask(0o022)
    try:
        write_atomic(tmp_path / "f.json", b"{}")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "f.json").stat().st_mode) == 0o644
    from lbsm.core.store import _umask
    for f in (store.root / "runs" / pristine[1][0]).iterdir():  # written under this umask
        assert stat.S_IMODE(f.stat().st_mode) == 0o666 & ~_umask(), f


def test_a_read_only_store_names_the_damaged_file_and_moves_nothing(store, pristine, monkeypatch):
    """Trial: on a read-only store with one damaged run the error named damaged/, not the file."""
    path = store.root / "runs" / pristine[1][0]
    forge_test_acc(path / "history.csv")
    os.chmod(store.root / "runs", 0o555)
    if os.geteuid() == 0:  # root ignores file permissions: the rename fails as it would for a user
        def denied(src, dst):
            raise PermissionError(13, "Permission denied", str(src))
        monkeypatch.setattr(os, "replace", denied)
    try:
        with pytest.raises(StoreAccessError, match="history.csv") as exc:
            train.Run.load(path, store)
        assert "Nothing was moved" in str(exc.value) and path.is_dir()
    finally:
        os.chmod(store.root / "runs", 0o755)


def test_a_permission_problem_is_not_damage(store, pristine, monkeypatch):
    """A user who may not read a file gets StoreAccessError; nothing is set aside."""
    from lbsm.core import store as store_mod
    real = store_mod.load_json

    def denied(path):
        if str(path).endswith("meta.json"):
            raise PermissionError(13, "Permission denied", str(path))
        return real(path)
    monkeypatch.setattr(store_mod, "load_json", denied)
    with pytest.raises(StoreAccessError, match="meta.json"):
        store.check_run(store.root / "runs" / pristine[1][0])
    assert not (store.root / "damaged").exists()
    assert store.runs().attrs["unreadable"]


# --------------------------------------------------------------------------- data in parts
def make_parts(tmp_path):
    src = tmp_path / "src" / "cifar-10-batches-py"
    src.mkdir(parents=True)
    (src / "data").write_bytes(b"x" * 3000)
    with tarfile.open(tmp_path / "x.tar.xz", "w:xz") as tar:
        tar.add(src, arcname="cifar-10-batches-py")
    data.split(tmp_path / "x.tar.xz", tmp_path / "parts", part_mb=0.001)
    return tmp_path / "parts" / data.PARTS_MD5


@pytest.mark.parametrize("name", ["../../victim", "/tmp/victim-abs", "sub/x"])
def test_reassemble_writes_only_inside_its_folder(tmp_path, name):
    """Trial: `data reassemble` wrote where parts.md5 said (../../x, an absolute path)."""
    listing = make_parts(tmp_path)
    lines = listing.read_text().splitlines()
    lines[-1] = f"{lines[-1].split()[0]}  {name}"
    listing.write_text("\n".join(lines) + "\n")
    victim = tmp_path / "victim"
    victim.write_text("keep")
    with pytest.raises(data.DataError, match="line"):
        data.reassemble(tmp_path / "parts", tmp_path / "data")
    assert victim.read_text() == "keep" and not (tmp_path / "data").exists()


@pytest.mark.parametrize("text", ["", "garbage\n", "0123  only-one-field-but-bad-md5\n"])
def test_an_empty_or_garbled_parts_md5_is_named(tmp_path, text):
    """Trial: an empty or garbled parts.md5 gave "not enough values to unpack"."""
    listing = make_parts(tmp_path)
    listing.write_text(text)
    with pytest.raises(data.DataError, match="parts.md5"):
        data.reassemble(tmp_path / "parts", tmp_path / "data")


def test_the_offline_hint_names_what_is_read(tmp_path, monkeypatch):
    """Trial: the offline download hint named a file nothing reads (the CIFAR archive)."""
    import urllib.request

    def offline(*a, **k):
        raise OSError("network unreachable")
    monkeypatch.setattr(urllib.request, "urlopen", offline)
    with pytest.raises(data.DataError, match="unpack it into") as exc:
        data.fetch("cifar10", tmp_path)
    assert "tar xzf" in str(exc.value)


# --------------------------------------------------------------------------- values where they enter
@pytest.mark.parametrize("args,message", [
    (["train", "--net", "F1", "--batch-size", "8", "--seed", str(2**62)], "--seed"),
    (["train", "--net", "F1", "--batch-size", "8", "--seeds", "0", str(2**40)], "--seeds"),
    (["train", "--net", "F1", "--batch-size", "8", "--epochs", str(10**19)], "--epochs"),
    (["sharpness", "x", "--seed", str(2**64)], "--seed"),
    (["compute", "gap", "--archive", "x.tar.gz"], "--archive only works with --budget"),
    (["compute", "gap", "--budget", "60", "--dry-run", "--archive", "x.tar.gz"], "--archive"),
    (["compute", "gap", "--scheduler", "tcp://h:8786"], "--scheduler only works with --executor dask"),
    (["compute", "gap", "--workers", "2"], "--workers only works"),
    (["compute", "gap", "--cost", "C1@256=1"], "--cost only works"),
    (["compute", "gap", "--selftest"], "--selftest only works"),
    (["compute", "gap", "--budget", "60", "--require-cuda"], "--require-cuda only works with --selftest"),
    (["compute", "gap", "--budget", "60", "--archive", "/no/such/dir/x.tar.gz"], "does not exist"),
    (["compute", "gap", "--budget", "60", "--archive", "chunk.zip"], "must end in .tar.gz"),
    (["runs", "--results", ""], "--results: is empty"),
    (["train", "--net", "F1", "--batch-size", "8", "--ensemble"], "--ensemble trains several"),
    (["sharpness", "x", "--subspace-kind", "uniform"], "--subspace-kind uniform only works"),
])
def test_bad_values_are_refused_where_they_enter(capsys, args, message):
    rc, out, err = run_main(capsys, *args)
    assert rc == 2 and message in err and "Traceback" not in err


@pytest.mark.parametrize("cost", ["C1@256=abc", "C1@256=nan", "C1@256=-5", "C1@256=inf", "C1@0=1"])
def test_a_cost_must_be_finite_and_positive(capsys, tmp_path, cost):
    """Trial: --cost X=abc gave a raw float error; nan, -5 and inf were accepted."""
    rc, out, err = run_main(capsys, "compute", "all", "--budget", "60", "--dry-run",
                            "--results", tmp_path, "--cost", cost)
    assert rc == 2 and "--cost" in err and cost.split("=")[0] in err


def test_archive_path_is_checked_before_the_work(capsys, tmp_path, monkeypatch):
    """Trial: `compute --budget ... --archive PATH` checked PATH after the window's work."""
    monkeypatch.setattr(chunks, "plan", lambda *a, **k: pytest.fail("planned before the check"))
    rc, out, err = run_main(capsys, "compute", "all", "--budget", "60", "--cost", "C1@256=1",
                            "--results", tmp_path / "r", "--archive", tmp_path / "none" / "a.tar.gz")
    assert rc == 2 and "none" in err


def test_run_names_must_name_one_run_and_two_different_runs(store, pristine, capsys):
    """Trials: `sharpness ''` picked the only run; `interpolate X X` printed a flat curve."""
    solo = Store(store.root.parent / "solo")
    shutil.copytree(store.root / "runs" / pristine[1][0], solo.root / "runs" / pristine[1][0])
    rc, out, err = run_main(capsys, "sharpness", "", "--results", solo.root)
    assert rc == 2 and "empty" in err
    rc, out, err = run_main(capsys, "interpolate", pristine[1][0], pristine[1][0],
                            "--results", store.root)
    assert rc == 2 and "same run" in err


@pytest.mark.parametrize("var", ["LBSM_RESULTS", "LBSM_DATA", "LBSM_WEIGHTS"])
@pytest.mark.parametrize("value", ["", "file"])
def test_an_environment_folder_that_is_empty_or_a_file(capsys, tmp_path, monkeypatch, var, value):
    """Trials: LBSM_RESULTS pointing at a file gave "no runs" or a raw ENOTDIR; with LBSM_DATA
    empty, compute reported success while the chapter showed "needs data"."""
    if value == "file":
        value = str(tmp_path / "f")
        (tmp_path / "f").write_text("")
    monkeypatch.setenv(var, value)
    rc, out, err = run_main(capsys, "runs")
    assert rc == 2 and f"${var}" in err and "Traceback" not in err


def test_a_full_disk_names_the_path(tmp_path, monkeypatch):
    """Trial: a full disk said only "No space left on device", with no path."""
    import errno

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(OSError, match=r"No space left on device while writing .*meta\.json.*free"):
        write_atomic(tmp_path / "meta.json", b"{}")
    assert list(tmp_path.iterdir()) == []


def test_runs_into_a_closed_pipe_exits_quietly(store):
    """Trial: `runs | head` printed a broken-pipe error and exited 2."""
    import subprocess
    import sys
    p = subprocess.Popen([sys.executable, "-m", "lbsm", "runs", "--results", str(store.root)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         env={**os.environ, "OMP_NUM_THREADS": "1"})
    p.stdout.close()  # the reader went away before the first line
    err = p.stderr.read().decode()
    assert p.wait(120) == 0 and "Broken pipe" not in err and "Traceback" not in err


def test_book_refuses_a_profile_parameter_that_contradicts_the_profile():
    """Trial: `lbsm.book run --profile smoke -p profile=paper` ran paper while logging smoke."""
    with pytest.raises(ValueError, match="-p profile=paper contradicts --profile smoke"):
        book.check_parameters("smoke", {"profile": "paper"})
    book.check_parameters("smoke", {"profile": "smoke", "seeds": 2})
    assert book.run_cli(["run", "--profile", "smoke", "-p", "profile=paper", "-c", "gap"]) == 2


def test_a_dry_run_measures_a_slice_on_the_cpu(monkeypatch):
    """Trial: `compute all --profile paper --budget 540 --dry-run` without --cost timed C2 steps
    at B = 5000 on the CPU for more than 10 minutes: the steps now run on a slice and are scaled."""
    from lbsm.core import data as lbsm_data
    import torch
    seen = []
    real = train.adam_step

    def step(model, opt, xb, yb, cfg):
        seen.append(len(xb))
        return real(model, opt, xb, yb, cfg)
    monkeypatch.setattr(train, "adam_step", step)
    g = torch.Generator().manual_seed(0)
    x = torch.rand(6000, 784, generator=g)
    ds = lbsm_data.Dataset("mnist", x, torch.randint(0, 10, (6000,), generator=g), x[:1000],
                           torch.zeros(1000, dtype=torch.long), 10)
    monkeypatch.setattr(lbsm_data, "load", lambda *a, **k: ds)
    cost = chunks.Cost.measure([("F1", 6000)], device="cpu", steps=2)
    assert max(seen) == 256 and cost.epoch_seconds["F1@6000"] > 0
