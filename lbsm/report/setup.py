"""The setup chapter: Table 1 (the six networks), Table 5 (the data sets), the profile the book
ran under, its analysis settings, and the protocol choices the paper leaves open."""
from __future__ import annotations

import dataclasses
import inspect
import re
from typing import TYPE_CHECKING

import pandas as pd
from torch import nn

from ..analyses import sharpness
from ..core import models, paper
from ..core.constants import DATASET_NAMES
from ..experiments import profiles, readings
from ..train import protocol as training
from ..experiments.plans import dataset_of
from .captions import deviations, per_net

if TYPE_CHECKING:
    from IPython.display import Markdown


def _layer_summary(model) -> str:

    kinds = {"Linear": nn.Linear, "Conv2d": nn.Conv2d, "BatchNorm": nn.modules.batchnorm._BatchNorm,
             "MaxPool": nn.MaxPool2d, "Dropout": nn.Dropout}
    counts = {k: sum(isinstance(m, t) for m in model.modules()) for k, t in kinds.items()}
    return ", ".join(f"{v} {k}" for k, v in counts.items() if v)


def table1() -> pd.DataFrame:
    """Table 1 of the paper with our networks: parameter counts and layers from ``lbsm.core.models``."""
    t = paper.table(1)
    rows = []
    for net in paper.NETS:
        m = models.build(net)
        ds, k, shape = models.NETWORKS[net]
        rows.append({"net": net, "type": t.loc[net, "type"], "data set": t.loc[net, "dataset"],
                     "paper (Appendix B)": t.loc[net, "appendix_b"],
                     "input": " × ".join(map(str, shape)), "classes": k,
                     "layers (ours)": _layer_summary(m), "parameters (ours)": f"{models.num_params(m):,}"})
    return pd.DataFrame(rows).set_index("net")


def _features(shape) -> str:
    return " × ".join(map(str, shape))


def table5(datasets: pd.DataFrame) -> pd.DataFrame:
    """Table 5 (data sets): the paper's sizes next to what the data directory holds, as the setup
    chapter's compute step loaded it (its part ``datasets``, :func:`lbsm.pipeline.datasets.table`:
    the report reads no data file)."""
    t = paper.table(5)
    names = {v: k for k, v in DATASET_NAMES.items()}
    rows = []
    for name in t.index:
        ds = names[name]
        row = {"data set": name, "train (paper)": int(t.loc[name, "train"]),
               "test (paper)": int(t.loc[name, "test"]), "features (paper)": t.loc[name, "features"],
               "classes (paper)": int(t.loc[name, "classes"])}
        if datasets.loc[ds, "ready"]:
            d = datasets.loc[ds]
            row.update({"train (ours)": int(d["train"]), "test (ours)": int(d["test"]),
                        "features (ours)": _features(d["features"]), "classes (ours)": int(d["classes"]),
                        "status": "loaded (md5 verified)"})
        else:
            row.update({"train (ours)": "—", "test (ours)": "—", "features (ours)": "—",
                        "classes (ours)": "—", "status": f"needs data: {name}"})
        rows.append(row)
    return pd.DataFrame(rows).set_index("data set")


def profile_table(P: profiles.Profile, ready) -> pd.DataFrame:
    """What a profile trains: per network seeds, epochs, stop rule, subsets, precision, deviations;
    ``ready``: {data set: there}, as the compute step found it (``Chapter.data_ready``)."""
    rows = []
    for n, plan in P.nets.items():
        rows.append({"net": n, "seeds": ", ".join(map(str, plan.seeds)),
                     "SB batch": training.SB_BATCH, "LB batch": training.lb_batch(n, plan.train_subset),
                     "epochs SB / LB": f"{plan.sb_epochs} / {plan.lb_epochs}", "stop": plan.stop,
                     "train / test examples": f"{plan.train_subset or 'all'} / {plan.test_subset or 'all'}",
                     "precision": plan.precision,
                     "data": "ready" if ready[dataset_of(n)] else
                     f"needs data: {DATASET_NAMES[dataset_of(n)]}",
                     "readings of what the paper leaves open": "; ".join(plan_readings(P, n)),
                     "deviations from the paper":
                         "; ".join(deviations(P, n) + _analysis_subsets(P, n)) or "none"})
    return pd.DataFrame(rows).set_index("net")


