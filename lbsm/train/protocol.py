"""The paper's training protocol: ADAM on the mean cross-entropy, SB = 256 vs LB = 10% of the data.

A run is what its :class:`~lbsm.train.config.TrainConfig` determines; this module trains it (or
loads it from the store), resumes it when interrupted, retrains it when its weights are lost, and
hands it back as a :class:`Run`.

Fast by construction (as airbench): the whole data set is a tensor on the device, each epoch
draws one permutation and slices minibatches out of it, evaluation runs in batches of 5000, and
nothing synchronizes with the host inside an epoch. Same config and seed on the same machine give
the same history.

Protocol choices the paper leaves open (stated once here and in the book):

* ADAM with lr 1e-3, betas (0.9, 0.999), eps 1e-8, no schedule or weight decay: the framework
  defaults the official code ran with (``optimizer='adam'``).
* The last, smaller minibatch of an epoch is kept, as Keras ``fit`` does.
* Stopping: ``stop="plateau"`` (every profile but ``smoke``) reads "until the loss function
  ceased to improve" as Keras' ``EarlyStopping(monitor="loss", patience=5, min_delta=...)``: after
  every epoch the mean cross-entropy on the whole training set (the run's) is computed; the run
  stops after the first epoch at which none of the last ``patience`` (5) epochs has beaten the best
  loss before them by more than ``min_delta`` (absolute), or at the cap ``epochs``; a run the cap
  ended has ``meta["stopped_by"] == "cap"`` and the tables say so. ``min_delta`` is 0 (any
  decrease improves, the framework's default) under the adopted readings (profile ``cpu-v2``,
  ``lbsm.experiments.readings``), 1e-4 under the earlier ones (profile ``cpu``); the
  sensitivity chapter shows both. ``stop="epochs"`` trains exactly ``epochs`` epochs.
* Precision: fp32, as the paper (``lbsm.machine.arithmetic``); bf16 / TF32 only where named.
* The SB and LB runs of trial ``seed`` start from the same weights x0 = ``models.build(net, seed)``.
* A run whose loss becomes NaN/inf stops at the end of that epoch and is stored as ``diverged``.
"""
from __future__ import annotations

import dataclasses
import math
import os
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm  # text bars: the notebooks pass progress=False, ipywidgets is not needed

from ..core import data as lbsm_data
from ..core import machine
from ..core import models
from ..core import validate
from ..core import weights
from . import closing, remedies
from ..core.constants import EVAL_BATCH, SB_BATCH, STOPS  # noqa: F401 - lbsm.train.protocol.SB_BATCH, .STOPS
from ..core.files import (load_json, load_torch, save_json, save_torch, sha256, state_sha256,
                          write_atomic)
from ..core.machine import arithmetic, check_precision
from ..core.records import RUN_FILES, seal_meta
from ..core.store import DamagedError, Store
from .config import TrainConfig, lb_batch  # noqa: F401 - lb_batch: lbsm.train.protocol.lb_batch

HISTORY_METRICS = ("train_loss", "train_acc", "test_loss", "test_acc")


def default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


@torch.no_grad()
def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = EVAL_BATCH,
             bn: str = "batch") -> tuple[float, float]:
    """Mean cross-entropy (accumulated in float64) and accuracy in % over (x, y)."""
    total, correct = torch.zeros((), dtype=torch.float64, device=x.device), 0
    with models.evaluation(model, bn):
        for i in range(0, len(x), batch_size):
            logits = model(x[i:i + batch_size]).float()
            yb = y[i:i + batch_size]
            total += F.cross_entropy(logits, yb, reduction="sum").double()
            correct += (logits.argmax(1) == yb).sum()
    return total.item() / len(x), 100.0 * int(correct) / len(x)


def adam_step(model, opt, xb, yb, cfg: TrainConfig) -> torch.Tensor:
    """One plain ADAM step on the minibatch mean cross-entropy; returns the (detached) loss."""
    return closing._adam(model, opt, xb, yb, cfg, model)


