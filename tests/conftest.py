from pathlib import Path

import numpy as np

import pytest
import torch

from lbsm.cli import read_environment
from lbsm.core import data as lbsm_data
from lbsm.core import datadir, paths

# the folders a command would use, read from the environment once for the session as lbsm.cli does
# ($LBSM_DATA above all; nothing below the command line reads the environment)
ENV = read_environment()
datadir.choose_data_dir(ENV.data)


def _data_root() -> Path:
    return lbsm_data.data_dir()


@pytest.fixture(scope="session")
def data_root() -> Path:
    return _data_root()


@pytest.fixture(scope="session")
def mnist():
    if lbsm_data.check("mnist"):
        pytest.fail(f"MNIST is not staged in {_data_root()}: run `make data` (or set LBSM_DATA)")
    return lbsm_data.load("mnist")


@pytest.fixture
def store(tmp_path):
    from lbsm.core.store import Store
    return Store(tmp_path / "results")


@pytest.fixture(autouse=True)
def _private_results(tmp_path_factory, monkeypatch):
    """No test writes into the published results dataset (the checkout's results/): the store of
    this process (``Store()``) is a fresh folder, chosen as the command line would choose it, and
    ``$LBSM_RESULTS`` names it for the commands and kernels a test starts. Whatever a test chose
    (results, weights, data directory, CSV folder) is put back after it."""
    from lbsm.report import render
    root = tmp_path_factory.mktemp("results")
    monkeypatch.setenv("LBSM_RESULTS", str(root))
    monkeypatch.delenv("LBSM_WEIGHTS", raising=False)
    old, old_data, old_csv = paths.choose(root, None), datadir.choose_data_dir(ENV.data), \
        render.choose_csv_dir(ENV.csv)
    yield
    paths.choose(**old)
    datadir.choose_data_dir(old_data)
    render.choose_csv_dir(old_csv)


@pytest.fixture(autouse=True)
def _deterministic():
    torch.manual_seed(0)
    yield


@pytest.fixture
def one_thread():
    """Run a test on one thread: on tiny tensors OpenMP synchronization would dominate."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def write_timit(root: Path, n_train: int = 50, n_test: int = 20, seed: int = 0) -> Path:
    """Small TIMIT feature files in the official format under ``root``: x float32 [N, 360], y int
    in 0..1972. Returns ``root``."""
    (root / "timit").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for name, n in (("train", n_train), ("test", n_test)):
        np.savez(root / f"timit/{name}.npz", x=rng.standard_normal((n, 360)).astype(np.float32),
                 y=rng.integers(0, 1973, n))
    lbsm_data._load_cpu.cache_clear()
    return root


@pytest.fixture
def timit_writer():
    """``write_timit`` for tests that make TIMIT files."""
    return write_timit
