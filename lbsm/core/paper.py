"""The paper's published numbers and plotted series, read from one place.

Keskar et al., "On Large-Batch Training for Deep Learning: Generalization Gap and Sharp Minima"
(ICLR 2017, arXiv:1609.04836v2). The values live as package data in ``lbsm/paper_data/`` (see its
README for provenance); every comparison in lbsm and in the book goes through this module:

* ``table(n)``: Table n (1-7) as a DataFrame indexed by network (Table 5: by data set). Tables 2, 6
  and 7 have one column per printed quantity (``test_sb``, ...) and its sd (``test_sb_sd``);
  Tables 3 and 4 have ``sb_1e-3``, ``sb_1e-3_sd``, ``lb_1e-3``, ..., ``lb_5e-4_sd``.
* ``value(n, net, column)``: one printed ``(mean, sd)``.
* ``figure(key)``: a plotted series of Figs. 2-7 (``"Fig2b_C1"``, ``"Fig3_F1"``, ``"Fig7_C4"``, ...)
  as a tidy DataFrame with columns ``series``, ``x``, ``y``; ``figure(key, source="repo")`` gives the
  exact data of Fig. 3(c)-(f) from the official repository.
* ``statement(name)``: numbers stated only in the text (``"distance_ratio"`` -> 3-10, ...).
* ``protocol()``: SB batch 256, LB 10%, 5 trials, eps values, 10 L-BFGS-B iterations, 25 alphas.
"""
from __future__ import annotations

import functools
import json
from importlib import resources

import pandas as pd

NETS = ("F1", "F2", "C1", "C2", "C3", "C4")
TABLES = {1: "table1_networks", 2: "table2_accuracy", 3: "table3_sharpness_full_space",
          4: "table4_sharpness_subspace_100", 5: "table5_datasets", 6: "table6_data_augmentation",
          7: "table7_conservative_training"}
TITLES = {1: "Network Configurations",
          2: "Performance of small-batch (SB) and large-batch (LB) variants of ADAM",
          3: "Sharpness of Minima in Full Space",
          4: "Sharpness of Minima in Random Subspaces of Dimension 100",
          5: "Data Sets",
          6: "Effect of Data Augmentation",
          7: "Effect of Conservative Training"}
FILES = {"tables": "keskar2017_tables.json", "text": "keskar2017_text.json",
         "figures": "keskar2017_figure_data.json", "repo": "repo_C1-C4_parametric_data.json"}
CITATION = ("Keskar, Mudigere, Nocedal, Smelyanskiy, Tang. On Large-Batch Training for Deep "
            "Learning: Generalization Gap and Sharp Minima. ICLR 2017 (arXiv:1609.04836v2).")


@functools.lru_cache(maxsize=None)
def raw(which: str) -> dict:
    """One of the JSON files of ``lbsm/paper_data`` (``tables``, ``text``, ``figures``, ``repo``)."""
    if which not in FILES:
        raise ValueError(f"unknown paper data {which!r}; choose one of {', '.join(FILES)}")
    return json.loads(resources.files("lbsm").joinpath("paper_data", FILES[which]).read_text())


def protocol() -> dict:
    """The protocol constants the paper states (batch sizes, trials, eps, iterations, alphas)."""
    return dict(raw("tables")["protocol"])


def _flatten(entry: dict) -> dict:
    """{"test_sb": {"mean", "sd"}} -> {"test_sb": mean, "test_sb_sd": sd}; eps tables likewise."""
    out = {}
    for key, val in entry.items():
        if isinstance(val, dict) and "mean" in val:
            out[key], out[f"{key}_sd"] = val["mean"], val["sd"]
        elif isinstance(val, dict):  # "eps_1e-3": {"sb": {...}, "lb": {...}}
            eps = key.removeprefix("eps_")
            for regime, ms in val.items():
                out[f"{regime}_{eps}"], out[f"{regime}_{eps}_sd"] = ms["mean"], ms["sd"]
        else:
            out[key] = val
    return out


def table(n: int) -> pd.DataFrame:
    """Table ``n`` of the paper (1-7) as printed, one row per network (Table 5: per data set)."""
    if n not in TABLES:
        raise ValueError(f"the paper has Tables 1-7, not {n!r}")
    src = raw("text") if n == 1 else raw("tables")
    df = pd.DataFrame.from_dict({k: _flatten(v) for k, v in src[TABLES[n]].items()}, orient="index")
    df.index.name = "data set" if n == 5 else "net"
    df.attrs["title"] = f"Table {n}: {TITLES[n]}"
    return df


def value(n: int, net: str, column: str) -> tuple[float, float]:
    """One printed entry of Table ``n`` as ``(mean, sd)``, e.g. ``value(2, "F1", "test_sb")``."""
    t = table(n)
    return float(t.loc[net, column]), float(t.loc[net, f"{column}_sd"])


def figure_keys() -> list[str]:
    """Keys of the plotted series: Fig2a_F2, Fig2b_C1, Fig3_<net>, Fig7_<net>, Fig4/5/6_{F2,C1}."""
    return [k for k in raw("figures") if not k.startswith("_")]


def figure(key: str, source: str = "paper") -> pd.DataFrame:
    """A figure's series as a tidy DataFrame (``series``, ``x``, ``y``).

    ``source="paper"``: read off the PDF's vector plots (every key of ``figure_keys()``).
    ``source="repo"``: the exact data of ``Fig3_C1`` .. ``Fig3_C4`` from the official repository.
    ``attrs`` carry ``x_label``, ``y_label`` and ``source``. Raises KeyError for an unknown key.
    """
    if source == "paper":
        figs = raw("figures")
        if key not in figs or key.startswith("_"):
            raise KeyError(f"no plotted series {key!r}; the paper's are {', '.join(figure_keys())}")
        entry = figs[key]
        series, xl, yl = entry["series"], entry["x_label"], entry["y_label"]
    elif source == "repo":
        net = key.removeprefix("Fig3_")
        repo = raw("repo")
        if net not in repo or net.startswith("_"):
            raise KeyError(f"the official repository has exact data only for Fig3_C1..Fig3_C4, "
                           f"not {key!r}")
        series, xl, yl = repo[net], "alpha", "loss / accuracy (%)"
    else:
        raise ValueError(f"unknown source {source!r}; choose 'paper' or 'repo'")
    df = pd.DataFrame([(name, x, y) for name, pts in series.items() for x, y in pts],
                      columns=["series", "x", "y"])
    df.attrs.update(key=key, x_label=xl, y_label=yl, source=source)
    return df


def has_figure(key: str) -> bool:
    """Whether the paper plots series ``key`` (e.g. ``Fig2b_C1`` yes, a Fig. 2 for F1 no)."""
    return key in figure_keys()


def statement(name: str) -> dict:
    """A number stated in the paper's text, e.g. ``statement("distance_ratio")`` -> low 3, high 10."""
    s = raw("text")["statements"]
    if name not in s:
        raise KeyError(f"no statement {name!r}; known: {', '.join(s)}")
    return dict(s[name])