def _analysis_subsets(P: profiles.Profile, net: str) -> list[str]:
    """The analyses the profile runs on a subset of ``net``'s data (the paper: the full sets)."""
    out = []
    if P.sharpness_examples(net):
        out.append(f"Metric 2.1 on the first {P.sharpness_examples(net)} training examples")
    if P.landscape_examples(net):
        out.append(f"parametric plots on the first {P.landscape_examples(net)} examples")
    return out


def analysis_settings(P: profiles.Profile) -> pd.DataFrame:
    """The profile's sharpness / Hessian / interpolation knobs next to the paper's values."""
    pr = paper.protocol()
    a = pr["parametric_alphas"]
    rows = [("L-BFGS-B iterations (Metric 2.1)", P.sharpness_iters, pr["sharpness_lbfgsb_iterations"]),
            ("eps", ", ".join(f"{e:g}" for e in P.sharpness_eps), ", ".join(f"{e:g}" for e in pr["sharpness_eps"])),
            ("sharpness data (training examples)", per_net(P, P.sharpness_examples), "all (training function)"),
            ("subspace dimension p (Table 4)", P.subspace_dim, pr["subspace_dim"]),
            ("alpha points (Figs. 3, 7)", P.alpha_points, f"{a['num']} in [{a['start']}, {a['stop']}]"),
            ("interpolation data", per_net(P, P.landscape_examples), "all"),
            ("Hessian eigenvalues / data", f"{P.hessian_k} / {P.hessian_subset or 'all'}", "not computed"),
            ("Hutchinson samples", P.hutchinson_samples, "not computed")]
    return pd.DataFrame(rows, columns=["knob", f"profile {P.name}", "paper"]).set_index("knob")


def protocol_choice_table(P: profiles.Profile) -> pd.DataFrame:
    """Every choice that changes a number and that the paper leaves open: where the code applies
    it, its default there (read from the code: signatures and config fields), this profile's value,
    and where the book measures what it changes."""
    cfg = {f.name: f.default for f in dataclasses.fields(training.TrainConfig)}
    box = inspect.signature(sharpness.maximize_in_box).parameters
    ks = inspect.signature(sharpness.keskar_sharpness).parameters
    net = P.sensitivity.net if P.sensitivity else next(iter(P.nets), "F1")
    rows = [
        ("L-BFGS-B start point", "Profile.sharpness_start (lbsm.sharpness.maximize_in_box(start=))",
         box["start"].default, P.sharpness_start, "sensitivity: start"),
        ("L-BFGS-B iterations", "Profile.sharpness_iters", 10, P.sharpness_iters,
         "sensitivity: iters"),
        ("L-BFGS-B stopping tolerances", "lbsm.sharpness.maximize_in_box(tol=)", box["tol"].default,
         box["tol"].default, "sensitivity: tol"),
        ("random subspace A (Table 4)", "lbsm.sharpness.Subspace.random(kind=)",
         ks["subspace_kind"].default, ks["subspace_kind"].default, "sharpness: readings of A"),
        ("training examples f averages over", "Profile.sharpness_subset / NetPlan.sharpness_subset",
         "all", P.sharpness_examples(net) or "all", "sensitivity: subset"),
        ("BatchNorm statistics in f and in evaluation", "TrainConfig.bn_eval", cfg["bn_eval"],
         cfg["bn_eval"], "sensitivity: bn"),
        ("evaluation batch", "TrainConfig.eval_batch_size", cfg["eval_batch_size"],
         cfg["eval_batch_size"], "sensitivity: eval_batch"),
        ("precision", "TrainConfig.precision (lbsm.core.machine)", cfg["precision"],
         P.nets[net].precision if net in P.nets else cfg["precision"], "sensitivity: precision"),
        ("stop rule", "TrainConfig.stop", cfg["stop"], P.nets[net].stop if net in P.nets else cfg["stop"],
         "sensitivity: stop"),
        ("plateau rule: patience, threshold (absolute), cap",
         "TrainConfig.patience / NetPlan.min_delta / epochs",
         f"{cfg['patience']} epochs, {cfg['min_delta']:g}", f"{cfg['patience']} epochs, "
         f"{min_delta(P, net):g}, cap {P.nets[net].sb_epochs if net in P.nets else cfg['epochs']}",
         "sensitivity: stop"),
    ]
    return pd.DataFrame(rows, columns=["choice", "where in the code", "default", f"profile {P.name}",
                                       "measured in"]).set_index("choice").astype(str)


