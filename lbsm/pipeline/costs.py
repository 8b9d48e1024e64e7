"""The cost model: what running a network's panels of the paper under a profile costs (FLOPs,
hours on one H100 at fp32 and on this machine's CPU) and the command that does it. The landing
page's table and sentences of it are :mod:`lbsm.report.costs` (formatting only).

The cost model (``lbsm.analyses.performance``): FLOPs counted by PyTorch's counter on our networks,
summed over the work the profile plans for the network's paper panels:

* every training run of its trials (Tables 2-4, Figures 2, 3 and 7), of the paper's Figures 4-6
  where the paper shows the network, and of its Appendix E remedies (Tables 6, 7 and Section E.3),
  each counted once: an epoch is a training pass over the training set (times the method's passes,
  ``performance.step_passes``) and an evaluation of the training and test sets; a run under the
  plateau rule is counted at ``PLATEAU_GUESS`` epochs (or its cap, if lower: the same guess
  ``compute --budget`` plans with), a fixed-epoch run at its epochs;
* Metric 2.1: ``SHARPNESS_EVALS`` f + grad evaluations per solve over the training set, at each
  eps, for every run's final minimizer (the trial minimizers twice: full space and subspace), and
  at every sampled epoch of the paper's Figure 6;
* the two parametric curves of every trial (``alpha_points`` evaluations of the training and test
  sets each).

The Hessian spectrum and the cone remark are not counted (a few % of the above). Hours are these
FLOPs at a sustained rate: on one H100 at fp32 an assumed share of its nominal rate (no GPU was
lent to measure it: ``GPU_RATE_SOURCE``), on this machine the rate ``python -m lbsm cost --measure``
measured and recorded with its provenance in ``RATES``.
"""
from __future__ import annotations

import dataclasses
import datetime
import json
from pathlib import Path

from ..analyses import performance
from ..core import catalog, machine, models, paper
from ..core.constants import DATASET_NAMES, SB_BATCH, TRAIN_SIZES
from ..core.datasets import LICENSED
from ..core.files import write_atomic
from ..experiments import appendix_e, profiles, sections, specs
from ..experiments.plans import data_ready, dataset_of
from .chunks import PLATEAU_GUESS, SHARPNESS_EVALS
from ..train.protocol import TrainConfig, lb_batch

RATES = Path(__file__).resolve().parents[1] / "measured" / "cpu_rates.json"
MEASURE = "python -m lbsm cost --measure"
# NVIDIA H100 Tensor Core GPU datasheet (H100 SXM): FP32 67 TFLOP/s, the CUDA cores' rate. The
# paper profile trains in fp32 with TF32 switched off, so the tensor cores' TF32 / bf16 rates do
# not apply. The sustained share is an assumption, not a measurement: no GPU was lent to measure
# it; `python benchmarks/bench_trainer.py --device cuda` measures it on one.
H100_FP32_PEAK = 67e12
GPU_SHARE = 0.5
GPU_RATE = H100_FP32_PEAK * GPU_SHARE
GPU_RATE_SOURCE = (f"{GPU_RATE / 1e12:.1f} TFLOP/s: an assumed {GPU_SHARE:.0%} of the H100 SXM's "
                   f"nominal {H100_FP32_PEAK / 1e12:.0f} TFLOP/s fp32 (NVIDIA's datasheet; CUDA "
                   "cores, TF32 off, as the paper profile trains), not measured")
TRIAL_CHAPTERS = catalog.chapters(runs="trials")  # the chapters of the SB/LB trials


# --------------------------------------------------------------------------- the measured CPU rate
STEP_FLOPS = 1e11  # the largest step a measurement times (C2 at its LB batch would take minutes)


