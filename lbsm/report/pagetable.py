"""A table as the page shows it: one header row (the index becomes the leading columns), a caption
the site numbers ("Table N: ...", in book order, ``book/_ext/book_site.py``), no word broken
inside (a column of short cells never wraps, long text wraps at spaces only) and a box of its own
that scrolls sideways when the table is wider than the page; and the captions of the book's
tables, by the name of their CSV."""
from __future__ import annotations

import html
import re

import pandas as pd

SHORT = 16  # characters: a column whose every cell is at most this long never wraps (a header
# wraps at its spaces, so a short column stays as narrow as its cells)
# a "word" with a break opportunity inside (hyphen, slash, dash): kept on one line
BREAKABLE = re.compile(r"\S*[-‐‑–—/\\|]\S*")
NUMBER = '<span class="lbsm-table-number">Table:</span>'  # the site writes "Table N:" into it

# What each table shows, by its CSV name (``report.show(..., name)``); the paper's tables and
# figures are named as the paper's, so our numbers ("Table N", "Fig. N") never read as theirs.
CAPTIONS = {
    "intro/verdicts": "Every verdict of the book: each claim of the paper, per artifact and network, "
                      "with the numbers it was decided on.",
    "intro/costs": "What the paper's panels that did not run would cost under the paper profile, "
                   "per network: why they did not run, the runs and FLOPs, hours on one H100 at fp32 "
                   "and on one core of this machine, and the command that runs them.",
    "intro/status": "How much of each of the paper's artifacts ran under this profile, per chapter.",
    "setup/table1": "The paper's Table 1 (network configurations) beside our implementation: layers "
                    "and parameter counts of each network.",
    "setup/table5": "The paper's Table 5 (data sets) beside the data this machine holds: training and "
                    "test examples, features and classes.",
    "setup/protocol_choices": "Protocol choices the paper leaves open: the code's default, this "
                              "profile's value, where it is set and the chapter that measures it.",
    "setup/profile": "What this profile trains, per network: seeds, batch sizes, epochs, stop rule, "
                     "data, precision and how it departs from the paper.",
    "setup/analysis_settings": "This profile's analysis settings beside the paper's.",
    "gap/campaign_verdicts": "Every verdict of the cpu-v2 campaign (the adopted readings) on its "
                             "published trials, each at n and at the paper's 5 trials: F1's Table 2, "
                             "Figures 3 and 7, distance ratio, Tables 3 and 4 and Hessian (the other "
                             "networks are not in the campaign: not run).",
    "gap/official20_accuracies": "C1 after the official code's 20 epochs (campaign official-20): train and "
                                 "test accuracy (%) of each published trial's SB and LB runs.",
    "gap/official20_verdicts": "C1's 20-epoch accuracies judged apart from Table 2: LB below SB (paired "
                               "over trials), the paper's Figure 2 run at epoch 20 within ± 2 sd of ours.",
    "interpolation/official20_figure3_rise": "How much C1's training loss rises one grid step beyond each "
                                             "minimizer after the official code's 20 epochs, per published trial.",
    "interpolation/official20_distance_ratio": "The distance ratio of C1's minimizers after the official "
                                               "code's 20 epochs, over the published trials.",
    "interpolation/official20_verdicts": "Verdicts of the paper's Figures 3 and 7 and the distance ratio on "
                                         "C1's published official-20 trials.",
    "gap/campaign_stop_readings": "The paper's Table 2 under each reading of 'ceased to improve', read off the "
                                  "histories of the cpu-v2 campaign's published trials.",
    "gap/stop_readings": "The paper's Table 2 under each reading of 'until the loss ceased to improve', "
                         "read off the stored histories (nothing retrained), each judged by Table 2's rule.",
    "setup/readings": "The readings adopted before the recompute: for each choice the paper leaves "
                      "open, what the book does, why, and what the sensitivity chapter shows instead.",
    "gap/table2": "Final train and test accuracy (%), ours (mean ± sd over trials) against the "
                  "paper's Table 2, with the gap (test SB − test LB) and its paired t-test.",
    "gap/paper_table2": "The paper's Table 2 as printed: train and test accuracy (%) of SB and LB "
                        "training for all six networks.",
    "interpolation/figure3_rise": "How steeply the training loss rises one grid step beyond each "
                                  "minimizer on the line of the paper's Figure 3, per trial, beside "
                                  "the paper's curve read at the same step.",
    "interpolation/distance_ratio": "The distance ratio ‖x_SB − x0‖ / ‖x_LB − x0‖ per network, "
                                    "against the paper's stated range.",
    "sharpness/table3": "Metric 2.1 in the full space (%), ours (mean ± sd over trials) against "
                        "the paper's Table 3, with LB/SB and the L-BFGS-B iterations run.",
    "sharpness/table4": "Metric 2.1 in a random subspace (%), ours (mean ± sd over trials) against "
                        "the paper's Table 4, with LB/SB and the L-BFGS-B iterations run.",
    "sharpness/subspace_kinds": "Metric 2.1 in a random subspace under each reading of the random "
                                "matrix A, beside the paper's Table 4.",
    "sharpness/paper_table3": "The paper's Table 3 as printed: Metric 2.1 in the full space (%) for "
                              "all six networks.",
    "sharpness/paper_table4": "The paper's Table 4 as printed: Metric 2.1 in a random subspace (%) "
                              "for all six networks.",
    "sharpness/hessian": "The largest Hessian eigenvalues and the Hessian trace at the SB and LB "
                         "minimizers (mean ± sd over trials; not in the paper).",
    "small_batches/figure4_knees": "The threshold batch size of the paper's Figure 4: our knee "
                                   "against the paper's, in examples and as a fraction of the "
                                   "training set.",
    "small_batches/figure6_ends": "The first and last points of the paper's Figure 6 curves "
                                  "(training loss and sharpness), ours beside the paper's.",
    "small_batches/cone": "'Not a cone': the share of random directions along which each minimizer "
                          "is steep, against the paper's statement.",
    "small_batches/appendix_c": "Appendix C: iterations SB and LB training need to reach a common "
                                "test accuracy, against the bound under which LB is faster.",
    "remedies/table6": "Data augmentation: test accuracy (%) and LB sharpness, ours (mean ± sd over "
                       "trials) against the paper's Table 6.",
    "remedies/paper_table6": "The paper's Table 6 as printed: data augmentation, for the networks "
                             "it shows.",
    "remedies/table7": "Conservative training: test accuracy (%) and LB sharpness, ours (mean ± sd "
                       "over trials) against the paper's Table 7.",
    "remedies/paper_table7": "The paper's Table 7 as printed: conservative training, for all six "
                             "networks.",
    "remedies/e3": "Section E.3, robust training: each run's loss, accuracy and sharpness beside "
                   "the plain LB run of the same seed and the SB baseline.",
    "sensitivity/readings_verdicts": "Every F1 verdict on the paper's own panels under each set of "
                                     "protocol readings: adopted (cpu-v2), earlier, each other stop rule "
                                     "and each other L-BFGS-B iteration count.",
    "sensitivity/campaign_iterations": "Table 3 of the adopted (cpu-v2) minimizers after each "
                                       "count of L-BFGS-B iterations from y = 0 (SB and LB: geometric "
                                       "means over trials, as the log-ratio test compares them), "
                                       "and how far the solves got toward the box (median over "
                                       "trials).",
    "sensitivity/precision_per_seed": "Precision, per trial: SB and LB sharpness, their ratio, "
                                      "test accuracy (%) and the gap under each precision.",
    "sensitivity/closing": "Every setting of every unstated choice: SB and LB sharpness and how "
                           "many decades each lies from the paper's Table 3.",
    "beyond/methods": "The methods that later closed the large-batch gap, as run here: batch, "
                      "optimizer step, arguments and stop rule.",
    "beyond/closing": "Test accuracy (%, mean ± sd), the gap and each sharpness measure per "
                      "method (geometric means over the trials that have them, as the log-ratio "
                      "tests compare them).",
    "beyond/reparam": "Metric 2.1 and adaptive sharpness of the same function under a rescaling "
                      "before each BatchNorm.",
    "beyond/noise": "The gradient noise scale B_simple (examples) along SB and LB training.",
    "beyond/kendall": "Kendall's tau of each sharpness measure against test error and the gap, "
                      "with its 95 % bootstrap interval, over every stored run.",
    "datapage/index": "Every CSV of the book: its path in the zip, its chapter, rows and columns.",
    "datapage/columns": "Every column of the book's CSVs: what it means, its unit and in how many "
                        "files it is.",
}
SENSITIVITY = {"start": "the L-BFGS-B start point", "iters": "the L-BFGS-B iterations",
               "tol": "the L-BFGS-B stopping tolerances", "subset": "the training examples in f",
               "bn": "the BatchNorm statistics in f", "eval_batch": "the evaluation batch of f",
               "stop": "the stop rule (retrained)", "precision": "the precision (retrained)"}
