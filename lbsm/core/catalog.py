"""What the book is made of: the registry of its chapters, in reading order, each with the
artifacts of the paper it reproduces (the networks the paper shows each for, and the claim its
verdict tests), its parameters (the profile field that holds its specs) and the runs it trains.

This is the book's one list of chapters. Each layer above registers its share by chapter name:
the compute step its parts (:data:`lbsm.pipeline.compute.CHAPTER_DEFS`), the report its status
and verdict row builders (:data:`lbsm.report.summary.ROWS`); the table of contents, the catalog of
artifacts, the chapters of sections, the trial chapters and the intro's status table are read off
:data:`REGISTRY`, and ``tests/test_registry.py`` checks that every layer's registry covers exactly
the chapters registered here that compute.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from . import paper

REPO = Path(__file__).resolve().parents[2]
BOOK_DIR = REPO / "book"
ROOT = "intro"
RUNS = (None, "trials", "sections", "own")  # what a chapter trains (see Chapter.runs)


@dataclass(frozen=True)
class Chapter:
    """One chapter of the book.

    ``artifacts``: (name, what, networks the paper shows it for, claim its verdict tests), the
    claim "" where no verdict is given; ``knobs``: the :class:`lbsm.experiments.profiles.Profile`
    field holding the chapter's specs (its parameters, not papermill ones: None where the chapter
    reads the profile's own fields); ``runs``: None (trains nothing), ``"trials"`` (the profile's
    SB/LB trials), ``"sections"`` (a plan of sections, :mod:`lbsm.experiments.plans`) or ``"own"``;
    ``solves``: whether its parts solve Metric 2.1 on each of its runs (the GPU chunk plan's cost);
    ``computed``: False for a page rendered from the other chapters' CSVs only."""
    name: str
    artifacts: tuple = ()
    knobs: str | None = None
    runs: str | None = None
    solves: bool = False
    computed: bool = True

    def __post_init__(self):
        if self.runs not in RUNS:
            raise ValueError(f"chapter {self.name}: runs = {self.runs!r}; one of {RUNS}")


def _chapters(*entries: Chapter) -> dict[str, Chapter]:
    return {c.name: c for c in entries}


NETS = paper.NETS
REGISTRY: dict[str, Chapter] = _chapters(
    Chapter("intro"),
    Chapter("setup", (
        ("Table 1", "network configurations and parameter counts", NETS, ""),
        ("Table 5", "data sets", ("MNIST", "TIMIT", "CIFAR-10", "CIFAR-100"), ""))),
    Chapter("gap", (
        ("Table 2", "SB vs LB train/test accuracy", NETS,
         "LB's test accuracy is below SB's (a generalization gap)"),
        ("Figure 2", "accuracy per epoch", ("F2", "C1"),
         "LB ends below SB in test accuracy, not through a peak and decay")), runs="trials"),
    Chapter("interpolation", (
        ("Figure 3", "linear parametric plots", NETS,
         "the training loss rises more steeply beyond the LB minimizer than beyond SB's"),
        ("Figure 7", "curvilinear parametric plots", NETS,
         "the training loss rises more steeply beyond the LB minimizer than beyond SB's"),
        ("Distance ratio", "||x_s - x0|| / ||x_l - x0|| in 3-10", NETS,
         "||x_s - x0|| / ||x_l - x0|| lies in 3-10 (SB travels farther)")), runs="trials"),
    Chapter("sharpness", (
        ("Table 3", "sharpness in full space", NETS,
         "LB minimizers are sharper than SB ones (full space), at both eps"),
        ("Table 4", "sharpness in random 100-dim subspaces", NETS,
         "LB minimizers are sharper than SB ones (random subspace), at both eps"),
        ("Hessian spectrum", "top eigenvalues and trace (not in the paper)", NETS,
         "LB minimizers have a larger top Hessian eigenvalue (not in the paper)")),
        runs="trials", solves=True),
    Chapter("small_batches", (
        ("Figure 4", "test accuracy and sharpness vs batch size", ("F2", "C1"),
         "test accuracy falls and sharpness grows from the smallest to the largest batch"),
        ("Figure 5", "warm-started LB runs", ("F2", "C1"),
         "LB warm-started later in SB training ends flatter and generalizes better"),
        ("Figure 6", "sharpness vs loss along training", ("F2", "C1"),
         "at the end of training LB's sharpness is above SB's and above its own start")),
        knobs="small_batches", runs="sections", solves=True),
    Chapter("remedies", (
        ("Table 6", "data augmentation", ("C1", "C2", "C3", "C4"),
         "augmentation raises LB's test accuracy; LB still ends sharper than SB"),
        ("Table 7", "conservative training", NETS,
         "conservative training raises LB's test accuracy; LB still ends sharper than SB"),
        ("Section E.3", "robust (adversarial) training", NETS,
         "adversarial / stability training does not help LB (no notable change)")),
        knobs="remedies", runs="sections", solves=True),
    Chapter("sensitivity", knobs="sensitivity", runs="own"),
    Chapter("beyond", knobs="beyond", runs="own"),
    Chapter("data", computed=False),
)
LAST = (ROOT, "data")  # the intro collects the chapters' verdicts, the data page every CSV
CHAPTERS = tuple(REGISTRY)  # reading order (the table of contents)

# the chapter "Beyond the paper" tests the paper's account on each LB method: "Beyond: <method>"
BEYOND_PREFIX = "Beyond: "


def chapters(**where) -> tuple[str, ...]:
    """The registered chapters, in reading order, whose fields equal ``where`` (e.g.
    ``chapters(runs="sections")``, ``chapters(computed=True)``)."""
    return tuple(n for n, c in REGISTRY.items() if all(getattr(c, k) == v for k, v in where.items()))


def knob_fields() -> set[str]:
    """The profile fields that hold chapters' specs (no papermill parameter of their own)."""
    return {c.knobs for c in REGISTRY.values() if c.knobs}


def artifacts() -> list[tuple[str, str, str, tuple]]:
    """Every artifact of the paper the book reproduces, in chapter order: (name, the chapter that
    makes it, what it is, the networks the paper shows it for); the intro's status table lists
    them all, run or not."""
    return [(a[0], c.name, a[1], a[2]) for c in REGISTRY.values() for a in c.artifacts]


def artifact_names() -> list[str]:
    return [a[0] for a in artifacts()]


def chapter_of(artifact: str) -> str | None:
    """The chapter that makes ``artifact`` (None: not one of the book's)."""
    if artifact.startswith(BEYOND_PREFIX):
        return "beyond"
    return next((a[1] for a in artifacts() if a[0] == artifact), None)


def claim(artifact: str) -> str:
    """The claim about the paper a verdict row on ``artifact`` tests ("" where none is given)."""
    return next((a[3] for c in REGISTRY.values() for a in c.artifacts if a[0] == artifact), "")
