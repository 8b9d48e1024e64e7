"""Short GPU windows: plan the missing work that fits, check the device first, bring results home.

A window is a few minutes on a borrowed GPU whose files vanish with it (the README's "On a GPU"
section gives the exact sequence). Three pieces:

* :func:`plan`: the profile's missing work in a fixed priority order (``PRIORITY``, then every
  other chapter and network of the profile, in the catalog's order), each item
  with an estimated cost from :class:`Cost` (seconds per epoch per network and batch size,
  measured on the device in its first seconds, or given), and the prefix of items that fits the
  budget. ``python -m lbsm compute --profile paper --budget 540 --dry-run`` prints it.
* :func:`selftest`: a few seconds: the device is what was asked for, and one ensemble step equals
  the single steps it replaces. A broken path costs seconds, not the window.
* :func:`export` / :func:`import_archive`: what a chunk added to the store (runs and analyses, no
  weights) as one ``.tar.gz``, merged into the published dataset at home after each file is
  verified (a run or analysis already there is kept).
"""
from __future__ import annotations

import io
import json
import math
import re
import tarfile
import tempfile
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import torch

from . import compute
from ..train import ensemble
from ..core import data as lbsm_data
from ..core import catalog, machine, validate, weights
from ..core.data import Dataset
from ..core.files import finish_staged, publish_staged, write_atomic
from ..core.manifest import PUBLISHED_PATH
from ..core import models
from ..experiments import parameters
from ..experiments.plans import data_ready, dataset_of
from ..train import protocol as train
from ..core.store import Store, analysis_problem

# (what, chapter, network or None for every network of the chapter's knobs), most important first
PRIORITY = [
    ("C1: Table 2, Fig. 2", "gap", "C1"),
    ("C1: Tables 3-4", "sharpness", "C1"),
    ("C1: Figs. 3, 7", "interpolation", "C1"),
    ("C2: Table 2", "gap", "C2"),
    ("C2: Table 3", "sharpness", "C2"),
    ("C1: Figs. 4-6", "small_batches", "C1"),
    ("Tables 6-7", "remedies", None),
    # beyond the paper (issue 17) after the paper's own artifacts: C1, then C2
    ("C1: beyond the paper", "beyond", "C1"),
    ("C2: beyond the paper", "beyond", "C2"),
]
# epochs a run with the plateau rule is expected to take (the paper's curves flatten by then);
# its maximum (``epochs``) is what a run may take, so the budget check uses this guess only for
# runs already known to stop early and the maximum otherwise (see ``Cost.epochs``)
PLATEAU_GUESS = 100
SHARPNESS_EVALS = 12   # f + grad evaluations of one Metric 2.1 solve with 10 L-BFGS-B iterations