STATUS = "How much of each of this chapter's artifacts ran under this profile, and what is missing."


def caption(name: str) -> str:
    """The caption of the table whose CSV is ``name`` ("gap/table2"); "" for an unknown name."""
    if name in CAPTIONS:
        return CAPTIONS[name]
    chapter, _, part = name.partition("/")
    if part == "verdicts":
        return ("The verdict on each of this chapter's claims, per artifact and network, with the "
                "numbers it was decided on.")
    if chapter == "sensitivity" and part in SENSITIVITY:
        return (f"Metric 2.1 of the SB and LB minimizers under each setting of {SENSITIVITY[part]}, "
                "beside the paper's Table 3 (the study's baseline marked).")
    return ""


def default_caption(df: pd.DataFrame) -> str:
    """The caption of a table shown without a name: a chapter's status rows (``status.show``)."""
    return STATUS if df.index.name == "artifact" and "status" in df.columns else ""


def _label(value) -> str:
    return "" if value is None else str(value).replace("_", " ")


def _text(value) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return "—"
    return str(value)


def _cell(text: str) -> str:
    """Escaped ``text`` whose hyphenated or slashed words cannot break inside."""
    out, last = [], 0
    for m in BREAKABLE.finditer(text):
        out += [html.escape(text[last:m.start()]),
                f'<span class="lbsm-word">{html.escape(m.group(0))}</span>']
        last = m.end()
    out.append(html.escape(text[last:]))
    return "".join(out)


