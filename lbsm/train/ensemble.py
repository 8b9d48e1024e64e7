"""Several seeds of one run trained together: one vmapped step instead of k small ones.

The trials of a table (5 seeds of the same network, batch size and protocol) are independent
runs; on a GPU a C1 step at B = 256 leaves most of the device idle, so :func:`fit_ensemble`
trains them as one: the k models' parameters are stacked (``torch.func.stack_module_state``),
one ``vmap(grad(functional_call(...)), randomness="different")`` computes the k gradients, each
on its own minibatch, and one ADAM over the stacked tensors is k independent ADAMs (ADAM is
elementwise; the k step counts are equal). Each seed keeps what a sequential run has:

* its own x0 (``models.build(net, seed)``) and its own minibatch order (the sequential run's
  permutation of each epoch, seeded ``seed * 100003 + epoch``);
* its own ADAM state; its own dropout masks (``randomness="different"``). The masks are not
  those of the sequential run (one generator draws them for all k), so with dropout the
  trajectories differ from the sequential ones as two dropout draws do; without dropout (F1) they
  agree to float rounding (``tests/test_ensemble.py`` states the tolerances);
* BatchNorm normalizes with the batch statistics, which is the official code's ``mode=2`` and
  this package's default evaluation policy (``bn_eval="batch"``). Running statistics are not
  tracked (``torch.func.replace_all_batch_norm_modules_``): the stored buffers keep their x0
  values, which nothing under the ``batch`` policy reads.

Each seed is stored as an ordinary run (same key, config, history and weights files as a
sequential one); only its metadata says ``ensemble`` (the seeds trained together) and its
``wall_seconds`` is the ensemble's. A config the ensemble cannot train (another method,
augmentation, a warm start, the plateau rule, another BatchNorm policy) is trained sequentially.
"""
from __future__ import annotations

import copy
import dataclasses
import math
import time

import pandas as pd
import torch
import torch.nn.functional as F
from torch.func import functional_call, grad_and_value, stack_module_state, vmap
from tqdm import tqdm  # text bars: the notebooks pass progress=False, ipywidgets is not needed

from ..core import data as lbsm_data
from ..core import machine
from ..core import models
from ..core import validate
from ..core.files import save_torch
from ..core.store import Store
from .protocol import (Run, TrainConfig, default_device, evaluate, fit, initial_state,
                    plateaued, publish)


def can_ensemble(cfg: TrainConfig) -> bool:
    """Whether ``cfg`` can be trained in an ensemble (plain ADAM, batch BN policy, no warm start;
    either stop rule: a member that plateaus is stored at that epoch while the others go on)."""
    return (cfg.method == "adam" and not cfg.augment and cfg.init is None
            and cfg.bn_eval == "batch")


def groups(cfgs: list[TrainConfig]) -> list[list[TrainConfig]]:
    """``cfgs`` grouped into sets that differ only in the seed (order kept within a group)."""
    out: dict = {}
    for c in cfgs:
        out.setdefault(dataclasses.replace(c, seed=0).key, []).append(c)
    return list(out.values())


def fit_ensemble(cfgs: list[TrainConfig], store: Store | None = None, dataset=None, device=None,
                 progress: bool = True) -> list[Run]:
    """Train (or load) ``cfgs``: the missing ones that differ only in their seed together, the rest
    one by one (:func:`lbsm.train.fit`). Returns the runs in the order of ``cfgs``."""
    store = store or Store()
    for group in groups(cfgs):
        todo = [c for c in group if can_ensemble(c)
                and not store.is_finished(store.run_dir(c.net, c.key))]
        if len(todo) > 1:
            _train_locked(todo, store, dataset, device, progress)
    return [fit(c, store, dataset=dataset, device=device, progress=progress) for c in cfgs]


def _train_locked(cfgs, store, dataset, device, progress):
    import contextlib
    with contextlib.ExitStack() as stack:
        for c in sorted(cfgs, key=lambda c: c.key):  # one order for every worker: no deadlock
            stack.enter_context(store.lock(f"run-{c.name}"))
        todo = [c for c in cfgs if not store.is_finished(store.run_dir(c.net, c.key))]
        if len(todo) > 1:
            for cfg, (history, meta) in zip(todo, train_together(todo, store, dataset, device, progress)):
                publish(cfg, store, history, meta)


def _float32_batchnorm_(model: torch.nn.Module) -> None:
    """BatchNorm on a float32 copy of its bf16 input, cast back. Under autocast, vmap's batching
    rule of batch_norm's backward fails on a bf16 input with float32 weights ("expected scalar
    type BFloat16 but found Float", torch 2.13); eager batch_norm accumulates in float32 anyway."""
    import types
    for m in models.batchnorms(model):
        def forward(self, x, _forward=type(m).forward):
            return _forward(self, x.float()).to(x.dtype)
        m.forward = types.MethodType(forward, m)