@dataclass
class Cost:
    """Seconds per training epoch per (network, batch size); ``ensemble_speedup``: how many
    times faster per model-epoch the seeds of one protocol train together (1 on a CPU)."""
    epoch_seconds: dict = field(default_factory=dict)   # "C1@256" -> seconds
    ensemble_speedup: float = 1.0
    plateau_epochs: int = PLATEAU_GUESS

    def epoch(self, net: str, batch: int) -> float:
        key = f"{net}@{batch}"
        if key not in self.epoch_seconds:
            raise KeyError(f"no cost for {key}: measure it (Cost.measure) or give it "
                           f"(--cost {key}=SECONDS)")
        return self.epoch_seconds[key]

    def run(self, cfg: train.TrainConfig, seeds_together: int = 1) -> float:
        epochs = min(cfg.epochs, self.plateau_epochs) if cfg.stop == "plateau" else cfg.epochs
        speed = self.ensemble_speedup if seeds_together > 1 else 1.0
        return epochs * self.epoch(cfg.net, cfg.batch_size) / speed

    @classmethod
    def measure(cls, pairs, device=None, steps: int = 5, ensemble_speedup: float = 1.0,
                probe: int | None = None) -> "Cost":
        """Time ``steps`` training steps of each (net, batch size) on ``device`` (data resident,
        after one warm-up step) and extrapolate to an epoch, evaluation included.

        On a CPU a step's time grows linearly with the batch, so the steps run on a slice of
        ``probe`` examples (default 256 on a CPU, the whole batch on a GPU) and are scaled to
        the batch: a dry run takes seconds, not minutes of C2 steps at B = 5000."""
        device = torch.device(device) if device else train.default_device()
        probe = probe or (None if device.type == "cuda" else 256)
        out = {}
        for net, batch in sorted(set(pairs)):
            ds = lbsm_data.load(models.NETWORKS[net][0], device=device)
            cfg = train.TrainConfig(net, batch)
            m = models.build(net, 0).to(device)
            opt = torch.optim.Adam(m.parameters())
            n = min(batch, probe or batch)
            x, y = ds.x_train[:n], ds.y_train[:n]
            train.adam_step(m, opt, x, y, cfg)
            _sync(device)
            t0 = time.perf_counter()
            for _ in range(steps):
                train.adam_step(m, opt, x, y, cfg)
            _sync(device)
            step = (time.perf_counter() - t0) / steps * batch / n
            n_eval = min(len(ds.x_test), 5000 if device.type == "cuda" else 500)
            t0 = time.perf_counter()
            with machine.arithmetic(cfg.precision, device):
                train.evaluate(m, ds.x_test[:n_eval], ds.y_test[:n_eval])
            _sync(device)
            evaluation = (time.perf_counter() - t0) * (len(ds.x_train) + len(ds.x_test)) / n_eval
            out[f"{net}@{batch}"] = step * math.ceil(len(ds.x_train) / batch) + evaluation
        return cls(out, ensemble_speedup)

    @classmethod
    def parse(cls, items: list[str], ensemble_speedup: float = 1.0) -> "Cost":
        """``["C1@256=1.5", ...]`` (seconds per epoch, finite and > 0) as a Cost."""
        out = {}
        for item in items:
            key, sep, value = item.partition("=")
            net, at, batch = key.partition("@")
            if not (sep and at and net in models.NETWORKS and batch.isdigit() and int(batch) > 0):
                raise ValueError(f"--cost {item!r}: write NET@BATCH=SECONDS, e.g. C1@256=1.5 "
                                 f"(NET one of {', '.join(models.NETWORKS)})")
            if key in out:
                raise ValueError(f"--cost {item!r}: {key} is given twice; give it once")
            try:
                out[key] = validate.finite_positive_float(f"--cost {key}", value)
            except ValueError as exc:
                raise ValueError(f"{exc} (seconds per epoch)") from None
        return cls(out, ensemble_speedup)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@dataclass
class Item:
    what: str
    chapter: str
    net: str | None
    missing: list = field(default_factory=list)    # TrainConfigs not yet in the store
    solves: int = 0                                # analyses not yet in the store (a floor)
    seconds: float = 0.0
    fits: bool = False
    partial: list = field(default_factory=list)    # of an item that does not fit: runs that do


def _items(profile: str, chapters=None) -> list[tuple[str, str, str | None, object]]:
    """(what, chapter, net, chapter plan) of the profile's work that can run here: the
    ``PRIORITY`` items first, then every other (chapter, network) of the profile in the catalog's
    order, so that a profile whose networks the priority list does not name (``cpu``: F1) still
    has its work planned. ``chapters``: only these chapters (None or "all": every one)."""
    P = parameters.override(profile)
    wanted = set(compute.CHAPTERS) if chapters in (None, "all") else set(chapters)
    for name in wanted:
        compute.chapter_def(name)  # an unknown name is refused with the known ones
    whole = {ch for _, ch, net in PRIORITY if net is None}   # one item covers every network
    listed = {(ch, net) for _, ch, net in PRIORITY}
    order = PRIORITY + [(f"{net}: {ch}", ch, net) for ch in compute.CHAPTERS if ch not in whole
                        for net in P.nets if (ch, net) not in listed]
    out = []
    for what, chapter, net in order:
        if chapter not in wanted:
            continue
        if net is not None and (net not in P.nets or not data_ready(dataset_of(net))):
            continue
        Pn = parameters.override(profile, nets=net) if net else P
        out.append((what, chapter, net, compute.plan_of(chapter, Pn, net)))
    return out


