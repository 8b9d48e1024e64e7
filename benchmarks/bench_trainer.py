"""Trainer vs a plain PyTorch loop, measured in the same run.

Baseline: TensorDataset + DataLoader(shuffle=True), same model, same ADAM, fp32 (what most
tutorials write). Ours: ``lbsm.train.train_epoch`` (data resident on the device, minibatches
sliced from a per-epoch permutation), in fp32 and with bf16 autocast (the fastest option a
profile allows). Each configuration runs in a fresh subprocess so its peak memory (max RSS on
CPU, max allocated on CUDA) is its own. Also measured here: a large matmul's throughput, so the
trainer's FLOP rate is reported as a fraction of this machine's matmul peak.

    python benchmarks/bench_trainer.py [--epochs 2] [--device cpu]
"""
from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import resource
import time

import torch
import torch.nn.functional as F


def forward_flops_per_sample(net: str) -> float:
    """2 x multiply-adds of one forward pass (Linear and Conv layers; BN/ReLU/pool neglected)."""
    from lbsm.core import models
    _, _, shape = models.NETWORKS[net]
    m, flops = models.build(net), [0.0]

    def hook(mod, inp, out):
        if isinstance(mod, torch.nn.Linear):
            flops[0] += 2 * mod.in_features * mod.out_features
        elif isinstance(mod, torch.nn.Conv2d):
            flops[0] += 2 * out[0].numel() * mod.in_channels * mod.kernel_size[0] * mod.kernel_size[1]
    for mod in m.modules():
        mod.register_forward_hook(hook)
    with torch.no_grad():
        m.eval()(torch.zeros(1, *shape))
    return flops[0]


def matmul_peak(device, dtype, n=2048, reps=10) -> float:
    a, b = (torch.randn(n, n, device=device, dtype=dtype) for _ in range(2))
    a @ b
    t0 = time.perf_counter()
    for _ in range(reps):
        a @ b
    if device.type == "cuda":
        torch.cuda.synchronize()
    return 2 * n ** 3 * reps / (time.perf_counter() - t0)


def measure(args) -> dict:
    net, batch, mode, epochs, n, device = args
    from lbsm.core import data
    from lbsm.core import models
    from lbsm.train import protocol as train
    device = torch.device(device)
    ds = data.load(models.NETWORKS[net][0], device=device).subset(n, 10)
    model = models.build(net, seed=0).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    if mode == "dataloader":
        loader = torch.utils.data.DataLoader(
            torch.utils.data.TensorDataset(ds.x_train, ds.y_train), batch_size=batch, shuffle=True)

        def epoch(e):
            model.train()
            for xb, yb in loader:
                opt.zero_grad()
                F.cross_entropy(model(xb), yb).backward()
                opt.step()
    else:
        cfg = train.TrainConfig(net, batch, precision=mode)

        def epoch(e):
            train.train_epoch(model, opt, train.adam_step, ds.x_train, ds.y_train, cfg, e)
    epoch(0)  # warm-up (allocator, oneDNN primitives)
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    for e in range(1, epochs + 1):
        epoch(e)
    if device.type == "cuda":
        torch.cuda.synchronize()
    seconds = (time.perf_counter() - t0) / epochs
    peak = (torch.cuda.max_memory_allocated() if device.type == "cuda"
            else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
    return dict(net=net, batch=batch, mode=mode, n=n, seconds_per_epoch=seconds,
                samples_per_s=n / seconds, peak_mb=peak / 2 ** 20)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--json", help="also write the rows to this file")
    a = p.parse_args()
    device = torch.device(a.device)
    peak32, peak16 = matmul_peak(device, torch.float32), matmul_peak(device, torch.bfloat16)
    print(f"device {a.device} ({torch.get_num_threads()} threads); matmul peak "
          f"fp32 {peak32 / 1e9:.0f} GFLOP/s, bf16 {peak16 / 1e9:.0f} GFLOP/s")
    # F1 on full MNIST; C1 on a 5000-image CIFAR-10 subset to keep the run short on a CPU
    plan = [("F1", 256, 60000), ("F1", 6000, 60000), ("C1", 256, 5000), ("C1", 5000, 5000)]
    ctx = mp.get_context("spawn")
    rows = []
    for net, batch, n in plan:
        flops = 3 * forward_flops_per_sample(net)  # forward + backward ~ 3 forwards
        res = {}
        for mode in ("dataloader", "fp32", "bf16"):
            with ctx.Pool(1) as pool:
                r = pool.apply(measure, ((net, batch, mode, a.epochs, n, a.device),))
            r["frac_of_peak"] = r["samples_per_s"] * flops / (peak16 if mode == "bf16" else peak32)
            res[mode] = r
            rows.append(r)
        base = res["dataloader"]["samples_per_s"]
        for mode, r in res.items():
            print(f"{net} B={batch:<5} {mode:>10}: {r['samples_per_s']:9.0f} samples/s "
                  f"({r['seconds_per_epoch']:.2f} s/epoch of {n}), x{r['samples_per_s'] / base:4.2f} "
                  f"vs DataLoader, peak mem {r['peak_mb']:.0f} MB, {100 * r['frac_of_peak']:.0f}% "
                  "of matmul peak")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
