"""The data page: an index of every CSV the book wrote and a dictionary of their columns, each
with what it means and its unit ("none" for labels, flags and ratios)."""
from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from .render import csv_dir

NONE = "none"
PP = "percentage points"
M21 = "% (Metric 2.1: 100 x the largest relative rise of the training loss in the box)"

# {column: (meaning, unit)}; a family of columns named after a value (eps, a profile) is below,
# in PATTERNS. tests/test_render.py checks that every column of every CSV the book wrote is here.
COLUMN_DOC = {
    # --- what a row is about
    "net": ("network of the paper's Table 1 (F1, F2, C1-C4)", NONE),
    "paper net": ("the network whose panel the paper shows for this one (F2 stands for F1, MNIST)", NONE),
    "seed": ("trial: seeds x0, the minibatch order and dropout; SB and LB of a trial share x0", NONE),
    "regime": ("SB (batch 256), LB (10 % of the training set), LB+remedy, or the ratio LB/SB", NONE),
    "label": ("the row's name as the figure's legend shows it", NONE),
    "arm": ("the training method of a run: SB, LB or an LB method (Beyond)", NONE),
    "method": ("the optimizer step of the run (adam, or the method wrapping it)", NONE),
    "optimizer_step": ("the optimizer step of a method (adam, or the method wrapping it)", NONE),
    "arguments": ("the method's settings (learning-rate rule, base batch, warm-up, ghost batch)", NONE),
    "variant": ("the LB run drawn: plain, or with a Section E.3 remedy", NONE),
    "remedy": ("the Section E.3 remedy (adversarial or stability training)", NONE),
    "augment": ("whether the run trained on augmented data (Table 6)", NONE),
    "warm_start": ("whether the run started from an SB iterate (Figure 5) instead of x0", NONE),
    "choice": ("an unstated protocol choice (lbsm.experiments.sensitivity)", NONE),
    "setting": ("a value of that choice", NONE),
    "baseline": ("whether the setting is the study's baseline (profile cpu's)", NONE),
    "knob": ("an analysis setting", NONE),
    "default": ("the code's default setting of the choice", NONE),
    "where in the code": ("the function or field that sets it", NONE),
    "measured in": ("the chapter (and section) that measures what the choice changes", NONE),
    "table": ("which of the paper's tables the row belongs to (table3: full space, table4: subspace)", NONE),
    "series": ("a series of the paper's plotted figure, quantity_split (loss_train, acc_test, ...)", NONE),
    "x": ("the paper's series read at this x (alpha for Figures 3 and 7)", "as the series' x axis"),
    "y": ("the paper's series' value at x (cross-entropy, or accuracy in %)", "as the series' y axis"),
    "quantity": ("what the row compares", NONE),
    "what": ("what the artifact shows", NONE),
    "chapter": ("the book's chapter (a folder of the zip)", NONE),
    "file": ("path of the CSV in the zip lbsm-book-data.zip", NONE),
    "column": ("a column of the book's CSVs", NONE),
    "columns": ("the file's columns", NONE),
    "meaning": ("what the column means", NONE),
    "unit": ("the column's unit", NONE),
    "files": ("how many of the book's CSVs have the column", "files"),
    "rows": ("rows of the file", "rows"),
    "run": ("key of the stored run (network and hash of its configuration)", NONE),
    "weights_run": ("key of the run whose weights were measured (the run's twin that kept them)", NONE),
    "status": ("done / needs data / not run (a run), or complete / partial / needs data / not run (an artifact)", NONE),
    "lb_status": ("status of the warm-started LB run", NONE),
    "note": ("what ran, what did not and why", NONE),
    "stop": ("how training stopped (plateau rule or fixed epochs), or why an L-BFGS-B solve ended", NONE),
    "stopped_by": ("what ended the run: the plateau rule, the cap or the fixed epochs", NONE),
    "message": ("L-BFGS-B's last message", NONE),
    "split": ("train or test", NONE),
    "direction": ("index of a random vertex direction of the box", NONE),
    "measure": ("a sharpness measure (Beyond)", NONE),
    "target": ("what the measure is ranked against: test_error or gap", NONE),
    "A": ("a reading of the paper's random matrix A (Table 4)", NONE),
    "type": ("the paper's network type (Table 1)", NONE),
    "data set": ("data set", NONE),
    "data": ("whether the data set is on this machine (in the cost table: here, a free download, or licensed)", NONE),
    "paper (Appendix B)": ("the architecture as the paper's Appendix B describes it", NONE),
    "layers (ours)": ("our implementation's layers (lbsm.core.models)", NONE),
    "deviations from the paper": ("how the profile departs from the paper's protocol", NONE),
    "L-BFGS-B iterations run": ("L-BFGS-B iterations the solves ran, of those asked for, and why any ended early", NONE),
    "paired t-test": ("p of a paired t-test over trials of test SB − test LB", NONE),
    "LB faster?": ("whether I_l / I_s is under the bound B_s / (f_s B_l), so LB takes less time", NONE),
    # --- what the rest needs (lbsm.report.costs)
    "why not run": ("why the network's panels of the paper did not run under this profile", NONE),
    "paper panels": ("the paper's panels (artifact and network) of the network that did not run", "panels"),
    "readings": ("a set of protocol readings (lbsm.experiments.readings) and the trials it was judged on", NONE),
    "runs": ("training runs the paper profile plans for the network's panels", "runs"),
    "PFLOP": ("FLOPs of those runs and their analyses (PyTorch's counter on our networks)", "PFLOP (10^15 FLOPs)"),
    "H100 GPU-h": ("hours on one H100 at fp32 at the stated sustained rate", "GPU-hours"),
    "CPU core-h here": ("hours on one core of this machine at its measured training rate", "core-hours"),
    "command": ("the command that computes the network's panels", NONE),
    # --- provenance
    "seeds": ("trials behind the row", NONE),
    "profile": ("the profile (lbsm.experiments.profiles) the runs behind the row were planned by", NONE),
    "precision": ("arithmetic the runs behind the row trained in (fp32: the paper's)", NONE),
    "device": ("device the runs behind the row trained on", NONE),
    "commit": ("git commit of lbsm that trained the runs behind the row (-dirty: uncommitted code)", NONE),
    "source": ("where the row's numbers come from when no run of ours is behind them", NONE),
    "artifact": ("the paper's table, figure or statement (or our extension) the row is about", NONE),
    "kind": ("paper: one of the paper's panels; extension: ours (another network, our addition)", NONE),
    "verdict": ("reproduced / same direction / inconclusive / contradicts / not run (lbsm.report.verdicts)", NONE),
    "claim": ("the paper's claim the verdict judges", NONE),
    "evidence": ("the numbers the verdict was decided on, with n, mean ± sd and p", NONE),
    # --- training
    "batch_size": ("minibatch size", "examples"),
    "batch": ("minibatch size of the method", "examples"),
    "SB batch": ("small-batch size", "examples"),
    "LB batch": ("large-batch size (10 % of the training set)", "examples"),
    "sb_batch": ("small-batch size", "examples"),
    "lb_batch": ("large-batch size", "examples"),
    "batch sizes": ("how many batch sizes were trained", "batch sizes"),
    "epoch": ("epoch (0 = the initial weights x0)", "epochs"),
    "reading": ("a reading of 'until the loss ceased to improve' (lbsm.experiments.stop_readings)", NONE),
    "choice the paper leaves open": ("a protocol choice the paper does not state (lbsm.experiments.readings)", NONE),
    "adopted reading": ("what the book does where the paper is silent", NONE),
    "why": ("the reason for the adopted reading: the paper's words, its framework or its code", NONE),
    "alternatives (sensitivity chapter)": ("the other readings, shown as sensitivities", NONE),
    "set in": ("where in lbsm the reading is set", NONE),
    "readings of what the paper leaves open": ("the readings this profile's plan applies to the network", NONE),
    "stop epoch SB": ("the epoch at which the reading stops the SB run (empty: the history is too short to say)", "epochs"),
    "stop epoch LB": ("the epoch at which the reading stops the LB run (empty: the history is too short to say)", "epochs"),
    "test accuracy SB": ("test accuracy of the SB run at that epoch", "%"),
    "test accuracy LB": ("test accuracy of the LB run at that epoch", "%"),
    "train accuracy SB": ("training accuracy of the SB run at that epoch", "%"),
    "train accuracy LB": ("training accuracy of the LB run at that epoch", "%"),
    "epochs": ("epochs the run trained", "epochs"),
    "epochs_run": ("epochs the run trained", "epochs"),
    "epochs_sb": ("epochs the SB run trained", "epochs"),
    "epochs_lb": ("epochs the LB run trained", "epochs"),
    "epochs SB / LB": ("epochs SB / LB (the cap under the plateau rule)", "epochs"),
    "sb_epoch": ("epoch of the SB iterate the LB run was warm-started from", "epochs"),
    "steps": ("optimizer steps the run took", "steps"),
    "last": ("whether the row is the run's last epoch", NONE),
    "train / test examples": ("training / test examples used", "examples"),
    "train_loss": ("mean cross-entropy on the run's training set", "nats"),
    "test_loss": ("mean cross-entropy on the test set", "nats"),
    "minibatch_loss": ("mean minibatch loss during the epoch", "nats"),
    "sb_train_loss": ("training loss of the SB iterate", "nats"),
    "lb_train_loss": ("training loss of the LB run warm-started from it", "nats"),
    "train_acc": ("training accuracy", "%"),
    "test_acc": ("test accuracy", "%"),
    "sb_test_acc": ("test accuracy of the SB iterate", "%"),
    "lb_test_acc": ("test accuracy of the LB run warm-started from it", "%"),
    "test_error": ("100 − test accuracy", "%"),
    "gap": ("generalization gap: train − test accuracy of a run (Beyond), or test SB − test LB", PP),
    "seconds": ("wall time", "s"),
    # --- ours against the paper
    "ours": ("our value (mean over trials where there are several)", "as the row's quantity"),
    "ours_sd": ("sample standard deviation over trials", "as the row's quantity"),
    "paper": ("the paper's value", "as the row's quantity"),
    "paper_sd": ("the paper's standard deviation", "as the row's quantity"),
    "ours - paper": ("our value minus the paper's", "as the row's quantity"),
    "ours / paper": ("our value over the paper's", NONE),
    "log10 ours/paper": ("log10 of our value over the paper's", "decades"),
    "band_lo": ("lower end of the band the verdict rule accepts (the paper's ± 2 sd or stated range)", "as the row's quantity"),
    "band_hi": ("upper end of that band", "as the row's quantity"),
    "band log lo": ("lower end of the band, as log10 of it over the paper's value (-inf where the "
                    "band reaches 0 or below: it then accepts any positive value down to 0)", "decades"),
    "band log hi": ("upper end of the band, as log10 of it over the paper's value", "decades"),
    "inside": ("our value inside the band the verdict rule accepts", NONE),
    "in_range": ("the ratio inside the paper's stated range", NONE),
    "decades_from_paper": ("how far (log10) the setting's SB and LB values lie from the paper's Table 3", "decades"),
    # --- the paper's tables as printed (mean ± sd text)
    "train_sb": ("the paper's SB training accuracy, as printed (mean ± sd)", "%"),
    "train_lb": ("the paper's LB training accuracy, as printed (mean ± sd)", "%"),
    "test_sb": ("test accuracy of SB training (the paper's, as printed, mean ± sd, in its tables)", "%"),
    "test_lb": ("test accuracy of LB training (the paper's, as printed, mean ± sd, in its tables)", "%"),
    "test_sb_augmented": ("the paper's SB test accuracy with data augmentation (mean ± sd)", "%"),
    "test_lb_augmented": ("the paper's LB test accuracy with data augmentation (mean ± sd)", "%"),
    "test_sb_baseline": ("the paper's SB test accuracy without a remedy (mean ± sd)", "%"),
    "test_lb_conservative": ("the paper's LB test accuracy with conservative training (mean ± sd)", "%"),
    # --- Table 1 and Table 5
    "input": ("input size of the network", "features"),
    "classes": ("output classes", "classes"),
    "parameters (ours)": ("trainable parameters of our implementation", "parameters"),
    "train (paper)": ("training examples, the paper's Table 5", "examples"),
    "test (paper)": ("test examples, the paper's Table 5", "examples"),
    "features (paper)": ("input features, the paper's Table 5", "features"),
    "classes (paper)": ("classes, the paper's Table 5", "classes"),
    "train (ours)": ("training examples of the data set on this machine", "examples"),
    "test (ours)": ("test examples of the data set on this machine", "examples"),
    "features (ours)": ("input features as our networks read them", "features"),
    "classes (ours)": ("classes of the data set on this machine", "classes"),
    # --- Metric 2.1 and the Hessian
    "eps": ("the box size epsilon of Metric 2.1", NONE),
    "value": ("Metric 2.1: (max f(x + Ay) - f(x)) / (1 + f(x)) x 100 over the box", M21),
    "sharpness": ("Metric 2.1 of the minimizer under the setting", M21),
    "sharpness_sb": ("Metric 2.1 of the SB minimizer", M21),
    "sharpness_lb": ("Metric 2.1 of the LB minimizer", M21),
    "SB": ("Metric 2.1 of the SB minimizer under that reading of A", M21),
    "LB": ("Metric 2.1 of the LB minimizer under that reading of A", M21),
    "LB/SB": ("LB's Metric 2.1 over SB's", NONE),
    "paper SB": ("the paper's Table 4 value for the SB minimizer", M21),
    "paper LB": ("the paper's Table 4 value for the LB minimizer", M21),
    "SB max f / f(x)": ("the largest loss the solve found in the box over the loss at the SB minimizer", NONE),
    "LB max f / f(x)": ("the same at the LB minimizer", NONE),
    "f0": ("f(x): training loss at the minimizer (the average Metric 2.1 uses)", "nats"),
    "fmax": ("the largest f(x + Ay) L-BFGS-B found in the box", "nats"),
    "iterations": ("L-BFGS-B iterations the solve ran (a / b: ran / asked for)", "iterations"),
    "iters": ("L-BFGS-B iterations asked for (the paper: 10)", "iterations"),
    "evaluations": ("evaluations of f and its gradient", "evaluations"),
    "solve_iters": ("L-BFGS-B iterations of the one solve the row is read off (fewer iterations: "
                    "its trace at that count)", "iterations"),
    "reach": ("how far the solve's iterate got toward the box: the mean of |y_i| / b_i (0 at the "
              "minimizer, 1 on every face)", "fraction"),
    "on_face": ("the share of coordinates of the solve's iterate on the box's faces", "fraction"),
    "lambda_1": ("largest Hessian eigenvalue of the training loss at the minimizer", "nats per unit weight²"),
    "lambda_2": ("second largest Hessian eigenvalue", "nats per unit weight²"),
    "lambda_3": ("third largest Hessian eigenvalue", "nats per unit weight²"),
    "trace": ("Hutchinson estimate of the Hessian trace", "nats per unit weight²"),
    "trace_stderr": ("standard error of the Hutchinson trace estimate", "nats per unit weight²"),
    "adaptive_worst": ("adaptive sharpness, worst case: the largest loss rise in a weight-scaled box", "nats"),
    "adaptive_average": ("adaptive sharpness, average: the mean loss rise under weight-scaled random perturbations", "nats"),
    "adaptive_average_stderr": ("standard error of the average adaptive sharpness", "nats"),
    "distance_x0": ("||x - x0||: distance of the minimizer from the initial weights", "weight units (L2 norm)"),
    # --- parametric plots and the distance ratio
    "alpha": ("position on the path: 0 the SB minimizer, 1 the LB minimizer (Beyond's rescaling: the factor)", NONE),
    "loss": ("mean cross-entropy along the path", "nats"),
    "accuracy": ("accuracy along the path", "%"),
    "bn": ("BatchNorm statistics the path was evaluated with (batch or running)", NONE),
    "a": ("coordinate along the first filter-normalized random direction", "filter norms"),
    "b": ("coordinate along the second filter-normalized random direction", "filter norms"),
    "ratio": ("||x_s - x0|| / ||x_l - x0|| (trainable parameters), or LB/SB sharpness (sensitivity)", NONE),
    "step h": ("the grid step in alpha at which the rise beyond each minimizer is read", NONE),
    "beyond SB": ("f(-h) - f(0): the training loss's rise one step beyond the SB minimizer", "nats"),
    "beyond LB": ("f(1 + h) - f(1): the rise one step beyond the LB minimizer", "nats"),
    "log10(LB / SB)": ("log10 of the rise beyond LB over the rise beyond SB (the verdict's quantity)", NONE),
    "beyond SB (paper)": ("the same rise read on the paper's plotted curve", "nats"),
    "beyond LB (paper)": ("the same rise read on the paper's plotted curve", "nats"),
    # --- Figures 4-6, the cone, Appendix C
    "knee (ours)": ("threshold batch size: where test accuracy starts to fall (our rule)", "examples"),
    "knee / training set (ours)": ("our knee over the training set's size", NONE),
    "knee (paper, stated)": ("the threshold batch size the paper states", "examples"),
    "knee (paper curve, our rule)": ("our rule applied to the paper's plotted curve", "examples"),
    "knee / training set (paper)": ("the paper's stated knee over its training set's size", NONE),
    "accuracy up to the knee (%)": ("mean test accuracy of the batch sizes up to the knee", "%"),
    "slope after (points per decade)": ("slope of test accuracy beyond the knee", "percentage points per decade of batch size"),
    "loss first": ("training loss at the curve's first point", "nats"),
    "loss last": ("training loss at the curve's last point", "nats"),
    "sharpness first": ("Metric 2.1 at the curve's first point", M21),
    "sharpness last": ("Metric 2.1 at the curve's last point", M21),
    "paper loss first": ("the paper's curve: training loss at its first point", "nats"),
    "paper loss last": ("the paper's curve: training loss at its last point", "nats"),
    "paper sharpness first": ("the paper's curve: Metric 2.1 at its first point", M21),
    "paper sharpness last": ("the paper's curve: Metric 2.1 at its last point", M21),
    "rise": ("rise of the training loss at the box vertex along the direction, as Metric 2.1 measures it", M21),
    "reference": ("Metric 2.1 of the minimizer (the full-space solve)", M21),
    "relative": ("rise / reference", NONE),
    "steep": ("whether rise / reference is at least the steep threshold", NONE),
    "common test acc (%)": ("the best test accuracy both the SB and the LB run reach", "%"),
    "B_s": ("small-batch size in Appendix C's model", "examples"),
    "B_l": ("large-batch size in Appendix C's model", "examples"),
    "f_s": ("f_s of Appendix C: the speed-up of the LB iteration over the SB one", NONE),
    "I_s": ("iterations SB needs to reach the common test accuracy", "iterations"),
    "I_l": ("iterations LB needs to reach it", "iterations"),
    "I_l / I_s": ("the iteration ratio", NONE),
    "B_s / (f_s B_l)": ("Appendix C's bound: LB is faster iff I_l / I_s is below it", NONE),
    # --- Beyond: the noise scale and Kendall's tau
    "b_simple": ("gradient noise scale B_simple = tr(Σ) / |G|²", "examples"),
    "grad_norm_sq": ("|G|²: squared norm of the mean gradient (biased estimate)", "nats² per unit weight²"),
    "grad_norm_sq_unbiased": ("|G|², unbiased estimate", "nats² per unit weight²"),
    "trace_sigma": ("tr(Σ): trace of the per-example gradient covariance", "nats² per unit weight²"),
    "n": ("runs (Kendall's tau) or examples (the noise scale) the estimate used", "runs or examples"),
    "tau": ("Kendall's tau of the measure against the target over the runs", NONE),
    "low": ("lower end of the 95 % bootstrap interval of tau", NONE),
    "high": ("upper end of the 95 % bootstrap interval of tau", NONE),
    "pvalue": ("p of Kendall's test that tau is 0", NONE),
    "dropped": ("runs left out for lacking the measure", "runs"),
    "n_boot": ("bootstrap resamples", "resamples"),
}
# families of columns named after a value: (pattern, meaning, unit); \1 is the value
PATTERNS = [
    (r"sharpness_(\d.*)", r"Metric 2.1 at eps \1, full space", M21),
    (r"subspace_(\d.*)", r"Metric 2.1 at eps \1 in a random subspace (the paper's Table 4)", M21),
    (r"sb_(\d.*)", r"the paper's Metric 2.1 of the SB minimizers at eps \1, as printed (mean ± sd)", M21),
    (r"lb_(\d.*)", r"the paper's Metric 2.1 of the LB minimizers at eps \1, as printed (mean ± sd)", M21),
    (r"lb_sharpness_eps_(\d.*)", r"the paper's LB Metric 2.1 at eps \1 with the remedy (mean ± sd)", M21),
    (r"profile (\w+)", r"the setting under profile \1", "as the row's setting"),
]


