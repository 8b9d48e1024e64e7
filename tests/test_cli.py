import os
import subprocess
import sys

import pytest


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