def columns(df: pd.DataFrame) -> tuple[list[str], list[list[str]], int]:
    """(header, rows of cell texts, how many leading columns were the index): one header row; a
    named or non-default index becomes leading columns, a default RangeIndex is left out."""
    keep_index = not (isinstance(df.index, pd.RangeIndex) and df.index.name is None)
    cols = [" ".join(_label(x) for x in c if str(x)) if isinstance(c, tuple) else _label(c)
            for c in df.columns]
    names = [_label(n) for n in df.index.names] if keep_index else []
    body = []
    for key, row in zip(df.index, df.itertuples(index=False)):
        keys = (list(key) if isinstance(key, tuple) else [key]) if keep_index else []
        body.append([_text(k) for k in keys] + [_text(v) for v in row])
    return names + cols, body, len(names)


def to_html(df: pd.DataFrame, text: str = "") -> str:
    """``df`` as the page's table: numbered caption, one header row, leading index columns
    grouped (a repeated key spans its rows), short columns unwrapped, in a sideways-scrolling box."""
    header, body, n_index = columns(df)
    short = [all(len(r[j]) <= SHORT for r in body) for j in range(len(header))]
    cls = lambda j: ' class="lbsm-nowrap"' if short[j] else ""  # noqa: E731
    head = "".join(f"<th>{_cell(h)}</th>" for h in header)
    rows = []
    for i, r in enumerate(body):
        cells = []
        for j, v in enumerate(r):
            if j < n_index - 1:  # an outer index level: one cell spanning its repeated rows
                if i and body[i - 1][:j + 1] == r[:j + 1]:
                    continue
                span = 1
                while i + span < len(body) and body[i + span][:j + 1] == r[:j + 1]:
                    span += 1
                rs = f' rowspan="{span}"' if span > 1 else ""
                cells.append(f'<th scope="row"{rs}{cls(j)}>{_cell(v)}</th>')
            elif j < n_index:
                cells.append(f'<th scope="row"{cls(j)}>{_cell(v)}</th>')
            else:
                cells.append(f"<td{cls(j)}>{_cell(v)}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    label = html.escape(text, quote=True)
    return (f'<div class="lbsm-table">\n<p class="lbsm-table-caption">{NUMBER} {html.escape(text)}</p>\n'
            f'<div class="lbsm-table-scroll" role="region" tabindex="0" aria-label="{label}">\n'
            f'<table class="dataframe lbsm-dataframe">\n<thead><tr>{head}</tr></thead>\n<tbody>\n'
            + "\n".join(rows) + "\n</tbody>\n</table>\n</div>\n</div>")
