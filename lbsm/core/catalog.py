"""What the book is made of: its chapters in reading order, and every artifact of the paper it
reproduces, with the chapter that makes it and the networks the paper shows it for."""
from __future__ import annotations

from pathlib import Path

from . import paper

REPO = Path(__file__).resolve().parents[2]
BOOK_DIR = REPO / "book"
ROOT = "intro"
CHAPTERS = ("intro", "setup", "gap", "interpolation", "sharpness", "small_batches", "remedies",
            "sensitivity", "beyond", "data")
LAST = (ROOT, "data")  # the intro collects the chapters' verdicts, the data page every CSV

# every artifact of the paper the book reproduces, the chapter that makes it, and which networks
# the paper shows it for (the intro's status table lists them all, run or not)
ARTIFACTS = [
    ("Table 1", "setup", "network configurations and parameter counts", paper.NETS),
    ("Table 5", "setup", "data sets", ("MNIST", "TIMIT", "CIFAR-10", "CIFAR-100")),
    ("Table 2", "gap", "SB vs LB train/test accuracy", paper.NETS),
    ("Figure 2", "gap", "accuracy per epoch", ("F2", "C1")),
    ("Figure 3", "interpolation", "linear parametric plots", paper.NETS),
    ("Figure 7", "interpolation", "curvilinear parametric plots", paper.NETS),
    ("Distance ratio", "interpolation", "||x_s - x0|| / ||x_l - x0|| in 3-10", paper.NETS),
    ("Table 3", "sharpness", "sharpness in full space", paper.NETS),
    ("Table 4", "sharpness", "sharpness in random 100-dim subspaces", paper.NETS),
    ("Hessian spectrum", "sharpness", "top eigenvalues and trace (not in the paper)", paper.NETS),
    ("Figure 4", "small_batches", "test accuracy and sharpness vs batch size", ("F2", "C1")),
    ("Figure 5", "small_batches", "warm-started LB runs", ("F2", "C1")),
    ("Figure 6", "small_batches", "sharpness vs loss along training", ("F2", "C1")),
    ("Table 6", "remedies", "data augmentation", ("C1", "C2", "C3", "C4")),
    ("Table 7", "remedies", "conservative training", paper.NETS),
    ("Section E.3", "remedies", "robust (adversarial) training", paper.NETS),
]


# the chapter "Beyond the paper" tests the paper's account on each LB method: "Beyond: <method>"
BEYOND_PREFIX = "Beyond: "


def artifact_names() -> list[str]:
    return [a[0] for a in ARTIFACTS]


def chapter_of(artifact: str) -> str | None:
    """The chapter that makes ``artifact`` (None: not one of the book's)."""
    if artifact.startswith(BEYOND_PREFIX):
        return "beyond"
    return next((a[1] for a in ARTIFACTS if a[0] == artifact), None)
