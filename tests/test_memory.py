"""Keeping freed memory (lbsm.core.memory) is a pure performance setting: the trainer produces the
same numbers with it as with glibc's defaults, bit for bit, so it is in no run's key.

The tolerance is zero on purpose: where an allocation lives changes no arithmetic, and both paths
run the same kernels on the same thread count, so any difference would be a bug (a kernel whose
result depended on its buffers' addresses). The C1 case uses minibatches whose activations (64
channels x 32 x 32 x B floats, 64 MiB at B = 256) lie above glibc's largest mmap threshold (32 MiB),
so the default path really maps and unmaps them each step while the kept path reuses the heap.
"""
from __future__ import annotations

import pytest
import torch

from lbsm.core import data as lbsm_data
from lbsm.core import memory
from lbsm.core.files import state_sha256
from lbsm.core.store import Store
from lbsm.train import protocol as train

glibc = pytest.mark.skipif(memory._libc() is None, reason="the C library is not glibc")


def synthetic(net: str, n_train: int, n_test: int) -> lbsm_data.Dataset:
    """Random pixels / features and labels in the shapes of ``net``'s data set (channels-last
    images, as lbsm.core.data loads them)."""
    from lbsm.core import models
    name, k, shape = models.NETWORKS[net]
    g = torch.Generator().manual_seed(1)

    def x(n):
        t = torch.rand(n, *shape, generator=g)
        return t.contiguous(memory_format=torch.channels_last) if t.dim() == 4 else t
    return lbsm_data.Dataset(name, x(n_train), torch.randint(0, k, (n_train,), generator=g),
                             x(n_test), torch.randint(0, k, (n_test,), generator=g), k)


def train_both_ways(cfg: train.TrainConfig, ds, tmp_path):
    out = {}
    for kept in (False, True):
        store = Store(tmp_path / f"kept-{kept}")
        with memory.kept(kept) as state:
            assert state is kept
            run = train.fit(cfg, store, dataset=ds, device="cpu", progress=False)
        out[kept] = (run.history.drop(columns="seconds"), run.meta["weights_sha256"],
                     state_sha256(run.state("final")))
    return out


@glibc
@pytest.mark.parametrize("net, batch, n_train, epochs", [("F1", 64, 512, 2), ("C1", 256, 512, 1)])
def test_kept_memory_trains_the_same_numbers(net, batch, n_train, epochs, tmp_path, one_thread):
    cfg = train.TrainConfig(net, batch, seed=3, epochs=epochs, train_subset=n_train, test_subset=256,
                            eval_batch_size=256)
    both = train_both_ways(cfg, synthetic(net, n_train, 256), tmp_path)
    (h0, w0, s0), (h1, w1, s1) = both[False], both[True]
    assert w0 == w1 == s0 == s1  # the final weights, bit for bit
    assert h0.equals(h1)         # every per-epoch metric and minibatch loss


@glibc
def test_kept_is_restored_and_idempotent():
    before = memory.is_kept()
    with memory.kept(True):
        assert memory.is_kept() and memory.keep_freed_memory()  # again: still in effect
        with memory.kept(False):
            assert not memory.is_kept()
        assert memory.is_kept()
    assert memory.is_kept() == before


def test_the_setting_is_not_in_the_key():
    cfg = train.TrainConfig("C1", 256)
    with memory.kept(True):
        a = cfg.key
    with memory.kept(False):
        b = cfg.key
    assert a == b and not any("memory" in k or "malloc" in k for k in cfg.key_dict())
