"""The commands of ``python -m lbsm`` (``lbsm.cli`` parses the arguments and calls one of them).

Each command imports what it uses when it runs, not before: ``train`` of a stored run needs the
protocol and the store, not the task graph, Metric 2.1 or the ensembles (tests/test_cli.py).
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from .core import validate

STARTS = ("sign", "zero")
RUN_COLUMNS = ("run", "net", "batch_size", "seed", "epochs", "stop", "train_subset", "test_subset",
               "precision", "lr", "bn_eval", "method", "augment", "init", "status", "epochs_run",
               "train_acc", "test_acc", "wall_seconds")


def store_of(a):
    """The results store of a command: ``--results`` (or ``$LBSM_RESULTS``) with the weights
    folder ``$LBSM_WEIGHTS`` names, as ``lbsm.cli.resolve`` filled them in."""
    from .core.store import Store
    return Store(a.results, weights=a.weights, allow_dirty=a.allow_dirty)


def cmd_train(a) -> int:
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
    store = store_of(a)
    t0 = time.perf_counter()
    stored = {c.key: store.is_finished(store.run_dir(c.net, c.key)) for c in cfgs}
    if not all(stored.values()):
        check_sizes(cfgs[0])
    if a.ensemble:
        from .train.ensemble import fit_ensemble  # only here: vmap, torch.func
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
    check_compute_options(a)
    chapters = "all" if "all" in a.chapters else a.chapters
    t0 = time.perf_counter()
    store = store_of(a)
    if a.budget is not None or a.dry_run:
        return compute_chunk(a, store, t0, chapters)
    skipped = missing_data(a.profile, a.nets, chapters)  # before any compute
    out = compute.compute(chapters, a.profile, executor=a.executor, scheduler=a.scheduler,
                          workers=a.workers, threads_per_worker=a.threads_per_worker,
                          nets=a.nets, store=store, progress=True)
    for name, ch in out.items():
        print(f"{name}: {len(ch.parts)} parts from {len(ch.runs)} runs ({ch.seconds:.1f} s)"
              + (f"; without {skipped}" if skipped else ""))
    print(f"profile {a.profile}, executor {a.executor}: {time.perf_counter() - t0:.1f} s; "
          f"results in {store.root}")
    return 0


def cmd_campaign(a) -> int:
    from .core.store import Store
    from .pipeline import campaign
    dst = store_of(a)
    c = campaign.campaign(a.name)
    if a.status:
        done = campaign.published(c, dst)
        print(f"campaign {a.name}: {len(done)} of {len(campaign.seeds(c))} trials published in "
              f"{dst.root} (seeds {', '.join(map(str, done)) or 'none'})")
        return 0
    staging = Store(a.staging, weights=a.weights)
    if staging.root.resolve() == dst.root.resolve():
        raise ValueError(f"--staging {a.staging} is the published store itself; give the results/ "
                         "of a clean checkout (git worktree add DIR HEAD)")
    done = campaign.run(a.name, staging, dst, until=a.until, commit=a.commit)
    print(f"campaign {a.name}: {len(done)} trial(s) published by this call; "
          f"{len(campaign.published(c, dst))} of {len(campaign.seeds(c))} in {dst.root}")
    return 0


def missing_data(profile: str, nets, chapters) -> str:
    """The networks of the profile whose data set is not in the data directory, as "F2 (timit),
    ..." ("": none). When none has its data, a chapter that trains would compute nothing and
    render empty tables: refused (DataError naming the folder and how to get the data)."""
    from .core import data as lbsm_data
    from .experiments import parameters
    from .experiments.plans import data_ready, dataset_of
    from .pipeline import compute
    P = parameters.override(profile, nets=nets)
    missing = {n: dataset_of(n) for n in P.nets if not data_ready(dataset_of(n))}
    names = compute.CHAPTERS if chapters == "all" else chapters
    if missing and len(missing) == len(P.nets) and set(names) - {"intro", "setup"}:
        sets = sorted(set(missing.values()))
        raise lbsm_data.DataError(
            f"no data to compute from: profile {profile} trains {', '.join(missing)}, and "
            f"{', '.join(sets)} is not in the data directory {lbsm_data.data_dir()}; nothing was "
            f"computed. Get it with `python -m lbsm data stage` or `python -m lbsm data download "
            f"{' '.join(sets)}` (`python -m lbsm data check` says what is there), or point "
            "$LBSM_DATA at the folder that holds it")
    return ", ".join(f"{n} ({d}: no data)" for n, d in missing.items())


def cmd_import(a) -> int:
    from .pipeline.chunks import import_archive
    store = store_of(a)
    out = import_archive(a.archive, store)
    if out["resumed"]:
        print(f"{len(out['resumed'])} finished from an import that was killed half-way")
    print(f"{len(out['added'])} added, {len(out['kept'])} already in {store.root}")
    return 0


def compute_chunk(a, store, t0, chapters="all") -> int:
    """``compute CHAPTER... --budget S [--dry-run]``: the missing work of the profile's
    ``chapters`` that fits S seconds, in ``lbsm.chunks.PRIORITY`` order, then the catalog's;
    optionally packed into ``--archive``."""
    from .pipeline import chunks
    from .pipeline import compute
    from .train import protocol as train
    budget = a.budget if a.budget is not None else float("inf")
    if a.selftest:
        print("self-test:", chunks.selftest(require_cuda=a.require_cuda))
    items = chunks._items(a.profile, chapters)
    pairs = {(c.net, c.batch_size) for _, ch, _, p in items for c in compute.graph(ch, p)[0].values()}
    if a.cost:
        cost = chunks.Cost.parse(a.cost, a.ensemble_speedup)
        missing = sorted(f"{n}@{b}" for n, b in pairs if f"{n}@{b}" not in cost.epoch_seconds)
        if missing:
            raise ValueError(f"--cost lacks {', '.join(missing)}; give NET@BATCH=SECONDS for each")
    else:
        cost = chunks.Cost.measure(pairs, ensemble_speedup=a.ensemble_speedup)
    items = chunks.plan(a.profile, budget, cost, store, chapters)
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
    from .core import data as lbsm_data
    ds = lbsm_data.load(cfg.dataset)
    n_train = validate.optional_subset("--train-subset", cfg.train_subset, len(ds.x_train))
    validate.optional_subset("--test-subset", cfg.test_subset, len(ds.x_test))
    validate.batch_size(cfg.batch_size, n_train or len(ds.x_train))


def cmd_runs(a) -> int:
    from .core.manifest import MANIFEST
    store = store_of(a)
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
    from .core import data as lbsm_data
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


def cmd_cost(a) -> int:
    from .experiments import profiles
    from .pipeline import costs
    rates = costs.record_rates() if a.measure else costs.read_rates()
    if a.measure:
        print(f"recorded in {costs.RATES}: " + ", ".join(
            f"{n} {v['flop_per_s'] / 1e9:.1f} GFLOP/s" for n, v in rates["rates"].items()))
    P = profiles.get(a.profile)
    nets = [n.strip() for n in a.nets.split(",")] if a.nets else list(P.nets)
    for n in nets:
        P.net(n)  # a network the profile does not train: a clear error
    import pandas as pd
    df = pd.DataFrame([costs.cost_row(P, n, rates) for n in nets]).set_index("net")
    with pd.option_context("display.width", 250, "display.max_colwidth", 200):
        print(df.round(2).to_string())
    print(f"GPU rate: {costs.GPU_RATE_SOURCE}")
    return 0


def stage(root: Path, shared: Path | None) -> int:
    """Make MNIST and CIFAR-10 ready in the data directory: from a local copy of the official files
    (``--shared`` / ``$LBSM_SHARED``) when there is one, else by download."""
    import shutil

    from .core import data as lbsm_data
    shared = shared or (Path(os.environ["LBSM_SHARED"]) if os.environ.get("LBSM_SHARED") else None)
    for name in ("mnist", "cifar10"):
        if not lbsm_data.check(name, root):
            print(f"{name}: ready in {root}")
            continue
        if shared and name == "mnist" and (shared / "mnist").is_dir():
            (root / "mnist").mkdir(parents=True, exist_ok=True)
            for rel in lbsm_data.MNIST_FILES:
                try:
                    shutil.copyfile(shared / rel, root / rel)
                except OSError as exc:  # a full disk names the file and the fix
                    raise lbsm_data.write_error(exc, root / rel, f"copying {shared / rel}") from None
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
    from .experiments.stored import sharpness_of_run
    if a.subspace is None and a.subspace_kind != "gaussian":
        raise ValueError(f"--subspace-kind {a.subspace_kind} only works with --subspace P (the "
                         "full space has no random subspace); add --subspace or leave it out")
    if a.subset is not None:
        from .core import data as lbsm_data
        from .train.protocol import Run
        store = store_of(a)
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
    from .experiments.stored import interpolate_runs
    if a.out:
        validate.writable_file("--out", a.out)  # before the computation, not after it
    store = store_of(a)
    if store.find(a.sb_run) == store.find(a.lb_run):
        raise ValueError(f"{a.sb_run} and {a.lb_run} are the same run ({store.find(a.sb_run).name}); "
                         "give an SB run and a different LB run (see `python -m lbsm runs`)")
    df = interpolate_runs(a.sb_run, a.lb_run, kind=a.kind, points=a.points, bn=a.bn,
                          results=a.results, device=a.device)
    print(df.to_string(index=False))
    if a.out:
        df.to_csv(a.out, index=False)
    return 0

