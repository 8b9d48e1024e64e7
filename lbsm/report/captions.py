"""Captions: which profile, networks, seeds, epochs, data, precision, device and commit made a
table or figure, and how its protocol departs from the paper's."""
from __future__ import annotations

import re
from typing import TYPE_CHECKING

import pandas as pd

from ..core import paper
from ..core.datasets import HOW_TO_GET
from ..core.constants import EPS, eps_label
from ..experiments import profiles
from ..experiments.plans import Plan, Result, data_need, dataset_of
from ..experiments.trials import Trained
from .render import PAPER_NETS, TITLES, meta_values, precisions

if TYPE_CHECKING:
    from IPython.display import Markdown

PAPERS_OWN = re.compile(r"(Table|Figure|Section|Appendix) [A-Z]?\d")  # a name of the paper's


def declared_nets(name: str) -> tuple[str, ...]:
    """The networks profile ``name`` trains as defined (before a papermill ``nets`` override)."""
    return tuple(profiles.get(name).nets) if name in profiles.PROFILES else ()


def deviations(P: profiles.Profile, net: str, runs=()) -> list[str]:
    """How a profile's plan for ``net`` (and the precision its ``runs`` used) departs from the
    paper's protocol (empty: none)."""
    plan, out = P.net(net), []
    if len(plan.seeds) < paper.protocol()["trials"]:
        out.append(f"{len(plan.seeds)} of {paper.protocol()['trials']} trials")
    if plan.stop != "plateau":
        out.append(f"fixed {plan.sb_epochs} SB / {plan.lb_epochs} LB epochs instead of "
                   "'until the loss ceased to improve'")
    if plan.train_subset or plan.test_subset:
        out.append(f"{plan.train_subset or 'all'} training / {plan.test_subset or 'all'} test examples")
    used = {r.meta.get("precision") for r in runs} or {plan.precision}
    if "bf16" in used:
        out.append("bf16 autocast")
    return out


def per_net(P: profiles.Profile, examples, prefix: str = "") -> str:
    """A per-network count as text: "10000" when all networks agree, else "10000 (F1), 1000 (C1)"."""
    text = {n: f"{prefix}{examples(n)}" if examples(n) else "all" for n in P.nets}
    if len(set(text.values())) == 1:
        return next(iter(text.values()))
    return ", ".join(f"{t} ({n})" for n, t in text.items())


def _seeds_text(seeds) -> str:
    seeds = list(seeds)
    return f"seed{'s' if len(seeds) > 1 else ''} {', '.join(map(str, seeds))}"


def _span(values) -> str:
    v = sorted(set(int(x) for x in values))
    return str(v[0]) if len(v) == 1 else f"{v[0]}-{v[-1]}"


def caption(T: Trained, what: str = "", nets=None, extra: str = "", analyses=()) -> "Markdown":
    """A caption stating profile, device, seeds, epochs and commit of the runs shown.

    ``extra``: the analysis settings (``lbsm.status.analysis_note``) when the artifact is
    computed from the runs; ``analyses``: the store kinds whose commits and devices to state.
    """
    nets = [n for n in (nets or T.nets) if n in T.pairs]
    parts = []
    for n in nets:
        sb = [p[0] for p in T.pairs[n]]
        lb = [p[1] for p in T.pairs[n]]
        cfg = sb[0].config
        data = f", {sb[0].meta['n_train']} training / {sb[0].meta['n_test']} test examples"
        parts.append(f"{n}: {_seeds_text(r.config.seed for r in sb)}, SB (B={cfg.batch_size}) "
                     f"{_span(r.meta['epochs_run'] for r in sb)} / LB (B={lb[0].config.batch_size}) "
                     f"{_span(r.meta['epochs_run'] for r in lb)} epochs"
                     f"{stop_text(sb + lb)}, {precisions(sb + lb)}{data}")
    runs = [r for n in nets for r in T.runs(n)]
    made = analysis_provenance(analyses, runs) if analyses else ""
    full = (f"profile `{T.profile.name}`; {'; '.join(parts) or 'no runs'}; "
            f"{extra + '; ' if extra else ''}{provenance_text(runs)}{'; ' + made if made else ''}.")
    return collapsed(what, compact_line(T.profile.name, nets, runs), full)


