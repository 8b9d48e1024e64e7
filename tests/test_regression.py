"""Regression checks of computed numbers: a change that moves a number fails here.

nbval compares only the number-free cells of the notebooks, so a change that moves a published
number (another learning rate, init, loss normalization, L-BFGS-B start, ...) would pass it. These
tests recompute numbers and compare them, within stated tolerances, with numbers computed before:

A. The published dataset (``results/``): the cheapest published run is trained again from its
   ``config.json`` into a temporary store (the published store is not touched) and its history is
   compared with the published ``history.csv``; then one of its published Metric 2.1 solves is
   recomputed with the same params and compared with the published value, f0 and fmax.
B. The smoke profile before/after the layering redesign: the F1 slice of the ``gap`` and
   ``sharpness`` chapters is computed by the current code in a fresh temporary store, and every
   number of that store (each run's final losses, accuracies and epochs; each Metric 2.1 solve
   of Tables 3/4 and of the subspace kinds; the Hessian eigenvalues and traces) is compared with
   ``tests/regression/smoke_reference.json``, computed by the code before the redesign (commit
   and CPU recorded in the file; ``tests/regression/make_smoke_reference.py`` remakes it). The
   numbers are read from the store's files (runs/*/history.csv, analyses/*/*.json), not from the
   returned DataFrames, so this test does not depend on the layout of the code that wrote them.

Tolerances absorb CPU differences (the CPU changes between sessions: Intel AMX Xeon, AMD Zen 4,
AMD Zen 3 AVX2, and another thread count or kernel changes the fp32 summation order, which the
training amplifies) but are tight enough that a real change fails; each is a constant below with
the measurement it rests on. On the CPU the reference numbers came from (AMD EPYC Zen 4, 2 threads,
torch 2.13) the recomputed numbers are bitwise equal to them.

The module imports no lbsm at its top, so ``make_smoke_reference.py`` can load its helpers under
the code before the redesign (another layout).
"""
from __future__ import annotations

import dataclasses
import json
import math
import time
from pathlib import Path

import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[1]
PUBLISHED = REPO / "results"
REFERENCE = Path(__file__).resolve().parent / "regression" / "smoke_reference.json"

# ---------------------------------------------------------------------------------------------
# Tolerances. The noise they must absorb was measured on the published run of A (5 epochs of
# ADAM at B = 6000 on full MNIST, then Metric 2.1 with 10 L-BFGS-B iterations): the same
# computation on 1 thread instead of the published 2 (another fp32 summation order in every
# matmul; what another CPU's kernels also change) moved the per-epoch losses by up to 1.3e-3
# relative, the accuracies by at most 4 training / 2 test examples, f0 by 1.2e-3 and the Metric
# 2.1 value and fmax by 0.86 %; multiplying every gradient by (1 + 1e-6 N(0, 1)) at every step
# moved them by 8e-4 (losses) and 0.15 % (value). A real change moves them far more: lr 1.1e-3
# instead of 1e-3 moves the training loss by 11 %, the test loss by 3.6 %, f0 by 11 %, the value
# by 4 %, the training accuracy by 0.26 and the test accuracy by 0.16 percentage points; another
# L-BFGS-B start ("zero") halves the value; another eps, subset or loss normalization moves f0
# or the value by far more than that. Integer results (epochs, L-BFGS-B iterations and
# evaluations, Hessian-vector products) must be equal.
LOSS_RTOL = 1e-2        # per-epoch mean cross-entropies (train, test, minibatch): 8x the noise
TRAIN_ACC_ATOL = 0.05   # percentage points of 60,000 training examples: 30 examples (noise: 4)
TEST_ACC_ATOL = 0.1     # percentage points of 10,000 test examples: 10 examples (noise: 2)
F0_RTOL = 1e-2          # Metric 2.1's f(x): a training loss, as LOSS_RTOL
SHARPNESS_RTOL = 3e-2   # Metric 2.1 value and fmax: 3.5x the 1-thread deviation (0.86 %)

