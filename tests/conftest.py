import os
from pathlib import Path

import pytest
import torch

from lbsm import data as lbsm_data


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
    from lbsm.store import Store
    return Store(tmp_path / "results")


@pytest.fixture(autouse=True)
def _deterministic():
    torch.manual_seed(0)
    yield