def compact_line(profile: str, nets, runs) -> str:
    """The one line a reader sees: ``profile cpu · F1 · seeds 0-4 · fp32 · cpu (2 threads) ·
    commit f55498e`` (every value the runs have, joined)."""
    if not runs:
        return f"profile {profile} · nothing ran"
    seeds = sorted({r.config.seed for r in runs})
    devices, commits = meta_values(runs, "device"), meta_values(runs, "commit")
    return " · ".join([f"profile {profile}", ", ".join(nets),
                       f"seed{'s' if len(seeds) > 1 else ''} {_span(seeds)}", precisions(runs),
                       ", ".join(devices), f"commit {', '.join(commits)}"])


def collapsed(what: str, line: str, full: str) -> "Markdown":
    """Provenance under a table or figure: a compact line, the whole account folded under it
    (an HTML ``<details>`` block: the reader opens it when they want the settings)."""
    from IPython.display import Markdown
    if PAPERS_OWN.match(what):  # the paper's artifact, never to be read as our "Table N" / "Fig. N"
        what = f"the paper's {what}"
    what = what[:1].upper() + what[1:]
    return Markdown(f'<details class="lbsm-provenance"><summary>{what + ": " if what else ""}'
                    f"how it was made — {line}</summary>\n\n{full}\n\n</details>")


def stop_text(runs) -> str:
    """" (plateau rule, cap 100 epochs: 2 of 10 runs ended by the cap)" for plateau runs,
    " (fixed 60 epochs)" for fixed ones, both (joined by "; ") when the runs mix them; the cap
    count is stated even when it is 0."""
    plateau = [r for r in runs if r.config.stop == "plateau"]
    fixed = [r for r in runs if r.config.stop != "plateau"]
    parts = []
    if plateau:
        caps = sorted({r.config.epochs for r in plateau})
        capped = sum(r.meta.get("stopped_by") == "cap" for r in plateau)
        parts.append(f"plateau rule, cap {'/'.join(map(str, caps))} epochs: {capped} of "
                     f"{len(plateau)} runs ended by the cap")
    if fixed:
        counts = "/".join(map(str, sorted({r.config.epochs for r in fixed})))
        parts.append(f"fixed {counts} epochs" if not plateau else
                     f"{len(fixed)} runs of fixed {counts} epochs")
    return f" ({'; '.join(parts)})"


def plotted_note(curves: pd.DataFrame) -> str:
    """"plotted: the pair of seed 0; the rise table and verdicts: seeds 0-4" for parametric curves."""
    if curves.empty or "seed" not in curves:
        return "nothing plotted"
    seeds = sorted(set(curves.seed))
    return (f"plotted: the pair of seed {seeds[0]}; the rise table and verdicts: "
            f"{_seeds_text(seeds)}")


def analysis_provenance(kinds, runs) -> str:
    """"analyses (sharpness) computed at commit ab12cd3 on cpu (2 threads)": the commits and
    devices of the stored analyses of ``kinds`` whose parameters name one of ``runs``."""
    names = {r.name for r in runs}
    store = next((r.store for r in runs if getattr(r, "store", None) is not None), None)
    if store is None:
        return ""
    commits, devices = set(), set()
    for kind in kinds:
        a = store.analyses(kind)
        if a.empty:
            continue
        cols = [c for c in ("param_run", "param_sb", "param_lb") if c in a]
        hit = a[a[cols].isin(names).any(axis=1)] if cols else a.iloc[0:0]
        commits |= set(hit.get("commit", []))
        devices |= set(hit.get("device", []))
    if not commits:
        return ""
    return (f"analyses ({', '.join(kinds)}) computed at commit {', '.join(sorted(map(str, commits)))} "
            f"on {', '.join(sorted(map(str, devices)))}")