def min_delta(P: profiles.Profile, net: str) -> float:
    """The plateau rule's threshold ``net``'s runs use under ``P``."""
    plan = P.nets.get(net)
    return plan.min_delta if plan and plan.min_delta is not None else training.TrainConfig.min_delta


def plan_readings(P: profiles.Profile, net: str) -> list[str]:
    """The readings ``P``'s plan for ``net`` applies (the paper leaves each open; the setup
    chapter's readings table gives the reasons)."""
    plan = P.net(net)
    out = []
    if plan.stop == "plateau":
        d = min_delta(P, net)
        improve = "no new minimum" if d == 0 else f"no decrease by more than {d:g}"
        out.append(f"stop: {improve} of the training loss in {training.TrainConfig.patience} "
                   f"epochs, final iterate, cap {plan.sb_epochs}")
    start = "y = 0" if P.sharpness_start == "zero" else "the gradient-sign vertex"
    out.append(f"Metric 2.1 from {start}, {P.sharpness_iters} L-BFGS-B iterations, on "
               f"{P.sharpness_examples(net) or 'all'} training examples")
    return out


def readings_table() -> pd.DataFrame:
    """The readings adopted before the recompute (:mod:`lbsm.experiments.readings`), one row per
    choice the paper leaves open: what the book does, why, and what the sensitivity chapter shows
    instead."""
    return readings.frame().set_index("choice the paper leaves open")


def table1_text(t1: pd.DataFrame) -> dict:
    """Glue-ready parameter counts (``params_F1`` ...) and their range."""
    n = {net: int(v.replace(",", "")) for net, v in t1["parameters (ours)"].items()}
    return {**{f"params_{k}": f"{v:,}" for k, v in n.items()},
            "params_min": f"{min(n.values()) / 1e6:.2f} M", "params_max": f"{max(n.values()) / 1e6:.2f} M"}


def docstring_bullets(obj) -> list[str]:
    """The ``* ...`` bullet items of an object's docstring, continuation lines joined."""
    items, cur = [], None
    for line in inspect.getdoc(obj).splitlines():
        if line.startswith("* "):
            cur = line[2:].strip()
            items.append(cur)
        elif cur is not None and line.startswith("  ") and line.strip():
            items[-1] += " " + line.strip()
        else:
            cur = None
    return items


def protocol_choices() -> "Markdown":
    """The protocol and architecture decisions the paper leaves open, from lbsm's docstrings.

    They are written once, in ``lbsm.train.protocol`` (optimizer, stopping, x0), ``lbsm.core.models`` (layers,
    initialization, BatchNorm, paper-vs-code architecture) and ``lbsm.models.evaluation``
    (BatchNorm at evaluation); this function only quotes them.
    """
    from IPython.display import Markdown

    def md(items):
        return "\n".join("- " + re.sub(r"``([^`]+)``", r"`\1`", s) for s in items)
    ev = inspect.getdoc(models.evaluation).split("\n\n", 1)[1].replace("\n", " ")
    ev = re.sub(r"``([^`]+)``", r"`\1`", ev)
    return Markdown("**Training (`lbsm.train.protocol`)**\n\n" + md(docstring_bullets(training)) +
                    "\n\n**Networks (`lbsm.core.models`)**\n\n" + md(docstring_bullets(models)) +
                    f"\n\n**BatchNorm at evaluation (`lbsm.models.evaluation`)**: {ev}")