def plan(profile: str, budget: float, cost: Cost, store: Store | None = None,
         chapters=None) -> list[Item]:
    """The missing work of ``profile`` (of ``chapters``, None: all) in ``PRIORITY`` order, then
    the catalog's (:func:`_items`), with estimated seconds (a run shared
    by several items is counted in the first). Items that fit ``budget`` in that order are marked
    ``fits``; of the first that does not, the leading groups of runs that still fit are marked
    ``partial`` (trained now, analysed in a later window); everything after waits, so that the
    next window starts where this one stopped."""
    store = store or Store()
    items, used, open_, planned = [], 0.0, True, set()
    # what the store already holds, read once: runs with a Metric 2.1 solve, SB runs with curves
    solved, drawn = _stored(store, "sharpness", "run"), _stored(store, "interpolation", "sb")
    for what, chapter, net, p in _items(profile, chapters):
        cfgs, _ = compute.graph(chapter, p)
        missing = [c for n, c in cfgs.items() if n not in planned
                   and not store.is_finished(store.run_dir(c.net, c.key))]
        planned |= set(cfgs)
        it = Item(what, chapter, net, missing)
        groups = ensemble.groups(missing)
        it.seconds = sum(cost.run(c, len(g)) for g in groups for c in g)
        if chapter == "interpolation":  # two curves of 25 points, each point one evaluation
            firsts = [c for c in cfgs.values() if c.seed == min(x.seed for x in cfgs.values())]
            undrawn = [c for c in firsts if c.name not in drawn
                       and c.batch_size == train.SB_BATCH]
            it.solves = 2 * len(undrawn)
            it.seconds += sum(2 * 25 * cost.epoch(c.net, c.batch_size) / 3 for c in undrawn)
        if catalog.REGISTRY[chapter].solves:  # Metric 2.1 on each run (lbsm.core.catalog)
            unsolved = [c for n, c in cfgs.items() if n not in solved]
            it.solves = 2 * len(unsolved)  # two eps per final minimizer: a floor (Table 4 adds more)
            # one f + grad over the training set costs about half a training epoch
            it.seconds += sum(2 * SHARPNESS_EVALS * cost.epoch(c.net, c.batch_size) / 2 for c in unsolved)
        if not missing and not it.solves:
            continue
        it.fits = open_ and used + it.seconds <= budget
        if it.fits:
            used += it.seconds
        elif open_:
            for g in groups:  # whole protocols (seeds together) while they fit
                t = sum(cost.run(c, len(g)) for c in g)
                if used + t > budget:
                    break
                it.partial += g
                used += t
            open_ = False
        items.append(it)
    return items


def _stored(store: Store, kind: str, param: str) -> set:
    """The values of ``param`` over the stored analyses of ``kind`` (e.g. the runs solved)."""
    df = store.analyses(kind)
    return set(df[f"param_{param}"]) if f"param_{param}" in df else set()


def chunk_seconds(items: list[Item], cost: Cost) -> float:
    """Estimated seconds of what the chunk starts (whole items and the partial one's runs)."""
    partial = [c for it in items for c in it.partial]
    return (sum(it.seconds for it in items if it.fits)
            + sum(cost.run(c, len(g)) for g in ensemble.groups(partial) for c in g))


def plan_text(items: list[Item], budget: float, cost: Cost) -> str:
    lines = [f"{'':2}{'work':28} {'runs':>5} {'analyses':>8} {'est. s':>8}  in this chunk"]
    for it in items:
        now = ("yes" if it.fits else f"{len(it.partial)} of its runs (analyses next window)"
               if it.partial else "no (next window)")
        lines.append(f"{'>' if it.fits or it.partial else ' ':2}{it.what:28} {len(it.missing):5d} "
                     f"{it.solves:8d} {it.seconds:8.0f}  {now}")
    total = chunk_seconds(items, cost)
    lines.append(f"chunk: {total:.0f} s of the {budget:.0f} s budget; "
                 f"{sum(not it.fits for it in items)} item(s) left for later windows")
    return "\n".join(lines)


