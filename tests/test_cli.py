import argparse
import io
import json
import os
import subprocess
import sys

import pandas as pd
import pytest

from lbsm import cli
from lbsm.analyses import landscape
from lbsm.core import models
from lbsm.analyses import sharpness
from lbsm.core import data as lbsm_data
from lbsm.core.constants import BN_EVAL_POLICIES, BN_PATH_POLICIES
from lbsm.core.machine import PRECISIONS


def lbsm(*args, env=None, timeout=600):
    return subprocess.run([sys.executable, "-m", "lbsm", *args], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})})


def test_train_then_load_from_store(tmp_path):
    args = ["train", "--net", "F1", "--batch-size", "500", "--epochs", "1", "--train-subset", "1000",
            "--test-subset", "500", "--results", str(tmp_path), "--quiet", "--device", "cpu"]
    first = lbsm(*args)
    assert first.returncode == 0, first.stderr
    assert "done after 1 epochs," in first.stdout and "from the store" not in first.stdout
    second = lbsm(*args)
    assert second.returncode == 0 and "from the store" in second.stdout
    runs = lbsm("runs", "--results", str(tmp_path))
    assert runs.stdout.count("F1-") == 1


#: what `train` of a stored run does without: the task graph, Metric 2.1 (scipy.optimize), the
#: ensembles, Dask (each costs start-up: benchmarks/bench_cli.py)
NOT_FOR_TRAIN = ("lbsm.pipeline.compute", "lbsm.analyses.sharpness", "lbsm.train.ensemble",
                 "scipy.optimize", "dask")


def imported_by(argv, modules):
    """Run ``lbsm.cli.main(argv)`` in a fresh interpreter; its output, and which of ``modules`` it
    imported (the last line)."""
    code = ("import sys\nfrom lbsm import cli\ntry:\n    rc = cli.main(%r)\nexcept SystemExit as e:\n"
            "    rc = e.code\nprint('imported:', *[m for m in %r if m in sys.modules])\n"
            "sys.exit(rc)\n" % (list(argv), tuple(modules)))
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)


def test_train_of_a_stored_run_imports_only_what_it_uses(tmp_path):
    from lbsm.core.store import Store
    from lbsm.train.protocol import TrainConfig, fit
    fit(TrainConfig("F1", 20, epochs=1, train_subset=200, test_subset=100), Store(tmp_path),
        device="cpu", progress=False)
    r = imported_by(["train", "--net", "F1", "--batch-size", "20", "--epochs", "1",
                     "--train-subset", "200", "--test-subset", "100", "--results", str(tmp_path),
                     "--quiet", "--device", "cpu"], NOT_FOR_TRAIN)
    assert r.returncode == 0, r.stderr
    assert "(from the store)" in r.stdout
    assert r.stdout.splitlines()[-1] == "imported:"


def test_help_imports_no_torch():
    r = imported_by(["--help"], ["torch"])
    assert r.returncode == 0 and "usage:" in r.stdout and "train" in r.stdout
    assert r.stdout.splitlines()[-1] == "imported:"


def test_data_check_reports_missing_and_how_to_get_it(tmp_path):
    r = lbsm("data", "check", "mnist", "--data-dir", str(tmp_path))
    assert r.returncode == 1
    assert "missing" in r.stdout and "lbsm data download mnist" in r.stdout


def test_data_check_ok_on_staged_data():
    r = lbsm("data", "check", "mnist", "cifar10")
    assert r.returncode == 0, r.stdout
    assert r.stdout.count("md5 verified") == 2


def test_unknown_network_is_a_usage_error():
    r = lbsm("train", "--net", "F7", "--batch-size", "1")
    assert r.returncode == 2 and "invalid choice: 'F7'" in r.stderr


@pytest.mark.parametrize("cmd", [[], ["train"], ["data"], ["runs"], ["sharpness"], ["interpolate"]])
def test_help(cmd):
    r = lbsm(*cmd, "--help")
    assert r.returncode == 0 and "usage:" in r.stdout


# --------------------------------------------------------------------------- errors, help, runs


def run_main(capsys, *args):
    try:
        rc = cli.main([str(a) for a in args])
    except SystemExit as e:
        rc = e.code
    out, err = capsys.readouterr()
    return rc, out, err


def test_bad_input_end_to_end_is_one_line_without_traceback(tmp_path):
    r = lbsm("train", "--net", "F1", "--batch-size", "100000", "--train-subset", "1000",
             env={"LBSM_RESULTS": str(tmp_path / "results")})
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert r.stderr == ("error: --batch-size 100000 is larger than the training set (1000 examples); "
                        "use a batch size between 1 and 1000 (the paper's large batch is 10% of the "
                        "training set: 100)\n")
    assert not (tmp_path / "results").exists()


