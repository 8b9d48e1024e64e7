"""Command line: ``python -m lbsm {compute,train,runs,data,sharpness,interpolate} --help``.

Every value is checked where it enters (``lbsm.validate``); a bad one is a one-line ``error: ...``
on stderr and exit status 2, never a traceback (``--debug`` shows it). Ctrl-C exits with 130.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from pathlib import Path

from .core import data as lbsm_data
from .core import models
from .core import validate

STARTS = ("sign", "zero")
RUN_COLUMNS = ("run", "net", "batch_size", "seed", "epochs", "stop", "train_subset", "test_subset",
               "precision", "lr", "bn_eval", "method", "augment", "init", "status", "epochs_run",
               "train_acc", "test_acc", "wall_seconds")


def cmd_train(a) -> int:
    from .train.ensemble import fit_ensemble
    from .core.store import Store
    from .train.protocol import TrainConfig, fit
    if a.train_subset is not None:  # checked before anything is loaded or written
        validate.batch_size(a.batch_size, a.train_subset)
    seeds = a.seeds or [a.seed]
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"--seeds {' '.join(map(str, seeds))}: give each seed once")
    if a.ensemble and len(seeds) < 2:
        raise ValueError("--ensemble trains several seeds together: give them with --seeds, "
                         "e.g. --seeds 0 1 2, or leave --ensemble out")
    cfgs = [TrainConfig(a.net, a.batch_size, seed=s, epochs=a.epochs, stop=a.stop,
                        precision=a.precision, bn_eval=a.bn, train_subset=a.train_subset,
                        test_subset=a.test_subset, checkpoints=a.checkpoints) for s in seeds]
    store = Store(a.results)
    t0 = time.perf_counter()
    stored = {c.key: store.is_finished(store.run_dir(c.net, c.key)) for c in cfgs}
    if not all(stored.values()):
        check_sizes(cfgs[0])
    if a.ensemble:
        runs = fit_ensemble(cfgs, store, device=a.device, progress=not a.quiet)
    else:
        runs = [fit(c, store, device=a.device, progress=not a.quiet) for c in cfgs]
    for cfg, run in zip(cfgs, runs):
        f = run.final
        print(f"{cfg.net} B={cfg.batch_size} seed={cfg.seed}: {run.status} after {int(f['epoch'])} "
              f"epochs{' (from the store)' if stored[cfg.key] else ''}, "
              f"train {f['train_acc']:.2f}% / loss {f['train_loss']:.4f}, test {f['test_acc']:.2f}% "
              f"[{run.meta['device']}, {run.meta['precision']}] -> {run.path}")
    print(f"{len(runs)} run(s) in {time.perf_counter() - t0:.1f} s")
    return 0 if all(r.status == "done" for r in runs) else 3


def check_compute_options(a) -> None:
    """Options that only make sense with others are refused alone (they were silently ignored),
    and the archive's path is checked before the window's work, not after it."""
    chunk = a.budget is not None or a.dry_run
    needs = [("--archive", a.archive is not None, a.budget is not None and not a.dry_run,
              "--budget SECONDS (without --dry-run, which computes nothing to archive)"),
             ("--scheduler", a.scheduler is not None, a.executor == "dask", "--executor dask"),
             ("--workers", a.workers is not None, a.executor == "dask" and a.scheduler is None,
              "--executor dask without --scheduler (an existing cluster has its own workers)"),
             ("--cost", a.cost is not None, chunk, "--budget or --dry-run"),
             ("--ensemble-speedup", a.ensemble_speedup != 1.0, chunk, "--budget or --dry-run"),
             ("--selftest", a.selftest, chunk, "--budget or --dry-run"),
             ("--require-cuda", a.require_cuda, a.selftest, "--selftest"),
             ("--executor dask", a.executor == "dask", not chunk,
              "a whole compute (--budget / --dry-run plan a window in this process)"),
             ("--nets", a.nets is not None, not chunk,
              "a whole compute (a --budget window follows the profile's priority list)")]
    for option, given, ok, what in needs:
        if given and not ok:
            raise ValueError(f"{option} only works with {what}; add it or leave {option} out")
    if a.archive is not None:
        validate.writable_file("--archive", a.archive, suffix=".tar.gz")


def cmd_compute(a) -> int:
    from .pipeline import compute
    from .core.store import Store
    check_compute_options(a)
    chapters = "all" if "all" in a.chapters else a.chapters
    t0 = time.perf_counter()
    store = Store(a.results)
    if a.budget is not None or a.dry_run:
        return compute_chunk(a, store, t0)
    out = compute.compute(chapters, a.profile, executor=a.executor, scheduler=a.scheduler,
                          workers=a.workers, threads_per_worker=a.threads_per_worker,
                          nets=a.nets, store=store, progress=True)
    for name, ch in out.items():
        print(f"{name}: {len(ch.parts)} parts ready ({ch.seconds:.1f} s)")
    print(f"profile {a.profile}, executor {a.executor}: {time.perf_counter() - t0:.1f} s; "
          f"results in {store.root}")
    return 0


def cmd_import(a) -> int:
    from .pipeline.chunks import import_archive
    from .core.store import Store
    store = Store(a.results)
    out = import_archive(a.archive, store)
    print(f"{len(out['added'])} added, {len(out['kept'])} already in {store.root}")
    return 0


def compute_chunk(a, store, t0) -> int:
    """``compute --budget S [--dry-run]``: the missing work of the profile that fits S seconds,
    in ``lbsm.chunks.PRIORITY`` order; optionally packed into ``--archive``."""
    from .pipeline import chunks
    from .pipeline import compute
    from .train import protocol as train
    budget = a.budget if a.budget is not None else float("inf")
    if a.selftest:
        print("self-test:", chunks.selftest(require_cuda=a.require_cuda))
    items = chunks._items(a.profile)
    pairs = {(c.net, c.batch_size) for _, ch, _, p in items for c in compute.graph(ch, p)[0].values()}
    if a.cost:
        cost = chunks.Cost.parse(a.cost, a.ensemble_speedup)
        missing = sorted(f"{n}@{b}" for n, b in pairs if f"{n}@{b}" not in cost.epoch_seconds)
        if missing:
            raise ValueError(f"--cost lacks {', '.join(missing)}; give NET@BATCH=SECONDS for each")
    else:
        cost = chunks.Cost.measure(pairs, ensemble_speedup=a.ensemble_speedup)
    items = chunks.plan(a.profile, budget, cost, store)
    print(chunks.plan_text(items, budget, cost))
    if a.dry_run:
        return 0
    from .train.ensemble import fit_ensemble
    before = chunks.snapshot(store)
    on_gpu = train.default_device().type == "cuda"
    for it in items:
        if it.fits:
            compute.compute(it.chapter, a.profile, nets=it.net, store=store, progress=True)
        elif it.partial:
            fit_ensemble(it.partial, store) if on_gpu else train.sweep(it.partial, store)
        else:
            continue
        print(f"done: {it.what}{'' if it.fits else ' (runs only)'} ({time.perf_counter() - t0:.0f} s)")
    if a.archive:
        print("archive:", chunks.export(store, a.archive, since=before))
    return 0


def check_sizes(cfg) -> None:
    """Subsets and batch size against the data set's real size; loading it also checks its files
    (the loaded set is cached, so training does not read the files again)."""
    ds = lbsm_data.load(cfg.dataset)
    n_train = validate.optional_subset("--train-subset", cfg.train_subset, len(ds.x_train))
    validate.optional_subset("--test-subset", cfg.test_subset, len(ds.x_test))
    validate.batch_size(cfg.batch_size, n_train or len(ds.x_train))


def cmd_runs(a) -> int:
    from .core.store import MANIFEST, Store
    store = Store(a.results)
    if a.write_manifest:
        out = store.write_manifest()
        print(f"{out['manifest']}: {out['files']} files verified and listed"
              + (f" ({out['sealed']} run(s) sealed with meta_sha256)" if out["sealed"] else ""))
        return 0
    if a.verify:
        found = store.verify()
        for p in found["problems"]:
            print(f"FAILS: {p}", file=sys.stderr)
        for rel in found["unlisted"]:
            print(f"not in {MANIFEST} (added since; verified by its own checksums): {rel}",
                  file=sys.stderr)
        bad = found["problems"] or found["unlisted"]
        print(f"{store.root}: {found['checked']} files, {len(found['problems'])} failing, "
              f"{len(found['unlisted'])} not in the manifest"
              + ("" if bad else "; the store verifies"))
        return 1 if bad else 0
    df = store.runs()
    for problem in df.attrs.get("damaged", []):
        print(f"damaged (left out; the next train/compute of it sets it aside and retrains): "
              f"{problem}", file=sys.stderr)
    for problem in df.attrs.get("unreadable", []):
        print(f"unreadable (left out): {problem}", file=sys.stderr)
    if df.empty:
        print(f"no runs in {store.root}", file=sys.stderr if a.csv else sys.stdout)
        return 0
    finals = [final_accuracies(store.root / "runs" / name) for name in df["run"]]
    df = df.assign(**{k: [f.get(k) for f in finals] for k in ("train_acc", "test_acc")})
    df = df[[c for c in RUN_COLUMNS if c in df]]
    if a.csv:
        print(df.to_csv(index=False), end="")
    else:
        print(df.to_string(index=False))
    return 0


def final_accuracies(run_dir: Path) -> dict:
    """train_acc / test_acc of a run's last epoch (``history.csv``); empty if it cannot be read."""
    import pandas as pd
    try:
        last = pd.read_csv(run_dir / "history.csv").iloc[-1]
        return {k: float(last[k]) for k in ("train_acc", "test_acc")}
    except Exception:  # a damaged or foreign history leaves the columns empty
        return {}


