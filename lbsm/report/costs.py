"""What the rest needs, as the landing page says it: for each network whose panels of the paper did
not run, why, what running them under the ``paper`` profile costs and the command that does it. The
cost model itself (FLOPs, rates, hours, commands) is :mod:`lbsm.pipeline.costs`; this module only
tabulates and words it.
"""
from __future__ import annotations

import html

import pandas as pd

from ..core import models
from ..core.constants import DATASET_NAMES
from ..experiments import profiles
from ..pipeline.chunks import PLATEAU_GUESS
from ..pipeline.costs import COLUMNS, GPU_RATE_SOURCE, MEASURE, cost_row, read_rates


def cost_table(rows: list[dict], profile: str = "paper", rates: dict | None = None, *,
               ready) -> pd.DataFrame:
    """One row per network with paper panels that did not run (verdict rows ``rows``): the reason,
    the panels, and :func:`cost_row` of the work ``profile`` plans for them. ``ready``: {data set:
    there}, as the compute step found it (``Chapter.data_ready``): nothing is checked here."""
    P = profiles.get(profile)
    rates = rates or read_rates()
    df = pd.DataFrame(rows, columns=["artifact", "net", "kind", "verdict", "evidence"])
    miss = df[(df.kind == "paper") & (df.verdict == "not run")]
    out = [{"why not run": "; ".join(dict.fromkeys(g.evidence)), "paper panels": len(g),
            **cost_row(P, net, rates, ready)} for net, g in miss.groupby("net", sort=True)]
    return pd.DataFrame(out, columns=COLUMNS)


def _h(x: float) -> str:
    return f"{x:,.0f}" if x >= 10 else f"{x:.1f}"


def rest_sentences(table: pd.DataFrame, rates: dict | None = None) -> list[str]:
    """One sentence (HTML) per row of :func:`cost_table`: the network, why it did not run, what a
    free download adds, the cost in GPU-hours and CPU core-hours, and the command."""
    out = []
    for r in table.to_dict("records"):
        ds = models.NETWORKS[r["net"]][0]
        if r["data"] == "here":
            data = ""
        elif r["data"] == "licensed":
            data = (f" {DATASET_NAMES[ds]} is licensed: its features are brought by hand "
                    f"(<code>python -m lbsm data check {ds}</code> says how); then compute.")
        else:
            data = (f" {DATASET_NAMES[ds]} is a free download (<code>python -m lbsm data download "
                    f"{ds}</code> fetches the official archive and checks its md5); the rest is compute.")
        out.append(f"<b>{r['net']}</b> ({r['paper panels']} panels; {html.escape(r['why not run'])})."
                   f"{data} Its {r['runs']} runs and analyses under the paper profile are "
                   f"{r['PFLOP']:,.1f} PFLOP: about {_h(r['H100 GPU-h'])} GPU-hours on one H100 at "
                   f"fp32, or {_h(r['CPU core-h here'])} CPU core-hours here: "
                   f"<code>{html.escape(r['command'])}</code>")
    return out


def assumptions(rates: dict | None = None) -> str:
    """The sentence that states the rates and the epoch guess behind the hours (HTML)."""
    rates = rates or read_rates()
    cpu = ", ".join(f"{n} {v['flop_per_s'] / 1e9:.0f}" for n, v in sorted(rates["rates"].items()))
    return (f"Hours are FLOPs (PyTorch's counter on our networks; a plateau run counted at "
            f"{PLATEAU_GUESS} epochs) at a sustained rate: on the GPU {GPU_RATE_SOURCE}; here the "
            f"training rate measured on {rates['threads']} thread{'s' if rates['threads'] != 1 else ''} of this machine ({html.escape(rates['cpu'])}, "
            f"{rates['measured']}, commit {rates['commit']}, <code>{MEASURE}</code>), in GFLOP/s: {cpu}.")