def provenance_text(runs) -> str:
    """"device: ...; trained at commit ..." of ``runs`` (and the commit rendering them, if other)."""
    devices = meta_values(runs, "device") or ["—"]
    commits = meta_values(runs, "commit") or ["—"]
    return f"device: {', '.join(devices)}; trained at commit {', '.join(commits)}"


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f} min" if seconds >= 60 else f"{seconds:.0f} s"


def cost_text(runs, chapter: str = "", profile: str = "") -> str:
    """What computing these runs from nothing took, from their stored provenance: training (the
    runs' ``wall_seconds``) and every stored analysis that names one of them (its ``seconds``),
    on which devices; and the command that recomputes it. ``runs``: {name: Run} or a list."""
    runs = list(runs.values()) if isinstance(runs, dict) else list(runs)
    if not runs:
        return ""
    names = {r.name for r in runs}
    train_s = sum(float(r.meta.get("wall_seconds") or 0) for r in runs)
    devices = meta_values(runs, "device")
    store = next((r.store for r in runs if getattr(r, "store", None) is not None), None)
    analyses_s, n = 0.0, 0
    a = store.analyses() if store is not None else pd.DataFrame()
    if not a.empty:
        cols = [c for c in ("param_run", "param_sb", "param_lb") if c in a]
        hit = a[a[cols].isin(names).any(axis=1)] if cols else a.iloc[0:0]
        analyses_s, n = float(pd.to_numeric(hit.get("seconds"), errors="coerce").sum()), len(hit)
    again = (f"; `python -m lbsm compute {chapter} --profile {profile}` recomputes what a results "
             "store lacks" if chapter and profile else "")
    return (f"Its {len(runs)} runs took {_minutes(train_s)} to train and their {n} stored analyses "
            f"(some shared with other chapters) {_minutes(analyses_s)}, on {', '.join(devices)}; "
            f"rendering from the stored results takes seconds{again}.")


def coverage(T: Trained, runs=None, chapter: str = "", *, ready) -> "Markdown":
    """Which networks this profile trained, why the others are absent (needs data / profile),
    and, given the chapter's ``runs``, what computing them took (:func:`cost_text`). ``ready``:
    {data set: there}, as the compute step found it (``Chapter.data_ready``)."""
    from IPython.display import Markdown
    lines = [f"Profile `{T.profile.name}` ({T.profile.description}) trains "
             f"{', '.join(T.nets) or 'no network'}."]
    if runs:
        lines[0] += " " + cost_text(runs, chapter, T.profile.name)
    for n in paper.NETS:
        if n in T.missing:
            lines.append(f"- **{n}: {data_need(T.missing[n])}** "
                         f"({HOW_TO_GET[T.missing[n]]}).")
        elif n not in T.pairs and n in declared_nets(T.profile.name):
            lines.append(f"- {n}: in profile `{T.profile.name}` but left out of this run by the "
                         "papermill parameter `nets`.")
        elif n not in T.pairs:
            here = ready[dataset_of(n)]
            lines.append(f"- {n}: not in profile `{T.profile.name}`"
                         + ("" if here else f"; {data_need(dataset_of(n))}")
                         + (" (the `paper` profile trains it)" if here else "") + ".")
    return Markdown("\n".join(lines))


def static_caption(P: profiles.Profile, what: str, source: str) -> "Markdown":
    """Caption of a table computed without training (profile, device, commit; no seeds/epochs)."""
    return collapsed(what, f"profile {P.name} · no training · computed when the page is rendered",
                     f"profile `{P.name}`; {source}; no training (seeds and epochs do not apply), no "
                     "stored result: computed by `lbsm` when the page is rendered.")


def _epochs(runs) -> str:
    return _span(r.meta["epochs_run"] for r in runs)


def sharpness_settings(spec) -> tuple[int | None, int | None]:
    """(L-BFGS-B iterations, training examples) of a section spec's Metric 2.1 (None, None: the
    section measures no sharpness)."""
    if spec is None:
        return None, None
    if hasattr(spec, "sharpness"):
        return spec.sharpness.iters, spec.sharpness.subset
    if hasattr(spec, "sharpness_iters"):  # the cone remark's reference solve
        return spec.sharpness_iters, spec.subset
    return None, None