# B, the smoke slice (2,000 training / 1,000 test examples, 2 epochs; Metric 2.1 with 2
# iterations on 500 examples; Hessian on 64 examples). Its accuracies are coarser (one of 2,000
# training examples is 0.05 points, one of 1,000 test examples 0.1 points) and its 16-20 ADAM
# steps amplify rounding differences far less than A's 50; measured: 1 thread instead of 2
# moved the smoke numbers by at most SMOKE_MEASURED (filled in from the measurement below).
SMOKE_LOSS_RTOL = 1e-2        # final train/test losses
SMOKE_TRAIN_ACC_ATOL = 0.1    # 2 of 2,000 training examples
SMOKE_TEST_ACC_ATOL = 0.2     # 2 of 1,000 test examples
SMOKE_ANALYSIS_RTOL = {       # analyses/<kind>: field -> relative tolerance
    "sharpness": {"value": SHARPNESS_RTOL, "fmax": SHARPNESS_RTOL, "f0": F0_RTOL},
    # ARPACK's relative accuracy is 1e-4, the Lanczos start vector is seeded and the
    # Hessian-vector products are accumulated in float64: the eigenvalues move with the weights
    # (a training loss's noise, ~1e-3), as the Hutchinson trace with its fixed probes
    "hessian": {"eigenvalues": 1e-2, "trace": 1e-2, "trace_stderr": 5e-2},
}

# ---------------------------------------------------------------------------------------------
# A. the published dataset
#
# The cheapest published run: the Fig. 5/6 warm start at SB epoch 0, i.e. LB (B = 6000, ADAM,
# fp32) trained for 5 fixed epochs from x0 of seed 0 (~16 s of training on 2 Zen 4 cores), with a
# published full-space Metric 2.1 solve of its final weights (eps 1e-3, 10 iterations, the first
# 5,000 training examples; ~5 s). Its config names its start as "the epoch-0 weights of the SB run
# PARENT"; the weights are not published (retraining PARENT would cost a minute), and PARENT's
# epoch 0 is x0 = models.build("F1", 0) itself, which is what init=None gives a seed-0 run:
# ``test_published_start_and_prefixes`` checks that on the published files (PARENT has no init
# and the same seed; both epoch-0 rows are equal; and the published runs that train LB seed 0
# from x0 with init=None, Table 3's plateau-rule run among them, have exactly RUN's 5 epochs as
# their first ones: the trainer is deterministic per epoch and the stop rule only stops it).
RUN = "F1-60abcc4cbdf3c8f0"
PARENT = "F1-1e4ac0e4343526fc"
ANALYSIS = "sharpness/5d44e61c5f110bec"
SAME_START = {  # published runs whose first epochs are RUN's: what differs from RUN's config
    "F1-39196473d6e4c235": {"epochs": 100, "stop": "plateau", "init": None},   # Table 3, seed 0
    "F1-e96b3c6ec8c36779": {"epochs": 30, "init": None},                       # fixed 30 epochs
    "F1-10787d327e934395": {"epochs": 20, "init": None, "checkpoints": True},  # Fig. 5/6 sampled
}
HISTORY_COLUMNS = {"train_loss": ("rel", LOSS_RTOL), "test_loss": ("rel", LOSS_RTOL),
                   "minibatch_loss": ("rel", LOSS_RTOL), "train_acc": ("abs", TRAIN_ACC_ATOL),
                   "test_acc": ("abs", TEST_ACC_ATOL)}


def _published_config(name: str) -> dict:
    return json.loads((PUBLISHED / "runs" / name / "config.json").read_text())


def _published_history(name: str) -> pd.DataFrame:
    return pd.read_csv(PUBLISHED / "runs" / name / "history.csv")