def describe(column: str) -> tuple[str, str]:
    """(meaning, unit) of a column of the book's CSVs; ("", "") for one not documented."""
    if column in COLUMN_DOC:
        return COLUMN_DOC[column]
    for pattern, meaning, unit in PATTERNS:
        m = re.fullmatch(pattern, column)
        if m:
            return m.expand(meaning), unit
    return "", ""


def data_index(csv_root: Path | None = None) -> pd.DataFrame:
    """Every CSV the book wrote (``csv_dir``): its path in the zip, rows and columns (the column
    names themselves, which may hold commas, in ``attrs["columns"]``)."""
    root = Path(csv_root or csv_dir())
    rows, names = [], {}
    for p in sorted(root.rglob("*.csv")):
        if p.parent.name == "datapage":  # this page's own tables (the folder is not "data": Sphinx's
            continue                   # exclude_patterns, which list data/, drop it from the site)
        try:
            df = pd.read_csv(p)
        except (pd.errors.EmptyDataError, pd.errors.ParserError):
            df = pd.DataFrame()
        file = str(p.relative_to(root))
        names[file] = [str(c) for c in df.columns]
        rows.append({"file": file, "chapter": p.relative_to(root).parts[0],
                     "rows": len(df), "columns": ", ".join(names[file])})
    out = pd.DataFrame(rows, columns=["file", "chapter", "rows", "columns"])
    out.attrs["columns"] = names
    return out


def column_dictionary(index: pd.DataFrame) -> pd.DataFrame:
    """Every column of the book's CSVs: what it means, its unit and in how many files it is."""
    names = index.attrs.get("columns") or {f: str(c).split(", ") for f, c in zip(index["file"], index["columns"])}
    counts: dict[str, int] = {}
    for cols in names.values():
        for c in [c for c in cols if c]:
            counts[c] = counts.get(c, 0) + 1
    rows = [{"column": c, "meaning": describe(c)[0] or "(not documented yet)",
             "unit": describe(c)[1] or "(not documented yet)", "files": n} for c, n in counts.items()]
    df = pd.DataFrame(rows, columns=["column", "meaning", "unit", "files"])  # none yet: empty
    return df.sort_values(["files", "column"], ascending=[False, True]).set_index("column")