def step_function(method: str):
    if method == "adam":
        return adam_step
    if method not in remedies.METHODS:
        raise ValueError(f"unknown training method {method!r}; choose 'adam' or one of "
                         f"{', '.join(remedies.METHODS)}")
    return remedies.METHODS[method]


def train_epoch(model, opt, step, xtr, ytr, cfg: TrainConfig, epoch: int, augment=None,
                aug_gen=None) -> float:
    """One epoch: a seeded permutation of the resident data, minibatches sliced out of it, one
    ``step`` each. Returns the mean minibatch loss (the only host sync of the epoch)."""
    n, device = len(xtr), xtr.device
    model.train()
    gen = torch.Generator(device=device).manual_seed(cfg.seed * 100003 + epoch)
    perm = torch.randperm(n, device=device, generator=gen)
    loss_sum = torch.zeros((), device=device)
    for i in range(0, n, cfg.batch_size):
        idx = perm[i:i + cfg.batch_size]
        xb, yb = xtr[idx], ytr[idx]
        if augment is not None:
            xb = augment(xb, aug_gen)
        loss_sum += step(model, opt, xb, yb, cfg).float() * len(idx)
    return loss_sum.item() / n


class WeightsMissing(FileNotFoundError):
    """A run's weights are not in the weights cache, and reading a run does not train it."""


@dataclass
class Run:
    """A stored run: its config, per-epoch history, metadata, and (in the weights cache) weights."""
    config: TrainConfig
    path: Path
    history: pd.DataFrame
    meta: dict
    store: Store | None = None

    @property
    def key(self) -> str:
        return self.config.key

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def status(self) -> str:
        return self.meta["status"]

    @property
    def final(self) -> dict:
        return self.history.iloc[-1].to_dict()

    @property
    def weights(self) -> Path:
        return (self.store or Store(self.path.parent.parent)).weights_dir(self.name)

    def state(self, which: str | int = "final", restore: bool = False) -> dict:
        """Weights: ``"final"``, ``"x0"`` or an epoch number (needs ``checkpoints=True``). Reading
        never trains: weights missing (they are not published), unreadable or not the record's (set
        aside) raise :class:`WeightsMissing`, unless ``restore=True`` (an analysis's explicit call)
        trains the run again (:func:`restore_weights`; ``retrained.json`` records the deviation)."""
        if not isinstance(which, str) and not self.config.checkpoints:
            raise FileNotFoundError(f"run {self.name} keeps no epoch weights (checkpoints=False); "
                                    f"asked for epoch {which}")
        f = self.weights / (f"{which}.pt" if isinstance(which, str) else f"epochs/{which:04d}.pt")
        if f.is_file():
            try:
                state = load_torch(f)
            except Exception as exc:  # noqa: BLE001 - truncated or foreign: a cache entry to remake

                dest = f.with_name(f.name + ".damaged")
                os.replace(f, dest)
                warnings.warn(f"{f} could not be read ({type(exc).__name__}); set aside as "
                              f"{dest.name}" + (f", retraining run {self.name}" if restore else ""))
            else:
                if self._holds(which, state):
                    return state
                dest = f.with_name(f.name + ".other")
                os.replace(f, dest)
                warnings.warn(f"{f} holds other weights than run {self.name}'s record (its hash "
                              f"differs from meta.json's weights_sha256); set aside as {dest.name}"
                              + (", retraining the run" if restore else ""))
        if not restore:
            raise WeightsMissing(f"{f}: run {self.name}'s weights are not in the weights cache; reading "
                                 "a run never trains it: Run.state(restore=True) trains it again")
        restore_weights(self, needed=f)
        if not f.is_file():
            raise FileNotFoundError(f"{f} is not stored, and retraining run {self.name} did not "
                                    "produce it")
        return load_torch(f)

    def _holds(self, which, state: dict) -> bool:
        """Whether ``state`` are the weights this run's record vouches for: the final weights
        must have the record's ``weights_sha256`` (a record without one predates the hash)."""
        want = self.meta.get("weights_sha256")
        return which != "final" or want is None or state_sha256(state) == want

    def model(self, which: str | int = "final", device=None, restore: bool = False) -> nn.Module:
        m = models.build(self.config.net)
        m.load_state_dict(self.state(which, restore))
        return m.to(device or default_device())

    @classmethod
    def load(cls, path: Path, store: Store | None = None) -> "Run":
        """A finished run from its folder; a damaged one is set aside and DamagedError raised."""
        (store or Store(path.parent.parent)).check_run(path)
        cfg = load_json(path / "config.json")
        cfg.pop("train_code_version", None)
        cfg.pop("data_md5", None)
        try:
            config = TrainConfig(**cfg)
        except (TypeError, ValueError) as exc:  # intact, but not a config of this code
            raise DamagedError(f"{path / 'config.json'}: not a TrainConfig of this code ({exc}); "
                               "nothing was moved") from None
        return cls(config, path, pd.read_csv(path / "history.csv"), load_json(path / "meta.json"),
                   store)