def cmd_data(a) -> int:
    root = lbsm_data.data_dir(a.data_dir)
    names = a.names or list(lbsm_data.DATASETS)
    if a.action == "stage":
        return stage(root, Path(a.shared) if a.shared else None)
    if a.action == "split":
        src = Path(a.shared or os.environ.get("LBSM_SHARED", "")) / "cifar-10-batches-py.tar.xz"
        if not src.is_file():
            raise lbsm_data.DataError(f"{src} is not there: give --shared DIR with the official "
                                      "cifar-10-batches-py.tar.xz")
        parts = lbsm_data.split(src, a.parts)
        print(f"{len(parts)} parts of at most 45 MB and {lbsm_data.PARTS_MD5} in {a.parts}")
        return 0
    if a.action == "reassemble":
        archive = lbsm_data.reassemble(a.parts, root)
        problems = lbsm_data.check("cifar10", root)
        if problems:
            raise lbsm_data.DataError("; ".join(problems))
        print(f"{archive.name}: reassembled, md5 verified, unpacked into {root}; cifar10 ok")
        return 0
    if a.action == "download":
        for n in names:
            lbsm_data.fetch(n, root)
            print(f"{n}: downloaded and verified in {root}")
        return 0
    bad = 0
    for n in names:
        problems = lbsm_data.check(n, root)
        if problems:
            bad += n != "timit" or bool(a.names)
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
    from .analyses.sharpness import sharpness_of_run
    if a.subspace is None and a.subspace_kind != "gaussian":
        raise ValueError(f"--subspace-kind {a.subspace_kind} only works with --subspace P (the "
                         "full space has no random subspace); add --subspace or leave it out")
    if a.subset is not None:
        from .core.store import Store
        from .train.protocol import Run
        store = Store(a.results)
        r = Run.load(store.find(a.run), store)
        n = r.config.train_subset or len(lbsm_data.load(r.config.dataset).x_train)
        validate.optional_subset("--subset", a.subset, n)
    res = sharpness_of_run(a.run, eps=a.eps, subspace=a.subspace, iters=a.iters, bn=a.bn,
                           subspace_kind=a.subspace_kind,
                           train_subset=a.subset, seed=a.seed, results=a.results, device=a.device,
                           start=a.start)
    print(res)
    return 0