def _off(a: float, b: float, kind: str, tol: float) -> bool:
    """Whether a (recomputed) is off b (reference) by more than tol ("rel" or "abs")."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return False
    return not abs(a - b) <= (tol * abs(b) if kind == "rel" else tol)


def history_problems(new: pd.DataFrame, ref: pd.DataFrame, what: str) -> list[str]:
    """Every per-epoch metric of ``new`` off ``ref`` (rows matched by epoch) beyond HISTORY_COLUMNS."""
    out = []
    if list(new.epoch) != list(ref.epoch):
        return [f"{what}: epochs {list(new.epoch)}, published {list(ref.epoch)}"]
    for col, (kind, tol) in HISTORY_COLUMNS.items():
        for e, a, b in zip(ref.epoch, new[col], ref[col]):
            if _off(float(a), float(b), kind, tol):
                out.append(f"{what}: epoch {e} {col} = {a!r}, published {b!r} "
                           f"({'relative' if kind == 'rel' else 'absolute'} tolerance {tol})")
    return out


def test_published_start_and_prefixes():
    """What lets the retraining start from x0 instead of PARENT's stored epoch-0 weights, and
    what makes RUN's 5 epochs the first epochs of Table 3's LB seed-0 run (published files only)."""
    cfg, parent = _published_config(RUN), _published_config(PARENT)
    assert cfg["init"] == f"{PARENT}@0"
    assert parent["init"] is None and parent["seed"] == cfg["seed"] and parent["net"] == cfg["net"]
    run_hist = _published_history(RUN)
    pd.testing.assert_series_equal(_published_history(PARENT).iloc[0], run_hist.iloc[0],
                                   check_names=False)
    for name, differs in SAME_START.items():
        other = _published_config(name)
        assert {k: v for k, v in other.items() if k not in differs} == \
            {k: v for k, v in cfg.items() if k not in differs}, name
        assert {k: other[k] for k in differs} == differs, name
        prefix = _published_history(name).iloc[:len(run_hist)].drop(columns="seconds")
        pd.testing.assert_frame_equal(prefix, run_hist.drop(columns="seconds"), obj=name)


@pytest.fixture(scope="module")
def retrained(tmp_path_factory):
    """RUN trained again from its published config (start: x0, see above) in a temporary store."""
    from lbsm.core.store import Store
    from lbsm.train.protocol import TrainConfig, fit
    cfg = _published_config(RUN)
    cfg.pop("train_code_version", None)
    config = dataclasses.replace(TrainConfig(**cfg), init=None)
    store = Store(tmp_path_factory.mktemp("regression-published") / "results")
    t0 = time.perf_counter()
    run = fit(config, store, progress=False)
    return run, time.perf_counter() - t0


def test_retrained_history_matches_published(retrained):
    run, seconds = retrained
    assert run.status == "done" and run.meta["epochs_run"] == 5, run.meta
    problems = history_problems(run.history, _published_history(RUN), RUN)
    assert not problems, "\n".join(problems)


def test_recomputed_sharpness_matches_published(retrained):
    """The published Metric 2.1 solve ANALYSIS of RUN, with the same params, on the retrained
    weights (the function of the analyses layer, called with every published param)."""
    from lbsm.analyses.sharpness import keskar_sharpness
    from lbsm.core import data as lbsm_data
    run, _ = retrained
    published = json.loads((PUBLISHED / "analyses" / f"{ANALYSIS}.json").read_text())
    p, ref = published["params"], published["value"]
    # every param of the published solve is used below (a new param would need a decision here)
    assert set(p) == {"run", "which", "eps", "iters", "subset", "bn", "batch_size", "subspace",
                      "seed", "start", "tol", "fn"}, sorted(p)
    assert (p["run"], p["which"], p["fn"]) == (RUN, "final", "lbsm.sharpness.keskar_sharpness")
    assert (p["eps"], p["iters"], p["subset"], p["subspace"]) == (1e-3, 10, 5000, None)
    ds = lbsm_data.load("mnist")  # the run's training set (train_subset None), its first examples
    x, y = ds.x_train[:p["subset"]], ds.y_train[:p["subset"]]
    res = keskar_sharpness(run.model("final", "cpu"), x, y, eps=p["eps"], subspace=p["subspace"],
                           iters=p["iters"], bn=p["bn"], batch_size=p["batch_size"], seed=p["seed"],
                           start=p["start"], tol=p["tol"])
    got = {"value": res.value, "f0": res.f0, "fmax": res.fmax, "iterations": res.iterations,
           "evaluations": res.evaluations, "examples": res.examples, "n": res.n}
    problems = [f"{k} = {got[k]!r}, published {ref[k]!r}"
                for k in ("iterations", "evaluations", "examples", "n") if got[k] != ref[k]]
    problems += [f"{k} = {got[k]!r}, published {ref[k]!r} (relative tolerance {tol})"
                 for k, tol in (("value", SHARPNESS_RTOL), ("fmax", SHARPNESS_RTOL), ("f0", F0_RTOL))
                 if _off(got[k], ref[k], "rel", tol)]
    assert not problems, f"{ANALYSIS} of {RUN}:\n" + "\n".join(problems)


# ---------------------------------------------------------------------------------------------
# B. the smoke slice, before and after the redesign
SMOKE_SLICE = {"chapters": ["gap", "sharpness"], "profile": "smoke", "nets": ["F1"]}
# what identifies a run across code versions (its key also hashes the code version and every
# field; test_smoke_keys_unchanged checks the keys themselves)
RUN_IDENTITY = ("net", "batch_size", "seed", "epochs", "stop", "train_subset", "test_subset",
                "method", "method_args", "precision", "init", "augment", "lr")
RUN_NUMBERS = {"train_loss": ("rel", SMOKE_LOSS_RTOL), "test_loss": ("rel", SMOKE_LOSS_RTOL),
               "train_acc": ("abs", SMOKE_TRAIN_ACC_ATOL), "test_acc": ("abs", SMOKE_TEST_ACC_ATOL)}


def _run_identity(cfg: dict) -> str:
    return json.dumps({k: cfg.get(k) for k in RUN_IDENTITY}, sort_keys=True)


def store_numbers(root: Path) -> dict:
    """Every number of the results store at ``root`` (layout-independent: its files only).

    runs: {name: {identity, status, epochs, the final row's losses and accuracies}};
    analyses: {"<kind>/<key>": {identity (its params, the run named by its identity; "fn" left
    out), numbers (the numeric fields of its value, "seconds" left out)}}."""
    root = Path(root)
    runs, identity = {}, {}
    for meta_file in sorted(root.glob("runs/*/meta.json")):
        d = meta_file.parent
        cfg, meta = json.loads((d / "config.json").read_text()), json.loads(meta_file.read_text())
        last = pd.read_csv(d / "history.csv").iloc[-1]
        identity[d.name] = _run_identity(cfg)
        runs[d.name] = {"identity": identity[d.name], "status": meta["status"],
                        "epochs": int(last["epoch"]),
                        **{k: float(last[k]) for k in RUN_NUMBERS}}
    analyses = {}
    for f in sorted(root.glob("analyses/*/*.json")):
        a = json.loads(f.read_text())
        params = {k: v for k, v in a["params"].items() if k != "fn"}
        if "run" in params:
            params["run"] = json.loads(identity.get(params["run"], json.dumps(params["run"])))
        numbers = {k: v for k, v in a["value"].items() if k != "seconds" and (
            isinstance(v, (int, float)) and not isinstance(v, bool)
            or isinstance(v, list) and all(isinstance(e, (int, float)) for e in v))}
        analyses[f"{f.parent.name}/{f.stem}"] = {
            "identity": json.dumps({"kind": f.parent.name, **params}, sort_keys=True),
            "numbers": numbers}
    return {"runs": runs, "analyses": analyses}


def smoke_problems(new: dict, ref: dict) -> list[str]:
    """Every number of ``new`` off ``ref`` beyond the SMOKE tolerances (matched by identity)."""
    out = []
    ref_runs = {r["identity"]: (n, r) for n, r in ref["runs"].items()}
    new_runs = {r["identity"]: (n, r) for n, r in new["runs"].items()}
    for ident in sorted(set(ref_runs) ^ set(new_runs)):
        out.append(f"run {ident}: {'missing now' if ident in ref_runs else 'not in the reference'}")
    for ident in sorted(set(ref_runs) & set(new_runs)):
        (name, r), (_, a) = ref_runs[ident], new_runs[ident]
        for k in ("status", "epochs"):
            if a[k] != r[k]:
                out.append(f"run {name}: {k} = {a[k]!r}, reference {r[k]!r}")
        out += [f"run {name}: final {k} = {a[k]!r}, reference {r[k]!r} ({kind} tolerance {tol})"
                for k, (kind, tol) in RUN_NUMBERS.items() if _off(a[k], r[k], kind, tol)]
    ref_an = {r["identity"]: (n, r["numbers"]) for n, r in ref["analyses"].items()}
    new_an = {r["identity"]: (n, r["numbers"]) for n, r in new["analyses"].items()}
    for ident in sorted(set(ref_an) ^ set(new_an)):
        out.append(f"analysis {ident}: {'missing now' if ident in ref_an else 'not in the reference'}")
    for ident in sorted(set(ref_an) & set(new_an)):
        (name, r), (_, a) = ref_an[ident], new_an[ident]
        tols = SMOKE_ANALYSIS_RTOL.get(name.split("/")[0], {})
        for k in sorted(set(r) | set(a)):
            if k not in r or k not in a:
                out.append(f"analysis {name}: field {k} only {'in the reference' if k in r else 'now'}")
            elif k not in tols:  # counts (iterations, evaluations, hvps, examples, n, p): equal
                if a[k] != r[k]:
                    out.append(f"analysis {name}: {k} = {a[k]!r}, reference {r[k]!r}")
            else:
                av, rv = (a[k], r[k]) if isinstance(r[k], list) else ([a[k]], [r[k]])
                if len(av) != len(rv) or any(_off(x, y, "rel", tols[k]) for x, y in zip(av, rv)):
                    out.append(f"analysis {name}: {k} = {a[k]!r}, reference {r[k]!r} "
                               f"(relative tolerance {tols[k]})")
    return out


def compute_smoke_slice(root: Path) -> float:
    """The smoke slice computed by the code importable as ``lbsm`` into a fresh store at ``root``
    (the current layout's public entry point; the pre-layering one for the reference). Seconds."""
    try:
        from lbsm.core.store import Store
        from lbsm.pipeline.compute import compute
    except ImportError:  # the code before the layering (make_smoke_reference.py at f55498e)
        from lbsm.compute import compute
        from lbsm.store import Store
    s = SMOKE_SLICE
    t0 = time.perf_counter()
    out = compute(s["chapters"], s["profile"], nets=s["nets"], store=Store(root))
    assert set(out) == set(s["chapters"])
    return time.perf_counter() - t0


@pytest.fixture(scope="module")
def smoke_now(tmp_path_factory):
    root = tmp_path_factory.mktemp("regression-smoke") / "results"
    seconds = compute_smoke_slice(root)
    return store_numbers(root), seconds


@pytest.fixture(scope="module")
def smoke_reference():
    ref = json.loads(REFERENCE.read_text())
    assert ref["slice"] == SMOKE_SLICE, "the reference is of another slice: remake it"
    return ref


def test_smoke_numbers_match_reference(smoke_now, smoke_reference):
    new, _ = smoke_now
    assert new["runs"] and new["analyses"]
    problems = smoke_problems(new, smoke_reference)
    assert not problems, (f"{len(problems)} numbers of the smoke slice moved from the reference "
                          f"({smoke_reference['note']}):\n" + "\n".join(problems))


def test_smoke_keys_unchanged(smoke_now, smoke_reference):
    """The store keys of the slice's runs and analyses are the reference's: a changed key would
    leave every published result of that kind unfound (recomputed) under the new code."""
    new, _ = smoke_now
    assert sorted(new["runs"]) == sorted(smoke_reference["runs"])
    assert sorted(new["analyses"]) == sorted(smoke_reference["analyses"])