def initial_state(cfg: TrainConfig, store: Store) -> dict:
    if cfg.init is None:
        return models.build(cfg.net, cfg.seed).state_dict()
    run_name, _, epoch = cfg.init.partition("@")
    return Run.load(store.find(run_name), store).state(int(epoch) if epoch else "final", restore=True)


def fit(cfg: TrainConfig, store: Store | None = None, dataset: lbsm_data.Dataset | None = None,
        device=None, progress: bool = True) -> Run:
    """Train ``cfg`` (or load it from the store if it was trained before) and return the Run.

    An interrupted run resumes from its last finished epoch. Concurrent callers (Dask workers)
    train a config once: the others wait for the run's lock and then load it.
    """
    store = store or Store()
    path = store.run_dir(cfg.net, cfg.key)
    if store.is_finished(path):
        try:
            return Run.load(path, store)  # verified once here; a damaged run is set aside
        except DamagedError as exc:
            if store.is_finished(path):  # not set aside (unsealed): reported, not retrained
                raise

            warnings.warn(f"{exc} Training it again now.")
    if not store.is_finished(path):
        store.check_publishable()  # before training: nothing computed is thrown away
        with store.lock(f"run-{path.name}"):
            if not store.is_finished(path):
                publish(cfg, store, *_train(cfg, store, path.name, dataset, device, progress))
    return Run.load(path, store)


def publish(cfg: TrainConfig, store: Store, history: pd.DataFrame, meta: dict) -> None:
    """Write a finished run into the published store: config, history, then (last, with the
    checksums of the other two and the hash of the final weights, which must be in the weights
    cache) the metadata whose presence marks the run finished."""
    path = store.run_dir(cfg.net, cfg.key)
    # the hash of the final weights: every analysis records the hash it measured, and the store
    # serves an analysis only beside the run record that holds the same hash
    final = load_torch(store.weights_dir(path.name) / "final.pt")
    meta = {**meta, "weights_sha256": state_sha256(final)}
    save_json(cfg.key_dict(), path / "config.json")
    write_atomic(path / "history.csv", history.to_csv(index=False).encode())
    # meta.json: the checksums of the other two, and (meta_sha256) of its own content
    save_json(seal_meta({**meta, "sha256": {f: sha256(path / f) for f in RUN_FILES}}), path / "meta.json")


