"""Bad input is refused where it enters: lbsm.validate, and the CLI (exit 2, no traceback, nothing
written to the results store)."""
import math

import numpy as np
import pytest
import torch

from lbsm.core import data as D
from lbsm.core import validate as V
from lbsm.cli import main


# --------------------------------------------------------------------------- lbsm.validate
@pytest.mark.parametrize("value", [0, -3, "0", "-3"])
def test_positive_int_rejects_zero_and_negative(value):
    with pytest.raises(ValueError, match=r"^epochs must be an integer >= 1, got -?\d+; pass a value of 1"):
        V.positive_int("epochs", value)


@pytest.mark.parametrize("value", ["1.5", "ten", 2.0, True, None])
def test_positive_int_rejects_non_integers(value):
    with pytest.raises(ValueError, match="epochs must be a whole number"):
        V.positive_int("epochs", value)


def test_int_checks_accept_and_convert():
    assert V.positive_int("n", "7") == 7 and V.positive_int("n", np.int64(3)) == 3
    assert V.non_negative_int("seed", 0) == 0
    assert V.at_least("points", "2", 2) == 2


def test_non_negative_int_rejects_negative_seed():
    with pytest.raises(ValueError, match="seed must be an integer >= 0, got -1"):
        V.non_negative_int("seed", -1)


@pytest.mark.parametrize("value", [0, -10])
def test_optional_subset_rejects_non_positive(value):
    with pytest.raises(ValueError, match=r"train_subset must be >= 1 .*leave it out to use every"):
        V.optional_subset("train_subset", value)


def test_optional_subset_rejects_more_than_available():
    with pytest.raises(ValueError, match=r"must be between 1 and 60000 \(the size of the set\), got 60001"):
        V.optional_subset("--train-subset", 60001, available=60000)
    assert V.optional_subset("--train-subset", None, 10) is None
    assert V.optional_subset("--train-subset", "10", 10) == 10


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, "nan", "inf", 0, 0.0, -1e-3])
def test_finite_positive_float_rejects(value):
    with pytest.raises(ValueError, match="eps must be a finite number > 0.*pass a positive number"):
        V.finite_positive_float("eps", value)


def test_finite_positive_float_rejects_text_and_accepts_numbers():
    with pytest.raises(ValueError, match="eps must be a number, got 'abc'"):
        V.finite_positive_float("eps", "abc")
    assert V.finite_positive_float("eps", "1e-3") == 1e-3


def test_batch_larger_than_training_set_names_both_numbers():
    with pytest.raises(ValueError) as e:
        V.batch_size(100000, 1000)
    msg = str(e.value)
    assert "--batch-size 100000 is larger than the training set (1000 examples)" in msg
    assert "between 1 and 1000" in msg
    assert V.batch_size(1000, 1000) == 1000 and V.batch_size("5", None) == 5
    with pytest.raises(ValueError, match="--batch-size must be an integer >= 1"):
        V.batch_size(0, 1000)


def test_choice():
    assert V.choice("--kind", "linear", ("linear", "curvilinear")) == "linear"
    with pytest.raises(ValueError, match="--kind 'cubic' is not allowed; choose one of linear, curvilinear"):
        V.choice("--kind", "cubic", ("linear", "curvilinear"))


@pytest.mark.parametrize("value", ["banana", "gpu", "cpu:0", "cuda:x", "cuda:-1", ""])
def test_device_unknown_lists_the_choices(value):
    with pytest.raises(ValueError, match=r"is not a device; choose cpu, cuda or cuda:N"):
        V.device(value)


def test_device_cpu():
    assert V.device("cpu") == "cpu"


def test_device_cuda_on_a_cpu_only_build(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.version, "cuda", None)
    with pytest.raises(ValueError, match=r"--device cuda: this torch build has no CUDA support "
                                         r".*use --device cpu"):
        V.device("cuda")


def test_device_cuda_on_a_machine_without_gpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.version, "cuda", "12.4")
    with pytest.raises(ValueError, match=r"this machine has no usable CUDA GPU .*use --device cpu"):
        V.device("cuda:0")