def cmd_interpolate(a) -> int:
    from .analyses.landscape import interpolate_runs
    from .core.store import Store
    if a.out:
        validate.writable_file("--out", a.out)  # before the computation, not after it
    store = Store(a.results)
    if store.find(a.sb_run) == store.find(a.lb_run):
        raise ValueError(f"{a.sb_run} and {a.lb_run} are the same run ({store.find(a.sb_run).name}); "
                         "give an SB run and a different LB run (see `python -m lbsm runs`)")
    df = interpolate_runs(a.sb_run, a.lb_run, kind=a.kind, points=a.points, bn=a.bn,
                          results=a.results, device=a.device)
    print(df.to_string(index=False))
    if a.out:
        df.to_csv(a.out, index=False)
    return 0


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Adds ``(default: X)`` to every option's help unless it says its default in words (or has
    none: required options, flags)."""

    def _get_help_string(self, action):
        text = action.help or ""
        if "default" in text or action.default is None or action.default is False \
                or action.default == argparse.SUPPRESS:
            return text
        return super()._get_help_string(action)


def checked(check, name: str, **kw):
    """An argparse ``type=`` that runs ``check(name, text, **kw)`` from ``lbsm.validate``."""
    def convert(text):
        try:
            return check(name, text, **kw)
        except ValueError as exc:  # argparse prefixes "argument NAME: " itself
            raise argparse.ArgumentTypeError(str(exc).removeprefix(f"{name} ")) from None
    convert.__name__ = check.__name__  # argparse names it in some messages
    return convert


def parser() -> argparse.ArgumentParser:
    from .pipeline import compute  # for their lists of choices
    from .analyses import landscape
    from .experiments import profiles
    from .analyses import sharpness
    from .train import protocol as train
    from .core.machine import PRECISIONS as precisions
    p = argparse.ArgumentParser(
        prog="python -m lbsm", formatter_class=HelpFormatter,
        description="Large-batch training and sharp minima (Keskar et al., ICLR 2017): train, list "
                    "and analyse runs. `python -m lbsm COMMAND --help` describes each command.")
    p.add_argument("--debug", action="store_true",
                   help="show the full traceback of an error instead of a one-line message")
    sub = p.add_subparsers(dest="cmd", required=True, metavar="COMMAND")

    def sub_parser(name, help, parents=()):
        return sub.add_parser(name, parents=list(parents), help=help, description=help,
                              formatter_class=HelpFormatter)

    results = argparse.ArgumentParser(add_help=False)
    results.add_argument("--results", type=checked(validate.directory, "--results"),
                         help="results store (default: $LBSM_RESULTS, else the checkout's published "
                              "results/)")
    device = argparse.ArgumentParser(add_help=False)
    device.add_argument("--device", type=checked(lambda name, v: validate.device(v, name), "--device"),
                        help="cpu, cuda or cuda:N (default: cuda if this machine has it, else cpu)")
    positive = lambda name: checked(validate.positive_int, name)  # noqa: E731

    c = sub_parser("compute", "compute what chapters need (runs first, analyses after) into the "
                              "results store; finished runs and analyses are loaded, not redone",
                   [results])
    c.add_argument("chapters", nargs="+", metavar="CHAPTER",
                   type=checked(validate.choice, "chapter", choices=compute.CHAPTERS + ("all",)),
                   help=f"chapters ({', '.join(compute.CHAPTERS)}) or all")
    c.add_argument("--profile", choices=list(profiles.PROFILES), default="cpu",
                   help="how much of the protocol to run (lbsm.profiles)")
    c.add_argument("--nets", help="comma-separated networks to keep (default: the profile's)")
    c.add_argument("--executor", choices=compute.EXECUTORS, default="inprocess",
                   help="inprocess: this process; dask: a dask.distributed cluster")
    c.add_argument("--scheduler", help="address of an existing Dask scheduler, e.g. "
                                       "tcp://host:8786 (default: start a LocalCluster)")
    c.add_argument("--workers", type=positive("--workers"),
                   help="LocalCluster worker processes (default: one per core)")
    c.add_argument("--threads-per-worker", type=positive("--threads-per-worker"), default=1,
                   help="torch threads in each Dask worker")
    c.add_argument("--budget", type=checked(validate.finite_positive_float, "--budget"),
                   help="seconds: compute only the missing work that fits, in lbsm.chunks.PRIORITY "
                        "order (the profile's, whatever CHAPTER says)")
    c.add_argument("--dry-run", action="store_true", help="print the plan with estimated times, "
                                                          "compute nothing")
    c.add_argument("--cost", nargs="+", metavar="NET@BATCH=SECONDS",
                   help="seconds per epoch instead of measuring them on this device, e.g. "
                        "C1@256=1.2 C1@5000=0.4")
    c.add_argument("--ensemble-speedup", type=checked(validate.finite_positive_float,
                                                      "--ensemble-speedup"), default=1.0,
                   help="per-model-epoch speedup of seeds trained together (plan estimate)")
    c.add_argument("--selftest", action="store_true",
                   help="first a seconds-long check of the device (ensemble vs single steps)")
    c.add_argument("--require-cuda", action="store_true", help="the self-test fails without CUDA")
    c.add_argument("--archive", help="write what this chunk added to the store (no weights) to "
                                     "this .tar.gz (at most 16 MiB)")
    c.set_defaults(func=cmd_compute)

    im = sub_parser("import", "merge an archive of `compute --archive` into the results store",
                    [results])
    im.add_argument("archive", help="the .tar.gz a GPU window brought back")
    im.set_defaults(func=cmd_import)

    t = sub_parser("train", "train one run (or load it from the store)", [results, device])
    t.add_argument("--net", required=True, choices=list(models.NETWORKS),
                   help="network of the paper's Table 1 (required)")
    t.add_argument("--batch-size", required=True, type=positive("--batch-size"),
                   help="minibatch size, 1 to the number of training examples (required)")
    t.add_argument("--seeds", nargs="+", type=checked(validate.seed, "--seeds"),
                   help="several trials (overrides --seed), e.g. --seeds 0 1 2 3 4")
    t.add_argument("--ensemble", action="store_true",
                   help="train the --seeds together in one vmapped step (lbsm.ensemble; the "
                        "default of `compute` on a GPU)")
    t.add_argument("--seed", type=checked(validate.seed, "--seed"), default=0,
                   help="trial: seeds the initial weights x0, the minibatch order and dropout")
    t.add_argument("--epochs", type=checked(validate.epochs, "--epochs"), default=100,
                   help="epochs (the maximum with --stop plateau)")
    t.add_argument("--stop", choices=train.STOPS, default="epochs",
                   help="epochs: train exactly --epochs; plateau: stop when the training loss "
                        "stops improving")
    t.add_argument("--precision", choices=precisions, default="fp32",
                   help="fp32: the paper's; bf16: autocast (fast only where the hardware has "
                        "native bf16); tf32: CUDA tensor cores")
    t.add_argument("--bn", choices=models.BN_POLICIES, default="batch",
                   help="BatchNorm policy of the per-epoch evaluation")
    t.add_argument("--train-subset", type=checked(validate.optional_subset, "--train-subset"),
                   help="use the first N training examples (default: all)")
    t.add_argument("--test-subset", type=checked(validate.optional_subset, "--test-subset"),
                   help="use the first N test examples (default: all)")
    t.add_argument("--checkpoints", action="store_true", help="keep the weights after every epoch")
    t.add_argument("--quiet", action="store_true", help="no progress bar")
    t.set_defaults(func=cmd_train)

    r = sub_parser("runs", "list the runs in the results store", [results])
    r.add_argument("--csv", action="store_true", help="print CSV instead of a table")
    r.add_argument("--verify", action="store_true",
                   help="check every run and analysis (schema, key, checksums) and MANIFEST.sha256; "
                        "exit 1 naming each file that fails or is not in the manifest")
    r.add_argument("--write-manifest", action="store_true",
                   help="seal runs written without meta_sha256, verify the store, and write "
                        "MANIFEST.sha256 (refused while anything fails)")
    r.set_defaults(func=cmd_runs)

    d = sub_parser("data", "check, download or stage the data files")
    d.add_argument("action", choices=["check", "download", "stage", "split", "reassemble"], nargs="?",
                   default="check",
                   help="check: what is there and how to get the rest; download: from the official "
                        "URLs; stage: MNIST and CIFAR-10 from --shared, else download; split: "
                        "CIFAR-10's archive from --shared into parts of <= 45 MB in --parts; "
                        "reassemble: join and verify those parts from --parts, unpack them")
    d.add_argument("names", nargs="*", metavar="NAME",
                   type=checked(validate.choice, "data set", choices=lbsm_data.DATASETS),
                   help=f"data sets ({', '.join(lbsm_data.DATASETS)}) (default: all)")
    d.add_argument("--data-dir", type=checked(validate.directory, "--data-dir"),
                   help="data directory (default: $LBSM_DATA, else ~/.cache/lbsm)")
    d.add_argument("--shared", type=checked(validate.directory, "--shared", must_exist=True),
                   help="folder with local copies of the official files, for stage "
                        "(default: $LBSM_SHARED)")
    d.add_argument("--parts", default=".gpu-parts",
                   help="folder of the parts (split writes it, reassemble reads it)")
    d.set_defaults(func=cmd_data)

    s = sub_parser("sharpness", "Metric 2.1 of a stored run's minimizer", [results, device])
    s.add_argument("run", help="run name or key prefix (see `runs`)")
    s.add_argument("--eps", type=checked(validate.finite_positive_float, "--eps"), default=1e-3,
                   help="box size epsilon, relative to |x| + 1")
    s.add_argument("--subspace", type=positive("--subspace"),
                   help="dimension p of a random subspace (default: the full space)")
    s.add_argument("--subspace-kind", choices=sharpness.SUBSPACE_KINDS, default="gaussian",
                   help="distribution of the random A: gaussian (N(0,1) entries) or uniform "
                        "([0,1)); '-unit': columns scaled to unit length")
    s.add_argument("--iters", type=positive("--iters"), default=10, help="L-BFGS-B iterations")
    s.add_argument("--bn", choices=models.BN_POLICIES, default="batch",
                   help="BatchNorm policy when evaluating f")
    s.add_argument("--subset", type=checked(validate.optional_subset, "--subset"),
                   help="evaluate f on the first N of the run's training examples (default: all)")
    s.add_argument("--seed", type=checked(validate.seed, "--seed"), default=0,
                   help="seed of the random subspace")
    s.add_argument("--start", choices=STARTS, default="sign",
                   help="L-BFGS-B start: the box vertex along the gradient (sign) or y = 0 (zero)")
    s.set_defaults(func=cmd_sharpness)

    i = sub_parser("interpolate", "parametric plot data of an SB/LB pair", [results, device])
    i.add_argument("sb_run", help="the small-batch run: name or key prefix (see `runs`)")
    i.add_argument("lb_run", help="the large-batch run: name or key prefix")
    i.add_argument("--kind", choices=landscape.KINDS, default="linear",
                   help="path from x_s (alpha 0) to x_l (alpha 1): linear (1 - a) x_s + a x_l, or "
                        "curvilinear sin(a pi/2) x_l + cos(a pi/2) x_s")
    i.add_argument("--points", type=checked(validate.at_least, "--points", minimum=2), default=25,
                   help="number of alphas in [-1, 2] (at least 2)")
    i.add_argument("--bn", choices=landscape.BN_POLICIES, default="batch",
                   help="BatchNorm policy along the path")
    i.add_argument("--out", help="also write the table to this CSV file (default: print only)")
    i.set_defaults(func=cmd_interpolate)
    return p


def error_message(exc: BaseException) -> str:
    """One line for the user: the message of the errors that carry one, else the error's type."""
    text = str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)
    from .core.store import DamagedError
    if isinstance(exc, (ValueError, KeyError, OSError, lbsm_data.DataError, DamagedError)) and text:
        return text
    return (f"{type(exc).__name__}: {text}".rstrip(": ") +
            " (run with `python -m lbsm --debug ...` to see the traceback)")


def check_environment() -> None:
    """A folder variable that is set but empty is an error: falling back to the default folder
    would read one store or data directory and report on another (the chapters read theirs)."""
    for var in ("LBSM_RESULTS", "LBSM_WEIGHTS", "LBSM_DATA"):
        value = os.environ.get(var)
        if value is not None and not value.strip():
            raise ValueError(f"${var} is set but empty; unset it (`unset {var}`) or set it to a folder")
        if value and Path(value).expanduser().is_file():
            raise ValueError(f"${var} {value} is a file, not a folder; point it at a folder")


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    debug = "--debug" in argv  # known before parsing, so that it covers the parser too
    try:
        a = parser().parse_args(argv)
        check_environment()
        return a.func(a)
    except BrokenPipeError:
        # the reader went away (`runs | head`): not an error; stdout is closed quietly
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        if debug:
            raise
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if debug:
            raise
        print(f"error: {error_message(exc)}", file=sys.stderr)
        return 2