def section_caption(R: Result, what: str = "", extra: str = "", analyses=("sharpness",)) -> "Markdown":
    """A caption stating profile, networks, seeds, batch sizes, epochs, data, sharpness settings,
    device and commit of the runs behind ``R``."""
    parts, runs = [], []
    for net, rs in R.runs.items():
        if not rs:
            continue
        runs += rs
        batches = ", ".join(str(b) for b in sorted({r.config.batch_size for r in rs}))
        iters, subset = sharpness_settings(R.specs.get(net))
        sharp = (f"; sharpness: L-BFGS-B from the box vertex along the gradient, "
                 f"{iters} iterations (tolerances off), on "
                 f"{subset or 'all'} training examples") if iters is not None else ""
        stand = f" (standing in for {R.plan.stand_ins[R.section][net]})" \
            if net in R.plan.stand_ins.get(R.section, {}) else ""
        parts.append(f"{net}{stand}: {_seeds_text(sorted({r.config.seed for r in rs}))}, "
                     f"B = {batches}, {_epochs(rs)} epochs, {rs[0].meta['n_train']} training / "
                     f"{rs[0].meta['n_test']} test examples, {precisions(rs)}{sharp}")
    eps = ", ".join(eps_label(e) for e in EPS)
    made = analysis_provenance(analyses, runs) if analyses and runs else ""
    full = (f"profile `{R.plan.profile.name}`; {'; '.join(parts) or 'no runs'}; eps {eps}; "
            f"{extra + '; ' if extra else ''}{provenance_text(runs)}{'; ' + made if made else ''}.")
    nets = [net for net, rs in R.runs.items() if rs]
    return collapsed(what, compact_line(R.plan.profile.name, nets, runs), full)


def section_coverage(S: Plan, runs=None, *, ready) -> "Markdown":
    """Per section: the networks it runs, those the paper shows, what is skipped and why; given
    the chapter's ``runs``, what computing them took (:func:`cost_text`). ``ready``: {data set:
    there}, as the compute step found it (``Chapter.data_ready``)."""
    from IPython.display import Markdown
    cost = (" " + cost_text(runs, S.chapter, S.profile.name)) if runs else ""
    lines = [f"Profile `{S.profile.name}` ({S.profile.description}).{cost}", ""]
    for section in S.specs:
        run, skip = [spec.net for spec in S.specs[section]], S.skipped[section]
        wanted = PAPER_NETS[section]
        parts = [f"runs {', '.join(run) or 'nothing'}"]
        parts += [f"{new} stands in for {old}" for new, old in S.stand_ins[section].items()]
        parts += [f"skips {n} ({why})" for n, why in skip.items()]
        absent = [n for n in wanted if n not in run and n not in skip]
        if absent:
            parts.append("not in this profile: " + ", ".join(
                n if ready[dataset_of(n)]
                else f"{n} ({data_need(dataset_of(n))})" for n in absent))
        shown = ", ".join(wanted) if wanted else "no network named, no numbers"
        lines.append(f"- **{TITLES[section]}** (paper: {shown}): {'; '.join(parts)}.")
    return Markdown("\n".join(lines))


def runs_caption(C, what: str = "", names=None) -> "Markdown":
    """The provenance line of a table or figure made from the runs of chapter ``C`` (its ``runs``
    and ``profile``): every run, or those named in ``names`` (e.g. a table's ``run`` column, when
    it measured only some): profile, networks, seeds, precision, devices, commits, folded."""
    runs = list(C.runs.values())
    if names is not None:
        wanted = set(names)
        runs = [r for r in runs if r.name in wanted]
    nets = sorted({r.config.net for r in runs})
    full = (f"profile `{C.profile.name}`; {len(runs)} runs of {', '.join(nets) or 'no network'}"
            f"{stop_text(runs) if runs else ''}; {provenance_text(runs)}.")
    return collapsed(what, compact_line(C.profile.name, nets, runs), full)
