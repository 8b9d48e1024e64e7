"""The book's reproducibility summary, in the form ML Reproducibility Challenge reports use: the
scope (the paper's claims), the methodology, one generated sentence per claim with its answer,
number, uncertainty and n beside the paper's, and what the rest would need (per network, its
reason, its cost from :mod:`lbsm.report.costs` and the command).

Every sentence is generated from the verdict rows (:mod:`lbsm.report.verdicts`) and the runs
behind them; nothing here is typed by hand but the names of the parts.
"""
from __future__ import annotations

import html
from typing import TYPE_CHECKING

import pandas as pd

from ..core.catalog import artifacts, chapter_of
from ..pipeline.campaign import CAMPAIGNS
from . import costs
from .verdicts import ALPHA, MIN_SEEDS, POWER, claim, ours, short_reasons

if TYPE_CHECKING:
    from IPython.display import HTML

ANSWERS = {"reproduced": "reproduced", "same direction": "holds in the paper's direction",
           "inconclusive": "not decided", "contradicts": "contradicted"}


def claim_sentences(rows: list[dict]) -> list[str]:
    """One sentence per (artifact of the paper's, network) that ran: the claim, the answer and its
    evidence (ours with sd, n and p, the paper's numbers), paper panels first, in the book's order."""
    df = pd.DataFrame(rows, columns=["artifact", "net", "kind", "verdict", "evidence"])
    df["claim"] = [r.get("claim") or claim(r["artifact"]) for r in rows]  # a row's own, else the catalog's
    ran = df[(df.kind == "paper") & (df.verdict != "not run")]
    order = {a[0]: i for i, a in enumerate(artifacts())}
    ran = ran.assign(o=ran.artifact.map(order)).sort_values(["o", "net"], kind="stable")
    return [f"<b>{html.escape(r.artifact)}, {html.escape(r.net)}</b>: {html.escape(r.claim)}"
            f": <b>{ANSWERS[r.verdict]}</b> ({html.escape(r.verdict)}). {html.escape(short_reasons(r.evidence))}."
            for r in ran.itertuples()]


def _state(p) -> str:
    return ("complete" if len(p.done) == p.total else
            f"interim verdicts, the plan is {p.total} trials; <code>{html.escape(p.command)}</code> continues it")


def campaign_items(campaigns, lead: str | None = None) -> list[str]:
    """One list item per campaign, from ``(progress, verdict rows)`` pairs
    (:class:`lbsm.pipeline.campaign.Progress` and the rows of its published trials): how many
    trials are published, then one sentence per paper claim those trials decide, said to be
    interim until the campaign is complete; a campaign with none published gives its command.
    ``lead``: the campaign whose sentences lead the summary as its results (said, not repeated)."""
    out = []
    for p, rows in campaigns:
        head = f"<b>{html.escape(p.name)}</b> ({html.escape(p.profile.description)}): "
        if not p.done:
            out.append(head + f"no trial published yet (0 of {p.total}); "
                              f"<code>{html.escape(p.command)}</code> computes them.")
            continue
        counted = f"{len(p.done)} of {p.total} trials published ({_state(p)})"
        if p.name == lead:
            out.append(head + counted + ": its verdicts are the results above.")
            continue
        sentences = "".join(f"<li>{s}</li>" for s in claim_sentences(rows))
        out.append(head + f"{counted}:<ul>{sentences}</ul>")
    return out


def _tally(rows: list[dict]) -> str:
    df = pd.DataFrame(rows, columns=["artifact", "net", "kind", "verdict", "evidence"])
    ran = df[(df.kind == "paper") & (df.verdict != "not run")]
    return ", ".join(f"{n} {v}" for v, n in ran.verdict.value_counts().items()) or "none"


def leading(campaigns, profile: str):
    """The campaign whose readings supersede ``profile``'s and that has published a trial
    (``(progress, rows)``), else None: its verdicts lead the summary."""
    return next(((p, r) for p, r in campaigns if p.done and p.supersedes == profile),
                None)


def adopted(rows: list[dict], campaigns, profile: str) -> list[dict]:
    """The book's verdict rows as the landing page's findings, grid, summary plot and table show
    them: where the leading campaign (:func:`leading`) judged an (artifact, network), its row in
    place of ``profile``'s; every row names the profile it was judged under (``profile``)."""
    lead = leading(campaigns, profile)
    theirs = {} if lead is None else {(r["artifact"], r["net"]): {**r, "profile": lead[0].profile.name}
                                      for r in lead[1] if r["verdict"] != "not run"}
    return [theirs.get((r["artifact"], r["net"]), {**r, "profile": profile}) for r in rows]