def restore_weights(run: Run, needed: Path | None = None, device=None, progress: bool = False) -> dict:
    """Train a published run again to get its weights back (they are not published), unless the
    ``needed`` weights file (default: ``final.pt``) is there by the time the run's lock is held.

    When the retrain reproduces the recorded weights bitwise (their hash is the record's
    ``weights_sha256``) the record stays as it is. Otherwise (training differs in rounding between
    CPUs and GPUs, thread counts and library versions) the retrain becomes the run's record: its
    history and metadata replace the old ones, and the analyses of the old weights and the runs
    warm-started from them are set aside. ``retrained.json`` in the run's folder records each
    retrain: where, the weights hashes before and after, and the largest absolute deviation of
    each per-epoch metric from the history it replaced.
    """
    store = run.store or Store(run.path.parent.parent)
    needed = needed or store.weights_dir(run.name) / "final.pt"
    with store.lock(f"run-{run.name}"):
        if needed.is_file():  # another worker remade it meanwhile
            return {}
        store.check_publishable()
        history, meta = _train(run.config, store, run.name, None, device, progress)
        both = run.history.merge(history, on="epoch", suffixes=("", "_new"))
        dev = {m: float((both[m] - both[f"{m}_new"]).abs().max()) for m in HISTORY_METRICS}
        new_sha = state_sha256(load_torch(store.weights_dir(run.name) / "final.pt"))
        recorded = run.meta.get("weights_sha256")
        # a record from before weights were hashed: the same weights when every per-epoch metric
        # of the retrain equals the published one (the same machine and thread count)
        same = (new_sha == recorded if recorded else
                len(history) == len(run.history) and all(v == 0 for v in dev.values()))
        record = {"max_abs_deviation": dev, "epochs_compared": len(both),
                  "epochs_published": len(run.history), "epochs_retrained": len(history),
                  "status": meta["status"], "precision": meta["precision"],
                  "weights_before": run.meta.get("weights_sha256"), "weights_after": new_sha,
                  "record": "kept (the same weights)" if same else "replaced by the retrain",
                  **{k: meta[k] for k in ("device", "cpu", "cpu_flags", "torch", "commit") if k in meta}}
        records = load_json(run.path / "retrained.json")["records"] if (run.path / "retrained.json").is_file() else []
        if not same:
            # One model, one set of weights: the retrain (another machine's rounding, or a run
            # recorded before weights were hashed) is the run's record from now on, its history
            # and metadata with it; what was computed from the lost weights is set aside (the
            # analyses, and runs warm-started from them), never served beside the new history
            publish(run.config, store, history, meta)
            run.history, run.meta = pd.read_csv(run.path / "history.csv"), load_json(run.path / "meta.json")
            store.set_aside_analyses_of(run.name, "computed from weights that were lost; the run "
                                                  "was retrained with other weights (retrained.json)")
            weights.set_aside_children(store, run.name)
        save_json({"records": records + [record]}, run.path / "retrained.json")
        return record


