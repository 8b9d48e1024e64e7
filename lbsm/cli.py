"""Command line: ``python -m lbsm {train,runs,data,sharpness,interpolate} --help``."""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from . import data as lbsm_data
from . import models


def cmd_train(a) -> int:
    from .store import Store
    from .train import TrainConfig, fit
    cfg = TrainConfig(a.net, a.batch_size, seed=a.seed, epochs=a.epochs, stop=a.stop,
                      precision=a.precision, bn_eval=a.bn, train_subset=a.train_subset,
                      test_subset=a.test_subset, checkpoints=a.checkpoints)
    store = Store(a.results)
    t0 = time.perf_counter()
    stored = store.is_finished(store.run_dir(cfg.net, cfg.key))
    run = fit(cfg, store, device=a.device, progress=not a.quiet)
    f = run.final
    print(f"{cfg.net} B={cfg.batch_size} seed={cfg.seed}: {run.status} after {int(f['epoch'])} epochs"
          f"{' (from the store)' if stored else ''}, "
          f"train {f['train_acc']:.2f}% / loss {f['train_loss']:.4f}, test {f['test_acc']:.2f}% "
          f"[{run.meta['device']}, {time.perf_counter() - t0:.1f} s] -> {run.path}")
    return 0 if run.status == "done" else 3


def cmd_runs(a) -> int:
    from .store import Store
    df = Store(a.results).runs()
    if df.empty:
        print(f"no runs in {Store(a.results).root}")
        return 0
    cols = ["run", "net", "batch_size", "seed", "epochs", "status", "epochs_run", "wall_seconds"]
    print(df[[c for c in cols if c in df]].to_string(index=False))
    return 0


def cmd_data(a) -> int:
    root = lbsm_data.data_dir(a.data_dir)
    names = a.names or list(lbsm_data.DATASETS)
    if a.action == "stage":
        return stage(root, Path(a.shared) if a.shared else None)
    if a.action == "download":
        for n in names:
            lbsm_data.fetch(n, root)
            print(f"{n}: downloaded and verified in {root}")
        return 0
    bad = 0
    for n in names:
        problems = lbsm_data.check(n, root)
        if problems:
            bad += n != "timit" or a.names is not None
            print(f"{n}: NOT READY in {root}\n  " + "\n  ".join(problems) +
                  f"\n  how to get it: {lbsm_data.HOW_TO_GET[n]}")
        else:
            print(f"{n}: ok ({len(lbsm_data.expected_files(n))} files, md5 verified) in {root}")
    return 1 if bad else 0


def stage(root: Path, shared: Path | None) -> int:
    """Make MNIST and CIFAR-10 ready in the data directory: from a local copy of the official files
    (``--shared`` / ``$LBSM_SHARED``) when there is one, else by download."""
    import shutil
    shared = shared or (Path(os.environ["LBSM_SHARED"]) if os.environ.get("LBSM_SHARED") else None)
    for name in ("mnist", "cifar10"):
        if not lbsm_data.check(name, root):
            print(f"{name}: ready in {root}")
            continue
        if shared and name == "mnist" and (shared / "mnist").is_dir():
            (root / "mnist").mkdir(parents=True, exist_ok=True)
            for rel in lbsm_data.MNIST_FILES:
                shutil.copyfile(shared / rel, root / rel)
        elif shared and name == "cifar10" and (shared / "cifar-10-batches-py.tar.xz").is_file():
            lbsm_data.extract_archive(shared / "cifar-10-batches-py.tar.xz", root)
        else:
            lbsm_data.fetch(name, root)
        if problems := lbsm_data.check(name, root):
            print(f"{name}: " + "; ".join(problems), file=sys.stderr)
            return 1
        print(f"{name}: staged and verified in {root}")
    return 0


def cmd_sharpness(a) -> int:
    from .sharpness import sharpness_of_run
    res = sharpness_of_run(a.run, eps=a.eps, subspace=a.subspace, iters=a.iters, bn=a.bn,
                           subspace_kind=a.subspace_kind,
                           train_subset=a.subset, seed=a.seed, results=a.results, device=a.device,
                           start=a.start)
    print(res)
    return 0