# --------------------------------------------------------------------------- self-test
def selftest(device=None, require_cuda: bool = False) -> dict:
    """Seconds, not the window: the device is the one asked for, a training step runs, and one
    ensemble step of two seeds equals their two single steps (no dropout: F1). Raises on failure."""
    t0 = time.perf_counter()
    device = torch.device(device) if device else train.default_device()
    if require_cuda and device.type != "cuda":
        raise RuntimeError("self-test: CUDA is not available (torch.cuda.is_available() is False)")
    g = torch.Generator().manual_seed(0)
    x, y = torch.rand(512, 784, generator=g), torch.randint(0, 10, (512,), generator=g)
    ds = Dataset("mnist", x, y, x[:128], y[:128], 10)  # synthetic, in MNIST's layout
    with tempfile.TemporaryDirectory() as tmp:
        cfgs = [train.TrainConfig("F1", 512, seed=s, epochs=1, precision="fp32") for s in (0, 1)]
        single = [train._train(c, Store(Path(tmp) / "a"), c.name, ds, device, False)[0]
                  for c in cfgs]
        together = ensemble.train_together(cfgs, Store(Path(tmp) / "b"), ds, device, False)
    worst = max(abs(a.train_loss.iloc[-1] - b.train_loss.iloc[-1]) / max(1e-12, abs(a.train_loss.iloc[-1]))
                for a, (b, _) in zip(single, together))
    if not worst < 1e-4:
        raise RuntimeError(f"self-test: ensemble and single steps disagree (relative {worst:.2e})")
    return {"device": str(device), "name": machine.device_name(device),
            "ensemble_vs_single": worst, "seconds": time.perf_counter() - t0}


# --------------------------------------------------------------------------- archives
# what an archive may hold: a window's runs and analyses are a few MiB; anything far bigger, or
# with more members, is refused before one byte is unpacked (a small archive can expand a lot)
MAX_MEMBERS = 20_000
MAX_MEMBER_BYTES = 32 * 2**20
MAX_TOTAL_BYTES = 128 * 2**20
STAGING = ".importing-"  # an import's staging folder in the store's root (git-ignored)


def snapshot(store: Store) -> set[str]:
    """The published files of a store (runs and analyses), relative to its root."""
    return set(store.published_files())


def export(store: Store, archive: str | Path, since: set[str] | None = None,
           limit_bytes: int = 16 * 2**20) -> dict:
    """The store's runs and analyses (those not in ``since``) as one ``.tar.gz``, no weights;
    refuses to write one over ``limit_bytes`` (what a window can bring back)."""
    files = sorted(snapshot(store) - (since or set()))
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for rel in files:
            tar.add(store.root / rel, arcname=rel)
    if buf.tell() > limit_bytes:
        raise ValueError(f"the archive would be {buf.tell() / 2**20:.1f} MiB, over the "
                         f"{limit_bytes / 2**20:.0f} MiB a window brings back; export fewer results")
    write_atomic(Path(archive), buf.getvalue())
    return {"files": len(files), "bytes": buf.tell(), "archive": str(archive)}


def _read_members(archive: Path) -> dict[str, bytes]:
    """{member name: bytes} of an exported archive, checked before anything is unpacked: only
    regular files named ``runs/<NET>-<key>/<file>`` or ``analyses/<kind>/<key>.json`` (and their
    folders), at most ``MAX_MEMBERS`` members and ``MAX_TOTAL_BYTES`` in all. Sizes are read from
    the headers, so an oversized member is refused before it is decompressed."""
    if not archive.is_file():
        raise ValueError(f"{archive}: no such file; give the .tar.gz that `compute --archive` wrote")
    out, total, count = {}, 0, 0
    try:
        with tarfile.open(archive, mode="r:gz") as tar:
            for m in tar:
                count += 1
                where = f"{archive}: member {m.name!r}"
                if count > MAX_MEMBERS:
                    raise ValueError(f"{archive}: more than {MAX_MEMBERS} members; not an archive "
                                     "of `compute --archive`, nothing imported")
                name = m.name.removeprefix("./").rstrip("/")
                if m.isdir():
                    if not re.fullmatch(r"(runs|analyses)(/[A-Za-z0-9_]+(-[0-9a-f]{16})?)?", name):
                        raise ValueError(f"{where}: not a folder an export holds; nothing imported")
                    continue
                if not m.isreg() or not PUBLISHED_PATH.fullmatch(name):
                    kind = "a regular file" if m.isreg() else "a link or special file"
                    raise ValueError(f"{where}: {kind} that is not runs/<NET>-<key>/<file> or "
                                     "analyses/<kind>/<key>.json; nothing imported")
                if name in out:
                    raise ValueError(f"{where}: appears twice; nothing imported")
                total += m.size
                if m.size > MAX_MEMBER_BYTES or total > MAX_TOTAL_BYTES:
                    raise ValueError(f"{where}: the archive unpacks to more than "
                                     f"{MAX_TOTAL_BYTES // 2**20} MiB (or a member over "
                                     f"{MAX_MEMBER_BYTES // 2**20} MiB); refused before unpacking, "
                                     "nothing imported")
                f = tar.extractfile(m)
                out[name] = f.read() if f is not None else b""
    except (tarfile.TarError, EOFError, OSError, zlib.error) as exc:
        raise ValueError(f"{archive}: not a complete .tar.gz ({type(exc).__name__}: {exc}); copy "
                         "it again (it may be truncated); nothing imported") from None
    return out


