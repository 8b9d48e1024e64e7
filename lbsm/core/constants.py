"""The paper's protocol constants and the book's vocabulary, defined once and imported everywhere.

Values come from the paper (Section 2.2, Appendix B) and its official scripts; where the paper is
silent the choice is ours and the comment says so.
"""
from __future__ import annotations

# --------------------------------------------------------------------------- training
SB_BATCH = 256                 # the paper's small batch
LB_FRACTION = 0.1              # the paper's large batch: 10 % of the training set
EVAL_BATCH = 5000              # the official scripts evaluate with batch_size=5000
TRAIN_SIZES = {"mnist": 60000, "timit": 721329, "cifar10": 50000, "cifar100": 50000}
DATASET_NAMES = {"mnist": "MNIST", "timit": "TIMIT", "cifar10": "CIFAR-10", "cifar100": "CIFAR-100"}
STOPS = ("epochs", "plateau")  # stop rules: fixed epochs, or until the training loss plateaus
RUN_STATUSES = ("done", "diverged")
# BatchNorm statistics when a model is evaluated (training loss, Metric 2.1, Hessian) ...
BN_EVAL_POLICIES = ("batch", "running")
# ... and along a parametric path between two minimizers (lbsm.analyses.landscape)
BN_PATH_POLICIES = ("batch", "interpolate", "recalibrate")

# --------------------------------------------------------------------------- Metric 2.1
EPS = (1e-3, 5e-4)             # the paper's two box sizes (Tables 3 and 4)
SHARPNESS_ITERS = 10           # "we use 10 iterations of L-BFGS-B" (Section 2.2.2)
SUBSPACE_DIM = 100             # Table 4: random n x 100 A


def eps_label(eps: float) -> str:
    """1e-3 -> "1e-3", 5e-4 -> "5e-4": the paper's column names."""
    m, e = f"{eps:.0e}".split("e")
    return f"{m}e{int(e)}"


def sharpness_col(eps: float) -> str:
    """Column of the sharpness at ``eps`` in tidy frames: ``sharpness_1e-03``, ``sharpness_5e-04``."""
    return f"sharpness_{eps:.0e}"


# --------------------------------------------------------------------------- the book's vocabulary
# whether a claim of the paper holds (lbsm.report.verdicts), strongest first
VERDICTS = ("reproduced", "same direction", "inconclusive", "contradicts", "not run")
# how much of an artifact ran (lbsm.report.status): a different question from the verdict's
ARTIFACT_STATUSES = ("complete", "partial", "needs data", "not run")
KINDS = ("paper", "extension")  # a verdict on the paper's own panel, or on another network