def _train(cfg: TrainConfig, store: Store, name: str, dataset, device, progress) -> tuple[pd.DataFrame, dict]:
    """Train ``cfg``, weights into the store's weights cache; returns (history, metadata)."""
    wdir = store.weights_dir(name)
    device = torch.device(device) if device else default_device()
    precision = check_precision(cfg.precision, device)
    ds = dataset if dataset is not None else lbsm_data.load(cfg.dataset, device=device)
    ds = ds.subset(cfg.train_subset, cfg.test_subset).to(device)
    xtr, ytr, n = ds.x_train, ds.y_train, len(ds.x_train)
    # a batch larger than the data would silently be the full-batch method
    validate.batch_size(cfg.batch_size, n, name="batch_size")

    model = models.build(cfg.net).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, betas=cfg.betas, eps=cfg.adam_eps)
    step = step_function(cfg.method)
    augment = remedies.augment if cfg.augment else None
    aug_gen = torch.Generator(device=device).manual_seed(cfg.seed + 7919)

    history, start, wall = [], 0, 0.0
    resume = _load_resume(wdir / "resume.pt", device)
    if resume is not None:
        model.load_state_dict(resume["model"])
        opt.load_state_dict(resume["opt"])
        torch.set_rng_state(resume["rng"])
        aug_gen.set_state(resume["aug_rng"])
        history = resume["history"]
        start, wall = int(resume["epoch"]), float(resume["wall"])
    else:
        torch.manual_seed(cfg.seed)  # dropout masks
        x0 = initial_state(cfg, store)
        model.load_state_dict(x0)
        save_torch(x0, wdir / "x0.pt")
        if cfg.checkpoints:
            save_torch(x0, wdir / "epochs/0000.pt")

    def metrics(epoch, seconds, batch_loss):
        # in the run's precision: with bf16 the per-epoch evaluation of the full sets would
        # otherwise cost as much as the training epoch itself (F1 at B = 6000)
        with arithmetic(precision, device):
            tr = evaluate(model, xtr, ytr, cfg.eval_batch_size, cfg.bn_eval)
            te = evaluate(model, ds.x_test, ds.y_test, cfg.eval_batch_size, cfg.bn_eval)
        return dict(epoch=epoch, train_loss=tr[0], train_acc=tr[1], test_loss=te[0],
                    test_acc=te[1], minibatch_loss=batch_loss, seconds=seconds)

    if not history:
        history.append(metrics(0, 0.0, float("nan")))
    status = "done"
    run_cfg = dataclasses.replace(cfg, precision=precision)
    bar = tqdm(range(start + 1, cfg.epochs + 1), desc=f"{cfg.net} B={cfg.batch_size} s={cfg.seed}",
               disable=not progress, leave=False)
    for epoch in bar:
        t0 = time.perf_counter()
        mean_loss = train_epoch(model, opt, step, xtr, ytr, run_cfg, epoch, augment, aug_gen)
        wall += time.perf_counter() - t0
        row = metrics(epoch, wall, mean_loss)
        history.append(row)
        bar.set_postfix(loss=f"{row['train_loss']:.4f}", test_acc=f"{row['test_acc']:.2f}")
        if not (math.isfinite(row["minibatch_loss"]) and math.isfinite(row["train_loss"])):
            status = "diverged"
            break
        if cfg.checkpoints:
            save_torch(model.state_dict(), wdir / f"epochs/{epoch:04d}.pt")
        if cfg.stop == "plateau" and plateaued(history, cfg.patience, cfg.min_delta):
            break
        if epoch < cfg.epochs:
            save_torch(dict(model=model.state_dict(), opt=opt.state_dict(), rng=torch.get_rng_state(),
                            aug_rng=aug_gen.get_state(), history=history, epoch=epoch, wall=wall),
                       wdir / "resume.pt")
    bar.close()
    save_torch(model.state_dict(), wdir / "final.pt")
    (wdir / "resume.pt").unlink(missing_ok=True)
    hist = pd.DataFrame(history)
    last = int(hist.epoch.iloc[-1])
    stopped_by = ("diverged" if status == "diverged" else "epochs" if cfg.stop == "epochs"
                  else "cap" if last >= cfg.epochs and not plateaued(history, cfg.patience, cfg.min_delta)
                  else "plateau")
    meta = dict(status=status, epochs_run=last, stopped_by=stopped_by, wall_seconds=wall,
                precision=precision, n_train=n, n_test=len(ds.x_test), **machine.provenance(device))
    return hist, meta


def _load_resume(path: Path, device) -> dict | None:
    """The resume checkpoint (tensors and plain values only: ``weights_only=True``), or None.

    A damaged checkpoint is set aside as ``resume.pt.damaged`` and the run starts over, rather
    than blocking the run for good."""
    if not path.is_file():
        return None
    try:
        return load_torch(path, device)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is treated the same way
        path.replace(path.with_name(path.name + ".damaged"))

        warnings.warn(f"{path} could not be read ({type(exc).__name__}: {exc}); set aside as "
                      f"{path.name}.damaged, training starts over from epoch 0")
        return None


def plateaued(history: list[dict], patience: int, min_delta: float) -> bool:
    """True when none of the last ``patience`` epochs' training losses is below the best loss
    before them minus ``min_delta`` (absolute); epoch 0 (x0) does not count. A loss equal to
    that is no improvement, as Keras' ``EarlyStopping`` counts it (``current < best - min_delta``
    improves), so with ``min_delta = 0`` any decrease is an improvement and nothing else is."""
    losses = [h["train_loss"] for h in history[1:]]
    if len(losses) <= patience:
        return False
    best_before = min(losses[:-patience])
    return min(losses[-patience:]) >= best_before - min_delta


def sweep(configs: list[TrainConfig], store: Store | None = None, device=None,
          progress: bool = True, desc: str = "runs") -> list[Run]:
    """Train (or load) each config with one progress bar over the runs. Finished runs are kept, so
    an interrupted sweep resumes where it stopped; a diverged run is recorded and the sweep goes on."""
    store = store or Store()
    runs = []
    for cfg in tqdm(configs, desc=desc, disable=not progress):
        runs.append(fit(cfg, store, device=device, progress=progress))
    return runs