def train_together(cfgs: list[TrainConfig], store: Store, dataset=None, device=None,
                   progress: bool = True) -> list[tuple[pd.DataFrame, dict]]:
    """Train configs that differ only in their seed as one vmapped ensemble; weights go to the
    store's weights cache. Returns (history, metadata) per config, as ``lbsm.train._train`` does."""
    c0 = cfgs[0]
    if any(dataclasses.replace(c, seed=0) != dataclasses.replace(c0, seed=0) for c in cfgs):
        raise ValueError("an ensemble's configs must differ only in their seed")
    if not all(can_ensemble(c) for c in cfgs):
        raise ValueError(f"{c0.net}: method {c0.method!r}, augment, init, stop {c0.stop!r} or "
                         f"bn_eval {c0.bn_eval!r} cannot be trained as an ensemble")
    device = torch.device(device) if device else default_device()
    precision = machine.check_precision(c0.precision, device)
    ds = dataset if dataset is not None else lbsm_data.load(c0.dataset, device=device)
    ds = ds.subset(c0.train_subset, c0.test_subset).to(device)
    xtr, ytr, n = ds.x_train, ds.y_train, len(ds.x_train)
    validate.batch_size(c0.batch_size, n, name="batch_size")
    k = len(cfgs)

    nets = []
    for c in cfgs:
        m = models.build(c.net).to(device)
        x0 = initial_state(c, store)
        m.load_state_dict(x0)
        wdir = store.weights_dir(c.name)
        save_torch(x0, wdir / "x0.pt")
        if c.checkpoints:
            save_torch(x0, wdir / "epochs/0000.pt")
        nets.append(m)
    params, _ = stack_module_state(nets)          # {name: [k, ...]} leaves with requires_grad
    base = copy.deepcopy(nets[0])
    torch.func.replace_all_batch_norm_modules_(base)  # batch statistics, no running ones
    if precision == "bf16":
        _float32_batchnorm_(base)
    base.train()

    def loss_of(p, xb, yb):
        with machine.arithmetic(precision, xb.device):
            return F.cross_entropy(functional_call(base, p, (xb,)), yb)
    step = vmap(grad_and_value(loss_of), randomness="different")
    opt = torch.optim.Adam(list(params.values()), lr=c0.lr, betas=c0.betas, eps=c0.adam_eps)
    torch.manual_seed(c0.seed)  # the dropout masks of the ensemble (not those of any one seed)

    def load_into(i):
        sd = nets[i].state_dict()
        sd.update({name: p[i].detach() for name, p in params.items()})
        nets[i].load_state_dict(sd)
        return nets[i]

    def metrics(i, epoch, seconds, batch_loss):
        with machine.arithmetic(precision, device):
            tr = evaluate(nets[i], xtr, ytr, c0.eval_batch_size, c0.bn_eval)
            te = evaluate(nets[i], ds.x_test, ds.y_test, c0.eval_batch_size, c0.bn_eval)
        return dict(epoch=epoch, train_loss=tr[0], train_acc=tr[1], test_loss=te[0],
                    test_acc=te[1], minibatch_loss=batch_loss, seconds=seconds)

    histories = [[metrics(i, 0, 0.0, float("nan"))] for i in range(k)]
    alive, wall = [True] * k, 0.0
    stopped = [None] * k   # why a member stopped early ("diverged" / "plateau"), and its wall time
    walls = [0.0] * k
    bar = tqdm(range(1, c0.epochs + 1), desc=f"{c0.net} B={c0.batch_size} x{k} seeds",
               disable=not progress, leave=False)
    for epoch in bar:
        t0 = time.perf_counter()
        perms = torch.stack([torch.randperm(n, device=device, generator=torch.Generator(
            device=device).manual_seed(c.seed * 100003 + epoch)) for c in cfgs])
        loss_sum = torch.zeros(k, device=device)
        for s in range(0, n, c0.batch_size):
            idx = perms[:, s:s + c0.batch_size]
            grads, loss = step(params, xtr[idx], ytr[idx])
            opt.zero_grad(set_to_none=True)
            for name, p in params.items():
                p.grad = grads[name]
            opt.step()
            loss_sum += loss.detach().float() * idx.shape[1]
        mean_loss = (loss_sum / n).tolist()  # the only host sync of the epoch
        wall += time.perf_counter() - t0
        for i, c in enumerate(cfgs):
            if not alive[i]:
                continue
            load_into(i)
            row = metrics(i, epoch, wall, mean_loss[i])
            histories[i].append(row)
            walls[i] = wall
            if not (math.isfinite(row["minibatch_loss"]) and math.isfinite(row["train_loss"])):
                alive[i], stopped[i] = False, "diverged"  # its history ends here, as a sequential run's
                continue
            if c.checkpoints:
                save_torch(nets[i].state_dict(), store.weights_dir(c.name) / f"epochs/{epoch:04d}.pt")
            if c.stop == "plateau" and plateaued(histories[i], c.patience, c.min_delta):
                # stored as of this epoch, as a sequential run would stop here; the ensemble goes
                # on for the others (this member's later updates are never stored)
                save_torch(nets[i].state_dict(), store.weights_dir(c.name) / "final.pt")
                alive[i], stopped[i] = False, "plateau"
        if not any(alive):
            break
    bar.close()

    out = []
    seeds = [c.seed for c in cfgs]
    for i, c in enumerate(cfgs):
        if stopped[i] != "plateau":
            save_torch(load_into(i).state_dict(), store.weights_dir(c.name) / "final.pt")
        hist = pd.DataFrame(histories[i])
        why = stopped[i] or ("cap" if c.stop == "plateau" else "epochs")
        meta = dict(status="diverged" if why == "diverged" else "done",
                    epochs_run=int(hist.epoch.iloc[-1]), stopped_by=why,
                    wall_seconds=walls[i], precision=precision, n_train=n, n_test=len(ds.x_test),
                    ensemble=seeds, **machine.provenance(device))
        out.append((hist, meta))
    return out