def cmd_interpolate(a) -> int:
    from .landscape import interpolate_runs
    df = interpolate_runs(a.sb_run, a.lb_run, kind=a.kind, points=a.points, bn=a.bn,
                          results=a.results, device=a.device)
    print(df.to_string(index=False))
    if a.out:
        df.to_csv(a.out, index=False)
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m lbsm", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--results", help="results store (default $LBSM_RESULTS or ./results)")
    common.add_argument("--device", help="cpu, cuda, cuda:1 ... (default: cuda if available)")

    t = sub.add_parser("train", parents=[common], help="train one run (or load it from the store)")
    t.add_argument("--net", required=True, choices=list(models.NETWORKS))
    t.add_argument("--batch-size", type=int, required=True)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--epochs", type=int, default=100, help="epochs (the maximum with --stop plateau)")
    t.add_argument("--stop", choices=["epochs", "plateau"], default="epochs")
    t.add_argument("--precision", choices=["fp32", "bf16"], default="fp32")
    t.add_argument("--bn", choices=models.BN_POLICIES, default="batch", help="BatchNorm eval policy")
    t.add_argument("--train-subset", type=int, help="use the first N training examples")
    t.add_argument("--test-subset", type=int, help="use the first N test examples")
    t.add_argument("--checkpoints", action="store_true", help="keep the weights after every epoch")
    t.add_argument("--quiet", action="store_true", help="no progress bar")
    t.set_defaults(func=cmd_train)

    r = sub.add_parser("runs", parents=[common], help="list the runs in the results store")
    r.set_defaults(func=cmd_runs)

    d = sub.add_parser("data", help="check, download or stage the data files")
    d.add_argument("action", choices=["check", "download", "stage"], nargs="?", default="check")
    d.add_argument("names", nargs="*", help=f"data sets ({', '.join(lbsm_data.DATASETS)}); default all")
    d.add_argument("--data-dir", help="data directory (default $LBSM_DATA or ~/.cache/lbsm)")
    d.add_argument("--shared", help="folder with local copies of the official files (stage)")
    d.set_defaults(func=cmd_data)

    s = sub.add_parser("sharpness", parents=[common], help="Metric 2.1 of a stored run's minimizer")
    s.add_argument("run", help="run name or key prefix (see `runs`)")
    s.add_argument("--eps", type=float, default=1e-3)
    s.add_argument("--subspace", type=int, help="dimension p of a random subspace (default: full space)")
    s.add_argument("--iters", type=int, default=10, help="L-BFGS-B iterations")
    s.add_argument("--bn", choices=models.BN_POLICIES, default="batch")
    s.add_argument("--subset", type=int, help="evaluate f on the first N training examples")
    s.add_argument("--seed", type=int, default=0, help="seed of the random subspace")
    s.add_argument("--subspace-kind", default="gaussian",
                   help="distribution of the random A: gaussian (N(0,1) entries, the default) or "
                        "uniform ([0,1)); '-unit': columns scaled to unit length")
    s.add_argument("--start", choices=["sign", "zero"], default="sign",
                   help="L-BFGS-B start: the box vertex along the gradient (default) or y = 0")
    s.set_defaults(func=cmd_sharpness)

    i = sub.add_parser("interpolate", parents=[common], help="parametric plot data of an SB/LB pair")
    i.add_argument("sb_run")
    i.add_argument("lb_run")
    i.add_argument("--kind", choices=["linear", "curvilinear"], default="linear")
    i.add_argument("--points", type=int, default=25)
    i.add_argument("--bn", choices=["batch", "interpolate", "recalibrate"], default="batch")
    i.add_argument("--out", help="also write the table to this CSV file")
    i.set_defaults(func=cmd_interpolate)
    return p


def main(argv=None) -> int:
    a = parser().parse_args(argv)
    try:
        return a.func(a)
    except (lbsm_data.DataError, ValueError, KeyError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
