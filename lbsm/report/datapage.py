"""The data page: an index of every CSV the book wrote and a dictionary of their columns."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from .render import csv_dir


COLUMN_DOC = {
    "net": ("network of the paper's Table 1 (F1, F2, C1-C4)", ""),
    "seed": ("trial: seeds x0, the minibatch order and dropout; SB and LB of a trial share x0", ""),
    "regime": ("SB (batch 256), LB (10 % of the training set) or LB+remedy", ""),
    "batch_size": ("minibatch size", "examples"),
    "epoch": ("epoch (0 = the initial weights x0)", ""),
    "epochs_run": ("epochs the run trained", ""),
    "train_loss": ("mean cross-entropy on the run's training set", "nats"),
    "test_loss": ("mean cross-entropy on the test set", "nats"),
    "train_acc": ("training accuracy", "%"),
    "test_acc": ("test accuracy", "%"),
    "minibatch_loss": ("mean minibatch loss during the epoch", "nats"),
    "seconds": ("wall time", "s"),
    "eps": ("the box size epsilon of Metric 2.1", ""),
    "value": ("Metric 2.1: (max f(x + Ay) - f(x)) / (1 + f(x)) x 100 over the box", "%"),
    "f0": ("f(x): training loss at the minimizer (the average Metric 2.1 uses)", "nats"),
    "fmax": ("the largest f(x + Ay) L-BFGS-B found in the box", "nats"),
    "iterations": ("L-BFGS-B iterations the solve ran", ""),
    "iters": ("L-BFGS-B iterations asked for (the paper: 10)", ""),
    "stop": ("why the solve ended: iteration limit, stationary (exact first-order maximizer), stopped early", ""),
    "message": ("L-BFGS-B's last message", ""),
    "evaluations": ("evaluations of f and its gradient", ""),
    "ours": ("our value (mean over trials where there are several)", "as the quantity"),
    "ours_sd": ("sample standard deviation over trials", "as the quantity"),
    "paper": ("the paper's value", "as the quantity"),
    "paper_sd": ("the paper's standard deviation", "as the quantity"),
    "seeds": ("trials behind the row", ""),
    "profile": ("the profile (lbsm.experiments.profiles) the runs behind the row were planned by", ""),
    "precision": ("arithmetic the runs behind the row trained in (fp32: the paper's)", ""),
    "device": ("device the runs behind the row trained on", ""),
    "commit": ("git commit of lbsm that trained the runs behind the row", ""),
    "source": ("where the row's numbers come from when no run of ours is behind them", ""),
    "artifact": ("the paper's table, figure or statement", ""),
    "kind": ("paper: one of the paper's panels; extension: ours (another network, our addition)", ""),
    "verdict": ("reproduced / same direction / inconclusive / contradicts / not run (lbsm.report.verdicts)", ""),
    "claim": ("the paper's claim the verdict judges", ""),
    "evidence": ("the numbers the verdict was decided on, with n, mean ± sd and p", ""),
    "alpha": ("position on the path: 0 the SB minimizer, 1 the LB minimizer", ""),
    "split": ("train or test", ""),
    "loss": ("mean cross-entropy along the path", "nats"),
    "accuracy": ("accuracy along the path", "%"),
    "ratio": ("||x_s - x0|| / ||x_l - x0|| (trainable parameters)", ""),
    "lambda_1": ("largest Hessian eigenvalue of the training loss at the minimizer", ""),
    "trace": ("Hutchinson estimate of the Hessian trace", ""),
    "sharpness_1e-03": ("Metric 2.1 at eps 1e-3, full space", "%"),
    "sharpness_5e-04": ("Metric 2.1 at eps 5e-4, full space", "%"),
    "quantity": ("what the row compares", ""),
    "log10 ours/paper": ("log10 of our value over the paper's", ""),
    "inside": ("our value inside the band the verdict rule accepts", ""),
}


def data_index(csv_root: Path | None = None) -> pd.DataFrame:
    """Every CSV the book wrote (``csv_dir``): its path in the zip, rows and columns."""
    root = Path(csv_root or csv_dir())
    rows = []
    for p in sorted(root.rglob("*.csv")):
        if p.parent.name == "datapage":  # this page's own tables (the folder is not "data": Sphinx's
            continue                   # exclude_patterns, which list data/, drop it from the site)
        try:
            df = pd.read_csv(p)
        except (pd.errors.EmptyDataError, pd.errors.ParserError):
            df = pd.DataFrame()
        rows.append({"file": str(p.relative_to(root)), "chapter": p.relative_to(root).parts[0],
                     "rows": len(df), "columns": ", ".join(map(str, df.columns))})
    return pd.DataFrame(rows, columns=["file", "chapter", "rows", "columns"])


def column_dictionary(index: pd.DataFrame) -> pd.DataFrame:
    """Every column of the book's CSVs: what it means, its unit and in how many files it is."""
    counts: dict[str, int] = {}
    for cols in index["columns"]:
        for c in [c for c in str(cols).split(", ") if c]:
            counts[c] = counts.get(c, 0) + 1
    rows = [{"column": c, "meaning": COLUMN_DOC.get(c, ("named after its table; see that table's chapter", ""))[0],
             "unit": COLUMN_DOC.get(c, ("", ""))[1], "files": n} for c, n in counts.items()]
    df = pd.DataFrame(rows, columns=["column", "meaning", "unit", "files"])  # none yet: empty
    return df.sort_values(["files", "column"], ascending=[False, True]).set_index("column")
