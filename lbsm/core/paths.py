"""Where a store lives: its results root and its weights cache, from an argument, the environment
or the checkout.

ROOT is the ``root`` argument, else ``$LBSM_RESULTS``, else the repository's ``results/`` (the
published dataset) when the package runs from a checkout, else ``./results``. WEIGHTS is the
``weights`` argument, else ``$LBSM_WEIGHTS``, else ``ROOT/weights`` (ignored by git). A variable
set but empty, or a path that is a file, is an error naming it, never a silent fallback.
"""
from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def env_path(var: str) -> Path | None:
    """``$var`` as a path; None if unset. Set but empty is an error, not a silent fallback."""
    value = os.environ.get(var)
    if value is None:
        return None
    if not value.strip():
        raise ValueError(f"${var} is set but empty; unset it or set it to a folder")
    return Path(value).expanduser()


def results_dir(root: str | os.PathLike | None = None) -> Path:
    """The results root: ``root``, ``$LBSM_RESULTS``, the checkout's ``results/``, or ``./results``."""
    if root is not None:
        if not str(root).strip():
            raise ValueError("the results folder is an empty string; pass a folder (--results DIR) "
                             "or leave it out for $LBSM_RESULTS / the published results/")
        path, what = Path(root).expanduser(), f"results folder {root}"
    elif (path := env_path("LBSM_RESULTS")) is not None:
        what = f"$LBSM_RESULTS {path}"
    elif (REPO / "pyproject.toml").is_file() and (REPO / "lbsm").is_dir():
        return REPO / "results"
    else:
        return Path("results")
    if path.exists() and not path.is_dir():
        raise ValueError(f"{what} is a file, not a folder; point it at a results folder")
    return path


def weights_root(root: Path, weights: str | os.PathLike | None = None) -> Path:
    """The weights cache of the store at ``root``: ``weights``, ``$LBSM_WEIGHTS``, or ``root/weights``."""
    if weights is not None and not str(weights).strip():
        raise ValueError("the weights folder is an empty string; pass a folder or leave it out")
    w = Path(weights).expanduser() if weights is not None else env_path("LBSM_WEIGHTS")
    path = w if w is not None else root / "weights"
    if path.exists() and not path.is_dir():
        raise ValueError(f"weights folder {path} is a file; point $LBSM_WEIGHTS at a folder")
    return path


def path_root(path: Path) -> Path:
    """The store root above a path under runs/ or analyses/ (for messages)."""
    for parent in Path(path).parents:
        if parent.name in ("runs", "analyses"):
            return parent.parent
    return Path(path).parent