def test_device_cuda_index_beyond_device_count(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert V.device("cuda") == "cuda" and V.device("cuda:1") == "cuda:1"
    with pytest.raises(ValueError, match=r"--device cuda:2: this machine has 2 CUDA device\(s\), "
                                         r"cuda:0 to cuda:1"):
        V.device("cuda:2")


def test_directory_and_writable_file(tmp_path):
    f = tmp_path / "f.txt"
    f.write_text("x")
    with pytest.raises(ValueError, match="is a file, not a directory"):
        V.directory("--results", f)
    with pytest.raises(ValueError, match="no such directory"):
        V.directory("--shared", tmp_path / "nope", must_exist=True)
    assert V.directory("--results", tmp_path / "new") == str(tmp_path / "new")
    with pytest.raises(ValueError, match="does not exist; create it first"):
        V.writable_file("--out", tmp_path / "nope" / "x.csv")
    with pytest.raises(ValueError, match="is a directory"):
        V.writable_file("--out", tmp_path)


# --------------------------------------------------------------------------- the CLI
def cli(capsys, *args):
    """Run ``python -m lbsm ARGS`` in this process: (exit status, stdout, stderr)."""
    try:
        rc = main([str(a) for a in args])
    except SystemExit as e:  # argparse's usage errors
        rc = e.code
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return rc, out, err


@pytest.fixture
def results(tmp_path, monkeypatch):
    """An empty results store in $LBSM_RESULTS (not created: a rejected command must not create it)."""
    root = tmp_path / "results"
    monkeypatch.setenv("LBSM_RESULTS", str(root))
    return root


@pytest.fixture
def timit(tmp_path, monkeypatch, timit_writer):
    root = timit_writer(tmp_path / "data")
    monkeypatch.setenv("LBSM_DATA", str(root))
    yield root
    D._load_cpu.cache_clear()


TRAIN = ["train", "--net", "F1", "--batch-size", "100", "--quiet", "--device", "cpu"]


@pytest.mark.parametrize("args, message", [
    (["--train-subset", "-10"], "argument --train-subset: must be >= 1"),
    (["--train-subset", "0"], "argument --train-subset: must be >= 1"),
    (["--test-subset", "0"], "argument --test-subset: must be >= 1"),
    (["--epochs", "-1"], "argument --epochs: must be an integer >= 1, got -1"),
    (["--epochs", "0"], "argument --epochs: must be an integer >= 1, got 0"),
    (["--seed", "-1"], "argument --seed: must be an integer >= 0, got -1"),
    (["--device", "banana"], "argument --device: 'banana' is not a device; choose cpu, cuda or cuda:N"),
    (["--precision", "fp16"], "argument --precision: invalid choice: 'fp16'"),
    (["--bn", "magic"], "argument --bn: invalid choice: 'magic'"),
])
def test_train_rejects_bad_options(capsys, results, args, message):
    rc, out, err = cli(capsys, *TRAIN, *args)
    assert rc == 2 and message in err
    assert not results.exists()


def test_train_rejects_batch_zero(capsys, results):
    rc, _, err = cli(capsys, "train", "--net", "F1", "--batch-size", "0")
    assert rc == 2 and "argument --batch-size: must be an integer >= 1, got 0" in err
    assert not results.exists()


def test_train_rejects_batch_larger_than_the_subset(capsys, results):
    rc, out, err = cli(capsys, "train", "--net", "F1", "--batch-size", "100000", "--train-subset",
                       "1000", "--device", "cpu")
    assert rc == 2
    assert err.startswith("error: --batch-size 100000 is larger than the training set (1000 examples)")
    assert "between 1 and 1000" in err
    assert not results.exists()


def test_train_cuda_without_cuda(capsys, results, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    rc, _, err = cli(capsys, *TRAIN[:-1], "cuda")
    assert rc == 2 and "argument --device: cuda: this" in err and "no CUDA" in err
    assert "use --device cpu" in err
    assert not results.exists()


def test_train_batch_larger_than_the_data_set(capsys, results, timit):
    rc, _, err = cli(capsys, "train", "--net", "F2", "--batch-size", "51", "--device", "cpu")
    assert rc == 2 and "--batch-size 51 is larger than the training set (50 examples)" in err
    assert not results.exists()


def test_train_subset_larger_than_the_data_set(capsys, results, timit):
    rc, _, err = cli(capsys, "train", "--net", "F2", "--batch-size", "10", "--train-subset", "60",
                     "--device", "cpu")
    assert rc == 2 and "--train-subset must be between 1 and 50 (the size of the set), got 60" in err
    rc, _, err = cli(capsys, "train", "--net", "F2", "--batch-size", "10", "--test-subset", "21",
                     "--device", "cpu")
    assert rc == 2 and "--test-subset must be between 1 and 20 (the size of the set), got 21" in err
    assert not results.exists()


def test_train_on_damaged_data_names_the_file(capsys, results, timit):
    (timit / "timit/train.npz").write_bytes(b"")
    rc, _, err = cli(capsys, "train", "--net", "F2", "--batch-size", "10", "--device", "cpu")
    assert rc == 2 and f"error: {timit / 'timit/train.npz'}: the file is empty" in err
    assert not results.exists()


@pytest.mark.parametrize("args, message", [
    (["--eps", "nan"], "argument --eps: must be a finite number > 0, got 'nan'"),
    (["--eps", "inf"], "argument --eps: must be a finite number > 0, got 'inf'"),
    (["--eps", "0"], "argument --eps: must be a finite number > 0, got '0'"),
    (["--eps=-1e-3"], "argument --eps: must be a finite number > 0, got '-1e-3'"),
    (["--subspace", "0"], "argument --subspace: must be an integer >= 1, got 0"),
    (["--subspace", "-5"], "argument --subspace: must be an integer >= 1, got -5"),
    (["--iters", "0"], "argument --iters: must be an integer >= 1, got 0"),
    (["--seed", "-1"], "argument --seed: must be an integer >= 0, got -1"),
    (["--subset", "0"], "argument --subset: must be >= 1"),
    (["--subspace-kind", "cauchy"], "argument --subspace-kind: invalid choice: 'cauchy'"),
    (["--start", "middle"], "argument --start: invalid choice: 'middle'"),
    (["--device", "banana"], "argument --device: 'banana' is not a device"),
])
def test_sharpness_rejects_bad_options(capsys, results, args, message):
    rc, _, err = cli(capsys, "sharpness", "F1-0123", *args)
    assert rc == 2 and message in err
    assert not results.exists()


@pytest.mark.parametrize("args, message", [
    (["--points", "0"], "argument --points: must be an integer >= 2, got 0"),
    (["--points", "1"], "argument --points: must be an integer >= 2, got 1"),
    (["--kind", "cubic"], "argument --kind: invalid choice: 'cubic'"),
    (["--bn", "running"], "argument --bn: invalid choice: 'running'"),
])
def test_interpolate_rejects_bad_options(capsys, results, args, message):
    rc, _, err = cli(capsys, "interpolate", "F1-a", "F1-b", *args)
    assert rc == 2 and message in err
    assert not results.exists()


def test_interpolate_checks_out_before_computing(capsys, results, tmp_path):
    rc, _, err = cli(capsys, "interpolate", "F1-a", "F1-b", "--out", tmp_path / "nope" / "x.csv")
    assert rc == 2 and "error: --out" in err and "does not exist; create it first" in err


def test_unknown_run_is_one_line(capsys, results):
    rc, _, err = cli(capsys, "sharpness", "F1-0123")
    assert rc == 2 and err.startswith("error: no runs match 'F1-0123'") and err.count("\n") == 1


def test_data_rejects_unknown_names_and_missing_shared(capsys, tmp_path):
    rc, _, err = cli(capsys, "data", "check", "svhn")
    assert rc == 2 and "'svhn' is not allowed; choose one of mnist, cifar10, cifar100, timit" in err
    rc, _, err = cli(capsys, "data", "stage", "--shared", tmp_path / "nope")
    assert rc == 2 and "argument --shared" in err and "no such directory" in err


def test_results_that_is_a_file(capsys, tmp_path):
    f = tmp_path / "file"
    f.write_text("")
    rc, _, err = cli(capsys, "runs", "--results", f)
    assert rc == 2 and "argument --results" in err and "is a file, not a directory" in err


# --------------------------------------------------------------------------- papermill parameters
@pytest.mark.parametrize("params,match", [
    (dict(seeds="abc"), "seeds = 'abc'"), (dict(seeds=0), "seeds"), (dict(seeds=[1, 1]), "distinct"),
    (dict(sb_epochs=-1), "sb_epochs must be an integer >= 1"),
    (dict(train_subset=0), "train_subset must be >= 1"),
    (dict(alpha_points=1), "alpha_points must be an integer >= 2"),
    (dict(precision="fp16"), "precision"), (dict(landscape_bn="banana"), "landscape_bn"),
    (dict(bogus=1), "unknown parameter"), (dict(nets="F9"), "F9")])
def test_papermill_parameters_are_checked_where_they_enter(params, match):
    from lbsm.experiments import parameters
    with pytest.raises(ValueError, match=match):
        parameters.override("smoke", **params)


def test_book_runner_prints_a_message_not_a_traceback(capsys):
    from lbsm import book
    assert book.run_cli(["run", "--profile", "nope"]) == 2
    err = capsys.readouterr().err
    assert "unknown profile 'nope'" in err and "Traceback" not in err


# --------------------------------------------------------------------------- the Python API
@pytest.mark.parametrize("kw,match", [(dict(train_subset=-10), "train_subset must be >= 1"),
                                      (dict(train_subset=0), "train_subset must be >= 1"),
                                      (dict(batch_size=0), "batch_size must be an integer >= 1"),
                                      (dict(lr=float("nan")), "lr"), (dict(seed=-1), "seed")])
def test_train_config_refuses_nonsense(kw, match):
    from lbsm.train.protocol import TrainConfig
    with pytest.raises(ValueError, match=match):
        TrainConfig(**{"net": "F1", "batch_size": 256, **kw})


def test_a_batch_larger_than_the_data_is_refused_before_anything_is_stored(mnist, store):
    from lbsm.train.protocol import TrainConfig, fit
    cfg = TrainConfig("F1", 100000, epochs=1, train_subset=1000, test_subset=100)
    with pytest.raises(ValueError, match="larger than the training set"):
        fit(cfg, store, dataset=mnist, progress=False)
    assert not store.is_finished(store.run_dir("F1", cfg.key)) and not (store.root / "runs").exists()


@pytest.mark.parametrize("kw,match", [(dict(eps=float("nan")), "eps"), (dict(eps=0.0), "eps"),
                                      (dict(iters=0), "iters"), (dict(subspace=0), "subspace"),
                                      (dict(subspace=-5), "subspace")])
def test_sharpness_refuses_nonsense(kw, match):
    import torch
    from lbsm.core import models
    from lbsm.analyses.sharpness import keskar_sharpness
    x, y = torch.rand(8, 784), torch.randint(0, 10, (8,))
    with pytest.raises(ValueError, match=match):
        keskar_sharpness(models.build("F1"), x, y, **kw)
