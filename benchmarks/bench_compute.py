"""Dask vs in-process: a sweep of 4 short F1 SB runs, both timed in the same run.

    python benchmarks/bench_compute.py [--epochs 2] [--train-subset 20000]

In-process: the 4 runs one after another, torch on all cores (2 threads on 2 cores). Dask: a
LocalCluster of one worker per core, 1 thread each, the 4 runs as independent tasks. Each variant
trains into its own empty store, so nothing is loaded instead of trained. Prints both wall times
and their ratio (> 1: Dask is faster); worker start-up is included in the Dask time. Writes
``benchmarks/results/bench_compute.json`` (README's table is generated from it).
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import torch

from benchresults import Contention, write
from lbsm.pipeline import compute
from lbsm.core import data
from lbsm.train import protocol as train
from lbsm.core.machine import device_name
from lbsm.core.store import Store


def configs(epochs: int, train_subset: int) -> list[train.TrainConfig]:
    return [train.TrainConfig("F1", train.SB_BATCH, seed=s, epochs=epochs, train_subset=train_subset,
                              test_subset=2000) for s in range(4)]


def in_process(cfgs, root: Path) -> float:
    t0 = time.perf_counter()
    train.sweep(cfgs, Store(root), progress=False)
    return time.perf_counter() - t0


def on_dask(cfgs, root: Path, workers: int) -> float:
    t0 = time.perf_counter()
    client = compute.dask_client(workers=workers, threads_per_worker=1)
    try:
        store, data_dir = Store(root), str(data.data_dir())
        futures = [client.submit(compute._run_task, c, store, data_dir, 1, pure=False) for c in cfgs]
        client.gather(futures)
    finally:
        cluster = client.cluster
        client.close()
        cluster.close()
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--train-subset", type=int, default=20000)
    a = ap.parse_args()
    data.load("mnist")  # the data set's first load (md5 check, parsing) is not timed
    cores = os.cpu_count() or 1
    cfgs = configs(a.epochs, a.train_subset)
    contention = Contention()
    with tempfile.TemporaryDirectory() as tmp:
        t_local = in_process(cfgs, Path(tmp) / "inprocess")
        t_dask = on_dask(cfgs, Path(tmp) / "dask", cores)
    print(f"device: {device_name('cpu')}, {cores} cores; 4 F1 SB runs (B = {train.SB_BATCH}), "
          f"{a.epochs} epochs on {a.train_subset} examples, precision auto")
    print(f"in-process ({torch.get_num_threads()} threads): {t_local:.1f} s")
    print(f"Dask LocalCluster ({cores} workers x 1 thread): {t_dask:.1f} s")
    print(f"ratio in-process / Dask: {t_local / t_dask:.2f}")
    what = f"4 F1 SB runs, {a.epochs} epochs on {a.train_subset} examples"
    rows = [{"what": f"{what}: in process ({torch.get_num_threads()} threads)", "value": t_local, "unit": "s"},
            {"what": f"{what}: Dask LocalCluster ({cores} workers x 1 thread, start-up included)",
             "value": t_dask, "unit": "s"},
            {"what": f"{what}: in process / Dask (> 1: Dask faster)", "value": t_local / t_dask, "unit": "x"}]
    write("bench_compute", rows, {"epochs": a.epochs, "train_subset": a.train_subset,
                                  "in_process_seconds": t_local, "dask_seconds": t_dask},
          contention.result(), torch.get_num_threads())


if __name__ == "__main__":
    main()
