"""Benchmark: Metric 2.1 on F1 over the full 60k MNIST training set (eps 1e-3, 10 L-BFGS-B
iterations, full space), beside the time of one F1 training epoch at batch 256 on the same machine.

    LBSM_DATA=... python benchmarks/bench_sharpness.py [--run NAME] [--results DIR] [--threads N]

Uses a stored F1 LB run (batch 6000) from the results store when there is one, else trains a
quick one (3 epochs) in a temporary store. Wall and CPU (process) time are both printed: on a
shared machine the wall time depends on what else runs, the CPU time much less.
"""
from __future__ import annotations

import argparse
import tempfile
import time

import torch

from lbsm.core import data as lbsm_data
from lbsm.analyses.sharpness import Objective, keskar_sharpness
from lbsm.core.store import Store
from lbsm.core.machine import device_name
from lbsm.train.protocol import Run, TrainConfig, fit


def clocks():
    return time.perf_counter(), time.process_time()


def since(t):
    return time.perf_counter() - t[0], time.process_time() - t[1]


def lb_run(store: Store, name: str | None, ds, device) -> Run:
    if name:
        return Run.load(store.find(name))
    runs = store.runs()
    if not runs.empty:
        lb = runs[(runs.net == "F1") & (runs.batch_size == 6000) & (runs.status == "done")
                  & runs.train_subset.isna()]
        if len(lb):
            return Run.load(store.root / "runs" / lb.run.iloc[0])
    print("no stored F1 LB run: training one for 3 epochs")
    return fit(TrainConfig("F1", 6000, epochs=3), Store(tempfile.mkdtemp()), dataset=ds,
               device=device, progress=False)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--run", help="F1 run name or key prefix (default: a stored LB run)")
    p.add_argument("--results", help="results store (default $LBSM_RESULTS or ./results)")
    p.add_argument("--threads", type=int, help="torch intra-op threads (default: torch's)")
    p.add_argument("--iters", type=int, default=10)
    p.add_argument("--eps", type=float, default=1e-3)
    p.add_argument("--device", default="cpu")
    a = p.parse_args(argv)
    if a.threads:
        torch.set_num_threads(a.threads)
    device = torch.device(a.device)
    ds = lbsm_data.load("mnist", device=device)
    run = lb_run(Store(a.results), a.run, ds, device)
    model = run.model("final", device)
    print(f"device: {device_name(device)}; run {run.path.name} (batch {run.config.batch_size})")

    # one training epoch of F1 at batch 256 with the trainer itself (its history times the epoch
    # alone, without the per-epoch evaluations)
    epoch = fit(TrainConfig("F1", 256, epochs=1), Store(tempfile.mkdtemp()), dataset=ds,
                device=device, progress=False).history.seconds.iloc[-1]

    obj = Objective(model, ds.x_train, ds.y_train)
    obj.value_and_grad()  # warm-up (first torch.func call, allocator)
    t = clocks()
    obj.value_and_grad()
    one_wall, one_cpu = since(t)

    t = clocks()
    res = keskar_sharpness(model, ds.x_train, ds.y_train, eps=a.eps, iters=a.iters)
    wall, cpu = since(t)
    per_eval = res.seconds / res.evaluations
    print(res)
    print(f"Metric 2.1 total: {wall:.1f} s wall, {cpu:.1f} s CPU; {res.evaluations} evaluations of "
          f"f + grad over {res.examples} examples ({per_eval:.2f} s each, all-inclusive)")
    print(f"one f + grad evaluation alone: {one_wall:.2f} s wall, {one_cpu:.2f} s CPU")
    print(f"one F1 training epoch (batch 256, lbsm.train.fit): {epoch:.2f} s wall")
    print(f"ratio f+grad evaluation / training epoch: {one_wall / epoch:.2f}; "
          f"Metric 2.1 / training epoch: {wall / epoch:.1f}")
    print(f"target <= 30 s: {'met' if wall <= 30 else 'missed'}")


if __name__ == "__main__":
    main()