def test_unexpected_error_is_one_line_and_debug_shows_it(capsys, monkeypatch):
    def boom(a):
        raise RuntimeError("boom")
    monkeypatch.setattr(cli, "cmd_runs", boom)
    rc, _, err = run_main(capsys, "runs")
    assert rc == 2 and err.startswith("error: RuntimeError: boom") and "--debug" in err
    assert "Traceback" not in err
    with pytest.raises(RuntimeError, match="boom"):
        cli.main(["--debug", "runs"])


def test_errors_of_lbsm_are_their_message():
    from lbsm.core import data
    from lbsm.core.store import DamagedError
    assert cli.error_message(DamagedError("run F1-x is damaged")) == "run F1-x is damaged"
    assert cli.error_message(data.DataError("mnist: missing")) == "mnist: missing"
    assert cli.error_message(KeyError("no run 'x'")) == "no run 'x'"
    assert cli.error_message(RuntimeError("boom")).startswith("RuntimeError: boom (run with")


def test_keyboard_interrupt(capsys, monkeypatch):
    def interrupted(a):
        raise KeyboardInterrupt
    monkeypatch.setattr(cli, "cmd_runs", interrupted)
    rc, _, err = run_main(capsys, "runs")
    assert rc == 130 and err == "interrupted\n"


def _subparsers():
    p = cli.parser()
    return next(a for a in p._actions if isinstance(a, argparse._SubParsersAction)).choices


def test_every_option_is_described_with_its_default():
    for cmd, sp in {"": cli.parser(), **_subparsers()}.items():
        for act in sp._actions:
            if isinstance(act, (argparse._HelpAction, argparse._SubParsersAction)):
                continue
            assert act.help, f"{cmd} {act.dest}: no help"
            shown = cli.HelpFormatter("x")._get_help_string(act)
            if act.default is not None and act.default is not False:
                assert "default" in shown, f"{cmd} {act.dest}: default not shown"
        text = sp.format_help()
        assert "(default: " in text or cmd in ("", "runs")


def test_choices_come_from_the_package():
    subs = _subparsers()

    def choices(cmd, dest):
        return list(next(a for a in subs[cmd]._actions if a.dest == dest).choices)
    assert choices("train", "net") == list(models.NETWORKS)
    assert choices("train", "bn") == list(BN_EVAL_POLICIES)
    assert choices("train", "precision") == list(PRECISIONS)
    assert choices("sharpness", "subspace_kind") == list(sharpness.SUBSPACE_KINDS)
    assert choices("sharpness", "bn") == list(BN_EVAL_POLICIES)
    assert choices("interpolate", "kind") == list(landscape.KINDS)
    assert choices("interpolate", "bn") == list(BN_PATH_POLICIES)
    assert all(n in subs["data"].format_help() for n in lbsm_data.DATASETS)


def test_train_precision_defaults_to_the_papers_fp32():
    assert cli.parser().parse_args(["train", "--net", "F1", "--batch-size", "1"]).precision == "fp32"


def _fake_run(root, seed=0, history="epoch,train_loss,train_acc,test_loss,test_acc\n1,0.5,90.0,0.6,88.5\n"):
    """A run written as lbsm.train.publish writes one (checksums, key), without training."""
    from lbsm.core.files import sha256
    from lbsm.core.records import RUN_FILES, config_key, seal_meta
    config = dict(net="F1", batch_size=256, seed=seed, epochs=1, stop="epochs", train_subset=1000,
                  test_subset=None, precision="fp32", lr=1e-3, bn_eval="batch", method="adam",
                  augment=False, init=None)
    d = root / "runs" / f"F1-{config_key(config)}"
    d.mkdir(parents=True)
    (d / "config.json").write_text(json.dumps(config))
    (d / "history.csv").write_text(history)
    meta = dict(status="done", epochs_run=1, wall_seconds=1.5, precision="fp32",
                sha256={f: sha256(d / f) for f in RUN_FILES})
    (d / "meta.json").write_text(json.dumps(seal_meta(meta)))
    return d.name


def test_runs_csv_with_final_accuracies(capsys, tmp_path):
    good = _fake_run(tmp_path)
    bad = _fake_run(tmp_path, seed=1, history="not,a\nhistory")
    rc, out, err = run_main(capsys, "runs", "--csv", "--results", tmp_path)
    assert rc == 0, err
    df = pd.read_csv(io.StringIO(out))
    assert list(df.columns) == list(cli.RUN_COLUMNS)
    a = df.set_index("run").loc[good]
    assert (a.train_acc, a.test_acc, a.status, a.precision) == (90.0, 88.5, "done", "fp32")
    # an unreadable history: the run is left out of the listing and named on stderr
    assert bad not in out and bad in err and "history.csv" in err
    rc, out, _ = run_main(capsys, "runs", "--results", tmp_path)
    assert rc == 0 and good in out and "88.5" in out


def test_runs_on_an_empty_store(capsys, tmp_path):
    rc, out, err = run_main(capsys, "runs", "--csv", "--results", tmp_path)
    assert rc == 0 and out == "" and "no runs" in err
