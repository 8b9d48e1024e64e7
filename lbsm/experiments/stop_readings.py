"""Table 2 under every reading of "until the loss function ceased to improve", from the stored
histories alone (no run is trained again).

Training is the same whatever rule stops it (the rule only decides when to break), so a rule that
stops a run earlier than the rule it ran under stops it at a point of the same history: its
stopping epoch, and the test accuracy there, are read off ``history.csv``. A rule that would have
gone on longer cannot be read off (its cells are missing), unless the cap ended the run: every
reading shares the cap, so one that never fires in that history stops at the cap too. The readings
(:data:`READINGS`): the adopted one (no new minimum in 5 epochs, ``lbsm.experiments.readings``),
Keras' ``EarlyStopping`` defaults (patience 0), the earlier absolute threshold (1e-4 in 5
epochs), and the best-loss iterate of the run as it ran (the iterate Keras 2.2.3's
``restore_best_weights`` would keep).
"""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from ..core.store import Store
from ..train.protocol import plateaued
from . import profiles
from .plans import Runs
from .trials import trained


@dataclass(frozen=True)
class StopReading:
    name: str
    patience: int | None    # None: not a stop rule but the best-loss iterate of the run as it ran
    min_delta: float = 0.0


# Keras stops after patience + 1 epochs without improvement; lbsm's plateau rule counts the epochs
# themselves, so Keras' default patience 0 is patience 1 here
READINGS = (StopReading("no new minimum in 5 epochs (adopted)", 5, 0.0),
            StopReading("Keras defaults: patience 0", 1, 0.0),
            StopReading("decrease > 1e-4 in 5 epochs (earlier)", 5, 1e-4),
            StopReading("best training loss of the run", None))


def stop_epoch(history: pd.DataFrame, r: StopReading) -> int | None:
    """The epoch at which reading ``r`` stops a run whose per-epoch record is ``history`` (epoch 0
    = x0 included), or None when the history ends before the rule would stop it (the run stopped
    under a rule that ends sooner, or at its cap). The best-iterate reading gives the epoch of the
    lowest training loss."""
    h = history[history.epoch > 0].sort_values("epoch")
    if h.empty:
        return None
    if r.patience is None:
        return int(h.loc[h.train_loss.idxmin(), "epoch"])
    rows = [{"train_loss": float("nan")}]  # epoch 0 (x0), which the rule does not count
    for epoch, loss in zip(h.epoch, h.train_loss):
        rows.append({"train_loss": loss})
        if plateaued(rows, r.patience, r.min_delta):
            return int(epoch)
    return None


def ran_under(config, r: StopReading) -> bool:
    """Whether a run's config is reading ``r``'s plateau rule."""
    return (config.stop == "plateau" and r.patience is not None
            and (config.patience, config.min_delta) == (r.patience, r.min_delta))


def read_off(history: pd.DataFrame, config, stopped_by: str | None, r: StopReading) -> int | None:
    """Where reading ``r`` stops a stored run: :func:`stop_epoch` on its history; a rule that
    never fires there stops at the run's last epoch when the cap ended the run (every reading shares
    the cap) or when it is the run's own rule; else None (the history is too short to say)."""
    e = stop_epoch(history, r)
    if e is None and len(history) and (stopped_by == "cap" or ran_under(config, r)):
        e = int(history.epoch.iloc[-1])
    return e


def frame(P: profiles.Profile, runs: Runs, store: Store) -> pd.DataFrame:
    """One row per (reading, net, seed): the SB and LB stopping epochs and test (and train)
    accuracies under that reading, read off the stored histories; NaN where a history is too
    short to say."""
    T = trained(P, runs)
    rows = []
    for r in READINGS:
        for net in T.nets:
            for sb, lb in T.pairs[net]:
                row = {"reading": r.name, "net": net, "seed": sb.config.seed}
                for regime, run in (("sb", sb), ("lb", lb)):
                    e = read_off(run.history, run.config, run.meta.get("stopped_by"), r)
                    at = run.history.set_index("epoch").loc[e] if e is not None else None
                    R = regime.upper()
                    row[f"stop epoch {R}"] = e
                    row[f"test accuracy {R}"] = float(at.test_acc) if at is not None else float("nan")
                    row[f"train accuracy {R}"] = float(at.train_acc) if at is not None else float("nan")
                rows.append(row)
    return pd.DataFrame(rows, columns=["reading", "net", "seed"] + [
        f"{q} {R}" for R in ("SB", "LB") for q in ("stop epoch", "test accuracy", "train accuracy")])