def summary(rows: list[dict], profile: str, gap, commands: dict[str, str],
            table: pd.DataFrame, campaigns=(), notes=()) -> "HTML":
    """The reproducibility summary box: results first (one sentence per claim that ran, so the
    answer is on the first screen), then scope, methodology, and what the rest needs (per network,
    its cost and the command that computes it). ``gap``: the computed gap chapter (its trials give
    the networks run and the trials per configuration); ``table``: the cost table of what did not
    run (:func:`lbsm.report.costs.cost_table` of ``rows``), built once by the intro, which shows
    the same table under the box. ``campaigns``: ``(progress, verdict rows)`` of each campaign
    (:func:`campaign_items`), whose trials the profile's own rows do not include; ``notes``:
    generated sentences that qualify the adopted results (listed after them)."""
    from IPython.display import HTML
    nets_run = gap.trained.nets
    trials = max((len(p.seeds) for p in gap.profile.nets.values()), default=0)
    df = pd.DataFrame(rows, columns=["artifact", "net", "kind", "verdict", "evidence"])
    paper_rows = df[df.kind == "paper"]
    ran = paper_rows[paper_rows.verdict != "not run"]
    scope = (f"The paper's claims as {len(paper_rows)} (artifact, network) panels: its Tables 2-4, "
             f"6 and 7, Figures 2-7, the distance ratio and Section E.3, on the six networks of its "
             f"Table 1. Under profile <code>{html.escape(profile)}</code>, {len(ran)} of them ran "
             f"(networks {', '.join(nets_run) or 'none'}).")
    lead = leading(campaigns, profile)
    n_trials = (f"{trials} trials per configuration where the chapters say so" if lead is None else
                f"{len(lead[0].done)} trials per configuration under the adopted readings, {trials} "
                "under the earlier ones where the chapters say so")
    method = (f"{n_trials} (SB and LB of a trial "
              f"share their initial weights); a claim is resolved by a paired t-test over trials "
              f"(p &lt; {ALPHA:g}, at least {MIN_SEEDS} trials), accuracies as differences and "
              "every ratio-scale quantity as a log ratio; <i>reproduced</i> also needs our numbers "
              "within the paper's band; an unresolved claim says how many trials would resolve it "
              f"({POWER:.0%} power). Readings of what the paper leaves open: the setup chapter.")
    tally = _tally(rows)
    results = "".join(f"<li>{s}</li>" for s in claim_sentences(rows))
    if lead is None:
        head = f"<p><b>Results</b>, one sentence per claim that ran ({tally}):</p><ul>{results}</ul>"
    else:  # the adopted readings first, then the profile's own (earlier readings, other panels)
        p, lead_rows = lead
        lead_items = "".join(f"<li>{s}</li>" for s in claim_sentences(lead_rows)
                             + [html.escape(n) for n in notes if n])
        head = (f"<p><b>Results under the adopted readings</b> (campaign <code>{html.escape(p.name)}"
                f"</code>, {len(p.done)} of {p.total} trials published, {_state(p)}; the setup "
                f"chapter gives the readings and their reasons), one sentence per claim it decides "
                f"({_tally(lead_rows)}):</p><ul>{lead_items}</ul>"
                f"<p><b>Results under the earlier readings</b> (profile <code>{html.escape(profile)}"
                f"</code>, {trials} trials per configuration; the sensitivity chapter sets the two "
                f"side by side) and of the panels the campaign does not cover, one sentence per claim "
                f"that ran ({tally}):</p><ul>{results}</ul>")
    rest = "".join(f"<li>{s}</li>" for s in costs.rest_sentences(table))
    camp = "".join(f"<li>{s}</li>" for s in campaign_items(campaigns, lead[0].name if lead else None))
    cmds = "".join(f"<li>{html.escape(k)}: <code>{html.escape(v)}</code></li>" for k, v in commands.items())
    return HTML(
        "<div class='admonition tip lbsm-repro'><p class='admonition-title'>Reproducibility summary</p>"
        + head
        + (f"<p><b>Campaigns</b>, more trials or another protocol, computed one trial at a time "
           f"(their chapters show them in full):</p><ul>{camp}</ul>" if camp else "") +
        f"<p><b>Scope.</b> {scope}</p><p><b>Methodology.</b> {method}</p>"
        f"<p><b>What the rest needs</b> (per network; the cost table below adds them up). "
        f"{costs.assumptions()}</p><ul>{rest}</ul>"
        f"<p><b>Commands.</b></p><ul>{cmds}</ul></div>")


def chapter_result(rows: list[dict], profile: str | None = None) -> dict:
    """The chapter's answer for its opening line (``chapter_result``): per artifact and network that
    ran, the verdict and our numbers from its evidence (``verdicts.ours``), the paper's own
    panels first; the panels that did not run are counted, not listed. Where a campaign's readings
    supersede ``profile``'s (``Campaign.supersedes``) and it judges panels of these rows (its
    network, its chapters), the line says so first."""
    ran = sorted((r for r in rows if r["verdict"] != "not run"), key=lambda r: r.get("kind") != "paper")
    parts = [f"{r['artifact']} ({r['net']}{', extension' if r.get('kind') == 'extension' else ''}): "
             f"{r['verdict']}, {ours(r)}" for r in ran]
    missing = sum(r["verdict"] == "not run" for r in rows)
    text = "; ".join(parts) if parts else "nothing ran under this profile"
    if missing:
        text += f" ({missing} of the paper's panels did not run: the verdict table says why)"
    newer = [n for n, c in CAMPAIGNS.items() if profile and c.supersedes == profile and any(
        r["net"] == c.net and chapter_of(r["artifact"]) in c.chapters for r in ran)]
    if newer and parts:
        text = (f"Under profile {profile}'s earlier readings (campaign {', '.join(newer)} judges "
                f"{CAMPAIGNS[newer[0]].net}'s panels under the adopted ones: the landing page and "
                f"the gap chapter), {text}")
    return {"chapter_result": text}
