"""Each protocol reading against every F1 verdict: the sensitivity chapter's table "reading x
verdict" (issue: the protocol fixed before the numbers).

A row is a set of readings and the verdicts the book's rules give under it, on the paper's own
panels of one network: the adopted readings (profile ``cpu-v2``, ``lbsm.experiments.readings``), the
earlier ones (profile ``cpu``), each other reading of the stop rule applied to the adopted trials'
histories (``lbsm.experiments.stop_readings``), and Table 3 at each other L-BFGS-B iteration count
the adopted minimizers were solved for (``lbsm.report.iteration_readings``; at a count where some
solve stopped on no reduction of f, also under the stall reading). A stop reading decides
where a run ends, and the weights kept are those of the run's own end, so under another stop
reading only Table 2 (read off the histories) can be judged; the other cells say why they are empty.
"""
from __future__ import annotations

import pandas as pd

from . import iteration_readings
from .judgments import stop_readings as stop_verdicts
from .render import meta_values
from .summary import book_rows

STOP_ONLY = "weights kept at the run's own end only"
ITERS_ONLY = "Table 3's full-space solves only"


def _verdicts(chapters: dict, net: str) -> dict:
    """{artifact: verdict} of the paper's own rows for ``net`` in computed ``chapters``."""
    _, rows = book_rows(chapters)
    return {r["artifact"]: r["verdict"] for r in rows if r["net"] == net and r["kind"] == "paper"}


START = {"zero": "y = 0", "sign": "the gradient-sign vertex"}


def _label(chapters: dict, net: str) -> str:
    """"cpu-v2: no new minimum by more than 0 in 5 epochs, L-BFGS-B from y = 0; n = 3": the
    profile's readings, from its own settings, and its trials."""
    gap = chapters.get("gap")
    if gap is None:
        return "no trial published yet"
    P = gap.profile
    runs = gap.trained.runs(net) if net in gap.trained.nets else []
    stop = sorted({(r.config.stop, r.config.min_delta, r.config.patience) for r in runs})
    rule = "; ".join(f"a decrease > {md:g} in {pat} epochs" if how == "plateau" else "fixed epochs"
                     for how, md, pat in stop) or "no run"
    return (f"{P.name}: {rule}, L-BFGS-B from {START.get(P.sharpness_start, P.sharpness_start)}; "
            f"n = {len(gap.trained.pairs.get(net, []))}")


def _provenance(chapters: dict, net: str) -> dict:
    """Profile, seeds, precision, device and commit of the runs behind a set of readings."""
    gap = chapters.get("gap")
    runs = gap.trained.runs(net) if gap is not None and net in gap.trained.nets else []
    return {"profile": gap.profile.name if gap is not None else "—",
            "seeds": " ".join(map(str, sorted({r.config.seed for r in runs}))),
            "precision": "/".join(sorted({r.meta.get("precision", r.config.precision) for r in runs})),
            "device": "/".join(meta_values(runs, "device")),
            "commit": "/".join(meta_values(runs, "commit"))}


def tidy(t: pd.DataFrame, adopted: dict, earlier: dict, net: str = "F1") -> pd.DataFrame:
    """``table``'s cells one per row (readings, artifact, verdict) with the provenance of the runs
    each set of readings was judged on (the CSV under the table)."""
    prov = {"adopted": _provenance(adopted, net), "earlier": _provenance(earlier, net)}
    rows = []
    for label, r in t.iterrows():
        p = prov["earlier" if label.startswith("earlier") else "adopted"]
        p = p | ({"seeds": t.attrs["seeds"][label]} if label in t.attrs.get("seeds", {}) else {})
        rows += [{"readings": label, "net": net, "artifact": a, "verdict": v, **p} for a, v in r.items()]
    return pd.DataFrame(rows)


def table(adopted: dict, earlier: dict, net: str = "F1") -> pd.DataFrame:
    """Rows: the adopted readings, the earlier readings, then each other stop reading on the
    adopted trials' histories; columns: the artifacts judged under the adopted readings; cells: the
    verdict, "not run" where a set of readings has no such row."""
    sets = [(f"adopted ({_label(adopted, net)})", _verdicts(adopted, net)),
            (f"earlier ({_label(earlier, net)})", _verdicts(earlier, net))]
    cols = list(dict.fromkeys(a for _, v in sets for a in v))
    rows = {label: {a: v.get(a, "not run") for a in cols} for label, v in sets}
    gap = adopted.get("gap")
    if gap is not None and len(gap.stop_readings):
        sr = stop_verdicts(gap.stop_readings)
        for (reading, n), r in sr.iterrows():
            if n != net or reading.endswith("(adopted)"):
                continue
            rows[f"stop rule: {reading} (cpu-v2 histories, {r['trials read off']} trials)"] = {
                a: (r["Table 2 verdict"] if a == "Table 2" else STOP_ONLY) for a in cols}
    frame = iteration_readings.frame_of(adopted)
    seeds = {}  # rows judged on fewer trials than the adopted readings: the seeds they used
    if len(frame) and "Table 3" in cols:
        adopted_iters = adopted["sharpness"].plan.sharpness_iters
        mine = frame[frame.net == net]
        stalled = set(iteration_readings.stalls(mine).iters)
        for stall in (False, True):
            for k, r in iteration_readings.verdicts(mine, stall_converged=stall).items():
                if (k == adopted_iters and not stall) or (stall and k not in stalled):
                    continue  # the adopted count, or a count the stall reading does not change
                used = sorted(mine[mine.iters == k].seed.unique())
                label = (f"Metric 2.1: {k} L-BFGS-B iterations"
                         + (f", {iteration_readings.STALL_READING}" if stall else "")
                         + f" (cpu-v2 minimizers, {len(used)} trials)")
                rows[label] = {a: (r["verdict"] if a == "Table 3" else ITERS_ONLY) for a in cols}
                seeds[label] = " ".join(map(str, used))
    out = pd.DataFrame.from_dict(rows, orient="index", columns=cols)
    out.index.name = "readings"
    out.attrs["seeds"] = seeds
    return out
