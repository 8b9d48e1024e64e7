"""The data directory as the book reports it, found out in the compute step: which data sets are
there with the right md5 (every computed chapter carries it, ``Chapter.data_ready``) and, for the
setup chapter's Table 5, each one's size as loaded (its part ``datasets``). The report words what
is missing and what was loaded from these, never reading or checking a file itself.
"""
from __future__ import annotations

import pandas as pd

from ..core import data as lbsm_data
from ..core.datasets import DATASETS
from ..experiments.plans import data_ready

COLUMNS = ["dataset", "ready", "train", "test", "features", "classes"]


def ready() -> dict[str, bool]:
    """{data set: whether all its files are in the data directory with their published md5}
    (checked once per process and directory, as the plans check it)."""
    return {name: data_ready(name) for name in DATASETS}


def table(plan=None, runs=None, store=None) -> pd.DataFrame:
    """The setup chapter's part ``datasets`` (the arguments of a part, unused: it trains nothing):
    per data set, whether it is ready and, where it is, its training and test examples, input
    shape and classes as loaded (md5-verified first); None where it is not there."""
    rows = []
    for name in DATASETS:
        row = {"dataset": name, "ready": data_ready(name), "train": None, "test": None,
               "features": None, "classes": None}
        if row["ready"]:
            d = lbsm_data.load(name)
            row.update(train=len(d.x_train), test=len(d.x_test), features=tuple(d.input_shape),
                       classes=d.num_classes)
        rows.append(row)
    return pd.DataFrame(rows, columns=COLUMNS, dtype=object).set_index("dataset")