def import_archive(archive: str | Path, store: Store | None = None) -> dict:
    """Merge an exported archive into ``store`` (default: the published dataset), as untrusted
    input: the members are checked before unpacking (:func:`_read_members`), every run and
    analysis is verified (schema, key recomputed, checksums) in a private folder, and only then is
    anything moved into the store, all or nothing, under the store's import lock (one import at a
    time). Every value a run stores must also be plausible (:func:`_run_values_problem`). What the
    store already holds is kept as it is. Errors name the archive and member. An import killed
    half-way is finished (or, killed before its journal, undone) by the next one
    (:func:`lbsm.core.files.finish_staged`); ``resumed`` lists what that completed."""
    store = store or Store()
    archive = Path(archive)
    members = _read_members(archive)
    with tempfile.TemporaryDirectory(prefix="lbsm-import-") as tmp:
        for name, blob in members.items():
            (Path(tmp) / name).parent.mkdir(parents=True, exist_ok=True)
            (Path(tmp) / name).write_bytes(blob)
        src = Store(tmp)
        runs = sorted(p for p in Path(tmp).glob("runs/*") if p.is_dir())
        for d in runs:
            if not (d / "meta.json").is_file():
                raise ValueError(f"{archive}: member runs/{d.name}/ has no meta.json (an "
                                 "unfinished run); nothing imported")
            if problem := src.run_problem(d) or _run_values_problem(d):
                raise ValueError(f"{archive}: member {problem.replace(tmp + '/', '')}; nothing imported")
        analyses = sorted(Path(tmp).glob("analyses/*/*.json"))
        for f in analyses:
            try:
                problem = analysis_problem(json.loads(f.read_text()), f)
            except ValueError as exc:
                problem = f"not JSON ({exc})"
            if problem:
                raise ValueError(f"{archive}: member {f.relative_to(tmp)}: {problem}; nothing imported")
        for f in analyses:  # one model, one set of weights: an analysis of the runs as they will be
            if problem := weights.import_problem(store.root, Path(tmp), json.loads(f.read_text())):
                raise ValueError(f"{archive}: member {f.relative_to(tmp)}: {problem}; nothing "
                                 "imported (import it into a store of its own: --results DIR)")
        with store.lock("import"):
            resumed = finish_staged(store.root, STAGING)
            rels = [str(p.relative_to(tmp)) for p in runs + analyses]
            kept = [r for r in rels if (store.root / r).exists()]
            # staged inside the store's file system (a hidden folder nothing lists), journalled,
            # then renamed into place; a failure puts back what was already moved
            added = publish_staged(store.root, {r: Path(tmp) / r for r in rels if r not in kept},
                                   STAGING)
    return {"added": added, "kept": kept, "resumed": resumed}


def _run_values_problem(run_dir: Path) -> str | None:
    """"FILE: what" for a value of an (intact) run that training could not have written, or a
    config this code would not accept (None: plausible); see :func:`validate.run_values_problem`."""
    config, meta = (json.loads((run_dir / f).read_text()) for f in ("config.json", "meta.json"))
    history = pd.read_csv(run_dir / "history.csv").to_dict("records")
    if problem := validate.run_values_problem(config, meta, history):
        return f"runs/{run_dir.name}/{problem}"
    try:
        train.TrainConfig(**{k: v for k, v in config.items() if k not in ("train_code_version", "data_md5")})
    except (TypeError, ValueError) as exc:
        return f"runs/{run_dir.name}/config.json: not a config this code accepts ({exc})"
    return None
