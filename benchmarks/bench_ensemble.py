"""Seeds together vs one by one: model-epochs per second for C1 and C2, and the share of the
device's bf16 matmul peak, all measured in the same run.

    python benchmarks/bench_ensemble.py                 # on a GPU: full CIFAR-10, 5 seeds
    python benchmarks/bench_ensemble.py --quick         # a CPU smoke run: 2,000 images, 2 seeds

For each network and batch size (B = 256 and the LB, 10 % of the training set) it trains
``--seeds`` seeds for ``--epochs`` epochs twice, sequentially (``lbsm.train.fit``) and together
(``lbsm.ensemble.fit_ensemble``), each into an empty store, and prints model-epochs per second of
both and their ratio. The peak is a bf16 (or, without native bf16, fp32) matmul of 8192^2 on the
same device; the achieved FLOP/s count 3 x the forward FLOPs per training image (forward and
backward) plus one forward per image of the per-epoch evaluation.
Writes ``benchmarks/results/bench_ensemble-<device>.json`` (README's table is generated from it).
Targets (one H100): C1 Table 2 (5 seeds, SB and LB, 100 epochs each) in <= 60 s; ensemble >= 3x
sequential at B = 256.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

from benchresults import Contention, write
from lbsm.core import data
from lbsm.train import ensemble
from lbsm.core import machine
from lbsm.core import models
from lbsm.train import protocol as train
from lbsm.core.store import Store


def matmul_peak(device: torch.device, dtype: torch.dtype, n: int = 8192, reps: int = 10) -> float:
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    a @ b
    sync(device)
    t0 = time.perf_counter()
    for _ in range(reps):
        a @ b
    sync(device)
    return 2 * n ** 3 * reps / (time.perf_counter() - t0)


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def forward_flops(net: str, device) -> float:
    """FLOPs of one example's forward pass (multiply-adds x 2), counted with torch's flop counter."""
    from torch.utils.flop_counter import FlopCounterMode
    m = models.build(net).to(device).eval()
    x = torch.zeros(1, *models.NETWORKS[net][2], device=device)
    with FlopCounterMode(display=False) as fc, torch.no_grad():
        m(x)
    return fc.get_total_flops()


def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nets", nargs="+", default=["C1", "C2"])
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--train-subset", type=int)
    ap.add_argument("--precision", default="fp32", help="fp32 (the paper's), bf16 or tf32 (CUDA)")
    ap.add_argument("--quick", action="store_true", help="2,000 images, 2 seeds, 1 epoch (a CPU check)")
    a = ap.parse_args()
    if a.quick:
        a.seeds, a.epochs, a.train_subset = 2, 1, a.train_subset or 2000
    device = train.default_device()
    precision = machine.check_precision(a.precision, device)
    dtype = torch.bfloat16 if precision == "bf16" else torch.float32
    peak = matmul_peak(device, dtype, n=8192 if device.type == "cuda" else 2048,
                       reps=10 if device.type == "cuda" else 3)
    ds = data.load("cifar10", device=device)
    n = a.train_subset or len(ds.x_train)
    print(f"device: {machine.device_name(device)}; precision auto -> {precision}; "
          f"{dtype} matmul peak {peak / 1e12:.1f} TFLOP/s; {a.seeds} seeds x {a.epochs} epochs on "
          f"{n} images")
    print(f"{'net':4} {'B':>5} {'sequential':>12} {'ensemble':>12} {'ratio':>6} {'% of peak':>10}")
    contention, rows, measured = Contention(), [], []
    for net in a.nets:
        n_test = min(10000, n)
        # per model-epoch: forward + backward (3x forward) of every training image, then the
        # per-epoch evaluation (forward only) of the training and test sets
        flops = forward_flops(net, device) * (3 * n + n + n_test)
        for b in (train.SB_BATCH, train.lb_batch(net, n)):
            cfgs = [train.TrainConfig(net, b, seed=s, epochs=a.epochs, train_subset=n,
                                      test_subset=n_test) for s in range(a.seeds)]
            with tempfile.TemporaryDirectory() as tmp:
                t_seq = timed(lambda: [train.fit(c, Store(Path(tmp) / "s"), dataset=ds, device=device,
                                                 progress=False) for c in cfgs])
                t_ens = timed(lambda: ensemble.fit_ensemble(cfgs, Store(Path(tmp) / "e"), dataset=ds,
                                                            device=device, progress=False))
            me = a.seeds * a.epochs
            print(f"{net:4} {b:5d} {me / t_seq:9.2f} /s {me / t_ens:9.2f} /s {t_seq / t_ens:6.2f} "
                  f"{100 * flops * me / t_ens / peak:9.1f}%")
            measured.append({"net": net, "batch": b, "sequential_seconds": t_seq, "ensemble_seconds": t_ens,
                             "share_of_peak": flops * me / t_ens / peak})
            rows.append({"what": f"{net}, B = {b}, {a.seeds} seeds x {a.epochs} epochs on {n} images: "
                                 "seeds together vs one by one (speed-up)", "value": t_seq / t_ens, "unit": "x"})
    write(f"bench_ensemble-{device.type}", rows,
          {"precision": precision, "matmul_peak_flops": peak, "seeds": a.seeds, "epochs": a.epochs,
           "train_subset": n, "runs": measured}, contention.result(), torch.get_num_threads())


if __name__ == "__main__":
    main()