def record_rates(nets=tuple(models.NETWORKS), path: Path = RATES, steps: int = 3) -> dict:
    """Measure the training FLOP rate of each network on this machine's CPU
    (``performance.measure_rate``) at the SB batch and at the LB batch (each capped at
    ``STEP_FLOPS`` a step) and record both, and their harmonic mean (SB and LB epochs cost the same
    FLOPs) as the network's rate, with the provenance (machine, threads, torch, commit, date,
    command) in ``path``."""
    import torch
    rates = {}
    for n in nets:
        _, _, shape = models.NETWORKS[n]
        cap = max(16, int(STEP_FLOPS // performance.flops_per_example(models.build(n, 0), shape, True)))
        sb, lb = (performance.measure_rate(n, min(b, cap), steps) for b in (SB_BATCH, lb_batch(n)))
        rates[n] = {"flop_per_s": 2 / (1 / sb["flop_per_s"] + 1 / lb["flop_per_s"]),
                    "flop_per_example": sb["flop_per_example"], "sb": sb, "lb": lb}
    out = {"measured": datetime.date.today().isoformat(), "command": MEASURE,
           "threads": torch.get_num_threads(), **machine.provenance("cpu"), "rates": rates}
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    write_atomic(Path(path), (json.dumps(out, indent=1, sort_keys=True) + "\n").encode())
    return out


def read_rates(path: Path = RATES) -> dict:
    """The recorded CPU rates (:func:`record_rates`); a clear error where none was recorded."""
    if not Path(path).is_file():
        raise FileNotFoundError(f"{path}: no CPU rate recorded; run `{MEASURE}`")
    return json.loads(Path(path).read_text())


# --------------------------------------------------------------------------- the work of a network
def _test_size(dataset: str) -> int:
    return int(paper.table(5).loc[DATASET_NAMES[dataset], "test"])


def _epochs(cfg) -> int:
    return min(cfg.epochs, PLATEAU_GUESS) if cfg.stop == "plateau" else cfg.epochs


def _ident(cfg) -> str:
    """A run's identity without its store key (which fingerprints licensed data it may lack)."""
    return repr(cfg)


def _sampled(spec: specs.Fig6Spec) -> int:
    """Epochs of both Figure 6 runs at which sharpness is measured."""
    if spec.epochs is None:
        return spec.sb_epochs + spec.lb_epochs + 2   # every epoch, x0 included, of both runs
    return 2 * (spec.epochs if isinstance(spec.epochs, int) else len(spec.epochs))


def _section_configs(section: str, spec) -> list:
    """``sections.CONFIGS[section](spec)``, except that Figure 5's warm starts name their SB run by
    a stand-in name ("SB"): its real name holds a store key, which fingerprints data that may be missing
    (TIMIT's); the cost is the same."""
    if section != "fig5":
        return sections.CONFIGS[section](spec)
    common = spec.train.common(spec.seed)
    epochs = range(spec.sb_epochs + 1) if spec.sb_epoch_subset is None else spec.sb_epoch_subset
    lb = spec.lb_batch or lb_batch(spec.net)
    return ([TrainConfig(spec.net, spec.sb_batch, epochs=spec.sb_epochs, **common, checkpoints=True)]
            + [TrainConfig(spec.net, lb, epochs=spec.lb_epochs, **common, init=f"SB@{int(e)}")
               for e in epochs])


def work(P: profiles.Profile, net: str) -> dict:
    """What ``P`` plans for ``net``'s paper panels, whether or not its data is here: the runs
    ({key: TrainConfig}), the Metric 2.1 solves, the parametric curves and the chapters that hold
    them (for the command)."""
    runs, solves, curves, chapters = {}, 0, 0, []
    trial_keys = set()
    if net in P.nets:
        for pair in P.trials(net):
            trial_keys |= {_ident(c) for c in pair}
            runs.update({_ident(c): c for c in pair})
        solves += 2 * len(P.sharpness_eps) * len(trial_keys)      # Tables 3 and 4
        curves += 2 * len(P.net(net).seeds)                        # Figures 3 and 7
        chapters += list(TRIAL_CHAPTERS)
    for chapter in catalog.chapters(runs="sections"):  # each chapter of sections, by its specs
        for section, ss in specs.sections(getattr(P, catalog.REGISTRY[chapter].knobs)).items():
            for spec in (s for s in ss if s.net == net and section != "cone"):
                if chapter == "remedies":
                    if section in appendix_e.ROBUST_SECTIONS:   # E.3: with its plain LB baseline
                        spec = dataclasses.replace(spec, plain_lb=True)
                    cfgs = appendix_e.remedy_configs(spec)
                else:
                    cfgs = _section_configs(section, spec)
                new = [c for c in cfgs if _ident(c) not in runs]
                runs.update({_ident(c): c for c in new})
                solves += len(spec.sharpness.eps) * len([c for c in new if _ident(c) not in trial_keys])
                if section == "fig6":
                    solves += len(spec.sharpness.eps) * _sampled(spec)
                chapters += [chapter] if chapter not in chapters else []
    return {"runs": list(runs.values()), "solves": solves, "curves": curves, "chapters": chapters}


def flops(P: profiles.Profile, net: str) -> dict:
    """FLOPs of :func:`work` (``train``, ``sharpness``, ``curves``, ``total``) and its counts."""
    w = work(P, net)
    dataset, _, shape = models.NETWORKS[net]
    model = models.build(net, 0)
    f_train = performance.flops_per_example(model, shape, train=True)
    f_eval = performance.flops_per_example(model, shape, train=False)
    n_test = _test_size(dataset)
    train = 0.0
    for c in w["runs"]:
        n = c.train_subset or TRAIN_SIZES[dataset]
        inner = int((c.method_args or {}).get("inner_steps", 1))
        train += performance.run_flops(f_train, f_eval, n, n + (c.test_subset or n_test), _epochs(c),
                                       performance.step_passes(c.method, inner))
    n_sharp = P.sharpness_examples(net) or TRAIN_SIZES[dataset]
    n_curve = P.landscape_examples(net) or TRAIN_SIZES[dataset]
    sharp = w["solves"] * performance.solve_flops(f_train, n_sharp, SHARPNESS_EVALS)
    curve = w["curves"] * performance.curve_flops(f_eval, n_curve + n_test, P.alpha_points)
    return {**w, "train": train, "sharpness": sharp, "curve_flops": curve,
            "total": train + sharp + curve, "epochs": sum(_epochs(c) for c in w["runs"])}


def command(net: str, chapters, profile: str = "paper", ready=None) -> str:
    """The command that computes ``net``'s panels: the data first where it is missing (a download,
    or, for licensed data, the check that says how to bring it), then the chapters. ``ready``:
    {data set: there}, as a computed chapter carries it (default: checked here)."""
    run = f"python -m lbsm compute {' '.join(chapters)} --profile {profile} --nets {net}"
    ds = dataset_of(net)
    if ready[ds] if ready is not None else data_ready(ds):
        return run
    verb = "check" if ds in LICENSED else "download"
    return f"python -m lbsm data {verb} {ds} && {run}"


# --------------------------------------------------------------------------- one network
COLUMNS = ["net", "why not run", "paper panels", "data", "runs", "PFLOP", "H100 GPU-h",
           "CPU core-h here", "command"]


def cost_row(P: profiles.Profile, net: str, rates: dict, ready=None) -> dict:
    """``net``'s work under ``P``: its runs, FLOPs, hours on one H100 at fp32 (``GPU_RATE``) and
    on one core of this machine (the recorded rate ``rates``), and the command. ``ready``:
    {data set: there} as a computed chapter carries it (``Chapter.data_ready``; default: checked
    here, as the ``cost`` command does)."""
    f = flops(P, net)
    ds = dataset_of(net)
    here = ready[ds] if ready is not None else data_ready(ds)
    data = "here" if here else "licensed" if ds in LICENSED else "free download"
    return {"net": net, "data": data, "runs": len(f["runs"]), "PFLOP": f["total"] / 1e15,
            "H100 GPU-h": performance.hours(f["total"], GPU_RATE),
            "CPU core-h here": performance.hours(f["total"], rates["rates"][net]["flop_per_s"]),
            "command": command(net, f["chapters"], P.name, {ds: here})}
